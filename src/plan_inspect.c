/*-------------------------------------------------------------------------
 *
 * plan_inspect.c
 *		Checks on the executed plan tree, done at ExecutorEnd while the
 *		PlanState tree is still intact.
 *
 * The tree is walked through planstate_tree_walker, which covers init
 * plans, subplans and every child list, so a scan hidden in a CTE or a
 * correlated subquery is seen.  Per-node instrumentation is never assumed.
 *
 * For each scan of a table:
 *
 * - tenant predicates: an equality (or = ANY) between the table's tenant
 *   column (perfaudit.tenant_column) and a constant or a bound parameter
 *   ($n of a prepared statement, a PL/pgSQL variable), in the scan's filter
 *   or index conditions.  Values are read from this execution's parameters,
 *   so a generic plan is attributed like a custom one.
 * - unscoped_tenant_query: a tenant table scanned without such a predicate,
 *   unless a row-level-security policy applies to the executing role (not
 *   for superusers or BYPASSRLS roles, which bypass it), and unless another
 *   scan of the same statement is tenant-scoped: the value then reaches
 *   this table through the join (an approximation: join clauses are not
 *   followed one by one).
 * - seq_scan: a sequential scan of a table with at least
 *   perfaudit.seq_scan_min_rows rows (pg_class.reltuples; the table's size
 *   in blocks when it was never analyzed), with a CREATE INDEX suggestion
 *   from its equality filter columns, tenant column first.
 *
 * Per-relation facts (tenant column number, qualified name, row estimate)
 * are cached per backend and dropped on relcache invalidation, so ALTER
 * TABLE, ANALYZE and a changed perfaudit.tenant_column are seen.
 *
 *-------------------------------------------------------------------------
 */
#include "pg_perfaudit.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "nodes/nodeFuncs.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "plan_inspect.h"

typedef struct PaRelInfo
{
	Oid			relid;			/* hash key */
	bool		valid;
	AttrNumber	tenant_attnum;	/* InvalidAttrNumber: not a tenant table */
	double		reltuples;		/* < 0: never analyzed */
	bool		rowsecurity;	/* RLS enabled on the table */
	char		qualname[2 * NAMEDATALEN + 6];
	char	   *unscoped_fact;	/* its unscoped_tenant_query fact, built once */
} PaRelInfo;

typedef struct PaOpInfo
{
	Oid			opno;			/* hash key */
	bool		is_equality;
} PaOpInfo;

static HTAB *pa_rel_cache = NULL;
static HTAB *pa_op_cache = NULL;
static char pa_rel_cache_column[NAMEDATALEN];

#define PA_MAX_UNSCOPED		8
#define PA_MAX_EQ_COLUMNS	8

/* Per-walk state. */
typedef struct PaWalk
{
	QueryDesc  *queryDesc;
	PaPlanFacts *facts;
	bool		scoped_somewhere;	/* some scan had a tenant predicate */
	int			nunscoped;		/* tenant tables read without one */
	PaRelInfo  *unscoped[PA_MAX_UNSCOPED];
} PaWalk;

/* Per-scan state while reading its quals. */
typedef struct PaScan
{
	PaRelInfo  *rel;
	Oid			indexid;		/* index-only scan: map index columns */
	int			neq;			/* equality filter columns, in order */
	AttrNumber	eq_attnums[PA_MAX_EQ_COLUMNS];
	bool		tenant_pred;
} PaScan;

static void
pa_rel_cache_inval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	PaRelInfo  *e;

	if (pa_rel_cache == NULL)
		return;
	hash_seq_init(&status, pa_rel_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || e->relid == relid)
			e->valid = false;
}

void
pa_plan_inspect_init(void)
{
	CacheRegisterRelcacheCallback(pa_rel_cache_inval, (Datum) 0);
}

static PaRelInfo *
pa_rel_info(Oid relid)
{
	PaRelInfo  *e;
	bool		found;
	HeapTuple	tup;

	if (pa_rel_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PaRelInfo);
		pa_rel_cache = hash_create("pg_perfaudit relations", 128, &ctl,
								   HASH_ELEM | HASH_BLOBS);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PaOpInfo);
		pa_op_cache = hash_create("pg_perfaudit operators", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS);
	}
	if (strcmp(pa_rel_cache_column, pa_tenant_column) != 0)
	{
		pa_rel_cache_inval((Datum) 0, InvalidOid);
		strlcpy(pa_rel_cache_column, pa_tenant_column, NAMEDATALEN);
	}

	e = hash_search(pa_rel_cache, &relid, HASH_ENTER, &found);
	if (found && e->valid)
		return e;

	if (found && e->unscoped_fact != NULL)
		pfree(e->unscoped_fact);
	e->valid = true;
	e->tenant_attnum = get_attnum(relid, pa_tenant_column);
	e->reltuples = -1;
	e->rowsecurity = false;
	e->qualname[0] = '\0';
	e->unscoped_fact = NULL;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
		char	   *nsp = get_namespace_name(cls->relnamespace);

		e->reltuples = cls->reltuples;
		e->rowsecurity = cls->relrowsecurity;
		strlcpy(e->qualname,
				quote_qualified_identifier(nsp, NameStr(cls->relname)),
				sizeof(e->qualname));
		ReleaseSysCache(tup);
	}
	if (e->tenant_attnum != InvalidAttrNumber)
		e->unscoped_fact = MemoryContextStrdup(TopMemoryContext,
											   psprintf("unscoped_tenant_query%c%s%c%c%.0f%c",
														PA_FACT_FIELD_SEP, e->qualname,
														PA_FACT_FIELD_SEP, PA_FACT_FIELD_SEP,
														e->reltuples, PA_FACT_END));
	return e;
}

/*
 * Is this operator named "="?  Cached per backend without invalidation:
 * an operator's name does not change under an existing OID short of
 * ALTER OPERATOR ... RENAME, which is not worth a syscache callback here.
 */
static bool
pa_is_equality(Oid opno)
{
	PaOpInfo   *e;
	bool		found;

	e = hash_search(pa_op_cache, &opno, HASH_ENTER, &found);
	if (!found)
	{
		char	   *name = get_opname(opno);

		e->is_equality = name != NULL && strcmp(name, "=") == 0;
	}
	return e->is_equality;
}

static void
pa_add_tenant(PaPlanFacts *facts, Datum value, Oid typid)
{
	Oid			outfn;
	bool		isvarlena;
	char	   *s;
	int			i;

	getTypeOutputInfo(typid, &outfn, &isvarlena);
	s = OidOutputFunctionCall(outfn, value);
	for (i = 0; i < facts->ntenants; i++)
		if (strncmp(facts->tenants[i], s, PA_MAX_TENANT_LEN) == 0)
			return;
	if (facts->ntenants >= PA_MAX_PLAN_TENANTS)
	{
		facts->more_tenants = true;
		return;
	}
	strlcpy(facts->tenants[facts->ntenants++], s, PA_MAX_TENANT_LEN + 1);
}

/*
 * The table column a Var of this scan refers to, or InvalidAttrNumber.
 */
static AttrNumber
pa_var_attnum(Node *node, PaScan *scan, Index scanrelid)
{
	Var		   *var;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return InvalidAttrNumber;
	var = (Var *) node;
	if (OidIsValid(scan->indexid) && var->varno == INDEX_VAR)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(scan->indexid));
		AttrNumber	att = InvalidAttrNumber;

		if (HeapTupleIsValid(tup))
		{
			Form_pg_index idx = (Form_pg_index) GETSTRUCT(tup);

			if (var->varattno > 0 && var->varattno <= idx->indnatts)
				att = idx->indkey.values[var->varattno - 1];
			ReleaseSysCache(tup);
		}
		return att;
	}
	if (var->varno != (int) scanrelid || var->varlevelsup != 0)
		return InvalidAttrNumber;
	return var->varattno;
}

/* Add the value(s) of a Const or external Param to the tenants. */
static bool
pa_value_tenants(Node *node, bool is_array, QueryDesc *queryDesc, PaPlanFacts *facts)
{
	Datum		value;
	Oid			typid;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL)
		return false;
	if (IsA(node, Const))
	{
		if (((Const *) node)->constisnull)
			return false;
		value = ((Const *) node)->constvalue;
		typid = ((Const *) node)->consttype;
	}
	else if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN)
	{
		ParamListInfo params = queryDesc->params;
		int			id = ((Param *) node)->paramid;
		ParamExternData workspace;
		ParamExternData *prm;

		if (params == NULL || id <= 0 || id > params->numParams)
			return false;
		prm = params->paramFetch ?
			params->paramFetch(params, id, true, &workspace) :
			&params->params[id - 1];
		if (prm == NULL || prm->isnull || !OidIsValid(prm->ptype))
			return false;
		value = prm->value;
		typid = prm->ptype;
	}
	else if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
		return true;			/* a join parameter: scoped, value per row */
	else
		return false;

	if (is_array)
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n,
					i;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			if (!nulls[i])
				pa_add_tenant(facts, elems[i], elemtype);
		return n > 0;
	}
	pa_add_tenant(facts, value, typid);
	return true;
}

static void
pa_scan_quals(List *quals, PaScan *scan, Index scanrelid, PaWalk *walk)
{
	ListCell   *lc;

	foreach(lc, quals)
	{
		Node	   *clause = (Node *) lfirst(lc);
		AttrNumber	att = InvalidAttrNumber;
		Node	   *other = NULL;
		bool		is_array = false;

		if (IsA(clause, BoolExpr) && ((BoolExpr *) clause)->boolop == AND_EXPR)
		{
			pa_scan_quals(((BoolExpr *) clause)->args, scan, scanrelid, walk);
			continue;
		}
		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2 &&
			pa_is_equality(((OpExpr *) clause)->opno))
		{
			Node	   *l = linitial(((OpExpr *) clause)->args);
			Node	   *r = lsecond(((OpExpr *) clause)->args);

			if ((att = pa_var_attnum(l, scan, scanrelid)) != InvalidAttrNumber)
				other = r;
			else if ((att = pa_var_attnum(r, scan, scanrelid)) != InvalidAttrNumber)
				other = l;
		}
		else if (IsA(clause, ScalarArrayOpExpr) &&
				 ((ScalarArrayOpExpr *) clause)->useOr &&
				 pa_is_equality(((ScalarArrayOpExpr *) clause)->opno))
		{
			att = pa_var_attnum(linitial(((ScalarArrayOpExpr *) clause)->args),
								scan, scanrelid);
			other = lsecond(((ScalarArrayOpExpr *) clause)->args);
			is_array = true;
		}
		if (att == InvalidAttrNumber || att <= 0)
			continue;

		{
			int			k;
			bool		have = false;

			for (k = 0; k < scan->neq; k++)
				have |= scan->eq_attnums[k] == att;
			if (!have && scan->neq < PA_MAX_EQ_COLUMNS)
				scan->eq_attnums[scan->neq++] = att;
		}
		if (att == scan->rel->tenant_attnum &&
			pa_value_tenants(other, is_array, walk->queryDesc, walk->facts))
			scan->tenant_pred = true;
	}
}

static void
pa_add_fact(PaPlanFacts *facts, const char *kind, const char *relation,
			const char *suggestion, double rows)
{
	if (facts->facts.data == NULL)
		initStringInfo(&facts->facts);
	appendStringInfo(&facts->facts, "%s%c%s%c%s%c%.0f%c",
					 kind, PA_FACT_FIELD_SEP, relation, PA_FACT_FIELD_SEP,
					 suggestion ? suggestion : "", PA_FACT_FIELD_SEP,
					 rows, PA_FACT_END);
}

/* The CREATE INDEX a sequential scan with these filter columns suggests. */
static char *
pa_index_suggestion(PaRelInfo *rel, const PaScan *scan)
{
	StringInfoData buf;
	bool		first = true;
	bool		has_tenant = false;
	int			k;

	if (scan->neq == 0)
		return NULL;
	for (k = 0; k < scan->neq; k++)
		has_tenant |= scan->eq_attnums[k] == rel->tenant_attnum;
	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE INDEX ON %s (", rel->qualname);
	if (rel->tenant_attnum != InvalidAttrNumber && has_tenant)
	{
		appendStringInfoString(&buf, quote_identifier(get_attname(rel->relid, rel->tenant_attnum, false)));
		first = false;
	}
	for (k = 0; k < scan->neq; k++)
	{
		AttrNumber	att = scan->eq_attnums[k];

		if (att == rel->tenant_attnum)
			continue;
		appendStringInfo(&buf, "%s%s", first ? "" : ", ",
						 quote_identifier(get_attname(rel->relid, att, false)));
		first = false;
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

static bool
pa_inspect_walker(PlanState *ps, void *context)
{
	PaWalk	   *walk = (PaWalk *) context;
	Plan	   *plan;
	Index		scanrelid = 0;
	PaScan		scan;

	if (ps == NULL)
		return false;
	plan = ps->plan;
	memset(&scan, 0, sizeof(scan));

	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_TidScan:
		case T_TidRangeScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
			scanrelid = ((Scan *) plan)->scanrelid;
			break;
		default:
			break;
	}

	if (scanrelid > 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(scanrelid, walk->queryDesc->estate);

		if (rte->rtekind == RTE_RELATION && OidIsValid(rte->relid))
		{
			scan.rel = pa_rel_info(rte->relid);
			pa_scan_quals(plan->qual, &scan, scanrelid, walk);
			if (IsA(plan, IndexScan))
				pa_scan_quals(((IndexScan *) plan)->indexqualorig, &scan, scanrelid, walk);
			else if (IsA(plan, BitmapHeapScan))
				pa_scan_quals(((BitmapHeapScan *) plan)->bitmapqualorig, &scan, scanrelid, walk);
			else if (IsA(plan, IndexOnlyScan))
			{
				scan.indexid = ((IndexOnlyScan *) plan)->indexid;
				pa_scan_quals(((IndexOnlyScan *) plan)->indexqual, &scan, scanrelid, walk);
			}

			if (scan.rel->tenant_attnum != InvalidAttrNumber)
			{
				if (scan.tenant_pred)
					walk->scoped_somewhere = true;
				else if ((!scan.rel->rowsecurity ||
						  check_enable_rls(rte->relid, InvalidOid, true) != RLS_ENABLED) &&
						 walk->nunscoped < PA_MAX_UNSCOPED)
					walk->unscoped[walk->nunscoped++] = scan.rel;
			}

			if (IsA(plan, SeqScan))
			{
				double		rows = scan.rel->reltuples;

				walk->facts->seq_scans++;
				if (rows < 0 && ((ScanState *) ps)->ss_currentRelation != NULL)
					rows = (double) RelationGetNumberOfBlocks(((ScanState *) ps)->ss_currentRelation) *
						(BLCKSZ / 64);	/* never analyzed: assume narrow rows */
				if (rows >= pa_seq_scan_min_rows)
					pa_add_fact(walk->facts, "seq_scan", scan.rel->qualname,
								pa_index_suggestion(scan.rel, &scan), rows);
			}
		}
	}
	return planstate_tree_walker(ps, pa_inspect_walker, context);
}

void
pa_inspect_plan(QueryDesc *queryDesc, PaPlanFacts *facts)
{
	PaWalk		walk;
	int			i;

	walk.queryDesc = queryDesc;
	walk.facts = facts;
	walk.scoped_somewhere = false;
	walk.nunscoped = 0;
	(void) pa_inspect_walker(queryDesc->planstate, &walk);

	if (walk.scoped_somewhere || walk.nunscoped == 0)
		return;

	/* The common case, one unscoped table and nothing else: its own string. */
	if (walk.nunscoped == 1 && facts->facts.data == NULL)
	{
		facts->fixed = walk.unscoped[0]->unscoped_fact;
		return;
	}
	for (i = 0; i < walk.nunscoped; i++)
	{
		if (facts->facts.data == NULL)
			initStringInfo(&facts->facts);
		appendStringInfoString(&facts->facts, walk.unscoped[i]->unscoped_fact);
	}
}
