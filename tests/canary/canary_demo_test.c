/* The secret canary over `openmcim demo` (DESIGN invariant 1): the test
 * build of the CLI (openmcim_t, which alone reads OMC_TEST_CANARY_*) runs
 * the whole demo, the AKA stories, the TRE story and the network story of
 * a small fleet with `openmcim server` in a process of its own, with
 * planted K, OPc/TOPc and master keys; it keeps its directories for the
 * scan. Its stdout and stderr and every file it left (the deployment, the
 * SQLite databases with -wal and -shm, the TRE stores, the PKI) are scanned
 * for the planted secrets in every encoding: zero hits outside the master
 * key file itself, which the control finds.
 * covers: SEC-12, SEC-6 */
#include "testlib.h"

#include "canary.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t k[32], op[32], master[32];
static char root[] = "/tmp/omc-cdm-XXXXXX";
static size_t key_files, key_hits;

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 41 * i + (i >> 3));
}

static void set_hex(const char *var, const uint8_t *p, size_t n)
{
	char h[65];
	assert_int_equal(omc_hex_encode(h, sizeof h, p, n), OMC_OK);
	assert_int_equal(setenv(var, h, 1), 0);
}

/* master.key files are the master key's home: moved aside for the scan of
 * the tree, scanned alone as the control. */
static int hide_key(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	size_t n = strlen(p);
	if (flag == FTW_F && n > 11 && !strcmp(p + n - 11, "/master.key")) {
		key_hits += tl_canary_scan_file(p);
		key_files++;
		return unlink(p);
	}
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void test_canary_demo(void **state)
{
	(void)state;
	fill(k, sizeof k, 0x3b);
	fill(op, sizeof op, 0xe7);
	fill(master, sizeof master, 0x52);
	tl_canary_reset();
	tl_canary_add("K (16)", k, 16);
	tl_canary_add("K (32)", k, 32);
	tl_canary_add("OPc", op, 16);
	tl_canary_add("TOPc", op, 32);
	tl_canary_add("master key", master, 32);
	assert_non_null(mkdtemp(root));
	set_hex("OMC_TEST_CANARY_K", k, 32);
	set_hex("OMC_TEST_CANARY_OP", op, 32);
	set_hex("OMC_TEST_CANARY_MASTER", master, 32);
	assert_int_equal(setenv("OMC_TEST_DEMO_DIR", root, 1), 0);

	size_t cap = 1 << 20;
	char *out = malloc(cap), *err = malloc(cap);
	assert_non_null(out);
	assert_non_null(err);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s demo --devices 3", OMC_T_BIN);
	int rc = tl_run(cmd, out, cap, err, cap);
	if (rc != 0)
		fail_msg("demo: exit %d\n%s\n%s", rc, out, err);
	assert_non_null(strstr(out, "Every step behaved as specified."));
	assert_int_equal(tl_canary_scan_buf("stdout", out, strlen(out)), 0);
	assert_int_equal(tl_canary_scan_buf("stderr", err, strlen(err)), 0);
	free(out);
	free(err);

	/* The control: the planted master key reached the deployment (the TRE
	 * story's AuC keeps its own in memory only). */
	assert_int_equal(nftw(root, hide_key, 16, FTW_PHYS), 0);
	assert_int_equal(key_files, 1);
	assert_true(key_hits >= 1);
	size_t before = tl_canary_hits(), files = 0;
	assert_int_equal(tl_canary_scan_tree(root, &files), 0);
	assert_int_equal(tl_canary_hits(), before);
	fprintf(stderr, "canary: demo: %zu files, %llu bytes scanned\n", files,
		(unsigned long long)tl_canary_bytes());
	assert_true(files >= 20);
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
