-- The stored shape has one owner (src/store.c): a row the library returns
-- names every column it fills, and a row type that lacks one, or has it
-- with another type, is an error -- never a silent NULL.
SELECT perfaudit.start('store shape') > 0 AS started;
SELECT 1 AS one;
ALTER TABLE perfaudit.runs RENAME COLUMN track TO track_renamed;
SELECT pa_error_of('SELECT perfaudit.stop()');
ALTER TABLE perfaudit.runs RENAME COLUMN track_renamed TO track;
ALTER TABLE perfaudit.runs ALTER COLUMN pid TYPE bigint;
SELECT pa_error_of('SELECT perfaudit.stop()');
ALTER TABLE perfaudit.runs ALTER COLUMN pid TYPE int;
-- The run stayed active and closed; stop() stores it and returns it.
SELECT label, statements, track, pid = pg_backend_pid() AS own_pid FROM perfaudit.stop();
SELECT count(*) AS stored FROM perfaudit.runs WHERE label = 'store shape';
SELECT perfaudit.active_run() IS NULL AS no_run_left;
