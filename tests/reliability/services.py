"""Private, throwaway services for the fault tests: a PostgreSQL cluster, a Redis server,
gunicorn and Celery processes, each on its own free loopback port.

The shared PostgreSQL and Redis other people use are never stopped or reconfigured: every fault
is injected into a server started here, in a temporary directory, and removed afterwards.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
SETTINGS = "tests.reliability.settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(versions[-1]).parent if versions else None


def _as_postgres(command: list[str]) -> list[str]:
    # The server refuses to run as root: run it as the postgres OS user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own: stop it, restart it, crash it, nobody else notices."""

    bindir: Path
    port: int = field(default_factory=free_port)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="et-pg-")))

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        # fsync off only spares the disk; commits are still acknowledged after their WAL write,
        # so a stop of any kind loses nothing that was reported committed.
        options = f"-p {self.port} -h 127.0.0.1 -k {self.base} -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are terminated and open transactions rolled back; ``immediate``:
        every server process is killed, as in a crash, and the next start recovers from WAL."""
        subprocess.run(
            _as_postgres(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
            ),
            check=True,
            capture_output=True,
        )

    def running(self) -> bool:
        status = subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]),
            capture_output=True,
        )
        return status.returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def create_database(self, name: str) -> None:
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A Redis server without persistence: killed, it comes back empty, as after a crash."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, 10, what="redis-server")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of every process the fault tests start: production-like settings
    (Redis cache, sessions and broker, DEBUG off) on the private services."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "THROTTLE_WRITES": "1000000/min",
            "THROTTLE_IMPORTS": "100000/hour",
            "LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def django_script(code: str, env: dict[str, str], timeout: float = 60) -> Any:
    """Run ``code`` in a fresh Django process with ``env``; return the JSON it prints last."""
    done = subprocess.run(
        [PY, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"script failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# Consenting reps with a signed-in session each; prints [{"user", "session", "csrf"}, ...].
REPS_SCRIPT = r"""
import json, os, secrets, string, datetime as dt
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore
from django.utils import timezone
from apps.accounts.models import User
from apps.privacy.models import Category
from apps.privacy.services import consent_grant

prefix = os.environ["REPS_PREFIX"]
reps = []
for i in range(int(os.environ["REPS_COUNT"])):
    user = User.objects.create_user(
        email=f"{prefix}{i}@example.com",
        password=secrets.token_urlsafe(16),
        timezone=os.environ.get("REPS_TIMEZONE", "Europe/Amsterdam"),
        date_joined=timezone.now() - dt.timedelta(days=400),
    )
    for category in Category.values:
        consent_grant(user=user, category=category)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    reps.append({"user": str(user.pk), "session": session.session_key, "csrf": csrf})
print(json.dumps(reps))
"""


@dataclass
class Rep:
    user: str
    session: str
    csrf: str

    def http(self) -> requests.Session:
        """A client as the PWA is one: session cookie, CSRF cookie and header."""
        client = requests.Session()
        if self.session:
            client.cookies.set("sessionid", self.session, domain="127.0.0.1")
        client.cookies.set("csrftoken", self.csrf, domain="127.0.0.1")
        client.headers["X-CSRFToken"] = self.csrf
        return client


def make_reps(env: dict[str, str], prefix: str, count: int, tz: str = "") -> list[Rep]:
    extra = {"REPS_PREFIX": prefix, "REPS_COUNT": str(count)}
    if tz:
        extra["REPS_TIMEZONE"] = tz
    return [Rep(**rep) for rep in django_script(REPS_SCRIPT, {**env, **extra})]


@dataclass
class Gunicorn:
    base: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 4) -> Iterator[Gunicorn]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "energytrack.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(base=f"http://127.0.0.1:{port}", process=process)
    try:

        def up() -> bool:
            try:
                return requests.get(server.base + "/api/v1/health", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(up, 30, what=f"gunicorn (log: {log})")
        wait_until(lambda: len(server.worker_pids()) == workers, 30, what="gunicorn workers")
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def celery(
    env: dict[str, str], log: Path, *args: str, app: str = "energytrack.celery"
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [PY, "-m", "celery", "-A", app, *args, "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
