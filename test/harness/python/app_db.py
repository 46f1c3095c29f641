"""The application side of the harness: connections and tenancy.

What a Django project's database layer does, reduced to psycopg 3:

- ``connect()``: a new connection as the application role; libpq reads
  PGHOST, PGPORT, PGDATABASE, PGUSER (and PGOPTIONS) from the environment,
  which test/harness/run.sh sets.  pg_perfaudit is told once per
  connection which session setting holds the tenant.
- ``set_tenant()``: what a tenancy middleware does at the start of a
  request.
- ``rolled_back_transaction()``: BEGIN ... ROLLBACK around a block, as
  Django's TestCase does around each test.
- ``savepoint()``: a nested block, as ``atomic()`` inside a test.
"""

import contextlib

import psycopg
from psycopg import sql

# The session setting that holds the current tenant (the one RLS policies
# would read).
TENANT_SETTING = "app.current_organization_id"


def connect(**kwargs):
    """A new autocommit connection as the application role."""
    conn = psycopg.connect("", autocommit=True, **kwargs)
    conn.execute(
        sql.SQL("SET perfaudit.tenant_setting = {}").format(sql.Literal(TENANT_SETTING))
    )
    return conn


def set_tenant(conn, org_id):
    """Make ``org_id`` the current tenant of the connection.

    SET takes no bound parameters, so the value is quoted as a literal.
    Capture runs do not count SET, as framework query counters do not.
    """
    conn.execute(
        sql.SQL("SET {} = {}").format(sql.SQL(TENANT_SETTING), sql.Literal(str(org_id)))
    )


@contextlib.contextmanager
def rolled_back_transaction(conn):
    """BEGIN before the block, ROLLBACK after it, even if it failed.

    An assertion that raised PA001 leaves the transaction aborted; it is
    rolled back all the same.
    """
    with conn.transaction(force_rollback=True):
        yield conn


@contextlib.contextmanager
def savepoint(conn):
    """SAVEPOINT ... RELEASE (or ROLLBACK TO on error) around a block.

    A caught PA001 inside it leaves the outer transaction usable, so the
    test can go on and look at the findings.
    """
    with conn.transaction():
        yield
