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
    texts_dropped bigint NOT NULL DEFAULT 0 -- statement texts not kept (text area full)
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
                                             COALESCE(pg_catalog.format(' (%s)', r.label), ''),
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
           pg_catalog.string_agg(pg_catalog.format('%s: %s; %s', f.kind, f.message,
                                 pg_catalog.left(pg_catalog.regexp_replace(f.query, '\s+', ' ', 'g'), 120)),
                                 E'\n' ORDER BY f.finding_id)
      INTO found_kinds, lines
      FROM perfaudit.findings AS f
     WHERE f.run_id OPERATOR(pg_catalog.=) r.run_id
       AND (kinds IS NULL OR f.kind OPERATOR(pg_catalog.=) ANY (kinds));
    IF found_kinds IS NOT NULL THEN
        RAISE EXCEPTION 'capture run has findings: %', found_kinds
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format(E'Run %s%s:\n%s', r.run_id,
                                             COALESCE(pg_catalog.format(' (%s)', r.label), ''), lines);
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
    DELETE FROM perfaudit.runs
     WHERE run_id OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint;
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

CREATE FUNCTION perfaudit._store_benchmark(doc jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO perfaudit.benchmarks
    SELECT * FROM pg_catalog.jsonb_populate_record(NULL::perfaudit.benchmarks, doc OPERATOR(pg_catalog.->) 'benchmark');
    SELECT perfaudit._store_findings(doc OPERATOR(pg_catalog.->) 'findings');
$$;

REVOKE ALL ON FUNCTION perfaudit._store_benchmark(jsonb) FROM PUBLIC;

CREATE FUNCTION perfaudit.assert_query_time(query text, max_ms float8, percentile float8 DEFAULT 0.95,
                                            iterations int DEFAULT 50, tenants text[] DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    b perfaudit.benchmarks;
    measured float8;
BEGIN
    IF max_ms IS NULL OR percentile IS NULL THEN
        RAISE EXCEPTION 'max_ms and percentile must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF max_ms < 0 OR max_ms = 'NaN'::float8 THEN
        RAISE EXCEPTION 'max_ms must not be negative' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('max_ms = %s', max_ms);
    END IF;
    IF NOT (percentile > 0 AND percentile <= 1) THEN
        RAISE EXCEPTION 'percentile must be in (0, 1]' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('percentile = %s', percentile);
    END IF;
    b := perfaudit.benchmark(query, iterations, 5, tenants, 'assert_query_time');
    SELECT pg_catalog.percentile_cont(percentile) WITHIN GROUP (ORDER BY s)
      INTO measured FROM pg_catalog.unnest(b.samples_ms) AS s;
    IF measured > max_ms THEN
        RAISE EXCEPTION 'query slower than allowed at percentile %', percentile
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('p%s = %s ms > max_ms = %s ms over %s iterations (benchmark_id %s)',
                                             percentile * 100, pg_catalog.round(measured::numeric, 3), max_ms,
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
    IF pg_catalog.cardinality(b.seq_scan_tables) > 0 THEN
        RAISE EXCEPTION 'query scans % sequentially', pg_catalog.array_to_string(b.seq_scan_tables, ', ')
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
