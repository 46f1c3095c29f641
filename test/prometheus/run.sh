#!/usr/bin/env bash
# The Prometheus queries file (contrib/prometheus/pg_perfaudit_queries.yaml)
# against the real exporter: starts a throwaway cluster with the library
# preloaded, loads the fixture, runs a known per-tenant workload, a capture
# run with an N+1 loop and a benchmark, starts Debian's
# prometheus-postgres-exporter on loopback with the queries file, as an
# ordinary role with pg_monitor, scrapes /metrics twice and checks the
# series against what the workload did and what SQL says.
#
#     bash test/prometheus/run.sh        (as root on Debian 12, after make install)
#
# Installs prometheus-postgres-exporter and curl when missing (the package's
# own service is not started: policy-rc.d in containers, and the test never
# touches it either way).  Exits non-zero on any failed check; the last
# line is "prometheus: N passed, M failed", and the same counts go to
# $PA_RESULTS/prometheus when test/run-tests.sh runs it (pa_result).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
queries=$top/contrib/prometheus/pg_perfaudit_queries.yaml
exporter=/usr/bin/prometheus-postgres-exporter

. "$top/test/lib.sh"
pa_provision prometheus
pa_pg_paths
if [ ! -f "$sharedir/extension/pg_perfaudit.control" ]; then
    echo "pg_perfaudit is not installed for the server of $PG_CONFIG: run make install first" >&2
    exit 1
fi

# --- throwaway cluster ----------------------------------------------------
pa_workdir pg_perfaudit-prometheus
exporter_pid=
cleanup() {
    [ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null || true
    pa_stop_cluster
    rm -rf "$work"
}
trap cleanup EXIT

pa_start_cluster

psql_su() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }

psql_su -d postgres -c 'CREATE DATABASE saas'
bash "$top/test/fixtures/fixture.sh" -h "$work" -p "$port" -U postgres -d saas \
    -v orgs=100 -v users=2000 -v servers=1000 -v metrics_per_server=5 -v apps=1000 >/dev/null
psql_su -d saas <<'SQL'
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION pg_perfaudit;
-- What the README tells monitoring to use: an ordinary role with pg_monitor.
CREATE ROLE perfaudit_exporter LOGIN;
GRANT pg_monitor TO perfaudit_exporter;
-- The application: its runs and findings are its own, which the exporter
-- sees through pg_monitor's pg_read_all_stats.
CREATE ROLE saas_app LOGIN;
GRANT USAGE ON SCHEMA app TO saas_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO saas_app;
SQL

# --- the workload -----------------------------------------------------------
# Tenant k (k = 1..5) runs 7 * k top-level statements that name it in
# their predicates; three statements read a tenant table with no tenant
# filter (counted under the NULL tenant, which the file exports as
# tenant="", tenant_set="false").
psql_su -d saas -c 'SELECT perfaudit.reset()' >/dev/null
{
    for k in 1 2 3 4 5; do
        for ((i = 1; i <= 7 * k; i++)); do
            echo "SELECT count(*) FROM app.users WHERE organization_id = $k AND id > $i;"
        done
    done
    for i in 1 2 3; do echo "SELECT count(*) FROM app.users WHERE email LIKE 'nobody$i%';"; done
} >"$work/workload.sql"
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U saas_app -d saas \
    -f "$work/workload.sql" >/dev/null
# An empty-string tenant (a text tenant column compared with ''): its own
# series, apart from the statements without a tenant.  And a database that
# is used and dropped, as test suites do: its entries stay in the
# statistics until evicted or reset, and must not collide in the export.
psql_su -d saas <<'SQL' >/dev/null
CREATE TABLE public.text_tenants (organization_id text, v int);
SELECT count(*) FROM public.text_tenants WHERE organization_id = '';
SELECT count(*) FROM public.text_tenants WHERE organization_id = '';
SQL
psql_su -d postgres -c 'CREATE DATABASE gone'
psql_su -d gone <<'SQL' >/dev/null
CREATE TABLE t (organization_id int);
SELECT count(*) FROM t WHERE organization_id = 1;
SELECT count(*) FROM t;
SQL
psql_su -d postgres -c 'DROP DATABASE gone'

# A capture run by the application with an N+1 loop (one query per user of
# organization 13, each its own top-level statement) and a benchmark.
{
    echo "SELECT perfaudit.start('prometheus test');"
    psql_su -d saas -c "SELECT id FROM app.users WHERE organization_id = 13 ORDER BY id LIMIT 20" |
        while read -r id; do
            echo "SELECT email FROM app.users WHERE organization_id = 13 AND id = $id;"
        done
    echo "SELECT 'run:' || run_id FROM perfaudit.stop();"
    echo "SELECT 'benchmark:' || benchmark_id FROM perfaudit.benchmark('SELECT count(*) FROM app.users WHERE organization_id = \$1',
              iterations => 50, warmup => 5, tenants => ARRAY['11', '12'], label => 'prometheus test');"
} >"$work/capture.sql"
"$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U saas_app -d saas \
    -f "$work/capture.sql" >"$work/capture.out"
run_id=$(sed -n 's/^run://p' "$work/capture.out")
bench_id=$(sed -n 's/^benchmark://p' "$work/capture.out")
echo "== workload: tenants 1..5 with 7, 14, 21, 28, 35 statements, 3 unscoped;" \
     "run $run_id (N+1 loop of 20), benchmark $bench_id"

# --- a hostile search_path -------------------------------------------------
# A role with CREATE on public (as the database owner has) plants a shadow
# of every function, aggregate, operator and type the queries file names
# (test/security/shadows.sql) and puts public first on the database's
# search_path, which the exporter's connections get.  Every query of the
# file names pg_catalog's objects, so none may run (checked below).  The
# test's own sessions keep search_path = pg_catalog (PGOPTIONS); the
# exporter is started without it.
psql_su -d saas <<'SQL' >/dev/null
CREATE ROLE pa_hostile LOGIN;
GRANT CREATE ON SCHEMA public TO pa_hostile;
ALTER DATABASE saas SET search_path = public, pg_catalog;
SQL
words=$(perl -ne 'next if /^\s*#/ || !/^\s/; while (/"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*)/g) { print defined($1) ? $1 : lc($2), "\n" }' "$queries" |
            sort -u | sed "s/'/''/g; s/.*/'&'/" | paste -sd,)
ops=$(perl -ne 'next if /^\s*#/ || !/^\s/; s/--.*//; while (/OPERATOR\(pg_catalog\.([^)]+)\)|([-+*\/<>=~!@#%^&|?]+)/g) { print $1 // $2, "\n" }' "$queries" |
          sort -u | sed "s/'/''/g; s/.*/'&'/" | paste -sd,)
planted=$( { echo 'SET search_path = pg_catalog;'; cat "$top/test/security/shadows.sql";
             echo "SELECT string_agg(kind || ' ' || planted, ', ' ORDER BY kind) FROM public.pa_plant_shadows(ARRAY[$words], ARRAY[$ops]);"; } |
           "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U pa_hostile -d saas)
echo "== planted in public by pa_hostile: $planted"
export PGOPTIONS='-c search_path=pg_catalog'

# --- the exporter ---------------------------------------------------------
echo "== $("$exporter" --version 2>&1 | head -n1)"
# A port below Linux's ephemeral range; if it is taken the exporter exits
# at once (it cannot bind) and another is tried.  Our exporter is the one
# answering only while it is still running.
ready=0
for attempt in 1 2 3 4 5; do
    eport=$(( 20000 + RANDOM % 12000 ))
    env -u PGOPTIONS DATA_SOURCE_NAME="host=$work port=$port user=perfaudit_exporter dbname=saas sslmode=disable" \
        "$exporter" --web.listen-address="127.0.0.1:$eport" --extend.query-path="$queries" \
        >"$work/exporter.log" 2>&1 &
    exporter_pid=$!
    for _ in $(seq 1 100); do
        kill -0 "$exporter_pid" 2>/dev/null || break
        if curl -s "http://127.0.0.1:$eport/metrics" -o /dev/null && kill -0 "$exporter_pid" 2>/dev/null; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [ $ready -eq 1 ] && break
    kill "$exporter_pid" 2>/dev/null || true
    wait "$exporter_pid" 2>/dev/null || true
    exporter_pid=
    echo "   port $eport: exporter not answering (attempt $attempt):"
    tail -n 3 "$work/exporter.log" | sed 's/^/      /'
done
if [ $ready -ne 1 ]; then
    echo "FAILED: the exporter did not start"
    echo "prometheus: 0 passed, 1 failed"
    pa_result prometheus 0 1
    exit 1
fi
echo "   on 127.0.0.1:$eport, --extend.query-path=contrib/prometheus/$(basename "$queries")"
scrape() {      # scrape FILE: the HTTP status goes to FILE.status
    curl -s -w '%{http_code}' "http://127.0.0.1:$eport/metrics" -o "$1" >"$1.status" || true
}
t0=$(date +%s%N)
scrape "$work/scrape1.txt"
t1=$(date +%s%N)
echo "   first scrape: $(wc -l <"$work/scrape1.txt") lines, $(grep -c '^perfaudit_' "$work/scrape1.txt" || true)" \
     "perfaudit samples, $(( (t1 - t0) / 1000000 )) ms"

# What SQL says, read after the scrape (the exporter's own statements count
# under the NULL tenant only).
psql_su -d saas -F ' ' -c "SELECT coalesce(tenant, '(null)'), calls, rows, unscoped_calls FROM perfaudit.tenant_stats
                             WHERE database = 'saas' ORDER BY 1" >"$work/sql_tenants.txt"
psql_su -d saas -F ' ' -c "SELECT count(*) FILTER (WHERE database IS NULL), count(*) FILTER (WHERE database IS NOT NULL)
                             FROM perfaudit.tenant_stats" >"$work/sql_entries.txt"
psql_su -d saas -F ' ' -c "SELECT kind, severity, count(*) FROM perfaudit.findings GROUP BY 1, 2 ORDER BY 1, 2" \
    >"$work/sql_findings.txt"
psql_su -d saas -c "SHOW perfaudit.max_tenants" >"$work/sql_max_tenants.txt"
psql_su -d saas -c "SELECT count(*) FROM perfaudit.findings WHERE run_id = $run_id" >"$work/sql_run_findings.txt"
# Positive control: the same division unqualified, as the exporter's role.
env -u PGOPTIONS "$bindir/psql" -X -q -At -h "$work" -p "$port" -U perfaudit_exporter -d saas \
    -c "SELECT /* pa_positive_control */ 1.5::pg_catalog.float8 / 1000::pg_catalog.float8" >/dev/null 2>&1 || true
psql_su -d saas -c "SELECT count(*) FROM public.pa_marker WHERE query LIKE '%pa_positive_control%'" \
    >"$work/sql_trapped_control.txt"
psql_su -d saas -c "SELECT count(*) FROM public.pa_marker WHERE who = 'perfaudit_exporter' AND query LIKE '%perfaudit.%'" \
    >"$work/sql_trapped.txt"
psql_su -d saas -c "SELECT string_agg(DISTINCT what, ', ') FROM public.pa_marker WHERE who = 'perfaudit_exporter' AND query LIKE '%perfaudit.%'" \
    >"$work/sql_trapped_what.txt"

# More traffic for tenant 4, then a second scrape: the counter must grow
# by exactly that.
for ((i = 1; i <= 11; i++)); do echo "SELECT 1 FROM app.users WHERE organization_id = 4 LIMIT 1;"; done |
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U saas_app -d saas >/dev/null
scrape "$work/scrape2.txt"

# --- checks -----------------------------------------------------------------
status=0
/usr/bin/python3 - "$work" "$run_id" "$bench_id" <<'PY' || status=1
import re
import sys

work, run_id, bench_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
label = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

problems = []
def scrape(name):
    series, types = {}, {}
    if open(f"{work}/{name}.status").read().strip() != "200":
        return series, types    # the error page is not parsed; checked below
    for line in open(f"{work}/{name}"):
        line = line.rstrip("\n")
        if line.startswith("# TYPE "):
            _, _, metric, kind = line.split(" ", 3)
            types[metric] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        if not m:
            problems.append(f"unparsable line in {name}: {line!r}")
            continue
        labels = frozenset(label.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        if key in series:
            problems.append(f"duplicate series in {name}: {line!r}")
        series[key] = float(m.group(3))
    return series, types

def get(series, metric, **labels):
    """The one sample of metric whose labels include these, or None."""
    want = set(labels.items())
    found = [v for (n, ls), v in series.items() if n == metric and want <= set(ls)]
    if len(found) > 1:
        raise SystemExit(f"{metric}{labels}: {len(found)} series")
    return found[0] if found else None

passed = failed = 0
def check(ok, what):
    global passed, failed
    print(("ok" if ok else "not ok") + f" {passed + failed + 1} - {what}")
    if ok:
        passed += 1
    else:
        failed += 1

s1, types = scrape("scrape1.txt")
s2, _ = scrape("scrape2.txt")

for name in ("scrape1.txt", "scrape2.txt"):
    code = open(f"{work}/{name}.status").read().strip()
    check(code == "200", f"{name}: HTTP {code} (500 when two rows give the same series)")
check(not problems, "both scrapes parse, no series twice" + (": " + problems[0] if problems else ""))
check(get(s1, "pg_up") == 1, "pg_up is 1: the exporter reached the server")
load = [v for (n, ls), v in s1.items() if n == "pg_exporter_user_queries_load_error"]
check(load == [0.0], f"the queries file loaded without error (pg_exporter_user_queries_load_error {load})")
errors = [l.strip() for l in open(f"{work}/exporter.log") if "level=error" in l or "level=warn" in l]
check(not errors, "the exporter logged no error or warning" + (": " + errors[0] if errors else ""))

# Every section of the file produced series, with the declared types.
for metric, kind in [("perfaudit_tenant_calls_total", "counter"),
                     ("perfaudit_tenant_seconds_total", "counter"),
                     ("perfaudit_tenant_p95_seconds", "gauge"),
                     ("perfaudit_tenant_stats_tenants", "gauge"),
                     ("perfaudit_tenant_stats_evictions_total", "counter"),
                     ("perfaudit_runs_stored", "gauge"),
                     ("perfaudit_last_run_id", "gauge"),
                     ("perfaudit_findings_stored", "gauge"),
                     ("perfaudit_benchmarks_stored", "gauge")]:
    check(types.get(metric) == kind, f"{metric} is exported as a {kind}")

# Per-tenant statistics: the workload's exact counts, and equal to SQL.
sql = {}
for line in open(f"{work}/sql_tenants.txt"):
    tenant, calls, rows, unscoped = line.rstrip("\n").split(" ")
    sql["" if tenant == "''" else tenant] = (float(calls), float(rows), float(unscoped))
for k in range(1, 6):
    want = 7 * k
    got = get(s1, "perfaudit_tenant_calls_total", database="saas", tenant=str(k))
    check(got == want and sql.get(str(k), (None,))[0] == want,
          f"tenant {k}: calls_total {got}, SQL {sql.get(str(k), (None,))[0]}, workload {want}")
got = get(s1, "perfaudit_tenant_unscoped_calls_total", database="saas", tenant="", tenant_set="false")
check(got is not None and got >= 3 and got == sql["(null)"][2],
      f"unscoped calls without a tenant (tenant=\"\", tenant_set=\"false\"): {got}, SQL {sql['(null)'][2]}, workload >= 3")
got = get(s1, "perfaudit_tenant_calls_total", database="saas", tenant="", tenant_set="true")
check(got == 2 and sql.get("", (None,))[0] == 2,
      f"the empty-string tenant is its own series (tenant=\"\", tenant_set=\"true\"): {got}, workload 2")
dropped, live = (int(x) for x in open(f"{work}/sql_entries.txt").read().split())
exported = [dict(ls) for (n, ls) in s1 if n == "perfaudit_tenant_calls_total"]
exported_dbs = {d.get("database") for d in exported}
check(dropped >= 2 and len(exported) == live and exported_dbs <= {"saas", "postgres"},
      f"the {live} entries of existing databases are exported, not the {dropped} of the dropped one "
      f"({len(exported)} series, databases {sorted(exported_dbs)})")
p95 = get(s1, "perfaudit_tenant_p95_seconds", database="saas", tenant="5")
mx = get(s1, "perfaudit_tenant_max_seconds", database="saas", tenant="5")
check(p95 is not None and 0 < p95 <= mx, f"tenant 5: 0 < p95_seconds ({p95}) <= max_seconds ({mx})")
got2 = get(s2, "perfaudit_tenant_calls_total", database="saas", tenant="4")
got1 = get(s1, "perfaudit_tenant_calls_total", database="saas", tenant="4")
check(got2 is not None and got1 is not None and got2 - got1 == 11,
      f"tenant 4 after 11 more statements: {got1} -> {got2}")
check(get(s1, "perfaudit_tenant_stats_max_tenants") == float(open(f"{work}/sql_max_tenants.txt").read()),
      "perfaudit_tenant_stats_max_tenants equals perfaudit.max_tenants")
check(get(s1, "perfaudit_tenant_stats_tenants") == live + dropped,
      f"perfaudit_tenant_stats_tenants ({get(s1, 'perfaudit_tenant_stats_tenants')}) counts the {live} + {dropped} entries SQL lists")

# Runs, the last run, findings, benchmarks.
check(get(s1, "perfaudit_runs_stored", scope="session") == 1
      and get(s1, "perfaudit_runs_recent", scope="session") == 1
      and get(s1, "perfaudit_runs_stored", scope="database") == 0,
      "perfaudit_runs_*: one recent session run, no database run (0, not absent)")
check(get(s1, "perfaudit_last_run_id") == run_id, f"perfaudit_last_run_id is the run ({run_id})")
check((get(s1, "perfaudit_last_run_statements") or 0) == 20, "the last run counted the loop's 20 statements")
sql_findings = {}
for line in open(f"{work}/sql_findings.txt"):
    kind, sev, n = line.split()
    sql_findings[(kind, sev)] = float(n)
pairs = [(n, dict(ls)) for (n, ls) in s1 if n == "perfaudit_findings_stored"]
check(len(pairs) == 18, f"perfaudit_findings_stored: every kind x severity present ({len(pairs)} of 18)")
mismatch = [(d["kind"], d["severity"]) for n, d in pairs
            if s1[(n, frozenset(d.items()))] != sql_findings.get((d["kind"], d["severity"]), 0)]
check(not mismatch, f"perfaudit_findings_stored equals perfaudit.findings per kind and severity {mismatch or ''}")
exported_pairs = {(d["kind"], d["severity"]) for n, d in pairs}
missing = sorted(set(sql_findings) - exported_pairs)
check(not missing, f"every kind and severity in perfaudit.findings is exported {missing or ''}")
n1 = sum(get(s1, "perfaudit_findings_recent", kind="n_plus_one", severity=s) or 0 for s in ("high", "medium", "low"))
check(n1 >= 1, f"the N+1 loop shows as a recent n_plus_one finding ({n1})")
run_findings = float(open(f"{work}/sql_run_findings.txt").read())
check(run_findings >= 1 and get(s1, "perfaudit_last_run_findings") == run_findings,
      f"perfaudit_last_run_findings ({get(s1, 'perfaudit_last_run_findings')}) equals the run's findings ({run_findings})")
check(get(s1, "perfaudit_benchmarks_stored") == 1 and get(s1, "perfaudit_benchmarks_recent_errors") == 0,
      "perfaudit_benchmarks_*: the benchmark, no errors")

# The shadows: none of the file's queries ran one (the exporter's own
# built-in queries are not ours, and may).
trapped = int(open(f"{work}/sql_trapped.txt").read())
control = int(open(f"{work}/sql_trapped_control.txt").read())
check(control >= 1, f"positive control: an unqualified / run by the exporter's role is caught ({control})")
check(trapped == 0, "no query of the file ran a planted function, operator or type as the exporter's role"
      + (f" ({trapped}: {open(f'{work}/sql_trapped_what.txt').read().strip()})" if trapped else ""))
check(any(n.startswith("perfaudit_tenant_") for (n, ls) in s1),
      "the file's queries ran with the shadows on the search_path (perfaudit_tenant_* exported)")

print(f"prometheus: {passed} passed, {failed} failed")
with open(f"{work}/counts", "w") as f:
    f.write(f"{passed} {failed}\n")
sys.exit(1 if failed else 0)
PY
# The checks' counts; none written: the checks died, one failure.
n_pass=0 n_fail=1
if [ -s "$work/counts" ]; then read -r n_pass n_fail <"$work/counts"; fi
pa_result prometheus "$n_pass" "$n_fail"
if [ $status -ne 0 ]; then
    echo "== exporter log"; tail -n 30 "$work/exporter.log"
    echo "== perfaudit samples of the first scrape"; grep '^perfaudit_' "$work/scrape1.txt" | head -n 80
fi
exit $status
