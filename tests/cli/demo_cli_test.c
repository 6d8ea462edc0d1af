/* `openmcim demo` (make demo) runs its fleet through the network story and
 * every step of the engine's and the TRE's stories, and says so: exit 0,
 * a table row per device, operational and attached, every step line ends
 * in "ok", none FAILED, and the temporary directories it worked in are
 * gone afterwards. --json gives the summary object. Runs the real binary
 * (argv[1]).
 * covers: SEC-4, TRE-3, TRE-4, TRE-7, TRE-8, TRE-11, MGT-1, SEC-5, SEC-9, SEC-12,
 * NET-1, NET-4, SVC-1, SVC-2, SEC-8, CCIF-2, EVAL-3 */
#include "testlib.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
	assert_non_null(strstr(out, "20 of 20 devices provisioned, 20 attached with their MCIM"));
	size_t steps = 0, rows = 0;
	char dir[128] = "", fleet_dir[128] = "";
	bool stories = false;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strlen(line);
		if (!strncmp(line, "  dev", 5) && strncmp(line, "  device ", 9) != 0) {
			/* device, TRE, state, MCIM, SHO, attach */
			if (!strstr(line, " operational ") || !strstr(line, "ok (operational session)") ||
			    (!strstr(line, " sho1 ") && !strstr(line, " sho2 ")))
				fail_msg("device not provisioned: %s", line);
			rows++;
			continue;
		}
		const char *in = strstr(line, "database in ");
		if (in)
			snprintf(fleet_dir, sizeof fleet_dir, "%s", in + 12);
		if (strstr(line, "The AKA engine, then the TRE"))
			stories = true;
		if (stories && n > 3 && !strncmp(line, "  ", 2)) {
			if (strcmp(line + n - 3, " ok") != 0)
				fail_msg("step not ok: %s", line);
			steps++;
		}
		const char *at = strstr(line, "on files in ");
		if (at)
			snprintf(dir, sizeof dir, "%.*s", (int)strcspn(at + 12, ":"), at + 12);
	}
	assert_true(steps >= 19); /* 2 x 5 AKA steps and 9 TRE steps */
	assert_int_equal(rows, 20);
	assert_true(dir[0] == '/');
	assert_true(fleet_dir[0] == '/');
	struct stat st;
	assert_int_not_equal(stat(dir, &st), 0); /* cleaned up */
	assert_int_not_equal(stat(fleet_dir, &st), 0);
}

static void test_demo_json(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' demo --devices 5 --json", bin);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("demo --json: exit %d\n%s\n%s", rc, out, err);
	json_error_t je;
	json_t *o = json_loads(out, 0, &je);
	if (!o)
		fail_msg("not one JSON object: %s", out);
	assert_int_equal(json_integer_value(json_object_get(o, "devices")), 5);
	assert_int_equal(json_integer_value(json_object_get(o, "provisioned")), 5);
	assert_int_equal(json_integer_value(json_object_get(o, "attached")), 5);
	/* CHG-1, TRE-4: one of five changes its operator (every fourth), the
	 * first is tampered with and recovered; both end attached. */
	assert_int_equal(json_integer_value(json_object_get(o, "operator_changes")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "recovered")), 1);
	assert_true(json_is_array(json_object_get(o, "failures")));
	assert_int_equal(json_array_size(json_object_get(o, "failures")), 0);
	json_decref(o);
}

/* Ctrl-C: everything it started stops (the server process, the workers),
 * its directories go, and it exits 130. */
static void test_demo_interrupted(void **state)
{
	(void)state;
	char path[] = "/tmp/omc-demo-int-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	pid_t p = fork();
	if (p == 0) {
		dup2(fd, 1);
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 2);
		execl(bin, bin, "demo", "--devices", "200", (char *)NULL);
		_exit(127);
	}
	/* Wait for the server line, then interrupt. */
	int server = 0;
	for (int i = 0; i < 500 && !server; i++) {
		struct timespec d = {0, 20 * 1000 * 1000};
		nanosleep(&d, NULL);
		FILE *f = fopen(path, "r");
		char line[512];
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "  openmcim server (pid %d)", &server) == 1)
				break;
		if (f)
			fclose(f);
	}
	assert_true(server > 0);
	assert_int_equal(kill(server, 0), 0);
	kill(p, SIGINT);
	int st = 0;
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 130);
	/* The server went with it (it may take a moment to be reaped by init). */
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		gone = kill(server, 0) != 0;
		if (!gone) {
			struct timespec d = {0, 20 * 1000 * 1000};
			nanosleep(&d, NULL);
		}
	}
	assert_true(gone);
	FILE *f = fopen(path, "r");
	char line[512], dir[128] = "";
	while (f && fgets(line, sizeof line, f)) {
		const char *in = strstr(line, "database in ");
		if (in)
			snprintf(dir, sizeof dir, "%.*s", (int)strcspn(in + 12, "\n"), in + 12);
	}
	if (f)
		fclose(f);
	close(fd);
	unlink(path);
	assert_true(dir[0] == '/');
	struct stat sb;
	assert_int_not_equal(stat(dir, &sb), 0);
}

static void test_demo_usage(void **state)
{
	(void)state;
	const char *bad[] = {"--devices", "--devices x", "--devices 1001", "--frob", "extra"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[512];
		snprintf(cmd, sizeof cmd, "'%s' demo %s", bin, bad[i]);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 2)
			fail_msg("demo %s: exit %d, want 2", bad[i], rc);
		assert_string_equal(out, "");
		assert_true(strlen(err) > 0 && strchr(err, '\n') == err + strlen(err) - 1);
	}
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' demo --help", bin);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	assert_non_null(strstr(out, "--devices N"));
	assert_non_null(strstr(out, "\"provisioned\""));
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
		cmocka_unit_test(test_demo_json),
		cmocka_unit_test(test_demo_usage),
		cmocka_unit_test(test_demo_interrupted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
