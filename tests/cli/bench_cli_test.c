/* The JSON contract of `openmcim bench aka|tre|server|sim --json`: one
 * object on one line with every documented key (docs/bench.md), each a
 * number above zero; `openmcim bench` alone: one table (one object) of
 * every figure beside its bound; --server without --server-dir refused. Short runs; nothing here judges a rate (benchmarks are
 * never timed assertions). Runs the real binary (argv[1]).
 * covers: EVAL-6 */
#include "testlib.h"

static const char *bin;
static char out[16384], err[16384];

static void expect_keys(const char *which, const char *const *keys, size_t n)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' bench %s --seconds 0.02 --json", bin, which);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("bench %s: exit %d: %s", which, rc, err);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	if (!j)
		fail_msg("bench %s: not JSON: %s", which, out);
	assert_int_equal(strchr(out, '\n')[1], '\0'); /* one line */
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(j, keys[i]);
		if (!json_is_number(v) || !(json_number_value(v) > 0))
			fail_msg("bench %s: key %s missing or not above zero: %s", which, keys[i], out);
	}
	json_decref(j);
}

static void test_bench_json(void **state)
{
	(void)state;
	static const char *const aka[] = {"milenage_vectors_per_s", "milenage_batch_vectors_per_s",
					  "tuak_vectors_per_s", "aes_blocks_per_s", "keccak_perms_per_s"};
	expect_keys("aka", aka, sizeof aka / sizeof aka[0]);
	static const char *const tre[] = {"installs_per_s",
					  "lifecycle_changes_per_s",
					  "aka_runs_per_s",
					  "fsyncs_per_commit",
					  "install_fsyncs_per_commit",
					  "lifecycle_fsyncs_per_commit",
					  "aka_fsyncs_per_commit",
					  "ecdsa_p256_verifies_per_s",
					  "store_commits_per_s",
					  "usim_checks_per_s",
					  "tre_core_bytes",
					  "device_library_bytes"};
	expect_keys("tre", tre, sizeof tre / sizeof tre[0]);
	/* The in-process AuC figures, then the ones over loopback HTTP against
	 * the demo deployment with their crypto bounds and ratios (reported,
	 * never judged). */
	static const char *const server[] = {"auc_avs_per_s_batch1",
					     "auc_avs_per_s_batch32",
					     "engine_avs_per_s",
					     "http_threads",
					     "cpus",
					     "crypto_ecdsa_signs_per_s",
					     "crypto_ecdsa_verifies_per_s",
					     "crypto_ecdh_per_s",
					     "crypto_keygens_per_s",
					     "crypto_engine_avs_per_s",
					     "http_avs_per_s_batch1",
					     "http_avs_per_s_batch32",
					     "http_validations_per_s",
					     "http_packages_per_s",
					     "http_avs_batch1_crypto_bound_per_s",
					     "http_avs_batch32_crypto_bound_per_s",
					     "validation_crypto_bound_per_s",
					     "validation_server_crypto_bound_per_s",
					     "package_crypto_bound_per_s",
					     "package_server_crypto_bound_per_s",
					     "http_avs_batch1_ratio_to_crypto",
					     "http_avs_batch32_ratio_to_crypto",
					     "validation_ratio_to_crypto",
					     "package_ratio_to_crypto",
					     "http_cores_busy_packages",
					     "package_crypto_cpu_ms",
					     "package_cpu_ms",
					     "package_cpu_ratio_to_crypto"};
	expect_keys("server", server, sizeof server / sizeof server[0]);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e); /* what expect_keys read */
	assert_non_null(j);
	assert_true(json_is_boolean(json_object_get(j, "package_within_2x_of_crypto")));
	json_decref(j);
	/* The simulator on its smallest fleet (20 devices at this --seconds). */
	static const char *const sim[] = {"sim_devices",
					  "sim_provisions_per_s",
					  "sim_p50_ms",
					  "sim_p99_ms",
					  "sim_server_rss_bytes",
					  "sim_server_rss_per_device_bytes",
					  "sim_window_bound_per_s",
					  "sim_ratio_to_window_bound",
					  "sim_rss_ratio_to_goal"};
	expect_keys("sim", sim, sizeof sim / sizeof sim[0]);
	j = json_loads(out, 0, &e);
	assert_int_equal(json_integer_value(json_object_get(j, "sim_devices")), 20);
	json_decref(j);
}

/* `openmcim bench` without a name: aka, tre, server and sim, then one
 * table. With --json one object: each bench's object under its name and
 * "rows", each row a figure with its bound from the same run and their
 * ratio; the text form is one table with a row per figure. */
static void test_bench_all(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' bench --seconds 0.02 --json", bin);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("bench: exit %d: %s", rc, err);
	assert_int_equal(strchr(out, '\n')[1], '\0'); /* one line */
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	if (!j)
		fail_msg("bench: not JSON: %s", out);
	static const char *const benches[] = {"aka", "tre", "server", "sim"};
	for (size_t i = 0; i < 4; i++)
		if (!json_is_object(json_object_get(j, benches[i])))
			fail_msg("bench: no object %s: %s", benches[i], out);
	assert_true(json_is_number(json_object_get(json_object_get(j, "aka"), "milenage_vectors_per_s")));
	assert_true(json_is_number(json_object_get(json_object_get(j, "sim"), "sim_provisions_per_s")));
	json_t *rows = json_object_get(j, "rows");
	/* 3 aka, 3 tre, 6 server (2 more on tmpfs), 2 sim */
	if (!json_is_array(rows) || json_array_size(rows) < 14)
		fail_msg("bench: want at least 14 rows: %s", out);
	bool seen[4] = {false};
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *b = json_string_value(json_object_get(r, "bench"));
		double fig = json_number_value(json_object_get(r, "figure"));
		double bound = json_number_value(json_object_get(r, "bound"));
		const json_t *ratio = json_object_get(r, "ratio");
		if (!b || !json_is_string(json_object_get(r, "measure")) || !json_is_number(ratio) || !(fig > 0) ||
		    !(bound > 0))
			fail_msg("bench: row %zu incomplete or not above zero: %s", i, out);
		/* the ratio is the figure over the bound of the same run */
		double want = fig / bound, got = json_number_value(ratio);
		if (got < want * 0.999 || got > want * 1.001)
			fail_msg("bench: row %zu: ratio %g, figure/bound %g", i, got, want);
		/* a bound that is a key names one in the same bench's object */
		const char *bk = json_string_value(json_object_get(r, "bound_key"));
		if (bk && json_number_value(json_object_get(json_object_get(j, b), bk)) != bound)
			fail_msg("bench: row %zu: bound is not %s of %s", i, bk, b);
		for (size_t k = 0; k < 4; k++)
			seen[k] = seen[k] || !strcmp(b, benches[k]);
	}
	for (size_t k = 0; k < 4; k++)
		if (!seen[k])
			fail_msg("bench: no row of %s", benches[k]);
	json_decref(j);

	snprintf(cmd, sizeof cmd, "'%s' bench --seconds 0.02", bin);
	rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("bench: exit %d: %s", rc, err);
	const char *want[] = {"figure", "bound", "ratio", "MCIM installs/s", "HTTP MCIM packages/s",
			      "fleet provisions/s"};
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
		if (!strstr(out, want[k]))
			fail_msg("bench: the table has no '%s':\n%s", want[k], out);
}

static void test_bench_usage(void **state)
{
	(void)state;
	static const char *const bad[] = {"--server x.json", "aka --server-dir /tmp", "tre --server-dir /tmp"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[512];
		snprintf(cmd, sizeof cmd, "'%s' bench %s", bin, bad[i]);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 2 || out[0])
			fail_msg("bench %s: exit %d, stdout '%s'", bad[i], rc, out);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_json),
		cmocka_unit_test(test_bench_usage),
		cmocka_unit_test(test_bench_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
