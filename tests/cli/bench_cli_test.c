/* The JSON contract of `openmcim bench aka|tre|server --json`: one object
 * on one line with every documented key (docs/bench.md), each a number
 * above zero. Short runs; nothing here judges a rate (benchmarks are
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
					     "http_cores_busy_packages"};
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

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
