"""Benchmark: Web Push fan-out for 10,000 reps, from the hourly dispatcher to the push service.

What is measured: 10,000 reps, spread over the time zones where it is daytime now, each with a
daily check-in reminder at the local time of the current hour and one browser subscribed to a
fake push service on 127.0.0.1. The clock starts when the dispatcher task is sent to the
broker and stops when the push service has received 10,000 push requests. In between, all real:
the dispatcher finds the due reps per zone and fans out chunk tasks; the chunks create inbox rows
and deliveries and queue delivery batches; two worker processes (`celery worker -c 2`, prefork,
Redis broker, PostgreSQL) claim each delivery under a row lock, encrypt the payload (RFC 8291)
for that browser's key, sign VAPID and POST it. Also reported: peak RSS of the worker (parent
and both pool processes), and the checks that make the figure honest (exactly one request per
rep, every delivery SENT, a sample of requests decrypted with the browser's key and their VAPID
signature verified by the fake push service).

Usage::

    .venv/bin/python benchmarks/push_fanout.py                 # 10,000 reps, fresh database
    .venv/bin/python benchmarks/push_fanout.py --reps 2000     # smaller run

Needs PostgreSQL and Redis on 127.0.0.1. Uses (and empties) Redis database 10 and recreates the
PostgreSQL database ``et_bench_push``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
DB_NAME = "et_bench_push"
REDIS_URL = "redis://127.0.0.1:6379/10"
VAPID_SUBJECT = "mailto:bench@energytrack.test"
# One zone per UTC offset band; the run keeps those where the current hour is daytime.
ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Amsterdam",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
)
SAMPLE_EVERY = 97  # the push service decrypts and verifies every 97th request


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys(index: int) -> tuple[Any, bytes]:
    """The fake browser of rep ``index``: a P-256 key and auth secret, derived from the index
    so the push service process can decrypt without being sent any keys."""
    from cryptography.hazmat.primitives.asymmetric import ec

    seed = hashlib.sha256(f"bench-browser-{index}".encode()).digest()
    scalar = int.from_bytes(seed, "big") % (2**255) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    auth = hashlib.sha256(f"bench-auth-{index}".encode()).digest()[:16]
    return key, auth


# --- the fake push service (its own process) -------------------------------------------------


def _verify_sample(path: str, headers: dict[str, str], body: bytes, vapid_public: str) -> str:
    import http_ece
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    index = int(path.rsplit("/", 1)[1])
    key, auth = browser_keys(index)
    payload = json.loads(
        http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
    )
    assert payload["kind"] == "reminder", payload
    params = dict(p.split("=", 1) for p in headers["authorization"].split(" ", 1)[1].split(","))
    assert params["k"] == vapid_public
    head, claims, signature = params["t"].split(".")
    raw = unb64(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(params["k"]))
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        f"{head}.{claims}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    claims_data = json.loads(unb64(claims))
    assert claims_data["exp"] > time.time() and claims_data["sub"] == VAPID_SUBJECT
    return "ok"


def push_service_main(port_value: Any, count: Any, ready: Any, vapid_public: str) -> None:
    lock = threading.Lock()
    seen: set[str] = set()
    report: dict[str, Any] = {"duplicates": 0, "verified": 0, "verify_errors": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                if self.path in seen:
                    report["duplicates"] += 1
                seen.add(self.path)
                number = count.value + 1
                count.value = number
            if number % SAMPLE_EVERY == 0:
                try:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    _verify_sample(self.path, headers, body, vapid_public)
                    report["verified"] += 1
                except Exception as exc:
                    report["verify_errors"].append(repr(exc))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            data = json.dumps({**report, "received": count.value, "unique": len(seen)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_value.value = server.server_address[1]
    ready.set()
    server.serve_forever(poll_interval=0.1)


# --- the worker (a real `celery worker -c 2`) ------------------------------------------------


def worker_main() -> None:
    """`celery -A energytrack worker -c 2`, with the benchmark's VAPID keys and loopback push
    allowed (both settings are read with getattr until they are in settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energytrack.settings.local")
    from django.conf import settings

    from energytrack.celery import app

    settings.VAPID_PRIVATE_KEY = os.environ["BENCH_VAPID_PRIVATE_KEY"]
    settings.VAPID_PUBLIC_KEY = os.environ["BENCH_VAPID_PUBLIC_KEY"]
    settings.VAPID_SUBJECT = VAPID_SUBJECT
    settings.PUSH_ALLOW_LOOPBACK = True
    app.worker_main(
        [
            "worker",
            "--concurrency=2",
            "--pool=prefork",
            f"--loglevel={os.environ.get('BENCH_WORKER_LOGLEVEL', 'WARNING')}",
            "--without-gossip",
            "--without-mingle",
            "-n",
            "bench-push@%h",
        ]
    )


# --- orchestration ---------------------------------------------------------------------------


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "energytrack.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def daytime_zones(now: dt.datetime) -> list[str]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [z for z in ZONES if 9 <= hour.astimezone(ZoneInfo(z)).hour <= 19]


def seed(reps: int, endpoint_base: str, zones: list[str], hour_start: dt.datetime) -> None:
    """10,000 reps with a reminder at the local time of this hour and one subscription each."""
    from cryptography.hazmat.primitives import serialization
    from django.db import transaction

    from apps.accounts.models import User
    from apps.notifications.models import NotificationPreferences, PushSubscription

    users, prefs, subs = [], [], []
    for index in range(reps):
        zone = zones[index % len(zones)]
        local = hour_start.astimezone(ZoneInfo(zone))
        user = User(email=f"bench{index}@example.com", timezone=zone, password="!")
        users.append(user)
        prefs.append(
            NotificationPreferences(
                user=user,
                reminder_enabled=True,
                reminder_time=dt.time(local.hour, local.minute),
            )
        )
        key, auth = browser_keys(index)
        p256dh = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        endpoint = f"{endpoint_base}/push/{index}"
        subs.append(
            PushSubscription(
                user=user,
                endpoint=endpoint,
                endpoint_hash=hashlib.sha256(endpoint.encode()).hexdigest(),
                p256dh=b64url(p256dh),
                auth=b64url(auth),
            )
        )
    with transaction.atomic():
        User.objects.bulk_create(users, batch_size=2000)
        NotificationPreferences.objects.bulk_create(prefs, batch_size=2000)
        PushSubscription.objects.bulk_create(subs, batch_size=2000)


def _tree(root_pid: int) -> list[int]:
    pids = [root_pid]
    try:
        with open(f"/proc/{root_pid}/task/{root_pid}/children") as fh:
            pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return pids


def process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU time of a process and its live children, from /proc."""
    total = 0
    for pid in _tree(root_pid):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def process_tree_rss_mb(root_pid: int) -> tuple[float, dict[int, float]]:
    """RSS of a process and its children (MB), from /proc."""
    pids = _tree(root_pid)
    per: dict[int, float] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        per[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return sum(per.values()), per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--verbose", action="store_true", help="the worker logs every task")
    args = parser.parse_args()

    env = bench_env()
    os.environ.update(env)
    from apps.notifications.push import generate_vapid_keys

    private_key, public_key = generate_vapid_keys()
    env.update({"BENCH_VAPID_PRIVATE_KEY": private_key, "BENCH_VAPID_PUBLIC_KEY": public_key})
    if args.verbose:
        env["BENCH_WORKER_LOGLEVEL"] = "INFO"

    print(f"fresh database {DB_NAME}, Redis {REDIS_URL} (flushed)", flush=True)
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(["redis-cli", "-n", "10", "FLUSHDB"], check=True, capture_output=True)

    ctx = mp.get_context("spawn")
    port, count, ready = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Event()
    service = ctx.Process(target=push_service_main, args=(port, count, ready, public_key))
    service.start()
    ready.wait(10)
    endpoint_base = f"http://127.0.0.1:{port.value}"

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count

    from apps.notifications.models import Delivery
    from energytrack.celery import app

    now = dt.datetime.now(tz=dt.UTC)
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    if now - hour_start > dt.timedelta(minutes=55):
        sys.exit("the hour is about to turn; start again in a few minutes")
    zones = daytime_zones(now)
    print(f"seeding {args.reps} reps over {len(zones)} daytime zones", flush=True)
    seed(args.reps, endpoint_base, zones, hour_start)
    connection.close()

    worker = subprocess.Popen(
        [PY, str(Path(__file__).resolve()), "worker"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    peak = {"total": 0.0, "per": {}}
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            total, per = process_tree_rss_mb(worker.pid)
            if total > peak["total"]:
                peak["total"], peak["per"] = total, per
            time.sleep(0.1)

    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("the worker did not start")
        idle_total, _ = process_tree_rss_mb(worker.pid)
        cpu_before = process_tree_cpu_seconds(worker.pid)
        load_before = os.getloadavg()[0]
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        started = time.perf_counter()
        app.send_task("apps.notifications.tasks.dispatch_local_schedules")
        deadline = time.monotonic() + args.timeout
        while count.value < args.reps and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        received = count.value
        worker_cpu = process_tree_cpu_seconds(worker.pid) - cpu_before
        load_after = os.getloadavg()[0]
        time.sleep(2)  # anything arriving late would be a duplicate
        stop_sampling.set()
        sampler.join()

        import urllib.request

        with urllib.request.urlopen(endpoint_base + "/", timeout=5) as response:  # noqa: S310
            report = json.loads(response.read())
        states = dict(Delivery.objects.values_list("state").annotate(n=Count("id")))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        service.terminate()
        service.join(5)
        connection.close()
        if not args.keep:
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=False
            )

    per = ", ".join(f"{mb:.0f}" for mb in sorted(peak["per"].values(), reverse=True))
    print()
    print(
        "| reps | push requests | seconds | pushes/s | worker CPU s | peak worker RSS MB "
        "(total; per process) | idle RSS MB | load avg (start/end, 2 CPUs) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    print(
        f"| {args.reps:,} | {received:,} | {elapsed:.1f} | {received / elapsed:,.0f} "
        f"| {worker_cpu:.1f} | {peak['total']:.0f} ({per}) | {idle_total:.0f} "
        f"| {load_before:.1f} / {load_after:.1f} |"
    )
    print()
    print(
        f"checks: unique endpoints {report['unique']:,}, duplicates {report['duplicates']}, "
        f"requests after the last {report['received'] - received}, deliveries {states}, "
        f"sample decrypted+VAPID-verified {report['verified']} "
        f"(errors {len(report['verify_errors'])}: {report['verify_errors'][:3]})"
    )
    ok = (
        received >= args.reps
        and report["duplicates"] == 0
        and report["received"] == args.reps
        and not report["verify_errors"]
        and states.get("sent") == args.reps
    )
    print(
        "RESULT:",
        "ok" if ok else "FAILED",
        f"(target < 60 s: {'met' if elapsed < 60 else 'missed'})",
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        sys.argv.pop(1)
        worker_main()
    else:
        main()
