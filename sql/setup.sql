-- First test: install the extension and a small multi-tenant fixture.
CREATE EXTENSION pg_perfaudit;
CREATE EXTENSION pg_stat_statements;

SELECT extversion IS NOT NULL AS installed FROM pg_extension WHERE extname = 'pg_perfaudit';

-- Objects of the extension, in a stable order.
SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'perfaudit'
 ORDER BY p.proname COLLATE "C", 2;
SELECT c.relname, c.relkind, c.relrowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'perfaudit' AND c.relkind IN ('r', 'S')
 ORDER BY c.relname COLLATE "C";

-- Settings are defined and reserved.
SELECT name, setting, context FROM pg_settings
 WHERE name LIKE 'perfaudit.%' ORDER BY name COLLATE "C";
SET perfaudit.no_such_setting = 1;

CREATE TABLE items (
    id int PRIMARY KEY,
    organization_id int NOT NULL,
    name text NOT NULL
);
INSERT INTO items SELECT g, g % 20, 'item ' || g FROM generate_series(1, 2000) g;
ANALYZE items;

-- Runs an SQL string and returns its error as 'SQLSTATE: message'.
CREATE FUNCTION pa_error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
