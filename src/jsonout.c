/*-------------------------------------------------------------------------
 *
 * jsonout.c
 *		Writing JSON key/value pairs into a StringInfo.
 *
 * Numbers that JSON cannot carry (NaN, infinities) are written as null;
 * timestamps in the XSD form that jsonb_populate_record reads back
 * whatever the session's DateStyle.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/datetime.h"
#include "utils/json.h"

#include "jsonout.h"

static void
pa_json_key(StringInfo buf, const char *key, bool *first)
{
	if (!*first)
		appendStringInfoChar(buf, ',');
	*first = false;
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
}

void
pa_json_str(StringInfo buf, const char *key, const char *val, bool *first)
{
	pa_json_key(buf, key, first);
	if (val == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, val);
}

void
pa_json_int(StringInfo buf, const char *key, int64 val, bool *first)
{
	pa_json_key(buf, key, first);
	appendStringInfo(buf, INT64_FORMAT, val);
}

void
pa_json_num(StringInfo buf, const char *key, double val, bool *first)
{
	pa_json_key(buf, key, first);
	if (isnan(val) || isinf(val))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", val);	/* round-trips a double exactly */
}

void
pa_json_ts(StringInfo buf, const char *key, TimestampTz ts, bool *first)
{
	char		tsbuf[MAXDATELEN + 1];

	pa_json_key(buf, key, first);
	appendStringInfoChar(buf, '"');
	appendStringInfoString(buf,
						   JsonEncodeDateTime(tsbuf, TimestampTzGetDatum(ts),
											  TIMESTAMPTZOID, NULL));
	appendStringInfoChar(buf, '"');
}

void
pa_json_raw(StringInfo buf, const char *key, const char *json, bool *first)
{
	pa_json_key(buf, key, first);
	appendStringInfoString(buf, json);
}
