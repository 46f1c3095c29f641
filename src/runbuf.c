/*-------------------------------------------------------------------------
 *
 * runbuf.c
 *		Run buffers and the sinks the hooks append statement executions to.
 *
 * A run keeps every counted execution as a fixed-size PaExecRecord in a
 * PaRunBuffer, followed by a text area that holds each statement text (and
 * tenant value, and plan facts) once per writing backend.  A session-scope
 * run's buffer is backend-local memory; a database-scope run's buffer is a
 * dynamic shared memory segment that every backend of the database
 * attaches to and appends to.  The buffer is sized once, at start(), from
 * perfaudit.max_run_statements: executions beyond it are still counted and
 * timed in the header counters and reported as runs.overflow, so memory is
 * bounded and nothing is lost silently.
 *
 * Locking contract for PaRunBuffer (shared when database-scope)
 * --------------------------------------------------------------
 * No lock.  Writers reserve a record with an atomic fetch-add on
 * next_record (and text bytes with one on text_used), fill it, issue a
 * write barrier and set its ready flag last.  The owner sets closed before
 * reading; it reads only records below next_record and waits (boundedly)
 * for their ready flag.  The header's overflow counters (executions beyond
 * capacity) are atomics; overflow_max_ns is raised with a compare-and-swap
 * loop.  A kept execution touches only next_record: its record carries its
 * time, and stop() sums the records.
 *
 * A "sink" is this backend's handle on one run it appends to: its own
 * session run, or a database run (its own or another backend's).  Sinks
 * for other backends' database runs are refreshed lazily, when the
 * generation counter in shared memory moves (see shmem.c).  The run
 * lifecycle (capture.c) creates and drops the sinks of its own runs.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/pg_authid.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "guc.h"
#include "runbuf.h"
#include "tenant.h"
#include "text.h"

/* A text-area entry: length, bytes, NUL. */
typedef struct PaTextEntry
{
	uint32		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} PaTextEntry;

typedef struct PaStmtTextKey
{
	uint64		queryid;
	int32		level;
	uint32		tenant_off;		/* the tenant's text-area entry, or PA_NO_OFFSET */
} PaStmtTextKey;

/*
 * The tenants a sink has sent, each once: an open-addressing table
 * (simplehash) keyed by the tenant's text, hashed with FNV-1a.  It is asked
 * for every statement with a tenant, often a different one each time (lazy
 * loads over a list of many organizations' rows), so it must be cheap on a
 * miss of the last one too: a hash of a few bytes, a probe, a strcmp.
 */
typedef struct PaTenantSlot
{
	const char *key;			/* a copy in the sink's context */
	uint32		off;			/* its text-area entry */
	uint32		hash;
	char		status;
} PaTenantSlot;

static inline uint32
pa_fnv1a(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	uint32		h = 2166136261u;

	for (; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

#define SH_PREFIX pa_tenants
#define SH_ELEMENT_TYPE PaTenantSlot
#define SH_KEY_TYPE const char *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) pa_fnv1a(k)
#define SH_EQUAL(tb, a, b) (strcmp(a, b) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct PaSink
{
	uint64		run_id;
	PaRunBuffer *buf;
	dsm_segment *seg;			/* attached here; NULL when we own the run */
	int			track;			/* fixed level, or -1: this session's GUC */
	MemoryContext cxt;
	HTAB	   *texts;			/* (queryid, level, tenant) -> text offset */
	pa_tenants_hash *tenants;	/* tenant -> text offset, sent once */
	HTAB	   *facts;			/* hash of plan facts -> text offset */
	uint32		last_facts_off; /* the facts sent last, checked first */
	PaStmtTextKey last_text_key;	/* the statement text sent last */
	uint32		last_text_off;
	Oid			owner;			/* a session run's role, or InvalidOid */
};

typedef struct PaTextCacheEntry
{
	uint64		key;
	uint32		off;
} PaTextCacheEntry;

typedef struct PaStmtTextEntry
{
	PaStmtTextKey key;
	uint32		off;
} PaStmtTextEntry;


static PaSink *pa_sinks[PA_MAX_SINKS];
int			pa_nsinks = 0;
uint32		pa_seen_generation = 0;

/* ----------------------------------------------------------------
 * Run buffers and sinks
 * ----------------------------------------------------------------
 */

Size
pa_buffer_size(uint32 capacity, uint64 text_capacity)
{
	return MAXALIGN(sizeof(PaRunBuffer)) +
		(Size) capacity * sizeof(PaExecRecord) + text_capacity;
}

/* Text area: 512 bytes per 8 records, within [256 kB, 64 MB]. */
uint64
pa_text_capacity(uint32 capacity)
{
	uint64		bytes = (uint64) capacity * 64;

	return Min(Max(bytes, 256 * 1024), 64 * 1024 * 1024);
}

void
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
	pg_atomic_init_u64(&buf->overflow_statements, 0);
	pg_atomic_init_u64(&buf->overflow_ns, 0);
	pg_atomic_init_u64(&buf->overflow_max_ns, 0);
	pg_atomic_init_u64(&buf->texts_dropped, 0);
}

PaSink *
pa_sink_create(uint64 run_id, PaRunBuffer *buf, dsm_segment *seg, int track,
			   Oid owner)
{
	MemoryContext cxt;
	PaSink	   *sink;

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit sink",
								ALLOCSET_SMALL_SIZES);
	sink = MemoryContextAllocZero(cxt, sizeof(PaSink));
	sink->run_id = run_id;
	sink->buf = buf;
	sink->seg = seg;
	sink->track = track;
	sink->owner = owner;
	sink->cxt = cxt;

	sink->texts = pa_hash_create("pg_perfaudit sink texts", 64, sizeof(PaStmtTextKey),
								 sizeof(PaStmtTextEntry), false, cxt);
	sink->tenants = pa_tenants_create(cxt, 64, NULL);
	sink->facts = pa_hash_create("pg_perfaudit sink facts", 16, sizeof(uint64),
								 sizeof(PaTextCacheEntry), false, cxt);
	sink->last_facts_off = PA_NO_OFFSET;
	sink->last_text_off = PA_NO_OFFSET;
	return sink;
}

void
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

void
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
		pa_sink_add(pa_sink_create(live_ids[j], buf, seg, live_track[j], InvalidOid));
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
 * The text of a statement, sent once per (queryid, nesting level, tenant):
 * the same statement run by the client and inside a function usually
 * differs in its literals, and so does the same statement for two tenants
 * (organization_id = 1, = 3): each row of run_statements shows its own,
 * never another tenant's literal.  tenant_off stands for the tenant (its
 * text-area entry, one per tenant in this sink).
 */
static uint32
pa_sink_text(PaSink *sink, uint64 queryid, int level, uint32 tenant_off,
			 const char *text, int len)
{
	PaStmtTextEntry *e;
	PaStmtTextKey key;
	bool		found;

	if (text == NULL)
		return PA_NO_OFFSET;
	memset(&key, 0, sizeof(key));
	key.queryid = queryid;
	key.level = level;
	key.tenant_off = tenant_off;
	/* Mostly the statement before (a loop) */
	if (sink->last_text_off != PA_NO_OFFSET &&
		memcmp(&key, &sink->last_text_key, sizeof(key)) == 0)
		return sink->last_text_off;
	e = hash_search(sink->texts, &key, HASH_ENTER, &found);
	if (!found)
		e->off = pa_buffer_put_text(sink->buf, text,
									 pa_clip_len(text, len, PA_MAX_QUERY_TEXT));
	sink->last_text_key = key;
	sink->last_text_off = e->off;
	return e->off;
}

static uint32
pa_sink_tenant(PaSink *sink, const char *tenant)
{
	char		key[PA_MAX_TENANT_LEN + 1];
	char	   *copy;
	PaTenantSlot *e;
	bool		found;

	if (tenant == NULL)
		return PA_NO_OFFSET;
	/* tenants are clipped where they are made: mostly found as they come */
	e = pa_tenants_lookup(sink->tenants, tenant);
	if (e != NULL)
		return e->off;
	pa_clip_tenant(key, tenant);
	copy = MemoryContextStrdup(sink->cxt, key);
	e = pa_tenants_insert(sink->tenants, copy, &found);
	if (found)
		pfree(copy);			/* (a longer value, clipped to one sent) */
	else
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
	uint64		ns = pa_ms_to_ns(info->duration_ms);
	uint64		cur_max;
	uint64		idx;
	PaExecRecord *rec;

	if (pg_atomic_read_u32(&buf->closed))
		return;

	idx = pg_atomic_fetch_add_u64(&buf->next_record, 1);
	if (idx >= buf->capacity)
	{
		/* Counted and timed, not kept: overflow. */
		pg_atomic_fetch_add_u64(&buf->overflow_statements, 1);
		pg_atomic_fetch_add_u64(&buf->overflow_ns, ns);
		cur_max = pg_atomic_read_u64(&buf->overflow_max_ns);
		while (ns > cur_max &&
			   !pg_atomic_compare_exchange_u64(&buf->overflow_max_ns, &cur_max, ns))
			;
		return;
	}

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
	rec->tenant_count = info->tenant_count;
	rec->nesting_level = info->nesting_level;
	rec->flags = info->flags;
	rec->tenant_off = pa_sink_tenant(sink, info->tenant);
	/*
	 * (A tenant from the rows is not part of the statement's group: its
	 * text is the group's, whichever tenant's rows the first one read.)
	 */
	rec->text_off = pa_sink_text(sink, info->queryid, info->nesting_level,
								 (info->flags & PA_STMT_TENANT_FROM_ROWS) ? PA_NO_OFFSET :
								 rec->tenant_off, info->text, info->text_len);
	rec->facts_off = pa_sink_facts(sink, info->facts);
	/* Mostly the tenant itself (attributed by its rows, or acting and read). */
	rec->observed_off = info->observed == NULL ? PA_NO_OFFSET :
		(info->tenant != NULL && (info->observed == info->tenant ||
								  strcmp(info->observed, info->tenant) == 0)) ?
		rec->tenant_off : pa_sink_tenant(sink, info->observed);
	rec->observed_detail_off = info->observed_detail == NULL ? PA_NO_OFFSET :
		pa_sink_facts(sink, info->observed_detail);
	pg_write_barrier();
	rec->ready = 1;
}

/*
 * A statement of a session's own run as its owner may see it.  Nested
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
pa_visible_to(Oid owner, const PaStmtInfo *info)
{
	static PaStmtInfo redacted;
	static const char hidden[] = "<insufficient privilege>";

	if (info->userid == owner || !OidIsValid(info->userid) ||
		has_privs_of_role(owner, info->userid) ||
		has_privs_of_role(owner, ROLE_PG_READ_ALL_STATS))
		return info;
	redacted = *info;
	redacted.text = hidden;
	redacted.text_len = sizeof(hidden) - 1;
	redacted.tenant = NULL;
	redacted.tenant_count = 0;
	redacted.observed = NULL;
	redacted.observed_detail = NULL;
	redacted.facts = NULL;
	redacted.param_hash = 0;
	return &redacted;
}

/*
 * A statement as a database-scope run records it: without what its rows
 * showed.  The run's owner has the privileges of pg_read_all_stats, which
 * shows statements, not other roles' data: the tenants observed in the rows
 * a statement returned are data, and stay out (its tenant too, when it came
 * from them).
 */
static const PaStmtInfo *
pa_without_rows(const PaStmtInfo *info)
{
	static PaStmtInfo stripped;

	if ((info->flags & PA_STMT_OBSERVED) == 0)
		return info;
	stripped = *info;
	stripped.observed = NULL;
	stripped.observed_detail = NULL;
	stripped.flags &= ~(PA_STMT_OBSERVED | PA_STMT_FOREIGN_ROWS);
	if (info->flags & PA_STMT_TENANT_FROM_ROWS)
	{
		stripped.tenant = NULL;
		stripped.tenant_count = 0;
		stripped.flags &= ~PA_STMT_TENANT_FROM_ROWS;
	}
	return &stripped;
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
							   OidIsValid(pa_sinks[i]->owner) ?
							   pa_visible_to(pa_sinks[i]->owner, info) :
							   pa_without_rows(info));
				break;
			}
		}
	}
}

void
pa_sink_free(PaSink *sink)
{
	MemoryContextDelete(sink->cxt);
}

void
pa_buffer_close(PaRunBuffer *buf)
{
	pg_atomic_write_u32(&buf->closed, 1);
	pg_memory_barrier();
}

const char *
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
bool
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
