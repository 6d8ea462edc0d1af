/* JWS (ES256, x5c) and JWE (ECDH-ES, A256GCM) of src/proto.
 *
 * JWS: round trip with x5c and by key; the header as written; every
 * character of the compact form changed, every truncation: never a
 * different payload accepted (strict base64url: always refused); typ
 * mismatch; forged headers (alg "none", "HS256" keyed with the public key,
 * other algs, "crit", duplicates, bad x5c); signatures of the wrong shape
 * (65 bytes, DER, empty); untrusted, incomplete or expired chains, a leaf
 * that is not the signer, a CA as signer; peek.
 * JWE: round trip (empty and binary plaintexts too); the header as written;
 * wrong recipient; every character changed; other alg/enc (a genuine
 * A128GCM JWE from cjose included); epk off the curve, on another curve,
 * private, missing; truncated tags and IVs.
 * Both: oversized input refused before anything is parsed; random input;
 * allocation failure at every point; allocations routed through omc_alloc.
 * The signature and header caches: hits only for the very bytes that
 * verified, every other check still made on a hit.
 * Every test runs twice: with the certificate and signature caches of
 * src/proto (as shipped) and without them.
 * covers: TRE-7, TRE-9, SEC-6, SEC-9, SEC-12 */
#include "testlib.h"

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include "proto/proto_internal.h"

#define TYP "omc-test+jws"

typedef struct fix {
	omc_key *root_k, *inter_k, *leaf_k, *other_k;
	omc_cert *root, *inter, *leaf, *other_root;
} fix;

static omc_cert *issue(const char *cn, bool ca, const omc_key *subject, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	return tl_cert(cn, NULL, ca, 365, subject, issuer, issuer_key);
}

static int setup(void **state)
{
	fix *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	f->root_k = tl_key();
	f->inter_k = tl_key();
	f->leaf_k = tl_key();
	f->other_k = tl_key();
	f->root = issue("JOSE Root", true, f->root_k, NULL, f->root_k);
	f->inter = issue("JOSE Intermediate", true, f->inter_k, f->root, f->root_k);
	f->leaf = issue("signer.example", false, f->leaf_k, f->inter, f->inter_k);
	f->other_root = issue("JOSE Root", true, f->other_k, NULL, f->other_k);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fix *f = *state;
	omc_cert_free(f->root);
	omc_cert_free(f->inter);
	omc_cert_free(f->leaf);
	omc_cert_free(f->other_root);
	omc_key_free(f->root_k);
	omc_key_free(f->inter_k);
	omc_key_free(f->leaf_k);
	omc_key_free(f->other_k);
	free(f);
	return 0;
}

static char *sign(const fix *f, const char *payload)
{
	const omc_cert *x5c[] = {f->leaf, f->inter};
	char *c = NULL;
	assert_err(omc_jws_sign(&c, (const uint8_t *)payload, strlen(payload), f->leaf_k, x5c, 2, TYP), OMC_OK);
	return c;
}

static omc_err verify(const fix *f, const char *compact, size_t len, omc_jws_verified *v)
{
	const omc_cert *anchors[] = {f->root};
	return omc_jws_verify_x5c(v, compact, len, anchors, 1, TYP, 0);
}

/* --- building blocks for forged objects -------------------------------------------------------- */

static char *b64u(const void *in, size_t n)
{
	char *s = NULL;
	size_t sl = 0;
	assert_err(omc_jose_b64url_encode(&s, &sl, in, n), OMC_OK);
	return s;
}

static void *b64u_dec(const char *s, size_t slen, size_t *n)
{
	uint8_t *out = NULL;
	assert_err(omc_jose_b64url_decode(&out, n, s, slen), OMC_OK);
	return out;
}

/* "[\"<std b64 DER>\",...]" */
static char *x5c_json(const omc_cert *const *certs, size_t n)
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
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

typedef enum sig_shape { SIG_RS, SIG_RS_PLUS_ZERO, SIG_DER, SIG_EMPTY, SIG_HS256_PUBKEY } sig_shape;

/* A compact JWS with any header, signed by key in the given shape. */
static char *raw_jws(const char *hdr, const uint8_t *payload, size_t plen, const omc_key *key, sig_shape shape)
{
	char *h = b64u(hdr, strlen(hdr)), *p = b64u(payload, plen);
	size_t tbs_len = strlen(h) + 1 + strlen(p);
	char *tbs = omc_alloc(tbs_len + 1);
	snprintf(tbs, tbs_len + 1, "%s.%s", h, p);
	uint8_t sig[160];
	size_t sig_len = 0;
	if (shape == SIG_HS256_PUBKEY) {
		/* The classic confusion: HMAC keyed with the verifier's public key. */
		char *pem = NULL;
		size_t pn = 0;
		assert_err(omc_key_to_pem(&pem, &pn, key, false, NULL, 0), OMC_OK);
		unsigned int ml = 0;
		assert_non_null(HMAC(EVP_sha256(), pem, (int)pn, (const unsigned char *)tbs, tbs_len, sig, &ml));
		sig_len = ml;
		omc_free(pem);
	} else if (shape != SIG_EMPTY) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		uint8_t der[80];
		size_t dl = sizeof der;
		assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, NULL), 1);
		assert_int_equal(EVP_DigestSign(md, der, &dl, (const unsigned char *)tbs, tbs_len), 1);
		EVP_MD_CTX_free(md);
		if (shape == SIG_DER) {
			memcpy(sig, der, dl);
			sig_len = dl;
		} else {
			const unsigned char *q = der;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dl);
			const BIGNUM *r, *s;
			ECDSA_SIG_get0(es, &r, &s);
			assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
			assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
			ECDSA_SIG_free(es);
			sig_len = 64;
			if (shape == SIG_RS_PLUS_ZERO)
				sig[sig_len++] = 0;
		}
	}
	char *sg = b64u(sig, sig_len);
	size_t n = tbs_len + 1 + strlen(sg) + 1;
	char *out = omc_alloc(n);
	snprintf(out, n, "%s.%s", tbs, sg);
	omc_free(h);
	omc_free(p);
	omc_free(tbs);
	omc_free(sg);
	return out;
}

static char *hdr_with_x5c(const fix *f, const char *alg, const char *extra)
{
	const omc_cert *x5c[] = {f->leaf, f->inter};
	char *arr = x5c_json(x5c, 2);
	size_t n = strlen(arr) + 256;
	char *h = omc_alloc(n);
	snprintf(h, n, "{\"alg\":\"%s\",\"typ\":\"" TYP "\",\"x5c\":%s%s}", alg, arr, extra ? extra : "");
	omc_free(arr);
	return h;
}

/* --- JWS --------------------------------------------------------------------------------------- */

static void test_jws_round_trip(void **state)
{
	fix *f = *state;
	const char *payload = "{\"iss\":\"signer.example\",\"n\":1}";
	char *c = sign(f, payload);
	omc_jws_verified v;
	assert_err(verify(f, c, strlen(c), &v), OMC_OK);
	assert_int_equal(v.len, strlen(payload));
	assert_memory_equal(v.payload, payload, v.len);
	assert_int_equal(v.payload[v.len], 0);
	assert_string_equal(v.typ, TYP);
	assert_int_equal(v.anchor, 0);
	assert_non_null(v.leaf);
	uint8_t a[32], b[32];
	assert_err(omc_cert_fingerprint(a, v.leaf), OMC_OK);
	assert_err(omc_cert_fingerprint(b, f->leaf), OMC_OK);
	assert_memory_equal(a, b, 32);
	omc_jws_verified_free(&v);
	assert_null(v.payload);
	assert_null(v.leaf);
	omc_jws_verified_free(NULL);

	/* Any typ when none is wanted; the anchor index among several. */
	const omc_cert *anchors[] = {f->other_root, f->root};
	assert_err(omc_jws_verify_x5c(&v, c, strlen(c), anchors, 2, NULL, 0), OMC_OK);
	assert_int_equal(v.anchor, 1);
	omc_jws_verified_free(&v);

	/* Empty and binary payloads. */
	const omc_cert *x5c[] = {f->leaf, f->inter};
	uint8_t bin[300];
	tl_rand(bin, sizeof bin);
	bin[7] = 0;
	for (size_t len = 0; len < sizeof bin; len += 37) {
		char *d = NULL;
		assert_err(omc_jws_sign(&d, len ? bin : NULL, len, f->leaf_k, x5c, 2, TYP), OMC_OK);
		assert_err(verify(f, d, strlen(d), &v), OMC_OK);
		assert_int_equal(v.len, len);
		if (len)
			assert_memory_equal(v.payload, bin, len);
		omc_jws_verified_free(&v);
		omc_free(d);
	}
	omc_free(c);
}

/* RFC 7515 7.1, RFC 7518 3.4, RFC 7515 4.1.6 as written. */
static void test_jws_format(void **state)
{
	fix *f = *state;
	char *c = sign(f, "{}");
	omc_jose_seg seg[3];
	assert_err(omc_jose_split(seg, 3, c, strlen(c)), OMC_OK);
	size_t n = 0;
	char *hdr = b64u_dec(seg[0].s, seg[0].len, &n);
	json_error_t e;
	json_t *h = json_loads(hdr, 0, &e);
	assert_non_null(h);
	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(h, "typ")), TYP);
	json_t *x5c = json_object_get(h, "x5c");
	assert_int_equal(json_array_size(x5c), 2);
	/* Standard base64 (with padding) of the DER, leaf first. */
	const omc_cert *want[] = {f->leaf, f->inter};
	for (size_t i = 0; i < 2; i++) {
		uint8_t *der = NULL;
		size_t dl = 0;
		assert_err(omc_cert_to_der(&der, &dl, want[i]), OMC_OK);
		char b64[4096];
		assert_err(omc_b64_encode(b64, sizeof b64, der, dl, OMC_B64_STD), OMC_OK);
		assert_string_equal(json_string_value(json_array_get(x5c, i)), b64);
		omc_free(der);
	}
	uint8_t *sig = b64u_dec(seg[2].s, seg[2].len, &n);
	assert_int_equal(n, 64);
	omc_free(sig);
	json_decref(h);
	omc_free(hdr);
	omc_free(c);

	/* Without x5c: only alg and typ. */
	assert_err(omc_jws_sign(&c, (const uint8_t *)"x", 1, f->leaf_k, NULL, 0, TYP), OMC_OK);
	assert_err(omc_jose_split(seg, 3, c, strlen(c)), OMC_OK);
	hdr = b64u_dec(seg[0].s, seg[0].len, &n);
	assert_string_equal(hdr, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\"}");
	omc_free(hdr);
	omc_free(c);
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Two replacements for each character: its neighbour in the alphabet and a
 * random other byte (the dot, '=', '+', a space, a high byte...). */
static char replacement(char c, int which)
{
	if (which == 0) {
		const char *p = strchr(alphabet, c);
		return p && *p ? alphabet[((size_t)(p - alphabet) + 1) % 64] : 'A';
	}
	static const char odd[] = ".=+/ \n\x80\xff";
	uint8_t r;
	tl_rand(&r, 1);
	char o = (r & 1) ? odd[r % (sizeof odd - 1)] : alphabet[r % 64];
	return o == c ? '~' : o;
}

static void test_jws_every_character(void **state)
{
	fix *f = *state;
	const char *payload = "{\"claim\":\"value\",\"n\":12345}";
	char *c = sign(f, payload);
	size_t len = strlen(c);
	char *m = omc_alloc(len + 1);
	unsigned refused = 0;
	for (size_t i = 0; i < len; i++) {
		for (int which = 0; which < 2; which++) {
			memcpy(m, c, len + 1);
			m[i] = replacement(c[i], which);
			if (m[i] == c[i])
				continue;
			omc_jws_verified v;
			omc_err e = verify(f, m, len, &v);
			/* Never a different payload. Strict base64url makes
			 * every change a refusal, which is what is asserted. */
			if (e == OMC_OK) {
				bool same = v.len == strlen(payload) && memcmp(v.payload, payload, v.len) == 0;
				omc_jws_verified_free(&v);
				assert_true(same);
				fail_msg("position %zu: a changed JWS was accepted", i);
			}
			assert_null(v.payload);
			refused++;
		}
	}
	/* Every truncation, and one byte more. */
	for (size_t cut = 0; cut < len; cut++) {
		omc_jws_verified v;
		assert_int_not_equal(verify(f, c, cut, &v), OMC_OK);
	}
	char *longer = omc_alloc(len + 2);
	snprintf(longer, len + 2, "%sA", c);
	omc_jws_verified v;
	assert_int_not_equal(verify(f, longer, len + 1, &v), OMC_OK);
	print_message("%u changed JWS refused\n", refused);
	omc_free(longer);
	omc_free(m);
	omc_free(c);
}

static void test_jws_typ(void **state)
{
	fix *f = *state;
	char *c = sign(f, "{}");
	omc_jws_verified v;
	const omc_cert *anchors[] = {f->root};
	const char *const wrong[] = {"omc-test+JWS", "omc-test", "omc-test+jws ", "", "JWT"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(wrong); i++)
		assert_err(omc_jws_verify_x5c(&v, c, strlen(c), anchors, 1, wrong[i], 0), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, "other"), OMC_ERR_BAD_SIGNATURE);
	/* Signed without typ (forged, since omc_jws_sign insists on one). */
	const omc_cert *x5c[] = {f->leaf, f->inter};
	char *arr = x5c_json(x5c, 2);
	char hdr[4096];
	snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"x5c\":%s}", arr);
	char *d = raw_jws(hdr, (const uint8_t *)"{}", 2, f->leaf_k, SIG_RS);
	assert_err(omc_jws_verify_x5c(&v, d, strlen(d), anchors, 1, TYP, 0), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_x5c(&v, d, strlen(d), anchors, 1, NULL, 0), OMC_OK);
	assert_string_equal(v.typ, "");
	omc_jws_verified_free(&v);
	omc_free(d);
	omc_free(arr);
	omc_free(c);
}

static void test_jws_forged_headers(void **state)
{
	fix *f = *state;
	const uint8_t *pl = (const uint8_t *)"{\"admin\":true}";
	size_t pll = 14;
	omc_jws_verified v;

	/* The control: the helper makes objects that verify. */
	char *h = hdr_with_x5c(f, "ES256", NULL);
	char *c = raw_jws(h, pl, pll, f->leaf_k, SIG_RS);
	assert_err(verify(f, c, strlen(c), &v), OMC_OK);
	omc_jws_verified_free(&v);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, TYP), OMC_OK);
	omc_jws_verified_free(&v);
	omc_free(c);

	/* Wrong shapes of an honest signature. */
	const sig_shape shapes[] = {SIG_RS_PLUS_ZERO, SIG_DER, SIG_EMPTY};
	for (size_t i = 0; i < OMC_ARRAY_LEN(shapes); i++) {
		c = raw_jws(h, pl, pll, f->leaf_k, shapes[i]);
		assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
		assert_err(omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, TYP), OMC_ERR_BAD_SIGNATURE);
		omc_free(c);
	}
	omc_free(h);

	/* alg "none" (empty signature, or an honest ES256 one), "HS256" keyed
	 * with the public key, and other algorithms. */
	const char *const algs[] = {"none", "None", "HS256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "es256", ""};
	for (size_t i = 0; i < OMC_ARRAY_LEN(algs); i++) {
		h = hdr_with_x5c(f, algs[i], NULL);
		const sig_shape forged[] = {SIG_EMPTY, SIG_RS, SIG_HS256_PUBKEY};
		for (size_t j = 0; j < OMC_ARRAY_LEN(forged); j++) {
			c = raw_jws(h, pl, pll, f->leaf_k, forged[j]);
			assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
			assert_err(omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, TYP), OMC_ERR_BAD_SIGNATURE);
			assert_null(v.payload);
			omc_free(c);
		}
		omc_free(h);
	}

	/* Extensions, duplicates, members of the wrong type, a header that is
	 * not an object, x5c in the wrong encoding or size: all honestly signed. */
	const omc_cert *one[] = {f->leaf};
	char *leaf_only = x5c_json(one, 1);
	char bad_x5c_url[4096];
	snprintf(bad_x5c_url, sizeof bad_x5c_url, "%s", leaf_only);
	for (char *q = bad_x5c_url; *q; q++) /* standard to URL alphabet */
		*q = *q == '+' ? '-' : *q == '/' ? '_' : *q;
	const omc_cert *nine[9] = {f->leaf, f->inter, f->inter, f->inter, f->inter,
				   f->inter, f->inter, f->inter, f->inter};
	char *arr9 = x5c_json(nine, 9);
	char extra9[40000];
	snprintf(extra9, sizeof extra9, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":%s}", arr9);
	char url_x5c[8192];
	snprintf(url_x5c, sizeof url_x5c, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":%s}", bad_x5c_url);
	struct {
		const char *hdr;
		omc_err want;
	} cases[] = {
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"crit\":[\"exp\"],\"exp\":1}", OMC_ERR_BAD_SIGNATURE},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"b64\":false}", OMC_ERR_BAD_SIGNATURE},
		{"{\"alg\":\"none\",\"alg\":\"ES256\",\"typ\":\"" TYP "\"}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"typ\":\"other\"}", OMC_ERR_BAD_FORMAT},
		{"{\"typ\":\"" TYP "\"}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":[\"ES256\"],\"typ\":\"" TYP "\"}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":7}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"a b\"}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":[]}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":\"MIIB\"}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":[1]}", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":[\"MIIB\"]}", OMC_ERR_BAD_FORMAT},
		{url_x5c, OMC_ERR_BAD_FORMAT},
		{extra9, OMC_ERR_BAD_FORMAT},
		{"[\"ES256\"]", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\"", OMC_ERR_BAD_FORMAT},
		{"{\"alg\":\"ES256\"} ", OMC_OK}, /* JSON allows the space */
		{"{\"alg\":\"ES256\"}x", OMC_ERR_BAD_FORMAT},
		{"", OMC_ERR_BAD_FORMAT},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		c = raw_jws(cases[i].hdr, pl, pll, f->leaf_k, SIG_RS);
		omc_err e = omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, NULL);
		if (e != cases[i].want)
			fail_msg("header %zu (%.60s): got %s, want %s", i, cases[i].hdr, omc_err_name(e),
				 omc_err_name(cases[i].want));
		omc_jws_verified_free(&v);
		omc_free(c);
	}
	omc_free(arr9);
	omc_free(leaf_only);
}

static void test_jws_untrusted(void **state)
{
	fix *f = *state;
	const uint8_t *pl = (const uint8_t *)"{}";
	omc_jws_verified v;
	char *c = sign(f, "{}");
	/* Another anchor; a chain that has expired at `now`. */
	const omc_cert *other[] = {f->other_root};
	assert_err(omc_jws_verify_x5c(&v, c, strlen(c), other, 1, TYP, 0), OMC_ERR_BAD_SIGNATURE);
	const omc_cert *anchors[] = {f->root};
	assert_err(omc_jws_verify_x5c(&v, c, strlen(c), anchors, 1, TYP, time(NULL) + 400 * 86400L),
		   OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_x5c(&v, c, strlen(c), anchors, 1, TYP, time(NULL) + 300 * 86400L), OMC_OK);
	omc_jws_verified_free(&v);
	omc_free(c);

	/* The leaf alone (intermediate missing). */
	const omc_cert *leaf_only[] = {f->leaf};
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, leaf_only, 1, TYP), OMC_OK);
	assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
	omc_free(c);

	/* No x5c at all. */
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, NULL, 0, TYP), OMC_OK);
	assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
	omc_free(c);

	/* A good chain, but the signature is another key's. */
	char *h = hdr_with_x5c(f, "ES256", NULL);
	c = raw_jws(h, pl, 2, f->other_k, SIG_RS);
	assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
	omc_free(c);
	omc_free(h);

	/* A CA certificate as the signer: the chain is fine, but its key usage
	 * has no digitalSignature. omc_jws_sign will not make it. */
	const omc_cert *ca_chain[] = {f->inter};
	assert_err(omc_jws_sign(&c, pl, 2, f->inter_k, ca_chain, 1, TYP), OMC_ERR_BAD_ARG);
	char *arr = x5c_json(ca_chain, 1);
	char hca[4096];
	snprintf(hca, sizeof hca, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"x5c\":%s}", arr);
	omc_free(arr);
	c = raw_jws(hca, pl, 2, f->inter_k, SIG_RS);
	assert_err(verify(f, c, strlen(c), &v), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), f->inter_k, TYP), OMC_OK);
	omc_jws_verified_free(&v);
	omc_free(c);
}

/* The signature cache (src/proto/sig_memo.c): a signature that verified
 * is not verified again (a hit), yet every other check runs on a hit (the
 * chain to the anchors given, its validity at the time, typ); a JWS that
 * differs in any character misses and is refused; refusals are not kept.
 * With the caches off there is never a hit. */
static void test_jws_sig_cache(void **state)
{
	fix *f = *state;
	bool on = omc_test_proto_cache_on();
	char *c = sign(f, "{\"sig\":\"cache\"}"); /* ECDSA: a signature never seen before */
	size_t len = strlen(c);
	omc_jws_verified v;
	unsigned long h = omc_test_sig_cache_hits();
	assert_err(verify(f, c, len, &v), OMC_OK);
	omc_jws_verified_free(&v);
	assert_int_equal(omc_test_sig_cache_hits(), h);
	assert_err(verify(f, c, len, &v), OMC_OK);
	assert_int_equal(v.len, 15);
	assert_memory_equal(v.payload, "{\"sig\":\"cache\"}", 15);
	omc_jws_verified_free(&v);
	assert_int_equal(omc_test_sig_cache_hits(), h + (on ? 1 : 0));
	/* Known, but under other anchors, out of the chain's validity, of
	 * another typ: refused, before the cache is asked. */
	const omc_cert *other[] = {f->other_root};
	assert_err(omc_jws_verify_x5c(&v, c, len, other, 1, TYP, 0), OMC_ERR_BAD_SIGNATURE);
	const omc_cert *anchors[] = {f->root};
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, TYP, time(NULL) + 400 * 86400L), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, "omc-other+jws", 0), OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(omc_test_sig_cache_hits(), h + (on ? 1 : 0));
	/* One character changed anywhere (the header with its x5c, the
	 * payload, the signature): never a hit, always refused. */
	char *m = omc_alloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (c[i] == '.')
			continue;
		memcpy(m, c, len + 1);
		m[i] = replacement(c[i], 0);
		assert_int_not_equal(verify(f, m, len, &v), OMC_OK);
		assert_null(v.payload);
	}
	assert_int_equal(omc_test_sig_cache_hits(), h + (on ? 1 : 0));
	/* The same header and payload signed by a key that is not the leaf's:
	 * refused every time, in full. */
	char *hd = hdr_with_x5c(f, "ES256", NULL);
	char *forged = raw_jws(hd, (const uint8_t *)"{}", 2, f->other_k, SIG_RS);
	for (int i = 0; i < 3; i++)
		assert_err(verify(f, forged, strlen(forged), &v), OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(omc_test_sig_cache_hits(), h + (on ? 1 : 0));
	/* An MCIM package (its payload holds K and OPc) is never remembered. */
	const omc_cert *x5c[] = {f->leaf, f->inter};
	char *pk = NULL;
	assert_err(omc_jws_sign(&pk, (const uint8_t *)"{\"k\":1}", 7, f->leaf_k, x5c, 2, "omc-mcim-package+jwt"), OMC_OK);
	for (int i = 0; i < 2; i++) {
		assert_err(omc_jws_verify_x5c(&v, pk, strlen(pk), anchors, 1, "omc-mcim-package+jwt", 0), OMC_OK);
		omc_jws_verified_free(&v);
	}
	assert_int_equal(omc_test_sig_cache_hits(), h + (on ? 1 : 0));
	omc_free(pk);
	/* More signatures than the cache holds: the oldest go, nothing breaks. */
	for (int i = 0; i < OMC_SIG_CACHE_N + 4; i++) {
		char *ci = sign(f, "{}");
		assert_err(verify(f, ci, strlen(ci), &v), OMC_OK);
		omc_jws_verified_free(&v);
		omc_free(ci);
	}
	assert_err(verify(f, c, len, &v), OMC_OK);
	omc_jws_verified_free(&v);
	omc_free(forged);
	omc_free(hd);
	omc_free(m);
	omc_free(c);
}

/* The header cache (src/proto/hdr_memo.c): the header of a JWS that
 * verified is not parsed again (a hit, for exactly the same bytes), yet on
 * a hit the chain to the anchors, its validity, typ and the signature are
 * checked as before, and what is handed out is the same; a header that was
 * only refused, or an MCIM package's, is not kept; peek uses it too. With
 * the caches off there is never a hit. */
static void test_jws_hdr_cache(void **state)
{
	fix *f = *state;
	bool on = omc_test_proto_cache_on();
	const omc_cert *x5c[] = {f->leaf, f->inter};
	const omc_cert *anchors[] = {f->root};
	const char *typ = "omc-hdr-cache+jws"; /* a header no other test verified */
	char *c = NULL;
	assert_err(omc_jws_sign(&c, (const uint8_t *)"{\"h\":1}", 7, f->leaf_k, x5c, 2, typ), OMC_OK);
	size_t len = strlen(c);
	omc_jws_verified v;
	unsigned long h = omc_test_hdr_cache_hits();
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, typ, 0), OMC_OK);
	omc_jws_verified_free(&v);
	assert_int_equal(omc_test_hdr_cache_hits(), h);
	/* Another payload under the same header: a hit, the same result. */
	char *c2 = NULL;
	assert_err(omc_jws_sign(&c2, (const uint8_t *)"{\"h\":2}", 7, f->leaf_k, x5c, 2, typ), OMC_OK);
	assert_err(omc_jws_verify_x5c(&v, c2, strlen(c2), anchors, 1, typ, 0), OMC_OK);
	assert_int_equal(omc_test_hdr_cache_hits(), h + (on ? 1 : 0));
	assert_memory_equal(v.payload, "{\"h\":2}", 7);
	assert_string_equal(v.typ, typ);
	uint8_t fp_got[32], fp_want[32];
	assert_err(omc_cert_fingerprint(fp_got, v.leaf), OMC_OK);
	assert_err(omc_cert_fingerprint(fp_want, f->leaf), OMC_OK);
	assert_memory_equal(fp_got, fp_want, 32);
	omc_jws_verified_free(&v);
	/* On a hit: other anchors, out of the chain's validity, another typ,
	 * a signature changed: all refused. */
	unsigned long h1 = omc_test_hdr_cache_hits();
	const omc_cert *other[] = {f->other_root};
	assert_err(omc_jws_verify_x5c(&v, c, len, other, 1, typ, 0), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, typ, time(NULL) + 400 * 86400L), OMC_ERR_BAD_SIGNATURE);
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, TYP, 0), OMC_ERR_BAD_SIGNATURE);
	char *m = omc_alloc(len + 1);
	memcpy(m, c, len + 1);
	m[len - 2] = replacement(c[len - 2], 0);
	assert_err(omc_jws_verify_x5c(&v, m, len, anchors, 1, typ, 0), OMC_ERR_BAD_SIGNATURE);
	assert_null(v.payload);
	assert_int_equal(omc_test_hdr_cache_hits(), h1 + (on ? 4 : 0));
	/* The same header with the payload and signature of another JWS (by
	 * a key that is not the leaf's): a hit, and refused every time. */
	const char *dot = strchr(c, '.');
	char *forged = raw_jws("{}", (const uint8_t *)"{}", 2, f->other_k, SIG_RS);
	const char *fdot = strchr(forged, '.');
	size_t flen = (size_t)(dot - c) + strlen(fdot);
	char *fh = omc_alloc(flen + 1);
	memcpy(fh, c, (size_t)(dot - c));
	memcpy(fh + (dot - c), fdot, strlen(fdot) + 1);
	for (int i = 0; i < 2; i++)
		assert_err(omc_jws_verify_x5c(&v, fh, flen, anchors, 1, typ, 0), OMC_ERR_BAD_SIGNATURE);
	/* A header that was only ever refused is not kept: no hit. */
	unsigned long h2 = omc_test_hdr_cache_hits();
	char *hd = hdr_with_x5c(f, "ES256", ",\"kid\":\"refused only\"");
	char *bad = raw_jws(hd, (const uint8_t *)"{}", 2, f->other_k, SIG_RS);
	for (int i = 0; i < 3; i++)
		assert_err(verify(f, bad, strlen(bad), &v), OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(omc_test_hdr_cache_hits(), h2);
	/* An MCIM package's header is never kept. */
	char *pk = NULL;
	assert_err(omc_jws_sign(&pk, (const uint8_t *)"{\"k\":1}", 7, f->leaf_k, x5c, 2, "omc-mcim-package+jwt"), OMC_OK);
	for (int i = 0; i < 2; i++) {
		assert_err(omc_jws_verify_x5c(&v, pk, strlen(pk), anchors, 1, "omc-mcim-package+jwt", 0), OMC_OK);
		omc_jws_verified_free(&v);
	}
	assert_int_equal(omc_test_hdr_cache_hits(), h2);
	/* peek: the same payload, hit or not. */
	uint8_t *p = NULL;
	size_t n = 0;
	assert_err(omc_jws_peek(&p, &n, c2, strlen(c2)), OMC_OK);
	assert_int_equal(n, 7);
	assert_memory_equal(p, "{\"h\":2}", 7);
	omc_free(p);
	assert_int_equal(omc_test_hdr_cache_hits(), h2 + (on ? 1 : 0));
	/* More headers than the cache holds: the oldest go, nothing breaks. */
	for (int i = 0; i < OMC_HDR_CACHE_N + 4; i++) {
		char t[32], *ci = NULL;
		snprintf(t, sizeof t, "omc-evict-%d+jws", i);
		assert_err(omc_jws_sign(&ci, (const uint8_t *)"{}", 2, f->leaf_k, x5c, 2, t), OMC_OK);
		assert_err(omc_jws_verify_x5c(&v, ci, strlen(ci), anchors, 1, t, 0), OMC_OK);
		omc_jws_verified_free(&v);
		omc_free(ci);
	}
	assert_err(omc_jws_verify_x5c(&v, c, len, anchors, 1, typ, 0), OMC_OK);
	assert_memory_equal(v.payload, "{\"h\":1}", 7);
	omc_jws_verified_free(&v);
	omc_free(pk);
	omc_free(bad);
	omc_free(hd);
	omc_free(fh);
	omc_free(forged);
	omc_free(m);
	omc_free(c2);
	omc_free(c);
}

static void test_jws_verify_key_and_peek(void **state)
{
	fix *f = *state;
	const char *payload = "{\"iss\":\"me\"}";
	char *c = NULL;
	assert_err(omc_jws_sign(&c, (const uint8_t *)payload, strlen(payload), f->leaf_k, NULL, 0, TYP), OMC_OK);
	omc_jws_verified v;
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, f->leaf_k), OMC_OK);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), pub, TYP), OMC_OK);
	assert_null(v.leaf);
	assert_string_equal((const char *)v.payload, payload);
	omc_jws_verified_free(&v);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), f->other_k, TYP), OMC_ERR_BAD_SIGNATURE);

	uint8_t *p = NULL;
	size_t n = 0;
	assert_err(omc_jws_peek(&p, &n, c, strlen(c)), OMC_OK);
	assert_int_equal(n, strlen(payload));
	assert_string_equal((const char *)p, payload);
	omc_free(p);
	assert_err(omc_jws_peek(&p, &n, "a.b", 3), OMC_ERR_BAD_FORMAT);
	assert_err(omc_jws_peek(&p, &n, "e30.e30.", 8), OMC_OK); /* {} . {} . (nothing verified) */
	omc_free(p);
	assert_err(omc_jws_peek(&p, &n, "e30.e3.", 7), OMC_ERR_BAD_FORMAT);
	assert_null(p);
	omc_key_free(pub);
	omc_free(c);
}

static void test_jws_sign_args(void **state)
{
	fix *f = *state;
	char *c = NULL;
	const omc_cert *x5c[] = {f->leaf, f->inter};
	const omc_cert *wrong_leaf[] = {f->inter};
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, f->leaf_k), OMC_OK);
	const uint8_t *pl = (const uint8_t *)"{}";
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, 2, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, 2, ""), OMC_ERR_BAD_ARG);
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, 2, "a b"), OMC_ERR_BAD_ARG);
	char long_typ[65];
	memset(long_typ, 't', 64);
	long_typ[64] = '\0';
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, 2, long_typ), OMC_ERR_BAD_ARG);
	long_typ[63] = '\0';
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, 2, long_typ), OMC_OK);
	omc_free(c);
	assert_err(omc_jws_sign(&c, pl, 2, pub, x5c, 2, TYP), OMC_ERR_BAD_ARG);
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, wrong_leaf, 1, TYP), OMC_ERR_BAD_ARG);
	assert_err(omc_jws_sign(&c, pl, 2, f->leaf_k, x5c, OMC_X5C_MAX + 1, TYP), OMC_ERR_BAD_ARG);
	assert_err(omc_jws_sign(&c, NULL, 2, f->leaf_k, x5c, 2, TYP), OMC_ERR_BAD_ARG);
	uint8_t *big = omc_calloc(1, OMC_JOSE_MAX + 1);
	assert_non_null(big);
	assert_err(omc_jws_sign(&c, big, OMC_JOSE_MAX, f->leaf_k, x5c, 2, TYP), OMC_ERR_TOO_LARGE);
	assert_err(omc_jws_sign(&c, big, OMC_JOSE_MAX + 1, f->leaf_k, x5c, 2, TYP), OMC_ERR_TOO_LARGE);
	omc_free(big);
	assert_null(c);
	omc_key_free(pub);
}

/* --- JWE ---------------------------------------------------------------------------------------- */

static void test_jwe_round_trip(void **state)
{
	fix *f = *state;
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, f->leaf_k), OMC_OK);
	uint8_t pt[1000];
	tl_rand(pt, sizeof pt);
	pt[3] = 0;
	for (size_t len = 0; len <= sizeof pt; len += 111) {
		char *c = NULL;
		assert_err(omc_jwe_encrypt(&c, len ? pt : NULL, len, pub, "omc-test+jwe"), OMC_OK);
		uint8_t *out = NULL;
		size_t n = 99;
		assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), f->leaf_k), OMC_OK);
		assert_int_equal(n, len);
		if (len)
			assert_memory_equal(out, pt, len);
		assert_int_equal(out[n], 0);
		omc_free(out);

		/* The shape: header, no encrypted key, 96-bit IV, 128-bit tag. */
		omc_jose_seg seg[5];
		assert_err(omc_jose_split(seg, 5, c, strlen(c)), OMC_OK);
		assert_int_equal(seg[1].len, 0);
		assert_int_equal(seg[2].len, 16);
		assert_int_equal(seg[4].len, 22);
		size_t hl = 0;
		char *hdr = b64u_dec(seg[0].s, seg[0].len, &hl);
		json_error_t e;
		json_t *h = json_loads(hdr, 0, &e);
		assert_string_equal(json_string_value(json_object_get(h, "alg")), "ECDH-ES");
		assert_string_equal(json_string_value(json_object_get(h, "enc")), "A256GCM");
		assert_string_equal(json_string_value(json_object_get(h, "typ")), "omc-test+jwe");
		json_t *epk = json_object_get(h, "epk");
		assert_string_equal(json_string_value(json_object_get(epk, "kty")), "EC");
		assert_string_equal(json_string_value(json_object_get(epk, "crv")), "P-256");
		assert_null(json_object_get(epk, "d"));
		json_decref(h);
		omc_free(hdr);
		omc_free(c);
	}
	/* Without typ. */
	char *c = NULL;
	assert_err(omc_jwe_encrypt(&c, pt, 10, pub, NULL), OMC_OK);
	uint8_t *out = NULL;
	size_t n = 0;
	assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), f->leaf_k), OMC_OK);
	omc_free(out);
	/* Two encryptions of the same plaintext differ (fresh epk and IV). */
	char *c2 = NULL;
	assert_err(omc_jwe_encrypt(&c2, pt, 10, pub, NULL), OMC_OK);
	assert_string_not_equal(c, c2);
	omc_free(c2);
	omc_free(c);
	omc_key_free(pub);
}

static void test_jwe_wrong_recipient(void **state)
{
	fix *f = *state;
	char *c = NULL;
	assert_err(omc_jwe_encrypt(&c, (const uint8_t *)"secret", 6, f->leaf_k, NULL), OMC_OK);
	uint8_t *out = NULL;
	size_t n = 0;
	assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), f->other_k), OMC_ERR_AUTH_FAILED);
	assert_null(out);
	assert_int_equal(n, 0);
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, f->leaf_k), OMC_OK);
	assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), pub), OMC_ERR_BAD_ARG);
	omc_key_free(pub);
	omc_free(c);
}

static void test_jwe_every_character(void **state)
{
	fix *f = *state;
	char *c = NULL;
	const char *pt = "{\"k\":\"00112233445566778899aabbccddeeff\"}";
	assert_err(omc_jwe_encrypt(&c, (const uint8_t *)pt, strlen(pt), f->leaf_k, "omc-test+jwe"), OMC_OK);
	size_t len = strlen(c);
	char *m = omc_alloc(len + 1);
	unsigned refused = 0;
	for (size_t i = 0; i < len; i++) {
		for (int which = 0; which < 2; which++) {
			memcpy(m, c, len + 1);
			m[i] = replacement(c[i], which);
			if (m[i] == c[i])
				continue;
			uint8_t *out = NULL;
			size_t n = 0;
			omc_err e = omc_jwe_decrypt(&out, &n, m, len, f->leaf_k);
			if (e == OMC_OK) {
				bool same = n == strlen(pt) && memcmp(out, pt, n) == 0;
				omc_free(out);
				assert_true(same);
				fail_msg("position %zu: a changed JWE decrypted", i);
			}
			assert_true(e == OMC_ERR_AUTH_FAILED || e == OMC_ERR_BAD_FORMAT);
			refused++;
		}
	}
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *out = NULL;
		size_t n = 0;
		assert_int_not_equal(omc_jwe_decrypt(&out, &n, c, cut, f->leaf_k), OMC_OK);
	}
	print_message("%u changed JWE refused\n", refused);
	omc_free(m);
	omc_free(c);
}

/* Replace the protected header of a JWE (the tag then fails too, but the
 * header checks come first; either way nothing decrypts). */
static char *with_header(const char *jwe, const char *hdr)
{
	const char *dot = strchr(jwe, '.');
	char *h = b64u(hdr, strlen(hdr));
	size_t n = strlen(h) + strlen(dot) + 1;
	char *out = omc_alloc(n);
	snprintf(out, n, "%s%s", h, dot);
	omc_free(h);
	return out;
}

static char *epk_json(const uint8_t x[32], const uint8_t y[32], const char *crv, const char *extra)
{
	char *xs = b64u(x, 32), *ys = b64u(y, 32);
	char *s = omc_alloc(512);
	snprintf(s, 512, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", crv, xs, ys, extra ? extra : "");
	omc_free(xs);
	omc_free(ys);
	return s;
}

static void test_jwe_alg_enc_epk(void **state)
{
	fix *f = *state;
	char *c = NULL;
	assert_err(omc_jwe_encrypt(&c, (const uint8_t *)"secret", 6, f->leaf_k, NULL), OMC_OK);
	uint8_t *out = NULL;
	size_t n = 0;
	/* The original header, as a control: re-encoded identically it works. */
	omc_jose_seg seg[5];
	assert_err(omc_jose_split(seg, 5, c, strlen(c)), OMC_OK);
	size_t hl = 0;
	char *orig = b64u_dec(seg[0].s, seg[0].len, &hl);
	char *same = with_header(c, orig);
	assert_err(omc_jwe_decrypt(&out, &n, same, strlen(same), f->leaf_k), OMC_OK);
	omc_free(out);
	out = NULL;
	omc_free(same);
	json_error_t je;
	json_t *h = json_loads(orig, 0, &je);
	char *epk = json_dumps(json_object_get(h, "epk"), JSON_COMPACT);
	json_decref(h);

	uint8_t x[32], y[32];
	{
		json_t *e = json_loads(epk, 0, &je);
		const char *xs = json_string_value(json_object_get(e, "x"));
		const char *ys = json_string_value(json_object_get(e, "y"));
		assert_err(omc_jose_b64url_fixed(x, 32, xs, strlen(xs)), OMC_OK);
		assert_err(omc_jose_b64url_fixed(y, 32, ys, strlen(ys)), OMC_OK);
		json_decref(e);
	}
	uint8_t y1[32];
	memcpy(y1, y, 32);
	y1[31] ^= 1; /* off the curve */
	char *off = epk_json(x, y1, "P-256", NULL);
	char *p384 = epk_json(x, y, "P-384", NULL);
	char *priv = epk_json(x, y, "P-256", ",\"d\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"");
	uint8_t zero[32] = {0};
	char *origin = epk_json(zero, zero, "P-256", NULL);

	char hdrs[10][1024];
	snprintf(hdrs[0], 1024, "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"epk\":%s}", epk);
	snprintf(hdrs[1], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A128GCM\",\"epk\":%s}", epk);
	snprintf(hdrs[2], 1024, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":%s}", epk);
	snprintf(hdrs[3], 1024, "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}");
	snprintf(hdrs[4], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256CBC-HS512\",\"epk\":%s}", epk);
	snprintf(hdrs[5], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", off);
	snprintf(hdrs[6], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", p384);
	snprintf(hdrs[7], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", priv);
	snprintf(hdrs[8], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\"}");
	snprintf(hdrs[9], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":%s}", origin);
	for (size_t i = 0; i < OMC_ARRAY_LEN(hdrs); i++) {
		char *m = with_header(c, hdrs[i]);
		omc_err e = omc_jwe_decrypt(&out, &n, m, strlen(m), f->leaf_k);
		if (e != OMC_ERR_AUTH_FAILED)
			fail_msg("header %zu: got %s", i, omc_err_name(e));
		omc_free(m);
	}
	/* Extensions and compression are refused, duplicates are malformed. */
	char more[3][1024];
	snprintf(more[0], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"epk\":%s}", epk);
	snprintf(more[1], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"crit\":[\"x\"],\"x\":1,\"epk\":%s}", epk);
	snprintf(more[2], 1024, "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"enc\":\"A256GCM\",\"epk\":%s}", epk);
	const omc_err want[3] = {OMC_ERR_AUTH_FAILED, OMC_ERR_AUTH_FAILED, OMC_ERR_BAD_FORMAT};
	for (size_t i = 0; i < 3; i++) {
		char *m = with_header(c, more[i]);
		assert_err(omc_jwe_decrypt(&out, &n, m, strlen(m), f->leaf_k), want[i]);
		omc_free(m);
	}
	assert_null(out);
	omc_free(off);
	omc_free(p384);
	omc_free(priv);
	omc_free(origin);
	omc_free(epk);
	omc_free(orig);
	omc_free(c);
}

/* A genuine JWE with enc A128GCM, made by cjose to our key: it would
 * decrypt, and is refused for its algorithm. */
static void test_jwe_genuine_other_enc(void **state)
{
	fix *f = *state;
	cjose_jwk_t *jwk = NULL;
	assert_err(omc_proto_key_to_cjose(&jwk, f->leaf_k), OMC_OK);
	cjose_err err;
	cjose_header_t *h = cjose_header_new(&err);
	assert_true(cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ECDH_ES, &err));
	assert_true(cjose_header_set(h, CJOSE_HDR_ENC, CJOSE_HDR_ENC_A128GCM, &err));
	cjose_jwe_t *jwe = cjose_jwe_encrypt(jwk, h, (const uint8_t *)"hello", 5, &err);
	assert_non_null(jwe);
	char *c = cjose_jwe_export(jwe, &err);
	assert_non_null(c);
	uint8_t *out = NULL;
	size_t n = 0;
	assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), f->leaf_k), OMC_ERR_AUTH_FAILED);
	cjose_get_dealloc()(c);
	cjose_jwe_release(jwe);
	cjose_header_release(h);
	cjose_jwk_release(jwk);
}

/* An independent sender: cjose encrypts (ECDH-ES, A256GCM, with and without
 * apu/apv) and openmcim opens; openmcim's own JWE has the members cjose's has. */
static void test_jwe_from_cjose(void **state)
{
	fix *f = *state;
	for (int with_parties = 0; with_parties < 2; with_parties++) {
		cjose_jwk_t *jwk = NULL;
		assert_err(omc_proto_key_to_cjose(&jwk, f->leaf_k), OMC_OK);
		cjose_err err;
		cjose_header_t *h = cjose_header_new(&err);
		assert_true(cjose_header_set(h, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ECDH_ES, &err));
		assert_true(cjose_header_set(h, CJOSE_HDR_ENC, CJOSE_HDR_ENC_A256GCM, &err));
		assert_true(cjose_header_set(h, "typ", "omc-test+jwe", &err));
		if (with_parties) {
			assert_true(cjose_header_set(h, CJOSE_HDR_APU, "QWxpY2U", &err));
			assert_true(cjose_header_set(h, CJOSE_HDR_APV, "Qm9i", &err));
		}
		static const char msg[] = "a message from cjose";
		cjose_jwe_t *jwe = cjose_jwe_encrypt(jwk, h, (const uint8_t *)msg, sizeof msg - 1, &err);
		assert_non_null(jwe);
		char *c = cjose_jwe_export(jwe, &err);
		assert_non_null(c);
		uint8_t *out = NULL;
		size_t n = 0;
		assert_err(omc_jwe_decrypt(&out, &n, c, strlen(c), f->leaf_k), OMC_OK);
		assert_int_equal(n, sizeof msg - 1);
		assert_memory_equal(out, msg, n);
		omc_free(out);
		/* openmcim's: the same members as cjose's, no more. */
		char *mine = NULL;
		assert_err(omc_jwe_encrypt(&mine, (const uint8_t *)msg, sizeof msg - 1, f->leaf_k, "omc-test+jwe"), OMC_OK);
		omc_jose_seg seg[5], cs[5];
		assert_err(omc_jose_split(seg, 5, mine, strlen(mine)), OMC_OK);
		assert_err(omc_jose_split(cs, 5, c, strlen(c)), OMC_OK);
		json_t *hm = NULL, *hc = NULL;
		assert_err(omc_jose_header_parse(&hm, &seg[0], 4096), OMC_OK);
		assert_err(omc_jose_header_parse(&hc, &cs[0], 4096), OMC_OK);
		if (!with_parties) {
			assert_int_equal(json_object_size(hm), json_object_size(hc));
			const char *k;
			json_t *v;
			json_object_foreach(hc, k, v) assert_non_null(json_object_get(hm, k));
			assert_int_equal(json_object_size(json_object_get(hm, "epk")), json_object_size(json_object_get(hc, "epk")));
		}
		for (int i = 1; i < 5; i++) /* no encrypted key, IV, ciphertext, tag */
			assert_int_equal(seg[i].len, cs[i].len);
		json_decref(hm);
		json_decref(hc);
		omc_free(mine);
		cjose_get_dealloc()(c);
		cjose_jwe_release(jwe);
		cjose_header_release(h);
		cjose_jwk_release(jwk);
	}
}

static char *replace_seg(const char *jwe, size_t which, const char *with)
{
	omc_jose_seg seg[5];
	assert_err(omc_jose_split(seg, 5, jwe, strlen(jwe)), OMC_OK);
	size_t n = strlen(jwe) + strlen(with) + 1;
	char *out = omc_alloc(n);
	out[0] = '\0';
	for (size_t i = 0; i < 5; i++) {
		size_t l = strlen(out);
		if (i == which)
			snprintf(out + l, n - l, "%s%s", i ? "." : "", with);
		else
			snprintf(out + l, n - l, "%s%.*s", i ? "." : "", (int)seg[i].len, seg[i].s);
	}
	return out;
}

static void test_jwe_segments(void **state)
{
	fix *f = *state;
	char *c = NULL;
	assert_err(omc_jwe_encrypt(&c, (const uint8_t *)"secret!", 7, f->leaf_k, NULL), OMC_OK);
	omc_jose_seg seg[5];
	assert_err(omc_jose_split(seg, 5, c, strlen(c)), OMC_OK);
	size_t n = 0;
	uint8_t *tag = b64u_dec(seg[4].s, seg[4].len, &n);
	uint8_t *iv = b64u_dec(seg[2].s, seg[2].len, &n);
	struct {
		size_t seg;
		char *with;
	} cases[] = {
		{4, b64u(tag, 12)}, /* truncated tags (CVE-2023-37464 class) */
		{4, b64u(tag, 15)},
		{4, b64u(tag, 1)},
		{4, b64u(tag, 0)},
		{2, b64u(iv, 11)},
		{2, b64u(iv, 0)},
		{1, b64u(iv, 12)}, /* an encrypted key where there is none */
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		char *m = replace_seg(c, cases[i].seg, cases[i].with);
		uint8_t *out = NULL;
		size_t ol = 0;
		assert_err(omc_jwe_decrypt(&out, &ol, m, strlen(m), f->leaf_k), OMC_ERR_BAD_FORMAT);
		omc_free(m);
		omc_free(cases[i].with);
	}
	/* Four or six segments. */
	uint8_t *out = NULL;
	const char *dot = strrchr(c, '.');
	assert_err(omc_jwe_decrypt(&out, &n, c, (size_t)(dot - c), f->leaf_k), OMC_ERR_BAD_FORMAT);
	char *six = omc_alloc(strlen(c) + 3);
	snprintf(six, strlen(c) + 3, "%s.A", c);
	assert_err(omc_jwe_decrypt(&out, &n, six, strlen(six), f->leaf_k), OMC_ERR_BAD_FORMAT);
	omc_free(six);
	omc_free(tag);
	omc_free(iv);
	omc_free(c);
}

/* --- both ----------------------------------------------------------------------------------------- */

static void test_oversized(void **state)
{
	fix *f = *state;
	char *big = omc_alloc(OMC_JOSE_MAX + 2);
	memset(big, 'A', OMC_JOSE_MAX + 1);
	big[100] = '.';
	big[200] = '.';
	big[OMC_JOSE_MAX + 1] = '\0';
	const omc_cert *anchors[] = {f->root};
	omc_jws_verified v;
	uint8_t *p = NULL;
	size_t n = 0;
	/* Refused before any allocation, i.e. before anything is parsed. */
	unsigned long before = omc_test_alloc_count();
	assert_err(omc_jws_verify_x5c(&v, big, OMC_JOSE_MAX + 1, anchors, 1, TYP, 0), OMC_ERR_TOO_LARGE);
	assert_err(omc_jws_verify_key(&v, big, OMC_JOSE_MAX + 1, f->leaf_k, TYP), OMC_ERR_TOO_LARGE);
	assert_err(omc_jws_peek(&p, &n, big, OMC_JOSE_MAX + 1), OMC_ERR_TOO_LARGE);
	assert_err(omc_jwe_decrypt(&p, &n, big, OMC_JOSE_MAX + 1, f->leaf_k), OMC_ERR_TOO_LARGE);
	assert_err(omc_jws_verify_key(&v, big, SIZE_MAX, f->leaf_k, TYP), OMC_ERR_TOO_LARGE);
	assert_int_equal(omc_test_alloc_count(), before);
	/* At the limit it is parsed (and is no JWS). */
	assert_err(omc_jws_verify_key(&v, big, OMC_JOSE_MAX, f->leaf_k, TYP), OMC_ERR_BAD_FORMAT);
	omc_free(big);

	/* The largest payload that fits is signed and verified. */
	size_t max_payload = (OMC_JOSE_MAX - 200) / 4 * 3;
	uint8_t *pl = omc_calloc(1, max_payload + 300);
	char *c = NULL;
	assert_err(omc_jws_sign(&c, pl, max_payload, f->leaf_k, NULL, 0, TYP), OMC_OK);
	assert_true(strlen(c) <= OMC_JOSE_MAX);
	assert_err(omc_jws_verify_key(&v, c, strlen(c), f->leaf_k, TYP), OMC_OK);
	assert_int_equal(v.len, max_payload);
	omc_jws_verified_free(&v);
	omc_free(c);
	assert_err(omc_jws_sign(&c, pl, max_payload + 300, f->leaf_k, NULL, 0, TYP), OMC_ERR_TOO_LARGE);
	assert_err(omc_jwe_encrypt(&c, pl, max_payload + 300, f->leaf_k, NULL), OMC_ERR_TOO_LARGE);
	/* A JWE of nearly the largest size decrypts. */
	assert_err(omc_jwe_encrypt(&c, pl, max_payload - 1000, f->leaf_k, NULL), OMC_OK);
	assert_true(strlen(c) <= OMC_JOSE_MAX);
	assert_err(omc_jwe_decrypt(&p, &n, c, strlen(c), f->leaf_k), OMC_OK);
	assert_int_equal(n, max_payload - 1000);
	omc_free(p);
	omc_free(c);
	omc_free(pl);
}

static void test_random_input(void **state)
{
	fix *f = *state;
	const omc_cert *anchors[] = {f->root};
	char buf[512];
	for (int i = 0; i < 3000; i++) {
		uint8_t r[2];
		tl_rand(r, 2);
		size_t len = r[0] + (size_t)(r[1] & 1) * 256;
		tl_rand(buf, len);
		/* Mostly base64url with dots, sometimes anything at all. */
		if (i % 4) {
			for (size_t j = 0; j < len; j++)
				buf[j] = ((uint8_t)buf[j] % 23 == 0) ? '.' : alphabet[(uint8_t)buf[j] % 64];
		}
		omc_jws_verified v;
		uint8_t *p = NULL;
		size_t n = 0;
		assert_int_not_equal(omc_jws_verify_x5c(&v, buf, len, anchors, 1, NULL, 0), OMC_OK);
		assert_int_not_equal(omc_jws_verify_key(&v, buf, len, f->leaf_k, NULL), OMC_OK);
		assert_int_not_equal(omc_jwe_decrypt(&p, &n, buf, len, f->leaf_k), OMC_OK);
		if (omc_jws_peek(&p, &n, buf, len) == OMC_OK)
			omc_free(p);
	}
}

/* Every allocation of every call fails in turn: an error (never a crash, a
 * leak or an output left behind), and everything works afterwards.
 * omc_jwe_encrypt is in (it no longer goes through cjose, whose
 * cjose_jwe_encrypt dereferences NULL when one of its own allocations
 * fails). */
static void test_alloc_failure(void **state)
{
	fix *f = *state;
	char *jws = sign(f, "{\"a\":1}");
	char *jwe = NULL;
	assert_err(omc_jwe_encrypt(&jwe, (const uint8_t *)"x", 1, f->leaf_k, "t"), OMC_OK);
	const omc_cert *x5c[] = {f->leaf, f->inter};
	const omc_cert *anchors[] = {f->root};
	unsigned nomem = 0;
	unsigned long failures = 0, tried = 0;
	for (int op = 0; op < 6; op++) {
		unsigned long total = 0; /* allocations of a clean run (i == 0) */
		for (unsigned long i = 0; i <= total; i++) {
			unsigned long before = omc_test_alloc_count();
			char *c = NULL;
			uint8_t *p = NULL;
			size_t n = 0;
			omc_jws_verified v;
			memset(&v, 0, sizeof v);
			omc_test_alloc_fail_at(i);
			omc_err e;
			switch (op) {
			case 0:
				e = omc_jws_sign(&c, (const uint8_t *)"{}", 2, f->leaf_k, x5c, 2, TYP);
				break;
			case 1:
				e = omc_jws_verify_x5c(&v, jws, strlen(jws), anchors, 1, TYP, 0);
				break;
			case 2:
				e = omc_jws_peek(&p, &n, jws, strlen(jws));
				break;
			case 3:
				e = omc_jws_verify_key(&v, jws, strlen(jws), f->leaf_k, TYP);
				break;
			case 4:
				e = omc_jwe_decrypt(&p, &n, jwe, strlen(jwe), f->leaf_k);
				break;
			default:
				e = omc_jwe_encrypt(&c, (const uint8_t *)"x", 1, f->leaf_k, "t");
				break;
			}
			omc_test_alloc_fail_at(0);
			if (i == 0) {
				assert_err(e, OMC_OK);
				total = omc_test_alloc_count() - before;
				tried += total;
			}
			omc_free(c);
			omc_free(p);
			if (e == OMC_OK) {
				omc_jws_verified_free(&v);
				continue; /* that allocation was not needed after all */
			}
			assert_null(c);
			assert_null(p);
			assert_null(v.payload);
			assert_null(v.leaf);
			nomem += e == OMC_ERR_NOMEM;
			failures++;
		}
	}
	print_message("%lu allocations failed in turn: %lu errors, %u of them NOMEM\n", tried, failures, nomem);
	assert_true(nomem > 0);
	/* Nothing was left broken. */
	omc_jws_verified v;
	assert_err(verify(f, jws, strlen(jws), &v), OMC_OK);
	omc_jws_verified_free(&v);
	omc_free(jws);
	omc_free(jwe);
}

/* omc_proto_init: jansson, cjose and OpenSSL allocate through omc_alloc, and
 * omc_realloc keeps realloc's contract. */
static void test_alloc_routing(void **state)
{
	(void)state;
	omc_proto_init();
	assert_true(omc_proto_ossl_routed());
	assert_ptr_equal(cjose_get_alloc(), omc_alloc);
	assert_ptr_equal(cjose_get_realloc(), omc_realloc);
	assert_ptr_equal(cjose_get_dealloc(), omc_free);
	unsigned long before = omc_test_alloc_count();
	json_t *j = json_string("counted");
	assert_true(omc_test_alloc_count() > before);
	json_decref(j);
	/* OpenSSL's blocks go through omc_alloc too (omc_proto_ossl_routed),
	 * with the failure hook held: they are neither counted nor failed. */
	before = omc_test_alloc_count();
	omc_test_alloc_fail_at(1);
	void *o = OPENSSL_malloc(10);
	omc_test_alloc_fail_at(0);
	assert_non_null(o);
	assert_int_equal(omc_test_alloc_count(), before);
	OPENSSL_free(o);

	uint8_t *p = omc_realloc(NULL, 8);
	assert_non_null(p);
	memcpy(p, "abcdefgh", 8);
	p = omc_realloc(p, 100);
	assert_non_null(p);
	assert_memory_equal(p, "abcdefgh", 8);
	p = omc_realloc(p, 3);
	assert_memory_equal(p, "abc", 3);
	omc_test_alloc_fail_at(1);
	assert_null(omc_realloc(p, 50)); /* fails: p untouched */
	omc_test_alloc_fail_at(0);
	assert_memory_equal(p, "abc", 3);
	assert_null(omc_realloc(p, 0)); /* frees */
}

/* Several threads at once (the one-time initialisation, OpenSSL and the
 * allocator under concurrent use; run under TSan with OMC_TSAN). */
static void *worker(void *arg)
{
	/* No cmocka assertion here: they are not for other threads. */
	const fix *f = arg;
	const omc_cert *x5c[] = {f->leaf, f->inter};
	for (int i = 0; i < 20; i++) {
		char *c = NULL;
		omc_jws_verified v;
		if (omc_jws_sign(&c, (const uint8_t *)"{}", 2, f->leaf_k, x5c, 2, TYP) != OMC_OK ||
		    verify(f, c, strlen(c), &v) != OMC_OK)
			return (void *)1;
		omc_jws_verified_free(&v);
		omc_free(c);
		uint8_t *p = NULL;
		size_t n = 0;
		if (omc_jwe_encrypt(&c, (const uint8_t *)"secret", 6, f->leaf_k, NULL) != OMC_OK ||
		    omc_jwe_decrypt(&p, &n, c, strlen(c), f->leaf_k) != OMC_OK || n != 6)
			return (void *)1;
		omc_free(p);
		omc_free(c);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	for (size_t i = 0; i < OMC_ARRAY_LEN(t); i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, *state), 0);
	for (size_t i = 0; i < OMC_ARRAY_LEN(t); i++) {
		void *r = NULL;
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_routing),
		cmocka_unit_test(test_jws_round_trip),
		cmocka_unit_test(test_jws_format),
		cmocka_unit_test(test_jws_every_character),
		cmocka_unit_test(test_jws_typ),
		cmocka_unit_test(test_jws_forged_headers),
		cmocka_unit_test(test_jws_untrusted),
		cmocka_unit_test(test_jws_sig_cache),
		cmocka_unit_test(test_jws_hdr_cache),
		cmocka_unit_test(test_jws_verify_key_and_peek),
		cmocka_unit_test(test_jws_sign_args),
		cmocka_unit_test(test_jwe_round_trip),
		cmocka_unit_test(test_jwe_wrong_recipient),
		cmocka_unit_test(test_jwe_every_character),
		cmocka_unit_test(test_jwe_alg_enc_epk),
		cmocka_unit_test(test_jwe_genuine_other_enc),
		cmocka_unit_test(test_jwe_from_cjose),
		cmocka_unit_test(test_jwe_segments),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_threads),
	};
	int failed = cmocka_run_group_tests_name("proto_jose, caches on", tests, setup, teardown);
	omc_test_proto_cache(false);
	failed += cmocka_run_group_tests_name("proto_jose, caches off", tests, setup, teardown);
	omc_test_proto_cache(true);
	return failed;
}
