/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		pg_perfaudit's shared state: database-scope run slots, writer slots
 *		and the persistence request queue.  See shmem.c for the locking
 *		contract.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_SHMEM_H
#define PA_SHMEM_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* Concurrent database-scope runs, cluster-wide. */
#define PA_MAX_DB_RUNS		8
/* Databases whose writer worker may run at once. */
#define PA_MAX_WRITERS		8
/* Persistence requests in flight at once (more wait for a free slot). */
#define PA_MAX_REQUESTS		64
#define PA_ERRMSG_LEN		256
/* benchmark_concurrent() calls running at once, cluster-wide. */
#define PA_MAX_BENCH_LEASES	64

typedef struct PaDbRunSlot
{
	bool		in_use;
	Oid			dboid;
	uint64		run_id;
	int			owner_pid;
	int			track;			/* owner's perfaudit.track at start() */
	dsm_handle	handle;			/* the run's PaRunBuffer */
} PaDbRunSlot;

typedef struct PaWriterSlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			pid;			/* 0 while starting */
	TimestampTz launched_at;
	Latch	   *latch;			/* the writer's procLatch once running */
} PaWriterSlot;

/* The worker slots one benchmark_concurrent() call holds: see bench_concurrent.c. */
typedef struct PaBenchLease
{
	int			pid;			/* the leader; 0: free */
	Oid			roleid;			/* the session user its clients connect as */
	Oid			dboid;
	int			nclients;
} PaBenchLease;

typedef enum PaRequestStatus
{
	PA_REQ_FREE = 0,
	PA_REQ_PENDING,
	PA_REQ_RUNNING,
	PA_REQ_DONE,
	PA_REQ_FAILED
} PaRequestStatus;

typedef struct PaRequest
{
	PaRequestStatus status;
	bool		abandoned;		/* requester gave up; last one out frees */
	int			kind;			/* PaPersistKind */
	Oid			dboid;
	int			requester_pid;
	int			writer_pid;		/* set while RUNNING */
	int			exiting_pid;	/* the writer that finished it and exits */
	dsm_handle	handle;			/* payload */
	char		errmsg[PA_ERRMSG_LEN];
} PaRequest;

typedef struct PaSharedState
{
	LWLock	   *lock;
	pg_atomic_uint32 db_runs_generation;
	ConditionVariable persist_cv;
	PaDbRunSlot db_runs[PA_MAX_DB_RUNS];
	PaWriterSlot writers[PA_MAX_WRITERS];
	PaRequest	requests[PA_MAX_REQUESTS];
	PaBenchLease bench_leases[PA_MAX_BENCH_LEASES];
	pg_atomic_uint64 persisted;
	pg_atomic_uint64 persist_failures;

	/* tenant statistics: see tenant_stats.c for their locking contract */
	LWLock	   *tenant_lock;
	pg_atomic_uint64 tenant_evictions;
	uint64		tenant_generation;	/* + 1 when entries are removed */
	TimestampTz tenant_stats_reset;
} PaSharedState;

extern PaSharedState *pa_shared;

/*
 * A subsystem with shared memory of its own registers, before
 * pa_shmem_init(), how much it needs and what sets it up; startup runs
 * with AddinShmemInitLock held, after pa_shared is attached.
 */
typedef Size (*PaShmemSizeFn) (void);
typedef void (*PaShmemStartupFn) (void);
extern void pa_shmem_register(PaShmemSizeFn size, PaShmemStartupFn startup);

extern void pa_shmem_init(void);

#endif							/* PA_SHMEM_H */
