"""Every shell example of the README and docs/ is right as written.

Every ``pseudovault`` command in a ``sh`` block is parsed by the CLI itself, in each form its
synopsis allows (``[--json]`` left out and put in; ``--keep|--destroy`` each way; placeholders such
as ``SUBJECT_ID`` given a value of their shape): a renamed command or option, a value the option
refuses, or a missing argument fails here. ``pip install`` lines name extras and folders that
exist; ``pytest`` lines name test folders that exist.

Then the README's own walk-through runs for real, block by block, in a fresh home: each command
must succeed, ids printed by one (a subject, a record, a key) are given to the next, and what
the README says a command answers (``# {"decision": "deny", ...}``) is what it answers. Its
``curl`` examples run against a live ``pseudovault serve``. docs/client.md's Python runs in
tests/client/test_client_docs.py.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from servers import child_env, pseudovault_command, serving
from typer.testing import CliRunner

from pseudovault.api.cli import app as cli_app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = typer.main.get_command(cli_app)
TOP_LEVEL = set(COMMAND.commands)  # type: ignore[attr-defined]

#: what a placeholder of the docs stands for, with a value of its shape
PLACEHOLDERS = {
    "SUBJECT_ID": "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10",
    "RECORD_ID": "6f1c2a9e-3b7d-4e8a-9c41-5d2f0b8e7a13",
    "HOLD_ID": "5f0c2b8e-0d1e-4e0f-9a7d-3c1b2a4d5e6f",
    "ITEM_ID": "3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86",
    "ITEM_NUMBER": "17",
    "REQUEST_ID": "3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86",
    "SUBJECT_OR_RECORD_ID": "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10",
    "ID": "3d9e7a41-6c2b-4f8e-a1d5-7b0c9e2f4a86",
    "KEY_ID": "k3mzq7a2xb",
    "N": "2",
    "FILE": "out.json",
    "COPY": "checkpoints-copy.jsonl",
    "TIME": "2030-01-01T00:00:00Z",
    "HEX": "ab" * 32,
}
#: ``--option ...``: a value of the option's shape
ELLIPSIS = {"--received-at": "2026-01-05T09:00:00Z"}


def sh_blocks(path: Path) -> Iterator[str]:
    for match in re.finditer(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
        yield match.group(1)


def lines(block: str) -> Iterator[str]:
    for line in block.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


def segments(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line: split at ``&&``, ``;`` and a lone ``|``, without
    leading ``VAR=value`` assignments and trailing comments."""
    words = shlex.split(line, comments=True)
    for is_separator, group in itertools.groupby(words, lambda word: word in ("&&", ";", "|", ">")):
        if not is_separator:
            group_words = list(group)
            while group_words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", group_words[0]):
                group_words.pop(0)
            if group_words:
                yield group_words


def invocations(line: str) -> Iterator[list[str]]:
    """The ``pseudovault`` argument lists of a line (``rights restrict X | rights lift X`` is two)."""
    for words in segments(line):
        if words[0] == "pseudovault":
            yield words[1:]
        elif words[0] in TOP_LEVEL and line.lstrip().startswith("pseudovault"):
            yield words


def variants(args: list[str]) -> list[list[str]]:
    """Each form a synopsis allows: optional parts out and in, each alternative of ``a|b``."""
    plain: list[str] = []
    with_optional: list[str] = []
    depth = 0
    for word in args:
        opening = word.startswith("[")
        if opening:
            depth += 1
            word = word[1:]
        closing = word.endswith("]") and depth > 0
        if closing:
            word = word[:-1]
        if depth == 0:
            plain.append(word)
        with_optional.append(word)
        if closing:
            depth -= 1
    assert depth == 0, f"unbalanced [ ] in {args}"
    out = []
    for form in (plain, with_optional):
        alternatives = [word.split("|") if "|" in word and "://" not in word else [word] for word in form]
        for index in range(max(len(a) for a in alternatives) if alternatives else 1):
            out.append([a[index % len(a)] for a in alternatives])
    return [list(form) for form in dict.fromkeys(tuple(form) for form in out)]


def concrete(args: list[str]) -> list[str]:
    out: list[str] = []
    for word in args:
        if word == "...":
            assert out and out[-1] in ELLIPSIS, f"'...' after {out[-1:]}: add it to ELLIPSIS"
            out.append(ELLIPSIS[out[-1]])
        elif re.fullmatch(r"[A-Z][A-Z_]*", word):
            assert word in PLACEHOLDERS, f"unknown placeholder {word}: add it to PLACEHOLDERS"
            out.append(PLACEHOLDERS[word])
        else:
            out.append(word)
    return out


def parse(args: list[str]) -> str:
    """Parse ``args`` as the CLI would (every option, choice, range and required argument); the
    command's name."""
    ctx = COMMAND.make_context("pseudovault", list(args))
    command = COMMAND
    while hasattr(command, "resolve_command"):
        rest = [*ctx._protected_args, *ctx.args]  # type: ignore[attr-defined]
        name, found, rest = command.resolve_command(ctx, rest)
        assert found is not None and name is not None, args
        command = found
        ctx = command.make_context(name, rest, parent=ctx)
    return str(command.name)


def _every_command() -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        for block in sh_blocks(path):
            for line in lines(block):
                for args in invocations(line):
                    for form in variants(args):
                        found.append((f"{path.name}: {' '.join(form)}", concrete(form)))
    return found


EVERY_COMMAND = _every_command()


def test_the_docs_have_commands_to_check() -> None:
    assert len(EVERY_COMMAND) > 120
    assert {path.name for path in DOCS} >= {"README.md", "api.md", "retention.md", "operations.md", "client.md"}


@pytest.mark.parametrize(("where", "args"), EVERY_COMMAND, ids=[where for where, _ in EVERY_COMMAND])
def test_every_documented_command_parses(
    where: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the files the examples name exist
    for name in ("receipt.json", "bans.csv", "new.toml", PLACEHOLDERS["COPY"], PLACEHOLDERS["FILE"]):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    try:
        parse(args)
    except Exception as exc:  # a usage error of any kind: the docs are wrong
        pytest.fail(f"{where}: {type(exc).__name__}: {getattr(exc, 'message', exc)}")


def test_installs_and_test_runs_name_what_exists() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"])
    client_extras = set(
        tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    )
    seen = 0
    for path in DOCS:
        for block in sh_blocks(path):
            for line in lines(block):
                for words in segments(line):
                    if words[:2] == ["pip", "install"]:
                        for target in words[2:]:
                            match = re.fullmatch(r"(-e )?(\.|\./clients/python)(\[([a-z,]+)\])?", target)
                            if target.startswith("-") or re.fullmatch(r"[a-z][a-z0-9-]*", target):
                                continue  # a flag, or a package from the index
                            assert match, f"{path.name}: pip install {target}"
                            wanted = set((match.group(4) or "").split(",")) - {""}
                            assert wanted <= (extras if match.group(2) == "." else client_extras), target
                            seen += 1
                    if words[0] == "pytest":
                        for target in words[1:]:
                            if target.startswith("tests"):
                                assert (ROOT / target).exists(), f"{path.name}: {target}"
                                seen += 1
    assert seen >= 8


# --- the README, run ----------------------------------------------------------------------

PASSPHRASE = "correct horse battery staple"


def _run(env: dict[str, str], args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [*pseudovault_command(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        input="",
    )
    assert done.returncode == 0, (args, done.returncode, done.stdout[-1500:], done.stderr[-1500:])
    return done.stdout


def test_the_readme_walk_through_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process (the CLI's own app, as ``pseudovault`` runs it), for speed: one command each."""
    for name in list(os.environ):
        if name.startswith("PSEUDOVAULT_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    env = child_env(home, PASSPHRASE)
    runner = CliRunner()

    def run(args: list[str]) -> str:
        result = runner.invoke(cli_app, args, env=env, catch_exceptions=False, input="")
        assert result.exit_code == 0, (args, result.exit_code, result.stdout[-1500:], result.stderr[-1500:])
        return result.stdout

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "bans.csv").write_text(
        "email,phone,category,reason_code,source_ref\n"
        "ring@fraud.example,010-5555-0101,fraudulent_transaction,chargeback_fraud,case-1\n",
        encoding="utf-8",
    )
    run(["init"])  # what the quick start's first `serve` does
    bound: dict[str, str] = {}
    ran = 0
    readme = ROOT / "README.md"
    for block in sh_blocks(readme):
        for line in lines(block):
            said = line.split("   # ", 1)[1].strip() if "   # " in line else ""
            for args in invocations(line):
                form = variants(args)[0]  # as the synopsis shows it bare
                if form[0] in ("serve", "init") or "--against" in form:
                    continue  # serve: tests/api/test_api_serve.py; init: a PostgreSQL example; --against: a copy kept elsewhere
                words = [bound.get(word, word) for word in form]
                assert not [w for w in words if re.fullmatch(r"[A-Z][A-Z_]*", w)], f"unbound in {line}"
                out = run(words)
                ran += 1
                if words[:2] == ["subjects", "add"]:
                    bound["SUBJECT_ID"] = out.split()[-1]
                elif words[:2] == ["records", "add"]:
                    bound["RECORD_ID"] = out.split()[-1]
                elif words[:2] == ["apikeys", "create"]:
                    bound["KEY_ID"] = out.split()[-1][4:14]
                if said.startswith("{") and "--json" in words:
                    expected = json.loads(re.sub(r",\s*\"[a-z_]+\": \[\.\.\.\]", "", said))
                    answer = json.loads(out)
                    assert {k: answer[k] for k in expected} == expected, (line, out)
    assert ran >= 25
    assert (work / "receipt.json").read_bytes().endswith(b"\n") and (work / "bans.jsonl").exists()


#: the tokens the docs' curl examples use, by the name of the key the same block creates
TOKEN_OF_KEY = {"crm": "CRM", "fraud-desk": "FRAUD", "privacy": "PRIVACY", "ops": "OPS"}
#: the subject id the docs' examples show, replaced by the one the example created
EXAMPLE_SUBJECT = "0b7c4f52-8a55-4d4e-9a51-1f0e4c3b2a10"


_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _matches(answer: object, expected: object) -> bool:
    """``answer`` is what a documented answer shows; ``...`` in it stands for anything."""
    if isinstance(expected, str):
        if _TIME.fullmatch(expected):  # a time: any time
            return isinstance(answer, str) and bool(_TIME.fullmatch(answer))
        return (expected.endswith("...") and isinstance(answer, str) and answer.startswith(expected[:-3])) or answer == expected
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(k in answer and _matches(answer[k], v) for k, v in expected.items())
    return answer == expected


def _documented(comment: str) -> object:
    text = comment[2:].split("   (")[0]
    text = re.sub(r",\s*\.\.\.", "", text)  # "...,": more fields than shown
    return json.loads(text)


def _curl_blocks(doc: str) -> list[str]:
    if doc == "README.md":
        return [b for b in sh_blocks(ROOT / "README.md") if "curl " in b]
    return [b for b in sh_blocks(ROOT / "docs" / "api.md") if "# as the operator" in b]


@pytest.mark.parametrize(("doc", "least"), [("README.md", 3), ("api.md", 8)])
def test_the_curl_examples_run_against_a_live_server(doc: str, least: int, tmp_path: Path) -> None:
    """The README's curl examples, and docs/api.md's walk-through, each against a fresh
    ``pseudovault serve``; each documented answer is what comes back (``...`` standing for
    anything, a time for any time)."""
    assert shutil.which("curl"), "curl is needed to run the docs' curl examples"
    env = child_env(tmp_path / "home", PASSPHRASE)
    with serving(env) as base:
        shell = dict(env)
        if doc == "README.md":  # its check example's key, made as its apikeys example shows
            checks = _run(env, ["apikeys", "create", "--name", "signup", "--scope", "checks", "--json"], tmp_path)
            shell["CHECKS_TOKEN"] = json.loads(checks)["token"]
        answered = 0
        for block in _curl_blocks(doc):
            subject_id = ""
            block_lines = block.replace("\\\n", " ").splitlines()
            for index, line in enumerate(block_lines):
                line = line.replace("http://127.0.0.1:8000", base)
                if line.startswith("B="):
                    shell["B"] = base
                    continue
                words = shlex.split(line, comments=True)
                if words[:3] == ["pseudovault", "apikeys", "create"]:
                    token = json.loads(_run(env, [*words[1:], "--json"], tmp_path))["token"]
                    # the README's block then says `export TOKEN=pvk_...`: the token just printed
                    shell["TOKEN"] = shell[TOKEN_OF_KEY.get(words[words.index("--name") + 1], "TOKEN")] = token
                    continue
                if not words or words[0] != "curl":
                    continue
                command = line.replace("SUBJECT_ID", subject_id).replace(EXAMPLE_SUBJECT, subject_id or EXAMPLE_SUBJECT)
                done = subprocess.run(["bash", "-c", command], env=shell, capture_output=True, text=True, timeout=60,
                                      check=False)
                assert done.returncode == 0, (line, done.stderr)
                answer = json.loads(done.stdout)
                assert not (isinstance(answer, dict) and isinstance(answer.get("status"), int) and answer["status"] >= 400), (
                    line, answer)
                if isinstance(answer, dict) and "subject_id" in answer and not subject_id:
                    subject_id = answer["subject_id"]
                following = block_lines[index + 1] if index + 1 < len(block_lines) else ""
                if following.startswith("# {"):
                    shown = following.replace(EXAMPLE_SUBJECT, subject_id).replace(EXAMPLE_SUBJECT[:9] + "...", subject_id)
                    expected = _documented(shown)
                    assert _matches(answer, expected), (line, answer, expected)
                answered += 1
        assert answered >= least
