"""``pseudovault serve``: the HTTP API.

``pseudovault serve [--host 127.0.0.1] [--port 8000] [--workers N]``:

1. initialises the embedded vault on first run, as ``pseudovault init`` would (the passphrase
   comes from ``PSEUDOVAULT_PASSPHRASE`` or is asked for now, before any worker starts), and
   migrates the stores of an existing one;
2. prints where the API and its interactive documentation are, and how to create an API key if
   there is none;
3. runs uvicorn: with one worker, in this process over the vault just opened; with more, as
   worker processes that each open the vault (``api.app:create_app_from_env``), the passphrase
   handed to them through this process's environment, never on a command line. Their metrics
   are aggregated through ``PROMETHEUS_MULTIPROC_DIR`` (a private temporary directory unless set).

SIGTERM or Ctrl-C stops accepting connections, lets requests in flight finish (up to 30 s), then
closes the vault; the exit status is 0.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from pseudovault.api.cli._base import ExitCode, app, cli_error, err, out, prompt_passphrase, run_command
from pseudovault.api.settings import ApiSettings
from pseudovault.vault.errors import InvalidInputError

__all__ = ["serve"]

GRACEFUL_SHUTDOWN_SECONDS = 30


class _Stopped(Exception):
    """SIGTERM or SIGINT arrived, after uvicorn's graceful shutdown (uvicorn raises the signal
    again once it has finished) or before it started listening."""


@contextmanager
def _clean_exit_on_signals() -> Iterator[None]:
    """Turn a stop signal into a normal return, so a graceful shutdown exits with status 0."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise _Stopped

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _load_api_settings() -> ApiSettings:
    try:
        return ApiSettings()
    except Exception as exc:  # pydantic ValidationError: name the variable, never its value
        names = []
        for e in getattr(exc, "errors", list)():
            loc = ".".join(str(p) for p in e.get("loc", ()))
            names.append(f"PSEUDOVAULT_{loc.upper()}: {e.get('msg')}")
        raise InvalidInputError("configuration", "; ".join(names) or "invalid settings") from None


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _ensure_can_listen(host: str, port: int) -> None:
    """Fail now, in one line and with exit code 10, when ``host:port`` cannot be listened on (in
    use, or not an address of this machine), before the vault is opened or a passphrase asked."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        cli_error(f"cannot listen on {host}:{port}: the host name does not resolve", ExitCode.CANNOT_LISTEN)
    family, kind, protocol, _name, address = addresses[0]
    with socket.socket(family, kind, protocol) as probe:
        if os.name == "posix":  # as the server sets it: a port in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or "refused")
            cli_error(f"cannot listen on {host}:{port}: {reason}", ExitCode.CANNOT_LISTEN)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Run the HTTP API; on a fresh machine, initialise the vault first."""
    import uvicorn

    from pseudovault.api.app import create_app
    from pseudovault.api.logs import configure_logging, logging_config
    from pseudovault.vault.bootstrap import init_vault

    with run_command():
        _ensure_can_listen(host, port)
        settings = _load_api_settings()
        # until the banner, warnings and errors only (a first run's migrations and key creation log
        # a dozen lines that would bury it), unless debugging was asked for
        configure_logging(settings.log_level if settings.log_level.lower() == "debug" else "warning")
        prompted: list[str] = []

        def ask(confirm: bool) -> str:
            value = prompt_passphrase(confirm)
            prompted.append(value)
            return value

        result = init_vault(settings, ask)
        if prompted:
            settings = settings.model_copy(update={"passphrase": SecretStr(prompted[-1])})
        vault = result.vault
        try:
            if result.created:
                out.print(f"Initialised a new vault in {settings.home_dir}", markup=False)
            base = _url(host, port)
            out.print(f"pseudovault API on {base}/v1  (interactive docs: {base}/docs, console: {base}/console)", markup=False)
            if vault.apikeys.count_active() == 0:
                out.print(
                    "No API key yet. Create one (the token is printed once, as the last word):\n"
                    "  pseudovault apikeys create --name my-service --scope subjects:write",
                    markup=False,
                )
            out.file.flush()  # the banner now, also when standard output is a pipe (a service's log)
            configure_logging(settings.log_level)
            log_config = logging_config(settings.log_level)
            common: dict[str, Any] = {
                "host": host,
                "port": port,
                "log_config": log_config,
                "access_log": False,
                "server_header": False,
                "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
            }
            if workers == 1:
                with _clean_exit_on_signals():
                    uvicorn.run(create_app(settings, vault=vault), **common)
                return
        finally:
            vault.close()
        _serve_workers(settings, workers, common)


def _serve_workers(settings: ApiSettings, workers: int, common: dict[str, Any]) -> None:
    import uvicorn

    if settings.passphrase is not None:
        os.environ["PSEUDOVAULT_PASSPHRASE"] = settings.passphrase.get_secret_value()
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="pseudovault-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        with _clean_exit_on_signals():
            uvicorn.run("pseudovault.api.app:create_app_from_env", factory=True, workers=workers, **common)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        err.print("pseudovault API stopped", markup=False)


