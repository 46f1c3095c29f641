/*-------------------------------------------------------------------------
 *
 * perfaudit.h
 *		The first include of every pg_perfaudit source file: the version
 *		shims (compat.h) and the limits all subsystems share.
 *
 * A leaf: it declares no function.  Each subsystem has its own header for
 * what it exports; the settings are in guc.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_PERFAUDIT_H
#define PA_PERFAUDIT_H

#include "compat.h"

/* Longest query text kept per statement in a run (bytes, truncated beyond). */
#define PA_MAX_QUERY_TEXT	4096

/* Longest tenant value kept (bytes); longer values are truncated. */
#define PA_MAX_TENANT_LEN	63

#endif							/* PA_PERFAUDIT_H */
