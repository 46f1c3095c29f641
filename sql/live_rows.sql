-- seq_scan sizes a table that was never analyzed by its live rows (the
-- cumulative statistics, with this backend's unreported and in-transaction
-- changes), never by its size in blocks: the dead space that rolled-back
-- work of an earlier test left must not turn a 20-row table into a big one.
SET perfaudit.seq_scan_min_rows = 1000;
CREATE TABLE lr_small (id int, organization_id int, v text) WITH (autovacuum_enabled = off);
INSERT INTO lr_small SELECT g, 1, 'x' FROM generate_series(1, 20) g;
BEGIN;
INSERT INTO lr_small SELECT g, 1, 'x' FROM generate_series(21, 5020) g;
ROLLBACK;
SELECT reltuples < 0 AS never_analyzed, pg_relation_size('lr_small') / 8192 AS blocks
  FROM pg_class WHERE relname = 'lr_small';
CREATE TABLE lr_big (id int, organization_id int, v text) WITH (autovacuum_enabled = off);
INSERT INTO lr_big SELECT g, 1, 'x' FROM generate_series(1, 5000) g;

SELECT perfaudit.start('live rows') > 0 AS started;
SELECT count(*) FROM lr_small WHERE v = 'y';
SELECT count(*) FROM lr_big WHERE v = 'y';
BEGIN;
SAVEPOINT s;
INSERT INTO lr_small SELECT g, 1, 'x' FROM generate_series(21, 3020) g;
SELECT count(*) FROM lr_small WHERE id = 0;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM lr_small WHERE id = -1;
COMMIT;
SELECT statements FROM perfaudit.stop();
-- lr_small: no finding at 20 rows, one at 3,020 (the insert in this
-- transaction counts), none once it is rolled back; lr_big: 5,000 rows.
SELECT relation, message FROM perfaudit.findings
 WHERE run_id = perfaudit.last_run() AND kind = 'seq_scan'
 ORDER BY relation, message;
RESET perfaudit.seq_scan_min_rows;
DROP TABLE lr_small, lr_big;
