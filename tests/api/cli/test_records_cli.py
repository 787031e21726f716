"""The pseudovault command for records and checks, in the issue's shapes: ``records add`` prints the
id last, ``check --json`` prints the decision object and exits 0 whatever it says."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from canary import CANARY_PII
from typer.testing import CliRunner, Result

from pseudovault.api.cli import app

PASSPHRASE = "correct horse battery staple"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env={**self.env, **(env or {})}, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = self(*args, input=input, env=env)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input, env=env).stdout)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
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


def test_the_issue_shapes_add_show_find_check_revoke(cli: Cli) -> None:
    added = cli.ok(
        "records", "add",
        "--identifier", "email=a@b.example",
        "--identifier", "phone=010-1234-5678",
        "--category", "fraudulent_transaction",
        "--reason", "chargeback ring",
    )  # fmt: skip
    record_id = added.stdout.split()[-1]
    assert len(record_id) == 36

    shown = cli.json("records", "show", record_id)
    assert (shown["record_id"], shown["category"], shown["reason_code"], shown["severity"]) == (
        record_id,
        "fraudulent_transaction",
        "fraud",  # the category's default reason code
        "high",
    )
    assert shown["identifier_kinds"] == {"email": 1, "phone": 1} and "text" not in shown
    assert "chargeback ring" not in cli.ok("records", "show", record_id).stdout

    refused = cli("records", "show", record_id, "--reveal")
    assert refused.exit_code == 4 and "purpose" in refused.stderr
    revealed = cli.json("records", "show", record_id, "--reveal", "--purpose", "appeal 12")
    assert revealed["text"] == {"reason": "chargeback ring", "evidence": None, "notes": None, "available": True}
    with_pseudonyms = cli.json("records", "show", record_id, "--pseudonyms")
    assert all(len(p["pseudonym"]) == 64 for p in with_pseudonyms["pseudonyms"])

    found = cli.json("records", "find", "--identifier", "phone=+82 10-1234-5678")
    assert [r["record_id"] for r in found] == [record_id]
    assert cli.json("records", "list")["items"][0]["record_id"] == record_id

    decision = cli.json("check", "--identifier", "email=A@B.example", "--identifier", "ip=192.0.2.1")
    assert decision == {
        "decision": "deny",
        "matches": [
            {
                "record_id": record_id,
                "category": "fraudulent_transaction",
                "reason_code": "fraud",
                "severity": "high",
                "status": "active",
                "matched_kinds": ["email"],
                "match": "exact",
            }
        ],
        "checked_kinds": ["email", "ip"],
    }
    assert "deny" in cli.ok("check", "--identifier", "phone=01012345678").stdout

    assert cli.json("records", "review", record_id)["status"] == "under_review"
    assert cli.json("check", "--identifier", "email=a@b.example")["decision"] == "review"
    assert cli.json("records", "activate", record_id)["status"] == "active"
    missing_code = cli("records", "revoke", record_id)
    assert missing_code.exit_code == 2  # --reason-code is required
    assert cli.json("records", "revoke", record_id, "--reason-code", "appeal_upheld")["status"] == "revoked"
    miss = cli.ok("check", "--identifier", "email=a@b.example", "--json")  # exit 0 for allow too
    assert json.loads(miss.stdout) == {"decision": "allow", "matches": [], "checked_kinds": ["email"]}
    assert cli.json("records", "list", "--status", "revoked")["items"][0]["record_id"] == record_id


def test_rotate_lookup_keeps_old_bans_matching(cli: Cli) -> None:
    record_id = cli.json(
        "records", "add", "-i", "device_id=dev-42", "--category", "bad_usage_rejoin", "--severity", "critical"
    )["record_id"]  # fmt: skip
    assert cli.json("keys", "rotate-lookup") == {"version": 2, "primary": True, "enabled_versions": 2}
    assert cli.json("check", "-i", "device_id=dev-42")["decision"] == "deny"
    versions = cli.json("keys", "list-lookup")
    assert [(k["version"], k["primary"], k["pseudonyms"]) for k in versions] == [(1, False, 1), (2, True, 1)]
    assert cli.json("records", "show", record_id)["lookup_versions"] == [1, 2]
    status = cli.json("status")
    assert status["lookup_keys"]["primary"] == 2 and status["records"]["by_status"]["active"] == 1
    destroyed = cli.json("keys", "destroy-lookup", "1", "--yes")
    assert destroyed == {"version": 1, "status": "destroyed", "identifiers_orphaned": 0}
    assert cli.json("check", "-i", "device_id=dev-42")["decision"] == "deny"


def test_errors_are_one_line_and_never_echo_identifiers(cli: Cli) -> None:
    bad_category = cli("records", "add", "-i", "email=a@b.example", "--category", "member_data")
    assert bad_category.exit_code == 4
    assert "member_data" in bad_category.stderr and bad_category.stderr.strip().count("\n") == 0
    bad_phone = cli("check", "-i", f"phone={CANARY_PII}")
    assert bad_phone.exit_code == 4 and "phone" in bad_phone.stderr
    assert CANARY_PII not in bad_phone.stderr + bad_phone.stdout
    no_pair = cli("check", "-i", "just-a-value")
    assert no_pair.exit_code == 4 and "KIND=VALUE" in no_pair.stderr
    assert cli("records", "show", "9e5b2c71-4f3a-4d8e-8b6c-1a0f7e2d3c4b").exit_code == 3
    assert cli("records", "add", "-i", "email=a@b.example", "--category", "fraudulent_transaction", "--expires-at", "soon").exit_code == 4


def test_identifiers_from_stdin_and_the_default_region(cli: Cli) -> None:
    pairs = json.dumps([["email", "stdin@b.example"], ["phone", "010-2222-3333"]])
    record_id = cli.json("records", "add", "--identifiers-json", "-", "--category", "fraudulent_transaction", input=pairs)[
        "record_id"
    ]
    assert cli.json("check", "-i", "phone=+82 10 2222 3333")["matches"][0]["record_id"] == record_id
    # under another default region the national form is not a number at all; the E.164 form still is
    us = cli("check", "-i", "phone=010-2222-3333", "--json", env={"PSEUDOVAULT_DEFAULT_REGION": "US"})
    assert us.exit_code == 4 and "phone" in us.stderr
    assert cli.json("check", "-i", "phone=+821022223333", env={"PSEUDOVAULT_DEFAULT_REGION": "US"})["decision"] == "deny"


def test_a_decision_policy_file_from_the_environment(cli: Cli, tmp_path: Path) -> None:
    cli.ok("records", "add", "-i", "ip=192.0.2.9", "--category", "fraudulent_transaction")
    assert cli.json("check", "-i", "ip=192.0.2.9")["decision"] == "review"
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nkind = "ip"\ndecision = "deny"\n', encoding="utf-8")
    assert cli.json("check", "-i", "ip=192.0.2.9", env={"PSEUDOVAULT_DECISION_POLICY": str(policy)})["decision"] == "deny"
    policy.write_text('[[rule]]\nkind = "ip"\ndecision = "block"\n', encoding="utf-8")
    broken = cli("check", "-i", "ip=192.0.2.9", env={"PSEUDOVAULT_DECISION_POLICY": str(policy)})
    assert broken.exit_code == 4
    assert "line 3" in broken.stderr and "decision" in broken.stderr and "policy.toml" in broken.stderr


def test_rotate_lookup_warns_past_three_enabled_versions(cli: Cli) -> None:
    """Every enabled lookup key version adds its pseudonyms to every check: a rotation past three
    enabled versions says so on stderr, and retiring one brings the count back under."""
    for version in (2, 3):
        rotated = cli("keys", "rotate-lookup", "--json")
        assert json.loads(rotated.stdout)["enabled_versions"] == version and "warning" not in rotated.stderr
    rotated = cli("keys", "rotate-lookup", "--json")
    assert rotated.exit_code == 0 and json.loads(rotated.stdout)["enabled_versions"] == 4
    assert "warning: 4 lookup key versions are enabled" in " ".join(rotated.stderr.split())
    cli.ok("keys", "disable-lookup", "1")
    rotated = cli("keys", "rotate-lookup")
    assert rotated.exit_code == 0 and "warning: 4 lookup key versions" in " ".join(rotated.stderr.split())
    cli.ok("keys", "disable-lookup", "2")
    cli.ok("keys", "disable-lookup", "3")
    rotated = cli("keys", "rotate-lookup", "--json")
    assert json.loads(rotated.stdout)["enabled_versions"] == 3 and "warning" not in rotated.stderr
