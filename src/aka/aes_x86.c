/* Run-time CPU detection for the x86 batch kernels. */
#include "aka/aka_internal.h"

#if defined(__x86_64__) || defined(__i386__)
bool omc_aka_x86_has_aesni(void)
{
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("ssse3");
}

bool omc_aka_x86_has_vaes(void)
{
	/* libgcc checks that the OS saves the AVX-512 state (XCR0) too. */
	return omc_aka_x86_has_aesni() && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw");
}
#else
bool omc_aka_x86_has_aesni(void)
{
	return false;
}

bool omc_aka_x86_has_vaes(void)
{
	return false;
}
#endif
