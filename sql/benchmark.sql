-- benchmark() and the assertions built on it: exact percentiles, tenant
-- rotation, rollback mode, results that survive the caller's rollback,
-- seq_scan findings tied to the benchmark, and bad arguments.

CREATE TABLE bench_log (organization_id int, note text);

-- The summary of known sample sets, by benchmark()'s own code: 1..1000 in
-- random order (p50 500.5, p95 950.05, p99 990.01), a set short enough to
-- be sorted by comparison, and sets of widely different magnitudes with
-- duplicates, sorted by radix (whatever digits they differ in).
SELECT count(*) AS seeded FROM setseed(0.25);
SELECT min_ms, p50_ms, p95_ms, p99_ms, max_ms, mean_ms, round(stddev_ms::numeric, 9) AS stddev_ms,
       samples_ms = ARRAY(SELECT g::float8 FROM generate_series(1, 1000) g) AS sorted
  FROM perfaudit._summarise_samples(ARRAY(SELECT g::float8 FROM generate_series(1, 1000) g ORDER BY random()));
SELECT CASE WHEN cardinality(v) > 10 THEN '1..300 with -0' ELSE v::text END AS v,
       CASE WHEN cardinality(v) > 10 THEN '...' ELSE s.samples_ms::text END AS samples_ms,
       s.min_ms = (SELECT min(x) FROM unnest(v) x) AND s.max_ms = (SELECT max(x) FROM unnest(v) x) AS extremes,
       s.p50_ms = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p50,
       s.p95_ms = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p95,
       s.p99_ms = (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p99,
       s.mean_ms = (SELECT avg(x) FROM unnest(v) x) AS mean,
       abs(s.stddev_ms - (SELECT stddev_samp(x) FROM unnest(v) x)) < 1e-12 AS stddev
  FROM (VALUES ('{3, 1, 2, 2}'::float8[]), ('{5}'), ('{}'), ('{-1, 0.5, -3}'), ('{-0, 1, 2}'),
               ((ARRAY[1, NULL, 2, 3]::float8[])[3:4]), -- a slice keeps a null bitmap
               (ARRAY(SELECT CASE WHEN g = 150 THEN '-0'::float8 ELSE g END FROM generate_series(1, 300) g))) AS t(v),
       perfaudit._summarise_samples(v) s;
CREATE TEMP TABLE sets AS
SELECT k, ARRAY(SELECT (CASE WHEN random() < 0.5 THEN floor(random() * 50) ELSE 1 END
                        * power(10, floor(random() * k) - k / 2))::float8
                  FROM generate_series(1, 300 * k)) AS v
  FROM generate_series(1, 12) k;
SELECT k, s.samples_ms = ARRAY(SELECT x FROM unnest(v) x ORDER BY x) AS sorted,
       s.p50_ms = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p50,
       s.p95_ms = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p95,
       s.p99_ms = (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY x) FROM unnest(v) x) AS p99
  FROM sets, perfaudit._summarise_samples(v) s ORDER BY k;
DROP TABLE sets;
SELECT pa_error_of($$SELECT perfaudit._summarise_samples('{1, NULL}')$$) AS null_sample,
       pa_error_of($$SELECT perfaudit._summarise_samples('{1, NaN}')$$) AS nan_sample,
       pa_error_of($$SELECT perfaudit._summarise_samples('{{1, 2}}')$$) AS two_dimensions;

-- Percentiles are exactly percentile_cont over the raw samples.
SELECT benchmark_id AS b1, iterations, warmup, clients,
       cardinality(samples_ms) = iterations AS all_samples,
       min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms AS ordered,
       rows_per_call, custom_plans + generic_plans = iterations + warmup AS plans_counted
  FROM perfaudit.benchmark('SELECT count(*) FROM items WHERE id = 1', 40, 3) \gset
SELECT :iterations AS iterations, :warmup AS warmup, :'all_samples' AS all_samples,
       :'ordered' AS ordered, :rows_per_call AS rows_per_call, :'plans_counted' AS plans_counted;
SELECT b.p50_ms = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p50_exact,
       b.p95_ms = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p95_exact,
       b.p99_ms = (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p99_exact,
       b.min_ms = b.samples_ms[1] AND b.max_ms = b.samples_ms[40] AS extremes,
       abs(b.mean_ms - (SELECT avg(s) FROM unnest(b.samples_ms) s)) < 1e-9 AS mean_exact,
       abs(b.stddev_ms - (SELECT stddev_samp(s) FROM unnest(b.samples_ms) s)) < 1e-6 AS stddev_exact
  FROM perfaudit.benchmarks b WHERE benchmark_id = :b1;

-- Many samples: the row returned is the row stored (sent to the writer as
-- runs of equal values), sorted, and stored lz4-compressed where the server
-- has lz4, never with the slow pglz.
CREATE TEMP TABLE many AS SELECT * FROM perfaudit.benchmark('SELECT 1', 20000, 0);
SELECT r.iterations, cardinality(r.samples_ms) AS samples,
       r.samples_ms = (SELECT array_agg(s ORDER BY s) FROM unnest(r.samples_ms) s) AS sorted,
       r.samples_ms = b.samples_ms AS stored_as_returned,
       r::text = b::text AS whole_row_stored,
       r.p95_ms = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p95_exact,
       pg_column_compression(b.samples_ms) IS DISTINCT FROM 'pglz' AS not_pglz
  FROM many r JOIN perfaudit.benchmarks b USING (benchmark_id);
DROP TABLE many;
-- Samples of very different sizes (some executions sleep 1 ms) sort the
-- same, and as many distinct values are sent to the writer as they are.
SELECT count(*) AS seeded FROM setseed(0.5);
CREATE TEMP TABLE many AS
SELECT * FROM perfaudit.benchmark('SELECT CASE WHEN random() < 0.02 THEN pg_sleep(0.001) END', 400, 0);
SELECT cardinality(r.samples_ms) AS samples,
       r.samples_ms = (SELECT array_agg(s ORDER BY s) FROM unnest(r.samples_ms) s) AS sorted,
       r.min_ms < 1 AND r.max_ms >= 1 AS wide,
       r.p99_ms = (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY s) FROM unnest(r.samples_ms) s) AS p99_exact,
       r.samples_ms = b.samples_ms AS stored_as_returned
  FROM many r JOIN perfaudit.benchmarks b USING (benchmark_id);
DROP TABLE many;
-- Samples that are nearly all different (each execution sleeps about a
-- millisecond, timed to the nanosecond) are sent to the writer as they are.
CREATE TEMP TABLE many AS SELECT * FROM perfaudit.benchmark('SELECT pg_sleep(0.0001)', 60, 0);
SELECT (SELECT count(DISTINCT s) FROM unnest(r.samples_ms) s) > 60 / 4 AS mostly_distinct,
       r.samples_ms = b.samples_ms AS stored_as_returned,
       b.p50_ms = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p50_exact
  FROM many r JOIN perfaudit.benchmarks b USING (benchmark_id);
DROP TABLE many;

-- Tenants rotate through $1 (type inferred: int), custom then generic plans.
SELECT rows_per_call, tenants_type, custom_plans, generic_plans > 0 AS went_generic,
       seq_scans, seq_scan_tables
  FROM perfaudit.benchmark('SELECT id FROM items WHERE organization_id = $1 AND id <= 100',
                           20, 0, ARRAY['1', '2', '3', '4']);

-- A sequential scan of a big table: a seq_scan finding tied to the benchmark.
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT benchmark_id AS b_scan, seq_scans, seq_scan_tables, findings
  FROM perfaudit.benchmark('SELECT name FROM items WHERE organization_id = 3', 3, 0) \gset
SELECT :seq_scans AS seq_scans, :'seq_scan_tables' AS seq_scan_tables, :findings AS findings;
SELECT kind, relation, suggestion FROM perfaudit.findings WHERE benchmark_id = :b_scan;
SELECT pa_error_of($$SELECT perfaudit.assert_no_seq_scan('SELECT name FROM items WHERE organization_id = 3')$$);
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT perfaudit.assert_no_seq_scan('SELECT name FROM items WHERE id = 3');

-- Custom plans differ per tenant: the tenant whose plan scans the whole
-- table is caught although the tenants before it used the index.
CREATE TABLE skewed (organization_id int NOT NULL, payload text);
INSERT INTO skewed SELECT CASE WHEN g <= 20 THEN 2 ELSE 1 END, 'x' FROM generate_series(1, 20000) g;
CREATE INDEX ON skewed (organization_id);
ANALYZE skewed;
SET plan_cache_mode = force_custom_plan;
SELECT seq_scans, seq_scan_tables, custom_plans, generic_plans
  FROM perfaudit.benchmark('SELECT count(payload) FROM skewed WHERE organization_id = $1',
                           6, 0, ARRAY['2', '2', '1']);
RESET plan_cache_mode;

-- rollback => true: writes leave no trace; false: they stay.
SELECT rows_per_call FROM perfaudit.benchmark(
    $$INSERT INTO bench_log VALUES ($1, 'x')$$, 10, 2, ARRAY['5'], 'rolled back', true);
SELECT count(*) AS after_rollback_mode FROM bench_log;
SELECT rows_per_call FROM perfaudit.benchmark(
    $$INSERT INTO bench_log VALUES ($1, 'x')$$, 10, 2, ARRAY['5'], 'kept');
SELECT count(*) AS after_normal_mode FROM bench_log;

-- The result survives the caller's rollback, as a harness's test would.
BEGIN;
SELECT benchmark_id AS b_tx FROM perfaudit.benchmark('SELECT 1', 5, 0, NULL, 'in a rolled back test') \gset
ROLLBACK;
SELECT label, iterations FROM perfaudit.benchmarks WHERE benchmark_id = :b_tx;

-- assert_query_time: true, or PA001 with the numbers in DETAIL.
SELECT perfaudit.assert_query_time('SELECT count(*) FROM items WHERE id = 1', 10000);
SELECT perfaudit.assert_query_time('SELECT count(*) FROM items WHERE organization_id = $1', 10000, 0.99, 10, ARRAY['1', '2']);
SELECT pa_error_of($$SELECT perfaudit.assert_query_time('SELECT pg_sleep(0.001)', 0.0001, 0.5, 3)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_query_time('SELECT 1', -1)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_query_time('SELECT 1', 10, 0)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_query_time('SELECT 1', 10, 1.5)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_query_time('SELECT 1', NULL)$$);

-- Bad arguments: standard SQLSTATEs, never PA001, nothing stored.
SELECT count(*) AS before_bad FROM perfaudit.benchmarks \gset
SELECT pa_error_of($$SELECT perfaudit.benchmark(NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', -1)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 0)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 2000000000)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 10, -5)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELEC 1')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('VACUUM items')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1; SELECT 2')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT * FROM no_such_table')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT $1 + $2', 5, 0, ARRAY['1'])$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT $1::int', 5, 0, NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 5, 0, ARRAY['1'])$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 5, 0, '{}')$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 5, 0, ARRAY['1', NULL])$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT * FROM items WHERE id = $1', 5, 0, ARRAY['not a number'])$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1/0', 5, 0)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 5, 0, NULL, NULL, NULL)$$);
SELECT count(*) - :before_bad AS stored_by_bad_calls FROM perfaudit.benchmarks;

-- The plan cache re-parses the statement when it revalidates the plan
-- (here: search_path changes at every execution).  The plan must not keep
-- a parser hook pointing into a returned stack frame (that crashed).
SELECT iterations, cardinality(samples_ms) AS samples, tenants_type
  FROM perfaudit.benchmark($q$SELECT count(*) FROM bench_log WHERE organization_id = $1
        AND set_config('search_path', CASE WHEN current_setting('search_path') = 'public'
                       THEN 'pg_catalog, public' ELSE 'public' END, false) IS NOT NULL$q$,
                           30, 2, ARRAY['5', '6']);
RESET search_path;

-- statement_timeout stops a long benchmark.
SET statement_timeout = '200ms';
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT pg_sleep(0.05)', 1000, 0)$$);
RESET statement_timeout;

DROP TABLE bench_log;
