/*
 * UN/EDIFACT syntax (ISO 9735) tokenizer: splits an interchange into
 * segments, data elements and components, undoing the release character.
 * It knows nothing of any message type; PAXLST (tvs/paxlst.h) is built on
 * it. Untrusted bytes: every segment is bounded (TVS_EDIFACT_MAX_SEGMENT),
 * only printable ASCII is accepted inside segments, and nothing allocates.
 *
 * Segment numbers are 1-based from the start of the interchange. The UNA
 * service string advice is not a segment (ISO 9735 calls it a "string
 * advice"), so UNB is segment 1 whether or not UNA precedes it; every error
 * also gives the byte offset, which is unambiguous.
 */
#ifndef TVS_EDIFACT_H
#define TVS_EDIFACT_H

#include <stddef.h>
#include <stdint.h>

/* Longest segment accepted, in raw bytes from the tag to the terminator
 * (exclusive, release characters included). The longest segment PAXLST's
 * directory allows is FTX: 5 x an..512 of text plus qualifiers, about
 * 2,630 bytes with its separators; every other PAXLST segment is under
 * 1,000 (NAD, the next longest, ~900). 3,000 leaves room for a few hundred
 * release characters in a maximal FTX and still bounds the work per segment. */
#define TVS_EDIFACT_MAX_SEGMENT 3000
/* Data elements per segment (the tag not counted) and components per
 * element. UNB, the widest PAXLST segment, has 11 elements; C080 (party
 * name), the widest composite, has 6 components. */
#define TVS_EDIFACT_MAX_ELEMENTS 32
#define TVS_EDIFACT_MAX_COMPONENTS 16

/* Service characters; release and repetition are '\0' when not used. */
typedef struct tvs_edifact_syntax {
	char component;  /* ':' */
	char element;    /* '+' */
	char decimal;    /* '.' or ',' */
	char release;    /* '?' */
	char repetition; /* ' ' in the UNA means none (syntax 3); '*' in syntax 4 */
	char terminator; /* '\'' */
} tvs_edifact_syntax;

/* One segment, values unescaped and NUL-terminated in buf. */
typedef struct tvs_edifact_segment {
	char tag[4];      /* three upper-case letters */
	size_t number;    /* 1-based, UNB = 1 */
	size_t offset;    /* byte offset of the tag in the input */
	int nelem;        /* data elements after the tag */
	uint8_t ncomp[TVS_EDIFACT_MAX_ELEMENTS + 1]; /* [0] is the tag */
	uint16_t off[TVS_EDIFACT_MAX_ELEMENTS + 1][TVS_EDIFACT_MAX_COMPONENTS];
	char buf[TVS_EDIFACT_MAX_SEGMENT + 2]; /* + the tag's NUL and slack */
} tvs_edifact_segment;

typedef struct tvs_edifact_reader {
	const uint8_t *data;
	size_t len, pos;
	size_t nsegments;     /* segments read so far */
	int has_una;
	tvs_edifact_syntax syn;
	/* where the last error was found: segment number, its tag (may be "")
	 * and the exact byte offset of the offending byte */
	size_t err_segment;
	char err_tag[4];
	size_t err_offset;
} tvs_edifact_reader;

/* Start reading data[0..len) (borrowed for the reader's life): reads the
 * UNA service string advice if present, else uses the defaults ':' '+' '.'
 * '?' (no repetition separator) '\''. Returns 0, or TVS_EFORMAT for a
 * truncated UNA or one whose service characters are not distinct printable
 * non-alphanumeric ASCII. */
int tvs_edifact_reader_init(tvs_edifact_reader *r, const uint8_t *data, size_t len);

/* Read the next segment into *seg. CR and LF between segments are skipped
 * (common in practice); inside a segment they are an error. Returns 1 with
 * a segment, 0 at the end of the input, or TVS_EFORMAT (unterminated
 * segment at end of input, byte outside printable ASCII, line break inside
 * a segment, bad release sequence, bad tag, empty segment, too many
 * elements or components) or TVS_ETOOBIG (segment longer than
 * TVS_EDIFACT_MAX_SEGMENT), with the detail in tvs_errmsg() and the
 * position in r->err_*. */
int tvs_edifact_next(tvs_edifact_reader *r, tvs_edifact_segment *seg);

/* Component c of data element e (both 0-based, the tag not counted), or ""
 * when absent. Never NULL; borrowed until seg is reused. */
const char *tvs_edifact_value(const tvs_edifact_segment *seg, int e, int c);

/* 1 if data element e is present with at least one non-empty component. */
int tvs_edifact_has(const tvs_edifact_segment *seg, int e);

#endif
