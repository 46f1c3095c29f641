/*-------------------------------------------------------------------------
 *
 * bench.h
 *		Benchmarks of one statement (bench.c) and the assertions built on
 *		them (assert.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_BENCH_H
#define PA_BENCH_H

#include "fmgr.h"

typedef struct PaBenchArgs
{
	char	   *query;
	int			iterations;
	int			warmup;
	int			ntenants;
	char	  **tenants;		/* $1's values, as text */
	bool		rollback;
} PaBenchArgs;

typedef struct PaBenchResult
{
	int			n;
	double	   *samples;		/* sorted, n of them */
	double		min_ms,
				p50_ms,
				p95_ms,
				p99_ms,
				max_ms,
				mean_ms,
				stddev_ms;
	double		rows_per_call;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		seq_scans;		/* sequential-scan nodes in the plan */
	int64		memory_growth;
	int64		custom_plans;
	int64		generic_plans;
	Oid			ptype;			/* $1's inferred type, or InvalidOid */
	uint64		queryid;
	const char *facts;			/* plan facts (plan_inspect.h), or NULL */
} PaBenchResult;

/*
 * Read benchmark arguments from a call; an argument number < 0 means the
 * function has no such argument (iterations then 1, warmup 0).  Raises the
 * standard errors for NULL and out-of-range values.
 */
extern void pa_bench_args_from_call(FunctionCallInfo fcinfo, PaBenchArgs *args,
									int query_arg, int iter_arg, int warmup_arg,
									int tenants_arg);

/* Run a benchmark in the current transaction, as the current role. */
extern void pa_run_benchmark(const PaBenchArgs *args, PaBenchResult *res);

#endif							/* PA_BENCH_H */
