"""pytest plugin (entry point ``pytest11``; or ``-p perfaudit.pytest_plugin``).

A ``perfaudit`` fixture:

    def test_users_page(perfaudit, client):
        with perfaudit.capture(tenant="42") as run:
            client.get("/users/")
        run.assert_max_queries(3)

and a marker that captures the whole test and checks it when it ends:

    @pytest.mark.perfaudit(max_queries=5, no_findings=["n_plus_one"], tenant="42")
    def test_dashboard(client): ...

The connection is pytest-django's (the test's ``db`` fixture is requested
for it) when Django is configured, else the one a ``perfaudit_connection``
fixture of yours returns (psycopg 3 or psycopg2).
"""

import pytest

from . import capture


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "perfaudit(max_queries=None, no_n_plus_one=False, no_findings=None, min_severity=None, "
        "tenant=None): capture the test with pg_perfaudit and check it")


def _django_configured():
    try:
        from django.conf import settings
        return settings.configured
    except ImportError:
        return False


def _connection(request):
    if "perfaudit_connection" in request.fixturenames or not _django_configured():
        return request.getfixturevalue("perfaudit_connection")
    request.getfixturevalue("db")
    from django.db import connection
    return connection


class PerfauditFixture:
    """What the ``perfaudit`` fixture gives a test."""

    def __init__(self, request):
        self._request = request

    @property
    def label(self):
        """The default label of the test's runs: its pytest node id."""
        return self._request.node.nodeid

    def capture(self, label=None, tenant=None, conn=None):
        """perfaudit.capture() on the test's connection (or conn), labelled
        with the test's id."""
        return capture(conn if conn is not None else _connection(self._request),
                       label or self.label, tenant=tenant)


@pytest.fixture
def perfaudit(request):
    return PerfauditFixture(request)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test with the perfaudit marker runs inside a capture, and its
    checks fail it as its own assertions would."""
    marker = pyfuncitem.get_closest_marker("perfaudit")
    if marker is None:
        return None
    options = dict(marker.kwargs)
    tenant = options.pop("tenant", None)
    unknown = set(options) - {"max_queries", "no_n_plus_one", "no_findings", "min_severity"}
    if unknown:
        raise pytest.UsageError("perfaudit marker: unknown argument(s) %s" % ", ".join(sorted(unknown)))
    funcargs = pyfuncitem.funcargs
    testargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    conn = _connection(pyfuncitem._request)
    with capture(conn, pyfuncitem.nodeid, tenant=tenant) as run:
        pyfuncitem.obj(**testargs)
    run.check(**options)
    return True
