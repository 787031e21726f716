"""Reading a policy file (TOML): the strict reader that names the line of every problem, the
shipped presets (``vault/retention/presets.toml``) and the catalogue built from them, and the
operator's file over the presets. The policies themselves are :mod:`vault.retention.policies`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pseudovault.vault.ids import CODE
from pseudovault.vault.retention.categories import FROM_CREATION, TRIGGERS, CategoryCatalogue
from pseudovault.vault.retention.periods import Period, PeriodError, parse_period
from pseudovault.vault.retention.policies import (
    _HEADER,
    _KEY,
    _SPLIT,
    ACTIONS,
    ON_ERASURE,
    ON_WITHDRAWAL,
    PRESETS_SOURCE,
    RECORD_ACTIONS,
    SUBJECT_ACTIONS,
    Policy,
    PolicyFileError,
    PolicySet,
)

__all__ = ["CATALOGUE", "PRESETS", "PRESETS_PATH", "load_policies", "parse_policies", "shipped_presets"]


#: the shipped presets (package data, see pyproject.toml)
PRESETS_PATH = Path(__file__).resolve().parent / "presets.toml"





_TOP_KEYS = frozenset({"version", "timezone", "policies"})


_POLICY_KEYS = frozenset(
    {
        "name",
        "period",
        "trigger",
        "basis",
        "action",
        "enabled",
        "on_withdrawal",
        "on_erasure",
        "review_interval",
        "restricted_period",
        "for_records",
        "default_reason_code",
        "aliases",
        "optional",
        "repealed",
        "note",
        "ceiling",
        "per_entry",
    }
)


#: attributes of a category, not of its policy: fixed by the shipped presets
_CATALOGUE_KEYS = ("for_records", "default_reason_code", "aliases", "optional", "repealed")


_MAX_TEXT = 500


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _SPLIT.finditer(text))


class _LineIndex:
    """Where each table and key of a TOML text is first defined (1-based line numbers)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        open_quote: str | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            if open_quote is not None:  # inside a multi-line string
                if raw.count(open_quote) % 2 == 1:
                    open_quote = None
                continue
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and not line.startswith("[["):
                header = _HEADER.fullmatch(line)
                if header is not None:
                    table = _split_key(header.group(1))
                    self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key is None:
                continue
            path = table + _split_key(key.group(1))
            for end in range(len(table) + 1, len(path) + 1):
                self._lines.setdefault(path[:end], number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    open_quote = quote
                    break

    def line(self, *path: str) -> int | None:
        """The line of ``path``, or of its nearest enclosing table or key; None if none is known."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None


_TOML_LOCATION = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def _text(value: object, *, what: str, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValueError(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")  # noqa: TRY004 - a value in a file, reported with its line
    value = value.strip()
    if not value:
        if required:
            raise ValueError(f"{what} is missing (empty)")
        return None
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{what} must be at most {_MAX_TEXT} characters")
    if not value.isprintable():
        raise ValueError(f"{what} must be one line of printable text")
    return value


def _choice(value: object, allowed: tuple[str, ...], *, what: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if value is None:
        raise ValueError(f"{what} is missing; one of: {', '.join(allowed)}")
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of: {', '.join(allowed)}")
    return value


def _flag(value: object, *, what: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false")  # noqa: TRY004 - reported with its line
    return value


def _period(value: object, *, what: str) -> Period | None:
    if value is None:
        return None
    try:
        return parse_period(value)
    except PeriodError as exc:
        raise ValueError(f"{what}: {exc}") from None


class _BadKey(ValueError):
    """A bad value of one key (``key``), for the error's line."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key


class _Reader:
    """Reads one file's policies, turning each failure into a PolicyFileError with a line."""

    def __init__(self, text: str, source: str, catalogue: PolicySet | None) -> None:
        self.source = source
        self.catalogue = catalogue
        self.index = _LineIndex(text)
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            found = _TOML_LOCATION.search(message)
            if found and found.group(1):
                line: int | None = int(found.group(1))
            else:  # "at end of document": the last line
                line = max(1, len(text.splitlines())) if found else None
            reason = _TOML_LOCATION.sub("", message).strip() or "syntax error"
            raise PolicyFileError(source, line, f"not valid TOML: {reason}") from None

    def fail(self, reason: str, *path: str) -> PolicyFileError:
        return PolicyFileError(self.source, self.index.line(*path), reason)

    def read(self) -> PolicySet:
        for key in self.data:
            if key not in _TOP_KEYS:
                raise self.fail(f"unknown key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})", key)
        version = self.data.get("version", 1)
        if version != 1 or isinstance(version, bool):
            raise self.fail("version must be 1", "version")
        timezone = self.data.get("timezone", "UTC" if self.catalogue is None else self.catalogue.timezone)
        if not isinstance(timezone, str):
            raise self.fail("timezone must be a string such as \"UTC\" or \"Asia/Seoul\"", "timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(f"unknown time zone {timezone!r}", "timezone") from None
        tables = self.data.get("policies", {})
        if not isinstance(tables, dict):
            raise self.fail("policies must be tables: [policies.<category>]", "policies")
        if self.catalogue is None and not tables:
            raise self.fail("the presets define no policy")
        policies: dict[str, Policy] = {p.category: p for p in (self.catalogue or ())}
        for code, table in tables.items():
            policies[code] = self.policy(code, table)
        aliases: dict[str, str] = {}
        for policy in policies.values():
            for alias in policy.aliases:
                if alias in policies or alias in aliases:
                    raise self.fail(f"alias {alias!r} of {policy.category} is already a category or alias",
                                    "policies", policy.category, "aliases")
                aliases[alias] = policy.category
        return PolicySet(policies, timezone=timezone, source=self.source)

    def policy(self, code: str, table: object) -> Policy:
        where = ("policies", code)
        if not CODE.fullmatch(code):
            raise self.fail(f"{code!r} is not a category code ([a-z][a-z0-9_]{{0,39}})", *where)
        preset = None
        if not isinstance(table, dict):
            raise self.fail(f"policy {code} must be a table: [policies.{code}]", *where)
        if self.catalogue is not None:
            preset = self.catalogue.get(code)
            if preset is None and "name" not in table:
                # a new category of the operator's names itself; without a name it is a typo
                raise self.fail(
                    f"unknown category {code!r}; the categories are: {', '.join(self.catalogue.codes())} "
                    "(a new category of your own needs a name)", *where
                )
        for key in table:
            if key not in _POLICY_KEYS:
                raise self.fail(f"policy {code}: unknown key {key!r}", *where, key)
        current = "policy"
        try:
            current = "name"
            name = _text(table.get("name"), what="name", required=preset is None) or (preset.name if preset else code)
            current = "trigger"
            trigger = _choice(table.get("trigger"), TRIGGERS, what="trigger")
            current = "basis"
            basis = _text(table.get("basis"), what="basis (the legal basis)", required=True)
            current = "action"
            action = _choice(table.get("action"), ACTIONS, what="action")
            current = "period"
            period = _period(table.get("period"), what="period")
            current = "review_interval"
            review_interval = _period(table.get("review_interval"), what="review_interval")
            current = "restricted_period"
            restricted_period = _period(table.get("restricted_period"), what="restricted_period")
            current = "enabled"
            enabled = _flag(table.get("enabled"), what="enabled", default=True)
            current = "on_withdrawal"
            on_withdrawal = _choice(table.get("on_withdrawal"), ON_WITHDRAWAL, what="on_withdrawal", default="keep")
            current = "on_erasure"
            on_erasure = _choice(table.get("on_erasure"), ON_ERASURE, what="on_erasure", default="destroy")
            current = "note"
            note = _text(table.get("note"), what="note", required=False)
            current = "ceiling"
            ceiling = _period(table.get("ceiling"), what="ceiling")
            current = "per_entry"
            per_entry = _flag(table.get("per_entry"), what="per_entry", default=False) or None
            catalogue = self.catalogue_attributes(code, table, preset)
        except _BadKey as exc:
            raise self.fail(f"policy {code}: {exc}", *where, exc.key) from None
        except ValueError as exc:
            raise self.fail(f"policy {code}: {exc}", *where, current) from None
        assert basis is not None
        for_records = catalogue["for_records"]
        if period is None and action != "review":
            raise self.fail(f"policy {code}: period is missing (only a review may go without one)", *where, "period")
        allowed = RECORD_ACTIONS if for_records else SUBJECT_ACTIONS
        if action not in allowed:
            kind = "anti-abuse records" if for_records else "subjects' data"
            raise self.fail(f"policy {code}: action {action} does not apply to {kind}; use one of: {', '.join(allowed)}",
                            *where, "action")
        if action == "restrict" and restricted_period is None:
            raise self.fail(f"policy {code}: action restrict needs restricted_period (how long separated data is kept)",
                            *where, "action")
        if action != "restrict" and restricted_period is not None:
            raise self.fail(f"policy {code}: restricted_period applies to action restrict only", *where, "restricted_period")
        if action == "review" and review_interval is None:
            raise self.fail(f"policy {code}: action review needs review_interval", *where, "action")
        if action != "review" and review_interval is not None:
            raise self.fail(f"policy {code}: review_interval applies to action review only", *where, "review_interval")
        if ceiling is not None and trigger in FROM_CREATION:
            raise self.fail(f"policy {code}: ceiling applies to a period that waits for its event; "
                            f"trigger {trigger} runs from collection and never waits", *where, "ceiling")
        if ceiling is not None and action == "review":
            raise self.fail(f"policy {code}: ceiling does not apply to action review", *where, "ceiling")
        if per_entry and (trigger != "collected" or action != "shred_subject" or for_records):
            raise self.fail(f"policy {code}: per_entry applies to subjects' data kept from collection and then "
                            "destroyed (trigger = \"collected\", action = \"shred_subject\")", *where, "per_entry")
        if on_withdrawal == "separate" and for_records:
            raise self.fail(f"policy {code}: on_withdrawal = \"separate\" applies to subjects' data only",
                            *where, "on_withdrawal")
        return Policy(
            category=code,
            name=name,
            period=period,
            trigger=trigger,
            basis=basis,
            action=action,
            enabled=enabled,
            on_withdrawal=on_withdrawal,
            on_erasure=on_erasure,
            review_interval=review_interval,
            restricted_period=restricted_period,
            note=note,
            ceiling=ceiling,
            per_entry=per_entry,
            line=self.index.line(*where),
            **catalogue,
        )

    def catalogue_attributes(self, code: str, table: Mapping[str, Any], preset: Policy | None) -> dict[str, Any]:
        """for_records, default_reason_code, aliases, optional, repealed: read from the presets,
        and in an operator's file either absent or equal to the preset's."""

        def flag(key: str) -> bool:
            try:
                return _flag(table.get(key), what=key, default=False)
            except ValueError as exc:
                raise _BadKey(key, str(exc)) from None

        values: dict[str, Any] = {
            "for_records": flag("for_records"),
            "default_reason_code": table.get("default_reason_code"),
            "aliases": table.get("aliases", []),
            "optional": flag("optional"),
            "repealed": table.get("repealed"),
        }
        reason_code = values["default_reason_code"]
        if reason_code is not None and (not isinstance(reason_code, str) or not CODE.fullmatch(reason_code)):
            raise _BadKey("default_reason_code", "default_reason_code must match [a-z][a-z0-9_]{0,39}")
        aliases = values["aliases"]
        if not isinstance(aliases, list) or not all(isinstance(a, str) and CODE.fullmatch(a) for a in aliases):
            raise _BadKey("aliases", "aliases must be a list of codes ([a-z][a-z0-9_]{0,39})")
        values["aliases"] = tuple(aliases)
        repealed = values["repealed"]
        if repealed is not None and (not isinstance(repealed, date) or isinstance(repealed, datetime)):
            raise _BadKey("repealed", "repealed must be a date (e.g. repealed = 2023-09-15)")
        if preset is None:
            return values
        for key in _CATALOGUE_KEYS:
            if key in table and values[key] != getattr(preset, key):
                raise _BadKey(key, f"{key} is fixed by the category catalogue (the shipped presets)")
            values[key] = getattr(preset, key)
        return values


def parse_policies(text: str, *, source: str = "<string>", catalogue: PolicySet | None = None) -> PolicySet:
    """The policies of ``text``. With ``catalogue`` (the presets) it is an operator's file over
    it; without, it defines the catalogue. PolicyFileError names the line of any problem."""
    return _Reader(text, source, catalogue).read()


@lru_cache(maxsize=1)
def shipped_presets() -> PolicySet:
    """The presets shipped in ``vault/retention/presets.toml``: the category catalogue."""
    text = PRESETS_PATH.read_text(encoding="utf-8")
    return parse_policies(text, source=PRESETS_SOURCE)


#: The shipped presets' categories, as plain data (one mapping per category).
PRESETS: tuple[Mapping[str, Any], ...] = shipped_presets().catalogue_entries()


#: The category catalogue built from :data:`PRESETS`.
CATALOGUE = CategoryCatalogue(PRESETS)


def load_policies(path: str | Path | None = None) -> PolicySet:
    """The policies in force: the presets, overridden by the operator's file at ``path`` if given.

    An unreadable file or invalid content is PolicyFileError (file name, line, reason).
    """
    presets = shipped_presets()
    if path is None:
        return presets
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise PolicyFileError(str(path), None, f"cannot read the policy file ({reason})") from None
    return parse_policies(text, source=str(path), catalogue=presets)
