-- Cases a red-team pass over the observed tenants, cursors and batches
-- found (each failed before its fix).
SET perfaudit.track = 'all';
-- 1. A cursor's plan analysed again while it is open keeps its own facts.
CREATE FUNCTION rt_open(n text) RETURNS refcursor LANGUAGE plpgsql AS $$
DECLARE c refcursor := n;
BEGIN OPEN c FOR SELECT id FROM items WHERE organization_id = 5 AND name <> 'zz'; RETURN c; END $$;
SELECT perfaudit.start('reanalysed') AS run_1 \gset
BEGIN;
SELECT rt_open('a');
SET LOCAL perfaudit.tenant_column = 'name';
SELECT rt_open('b');
RESET perfaudit.tenant_column;
CLOSE a; CLOSE b;
COMMIT;
SELECT statements > 0 AS counted FROM perfaudit.stop();
SELECT count(*) AS a_unscoped FROM perfaudit.findings
 WHERE run_id = :run_1 AND kind = 'unscoped_tenant_query' AND tenant = '5';
DROP FUNCTION rt_open;
RESET perfaudit.track;
-- 2. Two unscoped tenant tables, one observed: no "only the acting
-- tenant's rows" for either.
CREATE TABLE rt_a (id int PRIMARY KEY, organization_id int);
INSERT INTO rt_a VALUES (6, 1);
SELECT perfaudit.start('join', tenant => '1') AS run_2 \gset
SELECT a.organization_id, b.organization_id AS other_org
  FROM rt_a a JOIN items b ON b.id = a.id WHERE a.id = 6;
SELECT statements FROM perfaudit.stop();
SELECT severity, relation FROM perfaudit.findings
 WHERE run_id = :run_2 AND kind = 'unscoped_tenant_query' ORDER BY relation;
-- 3. INSERT ... ON CONFLICT DO UPDATE may overwrite another tenant's row:
-- not attributed to the inserted tenant.
CREATE TABLE rt_up (id int PRIMARY KEY, organization_id int, v text);
INSERT INTO rt_up VALUES (1, 7, 'seven');
SELECT perfaudit.start('upsert') AS run_3 \gset
INSERT INTO rt_up VALUES (1, 4, 'four') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
INSERT INTO rt_up VALUES (2, 4, 'four') ON CONFLICT DO NOTHING;
SELECT statements FROM perfaudit.stop();
SELECT left(query, 40) AS query, tenant FROM perfaudit.run_statements
 WHERE run_id = :run_3 ORDER BY query COLLATE "C";
-- 4. LIMIT 1 over a range (the latest child of each parent) is a lookup
-- loop, not keyset batches: still n_plus_one.
CREATE TABLE rt_comments (id int PRIMARY KEY, organization_id int, post_id int, created_at int);
INSERT INTO rt_comments SELECT g, 1, g % 10, g FROM generate_series(1, 200) g;
CREATE INDEX ON rt_comments (post_id);
ANALYZE rt_comments;
PREPARE latest(int, int) AS SELECT * FROM rt_comments
 WHERE organization_id = 1 AND post_id = $1 AND created_at < $2 ORDER BY created_at DESC LIMIT 1;
SELECT perfaudit.start('latest') AS run_4 \gset
\o /dev/null
SELECT format('EXECUTE latest(%s, 1000)', g) FROM generate_series(0, 9) g \gexec
\o
SELECT statements FROM perfaudit.stop();
SELECT kind FROM perfaudit.findings WHERE run_id = :run_4 AND kind = 'n_plus_one';
DEALLOCATE latest;
-- 5. A truncation in an outer level, then inserts in a savepoint: the
-- live rows are the inserts'.
CREATE TABLE rt_lr (id int, organization_id int, v text) WITH (autovacuum_enabled = off);
SET perfaudit.seq_scan_min_rows = 1000;
SELECT perfaudit.start('live') AS run_5 \gset
BEGIN;
TRUNCATE rt_lr;
SAVEPOINT s;
INSERT INTO rt_lr SELECT g, 1, 'x' FROM generate_series(1, 5000) g;
SELECT count(*) FROM rt_lr WHERE v = 'y';
COMMIT;
SELECT statements FROM perfaudit.stop();
SELECT message FROM perfaudit.findings WHERE run_id = :run_5 AND kind = 'seq_scan';
RESET perfaudit.seq_scan_min_rows;
DROP TABLE rt_a, rt_up, rt_comments, rt_lr;
