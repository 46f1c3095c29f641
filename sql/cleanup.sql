-- Last test: remove what the suite created.
SELECT perfaudit.active_run() IS NULL AS no_run_left;
DROP OWNED BY pa_alice, pa_bob, pa_carol;
DROP ROLE pa_alice, pa_bob, pa_carol;
DROP EXTENSION pg_perfaudit;
SELECT count(*) AS leftover FROM pg_namespace WHERE nspname = 'perfaudit';
-- and it installs again
CREATE EXTENSION pg_perfaudit;
DROP EXTENSION pg_perfaudit;
