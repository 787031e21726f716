"""The check's one statement starts from the pseudonym index, on both engines, before any ANALYZE.

A check is the vault's hot path: a plan that scans ``record_identifiers`` or ``records`` would
turn a sub-millisecond probe into a scan of every ban. The plans are read from the engines
themselves (``EXPLAIN``), over a store filled by the vault's own writes and never analysed, as
after a fresh bulk import.
"""

from __future__ import annotations

from typing import Any

from pseudovault.vault.vault import Vault

CATEGORY = "fraudulent_transaction"


def _fill(vault: Vault, count: int) -> None:
    prepared = [
        vault.records.prepare([("device_id", f"plan-dev-{i:06d}")], category=CATEGORY, reason_code="fraud")
        for i in range(count)
    ]
    vault.records.create_many(prepared)


def _plan(vault: Vault, items: list[bytes]) -> str:
    checks: Any = vault.checks
    sql, params = checks._bound(items, "default", checks._now())
    raw = vault.data_engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if vault.data_engine.dialect.name == "sqlite":
            rows = driver.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            return "\n".join(str(row[-1]) for row in rows)
        with driver.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(str(row[0]) for row in cursor.fetchall())
    finally:
        raw.close()


def test_the_check_statement_starts_from_the_pseudonym_index(vault: Vault) -> None:
    _fill(vault, 3000)
    assert vault.checks.check([("device_id", "plan-dev-000007")]).decision == "deny"
    plan = _plan(vault, [b"\x00" * 32, b"\x01" * 32, b"\x02" * 32])
    if vault.data_engine.dialect.name == "sqlite":
        first = plan.splitlines()[0]
        assert "record_identifiers USING INDEX ix_record_identifiers_pseudonym" in first, plan
        assert "SCAN record" not in plan, plan
    else:
        assert 0 <= plan.find("ix_record_identifiers_pseudonym") < plan.find("pk_records"), plan
        assert "Seq Scan on record_identifiers" not in plan, plan
        assert "Seq Scan on records" not in plan, plan
        assert "Index Scan using pk_records on records" in plan, plan
