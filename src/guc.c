/*-------------------------------------------------------------------------
 *
 * guc.c
 *		The perfaudit.* settings, and whether the library was preloaded.
 *
 * One DefineCustom*Variable per setting, in the narrowest context that
 * works: sizes of shared memory are PGC_POSTMASTER, what gets tracked for
 * everybody is PGC_SUSET, per-session thresholds are PGC_USERSET.
 * PGC_POSTMASTER settings can only be defined while shared_preload_libraries
 * is processed, so a library loaded later defines the others only.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "guc.h"

int			pa_track = PA_TRACK_TOP;
bool		pa_track_tenants = true;
char	   *pa_tenant_column = NULL;
char	   *pa_tenant_setting = NULL;
int			pa_max_tenants = 10000;
int			pa_max_tenant_statements = 20000;
int			pa_seq_scan_min_rows = 1000;
int			pa_n_plus_one_threshold = 5;
bool		pa_ignore_batched_reads = true;
int			pa_slow_query_ms = 0;
int			pa_max_run_statements = 100000;
int			pa_persist_timeout_ms = 30000;
int			pa_max_benchmark_clients = 8;
int			pa_benchmark_reserved_workers = 4;
uint32		pa_config_generation = 0;
bool		pa_preloaded = false;

static const struct config_enum_entry pa_track_options[] = {
	{"none", PA_TRACK_NONE, false},
	{"top", PA_TRACK_TOP, false},
	{"all", PA_TRACK_ALL, false},
	{NULL, 0, false}
};

const char *
pa_track_name(int level)
{
	const struct config_enum_entry *e;

	for (e = pa_track_options; e->name != NULL; e++)
		if (e->val == level)
			return e->name;
	return "unknown";
}

/* The plan analysis depends on these: cached analyses must be redone. */
static void
pa_assign_tenant_column(const char *newval, void *extra)
{
	pa_config_generation++;
}

static void
pa_assign_seq_scan_min_rows(int newval, void *extra)
{
	pa_config_generation++;
}

void
pa_require_preload(void)
{
	if (!pa_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_perfaudit must be loaded via shared_preload_libraries"),
				 errhint("Add pg_perfaudit to shared_preload_libraries in postgresql.conf and restart the server.")));
}

void
pa_guc_init(void)
{
	pa_preloaded = process_shared_preload_libraries_in_progress;

	DefineCustomStringVariable("perfaudit.tenant_column",
							   "Column that marks tenant tables and tenant predicates.",
							   NULL,
							   &pa_tenant_column,
							   "organization_id",
							   PGC_USERSET,
							   0,
							   NULL, pa_assign_tenant_column, NULL);

	DefineCustomStringVariable("perfaudit.tenant_setting",
							   "Session setting that holds the current tenant (empty: none).",
							   "For example app.current_organization_id, the setting row-level-security policies read.",
							   &pa_tenant_setting,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("perfaudit.track",
							 "Which statements pg_perfaudit tracks: none, top (sent by the client) or all (nested ones too).",
							 NULL,
							 &pa_track,
							 PA_TRACK_TOP,
							 pa_track_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("perfaudit.track_tenants",
							 "Keep the always-on per-tenant statistics.",
							 NULL,
							 &pa_track_tenants,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("perfaudit.max_tenants",
								"Number of tenants whose statistics are kept in shared memory.",
								"Beyond it the least active tenants are evicted.",
								&pa_max_tenants,
								10000,
								100,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("perfaudit.max_tenant_statements",
								"Number of (tenant, statement) pairs whose statistics are kept in shared memory.",
								"Beyond it the least active pairs are evicted.",
								&pa_max_tenant_statements,
								20000,
								100,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	}

	DefineCustomIntVariable("perfaudit.seq_scan_min_rows",
							"Tables with fewer rows than this never raise a seq_scan finding.",
							NULL,
							&pa_seq_scan_min_rows,
							1000,
							0,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, pa_assign_seq_scan_min_rows, NULL);

	DefineCustomIntVariable("perfaudit.n_plus_one_threshold",
							"Executions of one statement (with as many distinct parameter values) that make an N+1 pattern.",
							NULL,
							&pa_n_plus_one_threshold,
							5,
							2,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("perfaudit.ignore_batched_reads",
							 "Keyset-pagination reads (ORDER BY key LIMIT n over a range on key, each a full batch) are not an N+1 pattern.",
							 NULL,
							 &pa_ignore_batched_reads,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("perfaudit.slow_query_ms",
							"Execution time above which a captured statement raises a slow_query finding (0 turns it off).",
							NULL,
							&pa_slow_query_ms,
							0,
							0,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("perfaudit.max_run_statements",
							"Statement executions a capture run keeps individually.",
							"Executions beyond it are still counted and timed, and reported in runs.overflow.",
							&pa_max_run_statements,
							100000,
							100,
							10000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("perfaudit.persist_timeout",
							"How long stop() waits for the writer worker to store a run.",
							NULL,
							&pa_persist_timeout_ms,
							30000,
							100,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("perfaudit.max_benchmark_clients",
							"Benchmark clients one role may run at once, over all its sessions.",
							"Each client of benchmark_concurrent() is a background worker; set per role with ALTER ROLE ... SET.",
							&pa_max_benchmark_clients,
							8,
							1,
							1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("perfaudit.benchmark_reserved_workers",
							"Background worker slots that benchmark clients, all roles together, always leave free.",
							"For the pg_perfaudit writer of each database and for parallel query.",
							&pa_benchmark_reserved_workers,
							4,
							1,
							MAX_BACKENDS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("perfaudit");
}
