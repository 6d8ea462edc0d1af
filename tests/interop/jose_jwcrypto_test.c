/* An independent JOSE implementation nobody here wrote: python3-jwcrypto
 * (Debian), run by /usr/bin/python3 on a script this test writes.
 *   - jwcrypto verifies openmcim's JWS (ES256, x5c, typ) with the signer's
 *     public key from openmcim's PEM, and finds that key in x5c[0];
 *   - jwcrypto opens openmcim's encrypted PKCS#8 PEM with the hex of the
 *     key-encryption secret and decrypts openmcim's JWE (ECDH-ES, A256GCM);
 *   - jwcrypto signs JWS with a key openmcim certified (x5c from openmcim)
 *     and encrypts JWE to openmcim's public JWK, some with "apu"/"apv";
 *     openmcim verifies the chain and the signatures, and decrypts;
 *   - jwcrypto's RFC 7638 thumbprints equal openmcim's.
 * Payloads are random, of random lengths, so that short R and S values of
 * ECDSA (leading zero bytes) turn up on both sides.
 * covers: TRE-7, TRE-9, SEC-6, SEC-9 */
#include "testlib.h"

#include <stdlib.h>

#include "proto/proto_internal.h"

#define N_OBJECTS 300
#define TYP "omc-interop+jwt"

static const char script[] =
	"import base64, binascii, json, sys\n"
	"from cryptography import x509\n"
	"from jwcrypto import jwe, jwk, jws\n"
	"from jwcrypto.common import json_encode\n"
	"inp = json.load(open(sys.argv[1]))\n"
	"unhex = binascii.unhexlify\n"
	"pw = inp['pass_hex'].encode()\n"
	"def tp(k):\n"
	"    return k.thumbprint()\n"
	"# 1. openmcim's JWS, verified with the public key from openmcim's PEM\n"
	"pub = jwk.JWK.from_pem(inp['signer_pub_pem'].encode())\n"
	"assert tp(pub) == inp['signer_thumbprint'], 'thumbprint'\n"
	"for o in inp['jws']:\n"
	"    s = jws.JWS()\n"
	"    s.deserialize(o['compact'])\n"
	"    s.verify(pub, alg='ES256')\n"
	"    assert s.payload == unhex(o['payload']), 'JWS payload'\n"
	"    h = s.jose_header\n"
	"    assert h['alg'] == 'ES256' and h['typ'] == inp['typ'], h\n"
	"    leaf = x509.load_der_x509_certificate(base64.b64decode(h['x5c'][0], validate=True))\n"
	"    assert tp(jwk.JWK.from_pyca(leaf.public_key())) == tp(pub), 'x5c leaf'\n"
	"# 2. openmcim's JWE, decrypted with the key from openmcim's encrypted PEM\n"
	"priv = jwk.JWK.from_pem(inp['recipient_priv_pem'].encode(), password=pw)\n"
	"assert tp(priv) == inp['recipient_thumbprint'], 'thumbprint'\n"
	"for o in inp['jwe']:\n"
	"    e = jwe.JWE()\n"
	"    e.deserialize(o['compact'], key=priv)\n"
	"    assert e.payload == unhex(o['payload']), 'JWE payload'\n"
	"    h = e.jose_header\n"
	"    assert h['alg'] == 'ECDH-ES' and h['enc'] == 'A256GCM' and h['epk']['crv'] == 'P-256', h\n"
	"# 3. jwcrypto's own JWS and JWE for openmcim\n"
	"signer = jwk.JWK.from_pem(inp['their_signer_pem'].encode(), password=pw)\n"
	"rcpt = jwk.JWK.from_json(inp['recipient_jwk'])\n"
	"assert tp(rcpt) == inp['recipient_thumbprint'], 'thumbprint'\n"
	"out = {'jws': [], 'jwe': []}\n"
	"for i, p in enumerate(inp['their_payloads']):\n"
	"    s = jws.JWS(unhex(p))\n"
	"    s.add_signature(signer, alg='ES256', protected=json_encode(\n"
	"        {'alg': 'ES256', 'typ': inp['typ'], 'x5c': inp['their_x5c']}))\n"
	"    out['jws'].append(s.serialize(compact=True))\n"
	"    hdr = {'alg': 'ECDH-ES', 'enc': 'A256GCM', 'typ': inp['typ']}\n"
	"    if i % 3 == 1:\n"
	"        hdr['apu'] = base64.urlsafe_b64encode(b'openmcim-dpf').rstrip(b'=').decode()\n"
	"        hdr['apv'] = base64.urlsafe_b64encode(bytes([i % 256]) * (i % 40)).rstrip(b'=').decode()\n"
	"    e = jwe.JWE(unhex(p), protected=json_encode(hdr))\n"
	"    e.add_recipient(rcpt)\n"
	"    out['jwe'].append(e.serialize(compact=True))\n"
	"json.dump(out, open(sys.argv[2], 'w'))\n"
	"print('jwcrypto: verified %d JWS, decrypted %d JWE, made %d of each' %\n"
	"      (len(inp['jws']), len(inp['jwe']), len(inp['their_payloads'])))\n";

static char dir[] = "/tmp/omc-jwcrypto-XXXXXX";

/* The scratch directory goes away even when the test fails. */
static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128], out[64];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return tl_run(cmd, out, sizeof out, NULL, 0) == 0 ? 0 : -1;
}

typedef struct pki {
	omc_key *root_k, *inter_k, *signer_k, *their_k, *recipient_k;
	omc_cert *root, *inter, *signer, *their;
} pki;

static omc_cert *issue(const char *cn, bool ca, const omc_key *subject, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	return tl_cert(cn, NULL, ca, 30, subject, issuer, issuer_key);
}

static char *hex_of(const uint8_t *p, size_t n)
{
	char *s = omc_alloc(2 * n + 1);
	assert_non_null(s);
	assert_err(omc_hex_encode(s, 2 * n + 1, p, n), OMC_OK);
	return s;
}

static json_t *jstr_take(char *s)
{
	json_t *j = json_string(s);
	assert_non_null(j);
	omc_free(s);
	return j;
}

static json_t *thumbprint_b64u(const omc_key *k)
{
	uint8_t tp[32];
	assert_err(omc_key_thumbprint(tp, k), OMC_OK);
	char s[48];
	assert_err(omc_b64_encode(s, sizeof s, tp, sizeof tp, OMC_B64_URL), OMC_OK);
	return json_string(s);
}

static json_t *x5c_array(const omc_cert *const *certs, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		uint8_t *der = NULL;
		size_t dl = 0;
		assert_err(omc_cert_to_der(&der, &dl, certs[i]), OMC_OK);
		char b64[4096];
		assert_err(omc_b64_encode(b64, sizeof b64, der, dl, OMC_B64_STD), OMC_OK);
		json_array_append_new(arr, json_string(b64));
		omc_free(der);
	}
	return arr;
}

static size_t random_payload(uint8_t *buf, size_t cap)
{
	uint8_t r[2];
	tl_rand(r, 2);
	size_t n = 1 + ((size_t)r[0] << 8 | r[1]) % (cap - 1);
	tl_rand(buf, n);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_jwcrypto(void **state)
{
	(void)state;
	char out[4096], err[8192], cmd[1024];
	int rc = tl_run("/usr/bin/python3 -c 'import jwcrypto, cryptography'", out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("python3-jwcrypto is required (scripts/deps.sh installs it): %s", err);

	pki p;
	p.root_k = tl_key();
	p.inter_k = tl_key();
	p.signer_k = tl_key();
	p.their_k = tl_key();
	p.recipient_k = tl_key();
	p.root = issue("Interop Root", true, p.root_k, NULL, p.root_k);
	p.inter = issue("Interop Intermediate", true, p.inter_k, p.root, p.root_k);
	p.signer = issue("openmcim.signer", false, p.signer_k, p.inter, p.inter_k);
	p.their = issue("jwcrypto.signer", false, p.their_k, p.inter, p.inter_k);

	uint8_t pass[32];
	tl_rand(pass, sizeof pass);
	pass[0] = 0; /* not text */
	json_t *in = json_object();
	json_object_set_new(in, "typ", json_string(TYP));
	json_object_set_new(in, "pass_hex", jstr_take(hex_of(pass, sizeof pass)));
	char *pem = NULL;
	size_t pn = 0;
	assert_err(omc_key_to_pem(&pem, &pn, p.signer_k, false, NULL, 0), OMC_OK);
	json_object_set_new(in, "signer_pub_pem", jstr_take(pem));
	json_object_set_new(in, "signer_thumbprint", thumbprint_b64u(p.signer_k));
	assert_err(omc_key_to_pem(&pem, &pn, p.recipient_k, true, pass, sizeof pass), OMC_OK);
	json_object_set_new(in, "recipient_priv_pem", jstr_take(pem));
	json_object_set_new(in, "recipient_thumbprint", thumbprint_b64u(p.recipient_k));
	assert_err(omc_key_to_pem(&pem, &pn, p.their_k, true, pass, sizeof pass), OMC_OK);
	json_object_set_new(in, "their_signer_pem", jstr_take(pem));
	char *jwk = NULL;
	omc_key *rpub = NULL;
	assert_err(omc_key_public(&rpub, p.recipient_k), OMC_OK);
	assert_err(omc_key_to_jwk(&jwk, rpub), OMC_OK);
	json_object_set_new(in, "recipient_jwk", jstr_take(jwk));
	const omc_cert *their_chain[] = {p.their, p.inter};
	json_object_set_new(in, "their_x5c", x5c_array(their_chain, 2));

	/* Ours, for jwcrypto. */
	const omc_cert *chain[] = {p.signer, p.inter};
	json_t *jws_arr = json_array(), *jwe_arr = json_array(), *theirs = json_array();
	uint8_t buf[2048];
	for (int i = 0; i < N_OBJECTS; i++) {
		size_t n = random_payload(buf, sizeof buf);
		char *c = NULL;
		assert_err(omc_jws_sign(&c, buf, n, p.signer_k, chain, 2, TYP), OMC_OK);
		json_array_append_new(jws_arr, json_pack("{s:s,s:o}", "compact", c, "payload", jstr_take(hex_of(buf, n))));
		omc_free(c);
		n = random_payload(buf, sizeof buf);
		assert_err(omc_jwe_encrypt(&c, buf, n, rpub, TYP), OMC_OK);
		json_array_append_new(jwe_arr, json_pack("{s:s,s:o}", "compact", c, "payload", jstr_take(hex_of(buf, n))));
		omc_free(c);
		n = random_payload(buf, sizeof buf);
		json_array_append_new(theirs, jstr_take(hex_of(buf, n)));
	}
	json_object_set_new(in, "jws", jws_arr);
	json_object_set_new(in, "jwe", jwe_arr);
	json_object_set(in, "their_payloads", theirs);

	char path_py[128], path_in[128], path_out[128];
	snprintf(path_py, sizeof path_py, "%s/interop.py", dir);
	snprintf(path_in, sizeof path_in, "%s/in.json", dir);
	snprintf(path_out, sizeof path_out, "%s/out.json", dir);
	write_file(path_py, script);
	assert_int_equal(json_dump_file(in, path_in, JSON_COMPACT), 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s", path_py, path_in, path_out);
	rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (rc != 0)
		fail_msg("jwcrypto refused openmcim's objects (exit %d):\n%s%s", rc, out, err);
	print_message("%s", out);

	/* Theirs, for openmcim. */
	json_error_t je;
	json_t *res = json_load_file(path_out, 0, &je);
	assert_non_null(res);
	const omc_cert *anchors[] = {p.root};
	json_t *their_jws = json_object_get(res, "jws"), *their_jwe = json_object_get(res, "jwe");
	assert_int_equal(json_array_size(their_jws), N_OBJECTS);
	assert_int_equal(json_array_size(their_jwe), N_OBJECTS);
	for (size_t i = 0; i < N_OBJECTS; i++) {
		const char *want_hex = json_string_value(json_array_get(theirs, i));
		size_t want_len = tl_hex_var(buf, sizeof buf, want_hex);
		const char *c = json_string_value(json_array_get(their_jws, i));
		omc_jws_verified v;
		omc_err e = omc_jws_verify_x5c(&v, c, strlen(c), anchors, 1, TYP, 0);
		if (e != OMC_OK)
			fail_msg("jwcrypto JWS %zu refused: %s\n%s", i, omc_err_name(e), c);
		assert_int_equal(v.len, want_len);
		assert_memory_equal(v.payload, buf, want_len);
		omc_key *leaf_key = NULL;
		assert_err(omc_cert_public_key(&leaf_key, v.leaf), OMC_OK);
		assert_true(omc_key_equal_public(leaf_key, p.their_k));
		omc_key_free(leaf_key);
		char cn[64];
		assert_err(omc_cert_subject_cn(cn, sizeof cn, v.leaf), OMC_OK);
		assert_string_equal(cn, "jwcrypto.signer");
		omc_jws_verified_free(&v);

		c = json_string_value(json_array_get(their_jwe, i));
		uint8_t *pt = NULL;
		size_t n = 0;
		e = omc_jwe_decrypt(&pt, &n, c, strlen(c), p.recipient_k);
		if (e != OMC_OK)
			fail_msg("jwcrypto JWE %zu does not decrypt: %s\n%s", i, omc_err_name(e), c);
		assert_int_equal(n, want_len);
		assert_memory_equal(pt, buf, want_len);
		omc_free(pt);
	}
	print_message("openmcim: verified %d jwcrypto JWS, decrypted %d jwcrypto JWE\n", N_OBJECTS, N_OBJECTS);

	json_decref(res);
	json_decref(theirs);
	json_decref(in);
	omc_key_free(rpub);
	omc_cert_free(p.root);
	omc_cert_free(p.inter);
	omc_cert_free(p.signer);
	omc_cert_free(p.their);
	omc_key_free(p.root_k);
	omc_key_free(p.inter_k);
	omc_key_free(p.signer_k);
	omc_key_free(p.their_k);
	omc_key_free(p.recipient_k);
	omc_memzero(pass, sizeof pass);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwcrypto),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
