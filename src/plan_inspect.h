/*-------------------------------------------------------------------------
 *
 * plan_inspect.h
 *		Checks on the executed plan tree: sequential scans, tenant
 *		predicates, tenant tables read without one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PLAN_INSPECT_H
#define PA_PLAN_INSPECT_H

#include "executor/execdesc.h"

/*
 * Distinct tenant values listed per execution (all are counted:
 * PaPlanFacts.tenant_count); bound parameters naming the tenant, per plan.
 */
#define PA_MAX_PLAN_TENANTS		32

/* What one execution of a plan tells. */
typedef struct PaPlanFacts
{
	int			seq_scans;		/* sequential-scan nodes */
	bool		unscoped;		/* a tenant table is read without a tenant */

	/*
	 * The tenant(s) the plan's predicates name for this execution's
	 * parameters: NULL, one value, or several comma-separated (then
	 * cross_tenant is set).  Allocated in the current memory context or
	 * owned by the plan cache: valid until ExecutorEnd.
	 */
	const char *tenant;
	int			tenant_count;	/* distinct tenants named, complete */
	bool		cross_tenant;

	/*
	 * A keyset-pagination plan (ORDER BY key LIMIT n over a range predicate
	 * on key, an ORM's batched read): n for this execution; 0: not one.
	 */
	int64		batch_limit;

	/*
	 * The output column (1-based) holding the tenant of the rows an
	 * unscoped tenant-table read returns, and its type; 0: none.
	 */
	int			observe_col;
	Oid			observe_type;
	Oid			observe_out;	/* its output function, looked up once per plan */
	bool		observe_byval;

	/*
	 * What a finding needs to know (seq_scan and unscoped_tenant_query
	 * entries), encoded by facts.c: decode with pa_fact_next().  Owned by the plan cache and the same pointer
	 * for every execution of one plan; NULL when there is nothing to report.
	 */
	const char *facts;
} PaPlanFacts;

extern void pa_plan_inspect_init(void);

/*
 * Inspect a started plan (call after standard_ExecutorStart, in the
 * context the results should live in).  The plan's structure is analysed
 * once per plan and cached; per execution only parameter values are read.
 * *has_comment tells whether the query text has a comment that may carry
 * a tenant tag (also remembered per plan and source text).
 */
extern void pa_inspect_plan(QueryDesc *queryDesc, PaPlanFacts *facts,
							bool *has_comment);

#endif							/* PA_PLAN_INSPECT_H */
