/*
 * libFuzzer target: PAXLST (UN/EDIFACT) parsing. A manifest arrives from a
 * carrier's system or a government hub, so every byte string must either
 * parse into manifests within the configured limits or be refused with an
 * error and no result; nothing else. Limits are lowered so the fuzzer
 * reaches them with small inputs, and the count policy follows the input's
 * length so both paths are explored without consuming input bytes.
 *
 * Invariants checked on success: counts within their limits and consistent
 * (at least one manifest, travelers per manifest and in all, legs,
 * documents, references, warnings), enums in range, every string
 * NUL-terminated inside its array, dates "" or YYYY-MM-DD and times "" or
 * YYYY-MM-DDTHH:MM:SSZ. On failure: a negative known code, no result, a
 * detail message, and a position inside the input.
 */
#include "tvs/error.h"
#include "tvs/paxlst.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                                \
	do {                                                                                                    \
		if (!(c))                                                                                       \
			abort();                                                                                \
	} while (0)

/* NUL inside the array: strlen never runs past it */
#define TERMINATED(a) CHECK(memchr((a), '\0', sizeof(a)) != NULL)

static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void check_date(const char *d, size_t cap)
{
	CHECK(memchr(d, '\0', cap) != NULL);
	if (!d[0])
		return;
	CHECK(strlen(d) == 10 && digits(d, 4) && d[4] == '-' && digits(d + 5, 2) && d[7] == '-' && digits(d + 8, 2));
}

static void check_time(const char *t, size_t cap)
{
	CHECK(memchr(t, '\0', cap) != NULL);
	if (!t[0])
		return;
	CHECK(strlen(t) == 20 && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == 'Z' &&
	      digits(t + 11, 2) && digits(t + 14, 2) && digits(t + 17, 2));
	{
		char d[11];
		memcpy(d, t, 10);
		d[10] = '\0';
		check_date(d, sizeof(d));
	}
}

static void check_traveler(const tvs_paxlst_traveler *t)
{
	CHECK(t->role >= TVS_PAXLST_PASSENGER && t->role <= TVS_PAXLST_TRANSIT_CREW);
	CHECK(t->segment > 0);
	TERMINATED(t->surname);
	TERMINATED(t->given_names);
	TERMINATED(t->sex);
	CHECK(!t->sex[0] || ((t->sex[0] == 'F' || t->sex[0] == 'M' || t->sex[0] == 'X') && !t->sex[1]));
	check_date(t->birth_date, sizeof(t->birth_date));
	TERMINATED(t->nationality);
	TERMINATED(t->residence);
	TERMINATED(t->embarkation);
	TERMINATED(t->disembarkation);
	TERMINATED(t->clearance);
	CHECK(t->ndocs >= 0 && t->ndocs <= TVS_PAXLST_MAX_DOCS);
	CHECK(t->nrefs >= 0 && t->nrefs <= TVS_PAXLST_MAX_REFS);
	for (int i = 0; i < t->ndocs; i++) {
		TERMINATED(t->docs[i].type);
		TERMINATED(t->docs[i].number);
		TERMINATED(t->docs[i].issuing_state);
		check_date(t->docs[i].expiry, sizeof(t->docs[i].expiry));
		check_date(t->docs[i].issued, sizeof(t->docs[i].issued));
	}
	for (int i = 0; i < t->nrefs; i++) {
		TERMINATED(t->refs[i].qualifier);
		TERMINATED(t->refs[i].value);
		CHECK(t->refs[i].qualifier[0] && t->refs[i].value[0]);
	}
	CHECK((tvs_paxlst_primary_document(t) != NULL) == (t->ndocs > 0));
}

static void check_manifest(const tvs_paxlst_manifest *m, const tvs_paxlst_config *c)
{
	CHECK(m->kind >= TVS_PAXLST_PASSENGERS && m->kind <= TVS_PAXLST_OTHER);
	CHECK(m->parts >= 1 && m->parts <= 99);
	CHECK(m->nlegs >= 0 && m->nlegs <= TVS_PAXLST_MAX_LEGS);
	CHECK(m->ntravelers <= c->max_travelers);
	CHECK(m->declared_total >= -1);
	CHECK((m->travelers != NULL) || m->ntravelers == 0);
	TERMINATED(m->document_code);
	CHECK(m->document_code[0]);
	TERMINATED(m->document_id);
	TERMINATED(m->message_ref);
	CHECK(m->message_ref[0]);
	TERMINATED(m->common_access_ref);
	TERMINATED(m->reference);
	TERMINATED(m->carrier);
	TERMINATED(m->flight);
	TERMINATED(m->departure_port);
	TERMINATED(m->arrival_port);
	check_time(m->departure_time, sizeof(m->departure_time));
	check_time(m->arrival_time, sizeof(m->arrival_time));
	for (int i = 0; i < m->nlegs; i++) {
		const tvs_paxlst_leg *l = &m->legs[i];
		TERMINATED(l->carrier);
		TERMINATED(l->flight);
		TERMINATED(l->departure_port);
		TERMINATED(l->arrival_port);
		check_time(l->departure_time, sizeof(l->departure_time));
		check_time(l->arrival_time, sizeof(l->arrival_time));
	}
	for (size_t i = 0; i < m->ntravelers; i++)
		check_traveler(&m->travelers[i]);
	/* the derived direction agrees with the ports */
	if (m->departure_port[0])
		CHECK(!strcmp(tvs_paxlst_direction(m, m->departure_port), "exit"));
	if (m->arrival_port[0] && strcmp(m->arrival_port, m->departure_port) != 0)
		CHECK(!strcmp(tvs_paxlst_direction(m, m->arrival_port), "entry"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tvs_paxlst_config c;
	tvs_paxlst_error e;
	tvs_paxlst *p = NULL;
	size_t total = 0;
	int rc;

	tvs_paxlst_default_config(&c);
	c.max_input = 1 << 20;
	c.max_travelers = 40;
	c.max_total_travelers = 60;
	c.max_manifests = 8;
	c.count_policy = (size & 1) ? TVS_PAXLST_COUNT_WARN : TVS_PAXLST_COUNT_STRICT;
	tvs_err_clear();
	rc = tvs_paxlst_parse(data, size, &c, &p, &e);
	if (rc != 0) {
		CHECK(rc == TVS_EFORMAT || rc == TVS_ETOOBIG || rc == TVS_EUNSUPPORTED || rc == TVS_ENOMEM);
		CHECK(p == NULL);
		CHECK(tvs_errmsg()[0] != '\0');
		CHECK(e.offset <= size);
		TERMINATED(e.tag);
		return 0;
	}
	CHECK(p != NULL);
	CHECK(p->nmanifests >= 1 && p->nmanifests <= c.max_manifests);
	CHECK(p->nwarnings <= TVS_PAXLST_MAX_WARNINGS);
	CHECK(p->warnings_dropped == 0 || p->nwarnings == TVS_PAXLST_MAX_WARNINGS);
	for (size_t i = 0; i < p->nwarnings; i++)
		TERMINATED(p->warnings[i]);
	TERMINATED(p->syntax);
	TERMINATED(p->sender);
	TERMINATED(p->recipient);
	TERMINATED(p->control_ref);
	CHECK(p->control_ref[0]);
	check_time(p->prepared_at, sizeof(p->prepared_at));
	CHECK(p->prepared_at[0]);
	for (size_t i = 0; i < p->nmanifests; i++) {
		check_manifest(&p->manifests[i], &c);
		total += p->manifests[i].ntravelers;
	}
	CHECK(total <= c.max_total_travelers);
	tvs_paxlst_free(p);
	return 0;
}
