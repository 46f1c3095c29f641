/*-------------------------------------------------------------------------
 *
 * hooks.h
 *		Planner, executor and utility hooks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_HOOKS_H
#define PA_HOOKS_H

/* Executor/planner/utility nesting depth: 0 for what the client sent. */
extern int	pa_nesting_level;

/*
 * Greater than zero while pg_perfaudit itself runs SQL (the writer worker,
 * benchmarks): such statements are never captured.
 */
extern int	pa_internal_depth;

/*
 * Set while benchmark() runs its statement: the executions at 'level' are
 * inspected (plan_inspect.c) and what their plan says is kept here.
 */
typedef struct PaBenchProbe
{
	int			level;
	MemoryContext cxt;			/* where facts is copied */
	int64		seq_scans;		/* most seen in one execution */
	uint64		queryid;
	const char *facts;			/* the first non-empty facts */
	/*
	 * The statement's plan source, if known: its generic plan, executed
	 * again and again, is inspected once (per generation).  Custom plans are
	 * built for each execution and always inspected.
	 */
	const struct CachedPlanSource *source;
	const void *inspected_gplan;
	int			inspected_generation;
} PaBenchProbe;

extern PaBenchProbe *pa_bench_probe;

extern void pa_hooks_init(void);

#endif							/* PA_HOOKS_H */
