/*
 * The service's side of encryption at rest: every portrait image, live
 * capture and template is sealed under its own data key (tvs_vault) in the
 * same transaction that stores it, so a committed record is never readable
 * without the master key, and shredding its key is its deletion.
 */
#include "svc/svc_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int svc_seal(tvs_svc_t *s, tvs_tx_t *tx, const void *p, size_t n, int64_t *key, uint8_t **ct, size_t *ctn)
{
	return tvs_vault_seal(s->vault, tx, svc_now(s), p, n, key, ct, ctn);
}

int svc_unseal(tvs_svc_t *s, tvs_tx_t *tx, int64_t key, const void *ct, size_t ctn, uint8_t **p, size_t *n)
{
	return tvs_vault_open_sealed(s->vault, tx, key, ct, ctn, p, n);
}

int svc_unseal_template(tvs_svc_t *s, tvs_tx_t *tx, const tvs_rows *r, size_t row, size_t col,
			tvs_template *t)
{
	size_t ctn = 0, n = 0;
	const void *ct = tvs_rows_blob(r, row, col, &ctn);
	uint8_t *b = NULL;
	int rc = svc_unseal(s, tx, tvs_rows_int(r, row, col + 1), ct, ctn, &b, &n);

	if (!rc)
		rc = tvs_match_template_parse(t, b, n, TVS_MATCH_DEFAULT_MODEL);
	tvs_vault_free_plain(b, n);
	return rc;
}

static int audit_key_read(tvs_svc_t *s, tvs_tx_t *tx, int *found)
{
	tvs_rows r = { 0 };
	uint8_t *k = NULL;
	size_t n = 0;
	int rc = tvs_tx_query(tx, "SELECT key_id, sealed FROM audit_key WHERE id = 1", NULL, 0, &r);

	*found = 0;
	if (!rc && r.nrows == 1) {
		size_t ctn = 0;
		const void *ct = tvs_rows_blob(&r, 0, 1, &ctn);

		*found = 1;
		rc = svc_unseal(s, tx, tvs_rows_int(&r, 0, 0), ct, ctn, &k, &n);
		if (!rc && n != sizeof(s->audit_key))
			rc = tvs__err(TVS_EINTEGRITY, "audit key: %zu bytes, not %zu", n, sizeof(s->audit_key));
		if (!rc)
			memcpy(s->audit_key, k, sizeof(s->audit_key));
	}
	tvs_vault_free_plain(k, n);
	tvs_rows_free(&r);
	return rc;
}

int svc_audit_key_load(tvs_svc_t *s)
{
	tvs_tx_t *tx = NULL;
	uint8_t fresh[32], *ct = NULL;
	size_t ctn = 0;
	int64_t key_id = 0;
	int found, rc = tvs_store_begin(s->store, 1, &tx);

	if (!rc)
		rc = audit_key_read(s, tx, &found);
	if (!rc && !found) {
		randombytes_buf(fresh, sizeof(fresh));
		rc = svc_seal(s, tx, fresh, sizeof(fresh), &key_id, &ct, &ctn);
		if (!rc)
			rc = tvs_tx_exec(tx, "INSERT INTO audit_key (id, key_id, sealed) VALUES (1, ?, ?)",
					 (tvs_val[]){ TVS_VINT(key_id), TVS_VBLOB(ct, ctn) }, 2, NULL);
		if (!rc)
			memcpy(s->audit_key, fresh, sizeof(fresh));
		sodium_memzero(fresh, sizeof(fresh));
		free(ct);
	}
	if (!rc) {
		rc = tvs_tx_commit(tx);
		tx = NULL;
	}
	tvs_tx_rollback(tx);
	if (rc)
		return tvs__err(rc, "audit key: %s", tvs_errmsg());
	return 0;
}
