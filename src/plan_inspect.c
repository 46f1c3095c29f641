/*-------------------------------------------------------------------------
 *
 * plan_inspect.c
 *		Checks on the executed plan: tenant predicates, tenant tables read
 *		without one, sequential scans of big tables.
 *
 * What a plan says is worked out once per plan and cached; each execution
 * then only reads its parameter values.  The cache is keyed by the
 * PlannedStmt's address and each entry is dropped by a reset callback on
 * the memory context the PlannedStmt lives in (a cached plan's own
 * context, a portal's, MessageContext), so an entry lives exactly as long
 * as its plan and an address is never mistaken for a later plan's.  The
 * plan tree, range table, query id and role are compared too, and a
 * generation counter (bumped by any relcache invalidation and by changes
 * of perfaudit.tenant_column or perfaudit.seq_scan_min_rows) sends an
 * entry back to analysis when what it was derived from may have changed.
 *
 * The analysis walks the PlanState tree through planstate_tree_walker,
 * which covers init plans, subplans and every child list, so a scan hidden
 * in a CTE or a correlated subquery is seen.  For each scan of a table:
 *
 * - tenant predicates: an equality (or = ANY) between the table's tenant
 *   column (perfaudit.tenant_column) and a constant or a bound parameter
 *   ($n of a prepared statement, a PL/pgSQL variable), in the scan's filter
 *   or index conditions.  Constants are rendered once; parameters are read
 *   from each execution's values, so a generic plan is attributed like a
 *   custom one.
 * - joins: a tenant table whose tenant column is equated, by a join clause
 *   or a nested-loop parameter, to the tenant column of a tenant-scoped
 *   table is scoped too (the value reaches it through the join), followed
 *   transitively.  A join between two unscoped tenant tables scopes
 *   neither.  The planner already turns "a.org = b.org AND b.org = 5" into
 *   a constant predicate on both scans, so this matters for the cases it
 *   cannot: nested-loop parameters, join clauses of a scoped driving table.
 *   A tenant column compared with a value computed by a subquery (an init
 *   plan or a correlated subplan parameter) counts as scoped: the value is
 *   one row's, not all tenants'.
 * - unscoped_tenant_query: a tenant table scanned without any of the
 *   above, unless a row-level-security policy applies to the executing
 *   role (superusers and BYPASSRLS roles bypass it, and so are unscoped).
 * - seq_scan: a sequential scan of a table with at least
 *   perfaudit.seq_scan_min_rows rows (pg_class.reltuples; for a table never
 *   analyzed, its live rows as the cumulative statistics count them, with
 *   this backend's own unreported and in-transaction changes: never its
 *   size in blocks, which counts the dead space of rolled-back work), with
 *   a CREATE INDEX suggestion
 *   from its equality filter columns, tenant column first.  Not for system
 *   catalogs, which cannot take an index (still counted in seq_scans).
 *
 * Per-relation facts (tenant column number, qualified name, row estimate)
 * are cached too, and dropped on relcache invalidation.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "catalog/partition.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "facts.h"
#include "guc.h"
#include "plan_inspect.h"
#include "stmtid.h"
#include "tenant.h"
#include "text.h"

/* ----------------------------------------------------------------
 * Relation facts
 * ----------------------------------------------------------------
 */

typedef struct PaRelInfo
{
	Oid			relid;			/* hash key */
	bool		valid;
	AttrNumber	tenant_attnum;	/* InvalidAttrNumber: not a tenant table */
	Oid			tenant_type;	/* its type */
	Oid			named_by;		/* the relation qualname names: this one, or
								 * the partitioned table of a partition */
	double		reltuples;		/* < 0: never analyzed */
	bool		rowsecurity;	/* RLS enabled on the table */
	char		qualname[2 * NAMEDATALEN + 6];
} PaRelInfo;

typedef struct PaOpInfo
{
	Oid			opno;			/* hash key */
	bool		is_equality;
} PaOpInfo;

static HTAB *pa_rel_cache = NULL;
static HTAB *pa_op_cache = NULL;
static bool pa_rel_cache_stale = false;

/* ----------------------------------------------------------------
 * Plan facts
 * ----------------------------------------------------------------
 */

/*
 * Distinct tenant values, the first PA_MAX_PLAN_TENANTS in the order found;
 * the values beyond them (not yet deduplicated) in extra, so that the
 * number of distinct tenants is known exactly (pa_set_count).  A set
 * copied from the plan's constants shares their extra array until it adds
 * to it (extra_owned).
 */
typedef struct PaTenantSet
{
	int			n;
	bool		more;			/* extra is not empty */
	const char *values[PA_MAX_PLAN_TENANTS];
	const char **extra;
	int			nextra;
	int			maxextra;
	bool		extra_owned;
} PaTenantSet;

static void
pa_set_add(PaTenantSet *set, const char *s)
{
	int			i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->values[i], s) == 0)
			return;
	if (set->n < PA_MAX_PLAN_TENANTS)
	{
		set->values[set->n++] = s;
		return;
	}
	if (!set->extra_owned || set->nextra == set->maxextra)
	{
		int			newmax = Max(16, set->maxextra * 2);
		const char **a = palloc(sizeof(char *) * newmax);

		if (set->nextra > 0)
			memcpy(a, set->extra, sizeof(char *) * set->nextra);
		set->extra = a;
		set->maxextra = newmax;
		set->extra_owned = true;
	}
	set->extra[set->nextra++] = s;
	set->more = true;
}

static int
pa_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* How many distinct tenants the set holds: complete, beyond the list too. */
static int
pa_set_count(PaTenantSet *set)
{
	int			count = set->n;
	int			i;

	if (set->nextra == 0)
		return count;
	if (!set->extra_owned)
	{
		const char **a = palloc(sizeof(char *) * set->nextra);

		memcpy(a, set->extra, sizeof(char *) * set->nextra);
		set->extra = a;
		set->maxextra = set->nextra;
		set->extra_owned = true;
	}
	qsort(set->extra, set->nextra, sizeof(char *), pa_cmp_str);
	for (i = 0; i < set->nextra; i++)
		if (i == 0 || strcmp(set->extra[i], set->extra[i - 1]) != 0)
			count++;
	return count;
}

/* A bound parameter whose value names the tenant. */
typedef struct PaParamSource
{
	int			paramid;
	bool		is_array;
} PaParamSource;

typedef struct PaPlanInfo
{
	const PlannedStmt *stmt;	/* hash key */
	bool		valid;

	/* what the analysis was done for */
	const Plan *planTree;
	const List *rtable;
	uint64		queryid;
	Oid			userid;
	bool		row_security;
	uint32		generation;

	/* whether the source text last seen with the plan has a comment */
	const char *comment_source;
	bool		has_comment;

	MemoryContext cxt;			/* owns everything below */
	int			seq_scans;
	bool		unscoped;
	char	   *facts;
	PaTenantSet consts;			/* tenant values written in the plan */
	int			nparams;		/* parameters that name the tenant */
	int			maxparams;
	PaParamSource *params;
	bool		params_more;	/* more named it than params holds, or unread values */

	/*
	 * Keyset pagination (pa_keyset_limit): ORDER BY key LIMIT n over a
	 * range predicate on key.  n is limit_const, or bound parameter
	 * limit_param (> 0); keyset false: not that shape.
	 */
	bool		keyset;
	int64		limit_const;
	int			limit_param;

	/* Where the tenants of the rows are observed (PaPlanFacts) */
	int			nobserve;
	PaObserveNode observe[PA_MAX_OBSERVED_NODES];
	bool		observe_incomplete; /* some such rows cannot be observed */

	/*
	 * Partitions pruned when the executor starts (a generic plan's Append
	 * with bound parameters): the nodes analysed are the first execution's,
	 * another may have others.  What is observed is worked out again for
	 * each execution a run captures.
	 */
	bool		prunable;
	Oid			tenant_type;
} PaPlanInfo;

static HTAB *pa_plan_cache = NULL;
static uint32 pa_plan_generation = 1;

/* The entry used last, checked before the hash table (a loop over one plan). */
static PaPlanInfo *pa_last_info = NULL;

#define PA_MAX_EQ_COLUMNS	8

/* One table scan found by the analysis. */
typedef struct PaScan
{
	Index		rti;
	PaRelInfo  *rel;
	Plan	   *plan;
	bool		parallel;		/* run in parallel workers too */

	/*
	 * Where its rows' tenant is observed (pa_scan_observe_at): obs_plan's
	 * scan tuple (the scan itself) or output column obs_attno; NULL: not.
	 */
	Plan	   *obs_plan;
	AttrNumber	obs_attno;
	bool		obs_scan_slot;
	Oid			indexid;		/* index-only scan: map index columns */
	bool		scoped;
	bool		rls_applies;
	int			neq;			/* equality filter columns, in order */
	AttrNumber	eq_attnums[PA_MAX_EQ_COLUMNS];
} PaScan;

/* A column equality between two scans (a join clause). */
typedef struct PaColumnEq
{
	Index		rti1;
	AttrNumber	att1;
	Index		rti2;
	AttrNumber	att2;
} PaColumnEq;

/* A tenant column compared with a PARAM_EXEC, or a nested-loop parameter. */
typedef struct PaExecParam
{
	int			paramno;
	Index		rti;
	AttrNumber	att;
} PaExecParam;

/* State of one analysis. */
typedef struct PaBuild
{
	QueryDesc  *queryDesc;
	PaPlanInfo *info;			/* consts and params go here */
	List	   *scans;			/* PaScan */
	List	   *eqs;			/* PaColumnEq */
	List	   *tenant_exec_params; /* PaExecParam: tenant col = $exec */
	List	   *nest_params;	/* PaExecParam: what a NestLoop sets */
	int			gather_depth;	/* below a Gather or Gather Merge */
	List	   *stack;			/* PlanState: the nodes above this one */
	List	   *pending_facts;	/* PaPendingFact */
	ModifyTable *mt;			/* the statement's UPDATE or DELETE, if any */
	StringInfoData facts;
} PaBuild;

static void
pa_rel_cache_inval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	PaRelInfo  *e;

	/* Row estimates and definitions may have changed under any plan. */
	pa_plan_generation++;
	if (pa_rel_cache == NULL)
		return;
	hash_seq_init(&status, pa_rel_cache);
	/* (a partition's entry holds its partitioned table's name) */
	while ((e = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || e->relid == relid || e->named_by != e->relid)
			e->valid = false;
}

void
pa_plan_inspect_init(void)
{
	CacheRegisterRelcacheCallback(pa_rel_cache_inval, (Datum) 0);
}

/*
 * A setting the analysis depends on changed (pa_config_generation moved):
 * every cached plan analysis and relation entry is redone.
 */
static uint32 pa_seen_config_generation = 0;

static inline void
pa_config_sync(void)
{
	if (pa_seen_config_generation != pa_config_generation)
	{
		pa_seen_config_generation = pa_config_generation;
		pa_plan_generation++;
		pa_rel_cache_stale = true;
	}
}

/* Create the relation and operator caches, or flush them when stale. */
static void
pa_rel_cache_prepare(void)
{
	PaRelInfo  *e;

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
	if (pa_rel_cache_stale)
	{
		/* perfaudit.tenant_column changed: every tenant_attnum may be wrong */
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, pa_rel_cache);
		while ((e = hash_seq_search(&status)) != NULL)
			e->valid = false;
		pa_rel_cache_stale = false;
	}
}

static PaRelInfo *
pa_rel_info(Oid relid)
{
	PaRelInfo  *e;
	bool		found;
	HeapTuple	tup;

	e = hash_search(pa_rel_cache, &relid, HASH_ENTER, &found);
	if (found && e->valid)
		return e;

	e->valid = true;
	e->tenant_attnum = get_attnum(relid, pa_tenant_column);
	e->tenant_type = e->tenant_attnum != InvalidAttrNumber ?
		get_atttype(relid, e->tenant_attnum) : InvalidOid;
	e->reltuples = -1;
	e->rowsecurity = false;
	e->named_by = relid;
	e->qualname[0] = '\0';
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
		Oid			named = relid;
		char	   *nsp = get_namespace_name(cls->relnamespace);
		char	   *name = pstrdup(NameStr(cls->relname));

		e->reltuples = cls->reltuples;
		e->rowsecurity = cls->relrowsecurity;

		/*
		 * A partition is named as its partitioned table, the one the
		 * application queries and an index is created on (for all its
		 * partitions).
		 */
		if (cls->relispartition)
		{
			List	   *ancestors = get_partition_ancestors(relid);

			if (ancestors != NIL)
				named = llast_oid(ancestors);
		}
		e->named_by = named;
		ReleaseSysCache(tup);
		if (named != relid)
		{
			char	   *rname = get_rel_name(named);

			if (rname != NULL)
			{
				nsp = get_namespace_name(get_rel_namespace(named));
				name = rname;
			}
		}
		/* (only a name of quoted, escaped multibyte characters is too long) */
		pa_clip_copy(e->qualname, quote_qualified_identifier(nsp, name),
					 sizeof(e->qualname));
	}
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

static Node *
pa_strip(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* ----------------------------------------------------------------
 * Analysis of a plan (once per plan)
 * ----------------------------------------------------------------
 */

/*
 * The table column a Var of this scan refers to, or InvalidAttrNumber.
 */
static AttrNumber
pa_scan_attnum(Node *node, PaScan *scan)
{
	Var		   *var;

	node = pa_strip(node);
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
	if (var->varno != (int) scan->rti || var->varlevelsup != 0)
		return InvalidAttrNumber;
	return var->varattno;
}

/* The plain Var entry attno of tlist stands for, or NULL. */
static Var *
pa_tlist_var(List *tlist, AttrNumber attno)
{
	Node	   *expr;

	if (attno <= 0 || attno > list_length(tlist))
		return NULL;
	expr = pa_strip((Node *) ((TargetEntry *) list_nth(tlist, attno - 1))->expr);
	return expr != NULL && IsA(expr, Var) ? (Var *) expr : NULL;
}

/*
 * The base-table column (range-table index, attribute) that a Var in an
 * expression of 'plan' stands for, following OUTER_VAR/INNER_VAR through
 * the children's target lists (joins, Hash, Sort, Material, Gather ...),
 * and a subquery scan's columns into its subquery.
 */
static bool
pa_base_column(Plan *plan, Var *var, Index *rti, AttrNumber *att)
{
	int			depth;

	for (depth = 0; depth < 64 && plan != NULL; depth++)
	{
		Plan	   *child;

		if (var->varlevelsup != 0)
			return false;
		if (var->varno == OUTER_VAR)
			child = outerPlan(plan);
		else if (var->varno == INNER_VAR)
			child = innerPlan(plan);
		else if (IsA(plan, SubqueryScan) &&
				 var->varno == (int) ((Scan *) plan)->scanrelid)
			child = ((SubqueryScan *) plan)->subplan;	/* its subquery's column */
		else if (var->varno == INDEX_VAR && IsA(plan, IndexOnlyScan))
		{
			var = pa_tlist_var(((IndexOnlyScan *) plan)->indextlist, var->varattno);
			if (var == NULL)
				return false;
			continue;			/* same plan: now a scan Var */
		}
		else if (IS_SPECIAL_VARNO(var->varno))
			return false;
		else
		{
			*rti = var->varno;
			*att = var->varattno;
			return var->varattno > 0;
		}
		if (child == NULL)
			return false;
		var = pa_tlist_var(child->targetlist, var->varattno);
		if (var == NULL)
			return false;
		plan = child;
	}
	return false;
}

/* Render a tenant value as text, in the analysis or the execution's context. */
static char *
pa_tenant_text(Datum value, Oid typid)
{
	bool		integer = typid == INT8OID || typid == INT4OID || typid == INT2OID;

	/* an integer's text goes straight into the palloc'd result */
	return (char *) pa_tenant_value_text(value, typid, InvalidOid,
										 integer ? palloc(MAXINT8LEN + 1) : NULL);
}

/*
 * Call fn for each non-null value of a scalar or an array datum; returns
 * how many values there were.
 */
typedef void (*PaValueFn) (Datum value, Oid typid, void *arg);

static int
pa_each_value(Datum value, Oid typid, bool is_array, PaValueFn fn, void *arg)
{
	ArrayType  *arr;
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				count = 0;

	if (!is_array)
	{
		fn(value, typid, arg);
		return 1;
	}
	arr = DatumGetArrayTypeP(value);
	elemtype = ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
		{
			fn(elems[i], elemtype, arg);
			count++;
		}
	return count;
}

static void
pa_add_tenant_value(Datum value, Oid typid, void *arg)
{
	pa_set_add((PaTenantSet *) arg, pa_tenant_text(value, typid));
}

/*
 * What the other side of "tenant_column = x" makes of the scan: true when
 * it scopes it.  Constants are rendered now, bound parameters remembered
 * for each execution, executor parameters resolved after the walk.
 */
static bool
pa_tenant_operand(Node *node, bool is_array, PaScan *scan, PaBuild *b)
{
	PaPlanInfo *info = b->info;

	node = pa_strip(node);
	if (node == NULL)
		return false;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		/* "= NULL" and "= ANY('{}')" match nothing: no tenant, no leak */
		if (!c->constisnull)
			(void) pa_each_value(c->constvalue, c->consttype, is_array,
								 pa_add_tenant_value, &info->consts);
		return true;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN)
	{
		int			i;

		for (i = 0; i < info->nparams; i++)
			if (info->params[i].paramid == ((Param *) node)->paramid)
				return true;
		if (info->nparams == info->maxparams)
		{
			/* repalloc keeps the array in the analysis' context */
			info->maxparams *= 2;
			info->params = repalloc(info->params, sizeof(PaParamSource) * info->maxparams);
		}
		info->params[info->nparams].paramid = ((Param *) node)->paramid;
		info->params[info->nparams].is_array = is_array;
		info->nparams++;
		return true;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC && scan != NULL)
	{
		PaExecParam *p = palloc(sizeof(PaExecParam));

		p->paramno = ((Param *) node)->paramid;
		p->rti = scan->rti;
		p->att = scan->rel->tenant_attnum;
		b->tenant_exec_params = lappend(b->tenant_exec_params, p);
		return false;			/* decided after the walk */
	}
	return false;
}

static void
pa_scan_quals(List *quals, PaScan *scan, PaBuild *b)
{
	ListCell   *lc;

	foreach(lc, quals)
	{
		Node	   *clause = (Node *) lfirst(lc);
		AttrNumber	att = InvalidAttrNumber;
		Node	   *other = NULL;
		bool		is_array = false;
		int			k;
		bool		have = false;

		if (IsA(clause, BoolExpr) && ((BoolExpr *) clause)->boolop == AND_EXPR)
		{
			pa_scan_quals(((BoolExpr *) clause)->args, scan, b);
			continue;
		}
		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2 &&
			pa_is_equality(((OpExpr *) clause)->opno))
		{
			Node	   *l = linitial(((OpExpr *) clause)->args);
			Node	   *r = lsecond(((OpExpr *) clause)->args);

			if ((att = pa_scan_attnum(l, scan)) != InvalidAttrNumber)
				other = r;
			else if ((att = pa_scan_attnum(r, scan)) != InvalidAttrNumber)
				other = l;
		}
		else if (IsA(clause, ScalarArrayOpExpr) &&
				 ((ScalarArrayOpExpr *) clause)->useOr &&
				 pa_is_equality(((ScalarArrayOpExpr *) clause)->opno))
		{
			att = pa_scan_attnum(linitial(((ScalarArrayOpExpr *) clause)->args), scan);
			other = lsecond(((ScalarArrayOpExpr *) clause)->args);
			is_array = true;
		}
		if (att == InvalidAttrNumber || att <= 0)
			continue;

		for (k = 0; k < scan->neq; k++)
			have |= scan->eq_attnums[k] == att;
		if (!have && scan->neq < PA_MAX_EQ_COLUMNS)
			scan->eq_attnums[scan->neq++] = att;

		if (att == scan->rel->tenant_attnum &&
			pa_tenant_operand(other, is_array, scan, b))
			scan->scoped = true;
	}
}

/* Remember the column equalities among a join node's clauses. */
static void
pa_join_clauses(Plan *plan, List *clauses, PaBuild *b)
{
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Node	   *clause = (Node *) lfirst(lc);
		Node	   *l,
				   *r;
		PaColumnEq	eq;

		if (IsA(clause, BoolExpr) && ((BoolExpr *) clause)->boolop == AND_EXPR)
		{
			pa_join_clauses(plan, ((BoolExpr *) clause)->args, b);
			continue;
		}
		if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2 ||
			!pa_is_equality(((OpExpr *) clause)->opno))
			continue;
		l = pa_strip(linitial(((OpExpr *) clause)->args));
		r = pa_strip(lsecond(((OpExpr *) clause)->args));
		if (l == NULL || r == NULL || !IsA(l, Var) || !IsA(r, Var))
			continue;
		if (pa_base_column(plan, (Var *) l, &eq.rti1, &eq.att1) &&
			pa_base_column(plan, (Var *) r, &eq.rti2, &eq.att2))
		{
			PaColumnEq *e = palloc(sizeof(PaColumnEq));

			*e = eq;
			b->eqs = lappend(b->eqs, e);
		}
	}
}

/*
 * A fact for the findings: one per kind and relation, a partitioned
 * table's partitions counted as the table (their rows summed), encoded
 * once the walk is done (pa_facts_encode).
 */
typedef struct PaPendingFact
{
	const char *kind;
	const char *relation;
	const char *suggestion;
	double		rows;
} PaPendingFact;

static void
pa_add_fact(PaBuild *b, const char *kind, const char *relation,
			const char *suggestion, double rows)
{
	ListCell   *lc;
	PaPendingFact *f;

	foreach(lc, b->pending_facts)
	{
		f = (PaPendingFact *) lfirst(lc);
		if (strcmp(f->kind, kind) == 0 && strcmp(f->relation, relation) == 0)
		{
			if (rows > 0)
				f->rows = Max(f->rows, 0) + rows;
			return;
		}
	}
	f = palloc(sizeof(PaPendingFact));
	f->kind = kind;
	f->relation = relation;
	f->suggestion = suggestion;
	f->rows = rows;
	b->pending_facts = lappend(b->pending_facts, f);
}

static void
pa_facts_encode(PaBuild *b)
{
	ListCell   *lc;

	foreach(lc, b->pending_facts)
	{
		PaPendingFact *f = (PaPendingFact *) lfirst(lc);

		pa_fact_append(&b->facts, f->kind, f->relation, f->suggestion, f->rows);
	}
}

/*
 * Observe a plan node's rows (PaPlanFacts.observe): its scan tuple's
 * attribute attno (a table's row as read), or its output's (the row it
 * hands an INSERT or UPDATE).  Beyond PA_MAX_OBSERVED_NODES, observation
 * is incomplete and nothing is observed.
 */
static void
pa_observe_add(PaPlanInfo *info, Plan *node, AttrNumber attno, bool scan_slot, Oid type)
{
	PaObserveNode *o;
	bool		isvarlena;

	if (info->nobserve == PA_MAX_OBSERVED_NODES)
	{
		info->observe_incomplete = true;
		return;
	}
	o = &info->observe[info->nobserve++];
	memset(o, 0, sizeof(*o));
	o->plan_node_id = node->plan_node_id;
	o->attno = attno;
	o->scan_slot = scan_slot;
	o->type = type;
	getTypeOutputInfo(type, &o->out, &isvarlena);
	o->byval = get_typbyval(type);
}

/* The (first) table a ModifyTable writes, if it is a tenant table. */
static PaRelInfo *
pa_result_tenant_rel(ModifyTable *mt, PaBuild *b)
{
	RangeTblEntry *rte = exec_rt_fetch(linitial_int(mt->resultRelations), b->queryDesc->estate);
	PaRelInfo  *rel;

	if (rte->rtekind != RTE_RELATION || !OidIsValid(rte->relid))
		return NULL;
	rel = pa_rel_info(rte->relid);
	return rel->tenant_attnum != InvalidAttrNumber ? rel : NULL;
}

/* A value the plan hands over as it is: a constant or a bound parameter. */
static bool
pa_plain_value(Node *node)
{
	node = pa_strip(node);
	return node != NULL && (IsA(node, Const) ||
							(IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN));
}

/*
 * The tenant of the rows an INSERT writes: named by the plan when they are
 * constants or bound parameters (VALUES, a bulk insert's rows), and
 * otherwise (INSERT ... SELECT, an expression) observed as the rows are
 * written, from the output of the node that produces them.  ON CONFLICT DO
 * UPDATE may write another tenant's existing row instead: neither.
 */
static void
pa_insert_values(ModifyTable *mt, PaBuild *b)
{
	Plan	   *sub = outerPlan((Plan *) mt);
	PaRelInfo  *rel;
	ListCell   *lc;

	if (sub == NULL || list_length(mt->resultRelations) != 1 ||
		mt->onConflictAction == ONCONFLICT_UPDATE ||
		(rel = pa_result_tenant_rel(mt, b)) == NULL)
		return;
	if (!OidIsValid(b->info->tenant_type))
		b->info->tenant_type = rel->tenant_type;
	foreach(lc, sub->targetlist)
	{
		TargetEntry *te = (TargetEntry *) lfirst(lc);
		Node	   *expr;
		Plan	   *values;
		ListCell   *row;
		int			col;

		if (te->resjunk || te->resno != rel->tenant_attnum)
			continue;
		expr = pa_strip((Node *) te->expr);
		if (expr != NULL && pa_plain_value(expr))
		{
			(void) pa_tenant_operand(expr, false, NULL, b);
			return;
		}

		/* A column of a VALUES list of plain values: every row's value. */
		values = IsA(sub, ValuesScan) ? sub : outerPlan(sub);
		if (expr != NULL && IsA(expr, Var) && values != NULL && IsA(values, ValuesScan) &&
			(IsA(sub, ValuesScan) ? (Index) ((Var *) expr)->varno == ((Scan *) sub)->scanrelid :
			 ((Var *) expr)->varno == OUTER_VAR))
		{
			Var		   *var = IsA(sub, ValuesScan) ? (Var *) expr :
				pa_tlist_var(values->targetlist, ((Var *) expr)->varattno);
			bool		plain = var != NULL;

			col = var != NULL ? var->varattno : 0;
			foreach(row, ((ValuesScan *) values)->values_lists)
			{
				List	   *cells = (List *) lfirst(row);

				if (!plain)
					break;
				plain = col >= 1 && col <= list_length(cells) &&
					pa_plain_value((Node *) list_nth(cells, col - 1));
			}
			if (plain)
			{
				foreach(row, ((ValuesScan *) values)->values_lists)
					(void) pa_tenant_operand((Node *) list_nth((List *) lfirst(row), col - 1),
											 false, NULL, b);
				return;
			}
		}
		pa_observe_add(b->info, sub, te->resno, false, exprType((Node *) te->expr));
		return;
	}
}

/*
 * An UPDATE that sets the tenant column writes the rows into the tenant of
 * the new value: observed from the output of the node that produces the
 * new values (its n-th column is the n-th of updateColnosLists).  The rows
 * it updates are read by a scan, observed as any other.
 */
static void
pa_update_values(ModifyTable *mt, PaBuild *b)
{
	Plan	   *sub = outerPlan((Plan *) mt);
	PaRelInfo  *rel;
	ListCell   *lc;
	int			col = 0;

	if (sub == NULL || mt->resultRelations == NIL || mt->updateColnosLists == NIL ||
		(rel = pa_result_tenant_rel(mt, b)) == NULL)
		return;
	foreach(lc, (List *) linitial(mt->updateColnosLists))
	{
		col++;
		if (lfirst_int(lc) == rel->tenant_attnum && col <= list_length(sub->targetlist))
		{
			TargetEntry *te = (TargetEntry *) list_nth(sub->targetlist, col - 1);

			pa_observe_add(b->info, sub, col, false, exprType((Node *) te->expr));
			return;
		}
	}
}

/*
 * The live rows of a table never analyzed: the cumulative statistics'
 * count, plus what this backend changed and has not reported yet (its
 * committed transactions' delta, and the current transaction's inserts and
 * deletes at every subtransaction level).  Rows of rolled-back work are
 * dead and count nowhere here.  A truncation in this transaction starts the
 * count again from what followed it.
 */
static double
pa_live_rows(Oid relid)
{
	PgStat_StatTabEntry *shared = pgstat_fetch_stat_tabentry(relid);
	PgStat_TableStatus *mine = find_tabstat_entry(relid);
	double		rows = shared != NULL ? (double) PA_TAB_LIVE_TUPLES(shared) : 0;

	if (mine != NULL)
	{
		PgStat_TableXactStatus *x;

		PgStat_TableXactStatus *levels[64];
		int			n = 0;

		rows += (double) PA_TABSTAT_DELTA_LIVE(mine);
		/* mine->trans is the innermost level: count from the outermost */
		for (x = mine->trans; x != NULL && n < (int) lengthof(levels); x = x->upper)
			levels[n++] = x;
		while (n-- > 0)
		{
			if (levels[n]->truncdropped)
				rows = 0;
			rows += (double) (levels[n]->tuples_inserted - levels[n]->tuples_deleted);
		}
	}
	return Max(rows, 0);
}

/* The CREATE INDEX a sequential scan with these filter columns suggests. */
static char *
pa_index_suggestion(const PaScan *scan)
{
	PaRelInfo  *rel = scan->rel;
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

/*
 * Does this node hand up its input rows as they are, some of them or
 * again (so a join or filter above it keeps some of the scan's rows),
 * rather than rows it computes from several (an aggregate, a window
 * function, a LIMIT that chose among all of them)?
 */
static bool
pa_passes_rows(Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_Sort:
		case T_IncrementalSort:
		case T_Material:
		case T_Memoize:
		case T_Result:
		case T_ProjectSet:
		case T_SubqueryScan:
		case T_Append:
		case T_MergeAppend:
		case T_RecursiveUnion:
		case T_Hash:
		case T_Gather:
		case T_GatherMerge:
		case T_LockRows:
			return true;
		default:
			return false;
	}
}

/* The subplan (initPlan, subPlan) of ps that child is, or NULL. */
static SubPlanState *
pa_subplan_of(PlanState *ps, PlanState *child)
{
	ListCell   *lc;

	foreach(lc, ps->initPlan)
		if (((SubPlanState *) lfirst(lc))->planstate == child)
			return (SubPlanState *) lfirst(lc);
	foreach(lc, ps->subPlan)
		if (((SubPlanState *) lfirst(lc))->planstate == child)
			return (SubPlanState *) lfirst(lc);
	return NULL;
}

/*
 * Where the tenants of the rows a tenant-table scan reads are observed, if
 * it is read without a tenant predicate (pa_observe_scans).  What counts
 * is the rows the statement uses: the scan's own when they go up to the
 * top (through sorts, aggregates, limits, appends) or to the INSERT,
 * UPDATE or DELETE above; below a join or a filter (a subquery's WHERE
 * that could not be pushed into it), only those it keeps, as the topmost
 * such node's output carries them (a hash join reads the whole other
 * table to keep a few of its rows: those few are the statement's) -- as
 * long as no node between combined rows (a window function over every
 * tenant's rows, then filtered to one: all of them were used).  A
 * recursive CTE's rows (a tree walked up or down) are the statement's.  A
 * scan in a subquery that filters the outer query (EXISTS, IN, another
 * CTE, which the outer query may filter), or below a join that does not
 * output its tenant column, is not observed.
 */
static void
pa_scan_observe_at(PlanState *ps, PaScan *scan, PaBuild *b)
{
	PlanState  *child = ps;
	Plan	   *join = NULL;
	bool		passing = true;
	int			i;

	scan->obs_plan = NULL;
	for (i = list_length(b->stack) - 1; i >= 0; i--)
	{
		PlanState  *up = (PlanState *) list_nth(b->stack, i);
		SubPlanState *sub = pa_subplan_of(up, child);

		if (sub != NULL)
		{
			if (sub->subplan->subLinkType == CTE_SUBLINK &&
				IsA(child->plan, RecursiveUnion))
				break;
			return;
		}
		if (IsA(up->plan, ModifyTable))
			break;
		if (passing)
		{
			/*
			 * A join, or a node that filters what comes up (a subquery's
			 * WHERE): the rows it keeps are the statement's, unless a node
			 * below it combined them first.
			 */
			if (IsA(up->plan, NestLoop) || IsA(up->plan, HashJoin) ||
				IsA(up->plan, MergeJoin) || (up->plan->qual != NIL && pa_passes_rows(up->plan)))
				join = up->plan;
			else if (!pa_passes_rows(up->plan))
				passing = false;
		}
		child = up;
	}
	if (join == NULL)
	{
		scan->obs_plan = ps->plan;
		scan->obs_attno = scan->rel->tenant_attnum;
		scan->obs_scan_slot = true;
		return;
	}
	i = 0;
	{
		ListCell   *lc;

		foreach(lc, join->targetlist)
		{
			TargetEntry *te = (TargetEntry *) lfirst(lc);
			Node	   *expr = pa_strip((Node *) te->expr);
			Index		rti;
			AttrNumber	att;

			i++;
			if (expr != NULL && IsA(expr, Var) &&
				pa_base_column(join, (Var *) expr, &rti, &att) &&
				rti == scan->rti && att == scan->rel->tenant_attnum)
			{
				scan->obs_plan = join;
				scan->obs_attno = i;
				scan->obs_scan_slot = false;
				return;
			}
		}
	}
}

static bool
pa_build_walker(PlanState *ps, void *context)
{
	PaBuild    *b = (PaBuild *) context;
	Plan	   *plan;
	Index		scanrelid = 0;

	if (ps == NULL)
		return false;
	plan = ps->plan;

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
		case T_NestLoop:
			{
				ListCell   *lc;

				foreach(lc, ((NestLoop *) plan)->nestParams)
				{
					NestLoopParam *nlp = (NestLoopParam *) lfirst(lc);
					PaExecParam *p = palloc(sizeof(PaExecParam));

					p->paramno = nlp->paramno;
					if (pa_base_column(plan, nlp->paramval, &p->rti, &p->att))
						b->nest_params = lappend(b->nest_params, p);
				}
				pa_join_clauses(plan, ((Join *) plan)->joinqual, b);
				pa_join_clauses(plan, plan->qual, b);
			}
			break;
		case T_HashJoin:
			pa_join_clauses(plan, ((HashJoin *) plan)->hashclauses, b);
			pa_join_clauses(plan, ((Join *) plan)->joinqual, b);
			pa_join_clauses(plan, plan->qual, b);
			break;
		case T_ModifyTable:
			if (((ModifyTable *) plan)->operation == CMD_INSERT)
				pa_insert_values((ModifyTable *) plan, b);
			else if (((ModifyTable *) plan)->operation == CMD_UPDATE)
				pa_update_values((ModifyTable *) plan, b);
			if ((((ModifyTable *) plan)->operation == CMD_UPDATE ||
				 ((ModifyTable *) plan)->operation == CMD_DELETE) && b->mt == NULL)
				b->mt = (ModifyTable *) plan;
			break;
		case T_Gather:
		case T_GatherMerge:
			/* what runs below runs in the workers too */
			b->gather_depth++;
			break;
		case T_Append:
			if (((Append *) plan)->part_prune_info != NULL)
				b->info->prunable = true;
			break;
		case T_MergeAppend:
			if (((MergeAppend *) plan)->part_prune_info != NULL)
				b->info->prunable = true;
			break;
		case T_MergeJoin:
			pa_join_clauses(plan, ((MergeJoin *) plan)->mergeclauses, b);
			pa_join_clauses(plan, ((Join *) plan)->joinqual, b);
			pa_join_clauses(plan, plan->qual, b);
			break;
		default:
			break;
	}

	if (scanrelid > 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(scanrelid, b->queryDesc->estate);

		if (rte->rtekind == RTE_RELATION && OidIsValid(rte->relid))
		{
			PaScan	   *scan = palloc0(sizeof(PaScan));

			scan->rti = scanrelid;
			scan->rel = pa_rel_info(rte->relid);
			scan->plan = plan;
			scan->parallel = b->gather_depth > 0 || plan->parallel_aware;
			if (scan->rel->tenant_attnum != InvalidAttrNumber)
				pa_scan_observe_at(ps, scan, b);
			if (!OidIsValid(b->info->tenant_type))
				b->info->tenant_type = scan->rel->tenant_type;
			pa_scan_quals(plan->qual, scan, b);
			if (IsA(plan, IndexScan))
				pa_scan_quals(((IndexScan *) plan)->indexqualorig, scan, b);
			else if (IsA(plan, BitmapHeapScan))
				pa_scan_quals(((BitmapHeapScan *) plan)->bitmapqualorig, scan, b);
			else if (IsA(plan, IndexOnlyScan))
			{
				scan->indexid = ((IndexOnlyScan *) plan)->indexid;
				pa_scan_quals(((IndexOnlyScan *) plan)->indexqual, scan, b);
			}
			scan->rls_applies = scan->rel->rowsecurity &&
				check_enable_rls(rte->relid, InvalidOid, true) == RLS_ENABLED;
			b->scans = lappend(b->scans, scan);

			if (IsA(plan, SeqScan))
			{
				double		rows = scan->rel->reltuples;

				b->info->seq_scans++;
				if (rows < 0)
					rows = pa_live_rows(rte->relid);
				/* System catalogs cannot take the suggested index. */
				if (rows >= pa_seq_scan_min_rows && !IsCatalogRelationOid(rte->relid))
					pa_add_fact(b, "seq_scan", scan->rel->qualname,
								pa_index_suggestion(scan), rows);
			}
		}
	}

	{
		bool		result;

		b->stack = lappend(b->stack, ps);
		result = planstate_tree_walker(ps, pa_build_walker, context);
		b->stack = list_delete_last(b->stack);
		if (IsA(plan, Gather) || IsA(plan, GatherMerge))
			b->gather_depth--;
		return result;
	}
}

static PaScan *
pa_find_scan(List *scans, Index rti)
{
	ListCell   *lc;

	foreach(lc, scans)
		if (((PaScan *) lfirst(lc))->rti == rti)
			return (PaScan *) lfirst(lc);
	return NULL;
}

/* Is this column the tenant column of a tenant table scanned in the plan? */
static PaScan *
pa_tenant_scan(List *scans, Index rti, AttrNumber att)
{
	PaScan	   *s = pa_find_scan(scans, rti);

	return s != NULL && s->rel->tenant_attnum != InvalidAttrNumber &&
		s->rel->tenant_attnum == att ? s : NULL;
}

/*
 * After the walk: tenant columns compared with executor parameters, and
 * scoping carried along tenant-column joins, to a fixed point.
 */
static void
pa_resolve_scoping(PaBuild *b)
{
	ListCell   *lc;
	bool		changed;

	foreach(lc, b->tenant_exec_params)
	{
		PaExecParam *tp = (PaExecParam *) lfirst(lc);
		ListCell   *lc2;
		bool		from_join = false;

		foreach(lc2, b->nest_params)
		{
			PaExecParam *np = (PaExecParam *) lfirst(lc2);

			if (np->paramno == tp->paramno)
			{
				PaColumnEq *e = palloc(sizeof(PaColumnEq));

				e->rti1 = tp->rti;
				e->att1 = tp->att;
				e->rti2 = np->rti;
				e->att2 = np->att;
				b->eqs = lappend(b->eqs, e);
				from_join = true;
			}
		}
		if (!from_join)
		{
			/* an init plan's or a correlated subplan's value: one row's */
			PaScan	   *s = pa_find_scan(b->scans, tp->rti);

			if (s != NULL)
				s->scoped = true;
		}
	}

	do
	{
		changed = false;
		foreach(lc, b->eqs)
		{
			PaColumnEq *e = (PaColumnEq *) lfirst(lc);
			PaScan	   *s1 = pa_tenant_scan(b->scans, e->rti1, e->att1);
			PaScan	   *s2 = pa_tenant_scan(b->scans, e->rti2, e->att2);

			if (s1 != NULL && s2 != NULL && s1->scoped != s2->scoped)
			{
				s1->scoped = s2->scoped = true;
				changed = true;
			}
		}
	} while (changed);
}

static void
pa_plan_forget(void *arg)
{
	const PlannedStmt *stmt = (const PlannedStmt *) arg;
	PaPlanInfo *info;

	if (pa_plan_cache == NULL)
		return;
	info = hash_search(pa_plan_cache, &stmt, HASH_FIND, NULL);
	if (info == NULL)
		return;
	if (info == pa_last_info)
		pa_last_info = NULL;
	if (info->cxt != NULL)
		MemoryContextDelete(info->cxt);
	(void) hash_search(pa_plan_cache, &stmt, HASH_REMOVE, NULL);
}

/* Is opno one of <, <=, >, >= (a range bound)? */
static bool
pa_is_range_op(Oid opno)
{
	char	   *name = get_opname(opno);

	return name != NULL &&
		(strcmp(name, "<") == 0 || strcmp(name, "<=") == 0 ||
		 strcmp(name, ">") == 0 || strcmp(name, ">=") == 0);
}

/* Does one of quals bound column (rti, att) of plan with a range operator? */
static bool
pa_has_range_qual(Plan *plan, List *quals, Index rti, AttrNumber att)
{
	ListCell   *lc;

	foreach(lc, quals)
	{
		Node	   *clause = (Node *) lfirst(lc);
		int			side;

		if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2 ||
			!pa_is_range_op(((OpExpr *) clause)->opno))
			continue;
		for (side = 0; side < 2; side++)
		{
			Node	   *arg = pa_strip((Node *) list_nth(((OpExpr *) clause)->args, side));
			Index		r;
			AttrNumber	a;

			if (arg != NULL && IsA(arg, Var) &&
				pa_base_column(plan, (Var *) arg, &r, &a) && r == rti && a == att)
				return true;
		}
	}
	return false;
}

/* The first key column of index indexid, or InvalidAttrNumber. */
static AttrNumber
pa_index_first_column(Oid indexid)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	AttrNumber	att = InvalidAttrNumber;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_index idx = (Form_pg_index) GETSTRUCT(tup);

		if (idx->indnkeyatts > 0)
			att = idx->indkey.values[0];
		ReleaseSysCache(tup);
	}
	return att;
}

/*
 * Keyset pagination, the way ORMs read a table in batches (Rails
 * find_each, Django filter(id__gt=last).order_by('id')[:n]): the plan's
 * top is LIMIT n (a constant or a bound parameter, no OFFSET) over rows
 * ordered by a column -- a Sort on it, or an index scan whose first
 * column it is -- with a range predicate (<, <=, >, >=) on that column.
 */
static void
pa_keyset_limit(PlannedStmt *stmt, PaPlanInfo *info)
{
	Plan	   *top = stmt->planTree;
	Limit	   *limit;
	Plan	   *child;
	Node	   *count;
	Index		rti = 0;
	AttrNumber	att = InvalidAttrNumber;

	info->keyset = false;
	if (top == NULL || !IsA(top, Limit))
		return;
	limit = (Limit *) top;
	if (limit->limitOffset != NULL || limit->limitCount == NULL)
		return;
	count = pa_strip(limit->limitCount);
	if (count != NULL && IsA(count, FuncExpr) &&
		list_length(((FuncExpr *) count)->args) == 1)
		count = pa_strip((Node *) linitial(((FuncExpr *) count)->args));	/* a cast */
	if (count == NULL)
		return;
	if (IsA(count, Const) && !((Const *) count)->constisnull &&
		(((Const *) count)->consttype == INT8OID || ((Const *) count)->consttype == INT4OID))
		info->limit_const = ((Const *) count)->consttype == INT8OID ?
			DatumGetInt64(((Const *) count)->constvalue) :
			DatumGetInt32(((Const *) count)->constvalue);
	else if (IsA(count, Param) && ((Param *) count)->paramkind == PARAM_EXTERN)
		info->limit_param = ((Param *) count)->paramid;
	else
		return;

	child = outerPlan(top);
	while (child != NULL && (IsA(child, Gather) || IsA(child, GatherMerge) ||
							 IsA(child, Result)) && outerPlan(child) != NULL)
		child = outerPlan(child);
	if (child == NULL)
		return;
	if (IsA(child, Sort) && ((Sort *) child)->numCols > 0)
	{
		Var		   *key = pa_tlist_var(child->targetlist, ((Sort *) child)->sortColIdx[0]);

		if (key == NULL || !pa_base_column(child, key, &rti, &att))
			return;
		child = outerPlan(child);
		while (child != NULL && (IsA(child, Gather) || IsA(child, Result)) &&
			   outerPlan(child) != NULL)
			child = outerPlan(child);
		if (child == NULL)
			return;
	}
	else if (IsA(child, IndexScan) || IsA(child, IndexOnlyScan))
	{
		Oid			indexid = IsA(child, IndexScan) ? ((IndexScan *) child)->indexid :
			((IndexOnlyScan *) child)->indexid;

		rti = ((Scan *) child)->scanrelid;
		att = pa_index_first_column(indexid);
	}
	else
		return;
	if (rti == 0 || att == InvalidAttrNumber)
		return;

	/* The range predicate, in the scan under the ordering. */
	if (!(IsA(child, SeqScan) || IsA(child, IndexScan) || IsA(child, IndexOnlyScan) ||
		  IsA(child, BitmapHeapScan)) || ((Scan *) child)->scanrelid != rti)
		return;
	info->keyset = pa_has_range_qual(child, child->qual, rti, att) ||
		(IsA(child, IndexScan) &&
		 pa_has_range_qual(child, ((IndexScan *) child)->indexqualorig, rti, att)) ||
		(IsA(child, IndexOnlyScan) &&
		 pa_has_range_qual(child, ((IndexOnlyScan *) child)->indexqual, rti, att)) ||
		(IsA(child, BitmapHeapScan) &&
		 pa_has_range_qual(child, ((BitmapHeapScan *) child)->bitmapqualorig, rti, att));
}

/*
 * A statement that reads a tenant table without a tenant predicate
 * (unscoped) may still read one tenant's rows only: a lazy foreign-key
 * load by primary key reads the row of its organization, an UPDATE or
 * DELETE by primary key the row it changes.  Each such scan's rows are
 * observed as they are read (hooks.c): the tenant column of the scan
 * tuple, the table's row as read (an index-only scan's is the index's
 * columns).  Rows read in parallel workers are not seen, nor is a column
 * an index-only scan does not hold: then nothing is observed, rather than
 * a part that would look like the whole.
 */
/*
 * The target of an UPDATE or DELETE whose scan cannot be observed (below a
 * join: UPDATE ... FROM, DELETE ... USING; an index-only scan): the rows it
 * changes are fetched by the ctid the join hands up, from the one table it
 * changes (not a partitioned or inherited one).  True when so observed.
 */
static bool
pa_observe_target(PaBuild *b, PaPlanInfo *info, PaScan *s)
{
	ModifyTable *mt = b->mt;
	Plan	   *sub;
	ListCell   *lc;
	int			col = 0;

	if (mt == NULL || list_length(mt->resultRelations) != 1 ||
		(Index) linitial_int(mt->resultRelations) != s->rti || s->parallel ||
		get_rel_relkind(s->rel->relid) != RELKIND_RELATION)
		return false;
	sub = outerPlan((Plan *) mt);
	if (sub == NULL)
		return false;
	foreach(lc, sub->targetlist)
	{
		TargetEntry *te = (TargetEntry *) lfirst(lc);

		col++;
		if (te->resjunk && te->resname != NULL && strcmp(te->resname, "ctid") == 0)
		{
			pa_observe_add(info, sub, col, false, s->rel->tenant_type);
			if (info->nobserve > 0 && !info->observe_incomplete)
			{
				PaObserveNode *o = &info->observe[info->nobserve - 1];

				o->by_ctid = true;
				o->mt_plan_node_id = ((Plan *) mt)->plan_node_id;
				o->fetch_attno = s->rel->tenant_attnum;
			}
			return true;
		}
	}
	return false;
}

static void
pa_observe_scans(PaBuild *b, PaPlanInfo *info)
{
	ListCell   *lc;

	foreach(lc, b->scans)
	{
		PaScan	   *s = (PaScan *) lfirst(lc);
		AttrNumber	attno = s->rel->tenant_attnum;

		if (attno == InvalidAttrNumber || s->scoped || s->rls_applies)
			continue;
		if (s->obs_plan == NULL && pa_observe_target(b, info, s))
			continue;
		if (s->parallel || s->obs_plan == NULL)
		{
			info->observe_incomplete = true;
			return;
		}
		if (!s->obs_scan_slot)
		{
			int			k;
			bool		dup = false;

			for (k = 0; k < info->nobserve; k++)
				dup |= info->observe[k].plan_node_id == s->obs_plan->plan_node_id &&
					info->observe[k].attno == s->obs_attno && !info->observe[k].scan_slot;
			if (!dup)
				pa_observe_add(info, s->obs_plan, s->obs_attno, false, s->rel->tenant_type);
			continue;
		}
		if (IsA(s->plan, IndexOnlyScan))
		{
			HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(s->indexid));
			int			k;

			attno = InvalidAttrNumber;
			if (HeapTupleIsValid(tup))
			{
				Form_pg_index idx = (Form_pg_index) GETSTRUCT(tup);

				for (k = 0; k < idx->indnatts; k++)
					if (idx->indkey.values[k] == s->rel->tenant_attnum)
					{
						attno = k + 1;
						break;
					}
				ReleaseSysCache(tup);
			}
			if (attno == InvalidAttrNumber)
			{
				if (pa_observe_target(b, info, s))
					continue;
				info->observe_incomplete = true;
				return;
			}
		}
		pa_observe_add(info, s->plan, attno, true, s->rel->tenant_type);
	}
}

/* Analyse a plan into info (its cxt already empty). */
static void
pa_plan_analyse(QueryDesc *queryDesc, PaPlanInfo *info)
{
	MemoryContext old = MemoryContextSwitchTo(info->cxt);
	MemoryContext tmp;
	PaBuild		b;
	ListCell   *lc;
	List	   *done = NIL;

	info->seq_scans = 0;
	info->unscoped = false;
	info->facts = NULL;
	memset(&info->consts, 0, sizeof(info->consts));
	info->nparams = 0;
	info->params_more = false;
	info->keyset = false;
	info->limit_const = 0;
	info->limit_param = 0;
	info->nobserve = 0;
	info->observe_incomplete = false;
	info->prunable = false;
	info->tenant_type = InvalidOid;
	info->maxparams = PA_MAX_PLAN_TENANTS;
	info->params = palloc(sizeof(PaParamSource) * info->maxparams);

	/* The walk's own lists and strings go in a scratch context. */
	tmp = AllocSetContextCreate(CurrentMemoryContext, "pg_perfaudit plan analysis",
								ALLOCSET_SMALL_SIZES);
	memset(&b, 0, sizeof(b));
	b.queryDesc = queryDesc;
	b.info = info;
	MemoryContextSwitchTo(tmp);
	initStringInfo(&b.facts);
	pa_rel_cache_prepare();

	/* Constants are rendered in tmp too, and copied into cxt at the end. */
	(void) pa_build_walker(queryDesc->planstate, &b);
	pa_resolve_scoping(&b);
	pa_keyset_limit(queryDesc->plannedstmt, info);

	foreach(lc, b.scans)
	{
		PaScan	   *s = (PaScan *) lfirst(lc);

		if (s->rel->tenant_attnum == InvalidAttrNumber || s->scoped ||
			s->rls_applies || list_member_oid(done, s->rel->relid))
			continue;
		done = lappend_oid(done, s->rel->relid);
		info->unscoped = true;
		pa_add_fact(&b, "unscoped_tenant_query", s->rel->qualname, NULL,
					s->rel->reltuples);
	}
	pa_facts_encode(&b);

	pa_observe_scans(&b, info);
	if (info->observe_incomplete)
		info->nobserve = 0;

	MemoryContextSwitchTo(info->cxt);
	if (b.facts.len > 0)
		info->facts = pstrdup(b.facts.data);
	{
		int			i;

		for (i = 0; i < info->consts.n; i++)
			info->consts.values[i] = pstrdup(info->consts.values[i]);
		if (info->consts.nextra > 0)
		{
			const char **a = palloc(sizeof(char *) * info->consts.nextra);

			for (i = 0; i < info->consts.nextra; i++)
				a[i] = pstrdup(info->consts.extra[i]);
			info->consts.extra = a;
			info->consts.maxextra = info->consts.nextra;
		}
		/* Executions copy the set: they must not append to this array. */
		info->consts.extra_owned = false;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/* The analysed facts of this plan, analysing it if needed. */
static PaPlanInfo *
pa_plan_info(QueryDesc *queryDesc, bool capturing)
{
	const PlannedStmt *stmt = queryDesc->plannedstmt;
	PaPlanInfo *info;
	bool		found;

	if (pa_plan_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(const PlannedStmt *);
		ctl.entrysize = sizeof(PaPlanInfo);
		pa_plan_cache = hash_create("pg_perfaudit plans", 64, &ctl,
									HASH_ELEM | HASH_BLOBS);
	}

	if (pa_last_info != NULL && pa_last_info->stmt == stmt)
	{
		info = pa_last_info;
		found = true;
	}
	else
		info = hash_search(pa_plan_cache, &stmt, HASH_FIND, &found);
	pa_last_info = found ? info : NULL;
	if (found && info->valid &&
		info->generation == pa_plan_generation &&
		info->planTree == stmt->planTree &&
		info->rtable == stmt->rtable &&
		info->queryid == PA_QUERYID(stmt) &&
		info->userid == GetUserId() &&
		info->row_security == row_security &&
		!(capturing && info->prunable))
		return info;

	if (!found)
	{
		/*
		 * The callback that drops the entry with its plan is allocated in
		 * the plan's context before the entry exists, and registered right
		 * after (which cannot fail): there is never an entry without one.
		 */
		MemoryContext plancxt = GetMemoryChunkContext((void *) stmt);
		MemoryContextCallback *cb = MemoryContextAlloc(plancxt,
													   sizeof(MemoryContextCallback));

		cb->func = pa_plan_forget;
		cb->arg = (void *) stmt;
		info = hash_search(pa_plan_cache, &stmt, HASH_ENTER, NULL);
		info->cxt = NULL;
		info->valid = false;
		MemoryContextRegisterResetCallback(plancxt, cb);
	}
	if (info->cxt != NULL)
		MemoryContextReset(info->cxt);
	else
		info->cxt = AllocSetContextCreate(TopMemoryContext, "pg_perfaudit plan facts",
										  ALLOCSET_SMALL_SIZES);

	/* Invalid until the analysis completes: an error leaves it invalid. */
	info->valid = false;
	pa_plan_analyse(queryDesc, info);
	info->planTree = stmt->planTree;
	info->rtable = stmt->rtable;
	info->queryid = PA_QUERYID(stmt);
	info->userid = GetUserId();
	info->row_security = row_security;
	info->generation = pa_plan_generation;
	info->comment_source = NULL;
	info->valid = true;
	pa_last_info = info;
	return info;
}

/* The LIMIT of a keyset-pagination plan for this execution; 0: unknown. */
static int64
pa_limit_value(QueryDesc *queryDesc, PaPlanInfo *info)
{
	ParamListInfo params = queryDesc->params;
	ParamExternData workspace;
	ParamExternData *prm;
	int			id = info->limit_param;

	if (id == 0)
		return Max(info->limit_const, 0);
	if (params == NULL || id <= 0 || id > params->numParams)
		return 0;
	prm = params->paramFetch ? params->paramFetch(params, id, true, &workspace) :
		&params->params[id - 1];
	if (prm == NULL || prm->isnull)
		return 0;
	switch (prm->ptype)
	{
		case INT8OID:
			return Max(DatumGetInt64(prm->value), 0);
		case INT4OID:
			return Max(DatumGetInt32(prm->value), 0);
		case INT2OID:
			return Max(DatumGetInt16(prm->value), 0);
		default:
			return 0;
	}
}

/* ----------------------------------------------------------------
 * Per execution
 * ----------------------------------------------------------------
 */

void
pa_inspect_plan(QueryDesc *queryDesc, PaPlanFacts *facts, bool *has_comment,
				bool capturing)
{
	PaPlanInfo *info;
	PaTenantSet set;
	int			i;

	pa_config_sync();
	info = pa_plan_info(queryDesc, capturing);

	/*
	 * A plan is executed with the source text it was made from (a cached
	 * plan's, a portal's, the message's), which lives as long as the plan:
	 * whether it has a comment is worked out once per text.
	 */
	if (info->comment_source != queryDesc->sourceText)
	{
		info->comment_source = queryDesc->sourceText;
		info->has_comment = queryDesc->sourceText != NULL &&
			strstr(queryDesc->sourceText, "/*") != NULL;
	}
	*has_comment = info->has_comment;

	facts->seq_scans = info->seq_scans;
	facts->unscoped = info->unscoped;
	facts->facts = info->facts;
	facts->tenant = NULL;
	facts->tenant_count = 0;
	facts->cross_tenant = false;
	facts->batch_limit = info->keyset ? pa_limit_value(queryDesc, info) : 0;
	facts->nobserve = info->nobserve;
	facts->observe = info->observe;
	facts->tenant_type = info->tenant_type;
	if (info->consts.n == 0 && !info->consts.more && info->nparams == 0)
		return;

	set = info->consts;
	for (i = 0; i < info->nparams; i++)
	{
		ParamListInfo params = queryDesc->params;
		int			id = info->params[i].paramid;
		ParamExternData workspace;
		ParamExternData *prm;

		if (params == NULL || id <= 0 || id > params->numParams)
			continue;
		prm = params->paramFetch ?
			params->paramFetch(params, id, true, &workspace) :
			&params->params[id - 1];
		if (prm == NULL || prm->isnull || !OidIsValid(prm->ptype))
			continue;
		(void) pa_each_value(prm->value, prm->ptype, info->params[i].is_array,
							 pa_add_tenant_value, &set);
	}

	facts->tenant_count = pa_set_count(&set);
	/* info->params_more: not every value was read, and the list says so */
	if (facts->tenant_count == 1 && !info->params_more)
		facts->tenant = set.values[0];
	else if (set.n > 0)
	{
		/*
		 * Several tenants are listed, in the order found, comma-separated,
		 * as many whole values as fit in a tenant (PA_MAX_TENANT_LEN bytes);
		 * a list that does not hold them all ends in ",..." (and
		 * tenant_count says how many there are).
		 */
		facts->tenant = pa_tenant_list(set.values, set.n,
									   set.n == facts->tenant_count && !info->params_more);
		facts->cross_tenant = facts->tenant_count > 1;
	}
}
