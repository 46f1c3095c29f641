-- sql-src/50_reports.sql: the reports: report_json(), report() (text) and
-- report_html() with its HTML helpers.

------------------------------------------------------------------------------
-- Reports
--
-- report_json() is the document (version 1, described in the README);
-- report() renders the same document as text for psql.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION perfaudit.report_json(run_id bigint DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r perfaudit.runs;
BEGIN
    r := perfaudit._assert_run(report_json.run_id);
    RETURN jsonb_build_object(
        'pg_perfaudit_report', 1,
        -- row_to_json()::jsonb, not to_jsonb() of the row: 15's to_jsonb() of
        -- a composite keeps pointers to the column names of a row type
        -- descriptor it has already released, and a cache invalidation
        -- while it runs (debug_discard_caches = 1 shows it every time)
        -- leaves freed memory as the keys.
        'run', row_to_json(r)::jsonb - 'userid' || jsonb_build_object('role', r.userid::regrole::text),
        'tenants', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'tenant', t.tenant, 'statements', t.stmts, 'calls', t.calls,
                       'total_ms', t.total_ms, 'max_ms', t.max_ms, 'slowest', t.slowest)
                   ORDER BY t.total_ms DESC, t.tenant)
              FROM (SELECT s.tenant, count(*) AS stmts, sum(s.calls) AS calls,
                           sum(s.total_ms) AS total_ms, max(s.max_ms) AS max_ms,
                           (SELECT jsonb_agg(jsonb_build_object(
                                       'queryid', x.queryid, 'query', x.query, 'calls', x.calls,
                                       'total_ms', x.total_ms, 'mean_ms', x.mean_ms, 'max_ms', x.max_ms,
                                       'rows', x.rows, 'shared_blks_hit', x.shared_blks_hit,
                                       'shared_blks_read', x.shared_blks_read, 'seq_scans', x.seq_scans,
                                       'nesting_level', x.nesting_level)
                                   ORDER BY x.total_ms DESC, x.queryid)
                              FROM (SELECT * FROM perfaudit.run_statements y
                                     WHERE y.run_id = r.run_id AND y.tenant IS NOT DISTINCT FROM s.tenant
                                     ORDER BY y.total_ms DESC, y.queryid LIMIT 5) AS x) AS slowest
                      FROM perfaudit.run_statements s
                     WHERE s.run_id = r.run_id
                     GROUP BY s.tenant) AS t), '[]'),
        'findings', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'finding_id', f.finding_id, 'kind', f.kind, 'severity', f.severity,
                       'relation', f.relation, 'queryid', f.queryid, 'tenant', f.tenant,
                       'calls', f.calls, 'total_ms', f.total_ms, 'query', f.query,
                       'message', f.message, 'suggestion', f.suggestion, 'detail', f.detail)
                   ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low'], f.severity), f.finding_id)
              FROM perfaudit.findings f
             WHERE f.run_id = r.run_id), '[]'),
        'benchmarks', COALESCE((
            SELECT jsonb_agg(row_to_json(b)::jsonb - 'samples_ms' - 'userid' ORDER BY b.benchmark_id)
              FROM perfaudit.benchmarks b
             WHERE b.userid = r.userid
               AND b.started_at >= r.started_at
               AND b.started_at <= COALESCE(r.stopped_at, now())), '[]'));
END $$;

COMMENT ON FUNCTION perfaudit.report_json(bigint) IS
'a run (default: this session''s last) as a JSON document: the run, per tenant its five slowest statements, the findings, the benchmarks made during the run';

-- A text as one line of a report: control characters as C-style escapes
-- (\n, \r, \t, \xHH, \uHHHH) and backslashes doubled, so that no label,
-- tenant, name or statement prints a line of its own; with layout (HTML),
-- newlines, carriage returns, tabs and backslashes are kept.
CREATE OR REPLACE FUNCTION perfaudit._escape(t text, layout boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'pa_escape'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION perfaudit.report(run_id bigint DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb := perfaudit.report_json(report.run_id);
    r jsonb := doc -> 'run';
    t jsonb;
    s jsonb;
    f jsonb;
    b jsonb;
    n int;
BEGIN
    -- Every text that comes from data goes through _escape(): a label, a
    -- tenant or a name may hold a newline and a fake line after it.
    RETURN NEXT format('pg_perfaudit report: run %s%s', r ->> 'run_id',
                       COALESCE(format(' "%s"', perfaudit._escape(left(r ->> 'label', 1000))), ''));
    RETURN NEXT format('  %s scope, database %s, role %s, %s .. %s',
                       perfaudit._escape(r ->> 'scope'), perfaudit._escape(r ->> 'database'),
                       perfaudit._escape(r ->> 'role'),
                       to_char((r ->> 'started_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS'),
                       COALESCE(to_char((r ->> 'stopped_at')::timestamptz, 'HH24:MI:SS'), 'active'));
    RETURN NEXT format('  %s statements, %s ms in total, slowest execution %s ms, %s finding(s)',
                       r ->> 'statements', round((r ->> 'total_ms')::numeric, 3),
                       round((r ->> 'max_ms')::numeric, 3), r ->> 'findings');
    IF (r ->> 'overflow')::bigint > 0 THEN
        RETURN NEXT format('  (%s executions counted but not kept one by one: raise perfaudit.max_run_statements)',
                           r ->> 'overflow');
    END IF;

    RETURN NEXT '';
    RETURN NEXT 'Slowest statements per tenant';
    n := 0;
    FOR t IN SELECT value FROM jsonb_array_elements(doc -> 'tenants') LOOP
        n := n + 1;
        IF n > 10 THEN
            RETURN NEXT format('  ... and %s more tenant(s)', jsonb_array_length(doc -> 'tenants') - 10);
            EXIT;
        END IF;
        RETURN NEXT format('  %s: %s calls, %s ms',
                           COALESCE('tenant ' || perfaudit._escape(t ->> 'tenant'), 'no tenant'),
                           t ->> 'calls', round((t ->> 'total_ms')::numeric, 3));
        FOR s IN SELECT value FROM jsonb_array_elements(t -> 'slowest') LOOP
            RETURN NEXT format('    %s ms  %s x  max %s ms  %s',
                               lpad(round((s ->> 'total_ms')::numeric, 3)::text, 9),
                               lpad(s ->> 'calls', 5),
                               round((s ->> 'max_ms')::numeric, 3),
                               perfaudit._escape(left(regexp_replace(s ->> 'query', '\s+', ' ', 'g'), 90)));
        END LOOP;
    END LOOP;
    IF n = 0 THEN
        RETURN NEXT '  (no statements)';
    END IF;

    RETURN NEXT '';
    RETURN NEXT format('Findings (%s)', jsonb_array_length(doc -> 'findings'));
    FOR f IN SELECT value FROM jsonb_array_elements(doc -> 'findings') LOOP
        RETURN NEXT format('  [%s] %s%s%s: %s',
                           perfaudit._escape(f ->> 'severity'), perfaudit._escape(f ->> 'kind'),
                           COALESCE(' on ' || perfaudit._escape(f ->> 'relation'), ''),
                           COALESCE(', tenant ' || perfaudit._escape(f ->> 'tenant'), ''),
                           perfaudit._escape(f ->> 'message'));
        IF f ->> 'query' IS NOT NULL THEN
            RETURN NEXT '      query: ' || perfaudit._escape(left(regexp_replace(f ->> 'query', '\s+', ' ', 'g'), 100));
        END IF;
        IF f ->> 'suggestion' IS NOT NULL THEN
            RETURN NEXT '      suggestion: ' || perfaudit._escape(f ->> 'suggestion');
        END IF;
    END LOOP;
    IF jsonb_array_length(doc -> 'findings') = 0 THEN
        RETURN NEXT '  none';
    END IF;

    IF jsonb_array_length(doc -> 'benchmarks') > 0 THEN
        RETURN NEXT '';
        RETURN NEXT format('Benchmarks during the run (%s)', jsonb_array_length(doc -> 'benchmarks'));
        FOR b IN SELECT value FROM jsonb_array_elements(doc -> 'benchmarks') LOOP
            RETURN NEXT format('  %s: %s iterations, %s client(s): p50 %s ms, p95 %s ms, p99 %s ms, %s/s%s%s',
                               COALESCE(perfaudit._escape(left(b ->> 'label', 1000)), 'benchmark ' || (b ->> 'benchmark_id')),
                               b ->> 'iterations', b ->> 'clients',
                               round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                               round((b ->> 'p99_ms')::numeric, 3), round((b ->> 'throughput_qps')::numeric),
                               CASE WHEN (b ->> 'errors')::bigint > 0
                                    THEN format(', %s errors %s', b ->> 'errors', perfaudit._escape(b ->> 'error_counts')) ELSE '' END,
                               CASE WHEN b ->> 'p95_degradation' IS NOT NULL
                                    THEN format(', p95 x%s vs one client', round((b ->> 'p95_degradation')::numeric, 2))
                                    ELSE '' END);
            IF (b ->> 'findings')::int > 0 THEN
                RETURN NEXT format('      %s finding(s); sequential scans of %s', b ->> 'findings',
                                   perfaudit._escape((SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(b -> 'seq_scan_tables') x)));
            END IF;
        END LOOP;
    END IF;
END $$;

COMMENT ON FUNCTION perfaudit.report(bigint) IS
'report_json() as readable lines for psql';

-- report_html(): the same document as one self-contained HTML page (inline
-- CSS and SVG, no script, nothing fetched), for a CI artifact or a browser.
CREATE OR REPLACE FUNCTION perfaudit._html(t text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- (control characters other than white space are not allowed in HTML)
    SELECT replace(replace(replace(replace(replace(perfaudit._escape(COALESCE(t, ''), true),
           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
$$;

-- One tenant's latency histogram (a runs.tenant_latency entry) as an SVG
-- bar chart, trimmed to the buckets around those that hold executions.
CREATE OR REPLACE FUNCTION perfaudit._html_histogram(l jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    counts bigint[] := ARRAY(SELECT c::bigint FROM jsonb_array_elements_text(l -> 'bucket_counts') c);
    bounds text[] := ARRAY(SELECT b FROM jsonb_array_elements_text(l -> 'bucket_upper_ms') b);
    lo int := 1;
    hi int := cardinality(counts);
    peak bigint;
    n int;
    w int := 360;
    h int := 120;
    bw numeric;
    out text;
    i int;
    bh numeric;
    label text;
BEGIN
    IF hi = 0 THEN
        RETURN '';
    END IF;
    WHILE lo < hi AND counts[lo] = 0 LOOP lo := lo + 1; END LOOP;
    WHILE hi > lo AND counts[hi] = 0 LOOP hi := hi - 1; END LOOP;
    lo := greatest(1, lo - 1);
    hi := least(cardinality(counts), hi + 1);
    n := hi - lo + 1;
    peak := greatest(1, (SELECT max(c) FROM unnest(counts[lo:hi]) c));
    bw := (w - 20)::numeric / n;
    -- 14 px above the bars for the tallest one's count
    out := format('<svg class="hist" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="latency histogram">',
                  w, h + 44, w, h + 44);
    FOR i IN lo .. hi LOOP
        bh := round(counts[i]::numeric / peak * h, 1);
        label := CASE WHEN bounds[i] IS NULL THEN '&gt;' || bounds[i - 1]
                      ELSE '&#8804;' || bounds[i] END;
        out := out || format('<rect x="%s" y="%s" width="%s" height="%s"><title>%s ms: %s</title></rect>',
                             round(10 + (i - lo) * bw + 1, 1), round(14 + h - bh, 1), round(bw - 2, 1),
                             greatest(bh, 0.5), label, counts[i]);
        out := out || format('<text x="%s" y="%s" class="tick">%s</text>',
                             round(10 + (i - lo) * bw + bw / 2, 1), h + 28, label);
        IF counts[i] > 0 THEN
            out := out || format('<text x="%s" y="%s" class="count">%s</text>',
                                 round(10 + (i - lo) * bw + bw / 2, 1), round(11 + h - bh, 1), counts[i]);
        END IF;
    END LOOP;
    RETURN out || format('<text x="%s" y="%s" class="axis">ms</text></svg>', w - 10, h + 42);
END $$;

-- Benchmarks' p50/p95/p99 as horizontal bars on one scale.
CREATE OR REPLACE FUNCTION perfaudit._html_benchmarks(benchmarks jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b jsonb;
    peak float8;
    y int := 0;
    w int := 640;
    scale float8;
    out text;
BEGIN
    IF jsonb_array_length(benchmarks) = 0 THEN
        RETURN '<p class="none">No benchmark ran during this run.</p>';
    END IF;
    SELECT max((x ->> 'p99_ms')::float8) INTO peak FROM jsonb_array_elements(benchmarks) x;
    scale := (w - 260) / greatest(COALESCE(peak, 0), 1e-9);
    out := format('<svg class="bench" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="benchmark percentiles">',
                  w, jsonb_array_length(benchmarks) * 34 + 24, w, jsonb_array_length(benchmarks) * 34 + 24);
    FOR b IN SELECT x FROM jsonb_array_elements(benchmarks) x LOOP
        out := out || format('<text x="0" y="%s" class="blabel">%s</text>', y + 16,
                             perfaudit._html(left(COALESCE(b ->> 'label', b ->> 'query'), 34)));
        out := out || format('<rect class="p99" x="230" y="%s" width="%s" height="20"><title>p99 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p99_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p99_ms')::numeric, 3));
        out := out || format('<rect class="p95" x="230" y="%s" width="%s" height="20"><title>p95 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p95_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p95_ms')::numeric, 3));
        out := out || format('<rect class="p50" x="230" y="%s" width="%s" height="20"><title>p50 %s ms</title></rect>',
                             y + 4, round((COALESCE((b ->> 'p50_ms')::float8, 0) * scale)::numeric, 1),
                             round((b ->> 'p50_ms')::numeric, 3));
        out := out || format('<text x="%s" y="%s" class="bvalue">p50 %s &#183; p95 %s &#183; p99 %s ms</text>',
                             round((234 + COALESCE((b ->> 'p99_ms')::float8, 0) * scale)::numeric, 1), y + 18,
                             round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                             round((b ->> 'p99_ms')::numeric, 3));
        y := y + 34;
    END LOOP;
    RETURN out || format('<text x="230" y="%s" class="axis">0 ms</text></svg>', y + 16);
END $$;

CREATE OR REPLACE FUNCTION perfaudit.report_html(run_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb := perfaudit.report_json(report_html.run_id);
    r jsonb := doc -> 'run';
    -- (runs stored before 0.2.0 have none: JSON null)
    lat jsonb := CASE WHEN jsonb_typeof(r -> 'tenant_latency') = 'array' THEN r -> 'tenant_latency' END;
    t jsonb;
    l jsonb;
    s jsonb;
    f jsonb;
    b jsonb;
    h text;
    title text;
BEGIN
    title := format('pg_perfaudit report: run %s%s', r ->> 'run_id',
                    COALESCE(format(' "%s"', left(r ->> 'label', 1000)), ''));
    h := '<!DOCTYPE html>' || E'\n' || '<html lang="en"><head><meta charset="utf-8">'
         || '<meta name="viewport" content="width=device-width, initial-scale=1">'
         || '<meta name="generator" content="pg_perfaudit">'
         || format('<title>%s</title>', perfaudit._html(title))
         || '<style>'
         || 'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}'
         || 'header{background:#1d2b44;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:20px}'
         || 'header p{margin:0;color:#c6cfdd}main{padding:12px 28px 40px;max-width:1180px}'
         || 'h2{font-size:16px;margin:26px 0 10px;border-bottom:1px solid #d7dbe2;padding-bottom:4px}'
         || '.kpis{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}.kpi{background:#fff;border:1px solid #d7dbe2;border-radius:8px;padding:10px 16px;min-width:120px}'
         || '.kpi b{display:block;font-size:22px}.kpi span{color:#5b6577;font-size:12px}'
         || '.grid{display:flex;flex-wrap:wrap;gap:14px}.card{background:#fff;border:1px solid #d7dbe2;border-radius:8px;padding:12px 14px}'
         || '.card h3{margin:0 0 6px;font-size:14px}.card .sub{color:#5b6577;font-size:12px;margin-bottom:6px}'
         || 'svg text{font:10px system-ui,sans-serif;fill:#4a5568}svg .tick{text-anchor:middle;font-size:8.5px}svg .count{text-anchor:middle;fill:#1d2430}'
         || 'svg.hist rect{fill:#3d7bd9}svg .axis{text-anchor:end;fill:#8a94a6}'
         || 'svg .p50{fill:#2f855a}svg .p95{fill:#d69e2e}svg .p99{fill:#c53030}svg .blabel{font-size:12px;fill:#1d2430}svg .bvalue{font-size:11px}'
         || 'table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d7dbe2}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e9ee;vertical-align:top}'
         || 'th{background:#eef1f5;font-weight:600;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums}'
         || 'code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word}'
         || '.finding{border-left:5px solid #8a94a6;margin-bottom:10px}.finding.high{border-left-color:#c53030}.finding.medium{border-left-color:#d69e2e}.finding.low{border-left-color:#3d7bd9}'
         || '.sev{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;padding:1px 6px;border-radius:4px;background:#e6e9ee;margin-right:6px}'
         || '.critical .sev{background:#9b2c2c;color:#fff}.high .sev{background:#fed7d7;color:#9b2c2c}.medium .sev{background:#feebc8;color:#975a16}.low .sev{background:#bee3f8;color:#2a4365}'
         || '.suggestion{background:#f0fff4;border:1px solid #c6f6d5;border-radius:6px;padding:6px 8px;margin-top:6px}'
         || '.none{color:#5b6577}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}'
         || '</style></head><body>';
    h := h || format('<header><h1>%s</h1><p>%s scope &#183; database %s &#183; role %s &#183; %s &#8211; %s</p></header><main>',
                     perfaudit._html(title), perfaudit._html(r ->> 'scope'), perfaudit._html(r ->> 'database'),
                     perfaudit._html(r ->> 'role'),
                     to_char((r ->> 'started_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS'),
                     COALESCE(to_char((r ->> 'stopped_at')::timestamptz, 'HH24:MI:SS'), 'active'));
    h := h || '<div class="kpis">'
           || format('<div class="kpi"><b>%s</b><span>statements</span></div>', r ->> 'statements')
           || format('<div class="kpi"><b>%s ms</b><span>in total</span></div>', round((r ->> 'total_ms')::numeric, 1))
           || format('<div class="kpi"><b>%s ms</b><span>slowest execution</span></div>', round((r ->> 'max_ms')::numeric, 2))
           || format('<div class="kpi"><b>%s</b><span>tenants</span></div>', jsonb_array_length(doc -> 'tenants'))
           || format('<div class="kpi"><b>%s</b><span>findings</span></div>', r ->> 'findings')
           || '</div>';
    IF (r ->> 'overflow')::bigint > 0 THEN
        h := h || format('<p class="none">%s executions were counted but not kept one by one: raise perfaudit.max_run_statements.</p>',
                         r ->> 'overflow');
    END IF;

    h := h || '<h2>Latency per tenant</h2>';
    IF lat IS NULL THEN
        h := h || '<p class="none">Not recorded for this run (stored by a version before 0.2.0).</p>';
    ELSIF jsonb_array_length(lat) = 0 THEN
        h := h || '<p class="none">No top-level statement was kept.</p>';
    ELSE
        h := h || '<div class="grid">';
        FOR l IN SELECT x FROM jsonb_array_elements(lat) x LIMIT 24 LOOP
            h := h || '<div class="card tenant">'
                   || format('<h3>%s</h3>', CASE WHEN l ->> 'tenant' IS NULL THEN 'no tenant'
                                                 ELSE 'tenant ' || perfaudit._html(l ->> 'tenant') END)
                   || format('<div class="sub">%s statements &#183; p50 %s ms &#183; p95 %s ms &#183; p99 %s ms &#183; max %s ms</div>',
                             l ->> 'calls', round((l ->> 'p50_ms')::numeric, 3), round((l ->> 'p95_ms')::numeric, 3),
                             round((l ->> 'p99_ms')::numeric, 3), round((l ->> 'max_ms')::numeric, 3))
                   || perfaudit._html_histogram(l) || '</div>';
        END LOOP;
        h := h || '</div>';
        IF jsonb_array_length(lat) > 24 THEN
            h := h || format('<p class="none">&#8230; and %s more tenants (see report_json()).</p>', jsonb_array_length(lat) - 24);
        END IF;
    END IF;

    h := h || '<h2>Slowest statements per tenant</h2>';
    IF jsonb_array_length(doc -> 'tenants') = 0 THEN
        h := h || '<p class="none">No statement was captured.</p>';
    ELSE
        h := h || '<table class="slowest"><thead><tr><th>tenant</th><th>statement</th><th>calls</th><th>total ms</th><th>mean ms</th><th>max ms</th><th>rows</th><th>seq scans</th></tr></thead><tbody>';
        FOR t IN SELECT x FROM jsonb_array_elements(doc -> 'tenants') x LIMIT 50 LOOP
            FOR s IN SELECT x FROM jsonb_array_elements(t -> 'slowest') x LOOP
                h := h || format('<tr><td>%s</td><td><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                                 COALESCE(perfaudit._html(t ->> 'tenant'), '&#8211;'),
                                 perfaudit._html(left(s ->> 'query', 400)), s ->> 'calls',
                                 round((s ->> 'total_ms')::numeric, 3), round((s ->> 'mean_ms')::numeric, 3),
                                 round((s ->> 'max_ms')::numeric, 3), s ->> 'rows', s ->> 'seq_scans');
            END LOOP;
        END LOOP;
        h := h || '</tbody></table>';
    END IF;

    h := h || '<h2>Findings</h2>';
    IF jsonb_array_length(doc -> 'findings') = 0 THEN
        h := h || '<p class="none">No findings.</p>';
    ELSE
        FOR f IN SELECT x FROM jsonb_array_elements(doc -> 'findings') x LOOP
            h := h || format('<div class="card finding %s"><h3><span class="sev">%s</span>%s%s</h3><div class="sub">%s%s</div><code>%s</code>%s</div>',
                             perfaudit._html(f ->> 'severity'), perfaudit._html(f ->> 'severity'),
                             perfaudit._html(f ->> 'kind'),
                             COALESCE(' &#183; ' || perfaudit._html(f ->> 'relation'), ''),
                             perfaudit._html(f ->> 'message'),
                             COALESCE(' &#183; tenant ' || perfaudit._html(f ->> 'tenant'), ''),
                             perfaudit._html(left(f ->> 'query', 600)),
                             COALESCE('<div class="suggestion">' || perfaudit._html(f ->> 'suggestion') || '</div>', ''));
        END LOOP;
    END IF;

    h := h || '<h2>Benchmarks</h2>';
    h := h || perfaudit._html_benchmarks(doc -> 'benchmarks');
    IF jsonb_array_length(doc -> 'benchmarks') > 0 THEN
        h := h || '<p class="legend"><span style="background:#2f855a"></span>p50<span style="background:#d69e2e"></span>p95<span style="background:#c53030"></span>p99</p>'
               || '<table class="benchmarks"><thead><tr><th>benchmark</th><th>iterations</th><th>clients</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>per second</th><th>errors</th></tr></thead><tbody>';
        FOR b IN SELECT x FROM jsonb_array_elements(doc -> 'benchmarks') x LOOP
            h := h || format('<tr><td><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                             perfaudit._html(COALESCE(left(b ->> 'label', 1000), left(b ->> 'query', 200))),
                             b ->> 'iterations', b ->> 'clients',
                             round((b ->> 'p50_ms')::numeric, 3), round((b ->> 'p95_ms')::numeric, 3),
                             round((b ->> 'p99_ms')::numeric, 3), round((b ->> 'max_ms')::numeric, 3),
                             round((b ->> 'throughput_qps')::numeric), b ->> 'errors');
        END LOOP;
        h := h || '</tbody></table>';
    END IF;
    RETURN h || '<p class="none" style="margin-top:28px">Generated by pg_perfaudit '
             || perfaudit._html((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_perfaudit'))
             || ' at ' || to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ') || '.</p></main></body></html>' || E'\n';
END $$;

COMMENT ON FUNCTION perfaudit.report_html(bigint) IS
'report_json() as one self-contained HTML page: latency histogram per tenant, slowest statements, findings with suggestions, benchmark percentiles';
