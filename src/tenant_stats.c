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
 * Usage: an entry's calls, halved every PA_EPOCH_USEC (10 s) of
 * statement time (lazily, when the entry is next updated or looked at), so
 * that "busy" means many calls lately.
 *
 * Admission and eviction.  Until a table is full every new key is added.
 * Once it has been full, a key not in the table is admitted only if it is
 * clearly busier than the tables' residents: its recent calls, counted in
 * a small shared array of (hash tag, count) slots as it keeps missing,
 * must exceed PA_ADMIT_FACTOR times the median resident usage of the last
 * eviction pass (aged like the usage).  A key not admitted is counted in
 * its database's "(other)" entry, which is found with the lock held shared
 * like any entry: a stream of tenants seen once or twice (200,000 tenants
 * into 10,000 entries) no longer takes the lock exclusively at every
 * statement, and does not push busy tenants out.  Admitting a key into a
 * full table runs an eviction pass: the 5 % of entries with the lowest
 * usage (at least one) are removed and their counts added to their
 * database's "(other)" entry, so the totals over tenant_stats stay exact
 * since the last reset().  In tenant_stats the "(other)" and no-tenant
 * entries (one of each per database) are never evicted, and only named
 * tenants are subject to admission; in tenant_statements those rows (one
 * per statement each) are evicted like the others, their counts dropped,
 * as pg_stat_statements drops an evicted statement's.  Neither table ever
 * grows past its bound.  A slot
 * held by another key is worn down by one per miss and taken over at zero,
 * so a busy key gets a slot of its own while keys seen once keep replacing
 * each other at count 1.  What it costs in accuracy: a tenant's calls
 * before its admission, and an evicted tenant's, are in "(other)", not in
 * its own row (its row counts from its admission).  Evictions are counted
 * (tenant_stats_info()).
 *
 * Locking contract
 * ----------------
 * PaSharedState->tenant_lock protects the two hash tables' structure and
 * each table's admission floor: shared to look an entry up, update it and
 * read the floor, exclusive to add, evict or reset entries and to set the
 * floor.  The admission slots are read and written without a lock (one
 * 64-bit word each, atomically): a lost update only makes a count
 * approximate.  The counters of an entry are protected by the entry's
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

#define PA_EPOCH_USEC		INT64CONST(10000000)	/* usage halves every 10 s */
#define PA_ADMIT_FACTOR		2.0

/* What a tenant key names. */
#define PA_TK_NONE			0	/* no tenant known (the NULL row) */
#define PA_TK_NAMED			1	/* a tenant */
#define PA_TK_OTHER			2	/* the database's tenants not admitted */

/* How the views name the "(other)" entries. */
#define PA_OTHER_TENANT		"(other)"

/* Lookup key: both tables start with the tenant key. */
typedef struct PaTenantKey
{
	Oid			dbid;
	uint8		kind;			/* PA_TK_* */
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
	uint32		usage_epoch;
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
	uint32		usage_epoch;
} PaTenantStmtEntry;

/*
 * A table's admission state: the floor a key must beat (PA_ADMIT_FACTOR x
 * the median usage of the last eviction pass, in the usage epoch it was
 * taken), and the slots counting the misses of keys not admitted: each
 * 64-bit word is a 32-bit hash tag, a 24-bit count and the low 8 bits of
 * the epoch the count is of.
 */
typedef struct PaAdmission
{
	bool		has_floor;		/* no pass yet: admit every key */
	double		floor;
	uint32		floor_epoch;
	uint32		slot_mask;
	pg_atomic_uint64 slots[FLEXIBLE_ARRAY_MEMBER];
} PaAdmission;

bool		pa_tenant_stats_ready = false;

static HTAB *pa_tenant_hash = NULL;
static HTAB *pa_tenant_stmt_hash = NULL;
static PaAdmission *pa_tenant_adm = NULL;
static PaAdmission *pa_tenant_stmt_adm = NULL;

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

	return hash_combine(h, hash_bytes_uint32(k->dbid ^ ((uint32) k->kind << 29)));
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

/* Admission slots of a table of max_entries: a power of two >= 2x, >= 1024. */
static uint32
pa_adm_slots(int max_entries)
{
	uint32		n = 1024;

	while (n < (uint32) max_entries * 2 && n < ((uint32) 1 << 30))
		n <<= 1;
	return n;
}

static Size
pa_adm_size(int max_entries)
{
	return add_size(offsetof(PaAdmission, slots),
					mul_size(pa_adm_slots(max_entries), sizeof(pg_atomic_uint64)));
}

static PaAdmission *
pa_adm_init(const char *name, int max_entries)
{
	bool		found;
	PaAdmission *a = ShmemInitStruct(name, pa_adm_size(max_entries), &found);

	if (!found)
	{
		uint32		n = pa_adm_slots(max_entries);
		uint32		i;

		a->has_floor = false;
		a->floor = 0;
		a->floor_epoch = 0;
		a->slot_mask = n - 1;
		for (i = 0; i < n; i++)
			pg_atomic_init_u64(&a->slots[i], 0);
	}
	return a;
}

/* Forget a table's misses (reset(), after its floor). */
static void
pa_adm_reset(PaAdmission *a)
{
	uint32		i;

	for (i = 0; i <= a->slot_mask; i++)
		pg_atomic_write_u64(&a->slots[i], 0);
}

static Size
pa_tenant_stats_shmem_size(void)
{
	Size		size;

	size = add_size(hash_estimate_size(pa_max_tenants, sizeof(PaTenantEntry)),
					hash_estimate_size(pa_max_tenant_statements,
									   sizeof(PaTenantStmtEntry)));
	size = add_size(size, pa_adm_size(pa_max_tenants));
	return add_size(size, pa_adm_size(pa_max_tenant_statements));
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
	pa_tenant_adm = pa_adm_init("pg_perfaudit tenant admission", pa_max_tenants);
	pa_tenant_stmt_adm = pa_adm_init("pg_perfaudit tenant statement admission",
									 pa_max_tenant_statements);
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
 * Usage, admission and eviction
 * ----------------------------------------------------------------
 */

/* The usage epoch of a time: PA_EPOCH_USEC periods. */
static inline uint32
pa_epoch_of(TimestampTz t)
{
	return (uint32) ((uint64) t / (uint64) PA_EPOCH_USEC);
}

/*
 * usage taken in epoch from, halved for every epoch since, as of now.  A
 * "now" before from (a statement started before another that updated the
 * entry: a long one, nested statements of a long DO block, a race across
 * an epoch boundary, a clock stepped back) ages nothing.
 */
static inline double
pa_aged(double usage, uint32 from, uint32 now)
{
	int32		d = (int32) (now - from);

	if (d <= 0)
		return usage;
	return d >= 64 ? 0.0 : ldexp(usage, -d);
}

/* Is epoch a later than b? */
static inline bool
pa_epoch_after(uint32 a, uint32 b)
{
	return (int32) (a - b) > 0;
}

/*
 * One more miss of the key of hash h in a's slots; returns its recent
 * misses (0 when its slot is held by another key, which loses one).
 */
static uint32
pa_candidate_count(PaAdmission *a, uint32 h, uint32 epoch)
{
	pg_atomic_uint64 *slot = &a->slots[(h * (uint32) 0x9E3779B1) & a->slot_mask];
	uint64		v = pg_atomic_read_u64(slot);
	uint32		tag = (uint32) (v >> 32);
	uint32		count = (uint32) (v >> 8) & 0xFFFFFF;
	int8		d = (int8) ((uint8) epoch - (uint8) v);

	/*
	 * (Only 8 bits of the epoch are kept: a count last written a multiple
	 * of 256 epochs ago, about 43 minutes, looks current; one written by a
	 * later epoch than this statement's ages nothing.)
	 */
	if (d > 0)
		count = d >= 24 ? 0 : count >> d;
	if (tag == h || count == 0)
	{
		if (tag != h)
			count = 0;
		if (count < 0xFFFFFF)
			count++;
		tag = h;
	}
	else
		count--;
	pg_atomic_write_u64(slot, ((uint64) tag << 32) | ((uint64) count << 8) | (uint8) epoch);
	return tag == h ? count : 0;
}

/* Where a table's entries keep their lock and usage, and how they fold. */
typedef struct PaTable
{
	HTAB	  **hash;
	PaAdmission **adm;
	Size		keysize;
	Size		entrysize;
	Size		mutex_off;
	Size		usage_off;		/* double usage, then uint32 usage_epoch */
	Size		epoch_off;
	int		   *max_entries;
	/* the key's tenant part */
	PaTenantKey *(*tenant_of) (void *key);
	/*
	 * The no-tenant and "(other)" entries are never evicted (tenant_stats:
	 * one of each per database); else they are evicted like the others,
	 * their counts dropped (tenant_statements: one per statement each).
	 */
	bool		pin_special;
	/* add the counters of from into into (both entries of this table) */
	void		(*fold) (void *into, const void *from);
} PaTable;

static PaTenantKey *
pa_tenant_key_of(void *key)
{
	return (PaTenantKey *) key;
}

static PaTenantKey *
pa_stmt_key_of(void *key)
{
	return &((PaTenantStmtKey *) key)->tenant;
}

static void
pa_fold_tenant(void *into, const void *from)
{
	PaTenantEntry *t = into;
	const PaTenantEntry *f = from;
	int			b;

	t->calls += f->calls;
	t->total_ms += f->total_ms;
	t->max_ms = Max(t->max_ms, f->max_ms);
	t->rows += f->rows;
	t->seq_scans += f->seq_scans;
	t->unscoped_calls += f->unscoped_calls;
	t->last_seen = Max(t->last_seen, f->last_seen);
	for (b = 0; b < PA_HIST_BUCKETS; b++)
		t->hist[b] += f->hist[b];
}

static void
pa_fold_stmt(void *into, const void *from)
{
	PaTenantStmtEntry *t = into;
	const PaTenantStmtEntry *f = from;

	t->calls += f->calls;
	t->total_ms += f->total_ms;
	t->max_ms = Max(t->max_ms, f->max_ms);
	t->rows += f->rows;
}

static const PaTable pa_tenants_table = {
	&pa_tenant_hash, &pa_tenant_adm, sizeof(PaTenantKey), sizeof(PaTenantEntry),
	offsetof(PaTenantEntry, mutex), offsetof(PaTenantEntry, usage),
	offsetof(PaTenantEntry, usage_epoch), &pa_max_tenants,
	pa_tenant_key_of, true, pa_fold_tenant
};
static const PaTable pa_statements_table = {
	&pa_tenant_stmt_hash, &pa_tenant_stmt_adm, sizeof(PaTenantStmtKey),
	sizeof(PaTenantStmtEntry), offsetof(PaTenantStmtEntry, mutex),
	offsetof(PaTenantStmtEntry, usage), offsetof(PaTenantStmtEntry, usage_epoch),
	&pa_max_tenant_statements, pa_stmt_key_of, false, pa_fold_stmt
};

/* Make key (of table t) name its database's "(other)" entry instead. */
static void
pa_make_other(const PaTable *t, void *key)
{
	PaTenantKey *k = t->tenant_of(key);

	k->kind = PA_TK_OTHER;
	memset(k->tenant, 0, sizeof(k->tenant));
}

static uint32
pa_hash_of_key(const PaTable *t, const void *key)
{
	return pa_key_hash(key, t->keysize);
}

/* A new entry's counters: zero, usage in the current epoch. */
static void
pa_init_entry(const PaTable *t, char *e, uint32 epoch)
{
	memset(e + t->keysize, 0, t->entrysize - t->keysize);
	SpinLockInit((slock_t *) (e + t->mutex_off));
	*(uint32 *) (e + t->epoch_off) = epoch;
}

static int
pa_usage_cmp(const void *a, const void *b)
{
	double		ua = **(double *const *) a;
	double		ub = **(double *const *) b;

	return ua < ub ? -1 : ua > ub ? 1 : 0;
}

/*
 * An eviction pass over table t, lock held exclusively: every entry's
 * usage is aged to epoch, the lowest 5 % (at least one) of the entries
 * other than "(other)" are removed and folded into their database's
 * "(other)" entry, and the admission floor becomes PA_ADMIT_FACTOR x the
 * median usage.
 */
static void
pa_evict(const PaTable *t, uint32 epoch)
{
	HTAB	   *hash = *t->hash;
	PaAdmission *a = *t->adm;
	HASH_SEQ_STATUS status;
	long		n = hash_get_num_entries(hash);
	double	  **usages;
	char	   *victims;
	char	   *entry;
	long		i = 0;
	long		nvictims;
	long		v;

	usages = palloc(sizeof(double *) * Max(n, 1));
	hash_seq_init(&status, hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		double	   *u = (double *) (entry + t->usage_off);
		uint32	   *ue = (uint32 *) (entry + t->epoch_off);

		uint8		kind = t->tenant_of(entry)->kind;

		if (pa_epoch_after(epoch, *ue))
		{
			*u = pa_aged(*u, *ue, epoch);
			*ue = epoch;
		}
		if (kind == PA_TK_NAMED || !t->pin_special)
			usages[i++] = u;
	}
	if (i == 0)
	{
		pfree(usages);
		return;
	}
	qsort(usages, i, sizeof(double *), pa_usage_cmp);
	a->floor = PA_ADMIT_FACTOR * *usages[i / 2];
	if (!a->has_floor || pa_epoch_after(epoch, a->floor_epoch))
		a->floor_epoch = epoch;
	a->has_floor = true;
	nvictims = Max(1, i / 20);

	/*
	 * Copy the victims out, remove them, then fold them: each fold creates
	 * at most one "(other)" entry, in the room its victim left, so the
	 * table never grows past its bound.
	 */
	victims = palloc(t->entrysize * nvictims);
	for (v = 0; v < nvictims; v++)
		memcpy(victims + v * t->entrysize, ((char *) usages[v]) - t->usage_off, t->entrysize);
	for (v = 0; v < nvictims; v++)
		(void) hash_search(hash, victims + v * t->entrysize, HASH_REMOVE, NULL);
	pa_shared->tenant_generation++;
	for (v = 0; v < nvictims; v++)
	{
		char	   *victim = victims + v * t->entrysize;
		char		key[sizeof(PaTenantStmtKey)];
		char	   *other;
		bool		found;

		/* (a statement without a tenant is not another tenant's) */
		if (t->tenant_of(victim)->kind != PA_TK_NAMED)
			continue;
		memcpy(key, victim, t->keysize);
		pa_make_other(t, key);
		other = hash_search_with_hash_value(hash, key, pa_hash_of_key(t, key),
											HASH_ENTER_NULL, &found);
		if (other == NULL)
			continue;
		if (!found)
			pa_init_entry(t, other, epoch);
		t->fold(other, victim);
	}
	pg_atomic_fetch_add_u64(&pa_shared->tenant_evictions, nvictims);
	pfree(victims);
	pfree(usages);
}

/*
 * Find the entry of key (hash *hashvalue) with the lock held shared, or
 * admit it, or, when the table is full and the key is not busier than the
 * admission floor, find its database's "(other)" entry instead: key and
 * *hashvalue are then changed to that entry's.  Returns with the lock
 * held, exclusively if *exclusive was set (which taking it exclusively
 * does): the lock is released in between, so entries found before may be
 * gone.  NULL when shared memory is exhausted.
 */
static void *
pa_entry(const PaTable *t, void *key, uint32 *hashvalue, uint32 epoch, bool *exclusive)
{
	HTAB	   *hash = *t->hash;
	char	   *e = hash_search_with_hash_value(hash, key, *hashvalue, HASH_FIND, NULL);

	if (e != NULL)
		return e;

	/*
	 * Once the table has been full (an eviction pass set the floor), a new
	 * key must beat the floor even while the room the pass freed lasts:
	 * otherwise every pass would let the next few hundred keys in, each
	 * taking the lock exclusively, whatever their calls.
	 */
	if ((*t->adm)->has_floor && t->tenant_of(key)->kind == PA_TK_NAMED)
	{
		PaAdmission *a = *t->adm;
		uint32		count = pa_candidate_count(a, *hashvalue, epoch);

		/* (the floor is written with the lock held exclusively) */
		if (count <= pa_aged(a->floor, a->floor_epoch, epoch))
		{
			pa_make_other(t, key);
			*hashvalue = pa_hash_of_key(t, key);
			e = hash_search_with_hash_value(hash, key, *hashvalue, HASH_FIND, NULL);
			if (e != NULL)
				return e;
		}
	}

	if (!*exclusive)
	{
		LWLockRelease(pa_shared->tenant_lock);
		LWLockAcquire(pa_shared->tenant_lock, LW_EXCLUSIVE);
		*exclusive = true;
		e = hash_search_with_hash_value(hash, key, *hashvalue, HASH_FIND, NULL);
		if (e != NULL)
			return e;
	}
	if (hash_get_num_entries(hash) >= *t->max_entries)
	{
		pa_evict(t, epoch);
		/*
		 * Still full (every entry pinned: more databases than the table
		 * has room for): never grow past the bound, which would eat the
		 * shared memory the rest of the server allocates from; count a
		 * tenant in its "(other)" entry if there is one, else not here.
		 */
		if (hash_get_num_entries(hash) >= *t->max_entries)
		{
			if (t->tenant_of(key)->kind != PA_TK_NAMED)
				return NULL;
			pa_make_other(t, key);
			*hashvalue = pa_hash_of_key(t, key);
			return hash_search_with_hash_value(hash, key, *hashvalue, HASH_FIND, NULL);
		}
	}
	{
		bool		found;

		/* (the pass may just have created this very "(other)" entry) */
		e = hash_search_with_hash_value(hash, key, *hashvalue, HASH_ENTER_NULL, &found);
		if (e == NULL)
			return NULL;
		if (!found)
			pa_init_entry(t, e, epoch);
	}
	return e;
}

/* One more call of an entry, its spinlock held: usage aged, then + 1. */
static inline void
pa_use(double *usage, uint32 *usage_epoch, uint32 epoch)
{
	if (pa_epoch_after(epoch, *usage_epoch))
	{
		*usage = pa_aged(*usage, *usage_epoch, epoch);
		*usage_epoch = epoch;
	}
	*usage += 1.0;
}

/*
 * The entries this backend counted into last: its tenant's, and the
 * statement entries of the last few queries of that tenant.  An
 * application's request runs a handful of statements for one tenant, an
 * N+1 loop the same one again and again: those find their entries here,
 * without hashing the key or searching the tables.  The pointers are valid
 * while no entry has been removed since (tenant_generation is what it was
 * then, read with the lock held: removal takes it exclusively).  Only
 * entries of the key itself are kept here, never the "(other)" a key was
 * counted in while not admitted: a busy key must still reach admission.
 */
#define PA_STMT_CACHE		8

typedef struct PaEntryCache
{
	uint64		generation;		/* 0: nothing cached */
	uint8		kind;
	char		tenant[PA_MAX_TENANT_LEN + 1];
	PaTenantEntry *te;
	int			nstmts;
	int			next;			/* replaced next when full */
	uint64		queryids[PA_STMT_CACHE];
	PaTenantStmtEntry *stmts[PA_STMT_CACHE];
} PaEntryCache;

static PaEntryCache pa_cache;

/* The cached entries of (kind, tenant, queryid); false: not all cached. */
static inline bool
pa_cache_find(uint8 kind, const char *tenant, uint64 queryid,
			  PaTenantEntry **te, PaTenantStmtEntry **se)
{
	int			i;

	if (pa_cache.generation != pa_shared->tenant_generation ||
		pa_cache.kind != kind ||
		(tenant != NULL && strcmp(pa_cache.tenant, tenant) != 0))
		return false;
	*te = pa_cache.te;
	*se = NULL;
	if (queryid == UINT64CONST(0))
		return true;
	for (i = 0; i < pa_cache.nstmts; i++)
		if (pa_cache.queryids[i] == queryid)
		{
			*se = pa_cache.stmts[i];
			return true;
		}
	return false;
}

/* Remember the entries of key (its own, not an "(other)" it went to). */
static void
pa_cache_store(const PaTenantKey *key, uint8 kind, PaTenantEntry *te,
			   uint64 queryid, PaTenantStmtEntry *se)
{
	int			i;

	if (te == NULL || te->key.kind != kind ||
		(se != NULL && se->key.tenant.kind != kind))
		return;
	if (pa_cache.generation != pa_shared->tenant_generation ||
		pa_cache.te != te)
	{
		pa_cache.generation = pa_shared->tenant_generation;
		pa_cache.kind = kind;
		memcpy(pa_cache.tenant, key->tenant, sizeof(pa_cache.tenant));
		pa_cache.te = te;
		pa_cache.nstmts = 0;
		pa_cache.next = 0;
	}
	if (se == NULL)
		return;
	for (i = 0; i < pa_cache.nstmts; i++)
		if (pa_cache.queryids[i] == queryid)
			return;
	if (pa_cache.nstmts < PA_STMT_CACHE)
		i = pa_cache.nstmts++;
	else
	{
		i = pa_cache.next;
		pa_cache.next = (pa_cache.next + 1) % PA_STMT_CACHE;
	}
	pa_cache.queryids[i] = queryid;
	pa_cache.stmts[i] = se;
}

void
pa_tenant_stats_record(const char *tenant, uint64 queryid,
					   double duration_ms, uint64 rows,
					   int seq_scans, bool unscoped)
{
	PaTenantKey tkey;
	PaTenantStmtKey skey;
	PaTenantEntry *te;
	PaTenantStmtEntry *se = NULL;
	bool		exclusive = false;
	uint32		th;
	uint32		sh;
	int			bucket = pa_hist_bucket(duration_ms);
	TimestampTz now = GetCurrentStatementStartTimestamp();
	uint32		epoch = pa_epoch_of(now);
	uint8		kind = tenant != NULL ? PA_TK_NAMED : PA_TK_NONE;

	LWLockAcquire(pa_shared->tenant_lock, LW_SHARED);

	/* (a tenant longer than a key holds is compared clipped: not here) */
	if ((tenant == NULL || strlen(tenant) <= PA_MAX_TENANT_LEN) &&
		pa_cache_find(kind, tenant, queryid, &te, &se))
		goto count;

	/* The key is compared as bytes: pad it. */
	memset(&tkey, 0, sizeof(tkey));
	tkey.dbid = MyDatabaseId;
	tkey.kind = kind;
	if (tenant != NULL)
		pa_clip_tenant(tkey.tenant, tenant);	/* the rest stays zero */
	th = pa_tenant_hash_of(&tkey);

	/* (a tenant not admitted turns tkey into its "(other)") */
	te = pa_entry(&pa_tenants_table, &tkey, &th, epoch, &exclusive);
	if (queryid != UINT64CONST(0))
	{
		bool		was_exclusive = exclusive;

		memset(&skey, 0, sizeof(skey));
		skey.tenant = tkey;
		skey.queryid = queryid;
		sh = pa_stmt_hash_of(th, queryid);
		se = pa_entry(&pa_statements_table, &skey, &sh, epoch, &exclusive);
		/*
		 * The lock was released to be taken exclusively: reset() or another
		 * backend's eviction may have removed the tenant entry meanwhile.
		 * Find or add it again, so that the call is counted in both tables
		 * (tenant_stats and tenant_statements never disagree).  (The
		 * statement may be counted under "(other)" while its tenant is
		 * counted as itself: the statements table is full.)
		 */
		if (exclusive && !was_exclusive)
			te = pa_entry(&pa_tenants_table, &tkey, &th, epoch, &exclusive);
	}
	pa_cache_store(&tkey, kind, te, queryid, se);

count:
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
		pa_use(&te->usage, &te->usage_epoch, epoch);
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
		pa_use(&se->usage, &se->usage_epoch, epoch);
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

	if (k->kind != PA_TK_NAMED || k->dbid == MyDatabaseId)
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

	if (k->kind == PA_TK_OTHER)
		return CStringGetTextDatum(PA_OTHER_TENANT);
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
	if (c->key.kind != PA_TK_NONE)
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
	if (c->key.tenant.kind != PA_TK_NONE)
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
	pa_shared->tenant_generation++;
	pa_tenant_adm->has_floor = false;
	pa_tenant_stmt_adm->has_floor = false;
	pa_shared->tenant_stats_reset = now;
	pg_atomic_write_u64(&pa_shared->tenant_evictions, 0);
	LWLockRelease(pa_shared->tenant_lock);
	/* (the slots need no lock: with a large bound they are many) */
	pa_adm_reset(pa_tenant_adm);
	pa_adm_reset(pa_tenant_stmt_adm);
	PG_RETURN_TIMESTAMPTZ(now);
}
