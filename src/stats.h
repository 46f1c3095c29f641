/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Leaf statistics: percentiles, sorting, sample arrays, latency
 *		buckets, and the packing of samples for the writer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_STATS_H
#define PA_STATS_H

#include "utils/array.h"

/* Most samples one array (one benchmark) holds. */
#define PA_MAX_SAMPLES		10000000

/* percentile_cont over n sorted values. */
extern double pa_percentile(const double *sorted, int n, double p);

/* Sort unsigned 64-bit keys ascending (radix sort). */
extern void pa_sort_u64(uint64 *keys, size_t n);

/* Sort doubles ascending (radix sort for non-negative values). */
extern void pa_sort_doubles(double *values, size_t n);

/*
 * A float8[] with room for capacity samples, written in place through
 * PA_SAMPLES(arr) and given its length by pa_samples_set_length().
 */
extern ArrayType *pa_samples_array(int64 capacity);
extern void pa_samples_set_length(ArrayType *arr, int n);

/* The samples of a pa_samples_array(), as a C array. */
#define PA_SAMPLES(arr)	((double *) ((char *) (arr) + ARR_OVERHEAD_NONULLS(1)))

/*
 * A latency distribution: exact percentiles over the kept durations, and
 * counts in fixed buckets (upper bounds pa_latency_bounds, then one for
 * beyond) for charts.
 */
#define PA_LATENCY_NBOUNDS	19
#define PA_LATENCY_BUCKETS	(PA_LATENCY_NBOUNDS + 1)
extern const double pa_latency_bounds[PA_LATENCY_NBOUNDS];

typedef struct PaLatency
{
	int64		calls;
	double		total_ms;
	int64		counts[PA_LATENCY_BUCKETS];
	double	   *durations;		/* palloc'd in the current context */
	int64		capacity;
} PaLatency;

extern void pa_latency_add(PaLatency *t, double ms);

/*
 * Samples handed to another process: pa_samples_plan() decides the layout
 * (the array as it is, or runs of equal values when that is much shorter)
 * and its size; pa_samples_pack() writes it at a MAXALIGNed dst;
 * pa_samples_unpack() returns the float8[] (in place when not packed).
 */
typedef struct PaSamplesPacking
{
	int64		nsamples;
	int64		nruns;			/* 0: the array as it is */
	Size		size;			/* bytes pa_samples_pack() writes */
} PaSamplesPacking;

extern PaSamplesPacking pa_samples_plan(const ArrayType *samples);
extern void pa_samples_pack(const ArrayType *samples, const PaSamplesPacking *p, char *dst);
extern Datum pa_samples_unpack(const char *src);

#endif							/* PA_STATS_H */
