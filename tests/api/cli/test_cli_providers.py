"""The README walk-through on the HSM (SoftHSM2) and KMS (moto) root key providers, from the CLI:
init, subjects, a ban and its check, rotate, rewrap (old root version destroyed), status, shred.
And a provider that cannot be reached is one line and exit 6, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from canary import CANARY_PII
from providers import fresh_label, kek_uri, softhsm, use_moto_env


@pytest.fixture(params=["pkcs11", "aws-kms"])
def provider_cli(
    request: pytest.FixtureRequest, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, make_cli: Any
) -> Iterator[Any]:
    env = {k: v for k, v in cli_env.items() if k != "PSEUDOVAULT_PASSPHRASE"}
    if request.param == "pkcs11":
        hsm = softhsm()
        env.update(hsm.env())
        env["PSEUDOVAULT_KEK"] = kek_uri(hsm, fresh_label())
        yield make_cli(env)
        return
    from moto import mock_aws

    use_moto_env(monkeypatch)
    env["PSEUDOVAULT_KEK"] = "aws-kms:alias/pseudovault-cli"
    with mock_aws():
        yield make_cli(env)


def test_walk_through_on_the_provider(provider_cli: Any) -> None:
    cli = provider_cli
    prefix = "hsm:" if "pkcs11" in cli.env["PSEUDOVAULT_KEK"] else "kms:"
    created = cli.json("init")
    assert created["created"] is True and created["kek"] == cli.env["PSEUDOVAULT_KEK"]
    assert cli.json("init")["created"] is False  # safe to run again
    subject = cli.json("subjects", "add", "--field", f"email={CANARY_PII}", "--field", "name=Kim")["subject_id"]
    record = cli.json(
        "records", "add", "--identifier", "email=banned@example.com", "--category", "fraudulent_transaction"
    )
    assert record["record_id"]
    assert cli.json("check", "--identifier", "email=banned@example.com")["decision"] == "deny"

    rotated = cli.json("keys", "rotate")
    assert rotated["root_key_id"] == f"{prefix}2" and rotated["epoch"] == 2
    assert cli.json("subjects", "show", subject, "--purpose", "support ticket 1")["fields"]["name"] == "Kim"
    report = cli.json("keys", "rewrap")
    assert report["root_keys_destroyed"] == [f"{prefix}1"]
    status = cli.json("status")
    assert status["provider"]["kind"] in ("pkcs11", "aws-kms")
    assert [(k["key_id"], k["status"], k["primary"]) for k in status["provider"]["keys"]] == [
        (f"{prefix}1", "destroyed", False),
        (f"{prefix}2", "enabled", True),
    ]
    assert json.dumps(status).find(CANARY_PII) == -1
    assert cli.json("subjects", "show", subject, "--purpose", "support ticket 1")["fields"]["email"] == CANARY_PII
    assert cli.json("check", "--identifier", "email=banned@example.com")["decision"] == "deny"

    cli.ok("subjects", "shred", subject, "--yes")
    gone = cli("subjects", "show", subject, "--purpose", "support ticket 1")
    assert gone.exit_code == 3
    assert cli.json("check", "--identifier", "email=banned@example.com")["decision"] == "deny"


def test_an_unreachable_token_is_one_line_and_exit_6(cli_env: dict[str, str], make_cli: Any) -> None:
    hsm = softhsm()
    env = {k: v for k, v in cli_env.items() if k != "PSEUDOVAULT_PASSPHRASE"}
    env.update(hsm.env())
    env["PSEUDOVAULT_KEK"] = f"pkcs11:module={hsm.module};token=no-such-token;key=k"
    result = make_cli(env)("init")
    assert result.exit_code == 6, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert hsm.pin not in result.output


def test_an_unreachable_kms_is_one_line_and_exit_6(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, make_cli: Any
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    env = {k: v for k, v in cli_env.items() if k != "PSEUDOVAULT_PASSPHRASE"}
    env["PSEUDOVAULT_KEK"] = "aws-kms:alias/unreachable"
    result = make_cli(env)("init")
    assert result.exit_code == 6, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_a_pin_is_required_for_the_token(cli_env: dict[str, str], make_cli: Any) -> None:
    hsm = softhsm()
    env = {k: v for k, v in cli_env.items() if k != "PSEUDOVAULT_PASSPHRASE"}
    env["SOFTHSM2_CONF"] = str(hsm.conf)
    env["PSEUDOVAULT_KEK"] = kek_uri(hsm, fresh_label())
    result = make_cli(env)("init")
    assert result.exit_code == 5 and "PSEUDOVAULT_PKCS11_PIN" in result.stderr
