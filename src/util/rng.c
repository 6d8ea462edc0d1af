/* Randomness from OpenSSL's DRBG. */
#include <limits.h>

#include <openssl/rand.h>

#include "util/util_internal.h"

omc_err omc_rand_bytes(uint8_t *out, size_t n)
{
	OMC_ENSURE(out != NULL || n == 0, OMC_ERR_BAD_ARG);
	while (n) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		OMC_ENSURE(RAND_bytes(out, chunk) == 1, OMC_ERR_CRYPTO);
		out += chunk;
		n -= (size_t)chunk;
	}
	return OMC_OK;
}
