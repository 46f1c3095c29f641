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
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

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
 * Returned rows
 * ----------------------------------------------------------------
 */

/* A row of a composite result type under construction. */
typedef struct PaRowBuilder
{
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
} PaRowBuilder;

static void
pa_row_begin(PaRowBuilder *row, TupleDesc tupdesc)
{
	int			i;

	row->tupdesc = tupdesc;
	row->values = palloc0(sizeof(Datum) * tupdesc->natts);
	row->nulls = palloc(sizeof(bool) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
		row->nulls[i] = true;
}

/*
 * Set column name.  A name the row type lacks is an error (a typo would
 * otherwise go unnoticed as a NULL), unless optional: a column added after
 * the first release, which the SQL objects of an older installed version
 * do not have yet.
 */
static void
pa_row_set(PaRowBuilder *row, const char *name, Datum value, bool isnull, bool optional)
{
	int			i;

	for (i = 0; i < row->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(row->tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			row->values[i] = value;
			row->nulls[i] = isnull;
			return;
		}
	}
	if (!optional)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("result type has no column \"%s\"", name),
				 errhint("The installed SQL objects of pg_perfaudit do not match its library: run ALTER EXTENSION pg_perfaudit UPDATE.")));
}

static Datum
pa_row_end(PaRowBuilder *row)
{
	TupleDesc	tupdesc = BlessTupleDesc(row->tupdesc);

	return HeapTupleGetDatum(heap_form_tuple(tupdesc, row->values, row->nulls));
}

static Datum
pa_text_or_null(const char *s)
{
	return s ? CStringGetTextDatum(s) : (Datum) 0;
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
	bool		first = true;

	pa_array_next(buf, count);
	appendStringInfoChar(buf, '{');
	pa_json_int(buf, "run_id", (int64) run_id, &first);
	pa_json_int(buf, "queryid", (int64) r->queryid, &first);
	pa_json_str(buf, "tenant", r->tenant, &first);
	pa_json_str(buf, "query", r->query, &first);
	pa_json_int(buf, "calls", r->calls, &first);
	pa_json_int(buf, "distinct_params", r->distinct_params, &first);
	pa_json_num(buf, "total_ms", r->total_ms, &first);
	pa_json_num(buf, "min_ms", r->min_ms, &first);
	pa_json_num(buf, "max_ms", r->max_ms, &first);
	pa_json_num(buf, "mean_ms", r->total_ms / r->calls, &first);
	pa_json_int(buf, "rows", (int64) r->rows, &first);
	pa_json_int(buf, "shared_blks_hit", r->shared_blks_hit, &first);
	pa_json_int(buf, "shared_blks_read", r->shared_blks_read, &first);
	pa_json_int(buf, "seq_scans", r->seq_scans, &first);
	pa_json_int(buf, "nesting_level", r->nesting_level, &first);
	pa_json_num(buf, "plan_ms", r->plan_ms, &first);
	pa_json_int(buf, "userid", userid, &first);
	appendStringInfoChar(buf, '}');
}

void
pa_store_finding(StringInfo buf, int *count, const PaFindingOwner *owner,
				 const PaFinding *f)
{
	bool		first = true;

	pa_array_next(buf, count);
	appendStringInfoChar(buf, '{');
	if (owner->benchmark_id != 0)
		pa_json_int(buf, "benchmark_id", (int64) owner->benchmark_id, &first);
	else
		pa_json_int(buf, "run_id", (int64) owner->run_id, &first);
	pa_json_str(buf, "kind", f->kind, &first);
	pa_json_str(buf, "severity", f->severity, &first);
	pa_json_int(buf, "queryid", (int64) f->queryid, &first);
	pa_json_str(buf, "tenant", f->tenant, &first);
	pa_json_int(buf, "calls", f->calls, &first);
	pa_json_num(buf, "total_ms", f->total_ms, &first);
	pa_json_str(buf, "query", f->query, &first);
	pa_json_int(buf, "userid", owner->userid, &first);
	if (f->relation != NULL)
		pa_json_str(buf, "relation", f->relation, &first);
	pa_json_str(buf, "message", f->message, &first);
	pa_json_str(buf, "suggestion", f->suggestion, &first);
	pa_json_raw(buf, "detail", f->detail, &first);
	appendStringInfoChar(buf, '}');
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
	bool		first = true;

	appendStringInfo(doc, "{\"statements\":[%s],\"findings\":[%s],\"run\":{",
					 statements, findings);
	pa_json_int(doc, "run_id", (int64) run->run_id, &first);
	pa_json_str(doc, "label", run->label, &first);
	pa_json_str(doc, "scope", run->database_scope ? "database" : "session", &first);
	pa_json_str(doc, "database", run->database, &first);
	pa_json_int(doc, "pid", run->pid, &first);
	pa_json_ts(doc, "started_at", run->started_at, &first);
	pa_json_ts(doc, "stopped_at", run->stopped_at, &first);
	pa_json_int(doc, "statements", (int64) run->statements, &first);
	pa_json_num(doc, "total_ms", run->total_ms, &first);
	pa_json_num(doc, "max_ms", run->max_ms, &first);
	pa_json_int(doc, "findings", run->findings, &first);
	pa_json_int(doc, "userid", run->userid, &first);
	pa_json_str(doc, "track", run->track, &first);
	pa_json_int(doc, "overflow", (int64) run->overflow, &first);
	pa_json_int(doc, "texts_dropped", (int64) run->texts_dropped, &first);
	pa_json_raw(doc, "tenant_latency", run->tenant_latency, &first);
	appendStringInfoString(doc, "}}");
}

Datum
pa_store_run_row(FunctionCallInfo fcinfo, const PaRunRow *run)
{
	TupleDesc	tupdesc;
	PaRowBuilder row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	pa_row_begin(&row, tupdesc);
	pa_row_set(&row, "run_id", Int64GetDatum((int64) run->run_id), false, false);
	pa_row_set(&row, "label", pa_text_or_null(run->label), run->label == NULL, false);
	pa_row_set(&row, "scope",
			   CStringGetTextDatum(run->database_scope ? "database" : "session"), false, false);
	pa_row_set(&row, "database",
			   DirectFunctionCall1(namein, CStringGetDatum(run->database)), false, false);
	pa_row_set(&row, "pid", Int32GetDatum(run->pid), false, false);
	pa_row_set(&row, "started_at", TimestampTzGetDatum(run->started_at), false, false);
	pa_row_set(&row, "stopped_at", TimestampTzGetDatum(run->stopped_at), false, false);
	pa_row_set(&row, "statements", Int64GetDatum((int64) run->statements), false, false);
	pa_row_set(&row, "total_ms", Float8GetDatum(run->total_ms), false, false);
	pa_row_set(&row, "max_ms", Float8GetDatum(run->max_ms), false, false);
	pa_row_set(&row, "findings", Int32GetDatum(run->findings), false, false);
	pa_row_set(&row, "userid", ObjectIdGetDatum(run->userid), false, false);
	pa_row_set(&row, "track", CStringGetTextDatum(run->track), false, false);
	pa_row_set(&row, "overflow", Int64GetDatum((int64) run->overflow), false, false);
	pa_row_set(&row, "texts_dropped", Int64GetDatum((int64) run->texts_dropped), false, false);
	/* added in 0.2.0 */
	pa_row_set(&row, "tenant_latency",
			   DirectFunctionCall1(jsonb_in, CStringGetDatum(run->tenant_latency)), false, true);
	return pa_row_end(&row);
}

/* ----------------------------------------------------------------
 * Benchmarks
 * ----------------------------------------------------------------
 */

void
pa_store_benchmark_doc(StringInfo doc, const PaBenchmarkRow *b, const char *findings)
{
	bool		first = true;
	ListCell   *lc;
	int			i;

	appendStringInfo(doc, "{\"findings\":[%s],\"benchmark\":{", findings);
	pa_json_int(doc, "benchmark_id", (int64) b->benchmark_id, &first);
	pa_json_str(doc, "label", b->label, &first);
	pa_json_str(doc, "query", b->query, &first);
	pa_json_int(doc, "iterations", b->iterations, &first);
	pa_json_int(doc, "warmup", b->warmup, &first);
	pa_json_int(doc, "clients", b->clients, &first);
	if (b->n > 0)
	{
		pa_json_num(doc, "min_ms", b->min_ms, &first);
		pa_json_num(doc, "p50_ms", b->p50_ms, &first);
		pa_json_num(doc, "p95_ms", b->p95_ms, &first);
		pa_json_num(doc, "p99_ms", b->p99_ms, &first);
		pa_json_num(doc, "max_ms", b->max_ms, &first);
		pa_json_num(doc, "mean_ms", b->mean_ms, &first);
		pa_json_num(doc, "stddev_ms", b->stddev_ms, &first);
		pa_json_num(doc, "rows_per_call", b->rows_per_call, &first);
	}
	pa_json_int(doc, "shared_blks_hit", b->shared_blks_hit, &first);
	pa_json_int(doc, "shared_blks_read", b->shared_blks_read, &first);
	pa_json_int(doc, "seq_scans", b->seq_scans, &first);
	if (!b->concurrent)
		pa_json_int(doc, "memory_growth_bytes", b->memory_growth, &first);
	pa_json_num(doc, "throughput_qps", b->throughput_qps, &first);
	pa_json_int(doc, "errors", b->errors, &first);
	pa_json_ts(doc, "started_at", b->started_at, &first);
	pa_json_int(doc, "userid", b->userid, &first);
	if (!b->concurrent)
	{
		pa_json_int(doc, "custom_plans", b->custom_plans, &first);
		pa_json_int(doc, "generic_plans", b->generic_plans, &first);
	}
	pa_json_str(doc, "tenants_type", b->tenants_type, &first);
	pa_json_int(doc, "findings", b->findings, &first);
	pa_json_raw(doc, "rollback", b->rollback ? "true" : "false", &first);
	if (b->concurrent)
	{
		pa_json_raw(doc, "error_counts", b->error_counts ? b->error_counts : "{}", &first);
		pa_json_num(doc, "wall_ms", b->wall_ms, &first);
		pa_json_num(doc, "single_p50_ms", b->single_p50_ms, &first);
		pa_json_num(doc, "single_p95_ms", b->single_p95_ms, &first);
		pa_json_num(doc, "single_throughput_qps", b->single_throughput_qps, &first);
		if (b->single_p95_ms > 0 && b->n > 0)
			pa_json_num(doc, "p95_degradation", b->p95_ms / b->single_p95_ms, &first);
	}
	else
	{
		appendStringInfoString(doc, ",\"memory_samples\":[");
		for (i = 0; i < b->n_mem_checkpoints; i++)
			appendStringInfo(doc, "%s" INT64_FORMAT, i > 0 ? "," : "", b->mem_checkpoints[i]);
		appendStringInfoChar(doc, ']');
	}
	appendStringInfoString(doc, ",\"seq_scan_tables\":[");
	i = 0;
	foreach(lc, b->seq_scan_tables)
	{
		if (i++ > 0)
			appendStringInfoChar(doc, ',');
		escape_json(doc, (char *) lfirst(lc));
	}
	appendStringInfoChar(doc, ']');
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
