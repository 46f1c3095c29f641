/*-------------------------------------------------------------------------
 *
 * jsonout.h
 *		Writing JSON objects into a StringInfo: the documents store.c builds for
 *		the writer worker.  Strings go through core's escape_json.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_JSONOUT_H
#define PA_JSONOUT_H

#include "lib/stringinfo.h"
#include "utils/timestamp.h"

/* Each writes "key":value, preceded by a comma unless *first. */
extern void pa_json_str(StringInfo buf, const char *key, const char *val, bool *first);
extern void pa_json_int(StringInfo buf, const char *key, int64 val, bool *first);
extern void pa_json_num(StringInfo buf, const char *key, double val, bool *first);
extern void pa_json_ts(StringInfo buf, const char *key, TimestampTz ts, bool *first);
/* "key": followed by raw JSON text the caller built */
extern void pa_json_raw(StringInfo buf, const char *key, const char *json, bool *first);

#endif							/* PA_JSONOUT_H */
