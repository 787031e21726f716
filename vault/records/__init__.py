"""Fraud records: identifiers kept as keyed pseudonyms, with codes, status and encrypted text.

Modules:

* :mod:`vault.records.service`: the record service: create, read, review, revoke, expire;
* :mod:`vault.records.views`: a record's vocabulary (statuses, severities, limits) and its views;
* :mod:`vault.records.validation`: checks of a record's input;
* :mod:`vault.records.repository`: the records' tables as other packages reach them;
* :mod:`vault.records.bulk`: bulk import (CSV, JSON Lines) and export as pseudonyms only.

Import the modules themselves: this package imports nothing, so that its repository, low in the
vault's layers, can be used from below the service without a loop.
"""
