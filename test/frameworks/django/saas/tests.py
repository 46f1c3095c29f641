"""Django TestCase scenarios of a multi-tenant app, audited by pg_perfaudit.

Each test runs inside Django's TestCase transaction (rolled back after
it).  audited() opens a capture run around the ORM code, counts the
queries Django itself sees (CaptureQueriesContext), and compares: Django
counts every statement its cursor sends, pg_perfaudit leaves out
SAVEPOINT / RELEASE / ROLLBACK TO (transaction control), so the counts
must agree once those are taken away.
"""
import contextlib

from django.db import connection, transaction
from django.db.utils import InternalError
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

import perfaudit

from saas.models import Application, Folder, Organization, Server

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class Run:
    statements = None
    django_queries = None
    findings = ()

    def kinds(self, min_severity="low"):
        order = ["low", "medium", "high", "critical"]
        return sorted({f["kind"] for f in self.findings
                       if order.index(f["severity"]) >= order.index(min_severity)})

    def of(self, kind):
        return [f for f in self.findings if f["kind"] == kind]


@contextlib.contextmanager
def audited(label, tenant=None):
    """perfaudit.capture() (clients/python) around the block, and
    Django's own count of what its cursor sent (CaptureQueriesContext)."""
    run = Run()
    with perfaudit.capture(connection, label, tenant=tenant) as captured:
        with CaptureQueriesContext(connection) as ctx:
            yield run
    run.run_id = captured.run_id
    run.statements = captured.statements
    run.findings = captured.findings()
    run.django_queries = len([q for q in ctx.captured_queries
                              if not q["sql"].startswith(TRANSACTION_CONTROL)])


class TenantScenarios(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.orgs = [Organization.objects.create(name="org %d" % i) for i in range(10)]
        for org in cls.orgs:
            servers = [Server.objects.create(organization=org, name="s%d" % i) for i in range(6)]
            for i in range(6):
                Application.objects.create(organization=org, server=servers[i], name="a%d" % i)
        cls.a, cls.b = cls.orgs[0], cls.orgs[1]
        parent = None
        for depth in range(11):
            parent = Folder.objects.create(organization=cls.a, parent=parent, name="level %d" % depth)
        cls.leaf = parent

    def assertCounts(self, run):
        self.assertEqual(run.statements, run.django_queries,
                         "pg_perfaudit and Django count the same queries")

    def test_lazy_foreign_key_n_plus_one_is_the_organizations(self):
        with audited("lazy", tenant=str(self.a.id)) as run:
            for app in Application.objects.filter(organization_id=self.a.id):
                app.server.name
        self.assertCounts(run)
        self.assertEqual(run.statements, 7)
        n1 = run.of("n_plus_one")
        self.assertEqual(len(n1), 1)
        self.assertEqual(n1[0]["tenant"], str(self.a.id))
        # the lazy loads only returned the acting organization's rows
        self.assertEqual({f["severity"] for f in run.of("unscoped_tenant_query")}, {"low"})
        self.assertEqual(run.kinds("medium"), ["n_plus_one"])

    def test_select_related_is_clean(self):
        with audited("select_related", tenant=str(self.a.id)) as run:
            for app in Application.objects.filter(organization_id=self.a.id).select_related("server"):
                app.server.name
        self.assertCounts(run)
        self.assertEqual(run.statements, 1)
        self.assertEqual(run.kinds("medium"), [])

    def test_prefetch_related_over_ten_organizations(self):
        ids = [o.id for o in self.orgs]
        with audited("prefetch") as run:
            for org in Organization.objects.filter(id__in=ids).prefetch_related("server_set"):
                list(org.server_set.all())
        self.assertCounts(run)
        self.assertEqual(run.statements, 2)
        (cross,) = run.of("cross_tenant_query")
        self.assertEqual(cross["detail"]["tenant_count"], 10)
        self.assertEqual(cross["tenant"].split(","), [str(i) for i in ids])

    def test_iterator_is_one_query_and_analysed(self):
        with audited("iterator") as run:
            for app in Application.objects.all().iterator(chunk_size=10):
                pass
        self.assertCounts(run)
        self.assertEqual(run.statements, 1)
        self.assertIn("unscoped_tenant_query", run.kinds("high"))

    def test_bulk_create_is_the_organizations(self):
        with audited("bulk_create") as run:
            Server.objects.bulk_create([Server(organization=self.a, name="bulk %d" % i) for i in range(5)])
        self.assertCounts(run)
        with connection.cursor() as c:
            c.execute("SELECT tenant FROM perfaudit.run_statements WHERE run_id = %s", [run.run_id])
            self.assertEqual([r[0] for r in c.fetchall()], [str(self.a.id)])

    def test_save_loop_is_an_n_plus_one_of_writes(self):
        with audited("save loop", tenant=str(self.a.id)) as run:
            for i in range(6):
                Server(organization=self.a, name="saved %d" % i).save()
        self.assertCounts(run)
        (n1,) = run.of("n_plus_one")
        self.assertEqual(n1["detail"]["operation"], "insert")
        self.assertEqual(n1["tenant"], str(self.a.id))

    def test_get_or_create_repeats(self):
        with audited("get_or_create", tenant=str(self.a.id)) as run:
            for _ in range(5):
                Server.objects.get_or_create(organization=self.a, name="s0")
        # get_or_create's SELECT is the same statement with the same values
        self.assertCounts(run)
        self.assertEqual([f["kind"] for f in run.of("repeated_query")], ["repeated_query"])

    def test_scoped_filter_is_clean(self):
        with audited("scoped", tenant=str(self.a.id)) as run:
            list(Server.objects.filter(organization_id=self.a.id))
        self.assertCounts(run)
        self.assertEqual(run.findings, [])

    def test_unscoped_all_without_acting_tenant(self):
        with audited("unscoped") as run:
            list(Server.objects.all())
        self.assertCounts(run)
        self.assertEqual({f["severity"] for f in run.of("unscoped_tenant_query")}, {"high"})

    def test_reading_another_organizations_row_is_a_leak_proven_by_data(self):
        other = Server.objects.filter(organization=self.b).first()
        with audited("leak", tenant=str(self.a.id)) as run:
            Server.objects.get(pk=other.pk)
        self.assertCounts(run)
        (leak,) = run.of("cross_tenant_access")
        self.assertEqual(leak["severity"], "critical")
        self.assertEqual(leak["tenant"], str(self.b.id))
        self.assertEqual(leak["detail"]["acting_tenant"], str(self.a.id))
        # The assertion fails with PA001 inside the test's transaction (a
        # savepoint keeps the test going), and its evidence stays.
        with self.assertRaises(InternalError) as cm:
            with transaction.atomic():
                with connection.cursor() as c:
                    c.execute("SELECT perfaudit.assert_no_findings(run_id => %s)", [run.run_id])
        self.assertEqual(cm.exception.__cause__.pgcode, "PA001")
        with connection.cursor() as c:
            c.execute("SELECT count(*) FROM perfaudit.findings WHERE run_id = %s AND kind = 'cross_tenant_access'",
                      [run.run_id])
            self.assertEqual(c.fetchone()[0], 1)

    def test_idiomatic_request_acting_as_one_organization_is_clean(self):
        # A detail view and its form post, as an organization's user:
        # scoped reads, lazy loads by primary key, save() of a loaded
        # object (UPDATE ... WHERE id), a create, delete() with its cascade.
        with audited("request", tenant=str(self.a.id)) as run:
            server = Server.objects.get(pk=Server.objects.filter(organization=self.a).first().pk,
                                        organization=self.a)
            app = Application.objects.filter(organization=self.a, server=server).first()
            app.server.name
            app.organization.name
            server.name = "renamed"
            server.save()
            Application.objects.create(organization=self.a, server=server, name="new")
            app.delete()
        self.assertCounts(run)
        self.assertEqual(run.kinds("medium"), [])
        self.assertEqual({f["severity"] for f in run.of("unscoped_tenant_query")}, {"low"})
        with connection.cursor() as c:
            c.execute("SELECT perfaudit.assert_no_findings(run_id => %s)", [run.run_id])
            self.assertTrue(c.fetchone()[0])
            c.execute("SELECT DISTINCT tenant FROM perfaudit.run_statements WHERE run_id = %s",
                      [run.run_id])
            self.assertEqual([r[0] for r in c.fetchall()], [str(self.a.id)])

    def test_saving_into_another_organization_is_a_leak(self):
        theirs = Server.objects.filter(organization=self.b).first()
        with audited("write leak", tenant=str(self.a.id)) as run:
            theirs.name = "overwritten"
            theirs.save()
        self.assertCounts(run)
        (leak,) = run.of("cross_tenant_access")
        self.assertEqual(leak["tenant"], str(self.b.id))
        self.assertEqual(leak["detail"]["rows"], 2)     # read as b's, written as b's

    def test_parent_walk_is_an_n_plus_one_and_the_recursive_cte_is_not(self):
        with audited("parent walk", tenant=str(self.a.id)) as run:
            folder, depth = Folder.objects.get(pk=self.leaf.pk, organization=self.a), 0
            while folder.parent is not None:
                folder, depth = folder.parent, depth + 1
        self.assertEqual(depth, 10)
        self.assertCounts(run)
        self.assertEqual(run.statements, 11)
        (n1,) = run.of("n_plus_one")
        self.assertEqual(n1["tenant"], str(self.a.id))
        self.assertEqual(n1["detail"]["calls"], 10)

        with audited("recursive cte", tenant=str(self.a.id)) as cte:
            path = list(Folder.objects.raw(
                """WITH RECURSIVE up AS (
                       SELECT * FROM saas_folder WHERE id = %s AND organization_id = %s
                       UNION ALL
                       SELECT f.* FROM saas_folder f JOIN up ON f.id = up.parent_id)
                   SELECT * FROM up""", [self.leaf.pk, self.a.id]))
        self.assertEqual(len(path), 11)
        self.assertCounts(cte)
        self.assertEqual(cte.statements, 1)
        self.assertEqual(cte.kinds("medium"), [])
