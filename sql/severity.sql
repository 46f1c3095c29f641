-- assert_no_findings(kinds, run_id, min_severity): severities are ordered
-- low < medium < high < critical; with no kinds named, every kind at or
-- above 'medium' fails the assertion; kinds named are checked at every
-- severity, unless min_severity is given too.
CREATE TABLE sev_items (id int PRIMARY KEY, name text);  -- no tenant column
INSERT INTO sev_items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
SELECT perfaudit.start('low only') AS run_low \gset
SELECT name FROM sev_items WHERE id = 1;
SELECT name FROM sev_items WHERE id = 1;
SELECT name FROM sev_items WHERE id = 1;
SELECT name FROM sev_items WHERE id = 1;
SELECT name FROM sev_items WHERE id = 1;
SELECT statements FROM perfaudit.stop();
SELECT kind, severity FROM perfaudit.findings WHERE run_id = :run_low;
SELECT perfaudit.assert_no_findings() AS default_passes;
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings(ARRAY['repeated_query'])$$) AS named_kind_fails;
SELECT perfaudit.assert_no_findings(ARRAY['repeated_query'], NULL, 'medium') AS named_kind_medium_passes;
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings(min_severity => 'low')$$) AS low_fails;
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings(min_severity => 'severe')$$) AS unknown;

SELECT perfaudit.start('medium') AS run_med \gset
\o /dev/null
SELECT format('SELECT name FROM sev_items WHERE id = %s', id)
  FROM sev_items ORDER BY id LIMIT 6 \gexec
\o
SELECT statements FROM perfaudit.stop();
SELECT kind, severity FROM perfaudit.findings WHERE run_id = :run_med ORDER BY kind;
SELECT pa_error_of($$SELECT perfaudit.assert_no_findings()$$) AS default_fails;
SELECT perfaudit.assert_no_findings(min_severity => 'high') AS high_passes;
DROP TABLE sev_items;
