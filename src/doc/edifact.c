/*
 * UN/EDIFACT tokenizer (see tvs/edifact.h for the contract).
 *
 * One pass, one byte at a time, straight into the caller's segment: values
 * are unescaped into seg->buf as they are read and each element/component
 * records only a 16-bit offset into it, so a segment costs no allocation
 * and its size is fixed. The raw length of a segment is checked before each
 * byte is consumed, which bounds the work on a hostile input to
 * TVS_EDIFACT_MAX_SEGMENT bytes before the error, and bounds buf: every
 * raw byte yields at most one byte of output (a separator or the terminator
 * becomes the NUL of the value it ends; a release pair yields one byte), so
 * MAX bytes and the terminator need at most MAX + 1.
 *
 * Character set. UNOA and UNOB (the syntax levels PAXLST is sent in) are
 * subsets of printable ASCII, so any byte outside 0x20-0x7E inside a
 * segment is refused with its offset: a UTF-8 name or a stray control byte
 * is a sender bug that must be fixed at the sender, not guessed at here.
 * CR and LF are tolerated only between segments, where senders put them to
 * make files readable.
 */
#include "tvs/edifact.h"
#include "tvs/error.h"

#include <stdio.h>
#include <string.h>

static int is_printable(uint8_t ch)
{
	return ch >= 0x20 && ch <= 0x7e;
}

static int is_alnum(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* A UNA service character: printable, not a letter or digit, not space. */
static int una_char_ok(char ch)
{
	return is_printable((uint8_t)ch) && ch != ' ' && !is_alnum(ch);
}

static int una_validate(const tvs_edifact_syntax *s)
{
	char set[5];
	int n = 0;

	if (!una_char_ok(s->component) || !una_char_ok(s->element) || !una_char_ok(s->terminator))
		return -1;
	if (s->release && !una_char_ok(s->release))
		return -1;
	if (s->repetition && !una_char_ok(s->repetition))
		return -1;
	if (s->decimal != '.' && s->decimal != ',')
		return -1;
	set[n++] = s->component;
	set[n++] = s->element;
	set[n++] = s->terminator;
	if (s->release)
		set[n++] = s->release;
	if (s->repetition)
		set[n++] = s->repetition;
	for (int i = 0; i < n; i++) {
		if (set[i] == s->decimal)
			return -1;
		for (int j = i + 1; j < n; j++)
			if (set[i] == set[j])
				return -1;
	}
	return 0;
}

int tvs_edifact_reader_init(tvs_edifact_reader *r, const uint8_t *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	r->syn = (tvs_edifact_syntax){ ':', '+', '.', '?', '\0', '\'' };
	if (len < 3 || memcmp(data, "UNA", 3) != 0)
		return 0;
	r->has_una = 1;
	r->err_segment = 0;
	memcpy(r->err_tag, "UNA", 4);
	if (len < 9) {
		r->err_offset = len;
		return tvs__err(TVS_EFORMAT, "UNA at byte 0: truncated service string advice (%zu of 9 bytes)", len);
	}
	r->syn.component = (char)data[3];
	r->syn.element = (char)data[4];
	r->syn.decimal = (char)data[5];
	/* a space in the release or repetition position means "not used" */
	r->syn.release = data[6] == ' ' ? '\0' : (char)data[6];
	r->syn.repetition = data[7] == ' ' ? '\0' : (char)data[7];
	r->syn.terminator = (char)data[8];
	if (una_validate(&r->syn) < 0) {
		r->err_offset = 3;
		return tvs__err(TVS_EFORMAT,
				"UNA at byte 0: service characters must be distinct printable non-alphanumeric "
				"ASCII and the decimal mark '.' or ','");
	}
	r->pos = 9;
	return 0;
}

static int is_service_char(const tvs_edifact_syntax *s, char ch)
{
	return ch == s->component || ch == s->element || ch == s->terminator ||
	       (s->release && ch == s->release) || (s->repetition && ch == s->repetition);
}

/* Record where an error is and format "segment N (TAG) at byte X: why". */
static int seg_fail(tvs_edifact_reader *r, const tvs_edifact_segment *seg, size_t at, int code, const char *why)
{
	char tag[4] = "";

	/* the tag, as far as it was read, for the message */
	for (size_t i = 0; i < 3 && seg->offset + i < at; i++) {
		uint8_t b = r->data[seg->offset + i];
		if (b < 'A' || b > 'Z')
			break;
		tag[i] = (char)b;
		tag[i + 1] = '\0';
	}
	r->err_segment = seg->number;
	memcpy(r->err_tag, tag, sizeof(tag));
	r->err_offset = at;
	return tvs__err(code, "segment %zu (%s) at byte %zu: %s", seg->number, tag[0] ? tag : "?", at, why);
}

/* Close the value being written: NUL-terminate it and record its offset. */
static void end_value(tvs_edifact_segment *seg, int e, int c, size_t *w, size_t start)
{
	seg->buf[(*w)++] = '\0';
	seg->off[e][c] = (uint16_t)start;
	seg->ncomp[e] = (uint8_t)(c + 1);
}

static void seg_reset(tvs_edifact_segment *seg, size_t number, size_t offset)
{
	seg->tag[0] = '\0';
	seg->number = number;
	seg->offset = offset;
	seg->nelem = 0;
	memset(seg->ncomp, 0, sizeof(seg->ncomp));
}

static int tag_ok(const char *t)
{
	return strlen(t) == 3 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z' && t[2] >= 'A' &&
	       t[2] <= 'Z';
}

int tvs_edifact_next(tvs_edifact_reader *r, tvs_edifact_segment *seg)
{
	const tvs_edifact_syntax *s = &r->syn;
	/* element 0 of the scan is the tag; public element e is scan element e+1 */
	int e = 0, c = 0;
	size_t w = 0, vstart = 0, start;

	while (r->pos < r->len && (r->data[r->pos] == '\r' || r->data[r->pos] == '\n'))
		r->pos++;
	if (r->pos == r->len)
		return 0;
	start = r->pos;
	seg_reset(seg, ++r->nsegments, start);
	for (;;) {
		uint8_t ch;

		if (r->pos == r->len)
			return seg_fail(r, seg, r->pos, TVS_EFORMAT, "unterminated segment at end of input");
		/* up to MAX bytes, then only the terminator may come */
		if (r->pos - start >= TVS_EDIFACT_MAX_SEGMENT &&
		    (r->pos - start > TVS_EDIFACT_MAX_SEGMENT || r->data[r->pos] != (uint8_t)s->terminator))
			return seg_fail(r, seg, r->pos, TVS_ETOOBIG,
					"segment longer than 3000 bytes (TVS_EDIFACT_MAX_SEGMENT)");
		ch = r->data[r->pos];
		if (ch == '\r' || ch == '\n')
			return seg_fail(r, seg, r->pos, TVS_EFORMAT, "line break inside a segment");
		if (!is_printable(ch)) {
			char why[96];
			snprintf(why, sizeof(why), "byte 0x%02X is not printable ASCII (UNOA/UNOB character set)",
				 ch);
			return seg_fail(r, seg, r->pos, TVS_EFORMAT, why);
		}
		r->pos++;
		if (s->release && ch == s->release) {
			if (r->pos == r->len)
				return seg_fail(r, seg, r->pos, TVS_EFORMAT, "unterminated segment at end of input");
			/* a bad byte after it is reported as that byte, by the next turn */
			if (!is_printable(r->data[r->pos]))
				continue;
			if (!is_service_char(s, (char)r->data[r->pos]))
				return seg_fail(r, seg, r->pos - 1, TVS_EFORMAT,
						"release character not followed by a service character");
			seg->buf[w++] = (char)r->data[r->pos++];
		} else if (ch == s->terminator || ch == s->element || ch == s->component) {
			end_value(seg, e, c, &w, vstart);
			vstart = w;
			if (ch == s->terminator)
				break;
			if (ch == s->element) {
				if (++e > TVS_EDIFACT_MAX_ELEMENTS)
					return seg_fail(r, seg, r->pos - 1, TVS_EFORMAT,
							"more than 32 data elements");
				c = 0;
			} else if (++c >= TVS_EDIFACT_MAX_COMPONENTS) {
				return seg_fail(r, seg, r->pos - 1, TVS_EFORMAT,
						"more than 16 components in a data element");
			}
		} else {
			seg->buf[w++] = (char)ch;
		}
	}
	seg->nelem = e;
	if (r->pos - start == 1)
		return seg_fail(r, seg, start, TVS_EFORMAT, "empty segment");
	if (!tag_ok(seg->buf + seg->off[0][0]))
		return seg_fail(r, seg, start, TVS_EFORMAT, "segment tag is not three upper-case letters");
	memcpy(seg->tag, seg->buf + seg->off[0][0], 4);
	return 1;
}

const char *tvs_edifact_value(const tvs_edifact_segment *seg, int e, int c)
{
	if (e < 0 || c < 0 || e >= seg->nelem || c >= TVS_EDIFACT_MAX_COMPONENTS || c >= seg->ncomp[e + 1])
		return "";
	return seg->buf + seg->off[e + 1][c];
}

int tvs_edifact_has(const tvs_edifact_segment *seg, int e)
{
	if (e < 0 || e >= seg->nelem)
		return 0;
	for (int c = 0; c < seg->ncomp[e + 1]; c++)
		if (seg->buf[seg->off[e + 1][c]])
			return 1;
	return 0;
}
