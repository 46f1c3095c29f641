"""pytest fixtures: pg_perfaudit in a Django-TestCase-shaped suite.

- ``db``: a connection inside a transaction that is rolled back after the
  test (Django's TestCase).
- ``capture``: capture runs around blocks of the test through the
  helpers' ``perfaudit`` fixture (clients/python, its pytest plugin),
  labelled with the test's id so that perfaudit.runs says which test made
  which run; ``perfaudit_connection`` tells the plugin which connection
  is the test's.
- ``evidence``: after the test's rollback, checks from a fresh connection
  that every run the test stopped was stored (the product's promise,
  checked for every test that captures).
"""

import contextlib

import pytest

from app_db import connect, rolled_back_transaction

# The helpers' plugin (clients/python; test/harness/run.sh puts it on
# PYTHONPATH): the perfaudit fixture.
pytest_plugins = ["perfaudit.pytest_plugin"]


@pytest.fixture
def evidence():
    """Run ids a test captured, checked from a fresh connection afterwards.

    ``db`` depends on this fixture, so its teardown runs after the test's
    rollback: every run the test stopped must then be in perfaudit.runs,
    seen from another session.  A missing one is an error at teardown.
    """
    run_ids = []
    yield run_ids
    if not run_ids:
        return
    with connect() as conn:
        found = conn.execute(
            "SELECT array_agg(run_id ORDER BY run_id) FROM perfaudit.runs"
            " WHERE run_id = ANY(%s) AND stopped_at IS NOT NULL",
            [run_ids],
        ).fetchone()[0]
    assert found == sorted(run_ids), "runs stopped by the test are missing after its rollback"


@pytest.fixture
def db(evidence):
    """A connection inside a transaction rolled back after the test."""
    with connect() as conn:
        with rolled_back_transaction(conn):
            yield conn


@pytest.fixture
def perfaudit_connection(db):
    """The connection the perfaudit fixture captures on: the test's."""
    return db


class Capture:
    """Capture runs of one test, on one connection."""

    def __init__(self, conn, perfaudit, evidence):
        self.conn = conn
        self.perfaudit = perfaudit
        self.evidence = evidence

    @contextlib.contextmanager
    def run(self, what=""):
        """perfaudit.capture() around the block; yields its Run."""
        label = f"{self.perfaudit.label} {what}".strip()
        with self.perfaudit.capture(label) as run:
            yield run
        self.evidence.append(run.run_id)

    def findings(self, run, kind=None):
        """The run's findings as (kind, relation, tenant, query, detail)."""
        return [(f["kind"], f["relation"], f["tenant"], f["query"], f["detail"])
                for f in sorted(run.findings(kinds=None if kind is None else [kind]),
                                key=lambda f: f["kind"])]


@pytest.fixture
def capture(db, perfaudit, evidence):
    """Capture runs on the test's ``db`` connection."""
    return Capture(db, perfaudit, evidence)


def pytest_report_header(config):
    with connect() as conn:
        role, superuser, bypassrls, version = conn.execute(
            """SELECT current_user, rolsuper, rolbypassrls,
                      (SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit')
                 FROM pg_roles WHERE rolname = current_user"""
        ).fetchone()
    return (
        f"application role {role} (superuser: {superuser}, bypassrls: {bypassrls}), "
        f"pg_perfaudit {version}"
    )
