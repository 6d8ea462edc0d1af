/* hostapd's hlr_auc_gw requests as the AuC's socket reads them
 * (src/server/auc_hlrgw.c, docs/card.md): anyone who can write to the
 * socket sends any datagram. The first byte is the answer's room (0: the
 * socket's 1000 bytes, else that many), the rest the datagram, given to
 * omc_auc_hlrgw_handle on an AuC that holds one subscriber. Checks: an
 * answer fits its room and is one line of printable text, begins with the
 * response its request asks for and the request's IMSI, is none for
 * AKA-AUTS, and never holds the subscriber's K or OPc in hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "openmcim/server.h"

#define K_HEX "000102030405060708090a0b0c0d0e0f"
#define OPC_HEX "0f0e0d0c0b0a09080706050403020100"

static omc_db *db;
static omc_auc *auc;

static void setup(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/auc.db", fz_tmpdir());
	uint8_t master[32] = {1}, k[16], opc[16];
	size_t n;
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	if (omc_hex_decode_var(k, 16, &n, K_HEX, 32) || omc_hex_decode_var(opc, 16, &n, OPC_HEX, 32) ||
	    omc_aka_milenage_init(&c.u.milenage, k, opc, NULL) || omc_db_open(&db, path) ||
	    omc_auc_open(&auc, db, "ico", master) || omc_auc_add(auc, "001010000000001", &c, 5))
		abort();
	omc_aka_cred_wipe(&c);
}

static int begins(const char *s, size_t n, const char *lit)
{
	return n >= strlen(lit) && !memcmp(s, lit, strlen(lit));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	if (!auc)
		setup();
	if (size < 1 || size > 1001)
		return 0;
	size_t cap = data[0] ? data[0] : 1000;
	const char *req = (const char *)data + 1;
	size_t len = size - 1;
	char out[1000];
	size_t ol = 12345;
	omc_err e = omc_auc_hlrgw_handle(auc, out, cap, &ol, req, len);
	if (e != OMC_OK)
		return 0;
	if (ol >= cap)
		abort();
	for (size_t i = 0; i < ol; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			abort();
	/* The request's verb, as the handler reads it: after any spaces. */
	size_t at = 0;
	while (at < len && req[at] == ' ')
		at++;
	if (begins(req + at, len - at, "AKA-AUTS ")) {
		if (ol != 0)
			abort();
	} else if (begins(req + at, len - at, "AKA-REQ-AUTH ")) {
		if (!begins(out, ol, "AKA-RESP-AUTH "))
			abort();
	} else if (begins(req + at, len - at, "SIM-REQ-AUTH ")) {
		if (!begins(out, ol, "SIM-RESP-AUTH "))
			abort();
	} else {
		abort(); /* nothing else is answered */
	}
	if (ol > 0) {
		/* The IMSI of the answer is the request's (digits up to '@'). */
		const char *sp = memchr(out, ' ', ol);
		const char *iw = memchr(req + at, ' ', len - at);
		if (!sp || !iw)
			abort();
		while (iw < req + len && *iw == ' ')
			iw++;
		size_t il = 0;
		while (iw + il < req + len && iw[il] >= '0' && iw[il] <= '9')
			il++;
		if ((size_t)(out + ol - (sp + 1)) < il || memcmp(sp + 1, iw, il) != 0)
			abort();
	}
	char *s = fz_str((const uint8_t *)out, ol);
	if (s && (strstr(s, K_HEX) || strstr(s, OPC_HEX)))
		abort();
	omc_free(s);
	return 0;
}
