/* MILENAGE, TS 35.206 section 4.1, on AES-128 from OpenSSL.
 *
 *   TEMP = E_K(RAND xor OPc)
 *   OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc,
 *          IN1 = SQN || AMF || SQN || AMF
 *   OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc,  i = 2..5
 *   f1 = OUT1[0..63], f1* = OUT1[64..127], f5 = OUT2[0..47],
 *   f2 = OUT2[64..127], f3 = OUT3, f4 = OUT4, f5* = OUT5[0..47]
 *   OPc = OP xor E_K(OP)
 */
#include <string.h>

#include "aka/aka_internal.h"

void omc_aka_milenage_consts_default(omc_aka_milenage_consts *out)
{
	memset(out, 0, sizeof *out);
	/* c1 = 0, c2 = 1, c3 = 2, c4 = 4, c5 = 8 (as 128-bit integers). */
	out->c[1][15] = 1;
	out->c[2][15] = 2;
	out->c[3][15] = 4;
	out->c[4][15] = 8;
	out->r[0] = 64;
	out->r[1] = 0;
	out->r[2] = 32;
	out->r[3] = 64;
	out->r[4] = 96;
}

void omc_aka_rot128(uint8_t out[16], const uint8_t x[16], unsigned r)
{
	/* Bit i of out (from the most significant, 0..127) is bit (i + r) of x. */
	unsigned bytes = (r / 8) % 16, bits = r % 8;
	for (unsigned i = 0; i < 16; i++) {
		unsigned a = x[(i + bytes) % 16], b = x[(i + bytes + 1) % 16];
		out[i] = (uint8_t)(bits ? (a << bits) | (b >> (8 - bits)) : a);
	}
}

omc_err omc_aka_milenage_init(omc_aka_milenage *m, const uint8_t k[16], const uint8_t opc[16],
			      const omc_aka_milenage_consts *consts)
{
	if (consts) {
		for (int i = 0; i < 5; i++)
			OMC_ENSURE(consts->r[i] < 128, OMC_ERR_BAD_ARG);
		m->consts = *consts;
	} else {
		omc_aka_milenage_consts_default(&m->consts);
	}
	memcpy(m->k, k, 16);
	memcpy(m->opc, opc, 16);
	return OMC_OK;
}

void omc_aka_milenage_wipe(omc_aka_milenage *m)
{
	if (m)
		omc_memzero(m, sizeof *m);
}

omc_err omc_aka_milenage_opc(uint8_t opc[16], const uint8_t k[16], const uint8_t op[16])
{
	uint8_t e[16];
	OMC_DEFER_WIPE(e);
	omc_aes_sess s;
	OMC_TRY(omc_aes_begin(&s, k));
	omc_err err = omc_aes_encrypt(&s, e, op, 1);
	omc_aes_end(&s);
	OMC_TRY(err);
	omc_xor(opc, e, op, 16);
	return OMC_OK;
}

/* OUT1..OUT5 for the outputs in mask (bit i: OUTi+1) in one AES session:
 * TEMP, then every requested OUTi in one multi-block call, so the EVP
 * overhead and the key expansion are paid once. sqn and amf are read only
 * for OUT1. */
static omc_err milenage_outs(uint8_t out[5][16], unsigned mask, const omc_aka_milenage *m, const uint8_t rand[16],
			     const uint8_t *sqn, const uint8_t *amf)
{
	struct {
		uint8_t temp[16], t[16], in1[16], x[5][16], y[5][16];
	} w;
	OMC_DEFER_WIPE(w);
	unsigned idx[5], n = 0;

	omc_xor(w.x[0], rand, m->opc, 16);
	omc_aes_sess s;
	OMC_TRY(omc_aes_begin(&s, m->k));
	omc_err err = omc_aes_encrypt(&s, w.temp, w.x[0], 1);
	if (err == OMC_OK) {
		if (mask & 1u) {
			memcpy(w.in1, sqn, 6);
			memcpy(w.in1 + 6, amf, 2);
			memcpy(w.in1 + 8, sqn, 6);
			memcpy(w.in1 + 14, amf, 2);
			omc_xor(w.in1, w.in1, m->opc, 16);
			omc_aka_rot128(w.x[n], w.in1, m->consts.r[0]);
			omc_xor(w.x[n], w.x[n], w.temp, 16);
			omc_xor(w.x[n], w.x[n], m->consts.c[0], 16);
			idx[n++] = 0;
		}
		omc_xor(w.t, w.temp, m->opc, 16);
		for (unsigned i = 1; i < 5; i++) {
			if (!(mask & (1u << i)))
				continue;
			omc_aka_rot128(w.x[n], w.t, m->consts.r[i]);
			omc_xor(w.x[n], w.x[n], m->consts.c[i], 16);
			idx[n++] = i;
		}
		err = omc_aes_encrypt(&s, w.y[0], w.x[0], n);
	}
	omc_aes_end(&s);
	OMC_TRY(err);
	for (unsigned j = 0; j < n; j++)
		omc_xor(out[idx[j]], w.y[j], m->opc, 16);
	return OMC_OK;
}

omc_err omc_aka_milenage_f1(uint8_t mac_a[8], uint8_t mac_s[8], const omc_aka_milenage *m, const uint8_t rand[16],
			    const uint8_t sqn[6], const uint8_t amf[2])
{
	uint8_t out[5][16];
	OMC_DEFER_WIPE(out);
	OMC_TRY(milenage_outs(out, 1u, m, rand, sqn, amf));
	if (mac_a)
		memcpy(mac_a, out[0], 8);
	if (mac_s)
		memcpy(mac_s, out[0] + 8, 8);
	return OMC_OK;
}

omc_err omc_aka_milenage_f2345(uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6], uint8_t ak_star[6],
			       const omc_aka_milenage *m, const uint8_t rand[16])
{
	uint8_t out[5][16];
	OMC_DEFER_WIPE(out);
	unsigned mask = ((res || ak) ? 2u : 0u) | (ck ? 4u : 0u) | (ik ? 8u : 0u) | (ak_star ? 16u : 0u);
	OMC_TRY(milenage_outs(out, mask, m, rand, NULL, NULL));
	if (ak)
		memcpy(ak, out[1], 6);
	if (res)
		memcpy(res, out[1] + 8, 8);
	if (ck)
		memcpy(ck, out[2], 16);
	if (ik)
		memcpy(ik, out[3], 16);
	if (ak_star)
		memcpy(ak_star, out[4], 6);
	return OMC_OK;
}

omc_err omc_aka_milenage_all(omc_aka_outputs *o, const omc_aka_milenage *m, const uint8_t rand[16],
			     const uint8_t sqn[6], const uint8_t amf[2], bool resync_too)
{
	uint8_t out[5][16];
	OMC_DEFER_WIPE(out);
	OMC_TRY(milenage_outs(out, resync_too ? 0x1fu : 0x0fu, m, rand, sqn, amf));
	memcpy(o->mac_a, out[0], 8);
	memcpy(o->ak, out[1], 6);
	memcpy(o->res, out[1] + 8, 8);
	memcpy(o->ck, out[2], 16);
	memcpy(o->ik, out[3], 16);
	if (resync_too) {
		memcpy(o->mac_s, out[0] + 8, 8);
		memcpy(o->ak_star, out[4], 6);
	}
	o->mac_len = 8;
	o->res_len = 8;
	o->ck_len = 16;
	o->ik_len = 16;
	return OMC_OK;
}
