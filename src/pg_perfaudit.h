/*-------------------------------------------------------------------------
 *
 * pg_perfaudit.h
 *		Declarations shared by every pg_perfaudit source file: the settings
 *		(guc.c), the module state (pg_perfaudit.c) and common limits.
 *
 * Each subsystem has its own header for the functions it exports; this one
 * holds only what all of them need.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_PERFAUDIT_H
#define PG_PERFAUDIT_H

#include "compat.h"

#include "access/tupdesc.h"

/* Longest query text kept per statement in a run (bytes, truncated beyond). */
#define PA_MAX_QUERY_TEXT	4096

/* Longest tenant value kept (bytes); longer values are truncated. */
#define PA_MAX_TENANT_LEN	63

/* perfaudit.track */
typedef enum PaTrackLevel
{
	PA_TRACK_NONE,
	PA_TRACK_TOP,
	PA_TRACK_ALL
} PaTrackLevel;

/* guc.c */
extern int	pa_track;
extern bool pa_track_tenants;
extern char *pa_tenant_column;
extern char *pa_tenant_setting;
extern int	pa_max_tenants;
extern int	pa_max_tenant_statements;
extern int	pa_seq_scan_min_rows;
extern int	pa_n_plus_one_threshold;
extern int	pa_slow_query_ms;
extern int	pa_max_run_statements;
extern int	pa_persist_timeout_ms;
extern int	pa_max_benchmark_clients;
extern int	pa_benchmark_reserved_workers;

extern void pa_guc_init(void);
extern const char *pa_track_name(int level);

/* pg_perfaudit.c */
extern bool pa_preloaded;
extern void pa_require_preload(void);
extern Oid	pa_extension_relation(const char *relname);
extern void pa_set_column(TupleDesc tupdesc, Datum *values, bool *nulls,
						  const char *name, Datum value, bool isnull);

#endif							/* PG_PERFAUDIT_H */
