-- sql-src/upgrade/0.1.0--0.2.0.sql: what ALTER EXTENSION pg_perfaudit
-- UPDATE from 0.1.0 changes beyond the code.
--
-- The Makefile builds pg_perfaudit--0.1.0--0.2.0.sql from this file followed
-- by the code parts of the install script (sql-src/10_*.sql onwards: every
-- function as CREATE OR REPLACE, views as CREATE OR REPLACE VIEW, their
-- privileges and comments), so a function is written once, in its part,
-- and an upgraded database gets exactly what a fresh install has (checked
-- by test/t/014_upgrade.pl, which compares the two catalogs).  Here: the
-- changes to the tables (sql-src/00_schema.sql holds the current ones) and
-- the objects 0.2.0 no longer has.  When 0.2.0 is released this script is
-- frozen as built into versions/, and the next version's upgrade starts
-- a file of its own.

\echo Use "ALTER EXTENSION pg_perfaudit UPDATE TO '0.2.0'" to load this file. \quit

-- Per-tenant latency distribution of a run (written by stop() from 0.2.0).
ALTER TABLE perfaudit.runs ADD COLUMN tenant_latency jsonb;

-- Baselines are visible like runs: own, roles one is a member of, or all
-- with pg_read_all_stats; names are limited to 1000 bytes.
ALTER TABLE perfaudit.baselines ENABLE ROW LEVEL SECURITY;

CREATE POLICY baselines_visible ON perfaudit.baselines FOR SELECT
    USING (pg_catalog.pg_has_role(userid, 'USAGE')
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'));

-- save_baseline() and import_baseline() are C functions: they check the
-- name and who owns it past row-level security (no SECURITY DEFINER
-- function tells anyone a baseline's owner), and only they reach the
-- writer; the storing function is gone, the checks are not for PUBLIC.
DROP FUNCTION perfaudit._check_baseline_owner(text);

DROP FUNCTION perfaudit._persist_baseline(jsonb);

-- assert_no_findings() takes min_severity: the two-argument form goes (the
-- code parts create the new one; a second overload would make calls with
-- fewer arguments ambiguous).
DROP FUNCTION perfaudit.assert_no_findings(text[], bigint);

-- start() takes the acting tenant: the two-argument form goes.
DROP FUNCTION perfaudit.start(text, text);
