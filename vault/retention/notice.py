"""The retention section of a privacy policy, written from the policies in force.

A privacy policy must state, per kind of personal data, how long it is kept and on which legal
basis (PIPA Art. 30(1)(iii)); the vault applies exactly its policies, so the published notice is
generated from them (``pseudovault retention notice``) and the two cannot drift apart. Korean or
English, Markdown or HTML (every text escaped). Disabled policies are left out; a policy without
an end date says it is reviewed instead.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.retention.periods import Period
from pseudovault.vault.retention.policies import Policy, PolicySet

__all__ = ["FORMATS", "LANGUAGES", "notice"]

LANGUAGES = ("ko", "en")
FORMATS = ("md", "html")

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Retention and destruction of personal information",
        "intro": "We keep each kind of personal information only for the period below, and destroy it "
                 "without delay when the period ends, unless a law requires us to keep it longer.",
        "columns": ("What", "Kept for", "From", "Legal basis"),
        "records": "Anti-abuse records",
        "review": "until no longer needed; reviewed every {interval}",
        "per_entry": " (each entry)",
        "timezone": "Periods are counted in days in the {zone} time zone: the day the period starts is "
                    "not counted, and the data is destroyed after the end of its last day.",
        "units": {"years": ("year", "years"), "months": ("month", "months"), "days": ("day", "days")},
        "triggers": {
            "collected": "collection",
            "withdrawal": "withdrawal from membership",
            "contract_end": "the end of the contract",
            "payment": "payment",
            "complaint_closed": "the complaint's resolution",
            "last_activity": "the last use of the service",
            "fraud_confirmed": "collection",
        },
    },
    "ko": {
        "title": "개인정보의 보유 및 파기",
        "intro": "회사는 아래 기간 동안만 개인정보를 보유하며, 기간이 끝나면 지체 없이 파기합니다. "
                 "다만 법령에 따라 보존하여야 하는 경우에는 그 기간 동안 보존합니다.",
        "columns": ("보유 항목", "보유 기간", "기산일", "근거"),
        "records": "부정 이용 방지 기록",
        "review": "목적 달성 시까지 ({interval}마다 재검토)",
        "per_entry": " (기록별)",
        "timezone": "기간은 {zone} 시간대의 날짜로 계산하며, 첫날은 산입하지 않고 기간 말일이 끝난 뒤 파기합니다.",
        "units": {"years": ("년", "년"), "months": ("개월", "개월"), "days": ("일", "일")},
        "triggers": {
            "collected": "수집일",
            "withdrawal": "회원 탈퇴일",
            "contract_end": "계약 종료일",
            "payment": "대금 결제일",
            "complaint_closed": "분쟁 처리 완료일",
            "last_activity": "마지막 이용일",
            "fraud_confirmed": "수집일",
        },
    },
}


def _period(period: Period, lang: str) -> str:
    units = _TEXT[lang]["units"]
    parts = []
    for name, amount in (("years", period.years), ("months", period.months), ("days", period.days)):
        if amount:
            one, many = units[name]
            parts.append(f"{amount}{one}" if lang == "ko" else f"{amount} {one if amount == 1 else many}")
    return " ".join(parts)


def _rows(policies: Iterable[Policy], lang: str) -> list[tuple[str, str, str, str]]:
    text = _TEXT[lang]
    rows = []
    for p in policies:
        if not p.enabled:
            continue
        what = p.name + (f" ({text['records']})" if p.for_records else "")
        if p.period is not None:
            kept = _period(p.period, lang) + (str(text["per_entry"]) if p.per_entry else "")
        else:
            assert p.review_interval is not None
            kept = str(text["review"]).format(interval=_period(p.review_interval, lang))
        start = text["triggers"].get(p.trigger, p.trigger)
        rows.append((what, kept, str(start), p.basis))
    return rows


def notice(policies: PolicySet, *, lang: str = "ko", fmt: str = "md") -> str:
    """The notice for ``policies`` in ``lang`` (ko, en) and ``fmt`` (md, html)."""
    if lang not in LANGUAGES:
        raise InvalidInputError("lang", f"must be one of: {', '.join(LANGUAGES)}")
    if fmt not in FORMATS:
        raise InvalidInputError("format", f"must be one of: {', '.join(FORMATS)}")
    text = _TEXT[lang]
    rows = _rows(policies, lang)
    columns = text["columns"]
    zone = str(text["timezone"]).format(zone=policies.timezone)
    if fmt == "md":
        def cell(value: str) -> str:
            return value.replace("|", "\\|").replace("\n", " ")

        lines = [f"## {text['title']}", "", str(text["intro"]), "",
                 "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
        lines += ["", zone, ""]
        return "\n".join(lines)
    esc = html.escape
    out = [f"<section lang=\"{lang}\">", f"<h2>{esc(str(text['title']))}</h2>", f"<p>{esc(str(text['intro']))}</p>",
           "<table>", "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead>", "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows]
    out += ["</tbody>", "</table>", f"<p>{esc(zone)}</p>", "</section>", ""]
    return "\n".join(out)
