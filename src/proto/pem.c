/* PEM blocks in, PEM text out, through OpenSSL memory BIOs. */
#include <limits.h>
#include <string.h>

#include <openssl/pem.h>

#include "proto/proto_internal.h"

void omc_pem_block_release(omc_pem_block *b)
{
	/* PEM_FLAG_SECURE: the three came from OPENSSL_secure_malloc. */
	OPENSSL_secure_free(b->name);
	OPENSSL_secure_free(b->header);
	if (b->data)
		OPENSSL_secure_clear_free(b->data, (size_t)b->len);
	b->name = NULL;
	b->header = NULL;
	b->data = NULL;
	b->len = 0;
}

omc_err omc_pem_read(omc_pem_block *b, const char *pem, size_t len, size_t max)
{
	OMC_ENSURE(b != NULL && pem != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= max && len <= INT_MAX, OMC_ERR_TOO_LARGE);
	OMC_AUTO(BIO) bio = BIO_new_mem_buf(pem, (int)len);
	OMC_OSSL_ENSURE(bio != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(PEM_read_bio_ex(bio, &b->name, &b->header, &b->data, &b->len,
					PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) == 1,
			OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(b->len > 0, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

omc_err omc_bio_to_str(char **out, size_t *len, BIO *bio)
{
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	OMC_OSSL_ENSURE(n > 0 && p != NULL, OMC_ERR_CRYPTO);
	char *s = omc_alloc((size_t)n + 1);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	*out = s;
	*len = (size_t)n;
	return OMC_OK;
}
