/* The JOSE compact serialisation (RFC 7515 7.1, RFC 7516 7.1): segments of
 * base64url (RFC 4648 5, no padding, RFC 7515 2) separated by '.'.
 *
 * Decoding is strict: a character outside the alphabet, padding, or unused
 * low bits that are not zero are all refused, so each segment has exactly
 * one accepted spelling and a changed character always changes the bytes. */
#include <string.h>

#include "proto/proto_internal.h"

/* What each byte is in a compact serialisation: one table lookup per byte
 * instead of five range tests (JOSE objects are public bytes: ciphertext,
 * signed payloads, headers). */
enum { SEG_BAD = 0, SEG_B64, SEG_DOT };
#define B64URL_RANGE(lo, hi) [lo... hi] = SEG_B64
static const uint8_t seg_class[256] = {
	B64URL_RANGE('A', 'Z'), B64URL_RANGE('a', 'z'), B64URL_RANGE('0', '9'), ['-'] = SEG_B64, ['_'] = SEG_B64,
	['.'] = SEG_DOT,
};
#undef B64URL_RANGE

bool omc_jose_typ_ok(const char *typ)
{
	size_t n = strnlen(typ, 64);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (typ[i] < 0x21 || typ[i] > 0x7e)
			return false;
	return true;
}

omc_err omc_jose_split(omc_jose_seg *seg, size_t n, const char *compact, size_t clen)
{
	OMC_ENSURE(seg != NULL && n > 0 && n <= 8, OMC_ERR_BAD_ARG);
	OMC_ENSURE(compact != NULL, OMC_ERR_BAD_ARG);
	/* Refused before a byte is looked at. */
	OMC_ENSURE(clen <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	size_t lens[8] = {0};
	size_t k = 0;
	size_t start = 0;
	for (size_t i = 0; i < clen; i++) {
		uint8_t cls = seg_class[(unsigned char)compact[i]];
		if (cls == SEG_B64)
			continue;
		OMC_ENSURE(cls == SEG_DOT && k + 1 < n, OMC_ERR_BAD_FORMAT);
		lens[k++] = i - start;
		start = i + 1;
	}
	lens[k] = clen - start;
	OMC_ENSURE(k + 1 == n, OMC_ERR_BAD_FORMAT);
	omc_cur c;
	omc_cur_init_read(&c, (const uint8_t *)compact, clen);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = NULL;
		OMC_TRY(omc_cur_read_ptr(&c, &p, lens[i]));
		seg[i].s = (const char *)p;
		seg[i].len = lens[i];
		if (i + 1 < n)
			OMC_TRY(omc_cur_skip(&c, 1));
	}
	OMC_TRY(omc_cur_expect_end(&c));
	return OMC_OK;
}

omc_err omc_jose_b64url_decode(uint8_t **out, size_t *len, const char *s, size_t slen)
{
	OMC_ENSURE(out != NULL && len != NULL && (s != NULL || slen == 0), OMC_ERR_BAD_ARG);
	*out = NULL;
	*len = 0;
	OMC_ENSURE(slen <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	size_t cap = slen / 4 * 3 + 3;
	uint8_t *buf = omc_alloc(cap + 1);
	OMC_ENSURE(buf != NULL, OMC_ERR_NOMEM);
	size_t n = 0;
	if (omc_b64_decode(buf, cap, &n, s, slen, OMC_B64_URL) != OMC_OK) {
		omc_free(buf);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return OMC_OK;
}

omc_err omc_jose_b64url_fixed(uint8_t *out, size_t n, const char *s, size_t slen)
{
	OMC_ENSURE(out != NULL && s != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(slen == omc_b64_encoded_len(n, OMC_B64_URL), OMC_ERR_BAD_FORMAT);
	size_t got = 0;
	OMC_ENSURE(omc_b64_decode(out, n, &got, s, slen, OMC_B64_URL) == OMC_OK && got == n, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

omc_err omc_jose_b64url_encode(char **out, size_t *out_len, const uint8_t *in, size_t len)
{
	OMC_ENSURE(out != NULL && out_len != NULL && (in != NULL || len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	size_t n = omc_b64_encoded_len(len, OMC_B64_URL);
	char *s = omc_alloc(n + 1);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	omc_err e = omc_b64_encode(s, n + 1, in, len, OMC_B64_URL);
	if (e != OMC_OK) {
		omc_free(s);
		return e;
	}
	*out = s;
	*out_len = n;
	return OMC_OK;
}

omc_err omc_jose_header_parse(json_t **hdr, const omc_jose_seg *seg, size_t max)
{
	OMC_ENSURE(hdr != NULL && seg != NULL, OMC_ERR_BAD_ARG);
	*hdr = NULL;
	OMC_ENSURE(seg->len <= max, OMC_ERR_TOO_LARGE);
	OMC_AUTO(omc_heap) raw = NULL;
	size_t n = 0;
	OMC_TRY(omc_jose_b64url_decode(&raw, &n, seg->s, seg->len));
	/* Duplicate members are refused (RFC 7515 4: "MUST reject or use a
	 * lexically last"; rejecting leaves no room for two readings). jansson
	 * refuses \u0000 in strings and anything after the object. */
	json_error_t jerr;
	json_t *j = omc_json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
	OMC_ENSURE(j != NULL, OMC_ERR_BAD_FORMAT);
	if (!json_is_object(j)) {
		json_decref(j);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	*hdr = j;
	return OMC_OK;
}

omc_err omc_jose_header_str(const char **out, const json_t *hdr, const char *name, size_t max)
{
	*out = NULL;
	const json_t *v = json_object_get(hdr, name);
	if (v == NULL)
		return OMC_OK;
	OMC_ENSURE(json_is_string(v), OMC_ERR_BAD_FORMAT);
	size_t n = json_string_length(v);
	OMC_ENSURE(n <= max, OMC_ERR_BAD_FORMAT);
	const char *s = json_string_value(v);
	for (size_t i = 0; i < n; i++)
		OMC_ENSURE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, OMC_ERR_BAD_FORMAT);
	*out = s;
	return OMC_OK;
}
