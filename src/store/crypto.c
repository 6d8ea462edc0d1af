/* The store's primitives, from OpenSSL 3: HKDF-SHA-256 (RFC 5869) through
 * EVP_KDF, AES-256-GCM (NIST SP 800-38D, 96-bit IV, 128-bit tag) through
 * EVP_CIPHER, SHA-256 and HMAC-SHA-256. Every OpenSSL context is freed (and
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

static omc_err seal_with(EVP_CIPHER_CTX *c, uint8_t *ct, uint8_t tag[OMC_ST_TAG_LEN], const uint8_t *key,
			 const uint8_t *nonce, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len)
{
	int n = 0;
	uint8_t fin[16];
	OMC_ENSURE(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OMC_ST_NONCE_LEN, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1, OMC_ERR_CRYPTO);
	if (aad_len)
		OMC_ENSURE(EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, OMC_ERR_CRYPTO);
	if (len) {
		OMC_ENSURE(EVP_EncryptUpdate(c, ct, &n, pt, (int)len) == 1, OMC_ERR_CRYPTO);
		OMC_ENSURE(n >= 0 && (size_t)n == len, OMC_ERR_CRYPTO);
	}
	OMC_ENSURE(EVP_EncryptFinal_ex(c, fin, &n) == 1 && n == 0, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OMC_ST_TAG_LEN, tag) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_st_gcm_seal(uint8_t *ct, uint8_t tag[OMC_ST_TAG_LEN], const uint8_t key[OMC_ST_KEY_LEN],
			const uint8_t nonce[OMC_ST_NONCE_LEN], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
			size_t len)
{
	OMC_ENSURE(len <= INT_MAX && aad_len <= INT_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE((ct != NULL && pt != NULL) || len == 0, OMC_ERR_BAD_ARG);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	omc_err e = seal_with(c, ct, tag, key, nonce, aad, aad_len, pt, len);
	EVP_CIPHER_CTX_free(c);
	return e;
}

static omc_err open_with(EVP_CIPHER_CTX *c, uint8_t *pt, const uint8_t *key, const uint8_t *nonce,
			 const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
			 const uint8_t tag[OMC_ST_TAG_LEN])
{
	int n = 0;
	uint8_t fin[16];
	uint8_t t[OMC_ST_TAG_LEN];
	memcpy(t, tag, sizeof t); /* the ctrl takes a mutable pointer */
	OMC_ENSURE(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OMC_ST_NONCE_LEN, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1, OMC_ERR_CRYPTO);
	if (aad_len)
		OMC_ENSURE(EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, OMC_ERR_CRYPTO);
	if (len) {
		OMC_ENSURE(EVP_DecryptUpdate(c, pt, &n, ct, (int)len) == 1, OMC_ERR_CRYPTO);
		OMC_ENSURE(n >= 0 && (size_t)n == len, OMC_ERR_CRYPTO);
	}
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OMC_ST_TAG_LEN, t) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_DecryptFinal_ex(c, fin, &n) == 1, OMC_ERR_MAC_FAILURE);
	return OMC_OK;
}

omc_err omc_st_gcm_open(uint8_t *pt, const uint8_t key[OMC_ST_KEY_LEN], const uint8_t nonce[OMC_ST_NONCE_LEN],
			const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
			const uint8_t tag[OMC_ST_TAG_LEN])
{
	OMC_ENSURE(len <= INT_MAX && aad_len <= INT_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE((ct != NULL && pt != NULL) || len == 0, OMC_ERR_BAD_ARG);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	omc_err e = open_with(c, pt, key, nonce, aad, aad_len, ct, len, tag);
	EVP_CIPHER_CTX_free(c);
	/* Nothing is released before it is verified. */
	if (e != OMC_OK && len)
		omc_memzero(pt, len);
	return e;
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
