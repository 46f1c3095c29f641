"""The pytest plugin of clients/python under pytest-django: the
``perfaudit`` fixture and the ``perfaudit`` marker, in the db fixture's
transaction (rolled back after each test), against pytest-django's own
django_assert_num_queries."""
import pytest

from perfaudit import PerfauditAssertionError
from saas.models import Application, Organization, Server


@pytest.fixture
def org(db):
    org = Organization.objects.create(name="org")
    other = Organization.objects.create(name="other")
    for o in (org, other):
        for j in range(5):
            server = Server.objects.create(organization=o, name="s%d" % j)
            Application.objects.create(organization=o, server=server, name="a%d" % j)
    return org


def lazy_page(org):
    return [app.server.name for app in Application.objects.filter(organization=org)]


def test_fixture_counts_as_django_assert_num_queries(org, perfaudit, django_assert_num_queries):
    # The capture outside: inside django_assert_num_queries, its start()
    # and stop() would be counted there.
    with perfaudit.capture(tenant=org.id) as run:
        with django_assert_num_queries(6) as counted:
            lazy_page(org)
    assert run.statements == len(counted.captured_queries) == 6
    run.assert_max_queries(6)
    with pytest.raises(PerfauditAssertionError, match=r"6 queries executed, at most 5 allowed"):
        run.assert_max_queries(5)
    # The failed check rolled back to its savepoint: the test goes on.
    assert Server.objects.filter(organization=org).count() == 5


def test_fixture_n_plus_one_failure_carries_the_finding(org, perfaudit):
    with perfaudit.capture(tenant=org.id) as run:
        lazy_page(org)
    with pytest.raises(PerfauditAssertionError) as excinfo:
        run.assert_no_n_plus_one()
    assert "[medium] n_plus_one for tenant %d: statement executed 5 times" % org.id in str(excinfo.value)
    assert run.label.endswith("test_fixture_n_plus_one_failure_carries_the_finding")


@pytest.mark.perfaudit(max_queries=1, no_findings=["n_plus_one", "cross_tenant_access"])
def test_marker_passes_for_a_joined_page(org):
    assert len([app.server.name for app in
                Application.objects.filter(organization=org).select_related("server")]) == 5


# The marker fails the test itself: strict xfail turns an unexpected pass
# (a marker that checks nothing) into a failure of this suite.
@pytest.mark.xfail(raises=PerfauditAssertionError, strict=True)
@pytest.mark.perfaudit(no_n_plus_one=True)
def test_marker_fails_a_lazy_page(org):
    lazy_page(org)


@pytest.mark.xfail(raises=PerfauditAssertionError, strict=True)
@pytest.mark.perfaudit(max_queries=2)
def test_marker_fails_over_budget(org):
    lazy_page(org)


LEAKY_ORG = 9001


@pytest.fixture
def leaky(db):
    """An organization with a known id, the marker's acting tenant."""
    org = Organization.objects.create(id=LEAKY_ORG, name="leaky")
    Server.objects.create(organization=org, name="mine")
    return org


@pytest.mark.xfail(raises=PerfauditAssertionError, strict=True)
@pytest.mark.perfaudit(tenant=LEAKY_ORG, no_findings=["cross_tenant_access"])
def test_marker_tenant_fails_on_another_organizations_row(org, leaky):
    Server.objects.get(pk=Server.objects.filter(organization=org).first().pk)


@pytest.mark.perfaudit(tenant=LEAKY_ORG, no_findings=["cross_tenant_access"])
def test_marker_tenant_passes_on_its_own_rows(org, leaky):
    Server.objects.get(organization=leaky, name="mine")
