/*-------------------------------------------------------------------------
 *
 * tenant.c
 *		Tenant attribution from the execution context.
 *
 * Read at execution time, never cached in a plan: a prepared statement
 * executed for tenant 7 and then for tenant 9 is attributed to each in
 * turn.  Sources, in the contract's order:
 *
 * 1. the session setting named by perfaudit.tenant_setting (for example
 *    app.current_organization_id, which row-level-security policies read);
 * 2. a SQLCommenter tag tenant='42' in a comment of the statement text
 *    (values URL-encoded, as SQLCommenter writes them).
 *
 * Predicates on the tenant column in the executed plan are the third
 * source (plan_inspect.c, with the tenant-findings work).
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "guc.h"
#include "tenant.h"
#include "text.h"

static int
pa_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
pa_clip_tenant(char *dst, const char *src)
{
	pa_clip_copy(dst, src, PA_MAX_TENANT_LEN + 1);
}

/*
 * Copy a tag value up to its closing quote, decoding %XX escapes; false if
 * the quote never comes before 'end', or if the decoded bytes are not
 * valid text in the database encoding (%FF%FE): such a tag names no tenant.
 * Of a value longer than the buffer, the part kept must be valid.
 */
static bool
pa_copy_tag_value(const char *p, const char *end, char *out)
{
	char		buf[PA_MAX_TENANT_LEN * 4 + 1];
	int			n = 0;
	bool		overflow = false;
	int			valid;

	while (p < end && *p != '\'')
	{
		char		c = *p++;

		if (c == '%' && p + 1 < end && pa_hexval(p[0]) >= 0 && pa_hexval(p[1]) >= 0)
		{
			c = (char) (pa_hexval(p[0]) * 16 + pa_hexval(p[1]));
			p += 2;
		}
		if (n < (int) sizeof(buf) - 1)
			buf[n++] = c;
		else
			overflow = true;
	}
	buf[n] = '\0';
	if (p >= end || n == 0 || strlen(buf) != (size_t) n)
		return false;
	/* (the buffer may end inside a character: only what is kept counts) */
	valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), buf, n);
	if (valid < n && !(overflow && valid >= PA_MAX_TENANT_LEN))
		return false;
	buf[valid] = '\0';
	pa_clip_tenant(out, buf);
	return true;
}

/* Find tenant='...' inside the C-style comments of the text. */
static bool
pa_tenant_from_tag(const char *text, char *out)
{
	const char *c = text;
	static const char key[] = "tenant='";

	while ((c = strstr(c, "/*")) != NULL)
	{
		const char *end = strstr(c + 2, "*/");
		const char *p;

		if (end == NULL)
			return false;
		for (p = c + 2; p + sizeof(key) - 1 <= end; p++)
		{
			/* the key must start the comment or follow a separator */
			if (strncmp(p, key, sizeof(key) - 1) == 0 &&
				(p == c + 2 || p[-1] == ',' || p[-1] == ' ' || p[-1] == '*'))
				return pa_copy_tag_value(p + sizeof(key) - 1, end, out);
		}
		c = end + 2;
	}
	return false;
}

/* The acting tenant start(tenant => ...) declared for this session's run. */
static bool pa_acting_set = false;
static char pa_acting_tenant[PA_MAX_TENANT_LEN + 1];

void
pa_set_acting_tenant(const char *tenant)
{
	pa_acting_set = tenant != NULL;
	if (tenant != NULL)
		pa_clip_tenant(pa_acting_tenant, tenant);
}

/*
 * The start of the comments and white space that precede text[loc]: a tag
 * written before its statement belongs to it.  PostgreSQL 18 starts a
 * statement's location after its leading comments; before 18 the location
 * included them, and this returns loc itself.
 */
static int
pa_leading_comments_start(const char *text, int loc)
{
	int			p = loc;

	for (;;)
	{
		int			q = p;
		int			s;

		while (q > 0 && isspace((unsigned char) text[q - 1]))
			q--;
		if (q < 4 || text[q - 1] != '/' || text[q - 2] != '*')
			return p;
		/* a comment ends at q: find where it begins */
		for (s = q - 4; s >= 0; s--)
			if (text[s] == '/' && text[s + 1] == '*')
				break;
		if (s < 0)
			return p;
		p = s;
	}
}

bool
pa_tenant_from_context(const char *source_text, int stmt_location, int stmt_len,
					   bool check_tag, char *out)
{
	/* A run declared the tenant its session acts as: it comes first. */
	if (pa_acting_set)
	{
		strcpy(out, pa_acting_tenant);
		return true;
	}

	/*
	 * perfaudit.tenant_setting is settable by anyone, so a setting only
	 * superusers may read (data_directory, say) must not leak into the
	 * run's tenant column: such settings are skipped unless the role could
	 * read them anyway: the current role (a SECURITY DEFINER function's
	 * owner, say) and the session's own (who chose the setting's name).
	 */
	if (pa_tenant_setting != NULL && pa_tenant_setting[0] != '\0' &&
		((GetConfigOptionFlags(pa_tenant_setting, true) & GUC_SUPERUSER_ONLY) == 0 ||
		 (has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_SETTINGS) &&
		  has_privs_of_role(GetOuterUserId(), ROLE_PG_READ_ALL_SETTINGS))))
	{
		const char *v = GetConfigOption(pa_tenant_setting, true, false);

		/*
		 * A value given in the startup packet (PGOPTIONS='-c ...') is not
		 * converted or checked by the server: invalid text names no tenant.
		 */
		if (v != NULL && v[0] != '\0' && pg_verifymbstr(v, strlen(v), true))
		{
			pa_clip_tenant(out, v);
			return true;
		}
	}
	if (check_tag && source_text != NULL)
	{
		int			total = strlen(source_text);
		bool		found;
		int			start;

		if (stmt_location < 0 || stmt_location > total)
			stmt_location = 0;
		start = pa_leading_comments_start(source_text, stmt_location);
		if (stmt_len <= 0 || stmt_location + stmt_len > total)
			return pa_tenant_from_tag(source_text + start, out);
		{
			/* One statement of several: only its own text and comments. */
			char	   *stmt = pnstrdup(source_text + start,
										stmt_location - start + stmt_len);

			found = pa_tenant_from_tag(stmt, out);
			pfree(stmt);
			return found;
		}
	}
	return false;
}

char *
pa_tenant_list(const char *const *values, int n, bool complete)
{
	StringInfoData buf;
	int			whole = 0;
	int			listed = 0;
	int			i;

	/* Does the whole list fit?  Else keep room for ",...". */
	for (i = 0; complete && i < n; i++)
		whole += strlen(values[i]) + (i > 0 ? 1 : 0);
	complete = complete && whole <= PA_MAX_TENANT_LEN;
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		int			len = strlen(values[i]) + (i > 0 ? 1 : 0);

		if (!complete && buf.len + len > PA_MAX_TENANT_LEN - 4)
			break;
		appendStringInfo(&buf, "%s%s", i > 0 ? "," : "", values[i]);
		listed++;
	}
	if (!complete)
		appendStringInfoString(&buf, listed > 0 ? ",..." : "...");
	return buf.data;
}

/* Is s an integer literal, in the form int8out writes it? */
static bool
pa_int_canonical(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9' || (*p == '0' && (p[1] != '\0' || p != s)))
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

void
pa_tenant_normalize(char *tenant, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			{
				const char *p = tenant;
				bool		neg = false;
				uint64		v = 0;
				int			digits = 0;

				if (pa_int_canonical(tenant))
					return;
				/* as int8in reads it: spaces, a sign, digits, spaces */
				while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
					p++;
				if (*p == '-' || *p == '+')
					neg = *p++ == '-';
				for (; *p >= '0' && *p <= '9'; p++, digits++)
				{
					if (v > (PG_UINT64_MAX - 9) / 10)
						return;		/* out of range: not a value of it */
					v = v * 10 + (*p - '0');
				}
				while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
					p++;
				if (digits == 0 || *p != '\0' || v > (uint64) PG_INT64_MAX + (neg ? 1 : 0))
					return;
				if (neg && v != 0)
					*tenant++ = '-';
				tenant[pg_ulltoa_n(v, tenant)] = '\0';
				return;
			}
		case UUIDOID:
			{
				/* as uuid_in reads it: braces, hyphens after groups of 4 */
				char		hex[32];
				const char *p = tenant;
				int			n = 0;
				bool		braces = *p == '{';
				int			i;
				int			o;

				if (braces)
					p++;
				while (n < 32)
				{
					char		c = *p;

					if (c >= 'A' && c <= 'F')
						c = c - 'A' + 'a';
					if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
						return;
					hex[n++] = c;
					p++;
					if (*p == '-' && n % 4 == 0 && n < 32)
						p++;
				}
				if (braces && *p++ != '}')
					return;
				if (*p != '\0')
					return;
				for (i = 0, o = 0; i < 32; i++)
				{
					if (i == 8 || i == 12 || i == 16 || i == 20)
						tenant[o++] = '-';
					tenant[o++] = hex[i];
				}
				tenant[o] = '\0';
				return;
			}
		default:
			return;
	}
}
