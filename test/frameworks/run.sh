#!/usr/bin/env bash
# Real frameworks' own test runners against pg_perfaudit: a Django project
# (Debian's python3-django, psycopg2) run by `manage.py test`, whose
# TestCase scenarios compare pg_perfaudit's statement counts with Django's
# CaptureQueriesContext and assert the findings (test/frameworks/django),
# the same project's pytest scenarios run by pytest-django (counted against
# its django_assert_num_queries),
# and ActiveRecord 6.1 with minitest (ruby-activerecord, ruby-pg,
# ruby-minitest; prepared statements), counted by its sql.active_record
# notifications (test/frameworks/rails).
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

cp -r "$here/django" "$work/django"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/django"
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE saas'

echo "== Django $($python -c 'import django; print(django.get_version())') TestCase suite (manage.py test)"
status=0
(cd "$work/django" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PA_DJANGO_COUNTS="$work/django.counts" "$python" manage.py test -v 2 saas) || status=1
read -r passed failed < "$work/django.counts" 2>/dev/null || { passed=0; failed=1; }

echo "== pytest-django $($python -c 'import pytest_django; print(pytest_django.__version__)' 2>/dev/null || echo '?') scenarios (pytest)"
(cd "$work/django" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PA_PYTEST_COUNTS="$work/pytest.counts" "$python" -m pytest -v test_pytest_scenarios.py) || status=1
read -r ppassed pfailed < "$work/pytest.counts" 2>/dev/null || { ppassed=0; pfailed=1; }
passed=$((passed + ppassed)) failed=$((failed + pfailed))

echo "== ActiveRecord $(ruby -e 'require "active_record"; print ActiveRecord::VERSION::STRING') + minitest"
cp -r "$here/rails" "$work/rails"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/rails"
"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE saas_rails'
(cd "$work/rails" && "${run_as[@]}" env PGHOST="$work" PGPORT="$port" \
    PA_RAILS_COUNTS="$work/rails.counts" ruby perfaudit_test.rb -v) || status=1
read -r rpassed rfailed < "$work/rails.counts" 2>/dev/null || { rpassed=0; rfailed=1; }
passed=$((passed + rpassed)) failed=$((failed + rfailed))
echo "frameworks: $passed passed, $failed failed"
pa_result frameworks "$passed" "$failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
