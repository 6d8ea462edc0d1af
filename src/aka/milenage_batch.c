/* The authentication-centre batch path: n MILENAGE vectors for n
 * subscribers, on the fastest implementation this CPU runs. */
#include <string.h>

#include "aka/aka_internal.h"

const char *omc_aka_impl_name(omc_aka_impl impl)
{
	switch (impl) {
	case OMC_AKA_IMPL_AUTO:
		return "auto";
	case OMC_AKA_IMPL_OPENSSL:
		return "openssl";
	case OMC_AKA_IMPL_AESNI:
		return "aesni";
	case OMC_AKA_IMPL_VAES:
		return "vaes";
	case OMC_AKA_IMPL_VAES256:
		return "vaes256";
	}
	return "unknown";
}

bool omc_aka_impl_available(omc_aka_impl impl)
{
	switch (impl) {
	case OMC_AKA_IMPL_AUTO:
	case OMC_AKA_IMPL_OPENSSL:
		return true;
	case OMC_AKA_IMPL_AESNI:
		return omc_aka_x86_has_aesni();
	case OMC_AKA_IMPL_VAES:
		return omc_aka_x86_has_vaes();
	case OMC_AKA_IMPL_VAES256:
		return omc_aka_x86_has_vaes256();
	}
	return false;
}

omc_aka_impl omc_aka_impl_auto(void)
{
	if (omc_aka_x86_has_vaes())
		return OMC_AKA_IMPL_VAES;
	if (omc_aka_x86_has_vaes256())
		return OMC_AKA_IMPL_VAES256;
	if (omc_aka_x86_has_aesni())
		return OMC_AKA_IMPL_AESNI;
	return OMC_AKA_IMPL_OPENSSL;
}

static omc_err batch_openssl(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
			     const omc_aka_milenage_consts *consts)
{
	omc_aka_milenage m;
	omc_aka_outputs o;
	OMC_DEFER_WIPE(m);
	OMC_DEFER_WIPE(o);
	for (size_t i = 0; i < n; i++) {
		OMC_TRY(omc_aka_milenage_init(&m, in[i].k, in[i].opc, consts));
		OMC_TRY(omc_aka_milenage_all(&o, &m, in[i].rand, in[i].sqn, in[i].amf, false));
		memcpy(out[i].xres, o.res, 8);
		memcpy(out[i].ck, o.ck, 16);
		memcpy(out[i].ik, o.ik, 16);
		omc_xor(out[i].autn, in[i].sqn, o.ak, 6);
		memcpy(out[i].autn + 6, in[i].amf, 2);
		memcpy(out[i].autn + 8, o.mac_a, 8);
	}
	return OMC_OK;
}

omc_err omc_aka_milenage_batch(omc_aka_milenage_batch_out *out, const omc_aka_milenage_batch_in *in, size_t n,
			       const omc_aka_milenage_consts *consts, omc_aka_impl impl)
{
	OMC_ENSURE(n == 0 || (out != NULL && in != NULL), OMC_ERR_BAD_ARG);
	OMC_ENSURE(omc_aka_impl_available(impl), OMC_ERR_UNSUPPORTED);
	omc_aka_milenage_consts def;
	if (!consts) {
		omc_aka_milenage_consts_default(&def);
		consts = &def;
	}
	bool byte_rot = true;
	for (int i = 0; i < 5; i++) {
		OMC_ENSURE(consts->r[i] < 128, OMC_ERR_BAD_ARG);
		byte_rot = byte_rot && consts->r[i] % 8 == 0;
	}
	if (impl == OMC_AKA_IMPL_AUTO)
		impl = omc_aka_impl_auto();
	if (!byte_rot)
		impl = OMC_AKA_IMPL_OPENSSL;
	switch (impl) {
	case OMC_AKA_IMPL_VAES:
		omc_aka_milenage_batch_vaes(out, in, n, consts);
		return OMC_OK;
	case OMC_AKA_IMPL_VAES256:
		omc_aka_milenage_batch_vaes256(out, in, n, consts);
		return OMC_OK;
	case OMC_AKA_IMPL_AESNI:
		omc_aka_milenage_batch_aesni(out, in, n, consts);
		return OMC_OK;
	case OMC_AKA_IMPL_OPENSSL:
	case OMC_AKA_IMPL_AUTO:
		break;
	}
	return batch_openssl(out, in, n, consts);
}

omc_err omc_aka_x86_aes128_ecb(uint8_t *out, const uint8_t key[16], const uint8_t *in, size_t nblocks,
			       omc_aka_impl impl)
{
	OMC_ENSURE(impl == OMC_AKA_IMPL_AESNI || impl == OMC_AKA_IMPL_VAES || impl == OMC_AKA_IMPL_VAES256,
		   OMC_ERR_BAD_ARG);
	OMC_ENSURE(omc_aka_impl_available(impl), OMC_ERR_UNSUPPORTED);
	if (impl == OMC_AKA_IMPL_VAES)
		omc_aka_x86_aes128_ecb_vaes(out, key, in, nblocks);
	else if (impl == OMC_AKA_IMPL_VAES256)
		omc_aka_x86_aes128_ecb_vaes256(out, key, in, nblocks);
	else
		omc_aka_x86_aes128_ecb_aesni(out, key, in, nblocks);
	return OMC_OK;
}
