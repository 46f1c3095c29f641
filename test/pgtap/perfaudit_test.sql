-- A pgTAP suite as an application keeps it (run with pg_prove): each test
-- file is one transaction, rolled back at the end; pg_perfaudit's results
-- are stored by its writer and stay.  The tables are the multi-tenant
-- fixture's (test/fixtures), tenant setting app.current_organization_id.
BEGIN;
SELECT plan(9);

SET perfaudit.tenant_setting = 'app.current_organization_id';

-- A request with eager loading: within its query budget, no N+1.
-- (the workload's rows are not TAP output: \o sends them away)
\o /dev/null
SELECT perfaudit.start('pgtap: users page, eager');
SET app.current_organization_id = '7';
SELECT u.id, u.email, s.hostname
  FROM app.users u LEFT JOIN app.servers s ON s.organization_id = u.organization_id
 WHERE u.organization_id = 7 ORDER BY u.id LIMIT 20;
SELECT perfaudit.stop();
\o
SELECT ok(perfaudit.assert_max_queries(3), 'users page: at most 3 queries');
SELECT ok(perfaudit.assert_no_findings(ARRAY['n_plus_one', 'unscoped_tenant_query']),
          'users page: no N+1, every tenant table scoped');

-- The same page with lazy loading: the N+1 must be caught.
\o /dev/null
SELECT perfaudit.start('pgtap: users page, lazy');
SELECT id FROM app.users WHERE organization_id = 7 ORDER BY id LIMIT 8;
SELECT format('SELECT email FROM app.users WHERE organization_id = 7 AND id = %s', id)
  FROM app.users WHERE organization_id = 7 ORDER BY id LIMIT 8 \gexec
SELECT perfaudit.stop();
\o
SELECT throws_ok($$SELECT perfaudit.assert_no_findings(ARRAY['n_plus_one'])$$, 'PA001',
                 'capture run has findings: n_plus_one', 'lazy loading: the N+1 is caught (PA001)');
SELECT throws_ok($$SELECT perfaudit.assert_max_queries(3)$$, 'PA001', NULL,
                 'lazy loading: over its query budget (PA001)');

-- An unscoped read of a tenant table is a data leak waiting to happen
-- (acting as organization 7, this count reads every organization's rows:
-- cross_tenant_access too).
\o /dev/null
SELECT perfaudit.start('pgtap: unscoped');
SELECT count(*) FROM app.applications WHERE status = 'running';
SELECT perfaudit.stop();
\o
SELECT throws_ok($$SELECT perfaudit.assert_no_findings(ARRAY['unscoped_tenant_query'])$$, 'PA001', NULL,
                 'an unscoped read of app.applications is reported');

-- Benchmarks and plans, next to pgTAP's own performs_within().
SELECT ok(perfaudit.assert_query_time('SELECT id, email FROM app.users WHERE organization_id = $1 ORDER BY id LIMIT 20',
                                      50, 0.95, 50, ARRAY['1', '2', '3']),
          'users page under 50 ms at p95 over 3 organizations');
SELECT ok(perfaudit.assert_no_seq_scan('SELECT hostname FROM app.servers WHERE organization_id = 7'),
          'servers of an organization: no sequential scan');
SELECT throws_ok($$SELECT perfaudit.assert_no_seq_scan('SELECT name FROM app.applications WHERE organization_id = 7')$$,
                 'PA001', NULL, 'applications of an organization: the missing index is caught');
SELECT performs_within('SELECT id FROM app.users WHERE organization_id = 7 LIMIT 20', 5, 50, 20,
                       'pgTAP''s own performs_within() works alongside');

SELECT * FROM finish();
ROLLBACK;
