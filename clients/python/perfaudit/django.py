"""Django integration: a TestCase mixin, a migration operation that creates
the extension, and the database OPTIONS that name the tenant setting.

    # settings.py (the test settings)
    DATABASES["default"]["OPTIONS"] = perfaudit.django.database_options(
        tenant_setting="app.current_organization_id")

    # yourapp/migrations/0002_perfaudit.py
    from perfaudit.django import CreatePerfauditExtension
    class Migration(migrations.Migration):
        dependencies = [("yourapp", "0001_initial")]
        operations = [CreatePerfauditExtension()]

    # tests.py
    class DashboardTests(PerfauditTestMixin, TestCase):
        perfaudit_tenant = "42"
        def test_dashboard(self):
            with self.assertPerfaudit(max_queries=5, no_n_plus_one=True):
                self.client.get("/dashboard/")
"""

import contextlib

from django.contrib.postgres.operations import CreateExtension
from django.db import DEFAULT_DB_ALIAS, connections

from . import capture


class CreatePerfauditExtension(CreateExtension):
    """CREATE EXTENSION IF NOT EXISTS pg_perfaudit (the test database that
    Django's runner creates gets it from the migrations).  The server must
    preload the library (shared_preload_libraries)."""

    def __init__(self):
        super().__init__("pg_perfaudit")


def database_options(tenant_setting=None, options=None):
    """``DATABASES[...]["OPTIONS"]`` that set perfaudit.tenant_setting on
    every connection (pooled or not): the session setting that holds the
    current organization, as your tenancy middleware or RLS policies set
    it.  ``options`` are other OPTIONS to keep."""
    result = dict(options or {})
    if tenant_setting:
        extra = "-c perfaudit.tenant_setting=%s" % tenant_setting
        result["options"] = (result.get("options", "") + " " + extra).strip()
    return result


class PerfauditTestMixin:
    """For ``django.test.TestCase`` (and ``TransactionTestCase``):
    ``assertPerfaudit()``, shaped like ``assertNumQueries()``."""

    #: the acting tenant of every assertPerfaudit() of the class
    perfaudit_tenant = None

    @contextlib.contextmanager
    def assertPerfaudit(self, max_queries=None, no_n_plus_one=False, no_findings=None,
                        min_severity=None, tenant=None, label=None, using=DEFAULT_DB_ALIAS):
        """Capture the block, then check it: at most ``max_queries``
        statements; no N+1 when ``no_n_plus_one``; no findings of the kinds
        in ``no_findings`` (a list; ``True``: any kind from ``min_severity``,
        default 'medium', up).  Yields the run (its ``queries()``,
        ``findings()``, ``report()``)."""
        acting = tenant if tenant is not None else self.perfaudit_tenant
        with capture(connections[using], label or self.id(), tenant=acting) as run:
            yield run
        run.check(max_queries, no_n_plus_one, no_findings, min_severity)
