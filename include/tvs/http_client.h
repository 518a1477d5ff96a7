/*
 * A minimal blocking HTTP/1.1 client for loopback use: the demo replays its
 * world through the real API with it, and the service benchmark drives the
 * server with it. One request per connection; bodies with Content-Length or
 * read to EOF. Not a general-purpose client (no TLS, no redirects).
 */
#ifndef TVS_HTTP_CLIENT_H
#define TVS_HTTP_CLIENT_H

#include <stddef.h>

typedef struct tvs_http_reply {
	int status;
	char *body; /* malloc'd and NUL-terminated; free with tvs_http_reply_free */
	size_t len;
} tvs_http_reply;

/* Send method path to host:port (IPv4 text) with extra header lines
 * (each "Name: value\r\n"; may be NULL) and body[len] (may be NULL) of
 * content_type, and read the reply into *r. TVS_EIO on connection failure,
 * TVS_EFORMAT on a malformed reply, TVS_ETOOBIG over 64 MiB. */
int tvs_http_request(const char *host, int port, const char *method, const char *path, const char *headers,
		     const char *content_type, const void *body, size_t len, tvs_http_reply *r);

void tvs_http_reply_free(tvs_http_reply *r);

#endif
