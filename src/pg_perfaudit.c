/*-------------------------------------------------------------------------
 *
 * pg_perfaudit.c
 *		Module entry point: the magic block and _PG_init, which sets up each
 *		subsystem in turn.
 *
 * The extension does its real work only when loaded through
 * shared_preload_libraries: the hooks then see every statement of every
 * backend, and shared memory carries database-scope runs and the requests
 * to the writer background worker that makes results survive the caller's
 * rollback.  Loaded any other way (CREATE EXTENSION alone, LOAD), _PG_init
 * defines the session settings only, installs no hook, and the SQL
 * functions that need the preload raise a clear error with a hint
 * (pa_require_preload(), guc.c).  This file calls the subsystems' set-up
 * functions and nothing calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "fmgr.h"

#include "guc.h"
#include "hooks.h"
#include "plan_inspect.h"
#include "shmem.h"
#include "tenant_stats.h"

PA_MODULE_MAGIC;

void
_PG_init(void)
{
	pa_guc_init();

	if (!pa_preloaded)
		return;

	pa_tenant_stats_init();
	pa_shmem_init();
	pa_hooks_init();
	pa_plan_inspect_init();
}
