"""Secrets at rest: hashed bearer secrets and Fernet-encrypted notes with key rotation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from apps.core import crypto
from apps.core.crypto import EncryptedTextField, decrypt_text, encrypt_text, hash_secret

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
NOTE = "Slept badly; two glasses of wine at the client dinner."


@pytest.fixture(autouse=True)
def _fresh_fernet() -> Iterator[None]:
    # MultiFernet is cached per process; override_settings does not reset it.
    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


def _with_keys(*keys: str) -> override_settings:
    crypto._fernet.cache_clear()
    return override_settings(FIELD_ENCRYPTION_KEYS=list(keys))


def test_hash_secret_is_sha256_hex():
    assert hash_secret("et_abc") == hashlib.sha256(b"et_abc").hexdigest()
    assert len(hash_secret("x")) == 64
    assert hash_secret("a") != hash_secret("b")


def test_roundtrip_and_ciphertext_hides_the_text():
    with _with_keys(NEW_KEY):
        token = encrypt_text(NOTE)
        # With its space, never a chance match in the token's base64 (a bare "wine" could be).
        assert "of wine" not in token
        assert token != encrypt_text(NOTE)  # random IV: equal notes do not look equal
        assert decrypt_text(token) == NOTE


def test_key_rotation_old_notes_stay_readable_new_notes_use_the_new_key():
    with _with_keys(OLD_KEY):
        old_token = encrypt_text(NOTE)

    with _with_keys(NEW_KEY, OLD_KEY):
        assert decrypt_text(old_token) == NOTE
        new_token = encrypt_text("fresh note")

    # The first key encrypts: the new note is readable with the new key alone …
    with _with_keys(NEW_KEY):
        assert decrypt_text(new_token) == "fresh note"
        # … and a note only the removed key can read is an error, never ciphertext.
        with pytest.raises(ValueError, match="no matching key"):
            decrypt_text(old_token)


def test_unreadable_ciphertext_is_an_error():
    with _with_keys(NEW_KEY), pytest.raises(ValueError):
        decrypt_text("not-a-fernet-token")


def test_field_encrypts_on_the_way_in_and_decrypts_on_the_way_out():
    field = EncryptedTextField()
    with _with_keys(NEW_KEY, OLD_KEY):
        stored = field.get_prep_value(NOTE)
        assert isinstance(stored, str)
        assert "of wine" not in stored
        assert Fernet(NEW_KEY.encode()).decrypt(stored.encode()).decode() == NOTE
        assert field.from_db_value(stored, None, None) == NOTE


def test_field_reads_notes_written_under_the_old_key():
    field = EncryptedTextField()
    with _with_keys(OLD_KEY):
        stored = field.get_prep_value(NOTE)
    with _with_keys(NEW_KEY, OLD_KEY):
        assert field.from_db_value(stored, None, None) == NOTE
    with _with_keys(NEW_KEY), pytest.raises(ValueError):
        field.from_db_value(stored, None, None)


@pytest.mark.parametrize("empty", [None, ""])
def test_field_keeps_empty_values_as_they_are(empty):
    field = EncryptedTextField()
    assert field.get_prep_value(empty) == empty
    assert field.from_db_value(empty, None, None) == empty
