/* TUAK, TS 35.231, on nettle's Keccak-f[1600] permutation.
 *
 * Every function fills one 200-byte INOUT buffer (TS 35.231 6.1..6.6):
 *
 *   bytes   0..31   TOP (for TOPc) or TOPc
 *   byte   32       INSTANCE
 *   bytes  33..39   ALGONAME "TUAK1.0"
 *   bytes  40..55   RAND          (zero for TOPc)
 *   bytes  56..57   AMF           (f1, f1* only)
 *   bytes  58..63   SQN           (f1, f1* only)
 *   bytes  64..95   K             (a 128-bit K fills 64..79)
 *   byte   96       0x1F, byte 135: 0x80 (padding), the rest zero
 *
 * The specification numbers bits least significant first within the
 * permutation's bit string and writes each parameter from its last bit down;
 * the two reversals cancel within a byte, so each field is stored with its
 * bytes reversed and outputs are read back reversed (OUT[p + n-1-j]). Lanes
 * are the little-endian 64-bit words of INOUT. The permutation runs
 * `iterations` times on the whole state.
 *
 * INSTANCE (6.1): 0x80 for f1* and f5*, 0x40 for f2..f5 and f5*, bits
 * 0x38 the output length code (MAC 64/128/256: 08/10/20; RES
 * 32/64/128/256: 00/08/10/20), 0x04 CK of 256 bits, 0x02 IK of 256 bits,
 * 0x01 K of 256 bits. f5 comes from the f2..f5 permutation, so AK depends on
 * the RES, CK and IK lengths. */
#include <string.h>

#include <nettle/sha3.h>

#include "aka/aka_internal.h"

/* INOUT is built directly as the permutation's 25 lanes, lane i holding
 * INOUT[8i..8i+7] as a little-endian word. A field of 8m bytes stored
 * reversed from a lane boundary is therefore m big-endian words in reverse
 * order: TOP is lanes 0..3 = BE(TOP[24..31]), BE(TOP[16..23]), ...; RAND
 * lanes 5, 6; K lanes 8..11. INSTANCE and ALGONAME together are lane 4, and
 * AMF and SQN lane 7. The same holds on a big-endian CPU: nothing here
 * depends on the byte order of memory. */
enum {
	LANE_TOP = 0,
	LANE_INSTANCE = 4, /* INSTANCE in bits 0..7, ALGONAME reversed above */
	LANE_RAND = 5,
	LANE_AMF_SQN = 7,
	LANE_K = 8,
	LANE_PAD1 = 12,
	LANE_PAD2 = 16,
	LANE_CK = 4,
	LANE_IK = 8,
	LANE_AK = 12,
};

#define LANES 25
/* BE("TUAK1.0" || 0x00): the ALGONAME bytes reversed at INOUT[33..39]. */
#define ALGONAME_LANE UINT64_C(0x5455414B312E3000)
#define PAD1_LANE UINT64_C(0x1f)		/* INOUT[96] = 0x1F */
#define PAD2_LANE (UINT64_C(0x80) << 56)	/* INOUT[135] = 0x80 */

_Static_assert(sizeof(struct sha3_state) == 8 * LANES, "Keccak state is 1600 bits");

/* Runs the permutation `iterations` times. */
static inline void keccak_rounds(struct sha3_state *s, unsigned iterations)
{
	for (unsigned it = 0; it < iterations; it++)
		sha3_permute(s);
}

void omc_aka_keccak_permute(uint64_t state[25])
{
	struct sha3_state st;
	memcpy(st.a, state, sizeof st.a);
	sha3_permute(&st);
	memcpy(state, st.a, sizeof st.a);
}

/* The lanes common to every function; top is TOP or TOPc, k of k_len bytes.
 * RAND, AMF and SQN lanes are zero. */
static inline void lanes_init(uint64_t a[LANES], const uint8_t top[32], uint8_t instance, const uint8_t *k,
			      size_t k_len)
{
	a[0] = omc_load_be64(top + 24);
	a[1] = omc_load_be64(top + 16);
	a[2] = omc_load_be64(top + 8);
	a[3] = omc_load_be64(top);
	a[LANE_INSTANCE] = ALGONAME_LANE | instance;
	a[5] = a[6] = a[7] = 0;
	if (k_len == 32) {
		a[8] = omc_load_be64(k + 24);
		a[9] = omc_load_be64(k + 16);
		a[10] = omc_load_be64(k + 8);
		a[11] = omc_load_be64(k);
	} else {
		a[8] = omc_load_be64(k + 8);
		a[9] = omc_load_be64(k);
		a[10] = a[11] = 0;
	}
	a[LANE_PAD1] = PAD1_LANE;
	for (unsigned i = LANE_PAD1 + 1; i < LANES; i++)
		a[i] = 0;
	a[LANE_PAD2] = PAD2_LANE;
}

static inline void lanes_rand(uint64_t a[LANES], const uint8_t rand[16])
{
	a[LANE_RAND] = omc_load_be64(rand + 8);
	a[LANE_RAND + 1] = omc_load_be64(rand);
}

/* INOUT[56..63] = AMF[1], AMF[0], SQN[5], ..., SQN[0]. */
static inline void lanes_amf_sqn(uint64_t a[LANES], const uint8_t sqn[6], const uint8_t amf[2])
{
	a[LANE_AMF_SQN] = (omc_load_be48(sqn) << 16) | ((uint64_t)amf[0] << 8) | amf[1];
}

/* out = the n bytes of INOUT from lane `lane` on, read back reversed
 * (n = 4 or a multiple of 8). */
static inline void lanes_get(uint8_t *out, const uint64_t a[LANES], unsigned lane, size_t n)
{
	if (n == 4) {
		uint64_t v = a[lane];
		out[0] = (uint8_t)(v >> 24);
		out[1] = (uint8_t)(v >> 16);
		out[2] = (uint8_t)(v >> 8);
		out[3] = (uint8_t)v;
		return;
	}
	for (size_t m = 0; m < n / 8; m++)
		omc_store_be64(out + 8 * m, a[lane + n / 8 - 1 - m]);
}

/* AK, f5 or f5*: INOUT[96..101] reversed, the low 48 bits of lane 12. */
static inline void lanes_get_ak(uint8_t ak[6], const uint64_t a[LANES])
{
	omc_store_be48(ak, a[LANE_AK]);
}

static uint8_t len_code(size_t bytes)
{
	/* 8/16/32 bytes -> 0x08/0x10/0x20; a 4-byte RES -> 0x00. */
	return (uint8_t)(bytes & 0x38u);
}

void omc_aka_tuak_params_default(omc_aka_tuak_params *p)
{
	p->mac_bits = 64;
	p->res_bits = 64;
	p->ck_bits = 128;
	p->ik_bits = 128;
	p->iterations = 1;
}

omc_err omc_aka_tuak_init(omc_aka_tuak *t, const uint8_t *k, size_t k_len, const uint8_t topc[32],
			  const omc_aka_tuak_params *p)
{
	OMC_ENSURE(k_len == 16 || k_len == 32, OMC_ERR_BAD_LENGTH);
	OMC_ENSURE(p->mac_bits == 64 || p->mac_bits == 128 || p->mac_bits == 256, OMC_ERR_BAD_ARG);
	OMC_ENSURE(p->res_bits == 32 || p->res_bits == 64 || p->res_bits == 128 || p->res_bits == 256,
		   OMC_ERR_BAD_ARG);
	OMC_ENSURE(p->ck_bits == 128 || p->ck_bits == 256, OMC_ERR_BAD_ARG);
	OMC_ENSURE(p->ik_bits == 128 || p->ik_bits == 256, OMC_ERR_BAD_ARG);
	OMC_ENSURE(p->iterations >= 1 && p->iterations <= OMC_AKA_TUAK_MAX_ITERATIONS, OMC_ERR_BAD_ARG);
	memset(t, 0, sizeof *t);
	memcpy(t->k, k, k_len);
	memcpy(t->topc, topc, 32);
	t->k_len = (uint8_t)k_len;
	t->mac_len = (uint8_t)(p->mac_bits / 8);
	t->res_len = (uint8_t)(p->res_bits / 8);
	t->ck_len = (uint8_t)(p->ck_bits / 8);
	t->ik_len = (uint8_t)(p->ik_bits / 8);
	t->iterations = (uint16_t)p->iterations;
	return OMC_OK;
}

void omc_aka_tuak_wipe(omc_aka_tuak *t)
{
	if (t)
		omc_memzero(t, sizeof *t);
}

omc_err omc_aka_tuak_topc(uint8_t topc[32], const uint8_t *k, size_t k_len, const uint8_t top[32],
			  unsigned iterations)
{
	OMC_ENSURE(k_len == 16 || k_len == 32, OMC_ERR_BAD_LENGTH);
	OMC_ENSURE(iterations >= 1 && iterations <= OMC_AKA_TUAK_MAX_ITERATIONS, OMC_ERR_BAD_ARG);
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	lanes_init(s.a, top, (uint8_t)(k_len == 32), k, k_len);
	keccak_rounds(&s, iterations);
	lanes_get(topc, s.a, LANE_TOP, 32);
	return OMC_OK;
}

static uint8_t k256(const omc_aka_tuak *t)
{
	return (uint8_t)(t->k_len == 32);
}

static uint8_t instance_f1(const omc_aka_tuak *t, int star)
{
	return (uint8_t)((star ? 0x80u : 0u) | len_code(t->mac_len) | k256(t));
}

static uint8_t instance_f2345(const omc_aka_tuak *t)
{
	return (uint8_t)(0x40u | len_code(t->res_len) | (t->ck_len == 32 ? 0x04u : 0u) |
			 (t->ik_len == 32 ? 0x02u : 0u) | k256(t));
}

/* f1 (star = 0) or f1* (star = 1) with the MAC length of t, in s (which the
 * caller wipes). */
static inline void tuak_f1(struct sha3_state *s, uint8_t *mac, const omc_aka_tuak *t, int star,
			   const uint8_t rand[16], const uint8_t sqn[6], const uint8_t amf[2])
{
	lanes_init(s->a, t->topc, instance_f1(t, star), t->k, t->k_len);
	lanes_rand(s->a, rand);
	lanes_amf_sqn(s->a, sqn, amf);
	keccak_rounds(s, t->iterations);
	lanes_get(mac, s->a, LANE_TOP, t->mac_len);
}

/* The f2..f5 permutation, outputs read by the caller; s is wiped by the
 * caller. */
static inline void tuak_f2345_perm(struct sha3_state *s, const omc_aka_tuak *t, const uint8_t rand[16])
{
	lanes_init(s->a, t->topc, instance_f2345(t), t->k, t->k_len);
	lanes_rand(s->a, rand);
	keccak_rounds(s, t->iterations);
}

/* The f5* permutation: AK* into ak_star. */
static inline void tuak_f5star(struct sha3_state *s, uint8_t ak_star[6], const omc_aka_tuak *t,
			       const uint8_t rand[16])
{
	lanes_init(s->a, t->topc, (uint8_t)(0xc0u | k256(t)), t->k, t->k_len);
	lanes_rand(s->a, rand);
	keccak_rounds(s, t->iterations);
	lanes_get_ak(ak_star, s->a);
}

static omc_err tuak_check(const omc_aka_tuak *t)
{
	OMC_ENSURE(t->k_len == 16 || t->k_len == 32, OMC_ERR_BAD_ARG);
	OMC_ENSURE(t->mac_len == 8 || t->mac_len == 16 || t->mac_len == 32, OMC_ERR_BAD_ARG);
	OMC_ENSURE(t->res_len == 4 || t->res_len == 8 || t->res_len == 16 || t->res_len == 32, OMC_ERR_BAD_ARG);
	OMC_ENSURE(t->ck_len == 16 || t->ck_len == 32, OMC_ERR_BAD_ARG);
	OMC_ENSURE(t->ik_len == 16 || t->ik_len == 32, OMC_ERR_BAD_ARG);
	OMC_ENSURE(t->iterations >= 1, OMC_ERR_BAD_ARG);
	return OMC_OK;
}

omc_err omc_aka_tuak_f1(uint8_t *mac_a, uint8_t *mac_s, const omc_aka_tuak *t, const uint8_t rand[16],
			const uint8_t sqn[6], const uint8_t amf[2])
{
	OMC_TRY(tuak_check(t));
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	if (mac_a)
		tuak_f1(&s, mac_a, t, 0, rand, sqn, amf);
	if (mac_s)
		tuak_f1(&s, mac_s, t, 1, rand, sqn, amf);
	return OMC_OK;
}

omc_err omc_aka_tuak_f2345(uint8_t *res, uint8_t *ck, uint8_t *ik, uint8_t ak[6], uint8_t ak_star[6],
			   const omc_aka_tuak *t, const uint8_t rand[16])
{
	OMC_TRY(tuak_check(t));
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	if (res || ck || ik || ak) {
		tuak_f2345_perm(&s, t, rand);
		if (res)
			lanes_get(res, s.a, LANE_TOP, t->res_len);
		if (ck)
			lanes_get(ck, s.a, LANE_CK, t->ck_len);
		if (ik)
			lanes_get(ik, s.a, LANE_IK, t->ik_len);
		if (ak)
			lanes_get_ak(ak, s.a);
	}
	if (ak_star)
		tuak_f5star(&s, ak_star, t, rand);
	return OMC_OK;
}

omc_err omc_aka_tuak_all(omc_aka_outputs *o, const omc_aka_tuak *t, const uint8_t rand[16], const uint8_t sqn[6],
			 const uint8_t amf[2], bool resync_too)
{
	OMC_TRY(tuak_check(t));
	/* One state for every permutation, wiped once on the way out. */
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	tuak_f1(&s, o->mac_a, t, 0, rand, sqn, amf);
	tuak_f2345_perm(&s, t, rand);
	lanes_get(o->res, s.a, LANE_TOP, t->res_len);
	lanes_get(o->ck, s.a, LANE_CK, t->ck_len);
	lanes_get(o->ik, s.a, LANE_IK, t->ik_len);
	lanes_get_ak(o->ak, s.a);
	if (resync_too) {
		tuak_f1(&s, o->mac_s, t, 1, rand, sqn, amf);
		tuak_f5star(&s, o->ak_star, t, rand);
	}
	o->mac_len = t->mac_len;
	o->res_len = t->res_len;
	o->ck_len = t->ck_len;
	o->ik_len = t->ik_len;
	return OMC_OK;
}

omc_err omc_aka_tuak_av(omc_aka_av *av, const omc_aka_tuak *t, const uint8_t rand[16], const uint8_t sqn[6],
			const uint8_t amf[2])
{
	memset(av, 0, sizeof *av);
	OMC_TRY(tuak_check(t));
	/* Straight into the vector: one state, wiped once. */
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	tuak_f1(&s, av->autn + 8, t, 0, rand, sqn, amf); /* MAC-A */
	tuak_f2345_perm(&s, t, rand);
	lanes_get(av->xres, s.a, LANE_TOP, t->res_len);
	lanes_get(av->ck, s.a, LANE_CK, t->ck_len);
	lanes_get(av->ik, s.a, LANE_IK, t->ik_len);
	/* AUTN = (SQN xor AK) || AMF || MAC-A (TS 33.102 6.3.2). */
	omc_store_be48(av->autn, omc_load_be48(sqn) ^ s.a[LANE_AK]);
	av->autn[6] = amf[0];
	av->autn[7] = amf[1];
	memcpy(av->rand, rand, 16);
	av->xres_len = t->res_len;
	av->ck_len = t->ck_len;
	av->ik_len = t->ik_len;
	av->autn_len = (uint8_t)(8 + t->mac_len);
	return OMC_OK;
}

omc_err omc_aka_tuak_batch(omc_aka_tuak_batch_out *out, const omc_aka_tuak_batch_in *in, size_t n,
			   unsigned iterations)
{
	OMC_ENSURE(n == 0 || (out != NULL && in != NULL), OMC_ERR_BAD_ARG);
	OMC_ENSURE(iterations >= 1 && iterations <= OMC_AKA_TUAK_MAX_ITERATIONS, OMC_ERR_BAD_ARG);
	/* MAC 64, RES 64, CK 128, IK 128, K 128 (TS 35.231 6.1 INSTANCE). */
	const uint8_t inst_f1 = 0x08, inst_f2345 = 0x48;
	struct sha3_state s;
	OMC_DEFER_WIPE(s);
	for (size_t i = 0; i < n; i++) {
		const omc_aka_tuak_batch_in *x = &in[i];
		omc_aka_tuak_batch_out *y = &out[i];
		lanes_init(s.a, x->topc, inst_f1, x->k, 16);
		lanes_rand(s.a, x->rand);
		lanes_amf_sqn(s.a, x->sqn, x->amf);
		keccak_rounds(&s, iterations);
		omc_store_be64(y->autn + 8, s.a[LANE_TOP]); /* MAC-A */
		lanes_init(s.a, x->topc, inst_f2345, x->k, 16);
		lanes_rand(s.a, x->rand);
		keccak_rounds(&s, iterations);
		omc_store_be64(y->xres, s.a[LANE_TOP]);
		lanes_get(y->ck, s.a, LANE_CK, 16);
		lanes_get(y->ik, s.a, LANE_IK, 16);
		/* AUTN = (SQN xor AK) || AMF || MAC-A. */
		omc_store_be48(y->autn, omc_load_be48(x->sqn) ^ s.a[LANE_AK]);
		y->autn[6] = x->amf[0];
		y->autn[7] = x->amf[1];
	}
	return OMC_OK;
}
