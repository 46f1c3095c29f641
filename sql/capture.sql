-- start/stop/active_run, a run's rows and counts, rollback survival.
SET perfaudit.track = 'top';
SELECT perfaudit.active_run() IS NULL AS no_run_yet;

SELECT perfaudit.start('basic') AS run_id \gset
SELECT perfaudit.active_run() AS active_id \gset
SELECT :active_id = :run_id AS active;
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 2;
SELECT name FROM items WHERE id = 2;
SELECT count(*) FROM items;
-- transaction control and SET are not statements of a run
BEGIN;
SELECT 1 AS in_transaction;
COMMIT;
SET work_mem = '8MB';
RESET work_mem;
-- active_run() and the comparison + 3 lookups + 1 count + 1 in the transaction = 7
SELECT statements, findings, overflow, label, scope
  FROM perfaudit.stop();
SELECT perfaudit.active_run() IS NULL AS stopped;

-- The stored run, visible to the next statement.
SELECT label, scope, database = current_database() AS this_db,
       pid = pg_backend_pid() AS this_pid, statements, findings, overflow,
       stopped_at >= started_at AS times_ordered,
       total_ms >= max_ms AND max_ms >= 0 AS sums_ok,
       userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owner_ok
  FROM perfaudit.runs WHERE run_id = :run_id;

-- One row per (queryid, tenant, nesting_level): the literal-only difference
-- of id = 1 / id = 2 is one statement with 2 distinct parameter values.
SELECT query, calls, distinct_params, rows, seq_scans, nesting_level,
       min_ms <= mean_ms AND mean_ms <= max_ms AS stats_ok,
       abs(total_ms - mean_ms * calls) < 0.001 AS mean_ok
  FROM perfaudit.run_statements WHERE run_id = :run_id
 ORDER BY query COLLATE "C";
SELECT sum(calls) AS calls FROM perfaudit.run_statements WHERE run_id = :run_id;

-- queryid is pg_stat_statements' queryid.
SELECT count(*) AS joined_with_pgss
  FROM perfaudit.run_statements r
  JOIN pg_stat_statements s ON s.queryid = r.queryid
       AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 WHERE r.run_id = :run_id AND r.query LIKE '%FROM items%';

-- A run stopped inside a transaction that is rolled back stays stored.
BEGIN;
SELECT perfaudit.start('rolled back') AS run_rb \gset
SELECT name FROM items WHERE id = 3;
SELECT statements FROM perfaudit.stop();
ROLLBACK;
SELECT label, statements FROM perfaudit.runs WHERE run_id = :run_rb;
SELECT query, calls FROM perfaudit.run_statements WHERE run_id = :run_rb;

-- An error aborts the transaction after stop(): the run is still there.
BEGIN;
SELECT perfaudit.start('aborted after stop') AS run_ab \gset
SELECT name FROM items WHERE id = 4;
SELECT statements FROM perfaudit.stop();
SELECT 1 / 0;
ROLLBACK;
SELECT label, statements FROM perfaudit.runs WHERE run_id = :run_ab;

-- An error aborts the transaction before stop(): the run outlives the
-- rollback (runs are not transactional) and stop() still stores it.  The
-- failed statement is not counted.
BEGIN;
SELECT perfaudit.start('aborted before stop') AS run_ab2 \gset
SELECT name FROM items WHERE id = 5;
SELECT 1 / 0;
ROLLBACK;
SELECT perfaudit.active_run() AS active_id \gset
SELECT :active_id = :run_ab2 AS still_active;
SELECT statements FROM perfaudit.stop();
SELECT query, calls FROM perfaudit.run_statements WHERE run_id = :run_ab2
 ORDER BY query COLLATE "C";

-- A bounded run: executions beyond perfaudit.max_run_statements are
-- counted and timed, and reported as overflow.
SET perfaudit.max_run_statements = 100;
SET perfaudit.track = 'all';
SELECT perfaudit.start('bounded') AS run_b \gset
DO $$ BEGIN FOR i IN 1..150 LOOP PERFORM name FROM items WHERE id = i; END LOOP; END $$;
SELECT statements, overflow FROM perfaudit.stop();
SELECT sum(calls) AS kept FROM perfaudit.run_statements WHERE run_id = :run_b;
-- an incomplete run cannot prove the absence of findings
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings(ARRAY['seq_scan'], $$ || :run_b || ')') AS incomplete;
RESET perfaudit.max_run_statements;
RESET perfaudit.track;

-- Runs get increasing ids.
SELECT count(*) = count(DISTINCT run_id) AS unique_ids, max(run_id) = :run_b AS last_is_max
  FROM perfaudit.runs;
