-- Tenants carried through joins, and the always-on per-tenant statistics.

CREATE TABLE item_tags (
    item_id int NOT NULL,
    organization_id int NOT NULL,
    tag text NOT NULL
);
INSERT INTO item_tags SELECT g, g % 20, 'tag ' || (g % 7) FROM generate_series(1, 2000) g;
CREATE INDEX ON item_tags (organization_id, item_id);
ANALYZE item_tags;

-- Joins.  The planner itself copies "organization_id = 4" to both sides
-- of a join on the tenant column; a LATERAL subquery gets the value as a
-- nested-loop parameter, which is followed to the table it comes from.
SELECT perfaudit.start('joins') AS run_joins \gset
SELECT count(*) FROM items i JOIN item_tags t
    ON t.organization_id = i.organization_id AND t.item_id = i.id
 WHERE i.organization_id = 4;
SELECT count(*) FROM items i CROSS JOIN LATERAL (
    SELECT tag FROM item_tags t
     WHERE t.organization_id = i.organization_id AND t.item_id > i.id LIMIT 1) x
 WHERE i.organization_id = 5 AND i.id < 100;
-- the same join driven by an unscoped read: both tables are unscoped
SELECT count(*) FROM items i CROSS JOIN LATERAL (
    SELECT tag FROM item_tags t
     WHERE t.organization_id = i.organization_id AND t.item_id > i.id LIMIT 1) x
 WHERE i.id < 10;
-- a hash join of two unscoped reads on the tenant column
SELECT count(*) FROM items i JOIN item_tags t ON t.organization_id = i.organization_id
 WHERE i.name = 'item 5' AND t.tag = 'tag 3';
SELECT statements FROM perfaudit.stop();
SELECT tenant, right(query, 45) AS query_end FROM perfaudit.run_statements
 WHERE run_id = :run_joins ORDER BY query COLLATE "C";
SELECT relation, right(query, 45) AS query_end FROM perfaudit.findings
 WHERE run_id = :run_joins AND kind = 'unscoped_tenant_query'
 ORDER BY query COLLATE "C", relation COLLATE "C";

-- Always-on statistics: counted per tenant without any capture running.
SELECT perfaudit.reset() BETWEEN now() AND clock_timestamp() AS reset_done;
SELECT tenants, tenant_statements, evictions FROM perfaudit.tenant_stats_info();
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '7';
SELECT count(*) FROM items WHERE name = 'item 1';
SELECT count(*) FROM items WHERE name = 'item 2';
RESET app.org;
SELECT count(*) FROM items WHERE organization_id = 8;
SELECT count(*) FROM items WHERE organization_id = 8;
SELECT count(*) FROM items WHERE organization_id = 8;
/* tenant='9' */ SELECT count(*) FROM items WHERE name = 'item 3';
RESET perfaudit.tenant_setting;
SELECT tenant, database = current_database() AS this_db, calls, rows,
       seq_scans >= 1 AS scanned, unscoped_calls,
       p95_ms <= max_ms AND mean_ms <= max_ms AND p95_ms > 0 AS p95_sane,
       last_seen <= now() AS seen
  FROM perfaudit.tenant_stats WHERE tenant IN ('7', '8', '9')
 ORDER BY tenant COLLATE "C";
-- per statement, with the queryid pg_stat_statements has
SELECT s.tenant, s.calls, s.rows, p.query
  FROM perfaudit.tenant_statements s
  JOIN pg_stat_statements p ON p.queryid = s.queryid AND p.toplevel AND p.dbid = (
        SELECT oid FROM pg_database WHERE datname = current_database())
 WHERE s.tenant IN ('7', '8', '9')
 ORDER BY s.tenant COLLATE "C", p.query COLLATE "C";
-- statements with no tenant are counted under NULL
SELECT count(*) = 1 AS null_tenant_row FROM perfaudit.tenant_stats
 WHERE tenant IS NULL AND database = current_database();

-- Switched off for everybody by a superuser: nothing is counted.
SET perfaudit.track_tenants = off;
SELECT count(*) FROM items WHERE organization_id = 11;
RESET perfaudit.track_tenants;
SELECT count(*) AS tenant_11 FROM perfaudit.tenant_stats WHERE tenant = '11';

-- Nested statements count with track = 'all' only.
CREATE FUNCTION count_org(o int) RETURNS bigint LANGUAGE sql AS
    $$ SELECT count(*) FROM items WHERE organization_id = o $$;
SELECT count_org(12);
SELECT count(*) AS tenant_12_top FROM perfaudit.tenant_stats WHERE tenant = '12';
SET perfaudit.track = 'all';
SELECT count_org(12);
RESET perfaudit.track;
SELECT calls AS tenant_12_all FROM perfaudit.tenant_stats WHERE tenant = '12';
DROP FUNCTION count_org(int);

-- Privileges: the views need pg_read_all_stats (or a grant), reset() a
-- superuser or a grant.
CREATE ROLE pa_stats_nobody;
CREATE ROLE pa_stats_reader IN ROLE pg_read_all_stats;
SET ROLE pa_stats_nobody;
SELECT pa_error_of('SELECT count(*) FROM perfaudit.tenant_stats');
SELECT pa_error_of('SELECT count(*) FROM perfaudit.tenant_statements');
SELECT pa_error_of('SELECT perfaudit.reset()');
RESET ROLE;
SET ROLE pa_stats_reader;
SELECT count(*) > 0 AS reader_sees FROM perfaudit.tenant_stats;
SELECT pa_error_of('SELECT perfaudit.reset()');
RESET ROLE;
GRANT EXECUTE ON FUNCTION perfaudit.reset() TO pa_stats_reader;
SET ROLE pa_stats_reader;
SELECT perfaudit.reset() IS NOT NULL AS reader_reset;
RESET ROLE;
SELECT count(*) AS after_reset FROM perfaudit.tenant_stats WHERE tenant IN ('7', '8', '9');
REVOKE EXECUTE ON FUNCTION perfaudit.reset() FROM pa_stats_reader;
DROP ROLE pa_stats_nobody;
DROP ROLE pa_stats_reader;
DROP TABLE item_tags;

-- Per tenant, the latency distribution of a run's top-level statements:
-- calls match run_statements, the buckets add up to the calls, the exact
-- percentiles are ordered, and the busiest tenant comes first.
SET perfaudit.track = 'all';
SET perfaudit.tenant_setting = 'app.org';
SELECT perfaudit.start('latency') AS run_lat \gset
SET app.org = '3';
SELECT count(*) FROM items WHERE name LIKE 'item 1%';
SELECT count(*) FROM items WHERE name LIKE 'item 2%';
SELECT count(*) FROM items WHERE name LIKE 'item 3%';
SET app.org = '4';
DO $$ BEGIN FOR i IN 1..4 LOOP PERFORM name FROM items WHERE id = i; END LOOP; END $$;
RESET app.org;
SELECT statements FROM perfaudit.stop();
SELECT ord, l ->> 'tenant' AS tenant, (l ->> 'calls')::int AS calls,
       (l ->> 'calls')::bigint = (SELECT sum(calls) FROM perfaudit.run_statements s
                                   WHERE s.run_id = :run_lat AND s.nesting_level = 0
                                     AND s.tenant IS NOT DISTINCT FROM l ->> 'tenant') AS calls_match,
       (SELECT sum(c::bigint) FROM jsonb_array_elements_text(l -> 'bucket_counts') c) = (l ->> 'calls')::bigint AS buckets_add_up,
       jsonb_array_length(l -> 'bucket_counts') = jsonb_array_length(l -> 'bucket_upper_ms') AS bucket_arrays,
       (l ->> 'p50_ms')::float8 <= (l ->> 'p95_ms')::float8 AND (l ->> 'p95_ms')::float8 <= (l ->> 'p99_ms')::float8
         AND (l ->> 'p99_ms')::float8 <= (l ->> 'max_ms')::float8 AS ordered
  FROM perfaudit.runs r, jsonb_array_elements(r.tenant_latency) WITH ORDINALITY AS x(l, ord)
 WHERE r.run_id = :run_lat ORDER BY ord;
RESET perfaudit.tenant_setting;
RESET perfaudit.track;
