/* Negative tests of the AKA engine: every flipped bit of AUTN, RAND and
 * AUTS is refused with nothing changed, and every wrong length or parameter
 * is an error.
 * covers: SEC-4, TRE-8, EVAL-6 */
#include "testlib.h"

static void flips(omc_aka_alg alg, unsigned mac_bits)
{
	omc_aka_cred c;
	tl_make_cred(&c, alg, 16, mac_bits);
	uint8_t rand[16], sqn[6] = {0, 0, 0, 0, 1, 0x20}, amf[2] = {0x80, 0};
	tl_rand(rand, 16);
	omc_aka_av av;
	assert_int_equal(omc_aka_av_gen(&av, &c, rand, sqn, amf), OMC_OK);
	omc_aka_sqn_ms ms, before;
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	before = ms;
	omc_aka_check_result r;

	/* Every bit of AUTN: SQN xor AK, AMF, MAC. */
	for (size_t bit = 0; bit < 8u * av.autn_len; bit++) {
		uint8_t autn[OMC_AKA_MAX_AUTN_LEN];
		memcpy(autn, av.autn, av.autn_len);
		autn[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(omc_aka_check(&r, &ms, &c, rand, autn, av.autn_len), OMC_OK);
		if (r.status != OMC_AKA_STATUS_MAC_FAILURE)
			fail_msg("AUTN bit %zu flipped: status %d", bit, (int)r.status);
		assert_true(omc_ct_is_zero(r.res, sizeof r.res));
		assert_memory_equal(&ms, &before, sizeof ms);
	}
	/* Every bit of RAND. */
	for (size_t bit = 0; bit < 128; bit++) {
		uint8_t rr[16];
		memcpy(rr, rand, 16);
		rr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(omc_aka_check(&r, &ms, &c, rr, av.autn, av.autn_len), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
	}
	/* Wrong AUTN lengths: an error, not a verdict. */
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, av.autn, av.autn_len - 1), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, av.autn, av.autn_len + 1), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, av.autn, 0), OMC_ERR_BAD_LENGTH);
	assert_memory_equal(&ms, &before, sizeof ms);
	/* The untouched challenge still passes. */
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);

	/* AUTS: replay the challenge for a sync failure, then flip every bit. */
	assert_int_equal(omc_aka_check(&r, &ms, &c, rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	omc_aka_sqn_he he;
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, 0), OMC_OK);
	uint64_t sqn_ms;
	bool moved;
	for (size_t bit = 0; bit < 8u * r.auts_len; bit++) {
		uint8_t auts[OMC_AKA_MAX_AUTS_LEN];
		memcpy(auts, r.auts, r.auts_len);
		auts[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, auts, r.auts_len) != OMC_ERR_MAC_FAILURE)
			fail_msg("AUTS bit %zu flipped was accepted", bit);
		assert_int_equal(he.seq, 0);
	}
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, r.auts, r.auts_len - 1), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, r.auts, r.auts_len + 1), OMC_ERR_BAD_LENGTH);
	/* AUTS answered for another RAND does not verify. */
	uint8_t other[16];
	memcpy(other, rand, 16);
	other[0] ^= 0x80;
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, other, r.auts, r.auts_len), OMC_ERR_MAC_FAILURE);
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, r.auts, r.auts_len), OMC_OK);
	omc_aka_cred_wipe(&c);
}

static void test_flips_milenage(void **state)
{
	(void)state;
	flips(OMC_AKA_ALG_MILENAGE, 64);
}

static void test_flips_tuak(void **state)
{
	(void)state;
	flips(OMC_AKA_ALG_TUAK, 64);
	flips(OMC_AKA_ALG_TUAK, 128);
	flips(OMC_AKA_ALG_TUAK, 256);
}

static void test_wrong_key_fails(void **state)
{
	(void)state;
	omc_aka_cred a, b;
	tl_make_cred(&a, OMC_AKA_ALG_MILENAGE, 16, 64);
	tl_make_cred(&b, OMC_AKA_ALG_MILENAGE, 16, 64);
	uint8_t rand[16], sqn[6] = {0, 0, 0, 0, 0, 0x20}, amf[2] = {0};
	tl_rand(rand, 16);
	omc_aka_av av;
	assert_int_equal(omc_aka_av_gen(&av, &a, rand, sqn, amf), OMC_OK);
	omc_aka_sqn_ms ms;
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	omc_aka_check_result r;
	assert_int_equal(omc_aka_check(&r, &ms, &b, rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
	/* Same K, other OPc: also refused (operator separation). */
	memcpy(b.u.milenage.k, a.u.milenage.k, 16);
	assert_int_equal(omc_aka_check(&r, &ms, &b, rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
	/* Same K and OPc, other constants: refused too. */
	memcpy(b.u.milenage.opc, a.u.milenage.opc, 16);
	b.u.milenage.consts.c[1][0] ^= 1;
	assert_int_equal(omc_aka_check(&r, &ms, &b, rand, av.autn, av.autn_len), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
}

static void test_bad_parameters(void **state)
{
	(void)state;
	uint8_t k[32] = {1}, topc[32] = {2}, out[32];
	omc_aka_tuak t;
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	assert_int_equal(p.mac_bits, 64);
	assert_int_equal(omc_aka_tuak_init(&t, k, 24, topc, &p), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_aka_tuak_init(&t, k, 0, topc, &p), OMC_ERR_BAD_LENGTH);
	static const unsigned bad_mac[] = {0, 32, 96, 512}, bad_res[] = {0, 16, 48, 512}, bad_key[] = {0, 64, 192};
	for (size_t i = 0; i < 4; i++) {
		omc_aka_tuak_params q = p;
		q.mac_bits = bad_mac[i];
		assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
		q = p;
		q.res_bits = bad_res[i];
		assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
	}
	for (size_t i = 0; i < 3; i++) {
		omc_aka_tuak_params q = p;
		q.ck_bits = bad_key[i];
		assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
		q = p;
		q.ik_bits = bad_key[i];
		assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
	}
	omc_aka_tuak_params q = p;
	q.iterations = 0;
	assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
	q.iterations = OMC_AKA_TUAK_MAX_ITERATIONS + 1;
	assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &q), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_tuak_topc(out, k, 20, topc, 1), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_aka_tuak_topc(out, k, 16, topc, 0), OMC_ERR_BAD_ARG);

	/* A context corrupted after init is refused, not run. */
	assert_int_equal(omc_aka_tuak_init(&t, k, 16, topc, &p), OMC_OK);
	uint8_t rand[16] = {0}, sqn[6] = {0}, amf[2] = {0};
	t.mac_len = 12;
	assert_int_equal(omc_aka_tuak_f1(out, NULL, &t, rand, sqn, amf), OMC_ERR_BAD_ARG);
	t.mac_len = 8;
	t.res_len = 2;
	assert_int_equal(omc_aka_tuak_f2345(out, NULL, NULL, NULL, NULL, &t, rand), OMC_ERR_BAD_ARG);

	/* MILENAGE rotations beyond 127 bits. */
	omc_aka_milenage m;
	omc_aka_milenage_consts cst;
	omc_aka_milenage_consts_default(&cst);
	cst.r[2] = 128;
	assert_int_equal(omc_aka_milenage_init(&m, k, topc, &cst), OMC_ERR_BAD_ARG);
	omc_aka_milenage_batch_in in[1];
	omc_aka_milenage_batch_out bo[1];
	memset(in, 0, sizeof in);
	assert_int_equal(omc_aka_milenage_batch(bo, in, 1, &cst, OMC_AKA_IMPL_AUTO), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_milenage_batch(NULL, in, 1, NULL, OMC_AKA_IMPL_AUTO), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_milenage_batch(NULL, NULL, 0, NULL, OMC_AKA_IMPL_AUTO), OMC_OK);

	/* An unknown algorithm in a credential. */
	omc_aka_cred c;
	memset(&c, 0, sizeof c);
	c.alg = (omc_aka_alg)7;
	omc_aka_outputs o;
	omc_aka_av av;
	assert_int_equal(omc_aka_outputs_gen(&o, &c, rand, sqn, amf), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_av_gen(&av, &c, rand, sqn, amf), OMC_ERR_BAD_ARG);
	assert_null(omc_aka_alg_name((omc_aka_alg)7));
	assert_string_equal(omc_aka_alg_name(OMC_AKA_ALG_TUAK), "tuak");
	assert_string_equal(omc_aka_alg_name(OMC_AKA_ALG_MILENAGE), "milenage");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flips_milenage),
		cmocka_unit_test(test_flips_tuak),
		cmocka_unit_test(test_wrong_key_fails),
		cmocka_unit_test(test_bad_parameters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
