"""Settings of the gunicorn and Celery processes the fault tests start: the project's own
(Redis cache, sessions and broker when REDIS_URL is set; DEBUG from the environment), with the
database-unavailable middleware in place until the base settings register it."""

from energytrack.settings.local import *  # noqa: F403
from energytrack.settings.local import MIDDLEWARE

_OUTER = "apps.core.middleware.DatabaseUnavailableMiddleware"
_DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
_SESSIONS = "apps.core.middleware.SessionMiddleware"

if _OUTER not in MIDDLEWARE:
    _at = MIDDLEWARE.index(_SESSIONS if _SESSIONS in MIDDLEWARE else _DJANGO_SESSIONS)
    MIDDLEWARE = [*MIDDLEWARE[:_at], _OUTER, *MIDDLEWARE[_at:]]
MIDDLEWARE = [_SESSIONS if name == _DJANGO_SESSIONS else name for name in MIDDLEWARE]

# Two views that touch the database only through SessionMiddleware, so a failure there is
# a failure in middleware, not in a view.
ROOT_URLCONF = "tests.reliability.urls"
