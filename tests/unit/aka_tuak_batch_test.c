/* The TUAK batch path and the lane-built state: omc_aka_tuak_batch equals
 * omc_aka_av_gen on random subscribers for every batch size (tails
 * included) and iteration count; and the single-call functions equal a
 * byte-by-byte construction of INOUT as TS 35.231 6.1..6.6 writes it, for
 * random inputs and every length combination (K 128/256, MAC, RES, CK, IK,
 * iterations).
 * covers: SEC-4 */
#include "testlib.h"

#include <nettle/sha3.h>

#include "aka/aka_internal.h"

/* --- the reference: INOUT as a byte string, fields written reversed ------ */

static void put_rev(uint8_t *inout, size_t off, const uint8_t *f, size_t n)
{
	for (size_t j = 0; j < n; j++)
		inout[off + j] = f[n - 1 - j];
}

static void get_rev(uint8_t *out, const uint8_t *inout, size_t off, size_t n)
{
	for (size_t j = 0; j < n; j++)
		out[j] = inout[off + n - 1 - j];
}

/* One TUAK function: INOUT from its fields, `iterations` permutations,
 * INOUT back. sqn and amf may be NULL (zero). */
static void ref_perm(uint8_t inout[200], const omc_aka_tuak *t, uint8_t instance, const uint8_t rand[16],
		     const uint8_t *sqn, const uint8_t *amf)
{
	static const uint8_t algoname[7] = {'T', 'U', 'A', 'K', '1', '.', '0'};
	memset(inout, 0, 200);
	put_rev(inout, 0, t->topc, 32);
	inout[32] = instance;
	put_rev(inout, 33, algoname, 7);
	put_rev(inout, 40, rand, 16);
	if (amf)
		put_rev(inout, 56, amf, 2);
	if (sqn)
		put_rev(inout, 58, sqn, 6);
	put_rev(inout, 64, t->k, t->k_len);
	inout[96] = 0x1f;
	inout[135] = 0x80;
	struct sha3_state st;
	for (unsigned i = 0; i < 25; i++) {
		uint64_t v = 0;
		for (unsigned b = 0; b < 8; b++)
			v |= (uint64_t)inout[8 * i + b] << (8 * b);
		st.a[i] = v;
	}
	for (unsigned it = 0; it < t->iterations; it++)
		sha3_permute(&st);
	for (unsigned i = 0; i < 25; i++)
		for (unsigned b = 0; b < 8; b++)
			inout[8 * i + b] = (uint8_t)(st.a[i] >> (8 * b));
}

static uint8_t code(size_t bytes)
{
	return (uint8_t)(bytes & 0x38u);
}

static void test_single_matches_reference(void **state)
{
	(void)state;
	static const unsigned macs[] = {64, 128, 256}, ress[] = {32, 64, 128, 256}, keys[] = {128, 256};
	size_t combos = 0;
	for (size_t kl = 0; kl < 2; kl++)
		for (size_t m = 0; m < 3; m++)
			for (size_t r = 0; r < 4; r++)
				for (size_t c = 0; c < 2; c++)
					for (size_t i = 0; i < 2; i++) {
						omc_aka_tuak_params p = {macs[m], ress[r], keys[c], keys[i],
									 1 + (unsigned)(combos % 3)};
						uint8_t k[32], topc[32], rand[16], sqn[6], amf[2];
						tl_rand(k, sizeof k);
						tl_rand(topc, sizeof topc);
						tl_rand(rand, sizeof rand);
						tl_rand(sqn, sizeof sqn);
						tl_rand(amf, sizeof amf);
						omc_aka_tuak t;
						assert_int_equal(omc_aka_tuak_init(&t, k, kl ? 32 : 16, topc, &p), OMC_OK);
						uint8_t k256 = (uint8_t)kl;
						uint8_t inout[200], want[32];
						omc_aka_outputs o;
						assert_int_equal(omc_aka_tuak_all(&o, &t, rand, sqn, amf, true), OMC_OK);

						ref_perm(inout, &t, (uint8_t)(code(t.mac_len) | k256), rand, sqn, amf);
						get_rev(want, inout, 0, t.mac_len);
						assert_memory_equal(o.mac_a, want, t.mac_len);
						ref_perm(inout, &t, (uint8_t)(0x80 | code(t.mac_len) | k256), rand, sqn, amf);
						get_rev(want, inout, 0, t.mac_len);
						assert_memory_equal(o.mac_s, want, t.mac_len);
						ref_perm(inout, &t,
							 (uint8_t)(0x40 | code(t.res_len) | (c ? 4 : 0) | (i ? 2 : 0) | k256),
							 rand, NULL, NULL);
						get_rev(want, inout, 0, t.res_len);
						assert_memory_equal(o.res, want, t.res_len);
						get_rev(want, inout, 32, t.ck_len);
						assert_memory_equal(o.ck, want, t.ck_len);
						get_rev(want, inout, 64, t.ik_len);
						assert_memory_equal(o.ik, want, t.ik_len);
						get_rev(want, inout, 96, 6);
						assert_memory_equal(o.ak, want, 6);
						ref_perm(inout, &t, (uint8_t)(0xc0 | k256), rand, NULL, NULL);
						get_rev(want, inout, 96, 6);
						assert_memory_equal(o.ak_star, want, 6);

						/* TOPc from TOP: INSTANCE is just the K length bit. */
						uint8_t top[32], got[32];
						tl_rand(top, sizeof top);
						memcpy(t.topc, top, 32);
						ref_perm(inout, &t, k256, (const uint8_t[16]){0}, NULL, NULL);
						get_rev(want, inout, 0, 32);
						assert_int_equal(omc_aka_tuak_topc(got, k, t.k_len, top, t.iterations), OMC_OK);
						assert_memory_equal(got, want, 32);
						omc_aka_tuak_wipe(&t);
						omc_memzero(&o, sizeof o);
						combos++;
					}
	assert_int_equal(combos, 96);
}

/* --- the batch path against omc_aka_av_gen ------------------------------- */

static void single(omc_aka_tuak_batch_out *o, const omc_aka_tuak_batch_in *in, unsigned iterations)
{
	omc_aka_cred c = {.alg = OMC_AKA_ALG_TUAK};
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	p.iterations = iterations;
	omc_aka_av av;
	assert_int_equal(omc_aka_tuak_init(&c.u.tuak, in->k, 16, in->topc, &p), OMC_OK);
	assert_int_equal(omc_aka_av_gen(&av, &c, in->rand, in->sqn, in->amf), OMC_OK);
	assert_int_equal(av.xres_len, 8);
	assert_int_equal(av.autn_len, 16);
	memcpy(o->xres, av.xres, 8);
	memcpy(o->ck, av.ck, 16);
	memcpy(o->ik, av.ik, 16);
	memcpy(o->autn, av.autn, 16);
	omc_aka_cred_wipe(&c);
}

static void check_batch(size_t n, unsigned iterations)
{
	omc_aka_tuak_batch_in *in = calloc(n + 1, sizeof *in);
	omc_aka_tuak_batch_out *want = calloc(n + 1, sizeof *want);
	omc_aka_tuak_batch_out *got = calloc(n + 1, sizeof *got);
	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	tl_rand(in, n * sizeof *in);
	for (size_t i = 0; i < n; i++)
		single(&want[i], &in[i], iterations);
	/* A guard element after the end must stay untouched. */
	memset(got, 0xa5, (n + 1) * sizeof *got);
	assert_int_equal(omc_aka_tuak_batch(got, in, n, iterations), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (memcmp(&got[i], &want[i], sizeof want[i]) != 0)
			fail_msg("n=%zu iterations=%u: vector %zu differs from omc_aka_av_gen", n, iterations, i);
	for (size_t b = 0; b < sizeof *got; b++)
		assert_int_equal(((uint8_t *)&got[n])[b], 0xa5);
	free(in);
	free(want);
	free(got);
}

static void test_batch_equals_single(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 16, 33, 100, 257};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (unsigned it = 1; it <= 3; it++)
			check_batch(sizes[i], it);
}

static void test_batch_arguments(void **state)
{
	(void)state;
	omc_aka_tuak_batch_in in;
	omc_aka_tuak_batch_out a, b;
	tl_rand(&in, sizeof in);
	assert_int_equal(omc_aka_tuak_batch(NULL, NULL, 0, 1), OMC_OK);
	assert_int_equal(omc_aka_tuak_batch(NULL, &in, 1, 1), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_tuak_batch(&a, &in, 1, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_aka_tuak_batch(&a, &in, 1, OMC_AKA_TUAK_MAX_ITERATIONS + 1), OMC_ERR_BAD_ARG);
	/* The iteration count and every input reach the outputs. */
	assert_int_equal(omc_aka_tuak_batch(&a, &in, 1, 1), OMC_OK);
	assert_int_equal(omc_aka_tuak_batch(&b, &in, 1, 2), OMC_OK);
	assert_memory_not_equal(&a, &b, sizeof a);
	in.sqn[5] ^= 1;
	assert_int_equal(omc_aka_tuak_batch(&b, &in, 1, 1), OMC_OK);
	assert_memory_equal(a.ck, b.ck, 16);
	assert_memory_not_equal(a.autn + 8, b.autn + 8, 8);
	in.sqn[5] ^= 1;
	in.topc[31] ^= 1;
	assert_int_equal(omc_aka_tuak_batch(&b, &in, 1, 1), OMC_OK);
	assert_memory_not_equal(a.ck, b.ck, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_matches_reference),
		cmocka_unit_test(test_batch_equals_single),
		cmocka_unit_test(test_batch_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
