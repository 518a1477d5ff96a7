/*
 * tvs error codes.
 *
 * Every library function returns 0 or one of the negative codes below and puts
 * its results in out-parameters. A short human-readable detail of the most
 * recent error raised on the calling thread is kept in thread-local storage so
 * that the CLI and the server can say *why* ("JPEG: premature end of data at
 * byte 812") without the library ever printing anything itself.
 */
#ifndef TVS_ERROR_H
#define TVS_ERROR_H

#include <stdarg.h>

#define TVS_OK 0

enum tvs_error {
	TVS_EINVAL = -1,       /* invalid argument */
	TVS_ENOMEM = -2,       /* allocation failed */
	TVS_EIO = -3,          /* read or write failed */
	TVS_EFORMAT = -4,      /* malformed, corrupt or truncated input */
	TVS_ETOOBIG = -5,      /* input exceeds a configured hard limit */
	TVS_EUNSUPPORTED = -6, /* well-formed but not supported */
	TVS_ENOTFOUND = -7,    /* a named thing (file, weight, key) does not exist */
	TVS_EINTEGRITY = -8,   /* checksum or shape mismatch: altered data */
	TVS_ENOFACE = -9,      /* no face where one was required */
	TVS_EMODEL = -10,      /* a template or gallery of another recognition model */
	TVS_ECONFLICT = -11,   /* already exists, or the object is in the wrong state */
	TVS_EBUSY = -12,       /* overloaded or locked: retry later */
	TVS_EDENIED = -13,     /* not authenticated or not allowed */
};

/* Static text for a code; never NULL. */
const char *tvs_strerror(int err);

/* Detail of the last error set on this thread, or "" if none. Borrowed until
 * the next tvs call on this thread. */
const char *tvs_errmsg(void);

/* Forget the last error detail of this thread. */
void tvs_err_clear(void);

/* Internal: record a printf-style detail for this thread and return code. */
int tvs__err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Always-on assertion for programmer bugs (never for untrusted input). */
#define TVS_ASSERT(cond)                                                        \
	do {                                                                    \
		if (!(cond))                                                    \
			tvs__assert_fail(#cond, __FILE__, __LINE__);            \
	} while (0)
void tvs__assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
