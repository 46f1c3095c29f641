/*-------------------------------------------------------------------------
 *
 * bench.h
 *		Benchmarks of one statement: in this backend (bench.c) and from
 *		concurrent background workers (bench_concurrent.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_BENCH_H
#define PA_BENCH_H

#include "fmgr.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "hooks.h"
#include "stats.h"
#include "store.h"

/* Upper bounds that keep a mistyped argument from exhausting memory. */
#define PA_MAX_ITERATIONS	PA_MAX_SAMPLES
#define PA_MAX_WARMUP		10000000

/* PaBenchArgs and PaBenchResult, a benchmarks row: store.h. */


/*
 * Read benchmark arguments from a call; an argument number < 0 means the
 * function has no such argument (iterations then 1, warmup 0).  Raises the
 * standard errors for NULL and out-of-range values.
 */
extern void pa_bench_args_from_call(FunctionCallInfo fcinfo, PaBenchArgs *args,
									int query_arg, int iter_arg, int warmup_arg,
									int tenants_arg);
extern void pa_bench_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *name);

/* Run a benchmark in the current transaction, as the current role. */
extern void pa_run_benchmark(const PaBenchArgs *args, PaBenchResult *res);

/*
 * What the plan of a benchmark's statement says, from the executions an
 * observer (hooks.h) sees at the benchmark's level: a generic plan,
 * executed again and again, is inspected once (per generation); custom
 * plans are built for each execution and always inspected.
 */
typedef struct PaBenchProbe
{
	PaExecObserver observer;
	PaExecObserver *saved;		/* the observer before this one */
	MemoryContext cxt;			/* where facts is copied */
	int64		seq_scans;		/* most seen in one execution */
	uint64		queryid;
	const char *facts;			/* of the plan with the most seq scans */
	const struct CachedPlanSource *source;
	const void *inspected_gplan;
	int			inspected_generation;

	/* Observing the rows of the next executions, for this tenant (or not) */
	const char *acting;
	PaObsTally	tally;
	const char *foreign_acting; /* acting when tally.foreign became 1 */
	bool	   *tenants_observed;	/* per tenant given: a warmup execution observed */
} PaBenchProbe;

/* Watch the executions of plan at this level; stop watching. */
extern void pa_bench_probe_begin(PaBenchProbe *probe, SPIPlanPtr plan, MemoryContext cxt);
extern void pa_bench_probe_end(PaBenchProbe *probe);

/* Pieces shared with benchmark_concurrent(). */
extern SPIPlanPtr pa_bench_prepare(const PaBenchArgs *args, MemoryContext cxt,
								   Oid *ptype, Datum **values);
extern ParamListInfo pa_bench_params(Oid ptype, MemoryContext cxt);
extern void pa_bench_summarise(ArrayType *samples, int n, bool sorted, PaBenchResult *res);

/*
 * Store a finished benchmark (with the findings of its plan) through the
 * writer and return it as a perfaudit.benchmarks row.
 */
extern Datum pa_bench_store(const PaBenchArgs *args, PaBenchResult *res,
							uint64 benchmark_id, TimestampTz started_at);

#endif							/* PA_BENCH_H */
