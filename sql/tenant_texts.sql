-- Each run_statements row shows its own tenant's text: the same statement
-- for organizations 1 and 3 differs in its literal, and tenant 3's row
-- must not show tenant 1's (the report's per-tenant table reads it).
SELECT perfaudit.start('tenant texts') > 0 AS started;
SELECT count(*) FROM items WHERE organization_id = 1;
SELECT count(*) FROM items WHERE organization_id = 3;
SELECT count(*) FROM items WHERE organization_id = 3;
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls, query FROM perfaudit.run_statements
 WHERE run_id = perfaudit.last_run() ORDER BY tenant COLLATE "C";
