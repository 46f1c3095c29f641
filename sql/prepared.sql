-- Prepared statements: PREPARE and DEALLOCATE are not counted, each
-- EXECUTE is one execution of the prepared statement at top level, across
-- the custom-to-generic plan switch.
SET perfaudit.track = 'top';
PREPARE lookup(int) AS SELECT name FROM items WHERE id = $1;

SET plan_cache_mode = auto;
SELECT perfaudit.start('prepared auto') AS run_auto \gset
EXECUTE lookup(1);
EXECUTE lookup(2);
EXECUTE lookup(3);
EXECUTE lookup(4);
EXECUTE lookup(5);
EXECUTE lookup(6);
EXECUTE lookup(6);
SELECT statements FROM perfaudit.stop();
SELECT calls, distinct_params, nesting_level, rows
  FROM perfaudit.run_statements WHERE run_id = :run_auto;

SET plan_cache_mode = force_generic_plan;
SELECT perfaudit.start('prepared generic') AS run_gen \gset
EXECUTE lookup(1);
EXECUTE lookup(2);
EXECUTE lookup(2);
SELECT statements FROM perfaudit.stop();
SELECT calls, distinct_params FROM perfaudit.run_statements WHERE run_id = :run_gen;

SET plan_cache_mode = force_custom_plan;
SELECT perfaudit.start('prepared custom') AS run_cust \gset
EXECUTE lookup(1);
EXECUTE lookup(2);
EXECUTE lookup(2);
SELECT statements FROM perfaudit.stop();
SELECT calls, distinct_params FROM perfaudit.run_statements WHERE run_id = :run_cust;
RESET plan_cache_mode;

-- The same queryid as pg_stat_statements, for the prepared statement too.
SELECT count(*) AS joined_with_pgss
  FROM perfaudit.run_statements r
  JOIN pg_stat_statements s ON s.queryid = r.queryid
 WHERE r.run_id IN (:run_auto, :run_gen, :run_cust);
DEALLOCATE lookup;
