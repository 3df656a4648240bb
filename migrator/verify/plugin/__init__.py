"""The recording plugin, loaded by pytest from this folder (see migrate_tests_record)."""
