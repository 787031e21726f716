"""The installed distribution: one import name, every package of the three folders in it.

The folders are mapped under ``pseudovault`` with an explicit package list (pyproject.toml); an
editable install finds a package missing from that list anyway, a built wheel does not. So the list
is checked against the folders here, and the wheel's contents where a build is cheap enough."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["setuptools"]


def _folder(package: str) -> Path:
    return ROOT.joinpath(*package.split(".")[1:])


def test_every_package_folder_is_in_the_distribution() -> None:
    """The list is the code packages (folders with ``__init__.py``) plus the data folders (no
    ``__init__.py``; alembic and jinja load them by path), each of which names its files in
    package-data, or a wheel would ship it empty."""
    setuptools = _setuptools()
    declared = set(setuptools["packages"])
    code = {"pseudovault"}
    for folder in ("keys", "vault", "api"):
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            code.add(".".join(("pseudovault", *parts)))
    data = declared - code
    assert code <= declared, sorted(code - declared)
    for package in sorted(data):
        assert _folder(package).is_dir(), package
        assert package in setuptools["package-data"], package
        patterns = setuptools["package-data"][package]
        assert any(any(_folder(package).glob(p)) for p in patterns), package


def test_the_script_and_the_version_come_from_the_one_name() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["scripts"]["pseudovault"] == "pseudovault.api.cli:main"
    assert config["tool"]["setuptools"]["package-dir"] == {"pseudovault": "."}
    import pseudovault

    assert pseudovault.__version__ == config["project"]["version"]


def test_the_server_and_the_cli_import_without_the_optional_extras() -> None:
    """``pip install .`` has no PostgreSQL driver, PKCS#11, boto3 or Redis client: the app and the
    command must load without them (each is imported where it is used)."""
    import subprocess
    import sys

    blocked = ["psycopg", "pkcs11", "boto3", "botocore", "redis"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import pseudovault.api.app, pseudovault.api.cli\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
