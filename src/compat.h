/*-------------------------------------------------------------------------
 *
 * compat.h
 *		PostgreSQL version shims for pg_perfaudit.
 *
 * This is the only file of the project that may test PG_VERSION_NUM.  Every
 * API that differs between the supported majors (14 to 18) gets one macro or
 * inline function here, named after the newest form of the API, so that the
 * rest of the code reads as if written for the newest server.
 *
 * Tested majors are listed in README.md; the others are kept compiling from
 * the release notes and headers, and say so there.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_COMPAT_H
#define PA_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 140000
#error "pg_perfaudit requires PostgreSQL 14 or later"
#endif

#include "executor/executor.h"
#include "tcop/utility.h"
#include "common/hashfn.h"
#include "utils/guc.h"

/* queryjumble.h moved from utils/ to nodes/ in 16. */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#include "varatt.h"
#else
#include "utils/queryjumble.h"
#endif

/*
 * MarkGUCPrefixReserved() replaced EmitWarningsOnPlaceholders() in 15.
 */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * shmem_request_hook appeared in 15; before that, shared memory and LWLock
 * tranches are requested directly from _PG_init.  PA_HAVE_SHMEM_REQUEST_HOOK
 * tells pa_shmem_init() which way to go.
 */
#if PG_VERSION_NUM >= 150000
#define PA_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/*
 * ExecutorRun lost its execute_once argument in 18.  Hook implementations
 * are written with PA_EXECUTOR_RUN_ARGS and call the next hook with
 * PA_EXECUTOR_RUN_CALL.
 */
#if PG_VERSION_NUM >= 180000
#define PA_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PA_EXECUTOR_RUN_CALL(fn) (fn) (queryDesc, direction, count)
#else
#define PA_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define PA_EXECUTOR_RUN_CALL(fn) (fn) (queryDesc, direction, count, execute_once)
#endif

/*
 * _PG_init is declared by fmgr.h from 16 on.
 */
#if PG_VERSION_NUM < 160000
extern PGDLLEXPORT void _PG_init(void);
#endif

/*
 * An instr_time as whole nanoseconds: from 16 on it counts nanoseconds;
 * before, it is a struct timespec (Windows, with its own clock, is not a
 * platform this extension builds for).
 */
#if PG_VERSION_NUM >= 160000
#define PA_INSTR_TIME_GET_NANOSEC(t) ((int64) INSTR_TIME_GET_NANOSEC(t))
#else
#define PA_INSTR_TIME_GET_NANOSEC(t) \
	((int64) (t).tv_sec * INT64CONST(1000000000) + (int64) (t).tv_nsec)
#endif

/*
 * PG_MODULE_MAGIC_EXT (18) lets the server report the module's version.
 */
#if PG_VERSION_NUM >= 180000
#define PA_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "pg_perfaudit", .version = PA_EXTVERSION)
#else
#define PA_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * MyBackendId was renamed MyProcNumber in 17; we only need a per-process
 * number that is stable for the life of the backend, and the pid serves.
 */

/*
 * The planner hook gained an ExplainState argument in 19; 14-18 share one
 * signature, so nothing is needed for the supported range.
 */

/*
 * Variable (inferred-type) parameters for a query parsed through SPI: 15
 * renamed parse_variable_parameters to setup_parse_variable_parameters.
 */
#if PG_VERSION_NUM < 150000
#define setup_parse_variable_parameters(pstate, types, n) \
	parse_variable_parameters(pstate, types, n)
#endif

/*
 * pg_get_querydef() (deparse a Query) is exported from 15 on; on 14 the
 * statements of SQL-standard function bodies keep their empty text.
 */
#if PG_VERSION_NUM >= 150000
#define PA_HAVE_QUERYDEF 1
#endif

/*
 * Live-tuple counters of the cumulative statistics: fields lost their
 * n_/t_ prefixes in 16.
 */
#if PG_VERSION_NUM >= 160000
#define PA_TAB_LIVE_TUPLES(e)		((e)->live_tuples)
#define PA_TABSTAT_DELTA_LIVE(s)	((s)->counts.delta_live_tuples)
#else
#define PA_TAB_LIVE_TUPLES(e)		((e)->n_live_tuples)
#define PA_TABSTAT_DELTA_LIVE(s)	((s)->t_counts.t_delta_live_tuples)
#endif

/* JumbleQuery() lost its query-text argument in 16. */
#if PG_VERSION_NUM >= 160000
#define PA_JUMBLE_QUERY(query, text)	JumbleQuery(query)
#else
#define PA_JUMBLE_QUERY(query, text)	JumbleQuery(query, text)
#endif

/* MERGE exists from 15 on. */
#if PG_VERSION_NUM >= 150000
#define PA_HAVE_MERGE 1
#endif

#endif							/* PA_COMPAT_H */
