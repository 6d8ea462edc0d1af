/* Randomness from OpenSSL's DRBG. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#ifdef OMC_TEST_HOOKS
bool omc_test_canary(uint8_t *out, size_t n, const char *name)
{
	char var[64];
	if (snprintf(var, sizeof var, "OMC_TEST_CANARY_%s", name) >= (int)sizeof var)
		return false;
	const char *h = getenv(var);
	uint8_t b[64];
	if (!h || n > sizeof b || strlen(h) < 2 * n || omc_hex_decode(b, n, h, 2 * n) != OMC_OK)
		return false;
	memcpy(out, b, n);
	omc_memzero(b, sizeof b);
	return true;
}
#endif
