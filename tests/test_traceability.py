"""docs/retention.md's traceability table names tests that exist, so it cannot drift from them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_traceability_table_names_exists() -> None:
    text = (ROOT / "docs" / "retention.md").read_text(encoding="utf-8")
    section = text.split("## Traceability", 1)[1].split("\n## ", 1)[0]
    aliases = dict(re.findall(r"`(\w+)` is `([^`]+\.py)`", section))
    named = re.findall(r"`(?:(\w+)|([\w/]+\.py))::(test_\w+)`", section)
    assert len(named) >= 20
    for alias, path, test in named:
        source = ROOT / (aliases[alias] if alias else path)
        assert source.is_file(), source
        assert re.search(rf"def {test}\(", source.read_text(encoding="utf-8")), f"{source.name}::{test}"
