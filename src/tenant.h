/*-------------------------------------------------------------------------
 *
 * tenant.h
 *		Which tenant a statement execution belongs to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_TENANT_H
#define PA_TENANT_H

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/*
 * The acting tenant of this session's run, from start(tenant => ...), or
 * NULL when its run ends: it names the tenant before the setting or tag.
 */
extern void pa_set_acting_tenant(const char *tenant);

/*
 * The tenant of a statement about to execute, from the execution context:
 * the acting tenant a run declared, else the session setting named by perfaudit.tenant_setting, else (when
 * check_tag) a SQLCommenter-style tenant='...' tag in a comment of the
 * statement's own text -- source_text from stmt_location for stmt_len bytes
 * (0: to the end), so that a tag in one statement of a multi-statement
 * string names no other.  Copies it, cut to PA_MAX_TENANT_LEN bytes at a
 * character boundary, into out (PA_MAX_TENANT_LEN + 1 bytes) and returns
 * true; false when neither source names one.
 */
extern bool pa_tenant_from_context(const char *source_text, int stmt_location,
								   int stmt_len, bool check_tag, char *out);

/*
 * Copy a tenant value into dst (PA_MAX_TENANT_LEN + 1 bytes), cut at a
 * character boundary: a cut must never leave half a multibyte character,
 * which would be stored as invalid text.
 */
extern void pa_clip_tenant(char *dst, const char *src);

/*
 * A tenant column's value as text: integers written into intbuf (at least
 * MAXINT8LEN + 1 bytes), which is returned; anything else a palloc'd
 * string (outfn: the type's output function, or InvalidOid to look it up).
 * Inline: it runs for every observed row and every bound tenant.
 */
static inline const char *
pa_tenant_value_text(Datum value, Oid typid, Oid outfn, char *intbuf)
{
	bool		isvarlena;

	switch (typid)
	{
		case INT8OID:
			pg_lltoa(DatumGetInt64(value), intbuf);
			return intbuf;
		case INT4OID:
			pg_ltoa(DatumGetInt32(value), intbuf);
			return intbuf;
		case INT2OID:
			pg_ltoa((int32) DatumGetInt16(value), intbuf);
			return intbuf;
		case TEXTOID:
		case VARCHAROID:
			return text_to_cstring(DatumGetTextPP(value));
		default:
			if (!OidIsValid(outfn))
				getTypeOutputInfo(typid, &outfn, &isvarlena);
			return OidOutputFunctionCall(outfn, value);
	}
}

/*
 * An acting tenant (text from a setting, a tag or start()) in the form the
 * tenant column's type (typid) writes its values, so that it compares
 * equal to them as text: for integer columns without sign, spaces or
 * leading zeros ('+042' is 42), for uuid columns in lower case with
 * hyphens ('{A0EEBC99-9C0B...}' is 'a0eebc99-9c0b-...').  Text that is not
 * a valid value of the type, and other types, stay as they are.  In place.
 */
extern void pa_tenant_normalize(char *tenant, Oid typid);

/*
 * Several tenants as one tenant value: comma-separated, as many whole
 * values as fit in PA_MAX_TENANT_LEN bytes.  Unless complete (these are
 * all of them and they fit), the list ends in ",..." (just "..." when not
 * even the first fits).  palloc'd.
 */
extern char *pa_tenant_list(const char *const *values, int n, bool complete);

#endif							/* PA_TENANT_H */
