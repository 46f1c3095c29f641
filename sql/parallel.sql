-- A parallel query is one statement: workers run the executor hooks too,
-- but never record.
SET perfaudit.track = 'all';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- force_parallel_mode was renamed debug_parallel_query in 16
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', false) AS parallel_forced;
EXPLAIN (COSTS OFF) SELECT count(*) FROM items WHERE name LIKE 'item 1%';
SELECT perfaudit.start('parallel') AS run_par \gset
SELECT count(*) FROM items WHERE name LIKE 'item 1%';
SELECT count(*) FROM items WHERE name LIKE 'item 2%';
SELECT statements FROM perfaudit.stop();
SELECT query, calls, distinct_params, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_par ORDER BY query COLLATE "C";
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'off', false) AS parallel_forced;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
RESET perfaudit.track;
