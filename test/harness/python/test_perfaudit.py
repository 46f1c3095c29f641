"""pg_perfaudit in a Django-style test suite (pytest + psycopg 3).

Every test runs in a transaction that is rolled back afterwards (the
``db`` fixture), as an ordinary application role, with the tenant in the
session setting app.current_organization_id.  The pages below issue their
queries as an ORM does: one statement per call, values as bound
parameters (psycopg sends them with the extended protocol), or inlined
into the text by client-side binding, Django's default with psycopg 3.

The checks go through clients/python (the ``capture`` fixture wraps the
plugin's ``perfaudit`` fixture; ``run.assert_*`` raise
PerfauditAssertionError inside a savepoint, the test going on after a
failure); the durability and latency tests call the SQL functions
themselves, as a suite without the helpers would.

The fixture (test/harness/run.sh loads it) gives every organization 20
users and 10 servers with 5 metric rows each.
"""

import psycopg
import pytest
from psycopg import pq

from perfaudit import PerfauditAssertionError

from app_db import connect, rolled_back_transaction, savepoint, set_tenant

ORG = 42
OTHER_ORG = 7
SERVERS_PER_ORG = 10

# --- pages, as an ORM issues them --------------------------------------------

USERS_PAGE = "SELECT id, name, email FROM app.users WHERE organization_id = {} ORDER BY id LIMIT 20"


def dashboard_page(conn, org):
    """The dashboard: the organization, a page of users, their count, servers."""
    conn.execute("SELECT id, name, plan FROM app.organizations WHERE id = %s", [org]).fetchone()
    conn.execute(USERS_PAGE.format("%s"), [org]).fetchall()
    conn.execute("SELECT count(*) FROM app.users WHERE organization_id = %s", [org]).fetchone()
    conn.execute(
        "SELECT id, hostname, region FROM app.servers WHERE organization_id = %s ORDER BY id",
        [org],
    ).fetchall()


DASHBOARD_QUERIES = 4

SERVERS = "SELECT id, hostname FROM app.servers WHERE organization_id = %s ORDER BY id"


def servers_page_lazy(conn, org, comment=""):
    """Servers with their latest metric, loaded on access: one query per server.

    ``comment`` is appended to each statement, as SQLCommenter does.
    """
    page = []
    for server_id, hostname in conn.execute(SERVERS + comment, [org]).fetchall():
        latest = conn.execute(
            """SELECT recorded_at, cpu FROM app.metrics
                WHERE organization_id = %s AND server_id = %s
                ORDER BY recorded_at DESC LIMIT 1""" + comment,
            [org, server_id],
        ).fetchone()
        page.append((server_id, hostname) + tuple(latest))
    return page


def servers_page_prefetch(conn, org):
    """The same page with the metrics prefetched by one IN (= ANY) query."""
    servers = conn.execute(SERVERS, [org]).fetchall()
    latest = {
        row[0]: row[1:]
        for row in conn.execute(
            """SELECT DISTINCT ON (server_id) server_id, recorded_at, cpu
                 FROM app.metrics
                WHERE organization_id = %s AND server_id = ANY(%s)
                ORDER BY server_id, recorded_at DESC""",
            [org, [s[0] for s in servers]],
        )
    }
    return [(sid, host) + tuple(latest[sid]) for sid, host in servers]


def servers_page_join(conn, org):
    """The same page as one query joining the latest metric (LATERAL)."""
    return [
        tuple(row)
        for row in conn.execute(
            """SELECT s.id, s.hostname, m.recorded_at, m.cpu
                 FROM app.servers s
                 LEFT JOIN LATERAL (
                      SELECT recorded_at, cpu FROM app.metrics m
                       WHERE m.organization_id = s.organization_id AND m.server_id = s.id
                       ORDER BY recorded_at DESC LIMIT 1) m ON true
                WHERE s.organization_id = %s
                ORDER BY s.id""",
            [org],
        )
    ]


def assert_pa001(conn, query, params=()):
    """Run an assertion that must fail; return the error (SQLSTATE PA001).

    Inside a savepoint, so that the test can go on afterwards.
    """
    with pytest.raises(psycopg.Error) as caught, savepoint(conn):
        conn.execute(query, params)
    assert caught.value.sqlstate == "PA001", caught.value
    return caught.value


def holds(conn, query, params=()):
    """An assertion that must hold: it returns true."""
    return conn.execute(query, params).fetchone()[0] is True


# How the driver sends the loop's statement.  All but the last use the
# extended protocol with bound parameters.
BINDINGS = [
    pytest.param(lambda conn: None, id="server-binding, prepared after 5 runs (psycopg default)"),
    pytest.param(lambda conn: setattr(conn, "prepare_threshold", 0), id="server-binding, always prepared"),
    pytest.param(lambda conn: setattr(conn, "prepare_threshold", None), id="server-binding, never prepared"),
    pytest.param(
        lambda conn: setattr(conn, "cursor_factory", psycopg.ClientCursor),
        id="client-binding, values inlined (Django default)",
    ),
]


# --- (a) query budget ------------------------------------------------------------


@pytest.mark.budget
def test_dashboard_stays_within_its_query_budget(db, capture):
    set_tenant(db, ORG)
    with capture.run() as run:
        dashboard_page(db, ORG)
    assert run.assert_max_queries(DASHBOARD_QUERIES)
    assert run.statements == DASHBOARD_QUERIES
    # The budget is exact: one statement less fails, so the assertion above
    # passes for the right reason; the failure lists the four statements,
    # and the test's transaction goes on.
    with pytest.raises(PerfauditAssertionError) as failed:
        run.assert_max_queries(DASHBOARD_QUERIES - 1)
    message = str(failed.value)
    assert message.startswith("4 queries executed, at most 3 allowed (pg_perfaudit run %d" % run.run_id)
    assert message.count("\n") == 1 + DASHBOARD_QUERIES, message
    assert "FROM app.organizations WHERE id = $1" in message
    assert db.execute("SELECT 1").fetchone() == (1,)


# --- (b) eager loading: no N+1 ---------------------------------------------------


@pytest.mark.n_plus_one
@pytest.mark.parametrize(
    "page", [servers_page_prefetch, servers_page_join], ids=["prefetch, IN query", "join, LATERAL"]
)
def test_eager_loading_page_has_no_n_plus_one(db, capture, page):
    set_tenant(db, ORG)
    with capture.run() as run:
        rows = page(db, ORG)
    assert rows == servers_page_lazy(db, ORG)  # the same page as the lazy version
    assert len(rows) == SERVERS_PER_ORG
    assert run.assert_no_n_plus_one()
    # Scoped and indexed: no finding of any kind.
    assert run.assert_no_findings(min_severity="low")


# --- (c) lazy loading: the N+1 the extension must catch ----------------------------


@pytest.mark.n_plus_one
@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("tenant_from", ["session setting", "sqlcommenter tag", "query predicates"])
def test_lazy_loading_page_is_caught_as_n_plus_one(db, capture, binding, tenant_from):
    binding(db)
    comment = ""
    if tenant_from == "session setting":
        set_tenant(db, ORG)
    elif tenant_from == "sqlcommenter tag":
        comment = f" /*controller='servers',tenant='{ORG}'*/"
    # Else the tenant is only in "organization_id = %s": a bound value, in
    # custom and, once prepared five times, generic plans.
    with capture.run() as run:
        rows = servers_page_lazy(db, ORG, comment)
    assert len(rows) == SERVERS_PER_ORG
    assert run.statements == 1 + SERVERS_PER_ORG

    with pytest.raises(PerfauditAssertionError) as failed:
        run.assert_no_n_plus_one()
    assert str(failed.value).startswith("capture run has findings: n_plus_one (pg_perfaudit run")
    assert "n_plus_one for tenant %d: statement executed 10 times" % ORG in str(failed.value)

    [(kind, relation, tenant, query, detail)] = capture.findings(run, "n_plus_one")
    assert tenant == str(ORG)
    assert "app.metrics" in query
    assert detail["calls"] == SERVERS_PER_ORG
    assert detail["distinct_params"] == SERVERS_PER_ORG
    # The likely source: the query whose rows the loop walked.
    assert "app.servers" in detail["source"]["query"], detail


# --- (d) tenant scoping -----------------------------------------------------------


@pytest.mark.tenancy
def test_query_without_tenant_filter_is_flagged_unscoped(db, capture):
    set_tenant(db, ORG)
    with capture.run() as run:
        # A login-style lookup that forgets the organization.
        db.execute("SELECT id, name FROM app.users WHERE email = %s", ["user42@example.test"]).fetchone()
    with pytest.raises(PerfauditAssertionError, match="unscoped_tenant_query on app.users"):
        run.assert_no_findings(kinds=["unscoped_tenant_query"])
    relations = [f[1] for f in capture.findings(run, "unscoped_tenant_query")]
    assert relations == ["app.users"]


@pytest.mark.tenancy
def test_tenant_scoped_query_is_not_flagged(db, capture):
    set_tenant(db, ORG)
    with capture.run() as run:
        db.execute(
            "SELECT id, name FROM app.users WHERE organization_id = %s AND email = %s",
            [ORG, "user42@example.test"],
        ).fetchone()
    assert run.assert_no_findings(kinds=["unscoped_tenant_query", "cross_tenant_query"])


@pytest.mark.tenancy
def test_query_for_another_tenant_is_flagged_cross_tenant(db, capture):
    set_tenant(db, ORG)
    with capture.run() as run:
        db.execute(USERS_PAGE.format("%s"), [OTHER_ORG]).fetchall()
    with pytest.raises(PerfauditAssertionError, match="cross_tenant_query"):
        run.assert_no_findings(kinds=["cross_tenant_query"])
    [finding] = capture.findings(run, "cross_tenant_query")
    assert finding[2] == str(ORG)  # attributed to the session's tenant


# --- (e) evidence after the rollback ------------------------------------------------


@pytest.mark.durability
def test_run_and_findings_survive_the_test_rollback():
    # One whole test, as the db fixture runs it: BEGIN, the test (which
    # creates data and fails an assertion), ROLLBACK.
    with connect() as conn:
        with rolled_back_transaction(conn):
            conn.execute("INSERT INTO app.plans VALUES ('harness-py', 'made by the test')")
            set_tenant(conn, ORG)
            run_id = conn.execute("SELECT perfaudit.start('harness-py durability')").fetchone()[0]
            servers_page_lazy(conn, ORG)
            conn.execute("SELECT perfaudit.stop()")
            with pytest.raises(psycopg.Error) as caught:
                conn.execute("SELECT perfaudit.assert_no_findings(ARRAY['n_plus_one'])")
            assert caught.value.sqlstate == "PA001"
            # The failed assertion aborted the test's transaction.
            assert conn.info.transaction_status == pq.TransactionStatus.INERROR
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE

    with connect() as fresh:
        # The rollback happened: the test's data is gone ...
        assert fresh.execute("SELECT count(*) FROM app.plans WHERE code = 'harness-py'").fetchone()[0] == 0
        # ... and the evidence is there, for another session.
        label, statements, findings = fresh.execute(
            "SELECT label, statements, findings FROM perfaudit.runs WHERE run_id = %s", [run_id]
        ).fetchone()
        assert (label, statements) == ("harness-py durability", 1 + SERVERS_PER_ORG)
        assert findings >= 1
        kinds = fresh.execute(
            "SELECT array_agg(kind ORDER BY kind) FROM perfaudit.findings WHERE run_id = %s AND tenant = %s",
            [run_id, str(ORG)],
        ).fetchone()[0]
        assert "n_plus_one" in kinds
        calls = fresh.execute(
            """SELECT calls FROM perfaudit.run_statements
                WHERE run_id = %s AND query LIKE '%%app.metrics%%'""",
            [run_id],
        ).fetchone()[0]
        assert calls == SERVERS_PER_ORG
        # The assertion can be repeated later, by run id, from any session.
        assert_pa001(fresh, "SELECT perfaudit.assert_no_findings(ARRAY['n_plus_one'], %s)", [run_id])


# --- (f) latency budget ---------------------------------------------------------------


@pytest.mark.benchmark
def test_users_page_query_meets_its_latency_budget(db):
    # p95 of 50 timed executions, $1 rotating over ten organizations; the
    # budget is generous (the query takes well under a millisecond).
    tenants = [str(org) for org in range(1, 11)]
    assert holds(
        db,
        "SELECT perfaudit.assert_query_time(%s, %s, tenants => %s)",
        [USERS_PAGE.format("$1"), 50, tenants],
    )
    # The check can fail: a statement that sleeps 2 ms against 1 ms.
    err = assert_pa001(db, "SELECT perfaudit.assert_query_time('SELECT pg_sleep(0.002)', 1, iterations => 3)")
    assert err.diag.message_primary.startswith("query slower than allowed")


@pytest.mark.benchmark
@pytest.mark.durability
def test_benchmark_survives_the_test_rollback():
    with connect() as conn:
        with rolled_back_transaction(conn):
            benchmark_id, iterations = conn.execute(
                """SELECT benchmark_id, iterations
                     FROM perfaudit.benchmark(%s, 20, tenants => %s, label => 'harness-py users page')""",
                [USERS_PAGE.format("$1"), ["1", "2", "3"]],
            ).fetchone()
            assert iterations == 20
    with connect() as fresh:
        row = fresh.execute(
            "SELECT label, iterations, p50_ms <= p95_ms FROM perfaudit.benchmarks WHERE benchmark_id = %s",
            [benchmark_id],
        ).fetchone()
        assert row == ("harness-py users page", 20, True)


# --- the application role ------------------------------------------------------------


def test_application_role_is_ordinary_and_may_choose_tracking(db):
    superuser, bypassrls = db.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert (superuser, bypassrls) == (False, False)
    # GRANT SET ON PARAMETER perfaudit.track (README, Settings).
    db.execute("SET perfaudit.track = 'all'")
    assert db.execute("SHOW perfaudit.track").fetchone()[0] == "all"
