/* Key derivation: the generic KDF of TS 33.220 Annex B.2 and its uses in
 * TS 33.401 Annex A.2 (KASME), A.7 (algorithm keys) and TS 33.402 A.2
 * (CK', IK'). HMAC-SHA-256 from nettle (caller-side context, no allocation). */
#include <string.h>

#include <nettle/hmac.h>

#include "aka/aka_internal.h"

#define KDF_MAX_PARAMS 8

omc_err omc_aka_kdf(uint8_t out[32], const uint8_t *key, size_t key_len, uint8_t fc,
		    const omc_aka_kdf_param *params, size_t n_params)
{
	OMC_ENSURE(n_params <= KDF_MAX_PARAMS, OMC_ERR_BAD_ARG);
	OMC_ENSURE(n_params == 0 || params != NULL, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < n_params; i++) {
		OMC_ENSURE(params[i].len <= 0xffff, OMC_ERR_TOO_LARGE);
		OMC_ENSURE(params[i].ptr != NULL || params[i].len == 0, OMC_ERR_BAD_ARG);
	}
	/* B.2.0: S = FC || P0 || L0 || P1 || L1 || ...; L two octets, big-endian. */
	struct hmac_sha256_ctx h;
	OMC_DEFER_WIPE(h);
	hmac_sha256_set_key(&h, key_len, key);
	hmac_sha256_update(&h, 1, &fc);
	for (size_t i = 0; i < n_params; i++) {
		uint8_t l[2] = {(uint8_t)(params[i].len >> 8), (uint8_t)params[i].len};
		hmac_sha256_update(&h, params[i].len, params[i].ptr);
		hmac_sha256_update(&h, 2, l);
	}
	hmac_sha256_digest(&h, 32, out);
	return OMC_OK;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

omc_err omc_aka_plmn_encode(uint8_t out[3], const char *mcc, const char *mnc)
{
	size_t lc = strlen(mcc), ln = strlen(mnc);
	OMC_ENSURE(lc == 3 && all_digits(mcc, 3), OMC_ERR_BAD_ARG);
	OMC_ENSURE((ln == 2 || ln == 3) && all_digits(mnc, ln), OMC_ERR_BAD_ARG);
	/* TS 24.008 10.5.1.13: MCC2 MCC1 | MNC3 MCC3 | MNC2 MNC1; MNC3 = F when
	 * the MNC has two digits. */
	unsigned mnc3 = ln == 3 ? (unsigned)(mnc[2] - '0') : 0xfu;
	out[0] = (uint8_t)(((unsigned)(mcc[1] - '0') << 4) | (unsigned)(mcc[0] - '0'));
	out[1] = (uint8_t)((mnc3 << 4) | (unsigned)(mcc[2] - '0'));
	out[2] = (uint8_t)(((unsigned)(mnc[1] - '0') << 4) | (unsigned)(mnc[0] - '0'));
	return OMC_OK;
}

omc_err omc_aka_kasme(uint8_t kasme[32], const uint8_t ck[16], const uint8_t ik[16], const uint8_t plmn[3],
		      const uint8_t sqn_xor_ak[6])
{
	uint8_t key[32];
	OMC_DEFER_WIPE(key);
	memcpy(key, ck, 16);
	memcpy(key + 16, ik, 16);
	const omc_aka_kdf_param p[2] = {{plmn, 3}, {sqn_xor_ak, 6}};
	return omc_aka_kdf(kasme, key, sizeof key, 0x10, p, 2);
}

omc_err omc_aka_kdf_alg_key(uint8_t key[16], const uint8_t kasme[32], uint8_t type_distinguisher, uint8_t alg_id)
{
	uint8_t out[32];
	OMC_DEFER_WIPE(out);
	const omc_aka_kdf_param p[2] = {{&type_distinguisher, 1}, {&alg_id, 1}};
	OMC_TRY(omc_aka_kdf(out, kasme, 32, 0x15, p, 2));
	/* A.7: the 128 least significant bits of the 256-bit output. */
	memcpy(key, out + 16, 16);
	return OMC_OK;
}

omc_err omc_aka_ck_ik_prime(uint8_t ck_prime[16], uint8_t ik_prime[16], const uint8_t ck[16], const uint8_t ik[16],
			    const char *net_name, size_t net_name_len, const uint8_t sqn_xor_ak[6])
{
	uint8_t key[32], out[32];
	OMC_DEFER_WIPE(key);
	OMC_DEFER_WIPE(out);
	OMC_ENSURE(net_name_len >= 1, OMC_ERR_BAD_ARG);
	memcpy(key, ck, 16);
	memcpy(key + 16, ik, 16);
	const omc_aka_kdf_param p[2] = {{(const uint8_t *)net_name, net_name_len}, {sqn_xor_ak, 6}};
	OMC_TRY(omc_aka_kdf(out, key, sizeof key, 0x20, p, 2));
	memcpy(ck_prime, out, 16);
	memcpy(ik_prime, out + 16, 16);
	return OMC_OK;
}
