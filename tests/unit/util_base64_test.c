/* Base64 (src/util/base64.c, RFC 4648): the section 10 test vectors for the
 * standard alphabet with padding and the URL-safe alphabet without it,
 * omc_b64_encoded_len, strict decoding (padding, alphabets, whitespace,
 * canonical trailing bits, lengths), each of the 256 byte values as an input
 * character, random round trips cross-checked against OpenSSL, and output
 * capacity. */
#include <openssl/evp.h>

#include "testlib.h"

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *variant_name(omc_b64_variant v)
{
	return v == OMC_B64_URL ? "URL" : "STD";
}

/* Decodes NUL-terminated s; expects err, or OMC_OK and exactly want[0..want_len). */
static void check_decode(omc_b64_variant v, const char *s, omc_err want_err, const uint8_t *want, size_t want_len)
{
	uint8_t out[128];
	size_t n = 4242;
	memset(out, 0xa5, sizeof out);
	omc_err e = omc_b64_decode(out, sizeof out, &n, s, strlen(s), v);
	if (e != want_err)
		fail_msg("%s decode \"%s\": got %s, want %s", variant_name(v), s, omc_err_name(e),
			 omc_err_name(want_err));
	if (e != OMC_OK) {
		assert_int_equal(n, 4242); /* *out_len untouched on error */
		/* No decoded byte is left behind: each byte is wiped or untouched. */
		for (size_t i = 0; i < sizeof out; i++)
			if (out[i] != 0 && out[i] != 0xa5)
				fail_msg("%s decode \"%s\": output byte %zu left as 0x%02x", variant_name(v), s, i,
					 out[i]);
		return;
	}
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
	for (size_t i = want_len; i < sizeof out; i++)
		assert_int_equal(out[i], 0xa5);
}

static void check_reject(omc_b64_variant v, const char *s)
{
	check_decode(v, s, OMC_ERR_BAD_BASE64, NULL, 0);
}

/* RFC 4648 section 10. */
static const struct {
	const char *plain, *std, *url;
} rfc4648[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const uint8_t *p = (const uint8_t *)rfc4648[i].plain;
		const size_t pl = strlen(rfc4648[i].plain);
		char txt[16];

		for (int vi = 0; vi < 2; vi++) {
			const omc_b64_variant v = vi ? OMC_B64_URL : OMC_B64_STD;
			const char *want = vi ? rfc4648[i].url : rfc4648[i].std;
			const size_t wl = strlen(want);
			assert_int_equal(omc_b64_encoded_len(pl, v), wl);

			/* Exactly enough room: the characters and the NUL. */
			memset(txt, 'X', sizeof txt);
			assert_err(omc_b64_encode(txt, wl + 1, p, pl, v), OMC_OK);
			assert_string_equal(txt, want);
			assert_int_equal(txt[wl + 1], 'X');

			check_decode(v, want, OMC_OK, p, pl);
		}
	}
}

/* Bytes whose encoding uses the two characters where the alphabets differ. */
static void test_alphabets_differ(void **state)
{
	(void)state;
	static const uint8_t in[] = {0xfb, 0xff, 0xbf, 0xfb, 0xef};
	char txt[16];
	assert_err(omc_b64_encode(txt, sizeof txt, in, sizeof in, OMC_B64_STD), OMC_OK);
	assert_string_equal(txt, "+/+/++8=");
	assert_err(omc_b64_encode(txt, sizeof txt, in, sizeof in, OMC_B64_URL), OMC_OK);
	assert_string_equal(txt, "-_-_--8");
	check_decode(OMC_B64_STD, "+/+/++8=", OMC_OK, in, sizeof in);
	check_decode(OMC_B64_URL, "-_-_--8", OMC_OK, in, sizeof in);
	/* Each alphabet refuses the other's two characters. */
	check_reject(OMC_B64_STD, "-_-_--8=");
	check_reject(OMC_B64_URL, "+/+/++8");
	check_reject(OMC_B64_STD, "+/+_++8=");
	check_reject(OMC_B64_URL, "-_-/--8");
	check_reject(OMC_B64_STD, "AAA-");
	check_reject(OMC_B64_STD, "AAA_");
	check_reject(OMC_B64_URL, "AAA+");
	check_reject(OMC_B64_URL, "AAA/");
}

static void test_encoded_len(void **state)
{
	(void)state;
	for (size_t n = 0; n <= 1000; n++) {
		assert_int_equal(omc_b64_encoded_len(n, OMC_B64_STD), 4 * ((n + 2) / 3));
		const size_t url = 4 * (n / 3) + (n % 3 == 0 ? 0 : n % 3 + 1);
		assert_int_equal(omc_b64_encoded_len(n, OMC_B64_URL), url);
		/* URL is STD without the '=' padding. */
		assert_int_equal(omc_b64_encoded_len(n, OMC_B64_STD) - url, (3 - n % 3) % 3);
	}
	/* JOSE sizes: a 32-byte value is 43 characters unpadded, 44 padded. */
	assert_int_equal(omc_b64_encoded_len(32, OMC_B64_URL), 43);
	assert_int_equal(omc_b64_encoded_len(32, OMC_B64_STD), 44);
}

static void test_strict_padding(void **state)
{
	(void)state;
	/* Missing padding (STD requires it). */
	static const char *const missing[] = {"Zg", "Zg=", "Zm8", "Zm9vYg", "Zm9vYg=", "Zm9vYmE", "Z", "Zm9vY"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
		check_reject(OMC_B64_STD, missing[i]);

	/* Extra padding. */
	static const char *const extra[] = {"Zg===", "Zg====", "Zm8==", "Zm9v=", "Zm9v====", "Zm9vYg===",
					    "Zm9vYmE==", "Zm9vYmE=====", "=", "==", "===", "====", "Z===",
					    "Zm8=====", "Zm9vYmFy===="};
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
		check_reject(OMC_B64_STD, extra[i]);

	/* '=' anywhere but the end. */
	static const char *const middle[] = {"Zg==Zg==", "Z=g=", "Zm=v", "=Zm9", "Zm9v=Zg=", "Zm9vY=E=", "Z==g",
					     "Zm8=Zm8="};
	for (size_t i = 0; i < sizeof middle / sizeof middle[0]; i++) {
		check_reject(OMC_B64_STD, middle[i]);
		check_reject(OMC_B64_URL, middle[i]);
	}

	/* The URL variant has no padding at all. */
	static const char *const padded[] = {"Zg==", "Zm8=", "Zm9vYg==", "Zm9vYmE=", "Zg=", "Zm9v=", "="};
	for (size_t i = 0; i < sizeof padded / sizeof padded[0]; i++)
		check_reject(OMC_B64_URL, padded[i]);
}

static void test_strict_whitespace(void **state)
{
	(void)state;
	static const char *const ws[] = {"Zm9v\n", " Zm9v", "Zm9v ", "Zm 9v", "Zm9v\r\n", "\tZm9v", "Zm9v\t",
					 "Zm9vYmFy\nZm9v", "Zm\v9v", "Zm\f9v", "Zm9\nv", "Zm8= ", " Zm8=",
					 "Zm8 ="};
	for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
		check_reject(OMC_B64_STD, ws[i]);
		check_reject(OMC_B64_URL, ws[i]);
	}
	/* A NUL inside the counted length. */
	for (int vi = 0; vi < 2; vi++) {
		uint8_t out[8];
		size_t n = 0;
		const omc_b64_variant v = vi ? OMC_B64_URL : OMC_B64_STD;
		assert_err(omc_b64_decode(out, sizeof out, &n, "Zm9v\0Zm9", 8, v), OMC_ERR_BAD_BASE64);
		assert_err(omc_b64_decode(out, sizeof out, &n, "Zm\0v", 4, v), OMC_ERR_BAD_BASE64);
	}
}

/* Only the canonical encoding is accepted: the bits the last character
 * carries beyond the final byte must be zero. */
static void test_strict_trailing_bits(void **state)
{
	(void)state;
	const uint8_t f[] = {'f'}, fo[] = {'f', 'o'};
	check_decode(OMC_B64_STD, "Zg==", OMC_OK, f, 1);
	check_decode(OMC_B64_URL, "Zg", OMC_OK, f, 1);
	check_decode(OMC_B64_STD, "Zm8=", OMC_OK, fo, 2);
	check_decode(OMC_B64_URL, "Zm8", OMC_OK, fo, 2);

	/* 'g' = 32 leaves 4 zero bits; 'h'..'v' set some of them. */
	static const char second[] = "hijklmnopqrstuv";
	for (size_t i = 0; i < sizeof second - 1; i++) {
		char s[5] = {'Z', second[i], '=', '=', '\0'};
		check_reject(OMC_B64_STD, s);
		s[2] = '\0';
		check_reject(OMC_B64_URL, s);
	}
	/* '8' = 60 leaves 2 zero bits; '9', '+', '/' (61..63) set them. */
	check_reject(OMC_B64_STD, "Zm9=");
	check_reject(OMC_B64_STD, "Zm+=");
	check_reject(OMC_B64_STD, "Zm/=");
	check_reject(OMC_B64_URL, "Zm9");
	check_reject(OMC_B64_URL, "Zm-");
	check_reject(OMC_B64_URL, "Zm_");
	check_reject(OMC_B64_STD, "Zm9vYh==");
	check_reject(OMC_B64_URL, "Zm9vYmF");
	/* Every last character after 'A' for 1 and 2 trailing bytes. */
	for (unsigned x = 0; x < 64; x++) {
		char s1[5] = {'A', std_alphabet[x], '=', '=', '\0'};
		char s2[5] = {'A', 'A', std_alphabet[x], '=', '\0'};
		const uint8_t b1 = (uint8_t)(x >> 4), b2[2] = {0, (uint8_t)(x >> 2)};
		check_decode(OMC_B64_STD, s1, (x & 15u) ? OMC_ERR_BAD_BASE64 : OMC_OK, &b1, 1);
		check_decode(OMC_B64_STD, s2, (x & 3u) ? OMC_ERR_BAD_BASE64 : OMC_OK, b2, 2);
	}
}

static void test_strict_lengths(void **state)
{
	(void)state;
	/* One character cannot carry a byte: length % 4 == 1 is never valid. */
	static const char *const one[] = {"Z", "A", "Zm9vY", "Zm9vYmFyZ", "AAAAA"};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
		check_reject(OMC_B64_URL, one[i]);
		check_reject(OMC_B64_STD, one[i]);
	}
	/* STD without padding needs a multiple of 4. */
	check_reject(OMC_B64_STD, "AA");
	check_reject(OMC_B64_STD, "AAA");
	check_reject(OMC_B64_STD, "AAAAAA");
	/* Empty input is the empty string, in either variant, even without buffers. */
	for (int vi = 0; vi < 2; vi++) {
		size_t n = 99;
		assert_err(omc_b64_decode(NULL, 0, &n, NULL, 0, vi ? OMC_B64_URL : OMC_B64_STD), OMC_OK);
		assert_int_equal(n, 0);
		n = 99;
		assert_err(omc_b64_decode(NULL, 0, &n, "", 0, vi ? OMC_B64_URL : OMC_B64_STD), OMC_OK);
		assert_int_equal(n, 0);
	}
}

/* Each of the 256 byte values in each position of an 8-character input.
 * Alphabet characters decode to their index; '=' is valid only as the last
 * character of a STD input; everything else is BAD_BASE64. */
static void test_every_byte_as_character(void **state)
{
	(void)state;
	for (int vi = 0; vi < 2; vi++) {
		const omc_b64_variant v = vi ? OMC_B64_URL : OMC_B64_STD;
		const char *alpha = vi ? url_alphabet : std_alphabet;
		for (size_t pos = 0; pos < 8; pos++) {
			for (unsigned b = 0; b < 256; b++) {
				char s[8];
				memset(s, 'A', sizeof s);
				s[pos] = (char)b;
				const char *hit = b ? memchr(alpha, (int)b, 64) : NULL;

				uint8_t out[8];
				size_t n = 99;
				memset(out, 0xa5, sizeof out);
				omc_err e = omc_b64_decode(out, sizeof out, &n, s, sizeof s, v);

				if (hit != NULL) {
					if (e != OMC_OK)
						fail_msg("%s: char 0x%02x at %zu: %s", variant_name(v), b, pos,
							 omc_err_name(e));
					assert_int_equal(n, 6);
					/* Put the 6-bit value where it sits in the 48 bits. */
					const uint64_t want = (uint64_t)(hit - alpha) << (6 * (7 - pos));
					uint8_t wb[6];
					omc_store_be48(wb, want);
					assert_memory_equal(out, wb, 6);
				} else if (b == '=' && pos == 7 && v == OMC_B64_STD) {
					static const uint8_t zeros[5];
					assert_err(e, OMC_OK);
					assert_int_equal(n, 5);
					assert_memory_equal(out, zeros, 5);
				} else {
					if (e != OMC_ERR_BAD_BASE64)
						fail_msg("%s: char 0x%02x at %zu: got %s, want BAD_BASE64",
							 variant_name(v), b, pos, omc_err_name(e));
					assert_int_equal(n, 99);
					for (size_t i = 0; i < sizeof out; i++)
						assert_true(out[i] == 0 || out[i] == 0xa5);
				}
			}
		}
	}
}

/* Random buffers of every length 0..100 in both variants, checked against
 * OpenSSL's encoder (STD; URL is STD with '-', '_' and no '='). */
static void test_round_trip_random(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 100; len++) {
		for (int trial = 0; trial < 8; trial++) {
			uint8_t in[100];
			tl_rand(in, len);

			unsigned char ref[4 * 34 + 1];
			const int rl = EVP_EncodeBlock(ref, in, (int)len);
			assert_true(rl >= 0);

			for (int vi = 0; vi < 2; vi++) {
				const omc_b64_variant v = vi ? OMC_B64_URL : OMC_B64_STD;
				char want[4 * 34 + 1];
				size_t wl = 0;
				for (size_t i = 0; i < (size_t)rl; i++) {
					char ch = (char)ref[i];
					if (v == OMC_B64_URL) {
						if (ch == '=')
							continue;
						ch = (char)(ch == '+' ? '-' : ch == '/' ? '_' : ch);
					}
					want[wl++] = ch;
				}
				want[wl] = '\0';

				const size_t el = omc_b64_encoded_len(len, v);
				assert_int_equal(el, wl);
				char txt[4 * 34 + 2];
				memset(txt, 'X', sizeof txt);
				assert_err(omc_b64_encode(txt, el + 1, in, len, v), OMC_OK);
				assert_string_equal(txt, want);
				assert_int_equal(txt[el + 1], 'X');

				uint8_t out[100 + 4];
				size_t n = 999;
				memset(out, 0xa5, sizeof out);
				assert_err(omc_b64_decode(out, len, &n, txt, el, v), OMC_OK);
				assert_int_equal(n, len);
				assert_memory_equal(out, in, len);
				for (size_t i = len; i < sizeof out; i++)
					assert_int_equal(out[i], 0xa5);

				/* The other variant refuses it unless the alphabets and
				 * padding happen not to matter. */
				uint8_t other[100 + 8]; /* room for padding read as data */
				const omc_b64_variant ov = vi ? OMC_B64_STD : OMC_B64_URL;
				const int differs = strpbrk(txt, vi ? "-_" : "+/=") != NULL || (vi && len % 3 != 0);
				if (differs)
					assert_err(omc_b64_decode(other, sizeof other, &n, txt, el, ov),
						   OMC_ERR_BAD_BASE64);
			}
		}
	}
}

static void test_capacity(void **state)
{
	(void)state;
	uint8_t in[40];
	tl_rand(in, sizeof in);
	for (size_t len = 0; len <= sizeof in; len++) {
		for (int vi = 0; vi < 2; vi++) {
			const omc_b64_variant v = vi ? OMC_B64_URL : OMC_B64_STD;
			const size_t el = omc_b64_encoded_len(len, v);
			char txt[64];

			/* Encode: out_cap counts the NUL; anything less is refused
			 * and nothing is written. */
			for (size_t cap = 0; cap <= el; cap++) {
				memset(txt, 'X', sizeof txt);
				assert_err(omc_b64_encode(txt, cap, in, len, v), OMC_ERR_NO_SPACE);
				for (size_t i = 0; i < sizeof txt; i++)
					assert_int_equal(txt[i], 'X');
			}
			memset(txt, 'X', sizeof txt);
			assert_err(omc_b64_encode(txt, el + 1, in, len, v), OMC_OK);
			assert_int_equal(txt[el], '\0');
			assert_int_equal(txt[el + 1], 'X');

			/* Decode: exactly len bytes of room is enough, one less is not. */
			for (size_t cap = 0; cap < len; cap++) {
				uint8_t out[40];
				size_t n = 77;
				memset(out, 0xa5, sizeof out);
				assert_err(omc_b64_decode(out, cap, &n, txt, el, v), OMC_ERR_NO_SPACE);
				assert_int_equal(n, 77);
				for (size_t i = 0; i < sizeof out; i++)
					assert_int_equal(out[i], 0xa5);
			}
		}
	}
	/* A length whose encoding does not fit size_t is refused. */
	char txt[8];
	assert_err(omc_b64_encode(txt, sizeof txt, in, SIZE_MAX, OMC_B64_STD), OMC_ERR_TOO_LARGE);
	assert_err(omc_b64_encode(txt, sizeof txt, in, SIZE_MAX, OMC_B64_URL), OMC_ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabets_differ),
		cmocka_unit_test(test_encoded_len),
		cmocka_unit_test(test_strict_padding),
		cmocka_unit_test(test_strict_whitespace),
		cmocka_unit_test(test_strict_trailing_bits),
		cmocka_unit_test(test_strict_lengths),
		cmocka_unit_test(test_every_byte_as_character),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
