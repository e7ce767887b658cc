"""Test settings: PostgreSQL and Redis when reachable (CI always), SQLite/locmem otherwise.

``SERVICES`` records what is real so tests needing a service can skip loudly, or fail when
``REQUIRE_SERVICES=1``.
"""

import socket

from .base import *  # noqa: F403
from .base import BASE_DIR, engine_options, env


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


SERVICES: dict[str, bool] = {}
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    SERVICES["postgres"] = DATABASES["default"]["ENGINE"].endswith("postgresql")
elif _reachable("127.0.0.1", 5432):
    DATABASES = {"default": env.db_url_config("postgres://postgres@127.0.0.1:5432/energytrack")}
    SERVICES["postgres"] = True
else:
    DATABASES = {"default": env.db_url_config(f"sqlite:///{BASE_DIR / 'var' / 'test.sqlite3'}")}
    SERVICES["postgres"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, as the embedded default uses, not Django's shared-cache in-memory test database:
    # that one locks whole tables and fails at once ("database table is locked") when the
    # in-process Celery worker of a test writes while a request does.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-run.sqlite3")}
engine_options(DATABASES["default"])

REDIS_URL = env("REDIS_URL", default="")
if not REDIS_URL and _reachable("127.0.0.1", 6379):
    REDIS_URL = "redis://127.0.0.1:6379/15"
SERVICES["redis"] = bool(REDIS_URL)

# Tests use locmem cache so throttles and sessions are isolated per test process; the broker
# is Redis when present (real round trips), memory transport otherwise.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BROKER_CONNECTION_TIMEOUT = 1

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"  # noqa: S105
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
# Generous limits so functional tests do not trip throttles; throttle tests override these.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "login": "1000/min",
    "login_account": "1000/min",
    "password_reset": "1000/min",
    "writes": "100000/min",
    "imports": "1000/min",
    "webhook": "100000/min",
}

PUSH_ALLOW_LOOPBACK = True
