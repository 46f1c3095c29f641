#!/usr/bin/env bash
# Concurrency benchmark (issue 18, item 1): server CPU per transaction,
# tps and LWLock wait samples under pgbench, for
#
#   bare      nothing preloaded
#   pgss      pg_stat_statements
#   stats     pg_perfaudit, tenant statistics (default settings)
#   capture   pg_perfaudit, tenant statistics and a database-scope capture
#             (perfaudit.start('bench', 'database') from a separate session
#             held open during the round, perfaudit.stop() after it)
#   both      pg_stat_statements + pg_perfaudit (tenant statistics)
#   statsbig  (optional, not in the default list) pg_perfaudit with
#             max_tenants = max_tenant_statements = 250000: no eviction
#
# on the workloads
#
#   select    pgbench's built-in select-only script (-S: a point select by
#             primary key on pgbench_accounts, pgbench -i -s $SCALE), no tenant
#   tN        SELECT name, email FROM app.users
#               WHERE organization_id = :org AND id = :id
#             with org uniform in 1..N (the tenant, a bound parameter) and id
#             uniform in 1..10000 (the fixture's users); e.g. t1000, t200000.
#             The fixture has 1,000 organizations: a tenant beyond them
#             matches no row but still counts as a tenant in the statistics
#
# each with 1, 4, 16, 64 clients (pgbench -M prepared -c N -j min(N,2)).
# Rounds are interleaved: for each round, each workload and each client
# count, every configuration runs once (a server restart each), so machine
# noise spreads evenly over them.
#
# CPU per transaction: the delta, over the pgbench run, of the postmaster's
# cutime+cstime (its exited and reaped children: the pgbench backends, which
# are waited for before the second reading) plus its own utime+stime, from
# /proc/<pid>/stat, divided by the transactions pgbench reports.  Cross-check:
# the last utime+stime seen of every backend born during the run, sampled
# from /proc every 100 ms (misses at most the last 100 ms of each).  LWLock
# samples: pg_stat_activity every 100 ms (one long-lived psql with \watch),
# the active pgbench backends by wait_event_type:wait_event.
#
#   bash test/bench/concurrency.sh       (as root or as a user with sudo)
#   DURATION=3 ROUNDS=1 CLIENTS="1 16" bash test/bench/concurrency.sh
#
# Environment: DURATION (s, default 10), ROUNDS (3), CLIENTS ("1 4 16 64"),
# WORKLOADS ("select t1000 t100000 t200000"), CONFIGS ("bare pgss stats
# capture both"), WARMUP (s of the same pgbench run before each measured
# run, default 2), SCALE (pgbench -i scale, 10), BUILD=1 to build and install
# the tree first (under flock /tmp/pa-install.lock; by default the installed
# extension is used as it is).
#
# A measurement, not a test: prints the issue's targets with PASS/FAIL and
# exits 0.  Writes test/bench/out/concurrency.txt (the report) and
# test/bench/out/concurrency.runs.tsv (one line per run), .events.tsv (the
# wait events sampled) and .meta; REPORT_ONLY=1 prints the report again from
# those files.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-"1 4 16 64"}
WORKLOADS=${WORKLOADS:-"select t1000 t100000 t200000"}
CONFIGS=${CONFIGS:-"bare pgss stats capture both"}
WARMUP=${WARMUP:-2}
SCALE=${SCALE:-10}

mkdir -p "$here/out"
runs=$here/out/concurrency.runs.tsv
events=$here/out/concurrency.events.tsv
meta=$here/out/concurrency.meta
tick=$(getconf CLK_TCK)

# report: the tables, from $runs, $events and $meta (REPORT_ONLY=1 prints
# them again from the files of the last run, without running anything).
report() {
    /usr/bin/python3 - "$runs" "$events" "$meta" "$tick" <<'PY'
import csv, statistics, subprocess, sys, os
runs_file, events_file, meta_file, tick = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
meta = dict(l.rstrip("\n").split("\t", 1) for l in open(meta_file) if "\t" in l)
rows = list(csv.DictReader(open(runs_file), delimiter="\t"))
def uniq(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out
configs = uniq(r["config"] for r in rows)
workloads = uniq(r["workload"] for r in rows)
clients = sorted(uniq(int(r["clients"]) for r in rows))
rounds = sorted({int(r["round"]) for r in rows})
R = {(int(r["round"]), r["workload"], int(r["clients"]), r["config"]): r for r in rows}
PA = ("stats", "capture", "both", "statsbig")

def cpu(r):   # µs of server CPU per transaction
    return 1e6 * int(r["cpu_ticks"]) / tick / int(r["xacts"])
def live(r):  # the cross-check: live backends' CPU, sampled
    return 1e6 * int(r["live_ticks"]) / tick / int(r["xacts"])
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def runs_of(w, n, c):
    return [R[(rd, w, n, c)] for rd in rounds if (rd, w, n, c) in R]
def per_round(f, w, n, c):
    return [f(r) for r in runs_of(w, n, c)]
def ratio_rounds(f, w, n, c, w0, n0, c0):
    out = []
    for rd in rounds:
        a, b = R.get((rd, w, n, c)), R.get((rd, w0, n0, c0))
        if a and b:
            out.append(f(a) / f(b))
    return out
def nobs(w, n, c):
    return sum(int(r["obs"]) for r in runs_of(w, n, c))
def pct(w, n, c, key):
    o = nobs(w, n, c)
    return 100.0 * sum(int(r[key]) for r in runs_of(w, n, c)) / o if o else None
def fmt(x, spec):
    return "-" if x is None else format(x, spec)
def table(title, body):
    """body: [(label, [cell per client count])]"""
    t = [[title] + ["%d clients" % n for n in clients]] + [[l] + cs for l, cs in body]
    w = [max([len(r[i]) for r in t] + [44 if i == 0 else 14]) for i in range(len(t[0]))]
    for r in t:
        print(r[0].ljust(w[0]) + "".join("  " + c.rjust(w[i + 1]) for i, c in enumerate(r[1:])))

names = {
    "bare": "bare (nothing preloaded)",
    "pgss": "pg_stat_statements",
    "stats": "pg_perfaudit tenant statistics",
    "capture": "pg_perfaudit stats + db capture",
    "both": "pgss + pg_perfaudit",
    "statsbig": "pg_perfaudit, max_tenants 250000",
}
def wl_name(w):
    if w == "select":
        return ("select-only: pgbench -S (point select by aid on pgbench_accounts, scale %s; no tenant)"
                % meta.get("SCALE", "?"))
    return ("tenant-scoped point select on app.users: organization_id = :org AND id = :id, "
            "org uniform in 1..%s" % w[1:])

print("pg_perfaudit concurrency benchmark (test/bench/concurrency.sh)")
print("PostgreSQL %s; pgbench -M prepared -T %s s (after a %s s warm-up), -c %s, %d round(s) interleaved: "
      "%d runs in %s s" % (meta.get("version", "?"), meta.get("DURATION", "?"), meta.get("WARMUP", "?"),
                           ",".join(map(str, clients)), len(rounds), len(rows), meta.get("elapsed", "?")))
print("pg_perfaudit.so: %s" % meta.get("so_start", "?"))
if meta.get("so_end") and meta.get("so_end") != meta.get("so_start"):
    print("WARNING: pg_perfaudit.so changed during the benchmark (now %s): runs mix two builds" % meta["so_end"])
print("cpu = server CPU per transaction (the postmaster's reaped children and itself, /proc/<pid>/stat), "
      "median over rounds;")
print("(x) = median over rounds of the ratio to bare in the same round, workload and clients")
for w in workloads:
    print()
    print("== " + wl_name(w))
    def cpu_cell(f, n, c):
        return "%s (%s)" % (fmt(med(per_round(f, w, n, c)), ".1f"),
                            fmt(med(ratio_rounds(f, w, n, c, w, n, "bare")), ".3f"))
    table("cpu us/xact (x bare)", [(names.get(c, c), [cpu_cell(cpu, n, c) for n in clients]) for c in configs])
    table("tps, median", [(names.get(c, c), [fmt(med(per_round(lambda r: float(r["tps"]), w, n, c)), ".0f")
                                             for n in clients]) for c in configs])
    table("LWLock % pg_perfaudit / any (samples)",
          [(names.get(c, c), ["%s / %s (%d)" % (fmt(pct(w, n, c, "lw_pa"), ".1f"), fmt(pct(w, n, c, "lw_all"), ".1f"),
                                                nobs(w, n, c)) for n in clients]) for c in configs])
    table("cross-check: live backends us/xact (x bare)",
          [(names.get(c, c), [cpu_cell(live, n, c) for n in clients]) for c in configs])
    tc = [c for c in configs if c in PA]
    if w.startswith("t") and tc:
        table("tenants in tenant_stats / evictions, per round",
              [(names.get(c, c), [", ".join("%s / %s" % (r["tenants"], r["evictions"]) for r in runs_of(w, n, c))
                                  for n in clients]) for c in tc])

tws = [w for w in workloads if w.startswith("t") and w != "t1000"]
if "t1000" in workloads and tws:
    print()
    print("== many tenants against 1000 tenants, same configuration (cpu, median of per-round ratios)")
    table("", [("%s, %s / t1000" % (names.get(c, c), w),
                [fmt(med(ratio_rounds(cpu, w, n, c, "t1000", n, c)), ".3f") for n in clients])
               for c in configs if c in PA for w in tws])

if "capture" in configs:
    print()
    print("== database-scope capture: stop() ms / statements / runs.overflow, per round")
    for w in workloads:
        for n in clients:
            rs = runs_of(w, n, "capture")
            if rs:
                print("%-8s %3d clients   " % (w, n) +
                      "   ".join("%9s ms / %6s / %5s" % (r["stop_ms"], r["stop_statements"], r["overflow"])
                                 for r in rs))

ev = {}
for e in csv.DictReader(open(events_file), delimiter="\t"):
    if e["event"] != "running":
        k = (e["workload"], int(e["clients"]), e["config"])
        ev.setdefault(k, {}).setdefault(e["event"], 0)
        ev[k][e["event"]] += int(e["count"])
print()
print("== wait events of the active pgbench backends, all rounds (3 most frequent; n = backend samples)")
for w in workloads:
    for n in clients:
        for c in configs:
            top = sorted(ev.get((w, n, c), {}).items(), key=lambda kv: -kv[1])[:3]
            print("%-8s %3d clients %-9s n=%-5d %s" % (w, n, c, nobs(w, n, c),
                                                     ", ".join("%s %d" % kv for kv in top) or "-"))

print()
print("== targets (issue 18; CPU per transaction, same round, 16 and 64 clients)")
tn = [n for n in clients if n in (16, 64)]
def line(label, value, target, ok):
    print("%-66s %8s  %-7s %s" % (label, value, target, "n/a" if ok is None else ("PASS" if ok else "FAIL")))
def against(label, q, t):
    line(label, fmt(q, ".3f"), "<= %.2f" % t, None if q is None else q <= t)
if not tn:
    print("(no run with 16 or 64 clients: targets not evaluated)")
for n in tn:
    for w in workloads:
        if "stats" in configs:
            against("tenant statistics / bare, %s, %d clients" % (w, n),
                    med(ratio_rounds(cpu, w, n, "stats", w, n, "bare")), 1.05)
        if "stats" in configs and "pgss" in configs:
            against("tenant statistics / pg_stat_statements, %s, %d clients" % (w, n),
                    med(ratio_rounds(cpu, w, n, "stats", w, n, "pgss")), 1.00)
    if "stats" in configs and "t200000" in workloads and "t1000" in workloads:
        against("200000 tenants into 10000 slots / 1000 tenants, %d clients" % n,
                med(ratio_rounds(cpu, "t200000", n, "stats", "t1000", n, "stats")), 1.05)
        p = pct("t200000", n, "stats", "lw_pa")
        line("LWLock:pg_perfaudit samples, 200000 tenants, %d clients" % n, fmt(p, ".2f") + " %", "< 1 %",
             None if p is None else p < 1.0)
    if "capture" in configs:
        for w in workloads:
            against("database-scope capture / bare, %s, %d clients" % (w, n),
                    med(ratio_rounds(cpu, w, n, "capture", w, n, "bare")), 1.10)
PY
}

. "$top/test/lib.sh"
pa_pg_paths
so_mtime() { stat -c '%y' "$pkglibdir/pg_perfaudit.so" 2>/dev/null | cut -d. -f1; }
if [ "${REPORT_ONLY:-0}" = 1 ]; then
    report | tee "$here/out/concurrency.txt"
    exit 0
fi
if [ "${BUILD:-0}" = 1 ]; then
    flock /tmp/pa-install.lock bash -c '. "$1/test/lib.sh"; pa_build_install' _ "$top" >/dev/null
fi
pa_require_installed
pgbench=$bindir/pgbench

case " $CONFIGS " in *" bare "*) ;; *) echo "CONFIGS must include bare (the ratios' base)" >&2; exit 2 ;; esac
for w in $WORKLOADS; do
    case $w in select | t[1-9]*) ;; *) echo "unknown workload $w" >&2; exit 2 ;; esac
done

pa_workdir pg_perfaudit-concurrency
pids_to_end=()
cleanup() {
    local p
    for p in "${pids_to_end[@]}"; do kill "$p" 2>/dev/null || true; done
    pa_stop_cluster
    rm -rf "$work"
}
trap cleanup EXIT

conn=(-h "$work" -p "$port" -U postgres -d postgres)
psql_q() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 "${conn[@]}" "$@"; }

# Settings common to every configuration (in postgresql.conf).
common=(
    "max_connections = 100"
    "shared_buffers = 512MB"
    "fsync = off"
    "synchronous_commit = off"
    "autovacuum = off"
    "max_worker_processes = 16"
    "track_activities = on"
)

# Fixture, pgbench tables and extensions, loaded once on a server with
# nothing preloaded; each configuration restarts on the same data directory.
pa_start_cluster --preload '' "${common[@]}"
bash "$top/test/fixtures/fixture.sh" "${conn[@]}" >/dev/null
"$pgbench" -i -q -s "$SCALE" "${conn[@]}" 2>"$work/pgbench-init.log" ||
    { cat "$work/pgbench-init.log" >&2; exit 1; }
psql_q -c "CREATE EXTENSION pg_perfaudit" -c "CREATE EXTENSION pg_prewarm" \
    -c "VACUUM ANALYZE" -c "CHECKPOINT"
pa_stop_cluster

cat >"$work/tenant.sql" <<'SQL'
\set org random(1, :T)
\set id random(1, 10000)
SELECT name, email FROM app.users WHERE organization_id = :org AND id = :id;
SQL
chmod 644 "$work/tenant.sql"

# config_opts CONFIG: the server options of CONFIG (pg_ctl -o).
config_opts() {
    case $1 in
        bare) echo "" ;;
        pgss) echo "-c shared_preload_libraries=pg_stat_statements" ;;
        stats | capture) echo "-c shared_preload_libraries=pg_perfaudit" ;;
        both) echo "-c shared_preload_libraries=pg_stat_statements,pg_perfaudit" ;;
        statsbig) echo "-c shared_preload_libraries=pg_perfaudit -c perfaudit.max_tenants=250000 -c perfaudit.max_tenant_statements=250000" ;;
        *) echo "unknown configuration $1" >&2; return 2 ;;
    esac
}
has_perfaudit() { case $1 in stats | capture | both | statsbig) return 0 ;; esac; return 1; }

# start_server CONFIG: starts the server; retried once when the library
# could not be loaded (another process may be reinstalling it).  Sets $pm.
start_server() {
    local opts attempt
    opts=$(config_opts "$1")
    for attempt in 1 2; do
        : >"$work/server.log"
        if "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
            -o "$opts" start >/dev/null 2>&1; then
            pm=$(head -1 "$work/data/postmaster.pid")
            return 0
        fi
        if [ $attempt = 1 ] && grep -q "could not access file" "$work/server.log"; then
            echo "server start failed (could not access file), retrying" >&2
            sleep 2
            continue
        fi
        cat "$work/server.log" >&2
        return 1
    done
}

# cpu_ticks: the postmaster's own and its reaped children's CPU, in ticks.
cpu_ticks() {
    local f
    read -r -a f <"/proc/$pm/stat"
    # fields 14-17 (1-based): utime stime cutime cstime; comm has no spaces
    echo $(( f[13] + f[14] + f[15] + f[16] ))
}
children() { cat "/proc/$pm/task/$pm/children" 2>/dev/null || true; }

# wait_children BASELINE...: until the postmaster has no child but those
# (every backend of the run has exited and been reaped), at most 20 s.
wait_children() {
    local i c extra
    for ((i = 0; i < 200; i++)); do
        extra=0
        for c in $(children); do
            case " $* " in *" $c "*) ;; *) extra=1 ;; esac
        done
        [ $extra = 0 ] && return 0
        sleep 0.1
    done
    echo "warning: postmaster children still running after 20 s: $(children)" >&2
}

# proc_sampler BASELINE...: every 100 ms, the utime+stime of each child of
# the postmaster not in BASELINE; at $work/proc.stop writes their sum (the
# last value seen of each) to $work/proc.sum.
proc_sampler() {
    local -A last=()
    local c f sum=0
    while [ ! -e "$work/proc.stop" ]; do
        for c in $(children); do
            case " $* " in *" $c "*) continue ;; esac
            if { read -r -a f <"/proc/$c/stat"; } 2>/dev/null; then
                [ "${f[2]}" = Z ] || last[$c]=$(( f[13] + f[14] ))
            fi
        done
        sleep 0.1
    done
    for c in "${!last[@]}"; do sum=$(( sum + last[$c] )); done
    echo "$sum ${#last[@]}" >"$work/proc.sum"
}

# pgbench_args WORKLOAD CLIENTS SECONDS
pgbench_args() {
    local j=$(( $2 < 2 ? $2 : 2 ))
    echo "-n -M prepared -c $2 -j $j -T $3"
    case $1 in
        select) echo "-S" ;;
        t*) echo "-f $work/tenant.sql -D T=${1#t}" ;;
    esac
}

sampler_sql="SELECT coalesce(wait_event_type || ':' || wait_event, 'running'), count(*)
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND state = 'active' AND application_name = 'pgbench'
 GROUP BY 1
UNION ALL SELECT '_samples', 1;"

# one_run ROUND WORKLOAD CLIENTS CONFIG: appends a line to $runs.
one_run() {
    local round=$1 wl=$2 n=$3 cfg=$4
    local xacts tps c0 c1 base ev0=0 ev1=0 ntenants='' cap_ms='' cap_st='' cap_ov=''
    local samp_pid cap_pid capfd live lw_pa lw_all obs samples
    start_server "$cfg"
    psql_q -c "SELECT pg_prewarm(c) FROM unnest(ARRAY['pgbench_accounts', 'pgbench_accounts_pkey',
               'app.users', 'app.users_pkey']) AS c" >/dev/null
    # shellcheck disable=SC2046
    [ "$WARMUP" = 0 ] || "$pgbench" $(pgbench_args "$wl" "$n" "$WARMUP") "${conn[@]}" \
        >"$work/warmup.out" 2>&1 || { cat "$work/warmup.out" >&2; return 1; }
    has_perfaudit "$cfg" && ev0=$(psql_q -c "SELECT evictions FROM perfaudit.tenant_stats_info()")

    if [ "$cfg" = capture ]; then
        rm -f "$work/cap.fifo"; mkfifo "$work/cap.fifo"
        "$bindir/psql" -X -At -v ON_ERROR_STOP=1 "${conn[@]}" <"$work/cap.fifo" >"$work/cap.out" 2>&1 &
        cap_pid=$!
        pids_to_end+=("$cap_pid")
        exec {capfd}>"$work/cap.fifo"
        printf '%s\n' '\timing on' "SELECT perfaudit.start('bench', 'database');" >&"$capfd"
        local i
        for ((i = 0; i < 100; i++)); do grep -q '^Time:' "$work/cap.out" && break; sleep 0.1; done
        grep -q '^Time:' "$work/cap.out" || { cat "$work/cap.out" >&2; return 1; }
    fi

    printf '%s\n' "$sampler_sql" '\watch 0.1' |
        "$bindir/psql" -X -At "${conn[@]}" >>"$work/samples.out" 2>&1 &
    samp_pid=$!
    pids_to_end+=("$samp_pid")
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$work/samples.out" ] && break; sleep 0.1; done
    sleep 0.3
    : >"$work/samples.out"      # samples from here on (psql keeps appending)

    # The long-lived children (auxiliary processes, the sampler's and the
    # capture's backends): every other one, the warm-up's included, must
    # have exited and been reaped before the first reading.
    base=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()" | tr '\n' ' ')
    # shellcheck disable=SC2086
    wait_children $base
    rm -f "$work/proc.stop" "$work/proc.sum"
    c0=$(cpu_ticks)
    # shellcheck disable=SC2086
    proc_sampler $base &
    pids_to_end+=("$!")
    # shellcheck disable=SC2046
    "$pgbench" $(pgbench_args "$wl" "$n" "$DURATION") "${conn[@]}" >"$work/pgbench.out" 2>&1 ||
        { cat "$work/pgbench.out" >&2; return 1; }
    # shellcheck disable=SC2086
    wait_children $base
    c1=$(cpu_ticks)
    touch "$work/proc.stop"
    wait "${pids_to_end[-1]}"
    kill -INT "$samp_pid" 2>/dev/null || true
    wait "$samp_pid" || true
    live=$(cut -d' ' -f1 "$work/proc.sum")

    if [ "$cfg" = capture ]; then
        printf '%s\n' "SELECT statements || ' ' || overflow FROM perfaudit.stop();" '\q' >&"$capfd"
        exec {capfd}>&-
        wait "$cap_pid" || { cat "$work/cap.out" >&2; return 1; }
        cap_ms=$(awk '/^Time:/ { t = $2 } END { print t }' "$work/cap.out")
        read -r cap_st cap_ov < <(grep -E '^[0-9]+ [0-9]+$' "$work/cap.out" | tail -1)
    fi
    if has_perfaudit "$cfg"; then
        ev1=$(psql_q -c "SELECT evictions FROM perfaudit.tenant_stats_info()")
        ntenants=$(psql_q -c "SELECT count(DISTINCT tenant) FROM perfaudit.tenant_stats")
    fi
    pa_stop_cluster

    xacts=$(awk '/^number of transactions actually processed:/ { print $NF; exit }' "$work/pgbench.out")
    tps=$(awk '/^tps = / { print $3; exit }' "$work/pgbench.out")
    read -r lw_pa lw_all obs samples < <(awk -F'|' '
        $1 == "_samples" { s += $2; next }
        NF == 2 { o += $2; if ($1 ~ /^LWLock:/) a += $2; if ($1 == "LWLock:pg_perfaudit") p += $2 }
        END { print p + 0, a + 0, o + 0, s + 0 }' "$work/samples.out")
    awk -F'|' 'NF == 2 && $1 != "_samples" { c[$1] += $2 } END { for (k in c) print k "\t" c[k] }' \
        "$work/samples.out" | sed "s/^/$round\t$wl\t$n\t$cfg\t/" >>"$events"
    printf '%s\t' "$round" "$wl" "$n" "$cfg" "$tps" "$xacts" $(( c1 - c0 )) "$live" \
        "$lw_pa" "$lw_all" "$obs" "$samples" $(( ev1 - ev0 )) "${ntenants:--}" "${cap_ms:--}" \
        "${cap_st:--}" >>"$runs"
    printf '%s\n' "${cap_ov:--}" >>"$runs"
    printf 'round %s %-8s %2s clients %-8s tps %9s  cpu %6.1f us/xact  lwlock pa/all %s/%s of %s%s\n' \
        "$round" "$wl" "$n" "$cfg" "$tps" \
        "$(awk -v c=$(( c1 - c0 )) -v t="$tick" -v x="$xacts" 'BEGIN { print 1e6 * c / t / x }')" \
        "$lw_pa" "$lw_all" "$obs" \
        "${cap_ms:+  stop() $cap_ms ms, $cap_st statements, overflow $cap_ov}" >&2
    pids_to_end=()
}

printf 'version\t%s\nDURATION\t%s\nWARMUP\t%s\nSCALE\t%s\nso_start\t%s\n' \
    "$("$bindir/postgres" --version | awk '{ print $3 }')" "$DURATION" "$WARMUP" "$SCALE" "$(so_mtime)" >"$meta"
printf '%s\n' "round	workload	clients	config	tps	xacts	cpu_ticks	live_ticks	lw_pa	lw_all	obs	samples	evictions	tenants	stop_ms	stop_statements	overflow" >"$runs"
printf 'round\tworkload\tclients\tconfig\tevent\tcount\n' >"$events"

t_start=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    for wl in $WORKLOADS; do
        for n in $CLIENTS; do
            for cfg in $CONFIGS; do
                one_run "$r" "$wl" "$n" "$cfg"
            done
        done
    done
done
printf 'elapsed\t%s\nso_end\t%s\n' "$(( $(date +%s) - t_start ))" "$(so_mtime)" >>"$meta"

report | tee "$here/out/concurrency.txt"
exit 0
