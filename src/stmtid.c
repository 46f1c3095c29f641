/*-------------------------------------------------------------------------
 *
 * stmtid.c
 *		What identifies a statement execution: its query identifier, its
 *		text within the source string, and a fingerprint of its parameter
 *		values (bound parameters, or the literals in its text).
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "parser/scansup.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "stmtid.h"

static dlist_head pa_body_texts = DLIST_STATIC_INIT(pa_body_texts);

/*
 * The identifier of a planned statement (utility: a utility statement's).
 * pg_stat_statements, when its ProcessUtility hook runs before ours (it
 * was loaded after us), sets a utility statement's queryId to 0 before
 * passing it on; core computes a utility statement's identifier on 14 and
 * 15 as a hash of the cleaned statement text, which we recompute, so the
 * identifier is the same whatever the load order (from 16 on core jumbles
 * the parse tree instead: the text hash still keeps utility statements
 * apart, but does not equal core's identifier).  With compute_query_id =
 * off core leaves every identifier 0, which would make one "statement" of
 * all of them (and N+1 findings out of unrelated queries): the same text
 * hash keeps them apart, though it cannot see that two differ only in
 * their constants (start() warns about this).  A hash of 0 becomes 1 for
 * planned statements and 2 for utility statements.
 */
uint64
pa_stmt_queryid(const PlannedStmt *pstmt, const char *source, bool utility)
{
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	const char *sql;
	uint64		id;

	if (pstmt->queryId != UINT64CONST(0))
		return (uint64) pstmt->queryId;
	if (source == NULL)
		return 0;
	sql = CleanQuerytext(source, &location, &len);
	id = DatumGetUInt64(hash_any_extended((const unsigned char *) sql, len, 0));
	if (id != UINT64CONST(0))
		return id;
	return utility ? UINT64CONST(2) : UINT64CONST(1);
}

/*
 * Statement texts kept for statements that have no source text: those of a SQL function written
 * with a SQL-standard body (BEGIN ATOMIC ... END, RETURN ...).  Core runs
 * them from the stored parse trees with an empty source string and no
 * query identifier (stored trees keep none), so they would all share one
 * text ("") and one identifier (the hash of ""), however many functions
 * and statements there are.  The planner deparses such a statement (what
 * \sf prints) and keeps the text and an identifier hashed from it for the
 * plan's ExecutorStart, keyed by the plan; the entry lives in the plan's
 * memory context and leaves the list when that context goes.
 */

/*
 * The text of one statement within a possibly multi-statement source
 * string, trimmed.  The source may be NULL (some extended-protocol paths).
 */
const char *
pa_statement_text(const char *src, int location, int len, int *out_len)
{
	int			total;

	*out_len = 0;
	if (src == NULL)
		return NULL;
	total = strlen(src);
	if (location < 0 || location > total)
	{
		location = 0;
		len = total;
	}
	else if (len <= 0 || location + len > total)
		len = total - location;
	src += location;
	while (len > 0 && scanner_isspace(*src))
	{
		src++;
		len--;
	}
	while (len > 0 && (scanner_isspace(src[len - 1]) || src[len - 1] == ';'))
		len--;
	*out_len = len;
	return src;
}

static inline uint64
pa_fnv(uint64 h, unsigned char c)
{
	return (h ^ c) * UINT64CONST(0x100000001b3);
}

/*
 * Fingerprint of a statement's text with comments and runs of white space
 * left out: two executions with the same queryid and different literals
 * (an ORM that inlines values) get different fingerprints, while a
 * per-request comment tag (SQLCommenter's traceparent) does not make
 * identical statements look different.  Quoted strings and identifiers are
 * kept whole so that "--" or "/ *" inside them is not mistaken for a comment.
 */
uint64
pa_text_fingerprint(const char *s, int len)
{
	uint64		h = UINT64CONST(0xcbf29ce484222325);
	int			i = 0;
	bool		space = false;

	while (i < len)
	{
		char		c = s[i];

		if (c == '-' && i + 1 < len && s[i + 1] == '-')
		{
			while (i < len && s[i] != '\n')
				i++;
			space = true;
			continue;
		}
		if (c == '/' && i + 1 < len && s[i + 1] == '*')
		{
			i += 2;
			while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'))
				i++;
			i += 2;
			space = true;
			continue;
		}
		if (scanner_isspace(c))
		{
			space = true;
			i++;
			continue;
		}
		if (space)
			h = pa_fnv(h, ' ');
		space = false;
		if (c == '\'' || c == '"')
		{
			char		q = c;

			h = pa_fnv(h, c);
			i++;
			while (i < len && s[i] != q)
				h = pa_fnv(h, s[i++]);
			if (i < len)
				h = pa_fnv(h, s[i++]);
			continue;
		}
		h = pa_fnv(h, c);
		i++;
	}
	return h;
}

static uint64
pa_hash_datum(Datum value, Oid typid)
{
	/* A one-entry cache: a statement's parameters are mostly of one type. */
	static Oid	cached_typid = InvalidOid;
	static int16 typlen;
	static bool typbyval;

	if (typid != cached_typid)
	{
		get_typlenbyval(typid, &typlen, &typbyval);
		cached_typid = typid;
	}
	if (typbyval)
		return hash_bytes_uint32_extended((uint32) value, (uint64) (value >> 32));
	if (typlen == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

		return hash_bytes_extended((const unsigned char *) VARDATA_ANY(v),
								   VARSIZE_ANY_EXHDR(v), 0);
	}
	if (typlen == -2)
		return hash_bytes_extended((const unsigned char *) DatumGetCString(value),
								   strlen(DatumGetCString(value)), 0);
	return hash_bytes_extended((const unsigned char *) DatumGetPointer(value),
							   typlen, 0);
}

/*
 * Fingerprint of the bound parameter values.  Parameters are read through
 * paramFetch when the list has one (PL/pgSQL fills them lazily and returns
 * an empty slot for variables the statement does not use), so only the
 * values this statement actually receives count.  Must run at
 * ExecutorStart: by ExecutorEnd of a cursor, PL/pgSQL may have moved on.
 */
uint64
pa_params_fingerprint(ParamListInfo params)
{
	uint64		h = 0;
	int			i;

	if (params == NULL)
		return 0;
	for (i = 0; i < params->numParams; i++)
	{
		ParamExternData workspace;
		ParamExternData *prm;
		uint64		v;

		if (params->paramFetch != NULL)
			prm = params->paramFetch(params, i + 1, true, &workspace);
		else
			prm = &params->params[i];

		if (prm == NULL || !OidIsValid(prm->ptype))
			continue;			/* not used by this statement */
		if (prm->isnull)
			v = UINT64CONST(0x5bd1e9955bd1e995);
		else
			v = pa_hash_datum(prm->value, prm->ptype);
		h = hash_combine64(h, hash_combine64(v, (uint64) i));
	}
	return h;
}

/* ----------------------------------------------------------------
 * Statements without source text
 * ----------------------------------------------------------------
 */

/* Is this source string empty once white space and semicolons are cut? */
bool
pa_source_empty(const char *src)
{
	if (src == NULL)
		return false;
	for (; *src != '\0'; src++)
		if (!scanner_isspace(*src) && *src != ';')
			return false;
	return true;
}

static void
pa_body_text_forget(void *arg)
{
	PaBodyText *bt = (PaBodyText *) arg;

	dlist_delete(&bt->node);
}

/*
 * Keep the deparsed text of a statement planned from an empty source
 * string for its executions.  Called right after planning, in the memory
 * context the plan was made in.
 */
void
pa_body_text_remember(const PlannedStmt *stmt, const char *text)
{
	int			len;
	PaBodyText *bt;
	uint64		id;

	while (scanner_isspace(*text))
		text++;
	len = strlen(text);
	bt = palloc(offsetof(PaBodyText, text) + len + 1);
	bt->stmt = stmt;
	bt->plan = stmt->planTree;
	bt->len = len;
	memcpy(bt->text, text, len + 1);
	id = DatumGetUInt64(hash_any_extended((const unsigned char *) text, len, 0));
	bt->queryid = id != UINT64CONST(0) ? id : UINT64CONST(1);
	bt->cb.func = pa_body_text_forget;
	bt->cb.arg = bt;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &bt->cb);
	dlist_push_head(&pa_body_texts, &bt->node);
}

const PaBodyText *
pa_body_text_find(const PlannedStmt *stmt)
{
	dlist_iter	iter;

	if (dlist_is_empty(&pa_body_texts))
		return NULL;
	dlist_foreach(iter, &pa_body_texts)
	{
		PaBodyText *bt = dlist_container(PaBodyText, node, iter.cur);

		if (bt->stmt == stmt && bt->plan == stmt->planTree)
			return bt;
	}
	return NULL;
}

/*
 * Skip white space and comments from p (at most end); returns the first
 * byte of the next token.
 */
static const char *
pa_skip_space(const char *p, const char *end)
{
	for (;;)
	{
		while (p < end && scanner_isspace(*p))
			p++;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		{
			while (p < end && *p != '\n')
				p++;
		}
		else if (end - p >= 2 && p[0] == '/' && p[1] == '*')
		{
			int			depth = 0;

			do
			{
				if (end - p >= 2 && p[0] == '/' && p[1] == '*')
				{
					depth++;
					p += 2;
				}
				else if (end - p >= 2 && p[0] == '*' && p[1] == '/')
				{
					depth--;
					p += 2;
				}
				else
					p++;
			} while (p < end && depth > 0);
		}
		else
			return p;
	}
}

/*
 * DECLARE name [options] CURSOR [WITH[OUT] HOLD] FOR query: everything
 * before FOR is keywords and the name, which may be a quoted identifier
 * (and so may read "for"); the first unquoted FOR after CURSOR starts the
 * query.
 */
const char *
pa_cursor_query_text(const char *stmt, int len, int *out_len)
{
	const char *p = stmt;
	const char *end = stmt + len;
	bool		seen_cursor = false;

	if (stmt == NULL)
		return NULL;
	for (;;)
	{
		const char *w;

		p = pa_skip_space(p, end);
		if (p >= end)
			return NULL;
		if (*p == '"')
		{
			/* a quoted identifier; "" is a quote inside it */
			p++;
			while (p < end)
			{
				if (*p == '"')
				{
					if (p + 1 < end && p[1] == '"')
					{
						p += 2;
						continue;
					}
					break;
				}
				p++;
			}
			p++;
			continue;
		}
		w = p;
		while (p < end && (IS_HIGHBIT_SET(*p) || isalnum((unsigned char) *p) ||
						   *p == '_' || *p == '$'))
			p++;
		if (p == w)
			return NULL;		/* not a word: not the shape we know */
		if (p - w == 6 && pg_strncasecmp(w, "cursor", 6) == 0)
			seen_cursor = true;
		else if (seen_cursor && p - w == 3 && pg_strncasecmp(w, "for", 3) == 0)
		{
			const char *q = pa_skip_space(p, end);
			const char *qend = end;

			while (qend > q && (scanner_isspace(qend[-1]) || qend[-1] == ';'))
				qend--;
			if (qend <= q)
				return NULL;
			*out_len = qend - q;
			return q;
		}
	}
}
