/*-------------------------------------------------------------------------
 *
 * stmtid.h
 *		Statement identity: query identifiers, statement texts, parameter
 *		fingerprints, and the deparsed texts of SQL-standard function bodies.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_STMTID_H
#define PA_STMTID_H

#include "lib/ilist.h"
#include "nodes/params.h"
#include "nodes/plannodes.h"
#include "utils/palloc.h"

/*
 * The query identifier type became int64 in 18 (uint64 before).  We keep it
 * as uint64 internally and print it as the signed bigint SQL sees.
 */
#define PA_QUERYID(stmt) ((uint64) (stmt)->queryId)

/*
 * A statement's identifier: core's, or when core has none (compute_query_id
 * off, a utility statement passed on by pg_stat_statements) a hash of its
 * text within source.
 */
extern uint64 pa_stmt_queryid(const PlannedStmt *pstmt, const char *source, bool utility);

/*
 * The text of one statement within a possibly multi-statement source
 * string, trimmed (*out_len bytes, not NUL-terminated); the source may be
 * NULL (some extended-protocol paths).
 */
extern const char *pa_statement_text(const char *src, int location, int len, int *out_len);

/*
 * The query of a DECLARE ... CURSOR ... FOR query statement (stmt, len
 * bytes): its text after the FOR keyword (*out_len bytes), or NULL when it
 * cannot be found.
 */
extern const char *pa_cursor_query_text(const char *stmt, int len, int *out_len);

/* Fingerprints of the literals in a statement text, and of bound values. */
extern uint64 pa_text_fingerprint(const char *s, int len);
extern uint64 pa_params_fingerprint(ParamListInfo params);

/*
 * Statements that have no source text: those of a SQL function written
 * with a SQL-standard body (BEGIN ATOMIC ... END, RETURN ...).  Core runs
 * them from the stored parse trees with an empty source string and no
 * query identifier (stored trees keep none), so they would all share one
 * text ("") and one identifier (the hash of ""), however many functions
 * and statements there are.  The planner deparses such a statement (what
 * \sf prints) and keeps the text and an identifier hashed from it for the
 * plan's ExecutorStart, keyed by the plan; the entry lives in the plan's
 * memory context and leaves the list when that context goes.
 */
typedef struct PaBodyText
{
	dlist_node	node;
	const PlannedStmt *stmt;
	const Plan *plan;			/* a second key: stmt's planTree */
	uint64		queryid;
	int			len;
	MemoryContextCallback cb;
	char		text[FLEXIBLE_ARRAY_MEMBER];
} PaBodyText;


/* Is this source string empty once white space and semicolons are cut? */
extern bool pa_source_empty(const char *src);

/*
 * Keep the deparsed text of a statement planned from an empty source
 * string for its executions (call in the plan's memory context); find it.
 */
extern void pa_body_text_remember(const PlannedStmt *stmt, const char *text);
extern const PaBodyText *pa_body_text_find(const PlannedStmt *stmt);

#endif							/* PA_STMTID_H */
