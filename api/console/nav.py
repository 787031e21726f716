"""The console's pages in the navigation: each shown to a key that may run one of the API
operations behind it (read from the routes: a ``checks`` key sees the check page only, an
``admin`` key the overview, retention, rights, audit and keys pages, none of them showing PII).
A key that may not see the overview's counts starts on the first page it may open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pseudovault.api.routers import audit, checks, erasure, keys, records, retention, rights, status, subjects

__all__ = ["PAGES", "NavPage", "navigation"]


@dataclass(frozen=True)
class NavPage:
    name: str
    path: str
    label: str
    operations: tuple[Callable[..., Any], ...]


PAGES: tuple[NavPage, ...] = (
    NavPage("overview", "/console/", "Overview", (status.vault_status,)),
    NavPage("check", "/console/check", "Check", (checks.check,)),
    NavPage("records", "/console/records", "Records", (records.list_records, records.find_records)),
    NavPage("subjects", "/console/subjects", "Subjects", (subjects.reveal_subject, erasure.request_erasure)),
    NavPage("retention", "/console/retention", "Retention", (retention.list_policies,)),
    NavPage("rights", "/console/rights", "Rights requests", (rights.list_requests,)),
    NavPage("audit", "/console/audit", "Audit", (audit.list_audit,)),
    NavPage("keys", "/console/keys", "Keys", (keys.key_status,)),
)


def navigation(may: Callable[[tuple[Callable[..., Any], ...]], bool]) -> list[NavPage]:
    """The pages a session may open: ``may(operations)`` says whether its key may run any of them."""
    return [page for page in PAGES if may(page.operations)]


def page_named(name: str) -> NavPage:
    return next(page for page in PAGES if page.name == name)
