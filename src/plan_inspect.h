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

/*
 * One plan node whose rows carry a tenant column value: the node's scan
 * tuple (a table's row as read, scan_slot) or the row it returns (the new
 * row an INSERT or UPDATE writes), attribute attno of that slot; or the
 * row an UPDATE or DELETE changes, by its ctid (by_ctid).
 */
#define PA_MAX_OBSERVED_NODES	16

typedef struct PaObserveNode
{
	int			plan_node_id;
	AttrNumber	attno;
	bool		scan_slot;
	bool		byval;
	Oid			type;
	Oid			out;			/* its output function, looked up once per plan */

	/*
	 * by_ctid: attno is the row identifier (ctid) an UPDATE or DELETE gets
	 * from this node; the row is fetched from the result relation of
	 * ModifyTable node mt_plan_node_id, and its attribute fetch_attno read.
	 */
	bool		by_ctid;
	int			mt_plan_node_id;
	AttrNumber	fetch_attno;
} PaObserveNode;

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
	 * Where the tenants of the rows read or written are observed while a
	 * run captures (hooks.c wraps these plan nodes): the scans of tenant
	 * tables read without a tenant predicate, and the rows an INSERT or an
	 * UPDATE of the tenant column writes when the plan does not name their
	 * tenant.  nobserve 0: nothing to observe (also when observing could
	 * not see every such row: a parallel scan, too many tables).  observe
	 * is the plan cache's: valid until the next statement is inspected,
	 * and read right after this one's.
	 */
	int			nobserve;
	const PaObserveNode *observe;

	/*
	 * The type of the tenant column the plan's tenant values are of
	 * (InvalidOid: none seen): an acting tenant is compared in its form.
	 */
	Oid			tenant_type;

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
 * a tenant tag (also remembered per plan and source text).  capturing: a
 * run captures this execution, whose observed nodes must be its own (a
 * plan whose partitions are pruned at executor start is analysed again).
 */
extern void pa_inspect_plan(QueryDesc *queryDesc, PaPlanFacts *facts,
							bool *has_comment, bool capturing);

#endif							/* PA_PLAN_INSPECT_H */
