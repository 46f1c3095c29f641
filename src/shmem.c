/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Creation of pg_perfaudit's shared state, and of the shared memory of
 *		the subsystems that register for it (pa_shmem_register: the tenant
 *		statistics).  shmem.c calls no subsystem by name.
 *
 * Locking contract
 * ----------------
 * PaSharedState->lock (named tranche "pg_perfaudit") protects db_runs[],
 * writers[], requests[] and bench_leases[].  It is taken only when a run
 * starts or stops, when a backend notices that the set of database-scope
 * runs changed, and around persistence requests and benchmark_concurrent()
 * calls: never once per statement.  Nothing that can raise an error is
 * done while it is held.
 *
 * db_runs_generation is an atomic counter bumped (under the lock, exclusive)
 * whenever a database-scope run starts or ends.  The per-statement path
 * reads it without a lock and rescans db_runs[] (lock shared) only when it
 * moved.  persisted and persist_failures are plain atomic counters.
 *
 * tenant_lock (the tranche's second lock) protects the tenant statistics
 * tables: see tenant_stats.c.
 *
 * persist_cv is broadcast whenever a request changes state or a slot frees,
 * so requesters sleep on it instead of polling.
 *
 * The run buffers themselves live in dynamic shared memory and are written
 * without locks: see runbuf.c.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "shmem.h"

PaSharedState *pa_shared = NULL;

#ifdef PA_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Subsystems with shared memory of their own (pa_shmem_register). */
#define PA_MAX_SHMEM_CLIENTS	4
static PaShmemSizeFn pa_client_size[PA_MAX_SHMEM_CLIENTS];
static PaShmemStartupFn pa_client_startup[PA_MAX_SHMEM_CLIENTS];
static int	pa_nclients = 0;

void
pa_shmem_register(PaShmemSizeFn size, PaShmemStartupFn startup)
{
	if (pa_nclients >= PA_MAX_SHMEM_CLIENTS)
		elog(ERROR, "too many pg_perfaudit shared memory clients");
	pa_client_size[pa_nclients] = size;
	pa_client_startup[pa_nclients] = startup;
	pa_nclients++;
}

static Size
pa_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(PaSharedState));
	int			i;

	for (i = 0; i < pa_nclients; i++)
		size = add_size(size, pa_client_size[i]());
	return size;
}

static void
pa_shmem_request(void)
{
#ifdef PA_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(pa_shmem_size());
	RequestNamedLWLockTranche("pg_perfaudit", 2);
}

static void
pa_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* After a crash restart the old state is gone with shared memory. */
	pa_shared = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pa_shared = ShmemInitStruct("pg_perfaudit", sizeof(PaSharedState), &found);
	if (!found)
	{
		memset(pa_shared, 0, sizeof(PaSharedState));
		pa_shared->lock = &(GetNamedLWLockTranche("pg_perfaudit"))->lock;
		pg_atomic_init_u32(&pa_shared->db_runs_generation, 0);
		ConditionVariableInit(&pa_shared->persist_cv);
		pg_atomic_init_u64(&pa_shared->persisted, 0);
		pg_atomic_init_u64(&pa_shared->persist_failures, 0);
		pa_shared->tenant_lock = &(GetNamedLWLockTranche("pg_perfaudit"))[1].lock;
		pg_atomic_init_u64(&pa_shared->tenant_evictions, 0);
		pa_shared->tenant_generation = 1;
		pa_shared->tenant_stats_reset = GetCurrentTimestamp();
	}
	for (i = 0; i < pa_nclients; i++)
		pa_client_startup[i]();
	LWLockRelease(AddinShmemInitLock);
}

void
pa_shmem_init(void)
{
#ifdef PA_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pa_shmem_request;
#else
	pa_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pa_shmem_startup;
}
