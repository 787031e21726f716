"""``pseudovault records import FILE`` and ``records export``: shapes, --json summaries, --rejects,
exit codes, and the audit entries."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bulk_support import Cli
from canary import CANARY_PII

CATEGORY = "fraudulent_transaction"


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(rows), encoding="utf-8")
    return path


def test_import_then_export(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    source = _write(
        tmp_path / "bans.csv",
        [
            "category,reason_code,reason,email,phone\n",
            f'{CATEGORY},fraud,"said\n{CANARY_PII}",{CANARY_PII},010-1234-5678\n',
            f"{CATEGORY},fraud,,not-an-email,\n",
            f"{CATEGORY},fraud,,b@shop.kr,\n",
        ],
    )
    rejects = tmp_path / "rejects.jsonl"
    result = cli.ok(
        "records", "import", str(source), "--batch-size", "1", "--rejects", str(rejects)
    )
    assert (
        "Imported 2 record(s), skipped 0 already imported, rejected 1 row(s)"
        in result.stdout
    )
    assert "line 4: invalid_email" in result.stdout
    assert CANARY_PII not in result.stdout + result.stderr
    assert [json.loads(line) for line in rejects.read_text().splitlines()] == [
        {
            "line": 4,
            "reason_code": "invalid_email",
            "field": "identifier.email",
            "message": "identifier.email: invalid (invalid_email)",
        }
    ]

    again = cli.json("records", "import", str(source))
    assert {
        k: again[k] for k in ("rows", "imported", "skipped", "rejected", "format")
    } == {
        "rows": 3,
        "imported": 0,
        "skipped": 2,
        "rejected": 1,
        "format": "csv",
    }
    assert again["rejections"] == [
        {
            "line": 4,
            "reason_code": "invalid_email",
            "field": "identifier.email",
            "message": "identifier.email: invalid (invalid_email)",
        }
    ]
    assert (
        cli.json("check", "--identifier", "phone=+82 10 1234 5678")["decision"]
        == "deny"
    )

    out = tmp_path / "export.csv"
    summary = cli.json("records", "export", "--output", str(out))
    assert summary == {
        "format": "csv",
        "records": 2,
        "pseudonyms": summary["pseudonyms"],
    }
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == summary["pseudonyms"] >= 3
    assert {r["kind"] for r in rows} >= {"email", "phone"}
    assert CANARY_PII not in out.read_text()

    streamed = cli.ok("records", "export", "--status", "active", "--category", CATEGORY)
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert len(lines) == 2 and all("pseudonyms" in line for line in lines)
    assert "Exported 2 record(s)" in streamed.stderr
    assert CANARY_PII not in streamed.stdout

    audit = cli.json("audit", "list", "--action", "record.import")
    assert [
        (e["outcome"], e["detail"]["imported"], e["detail"]["skipped"]) for e in audit
    ] == [("ok", 2, 0), ("ok", 0, 2)]
    exports = cli.json("audit", "list", "--action", "record.export")
    assert [e["detail"]["records"] for e in exports] == [2, 2]
    everything = json.dumps(cli.json("audit", "list", "--limit", "1000"))
    assert CANARY_PII not in everything


def test_jsonl_import_and_errors(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    source = _write(
        tmp_path / "bans.jsonl",
        [
            json.dumps(
                {
                    "identifiers": {"ip": "203.0.113.9"},
                    "category": CATEGORY,
                    "reason_code": "fraud",
                }
            )
            + "\n"
        ],
    )
    assert cli.json("records", "import", str(source))["imported"] == 1
    # the same file is the same import: its rows are skipped whatever the domain
    again = cli.json(
        "records", "import", str(source), "--domain", "tenant-b", "--format", "jsonl"
    )
    assert (again["imported"], again["skipped"], again["domain"]) == (0, 1, "tenant-b")
    assert (
        cli.json("check", "--identifier", "ip=203.0.113.9")["decision"] == "review"
    )  # the default policy for IPs


def test_import_errors_exit_non_zero(initialised: Cli, tmp_path: Path) -> None:
    cli = initialised
    bad_header = _write(
        tmp_path / "bad.csv",
        [f"category,reason_code,{CANARY_PII}\n", f"{CATEGORY},fraud,x\n"],
    )
    result = cli("records", "import", str(bad_header))
    assert result.exit_code == 4
    assert (
        "column 3 is not a known column" in result.stderr
        and CANARY_PII not in result.stderr
    )
    unknown = cli("records", "import", str(tmp_path / "bans.txt"))
    assert unknown.exit_code == 4 and "format" in unknown.stderr
    missing = cli("records", "import", str(tmp_path / "missing.csv"))
    assert missing.exit_code == 4
    assert cli("records", "export", "--status", "nope").exit_code == 4
