/* AES-128 through OpenSSL's EVP interface, one context per thread. */
#include <pthread.h>

#include <openssl/evp.h>

#include "aka/aka_internal.h"

static EVP_CIPHER *aes128_ecb;
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;
static pthread_key_t aes_key;

static void aes_ctx_free(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void aes_global_init(void)
{
	/* An explicit fetch once: the implicit fetch of EVP_aes_128_ecb() costs
	 * a lookup at every initialisation in OpenSSL 3. */
	aes128_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	if (pthread_key_create(&aes_key, aes_ctx_free) != 0) {
		EVP_CIPHER_free(aes128_ecb);
		aes128_ecb = NULL;
	}
}

omc_err omc_aes_begin(omc_aes_sess *s, const uint8_t key[16])
{
	s->evp = NULL;
	OMC_ENSURE(pthread_once(&aes_once, aes_global_init) == 0, OMC_ERR_CRYPTO);
	OMC_ENSURE(aes128_ecb != NULL, OMC_ERR_CRYPTO);
	EVP_CIPHER_CTX *ctx = pthread_getspecific(aes_key);
	if (!ctx) {
		ctx = EVP_CIPHER_CTX_new();
		OMC_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
		if (EVP_EncryptInit_ex2(ctx, aes128_ecb, NULL, NULL, NULL) != 1 ||
		    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 || pthread_setspecific(aes_key, ctx) != 0) {
			EVP_CIPHER_CTX_free(ctx);
			OMC_BAIL(OMC_ERR_CRYPTO);
		}
	}
	/* cipher NULL: keep the provider context, only expand the new key. */
	OMC_ENSURE(EVP_EncryptInit_ex2(ctx, NULL, key, NULL, NULL) == 1, OMC_ERR_CRYPTO);
	s->evp = ctx;
	return OMC_OK;
}

omc_err omc_aes_encrypt(omc_aes_sess *s, uint8_t *out, const uint8_t *in, size_t nblocks)
{
	OMC_ENSURE(s->evp != NULL, OMC_ERR_BUG);
	OMC_ENSURE(nblocks <= 1024, OMC_ERR_BAD_ARG);
	int outl = 0;
	OMC_ENSURE(EVP_EncryptUpdate(s->evp, out, &outl, in, (int)(16 * nblocks)) == 1, OMC_ERR_CRYPTO);
	OMC_ENSURE(outl == (int)(16 * nblocks), OMC_ERR_CRYPTO);
	return OMC_OK;
}

void omc_aes_end(omc_aes_sess *s)
{
	static const uint8_t zero_key[16];
	if (s->evp) {
		/* Overwrite the round keys of K in place with those of 0^128. */
		if (EVP_EncryptInit_ex2(s->evp, NULL, zero_key, NULL, NULL) != 1) {
			/* Should not happen; if it does, destroy the context. */
			EVP_CIPHER_CTX_free(s->evp);
			(void)pthread_setspecific(aes_key, NULL);
		}
	}
	s->evp = NULL;
}
