"""pytest-django scenarios: pg_perfaudit's counts against pytest-django's
own django_assert_num_queries, and a leak's evidence surviving the test's
rollback, in the db fixture's transaction."""
import json

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError

from saas.models import Application, Organization, Server


def start(label, tenant):
    with connection.cursor() as c:
        c.execute("SELECT perfaudit.start(%s, 'session', %s)", [label, tenant])
        return c.fetchone()[0]


def stop(run_id):
    with connection.cursor() as c:
        c.execute("SELECT statements FROM perfaudit.stop()")
        statements = c.fetchone()[0]
        c.execute("SELECT kind, severity, tenant, detail::text FROM perfaudit.findings"
                  " WHERE run_id = %s ORDER BY finding_id", [run_id])
        return statements, [dict(kind=k, severity=s, tenant=t, detail=json.loads(d))
                            for k, s, t, d in c.fetchall()]


@pytest.fixture
def orgs(db):
    result = []
    for i in range(3):
        org = Organization.objects.create(name="org %d" % i)
        for j in range(6):
            server = Server.objects.create(organization=org, name="s%d" % j)
            Application.objects.create(organization=org, server=server, name="a%d" % j)
        result.append(org)
    return result


def test_lazy_loads_counted_as_pytest_django_counts_them(orgs, django_assert_num_queries):
    a = orgs[0]
    run_id = start("pytest lazy", str(a.id))
    with django_assert_num_queries(7) as captured:
        for app in Application.objects.filter(organization=a):
            app.server.name
    statements, findings = stop(run_id)
    assert statements == len(captured.captured_queries) == 7
    (n1,) = [f for f in findings if f["kind"] == "n_plus_one"]
    assert n1["tenant"] == str(a.id)
    assert {f["severity"] for f in findings if f["kind"] == "unscoped_tenant_query"} == {"low"}


def test_leak_raises_pa001_and_the_evidence_stays(orgs):
    a, b = orgs[0], orgs[1]
    theirs = Server.objects.filter(organization=b).first()
    run_id = start("pytest leak", str(a.id))
    Server.objects.get(pk=theirs.pk)
    stop(run_id)
    with pytest.raises(InternalError) as excinfo:
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute("SELECT perfaudit.assert_no_findings(run_id => %s)", [run_id])
    assert excinfo.value.__cause__.pgcode == "PA001"
    assert "cross_tenant_access" in str(excinfo.value)
    with connection.cursor() as c:
        c.execute("SELECT tenant FROM perfaudit.findings WHERE run_id = %s"
                  " AND kind = 'cross_tenant_access'", [run_id])
        assert c.fetchone()[0] == str(b.id)
