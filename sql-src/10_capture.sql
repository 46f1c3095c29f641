-- sql-src/10_capture.sql: capture runs (start, stop, active, discard, last),
-- the assertions over stopped runs, and the writer's functions that store a run.

------------------------------------------------------------------------------
-- Capture runs
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION perfaudit.start(label text DEFAULT NULL, scope text DEFAULT 'session',
                                           tenant text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.start(text, text, text) IS
'begin a capture run of this session (scope => ''session'') or of every session of this database (scope => ''database''), acting as tenant (NULL: the session setting or tag); returns its run_id';

CREATE OR REPLACE FUNCTION perfaudit.stop()
RETURNS perfaudit.runs
AS 'MODULE_PATHNAME', 'pa_stop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.stop() IS
'end this session''s capture run, store it (outside the caller''s transaction) and return its summary';

CREATE OR REPLACE FUNCTION perfaudit.active_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_active_run'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION perfaudit.active_run() IS
'run_id of this session''s active capture run, or NULL';

CREATE OR REPLACE FUNCTION perfaudit.discard_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_discard_run'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION perfaudit.discard_run() IS
'drop this session''s active capture run without storing it; returns its run_id, or NULL if none';

CREATE OR REPLACE FUNCTION perfaudit.last_run()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pa_last_run'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION perfaudit.last_run() IS
'run_id of the capture run this session stopped last, or NULL';

------------------------------------------------------------------------------
-- Assertions over stopped runs: true, or an ERROR with SQLSTATE PA001 whose
-- message names what failed and whose DETAIL holds the numbers.
------------------------------------------------------------------------------

-- The run an assertion looks at: the given one, else this session's last.
CREATE OR REPLACE FUNCTION perfaudit._assert_run(run_id bigint)
RETURNS perfaudit.runs
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid bigint := COALESCE(_assert_run.run_id, perfaudit.last_run());
    r perfaudit.runs;
BEGIN
    IF rid IS NULL THEN
        RAISE EXCEPTION 'no capture run was stopped in this session'
            USING ERRCODE = '55000', HINT = 'Call perfaudit.stop() first, or pass run_id.';
    END IF;
    SELECT * INTO r FROM perfaudit.runs AS x WHERE x.run_id OPERATOR(pg_catalog.=) rid;
    IF NOT FOUND THEN
        -- The writer stores a run in a transaction of its own: a snapshot
        -- taken before that (REPEATABLE READ, SERIALIZABLE) cannot see it.
        IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'read committed' THEN
            RAISE EXCEPTION 'capture run % is not visible in this transaction''s snapshot', rid
                USING ERRCODE = '22023',
                      DETAIL = pg_catalog.format('The transaction is %s: its snapshot predates the stored run.',
                                                 pg_catalog.current_setting('transaction_isolation')),
                      HINT = 'Check assertions in a READ COMMITTED transaction, or after this one ends.';
        END IF;
        RAISE EXCEPTION 'capture run % does not exist or is not visible to this role', rid
            USING ERRCODE = '22023';
    END IF;
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION perfaudit.assert_max_queries(max_queries bigint, run_id bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r perfaudit.runs;
BEGIN
    IF max_queries IS NULL OR max_queries OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'max_queries must be zero or more' USING ERRCODE = '22023';
    END IF;
    r := perfaudit._assert_run(assert_max_queries.run_id);
    IF r.statements OPERATOR(pg_catalog.>) max_queries THEN
        RAISE EXCEPTION 'capture run executed more statements than allowed'
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('Run %s%s executed %s statements; at most %s allowed.',
                                             r.run_id,
                                             COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''),
                                             r.statements, max_queries);
    END IF;
    RETURN true;
END $$;

-- min_severity: with NULL kinds every kind is checked at or above it
-- (NULL: 'medium'); kinds named explicitly are checked at every severity,
-- unless min_severity is given too.  Severities: low < medium < high <
-- critical.
CREATE OR REPLACE FUNCTION perfaudit.assert_no_findings(kinds text[] DEFAULT NULL, run_id bigint DEFAULT NULL,
                                                        min_severity text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    known CONSTANT text[] := ARRAY['seq_scan', 'n_plus_one', 'repeated_query',
                                   'unscoped_tenant_query', 'cross_tenant_query', 'cross_tenant_access',
                                   'slow_query'];
    severities CONSTANT text[] := ARRAY['low', 'medium', 'high', 'critical'];
    floor_rank int;
    bad text;
    r perfaudit.runs;
    found_kinds text;
    lines text;
BEGIN
    SELECT k INTO bad FROM pg_catalog.unnest(kinds) AS k
     WHERE k IS NULL OR NOT (k OPERATOR(pg_catalog.=) ANY (known)) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown finding kind "%"', COALESCE(bad, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Known kinds: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(known, ', ') OPERATOR(pg_catalog.||) '.';
    END IF;
    IF min_severity IS NOT NULL AND NOT (min_severity OPERATOR(pg_catalog.=) ANY (severities)) THEN
        RAISE EXCEPTION 'unknown severity "%"', perfaudit._escape(min_severity)
            USING ERRCODE = '22023',
                  HINT = 'Severities, lowest first: ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(severities, ', ') OPERATOR(pg_catalog.||) '.';
    END IF;
    floor_rank := pg_catalog.array_position(severities,
                      COALESCE(min_severity, CASE WHEN kinds IS NULL THEN 'medium' ELSE 'low' END));
    r := perfaudit._assert_run(assert_no_findings.run_id);
    SELECT pg_catalog.string_agg(DISTINCT f.kind, ', ' ORDER BY f.kind),
           pg_catalog.string_agg(pg_catalog.format('%s: %s; %s', f.kind, perfaudit._escape(f.message),
                                 perfaudit._escape(pg_catalog.left(pg_catalog.regexp_replace(f.query, '\s+', ' ', 'g'), 120))),
                                 E'\n' ORDER BY f.finding_id)
      INTO found_kinds, lines
      FROM perfaudit.findings AS f
     WHERE f.run_id OPERATOR(pg_catalog.=) r.run_id
       AND (kinds IS NULL OR f.kind OPERATOR(pg_catalog.=) ANY (kinds))
       AND COALESCE(pg_catalog.array_position(severities, f.severity), 4) OPERATOR(pg_catalog.>=) floor_rank;
    IF found_kinds IS NOT NULL THEN
        RAISE EXCEPTION 'capture run has findings: %', found_kinds
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format(E'Run %s%s:\n%s', r.run_id,
                                             COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''), lines);
    END IF;
    -- Executions beyond max_run_statements were counted but not examined:
    -- the absence of findings is not proven, and must not pass silently.
    IF r.overflow OPERATOR(pg_catalog.>) 0 THEN
        RAISE EXCEPTION 'capture run is incomplete: % executions were not kept', r.overflow
            USING ERRCODE = 'PA001',
                  DETAIL = pg_catalog.format('Run %s%s kept %s of %s executions one by one; findings among the rest cannot be ruled out.',
                                             r.run_id, COALESCE(pg_catalog.format(' (%s)', perfaudit._escape(r.label)), ''),
                                             r.statements OPERATOR(pg_catalog.-) r.overflow, r.statements),
                  HINT = 'Raise perfaudit.max_run_statements for this run.';
    END IF;
    RETURN true;
END $$;

------------------------------------------------------------------------------
-- Internal: called by the writer worker only.
------------------------------------------------------------------------------

-- Stores one stopped run.  Replaces a run of the same id, so that a stop()
-- retried after an error cannot store it twice.
-- The findings of a stored run or benchmark (a JSON array of rows).
CREATE OR REPLACE FUNCTION perfaudit._store_findings(findings jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO perfaudit.findings (run_id, benchmark_id, kind, severity, relation, queryid, tenant,
                                    calls, total_ms, query, message, suggestion, detail, userid)
    SELECT f.run_id, f.benchmark_id, f.kind, f.severity, f.relation, f.queryid, f.tenant,
           f.calls, f.total_ms, f.query, f.message, f.suggestion, f.detail, f.userid
      FROM pg_catalog.jsonb_populate_recordset(NULL::perfaudit.findings, findings) AS f;
$$;

REVOKE ALL ON FUNCTION perfaudit._store_findings(jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION perfaudit._store_run(doc jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    -- The same run stored again (a stop() retried after a timeout) replaces
    -- itself; another run with the same id is a unique violation, never lost.
    DELETE FROM perfaudit.runs
     WHERE run_id OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint
       AND pid OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'pid')::int
       AND started_at OPERATOR(pg_catalog.=) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'started_at')::timestamptz;
    -- A run started before DROP and CREATE EXTENSION carries an id of the
    -- old sequence: move the new one past it, so that no later run collides.
    SELECT pg_catalog.setval('perfaudit.runs_run_id_seq',
                             (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint)
      FROM perfaudit.runs_run_id_seq
     WHERE last_value OPERATOR(pg_catalog.<) (doc OPERATOR(pg_catalog.->) 'run' OPERATOR(pg_catalog.->>) 'run_id')::bigint;
    INSERT INTO perfaudit.runs
    SELECT * FROM pg_catalog.jsonb_populate_record(NULL::perfaudit.runs, doc OPERATOR(pg_catalog.->) 'run');
    INSERT INTO perfaudit.run_statements
    SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::perfaudit.run_statements, doc OPERATOR(pg_catalog.->) 'statements');
    SELECT perfaudit._store_findings(doc OPERATOR(pg_catalog.->) 'findings');
$$;

REVOKE ALL ON FUNCTION perfaudit._store_run(jsonb) FROM PUBLIC;
