"""pseudovault: a pseudonymization and fraud-record vault.

One installed name: ``pseudovault.keys`` (key management and cryptography), ``pseudovault.vault``
(the domain) and ``pseudovault.api`` (the HTTP API, the CLI and the console), from the folders
``keys/``, ``vault/`` and ``api/``. Imports point that way only: api -> vault -> keys.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("pseudovault")
except metadata.PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
