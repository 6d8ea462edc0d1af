/* The one wipe and the one constant-time compare. */
#include <string.h>

#include "util/util_internal.h"

void omc_memzero(void *p, size_t n)
{
	if (n == 0)
		return;
	/* glibc's explicit_bzero is a memset the optimiser must keep. */
	explicit_bzero(p, n);
}

int omc_ct_eq(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint32_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint32_t)(x[i] ^ y[i]);
	/* d in 0..255: (d - 1) >> 8 is all ones only for d == 0. */
	return (int)(1u & ((d - 1u) >> 8));
}

int omc_ct_is_zero(const void *p, size_t n)
{
	const volatile uint8_t *x = p;
	uint32_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i];
	return (int)(1u & ((d - 1u) >> 8));
}
