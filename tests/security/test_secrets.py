"""Secrets come only from the environment (STYLE.md "Settings", OWASP API8).

Production settings must refuse to start without each secret, and the secret-looking
defaults of the settings modules (there for development) must never be what production runs
with. `manage.py check --deploy` under production settings is also run by `make ci-checks`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.security.production import ROOT, manage, production_env

SETTINGS_DIR = ROOT / "energytrack" / "settings"
SECRET_NAME = re.compile(r"SECRET|PRIVATE|(^|_)KEYS?$|PASSWORD$|TOKEN$")
# Public by nature, though their names say "key".
PUBLIC = {"VAPID_PUBLIC_KEY"}


def _secret_defaults(path: Path) -> dict[str, str]:
    """Non-empty string literals a settings module gives a secret-looking name, directly or as
    the ``default=`` of an ``env(...)`` call."""
    found: dict[str, str] = {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not any(SECRET_NAME.search(name) for name in names):
            continue
        if any(name in PUBLIC for name in names):
            continue
        for inner in ast.walk(node.value):
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and inner.value:
                env_name = ""
                if isinstance(node.value, ast.Call) and node.value.args:
                    first = node.value.args[0]
                    env_name = str(first.value) if isinstance(first, ast.Constant) else ""
                if inner.value != env_name:
                    found[f"{path.name}:{names[0]}"] = inner.value
    return found


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_check_deploy_passes_with_secrets_from_the_environment() -> None:
    result = manage(production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize(
    "variable", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "VAPID_PRIVATE_KEY", "DATABASE_URL"]
)
def test_production_refuses_to_start_without_a_secret(variable: str) -> None:
    env = production_env()
    del env[variable]
    result = manage(env, "check", "--deploy")
    assert result.returncode != 0, result.stdout
    assert f"Set the {variable} environment variable" in result.stderr, result.stderr[-2000:]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_an_empty_secret_key_is_refused() -> None:
    result = manage(
        {**production_env(), "DJANGO_SECRET_KEY": ""},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode != 0, result.stdout


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "not-a-fernet-key"])
def test_an_empty_or_malformed_encryption_key_is_refused(value: str) -> None:
    env = {**production_env(), "FIELD_ENCRYPTION_KEYS": value}
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0, result.stdout


def test_the_settings_scan_finds_the_development_defaults() -> None:
    # The scan below is not blind: base.py has development secrets, and they are found.
    found = _secret_defaults(SETTINGS_DIR / "base.py")
    assert "base.py:SECRET_KEY" in found
    assert "base.py:FIELD_ENCRYPTION_KEYS" in found


def test_production_py_holds_no_secret_literal() -> None:
    assert _secret_defaults(SETTINGS_DIR / "production.py") == {}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_production_runs_with_the_environments_secrets_not_a_default() -> None:
    env = production_env()
    defaults = {
        **_secret_defaults(SETTINGS_DIR / "base.py"),
        **_secret_defaults(SETTINGS_DIR / "production.py"),
    }
    result = manage(
        env,
        "shell",
        "-c",
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'SECRET_KEY': s.SECRET_KEY, 'FIELD_ENCRYPTION_KEYS': s.FIELD_ENCRYPTION_KEYS, "
        "'VAPID_PRIVATE_KEY': s.VAPID_PRIVATE_KEY, "
        "'EMAIL_HOST_PASSWORD': s.EMAIL_HOST_PASSWORD, 'DEBUG': s.DEBUG}))",
    )
    assert result.returncode == 0, result.stderr
    running = json.loads(result.stdout.strip().splitlines()[-1])
    assert running == {
        "SECRET_KEY": env["DJANGO_SECRET_KEY"],
        "FIELD_ENCRYPTION_KEYS": [env["FIELD_ENCRYPTION_KEYS"]],
        "VAPID_PRIVATE_KEY": env["VAPID_PRIVATE_KEY"],
        "EMAIL_HOST_PASSWORD": "",
        "DEBUG": False,
    }
    in_use = json.dumps(running)
    leaked = {name: value for name, value in defaults.items() if value in in_use}
    assert not leaked, f"production runs with a development default: {leaked}"
