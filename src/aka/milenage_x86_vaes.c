/* MILENAGE batch kernel on VAES with AVX-512: four subscribers per 512-bit
 * vector, four vectors in flight (16 subscribers). Compiled with -mvaes
 * -mavx512f -mavx512bw; called only after a CPU check. */
#include <immintrin.h>

#include "aka/aka_internal.h"

#define V __m512i
#define LANES 4
#define G 4
#define V_LOAD(p) _mm512_load_si512((const void *)(p))
#define V_STORE(p, v) _mm512_store_si512((void *)(p), (v))
#define V_XOR(a, b) _mm512_xor_si512((a), (b))
#define V_AND(a, b) _mm512_and_si512((a), (b))
#define V_ENC(x, k) _mm512_aesenc_epi128((x), (k))
#define V_ENCLAST(x, k) _mm512_aesenclast_epi128((x), (k))
#define V_SHUF(x, m) _mm512_shuffle_epi8((x), (m))
#define V_SLL4(x) _mm512_bslli_epi128((x), 4)
#define V_SLL8(x) _mm512_bslli_epi128((x), 8)
#define V_BCAST(p) _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_SET32(w) _mm512_set1_epi32((int)(w))
#define KERNEL omc_aka_milenage_batch_vaes
#define AES_ECB omc_aka_x86_aes128_ecb_vaes

#include "aka/milenage_x86_kernel.h"
