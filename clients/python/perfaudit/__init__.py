"""Test helpers for pg_perfaudit.

    import perfaudit

    with perfaudit.capture(connection, "users page", tenant="42") as run:
        client.get("/users/")
    run.assert_max_queries(5)
    run.assert_no_n_plus_one()
    run.assert_no_findings(min_severity="medium")

``connection`` is Django's ``django.db.connection`` (or
``connections[alias]``), a psycopg 3 connection or a psycopg2 one.  A
failed check raises :class:`PerfauditAssertionError`, an
``AssertionError``, so pytest, unittest and Django's ``TestCase`` report it
as a test failure, with the statements and findings in its message (as
``assertNumQueries`` lists the queries it saw).  Each check runs inside a
savepoint: the test's transaction goes on after a failure.  The run and
its findings are stored by pg_perfaudit outside the test's transaction, so
they stay after its rollback (``perfaudit.runs``, ``perfaudit.findings``).

What pg_perfaudit counts: every statement the server executes (SELECT,
INSERT, UPDATE, DELETE, DDL, a cursor once), and not transaction control
(BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO) nor SET.  Django's
``assertNumQueries`` counts what its cursor sends, including SAVEPOINT and
RELEASE of ``atomic()`` blocks: a budget copied from it can be lowered by
those.
"""

import contextlib
import json

from ._db import Db, sqlstate

__version__ = "0.2.0"
__all__ = ["capture", "Run", "PerfauditAssertionError", "sqlstate", "__version__"]

_SEVERITIES = ("low", "medium", "high", "critical")


class PerfauditAssertionError(AssertionError):
    """A pg_perfaudit check failed: ``run`` is the :class:`Run`, with its
    ``statements``, ``queries()`` and ``findings()``."""

    def __init__(self, message, run):
        super().__init__(message)
        self.run = run


class Run:
    """A stopped capture run (``perfaudit.runs``) and its checks."""

    def __init__(self, db, run_id, label):
        self._db = db
        self.run_id = run_id
        self.label = label
        self.statements = None      # set when the run stops

    # --- what it saw ----------------------------------------------------

    def queries(self):
        """The run's statements, one dict per (query, tenant, nesting
        level), most executions first."""
        rows = self._db.rows(
            "SELECT query, tenant, calls, rows, total_ms, nesting_level"
            "  FROM perfaudit.run_statements WHERE run_id = %s"
            " ORDER BY calls DESC, total_ms DESC", [self.run_id])
        return [dict(query=q, tenant=t, calls=c, rows=r, total_ms=ms, nesting_level=lvl)
                for q, t, c, r, ms, lvl in rows]

    def findings(self, kinds=None, min_severity="low"):
        """The run's findings as dicts (kind, severity, tenant, relation,
        message, suggestion, query, detail), most severe first."""
        rank = _SEVERITIES.index(min_severity)
        rows = self._db.rows(
            "SELECT kind, severity, tenant, relation, message, suggestion, query, detail::pg_catalog.text"
            "  FROM perfaudit.findings WHERE run_id = %s ORDER BY finding_id", [self.run_id])
        found = [dict(kind=k, severity=s, tenant=t, relation=rel, message=m, suggestion=sg,
                      query=q, detail=json.loads(d) if d else {})
                 for k, s, t, rel, m, sg, q, d in rows]
        found = [f for f in found
                 if (kinds is None or f["kind"] in kinds)
                 and _SEVERITIES.index(f["severity"]) >= rank]
        found.sort(key=lambda f: -_SEVERITIES.index(f["severity"]))
        return found

    def report(self):
        """pg_perfaudit's text report of the run."""
        return "\n".join(r[0] for r in self._db.rows(
            "SELECT line FROM perfaudit.report(%s) AS line", [self.run_id]))

    # --- checks ------------------------------------------------------------

    def assert_max_queries(self, n):
        """At most n statements (as pg_perfaudit counts them)."""
        failed = self._db.check("SELECT perfaudit.assert_max_queries(%s, %s)", [n, self.run_id])
        if failed is None:
            return True
        lines = ["%d queries executed, at most %d allowed (pg_perfaudit run %s%s)"
                 % (self.statements, n, self.run_id, self._label()),
                 "Captured queries were:"]
        for i, q in enumerate(self.queries(), 1):
            lines.append("%d. %s%s%s" % (i, _oneline(q["query"]),
                                         "  [%d×]" % q["calls"] if q["calls"] > 1 else "",
                                         "  (tenant %s)" % q["tenant"] if q["tenant"] else ""))
        raise PerfauditAssertionError("\n".join(lines), self)

    def assert_no_n_plus_one(self):
        """No N+1 pattern (any severity)."""
        return self.assert_no_findings(kinds=["n_plus_one"])

    def assert_no_findings(self, kinds=None, min_severity=None):
        """No findings: with kinds None, none from min_severity (default
        'medium') up; kinds named are checked at every severity unless
        min_severity is given too (as perfaudit.assert_no_findings())."""
        failed = self._db.check("SELECT perfaudit.assert_no_findings(%s, %s, %s)",
                                [list(kinds) if kinds is not None else None, self.run_id,
                                 min_severity])
        if failed is None:
            return True
        floor = min_severity or ("medium" if kinds is None else "low")
        found = self.findings(kinds=kinds, min_severity=floor)
        message, detail = failed
        lines = ["%s (pg_perfaudit run %s%s)" % (message, self.run_id, self._label())]
        if not found and detail:
            lines.append(detail)
        for f in found:
            lines.append("[%s] %s%s%s: %s" % (
                f["severity"], f["kind"],
                " on %s" % f["relation"] if f["relation"] else "",
                " for tenant %s" % f["tenant"] if f["tenant"] else "",
                f["message"]))
            if f["query"]:
                lines.append("    query: %s" % _oneline(f["query"]))
            if f["suggestion"]:
                lines.append("    suggestion: %s" % f["suggestion"])
        raise PerfauditAssertionError("\n".join(lines), self)

    def check(self, max_queries=None, no_n_plus_one=False, no_findings=None, min_severity=None):
        """The checks the Django mixin and the pytest marker take: at most
        max_queries statements; no N+1; no findings of the kinds in
        no_findings (True: any kind from min_severity, default 'medium')."""
        if max_queries is not None:
            self.assert_max_queries(max_queries)
        if no_n_plus_one:
            self.assert_no_n_plus_one()
        if no_findings is True:
            self.assert_no_findings(min_severity=min_severity)
        elif no_findings:
            self.assert_no_findings(kinds=no_findings, min_severity=min_severity)
        return True

    def _label(self):
        return ", %r" % self.label if self.label else ""


def _oneline(text, limit=200):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@contextlib.contextmanager
def capture(conn, label=None, tenant=None, scope="session"):
    """Capture what the block runs on conn into a pg_perfaudit run.

    tenant: the acting tenant (the organization the test acts as): another
    organization's rows read or written are then ``cross_tenant_access``.
    The run stops when the block ends (also when it raises); the checks
    come after it, on the :class:`Run` this yields.
    """
    db = Db(conn)
    # The session the run lives in: Django's wrapper connects lazily and
    # may reconnect, so its driver connection, once there is one.
    if db.django:
        conn.ensure_connection()
    key = id(getattr(conn, "connection", None) or conn)
    if key in _unstopped:
        # A block before raised inside an aborted transaction, where its
        # run could not be stopped: stop it now (its session still has it).
        _unstopped.discard(key)
        with contextlib.suppress(Exception):
            db.value("SELECT perfaudit.stop()")
    run_id = db.value("SELECT perfaudit.start(%s, %s, %s)",
                      [label, scope, None if tenant is None else str(tenant)])
    run = Run(db, run_id, label)
    try:
        yield run
    except BaseException:
        # The block's error is the test's: stop if the transaction still
        # can, and let that error through in any case.
        try:
            run.statements = db.value("SELECT statements FROM perfaudit.stop()")
        except Exception:
            _unstopped.add(key)
        raise
    run.statements = db.value("SELECT statements FROM perfaudit.stop()")


# Connections (by id) whose run could not be stopped after a failed block.
_unstopped = set()
