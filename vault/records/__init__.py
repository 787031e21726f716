"""Fraud records: identifiers kept as keyed pseudonyms, with codes, status and encrypted text.

Modules:

* :mod:`vault.records.service`: the record service: create, read, review, revoke, expire;
* :mod:`vault.records.bulk`: bulk import (CSV, JSON Lines) and export as pseudonyms only.

This package gives the public names of its service module; the package's own modules import
each other directly.
"""

from pseudovault.vault.records.service import *  # noqa: F403 - the package's face is the module's __all__
from pseudovault.vault.records.service import __all__ as __all__
