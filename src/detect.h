/*-------------------------------------------------------------------------
 *
 * detect.h
 *		Findings of a capture run: N+1 patterns, repeated queries, slow
 *		executions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_DETECT_H
#define PA_DETECT_H

#include "lib/stringinfo.h"

/* Distinct plan-fact strings kept per group (plans of one statement). */
#define PA_MAX_GROUP_FACTS	4

/* One run_statements group, as detection sees it. */
typedef struct PaGroupSummary
{
	uint64		queryid;
	int32		nesting_level;
	const char *tenant;			/* NULL: none */
	const char *text;
	int64		calls;
	int64		distinct_params;
	/* in the session with the most distinct values (all of a session run) */
	int64		loop_calls;
	int64		loop_distinct;
	int64		max_repeats;	/* executions of the most repeated values, in one session */
	int64		slow_calls;		/* executions over perfaudit.slow_query_ms */
	int64		cross_calls;	/* executions whose predicates named several tenants */
	bool		cursor_read;	/* FETCH / MOVE: never a loop or a repeat */
	int			nfacts;
	const char *facts[PA_MAX_GROUP_FACTS];	/* plan facts (plan_inspect.h) */
	double		total_ms;
	double		max_ms;
	/* the statement that most likely produced the rows looped over */
	bool		has_source;
	uint64		source_queryid;
	const char *source_text;
	uint64		source_rows;
} PaGroupSummary;

/*
 * Append the findings of the groups to 'buf' as comma-separated JSON
 * objects (rows of perfaudit.findings); returns how many.
 */
extern int	pa_detect_findings(StringInfo buf, uint64 run_id, Oid userid,
							   const PaGroupSummary *groups, int ngroups);

/*
 * The plan-fact findings (seq_scan, unscoped_tenant_query) of a benchmark's
 * statement, tied to its benchmark_id; returns how many.
 */
extern int	pa_benchmark_findings(StringInfo buf, uint64 benchmark_id, Oid userid,
								  const PaGroupSummary *g);

#endif							/* PA_DETECT_H */
