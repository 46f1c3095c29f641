-- assert_no_memory_growth(), baselines (save, export, import round trip),
-- assert_no_regression(), report() and report_json().

-- Memory: a steady statement passes, a leaking one is caught.
SELECT perfaudit.assert_no_memory_growth('SELECT count(*) FROM items WHERE organization_id = 3');
CREATE SEQUENCE leak_seq;
CREATE FUNCTION leak_a_prepared_statement() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    -- every call keeps one more prepared statement in the session
    EXECUTE format('PREPARE leak_%s AS SELECT %s', nextval('leak_seq'), 1);
    RETURN 1;
END $$;
SELECT pa_error_of($$SELECT perfaudit.assert_no_memory_growth('SELECT leak_a_prepared_statement()', 500, 65536)$$);
SELECT memory_growth_bytes > 65536 AS grew, cardinality(memory_samples) AS checkpoints,
       memory_samples[1] < memory_samples[10] AS grew_steadily
  FROM perfaudit.benchmarks WHERE label = 'assert_no_memory_growth' ORDER BY benchmark_id DESC LIMIT 1;
DEALLOCATE ALL;
SELECT pa_error_of($$SELECT perfaudit.assert_no_memory_growth('SELECT 1', 1)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_memory_growth('SELECT 1', 100, -1)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_memory_growth('SELECT 1', NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_memory_growth('VACUUM')$$);

-- A baseline from a run and a labelled benchmark.
-- (earlier tests' labelled benchmarks would join the baseline: start clean)
DELETE FROM perfaudit.benchmarks;
SELECT perfaudit.start('baseline workload') IS NOT NULL AS started;
SELECT count(*) FROM items WHERE organization_id = 3;
SELECT name FROM items WHERE id = 42;
SELECT run_id AS base_run FROM perfaudit.stop() \gset
SELECT benchmark_id IS NOT NULL AS benchmarked
  FROM perfaudit.benchmark('SELECT count(*) FROM items WHERE organization_id = $1', 20, 2,
                           ARRAY['1', '2'], 'items by org');
SELECT perfaudit.save_baseline('ci') AS metrics_saved;
SELECT metric, count(*) FROM perfaudit.baselines WHERE name = 'ci' GROUP BY metric ORDER BY metric;
SELECT value FROM perfaudit.baselines WHERE name = 'ci' AND metric = 'run.statements';

-- The same workload passes.
SELECT perfaudit.assert_no_regression('ci');

-- Export and import: the round trip keeps every metric exactly.
SELECT perfaudit.export_baseline('ci') AS doc \gset
SELECT (:'doc'::jsonb) ->> 'name' AS name, jsonb_array_length((:'doc'::jsonb) -> 'metrics') AS metrics;
SELECT perfaudit.import_baseline(jsonb_set(:'doc'::jsonb, '{name}', '"ci copy"'));
SELECT count(*) AS differing FROM perfaudit.baselines a
  FULL JOIN (SELECT * FROM perfaudit.baselines WHERE name = 'ci copy') b USING (metric, key)
 WHERE a.name = 'ci' AND (a.value IS DISTINCT FROM b.value OR a.recorded_at IS DISTINCT FROM b.recorded_at);
-- importing again replaces, not duplicates
SELECT perfaudit.import_baseline(jsonb_set(:'doc'::jsonb, '{name}', '"ci copy"'));
SELECT count(*) = (SELECT count(*) FROM perfaudit.baselines WHERE name = 'ci') AS replaced
  FROM perfaudit.baselines WHERE name = 'ci copy';

-- A worse run fails: one more statement, a statement run twice.
SELECT perfaudit.start('regressed workload') IS NOT NULL AS started;
SELECT count(*) FROM items WHERE organization_id = 3;
SELECT count(*) FROM items WHERE organization_id = 3;
SELECT name FROM items WHERE id = 42;
SELECT run_id AS worse_run FROM perfaudit.stop() \gset
-- (noise_ms 1000: only the count metrics decide, whatever the machine's
-- speed; under valgrind the time metrics are over the default 1 ms too)
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', 1.25, NULL, 1000)$$);
-- a generous tolerance passes; the old run still passes
SELECT perfaudit.assert_no_regression('ci', 3.0, NULL, 1000);
SELECT perfaudit.assert_no_regression('ci', 1.25, :base_run);
-- a benchmark that got slower fails even with run metrics equal
SELECT perfaudit.import_baseline(jsonb_build_object('name', 'fast bench', 'metrics',
    jsonb_build_array(jsonb_build_object('metric', 'benchmark.shared_blks_per_call', 'key', 'items by org', 'value', 0.5))));
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('fast bench')$$);
-- time metrics below noise_ms never fail (1000 ms: slow machines, valgrind)
SELECT perfaudit.import_baseline(jsonb_build_object('name', 'tiny', 'metrics',
    jsonb_build_array(jsonb_build_object('metric', 'benchmark.p50_ms', 'key', 'items by org', 'value', 0.000001))));
SELECT perfaudit.assert_no_regression('tiny', 1.25, NULL, 1000);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('tiny', 1.25, NULL, 0)$$);
-- a benchmark label with no current result: a warning, not a failure
SELECT perfaudit.import_baseline(jsonb_build_object('name', 'gone', 'metrics',
    jsonb_build_array(jsonb_build_object('metric', 'benchmark.p50_ms', 'key', 'no such label', 'value', 1))));
SELECT perfaudit.assert_no_regression('gone');

-- Survives the caller's rollback, like runs.
BEGIN;
SELECT perfaudit.save_baseline('in a rolled back test', :base_run) > 0 AS saved;
ROLLBACK;
SELECT count(*) > 0 AS kept FROM perfaudit.baselines WHERE name = 'in a rolled back test';

-- Bad arguments and documents.
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('no such baseline')$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression(NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', 0)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', -1)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', 'NaN')$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', 1.25, NULL, -1)$$);
SELECT pa_error_of($$SELECT perfaudit.assert_no_regression('ci', 1.25, 999999)$$);
SELECT pa_error_of($$SELECT perfaudit.save_baseline('')$$);
SELECT pa_error_of($$SELECT perfaudit.save_baseline(NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.save_baseline('x', 999999)$$);
SELECT pa_error_of($$SELECT perfaudit.export_baseline('no such baseline')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline(NULL)$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('[1, 2]')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"metrics": []}')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "x", "metrics": []}')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "x", "metrics": [{"metric": "run.statements", "value": "ten"}]}')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "x", "metrics": [{"metric": "a", "value": 1}, {"metric": "a", "value": 2}]}')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "x", "recorded_at": "yesterday-ish", "metrics": [{"metric": "a", "value": 1}]}')$$);
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "", "metrics": [{"metric": "a", "value": 1}]}')$$);

-- Another role cannot replace the baseline.
CREATE ROLE pa_baseline_other;
SET ROLE pa_baseline_other;
SELECT pa_error_of($$SELECT perfaudit.import_baseline('{"name": "ci", "metrics": [{"metric": "a", "value": 1}]}')$$);
SELECT pa_error_of($$SELECT perfaudit._baseline_from_doc('{"name": "ci", "metrics": [{"metric": "a", "value": 1}]}')$$);
RESET ROLE;
SELECT count(*) > 1 AS ci_intact FROM perfaudit.baselines WHERE name = 'ci';

-- Reports: the run, its slowest statements per tenant, findings with suggestions.
SELECT perfaudit.start('report me') IS NOT NULL AS started;
SELECT name FROM items WHERE organization_id = 3 AND id = 3;
SELECT id FROM items WHERE organization_id = 4 LIMIT 1;
SELECT count(*) FROM items;   -- unscoped: a finding
SELECT run_id AS rep_run FROM perfaudit.stop() \gset
-- (tenants come slowest first: timing decides, so the lines are compared sorted)
SELECT regexp_replace(r.line, '[0-9]+\.[0-9]+ ms|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ \.\. [0-9:]+|run [0-9]+', '#', 'g') AS line
  FROM perfaudit.report(:rep_run) AS r(line)
 WHERE r.line <> '' ORDER BY 1;
SELECT d ->> 'pg_perfaudit_report' AS version,
       d -> 'run' ->> 'label' AS label,
       jsonb_array_length(d -> 'tenants') AS tenants,
       (SELECT array_agg(t ->> 'tenant' ORDER BY t ->> 'tenant') FROM jsonb_array_elements(d -> 'tenants') t) AS tenant_list,
       jsonb_array_length(d -> 'findings') = (d -> 'run' ->> 'findings')::int AS all_findings,
       d -> 'findings' -> 0 ->> 'kind' AS first_kind,
       d -> 'findings' -> 0 ->> 'suggestion' IS NOT NULL AS has_suggestion
  FROM perfaudit.report_json(:rep_run) AS d;
-- default: this session's last run
SELECT perfaudit.report_json() -> 'run' ->> 'label' AS label;
SELECT pa_error_of($$SELECT perfaudit.report(999999)$$);

-- report_html(): one self-contained page (no script, nothing fetched), one
-- latency chart per tenant, every finding, and text from the statements
-- escaped: a statement carrying markup cannot inject it into the page.
SELECT perfaudit.start('<b>html</b> & "quotes"') IS NOT NULL AS started;
SELECT name FROM items WHERE organization_id = 5 AND name = '<script>alert(1)</script>';
SELECT count(*) FROM items;
SELECT run_id AS html_run FROM perfaudit.stop() \gset
SELECT h LIKE '<!DOCTYPE html>%' AS doctype,
       h LIKE '%</html>' || E'\n' AS complete,
       h !~* '<script|src=|href=|@import|url\(' AS self_contained,
       (length(h) - length(replace(h, '<svg class="hist"', ''))) / length('<svg class="hist"') =
           (SELECT jsonb_array_length(tenant_latency) FROM perfaudit.runs WHERE run_id = :html_run) AS chart_per_tenant,
       (length(h) - length(replace(h, 'class="card finding', ''))) / length('class="card finding') =
           (SELECT findings FROM perfaudit.runs WHERE run_id = :html_run) AS card_per_finding,
       h LIKE '%&lt;script&gt;alert(1)&lt;/script&gt;%' AS statement_escaped,
       h LIKE '%&lt;b&gt;html&lt;/b&gt; &amp; &quot;quotes&quot;%' AS label_escaped
  FROM perfaudit.report_html(:html_run) AS h;
SELECT pa_error_of($$SELECT perfaudit.report_html(999999)$$);

DROP FUNCTION leak_a_prepared_statement();
DROP SEQUENCE leak_seq;
DROP ROLE pa_baseline_other;
