"""``pseudovault serve`` with the root key in an HSM (SoftHSM2) and in AWS KMS (moto's server, on
loopback): the README's HTTP walk-through (API key, subject, reveal, ban check, rotation and
rewrap through the API, status); a provider that cannot be reached at start is one line and exit
6 from ``serve``, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from canary import CANARY_PII
from providers import fresh_label, kek_uri, softhsm
from servers import free_port, pseudovault_command, wait_until_ready


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PSEUDOVAULT_", "AWS_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(PSEUDOVAULT_HOME=str(tmp_path / "home"), PSEUDOVAULT_LOG_LEVEL="warning")
    return env


@pytest.fixture(params=["pkcs11", "aws-kms"])
def provider_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = _base_env(tmp_path)
    if request.param == "pkcs11":
        hsm = softhsm()
        env.update(hsm.env(), PSEUDOVAULT_KEK=kek_uri(hsm, fresh_label()))
        yield env
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        PSEUDOVAULT_KEK="aws-kms:alias/pseudovault-serve",
    )
    yield env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*pseudovault_command(), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_http_walk_through_on_the_provider(provider_env: dict[str, str]) -> None:
    env = provider_env
    prefix = "hsm:" if "pkcs11" in env["PSEUDOVAULT_KEK"] else "kms:"
    assert _cli(env, "init").returncode == 0
    created = _cli(
        env, "apikeys", "create", "--name", "svc", "--scope", "subjects:write", "--scope", "subjects:reveal",
        "--scope", "checks", "--scope", "admin", "--scope", "records:write",
    )
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.split()[-1]}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*pseudovault_command(), "serve", "--port", str(port)], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until_ready(process, base)
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as client:
            subject = client.post("/v1/subjects", json={"fields": {"email": CANARY_PII}}).json()["subject_id"]
            record = client.post(
                "/v1/records",
                json={"identifiers": [{"kind": "email", "value": "banned@example.com"}],
                      "category": "fraudulent_transaction", "reason_code": "chargeback"},
            )
            assert record.status_code == 201, record.text
            check = {"identifiers": [{"kind": "email", "value": "banned@example.com"}]}
            assert client.post("/v1/checks", json=check).json()["decision"] == "deny"
            assert client.post("/v1/keys/rotate").json()["root_key_id"] == f"{prefix}2"
            rewrap = client.post("/v1/keys/rewrap").json()
            assert rewrap["root_keys_destroyed"] == [f"{prefix}1"]
            keys = client.get("/v1/keys").json()
            assert [(k["key_id"], k["status"]) for k in keys["provider"]["keys"]] == [
                (f"{prefix}1", "destroyed"), (f"{prefix}2", "enabled"),
            ]
            assert keys["horizon"]["epoch_max_age_days"] == 30
            revealed = client.post(f"/v1/subjects/{subject}/reveal", json={"purpose": "support ticket 1"})
            assert revealed.json()["fields"]["email"] == CANARY_PII
            assert client.post("/v1/checks", json=check).json()["decision"] == "deny"
            assert client.get("/readyz").json()["checks"]["key_provider"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert CANARY_PII not in out + err


def test_serve_with_an_unreachable_kms_is_one_line_and_exit_6(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_MAX_ATTEMPTS="1",
        PSEUDOVAULT_KEK="aws-kms:alias/nowhere",
    )
    done = _cli(env, "serve", "--port", str(free_port()))
    assert done.returncode == 6, done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [done.stderr.strip()]


def test_serve_with_a_missing_token_is_one_line_and_exit_6(tmp_path: Path) -> None:
    hsm = softhsm()
    env = _base_env(tmp_path)
    env.update(hsm.env(), PSEUDOVAULT_KEK=f"pkcs11:module={hsm.module};token=absent;key=root")
    done = _cli(env, "serve", "--port", str(free_port()))
    assert done.returncode == 6 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error:") and "\n" not in done.stderr.strip()
