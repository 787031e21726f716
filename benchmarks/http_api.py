"""The HTTP API under load: single ban checks next to a bare FastAPI endpoint, and batches beside them.

Setup (not measured, but timed and reported): a fresh ``PSEUDOVAULT_HOME`` in a temporary
directory, a cheap Argon2 KDF (the keyring is opened once per process; the KDF is not what is
measured), the vault initialised and populated with N records (default 1,000,000; ``--quick``
10,000) through the vault's own bulk import (:func:`vault.records.bulk.import_records`: a JSON Lines
file, batches of 10,000; every record bans one email address, category
``fraudulent_transaction``), and one API key of scope ``checks``. The per-key rate limit is set
high (1,000,000 per second) so that the limiter runs on every request but never refuses one.

Measured, per engine (SQLite, and PostgreSQL when ``PSEUDOVAULT_BENCH_POSTGRES_URL`` or
``PSEUDOVAULT_TEST_POSTGRES_URL`` names a server: throwaway databases are made beside it; the
records imported into each) and for 1 and 2 worker processes (``--workers``), both servers
started as subprocesses on free loopback ports and kept up together, so that their rounds
interleave (``--rounds``, default 5, ``--quick`` 3; bare first in odd rounds, the check first in
even ones) and machine noise falls on both alike:

* ``pseudovault serve --workers W`` (the ``pseudovault`` command of this interpreter): single checks
  (``POST /v1/checks``, one email per signup, 10% of them banned) at 32 concurrent keep-alive
  connections: requests per second, p50 and p99 latency; with the check miss filter on
  (``PSEUDOVAULT_CHECK_FILTER=true``), as a deployment that checks every signup would run;
* a bare FastAPI app whose one endpoint returns a constant, served by uvicorn the same way
  (``uvicorn.run``, the same worker count, no access log, no server header), under the same
  load generator in the same run: the ceiling the framework and server allow on this machine;
* single checks again while a separate client sends batches of 100 identifiers (100 signups of
  one email each) back to back: the batches' p50/p99 and the single checks' p99 beside them,
  next to the single checks' p99 alone (a batch must not stall the other requests).

Each server, and each run of the load generator, is started in a session of its own, as a service
manager starts a daemon (see :func:`sched_autogroup` for why it matters on Linux).

Load generator: ``wrk`` (``-t2 -c32``, a Lua script cycling through the request bodies) when it
is installed, else an asyncio httpx client in a separate process (32 tasks over 32 keep-alive
connections). Loopback only; every run is bounded by ``--seconds`` (``--quick``: 1) and a
request cap; the servers are stopped (SIGTERM, then SIGKILL after 30 s) whatever happens.

    python benchmarks/http_api.py [--quick] [--records N] [--seconds S] [--rounds R] [--workers 1,2]
                                  [--engines sqlite,postgres] [--loadgen wrk|httpx]

The last line printed is JSON. Per engine E and worker count N: the rounds' ranges of throughput
(``E_wN_bare_rps``, ``E_wN_check_rps``: ``[min, median, max]``) and the check's p99
(``E_wN_check_p99_ms``, and the bare endpoint's ``E_wN_bare_p99_ms`` beside it), and the host's
``sched_autogroup`` setting (see :func:`sched_autogroup`: it moves the p99 of the checks that query
a PostgreSQL server on the same host); ratios under keys ending in ``_ratio``: ``E_wN_check_vs_bare_ratio`` (the
median of the rounds' check / bare throughput; aim >= 0.6), ``E_wN_check_vs_bare_min_ratio`` and
``_max_ratio`` (its range), and ``E_wN_check_p99_with_batches_vs_alone_ratio``. On Linux, also the
servers' own CPU time per request in each round (``E_wN_bare_cpu_us_per_request``,
``E_wN_check_cpu_us_per_request``: the server's process and its workers, read from ``/proc``
around each run; not the load generator's, nor a PostgreSQL server's) and the median of the
rounds' bare / check CPU per request, ``E_wN_check_vs_bare_cpu_ratio``: on a host shared with
the load generator (and the database) it moves far less from run to run than throughput does.

(Named ``http_api.py``: a script named ``http.py`` would shadow the standard library's ``http``
package for every script of this folder.)
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent
sys.path.insert(0, str(_REPO))
sys.path.insert(0, str(_HERE))

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from _common import emit, postgres_stores, postgres_url  # noqa: E402

CONCURRENCY = 32
BATCH_IDENTIFIERS = 100
HIT_EVERY = 10  # one single-check body in ten names a banned email
BODIES = 2000  # distinct single-check bodies the load generator cycles through
MAX_REQUESTS = 2_000_000  # a cap on any one httpx run, whatever the duration
PASSPHRASE = "benchmark passphrase, not a secret"

BARE_APP = '''
from fastapi import FastAPI

app = FastAPI()
ANSWER = {"decision": "allow", "matches": [], "checked_kinds": ["email"]}


@app.post("/bare")
async def bare() -> dict:
    return ANSWER
'''

WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  i = i + 1
  return wrk.format(nil, "%(path)s", nil, bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_ms\\": %%f, \\"p99_ms\\": %%f, \\"errors\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _email(i: int) -> str:
    return f"user{i}@bench.example"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(home: Path, data_url: str | None = None, keys_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSEUDOVAULT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    if data_url and keys_url:
        env.update(PSEUDOVAULT_DATA_URL=data_url, PSEUDOVAULT_KEYS_URL=keys_url)
    env.update(PSEUDOVAULT_CHECK_FILTER="true")  # misses answered in process (1 s bound), either engine
    env.update(
        PSEUDOVAULT_HOME=str(home),
        PSEUDOVAULT_PASSPHRASE=PASSPHRASE,
        PSEUDOVAULT_KDF_TIME_COST="1",
        PSEUDOVAULT_KDF_MEMORY_KIB="8",
        PSEUDOVAULT_KDF_PARALLELISM="1",
        PSEUDOVAULT_RATE_LIMIT_PER_SECOND="1000000",
        PSEUDOVAULT_RATE_LIMIT_BURST="1000000",
        PSEUDOVAULT_LOG_LEVEL="warning",
        PYTHONPATH=os.pathsep.join(p for p in (str(_REPO), env_path(home)) if p),
    )
    return env


def env_path(home: Path) -> str:
    return str(home / "bare")


# --- setup --------------------------------------------------------------------------------------


def populate(home: Path, records: int, data_url: str | None = None, keys_url: str | None = None) -> tuple[str, float]:
    """Initialise the vault in ``home`` (over the given stores, else SQLite in it) and import
    ``records`` records; the API token and the import's rows per second."""
    for name in [k for k in os.environ if k.startswith("PSEUDOVAULT_")]:
        del os.environ[name]
    os.environ.update(_environment(home, data_url, keys_url))
    from pseudovault.api.settings import ApiSettings
    from pseudovault.vault.bootstrap import init_vault

    settings = ApiSettings()
    vault = init_vault(settings).vault
    try:
        source = home / "records.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for i in range(records):
                row = {
                    "identifiers": {"email": _email(i)},
                    "category": "fraudulent_transaction",
                    "reason_code": "bench",
                    "severity": "high",
                }
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
        started = time.perf_counter()
        report = vault.bulk.import_records(str(source), batch_size=10_000)
        seconds = time.perf_counter() - started
        if report.imported != records:
            raise RuntimeError(f"imported {report.imported} of {records} records ({report.rejected} rejected)")
        source.unlink()
        _info, token = vault.apikeys.create("http-benchmark", ["checks"])
    finally:
        vault.close()
    return token.get_secret_value(), records / seconds


def write_bodies(path: Path, records: int) -> None:
    """Single-check bodies, one per line: every tenth a banned email, the rest unknown ones."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(BODIES):
            email = _email((n * 7919) % records) if n % HIT_EVERY == 0 else f"new{n}@signup.example"
            out.write(json.dumps({"identifiers": [{"kind": "email", "value": email}]}, separators=(",", ":")) + "\n")


# --- servers ------------------------------------------------------------------------------------


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s")


def process_tree_cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system) used so far by process ``pid`` and every process under it
    (uvicorn's workers are children of the server's process), from Linux's ``/proc``; None
    elsewhere. A process that ended is no longer counted: read it while the server is up."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, CPU seconds)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:  # ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


class Started:
    """A server started by :func:`server`: ``wait()`` until it answers; ``cpu_seconds()`` used
    by it and its workers so far (None off Linux)."""

    def __init__(self, process: subprocess.Popen[bytes], ready_url: str) -> None:
        self.process = process
        self.ready_url = ready_url

    def wait(self) -> None:
        _wait_ready(self.ready_url, self.process)

    def cpu_seconds(self) -> float | None:
        return process_tree_cpu_seconds(self.process.pid)


@contextmanager
def server(command: list[str], env: dict[str, str], ready_url: str) -> Iterator[Started]:
    """Start the server; yield it (its ``wait()`` returns once it answers, so that two servers
    start at once); stop it at the end."""
    # a session of its own, as a service manager starts a daemon (see sched_autogroup)
    process = subprocess.Popen(
        command, env=env, cwd=_REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield Started(process, ready_url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def vault_server(env: dict[str, str], port: int, workers: int) -> Any:
    command = [sys.executable, "-c", "from pseudovault.api.cli import main; main()", "serve", "--port", str(port), "--workers", str(workers)]
    return server(command, env, f"http://127.0.0.1:{port}/readyz")


def bare_server(env: dict[str, str], port: int, workers: int) -> Any:
    code = (
        "import uvicorn; uvicorn.run('bare_app:app', host='127.0.0.1', port=%d, workers=%d, "
        "access_log=False, server_header=False, log_level='warning', timeout_graceful_shutdown=30)" % (port, workers)
    )
    return server([sys.executable, "-c", code], env, f"http://127.0.0.1:{port}/docs")


# --- load generators ----------------------------------------------------------------------------


def run_wrk(url: str, path: str, token: str, bodies: Path, seconds: float, work: Path) -> dict[str, float]:
    script = work / "bench.lua"
    script.write_text(WRK_SCRIPT % {"bodies": bodies, "token": token, "path": path}, encoding="utf-8")
    result = subprocess.run(
        ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        start_new_session=True,  # a program of its own, like the servers (see sched_autogroup)
    )
    for line in result.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line.removeprefix("WRKJSON "))
            return {
                "rps": data["requests"] / data["seconds"],
                "p50_ms": data["p50_ms"],
                "p99_ms": data["p99_ms"],
                "requests": data["requests"],
                "errors": data["errors"],
            }
    raise RuntimeError("wrk printed no result")


async def _httpx_load(url: str, token: str, bodies: list[bytes], seconds: float) -> dict[str, float]:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline and counter < MAX_REQUESTS:
                body = bodies[counter % len(bodies)]
                counter += 1
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


def run_httpx(url: str, path: str, token: str, bodies: Path, seconds: float) -> dict[str, float]:
    """The httpx load generator, in a process of its own (``--loadgen-child``)."""
    result = subprocess.run(
        [sys.executable, __file__, "--loadgen-child", url + path, token, str(bodies), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        start_new_session=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class BatchClient:
    """Sends batches of 100 identifiers back to back, on one keep-alive connection, until stopped."""

    def __init__(self, url: str, token: str, records: int) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.bodies = [
            {
                "signups": [
                    {"identifiers": [{"kind": "email", "value": _email((b * 1000 + i * 37) % records) if i % HIT_EVERY == 0 else f"b{b}x{i}@signup.example"}]}
                    for i in range(BATCH_IDENTIFIERS)
                ]
            }
            for b in range(20)
        ]
        self.latencies: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=30.0) as client:
            n = 0
            while not self._stop.is_set() and n < 100_000:
                start = time.perf_counter()
                response = client.post(self.url, json=self.bodies[n % len(self.bodies)], headers=self.headers)
                self.latencies.append(time.perf_counter() - start)
                if response.status_code != 200 or len(response.json()["decisions"]) != BATCH_IDENTIFIERS:
                    self.errors += 1
                n += 1

    def __enter__(self) -> BatchClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


# --- main ---------------------------------------------------------------------------------------


def _stores(engine: str, url: str | None) -> Any:
    if engine == "sqlite":
        return contextlib.nullcontext((None, None))
    if url is None:
        raise SystemExit("PostgreSQL asked for, but no PSEUDOVAULT_BENCH_POSTGRES_URL or PSEUDOVAULT_TEST_POSTGRES_URL")
    return postgres_stores(url)


def _load(loadgen: str, token: str, bodies: Path, work: Path, base: str, path: str, duration: float) -> dict[str, float]:
    if loadgen == "wrk":
        return run_wrk(base, path, token, bodies, duration, work)
    return run_httpx(base, path, token, bodies, duration)


def sched_autogroup() -> str:
    """Linux's ``kernel.sched_autogroup_enabled`` ("1", "0", or "n/a" elsewhere). With it on, the
    scheduler shares the CPU out per session first. When the servers and the load generator were
    children in this script's session, they were one entity against a PostgreSQL server in a
    session of its own, and on the saturated host its backends waited up to a second for a core:
    the checks that query it had a p99 of 100-800 ms in some rounds (with batches beside them too),
    against 8-15 ms with autogroup off. Each server and load generator now runs in a session of its
    own, as services do (each in its own session or cgroup), and the same rounds keep 7-13 ms with
    autogroup on. The figures of a run say which setting it ran under."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text(encoding="ascii").strip()
    except OSError:
        return "n/a"


def _spread(values: list[float]) -> list[float]:
    return [round(min(values), 1), round(statistics.median(values), 1), round(max(values), 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records, three 1-second rounds")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved bare/check rounds")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    parser.add_argument("--engines", default=None, help="sqlite,postgres (default: postgres too when configured)")
    parser.add_argument("--loadgen", choices=("wrk", "httpx"), default=None, help="default: wrk if installed")
    args = parser.parse_args()
    records = args.records or (10_000 if args.quick else 1_000_000)
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    rounds = args.rounds or (3 if args.quick else 5)
    workers_list = [int(w) for w in args.workers.split(",") if w.strip()]
    pg_url = postgres_url()  # read now: populating a vault replaces this process's PSEUDOVAULT_* variables
    engines = [e.strip() for e in (args.engines or ("sqlite,postgres" if pg_url else "sqlite")).split(",") if e.strip()]
    loadgen = args.loadgen or ("wrk" if shutil.which("wrk") else "httpx")
    if loadgen == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed")

    root = Path(tempfile.mkdtemp(prefix="pvbench-http-"))
    figures: dict[str, Any] = {
        "records": records, "seconds_per_run": seconds, "rounds": rounds, "loadgen": loadgen, "concurrency": CONCURRENCY,
        "sched_autogroup": sched_autogroup(),
    }
    try:
        for engine in engines:
            with _stores(engine, pg_url) as (data_url, keys_url):
                home = root / engine
                home.mkdir()
                env = _environment(home, data_url, keys_url)
                (home / "bare").mkdir()
                (home / "bare" / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
                started = time.perf_counter()
                token, import_rate = populate(home, records, data_url, keys_url)
                figures[f"{engine}_setup_import_seconds"] = round(time.perf_counter() - started, 1)
                figures[f"{engine}_setup_import_rows_per_second"] = round(import_rate)
                bodies = home / "bodies.txt"
                write_bodies(bodies, records)

                load = functools.partial(_load, loadgen, token, bodies, home)
                for workers in workers_list:
                    _measure(figures, f"{engine}_w{workers}", env, workers, load, seconds, rounds, token, records)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    emit(figures)


def _measure(
    figures: dict[str, Any], key: str, env: dict[str, str], workers: int, load: Any, seconds: float, rounds: int,
    token: str, records: int,
) -> None:
    """Both servers up together; ``rounds`` interleaved rounds of bare and check; then checks
    beside batches."""
    port, bare_port = _free_port(), _free_port()
    bare_base, base = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{port}"
    bare_runs: list[dict[str, float]] = []
    check_runs: list[dict[str, float]] = []
    with bare_server(env, bare_port, workers) as bare, vault_server(env, port, workers) as vault:
        bare.wait()
        vault.wait()
        load(bare_base, "/bare", 1)  # warm-ups (long enough for a miss filter to build)
        load(base, "/v1/checks", max(1.0, records / 500_000))
        for number in range(rounds):
            sides = [("bare", bare_base, "/bare", bare), ("check", base, "/v1/checks", vault)]
            for side, url, path, started in sides if number % 2 == 0 else reversed(sides):
                cpu_before = started.cpu_seconds()
                run = load(url, path, seconds)
                cpu_after = started.cpu_seconds()
                if cpu_before is not None and cpu_after is not None and run["requests"]:
                    run["cpu_us"] = (cpu_after - cpu_before) / run["requests"] * 1e6
                (bare_runs if side == "bare" else check_runs).append(run)
        with BatchClient(base + "/v1/checks/batch", token, records) as batches:
            beside = load(base, "/v1/checks", seconds)
    errors = sum(run["errors"] for run in check_runs) + beside["errors"] + batches.errors
    if errors or not batches.latencies:
        raise RuntimeError(f"errors under load: {errors}")
    ratios = [c["rps"] / b["rps"] for c, b in zip(check_runs, bare_runs, strict=True)]
    p99 = [run["p99_ms"] for run in check_runs]
    figures[f"{key}_bare_rps"] = _spread([run["rps"] for run in bare_runs])
    figures[f"{key}_check_rps"] = _spread([run["rps"] for run in check_runs])
    figures[f"{key}_check_p50_ms"] = round(statistics.median(run["p50_ms"] for run in check_runs), 2)
    bare_p99 = [run["p99_ms"] for run in bare_runs]
    figures[f"{key}_bare_p99_ms"] = [round(min(bare_p99), 2), round(statistics.median(bare_p99), 2), round(max(bare_p99), 2)]
    figures[f"{key}_check_p99_ms"] = [round(min(p99), 2), round(statistics.median(p99), 2), round(max(p99), 2)]
    figures[f"{key}_check_p99_ms_with_batches"] = round(beside["p99_ms"], 2)
    figures[f"{key}_batch100_p50_ms"] = round(_percentile(batches.latencies, 50) * 1000, 2)
    figures[f"{key}_batch100_p99_ms"] = round(_percentile(batches.latencies, 99) * 1000, 2)
    figures[f"{key}_check_vs_bare_ratio"] = round(statistics.median(ratios), 3)
    figures[f"{key}_check_vs_bare_min_ratio"] = round(min(ratios), 3)
    figures[f"{key}_check_vs_bare_max_ratio"] = round(max(ratios), 3)
    figures[f"{key}_check_p99_with_batches_vs_alone_ratio"] = round(beside["p99_ms"] / statistics.median(p99), 3)
    if all("cpu_us" in run for run in bare_runs + check_runs):
        # the servers' own CPU time per request (their processes and workers; not the load
        # generator's, nor a PostgreSQL server's): steadier than throughput on a shared host
        bare_cpu = [run["cpu_us"] for run in bare_runs]
        check_cpu = [run["cpu_us"] for run in check_runs]
        figures[f"{key}_bare_cpu_us_per_request"] = _spread(bare_cpu)
        figures[f"{key}_check_cpu_us_per_request"] = _spread(check_cpu)
        cpu_ratios = [b / c for b, c in zip(bare_cpu, check_cpu, strict=True)]
        figures[f"{key}_check_vs_bare_cpu_ratio"] = round(statistics.median(cpu_ratios), 3)


def _loadgen_child(argv: list[str]) -> None:
    url, token, bodies_path, seconds = argv[0], argv[1], Path(argv[2]), float(argv[3])
    bodies = [line.encode() for line in bodies_path.read_text(encoding="utf-8").splitlines()]
    print(json.dumps(asyncio.run(_httpx_load(url, token, bodies, seconds))))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen-child":
        _loadgen_child(sys.argv[2:])
    else:
        main()
