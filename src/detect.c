/*-------------------------------------------------------------------------
 *
 * detect.c
 *		Findings of a capture run, decided at stop() from the run's groups
 *		(one per queryid, tenant and nesting level).
 *
 * n_plus_one: one statement executed at least perfaudit.n_plus_one_threshold
 * times for one tenant with at least that many distinct parameter values
 * (so a loop over rows, not a fixed fan-out of identical calls).  When a
 * statement shortly before the first of those executions returned about as
 * many rows as there were executions, it is named in detail as the likely
 * source (the query whose rows the loop walks), Sentry's source-span idea
 * made exact.  In a database-scope run these counts are per session (the
 * session with the most distinct values): a loop is one request's, and a
 * request is one session's, so many clients each running a statement once
 * for the same tenant are not an N+1 or a repeat.
 *
 * repeated_query: the same statement with the same values executed at least
 * the threshold times (a missing cache or a query inside a loop that does
 * not depend on it).  A group that is an N+1 is not also reported as this.
 *
 * slow_query: executions longer than perfaudit.slow_query_ms (0: off), one
 * finding per statement with the number of slow executions.
 *
 * seq_scan and unscoped_tenant_query come from the plan facts the executor
 * hook recorded (plan_inspect.c), one finding per statement and relation;
 * cross_tenant_query from executions whose predicates named several
 * tenants, or another tenant than the session setting or tag named.
 *
 *-------------------------------------------------------------------------
 */
#include "pg_perfaudit.h"

#include "detect.h"
#include "jsonout.h"
#include "plan_inspect.h"

/*
 * Start a finding object.  run_id is a run's id, or a benchmark's with
 * PA_BENCHMARK_FINDING set.
 */
#define PA_BENCHMARK_FINDING	(UINT64CONST(1) << 63)

static void
pa_finding_begin(StringInfo buf, int *count, uint64 run_id, Oid userid,
				 const PaGroupSummary *g, const char *kind,
				 const char *severity, bool *first)
{
	if (*count > 0)
		appendStringInfoChar(buf, ',');
	(*count)++;
	appendStringInfoChar(buf, '{');
	*first = true;
	if (run_id & PA_BENCHMARK_FINDING)
		pa_json_int(buf, "benchmark_id", (int64) (run_id & ~PA_BENCHMARK_FINDING), first);
	else
		pa_json_int(buf, "run_id", (int64) run_id, first);
	pa_json_str(buf, "kind", kind, first);
	pa_json_str(buf, "severity", severity, first);
	pa_json_int(buf, "queryid", (int64) g->queryid, first);
	pa_json_str(buf, "tenant", g->tenant, first);
	pa_json_int(buf, "calls", g->calls, first);
	pa_json_num(buf, "total_ms", g->total_ms, first);
	pa_json_str(buf, "query", g->text, first);
	pa_json_int(buf, "userid", userid, first);
}

/*
 * Emit the findings of a group's plan facts, each (kind, relation) once.
 */
static void
pa_fact_findings(StringInfo buf, int *count, uint64 run_id, Oid userid,
				 const PaGroupSummary *g)
{
	List	   *seen = NIL;
	int			k;

	for (k = 0; k < g->nfacts; k++)
	{
		char	   *entry = pstrdup(g->facts[k]);
		char	   *next;

		for (; entry != NULL && *entry != '\0'; entry = next)
		{
			char	   *field[4] = {NULL, NULL, NULL, NULL};
			char	   *end = strchr(entry, PA_FACT_END);
			char	   *p = entry;
			char	   *key;
			int			f;
			bool		first;
			bool		dfirst = true;
			StringInfoData detail;
			ListCell   *lc;
			bool		dup = false;

			next = end ? end + 1 : NULL;
			if (end)
				*end = '\0';
			for (f = 0; f < 4 && p != NULL; f++)
			{
				char	   *sep = strchr(p, PA_FACT_FIELD_SEP);

				field[f] = p;
				if (sep)
					*sep = '\0';
				p = sep ? sep + 1 : NULL;
			}
			if (field[1] == NULL)
				continue;
			key = psprintf("%s/%s", field[0], field[1]);
			foreach(lc, seen)
				if (strcmp((char *) lfirst(lc), key) == 0)
					dup = true;
			if (dup)
				continue;
			seen = lappend(seen, key);

			initStringInfo(&detail);
			appendStringInfoChar(&detail, '{');
			pa_json_num(&detail, "table_rows", field[3] ? atof(field[3]) : 0, &dfirst);
			pa_json_int(&detail, "nesting_level", g->nesting_level, &dfirst);

			if (strcmp(field[0], "seq_scan") == 0)
			{
				pa_finding_begin(buf, count, run_id, userid, g, "seq_scan",
								 g->calls >= pa_n_plus_one_threshold ? "high" : "medium", &first);
				pa_json_str(buf, "relation", field[1], &first);
				pa_json_str(buf, "message",
							psprintf("sequential scan of %s (about %s rows)%s",
									 field[1], field[3] ? field[3] : "?",
									 field[2] && field[2][0] ? "" : ", without a filter an index could serve"),
							&first);
				pa_json_str(buf, "suggestion", field[2] && field[2][0] ? field[2] : NULL, &first);
			}
			else
			{
				pa_finding_begin(buf, count, run_id, userid, g, "unscoped_tenant_query", "high", &first);
				pa_json_str(buf, "relation", field[1], &first);
				pa_json_str(buf, "message",
							psprintf("tenant table %s was read without a predicate on %s and without a row-level-security policy: every tenant's rows are reachable",
									 field[1], pa_tenant_column),
							&first);
				pa_json_str(buf, "suggestion",
							psprintf("Filter on %s (the current organization), or enable a row-level-security policy on %s for the application's role.",
									 pa_tenant_column, field[1]),
							&first);
			}
			appendStringInfoChar(&detail, '}');
			pa_json_raw(buf, "detail", detail.data, &first);
			appendStringInfoChar(buf, '}');
		}
	}
}

static const char *
pa_for_tenant(const PaGroupSummary *g)
{
	return g->tenant ? psprintf(" for tenant %s", g->tenant) : "";
}

int
pa_detect_findings(StringInfo buf, uint64 run_id, Oid userid,
				   const PaGroupSummary *groups, int ngroups)
{
	int			threshold = pa_n_plus_one_threshold;
	int			count = 0;
	int			i;

	for (i = 0; i < ngroups; i++)
	{
		const PaGroupSummary *g = &groups[i];
		StringInfoData detail;
		bool		first;
		bool		dfirst = true;

		/*
		 * FETCH 100 FROM c, again and again, reads one cursor in chunks
		 * (Django's QuerySet.iterator(), psycopg's named cursors): the
		 * cursor's query is the statement, counted once; its reads are
		 * neither an N+1 loop nor a repeated query.
		 */
		if (g->cursor_read)
		{
			/* no loop, no repeat */
		}
		else if (g->loop_calls >= threshold && g->loop_distinct >= threshold)
		{
			pa_finding_begin(buf, &count, run_id, userid, g, "n_plus_one",
							 g->loop_calls >= 4 * threshold ? "high" : "medium", &first);
			pa_json_str(buf, "message",
						psprintf("statement executed %lld times with %lld different parameter values%s: an N+1 pattern",
								 (long long) g->loop_calls, (long long) g->loop_distinct,
								 pa_for_tenant(g)), &first);
			pa_json_str(buf, "suggestion",
						"Fetch the rows in one query (a join, or WHERE id = ANY($1)) instead of one query per row; "
						"in an ORM, eager-load the relation (Laravel with(), Django select_related()/prefetch_related(), Rails includes()).",
						&first);

			initStringInfo(&detail);
			appendStringInfoChar(&detail, '{');
			pa_json_int(&detail, "calls", g->loop_calls, &dfirst);
			pa_json_int(&detail, "distinct_params", g->loop_distinct, &dfirst);
			pa_json_int(&detail, "run_calls", g->calls, &dfirst);
			pa_json_int(&detail, "threshold", threshold, &dfirst);
			pa_json_int(&detail, "nesting_level", g->nesting_level, &dfirst);
			pa_json_num(&detail, "mean_ms", g->total_ms / g->calls, &dfirst);
			if (g->has_source)
			{
				StringInfoData src;
				bool		sfirst = true;

				initStringInfo(&src);
				appendStringInfoChar(&src, '{');
				pa_json_int(&src, "queryid", (int64) g->source_queryid, &sfirst);
				pa_json_str(&src, "query", g->source_text, &sfirst);
				pa_json_int(&src, "rows", (int64) g->source_rows, &sfirst);
				appendStringInfoChar(&src, '}');
				pa_json_raw(&detail, "source", src.data, &dfirst);
			}
			appendStringInfoChar(&detail, '}');
			pa_json_raw(buf, "detail", detail.data, &first);
			appendStringInfoChar(buf, '}');
		}
		else if (g->max_repeats >= threshold)
		{
			pa_finding_begin(buf, &count, run_id, userid, g, "repeated_query",
							 g->max_repeats >= 4 * threshold ? "medium" : "low", &first);
			pa_json_str(buf, "message",
						psprintf("the same statement with the same parameter values executed %lld times%s",
								 (long long) g->max_repeats, pa_for_tenant(g)), &first);
			pa_json_str(buf, "suggestion",
						"Run it once and reuse the result (hoist it out of the loop, or cache it for the request).",
						&first);
			initStringInfo(&detail);
			appendStringInfoChar(&detail, '{');
			pa_json_int(&detail, "calls", g->calls, &dfirst);
			pa_json_int(&detail, "identical_calls", g->max_repeats, &dfirst);
			pa_json_int(&detail, "distinct_params", g->distinct_params, &dfirst);
			pa_json_int(&detail, "threshold", threshold, &dfirst);
			pa_json_int(&detail, "nesting_level", g->nesting_level, &dfirst);
			appendStringInfoChar(&detail, '}');
			pa_json_raw(buf, "detail", detail.data, &first);
			appendStringInfoChar(buf, '}');
		}

		pa_fact_findings(buf, &count, run_id, userid, g);

		if (g->cross_calls > 0)
		{
			dfirst = true;
			pa_finding_begin(buf, &count, run_id, userid, g, "cross_tenant_query", "high", &first);
			if (g->tenant != NULL && strchr(g->tenant, ',') == NULL)
			{
				/* One tenant from the setting or tag, another in the predicates. */
				pa_json_str(buf, "message",
							psprintf("the statement ran for tenant %s but its predicates name another tenant",
									 g->tenant), &first);
				pa_json_str(buf, "suggestion",
							"Take the organization id in the query from the current tenant, not from request input.",
							&first);
			}
			else
			{
				pa_json_str(buf, "message",
							psprintf("one statement touched several tenants (%s)",
									 g->tenant ? g->tenant : "?"), &first);
				pa_json_str(buf, "suggestion",
							"A request should read one organization's rows; check that the tenant list comes from the current organization only.",
							&first);
			}
			initStringInfo(&detail);
			appendStringInfoChar(&detail, '{');
			pa_json_int(&detail, "cross_tenant_calls", g->cross_calls, &dfirst);
			pa_json_str(&detail, "tenants", g->tenant, &dfirst);
			appendStringInfoChar(&detail, '}');
			pa_json_raw(buf, "detail", detail.data, &first);
			appendStringInfoChar(buf, '}');
		}

		if (g->slow_calls > 0)
		{
			dfirst = true;
			pa_finding_begin(buf, &count, run_id, userid, g, "slow_query", "high", &first);
			pa_json_str(buf, "message",
						psprintf("%lld of %lld executions took longer than %d ms%s",
								 (long long) g->slow_calls, (long long) g->calls,
								 pa_slow_query_ms, pa_for_tenant(g)), &first);
			pa_json_str(buf, "suggestion",
						"Look at its plan with EXPLAIN (ANALYZE, BUFFERS) for the tenant concerned.",
						&first);
			initStringInfo(&detail);
			appendStringInfoChar(&detail, '{');
			pa_json_int(&detail, "slow_calls", g->slow_calls, &dfirst);
			pa_json_int(&detail, "threshold_ms", pa_slow_query_ms, &dfirst);
			pa_json_num(&detail, "max_ms", g->max_ms, &dfirst);
			appendStringInfoChar(&detail, '}');
			pa_json_raw(buf, "detail", detail.data, &first);
			appendStringInfoChar(buf, '}');
		}
	}
	return count;
}

int
pa_benchmark_findings(StringInfo buf, uint64 benchmark_id, Oid userid,
					  const PaGroupSummary *g)
{
	int			count = 0;

	pa_fact_findings(buf, &count, benchmark_id | PA_BENCHMARK_FINDING, userid, g);
	return count;
}
