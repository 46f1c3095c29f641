/*-------------------------------------------------------------------------
 *
 * store.h
 *		The stored shape: the only C code that knows the columns of the
 *		perfaudit.* tables (runs, run_statements, findings, benchmarks,
 *		baselines) and their sequences.
 *
 * Callers fill plain structs; store.c writes them as the JSON documents
 * the writer's storing functions take, and builds the rows SQL functions
 * return.  A returned row is filled column by column by name: a name the
 * row type does not have is an error, never a silent NULL (only columns
 * that an older installed version of the SQL objects may lack are
 * optional, so that a new library keeps working before ALTER EXTENSION
 * UPDATE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_STORE_H
#define PA_STORE_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "stats.h"

/*
 * The OID of one of the extension's relations in schema perfaudit, or an
 * error saying the extension is not installed in this database.
 */
extern Oid	pa_extension_relation(const char *relname);

/* The next runs.run_id / benchmarks.benchmark_id. */
extern uint64 pa_store_next_run_id(void);
extern uint64 pa_store_next_benchmark_id(void);

/* A perfaudit.runs row. */
typedef struct PaRunRow
{
	uint64		run_id;
	const char *label;			/* NULL: none */
	const char *scope;			/* "session" or "database" */
	const char *database;
	int			pid;
	TimestampTz started_at;
	TimestampTz stopped_at;
	uint64		statements;
	double		total_ms;
	double		max_ms;
	int			findings;
	Oid			userid;
	const char *track;
	uint64		overflow;
	uint64		texts_dropped;
	const char *tenant_latency; /* JSON array (pa_store_tenant_latency) */
} PaRunRow;

/*
 * A perfaudit.run_statements row; pa_store_statement() fills in run_id,
 * userid and mean_ms.
 */
typedef struct PaStatementRow
{
	uint64		run_id;
	Oid			userid;
	uint64		queryid;
	const char *tenant;			/* NULL: none */
	const char *query;
	int64		calls;
	int64		distinct_params;
	double		total_ms;
	double		min_ms;
	double		max_ms;
	uint64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		seq_scans;
	int32		nesting_level;
	double		plan_ms;
	double		mean_ms;
} PaStatementRow;

/* Who a finding belongs to: a run or a benchmark (the other is 0). */
typedef struct PaFindingOwner
{
	uint64		run_id;
	uint64		benchmark_id;
	Oid			userid;
} PaFindingOwner;

/* A perfaudit.findings row; pa_store_finding() fills in the owner's columns. */
typedef struct PaFinding
{
	uint64		run_id;			/* 0: a benchmark's */
	uint64		benchmark_id;	/* 0: a run's */
	Oid			userid;
	const char *kind;
	const char *severity;
	uint64		queryid;
	const char *tenant;			/* NULL: none */
	int64		calls;
	double		total_ms;
	const char *query;
	const char *relation;		/* NULL: none */
	const char *message;
	const char *suggestion;		/* NULL: none */
	const char *detail;			/* a JSON object */
} PaFinding;

/*
 * Append one element to a JSON array under construction: *count says how
 * many are there already, and is raised.
 */
extern void pa_store_statement(StringInfo buf, int *count, uint64 run_id, Oid userid,
							   const PaStatementRow *row);
extern void pa_store_finding(StringInfo buf, int *count, const PaFindingOwner *owner,
							 const PaFinding *f);

/*
 * runs.tenant_latency: one object per tenant (NULL: no tenant) with exact
 * percentiles and the bucket counts; sorts each distribution's durations.
 */
extern void pa_store_tenant_latency(StringInfo buf, int n, const char *const *tenants,
									PaLatency *const *latencies);

/* The document _store_run() takes: the run, its statements and findings. */
extern void pa_store_run_doc(StringInfo doc, const PaRunRow *run,
							 const char *statements, const char *findings);

/*
 * The run as stop() returns it (a perfaudit.runs row of fcinfo's result
 * type).  pa_store_check_run_row() raises the error building it would, so
 * that stop() can refuse before it stores anything.
 */
extern void pa_store_check_run_row(FunctionCallInfo fcinfo);
extern Datum pa_store_run_row(FunctionCallInfo fcinfo, const PaRunRow *run);

/*
 * A benchmark: what it was asked (PaBenchArgs) and what it measured
 * (PaBenchResult), together a perfaudit.benchmarks row.
 */
/* Memory is sampled at this many points across the timed iterations. */
#define PA_MEM_CHECKPOINTS	10

typedef struct PaBenchArgs
{
	char	   *query;
	int			iterations;
	int			warmup;
	int			ntenants;
	char	  **tenants;		/* $1's values, as text */
	bool		rollback;
	int			clients;		/* 1 for benchmark() */
	char	   *label;
} PaBenchArgs;

typedef struct PaBenchResult
{
	int			n;
	ArrayType  *samples_arr;	/* float8[] of the n samples, sorted */
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
	int			n_mem_checkpoints;
	int64		mem_checkpoints[PA_MEM_CHECKPOINTS + 1];	/* growth so far */
	int64		custom_plans;
	int64		generic_plans;
	Oid			ptype;			/* $1's inferred type, or InvalidOid */
	uint64		queryid;
	const char *facts;			/* plan facts (facts.h), or NULL */

	/*
	 * benchmark() with tenants: its warmup executions, each acting for the
	 * tenant bound to $1, observed (hooks.h); all_tenants_observed when
	 * every tenant given was so observed and every execution could be.
	 */
	int64		observed;
	int64		foreign;		/* read or wrote another tenant's rows */
	bool		all_tenants_observed;
	const char *foreign_acting; /* the first such execution's tenant */
	const char *foreign_tenants;	/* ... the others it read */
	const char *foreign_detail;
	double		throughput_qps;
	int64		errors;
	/* benchmark_concurrent() only */
	const char *error_counts;	/* JSON object: SQLSTATE -> count, message */
	double		wall_ms;
	double		single_p50_ms;
	double		single_p95_ms;
	double		single_throughput_qps;
} PaBenchResult;

/*
 * The document _store_benchmark() takes (its samples go beside it):
 * benchmark_clients()'s columns when clients > 1 or error_counts is set.
 */
extern void pa_store_benchmark_doc(StringInfo doc, const PaBenchArgs *args,
								   const PaBenchResult *res, uint64 benchmark_id,
								   TimestampTz started_at, Oid userid,
								   int nfindings, const char *findings);

/*
 * The perfaudit.benchmarks row of a document and its samples: what
 * _store_benchmark() inserts (through _benchmark_row()) and what
 * benchmark() returns, built by the same code.
 */
extern Datum pa_store_benchmark_row(const char *doc, ArrayType *samples);

/* The role owning baseline name (read past row-level security), or InvalidOid. */
extern Oid	pa_store_baseline_owner(text *name);

#endif							/* PA_STORE_H */
