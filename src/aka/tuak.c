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

#define INOUT_LEN 200

enum {
	OFF_TOP = 0,
	OFF_INSTANCE = 32,
	OFF_ALGONAME = 33,
	OFF_RAND = 40,
	OFF_AMF = 56,
	OFF_SQN = 58,
	OFF_K = 64,
	OFF_PAD1 = 96,
	OFF_PAD2 = 135,
	OFF_CK = 32,
	OFF_IK = 64,
	OFF_AK = 96,
};

static const uint8_t algoname[7] = {'T', 'U', 'A', 'K', '1', '.', '0'};

static void put_rev(uint8_t *inout, size_t off, const uint8_t *f, size_t n)
{
	for (size_t j = 0; j < n; j++)
		inout[off + j] = f[n - 1 - j];
}

static void get_rev(uint8_t *out, const uint8_t *inout, size_t off, size_t n)
{
	for (size_t j = 0; j < n; j++)
		out[j] = inout[off + n - 1 - j];
}

/* INOUT lives in the permutation's own state: lane i is the little-endian
 * word of INOUT[8i..8i+7], so on a little-endian CPU the bytes of the lanes
 * are INOUT itself and nothing is copied. */
typedef union tuak_state {
	struct sha3_state st;
	uint8_t b[INOUT_LEN];
} tuak_state;

_Static_assert(sizeof(struct sha3_state) == INOUT_LEN, "Keccak state is 1600 bits");

static void to_lanes(tuak_state *s)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	for (unsigned i = 0; i < 25; i++) {
		uint64_t v = 0;
		for (unsigned b = 0; b < 8; b++)
			v |= (uint64_t)s->b[8 * i + b] << (8 * b);
		s->st.a[i] = v;
	}
#else
	(void)s;
#endif
}

static void from_lanes(tuak_state *s)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	for (unsigned i = 0; i < 25; i++) {
		uint64_t v = s->st.a[i];
		for (unsigned b = 0; b < 8; b++)
			s->b[8 * i + b] = (uint8_t)(v >> (8 * b));
	}
#else
	(void)s;
#endif
}

/* Runs the permutation `iterations` times over INOUT in place. */
static void keccak_rounds(tuak_state *s, unsigned iterations)
{
	to_lanes(s);
	for (unsigned it = 0; it < iterations; it++)
		sha3_permute(&s->st);
	from_lanes(s);
}

void omc_aka_keccak_permute(uint64_t state[25])
{
	struct sha3_state st;
	memcpy(st.a, state, sizeof st.a);
	sha3_permute(&st);
	memcpy(state, st.a, sizeof st.a);
}

/* The fields common to every function. top is TOP or TOPc. */
static void inout_init(tuak_state *s, const uint8_t top[32], uint8_t instance, const uint8_t *k, size_t k_len)
{
	uint8_t *inout = s->b;
	memset(inout, 0, INOUT_LEN);
	put_rev(inout, OFF_TOP, top, 32);
	inout[OFF_INSTANCE] = instance;
	put_rev(inout, OFF_ALGONAME, algoname, sizeof algoname);
	put_rev(inout, OFF_K, k, k_len);
	inout[OFF_PAD1] = 0x1f;
	inout[OFF_PAD2] = 0x80;
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
	tuak_state s;
	OMC_DEFER_WIPE(s);
	inout_init(&s, top, (uint8_t)(k_len == 32), k, k_len);
	keccak_rounds(&s, iterations);
	get_rev(topc, s.b, 0, 32);
	return OMC_OK;
}

static uint8_t k256(const omc_aka_tuak *t)
{
	return (uint8_t)(t->k_len == 32);
}

/* f1 (star = 0) or f1* (star = 1) with the MAC length of t. */
static void tuak_f1(uint8_t *mac, const omc_aka_tuak *t, int star, const uint8_t rand[16], const uint8_t sqn[6],
		    const uint8_t amf[2])
{
	tuak_state s;
	uint8_t instance = (uint8_t)((star ? 0x80u : 0u) | len_code(t->mac_len) | k256(t));
	inout_init(&s, t->topc, instance, t->k, t->k_len);
	put_rev(s.b, OFF_RAND, rand, 16);
	put_rev(s.b, OFF_AMF, amf, 2);
	put_rev(s.b, OFF_SQN, sqn, 6);
	keccak_rounds(&s, t->iterations);
	get_rev(mac, s.b, 0, t->mac_len);
	omc_memzero(&s, sizeof s);
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
	if (mac_a)
		tuak_f1(mac_a, t, 0, rand, sqn, amf);
	if (mac_s)
		tuak_f1(mac_s, t, 1, rand, sqn, amf);
	return OMC_OK;
}

omc_err omc_aka_tuak_f2345(uint8_t *res, uint8_t *ck, uint8_t *ik, uint8_t ak[6], uint8_t ak_star[6],
			   const omc_aka_tuak *t, const uint8_t rand[16])
{
	OMC_TRY(tuak_check(t));
	tuak_state s;
	OMC_DEFER_WIPE(s);
	if (res || ck || ik || ak) {
		uint8_t instance = (uint8_t)(0x40u | len_code(t->res_len) | (t->ck_len == 32 ? 0x04u : 0u) |
					     (t->ik_len == 32 ? 0x02u : 0u) | k256(t));
		inout_init(&s, t->topc, instance, t->k, t->k_len);
		put_rev(s.b, OFF_RAND, rand, 16);
		keccak_rounds(&s, t->iterations);
		if (res)
			get_rev(res, s.b, 0, t->res_len);
		if (ck)
			get_rev(ck, s.b, OFF_CK, t->ck_len);
		if (ik)
			get_rev(ik, s.b, OFF_IK, t->ik_len);
		if (ak)
			get_rev(ak, s.b, OFF_AK, 6);
	}
	if (ak_star) {
		inout_init(&s, t->topc, (uint8_t)(0xc0u | k256(t)), t->k, t->k_len);
		put_rev(s.b, OFF_RAND, rand, 16);
		keccak_rounds(&s, t->iterations);
		get_rev(ak_star, s.b, OFF_AK, 6);
	}
	return OMC_OK;
}

omc_err omc_aka_tuak_all(omc_aka_outputs *o, const omc_aka_tuak *t, const uint8_t rand[16], const uint8_t sqn[6],
			 const uint8_t amf[2], bool resync_too)
{
	OMC_TRY(omc_aka_tuak_f1(o->mac_a, resync_too ? o->mac_s : NULL, t, rand, sqn, amf));
	OMC_TRY(omc_aka_tuak_f2345(o->res, o->ck, o->ik, o->ak, resync_too ? o->ak_star : NULL, t, rand));
	o->mac_len = t->mac_len;
	o->res_len = t->res_len;
	o->ck_len = t->ck_len;
	o->ik_len = t->ik_len;
	return OMC_OK;
}
