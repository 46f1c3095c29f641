/*-------------------------------------------------------------------------
 *
 * tenant_stats.c
 *		Always-on per-tenant statistics: the tenant_stats and
 *		tenant_statements views, and reset().
 *
 * Two shared hash tables, created at server start and sized by
 * perfaudit.max_tenants and perfaudit.max_tenant_statements: one entry per
 * (database, tenant) with calls, time, rows, sequential scans, unscoped
 * calls and a latency histogram, and one per (database, tenant, queryid).
 * Statements without a known tenant are counted under a NULL tenant.
 *
 * Latency histogram: log-linear, four linear sub-buckets per power of two
 * of microseconds (bucket width at most 25 % of its lower edge) from 1 us
 * to 2^32 us (71 min), 128 counters.  p95_ms is the upper edge of the
 * bucket holding the 95th percentile, capped at max_ms: never below the
 * true value, at most 25 % above it.
 *
 * Eviction: when an entry must be added to a full table, the 5 % of
 * entries with the lowest usage are removed (at least 10).  Usage is the
 * number of calls, decayed by 1 % at each eviction pass, so "least active"
 * means few calls lately: a tenant that was busy last week gives way to
 * one that is busy now, and one pass pays for many insertions, the
 * sorting cost being amortised as in pg_stat_statements.  Evictions are
 * counted (tenant_stats_info()).
 *
 * Locking contract
 * ----------------
 * PaSharedState->tenant_lock protects the two hash tables' structure:
 * shared to look an entry up and update it, exclusive to add, evict or
 * reset entries.  The counters of an entry are protected by the entry's
 * own spinlock, held only for the few additions of one update.  The per
 * statement path therefore never takes the lock exclusively, except the
 * first time a (database, tenant) or (database, tenant, queryid) is seen.
 * tenant_evictions is an atomic counter; tenant_stats_reset is written
 * under the lock held exclusively.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "guc.h"
#include "shmem.h"
#include "tenant.h"
#include "tenant_stats.h"
#include "text.h"

#define PA_HIST_BUCKETS		128

/* Lookup key: both tables start with the tenant key. */
typedef struct PaTenantKey
{
	Oid			dbid;
	bool		has_tenant;
	char		tenant[PA_MAX_TENANT_LEN + 1];	/* NUL-padded */
} PaTenantKey;

typedef struct PaTenantEntry
{
	PaTenantKey key;
	slock_t		mutex;
	int64		calls;
	double		total_ms;
	double		max_ms;
	int64		rows;
	int64		seq_scans;
	int64		unscoped_calls;
	TimestampTz last_seen;
	double		usage;
	uint32		hist[PA_HIST_BUCKETS];
} PaTenantEntry;

typedef struct PaTenantStmtKey
{
	PaTenantKey tenant;
	uint64		queryid;
} PaTenantStmtKey;

typedef struct PaTenantStmtEntry
{
	PaTenantStmtKey key;
	slock_t		mutex;
	int64		calls;
	double		total_ms;
	double		max_ms;
	int64		rows;
	double		usage;
} PaTenantStmtEntry;

bool		pa_tenant_stats_ready = false;

static HTAB *pa_tenant_hash = NULL;
static HTAB *pa_tenant_stmt_hash = NULL;

PG_FUNCTION_INFO_V1(pa_tenant_stats);
PG_FUNCTION_INFO_V1(pa_tenant_statements);
PG_FUNCTION_INFO_V1(pa_tenant_stats_info);
PG_FUNCTION_INFO_V1(pa_tenant_stats_reset);

/*
 * Hash of a key of either table: the tenant's characters (not the padding
 * of its fixed-size array), the database and, for statements, the queryid.
 * The per-statement path computes it once for both tables; dynahash calls
 * it for everything else (eviction, reset), so the two always agree.
 */
static inline uint32
pa_tenant_hash_of(const PaTenantKey *k)
{
	uint32		h = hash_bytes((const unsigned char *) k->tenant, strlen(k->tenant));

	return hash_combine(h, hash_bytes_uint32(k->dbid ^ (k->has_tenant ? 0 : 0x80000000)));
}

static inline uint32
pa_stmt_hash_of(uint32 tenant_hash, uint64 queryid)
{
	return hash_combine(tenant_hash, hash_bytes_uint32((uint32) queryid ^ (uint32) (queryid >> 32)));
}

static uint32
pa_key_hash(const void *key, Size keysize)
{
	uint32		h = pa_tenant_hash_of((const PaTenantKey *) key);

	if (keysize == sizeof(PaTenantStmtKey))
		h = pa_stmt_hash_of(h, ((const PaTenantStmtKey *) key)->queryid);
	return h;
}

static Size
pa_tenant_stats_shmem_size(void)
{
	return add_size(hash_estimate_size(pa_max_tenants, sizeof(PaTenantEntry)),
					hash_estimate_size(pa_max_tenant_statements,
									   sizeof(PaTenantStmtEntry)));
}

/* Called under AddinShmemInitLock from the shmem startup hook. */
static void
pa_tenant_stats_shmem_startup(void)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PaTenantKey);
	info.entrysize = sizeof(PaTenantEntry);
	info.hash = pa_key_hash;
	pa_tenant_hash = ShmemInitHash("pg_perfaudit tenants",
								   pa_max_tenants, pa_max_tenants,
								   &info, HASH_ELEM | HASH_FUNCTION);
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PaTenantStmtKey);
	info.entrysize = sizeof(PaTenantStmtEntry);
	info.hash = pa_key_hash;
	pa_tenant_stmt_hash = ShmemInitHash("pg_perfaudit tenant statements",
										pa_max_tenant_statements,
										pa_max_tenant_statements,
										&info, HASH_ELEM | HASH_FUNCTION);
	pa_tenant_stats_ready = true;
}

void
pa_tenant_stats_init(void)
{
	pa_shmem_register(pa_tenant_stats_shmem_size, pa_tenant_stats_shmem_startup);
}

/* ----------------------------------------------------------------
 * Histogram
 * ----------------------------------------------------------------
 */

static inline int
pa_hist_bucket(double ms)
{
	double		us = ms * 1000.0;
	uint64		v;
	int			e;
	int			b;

	if (!(us >= 1.0))
		return 0;
	if (us >= 4294967296.0)		/* 2^32 us */
		return PA_HIST_BUCKETS - 1;
	v = (uint64) us;
	if (v < 4)
		return (int) v;
	e = pg_leftmost_one_pos64(v);
	b = 4 + (e - 2) * 4 + (int) ((v >> (e - 2)) & 3);
	return Min(b, PA_HIST_BUCKETS - 1);
}

/* Upper edge of a bucket, in milliseconds. */
static double
pa_hist_upper_ms(int b)
{
	int			e,
				sub;

	if (b < 4)
		return (b + 1) / 1000.0;
	e = (b - 4) / 4 + 2;
	sub = (b - 4) % 4;
	return (double) ((uint64) (5 + sub) << (e - 2)) / 1000.0;
}

static double
pa_hist_p95(const uint32 *hist, double max_ms)
{
	uint64		total = 0;
	uint64		target;
	uint64		seen = 0;
	int			b;

	for (b = 0; b < PA_HIST_BUCKETS; b++)
		total += hist[b];
	if (total == 0)
		return 0;
	target = (uint64) ceil(0.95 * (double) total);
	for (b = 0; b < PA_HIST_BUCKETS; b++)
	{
		seen += hist[b];
		if (seen >= target)
			return Min(pa_hist_upper_ms(b), max_ms);
	}
	return max_ms;
}

/* ----------------------------------------------------------------
 * Eviction
 * ----------------------------------------------------------------
 */

static int
pa_usage_cmp(const void *a, const void *b)
{
	double		ua = **(double *const *) a;
	double		ub = **(double *const *) b;

	return ua < ub ? -1 : ua > ub ? 1 : 0;
}

/*
 * Remove the least-used 5 % (at least 10) of a table's entries and decay
 * the others' usage.  Lock held exclusively.  The usage field sits at
 * usage_off in each entry.
 */
static void
pa_evict(HTAB *hash, Size usage_off)
{
	HASH_SEQ_STATUS status;
	long		n = hash_get_num_entries(hash);
	double	  **usages;
	char	   *entry;
	long		i = 0;
	long		nvictims;

	usages = palloc(sizeof(double *) * Max(n, 1));
	hash_seq_init(&status, hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		double	   *u = (double *) (entry + usage_off);

		usages[i++] = u;
		*u *= 0.99;
	}
	qsort(usages, i, sizeof(double *), pa_usage_cmp);
	nvictims = Min(i, Max(10, i / 20));
	for (n = 0; n < nvictims; n++)
	{
		/* the key is at the start of the entry */
		(void) hash_search(hash, ((char *) usages[n]) - usage_off, HASH_REMOVE, NULL);
	}
	pg_atomic_fetch_add_u64(&pa_shared->tenant_evictions, nvictims);
	pfree(usages);
}

/* ----------------------------------------------------------------
 * Recording
 * ----------------------------------------------------------------
 */

/* Where a table's entries keep their lock and usage. */
typedef struct PaTable
{
	HTAB	  **hash;
	Size		keysize;
	Size		entrysize;
	Size		mutex_off;
	Size		usage_off;
	int		   *max_entries;
} PaTable;

static const PaTable pa_tenants_table = {
	&pa_tenant_hash, sizeof(PaTenantKey), sizeof(PaTenantEntry),
	offsetof(PaTenantEntry, mutex), offsetof(PaTenantEntry, usage),
	&pa_max_tenants
};
static const PaTable pa_statements_table = {
	&pa_tenant_stmt_hash, sizeof(PaTenantStmtKey), sizeof(PaTenantStmtEntry),
	offsetof(PaTenantStmtEntry, mutex), offsetof(PaTenantStmtEntry, usage),
	&pa_max_tenant_statements
};

/*
 * Find an entry with the lock held shared, or add it.  Returns with the
 * lock held, exclusively if *exclusive was set (which taking it
 * exclusively does): the lock is released in between, so entries found
 * before may be gone.  NULL when shared memory is exhausted.
 */
static void *
pa_entry(const PaTable *t, const void *key, uint32 hashvalue, bool *exclusive)
{
	HTAB	   *hash = *t->hash;
	char	   *e = hash_search_with_hash_value(hash, key, hashvalue, HASH_FIND, NULL);

	if (e != NULL)
		return e;

	if (!*exclusive)
	{
		LWLockRelease(pa_shared->tenant_lock);
		LWLockAcquire(pa_shared->tenant_lock, LW_EXCLUSIVE);
		*exclusive = true;
		e = hash_search_with_hash_value(hash, key, hashvalue, HASH_FIND, NULL);
		if (e != NULL)
			return e;
	}
	if (hash_get_num_entries(hash) >= *t->max_entries)
		pa_evict(hash, t->usage_off);
	e = hash_search_with_hash_value(hash, key, hashvalue, HASH_ENTER_NULL, NULL);
	if (e == NULL)
		return NULL;
	memset(e + t->keysize, 0, t->entrysize - t->keysize);
	SpinLockInit((slock_t *) (e + t->mutex_off));
	return e;
}

void
pa_tenant_stats_record(const char *tenant, uint64 queryid,
					   double duration_ms, uint64 rows,
					   int seq_scans, bool unscoped)
{
	PaTenantStmtKey skey;
	PaTenantEntry *te;
	PaTenantStmtEntry *se = NULL;
	bool		exclusive = false;
	uint32		th;
	int			bucket = pa_hist_bucket(duration_ms);
	TimestampTz now = GetCurrentStatementStartTimestamp();

	/* The key is compared as bytes: pad it. */
	memset(&skey, 0, sizeof(skey));
	skey.tenant.dbid = MyDatabaseId;
	if (tenant != NULL)
	{
		skey.tenant.has_tenant = true;
		pa_clip_tenant(skey.tenant.tenant, tenant);	/* the rest stays zero */
	}
	skey.queryid = queryid;
	th = pa_tenant_hash_of(&skey.tenant);

	LWLockAcquire(pa_shared->tenant_lock, LW_SHARED);

	te = pa_entry(&pa_tenants_table, &skey.tenant, th, &exclusive);
	if (queryid != UINT64CONST(0))
	{
		bool		was_exclusive = exclusive;

		se = pa_entry(&pa_statements_table, &skey, pa_stmt_hash_of(th, queryid),
					  &exclusive);
		/*
		 * The lock was released to be taken exclusively: reset() or another
		 * backend's eviction may have removed the tenant entry meanwhile.
		 * Find or add it again, so that the call is counted in both tables
		 * (tenant_stats and tenant_statements never disagree).
		 */
		if (exclusive && !was_exclusive)
			te = pa_entry(&pa_tenants_table, &skey.tenant, th, &exclusive);
	}

	if (te != NULL)
	{
		SpinLockAcquire(&te->mutex);
		te->calls++;
		te->total_ms += duration_ms;
		if (duration_ms > te->max_ms)
			te->max_ms = duration_ms;
		te->rows += rows;
		te->seq_scans += seq_scans;
		if (unscoped)
			te->unscoped_calls++;
		te->last_seen = now;
		te->usage += 1.0;
		te->hist[bucket]++;
		SpinLockRelease(&te->mutex);
	}
	if (se != NULL)
	{
		SpinLockAcquire(&se->mutex);
		se->calls++;
		se->total_ms += duration_ms;
		if (duration_ms > se->max_ms)
			se->max_ms = duration_ms;
		se->rows += rows;
		se->usage += 1.0;
		SpinLockRelease(&se->mutex);
	}
	LWLockRelease(pa_shared->tenant_lock);
}

/* ----------------------------------------------------------------
 * SQL functions
 * ----------------------------------------------------------------
 */

static void
pa_require_stats(void)
{
	pa_require_preload();
	if (!pa_tenant_stats_ready)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_perfaudit tenant statistics are not set up")));
}

/*
 * Tenants are kept as the bytes of their own database's encoding, and the
 * views show every database's: a tenant of another database, unless it is
 * ASCII, must be converted to be valid text here.  That needs the catalogs,
 * which are not read with tenant_lock held (a backend holding a catalog
 * lock may be waiting for tenant_lock): such entries are copied under the
 * lock and turned into rows after it.
 */
static bool
pa_tenant_needs_conversion(const PaTenantKey *k)
{
	const char *p;

	if (!k->has_tenant || k->dbid == MyDatabaseId)
		return false;
	for (p = k->tenant; *p; p++)
		if (IS_HIGHBIT_SET(*p))
			return true;
	return false;
}

/* A tenant of database dbid as text of this database's encoding. */
static Datum
pa_tenant_datum(const PaTenantKey *k)
{
	int			encoding = -1;	/* a dropped database's: unknown */
	HeapTuple	tup;

	if (!pa_tenant_needs_conversion(k))
		return CStringGetTextDatum(k->tenant);
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(k->dbid));
	if (HeapTupleIsValid(tup))
	{
		encoding = ((Form_pg_database) GETSTRUCT(tup))->encoding;
		ReleaseSysCache(tup);
	}
	return CStringGetTextDatum(pa_text_from_encoding(k->tenant, strlen(k->tenant),
													 encoding));
}

/* Add one copied entry to a view's rows. */
typedef void (*PaEmitFn) (ReturnSetInfo *rsinfo, const void *entry);

/*
 * Emit every entry of hash (entrysize bytes, its spinlock at mutex_off and
 * its PaTenantKey at key_off): each is copied under its spinlock while
 * tenant_lock is held shared, and turned into a row then, or after the
 * lock is released when its tenant needs converting.
 */
static void
pa_snapshot(ReturnSetInfo *rsinfo, HTAB *hash, Size entrysize, Size mutex_off,
			Size key_off, PaEmitFn emit)
{
	HASH_SEQ_STATUS status;
	char	   *e;
	char	   *c = palloc(entrysize);
	List	   *later = NIL;
	ListCell   *lc;

	LWLockAcquire(pa_shared->tenant_lock, LW_SHARED);
	hash_seq_init(&status, hash);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		slock_t    *mutex = (slock_t *) (e + mutex_off);

		SpinLockAcquire(mutex);
		memcpy(c, e, entrysize);
		SpinLockRelease(mutex);
		if (pa_tenant_needs_conversion((const PaTenantKey *) (c + key_off)))
			later = lappend(later, memcpy(palloc(entrysize), c, entrysize));
		else
			emit(rsinfo, c);
	}
	LWLockRelease(pa_shared->tenant_lock);
	foreach(lc, later)
		emit(rsinfo, lfirst(lc));
}

#define PA_TENANT_STATS_COLS	11

static void
pa_emit_tenant(ReturnSetInfo *rsinfo, const void *entry)
{
	const PaTenantEntry *c = (const PaTenantEntry *) entry;
	Datum		values[PA_TENANT_STATS_COLS];
	bool		nulls[PA_TENANT_STATS_COLS];

	memset(nulls, 0, sizeof(nulls));
	if (c->key.has_tenant)
		values[0] = pa_tenant_datum(&c->key);
	else
		nulls[0] = true;
	values[1] = ObjectIdGetDatum(c->key.dbid);
	values[2] = Int64GetDatum(c->calls);
	values[3] = Float8GetDatum(c->total_ms);
	values[4] = Float8GetDatum(c->calls > 0 ? c->total_ms / c->calls : 0);
	values[5] = Float8GetDatum(c->max_ms);
	values[6] = Float8GetDatum(pa_hist_p95(c->hist, c->max_ms));
	values[7] = Int64GetDatum(c->rows);
	values[8] = Int64GetDatum(c->seq_scans);
	values[9] = Int64GetDatum(c->unscoped_calls);
	values[10] = TimestampTzGetDatum(c->last_seen);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

#define PA_TENANT_STATEMENTS_COLS	8

static void
pa_emit_statement(ReturnSetInfo *rsinfo, const void *entry)
{
	const PaTenantStmtEntry *c = (const PaTenantStmtEntry *) entry;
	Datum		values[PA_TENANT_STATEMENTS_COLS];
	bool		nulls[PA_TENANT_STATEMENTS_COLS];

	memset(nulls, 0, sizeof(nulls));
	if (c->key.tenant.has_tenant)
		values[0] = pa_tenant_datum(&c->key.tenant);
	else
		nulls[0] = true;
	values[1] = Int64GetDatum((int64) c->key.queryid);
	values[2] = Int64GetDatum(c->calls);
	values[3] = Float8GetDatum(c->total_ms);
	values[4] = Float8GetDatum(c->calls > 0 ? c->total_ms / c->calls : 0);
	values[5] = Float8GetDatum(c->max_ms);
	values[6] = Int64GetDatum(c->rows);
	values[7] = ObjectIdGetDatum(c->key.tenant.dbid);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* perfaudit._tenant_stats(): the rows of the tenant_stats view. */
Datum
pa_tenant_stats(PG_FUNCTION_ARGS)
{
	pa_require_stats();
	InitMaterializedSRF(fcinfo, 0);
	pa_snapshot((ReturnSetInfo *) fcinfo->resultinfo, pa_tenant_hash,
				sizeof(PaTenantEntry), offsetof(PaTenantEntry, mutex),
				offsetof(PaTenantEntry, key), pa_emit_tenant);
	return (Datum) 0;
}

/* perfaudit._tenant_statements(): the rows of the tenant_statements view. */
Datum
pa_tenant_statements(PG_FUNCTION_ARGS)
{
	pa_require_stats();
	InitMaterializedSRF(fcinfo, 0);
	pa_snapshot((ReturnSetInfo *) fcinfo->resultinfo, pa_tenant_stmt_hash,
				sizeof(PaTenantStmtEntry), offsetof(PaTenantStmtEntry, mutex),
				offsetof(PaTenantStmtEntry, key.tenant), pa_emit_statement);
	return (Datum) 0;
}

/* perfaudit.tenant_stats_info(): sizes, evictions, last reset. */
Datum
pa_tenant_stats_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	TimestampTz reset;

	pa_require_stats();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(pa_shared->tenant_lock, LW_SHARED);
	values[0] = Int64GetDatum(hash_get_num_entries(pa_tenant_hash));
	values[1] = Int64GetDatum(pa_max_tenants);
	values[2] = Int64GetDatum(hash_get_num_entries(pa_tenant_stmt_hash));
	values[3] = Int64GetDatum(pa_max_tenant_statements);
	reset = pa_shared->tenant_stats_reset;
	LWLockRelease(pa_shared->tenant_lock);
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&pa_shared->tenant_evictions));
	values[5] = TimestampTzGetDatum(reset);
	memset(nulls, 0, sizeof(nulls));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* perfaudit.reset(): forget every tenant's statistics. */
Datum
pa_tenant_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS status;
	void	   *e;
	TimestampTz now = GetCurrentTimestamp();

	pa_require_stats();
	LWLockAcquire(pa_shared->tenant_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, pa_tenant_hash);
	while ((e = hash_seq_search(&status)) != NULL)
		(void) hash_search(pa_tenant_hash, e, HASH_REMOVE, NULL);
	hash_seq_init(&status, pa_tenant_stmt_hash);
	while ((e = hash_seq_search(&status)) != NULL)
		(void) hash_search(pa_tenant_stmt_hash, e, HASH_REMOVE, NULL);
	pa_shared->tenant_stats_reset = now;
	pg_atomic_write_u64(&pa_shared->tenant_evictions, 0);
	LWLockRelease(pa_shared->tenant_lock);
	PG_RETURN_TIMESTAMPTZ(now);
}
