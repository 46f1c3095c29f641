-- Tenant lists are never cut silently: IN (1, ..., 10) names all ten; a
-- list that does not fit in a tenant value ends in ",...", and the
-- findings' detail.tenant_count holds the complete count.
CREATE TABLE uuid_orgs (id int, organization_id text);
SELECT perfaudit.start('tenant lists') > 0 AS started;
SELECT count(*) FROM items WHERE organization_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
PREPARE many(int[]) AS SELECT count(*) FROM items WHERE organization_id = ANY($1);
SELECT format('EXECUTE many(%L)', array_agg(g)::text) FROM generate_series(100, 139) g \gexec
-- the same 40 with 20 of them twice: still 40 tenants
SELECT format('EXECUTE many(%L)', array_agg(g)::text)
  FROM (SELECT generate_series(100, 139) UNION ALL SELECT generate_series(120, 139)) s(g) \gexec
EXECUTE many(ARRAY[1, 2, 2, 1]);
DEALLOCATE many;
SELECT count(*) FROM uuid_orgs
 WHERE organization_id IN ('11111111-1111-1111-1111-111111111111',
                           '22222222-2222-2222-2222-222222222222',
                           '33333333-3333-3333-3333-333333333333');
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls FROM perfaudit.run_statements
 WHERE run_id = perfaudit.last_run() AND tenant IS NOT NULL
 ORDER BY length(tenant), tenant COLLATE "C";
SELECT tenant, (detail->>'tenant_count')::int AS tenant_count, calls
  FROM perfaudit.findings
 WHERE run_id = perfaudit.last_run() AND kind = 'cross_tenant_query'
 ORDER BY tenant_count, tenant COLLATE "C";
DROP TABLE uuid_orgs;
