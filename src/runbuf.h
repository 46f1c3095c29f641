/*-------------------------------------------------------------------------
 *
 * runbuf.h
 *		Run buffers: what the hooks hand over for each statement execution,
 *		the records a run keeps of them, and this backend's sinks (its
 *		handles on the runs it appends to).  See runbuf.c for the lock-free
 *		contract.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_RUNBUF_H
#define PA_RUNBUF_H

#include "port/atomics.h"
#include "storage/dsm.h"

#include "shmem.h"

/* A statement can belong to this session's run and to each database run. */
#define PA_MAX_SINKS		(1 + PA_MAX_DB_RUNS)

/*
 * The runs a statement is eligible for, fixed when it starts: a statement
 * that started before a run (the one calling start()) or ends after it
 * (the one calling stop()) is not part of that run.
 */
typedef struct PaRunIds
{
	int			n;
	uint64		ids[PA_MAX_SINKS];
} PaRunIds;

/* Flags of PaStmtInfo / PaExecRecord */
#define PA_STMT_UTILITY		0x01
#define PA_STMT_CROSS_TENANT	0x02	/* predicates named several tenants */
#define PA_STMT_INSERT		0x08	/* writes: INSERT, UPDATE, DELETE; MERGE all three */
#define PA_STMT_UPDATE		0x10
#define PA_STMT_DELETE		0x20
#define PA_STMT_WRITES		(PA_STMT_INSERT | PA_STMT_UPDATE | PA_STMT_DELETE)
#define PA_STMT_KEYSET		0x40	/* a keyset-pagination read (a batch) */
#define PA_STMT_FULL_BATCH	0x80	/* ... that returned its whole LIMIT */
#define PA_STMT_ACTING		0x100	/* tenant is the acting one (setting, tag) */
#define PA_STMT_FOREIGN_ROWS	0x200	/* rows of another tenant were read */
#define PA_STMT_OBSERVED	0x400	/* the tenants of its rows were observed */
#define PA_STMT_TENANT_FROM_ROWS	0x800	/* tenant is the observed one */

/* One statement execution as measured by the hooks. */
typedef struct PaStmtInfo
{
	uint64		queryid;
	uint64		param_hash;		/* text (literals) and bound values */
	double		duration_ms;
	double		plan_ms;
	uint64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int32		seq_scans;
	int16		nesting_level;
	uint16		flags;
	const char *text;			/* statement text, not NUL-terminated */
	int			text_len;
	const char *tenant;			/* NUL-terminated, or NULL */
	int32		tenant_count;	/* distinct tenants in tenant (a list: several) */
	const char *facts;			/* plan facts (facts.h), or NULL */
	const char *observed;		/* tenants of the rows read (a list), or NULL */
	const char *observed_detail;	/* JSON: another tenant's rows were read */
	Oid			userid;			/* the role it ran as (at its start) */
} PaStmtInfo;

/*
 * True when this backend has no run to append to and no database-scope run
 * has started or stopped since it last looked: the per-statement fast path,
 * two loads and a compare, no call.
 */
extern int	pa_nsinks;
extern uint32 pa_seen_generation;

static inline bool
pa_capture_idle(void)
{
	return pa_nsinks == 0 &&
		(pa_shared == NULL ||
		 pg_atomic_read_u32(&pa_shared->db_runs_generation) == pa_seen_generation);
}

/*
 * Fill *ids with the runs a statement starting now at nesting level
 * 'level' belongs to; false (and ids->n == 0) when there are none.  Cheap
 * when nothing is being captured: a few loads, no lock.
 */
extern bool pa_capture_eligible(int level, PaRunIds *ids);

/* Record one finished execution into every still-active run of *ids. */
extern void pa_capture_record(const PaRunIds *ids, const PaStmtInfo *info);

/* ----------------------------------------------------------------
 * The buffer of one run, as its owner reads it (aggregate.c)
 * ----------------------------------------------------------------
 */
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
	int32		tenant_count;	/* distinct tenants in the tenant list */
	uint32		text_off;		/* text area offset, or PA_NO_OFFSET */
	uint32		tenant_off;		/* text area offset, or PA_NO_OFFSET */
	uint32		facts_off;		/* text area offset, or PA_NO_OFFSET */
	uint32		observed_off;	/* text area offset, or PA_NO_OFFSET */
	uint32		observed_detail_off;	/* text area offset, or PA_NO_OFFSET */
	int16		nesting_level;
	uint16		flags;
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
	/*
	 * Executions counted but not kept (beyond capacity): a kept one is
	 * counted and timed by its record, so the per-statement path touches
	 * one shared counter (next_record), not four.
	 */
	pg_atomic_uint64 overflow_statements;
	pg_atomic_uint64 overflow_ns;
	pg_atomic_uint64 overflow_max_ns;
	pg_atomic_uint64 texts_dropped;
} PaRunBuffer;

/*
 * An execution's time as the buffer's counters and stop() add it up: the
 * overflow counters and the sum of the records must round alike.
 */
static inline uint64
pa_ms_to_ns(double ms)
{
	return (uint64) (ms * 1000000.0);
}

#define PA_BUF_RECORDS(buf) \
	((PaExecRecord *) ((char *) (buf) + MAXALIGN(sizeof(PaRunBuffer))))
#define PA_BUF_TEXT(buf) \
	((char *) (PA_BUF_RECORDS(buf) + (buf)->capacity))

/* This backend's handle on one run it appends to. */
typedef struct PaSink PaSink;

/* Bytes of a buffer for capacity records; the text area's size for them. */
extern uint64 pa_text_capacity(uint32 capacity);
extern Size pa_buffer_size(uint32 capacity, uint64 text_capacity);
extern void pa_buffer_init(PaRunBuffer *buf, uint64 run_id, uint32 capacity,
						   uint64 text_capacity);

/*
 * A sink on buf (seg: the segment attached for it, NULL when the caller
 * owns the memory); track is a fixed perfaudit.track level or -1 for this
 * session's setting.  owner, when valid, is the role of a session run:
 * statements run as another role are recorded as that role may see them
 * (pa_capture_record).
 */
extern PaSink *pa_sink_create(uint64 run_id, PaRunBuffer *buf, dsm_segment *seg,
							  int track, Oid owner);
extern void pa_sink_free(PaSink *sink);
/* Start appending to a sink; stop (and free it). */
extern void pa_sink_add(PaSink *sink);
extern void pa_sink_drop_run(uint64 run_id);

/* Close the buffer: nothing is appended from here on. */
extern void pa_buffer_close(PaRunBuffer *buf);

/* A text-area entry (statement text, tenant, facts), or NULL. */
extern const char *pa_buffer_text(PaRunBuffer *buf, uint32 off);

/*
 * Wait (boundedly) until a record of a shared buffer is fully written;
 * false if it never is.
 */
extern bool pa_record_ready(PaExecRecord *rec);

#endif							/* PA_RUNBUF_H */
