/* P-256 key handles: generation, the public half, comparison, and PEM.
 *
 * A private key enters or leaves a PEM only as encrypted PKCS#8 (RFC 5958
 * EncryptedPrivateKeyInfo, PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC,
 * OpenSSL's defaults for PEM_write_bio_PKCS8PrivateKey). The passphrase
 * handed to OpenSSL is the lowercase hex of the key-encryption secret, so
 * that a secret of arbitrary bytes (NULs included) works: the same secret
 * opens the file with `openssl pkey -passin pass:<hex of the secret>`.
 * Reading a plaintext private key PEM is refused (OMC_ERR_DENIED): private
 * keys never come from plaintext files (SEC-6). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "proto/proto_internal.h"


/* --- checks and conversions ----------------------------------------------------- */

omc_err omc_proto_pkey_check_p256(const EVP_PKEY *pk)
{
	OMC_ENSURE(pk != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(EVP_PKEY_is_a(pk, "EC"), OMC_ERR_BAD_FORMAT);
	char name[64];
	size_t n = 0;
	/* No group name: explicit curve parameters, refused. */
	OMC_OSSL_ENSURE(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &n) == 1,
			OMC_ERR_BAD_FORMAT);
	int nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	OMC_ENSURE(nid == NID_X9_62_prime256v1, OMC_ERR_BAD_FORMAT);
	char enc[32];
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof enc, &n) == 1)
		OMC_ENSURE(strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) == 0, OMC_ERR_BAD_FORMAT);
	ERR_clear_error();
	return OMC_OK;
}

omc_err omc_proto_key_adopt(omc_key **out, EVP_PKEY **pkey, bool priv)
{
	omc_key *k = omc_calloc(1, sizeof *k);
	OMC_ENSURE(k != NULL, OMC_ERR_NOMEM);
	k->pkey = *pkey;
	k->priv = priv;
	*pkey = NULL;
	*out = k;
	return OMC_OK;
}

omc_err omc_proto_key_wrap(omc_key **out, EVP_PKEY **pkey, bool priv)
{
	OMC_TRY(omc_proto_pkey_check_p256(*pkey));
	/* The public point must be on the curve; a private scalar must be in
	 * range and match it. For a public key the quick check suffices: it
	 * refuses the point at infinity, coordinates outside [0, p) and points
	 * off the curve (SEC 1 3.2.2.1 steps 1 to 3). The key is on P-256
	 * (checked above), whose cofactor is 1: every point on it has order n,
	 * so the last step of full validation (n Q = O, which
	 * EVP_PKEY_public_check computes: a scalar multiplication per key, the
	 * price of an ECDH) cannot fail, and partial validation is full
	 * validation (SP 800-56A rev. 3, 5.6.2.3.4). */
	OMC_AUTO(EVP_PKEY_CTX) chk = EVP_PKEY_CTX_new_from_pkey(NULL, *pkey, NULL);
	OMC_OSSL_ENSURE(chk != NULL, OMC_ERR_NOMEM);
	if (priv)
		OMC_OSSL_ENSURE(EVP_PKEY_check(chk) == 1, OMC_ERR_BAD_FORMAT);
	else
		OMC_OSSL_ENSURE(EVP_PKEY_public_check_quick(chk) == 1, OMC_ERR_BAD_FORMAT);
	return omc_proto_key_adopt(out, pkey, priv);
}

/* --- P-256's domain parameters, made once ------------------------------------------
 * Building the curve (EC_GROUP_new_by_curve_name: its constants parsed into
 * bignums, the generator set, Montgomery form) costs about what a key
 * generation does. One key holding only the domain parameters is made on
 * first use and kept for the process's life; new keys copy its group
 * (generation from it as a template, imports by EVP_PKEY_copy_parameters).
 * It is only ever read once published, which OpenSSL allows from any
 * thread. A failure to make it is not remembered: the next call tries
 * again. */
static EVP_PKEY *p256_params;

EVP_PKEY *omc_proto_p256(void)
{
	EVP_PKEY *k = __atomic_load_n(&p256_params, __ATOMIC_ACQUIRE);
	if (k)
		return k;
	EVP_PKEY *made = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_paramgen_init(ctx) != 1 || EVP_PKEY_CTX_set_group_name(ctx, P256_GROUP) != 1 ||
	    EVP_PKEY_paramgen(ctx, &made) != 1) {
		EVP_PKEY_free(made);
		made = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	if (!made) {
		ERR_clear_error();
		return NULL;
	}
	EVP_PKEY *expected = NULL;
	if (!__atomic_compare_exchange_n(&p256_params, &expected, made, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		EVP_PKEY_free(made); /* another thread published first */
		return expected;
	}
	return made;
}

omc_err omc_proto_keygen(EVP_PKEY **out)
{
	*out = NULL;
	EVP_PKEY *params = omc_proto_p256();
	OMC_OSSL_ENSURE(params != NULL, OMC_ERR_NOMEM);
	OMC_AUTO(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_keygen_init(ctx) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_PKEY_generate(ctx, out) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* A public key on P-256 from its SEC 1 uncompressed encoding (2.3.3). */
static omc_err pub_from_point(EVP_PKEY **out, const uint8_t pt[OMC_STATIC_LEN(1 + 2 * OMC_P256_LEN)])
{
	*out = NULL;
	EVP_PKEY *params = omc_proto_p256();
	OMC_OSSL_ENSURE(params != NULL, OMC_ERR_NOMEM);
	OMC_AUTO(EVP_PKEY) pk = EVP_PKEY_new();
	OMC_OSSL_ENSURE(pk != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_copy_parameters(pk, params) == 1, OMC_ERR_CRYPTO);
	/* OpenSSL refuses a point that is not on the curve here already. */
	OMC_OSSL_ENSURE(EVP_PKEY_set1_encoded_public_key(pk, pt, 1 + 2 * OMC_P256_LEN) == 1, OMC_ERR_BAD_FORMAT);
	*out = pk;
	pk = NULL;
	return OMC_OK;
}

omc_err omc_proto_key_from_xy(omc_key **out, const uint8_t x[OMC_STATIC_LEN(OMC_P256_LEN)],
			      const uint8_t y[OMC_STATIC_LEN(OMC_P256_LEN)])
{
	uint8_t pt[1 + 2 * OMC_P256_LEN];
	pt[0] = 0x04; /* uncompressed, SEC 1 2.3.3 */
	memcpy(pt + 1, x, OMC_P256_LEN);
	memcpy(pt + 1 + OMC_P256_LEN, y, OMC_P256_LEN);
	OMC_AUTO(EVP_PKEY) pk = NULL;
	OMC_TRY(pub_from_point(&pk, pt));
	return omc_proto_key_wrap(out, &pk, false);
}

/* The public point, SEC 1 uncompressed. A key whose point conversion form
 * is compressed (one read from such a certificate) reports it compressed:
 * then the coordinates are exported one by one. */
static omc_err key_point(uint8_t pt[OMC_STATIC_LEN(1 + 2 * OMC_P256_LEN)], const omc_key *k)
{
	OMC_ENSURE(k != NULL && k->pkey != NULL, OMC_ERR_BAD_ARG);
	size_t n = 0;
	if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * OMC_P256_LEN, &n) == 1 &&
	    n == 1 + 2 * OMC_P256_LEN && pt[0] == 0x04)
		return OMC_OK;
	ERR_clear_error();
	OMC_AUTO(BIGNUM) bx = NULL;
	OMC_AUTO(BIGNUM) by = NULL;
	OMC_OSSL_ENSURE(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1, OMC_ERR_CRYPTO);
	pt[0] = 0x04;
	OMC_OSSL_ENSURE(BN_bn2binpad(bx, pt + 1, OMC_P256_LEN) == OMC_P256_LEN, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(BN_bn2binpad(by, pt + 1 + OMC_P256_LEN, OMC_P256_LEN) == OMC_P256_LEN, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_proto_key_xy(uint8_t x[OMC_STATIC_LEN(OMC_P256_LEN)], uint8_t y[OMC_STATIC_LEN(OMC_P256_LEN)],
			 const omc_key *k)
{
	uint8_t pt[1 + 2 * OMC_P256_LEN];
	OMC_TRY(key_point(pt, k));
	memcpy(x, pt + 1, OMC_P256_LEN);
	memcpy(y, pt + 1 + OMC_P256_LEN, OMC_P256_LEN);
	return OMC_OK;
}

omc_err omc_proto_key_scalar(uint8_t d[OMC_STATIC_LEN(OMC_P256_LEN)], const omc_key *k)
{
	OMC_ENSURE(k != NULL && k->pkey != NULL && k->priv, OMC_ERR_BAD_ARG);
	OMC_AUTO(BIGNUM) bd = NULL; /* BN_clear_free */
	OMC_OSSL_ENSURE(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bd) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(BN_bn2binpad(bd, d, OMC_P256_LEN) == OMC_P256_LEN, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_proto_key_to_cjose(cjose_jwk_t **out, const omc_key *k)
{
	uint8_t x[OMC_P256_LEN], y[OMC_P256_LEN];
	OMC_TRY(omc_proto_key_xy(x, y, k));
	cjose_jwk_ec_keyspec spec = {
		.crv = CJOSE_JWK_EC_P_256,
		.x = x,
		.xlen = sizeof x,
		.y = y,
		.ylen = sizeof y,
	};
	cjose_err err = {0};
	cjose_jwk_t *j = cjose_jwk_create_EC_spec(&spec, &err);
	ERR_clear_error();
	OMC_ENSURE(j != NULL, err.code == CJOSE_ERR_NO_MEMORY ? OMC_ERR_NOMEM : OMC_ERR_CRYPTO);
	*out = j;
	return OMC_OK;
}

/* --- the public API ---------------------------------------------------------------- */

omc_err omc_key_generate(omc_key **k)
{
	OMC_ENSURE(k != NULL, OMC_ERR_BAD_ARG);
	*k = NULL;
	omc_proto_init();
	OMC_AUTO(EVP_PKEY) pk = NULL;
	OMC_TRY(omc_proto_keygen(&pk));
	/* OpenSSL's own generator on P-256's parameters: a scalar in [1, n)
	 * and its point, so EVP_PKEY_check (two scalar multiplications, more
	 * than the generation itself) would only repeat it. */
	return omc_proto_key_adopt(k, &pk, true);
}

void omc_key_free(omc_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey); /* OpenSSL clears the private scalar */
	omc_free(k);
}

bool omc_key_has_private(const omc_key *k)
{
	return k != NULL && k->priv;
}

omc_err omc_key_public(omc_key **pub, const omc_key *k)
{
	OMC_ENSURE(pub != NULL && k != NULL, OMC_ERR_BAD_ARG);
	*pub = NULL;
	omc_proto_init();
	uint8_t pt[1 + 2 * OMC_P256_LEN];
	OMC_TRY(key_point(pt, k));
	OMC_AUTO(EVP_PKEY) pk = NULL;
	OMC_TRY(pub_from_point(&pk, pt));
	/* k's own point, checked when k was made. */
	return omc_proto_key_adopt(pub, &pk, false);
}

bool omc_key_equal_public(const omc_key *a, const omc_key *b)
{
	if (!a || !b || !a->pkey || !b->pkey)
		return false;
	/* The group and the public point (EC_GROUP_cmp, EC_POINT_cmp), without
	 * exporting both points' coordinates: public values, so no need for a
	 * constant-time compare. 0, -1 and -2 (different, other types, error)
	 * are all "not equal". */
	int r = EVP_PKEY_eq(a->pkey, b->pkey);
	ERR_clear_error();
	return r == 1;
}

/* --- PEM ------------------------------------------------------------------------------ */

/* The passphrase OpenSSL gets: lowercase hex of the secret. */
static omc_err pass_phrase(char *phrase, size_t cap, const uint8_t *pass, size_t pass_len)
{
	OMC_ENSURE(pass != NULL && pass_len >= OMC_PASS_MIN && pass_len <= OMC_PASS_MAX, OMC_ERR_BAD_ARG);
	OMC_TRY(omc_hex_encode(phrase, cap, pass, pass_len));
	return OMC_OK;
}

omc_err omc_key_to_pem(char **pem, size_t *pem_len, const omc_key *k, bool include_private, const uint8_t *pass,
		       size_t pass_len)
{
	OMC_ENSURE(pem != NULL && pem_len != NULL && k != NULL, OMC_ERR_BAD_ARG);
	*pem = NULL;
	*pem_len = 0;
	omc_proto_init();
	OMC_AUTO(BIO) bio = BIO_new(BIO_s_mem());
	OMC_OSSL_ENSURE(bio != NULL, OMC_ERR_NOMEM);
	if (include_private) {
		OMC_ENSURE(k->priv, OMC_ERR_BAD_ARG);
		char phrase[2 * OMC_PASS_MAX + 1];
		OMC_DEFER_WIPE(phrase);
		OMC_TRY(pass_phrase(phrase, sizeof phrase, pass, pass_len));
		OMC_OSSL_ENSURE(PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, EVP_aes_256_cbc(), phrase,
							      (int)(2 * pass_len), NULL, NULL) == 1,
				OMC_ERR_CRYPTO);
	} else {
		OMC_OSSL_ENSURE(PEM_write_bio_PUBKEY(bio, k->pkey) == 1, OMC_ERR_CRYPTO);
	}
	return omc_bio_to_str(pem, pem_len, bio);
}

static omc_err key_from_spki(omc_key **k, const omc_pem_block *b)
{
	OMC_ENSURE(b->header[0] == '\0', OMC_ERR_BAD_FORMAT);
	const unsigned char *p = b->data;
	OMC_AUTO(EVP_PKEY) pk = d2i_PUBKEY(NULL, &p, b->len);
	OMC_OSSL_ENSURE(pk != NULL && p == b->data + b->len, OMC_ERR_BAD_FORMAT);
	return omc_proto_key_wrap(k, &pk, false);
}

static omc_err key_from_epki(omc_key **k, const omc_pem_block *b, const uint8_t *pass, size_t pass_len)
{
	char phrase[2 * OMC_PASS_MAX + 1];
	OMC_DEFER_WIPE(phrase);
	OMC_TRY(pass_phrase(phrase, sizeof phrase, pass, pass_len));
	OMC_ENSURE(b->header[0] == '\0', OMC_ERR_BAD_FORMAT);
	const unsigned char *p = b->data;
	OMC_AUTO(X509_SIG) epki = d2i_X509_SIG(NULL, &p, b->len);
	OMC_OSSL_ENSURE(epki != NULL && p == b->data + b->len, OMC_ERR_BAD_FORMAT);
	/* A wrong secret fails the CBC padding or, rarely, yields bytes that
	 * do not decode: both are the same failure to the caller. */
	OMC_AUTO(PKCS8_PRIV_KEY_INFO) inf = PKCS8_decrypt(epki, phrase, (int)(2 * pass_len));
	OMC_OSSL_ENSURE(inf != NULL, OMC_ERR_AUTH_FAILED);
	OMC_AUTO(EVP_PKEY) pk = EVP_PKCS82PKEY(inf);
	OMC_OSSL_ENSURE(pk != NULL, OMC_ERR_AUTH_FAILED);
	return omc_proto_key_wrap(k, &pk, true);
}

omc_err omc_key_from_pem(omc_key **k, const char *pem, size_t pem_len, const uint8_t *pass, size_t pass_len)
{
	OMC_ENSURE(k != NULL && pem != NULL, OMC_ERR_BAD_ARG);
	*k = NULL;
	omc_proto_init();
	OMC_PEM_BLOCK b = {0};
	OMC_TRY(omc_pem_read(&b, pem, pem_len, OMC_KEY_PEM_MAX));
	if (strcmp(b.name, PEM_STRING_PUBLIC) == 0)
		return key_from_spki(k, &b);
	if (strcmp(b.name, PEM_STRING_PKCS8) == 0)
		return key_from_epki(k, &b, pass, pass_len);
	/* "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" (SEC 1, with or without a
	 * legacy Proc-Type header) and the like: a private key in plaintext,
	 * or under the legacy PEM encryption. Not decoded at all. */
	if (strstr(b.name, "PRIVATE KEY") != NULL) {
		OMC_LOG_WRN("proto", "refused a private-key PEM of type \"%s\": only encrypted PKCS#8 is read",
			    b.name);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	OMC_BAIL(OMC_ERR_BAD_FORMAT);
}
