-- sql-src/40_baselines.sql: baselines (their metrics, save, export, import)
-- and assert_no_regression().

------------------------------------------------------------------------------
-- Baselines
--
-- A baseline is a named set of metrics, all "lower is better": of a run
-- (statements, total time, findings per kind, and per statement calls,
-- time and buffers) and of the latest benchmark of each label.  It is
-- stored by the writer, like runs, so it survives the caller's rollback,
-- and belongs to the role that saved it.
------------------------------------------------------------------------------

-- The metrics of a run (NULL: none) and of the latest benchmark of each
-- label visible to the caller.  Benchmarks made by the assertions
-- (labels starting with assert_) are left out.
CREATE OR REPLACE FUNCTION perfaudit._metrics(run_id bigint)
RETURNS TABLE (metric text, key text, value float8, query text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'run.statements', '', r.statements::float8, NULL::text
      FROM perfaudit.runs r WHERE r.run_id = $1
    UNION ALL
    SELECT 'run.total_ms', '', r.total_ms, NULL
      FROM perfaudit.runs r WHERE r.run_id = $1
    UNION ALL
    SELECT 'run.findings', k.kind,
           (SELECT count(*) FROM perfaudit.findings f
             WHERE f.run_id = r.run_id AND f.kind = k.kind)::float8, NULL
      FROM perfaudit.runs r,
           unnest(ARRAY['n_plus_one', 'repeated_query', 'seq_scan', 'unscoped_tenant_query',
                        'cross_tenant_query', 'slow_query']) AS k(kind)
     WHERE r.run_id = $1
    UNION ALL
    SELECT m.metric, s.queryid::text,
           CASE m.metric
               WHEN 'statement.calls' THEN sum(s.calls)::float8
               WHEN 'statement.total_ms' THEN sum(s.total_ms)
               ELSE sum(s.shared_blks_hit + s.shared_blks_read)::float8
           END,
           min(s.query)
      FROM perfaudit.run_statements s,
           (VALUES ('statement.calls'), ('statement.total_ms'), ('statement.shared_blks')) AS m(metric)
     WHERE s.run_id = $1
     GROUP BY m.metric, s.queryid
    UNION ALL
    -- (the label is the key, part of the baselines' primary key: a long
    -- one is shortened, its md5 keeping it apart from others)
    SELECT m.metric,
           CASE WHEN octet_length(b.label) > 400
                THEN left(b.label, 100) || ' [md5 ' || md5(b.label) || ']' ELSE b.label END,
           m.value, b.query
      FROM (SELECT DISTINCT ON (x.label) x.*
              FROM perfaudit.benchmarks x
             WHERE x.label IS NOT NULL AND x.label NOT LIKE 'assert\_%'
             ORDER BY x.label, x.benchmark_id DESC) AS b
           CROSS JOIN LATERAL (VALUES
               ('benchmark.p50_ms', b.p50_ms),
               ('benchmark.p95_ms', b.p95_ms),
               ('benchmark.p99_ms', b.p99_ms),
               ('benchmark.mean_ms', b.mean_ms),
               ('benchmark.shared_blks_per_call',
                (b.shared_blks_hit + b.shared_blks_read)::float8 / b.iterations),
               ('benchmark.errors', b.errors::float8)) AS m(metric, value)
     WHERE m.value IS NOT NULL
$$;
REVOKE ALL ON FUNCTION perfaudit._metrics(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION perfaudit._metrics(bigint) TO PUBLIC;

-- Run by the writer: replace the baseline doc.baseline.name for role
-- doc.userid, unless another role (one doc.userid is not a member of) owns it.
CREATE OR REPLACE FUNCTION perfaudit._store_baseline(doc jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b jsonb := doc -> 'baseline';
    nm text := b ->> 'name';
    uid oid := (doc ->> 'userid')::oid;
BEGIN
    IF EXISTS (SELECT 1 FROM perfaudit.baselines x
                WHERE x.name = nm AND NOT pg_has_role(uid, x.userid, 'USAGE')) THEN
        RAISE EXCEPTION 'baseline "%" belongs to another role', nm USING ERRCODE = '42501';
    END IF;
    -- What import_baseline() checks, again where every path ends (a 0.1.0
    -- installation's _persist_baseline() is still callable until updated).
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(b -> 'metrics') AS m
                WHERE jsonb_typeof(m -> 'value') IS DISTINCT FROM 'number'
                   OR NOT ((m -> 'value')::numeric BETWEEN -1e300 AND 1e300))
       OR NOT COALESCE(isfinite((b ->> 'recorded_at')::timestamptz), true) THEN
        RAISE EXCEPTION 'baseline "%" has a value that is not a finite number or a recorded_at that is not a finite timestamp', nm
            USING ERRCODE = '22023';
    END IF;
    DELETE FROM perfaudit.baselines x WHERE x.name = nm;
    INSERT INTO perfaudit.baselines (name, metric, key, value, recorded_at, query, userid)
    SELECT nm, m ->> 'metric', COALESCE(m ->> 'key', ''), (m ->> 'value')::float8,
           COALESCE((b ->> 'recorded_at')::timestamptz, now()), m ->> 'query', uid
      FROM jsonb_array_elements(b -> 'metrics') AS m;
END $$;
REVOKE ALL ON FUNCTION perfaudit._store_baseline(jsonb) FROM PUBLIC;

-- The document save_baseline() stores: the metrics of run_id (NULL: this
-- session's last run) and of the latest benchmark of each label.  Called
-- by save_baseline() (C: it checks the name and who owns it first, and
-- hands the document to the writer) as the caller; not for PUBLIC, whose
-- calls would skip those checks.
CREATE OR REPLACE FUNCTION perfaudit._baseline_from_run(name text, run_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid bigint := _baseline_from_run.run_id;
    metrics jsonb;
    n int;
BEGIN
    IF rid IS NULL THEN
        rid := perfaudit.last_run();
    ELSE
        PERFORM perfaudit._assert_run(rid);
    END IF;
    SELECT jsonb_agg(jsonb_build_object('metric', m.metric, 'key', m.key, 'value', m.value,
                                        'query', m.query) ORDER BY m.metric, m.key),
           count(*)
      INTO metrics, n
      FROM perfaudit._metrics(rid) AS m;
    IF n = 0 THEN
        RAISE EXCEPTION 'nothing to save in baseline "%"', _baseline_from_run.name USING ERRCODE = '55000',
            DETAIL = 'This session has stopped no run, no run_id was given, and no labelled benchmark is visible.',
            HINT = 'Call perfaudit.stop() or perfaudit.benchmark(..., label => ''...'') first.';
    END IF;
    RETURN jsonb_build_object('name', _baseline_from_run.name, 'metrics', metrics);
END $$;
REVOKE ALL ON FUNCTION perfaudit._baseline_from_run(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION perfaudit.save_baseline(name text, run_id bigint DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'pa_save_baseline'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.save_baseline(text, bigint) IS
'save the metrics of a run (default: this session''s last) and of the latest benchmark of each label as baseline name, replacing it; returns the number of metrics';

CREATE OR REPLACE FUNCTION perfaudit.export_baseline(name text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb;
BEGIN
    SELECT jsonb_build_object(
               'pg_perfaudit_baseline', 1,
               'name', export_baseline.name,
               'recorded_at', max(b.recorded_at),
               'metrics', jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                               'metric', b.metric, 'key', b.key, 'value', b.value, 'query', b.query))
                           ORDER BY b.metric, b.key))
      INTO doc
      FROM perfaudit.baselines b
     WHERE b.name = export_baseline.name
    HAVING count(*) > 0;
    IF doc IS NULL THEN
        RAISE EXCEPTION 'baseline "%" does not exist', export_baseline.name USING ERRCODE = '42704';
    END IF;
    RETURN doc;
END $$;

COMMENT ON FUNCTION perfaudit.export_baseline(text) IS
'the baseline as a JSON document, for a file in the application''s repository (import_baseline reads it back)';

-- import_baseline()'s checks of a document: the document as it is stored,
-- or an error.  Called by import_baseline() (C) as the caller, which then
-- checks the name and its owner and hands it to the writer; not for PUBLIC.
CREATE OR REPLACE FUNCTION perfaudit._baseline_from_doc(doc jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nm text;
    bad text;
    recorded timestamptz;
BEGIN
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
        RAISE EXCEPTION 'baseline document must be a JSON object' USING ERRCODE = '22023',
            HINT = 'Pass the output of perfaudit.export_baseline().';
    END IF;
    IF jsonb_typeof(doc -> 'name') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'baseline document has no "name" string' USING ERRCODE = '22023';
    END IF;
    nm := doc ->> 'name';
    IF jsonb_typeof(doc -> 'metrics') IS DISTINCT FROM 'array' OR jsonb_array_length(doc -> 'metrics') = 0 THEN
        RAISE EXCEPTION 'baseline document has no "metrics" array, or it is empty' USING ERRCODE = '22023';
    END IF;
    SELECT m::text INTO bad
      FROM jsonb_array_elements(doc -> 'metrics') AS m
     WHERE jsonb_typeof(m) <> 'object'
        OR jsonb_typeof(m -> 'metric') IS DISTINCT FROM 'string'
        OR jsonb_typeof(m -> 'value') IS DISTINCT FROM 'number'
        OR (m ? 'key' AND jsonb_typeof(m -> 'key') <> 'string')
        OR octet_length(m ->> 'metric') > 1000 OR octet_length(m ->> 'key') > 1000
        OR CASE WHEN jsonb_typeof(m -> 'value') = 'number'
                THEN NOT ((m -> 'value')::numeric BETWEEN -1e300 AND 1e300) ELSE false END
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'baseline document has an invalid metric' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Each metric needs "metric" (string), "value" (a number a float8 holds) and optionally "key" (string), names of at most 1000 bytes: %s',
                                       left(bad, 200));
    END IF;
    SELECT pg_catalog.format('%s [%s]', m ->> 'metric', COALESCE(m ->> 'key', '')) INTO bad
      FROM jsonb_array_elements(doc -> 'metrics') AS m
     GROUP BY m ->> 'metric', COALESCE(m ->> 'key', '')
    HAVING count(*) > 1
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'baseline document has a metric twice: %', bad USING ERRCODE = '22023';
    END IF;
    IF doc ? 'recorded_at' THEN
        BEGIN
            recorded := (doc ->> 'recorded_at')::timestamptz;
        EXCEPTION WHEN others THEN
            RAISE EXCEPTION 'baseline document has an invalid "recorded_at"' USING ERRCODE = '22023',
                DETAIL = SQLERRM;
        END;
        IF NOT isfinite(recorded) THEN
            RAISE EXCEPTION 'baseline document has an invalid "recorded_at"' USING ERRCODE = '22023',
                DETAIL = pg_catalog.format('"%s" is not a finite timestamp.', doc ->> 'recorded_at');
        END IF;
    END IF;
    RETURN jsonb_build_object('name', nm, 'recorded_at', doc -> 'recorded_at',
                              'metrics', doc -> 'metrics');
END $$;
REVOKE ALL ON FUNCTION perfaudit._baseline_from_doc(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION perfaudit.import_baseline(doc jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'pa_import_baseline'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.import_baseline(jsonb) IS
'store a document from export_baseline() as its baseline, replacing one of the same name; returns the name';

CREATE OR REPLACE FUNCTION perfaudit.assert_no_regression(baseline text, tolerance float8 DEFAULT 1.25,
                                               run_id bigint DEFAULT NULL, noise_ms float8 DEFAULT 1.0)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid bigint := assert_no_regression.run_id;
    worse text[];
    nworse int;
    missing text[];
BEGIN
    IF baseline IS NULL OR tolerance IS NULL OR noise_ms IS NULL THEN
        RAISE EXCEPTION 'baseline, tolerance and noise_ms must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF NOT (tolerance > 0 AND tolerance < 'Infinity') THEN
        RAISE EXCEPTION 'tolerance must be a positive factor' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('tolerance = %s', tolerance);
    END IF;
    IF NOT (noise_ms >= 0 AND noise_ms < 'Infinity') THEN
        RAISE EXCEPTION 'noise_ms must not be negative' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('noise_ms = %s', noise_ms);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM perfaudit.baselines b WHERE b.name = baseline) THEN
        RAISE EXCEPTION 'baseline "%" does not exist', perfaudit._escape(baseline) USING ERRCODE = '42704',
            HINT = 'Create it with perfaudit.save_baseline() or perfaudit.import_baseline().';
    END IF;
    IF EXISTS (SELECT 1 FROM perfaudit.baselines b
                WHERE b.name = baseline AND b.metric !~ '^benchmark\.') THEN
        rid := (perfaudit._assert_run(rid)).run_id;
    END IF;

    WITH cmp AS (
        SELECT b.metric, b.key, b.value AS base, b.query,
               CASE WHEN b.metric ~ '^benchmark\.' THEN c.value
                    ELSE COALESCE(c.value, 0) END AS cur   -- a statement no longer run: 0
          FROM perfaudit.baselines b
          LEFT JOIN perfaudit._metrics(rid) c ON c.metric = b.metric AND c.key = b.key
         WHERE b.name = baseline
    )
    SELECT array_agg(pg_catalog.format('%s%s: %s > %s x %s%s',
                                       perfaudit._escape(x.metric),
                                       CASE WHEN x.key <> '' THEN ' [' || perfaudit._escape(x.key) || ']' ELSE '' END,
                                       round(x.cur::numeric, 3), tolerance, round(x.base::numeric, 3),
                                       CASE WHEN x.query IS NOT NULL
                                            THEN ' -- ' || perfaudit._escape(left(regexp_replace(x.query, '\s+', ' ', 'g'), 80))
                                            ELSE '' END)
                     ORDER BY x.metric, x.key) FILTER (WHERE x.worse),
           array_agg(DISTINCT x.key) FILTER (WHERE x.cur IS NULL)
      INTO worse, missing
      FROM (SELECT cmp.*,
                   cmp.cur > tolerance * cmp.base
                   AND (cmp.metric !~ '_ms$' OR cmp.cur - cmp.base > noise_ms) AS worse
              FROM cmp) AS x;

    IF missing IS NOT NULL THEN
        RAISE WARNING 'baseline "%" has benchmarks with no current result: %', perfaudit._escape(baseline),
            perfaudit._escape(array_to_string(missing, ', '))
            USING HINT = 'Run perfaudit.benchmark() with those labels before asserting.';
    END IF;
    nworse := COALESCE(cardinality(worse), 0);
    IF nworse > 0 THEN
        RAISE EXCEPTION 'performance regressed against baseline "%": % metric(s) worse than % x baseline',
            perfaudit._escape(baseline), nworse, tolerance
            USING ERRCODE = 'PA001',
                  DETAIL = array_to_string(worse[1:20], E'\n')
                           || CASE WHEN nworse > 20 THEN pg_catalog.format(E'\n... and %s more', nworse - 20) ELSE '' END
                           || COALESCE(pg_catalog.format(E'\n(run %s)', rid), '');
    END IF;
    RETURN true;
END $$;

COMMENT ON FUNCTION perfaudit.assert_no_regression(text, float8, bigint, float8) IS
'true if no metric of the baseline is worse than tolerance x its value (time metrics: and by more than noise_ms), comparing a run (default: this session''s last) and the latest benchmark of each label; else SQLSTATE PA001';
