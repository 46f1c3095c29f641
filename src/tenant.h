/*-------------------------------------------------------------------------
 *
 * tenant.h
 *		Which tenant a statement execution belongs to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_TENANT_H
#define PA_TENANT_H

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

#endif							/* PA_TENANT_H */
