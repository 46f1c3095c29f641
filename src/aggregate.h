/*-------------------------------------------------------------------------
 *
 * aggregate.h
 *		A closed run buffer in; its groups (run_statements rows and what the
 *		detection rules need of them) and per-tenant latency distributions
 *		out.  No JSON, no findings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_AGGREGATE_H
#define PA_AGGREGATE_H

#include "detect.h"
#include "runbuf.h"
#include "stats.h"
#include "store.h"

typedef struct PaAggregate
{
	uint64		stored;			/* records read */
	uint64		reserved;		/* records reserved, read or not (not ready) */
	uint64		stored_ns;		/* their time, as the run buffer's ns */
	uint64		stored_max_ns;
	int			ngroups;		/* in order of first appearance */
	PaGroupSummary *groups;		/* for the rules; .stmt for the store */
	int			ntenants;		/* latency distributions, busiest first */
	const char **tenants;		/* NULL: no tenant */
	PaLatency **latencies;
} PaAggregate;

/*
 * One pass over the records with hash tables (linear in the number of
 * executions).  Everything is allocated in the current memory context;
 * texts point into the buffer.
 */
extern void pa_aggregate(PaRunBuffer *buf, bool database_scope, PaAggregate *out);

#endif							/* PA_AGGREGATE_H */
