-- benchmark_concurrent(): clients started as background workers, merged
-- exact percentiles, rollback mode, errors counted, bad arguments.
-- (The planted deadlock is in TAP: test/t/007_concurrent_benchmark.pl.)

-- Four clients share 40 iterations over four tenants.
SELECT benchmark_id AS c1, clients, iterations, errors, error_counts,
       cardinality(samples_ms) AS samples, rows_per_call,
       min_ms <= p50_ms AND p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms AS ordered,
       throughput_qps > 0 AS has_throughput, wall_ms > 0 AS has_wall,
       single_p95_ms > 0 AND p95_degradation > 0 AS has_degradation,
       tenants_type, memory_growth_bytes IS NULL AS no_memory_figure
  FROM perfaudit.benchmark_concurrent('SELECT count(*) FROM items WHERE organization_id = $1', 4, 40,
                                      ARRAY['1', '2', '3', '4'], 'items by org, 4 clients') \gset
SELECT :clients AS clients, :iterations AS iterations, :errors AS errors, :'error_counts' AS error_counts,
       :samples AS samples, :rows_per_call AS rows_per_call, :'ordered' AS ordered,
       :'has_throughput' AS has_throughput, :'has_wall' AS has_wall,
       :'has_degradation' AS has_degradation, :'tenants_type' AS tenants_type,
       :'no_memory_figure' AS no_memory_figure;
-- stored, percentiles exact over the merged samples
SELECT b.label, b.p95_ms = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY s) FROM unnest(b.samples_ms) s) AS p95_exact,
       b.p95_degradation = b.p95_ms / b.single_p95_ms AS degradation_is_ratio
  FROM perfaudit.benchmarks b WHERE benchmark_id = :c1;

-- One client: its own single-client figures; the row returned is the row stored.
CREATE TEMP TABLE one AS SELECT * FROM perfaudit.benchmark_concurrent('SELECT 1', 1, 5);
SELECT r.clients, r.errors, cardinality(r.samples_ms) AS samples, r.p95_degradation,
       r::text = b::text AS whole_row_stored
  FROM one r JOIN perfaudit.benchmarks b USING (benchmark_id);
DROP TABLE one;

-- Clients run in transactions of their own; rollback => true leaves no trace.
CREATE TABLE conc_log (organization_id int, note text);
SELECT errors, cardinality(samples_ms) AS samples
  FROM perfaudit.benchmark_concurrent('INSERT INTO conc_log VALUES ($1, ''x'')', 2, 10,
                                      ARRAY['1', '2'], NULL, 0, true);
SELECT count(*) AS rows_left FROM conc_log;
SELECT errors, cardinality(samples_ms) AS samples
  FROM perfaudit.benchmark_concurrent('INSERT INTO conc_log VALUES ($1, ''x'')', 2, 10,
                                      ARRAY['1', '2'], NULL, 0, false);
-- 10 committed by the concurrent pass, 10 by the single-client pass before it
SELECT count(*) AS rows_committed FROM conc_log;

-- The caller's settings reach the clients: a lock timeout in a client is
-- counted, not raised.
CREATE TABLE conc_lock (id int PRIMARY KEY);
INSERT INTO conc_lock VALUES (1);
CREATE FUNCTION conc_lock_wait() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM conc_lock FOR UPDATE;
    PERFORM pg_sleep(0.2);
    RETURN 1;
END $$;
SET lock_timeout = '20ms';
SELECT errors > 0 AS some_timed_out, error_counts ? '55P03' AS counted_as_lock_timeout,
       errors + cardinality(samples_ms) AS accounted
  FROM perfaudit.benchmark_concurrent('SELECT conc_lock_wait()', 3, 6);
RESET lock_timeout;

-- A client blocked by the caller's own transaction: an error, not a hang.
BEGIN;
UPDATE conc_lock SET id = 1;
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('UPDATE conc_lock SET id = 1', 2, 2)$$);
ROLLBACK;

-- Clients re-parse on revalidation too (search_path changes in each client).
SELECT clients, errors, cardinality(samples_ms) AS samples
  FROM perfaudit.benchmark_concurrent($q$SELECT count(*) FROM conc_lock WHERE id = $1
        AND set_config('search_path', CASE WHEN current_setting('search_path') = 'public'
                       THEN 'pg_catalog, public' ELSE 'public' END, false) IS NOT NULL$q$,
                                      2, 40, ARRAY['1', '2']);

-- Every execution failing for a reason other than contention is an error.
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1 / (id - id) FROM conc_lock', 2, 4)$$);

-- Bad arguments.
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 0)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', -1)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 100000)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 17)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 4, 3)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent(NULL, 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, -5)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 10, NULL, NULL, -1)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELEC 1', 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('', 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('VACUUM', 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1; SELECT 2', 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT $1::int', 2)$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT $1::int', 2, 10, ARRAY['x'])$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 10, ARRAY[]::text[])$$);

-- Nothing was left running.
SELECT count(*) AS clients_left FROM pg_stat_activity
 WHERE backend_type = 'pg_perfaudit benchmark client';

DROP FUNCTION conc_lock_wait();
DROP TABLE conc_log, conc_lock;
