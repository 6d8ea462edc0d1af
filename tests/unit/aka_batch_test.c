/* The authentication-centre batch path: the AES-NI and VAES kernels agree
 * with OpenSSL block for block, and every batch implementation agrees with
 * the single-call path for every batch size (tails included) and for
 * operator constants, byte-aligned or not. Also checks the MILENAGE
 * rotation against a bit-by-bit reference.
 * covers: SEC-4, EVAL-6, SEC-13 */
#include "testlib.h"

#include <openssl/evp.h>

#include "aka/aka_internal.h"

static void openssl_ecb(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0;
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, out, &outl, in, (int)(16 * nblocks)), 1);
	EVP_CIPHER_CTX_free(ctx);
}

static void test_kernels_match_openssl(void **state)
{
	(void)state;
	static const omc_aka_impl impls[] = {OMC_AKA_IMPL_AESNI, OMC_AKA_IMPL_VAES, OMC_AKA_IMPL_VAES256};
	uint8_t key[16], in[16 * 41], want[16 * 41], got[16 * 41];
	size_t blocks = 0;
	for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
		if (!omc_aka_impl_available(impls[i])) {
			assert_int_equal(omc_aka_x86_aes128_ecb(got, key, in, 1, impls[i]), OMC_ERR_UNSUPPORTED);
			print_message("%s: not on this CPU\n", omc_aka_impl_name(impls[i]));
			continue;
		}
		for (int round = 0; round < 200; round++) {
			size_t n = 1 + (size_t)round % 41;
			tl_rand(key, sizeof key);
			tl_rand(in, 16 * n);
			openssl_ecb(want, key, in, n);
			memset(got, 0, sizeof got);
			assert_int_equal(omc_aka_x86_aes128_ecb(got, key, in, n, impls[i]), OMC_OK);
			assert_memory_equal(got, want, 16 * n);
			blocks += n;
		}
	}
	/* FIPS 197 appendix C.1 for AES-128, on every kernel present. */
	uint8_t k[16], pt[16], ct[16];
	tl_hex(k, 16, "000102030405060708090a0b0c0d0e0f");
	tl_hex(pt, 16, "00112233445566778899aabbccddeeff");
	for (size_t i = 0; i < 2; i++)
		if (omc_aka_impl_available(impls[i])) {
			assert_int_equal(omc_aka_x86_aes128_ecb(ct, k, pt, 1, impls[i]), OMC_OK);
			tl_expect_hex(ct, 16, "69c4e0d86a7b0430d8cdb78070b4c55a", "FIPS 197 C.1", 0);
		}
	print_message("kernel blocks checked against OpenSSL: %zu\n", blocks);
}

/* Reference rotation, one bit at a time (TS 35.206: towards the MSB). */
static void rot_ref(uint8_t out[16], const uint8_t x[16], unsigned r)
{
	memset(out, 0, 16);
	for (unsigned i = 0; i < 128; i++) {
		unsigned src = (i + r) % 128;
		unsigned bit = ((unsigned)x[src / 8] >> (7 - src % 8)) & 1u;
		out[i / 8] = (uint8_t)(out[i / 8] | (bit << (7 - i % 8)));
	}
}

static void test_rotation(void **state)
{
	(void)state;
	uint8_t x[16], a[16], b[16];
	for (unsigned r = 0; r < 128; r++) {
		tl_rand(x, 16);
		omc_aka_rot128(a, x, r);
		rot_ref(b, x, r);
		assert_memory_equal(a, b, 16);
	}
}

static void single(omc_aka_milenage_batch_out *o, const omc_aka_milenage_batch_in *in,
		   const omc_aka_milenage_consts *cst)
{
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	omc_aka_av av;
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, in->k, in->opc, cst), OMC_OK);
	assert_int_equal(omc_aka_av_gen(&av, &c, in->rand, in->sqn, in->amf), OMC_OK);
	memcpy(o->xres, av.xres, 8);
	memcpy(o->ck, av.ck, 16);
	memcpy(o->ik, av.ik, 16);
	memcpy(o->autn, av.autn, 16);
}

static void check_batch(size_t n, const omc_aka_milenage_consts *cst)
{
	omc_aka_milenage_batch_in *in = calloc(n + 1, sizeof *in);
	omc_aka_milenage_batch_out *want = calloc(n + 1, sizeof *want);
	omc_aka_milenage_batch_out *got = calloc(n + 1, sizeof *got);
	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	tl_rand(in, n * sizeof *in);
	for (size_t i = 0; i < n; i++)
		single(&want[i], &in[i], cst);
	for (int impl = OMC_AKA_IMPL_AUTO; impl <= OMC_AKA_IMPL_LAST; impl++) {
		if (!omc_aka_impl_available((omc_aka_impl)impl))
			continue;
		/* A guard element after the end must stay untouched. */
		memset(got, 0xa5, (n + 1) * sizeof *got);
		assert_int_equal(omc_aka_milenage_batch(got, in, n, cst, (omc_aka_impl)impl), OMC_OK);
		for (size_t i = 0; i < n; i++)
			if (memcmp(&got[i], &want[i], sizeof want[i]) != 0)
				fail_msg("%s: n=%zu vector %zu differs from the single path",
					 omc_aka_impl_name((omc_aka_impl)impl), n, i);
		for (size_t b = 0; b < sizeof *got; b++)
			assert_int_equal(((uint8_t *)&got[n])[b], 0xa5);
	}
	free(in);
	free(want);
	free(got);
}

static void test_batch_sizes(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		check_batch(sizes[i], NULL);
}

static void test_batch_operator_constants(void **state)
{
	(void)state;
	omc_aka_milenage_consts cst;
	for (int round = 0; round < 20; round++) {
		tl_rand(cst.c, sizeof cst.c);
		uint8_t r[5];
		tl_rand(r, 5);
		for (int i = 0; i < 5; i++)
			cst.r[i] = (uint8_t)((r[i] % 16) * 8); /* byte-aligned: the kernels */
		check_batch(37, &cst);
		for (int i = 0; i < 5; i++)
			cst.r[i] = (uint8_t)(r[i] % 128); /* any: the OpenSSL fallback */
		check_batch(37, &cst);
	}
	/* Custom constants really change the output. */
	omc_aka_milenage_batch_in in;
	omc_aka_milenage_batch_out a, b;
	tl_rand(&in, sizeof in);
	omc_aka_milenage_consts_default(&cst);
	assert_int_equal(omc_aka_milenage_batch(&a, &in, 1, &cst, OMC_AKA_IMPL_AUTO), OMC_OK);
	cst.r[3] = 72;
	assert_int_equal(omc_aka_milenage_batch(&b, &in, 1, &cst, OMC_AKA_IMPL_AUTO), OMC_OK);
	assert_memory_equal(a.ck, b.ck, 16);
	assert_memory_not_equal(a.ik, b.ik, 16);
}

static void test_impl_names(void **state)
{
	(void)state;
	assert_string_equal(omc_aka_impl_name(OMC_AKA_IMPL_AUTO), "auto");
	assert_string_equal(omc_aka_impl_name(OMC_AKA_IMPL_OPENSSL), "openssl");
	assert_string_equal(omc_aka_impl_name(OMC_AKA_IMPL_AESNI), "aesni");
	assert_string_equal(omc_aka_impl_name(OMC_AKA_IMPL_VAES), "vaes");
	assert_string_equal(omc_aka_impl_name(OMC_AKA_IMPL_VAES256), "vaes256");
	assert_true(omc_aka_impl_available(OMC_AKA_IMPL_OPENSSL));
	assert_true(omc_aka_impl_available(omc_aka_impl_auto()));
	assert_false(omc_aka_impl_available((omc_aka_impl)9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels_match_openssl),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_batch_sizes),
		cmocka_unit_test(test_batch_operator_constants),
		cmocka_unit_test(test_impl_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
