"""Retention: policies per data category, separate (restricted) storage, legal holds, the sweeper,
erasure requests with signed receipts, and data-subject rights.

Modules (import them directly; this package imports nothing, so that the core can use the
guards and the rules below the services without a loop):

* rules (pure code): :mod:`vault.retention.periods` (the period grammar and calendar arithmetic),
  :mod:`vault.retention.categories` (the category catalogue), :mod:`vault.retention.policies`
  (the policies and their due dates), :mod:`vault.retention.policy_file` (the policy file, the
  shipped presets);
* guards the core may use: :mod:`vault.retention.holds` (legal holds),
  :mod:`vault.retention.restrictions` (what checks and exports skip);
* :mod:`vault.retention.plans` (when an item falls due), :mod:`vault.retention.views`,
  :mod:`vault.retention.reports` (due report, status counts);
* services: :mod:`vault.retention.separate` (separate storage for data kept under another law),
  :mod:`vault.retention.sweeper` (applies due actions in batches), :mod:`vault.retention.service`
  (categories, trigger events, stored expiry, policy changes), :mod:`vault.retention.erasure`
  (erasure requests, with :mod:`vault.retention.receipts`, the canonical signed receipt),
  :mod:`vault.retention.rights` (access export, correction, restriction, provisions, deadlines).

See ``docs/retention.md`` for the operator's and privacy officer's reference.
"""
