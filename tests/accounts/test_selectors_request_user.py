"""``request_user``: the authenticated user, unwrapped from Django's lazy proxy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject

from apps.accounts.models import User
from apps.accounts.selectors import request_user
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_session_users_lazy_proxy_is_unwrapped() -> None:
    user = UserFactory()
    request = SimpleNamespace(user=SimpleLazyObject(lambda: user))

    found = request_user(request)

    # The real instance: the services set it on many rows, each time through the proxy else.
    assert type(found) is User
    assert found is user


def test_an_anonymous_request_is_refused() -> None:
    with pytest.raises(TypeError):
        request_user(SimpleNamespace(user=SimpleLazyObject(AnonymousUser)))
