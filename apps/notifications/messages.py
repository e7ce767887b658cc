"""The words of every notification, in the rep's language (Django i18n, locale/nl).

A notification row stores a title key and plain parameters; the text is made here when the
inbox is read or a push is sent, so a rep who switches language gets the new one. The lock
screen gets neutral words unless the rep opted into detailed text (DESIGN.md §2.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext, ngettext

BRAND = "energytrack"
INSIGHT_NEW = "insight.new"
REMINDER_CHECKIN = "reminder.checkin"
DIGEST_WEEKLY = "digest.weekly"
SYSTEM_NOTICE = "system.notice"
# A push payload must stay far below the 4 KiB Web Push limit after encryption.
MAX_PUSH_BODY_CHARS = 400


@dataclass(frozen=True)
class Text:
    title: str
    body: str


def _count(params: dict[str, Any]) -> int:
    count = params.get("count")
    return count if isinstance(count, int) and count > 0 else 1


def _inbox(title_key: str, params: dict[str, Any], body: str, detail: str | None) -> Text:
    if title_key == INSIGHT_NEW:
        count = _count(params)
        title = ngettext("A new insight is ready", "%(count)d new insights are ready", count) % {
            "count": count
        }
        if count == 1 and detail:
            return Text(title, detail)
        return Text(
            title, ngettext("Open Insights to read it.", "Open Insights to read them.", count)
        )
    if title_key == REMINDER_CHECKIN:
        return Text(
            gettext("Time for a quick check-in"),
            gettext("How is your energy right now? Logging it takes a few seconds."),
        )
    if title_key == DIGEST_WEEKLY:
        return Text(
            gettext("Your week in energytrack"),
            gettext("Your weekly summary is in your mailbox."),
        )
    return Text(gettext("A message from energytrack"), body)


def inbox_text(
    title_key: str,
    params: dict[str, Any],
    *,
    locale: str,
    body: str = "",
    detail: str | None = None,
) -> Text:
    """Title and body as the inbox shows them (the rep is signed in: details are fine).

    ``detail`` is the rendered source object (e.g. the insight's sentence), when there is one.
    """
    with translation.override(locale):
        return _inbox(title_key, params, body, detail)


def push_text(
    title_key: str,
    params: dict[str, Any],
    *,
    locale: str,
    detailed: bool,
    body: str = "",
    detail: str | None = None,
) -> Text:
    """What a lock screen may show: neutral ("energytrack: A new insight is ready") unless
    the rep chose detailed text."""
    with translation.override(locale):
        full = _inbox(title_key, params, body, detail)
        if not detailed:
            return Text(BRAND, full.title)
        text = full.body
        if len(text) > MAX_PUSH_BODY_CHARS:
            text = text[: MAX_PUSH_BODY_CHARS - 1].rstrip() + "…"
        return Text(full.title, text)


def email_subject(title_key: str, *, locale: str) -> str:
    with translation.override(locale):
        if title_key == DIGEST_WEEKLY:
            return gettext("Your week in energytrack")
        return gettext("A message from energytrack")


def unsubscribe_texts(*, locale: str, done: bool, valid: bool) -> dict[str, str]:
    """The words of the unsubscribe page (a person opens it from an e-mail)."""
    with translation.override(locale):
        if not valid:
            return {
                "title": gettext("This unsubscribe link is not valid"),
                "message": gettext(
                    "The link is damaged or too old. You can turn off the weekly e-mail "
                    "under Settings in the app."
                ),
                "button": "",
            }
        if done:
            return {
                "title": gettext("You are unsubscribed"),
                "message": gettext(
                    "You will not receive the weekly e-mail any more. You can turn it back on "
                    "under Settings in the app."
                ),
                "button": "",
            }
        return {
            "title": gettext("Unsubscribe from the weekly e-mail?"),
            "message": gettext("You will no longer receive the weekly summary by e-mail."),
            "button": gettext("Unsubscribe"),
        }
