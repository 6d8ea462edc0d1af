/* The link's keys: KASME (TS 33.401 A.2) and the algorithm keys of A.7,
 * through the KDF of src/aka. */
#include <string.h>

#include "openmcim/aka.h"
#include "link/link_internal.h"

omc_err omc_link_kasme(uint8_t kasme[OMC_LINK_KASME_LEN], const uint8_t *ck, size_t ck_len, const uint8_t *ik,
		       size_t ik_len, const uint8_t plmn[3], const uint8_t sqn_xor_ak[6])
{
	OMC_ENSURE(ck != NULL && ik != NULL, OMC_ERR_BAD_ARG);
	/* A.2: the key is CK || IK, 256 bits; TS 33.401 defines no KASME for
	 * TUAK's 256-bit CK and IK. */
	OMC_ENSURE(ck_len == 16 && ik_len == 16, OMC_ERR_UNSUPPORTED);
	return omc_aka_kasme(kasme, ck, ik, plmn, sqn_xor_ak);
}

omc_err omc_link_keys_derive(omc_link_keys *k, const uint8_t kasme[OMC_LINK_KASME_LEN])
{
	OMC_ENSURE(k != NULL, OMC_ERR_BAD_ARG);
	/* A.7: FC = 0x15, P0 = algorithm type distinguisher, P1 = algorithm
	 * identity; the 128 least significant bits of the output. */
	omc_err e = omc_aka_kdf_alg_key(k->nas_enc, kasme, OMC_LINK_NAS_ENC_ALG, OMC_LINK_ALG_EEA2);
	if (e == OMC_OK)
		e = omc_aka_kdf_alg_key(k->nas_int, kasme, OMC_LINK_NAS_INT_ALG, OMC_LINK_ALG_EIA2);
	if (e == OMC_OK)
		e = omc_aka_kdf_alg_key(k->up_enc, kasme, OMC_LINK_UP_ENC_ALG, OMC_LINK_ALG_EEA2);
	if (e != OMC_OK)
		omc_memzero(k, sizeof *k);
	return e;
}
