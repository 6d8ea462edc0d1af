/* 128-EEA2 and 128-EIA2 known answers: the published test sets of TS
 * 33.401 Annex C.1 (EEA2, sets 1 to 6) and C.2 (EIA2, sets 1 to 8), from
 * tests/vectors/eea2.json and eia2.json, with their lengths in bits (most
 * are not whole bytes). Also: deciphering gives the plaintext back, in
 * place too; one flipped bit inside the length changes the MAC and one
 * beyond it does not; and for whole bytes the bit-level CMAC equals
 * OpenSSL's EVP_MAC CMAC on random inputs of every length to 300 bytes.
 * covers: SEC-11 */
#include "testlib.h"

#include "link/link_internal.h"

#define MAX_BYTES 2100

typedef struct vec {
	uint8_t key[16];
	uint32_t count;
	uint8_t bearer, direction;
	size_t bits, bytes;
} vec;

static void load_common(vec *v, const json_t *o)
{
	uint8_t c[4], b;
	tl_hex(v->key, 16, tl_str(o, "key"));
	tl_hex(c, 4, tl_str(o, "count"));
	tl_hex(&b, 1, tl_str(o, "bearer"));
	v->count = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
	v->bearer = b;
	v->direction = (uint8_t)json_integer_value(json_object_get(o, "direction"));
	v->bits = (size_t)json_integer_value(json_object_get(o, "length"));
	v->bytes = (v->bits + 7) / 8;
	assert_true(v->bits > 0 && v->bytes <= MAX_BYTES);
}

static void expect(const uint8_t *got, const uint8_t *want, size_t n, const char *what, size_t set)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("set %zu %s: byte %zu is %02x, want %02x", set, what, i, got[i], want[i]);
}

static void test_eea2_sets(void **state)
{
	(void)state;
	json_t *all = tl_load_vectors("eea2.json");
	size_t i, n = 0;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		vec v;
		load_common(&v, o);
		static uint8_t pt[MAX_BYTES], ct[MAX_BYTES], out[MAX_BYTES];
		assert_int_equal(tl_hex_var(pt, sizeof pt, tl_str(o, "plaintext")), v.bytes);
		assert_int_equal(tl_hex_var(ct, sizeof ct, tl_str(o, "ciphertext")), v.bytes);
		assert_err(omc_link_eea2(out, v.key, v.count, v.bearer, v.direction, pt, v.bits), OMC_OK);
		expect(out, ct, v.bytes, "EEA2 ciphertext", i + 1);
		assert_err(omc_link_eea2(out, v.key, v.count, v.bearer, v.direction, ct, v.bits), OMC_OK);
		expect(out, pt, v.bytes, "EEA2 deciphered", i + 1);
		/* In place (out == in is allowed). */
		memcpy(out, pt, v.bytes);
		assert_err(omc_link_eea2(out, v.key, v.count, v.bearer, v.direction, out, v.bits), OMC_OK);
		expect(out, ct, v.bytes, "EEA2 in place", i + 1);
		/* Another COUNT, BEARER or DIRECTION is another keystream. */
		assert_err(omc_link_eea2(out, v.key, v.count + 1, v.bearer, v.direction, pt, v.bits), OMC_OK);
		assert_memory_not_equal(out, ct, v.bytes);
		assert_err(omc_link_eea2(out, v.key, v.count, v.bearer ^ 1, v.direction, pt, v.bits), OMC_OK);
		assert_memory_not_equal(out, ct, v.bytes);
		assert_err(omc_link_eea2(out, v.key, v.count, v.bearer, v.direction ^ 1, pt, v.bits), OMC_OK);
		assert_memory_not_equal(out, ct, v.bytes);
		n++;
	}
	json_decref(all);
	print_message("128-EEA2: %zu test sets\n", n);
	assert_int_equal(n, 6);
}

static void test_eia2_sets(void **state)
{
	(void)state;
	json_t *all = tl_load_vectors("eia2.json");
	size_t i, n = 0, aligned = 0;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		vec v;
		load_common(&v, o);
		static uint8_t m[MAX_BYTES + 8];
		uint8_t mac[4], want[4];
		assert_int_equal(tl_hex_var(m, sizeof m, tl_str(o, "message")), v.bytes);
		tl_hex(want, 4, tl_str(o, "mac"));
		assert_err(omc_link_eia2(mac, v.key, v.count, v.bearer, v.direction, m, v.bits), OMC_OK);
		tl_expect_hex(mac, 4, tl_str(o, "mac"), "EIA2 MAC", (int)i + 1);
		/* The last bit inside the length counts... */
		size_t last = v.bits - 1;
		m[last / 8] ^= (uint8_t)(0x80u >> (last % 8));
		assert_err(omc_link_eia2(mac, v.key, v.count, v.bearer, v.direction, m, v.bits), OMC_OK);
		assert_memory_not_equal(mac, want, 4);
		m[last / 8] ^= (uint8_t)(0x80u >> (last % 8));
		/* ...and bits after it do not. */
		if (v.bits % 8) {
			m[v.bytes - 1] ^= 1;
			assert_err(omc_link_eia2(mac, v.key, v.count, v.bearer, v.direction, m, v.bits), OMC_OK);
			assert_memory_equal(mac, want, 4);
			m[v.bytes - 1] ^= 1;
		} else {
			/* Whole bytes: the bit-level path gives the same tag as OpenSSL's. */
			uint8_t head[8], tag[16];
			omc_link_iv64(head, v.count, v.bearer, v.direction);
			assert_err(omc_link_cmac_bits(tag, v.key, head, m, v.bits), OMC_OK);
			assert_memory_equal(tag, want, 4);
			aligned++;
		}
		assert_err(omc_link_eia2(mac, v.key, v.count ^ 1, v.bearer, v.direction, m, v.bits), OMC_OK);
		assert_memory_not_equal(mac, want, 4);
		n++;
	}
	json_decref(all);
	print_message("128-EIA2: %zu test sets (%zu of whole bytes)\n", n, aligned);
	assert_int_equal(n, 8);
	assert_int_equal(aligned, 3);
}

static void test_cmac_paths_agree(void **state)
{
	(void)state;
	static uint8_t m[300];
	for (size_t len = 0; len <= sizeof m; len++) {
		uint8_t key[16], head[8], bits_tag[16], mac[4];
		tl_rand(key, sizeof key);
		tl_rand(head, sizeof head);
		tl_rand(m, len);
		uint32_t count = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
		uint8_t bearer = head[4] >> 3, dir = (head[4] >> 2) & 1;
		omc_link_iv64(head, count, bearer, dir);
		assert_err(omc_link_cmac_bits(bits_tag, key, head, m, len * 8), OMC_OK);
		assert_err(omc_link_eia2(mac, key, count, bearer, dir, m, len * 8), OMC_OK);
		if (memcmp(bits_tag, mac, 4) != 0)
			fail_msg("CMAC paths differ at %zu bytes", len);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	uint8_t key[16] = {1}, buf[4] = {0}, mac[4];
	assert_err(omc_link_eea2(buf, key, 0, 32, 0, buf, 8), OMC_ERR_BAD_ARG);
	assert_err(omc_link_eea2(buf, key, 0, 0, 2, buf, 8), OMC_ERR_BAD_ARG);
	assert_err(omc_link_eia2(mac, key, 0, 32, 0, buf, 8), OMC_ERR_BAD_ARG);
	assert_err(omc_link_eia2(mac, key, 0, 0, 0, NULL, 8), OMC_ERR_BAD_ARG);
	/* Zero bits: nothing to cipher; the MAC of an empty MESSAGE exists. */
	assert_err(omc_link_eea2(NULL, key, 0, 0, 0, NULL, 0), OMC_OK);
	assert_err(omc_link_eia2(mac, key, 0, 0, 0, NULL, 0), OMC_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eea2_sets),
		cmocka_unit_test(test_eia2_sets),
		cmocka_unit_test(test_cmac_paths_agree),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
