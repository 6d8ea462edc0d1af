/* The store's primitives, from OpenSSL 3: HKDF-SHA-256 (RFC 5869) through
 * EVP_KDF, AES-256-GCM (NIST SP 800-38D, 96-bit IV, 128-bit tag: the one in
 * src/util/aead.c), SHA-256 and HMAC-SHA-256. Every OpenSSL context is freed (and
 * so cleansed) on every path; local copies of keys are wiped. */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "store/store_internal.h"

static omc_err hkdf_with(EVP_KDF_CTX *kctx, uint8_t *out, size_t out_len, uint8_t *ikm, size_t ikm_len,
			 uint8_t *info, size_t info_len)
{
	static char digest[] = "SHA256";
	/* RFC 5869 2.2: an absent salt is HashLen zero bytes, which HMAC treats
	 * exactly as an empty one. */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm, ikm_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len),
		OSSL_PARAM_construct_end(),
	};
	OMC_ENSURE(EVP_KDF_derive(kctx, out, out_len, params) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_st_hkdf(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
		    size_t info_len)
{
	/* OSSL_PARAM wants mutable pointers: work on wiped local copies. */
	uint8_t k[64];
	uint8_t inf[64];
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(inf);
	OMC_ENSURE(ikm_len > 0 && ikm_len <= sizeof k && info_len <= sizeof inf, OMC_ERR_BAD_ARG);
	OMC_ENSURE(out_len > 0 && out_len <= 255 * 32, OMC_ERR_BAD_ARG);
	memcpy(k, ikm, ikm_len);
	if (info_len)
		memcpy(inf, info, info_len);

	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	OMC_ENSURE(kdf != NULL, OMC_ERR_CRYPTO);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	OMC_ENSURE(kctx != NULL, OMC_ERR_NOMEM);
	omc_err e = hkdf_with(kctx, out, out_len, k, ikm_len, inf, info_len);
	EVP_KDF_CTX_free(kctx);
	if (e != OMC_OK)
		omc_memzero(out, out_len);
	return e;
}

omc_err omc_st_derive(uint8_t out[OMC_ST_KEY_LEN], const uint8_t root_key[OMC_ST_KEY_LEN], const char *info)
{
	return omc_st_hkdf(out, OMC_ST_KEY_LEN, root_key, OMC_ST_KEY_LEN, (const uint8_t *)info, strlen(info));
}

omc_err omc_st_gcm_seal(uint8_t *ct, uint8_t tag[OMC_ST_TAG_LEN], const uint8_t key[OMC_ST_KEY_LEN],
			const uint8_t nonce[OMC_ST_NONCE_LEN], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
			size_t len)
{
	return omc_aead_seal(ct, tag, key, nonce, aad, aad_len, pt, len);
}

omc_err omc_st_gcm_open(uint8_t *pt, const uint8_t key[OMC_ST_KEY_LEN], const uint8_t nonce[OMC_ST_NONCE_LEN],
			const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
			const uint8_t tag[OMC_ST_TAG_LEN])
{
	return omc_aead_open(pt, key, nonce, aad, aad_len, ct, len, tag);
}

omc_err omc_st_sha256(uint8_t out[OMC_ST_DIGEST_LEN], const uint8_t *data, size_t len)
{
	unsigned n = 0;
	OMC_ENSURE(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == OMC_ST_DIGEST_LEN,
		   OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_st_hmac_sha256(uint8_t out[OMC_ST_DIGEST_LEN], const uint8_t key[OMC_ST_KEY_LEN], const uint8_t *data,
			   size_t len)
{
	unsigned n = 0;
	OMC_ENSURE(HMAC(EVP_sha256(), key, OMC_ST_KEY_LEN, data, len, out, &n) != NULL && n == OMC_ST_DIGEST_LEN,
		   OMC_ERR_CRYPTO);
	return OMC_OK;
}
