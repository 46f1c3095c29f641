/*-------------------------------------------------------------------------
 *
 * facts.c
 *		Encoding and decoding of plan facts.
 *
 * A facts string is a sequence of entries "kind<US>relation<US>suggestion
 * <US>rows<RS>" (US = 0x1f, RS = 0x1e): ASCII control bytes, never part of
 * a multibyte character, and written as '?' where a catalog name contains
 * them, so no name can end a field or an entry early.  One string per
 * plan, owned by the plan cache (plan_inspect.c), so that a run stores it
 * once however often the plan runs and compares it by pointer or strcmp.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "facts.h"

#define PA_FACT_FIELD_SEP	'\x1f'
#define PA_FACT_END			'\x1e'

/* Append s, separator bytes in it written as '?'. */
static void
pa_fact_field(StringInfo buf, const char *s)
{
	int			start = buf->len;
	int			i;

	appendStringInfoString(buf, s);
	for (i = start; i < buf->len; i++)
		if (buf->data[i] == PA_FACT_FIELD_SEP || buf->data[i] == PA_FACT_END)
			buf->data[i] = '?';
}

void
pa_fact_append(StringInfo buf, const char *kind, const char *relation,
			   const char *suggestion, double rows)
{
	appendStringInfo(buf, "%s%c", kind, PA_FACT_FIELD_SEP);
	pa_fact_field(buf, relation);
	appendStringInfoChar(buf, PA_FACT_FIELD_SEP);
	pa_fact_field(buf, suggestion ? suggestion : "");
	appendStringInfo(buf, "%c%.0f%c", PA_FACT_FIELD_SEP, rows, PA_FACT_END);
}

bool
pa_fact_next(const char **cursor, PaFact *fact)
{
	while (*cursor != NULL && **cursor != '\0')
	{
		const char *p = *cursor;
		const char *end = strchr(p, PA_FACT_END);
		const char *field[4] = {"", "", "", ""};
		int			nfields = 0;
		char	   *entry;
		char	   *q;

		entry = end ? pnstrdup(p, end - p) : pstrdup(p);
		*cursor = end ? end + 1 : NULL;
		for (q = entry; q != NULL && nfields < 4; nfields++)
		{
			char	   *sep = strchr(q, PA_FACT_FIELD_SEP);

			field[nfields] = q;
			if (sep)
				*sep = '\0';
			q = sep ? sep + 1 : NULL;
		}
		if (nfields < 2)
			continue;			/* no relation: not a fact */
		fact->kind = field[0];
		fact->relation = field[1];
		fact->suggestion = field[2];
		fact->rows = field[3];
		return true;
	}
	return false;
}

Size
pa_facts_clip(const char *facts, Size max)
{
	Size		len = strlen(facts);

	if (len < max)
		return len;
	len = max - 1;
	while (len > 0 && facts[len - 1] != PA_FACT_END)
		len--;
	return len;
}
