"""Real backends for the KEK providers' tests: a SoftHSM2 token and a moto KMS.

SoftHSM2 reads its configuration when the PKCS#11 module is first loaded in a process, so one
token directory serves the whole test process: :func:`softhsm` sets ``SOFTHSM2_CONF`` and
initialises one token; tests keep apart by using a key label of their own
(:func:`fresh_label`). Child processes (the CLI, servers) get the same token through
:meth:`SoftHsm.env`.

Without SoftHSM2 (Debian's ``softhsm2``) the PKCS#11 tests are skipped, or fail when ``CI`` is
set: CI must run them (``.ci/run`` installs the package).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SoftHsm", "softhsm", "fresh_label", "SOFTHSM_MODULES", "kek_uri", "MOTO_ENV", "use_moto_env"]

#: credentials and region for moto's KMS (never real ones)
MOTO_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def use_moto_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at moto's in-process KMS: test credentials, a region, no endpoint override."""
    for name, value in MOTO_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "pseudovault-tests"
PIN = "4711-test-pin"
SO_PIN = "so-4711-test-pin"


@dataclass(frozen=True)
class SoftHsm:
    module: str
    conf: Path
    token: str = TOKEN_LABEL
    pin: str = PIN

    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf), "PSEUDOVAULT_PKCS11_PIN": self.pin}


_instance: SoftHsm | None = None


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI requires the PKCS#11 tests to run (install Debian's softhsm2)")
    pytest.skip(reason)


def softhsm() -> SoftHsm:
    """The process's SoftHSM2 token, set up on first use."""
    global _instance
    if _instance is not None:
        return _instance
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        _missing("SoftHSM2 is not installed")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _missing("python-pkcs11 is not installed")
    assert module is not None and util is not None
    root = Path(tempfile.mkdtemp(prefix="pv-softhsm-"))
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    _instance = SoftHsm(module, conf)
    return _instance


def fresh_label() -> str:
    return f"pv-{uuid.uuid4().hex[:12]}"


def kek_uri(hsm: SoftHsm, label: str, mechanism: str | None = None) -> str:
    uri = f"pkcs11:module={hsm.module};token={hsm.token};key={label}"
    return uri + (f";mechanism={mechanism}" if mechanism else "")
