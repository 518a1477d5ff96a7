/*
 * A scratch folder for tests that write files: made in the group setup,
 * emptied (files and empty subfolders) and removed in the teardown.
 */
#ifndef TVS_TEST_TMPDIR_H
#define TVS_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

/* mkdtemp /tmp/<prefix>_XXXXXX into tmpdir; 0 or -1. */
static inline int tmpdir_make(const char *prefix)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s_XXXXXX", prefix);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int tmpdir_remove(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	if (d)
		closedir(d);
	return rmdir(tmpdir);
}

#endif
