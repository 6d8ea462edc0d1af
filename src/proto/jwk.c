/* Public keys as JWK (RFC 7517, RFC 7518 6.2) and their thumbprint
 * (RFC 7638). Only {"kty":"EC","crv":"P-256"} with a point on the curve is
 * read; a JWK carrying a private scalar ("d") is refused (OMC_ERR_DENIED):
 * private keys never travel as JWK. */
#include <stdio.h>
#include <string.h>

#include "proto/proto_internal.h"

#define COORD_B64_LEN 43 /* base64url of 32 bytes */

/* The RFC 7638 3.2 member order, which is also what omc_key_to_jwk writes
 * after kty: lexicographic, no whitespace. */
#define JWK_CANONICAL "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}"

static omc_err coords_b64(char x64[COORD_B64_LEN + 1], char y64[COORD_B64_LEN + 1], const omc_key *k)
{
	uint8_t x[OMC_P256_LEN], y[OMC_P256_LEN];
	OMC_TRY(omc_proto_key_xy(x, y, k));
	OMC_TRY(omc_b64_encode(x64, COORD_B64_LEN + 1, x, sizeof x, OMC_B64_URL));
	OMC_TRY(omc_b64_encode(y64, COORD_B64_LEN + 1, y, sizeof y, OMC_B64_URL));
	return OMC_OK;
}

omc_err omc_key_to_jwk(char **json, const omc_key *k)
{
	OMC_ENSURE(json != NULL && k != NULL, OMC_ERR_BAD_ARG);
	*json = NULL;
	omc_proto_init();
	char x64[COORD_B64_LEN + 1], y64[COORD_B64_LEN + 1];
	OMC_TRY(coords_b64(x64, y64, k));
	enum { CAP = 160 };
	char *s = omc_alloc(CAP);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	int n = snprintf(s, CAP, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x64, y64);
	if (n < 0 || n >= CAP) {
		omc_free(s);
		OMC_BAIL(OMC_ERR_BUG);
	}
	*json = s;
	return OMC_OK;
}

static omc_err jwk_coord(uint8_t out[OMC_STATIC_LEN(OMC_P256_LEN)], const json_t *jwk, const char *name)
{
	const char *s = NULL;
	OMC_TRY(omc_jose_header_str(&s, jwk, name, COORD_B64_LEN));
	OMC_ENSURE(s != NULL, OMC_ERR_BAD_FORMAT);
	return omc_jose_b64url_fixed(out, OMC_P256_LEN, s, strlen(s));
}

/* The members of an EC public JWK, shared with the "epk" of a JWE. */
omc_err omc_proto_key_from_jwk_json(omc_key **k, const json_t *jwk)
{
	OMC_ENSURE(json_is_object(jwk), OMC_ERR_BAD_FORMAT);
	const char *kty = NULL, *crv = NULL;
	OMC_TRY(omc_jose_header_str(&kty, jwk, "kty", 8));
	OMC_TRY(omc_jose_header_str(&crv, jwk, "crv", 16));
	OMC_ENSURE(kty != NULL && strcmp(kty, "EC") == 0, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(crv != NULL && strcmp(crv, "P-256") == 0, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(json_object_get(jwk, "d") == NULL, OMC_ERR_DENIED);
	uint8_t x[OMC_P256_LEN], y[OMC_P256_LEN];
	OMC_TRY(jwk_coord(x, jwk, "x"));
	OMC_TRY(jwk_coord(y, jwk, "y"));
	return omc_proto_key_from_xy(k, x, y);
}

omc_err omc_key_from_jwk(omc_key **k, const char *json, size_t len)
{
	OMC_ENSURE(k != NULL && json != NULL, OMC_ERR_BAD_ARG);
	*k = NULL;
	OMC_ENSURE(len <= OMC_JWK_MAX, OMC_ERR_TOO_LARGE);
	omc_proto_init();
	json_error_t jerr;
	OMC_AUTO(json_t) j = omc_json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	OMC_ENSURE(j != NULL, OMC_ERR_BAD_FORMAT);
	return omc_proto_key_from_jwk_json(k, j);
}

omc_err omc_key_thumbprint(uint8_t out[OMC_STATIC_LEN(32)], const omc_key *k)
{
	OMC_ENSURE(out != NULL && k != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();
	char x64[COORD_B64_LEN + 1], y64[COORD_B64_LEN + 1];
	OMC_TRY(coords_b64(x64, y64, k));
	char canon[160];
	int n = snprintf(canon, sizeof canon, JWK_CANONICAL, x64, y64);
	OMC_ENSURE(n > 0 && (size_t)n < sizeof canon, OMC_ERR_BUG);
	unsigned int dlen = 0;
	OMC_OSSL_ENSURE(EVP_Digest(canon, (size_t)n, out, &dlen, EVP_sha256(), NULL) == 1 && dlen == 32,
			OMC_ERR_CRYPTO);
	return OMC_OK;
}
