/* 128-EEA2 (TS 33.401 Annex B.1.3): AES-128 in CTR mode (NIST SP
 * 800-38A), through OpenSSL's aes-128-ctr. */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "link/link_internal.h"

static omc_err ctr_with(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *key, const uint8_t iv[16],
			const uint8_t *in, size_t n)
{
	int len = 0;
	OMC_ENSURE(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(EVP_EncryptUpdate(c, out, &len, in, (int)n) == 1 && len >= 0 && (size_t)len == n, OMC_ERR_CRYPTO);
	uint8_t fin[16];
	OMC_ENSURE(EVP_EncryptFinal_ex(c, fin, &len) == 1 && len == 0, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_link_eea2(uint8_t *out, const uint8_t key[OMC_LINK_KEY_LEN], uint32_t count, uint8_t bearer,
		      uint8_t direction, const uint8_t *in, size_t bits)
{
	OMC_ENSURE(bearer <= 31 && direction <= 1, OMC_ERR_BAD_ARG);
	size_t n = bits / 8 + (bits % 8 != 0);
	OMC_ENSURE(n <= INT_MAX, OMC_ERR_TOO_LARGE);
	if (n == 0)
		return OMC_OK;
	OMC_ENSURE(out != NULL && in != NULL, OMC_ERR_BAD_ARG);
	/* B.1.3: T1 = COUNT || BEARER || DIRECTION || 0^26 || 0^64; then
	 * Ti = Ti-1 + 1 on the 64 least significant bits. OpenSSL increments
	 * all 128 bits, which is the same here: from 0, the low 64 bits would
	 * wrap only after 2^64 blocks. */
	uint8_t iv[16] = {0};
	omc_link_iv64(iv, count, bearer, direction);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	omc_err e = ctr_with(c, out, key, iv, in, n);
	EVP_CIPHER_CTX_free(c);
	if (e != OMC_OK) {
		omc_memzero(out, n);
		return e;
	}
	/* B.1.3: the output is `bits` long; the bits after it are zero. */
	if (bits % 8)
		out[n - 1] &= (uint8_t)(0xffu << (8 - bits % 8));
	return OMC_OK;
}
