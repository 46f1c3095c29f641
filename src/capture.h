/*-------------------------------------------------------------------------
 *
 * capture.h
 *		Capture runs: what the hooks hand over for each statement execution,
 *		and the run lifecycle (start, stop, active_run).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_CAPTURE_H
#define PA_CAPTURE_H

#include "shmem.h"

/* A statement can belong to this session's run and to each database run. */
#define PA_MAX_SINKS		(1 + PA_MAX_DB_RUNS)

/*
 * The runs a statement is eligible for, fixed when it starts: a statement
 * that started before a run (the one calling start()) or ends after it
 * (the one calling stop()) is not part of that run.
 */
typedef struct PaRunIds
{
	int			n;
	uint64		ids[PA_MAX_SINKS];
} PaRunIds;

/* Flags of PaStmtInfo / PaExecRecord */
#define PA_STMT_UTILITY		0x01
#define PA_STMT_CROSS_TENANT	0x02	/* predicates named several tenants */
#define PA_STMT_CURSOR_READ	0x04	/* FETCH or MOVE: reads of an open cursor */

/* One statement execution as measured by the hooks. */
typedef struct PaStmtInfo
{
	uint64		queryid;
	uint64		param_hash;		/* text (literals) and bound values */
	double		duration_ms;
	double		plan_ms;
	uint64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int32		seq_scans;
	int16		nesting_level;
	uint8		flags;
	const char *text;			/* statement text, not NUL-terminated */
	int			text_len;
	const char *tenant;			/* NUL-terminated, or NULL */
	const char *facts;			/* plan facts (plan_inspect.h), or NULL */
	Oid			userid;			/* the role it ran as (at its start) */
} PaStmtInfo;

/*
 * True when this backend has no run to append to and no database-scope run
 * has started or stopped since it last looked: the per-statement fast path,
 * two loads and a compare, no call.
 */
extern int	pa_nsinks;
extern uint32 pa_seen_generation;

static inline bool
pa_capture_idle(void)
{
	return pa_nsinks == 0 &&
		(pa_shared == NULL ||
		 pg_atomic_read_u32(&pa_shared->db_runs_generation) == pa_seen_generation);
}

/*
 * Fill *ids with the runs a statement starting now at nesting level
 * 'level' belongs to; false (and ids->n == 0) when there are none.  Cheap
 * when nothing is being captured: a few loads, no lock.
 */
extern bool pa_capture_eligible(int level, PaRunIds *ids);

/* Record one finished execution into every still-active run of *ids. */
extern void pa_capture_record(const PaRunIds *ids, const PaStmtInfo *info);

#endif							/* PA_CAPTURE_H */
