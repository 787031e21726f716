"""OpenTelemetry: traces and metrics over OTLP/HTTP when ``PSEUDOVAULT_OTEL_ENDPOINT`` is set,
next to the Prometheus endpoint (which stays as it is).

What is traced: every HTTP request but ``/healthz``, ``/readyz`` and ``/metrics`` (the FastAPI
instrumentation: one span per request, named ``METHOD /route/{template}``), every SQL statement
on the data, keys and check-read stores (the SQLAlchemy instrumentation), and every lookup a ban
check sends to its store, which runs on connections of the check service's own, outside
SQLAlchemy (a ``pseudovault.checks.lookup`` client span: the database system, the statement's
text and how many pseudonyms it asked for; a check the miss filter answers sends none). What is measured: the
HTTP server's request durations and active requests, the stores' connection pools.

No data of the people in the vault reaches them, by construction rather than by filtering: span
names are route templates; the URL's path holds ids only and its query codes and ids only
(identifiers always travel in bodies); of the headers only ``User-Agent`` is recorded (the
instrumentation's default), never ``Authorization`` or a cookie; a SQL statement is recorded as its
text with placeholders, never its bound parameters; bodies are never read. About the caller, a span
holds what an access log would: its address and user agent. The suite checks it against a real
OTLP receiver (tests/api/test_api_telemetry.py).

Spans are sent in batches (every 5 s, and at shutdown); metrics every
``PSEUDOVAULT_OTEL_METRICS_SECONDS``. The exporter's own failures (a collector down) are logged by
OpenTelemetry and never fail a request. Needs ``pip install 'pseudovault[otel]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["Telemetry", "install_telemetry", "EXCLUDED_URLS"]

log = logging.getLogger(__name__)

#: requests that are not traced: probes and scrapes, which would drown the rest
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"  # searched in the full URL


@dataclass
class Telemetry:
    """What :func:`install_telemetry` started; :meth:`close` flushes and stops it."""

    tracer_provider: Any
    meter_provider: Any
    sqlalchemy: Any
    vault: Vault | None = None

    def close(self) -> None:
        try:
            self.sqlalchemy.uninstrument()
            if self.vault is not None:
                self.vault.checks.lookup_span = None
        finally:
            self.tracer_provider.shutdown()  # sends the spans still in the batch
            self.meter_provider.shutdown()


def install_telemetry(
    app: FastAPI,
    vault: Vault,
    *,
    endpoint: str | None = None,
    service_name: str = "pseudovault",
    metrics_seconds: float = 60.0,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
) -> Telemetry:
    """Trace and measure ``app`` and the vault's stores, exporting to the OTLP/HTTP collector at
    ``endpoint`` (``http://collector:4318``: ``/v1/traces`` and ``/v1/metrics`` are added), or to
    ``span_exporter`` / ``metric_reader``. Call once per process; :meth:`Telemetry.close` at shutdown."""
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise InvalidInputError(
            "PSEUDOVAULT_OTEL_ENDPOINT", "OpenTelemetry is not installed: pip install 'pseudovault[otel]'"
        ) from exc

    if span_exporter is None or metric_reader is None:
        if not endpoint:
            raise ValueError("an endpoint, or both an exporter and a reader")
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = endpoint.rstrip("/")
        span_exporter = span_exporter or OTLPSpanExporter(endpoint=f"{base}/v1/traces")
        metric_reader = metric_reader or PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{base}/v1/metrics"), export_interval_millis=metrics_seconds * 1000
        )
    resource = Resource.create({"service.name": service_name, "service.version": app.version})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    engines = [vault.data_engine, vault.keys_engine]
    if vault.check_read_engine is not None:
        engines.append(vault.check_read_engine)
    sqlalchemy = SQLAlchemyInstrumentor()
    # skip_dep_check: the instrumentation declares SQLAlchemy < 2.1 and would silently do nothing
    # on 2.1, whose engine events it uses are unchanged; the suite checks its spans arrive
    sqlalchemy.instrument(
        engines=engines,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        enable_commenter=False,
        skip_dep_check=True,
    )
    vault.checks.lookup_span = _lookup_spans(tracer_provider, (vault.check_read_engine or vault.data_engine).dialect.name)
    log.info("OpenTelemetry on: service %s", service_name)
    return Telemetry(tracer_provider, meter_provider, sqlalchemy, vault)


def _lookup_spans(tracer_provider: Any, system: str) -> Callable[[str, int], AbstractContextManager[Any]]:
    """The check service's lookup spans (see the module docstring): the statement's text with its
    placeholders, as the SQLAlchemy instrumentation records one, never its parameters."""
    from opentelemetry.trace import SpanKind

    tracer = tracer_provider.get_tracer("pseudovault.checks")

    def lookup_span(sql: str, pseudonyms: int) -> AbstractContextManager[Any]:
        return cast(AbstractContextManager[Any], tracer.start_as_current_span(
            "pseudovault.checks.lookup",
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": sql, "pseudovault.check.pseudonyms": pseudonyms},
        ))

    return lookup_span
