"""perfaudit on psycopg 3 and psycopg2 connections, each test inside a
transaction rolled back after it (as a test suite's), and on autocommit
connections.  Needs PGHOST, PGPORT, PGUSER, PGDATABASE of a server with
pg_perfaudit preloaded and created in the database."""

import psycopg
import psycopg2
import pytest

import perfaudit

DRIVERS = ["psycopg", "psycopg2"]


def connect(driver, autocommit=False):
    if driver == "psycopg":
        conn = psycopg.connect("", autocommit=autocommit)
    else:
        conn = psycopg2.connect("")
        conn.autocommit = autocommit
    return conn


@pytest.fixture(scope="module", autouse=True)
def schema():
    with psycopg.connect("", autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE IF NOT EXISTS cl_servers (id int PRIMARY KEY, organization_id int NOT NULL, name text);
            TRUNCATE cl_servers;
            INSERT INTO cl_servers SELECT g, 1 + g % 4, 'server ' || g FROM generate_series(1, 40) g;
            ANALYZE cl_servers;""")
    yield


@pytest.fixture(params=DRIVERS)
def conn(request):
    """A connection in a transaction rolled back after the test."""
    c = connect(request.param)
    c.cursor().execute("SET perfaudit.tenant_setting = 'app.org'")
    yield c
    c.rollback()
    c.close()


def run_sql(c, sql, params=()):
    cur = c.cursor()
    cur.execute(sql, params)
    rows = cur.fetchall() if cur.description else []
    cur.close()
    return rows


def lookups(c, ids):
    for i in ids:
        run_sql(c, "SELECT name FROM cl_servers WHERE id = %s", [i])


def test_budget_passes_and_fails_with_the_queries_listed(conn):
    with perfaudit.capture(conn, "budget") as run:
        lookups(conn, [1, 5, 9])
    assert run.statements == 3
    assert run.assert_max_queries(3) is True
    with pytest.raises(AssertionError) as excinfo:
        run.assert_max_queries(2)
    message = str(excinfo.value)
    assert message.startswith("3 queries executed, at most 2 allowed (pg_perfaudit run %d, 'budget')"
                              % run.run_id)
    assert "1. SELECT name FROM cl_servers WHERE id = " in message and "[3×]" in message
    assert isinstance(excinfo.value, perfaudit.PerfauditAssertionError)
    # the check ran in a savepoint: the test's transaction goes on
    assert run_sql(conn, "SELECT 1") == [(1,)]


def test_n_plus_one_names_the_organization_and_the_fix(conn):
    with perfaudit.capture(conn, "lazy loads", tenant="2") as run:
        lookups(conn, [1, 5, 9, 13, 17, 21])
    with pytest.raises(AssertionError) as excinfo:
        run.assert_no_n_plus_one()
    message = str(excinfo.value)
    assert "capture run has findings: n_plus_one" in message
    assert "n_plus_one for tenant 2:" in message
    assert "    query: SELECT name FROM cl_servers WHERE id = " in message
    assert "    suggestion: " in message
    # low (every row the organization's): not a failure from medium up
    assert run.assert_no_findings(kinds=["unscoped_tenant_query"], min_severity="medium")
    assert [f["severity"] for f in run.findings(kinds=["unscoped_tenant_query"])] == ["low"]


def test_another_organizations_row_is_a_critical_failure(conn):
    with perfaudit.capture(conn, "leak", tenant="2") as run:
        lookups(conn, [2])          # organization 3's server
    with pytest.raises(AssertionError) as excinfo:
        run.assert_no_findings()
    message = str(excinfo.value)
    assert "[critical] cross_tenant_access for tenant 3: the statement ran for tenant 2" in message
    assert run_sql(conn, "SELECT count(*) FROM cl_servers") == [(40,)]


def test_evidence_stays_after_the_rollback(conn):
    with perfaudit.capture(conn, "evidence", tenant="2") as run:
        lookups(conn, [2])
    conn.rollback()
    with psycopg.connect("", autocommit=True) as other:
        kinds = [r[0] for r in other.execute(
            "SELECT kind FROM perfaudit.findings WHERE run_id = %s ORDER BY kind", [run.run_id])]
    assert kinds == ["cross_tenant_access", "unscoped_tenant_query"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_autocommit_connection(driver):
    c = connect(driver, autocommit=True)
    try:
        with perfaudit.capture(c, "autocommit") as run:
            lookups(c, [1])
        assert run.assert_max_queries(1)
        with pytest.raises(AssertionError):
            run.assert_max_queries(0)
        assert "autocommit" in run.report()
    finally:
        c.close()


def test_a_failing_block_still_stops_its_run(conn):
    with pytest.raises(ZeroDivisionError):
        with perfaudit.capture(conn, "raises") as run:
            lookups(conn, [1])
            1 / 0
    assert run.statements == 1
    assert run_sql(conn, "SELECT perfaudit.active_run()") == [(None,)]


def test_a_block_that_aborts_the_transaction(conn):
    # an SQL error inside the block aborts the transaction: the run cannot
    # be stopped there; after the rollback the next capture stops it first
    with pytest.raises(Exception) as excinfo:
        with perfaudit.capture(conn, "aborts"):
            run_sql(conn, "SELECT 1 / 0")
    assert perfaudit.sqlstate(excinfo.value) == "22012"
    conn.rollback()
    with perfaudit.capture(conn, "after") as run:
        lookups(conn, [1])
    assert run.statements == 1


def test_unknown_kind_is_an_error_not_a_failure(conn):
    with perfaudit.capture(conn, "bad kind") as run:
        lookups(conn, [1])
    with pytest.raises(Exception) as excinfo:
        run.assert_no_findings(kinds=["n_plus_two"])
    assert not isinstance(excinfo.value, AssertionError)
    assert perfaudit.sqlstate(excinfo.value) == "22023"
