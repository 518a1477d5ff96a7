/*
 * Run a test binary's SIMD checks once per dispatch level. Include after
 * cmocka.h.
 */
#ifndef TVS_TEST_SIMD_H
#define TVS_TEST_SIMD_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Re-run this test binary as "argv0 child_flag" with TVS_SIMD=0, 1 and 2
 * (the CPU-level cap is read once per process, hence a process per level);
 * each child must exit 0. */
static inline void run_simd_levels(const char *argv0, const char *child_flag)
{
	for (int level = 0; level <= 2; level++) {
		fflush(stdout);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char lv[2] = {(char)('0' + level), 0};
			setenv("TVS_SIMD", lv, 1);
			execl("/proc/self/exe", argv0, child_flag, (char *)NULL);
			_exit(3);
		}
		int st = 0;
		assert_true(waitpid(pid, &st, 0) == pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

#endif
