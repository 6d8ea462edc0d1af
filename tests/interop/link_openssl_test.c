/* 128-EEA2 and 128-EIA2 against the openssl command line tool (Debian's
 * openssl package): `openssl enc -aes-128-ctr` from the B.1.3 counter
 * block gives EEA2's keystream (the bits after the length cleared), and
 * the first 4 bytes of `openssl mac CMAC` over COUNT || BEARER ||
 * DIRECTION || 0^26 || MESSAGE give EIA2's MAC: on every published EEA2
 * test set, on the EIA2 sets of whole bytes, and on random keys, inputs
 * and lengths (bits, for EEA2).
 * covers: SEC-11 */
#include "testlib.h"

#include <stdlib.h>

#include "link/link_internal.h"

#define N_RANDOM 40
#define MAX_BYTES 2100

static char dir[] = "/tmp/omc-link-openssl-XXXXXX";

static void write_bin(const char *name, const uint8_t *p, size_t n)
{
	char path[160];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static size_t read_bin(const char *name, uint8_t *p, size_t cap)
{
	char path[160];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(p, 1, cap, f);
	fclose(f);
	return n;
}

static void hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
	assert_err(omc_hex_encode(out, cap, p, n), OMC_OK);
}

/* openssl's AES-128-CTR of n bytes of in, cleared past `bits`. */
static void openssl_eea2(uint8_t *out, const uint8_t key[16], uint32_t count, uint8_t bearer, uint8_t dir_bit,
			 const uint8_t *in, size_t bits)
{
	size_t n = (bits + 7) / 8;
	uint8_t iv[16] = {0};
	char kh[33], ivh[33], cmd[512], o[256], e[1024];
	omc_link_iv64(iv, count, bearer, dir_bit);
	hex(kh, sizeof kh, key, 16);
	hex(ivh, sizeof ivh, iv, 16);
	write_bin("pt", in, n);
	snprintf(cmd, sizeof cmd, "openssl enc -aes-128-ctr -K %s -iv %s -in '%s/pt' -out '%s/ct'", kh, ivh, dir, dir);
	if (tl_run(cmd, o, sizeof o, e, sizeof e) != 0)
		fail_msg("openssl enc failed: %s", e);
	assert_int_equal(read_bin("ct", out, MAX_BYTES), n);
	if (bits % 8)
		out[n - 1] &= (uint8_t)(0xffu << (8 - bits % 8));
}

/* The first 4 bytes of openssl's CMAC over head || msg. */
static void openssl_eia2(uint8_t mac[4], const uint8_t key[16], uint32_t count, uint8_t bearer, uint8_t dir_bit,
			 const uint8_t *msg, size_t n)
{
	static uint8_t m[MAX_BYTES + 8];
	omc_link_iv64(m, count, bearer, dir_bit);
	memcpy(m + 8, msg, n);
	write_bin("m", m, n + 8);
	char kh[33], cmd[512], o[256], e[1024];
	hex(kh, sizeof kh, key, 16);
	snprintf(cmd, sizeof cmd, "openssl mac -cipher AES-128-CBC -macopt hexkey:%s -in '%s/m' CMAC", kh, dir);
	if (tl_run(cmd, o, sizeof o, e, sizeof e) != 0)
		fail_msg("openssl mac failed: %s", e);
	o[strcspn(o, "\r\n")] = 0;
	assert_int_equal(strlen(o), 32);
	uint8_t tag[16];
	tl_hex(tag, 16, o);
	memcpy(mac, tag, 4);
}

static void load(const json_t *o, uint8_t key[16], uint32_t *count, uint8_t *bearer, uint8_t *d, size_t *bits)
{
	uint8_t c[4];
	tl_hex(key, 16, tl_str(o, "key"));
	tl_hex(c, 4, tl_str(o, "count"));
	tl_hex(bearer, 1, tl_str(o, "bearer"));
	*count = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
	*d = (uint8_t)json_integer_value(json_object_get(o, "direction"));
	*bits = (size_t)json_integer_value(json_object_get(o, "length"));
}

static void test_eea2(void **state)
{
	(void)state;
	static uint8_t pt[MAX_BYTES], ours[MAX_BYTES], theirs[MAX_BYTES];
	uint8_t key[16], bearer, d;
	uint32_t count;
	size_t bits, i, sets = 0;
	json_t *all = tl_load_vectors("eea2.json"), *o;
	json_array_foreach(all, i, o)
	{
		load(o, key, &count, &bearer, &d, &bits);
		assert_int_equal(tl_hex_var(pt, sizeof pt, tl_str(o, "plaintext")), (bits + 7) / 8);
		assert_err(omc_link_eea2(ours, key, count, bearer, d, pt, bits), OMC_OK);
		openssl_eea2(theirs, key, count, bearer, d, pt, bits);
		assert_memory_equal(ours, theirs, (bits + 7) / 8);
		sets++;
	}
	json_decref(all);
	assert_int_equal(sets, 6);
	for (int r = 0; r < N_RANDOM; r++) {
		uint8_t b[7];
		tl_rand(key, 16);
		tl_rand(b, sizeof b);
		bits = 1 + (((size_t)b[5] << 8 | b[6]) % (8 * 600));
		tl_rand(pt, (bits + 7) / 8);
		count = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		assert_err(omc_link_eea2(ours, key, count, b[4] & 31, b[4] >> 7, pt, bits), OMC_OK);
		openssl_eea2(theirs, key, count, b[4] & 31, b[4] >> 7, pt, bits);
		if (memcmp(ours, theirs, (bits + 7) / 8) != 0)
			fail_msg("EEA2 differs from openssl at %zu bits", bits);
	}
}

static void test_eia2(void **state)
{
	(void)state;
	static uint8_t m[MAX_BYTES];
	uint8_t key[16], bearer, d, ours[4], theirs[4];
	uint32_t count;
	size_t bits, i, sets = 0;
	json_t *all = tl_load_vectors("eia2.json"), *o;
	json_array_foreach(all, i, o)
	{
		load(o, key, &count, &bearer, &d, &bits);
		if (bits % 8)
			continue; /* the openssl tool takes bytes */
		assert_int_equal(tl_hex_var(m, sizeof m, tl_str(o, "message")), bits / 8);
		assert_err(omc_link_eia2(ours, key, count, bearer, d, m, bits), OMC_OK);
		openssl_eia2(theirs, key, count, bearer, d, m, bits / 8);
		assert_memory_equal(ours, theirs, 4);
		tl_expect_hex(theirs, 4, tl_str(o, "mac"), "openssl CMAC", (int)i + 1);
		sets++;
	}
	json_decref(all);
	assert_int_equal(sets, 3);
	for (int r = 0; r < N_RANDOM; r++) {
		uint8_t b[7];
		tl_rand(key, 16);
		tl_rand(b, sizeof b);
		size_t n = ((size_t)b[5] << 8 | b[6]) % 600;
		tl_rand(m, n);
		count = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		assert_err(omc_link_eia2(ours, key, count, b[4] & 31, b[4] >> 7, m, n * 8), OMC_OK);
		openssl_eia2(theirs, key, count, b[4] & 31, b[4] >> 7, m, n);
		if (memcmp(ours, theirs, 4) != 0)
			fail_msg("EIA2 differs from openssl at %zu bytes", n);
	}
}

static int setup(void **state)
{
	(void)state;
	char out[256], err[256];
	if (tl_run("openssl version", out, sizeof out, err, sizeof err) != 0)
		fail_msg("the openssl tool is required (scripts/deps.sh installs it)");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256], out[64];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return tl_run(cmd, out, sizeof out, NULL, 0) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eea2),
		cmocka_unit_test(test_eia2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
