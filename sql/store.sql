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
-- Refused before anything was stored: the run is still active and open.
SELECT count(*) AS stored_before FROM perfaudit.runs WHERE label = 'store shape';
SELECT perfaudit.active_run() IS NOT NULL AS still_active;
SELECT label, statements, track, pid = pg_backend_pid() AS own_pid FROM perfaudit.stop();
SELECT count(*) AS stored FROM perfaudit.runs WHERE label = 'store shape';
SELECT perfaudit.active_run() IS NULL AS no_run_left;
