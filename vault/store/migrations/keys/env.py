"""Alembic environment of the keys store; see vault.store.migrate."""

from pseudovault.vault.store.migrate import KEYS, run_env

run_env(KEYS)
