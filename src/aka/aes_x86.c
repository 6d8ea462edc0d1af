/* Run-time CPU detection for the x86 batch kernels, from CPUID and XCR0
 * (the OS must save the vector state the kernels use). */
#include "aka/aka_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xcr0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

bool omc_aka_x86_has_aesni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & bit_AES) && (c & bit_SSSE3);
}

bool omc_aka_x86_has_vaes(void)
{
	unsigned a, b, c, d;
	if (!omc_aka_x86_has_aesni() || !__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	/* XMM, YMM, opmask, ZMM0-15 upper halves and ZMM16-31 (XCR0 bits 1, 2, 5, 6, 7). */
	if ((xcr0() & 0xe6u) != 0xe6u)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & bit_AVX512F) && (b & bit_AVX512BW) && (c & bit_VAES);
}

bool omc_aka_x86_has_vaes256(void)
{
	unsigned a, b, c, d;
	if (!omc_aka_x86_has_aesni() || !__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return false;
	/* XMM and YMM state (XCR0 bits 1 and 2). */
	if ((xcr0() & 0x6u) != 0x6u)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & bit_AVX2) && (c & bit_VAES);
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

bool omc_aka_x86_has_vaes256(void)
{
	return false;
}
#endif
