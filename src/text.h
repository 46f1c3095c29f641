/*-------------------------------------------------------------------------
 *
 * text.h
 *		Text that crosses a size bound, another database's encoding or a
 *		report: clipping at character boundaries, label limits, escaping.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PA_TEXT_H
#define PA_TEXT_H

/* Longest run or benchmark label accepted (bytes), as for baseline names. */
#define PA_MAX_LABEL_LEN	1000

/*
 * The length of the longest prefix of str (len bytes) that has at most
 * max bytes and ends at a character boundary of the database encoding:
 * a cut never leaves part of a multibyte character, which would be
 * stored as invalid text (and break pg_dump's restore of the table).
 */
extern int	pa_clip_len(const char *str, int len, int max);

/*
 * Copy str into dst, a buffer of dstsize bytes, cut at a character
 * boundary and NUL-terminated; returns the bytes copied.
 */
extern int	pa_clip_copy(char *dst, const char *str, Size dstsize);

/*
 * Raise SQLSTATE 22001 unless label (NULL: none) fits PA_MAX_LABEL_LEN;
 * what names the argument in the message ("label").
 */
extern void pa_check_label(const char *label);

/*
 * str (len bytes), stored by a process of a database of encoding
 * src_encoding (-1: unknown), as valid text of this database's encoding:
 * converted when both are known and convertible, else every byte outside
 * ASCII written as \xHH.  Returns a palloc'd, NUL-terminated string.
 */
extern char *pa_text_from_encoding(const char *str, int len, int src_encoding);

#endif							/* PA_TEXT_H */
