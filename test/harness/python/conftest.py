"""pytest fixtures: pg_perfaudit in a Django-TestCase-shaped suite.

- ``db``: a connection inside a transaction that is rolled back after the
  test (Django's TestCase).
- ``capture``: opens and closes capture runs around blocks of the test,
  labelled with the test's id so that perfaudit.runs says which test made
  which run.
- ``evidence``: after the test's rollback, checks from a fresh connection
  that every run the test stopped was stored (the product's promise,
  checked for every test that captures).
"""

import contextlib

import pytest

from app_db import connect, rolled_back_transaction


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


class Capture:
    """Capture runs of one test, on one connection."""

    def __init__(self, conn, label, evidence):
        self.conn = conn
        self.label = label
        self.evidence = evidence

    @contextlib.contextmanager
    def run(self, what=""):
        """start() before the block, stop() after it; yields the run id."""
        label = f"{self.label} {what}".strip()
        run_id = self.conn.execute("SELECT perfaudit.start(%s)", [label]).fetchone()[0]
        yield run_id
        self.conn.execute("SELECT perfaudit.stop()")
        self.evidence.append(run_id)

    def statements(self, run_id):
        """runs.statements of a stopped run."""
        return self.conn.execute(
            "SELECT statements FROM perfaudit.runs WHERE run_id = %s", [run_id]
        ).fetchone()[0]

    def findings(self, run_id, kind=None):
        """The run's findings as (kind, relation, tenant, query, detail)."""
        return self.conn.execute(
            """SELECT kind, relation, tenant, query, detail
                 FROM perfaudit.findings
                WHERE run_id = %s AND (%s::text IS NULL OR kind = %s)
                ORDER BY finding_id""",
            [run_id, kind, kind],
        ).fetchall()


@pytest.fixture
def capture(db, evidence, request):
    """Capture runs on the test's ``db`` connection."""
    return Capture(db, request.node.nodeid, evidence)


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
