/* Hex encoding and decoding (src/util/hex.c): known values, round trips of
 * every length 0..64, either case accepted, every one of the 256 byte values
 * tried in every position, wrong lengths, output capacity, the NUL
 * terminator, and no decoded byte left behind on error. Keys (K, OPc) pass
 * through this code, which is why it is constant-time and wipes on error.
 * covers: SEC-12 */
#include "testlib.h"

/* Fails with both error names, not just two numbers. */
static const char lower_digits[] = "0123456789abcdef";
static const char upper_digits[] = "0123456789ABCDEF";

/* -1 for a byte that is not a hex digit, by a plain table-free reference. */
static int ref_value(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

static void test_known_values(void **state)
{
	(void)state;
	static const uint8_t bin[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char txt[2 * sizeof bin + 1];
	uint8_t out[sizeof bin];

	assert_err(omc_hex_encode(txt, sizeof txt, bin, sizeof bin), OMC_OK);
	assert_string_equal(txt, "00017f80abcdefff");

	static const char *const spellings[] = {"00017f80abcdefff", "00017F80ABCDEFFF", "00017f80AbCdEfFF"};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		memset(out, 0x5a, sizeof out);
		assert_err(omc_hex_decode(out, sizeof out, spellings[i], strlen(spellings[i])), OMC_OK);
		assert_memory_equal(out, bin, sizeof bin);

		size_t n = 99;
		memset(out, 0x5a, sizeof out);
		assert_err(omc_hex_decode_var(out, sizeof out, &n, spellings[i], strlen(spellings[i])), OMC_OK);
		assert_int_equal(n, sizeof bin);
		assert_memory_equal(out, bin, sizeof bin);
	}
}

/* Each of the 256 byte values encodes to two lowercase digits and decodes
 * back from the lowercase, uppercase and mixed spellings. */
static void test_every_byte_value(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		const uint8_t in = (uint8_t)b;
		char txt[3];
		memset(txt, 'X', sizeof txt);
		assert_err(omc_hex_encode(txt, sizeof txt, &in, 1), OMC_OK);
		assert_int_equal(txt[0], lower_digits[b >> 4]);
		assert_int_equal(txt[1], lower_digits[b & 15u]);
		assert_int_equal(txt[2], '\0');

		const char forms[4][2] = {
			{lower_digits[b >> 4], lower_digits[b & 15u]},
			{upper_digits[b >> 4], upper_digits[b & 15u]},
			{lower_digits[b >> 4], upper_digits[b & 15u]},
			{upper_digits[b >> 4], lower_digits[b & 15u]},
		};
		for (size_t f = 0; f < 4; f++) {
			uint8_t out = (uint8_t)~b;
			assert_err(omc_hex_decode(&out, 1, forms[f], 2), OMC_OK);
			assert_int_equal(out, b);
		}
	}
}

/* Every length 0..64, several random buffers each, with an output buffer of
 * exactly 2*len+1 characters. */
static void test_round_trip_random(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 64; len++) {
		for (int trial = 0; trial < 16; trial++) {
			uint8_t in[64], out[64], out2[64 + 8];
			char txt[2 * 64 + 1 + 8];
			tl_rand(in, len);
			memset(txt, 'X', sizeof txt);
			assert_err(omc_hex_encode(txt, 2 * len + 1, in, len), OMC_OK);
			assert_int_equal(txt[2 * len], '\0');
			assert_int_equal(strlen(txt), 2 * len);
			assert_int_equal(txt[2 * len + 1], 'X'); /* nothing past the NUL */
			for (size_t i = 0; i < 2 * len; i++)
				assert_non_null(strchr(lower_digits, txt[i]));

			memset(out, 0xa5, sizeof out);
			assert_err(omc_hex_decode(out, len, txt, 2 * len), OMC_OK);
			assert_memory_equal(out, in, len);
			if (len < sizeof out)
				assert_true(tl_all_bytes_are(out + len, sizeof out - len, 0xa5));

			/* The uppercase spelling decodes to the same bytes. */
			for (size_t i = 0; i < 2 * len; i++)
				if (txt[i] >= 'a' && txt[i] <= 'f')
					txt[i] = (char)(txt[i] - 'a' + 'A');
			size_t n = 12345;
			memset(out2, 0xa5, sizeof out2);
			assert_err(omc_hex_decode_var(out2, sizeof out2, &n, txt, 2 * len), OMC_OK);
			assert_int_equal(n, len);
			assert_memory_equal(out2, in, len);
			assert_true(tl_all_bytes_are(out2 + len, sizeof out2 - len, 0xa5));
		}
	}
}

/* A 16-byte key's 32 digits; each position in turn gets each of the 256 byte
 * values. Hex digits must decode to their value there, anything else must be
 * OMC_ERR_BAD_HEX with the output zeroed (no partial key left behind). */
static void test_every_byte_in_every_position(void **state)
{
	(void)state;
	static const char base[] = "0123456789abcdefFEDCBA9876543210";
	enum { KLEN = 16, HLEN = 2 * KLEN };
	assert_int_equal(strlen(base), HLEN);
	uint8_t want[KLEN];
	tl_hex(want, KLEN, base);

	for (size_t pos = 0; pos < HLEN; pos++) {
		for (unsigned b = 0; b < 256; b++) {
			char hex[HLEN];
			memcpy(hex, base, HLEN);
			hex[pos] = (char)b;
			const int v = ref_value(b);

			uint8_t out[KLEN];
			memset(out, 0xa5, sizeof out);
			omc_err e = omc_hex_decode(out, KLEN, hex, HLEN);

			uint8_t out2[KLEN + 4];
			size_t n = 777;
			memset(out2, 0xa5, sizeof out2);
			omc_err e2 = omc_hex_decode_var(out2, sizeof out2, &n, hex, HLEN);

			if (v < 0) {
				if (e != OMC_ERR_BAD_HEX || e2 != OMC_ERR_BAD_HEX)
					fail_msg("byte 0x%02x at %zu: got %s / %s, want BAD_HEX", b, pos,
						 omc_err_name(e), omc_err_name(e2));
				if (!tl_all_bytes_are(out, KLEN, 0) || !tl_all_bytes_are(out2, KLEN, 0))
					fail_msg("byte 0x%02x at %zu: output not zeroed on error", b, pos);
				assert_true(tl_all_bytes_are(out2 + KLEN, 4, 0xa5));
				assert_int_equal(n, 777); /* *out_len untouched on error */
				continue;
			}
			uint8_t exp[KLEN];
			memcpy(exp, want, KLEN);
			const unsigned shift = (pos % 2 == 0) ? 4u : 0u;
			exp[pos / 2] = (uint8_t)((exp[pos / 2] & ~(0xfu << shift)) | ((unsigned)v << shift));
			if (e != OMC_OK || e2 != OMC_OK)
				fail_msg("hex digit 0x%02x at %zu: got %s / %s", b, pos, omc_err_name(e),
					 omc_err_name(e2));
			assert_memory_equal(out, exp, KLEN);
			assert_memory_equal(out2, exp, KLEN);
			assert_int_equal(n, KLEN);
		}
	}
}

/* Two bad characters, a bad one first or last: still BAD_HEX and zeroed. */
static void test_bad_hex_anywhere(void **state)
{
	(void)state;
	static const char *const bad[] = {"g0", "0g", "zz", "0x12", " 012", "012 ", "01\n2", "-1", "+1", "1.", "@0",
					  "`0", "G0", "0G"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const size_t hl = strlen(bad[i]);
		uint8_t out[2];
		memset(out, 0xee, sizeof out);
		assert_err(omc_hex_decode(out, hl / 2, bad[i], hl), OMC_ERR_BAD_HEX);
		assert_true(tl_all_bytes_are(out, hl / 2, 0));
	}
	/* A NUL inside the counted length is not the end of the string. */
	uint8_t out[2] = {0xee, 0xee};
	assert_err(omc_hex_decode(out, 2, "ab\0c", 4), OMC_ERR_BAD_HEX);
	assert_true(tl_all_bytes_are(out, 2, 0));
}

static void test_decode_lengths(void **state)
{
	(void)state;
	uint8_t out[8];

	/* Empty is fine, even without buffers. */
	assert_err(omc_hex_decode(NULL, 0, NULL, 0), OMC_OK);
	assert_err(omc_hex_decode(out, 0, "", 0), OMC_OK);

	/* hex_len must be exactly 2*out_len; out untouched otherwise. */
	static const struct {
		size_t out_len;
		const char *hex;
	} wrong[] = {
		{1, ""}, {1, "a"}, {1, "abc"}, {1, "abcd"}, {2, "abc"}, {2, "abcde"}, {0, "ab"}, {4, "0011223"},
		{4, "001122334"}, {3, "00112233"},
	};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		memset(out, 0xa5, sizeof out);
		assert_err(omc_hex_decode(out, wrong[i].out_len, wrong[i].hex, strlen(wrong[i].hex)),
			   OMC_ERR_BAD_LENGTH);
		assert_true(tl_all_bytes_are(out, sizeof out, 0xa5));
	}

	/* 2*out_len wraps to 0 here: must not be taken for an empty input. */
	assert_err(omc_hex_decode(out, SIZE_MAX / 2 + 1, "", 0), OMC_ERR_BAD_LENGTH);
	assert_err(omc_hex_decode(out, SIZE_MAX, "ab", 2), OMC_ERR_BAD_LENGTH);
	assert_true(tl_all_bytes_are(out, sizeof out, 0xa5));
}

static void test_decode_var_lengths(void **state)
{
	(void)state;
	uint8_t out[4];
	size_t n = 99;

	assert_err(omc_hex_decode_var(NULL, 0, &n, NULL, 0), OMC_OK);
	assert_int_equal(n, 0);

	static const char *const odd[] = {"a", "abc", "00112", "0011223"};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		n = 99;
		memset(out, 0xa5, sizeof out);
		assert_err(omc_hex_decode_var(out, sizeof out, &n, odd[i], strlen(odd[i])), OMC_ERR_BAD_LENGTH);
		assert_int_equal(n, 99);
		assert_true(tl_all_bytes_are(out, sizeof out, 0xa5));
	}

	/* Exactly full works. */
	n = 99;
	assert_err(omc_hex_decode_var(out, sizeof out, &n, "deadbeef", 8), OMC_OK);
	assert_int_equal(n, 4);
	static const uint8_t dead[] = {0xde, 0xad, 0xbe, 0xef};
	assert_memory_equal(out, dead, 4);
}

/* Input that decodes to more than out_cap bytes: the output does not fit,
 * which is OMC_ERR_NO_SPACE as for omc_b64_decode, omc_hex_encode and
 * omc_cur_write (OMC_ERR_TOO_LARGE means "input too large"). Nothing is
 * written. */
static void test_decode_var_no_space(void **state)
{
	(void)state;
	uint8_t out[4];
	size_t n = 99;
	memset(out, 0xa5, sizeof out);
	assert_err(omc_hex_decode_var(out, sizeof out, &n, "deadbeef00", 10), OMC_ERR_NO_SPACE);
	assert_int_equal(n, 99);
	assert_true(tl_all_bytes_are(out, sizeof out, 0xa5));
	assert_err(omc_hex_decode_var(out, 0, &n, "00", 2), OMC_ERR_NO_SPACE);
	assert_err(omc_hex_decode_var(NULL, 0, &n, "00", 2), OMC_ERR_NO_SPACE);
	assert_int_equal(n, 99);
}

static void test_encode_capacity(void **state)
{
	(void)state;
	uint8_t in[32];
	char txt[2 * sizeof in + 8];
	tl_rand(in, sizeof in);

	for (size_t len = 0; len <= sizeof in; len++) {
		/* One character short (the NUL does not fit) down to nothing. */
		for (size_t cap = 0; cap < 2 * len + 1; cap++) {
			memset(txt, 'X', sizeof txt);
			assert_err(omc_hex_encode(txt, cap, in, len), OMC_ERR_NO_SPACE);
			for (size_t i = 0; i < sizeof txt; i++)
				assert_int_equal(txt[i], 'X');
		}
		/* Exactly enough, and more than enough: the NUL ends the string. */
		for (size_t cap = 2 * len + 1; cap <= 2 * len + 3; cap++) {
			memset(txt, 'X', sizeof txt);
			assert_err(omc_hex_encode(txt, cap, in, len), OMC_OK);
			assert_int_equal(txt[2 * len], '\0');
			assert_int_equal(txt[2 * len + 1], 'X');
		}
	}

	/* Empty input: just the NUL. */
	memset(txt, 'X', sizeof txt);
	assert_err(omc_hex_encode(txt, 1, NULL, 0), OMC_OK);
	assert_int_equal(txt[0], '\0');
	assert_int_equal(txt[1], 'X');

	/* A length whose 2*n+1 overflows is refused before anything is read. */
	assert_err(omc_hex_encode(txt, sizeof txt, in, SIZE_MAX / 2), OMC_ERR_NO_SPACE);
	assert_err(omc_hex_encode(txt, sizeof txt, in, SIZE_MAX), OMC_ERR_NO_SPACE);
	assert_err(omc_hex_encode(txt, SIZE_MAX, in, SIZE_MAX / 2 + 1), OMC_ERR_NO_SPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_every_byte_value),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_every_byte_in_every_position),
		cmocka_unit_test(test_bad_hex_anywhere),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_var_lengths),
		cmocka_unit_test(test_decode_var_no_space),
		cmocka_unit_test(test_encode_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
