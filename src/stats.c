/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Leaf statistics: exact percentiles, sorting of samples, the samples
 *		array a benchmark fills in place, the latency buckets of a run's
 *		per-tenant distributions, and the run-length packing of samples
 *		handed to the writer.
 *
 * No pg_perfaudit header but its own: benchmarks, aggregation and the
 * writer call in, nothing here calls out.
 *
 *-------------------------------------------------------------------------
 */
#include "perfaudit.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "stats.h"

/* percentile_cont over sorted samples. */
double
pa_percentile(const double *sorted, int n, double p)
{
	double		pos = p * (n - 1);
	int			lo = (int) floor(pos);
	int			hi = (int) ceil(pos);

	if (n == 0)
		return 0;
	if (lo == hi)
		return sorted[lo];
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/*
 * pa_qsort_doubles(double *v, size_t n): ascending, by comparison, with
 * the comparison inlined (qsort() calls a comparator through a pointer).
 */
#define ST_SORT pa_qsort_doubles
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define PA_RADIX_BITS	11
#define PA_RADIX_SIZE	(1 << PA_RADIX_BITS)
#define PA_RADIX_PASSES	((64 + PA_RADIX_BITS - 1) / PA_RADIX_BITS)

/* pa_qsort_u64(uint64 *v, size_t n): ascending, by comparison. */
#define ST_SORT pa_qsort_u64
#define ST_ELEMENT_TYPE uint64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Sort n unsigned 64-bit keys ascending.  A benchmark sorts every sample it
 * takes, and a comparison sort spent 10-30 ns on each one, 2-5 % of a
 * trivial statement's execution; a least-significant-digit radix sort
 * takes about 2 ns: one pass counts all digits, then each digit that is
 * not the same in every key (the high digits of samples of similar size
 * are) takes one stable pass.  Short arrays are sorted by comparison.
 */
void
pa_sort_u64(uint64 *keys, size_t n)
{
	uint32	   *counts;
	uint64	   *src;
	uint64	   *dst;
	uint64	   *tmp;
	size_t		i;
	int			d;

	if (n < 256)
	{
		pa_qsort_u64(keys, n);
		return;
	}

	counts = palloc0(sizeof(uint32) * PA_RADIX_PASSES * PA_RADIX_SIZE);
	for (i = 0; i < n; i++)
	{
		uint64		k = keys[i];

		for (d = 0; d < PA_RADIX_PASSES; d++)
			counts[d * PA_RADIX_SIZE + ((k >> (d * PA_RADIX_BITS)) & (PA_RADIX_SIZE - 1))]++;
	}

	tmp = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * n);
	src = keys;
	dst = tmp;
	for (d = 0; d < PA_RADIX_PASSES; d++)
	{
		uint32	   *c = counts + d * PA_RADIX_SIZE;
		int			shift = d * PA_RADIX_BITS;
		uint32		sum = 0;
		int			b;

		/* The same digit in every key: this pass would change nothing. */
		if (c[(src[0] >> shift) & (PA_RADIX_SIZE - 1)] == n)
			continue;
		for (b = 0; b < PA_RADIX_SIZE; b++)
		{
			uint32		cb = c[b];

			c[b] = sum;
			sum += cb;
		}
		for (i = 0; i < n; i++)
			dst[c[(src[i] >> shift) & (PA_RADIX_SIZE - 1)]++] = src[i];
		{
			uint64	   *t = src;

			src = dst;
			dst = t;
		}
	}
	if (src != keys)
		memcpy(keys, src, sizeof(uint64) * n);
	pfree(tmp);
	pfree(counts);
}

/*
 * Sort n doubles ascending.  The bits of non-negative doubles (IEEE 754)
 * order as unsigned integers do, so durations are sorted as such; an array
 * holding a negative value or a NaN is sorted by comparison.
 */
void
pa_sort_doubles(double *values, size_t n)
{
	size_t		i;

	StaticAssertStmt(sizeof(double) == sizeof(uint64), "double is 64 bits");
	for (i = 0; i < n; i++)
		if (!(values[i] >= 0) || signbit(values[i]))	/* negative, -0 or NaN */
		{
			pa_qsort_doubles(values, n);
			return;
		}
	pa_sort_u64((uint64 *) values, n);
}

/*
 * A float8[] with room for capacity samples, to be written in place through
 * PA_SAMPLES(arr) and given its final length by pa_bench_summarise().  The
 * samples are taken straight into the array that is returned and stored:
 * copying tens of thousands of them, each copy into fresh pages, cost more
 * than taking them.
 */
ArrayType *
pa_samples_array(int64 capacity)
{
	ArrayType  *arr;

	if (capacity < 0 || (Size) capacity > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many samples for one array: " INT64_FORMAT, capacity)));
	arr = (ArrayType *) MemoryContextAllocHuge(CurrentMemoryContext,
											   ARR_OVERHEAD_NONULLS(1) +
											   sizeof(double) * (Size) capacity);
	arr->dataoffset = 0;
	arr->elemtype = FLOAT8OID;
	pa_samples_set_length(arr, 0);
	return arr;
}

/*
 * Shorten (or set) the number of samples in arr; its capacity is not
 * checked.  No samples is the empty array, which has no dimensions.
 */
void
pa_samples_set_length(ArrayType *arr, int n)
{
	if (n == 0)
	{
		arr->ndim = 0;
		SET_VARSIZE(arr, ARR_OVERHEAD_NONULLS(0));
		return;
	}
	arr->ndim = 1;
	SET_VARSIZE(arr, ARR_OVERHEAD_NONULLS(1) + sizeof(double) * (Size) n);
	ARR_DIMS(arr)[0] = n;
	ARR_LBOUND(arr)[0] = 1;
}

/*
 * The upper bounds (ms) of the latency buckets that report_html() charts;
 * the last bucket holds everything beyond.  A run keeps one distribution
 * per tenant (aggregate.c).
 */
const double pa_latency_bounds[PA_LATENCY_NBOUNDS] = {
	0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500,
	1000, 2000, 5000, 10000
};

void
pa_latency_add(PaLatency *t, double ms)
{
	int			b = 0;

	while (b < (int) lengthof(pa_latency_bounds) && ms > pa_latency_bounds[b])
		b++;
	t->counts[b]++;
	if (t->calls == t->capacity)
	{
		t->capacity = Max(64, t->capacity * 2);
		t->durations = t->durations == NULL ?
			palloc(sizeof(double) * t->capacity) :
			repalloc_huge(t->durations, sizeof(double) * t->capacity);
	}
	t->durations[t->calls++] = ms;
	t->total_ms += ms;
}

/*
 * Segment layout: the document and its terminating NUL, padding to
 * MAXALIGN, then for a benchmark its samples: a PaSamplesHeader, then
 * either the float8[] as it is in memory, which the writer passes on as it
 * lies in the segment, or, when that is much shorter, runs of equal values.
 * A fast statement's samples are whole nanoseconds, sorted, and hold a few
 * dozen to a few hundred distinct values among tens of thousands: as runs
 * they take a few kB of shared memory instead of 8 bytes each, and the
 * segment's creation, page faults and removal cost nothing per sample.
 */
typedef struct PaSamplesHeader
{
	int64		nsamples;
	int64		nruns;			/* 0: a float8[] follows; else that many runs */
} PaSamplesHeader;

typedef struct PaSampleRun
{
	double		value;
	int64		count;
} PaSampleRun;

/* Runs of bitwise equal adjacent values among n. */
static int64
pa_count_runs(const double *v, int64 n)
{
	int64		runs = n > 0 ? 1 : 0;
	int64		i;

	for (i = 1; i < n; i++)
		if (memcmp(&v[i], &v[i - 1], sizeof(double)) != 0)
			runs++;
	return runs;
}


PaSamplesPacking
pa_samples_plan(const ArrayType *samples)
{
	PaSamplesPacking p;
	Size		raw = VARSIZE(samples);
	Size		packed;

	p.nsamples = ARR_NDIM(samples) == 0 ? 0 : ARR_DIMS(samples)[0];
	p.nruns = pa_count_runs(PA_SAMPLES(samples), p.nsamples);
	packed = mul_size(p.nruns, sizeof(PaSampleRun));
	if (packed >= raw / 2)
		p.nruns = 0;
	p.size = add_size(MAXALIGN(sizeof(PaSamplesHeader)), p.nruns > 0 ? packed : raw);
	return p;
}

void
pa_samples_pack(const ArrayType *samples, const PaSamplesPacking *p, char *dst)
{
	PaSamplesHeader *h = (PaSamplesHeader *) dst;
	const double *v = PA_SAMPLES(samples);
	int64		n = p->nsamples;

	h->nsamples = n;
	h->nruns = p->nruns;
	if (p->nruns == 0)
		memcpy(dst + MAXALIGN(sizeof(PaSamplesHeader)), samples, VARSIZE(samples));
	else
	{
		PaSampleRun *runs = (PaSampleRun *) (dst + MAXALIGN(sizeof(PaSamplesHeader)));
		int64		r = 0;
		int64		i;

		runs[0].value = v[0];
		runs[0].count = 1;
		for (i = 1; i < n; i++)
		{
			if (memcmp(&v[i], &v[i - 1], sizeof(double)) != 0)
			{
				r++;
				runs[r].value = v[i];
				runs[r].count = 0;
			}
			runs[r].count++;
		}
		Assert(r + 1 == p->nruns);
	}
}

Datum
pa_samples_unpack(const char *at)
{
	const PaSamplesHeader *h = (const PaSamplesHeader *) at;
	const PaSampleRun *runs;
	ArrayType  *arr;
	double	   *out;
	int64		total = 0;
	int64		r;

	if (h->nruns == 0)
		return PointerGetDatum(at + MAXALIGN(sizeof(PaSamplesHeader)));
	if (h->nsamples < 0 || h->nsamples > PA_MAX_SAMPLES)
		elog(ERROR, "invalid number of samples in the request: " INT64_FORMAT, h->nsamples);
	arr = pa_samples_array(h->nsamples);
	out = PA_SAMPLES(arr);
	runs = (const PaSampleRun *) (at + MAXALIGN(sizeof(PaSamplesHeader)));
	for (r = 0; r < h->nruns; r++)
	{
		int64		c;

		if (runs[r].count <= 0 || runs[r].count > h->nsamples - total)
			elog(ERROR, "invalid run of samples in the request");
		for (c = 0; c < runs[r].count; c++)
			out[total++] = runs[r].value;
	}
	if (total != h->nsamples)
		elog(ERROR, "invalid runs of samples in the request");
	pa_samples_set_length(arr, (int) total);
	return PointerGetDatum(arr);
}
