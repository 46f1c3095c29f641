/*-------------------------------------------------------------------------
 *
 * bench_concurrent.c
 *		benchmark_concurrent(): one statement from several backends at once.
 *
 * The calling backend (the leader) checks the statement and the tenants
 * exactly as benchmark() does, then starts `clients` dynamic background
 * workers.  They share one dynamic shared memory segment: the statement,
 * the tenants, the leader's settings (GUC state, as parallel query passes
 * it), and per client a slot for its samples, counters and errors.
 *
 * Each client connects to the leader's database as the leader's session
 * user, restores the leader's settings and switches to the leader's current
 * role and security context, so the statement runs with exactly the
 * privileges it would have in the leader: no privilege is gained.  It
 * prepares the statement once, runs its warm-up executions, reports ready
 * and waits; when all are ready the leader lets them go together.  Client c
 * runs iterations c, c + clients, c + 2 * clients, ... of the total, with
 * $1 = tenants[iteration % ntenants].  Every execution is a transaction of
 * its own (committed, or rolled back with rollback => true); an error in it
 * -- a deadlock, a lock or statement timeout, a serialization failure -- is
 * caught, counted by SQLSTATE with its first message, and the client goes
 * on.  Only successful executions give latency samples.
 *
 * Before the concurrent pass, unless clients = 1, the same statement runs
 * from a single client alone (its share of iterations, at least
 * PA_BC_SINGLE_MIN), and the latency degradation is the concurrent p95 over
 * that single-client p95.
 *
 * The leader waits on a condition variable in the segment, with a timeout
 * so that it notices a client that died, and is interruptible: on cancel,
 * statement_timeout or any error it tells the clients to stop and
 * terminates them.  A client whose lock wait is blocked by the leader's own
 * transaction would wait forever; the leader checks for this once a second
 * and raises an error instead.
 *
 * Clients are background workers, so they count against
 * max_worker_processes with the writer and parallel query, and core checks
 * no connection limit for them.  Before anything runs, the leader takes a
 * lease on its clients in shared memory (bench_leases[], under
 * pa_shared->lock) and refuses the call if it would exceed
 *	- perfaudit.max_benchmark_clients, the clients of one role (the session
 *	  user they connect as) over all its sessions (53400);
 *	- max_worker_processes - perfaudit.benchmark_reserved_workers, the
 *	  clients of all roles together: the slots left are for the writer of
 *	  every database and for parallel query, which a role's benchmark must
 *	  not starve (53000);
 *	- the role's and the database's CONNECTION LIMIT, counting their
 *	  backends as core does (CountUserBackends(), CountDBConnections()) plus
 *	  the clients already running under leases (53300, as core).
 * The lease is given back when the call ends, by error and exit too.  Every
 * client has exited when benchmark_concurrent() returns or fails, so none
 * keeps the database busy for a DROP DATABASE that follows.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "access/xact.h"
#include "commands/sequence.h"
#include "executor/instrument.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "bench.h"
#include "facts.h"
#include "guc.h"
#include "hooks.h"
#include "persist.h"
#include "shmem.h"
#include "store.h"
#include "text.h"

#define PA_BC_MAGIC			0x50414243
#define PA_BC_MAX_CLIENTS	1000
#define PA_BC_MAX_CODES		8		/* distinct SQLSTATEs kept per client */
#define PA_BC_OTHER_CODE	(-1)	/* the last slot when they run out: "other" */
#define PA_BC_MSG_LEN		256
#define PA_BC_FACTS_LEN		8192
#define PA_BC_SINGLE_MIN	50		/* samples of the single-client pass */
#define PA_BC_EXIT_WAIT_MS	5000	/* for terminated clients to exit */

PG_FUNCTION_INFO_V1(pa_benchmark_concurrent);
PGDLLEXPORT void pa_bench_client_main(Datum main_arg);

typedef enum PaBcState
{
	PA_BC_STARTING = 0,
	PA_BC_READY,
	PA_BC_DONE
} PaBcState;

/* What the leader tells the clients. */
#define PA_BC_WAIT		0
#define PA_BC_GO		1
#define PA_BC_STOP		2

typedef struct PaBcCode
{
	int			sqlerrcode;
	int64		count;
	char		message[PA_BC_MSG_LEN];
} PaBcCode;

/* One client's slot; written by that client only. */
typedef struct PaBcClient
{
	volatile int state;			/* PaBcState */
	int			nsamples;
	int64		rows;
	int64		errors;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	TimestampTz started_at;		/* woke up and began its iterations */
	TimestampTz finished_at;
	int			ncodes;
	PaBcCode	codes[PA_BC_MAX_CODES];
	char		failure[PA_BC_MSG_LEN];	/* why it stopped early, if it did */
} PaBcClient;

typedef struct PaBcShared
{
	uint32		magic;
	Oid			dboid;
	Oid			session_userid;
	Oid			userid;
	int			sec_context;
	pid_t		leader_pid;
	int			nclients;
	int			iterations;
	int			warmup;
	int			ntenants;
	bool		rollback;
	int			per_client;		/* sample slots per client */
	Size		query_off;		/* offsets from the segment's start */
	Size		tenants_off;
	Size		guc_off;
	Size		samples_off;
	pg_atomic_uint32 ready;
	pg_atomic_uint32 finished;
	pg_atomic_uint32 go;
	ConditionVariable cv;
	/* the plan's facts, as client 0 saw them */
	uint64		queryid;
	int64		seq_scans;
	char		facts[PA_BC_FACTS_LEN];
	PaBcClient	clients[FLEXIBLE_ARRAY_MEMBER];
} PaBcShared;

/* ----------------------------------------------------------------
 * Client side
 * ----------------------------------------------------------------
 */

/*
 * The condition variable lives in the segment: a backend that exits while
 * prepared to sleep on it (a client terminated while waiting for the go)
 * must leave its wait list before the segment is unmapped, not after, as
 * the exit's own ConditionVariableCancelSleep() would.
 */
static void
pa_bc_cancel_sleep(dsm_segment *seg, Datum arg)
{
	ConditionVariableCancelSleep();
}

/* Copy a message into a PA_BC_MSG_LEN slot, cut at a character boundary. */
static void
pa_bc_clip(char *dst, const char *src)
{
	pa_clip_copy(dst, src, PA_BC_MSG_LEN);
}

static void
pa_bc_count_error(PaBcClient *me, ErrorData *edata)
{
	int			i;

	me->errors++;
	for (i = 0; i < me->ncodes; i++)
	{
		if (me->codes[i].sqlerrcode == edata->sqlerrcode)
		{
			me->codes[i].count++;
			return;
		}
	}
	if (me->ncodes < PA_BC_MAX_CODES - 1)
	{
		PaBcCode   *code = &me->codes[me->ncodes++];

		code->sqlerrcode = edata->sqlerrcode;
		code->count = 1;
		pa_bc_clip(code->message, edata->message ? edata->message : "");
	}
	else
	{
		/* The rest are lumped together under "other". */
		PaBcCode   *code = &me->codes[PA_BC_MAX_CODES - 1];

		if (me->ncodes < PA_BC_MAX_CODES)
		{
			me->ncodes = PA_BC_MAX_CODES;
			code->sqlerrcode = PA_BC_OTHER_CODE;
			code->count = 0;
			pa_bc_clip(code->message,
					   psprintf("more distinct SQLSTATEs than a client keeps; the first was %s: %s",
								unpack_sql_state(edata->sqlerrcode),
								edata->message ? edata->message : ""));
		}
		code->count++;
	}
}

/*
 * The client's transactions run as the leader's role, in the leader's
 * security context (SECURITY DEFINER, a security-restricted operation),
 * entered after each transaction starts and left before it ends, as a
 * parallel worker does: core starts a transaction only outside any such
 * context (StartTransaction asserts it) and an abort goes back to the
 * context the transaction started in.  Set by pa_bc_client_run().
 */
static Oid	pa_bc_userid = InvalidOid;
static int	pa_bc_sec_context = 0;
static Oid	pa_bc_outer_userid = InvalidOid;
static int	pa_bc_outer_sec_context = 0;

static void
pa_bc_start_transaction(void)
{
	StartTransactionCommand();
	SetUserIdAndSecContext(pa_bc_userid, pa_bc_sec_context);
}

/* Back to the client's own context, before the transaction ends. */
static void
pa_bc_leave_context(void)
{
	SetUserIdAndSecContext(pa_bc_outer_userid, pa_bc_outer_sec_context);
}

/*
 * One execution in a transaction of its own.  Returns true and the time
 * and rows when it succeeded; on error counts it and returns false.
 */
static bool
pa_bc_execute(SPIPlanPtr plan, ParamListInfo params, bool rollback,
			  PaBcClient *me, MemoryContext cxt, double *ms, uint64 *rows)
{
	volatile bool ok = false;

	SetCurrentStatementStartTimestamp();
	pa_bc_start_transaction();
	PG_TRY();
	{
		SPIExecuteOptions opts;
		instr_time	start;
		instr_time	duration;
		int			ret;

		CHECK_FOR_INTERRUPTS();

		if (StatementTimeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		memset(&opts, 0, sizeof(opts));
		opts.params = params;
		INSTR_TIME_SET_CURRENT(start);
		ret = SPI_execute_plan_extended(plan, &opts);
		INSTR_TIME_SET_CURRENT(duration);
		if (ret < 0)
			elog(ERROR, "SPI_execute_plan_extended failed: %s", SPI_result_code_string(ret));
		INSTR_TIME_SUBTRACT(duration, start);
		*ms = INSTR_TIME_GET_MILLISEC(duration);
		*rows = SPI_processed;
		SPI_finish();
		PopActiveSnapshot();
		disable_timeout(STATEMENT_TIMEOUT, false);

		/*
		 * A statement timeout that fired just as the execution finished, or
		 * a cancel, is this execution's error: raise it here, where it is
		 * counted, not at the next CHECK_FOR_INTERRUPTS() outside.
		 */
		CHECK_FOR_INTERRUPTS();
		pa_bc_leave_context();
		if (rollback)
			AbortCurrentTransaction();
		else
			CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		disable_timeout(STATEMENT_TIMEOUT, false);
		/* A timeout that fired after the error belongs to it: not the next. */
		QueryCancelPending = false;
		AbortCurrentTransaction();
		pa_bc_count_error(me, edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextReset(cxt);
	return ok;
}

static bool
pa_bc_leader_alive(PaBcShared *sh)
{
	return BackendPidGetProc(sh->leader_pid) != NULL;
}

/* The client's work once connected; errors propagate to the caller. */
static void
pa_bc_client_run(PaBcShared *sh, int c)
{
	PaBcClient *me = &sh->clients[c];
	char	   *base = (char *) sh;
	double	   *samples = (double *) (base + sh->samples_off) + (Size) c * sh->per_client;
	PaBenchArgs args;
	MemoryContext keep_cxt;
	MemoryContext exec_cxt;
	SPIPlanPtr	plan;
	Datum	   *values;
	Oid			ptype;
	ParamListInfo params;
	PaBenchProbe probe;
	BufferUsage buf_start;
	BufferUsage buf_use;
	TimestampTz last_check;
	int			i;

	keep_cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit benchmark client",
									 ALLOCSET_DEFAULT_SIZES);
	exec_cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit benchmark execution",
									 ALLOCSET_DEFAULT_SIZES);

	memset(&args, 0, sizeof(args));
	args.query = base + sh->query_off;
	args.ntenants = sh->ntenants;
	if (sh->ntenants > 0)
	{
		char	   *t = base + sh->tenants_off;

		args.tenants = MemoryContextAlloc(keep_cxt, sizeof(char *) * sh->ntenants);
		for (i = 0; i < sh->ntenants; i++)
		{
			args.tenants[i] = t;
			t += strlen(t) + 1;
		}
	}

	/* The leader's settings, then its role and security context. */
	StartTransactionCommand();
	RestoreGUCState(base + sh->guc_off);
	CommitTransactionCommand();
	GetUserIdAndSecContext(&pa_bc_outer_userid, &pa_bc_outer_sec_context);
	pa_bc_userid = sh->userid;
	pa_bc_sec_context = sh->sec_context;

	pgstat_report_activity(STATE_RUNNING, args.query);

	/* Prepare once; the plan is kept across the transactions. */
	SetCurrentStatementStartTimestamp();
	pa_bc_start_transaction();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = pa_bench_prepare(&args, keep_cxt, &ptype, &values);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	SPI_finish();
	PopActiveSnapshot();
	pa_bc_leave_context();
	CommitTransactionCommand();
	params = pa_bench_params(ptype, keep_cxt);

	/* Client 0 watches its executions for the plan's facts. */
	if (c == 0)
		pa_bench_probe_begin(&probe, plan, keep_cxt);

	for (i = 0; i < sh->warmup; i++)
	{
		double		ms;
		uint64		rows;
		PaBcClient	scratch;	/* warm-up errors are not counted */

		/* pa_bc_execute() checks for interrupts where errors are caught. */
		if (params)
			params->params[0].value = values[(c + (Size) i * sh->nclients) % sh->ntenants];
		memset(&scratch, 0, sizeof(scratch));
		(void) pa_bc_execute(plan, params, sh->rollback, &scratch, exec_cxt, &ms, &rows);
	}

	/* Ready; wait for the others. */
	me->state = PA_BC_READY;
	pg_atomic_fetch_add_u32(&sh->ready, 1);
	ConditionVariableBroadcast(&sh->cv);
	ConditionVariablePrepareToSleep(&sh->cv);
	while (pg_atomic_read_u32(&sh->go) == PA_BC_WAIT)
	{
		if (ConditionVariableTimedSleep(&sh->cv, 1000, PG_WAIT_EXTENSION) &&
			!pa_bc_leader_alive(sh))
			break;
	}
	ConditionVariableCancelSleep();
	if (pg_atomic_read_u32(&sh->go) != PA_BC_GO)
	{
		if (c == 0)
			pa_bench_probe_end(&probe);
		return;
	}

	me->started_at = GetCurrentTimestamp();
	last_check = me->started_at;
	buf_start = pgBufferUsage;
	for (i = c; i < sh->iterations; i += sh->nclients)
	{
		double		ms;
		uint64		rows;

		if (pg_atomic_read_u32(&sh->go) != PA_BC_GO)
			break;
		/* A leader that exited without telling us (it always should). */
		if (TimestampDifferenceExceeds(last_check, GetCurrentTimestamp(), 1000))
		{
			if (!pa_bc_leader_alive(sh))
				break;
			last_check = GetCurrentTimestamp();
		}
		if (params)
			params->params[0].value = values[i % sh->ntenants];
		if (pa_bc_execute(plan, params, sh->rollback, me, exec_cxt, &ms, &rows))
		{
			if (me->nsamples < sh->per_client)
				samples[me->nsamples++] = ms;
			me->rows += rows;
		}
	}
	memset(&buf_use, 0, sizeof(buf_use));
	BufferUsageAccumDiff(&buf_use, &pgBufferUsage, &buf_start);
	me->shared_blks_hit = buf_use.shared_blks_hit;
	me->shared_blks_read = buf_use.shared_blks_read;

	if (c == 0)
	{
		pa_bench_probe_end(&probe);
		sh->queryid = probe.queryid;
		sh->seq_scans = probe.seq_scans;
		if (probe.facts != NULL)
		{
			/* Whole facts only: cut after the last one that fits. */
			Size		len = pa_facts_clip(probe.facts, PA_BC_FACTS_LEN);

			memcpy(sh->facts, probe.facts, len);
			sh->facts[len] = '\0';
		}
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
pa_bench_client_main(Datum main_arg)
{
	dsm_segment *seg;
	PaBcShared *sh;
	PaBcClient *me;
	int			c;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	memcpy(&c, MyBgworkerEntry->bgw_extra, sizeof(int));
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pg_perfaudit benchmark client");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);			/* the leader gave up already */
	dsm_pin_mapping(seg);
	on_dsm_detach(seg, pa_bc_cancel_sleep, (Datum) 0);
	sh = (PaBcShared *) dsm_segment_address(seg);
	if (sh->magic != PA_BC_MAGIC || c < 0 || c >= sh->nclients)
		proc_exit(1);
	me = &sh->clients[c];

	/* Benchmark executions are the extension's own: not in runs or statistics. */
	pa_internal_enter();
	BackgroundWorkerInitializeConnectionByOid(sh->dboid, sh->session_userid, 0);

	PG_TRY();
	{
		pa_bc_client_run(sh, c);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Tell the leader why, then exit as any failed worker does. */
		MemoryContextSwitchTo(TopMemoryContext);
		(void) pa_set_observer(NULL);
		edata = CopyErrorData();
		pa_bc_clip(me->failure, edata->message ? edata->message : "unknown error");
		PG_RE_THROW();
	}
	PG_END_TRY();

	me->finished_at = GetCurrentTimestamp();
	pg_write_barrier();
	me->state = PA_BC_DONE;
	pg_atomic_fetch_add_u32(&sh->finished, 1);
	ConditionVariableBroadcast(&sh->cv);
	proc_exit(0);
}

/* ----------------------------------------------------------------
 * Leader side
 * ----------------------------------------------------------------
 */

/* Raise the error for a client that stopped before finishing. */
static void
pa_bc_client_lost(PaBcShared *sh, int c)
{
	pg_read_barrier();
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("benchmark client %d of %d stopped before finishing", c + 1, sh->nclients),
			 sh->clients[c].failure[0] != '\0' ?
			 errdetail("The client reported: %s", sh->clients[c].failure) :
			 errdetail("See the server log for the background worker's exit.")));
}

/*
 * Is any client waiting for a lock that this backend's transaction holds?
 * Only clients waiting on a heavyweight lock are asked about (asking takes
 * every lock-manager partition lock), in a context freed each time.
 */
static void
pa_bc_check_self_block(BackgroundWorkerHandle **handles, int n)
{
	MemoryContext cxt = NULL;
	MemoryContext old = CurrentMemoryContext;
	int			c;

	for (c = 0; c < n; c++)
	{
		pid_t		pid;
		PGPROC	   *proc;
		ArrayType  *blockers;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int			i;

		if (GetBackgroundWorkerPid(handles[c], &pid) != BGWH_STARTED)
			continue;
		proc = BackendPidGetProc(pid);
		if (proc == NULL || (proc->wait_event_info & 0xFF000000) != PG_WAIT_LOCK)
			continue;
		if (cxt == NULL)
			cxt = AllocSetContextCreate(CurrentMemoryContext,
										"pg_perfaudit lock check",
										ALLOCSET_SMALL_SIZES);
		MemoryContextSwitchTo(cxt);
		blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
														  Int32GetDatum(pid)));
		deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
		MemoryContextSwitchTo(old);
		for (i = 0; i < nelems; i++)
			if (!nulls[i] && DatumGetInt32(elems[i]) == MyProcPid)
				ereport(ERROR,
						(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						 errmsg("benchmark client %d is waiting for a lock held by this transaction", c + 1),
						 errdetail("The clients run in transactions of their own and cannot proceed until this one ends."),
						 errhint("Call benchmark_concurrent() outside a transaction that has written to the tables it touches.")));
		MemoryContextReset(cxt);
	}
	if (cxt != NULL)
		MemoryContextDelete(cxt);
}

/*
 * Wait until every client has reached at least state, checking for clients
 * that died and, once a second, for clients blocked by us.
 */
static void
pa_bc_wait(PaBcShared *sh, pg_atomic_uint32 *counter, BackgroundWorkerHandle **handles)
{
	TimestampTz last_check = GetCurrentTimestamp();

	ConditionVariablePrepareToSleep(&sh->cv);
	while ((int) pg_atomic_read_u32(counter) < sh->nclients)
	{
		int			c;

		for (c = 0; c < sh->nclients; c++)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(handles[c], &pid) == BGWH_STOPPED)
			{
				pg_read_barrier();
				if (sh->clients[c].state != PA_BC_DONE &&
					(counter == &sh->finished || sh->clients[c].state == PA_BC_STARTING))
					pa_bc_client_lost(sh, c);
			}
		}
		if (TimestampDifferenceExceeds(last_check, GetCurrentTimestamp(), 1000))
		{
			pa_bc_check_self_block(handles, sh->nclients);
			last_check = GetCurrentTimestamp();
		}
		/* At most 100 ms; checks for interrupts itself. */
		(void) ConditionVariableTimedSleep(&sh->cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

static void
pa_bc_append_codes(StringInfo buf, PaBcShared *sh)
{
	int			ncodes = 0;
	int			codes[PA_BC_MAX_CODES * 4];
	int			c,
				i,
				j;
	bool		first = true;

	/* Distinct SQLSTATEs over the clients (a bounded number). */
	for (c = 0; c < sh->nclients; c++)
		for (i = 0; i < sh->clients[c].ncodes; i++)
		{
			for (j = 0; j < ncodes; j++)
				if (codes[j] == sh->clients[c].codes[i].sqlerrcode)
					break;
			if (j == ncodes && ncodes < (int) lengthof(codes))
				codes[ncodes++] = sh->clients[c].codes[i].sqlerrcode;
		}

	appendStringInfoChar(buf, '{');
	for (j = 0; j < ncodes; j++)
	{
		int64		count = 0;
		const char *message = NULL;

		for (c = 0; c < sh->nclients; c++)
			for (i = 0; i < sh->clients[c].ncodes; i++)
				if (sh->clients[c].codes[i].sqlerrcode == codes[j])
				{
					count += sh->clients[c].codes[i].count;
					if (message == NULL)
						message = sh->clients[c].codes[i].message;
				}
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		escape_json(buf, codes[j] == PA_BC_OTHER_CODE ? "other" : unpack_sql_state(codes[j]));
		appendStringInfo(buf, ":{\"count\":" INT64_FORMAT ",\"message\":", count);
		escape_json(buf, message ? message : "");
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, '}');
}

/* What the leader must stop if it fails or exits while clients run. */
typedef struct PaBcLeader
{
	PaBcShared *sh;
	BackgroundWorkerHandle **handles;
	int			nclients;
} PaBcLeader;

/*
 * On error, and on exit (a FATAL, pg_terminate_backend()): tell the clients
 * to stop and terminate them, so that none outlives the benchmark.
 */
static void
pa_bc_stop_clients(int code, Datum arg)
{
	PaBcLeader *leader = (PaBcLeader *) DatumGetPointer(arg);
	int			c;

	TimestampTz deadline;

	pg_atomic_write_u32(&leader->sh->go, PA_BC_STOP);
	ConditionVariableBroadcast(&leader->sh->cv);
	for (c = 0; c < leader->nclients; c++)
		if (leader->handles[c] != NULL)
			TerminateBackgroundWorker(leader->handles[c]);

	/*
	 * Wait (bounded, without checking for interrupts: an error is being
	 * handled) until they have exited, so that none is left connected to
	 * the database when the call's error reaches the client.
	 */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PA_BC_EXIT_WAIT_MS);
	for (c = 0; c < leader->nclients; c++)
	{
		pid_t		pid;

		if (leader->handles[c] == NULL)
			continue;
		while (GetBackgroundWorkerPid(leader->handles[c], &pid) != BGWH_STOPPED &&
			   GetCurrentTimestamp() < deadline)
			pg_usleep(1000L);
	}
}

/* Errors that concurrency itself causes, which a benchmark counts. */
static bool
pa_bc_contention_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_QUERY_CANCELED;
}

/*
 * One pass: nclients clients sharing iterations.  Fills the latency,
 * throughput, buffer and error fields of res.
 */
static void
pa_bc_pass(const PaBenchArgs *args, int nclients, int iterations, PaBenchResult *res)
{
	Size		guclen = EstimateGUCStateSpace();
	Size		qlen = strlen(args->query) + 1;
	Size		tlen = 0;
	int			per_client = (iterations + nclients - 1) / nclients;
	Size		size;
	Size		off;
	dsm_segment *seg;
	PaBcShared *sh;
	char	   *base;
	BackgroundWorkerHandle **handles;
	PaBcLeader	leader;
	ArrayType  *arr;
	double	   *samples;
	TimestampTz go_at;
	TimestampTz end_at;
	StringInfoData codes;
	int64		rows = 0;
	int			n = 0;
	int			c,
				i;

	for (i = 0; i < args->ntenants; i++)
		tlen += strlen(args->tenants[i]) + 1;

	off = MAXALIGN(add_size(offsetof(PaBcShared, clients),
							mul_size(nclients, sizeof(PaBcClient))));
	size = off;
	size = add_size(size, MAXALIGN(qlen));
	size = add_size(size, MAXALIGN(tlen));
	size = add_size(size, MAXALIGN(guclen));
	size = add_size(size, mul_size(mul_size(per_client, nclients), sizeof(double)));

	seg = dsm_create(size, 0);
	base = dsm_segment_address(seg);
	sh = (PaBcShared *) base;
	memset(sh, 0, off);
	sh->magic = PA_BC_MAGIC;
	sh->dboid = MyDatabaseId;
	sh->session_userid = GetSessionUserId();
	GetUserIdAndSecContext(&sh->userid, &sh->sec_context);
	sh->leader_pid = MyProcPid;
	sh->nclients = nclients;
	sh->iterations = iterations;
	sh->warmup = args->warmup;
	sh->ntenants = args->ntenants;
	sh->rollback = args->rollback;
	sh->per_client = per_client;
	sh->query_off = off;
	memcpy(base + off, args->query, qlen);
	off += MAXALIGN(qlen);
	sh->tenants_off = off;
	for (i = 0; i < args->ntenants; i++)
	{
		Size		len = strlen(args->tenants[i]) + 1;

		memcpy(base + off, args->tenants[i], len);
		off += len;
	}
	off = sh->tenants_off + MAXALIGN(tlen);
	sh->guc_off = off;
	SerializeGUCState(guclen, base + off);
	off += MAXALIGN(guclen);
	sh->samples_off = off;
	pg_atomic_init_u32(&sh->ready, 0);
	pg_atomic_init_u32(&sh->finished, 0);
	pg_atomic_init_u32(&sh->go, PA_BC_WAIT);
	ConditionVariableInit(&sh->cv);

	on_dsm_detach(seg, pa_bc_cancel_sleep, (Datum) 0);

	handles = palloc0(sizeof(BackgroundWorkerHandle *) * nclients);
	leader.sh = sh;
	leader.handles = handles;
	leader.nclients = nclients;
	PG_ENSURE_ERROR_CLEANUP(pa_bc_stop_clients, PointerGetDatum(&leader));
	{
		for (c = 0; c < nclients; c++)
		{
			char		name[BGW_MAXLEN];

			snprintf(name, sizeof(name), "pg_perfaudit benchmark client %d for PID %d",
					 c + 1, MyProcPid);
			if (!pa_register_worker(name, "pg_perfaudit benchmark client",
									"pa_bench_client_main",
									UInt32GetDatum(dsm_segment_handle(seg)),
									&c, sizeof(int), MyProcPid, &handles[c]))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("could not start benchmark client %d of %d: no free background worker slot",
								c + 1, nclients),
						 errdetail("max_worker_processes is %d; other background workers and parallel queries use slots too.",
								   max_worker_processes),
						 errhint("Ask for fewer clients or raise max_worker_processes (needs a server restart).")));
		}

		pa_bc_wait(sh, &sh->ready, handles);
		pg_atomic_write_u32(&sh->go, PA_BC_GO);
		ConditionVariableBroadcast(&sh->cv);
		pa_bc_wait(sh, &sh->finished, handles);
	}
	PG_END_ENSURE_ERROR_CLEANUP(pa_bc_stop_clients, PointerGetDatum(&leader));

	/* Let the slots go before anything else starts workers. */
	for (c = 0; c < nclients; c++)
		(void) WaitForBackgroundWorkerShutdown(handles[c]);
	pg_read_barrier();

	arr = pa_samples_array(iterations);
	samples = PA_SAMPLES(arr);

	/* Wall time from the first client's start to the last one's end. */
	go_at = 0;
	for (c = 0; c < nclients; c++)
		if (sh->clients[c].started_at != 0 &&
			(go_at == 0 || sh->clients[c].started_at < go_at))
			go_at = sh->clients[c].started_at;
	end_at = go_at;
	memset(&codes, 0, sizeof(codes));
	res->errors = 0;
	res->shared_blks_hit = 0;
	res->shared_blks_read = 0;
	for (c = 0; c < nclients; c++)
	{
		PaBcClient *cl = &sh->clients[c];
		double	   *cs = (double *) (base + sh->samples_off) + (Size) c * per_client;

		memcpy(samples + n, cs, sizeof(double) * cl->nsamples);
		n += cl->nsamples;
		rows += cl->rows;
		res->errors += cl->errors;
		res->shared_blks_hit += cl->shared_blks_hit;
		res->shared_blks_read += cl->shared_blks_read;
		if (cl->finished_at > end_at)
			end_at = cl->finished_at;
	}
	/*
	 * Not one execution succeeded, and not because of contention: the
	 * statement cannot run (permissions, a constraint, a bad value), which
	 * the caller must hear about as an error rather than as a result.
	 */
	if (n == 0)
		for (c = 0; c < nclients; c++)
			for (i = 0; i < sh->clients[c].ncodes; i++)
				if (sh->clients[c].codes[i].sqlerrcode != PA_BC_OTHER_CODE &&
					!pa_bc_contention_error(sh->clients[c].codes[i].sqlerrcode))
					ereport(ERROR,
							(errcode(sh->clients[c].codes[i].sqlerrcode),
							 errmsg("every execution of the benchmark failed: %s",
									sh->clients[c].codes[i].message),
							 errdetail_plural("%lld errors from %d client; none was a deadlock, lock timeout, serialization failure or cancel.",
											  "%lld errors from %d clients; none was a deadlock, lock timeout, serialization failure or cancel.",
											  nclients, (long long) res->errors, nclients)));

	pa_bench_summarise(arr, n, false, res);
	res->rows_per_call = n > 0 ? (double) rows / n : 0;
	res->wall_ms = (double) (end_at - go_at) / 1000.0;
	res->throughput_qps = res->wall_ms > 0 ? n / (res->wall_ms / 1000.0) : 0;
	initStringInfo(&codes);
	pa_bc_append_codes(&codes, sh);
	res->error_counts = codes.data;
	if (sh->facts[0] != '\0')
		res->facts = pstrdup(sh->facts);
	res->queryid = sh->queryid;
	res->seq_scans = sh->seq_scans;

	dsm_detach(seg);
}

/* ----------------------------------------------------------------
 * Leases: how many clients may run
 * ----------------------------------------------------------------
 */

static int	pa_bc_lease = -1;	/* our entry in bench_leases[], if any */

static void
pa_bc_release_lease(int code, Datum arg)
{
	if (pa_bc_lease < 0)
		return;
	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	if (pa_shared->bench_leases[pa_bc_lease].pid == MyProcPid)
		memset(&pa_shared->bench_leases[pa_bc_lease], 0, sizeof(PaBenchLease));
	LWLockRelease(pa_shared->lock);
	pa_bc_lease = -1;
}

/*
 * The error core raises for a CONNECTION LIMIT, for the clients of one call:
 * what ("role", "database") named name, which has backends connections and
 * clients benchmark clients already; limit < 0 is none.
 */
static void
pa_bc_check_connlimit(const char *what, const char *name, const char *how,
					  int nclients, int backends, int clients, int limit)
{
	if (limit >= 0 && backends + clients + nclients > limit)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
				 errmsg("too many connections for %s \"%s\"", what, name),
				 errdetail("The %d benchmark clients would connect %s, which has %d connections and %d benchmark clients already; its CONNECTION LIMIT is %d.",
						   nclients, how, backends, clients, limit)));
}

/*
 * Take a lease on nclients clients or raise the error that says which limit
 * they would exceed.  The backends counted by CountUserBackends() and
 * CountDBConnections() (this one among them) are counted before the lock
 * is taken: like core's own check, the limit is approximate when sessions
 * connect at the same moment.
 */
static void
pa_bc_take_lease(int nclients)
{
	Oid			roleid = GetSessionUserId();
	HeapTuple	tup;
	int			rolconnlimit;
	bool		rolsuper;
	int			datconnlimit;
	char	   *rolname;
	char	   *datname;
	int			role_backends;
	int			db_backends;
	int			role_clients = 0;
	int			db_clients = 0;
	int			all_clients = 0;
	int			budget = max_worker_processes - pa_benchmark_reserved_workers;
	int			free_lease = -1;
	int			i;

	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", roleid);
	rolconnlimit = ((Form_pg_authid) GETSTRUCT(tup))->rolconnlimit;
	rolsuper = ((Form_pg_authid) GETSTRUCT(tup))->rolsuper;
	rolname = pstrdup(NameStr(((Form_pg_authid) GETSTRUCT(tup))->rolname));
	ReleaseSysCache(tup);
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	datconnlimit = ((Form_pg_database) GETSTRUCT(tup))->datconnlimit;
	datname = pstrdup(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname));
	ReleaseSysCache(tup);
	role_backends = CountUserBackends(roleid);
	db_backends = CountDBConnections(MyDatabaseId);

	if (pa_bc_lease >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("benchmark_concurrent() cannot be called while this session runs one")));
	LWLockAcquire(pa_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PA_MAX_BENCH_LEASES; i++)
	{
		PaBenchLease *l = &pa_shared->bench_leases[i];

		if (l->pid == 0)
		{
			if (free_lease < 0)
				free_lease = i;
			continue;
		}
		all_clients += l->nclients;
		if (l->roleid == roleid)
			role_clients += l->nclients;
		if (l->dboid == MyDatabaseId)
			db_clients += l->nclients;
	}
	if (free_lease >= 0 &&
		role_clients + nclients <= pa_max_benchmark_clients &&
		all_clients + nclients <= budget &&
		(rolsuper || rolconnlimit < 0 ||
		 role_backends + role_clients + nclients <= rolconnlimit) &&
		(rolsuper || datconnlimit < 0 ||
		 db_backends + db_clients + nclients <= datconnlimit))
	{
		PaBenchLease *l = &pa_shared->bench_leases[free_lease];

		l->pid = MyProcPid;
		l->roleid = roleid;
		l->dboid = MyDatabaseId;
		l->nclients = nclients;
		pa_bc_lease = free_lease;
	}
	LWLockRelease(pa_shared->lock);
	if (pa_bc_lease >= 0)
		return;

	/* Which limit: in the order a user can act on them. */
	if (role_clients + nclients > pa_max_benchmark_clients)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many benchmark clients for role \"%s\"", rolname),
				 errdetail("%d clients asked for, %d running in other calls of this role, perfaudit.max_benchmark_clients is %d.",
						   nclients, role_clients, pa_max_benchmark_clients),
				 errhint("Ask for fewer clients, or have a superuser raise perfaudit.max_benchmark_clients for the role (ALTER ROLE ... SET).")));
	if (!rolsuper)
	{
		pa_bc_check_connlimit("role", rolname, "as the role", nclients,
							  role_backends, role_clients, rolconnlimit);
		pa_bc_check_connlimit("database", datname, "to the database", nclients,
							  db_backends, db_clients, datconnlimit);
	}
	if (all_clients + nclients > budget)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("not enough background worker slots for %d benchmark clients", nclients),
				 errdetail("Benchmark clients may use max_worker_processes (%d) minus perfaudit.benchmark_reserved_workers (%d) slots, %d in all; %d are in use by other benchmarks.",
						   max_worker_processes, pa_benchmark_reserved_workers,
						   Max(budget, 0), all_clients),
				 errhint("Ask for fewer clients, wait for the other benchmarks, or raise max_worker_processes (needs a server restart).")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("too many concurrent benchmark_concurrent() calls"),
			 errdetail("At most %d run at once, cluster-wide.", PA_MAX_BENCH_LEASES)));
}

/*
 * benchmark_concurrent(query, clients, iterations, tenants, label, warmup,
 *						rollback)
 */
Datum
pa_benchmark_concurrent(PG_FUNCTION_ARGS)
{
	PaBenchArgs args;
	PaBenchResult res;
	uint64		benchmark_id;
	TimestampTz started_at = GetCurrentTimestamp();
	MemoryContext cxt = CurrentMemoryContext;

	pa_require_preload();
	pa_bench_args_from_call(fcinfo, &args, 0, 2, 5, 3);
	pa_bench_arg_not_null(fcinfo, 1, "clients");
	args.clients = PG_GETARG_INT32(1);
	if (!PG_ARGISNULL(4))
		args.label = text_to_cstring(PG_GETARG_TEXT_PP(4));
	pa_check_label(args.label);
	pa_bench_arg_not_null(fcinfo, 6, "rollback");
	args.rollback = PG_GETARG_BOOL(6);

	if (args.clients < 1 || args.clients > PA_BC_MAX_CLIENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clients must be between 1 and %d", PA_BC_MAX_CLIENTS),
				 errdetail("clients = %d", args.clients)));
	if (args.clients > max_worker_processes)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("benchmark_concurrent needs %d background workers but max_worker_processes is %d",
						args.clients, max_worker_processes),
				 errhint("Ask for fewer clients or raise max_worker_processes (needs a server restart).")));
	if (args.iterations < args.clients)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be at least clients"),
				 errdetail("iterations = %d, clients = %d", args.iterations, args.clients)));

	/* Every mistake in the statement or the tenants is reported here. */
	{
		Oid			ptype;
		Datum	   *values;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		(void) pa_bench_prepare(&args, cxt, &ptype, &values);
		SPI_finish();
		memset(&res, 0, sizeof(res));
		res.ptype = ptype;
	}

	benchmark_id = pa_store_next_benchmark_id();

	pa_bc_take_lease(args.clients);
	PG_ENSURE_ERROR_CLEANUP(pa_bc_release_lease, (Datum) 0);
	{
		if (args.clients > 1)
		{
			PaBenchResult single;
			int			n1 = Max((args.iterations + args.clients - 1) / args.clients,
								 Min(args.iterations, PA_BC_SINGLE_MIN));

			memset(&single, 0, sizeof(single));
			pa_bc_pass(&args, 1, n1, &single);
			res.single_p50_ms = single.p50_ms;
			res.single_p95_ms = single.p95_ms;
			res.single_throughput_qps = single.throughput_qps;
		}
		pa_bc_pass(&args, args.clients, args.iterations, &res);
	}
	PG_END_ENSURE_ERROR_CLEANUP(pa_bc_release_lease, (Datum) 0);
	pa_bc_release_lease(0, (Datum) 0);
	if (args.clients == 1)
	{
		res.single_p50_ms = res.p50_ms;
		res.single_p95_ms = res.p95_ms;
		res.single_throughput_qps = res.throughput_qps;
	}

	PG_RETURN_DATUM(pa_bench_store(&args, &res, benchmark_id, started_at));
}
