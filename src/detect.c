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
#include "perfaudit.h"

#include "detect.h"
#include "facts.h"
#include "guc.h"
#include "jsonout.h"
#include "runbuf.h"
#include "store.h"

/*
 * Append one finding of group g: the envelope from the group, the rest
 * from the caller.
 */
static void
pa_emit(StringInfo buf, int *count, const PaFindingOwner *owner,
		const PaGroupSummary *g, const char *kind, const char *severity,
		const char *relation, const char *message, const char *suggestion,
		StringInfo detail)
{
	PaFinding	f;

	/* A tenant list: how many tenants there are, listed or not. */
	if (g->tenant_count > 1)
	{
		bool		dfirst = false;

		pa_json_int(detail, "tenant_count", g->tenant_count, &dfirst);
	}
	appendStringInfoChar(detail, '}');
	f.kind = kind;
	f.severity = severity;
	f.queryid = g->stmt.queryid;
	f.tenant = g->stmt.tenant;
	f.calls = g->stmt.calls;
	f.total_ms = g->stmt.total_ms;
	f.query = g->stmt.query;
	f.relation = relation;
	f.message = message;
	f.suggestion = suggestion;
	f.detail = detail->data;
	pa_store_finding(buf, count, owner, &f);
}

static void
pa_detail_begin(StringInfo detail)
{
	initStringInfo(detail);
	appendStringInfoChar(detail, '{');
}

/*
 * Emit the findings of a group's plan facts, each (kind, relation) once.
 */
static void
pa_fact_findings(StringInfo buf, int *count, const PaFindingOwner *owner,
				 const PaGroupSummary *g)
{
	List	   *seen = NIL;
	int			k;

	for (k = 0; k < g->nfacts; k++)
	{
		const char *cursor = g->facts[k];
		PaFact		fact;

		while (pa_fact_next(&cursor, &fact))
		{
			char	   *key = psprintf("%s/%s", fact.kind, fact.relation);
			bool		dfirst = true;
			StringInfoData detail;
			ListCell   *lc;
			bool		dup = false;

			foreach(lc, seen)
				if (strcmp((char *) lfirst(lc), key) == 0)
					dup = true;
			if (dup)
				continue;
			seen = lappend(seen, key);

			pa_detail_begin(&detail);
			pa_json_num(&detail, "table_rows", fact.rows[0] ? atof(fact.rows) : 0, &dfirst);
			pa_json_int(&detail, "nesting_level", g->stmt.nesting_level, &dfirst);

			if (strcmp(fact.kind, "seq_scan") == 0)
				pa_emit(buf, count, owner, g, "seq_scan",
						g->stmt.calls >= pa_n_plus_one_threshold ? "high" : "medium",
						fact.relation,
						psprintf("sequential scan of %s (about %s rows)%s",
								 fact.relation, fact.rows[0] ? fact.rows : "?",
								 fact.suggestion[0] ? "" : ", without a filter an index could serve"),
						fact.suggestion[0] ? fact.suggestion : NULL, &detail);
			else
			{
				/*
				 * Every execution acted for a tenant and every row it read
				 * was that tenant's: still unscoped SQL (a keyed lookup
				 * that happened to hit the acting tenant's row), but no
				 * leak shown.
				 */
				bool		inside = g->acting_calls == g->stmt.calls &&
					g->observed_calls == g->stmt.calls && g->foreign_calls == 0;

				if (inside)
					pa_json_int(&detail, "rows_outside_acting_tenant", 0, &dfirst);
				pa_emit(buf, count, owner, g, "unscoped_tenant_query", inside ? "low" : "high",
						fact.relation,
						psprintf("tenant table %s was read without a predicate on %s and without a row-level-security policy: every tenant's rows are reachable",
								 fact.relation, pa_tenant_column),
						psprintf("Filter on %s (the current organization), or enable a row-level-security policy on %s for the application's role.",
								 pa_tenant_column, fact.relation),
						&detail);
			}
		}
	}
}

/* What a group's statement does: "select", or the writes it made. */
static const char *
pa_operation_name(int writes)
{
	switch (writes)
	{
		case 0:
			return "select";
		case PA_STMT_INSERT:
			return "insert";
		case PA_STMT_UPDATE:
			return "update";
		case PA_STMT_DELETE:
			return "delete";
		default:
			return "merge";
	}
}

static const char *
pa_for_tenant(const PaGroupSummary *g)
{
	return g->stmt.tenant ? psprintf(" for tenant %s", g->stmt.tenant) : "";
}

/*
 * cross_tenant_access: executions acting for a tenant read or wrote rows
 * of another (observed); the finding names the other tenant(s).
 */
static void
pa_foreign_finding(StringInfo buf, int *count, const PaFindingOwner *owner,
				   const PaGroupSummary *g)
{
	PaGroupSummary other = *g;
	StringInfoData detail;
	bool		dfirst = true;

	pa_detail_begin(&detail);
	pa_json_str(&detail, "acting_tenant", g->stmt.tenant, &dfirst);
	pa_json_int(&detail, "calls", g->foreign_calls, &dfirst);
	/* The first such read's tenants with their rows, and counts. */
	if (g->observed_detail != NULL && g->observed_detail[0] == '{' &&
		g->observed_detail[1] != '}')
	{
		appendStringInfoChar(&detail, ',');
		appendBinaryStringInfo(&detail, g->observed_detail + 1,
							   strlen(g->observed_detail) - 2);
	}
	other.stmt.tenant = g->observed;
	other.tenant_count = 0;
	pa_emit(buf, count, owner, &other, "cross_tenant_access", "critical", NULL,
			psprintf("the statement ran for tenant %s and %s rows of tenant %s",
					 g->stmt.tenant ? g->stmt.tenant : "?",
					 g->writes ? "read or wrote" : "read",
					 g->observed ? g->observed : "?"),
			g->writes ?
			"Scope the statement to the current organization (a predicate on the tenant column, or a row-level-security policy), and write the current organization's id: it changed another organization's rows." :
			"Scope the query to the current organization (a predicate on the tenant column, or a row-level-security policy): it read another organization's rows.",
			&detail);
}

int
pa_detect_findings(StringInfo buf, const PaFindingOwner *owner,
				   const PaGroupSummary *groups, int ngroups)
{
	int			threshold = pa_n_plus_one_threshold;
	int			count = 0;
	int			i;

	for (i = 0; i < ngroups; i++)
	{
		const PaGroupSummary *g = &groups[i];
		StringInfoData detail;
		bool		dfirst = true;

		/*
		 * (A cursor read in chunks, Django's QuerySet.iterator(), is one
		 * execution of its query: hooks.c, pa_declare_cursor.)
		 */
		if (pa_detect_is_loop(g) && !pa_detect_is_batched(g))
		{
			const char *op = pa_operation_name(g->writes);

			pa_detail_begin(&detail);
			pa_json_int(&detail, "calls", g->loop_calls, &dfirst);
			pa_json_int(&detail, "distinct_params", g->loop_distinct, &dfirst);
			pa_json_int(&detail, "run_calls", g->stmt.calls, &dfirst);
			pa_json_int(&detail, "threshold", threshold, &dfirst);
			pa_json_int(&detail, "nesting_level", g->stmt.nesting_level, &dfirst);
			pa_json_num(&detail, "mean_ms", g->stmt.total_ms / g->stmt.calls, &dfirst);
			pa_json_str(&detail, "operation", op, &dfirst);
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
			pa_emit(buf, &count, owner, g, "n_plus_one",
					g->loop_calls >= 4 * threshold ? "high" : "medium", NULL,
					psprintf("statement executed %lld times with %lld different parameter values%s: an N+1 pattern%s",
							 (long long) g->loop_calls, (long long) g->loop_distinct,
							 pa_for_tenant(g), g->writes ? " of writes" : ""),
					g->writes ?
					"Write the rows in one statement (a multi-row INSERT, UPDATE ... FROM, or DELETE ... WHERE id = ANY($1)) instead of one per row; "
					"in an ORM, Django bulk_create()/bulk_update(), Rails insert_all/upsert_all/update_all, Laravel insert() of many rows." :
					"Fetch the rows in one query (a join, or WHERE id = ANY($1)) instead of one query per row; "
					"in an ORM, eager-load the relation (Laravel with(), Django select_related()/prefetch_related(), Rails includes()).",
					&detail);
		}
		else if (g->max_repeats >= threshold)
		{
			pa_detail_begin(&detail);
			pa_json_int(&detail, "calls", g->stmt.calls, &dfirst);
			pa_json_int(&detail, "identical_calls", g->max_repeats, &dfirst);
			pa_json_int(&detail, "distinct_params", g->stmt.distinct_params, &dfirst);
			pa_json_int(&detail, "threshold", threshold, &dfirst);
			pa_json_int(&detail, "nesting_level", g->stmt.nesting_level, &dfirst);
			pa_emit(buf, &count, owner, g, "repeated_query",
					g->max_repeats >= 4 * threshold ? "medium" : "low", NULL,
					psprintf("the same statement with the same parameter values executed %lld times%s",
							 (long long) g->max_repeats, pa_for_tenant(g)),
					"Run it once and reuse the result (hoist it out of the loop, or cache it for the request).",
					&detail);
		}

		pa_fact_findings(buf, &count, owner, g);

		if (g->cross_calls > 0)
		{
			bool		one = g->stmt.tenant != NULL && strchr(g->stmt.tenant, ',') == NULL;

			dfirst = true;
			pa_detail_begin(&detail);
			pa_json_int(&detail, "cross_tenant_calls", g->cross_calls, &dfirst);
			pa_json_str(&detail, "tenants", g->stmt.tenant, &dfirst);
			/* One tenant from the setting or tag, another in the predicates. */
			pa_emit(buf, &count, owner, g, "cross_tenant_query", "high", NULL,
					one ?
					psprintf("the statement ran for tenant %s but its predicates name another tenant",
							 g->stmt.tenant) :
					psprintf("one statement touched several tenants (%s)",
							 g->stmt.tenant ? g->stmt.tenant : "?"),
					one ?
					"Take the organization id in the query from the current tenant, not from request input." :
					"A request should read one organization's rows; check that the tenant list comes from the current organization only.",
					&detail);
		}

		if (g->foreign_calls > 0)
			pa_foreign_finding(buf, &count, owner, g);

		if (g->slow_calls > 0)
		{
			dfirst = true;
			pa_detail_begin(&detail);
			pa_json_int(&detail, "slow_calls", g->slow_calls, &dfirst);
			pa_json_int(&detail, "threshold_ms", pa_slow_query_ms, &dfirst);
			pa_json_num(&detail, "max_ms", g->stmt.max_ms, &dfirst);
			pa_emit(buf, &count, owner, g, "slow_query", "high", NULL,
					psprintf("%lld of %lld executions took longer than %d ms%s",
							 (long long) g->slow_calls, (long long) g->stmt.calls,
							 pa_slow_query_ms, pa_for_tenant(g)),
					"Look at its plan with EXPLAIN (ANALYZE, BUFFERS) for the tenant concerned.",
					&detail);
		}
	}
	return count;
}

int
pa_detect_plan_findings(StringInfo buf, const PaFindingOwner *owner,
						const PaGroupSummary *g, const char *foreign_acting)
{
	int			count = 0;

	pa_fact_findings(buf, &count, owner, g);
	if (g->foreign_calls > 0)
	{
		PaGroupSummary acting = *g;

		acting.stmt.tenant = foreign_acting;
		pa_foreign_finding(buf, &count, owner, &acting);
	}
	return count;
}
