/* MILENAGE batch kernel on VAES with 256-bit registers (AVX2): two
 * subscribers per vector, four vectors in flight (8 subscribers). For the
 * CPUs that have VAES but no AVX-512 (AMD Zen 3, Intel Alder Lake and
 * later client cores). Compiled with -mvaes -mavx2; called only after a
 * CPU check. */
#include <immintrin.h>

#include "aka/aka_internal.h"

#define V __m256i
#define LANES 2
#define G 4
#define V_LOAD(p) _mm256_load_si256((const __m256i *)(const void *)(p))
#define V_STORE(p, v) _mm256_store_si256((__m256i *)(void *)(p), (v))
#define V_XOR(a, b) _mm256_xor_si256((a), (b))
#define V_AND(a, b) _mm256_and_si256((a), (b))
#define V_ENC(x, k) _mm256_aesenc_epi128((x), (k))
#define V_ENCLAST(x, k) _mm256_aesenclast_epi128((x), (k))
#define V_SHUF(x, m) _mm256_shuffle_epi8((x), (m))
#define V_SLL4(x) _mm256_bslli_epi128((x), 4)
#define V_SLL8(x) _mm256_bslli_epi128((x), 8)
#define V_BCAST(p) _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_SET32(w) _mm256_set1_epi32((int)(w))
#define KERNEL omc_aka_milenage_batch_vaes256
#define AES_ECB omc_aka_x86_aes128_ecb_vaes256

#include "aka/milenage_x86_kernel.h"
