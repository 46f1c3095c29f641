/*-------------------------------------------------------------------------
 *
 * baseline.c
 *		save_baseline() and import_baseline(): the checks every stored
 *		baseline passes, and its hand-over to the writer.
 *
 * Both functions run as the caller (SECURITY INVOKER): the metrics of a
 * run are gathered, and an imported document is checked, by plpgsql
 * functions of the extension (_baseline_from_run(), _baseline_from_doc())
 * that this file calls directly through fmgr.  Those, and everything that
 * stores, are not executable by PUBLIC: calling them through SQL would
 * skip the checks here.  The checks that need rows the caller cannot see
 * (who owns a baseline of that name, hidden by row-level security) are
 * made here in C, answering only "yours or not", never whose; the writer's
 * _store_baseline() repeats the owner check in its own transaction, so two
 * roles saving one name at once cannot both win.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "guc.h"
#include "persist.h"
#include "store.h"

/* Longest baseline name (bytes): names are part of the primary key. */
#define PA_MAX_BASELINE_NAME	1000

PG_FUNCTION_INFO_V1(pa_save_baseline);
PG_FUNCTION_INFO_V1(pa_import_baseline);

/*
 * Raise the standard error unless the caller may store baseline name: it
 * is not empty, not too long, and new or the caller's (or a role's the
 * caller has the privileges of).
 */
static void
pa_check_baseline_name(text *name)
{
	Oid			owner;

	if (name == NULL || VARSIZE_ANY_EXHDR(name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("baseline name must not be empty")));
	if (VARSIZE_ANY_EXHDR(name) > PA_MAX_BASELINE_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("baseline name is too long"),
				 errdetail("The name has %zu bytes; at most %d are allowed.",
						   (size_t) VARSIZE_ANY_EXHDR(name), PA_MAX_BASELINE_NAME)));
	owner = pa_store_baseline_owner(name);
	if (OidIsValid(owner) && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("baseline \"%s\" belongs to another role", text_to_cstring(name)),
				 errhint("Choose another name, or ask its owner to replace it.")));
}

/*
 * Call the extension's function perfaudit.fname(argtypes) as the caller,
 * through fmgr: its EXECUTE privilege is not checked, which is what lets
 * it be revoked from PUBLIC.  Returns its (non-null) result.
 */
static Datum
pa_call_internal(const char *fname, int nargs, Oid *argtypes, Datum *args, bool *nulls)
{
	List	   *qname = list_make2(makeString("perfaudit"), makeString(pstrdup(fname)));
	Oid			fn = LookupFuncName(qname, nargs, argtypes, false);
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function perfaudit.%s returned NULL", fname);
	return result;
}

/* The value of key in the JSON object doc, or NULL. */
static JsonbValue *
pa_doc_field(Jsonb *doc, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = unconstify(char *, key);
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&doc->root, JB_FOBJECT, &k);
}

/* Number of elements of the array doc.metrics (0 if absent). */
static int
pa_metrics_count(Jsonb *doc)
{
	JsonbValue *v = pa_doc_field(doc, "metrics");

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return 0;
	return JsonContainerSize(v->val.binary.data);
}

/* doc.name, or NULL when it is not a string. */
static text *
pa_doc_name(Jsonb *doc)
{
	JsonbValue *v = pa_doc_field(doc, "name");

	if (v == NULL || v->type != jbvString)
		return NULL;
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/*
 * Hand doc ({"name", "recorded_at"?, "metrics"}) to the writer for the
 * caller's role: the role is added here, never taken from the document.
 */
static void
pa_store_baseline(Jsonb *doc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"userid\":%u,\"baseline\":", GetUserId());
	(void) JsonbToCString(&buf, &doc->root, VARSIZE(doc));
	appendStringInfoChar(&buf, '}');
	pa_persist(PA_PERSIST_BASELINE, buf.data, buf.len, NULL);
}

/* save_baseline(name text, run_id bigint DEFAULT NULL) RETURNS int */
Datum
pa_save_baseline(PG_FUNCTION_ARGS)
{
	text	   *name = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		args[2];
	bool		nulls[2];
	Jsonb	   *doc;

	pa_require_preload();
	pa_check_baseline_name(name);
	args[0] = PointerGetDatum(name);
	nulls[0] = false;
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1);
	doc = DatumGetJsonbP(pa_call_internal("_baseline_from_run", 2, argtypes, args, nulls));
	pa_store_baseline(doc);
	PG_RETURN_INT32(pa_metrics_count(doc));
}

/* import_baseline(doc jsonb) RETURNS text: the name */
Datum
pa_import_baseline(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1];
	bool		nulls[1];
	Jsonb	   *doc;
	text	   *name;

	pa_require_preload();
	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0);
	/* checks the document and returns it as it is stored */
	doc = DatumGetJsonbP(pa_call_internal("_baseline_from_doc", 1, argtypes, args, nulls));

	name = pa_doc_name(doc);
	if (name == NULL)
		elog(ERROR, "perfaudit._baseline_from_doc returned no name");
	pa_check_baseline_name(name);
	pa_store_baseline(doc);
	PG_RETURN_TEXT_P(name);
}

/*
 * _persist_baseline(doc jsonb): the storing function of 0.1.0, whose
 * save_baseline() and import_baseline() call it until ALTER EXTENSION
 * pg_perfaudit UPDATE replaces them (the library is upgraded first).  It
 * checks the name and its owner as the functions above do.
 */
PG_FUNCTION_INFO_V1(pa_persist_baseline);

Datum
pa_persist_baseline(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);

	pa_require_preload();
	pa_check_baseline_name(pa_doc_name(doc));
	pa_store_baseline(doc);
	PG_RETURN_VOID();
}
