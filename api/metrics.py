"""Prometheus metrics of the API, served at ``/metrics``.

=========================================  =========  ==========================================
metric                                     type       labels
=========================================  =========  ==========================================
pseudovault_http_requests_total            counter    method, route (the template), status
pseudovault_http_request_duration_seconds  histogram  method, route
pseudovault_shreds_total                   counter    outcome: shredded | already_shredded
pseudovault_check_decisions_total          counter    decision: allow | review | deny
pseudovault_retention_sweeps_total         counter    outcome: completed | refused | failed | stopped
pseudovault_retention_swept_items_total    counter    outcome: shredded, deleted, separated, ... (the
                                                      sweeper's outcomes)
pseudovault_lookup_key_versions_enabled    gauge      (none): lookup key versions checks derive
                                                      pseudonyms under (each check's HMAC work
                                                      grows with it); the latest any worker set
pseudovault_check_filter_current           gauge      (none): 1 while checks use the miss filter, 0
                                                      while they query the store (not built yet,
                                                      or behind its staleness bound); with several
                                                      workers, the lowest of them
pseudovault_check_filter_age_seconds       gauge      (none): since the filter last held every
                                                      committed ban's pseudonyms (+Inf: not built);
                                                      with several workers, the highest
pseudovault_check_filter_pseudonyms        gauge      (none): pseudonyms the filter holds; with
                                                      several workers, the highest
=========================================  =========  ==========================================

A worker sets ``pseudovault_lookup_key_versions_enabled`` when it answers a scrape, from its lookup
keys as of then (they follow the key store within ``PSEUDOVAULT_LOOKUP_REFRESH_SECONDS``); alert
when it stays above 3 (:data:`~pseudovault.vault.crypto.lookup.ADVISED_ENABLED_VERSIONS`).

The three ``pseudovault_check_filter_*`` gauges exist when the check miss filter is on
(``PSEUDOVAULT_CHECK_FILTER``); each worker sets them every second and when it answers a scrape,
and a worker that stops leaves them (:meth:`Metrics.close`).

Labels carry route templates (``/v1/subjects/{subject_id}``), never raw paths, so neither ids nor
anything a caller typed become label values, and cardinality stays bounded; requests that match
no route are counted under ``route="<unmatched>"``.

Each app has its own registry (several apps in one process, as in tests, do not collide). With
several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them
(``pseudovault serve --workers N`` does so) and ``/metrics`` aggregates every worker's values.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from pseudovault.vault.checks.missfilter import FilterState

__all__ = ["Metrics", "CONTENT_TYPE_LATEST", "UNMATCHED_ROUTE"]

UNMATCHED_ROUTE = "<unmatched>"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The API's metrics; ``check_filter``: whether the vault runs the check miss filter (its
    gauges exist only then)."""

    def __init__(self, *, check_filter: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[str, Any] = {}
        self.requests = Counter(
            "pseudovault_http_requests_total",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pseudovault_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.shreds = Counter(
            "pseudovault_shreds_total",
            "Subjects shredded through the API.",
            ["outcome"],
            registry=self.registry,
        )
        self.check_decisions = Counter(
            "pseudovault_check_decisions_total",
            "Ban check decisions answered through the API.",
            ["decision"],
            registry=self.registry,
        )

        self.sweeps = Counter(
            "pseudovault_retention_sweeps_total",
            "Rounds of the in-server periodic retention sweep, by how they ended.",
            ["outcome"],
            registry=self.registry,
        )
        self.swept_items = Counter(
            "pseudovault_retention_swept_items_total",
            "Retention items the in-server periodic sweep applied, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.key_maintenance = Counter(
            "pseudovault_key_maintenance_total",
            "Rounds of the in-server key maintenance (backup horizon), by what they did.",
            ["outcome"],
            registry=self.registry,
        )

        self.lookup_versions = Gauge(
            "pseudovault_lookup_key_versions_enabled",
            "Lookup key versions ban checks derive pseudonyms under.",
            registry=self.registry,
            multiprocess_mode="livemostrecent",
        )

        self.filter_gauges: tuple[Gauge, Gauge, Gauge] | None = None
        if check_filter:
            self.filter_gauges = (
                Gauge(
                    "pseudovault_check_filter_current",
                    "1 while ban checks answer misses from the in-process filter, 0 while they query the store.",
                    registry=self.registry,
                    multiprocess_mode="livemin",
                ),
                Gauge(
                    "pseudovault_check_filter_age_seconds",
                    "Seconds since the check miss filter last held every committed pseudonym (+Inf: not built).",
                    registry=self.registry,
                    multiprocess_mode="livemax",
                ),
                Gauge(
                    "pseudovault_check_filter_pseudonyms",
                    "Pseudonyms the check miss filter holds.",
                    registry=self.registry,
                    multiprocess_mode="livemax",
                ),
            )

    def observe_filter(self, state: FilterState) -> None:
        """The check miss filter's state (vault.checks.missfilter.MissFilter.state)."""
        if self.filter_gauges is None:
            return
        current, age, pseudonyms = self.filter_gauges
        current.set(1 if state.current else 0)
        age.set(state.age_seconds)
        pseudonyms.set(state.pseudonyms)

    def observe_lookup_versions(self, enabled: int) -> None:
        """How many lookup key versions this worker's checks use now."""
        self.lookup_versions.set(enabled)

    def close(self) -> None:
        """This process leaves the live gauges (a worker that stops: its last filter state no
        longer counts in the lowest ``current`` or highest age). A worker killed outright cannot
        do this; its last values stay in ``PROMETHEUS_MULTIPROC_DIR`` until the server restarts
        (``pseudovault serve --workers N`` makes a new directory each time)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # untyped module

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # the labelled children are kept: ``labels()`` costs more than the count itself, and
        # the label sets are few (the route templates, their methods and statuses)
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_decision(self, decision: str) -> None:
        """One more check answered with ``decision`` (``pseudovault_check_decisions_total``)."""
        child = self._decision_children.get(decision)
        if child is None:
            child = self._decision_children[decision] = self.check_decisions.labels(decision)
        child.inc()

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client's multiprocess module is untyped
            return generate_latest(registry)
        return generate_latest(self.registry)

    def __repr__(self) -> str:
        return "Metrics()"
