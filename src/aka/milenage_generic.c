/* Non-x86 builds: the batch kernels are never selected (the CPU checks
 * answer false), but the symbols must exist. */
#include "aka/aka_internal.h"

void omc_aka_milenage_batch_aesni(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				  const omc_aka_milenage_consts *c)
{
	(void)out, (void)in, (void)n, (void)c;
}

void omc_aka_milenage_batch_vaes(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				 const omc_aka_milenage_consts *c)
{
	(void)out, (void)in, (void)n, (void)c;
}

void omc_aka_x86_aes128_ecb_aesni(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks)
{
	(void)out, (void)key, (void)in, (void)nblocks;
}

void omc_aka_x86_aes128_ecb_vaes(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks)
{
	(void)out, (void)key, (void)in, (void)nblocks;
}

void omc_aka_milenage_batch_vaes256(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				    const omc_aka_milenage_consts *c)
{
	(void)out, (void)in, (void)n, (void)c;
}

void omc_aka_x86_aes128_ecb_vaes256(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks)
{
	(void)out, (void)key, (void)in, (void)nblocks;
}
