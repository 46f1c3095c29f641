#!/usr/bin/env bash
# Application-harness tests: pg_perfaudit used the way application test
# suites use it, through their own database drivers, as an ordinary
# application role, inside a transaction that every test rolls back.
#
#   python/  pytest + psycopg 3, shaped like Django's TestCase, written
#            with clients/python's pytest plugin (the perfaudit fixture)
#   php/     PHPUnit + PDO pgsql (server-side prepared statements), shaped
#            like a Laravel feature test with RefreshDatabase, written with
#            clients/php's PerfauditAssertions trait
#   and clients/php's own PHPUnit tests (clients/php/tests)
#
# Usage (as root on Debian 12, after the extension is installed, which
# test/run-tests.sh and `make install` do):
#
#     bash test/harness/run.sh
#
# Installs what it is missing from Debian's packages (python3-pytest,
# python3-psycopg, php-cli, php-pgsql, phpunit), starts a throwaway
# cluster as the postgres user (its own temporary directory, Unix socket
# there, no TCP, random port number), loads the multi-tenant fixture at a
# small size, creates the extension and the application role, runs the
# suites and stops and removes the cluster.  The clients get the
# connection from PGHOST, PGPORT, PGDATABASE and PGUSER; PGOPTIONS, if
# set, reaches them too (e.g. PGOPTIONS='-c
# perfaudit.n_plus_one_threshold=50' shows the N+1 tests failing).
# Exits non-zero if any suite fails; the last line is "harness: N passed,
# M failed", and the same counts go to $PA_RESULTS/harness when
# test/run-tests.sh runs it (pa_result).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# Debian's interpreter, where python3-pytest and python3-psycopg install:
# a python3 earlier on PATH (pyenv, a virtualenv) would not see them.
python=/usr/bin/python3

# --- packages -------------------------------------------------------------
. "$top/test/lib.sh"
pa_provision harness
pa_pg_paths
pa_require_installed

# --- throwaway cluster ----------------------------------------------------
# No TCP listener: the port only names the socket, which lives in $work.
pa_throwaway_cluster pg_perfaudit-harness

su_psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }

su_psql -d postgres -c 'CREATE DATABASE saas'
# Small fixture: 100 organizations, each with 20 users, 10 servers (5
# metric rows each) and 10 applications; every size coprime with the
# fixture's multipliers, so each organization gets exactly that many.
bash "$top/test/fixtures/fixture.sh" -h "$work" -p "$port" -U postgres -d saas \
    -v orgs=100 -v users=2000 -v servers=1000 -v metrics_per_server=5 -v apps=1000
# The application role: an ordinary login role (no superuser, no
# BYPASSRLS), with what an application has on its own schema.  Nothing on
# schema perfaudit is granted: its functions and tables are open to
# PUBLIC, row-level security showing each role its own runs.  SET ON
# PARAMETER perfaudit.track lets the test role choose the level, as the
# README suggests (the suites check that it can).
su_psql -d saas <<'SQL'
CREATE EXTENSION pg_perfaudit;
CREATE ROLE saas_app LOGIN;
GRANT USAGE ON SCHEMA app TO saas_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO saas_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO saas_app;
GRANT SET ON PARAMETER perfaudit.track TO saas_app;
SQL

export PGHOST=$work PGPORT=$port PGDATABASE=saas PGUSER=saas_app

# --- the suites -----------------------------------------------------------
echo "== pytest (psycopg $($python -c 'import psycopg; print(psycopg.__version__)'))"
py_status=0
(cd "$here/python" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$top/clients/python" \
    "$python" -m pytest --junitxml="$work/pytest.xml" "$@") || py_status=$?
read -r py_pass py_fail < <(pa_junit_counts "$work/pytest.xml")
if [ $py_status -ne 0 ] && [ "$py_fail" -eq 0 ]; then py_fail=1; fi

phpunit_version=$(phpunit --version | sed -n 's/^PHPUnit \([^ ]*\).*/\1/p')

echo "== phpunit harness (PHPUnit $phpunit_version, PHP $(php -r 'echo PHP_VERSION;'), PDO pgsql)"
# No configuration file: the bootstrap is clients/php's autoloader, and
# nothing (no result cache) is written into the tree.
php_status=0
phpunit --no-configuration --do-not-cache-result \
    --bootstrap "$top/clients/php/tests/bootstrap.php" \
    --log-junit "$work/php.xml" "$here/php/PerfauditFeatureTest.php" || php_status=$?
read -r php_pass php_fail < <(pa_junit_counts "$work/php.xml")
if [ $php_status -ne 0 ] && [ "$php_fail" -eq 0 ]; then php_fail=1; fi

echo "== phpunit clients/php"
cl_status=0
phpunit -c "$top/clients/php/phpunit.xml.dist" --log-junit "$work/clients-php.xml" || cl_status=$?
read -r cl_pass cl_fail < <(pa_junit_counts "$work/clients-php.xml")
if [ $cl_status -ne 0 ] && [ "$cl_fail" -eq 0 ]; then cl_fail=1; fi

status=0
if [ $py_status -ne 0 ] || [ $php_status -ne 0 ] || [ $cl_status -ne 0 ]; then
    status=1
    echo "== server log (last 40 lines)"
    tail -n 40 "$work/server.log"
fi
echo "pytest $py_pass passed, $py_fail failed; php $php_pass passed, $php_fail failed;" \
     "clients/php $cl_pass passed, $cl_fail failed"
echo "harness: $((py_pass + php_pass + cl_pass)) passed, $((py_fail + php_fail + cl_fail)) failed"
pa_result harness $((py_pass + php_pass + cl_pass)) $((py_fail + php_fail + cl_fail))
exit $status
