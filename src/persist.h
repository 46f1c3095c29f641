/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Storing results outside the caller's transaction: the request queue
 *		and the writer background worker.  What a document holds is the
 *		store's (store.h); this is transport only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PERSIST_H
#define PA_PERSIST_H

#include "fmgr.h"
#include "postmaster/bgworker.h"

typedef enum PaPersistKind
{
	PA_PERSIST_RUN = 0,
	PA_PERSIST_BENCHMARK,
	PA_PERSIST_BASELINE
} PaPersistKind;

/*
 * Hand a JSON document to this database's writer worker and wait until it
 * has committed it.  Raises an error (and stores nothing) if the writer
 * fails or does not answer within perfaudit.persist_timeout.  samples, for
 * a benchmark only (else NULL), go beside the document in binary: as JSON
 * text they would cost more than the benchmark of a fast statement.  The
 * storing function receives them as $2.
 */
extern void pa_persist(PaPersistKind kind, const char *payload, Size len,
					   const struct ArrayType *samples);

/*
 * Register a background worker of this library with the standard options
 * (shared memory, a database connection, never restarted); false when no
 * slot is free.  extra (extralen bytes, at most BGW_EXTRALEN) goes into
 * bgw_extra; handle may be NULL.
 */
extern bool pa_register_worker(const char *name, const char *type,
							   const char *function, Datum arg,
							   const void *extra, Size extralen, int notify_pid,
							   BackgroundWorkerHandle **handle);

extern PGDLLEXPORT void pa_writer_main(Datum main_arg);

#endif							/* PA_PERSIST_H */
