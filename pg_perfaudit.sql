/* pg_perfaudit--@EXTVERSION@.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_perfaudit" to load this file. \quit

-- Every object is schema-qualified and every operator spelled
-- OPERATOR(pg_catalog.x), so that nothing a caller put on the search_path
-- can redirect this script or the functions it creates.

CREATE SCHEMA perfaudit;

------------------------------------------------------------------------------
-- Results tables.  Rows are written by the writer background worker in its
-- own transaction (never by the caller), so they survive the caller's
-- rollback.  pg_dump keeps them (pg_extension_config_dump).  Row-level
-- security lets each role read its own rows; roles with the privileges of
-- pg_read_all_stats, or a member of the owning role, read everyone's.
------------------------------------------------------------------------------

CREATE SEQUENCE perfaudit.runs_run_id_seq;

CREATE TABLE perfaudit.runs (
    run_id       bigint PRIMARY KEY,
    label        text,
    scope        text NOT NULL,
    database     name NOT NULL,
    pid          int NOT NULL,
    started_at   timestamptz NOT NULL,
    stopped_at   timestamptz,
    statements   bigint NOT NULL DEFAULT 0,
    total_ms     float8 NOT NULL DEFAULT 0,
    max_ms       float8 NOT NULL DEFAULT 0,
    findings     int NOT NULL DEFAULT 0,
    -- beyond the contract:
    userid       oid NOT NULL,          -- role that started the run
    track        text,                  -- perfaudit.track when it started
    overflow     bigint NOT NULL DEFAULT 0, -- executions counted but not kept individually
    texts_dropped bigint NOT NULL DEFAULT 0, -- statement texts not kept (text area full)
    -- per tenant, the latency distribution of the statements sent (nesting
    -- level 0): calls, total_ms, exact p50/p95/p99/max over the kept
    -- executions, counts per bucket (bucket_upper_ms, the last unbounded)
    tenant_latency jsonb
);
ALTER SEQUENCE perfaudit.runs_run_id_seq OWNED BY perfaudit.runs.run_id;

CREATE TABLE perfaudit.run_statements (
    run_id           bigint NOT NULL REFERENCES perfaudit.runs ON DELETE CASCADE,
    queryid          bigint,
    tenant           text,
    query            text,
    calls            bigint NOT NULL,
    distinct_params  bigint NOT NULL,
    total_ms         float8 NOT NULL,
    min_ms           float8 NOT NULL,
    max_ms           float8 NOT NULL,
    mean_ms          float8 NOT NULL,
    rows             bigint NOT NULL,
    shared_blks_hit  bigint NOT NULL,
    shared_blks_read bigint NOT NULL,
    seq_scans        bigint NOT NULL,
    nesting_level    int NOT NULL,
    -- beyond the contract:
    plan_ms          float8 NOT NULL DEFAULT 0, -- planning time, summed
    userid           oid NOT NULL
);
CREATE INDEX run_statements_run_id_idx ON perfaudit.run_statements (run_id);

CREATE SEQUENCE perfaudit.benchmarks_benchmark_id_seq;

CREATE TABLE perfaudit.benchmarks (
    benchmark_id        bigint PRIMARY KEY,
    label               text,
    query               text NOT NULL,
    iterations          int NOT NULL,
    warmup              int NOT NULL,
    clients             int NOT NULL DEFAULT 1,
    min_ms              float8,
    p50_ms              float8,
    p95_ms              float8,
    p99_ms              float8,
    max_ms              float8,
    mean_ms             float8,
    stddev_ms           float8,
    rows_per_call       float8,
    shared_blks_hit     bigint,
    shared_blks_read    bigint,
    seq_scans           bigint,
    memory_growth_bytes bigint,
    throughput_qps      float8,
    errors              bigint NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL,
    -- beyond the contract:
    userid              oid NOT NULL,
    rollback            boolean NOT NULL DEFAULT false,
    custom_plans        bigint,         -- plans the plan cache made per execution
    generic_plans       bigint,         -- executions of its generic plan
    tenants_type        text,           -- $1's inferred type when tenants were given
    findings            int NOT NULL DEFAULT 0,
    seq_scan_tables     text[],         -- tables scanned sequentially, over seq_scan_min_rows
    samples_ms          float8[],       -- every timed execution, sorted
    memory_samples      bigint[],       -- growth at checkpoints across the iterations
    -- benchmark_concurrent() only:
    error_counts        jsonb,          -- {"40P01": {"count": n, "message": "..."}, ...}
    wall_ms             float8,         -- first client start to last client end
    single_p50_ms       float8,         -- the same statement from one client alone
    single_p95_ms       float8,
    single_throughput_qps float8,
    p95_degradation     float8          -- p95_ms / single_p95_ms
);
ALTER SEQUENCE perfaudit.benchmarks_benchmark_id_seq OWNED BY perfaudit.benchmarks.benchmark_id;
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

CREATE TABLE perfaudit.findings (
    finding_id   bigserial PRIMARY KEY,
    run_id       bigint REFERENCES perfaudit.runs ON DELETE CASCADE,
    benchmark_id bigint REFERENCES perfaudit.benchmarks ON DELETE CASCADE,
    kind         text NOT NULL,
    severity     text NOT NULL,
    relation     text,
    queryid      bigint,
    tenant       text,
    calls        bigint,
    total_ms     float8,
    query        text,
    message      text NOT NULL,
    suggestion   text,
    detail       jsonb,
    -- beyond the contract:
    userid       oid NOT NULL
);
CREATE INDEX findings_run_id_idx ON perfaudit.findings (run_id);
CREATE INDEX findings_benchmark_id_idx ON perfaudit.findings (benchmark_id);

CREATE TABLE perfaudit.baselines (
    name         text NOT NULL,
    metric       text NOT NULL,
    key          text NOT NULL,
    value        float8 NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- beyond the contract:
    query        text,                  -- the statement or benchmark a metric is about
    userid       oid NOT NULL,          -- role that saved or imported it
    PRIMARY KEY (name, metric, key)
);

SELECT pg_catalog.pg_extension_config_dump('perfaudit.runs', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.run_statements', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.benchmarks', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.benchmarks_benchmark_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.findings', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.findings_finding_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('perfaudit.baselines', '');

-- Visibility: own rows, rows of roles one is a member of, or everything
-- with the privileges of pg_read_all_stats.
ALTER TABLE perfaudit.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE perfaudit.run_statements ENABLE ROW LEVEL SECURITY;
ALTER TABLE perfaudit.findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE perfaudit.benchmarks ENABLE ROW LEVEL SECURITY;
ALTER TABLE perfaudit.baselines ENABLE ROW LEVEL SECURITY;

CREATE POLICY runs_visible ON perfaudit.runs FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));
CREATE POLICY run_statements_visible ON perfaudit.run_statements FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));
CREATE POLICY findings_visible ON perfaudit.findings FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));
CREATE POLICY benchmarks_visible ON perfaudit.benchmarks FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));
CREATE POLICY baselines_visible ON perfaudit.baselines FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));

REVOKE ALL ON ALL TABLES IN SCHEMA perfaudit FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA perfaudit FROM PUBLIC;
GRANT USAGE ON SCHEMA perfaudit TO PUBLIC;
GRANT SELECT ON perfaudit.runs, perfaudit.run_statements, perfaudit.findings,
    perfaudit.benchmarks, perfaudit.baselines TO PUBLIC;

------------------------------------------------------------------------------
-- Capture runs
------------------------------------------------------------------------------

CREATE FUNCTION perfaudit.start(label text DEFAULT NULL, scope text DEFAULT 'session')
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.start(text, text) IS
'begin a capture run of this session (scope => ''session'') or of every session of this database (scope => ''database''); returns its run_id';

CREATE FUNCTION perfaudit.stop()
RETURNS perfaudit.runs
AS 'MODULE_PATHNAME', 'pa_stop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.stop() IS
'end this session''s capture run, store it (outside the caller''s transaction) and return its summary';

CREATE FUNCTION perfaudit.active_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_active_run'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION perfaudit.active_run() IS
'run_id of this session''s active capture run, or NULL';

CREATE FUNCTION perfaudit.discard_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_discard_run'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.discard_run() IS
'drop this session''s active capture run without storing it; returns its run_id, or NULL if none';

CREATE FUNCTION perfaudit.last_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_last_run'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION perfaudit.last_run() IS
'run_id of the capture run this session stopped last, or NULL';

------------------------------------------------------------------------------
-- Assertions over stopped runs: true, or an ERROR with SQLSTATE PA001 whose
-- message names what failed and whose DETAIL holds the numbers.
------------------------------------------------------------------------------

-- The run an assertion looks at: the given one, else this session's last.
CREATE FUNCTION perfaudit._assert_run(run_id bigint)
RETURNS perfaudit.runs
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid bigint := COALESCE(_assert_run.run_id, perfaudit.last_run());
    r perfaudit.runs;
BEGIN
    IF rid IS NULL THEN
        RAISE EXCEPTION 'no capture run was stopped in this session'
            USING ERRCODE = '55000', HINT = 'Call perfaudit.stop() first, or pass run_id.';
    END IF;
    SELECT * INTO r FROM perfaudit.runs AS x WHERE x.run_id OPERATOR(pg_catalog.=) rid;
    IF NOT FOUND THEN
        -- The writer stores a run in a transaction of its own: a snapshot
        -- taken before that (REPEATABLE READ, SERIALIZABLE) cannot see it.
        IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
            RAISE EXCEPTION 'capture run % is not visible in this transaction''s snapshot', rid
                USING ERRCODE = '22023',
                      DETAIL = pg_catalog.format('The transaction is %s: its snapshot predates the stored run.',
                                                 pg_catalog.current_setting('transaction_isolation')),
                      HINT = 'Check assertions in a READ COMMITTED transaction, or after this one ends.';
        END IF;
        RAISE EXCEPTION 'capture run % does not exist or is not visible to this role', rid
            USING ERRCODE = '22023';
    END IF;
    RETURN r;
END $$;

CREATE FUNCTION perfaudit.assert_max_queries(max_queries bigint, run_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r perfaudit.runs;
BEGIN
    IF max_queries IS NULL OR max_queries OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'max_queries must be zero or more' USING ERRCODE = '22023';
    END IF;
    r := perfaudit._assert_run(assert_max_queries.run_id);
    IF r.statements OPERATOR(pg_catalog.>) max_queries THEN
        RAISE EXCEPTION 'capture run executed more statements than allowed'
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('Run %s%s executed %s statements; at most %s allowed.',
                                             r.run_id,
                                             COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''),
                                             r.statements, max_queries);
    END IF;
    RETURN true;
END $$;

CREATE FUNCTION perfaudit.assert_no_findings(kinds text[] DEFAULT NULL, run_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known CONSTANT text[] := ARRAY['seq_scan', 'n_plus_one', 'repeated_query',
                                   'unscoped_tenant_query', 'cross_tenant_query', 'slow_query'];
    bad text;
    r perfaudit.runs;
    found_kinds text;
    lines text;
BEGIN
    SELECT k INTO bad FROM pg_catalog.unnest(kinds) AS k
     WHERE k IS NULL OR NOT (k OPERATOR(pg_catalog.=) ANY (known)) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown finding kind "%"', COALESCE(bad, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Known kinds: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(known, ', ') OPERATOR(pg_catalog.||) '.';
    END IF;
    r := perfaudit._assert_run(assert_no_findings.run_id);
    SELECT pg_catalog.string_agg(DISTINCT f.kind, ', ' ORDER BY f.kind),
           pg_catalog.string_agg(pg_catalog.format('%s: %s; %s', f.kind, perfaudit._escape(f.message),
                                 perfaudit._escape(pg_catalog.left(pg_catalog.regexp_replace(f.query, '\s+', ' ', 'g'), 120))),
                                 E'\n' ORDER BY f.finding_id)
      INTO found_kinds, lines
      FROM perfaudit.findings AS f
     WHERE f.run_id OPERATOR(pg_catalog.=) r.run_id
       AND (kinds IS NULL OR f.kind OPERATOR(pg_catalog.=) ANY (kinds));
    IF found_kinds IS NOT NULL THEN
        RAISE EXCEPTION 'capture run has findings: %', found_kinds
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format(E'Run %s%s:\n%s', r.run_id,
                                             COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''), lines);
    END IF;
    -- Executions beyond max_run_statements were counted but not examined:
    -- the absence of findings is not proven, and must not pass silently.
    IF r.overflow OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'capture run is incomplete: % executions were not kept', r.overflow
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('Run %s%s kept %s of %s executions one by one; findings among the rest cannot be ruled out.',
                                             r.run_id, COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''),
                                             r.statements OPERATOR(pg_catalog.-) r.overflow, r.statements),
                  HINT = 'Raise perfaudit.max_run_statements for this run.';
    END IF;
    RETURN true;
END $$;

------------------------------------------------------------------------------
-- Internal: called by the writer worker only.
------------------------------------------------------------------------------

-- Stores one stopped run.  Replaces a run of the same id, so that a stop()
-- retried after an error cannot store it twice.
-- The findings of a stored run or benchmark (a JSON array of rows).
CREATE FUNCTION perfaudit._store_findings(findings jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO perfaudit.findings (run_id, benchmark_id, kind, severity, relation, queryid, tenant,
                                    calls, total_ms, query, message, suggestion, detail, userid)
    SELECT f.run_id, f.benchmark_id, f.kind, f.severity, f.relation, f.queryid, f.tenant,
           f.calls, f.total_ms, f.query, f.message, f.suggestion, f.detail, f.userid
      FROM pg_catalog.jsonb_populate_recordset(NULL::perfaudit.findings, findings) AS f;
$$;

REVOKE ALL ON FUNCTION perfaudit._store_findings(jsonb) FROM PUBLIC;

CREATE FUNCTION perfaudit._store_run(doc jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    -- The same run stored again (a stop() retried after a timeout) replaces
    -- itself; another run with the same id is a unique violation, never lost.
    DELETE FROM perfaudit.runs
     WHERE run_id OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint
       AND pid OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'pid')::int
       AND started_at OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'started_at')::timestamptz;
    -- A run started before DROP and CREATE EXTENSION carries an id of the
    -- old sequence: move the new one past it, so that no later run collides.
    SELECT pg_catalog.setval('perfaudit.runs_run_id_seq',
                             (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint)
      FROM perfaudit.runs_run_id_seq
     WHERE last_value OPERATOR(pg_catalog.<) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint;
    INSERT INTO perfaudit.runs
    SELECT * FROM pg_catalog.jsonb_populate_record(NULL::perfaudit.runs, doc OPERATOR(pg_catalog.->) 'run');
    INSERT INTO perfaudit.run_statements
    SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::perfaudit.run_statements, doc OPERATOR(pg_catalog.->) 'statements');
    SELECT perfaudit._store_findings(doc OPERATOR(pg_catalog.->) 'findings');
$$;

REVOKE ALL ON FUNCTION perfaudit._store_run(jsonb) FROM PUBLIC;

-- ----------------------------------------------------------------
-- Always-on per-tenant statistics (shared memory; needs the preload)
-- ----------------------------------------------------------------

CREATE FUNCTION perfaudit._tenant_stats(
    OUT tenant text, OUT dbid oid, OUT calls bigint, OUT total_ms float8,
    OUT mean_ms float8, OUT max_ms float8, OUT p95_ms float8, OUT rows bigint,
    OUT seq_scans bigint, OUT unscoped_calls bigint, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pa_tenant_stats'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION perfaudit._tenant_statements(
    OUT tenant text, OUT queryid bigint, OUT calls bigint, OUT total_ms float8,
    OUT mean_ms float8, OUT max_ms float8, OUT rows bigint, OUT dbid oid)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pa_tenant_statements'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW perfaudit.tenant_stats AS
    SELECT s.tenant, d.datname AS database, s.calls, s.total_ms, s.mean_ms,
           s.max_ms, s.p95_ms, s.rows, s.seq_scans, s.unscoped_calls, s.last_seen
      FROM perfaudit._tenant_stats() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid;

CREATE VIEW perfaudit.tenant_statements AS
    SELECT s.tenant, s.queryid, s.calls, s.total_ms, s.mean_ms, s.max_ms,
           s.rows, d.datname AS database
      FROM perfaudit._tenant_statements() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid;

CREATE FUNCTION perfaudit.tenant_stats_info(
    OUT tenants bigint, OUT max_tenants bigint,
    OUT tenant_statements bigint, OUT max_tenant_statements bigint,
    OUT evictions bigint, OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'pa_tenant_stats_info'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION perfaudit.reset()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pa_tenant_stats_reset'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Tenant identifiers and workload figures of every database: readable by
-- pg_read_all_stats members (and whoever is granted the views and
-- functions); reset only by superusers and roles granted it.
REVOKE ALL ON FUNCTION perfaudit._tenant_stats(), perfaudit._tenant_statements(),
    perfaudit.tenant_stats_info(), perfaudit.reset() FROM PUBLIC;
REVOKE ALL ON perfaudit.tenant_stats, perfaudit.tenant_statements FROM PUBLIC;
GRANT EXECUTE ON FUNCTION perfaudit._tenant_stats(), perfaudit._tenant_statements(),
    perfaudit.tenant_stats_info() TO pg_read_all_stats;
GRANT SELECT ON perfaudit.tenant_stats, perfaudit.tenant_statements TO pg_read_all_stats;

-- ----------------------------------------------------------------
-- Benchmarks and the assertions built on them
--
-- The assertions run the caller's query with the caller's search_path (so
-- no SET search_path here) and as the caller (SECURITY INVOKER): their own
-- names are schema-qualified.
-- ----------------------------------------------------------------

CREATE FUNCTION perfaudit.benchmark(query text, iterations int DEFAULT 100, warmup int DEFAULT 5,
                                    tenants text[] DEFAULT NULL, label text DEFAULT NULL,
                                    rollback boolean DEFAULT false)
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.benchmark(text, int, int, text[], text, boolean) IS
'run one statement warmup + iterations times (prepared once; $1 rotating over tenants), store exact percentiles outside the caller''s transaction';

CREATE FUNCTION perfaudit.benchmark_concurrent(query text, clients int, iterations int DEFAULT 100,
                                               tenants text[] DEFAULT NULL, label text DEFAULT NULL,
                                               warmup int DEFAULT 2, rollback boolean DEFAULT false)
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark_concurrent'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

-- The benchmarks row of a document and its samples (sent in binary beside
-- the document: as JSON text they would cost more than the benchmark).
CREATE FUNCTION perfaudit._benchmark_row(doc jsonb, samples float8[])
RETURNS perfaudit.benchmarks
AS 'MODULE_PATHNAME', 'pa_benchmark_row_sql'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION perfaudit._benchmark_row(jsonb, float8[]) FROM PUBLIC;

CREATE FUNCTION perfaudit._store_benchmark(doc jsonb, samples float8[])
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
CREATE FUNCTION perfaudit._summarise_samples(samples float8[],
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
CREATE FUNCTION perfaudit.assert_query_time(query text, max_ms float8, percentile float8 DEFAULT 0.95,
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

CREATE FUNCTION perfaudit.assert_no_seq_scan(query text)
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

CREATE FUNCTION perfaudit.assert_no_memory_growth(query text, iterations int DEFAULT 1000,
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
CREATE FUNCTION perfaudit._metrics(run_id bigint)
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
CREATE FUNCTION perfaudit._store_baseline(doc jsonb)
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
CREATE FUNCTION perfaudit._baseline_from_run(name text, run_id bigint)
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

CREATE FUNCTION perfaudit.save_baseline(name text, run_id bigint DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'pa_save_baseline'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.save_baseline(text, bigint) IS
'save the metrics of a run (default: this session''s last) and of the latest benchmark of each label as baseline name, replacing it; returns the number of metrics';

CREATE FUNCTION perfaudit.export_baseline(name text)
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
CREATE FUNCTION perfaudit._baseline_from_doc(doc jsonb)
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

CREATE FUNCTION perfaudit.import_baseline(doc jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'pa_import_baseline'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.import_baseline(jsonb) IS
'store a document from export_baseline() as its baseline, replacing one of the same name; returns the name';

CREATE FUNCTION perfaudit.assert_no_regression(baseline text, tolerance float8 DEFAULT 1.25,
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

------------------------------------------------------------------------------
-- Reports
--
-- report_json() is the document (version 1, described in the README);
-- report() renders the same document as text for psql.
------------------------------------------------------------------------------

CREATE FUNCTION perfaudit.report_json(run_id bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r perfaudit.runs;
BEGIN
    r := perfaudit._assert_run(report_json.run_id);
    RETURN jsonb_build_object(
        'pg_perfaudit_report', 1,
        -- row_to_json()::jsonb, not to_jsonb() of the row: 15's to_jsonb() of
        -- a composite keeps pointers to the column names of a row type
        -- descriptor it has already released, and a cache invalidation
        -- while it runs (debug_discard_caches = 1 shows it every time)
        -- leaves freed memory as the keys.
        'run', row_to_json(r)::jsonb - 'userid' || jsonb_build_object('role', r.userid::regrole::text),
        'tenants', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'tenant', t.tenant, 'statements', t.stmts, 'calls', t.calls,
                       'total_ms', t.total_ms, 'max_ms', t.max_ms, 'slowest', t.slowest)
                   ORDER BY t.total_ms DESC, t.tenant)
              FROM (SELECT s.tenant, count(*) AS stmts, sum(s.calls) AS calls,
                           sum(s.total_ms) AS total_ms, max(s.max_ms) AS max_ms,
                           (SELECT jsonb_agg(jsonb_build_object(
                                       'queryid', x.queryid, 'query', x.query, 'calls', x.calls,
                                       'total_ms', x.total_ms, 'mean_ms', x.mean_ms, 'max_ms', x.max_ms,
                                       'rows', x.rows, 'shared_blks_hit', x.shared_blks_hit,
                                       'shared_blks_read', x.shared_blks_read, 'seq_scans', x.seq_scans,
                                       'nesting_level', x.nesting_level)
                                   ORDER BY x.total_ms DESC, x.queryid)
                              FROM (SELECT * FROM perfaudit.run_statements y
                                     WHERE y.run_id = r.run_id AND y.tenant IS NOT DISTINCT FROM s.tenant
                                     ORDER BY y.total_ms DESC, y.queryid LIMIT 5) AS x) AS slowest
                      FROM perfaudit.run_statements s
                     WHERE s.run_id = r.run_id
                     GROUP BY s.tenant) AS t), '[]'),
        'findings', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'finding_id', f.finding_id, 'kind', f.kind, 'severity', f.severity,
                       'relation', f.relation, 'queryid', f.queryid, 'tenant', f.tenant,
                       'calls', f.calls, 'total_ms', f.total_ms, 'query', f.query,
                       'message', f.message, 'suggestion', f.suggestion, 'detail', f.detail)
                   ORDER BY array_position(ARRAY['high', 'medium', 'low'], f.severity), f.finding_id)
              FROM perfaudit.findings f
             WHERE f.run_id = r.run_id), '[]'),
        'benchmarks', COALESCE((
            SELECT jsonb_agg(row_to_json(b)::jsonb - 'samples_ms' - 'userid' ORDER BY b.benchmark_id)
              FROM perfaudit.benchmarks b
             WHERE b.userid = r.userid
               AND b.started_at >= r.started_at
               AND b.started_at <= COALESCE(r.stopped_at, now())), '[]'));
END $$;

COMMENT ON FUNCTION perfaudit.report_json(bigint) IS
'a run (default: this session''s last) as a JSON document: the run, per tenant its five slowest statements, the findings, the benchmarks made during the run';

-- A text as one line of a report: control characters as C-style escapes
-- (\n, \r, \t, \xHH, \uHHHH) and backslashes doubled, so that no label,
-- tenant, name or statement prints a line of its own; with layout (HTML),
-- newlines, carriage returns, tabs and backslashes are kept.
CREATE FUNCTION perfaudit._escape(t text, layout boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'pa_escape'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION perfaudit.report(run_id bigint DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb := perfaudit.report_json(report.run_id);
    r jsonb := doc -> 'run';
    t jsonb;
    s jsonb;
    f jsonb;
    b jsonb;
    n int;
BEGIN
    -- Every text that comes from data goes through _escape(): a label, a
    -- tenant or a name may hold a newline and a fake line after it.
    RETURN NEXT format('pg_perfaudit report: run %s%s', r ->> 'run_id',
                       COALESCE(format(' "%s"', perfaudit._escape(left(r ->> 'label', 1000))), ''));
    RETURN NEXT format('  %s scope, database %s, role %s, %s .. %s',
                       perfaudit._escape(r ->> 'scope'), perfaudit._escape(r ->> 'database'),
                       perfaudit._escape(r ->> 'role'),
                       to_char((r ->> 'started_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS'),
                       COALESCE(to_char((r ->> 'stopped_at')::timestamptz, 'HH24:MI:SS'), 'active'));
    RETURN NEXT format('  %s statements, %s ms in total, slowest execution %s ms, %s finding(s)',
                       r ->> 'statements', round((r ->> 'total_ms')::numeric, 3),
                       round((r ->> 'max_ms')::numeric, 3), r ->> 'findings');
    IF (r ->> 'overflow')::bigint > 0 THEN
        RETURN NEXT format('  (%s executions counted but not kept one by one: raise perfaudit.max_run_statements)',
                           r ->> 'overflow');
    END IF;

    RETURN NEXT '';
    RETURN NEXT 'Slowest statements per tenant';
    n := 0;
    FOR t IN SELECT value FROM jsonb_array_elements(doc -> 'tenants') LOOP
        n := n + 1;
        IF n > 10 THEN
            RETURN NEXT format('  ... and %s more tenant(s)', jsonb_array_length(doc -> 'tenants') - 10);
            EXIT;
        END IF;
        RETURN NEXT format('  %s: %s calls, %s ms',
                           COALESCE('tenant ' || perfaudit._escape(t ->> 'tenant'), 'no tenant'),
                           t ->> 'calls', round((t ->> 'total_ms')::numeric, 3));
        FOR s IN SELECT value FROM jsonb_array_elements(t -> 'slowest') LOOP
            RETURN NEXT format('    %s ms  %s x  max %s ms  %s',
                               lpad(round((s ->> 'total_ms')::numeric, 3)::text, 9),
                               lpad(s ->> 'calls', 5),
                               round((s ->> 'max_ms')::numeric, 3),
                               perfaudit._escape(left(regexp_replace(s ->> 'query', '\s+', ' ', 'g'), 90)));
        END LOOP;
    END LOOP;
    IF n = 0 THEN
        RETURN NEXT '  (no statements)';
    END IF;

    RETURN NEXT '';
    RETURN NEXT format('Findings (%s)', jsonb_array_length(doc -> 'findings'));
    FOR f IN SELECT value FROM jsonb_array_elements(doc -> 'findings') LOOP
        RETURN NEXT format('  [%s] %s%s%s: %s',
                           perfaudit._escape(f ->> 'severity'), perfaudit._escape(f ->> 'kind'),
                           COALESCE(' on ' || perfaudit._escape(f ->> 'relation'), ''),
                           COALESCE(', tenant ' || perfaudit._escape(f ->> 'tenant'), ''),
                           perfaudit._escape(f ->> 'message'));
        IF f ->> 'query' IS NOT NULL THEN
            RETURN NEXT '      query: ' || perfaudit._escape(left(regexp_replace(f ->> 'query', '\s+', ' ', 'g'), 100));
        END IF;
        IF f ->> 'suggestion' IS NOT NULL THEN
            RETURN NEXT '      suggestion: ' || perfaudit._escape(f ->> 'suggestion');
        END IF;
    END LOOP;
    IF jsonb_array_length(doc -> 'findings') = 0 THEN
        RETURN NEXT '  none';
    END IF;

    IF jsonb_array_length(doc -> 'benchmarks') > 0 THEN
        RETURN NEXT '';
        RETURN NEXT format('Benchmarks during the run (%s)', jsonb_array_length(doc -> 'benchmarks'));
        FOR b IN SELECT value FROM jsonb_array_elements(doc -> 'benchmarks') LOOP
            RETURN NEXT format('  %s: %s iterations, %s client(s): p50 %s ms, p95 %s ms, p99 %s ms, %s/s%s%s',
                               COALESCE(perfaudit._escape(left(b ->> 'label', 1000)), 'benchmark ' || (b ->> 'benchmark_id')),
                               b ->> 'iterations', b ->> 'clients',
                               round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                               round((b ->> 'p99_ms')::numeric, 3), round((b ->> 'throughput_qps')::numeric),
                               CASE WHEN (b ->> 'errors')::bigint > 0
                                    THEN format(', %s errors %s', b ->> 'errors', perfaudit._escape(b ->> 'error_counts')) ELSE '' END,
                               CASE WHEN b ->> 'p95_degradation' IS NOT NULL
                                    THEN format(', p95 x%s vs one client', round((b ->> 'p95_degradation')::numeric, 2))
                                    ELSE '' END);
            IF (b ->> 'findings')::int > 0 THEN
                RETURN NEXT format('      %s finding(s); sequential scans of %s', b ->> 'findings',
                                   perfaudit._escape((SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(b -> 'seq_scan_tables') x)));
            END IF;
        END LOOP;
    END IF;
END $$;

COMMENT ON FUNCTION perfaudit.report(bigint) IS
'report_json() as readable lines for psql';

-- report_html(): the same document as one self-contained HTML page (inline
-- CSS and SVG, no script, nothing fetched), for a CI artifact or a browser.
CREATE FUNCTION perfaudit._html(t text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- (control characters other than white space are not allowed in HTML)
    SELECT replace(replace(replace(replace(replace(perfaudit._escape(COALESCE(t, ''), true),
           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
$$;

-- One tenant's latency histogram (a runs.tenant_latency entry) as an SVG
-- bar chart, trimmed to the buckets around those that hold executions.
CREATE FUNCTION perfaudit._html_histogram(l jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    counts bigint[] := ARRAY(SELECT c::bigint FROM jsonb_array_elements_text(l -> 'bucket_counts') c);
    bounds text[] := ARRAY(SELECT b FROM jsonb_array_elements_text(l -> 'bucket_upper_ms') b);
    lo int := 1;
    hi int := cardinality(counts);
    peak bigint;
    n int;
    w int := 360;
    h int := 120;
    bw numeric;
    out text;
    i int;
    bh numeric;
    label text;
BEGIN
    IF hi = 0 THEN
        RETURN '';
    END IF;
    WHILE lo < hi AND counts[lo] = 0 LOOP lo := lo + 1; END LOOP;
    WHILE hi > lo AND counts[hi] = 0 LOOP hi := hi - 1; END LOOP;
    lo := greatest(1, lo - 1);
    hi := least(cardinality(counts), hi + 1);
    n := hi - lo + 1;
    peak := greatest(1, (SELECT max(c) FROM unnest(counts[lo:hi]) c));
    bw := (w - 20)::numeric / n;
    -- 14 px above the bars for the tallest one's count
    out := format('<svg class="hist" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="latency histogram">',
                  w, h + 44, w, h + 44);
    FOR i IN lo .. hi LOOP
        bh := round(counts[i]::numeric / peak * h, 1);
        label := CASE WHEN bounds[i] IS NULL THEN '&gt;' || bounds[i - 1]
                      ELSE '&#8804;' || bounds[i] END;
        out := out || format('<rect x="%s" y="%s" width="%s" height="%s"><title>%s ms: %s</title></rect>',
                             round(10 + (i - lo) * bw + 1, 1), round(14 + h - bh, 1), round(bw - 2, 1),
                             greatest(bh, 0.5), label, counts[i]);
        out := out || format('<text x="%s" y="%s" class="tick">%s</text>',
                             round(10 + (i - lo) * bw + bw / 2, 1), h + 28, label);
        IF counts[i] > 0 THEN
            out := out || format('<text x="%s" y="%s" class="count">%s</text>',
                                 round(10 + (i - lo) * bw + bw / 2, 1), round(11 + h - bh, 1), counts[i]);
        END IF;
    END LOOP;
    RETURN out || format('<text x="%s" y="%s" class="axis">ms</text></svg>', w - 10, h + 42);
END $$;

-- Benchmarks' p50/p95/p99 as horizontal bars on one scale.
CREATE FUNCTION perfaudit._html_benchmarks(benchmarks jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b jsonb;
    peak float8;
    y int := 0;
    w int := 640;
    scale float8;
    out text;
BEGIN
    IF jsonb_array_length(benchmarks) = 0 THEN
        RETURN '<p class="none">No benchmark ran during this run.</p>';
    END IF;
    SELECT max((x ->> 'p99_ms')::float8) INTO peak FROM jsonb_array_elements(benchmarks) x;
    scale := (w - 260) / greatest(COALESCE(peak, 0), 1e-9);
    out := format('<svg class="bench" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="benchmark percentiles">',
                  w, jsonb_array_length(benchmarks) * 34 + 24, w, jsonb_array_length(benchmarks) * 34 + 24);
    FOR b IN SELECT x FROM jsonb_array_elements(benchmarks) x LOOP
        out := out || format('<text x="0" y="%s" class="blabel">%s</text>', y + 16,
                             perfaudit._html(left(COALESCE(b ->> 'label', b ->> 'query'), 34)));
        out := out || format('<rect class="p99" x="230" y="%s" width="%s" height="20"><title>p99 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p99_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p99_ms')::numeric, 3));
        out := out || format('<rect class="p95" x="230" y="%s" width="%s" height="20"><title>p95 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p95_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p95_ms')::numeric, 3));
        out := out || format('<rect class="p50" x="230" y="%s" width="%s" height="20"><title>p50 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p50_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p50_ms')::numeric, 3));
        out := out || format('<text x="%s" y="%s" class="bvalue">p50 %s &#183; p95 %s &#183; p99 %s ms</text>',
                             round((234 + COALESCE((b ->> 'p99_ms')::float8, 0) * scale)::numeric, 1), y + 18,
                             round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                             round((b ->> 'p99_ms')::numeric, 3));
        y := y + 34;
    END LOOP;
    RETURN out || format('<text x="230" y="%s" class="axis">0 ms</text></svg>', y + 16);
END $$;

CREATE FUNCTION perfaudit.report_html(run_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb := perfaudit.report_json(report_html.run_id);
    r jsonb := doc -> 'run';
    -- (runs stored before 0.2.0 have none: JSON null)
    lat jsonb := CASE WHEN jsonb_typeof(r -> 'tenant_latency') = 'array' THEN r -> 'tenant_latency' END;
    t jsonb;
    l jsonb;
    s jsonb;
    f jsonb;
    b jsonb;
    h text;
    title text;
BEGIN
    title := format('pg_perfaudit report: run %s%s', r ->> 'run_id',
                    COALESCE(format(' "%s"', left(r ->> 'label', 1000)), ''));
    h := '<!DOCTYPE html>' || E'\n' || '<html lang="en"><head><meta charset="utf-8">'
         || '<meta name="viewport" content="width=device-width, initial-scale=1">'
         || '<meta name="generator" content="pg_perfaudit">'
         || format('<title>%s</title>', perfaudit._html(title))
         || '<style>'
         || 'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}'
         || 'header{background:#1d2b44;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:20px}'
         || 'header p{margin:0;color:#c6cfdd}main{padding:12px 28px 40px;max-width:1180px}'
         || 'h2{font-size:16px;margin:26px 0 10px;border-bottom:1px solid #d7dbe2;padding-bottom:4px}'
         || '.kpis{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}.kpi{background:#fff;border:1px solid #d7dbe2;border-radius:8px;padding:10px 16px;min-width:120px}'
         || '.kpi b{display:block;font-size:22px}.kpi span{color:#5b6577;font-size:12px}'
         || '.grid{display:flex;flex-wrap:wrap;gap:14px}.card{background:#fff;border:1px solid #d7dbe2;border-radius:8px;padding:12px 14px}'
         || '.card h3{margin:0 0 6px;font-size:14px}.card .sub{color:#5b6577;font-size:12px;margin-bottom:6px}'
         || 'svg text{font:10px system-ui,sans-serif;fill:#4a5568}svg .tick{text-anchor:middle;font-size:8.5px}svg .count{text-anchor:middle;fill:#1d2430}'
         || 'svg.hist rect{fill:#3d7bd9}svg .axis{text-anchor:end;fill:#8a94a6}'
         || 'svg .p50{fill:#2f855a}svg .p95{fill:#d69e2e}svg .p99{fill:#c53030}svg .blabel{font-size:12px;fill:#1d2430}svg .bvalue{font-size:11px}'
         || 'table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d7dbe2}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e9ee;vertical-align:top}'
         || 'th{background:#eef1f5;font-weight:600;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums}'
         || 'code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word}'
         || '.finding{border-left:5px solid #8a94a6;margin-bottom:10px}.finding.high{border-left-color:#c53030}.finding.medium{border-left-color:#d69e2e}.finding.low{border-left-color:#3d7bd9}'
         || '.sev{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;padding:1px 6px;border-radius:4px;background:#e6e9ee;margin-right:6px}'
         || '.high .sev{background:#fed7d7;color:#9b2c2c}.medium .sev{background:#feebc8;color:#975a16}.low .sev{background:#bee3f8;color:#2a4365}'
         || '.suggestion{background:#f0fff4;border:1px solid #c6f6d5;border-radius:6px;padding:6px 8px;margin-top:6px}'
         || '.none{color:#5b6577}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}'
         || '</style></head><body>';
    h := h || format('<header><h1>%s</h1><p>%s scope &#183; database %s &#183; role %s &#183; %s &#8211; %s</p></header><main>',
                     perfaudit._html(title), perfaudit._html(r ->> 'scope'), perfaudit._html(r ->> 'database'),
                     perfaudit._html(r ->> 'role'),
                     to_char((r ->> 'started_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS'),
                     COALESCE(to_char((r ->> 'stopped_at')::timestamptz, 'HH24:MI:SS'), 'active'));
    h := h || '<div class="kpis">'
           || format('<div class="kpi"><b>%s</b><span>statements</span></div>', r ->> 'statements')
           || format('<div class="kpi"><b>%s ms</b><span>in total</span></div>', round((r ->> 'total_ms')::numeric, 1))
           || format('<div class="kpi"><b>%s ms</b><span>slowest execution</span></div>', round((r ->> 'max_ms')::numeric, 2))
           || format('<div class="kpi"><b>%s</b><span>tenants</span></div>', jsonb_array_length(doc -> 'tenants'))
           || format('<div class="kpi"><b>%s</b><span>findings</span></div>', r ->> 'findings')
           || '</div>';
    IF (r ->> 'overflow')::bigint > 0 THEN
        h := h || format('<p class="none">%s executions were counted but not kept one by one: raise perfaudit.max_run_statements.</p>',
                         r ->> 'overflow');
    END IF;

    h := h || '<h2>Latency per tenant</h2>';
    IF lat IS NULL THEN
        h := h || '<p class="none">Not recorded for this run (stored by a version before 0.2.0).</p>';
    ELSIF jsonb_array_length(lat) = 0 THEN
        h := h || '<p class="none">No top-level statement was kept.</p>';
    ELSE
        h := h || '<div class="grid">';
        FOR l IN SELECT x FROM jsonb_array_elements(lat) x LIMIT 24 LOOP
            h := h || '<div class="card tenant">'
                   || format('<h3>%s</h3>', CASE WHEN l ->> 'tenant' IS NULL THEN 'no tenant'
                                                 ELSE 'tenant ' || perfaudit._html(l ->> 'tenant') END)
                   || format('<div class="sub">%s statements &#183; p50 %s ms &#183; p95 %s ms &#183; p99 %s ms &#183; max %s ms</div>',
                             l ->> 'calls', round((l ->> 'p50_ms')::numeric, 3), round((l ->> 'p95_ms')::numeric, 3),
                             round((l ->> 'p99_ms')::numeric, 3), round((l ->> 'max_ms')::numeric, 3))
                   || perfaudit._html_histogram(l) || '</div>';
        END LOOP;
        h := h || '</div>';
        IF jsonb_array_length(lat) > 24 THEN
            h := h || format('<p class="none">&#8230; and %s more tenants (see report_json()).</p>', jsonb_array_length(lat) - 24);
        END IF;
    END IF;

    h := h || '<h2>Slowest statements per tenant</h2>';
    IF jsonb_array_length(doc -> 'tenants') = 0 THEN
        h := h || '<p class="none">No statement was captured.</p>';
    ELSE
        h := h || '<table class="slowest"><thead><tr><th>tenant</th><th>statement</th><th>calls</th><th>total ms</th><th>mean ms</th><th>max ms</th><th>rows</th><th>seq scans</th></tr></thead><tbody>';
        FOR t IN SELECT x FROM jsonb_array_elements(doc -> 'tenants') x LIMIT 50 LOOP
            FOR s IN SELECT x FROM jsonb_array_elements(t -> 'slowest') x LOOP
                h := h || format('<tr><td>%s</td><td><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                                 COALESCE(perfaudit._html(t ->> 'tenant'), '&#8211;'),
                                 perfaudit._html(left(s ->> 'query', 400)), s ->> 'calls',
                                 round((s ->> 'total_ms')::numeric, 3), round((s ->> 'mean_ms')::numeric, 3),
                                 round((s ->> 'max_ms')::numeric, 3), s ->> 'rows', s ->> 'seq_scans');
            END LOOP;
        END LOOP;
        h := h || '</tbody></table>';
    END IF;

    h := h || '<h2>Findings</h2>';
    IF jsonb_array_length(doc -> 'findings') = 0 THEN
        h := h || '<p class="none">No findings.</p>';
    ELSE
        FOR f IN SELECT x FROM jsonb_array_elements(doc -> 'findings') x LOOP
            h := h || format('<div class="card finding %s"><h3><span class="sev">%s</span>%s%s</h3><div class="sub">%s%s</div><code>%s</code>%s</div>',
                             perfaudit._html(f ->> 'severity'), perfaudit._html(f ->> 'severity'),
                             perfaudit._html(f ->> 'kind'),
                             COALESCE(' &#183; ' || perfaudit._html(f ->> 'relation'), ''),
                             perfaudit._html(f ->> 'message'),
                             COALESCE(' &#183; tenant ' || perfaudit._html(f ->> 'tenant'), ''),
                             perfaudit._html(left(f ->> 'query', 600)),
                             COALESCE('<div class="suggestion">' || perfaudit._html(f ->> 'suggestion') || '</div>', ''));
        END LOOP;
    END IF;

    h := h || '<h2>Benchmarks</h2>';
    h := h || perfaudit._html_benchmarks(doc -> 'benchmarks');
    IF jsonb_array_length(doc -> 'benchmarks') > 0 THEN
        h := h || '<p class="legend"><span style="background:#2f855a"></span>p50<span style="background:#d69e2e"></span>p95<span style="background:#c53030"></span>p99</p>'
               || '<table class="benchmarks"><thead><tr><th>benchmark</th><th>iterations</th><th>clients</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>per second</th><th>errors</th></tr></thead><tbody>';
        FOR b IN SELECT x FROM jsonb_array_elements(doc -> 'benchmarks') x LOOP
            h := h || format('<tr><td><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                             perfaudit._html(COALESCE(left(b ->> 'label', 1000), left(b ->> 'query', 200))),
                             b ->> 'iterations', b ->> 'clients',
                             round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                             round((b ->> 'p99_ms')::numeric, 3), round((b ->> 'max_ms')::numeric, 3),
                             round((b ->> 'throughput_qps')::numeric), b ->> 'errors');
        END LOOP;
        h := h || '</tbody></table>';
    END IF;
    RETURN h || '<p class="none" style="margin-top:28px">Generated by pg_perfaudit '
             || perfaudit._html((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_perfaudit'))
             || ' at ' || to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ') || '.</p></main></body></html>' || E'\n';
END $$;

COMMENT ON FUNCTION perfaudit.report_html(bigint) IS
'report_json() as one self-contained HTML page: latency histogram per tenant, slowest statements, findings with suggestions, benchmark percentiles';
