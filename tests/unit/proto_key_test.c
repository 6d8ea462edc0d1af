/* P-256 keys of src/proto: generation and the public half; PEM both ways,
 * with the private key only ever as encrypted PKCS#8 (a wrong secret, a
 * short secret, a plaintext private PEM, a legacy-encrypted PEM and other
 * curves refused; the private scalar nowhere in the file, in any spelling);
 * a secret that is not text; public JWK both ways, its RFC 7638 thumbprint
 * recomputed here from the JWK's own members, and every kind of bad JWK
 * (off-curve point, other curves and types, a private "d", lax base64url);
 * keys sealed under a KEK both ways and every changed byte refused;
 * allocation failure at every point; the keys generation and the public
 * half adopt unchecked pass OpenSSL's full checks, and the point of a key
 * that reports it compressed reads the same.
 * covers: SEC-6, SEC-12, TRE-3, TRE-9 */
#include "testlib.h"

#include <ctype.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>

#include "proto/proto_internal.h"

static void pass_bytes(uint8_t *pass, size_t n)
{
	tl_rand(pass, n);
	pass[0] = 0x00; /* not text: a NUL, a high byte */
	pass[1] = 0xff;
}

static omc_key *gen(void)
{
	omc_key *k = NULL;
	assert_err(omc_key_generate(&k), OMC_OK);
	assert_non_null(k);
	return k;
}

/* PEM text of an OpenSSL key written by OpenSSL itself. */
static char *ossl_pem(EVP_PKEY *pk, const char *structure, const EVP_CIPHER *cipher, const char *pass)
{
	BIO *bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	int ok;
	if (structure && strcmp(structure, "type-specific") == 0)
		ok = PEM_write_bio_PrivateKey_traditional(bio, pk, cipher, (const unsigned char *)pass,
							  pass ? (int)strlen(pass) : 0, NULL, NULL);
	else if (structure && strcmp(structure, "public") == 0)
		ok = PEM_write_bio_PUBKEY(bio, pk);
	else
		ok = PEM_write_bio_PrivateKey(bio, pk, cipher, (const unsigned char *)pass,
					      pass ? (int)strlen(pass) : 0, NULL, NULL);
	assert_int_equal(ok, 1);
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	assert_true(n > 0);
	char *s = omc_alloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static EVP_PKEY *ossl_gen(const char *type, const char *group)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	if (group)
		assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, group), 1);
	else
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
	EVP_PKEY *pk = NULL;
	assert_int_equal(EVP_PKEY_generate(ctx, &pk), 1);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* --- generation ------------------------------------------------------------------------ */

static void test_generate(void **state)
{
	(void)state;
	omc_key *a = gen(), *b = gen(), *pub = NULL;
	assert_true(omc_key_has_private(a));
	assert_err(omc_key_public(&pub, a), OMC_OK);
	assert_false(omc_key_has_private(pub));
	assert_true(omc_key_equal_public(a, pub));
	assert_true(omc_key_equal_public(pub, a));
	assert_false(omc_key_equal_public(a, b));
	assert_false(omc_key_equal_public(a, NULL));
	assert_false(omc_key_has_private(NULL));
	/* The public half cannot stand in for the private one. */
	char *pem = NULL;
	size_t n = 0;
	uint8_t pass[32];
	pass_bytes(pass, sizeof pass);
	assert_err(omc_key_to_pem(&pem, &n, pub, true, pass, sizeof pass), OMC_ERR_BAD_ARG);
	assert_null(pem);
	assert_err(omc_key_generate(NULL), OMC_ERR_BAD_ARG);
	omc_key_free(a);
	omc_key_free(b);
	omc_key_free(pub);
	omc_key_free(NULL);
}

/* --- PEM --------------------------------------------------------------------------------- */

static void test_pem_private_round_trip(void **state)
{
	(void)state;
	for (size_t pass_len = OMC_PASS_MIN; pass_len <= 64; pass_len += 16) {
		omc_key *k = gen(), *back = NULL;
		uint8_t pass[64];
		pass_bytes(pass, pass_len);
		char *pem = NULL;
		size_t n = 0;
		assert_err(omc_key_to_pem(&pem, &n, k, true, pass, pass_len), OMC_OK);
		assert_int_equal(strlen(pem), n);
		assert_non_null(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
		assert_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		assert_err(omc_key_from_pem(&back, pem, n, pass, pass_len), OMC_OK);
		assert_true(omc_key_has_private(back));
		assert_true(omc_key_equal_public(k, back));
		/* The same scalar came back. */
		uint8_t d1[32], d2[32];
		assert_err(omc_proto_key_scalar(d1, k), OMC_OK);
		assert_err(omc_proto_key_scalar(d2, back), OMC_OK);
		assert_memory_equal(d1, d2, 32);
		omc_memzero(d1, 32);
		omc_memzero(d2, 32);
		omc_free(pem);
		omc_key_free(k);
		omc_key_free(back);
	}
}

static void test_pem_public_round_trip(void **state)
{
	(void)state;
	omc_key *k = gen(), *back = NULL;
	char *pem = NULL;
	size_t n = 0;
	assert_err(omc_key_to_pem(&pem, &n, k, false, NULL, 0), OMC_OK);
	assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
	assert_err(omc_key_from_pem(&back, pem, n, NULL, 0), OMC_OK);
	assert_false(omc_key_has_private(back));
	assert_true(omc_key_equal_public(k, back));
	omc_free(pem);
	omc_key_free(k);
	omc_key_free(back);
}

static void test_pem_wrong_secret(void **state)
{
	(void)state;
	omc_key *k = gen(), *back = NULL;
	uint8_t pass[32], other[32];
	pass_bytes(pass, sizeof pass);
	char *pem = NULL;
	size_t n = 0;
	assert_err(omc_key_to_pem(&pem, &n, k, true, pass, sizeof pass), OMC_OK);
	/* Every single-bit change of the secret, and one byte fewer. */
	for (size_t i = 0; i < sizeof pass * 8; i += 7) {
		memcpy(other, pass, sizeof pass);
		other[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_err(omc_key_from_pem(&back, pem, n, other, sizeof other), OMC_ERR_AUTH_FAILED);
		assert_null(back);
	}
	assert_err(omc_key_from_pem(&back, pem, n, pass, sizeof pass - 1), OMC_ERR_AUTH_FAILED);
	/* A secret shorter than 16 bytes, or none, is a usage error. */
	assert_err(omc_key_from_pem(&back, pem, n, pass, OMC_PASS_MIN - 1), OMC_ERR_BAD_ARG);
	assert_err(omc_key_from_pem(&back, pem, n, NULL, 0), OMC_ERR_BAD_ARG);
	assert_null(back);
	omc_free(pem);
	assert_err(omc_key_to_pem(&pem, &n, k, true, pass, OMC_PASS_MIN - 1), OMC_ERR_BAD_ARG);
	assert_err(omc_key_to_pem(&pem, &n, k, true, NULL, 32), OMC_ERR_BAD_ARG);
	assert_err(omc_key_to_pem(&pem, &n, k, true, pass, OMC_PASS_MAX + 1), OMC_ERR_BAD_ARG);
	assert_null(pem);
	omc_key_free(k);
}

static char log_seen[4096];

static void capture_log(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	size_t n = strlen(log_seen);
	snprintf(log_seen + n, sizeof log_seen - n, "%s: %s\n", module, msg);
}

/* SEC-6: a private key never comes from a plaintext file. */
static void test_pem_plaintext_private_refused(void **state)
{
	(void)state;
	log_seen[0] = '\0';
	omc_log_set_handler(capture_log, NULL);
	omc_key *k = gen(), *back = NULL;
	uint8_t pass[32];
	pass_bytes(pass, sizeof pass);
	char *pkcs8 = ossl_pem(k->pkey, NULL, NULL, NULL);                        /* PRIVATE KEY */
	char *sec1 = ossl_pem(k->pkey, "type-specific", NULL, NULL);              /* EC PRIVATE KEY */
	char *legacy = ossl_pem(k->pkey, "type-specific", EVP_aes_256_cbc(), "0123456789abcdef0123"); /* DEK-Info */
	assert_non_null(strstr(pkcs8, "BEGIN PRIVATE KEY"));
	assert_non_null(strstr(sec1, "BEGIN EC PRIVATE KEY"));
	assert_non_null(strstr(legacy, "Proc-Type: 4,ENCRYPTED"));
	const char *const pems[] = {pkcs8, sec1, legacy};
	for (size_t i = 0; i < OMC_ARRAY_LEN(pems); i++) {
		assert_err(omc_key_from_pem(&back, pems[i], strlen(pems[i]), pass, sizeof pass), OMC_ERR_DENIED);
		assert_err(omc_key_from_pem(&back, pems[i], strlen(pems[i]), NULL, 0), OMC_ERR_DENIED);
		assert_null(back);
	}
	omc_log_set_handler(NULL, NULL);
	/* Said so, with the PEM type and nothing of the key. */
	assert_non_null(strstr(log_seen, "refused a private-key PEM of type \"EC PRIVATE KEY\""));
	uint8_t d[32];
	char hex[65];
	assert_err(omc_proto_key_scalar(d, k), OMC_OK);
	assert_err(omc_hex_encode(hex, sizeof hex, d, sizeof d), OMC_OK);
	assert_null(strstr(log_seen, hex));
	assert_null(strstr(log_seen, "MII"));
	omc_memzero(d, sizeof d);
	omc_memzero(hex, sizeof hex);
	omc_free(pkcs8);
	omc_free(sec1);
	omc_free(legacy);
	omc_key_free(k);
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return m <= n && memmem(hay, n, needle, m) != NULL;
}

/* SEC-6, SEC-12: the scalar is nowhere in the encrypted PEM: not raw in the
 * decoded body, not as hex (either case), not as base64 or base64url. */
static void test_pem_scalar_absent(void **state)
{
	(void)state;
	for (int round = 0; round < 8; round++) {
		omc_key *k = gen();
		uint8_t pass[16], d[32];
		pass_bytes(pass, sizeof pass);
		assert_err(omc_proto_key_scalar(d, k), OMC_OK);
		char *pem = NULL;
		size_t n = 0;
		assert_err(omc_key_to_pem(&pem, &n, k, true, pass, sizeof pass), OMC_OK);

		char hex[65], b64[48], b64u[48];
		assert_err(omc_hex_encode(hex, sizeof hex, d, 32), OMC_OK);
		assert_null(strstr(pem, hex));
		for (char *c = hex; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		assert_null(strstr(pem, hex));
		assert_err(omc_b64_encode(b64, sizeof b64, d, 32, OMC_B64_STD), OMC_OK);
		assert_err(omc_b64_encode(b64u, sizeof b64u, d, 32, OMC_B64_URL), OMC_OK);
		b64[40] = b64u[40] = '\0'; /* any 30-byte prefix */
		assert_null(strstr(pem, b64));
		assert_null(strstr(pem, b64u));

		/* The DER body of the PEM, raw. */
		BIO *bio = BIO_new_mem_buf(pem, (int)n);
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;
		assert_int_equal(PEM_read_bio(bio, &name, &header, &der, &der_len), 1);
		assert_false(contains(der, (size_t)der_len, d, 32));
		assert_false(contains(der, (size_t)der_len, d, 8));
		assert_false(contains(der, (size_t)der_len, d + 24, 8));
		assert_false(contains((const uint8_t *)pem, n, d, 8));
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		BIO_free(bio);
		omc_memzero(d, sizeof d);
		omc_free(pem);
		omc_key_free(k);
	}
}

static void test_pem_bad_input(void **state)
{
	(void)state;
	omc_key *back = NULL;
	uint8_t pass[32];
	pass_bytes(pass, sizeof pass);

	/* Other curves and key types, public and (encrypted) private. */
	const char *groups[] = {"P-384", "P-521", "secp256k1", NULL};
	for (size_t i = 0; i < OMC_ARRAY_LEN(groups); i++) {
		EVP_PKEY *pk = ossl_gen(groups[i] ? "EC" : "RSA", groups[i]);
		char *pub = ossl_pem(pk, "public", NULL, NULL);
		assert_err(omc_key_from_pem(&back, pub, strlen(pub), NULL, 0), OMC_ERR_BAD_FORMAT);
		char hexpass[65];
		assert_err(omc_hex_encode(hexpass, sizeof hexpass, pass, sizeof pass), OMC_OK);
		char *priv = ossl_pem(pk, NULL, EVP_aes_256_cbc(), hexpass); /* ENCRYPTED PRIVATE KEY */
		assert_non_null(strstr(priv, "ENCRYPTED PRIVATE KEY"));
		assert_err(omc_key_from_pem(&back, priv, strlen(priv), pass, sizeof pass), OMC_ERR_BAD_FORMAT);
		assert_null(back);
		omc_free(pub);
		omc_free(priv);
		EVP_PKEY_free(pk);
	}

	/* An encrypted P-256 key made by OpenSSL alone opens with the raw secret. */
	EVP_PKEY *p256 = ossl_gen("EC", "P-256");
	char hexpass[65];
	assert_err(omc_hex_encode(hexpass, sizeof hexpass, pass, sizeof pass), OMC_OK);
	char *theirs = ossl_pem(p256, NULL, EVP_aes_256_cbc(), hexpass);
	assert_err(omc_key_from_pem(&back, theirs, strlen(theirs), pass, sizeof pass), OMC_OK);
	assert_true(omc_key_has_private(back));
	omc_key_free(back);
	back = NULL;
	omc_free(theirs);
	EVP_PKEY_free(p256);

	/* Not PEM, truncated PEM, another label, too large. */
	omc_key *k = gen();
	char *pem = NULL;
	size_t n = 0;
	assert_err(omc_key_to_pem(&pem, &n, k, false, NULL, 0), OMC_OK);
	assert_err(omc_key_from_pem(&back, "", 0, NULL, 0), OMC_ERR_BAD_FORMAT);
	assert_err(omc_key_from_pem(&back, "hello", 5, NULL, 0), OMC_ERR_BAD_FORMAT);
	for (size_t cut = 0; cut < n - 1; cut += 3)
		assert_int_not_equal(omc_key_from_pem(&back, pem, cut, NULL, 0), OMC_OK);
	char *relabel = omc_alloc(n + 32);
	assert_non_null(relabel);
	snprintf(relabel, n + 32, "-----BEGIN CERTIFICATE-----\n%s", strchr(pem, '\n') + 1);
	char *end = strstr(relabel, "-----END PUBLIC KEY-----");
	assert_non_null(end);
	memcpy(end, "-----END CERTIFICATE-----\n", 27);
	assert_err(omc_key_from_pem(&back, relabel, strlen(relabel), NULL, 0), OMC_ERR_BAD_FORMAT);
	char *big = omc_calloc(1, OMC_KEY_PEM_MAX + 2);
	assert_non_null(big);
	memcpy(big, pem, n);
	memset(big + n, '\n', OMC_KEY_PEM_MAX + 1 - n);
	assert_err(omc_key_from_pem(&back, big, OMC_KEY_PEM_MAX + 1, NULL, 0), OMC_ERR_TOO_LARGE);
	assert_err(omc_key_from_pem(&back, big, OMC_KEY_PEM_MAX, NULL, 0), OMC_OK);
	omc_key_free(back);
	back = NULL;
	/* Random bytes never parse, never crash. */
	for (int i = 0; i < 500; i++) {
		uint8_t junk[300];
		tl_rand(junk, sizeof junk);
		size_t len = junk[0] + (size_t)1;
		if (i % 2)
			memcpy(junk, "-----BEGIN PUBLIC KEY-----\n", 27);
		assert_int_not_equal(omc_key_from_pem(&back, (const char *)junk, len, pass, sizeof pass), OMC_OK);
	}
	assert_null(back);
	omc_free(big);
	omc_free(relabel);
	omc_free(pem);
	omc_key_free(k);
}

/* --- JWK ---------------------------------------------------------------------------------- */

/* RFC 7638 3: SHA-256 of the required members in lexicographic order, no
 * whitespace, built here from the JWK's own member values. */
static void expected_thumbprint(uint8_t out[32], const char *jwk)
{
	json_error_t e;
	json_t *j = json_loads(jwk, 0, &e);
	assert_non_null(j);
	json_t *req = json_pack("{s:O,s:O,s:O,s:O}", "crv", json_object_get(j, "crv"), "kty",
				json_object_get(j, "kty"), "x", json_object_get(j, "x"), "y", json_object_get(j, "y"));
	assert_non_null(req);
	char *canon = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(canon);
	assert_true(strncmp(canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31) == 0);
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(canon, strlen(canon), out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	omc_free(canon);
	json_decref(req);
	json_decref(j);
}

static void test_jwk_round_trip(void **state)
{
	(void)state;
	for (int round = 0; round < 16; round++) {
		omc_key *k = gen(), *back = NULL, *pub = NULL;
		char *jwk = NULL;
		assert_err(omc_key_to_jwk(&jwk, k), OMC_OK);
		json_error_t e;
		json_t *j = json_loads(jwk, 0, &e);
		assert_non_null(j);
		assert_int_equal(json_object_size(j), 4); /* no "d", nothing else */
		assert_string_equal(json_string_value(json_object_get(j, "kty")), "EC");
		assert_string_equal(json_string_value(json_object_get(j, "crv")), "P-256");
		assert_int_equal(strlen(json_string_value(json_object_get(j, "x"))), 43);
		assert_int_equal(strlen(json_string_value(json_object_get(j, "y"))), 43);
		json_decref(j);

		assert_err(omc_key_from_jwk(&back, jwk, strlen(jwk)), OMC_OK);
		assert_false(omc_key_has_private(back));
		assert_true(omc_key_equal_public(k, back));

		uint8_t want[32], got[32], got_pub[32];
		expected_thumbprint(want, jwk);
		assert_err(omc_key_thumbprint(got, k), OMC_OK);
		assert_memory_equal(got, want, 32);
		assert_err(omc_key_public(&pub, k), OMC_OK);
		assert_err(omc_key_thumbprint(got_pub, pub), OMC_OK);
		assert_memory_equal(got_pub, want, 32);
		omc_free(jwk);
		omc_key_free(k);
		omc_key_free(back);
		omc_key_free(pub);
	}
}

static char *jwk_with(const char *kty, const char *crv, const char *x, const char *y, const char *extra)
{
	char *s = omc_alloc(512);
	assert_non_null(s);
	snprintf(s, 512, "{\"kty\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kty, crv, x, y,
		 extra ? extra : "");
	return s;
}

static void b64u(char *out, size_t cap, const uint8_t *in, size_t n)
{
	assert_err(omc_b64_encode(out, cap, in, n, OMC_B64_URL), OMC_OK);
}

static void test_jwk_refused(void **state)
{
	(void)state;
	omc_key *k = gen(), *back = NULL;
	uint8_t x[32], y[32], d[32];
	assert_err(omc_proto_key_xy(x, y, k), OMC_OK);
	assert_err(omc_proto_key_scalar(d, k), OMC_OK);
	char x64[44], y64[44], d64[44], bad64[48];
	b64u(x64, sizeof x64, x, 32);
	b64u(y64, sizeof y64, y, 32);
	b64u(d64, sizeof d64, d, 32);

	/* The genuine point is accepted; (x, y+1) is not on the curve. */
	char *s = jwk_with("EC", "P-256", x64, y64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_OK);
	omc_key_free(back);
	back = NULL;
	omc_free(s);
	uint8_t y1[32];
	memcpy(y1, y, 32);
	y1[31] ^= 1;
	b64u(bad64, sizeof bad64, y1, 32);
	s = jwk_with("EC", "P-256", x64, bad64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);
	/* (0, 0) and a coordinate >= p are not points either. */
	uint8_t zero[32] = {0}, ff[32];
	memset(ff, 0xff, sizeof ff);
	char z64[44], f64[44];
	b64u(z64, sizeof z64, zero, 32);
	b64u(f64, sizeof f64, ff, 32);
	s = jwk_with("EC", "P-256", z64, z64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);
	s = jwk_with("EC", "P-256", f64, y64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);

	/* Other curves and key types. */
	const char *const crvs[] = {"P-384", "P-521", "secp256k1", "p-256", "P-256 ", ""};
	for (size_t i = 0; i < OMC_ARRAY_LEN(crvs); i++) {
		s = jwk_with("EC", crvs[i], x64, y64, NULL);
		assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
		omc_free(s);
	}
	const char *const ktys[] = {"RSA", "oct", "OKP", "ec", ""};
	for (size_t i = 0; i < OMC_ARRAY_LEN(ktys); i++) {
		s = jwk_with(ktys[i], "P-256", x64, y64, NULL);
		assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
		omc_free(s);
	}

	/* A private JWK is refused as a matter of policy. */
	char extra[80];
	snprintf(extra, sizeof extra, ",\"d\":\"%s\"", d64);
	s = jwk_with("EC", "P-256", x64, y64, extra);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_DENIED);
	omc_free(s);

	/* Lax base64url: padding, standard alphabet, a short coordinate, a
	 * non-zero unused bit in the last character. */
	char padded[48];
	snprintf(padded, sizeof padded, "%s=", x64);
	s = jwk_with("EC", "P-256", padded, y64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);
	b64u(bad64, sizeof bad64, x, 31);
	s = jwk_with("EC", "P-256", bad64, y64, NULL);
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);
	memcpy(bad64, x64, sizeof x64);
	bad64[42] = (char)(bad64[42] == 'A' ? 'B' : bad64[42] ^ 1); /* 43 chars: the last carries 2 unused bits */
	s = jwk_with("EC", "P-256", bad64, y64, NULL);
	assert_int_not_equal(omc_key_from_jwk(&back, s, strlen(s)), OMC_OK);
	omc_free(s);

	/* Not JSON, not an object, a duplicate member, missing members, a
	 * member of the wrong type, too large. */
	const char *const junk[] = {
		"", "{", "[]", "\"EC\"", "{\"kty\":\"EC\"}", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1,\"y\":2}",
		"{\"kty\":\"EC\",\"kty\":\"EC\",\"crv\":\"P-256\"}", "null",
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(junk); i++)
		assert_err(omc_key_from_jwk(&back, junk[i], strlen(junk[i])), OMC_ERR_BAD_FORMAT);
	s = jwk_with("EC", "P-256", x64, y64, ",\"crv\":\"P-256\"");
	assert_err(omc_key_from_jwk(&back, s, strlen(s)), OMC_ERR_BAD_FORMAT);
	omc_free(s);
	char *big = omc_calloc(1, OMC_JWK_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', OMC_JWK_MAX + 1);
	assert_err(omc_key_from_jwk(&back, big, OMC_JWK_MAX + 1), OMC_ERR_TOO_LARGE);
	omc_free(big);
	assert_null(back);
	omc_memzero(d, sizeof d);
	omc_memzero(d64, sizeof d64);
	omc_key_free(k);
}

/* --- allocation failure ------------------------------------------------------------------ */

/* Every allocation of every call fails once: an error comes back (never a
 * crash, never a half-made handle), and ASan/LSan see no leak. */
/* omc_key_seal: the same key back under the same KEK (scalar and point);
 * another KEK, any changed byte, a wrong length or a public key refused;
 * the scalar nowhere in the sealed bytes; two seals of one key differ
 * (random nonce). */
static void test_seal(void **state)
{
	(void)state;
	omc_key *k = gen(), *back = NULL, *pub = NULL;
	uint8_t kek[32], other[32];
	tl_rand(kek, sizeof kek);
	memcpy(other, kek, 32);
	other[31] ^= 1;
	uint8_t *b = NULL, *b2 = NULL;
	size_t n = 0, n2 = 0;
	assert_err(omc_key_seal(&b, &n, k, kek), OMC_OK);
	assert_int_equal(n, 130);
	assert_err(omc_key_seal(&b2, &n2, k, kek), OMC_OK);
	assert_int_equal(n2, n);
	assert_memory_not_equal(b, b2, n);
	assert_err(omc_key_unseal(&back, b, n, kek), OMC_OK);
	assert_true(omc_key_has_private(back));
	assert_true(omc_key_equal_public(k, back));
	uint8_t d1[32], d2[32];
	assert_err(omc_proto_key_scalar(d1, k), OMC_OK);
	assert_err(omc_proto_key_scalar(d2, back), OMC_OK);
	assert_memory_equal(d1, d2, 32);
	assert_null(memmem(b, n, d1, 32));
	omc_memzero(d1, 32);
	omc_memzero(d2, 32);
	omc_key_free(back);
	back = NULL;
	assert_err(omc_key_unseal(&back, b, n, other), OMC_ERR_AUTH_FAILED);
	assert_null(back);
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			b[i] ^= (uint8_t)(1u << bit);
			omc_err e = omc_key_unseal(&back, b, n, kek);
			b[i] ^= (uint8_t)(1u << bit);
			if (e == OMC_OK)
				fail_msg("sealed key with bit %u of byte %zu flipped was opened", bit, i);
			assert_null(back);
		}
	}
	assert_err(omc_key_unseal(&back, b, n - 1, kek), OMC_ERR_BAD_FORMAT);
	assert_err(omc_key_public(&pub, k), OMC_OK);
	assert_err(omc_key_seal(&b2, &n2, pub, kek), OMC_ERR_BAD_ARG);
	omc_free(b);
	omc_free(b2);
	omc_key_free(pub);
	omc_key_free(k);
}

static void test_alloc_failure(void **state)
{
	(void)state;
	uint8_t pass[32];
	pass_bytes(pass, sizeof pass);
	omc_key *k = gen();
	char *pem_priv = NULL, *pem_pub = NULL, *jwk = NULL;
	size_t n_priv = 0, n_pub = 0;
	assert_err(omc_key_to_pem(&pem_priv, &n_priv, k, true, pass, sizeof pass), OMC_OK);
	assert_err(omc_key_to_pem(&pem_pub, &n_pub, k, false, NULL, 0), OMC_OK);
	assert_err(omc_key_to_jwk(&jwk, k), OMC_OK);
	unsigned nomem = 0;
	unsigned long failures = 0, tried = 0, runs = 0;
	for (int op = 0; op < 6; op++) {
		unsigned long total = 0; /* allocations of a clean run (i == 0) */
		/* PBKDF2 (2048 rounds) makes the PEM calls allocate thousands of
		 * times, much the same way each round: the first 300 and the last
		 * 100 allocations are failed one by one, those between in about
		 * 1000 even steps. */
		for (unsigned long i = 0; i <= total;
		     i += (i < 300 || i + 100 > total || total < 2000) ? 1 : total / 1000) {
			unsigned long before = omc_test_alloc_count();
			omc_key *out = NULL;
			char *s = NULL;
			size_t n = 0;
			uint8_t tp[32];
			runs += i > 0;
			omc_test_alloc_fail_at(i);
			omc_err e;
			switch (op) {
			case 0:
				e = omc_key_generate(&out);
				break;
			case 1:
				e = omc_key_to_pem(&s, &n, k, true, pass, sizeof pass);
				break;
			case 2:
				e = omc_key_from_pem(&out, pem_priv, n_priv, pass, sizeof pass);
				break;
			case 3:
				e = omc_key_from_pem(&out, pem_pub, n_pub, NULL, 0);
				break;
			case 4:
				e = omc_key_from_jwk(&out, jwk, strlen(jwk));
				break;
			default:
				e = omc_key_to_jwk(&s, k);
				if (e == OMC_OK)
					e = omc_key_thumbprint(tp, k);
				break;
			}
			omc_test_alloc_fail_at(0);

			if (i == 0) {
				assert_err(e, OMC_OK);
				total = omc_test_alloc_count() - before;
				tried += total;
			}
			omc_key_free(out);
			omc_free(s);
			if (e == OMC_OK)
				continue; /* that allocation was not needed after all */
			assert_null(out);
			nomem += e == OMC_ERR_NOMEM;
			failures++;
		}
	}
	print_message("%lu of %lu allocations failed in turn: %lu errors, %u of them NOMEM\n", runs, tried, failures,
		      nomem);
	assert_true(nomem > 0);
	omc_free(pem_priv);
	omc_free(pem_pub);
	omc_free(jwk);
	omc_key_free(k);
}

/* --- keys adopted without a check, and the point read in one piece ----------------- */

/* The keys omc_key_generate and omc_key_public hand out unchecked (made from
 * P-256's shared parameters) pass OpenSSL's full checks, are distinct, and
 * agree with OpenSSL's own export of the point; a key whose point conversion
 * form is compressed gives the same coordinates through the fallback. */
static void test_adopted_keys_valid(void **state)
{
	(void)state;
	uint8_t prev_x[OMC_P256_LEN] = {0};
	for (int i = 0; i < 32; i++) {
		omc_key *k = gen(), *pub = NULL;
		assert_true(omc_key_has_private(k));
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
		assert_non_null(c);
		assert_int_equal(EVP_PKEY_check(c), 1); /* scalar in range, matching its point */
		assert_int_equal(EVP_PKEY_public_check(c), 1);
		EVP_PKEY_CTX_free(c);
		assert_err(omc_proto_pkey_check_p256(k->pkey), OMC_OK);
		assert_err(omc_key_public(&pub, k), OMC_OK);
		assert_false(omc_key_has_private(pub));
		assert_true(omc_key_equal_public(pub, k));
		c = EVP_PKEY_CTX_new_from_pkey(NULL, pub->pkey, NULL);
		assert_non_null(c);
		assert_int_equal(EVP_PKEY_public_check(c), 1);
		EVP_PKEY_CTX_free(c);
		assert_err(omc_proto_pkey_check_p256(pub->pkey), OMC_OK);

		uint8_t x[OMC_P256_LEN], y[OMC_P256_LEN], bx[OMC_P256_LEN], by[OMC_P256_LEN];
		assert_err(omc_proto_key_xy(x, y, pub), OMC_OK);
		BIGNUM *ox = NULL, *oy = NULL;
		assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &ox), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &oy), 1);
		assert_int_equal(BN_bn2binpad(ox, bx, OMC_P256_LEN), OMC_P256_LEN);
		assert_int_equal(BN_bn2binpad(oy, by, OMC_P256_LEN), OMC_P256_LEN);
		assert_memory_equal(x, bx, OMC_P256_LEN);
		assert_memory_equal(y, by, OMC_P256_LEN);
		assert_memory_not_equal(x, prev_x, OMC_P256_LEN);
		memcpy(prev_x, x, OMC_P256_LEN);

		/* The same key reporting its point compressed. */
		EVP_PKEY *dup = EVP_PKEY_dup(pub->pkey);
		assert_non_null(dup);
		assert_int_equal(EVP_PKEY_set_utf8_string_param(dup, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
								 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
				 1);
		uint8_t enc[1 + 2 * OMC_P256_LEN];
		size_t n = 0;
		assert_int_equal(EVP_PKEY_get_octet_string_param(dup, OSSL_PKEY_PARAM_PUB_KEY, enc, sizeof enc, &n), 1);
		assert_int_equal(n, 1 + OMC_P256_LEN); /* so the fallback runs */
		omc_key compressed = {.pkey = dup, .priv = false};
		uint8_t cx[OMC_P256_LEN], cy[OMC_P256_LEN];
		assert_err(omc_proto_key_xy(cx, cy, &compressed), OMC_OK);
		assert_memory_equal(cx, x, OMC_P256_LEN);
		assert_memory_equal(cy, y, OMC_P256_LEN);
		omc_key *pub2 = NULL;
		assert_err(omc_key_public(&pub2, &compressed), OMC_OK);
		assert_true(omc_key_equal_public(pub2, k));
		omc_key_free(pub2);
		EVP_PKEY_free(dup);
		BN_free(ox);
		BN_free(oy);
		omc_key_free(pub);
		omc_key_free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_pem_private_round_trip),
		cmocka_unit_test(test_pem_public_round_trip),
		cmocka_unit_test(test_pem_wrong_secret),
		cmocka_unit_test(test_pem_plaintext_private_refused),
		cmocka_unit_test(test_pem_scalar_absent),
		cmocka_unit_test(test_pem_bad_input),
		cmocka_unit_test(test_jwk_round_trip),
		cmocka_unit_test(test_jwk_refused),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_adopted_keys_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
