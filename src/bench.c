/*-------------------------------------------------------------------------
 *
 * bench.c
 *		benchmark(): run one statement many times and measure it.
 *
 * The statement is parsed, analysed and planned once, through SPI, as a
 * prepared statement; when tenants are given, $1 takes each value in turn,
 * its type inferred from the statement as PREPARE without types does and
 * each value converted from text once, before timing starts.  The
 * plan cache then chooses custom or generic plans as it does for any
 * prepared statement; how many of each were used is reported.
 *
 * warmup executions are run and not timed; each of the iterations is timed
 * on its own, from the end of the previous execution to the end of this
 * one (one clock read per iteration), and the samples kept: percentiles
 * are exact (linear interpolation between the two closest ranks, the
 * definition of percentile_cont, so they can be checked against
 * percentile_cont over benchmarks.samples_ms).  With rollback, each
 * execution runs in a subtransaction that is rolled back, so writes leave
 * nothing behind; the subtransaction's cost is then part of the samples.
 *
 * An execution observer (hooks.h) watches the statement's executions
 * (PaBenchProbe): the plan analysis that capture runs use gives the
 * sequential scans, which become seq_scan findings tied to the benchmark.
 *
 * Backend memory growth is the difference in memory allocated by all of
 * this backend's memory contexts between the first and the last timed
 * execution (after warm-up, so caches filled by the first executions do
 * not count).
 *
 * The result is stored like a run, by the writer worker in its own
 * transaction, so it survives the caller's rollback.  The statement runs
 * as the calling role, in the caller's transaction: no privilege is
 * gained.  Every iteration checks for interrupts, so statement_timeout and
 * cancel stop a benchmark.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/instrument.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_param.h"
#include "parser/parser.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "bench.h"
#include "detect.h"
#include "hooks.h"
#include "persist.h"
#include "plan_inspect.h"
#include "stats.h"
#include "stmtid.h"
#include "store.h"
#include "text.h"

PG_FUNCTION_INFO_V1(pa_benchmark);

/* parserSetup state: the inferred parameter types. */
typedef struct PaVarParams
{
	Oid		   *types;
	int			ntypes;
} PaVarParams;

static void
pa_varparams_setup(ParseState *pstate, void *arg)
{
	PaVarParams *vp = (PaVarParams *) arg;

	setup_parse_variable_parameters(pstate, &vp->types, &vp->ntypes);
}

/*
 * The one statement of the text, or an error: benchmark() times exactly
 * one SELECT, INSERT, UPDATE, DELETE or MERGE.
 */
static void
pa_check_statement(const char *query)
{
	List	   *raw = raw_parser(query, RAW_PARSE_DEFAULT);
	RawStmt    *rs;

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("benchmark query must be exactly one statement"),
				 errdetail("The text holds %d statements.", list_length(raw))));
	rs = linitial_node(RawStmt, raw);
	switch (nodeTag(rs->stmt))
	{
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
#ifdef PA_HAVE_MERGE
		case T_MergeStmt:
#endif
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("benchmark query must be a SELECT, INSERT, UPDATE, DELETE or MERGE"),
					 errhint("Utility statements cannot be prepared; wrap them in a function to time them.")));
	}
}

static Size
pa_backend_memory(void)
{
	return MemoryContextMemAllocated(TopMemoryContext, true);
}

/*
 * Record memory growth since start at a checkpoint: a leak grows at most
 * checkpoints, a cache that fills once grows at one.
 */
static void
pa_bench_mem_checkpoint(PaBenchResult *res, Size start)
{
	if (res->n_mem_checkpoints < PA_MEM_CHECKPOINTS + 1)
		res->mem_checkpoints[res->n_mem_checkpoints++] =
			(int64) pa_backend_memory() - (int64) start;
}

/* One execution of the prepared statement; returns the rows it processed. */
static inline uint64
pa_bench_run(SPIPlanPtr plan, const SPIExecuteOptions *opts)
{
	int			ret = SPI_execute_plan_extended(plan, opts);
	uint64		rows;

	if (ret < 0)
		elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
	rows = SPI_processed;
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/*
 * The same in a subtransaction that is rolled back.  Kept out of line: its
 * PG_TRY frame would otherwise be set up around every plain execution too.
 */
static pg_noinline uint64
pa_bench_run_rolled_back(SPIPlanPtr plan, const SPIExecuteOptions *opts)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	uint64		rows;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		rows = pa_bench_run(plan, opts);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = oldowner;
		PG_RE_THROW();
	}
	PG_END_TRY();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return rows;
}

static inline uint64
pa_bench_execute(SPIPlanPtr plan, ParamListInfo params, bool rollback)
{
	SPIExecuteOptions opts;

	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = false;
	return rollback ? pa_bench_run_rolled_back(plan, &opts) : pa_bench_run(plan, &opts);
}

/*
 * Prepare args->query in the current SPI connection (which must stay open
 * while the plan is used), check its parameters against args->tenants and
 * convert each tenant to $1's type.  The values are allocated in cxt.
 * Every mistake in the arguments is reported here, before anything runs.
 * $1's type is inferred by a first, variable-parameter prepare; the plan
 * returned is a second one with that type fixed.
 */
SPIPlanPtr
pa_bench_prepare(const PaBenchArgs *args, MemoryContext cxt, Oid *ptype,
				 Datum **values)
{
	PaVarParams vp = {NULL, 0};
	SPIPrepareOptions popts;
	SPIPlanPtr	plan;
	MemoryContext old;
	int			i;

	pa_check_statement(args->query);

	/*
	 * The parser grows vp.types with repalloc(), which keeps a chunk in the
	 * context it was allocated in.  Left NULL, the array would be palloc'd
	 * in SPI's executor context, which SPI_prepare_extended() resets before
	 * it returns (valgrind caught the read of freed memory below); so the
	 * array starts here, in the caller's context (SPI's procedure context),
	 * and survives the call.
	 */
	vp.types = (Oid *) palloc0(sizeof(Oid));
	vp.ntypes = 0;

	memset(&popts, 0, sizeof(popts));
	popts.parserSetup = pa_varparams_setup;
	popts.parserSetupArg = &vp;
	popts.parseMode = RAW_PARSE_DEFAULT;
	plan = SPI_prepare_extended(args->query, &popts);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_extended failed: %s", SPI_result_code_string(SPI_result));

	*ptype = InvalidOid;
	*values = NULL;
	if (vp.ntypes > 1 || (vp.ntypes == 1 && args->ntenants == 0))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_PARAMETER),
				 errmsg("benchmark query has parameters that no value is given for"),
				 errhint("Only $1 can be bound, to each of the tenants in turn.")));
	if (args->ntenants > 0)
	{
		Oid			typinput;
		Oid			typioparam;

		if (vp.ntypes == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenants are given but the benchmark query has no $1")));
		*ptype = vp.types[0];
		if (*ptype == InvalidOid || *ptype == UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine data type of parameter $1")));
		getTypeInputInfo(*ptype, &typinput, &typioparam);
		/* Converted in cxt: by-reference values live as long as the array. */
		old = MemoryContextSwitchTo(cxt);
		*values = palloc(sizeof(Datum) * args->ntenants);
		for (i = 0; i < args->ntenants; i++)
			(*values)[i] = OidInputFunctionCall(typinput, args->tenants[i],
												typioparam, -1);
		MemoryContextSwitchTo(old);
	}

	/*
	 * The plan must not keep the parser hook: the plan cache re-parses a
	 * statement when it revalidates it (after an invalidation, a change of
	 * search_path, an ANALYZE in another session), and the hook's argument
	 * is vp, in this stack frame.  So the statement is prepared again with
	 * $1's type fixed; the plan cache keeps its own copy of the types.
	 */
	SPI_freeplan(plan);
	plan = SPI_prepare(args->query, OidIsValid(*ptype) ? 1 : 0, ptype);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/* A one-parameter list for $1 of type ptype; the value is set per call. */
ParamListInfo
pa_bench_params(Oid ptype, MemoryContext cxt)
{
	MemoryContext old;
	ParamListInfo params;

	if (!OidIsValid(ptype))
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	params = makeParamList(1);
	MemoryContextSwitchTo(old);
	params->params[0].ptype = ptype;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].isnull = false;
	return params;
}

/*
 * min, percentiles, mean and standard deviation of the first n samples of
 * arr (a pa_samples_array()), which become its whole contents, sorted in
 * place unless they already are, and are kept in res.
 */
void
pa_bench_summarise(ArrayType *arr, int n, bool sorted, PaBenchResult *res)
{
	double	   *samples = PA_SAMPLES(arr);
	double		sum = 0;
	double		sumsq = 0;
	int			i;

	pa_samples_set_length(arr, n);
	if (!sorted)
		pa_sort_doubles(samples, n);
	for (i = 0; i < n; i++)
	{
		sum += samples[i];
		sumsq += samples[i] * samples[i];
	}
	res->samples_arr = arr;
	res->n = n;
	if (n == 0)
		return;
	res->min_ms = samples[0];
	res->max_ms = samples[n - 1];
	res->p50_ms = pa_percentile(samples, n, 0.50);
	res->p95_ms = pa_percentile(samples, n, 0.95);
	res->p99_ms = pa_percentile(samples, n, 0.99);
	res->mean_ms = sum / n;
	res->stddev_ms = n > 1 ?
		sqrt(Max(0.0, (sumsq - sum * sum / n) / (n - 1))) : 0;
}

/*
 * The measured part: warm-up, timed iterations, plan-cache counts.  Runs
 * inside pa_run_benchmark's PG_TRY, so everything it changes is in *res.
 */
static void
pa_bench_loop(SPIPlanPtr plan, const PaBenchArgs *args, Datum *tenant_values,
			  PaBenchResult *res, MemoryContext cxt, PaBenchProbe *probe)
{
	ParamListInfo params = pa_bench_params(res->ptype, cxt);
	ArrayType  *arr;
	uint64	   *ns;				/* the samples, in nanoseconds at first */
	uint64		rows = 0;
	BufferUsage buf_start;
	BufferUsage buf_use;
	Size		mem_start = 0;
	List	   *sources;
	instr_time	tick;
	int64		last;
	MemoryContext old;
	int64		n1;
	int64		spread;
	int			tenant;
	int			i;

	/*
	 * The warmup executions, not timed, are observed (each acting for the
	 * tenant bound to $1): the timed ones are not slowed by it.
	 */
	if (params)
		probe->tenants_observed = MemoryContextAllocZero(cxt, sizeof(bool) * args->ntenants);
	for (i = 0; i < args->warmup; i++)
	{
		int64		foreign = probe->tally.foreign;
		int64		observed = probe->tally.observed;

		CHECK_FOR_INTERRUPTS();
		if (params)
			params->params[0].value = tenant_values[i % args->ntenants];
		probe->acting = params ? args->tenants[i % args->ntenants] : NULL;
		(void) pa_bench_execute(plan, params, args->rollback);
		probe->acting = NULL;
		if (params && probe->tally.observed > observed)
			probe->tenants_observed[i % args->ntenants] = true;
		if (foreign == 0 && probe->tally.foreign > 0)
			probe->foreign_acting = args->tenants[i % args->ntenants];
	}

	/*
	 * The clock is read once per iteration: each sample runs from the end
	 * of the previous execution to the end of this one, so it includes the
	 * loop's own few instructions (the interrupt check, setting $1), as a
	 * caller's loop would.  Only after a memory checkpoint, which walks
	 * every memory context, is the clock read again before the execution.
	 * Whether iteration i takes a checkpoint is (i - 1) * K mod (n - 1) < K
	 * for K checkpoints over n iterations, evenly spread; the remainder is
	 * kept up to date by addition instead of a division per iteration.
	 */
	old = MemoryContextSwitchTo(cxt);
	arr = pa_samples_array(args->iterations);
	MemoryContextSwitchTo(old);
	ns = (uint64 *) PA_SAMPLES(arr);
	tenant = params ? args->warmup % args->ntenants : 0;
	n1 = args->iterations - 1;
	spread = 0;
	buf_start = pgBufferUsage;
	INSTR_TIME_SET_CURRENT(tick);
	last = PA_INSTR_TIME_GET_NANOSEC(tick);
	for (i = 0; i < args->iterations; i++)
	{
		int64		now;
		bool		reread = false;

		CHECK_FOR_INTERRUPTS();
		if (params)
		{
			params->params[0].value = tenant_values[tenant];
			if (++tenant == args->ntenants)
				tenant = 0;
		}
		if (i == 1 || args->iterations == 1)
		{
			mem_start = pa_backend_memory();
			reread = true;
		}
		if (i > 1)
		{
			/* spread = (i - 1) * K mod (n - 1) */
			spread += PA_MEM_CHECKPOINTS;
			while (spread >= n1)
				spread -= n1;
			if (res->n_mem_checkpoints < PA_MEM_CHECKPOINTS &&
				spread < PA_MEM_CHECKPOINTS)
			{
				pa_bench_mem_checkpoint(res, mem_start);
				reread = true;
			}
		}
		if (reread)
		{
			INSTR_TIME_SET_CURRENT(tick);
			last = PA_INSTR_TIME_GET_NANOSEC(tick);
		}
		rows += pa_bench_execute(plan, params, args->rollback);
		INSTR_TIME_SET_CURRENT(tick);
		now = PA_INSTR_TIME_GET_NANOSEC(tick);
		/* the monotonic clock never goes back: the difference is >= 0 */
		ns[i] = (uint64) (now - last);
		last = now;
	}
	/* Sorted as whole nanoseconds, then made milliseconds in place. */
	pa_sort_u64(ns, args->iterations);
	for (i = 0; i < args->iterations; i++)
	{
		double		ms = (double) ns[i] / 1000000.0;

		memcpy(&ns[i], &ms, sizeof(double));
	}
	res->memory_growth = (int64) pa_backend_memory() - (int64) mem_start;
	pa_bench_mem_checkpoint(res, mem_start);
	memset(&buf_use, 0, sizeof(buf_use));
	BufferUsageAccumDiff(&buf_use, &pgBufferUsage, &buf_start);

	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) == 1)
	{
		CachedPlanSource *ps = (CachedPlanSource *) linitial(sources);

		res->custom_plans = ps->num_custom_plans;
		res->generic_plans = ps->num_generic_plans;
	}

	pa_bench_summarise(arr, args->iterations, true, res);
	res->rows_per_call = (double) rows / args->iterations;
	res->shared_blks_hit = buf_use.shared_blks_hit;
	res->shared_blks_read = buf_use.shared_blks_read;
	res->throughput_qps = res->mean_ms > 0 ? 1000.0 / res->mean_ms : 0;
}

/* The plan source of a prepared one-statement plan. */
static const struct CachedPlanSource *
pa_bench_plan_source(SPIPlanPtr plan)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);

	return list_length(sources) == 1 ? (CachedPlanSource *) linitial(sources) : NULL;
}

/*
 * A benchmark's execution: keep what its plan says.  A generic plan is the
 * same plan every time and is inspected once; a custom plan is new each
 * time (and may differ per tenant) and is always inspected.
 */
static void
pa_bench_probe_inspect(QueryDesc *queryDesc, void *arg)
{
	PaBenchProbe *probe = (PaBenchProbe *) arg;
	const CachedPlan *gplan = probe->source ? probe->source->gplan : NULL;
	bool		generic;
	PaPlanFacts facts;
	bool		has_comment;

	/* A warmup execution for one tenant: the tenants of its rows. */
	if (probe->acting != NULL)
		pa_observe_execution(queryDesc, probe->acting, &probe->tally);

	generic = gplan != NULL &&
		list_member_ptr(gplan->stmt_list, queryDesc->plannedstmt);
	if (generic && probe->inspected_gplan == (const void *) gplan &&
		probe->inspected_generation == gplan->generation)
		return;

	pa_inspect_plan(queryDesc, &facts, &has_comment, false);
	if (generic)
	{
		probe->inspected_gplan = gplan;
		probe->inspected_generation = gplan->generation;
	}
	/* Keep the facts of the plan with the most sequential scans. */
	if (facts.facts != NULL &&
		(probe->facts == NULL || facts.seq_scans > probe->seq_scans))
	{
		if (probe->facts != NULL)
			pfree((void *) probe->facts);
		probe->facts = MemoryContextStrdup(probe->cxt, facts.facts);
	}
	probe->seq_scans = Max(probe->seq_scans, facts.seq_scans);
	probe->queryid = PA_QUERYID(queryDesc->plannedstmt);
}

void
pa_bench_probe_begin(PaBenchProbe *probe, SPIPlanPtr plan, MemoryContext cxt)
{
	memset(probe, 0, sizeof(*probe));
	probe->observer.level = pa_nesting_level;	/* SPI runs at the caller's level */
	probe->observer.fn = pa_bench_probe_inspect;
	probe->observer.arg = probe;
	probe->cxt = cxt;
	probe->tally.cxt = cxt;
	probe->source = pa_bench_plan_source(plan);
	probe->saved = pa_set_observer(&probe->observer);
}

void
pa_bench_probe_end(PaBenchProbe *probe)
{
	(void) pa_set_observer(probe->saved);
}

void
pa_run_benchmark(const PaBenchArgs *args, PaBenchResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan;
	Datum	   *tenant_values;
	PaBenchProbe probe;
	int			i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	plan = pa_bench_prepare(args, cxt, &res->ptype, &tenant_values);

	/* Watch the executions of the statement for its plan's facts. */
	pa_bench_probe_begin(&probe, plan, cxt);
	/* Its executions are the extension's own: not in runs or statistics. */
	pa_internal_enter();
	PG_TRY();
	{
		pa_bench_loop(plan, args, tenant_values, res, cxt, &probe);
	}
	PG_FINALLY();
	{
		pa_internal_exit();
		pa_bench_probe_end(&probe);
	}
	PG_END_TRY();

	SPI_freeplan(plan);
	SPI_finish();

	res->seq_scans = probe.seq_scans;
	res->facts = probe.facts;
	res->queryid = probe.queryid;
	res->observed = probe.tally.observed;
	res->foreign = probe.tally.foreign;
	/* every tenant given observed, each execution observable */
	res->all_tenants_observed = args->ntenants > 0 && probe.tally.unobserved == 0 &&
		probe.tenants_observed != NULL;
	for (i = 0; res->all_tenants_observed && i < args->ntenants; i++)
		res->all_tenants_observed = probe.tenants_observed[i];
	res->foreign_acting = probe.foreign_acting;
	res->foreign_tenants = probe.tally.foreign_tenants;
	res->foreign_detail = probe.tally.foreign_detail;
}

/* ----------------------------------------------------------------
 * benchmark(query, iterations, warmup, tenants, label, rollback)
 * ----------------------------------------------------------------
 */

void
pa_bench_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

void
pa_bench_args_from_call(FunctionCallInfo fcinfo, PaBenchArgs *args,
						int query_arg, int iter_arg, int warmup_arg,
						int tenants_arg)
{
	memset(args, 0, sizeof(*args));
	pa_bench_arg_not_null(fcinfo, query_arg, "query");
	args->query = text_to_cstring(PG_GETARG_TEXT_PP(query_arg));
	if (iter_arg >= 0)
	{
		pa_bench_arg_not_null(fcinfo, iter_arg, "iterations");
		args->iterations = PG_GETARG_INT32(iter_arg);
	}
	else
		args->iterations = 1;
	if (warmup_arg >= 0)
	{
		pa_bench_arg_not_null(fcinfo, warmup_arg, "warmup");
		args->warmup = PG_GETARG_INT32(warmup_arg);
	}
	if (args->iterations < 1 || args->iterations > PA_MAX_ITERATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and %d", PA_MAX_ITERATIONS),
				 errdetail("iterations = %d", args->iterations)));
	if (args->warmup < 0 || args->warmup > PA_MAX_WARMUP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("warmup must be between 0 and %d", PA_MAX_WARMUP),
				 errdetail("warmup = %d", args->warmup)));
	if (tenants_arg >= 0 && !PG_ARGISNULL(tenants_arg))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(tenants_arg);
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenants must not be an empty array"),
					 errhint("Pass NULL to run the query without parameters.")));
		args->tenants = palloc(sizeof(char *) * n);
		for (i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("tenants must not contain NULL")));
			args->tenants[i] = TextDatumGetCString(elems[i]);
		}
		args->ntenants = n;
	}
}

Datum
pa_benchmark(PG_FUNCTION_ARGS)
{
	PaBenchArgs args;
	PaBenchResult res;
	uint64		benchmark_id;
	TimestampTz started_at = GetCurrentTimestamp();

	pa_bench_args_from_call(fcinfo, &args, 0, 1, 2, 3);
	if (!PG_ARGISNULL(4))
		args.label = text_to_cstring(PG_GETARG_TEXT_PP(4));
	pa_check_label(args.label);
	pa_bench_arg_not_null(fcinfo, 5, "rollback");
	args.rollback = PG_GETARG_BOOL(5);
	args.clients = 1;

	/* Fail before measuring if the results could not be stored. */
	benchmark_id = pa_store_next_benchmark_id();

	memset(&res, 0, sizeof(res));
	pa_run_benchmark(&args, &res);

	PG_RETURN_DATUM(pa_bench_store(&args, &res, benchmark_id, started_at));
}

PG_FUNCTION_INFO_V1(pa_summarise_samples);

/*
 * _summarise_samples(samples float8[]): the samples sorted and their
 * summary, by the code benchmark() uses, so that its percentiles can be
 * checked against known sample sets.
 */
Datum
pa_summarise_samples(PG_FUNCTION_ARGS)
{
	ArrayType  *in = PG_GETARG_ARRAYTYPE_P(0);
	TupleDesc	tupdesc;
	PaBenchResult res;
	ArrayType  *arr;
	Datum		values[8];
	bool		nulls[8];
	int			n;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (ARR_NDIM(in) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("samples must be a one-dimensional array")));
	if (array_contains_nulls(in))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("samples must not contain NULL")));
	n = ArrayGetNItems(ARR_NDIM(in), ARR_DIMS(in));
	arr = pa_samples_array(n);
	if (n > 0)
	{
		/*
		 * ARR_DATA_PTR, spelt out (the macro mixes signedness): an array
		 * without NULLs may still carry a null bitmap (a slice keeps its
		 * source's), and then the data starts at dataoffset.
		 */
		Size		off = ARR_HASNULL(in) ? (Size) in->dataoffset :
			ARR_OVERHEAD_NONULLS(ARR_NDIM(in));

		memcpy(PA_SAMPLES(arr), (char *) in + off, sizeof(double) * n);
	}
	for (i = 0; i < n; i++)
		if (isnan(PA_SAMPLES(arr)[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("samples must not contain NaN")));

	memset(&res, 0, sizeof(res));
	pa_bench_summarise(arr, n, false, &res);
	memset(nulls, n == 0, sizeof(nulls));
	nulls[0] = false;
	values[0] = PointerGetDatum(arr);
	values[1] = Float8GetDatum(res.min_ms);
	values[2] = Float8GetDatum(res.p50_ms);
	values[3] = Float8GetDatum(res.p95_ms);
	values[4] = Float8GetDatum(res.p99_ms);
	values[5] = Float8GetDatum(res.max_ms);
	values[6] = Float8GetDatum(res.mean_ms);
	values[7] = Float8GetDatum(res.stddev_ms);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
pa_bench_store(const PaBenchArgs *args,
			   PaBenchResult *res, uint64 benchmark_id, TimestampTz started_at)
{
	StringInfoData doc;
	StringInfoData findings;
	int			nfindings = 0;

	/* The findings of its plan, tied to the benchmark. */
	initStringInfo(&findings);
	if (res->facts != NULL)
	{
		PaGroupSummary g;
		PaFindingOwner owner = {0, benchmark_id, GetUserId()};

		memset(&g, 0, sizeof(g));
		g.stmt.queryid = res->queryid;
		g.stmt.query = args->query;
		g.stmt.calls = res->n;
		g.stmt.total_ms = res->mean_ms * res->n;
		g.nfacts = 1;
		g.facts[0] = res->facts;

		/*
		 * Observed in its warmup, each execution acting for its tenant:
		 * rows of another tenant are cross_tenant_access; when every
		 * tenant was observed and none read another's, the unscoped read
		 * is low, as in a run.
		 */
		if (res->foreign > 0)
		{
			g.foreign_calls = res->foreign;
			g.observed = res->foreign_tenants;
			g.observed_detail = res->foreign_detail;
		}
		else if (res->all_tenants_observed)
		{
			g.acting_calls = g.stmt.calls;
			g.observed_calls = g.stmt.calls;
		}
		nfindings = pa_detect_plan_findings(&findings, &owner, &g, res->foreign_acting);
	}

	initStringInfo(&doc);
	pa_store_benchmark_doc(&doc, args, res, benchmark_id, started_at, GetUserId(),
						   nfindings, findings.data);

	if (res->samples_arr == NULL)
		res->samples_arr = pa_samples_array(0);

	/* The samples go in binary, beside the document. */
	pa_persist(PA_PERSIST_BENCHMARK, doc.data, doc.len, res->samples_arr);

	/* The row, as stored: built from the document by the same function. */
	return pa_store_benchmark_row(doc.data, res->samples_arr);
}
