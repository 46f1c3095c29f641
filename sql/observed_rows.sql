-- Observed tenants of the rows a statement reads but does not return, and
-- of the rows it writes: UPDATE and DELETE by primary key (Rails update!,
-- destroy; Django save() of a loaded object, delete()), an UPDATE that
-- moves a row to another tenant, INSERT ... SELECT, aggregates, joins.
CREATE TABLE or_orgs (id int PRIMARY KEY, name text);
CREATE TABLE or_servers (id int PRIMARY KEY, organization_id int NOT NULL, name text);
CREATE TABLE or_apps (id int PRIMARY KEY, organization_id int NOT NULL, server_id int NOT NULL, name text);
INSERT INTO or_orgs SELECT g, 'org ' || g FROM generate_series(1, 4) g;
INSERT INTO or_servers SELECT g, 1 + g % 4, 'server ' || g FROM generate_series(1, 40) g;
INSERT INTO or_apps SELECT g, 1 + g % 4, g, 'app ' || g FROM generate_series(1, 40) g;
ANALYZE or_orgs, or_servers, or_apps;
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '2';
BEGIN;
SELECT perfaudit.start('writes by key') AS run_w \gset
-- rows of organization 2 (ids 1, 5, 9, ...): low
UPDATE or_servers SET name = 'renamed' WHERE id = 1;
UPDATE or_servers SET organization_id = 2, name = 'saved' WHERE id = 5;
DELETE FROM or_apps WHERE id = 9;
SELECT count(*) FROM or_servers WHERE id = 13;
SELECT name FROM or_servers WHERE id = 999;
-- another organization's rows: critical
UPDATE or_servers SET name = 'theirs' WHERE id = 2;
DELETE FROM or_apps WHERE id = 3;
-- moves organization 2's row into organization 4: written as 4's
UPDATE or_servers SET organization_id = 4 WHERE id = 17;
-- copies organization 3's row (read and written as 3's)
INSERT INTO or_servers (id, organization_id, name)
  SELECT 100, organization_id, name FROM or_servers WHERE id = 2;
SELECT statements FROM perfaudit.stop();
ROLLBACK;
SELECT query, tenant, calls FROM perfaudit.run_statements WHERE run_id = :run_w
 ORDER BY query COLLATE "C";
SELECT kind, severity, tenant, detail - 'table_rows' - 'nesting_level' AS detail,
       left(query, 40) AS query
  FROM perfaudit.findings WHERE run_id = :run_w ORDER BY severity DESC, query COLLATE "C";
\set VERBOSITY terse
SELECT perfaudit.assert_no_findings(run_id => :run_w) AS clean;
\set VERBOSITY default
SELECT message FROM perfaudit.findings WHERE run_id = :run_w AND kind = 'cross_tenant_access'
 ORDER BY message COLLATE "C";

-- UPDATE ... FROM and DELETE ... USING: the target's scan is below a join
-- that hands up only its rows' ctids; the rows changed are fetched by
-- them.  Organization 2's row: low; organization 3's and 4's: critical.
BEGIN;
SELECT perfaudit.start('writes through a join') AS run_wj \gset
UPDATE or_servers s SET name = o.name FROM or_orgs o WHERE o.id = s.organization_id AND s.id = 1;
UPDATE or_servers s SET name = o.name FROM or_orgs o WHERE o.id = s.organization_id AND s.id = 2;
DELETE FROM or_apps a USING or_orgs o WHERE o.id = a.organization_id AND a.id = 3;
SELECT statements FROM perfaudit.stop();
ROLLBACK;
SELECT kind, severity, tenant, detail->'observed_tenants' AS observed, left(query, 40) AS query
  FROM perfaudit.findings WHERE run_id = :run_wj ORDER BY query COLLATE "C", kind;

-- Joins: only the rows a join keeps are the statement's.  A hash join
-- reads the whole unscoped table to keep the scoped side's partners
-- (Django select_related, Rails eager_load): their tenant is observed at
-- the join's output, not every row the scan read.
SET enable_nestloop = off;
SET enable_mergejoin = off;
SELECT perfaudit.start('joins') AS run_j \gset
\o /dev/null
SELECT a.id, a.name, s.id, s.organization_id, s.name
  FROM or_apps a JOIN or_servers s ON s.id = a.server_id WHERE a.organization_id = 2;
-- the join does not output the unscoped side's tenant: not observed (high)
SELECT a.name, s.name FROM or_apps a JOIN or_servers s ON s.id = a.server_id
 WHERE a.organization_id = 2;
-- a subquery that filters: not observed (high)
SELECT name FROM or_apps a WHERE a.organization_id = 2
   AND EXISTS (SELECT 1 FROM or_servers s WHERE s.id = a.server_id AND s.name LIKE 'server%');
\o
RESET enable_nestloop;
RESET enable_mergejoin;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, left(query, 50) AS query
  FROM perfaudit.findings WHERE run_id = :run_j ORDER BY query COLLATE "C", kind;

-- Nested loops with index lookups: each lookup's row, observed where the
-- join keeps it; two unscoped tables observed each.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT perfaudit.start('nested loop') AS run_n \gset
\o /dev/null
SELECT a.id, a.organization_id, s.organization_id FROM or_apps a JOIN or_servers s ON s.id = a.server_id
 WHERE a.id IN (1, 5);
SELECT a.id, a.organization_id, s.organization_id FROM or_apps a JOIN or_servers s ON s.id = a.server_id
 WHERE a.id IN (1, 6);
\o
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, detail->'observed_tenants' AS observed, left(query, 50) AS query
  FROM perfaudit.findings WHERE run_id = :run_n ORDER BY query COLLATE "C", kind;

-- An index-only scan observes the tenant column when the index holds it;
-- the instrumented path (EXPLAIN ANALYZE) observes as the plain one.
CREATE INDEX ON or_servers (name, organization_id);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_indexscan = off;
SET perfaudit.track = 'all';
SELECT perfaudit.start('index only') AS run_io \gset
\o /dev/null
SELECT name, organization_id FROM or_servers WHERE name = 'server 1';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM or_servers WHERE name = 'server 2';
\o
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET enable_indexscan;
SELECT statements FROM perfaudit.stop();
RESET perfaudit.track;
SELECT kind, severity, tenant, detail->>'nesting_level' AS level, left(query, 50) AS query
  FROM perfaudit.findings WHERE run_id = :run_io ORDER BY query COLLATE "C", kind;

-- Rows read in parallel workers are not seen: not observed (high), never
-- a part that would look like the whole.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM or_servers WHERE name = 'server 1';
SELECT perfaudit.start('parallel') AS run_p \gset
\o /dev/null
SELECT count(*) FROM or_servers WHERE name = 'server 1';
\o
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant FROM perfaudit.findings WHERE run_id = :run_p ORDER BY kind;

-- A filter above the scan that could not be pushed into it (OFFSET 0
-- keeps a subquery's WHERE out): the rows it keeps, at its output.
SET app.org = '2';
SELECT perfaudit.start('subquery filter') AS run_sq \gset
\o /dev/null
SELECT id, name FROM (SELECT * FROM or_servers OFFSET 0) s WHERE organization_id = 2 AND id < 10;
SELECT id, name, organization_id FROM (SELECT * FROM or_servers OFFSET 0) s
 WHERE organization_id = 2 AND id < 10;
\o
-- ... but not when a node between combined every tenant's rows first (a
-- window function over all of them, then filtered to one tenant's)
SELECT id, organization_id, prev_name
  FROM (SELECT id, organization_id, lag(name) OVER (ORDER BY id) AS prev_name FROM or_servers) s
 WHERE organization_id = 2 AND id < 10;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, left(query, 40) AS query FROM perfaudit.findings WHERE run_id = :run_sq
 ORDER BY query COLLATE "C", kind;

-- Partitions: each partition's scan observed (8 hash partitions by
-- organization_id, read by primary key), and a generic plan whose
-- partitions are pruned when the executor starts observes the partitions
-- of each execution, not those of the first one.
CREATE TABLE or_hashed (id int, organization_id int NOT NULL, name text)
  PARTITION BY HASH (organization_id);
SELECT format('CREATE TABLE or_hashed_%s PARTITION OF or_hashed FOR VALUES WITH (MODULUS 8, REMAINDER %s)', r, r)
  FROM generate_series(0, 7) r \gexec
INSERT INTO or_hashed SELECT g, 1 + g % 4, 'h' || g FROM generate_series(1, 40) g;
CREATE TABLE or_ranged (id int, organization_id int NOT NULL, k int) PARTITION BY RANGE (k);
CREATE TABLE or_ranged_1 PARTITION OF or_ranged FOR VALUES FROM (0) TO (100);
CREATE TABLE or_ranged_2 PARTITION OF or_ranged FOR VALUES FROM (100) TO (200);
CREATE TABLE or_ranged_3 PARTITION OF or_ranged FOR VALUES FROM (200) TO (300);
INSERT INTO or_ranged VALUES (1, 2, 50), (2, 3, 150), (3, 2, 250);
ANALYZE or_hashed, or_ranged;
SET plan_cache_mode = force_generic_plan;
PREPARE ranged(int) AS SELECT id, k FROM or_ranged WHERE k >= $1;
SELECT perfaudit.start('partitions') AS run_pt \gset
\o /dev/null
SELECT name FROM or_hashed WHERE id = 1;
SELECT name FROM or_hashed WHERE id = 2;
EXECUTE ranged(200);
EXECUTE ranged(0);
\o
RESET plan_cache_mode;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, relation, tenant, detail->'observed_tenants' AS observed,
       detail->'table_rows' AS table_rows, left(query, 40) AS query
  FROM perfaudit.findings WHERE run_id = :run_pt ORDER BY query COLLATE "C", kind;
DEALLOCATE ranged;
-- renamed, the partitioned table is reported by its new name
ALTER TABLE or_hashed RENAME TO or_hashed_renamed;
SELECT perfaudit.start('renamed') AS run_rn \gset
\o /dev/null
SELECT name FROM or_hashed_renamed WHERE id = 1;
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, relation FROM perfaudit.findings WHERE run_id = :run_rn AND kind = 'unscoped_tenant_query';
DROP TABLE or_hashed_renamed, or_ranged;

-- The acting tenant compares in the tenant column's form: '+02' is 2, and
-- a uuid in capitals with braces is the uuid.
CREATE TABLE or_docs (id int PRIMARY KEY, organization_id uuid NOT NULL);
INSERT INTO or_docs VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
                           (2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12');
ANALYZE or_docs;
SET app.org = '{A0EEBC99-9C0B4EF8-BB6D-6BB9BD380A11}';
SELECT perfaudit.start('uuid') AS run_u \gset
\o /dev/null
SELECT * FROM or_docs WHERE id = 1;
SELECT * FROM or_docs WHERE id = 2;
SELECT * FROM or_docs WHERE organization_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, detail->>'acting_tenant' AS acting, left(query, 40) AS query
  FROM perfaudit.findings WHERE run_id = :run_u ORDER BY query COLLATE "C", kind;
SET app.org = '+02';
SELECT perfaudit.start('int') AS run_i \gset
\o /dev/null
SELECT * FROM or_servers WHERE id = 1;
SELECT * FROM or_servers WHERE organization_id = 2 AND id = 5;
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, left(query, 40) AS query
  FROM perfaudit.findings WHERE run_id = :run_i ORDER BY query COLLATE "C", kind;
-- not a value of the column's type: compared as written (another tenant)
SET app.org = 'acme';
SELECT perfaudit.start('not an int') AS run_x \gset
\o /dev/null
SELECT * FROM or_servers WHERE id = 1;
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, severity, tenant, detail->>'acting_tenant' AS acting
  FROM perfaudit.findings WHERE run_id = :run_x ORDER BY kind;
-- benchmark() with tenants: its warmup executions (not timed), each
-- acting for the tenant bound to $1, are observed.  A join whose other side
-- is each tenant's own rows: low, once every tenant was observed; a lookup
-- that reads another tenant's row: cross_tenant_access; too short a
-- warmup to observe every tenant: high, as before.
RESET app.org;
SELECT b.benchmark_id AS bench_ok FROM perfaudit.benchmark(
  'SELECT a.name, s.organization_id FROM or_apps a JOIN or_servers s ON s.id = a.server_id WHERE a.organization_id = $1',
  iterations => 8, warmup => 4, tenants => ARRAY['1', '2', '3', '4']) AS b \gset
SELECT b.benchmark_id AS bench_leak FROM perfaudit.benchmark(
  'SELECT name, organization_id FROM or_servers WHERE id = $1::int * 3',
  iterations => 8, warmup => 4, tenants => ARRAY['1', '2', '3', '4']) AS b \gset
SELECT b.benchmark_id AS bench_short FROM perfaudit.benchmark(
  'SELECT a.name, s.organization_id FROM or_apps a JOIN or_servers s ON s.id = a.server_id WHERE a.organization_id = $1',
  iterations => 8, warmup => 2, tenants => ARRAY['1', '2', '3', '4']) AS b \gset
-- a generic plan: every warmup execution observed, not only the first
SET plan_cache_mode = force_generic_plan;
SELECT b.benchmark_id AS bench_generic FROM perfaudit.benchmark(
  'SELECT name, organization_id FROM or_servers WHERE id = 1 AND $1::text IS NOT NULL',
  iterations => 2, warmup => 4, tenants => ARRAY['2', '3']) AS b \gset
RESET plan_cache_mode;
SELECT kind, severity, tenant, detail->>'acting_tenant' AS acting
  FROM perfaudit.findings WHERE benchmark_id = :bench_generic ORDER BY kind;
SELECT CASE benchmark_id WHEN :bench_ok THEN 'ok' WHEN :bench_leak THEN 'leak' ELSE 'short warmup' END AS benchmark,
       kind, severity, tenant, detail->>'acting_tenant' AS acting, detail->'observed_tenants' AS observed
  FROM perfaudit.findings WHERE benchmark_id IN (:bench_ok, :bench_leak, :bench_short)
 ORDER BY 1, kind;
RESET perfaudit.tenant_setting;
DROP TABLE or_orgs, or_servers, or_apps, or_docs;

-- COPY FROM into a tenant table: the rows it wrote, found after it by a
-- scan for this command's rows (tables up to 32 MB), the rest skipped.
CREATE TABLE or_copy (id int, organization_id int, name text);
INSERT INTO or_copy VALUES (0, 3, 'before the copy');
SET perfaudit.tenant_setting = 'app.org';
SET app.org = '2';
SELECT perfaudit.start('copy') AS run_cp \gset
BEGIN;
COPY or_copy FROM stdin;
1	2	mine
2	2	mine too
\.
COPY or_copy (id, name, organization_id) FROM stdin WITH (FORMAT csv);
3,theirs,5
4,mine,2
\.
-- with a WHERE: the rows it kept
COPY or_copy FROM stdin WHERE organization_id = 2;
5	2	kept
6	6	left out
\.
ROLLBACK;
SELECT statements FROM perfaudit.stop();
SELECT query, tenant, rows FROM perfaudit.run_statements WHERE run_id = :run_cp ORDER BY query COLLATE "C";
SELECT kind, severity, tenant, detail->'observed_tenants' AS observed, message
  FROM perfaudit.findings WHERE run_id = :run_cp;
-- no acting tenant: the rows' one tenant is the statement's
RESET app.org;
SELECT perfaudit.start('copy, no acting tenant') AS run_cp2 \gset
COPY or_copy FROM stdin;
5	7	loaded
6	7	loaded
\.
SELECT statements FROM perfaudit.stop();
SELECT tenant, rows FROM perfaudit.run_statements WHERE run_id = :run_cp2;
RESET perfaudit.tenant_setting;
DROP TABLE or_copy;
