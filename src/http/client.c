/*
 * The loopback HTTP client (see include/tvs/http_client.h). Connection:
 * close keeps it simple: the reply ends at EOF, so no keep-alive or chunked
 * bookkeeping is needed for the bodies our own server sends.
 */
#include "tvs/error.h"
#include "tvs/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_MAX ((size_t)64 << 20)

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return tvs__err(TVS_EIO, "http client: send: %s", strerror(errno));
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

void tvs_http_reply_free(tvs_http_reply *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int tvs_http_request(const char *host, int port, const char *method, const char *path, const char *headers,
		     const char *content_type, const void *body, size_t len, tvs_http_reply *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char head[2048];
	char *buf = NULL, *sep;
	size_t n = 0, cap = 0;
	int fd = -1, rc, one = 1, hn;

	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return tvs__err(TVS_EINVAL, "http client: bad address %s", host);
	hn = snprintf(head, sizeof(head),
		      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s%s%s%sContent-Length: %zu\r\n\r\n",
		      method, path, host, port, headers ? headers : "", content_type ? "Content-Type: " : "",
		      content_type ? content_type : "", content_type ? "\r\n" : "", body ? len : 0);
	if (hn < 0 || (size_t)hn >= sizeof(head))
		return tvs__err(TVS_EINVAL, "http client: request head too long");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tvs__err(TVS_EIO, "http client: socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = tvs__err(TVS_EIO, "http client: connect %s:%d: %s", host, port, strerror(errno));
		goto out;
	}
	rc = send_all(fd, head, (size_t)hn);
	if (!rc && body && len)
		rc = send_all(fd, body, len);
	while (!rc) {
		ssize_t k;

		if (cap - n < 65536) {
			char *nb;

			cap = cap ? cap * 2 : 131072;
			if (cap > REPLY_MAX + 1) {
				rc = tvs__err(TVS_ETOOBIG, "http client: reply over %zu bytes", REPLY_MAX);
				break;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				rc = tvs__err(TVS_ENOMEM, "http client");
				break;
			}
			buf = nb;
		}
		k = recv(fd, buf + n, cap - n - 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			rc = tvs__err(TVS_EIO, "http client: recv: %s", strerror(errno));
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	if (rc)
		goto out;
	if (!buf || n < 12 || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		rc = tvs__err(TVS_EFORMAT, "http client: no status line");
		goto out;
	}
	buf[n] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep) {
		rc = tvs__err(TVS_EFORMAT, "http client: no end of headers");
		goto out;
	}
	sep += 4;
	r->len = n - (size_t)(sep - buf);
	memmove(buf, sep, r->len + 1);
	r->body = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}
