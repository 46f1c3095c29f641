/*-------------------------------------------------------------------------
 *
 * pg_perfaudit.c
 *		Module entry point: the magic block and _PG_init, which sets up each
 *		subsystem in turn.
 *
 * The extension does its real work only when loaded through
 * shared_preload_libraries: the hooks then see every statement of every
 * backend, and shared memory carries database-scope runs and the requests
 * to the writer background worker that makes results survive the caller's
 * rollback.  Loaded any other way (CREATE EXTENSION alone, LOAD), _PG_init
 * defines the session settings only, installs no hook, and the SQL
 * functions that need the preload raise a clear error with a hint
 * (pa_require_preload).
 *
 *-------------------------------------------------------------------------
 */
#include "pg_perfaudit.h"

#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

#include "hooks.h"
#include "plan_inspect.h"
#include "shmem.h"

PA_MODULE_MAGIC;

/* True when loaded from shared_preload_libraries in the postmaster. */
bool		pa_preloaded = false;

void
_PG_init(void)
{
	pa_preloaded = process_shared_preload_libraries_in_progress;

	pa_guc_init();

	if (!pa_preloaded)
		return;

	pa_shmem_init();
	pa_hooks_init();
	pa_plan_inspect_init();
}

/*
 * Raise the standard error for functions that need the library preloaded.
 */
void
pa_require_preload(void)
{
	if (!pa_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_perfaudit must be loaded via shared_preload_libraries"),
				 errhint("Add pg_perfaudit to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * The OID of one of the extension's relations in schema perfaudit, or an
 * error saying the extension is not installed in this database.
 */
Oid
pa_extension_relation(const char *relname)
{
	Oid			nsp = get_namespace_oid("perfaudit", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_perfaudit is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION pg_perfaudit in this database.")));
	return rel;
}

/* Fill one column of a result row (runs, benchmarks) by name. */
void
pa_set_column(TupleDesc tupdesc, Datum *values, bool *nulls,
			  const char *name, Datum value, bool isnull)
{
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			values[i] = value;
			nulls[i] = isnull;
			return;
		}
	}
}
