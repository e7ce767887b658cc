"""Settings shared by every environment.

All configuration comes from the environment through one ``environ.Env``; nothing else in
the code base reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "apps.core",
    "apps.accounts",
    "apps.privacy",
    "apps.journal",
    "apps.performance",
    "apps.insights",
    "apps.notifications",
    "apps.coaching",
    "apps.pwa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After whitenoise (static files never reach it), before everything that writes the body.
    "apps.core.middleware.LargeJsonGZipMiddleware",
    "apps.core.middleware.BodySizeLimitMiddleware",
    # A database that cannot be reached is a 503 with Retry-After wherever the request failed.
    "apps.core.middleware.DatabaseUnavailableMiddleware",
    "apps.core.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "energytrack.urls"
WSGI_APPLICATION = "energytrack.wsgi.application"
ASGI_APPLICATION = "energytrack.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Embedded default: SQLite in the project folder. Production sets DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True


def engine_options(database: dict[str, Any]) -> dict[str, Any]:
    """Per-engine connection options; every settings module that defines DATABASES passes it
    through here.

    PostgreSQL: Django's own cursors bind parameters client-side and never prepare; this
    applies only to the few hot statements run through apps.core.sql.server_bound_cursor,
    prepared on their fifth run per connection (planning them costs PostgreSQL more than
    running them). Behind a transaction-mode pooler without prepared-statement support, set
    DB_PREPARE_THRESHOLD=off.

    SQLite (the embedded default): transactions start with BEGIN IMMEDIATE, so a request and
    the in-process worker writing at once wait for each other (the busy timeout) instead of one
    failing with "database is locked" when its read transaction tries to become a write.
    """
    options = database.setdefault("OPTIONS", {})
    if database["ENGINE"] == "django.db.backends.postgresql":
        threshold = env("DB_PREPARE_THRESHOLD", default="5")
        options["prepare_threshold"] = None if threshold == "off" else int(threshold)
    elif database["ENGINE"] == "django.db.backends.sqlite3":
        options["transaction_mode"] = "IMMEDIATE"
    return database


engine_options(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.SoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "et",
            # A hung Redis must cost a request half a second at most, not a worker timeout.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "energytrack",
        }
    }

# Django's cached_db, except that the Redis copy of a session lives at most
# SESSION_CACHE_SECONDS: a sign-out whose cache deletion failed ends the session that much
# later at most (apps/core/sessions.py). One session read from PostgreSQL a minute per rep.
SESSION_ENGINE = "apps.core.sessions"
SESSION_CACHE_SECONDS = env.int("SESSION_CACHE_SECONDS", default=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
CSRF_COOKIE_SAMESITE = "Lax"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

# Request bodies above this are refused with a 413 before any parsing (see core.middleware).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
IMPORT_SYNC_MAX_BYTES = env.int("IMPORT_SYNC_MAX_BYTES", default=1024 * 1024)
# Endpoints that take files have their own, larger limits (uploads stream to disk).
API_BODY_LIMITS: dict[str, int] = {
    "/api/v1/privacy/import": env.int("IMPORT_USER_MAX_BYTES", default=50 * 1024 * 1024),
    # CSV imports stream to disk; room for the multipart framing around the file.
    "/api/v1/performance/imports": env.int("IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
    + 1024 * 1024,
    # Push subscriptions and preferences are tiny; nothing bigger is ever legitimate there.
    "/api/v1/notifications/": 16 * 1024,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exceptions.problem_exception_handler",
    # Per-IP limits must key on the address the nearest trusted proxy saw, never on what a
    # client writes into X-Forwarded-For itself (0 = no proxy: the socket's address).
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "login": env("THROTTLE_LOGIN", default="10/min"),
        "login_account": env("THROTTLE_LOGIN_ACCOUNT", default="20/hour"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
        "writes": env("THROTTLE_WRITES", default="600/min"),
        "imports": env("THROTTLE_IMPORTS", default="20/hour"),
        "webhook": env("THROTTLE_WEBHOOK", default="6000/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "energytrack API",
    "DESCRIPTION": (
        "Private lifestyle journal and sales-quality insights for sales reps. "
        "Every error is application/problem+json: {type, title, status, detail, errors}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # apps.core.converters: a UUID in either case.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "string", "format": "uuid"}},
    "ENUM_NAME_OVERRIDES": {
        "UpsertResultEnum": ["created", "updated", "unchanged", "stale"],
        "BatchItemResultEnum": ["created", "updated", "unchanged", "stale", "rejected"],
        "MeetingStatusEnum": "apps.performance.choices.MeetingStatus",
        "InsightStatusEnum": ["new", "read", "dismissed"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.add_problem_responses",
    ],
}

# Free-text notes are encrypted with Fernet; the first key encrypts, all keys decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["Zm9yLWRldmVsb3BtZW50LW9ubHktMzItYnl0ZXMtISE="]
)

# Web Push (VAPID). `manage.py vapid_keys` prints a fresh pair; production requires the key.
VAPID_PRIVATE_KEY = env("VAPID_PRIVATE_KEY", default="")
VAPID_PUBLIC_KEY = env("VAPID_PUBLIC_KEY", default="")
VAPID_SUBJECT = env("VAPID_SUBJECT", default="mailto:privacy@energytrack.app")
# Plain-http push endpoints on loopback are only for the tests' fake push service.
PUSH_ALLOW_LOOPBACK = env.bool("PUSH_ALLOW_LOOPBACK", default=False)
PUSH_EGRESS_PROXY = env("PUSH_EGRESS_PROXY", default="")
NOTIFICATIONS_UNSUBSCRIBE_RATE = env("THROTTLE_UNSUBSCRIBE", default="60/min")

# How long a rendered day view stays in the cache (its key holds the journal version, so this
# only bounds memory); 0 turns the cache off.
JOURNAL_DAY_VIEW_CACHE_SECONDS = env.int("JOURNAL_DAY_VIEW_CACHE_SECONDS", default=600)

# How long a webhook drain waits after the delivery that queued it, gathering the rest of the
# CRM's burst into one batch (decisions.md, "The CRM webhook is throttled per client IP").
WEBHOOK_DRAIN_DELAY_SECONDS = env.int("WEBHOOK_DRAIN_DELAY_SECONDS", default=5)

# How long raw journal entries are kept (DESIGN.md §2.5).
RETENTION_MONTHS = env.int("RETENTION_MONTHS", default=18)
INVITATION_TTL_HOURS = env.int("INVITATION_TTL_HOURS", default=72)
COACHING_DRAFT_TTL_DAYS = env.int("COACHING_DRAFT_TTL_DAYS", default=14)
FRONTEND_BASE_URL = env("FRONTEND_BASE_URL", default="http://127.0.0.1:8000")

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="energytrack <noreply@energytrack.local>")

# --- Celery -------------------------------------------------------------------------------
# Without REDIS_URL the embedded default uses kombu's filesystem transport: a real broker
# shared by the web process, the worker and beat, with no service to install.
CELERY_DATA_DIR = BASE_DIR / "var" / "celery"
# A message of a worker that died is delivered again after this long (acks_late). Longer than
# the longest hard time limit (retention purge, 2,000 s), so a running task is never handed to a
# second worker; shorter than the 50-minute expiry of the hourly dispatchers, so a nightly chunk
# whose worker died is redelivered before it expires instead of being dropped.
BROKER_VISIBILITY_TIMEOUT = 35 * 60

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT
    }
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request must never hang on a dead broker (DESIGN.md §6): fail fast, the nightly job repairs.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# Django's Celery fixup closes the DB connection around every task; reusing it is ~6x faster.
CELERY_DB_REUSE_MAX = 1000

CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Every hour on the hour: reps whose local reminder time, or local Monday 08:00 digest,
    # falls in this hour (own zone, DST included) get their rows, fanned out in chunks.
    # Minute 0 so a 17:00 reminder is not late.
    "notifications-dispatch": {
        "task": "apps.notifications.tasks.dispatch_local_schedules",
        "schedule": crontab(minute=0),
        "options": {"expires": 50 * 60},
    },
    # Every minute: queue deliveries that are due (a reminder's minute, the end of quiet hours,
    # a retry's backoff, a task lost with the broker) and release claims of dead workers.
    "notifications-sweep": {
        "task": "apps.notifications.tasks.sweep_deliveries",
        "schedule": crontab(),
        "options": {"expires": 55},
    },
    # Every 30 s: recompute the day features of days the journal or the sales data marked stale
    # (in the writing transaction: a mark is never lost with the broker; DESIGN.md §6).
    "insights-stale-days": {
        "task": "apps.insights.tasks.stale_days_refresh",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Hourly at :05: fan out the nightly insight run to reps whose local 05:00 falls in this
    # UTC hour (half- and quarter-hour zones included; DESIGN.md §6 dispatcher pattern). The
    # expiry keeps a late run inside its own hour, so the window is always the scheduled one.
    "insights-dispatch": {
        "task": "apps.insights.tasks.dispatch_nightly_insights",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    # Hourly at :40: drafts last week's coaching summary for every live share once Monday 06:00
    # has passed in the rep's zone (after the 05:00-local nightly features). Only shares still
    # missing a draft are sent, so most runs send nothing and a lost run is repaired next hour.
    "coaching-weekly-summaries": {
        "task": "apps.coaching.tasks.dispatch_weekly_summaries",
        "schedule": crontab(minute=40),
        "options": {"expires": 50 * 60},
    },
    # 04:15 UTC daily: drafts the rep did not approve in time expire and their content is
    # dropped; quiet hour in Europe.
    "coaching-expire-drafts": {
        "task": "apps.coaching.tasks.expire_drafts",
        "schedule": crontab(hour=4, minute=15),
        "options": {"expires": 6 * 60 * 60},
    },
    # Every minute: re-queue webhook drains and import jobs whose broker message was lost
    # (pending > 1 min, queued > 5 min, running without progress > 10 min); drop week-old
    # webhook deliveries.
    "performance-sweep": {
        "task": "apps.performance.tasks.performance_sweep",
        "schedule": crontab(),
        "options": {"expires": 55},
    },
    # Every 5 minutes: exports whose trigger was lost while the broker was down get built.
    "privacy-sweep-exports": {
        "task": "apps.privacy.tasks.sweep_pending_exports",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    # 03:30 UTC daily: purge raw entries older than the retention period; quiet hour in Europe.
    "privacy-retention": {
        "task": "apps.privacy.tasks.purge_expired_entries",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * 60 * 60},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request bodies never reach the logs: django.request logs only path and status.
        "django.request": {"level": "WARNING"},
        # urllib3's debug lines carry push endpoint URLs.
        "urllib3": {"level": "WARNING"},
    },
}
