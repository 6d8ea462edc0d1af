/* openmcim link module: internal interfaces. */
#ifndef OMC_LINK_INTERNAL_H
#define OMC_LINK_INTERNAL_H

#include "openmcim/link.h"
#include "util/util_internal.h"

/* TS 33.401 B.1.1 / B.2.1: COUNT[32] || BEARER[5] || DIRECTION[1] || 0^26,
 * the first 64 bits of EEA2's counter block and EIA2's message. */
static inline void omc_link_iv64(uint8_t out[8], uint32_t count, uint8_t bearer, uint8_t direction)
{
	out[0] = (uint8_t)(count >> 24);
	out[1] = (uint8_t)(count >> 16);
	out[2] = (uint8_t)(count >> 8);
	out[3] = (uint8_t)count;
	out[4] = (uint8_t)(((bearer & 0x1fu) << 3) | ((direction & 1u) << 2));
	out[5] = out[6] = out[7] = 0;
}

/* AES-CMAC over a message of any bit length, the first 8 bytes being head
 * (NIST SP 800-38B 6.2, with the 10* padding at the bit after the last):
 * the path of omc_link_eia2 for lengths that are not whole bytes, and the
 * reference the tests hold OpenSSL's EVP_MAC CMAC (the byte path) to. */
OMC_MUST_USE omc_err omc_link_cmac_bits(uint8_t tag[16], const uint8_t key[16], const uint8_t head[8],
					const uint8_t *msg, size_t bits);

#endif
