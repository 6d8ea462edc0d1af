/* Hex, constant-time in the byte values (keys pass through here). */
#include "util/util_internal.h"

static char hex_nibble(unsigned n)
{
	int v = (int)n;
	/* v > 9 makes (9 - v) negative and the mask all ones: +39 to reach 'a'. */
	return (char)(v + '0' + (((9 - v) >> 8) & ('a' - '0' - 10)));
}

/* Value 0..15 of c, with *bad |= 1 when c is not a hex digit. */
static unsigned hex_value(unsigned char ch, unsigned *bad)
{
	int c = ch;
	int digit = ((('0' - 1) - c) & (c - ('9' + 1))) >> 8;
	int lc = c | 0x20;
	int alpha = ((('a' - 1) - lc) & (lc - ('f' + 1))) >> 8;
	int v = ((c - '0') & digit) | ((lc - 'a' + 10) & alpha);
	*bad |= (unsigned)(~(digit | alpha)) & 1u;
	return (unsigned)v & 0xfu;
}

omc_err omc_hex_decode(uint8_t *out, size_t out_len, const char *hex, size_t hex_len)
{
	OMC_ENSURE(out != NULL || out_len == 0, OMC_ERR_BAD_ARG);
	OMC_ENSURE(hex != NULL || hex_len == 0, OMC_ERR_BAD_ARG);
	OMC_ENSURE(out_len <= SIZE_MAX / 2 && hex_len == 2 * out_len, OMC_ERR_BAD_LENGTH);
	unsigned bad = 0;
	for (size_t i = 0; i < out_len; i++) {
		unsigned hi = hex_value((unsigned char)hex[2 * i], &bad);
		unsigned lo = hex_value((unsigned char)hex[2 * i + 1], &bad);
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	if (bad) {
		omc_memzero(out, out_len);
		OMC_BAIL(OMC_ERR_BAD_HEX);
	}
	return OMC_OK;
}

omc_err omc_hex_decode_var(uint8_t *out, size_t out_cap, size_t *out_len, const char *hex, size_t hex_len)
{
	OMC_ENSURE(out_len != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(hex_len % 2 == 0, OMC_ERR_BAD_LENGTH);
	OMC_ENSURE(hex_len / 2 <= out_cap, OMC_ERR_NO_SPACE);
	OMC_TRY(omc_hex_decode(out, hex_len / 2, hex, hex_len));
	*out_len = hex_len / 2;
	return OMC_OK;
}

omc_err omc_hex_encode(char *out, size_t out_cap, const uint8_t *in, size_t in_len)
{
	OMC_ENSURE(out != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(in != NULL || in_len == 0, OMC_ERR_BAD_ARG);
	OMC_ENSURE(in_len < SIZE_MAX / 2 && out_cap >= 2 * in_len + 1, OMC_ERR_NO_SPACE);
	for (size_t i = 0; i < in_len; i++) {
		out[2 * i] = hex_nibble((unsigned)in[i] >> 4);
		out[2 * i + 1] = hex_nibble((unsigned)in[i] & 0xfu);
	}
	out[2 * in_len] = '\0';
	return OMC_OK;
}
