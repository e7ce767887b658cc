"""Secrets at rest: SHA-256 for bearer secrets, Fernet (MultiFernet, rotatable) for notes."""

from __future__ import annotations

import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


@receiver(setting_changed)
def _reset_keys(*, setting: str, **_: object) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def encrypt_text(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # A note we cannot decrypt means a key was removed too early; never return ciphertext.
        raise ValueError("cannot decrypt note: no matching key in FIELD_ENCRYPTION_KEYS") from exc


class EncryptedTextField(models.TextField):
    """Text stored as Fernet ciphertext; the first configured key encrypts, any key decrypts."""

    def from_db_value(
        self, value: str | None, expression: object, connection: object
    ) -> str | None:
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value: object) -> str | None:
        if value is None or value == "":
            return value
        return encrypt_text(str(value))
