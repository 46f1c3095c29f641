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

extern void pa_hooks_init(void);

#endif							/* PA_HOOKS_H */
