/*-------------------------------------------------------------------------
 *
 * capture.c
 *		Capture runs: start(), stop(), active_run(), and the buffers the
 *		hooks append statement executions to.
 *
 * A run keeps every counted execution as a fixed-size PaExecRecord in a
 * PaRunBuffer, followed by a text area that holds each statement text (and
 * tenant value) once per writing backend.  A session-scope run's buffer is
 * backend-local memory; a database-scope run's buffer is a dynamic shared
 * memory segment that every backend of the database attaches to and appends
 * to.  The buffer is sized once, at start(), from perfaudit.max_run_statements:
 * executions beyond it are still counted and timed in the header counters
 * and reported as runs.overflow, so memory is bounded and nothing is lost
 * silently.
 *
 * Locking contract for PaRunBuffer (shared when database-scope)
 * --------------------------------------------------------------
 * No lock.  Writers reserve a record with an atomic fetch-add on
 * next_record (and text bytes with one on text_used), fill it, issue a
 * write barrier and set its ready flag last.  The owner sets closed before
 * reading; it reads only records below next_record and waits (boundedly)
 * for their ready flag.  Header counters are atomics; max_ns is raised with
 * a compare-and-swap loop.
 *
 * A "sink" is this backend's handle on one run it appends to: its own
 * session run, or a database run (its own or another backend's).  Sinks
 * for other backends' database runs are refreshed lazily, when the
 * generation counter in shared memory moves (see shmem.c).
 *
 * stop() closes the buffer, aggregates it into run_statements rows in one
 * pass of hash tables (linear in the number of executions), and hands the
 * resulting document to the writer worker (persist.c), which stores it in
 * its own transaction: the caller's rollback cannot remove it.
 *
 *-------------------------------------------------------------------------
 */
#include "pg_perfaudit.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bench.h"
#include "capture.h"
#include "detect.h"
#include "jsonout.h"
#include "persist.h"
#include "tenant.h"
#include "text.h"

PG_FUNCTION_INFO_V1(pa_start);
PG_FUNCTION_INFO_V1(pa_stop);
PG_FUNCTION_INFO_V1(pa_active_run);
PG_FUNCTION_INFO_V1(pa_discard_run);
PG_FUNCTION_INFO_V1(pa_last_run);

#define PA_NO_OFFSET		UINT32_MAX
#define PA_BUFFER_MAGIC		0x50415242	/* "PARB" */

/* One counted statement execution, as stored in a run buffer. */
typedef struct PaExecRecord
{
	uint64		queryid;
	uint64		param_hash;
	double		duration_ms;
	double		plan_ms;
	uint64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int32		pid;
	int32		seq_scans;
	uint32		text_off;		/* text area offset, or PA_NO_OFFSET */
	uint32		tenant_off;		/* text area offset, or PA_NO_OFFSET */
	uint32		facts_off;		/* text area offset, or PA_NO_OFFSET */
	int16		nesting_level;
	uint8		flags;
	volatile uint8 ready;		/* set last, after a write barrier */
} PaExecRecord;

typedef struct PaRunBuffer
{
	uint32		magic;
	uint32		capacity;		/* records */
	uint64		run_id;
	uint64		text_capacity;	/* bytes */
	pg_atomic_uint32 closed;
	pg_atomic_uint64 next_record;
	pg_atomic_uint64 text_used;
	pg_atomic_uint64 statements;	/* counted executions, stored or not */
	pg_atomic_uint64 total_ns;
	pg_atomic_uint64 max_ns;
	pg_atomic_uint64 texts_dropped;
} PaRunBuffer;

#define PA_BUF_RECORDS(buf) \
	((PaExecRecord *) ((char *) (buf) + MAXALIGN(sizeof(PaRunBuffer))))
#define PA_BUF_TEXT(buf) \
	((char *) (PA_BUF_RECORDS(buf) + (buf)->capacity))

/* A text-area entry: length, bytes, NUL. */
typedef struct PaTextEntry
{
	uint32		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} PaTextEntry;

typedef struct PaSink
{
	uint64		run_id;
	PaRunBuffer *buf;
	dsm_segment *seg;			/* attached here; NULL when we own the run */
	int			track;			/* fixed level, or -1: this session's GUC */
	MemoryContext cxt;
	HTAB	   *texts;			/* (queryid, level) -> text offset */
	HTAB	   *tenants;		/* tenant -> text offset, sent once */
	HTAB	   *facts;			/* hash of plan facts -> text offset */
	uint32		last_facts_off; /* the facts sent last, checked first */
} PaSink;

typedef struct PaTextCacheEntry
{
	uint64		key;
	uint32		off;
} PaTextCacheEntry;

typedef struct PaTenantCacheEntry
{
	char		tenant[PA_MAX_TENANT_LEN + 1];
	uint32		off;
} PaTenantCacheEntry;

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

static const char *pa_buffer_text(PaRunBuffer *buf, uint32 off);

static PaRun *pa_run = NULL;
static uint64 pa_last_run_id = 0;	/* last run this session stored */
static PaSink *pa_sinks[PA_MAX_SINKS];
int			pa_nsinks = 0;
uint32		pa_seen_generation = 0;
static bool pa_exit_callback_set = false;

/* ----------------------------------------------------------------
 * Run buffers and sinks
 * ----------------------------------------------------------------
 */

static Size
pa_buffer_size(uint32 capacity, uint64 text_capacity)
{
	return MAXALIGN(sizeof(PaRunBuffer)) +
		(Size) capacity * sizeof(PaExecRecord) + text_capacity;
}

/* Text area: 512 bytes per 8 records, within [256 kB, 64 MB]. */
static uint64
pa_text_capacity(uint32 capacity)
{
	uint64		bytes = (uint64) capacity * 64;

	return Min(Max(bytes, 256 * 1024), 64 * 1024 * 1024);
}

static void
pa_buffer_init(PaRunBuffer *buf, uint64 run_id, uint32 capacity,
			   uint64 text_capacity)
{
	buf->magic = PA_BUFFER_MAGIC;
	buf->capacity = capacity;
	buf->run_id = run_id;
	buf->text_capacity = text_capacity;
	pg_atomic_init_u32(&buf->closed, 0);
	pg_atomic_init_u64(&buf->next_record, 0);
	pg_atomic_init_u64(&buf->text_used, 0);
	pg_atomic_init_u64(&buf->statements, 0);
	pg_atomic_init_u64(&buf->total_ns, 0);
	pg_atomic_init_u64(&buf->max_ns, 0);
	pg_atomic_init_u64(&buf->texts_dropped, 0);
}

static PaSink *
pa_sink_create(uint64 run_id, PaRunBuffer *buf, dsm_segment *seg, int track)
{
	MemoryContext cxt;
	PaSink	   *sink;
	HASHCTL		ctl;

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit sink",
								ALLOCSET_SMALL_SIZES);
	sink = MemoryContextAllocZero(cxt, sizeof(PaSink));
	sink->run_id = run_id;
	sink->buf = buf;
	sink->seg = seg;
	sink->track = track;
	sink->cxt = cxt;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(PaTextCacheEntry);
	ctl.hcxt = cxt;
	sink->texts = hash_create("pg_perfaudit sink texts", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = PA_MAX_TENANT_LEN + 1;
	ctl.entrysize = sizeof(PaTenantCacheEntry);
	ctl.hcxt = cxt;
	sink->tenants = hash_create("pg_perfaudit sink tenants", 64, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(PaTextCacheEntry);
	ctl.hcxt = cxt;
	sink->facts = hash_create("pg_perfaudit sink facts", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	sink->last_facts_off = PA_NO_OFFSET;
	return sink;
}

static void
pa_sink_add(PaSink *sink)
{
	Assert(pa_nsinks < PA_MAX_SINKS);
	pa_sinks[pa_nsinks++] = sink;
}

/* Forget a sink; detach its segment if we attached it. */
static void
pa_sink_drop(int i)
{
	PaSink	   *sink = pa_sinks[i];

	if (sink->seg != NULL)
		dsm_detach(sink->seg);
	MemoryContextDelete(sink->cxt);
	pa_sinks[i] = pa_sinks[--pa_nsinks];
}

static void
pa_sink_drop_run(uint64 run_id)
{
	int			i;

	for (i = 0; i < pa_nsinks; i++)
	{
		if (pa_sinks[i]->run_id == run_id)
		{
			pa_sink_drop(i);
			return;
		}
	}
}

/*
 * Bring the sinks for other backends' database runs in line with the slots
 * in shared memory.  Called when the generation counter moved.
 */
static void
pa_refresh_db_sinks(void)
{
	uint32		gen;
	uint64		live_ids[PA_MAX_DB_RUNS];
	dsm_handle	live_handles[PA_MAX_DB_RUNS];
	int			live_track[PA_MAX_DB_RUNS];
	int			nlive = 0;
	int			i,
				j;

	gen = pg_atomic_read_u32(&pa_shared->db_runs_generation);

	LWLockAcquire(pa_shared->lock, LW_SHARED);
	for (i = 0; i < PA_MAX_DB_RUNS; i++)
	{
		PaDbRunSlot *slot = &pa_shared->db_runs[i];

		if (slot->in_use && slot->dboid == MyDatabaseId &&
			slot->owner_pid != MyProcPid)
		{
			live_ids[nlive] = slot->run_id;
			live_handles[nlive] = slot->handle;
			live_track[nlive] = slot->track;
			nlive++;
		}
	}
	LWLockRelease(pa_shared->lock);

	/* Drop sinks of ended runs (attached ones only: ours end in stop()). */
	for (i = pa_nsinks - 1; i >= 0; i--)
	{
		bool		live = false;

		if (pa_sinks[i]->seg == NULL)
			continue;
		for (j = 0; j < nlive; j++)
			if (live_ids[j] == pa_sinks[i]->run_id)
				live = true;
		if (!live)
			pa_sink_drop(i);
	}

	/* Attach to new ones. */
	for (j = 0; j < nlive; j++)
	{
		bool		have = false;
		dsm_segment *seg;
		PaRunBuffer *buf;

		for (i = 0; i < pa_nsinks; i++)
			if (pa_sinks[i]->run_id == live_ids[j])
				have = true;
		if (have || pa_nsinks >= PA_MAX_SINKS)
			continue;

		seg = dsm_attach(live_handles[j]);
		if (seg == NULL)
			continue;			/* the run ended meanwhile */
		buf = (PaRunBuffer *) dsm_segment_address(seg);
		if (buf->magic != PA_BUFFER_MAGIC || buf->run_id != live_ids[j])
		{
			dsm_detach(seg);
			continue;
		}
		dsm_pin_mapping(seg);
		pa_sink_add(pa_sink_create(live_ids[j], buf, seg, live_track[j]));
	}

	pa_seen_generation = gen;
}

bool
pa_capture_eligible(int level, PaRunIds *ids)
{
	int			i;

	ids->n = 0;
	if (pa_shared != NULL &&
		pg_atomic_read_u32(&pa_shared->db_runs_generation) != pa_seen_generation)
		pa_refresh_db_sinks();

	for (i = 0; i < pa_nsinks; i++)
	{
		int			track = pa_sinks[i]->track >= 0 ? pa_sinks[i]->track : pa_track;

		if (track == PA_TRACK_ALL || (track == PA_TRACK_TOP && level == 0))
			ids->ids[ids->n++] = pa_sinks[i]->run_id;
	}
	return ids->n > 0;
}

/*
 * Reserve and fill a text-area entry; PA_NO_OFFSET when the area is full.
 */
static uint32
pa_buffer_put_text(PaRunBuffer *buf, const char *text, int len)
{
	Size		need = MAXALIGN(offsetof(PaTextEntry, data) + len + 1);
	uint64		off;
	PaTextEntry *e;

	off = pg_atomic_fetch_add_u64(&buf->text_used, need);
	if (off + need > buf->text_capacity || off >= PA_NO_OFFSET)
	{
		pg_atomic_fetch_add_u64(&buf->texts_dropped, 1);
		return PA_NO_OFFSET;
	}
	e = (PaTextEntry *) (PA_BUF_TEXT(buf) + off);
	memcpy(e->data, text, len);
	e->data[len] = '\0';
	e->len = len;
	return (uint32) off;
}

/*
 * The text of a statement, sent once per (queryid, nesting level): the same
 * statement run by the client and inside a function usually differs in its
 * literals, and each row of run_statements should show its own.
 */
static uint32
pa_sink_text(PaSink *sink, uint64 queryid, int level, const char *text, int len)
{
	PaTextCacheEntry *e;
	uint64		key = hash_combine64(queryid, (uint64) level);
	bool		found;

	if (text == NULL)
		return PA_NO_OFFSET;
	e = hash_search(sink->texts, &key, HASH_ENTER, &found);
	if (!found)
		e->off = pa_buffer_put_text(sink->buf, text,
									 pa_clip_len(text, len, PA_MAX_QUERY_TEXT));
	return e->off;
}

static uint32
pa_sink_tenant(PaSink *sink, const char *tenant)
{
	char		key[PA_MAX_TENANT_LEN + 1];
	PaTenantCacheEntry *e;
	bool		found;

	if (tenant == NULL)
		return PA_NO_OFFSET;
	pa_clip_tenant(key, tenant);
	e = hash_search(sink->tenants, key, HASH_ENTER, &found);
	if (!found)
		e->off = pa_buffer_put_text(sink->buf, key, strlen(key));
	return e->off;
}

static uint32
pa_sink_facts(PaSink *sink, const char *facts)
{
	PaTextCacheEntry *e;
	uint64		key;
	bool		found;
	int			len;

	if (facts == NULL)
		return PA_NO_OFFSET;

	/* Mostly the same facts as last time (a loop over one statement). */
	if (sink->last_facts_off != PA_NO_OFFSET &&
		strcmp(pa_buffer_text(sink->buf, sink->last_facts_off), facts) == 0)
		return sink->last_facts_off;

	len = strlen(facts);
	key = hash_bytes_extended((const unsigned char *) facts, len, 0);
	e = hash_search(sink->facts, &key, HASH_ENTER, &found);
	if (!found)
		e->off = pa_buffer_put_text(sink->buf, facts, len);
	sink->last_facts_off = e->off;
	return e->off;
}

static void
pa_sink_append(PaSink *sink, const PaStmtInfo *info)
{
	PaRunBuffer *buf = sink->buf;
	uint64		ns = (uint64) (info->duration_ms * 1000000.0);
	uint64		cur_max;
	uint64		idx;
	PaExecRecord *rec;

	if (pg_atomic_read_u32(&buf->closed))
		return;

	pg_atomic_fetch_add_u64(&buf->statements, 1);
	pg_atomic_fetch_add_u64(&buf->total_ns, ns);
	cur_max = pg_atomic_read_u64(&buf->max_ns);
	while (ns > cur_max &&
		   !pg_atomic_compare_exchange_u64(&buf->max_ns, &cur_max, ns))
		;

	idx = pg_atomic_fetch_add_u64(&buf->next_record, 1);
	if (idx >= buf->capacity)
		return;					/* counted above, not kept: overflow */

	rec = &PA_BUF_RECORDS(buf)[idx];
	rec->queryid = info->queryid;
	rec->param_hash = info->param_hash;
	rec->duration_ms = info->duration_ms;
	rec->plan_ms = info->plan_ms;
	rec->rows = info->rows;
	rec->shared_blks_hit = info->shared_blks_hit;
	rec->shared_blks_read = info->shared_blks_read;
	rec->pid = MyProcPid;
	rec->seq_scans = info->seq_scans;
	rec->nesting_level = info->nesting_level;
	rec->flags = info->flags;
	rec->text_off = pa_sink_text(sink, info->queryid, info->nesting_level,
								 info->text, info->text_len);
	rec->tenant_off = pa_sink_tenant(sink, info->tenant);
	rec->facts_off = pa_sink_facts(sink, info->facts);
	pg_write_barrier();
	rec->ready = 1;
}

/*
 * A statement of this session's own run as its owner may see it.  Nested
 * statements can run as another role: a SECURITY DEFINER function (its
 * cursors and set-returning functions too, which end as the caller), or a
 * maintenance command's index expressions run as the table's owner.  The
 * role is the one the statement started as, when its text, tenant and plan
 * were read.  Unless the run's owner has that role's privileges (or
 * pg_read_all_stats, as a database-scope run's owner must), it sees what
 * pg_stat_statements shows: the statement counted and timed, its text
 * "<insufficient privilege>", no tenant (a tenant setting may have been
 * read with the other role's privileges), no plan facts (they name
 * relations) and one parameter fingerprint for all (distinct_params must
 * not tell whether a guess equals the hidden values).  has_privs_of_role()
 * is asked each time the roles differ: its cache follows GRANT and REVOKE.
 */
static const PaStmtInfo *
pa_visible_to_run(const PaStmtInfo *info)
{
	static PaStmtInfo redacted;
	static const char hidden[] = "<insufficient privilege>";

	if (info->userid == pa_run->userid || pa_run->database_scope ||
		!OidIsValid(info->userid) ||
		has_privs_of_role(pa_run->userid, info->userid) ||
		has_privs_of_role(pa_run->userid, ROLE_PG_READ_ALL_STATS))
		return info;
	redacted = *info;
	redacted.text = hidden;
	redacted.text_len = sizeof(hidden) - 1;
	redacted.tenant = NULL;
	redacted.facts = NULL;
	redacted.param_hash = 0;
	return &redacted;
}

void
pa_capture_record(const PaRunIds *ids, const PaStmtInfo *info)
{
	int			i,
				j;

	for (i = 0; i < pa_nsinks; i++)
	{
		for (j = 0; j < ids->n; j++)
		{
			if (ids->ids[j] == pa_sinks[i]->run_id)
			{
				pa_sink_append(pa_sinks[i],
							   pa_run != NULL && pa_run->run_id == pa_sinks[i]->run_id ?
							   pa_visible_to_run(info) : info);
				break;
			}
		}
	}
}

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

	run_id = (uint64) nextval_internal(pa_extension_relation("runs_run_id_seq"), false);

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
			run->sink = pa_sink_create(run_id, run->buf, NULL, -1);
		}
		else
		{
			int			i;

			run->seg = dsm_create(size, 0);
			run->buf = dsm_segment_address(run->seg);
			memset(run->buf, 0, size);
			pa_buffer_init(run->buf, run_id, capacity, text_capacity);
			run->sink = pa_sink_create(run_id, run->buf, NULL, pa_track);

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
				MemoryContextDelete(run->sink->cxt);
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

/* ----------------------------------------------------------------
 * stop(): aggregation and the document handed to the writer
 * ----------------------------------------------------------------
 */

typedef struct PaGroupKey
{
	uint64		queryid;
	int32		nesting_level;
	char		tenant[PA_MAX_TENANT_LEN + 1];
	bool		has_tenant;
} PaGroupKey;

typedef struct PaGroup
{
	PaGroupKey	key;			/* hash key, must be first */
	int			order;			/* first appearance */
	int64		calls;
	int64		distinct_params;
	double		total_ms;
	double		min_ms;
	double		max_ms;
	double		plan_ms;
	uint64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		seq_scans;
	int64		max_repeats;	/* in one session */
	int64		loop_calls;		/* of the session with most distinct values */
	int64		loop_distinct;
	uint64		loop_first_index;	/* that session's first execution */
	uint64		loop_last_index;	/* and last */
	int64		slow_calls;
	int64		cross_calls;
	bool		cursor_read;	/* FETCH / MOVE */
	int			nfacts;
	const char *facts[PA_MAX_GROUP_FACTS];
	uint64		first_index;	/* record index of the first execution */
	const char *text;
} PaGroup;

/*
 * Parameter values seen per group, over the whole run (pid 0) and, in a
 * database-scope run, per session too: an N+1 loop or a repeated query is
 * one request's pattern, and a request is one session's, so fifty clients
 * each asking once for their organization's plan are not a repeat.
 */
typedef struct PaParamKey
{
	int			group;
	int32		pid;
	uint64		param_hash;
} PaParamKey;

typedef struct PaParamEntry
{
	PaParamKey	key;			/* hash key, must be first */
	int64		count;
} PaParamEntry;

typedef struct PaSessionKey
{
	int			group;
	int32		pid;
} PaSessionKey;

typedef struct PaSessionEntry
{
	PaSessionKey key;			/* hash key, must be first */
	int64		calls;
	int64		distinct_params;
	uint64		first_index;
	uint64		last_index;
} PaSessionEntry;

/* How far back, in executions, the source of an N+1 loop is looked for. */
#define PA_SOURCE_LOOKBACK	64

typedef struct PaRunSummary
{
	uint64		statements;
	uint64		stored;
	uint64		overflow;
	double		total_ms;
	double		max_ms;
	int			findings;
	TimestampTz stopped_at;
} PaRunSummary;

static const char *
pa_buffer_text(PaRunBuffer *buf, uint32 off)
{
	if (off == PA_NO_OFFSET || off >= buf->text_capacity)
		return NULL;
	return ((PaTextEntry *) (PA_BUF_TEXT(buf) + off))->data;
}

/*
 * Wait until a record of a shared buffer is fully written.  A writer fills
 * a record in a few instructions after reserving it, so this returns at
 * once in practice; the bound only guards against a writer that died in
 * between (which takes the whole server through crash recovery anyway).
 */
static bool
pa_record_ready(PaExecRecord *rec)
{
	int			spins = 0;

	while (!rec->ready)
	{
		if (++spins > 10000)
			return false;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100);
	}
	pg_read_barrier();
	return true;
}

/* Is this execution the likely source of the group's loop? */
static bool
pa_is_source(PaRun *run, PaGroup *grp, PaExecRecord *first, PaExecRecord *r,
			 PaGroupSummary *gs)
{
	if (!r->ready && run->database_scope)
		return false;
	if (r->pid != first->pid || r->queryid == grp->key.queryid ||
		r->nesting_level > grp->key.nesting_level)
		return false;
	if (r->rows * 5 < (uint64) grp->loop_calls * 4 ||
		r->rows * 4 > (uint64) grp->loop_calls * 5)
		return false;
	gs->has_source = true;
	gs->source_queryid = r->queryid;
	gs->source_text = pa_buffer_text(run->buf, r->text_off);
	gs->source_rows = r->rows;
	return true;
}

/*
 * The likely source of an N+1 loop: a different statement of the same
 * backend, at the same or an outer level, that returned about as many rows
 * as the loop ran.  Looked for among the executions shortly before the
 * loop's first one (a list the application then walks), then shortly after
 * its last one: a PL/pgSQL FOR loop's query, or a cursor, ends, and so is
 * recorded, after the statements run for its rows.
 */
static void
pa_find_source(PaRun *run, PaGroup *grp, PaGroupSummary *gs, uint64 nrecs)
{
	PaExecRecord *recs = PA_BUF_RECORDS(run->buf);
	PaExecRecord *first = &recs[grp->loop_first_index];
	uint64		lo = grp->loop_first_index > PA_SOURCE_LOOKBACK ?
		grp->loop_first_index - PA_SOURCE_LOOKBACK : 0;
	uint64		hi = Min(nrecs, grp->loop_last_index + 1 + PA_SOURCE_LOOKBACK);
	uint64		j;

	for (j = grp->loop_first_index; j > lo; j--)
		if (pa_is_source(run, grp, first, &recs[j - 1], gs))
			return;
	for (j = grp->loop_last_index + 1; j < hi; j++)
		if (pa_is_source(run, grp, first, &recs[j], gs))
			return;
}

/*
 * Per tenant, the latency distribution of the statements the application
 * sent (nesting level 0: a nested statement's time is inside its caller's):
 * exact percentiles over the kept executions, and counts in fixed buckets
 * for charts (report_html()).
 */
static const double pa_latency_bounds[] = {
	0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500,
	1000, 2000, 5000, 10000
};
#define PA_LATENCY_BUCKETS	(lengthof(pa_latency_bounds) + 1)	/* + beyond */

typedef struct PaTenantLatency
{
	char		tenant[PA_MAX_TENANT_LEN + 1];	/* hash key, must be first */
	bool		has_tenant;
	int			order;
	int64		calls;
	double		total_ms;
	int64		counts[PA_LATENCY_BUCKETS];
	double	   *durations;
	int64		capacity;
} PaTenantLatency;

static void
pa_latency_add(PaTenantLatency *t, double ms)
{
	int			b = 0;

	while (b < (int) lengthof(pa_latency_bounds) && ms > pa_latency_bounds[b])
		b++;
	t->counts[b]++;
	if (t->calls == t->capacity)
	{
		t->capacity = Max(64, t->capacity * 2);
		t->durations = t->durations == NULL ?
			palloc(sizeof(double) * t->capacity) :
			repalloc_huge(t->durations, sizeof(double) * t->capacity);
	}
	t->durations[t->calls++] = ms;
	t->total_ms += ms;
}

static void
pa_latency_json(StringInfo out, PaTenantLatency **tenants, int n)
{
	int			i,
				b;

	appendStringInfoChar(out, '[');
	for (i = 0; i < n; i++)
	{
		PaTenantLatency *t = tenants[i];
		bool		first = true;

		pa_sort_doubles(t->durations, t->calls);
		if (i > 0)
			appendStringInfoChar(out, ',');
		appendStringInfoChar(out, '{');
		pa_json_str(out, "tenant", t->has_tenant ? t->tenant : NULL, &first);
		pa_json_int(out, "calls", t->calls, &first);
		pa_json_num(out, "total_ms", t->total_ms, &first);
		pa_json_num(out, "p50_ms", pa_percentile(t->durations, t->calls, 0.50), &first);
		pa_json_num(out, "p95_ms", pa_percentile(t->durations, t->calls, 0.95), &first);
		pa_json_num(out, "p99_ms", pa_percentile(t->durations, t->calls, 0.99), &first);
		pa_json_num(out, "max_ms", t->durations[t->calls - 1], &first);
		appendStringInfoString(out, ",\"bucket_upper_ms\":[");
		for (b = 0; b < (int) lengthof(pa_latency_bounds); b++)
			appendStringInfo(out, "%s%g", b > 0 ? "," : "", pa_latency_bounds[b]);
		appendStringInfoString(out, ",null],\"bucket_counts\":[");
		for (b = 0; b < (int) PA_LATENCY_BUCKETS; b++)
			appendStringInfo(out, "%s" INT64_FORMAT, b > 0 ? "," : "", t->counts[b]);
		appendStringInfoString(out, "]}");
	}
	appendStringInfoChar(out, ']');
}

/*
 * Aggregate the run's records into run_statements rows, appended to 'doc'
 * as a JSON array, and the per-tenant latency distributions into 'latency'.
 * One pass over the records with hash tables.
 */
static void
pa_aggregate(PaRun *run, StringInfo doc, StringInfo findings, StringInfo latency,
			 PaRunSummary *sum)
{
	PaRunBuffer *buf = run->buf;
	PaExecRecord *recs = PA_BUF_RECORDS(buf);
	uint64		n = Min(pg_atomic_read_u64(&buf->next_record), buf->capacity);
	MemoryContext cxt;
	MemoryContext old;
	HASHCTL		ctl;
	HTAB	   *groups;
	HTAB	   *params;
	HTAB	   *sessions = NULL;
	PaGroup   **ordered;
	HTAB	   *lat_tenants;
	PaTenantLatency **lat_ordered;
	int			nlat = 0;
	PaGroupSummary *summaries;
	PaParamEntry *pent;
	int			ngroups = 0;
	uint64		i;
	int			g;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_perfaudit aggregate",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PaGroupKey);
	ctl.entrysize = sizeof(PaGroup);
	ctl.hcxt = cxt;
	groups = hash_create("pg_perfaudit groups", 256, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PaParamKey);
	ctl.entrysize = sizeof(PaParamEntry);
	ctl.hcxt = cxt;
	params = hash_create("pg_perfaudit params", 1024, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (run->database_scope)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(PaSessionKey);
		ctl.entrysize = sizeof(PaSessionEntry);
		ctl.hcxt = cxt;
		sessions = hash_create("pg_perfaudit sessions", 256, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	ordered = palloc(sizeof(PaGroup *) * Max(n, 1));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = PA_MAX_TENANT_LEN + 1;
	ctl.entrysize = sizeof(PaTenantLatency);
	ctl.hcxt = cxt;
	lat_tenants = hash_create("pg_perfaudit tenant latency", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	lat_ordered = palloc(sizeof(PaTenantLatency *) * Max(n, 1));

	sum->stored = 0;
	for (i = 0; i < n; i++)
	{
		PaExecRecord *rec = &recs[i];
		PaGroupKey	key;
		PaGroup    *grp;
		PaParamKey	pkey;
		bool		found;
		const char *tenant;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (run->database_scope && !pa_record_ready(rec))
			continue;
		sum->stored++;

		memset(&key, 0, sizeof(key));
		key.queryid = rec->queryid;
		key.nesting_level = rec->nesting_level;
		tenant = pa_buffer_text(buf, rec->tenant_off);
		if (tenant != NULL)
		{
			pa_clip_tenant(key.tenant, tenant);
			key.has_tenant = true;
		}

		if (rec->nesting_level == 0)
		{
			/* "" is no tenant: a tenant value is never empty. */
			PaTenantLatency *t = hash_search(lat_tenants, key.tenant, HASH_ENTER, &found);

			if (!found)
			{
				memset((char *) t + sizeof(t->tenant), 0,
					   sizeof(PaTenantLatency) - sizeof(t->tenant));
				t->has_tenant = key.has_tenant;
				t->order = nlat;
				lat_ordered[nlat++] = t;
			}
			pa_latency_add(t, rec->duration_ms);
		}

		grp = hash_search(groups, &key, HASH_ENTER, &found);
		if (!found)
		{
			memset((char *) grp + sizeof(PaGroupKey), 0,
				   sizeof(PaGroup) - sizeof(PaGroupKey));
			grp->order = ngroups;
			grp->min_ms = rec->duration_ms;
			grp->first_index = i;
			ordered[ngroups++] = grp;
		}
		if (pa_slow_query_ms > 0 && rec->duration_ms > pa_slow_query_ms)
			grp->slow_calls++;
		if (rec->flags & PA_STMT_CROSS_TENANT)
			grp->cross_calls++;
		if (rec->flags & PA_STMT_CURSOR_READ)
			grp->cursor_read = true;
		if (rec->facts_off != PA_NO_OFFSET)
		{
			const char *f = pa_buffer_text(buf, rec->facts_off);
			int			k;
			bool		have = false;

			for (k = 0; k < grp->nfacts && !have; k++)
				have = strcmp(grp->facts[k], f) == 0;
			if (!have && f != NULL && grp->nfacts < PA_MAX_GROUP_FACTS)
				grp->facts[grp->nfacts++] = f;
		}
		grp->calls++;
		grp->total_ms += rec->duration_ms;
		grp->min_ms = Min(grp->min_ms, rec->duration_ms);
		grp->max_ms = Max(grp->max_ms, rec->duration_ms);
		grp->plan_ms += rec->plan_ms;
		grp->rows += rec->rows;
		grp->shared_blks_hit += rec->shared_blks_hit;
		grp->shared_blks_read += rec->shared_blks_read;
		grp->seq_scans += rec->seq_scans;
		if (grp->text == NULL)
			grp->text = pa_buffer_text(buf, rec->text_off);

		memset(&pkey, 0, sizeof(pkey));
		pkey.group = grp->order;
		pkey.param_hash = rec->param_hash;
		pent = hash_search(params, &pkey, HASH_ENTER, &found);
		if (!found)
		{
			grp->distinct_params++;
			pent->count = 0;
		}
		pent->count++;

		if (sessions == NULL)
		{
			/* one session: the run's figures are the session's */
			grp->max_repeats = Max(grp->max_repeats, pent->count);
			grp->loop_calls = grp->calls;
			grp->loop_distinct = grp->distinct_params;
			grp->loop_first_index = grp->first_index;
			grp->loop_last_index = i;
		}
		else
		{
			PaSessionKey skey;
			PaSessionEntry *sent;

			pkey.pid = rec->pid;
			pent = hash_search(params, &pkey, HASH_ENTER, &found);
			if (!found)
				pent->count = 0;
			pent->count++;
			grp->max_repeats = Max(grp->max_repeats, pent->count);

			memset(&skey, 0, sizeof(skey));
			skey.group = grp->order;
			skey.pid = rec->pid;
			sent = hash_search(sessions, &skey, HASH_ENTER, &found);
			if (!found)
			{
				sent->calls = 0;
				sent->distinct_params = 0;
				sent->first_index = i;
			}
			sent->calls++;
			sent->last_index = i;
			if (pent->count == 1)
				sent->distinct_params++;
			if (sent->distinct_params > grp->loop_distinct ||
				(sent->distinct_params == grp->loop_distinct &&
				 sent->calls > grp->loop_calls))
			{
				grp->loop_calls = sent->calls;
				grp->loop_distinct = sent->distinct_params;
				grp->loop_first_index = sent->first_index;
			}
			if (grp->loop_first_index == sent->first_index)
				grp->loop_last_index = i;
		}
	}

	/* Findings, with the likely source of each N+1 loop. */
	summaries = palloc0(sizeof(PaGroupSummary) * Max(ngroups, 1));
	for (g = 0; g < ngroups; g++)
	{
		PaGroup    *grp = ordered[g];
		PaGroupSummary *gs = &summaries[g];

		gs->queryid = grp->key.queryid;
		gs->nesting_level = grp->key.nesting_level;
		gs->tenant = grp->key.has_tenant ? grp->key.tenant : NULL;
		gs->text = grp->text;
		gs->calls = grp->calls;
		gs->distinct_params = grp->distinct_params;
		gs->loop_calls = grp->loop_calls;
		gs->loop_distinct = grp->loop_distinct;
		gs->max_repeats = grp->max_repeats;
		gs->slow_calls = grp->slow_calls;
		gs->cross_calls = grp->cross_calls;
		gs->cursor_read = grp->cursor_read;
		gs->nfacts = grp->nfacts;
		memcpy(gs->facts, grp->facts, sizeof(gs->facts));
		gs->total_ms = grp->total_ms;
		gs->max_ms = grp->max_ms;
		if (grp->loop_calls >= pa_n_plus_one_threshold &&
			grp->loop_distinct >= pa_n_plus_one_threshold)
			pa_find_source(run, grp, gs, n);
	}
	sum->findings = pa_detect_findings(findings, run->run_id, run->userid,
									   summaries, ngroups);

	appendStringInfoString(doc, "\"statements\":[");
	for (g = 0; g < ngroups; g++)
	{
		PaGroup    *grp = ordered[g];
		bool		first = true;

		if (g > 0)
			appendStringInfoChar(doc, ',');
		appendStringInfoChar(doc, '{');
		pa_json_int(doc, "run_id", (int64) run->run_id, &first);
		pa_json_int(doc, "queryid", (int64) grp->key.queryid, &first);
		pa_json_str(doc, "tenant", grp->key.has_tenant ? grp->key.tenant : NULL, &first);
		pa_json_str(doc, "query", grp->text, &first);
		pa_json_int(doc, "calls", grp->calls, &first);
		pa_json_int(doc, "distinct_params", grp->distinct_params, &first);
		pa_json_num(doc, "total_ms", grp->total_ms, &first);
		pa_json_num(doc, "min_ms", grp->min_ms, &first);
		pa_json_num(doc, "max_ms", grp->max_ms, &first);
		pa_json_num(doc, "mean_ms", grp->total_ms / grp->calls, &first);
		pa_json_int(doc, "rows", (int64) grp->rows, &first);
		pa_json_int(doc, "shared_blks_hit", grp->shared_blks_hit, &first);
		pa_json_int(doc, "shared_blks_read", grp->shared_blks_read, &first);
		pa_json_int(doc, "seq_scans", grp->seq_scans, &first);
		pa_json_int(doc, "nesting_level", grp->key.nesting_level, &first);
		pa_json_num(doc, "plan_ms", grp->plan_ms, &first);
		pa_json_int(doc, "userid", run->userid, &first);
		appendStringInfoChar(doc, '}');
	}
	appendStringInfoChar(doc, ']');

	/* The distributions, busiest tenant first. */
	{
		int			a,
					b;

		for (a = 1; a < nlat; a++)
			for (b = a; b > 0 && lat_ordered[b]->calls > lat_ordered[b - 1]->calls; b--)
			{
				PaTenantLatency *tmp = lat_ordered[b];

				lat_ordered[b] = lat_ordered[b - 1];
				lat_ordered[b - 1] = tmp;
			}
	}
	MemoryContextSwitchTo(old);
	pa_latency_json(latency, lat_ordered, nlat);

	MemoryContextDelete(cxt);
}

Datum
pa_stop(PG_FUNCTION_ARGS)
{
	PaRun	   *run = pa_run;
	PaRunSummary sum;
	StringInfoData doc;
	StringInfoData findings;
	StringInfoData latency;
	char	   *dbname;
	bool		first = true;
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	int			i;
	HeapTuple	tuple;

	pa_require_preload();
	pa_check_session_change("stop a capture run");
	if (run == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no capture run is active in this session"),
				 errhint("Call perfaudit.start() first.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/*
	 * Close the buffer: nothing is appended from here on.  If storing fails
	 * below, the run stays this session's active run, closed, and a second
	 * stop() stores the same data again.
	 */
	pg_atomic_write_u32(&run->buf->closed, 1);
	pg_memory_barrier();

	memset(&sum, 0, sizeof(sum));
	sum.stopped_at = GetCurrentTimestamp();
	dbname = get_database_name(MyDatabaseId);

	initStringInfo(&doc);
	initStringInfo(&findings);
	initStringInfo(&latency);
	appendStringInfoChar(&doc, '{');
	pa_aggregate(run, &doc, &findings, &latency, &sum);

	sum.statements = pg_atomic_read_u64(&run->buf->statements);
	sum.statements = Max(sum.statements, sum.stored);
	sum.overflow = sum.statements - sum.stored;
	sum.total_ms = pg_atomic_read_u64(&run->buf->total_ns) / 1000000.0;
	sum.max_ms = pg_atomic_read_u64(&run->buf->max_ns) / 1000000.0;

	appendStringInfo(&doc, ",\"findings\":[%s],\"run\":{", findings.data);
	pa_json_int(&doc, "run_id", (int64) run->run_id, &first);
	pa_json_str(&doc, "label", run->label, &first);
	pa_json_str(&doc, "scope", run->database_scope ? "database" : "session", &first);
	pa_json_str(&doc, "database", dbname, &first);
	pa_json_int(&doc, "pid", MyProcPid, &first);
	pa_json_ts(&doc, "started_at", run->started_at, &first);
	pa_json_ts(&doc, "stopped_at", sum.stopped_at, &first);
	pa_json_int(&doc, "statements", (int64) sum.statements, &first);
	pa_json_num(&doc, "total_ms", sum.total_ms, &first);
	pa_json_num(&doc, "max_ms", sum.max_ms, &first);
	pa_json_int(&doc, "findings", sum.findings, &first);
	pa_json_int(&doc, "userid", run->userid, &first);
	pa_json_str(&doc, "track", pa_track_name(run->track), &first);
	pa_json_int(&doc, "overflow", (int64) sum.overflow, &first);
	pa_json_int(&doc, "texts_dropped",
				(int64) pg_atomic_read_u64(&run->buf->texts_dropped), &first);
	pa_json_raw(&doc, "tenant_latency", latency.data, &first);
	appendStringInfoString(&doc, "}}");

	pa_persist(PA_PERSIST_RUN, doc.data, doc.len);

	/* Stored: build the result row, then forget the run. */
	values = palloc0(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
		nulls[i] = true;
	pa_set_column(tupdesc, values, nulls, "run_id", Int64GetDatum((int64) run->run_id), false);
	pa_set_column(tupdesc, values, nulls, "label",
				  run->label ? CStringGetTextDatum(run->label) : (Datum) 0,
				  run->label == NULL);
	pa_set_column(tupdesc, values, nulls, "scope",
				  CStringGetTextDatum(run->database_scope ? "database" : "session"), false);
	pa_set_column(tupdesc, values, nulls, "database",
				  DirectFunctionCall1(namein, CStringGetDatum(dbname)), false);
	pa_set_column(tupdesc, values, nulls, "pid", Int32GetDatum(MyProcPid), false);
	pa_set_column(tupdesc, values, nulls, "started_at", TimestampTzGetDatum(run->started_at), false);
	pa_set_column(tupdesc, values, nulls, "stopped_at", TimestampTzGetDatum(sum.stopped_at), false);
	pa_set_column(tupdesc, values, nulls, "statements", Int64GetDatum((int64) sum.statements), false);
	pa_set_column(tupdesc, values, nulls, "total_ms", Float8GetDatum(sum.total_ms), false);
	pa_set_column(tupdesc, values, nulls, "max_ms", Float8GetDatum(sum.max_ms), false);
	pa_set_column(tupdesc, values, nulls, "findings", Int32GetDatum(sum.findings), false);
	pa_set_column(tupdesc, values, nulls, "userid", ObjectIdGetDatum(run->userid), false);
	pa_set_column(tupdesc, values, nulls, "track",
				  CStringGetTextDatum(pa_track_name(run->track)), false);
	pa_set_column(tupdesc, values, nulls, "overflow", Int64GetDatum((int64) sum.overflow), false);
	pa_set_column(tupdesc, values, nulls, "texts_dropped",
				  Int64GetDatum((int64) pg_atomic_read_u64(&run->buf->texts_dropped)), false);
	pa_set_column(tupdesc, values, nulls, "tenant_latency",
				  DirectFunctionCall1(jsonb_in, CStringGetDatum(latency.data)), false);
	tupdesc = BlessTupleDesc(tupdesc);
	tuple = heap_form_tuple(tupdesc, values, nulls);

	pa_last_run_id = run->run_id;
	pa_run = NULL;
	pa_free_run(run);

	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
