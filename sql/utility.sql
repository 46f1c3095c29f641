-- Utility statements: which count, and what is nested under them.
SET perfaudit.track = 'top';
SELECT perfaudit.start('utility') AS run_u \gset
CREATE TABLE scratch (a int);                          -- counted
INSERT INTO scratch SELECT generate_series(1, 10);     -- counted (executor)
EXPLAIN (COSTS OFF) SELECT * FROM scratch;             -- counted once, nothing executed
-- (plans are not printed: their format changes between majors)
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM scratch; -- counted once
\o
BEGIN;                                                 -- not counted
SAVEPOINT s1;                                          -- not counted
DECLARE c CURSOR FOR SELECT a FROM scratch ORDER BY a; -- counted
FETCH 3 FROM c;                                        -- counted
FETCH 3 FROM c;                                        -- counted
CLOSE c;                                               -- counted
RELEASE SAVEPOINT s1;                                  -- not counted
COMMIT;                                                -- not counted
SET search_path = public;                              -- not counted
COPY scratch TO STDOUT;                                -- counted
DROP TABLE scratch;                                    -- counted
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_u ORDER BY query COLLATE "C";

-- With track = all, the query under EXPLAIN ANALYZE and the cursor's query
-- are nested statements (counted once, however many FETCHes).
SET perfaudit.track = 'all';
CREATE TABLE scratch (a int);
INSERT INTO scratch SELECT generate_series(1, 10);
SELECT perfaudit.start('utility all') AS run_ua \gset
\o /dev/null
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM scratch;
\o
BEGIN;
DECLARE c CURSOR FOR SELECT a FROM scratch ORDER BY a;
FETCH 4 FROM c;
FETCH 4 FROM c;
FETCH 4 FROM c;
CLOSE c;
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT query, calls, rows, nesting_level FROM perfaudit.run_statements
 WHERE run_id = :run_ua ORDER BY nesting_level, query COLLATE "C";
DROP TABLE scratch;
RESET perfaudit.track;
