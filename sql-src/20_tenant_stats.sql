-- sql-src/20_tenant_stats.sql: the always-on per-tenant statistics (views,
-- tenant_stats_info(), reset()) and who may read and reset them.

-- ----------------------------------------------------------------
-- Always-on per-tenant statistics (shared memory; needs the preload)
-- ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION perfaudit._tenant_stats(
    OUT tenant text, OUT dbid oid, OUT calls bigint, OUT total_ms float8,
    OUT mean_ms float8, OUT max_ms float8, OUT p95_ms float8, OUT rows bigint,
    OUT seq_scans bigint, OUT unscoped_calls bigint, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pa_tenant_stats'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE OR REPLACE FUNCTION perfaudit._tenant_statements(
    OUT tenant text, OUT queryid bigint, OUT calls bigint, OUT total_ms float8,
    OUT mean_ms float8, OUT max_ms float8, OUT rows bigint, OUT dbid oid)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pa_tenant_statements'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE OR REPLACE VIEW perfaudit.tenant_stats AS
    SELECT s.tenant, d.datname AS database, s.calls, s.total_ms, s.mean_ms,
           s.max_ms, s.p95_ms, s.rows, s.seq_scans, s.unscoped_calls, s.last_seen
      FROM perfaudit._tenant_stats() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid;

CREATE OR REPLACE VIEW perfaudit.tenant_statements AS
    SELECT s.tenant, s.queryid, s.calls, s.total_ms, s.mean_ms, s.max_ms,
           s.rows, d.datname AS database
      FROM perfaudit._tenant_statements() s
      LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid;

CREATE OR REPLACE FUNCTION perfaudit.tenant_stats_info(
    OUT tenants bigint, OUT max_tenants bigint,
    OUT tenant_statements bigint, OUT max_tenant_statements bigint,
    OUT evictions bigint, OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'pa_tenant_stats_info'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE OR REPLACE FUNCTION perfaudit.reset()
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
