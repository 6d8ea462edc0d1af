/* AES-256-GCM (NIST SP 800-38D: 96-bit nonce, 128-bit tag) through OpenSSL
 * 3, for every module that seals something: the store's records, the TRE's
 * sealed files, sealed keys, the AuC's subscriber secrets. One place, so
 * that there is one way to get it right: the context is freed (and so
 * cleansed) on every path, and nothing is released before the tag checks
 * (a failed open wipes what it wrote). */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/util_internal.h"

static omc_err seal_with(EVP_CIPHER_CTX *c, uint8_t *ct, uint8_t tag[OMC_AEAD_TAG_LEN], const uint8_t *key,
			 const uint8_t *nonce, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t len)
{
	int n = 0;
	uint8_t fin[16];
	OMC_ENSURE(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OMC_AEAD_NONCE_LEN, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1, OMC_ERR_CRYPTO);
	if (aad_len)
		OMC_ENSURE(EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, OMC_ERR_CRYPTO);
	if (len) {
		OMC_ENSURE(EVP_EncryptUpdate(c, ct, &n, pt, (int)len) == 1, OMC_ERR_CRYPTO);
		OMC_ENSURE(n >= 0 && (size_t)n == len, OMC_ERR_CRYPTO);
	}
	OMC_ENSURE(EVP_EncryptFinal_ex(c, fin, &n) == 1 && n == 0, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OMC_AEAD_TAG_LEN, tag) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_aead_seal(uint8_t *ct, uint8_t tag[OMC_AEAD_TAG_LEN], const uint8_t key[OMC_AEAD_KEY_LEN],
			const uint8_t nonce[OMC_AEAD_NONCE_LEN], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
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
			 const uint8_t tag[OMC_AEAD_TAG_LEN])
{
	int n = 0;
	uint8_t fin[16];
	uint8_t t[OMC_AEAD_TAG_LEN];
	memcpy(t, tag, sizeof t); /* the ctrl takes a mutable pointer */
	OMC_ENSURE(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OMC_AEAD_NONCE_LEN, NULL) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1, OMC_ERR_CRYPTO);
	if (aad_len)
		OMC_ENSURE(EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1, OMC_ERR_CRYPTO);
	if (len) {
		OMC_ENSURE(EVP_DecryptUpdate(c, pt, &n, ct, (int)len) == 1, OMC_ERR_CRYPTO);
		OMC_ENSURE(n >= 0 && (size_t)n == len, OMC_ERR_CRYPTO);
	}
	OMC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OMC_AEAD_TAG_LEN, t) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_DecryptFinal_ex(c, fin, &n) == 1, OMC_ERR_MAC_FAILURE);
	return OMC_OK;
}

omc_err omc_aead_open(uint8_t *pt, const uint8_t key[OMC_AEAD_KEY_LEN], const uint8_t nonce[OMC_AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
			const uint8_t tag[OMC_AEAD_TAG_LEN])
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

