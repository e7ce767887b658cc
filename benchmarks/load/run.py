"""Load test of a realistic day mix against the authenticated no-op, in the same run (issue 9).

    .venv/bin/python benchmarks/load/run.py [--duration 10] [--rounds 3] [--reps 1000]
        [--connections 8,16,32,64] [--solo-duration 5] [--mix days=30,trends=25,...]

What runs, on loopback only, as ``scripts/run.sh`` runs it (``make run``) with PostgreSQL and
Redis: gunicorn (2 sync workers, access log on), one Celery worker (concurrency 2) and Celery
beat. A fresh database (``et_bench_load``, dropped and migrated first) gets 1,000 reps in 10
teams with 60 days of history each, their day features, a CRM connection per team and a
signed-in PWA session (cookie + CSRF) per rep; Redis db 13 is flushed first and is used for
the cache, sessions, throttles and the Celery broker. The write throttle keeps its production
rate (600/min per rep: far above what one rep does here).

Then, in ``--rounds`` rounds over the connection counts, wrk (2 threads, 5 s timeout) drives
for ``--duration`` seconds first the bare DRF endpoint ``GET /api/v1/ping`` (same session authentication; started once the
Celery worker is idle, waiting at most ``--settle`` seconds) and then the mix
(benchmarks/load/mix.lua: one stream, every request picks its type by weight). Every webhook
delivery is a distinct event signed with HMAC-SHA256 just before its run (the server refuses
timestamps more than 5 minutes off and answers a replay with 409). Afterwards each request
type runs alone briefly (client-side latency per type), the SQL queries per request are
counted in-process (benchmarks/load/queries.py) and the worker must have drained every
webhook delivery.

Reported per run: requests/s, p50/p95/p99/max (client side, wrk), socket errors (connect,
read, write, timeout), non-2xx answers, rejected batch items; per request type inside the mix
the server-side time from gunicorn's access log; the load average and how much CPU the stack
and everything else on the machine used. Bounded: about 3-4 minutes of load plus the seeding.
Weights and their reasons: benchmarks/load/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import PY, ROOT, bench_env, free_port, fresh_database  # noqa: E402

BIN = ROOT / ".venv" / "bin"
DB_NAME = "et_bench_load"
REAPED = "postgres-reaped"  # the postmaster's children's CPU (see cpu_cores)
REDIS_DB = 13
P99_TARGET_MS = 250.0
RATIO_TARGET = 0.5
# Per rep and working day (see README.md here): ~6 opens of the today screen, ~1 visit of the
# trends screen (4 chart series), 3-4 quick check-ins, 1 sync after being offline, and the
# CRM's deliveries for that rep's calls and meetings (several activities each).
DEFAULT_MIX = "days=30,trends=25,checkin=20,webhook=20,batch=5"
# Above any request rate the 2 cores reach (the no-op did ~1,500/s in the first runs); the
# signed-delivery file of a run holds this rate x duration x webhook share, with margin.
MAX_RATE = 4000
ACCESS_LOG_FORMAT = "%(m)s|%(U)s|%(q)s|%(s)s|%(D)s"
_SEEDS = itertools.count(1)  # a different, reproducible set of deliveries per run


# ---------------------------------------------------------------------------- processes


@dataclass
class Stack:
    base: str
    log_dir: Path
    pgids: dict[str, int]
    access_log: Path


def _wait_up(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/api/v1/health", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


@contextmanager
def stack(
    env: dict[str, str], log_dir: Path, web_workers: int, concurrency: int
) -> Iterator[Stack]:
    """gunicorn + Celery worker + beat, each in its own process group, as scripts/run.sh."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    access_log = log_dir / "access.log"
    commands = {
        "worker": [
            str(BIN / "celery"),
            "-A",
            "energytrack",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            f"load-{uuid.uuid4().hex[:6]}@%h",
        ],
        "beat": [
            str(BIN / "celery"),
            "-A",
            "energytrack",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(log_dir / "celerybeat-schedule"),
        ],
        "gunicorn": [
            str(BIN / "gunicorn"),
            "energytrack.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(web_workers),
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            "--error-logfile",
            str(log_dir / "gunicorn.log"),
            "--log-level",
            "warning",
        ],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.out").open("wb")
            procs[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_up(base)
        yield Stack(base, log_dir, {n: p.pid for n, p in procs.items()}, access_log)
    finally:
        # SIGTERM to each main process (gunicorn and Celery stop their own children: a warm
        # shutdown); the whole process group is killed only if that takes too long.
        for proc in procs.values():
            with suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# ---------------------------------------------------------------------------- CPU and load


def _cpu_ticks(pgids: dict[str, int]) -> dict[tuple[str, int], int]:
    """utime+stime (clock ticks) per live process of our groups and our PostgreSQL backends."""
    ticks: dict[tuple[str, int], int] = {}
    group_of = {pgid: name for name, pgid in pgids.items()}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            pgrp, used = int(fields[2]), int(fields[11]) + int(fields[12])
            if pgrp in group_of:
                ticks[(group_of[pgrp], int(entry.name))] = used
            elif "postgres" in stat[: stat.rindex(")")]:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read()
                if DB_NAME.encode() in cmdline:
                    ticks[("postgres", int(entry.name))] = used
                elif not cmdline.startswith(b"postgres:"):
                    # The postmaster: the CPU of the backends it reaped (a connection closed
                    # after CONN_MAX_AGE, a Celery task's) arrives in its children's times.
                    ticks[(REAPED, int(entry.name))] = int(fields[13]) + int(fields[14])
        except (OSError, ValueError, IndexError):
            continue
    return ticks


def cpu_cores(
    before: dict[tuple[str, int], int], after: dict[tuple[str, int], int], seconds: float
) -> dict[str, float]:
    """Cores used per group between two snapshots. A process of ours that ended in between is
    missing from ``after``: its share counts as "others", except for PostgreSQL backends, whose
    CPU the postmaster's reaped-children times give (a web worker's connection closes after
    ``CONN_MAX_AGE`` = 60 s: runs of a minute lost most of the database's CPU to "others")."""
    used: dict[str, float] = defaultdict(float)
    hz = os.sysconf("SC_CLK_TCK")
    for key, ticks in after.items():
        group = "postgres" if key[0] == REAPED else key[0]
        used[group] += (ticks - before.get(key, 0)) / hz / seconds
    for key, ticks in before.items():
        if key[0] == "postgres" and key not in after:
            # Ended: its whole life's CPU is in the postmaster's reaped times, counted above.
            used["postgres"] -= ticks / hz / seconds
    return dict(used)


def settle_worker(pgids: dict[str, int], limit: float) -> float:
    """Wait (at most ``limit`` s) until the Celery worker is idle; the seconds waited.

    The mix leaves background work (webhook drains, stale days); a baseline run started while
    the worker still burns a core would understate the no-op.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = _cpu_ticks(pgids)
        time.sleep(1)
        if cpu_cores(before, _cpu_ticks(pgids), 1).get("worker", 0) < 0.1:
            break
    return time.monotonic() - started


def _machine_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class LoadSampler:
    """The 1-minute load average every second while the benchmark runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), os.getloadavg()[0]))
            self._stop.wait(1)

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> list[float]:
        return [v for t, v in self.samples if start <= t <= end]


# ---------------------------------------------------------------------------- webhook deliveries


def write_deliveries(path: Path, connections: list[dict[str, Any]], count: int, seed: int) -> None:
    """``count`` distinct deliveries, each signed now (valid for 5 minutes): one per line."""
    rng = random.Random(seed)
    now = time.time()
    timestamp = str(int(now))
    run = uuid.uuid4().hex[:8]
    outcomes = ["connected"] * 5 + ["no_answer"] * 3 + ["voicemail", "busy"]
    with path.open("w") as out:
        for index in range(count):
            conn = connections[rng.randrange(len(connections))]
            activities = []
            for n in range(rng.randint(1, 5)):
                occurred = time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - rng.randint(60, 3 * 3600))
                )
                base = {
                    "external_id": f"load-{run}-{index}-{n}",
                    "owner_email": rng.choice(conn["emails"]),
                    "occurred_at": occurred,
                }
                if rng.random() < 0.85:
                    outcome = rng.choice(outcomes)
                    duration = rng.randint(60, 900) if outcome == "connected" else 0
                    activities.append(
                        {**base, "kind": "call", "outcome": outcome, "duration_seconds": duration}
                    )
                else:
                    activities.append(
                        {
                            **base,
                            "kind": "meeting",
                            "status": rng.choice(["held", "held", "held", "no_show", "scheduled"]),
                            "decision_maker_present": rng.random() < 0.6,
                            "budget": rng.random() < 0.5,
                            "authority": rng.random() < 0.5,
                            "need": rng.random() < 0.7,
                            "timeline": rng.random() < 0.4,
                            "deal_value_cents": rng.choice([0, 250_000, 1_200_000]),
                            "currency": "EUR",
                        }
                    )
            body = json.dumps(
                {"event_id": f"load-{run}-{index}", "activities": activities},
                separators=(",", ":"),
            ).encode()
            digest = hmac.new(
                conn["secret"].encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            out.write(f"{conn['id']}\t{timestamp}\tsha256={digest}\t{body.decode()}\n")


# ---------------------------------------------------------------------------- wrk runs


@dataclass
class Run:
    name: str
    connections: int
    data: dict[str, Any]
    load: list[float]
    cpu: dict[str, float]
    per_endpoint: dict[str, dict[str, Any]] = field(default_factory=dict)
    settle_limit: float = 0

    @property
    def rps(self) -> float:
        return float(self.data["requests"]) / float(self.data["duration_s"])

    def ms(self, key: str) -> float:
        return float(self.data[key]) / 1000

    @property
    def socket_errors(self) -> int:
        return sum(int(self.data[k]) for k in ("connect", "read", "write", "timeout"))

    @property
    def errors(self) -> int:
        """Everything that is not a clean answer: socket errors, non-2xx, rejected items."""
        return (
            self.socket_errors
            + int(self.data["non_2xx"])
            + int(self.data["rejected_items"])
            + int(self.data["webhooks_exhausted"])
        )

    @property
    def sustained(self) -> bool:
        return self.errors == 0 and self.ms("p99_us") < P99_TARGET_MS


def _endpoint(path: str, query: str) -> str:
    if path.startswith("/api/v1/insights/trends/"):
        return "GET trends/" + path.rsplit("/", 1)[1]
    if path.startswith("/api/v1/performance/webhooks/"):
        return "POST webhook"
    if path == "/api/v1/journal/days":
        return "GET days (2 days)" if query else "GET days (90 days)"
    return {
        "/api/v1/ping": "GET ping",
        "/api/v1/journal/checkin": "POST checkin",
        "/api/v1/journal/batch": "POST batch (10-20 items)",
    }.get(path, path)


def _percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def access_log_split(log: Path, start: int, end: int) -> dict[str, dict[str, Any]]:
    """Server-side time and status per request type from gunicorn's access log segment."""
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode(errors="replace").splitlines()
    times: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in lines:
        parts = line.split("|")
        if len(parts) != 5:
            continue
        _method, path, query, status, micros = parts
        name = _endpoint(path, query)
        times[name].append(int(micros) / 1000)
        statuses[name][status] += 1
    return {
        name: {
            "count": len(values),
            "p50_ms": _percentile(values, 50),
            "p95_ms": _percentile(values, 95),
            "p99_ms": _percentile(values, 99),
            "mean_ms": statistics.fmean(values),
            "statuses": dict(statuses[name]),
        }
        for name, values in sorted(times.items())
    }


def run_wrk(
    name: str,
    st: Stack,
    sampler: LoadSampler,
    *,
    mix: str,
    connections: int,
    duration: int,
    threads: int,
    sessions: Path,
    seed: dict[str, Any],
    work: Path,
    settle: float = 0,
) -> Run:
    settled = settle_worker(st.pgids, settle) if settle else 0.0
    env = {**os.environ, "SESSIONS_FILE": str(sessions), "MIX": mix, "WRK_THREADS": str(threads)}
    weights = {k: float(v) for k, v in (p.split("=") for p in mix.split(",") if p)}
    share = weights.get("webhook", 0) / sum(weights.values())
    deliveries: Path | None = None
    if share > 0:
        deliveries = work / f"deliveries-{uuid.uuid4().hex[:8]}.tsv"
        count = int(MAX_RATE * duration * share * 1.2) + 200
        write_deliveries(deliveries, seed["connections"], count, seed=next(_SEEDS))
        env["WEBHOOK_FILE"] = str(deliveries)
    offset = st.access_log.stat().st_size if st.access_log.exists() else 0
    cpu_before = _cpu_ticks(st.pgids)
    busy_before, total_before = _machine_busy_ticks()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "mix.lua"),
            st.base,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ended = time.monotonic()
    if deliveries is not None:
        deliveries.unlink()  # megabytes of signed deliveries, useless once their run is over
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_after, total_after = _machine_busy_ticks()
    cpu_after = _cpu_ticks(st.pgids)
    time.sleep(0.2)  # the last access-log lines
    wall = ended - started
    cpu = cpu_cores(cpu_before, cpu_after, wall)
    cpu["wrk"] = (
        wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime
    ) / wall
    ncpu = os.cpu_count() or 1
    cpu["machine"] = (busy_after - busy_before) / max(1, total_after - total_before) * ncpu
    cpu["others"] = max(0.0, cpu["machine"] - sum(v for k, v in cpu.items() if k != "machine"))
    result = Run(
        name=name,
        connections=connections,
        data=json.loads(out.strip().splitlines()[-1]),
        load=sampler.between(started, ended + 1),
        cpu=cpu,
    )
    result.per_endpoint = access_log_split(st.access_log, offset, st.access_log.stat().st_size)
    result.data["settled_s"] = round(settled, 1)
    result.settle_limit = settle
    # Background work left when the run ended: does the worker keep up with the mix?
    result.data["backlog"] = background_backlog()
    print(
        f"  {name:<28} c={connections:<3} {result.rps:7.0f} req/s  p50 {result.ms('p50_us'):6.1f}"
        f"  p99 {result.ms('p99_us'):7.1f} ms  errors {result.errors}"
        f"  load {_load_text(result.load)}",
        flush=True,
    )
    return result


# ---------------------------------------------------------------------------- checks after load


def _sql_count(query: str) -> int | None:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB_NAME, "-tAc", query],
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def background_backlog() -> dict[str, int | None]:
    return {
        "broker_tasks": int(redis_client().llen("celery")),
        "stale_days": _sql_count("SELECT count(*) FROM insights_staleday"),
        "pending_deliveries": _sql_count(
            "SELECT count(*) FROM performance_webhookevent WHERE status = 'pending'"
        ),
    }


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}")


def webhook_backlog(env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Wait (bounded) until the worker has processed every delivery; report what is left."""
    code = (
        "import json\nfrom apps.performance.models import WebhookEvent\n"
        "from django.db.models import Count\n"
        "print(json.dumps(dict(WebhookEvent.objects.values_list('status')"
        ".annotate(n=Count('id')).values_list('status', 'n'))))"
    )
    started = time.monotonic()
    while True:
        out = subprocess.run(
            [PY, "-c", "import django; django.setup()\n" + code],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        counts = json.loads(out.strip().splitlines()[-1])
        if not counts.get("pending") or time.monotonic() - started > timeout:
            return {"by_status": counts, "waited_s": round(time.monotonic() - started, 1)}
        time.sleep(2)


def log_problems(log_dir: Path) -> dict[str, dict[str, int]]:
    """Distinct error lines (timestamps cut off) per log, with how often each occurred."""
    found: dict[str, dict[str, int]] = {}
    keys = ("ERROR", "CRITICAL", "Traceback", "TIMEOUT", "Error:", "Exception")
    for name in ("gunicorn.log", "gunicorn.out", "worker.out", "beat.out"):
        path = log_dir / name
        if not path.exists():
            continue
        lines: dict[str, int] = defaultdict(int)
        for line in path.read_text(errors="replace").splitlines():
            if any(k in line for k in keys) and not line.startswith(" "):
                text = line.split("] ", 1)[-1].strip()[:240]
                lines[text] += 1
        if lines:
            found[name] = dict(lines)
    return found


# ---------------------------------------------------------------------------- report


def _settle_note(r: Run) -> str:
    waited = float(r.data.get("settled_s", 0))
    if waited < 1.5:
        return ""
    if waited >= r.settle_limit - 1:
        return f" (worker still busy after {waited:.0f} s)"
    return f" (after {waited:.0f} s for the worker to idle)"


def _load_text(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f}" if values else "—"


def report(
    args: argparse.Namespace,
    seed: dict[str, Any],
    pairs: list[tuple[Run, Run]],
    solos: list[Run],
    queries: list[dict[str, Any]],
    backlog: dict[str, Any],
    problems: dict[str, dict[str, int]],
    sampler: LoadSampler,
    started: float,
) -> str:
    out: list[str] = []
    w = out.append
    w(
        f"\n## Load test — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"{seed['reps']:,} reps in {len(seed['connections'])} teams, {seed['history_days']} days "
        f"of history ({seed['entries']:,} journal entries, {seed['day_features']:,} day "
        f"features); gunicorn {args.web_workers} sync workers + Celery worker "
        f"(concurrency {args.worker_concurrency}) + beat on PostgreSQL and Redis; wrk "
        f"{args.threads} threads, {args.duration} s per run, {os.cpu_count()} cores. "
        f"Mix weights: `{args.mix}`. Load average over the whole run: "
        f"{_load_text(sampler.between(started, time.monotonic()))}.\n"
    )
    w(
        "| round | conns | stream | req/s | mix / ping | p50 ms | p95 ms | p99 ms | max ms | socket"
        " errors | non-2xx | load avg | CPU: web / worker / pg / wrk / others |"
    )
    w("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for ping, mix in pairs:
        for r in (ping, mix):
            ratio = f"{mix.rps / ping.rps:.0%}" if r is mix and ping.rps else ""
            d = r.data
            sock = f"{r.socket_errors}" + (
                f" (c{d['connect']}/r{d['read']}/w{d['write']}/t{d['timeout']})"
                if r.socket_errors
                else ""
            )
            bad = int(d["non_2xx"]) + int(d["rejected_items"]) + int(d["webhooks_exhausted"])
            c = r.cpu
            w(
                f"| {d.get('round', 1)} | {r.connections} | {r.name}{_settle_note(r)} | {r.rps:,.0f} "
                f"| {ratio} | {r.ms('p50_us'):.1f} "
                f"| {r.ms('p95_us'):.1f} | {r.ms('p99_us'):.1f} | {r.ms('max_us'):.0f} | {sock} "
                f"| {bad} | {_load_text(r.load)} | {c.get('gunicorn', 0):.2f} / "
                f"{c.get('worker', 0) + c.get('beat', 0):.2f} / {c.get('postgres', 0):.2f} / "
                f"{c.get('wrk', 0):.2f} / {c.get('others', 0):.2f} |"
            )
    w(
        "\nCPU in cores (2 = both cores busy) averaged over the run: gunicorn workers, Celery "
        "worker + beat, this database's PostgreSQL backends, wrk, and every other process on "
        "the machine (other jobs, Redis)."
    )

    def best(runs: list[Run]) -> Run | None:
        ok = [r for r in runs if r.sustained]
        return max(ok, key=lambda r: r.rps) if ok else None

    best_ping = best([p for p, _ in pairs])
    best_mix = best([m for _, m in pairs])
    total_errors = sum(p.errors + m.errors for p, m in pairs)

    def best_text(name: str, r: Run | None) -> str:
        if r is None:
            return f"{name}: at none of the connection counts"
        return (
            f"{name} {r.rps:,.0f} req/s at {r.connections} connections "
            f"(p99 {r.ms('p99_us'):.0f} ms)"
        )

    w(
        "\n**Highest rate with zero errors and p99 < 250 ms:** "
        f"{best_text('ping', best_ping)}; {best_text('mix', best_mix)}."
    )
    # Each ratio within its own ping/mix pair (one after the other), the median over all rounds
    # and connection counts whose mix was sustained (zero errors, p99 < 250 ms).
    ratios = [m.rps / p.rps for p, m in pairs if m.sustained and p.rps]
    share = statistics.median(ratios) if ratios else None
    by_level: dict[int, list[float]] = defaultdict(list)
    for p, m in pairs:
        if p.rps:
            by_level[m.connections].append(m.rps / p.rps)
    w(
        "\nMix / ping per connection count (each round's pair; median): "
        + "; ".join(
            f"{c}: {' / '.join(f'{r:.0%}' for r in rs)} ({statistics.median(rs):.0%})"
            for c, rs in by_level.items()
        )
        + "."
    )
    verdicts = [
        f"zero errors: {'met' if total_errors == 0 else f'**not met** ({total_errors})'}",
        f"p99 < 250 ms at a sustained rate: {'met' if best_mix else '**not met**'}",
        "mix ≥ 50 % of ping (median of the sustained pairs): "
        + (
            f"{'met' if share >= RATIO_TARGET else '**not met**'} ({share:.0%})"
            if share is not None
            else "**not met** (no sustained mix rate)"
        ),
    ]
    w("\nTargets: " + "; ".join(verdicts) + ".\n")

    # The realised mix and the server-side time per request type inside it (first round).
    for _ping, mix in (pair for pair in pairs if pair[1].data.get("round", 1) == 1):
        sent = mix.data["sent"]
        total = sum(sent.values()) or 1
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(sent.items()) if v)
        w(
            f"\nInside the mix at {mix.connections} connections (sent: {shares}); server-side time "
            "from gunicorn's access log (excludes the wait in the listen queue):\n"
        )
        w("| request | count | p50 ms | p95 ms | p99 ms | statuses |")
        w("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, e in mix.per_endpoint.items():
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(e["statuses"].items()))
            w(
                f"| {name} | {e['count']:,} | {e['p50_ms']:.1f} | {e['p95_ms']:.1f} "
                f"| {e['p99_ms']:.1f} | {statuses} |"
            )
        b = mix.data["backlog"]
        w(
            f"\nBackground work left at the end of the run: {b['broker_tasks']} Celery tasks in "
            f"the broker, {b['stale_days']} stale days to recompute, {b['pending_deliveries']} "
            "webhook deliveries not yet processed."
        )
        if mix.data.get("by_status"):
            w(f"\nnon-2xx by status and problem type: `{json.dumps(mix.data['by_status'])}`")
        if mix.data.get("samples"):
            w(f"\nsample problem answers: `{json.dumps(mix.data['samples'])[:900]}`")

    if solos:
        w(
            f"\nEach request type alone, {solos[0].connections} connections, "
            f"{args.solo_duration} s (client side):\n"
        )
        w("| request | req/s | p50 ms | p95 ms | p99 ms | errors | load avg |")
        w("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in solos:
            w(
                f"| {r.name} | {r.rps:,.0f} | {r.ms('p50_us'):.1f} | {r.ms('p95_us'):.1f} "
                f"| {r.ms('p99_us'):.1f} | {r.errors} | {_load_text(r.load)} |"
            )

    w(
        "\nSQL queries per request (measured in-process with CaptureQueriesContext, same "
        "database, session in the cache; first call of that request for a rep / a repeat):\n"
    )
    w("| endpoint | queries | repeat | statuses |")
    w("| --- | ---: | ---: | --- |")
    for q in queries:
        count = f"{q['min']}" if q["min"] == q["max"] else f"{q['min']}-{q['max']}"
        repeat = (
            "—"
            if q.get("repeat_min") is None
            else (
                f"{q['repeat_min']}"
                if q["repeat_min"] == q["repeat_max"]
                else f"{q['repeat_min']}-{q['repeat_max']}"
            )
        )
        w(f"| {q['endpoint']} | {count} | {repeat} | {', '.join(map(str, q['statuses']))} |")

    w(
        f"\nWebhook deliveries after the run: {json.dumps(backlog['by_status'])} "
        f"(waited {backlog['waited_s']} s for the worker to drain)."
    )
    if problems:
        w("\nError lines in the logs during the run (distinct messages, how often):")
        for name, lines in problems.items():
            for text, n in list(lines.items())[:5]:
                w(f"- {name}: {n} x `{text}`")
    else:
        w("\nNo ERROR/Traceback/TIMEOUT lines in the gunicorn, worker or beat logs.")
    return "\n".join(out)


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="ping/mix pairs at each connection count"
    )
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--connections", default="8,16,32,64")
    parser.add_argument("--mix", default=DEFAULT_MIX)
    parser.add_argument("--solo-duration", type=int, default=5, help="0: no solo runs")
    parser.add_argument("--solo-connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--settle",
        type=float,
        default=10,
        help="before each ping run, wait up to this many s for the Celery worker to go idle",
    )
    parser.add_argument("--web-workers", type=int, default=4, help="as scripts/run.sh")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="as scripts/run.sh")
    parser.add_argument("--out", type=Path, help="directory for logs and results.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    levels = [int(c) for c in args.connections.split(",")]
    work = args.out or Path(tempfile.mkdtemp(prefix="et-load-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work directory (logs, results.json): {work}", flush=True)

    env = bench_env(DB_NAME)
    env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DB}"
    for name in ("THROTTLE_WRITES", "THROTTLE_LOGIN", "THROTTLE_WEBHOOK"):
        env.pop(name, None)  # production rates (bench_env lifts them)
    sampler = LoadSampler().start()
    started = time.monotonic()

    t0 = time.monotonic()
    fresh_database(DB_NAME, env)
    redis_client().flushdb()
    print(f"fresh database {DB_NAME}, Redis db {REDIS_DB} flushed ({time.monotonic() - t0:.0f} s)")
    t0 = time.monotonic()
    subprocess.run(
        [
            PY,
            str(HERE / "seed.py"),
            "--reps",
            str(args.reps),
            "--history-days",
            str(args.history_days),
            "--out",
            str(work),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    seed = json.loads((work / "seed.json").read_text())
    redis_client().flushdb()  # nothing the seeding may have queued runs under load
    print(f"seeded in {time.monotonic() - t0:.0f} s: {json.dumps(seed['timings'])}", flush=True)
    sessions = work / "sessions.txt"

    pairs: list[tuple[Run, Run]] = []
    solos: list[Run] = []
    with stack(env, work, args.web_workers, args.worker_concurrency) as st:
        common: dict[str, Any] = {
            "threads": args.threads,
            "sessions": sessions,
            "seed": seed,
            "work": work,
        }
        print("warm-up (not reported):", flush=True)
        run_wrk(
            "warm-up mix", st, sampler, mix=args.mix, connections=levels[0], duration=5, **common
        )
        print("measured:", flush=True)
        # Rounds over all connection counts: the machine's speed drifts by a fifth within
        # minutes (a neighbour on the host), which moves one ping/mix pair's ratio as much as a
        # change to the code does; each ratio is taken within its pair, the verdict on the
        # median of all of them.
        for round_no in range(1, args.rounds + 1):
            for c in levels:
                ping = run_wrk(
                    "GET /api/v1/ping",
                    st,
                    sampler,
                    mix="ping=1",
                    connections=c,
                    duration=args.duration,
                    settle=args.settle,
                    **common,
                )
                mix = run_wrk(
                    "mix",
                    st,
                    sampler,
                    mix=args.mix,
                    connections=c,
                    duration=args.duration,
                    **common,
                )
                ping.data["round"] = mix.data["round"] = round_no
                pairs.append((ping, mix))
        if args.solo_duration > 0:
            print("each request type alone:", flush=True)
            for name in ("checkin", "batch", "days", "trends", "webhook"):
                solos.append(
                    run_wrk(
                        f"{name} alone",
                        st,
                        sampler,
                        mix=f"{name}=1",
                        connections=args.solo_connections,
                        duration=args.solo_duration,
                        **common,
                    )
                )
        print("counting SQL queries per request...", flush=True)
        queries = json.loads(
            subprocess.run(
                [PY, str(HERE / "queries.py"), "--seed", str(work)],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        backlog = webhook_backlog(env, timeout=60)
        problems = log_problems(work)  # before the shutdown, which logs its own lines
    sampler.stop()
    text = report(args, seed, pairs, solos, queries, backlog, problems, sampler, started)
    print(text)
    (work / "report.md").write_text(text + "\n")
    (work / "results.json").write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "seed": {k: v for k, v in seed.items() if k != "connections"},
                "runs": [
                    {
                        "name": r.name,
                        "connections": r.connections,
                        "wrk": r.data,
                        "load": r.load,
                        "cpu": r.cpu,
                        "per_endpoint": r.per_endpoint,
                    }
                    for pair in pairs
                    for r in pair
                ]
                + [
                    {
                        "name": r.name,
                        "connections": r.connections,
                        "wrk": r.data,
                        "load": r.load,
                        "cpu": r.cpu,
                    }
                    for r in solos
                ],
                "queries": queries,
                "webhook_backlog": backlog,
                "log_problems": problems,
            },
            indent=1,
        )
    )
    print(f"\nreport: {work / 'report.md'}, raw figures: {work / 'results.json'}")


if __name__ == "__main__":
    main()
