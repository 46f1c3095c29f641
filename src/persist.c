/*-------------------------------------------------------------------------
 *
 * persist.c
 *		Results that survive the caller's rollback: the writer worker.
 *
 * A test harness wraps each test in a transaction and rolls it back, and a
 * failing assertion aborts the transaction: anything the caller inserts is
 * lost.  So the caller never writes results itself.  It puts the document
 * to store in a dynamic shared memory segment, queues a request in shared
 * memory and waits on a condition variable; a background worker connected
 * to the same database (one per database, started on demand) runs the
 * extension's storing function on it in a transaction of its own, commits,
 * and marks the request done.  When the caller's next statement runs, the
 * rows are committed and visible.
 *
 * The writer exits as soon as no request of its database is pending, and
 * the requester whose request it finished last waits until it has left the
 * database (its PGPROC is out of the proc array) before returning.  So a
 * writer is connected only while some session of its database waits in
 * stop() (or benchmark(), save_baseline()): once that session disconnects,
 * DROP DATABASE, CREATE DATABASE ... TEMPLATE and ALTER DATABASE RENAME,
 * which wait up to 5 s for every other backend of the database to leave and
 * then fail, find nobody there.  A writer kept idle for later requests
 * made them wait, then fail with "being accessed by other users".
 *
 * The queue has PA_MAX_REQUESTS slots; a requester that finds none free
 * waits for one, so a burst of stop() calls from many sessions is served in
 * turn rather than refused or lost.  Every wait is bounded by
 * perfaudit.persist_timeout and is interruptible (cancel, statement_timeout).
 *
 * The worker runs as the bootstrap superuser and only ever executes the
 * fixed storing functions of the extension, with lock_timeout set so that a
 * caller holding a conflicting lock on the results tables gets an error
 * instead of waiting on itself forever.
 *
 * Locking: the request, writer and slot fields are protected by
 * pa_shared->lock (see shmem.c).  A request slot is freed by the requester
 * once it has read the outcome, or, if the requester gave up (cancelled or
 * timed out: abandoned), by whoever finishes last.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "hooks.h"
#include "persist.h"
#include "shmem.h"
#include "stats.h"
#include "text.h"

/* A writer registered but not running after this long is presumed lost. */
#define PA_WRITER_START_MS		10000
/* How long a requester waits for the writer it used to leave the database. */
#define PA_WRITER_EXIT_MS		5000

/* The storing statement for each PaPersistKind. */
static const char *const pa_store_sql[] = {
	"SELECT perfaudit._store_run($1::pg_catalog.jsonb)",
	"SELECT perfaudit._store_benchmark($1::pg_catalog.jsonb, $2)",
	"SELECT perfaudit._store_baseline($1::pg_catalog.jsonb)"
};

static int	pa_writer_index = -1;	/* in the writer: its slot */
static bool pa_writer_retired = false;	/* in the writer: gave its slot up */

/* ----------------------------------------------------------------
 * Requester side
 * ----------------------------------------------------------------
 */

bool
pa_register_worker(const char *name, const char *type, const char *function,
				   Datum arg, const void *extra, Size extralen, int notify_pid,
				   BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	strlcpy(worker.bgw_name, name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, type, BGW_MAXLEN);
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_perfaudit");
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	worker.bgw_main_arg = arg;
	Assert(extralen <= BGW_EXTRALEN);
	if (extralen > 0)
		memcpy(worker.bgw_extra, extra, extralen);
	worker.bgw_notify_pid = notify_pid;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

static bool
pa_launch_writer(Oid dboid)
{
	char		name[BGW_MAXLEN];

	snprintf(name, sizeof(name), "pg_perfaudit writer for database %u", dboid);
	return pa_register_worker(name, "pg_perfaudit writer", "pa_writer_main",
							  ObjectIdGetDatum(dboid), NULL, 0, 0, NULL);
}

/*
 * Make sure a writer is running or starting for dboid, and wake it.
 * Called with the lock held exclusively; returns true if the caller must
 * launch one (after releasing the lock) for the slot it was given.
 */
static bool
pa_ensure_writer_locked(Oid dboid, int *slot_out)
{
	TimestampTz now = GetCurrentTimestamp();
	int			free_slot = -1;
	int			i;

	for (i = 0; i < PA_MAX_WRITERS; i++)
	{
		PaWriterSlot *w = &pa_shared->writers[i];

		if (w->dboid == dboid)
		{
			if (w->pid == 0 &&
				TimestampDifferenceExceeds(w->launched_at, now, PA_WRITER_START_MS))
			{
				/* Registered long ago and never came up: try again. */
				w->launched_at = now;
				*slot_out = i;
				return true;
			}
			if (w->latch)
				SetLatch(w->latch);
			return false;
		}
		if (w->dboid == InvalidOid && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return false;			/* all busy with other databases: wait */

	pa_shared->writers[free_slot].dboid = dboid;
	pa_shared->writers[free_slot].pid = 0;
	pa_shared->writers[free_slot].latch = NULL;
	pa_shared->writers[free_slot].launched_at = now;
	*slot_out = free_slot;
	return true;
}

static void
pa_writer_launch_failed(int slot, Oid dboid)
{
	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	if (pa_shared->writers[slot].dboid == dboid && pa_shared->writers[slot].pid == 0)
		pa_shared->writers[slot].dboid = InvalidOid;
	LWLockRelease(pa_shared->lock);
}

/*
 * The writer that finished our request found no other work and is exiting:
 * wait until it is out of the proc array, where DROP DATABASE and CREATE
 * DATABASE ... TEMPLATE (CountOtherDBBackends()) would see it.  That takes
 * about a millisecond once it has committed.  The results are stored
 * already, so this wait raises no error: it polls without checking for
 * interrupts (a cancel now would report a failure that did not happen) and
 * gives up after PA_WRITER_EXIT_MS.
 */
static void
pa_wait_writer_gone(int pid)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   PA_WRITER_EXIT_MS);
	long		sleep_us = 50;

	while (BackendPidGetProc(pid) != NULL)
	{
		if (GetCurrentTimestamp() >= deadline)
		{
			elog(DEBUG1, "pg_perfaudit writer %d still running after %d ms",
				 pid, PA_WRITER_EXIT_MS);
			break;
		}
		pg_usleep(sleep_us);
		sleep_us = Min(sleep_us * 2, 2000);
	}
}

/*
 * Segment layout: the document and its terminating NUL, padding to
 * MAXALIGN, then for a benchmark its samples as pa_samples_pack() writes
 * them (stats.c).
 */
static Size
pa_samples_offset(Size len)
{
	return MAXALIGN(len + 1);
}

/*
 * The requester stops waiting: on an error (cancel, timeout) and also on
 * exit (pg_terminate_backend(), a pooler closing the connection), which
 * never reaches a PG_CATCH.  Without this a FATAL while waiting would leave
 * its request slot taken for good, and after PA_MAX_REQUESTS of them no
 * session could store anything until a restart.
 */
static void
pa_persist_abandon(int code, Datum arg)
{
	volatile int *req = (volatile int *) DatumGetPointer(arg);

	ConditionVariableCancelSleep();
	if (*req >= 0)
	{
		LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
		if (pa_shared->requests[*req].status == PA_REQ_RUNNING)
			pa_shared->requests[*req].abandoned = true;
		else
			pa_shared->requests[*req].status = PA_REQ_FREE;
		LWLockRelease(pa_shared->lock);
		*req = -1;
	}
}

void
pa_persist(PaPersistKind kind, const char *payload, Size len,
		   const ArrayType *samples)
{
	dsm_segment *seg;
	volatile int req = -1;
	TimestampTz deadline;
	volatile PaRequestStatus status = PA_REQ_PENDING;
	char		errmsg_copy[PA_ERRMSG_LEN];
	volatile bool launch_warned = false;
	volatile int exiting_pid = 0;

	Assert((samples != NULL) == (kind == PA_PERSIST_BENCHMARK));
	if (samples)
	{
		PaSamplesPacking packing = pa_samples_plan(samples);

		seg = dsm_create(add_size(pa_samples_offset(len), packing.size), 0);
		pa_samples_pack(samples, &packing,
						(char *) dsm_segment_address(seg) + pa_samples_offset(len));
	}
	else
		seg = dsm_create(pa_samples_offset(len), 0);
	{
		char	   *base = dsm_segment_address(seg);

		memcpy(base, payload, len);
		base[len] = '\0';
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pa_persist_timeout_ms);
	errmsg_copy[0] = '\0';

	ConditionVariablePrepareToSleep(&pa_shared->persist_cv);
	PG_ENSURE_ERROR_CLEANUP(pa_persist_abandon, PointerGetDatum(unvolatize(int *, &req)));
	{
		for (;;)
		{
			bool		launch = false;
			int			wslot = -1;

			LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
			if (req < 0)
			{
				int			i;

				for (i = 0; i < PA_MAX_REQUESTS; i++)
				{
					PaRequest  *r = &pa_shared->requests[i];

					if (r->status == PA_REQ_FREE)
					{
						r->status = PA_REQ_PENDING;
						r->abandoned = false;
						r->kind = kind;
						r->dboid = MyDatabaseId;
						r->requester_pid = MyProcPid;
						r->writer_pid = 0;
						r->exiting_pid = 0;
						r->handle = dsm_segment_handle(seg);
						r->errmsg[0] = '\0';
						req = i;
						break;
					}
				}
			}
			if (req >= 0)
			{
				PaRequest  *r = &pa_shared->requests[req];

				status = r->status;
				if (status == PA_REQ_DONE || status == PA_REQ_FAILED)
				{
					pa_clip_copy(errmsg_copy, r->errmsg, sizeof(errmsg_copy));
					exiting_pid = r->exiting_pid;
					r->status = PA_REQ_FREE;
				}
				else if (status == PA_REQ_PENDING)
					launch = pa_ensure_writer_locked(MyDatabaseId, &wslot);
			}
			LWLockRelease(pa_shared->lock);

			if (status == PA_REQ_DONE || status == PA_REQ_FAILED)
			{
				if (req >= 0)
					ConditionVariableBroadcast(&pa_shared->persist_cv);
				break;
			}

			if (launch && !pa_launch_writer(MyDatabaseId))
			{
				pa_writer_launch_failed(wslot, MyDatabaseId);
				if (!launch_warned)
					ereport(NOTICE,
							(errmsg("waiting for a free background worker slot to store pg_perfaudit results"),
							 errhint("Raise max_worker_processes.")));
				launch_warned = true;
			}

			if (GetCurrentTimestamp() >= deadline)
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("timed out waiting for the pg_perfaudit writer"),
						 errdetail("The results were not stored within perfaudit.persist_timeout (%d ms).",
								   pa_persist_timeout_ms),
						 errhint("The writer may be waiting for a lock this transaction holds on pg_perfaudit's tables; otherwise check the server log for errors of the \"pg_perfaudit writer\" background worker.")));

			/* Sleeps at most 100 ms; checks for interrupts itself. */
			ConditionVariableTimedSleep(&pa_shared->persist_cv, 100,
										PG_WAIT_EXTENSION);
		}
	}
	PG_END_ENSURE_ERROR_CLEANUP(pa_persist_abandon, PointerGetDatum(unvolatize(int *, &req)));
	ConditionVariableCancelSleep();
	dsm_detach(seg);

	if (exiting_pid != 0)
		pa_wait_writer_gone(exiting_pid);

	if (status == PA_REQ_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("pg_perfaudit could not store the results"),
				 errdetail("The writer worker reported: %s", errmsg_copy),
				 kind == PA_PERSIST_RUN ?
				 errhint("The run is still active and closed; call perfaudit.stop() again to retry.") : 0));
}

/* ----------------------------------------------------------------
 * Writer side
 * ----------------------------------------------------------------
 */

/* Is a request of our database waiting?  Called with the lock held. */
static bool
pa_writer_work_pending_locked(void)
{
	int			i;

	for (i = 0; i < PA_MAX_REQUESTS; i++)
		if (pa_shared->requests[i].status == PA_REQ_PENDING &&
			pa_shared->requests[i].dboid == MyDatabaseId)
			return true;
	return false;
}

/* Give our writer slot up.  Called with the lock held exclusively. */
static void
pa_writer_release_slot_locked(void)
{
	if (pa_writer_index >= 0 &&
		pa_shared->writers[pa_writer_index].pid == MyProcPid)
	{
		pa_shared->writers[pa_writer_index].dboid = InvalidOid;
		pa_shared->writers[pa_writer_index].pid = 0;
		pa_shared->writers[pa_writer_index].latch = NULL;
	}
	pa_writer_index = -1;
	pa_writer_retired = true;
}

/*
 * Mark request idx finished (done or failed) and wake the requesters.  If
 * no other request of our database is pending, the writer retires in the
 * same critical section (a request queued after it starts a new writer)
 * and tells this requester to wait for it to exit.
 */
static void
pa_writer_finish(int idx, PaRequestStatus status, const char *msg)
{
	bool		last;

	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	last = !pa_writer_work_pending_locked();
	if (last)
		pa_writer_release_slot_locked();
	if (pa_shared->requests[idx].abandoned)
		pa_shared->requests[idx].status = PA_REQ_FREE;
	else
	{
		pa_shared->requests[idx].status = status;
		pa_shared->requests[idx].exiting_pid = last ? MyProcPid : 0;
		pa_clip_copy(pa_shared->requests[idx].errmsg, msg ? msg : "",
					 PA_ERRMSG_LEN);
	}
	pa_shared->requests[idx].writer_pid = 0;
	LWLockRelease(pa_shared->lock);
	if (status == PA_REQ_DONE)
		pg_atomic_fetch_add_u64(&pa_shared->persisted, 1);
	else
		pg_atomic_fetch_add_u64(&pa_shared->persist_failures, 1);
	ConditionVariableBroadcast(&pa_shared->persist_cv);
}

/* Claim the oldest pending request for our database; -1 if none. */
static int
pa_writer_claim(void)
{
	int			i;
	int			found = -1;

	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PA_MAX_REQUESTS; i++)
	{
		PaRequest  *r = &pa_shared->requests[i];

		if (r->status == PA_REQ_PENDING && r->dboid == MyDatabaseId)
		{
			r->status = PA_REQ_RUNNING;
			r->writer_pid = MyProcPid;
			found = i;
			break;
		}
	}
	LWLockRelease(pa_shared->lock);
	return found;
}

/* Give up our writer slot unless work arrived meanwhile. */
static bool
pa_writer_retire(void)
{
	bool		retire;

	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	retire = !pa_writer_work_pending_locked();
	if (retire)
		pa_writer_release_slot_locked();
	LWLockRelease(pa_shared->lock);
	return retire;
}

/*
 * On any exit (including FATAL and errors escaping the loop), free our slot
 * and fail whatever we were running so that its requester does not wait
 * for the timeout.
 */
static void
pa_writer_shutdown(int code, Datum arg)
{
	int			i;

	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	pa_writer_release_slot_locked();
	for (i = 0; i < PA_MAX_REQUESTS; i++)
	{
		PaRequest  *r = &pa_shared->requests[i];

		if (r->status == PA_REQ_RUNNING && r->writer_pid == MyProcPid)
		{
			if (r->abandoned)
				r->status = PA_REQ_FREE;
			else
			{
				r->status = PA_REQ_FAILED;
				r->exiting_pid = MyProcPid;
				pa_clip_copy(r->errmsg, "the writer worker exited", PA_ERRMSG_LEN);
			}
			r->writer_pid = 0;
		}
	}
	LWLockRelease(pa_shared->lock);
	ConditionVariableBroadcast(&pa_shared->persist_cv);
}

static void
pa_writer_process(int idx, MemoryContext work_cxt)
{
	PaRequest  *r = &pa_shared->requests[idx];
	dsm_handle	handle;
	int			kind;
	dsm_segment *seg;

	LWLockAcquire(pa_shared->lock, LW_SHARED);
	handle = r->handle;
	kind = r->kind;
	LWLockRelease(pa_shared->lock);

	seg = dsm_attach(handle);
	if (seg == NULL)
	{
		pa_writer_finish(idx, PA_REQ_FAILED, "the requesting session went away");
		return;
	}

	PG_TRY();
	{
		Oid			argtypes[2] = {TEXTOID, FLOAT8ARRAYOID};
		int			nargs = kind == PA_PERSIST_BENCHMARK ? 2 : 1;
		ParamListInfo params;
		SPIPlanPtr	plan;
		SPIExecuteOptions opts;
		int			ret;
		char	   *base = dsm_segment_address(seg);
		Size		len = strlen(base);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, pa_store_sql[kind]);

		/*
		 * The parameters are not marked PARAM_FLAG_CONST, as those of
		 * SPI_execute_with_args() are, so the planner leaves them as
		 * parameters instead of copying their values into the plan: a
		 * benchmark's samples are megabytes.  They are the float8[] where
		 * it lies in the segment.
		 */
		plan = SPI_prepare(pa_store_sql[kind], nargs, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		params = makeParamList(nargs);
		params->params[0].value = CStringGetTextDatum(base);
		params->params[0].isnull = false;
		params->params[0].pflags = 0;
		params->params[0].ptype = TEXTOID;
		if (nargs > 1)
		{
			params->params[1].value = pa_samples_unpack(base + pa_samples_offset(len));
			params->params[1].isnull = false;
			params->params[1].pflags = 0;
			params->params[1].ptype = FLOAT8ARRAYOID;
		}
		memset(&opts, 0, sizeof(opts));
		opts.params = params;
		opts.read_only = false;
		ret = SPI_execute_plan_extended(plan, &opts);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "storing statement returned %d", ret);

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(true);
		pgstat_report_activity(STATE_IDLE, NULL);
		pa_writer_finish(idx, PA_REQ_DONE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(work_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pg_perfaudit writer could not store results: %s",
						edata->message)));
		pgstat_report_activity(STATE_IDLE, NULL);
		pa_writer_finish(idx, PA_REQ_FAILED, edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();

	dsm_detach(seg);
	MemoryContextReset(work_cxt);
}

void
pa_writer_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	MemoryContext work_cxt;
	int			i;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* Our own statements are never captured. */
	pa_internal_enter();

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PA_MAX_WRITERS; i++)
	{
		PaWriterSlot *w = &pa_shared->writers[i];

		if (w->dboid == dboid && w->pid == 0)
		{
			w->pid = MyProcPid;
			w->latch = MyLatch;
			pa_writer_index = i;
			break;
		}
	}
	LWLockRelease(pa_shared->lock);
	if (pa_writer_index < 0)
		proc_exit(0);			/* a second writer for the same database */
	before_shmem_exit(pa_writer_shutdown, (Datum) 0);

	/* Never wait on a lock the requester itself holds. */
	SetConfigOption("lock_timeout", "10s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "60s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "pg_perfaudit writer", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pg_perfaudit writer");

	work_cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit writer",
									 ALLOCSET_DEFAULT_SIZES);

	/*
	 * Serve the queue until it is empty, then exit at once: an idle writer
	 * would keep the database busy for DROP DATABASE and CREATE DATABASE
	 * ... TEMPLATE.  The writer retires when it finishes its last request
	 * (pa_writer_finish()), or here if it found nothing to do (the
	 * requester gave up before it started).
	 */
	while (!pa_writer_retired)
	{
		int			idx;

		CHECK_FOR_INTERRUPTS();

		idx = pa_writer_claim();
		if (idx >= 0)
			pa_writer_process(idx, work_cxt);
		else if (pa_writer_retire())
			break;
	}

	proc_exit(0);
}
