"""The vapid_keys command and the Dutch message catalogue."""

from __future__ import annotations

import gettext
import re
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.test import override_settings
from py_vapid import Vapid02

from apps.notifications import push
from tests.notifications.fakepush import b64url_decode, b64url_encode

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "nl" / "LC_MESSAGES"


def test_vapid_keys_prints_a_fresh_matching_pair() -> None:
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("vapid_keys", stdout=out)
        outputs.append(dict(line.split("=", 1) for line in out.getvalue().split()))
    first, second = outputs
    assert set(first) == {"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"}
    assert first["VAPID_PRIVATE_KEY"] != second["VAPID_PRIVATE_KEY"]
    assert len(b64url_decode(first["VAPID_PRIVATE_KEY"])) == 32
    public = b64url_decode(first["VAPID_PUBLIC_KEY"])
    assert len(public) == 65 and public[0] == 4
    signer = Vapid02.from_string(private_key=first["VAPID_PRIVATE_KEY"])
    derived = signer.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64url_encode(derived) == first["VAPID_PUBLIC_KEY"]


def test_mismatched_or_bad_vapid_settings_are_reported() -> None:
    private_a, _ = push.generate_vapid_keys()
    _, public_b = push.generate_vapid_keys()
    from apps.notifications.checks import vapid_settings_present, vapid_settings_valid

    with override_settings(
        VAPID_PRIVATE_KEY=private_a, VAPID_PUBLIC_KEY=public_b, VAPID_SUBJECT="mailto:a@b.c"
    ):
        assert [e.id for e in vapid_settings_valid()] == ["notifications.E001"]
    with override_settings(VAPID_PRIVATE_KEY="not-a-key", VAPID_SUBJECT="mailto:a@b.c"):
        assert [e.id for e in vapid_settings_valid()] == ["notifications.E001"]
    with override_settings(VAPID_PRIVATE_KEY=private_a, VAPID_SUBJECT="someone@example.com"):
        assert [e.id for e in vapid_settings_valid()] == ["notifications.E001"]
    with override_settings(VAPID_PRIVATE_KEY=""):
        assert [w.id for w in vapid_settings_present()] == ["notifications.W001"]
    with override_settings(
        VAPID_PRIVATE_KEY=private_a, VAPID_PUBLIC_KEY="", VAPID_SUBJECT="https://energytrack.app"
    ):
        assert vapid_settings_valid() == [] and vapid_settings_present() == []


def _po_entries(text: str) -> dict[str, list[str]]:
    """msgid -> translations, from a .po file (enough of the format for our catalogue)."""

    def unquote(block: str) -> str:
        return (
            "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block))
            .encode()
            .decode("unicode_escape")
            .encode("latin-1")
            .decode("utf-8")
        )

    entries: dict[str, list[str]] = {}
    for chunk in text.split("\n\n"):
        lines = [line for line in chunk.splitlines() if not line.startswith("#")]
        body = "\n".join(lines)
        match = re.search(r'msgid ((?:".*"\n?)+)', body)
        if not match:
            continue
        msgid = unquote(match.group(1))
        if not msgid:
            continue
        plural = re.search(r'msgid_plural ((?:".*"\n?)+)', body)
        if plural:
            strs = [unquote(m) for m in re.findall(r'msgstr\[\d\] ((?:".*"\n?)+)', body)]
            entries[msgid] = strs
        else:
            entries[msgid] = [unquote(re.search(r'msgstr ((?:".*"\n?)+)', body).group(1))]
    return entries


def test_every_dutch_text_is_translated_and_the_mo_file_is_current() -> None:
    entries = _po_entries((LOCALE / "django.po").read_text(encoding="utf-8"))
    assert len(entries) >= 20
    with (LOCALE / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for msgid, translations in entries.items():
        assert all(translations), f"untranslated: {msgid!r}"
        if len(translations) == 1:
            assert catalogue.gettext(msgid) == translations[0], msgid
        else:
            assert catalogue.ngettext(msgid, msgid + "s", 1) == translations[0], msgid
            assert catalogue.ngettext(msgid, msgid + "s", 5) == translations[1], msgid


@pytest.mark.parametrize(
    ("key", "en", "nl"),
    [
        ("reminder.checkin", "Time for a quick check-in", "Tijd voor een korte check-in"),
        ("digest.weekly", "Your week in energytrack", "Je week in energytrack"),
        ("system.notice", "A message from energytrack", "Een bericht van energytrack"),
    ],
)
def test_every_kind_has_words_in_both_languages(key, en, nl) -> None:
    from apps.notifications.messages import inbox_text, push_text

    assert inbox_text(key, {}, locale="en").title == en
    assert inbox_text(key, {}, locale="nl").title == nl
    assert push_text(key, {}, locale="nl", detailed=False).body == nl
    assert push_text(key, {}, locale="nl", detailed=False).title == "energytrack"
