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
#include "lib/stringinfo.h"

#define PA_MAX_PLAN_TENANTS		8

/* Separators inside a facts string (see PaPlanFacts.facts). */
#define PA_FACT_FIELD_SEP	'\x1f'
#define PA_FACT_END			'\x1e'

typedef struct PaPlanFacts
{
	int			seq_scans;		/* sequential-scan nodes */
	int			ntenants;		/* distinct tenants in tenant predicates */
	bool		more_tenants;	/* more than PA_MAX_PLAN_TENANTS */
	char		tenants[PA_MAX_PLAN_TENANTS][PA_MAX_TENANT_LEN + 1];

	/*
	 * What a finding needs to know, as "kind<US>relation<US>suggestion<US>
	 * rows<RS>" entries (US = 0x1f, RS = 0x1e): seq_scan and
	 * unscoped_tenant_query.  data is NULL when there is nothing to report
	 * (set it to NULL before the call; allocated on first use).
	 */
	StringInfoData facts;

	/* Instead of facts: one prebuilt fact string (no copy made), or NULL. */
	const char *fixed;
} PaPlanFacts;

extern void pa_plan_inspect_init(void);

/* Inspect an executed plan (call at ExecutorEnd, before the executor frees it). */
extern void pa_inspect_plan(QueryDesc *queryDesc, PaPlanFacts *facts);

#endif							/* PA_PLAN_INSPECT_H */
