/* Authentication vectors, the USIM-side check, AUTS and resynchronisation
 * (TS 33.102 6.3.2, 6.3.3, 6.3.5), for either algorithm set. */
#include <string.h>

#include "aka/aka_internal.h"

static const uint8_t amf_resync[2] = {0, 0}; /* TS 33.102 6.3.3: dummy AMF for MAC-S */

const char *omc_aka_alg_name(omc_aka_alg alg)
{
	switch (alg) {
	case OMC_AKA_ALG_MILENAGE:
		return "milenage";
	case OMC_AKA_ALG_TUAK:
		return "tuak";
	}
	return NULL;
}

void omc_aka_cred_wipe(omc_aka_cred *c)
{
	if (c)
		omc_memzero(c, sizeof *c);
}

size_t omc_aka_cred_mac_len(const omc_aka_cred *c)
{
	return c->alg == OMC_AKA_ALG_TUAK ? c->u.tuak.mac_len : 8;
}

size_t omc_aka_cred_res_len(const omc_aka_cred *c)
{
	return c->alg == OMC_AKA_ALG_TUAK ? c->u.tuak.res_len : 8;
}

size_t omc_aka_cred_ck_len(const omc_aka_cred *c)
{
	return c->alg == OMC_AKA_ALG_TUAK ? c->u.tuak.ck_len : 16;
}

size_t omc_aka_cred_ik_len(const omc_aka_cred *c)
{
	return c->alg == OMC_AKA_ALG_TUAK ? c->u.tuak.ik_len : 16;
}

/* f1 or f1* alone. */
static omc_err cred_f1(uint8_t *mac_a, uint8_t *mac_s, const omc_aka_cred *c, const uint8_t rand[16],
		       const uint8_t sqn[6], const uint8_t amf[2])
{
	switch (c->alg) {
	case OMC_AKA_ALG_MILENAGE:
		return omc_aka_milenage_f1(mac_a, mac_s, &c->u.milenage, rand, sqn, amf);
	case OMC_AKA_ALG_TUAK:
		return omc_aka_tuak_f1(mac_a, mac_s, &c->u.tuak, rand, sqn, amf);
	}
	OMC_BAIL(OMC_ERR_BAD_ARG);
}

static omc_err cred_f2345(uint8_t *res, uint8_t *ck, uint8_t *ik, uint8_t *ak, uint8_t *ak_star,
			  const omc_aka_cred *c, const uint8_t rand[16])
{
	switch (c->alg) {
	case OMC_AKA_ALG_MILENAGE:
		return omc_aka_milenage_f2345(res, ck, ik, ak, ak_star, &c->u.milenage, rand);
	case OMC_AKA_ALG_TUAK:
		return omc_aka_tuak_f2345(res, ck, ik, ak, ak_star, &c->u.tuak, rand);
	}
	OMC_BAIL(OMC_ERR_BAD_ARG);
}

static omc_err outputs(omc_aka_outputs *out, const omc_aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
		       const uint8_t amf[2], bool resync_too)
{
	memset(out, 0, sizeof *out);
	omc_err err;
	switch (c->alg) {
	case OMC_AKA_ALG_MILENAGE:
		err = omc_aka_milenage_all(out, &c->u.milenage, rand, sqn, amf, resync_too);
		break;
	case OMC_AKA_ALG_TUAK:
		err = omc_aka_tuak_all(out, &c->u.tuak, rand, sqn, amf, resync_too);
		break;
	default:
		err = OMC_ERR_BAD_ARG;
	}
	if (err != OMC_OK) {
		omc_memzero(out, sizeof *out);
		return err;
	}
	/* AUTN = (SQN xor AK) || AMF || MAC-A (TS 33.102 6.3.2). */
	omc_xor(out->autn, sqn, out->ak, 6);
	memcpy(out->autn + 6, amf, 2);
	memcpy(out->autn + 8, out->mac_a, out->mac_len);
	out->autn_len = (uint8_t)(8 + out->mac_len);
	return OMC_OK;
}

omc_err omc_aka_outputs_gen(omc_aka_outputs *out, const omc_aka_cred *c, const uint8_t rand[16],
			    const uint8_t sqn[6], const uint8_t amf[2])
{
	return outputs(out, c, rand, sqn, amf, true);
}

omc_err omc_aka_av_gen(omc_aka_av *av, const omc_aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
		       const uint8_t amf[2])
{
	if (c->alg == OMC_AKA_ALG_TUAK)
		return omc_aka_tuak_av(av, &c->u.tuak, rand, sqn, amf);
	omc_aka_outputs o;
	OMC_DEFER_WIPE(o);
	memset(av, 0, sizeof *av);
	OMC_TRY(outputs(&o, c, rand, sqn, amf, false));
	memcpy(av->rand, rand, 16);
	memcpy(av->xres, o.res, o.res_len);
	memcpy(av->ck, o.ck, o.ck_len);
	memcpy(av->ik, o.ik, o.ik_len);
	memcpy(av->autn, o.autn, o.autn_len);
	av->xres_len = o.res_len;
	av->ck_len = o.ck_len;
	av->ik_len = o.ik_len;
	av->autn_len = o.autn_len;
	return OMC_OK;
}

static omc_err auts_for(uint8_t auts[OMC_AKA_MAX_AUTS_LEN], size_t *auts_len, const omc_aka_cred *c,
			uint64_t sqn_ms, const uint8_t rand[16])
{
	uint8_t ak_star[6], sqn[6];
	OMC_DEFER_WIPE(ak_star);
	omc_store_be48(sqn, sqn_ms);
	OMC_TRY(cred_f2345(NULL, NULL, NULL, NULL, ak_star, c, rand));
	OMC_TRY(cred_f1(NULL, auts + 6, c, rand, sqn, amf_resync));
	omc_xor(auts, sqn, ak_star, 6);
	*auts_len = 6 + omc_aka_cred_mac_len(c);
	return OMC_OK;
}

omc_err omc_aka_auts_gen(uint8_t auts[OMC_AKA_MAX_AUTS_LEN], size_t *auts_len, const omc_aka_cred *c,
			 const omc_aka_sqn_ms *state, const uint8_t rand[16])
{
	return auts_for(auts, auts_len, c, omc_aka_sqn_ms_sqn(state), rand);
}

omc_err omc_aka_check(omc_aka_check_result *out, omc_aka_sqn_ms *state, const omc_aka_cred *c,
		      const uint8_t rand[16], const uint8_t *autn, size_t autn_len)
{
	struct {
		uint8_t res[OMC_AKA_MAX_RES_LEN], ck[OMC_AKA_MAX_KEY_LEN], ik[OMC_AKA_MAX_KEY_LEN];
		uint8_t ak[6], sqn[6], xmac[OMC_AKA_MAX_MAC_LEN];
	} w;
	OMC_DEFER_WIPE(w);
	memset(out, 0, sizeof *out);
	size_t mac_len = omc_aka_cred_mac_len(c);
	OMC_ENSURE(autn_len == 8 + mac_len, OMC_ERR_BAD_LENGTH);

	/* 6.3.3: SQN = (SQN xor AK) xor f5(RAND); XMAC = f1(SQN, RAND, AMF). */
	OMC_TRY(cred_f2345(w.res, w.ck, w.ik, w.ak, NULL, c, rand));
	omc_xor(w.sqn, autn, w.ak, 6);
	OMC_TRY(cred_f1(w.xmac, NULL, c, rand, w.sqn, autn + 6));
	if (!omc_ct_eq(w.xmac, autn + 8, mac_len)) {
		out->status = OMC_AKA_STATUS_MAC_FAILURE;
		return OMC_OK;
	}
	/* MAC first, then freshness: a forged AUTN never touches the array. */
	uint64_t sqn = omc_load_be48(w.sqn);
	if (!omc_aka_sqn_ms_acceptable(state, sqn)) {
		size_t n;
		OMC_TRY(omc_aka_auts_gen(out->auts, &n, c, state, rand));
		out->auts_len = (uint8_t)n;
		out->status = OMC_AKA_STATUS_SYNC_FAILURE;
		return OMC_OK;
	}
	OMC_TRY(omc_aka_sqn_ms_accept(state, sqn));
	out->status = OMC_AKA_STATUS_OK;
	out->res_len = (uint8_t)omc_aka_cred_res_len(c);
	out->ck_len = (uint8_t)omc_aka_cred_ck_len(c);
	out->ik_len = (uint8_t)omc_aka_cred_ik_len(c);
	memcpy(out->res, w.res, out->res_len);
	memcpy(out->ck, w.ck, out->ck_len);
	memcpy(out->ik, w.ik, out->ik_len);
	memcpy(out->sqn, w.sqn, 6);
	return OMC_OK;
}

omc_err omc_aka_resync(uint64_t *sqn_ms, bool *moved, omc_aka_sqn_he *he, const omc_aka_cred *c,
		       const uint8_t rand[16], const uint8_t *auts, size_t auts_len)
{
	uint8_t ak_star[6], sqn[6], xmac[OMC_AKA_MAX_MAC_LEN];
	OMC_DEFER_WIPE(ak_star);
	OMC_DEFER_WIPE(xmac);
	size_t mac_len = omc_aka_cred_mac_len(c);
	OMC_ENSURE(auts_len == 6 + mac_len, OMC_ERR_BAD_LENGTH);
	OMC_ENSURE(he->ind_bits <= OMC_AKA_IND_BITS_MAX, OMC_ERR_BAD_ARG);

	/* 6.3.5: SQN_MS = Conc(SQN_MS) xor f5*(RAND); MAC-S = f1*(SQN_MS, RAND,
	 * 0000). MAC-S is checked always, also when SQN_HE would be accepted
	 * anyway, so that a forged AUTS is reported as such. */
	OMC_TRY(cred_f2345(NULL, NULL, NULL, NULL, ak_star, c, rand));
	omc_xor(sqn, auts, ak_star, 6);
	OMC_TRY(cred_f1(NULL, xmac, c, rand, sqn, amf_resync));
	OMC_ENSURE(omc_ct_eq(xmac, auts + 6, mac_len), OMC_ERR_MAC_FAILURE);

	uint64_t ms = omc_load_be48(sqn);
	/* Only SEQ_MS counts: USIMs differ in the IND they send (Annex C.2.2
	 * says "the highest previously accepted sequence number"). */
	uint64_t seq_ms = ms >> he->ind_bits;
	uint64_t next = he->seq + 1;
	bool ok = next > seq_ms && next - seq_ms <= OMC_AKA_SEQ_DELTA_DEFAULT;
	if (!ok) {
		OMC_ENSURE(seq_ms < (UINT64_C(1) << (48 - he->ind_bits)) - 1, OMC_ERR_EXHAUSTED);
		he->seq = seq_ms;
	}
	*sqn_ms = ms;
	*moved = !ok;
	return OMC_OK;
}
