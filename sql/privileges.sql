-- Ordinary roles read their own runs only; pg_read_all_stats reads all;
-- a database-scope capture and the internal storing function are not for
-- ordinary roles.
CREATE ROLE pa_alice LOGIN;
CREATE ROLE pa_bob LOGIN;
CREATE ROLE pa_carol LOGIN IN ROLE pg_read_all_stats;
GRANT SELECT ON items TO pa_alice, pa_bob, pa_carol;

SET ROLE pa_alice;
SELECT perfaudit.start('alice') AS run_alice \gset
SELECT name FROM items WHERE id = 1;
SELECT statements FROM perfaudit.stop();
SELECT count(*) AS alice_sees_own FROM perfaudit.runs WHERE run_id = :run_alice;
SELECT count(*) AS alice_sees_stmts FROM perfaudit.run_statements WHERE run_id = :run_alice;
SELECT count(*) AS alice_sees_others FROM perfaudit.runs WHERE label <> 'alice';
SELECT pa_error_of($$SELECT perfaudit.start(scope => 'database')$$) AS alice_database_scope;
-- perfaudit.tenant_setting cannot be used to read a superuser-only setting
SET perfaudit.tenant_setting = 'data_directory';
SELECT perfaudit.start('alice tenant leak') AS run_leak \gset
SELECT 1 AS one;
SELECT statements FROM perfaudit.stop();
SELECT count(*) AS leaked FROM perfaudit.run_statements WHERE run_id = :run_leak AND tenant IS NOT NULL;
RESET perfaudit.tenant_setting;
SELECT pa_error_of($$SELECT perfaudit._store_run('{}')$$) AS alice_store;
SELECT pa_error_of($$DELETE FROM perfaudit.runs$$) AS alice_delete;
SELECT pa_error_of($$INSERT INTO perfaudit.runs (run_id, scope, database, pid, started_at, userid) VALUES (-1, 'x', 'x', 1, now(), 1)$$) AS alice_insert;
RESET ROLE;

SET ROLE pa_bob;
SELECT count(*) AS bob_sees_alice FROM perfaudit.runs WHERE run_id = :run_alice;
SELECT count(*) AS bob_sees_alice_stmts FROM perfaudit.run_statements WHERE run_id = :run_alice;
RESET ROLE;

SET ROLE pa_carol;
SELECT count(*) AS carol_sees_alice FROM perfaudit.runs WHERE run_id = :run_alice;
SELECT count(*) AS carol_sees_alice_stmts FROM perfaudit.run_statements WHERE run_id = :run_alice;
RESET ROLE;

-- A grant of alice's role lets bob read her runs.
GRANT pa_alice TO pa_bob;
SET ROLE pa_bob;
SELECT count(*) AS bob_member_sees_alice FROM perfaudit.runs WHERE run_id = :run_alice;
RESET ROLE;
