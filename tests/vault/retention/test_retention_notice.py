"""The retention section of a privacy policy, written from the policies in force."""

from __future__ import annotations

import pytest
from retention_support import DORMANT_ON, policies_with

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.notice import notice
from pseudovault.vault.retention.policy_file import shipped_presets


def test_every_enabled_category_with_its_period_start_and_basis() -> None:
    presets = shipped_presets()
    text = notice(presets, lang="en")
    for policy in presets:
        assert (policy.name in text) == policy.enabled, policy.category
        if policy.enabled:
            assert policy.basis in text
    assert "| Access logs (communication confirmation data) | 3 months (each entry) | collection |" in text
    assert "| 5 years | payment |" in text
    assert "until no longer needed; reviewed every 1 year" in text
    assert "Asia/Seoul" in text
    korean = notice(presets)
    assert "개인정보의 보유 및 파기" in korean and "| 5년 | 대금 결제일 |" in korean and "3개월 (기록별)" in korean


def test_it_follows_the_operators_file_and_escapes_html() -> None:
    mine = policies_with(DORMANT_ON + """
[policies.service_usage]
name = "Usage <records> & logs"
period = "2y6mo"
trigger = "collected"
basis = "Internal policy | 2.5 years"
action = "shred_subject"
""")
    md = notice(mine, lang="en")
    assert "Usage <records> & logs | 2 years 6 months | collection | Internal policy \\| 2.5 years |" in md
    assert mine["dormant_account"].name in md  # switched on in this file
    page = notice(mine, lang="en", fmt="html")
    assert "<td>Usage &lt;records&gt; &amp; logs</td>" in page and "<records>" not in page
    for lang, fmt in (("fr", "md"), ("en", "pdf")):
        with pytest.raises(InvalidInputError):
            notice(mine, lang=lang, fmt=fmt)
