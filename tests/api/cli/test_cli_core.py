"""The pseudovault command for the core vault: init, status, subjects, keys. Shapes from the issue."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from canary import CANARY_PII


def test_init_creates_a_private_home_and_is_safe_to_run_again(cli: Any, cli_env: dict[str, str]) -> None:
    first = cli.json("init")
    assert first["created"] is True
    home = Path(cli_env["PSEUDOVAULT_HOME"])
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    for name in ("keyring.json", "data.sqlite3", "keys.sqlite3"):
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600, name
    keyring_bytes = (home / "keyring.json").read_bytes()
    again = cli.json("init")
    assert again["created"] is False
    assert (home / "keyring.json").read_bytes() == keyring_bytes


def test_init_with_a_short_passphrase_is_refused_and_leaves_nothing(cli: Any, cli_env: dict[str, str]) -> None:
    result = cli("init", env={"PSEUDOVAULT_PASSPHRASE": "short"})
    assert result.exit_code == 4
    assert "passphrase" in result.stderr and "Traceback" not in result.stderr
    assert not (Path(cli_env["PSEUDOVAULT_HOME"]) / "keyring.json").exists()


def test_commands_before_init_say_so_in_one_line(cli: Any) -> None:
    result = cli("status")
    assert result.exit_code == 5
    assert result.stderr.strip().count("\n") == 0
    assert "pseudovault init" in result.stderr


def test_wrong_passphrase_is_one_clear_line_naming_the_keyring(initialised: Any, cli_env: dict[str, str]) -> None:
    result = initialised("status", env={"PSEUDOVAULT_PASSPHRASE": "not the right passphrase"})
    assert result.exit_code == 7
    assert "keyring.json" in result.stderr and "wrong passphrase" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


def test_subject_lifecycle_with_the_issue_shapes(initialised: Any) -> None:
    cli = initialised
    added = cli.ok("subjects", "add", "--field", "email=a@b.example", "--field", "name=Kim")
    subject_id = added.stdout.split()[-1]
    assert len(subject_id) == 36

    shown = cli.json("subjects", "show", subject_id, "--purpose", "support ticket 1")
    assert shown == {"subject_id": subject_id, "fields": {"email": "a@b.example", "name": "Kim"}}
    assert "Kim" in cli.ok("subjects", "show", subject_id, "--purpose", "support ticket 1").stdout
    assert cli.json("subjects", "show", subject_id, "--purpose", "support ticket 1", "--field", "name")["fields"] == {"name": "Kim"}

    cli.ok("subjects", "update", subject_id, "--field", "phone=010-1234-5678", "--unset", "name")
    assert cli.json("subjects", "show", subject_id, "--purpose", "support ticket 1")["fields"] == {"email": "a@b.example", "phone": "010-1234-5678"}

    listed = cli.json("subjects", "list")
    assert [row["subject_id"] for row in listed] == [subject_id]
    assert listed[0]["fields"] == ["email", "phone"]

    shredded = cli.json("subjects", "shred", subject_id, "--yes")
    assert shredded["already"] is False
    again = cli.json("subjects", "shred", subject_id, "--yes")
    assert again["already"] is True

    gone = cli("subjects", "show", subject_id, "--purpose", "support ticket 1")
    never = cli("subjects", "show", "00000000-0000-4000-8000-000000000000", "--purpose", "support ticket 1")
    assert gone.exit_code == never.exit_code == 3
    assert gone.stderr.replace(subject_id, "ID") == never.stderr.replace("00000000-0000-4000-8000-000000000000", "ID")


def test_shred_without_yes_asks_and_does_nothing_when_not_confirmed(initialised: Any) -> None:
    subject_id = initialised.ok("subjects", "add", "--field", "name=Lee").stdout.split()[-1]
    result = initialised("subjects", "shred", subject_id)
    assert result.exit_code != 0
    assert initialised.json("subjects", "show", subject_id, "--purpose", "support ticket 1")["fields"] == {"name": "Lee"}


def test_fields_from_standard_input_keep_pii_out_of_argv(initialised: Any) -> None:
    payload = '{"email": "%s", "name": "Park"}' % CANARY_PII
    subject_id = initialised.ok("subjects", "add", "--fields-json", "-", input=payload).stdout.split()[-1]
    assert initialised.json("subjects", "show", subject_id, "--purpose", "support ticket 1")["fields"]["email"] == CANARY_PII


def test_a_password_is_stored_one_way_and_verified_from_standard_input(initialised: Any) -> None:
    payload = '{"name": "Park", "password": "s3cret horse battery"}'
    subject_id = initialised.ok("subjects", "add", "--fields-json", "-", input=payload).stdout.split()[-1]
    assert initialised.json("subjects", "show", subject_id, "--purpose", "support ticket 1")["fields"] == {"name": "Park"}
    matched = initialised.json("subjects", "verify", subject_id, input="s3cret horse battery\n")
    assert matched == {"subject_id": subject_id, "field": "password", "match": True}
    wrong = initialised("subjects", "verify", subject_id, input="guess\n")
    assert wrong.exit_code == 1 and "no match" in wrong.stdout and "guess" not in wrong.stdout + wrong.stderr
    refused = initialised("subjects", "add", "--field", "card_pin=1234")
    assert refused.exit_code == 4 and "one-way" in refused.stderr and "1234" not in refused.stderr
    declared = initialised("subjects", "add", "--field", "card_pin=1234", env={"PSEUDOVAULT_REVERSIBLE_FIELDS": "card_pin"})
    assert declared.exit_code == 0


def test_invalid_input_is_a_clear_line_and_writes_nothing(initialised: Any) -> None:
    for args in (
        ("subjects", "add", "--field", "noequals"),
        ("subjects", "add", "--field", f"Bad-Name={CANARY_PII}"),
        ("subjects", "add", "--field", "email="),
        ("subjects", "add"),
        ("subjects", "show", "not-a-uuid", "--purpose", "support ticket 1"),
    ):
        result = initialised(*args)
        assert result.exit_code == 4, (args, result.stderr)
        assert CANARY_PII not in result.stderr and "Traceback" not in result.stderr
    assert initialised.json("status")["counts"]["subjects"] == 0


def test_status_shows_counts_and_never_key_material(initialised: Any, cli_env: dict[str, str]) -> None:
    initialised.ok("subjects", "add", "--field", f"email={CANARY_PII}")
    status = initialised.json("status")
    assert status["counts"]["subjects"] == 1
    assert status["provider"]["kind"] == "local"
    text = initialised.ok("status").stdout
    assert CANARY_PII not in text and cli_env["PSEUDOVAULT_PASSPHRASE"] not in text


def test_keys_rotate_then_rewrap_keeps_subjects_readable(initialised: Any) -> None:
    ids = [initialised.ok("subjects", "add", "--field", f"name=n{i}").stdout.split()[-1] for i in range(5)]
    rotated = initialised.json("keys", "rotate")
    assert rotated["root_key_id"] == "local:2" and rotated["epoch"] == 2
    report = initialised.json("keys", "rewrap", "--batch-size", "2")
    assert report["data_keys_rewrapped"] == 5
    assert report["epochs_destroyed"] == 1
    status = initialised.json("status")
    assert status["epochs"]["root_key_ids_in_use"] == ["local:2"]
    for i, subject_id in enumerate(ids):
        assert initialised.json("subjects", "show", subject_id, "--purpose", "support ticket 1")["fields"] == {"name": f"n{i}"}
    assert initialised.json("keys", "rewrap")["data_keys_rewrapped"] == 0


def test_privileged_cli_actions_are_audited_without_pii(initialised: Any) -> None:
    subject_id = initialised.ok("subjects", "add", "--field", f"email={CANARY_PII}").stdout.split()[-1]
    initialised.ok("subjects", "show", subject_id, "--purpose", "support ticket 42")
    initialised.ok("subjects", "shred", subject_id, "--yes")
    from pseudovault.vault.bootstrap import open_vault
    from pseudovault.vault.config import Settings

    with open_vault(Settings(**{k.removeprefix("PSEUDOVAULT_").lower(): v for k, v in initialised.env.items()})) as vault:
        entries = vault.audit.query(limit=100)
        assert vault.audit.verify().ok
    actions = [(e.action, e.actor_kind, e.purpose) for e in entries]
    assert ("subject.create", "cli", None) in actions
    assert ("subject.reveal", "cli", "support ticket 42") in actions
    assert ("subject.shred", "cli", None) in actions
    assert all(CANARY_PII not in repr(e.as_dict()) for e in entries)


def test_keys_maintain_rotates_an_old_epoch_and_destroys_the_old_keys(initialised: Any) -> None:
    cli = initialised
    subject = cli.json("subjects", "add", "--field", "email=kim@example.com")["subject_id"]
    assert cli.json("keys", "maintain", "--max-age-days", "30")["rotated"] is None
    done = cli.json("keys", "maintain", "--max-age-days", "0.000000001")
    assert done["rotated"]["root_key_id"] == "local:2"
    assert done["rewrap"]["root_keys_destroyed"] == ["local:1"]
    status = cli.json("status")
    assert [(k["key_id"], k["status"]) for k in status["provider"]["keys"]] == [("local:1", "destroyed"), ("local:2", "enabled")]
    assert status["horizon"]["epoch_max_age_days"] == 30
    assert cli.json("subjects", "show", subject, "--purpose", "support ticket 1")["fields"]["email"] == "kim@example.com"
    assert "Nothing to do" in cli.ok("keys", "maintain", "--max-age-days", "30").stdout


def test_audit_checkpoints_go_to_a_file_beside_the_keyring_and_verify_against_a_copy(
    initialised: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    cli = initialised
    checkpoint = cli.json("audit", "checkpoint")
    file = Path(cli_env["PSEUDOVAULT_HOME"]) / "audit-checkpoints.jsonl"
    lines = file.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["last_seq"] == checkpoint["seq"]
    report = cli.json("audit", "verify")
    assert report["ok"] and report["external_checkpoints"] == 1
    copy = tmp_path / "offsite.jsonl"
    copy.write_bytes(file.read_bytes().replace(b'"last_seq":', b'"last_seq":1', 1))  # an altered copy
    broken = cli("audit", "verify", "--against", str(copy))
    assert broken.exit_code == 9 and "checkpoint file does not verify" in broken.stdout
    missing = cli("audit", "verify", "--against", str(tmp_path / "nowhere.jsonl"))
    assert missing.exit_code == 2
    off = cli("audit", "checkpoint", env={"PSEUDOVAULT_AUDIT_CHECKPOINT_FILE": "off"})
    assert off.exit_code == 0 and len(file.read_text().splitlines()) == 1


def test_a_restore_of_the_data_store_is_acknowledged_from_the_cli(initialised: Any, cli_env: dict[str, str]) -> None:
    cli = initialised
    store = Path(cli_env["PSEUDOVAULT_HOME"]) / "data.sqlite3"
    cli.json("subjects", "add", "--field", "email=kim@example.com")
    backup = store.with_suffix(".backup")
    with sqlite3.connect(store) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    cli.json("subjects", "add", "--field", "email=lee@example.com")
    reached = cli.json("audit", "checkpoint")["seq"]
    with sqlite3.connect(backup) as source, sqlite3.connect(store) as target:
        source.backup(target)  # the data store restored from its backup
    assert cli("audit", "verify").exit_code == 9
    unconfirmed = cli("audit", "acknowledge-restore")
    assert unconfirmed.exit_code == 4 and "--yes" in unconfirmed.stderr
    done = cli.json("audit", "acknowledge-restore", "--yes")
    assert done["had_reached"] == reached and done["superseded_lines"] == 1
    report = cli.json("audit", "verify")
    assert report["ok"] and report["superseded_lines"] == 1 and report["restore_acknowledged_at"] == done["acknowledged_at"]
    assert "acknowledged" in cli.ok("audit", "verify").stdout
    again = cli("audit", "acknowledge-restore", "--yes")
    assert again.exit_code == 8 and "there is no restore to acknowledge" in again.stderr
