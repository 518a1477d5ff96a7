/*
 * tvs vault: envelope encryption at rest (issue 5).
 *
 * Every record is sealed under its own random 32-byte data key. The data key
 * is wrapped (encrypted) under the master key and kept in the keys table;
 * the record keeps only its ciphertext and the key's id:
 *
 *   CREATE TABLE keys (id INTEGER PRIMARY KEY, wrapped BLOB,
 *                      master_id TEXT NOT NULL, created_at INTEGER NOT NULL,
 *                      destroyed_at INTEGER)
 *
 * That gives three operations cheaply:
 *   - crypto-shredding: NULL one wrapped key and its record is unreadable,
 *     even to the master key, wherever copies of the ciphertext went;
 *   - master rotation: re-wrap the small keys rows, never touch the records;
 *   - erasure by master: a master key file identifies itself by master_id
 *     (the first 8 bytes of BLAKE2b-256 of the key, in hex), so a row says
 *     which master wrapped it without revealing anything about the key.
 *
 * Formats (XChaCha20-Poly1305 IETF, libsodium):
 *   wrapped    = nonce(24) || ciphertext(32) || tag(16),
 *                AAD = master_id (16 hex characters)
 *   ciphertext = nonce(24) || ciphertext(len) || tag(16),
 *                AAD = the key id as 8 bytes little-endian, so a ciphertext
 *                moved onto another record's key fails to open.
 *
 * Master key file: exactly 32 bytes, or 64 hex digits and an optional
 * newline; a regular file (not a symlink) of mode 0600 or 0400. The key is
 * held in sodium_malloc'd memory (guard pages, mlock'd where allowed,
 * read-only after loading, wiped on destroy). A vault is immutable after
 * tvs_vault_open, so one may be shared by any number of threads.
 *
 * No function here logs or returns key material; error messages name key
 * ids and master ids only.
 */
#ifndef TVS_VAULT_H
#define TVS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "tvs/store.h"

typedef struct tvs_vault tvs_vault_t;

#define TVS_VAULT_KEY_BYTES 32
#define TVS_VAULT_MASTER_ID_LEN 16 /* hex characters, without the NUL */
/* bytes a sealed record adds to its plaintext: nonce and tag */
#define TVS_VAULT_OVERHEAD (24 + 16)

/* The keys table, one statement, shared by the service's migration and the
 * tests so there is one definition. */
extern const char tvs_vault_schema_sql[];

/* Load the master key in key_file. TVS_EDENIED if it is a symlink, not a
 * regular file, or its mode is other than 0600 / 0400 (the message names the
 * mode); TVS_EFORMAT if it does not hold 32 bytes or 64 hex digits;
 * TVS_ENOTFOUND if it does not exist. Caller frees with tvs_vault_destroy. */
int tvs_vault_open(tvs_vault_t **out, const char *key_file);
void tvs_vault_destroy(tvs_vault_t *v); /* wipes the key; accepts NULL */

/* This vault's master id: 16 hex characters, borrowed until destroy. */
const char *tvs_vault_master_id(const tvs_vault_t *v);

/* Write a fresh random master key (32 raw bytes) to a new file at path,
 * mode 0600, fsync'd with its folder. An existing path (a symlink included)
 * is TVS_ECONFLICT: a master key is never overwritten. */
int tvs_vault_create_key_file(const char *path);

/* Seal len bytes of plain (plain may be NULL when len is 0) under a fresh
 * data key: the wrapped key is inserted into keys (created_at = now) through
 * tx, which must be a write transaction. *key_id gets its id, *ct the
 * ciphertext (len + TVS_VAULT_OVERHEAD bytes, *ctlen); caller frees *ct with
 * free(). The data key is wiped before return. On error *ct is NULL, and the
 * statement failure (if any) has killed tx, as every store failure does. */
int tvs_vault_seal(tvs_vault_t *v, tvs_tx_t *tx, int64_t now, const void *plain, size_t len, int64_t *key_id,
		   uint8_t **ct, size_t *ctlen);

/* Open a ciphertext sealed under data key key_id, reading the key through tx
 * (read or write; a caller holding only a store begins a read transaction
 * around it, usually the one that read the record). *plain gets len bytes
 * (never NULL on success, even when *len is 0); caller frees it with
 * tvs_vault_free_plain. Errors: TVS_ENOTFOUND (no such key, or destroyed:
 * crypto-shredded), TVS_EDENIED (the key was wrapped under another master;
 * the message names both ids), TVS_EINTEGRITY (the wrapped key or the
 * ciphertext was altered, or the ciphertext belongs to another key),
 * TVS_EFORMAT (ciphertext shorter than TVS_VAULT_OVERHEAD). */
int tvs_vault_open_sealed(tvs_vault_t *v, tvs_tx_t *tx, int64_t key_id, const void *ct, size_t ctlen,
			  uint8_t **plain, size_t *len);

/* Zero len bytes at p, then free(p). Accepts NULL. */
void tvs_vault_free_plain(void *p, size_t len);

/* Crypto-shred data key key_id through write transaction tx: wrapped = NULL,
 * destroyed_at = now. Every ciphertext under it is then unreadable, to the
 * master key too. TVS_ENOTFOUND if there is no such key; shredding a
 * destroyed key again is no error (destroyed_at keeps the first time).
 * The old wrapped bytes may survive in SQLite's WAL until the next
 * checkpoint: see tvs_vault_scrub. */
int tvs_vault_shred(tvs_tx_t *tx, int64_t key_id, int64_t now);

/* Clear away what the engine lets us of the old wrapped keys left behind by
 * shreds and rotations committed before the call. Call it with no
 * transaction of this thread open.
 *
 * SQLite: checkpoint the WAL into the database file and truncate it. The
 * store's connections run with secure_delete, which zeroes freed space in
 * the main file, so the old bytes then leave the database's files.
 * TVS_EBUSY if a reader kept the checkpoint from finishing (retry later). A
 * no-op on an in-memory database.
 *
 * PostgreSQL: VACUUM keys, after which no dead version of a keys row is left
 * for any query or snapshot to read. The bytes are not wiped: they stay in
 * the table file's free space until new rows reuse it, and in pg_wal, WAL
 * archives and backups (docs/deletion.md says what removes them). TVS_EBUSY
 * if an open transaction (or a replication slot or standby) could still see
 * some dead version, which VACUUM then keeps: retry once it has ended (read
 * from PostgreSQL's statistics, so a busy server may also give it spuriously).
 * TVS_EDENIED if the role owns neither the table nor the database, so that
 * VACUUM skipped it. It does not block seals and opens (VACUUM (FULL) would).
 *
 * Backups taken before the call keep the old wrapped keys on both engines. */
int tvs_vault_scrub(tvs_store_t *s);

/* Re-wrap, in one write transaction, every live data key wrapped under
 * old's master so that it is wrapped under neu's; the records' ciphertexts
 * are not touched. *rewrapped (may be NULL) gets the number re-wrapped.
 * Keys already under neu are left alone, so a second run is a no-op.
 * If any live key is wrapped under neither master nothing is changed and the
 * result is TVS_ECONFLICT with the count and those masters' ids; a key that
 * fails to unwrap under old aborts it with TVS_EINTEGRITY naming the id;
 * old and neu with one master is TVS_EINVAL. Run tvs_vault_scrub after it
 * so the old wrapped keys leave the WAL. */
int tvs_vault_rotate(tvs_vault_t *old, tvs_vault_t *neu, tvs_store_t *s, int64_t *rewrapped);

#endif
