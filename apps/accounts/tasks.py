"""Celery entry points for accounts: take plain values, call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.accounts import services

logger = logging.getLogger(__name__)


@shared_task(
    name="apps.accounts.tasks.password_reset_mail",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=60,
)
def password_reset_mail(email: str) -> bool:
    try:
        return services.password_reset_send(email=email)
    except Exception as exc:  # a mail server that is down: logged, the rep can ask again
        logger.warning("password reset mail not sent (%s)", type(exc).__name__)
        return False
