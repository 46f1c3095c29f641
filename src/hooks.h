/*-------------------------------------------------------------------------
 *
 * hooks.h
 *		Planner, executor and utility hooks: the one measurement gate, the
 *		nesting level, the extension's own SQL, and an observer of
 *		executions for code outside the hooks (benchmarks).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_HOOKS_H
#define PA_HOOKS_H

#include "executor/execdesc.h"

/* Executor/planner/utility nesting depth: 0 for what the client sent. */
extern int	pa_nesting_level;

/*
 * Around SQL that pg_perfaudit runs itself (the writer worker, benchmarks,
 * building a result row): such statements are never measured.  Nest.
 */
extern void pa_internal_enter(void);
extern void pa_internal_exit(void);

/*
 * An observer sees every execution that starts at nesting level 'level'
 * (after the executor started; EXPLAIN without ANALYZE excluded), also
 * while internal: a benchmark watches its own statement's plans.
 * pa_set_observer() installs one (NULL: none) and returns the previous.
 */
typedef void (*PaExecObserverFn) (QueryDesc *queryDesc, void *arg);

typedef struct PaExecObserver
{
	int			level;
	PaExecObserverFn fn;
	void	   *arg;
} PaExecObserver;

extern PaExecObserver *pa_set_observer(PaExecObserver *observer);

/*
 * What observing the rows of some executions showed (a benchmark's
 * warmup): executions observed, not observable, and those that read or
 * wrote rows of another tenant than the one they acted for, with the
 * first such one's detail (observed_tenants, counts; in cxt).
 */
typedef struct PaObsTally
{
	MemoryContext cxt;
	int64		observed;
	int64		unobserved;
	int64		foreign;
	char	   *foreign_tenants;	/* the other tenants of the first such one */
	char	   *foreign_detail;	/* its detail (JSON object) */
} PaObsTally;

/*
 * From an observer: observe the rows of this started execution, acting for
 * tenant acting, into tally when it ends.
 */
extern void pa_observe_execution(QueryDesc *queryDesc, const char *acting,
								 PaObsTally *tally);

/* Record this session's open cursors into its run run_id (stop()). */
extern void pa_record_open_cursors(uint64 run_id);

extern void pa_hooks_init(void);

#endif							/* PA_HOOKS_H */
