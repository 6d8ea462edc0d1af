/* An independent MILENAGE nobody here wrote: Debian's osmo-auc-gen
 * (libosmocore) on 1,000 random K, OPc, RAND, SQN and AMF; RES, CK, IK and
 * AUTN must equal openmcim's. Then 100 AUTS made by openmcim's USIM side
 * must decode to the right SQN_MS in osmo-auc-gen.
 * covers: SEC-4, TRE-8, NET-1 */
#include "testlib.h"

#include <stdlib.h>

#define N_VECTORS 1000
#define N_AUTS 100

static const char *field(const char *out, const char *name)
{
	static char val[128];
	char key[32];
	snprintf(key, sizeof key, "\n%s:\t", name);
	const char *p = strstr(out, key);
	if (!p)
		fail_msg("osmo-auc-gen printed no %s:\n%s", name, out);
	p += strlen(key);
	size_t n = strcspn(p, "\n");
	if (n >= sizeof val)
		fail_msg("osmo-auc-gen %s too long", name);
	memcpy(val, p, n);
	val[n] = '\0';
	return val;
}

static void hexs(char *out, const uint8_t *in, size_t n)
{
	assert_int_equal(omc_hex_encode(out, 2 * n + 1, in, n), OMC_OK);
}

static void test_vectors(void **state)
{
	(void)state;
	char out[4096], err[1024], cmd[512];
	int rc = tl_run("osmo-auc-gen --help", out, sizeof out, err, sizeof err);
	if (rc == 127 || (!strstr(out, "MILENAGE") && !strstr(err, "MILENAGE")))
		fail_msg("osmo-auc-gen (Debian libosmocore-utils) is required: scripts/deps.sh installs it");
	for (int i = 0; i < N_VECTORS; i++) {
		uint8_t k[16], opc[16], rand[16], sqn[6], amf[2];
		tl_rand(k, 16);
		tl_rand(opc, 16);
		tl_rand(rand, 16);
		tl_rand(sqn, 6);
		tl_rand(amf, 2);
		if (i == 0)
			memset(sqn, 0, 6); /* the edges too */
		if (i == 1)
			memset(sqn, 0xff, 6);
		omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
		assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
		omc_aka_av av;
		assert_int_equal(omc_aka_av_gen(&av, &c, rand, sqn, amf), OMC_OK);
		char hk[33], ho[33], hr[33], ha[5], got[65];
		hexs(hk, k, 16);
		hexs(ho, opc, 16);
		hexs(hr, rand, 16);
		hexs(ha, amf, 2);
		snprintf(cmd, sizeof cmd, "osmo-auc-gen -3 -a milenage -k %s -o %s -r %s -s %llu -f %s", hk, ho, hr,
			 (unsigned long long)omc_load_be48(sqn), ha);
		rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 0)
			fail_msg("osmo-auc-gen failed (%d): %s", rc, err);
		hexs(got, av.autn, 16);
		if (strcmp(field(out, "AUTN"), got))
			fail_msg("vector %d AUTN: osmo %s, openmcim %s", i, field(out, "AUTN"), got);
		hexs(got, av.xres, 8);
		if (strcmp(field(out, "RES"), got))
			fail_msg("vector %d RES: osmo %s, openmcim %s", i, field(out, "RES"), got);
		hexs(got, av.ck, 16);
		if (strcmp(field(out, "CK"), got))
			fail_msg("vector %d CK: osmo %s, openmcim %s", i, field(out, "CK"), got);
		hexs(got, av.ik, 16);
		if (strcmp(field(out, "IK"), got))
			fail_msg("vector %d IK: osmo %s, openmcim %s", i, field(out, "IK"), got);
		omc_aka_cred_wipe(&c);
	}
	print_message("osmo-auc-gen agreed on %d random vectors\n", N_VECTORS);
}

static void test_auts(void **state)
{
	(void)state;
	char out[4096], err[1024], cmd[512];
	for (int i = 0; i < N_AUTS; i++) {
		uint8_t k[16], opc[16], rand[16], s[8] = {0};
		tl_rand(k, 16);
		tl_rand(opc, 16);
		tl_rand(rand, 16);
		tl_rand(s + 2, 6);
		uint64_t sqn_ms = omc_load_be64(s);
		omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
		assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
		omc_aka_sqn_ms ms;
		assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
		assert_int_equal(omc_aka_sqn_ms_set_floor(&ms, sqn_ms), OMC_OK);
		uint8_t auts[OMC_AKA_MAX_AUTS_LEN];
		size_t auts_len;
		assert_int_equal(omc_aka_auts_gen(auts, &auts_len, &c, &ms, rand), OMC_OK);
		assert_int_equal(auts_len, 14);
		char hk[33], ho[33], hr[33], hauts[29];
		hexs(hk, k, 16);
		hexs(ho, opc, 16);
		hexs(hr, rand, 16);
		hexs(hauts, auts, 14);
		snprintf(cmd, sizeof cmd, "osmo-auc-gen -3 -a milenage -k %s -o %s -r %s -A %s", hk, ho, hr, hauts);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 0)
			fail_msg("osmo-auc-gen -A failed (%d): %s", rc, err);
		unsigned long long got = strtoull(field(out, "SQN.MS"), NULL, 10);
		if (got != (unsigned long long)omc_aka_sqn_ms_sqn(&ms))
			fail_msg("AUTS %d: osmo-auc-gen decodes SQN_MS %llu, want %llu", i, got,
				 (unsigned long long)omc_aka_sqn_ms_sqn(&ms));
		omc_aka_cred_wipe(&c);
	}
	print_message("osmo-auc-gen decoded %d AUTS from openmcim's USIM side\n", N_AUTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_auts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
