/* `openmcim sim`: a small fleet with each fault kind keeps every invariant
 * (each device provisioned exactly once, no IMSI on two devices, no MCIM
 * lost, none stranded) and says so in the JSON keys; a test-only fault
 * that puts one IMSI on two devices in the simulator's bookkeeping makes
 * the exit status 1, so the checker bites; bad fault specs are usage
 * errors; --report writes a page whose four SVG charts headless Chromium
 * draws (its DOM holds each chart with a non-empty data path); an
 * interrupted run reports its costs per device provisioned. Runs the
 * real binary (argv[1]).
 * covers: EVAL-8, CHG-1, CHG-4, TRE-4, SEC-5, NET-1, CCIF-2 */
#include "testlib.h"

#include <sys/stat.h>
#include <unistd.h>

static const char *bin;
static char out[65536], err[65536];

static json_t *run_sim(const char *args, int want_rc)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' sim %s --json", bin, args);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != want_rc)
		fail_msg("sim %s: exit %d (want %d)\n%s\n%s", args, rc, want_rc, out, err);
	json_error_t je;
	json_t *o = json_loads(out, 0, &je);
	if (!o)
		fail_msg("sim %s: not one JSON object: %s", args, out);
	static const char *const ints[] = {"devices", "provisioned", "server_rss_bytes"};
	for (size_t i = 0; i < 3; i++)
		assert_true(json_is_integer(json_object_get(o, ints[i])));
	static const char *const nums[] = {"provision_rate_per_s", "p50_ms", "p99_ms"};
	for (size_t i = 0; i < 3; i++)
		assert_true(json_is_number(json_object_get(o, nums[i])));
	assert_true(json_is_boolean(json_object_get(o, "invariants_ok")));
	return o;
}

static long jint(json_t *o, const char *k)
{
	return (long)json_integer_value(json_object_get(o, k));
}

/* A fleet with one fault: every device provisioned, every invariant kept,
 * and the fault really happened (its counter is not 0). */
static void fleet_with(const char *faults, const char *counter)
{
	char args[256];
	snprintf(args, sizeof args, "--devices 50 --faults %s --seed 7", faults);
	json_t *o = run_sim(args, 0);
	assert_int_equal(jint(o, "devices"), 50);
	assert_int_equal(jint(o, "provisioned"), 50);
	assert_true(json_is_true(json_object_get(o, "invariants_ok")));
	assert_true(json_is_true(json_object_get(o, "imsi_unique")));
	assert_true(json_is_true(json_object_get(o, "no_mcim_lost")));
	assert_true(json_is_true(json_object_get(o, "no_device_stranded")));
	assert_true(json_number_value(json_object_get(o, "provision_rate_per_s")) > 0);
	assert_true(json_number_value(json_object_get(o, "p99_ms")) >= json_number_value(json_object_get(o, "p50_ms")));
	assert_true(jint(o, "server_rss_bytes") > 0);
	assert_true(jint(o, "sim_rss_bytes") > 0);
	/* the cost per device, in CPU time of each side */
	assert_true(json_number_value(json_object_get(o, "sim_cpu_ms_per_device")) > 0);
	assert_true(json_number_value(json_object_get(o, "server_cpu_ms_per_device")) > 0);
	assert_true(json_is_false(json_object_get(o, "server_external")));
	assert_int_equal(jint(o, "replicas"), 1);
	if (jint(o, counter) <= 0)
		fail_msg("--faults %s: %s is %ld", faults, counter, jint(o, counter));
	json_decref(o);
}

static void test_drop(void **state)
{
	(void)state;
	fleet_with("drop=0.05", "dropped_responses");
}

static void test_delay(void **state)
{
	(void)state;
	fleet_with("delay=20ms", "delayed_requests");
}

static void test_restart(void **state)
{
	(void)state;
	fleet_with("restart=2", "server_restarts");
}

static void test_powercut(void **state)
{
	(void)state;
	fleet_with("powercut=0.2", "power_cuts");
}

/* TRE-4, SEC-5 */
static void test_tamper(void **state)
{
	(void)state;
	fleet_with("tamper=0.1", "tampers");
}

/* CHG-4 */
static void test_pcid_expiry(void **state)
{
	(void)state;
	fleet_with("pcid-expiry=0.2", "pcid_expiries");
}

/* CHG-1 */
/* A PCID IMSI drawn twice (as 5 in 100,000 random draws of 10^9 are): the
 * CCIF refuses the second report, and the factory makes that device again. */
static void test_pcid_repeat(void **state)
{
	(void)state;
	fleet_with("pcid-repeat=0.3", "pcid_repeats");
}

static void test_change_wave(void **state)
{
	(void)state;
	fleet_with("change-wave=0.2", "operator_changes");
}

/* The checker bites: one IMSI on two devices is exit 1, invariants_ok false. */
static void test_broken_invariant(void **state)
{
	(void)state;
	json_t *o = run_sim("--devices 5 --faults test-dup-imsi=1", 1);
	assert_true(json_is_false(json_object_get(o, "invariants_ok")));
	assert_true(json_is_false(json_object_get(o, "imsi_unique")));
	assert_int_equal(jint(o, "provisioned"), 5);
	json_decref(o);
}

static void test_usage(void **state)
{
	(void)state;
	static const char *const bad[] = {"",
					  "--devices 0",
					  "--devices 5 --faults drop=2",
					  "--devices 5 --faults nope=1",
					  "--devices 5 --faults delay=5s",
					  "--devices 5 --faults restart=1.5",
					  "--devices 5 --faults drop"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "'%s' sim %s", bin, bad[i]);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 2 || out[0])
			fail_msg("sim %s: exit %d, stdout '%s'", bad[i], rc, out);
	}
}

/* The report: headless Chromium loads it and its DOM has the four charts,
 * each with a path whose d is drawn (more than a moveto). */
static void test_report(void **state)
{
	(void)state;
	char dir[] = "/tmp/omc-sim-test-XXXXXX", path[64], cmd[512];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/r.html", dir);
	snprintf(cmd, sizeof cmd, "--devices 10 --faults drop=0.1 --report %s", path);
	json_decref(run_sim(cmd, 0));
	snprintf(cmd, sizeof cmd,
		 "chromium --headless --no-sandbox --disable-gpu --user-data-dir=%s/u --dump-dom 'file://%s' 2>/dev/null",
		 dir, path);
	static char dom[1 << 20];
	int rc = tl_run(cmd, dom, sizeof dom, err, sizeof err);
	if (rc != 0)
		fail_msg("chromium: exit %d\n%s", rc, err);
	static const char *const charts[] = {"id=\"latency\"", "id=\"states\"", "id=\"throughput\"", "id=\"causes\""};
	for (size_t i = 0; i < 4; i++) {
		const char *c = strstr(dom, charts[i]);
		if (!c)
			fail_msg("chart %s not in the DOM", charts[i]);
		const char *end = strstr(c, "</svg>");
		assert_non_null(end);
		const char *d = strstr(c, "class=\"data\"");
		if (!d || d > end)
			fail_msg("chart %s has no data path", charts[i]);
		d = strstr(d, " d=\"");
		assert_non_null(d);
		size_t len = strcspn(d + 4, "\"");
		static const char drawn[] = {'V', 'L', 'L', 'h'}; /* bars, lines, lines, bars */
		if (len < 20 || !memchr(d + 4, drawn[i], len))
			fail_msg("chart %s: path not drawn: %.60s", charts[i], d);
	}
	assert_null(strstr(dom, "<script"));
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* SIGINT ends a run early (exit status 130, "interrupted"): the figures per
 * device are of the devices provisioned, not of the N that were asked for. */
static void test_interrupted(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "timeout --preserve-status -s INT 10 '%s' sim --devices 100000 --json", bin);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 130);
	json_error_t je;
	json_t *o = json_loads(out, 0, &je);
	if (!o)
		fail_msg("not one JSON object: %s\n%s", out, err);
	assert_true(json_is_true(json_object_get(o, "interrupted")));
	assert_int_equal(jint(o, "devices"), 100000);
	long n = jint(o, "provisioned");
	assert_true(n < 100000);
	double cpu = json_number_value(json_object_get(o, "sim_cpu_ms_per_device"));
	if (n == 0) /* a machine too slow for one device in 10 s */
		assert_true(cpu == 0);
	else /* a device's factory step and TRE alone take milliseconds of CPU
	      * (divided by 100,000 it would be some microseconds) */
		assert_true(cpu >= 0.5);
	json_decref(o);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),        cmocka_unit_test(test_broken_invariant),
		cmocka_unit_test(test_drop),         cmocka_unit_test(test_delay),
		cmocka_unit_test(test_restart),      cmocka_unit_test(test_powercut),
		cmocka_unit_test(test_tamper),       cmocka_unit_test(test_pcid_expiry),
		cmocka_unit_test(test_change_wave),  cmocka_unit_test(test_report),
		cmocka_unit_test(test_interrupted),  cmocka_unit_test(test_pcid_repeat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
