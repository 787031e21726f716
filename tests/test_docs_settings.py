"""The documentation covers what an operator can set: every ``PSEUDOVAULT_*`` setting the code
reads is named in the README or docs/, and the decision policy example in docs/api.md loads and
decides as the text around it says."""

from __future__ import annotations

import re
from pathlib import Path

from pseudovault.api.settings import ApiSettings
from pseudovault.vault.checks.decisions import DecisionPolicy
from pseudovault.vault.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("vault", "api", "keys")


def _documentation() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _documented(name: str, text: str) -> bool:
    """Named in full, or in the README's settings table by its suffix after another setting of
    the same row (`` `PSEUDOVAULT_KDF_TIME_COST`, `_KDF_MEMORY_KIB` ``)."""
    suffix = name.removeprefix("PSEUDOVAULT")
    return re.search(re.escape(name) + r"(?![A-Z0-9_])", text) is not None or f"`{suffix}`" in text


def test_every_setting_is_documented() -> None:
    settings = {
        f"PSEUDOVAULT_{(field.alias or name).upper()}"
        for model in (Settings, ApiSettings)
        for name, field in model.model_fields.items()
    }
    named_in_code = {
        match
        for folder in CODE_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        for match in re.findall(r"PSEUDOVAULT_[A-Z0-9]+(?:_[A-Z0-9]+)*(?![A-Z0-9_])", path.read_text(encoding="utf-8"))
    }
    assert len(settings) > 40
    text = _documentation()
    assert sorted(name for name in settings | named_in_code if not _documented(name, text)) == []


def test_the_decision_policy_example_decides_as_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    policy = DecisionPolicy.from_toml(blocks[0], source="docs/api.md")
    assert policy.decide("fraudulent_transaction", "card_fingerprint", "medium", "exact") == "deny"
    assert policy.decide("fraudulent_transaction", "device_id", "low", "exact") == "deny"
    assert policy.decide("fraudulent_transaction", "ip", "critical", "exact") == "review"
    assert policy.decide("bad_usage_rejoin", "email", "low", "exact") == "allow"
    assert policy.decide("bad_usage_rejoin", "email", "high", "exact") == "review"  # the fallback
    # the limits no policy lifts
    assert policy.decide("fraudulent_transaction", "device_id", "high", "lookalike") == "review"
    assert policy.decide("fraudulent_transaction", "device_id", "high", "exact", under_review=True) == "review"


def test_the_default_policy_decides_as_documented() -> None:
    policy = DecisionPolicy.default()
    assert policy.decide("fraudulent_transaction", "email", "high", "exact") == "deny"
    assert policy.decide("fraudulent_transaction", "ip", "high", "exact") == "review"
    assert policy.decide("fraudulent_transaction", "email", "high", "lookalike") == "review"
    assert policy.decide("fraudulent_transaction", "email", "medium", "exact") == "review"
