/* `openmcim sim --server-dir DIR [--server MAP,...]` against a deployment
 * that is already running (issue 8, the simulator half of issue 9): one
 * `openmcim server --demo --dir D` writes D/urls.json while it runs; the
 * simulator on D alone keeps every invariant; a second replica on the same
 * deployment and database (`openmcim server --config D/server.conf`) and
 * --server with both role maps spreads the requests round robin (each
 * replica's VNO answered some of the attaches, read from its /metrics) and
 * still keeps every invariant; `bench server --server-dir` measures over
 * the same replicas; a restart fault, --server without
 * --server-dir, and a directory that is no deployment are refused with a
 * message; the demo server removes D/urls.json when it stops. Runs the
 * real binary (argv[1]).
 * covers: EVAL-8, NET-1, CCIF-2 */
#include "testlib.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bin;
static char root[256], dep[300], out[65536], err[65536];
static pid_t kids[2];

static void kill_kids(void)
{
	for (size_t i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGTERM);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

/* `openmcim server A1 A2 [A3] --log-level err`, stdout to the file so
 * (stderr to so.err). */
static pid_t spawn_server(const char *a1, const char *a2, const char *a3, const char *so)
{
	const char *argv[] = {bin, "server", a1, a2, a3 ? a3 : "--log-level", a3 ? "--log-level" : "err",
			      a3 ? "err" : NULL, NULL};
	char se[400];
	snprintf(se, sizeof se, "%s.err", so);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(so, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(se, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

/* Wait (up to 120 s: the machine is shared) until path holds a whole line. */
static void wait_line(const char *path)
{
	for (int i = 0; i < 1200; i++) {
		FILE *f = fopen(path, "r");
		char line[4096] = "";
		bool got = f && fgets(line, sizeof line, f) && strchr(line, '\n');
		if (f)
			fclose(f);
		if (got)
			return;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("no role map in %s after 120 s", path);
}

static json_t *sim_json(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' sim %s --json", bin, args);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("sim %s: exit %d\n%s\n%s", args, rc, out, err);
	json_error_t je;
	json_t *o = json_loads(out, 0, &je);
	if (!o)
		fail_msg("sim %s: not one JSON object: %s", args, out);
	return o;
}

static void expect_fleet_ok(json_t *o, long devices, long replicas)
{
	assert_int_equal(json_integer_value(json_object_get(o, "devices")), devices);
	assert_int_equal(json_integer_value(json_object_get(o, "provisioned")), devices);
	assert_int_equal(json_integer_value(json_object_get(o, "replicas")), replicas);
	assert_true(json_is_true(json_object_get(o, "server_external")));
	assert_true(json_is_true(json_object_get(o, "invariants_ok")));
	assert_true(json_is_true(json_object_get(o, "imsi_unique")));
	assert_true(json_is_true(json_object_get(o, "no_device_stranded")));
	assert_true(json_number_value(json_object_get(o, "provision_rate_per_s")) > 0);
}

/* The 2xx answers of the VNO of the replica whose role map is in path. */
static long vno_2xx(const char *path)
{
	json_error_t je;
	json_t *m = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
	const char *vno = json_string_value(json_object_get(m, "vno"));
	if (!vno)
		fail_msg("%s: no vno in the role map", path);
	char url[300];
	snprintf(url, sizeof url, "%s/metrics", vno);
	json_decref(m);
	omc_http_client *c = NULL;
	assert_int_equal(omc_http_client_new(&c, NULL), OMC_OK);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	assert_int_equal(omc_http_call(c, "GET", url, NULL, 0, &st, &r, &rl), OMC_OK);
	assert_int_equal(st, 200);
	const char *k = "omc_http_requests_total{role=\"vno\",class=\"2xx\"} ";
	const char *p = strstr(r, k);
	long n = p ? strtol(p + strlen(k), NULL, 10) : -1;
	omc_free(r);
	omc_http_client_free(c);
	return n;
}

static void test_external(void **state)
{
	(void)state;
	char so1[400], so2[400], map1[400];
	snprintf(so1, sizeof so1, "%s/replica1.out", root);
	snprintf(so2, sizeof so2, "%s/replica2.out", root);
	snprintf(map1, sizeof map1, "%s/urls.json", dep);
	kids[0] = spawn_server("--demo", "--dir", dep, so1);
	wait_line(map1);

	/* One replica: the deployment directory alone. */
	char args[1200];
	snprintf(args, sizeof args, "--devices 12 --server-dir '%s'", dep);
	json_t *o = sim_json(args);
	expect_fleet_ok(o, 12, 1);
	json_decref(o);

	/* Two replicas of the same deployment, one database: round robin. */
	char conf[400];
	snprintf(conf, sizeof conf, "%s/server.conf", dep);
	kids[1] = spawn_server("--config", conf, NULL, so2);
	wait_line(so2);
	long before1 = vno_2xx(map1), before2 = vno_2xx(so2);
	snprintf(args, sizeof args, "--devices 24 --server-dir '%s' --server '%s' --server '%s'", dep, map1, so2);
	o = sim_json(args);
	expect_fleet_ok(o, 24, 2);
	json_decref(o);
	long got1 = vno_2xx(map1) - before1, got2 = vno_2xx(so2) - before2;
	/* 24 devices, each at least one attach and its completion at the VNO:
	 * both replicas took part. */
	if (got1 <= 0 || got2 <= 0 || got1 + got2 < 48)
		fail_msg("the VNO answers were not spread: %ld and %ld", got1, got2);

	/* bench server over HTTP against the same two replicas. */
	snprintf(args, sizeof args, "'%s' bench server --seconds 0.02 --json --server-dir '%s' --server '%s,%s'", bin,
		 dep, map1, so2);
	if (tl_run(args, out, sizeof out, err, sizeof err) != 0)
		fail_msg("%s: %s\n%s", args, out, err);
	json_error_t je;
	o = json_loads(out, 0, &je);
	if (!o)
		fail_msg("bench server: not JSON: %s", out);
	assert_true(json_is_true(json_object_get(o, "http_server_external")));
	assert_int_equal(json_integer_value(json_object_get(o, "http_replicas")), 2);
	assert_true(json_number_value(json_object_get(o, "http_packages_per_s")) > 0);
	assert_true(json_number_value(json_object_get(o, "http_avs_per_s_batch32")) > 0);
	assert_null(json_object_get(o, "http_packages_per_s_tmpfs")); /* no deployment of its own */
	json_decref(o);

	/* The demo server's map goes when it stops. */
	kill_kids();
	struct stat st;
	assert_int_not_equal(stat(map1, &st), 0);
}

static void test_refused(void **state)
{
	(void)state;
	struct {
		const char *before, *after; /* the arguments around the test's directory */
		int rc;
		const char *says;
	} cases[] = {
		{"--devices 4 --server-dir ", " --faults restart=1", 2, "restarts only a server it started"},
		{"--devices 4 --server ", "/urls.json", 2, "--server needs --server-dir"},
		{"--devices 4 --server-dir ", "/nowhere", 3, "is not a demo deployment"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char a[600], cmd[1200];
		snprintf(a, sizeof a, "%s%s%s", cases[i].before, root, cases[i].after);
		snprintf(cmd, sizeof cmd, "'%s' sim %s", bin, a);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != cases[i].rc || out[0] || !strstr(err, cases[i].says))
			fail_msg("sim %s: exit %d (want %d), stdout '%s', stderr '%s'", a, rc, cases[i].rc, out, err);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	snprintf(root, sizeof root, "/tmp/omc-sim-server-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(dep, sizeof dep, "%s/dep", root);
	atexit(kill_kids);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_external),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kill_kids();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
