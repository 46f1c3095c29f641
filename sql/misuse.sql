-- Errors on misuse, with their SQLSTATEs.
SELECT perfaudit.active_run() IS NULL AS no_run;
SELECT pa_error_of('SELECT perfaudit.stop()') AS stop_without_start;
SELECT pa_error_of($$SELECT perfaudit.start(scope => 'galaxy')$$) AS bad_scope;
SELECT pa_error_of($$SELECT perfaudit.start(scope => NULL)$$) AS null_scope;
SELECT perfaudit.active_run() IS NULL AS still_no_run;

-- A second start() names the active run.
SELECT perfaudit.start('first') AS run_first \gset
SELECT regexp_replace(pa_error_of($$SELECT perfaudit.start('second')$$),
                      'run [0-9]+', 'run N') AS start_twice;
SELECT perfaudit.active_run() = :run_first AS first_still_active;
SELECT label FROM perfaudit.stop();

-- The plain error text, as psql shows it.
\set VERBOSITY default
SELECT perfaudit.stop();
SELECT perfaudit.start(scope => 'galaxy');

-- Scope is case-insensitive; labels are free text (quotes included).
SELECT perfaudit.start($$it's "quoted"$$, 'SESSION') IS NOT NULL AS started;
SELECT label, scope FROM perfaudit.stop();

-- Settings reject out-of-range values.
SET perfaudit.n_plus_one_threshold = 1;
SET perfaudit.track = 'sometimes';
SET perfaudit.max_run_statements = 10;
