/* openmcim AKA engine: internal interfaces. */
#ifndef OMC_AKA_INTERNAL_H
#define OMC_AKA_INTERNAL_H

#include "openmcim/aka.h"
#include "util/util_internal.h"

/* --- AES-128 through OpenSSL ------------------------------------------------
 * One keyed session at a time per thread. The EVP context is created on a
 * thread's first use and kept for the thread's life (OpenSSL allocates it,
 * once; the engine itself never does). omc_aes_end() overwrites the key
 * schedule, so no round key of K outlives the call that used it. */
typedef struct omc_aes_sess {
	void *evp; /* EVP_CIPHER_CTX */
} omc_aes_sess;

OMC_MUST_USE omc_err omc_aes_begin(omc_aes_sess *s, const uint8_t key[16]);
/* nblocks 16-byte blocks, ECB; out may equal in. */
OMC_MUST_USE omc_err omc_aes_encrypt(omc_aes_sess *s, uint8_t *out, const uint8_t *in, size_t nblocks);
void omc_aes_end(omc_aes_sess *s);

/* --- x86 AES-NI / VAES (aes_x86.c) ------------------------------------------- */
bool omc_aka_x86_has_aesni(void);
bool omc_aka_x86_has_vaes(void);
bool omc_aka_x86_has_vaes256(void);
/* MILENAGE batch kernels: constants with byte-multiple rotations only. */
void omc_aka_milenage_batch_aesni(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				  const omc_aka_milenage_consts *c);
void omc_aka_milenage_batch_vaes(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				 const omc_aka_milenage_consts *c);
void omc_aka_milenage_batch_vaes256(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
				    const omc_aka_milenage_consts *c);
/* Plain AES-128 ECB on the kernels' key schedule, for the test that checks
 * them block for block against OpenSSL. */
void omc_aka_x86_aes128_ecb_aesni(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks);
void omc_aka_x86_aes128_ecb_vaes(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks);
void omc_aka_x86_aes128_ecb_vaes256(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks);
/* Dispatches to the kernel of impl (AESNI, VAES or VAES256); OMC_ERR_UNSUPPORTED if
 * the CPU lacks it. */
OMC_API OMC_MUST_USE omc_err omc_aka_x86_aes128_ecb(uint8_t *out, const uint8_t key[16], const uint8_t *in,
						    size_t nblocks, omc_aka_impl impl);

/* --- MILENAGE helpers shared by the scalar and batch paths ------------------- */
/* out = x rotated by r bits towards the most significant bit (TS 35.206). */
void omc_aka_rot128(uint8_t out[16], const uint8_t x[16], unsigned r);

static inline void omc_xor(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(a[i] ^ b[i]);
}

/* The MILENAGE outputs for one (RAND, SQN, AMF) in one AES session: f1..f5,
 * and f1*, f5* too if resync_too (an authentication vector needs neither).
 * Fills everything in o but autn. */
OMC_MUST_USE omc_err omc_aka_milenage_all(omc_aka_outputs *o, const omc_aka_milenage *m, const uint8_t rand[16],
					  const uint8_t sqn[6], const uint8_t amf[2], bool resync_too);
/* The same for TUAK: two permutations, four with resync_too. */
OMC_MUST_USE omc_err omc_aka_tuak_all(omc_aka_outputs *o, const omc_aka_tuak *t, const uint8_t rand[16],
				      const uint8_t sqn[6], const uint8_t amf[2], bool resync_too);

/* omc_aka_av_gen for TUAK: the vector made in place, two permutations. */
OMC_MUST_USE omc_err omc_aka_tuak_av(omc_aka_av *av, const omc_aka_tuak *t, const uint8_t rand[16],
				     const uint8_t sqn[6], const uint8_t amf[2]);

/* --- Keccak permutation rate bound for the benchmark ------------------------ */
OMC_API void omc_aka_keccak_permute(uint64_t state[25]);

#endif
