/*
 * libFuzzer target: the JSON manifest, the service's own validation
 * (src/svc/manifest_json.c) without the store. Any bytes must give either a
 * manifest that satisfies every documented limit, or a refusal that names a
 * field; never a crash, a read past the input, or a silent half-result.
 */
#include "svc/svc_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	struct svc_manifest_in m;
	struct jv v = { 0 };

	if (!b)
		return 0;
	if (svc_manifest_parse(&v, b, &m) == 0) {
		if (v.bad || !m.carrier || !m.number || !m.direction || !m.port || m.closes_at <= m.opens_at ||
		    json_array_size(m.locations) < 1 || json_array_size(m.locations) > SVC_MANIFEST_MAX_LOCATIONS ||
		    json_array_size(m.travelers) > SVC_MANIFEST_MAX_TRAVELERS)
			abort();
		for (size_t i = 0; i < json_array_size(m.travelers); i++) {
			struct svc_document d;
			struct jv v2 = { 0 };

			if (svc_document_fields(&v2, json_object_get(json_array_get(m.travelers, i), "document"), "d",
						&d) ||
			    strlen(d.number) > 20 || strlen(d.issuing_state) != 3)
				abort();
		}
	} else if (!v.bad || !v.msg[0]) {
		abort(); /* a refusal must say what */
	}
	json_decref(b);
	return 0;
}
