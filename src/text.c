/*-------------------------------------------------------------------------
 *
 * text.c
 *		Text that crosses a size bound, another database's encoding or a
 *		report.
 *
 * Every text pg_perfaudit copies into a bounded buffer -- statement texts
 * in a run's text area, tenants, messages in shared memory and dynamic
 * shared memory -- is cut with pa_clip_len() or pa_clip_copy(), at a
 * character boundary of the database encoding.  A byte cut inside a
 * multibyte character stores invalid text: length() and right() fail on
 * it, and pg_dump writes a table whose COPY no longer restores.  Each of
 * those buffers is written and read by processes connected to the same
 * database (a run's sessions, its writer, a benchmark's clients), so they
 * share one encoding; tenant statistics, which one shared table keeps for
 * every database, are converted when read (pa_text_from_encoding).
 *
 * Labels are bounded (pa_check_label): a run or benchmark label is shown
 * in every report, and a 25 MB one made report_html() return 500 MB.
 *
 * perfaudit._escape() makes a text safe to print as one line of a report:
 * control characters are written as C-style escapes (\n, \r, \t, \xHH,
 * \uHHHH), so that a label or tenant such as 'x%0AFindings (0)' cannot
 * print a line of its own in a CI log.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "text.h"

PG_FUNCTION_INFO_V1(pa_escape);

int
pa_clip_len(const char *str, int len, int max)
{
	if (len <= max)
		return len;
	if (max <= 0)
		return 0;
	return pg_mbcliplen(str, len, max);
}

int
pa_clip_copy(char *dst, const char *str, Size dstsize)
{
	int			len;

	Assert(dstsize > 0);
	len = pa_clip_len(str, strlen(str), (int) dstsize - 1);
	memcpy(dst, str, len);
	dst[len] = '\0';
	return len;
}

void
pa_check_label(const char *label)
{
	size_t		len;

	if (label == NULL)
		return;
	len = strlen(label);
	if (len > PA_MAX_LABEL_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("label is too long"),
				 errdetail("The label has %zu bytes; at most %d are allowed.",
						   len, PA_MAX_LABEL_LEN)));
}

/* Every byte of str outside ASCII (and every backslash) as \xHH. */
static char *
pa_escape_non_ascii(const char *str, int len)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) str[i];

		if (c >= 0x80 || c == '\\')
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
	}
	return buf.data;
}

char *
pa_text_from_encoding(const char *str, int len, int src_encoding)
{
	int			enc = GetDatabaseEncoding();
	int			i;
	Oid			proc;

	for (i = 0; i < len; i++)
		if (IS_HIGHBIT_SET(str[i]))
			break;
	if (i == len || enc == PG_SQL_ASCII || src_encoding == enc)
		return pnstrdup(str, len);	/* ASCII is the same in every encoding */

	if (PG_VALID_BE_ENCODING(src_encoding) && src_encoding != PG_SQL_ASCII &&
		OidIsValid(proc = FindDefaultConversionProc(src_encoding, enc)))
	{
		char	   *out = palloc((Size) len * MAX_CONVERSION_GROWTH + 1);
		int			done;

		done = pg_do_encoding_conversion_buf(proc, src_encoding, enc,
											 (unsigned char *) str, len,
											 (unsigned char *) out,
											 len * MAX_CONVERSION_GROWTH + 1,
											 true);
		if (done == len)
			return out;
		pfree(out);
	}
	else if (pg_verifymbstr(str, len, true))
		return pnstrdup(str, len);	/* SQL_ASCII or unknown, but valid here */

	return pa_escape_non_ascii(str, len);
}

/*
 * perfaudit._escape(t text, layout boolean DEFAULT false): t with its
 * control characters escaped.
 *
 * A backslash becomes \\, a newline \n, a carriage return \r, a tab \t,
 * another ASCII control character or DEL \xHH, and -- in a UTF8 database
 * -- a C1 control character (U+0080 to U+009F: terminals read U+009B as
 * an escape sequence, U+0085 as a new line), a line or paragraph
 * separator (U+2028, U+2029) or a bidirectional control that reorders what
 * a terminal shows (U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069)
 * \uHHHH.  With layout, for HTML, newlines,
 * carriage returns, tabs and backslashes are kept.
 */
Datum
pa_escape(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bool		layout = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	StringInfoData buf;
	int			i;
	int			done = 0;

	/*
	 * Bytes below 0x80 are never part of a multibyte character in a server
	 * encoding, so the text is scanned byte by byte; the UTF8 sequences are
	 * those of whole characters in valid UTF8.
	 */
	initStringInfo(&buf);
	for (i = 0; i < len; i++)
	{
		unsigned char c = s[i];
		int			seqlen = 0;
		const char *esc = NULL;
		char		hex[8];

		if (c == '\\' || c == '\n' || c == '\r' || c == '\t')
		{
			if (!layout)
			{
				esc = c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
				seqlen = 1;
			}
		}
		else if (c < 0x20 || c == 0x7f)
		{
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			esc = hex;
			seqlen = 1;
		}
		else if (utf8 && c == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
		{
			snprintf(hex, sizeof(hex), "\\u%04x", s[i + 1]);
			esc = hex;
			seqlen = 2;
		}
		else if (utf8 && c == 0xe2 && i + 2 < len &&
				 ((s[i + 1] == 0x80 && ((s[i + 2] >= 0xa8 && s[i + 2] <= 0xae) ||
										s[i + 2] == 0x8e || s[i + 2] == 0x8f)) ||
				  (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9)))
		{
			/* U+2000 + the low 6 bits of the second byte, 6 of the third */
			snprintf(hex, sizeof(hex), "\\u%04x",
					 0x2000 | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f));
			esc = hex;
			seqlen = 3;
		}
		if (esc == NULL)
			continue;
		appendBinaryStringInfo(&buf, (const char *) s + done, i - done);
		appendStringInfoString(&buf, esc);
		i += seqlen - 1;
		done = i + 1;
	}
	if (done == 0)
		PG_RETURN_TEXT_P(t);
	appendBinaryStringInfo(&buf, (const char *) s + done, len - done);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
