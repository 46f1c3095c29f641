"""The Django helpers of clients/python (perfaudit.django) in Django's own
TestCase: assertPerfaudit() passing and failing, with the failure an
AssertionError that lists the queries or findings, the test's transaction
going on after it, and the counts against assertNumQueries'."""

from django.db import connection, transaction
from django.test import TestCase

from perfaudit import PerfauditAssertionError
from perfaudit.django import PerfauditTestMixin

from saas.models import Application, Organization, Server


class HelperTests(PerfauditTestMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.a = Organization.objects.create(name="a")
        cls.b = Organization.objects.create(name="b")
        for org in (cls.a, cls.b):
            for i in range(6):
                server = Server.objects.create(organization=org, name="s%d" % i)
                Application.objects.create(organization=org, server=server, name="a%d" % i)

    def setUp(self):
        # The class-wide acting tenant, as a tenancy middleware would set it.
        self.perfaudit_tenant = str(self.a.id)

    def lazy_page(self):
        return [app.server.name for app in Application.objects.filter(organization=self.a)]

    def test_budget_passes_with_the_run_yielded(self):
        with self.assertPerfaudit(max_queries=7) as run:
            self.lazy_page()
        self.assertEqual(run.statements, 7)
        self.assertEqual(sum(q["calls"] for q in run.queries()), 7)

    def test_budget_failure_lists_the_queries_and_the_test_goes_on(self):
        with self.assertRaises(AssertionError) as cm:
            with self.assertPerfaudit(max_queries=3):
                self.lazy_page()
        message = str(cm.exception)
        self.assertIsInstance(cm.exception, PerfauditAssertionError)
        self.assertIn("7 queries executed, at most 3 allowed", message)
        self.assertIn("Captured queries were:", message)
        # Django's psycopg2 binds client-side: the first execution's text.
        self.assertRegex(message, r'\n1\. SELECT .* FROM "saas_server" WHERE "saas_server"\."id" = \d+ '
                                  r'LIMIT 21  \[6×\]  \(tenant %d\)' % self.a.id)
        # The test's transaction survived the failed check.
        self.assertEqual(Server.objects.filter(organization=self.a).count(), 6)

    def test_n_plus_one_fails_with_the_finding_and_its_fix(self):
        with self.assertRaises(PerfauditAssertionError) as cm:
            with self.assertPerfaudit(no_n_plus_one=True):
                self.lazy_page()
        message = str(cm.exception)
        self.assertIn("[medium] n_plus_one for tenant %d: statement executed 6 times with 6 "
                      "different parameter values" % self.a.id, message)
        self.assertRegex(message, r'\n    query: SELECT .* FROM "saas_server" WHERE')
        self.assertIn("suggestion: Fetch the rows in one query", message)
        (n1,) = cm.exception.run.findings(kinds=["n_plus_one"])
        self.assertEqual(n1["detail"]["calls"], 6)

    def test_select_related_passes_every_check(self):
        with self.assertPerfaudit(max_queries=1, no_n_plus_one=True, no_findings=True):
            [app.server.name for app in
             Application.objects.filter(organization=self.a).select_related("server")]

    def test_another_organizations_row_fails_no_findings(self):
        theirs = Server.objects.filter(organization=self.b).first()
        with self.assertRaises(PerfauditAssertionError) as cm:
            with self.assertPerfaudit(no_findings=["cross_tenant_access"]):
                Server.objects.get(pk=theirs.pk)
        self.assertIn("[critical] cross_tenant_access for tenant %d: the statement ran for tenant %d "
                      "and read rows of tenant %d" % (self.b.id, self.a.id, self.b.id),
                      str(cm.exception))
        # Not as b, whose row it is.
        with self.assertPerfaudit(no_findings=["cross_tenant_access"], tenant=str(self.b.id)):
            Server.objects.get(pk=theirs.pk)

    def test_counts_against_assert_num_queries(self):
        # assertNumQueries counts what Django's cursor sends: the SAVEPOINT
        # and RELEASE of atomic() and a SET too; pg_perfaudit counts
        # neither transaction control nor SET.  (Around assertPerfaudit, assertNumQueries
        # would count the helper's own start, stop and check statements.)
        with self.assertPerfaudit(max_queries=2) as run:
            with self.assertNumQueries(5):
                # What a tenancy middleware sends: counted by Django, not
                # by pg_perfaudit (SET is not a query).
                with connection.cursor() as c:
                    c.execute("SET app.org = %s", [str(self.a.id)])
                with transaction.atomic():
                    Server.objects.create(organization=self.a, name="new")
                    Server.objects.filter(organization=self.a).count()
        self.assertEqual(run.statements, 2)

    def test_a_block_that_raises_stops_its_run(self):
        with self.assertRaises(ZeroDivisionError):
            with self.assertPerfaudit(max_queries=1):
                Server.objects.filter(organization=self.a).count()
                1 / 0
        with connection.cursor() as c:
            c.execute("SELECT statements FROM perfaudit.runs WHERE label = %s"
                      " AND stopped_at IS NOT NULL", [self.id()])
            self.assertEqual(c.fetchall(), [(1,)])
        # A new capture on the connection can start.
        with self.assertPerfaudit(max_queries=1):
            Server.objects.filter(organization=self.a).count()

    def test_the_report_names_the_statements(self):
        with self.assertPerfaudit() as run:
            self.lazy_page()
        report = run.report()
        self.assertIn("saas_server", report)
        self.assertIn(str(run.run_id), report)

    def test_the_migration_operation_created_the_extension(self):
        # 0001_initial's CreatePerfauditExtension, in the test database
        # Django's runner made, at the helper's version.
        import perfaudit
        with connection.cursor() as c:
            c.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit'")
            self.assertEqual(c.fetchall(), [(perfaudit.__version__,)])
            c.execute("SHOW perfaudit.tenant_setting")
            self.assertEqual(c.fetchone()[0], "app.org")     # database_options()
