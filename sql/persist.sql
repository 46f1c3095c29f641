-- The writer cannot store while the caller itself holds a conflicting lock
-- on the results: stop() gives a clear error after perfaudit.persist_timeout
-- instead of hanging, the run stays active (closed), and a later stop()
-- stores it.
SELECT perfaudit.start('blocked writer') AS run_bw \gset
SELECT 1 AS one;
BEGIN;
LOCK TABLE perfaudit.runs IN ACCESS EXCLUSIVE MODE;
SET LOCAL perfaudit.persist_timeout = '1s';
SELECT perfaudit.stop();
ROLLBACK;
SELECT perfaudit.active_run() AS active_id \gset
SELECT :active_id = :run_bw AS still_active;
-- the SELECT and the LOCK; nothing after the first stop() closed the run
SELECT statements FROM perfaudit.stop();
SELECT label, statements FROM perfaudit.runs WHERE run_id = :run_bw;
SELECT perfaudit.active_run() IS NULL AS stopped;

-- discard_run() drops a run without storing it: the way out when the writer
-- cannot store.
SELECT perfaudit.discard_run() IS NULL AS nothing_to_discard;
SELECT perfaudit.start('to be discarded') AS run_dis \gset
SELECT 2 AS two;
SELECT perfaudit.discard_run() = :run_dis AS discarded;
SELECT perfaudit.active_run() IS NULL AS no_run;
SELECT count(*) AS stored FROM perfaudit.runs WHERE run_id = :run_dis;
