"""Benchmark: CRM webhook ingest requests per second vs the authenticated no-op /api/v1/ping.

Same run, same server: gunicorn (2 sync workers) on loopback against PostgreSQL and Redis,
loaded by wrk (C, keep-alive attempted; gunicorn's sync workers close each connection, the
same for both endpoints). Every webhook request is a distinct, validly signed delivery
(unique event id, HMAC-SHA256 over "timestamp.body"), pre-signed before the run and replayed
by a wrk Lua script; the ping carries a personal API token. Runs alternate ping / webhook to
spread the noise of a shared machine; the medians are compared.

Target (issue 4): webhook >= 60 % of ping. Afterwards a Celery worker drains the queued
deliveries once, to report processing throughput as well (bounded to 120 s).

    createdb -h 127.0.0.1 -U postgres et_bench_perf   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/et_bench_perf \\
    REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python benchmarks/webhook.py [--seconds 8] [--rounds 5] [--connections 8]

Needs wrk (apt-get install wrk). Loopback only; every run has a fixed duration.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.local")

SIGNED_LUA = r"""
-- Replays pre-signed webhook deliveries; each wrk thread takes its own lines of the file so
-- no event id is sent twice (a replay would be a 409 and count as an error).
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local nthreads = tonumber(args[1])
  local path = args[2]
  reqs = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-Energytrack-Timestamp"] = ts,
        ["X-Energytrack-Signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  idx = 0
end
function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
  end
  return reqs[idx]
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "energytrack.settings.local",
            "DJANGO_DEBUG": "false",
            # One connection receives everything here; production limits it per connection.
            "THROTTLE_WEBHOOK": "100000000/min",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def prepare() -> dict[str, str]:
    """Migrate; a team with a rep, a CRM connection and a token for the ping."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.accounts.models import Membership, Role, Team, User
    from apps.accounts.services import api_token_create
    from apps.performance.models import WebhookEvent
    from apps.performance.services import crm_connection_create

    team, _ = Team.objects.get_or_create(name="Benchmark webhook team")
    rep, _ = User.objects.get_or_create(email="bench-webhook-rep@bench.test")
    Membership.objects.get_or_create(team=team, user=rep, role=Role.REP)
    WebhookEvent.objects.filter(connection__team=team).delete()
    connection, secret = crm_connection_create(team=team, name=f"bench {uuid.uuid4().hex[:6]}")
    _token, raw_token = api_token_create(user=rep, name="benchmark ping")
    return {
        "connection": str(connection.pk),
        "secret": secret,
        "token": raw_token,
        "rep": rep.email,
        "team": str(team.pk),
    }


def write_signed_requests(path: Path, secret: str, rep_email: str, count: int) -> None:
    timestamp = str(int(time.time()))
    occurred = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    run = uuid.uuid4().hex[:8]
    with path.open("w") as out:
        for index in range(count):
            body = json.dumps(
                {
                    "event_id": f"bench-{run}-{index}",
                    "activities": [
                        {
                            "kind": "call",
                            "external_id": f"bench-{run}-{index}",
                            "owner_email": rep_email,
                            "occurred_at": occurred,
                            "duration_seconds": 180,
                            "outcome": "connected",
                        }
                    ],
                },
                separators=(",", ":"),
            ).encode()
            digest = hmac.new(
                secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            out.write(f"{timestamp}\tsha256={digest}\t{body.decode()}\n")


def wait_until_up(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def wrk(args: list[str]) -> dict[str, float]:
    result = subprocess.run(["wrk", *args], check=True, capture_output=True, text=True)
    text = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    latency = re.search(r"Latency\s+([\d.]+\w+)", text)
    return {
        "rps": rps,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",  # type: ignore[dict-item]
        "latency_avg": latency.group(1) if latency else "",  # type: ignore[dict-item]
    }


def drain_with_worker(env: dict[str, str], log: Path, timeout: float = 120) -> dict[str, float]:
    """Start one Celery worker, time how fast it processes the queued deliveries."""
    from apps.performance.models import WebhookEvent

    pending = WebhookEvent.objects.filter(status="pending").count()
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "energytrack", "worker", "-c", "2", "-l", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            left = WebhookEvent.objects.filter(status="pending").count()
            if left == 0:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        left = WebhookEvent.objects.filter(status="pending").count()
    finally:
        # Cold shutdown of the worker's own process group; it may be inside a long drain.
        os.killpg(worker.pid, signal.SIGQUIT)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    done = pending - left
    return {
        "events": pending,
        "processed": done,
        "seconds": round(elapsed, 1),
        "events_per_second": round(done / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-drain", action="store_true")
    args = parser.parse_args()
    ids = prepare()
    env = server_env()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="et-bench-webhook-") as tmp:
        lua = Path(tmp) / "signed.lua"
        lua.write_text(SIGNED_LUA)
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "energytrack.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(base)
            common = ["-t", str(args.threads), "-c", str(args.connections)]
            ping = [*common, "-H", f"Authorization: Bearer {ids['token']}", f"{base}/api/v1/ping"]
            url = f"{base}/api/v1/performance/webhooks/{ids['connection']}"

            def hook(seconds: int) -> list[str]:
                # A fresh file per run: each wrk run starts at its first line, and a delivery
                # sent twice would be a replay (409). 6,000 req/s is far above the ceiling.
                signed = Path(tmp) / f"signed-{uuid.uuid4().hex}.tsv"
                write_signed_requests(signed, ids["secret"], ids["rep"], 6000 * seconds)
                return [*common, "-d", f"{seconds}s", "-s", str(lua), url, "--", str(args.threads),
                        str(signed)]  # fmt: skip

            # Warm-up: imports, DB connections, the broker connection of each worker.
            wrk([*ping[:-1], "-d", "3s", ping[-1]])
            wrk(hook(3))
            pings: list[dict[str, float]] = []
            hooks: list[dict[str, float]] = []
            for _ in range(args.rounds):
                pings.append(wrk([*ping[:-1], "-d", f"{args.seconds}s", ping[-1]]))
                hooks.append(wrk(hook(args.seconds)))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    ping_rps = statistics.median(p["rps"] for p in pings)
    hook_rps = statistics.median(h["rps"] for h in hooks)
    ratio = hook_rps / ping_rps
    # Back-to-back pairs share the machine's momentary load: their ratios are less noisy.
    pair_ratios = [h["rps"] / p["rps"] for p, h in zip(pings, hooks, strict=True)]
    print(f"ping     req/s per round: {[p['rps'] for p in pings]}  median {ping_rps:.0f}")
    print(f"webhook  req/s per round: {[h['rps'] for h in hooks]}  median {hook_rps:.0f}")
    print(f"latency avg ping {pings[-1]['latency_avg']}, webhook {hooks[-1]['latency_avg']}")
    print(f"non-2xx: ping {sum(p['non_2xx'] for p in pings)}, webhook "
          f"{sum(h['non_2xx'] for h in hooks)} (must be 0: no replays, no throttling)")  # fmt: skip
    verdict = "OK" if ratio >= 0.6 else "UNDER TARGET"
    print(f"per-round webhook/ping: {[f'{r:.0%}' for r in pair_ratios]}, "
          f"median {statistics.median(pair_ratios):.0%}")  # fmt: skip
    print(f"webhook / ping (medians) = {ratio:.0%} (target >= 60 %) -> {verdict}")
    if not args.no_drain:
        log = Path(tempfile.gettempdir()) / "et-bench-webhook-worker.log"
        print(f"worker drain: {json.dumps(drain_with_worker(env, log))} (worker log: {log})")
    from energytrack.celery import app

    app.control.purge()  # leave the benchmark broker empty


if __name__ == "__main__":
    main()
