/*-------------------------------------------------------------------------
 *
 * plan_inspect.h
 *		Checks on the executed plan tree.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PLAN_INSPECT_H
#define PA_PLAN_INSPECT_H

#include "nodes/execnodes.h"

/* Number of sequential-scan nodes in the plan, subplans included. */
extern int	pa_count_seq_scans(PlanState *planstate);

#endif							/* PA_PLAN_INSPECT_H */
