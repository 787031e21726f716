"""Retention: policies per data category, separate (restricted) storage, legal holds, the sweeper,
erasure requests with signed receipts, and data-subject rights.

Modules (import them directly; this package imports nothing, so that ``vault.subjects`` can use
:mod:`vault.retention.holds` without a cycle):

* :mod:`vault.retention.periods`: the period grammar and calendar arithmetic;
* :mod:`vault.retention.policies`: the policy file (TOML), the shipped presets, validation;
* :mod:`vault.retention.holds`: legal holds;
* :mod:`vault.retention.restrictions`: processing restrictions (what checks and exports skip);
* :mod:`vault.retention.separate`: separate storage for data kept under another law;
* :mod:`vault.retention.service`: categories, trigger events, stored expiry, policy changes;
* :mod:`vault.retention.sweeper`: applies due actions in batches;
* :mod:`vault.retention.receipts`: the canonical, signed erasure receipt;
* :mod:`vault.retention.erasure`: erasure requests;
* :mod:`vault.retention.rights`: access export, correction, restriction, provisions, deadlines.

See ``docs/retention.md`` for the operator's and privacy officer's reference.
"""
