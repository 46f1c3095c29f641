#!/usr/bin/env bash
# Real frameworks' own test runners against pg_perfaudit and the client
# helpers of clients/ (each helper's own tests, against the real
# framework): clients/python's tests on psycopg 3 and psycopg2 (pytest), a
# Django project
# (Debian's python3-django, psycopg2) run by `manage.py test`, whose
# TestCase scenarios compare pg_perfaudit's statement counts with Django's
# CaptureQueriesContext and assert the findings (test/frameworks/django),
# the same project's pytest scenarios run by pytest-django (counted against
# its django_assert_num_queries),
# and ActiveRecord 6.1 with minitest (ruby-activerecord, ruby-pg,
# ruby-minitest; prepared statements), counted by its sql.active_record
# notifications (test/frameworks/rails).  The Django project uses
# clients/python (its migration operation, database_options(), the
# TestCase mixin in saas/test_helpers.py, the pytest plugin in
# test_pytest_helpers.py); clients/ruby's own minitest and RSpec suites
# run after the Rails scenarios.
# Needs the extension installed.  Writes $PA_RESULTS/frameworks.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
python=/usr/bin/python3

. "$top/test/lib.sh"
pa_provision frameworks
pa_pg_paths
pa_require_installed
pa_throwaway_cluster pg_perfaudit-frameworks

# The helpers from the tree, as an installed package would provide them
# (copied: the server's user, who runs the suites, may not read the tree).
cp -r "$top/clients" "$work/clients"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/clients"
PYTHONPATH=$work/clients/python

"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE clients'
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d clients -c 'CREATE EXTENSION pg_perfaudit'
echo "== clients/python on psycopg $($python -c 'import psycopg; print(psycopg.__version__)') and psycopg2 $($python -c 'import psycopg2; print(psycopg2.__version__.split()[0])') (pytest)"
status=0
(cd "$work/clients/python" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PGDATABASE=clients PYTHONPATH="$PYTHONPATH" PYTHONDONTWRITEBYTECODE=1 \
    "$python" -m pytest -v -p no:cacheprovider -p no:django --junitxml="$work/clients-python.xml" tests) || status=1
read -r passed failed < <(pa_junit_counts "$work/clients-python.xml")

cp -r "$here/django" "$work/django"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/django"
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE saas'

echo "== Django $($python -c 'import django; print(django.get_version())') TestCase suite (manage.py test)"
(cd "$work/django" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PYTHONPATH="$PYTHONPATH" PYTHONDONTWRITEBYTECODE=1 \
    PA_DJANGO_COUNTS="$work/django.counts" "$python" manage.py test -v 2 saas) || status=1
read -r dpassed dfailed < "$work/django.counts" 2>/dev/null || { dpassed=0; dfailed=1; }
passed=$((passed + dpassed)) failed=$((failed + dfailed))

echo "== pytest-django $($python -c 'import pytest_django; print(pytest_django.__version__)' 2>/dev/null || echo '?') scenarios (pytest)"
(cd "$work/django" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PYTHONPATH="$PYTHONPATH" PYTHONDONTWRITEBYTECODE=1 \
    PA_PYTEST_COUNTS="$work/pytest.counts" "$python" -m pytest -v -rxX) || status=1
read -r ppassed pfailed < "$work/pytest.counts" 2>/dev/null || { ppassed=0; pfailed=1; }
passed=$((passed + ppassed)) failed=$((failed + pfailed))

echo "== ActiveRecord $(ruby -e 'require "active_record"; print ActiveRecord::VERSION::STRING') + minitest"
cp -r "$here/rails" "$work/rails"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/rails"
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE saas_rails'
(cd "$work/rails" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" \
    PA_RAILS_COUNTS="$work/rails.counts" ruby -I"$work/clients/ruby/lib" perfaudit_test.rb -v) || status=1
read -r rpassed rfailed < "$work/rails.counts" 2>/dev/null || { rpassed=0; rfailed=1; }
passed=$((passed + rpassed)) failed=$((failed + rfailed))

# clients/ruby's own suites, in a database of their own.
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE clients_ruby'
ruby_env=(env PGHOST="$work" PGPORT="$port" PGUSER=postgres PGDATABASE=clients_ruby)
echo "== clients/ruby: minitest $(ruby -e 'require "minitest"; print Minitest::VERSION')"
(cd "$work/clients/ruby" && "${run_as[@]}" "${ruby_env[@]}" ruby -Ilib test/perfaudit_test.rb -v) \
    | tee "$work/ruby-minitest.log" || status=1
read -r mpassed mfailed < <(sed -n 's/^\([0-9]*\) runs, [0-9]* assertions, \([0-9]*\) failures, \([0-9]*\) errors, \([0-9]*\) skips$/\1 \2 \3 \4/p' \
    "$work/ruby-minitest.log" | awk '{ print $1 - $2 - $3 - $4, $2 + $3 }')
[ -n "${mpassed:-}" ] || { mpassed=0; mfailed=1; }
passed=$((passed + mpassed)) failed=$((failed + mfailed))
echo "== clients/ruby: RSpec $(ruby -e 'require "rspec/core"; print RSpec::Core::Version::STRING')"
(cd "$work/clients/ruby" && "${run_as[@]}" "${ruby_env[@]}" rspec -Ilib --format documentation \
    --format json --out "$work/ruby-rspec.json" spec) || status=1
read -r spassed sfailed < <(/usr/bin/python3 -c '
import json, sys
try:
    s = json.load(open(sys.argv[1]))["summary"]
    print(s["example_count"] - s["failure_count"] - s["pending_count"], s["failure_count"] + s["errors_outside_of_examples_count"])
except (OSError, ValueError, KeyError):
    print(0, 1)' "$work/ruby-rspec.json")
passed=$((passed + spassed)) failed=$((failed + sfailed))
# The helpers as packages: a wheel (pip, setuptools from Debian) and a
# gem build at the project's version, and the wheel's plugin entry point.
echo "== clients packaging: wheel and gem"
pkg() {
    if "$@" >"$work/pkg.log" 2>&1; then
        passed=$((passed + 1)); echo "ok: $*"
    else
        failed=$((failed + 1)); echo "not ok: $*"; cat "$work/pkg.log"
    fi
}
version=$(pa_make_var EXTVERSION)
pkg "$python" -m pip wheel --no-deps --no-build-isolation -q "$work/clients/python" -w "$work/wheel"
pkg test -f "$work/wheel/perfaudit-$version-py3-none-any.whl"
pkg "$python" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); ep = [n for n in z.namelist() if n.endswith("entry_points.txt")]; assert b"perfaudit.pytest_plugin = perfaudit.pytest_plugin" in z.read(ep[0]), ep' \
    "$work/wheel/perfaudit-$version-py3-none-any.whl"
pkg bash -c "cd '$work/clients/ruby' && gem build perfaudit.gemspec && test -f perfaudit-$version.gem"

echo "frameworks: $passed passed, $failed failed"
pa_result frameworks "$passed" "$failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
