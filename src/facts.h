/*-------------------------------------------------------------------------
 *
 * facts.h
 *		The plan-facts string: what a finding needs to know about one plan
 *		(seq_scan and unscoped_tenant_query entries), encoded once per plan
 *		by plan_inspect.c and carried as one string through run buffers and
 *		benchmark workers.  The only code that knows its encoding.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_FACTS_H
#define PA_FACTS_H

#include "lib/stringinfo.h"

/* One fact, as decoded: each field a NUL-terminated string, never NULL. */
typedef struct PaFact
{
	const char *kind;			/* "seq_scan", "unscoped_tenant_query" */
	const char *relation;		/* schema-qualified, quoted as needed */
	const char *suggestion;		/* a statement to run, or "" */
	const char *rows;			/* the relation's estimated rows, or "" */
} PaFact;

/* Append one fact to buf (a facts string under construction). */
extern void pa_fact_append(StringInfo buf, const char *kind, const char *relation,
						   const char *suggestion, double rows);

/*
 * Decode the next fact at *cursor (a facts string, or NULL) into *fact,
 * its fields palloc'd; advances *cursor.  False at the end.  An entry
 * without a relation is skipped.
 */
extern bool pa_fact_next(const char **cursor, PaFact *fact);

/*
 * The length of the longest prefix of facts that has fewer than max bytes
 * and ends after a whole fact (for a fixed-size copy).
 */
extern Size pa_facts_clip(const char *facts, Size max);

#endif							/* PA_FACTS_H */
