/* MILENAGE batch kernel on AES-NI: 128-bit vectors, 8 subscribers in
 * flight. Compiled with -maes -mssse3; called only after a CPU check. */
#include <immintrin.h>

#include "aka/aka_internal.h"

#define V __m128i
#define LANES 1
#define G 8
#define V_LOAD(p) _mm_load_si128((const __m128i *)(const void *)(p))
#define V_STORE(p, v) _mm_store_si128((__m128i *)(void *)(p), (v))
#define V_XOR(a, b) _mm_xor_si128((a), (b))
#define V_AND(a, b) _mm_and_si128((a), (b))
#define V_ENC(x, k) _mm_aesenc_si128((x), (k))
#define V_ENCLAST(x, k) _mm_aesenclast_si128((x), (k))
#define V_SHUF(x, m) _mm_shuffle_epi8((x), (m))
#define V_SLL4(x) _mm_slli_si128((x), 4)
#define V_SLL8(x) _mm_slli_si128((x), 8)
#define V_BCAST(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define V_SET32(w) _mm_set1_epi32((int)(w))
#define KERNEL omc_aka_milenage_batch_aesni
#define AES_ECB omc_aka_x86_aes128_ecb_aesni

#include "aka/milenage_x86_kernel.h"
