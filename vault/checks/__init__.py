"""Ban checks: identifiers in, a decision out (allow, review, deny).

Modules:

* :mod:`vault.checks.service`: the check service: normalize, derive candidates, match, decide;
* :mod:`vault.checks.decisions`: the decision policy that maps matches to allow, review or deny.

This package gives the public names of its service module; the package's own modules import
each other directly.
"""

from pseudovault.vault.checks.service import *  # noqa: F403 - the package's face is the module's __all__
from pseudovault.vault.checks.service import __all__ as __all__
