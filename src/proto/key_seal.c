/* A P-256 private key sealed under a 32-byte key-encryption key, for keys
 * that a random key already protects (the TRE's provisioning-session key
 * under its keys key): AES-256-GCM, no password-based key derivation.
 *
 *   "OMCK" | version 1 | nonce(12) | AES-256-GCM(d(32) || Q(65)) | tag(16)
 *
 * with AAD = the first five bytes; Q is the uncompressed public point. On
 * opening, the scalar must be in range and match Q (EVP_PKEY_check). The
 * plaintext lives only in wiped locals. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "proto/proto_internal.h"

#define SEAL_MAGIC "OMCK\x01"
#define SEAL_HDR 5
#define SEAL_NONCE 12
#define SEAL_PT (OMC_P256_LEN + 1 + 2 * OMC_P256_LEN)
#define SEAL_TAG 16

OMC_AUTO_DEFINE(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
OMC_AUTO_DEFINE(OSSL_PARAM, OSSL_PARAM_free)

omc_err omc_key_seal(uint8_t **out, size_t *out_len, const omc_key *k, const uint8_t kek[32])
{
	OMC_ENSURE(out && out_len && k && kek && omc_key_has_private(k), OMC_ERR_BAD_ARG);
	*out = NULL;
	uint8_t pt[SEAL_PT];
	OMC_DEFER_WIPE(pt);
	OMC_TRY(omc_proto_key_scalar(pt, k));
	pt[OMC_P256_LEN] = 0x04;
	OMC_TRY(omc_proto_key_xy(pt + OMC_P256_LEN + 1, pt + 2 * OMC_P256_LEN + 1, k));
	size_t n = SEAL_HDR + SEAL_NONCE + SEAL_PT + SEAL_TAG;
	uint8_t *b = omc_alloc(n);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	memcpy(b, SEAL_MAGIC, SEAL_HDR);
	omc_err e = omc_rand_bytes(b + SEAL_HDR, SEAL_NONCE);
	if (e == OMC_OK)
		e = omc_aead_seal(b + SEAL_HDR + SEAL_NONCE, b + n - SEAL_TAG, kek, b + SEAL_HDR, b, SEAL_HDR, pt, SEAL_PT);
	if (e != OMC_OK) {
		omc_free(b);
		return e;
	}
	*out = b;
	*out_len = n;
	return OMC_OK;
}

omc_err omc_key_unseal(omc_key **k, const uint8_t *in, size_t len, const uint8_t kek[32])
{
	OMC_ENSURE(k && in && kek, OMC_ERR_BAD_ARG);
	*k = NULL;
	OMC_ENSURE(len == SEAL_HDR + SEAL_NONCE + SEAL_PT + SEAL_TAG && !memcmp(in, SEAL_MAGIC, SEAL_HDR),
		   OMC_ERR_BAD_FORMAT);
	uint8_t pt[SEAL_PT];
	OMC_DEFER_WIPE(pt);
	omc_err e = omc_aead_open(pt, kek, in + SEAL_HDR, in, SEAL_HDR, in + SEAL_HDR + SEAL_NONCE, SEAL_PT,
				  in + len - SEAL_TAG);
	OMC_ENSURE(e != OMC_ERR_MAC_FAILURE, OMC_ERR_AUTH_FAILED);
	OMC_TRY(e);
	OMC_ENSURE(pt[OMC_P256_LEN] == 0x04, OMC_ERR_BAD_FORMAT);

	OMC_AUTO(BIGNUM) d = BN_secure_new();
	OMC_OSSL_ENSURE(d != NULL && BN_bin2bn(pt, OMC_P256_LEN, d) != NULL, OMC_ERR_NOMEM);
	OMC_AUTO(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
	OMC_OSSL_ENSURE(bld != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, P256_GROUP, 0) == 1 &&
				OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
				OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt + OMC_P256_LEN,
								 1 + 2 * OMC_P256_LEN) == 1,
			OMC_ERR_NOMEM);
	OMC_AUTO(OSSL_PARAM) params = OSSL_PARAM_BLD_to_param(bld);
	OMC_OSSL_ENSURE(params != NULL, OMC_ERR_NOMEM);
	OMC_AUTO(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_fromdata_init(ctx) == 1, OMC_ERR_CRYPTO);
	OMC_AUTO(EVP_PKEY) pk = NULL;
	OMC_OSSL_ENSURE(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) == 1, OMC_ERR_BAD_FORMAT);
	/* The scalar in range and matching the point (omc_proto_key_wrap). */
	return omc_proto_key_wrap(k, &pk, true);
}
