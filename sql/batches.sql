-- N+1 precision: reading a table in keyset batches (Rails find_each, a
-- Django filter(id__gt=last).order_by('id')[:n] loop) is not an N+1; a
-- loop over a foreign key is, and so is a loop of writes (named as such).
CREATE TABLE batch_items (id int PRIMARY KEY, organization_id int, parent_id int, name text);
INSERT INTO batch_items SELECT g, 1, g % 7, 'item ' || g FROM generate_series(1, 250) g;
ANALYZE batch_items;
CREATE INDEX ON batch_items (parent_id);
PREPARE find_each(int, int) AS
    SELECT * FROM batch_items WHERE id > $1 ORDER BY id LIMIT $2;
PREPARE children(int) AS SELECT * FROM batch_items WHERE parent_id = $1;
PREPARE few(int) AS SELECT * FROM batch_items WHERE id > $1 ORDER BY id LIMIT 1000;
PREPARE save(int) AS INSERT INTO batch_items VALUES ($1, 1, 0, 'new');
SELECT perfaudit.start('batches') AS run_b \gset
\o /dev/null
-- find_each(batch_size: 50): five full batches and the empty last one
EXECUTE find_each(0, 50);
EXECUTE find_each(50, 50);
EXECUTE find_each(100, 50);
EXECUTE find_each(150, 50);
EXECUTE find_each(200, 50);
EXECUTE find_each(250, 50);
-- the same with the LIMIT written in the text, as Django slices
SELECT * FROM batch_items WHERE id > 0 ORDER BY id LIMIT 60;
SELECT * FROM batch_items WHERE id > 60 ORDER BY id LIMIT 60;
SELECT * FROM batch_items WHERE id > 120 ORDER BY id LIMIT 60;
SELECT * FROM batch_items WHERE id > 180 ORDER BY id LIMIT 60;
SELECT * FROM batch_items WHERE id > 240 ORDER BY id LIMIT 60;
-- an N+1 over a foreign key
EXECUTE children(1); EXECUTE children(2); EXECUTE children(3);
EXECUTE children(4); EXECUTE children(5); EXECUTE children(6);
-- the keyset shape, but no batch is ever full: a loop after all
EXECUTE few(240); EXECUTE few(241); EXECUTE few(242);
EXECUTE few(243); EXECUTE few(244); EXECUTE few(245);
\o
-- 6 x save()
EXECUTE save(1001); EXECUTE save(1002); EXECUTE save(1003);
EXECUTE save(1004); EXECUTE save(1005); EXECUTE save(1006);
SELECT statements FROM perfaudit.stop();
SELECT left(query, 45) AS query, calls, detail->>'operation' AS operation,
       message LIKE '%of writes' AS writes_named
  FROM perfaudit.findings
 WHERE run_id = :run_b AND kind = 'n_plus_one' ORDER BY query COLLATE "C";
-- The rule's setting: off, batches are loops again.
SET perfaudit.ignore_batched_reads = off;
SELECT perfaudit.start('batches, rule off') AS run_b2 \gset
\o /dev/null
SELECT format('EXECUTE find_each(%s, 50)', g) FROM generate_series(0, 200, 50) g \gexec
\o
SELECT statements FROM perfaudit.stop();
SELECT left(query, 45) AS query, calls FROM perfaudit.findings
 WHERE run_id = :run_b2 AND kind = 'n_plus_one';
RESET perfaudit.ignore_batched_reads;
DEALLOCATE ALL;
DROP TABLE batch_items;
