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
 * on its own, around the SPI call only, and the samples kept: percentiles
 * are exact (linear interpolation between the two closest ranks, the
 * definition of percentile_cont, so they can be checked against
 * percentile_cont over benchmarks.samples_ms).  With rollback, each
 * execution runs in a subtransaction that is rolled back, so writes leave
 * nothing behind; the subtransaction's cost is then part of the samples.
 *
 * The executor hook watches the statement's executions (hooks.c,
 * PaBenchProbe): the plan analysis that capture runs use gives the
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
#include "pg_perfaudit.h"

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

#include "bench.h"
#include "detect.h"
#include "hooks.h"
#include "jsonout.h"
#include "persist.h"
#include "plan_inspect.h"

/* Upper bounds that keep a mistyped argument from exhausting memory. */
#define PA_MAX_ITERATIONS	10000000
#define PA_MAX_WARMUP		10000000

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

/* percentile_cont over sorted samples. */
static double
pa_percentile(const double *sorted, int n, double p)
{
	double		pos = p * (n - 1);
	int			lo = (int) floor(pos);
	int			hi = (int) ceil(pos);

	if (n == 0)
		return 0;
	if (lo == hi)
		return sorted[lo];
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

static int
pa_cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static Size
pa_backend_memory(void)
{
	return MemoryContextMemAllocated(TopMemoryContext, true);
}

/* One execution of the prepared statement; returns the rows it processed. */
static uint64
pa_bench_execute(SPIPlanPtr plan, ParamListInfo params, bool rollback)
{
	SPIExecuteOptions opts;
	uint64		rows;
	int			ret;

	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = false;

	if (!rollback)
	{
		ret = SPI_execute_plan_extended(plan, &opts);
		if (ret < 0)
			elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
		rows = SPI_processed;
		SPI_freetuptable(SPI_tuptable);
		return rows;
	}
	else
	{
		MemoryContext oldcxt = CurrentMemoryContext;
		ResourceOwner oldowner = CurrentResourceOwner;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			ret = SPI_execute_plan_extended(plan, &opts);
			if (ret < 0)
				elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
			rows = SPI_processed;
			SPI_freetuptable(SPI_tuptable);
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
}

/*
 * The measured part: warm-up, timed iterations, plan-cache counts.  Runs
 * inside pa_run_benchmark's PG_TRY, so everything it changes is in *res.
 */
static void
pa_bench_loop(SPIPlanPtr plan, const PaBenchArgs *args, const PaVarParams *vp,
			  PaBenchResult *res, MemoryContext cxt)
{
	ParamListInfo params = NULL;
	Datum	   *tenant_values = NULL;
	double	   *samples;
	double		sum = 0;
	double		sumsq = 0;
	uint64		rows = 0;
	BufferUsage buf_start;
	BufferUsage buf_use;
	Size		mem_start = 0;
	List	   *sources;
	int			i;

	if (vp->ntypes > 1 || (vp->ntypes == 1 && args->ntenants == 0))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_PARAMETER),
				 errmsg("benchmark query has parameters that no value is given for"),
				 errhint("Only $1 can be bound, to each of the tenants in turn.")));
	if (args->ntenants > 0)
	{
		Oid			typinput;
		Oid			typioparam;

		if (vp->ntypes == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenants are given but the benchmark query has no $1")));
		res->ptype = vp->types[0];
		if (res->ptype == InvalidOid || res->ptype == UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine data type of parameter $1")));
		getTypeInputInfo(res->ptype, &typinput, &typioparam);
		tenant_values = MemoryContextAlloc(cxt, sizeof(Datum) * args->ntenants);
		for (i = 0; i < args->ntenants; i++)
			tenant_values[i] = OidInputFunctionCall(typinput, args->tenants[i],
													typioparam, -1);
		params = makeParamList(1);
		params->params[0].ptype = res->ptype;
		params->params[0].pflags = PARAM_FLAG_CONST;
		params->params[0].isnull = false;
	}

	for (i = 0; i < args->warmup; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (params)
			params->params[0].value = tenant_values[i % args->ntenants];
		(void) pa_bench_execute(plan, params, args->rollback);
	}

	samples = MemoryContextAlloc(cxt, sizeof(double) * args->iterations);
	buf_start = pgBufferUsage;
	for (i = 0; i < args->iterations; i++)
	{
		instr_time	start;
		instr_time	duration;

		CHECK_FOR_INTERRUPTS();
		if (params)
			params->params[0].value =
				tenant_values[(args->warmup + i) % args->ntenants];
		if (i == 1 || args->iterations == 1)
			mem_start = pa_backend_memory();
		INSTR_TIME_SET_CURRENT(start);
		rows += pa_bench_execute(plan, params, args->rollback);
		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		samples[i] = INSTR_TIME_GET_MILLISEC(duration);
		sum += samples[i];
		sumsq += samples[i] * samples[i];
	}
	res->memory_growth = (int64) pa_backend_memory() - (int64) mem_start;
	memset(&buf_use, 0, sizeof(buf_use));
	BufferUsageAccumDiff(&buf_use, &pgBufferUsage, &buf_start);

	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) == 1)
	{
		CachedPlanSource *ps = (CachedPlanSource *) linitial(sources);

		res->custom_plans = ps->num_custom_plans;
		res->generic_plans = ps->num_generic_plans;
	}

	qsort(samples, args->iterations, sizeof(double), pa_cmp_double);
	res->samples = samples;
	res->n = args->iterations;
	res->min_ms = samples[0];
	res->max_ms = samples[args->iterations - 1];
	res->p50_ms = pa_percentile(samples, args->iterations, 0.50);
	res->p95_ms = pa_percentile(samples, args->iterations, 0.95);
	res->p99_ms = pa_percentile(samples, args->iterations, 0.99);
	res->mean_ms = sum / args->iterations;
	res->stddev_ms = args->iterations > 1 ?
		sqrt(Max(0.0, (sumsq - sum * sum / args->iterations) / (args->iterations - 1))) : 0;
	res->rows_per_call = (double) rows / args->iterations;
	res->shared_blks_hit = buf_use.shared_blks_hit;
	res->shared_blks_read = buf_use.shared_blks_read;
}

void
pa_run_benchmark(const PaBenchArgs *args, PaBenchResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	PaVarParams vp = {NULL, 0};
	SPIPrepareOptions popts;
	SPIPlanPtr	plan;
	PaBenchProbe probe;
	PaBenchProbe *saved_probe = pa_bench_probe;

	pa_check_statement(args->query);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	memset(&popts, 0, sizeof(popts));
	popts.parserSetup = pa_varparams_setup;
	popts.parserSetupArg = &vp;
	popts.parseMode = RAW_PARSE_DEFAULT;
	plan = SPI_prepare_extended(args->query, &popts);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_extended failed: %s", SPI_result_code_string(SPI_result));

	/* Watch the executions of the statement for its plan's facts. */
	memset(&probe, 0, sizeof(probe));
	probe.level = pa_nesting_level;	/* SPI runs at the caller's level */
	probe.cxt = cxt;
	pa_bench_probe = &probe;
	PG_TRY();
	{
		pa_bench_loop(plan, args, &vp, res, cxt);
	}
	PG_FINALLY();
	{
		pa_bench_probe = saved_probe;
	}
	PG_END_TRY();

	SPI_freeplan(plan);
	SPI_finish();

	res->seq_scans = probe.seq_scans;
	res->facts = probe.facts;
	res->queryid = probe.queryid;
}

/* ----------------------------------------------------------------
 * benchmark(query, iterations, warmup, tenants, label, rollback)
 * ----------------------------------------------------------------
 */

static void
pa_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *name)
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
	pa_arg_not_null(fcinfo, query_arg, "query");
	args->query = text_to_cstring(PG_GETARG_TEXT_PP(query_arg));
	if (iter_arg >= 0)
	{
		pa_arg_not_null(fcinfo, iter_arg, "iterations");
		args->iterations = PG_GETARG_INT32(iter_arg);
	}
	else
		args->iterations = 1;
	if (warmup_arg >= 0)
	{
		pa_arg_not_null(fcinfo, warmup_arg, "warmup");
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
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	StringInfoData doc;
	StringInfoData findings;
	bool		first = true;
	uint64		benchmark_id;
	TimestampTz started_at = GetCurrentTimestamp();
	char	   *label = NULL;
	int			nfindings = 0;
	List	   *seq_tables = NIL;
	int			i;

	pa_bench_args_from_call(fcinfo, &args, 0, 1, 2, 3);
	if (!PG_ARGISNULL(4))
		label = text_to_cstring(PG_GETARG_TEXT_PP(4));
	pa_arg_not_null(fcinfo, 5, "rollback");
	args.rollback = PG_GETARG_BOOL(5);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* Fail before measuring if the results could not be stored. */
	benchmark_id = (uint64) nextval_internal(pa_extension_sequence("benchmarks_benchmark_id_seq"), false);

	memset(&res, 0, sizeof(res));
	pa_run_benchmark(&args, &res);

	/* Tables scanned sequentially, from the seq_scan facts. */
	if (res.facts != NULL)
	{
		const char *p = res.facts;

		while (*p != '\0')
		{
			const char *end = strchr(p, PA_FACT_END);
			const char *rel = strchr(p, PA_FACT_FIELD_SEP);

			if (end == NULL || rel == NULL || rel > end)
				break;
			if (strncmp(p, "seq_scan", rel - p) == 0 && rel - p == 8)
			{
				const char *relend = strchr(rel + 1, PA_FACT_FIELD_SEP);

				if (relend != NULL && relend < end)
					seq_tables = lappend(seq_tables, pnstrdup(rel + 1, relend - rel - 1));
			}
			p = end + 1;
		}
	}

	/* The findings of its plan, tied to the benchmark. */
	initStringInfo(&findings);
	if (res.facts != NULL)
	{
		PaGroupSummary g;

		memset(&g, 0, sizeof(g));
		g.queryid = res.queryid;
		g.text = args.query;
		g.calls = res.n;
		g.total_ms = res.mean_ms * res.n;
		g.nesting_level = 0;
		g.nfacts = 1;
		g.facts[0] = res.facts;
		nfindings = pa_benchmark_findings(&findings, benchmark_id, GetUserId(), &g);
	}

	initStringInfo(&doc);
	appendStringInfo(&doc, "{\"findings\":[%s],\"benchmark\":{", findings.data);
	pa_json_int(&doc, "benchmark_id", (int64) benchmark_id, &first);
	pa_json_str(&doc, "label", label, &first);
	pa_json_str(&doc, "query", args.query, &first);
	pa_json_int(&doc, "iterations", args.iterations, &first);
	pa_json_int(&doc, "warmup", args.warmup, &first);
	pa_json_int(&doc, "clients", 1, &first);
	pa_json_num(&doc, "min_ms", res.min_ms, &first);
	pa_json_num(&doc, "p50_ms", res.p50_ms, &first);
	pa_json_num(&doc, "p95_ms", res.p95_ms, &first);
	pa_json_num(&doc, "p99_ms", res.p99_ms, &first);
	pa_json_num(&doc, "max_ms", res.max_ms, &first);
	pa_json_num(&doc, "mean_ms", res.mean_ms, &first);
	pa_json_num(&doc, "stddev_ms", res.stddev_ms, &first);
	pa_json_num(&doc, "rows_per_call", res.rows_per_call, &first);
	pa_json_int(&doc, "shared_blks_hit", res.shared_blks_hit, &first);
	pa_json_int(&doc, "shared_blks_read", res.shared_blks_read, &first);
	pa_json_int(&doc, "seq_scans", res.seq_scans, &first);
	pa_json_int(&doc, "memory_growth_bytes", res.memory_growth, &first);
	pa_json_num(&doc, "throughput_qps", res.mean_ms > 0 ? 1000.0 / res.mean_ms : 0, &first);
	pa_json_int(&doc, "errors", 0, &first);
	pa_json_ts(&doc, "started_at", started_at, &first);
	pa_json_int(&doc, "userid", GetUserId(), &first);
	pa_json_int(&doc, "custom_plans", res.custom_plans, &first);
	pa_json_int(&doc, "generic_plans", res.generic_plans, &first);
	pa_json_str(&doc, "tenants_type", OidIsValid(res.ptype) ? format_type_be(res.ptype) : NULL, &first);
	pa_json_int(&doc, "findings", nfindings, &first);
	pa_json_raw(&doc, "rollback", args.rollback ? "true" : "false", &first);
	appendStringInfoString(&doc, ",\"seq_scan_tables\":[");
	for (i = 0; i < list_length(seq_tables); i++)
	{
		if (i > 0)
			appendStringInfoChar(&doc, ',');
		escape_json(&doc, (char *) list_nth(seq_tables, i));
	}
	appendStringInfoChar(&doc, ']');
	appendStringInfoString(&doc, ",\"samples_ms\":[");
	for (i = 0; i < res.n; i++)
		appendStringInfo(&doc, "%s%.17g", i > 0 ? "," : "", res.samples[i]);
	appendStringInfoString(&doc, "]}}");

	pa_persist(PA_PERSIST_BENCHMARK, doc.data, doc.len);

	/* The row, as stored. */
	values = palloc0(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
		nulls[i] = true;
	pa_set_column(tupdesc, values, nulls, "benchmark_id", Int64GetDatum((int64) benchmark_id), false);
	pa_set_column(tupdesc, values, nulls, "label", label ? CStringGetTextDatum(label) : (Datum) 0, label == NULL);
	pa_set_column(tupdesc, values, nulls, "query", CStringGetTextDatum(args.query), false);
	pa_set_column(tupdesc, values, nulls, "iterations", Int32GetDatum(args.iterations), false);
	pa_set_column(tupdesc, values, nulls, "warmup", Int32GetDatum(args.warmup), false);
	pa_set_column(tupdesc, values, nulls, "clients", Int32GetDatum(1), false);
	pa_set_column(tupdesc, values, nulls, "min_ms", Float8GetDatum(res.min_ms), false);
	pa_set_column(tupdesc, values, nulls, "p50_ms", Float8GetDatum(res.p50_ms), false);
	pa_set_column(tupdesc, values, nulls, "p95_ms", Float8GetDatum(res.p95_ms), false);
	pa_set_column(tupdesc, values, nulls, "p99_ms", Float8GetDatum(res.p99_ms), false);
	pa_set_column(tupdesc, values, nulls, "max_ms", Float8GetDatum(res.max_ms), false);
	pa_set_column(tupdesc, values, nulls, "mean_ms", Float8GetDatum(res.mean_ms), false);
	pa_set_column(tupdesc, values, nulls, "stddev_ms", Float8GetDatum(res.stddev_ms), false);
	pa_set_column(tupdesc, values, nulls, "rows_per_call", Float8GetDatum(res.rows_per_call), false);
	pa_set_column(tupdesc, values, nulls, "shared_blks_hit", Int64GetDatum(res.shared_blks_hit), false);
	pa_set_column(tupdesc, values, nulls, "shared_blks_read", Int64GetDatum(res.shared_blks_read), false);
	pa_set_column(tupdesc, values, nulls, "seq_scans", Int64GetDatum(res.seq_scans), false);
	pa_set_column(tupdesc, values, nulls, "memory_growth_bytes", Int64GetDatum(res.memory_growth), false);
	pa_set_column(tupdesc, values, nulls, "throughput_qps",
		   Float8GetDatum(res.mean_ms > 0 ? 1000.0 / res.mean_ms : 0), false);
	pa_set_column(tupdesc, values, nulls, "errors", Int64GetDatum(0), false);
	pa_set_column(tupdesc, values, nulls, "started_at", TimestampTzGetDatum(started_at), false);
	pa_set_column(tupdesc, values, nulls, "userid", ObjectIdGetDatum(GetUserId()), false);
	pa_set_column(tupdesc, values, nulls, "custom_plans", Int64GetDatum(res.custom_plans), false);
	pa_set_column(tupdesc, values, nulls, "generic_plans", Int64GetDatum(res.generic_plans), false);
	pa_set_column(tupdesc, values, nulls, "findings", Int32GetDatum(nfindings), false);
	pa_set_column(tupdesc, values, nulls, "rollback", BoolGetDatum(args.rollback), false);
	pa_set_column(tupdesc, values, nulls, "tenants_type",
		   OidIsValid(res.ptype) ? CStringGetTextDatum(format_type_be(res.ptype)) : (Datum) 0,
		   !OidIsValid(res.ptype));
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(1, list_length(seq_tables)));

		for (i = 0; i < list_length(seq_tables); i++)
			elems[i] = CStringGetTextDatum((char *) list_nth(seq_tables, i));
		pa_set_column(tupdesc, values, nulls, "seq_scan_tables",
			   PointerGetDatum(construct_array(elems, list_length(seq_tables), TEXTOID,
											   -1, false, TYPALIGN_INT)),
			   false);
	}
	{
		Datum	   *elems = palloc(sizeof(Datum) * res.n);

		for (i = 0; i < res.n; i++)
			elems[i] = Float8GetDatum(res.samples[i]);
		pa_set_column(tupdesc, values, nulls, "samples_ms",
			   PointerGetDatum(construct_array(elems, res.n, FLOAT8OID, 8,
											   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
			   false);
	}
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
