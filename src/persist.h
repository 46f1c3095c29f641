/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Storing results outside the caller's transaction, through the writer
 *		background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PERSIST_H
#define PA_PERSIST_H

#include "fmgr.h"

typedef enum PaPersistKind
{
	PA_PERSIST_RUN = 0,
	PA_PERSIST_BENCHMARK,
	PA_PERSIST_BASELINE
} PaPersistKind;

/*
 * Hand a JSON document to this database's writer worker and wait until it
 * has committed it.  Raises an error (and stores nothing) if the writer
 * fails or does not answer within perfaudit.persist_timeout.
 */
extern void pa_persist(PaPersistKind kind, const char *payload, Size len);

/*
 * The same, with a float8 array handed over in binary (a benchmark's
 * samples: formatting and parsing them as JSON text would cost more than
 * the benchmark itself).  The storing function receives it as $2.
 */
extern void pa_persist_samples(PaPersistKind kind, const char *payload, Size len,
							   const struct ArrayType *samples);

extern PGDLLEXPORT void pa_writer_main(Datum main_arg);

#endif							/* PA_PERSIST_H */
