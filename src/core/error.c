/*
 * Error codes and the per-thread error detail. A fixed thread-local buffer
 * avoids allocation on error paths, which are exactly where memory may be
 * short.
 */
#include "tvs/error.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local char errmsg[512];

const char *tvs_strerror(int err)
{
	switch (err) {
	case TVS_OK: return "success";
	case TVS_EINVAL: return "invalid argument";
	case TVS_ENOMEM: return "out of memory";
	case TVS_EIO: return "I/O error";
	case TVS_EFORMAT: return "malformed input";
	case TVS_ETOOBIG: return "input too large";
	case TVS_EUNSUPPORTED: return "unsupported input";
	case TVS_ENOTFOUND: return "not found";
	case TVS_EINTEGRITY: return "integrity check failed";
	case TVS_ENOFACE: return "no face found";
	case TVS_EMODEL: return "another recognition model";
	case TVS_ECONFLICT: return "conflict with the current state";
	case TVS_EBUSY: return "busy";
	case TVS_EDENIED: return "permission denied";
	default: return "unknown error";
	}
}

const char *tvs_errmsg(void)
{
	return errmsg;
}

void tvs_err_clear(void)
{
	errmsg[0] = '\0';
}

int tvs__err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return code;
}

void tvs__assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "tvs: assertion failed: %s (%s:%d)\n", expr, file, line);
	abort();
}
