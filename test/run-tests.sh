#!/usr/bin/env bash
# The whole test suite: installs what is missing (test/provision.sh test,
# or long), builds and installs the extension, runs pg_regress (temp
# instance, library preloaded) and the TAP tests, the application
# harnesses, the Prometheus exporter test, the Debian package and a short
# sqlsmith pass, and exits non-zero on any failure.  Usage (as root
# on Debian 12):
#
#     bash test/run-tests.sh          the suite (a few minutes)
#     bash test/run-tests.sh --long   also the long passes (about 25 minutes
#                                     more): 100,000 sqlsmith statements,
#                                     pg_regress and the harness workload
#                                     under valgrind memcheck, 100,000
#                                     captured statements per mode with our
#                                     memory contexts sampled, and the
#                                     sources compiled against the
#                                     PostgreSQL 17 and 18 headers, and the
#                                     pg_regress, isolation and TAP suites
#                                     on 17 and 18 in Debian chroots;
#                                     PostgreSQL's own regression suites
#                                     with us preloaded (test/core), and our
#                                     suites on an assert-enabled build
#                                     (test/cassert)
#
# PostgreSQL refuses to run its server as root, so the suites run as the
# 'postgres' user on a copy of the tree that user owns.
#
# Counting: every part writes its counts to a file of its own in the
# directory $PA_RESULTS (exported; pa_result in test/lib.sh): the
# application harnesses and the Prometheus test themselves, a check (one
# script, one test) from its exit status, pg_regress, isolation and TAP
# from those tools' own files (regress_result, tap_result below).  The
# closing line adds them up.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
long=0
case "$#:${1:-}" in
    1:--long) long=1 ;;
    0:) ;;
    *) echo "usage: $0 [--long]" >&2; exit 2 ;;
esac

. "$top/test/lib.sh"
if [ $long -eq 1 ]; then pa_provision long; else pa_provision test; fi
pa_pg_paths

echo "== building and installing"
pa_build_install

# Version sources must agree (control file, META.json, built script).
bash "$top/test/check-version.sh"

# $work/tree: the copy of the tree the suites run in (owned by postgres);
# $work/results: the counts (PA_RESULTS); $work/tap: the raw TAP of each
# TAP test, which prove writes there (PERL_TEST_HARNESS_DUMP_TAP).
pa_workdir pg_perfaudit-test
trap 'rm -rf "$work"' EXIT
tree=$work/tree
export PA_RESULTS=$work/results
mkdir "$tree" "$PA_RESULTS" "$work/tap"
cp -a "$top/." "$tree/"
# Results of an earlier run in the source tree must not count as this one's.
rm -rf "$tree/results" "$tree/output_iso" "$tree/regression.diffs" "$tree/regression.out" \
    "$tree/tmp_check" "$tree/tmp_regress" "$tree/tmp_isolation" "$tree/log"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$tree" "$work/tap"

status=0

# check NAME CMD...: a script that is one test, its exit status.
check() {
    local name=$1
    shift
    echo "== $name"
    if "$@" 2>&1 | tee "$work/$name.log"; then
        pa_result "$name" 1 0
    else
        pa_result "$name" 0 1
        status=1
    fi
}
# suite NAME CMD...: a script that writes its own counts ($PA_RESULTS/NAME);
# one that wrote none failed.
suite() {
    local name=$1
    shift
    if ! "$@" 2>&1 | tee "$work/$name.log"; then status=1; fi
    if [ ! -f "$PA_RESULTS/$name" ]; then
        echo "$name: no counts in $PA_RESULTS/$name: counted as one failure"
        pa_result "$name" 0 1
        status=1
    fi
}

# No include cycles between the modules of src/ (when the check exists).
if [ -f "$top/test/check-includes.sh" ]; then
    check includes bash "$top/test/check-includes.sh"
fi

log="$work/installcheck.log"
"${run_as[@]}" env PATH="$PATH" PERL_TEST_HARNESS_DUMP_TAP="$work/tap" make -C "$tree" installcheck \
    PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$log" || status=1
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

if [ -f "$tree/regression.diffs" ]; then
    echo "== regression.diffs"
    cat "$tree/regression.diffs"
fi
for f in "$tree"/tmp_check/log/regress_log_*; do
    [ -f "$f" ] || continue
    if grep -q "^not ok" "$f"; then
        echo "== $f"; tail -n 60 "$f"
    fi
done

# regress_result NAME OUTDIR TEST...: pg_regress's verdicts, read from the
# files it leaves in OUTDIR: results/T.out for every test it ran, and
# regression.diffs, which it writes only when a test fails, one
# "diff ... results/T.out" header per failed test.  A test passed when it
# has a result and no diff; a listed TEST without a result did not run
# and failed.  (pg_regress's summary file, regression.out, is deleted when
# everything passed, and its output is for people.)
regress_result() {
    local name=$1 out=$2 t n_pass=0 n_fail=0
    shift 2
    local -A tests=() failed=()
    for t in "$@"; do tests[$t]=1; done
    for t in "$out"/results/*.out; do
        [ -f "$t" ] || continue
        t=${t##*/}
        tests[${t%.out}]=1
    done
    if [ -f "$out/regression.diffs" ]; then
        for t in $(awk '/^diff / { f = $NF; sub(/.*\//, "", f); sub(/\.out$/, "", f); print f }' \
                       "$out/regression.diffs"); do
            failed[$t]=1
        done
    fi
    for t in "${!tests[@]}"; do
        if [ -f "$out/results/$t.out" ] && [ -z "${failed[$t]:-}" ]; then
            n_pass=$((n_pass + 1))
        else
            n_fail=$((n_fail + 1))
        fi
    done
    pa_result "$name" $n_pass $n_fail
}
# tap_result NAME DUMPDIR TESTFILE...: the TAP assertions, read from the
# raw TAP of each test file that prove wrote to DUMPDIR, with Perl's own
# TAP::Parser: those that passed, those that failed, and as failed the
# planned ones that never ran; a test file without TAP, or without a plan
# (it died first), adds one failure.  The same figures as prove's summary
# (Tests=N less "Failed M/N subtests"), but per file and without reading
# its report, and a test file that never ran is not silently missing.
tap_result() {
    local name=$1 dump=$2 counts
    shift 2
    counts=$(perl -MTAP::Parser -e '
        my ($dump, @files) = @ARGV;
        my ($pass, $fail) = (0, 0);
        for my $t (@files) {
            my $tap;
            if (open(my $fh, "<", "$dump/$t")) { local $/; $tap = <$fh>; }
            unless (defined $tap) { print STDERR "tap: $t: no TAP (did not run)\n"; $fail++; next; }
            my $p = TAP::Parser->new({ tap => $tap });
            $p->run;
            $pass += scalar($p->passed);
            $fail += scalar($p->failed);
            if (!$p->plan) { print STDERR "tap: $t: no plan\n"; $fail++; next; }
            my $missing = ($p->tests_planned // 0) - $p->tests_run;
            $fail += $missing if $missing > 0;
        }
        print "$pass $fail\n";' "$dump" "$@") || counts="0 1"
    pa_result "$name" ${counts% *} ${counts#* }
}
# (The lists are split into words on purpose: make's values are words.)
# shellcheck disable=SC2046
regress_result regress "$tree" $(pa_make_var REGRESS "$tree")
# shellcheck disable=SC2046
regress_result isolation "$tree/output_iso" $(pa_make_var ISOLATION "$tree")
# shellcheck disable=SC2046
tap_result tap "$work/tap" $(cd "$tree" && printf '%s\n' $(pa_make_var PROVE_TESTS "$tree"))

# The scripts below run clusters of their own.
# Application harnesses: pytest (psycopg) and PHP (PDO), each test in a
# rolled-back transaction.
suite harness bash "$top/test/harness/run.sh"
# Real frameworks' own test runners: a Django project's TestCase suite
# (manage.py test), counts compared with Django's, findings asserted.
suite frameworks bash "$top/test/frameworks/run.sh"
# Prometheus: the queries file against the real prometheus-postgres-exporter.
suite prometheus bash "$top/test/prometheus/run.sh"
# The Debian package (debian/): built from a copy of the tree with
# dpkg-buildpackage, installed, its extension run; then purged, and the
# files of the make install above put back.
suite deb bash "$top/test/deb/run.sh"
# Fuzzing, the short pass (the long one: FUZZ_QUERIES=100000, see README):
# sqlsmith's random statements with a database-scope capture open; fails
# on any crash, assertion failure or hang.
check fuzz env FUZZ_QUERIES="${FUZZ_QUERIES:-2000}" bash "$top/test/fuzz/sqlsmith.sh"

# The long passes (--long).
if [ $long -eq 1 ]; then
    check long_fuzz env FUZZ_QUERIES=100000 FUZZ_SEED=7 bash "$top/test/fuzz/sqlsmith.sh"
    check long_memcheck bash "$top/test/valgrind/run.sh"
    check long_context_growth bash "$top/test/valgrind/context_growth.sh"
    check long_compat_headers bash "$top/test/compat/headers.sh"
    check long_pg17 bash "$top/test/compat/chroot.sh" 17
    check long_pg18 bash "$top/test/compat/chroot.sh" 18
    # PostgreSQL's own regression, isolation and plpgsql suites (15.18)
    # with pg_perfaudit preloaded, in both orders, capturing everything.
    check long_core bash "$top/test/core/run.sh"
    # Our suites and sqlsmith on an assert-enabled 15.18 build (cached),
    # and pg_regress with debug_discard_caches = 1.
    check long_cassert bash "$top/test/cassert/run.sh"
fi

# One closing line for CI: the sum of every part's counts.
passed=0 failed=0 parts=()
for f in "$PA_RESULTS"/*; do
    [ -f "$f" ] || continue
    p=$(sed -n 's/^passed=\([0-9][0-9]*\)$/\1/p' "$f")
    n=$(sed -n 's/^failed=\([0-9][0-9]*\)$/\1/p' "$f")
    if [ -z "$p" ] || [ -z "$n" ]; then
        echo "$f: not two counts: counted as one failure"
        p=0 n=1
    fi
    passed=$((passed + p))
    failed=$((failed + n))
    parts+=("${f##*/} $p/$n")
done
echo "== counts (passed/failed): $(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')"
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
exit $status
