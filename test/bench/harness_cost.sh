#!/usr/bin/env bash
# What benchmark() itself costs: the same statement, the same number of
# executions, timed three ways in one session, interleaved round by round:
#
#   bare      bench_spi_loop(): prepared once through SPI, executed N times,
#             nothing else (test/bench/spi_loop, built here, not installed)
#   benchmark perfaudit.benchmark(query, N, 0): plus a clock read after each
#             execution, the samples, exact percentiles, buffer and
#             memory figures, and the stored row (written by the writer)
#   pgTAP     performs_within(query, ..., N): pgTAP's timing loop
#             (EXECUTE of the text every iteration)
#
# Wall-clock times of whole calls, median of ROUNDS rounds; the ratios come
# from the same rounds, so machine load affects all three alike.
#
#   bash test/bench/harness_cost.sh           (as root or with sudo)
#   N=20000 ROUNDS=11 bash test/bench/harness_cost.sh
#
# Prints a table and writes it to test/bench/out/harness_cost.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
N=${N:-20000}
ROUNDS=${ROUNDS:-11}

. "$top/test/lib.sh"
pa_setup bench

pa_workdir pg_perfaudit-harness
cleanup() {
    pa_stop_cluster
    rm -rf "$work"
}
trap cleanup EXIT

cp -r "$here/spi_loop" "$work/spi_loop"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/spi_loop"
"${run_as[@]}" make -C "$work/spi_loop" -s PG_CONFIG="$PG_CONFIG" >/dev/null

pa_start_cluster --preload pg_perfaudit "max_worker_processes = 16"

psql() { "${run_as[@]}" $bindir/psql -X -q -h "$work" -p $port -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

psql <<SQL
CREATE EXTENSION pg_perfaudit;
CREATE EXTENSION pgtap;
CREATE FUNCTION bench_spi_loop(text, int) RETURNS bigint
    AS '$work/spi_loop/spi_loop.so', 'bench_spi_loop' LANGUAGE C STRICT;
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10000) g;
VACUUM ANALYZE t;
SQL

out=$(psql -At <<SQL
CREATE TEMP TABLE timing (query text, method text, n int, round int, ms float8);
DO \$\$
DECLARE
    q text;
    t0 timestamptz;
    r int;
    n int;
BEGIN
    PERFORM no_plan();      -- pgTAP needs a plan before its first test
    FOREACH q IN ARRAY ARRAY['SELECT 1', 'SELECT v FROM t WHERE id = 42'] LOOP
        -- one untimed round of each, to warm caches and start the writer
        PERFORM bench_spi_loop(q, $N);
        PERFORM perfaudit.benchmark(q, $N, 0);
        PERFORM performs_within(q, 1000, 1000, $N);
        FOR r IN 1..$ROUNDS LOOP
            FOREACH n IN ARRAY ARRAY[$N, 2 * $N] LOOP
                t0 := clock_timestamp();
                PERFORM bench_spi_loop(q, n);
                INSERT INTO timing VALUES (q, 'bare', n, r, extract(epoch FROM clock_timestamp() - t0) * 1000);
                t0 := clock_timestamp();
                PERFORM perfaudit.benchmark(q, n, 0);
                INSERT INTO timing VALUES (q, 'benchmark', n, r, extract(epoch FROM clock_timestamp() - t0) * 1000);
                IF n = $N THEN
                    t0 := clock_timestamp();
                    PERFORM performs_within(q, 1000, 1000, n);
                    INSERT INTO timing VALUES (q, 'pgtap', n, r, extract(epoch FROM clock_timestamp() - t0) * 1000);
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
END \$\$;
-- medians per query, method and size
CREATE TEMP VIEW med AS
SELECT query, method, n, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
  FROM timing GROUP BY 1, 2, 3;
-- per execution: (T(2N) - T(N)) / N, the fixed per-call costs cancelled,
-- computed within each round (bare and benchmark ran side by side in it)
-- and the median taken over the rounds, as is the ratio of the two
CREATE TEMP VIEW per_round AS
SELECT a.query, a.method, a.round, (b.ms - a.ms) / $N * 1000 AS us
  FROM timing a JOIN timing b ON b.query = a.query AND b.method = a.method
                             AND b.round = a.round AND b.n = 2 * a.n;
CREATE TEMP VIEW per_exec AS
SELECT query, method, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us
  FROM per_round GROUP BY 1, 2;
CREATE TEMP VIEW exec_ratio AS
SELECT b.query, percentile_cont(0.5) WITHIN GROUP (ORDER BY b.us / s.us) AS ratio
  FROM per_round b JOIN per_round s ON s.query = b.query AND s.round = b.round
 WHERE b.method = 'benchmark' AND s.method = 'bare'
 GROUP BY 1;
SELECT format('%-30s %9s %9s %9s %8s %8s %9s %9s %8s',
              m.query,
              round(max(m.ms) FILTER (WHERE m.method = 'bare' AND m.n = $N)::numeric, 1),
              round(max(m.ms) FILTER (WHERE m.method = 'benchmark' AND m.n = $N)::numeric, 1),
              round(max(m.ms) FILTER (WHERE m.method = 'pgtap')::numeric, 1),
              round((max(m.ms) FILTER (WHERE m.method = 'benchmark' AND m.n = $N) /
                     max(m.ms) FILTER (WHERE m.method = 'bare' AND m.n = $N))::numeric, 2),
              round((max(m.ms) FILTER (WHERE m.method = 'pgtap') /
                     max(m.ms) FILTER (WHERE m.method = 'benchmark' AND m.n = $N))::numeric, 1),
              round((SELECT us FROM per_exec p WHERE p.query = m.query AND p.method = 'bare')::numeric, 3),
              round((SELECT us FROM per_exec p WHERE p.query = m.query AND p.method = 'benchmark')::numeric, 3),
              round((SELECT ratio FROM exec_ratio x WHERE x.query = m.query)::numeric, 3))
  FROM med m GROUP BY m.query ORDER BY m.query;
SELECT format('%s|%s|%s',
              (SELECT bool_and(ratio <= 1.10) FROM exec_ratio),
              (SELECT bool_and(b.ms <= 1.10 * s.ms) FROM med b JOIN med s USING (query, n)
                WHERE b.method = 'benchmark' AND s.method = 'bare' AND b.n = $N),
              (SELECT bool_and(p.ms > b.ms) FROM med p JOIN med b USING (query, n)
                WHERE p.method = 'pgtap' AND b.method = 'benchmark'));
SQL
)

verdicts=$(echo "$out" | tail -1)
mkdir -p "$here/out"
pass() { [ "$1" = t ] && echo PASS || echo FAIL; }
IFS='|' read -r v_exec v_call v_pgtap <<<"$verdicts"
{
    echo "harness cost, median of $ROUNDS interleaved rounds; N = $N executions per call"
    printf '%-30s %9s %9s %9s %8s %8s %9s %9s %8s\n' "" "bare" "benchmark" "pgTAP" "bench/" "pgTAP/" "bare" "benchmark" "bench/"
    printf '%-30s %9s %9s %9s %8s %8s %9s %9s %8s\n' "query" "ms/call" "ms/call" "ms/call" "bare" "bench" "us/exec" "us/exec" "bare"
    echo "$out" | sed '$d'
    echo
    echo "per execution (T(2N)-T(N))/N within each round, median over the rounds (the ratio: median"
    echo "of the rounds' ratios); everything that grows with the iterations"
    echo "(timing, samples, sorting them, storing them) included, fixed per-call costs excluded:"
    echo "  target benchmark() <= 1.10 x bare SPI loop per execution: $(pass "$v_exec")"
    echo "  whole call at N, fixed costs (prepare, writer round trip) included, <= 1.10: $(pass "$v_call")"
    echo "  target benchmark() cheaper than pgTAP performs_within, same N: $(pass "$v_pgtap")"
    echo "($("${run_as[@]}" $bindir/postgres --version), $(nproc) cores, $(date -u +%Y-%m-%d))"
} | tee "$here/out/harness_cost.txt"
