/* The MCIM as a card (src/tred/card.c, docs/card.md): what a terminal sends
 * through vpcd is anyone's. The first byte picks the card (bit 0: an ISIM
 * next to the USIM; bit 1: a 3-digit MNC), then APDUs, each a length byte
 * (255: the longest APDU, 261 bytes) and its bytes, to one card in turn
 * (its state carries over: a SELECT, then READ BINARY, AUTHENTICATE and GET
 * RESPONSE). The TRE's side is a stand-in whose answer the RAND picks (OK,
 * a sync failure, a MAC failure, an error). Checks: an APDU of 4 to 261
 * bytes always gets a status word and at most 258 bytes, any other length
 * is refused, and the stand-in's RES, CK and IK leave only in a GET
 * RESPONSE after an AUTHENTICATE. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "openmcim/unstable/card.h"

static const uint8_t secret_res[8] = {0xd5, 0x71, 0x3c, 0x2e, 0x90, 0x0b, 0x4f, 0xa6};

static omc_err auth(void *ctx, const uint8_t rand[16], const uint8_t *autn, size_t autn_len,
		    omc_aka_check_result *out)
{
	unsigned *calls = ctx;
	(*calls)++;
	(void)autn;
	memset(out, 0, sizeof *out);
	switch (rand[0] & 3) {
	case 0:
		if (autn_len != 16)
			return OMC_ERR_BAD_LENGTH;
		out->status = OMC_AKA_STATUS_OK;
		memcpy(out->res, secret_res, sizeof secret_res);
		out->res_len = sizeof secret_res;
		memset(out->ck, 0xc1, 16);
		memset(out->ik, 0x1c, 16);
		out->ck_len = out->ik_len = 16;
		return OMC_OK;
	case 1:
		out->status = OMC_AKA_STATUS_SYNC_FAILURE;
		memset(out->auts, 0xa5, 14);
		out->auts_len = 14;
		return OMC_OK;
	case 2:
		out->status = OMC_AKA_STATUS_MAC_FAILURE;
		return OMC_OK;
	default:
		return OMC_ERR_DENIED;
	}
}

static int holds(const uint8_t *p, size_t n, const uint8_t *needle, size_t nl)
{
	for (size_t i = 0; i + nl <= n; i++)
		if (!memcmp(p + i, needle, nl))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	if (size < 1)
		return 0;
	omc_card_profile p;
	memset(&p, 0, sizeof p);
	memcpy(p.imsi, "001010000000001", 16);
	p.mnc_len = (data[0] & 2) ? 3 : 2;
	p.isim = data[0] & 1;
	unsigned calls = 0;
	omc_card c;
	if (omc_card_init(&c, &p, auth, &calls) != OMC_OK)
		abort();
	size_t at = 1;
	while (at < size) {
		size_t len = data[at++];
		if (len == 255)
			len = OMC_CARD_MAX_APDU;
		if (len > size - at)
			len = size - at;
		uint8_t out[OMC_CARD_MAX_RAPDU];
		size_t ol = 0;
		unsigned before = calls;
		omc_err e = omc_card_apdu(&c, out, sizeof out, &ol, data + at, len);
		if (len < 4 || len > OMC_CARD_MAX_APDU) {
			if (e != OMC_ERR_BAD_LENGTH)
				abort();
		} else if (e != OMC_OK || ol < 2 || ol > OMC_CARD_MAX_RAPDU) {
			abort();
		}
		/* RES leaves in the answer to GET RESPONSE only, after an
		 * AUTHENTICATE reached the TRE (this APDU or an earlier one). */
		if (e == OMC_OK && holds(out, ol, secret_res, sizeof secret_res) &&
		    (data[at + 1] != 0xC0 || (calls == 0 && before == 0)))
			abort();
		at += len;
	}
	omc_card_wipe(&c);
	return 0;
}
