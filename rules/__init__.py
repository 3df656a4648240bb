"""The rules, one module each; discovered by ``migrator.registry``."""
