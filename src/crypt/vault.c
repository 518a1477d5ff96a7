/*
 * tvs vault: envelope encryption, rotation and crypto-shredding over the
 * keys table (formats and contracts in include/tvs/vault.h).
 *
 * Why envelope encryption: a record's lifetime is set by policy (12 hours
 * for a citizen's photo, 75 years for a non-citizen's), and a deleted row is
 * not a deleted byte: it survives in backups, replicas, the WAL and free
 * pages. Giving each record its own data key and keeping only a wrapped copy
 * of it in one small table turns "erase everywhere" into "NULL 72 bytes in
 * one place" (tvs_vault_shred), and turns a master key change into a pass
 * over that table (tvs_vault_rotate) instead of over every photo.
 *
 * The master key. It is read once, from a file whose mode must keep it
 * private (checked with fstat on the descriptor actually read, opened with
 * O_NOFOLLOW, so a swap between check and read is impossible), into
 * sodium_malloc'd memory: guard pages, mlock'd where the rlimit allows,
 * wiped by sodium_free. It is made read-only once loaded. It is not toggled
 * to no-access between uses: a vault is shared by the service's worker
 * threads, and flipping page protections under one thread while another
 * reads the key would need a lock around every seal and open for little
 * gain (an attacker who can read our memory can also call our code).
 *
 * Data keys live on the stack for the length of one call and are wiped with
 * sodium_memzero on every path out.
 *
 * Nothing here logs. Error messages name key ids and master ids, both
 * public: a master id is 8 bytes of a hash of the key, enough to tell
 * masters apart, useless for finding the key.
 */
#include "tvs/vault.h"

#include "tvs/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES TVS_VAULT_KEY_BYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES     /* 16 */
#define WRAPPED_BYTES (NONCE_BYTES + KEY_BYTES + TAG_BYTES)     /* 72 */
#define HEX_BYTES (2 * KEY_BYTES)
#define ROTATE_BATCH 512 /* keys rows read per query during a rotation */
#define FOREIGN_SHOWN 4  /* foreign master ids named in a rotation error */

_Static_assert(KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "data key size");
_Static_assert(TVS_VAULT_OVERHEAD == NONCE_BYTES + TAG_BYTES, "TVS_VAULT_OVERHEAD");

const char tvs_vault_schema_sql[] = "CREATE TABLE keys (id INTEGER PRIMARY KEY, wrapped BLOB, "
				    "master_id TEXT NOT NULL, created_at INTEGER NOT NULL, destroyed_at INTEGER)";

struct tvs_vault {
	unsigned char *key; /* KEY_BYTES, sodium_malloc'd, read-only */
	char master_id[TVS_VAULT_MASTER_ID_LEN + 1];
};

static int crypto_ready(void)
{
	/* idempotent and thread-safe; 1 means already initialised */
	if (sodium_init() < 0)
		return tvs__err(TVS_EIO, "vault: libsodium failed to initialise");
	return 0;
}

/* ------------------------------------------------------------ key files */

/* Read the key file's bytes through fd into key. */
static int read_key(int fd, const char *path, const struct stat *st, unsigned char *key)
{
	unsigned char *buf;
	size_t got = 0, binlen = 0;
	const char *end = NULL;
	int rc = 0;

	/* one byte more than the longest valid form catches a growing file */
	if (st->st_size != KEY_BYTES && st->st_size != HEX_BYTES && st->st_size != HEX_BYTES + 1)
		return tvs__err(TVS_EFORMAT, "vault: key file %s holds %lld bytes; a master key is 32 raw bytes or 64 hex digits",
				path, (long long)st->st_size);
	if (!(buf = sodium_malloc(HEX_BYTES + 2)))
		return tvs__err(TVS_ENOMEM, "vault: key buffer");
	while (got < HEX_BYTES + 2) {
		ssize_t n = read(fd, buf + got, HEX_BYTES + 2 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tvs__err(TVS_EIO, "vault: key file %s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == KEY_BYTES) {
		memcpy(key, buf, KEY_BYTES);
	} else if ((got == HEX_BYTES || (got == HEX_BYTES + 1 && buf[HEX_BYTES] == '\n')) &&
		   sodium_hex2bin(key, KEY_BYTES, (const char *)buf, HEX_BYTES, NULL, &binlen, &end) == 0 &&
		   binlen == KEY_BYTES && end == (const char *)buf + HEX_BYTES) {
		/* hex form */
	} else {
		rc = tvs__err(TVS_EFORMAT, "vault: key file %s is neither 32 raw bytes nor 64 hex digits (%zu bytes read)",
			      path, got);
	}
done:
	sodium_free(buf); /* wipes */
	return rc;
}

int tvs_vault_open(tvs_vault_t **out, const char *key_file)
{
	tvs_vault_t *v;
	struct stat st;
	unsigned char h[crypto_generichash_BYTES];
	unsigned mode;
	int fd, rc;

	if (!out || !key_file || !*key_file)
		return tvs__err(TVS_EINVAL, "vault: need an output and a key file path");
	*out = NULL;
	if ((rc = crypto_ready()) < 0)
		return rc;
	/* O_NONBLOCK: a FIFO planted at the path must not hang us before fstat */
	fd = open(key_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return tvs__err(TVS_ENOTFOUND, "vault: key file %s does not exist", key_file);
		if (e == ELOOP)
			return tvs__err(TVS_EDENIED, "vault: key file %s is a symbolic link; give the real file's path",
					key_file);
		if (e == EACCES || e == EPERM)
			return tvs__err(TVS_EDENIED, "vault: key file %s: %s", key_file, strerror(e));
		return tvs__err(TVS_EIO, "vault: key file %s: %s", key_file, strerror(e));
	}
	if (fstat(fd, &st) != 0) {
		rc = tvs__err(TVS_EIO, "vault: key file %s: %s", key_file, strerror(errno));
		goto fail_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = tvs__err(TVS_EDENIED, "vault: key file %s is not a regular file", key_file);
		goto fail_fd;
	}
	mode = (unsigned)st.st_mode & 07777;
	if (mode != 0600 && mode != 0400) {
		rc = tvs__err(TVS_EDENIED,
			      "vault: key file %s has mode %04o; a master key must be mode 0600 or 0400 "
			      "(no group or other access): chmod 600 %s",
			      key_file, mode, key_file);
		goto fail_fd;
	}
	if (!(v = calloc(1, sizeof(*v)))) {
		rc = tvs__err(TVS_ENOMEM, "vault");
		goto fail_fd;
	}
	if (!(v->key = sodium_malloc(KEY_BYTES))) {
		rc = tvs__err(TVS_ENOMEM, "vault: key memory");
		goto fail_vault;
	}
	if ((rc = read_key(fd, key_file, &st, v->key)) < 0)
		goto fail_key;
	crypto_generichash(h, sizeof(h), v->key, KEY_BYTES, NULL, 0);
	sodium_bin2hex(v->master_id, sizeof(v->master_id), h, TVS_VAULT_MASTER_ID_LEN / 2);
	sodium_memzero(h, sizeof(h));
	if (sodium_mprotect_readonly(v->key) != 0) {
		rc = tvs__err(TVS_EIO, "vault: cannot protect the key memory");
		goto fail_key;
	}
	close(fd);
	*out = v;
	return 0;

fail_key:
	sodium_free(v->key);
fail_vault:
	free(v);
fail_fd:
	close(fd);
	return rc;
}

void tvs_vault_destroy(tvs_vault_t *v)
{
	if (!v)
		return;
	sodium_free(v->key); /* makes it writable, wipes it, unmaps it */
	free(v);
}

const char *tvs_vault_master_id(const tvs_vault_t *v)
{
	return v ? v->master_id : "";
}

/* fsync the folder holding path, so the new name survives a crash. */
static int sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return tvs__err(TVS_ENOMEM, "vault: path");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = tvs__err(TVS_EIO, "vault: cannot sync folder %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int tvs_vault_create_key_file(const char *path)
{
	unsigned char key[KEY_BYTES];
	size_t done = 0;
	int fd, rc;

	if (!path || !*path)
		return tvs__err(TVS_EINVAL, "vault: need a key file path");
	if ((rc = crypto_ready()) < 0)
		return rc;
	/* O_EXCL with O_CREAT also refuses a symlink at path, dangling or not */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			return tvs__err(TVS_ECONFLICT, "vault: %s already exists; a master key file is never overwritten",
					path);
		if (e == ENOENT)
			return tvs__err(TVS_ENOTFOUND, "vault: cannot create %s: its folder does not exist", path);
		if (e == EACCES || e == EPERM)
			return tvs__err(TVS_EDENIED, "vault: cannot create %s: %s", path, strerror(e));
		return tvs__err(TVS_EIO, "vault: cannot create %s: %s", path, strerror(e));
	}
	/* the umask may have taken the owner's bits away; put back exactly 0600 */
	if (fchmod(fd, 0600) != 0) {
		rc = tvs__err(TVS_EIO, "vault: chmod %s: %s", path, strerror(errno));
		goto fail_file;
	}
	randombytes_buf(key, sizeof(key));
	while (done < sizeof(key)) {
		ssize_t n = write(fd, key + done, sizeof(key) - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = tvs__err(TVS_EIO, "vault: write %s: %s", path, n < 0 ? strerror(errno) : "no progress");
			goto fail_file;
		}
		done += (size_t)n;
	}
	sodium_memzero(key, sizeof(key));
	if (fsync(fd) != 0) {
		rc = tvs__err(TVS_EIO, "vault: fsync %s: %s", path, strerror(errno));
		goto fail_file;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = tvs__err(TVS_EIO, "vault: close %s: %s", path, strerror(errno));
		goto fail_file;
	}
	fd = -1;
	if ((rc = sync_parent(path)) < 0)
		goto fail_file;
	return 0;

fail_file:
	sodium_memzero(key, sizeof(key));
	if (fd >= 0)
		close(fd);
	unlink(path); /* we created it (O_EXCL): no half-written key is left behind */
	return rc;
}

/* ------------------------------------------------------------ wrapping */

/* wrapped = nonce || E(master, dk; AAD = master_id) */
static void wrap(const tvs_vault_t *v, const unsigned char dk[KEY_BYTES], unsigned char wrapped[WRAPPED_BYTES])
{
	unsigned long long clen;

	randombytes_buf(wrapped, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + NONCE_BYTES, &clen, dk, KEY_BYTES,
						   (const unsigned char *)v->master_id, TVS_VAULT_MASTER_ID_LEN,
						   NULL, wrapped, v->key);
	TVS_ASSERT(clen == KEY_BYTES + TAG_BYTES);
}

static int unwrap(const tvs_vault_t *v, int64_t key_id, const void *wrapped, size_t wlen,
		  unsigned char dk[KEY_BYTES])
{
	const unsigned char *w = wrapped;
	unsigned long long dlen;

	if (wlen != WRAPPED_BYTES)
		return tvs__err(TVS_EINTEGRITY, "vault: data key %" PRId64 ": wrapped key is %zu bytes, not %d",
				key_id, wlen, WRAPPED_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dk, &dlen, NULL, w + NONCE_BYTES, WRAPPED_BYTES - NONCE_BYTES,
						       (const unsigned char *)v->master_id,
						       TVS_VAULT_MASTER_ID_LEN, w, v->key) != 0 ||
	    dlen != KEY_BYTES) {
		sodium_memzero(dk, KEY_BYTES);
		return tvs__err(TVS_EINTEGRITY,
				"vault: data key %" PRId64 ": wrapped key fails authentication under master %s (altered)",
				key_id, v->master_id);
	}
	return 0;
}

static void le64(int64_t id, unsigned char out[8])
{
	uint64_t u = (uint64_t)id;

	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(u >> (8 * i));
}

/* ------------------------------------------------------------ records */

int tvs_vault_seal(tvs_vault_t *v, tvs_tx_t *tx, int64_t now, const void *plain, size_t len, int64_t *key_id,
		   uint8_t **ct, size_t *ctlen)
{
	unsigned char dk[KEY_BYTES], wrapped[WRAPPED_BYTES], aad[8];
	unsigned long long clen;
	tvs_rows r;
	uint8_t *c;
	int64_t id;
	int rc;

	if (ct)
		*ct = NULL;
	if (ctlen)
		*ctlen = 0;
	if (key_id)
		*key_id = 0;
	if (!v || !tx || !key_id || !ct || !ctlen || (len && !plain))
		return tvs__err(TVS_EINVAL, "vault: seal: NULL argument");
	if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX || len > SIZE_MAX - TVS_VAULT_OVERHEAD)
		return tvs__err(TVS_ETOOBIG, "vault: seal: %zu bytes is too large", len);
	if (!(c = malloc(len + TVS_VAULT_OVERHEAD)))
		return tvs__err(TVS_ENOMEM, "vault: seal: %zu bytes", len);

	crypto_aead_xchacha20poly1305_ietf_keygen(dk);
	wrap(v, dk, wrapped);
	tvs_val p[3] = {TVS_VBLOB(wrapped, sizeof(wrapped)), TVS_VTEXT(v->master_id), TVS_VINT(now)};
	rc = tvs_tx_query(tx, "INSERT INTO keys (wrapped, master_id, created_at) VALUES (?, ?, ?) RETURNING id", p, 3,
			  &r);
	if (rc < 0)
		goto fail_insert;
	id = tvs_rows_int(&r, 0, 0);
	tvs_rows_free(&r);
	if (id <= 0) {
		rc = tvs__err(TVS_EIO, "vault: seal: the keys insert returned no id");
		goto fail_insert;
	}

	le64(id, aad);
	randombytes_buf(c, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(c + NONCE_BYTES, &clen, plain, len, aad, sizeof(aad), NULL, c,
						   dk);
	sodium_memzero(dk, sizeof(dk));
	TVS_ASSERT(clen == len + TAG_BYTES);
	*key_id = id;
	*ct = c;
	*ctlen = len + TVS_VAULT_OVERHEAD;
	return 0;

fail_insert:
	sodium_memzero(dk, sizeof(dk));
	free(c);
	return rc;
}

int tvs_vault_open_sealed(tvs_vault_t *v, tvs_tx_t *tx, int64_t key_id, const void *ct, size_t ctlen,
			  uint8_t **plain, size_t *len)
{
	unsigned char dk[KEY_BYTES], aad[8];
	const unsigned char *c = ct;
	unsigned long long mlen;
	const void *wrapped;
	const char *master;
	size_t wlen, n;
	tvs_rows r;
	uint8_t *m;
	int rc;

	if (plain)
		*plain = NULL;
	if (len)
		*len = 0;
	if (!v || !tx || !plain || !len || (ctlen && !ct))
		return tvs__err(TVS_EINVAL, "vault: open: NULL argument");
	if (ctlen < TVS_VAULT_OVERHEAD)
		return tvs__err(TVS_EFORMAT, "vault: open: ciphertext of %zu bytes is shorter than its nonce and tag",
				ctlen);
	tvs_val p = TVS_VINT(key_id);
	if ((rc = tvs_tx_query(tx, "SELECT wrapped, master_id FROM keys WHERE id = ?", &p, 1, &r)) < 0)
		return rc;
	if (r.nrows == 0) {
		rc = tvs__err(TVS_ENOTFOUND, "vault: data key %" PRId64 " does not exist", key_id);
		goto fail_rows;
	}
	if (tvs_rows_is_null(&r, 0, 0)) {
		rc = tvs__err(TVS_ENOTFOUND, "vault: data key %" PRId64 " was destroyed (crypto-shredded)", key_id);
		goto fail_rows;
	}
	master = tvs_rows_text(&r, 0, 1);
	if (!master || strcmp(master, v->master_id) != 0) {
		rc = tvs__err(TVS_EDENIED, "vault: data key %" PRId64 " is wrapped under master %.16s, this key file is %s",
			      key_id, master ? master : "(none)", v->master_id);
		goto fail_rows;
	}
	wrapped = tvs_rows_blob(&r, 0, 0, &wlen);
	if ((rc = unwrap(v, key_id, wrapped, wlen, dk)) < 0)
		goto fail_rows;
	tvs_rows_free(&r);

	n = ctlen - TVS_VAULT_OVERHEAD;
	if (!(m = malloc(n ? n : 1))) {
		rc = tvs__err(TVS_ENOMEM, "vault: open: %zu bytes", n);
		goto fail_key;
	}
	le64(key_id, aad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, c + NONCE_BYTES, ctlen - NONCE_BYTES, aad,
						       sizeof(aad), c, dk) != 0) {
		rc = tvs__err(TVS_EINTEGRITY,
			      "vault: ciphertext fails authentication under data key %" PRId64
			      " (altered, or sealed under another key)",
			      key_id);
		tvs_vault_free_plain(m, n);
		goto fail_key;
	}
	sodium_memzero(dk, sizeof(dk));
	TVS_ASSERT(mlen == n);
	*plain = m;
	*len = n;
	return 0;

fail_rows:
	tvs_rows_free(&r);
fail_key:
	sodium_memzero(dk, sizeof(dk));
	return rc;
}

void tvs_vault_free_plain(void *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}

/*
 * Shredding NULLs the wrapped key in the row. What SQLite does with the old
 * bytes: with secure_delete on (the store sets it on every connection, see
 * src/store/sqlite.c), the space a rewritten cell leaves on its page and
 * every page put on the free list are zeroed, so the main file keeps no
 * copy. But in WAL mode the commit that wrote the key appended a page image
 * holding it to the -wal file, and that frame stays there, readable, until a
 * checkpoint copies the newer page over the main file and the WAL is reset;
 * even then a reset WAL is overwritten from its start, not wiped, so old
 * frames past the new end survive. tvs_vault_scrub runs a TRUNCATE
 * checkpoint, which leaves a zero-length WAL. Backups taken before the shred
 * still hold the wrapped key, which is fine for them: it is wrapped, and the
 * master key is what they lack.
 */
int tvs_vault_shred(tvs_tx_t *tx, int64_t key_id, int64_t now)
{
	int64_t changes = 0;
	int rc;

	if (!tx)
		return tvs__err(TVS_EINVAL, "vault: shred: NULL transaction");
	/* the first destruction time stands; a second shred is a no-op */
	tvs_val p[2] = {TVS_VINT(now), TVS_VINT(key_id)};
	rc = tvs_tx_exec(tx, "UPDATE keys SET wrapped = NULL, destroyed_at = coalesce(destroyed_at, ?) WHERE id = ?", p,
			 2, &changes);
	if (rc < 0)
		return rc;
	if (changes == 0)
		return tvs__err(TVS_ENOTFOUND, "vault: shred: data key %" PRId64 " does not exist", key_id);
	return 0;
}

/*
 * Scrubbing: what each engine lets us do about the old wrapped keys that
 * shreds and rotations leave behind.
 *
 * SQLite: the main file is clean already (secure_delete, above); a TRUNCATE
 * checkpoint empties the WAL into it and cuts the -wal file to zero length.
 *
 * PostgreSQL never overwrites a row in place: the UPDATE that NULLs a
 * wrapped key writes a new version and leaves the old one, all 72 bytes, as
 * a dead tuple in the table's file, where any snapshot older than the shred
 * still reads it. VACUUM keys removes the dead versions no snapshot can see
 * and marks their space free, but does not wipe it. Measured on PostgreSQL
 * 15 (docs/deletion.md): shred the oldest 2000 of 5000 keys and VACUUM, and
 * 1972 of the old wrapped keys are still whole in the heap file; insert 2000
 * new keys and none is (without the VACUUM, all 2000 are: the new rows go
 * to new pages). VACUUM (FULL) rewrites the table and leaves none, but it
 * holds an exclusive lock on keys for the whole rewrite (1.6 s a million
 * keys there), stopping every seal and open, and the service scrubs after
 * each retention pass, every minute by default; so scrub runs the plain
 * VACUUM and the rewrite is left to the operator. The WAL is beyond us:
 * CHECKPOINT and pg_switch_wal() need a superuser or pg_checkpoint, and even
 * they only recycle a segment, not wipe it.
 *
 * Checks: a VACUUM by a role that owns neither the table nor the database
 * succeeds with a warning and does nothing, so keys' vacuum_count must move;
 * a dead version an open transaction could still see is kept and counted
 * in n_dead_tup as VACUUM leaves it. Both are PostgreSQL's statistics, which
 * other sessions update a moment after they commit, so a dead tuple another
 * session reports just after our VACUUM would read as one kept: a TVS_EBUSY
 * that a retry clears.
 */
static int scrub_sqlite(tvs_store_t *s)
{
	tvs_rows r;
	int rc, busy;

	if ((rc = tvs_store_query(s, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0, &r)) < 0)
		return rc;
	/* one row: busy, WAL frames, frames checkpointed (-1, -1 outside WAL) */
	busy = r.nrows == 1 && tvs_rows_int(&r, 0, 0) != 0;
	tvs_rows_free(&r);
	if (busy)
		return tvs__err(TVS_EBUSY,
				"vault: scrub: a reader kept the WAL checkpoint from finishing; old key bytes may remain "
				"in the -wal file until the next one");
	return 0;
}

/* keys' manual VACUUM count and dead tuples, from PostgreSQL's statistics */
static int pg_keys_stats(tvs_store_t *s, int64_t *vacuums, int64_t *dead)
{
	tvs_rows r;
	int rc;

	rc = tvs_store_query(s,
			     "SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables "
			     "WHERE relid = CAST('keys' AS regclass)",
			     NULL, 0, &r);
	if (rc < 0)
		return rc;
	if (r.nrows != 1)
		rc = tvs__err(TVS_EIO, "vault: scrub: PostgreSQL has no statistics row for table keys");
	*vacuums = tvs_rows_int(&r, 0, 0);
	*dead = tvs_rows_int(&r, 0, 1);
	tvs_rows_free(&r);
	return rc;
}

static int scrub_postgresql(tvs_store_t *s)
{
	int64_t before, after, dead;
	int rc;

	if ((rc = pg_keys_stats(s, &before, &dead)) < 0)
		return rc;
	/* no transaction around it: VACUUM refuses to run inside one */
	if ((rc = tvs_store_exec(s, "VACUUM keys", NULL, 0, NULL)) < 0)
		return rc;
	if ((rc = pg_keys_stats(s, &after, &dead)) < 0)
		return rc;
	if (after <= before)
		return tvs__err(TVS_EDENIED,
				"vault: scrub: VACUUM skipped table keys: this role owns neither it nor the database "
				"(or track_counts is off, which hides whether it ran)");
	if (dead > 0)
		return tvs__err(TVS_EBUSY,
				"vault: scrub: %" PRId64 " dead row versions of keys are still visible to an open "
				"transaction (or held for a replication slot or standby), so VACUUM kept them and the "
				"wrapped keys they hold; retry when it has ended",
				dead);
	return 0;
}

int tvs_vault_scrub(tvs_store_t *s)
{
	if (!s)
		return tvs__err(TVS_EINVAL, "vault: scrub: NULL store");
	if (strcmp(tvs_store_backend(s), "postgresql") == 0)
		return scrub_postgresql(s);
	return scrub_sqlite(s);
}

/* ------------------------------------------------------------ rotation */

/* Refuse to rotate while live keys belong to a third master. */
static int check_foreign(tvs_tx_t *tx, const tvs_vault_t *old, const tvs_vault_t *neu)
{
	tvs_val p[2] = {TVS_VTEXT(old->master_id), TVS_VTEXT(neu->master_id)};
	char ids[FOREIGN_SHOWN * (TVS_VAULT_MASTER_ID_LEN + 2) + 8] = "";
	int64_t total = 0;
	size_t used = 0;
	tvs_rows r;
	int rc;

	rc = tvs_tx_query(tx,
			  "SELECT master_id, count(*) FROM keys WHERE wrapped IS NOT NULL AND master_id NOT IN (?, ?) "
			  "GROUP BY master_id ORDER BY count(*) DESC, master_id",
			  p, 2, &r);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows; i++) {
		total += tvs_rows_int(&r, i, 1);
		if (i < FOREIGN_SHOWN) {
			const char *id = tvs_rows_text(&r, i, 0);
			used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%.16s", i ? ", " : "",
						 id ? id : "");
		} else if (i == FOREIGN_SHOWN) {
			snprintf(ids + used, sizeof(ids) - used, ", ...");
		}
	}
	if (r.nrows)
		rc = tvs__err(TVS_ECONFLICT,
			      "vault: rotate: %" PRId64 " live data keys are wrapped under neither master %s nor %s "
			      "but under %zu other master(s): %s; nothing was re-wrapped",
			      total, old->master_id, neu->master_id, r.nrows, ids);
	tvs_rows_free(&r);
	return rc;
}

/* Re-wrap the next batch of keys after *last; *n gets the batch size. */
static int rotate_batch(tvs_tx_t *tx, const tvs_vault_t *old, const tvs_vault_t *neu, int64_t *last, size_t *n)
{
	unsigned char dk[KEY_BYTES], wrapped[WRAPPED_BYTES];
	tvs_val q[3] = {TVS_VTEXT(old->master_id), TVS_VINT(*last), TVS_VINT(ROTATE_BATCH)};
	tvs_rows r;
	int rc;

	*n = 0;
	rc = tvs_tx_query(tx,
			  "SELECT id, wrapped FROM keys WHERE master_id = ? AND wrapped IS NOT NULL AND id > ? "
			  "ORDER BY id LIMIT ?",
			  q, 3, &r);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r.nrows; i++) {
		int64_t id = tvs_rows_int(&r, i, 0);
		size_t wlen;
		const void *w = tvs_rows_blob(&r, i, 1, &wlen);

		if ((rc = unwrap(old, id, w, wlen, dk)) < 0)
			break;
		wrap(neu, dk, wrapped);
		sodium_memzero(dk, sizeof(dk));
		tvs_val u[3] = {TVS_VBLOB(wrapped, sizeof(wrapped)), TVS_VTEXT(neu->master_id), TVS_VINT(id)};
		if ((rc = tvs_tx_exec(tx, "UPDATE keys SET wrapped = ?, master_id = ? WHERE id = ?", u, 3, NULL)) < 0)
			break;
		*last = id;
	}
	*n = r.nrows;
	tvs_rows_free(&r);
	return rc;
}

int tvs_vault_rotate(tvs_vault_t *old, tvs_vault_t *neu, tvs_store_t *s, int64_t *rewrapped)
{
	tvs_tx_t *tx;
	int64_t last = 0, total = 0;
	size_t n;
	int rc;

	if (rewrapped)
		*rewrapped = 0;
	if (!old || !neu || !s)
		return tvs__err(TVS_EINVAL, "vault: rotate: NULL argument");
	/* ids equal means keys equal (barring a 64-bit hash collision) */
	if (sodium_memcmp(old->master_id, neu->master_id, TVS_VAULT_MASTER_ID_LEN) == 0)
		return tvs__err(TVS_EINVAL, "vault: rotate: the old and new key files hold the same master %s",
				old->master_id);
	if ((rc = tvs_store_begin(s, 1, &tx)) < 0)
		return rc;
	if ((rc = check_foreign(tx, old, neu)) < 0)
		goto fail_tx;
	do {
		if ((rc = rotate_batch(tx, old, neu, &last, &n)) < 0)
			goto fail_tx;
		total += (int64_t)n;
	} while (n == ROTATE_BATCH);
	if ((rc = tvs_tx_commit(tx)) < 0)
		return rc;
	if (rewrapped)
		*rewrapped = total;
	return 0;

fail_tx:
	tvs_tx_rollback(tx);
	return rc;
}
