/*-------------------------------------------------------------------------
 *
 * detect.h
 *		The detection rules: groups of executions in, findings out.
 *
 * Aggregation (aggregate.c) builds the groups and asks the rules below
 * what to count; everything that decides whether something is a finding
 * is here and in detect.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_DETECT_H
#define PA_DETECT_H

#include "lib/stringinfo.h"

#include "guc.h"
#include "store.h"

/* Distinct plan-fact strings kept per group (plans of one statement). */
#define PA_MAX_GROUP_FACTS	4

/* One run_statements group, as detection sees it. */
typedef struct PaGroupSummary
{
	PaStatementRow stmt;		/* the run_statements row */
	int			tenant_count;	/* distinct tenants in stmt.tenant (a list) */
	int			sessions;		/* sessions that ran it */
	int			writes;			/* PA_STMT_INSERT | _UPDATE | _DELETE seen */
	int64		observed_calls; /* executions whose rows' tenants were observed */
	int64		acting_calls;	/* executions with an acting tenant (setting, tag) */
	int64		foreign_calls;	/* ... that read rows of another tenant */
	const char *observed;		/* the tenants observed: of a foreign read first */
	const char *observed_detail;	/* JSON object of the first foreign read */
	int64		keyset_calls;	/* executions that were keyset-pagination batches */
	int64		partial_batches;	/* ... that returned less than their LIMIT */
	/* in the session with the most distinct values (all of a session run) */
	int64		loop_calls;
	int64		loop_distinct;
	int64		max_repeats;	/* executions of the most repeated values, in one session */
	int64		slow_calls;		/* executions over perfaudit.slow_query_ms */
	int64		cross_calls;	/* executions whose predicates named several tenants */
	int			nfacts;
	const char *facts[PA_MAX_GROUP_FACTS];	/* plan facts (facts.h) */
	/* the statement that most likely produced the rows looped over */
	bool		has_source;
	uint64		source_queryid;
	const char *source_text;
	uint64		source_rows;
} PaGroupSummary;

/* An execution that counts as slow (perfaudit.slow_query_ms; 0: off). */
static inline bool
pa_detect_is_slow(double ms)
{
	return pa_slow_query_ms > 0 && ms > pa_slow_query_ms;
}

/* Is the group's busiest session a loop over rows (an N+1)? */
static inline bool
pa_detect_is_loop(const PaGroupSummary *g)
{
	return g->loop_calls >= pa_n_plus_one_threshold &&
		g->loop_distinct >= pa_n_plus_one_threshold;
}

/*
 * Keyset pagination (Rails find_each, a Django filter(id__gt=last)
 * .order_by('id')[:n] loop): every execution a batch of ORDER BY key LIMIT
 * n over a range predicate on key, each returning its whole LIMIT but the
 * last of each session.  Reading a table in batches is no N+1 (unless
 * perfaudit.ignore_batched_reads is off); a loop loading child rows by a
 * foreign key has no range predicate and stays one.
 */
static inline bool
pa_detect_is_batched(const PaGroupSummary *g)
{
	return pa_ignore_batched_reads && g->keyset_calls == g->stmt.calls &&
		g->partial_batches <= Max(1, g->sessions);
}

/*
 * Could an execution that returned 'rows' rows be the source of a loop of
 * loop_calls executions (the list the loop walks)?  Within 25 %.
 */
static inline bool
pa_detect_is_loop_source(uint64 rows, int64 loop_calls)
{
	return !(rows * 5 < (uint64) loop_calls * 4 ||
			 rows * 4 > (uint64) loop_calls * 5);
}

/* How far back (and on), in executions, the source of a loop is looked for. */
#define PA_SOURCE_LOOKBACK	64

/*
 * Append the findings of the groups to 'buf' as comma-separated JSON
 * objects (rows of perfaudit.findings); returns how many.
 */
extern int	pa_detect_findings(StringInfo buf, const PaFindingOwner *owner,
							   const PaGroupSummary *groups, int ngroups);

/*
 * The plan-fact findings (seq_scan, unscoped_tenant_query) of one group,
 * and cross_tenant_access when its observed executions read another
 * tenant's rows (the first one acting for foreign_acting): a benchmark's
 * statement; returns how many.
 */
extern int	pa_detect_plan_findings(StringInfo buf, const PaFindingOwner *owner,
									const PaGroupSummary *g, const char *foreign_acting);

#endif							/* PA_DETECT_H */
