/*-------------------------------------------------------------------------
 *
 * perfaudit.h
 *		The first include of every pg_perfaudit source file: the version
 *		shims (compat.h) and the limits all subsystems share.
 *
 * A leaf: it declares no function but one inline helper.  Each subsystem
 * has its own header for what it exports; the settings are in guc.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PERFAUDIT_H
#define PA_PERFAUDIT_H

#include "compat.h"

#include "utils/hsearch.h"

/* Longest query text kept per statement in a run (bytes, truncated beyond). */
#define PA_MAX_QUERY_TEXT	4096

/* Longest tenant value kept (bytes); longer values are truncated. */
#define PA_MAX_TENANT_LEN	63

/* A backend-local hash table in cxt, keyed by bytes or by a C string. */
static inline HTAB *
pa_hash_create(const char *name, long nelem, Size keysize, Size entrysize,
			   bool string_keys, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl,
					   HASH_ELEM | (string_keys ? HASH_STRINGS : HASH_BLOBS) | HASH_CONTEXT);
}

#endif							/* PA_PERFAUDIT_H */
