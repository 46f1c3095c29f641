-- sql-src/30_benchmarks.sql: benchmark(), benchmark_concurrent(), storing a
-- benchmark, and the assertions that benchmark a query.

-- How perfaudit.benchmarks keeps its samples (here, not in 00_schema.sql:
-- it runs again on every upgrade, and is the same either way).
-- Samples are sorted and counted in whole nanoseconds, so a fast
-- statement's tens of thousands of samples hold a few hundred distinct
-- values: lz4 stores 100,000 of them in about 5 kB, in less time than
-- writing the 800 kB would take.  pglz is slower than writing them out,
-- so without lz4 they are stored uncompressed.
ALTER TABLE perfaudit.benchmarks ALTER COLUMN samples_ms SET STORAGE EXTERNAL;
DO $lz4$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_settings
                WHERE name OPERATOR(pg_catalog.=) 'default_toast_compression'
                  AND 'lz4' OPERATOR(pg_catalog.=) ANY (enumvals)) THEN
        ALTER TABLE perfaudit.benchmarks ALTER COLUMN samples_ms SET STORAGE EXTENDED;
        ALTER TABLE perfaudit.benchmarks ALTER COLUMN samples_ms SET COMPRESSION lz4;
    END IF;
END
$lz4$;

-- ----------------------------------------------------------------
-- Benchmarks and the assertions built on them
--
-- The assertions run the caller's query with the caller's search_path (so
-- no SET search_path here) and as the caller (SECURITY INVOKER): their own
-- names are schema-qualified.
-- ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION perfaudit.benchmark(query text, iterations int DEFAULT 100, warmup int DEFAULT 5,
                                    tenants text[] DEFAULT NULL, label text DEFAULT NULL,
                                    rollback boolean DEFAULT false)
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.benchmark(text, int, int, text[], text, boolean) IS
'run one statement warmup + iterations times (prepared once; $1 rotating over tenants), store exact percentiles outside the caller''s transaction';

CREATE OR REPLACE FUNCTION perfaudit.benchmark_concurrent(query text, clients int, iterations int DEFAULT 100,
                                               tenants text[] DEFAULT NULL, label text DEFAULT NULL,
                                               warmup int DEFAULT 2, rollback boolean DEFAULT false)
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark_concurrent'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

-- The benchmarks row of a document and its samples (sent in binary beside
-- the document: as JSON text they would cost more than the benchmark).
CREATE OR REPLACE FUNCTION perfaudit._benchmark_row(doc jsonb, samples float8[])
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark_row_sql'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION perfaudit._benchmark_row(jsonb, float8[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION perfaudit._store_benchmark(doc jsonb, samples float8[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    -- Every column but the samples from the document, the samples as they
    -- came: the row is formed once, by the INSERT (megabytes of samples;
    -- through _benchmark_row() it was formed twice, and a function in FROM
    -- also copies its result into a tuplestore).  The regress test compares
    -- the stored row with benchmark()'s result column by column.
    INSERT INTO perfaudit.benchmarks (
        benchmark_id, label, query, iterations, warmup, clients, min_ms, p50_ms, p95_ms,
        p99_ms, max_ms, mean_ms, stddev_ms, rows_per_call, shared_blks_hit,
        shared_blks_read, seq_scans, memory_growth_bytes, throughput_qps, errors,
        started_at, userid, rollback, custom_plans, generic_plans, tenants_type,
        findings, seq_scan_tables, memory_samples, error_counts, wall_ms, single_p50_ms,
        single_p95_ms, single_throughput_qps, p95_degradation, samples_ms)
    SELECT r.benchmark_id, r.label, r.query, r.iterations, r.warmup, r.clients,
           r.min_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.mean_ms, r.stddev_ms,
           r.rows_per_call, r.shared_blks_hit, r.shared_blks_read, r.seq_scans,
           r.memory_growth_bytes, r.throughput_qps, r.errors, r.started_at, r.userid,
           r.rollback, r.custom_plans, r.generic_plans, r.tenants_type, r.findings,
           r.seq_scan_tables, r.memory_samples, r.error_counts, r.wall_ms,
           r.single_p50_ms, r.single_p95_ms, r.single_throughput_qps, r.p95_degradation,
           samples
      FROM pg_catalog.jsonb_populate_record(NULL::perfaudit.benchmarks,
                                            doc OPERATOR(pg_catalog.->) 'benchmark') AS r;
    SELECT perfaudit._store_findings(doc OPERATOR(pg_catalog.->) 'findings');
$$;
REVOKE ALL ON FUNCTION perfaudit._store_benchmark(jsonb, float8[]) FROM PUBLIC;

-- The summary benchmark() computes, of any sample set: for checking its
-- percentiles against known sample sets.
CREATE OR REPLACE FUNCTION perfaudit._summarise_samples(samples float8[],
    OUT samples_ms float8[], OUT min_ms float8, OUT p50_ms float8, OUT p95_ms float8,
    OUT p99_ms float8, OUT max_ms float8, OUT mean_ms float8, OUT stddev_ms float8)
RETURNS record
AS 'MODULE_PATHNAME', 'pa_summarise_samples'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- The three assertions below run the caller's query with the caller's
-- search_path (no SET search_path clause, or unqualified names in the
-- query would not resolve), so every operator in their own code is spelled
-- OPERATOR(pg_catalog.x) with exactly typed operands: an operator planted in
-- a schema on the path (public) must never be chosen, for a superuser
-- caller least of all.
CREATE OR REPLACE FUNCTION perfaudit.assert_query_time(query text, max_ms float8, percentile float8 DEFAULT 0.95,
                                            iterations int DEFAULT 50, tenants text[] DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    b perfaudit.benchmarks;
    measured pg_catalog.float8;
BEGIN
    IF max_ms IS NULL OR percentile IS NULL THEN
        RAISE EXCEPTION 'max_ms and percentile must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF max_ms OPERATOR(pg_catalog.<) 0::pg_catalog.float8 OR max_ms OPERATOR(pg_catalog.=) 'NaN'::pg_catalog.float8 THEN
        RAISE EXCEPTION 'max_ms must not be negative' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('max_ms = %s', max_ms);
    END IF;
    IF NOT (percentile OPERATOR(pg_catalog.>) 0::pg_catalog.float8 AND percentile OPERATOR(pg_catalog.<=) 1::pg_catalog.float8) THEN
        RAISE EXCEPTION 'percentile must be in (0, 1]' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('percentile = %s', percentile);
    END IF;
    b := perfaudit.benchmark(query, iterations, 5, tenants, 'assert_query_time');
    SELECT pg_catalog.percentile_cont(percentile) WITHIN GROUP (ORDER BY s)
      INTO measured FROM pg_catalog.unnest(b.samples_ms) AS s;
    IF measured OPERATOR(pg_catalog.>) max_ms THEN
        RAISE EXCEPTION 'query slower than allowed at percentile %', percentile
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('p%s = %s ms > max_ms = %s ms over %s iterations (benchmark_id %s)',
                                             percentile OPERATOR(pg_catalog.*) 100::pg_catalog.float8, pg_catalog.round(measured::pg_catalog.numeric, 3), max_ms,
                                             b.iterations, b.benchmark_id);
    END IF;
    RETURN true;
END $$;

COMMENT ON FUNCTION perfaudit.assert_query_time(text, float8, float8, int, text[]) IS
'benchmark the query; true if the given percentile of its execution time is at most max_ms, else SQLSTATE PA001';

CREATE OR REPLACE FUNCTION perfaudit.assert_no_seq_scan(query text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    b perfaudit.benchmarks;
BEGIN
    -- run once, in a subtransaction rolled back: the check leaves no trace
    b := perfaudit.benchmark(query, 1, 0, NULL, 'assert_no_seq_scan', true);
    IF pg_catalog.cardinality(b.seq_scan_tables) OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'query scans % sequentially',
                        perfaudit._escape(pg_catalog.array_to_string(b.seq_scan_tables, ', '))
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('%s sequential scan(s) of tables with at least %s rows (benchmark_id %s)',
                                             pg_catalog.cardinality(b.seq_scan_tables),
                                             pg_catalog.current_setting('perfaudit.seq_scan_min_rows'),
                                             b.benchmark_id),
                  HINT = 'See perfaudit.findings for the CREATE INDEX suggestion.';
    END IF;
    RETURN true;
END $$;

COMMENT ON FUNCTION perfaudit.assert_no_seq_scan(text) IS
'run the query once (rolled back); true if no table of at least perfaudit.seq_scan_min_rows rows is scanned sequentially, else SQLSTATE PA001';

CREATE OR REPLACE FUNCTION perfaudit.assert_no_memory_growth(query text, iterations int DEFAULT 1000,
                                                  max_growth_bytes bigint DEFAULT 1048576)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    b perfaudit.benchmarks;
BEGIN
    IF max_growth_bytes IS NULL OR iterations IS NULL THEN
        RAISE EXCEPTION 'iterations and max_growth_bytes must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF max_growth_bytes OPERATOR(pg_catalog.<) 0::pg_catalog.int8 THEN
        RAISE EXCEPTION 'max_growth_bytes must not be negative' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('max_growth_bytes = %s', max_growth_bytes);
    END IF;
    IF iterations OPERATOR(pg_catalog.<) 2 THEN
        RAISE EXCEPTION 'iterations must be at least 2 to measure growth' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('iterations = %s', iterations);
    END IF;
    b := perfaudit.benchmark(query, iterations, 5, NULL, 'assert_no_memory_growth');
    IF b.memory_growth_bytes OPERATOR(pg_catalog.>) max_growth_bytes THEN
        RAISE EXCEPTION 'backend memory grew by more than max_growth_bytes'
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('Grew by %s bytes over %s iterations; at most %s allowed. Growth at %s checkpoints: %s (benchmark_id %s)',
                                             b.memory_growth_bytes, b.iterations, max_growth_bytes,
                                             pg_catalog.cardinality(b.memory_samples),
                                             pg_catalog.array_to_string(b.memory_samples, ', '),
                                             b.benchmark_id);
    END IF;
    RETURN true;
END $$;

COMMENT ON FUNCTION perfaudit.assert_no_memory_growth(text, int, bigint) IS
'run the query 5 + iterations times; true if this backend''s memory contexts grew by at most max_growth_bytes across the timed iterations, else SQLSTATE PA001';
