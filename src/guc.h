/*-------------------------------------------------------------------------
 *
 * guc.h
 *		The settings (perfaudit.*) and whether the library was preloaded.
 *
 * A leaf: guc.c includes no other pg_perfaudit header.  Subsystems whose
 * caches depend on a setting compare pa_config_generation with the value
 * they last saw, instead of being called from the assign hooks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_GUC_H
#define PA_GUC_H

/* perfaudit.track */
typedef enum PaTrackLevel
{
	PA_TRACK_NONE,
	PA_TRACK_TOP,
	PA_TRACK_ALL
} PaTrackLevel;

extern int	pa_track;
extern bool pa_track_tenants;
extern char *pa_tenant_column;
extern char *pa_tenant_setting;
extern int	pa_max_tenants;
extern int	pa_max_tenant_statements;
extern int	pa_seq_scan_min_rows;
extern int	pa_n_plus_one_threshold;
extern bool pa_ignore_batched_reads;
extern int	pa_slow_query_ms;
extern int	pa_max_run_statements;
extern int	pa_persist_timeout_ms;
extern int	pa_max_benchmark_clients;
extern int	pa_benchmark_reserved_workers;

/*
 * Raised whenever a setting the plan analysis depends on changes
 * (perfaudit.tenant_column, perfaudit.seq_scan_min_rows).
 */
extern uint32 pa_config_generation;

/* True when loaded from shared_preload_libraries (set by pa_guc_init). */
extern bool pa_preloaded;

/* Define the settings; called first by _PG_init. */
extern void pa_guc_init(void);
extern const char *pa_track_name(int level);

/* Raise the standard error for functions that need the library preloaded. */
extern void pa_require_preload(void);

#endif							/* PA_GUC_H */
