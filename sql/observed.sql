-- Observed tenants: a statement without a tenant predicate takes the
-- tenant of the rows it returns (a lazy foreign-key load by primary key,
-- as ORMs select every column), and its N+1 carries that organization.
-- Acting as one tenant (the session setting), reading a row of another is
-- cross_tenant_access (critical); an unscoped lookup that only returned
-- the acting tenant's rows is unscoped_tenant_query of severity low.
CREATE TABLE obs_servers (id int PRIMARY KEY, organization_id int NOT NULL, name text);
INSERT INTO obs_servers SELECT g, 40 + g % 4, 'server ' || g FROM generate_series(1, 40) g;
ANALYZE obs_servers;
PREPARE lazy(int) AS SELECT id, organization_id, name FROM obs_servers WHERE id = $1;
SET perfaudit.tenant_setting = 'app.org';
-- no acting tenant: attributed by the rows, the N+1 is organization 41's
RESET app.org;
SELECT perfaudit.start('lazy loads') AS run_lazy \gset
\o /dev/null
EXECUTE lazy(1); EXECUTE lazy(5); EXECUTE lazy(9); EXECUTE lazy(13); EXECUTE lazy(17);
\o
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls FROM perfaudit.run_statements WHERE run_id = :run_lazy ORDER BY tenant;
SELECT kind, severity, tenant FROM perfaudit.findings WHERE run_id = :run_lazy ORDER BY kind, tenant;
-- rows of two organizations: still one loop (one N+1, not one per
-- organization), of no one tenant
SELECT perfaudit.start('lazy loads, two organizations') AS run_lazy2 \gset
\o /dev/null
EXECUTE lazy(1); EXECUTE lazy(5); EXECUTE lazy(9); EXECUTE lazy(13); EXECUTE lazy(17);
EXECUTE lazy(2);
\o
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls FROM perfaudit.run_statements WHERE run_id = :run_lazy2 ORDER BY tenant;
SELECT kind, severity, tenant FROM perfaudit.findings WHERE run_id = :run_lazy2 ORDER BY kind, tenant;
-- acting as 41: its own rows (low), then one row of 42 (critical)
SET app.org = '41';
SELECT perfaudit.start('acting') AS run_act \gset
\o /dev/null
EXECUTE lazy(1); EXECUTE lazy(5);
SELECT * FROM obs_servers WHERE id = 2;
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, detail->>'acting_tenant' AS acting,
       detail->'observed_tenants' AS observed, detail->>'observed_tenant_count' AS n,
       detail->>'rows' AS rows, detail->>'rows_outside_acting_tenant' AS outside
  FROM perfaudit.findings WHERE run_id = :run_act ORDER BY kind, severity, query COLLATE "C";
SELECT pa_error_of(format('SELECT perfaudit.assert_no_findings(run_id => %s)', :run_act)) AS leak_fails;
SELECT perfaudit.assert_no_findings(ARRAY['cross_tenant_access'], :run_lazy) AS no_leak_without_acting;
RESET app.org;
RESET perfaudit.tenant_setting;
DEALLOCATE ALL;
-- Acting as 41, a read of four organizations' rows: each with its rows.
-- (Without an acting tenant the statement is attributed to all four.)
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '41';
SELECT perfaudit.start('wide leak') AS run_wide \gset
\o /dev/null
SELECT id, organization_id FROM obs_servers WHERE id <= 8 ORDER BY id;
\o
SELECT statements FROM perfaudit.stop();
SELECT tenant, detail->'observed_tenants' AS observed, detail->>'observed_tenant_count' AS n,
       detail->>'rows' AS rows
  FROM perfaudit.findings WHERE run_id = :run_wide AND kind = 'cross_tenant_access';
RESET app.org;
RESET perfaudit.tenant_setting;
-- start(tenant => ...) declares the acting tenant, before the setting.
CREATE TABLE obs_servers2 (id int PRIMARY KEY, organization_id int NOT NULL, name text);
INSERT INTO obs_servers2 VALUES (1, 42, 'ours'), (2, 43, 'theirs');
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '43';
SELECT perfaudit.start('acting 42', tenant => '42') AS run_42 \gset
SELECT id, organization_id, name FROM obs_servers2 WHERE id = 2;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, detail->>'acting_tenant' AS acting
  FROM perfaudit.findings WHERE run_id = :run_42 AND kind = 'cross_tenant_access';
SELECT pa_error_of($$SELECT perfaudit.start('x', tenant => '')$$) AS empty_tenant;
RESET app.org;
RESET perfaudit.tenant_setting;
DROP TABLE obs_servers2;
DROP TABLE obs_servers;
