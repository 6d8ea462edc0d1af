/* SQN management of TS 33.102 Annex C on both sides, at the edges: the
 * array of SEQ_MS per IND (C.2.2), the Δ limit against wrap-around (C.2.1),
 * the optional age limit L, the AuC's counter and IND cycling (C.1), and a
 * full resynchronisation round trip (6.3.3, 6.3.5) for both algorithms.
 * covers: TRE-8, SEC-4, SEC-13 */
#include "testlib.h"

#define SQN(seq, ind) (((uint64_t)(seq) << 5) | (uint64_t)(ind))

static void test_fresh_usim(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 0), OMC_OK);
	assert_int_equal(s.delta, OMC_AKA_SEQ_DELTA_DEFAULT);
	assert_int_equal(omc_aka_sqn_ms_sqn(&s), 0);
	/* SEQ = 0 is never accepted: the array starts at 0 and the test is strict. */
	for (unsigned i = 0; i < 32; i++)
		assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(0, i)));
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(1, 0)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, UINT64_C(1) << 48));
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(0, 3)), OMC_ERR_SYNC_FAILURE);
}

static void test_array_per_ind(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(10, 4)), OMC_OK);
	/* Same IND: only a higher SEQ; equal is a replay. */
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(10, 4)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(9, 4)));
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(11, 4)));
	/* Another IND: a lower SEQ is fine (vectors used out of order, C.2.2). */
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(3, 5)));
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(3, 5)), OMC_OK);
	/* IND reuse: slot 5 now holds 3. */
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(3, 5)));
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(4, 5)));
	/* SQN_MS is the highest accepted, with its IND. */
	assert_int_equal(omc_aka_sqn_ms_highest_seq(&s), 10);
	assert_int_equal(omc_aka_sqn_ms_sqn(&s), SQN(10, 4));
	/* Equal SEQ in two slots: the higher IND is the higher SQN. */
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(10, 9)), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_sqn(&s), SQN(10, 9));
}

static void test_delta_edge(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	const uint64_t delta = 1000;
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, delta, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(500, 0)), OMC_OK);
	/* C.2.1: SEQ - SEQ_MS <= Δ exactly at the edge. */
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(500 + delta, 1)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(500 + delta + 1, 1)));
	/* Below SEQ_MS the Δ test passes (signed difference). */
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(2, 1)));
	/* Default Δ = 2^28: a jump to the top of the SEQ space is refused, so an
	 * attacker-free AuC cannot push the USIM towards wrap-around. */
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(1, 0)), OMC_OK);
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(1 + (UINT64_C(1) << 28), 1)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(2 + (UINT64_C(1) << 28), 1)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN((UINT64_C(1) << 43) - 1, 1)));
}

static void test_age_limit_edge(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 10), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(100, 0)), OMC_OK);
	/* C.2.2: SEQ_MS - SEQ < L, strictly. */
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(91, 1)));
	assert_false(omc_aka_sqn_ms_acceptable(&s, SQN(90, 1)));
	/* Without L the same SQN passes. */
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, SQN(100, 0)), OMC_OK);
	assert_true(omc_aka_sqn_ms_acceptable(&s, SQN(90, 1)));
}

static void test_ind_bits_zero_and_max(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	/* No IND: a plain counter. */
	assert_int_equal(omc_aka_sqn_ms_init(&s, 0, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, 7), OMC_OK);
	assert_false(omc_aka_sqn_ms_acceptable(&s, 7));
	assert_false(omc_aka_sqn_ms_acceptable(&s, 6));
	assert_true(omc_aka_sqn_ms_acceptable(&s, 8));
	assert_int_equal(omc_aka_sqn_ms_sqn(&s), 7);
	assert_int_equal(omc_aka_sqn_ms_init(&s, OMC_AKA_IND_BITS_MAX, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_accept(&s, (UINT64_C(1) << OMC_AKA_IND_BITS_MAX) | 255u), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_init(&s, OMC_AKA_IND_BITS_MAX + 1, 0, 0), OMC_ERR_BAD_ARG);
}

static void test_set_floor(void **state)
{
	(void)state;
	omc_aka_sqn_ms s;
	assert_int_equal(omc_aka_sqn_ms_init(&s, 5, 0, 0), OMC_OK);
	const uint64_t floor = SQN(1000, 17);
	assert_int_equal(omc_aka_sqn_ms_set_floor(&s, floor), OMC_OK);
	assert_int_equal(omc_aka_sqn_ms_sqn(&s), floor);
	/* Exactly the SQNs above the floor are acceptable, around it. */
	for (uint64_t q = floor - 100; q <= floor + 100; q++)
		assert_int_equal(omc_aka_sqn_ms_acceptable(&s, q), q > floor);
	assert_int_equal(omc_aka_sqn_ms_set_floor(&s, UINT64_C(1) << 48), OMC_ERR_BAD_ARG);
}

static void test_auc_counter(void **state)
{
	(void)state;
	omc_aka_sqn_he he;
	uint8_t sqn[6];
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, 0), OMC_OK);
	/* SEQ_HE + 1 per vector, IND cycling 0..31 (C.1.2). */
	for (unsigned i = 0; i < 70; i++) {
		assert_int_equal(omc_aka_sqn_he_next(sqn, &he), OMC_OK);
		assert_int_equal(omc_load_be48(sqn), SQN(i + 1, i % 32));
	}
	/* Reserved ranges are consecutive and never overlap. */
	uint64_t first;
	assert_int_equal(omc_aka_sqn_he_reserve(&first, &he, 100), OMC_OK);
	assert_int_equal(first, 71);
	assert_int_equal(he.seq, 170);
	assert_int_equal(omc_aka_sqn_he_reserve(&first, &he, 0), OMC_ERR_BAD_ARG);
	/* C.2.1: the AuC never wraps: exhaustion is an error. */
	const uint64_t max = (UINT64_C(1) << 43) - 1;
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, max - 1), OMC_OK);
	assert_int_equal(omc_aka_sqn_he_next(sqn, &he), OMC_OK);
	assert_int_equal(omc_load_be48(sqn) >> 5, max);
	assert_int_equal(omc_aka_sqn_he_next(sqn, &he), OMC_ERR_EXHAUSTED);
	assert_int_equal(he.seq, max);
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, max - 10), OMC_OK);
	assert_int_equal(omc_aka_sqn_he_reserve(&first, &he, 11), OMC_ERR_EXHAUSTED);
	assert_int_equal(omc_aka_sqn_he_reserve(&first, &he, 10), OMC_OK);
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, max + 1), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_sqn_he_init(&he, 9, 0), OMC_ERR_BAD_ARG);
}

static omc_aka_status challenge(omc_aka_check_result *r, omc_aka_sqn_ms *ms, const omc_aka_cred *c,
				omc_aka_sqn_he *he, uint8_t rand[16])
{
	uint8_t sqn[6], amf[2] = {0x80, 0x00};
	omc_aka_av av;
	tl_rand(rand, 16);
	assert_int_equal(omc_aka_sqn_he_next(sqn, he), OMC_OK);
	assert_int_equal(omc_aka_av_gen(&av, c, rand, sqn, amf), OMC_OK);
	assert_int_equal(omc_aka_check(r, ms, c, rand, av.autn, av.autn_len), OMC_OK);
	if (r->status == OMC_AKA_STATUS_OK) {
		assert_int_equal(r->res_len, av.xres_len);
		assert_memory_equal(r->res, av.xres, av.xres_len);
		assert_memory_equal(r->ck, av.ck, av.ck_len);
		assert_memory_equal(r->ik, av.ik, av.ik_len);
		assert_memory_equal(r->sqn, sqn, 6);
	}
	return r->status;
}

static void resync_round_trip(omc_aka_alg alg)
{
	omc_aka_cred c;
	tl_make_cred(&c, alg, 32, 64);
	omc_aka_sqn_ms ms, ms_before;
	omc_aka_sqn_he he, other;
	omc_aka_check_result r;
	uint8_t rand[16];
	assert_int_equal(omc_aka_sqn_ms_init(&ms, 5, 0, 0), OMC_OK);
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, 0), OMC_OK);
	assert_int_equal(challenge(&r, &ms, &c, &he, rand), OMC_AKA_STATUS_OK);

	/* Another AuC instance (restored from an old backup, say) has used
	 * higher SQNs in every slot: this AuC's next vector is stale. */
	assert_int_equal(omc_aka_sqn_he_init(&other, 5, 1000), OMC_OK);
	for (int i = 0; i < 32; i++)
		assert_int_equal(challenge(&r, &ms, &c, &other, rand), OMC_AKA_STATUS_OK);
	ms_before = ms;
	assert_int_equal(challenge(&r, &ms, &c, &he, rand), OMC_AKA_STATUS_SYNC_FAILURE);
	/* A sync failure leaves the USIM's state as it was. */
	assert_memory_equal(&ms, &ms_before, sizeof ms);
	assert_int_equal(r.auts_len, 6 + omc_aka_cred_mac_len(&c));
	/* check's AUTS is the one omc_aka_auts_gen makes for that state. */
	uint8_t auts[OMC_AKA_MAX_AUTS_LEN];
	size_t auts_len;
	assert_int_equal(omc_aka_auts_gen(auts, &auts_len, &c, &ms, rand), OMC_OK);
	assert_int_equal(auts_len, r.auts_len);
	assert_memory_equal(auts, r.auts, auts_len);

	uint64_t sqn_ms = 0;
	bool moved = false;
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, r.auts, r.auts_len), OMC_OK);
	assert_true(moved);
	assert_int_equal(sqn_ms, omc_aka_sqn_ms_sqn(&ms));
	assert_int_equal(he.seq, sqn_ms >> 5);
	/* The next vector is accepted, and so are the ones after it. */
	for (int i = 0; i < 40; i++)
		assert_int_equal(challenge(&r, &ms, &c, &he, rand), OMC_AKA_STATUS_OK);

	/* An AUTS when the AuC is already in range does not move SEQ_HE. */
	uint64_t seq_before = he.seq;
	assert_int_equal(omc_aka_auts_gen(auts, &auts_len, &c, &ms, rand), OMC_OK);
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, auts, auts_len), OMC_OK);
	assert_false(moved);
	assert_int_equal(he.seq, seq_before);

	/* An AuC too far ahead (beyond Δ) is pulled back to SEQ_MS. */
	assert_int_equal(omc_aka_sqn_he_init(&other, 5, he.seq + OMC_AKA_SEQ_DELTA_DEFAULT + 10), OMC_OK);
	assert_int_equal(challenge(&r, &ms, &c, &other, rand), OMC_AKA_STATUS_SYNC_FAILURE);
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &other, &c, rand, r.auts, r.auts_len), OMC_OK);
	assert_true(moved);
	assert_int_equal(other.seq, omc_aka_sqn_ms_highest_seq(&ms));
	assert_int_equal(challenge(&r, &ms, &c, &other, rand), OMC_AKA_STATUS_OK);
	omc_aka_cred_wipe(&c);
}

static void test_resync_milenage(void **state)
{
	(void)state;
	resync_round_trip(OMC_AKA_ALG_MILENAGE);
}

static void test_resync_tuak(void **state)
{
	(void)state;
	resync_round_trip(OMC_AKA_ALG_TUAK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_usim),      cmocka_unit_test(test_array_per_ind),
		cmocka_unit_test(test_delta_edge),      cmocka_unit_test(test_age_limit_edge),
		cmocka_unit_test(test_ind_bits_zero_and_max), cmocka_unit_test(test_set_floor),
		cmocka_unit_test(test_auc_counter),     cmocka_unit_test(test_resync_milenage),
		cmocka_unit_test(test_resync_tuak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
