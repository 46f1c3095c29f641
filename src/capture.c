/*-------------------------------------------------------------------------
 *
 * capture.c
 *		The run lifecycle: start(), stop(), active_run(), last_run(),
 *		discard_run().
 *
 * start() creates the run's buffer (runbuf.c): backend-local memory for a
 * session-scope run, a dynamic shared memory segment published in a
 * database-run slot (shmem.c) for a database-scope one, and this
 * session's sink on it.  stop() closes the buffer, aggregates it
 * (aggregate.c), applies the detection rules (detect.c), and hands the
 * document (store.c) to the writer worker (persist.c), which stores it in
 * its own transaction: the caller's rollback cannot remove it.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "aggregate.h"
#include "detect.h"
#include "guc.h"
#include "hooks.h"
#include "persist.h"
#include "runbuf.h"
#include "store.h"
#include "tenant.h"
#include "text.h"

PG_FUNCTION_INFO_V1(pa_start);
PG_FUNCTION_INFO_V1(pa_stop);
PG_FUNCTION_INFO_V1(pa_active_run);
PG_FUNCTION_INFO_V1(pa_discard_run);
PG_FUNCTION_INFO_V1(pa_last_run);

/* This session's own run. */
typedef struct PaRun
{
	uint64		run_id;
	char	   *label;
	bool		database_scope;
	int			track;
	Oid			userid;
	TimestampTz started_at;
	MemoryContext cxt;
	PaRunBuffer *buf;
	dsm_segment *seg;			/* database scope only */
	int			db_slot;		/* database scope only */
	PaSink	   *sink;
} PaRun;

static PaRun *pa_run = NULL;
static uint64 pa_last_run_id = 0;	/* last run this session stored */
static bool pa_exit_callback_set = false;

/* ----------------------------------------------------------------
 * Run lifecycle
 * ----------------------------------------------------------------
 */

/* Release this backend's database-run slot, if any. */
static void
pa_release_db_slot(PaRun *run)
{
	if (!run->database_scope || run->db_slot < 0)
		return;
	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	if (pa_shared->db_runs[run->db_slot].in_use &&
		pa_shared->db_runs[run->db_slot].run_id == run->run_id &&
		pa_shared->db_runs[run->db_slot].owner_pid == MyProcPid)
	{
		pa_shared->db_runs[run->db_slot].in_use = false;
		pg_atomic_fetch_add_u32(&pa_shared->db_runs_generation, 1);
	}
	LWLockRelease(pa_shared->lock);
	run->db_slot = -1;
}

/*
 * A backend that exits with an active database run gives its slot back, so
 * that the others stop appending to it.  (A session run needs nothing: its
 * memory goes with the process.  Either way the run is not stored.)
 */
static void
pa_capture_shutdown(int code, Datum arg)
{
	if (pa_run != NULL && pa_shared != NULL)
		pa_release_db_slot(pa_run);
}

static void
pa_free_run(PaRun *run)
{
	pa_set_acting_tenant(NULL);
	pa_release_db_slot(run);
	pa_sink_drop_run(run->run_id);
	if (run->seg != NULL)
		dsm_detach(run->seg);
	MemoryContextDelete(run->cxt);
}

/*
 * start(), stop() and discard_run() change what this session records and
 * stores.  Inside a security-restricted operation (REFRESH MATERIALIZED
 * VIEW, maintenance commands, index expressions) or a security-definer
 * function (a trigger of another role's table), the code running is not
 * the session's: it could start a run that records the session's own
 * statements under its owner, or end or drop the session's run.  Refuse,
 * as core refuses SET ROLE and temporary tables there.
 */
static void
pa_check_session_change(const char *what)
{
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot %s within security-restricted operation", what)));
	if (InLocalUserIdChange())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot %s within security-definer function", what)));
}

Datum
pa_start(PG_FUNCTION_ARGS)
{
	char	   *label = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *scope;
	char	   *acting = NULL;
	bool		database_scope;
	uint64		run_id;
	uint32		capacity = (uint32) pa_max_run_statements;
	uint64		text_capacity = pa_text_capacity(capacity);
	Size		size = pa_buffer_size(capacity, text_capacity);
	MemoryContext cxt;
	PaRun	   *run;

	pa_require_preload();
	pa_check_session_change("start a capture run");
	pa_check_label(label);
	/* tenant: the acting tenant (0.2.0's SQL objects have two arguments) */
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		acting = text_to_cstring(PG_GETARG_TEXT_PP(2));
		if (acting[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenant must not be empty"),
					 errhint("Pass NULL for a run without an acting tenant.")));
	}

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("scope must not be null"),
				 errhint("Valid scopes are \"session\" and \"database\".")));
	scope = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (pg_strcasecmp(scope, "session") == 0)
		database_scope = false;
	else if (pg_strcasecmp(scope, "database") == 0)
		database_scope = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid capture scope \"%s\"", scope),
				 errhint("Valid scopes are \"session\" and \"database\".")));

	if (pa_run != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("capture run " UINT64_FORMAT " is already active in this session",
						pa_run->run_id),
				 pa_run->label ? errdetail("Run " UINT64_FORMAT " has label \"%s\".",
										   pa_run->run_id, pa_run->label) : 0,
				 errhint("Call perfaudit.stop() to end it first.")));

	if (database_scope &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to start a database-scope capture"),
				 errdetail("A database-scope run records other sessions' statements."),
				 errhint("Only roles with privileges of pg_read_all_stats may start one.")));

	if (pa_track == PA_TRACK_NONE)
		ereport(WARNING,
				(errmsg("perfaudit.track is \"none\": this session's statements will not be captured")));
	if (!IsQueryIdEnabled())
		ereport(WARNING,
				(errmsg("query identifiers are not being computed: statements are told apart by their text"),
				 errdetail("Repetitions of a statement that differ only in constants are not recognised, so n_plus_one and repeated_query findings are missed, and queryid does not match pg_stat_statements."),
				 errhint("Set compute_query_id to \"auto\" or \"on\".")));

	run_id = pa_store_next_run_id();

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit run",
								ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		run = MemoryContextAllocZero(cxt, sizeof(PaRun));
		run->run_id = run_id;
		run->label = label ? MemoryContextStrdup(cxt, label) : NULL;
		run->database_scope = database_scope;
		run->track = pa_track;
		run->userid = GetUserId();
		run->started_at = GetCurrentTimestamp();
		run->cxt = cxt;
		run->db_slot = -1;

		if (!database_scope)
		{
			/*
			 * Not zeroed: only this backend writes and reads it, and the
			 * pages of a large allocation are mapped only when touched.
			 */
			run->buf = MemoryContextAllocExtended(cxt, size, MCXT_ALLOC_HUGE);
			pa_buffer_init(run->buf, run_id, capacity, text_capacity);
			run->sink = pa_sink_create(run_id, run->buf, NULL, -1, run->userid);
		}
		else
		{
			int			i;

			run->seg = dsm_create(size, 0);
			run->buf = dsm_segment_address(run->seg);
			memset(run->buf, 0, size);
			pa_buffer_init(run->buf, run_id, capacity, text_capacity);
			run->sink = pa_sink_create(run_id, run->buf, NULL, pa_track, InvalidOid);

			LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
			for (i = 0; i < PA_MAX_DB_RUNS; i++)
			{
				PaDbRunSlot *slot = &pa_shared->db_runs[i];

				if (!slot->in_use)
				{
					slot->in_use = true;
					slot->dboid = MyDatabaseId;
					slot->run_id = run_id;
					slot->owner_pid = MyProcPid;
					slot->track = pa_track;
					slot->handle = dsm_segment_handle(run->seg);
					run->db_slot = i;
					pg_atomic_fetch_add_u32(&pa_shared->db_runs_generation, 1);
					break;
				}
			}
			LWLockRelease(pa_shared->lock);
			if (run->db_slot < 0)
			{
				pa_sink_free(run->sink);
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("too many database-scope capture runs"),
						 errdetail("At most %d database-scope runs can be active at once in the cluster.",
								   PA_MAX_DB_RUNS)));
			}
			/* From here on the mapping is ours until stop() detaches it. */
			dsm_pin_mapping(run->seg);
		}
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!pa_exit_callback_set)
	{
		before_shmem_exit(pa_capture_shutdown, (Datum) 0);
		pa_exit_callback_set = true;
	}

	pa_sink_add(run->sink);
	pa_run = run;
	pa_set_acting_tenant(acting);

	PG_RETURN_INT64((int64) run_id);
}

Datum
pa_active_run(PG_FUNCTION_ARGS)
{
	if (pa_run == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) pa_run->run_id);
}

/* The run this session stopped last, or NULL: the assertions' default. */
Datum
pa_last_run(PG_FUNCTION_ARGS)
{
	if (pa_last_run_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) pa_last_run_id);
}

/*
 * Drop this session's run without storing it; returns its id, or NULL when
 * there was none.  The way out when stop() cannot store a run (the writer
 * keeps failing) and the session wants to start another.
 */
Datum
pa_discard_run(PG_FUNCTION_ARGS)
{
	PaRun	   *run = pa_run;
	uint64		run_id;

	pa_check_session_change("discard a capture run");
	if (run == NULL)
		PG_RETURN_NULL();
	run_id = run->run_id;
	pa_run = NULL;
	pa_free_run(run);
	PG_RETURN_INT64((int64) run_id);
}

Datum
pa_stop(PG_FUNCTION_ARGS)
{
	PaRun	   *run = pa_run;
	PaRunRow	row;
	PaAggregate agg;
	PaFindingOwner owner;
	StringInfoData doc;
	StringInfoData statements;
	StringInfoData findings;
	StringInfoData latency;
	MemoryContext cxt;
	MemoryContext old;
	int			nstatements = 0;
	int			g;
	Datum		result;

	pa_require_preload();
	pa_check_session_change("stop a capture run");
	if (run == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no capture run is active in this session"),
				 errhint("Call perfaudit.start() first.")));
	/* The row it returns can be built: checked before anything is stored. */
	pa_store_check_run_row(fcinfo);

	/* A cursor still open is one of the run's statements too. */
	pa_record_open_cursors(run->run_id);

	/*
	 * Close the buffer: nothing is appended from here on.  If storing fails
	 * below, the run stays this session's active run, closed, and a second
	 * stop() stores the same data again.
	 */
	pa_buffer_close(run->buf);

	memset(&row, 0, sizeof(row));
	row.run_id = run->run_id;
	row.label = run->label;
	row.scope = run->database_scope ? "database" : "session";
	row.database = get_database_name(MyDatabaseId);
	row.pid = MyProcPid;
	row.started_at = run->started_at;
	row.stopped_at = GetCurrentTimestamp();
	row.userid = run->userid;
	row.track = pa_track_name(run->track);

	/* The documents live here; the aggregation's tables in cxt. */
	initStringInfo(&statements);
	initStringInfo(&findings);
	initStringInfo(&latency);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_perfaudit aggregate",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	pa_aggregate(run->buf, run->database_scope, &agg);
	owner.run_id = run->run_id;
	owner.benchmark_id = 0;
	owner.userid = run->userid;
	row.findings = pa_detect_findings(&findings, &owner, agg.groups, agg.ngroups);
	for (g = 0; g < agg.ngroups; g++)
		pa_store_statement(&statements, &nstatements, run->run_id, run->userid,
						   &agg.groups[g].stmt);
	pa_store_tenant_latency(&latency, agg.ntenants, agg.tenants, agg.latencies);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	/*
	 * Counted: every record reserved (one a writer had not finished, and
	 * whose time is unknown, included) and every execution beyond the
	 * buffer; those two are the overflow.
	 */
	row.statements = agg.reserved + pg_atomic_read_u64(&run->buf->overflow_statements);
	row.overflow = row.statements - agg.stored;
	row.total_ms = (agg.stored_ns + pg_atomic_read_u64(&run->buf->overflow_ns)) / 1000000.0;
	row.max_ms = Max(agg.stored_max_ns,
					 pg_atomic_read_u64(&run->buf->overflow_max_ns)) / 1000000.0;
	row.texts_dropped = pg_atomic_read_u64(&run->buf->texts_dropped);
	row.tenant_latency = latency.data;

	initStringInfo(&doc);
	pa_store_run_doc(&doc, &row, statements.data, findings.data);
	pa_persist(PA_PERSIST_RUN, doc.data, doc.len, NULL);

	/* Stored: build the result row, then forget the run. */
	result = pa_store_run_row(fcinfo, &row);

	pa_last_run_id = run->run_id;
	pa_run = NULL;
	pa_free_run(run);

	PG_RETURN_DATUM(result);
}
