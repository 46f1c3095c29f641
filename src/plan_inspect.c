/*-------------------------------------------------------------------------
 *
 * plan_inspect.c
 *		Checks on the executed plan tree, done at ExecutorEnd while the
 *		PlanState tree is still intact.
 *
 * The tree is walked through planstate_tree_walker, which covers init
 * plans, subplans and every child list, so a scan hidden in a CTE or a
 * correlated subquery is seen.  Per-node instrumentation is never assumed:
 * it exists only when someone (EXPLAIN ANALYZE, auto_explain) asked for it.
 *
 *-------------------------------------------------------------------------
 */
#include "pg_perfaudit.h"

#include "nodes/nodeFuncs.h"

#include "plan_inspect.h"

static bool
pa_count_seq_scans_walker(PlanState *planstate, void *context)
{
	if (planstate == NULL)
		return false;
	if (IsA(planstate, SeqScanState))
		(*(int *) context)++;
	return planstate_tree_walker(planstate, pa_count_seq_scans_walker, context);
}

int
pa_count_seq_scans(PlanState *planstate)
{
	int			n = 0;

	(void) pa_count_seq_scans_walker(planstate, &n);
	return n;
}
