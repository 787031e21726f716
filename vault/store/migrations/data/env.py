"""Alembic environment of the data store; see vault.store.migrate."""

from pseudovault.vault.store.migrate import DATA, run_env

run_env(DATA)
