/* TUAK known answers: the six test sets of TS 35.233 (sets 1-3 also in the
 * shared first set), every function and every output length the sets use
 * (K 128/256, MAC 64/128/256, RES 32/64/128/256, CK and IK 128/256, 1 and 2
 * Keccak iterations); and the Keccak-f[1600] permutation sets of TS 35.232
 * against nettle with the lane mapping TUAK uses.
 * covers: SEC-4, TRE-8, EVAL-6 */
#include "testlib.h"

#include "aka/aka_internal.h"

static json_t *vectors;

static unsigned u(const json_t *v, const char *key)
{
	const json_t *x = json_object_get(v, key);
	if (!json_is_integer(x))
		fail_msg("vector lacks integer '%s'", key);
	return (unsigned)json_integer_value(x);
}

static void test_sets(void **state)
{
	(void)state;
	assert_int_equal(json_array_size(vectors), 6);
	unsigned seen_mac = 0, seen_res = 0, seen_ck = 0, seen_ik = 0, seen_k = 0, seen_iter = 0;
	size_t i;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		int set = (int)u(v, "set");
		uint8_t k[32], rand[16], sqn[6], amf[2], top[32], topc[32];
		size_t k_len = tl_hex_var(k, sizeof k, tl_str(v, "k"));
		tl_hex(rand, 16, tl_str(v, "rand"));
		tl_hex(sqn, 6, tl_str(v, "sqn"));
		tl_hex(amf, 2, tl_str(v, "amf"));
		tl_hex(top, 32, tl_str(v, "top"));
		omc_aka_tuak_params p = {
			.mac_bits = u(v, "mac_len_bits"),
			.res_bits = u(v, "res_len_bits"),
			.ck_bits = u(v, "ck_len_bits"),
			.ik_bits = u(v, "ik_len_bits"),
			.iterations = u(v, "keccak_iterations"),
		};
		seen_mac |= p.mac_bits;
		seen_res |= p.res_bits;
		seen_ck |= p.ck_bits;
		seen_ik |= p.ik_bits;
		seen_k |= (unsigned)k_len * 8;
		seen_iter |= 1u << p.iterations;

		assert_int_equal(omc_aka_tuak_topc(topc, k, k_len, top, p.iterations), OMC_OK);
		tl_expect_hex(topc, 32, tl_str(v, "topc"), "TOPc", set);

		omc_aka_tuak t;
		assert_int_equal(omc_aka_tuak_init(&t, k, k_len, topc, &p), OMC_OK);
		uint8_t mac_a[32], mac_s[32], res[32], ck[32], ik[32], ak[6], ak_star[6];
		assert_int_equal(omc_aka_tuak_f1(mac_a, mac_s, &t, rand, sqn, amf), OMC_OK);
		tl_expect_hex(mac_a, p.mac_bits / 8, tl_str(v, "f1"), "f1", set);
		tl_expect_hex(mac_s, p.mac_bits / 8, tl_str(v, "f1star"), "f1*", set);
		assert_int_equal(omc_aka_tuak_f2345(res, ck, ik, ak, ak_star, &t, rand), OMC_OK);
		tl_expect_hex(res, p.res_bits / 8, tl_str(v, "f2"), "f2", set);
		tl_expect_hex(ck, p.ck_bits / 8, tl_str(v, "f3"), "f3", set);
		tl_expect_hex(ik, p.ik_bits / 8, tl_str(v, "f4"), "f4", set);
		tl_expect_hex(ak, 6, tl_str(v, "f5"), "f5", set);
		tl_expect_hex(ak_star, 6, tl_str(v, "f5star"), "f5*", set);

		/* Through the generic credential: outputs and AUTN. */
		omc_aka_cred c = {.alg = OMC_AKA_ALG_TUAK, .u.tuak = t};
		omc_aka_outputs o;
		assert_int_equal(omc_aka_outputs_gen(&o, &c, rand, sqn, amf), OMC_OK);
		assert_int_equal(o.mac_len, p.mac_bits / 8);
		assert_int_equal(o.res_len, p.res_bits / 8);
		assert_int_equal(o.ck_len, p.ck_bits / 8);
		assert_int_equal(o.ik_len, p.ik_bits / 8);
		tl_expect_hex(o.mac_s, o.mac_len, tl_str(v, "f1star"), "outputs f1*", set);
		tl_expect_hex(o.ak_star, 6, tl_str(v, "f5star"), "outputs f5*", set);
		assert_int_equal(o.autn_len, 8 + p.mac_bits / 8);
		for (int b = 0; b < 6; b++)
			assert_int_equal(o.autn[b], sqn[b] ^ ak[b]);
		assert_memory_equal(o.autn + 6, amf, 2);
		tl_expect_hex(o.autn + 8, p.mac_bits / 8, tl_str(v, "f1"), "AUTN MAC", set);

		omc_aka_av av;
		assert_int_equal(omc_aka_av_gen(&av, &c, rand, sqn, amf), OMC_OK);
		tl_expect_hex(av.xres, av.xres_len, tl_str(v, "f2"), "AV XRES", set);
		tl_expect_hex(av.ck, av.ck_len, tl_str(v, "f3"), "AV CK", set);
		tl_expect_hex(av.ik, av.ik_len, tl_str(v, "f4"), "AV IK", set);
		assert_memory_equal(av.autn, o.autn, o.autn_len);
		omc_aka_cred_wipe(&c);
		omc_aka_tuak_wipe(&t);
	}
	/* Every length the specification allows is exercised by some set. */
	assert_int_equal(seen_mac, 64u | 128u | 256u);
	assert_int_equal(seen_res, 32u | 64u | 128u | 256u);
	assert_int_equal(seen_ck, 128u | 256u);
	assert_int_equal(seen_ik, 128u | 256u);
	assert_int_equal(seen_k, 128u | 256u);
	assert_true(seen_iter & (1u << 2));
}

static void test_keccak_sets(void **state)
{
	(void)state;
	json_t *kv = tl_load_vectors("tuak_keccak.json");
	assert_true(json_array_size(kv) >= 6);
	size_t i;
	json_t *v;
	json_array_foreach(kv, i, v)
	{
		uint8_t in[200], want[200];
		tl_hex(in, 200, tl_str(v, "in"));
		tl_hex(want, 200, tl_str(v, "out"));
		uint64_t st[25];
		for (int l = 0; l < 25; l++) {
			uint64_t x = 0;
			for (int b = 0; b < 8; b++)
				x |= (uint64_t)in[8 * l + b] << (8 * b);
			st[l] = x;
		}
		omc_aka_keccak_permute(st);
		uint8_t got[200];
		for (int l = 0; l < 25; l++)
			for (int b = 0; b < 8; b++)
				got[8 * l + b] = (uint8_t)(st[l] >> (8 * b));
		if (memcmp(got, want, 200) != 0)
			fail_msg("Keccak set %zu differs", i + 1);
	}
	json_decref(kv);
}

int main(void)
{
	vectors = tl_load_vectors("tuak.json");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_keccak_sets),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(vectors);
	return rc;
}
