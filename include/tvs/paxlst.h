/*
 * UN/EDIFACT PAXLST (API/APIS passenger and crew manifests) parser, after
 * the WCO/IATA/ICAO PAXLST implementation guide and the US CBP APIS PAXLST
 * guide. One call turns an interchange (UNA? UNB [UNG] UNH...UNT [UNE] UNZ)
 * into manifests: one per message, or one per set of message parts joined
 * by their common access reference (UNH 0068 and S010 sequence/first-last).
 *
 * It is strict where a mistake changes who is on the manifest (envelope
 * counts and references, the UNT segment count, the CNT total, segment
 * order, the character set, every size) and lenient where the guides allow
 * variation: an unknown segment tag or qualifier is listed in warnings and
 * skipped, and a field value that is malformed or too long for its field
 * is left empty with a warning rather than guessed at.
 *
 * Limits (all refused with TVS_ETOOBIG before the work they would bound):
 * input 16 MiB (10,000 travelers at ~25 segments of ~40 bytes is ~10 MB),
 * a segment 3,000 bytes (TVS_EDIFACT_MAX_SEGMENT), 10,000 travelers per
 * manifest, 20,000 per interchange, 64 manifests, 10 legs (the directory's
 * repeat of segment group 2), 4 documents and 6 references per traveler
 * (more are warned about and ignored).
 *
 * Times. PAXLST dates and times (DTM) carry no zone: the guides define
 * 189/232 as the scheduled local time at the airport. They are given here
 * as "YYYY-MM-DDTHH:MM:SSZ" unchanged, because the service's manifest form
 * wants that shape and we have no airport time-zone table; treat the 'Z'
 * as nominal. Two-digit years are resolved against the interchange date
 * (UNB): birth and issue dates to the latest year not after it, other
 * dates to the year within 50 of it.
 */
#ifndef TVS_PAXLST_H
#define TVS_PAXLST_H

#include <stddef.h>

#define TVS_PAXLST_MAX_INPUT ((size_t)16 << 20)
#define TVS_PAXLST_MAX_TRAVELERS 10000
#define TVS_PAXLST_MAX_TOTAL_TRAVELERS 20000
#define TVS_PAXLST_MAX_MANIFESTS 64
#define TVS_PAXLST_MAX_LEGS 10
#define TVS_PAXLST_MAX_DOCS 4
#define TVS_PAXLST_MAX_REFS 6
#define TVS_PAXLST_MAX_WARNINGS 100
#define TVS_PAXLST_WARNING_LEN 200

/* Field sizes, NUL included, from the EDIFACT directory's maxima. */
#define TVS_PAXLST_CODE_LEN 4    /* an..3: country, qualifier, document type */
#define TVS_PAXLST_ID_LEN 36     /* an..35: location, document number, references */
#define TVS_PAXLST_NAME_LEN 71   /* an..70: one C080 name component */
#define TVS_PAXLST_GIVEN_LEN 284 /* four an..70 given-name components, space-joined */
#define TVS_PAXLST_FLIGHT_LEN 18 /* an..17: carrier id, journey id */
#define TVS_PAXLST_REF_LEN 15    /* an..14: control and message references */
#define TVS_PAXLST_DATE_LEN 11   /* "YYYY-MM-DD" */
#define TVS_PAXLST_TIME_LEN 21   /* "YYYY-MM-DDTHH:MM:SSZ" */

/* What the message lists, from BGM 1001. */
enum tvs_paxlst_kind {
	TVS_PAXLST_PASSENGERS = 0, /* 745 passenger list */
	TVS_PAXLST_CREW,           /* 250 crew list declaration, 336 master crew list */
	TVS_PAXLST_OTHER,          /* 266 flight status update (close-out), 655 gate pass, any
				    * other code: accepted with a warning */
};

/* The traveler's party, from NAD 3035 in segment group 4. */
enum tvs_paxlst_role {
	TVS_PAXLST_PASSENGER = 0,      /* FL */
	TVS_PAXLST_CREW_MEMBER,        /* FM */
	TVS_PAXLST_TRANSIT_PASSENGER,  /* DDU */
	TVS_PAXLST_TRANSIT_CREW,       /* DDT */
};

/* What to do when CNT disagrees with the travelers listed. */
enum tvs_paxlst_count_policy {
	TVS_PAXLST_COUNT_STRICT = 0, /* error (default) */
	TVS_PAXLST_COUNT_WARN,       /* warning: some senders put the flight's total on
				      * board in CNT, as the WCO guide's example 5.1 does */
};

typedef struct tvs_paxlst_config {
	size_t max_input;           /* bytes; TVS_PAXLST_MAX_INPUT */
	size_t max_travelers;       /* per manifest; TVS_PAXLST_MAX_TRAVELERS */
	size_t max_total_travelers; /* per interchange; TVS_PAXLST_MAX_TOTAL_TRAVELERS */
	size_t max_manifests;       /* TVS_PAXLST_MAX_MANIFESTS */
	int count_policy;           /* enum tvs_paxlst_count_policy */
} tvs_paxlst_config;

/* Where a parse failed. segment is 1-based from UNB (0: not tied to a
 * segment, e.g. empty or oversized input), tag may be "", offset is the
 * byte offset of the offending byte or of the segment's start. */
typedef struct tvs_paxlst_error {
	size_t segment;
	char tag[4];
	size_t offset;
} tvs_paxlst_error;

/* One flight leg: TDT with its LOC/DTM pairs (segment groups 2 and 3).
 * Strings are "" when absent. */
typedef struct tvs_paxlst_leg {
	char carrier[TVS_PAXLST_FLIGHT_LEN]; /* TDT C040 3127, else the flight's first two characters */
	char flight[TVS_PAXLST_FLIGHT_LEN];  /* TDT 8028, e.g. "DA123" */
	char departure_port[TVS_PAXLST_ID_LEN];
	char departure_time[TVS_PAXLST_TIME_LEN];
	char arrival_port[TVS_PAXLST_ID_LEN];
	char arrival_time[TVS_PAXLST_TIME_LEN];
} tvs_paxlst_leg;

/* DOC with its DTM and LOC (segment group 5). */
typedef struct tvs_paxlst_document {
	char type[TVS_PAXLST_CODE_LEN];          /* P passport, V visa, I, A, C, AC, IP, ... */
	char number[TVS_PAXLST_ID_LEN];
	char issuing_state[TVS_PAXLST_CODE_LEN]; /* LOC 91 */
	char expiry[TVS_PAXLST_DATE_LEN];        /* DTM 36 */
	char issued[TVS_PAXLST_DATE_LEN];        /* DTM 182 */
} tvs_paxlst_document;

/* RFF in segment group 4: AVF booking reference, ABO unique passenger
 * reference, SEA seat, CR frequent flyer, AEA government reference, ... */
typedef struct tvs_paxlst_reference {
	char qualifier[TVS_PAXLST_CODE_LEN];
	char value[TVS_PAXLST_NAME_LEN];
} tvs_paxlst_reference;

/* One traveler (segment group 4). Strings are "" when absent. */
typedef struct tvs_paxlst_traveler {
	int role;                                /* enum tvs_paxlst_role */
	size_t segment;                          /* segment number of its NAD */
	char surname[TVS_PAXLST_NAME_LEN];
	char given_names[TVS_PAXLST_GIVEN_LEN];
	char sex[2];                             /* "F", "M", "X"; "" for U or absent */
	char birth_date[TVS_PAXLST_DATE_LEN];    /* DTM 329 */
	char nationality[TVS_PAXLST_CODE_LEN];   /* NAT 2 */
	char residence[TVS_PAXLST_CODE_LEN];     /* LOC 174 */
	char embarkation[TVS_PAXLST_ID_LEN];     /* LOC 178 */
	char disembarkation[TVS_PAXLST_ID_LEN];  /* LOC 179 */
	char clearance[TVS_PAXLST_ID_LEN];       /* LOC 22 */
	int ndocs;
	tvs_paxlst_document docs[TVS_PAXLST_MAX_DOCS];
	int nrefs;
	tvs_paxlst_reference refs[TVS_PAXLST_MAX_REFS];
} tvs_paxlst_traveler;

typedef struct tvs_paxlst_manifest {
	int kind;                                  /* enum tvs_paxlst_kind */
	char document_code[TVS_PAXLST_CODE_LEN];   /* BGM 1001: "745", "250", ... */
	char document_id[TVS_PAXLST_ID_LEN];       /* BGM 1004: "CP", "CLOB", ... or "" */
	char message_ref[TVS_PAXLST_REF_LEN];      /* UNH 0062 of the first part */
	char common_access_ref[TVS_PAXLST_ID_LEN]; /* UNH 0068, "" if none */
	int parts;                                 /* messages joined into this manifest */
	char reference[TVS_PAXLST_NAME_LEN];       /* header RFF+TN transaction reference */
	/* The flight: carrier and number of the first leg; departure from the
	 * leg with LOC 125 (else the first leg), arrival from the leg with
	 * LOC 87 (else the last leg). */
	char carrier[TVS_PAXLST_FLIGHT_LEN];
	char flight[TVS_PAXLST_FLIGHT_LEN];
	char departure_port[TVS_PAXLST_ID_LEN];
	char departure_time[TVS_PAXLST_TIME_LEN];
	char arrival_port[TVS_PAXLST_ID_LEN];
	char arrival_time[TVS_PAXLST_TIME_LEN];
	int nlegs;
	tvs_paxlst_leg legs[TVS_PAXLST_MAX_LEGS];
	long declared_total; /* CNT 6066 of the last part, -1 if none */
	size_t ntravelers;
	tvs_paxlst_traveler *travelers; /* owned by the tvs_paxlst */
} tvs_paxlst_manifest;

typedef struct tvs_paxlst {
	char syntax[5];                      /* UNB 0001: "UNOA", "UNOB", ... */
	char sender[TVS_PAXLST_ID_LEN];      /* UNB 0004 */
	char recipient[TVS_PAXLST_ID_LEN];   /* UNB 0010 */
	char control_ref[TVS_PAXLST_REF_LEN];
	char prepared_at[TVS_PAXLST_TIME_LEN]; /* UNB date and time */
	size_t nmanifests;                   /* >= 1 after a successful parse */
	tvs_paxlst_manifest *manifests;
	/* "segment N (TAG): why", in input order; the first
	 * TVS_PAXLST_MAX_WARNINGS are kept, the rest only counted */
	size_t nwarnings, warnings_dropped;
	char warnings[TVS_PAXLST_MAX_WARNINGS][TVS_PAXLST_WARNING_LEN];
} tvs_paxlst;

void tvs_paxlst_default_config(tvs_paxlst_config *c);

/* Parse data[0..len) (borrowed for the call). On success *out is the
 * interchange with at least one manifest; the caller frees it with
 * tvs_paxlst_free. On failure *out is NULL, tvs_errmsg() says "segment N
 * (TAG) at byte X: why" and *err (may be NULL) gets the same position.
 * c NULL means the defaults. Returns 0, TVS_EINVAL (NULL arguments, zero
 * limits), TVS_ETOOBIG (input, segment, traveler or manifest limit; input
 * over max_input is refused before it is read), TVS_EFORMAT (malformed),
 * TVS_EUNSUPPORTED (a message other than PAXLST) or TVS_ENOMEM. */
int tvs_paxlst_parse(const void *data, size_t len, const tvs_paxlst_config *c, tvs_paxlst **out,
		     tvs_paxlst_error *err);

/* Free an interchange from tvs_paxlst_parse; NULL is a no-op. */
void tvs_paxlst_free(tvs_paxlst *p);

/* The manifest's direction as seen from port (an airport code, compared
 * exactly): "exit" if port is its departure port, "entry" if it is its
 * arrival port, NULL if neither (or port is NULL/empty). PAXLST itself
 * does not say which country receives it, so the caller names its port. */
const char *tvs_paxlst_direction(const tvs_paxlst_manifest *m, const char *port);

/* The traveler's identity document: the first that is not a visa (type
 * "V"), else the first; NULL if the traveler has none. */
const tvs_paxlst_document *tvs_paxlst_primary_document(const tvs_paxlst_traveler *t);

/* Stable names: "passengers", "crew", "other"; "passenger", "crew",
 * "transit_passenger", "transit_crew". "unknown" outside the enums. */
const char *tvs_paxlst_kind_name(int kind);
const char *tvs_paxlst_role_name(int role);

#endif
