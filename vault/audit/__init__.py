"""The audit log: an append-only, hash-chained record of every operation, with signed checkpoints.

:mod:`vault.audit.log` is the log itself (entries, the acting actor, verification, checkpoints,
pruning); this package gives its public names.
"""

from pseudovault.vault.audit.log import *  # noqa: F403 - the package's face is the module's __all__
from pseudovault.vault.audit.log import __all__ as __all__
