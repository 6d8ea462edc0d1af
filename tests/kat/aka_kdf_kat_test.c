/* Key derivation known answers: the generic KDF of TS 33.220 B.2 on every
 * published derivation we carry (KASME, KeNB, NAS/RRC/UP keys, S-KgNB, NR
 * keys), KASME with its PLMN encoding (TS 33.401 A.2), algorithm keys
 * (A.7) and CK'/IK' for EAP-AKA' (TS 33.402 A.2, the four cases of RFC 5448
 * Appendix C).
 * covers: SEC-11, TRE-8 */
#include "testlib.h"

static json_t *vectors;

static void test_generic_kdf(void **state)
{
	(void)state;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		const json_t *fc = json_object_get(v, "fc");
		if (json_is_null(fc))
			continue; /* plain HMAC-SHA-256 entries: no FC framing */
		uint8_t fcb, key[64], want[32], out[32];
		uint8_t pbuf[8][64];
		omc_aka_kdf_param p[8];
		tl_hex(&fcb, 1, json_string_value(fc));
		size_t key_len = tl_hex_var(key, sizeof key, tl_str(v, "key"));
		tl_hex(want, 32, tl_str(v, "out"));
		const json_t *ps = json_object_get(v, "p");
		size_t np = json_array_size(ps);
		assert_true(np <= 8);
		for (size_t j = 0; j < np; j++) {
			p[j].len = tl_hex_var(pbuf[j], sizeof pbuf[j], json_string_value(json_array_get(ps, j)));
			p[j].ptr = pbuf[j];
		}
		assert_int_equal(omc_aka_kdf(out, key, key_len, fcb, p, np), OMC_OK);
		if (memcmp(out, want, 32) != 0)
			fail_msg("%s: KDF output differs", tl_str(v, "name"));
		n++;
	}
	print_message("generic KDF: %zu derivations checked\n", n);
	assert_true(n >= 35);
}

static void test_kasme(void **state)
{
	(void)state;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		if (strncmp(tl_str(v, "name"), "KASME", 5) != 0)
			continue;
		uint8_t ck[16], ik[16], plmn[3], sxa[6], want[32], out[32];
		tl_hex(ck, 16, tl_str(v, "ck"));
		tl_hex(ik, 16, tl_str(v, "ik"));
		tl_hex(plmn, 3, tl_str(v, "plmn_id"));
		tl_hex(sxa, 6, tl_str(v, "sqn_xor_ak"));
		tl_hex(want, 32, tl_str(v, "out"));
		if (json_object_get(v, "mcc")) {
			uint8_t enc[3];
			assert_int_equal(omc_aka_plmn_encode(enc, tl_str(v, "mcc"), tl_str(v, "mnc")), OMC_OK);
			assert_memory_equal(enc, plmn, 3);
		}
		assert_int_equal(omc_aka_kasme(out, ck, ik, plmn, sxa), OMC_OK);
		assert_memory_equal(out, want, 32);
		n++;
	}
	assert_int_equal(n, 2);
}

static void test_plmn(void **state)
{
	(void)state;
	uint8_t p[3];
	/* TS 24.008 10.5.1.13: MCC 001, MNC 01 -> 00 f1 10; MCC 310, MNC 410 -> 13 00 14. */
	assert_int_equal(omc_aka_plmn_encode(p, "001", "01"), OMC_OK);
	tl_expect_hex(p, 3, "00f110", "PLMN 001/01", 0);
	assert_int_equal(omc_aka_plmn_encode(p, "310", "410"), OMC_OK);
	tl_expect_hex(p, 3, "130014", "PLMN 310/410", 0);
	assert_int_equal(omc_aka_plmn_encode(p, "01", "01"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_plmn_encode(p, "0011", "01"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_plmn_encode(p, "001", "1"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_plmn_encode(p, "001", "1234"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_plmn_encode(p, "00a", "01"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_plmn_encode(p, "001", "0x"), OMC_ERR_BAD_ARG);
}

static void test_alg_keys(void **state)
{
	(void)state;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		if (!json_object_get(v, "key_128") || strcmp(tl_str(v, "fc"), "15") != 0)
			continue;
		uint8_t kasme[32], type, alg, out[16];
		tl_hex(kasme, 32, tl_str(v, "key"));
		tl_hex(&type, 1, tl_str(v, "algorithm_type_distinguisher"));
		tl_hex(&alg, 1, tl_str(v, "algorithm_identity"));
		assert_int_equal(omc_aka_kdf_alg_key(out, kasme, type, alg), OMC_OK);
		tl_expect_hex(out, 16, tl_str(v, "key_128"), tl_str(v, "name"), 0);
		n++;
	}
	assert_true(n >= 20);
}

static void test_ck_ik_prime(void **state)
{
	(void)state;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		if (!json_object_get(v, "ck_prime"))
			continue;
		uint8_t ck[16], ik[16], autn[16], sxa[6], ckp[16], ikp[16];
		tl_hex(ck, 16, tl_str(v, "ck"));
		tl_hex(ik, 16, tl_str(v, "ik"));
		tl_hex(autn, 16, tl_str(v, "autn"));
		tl_hex(sxa, 6, tl_str(v, "sqn_xor_ak"));
		assert_memory_equal(autn, sxa, 6); /* SQN xor AK is the head of AUTN */
		const char *name = tl_str(v, "access_network_name");
		assert_int_equal(omc_aka_ck_ik_prime(ckp, ikp, ck, ik, name, strlen(name), sxa), OMC_OK);
		tl_expect_hex(ckp, 16, tl_str(v, "ck_prime"), "CK'", (int)n + 1);
		tl_expect_hex(ikp, 16, tl_str(v, "ik_prime"), "IK'", (int)n + 1);
		n++;
	}
	assert_int_equal(n, 4);
	/* An empty network name is refused. */
	uint8_t z[16] = {0}, s[6] = {0};
	uint8_t a[16], b[16];
	assert_int_equal(omc_aka_ck_ik_prime(a, b, z, z, "", 0, s), OMC_ERR_BAD_ARG);
}

static void test_kdf_limits(void **state)
{
	(void)state;
	uint8_t out[32], key[32] = {0}, big[1] = {0};
	omc_aka_kdf_param p[9];
	for (int i = 0; i < 9; i++) {
		p[i].ptr = big;
		p[i].len = 1;
	}
	assert_int_equal(omc_aka_kdf(out, key, 32, 0x10, p, 9), OMC_ERR_BAD_ARG);
	p[0].len = 0x10000;
	assert_int_equal(omc_aka_kdf(out, key, 32, 0x10, p, 1), OMC_ERR_TOO_LARGE);
	p[0].ptr = NULL;
	p[0].len = 0;
	assert_int_equal(omc_aka_kdf(out, key, 32, 0x10, p, 1), OMC_OK);
	assert_int_equal(omc_aka_kdf(out, key, 32, 0x10, NULL, 1), OMC_ERR_BAD_ARG);
}

int main(void)
{
	vectors = tl_load_vectors("kdf.json");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic_kdf), cmocka_unit_test(test_kasme),
		cmocka_unit_test(test_plmn),        cmocka_unit_test(test_alg_keys),
		cmocka_unit_test(test_ck_ik_prime), cmocka_unit_test(test_kdf_limits),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(vectors);
	return rc;
}
