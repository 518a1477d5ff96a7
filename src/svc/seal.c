/*
 * The service's side of encryption at rest: every portrait image, live
 * capture and template is sealed under its own data key (tvs_vault) in the
 * same transaction that stores it, so a committed record is never readable
 * without the master key, and shredding its key is its deletion.
 */
#include "svc/svc_int.h"

int svc_seal(tvs_svc_t *s, tvs_tx_t *tx, const void *p, size_t n, int64_t *key, uint8_t **ct, size_t *ctn)
{
	return tvs_vault_seal(s->vault, tx, svc_now(s), p, n, key, ct, ctn);
}

int svc_unseal(tvs_svc_t *s, tvs_tx_t *tx, int64_t key, const void *ct, size_t ctn, uint8_t **p, size_t *n)
{
	return tvs_vault_open_sealed(s->vault, tx, key, ct, ctn, p, n);
}
