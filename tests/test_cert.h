/*
 * A self-signed certificate for TLS tests, made with the openssl command
 * (Debian's openssl package): P-256, CN and subjectAltName IP 127.0.0.1,
 * valid two days, the key file mode 0600 as the server demands.
 */
#ifndef TVS_TEST_CERT_H
#define TVS_TEST_CERT_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv[0] from PATH with its output thrown away; exit status, or -1. */
static int run_quiet(char *const argv[])
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 1 if the openssl command runs here. */
static int have_openssl(void)
{
	char *version[] = { "openssl", "version", NULL };

	return run_quiet(version) == 0;
}

/* Write the certificate to cert and its key to key (mode 0600); 0 or -1. */
static int make_cert(const char *cert, const char *key)
{
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			 "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
			 "-keyout", (char *)key, "-out", (char *)cert, NULL };

	return run_quiet(argv) == 0 && chmod(key, 0600) == 0 ? 0 : -1;
}

#endif
