"""vault.records.bulk: CSV and JSON Lines import into records, export as pseudonyms only; rejected rows,
crash safety and resumption, streaming. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from bulk_support import (
    CATEGORY,
    GeneratedStream,
    OneWayStream,
    count,
    jsonl,
    table_text,
)
from canary import CANARY_PII

from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.records.bulk import MAX_REPORTED_REJECTIONS, export_records, import_records
from pseudovault.vault.vault import Vault

CSV_HEADER = "category,reason_code,reason,severity,expires_at,source_ref,email,phone,ip,device_id,custom:member_no\n"


def _records(vault: Vault) -> int:
    return count(vault.data_engine, "SELECT COUNT(*) FROM records")


def _export(vault: Vault, fmt: str = "jsonl", **filters: str) -> str:
    out = io.StringIO()
    export_records(vault.records, out, format=fmt, **filters)
    return out.getvalue()


# --- round trips ------------------------------------------------------------------------------


def test_csv_round_trip_imports_bans_that_match(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "bans.csv"
    path.write_text(
        CSV_HEADER
        + f'{CATEGORY},chargeback,"ring of\ncards",critical,,,{CANARY_PII},010-1234-5678,,,\n'
        + "bad_usage_rejoin,bad_usage,,low,,ticket-77,,,203.0.113.7,,\n"
        + f"{CATEGORY},fraud,,,,,,,,A1B2C3D4-0000-4000-8000-000000000001,m-001\n",
        encoding="utf-8",
    )
    report = import_records(vault.records, path)
    assert (
        report.rows,
        report.imported,
        report.skipped,
        report.rejected,
        report.batches,
    ) == (3, 3, 0, 0, 1)
    assert report.format == "csv" and len(report.import_id) == 16

    hit = vault.checks.check([("phone", "+82 10-1234-5678")])
    assert hit.decision == "deny"
    [match] = hit.matches
    assert (match.category, match.reason_code, match.severity) == (
        CATEGORY,
        "chargeback",
        "critical",
    )
    assert (
        vault.checks.check([("email", CANARY_PII.upper())]).matches[0].record_id
        == match.record_id
    )
    assert (
        vault.checks.check([("ip", "203.0.113.7")]).matches[0].reason_code
        == "bad_usage"
    )
    assert (
        vault.checks.check(
            [("device_id", "a1b2c3d4-0000-4000-8000-000000000001")]
        ).decision
        == "deny"
    )
    assert vault.checks.check([("custom:member_no", "m-001")]).decision == "deny"
    assert vault.checks.check([("email", "someone.else@shop.kr")]).decision == "allow"

    view = vault.records.get(match.record_id)
    assert view.source == "import"
    assert view.external_ref == f"import:{report.import_id}:2"
    assert view.text_fields == ("reason",)
    assert (
        vault.records.reveal(match.record_id, purpose="test").reason == "ring of\ncards"
    )
    refs = {v.external_ref for v in vault.records.list().items}
    assert refs == {
        f"import:{report.import_id}:2",
        "ticket-77",
        f"import:{report.import_id}:5",
    }


def test_jsonl_round_trip_both_identifier_shapes(
    vault: Vault, tmp_path: Path, clock: FrozenClock
) -> None:
    soon = (clock.now() + timedelta(days=30)).replace(tzinfo=None, microsecond=0)
    path = tmp_path / "bans.jsonl"
    path.write_text(
        jsonl(
            [
                {
                    "identifiers": {
                        "email": "a@b.example",
                        "phone": ["010-1234-5678", "010-9999-8888"],
                    },
                    "category": CATEGORY,
                    "reason_code": "fraud",
                    "reason": "chargebacks",
                    "severity": "medium",
                },
                {
                    "identifiers": [
                        {"kind": "ip", "value": "2001:db8::1"},
                        {"kind": "account_id", "value": "user42"},
                    ],
                    "category": "unauthorized_registration",
                    "reason_code": "unauthorized_use",
                    "expires_at": soon.isoformat(),
                },
                {
                    "identifiers": {"ip": "198.51.100.1"},
                    "category": "unauthorized_registration",
                    "reason_code": "unauthorized_use",
                    "expires_at": "2099-01-01T00:00:00",
                },  # past the 6 months
            ]
        )
        + "\n",  # a blank line at the end is not a row
        encoding="utf-8",
    )
    report = import_records(vault.records, path)
    assert (report.format, report.rows, report.imported) == ("jsonl", 3, 2)
    assert [(r.line, r.reason_code) for r in report.rejections] == [
        (3, "invalid_expires_at")
    ]
    assert (
        vault.checks.check([("phone", "01099998888")]).matches[0].severity == "medium"
    )
    assert vault.checks.check([("ip", "2001:db8::ffff")]).matches  # the same /64
    [found] = vault.checks.check([("account_id", "user42")]).matches
    assert found.category == "unauthorized_registration"
    assert vault.records.get(found.record_id).expires_at == soon.replace(tzinfo=UTC)
    assert vault.checks.check([("ip", "198.51.100.1")]).decision == "allow"


def test_export_has_pseudonyms_only(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "canary.jsonl"
    path.write_text(
        jsonl(
            [
                {
                    "identifiers": {"email": CANARY_PII, "custom:note": CANARY_PII},
                    "category": CATEGORY,
                    "reason_code": "fraud",
                    "reason": f"reported by {CANARY_PII}",
                },
                {
                    "identifiers": {"email": "not an email " + CANARY_PII},
                    "category": CATEGORY,
                    "reason_code": "fraud",
                },
                {
                    "identifiers": {"email": CANARY_PII},
                    "category": CANARY_PII,
                    "reason_code": "fraud",
                },
            ]
        ),
        encoding="utf-8",
    )
    report = import_records(vault.records, path)
    assert (report.imported, report.rejected) == (1, 2)
    record_id = vault.checks.check([("email", CANARY_PII)]).matches[0].record_id
    subject_id = vault.subjects.create({"email": CANARY_PII})
    linked = vault.records.create(
        [("phone", "010-1234-5678")],
        category=CATEGORY,
        reason_code="fraud",
        reason=CANARY_PII,
        subject_id=subject_id,
    )

    exported_jsonl = _export(vault)
    exported_csv = _export(vault, "csv")
    report_text = json.dumps(report.as_dict())
    audit_text = table_text(vault.data_engine, "audit_entries")
    for text in (exported_jsonl, exported_csv, report_text, audit_text):
        assert CANARY_PII not in text
        assert CANARY_PII.encode().hex() not in text
    assert subject_id not in exported_jsonl and subject_id not in exported_csv
    assert "subject" not in exported_jsonl and 'reason"' not in exported_jsonl

    lines = [json.loads(line) for line in exported_jsonl.splitlines()]
    assert sorted(line["record_id"] for line in lines) == sorted([record_id, linked])
    [first] = [line for line in lines if line["record_id"] == record_id]
    assert set(first) == {
        "record_id", "domain", "category", "reason_code", "severity", "status", "status_reason_code", "source",
        "external_ref", "created_at", "updated_at", "expires_at", "review_at", "pseudonyms",
    }  # fmt: skip
    stored = vault.records.get(record_id, include_pseudonyms=True).pseudonyms
    assert first["pseudonyms"] == [dict(p) for p in stored]
    assert {(p["kind"], p["lookalike"]) for p in first["pseudonyms"]} >= {
        ("email", False),
        ("custom:note", False),
    }
    assert all(
        len(bytes.fromhex(p["pseudonym"])) == 32
        and p["lookup_version"] == 1
        and p["norm_version"] == 1
        for p in first["pseudonyms"]
    )

    rows = list(csv.DictReader(io.StringIO(exported_csv)))
    assert len(rows) == sum(len(line["pseudonyms"]) for line in lines)
    assert {r["pseudonym"] for r in rows} == {
        p["pseudonym"] for line in lines for p in line["pseudonyms"]
    }

    [entry] = vault.audit.query(action="record.import")
    assert entry.detail == {
        "import_id": report.import_id,
        "format": "jsonl",
        "domain": "default",
        "rows": 3,
        "imported": 1,
        "skipped": 0,
        "rejected": 2,
        "batches": 1,
    }
    assert [e.detail["records"] for e in vault.audit.query(action="record.export")] == [
        2,
        2,
    ]


def test_export_filters_and_pages(vault: Vault) -> None:
    ids = vault.records.create_many(
        [
            vault.records.prepare(
                [("device_id", f"dev-{i:04d}")], category=CATEGORY, reason_code="fraud"
            )
            for i in range(1203)
        ]  # more than one page
    )
    revoked = vault.records.create(
        [("device_id", "dev-x")],
        category="bad_usage_rejoin",
        reason_code="bad_usage",
        domain="tenant-b",
    )
    vault.records.revoke(revoked, reason_code="appeal_upheld")
    everything = [json.loads(line)["record_id"] for line in _export(vault).splitlines()]
    assert sorted(everything) == sorted([*ids, revoked]) and len(
        set(everything)
    ) == len(everything)
    assert [
        json.loads(line)["record_id"]
        for line in _export(vault, status="revoked").splitlines()
    ] == [revoked]
    assert [
        json.loads(line)["status"]
        for line in _export(vault, category="bad_usage_rejoin").splitlines()
    ] == ["revoked"]
    assert len(_export(vault, domain="tenant-b").splitlines()) == 1
    assert len(_export(vault, status="active").splitlines()) == 1203
    with pytest.raises(InvalidInputError):
        _export(vault, status="gone")
    with pytest.raises(InvalidInputError):
        _export(vault, "xml")


# --- rejected rows ----------------------------------------------------------------------------


def test_rejected_rows_have_exact_lines_and_codes_and_write_nothing(
    vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        CSV_HEADER  # line 1
        + f'{CATEGORY},fraud,"three\nline\nreason",,,,ok1@shop.kr,,,,\n'  # lines 2-4: fine
        + f"{CATEGORY},fraud,,,,,{CANARY_PII}x@,,,,\n"  # 5: invalid email
        + "no_such_category,fraud,,,,,ok2@shop.kr,,,,\n"  # 6
        + f"{CATEGORY},fraud,,extreme,,,ok3@shop.kr,,,,\n"  # 7
        + "\n"  # 8: blank
        + f"{CATEGORY},fraud,,,,,,,,,\n"  # 9: no identifier
        + f'{CATEGORY},fraud,"multi\nline",,,,,{CANARY_PII},,,\n'  # 10-11: invalid phone
        + f"{CATEGORY},fraud,,,,,ok4@shop.kr,,,,,extra\n"  # 12: too many cells
        + f"{CATEGORY},fraud,,,yesterday,,ok5@shop.kr,,,,\n"  # 13
        + f"{CATEGORY},fraud,,,,ref-1,ok6@shop.kr,,,,\n"  # 14: fine
        + f"{CATEGORY},fraud,,,,ref-1,ok7@shop.kr,,,,\n"  # 15: duplicate source_ref
        + f"{CATEGORY},Not A Code,,,,,ok8@shop.kr,,,,\n"  # 16
        + f"{CATEGORY},fraud,,,,,,,999.1.1.1,,\n"  # 17
        + f'{CATEGORY},fraud,"x"y,,,,ok9@shop.kr,,,,\n',  # 18: bad quoting
        encoding="utf-8",
    )
    seen = []
    report = import_records(vault.records, path, batch_size=3, on_reject=seen.append)
    got = [(r.line, r.reason_code, r.field) for r in report.rejections]
    assert got == [
        (5, "invalid_email_domain", "identifier.email"),
        (6, "unknown_category", "category"),
        (7, "invalid_severity", "severity"),
        (9, "missing_identifier", "identifiers"),
        (10, "invalid_characters", "identifier.phone"),
        (12, "wrong_column_count", None),
        (13, "invalid_expires_at", "expires_at"),
        (15, "duplicate_source_ref", "source_ref"),
        (16, "invalid_reason_code", "reason_code"),
        (17, "invalid_ip", "identifier.ip"),
        (18, "malformed_csv", None),
    ]
    assert seen == report.rejections
    assert (report.rows, report.imported, report.rejected) == (13, 2, 11)
    assert _records(vault) == 2
    assert (
        count(vault.data_engine, "SELECT COUNT(*) FROM record_fields") == 1
    )  # the fine row's reason only
    assert vault.checks.check([("email", "ok2@shop.kr")]).decision == "allow"
    assert vault.checks.check([("email", "ok7@shop.kr")]).decision == "allow"
    text = json.dumps(report.as_dict())
    for value in (
        CANARY_PII,
        "no_such_category",
        "extreme",
        "yesterday",
        "Not A Code",
        "999.1.1.1",
        "ok",
    ):
        assert value not in text


def test_rejected_jsonl_lines(vault: Vault, tmp_path: Path) -> None:
    good = {
        "identifiers": {"email": "a@shop.kr"},
        "category": CATEGORY,
        "reason_code": "fraud",
    }
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good),  # 1
                "{not json",  # 2
                "[1, 2]",  # 3
                json.dumps({**good, CANARY_PII: 1}),  # 4
                json.dumps({**good, "identifiers": {CANARY_PII: "x"}}),  # 5
                json.dumps({**good, "identifiers": [["email", "a@b.example"]]}),  # 6
                json.dumps({**good, "identifiers": {"email": 7}}),  # 7
                json.dumps(
                    {"identifiers": {"email": "b@shop.kr"}, "category": CATEGORY}
                ),  # 8
                "",  # 9
                json.dumps({**good, "severity": 3}),  # 10
                json.dumps({**good, "identifiers": {}}),  # 11
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    report = import_records(vault.records, path)
    assert [(r.line, r.reason_code) for r in report.rejections] == [
        (2, "malformed_json"),
        (3, "not_an_object"),
        (4, "unknown_field"),
        (5, "unknown_kind"),
        (6, "invalid_identifiers"),
        (7, "invalid_identifier"),
        (8, "missing_field"),
        (10, "invalid_severity"),
        (11, "missing_identifier"),
    ]
    assert report.imported == 1 and _records(vault) == 1
    assert CANARY_PII not in json.dumps(report.as_dict())


def test_a_bad_header_stops_the_import_before_anything_is_written(
    vault: Vault, tmp_path: Path
) -> None:
    for header, words in [
        (f"category,reason_code,{CANARY_PII}\n", "column 3 is not a known column"),
        ("category,email\n", "no reason_code column"),
        ("category,reason_code,severity\n", "no identifier column"),
        ("category,reason_code,email,email\n", "column 4 repeats"),
    ]:
        path = tmp_path / "bad.csv"
        path.write_text(header + f"{CATEGORY},fraud,a@shop.kr\n", encoding="utf-8")
        with pytest.raises(InvalidInputError) as raised:
            import_records(vault.records, path)
        assert words in str(raised.value)
        assert CANARY_PII not in str(raised.value)
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="empty"):
        import_records(vault.records, path)
    assert _records(vault) == 0
    with pytest.raises(InvalidInputError):
        import_records(
            vault.records, tmp_path / "bad.txt"
        )  # no format from the extension
    with pytest.raises(InvalidInputError):
        import_records(vault.records, path, batch_size=0)


def test_the_report_keeps_the_first_rejections_and_counts_all(
    vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n" * (MAX_REPORTED_REJECTIONS + 5), encoding="utf-8")
    seen = []
    report = import_records(vault.records, path, on_reject=seen.append)
    assert report.rejected == len(seen) == MAX_REPORTED_REJECTIONS + 5
    assert len(report.rejections) == MAX_REPORTED_REJECTIONS
    assert report.as_dict(max_rejections=20)["rejections_truncated"] is True


# --- crash safety and resumption ----------------------------------------------------------------


def _rows(n: int, start: int = 0) -> str:
    return jsonl(
        [
            {
                "identifiers": {"device_id": f"device-{i:05d}"},
                "category": CATEGORY,
                "reason_code": "fraud",
                **({"reason": "with text"} if i % 2 else {}),
            }
            for i in range(start, start + n)
        ]
    )


class Stop(Exception):
    pass


def test_a_crash_leaves_whole_batches_and_a_rerun_resumes(
    vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(_rows(25), encoding="utf-8")
    calls = []

    def crash_after_two(done: int, total: int | None) -> None:
        calls.append((done, total))
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        import_records(vault.records, path, batch_size=10, progress=crash_after_two)
    assert calls == [(10, 25), (20, 25)]
    assert _records(vault) == 20
    keys_with_text = count(vault.keys.engine, "SELECT COUNT(*) FROM record_keys")
    assert (
        keys_with_text == 10
    )  # one data key per record with a reason, none for the others
    [failed] = vault.audit.query(action="record.import")
    assert failed.outcome == "error" and failed.detail["imported"] == 20

    report = import_records(vault.records, path, batch_size=10)
    assert (report.imported, report.skipped, report.rejected) == (5, 20, 0)
    assert _records(vault) == 25
    assert sorted(
        v.external_ref for v in vault.records.list(limit=100).items
    ) == sorted(f"import:{report.import_id}:{line}" for line in range(1, 26))
    for i in (0, 19, 20, 24):
        assert vault.checks.check([("device_id", f"device-{i:05d}")]).decision == "deny"

    again = import_records(vault.records, path, batch_size=7)
    assert (again.imported, again.skipped, again.batches) == (0, 25, 0)
    assert (
        _records(vault) == 25
        and count(vault.keys.engine, "SELECT COUNT(*) FROM record_keys") == 12
    )


def test_a_failed_batch_writes_nothing_of_itself(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(_rows(12), encoding="utf-8")
    original = vault.records.create_many
    batches = []

    def failing_create_many(prepared: list) -> list[str]:
        batches.append(len(prepared))
        if len(batches) == 2:
            # the batch's rows are inserted, then the store fails before the commit
            from pseudovault.vault.records.service import ConflictError

            raise ConflictError("injected")
        return original(prepared)

    monkeypatch.setattr(vault.records, "create_many", failing_create_many)
    with pytest.raises(Exception):  # noqa: B017 - whatever the store raises
        import_records(vault.records, path, batch_size=5)
    assert _records(vault) == 5
    monkeypatch.setattr(vault.records, "create_many", original)
    report = import_records(vault.records, path, batch_size=5)
    assert (report.imported, report.skipped) == (7, 5)


def test_a_different_file_is_a_different_import(vault: Vault, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(_rows(3), encoding="utf-8")
    second.write_text(_rows(3, start=100), encoding="utf-8")
    a = import_records(vault.records, first)
    b = import_records(vault.records, second)
    assert a.import_id != b.import_id and (a.imported, b.imported) == (3, 3)
    assert _records(vault) == 6


# --- streaming --------------------------------------------------------------------------------


def test_a_large_stream_is_never_read_whole(vault: Vault) -> None:
    n = 20_000

    def lines():
        for i in range(n):
            yield (
                json.dumps(
                    {
                        "identifiers": {"device_id": f"stream-{i:06d}"},
                        "category": CATEGORY,
                        "reason_code": "fraud",
                    }
                )
                + "\n"
            )

    stream = GeneratedStream(lines)
    size = sum(len(line) for line in lines())
    report = import_records(vault.records, stream, format="jsonl", batch_size=5000)
    assert (report.rows, report.imported, report.batches) == (n, n, 4)
    assert stream.passes == 2  # one pass to hash, one to import
    assert stream.largest_read < size / 4
    assert _records(vault) == n
    assert vault.checks.check([("device_id", "stream-019999")]).decision == "deny"


def test_a_stream_that_cannot_seek_needs_an_import_id(vault: Vault) -> None:
    def lines():
        for i in range(1500):
            yield (
                json.dumps(
                    {
                        "identifiers": {"device_id": f"one-way-{i:06d}"},
                        "category": CATEGORY,
                        "reason_code": "fraud",
                    }
                )
                + "\n"
            )

    with pytest.raises(InvalidInputError, match="import_id"):
        import_records(vault.records, OneWayStream(lines), format="jsonl")
    assert _records(vault) == 0
    first = OneWayStream(lines)
    report = import_records(vault.records, first, format="jsonl", import_id="feed-1")
    assert (report.imported, report.import_id, first.passes) == (1500, "feed-1", 1)
    assert (
        vault.records.list(limit=1).items[0].external_ref.startswith("import:feed-1:")
    )
    resumed = import_records(
        vault.records, OneWayStream(lines), format="jsonl", import_id="feed-1"
    )
    assert (resumed.imported, resumed.skipped) == (0, 1500)


def test_a_csv_text_stream_with_a_bom(vault: Vault) -> None:
    stream = io.StringIO(
        "\ufeffcategory,reason_code,email\r\n" + f"{CATEGORY},fraud,a@shop.kr\r\n"
    )
    report = import_records(vault.records, stream, format="csv")
    assert report.imported == 1
    assert vault.records.list().items[0].external_ref == f"import:{report.import_id}:2"
