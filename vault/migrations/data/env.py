"""Alembic environment of the data store; see vault.migrate."""

from pseudovault.vault.migrate import DATA, run_env

run_env(DATA)
