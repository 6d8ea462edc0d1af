/* JOSE objects and what they carry: compact JWS (peek, by key, by x5c
 * chain), JWE, JWK and PEM keys, certificates (PEM, DER), the evidence a
 * PVA/DPF/DRF verifies and the TRE's audit checkpoint.
 *
 * Input: selector byte, then the object. Signatures cannot be forged by a
 * fuzzer, so the "signed" selectors take the input as the claims (JSON)
 * and sign them here with the harness's own CA and leaf: the claim parsers
 * behind the signature are fuzzed too. The keys are test keys made at
 * start-up; no real key is involved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"

static omc_key *ca_key, *leaf_key;
static omc_cert *ca_cert, *leaf_cert;
static const uint8_t nonce[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void die(const char *what)
{
	fprintf(stderr, "jose_fuzz: set-up: %s\n", what);
	abort();
}

static void setup(void)
{
	fz_init();
	omc_cert_req ca = {.subject_cn = "fuzz-ca", .ca = true, .days = 3650, .serial = 1};
	omc_cert_req leaf = {.subject_cn = "tre-fuzz", .days = 3650, .serial = 2};
	if (omc_key_generate(&ca_key) != OMC_OK || omc_key_generate(&leaf_key) != OMC_OK)
		die("keys");
	if (omc_cert_issue(&ca_cert, &ca, ca_key, NULL, ca_key) != OMC_OK ||
	    omc_cert_issue(&leaf_cert, &leaf, leaf_key, ca_cert, ca_key) != OMC_OK)
		die("certificates");
}

/* Sign the input as claims of typ with the leaf (chain: leaf). */
static char *sign(const uint8_t *data, size_t size, const char *typ)
{
	const omc_cert *x5c[1] = {leaf_cert};
	char *jws = NULL;
	if (omc_jws_sign(&jws, data, size, leaf_key, x5c, 1, typ) != OMC_OK)
		return NULL;
	return jws;
}

static void evidence(const char *jws, size_t len)
{
	const omc_cert *anchors[1] = {ca_cert};
	omc_evidence ev;
	if (omc_evidence_verify(&ev, jws, len, anchors, 1, nonce, sizeof nonce, 0) == OMC_OK) {
		if (ev.n_measurements > OMC_EVIDENCE_MAX_MEASUREMENTS || !ev.leaf)
			abort();
		omc_evidence_free(&ev);
	}
}

/* "JWS\nRECORDS" */
static void checkpoint(const char *s, size_t len, bool signed_here)
{
	const char *nl = memchr(s, '\n', len);
	size_t a = nl ? (size_t)(nl - s) : len;
	const char *rec = nl ? nl + 1 : "";
	size_t rlen = nl ? len - a - 1 : 0;
	char *jws = signed_here ? sign((const uint8_t *)s, a, "omc-audit-checkpoint+jwt") : NULL;
	const omc_cert *anchors[1] = {ca_cert};
	uint64_t count = 0;
	if (signed_here && !jws)
		return;
	(void)!omc_audit_checkpoint_verify(jws ? jws : s, jws ? strlen(jws) : a, rec, rlen, anchors, 1, &count);
	omc_free(jws);
}

static void keys_and_certs(const char *s, size_t len, uint8_t sub)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	switch (sub % 4) {
	case 0:
		if (omc_key_from_jwk(&k, s, len) == OMC_OK) {
			char *back = NULL;
			if (omc_key_to_jwk(&back, k) != OMC_OK || omc_key_has_private(k))
				abort();
			omc_free(back);
		}
		break;
	case 1: (void)!omc_key_from_pem(&k, s, len, (const uint8_t *)"fuzz", 4); break;
	case 2: (void)!omc_cert_from_pem(&c, s, len); break;
	case 3: (void)!omc_cert_from_der(&c, (const uint8_t *)s, len); break;
	}
	if (c) {
		char cn[64];
		omc_key *pub = NULL;
		(void)!omc_cert_subject_cn(cn, sizeof cn, c);
		(void)!omc_cert_public_key(&pub, c);
		omc_key_free(pub);
		const omc_cert *chain[1] = {c}, *anchors[1] = {ca_cert};
		size_t at;
		(void)!omc_cert_chain_verify(chain, 1, anchors, 1, 0, &at);
	}
	omc_key_free(k);
	omc_cert_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ca_key)
		setup();
	if (size < 1 || size > 65536)
		return 0;
	uint8_t sel = data[0];
	char *s = fz_str(data + 1, size - 1);
	size_t len = size - 1;
	if (!s)
		return 0;
	const omc_cert *anchors[1] = {ca_cert};
	omc_jws_verified v;
	uint8_t *p = NULL;
	size_t plen;
	switch (sel % 10) {
	case 0:
		if (omc_jws_peek(&p, &plen, s, len) == OMC_OK)
			omc_free(p);
		break;
	case 1:
		if (omc_jws_verify_key(&v, s, len, leaf_key, NULL) == OMC_OK)
			omc_jws_verified_free(&v);
		break;
	case 2:
		if (omc_jws_verify_x5c(&v, s, len, anchors, 1, NULL, 0) == OMC_OK)
			omc_jws_verified_free(&v);
		break;
	case 3:
		if (omc_jwe_decrypt(&p, &plen, s, len, leaf_key) == OMC_OK)
			omc_free(p);
		break;
	case 4: keys_and_certs(s, len, (uint8_t)(sel / 10)); break;
	case 5: evidence(s, len); break;
	case 6: {
		char *jws = sign(data + 1, len, "omc-evidence+jwt");
		if (jws)
			evidence(jws, strlen(jws));
		omc_free(jws);
		break;
	}
	case 7: checkpoint(s, len, false); break;
	case 8: checkpoint(s, len, true); break;
	case 9: {
		/* a JWE made here: the header parser sees the real thing, the
		 * payload is the input */
		char *jwe = NULL;
		if (omc_jwe_encrypt(&jwe, data + 1, len, leaf_key, "omc-fuzz+jwe") == OMC_OK) {
			if (omc_jwe_decrypt(&p, &plen, jwe, strlen(jwe), leaf_key) != OMC_OK || plen != len ||
			    (len && memcmp(p, data + 1, len) != 0))
				abort();
			omc_free(p);
		}
		omc_free(jwe);
		break;
	}
	}
	omc_free(s);
	return 0;
}
