"""Private services for the fault tests (see services.py): missing binaries skip loudly, or
fail under REQUIRE_SERVICES=1 like every other test that needs a service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import service_missing
from tests.reliability.services import (
    PrivatePostgres,
    migrate,
    postgres_bindir,
    service_env,
)

DATABASE = "et_reliability"


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A migrated database on a PostgreSQL cluster of the tests' own, shared by the tests of
    one run (each uses its own reps). A test that stops it starts it again."""
    bindir = postgres_bindir()
    if bindir is None:
        service_missing("PostgreSQL (initdb, pg_ctl)")
    assert bindir is not None
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
        server.create_database(DATABASE)
        # Migrations need no Redis; the URL only has to be well-formed.
        migrate(service_env(server.url(DATABASE), "redis://127.0.0.1:1/0"))
        yield server
    finally:
        server.remove()
