/* openmcim: bytes, encodings, secret hygiene, memory, randomness. */
#ifndef OPENMCIM_UTIL_H
#define OPENMCIM_UTIL_H

#include <stdbool.h>

#include "openmcim/common.h"
#include "openmcim/err.h"

/* A borrowed (or, where a function says so, owned) slice. */
typedef struct omc_buf {
	uint8_t *ptr;
	size_t len;
} omc_buf;

/* --- secret hygiene ---------------------------------------------------------
 * The one wipe and the one constant-time compare of the project. */

/* Zero n bytes in a way the compiler may not elide. p may be NULL if n == 0. */
OMC_API void omc_memzero(void *p, size_t n);
/* 1 if the n bytes at a and b are equal, else 0; time depends on n only. */
OMC_API OMC_MUST_USE int omc_ct_eq(const void *a, const void *b, size_t n);
/* 1 if all n bytes are zero, else 0; time depends on n only. */
OMC_API OMC_MUST_USE int omc_ct_is_zero(const void *p, size_t n);

/* --- hex ---------------------------------------------------------------------
 * Constant-time in the values of the bytes (safe for keys). Decoding accepts
 * either case; encoding writes lowercase and a terminating NUL. */

/* out gets exactly out_len bytes from exactly 2*out_len hex digits in hex
 * (hex_len must equal 2*out_len, else OMC_ERR_BAD_LENGTH; a non-hex character
 * is OMC_ERR_BAD_HEX). On BAD_LENGTH out is untouched; on BAD_HEX it is
 * zeroed (the digits are decoded in constant time, then judged). */
OMC_API OMC_MUST_USE omc_err omc_hex_decode(uint8_t *out, size_t out_len, const char *hex, size_t hex_len);
/* Decodes into out (capacity out_cap, else OMC_ERR_NO_SPACE); *out_len gets
 * the byte count. */
OMC_API OMC_MUST_USE omc_err omc_hex_decode_var(uint8_t *out, size_t out_cap, size_t *out_len, const char *hex,
						 size_t hex_len);
/* out must have room for 2*in_len+1 characters (out_cap), else OMC_ERR_NO_SPACE. */
OMC_API OMC_MUST_USE omc_err omc_hex_encode(char *out, size_t out_cap, const uint8_t *in, size_t in_len);

/* --- base64 (RFC 4648) -------------------------------------------------------
 * OMC_B64_STD: standard alphabet with '=' padding (required on decode).
 * OMC_B64_URL: URL-safe alphabet without padding (JOSE, RFC 7515 section 2). */
typedef enum omc_b64_variant { OMC_B64_STD = 0, OMC_B64_URL = 1 } omc_b64_variant;

/* Characters needed to encode n bytes, without the NUL. */
OMC_API size_t omc_b64_encoded_len(size_t n, omc_b64_variant v);
/* Writes the encoding and a NUL; out_cap counts the NUL. */
OMC_API OMC_MUST_USE omc_err omc_b64_encode(char *out, size_t out_cap, const uint8_t *in, size_t in_len,
					     omc_b64_variant v);
/* Strict: no whitespace, no stray padding, unused bits must be zero. */
OMC_API OMC_MUST_USE omc_err omc_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in,
					     size_t in_len, omc_b64_variant v);

/* --- memory -------------------------------------------------------------------
 * Every heap allocation of the project goes through these. omc_free wipes the
 * block before releasing it. omc_free(NULL) is a no-op. */
OMC_API OMC_MUST_USE void *omc_alloc(size_t n);
OMC_API OMC_MUST_USE void *omc_calloc(size_t count, size_t size);
/* Like realloc(), but the old block is wiped: the bytes always move to a new
 * block and the old one is freed through omc_free. On failure NULL is
 * returned and p is left as it was; n == 0 frees p and returns NULL. */
OMC_API OMC_MUST_USE void *omc_realloc(void *p, size_t n);
OMC_API void omc_free(void *p);

/* --- randomness ---------------------------------------------------------------
 * From the OpenSSL DRBG, seeded by the kernel. */
OMC_API OMC_MUST_USE omc_err omc_rand_bytes(uint8_t *out, size_t n);

/* --- big-endian integers ------------------------------------------------------ */
static inline uint64_t omc_load_be48(const uint8_t p[6])
{
	return ((uint64_t)p[0] << 40) | ((uint64_t)p[1] << 32) | ((uint64_t)p[2] << 24) | ((uint64_t)p[3] << 16) |
	       ((uint64_t)p[4] << 8) | (uint64_t)p[5];
}

static inline void omc_store_be48(uint8_t p[6], uint64_t v)
{
	for (int i = 5; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t omc_load_be64(const uint8_t p[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void omc_store_be64(uint8_t p[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

#endif
