/* Base64 (RFC 4648 sections 4 and 5), constant-time in the byte values. */
#include "util/util_internal.h"

/* The two characters that differ between the alphabets: 62 and 63. */
typedef struct b64_alpha {
	int c62, c63;
} b64_alpha;

static b64_alpha alphabet(omc_b64_variant var)
{
	return var == OMC_B64_URL ? (b64_alpha){'-', '_'} : (b64_alpha){'+', '/'};
}

/* Character for v in 0..63, by masks instead of a table lookup. Inlined
 * with the alphabet hoisted out of the loop: the encoders' hot path. */
static inline __attribute__((always_inline)) char b64_char(unsigned x, b64_alpha a)
{
	int v = (int)x;
	int d = 'A';
	d += ((25 - v) >> 8) & ('a' - 26 - 'A');                /* 26..51 */
	d -= ((51 - v) >> 8) & (('a' - 26) - ('0' - 52));       /* 52..61 */
	d -= ((61 - v) >> 8) & (('0' - 52) - (a.c62 - 62));     /* 62 */
	d += ((62 - v) >> 8) & ((a.c63 - 63) - (a.c62 - 62));   /* 63 */
	return (char)(v + d);
}

/* In range lo..hi (inclusive): all ones, else 0. */
static inline __attribute__((always_inline)) int ct_range(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* 0..63, or -1 for a character outside the alphabet. */
static inline __attribute__((always_inline)) int b64_value(unsigned char ch, b64_alpha a)
{
	int c = ch;
	int r = -1;
	r += ct_range(c, 'A', 'Z') & (c - 'A' + 1);
	r += ct_range(c, 'a', 'z') & (c - 'a' + 26 + 1);
	r += ct_range(c, '0', '9') & (c - '0' + 52 + 1);
	r += ct_range(c, a.c62, a.c62) & (62 + 1);
	r += ct_range(c, a.c63, a.c63) & (63 + 1);
	return r;
}

size_t omc_b64_encoded_len(size_t n, omc_b64_variant v)
{
	if (v == OMC_B64_URL)
		return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
	return ((n + 2) / 3) * 4;
}

omc_err omc_b64_encode(char *out, size_t out_cap, const uint8_t *in, size_t in_len, omc_b64_variant v)
{
	OMC_ENSURE(out != NULL && (in != NULL || in_len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(in_len <= (SIZE_MAX / 4) * 3 - 3, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(out_cap > omc_b64_encoded_len(in_len, v), OMC_ERR_NO_SPACE);
	b64_alpha a = alphabet(v);
	size_t o = 0, i = 0;
	for (; i + 3 <= in_len; i += 3) {
		uint32_t w = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = b64_char(w >> 18, a);
		out[o++] = b64_char((w >> 12) & 63u, a);
		out[o++] = b64_char((w >> 6) & 63u, a);
		out[o++] = b64_char(w & 63u, a);
	}
	size_t rest = in_len - i;
	if (rest) {
		uint32_t w = (uint32_t)in[i] << 16;
		if (rest == 2)
			w |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_char(w >> 18, a);
		out[o++] = b64_char((w >> 12) & 63u, a);
		if (rest == 2)
			out[o++] = b64_char((w >> 6) & 63u, a);
		if (v == OMC_B64_STD) {
			if (rest == 1)
				out[o++] = '=';
			out[o++] = '=';
		}
	}
	out[o] = '\0';
	return OMC_OK;
}

omc_err omc_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len,
		       omc_b64_variant v)
{
	OMC_ENSURE(out_len != NULL && (in != NULL || in_len == 0), OMC_ERR_BAD_ARG);
	size_t n = in_len;
	if (v == OMC_B64_STD) {
		OMC_ENSURE(n % 4 == 0, OMC_ERR_BAD_BASE64);
		if (n >= 1 && in[n - 1] == '=')
			n--;
		if (n >= 1 && in[n - 1] == '=')
			n--;
	}
	OMC_ENSURE(n % 4 != 1, OMC_ERR_BAD_BASE64);
	size_t need = (n / 4) * 3 + ((n % 4) ? (n % 4) - 1 : 0);
	OMC_ENSURE(need <= out_cap, OMC_ERR_NO_SPACE);
	OMC_ENSURE(out != NULL || need == 0, OMC_ERR_BAD_ARG);

	b64_alpha a = alphabet(v);
	int bad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0, i = 0;
	/* Whole groups of 4 characters to 3 bytes, then the rest one character
	 * at a time: the same masks either way. */
	for (; i + 4 <= n; i += 4) {
		int d0 = b64_value((unsigned char)in[i], a), d1 = b64_value((unsigned char)in[i + 1], a);
		int d2 = b64_value((unsigned char)in[i + 2], a), d3 = b64_value((unsigned char)in[i + 3], a);
		bad |= d0 | d1 | d2 | d3;
		uint32_t w = (((unsigned)d0 & 63u) << 18) | (((unsigned)d1 & 63u) << 12) |
			     (((unsigned)d2 & 63u) << 6) | ((unsigned)d3 & 63u);
		out[o] = (uint8_t)(w >> 16);
		out[o + 1] = (uint8_t)(w >> 8);
		out[o + 2] = (uint8_t)w;
		o += 3;
	}
	for (; i < n; i++) {
		int d = b64_value((unsigned char)in[i], a);
		bad |= d; /* negative (all high bits) for a bad character */
		acc = (acc << 6) | ((unsigned)d & 63u);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* The leftover bits of the last group must be zero (canonical form). */
	if (bits)
		bad |= -(int)((acc & ((1u << bits) - 1u)) != 0);
	if (bad < 0) {
		omc_memzero(out, o);
		OMC_BAIL(OMC_ERR_BAD_BASE64);
	}
	*out_len = o;
	return OMC_OK;
}
