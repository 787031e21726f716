"""docs/client.md runs as written: its ``sh`` block creates the key, its ``python`` blocks run in
order, in one namespace, against a live ``pseudovault serve``, and print what the page says."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
from pathlib import Path

import pytest
from client_support import Live
from servers import pseudovault_command, run_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_client_guide_runs_as_written(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (create,) = [block for block in _blocks("sh") if "apikeys create" in block]
    words = shlex.split(create.replace("\\\n", " "))
    assert words[:3] == ["pseudovault", "apikeys", "create"]
    token = json.loads(run_command(live.env, [*pseudovault_command(), *words[1:], "--json"]))["token"]
    monkeypatch.setenv("VAULT_URL", live.base)
    monkeypatch.setenv("VAULT_TOKEN", token)
    monkeypatch.chdir(tmp_path)

    namespace: dict[str, object] = {"__name__": "docs_client"}
    printed = io.StringIO()
    blocks = _blocks("python")
    assert len(blocks) >= 6
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
    lines = printed.getvalue().splitlines()
    assert lines[0] == "Kim Minji"
    assert lines[1] == "deny"
    assert re.fullmatch(r"404 not_found [0-9a-f]{32}", lines[2]), lines[2]
    assert lines[-4:] == ["True privacy-ticket-77", "True", "True", "['deny', 'allow']"], lines
    assert (tmp_path / "receipt-77.json").read_bytes().endswith(b"\n")
    assert os.environ["VAULT_TOKEN"] == token
