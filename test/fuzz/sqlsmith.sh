#!/usr/bin/env bash
# Random SQL against pg_perfaudit: runs sqlsmith on a throwaway cluster with
# the library preloaded, the multi-tenant fixture loaded and a database-scope
# capture run open, so that every generated statement goes through the
# hooks, the tenant statistics and the capture path, and sqlsmith's random
# calls reach our SQL functions (start(), benchmark(), report(), ...) with
# random arguments.  Exits non-zero if the server crashed, hit an assertion
# or a PANIC, hung, or did not survive; SQL errors are expected and only
# counted.
#
#     bash test/fuzz/sqlsmith.sh                          (as root, Debian 12)
#     FUZZ_QUERIES=100000 FUZZ_SEED=7 bash test/fuzz/sqlsmith.sh
#
# Environment:
#   FUZZ_QUERIES      statements sqlsmith generates (default 2000, the CI pass)
#   FUZZ_SEED         sqlsmith's random seed (default 42; log it for replays)
#   FUZZ_TIME_LIMIT   seconds after which sqlsmith is stopped and the pass
#                     ends normally with what it ran (default 0 = none)
#   FUZZ_STALL        seconds without a single statement finishing that count
#                     as a hang, a failure (default 120; sqlsmith's own
#                     statement_timeout is 1 s)
#   FUZZ_KEEP_GOING   1: do not stop at the first crash, collect them all
#   FUZZ_TRACK        perfaudit.track of the capture run: all (default) or top
#   FUZZ_SUPERUSER    1: run sqlsmith as the superuser (see below)
#   FUZZ_LOG_ALLOW    extended regex of crash-looking log lines to accept
#   FUZZ_KEEP         1: keep the work directory (it is always kept on failure)
#   PG_MAJOR          PostgreSQL major version (default 15)
#   PG_CONFIG         the server's pg_config (default Debian's of PG_MAJOR;
#                     test/cassert/run.sh points it at an assert-enabled
#                     build)
#   PG_BINDIR         the server's bin directory, the older way to say
#                     PG_CONFIG=$PG_BINDIR/pg_config
#
# Which role sqlsmith runs as.  sqlsmith calls every function it finds in
# pg_proc with whatever arguments it can build.  As a superuser it would
# call pg_terminate_backend() on pids from pg_stat_activity (ending the
# session that holds the capture run, or our writer worker), pg_reload_conf(),
# pg_promote(), lo_import(), pg_read_file(), pg_stat_statements_reset(), and
# write to perfaudit's result tables directly; results would then say more
# about those calls than about the extension.  So by default it runs as
# role "fuzz": no superuser, owns nothing, BYPASSRLS off, with SELECT,
# INSERT, UPDATE, DELETE on the fixture (schema app), the default EXECUTE on
# the public perfaudit functions, membership in pg_read_all_stats (needed
# for start(scope => 'database'), the tenant_stats views and
# pg_stat_statements) and EXECUTE on perfaudit.reset() (to reset tenant
# statistics while other sessions update them).  It can still signal only
# its own backends and benchmark clients, which is allowed and exercised.
# statement_timeout and lock_timeout are 1 s for that role (sqlsmith also
# sets statement_timeout = 1s itself); the rest of the server (the session
# holding the capture run, the writer worker) keeps no timeout.
#
# How a crash is traced to its statement: track_activity_query_size is 64 kB
# so the postmaster's "Failed process was running:" line holds the whole
# statement of a crashed backend; sqlsmith's statements are also kept
# (gzip) with --dump-all-queries, and sqlsmith prints one progress
# character per statement ("C" = connection lost), so the statement in
# flight when any process crashed (a background worker too) is the one at
# that position.  Core files (kernel.core_pattern permitting) get a gdb
# backtrace.
#
# A seed fixes the statements sqlsmith generates (the dump is identical from
# run to run), not their outcome: the data they read (statistics views,
# timings, rows changed by earlier statements) differs, so the counts of
# errors and captured statements vary a little between runs of one seed.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${PG_BINDIR:-}" ] && [ -z "${PG_CONFIG:-}" ]; then PG_CONFIG=$PG_BINDIR/pg_config; fi

FUZZ_QUERIES=${FUZZ_QUERIES:-2000}
FUZZ_SEED=${FUZZ_SEED:-42}
FUZZ_TIME_LIMIT=${FUZZ_TIME_LIMIT:-0}
FUZZ_STALL=${FUZZ_STALL:-120}
FUZZ_KEEP_GOING=${FUZZ_KEEP_GOING:-0}
FUZZ_TRACK=${FUZZ_TRACK:-all}
FUZZ_SUPERUSER=${FUZZ_SUPERUSER:-0}
FUZZ_LOG_ALLOW=${FUZZ_LOG_ALLOW:-}
FUZZ_KEEP=${FUZZ_KEEP:-0}

# Crash signatures in the server log (LogChildExit, ExceptionalCondition,
# PANIC).  A background worker leaving with exit code 1 after an ERROR is
# normal; any other exit code is not.
crash_re='terminated by signal|was terminated by|TRAP:|PANIC:|server process .* exited with exit code|exited with exit code ([2-9]|[0-9]{2,})'

t_begin=$(date +%s.%N)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

. "$top/test/lib.sh"
pa_provision fuzz
pa_pg_paths
if [ ! -f "$sharedir/extension/pg_perfaudit.control" ]; then
    echo "pg_perfaudit is not installed for the server in $bindir (make install first)" >&2
    exit 1
fi

pa_workdir pg_perfaudit-fuzz
log=$work/server.log
data=$work/data
smith_pid= ctl_pid= gz_pid=
failed=0

cleanup() {
    local rc=$?
    for p in $smith_pid $ctl_pid $gz_pid; do
        kill "$p" 2>/dev/null || true
    done
    exec 3>&-
    pa_stop_cluster 60
    if [ $rc -ne 0 ] || [ "$FUZZ_KEEP" = 1 ]; then
        echo "== work directory kept: $work (server.log, sqlsmith.err, queries.sql.gz)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_su() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p $port -U postgres "$@"; }

echo "== throwaway cluster in $work, port $port (unix socket only)"
# test/pg_perfaudit.conf, then the fuzz settings; --core-files: for a
# backtrace if something crashes.
pa_start_cluster --core-files --conf "$top/test/pg_perfaudit.conf" \
    "fsync = off                         # a throwaway cluster; crash recovery does not need it" \
    "full_page_writes = off" \
    "track_activity_query_size = 65536   # \"Failed process was running:\" shows the whole statement" \
    "log_line_prefix = '%m [%p] %b [%a] %e '  # backend type, application, SQLSTATE" \
    "log_error_verbosity = verbose       # LOCATION: which source file raised each error" \
    "log_min_error_statement = panic     # the errors are expected; their statements would flood the log" \
    "restart_after_crash = on            # keep going after a crash: every crash is counted"

psql_su -d postgres -c "CREATE DATABASE fuzz"
bash "$top/test/fixtures/fixture.sh" -h "$work" -p $port -U postgres -d fuzz >/dev/null
smith_role=fuzz
[ "$FUZZ_SUPERUSER" = 1 ] && smith_role=postgres
psql_su -d fuzz <<'SQL'
CREATE EXTENSION pg_stat_statements;
CREATE EXTENSION pg_perfaudit;
CREATE ROLE fuzz LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT pg_read_all_stats TO fuzz;
GRANT USAGE ON SCHEMA app TO fuzz;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO fuzz;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA app TO fuzz;
GRANT EXECUTE ON FUNCTION perfaudit.reset() TO fuzz;
ALTER ROLE fuzz SET statement_timeout = '1s';
ALTER ROLE fuzz SET lock_timeout = '1s';
ANALYZE;
SQL
fixture_rows=$(psql_su -d fuzz -c "SELECT (SELECT count(*) FROM app.organizations) || ' organizations, '
    || (SELECT count(*) FROM app.users) || ' users, ' || (SELECT count(*) FROM app.metrics) || ' metric rows'")
echo "== fixture loaded: $fixture_rows"

# The capture run is held by a psql session that stays connected for the
# whole pass: commands go in through a FIFO, results come out in ctl.out.
mkfifo "$work/ctl.in"
psql -X -At -h "$work" -p $port -U postgres -d fuzz < "$work/ctl.in" > "$work/ctl.out" 2>&1 &
ctl_pid=$!
exec 3> "$work/ctl.in"
ctl_send() { kill -0 "$ctl_pid" 2>/dev/null && ( printf '%s\n' "$1" >&3 ) 2>/dev/null || true; }
ctl_wait() {    # ctl_wait MARKER SECONDS: waits for the line "done:MARKER",
    local i     # then prints the line "MARKER:..." if the command gave one
    ctl_send "SELECT 'done:$1';"
    for ((i = 0; i < $2 * 10; i++)); do
        grep -q "^done:$1\$" "$work/ctl.out" && break
        kill -0 "$ctl_pid" 2>/dev/null || break
        sleep 0.1
    done
    grep "^$1:" "$work/ctl.out" | tail -n1 || true
}
ctl_send "SET perfaudit.track = '$FUZZ_TRACK';"
ctl_send "SET perfaudit.slow_query_ms = 500;"
ctl_send "SELECT 'started:' || perfaudit.start('sqlsmith seed $FUZZ_SEED', 'database');"
started=$(ctl_wait started 60)
if [ -z "$started" ]; then
    echo "FAILED: could not start the database-scope capture run" >&2
    cat "$work/ctl.out" >&2
    exit 1
fi
run_id=${started#started:}
echo "== database-scope capture run $run_id open (perfaudit.track = $FUZZ_TRACK)"
t_smith=$(now)
echo "== setup took $(secs "$t_begin" "$t_smith") s"

# sqlsmith: statements to a gzip'd dump, progress and statistics to
# sqlsmith.err.
echo "== sqlsmith as role $smith_role: --max-queries=$FUZZ_QUERIES --seed=$FUZZ_SEED" \
     "(time limit: ${FUZZ_TIME_LIMIT}s, 0 = none)"
mkfifo "$work/queries.fifo"
gzip -1 < "$work/queries.fifo" > "$work/queries.sql.gz" &
gz_pid=$!
sqlsmith --target="host=$work port=$port dbname=fuzz user=$smith_role" \
    --max-queries="$FUZZ_QUERIES" --seed="$FUZZ_SEED" --verbose --dump-all-queries \
    > "$work/queries.fifo" 2> "$work/sqlsmith.err" &
smith_pid=$!

crash_lines() {     # crash signatures in the server log, minus the allowed ones
    local lines
    lines=$(grep -E "$crash_re" "$log" || true)
    if [ -n "$FUZZ_LOG_ALLOW" ] && [ -n "$lines" ]; then
        lines=$(grep -Ev "$FUZZ_LOG_ALLOW" <<<"$lines" || true)
    fi
    [ -n "$lines" ] && printf '%s\n' "$lines"
    return 0
}
progress() {        # sqlsmith's progress characters, one per statement
    grep -E '^[.etSC]+$' "$work/sqlsmith.err" 2>/dev/null | tr -d '\n' || true
}

stopped_by=
last_size=-1 last_change=$(date +%s) last_report=$(date +%s)
while kill -0 "$smith_pid" 2>/dev/null; do
    sleep 1
    t=$(date +%s)
    if [ "$FUZZ_KEEP_GOING" != 1 ] && [ -n "$(crash_lines)" ]; then
        stopped_by="a crash"
        sleep 2     # let sqlsmith print the statement's "C"
        kill "$smith_pid" 2>/dev/null || true
        break
    fi
    size=$(stat -c %s "$work/sqlsmith.err")
    if [ "$size" != "$last_size" ]; then
        last_size=$size last_change=$t
    elif [ $((t - last_change)) -ge "$FUZZ_STALL" ]; then
        stopped_by="a hang"
        echo "FAILED: no statement finished for $FUZZ_STALL s; pg_stat_activity:"
        timeout 20 psql -X -h "$work" -p $port -U postgres -d fuzz -c \
            "SELECT pid, backend_type, state, wait_event_type, wait_event,
                    now() - query_start AS running, left(query, 200) AS query
               FROM pg_stat_activity WHERE pid <> pg_backend_pid() ORDER BY query_start" || true
        kill "$smith_pid" 2>/dev/null || true
        failed=1
        break
    fi
    if [ "$FUZZ_TIME_LIMIT" -gt 0 ] && [ "$(secs "$t_smith" "$(now)" | cut -d. -f1)" -ge "$FUZZ_TIME_LIMIT" ]; then
        stopped_by="the time limit (${FUZZ_TIME_LIMIT}s)"
        kill "$smith_pid" 2>/dev/null || true
        break
    fi
    if [ $((t - last_report)) -ge 60 ]; then
        last_report=$t
        n=$(progress | wc -c)
        echo "   ... $n statements after $(secs "$t_smith" "$(now)") s"
    fi
done
smith_rc=0
wait "$smith_pid" || smith_rc=$?
smith_pid=
wait "$gz_pid" || true
gz_pid=
t_smith_end=$(now)
smith_secs=$(secs "$t_smith" "$t_smith_end")

# Close the capture run (the session is gone if the server crashed).
ctl_send "SELECT 'stopped:' || run_id || ':' || statements || ':' || overflow || ':' || findings FROM perfaudit.stop();"
stopped=$(ctl_wait stopped 120)
ctl_send '\q'
exec 3>&-
wait "$ctl_pid" 2>/dev/null || true
ctl_pid=

# Is the server alive and answering?
alive=no
if "${run_as[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 &&
   [ "$(timeout 30 psql -X -At -h "$work" -p $port -U postgres -d fuzz -c 'SELECT 1' 2>/dev/null)" = 1 ]; then
    alive=yes
fi

# ---- report ------------------------------------------------------------
# analyze_log LOG PROGRESS DUMP DIR SRCDIR: prints the server log's errors
# by SQLSTATE, the errors raised in pg_perfaudit's own code (their LOCATION
# names a function defined in SRCDIR/*.c: core has a guc.c and a shmem.c
# too), internal errors (class XX) and leak warnings,
# and the statements behind them and behind every lost connection, saved as
# DIR/internal-N.sql and DIR/lost-N.sql.  sqlsmith runs one statement at a
# time on one connection, and each failed statement logs exactly one ERROR
# line, so the k-th ERROR of sqlsmith's backend belongs to the k-th
# statement whose progress character is e, t or S; the mapping is used only
# when those counts agree.
analyze_log() {
    perl - "$@" <<'PERL'
use strict;
use warnings;
my ($log, $progress, $dump, $dir, $srcdir) = @ARGV;
my %defines;        # "function, file" => 1 if our file defines that function
sub is_ours {
    my ($func, $file) = @_;
    my $key = "$func, $file";
    return $defines{$key} if exists $defines{$key};
    my $ok = 0;
    if ($file =~ /^[\w.-]+\.c$/ && open(my $sf, '<', "$srcdir/$file")) {
        local $/;
        my $src = <$sf>;
        # a definition starts its line (pgindent puts the name first)
        $ok = $src =~ /^(?!\s)[^;\n]*?\b\Q$func\E\s*\(/m ? 1 : 0;
    }
    return $defines{$key} = $ok;
}
open(my $pf, '<', $progress) or die "$progress: $!";
my $chars = do { local $/; <$pf> } // '';
my @failed_pos;     # statement numbers (1-based) that failed with an ERROR
my @lost_pos;       # ... and that lost the connection (a crash logs no ERROR)
for my $i (0 .. length($chars) - 1) {
    my $c = substr($chars, $i, 1);
    push @failed_pos, $i + 1 if $c =~ /[etS]/;
    push @lost_pos, $i + 1 if $c eq 'C';
}

my (%by_state, %ours, %internal, %leaks, @smith_errors);
my %pending;        # pid => the error awaiting its LOCATION line
my $prefix = qr/^\S+ \S+ \S+ \[(\d+)\] (.*?) \[(.*?)\] (\w{5}) (\w+):  (.*)$/;
open(my $lf, '<', $log) or die "$log: $!";
while (my $line = <$lf>) {
    chomp $line;
    my ($pid, $btype, $app, $state, $level, $msg) = $line =~ $prefix or next;
    if ($level eq 'ERROR' || $level eq 'FATAL' || $level eq 'PANIC' || $level eq 'WARNING') {
        $msg =~ s/^\w{5}: //;
        $msg =~ s/ at character \d+$//;
        my $e = { state => $state, level => $level, msg => $msg, btype => $btype, loc => '' };
        $pending{$pid} = $e;
        if ($level ne 'WARNING') {
            $by_state{"$state $level"}++;
            if ($level eq 'ERROR' && $btype eq 'client backend' && $app eq 'sqlsmith::dut') {
                push @smith_errors, $e;
                $e->{stmt} = scalar(@smith_errors);
            }
        }
    } elsif ($level eq 'LOCATION' && $pending{$pid}) {
        my $e = delete $pending{$pid};
        my ($func, $file, $lineno) = $msg =~ /^(\S+), ([^:]+):(\d+)$/ or next;
        $e->{loc} = "$func, $file:$lineno";
        my $key = join("\t", $e->{state}, $e->{level}, $e->{loc}, substr($e->{msg}, 0, 100));
        $ours{$key}++ if is_ours($func, $file);
        if ($e->{state} =~ /^XX/ && $e->{level} ne 'WARNING') {
            $internal{$key}++;
            $e->{internal_key} = $key;
        }
        $leaks{$key}++
            if $e->{level} eq 'WARNING' && $e->{msg} =~ /leak|not closed|still referenced|not released/i;
    }
}

my $mapped = @smith_errors == @failed_pos;
my %want;           # statement number => file name
$want{$_} = sprintf('lost-%06d.sql', $_) for @lost_pos;
my %files;          # internal error => its statements (three at most)
if ($mapped) {
    for my $e (@smith_errors) {
        my $key = $e->{internal_key} or next;
        next if @{$files{$key} // []} >= 3;
        my $n = $failed_pos[$e->{stmt} - 1];
        $want{$n} = sprintf('internal-%06d.sql', $n);
        push @{$files{$key}}, $n;
    }
}
my %text;
if (%want) {
    open(my $df, '-|', 'gzip', '-dc', $dump) or die "$dump: $!";
    local $/ = ";\n";
    my $n = 0;
    while (defined(my $q = <$df>)) {
        my $f = $want{++$n} or next;
        open(my $out, '>', "$dir/$f") or die "$dir/$f: $!";
        print $out $q;
        close $out;
        $text{$n} = $q;
    }
    close $df;
}

sub table {
    my ($title, $h, $limit, $stmts) = @_;
    my @keys = keys %$h;
    return unless @keys;
    print "== $title\n";
    for my $k ((sort { $h->{$b} <=> $h->{$a} || $a cmp $b } @keys)[0 .. ($#keys < $limit - 1 ? $#keys : $limit - 1)]) {
        my ($state, $level, $loc, $msg) = split /\t/, $k;
        printf "   %6d  %s %s  %s  (%s)\n", $h->{$k}, $state, $level, $msg, $loc;
        print "           statements: ", join(', ', map { "#$_" } @{$stmts->{$k}}), "\n"
            if $stmts && $stmts->{$k};
    }
}
sub head_of {
    my ($q, $lines) = @_;
    my @l = split /\n/, $q;
    my $more = @l > $lines ? sprintf("      ... (%d more lines)\n", @l - $lines) : '';
    return join('', map { "      $_\n" } @l[0 .. ($#l < $lines - 1 ? $#l : $lines - 1)]) . $more;
}

print "== errors in the server log by SQLSTATE (every process):\n";
my @states = sort { $by_state{$b} <=> $by_state{$a} || $a cmp $b } keys %by_state;
printf "   %6d  %s\n", $by_state{$_}, $_ for @states[0 .. ($#states < 14 ? $#states : 14)];
table('errors raised by pg_perfaudit code (LOCATION in src/):', \%ours, 40);
table("internal errors (SQLSTATE class XX); statements in $dir/internal-N.sql:", \%internal, 20, \%files);
table('leak warnings:', \%leaks, 20);
unless ($mapped) {
    printf "   (sqlsmith's backend logged %d errors for %d failed statements: statements of errors not identified)\n",
        scalar(@smith_errors), scalar(@failed_pos);
}
for my $n (sort { $a <=> $b } map { $_->[0] } values %files) {
    print "   -- statement #$n, first lines:\n", head_of($text{$n} // '', 15);
}
if (@lost_pos) {
    printf "== connection lost during %d statement(s): the statement in flight when the server\n" .
           "   crashed, or the next one sent if it crashed between statements (whole text in %s/lost-N.sql):\n",
           scalar(@lost_pos), $dir;
    my $shown = 0;
    for my $n (@lost_pos) {
        last if $shown++ >= 10;
        print "   -- statement #$n, first lines:\n", head_of($text{$n} // '', 15);
    }
}
PERL
}

chars=$(progress)
n_total=${#chars}
count() { local s=${chars//[^$1]/}; echo ${#s}; }
n_ok=$(count .)
n_err=$(count e) n_timeout=$(count t) n_syntax=$(count S) n_broken=$(count C)

echo
echo "== sqlsmith: $n_total statements in $smith_secs s" \
     "($(awk -v n="$n_total" -v s="$smith_secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')/s)," \
     "exit code $smith_rc${stopped_by:+, stopped by $stopped_by}"
echo "   ok $n_ok, errors $((n_err + n_timeout + n_syntax + n_broken))" \
     "(error $n_err, statement timeout $n_timeout, syntax $n_syntax, connection lost $n_broken)"
if [ -z "$stopped_by" ] && [ $smith_rc -ne 0 ]; then
    echo "FAILED: sqlsmith exited with code $smith_rc:"
    grep -Ev '^[.etSC]+$' "$work/sqlsmith.err" | tail -n 20 || true
    failed=1
fi
# The error histogram of sqlsmith's last report (messages cut at 80 characters).
hist=$(awk '/^queries: /{ h = "" } /^[0-9]+\t/{ h = h $0 "\n" } END { printf "%s", h }' "$work/sqlsmith.err" |
       sort -t$'\t' -k1,1nr | head -n 15 || true)
if [ -n "$hist" ]; then
    echo "   most frequent errors (sqlsmith's last report):"
    sed 's/^/     /' <<<"$hist"
fi

if [ -n "$stopped" ]; then
    IFS=: read -r _ r_id r_statements r_overflow r_findings <<<"$stopped"
    echo "== capture run $r_id: $r_statements statements counted ($r_overflow beyond" \
         "perfaudit.max_run_statements), $r_findings findings"
    psql_su -d fuzz -F ' ' -c "SELECT '   run_statements rows: ' || count(*) FROM perfaudit.run_statements WHERE run_id = $r_id" \
        -c "SELECT '   findings ' || kind || ': ' || count(*) FROM perfaudit.findings WHERE run_id = $r_id GROUP BY kind ORDER BY kind" \
        -c "SELECT '   most executed: ' || calls || ' x (level ' || nesting_level || ') '
                   || left(regexp_replace(query, '\s+', ' ', 'g'), 90)
              FROM perfaudit.run_statements WHERE run_id = $r_id ORDER BY calls DESC, queryid LIMIT 3" ||
        { echo "FAILED: the stored run $r_id cannot be read"; failed=1; }
else
    echo "== capture run: stop() did not return a run:"
    grep -Ev '^(started|done):' "$work/ctl.out" | tail -n 5 | sed 's/^/     /' || true
    failed=1
fi

echo "== server alive: $alive"
[ "$alive" = yes ] || failed=1
restarts=$(grep -c 'all server processes terminated; reinitializing' "$log" || true)

crashes=$(crash_lines)
if [ -n "$crashes" ]; then
    failed=1
    echo
    echo "FAILED: $(wc -l <<<"$crashes") crash line(s) in the server log ($restarts crash restart(s)):"
    sed 's/^/   /' <<<"$crashes"
    echo
    echo "== statements of crashed backends (the postmaster's 'Failed process was running:'):"
    awk '/Failed process was running:/ { on = 1; print; next }
         on && /^\t/ { print; next }
         { on = 0 }' "$log" | head -n 200 | sed 's/^/   /' || true
fi
# The server log against sqlsmith's statements (analyze_log below).
printf '%s' "$chars" > "$work/progress.txt"
analyze_log "$log" "$work/progress.txt" "$work/queries.sql.gz" "$work" "$top/src" || true
[ "$n_broken" -eq 0 ] || [ -n "$crashes" ] ||
    echo "   (no crash in the server log: those statements ended their own session, e.g. pg_terminate_backend)"
# Core files and their backtraces.
cores=$(find "$data" -maxdepth 2 -name 'core*' -type f 2>/dev/null || true)
if [ -n "$cores" ]; then
    failed=1
    for c in $cores; do
        echo "== core file $c"
        if command -v gdb >/dev/null; then
            gdb -batch -q -ex bt $bindir/postgres "$c" 2>/dev/null | grep -E '^#' | awk '!seen[$0]++' |
                head -n 40 | sed 's/^/   /' || true
        fi
    done
fi

t_end=$(now)
echo
echo "== wall time: $(secs "$t_begin" "$t_end") s (setup $(secs "$t_begin" "$t_smith") s," \
     "sqlsmith $smith_secs s, closing $(secs "$t_smith_end" "$t_end") s); seed $FUZZ_SEED"
if [ $failed -ne 0 ]; then
    echo "sqlsmith fuzz: FAILED"
    exit 1
fi
echo "sqlsmith fuzz: passed (no crash, server alive)"
