"""Developer machine: the embedded default (SQLite + filesystem Celery transport)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
