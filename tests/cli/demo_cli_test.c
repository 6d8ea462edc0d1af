/* `openmcim demo` (make demo) runs every step of its story and says so: exit
 * 0, every step line ends in "ok", none FAILED, and the temporary directory
 * it worked in is gone afterwards. Runs the real binary (argv[1]).
 * covers: SEC-4, TRE-3, TRE-4, TRE-7, TRE-8, TRE-11, MGT-1, SEC-5, SEC-9, SEC-12 */
#include "testlib.h"

#include <sys/stat.h>

static const char *bin;
static char out[65536], err[16384];

static void test_demo(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' demo", bin);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("demo: exit %d\n%s\n%s", rc, out, err);
	assert_null(strstr(out, "FAILED"));
	assert_non_null(strstr(out, "Every step behaved as specified."));
	size_t steps = 0;
	char dir[128] = "";
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strlen(line);
		if (n > 3 && !strncmp(line, "  ", 2)) {
			if (strcmp(line + n - 3, " ok") != 0)
				fail_msg("step not ok: %s", line);
			steps++;
		}
		const char *at = strstr(line, "on files in ");
		if (at)
			snprintf(dir, sizeof dir, "%.*s", (int)strcspn(at + 12, ":"), at + 12);
	}
	assert_true(steps >= 19); /* 2 x 5 AKA steps and 9 TRE steps */
	assert_true(dir[0] == '/');
	struct stat st;
	assert_int_not_equal(stat(dir, &st), 0); /* cleaned up */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
