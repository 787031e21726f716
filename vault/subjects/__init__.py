"""Subjects: the people the vault holds data about, their encrypted fields, and crypto-shredding.

Modules:

* :mod:`vault.subjects.service`: the subject service: create, read, update, reveal, shred, list.

This package gives the public names of its service module; the package's own modules import
each other directly.
"""

from pseudovault.vault.subjects.service import *  # noqa: F403 - the package's face is the module's __all__
from pseudovault.vault.subjects.service import __all__ as __all__
