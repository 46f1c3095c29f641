-- sql-src/00_schema.sql: schema perfaudit, the results tables and their
-- sequences, row-level security and the privileges on the tables.  The
-- Makefile joins sql-src/*.sql, in name order, into pg_perfaudit--<version>.sql.

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
