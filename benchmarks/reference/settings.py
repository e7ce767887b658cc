"""The benchmark settings plus one extra route (the reference create); nothing else differs."""

from energytrack.settings.local import *  # noqa: F403

ROOT_URLCONF = "reference.urls"
