/*-------------------------------------------------------------------------
 *
 * store.c
 *		The stored shape of results: documents for the writer's storing
 *		functions, the rows SQL functions return, the sequences, and the
 *		baselines' owner lookup.  See store.h.
 *
 * Every column name of the perfaudit.* tables that C code writes is in
 * this file, once for the JSON document and, for the rows returned
 * directly, once for the row.  The SQL side (sql-src/) defines the tables
 * and the storing functions that read these documents.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "facts.h"
#include "hooks.h"
#include "jsonout.h"
#include "stats.h"
#include "store.h"

PG_FUNCTION_INFO_V1(pa_benchmark_row_sql);

/* ----------------------------------------------------------------
 * Relations and sequences
 * ----------------------------------------------------------------
 */

/*
 * The OID of one of the extension's relations in schema perfaudit, or an
 * error saying the extension is not installed in this database.
 */
Oid
pa_extension_relation(const char *relname)
{
	Oid			nsp = get_namespace_oid("perfaudit", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_perfaudit is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION pg_perfaudit in this database.")));
	return rel;
}

static uint64
pa_next_id(const char *seqname)
{
	return (uint64) nextval_internal(pa_extension_relation(seqname), false);
}

uint64
pa_store_next_run_id(void)
{
	return pa_next_id("runs_run_id_seq");
}

uint64
pa_store_next_benchmark_id(void)
{
	return pa_next_id("benchmarks_benchmark_id_seq");
}

/* ----------------------------------------------------------------
 * Columns
 * ----------------------------------------------------------------
 */

/* How a column is held in its C struct, and its SQL type. */
typedef enum PaColType
{
	PA_COL_INT8,				/* int64 */
	PA_COL_ID,					/* uint64, stored as bigint */
	PA_COL_INT4,				/* int */
	PA_COL_OID,					/* Oid */
	PA_COL_FLOAT8,				/* double */
	PA_COL_TEXT,				/* const char *, NULL: SQL NULL */
	PA_COL_NAME,				/* const char *, as name */
	PA_COL_TIMESTAMPTZ,			/* TimestampTz */
	PA_COL_JSONB				/* const char *: JSON text */
} PaColType;

/* Flags of a column */
#define PA_COL_OMIT_EMPTY	0x01	/* left out of the document when 0 / NULL */
#define PA_COL_OPTIONAL		0x02	/* a returned row may lack it: added after 0.1.0 */

/* One column of a table, and where its value is in the C struct. */
typedef struct PaColumn
{
	const char *name;
	PaColType	type;
	Size		offset;
	int			flags;
} PaColumn;

#define PA_COLUMN(st, field, type, flags) {#field, type, offsetof(st, field), flags}

static const PaColumn pa_run_columns[] = {
	PA_COLUMN(PaRunRow, run_id, PA_COL_ID, 0),
	PA_COLUMN(PaRunRow, label, PA_COL_TEXT, 0),
	PA_COLUMN(PaRunRow, scope, PA_COL_TEXT, 0),
	PA_COLUMN(PaRunRow, database, PA_COL_NAME, 0),
	PA_COLUMN(PaRunRow, pid, PA_COL_INT4, 0),
	PA_COLUMN(PaRunRow, started_at, PA_COL_TIMESTAMPTZ, 0),
	PA_COLUMN(PaRunRow, stopped_at, PA_COL_TIMESTAMPTZ, 0),
	PA_COLUMN(PaRunRow, statements, PA_COL_ID, 0),
	PA_COLUMN(PaRunRow, total_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaRunRow, max_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaRunRow, findings, PA_COL_INT4, 0),
	PA_COLUMN(PaRunRow, userid, PA_COL_OID, 0),
	PA_COLUMN(PaRunRow, track, PA_COL_TEXT, 0),
	PA_COLUMN(PaRunRow, overflow, PA_COL_ID, 0),
	PA_COLUMN(PaRunRow, texts_dropped, PA_COL_ID, 0),
	PA_COLUMN(PaRunRow, tenant_latency, PA_COL_JSONB, PA_COL_OPTIONAL),
};

static const PaColumn pa_statement_columns[] = {
	PA_COLUMN(PaStatementRow, run_id, PA_COL_ID, 0),
	PA_COLUMN(PaStatementRow, queryid, PA_COL_ID, 0),
	PA_COLUMN(PaStatementRow, tenant, PA_COL_TEXT, 0),
	PA_COLUMN(PaStatementRow, query, PA_COL_TEXT, 0),
	PA_COLUMN(PaStatementRow, calls, PA_COL_INT8, 0),
	PA_COLUMN(PaStatementRow, distinct_params, PA_COL_INT8, 0),
	PA_COLUMN(PaStatementRow, total_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaStatementRow, min_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaStatementRow, max_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaStatementRow, mean_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaStatementRow, rows, PA_COL_ID, 0),
	PA_COLUMN(PaStatementRow, shared_blks_hit, PA_COL_INT8, 0),
	PA_COLUMN(PaStatementRow, shared_blks_read, PA_COL_INT8, 0),
	PA_COLUMN(PaStatementRow, seq_scans, PA_COL_INT8, 0),
	PA_COLUMN(PaStatementRow, nesting_level, PA_COL_INT4, 0),
	PA_COLUMN(PaStatementRow, plan_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaStatementRow, userid, PA_COL_OID, 0),
};

static const PaColumn pa_finding_columns[] = {
	PA_COLUMN(PaFinding, benchmark_id, PA_COL_ID, PA_COL_OMIT_EMPTY),
	PA_COLUMN(PaFinding, run_id, PA_COL_ID, PA_COL_OMIT_EMPTY),
	PA_COLUMN(PaFinding, kind, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, severity, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, queryid, PA_COL_ID, 0),
	PA_COLUMN(PaFinding, tenant, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, calls, PA_COL_INT8, 0),
	PA_COLUMN(PaFinding, total_ms, PA_COL_FLOAT8, 0),
	PA_COLUMN(PaFinding, query, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, userid, PA_COL_OID, 0),
	PA_COLUMN(PaFinding, relation, PA_COL_TEXT, PA_COL_OMIT_EMPTY),
	PA_COLUMN(PaFinding, message, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, suggestion, PA_COL_TEXT, 0),
	PA_COLUMN(PaFinding, detail, PA_COL_JSONB, 0),
};

#define PA_FIELD(row, col, type) (*(const type *) ((const char *) (row) + (col)->offset))

/* Append row as a JSON object of its columns. */
static void
pa_json_columns(StringInfo buf, const PaColumn *cols, int ncols, const void *row)
{
	bool		first = true;
	int			i;

	appendStringInfoChar(buf, '{');
	for (i = 0; i < ncols; i++)
	{
		const PaColumn *c = &cols[i];

		switch (c->type)
		{
			case PA_COL_INT8:
				pa_json_int(buf, c->name, PA_FIELD(row, c, int64), &first);
				break;
			case PA_COL_ID:
				if ((c->flags & PA_COL_OMIT_EMPTY) && PA_FIELD(row, c, uint64) == 0)
					break;
				pa_json_int(buf, c->name, (int64) PA_FIELD(row, c, uint64), &first);
				break;
			case PA_COL_INT4:
				pa_json_int(buf, c->name, PA_FIELD(row, c, int), &first);
				break;
			case PA_COL_OID:
				pa_json_int(buf, c->name, PA_FIELD(row, c, Oid), &first);
				break;
			case PA_COL_FLOAT8:
				pa_json_num(buf, c->name, PA_FIELD(row, c, double), &first);
				break;
			case PA_COL_TEXT:
			case PA_COL_NAME:
				if ((c->flags & PA_COL_OMIT_EMPTY) && PA_FIELD(row, c, char *) == NULL)
					break;
				pa_json_str(buf, c->name, PA_FIELD(row, c, char *), &first);
				break;
			case PA_COL_TIMESTAMPTZ:
				pa_json_ts(buf, c->name, PA_FIELD(row, c, TimestampTz), &first);
				break;
			case PA_COL_JSONB:
				pa_json_raw(buf, c->name, PA_FIELD(row, c, char *), &first);
				break;
		}
	}
	appendStringInfoChar(buf, '}');
}

static Oid
pa_col_typid(PaColType type)
{
	switch (type)
	{
		case PA_COL_INT8:
		case PA_COL_ID:
			return INT8OID;
		case PA_COL_INT4:
			return INT4OID;
		case PA_COL_OID:
			return OIDOID;
		case PA_COL_FLOAT8:
			return FLOAT8OID;
		case PA_COL_TEXT:
			return TEXTOID;
		case PA_COL_NAME:
			return NAMEOID;
		case PA_COL_TIMESTAMPTZ:
			return TIMESTAMPTZOID;
		case PA_COL_JSONB:
			return JSONBOID;
	}
	return InvalidOid;
}

static Datum
pa_col_datum(const PaColumn *c, const void *row, bool *isnull)
{
	*isnull = false;
	switch (c->type)
	{
		case PA_COL_INT8:
			return Int64GetDatum(PA_FIELD(row, c, int64));
		case PA_COL_ID:
			return Int64GetDatum((int64) PA_FIELD(row, c, uint64));
		case PA_COL_INT4:
			return Int32GetDatum(PA_FIELD(row, c, int));
		case PA_COL_OID:
			return ObjectIdGetDatum(PA_FIELD(row, c, Oid));
		case PA_COL_FLOAT8:
			return Float8GetDatum(PA_FIELD(row, c, double));
		case PA_COL_TIMESTAMPTZ:
			return TimestampTzGetDatum(PA_FIELD(row, c, TimestampTz));
		case PA_COL_TEXT:
		case PA_COL_NAME:
		case PA_COL_JSONB:
			break;
	}
	if (PA_FIELD(row, c, char *) == NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (c->type == PA_COL_TEXT)
		return CStringGetTextDatum(PA_FIELD(row, c, char *));
	if (c->type == PA_COL_NAME)
		return DirectFunctionCall1(namein, CStringGetDatum(PA_FIELD(row, c, char *)));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(PA_FIELD(row, c, char *)));
}

/*
 * row as a tuple of tupdesc (a function's composite result type): each
 * column by name, of the type the table has.  A column the row type lacks
 * is an error (a typo would otherwise go unnoticed as a NULL), unless
 * optional; a column of another type is an error too; columns of the row
 * type that cols does not name are NULL.  With row NULL, only checks.
 */
static Datum
pa_row_columns(TupleDesc tupdesc, const PaColumn *cols, int ncols, const void *row)
{
	Datum	   *values = palloc0(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	int			i,
				j;

	for (j = 0; j < tupdesc->natts; j++)
		nulls[j] = true;
	for (i = 0; i < ncols; i++)
	{
		const PaColumn *c = &cols[i];

		for (j = 0; j < tupdesc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, j);

			if (!att->attisdropped && strcmp(NameStr(att->attname), c->name) == 0)
				break;
		}
		if (j == tupdesc->natts)
		{
			if (c->flags & PA_COL_OPTIONAL)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("result type has no column \"%s\"", c->name),
					 errhint("The installed SQL objects of pg_perfaudit do not match its library: run ALTER EXTENSION pg_perfaudit UPDATE.")));
		}
		if (TupleDescAttr(tupdesc, j)->atttypid != pa_col_typid(c->type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the result type has type %s, not %s",
							c->name, format_type_be(TupleDescAttr(tupdesc, j)->atttypid),
							format_type_be(pa_col_typid(c->type))),
					 errhint("The installed SQL objects of pg_perfaudit do not match its library: run ALTER EXTENSION pg_perfaudit UPDATE.")));
		if (row != NULL)
			values[j] = pa_col_datum(c, row, &nulls[j]);
	}
	if (row == NULL)
		return (Datum) 0;		/* checked only */
	tupdesc = BlessTupleDesc(tupdesc);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* ----------------------------------------------------------------
 * Runs, their statements and findings
 * ----------------------------------------------------------------
 */

static void
pa_array_next(StringInfo buf, int *count)
{
	if (*count > 0)
		appendStringInfoChar(buf, ',');
	(*count)++;
}

void
pa_store_statement(StringInfo buf, int *count, uint64 run_id, Oid userid,
				   const PaStatementRow *r)
{
	PaStatementRow row = *r;

	row.run_id = run_id;
	row.userid = userid;
	row.mean_ms = r->total_ms / r->calls;
	pa_array_next(buf, count);
	pa_json_columns(buf, pa_statement_columns, lengthof(pa_statement_columns), &row);
}

void
pa_store_finding(StringInfo buf, int *count, const PaFindingOwner *owner,
				 const PaFinding *f)
{
	PaFinding	row = *f;

	row.run_id = owner->benchmark_id != 0 ? 0 : owner->run_id;
	row.benchmark_id = owner->benchmark_id;
	row.userid = owner->userid;
	pa_array_next(buf, count);
	pa_json_columns(buf, pa_finding_columns, lengthof(pa_finding_columns), &row);
}

void
pa_store_tenant_latency(StringInfo out, int n, const char *const *tenants,
						PaLatency *const *latencies)
{
	int			i,
				b;

	appendStringInfoChar(out, '[');
	for (i = 0; i < n; i++)
	{
		PaLatency  *t = latencies[i];
		bool		first = true;

		pa_sort_doubles(t->durations, t->calls);
		if (i > 0)
			appendStringInfoChar(out, ',');
		appendStringInfoChar(out, '{');
		pa_json_str(out, "tenant", tenants[i], &first);
		pa_json_int(out, "calls", t->calls, &first);
		pa_json_num(out, "total_ms", t->total_ms, &first);
		pa_json_num(out, "p50_ms", pa_percentile(t->durations, t->calls, 0.50), &first);
		pa_json_num(out, "p95_ms", pa_percentile(t->durations, t->calls, 0.95), &first);
		pa_json_num(out, "p99_ms", pa_percentile(t->durations, t->calls, 0.99), &first);
		pa_json_num(out, "max_ms", t->durations[t->calls - 1], &first);
		appendStringInfoString(out, ",\"bucket_upper_ms\":[");
		for (b = 0; b < PA_LATENCY_NBOUNDS; b++)
			appendStringInfo(out, "%s%g", b > 0 ? "," : "", pa_latency_bounds[b]);
		appendStringInfoString(out, ",null],\"bucket_counts\":[");
		for (b = 0; b < PA_LATENCY_BUCKETS; b++)
			appendStringInfo(out, "%s" INT64_FORMAT, b > 0 ? "," : "", t->counts[b]);
		appendStringInfoString(out, "]}");
	}
	appendStringInfoChar(out, ']');
}

void
pa_store_run_doc(StringInfo doc, const PaRunRow *run, const char *statements,
				 const char *findings)
{
	appendStringInfo(doc, "{\"statements\":[%s],\"findings\":[%s],\"run\":",
					 statements, findings);
	pa_json_columns(doc, pa_run_columns, lengthof(pa_run_columns), run);
	appendStringInfoChar(doc, '}');
}

static TupleDesc
pa_result_rowtype(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	return tupdesc;
}

void
pa_store_check_run_row(FunctionCallInfo fcinfo)
{
	(void) pa_row_columns(pa_result_rowtype(fcinfo), pa_run_columns,
						  lengthof(pa_run_columns), NULL);
}

Datum
pa_store_run_row(FunctionCallInfo fcinfo, const PaRunRow *run)
{
	return pa_row_columns(pa_result_rowtype(fcinfo), pa_run_columns,
						  lengthof(pa_run_columns), run);
}

/* ----------------------------------------------------------------
 * Benchmarks
 * ----------------------------------------------------------------
 */

/* Tables scanned sequentially, from the seq_scan facts of a plan. */
static void
pa_seq_scan_tables(StringInfo doc, const char *facts)
{
	const char *cursor = facts;
	PaFact		fact;
	int			n = 0;

	appendStringInfoString(doc, ",\"seq_scan_tables\":[");
	while (pa_fact_next(&cursor, &fact))
	{
		if (strcmp(fact.kind, "seq_scan") != 0)
			continue;
		if (n++ > 0)
			appendStringInfoChar(doc, ',');
		escape_json(doc, fact.relation);
	}
	appendStringInfoChar(doc, ']');
}

void
pa_store_benchmark_doc(StringInfo doc, const PaBenchArgs *args, const PaBenchResult *res,
					   uint64 benchmark_id, TimestampTz started_at, Oid userid,
					   int nfindings, const char *findings)
{
	bool		first = true;
	bool		concurrent = args->clients > 1 || res->error_counts != NULL;
	int			i;

	appendStringInfo(doc, "{\"findings\":[%s],\"benchmark\":{", findings);
	pa_json_int(doc, "benchmark_id", (int64) benchmark_id, &first);
	pa_json_str(doc, "label", args->label, &first);
	pa_json_str(doc, "query", args->query, &first);
	pa_json_int(doc, "iterations", args->iterations, &first);
	pa_json_int(doc, "warmup", args->warmup, &first);
	pa_json_int(doc, "clients", args->clients, &first);
	if (res->n > 0)
	{
		pa_json_num(doc, "min_ms", res->min_ms, &first);
		pa_json_num(doc, "p50_ms", res->p50_ms, &first);
		pa_json_num(doc, "p95_ms", res->p95_ms, &first);
		pa_json_num(doc, "p99_ms", res->p99_ms, &first);
		pa_json_num(doc, "max_ms", res->max_ms, &first);
		pa_json_num(doc, "mean_ms", res->mean_ms, &first);
		pa_json_num(doc, "stddev_ms", res->stddev_ms, &first);
		pa_json_num(doc, "rows_per_call", res->rows_per_call, &first);
	}
	pa_json_int(doc, "shared_blks_hit", res->shared_blks_hit, &first);
	pa_json_int(doc, "shared_blks_read", res->shared_blks_read, &first);
	pa_json_int(doc, "seq_scans", res->seq_scans, &first);
	if (!concurrent)
		pa_json_int(doc, "memory_growth_bytes", res->memory_growth, &first);
	pa_json_num(doc, "throughput_qps", res->throughput_qps, &first);
	pa_json_int(doc, "errors", res->errors, &first);
	pa_json_ts(doc, "started_at", started_at, &first);
	pa_json_int(doc, "userid", userid, &first);
	if (!concurrent)
	{
		pa_json_int(doc, "custom_plans", res->custom_plans, &first);
		pa_json_int(doc, "generic_plans", res->generic_plans, &first);
	}
	pa_json_str(doc, "tenants_type", OidIsValid(res->ptype) ? format_type_be(res->ptype) : NULL, &first);
	pa_json_int(doc, "findings", nfindings, &first);
	pa_json_raw(doc, "rollback", args->rollback ? "true" : "false", &first);
	if (concurrent)
	{
		pa_json_raw(doc, "error_counts", res->error_counts ? res->error_counts : "{}", &first);
		pa_json_num(doc, "wall_ms", res->wall_ms, &first);
		pa_json_num(doc, "single_p50_ms", res->single_p50_ms, &first);
		pa_json_num(doc, "single_p95_ms", res->single_p95_ms, &first);
		pa_json_num(doc, "single_throughput_qps", res->single_throughput_qps, &first);
		if (res->single_p95_ms > 0 && res->n > 0)
			pa_json_num(doc, "p95_degradation", res->p95_ms / res->single_p95_ms, &first);
	}
	else
	{
		appendStringInfoString(doc, ",\"memory_samples\":[");
		for (i = 0; i < res->n_mem_checkpoints; i++)
			appendStringInfo(doc, "%s" INT64_FORMAT, i > 0 ? "," : "", res->mem_checkpoints[i]);
		appendStringInfoChar(doc, ']');
	}
	pa_seq_scan_tables(doc, res->facts);
	appendStringInfoString(doc, "}}");
}

/*
 * The perfaudit.benchmarks row of a document and its samples: the
 * document's fields by jsonb_populate_record, samples_ms set to the array.
 * _benchmark_row() (which _store_benchmark() inserts) and benchmark()'s
 * own result both come from here, so the row returned is the row stored.
 * The array is set directly: through PL/pgSQL or JSON, tens of thousands
 * of samples would cost more than the benchmark of a fast statement.
 */
static Datum
pa_benchmark_row(Datum doc, Datum samples, bool samples_null)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1];
	Datum		row;
	bool		isnull;
	volatile int ret;
	HeapTupleHeader td;
	HeapTupleData tuple;
	TupleDesc	tupdesc;
	HeapTuple	modified;
	int			attnum = 0;
	int			i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = doc;
	pa_internal_enter();
	PG_TRY();
	{
		ret = SPI_execute_with_args("SELECT pg_catalog.jsonb_populate_record(NULL::perfaudit.benchmarks, "
									"$1 OPERATOR(pg_catalog.->) 'benchmark')",
									1, argtypes, args, NULL, true, 1);
	}
	PG_FINALLY();
	{
		pa_internal_exit();
	}
	PG_END_TRY();
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not build the benchmark row: %s", SPI_result_code_string(ret));
	row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "could not build the benchmark row");

	td = DatumGetHeapTupleHeader(row);
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(td), HeapTupleHeaderGetTypMod(td));
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), "samples_ms") == 0)
			attnum = i + 1;
	}
	if (attnum == 0)
		elog(ERROR, "perfaudit.benchmarks has no samples_ms column");
	/*
	 * Formed in the caller's context, the new tuple is already a valid
	 * composite datum (heap_form_tuple() fills in the datum header), and no
	 * value in it is toasted: no second copy of the samples is needed.
	 */
	MemoryContextSwitchTo(cxt);
	modified = heap_modify_tuple_by_cols(&tuple, tupdesc, 1, &attnum, &samples, &samples_null);
	if (HeapTupleHasExternal(modified))
		row = heap_copy_tuple_as_datum(modified, tupdesc);
	else
		row = PointerGetDatum(modified->t_data);
	ReleaseTupleDesc(tupdesc);
	SPI_finish();
	return row;
}

Datum
pa_store_benchmark_row(const char *doc, ArrayType *samples)
{
	return pa_benchmark_row(DirectFunctionCall1(jsonb_in, CStringGetDatum(doc)),
							PointerGetDatum(samples), false);
}

/* _benchmark_row(doc jsonb, samples float8[]) */
Datum
pa_benchmark_row_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(pa_benchmark_row(PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
									 PG_ARGISNULL(1)));
}

/* ----------------------------------------------------------------
 * Baselines
 * ----------------------------------------------------------------
 */

/*
 * The role that owns baseline name, or InvalidOid when there is none: read
 * past row-level security (no SQL runs), so that a name another role holds
 * is refused before anything is gathered.
 */
Oid
pa_store_baseline_owner(text *name)
{
	Relation	rel = table_open(pa_extension_relation("baselines"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	name_att = InvalidAttrNumber;
	AttrNumber	userid_att = InvalidAttrNumber;
	ScanKeyData key;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Oid			owner = InvalidOid;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (strcmp(NameStr(att->attname), "name") == 0 && att->atttypid == TEXTOID)
			name_att = att->attnum;
		else if (strcmp(NameStr(att->attname), "userid") == 0 && att->atttypid == OIDOID)
			userid_att = att->attnum;
	}
	if (name_att == InvalidAttrNumber || userid_att == InvalidAttrNumber)
		elog(ERROR, "perfaudit.baselines has no name or userid column");

	ScanKeyEntryInitialize(&key, 0, name_att, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(desc, name_att - 1)->attcollation,
						   F_TEXTEQ, PointerGetDatum(name));
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 1, &key);
	if (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, userid_att, &isnull);

		if (!isnull)
			owner = DatumGetObjectId(d);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return owner;
}
