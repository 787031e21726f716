"""Alembic environment of the keys store; see vault.migrate."""

from pseudovault.vault.migrate import KEYS, run_env

run_env(KEYS)
