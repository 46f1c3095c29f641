/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		Planner, executor and ProcessUtility hooks: measure each statement
 *		execution and hand it to the capture runs it belongs to.
 *
 * Every hook chains to the previously installed one (or the standard
 * function) exactly once.  The nesting level is raised around the
 * planner, ExecutorRun, ExecutorFinish and ProcessUtility and restored in
 * PG_FINALLY, so that an error anywhere leaves it right for the next
 * statement.
 *
 * Per-query state is kept per QueryDesc, never in a single "current query"
 * global: cursors, PL/pgSQL FOR loops and extended-protocol portals start
 * and end executors out of order.  The states are pooled in
 * TopMemoryContext (pa_free_states) and tied to the executor's memory
 * context (es_query_cxt) by a reset callback that takes a state off the
 * open list and back to the pool, so a query that never reaches
 * ExecutorEnd (an error, a portal dropped at abort) leaves nothing behind.
 *
 * Whether a statement is measured is asked in one place, pa_measure_wanted():
 * tracking on, not the extension's own SQL, not a parallel worker, and then
 * wanted by the tenant statistics or by a capture run.  When nothing is
 * being captured or counted, the hooks do a few loads and compares and
 * pass through: no allocation, no instrumentation, no lock.  Parallel
 * workers never record anything (their leader counts the query once), and
 * neither does SQL that pg_perfaudit runs itself.
 *
 * What counts as a statement: every executor run (SELECT, INSERT, UPDATE,
 * DELETE, MERGE; EXPLAIN without ANALYZE is not an execution), and every
 * utility statement except transaction control (BEGIN, COMMIT, ROLLBACK,
 * SAVEPOINT, ...) and SET/RESET.  EXECUTE is counted through the executor
 * run of the prepared statement (at the EXECUTE's own level), and PREPARE
 * and DEALLOCATE are not statements that touch data, as in
 * pg_stat_statements.  The statements run inside a utility statement
 * (CREATE TABLE AS, EXPLAIN ANALYZE, DO, CALL, COPY (query)) are nested.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "common/hashfn.h"
#include "executor/instrument.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/scansup.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "catalog/pg_type.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/ruleutils.h"

#include "guc.h"
#include "hooks.h"
#include "plan_inspect.h"
#include "runbuf.h"
#include "stmtid.h"
#include "tenant.h"
#include "tenant_stats.h"

/* Distinct tenants kept per observed execution; more end the list in ",...". */
#define PA_MAX_OBSERVED		8
/* Distinct values beyond them that are still counted exactly. */
#define PA_MAX_OBSERVED_EXTRA	10000

int			pa_nesting_level = 0;
static int	pa_internal_depth = 0;
static PaExecObserver *pa_observer = NULL;

static planner_hook_type prev_planner = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * One tenant column value read per row of an observed plan node
 * (PaObserveNode): the rows of one tenant follow each other, and the last
 * value's rendering is remembered (by value types).
 */
typedef struct PaObsRead
{
	AttrNumber	attno;
	bool		scan_slot;
	bool		by_ctid;		/* attno is a ctid: fetch the row from fetch_rel */
	AttrNumber	fetch_attno;
	Relation	fetch_rel;
	TupleTableSlot *fetch_slot;
	bool		byval;
	bool		have_last;
	bool		last_foreign;
	int			last_idx;		/* obs_values index of last, or -1 */
	Oid			type;
	Oid			out;
	Datum		last;
} PaObsRead;

/*
 * A plan node whose rows are observed: its ExecProcNodeReal is
 * pa_obs_exec, which calls real and does the n reads obs_reads[reads[i]]
 * of its query's state on each row.  Put back before the state goes.
 */
typedef struct PaObsNode
{
	PlanState  *ps;
	ExecProcNodeMtd real;
	int			n;
	uint8		reads[PA_MAX_OBSERVED_NODES];
} PaObsNode;

/*
 * State of one measured executor run, in its es_query_cxt: for the tenant
 * statistics, for capture runs (runs.n > 0), or both.
 */
typedef struct PaQueryState
{
	dlist_node	node;
	bool		linked;
	bool		stats;			/* goes into the tenant statistics */
	QueryDesc  *queryDesc;
	Oid			userid;			/* the role it started as */
	PaRunIds	runs;
	int16		level;
	uint64		queryid;
	uint64		param_hash;
	double		plan_ms;
	uint64		rows;			/* summed over ExecutorRun calls */
	const char *text;			/* statement text within sourceText */
	int			text_len;
	const char *tenant;			/* NULL, context_tenant or the plan's */
	int			tenant_count;	/* distinct tenants in tenant */
	PaPlanFacts facts;
	MemoryContextCallback cb;
	bool		acting;			/* tenant is context_tenant: the acting tenant */
	bool		is_cursor;		/* a DECLARE'd cursor's query */
	bool		ran;			/* an ExecutorRun of it completed */
	/*
	 * Timing and buffer counts when no other module asked for
	 * queryDesc->totaltime (own_timing): summed over its ExecutorRun and
	 * ExecutorFinish calls, as standard_ExecutorRun sums into totaltime;
	 * running while one of them has not returned (it failed when it stays
	 * set).  Two counters and a clock read, not InstrStartNode's copies of
	 * every buffer and WAL counter.
	 */
	bool		own_timing;
	bool		running;
	instr_time	run_start;
	instr_time	total_time;
	int64		run_hit;		/* pgBufferUsage at run_start */
	int64		run_read;
	int64		blks_hit;
	int64		blks_read;
	PaObsTally *tally;			/* observed for an observer only, into this */

	/*
	 * Observed tenants (runs only): the tenant column values of the rows
	 * the plan nodes of PaPlanFacts.observe read or hand to a write,
	 * distinct, the first PA_MAX_OBSERVED of them; rows_foreign counts the
	 * rows of another tenant than the acting one.
	 */
	int			obs_nnodes;		/* 0: not observed */
	int			obs_n;
	bool		obs_more;
	int64		rows_foreign;
	int			obs_extra;		/* distinct values beyond obs_values, counted */
	HTAB	   *obs_extra_values;	/* ... up to PA_MAX_OBSERVED_EXTRA */
	MemoryContext obs_cxt;		/* where obs_extra_values goes */
	char		context_tenant[PA_MAX_TENANT_LEN + 1];
	/* not cleared per query: valid as far as obs_nnodes and obs_n say */
	PaObsNode	obs_nodes[PA_MAX_OBSERVED_NODES];
	PaObsRead	obs_reads[PA_MAX_OBSERVED_NODES];
	char		obs_values[PA_MAX_OBSERVED][PA_MAX_TENANT_LEN + 1];
	int64		obs_rows[PA_MAX_OBSERVED];
} PaQueryState;

static dlist_head pa_open_queries = DLIST_STATIC_INIT(pa_open_queries);

/* The observed node that ran last, and its query's state. */
static PaObsNode *pa_obs_last_node = NULL;
static PaQueryState *pa_obs_last_st = NULL;

/*
 * A DECLARE CURSOR being processed: its query's ExecutorStart comes next,
 * at the DECLARE's level, inside it.  The cursor is one statement, its
 * query (as applications count it), identified as that query run on its
 * own would be (core leaves the cursor query's identifier 0), with the
 * query's own text: offsets into the source string, which the portal
 * keeps a copy of.
 */
typedef struct PaPendingCursor
{
	bool		set;
	int			level;
	uint64		queryid;		/* 0: from the text */
	int			query_off;		/* the query after FOR; -1: unknown */
	int			query_len;
	int			stmt_location;	/* the DECLARE statement */
	int			stmt_len;
	const char *source;			/* its source string (the portal keeps a copy) */
} PaPendingCursor;

static PaPendingCursor pa_pending_cursor;

/* Planning time of the last statement planned, for its ExecutorStart. */
static uint64 pa_plan_queryid = 0;
static int	pa_plan_level = -1;
static double pa_plan_ms = 0;

void
pa_internal_enter(void)
{
	pa_internal_depth++;
}

void
pa_internal_exit(void)
{
	Assert(pa_internal_depth > 0);
	pa_internal_depth--;
}

PaExecObserver *
pa_set_observer(PaExecObserver *observer)
{
	PaExecObserver *prev = pa_observer;

	pa_observer = observer;
	return prev;
}

/* What measuring a statement is for. */
typedef struct PaMeasure
{
	bool		stats;			/* the tenant statistics */
	PaRunIds	runs;			/* the capture runs it belongs to */
} PaMeasure;

/*
 * The one gate: is a statement starting now at nesting level 'level'
 * measured, and for what?  Parallel workers never record anything (their
 * leader counts the query once), and neither does SQL that pg_perfaudit
 * runs itself.  A few loads and compares when nothing is captured.
 */
static inline bool
pa_measure_wanted(int level, PaMeasure *m)
{
	m->stats = false;
	m->runs.n = 0;
	if (pa_track == PA_TRACK_NONE || pa_internal_depth != 0 || IsParallelWorker())
		return false;
	m->stats = pa_tenant_stats_wanted(level);
	if (!pa_capture_idle())
		(void) pa_capture_eligible(level, &m->runs);
	return m->stats || m->runs.n > 0;
}


/* ----------------------------------------------------------------
 * Open-query bookkeeping
 * ----------------------------------------------------------------
 */

/*
 * Query states are reused rather than allocated per query: a state goes
 * back to pa_free_states only when its query's es_query_cxt goes away (the
 * reset callback), never at ExecutorEnd, so SQL run by another module's
 * ExecutorEnd cannot be handed a state whose callback is still pending.
 */
static dlist_head pa_free_states = DLIST_STATIC_INIT(pa_free_states);

static TupleTableSlot *pa_obs_exec(PlanState *ps);

/* The observed nodes get their own ExecProcNodeReal back. */
static void
pa_query_forget_nodes(PaQueryState *st)
{
	int			i;

	for (i = 0; i < st->obs_nnodes; i++)
	{
		PaObsNode  *n = &st->obs_nodes[i];

		/* (unless the node set itself another since: it is its own then) */
		if (n->ps->ExecProcNode == pa_obs_exec)
			n->ps->ExecProcNode = n->real;
		if (n->ps->ExecProcNodeReal == pa_obs_exec)
			n->ps->ExecProcNodeReal = n->real;
	}
	st->obs_nnodes = 0;
	if (pa_obs_last_st == st)
	{
		pa_obs_last_st = NULL;
		pa_obs_last_node = NULL;
	}
}

/*
 * The query ends, or its executor memory goes away (restore false: the
 * observed nodes go with it).
 */
static void
pa_query_forget(PaQueryState *st, bool restore)
{
	if (restore)
		pa_query_forget_nodes(st);
	st->obs_nnodes = 0;
	if (pa_obs_last_st == st)
	{
		pa_obs_last_st = NULL;
		pa_obs_last_node = NULL;
	}
	if (st->linked)
	{
		dlist_delete(&st->node);
		st->linked = false;
	}
}

static void pa_query_report(PaQueryState *st, QueryDesc *queryDesc, const PaRunIds *runs,
							bool at_stop);

/* Is a measured query between runs (not inside ExecutorRun or Finish)? */
static inline bool
pa_query_idle(PaQueryState *st)
{
	if (st->own_timing)
		return !st->running;
	return st->queryDesc->totaltime != NULL &&
		INSTR_TIME_IS_ZERO(st->queryDesc->totaltime->starttime);
}

/*
 * Around one ExecutorRun or ExecutorFinish call of a measured query.  A
 * module hooked in after us (pg_stat_statements listed after us, which
 * asks in its ExecutorStart, after ours) may have set totaltime since the
 * query started: then its measurement is used, as nothing has run yet.
 */
static inline void
pa_run_begin(PaQueryState *st)
{
	if (st->own_timing && !st->ran && st->queryDesc->totaltime != NULL)
		st->own_timing = false;
	if (st->own_timing)
	{
		st->running = true;
		st->run_hit = pgBufferUsage.shared_blks_hit;
		st->run_read = pgBufferUsage.shared_blks_read;
		INSTR_TIME_SET_CURRENT(st->run_start);
	}
}

static inline void
pa_run_end(PaQueryState *st)
{
	if (st->own_timing)
	{
		instr_time	now;

		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_ACCUM_DIFF(st->total_time, now, st->run_start);
		st->blks_hit += pgBufferUsage.shared_blks_hit - st->run_hit;
		st->blks_read += pgBufferUsage.shared_blks_read - st->run_read;
		st->running = false;
	}
}

static void
pa_query_release(void *arg)
{
	PaQueryState *st = (PaQueryState *) arg;

	/*
	 * A portal dropped without ExecutorEnd: its (sub)transaction was rolled
	 * back (a test's savepoint, Django's atomic() around a partly read
	 * .iterator(), an extended-protocol portal read in chunks, a PL/pgSQL
	 * FOR loop left by an error), which marks it failed.  What it returned
	 * was sent all the same, and counts, as the application counted it: as
	 * far as it ran, unless it failed while running.  Its query descriptor,
	 * in the portal's memory, outlives this executor memory.
	 */
	if (st->linked && st->ran && st->tally == NULL && pa_query_idle(st))
		pa_query_report(st, st->queryDesc, &st->runs, false);
	pa_query_forget(st, false);
	dlist_push_head(&pa_free_states, &st->node);
}

static PaQueryState *
pa_query_find(QueryDesc *queryDesc)
{
	dlist_iter	iter;

	dlist_foreach(iter, &pa_open_queries)
	{
		PaQueryState *st = dlist_container(PaQueryState, node, iter.cur);

		if (st->queryDesc == queryDesc)
			return st;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Observed tenants
 * ----------------------------------------------------------------
 */

/* One tenant column value of a row an observed node read or produced. */
static void
pa_observe_value(PaQueryState *st, PaObsRead *r, Datum d)
{
	char	   *txt;
	char		tenant[PA_MAX_TENANT_LEN + 1];
	bool		foreign;
	int			i;

	/* Rows of one tenant follow each other: the same value, no output call. */
	if (r->have_last && d == r->last)
	{
		if (r->last_foreign)
			st->rows_foreign++;
		if (r->last_idx >= 0)
			st->obs_rows[r->last_idx]++;
		return;
	}
	/* Integer tenant columns, the usual kind, are written into tenant. */
	txt = (char *) pa_tenant_value_text(d, r->type, r->out, tenant);
	if (txt != tenant)
	{
		pa_clip_tenant(tenant, txt);
		pfree(txt);
	}
	foreign = st->acting && strcmp(tenant, st->context_tenant) != 0;
	if (foreign)
		st->rows_foreign++;
	r->have_last = r->byval;
	r->last = d;
	r->last_foreign = foreign;
	r->last_idx = -1;
	for (i = 0; i < st->obs_n; i++)
		if (strcmp(st->obs_values[i], tenant) == 0)
		{
			st->obs_rows[i]++;
			r->last_idx = i;
			return;
		}
	if (st->obs_n < PA_MAX_OBSERVED)
	{
		st->obs_rows[st->obs_n] = 1;
		r->last_idx = st->obs_n;
		strcpy(st->obs_values[st->obs_n++], tenant);
		return;
	}
	st->obs_more = true;
	if (st->obs_extra < PA_MAX_OBSERVED_EXTRA)
	{
		bool		found;

		if (st->obs_extra_values == NULL)
			st->obs_extra_values = pa_hash_create("pg_perfaudit observed tenants", 64,
												  PA_MAX_TENANT_LEN + 1, PA_MAX_TENANT_LEN + 1,
												  true, st->obs_cxt);
		(void) hash_search(st->obs_extra_values, tenant, HASH_ENTER, &found);
		if (!found)
			st->obs_extra++;
	}
}

/* The observed node ps of an open query (NULL: none, which cannot be). */
static PaObsNode *
pa_obs_lookup(PlanState *ps, PaQueryState **stp)
{
	dlist_iter	iter;

	dlist_foreach(iter, &pa_open_queries)
	{
		PaQueryState *st = dlist_container(PaQueryState, node, iter.cur);
		int			i;

		for (i = 0; i < st->obs_nnodes; i++)
			if (st->obs_nodes[i].ps == ps)
			{
				*stp = st;
				return &st->obs_nodes[i];
			}
	}
	return NULL;
}

/*
 * ExecProcNodeReal of an observed node: the node's own, then the tenant
 * column of the row it read (its scan tuple) or returned.  The cost per
 * row is this call, a pointer compare and an attribute fetch; rendering
 * happens once per run of rows of one tenant.
 */
static TupleTableSlot *
pa_obs_exec(PlanState *ps)
{
	PaObsNode  *n = pa_obs_last_node;
	PaQueryState *st = pa_obs_last_st;
	TupleTableSlot *slot;
	int			i;

	if (n == NULL || n->ps != ps)
	{
		n = pa_obs_lookup(ps, &st);
		if (n == NULL)
			elog(ERROR, "pg_perfaudit: plan node %d is not observed", ps->plan->plan_node_id);
		pa_obs_last_node = n;
		pa_obs_last_st = st;
	}
	slot = n->real(ps);
	if (TupIsNull(slot))
		return slot;
	for (i = 0; i < n->n; i++)
	{
		PaObsRead  *r = &st->obs_reads[n->reads[i]];
		TupleTableSlot *from = r->scan_slot ? ((ScanState *) ps)->ss_ScanTupleSlot : slot;
		bool		isnull;
		Datum		d;

		if (TupIsNull(from) || r->attno > from->tts_tupleDescriptor->natts)
			continue;
		d = slot_getattr(from, r->attno, &isnull);
		if (isnull)
			continue;
		if (r->by_ctid)
		{
			/* the version the UPDATE or DELETE is about to change */
			if (!table_tuple_fetch_row_version(r->fetch_rel, (ItemPointer) DatumGetPointer(d),
											   SnapshotAny, r->fetch_slot))
				continue;
			d = slot_getattr(r->fetch_slot, r->fetch_attno, &isnull);
			if (!isnull)
				pa_observe_value(st, r, d);
			ExecClearTuple(r->fetch_slot);
			continue;
		}
		pa_observe_value(st, r, d);
	}
	return slot;
}

/* The node of the plan with this plan_node_id. */
static bool
pa_obs_find_walker(PlanState *ps, void *context)
{
	PlanState **found = (PlanState **) context;

	if (ps->plan->plan_node_id == (*found)->plan->plan_node_id)
	{
		found[1] = ps;
		return true;
	}
	return planstate_tree_walker(ps, pa_obs_find_walker, context);
}

static PlanState *
pa_obs_find(PlanState *root, int plan_node_id)
{
	Plan		key;
	PlanState	keystate;
	PlanState  *found[2];

	if (root->plan->plan_node_id == plan_node_id)
		return root;
	key.plan_node_id = plan_node_id;
	keystate.plan = &key;
	found[0] = &keystate;
	found[1] = NULL;
	(void) planstate_tree_walker(root, pa_obs_find_walker, found);
	return found[1];
}

/*
 * Observe the nodes of PaPlanFacts.observe in this execution: each one's
 * ExecProcNodeReal becomes pa_obs_exec (ExecProcNodeFirst and the
 * instrumented path call it), its own kept to call and to put back.
 */
static void
pa_obs_install(PaQueryState *st, PlanState *root)
{
	int			i;

	for (i = 0; i < st->facts.nobserve; i++)
	{
		const PaObserveNode *o = &st->facts.observe[i];
		PlanState  *ps = NULL;
		PaObsNode  *n = NULL;
		PaObsRead  *r;
		int			j;

		for (j = 0; j < st->obs_nnodes; j++)
			if (st->obs_nodes[j].ps->plan->plan_node_id == o->plan_node_id)
				n = &st->obs_nodes[j];
		if (n == NULL)
		{
			ps = pa_obs_find(root, o->plan_node_id);
			if (ps == NULL || (o->scan_slot && !IsA(ps, SeqScanState) &&
							   !IsA(ps, IndexScanState) && !IsA(ps, IndexOnlyScanState) &&
							   !IsA(ps, BitmapHeapScanState) && !IsA(ps, TidScanState) &&
							   !IsA(ps, TidRangeScanState) && !IsA(ps, SampleScanState)))
			{
				/* (cannot be) observe nothing rather than a part */
				pa_query_forget_nodes(st);
				return;
			}
			n = &st->obs_nodes[st->obs_nnodes++];
			n->ps = ps;
			n->real = ps->ExecProcNodeReal;
			n->n = 0;
			ps->ExecProcNodeReal = pa_obs_exec;
			if (ps->ExecProcNode == n->real)
				ps->ExecProcNode = pa_obs_exec;
		}
		n->reads[n->n++] = (uint8) i;
		r = &st->obs_reads[i];
		r->by_ctid = false;
		if (o->by_ctid)
		{
			PlanState  *mt = pa_obs_find(root, o->mt_plan_node_id);

			if (mt == NULL || !IsA(mt, ModifyTableState) ||
				((ModifyTableState *) mt)->resultRelInfo == NULL)
			{
				pa_query_forget_nodes(st);
				return;
			}
			r->by_ctid = true;
			r->fetch_attno = o->fetch_attno;
			r->fetch_rel = ((ModifyTableState *) mt)->resultRelInfo->ri_RelationDesc;
			r->fetch_slot = table_slot_create(r->fetch_rel, &mt->state->es_tupleTable);
		}
		r->attno = o->attno;
		r->scan_slot = o->scan_slot;
		r->byval = o->byval;
		r->type = o->type;
		r->out = o->out;
		r->have_last = false;
		r->last_idx = -1;
	}
}

/*
 * A query state from the pool, cleared up to its tenant buffer (which
 * needs no zeroing).
 */
static PaQueryState *
pa_query_state_new(void)
{
	PaQueryState *st;

	if (!dlist_is_empty(&pa_free_states))
		st = dlist_container(PaQueryState, node, dlist_pop_head_node(&pa_free_states));
	else
		st = MemoryContextAlloc(TopMemoryContext, sizeof(PaQueryState));
	memset(st, 0, offsetof(PaQueryState, context_tenant));
	return st;
}

/* Tie a state to its executor memory (cxt) and open it. */
static void
pa_query_state_link(PaQueryState *st, MemoryContext cxt)
{
	st->obs_cxt = cxt;
	st->cb.func = pa_query_release;
	st->cb.arg = st;
	MemoryContextRegisterResetCallback(cxt, &st->cb);
	dlist_push_head(&pa_open_queries, &st->node);
	st->linked = true;
}

/*
 * Start measuring a query for the runs in *ids (may be none) and, when
 * stats is set, the tenant statistics.  The tenant and the plan's facts
 * are read now, while the parameters are those this execution started
 * with.
 */
static void
pa_query_begin(QueryDesc *queryDesc, const PaMeasure *m)
{
	const PaRunIds *ids = &m->runs;
	MemoryContext cxt = queryDesc->estate->es_query_cxt;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PaQueryState *st;
	ParamListInfo params = queryDesc->params;
	bool		check_tag;
	const PaBodyText *body;
	const PaPendingCursor *cursor;

	st = pa_query_state_new();
	/* Its text, tenant and plan are read now, as this role. */
	st->userid = GetUserId();

	/*
	 * Timing and buffer counts for the whole query, across every
	 * ExecutorRun call and ExecutorFinish, as pg_stat_statements takes them:
	 * its (or auto_explain's) totaltime when one of them asked, else our
	 * own two counters and clock (pa_run_begin).
	 */
	st->own_timing = (queryDesc->totaltime == NULL);
	st->queryDesc = queryDesc;
	st->stats = m->stats;
	st->runs = *ids;
	st->level = pa_nesting_level;
	st->queryid = PA_QUERYID(queryDesc->plannedstmt);
	body = NULL;
	cursor = NULL;
	/*
	 * The cursor's query runs from a copy of the DECLARE's source string;
	 * SQL that a function runs while the query starts (partition pruning
	 * calling a PL/pgSQL function) has a source of its own.
	 */
	if (pa_pending_cursor.set && pa_pending_cursor.level == pa_nesting_level &&
		queryDesc->sourceText != NULL &&
		strcmp(queryDesc->sourceText, pa_pending_cursor.source) == 0)
	{
		cursor = &pa_pending_cursor;
		st->is_cursor = true;
		pa_pending_cursor.set = false;	/* only the first query is the cursor's */
		if (st->queryid == UINT64CONST(0))
			st->queryid = cursor->queryid;
	}
	if (st->queryid == UINT64CONST(0))
	{
		body = pa_body_text_find(queryDesc->plannedstmt);
		st->queryid = body != NULL ? body->queryid :
			pa_stmt_queryid(queryDesc->plannedstmt, queryDesc->sourceText, false);
	}

	if (ids->n > 0)
	{
		if (body != NULL)
		{
			st->text = body->text;
			st->text_len = body->len;
		}
		else if (cursor != NULL && cursor->query_off >= 0 &&
				 strlen(queryDesc->sourceText) >= (size_t) (cursor->query_off + cursor->query_len))
		{
			st->text = queryDesc->sourceText + cursor->query_off;
			st->text_len = cursor->query_len;
		}
		else
			st->text = pa_statement_text(queryDesc->sourceText,
										 queryDesc->plannedstmt->stmt_location,
										 queryDesc->plannedstmt->stmt_len, &st->text_len);

		/*
		 * What tells one execution's values from another's: the bound
		 * parameters when there are any (prepared statements, the extended
		 * protocol, PL/pgSQL variables: the text is then the same every
		 * time), otherwise the literals in the text (an ORM that inlines
		 * values).
		 */
		if (params != NULL && params->numParams > 0)
			st->param_hash = pa_params_fingerprint(params);
		else
			st->param_hash = pa_text_fingerprint(st->text, st->text_len);

		if (pa_plan_level == pa_nesting_level &&
			pa_plan_queryid == PA_QUERYID(queryDesc->plannedstmt))
			st->plan_ms = pa_plan_ms;
	}
	pa_plan_level = -1;

	/* The context (setting, tag) names the tenant before the plan does. */
	pa_inspect_plan(queryDesc, &st->facts, &check_tag, ids->n > 0);

	/*
	 * The facts and a tenant named by the plan's constants live in the
	 * plan's cached analysis, which a new analysis resets (a setting it
	 * depends on changed) while this execution may still be running: an
	 * open cursor, a recursive function.  This execution keeps copies.
	 */
	if (st->facts.facts != NULL && ids->n > 0)
		st->facts.facts = pstrdup(st->facts.facts);
	if (st->facts.tenant != NULL)
		st->facts.tenant = pstrdup(st->facts.tenant);
	if (pa_tenant_from_context(queryDesc->sourceText,
							   cursor ? cursor->stmt_location : queryDesc->plannedstmt->stmt_location,
							   cursor ? cursor->stmt_len : queryDesc->plannedstmt->stmt_len,
							   check_tag, st->context_tenant))
	{
		st->tenant = st->context_tenant;
		st->tenant_count = 1;
		st->acting = true;
		pa_tenant_normalize(st->context_tenant, st->facts.tenant_type);

		/*
		 * The session acts for one tenant and the statement's predicates
		 * name another: it reads rows that are not the current tenant's.
		 */
		if (st->facts.tenant != NULL && strcmp(st->facts.tenant, st->context_tenant) != 0)
			st->facts.cross_tenant = true;
	}
	else
	{
		st->tenant = st->facts.tenant;
		st->tenant_count = st->facts.tenant_count;
	}

	if (ids->n > 0 && st->facts.nobserve > 0)
		pa_obs_install(st, queryDesc->planstate);

	pa_query_state_link(st, cxt);

	MemoryContextSwitchTo(old);
}

/*
 * What a read of another tenant's rows saw, for cross_tenant_access's
 * detail: the observed tenants with their rows (the first PA_MAX_OBSERVED),
 * how many tenants there were, and how many rows were another tenant's.
 */
static const char *
pa_observed_detail(PaQueryState *st)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"observed_tenants\":{");
	for (i = 0; i < st->obs_n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, st->obs_values[i]);
		appendStringInfo(&buf, ":" INT64_FORMAT, st->obs_rows[i]);
	}
	appendStringInfoChar(&buf, '}');
	appendStringInfo(&buf, ",\"observed_tenant_count\":%d", st->obs_n + st->obs_extra);
	if (st->obs_extra >= PA_MAX_OBSERVED_EXTRA)
		appendStringInfoString(&buf, ",\"observed_tenant_count_is_a_lower_bound\":true");
	appendStringInfo(&buf, ",\"rows\":" INT64_FORMAT "}", st->rows_foreign);
	return buf.data;
}

/*
 * The observed tenants as a list (as a predicate's, PaPlanFacts.tenant):
 * whole values within a tenant's length, ",..." when not all fit.
 */
static const char *
pa_observed_list(PaQueryState *st, const char *exclude, int *count)
{
	const char *values[PA_MAX_OBSERVED];
	int			i;

	/* mostly: one tenant's rows, none excluded */
	if (st->obs_n == 1 && !st->obs_more && exclude == NULL)
	{
		*count = 1;
		return st->obs_values[0];
	}
	*count = 0;
	for (i = 0; i < st->obs_n; i++)
		if (exclude == NULL || strcmp(st->obs_values[i], exclude) != 0)
			values[(*count)++] = st->obs_values[i];
	if (*count == 0)
		return NULL;
	if (*count == 1 && !st->obs_more)
		return values[0];
	return pa_tenant_list(values, *count, !st->obs_more);
}

/*
 * What the observed rows tell of a statement (observed: its rows were
 * observed, possibly none), into info, whose tenant is the one it named.
 */
static void
pa_observed_info(PaQueryState *st, bool observed, PaStmtInfo *info)
{
	if (st->obs_n > 0)
	{
		int			count;

		/*
		 * Acting for a tenant, what matters is the others' rows (NULL: none);
		 * else all of them, which name the tenant when no predicate did.
		 */
		info->observed = pa_observed_list(st, st->acting ? st->context_tenant : NULL, &count);
		/* no predicate named one: all its rows' one tenant, if they are */
		if (info->tenant == NULL && count == 1 && !st->obs_more)
		{
			info->flags |= PA_STMT_TENANT_FROM_ROWS;
			info->tenant = info->observed;
			info->tenant_count = count;
		}
	}
	if (st->acting)
		info->flags |= PA_STMT_ACTING;
	if (observed)
		info->flags |= PA_STMT_OBSERVED;
	if (st->rows_foreign > 0)
	{
		info->flags |= PA_STMT_FOREIGN_ROWS;
		info->observed_detail = pa_observed_detail(st);
	}
}

static void
pa_query_report(PaQueryState *st, QueryDesc *queryDesc, const PaRunIds *runs, bool at_stop)
{
	PaStmtInfo	info;

	memset(&info, 0, sizeof(info));
	if (st->own_timing)
	{
		info.duration_ms = INSTR_TIME_GET_MILLISEC(st->total_time);
		info.shared_blks_hit = st->blks_hit;
		info.shared_blks_read = st->blks_read;
	}
	else if (queryDesc->totaltime != NULL)
	{
		InstrEndLoop(queryDesc->totaltime);
		info.duration_ms = queryDesc->totaltime->total * 1000.0;
		info.shared_blks_hit = queryDesc->totaltime->bufusage.shared_blks_hit;
		info.shared_blks_read = queryDesc->totaltime->bufusage.shared_blks_read;
	}
	info.queryid = st->queryid;
	info.userid = st->userid;
	info.rows = st->rows;
	info.seq_scans = st->facts.seq_scans;
	info.tenant = st->tenant;
	info.tenant_count = st->tenant_count;
	/* observed, even when no row came: none of another tenant then */
	pa_observed_info(st, st->obs_nnodes > 0, &info);

	/*
	 * The statistics take the tenant the statement named (setting, tag,
	 * predicate), never one observed in its rows: rows are observed only
	 * while a run captures, and the views are for pg_read_all_stats, which
	 * does not see other roles' data.
	 */
	if (st->stats && !at_stop)
		pa_tenant_stats_record(st->tenant, info.queryid, info.duration_ms,
							   info.rows, info.seq_scans, st->facts.unscoped);

	if (runs->n > 0)
	{
		info.param_hash = st->param_hash;
		info.plan_ms = st->plan_ms;
		info.facts = st->facts.facts;
		info.nesting_level = st->level;
		info.text = st->text;
		info.text_len = st->text_len;
		if (st->facts.cross_tenant)
			info.flags |= PA_STMT_CROSS_TENANT;
		switch (queryDesc->operation)
		{
			case CMD_INSERT:
				info.flags |= PA_STMT_INSERT;
				break;
			case CMD_UPDATE:
				info.flags |= PA_STMT_UPDATE;
				break;
			case CMD_DELETE:
				info.flags |= PA_STMT_DELETE;
				break;
#ifdef PA_HAVE_MERGE
			case CMD_MERGE:
				info.flags |= PA_STMT_WRITES;
				break;
#endif
			default:
				break;
		}
		/* LIMIT 1 is a lookup (the latest child of a parent), not a batch */
		if (st->facts.batch_limit > 1)
		{
			info.flags |= PA_STMT_KEYSET;
			if (st->rows == (uint64) st->facts.batch_limit)
				info.flags |= PA_STMT_FULL_BATCH;
		}
		pa_capture_record(runs, &info);
	}
	if (!at_stop)
		pa_query_forget(st, true);
}

static void
pa_query_end(PaQueryState *st, QueryDesc *queryDesc)
{
	pa_query_report(st, queryDesc, &st->runs, false);
}

void
pa_observe_execution(QueryDesc *queryDesc, const char *acting, PaObsTally *tally)
{
	MemoryContext cxt = queryDesc->estate->es_query_cxt;
	PaQueryState *st;
	PaPlanFacts facts;
	bool		has_comment;

	pa_inspect_plan(queryDesc, &facts, &has_comment, true);
	if (facts.nobserve == 0)
	{
		tally->unobserved++;
		return;
	}
	st = pa_query_state_new();
	st->queryDesc = queryDesc;
	st->userid = GetUserId();
	st->level = pa_nesting_level;
	st->tally = tally;
	st->facts = facts;
	if (acting != NULL)
	{
		st->acting = true;
		pa_clip_tenant(st->context_tenant, acting);
		pa_tenant_normalize(st->context_tenant, facts.tenant_type);
	}
	pa_query_state_link(st, cxt);
	{
		/* its slots (a fetched row) in the executor's memory */
		MemoryContext old = MemoryContextSwitchTo(cxt);

		pa_obs_install(st, queryDesc->planstate);
		MemoryContextSwitchTo(old);
	}
	if (st->obs_nnodes == 0)
	{
		tally->unobserved++;
		pa_query_forget(st, true);
	}
}

/* An execution observed for an observer ends: into its tally. */
static void
pa_tally_end(PaQueryState *st)
{
	PaObsTally *tally = st->tally;

	if (st->obs_nnodes > 0)
	{
		tally->observed++;
		if (st->rows_foreign > 0 && tally->foreign++ == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(tally->cxt);
			int			count;

			const char *others = pa_observed_list(st, st->context_tenant, &count);

			tally->foreign_tenants = others ? pstrdup(others) : NULL;
			tally->foreign_detail = pstrdup(pa_observed_detail(st));
			MemoryContextSwitchTo(old);
		}
	}
	pa_query_forget(st, true);
}

/*
 * This session's run stops: a cursor of it still open (declared and
 * fetched from, not yet closed) is one of its statements all the same, as
 * far as it has run.  Its statistics wait for its end.
 */
void
pa_record_open_cursors(uint64 run_id)
{
	dlist_iter	iter;

	dlist_foreach(iter, &pa_open_queries)
	{
		PaQueryState *st = dlist_container(PaQueryState, node, iter.cur);
		QueryDesc  *queryDesc = st->queryDesc;
		PaRunIds	one;
		int			i;

		if (!st->is_cursor || !pa_query_idle(st))
			continue;			/* not a cursor, or running right now */
		for (i = 0; i < st->runs.n; i++)
			if (st->runs.ids[i] == run_id)
				break;
		if (i == st->runs.n)
			continue;
		/* into this run now, and not again when it ends */
		st->runs.ids[i] = st->runs.ids[--st->runs.n];
		one.n = 1;
		one.ids[0] = run_id;
		pa_query_report(st, queryDesc, &one, true);
	}
}
/* ----------------------------------------------------------------
 * The hooks
 * ----------------------------------------------------------------
 */

static PlannedStmt *
pa_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *result;
	PaMeasure	m;
	bool		timed;
	instr_time	start;
	instr_time	duration;
	char	   *body;

	/*
	 * Planning time is kept for capture runs only, of statements with a
	 * query identifier (the gate is asked at most once per call).
	 */
	timed = parse->queryId != UINT64CONST(0) &&
		pa_measure_wanted(pa_nesting_level, &m) && m.runs.n > 0;
	if (timed)
		INSTR_TIME_SET_CURRENT(start);

	/*
	 * A statement without source text (see PaBodyText) is deparsed before
	 * the planner, which may scribble on the tree, and only when its
	 * execution will be recorded.
	 */
	body = NULL;
#ifdef PA_HAVE_QUERYDEF
	if (parse->queryId == UINT64CONST(0) && parse->commandType != CMD_UTILITY &&
		pa_source_empty(query_string) && pa_measure_wanted(pa_nesting_level, &m))
		body = pg_get_querydef(parse, false);
#endif

	/* Statements run while planning (SPI in a function) are nested. */
	pa_nesting_level++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		pa_nesting_level--;
	}
	PG_END_TRY();

	if (body != NULL)
	{
		pa_body_text_remember(result, body);
		pfree(body);
	}

	if (timed)
	{
		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		pa_plan_queryid = (uint64) parse->queryId;
		pa_plan_level = pa_nesting_level;
		pa_plan_ms = INSTR_TIME_GET_MILLISEC(duration);
	}
	return result;
}

static void
pa_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PaMeasure	m;

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if ((eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
	{
		if (pa_measure_wanted(pa_nesting_level, &m))
			pa_query_begin(queryDesc, &m);
		if (pa_observer != NULL && pa_observer->level == pa_nesting_level)
			pa_observer->fn(queryDesc, pa_observer->arg);
	}
}

/*
 * es_processed counts the rows of one ExecutorRun call only; a cursor
 * fetched in several steps runs several times, so rows are summed here.
 */
static void
pa_ExecutorRun(PA_EXECUTOR_RUN_ARGS)
{
	PaQueryState *volatile st = NULL;

	if (!dlist_is_empty(&pa_open_queries))
		st = pa_query_find(queryDesc);
	if (st != NULL)
		pa_run_begin(st);

	pa_nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			PA_EXECUTOR_RUN_CALL(prev_ExecutorRun);
		else
			PA_EXECUTOR_RUN_CALL(standard_ExecutorRun);
	}
	PG_FINALLY();
	{
		pa_nesting_level--;
	}
	PG_END_TRY();

	if (st == NULL)
		return;
	pa_run_end(st);
	st->ran = true;

	/*
	 * A WITH HOLD cursor is read to its end when its transaction commits
	 * (PersistHoldablePortal, into a tuplestore); a SCROLL one from its
	 * start again, after a rewind: those rows are the whole result, not
	 * more of it.
	 */
	if (st->is_cursor && queryDesc->dest != NULL &&
		queryDesc->dest->mydest == DestTuplestore && ActivePortal != NULL &&
		ActivePortal->queryDesc == queryDesc && ActivePortal->holdStore != NULL &&
		(ActivePortal->cursorOptions & CURSOR_OPT_SCROLL))
		st->rows = queryDesc->estate->es_processed;
	else
		st->rows += queryDesc->estate->es_processed;
}

static void
pa_next_ExecutorFinish(QueryDesc *queryDesc)
{
	if (prev_ExecutorFinish)
		prev_ExecutorFinish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
}

static void
pa_ExecutorFinish(QueryDesc *queryDesc)
{
	PaQueryState *volatile st = NULL;

	/*
	 * ExecutorFinish runs user code only through AFTER triggers queued by
	 * this query and data-modifying CTEs; a plain SELECT has neither, so it
	 * needs no nesting bookkeeping (and no setjmp) here, and takes no time
	 * worth measuring.
	 */
	if (queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE)
	{
		pa_next_ExecutorFinish(queryDesc);
		return;
	}

	if (!dlist_is_empty(&pa_open_queries))
		st = pa_query_find(queryDesc);
	if (st != NULL)
		pa_run_begin(st);
	pa_nesting_level++;
	PG_TRY();
	{
		pa_next_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		pa_nesting_level--;
	}
	PG_END_TRY();
	if (st != NULL)
		pa_run_end(st);
}

static void
pa_ExecutorEnd(QueryDesc *queryDesc)
{
	if (!dlist_is_empty(&pa_open_queries))
	{
		PaQueryState *st = pa_query_find(queryDesc);

		if (st != NULL && st->tally != NULL)
			pa_tally_end(st);
		else if (st != NULL)
			pa_query_end(st, queryDesc);
	}

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* The next ProcessUtility hook, or the standard one. */
static void
pa_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * DECLARE name CURSOR FOR query: note what identifies the cursor's query
 * for its ExecutorStart (pa_query_begin), then declare it at this level.
 */
static void
pa_declare_cursor(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	DeclareCursorStmt *cstmt = (DeclareCursorStmt *) pstmt->utilityStmt;
	PaPendingCursor saved = pa_pending_cursor;
	PaMeasure	m;

	pa_pending_cursor.set = false;
	if (queryString != NULL && pa_measure_wanted(pa_nesting_level, &m))
	{
		int			len;
		int			qlen = 0;
		const char *stmt = pa_statement_text(queryString, pstmt->stmt_location,
											 pstmt->stmt_len, &len);
		const char *query = pa_cursor_query_text(stmt, len, &qlen);

		memset(&pa_pending_cursor, 0, sizeof(pa_pending_cursor));
		pa_pending_cursor.set = true;
		pa_pending_cursor.level = pa_nesting_level;
		pa_pending_cursor.stmt_location = pstmt->stmt_location;
		pa_pending_cursor.stmt_len = pstmt->stmt_len;
		pa_pending_cursor.source = queryString;
		pa_pending_cursor.query_off = query ? (int) (query - queryString) : -1;
		pa_pending_cursor.query_len = qlen;
		if (IsA(cstmt->query, Query))
		{
			/* The identifier core gives the same query run on its own. */
			Query		copy = *(Query *) cstmt->query;

			if (copy.queryId == UINT64CONST(0) && copy.utilityStmt == NULL &&
				IsQueryIdEnabled())
				(void) PA_JUMBLE_QUERY(&copy, queryString);
			pa_pending_cursor.queryid = (uint64) copy.queryId;
		}
		if (pa_pending_cursor.queryid == UINT64CONST(0) && query != NULL)
		{
			uint64		id = DatumGetUInt64(hash_any_extended((const unsigned char *) query,
															  qlen, 0));

			pa_pending_cursor.queryid = id != UINT64CONST(0) ? id : UINT64CONST(1);
		}
	}
	PG_TRY();
	{
		pa_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		pa_pending_cursor = saved;
	}
	PG_END_TRY();
}

/*
 * COPY FROM into a tenant table, while a run captures: the rows it wrote
 * are observed after it, by a scan of the table for the rows this command
 * of this transaction inserted (their xmin is ours, their command id the
 * COPY's), the rest of the table skipped.  Bounded by the table's size: a
 * table larger than PA_COPY_OBSERVE_MAX_BLOCKS after the copy is not
 * observed, nor is a partitioned or foreign table, a table of another
 * access method than heap, or COPY FREEZE (its rows are frozen).
 */
#define PA_COPY_OBSERVE_MAX_BLOCKS	4096	/* 32 MB of 8 kB pages */

typedef struct PaCopyTarget
{
	Oid			relid;
	AttrNumber	attno;
	Oid			type;
	CommandId	cid;
} PaCopyTarget;

static bool
pa_copy_target(Node *parsetree, PaCopyTarget *t)
{
	CopyStmt   *stmt = (CopyStmt *) parsetree;
	ListCell   *lc;

	if (!IsA(parsetree, CopyStmt) || !stmt->is_from || stmt->relation == NULL)
		return false;
	foreach(lc, stmt->options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "freeze") == 0)
			return false;
	t->relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(t->relid) || get_rel_relkind(t->relid) != RELKIND_RELATION)
		return false;
	t->attno = get_attnum(t->relid, pa_tenant_column);
	if (t->attno == InvalidAttrNumber)
		return false;
	t->type = get_atttype(t->relid, t->attno);
	t->cid = GetCurrentCommandId(false);
	return true;
}

static void
pa_copy_observe(const PaCopyTarget *t, PaStmtInfo *info)
{
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	PaQueryState *st;
	PaObsRead	r;
	bool		isvarlena;
	uint64		n = 0;

	rel = table_open(t->relid, AccessShareLock);
	if (rel->rd_tableam != GetHeapamTableAmRoutine() ||
		RelationGetNumberOfBlocks(rel) > PA_COPY_OBSERVE_MAX_BLOCKS)
	{
		table_close(rel, AccessShareLock);
		return;
	}
	st = palloc0(sizeof(PaQueryState));
	st->obs_cxt = CurrentMemoryContext;
	if (info->tenant != NULL)
	{
		st->acting = true;
		strlcpy(st->context_tenant, info->tenant, sizeof(st->context_tenant));
	}
	memset(&r, 0, sizeof(r));
	r.attno = t->attno;
	r.type = t->type;
	getTypeOutputInfo(t->type, &r.out, &isvarlena);
	r.byval = get_typbyval(t->type);
	r.last_idx = -1;

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, SnapshotSelf, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		should_free;
		HeapTuple	tup;
		bool		isnull;
		Datum		d;

		if ((++n & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
		if (!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tup->t_data)) ||
			HeapTupleHeaderGetRawCommandId(tup->t_data) != t->cid)
			continue;
		d = slot_getattr(slot, t->attno, &isnull);
		if (!isnull)
			pa_observe_value(st, &r, d);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);

	pa_observed_info(st, true, info);
	info->flags |= PA_STMT_INSERT;
}

/* Utility statements that count as statements of a run. */
static bool
pa_utility_counted(Node *parsetree)
{
	return !IsA(parsetree, TransactionStmt) &&
		!IsA(parsetree, VariableSetStmt);
}

static void
pa_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	PaStmtInfo	info;
	PaMeasure	m;
	bool		capture;
	bool		stats;
	instr_time	start;
	instr_time	duration;
	BufferUsage bufstart;
	BufferUsage bufusage;
	char		tenant[PA_MAX_TENANT_LEN + 1];
	volatile bool copy = false;
	PaCopyTarget copy_target;

	/*
	 * EXECUTE runs its statement through the executor at this same level,
	 * where it is counted; PREPARE and DEALLOCATE touch no data.  A
	 * sub-command (the CREATE SEQUENCE of a serial column, the CREATE INDEX
	 * of a PRIMARY KEY or UNIQUE constraint, the statements CREATE TABLE
	 * ... (LIKE) and ALTER TABLE expand to, those of CREATE SCHEMA ...
	 * CREATE TABLE) is part of the statement that issued it, which counts
	 * it in its own time: core passes it with the parent's text and
	 * location and no queryid of its own.  pg_stat_statements skips it
	 * too, for lack of a queryid.  Statements it runs (SPI) stay nested
	 * under the parent.
	 */
	if (IsA(parsetree, ExecuteStmt) || IsA(parsetree, PrepareStmt) ||
		IsA(parsetree, DeallocateStmt) || context == PROCESS_UTILITY_SUBCOMMAND)
	{
		pa_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
		return;
	}

	/*
	 * A cursor is one statement: its query, started by DECLARE at this same
	 * level (pa_declare_cursor), run by each FETCH or MOVE (its rows summed
	 * by the ExecutorRun hook) and ended by CLOSE or at the end of the
	 * transaction (a WITH HOLD cursor's rest is read then).  DECLARE, FETCH,
	 * MOVE and CLOSE are not statements of their own, as Django's
	 * QuerySet.iterator() or a Rails cursor count them: one query.
	 */
	if (IsA(parsetree, DeclareCursorStmt))
	{
		pa_declare_cursor(pstmt, queryString, readOnlyTree, context,
						  params, queryEnv, dest, qc);
		return;
	}
	if (IsA(parsetree, FetchStmt) || IsA(parsetree, ClosePortalStmt))
	{
		pa_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
		return;
	}

	capture = false;
	stats = false;
	if (pa_utility_counted(parsetree) && pa_measure_wanted(pa_nesting_level, &m))
	{
		stats = m.stats;
		capture = m.runs.n > 0;
	}

	/*
	 * Everything needed from pstmt is read now: some utility statements
	 * (ROLLBACK of a transaction that prepared it) free it.
	 */
	memset(&info, 0, sizeof(info));
	if (capture || stats)
	{
		info.queryid = pa_stmt_queryid(pstmt, queryString, true);
		info.nesting_level = pa_nesting_level;
		info.userid = GetUserId();
		info.flags = PA_STMT_UTILITY;
		if (capture)
		{
			info.text = pa_statement_text(queryString, pstmt->stmt_location,
										  pstmt->stmt_len, &info.text_len);
			info.param_hash = pa_text_fingerprint(info.text, info.text_len);
		}
		if (pa_tenant_from_context(queryString, pstmt->stmt_location, pstmt->stmt_len,
								   true, tenant))
		{
			info.tenant = tenant;
			info.tenant_count = 1;
		}
		copy = capture && pa_copy_target(parsetree, &copy_target);
		if (copy && info.tenant != NULL)
			pa_tenant_normalize(tenant, copy_target.type);
		bufstart = pgBufferUsage;
		INSTR_TIME_SET_CURRENT(start);
	}

	pa_nesting_level++;
	PG_TRY();
	{
		pa_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							   params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		pa_nesting_level--;
	}
	PG_END_TRY();

	if (capture || stats)
	{
		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		info.duration_ms = INSTR_TIME_GET_MILLISEC(duration);

		memset(&bufusage, 0, sizeof(BufferUsage));
		BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufstart);
		info.shared_blks_hit = bufusage.shared_blks_hit;
		info.shared_blks_read = bufusage.shared_blks_read;

		if (qc && (qc->commandTag == CMDTAG_COPY ||
				   qc->commandTag == CMDTAG_FETCH ||
				   qc->commandTag == CMDTAG_SELECT ||
				   qc->commandTag == CMDTAG_REFRESH_MATERIALIZED_VIEW))
			info.rows = qc->nprocessed;

		if (stats)
			pa_tenant_stats_record(info.tenant, info.queryid, info.duration_ms,
								   info.rows, 0, false);
		if (copy)
			pa_copy_observe(&copy_target, &info);
		if (capture)
			pa_capture_record(&m.runs, &info);
	}
}

void
pa_hooks_init(void)
{
	/* Query identifiers are what runs group by, and what pgss joins on. */
	EnableQueryId();

	prev_planner = planner_hook;
	planner_hook = pa_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pa_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = pa_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = pa_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = pa_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pa_ProcessUtility;
}
