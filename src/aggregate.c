/*-------------------------------------------------------------------------
 *
 * aggregate.c
 *		Aggregation of a closed run buffer into groups, one per queryid,
 *		tenant and nesting level, and per-tenant latency distributions.
 *
 * One pass over the records (pa_agg_record), in hash tables: a group's
 * counters, the distinct parameter values per group and, in a
 * database-scope run, per session, and the latency of each tenant's
 * top-level statements.  Then each group is summarised for the detection
 * rules (pa_agg_summarise), with the likely source of an N+1 loop looked
 * up among the records around it (pa_find_source, by detect.h's rule).
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "aggregate.h"
#include "detect.h"
#include "tenant.h"

typedef struct PaGroupKey
{
	uint64		queryid;
	int32		nesting_level;
	char		tenant[PA_MAX_TENANT_LEN + 1];
	bool		has_tenant;
} PaGroupKey;

typedef struct PaGroup
{
	PaGroupKey	key;			/* hash key, must be first */
	int			order;			/* first appearance */
	PaGroupSummary sum;			/* what the rules and the store get */
	uint64		first_index;	/* record index of the first execution */
	uint64		loop_first_index;	/* the loop session's first execution */
	uint64		loop_last_index;	/* and last */

	/*
	 * A statement without a tenant predicate or an acting tenant takes the
	 * tenant of its rows (PA_STMT_TENANT_FROM_ROWS) when they are all one
	 * tenant's, in every execution; its executions stay one group (an N+1
	 * over several organizations' rows is one loop), whose tenant is that
	 * one tenant, or none when they differ.
	 */
	const char *rows_tenant;
	bool		rows_tenants_differ;
} PaGroup;

/*
 * Parameter values seen per group, over the whole run (pid 0) and, in a
 * database-scope run, per session too: an N+1 loop or a repeated query is
 * one request's pattern, and a request is one session's, so fifty clients
 * each asking once for their organization's plan are not a repeat.
 */
typedef struct PaParamKey
{
	int			group;
	int32		pid;
	uint64		param_hash;
} PaParamKey;

typedef struct PaParamEntry
{
	PaParamKey	key;			/* hash key, must be first */
	int64		count;
} PaParamEntry;

typedef struct PaSessionKey
{
	int			group;
	int32		pid;
} PaSessionKey;

typedef struct PaSessionEntry
{
	PaSessionKey key;			/* hash key, must be first */
	int64		calls;
	int64		distinct_params;
	uint64		first_index;
	uint64		last_index;
} PaSessionEntry;


/* Is this execution the likely source of the group's loop? */
static bool
pa_is_source(PaRunBuffer *buf, bool database_scope, PaGroup *grp, PaExecRecord *first, PaExecRecord *r,
			 PaGroupSummary *gs)
{
	if (!r->ready && database_scope)
		return false;
	if (r->pid != first->pid || r->queryid == grp->key.queryid ||
		r->nesting_level > grp->key.nesting_level)
		return false;
	if (!pa_detect_is_loop_source(r->rows, grp->sum.loop_calls))
		return false;
	gs->has_source = true;
	gs->source_queryid = r->queryid;
	gs->source_text = pa_buffer_text(buf, r->text_off);
	gs->source_rows = r->rows;
	return true;
}

/*
 * The likely source of an N+1 loop: a different statement of the same
 * backend, at the same or an outer level, that returned about as many rows
 * as the loop ran.  Looked for among the executions shortly before the
 * loop's first one (a list the application then walks), then shortly after
 * its last one: a PL/pgSQL FOR loop's query, or a cursor, ends, and so is
 * recorded, after the statements run for its rows.
 */
static void
pa_find_source(PaRunBuffer *buf, bool database_scope, PaGroup *grp,
			   PaGroupSummary *gs, uint64 nrecs)
{
	PaExecRecord *recs = PA_BUF_RECORDS(buf);
	PaExecRecord *first = &recs[grp->loop_first_index];
	uint64		lo = grp->loop_first_index > PA_SOURCE_LOOKBACK ?
		grp->loop_first_index - PA_SOURCE_LOOKBACK : 0;
	uint64		hi = Min(nrecs, grp->loop_last_index + 1 + PA_SOURCE_LOOKBACK);
	uint64		j;

	for (j = grp->loop_first_index; j > lo; j--)
		if (pa_is_source(buf, database_scope, grp, first, &recs[j - 1], gs))
			return;
	for (j = grp->loop_last_index + 1; j < hi; j++)
		if (pa_is_source(buf, database_scope, grp, first, &recs[j], gs))
			return;
}

/* One distribution of the statements the application sent (level 0). */
typedef struct PaTenantLatency
{
	char		tenant[PA_MAX_TENANT_LEN + 1];	/* hash key, must be first */
	bool		has_tenant;
	int			seq;			/* order of first appearance */
	PaLatency	lat;
} PaTenantLatency;

typedef struct PaAggState
{
	PaRunBuffer *buf;
	bool		database_scope;
	HTAB	   *groups;
	HTAB	   *params;
	HTAB	   *sessions;		/* database scope only */
	PaGroup   **ordered;
	int			ngroups;
	HTAB	   *lat_tenants;
	PaTenantLatency **lat_ordered;
	int			nlat;
} PaAggState;

/* qsort order of the distributions: most calls first, then first seen. */
static int
pa_latency_order(const void *a, const void *b)
{
	const PaTenantLatency *x = *(PaTenantLatency *const *) a;
	const PaTenantLatency *y = *(PaTenantLatency *const *) b;

	if (x->lat.calls != y->lat.calls)
		return x->lat.calls > y->lat.calls ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* Per tenant, the latency of the statements the application sent. */
static void
pa_agg_latency(PaAggState *st, const PaGroupKey *key, double ms)
{
	bool		found;

	/* "" is no tenant: a tenant value is never empty. */
	PaTenantLatency *t = hash_search(st->lat_tenants, key->tenant, HASH_ENTER, &found);

	if (!found)
	{
		memset((char *) t + sizeof(t->tenant), 0,
			   sizeof(PaTenantLatency) - sizeof(t->tenant));
		t->has_tenant = key->has_tenant;
		t->seq = st->nlat;
		st->lat_ordered[st->nlat++] = t;
	}
	pa_latency_add(&t->lat, ms);
}

/*
 * Distinct parameter values: over the whole run and, in a database-scope
 * run, per session, where the group's loop is its busiest session's.
 */
static void
pa_agg_params(PaAggState *st, PaGroup *grp, const PaExecRecord *rec, uint64 i)
{
	PaParamKey	pkey;
	PaParamEntry *pent;
	bool		found;

	memset(&pkey, 0, sizeof(pkey));
	pkey.group = grp->order;
	pkey.param_hash = rec->param_hash;
	pent = hash_search(st->params, &pkey, HASH_ENTER, &found);
	if (!found)
	{
		grp->sum.stmt.distinct_params++;
		pent->count = 0;
	}
	pent->count++;

	if (st->sessions == NULL)
	{
		/* one session: the run's figures are the session's */
		grp->sum.max_repeats = Max(grp->sum.max_repeats, pent->count);
		grp->sum.loop_calls = grp->sum.stmt.calls;
		grp->sum.loop_distinct = grp->sum.stmt.distinct_params;
		grp->loop_first_index = grp->first_index;
		grp->loop_last_index = i;
	}
	else
	{
		PaSessionKey skey;
		PaSessionEntry *sent;

		pkey.pid = rec->pid;
		pent = hash_search(st->params, &pkey, HASH_ENTER, &found);
		if (!found)
			pent->count = 0;
		pent->count++;
		grp->sum.max_repeats = Max(grp->sum.max_repeats, pent->count);

		memset(&skey, 0, sizeof(skey));
		skey.group = grp->order;
		skey.pid = rec->pid;
		sent = hash_search(st->sessions, &skey, HASH_ENTER, &found);
		if (!found)
		{
			sent->calls = 0;
			sent->distinct_params = 0;
			sent->first_index = i;
			grp->sum.sessions++;
		}
		sent->calls++;
		sent->last_index = i;
		if (pent->count == 1)
			sent->distinct_params++;
		if (sent->distinct_params > grp->sum.loop_distinct ||
			(sent->distinct_params == grp->sum.loop_distinct &&
			 sent->calls > grp->sum.loop_calls))
		{
			grp->sum.loop_calls = sent->calls;
			grp->sum.loop_distinct = sent->distinct_params;
			grp->loop_first_index = sent->first_index;
		}
		if (grp->loop_first_index == sent->first_index)
			grp->loop_last_index = i;
	}
}

/* Add record i to its group. */
static void
pa_agg_record(PaAggState *st, const PaExecRecord *rec, uint64 i)
{
	PaRunBuffer *buf = st->buf;
	PaGroupKey	key;
	PaGroup    *grp;
	bool		found;
	const char *tenant;

	memset(&key, 0, sizeof(key));
	key.queryid = rec->queryid;
	key.nesting_level = rec->nesting_level;
	tenant = pa_buffer_text(buf, rec->tenant_off);
	if (tenant != NULL)
	{
		pa_clip_tenant(key.tenant, tenant);
		key.has_tenant = true;
	}

	/* The latency is the tenant's, that of the rows too. */
	if (rec->nesting_level == 0)
		pa_agg_latency(st, &key, rec->duration_ms);
	if (rec->flags & PA_STMT_TENANT_FROM_ROWS)
	{
		memset(key.tenant, 0, sizeof(key.tenant));
		key.has_tenant = false;
	}

	grp = hash_search(st->groups, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset((char *) grp + sizeof(PaGroupKey), 0,
			   sizeof(PaGroup) - sizeof(PaGroupKey));
		grp->order = st->ngroups;
		grp->sum.sessions = st->sessions == NULL ? 1 : 0;
		grp->sum.stmt.min_ms = rec->duration_ms;
		grp->first_index = i;
		st->ordered[st->ngroups++] = grp;
	}
	if (pa_detect_is_slow(rec->duration_ms))
		grp->sum.slow_calls++;
	if (rec->flags & PA_STMT_CROSS_TENANT)
		grp->sum.cross_calls++;
	grp->sum.tenant_count = Max(grp->sum.tenant_count, rec->tenant_count);
	grp->sum.writes |= rec->flags & PA_STMT_WRITES;
	if (rec->flags & PA_STMT_ACTING)
		grp->sum.acting_calls++;
	if (rec->flags & PA_STMT_OBSERVED)
		grp->sum.observed_calls++;
	if (rec->flags & PA_STMT_TENANT_FROM_ROWS)
	{
		if (grp->rows_tenant == NULL)
			grp->rows_tenant = tenant;
		else if (strcmp(grp->rows_tenant, tenant) != 0)
			grp->rows_tenants_differ = true;
	}
	else if ((rec->flags & (PA_STMT_OBSERVED | PA_STMT_ACTING)) == PA_STMT_OBSERVED &&
			 rec->observed_off != PA_NO_OFFSET && !key.has_tenant)
		grp->rows_tenants_differ = true;	/* rows of several tenants */
	if (rec->observed_off != PA_NO_OFFSET)
	{
		if (rec->flags & PA_STMT_FOREIGN_ROWS)
		{
			if (grp->sum.foreign_calls++ == 0)
			{
				grp->sum.observed = pa_buffer_text(buf, rec->observed_off);
				grp->sum.observed_detail = pa_buffer_text(buf, rec->observed_detail_off);
			}
		}
		else if (grp->sum.observed == NULL)
			grp->sum.observed = pa_buffer_text(buf, rec->observed_off);
	}
	if (rec->flags & PA_STMT_KEYSET)
	{
		grp->sum.keyset_calls++;
		if (!(rec->flags & PA_STMT_FULL_BATCH))
			grp->sum.partial_batches++;
	}
	if (rec->facts_off != PA_NO_OFFSET)
	{
		const char *f = pa_buffer_text(buf, rec->facts_off);
		int			k;
		bool		have = false;

		for (k = 0; k < grp->sum.nfacts && !have; k++)
			have = strcmp(grp->sum.facts[k], f) == 0;
		if (!have && f != NULL && grp->sum.nfacts < PA_MAX_GROUP_FACTS)
			grp->sum.facts[grp->sum.nfacts++] = f;
	}
	grp->sum.stmt.calls++;
	grp->sum.stmt.total_ms += rec->duration_ms;
	grp->sum.stmt.min_ms = Min(grp->sum.stmt.min_ms, rec->duration_ms);
	grp->sum.stmt.max_ms = Max(grp->sum.stmt.max_ms, rec->duration_ms);
	grp->sum.stmt.plan_ms += rec->plan_ms;
	grp->sum.stmt.rows += rec->rows;
	grp->sum.stmt.shared_blks_hit += rec->shared_blks_hit;
	grp->sum.stmt.shared_blks_read += rec->shared_blks_read;
	grp->sum.stmt.seq_scans += rec->seq_scans;
	if (grp->sum.stmt.query == NULL)
		grp->sum.stmt.query = pa_buffer_text(buf, rec->text_off);

	pa_agg_params(st, grp, rec, i);
}

/* A group as the rules and the store see it. */
static void
pa_agg_summarise(PaAggState *st, PaGroup *grp, uint64 nrecs, PaGroupSummary *gs)
{
	grp->sum.stmt.queryid = grp->key.queryid;
	grp->sum.stmt.nesting_level = grp->key.nesting_level;
	grp->sum.stmt.tenant = grp->key.has_tenant ? grp->key.tenant : NULL;
	if (!grp->key.has_tenant && grp->rows_tenant != NULL && !grp->rows_tenants_differ)
	{
		grp->sum.stmt.tenant = grp->rows_tenant;
		grp->sum.tenant_count = 1;
	}
	*gs = grp->sum;
	if (pa_detect_is_loop(gs))
		pa_find_source(st->buf, st->database_scope, grp, gs, nrecs);
}

void
pa_aggregate(PaRunBuffer *buf, bool database_scope, PaAggregate *out)
{
	PaExecRecord *recs = PA_BUF_RECORDS(buf);
	uint64		n = Min(pg_atomic_read_u64(&buf->next_record), buf->capacity);
	PaAggState	st;
	uint64		i;
	int			g;

	memset(&st, 0, sizeof(st));
	st.buf = buf;
	st.database_scope = database_scope;
	st.groups = pa_hash_create("pg_perfaudit groups", 256, sizeof(PaGroupKey),
							   sizeof(PaGroup), false, CurrentMemoryContext);
	st.params = pa_hash_create("pg_perfaudit params", 1024, sizeof(PaParamKey),
							   sizeof(PaParamEntry), false, CurrentMemoryContext);
	if (database_scope)
		st.sessions = pa_hash_create("pg_perfaudit sessions", 256, sizeof(PaSessionKey),
									 sizeof(PaSessionEntry), false, CurrentMemoryContext);
	st.lat_tenants = pa_hash_create("pg_perfaudit tenant latency", 64,
									PA_MAX_TENANT_LEN + 1, sizeof(PaTenantLatency), true,
									CurrentMemoryContext);
	st.ordered = palloc(sizeof(PaGroup *) * Max(n, 1));
	st.lat_ordered = palloc(sizeof(PaTenantLatency *) * Max(n, 1));

	out->stored = 0;
	out->reserved = n;
	out->stored_ns = 0;
	out->stored_max_ns = 0;
	for (i = 0; i < n; i++)
	{
		uint64		ns;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (database_scope && !pa_record_ready(&recs[i]))
			continue;
		out->stored++;
		ns = pa_ms_to_ns(recs[i].duration_ms);
		out->stored_ns += ns;
		out->stored_max_ns = Max(out->stored_max_ns, ns);
		pa_agg_record(&st, &recs[i], i);
	}

	out->ngroups = st.ngroups;
	out->groups = palloc0(sizeof(PaGroupSummary) * Max(st.ngroups, 1));
	for (g = 0; g < st.ngroups; g++)
		pa_agg_summarise(&st, st.ordered[g], n, &out->groups[g]);

	/*
	 * The distributions, busiest tenant first, in order of appearance among
	 * equals.  (An insertion sort here took 18 s for 65,000 tenants.)
	 */
	qsort(st.lat_ordered, st.nlat, sizeof(PaTenantLatency *), pa_latency_order);
	out->ntenants = st.nlat;
	out->tenants = palloc(sizeof(char *) * Max(st.nlat, 1));
	out->latencies = palloc(sizeof(PaLatency *) * Max(st.nlat, 1));
	for (g = 0; g < st.nlat; g++)
	{
		out->tenants[g] = st.lat_ordered[g]->has_tenant ? st.lat_ordered[g]->tenant : NULL;
		out->latencies[g] = &st.lat_ordered[g]->lat;
	}
}
