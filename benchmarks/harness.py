"""Shared benchmark plumbing: a fresh PostgreSQL database, gunicorn on loopback, wrk runs.

Loopback only, bounded in time: every wrk run has a fixed duration and connection count.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
WRK_DIR = Path(__file__).resolve().parent / "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(db_name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "energytrack.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "THROTTLE_WRITES": "10000000/min",
            "THROTTLE_LOGIN": "10000000/min",
            "THROTTLE_WEBHOOK": "10000000/min",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def fresh_database(db_name: str, env: dict[str, str]) -> None:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db_name], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], check=True)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def django_script(code: str, env: dict[str, str]) -> Any:
    """Run Python inside the Django project and return the JSON it prints last."""
    out = subprocess.run(
        [PY, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 4) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "energytrack.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/v1/health", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@dataclass
class WrkResult:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    non_2xx: int

    def row(self, baseline: float | None = None) -> str:
        ratio = f"{self.rps / baseline * 100:.0f} %" if baseline else "—"
        return (
            f"| {self.name} | {self.rps:,.0f} | {ratio} | {self.p50_ms:.1f} | {self.p95_ms:.1f} "
            f"| {self.p99_ms:.1f} | {self.errors + self.non_2xx} |"
        )


def wrk(
    name: str,
    url: str,
    script: str,
    *,
    env: dict[str, str] | None = None,
    duration: int = 10,
    connections: int = 8,
    threads: int = 2,
) -> WrkResult:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(WRK_DIR / script),
            url,
        ],
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return WrkResult(
        name=name,
        requests=data["requests"],
        rps=data["requests"] / data["duration_s"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        non_2xx=data["non_2xx"],
    )


TABLE_HEAD = (
    "| endpoint | req/s | vs. no-op | p50 ms | p95 ms | p99 ms | errors |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)
