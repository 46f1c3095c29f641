-- Texts that leave a bound or a report (issue 14): every text cut to fit a
-- buffer is cut at a character boundary, and reports print no control
-- character a label, tenant or name carries.
SET perfaudit.track = 'top';

--
-- Reports.  A label, tenant tags (URL-decoded: %0A is a newline) and a
-- table name carrying newlines, a carriage return, ESC, BEL, a tab and a
-- fake "Findings (0)" line.
--
CREATE TABLE "evil
Findings (0)" (i int);
INSERT INTO "evil
Findings (0)" SELECT g FROM generate_series(1, 2000) g;
ANALYZE "evil
Findings (0)";
SELECT perfaudit.start(E'forged\nFindings (0)\n  none\\') IS NOT NULL AS started;
/* tenant='t1%0AFindings (0)%0A  none' */ SELECT count(*) FROM items WHERE organization_id = 1;
/* tenant='t2%0D%1B[2Kx%07%09y' */ SELECT count(*) FROM "evil
Findings (0)";
SELECT run_id AS forged_run FROM perfaudit.stop() \gset

-- One line per line of the report, each free of control characters; the
-- escapes show what was there.
-- (tenants come slowest first: timing decides, so the lines are compared sorted)
SELECT line FROM (
    SELECT regexp_replace(r.line, '[0-9]+\.[0-9]+ ms|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ \.\. [0-9:]+|run [0-9]+', '#', 'g') AS line
      FROM perfaudit.report(:forged_run) AS r(line)
     WHERE r.line <> '') AS l
 ORDER BY line COLLATE "C";
SELECT count(*) FILTER (WHERE r.line ~ '[\x01-\x1f\x7f]') AS lines_with_controls,
       count(*) FILTER (WHERE r.line LIKE 'Findings (%') AS findings_headers
  FROM perfaudit.report(:forged_run) AS r(line);

-- report_json() is jsonb: its text escapes them as JSON does.
SELECT d -> 'run' -> 'label' AS label,
       (SELECT jsonb_agg(t -> 'tenant' ORDER BY t ->> 'tenant' COLLATE "C") FROM jsonb_array_elements(d -> 'tenants') t) AS tenants,
       d::text ~ '[\x01-\x1f\x7f]' AS raw_controls
  FROM perfaudit.report_json(:forged_run) AS d;

-- report_html(): markup escaped, and no control character but white space.
SELECT h ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' AS html_controls,
       strpos(h, 't2' || E'\r' || '\x1b[2Kx\x07' || E'\t' || 'y') > 0 AS tenant_escaped,
       strpos(h, E'&quot;forged\nFindings (0)\n  none\\&quot;') > 0 AS title_kept
  FROM perfaudit.report_html(:forged_run) AS h;

-- The assertions' errors, which CI logs print too: the label, finding
-- messages and statements in the detail are escaped as well.
CREATE FUNCTION pa_detail_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END $$;
SELECT strpos(d, E'(forged\\nFindings (0)\\n  none\\\\)') > 0 AS label_escaped,
       d !~ E'\nFindings \\(0\\)' AS no_forged_line,
       d ~ E'\n' AS has_finding_lines
  FROM pa_detail_of(format('SELECT perfaudit.assert_no_findings(NULL, %s)', :forged_run)) AS d;

CREATE FUNCTION pa_message_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END $$;
SELECT d !~ E'\nFindings \\(0\\)' AS max_queries_no_forged_line
  FROM pa_detail_of(format('SELECT perfaudit.assert_max_queries(0, %s)', :forged_run)) AS d;
SELECT m AS seq_scan_message, m !~ E'\n' AS seq_scan_one_line
  FROM pa_message_of(E'SELECT perfaudit.assert_no_seq_scan(''SELECT i FROM "evil\nFindings (0)" WHERE i = 5'')') AS m;

-- The writer's storing function refuses values import_baseline() would
-- (a 0.1.0 installation's _persist_baseline() reaches it unchecked).
SELECT pa_message_of($$SELECT perfaudit._store_baseline('{"userid": 10, "baseline": {"name": "nan", "metrics": [{"metric": "m", "value": "NaN"}]}}')$$);
SELECT pa_message_of($$SELECT perfaudit._store_baseline('{"userid": 10, "baseline": {"name": "inf", "recorded_at": "infinity", "metrics": [{"metric": "m", "value": 1}]}}')$$);

-- _escape() on its own.
SELECT perfaudit._escape(E'a\\b\nc\rd\te\x01f\x1fg\x7fh') AS escaped,
       perfaudit._escape(E'a\\b\nc\rd\te\x01f', true) AS for_html,
       perfaudit._escape(NULL) IS NULL AS strict;

--
-- Labels are bounded: 1000 bytes, as baseline names.
--
SELECT pa_error_of($$SELECT perfaudit.start(repeat('x', 1001))$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark('SELECT 1', 1, 0, label => repeat('x', 1001))$$);
SELECT pa_error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 1, 1, label => repeat('x', 1001))$$);
SELECT pa_error_of($$SELECT perfaudit.save_baseline(repeat('x', 1001))$$);
SELECT perfaudit.active_run() IS NULL AS no_run_started;
SELECT perfaudit.start(repeat('x', 1000)) IS NOT NULL AS at_the_bound;
SELECT perfaudit.discard_run() IS NOT NULL AS discarded;
SELECT perfaudit.start(repeat('x', 5000000));
-- A label stored before the bound (0.1.0 had none) is shown cut.
UPDATE perfaudit.runs SET label = repeat('y', 2000000) WHERE run_id = :forged_run;
SELECT octet_length(h) < 100000 AS html_bounded FROM perfaudit.report_html(:forged_run) AS h;
SELECT max(octet_length(l)) < 1100 AS text_bounded FROM perfaudit.report(:forged_run) AS l;
DELETE FROM perfaudit.runs WHERE run_id = :forged_run;
DROP TABLE "evil
Findings (0)";

--
-- Character boundaries, in a UTF8 database whatever the server's default.
--
\set regress_db :DBNAME
CREATE DATABASE pa_text_utf8 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c pa_text_utf8
SET client_min_messages = warning;
CREATE EXTENSION pg_perfaudit;
RESET client_min_messages;
SET perfaudit.track = 'top';
SELECT getdatabaseencoding();

SELECT perfaudit.start('clip' || chr(133) || chr(155) || chr(8232) || chr(8238) || chr(8294) || 'end') IS NOT NULL AS started;
-- A statement of more than 4,096 bytes whose 4,096th byte is the first of a
-- two-byte character: "SELECT octet_length('" is 21 bytes, then 4,072 a,
-- then e-acute (U+00E9, two bytes) from the 4,094th byte: the first 4,096
-- bytes end with the first byte of the second e-acute.  (The statements
-- \gexec runs are not echoed: they are long.)
\set ECHO none
SELECT format('SELECT octet_length(%L) AS long_literal', repeat('a', 4072) || repeat(chr(233), 50)) \gexec
-- A tenant tag of 200 e-acute, URL-encoded: kept as 31 of them (62 bytes).
SELECT format('/* tenant=''%s'' */ SELECT 1 AS long_tenant', repeat('%C3%A9', 200)) \gexec
\set ECHO all
SELECT run_id AS clip_run FROM perfaudit.stop() \gset

SELECT octet_length(query) AS bytes, length(query) AS characters,
       right(query, 1) = chr(233) AS ends_with_a_whole_character,
       convert_from(convert_to(query, 'UTF8'), 'UTF8') = query AS round_trip
  FROM perfaudit.run_statements
 WHERE run_id = :clip_run AND query LIKE 'SELECT octet_length(%';
SELECT octet_length(tenant) AS tenant_bytes, length(tenant) AS tenant_characters,
       tenant = repeat(chr(233), 31) AS tenant_whole
  FROM perfaudit.run_statements
 WHERE run_id = :clip_run AND query LIKE '/*%long_tenant%';

-- C1 controls, U+2028 and bidirectional controls (U+202E, U+2066) are
-- escaped in a UTF8 database; other characters are not.
SELECT regexp_replace(l, 'run [0-9]+', 'run #') AS first_line
  FROM perfaudit.report(:clip_run) AS l LIMIT 1;
SELECT perfaudit._escape(chr(8364) || chr(8239) || chr(233) || chr(8231) || chr(8298))
       = chr(8364) || chr(8239) || chr(233) || chr(8231) || chr(8298) AS others_kept;

-- The writer's error, copied into 256 bytes of shared memory: a trigger
-- makes it fail with 200 e-acute (400 bytes); 255 bytes would end inside
-- the 128th.
CREATE FUNCTION pa_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', repeat(chr(233), 200);
END $$;
CREATE TRIGGER pa_refuse BEFORE INSERT ON perfaudit.baselines
    FOR EACH ROW EXECUTE FUNCTION pa_refuse();
CREATE FUNCTION pa_writer_error(rid bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    PERFORM perfaudit.save_baseline('refused', rid);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN format('%s: %s; detail: %s bytes, %s characters, ends with a whole one: %s',
                  SQLSTATE, SQLERRM, octet_length(d), length(d), right(d, 1) = chr(233));
END $$;
SELECT pa_writer_error(:clip_run);

\c :regress_db
DROP DATABASE pa_text_utf8 WITH (FORCE);
