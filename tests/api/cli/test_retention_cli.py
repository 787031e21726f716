"""The retention commands with the issue's shapes (typer CliRunner over a fresh home per test)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
from canary import CANARY_PII
from typer.testing import CliRunner, Result

from pseudovault.api.cli import ExitCode, app

PASSPHRASE = "correct horse battery staple"
LONG_AGO = "2019-03-01T09:00:00+00:00"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), env={**self.env, **(env or {})}, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def last_word(self, *args: str) -> str:
        return self.ok(*args).stdout.split()[-1]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(__import__("os").environ):
        if name.startswith("PSEUDOVAULT_") and name != "PSEUDOVAULT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    runner = Cli(
        {
            "PSEUDOVAULT_HOME": str(tmp_path / "home"),
            "PSEUDOVAULT_PASSPHRASE": PASSPHRASE,
            "PSEUDOVAULT_KDF_TIME_COST": "1",
            "PSEUDOVAULT_KDF_MEMORY_KIB": "8",
            "PSEUDOVAULT_KDF_PARALLELISM": "1",
        }
    )
    runner.ok("init")
    return runner


def test_categories_events_report_and_sweep(cli: Cli) -> None:
    paid = cli.last_word("subjects", "add", "--field", "order_ref=o-1", "--category", "payment")
    member = cli.last_word("subjects", "add", "--field", "name=Kim", "--field", f"email={CANARY_PII}",
                           "--category", "member")
    # a payment of 2019: its five years have run, so recording it destroys the data at once
    refused = cli("subjects", "event", paid, "--event", "payment", "--at", LONG_AGO)
    assert refused.exit_code == ExitCode.INVALID, refused.stderr
    assert "--yes" in refused.stderr and "payment_supply" in refused.stderr and "destroy" in refused.stderr
    preview = cli.json("subjects", "event", paid, "--event", "payment", "--at", LONG_AGO, "--dry-run")
    assert preview["destroys"] is True and [(e["category"], e["effect"]) for e in preview["due_now"]] == [
        ("payment_supply", "destroy")]
    assert "It destroys data at once." in cli.ok("subjects", "event", paid, "--event", "payment", "--at", LONG_AGO,
                                                 "--dry-run").stdout
    assert cli.json("retention", "items", paid)[0]["due_at"] is None  # nothing was recorded
    items = cli.json("subjects", "event", paid, "--event", "payment", "--at", LONG_AGO, "--yes")["items"]
    assert [(i["category"], i["due_at"]) for i in items] == [("payment_supply", "2024-03-01T15:00:00+00:00")]
    assert cli.json("subjects", "categorize", member, "--category", "access_log:email")["categories"] == {
        "access_log": ["email"], "member_data": ["*"]}

    policies = cli.json("retention", "policies")
    assert {p["category"] for p in policies["policies"]} >= {"payment_supply", "member_data", "dormant_account"}
    assert "Policies in force: presets" in cli.ok("retention", "policies").stdout

    report = cli.json("retention", "report", "--days", "30")
    assert [(g["category"], g["items"], g["overdue"]) for g in report["categories"]] == [("payment_supply", 1, 1)]
    assert [(g["category"], g["trigger"], g["items"]) for g in report["awaiting_event"]] == [("member_data", "withdrawal", 1)]
    assert "awaiting withdrawal: member_data: 1 item(s)" in cli.ok("retention", "report").stdout
    assert cli.json("status")["retention"]["awaiting_event"]["member_data"]["items"] == 1

    dry = cli.json("retention", "sweep", "--dry-run")
    assert dry["dry_run"] and dry["due"] == 1 and [p["target_id"] for p in dry["planned"]] == [paid]
    done = cli.json("retention", "sweep", "--batch-size", "10")
    assert done["applied"] == 1 and done["outcomes"] == {"shredded": 1}
    assert cli("subjects", "show", paid, "--purpose", "support ticket 1").exit_code == ExitCode.NOT_FOUND
    assert "Applied: 0" in cli.ok("retention", "sweep").stdout
    assert [i["state"] for i in cli.json("retention", "items", paid)] == ["done"]


def test_holds_block_shredding_and_erasure_until_released(cli: Cli) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "name=Kim", "--category", "member")
    hold_id = cli.last_word("holds", "add", "--subject", subject_id, "--reason-code", "dispute",
                            "--reference", "KCA-2026-7")
    refused = cli("subjects", "shred", subject_id, "--yes")
    assert refused.exit_code == ExitCode.CONFLICT and hold_id in refused.stderr
    refused = cli("erasure", "request", subject_id)
    assert refused.exit_code == ExitCode.CONFLICT and hold_id in refused.stderr
    assert [h["hold_id"] for h in cli.json("holds", "list")] == [hold_id]
    assert [h["hold_id"] for h in cli.json("holds", "list", "--target", subject_id)] == [hold_id]
    assert cli.json("holds", "list", "--target", "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10") == []
    shown = cli.json("holds", "show", hold_id)
    assert (shown["target_id"], shown["reason_code"], shown["reference"], shown["active"]) == (
        subject_id, "dispute", "KCA-2026-7", True)
    assert "KCA-2026-7" in cli.ok("holds", "show", hold_id).stdout
    assert cli("holds", "show", "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10").exit_code == ExitCode.NOT_FOUND
    cli.ok("holds", "release", hold_id)
    assert cli.json("holds", "show", hold_id)["active"] is False
    assert cli.json("holds", "list") == [] and len(cli.json("holds", "list", "--all")) == 1
    cli.ok("subjects", "shred", subject_id, "--yes")


def test_erasure_request_writes_a_receipt_that_verifies_offline_and_against_the_vault(
    cli: Cli, tmp_path: Path
) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", f"email={CANARY_PII}", "--field", "order_ref=o-9",
                               "--category", "member", "--category", "payment_supply:order_ref")
    cli.ok("subjects", "event", subject_id, "--event", "payment")
    receipt_file = tmp_path / "receipt.json"
    summary = cli.ok("erasure", "request", subject_id, "--request-id", "ER-7", "--output", str(receipt_file)).stdout
    assert "destroyed fields: email" in summary and "payment_supply" in summary
    document = receipt_file.read_bytes()
    assert CANARY_PII.encode() not in document
    receipt = json.loads(document)
    assert receipt["receipt"]["request_id"] == "ER-7"

    assert "against this vault's keys" in cli.ok("receipts", "verify", str(receipt_file)).stdout
    assert "offline" in cli.ok("receipts", "verify", str(receipt_file), "--offline").stdout
    public_key = receipt["signature"]["public_key"]
    assert cli.json("receipts", "verify", str(receipt_file), "--offline", "--public-key", public_key)["pinned"]
    wrong = cli("receipts", "verify", str(receipt_file), "--offline", "--public-key", "ab" * 32)
    assert wrong.exit_code == ExitCode.INVALID and "INVALID" in wrong.stderr
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(document.replace(b'"ER-7"', b'"ER-8"'))
    failed = cli("receipts", "verify", str(tampered))
    assert failed.exit_code == ExitCode.INVALID and "signature does not verify" in failed.stderr

    again = cli.ok("erasure", "request", subject_id, "--request-id", "ER-7")
    assert again.stdout.encode() == document  # the same receipt, printed on standard output
    assert cli.ok("erasure", "receipt", subject_id).stdout.encode() == document
    (item,) = cli.json("separated", "list", "--subject", subject_id)
    assert item["category"] == "payment_supply" and item["fields"] == ["order_ref"]
    read = cli.json("separated", "read", item["item_id"], "--purpose", "tax audit 2026")
    assert read["values"] == {"order_ref": "o-9"}


def test_policy_files_diff_apply_and_rejection(cli: Cli, tmp_path: Path) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "ip=203.0.113.5", "--category", "access_log")
    changed = tmp_path / "policies.toml"
    changed.write_text(
        '[policies.access_log]\nperiod = "1mo"\ntrigger = "collected"\n'
        'basis = "Protection of Communications Secrets Act, shortened"\naction = "shred_subject"\n',
        encoding="utf-8",
    )
    diff = cli.json("retention", "policies", "--diff", str(changed))
    assert diff["policies_changed"] == ["access_log"] and diff["summary"]["access_log"]["earlier"] == 1
    assert [c["target_id"] for c in diff["changes"]] == [subject_id]
    dry = cli.json("retention", "apply-policies", str(changed), "--dry-run")
    assert not dry["applied"] and len(dry["changes"]) == 1
    refused = cli("retention", "apply-policies", str(changed))
    assert refused.exit_code == ExitCode.INVALID and "PSEUDOVAULT_RETENTION_POLICIES" in refused.stderr

    in_force = {"PSEUDOVAULT_RETENTION_POLICIES": str(changed)}
    conflict = cli("retention", "report", env=in_force)
    assert conflict.exit_code == ExitCode.CONFLICT and "apply-policies" in conflict.stderr
    applied = cli("retention", "apply-policies", "--json", env=in_force)
    assert applied.exit_code == 0 and json.loads(applied.stdout)["applied"] is True
    assert cli("retention", "report", env=in_force).exit_code == 0

    bad = tmp_path / "bad.toml"
    bad.write_text('[policies.access_log]\nperiod = "-3mo"\ntrigger = "collected"\nbasis = "x"\n'
                   'action = "shred_subject"\n', encoding="utf-8")
    rejected = cli("status", env={"PSEUDOVAULT_RETENTION_POLICIES": str(bad)})
    assert rejected.exit_code == ExitCode.INVALID
    assert f"{bad}:2: " in rejected.stderr and "negative" in rejected.stderr
    assert "dormant_account" in cli.ok("retention", "policies", "--template").stdout


def test_rights_requests_export_and_corrections(cli: Cli, tmp_path: Path) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "name=Kim", "--field", "email=k@example.com",
                               "--category", "member")
    late = cli.last_word("rights", "open", subject_id, "--kind", "access", "--received-at", "2020-01-01T00:00:00Z")
    assert [r["request_id"] for r in cli.json("rights", "requests", "--overdue")] == [late]
    assert "OVERDUE" in cli.ok("rights", "requests").stdout
    cli.last_word("rights", "provide", subject_id, "--recipient", "Acme", "--item", "email", "--purpose", "billing",
                  "--basis", "contract", "--retention", "5 years")
    export_file = tmp_path / "export.json"
    cli.ok("rights", "export", subject_id, "--purpose", "access request", "--request-id", late,
           "--output", str(export_file))
    export = json.loads(export_file.read_text(encoding="utf-8"))
    assert export["fields"] == {"name": "Kim", "email": "k@example.com"}
    assert export["provisions"][0]["recipient"] == "Acme"
    assert cli.json("rights", "requests", "--overdue") == []

    correction = cli.last_word("rights", "correct", subject_id)
    result = cli.json("rights", "correct-complete", correction, "--field", "email=kim@example.com")
    assert result["fields_changed"] == ["email"] and [n["recipient"] for n in result["notify"]] == ["Acme"]
    cli.ok("rights", "restrict", subject_id)
    refused = cli("subjects", "show", subject_id, "--purpose", "support ticket 7")
    assert refused.exit_code == ExitCode.CONFLICT and "restriction_request" in refused.stderr
    assert "kim@example.com" not in refused.stdout + refused.stderr
    legal = cli.json("subjects", "show", subject_id, "--purpose", "court order 2026-9", "--legal-request")
    assert legal["fields"]["email"] == "kim@example.com"
    assert cli.json("rights", "lift", subject_id)["lifted"] is True
    assert len(cli.json("rights", "provisions", subject_id)) == 1


def test_a_time_out_of_range_is_invalid_input_and_changes_nothing(cli: Cli) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "name=Kim", "--category", "member")
    for at in ("0001-01-01T00:00:00+14:00", "1900-01-01T00:00:00Z"):
        result = cli("subjects", "event", subject_id, "--event", "withdrawal", "--at", at)
        assert result.exit_code == ExitCode.INVALID, (at, result.stderr)
        assert "--at" in result.stderr or "at:" in result.stderr
    result = cli("holds", "add", "--subject", subject_id, "--reason-code", "dispute", "--reference", "C-1",
                 "--until", "9999-12-31T23:59:59-14:00")
    assert result.exit_code == ExitCode.INVALID
    assert cli.json("retention", "items", subject_id)[0]["trigger_at"] is None  # no withdrawal recorded
    assert cli("subjects", "show", subject_id, "--purpose", "support ticket 1").exit_code == 0


def test_a_policy_file_with_categories_of_its_own(cli: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policies.toml"
    policy.write_text(
        '[policies.service_usage]\nname = "Service usage records"\nperiod = "5y"\ntrigger = "collected"\n'
        'basis = "Internal policy: service usage records, 5 years"\naction = "shred_subject"\n\n'
        '[policies.account_takeover]\nname = "Records of account takeover"\nperiod = "2y"\n'
        'trigger = "fraud_confirmed"\nbasis = "Internal policy: account takeover, 2 years"\n'
        'action = "delete_record"\non_erasure = "retain"\nfor_records = true\n'
        'default_reason_code = "account_takeover"\n',
        encoding="utf-8",
    )
    cli.env["PSEUDOVAULT_RETENTION_POLICIES"] = str(policy)
    assert cli.json("retention", "apply-policies")["applied"] is True
    policies = {p["category"]: p for p in cli.json("retention", "policies")["policies"]}
    assert policies["service_usage"]["basis"] == "Internal policy: service usage records, 5 years"
    assert policies["account_takeover"]["for_records"] is True
    subject_id = cli.last_word("subjects", "add", "--field", "plan=premium", "--category", "service_usage")
    (item,) = cli.json("retention", "items", subject_id)
    assert (item["category"], item["action"]) == ("service_usage", "shred_subject") and item["due_at"] is not None
    record = cli.json("records", "add", "--identifier", "email=taker@example.com", "--category", "account_takeover")
    assert record["category"] == "account_takeover" and record["reason_code"] == "account_takeover"

    policy.write_text(policy.read_text(encoding="utf-8") + '\n[policies.servise_usage]\nperiod = "1y"\n', encoding="utf-8")
    typo = cli("retention", "policies")
    assert typo.exit_code == ExitCode.INVALID and "policies.toml:18" in typo.stderr and "needs a name" in typo.stderr


def test_consents_and_requesters_on_the_command_line(cli: Cli) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "name=Kim", "--category", "member")
    consent_id = cli.last_word("rights", "consent", subject_id, "--purpose", "marketing", "--text-version", "mkt-1")
    request = cli.json("rights", "open", subject_id, "--kind", "consent_withdrawal", "--requester", "guardian")
    assert (request["kind"], request["requester"]) == ("consent_withdrawal", "guardian")
    withdrawn = cli.json("rights", "consent-withdraw", subject_id, "--purpose", "marketing")
    assert withdrawn["consent_id"] == consent_id and withdrawn["active"] is False
    assert cli.json("rights", "requests")[0]["state"] == "completed"
    assert [c["purpose"] for c in cli.json("rights", "consents", subject_id)] == ["marketing"]
    assert "mkt-1" in cli.ok("rights", "consents", subject_id).stdout
    assert cli("rights", "open", subject_id, "--kind", "access", "--requester", "lawyer").exit_code == ExitCode.INVALID
    assert cli("rights", "consent-withdraw", subject_id, "--purpose", "marketing").exit_code == ExitCode.NOT_FOUND


def test_notification_tasks_on_the_command_line(cli: Cli) -> None:
    subject_id = cli.last_word("subjects", "add", "--field", "name=Kim", "--category", "member")
    cli.ok("rights", "provide", subject_id, "--recipient", "Acme", "--item", "name", "--purpose", "billing",
           "--basis", "contract", "--retention", "1 year")
    cli.ok("erasure", "request", subject_id)
    (task,) = cli.json("rights", "notifications", "--state", "pending")
    assert (task["recipient"], task["cause"]) == ("Acme", "erasure")
    assert cli("rights", "notified", task["notification_id"]).exit_code == ExitCode.INVALID  # no means
    assert cli.json("rights", "notified", task["notification_id"], "--means", "email")["state"] == "notified"
    assert cli.json("rights", "notifications", "--state", "pending") == []
    assert "Acme" in cli.ok("rights", "notifications").stdout


def test_the_notice_from_the_command_line(cli: Cli) -> None:
    assert "| 5 years | payment |" in cli.ok("retention", "notice", "--lang", "en").stdout
    assert "<section lang=\"ko\">" in cli.ok("retention", "notice", "--format", "html").stdout
    assert cli("retention", "notice", "--lang", "fr").exit_code == ExitCode.INVALID


def test_webhook_commands_say_when_no_endpoint_is_configured(cli: Cli) -> None:
    refused = cli("webhooks", "deliver")
    assert refused.exit_code == ExitCode.INVALID and "PSEUDOVAULT_WEBHOOK_URL" in refused.stderr
    assert cli.json("webhooks", "list") == []
    half = cli("webhooks", "list", env={"PSEUDOVAULT_WEBHOOK_URL": "https://hooks.example/x"})
    assert half.exit_code == ExitCode.INVALID and "go together" in half.stderr


def test_a_command_moves_what_opening_built_out_of_the_collectors_reach(cli: Cli) -> None:
    """A command that opens the vault (a sweep of a backlog, an import) freezes what opening built
    (gc.freeze), as the API server does after its startup: full collections during the command
    walk only what it makes, not the whole process."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    assert cli.json("retention", "sweep", "--dry-run") is not None
    assert gc.get_freeze_count() > 10_000
