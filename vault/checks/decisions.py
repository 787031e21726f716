"""Ban-check decisions: what a check answers, and the policy that maps matches to ``allow``/``review``/``deny``.

A check (vault.checks) finds the records its identifiers match. Each *hit* is one record matched
through one identifier kind, either ``exact`` (the same normalized identifier) or ``lookalike``
(the same UTS #39 skeleton, a signal for review only). The :class:`DecisionPolicy` maps every hit
to a decision by its first matching rule; the check's decision is the strongest over all hits
(``deny`` > ``review`` > ``allow``), ``allow`` when nothing matched. A record under review gives
at most ``review``; a look-alike hit never gives more than ``review`` either, whatever a policy
says (a look-alike is never an identity).

Rules match on ``category`` (a catalogue code), ``kind`` (an identifier kind; ``custom`` stands
for every ``custom:<name>``), ``severity`` and ``match``; ``*`` matches anything. The default
policy (:data:`DEFAULT_RULES`) is::

    match = lookalike                 -> review   (a look-alike is a signal, not an identity)
    kind  = ip                        -> review   (addresses are shared: NAT, carriers, cafes)
    severity = critical | high        -> deny     (exact match on any other kind)
    *                                 -> review   (medium and low)

A policy file is TOML::

    fallback = "review"          # when no rule matches a hit (optional; default "review")

    [[rule]]
    kind = "ip"
    decision = "review"

    [[rule]]
    category = "fraudulent_transaction"
    severity = "high"
    match = "exact"
    decision = "deny"

Errors in a file are :class:`vault.errors.InvalidInputError` on field ``decision_policy`` naming
the file, the line and the field, and are raised when the policy is loaded (at start-up).

A :class:`Decision` carries record ids, categories, reason codes, severities, statuses and
identifier kinds: never an identifier, never a pseudonym. Hits and misses have the same shape.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers.model import BUILTIN_KINDS, CUSTOM_PREFIX
from pseudovault.vault.records.views import SEVERITIES
from pseudovault.vault.retention.categories import CategoryCatalogue
from pseudovault.vault.retention.policy_file import CATALOGUE
from pseudovault.vault.views import View

__all__ = [
    "DECISIONS",
    "MATCH_TYPES",
    "Rule",
    "DecisionPolicy",
    "DEFAULT_RULES",
    "Match",
    "Decision",
    "strongest",
]

DECISIONS = ("allow", "review", "deny")
MATCH_TYPES = ("exact", "lookalike")
_RANK = {name: rank for rank, name in enumerate(DECISIONS)}
_RULE_KEYS = ("category", "kind", "severity", "match", "decision")
_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def strongest(decisions: Iterable[str]) -> str:
    """The strongest of ``decisions`` (deny > review > allow); ``allow`` for none."""
    best = "allow"
    for decision in decisions:
        if _RANK[decision] > _RANK[best]:
            best = decision
    return best


@dataclass(frozen=True)
class Rule(View):
    """One policy rule; ``*`` matches anything. ``kind = "custom"`` matches every custom kind."""

    decision: str
    category: str = "*"
    kind: str = "*"
    severity: str = "*"
    match: str = "*"

    def matches(self, category: str, kind: str, severity: str, match: str) -> bool:
        if self.category != "*" and self.category != category:
            return False
        if self.kind != "*" and self.kind != kind and not (self.kind == "custom" and kind.startswith(CUSTOM_PREFIX)):
            return False
        if self.severity != "*" and self.severity != severity:
            return False
        return self.match == "*" or self.match == match


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("review", match="lookalike"),
    Rule("review", kind="ip"),
    Rule("deny", severity="critical", match="exact"),
    Rule("deny", severity="high", match="exact"),
    Rule("review"),
)


def _valid_kind(kind: str) -> bool:
    if kind in ("*", "custom") or kind in BUILTIN_KINDS:
        return True
    return kind.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.fullmatch(kind[len(CUSTOM_PREFIX) :]) is not None


def _check_rule_values(values: Mapping[str, Any], catalogue: CategoryCatalogue) -> list[tuple[str, str]]:
    """Problems of one rule as (field, reason) pairs; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    for key in values:
        if key not in _RULE_KEYS:
            problems.append((str(key), f"unknown field; a rule has {', '.join(_RULE_KEYS)}"))
    for key in _RULE_KEYS:
        value = values.get(key, "*" if key != "decision" else None)
        if value is None:
            problems.append((key, "is required"))
            continue
        if not isinstance(value, str):
            problems.append((key, "must be a string"))
            continue
        if key == "decision" and value not in DECISIONS:
            problems.append((key, f"must be one of {', '.join(DECISIONS)}"))
        elif key == "category" and value != "*" and value not in catalogue:
            problems.append((key, f"unknown category {value!r}; one of {', '.join(catalogue.codes())} or *"))
        elif key == "kind" and not _valid_kind(value):
            problems.append((key, f"unknown kind {value!r}; one of {', '.join(BUILTIN_KINDS)}, custom, custom:<name> or *"))
        elif key == "severity" and value != "*" and value not in SEVERITIES:
            problems.append((key, f"must be one of {', '.join(SEVERITIES)} or *"))
        elif key == "match" and value != "*" and value not in MATCH_TYPES:
            problems.append((key, f"must be one of {', '.join(MATCH_TYPES)} or *"))
    return problems


class _Lines:
    """Finds the line of the n-th ``[[rule]]`` table, and of a key inside it, in TOML source."""

    _HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
    _TABLE = re.compile(r"^\s*\[")

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers = [i for i, line in enumerate(self._lines) if self._HEADER.match(line)]

    def rule(self, index: int) -> int | None:
        return self._headers[index] + 1 if index < len(self._headers) else None

    def key(self, index: int, key: str) -> int | None:
        start = self.rule(index)
        if start is None:
            return None
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for i in range(start, len(self._lines)):
            line = self._lines[i]
            if self._TABLE.match(line):
                break
            if pattern.match(line):
                return i + 1
        return start

    def top_level(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i, line in enumerate(self._lines):
            if self._TABLE.match(line):
                return None
            if pattern.match(line):
                return i + 1
        return None


class DecisionPolicy:
    """Rules from (category, kind, severity, match) to a decision; the first matching rule wins."""

    __slots__ = ("_rules", "_fallback", "_memo", "_source")

    def __init__(
        self,
        rules: Sequence[Rule] = DEFAULT_RULES,
        *,
        fallback: str = "review",
        catalogue: CategoryCatalogue = CATALOGUE,
        source: str = "<default>",
    ) -> None:
        rules = tuple(rules)
        for index, rule in enumerate(rules):
            if not isinstance(rule, Rule):
                raise TypeError("rules must be Rule objects")
            problems = _check_rule_values(rule.as_dict(), catalogue)
            if problems:
                field, reason = problems[0]
                raise InvalidInputError("decision_policy", f"{source}: rule {index + 1}: {field}: {reason}")
        if fallback not in DECISIONS:
            raise InvalidInputError("decision_policy", f"{source}: fallback: must be one of {', '.join(DECISIONS)}")
        self._rules = rules
        self._fallback = fallback
        self._source = source
        self._memo: dict[tuple[str, str, str, str], str] = {}

    @classmethod
    def default(cls) -> DecisionPolicy:
        return cls()

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>", catalogue: CategoryCatalogue = CATALOGUE) -> DecisionPolicy:
        """A policy from TOML source; InvalidInputError naming ``source``, the line and the field."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # its message says "(at line N, column M)"
            raise InvalidInputError("decision_policy", f"{source}: not valid TOML: {exc}") from None
        lines = _Lines(text)
        for key in data:
            if key not in ("rule", "fallback"):
                where = lines.top_level(key)
                at = f" (line {where})" if where else ""
                raise InvalidInputError("decision_policy", f"{source}{at}: unknown key {key!r}; expected rule, fallback")
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
            raise InvalidInputError("decision_policy", f"{source}: 'rule' must be an array of tables ([[rule]])")
        if not raw_rules:
            raise InvalidInputError("decision_policy", f"{source}: no [[rule]] tables")
        fallback = data.get("fallback", "review")
        if not isinstance(fallback, str) or fallback not in DECISIONS:
            where = lines.top_level("fallback")
            at = f" (line {where})" if where else ""
            raise InvalidInputError("decision_policy", f"{source}{at}: fallback: must be one of {', '.join(DECISIONS)}")
        rules = []
        for index, raw in enumerate(raw_rules):
            problems = _check_rule_values(raw, catalogue)
            if problems:
                field, reason = problems[0]
                line = lines.key(index, field)
                at = f" line {line}" if line else ""
                raise InvalidInputError("decision_policy", f"{source}:{at} rule {index + 1}: {field}: {reason}")
            rules.append(Rule(**{k: raw[k] for k in _RULE_KEYS if k in raw}))
        return cls(rules, fallback=fallback, catalogue=catalogue, source=source)

    @classmethod
    def from_file(cls, path: str | Path, *, catalogue: CategoryCatalogue = CATALOGUE) -> DecisionPolicy:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError("decision_policy", f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        except UnicodeDecodeError:
            raise InvalidInputError("decision_policy", f"{path}: not UTF-8 text") from None
        return cls.from_toml(text, source=str(path), catalogue=catalogue)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    @property
    def fallback(self) -> str:
        return self._fallback

    @property
    def source(self) -> str:
        return self._source

    def decide(self, category: str, kind: str, severity: str, match: str, *, under_review: bool = False) -> str:
        """The decision for one hit. Look-alike hits and records under review give at most ``review``."""
        key = (category, kind, severity, match)
        decision = self._memo.get(key)
        if decision is None:
            decision = next(
                (rule.decision for rule in self._rules if rule.matches(category, kind, severity, match)),
                self._fallback,
            )
            if match == "lookalike" and decision == "deny":
                decision = "review"
            if len(self._memo) < 4096:
                self._memo[key] = decision
        if under_review and decision == "deny":
            return "review"
        return decision

    def as_dict(self) -> dict[str, Any]:
        return {"source": self._source, "fallback": self._fallback, "rules": [r.as_dict() for r in self._rules]}

    def __repr__(self) -> str:
        return f"DecisionPolicy(source={self._source!r}, rules={len(self._rules)})"


@dataclass(frozen=True)
class Match(View):
    """A record a check matched: codes and kinds only."""

    record_id: str
    category: str
    reason_code: str
    severity: str
    status: str
    matched_kinds: tuple[str, ...]
    match: str

    def as_dict(self) -> dict[str, Any]:
        # View.as_dict spelled out (every check's answer builds it); a test holds the two equal
        return {
            "record_id": self.record_id,
            "category": self.category,
            "reason_code": self.reason_code,
            "severity": self.severity,
            "status": self.status,
            "matched_kinds": list(self.matched_kinds),
            "match": self.match,
        }


@dataclass(frozen=True)
class Decision(View):
    """A check's answer: ``decision``, the matched records, and the kinds that were checked."""

    decision: str
    matches: tuple[Match, ...]
    checked_kinds: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        # View.as_dict spelled out (every check's answer builds it); a test holds the two equal
        return {
            "decision": self.decision,
            "matches": [match.as_dict() for match in self.matches],
            "checked_kinds": list(self.checked_kinds),
        }
