/*-------------------------------------------------------------------------
 *
 * tenant_stats.h
 *		Always-on per-tenant statistics in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_TENANT_STATS_H
#define PA_TENANT_STATS_H

#include "guc.h"

/* Register the statistics' shared memory (shmem.c); from _PG_init. */
extern void pa_tenant_stats_init(void);

/* True when attached (the library was preloaded). */
extern bool pa_tenant_stats_ready;

/*
 * Does a statement starting at this nesting level go into the statistics?
 * Two loads and compares, no call.
 */
static inline bool
pa_tenant_stats_wanted(int level)
{
	return pa_track_tenants && pa_tenant_stats_ready &&
		(level == 0 || pa_track == PA_TRACK_ALL);
}

/*
 * Add one execution.  tenant is NULL when none is known (counted under a
 * NULL tenant); queryid 0 (compute_query_id off) counts in tenant_stats
 * only.  Takes the statistics lock shared, and exclusive only to add an
 * entry the tables do not have yet.
 */
extern void pa_tenant_stats_record(const char *tenant, uint64 queryid,
								   double duration_ms, uint64 rows,
								   int seq_scans, bool unscoped);

#endif							/* PA_TENANT_STATS_H */
