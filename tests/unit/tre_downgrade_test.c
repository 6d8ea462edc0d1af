/* Downgraded algorithms and parameters, refused by the TRE at install
 * (issue 7, docs/SECURITY.md). Whoever can re-encrypt a package to the
 * session key (the DPF, or anyone who saw the evidence) but cannot sign as
 * its owner tries:
 *   - the package's JWS with its "alg" swapped for "none", "HS256" (keyed
 *     with the owner's public certificate, the classic key confusion),
 *     "ES384", "RS256", "EdDSA", "es256", keeping or dropping the ES256
 *     signature;
 *   - the owner's TUAK MCIM with fewer Keccak iterations, a shorter MAC or
 *     RES, or MILENAGE in place of TUAK, the signature kept;
 * and the owner itself signs TUAK parameters outside TS 35.231's lists
 * (0 iterations, a 32-bit MAC, a 16-bit RES, a 64-bit CK). Each is refused
 * with nothing installed and the TRE as it was; then the genuine package
 * installs on the same session (the control: the refused ones were
 * otherwise whole). The JWE side (an "alg" other than ECDH-ES, an "enc"
 * other than A256GCM, an ephemeral key on P-384 or off the curve) is
 * tests/unit/proto_jose_test.c: test_jwe_alg_enc_epk, under every JWE the
 * TRE opens.
 * covers: SEC-4, SEC-9, TRE-7 */
#include "tre_fixture.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TOPC "cd63cb71954a9f4e48a5994e37a02baf53c15671c60a4b731c55b4a441c0bde2"
#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define TYP "omc-mcim-package+jwt"

static json_t *tuak_mcim(unsigned iterations, unsigned mac_bits, unsigned res_bits, unsigned ck_bits)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:I,s:I,s:I,s:I,s:I},s:[s],s:i}", "id", "t1", "owner",
			 "sho2", "role", "operational", "type", "usim", "imsi", "001030000000031", "alg", "tuak", "k", K1,
			 "tuak", "topc", TOPC, "iterations", (json_int_t)iterations, "mac_bits", (json_int_t)mac_bits,
			 "res_bits", (json_int_t)res_bits, "ck_bits", (json_int_t)ck_bits, "ik_bits", (json_int_t)256,
			 "acl", "agent", "version", 1);
}

static json_t *claims(const char *tre_id, const uint8_t nonce[16], json_t *mcim)
{
	char nb[64];
	assert_int_equal(omc_b64_encode(nb, sizeof nb, nonce, 16, OMC_B64_URL), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:I,s:b,s:o}", "iss", "sho2", "seq", (json_int_t)1, "tre", tre_id,
			      "nonce", nb, "iat", (json_int_t)time(NULL), "activate", true, "mcim", mcim);
	assert_non_null(p);
	return p;
}

static char *b64url(const void *p, size_t n)
{
	size_t cap = n * 4 / 3 + 8;
	char *s = omc_alloc(cap);
	assert_non_null(s);
	assert_int_equal(omc_b64_encode(s, cap, p, n, OMC_B64_URL), OMC_OK);
	return s;
}

static json_t *b64url_json(const char *s, size_t n)
{
	uint8_t buf[16384];
	size_t len = 0;
	assert_int_equal(omc_b64_decode(buf, sizeof buf, &len, s, n, OMC_B64_URL), OMC_OK);
	json_error_t je;
	json_t *j = json_loadb((const char *)buf, len, 0, &je);
	assert_non_null(j);
	return j;
}

/* header.payload.signature from three texts */
static char *join(const char *h, const char *p, const char *sig)
{
	size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
	char *s = omc_alloc(n);
	assert_non_null(s);
	snprintf(s, n, "%s.%s.%s", h, p, sig);
	return s;
}

/* The JWS good (its header hl bytes long) with payload p (consumed) in
 * place of its own, and signature sig. */
static char *with_payload(const char *good, size_t hl, json_t *p, const char *sig)
{
	char *ps = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	char *p64 = b64url(ps, strlen(ps));
	char *h64 = omc_alloc(hl + 1);
	assert_non_null(h64);
	memcpy(h64, good, hl);
	h64[hl] = 0;
	char *jws = join(h64, p64, sig);
	omc_free(h64);
	omc_free(p64);
	omc_free(ps);
	return jws;
}

typedef struct world {
	tf_dev d;
	omc_tre *t;
	uint8_t nonce[16];
	char *ev;
	uint8_t reg[32]; /* the registry's digest */
	size_t n_reg;
	omc_tre_status st;
	unsigned refused;
} world;

/* The sealed jws must be refused (want: the error), the TRE unchanged. */
static void refused(world *w, const char *what, const char *jws, omc_err want)
{
	char *pkg = tf_seal(jws, w->nonce, 16, w->ev);
	char *rc = NULL;
	omc_err e = omc_tre_install(w->t, pkg, strlen(pkg), &rc);
	omc_free(pkg);
	if (e != want)
		fail_msg("%s: install answered %s, want %s", what, omc_err_name(e), omc_err_name(want));
	assert_null(rc);
	/* Refusals are audited (the store's generation grows); the registry
	 * and the TRE's state stay. */
	uint8_t reg[32];
	omc_tre_status st;
	assert_int_equal(omc_tre_registry_digest(w->t, reg), OMC_OK);
	assert_int_equal(omc_tre_get_status(w->t, &st), OMC_OK);
	if (memcmp(reg, w->reg, 32) != 0 || st.n_mcims != w->n_reg || st.state != w->st.state)
		fail_msg("%s: refused, but the TRE changed", what);
	w->refused++;
}

static void test_downgrades_refused(void **state)
{
	(void)state;
	world w = {0};
	tf_dev_make(&w.d, NULL, NULL);
	w.t = tf_open(&w.d);
	tl_rand(w.nonce, sizeof w.nonce);
	assert_int_equal(omc_tre_session_begin(w.t, w.nonce, 16, &w.ev), OMC_OK);
	assert_int_equal(omc_tre_registry_digest(w.t, w.reg), OMC_OK);
	assert_int_equal(omc_tre_get_status(w.t, &w.st), OMC_OK);
	w.n_reg = w.st.n_mcims;

	/* The genuine package, signed by its owner. */
	char *good = tf_sign("sho2", TYP, claims(w.d.tre_id, w.nonce, tuak_mcim(2, 128, 128, 256)));
	const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
	assert_true(dot1 && dot2 > dot1);
	size_t hl = (size_t)(dot1 - good);
	char *payload = omc_alloc((size_t)(dot2 - dot1));
	assert_non_null(payload);
	memcpy(payload, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	payload[dot2 - dot1 - 1] = 0;
	const char *sig = dot2 + 1;

	/* 1. Another "alg" in the header, the signature kept or dropped. */
	static const char *const algs[] = {"none", "HS256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "es256"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(algs); i++) {
		json_t *h = b64url_json(good, hl);
		assert_int_equal(json_object_set_new(h, "alg", json_string(algs[i])), 0);
		char *hs = json_dumps(h, JSON_COMPACT);
		char *h64 = b64url(hs, strlen(hs));
		char *kept = join(h64, payload, sig), *dropped = join(h64, payload, "");
		refused(&w, algs[i], kept, OMC_ERR_BAD_SIGNATURE);
		refused(&w, algs[i], dropped, OMC_ERR_BAD_SIGNATURE);
		/* HS256 keyed with the owner's certificate, the signer's public part */
		if (!strcmp(algs[i], "HS256")) {
			const char *x5 = json_string_value(json_array_get(json_object_get(h, "x5c"), 0));
			assert_non_null(x5);
			uint8_t der[4096];
			size_t dl = 0;
			assert_int_equal(omc_b64_decode(der, sizeof der, &dl, x5, strlen(x5), OMC_B64_STD), OMC_OK);
			char *tbs = omc_alloc(strlen(h64) + strlen(payload) + 2);
			assert_non_null(tbs);
			sprintf(tbs, "%s.%s", h64, payload);
			uint8_t mac[32];
			unsigned ml = 0;
			assert_non_null(HMAC(EVP_sha256(), der, (int)dl, (const uint8_t *)tbs, strlen(tbs), mac, &ml));
			char *m64 = b64url(mac, ml);
			char *hs256 = join(h64, payload, m64);
			refused(&w, "HS256 keyed with the certificate", hs256, OMC_ERR_BAD_SIGNATURE);
			omc_free(hs256);
			omc_free(m64);
			omc_free(tbs);
		}
		omc_free(kept);
		omc_free(dropped);
		omc_free(h64);
		omc_free(hs);
		json_decref(h);
	}

	/* 2. The owner's MCIM with weaker parameters, the signature kept. */
	static const struct {
		const char *what;
		const char *member;
		json_int_t value;
	} weaker[] = {
		{"1 Keccak iteration instead of 2", "iterations", 1},
		{"a 64-bit MAC instead of 128", "mac_bits", 64},
		{"a 32-bit RES instead of 128", "res_bits", 32},
		{"a 128-bit CK instead of 256", "ck_bits", 128},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(weaker); i++) {
		json_t *p = b64url_json(payload, strlen(payload));
		json_t *tu = json_object_get(json_object_get(p, "mcim"), "tuak");
		assert_non_null(tu);
		assert_int_equal(json_object_set_new(tu, weaker[i].member, json_integer(weaker[i].value)), 0);
		char *jws = with_payload(good, hl, p, sig);
		refused(&w, weaker[i].what, jws, OMC_ERR_BAD_SIGNATURE);
		omc_free(jws);
	}
	/* MILENAGE in place of the owner's TUAK, the signature kept */
	{
		json_t *p = b64url_json(payload, strlen(payload));
		json_t *m = json_object_get(p, "mcim");
		assert_int_equal(json_object_del(m, "tuak"), 0);
		assert_int_equal(json_object_set_new(m, "alg", json_string("milenage")), 0);
		assert_int_equal(json_object_set_new(m, "opc", json_string(OPC1)), 0);
		char *jws = with_payload(good, hl, p, sig);
		refused(&w, "MILENAGE in place of TUAK", jws, OMC_ERR_BAD_SIGNATURE);
		omc_free(jws);
	}

	/* 3. Signed by the owner, but outside TS 35.231's lists. */
	static const struct {
		const char *what;
		unsigned it, mac, res, ck;
	} bad[] = {
		{"0 Keccak iterations", 0, 128, 128, 256},
		{"a 32-bit MAC", 1, 32, 128, 256},
		{"a 16-bit RES", 1, 128, 16, 256},
		{"a 64-bit CK", 1, 128, 128, 64},
		{"a 48-bit MAC", 1, 48, 128, 256},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++) {
		char *jws = tf_sign("sho2", TYP,
				    claims(w.d.tre_id, w.nonce, tuak_mcim(bad[i].it, bad[i].mac, bad[i].res, bad[i].ck)));
		refused(&w, bad[i].what, jws, OMC_ERR_BAD_FORMAT);
		omc_free(jws);
	}

	/* The control: the genuine package installs on the same session. */
	char *pkg = tf_seal(good, w.nonce, 16, w.ev);
	char *rc = NULL;
	omc_err e = omc_tre_install(w.t, pkg, strlen(pkg), &rc);
	if (e != OMC_OK)
		fail_msg("the genuine package: %s at %s", omc_err_name(e), omc_err_source());
	assert_non_null(rc);
	omc_tre_mcim_info reg[16];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(w.t, reg, 16, &n), OMC_OK);
	assert_int_equal(n, w.n_reg + 1);
	print_message("%u downgraded packages refused, the genuine one installed\n", w.refused);
	omc_free(rc);
	omc_free(pkg);
	omc_free(payload);
	omc_free(good);
	omc_free(w.ev);
	omc_tre_close(w.t);
	tf_dev_free(&w.d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_downgrades_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
