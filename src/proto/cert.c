/* X.509 v3 certificates (RFC 5280) with P-256 keys, signed with
 * ecdsa-with-SHA256 (RFC 5758 3.2): issued, parsed, encoded.
 *
 * Every certificate openmcim issues carries
 *   basicConstraints  critical; CA:TRUE for a CA, CA:FALSE otherwise
 *   keyUsage          critical; keyCertSign, cRLSign for a CA,
 *                     digitalSignature, keyAgreement otherwise
 *   subjectKeyIdentifier    SHA-1 of the public key (RFC 5280 4.2.1.2 (1))
 *   authorityKeyIdentifier  the issuer's subjectKeyIdentifier
 * and a validity from one hour before now (clock skew) to now + days.
 * What comes in is refused unless it is one DER certificate (nothing after
 * it), v3, with a P-256 key and an ecdsa-with-SHA256 signature. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proto/proto_internal.h"

#define SERIAL_RANDOM_LEN 16

/* --- the parse cache (proto_internal.h) --------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	uint64_t tick;
	struct {
		uint8_t fp[32];
		X509 *x; /* one reference of the cache's own */
		uint64_t used;
	} e[OMC_CERT_CACHE_N];
#ifdef OMC_TEST_HOOKS
	bool off;
	unsigned long hits;
#endif
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool cache_on(void)
{
#ifdef OMC_TEST_HOOKS
	return !cache.off;
#else
	return true;
#endif
}

/* A new reference to the X509 parsed from the DER of SHA-256 fp, or NULL. */
static X509 *cache_get(const uint8_t fp[32])
{
	X509 *x = NULL;
	if (!cache_on())
		return NULL;
	pthread_mutex_lock(&cache.lock);
	for (size_t i = 0; i < OMC_CERT_CACHE_N && !x; i++)
		if (cache.e[i].x && memcmp(cache.e[i].fp, fp, 32) == 0 && X509_up_ref(cache.e[i].x) == 1) {
			x = cache.e[i].x;
			cache.e[i].used = ++cache.tick;
#ifdef OMC_TEST_HOOKS
			cache.hits++;
#endif
		}
	pthread_mutex_unlock(&cache.lock);
	return x;
}

/* Keep x (a reference of its own) in the slot used longest ago. A cache
 * that keeps nothing only makes the next parse slower: nothing can fail. */
static void cache_put(const uint8_t fp[32], X509 *x)
{
	if (!cache_on() || X509_up_ref(x) != 1)
		return;
	X509 *drop = NULL;
	pthread_mutex_lock(&cache.lock);
	size_t v = 0;
	bool there = false;
	for (size_t i = 0; i < OMC_CERT_CACHE_N && !there; i++) {
		if (cache.e[i].x && memcmp(cache.e[i].fp, fp, 32) == 0)
			there = true; /* another thread parsed it meanwhile */
		else if (cache.e[v].x && (!cache.e[i].x || cache.e[i].used < cache.e[v].used))
			v = i;
	}
	if (there) {
		drop = x;
	} else {
		drop = cache.e[v].x;
		cache.e[v].x = x;
		memcpy(cache.e[v].fp, fp, 32);
		cache.e[v].used = ++cache.tick;
	}
	pthread_mutex_unlock(&cache.lock);
	X509_free(drop);
}

#ifdef OMC_TEST_HOOKS
void omc_test_proto_cache(bool on)
{
	X509 *drop[OMC_CERT_CACHE_N];
	pthread_mutex_lock(&cache.lock);
	cache.off = !on;
	for (size_t i = 0; i < OMC_CERT_CACHE_N; i++) {
		drop[i] = cache.e[i].x;
		cache.e[i].x = NULL;
	}
	pthread_mutex_unlock(&cache.lock);
	for (size_t i = 0; i < OMC_CERT_CACHE_N; i++)
		X509_free(drop[i]);
	omc_proto_chain_cache_clear();
	omc_proto_sig_cache_clear();
	omc_proto_hdr_cache_clear();
}

bool omc_test_proto_cache_on(void)
{
	return cache_on();
}

unsigned long omc_test_cert_cache_hits(void)
{
	pthread_mutex_lock(&cache.lock);
	unsigned long n = cache.hits;
	pthread_mutex_unlock(&cache.lock);
	return n;
}
#endif

/* --- parse ---------------------------------------------------------------------------- */

/* OpenSSL decodes a certificate's extensions (key identifiers, key usage,
 * basic constraints) into the X509 on first use, under the X509's lock,
 * and path building then reads them (the key identifiers compared by
 * ASN1_STRING_cmp) without it. The same X509 is shared by threads (the
 * cache, a server's anchors): decode them while one thread alone holds it.
 * false if they did not decode: the X509 is then marked (EXFLAG_INVALID)
 * and path validation refuses it. */
static bool ext_cache_fill(X509 *x)
{
	bool ok = X509_check_purpose(x, -1, 0) == 1;
	ERR_clear_error();
	return ok;
}

static omc_err cert_wrap(omc_cert **out, X509 **x, const uint8_t fp[32])
{
	omc_cert *c = omc_calloc(1, sizeof *c);
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	c->x = *x;
	memcpy(c->fp, fp, 32);
	*x = NULL;
	*out = c;
	return OMC_OK;
}

omc_err omc_proto_cert_parse_der(omc_cert **out, const uint8_t *der, size_t len)
{
	OMC_ENSURE(out != NULL && der != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	OMC_ENSURE(len <= OMC_CERT_DER_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(len > 0, OMC_ERR_BAD_FORMAT);
	uint8_t fp[32];
	unsigned fl = 0;
	/* It can fail only for want of memory. */
	OMC_OSSL_ENSURE(EVP_Digest(der, len, fp, &fl, EVP_sha256(), NULL) == 1 && fl == 32, OMC_ERR_NOMEM);
	OMC_AUTO(X509) hit = cache_get(fp);
	if (hit)
		return cert_wrap(out, &hit, fp);
	const unsigned char *p = der;
	OMC_AUTO(X509) x = d2i_X509(NULL, &p, (long)len);
	OMC_OSSL_ENSURE(x != NULL, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(p == der + len, OMC_ERR_BAD_FORMAT);
	/* It must encode back to the same bytes: the fingerprint is then the
	 * hash of what was received. */
	OMC_AUTO(omc_ossl_bytes) re = NULL;
	int n = i2d_X509(x, &re);
	OMC_OSSL_ENSURE(n > 0, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE((size_t)n == len && memcmp(re, der, len) == 0, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(X509_get_version(x) == X509_VERSION_3, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256, OMC_ERR_BAD_FORMAT);
	const EVP_PKEY *pk = X509_get0_pubkey(x);
	OMC_OSSL_ENSURE(pk != NULL, OMC_ERR_BAD_FORMAT);
	OMC_TRY(omc_proto_pkey_check_p256(pk));
	/* Its point on the curve, once here rather than on every use of the
	 * key (omc_cert_public_key; omc_proto_key_wrap explains why the quick
	 * check is full validation on P-256). */
	OMC_AUTO(EVP_PKEY_CTX) chk = EVP_PKEY_CTX_new_from_pkey(NULL, X509_get0_pubkey(x), NULL);
	OMC_OSSL_ENSURE(chk != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_public_check_quick(chk) == 1, OMC_ERR_BAD_FORMAT);
	/* Only a certificate whose extensions decoded is shared through the
	 * cache (ext_cache_fill); the others, or one that met an allocation
	 * failure there, stay this caller's. */
	if (ext_cache_fill(x))
		cache_put(fp, x);
	return cert_wrap(out, &x, fp);
}

omc_err omc_cert_from_der(omc_cert **c, const uint8_t *der, size_t len)
{
	OMC_ENSURE(c != NULL && der != NULL, OMC_ERR_BAD_ARG);
	*c = NULL;
	omc_proto_init();
	return omc_proto_cert_parse_der(c, der, len);
}

omc_err omc_cert_from_pem(omc_cert **c, const char *pem, size_t len)
{
	OMC_ENSURE(c != NULL && pem != NULL, OMC_ERR_BAD_ARG);
	*c = NULL;
	omc_proto_init();
	/* PEM if the first thing after any blank space is a BEGIN line;
	 * DER otherwise (a DER certificate starts with 0x30). */
	static const char begin[] = "-----BEGIN ";
	size_t at = 0;
	while (at < len && at < 64 && (pem[at] == ' ' || pem[at] == '\t' || pem[at] == '\r' || pem[at] == '\n'))
		at++;
	if (len - at < sizeof begin - 1 || memcmp(pem + at, begin, sizeof begin - 1) != 0)
		return omc_proto_cert_parse_der(c, (const uint8_t *)pem, len);
	OMC_PEM_BLOCK b = {0};
	OMC_TRY(omc_pem_read(&b, pem, len, OMC_CERT_PEM_MAX));
	OMC_ENSURE(strcmp(b.name, PEM_STRING_X509) == 0 && b.header[0] == '\0', OMC_ERR_BAD_FORMAT);
	return omc_proto_cert_parse_der(c, b.data, (size_t)b.len);
}

/* --- encode ------------------------------------------------------------------------------ */

void omc_cert_free(omc_cert *c)
{
	if (!c)
		return;
	X509_free(c->x);
	omc_free(c);
}

omc_err omc_cert_dup(omc_cert **out, const omc_cert *c)
{
	OMC_ENSURE(out != NULL && c != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	/* A certificate never changes once made: the handles share it. */
	OMC_OSSL_ENSURE(X509_up_ref(c->x) == 1, OMC_ERR_CRYPTO);
	X509 *x = c->x;
	omc_err e = cert_wrap(out, &x, c->fp);
	if (e != OMC_OK)
		X509_free(x);
	return e;
}

omc_err omc_cert_to_pem(char **pem, size_t *len, const omc_cert *c)
{
	OMC_ENSURE(pem != NULL && len != NULL && c != NULL, OMC_ERR_BAD_ARG);
	*pem = NULL;
	*len = 0;
	omc_proto_init();
	OMC_AUTO(BIO) bio = BIO_new(BIO_s_mem());
	OMC_OSSL_ENSURE(bio != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(PEM_write_bio_X509(bio, c->x) == 1, OMC_ERR_CRYPTO);
	return omc_bio_to_str(pem, len, bio);
}

omc_err omc_cert_to_der(uint8_t **der, size_t *len, const omc_cert *c)
{
	OMC_ENSURE(der != NULL && len != NULL && c != NULL, OMC_ERR_BAD_ARG);
	*der = NULL;
	*len = 0;
	omc_proto_init();
	OMC_AUTO(omc_ossl_bytes) enc = NULL;
	int n = i2d_X509(c->x, &enc);
	OMC_OSSL_ENSURE(n > 0, OMC_ERR_CRYPTO);
	uint8_t *out = omc_alloc((size_t)n);
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	memcpy(out, enc, (size_t)n);
	*der = out;
	*len = (size_t)n;
	return OMC_OK;
}

omc_err omc_cert_public_key(omc_key **k, const omc_cert *c)
{
	OMC_ENSURE(k != NULL && c != NULL, OMC_ERR_BAD_ARG);
	*k = NULL;
	omc_proto_init();
	/* The certificate's own key object, shared (a key never changes once
	 * made): no export of the point and import into a new key, which
	 * builds the curve again each time. No check either: every omc_cert's
	 * key was checked as every public key is (P-256, named curve, on the
	 * curve) when it was parsed (omc_proto_cert_parse_der) or, as an
	 * omc_key, before a certificate was issued for it. */
	OMC_AUTO(EVP_PKEY) pk = X509_get0_pubkey(c->x);
	OMC_OSSL_ENSURE(pk != NULL, OMC_ERR_BAD_FORMAT);
	if (EVP_PKEY_up_ref(pk) != 1) {
		pk = NULL;
		ERR_clear_error();
		OMC_BAIL(OMC_ERR_CRYPTO);
	}
	return omc_proto_key_adopt(k, &pk, false);
}

omc_err omc_cert_subject_cn(char *buf, size_t cap, const omc_cert *c)
{
	OMC_ENSURE(buf != NULL && cap > 0 && c != NULL, OMC_ERR_BAD_ARG);
	buf[0] = '\0';
	omc_proto_init();
	const X509_NAME *nm = X509_get_subject_name(c->x);
	int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	OMC_ENSURE(i >= 0, OMC_ERR_BAD_FORMAT);
	/* Exactly one CN: two would leave a choice of names. */
	OMC_ENSURE(X509_NAME_get_index_by_NID(nm, NID_commonName, i) < 0, OMC_ERR_BAD_FORMAT);
	const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
	OMC_AUTO(omc_ossl_bytes) utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, v);
	OMC_OSSL_ENSURE(n >= 0, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(memchr(utf8, 0, (size_t)n) == NULL, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE((size_t)n < cap, OMC_ERR_NO_SPACE);
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	return OMC_OK;
}

omc_err omc_cert_fingerprint(uint8_t out[OMC_STATIC_LEN(32)], const omc_cert *c)
{
	OMC_ENSURE(out != NULL && c != NULL, OMC_ERR_BAD_ARG);
	memcpy(out, c->fp, 32);
	return OMC_OK;
}

/* --- issue ---------------------------------------------------------------------------------- */

/* A name component: 1..OMC_CN_MAX bytes, no control characters. */
static bool name_ok(const char *s)
{
	size_t n = strnlen(s, OMC_CN_MAX + 1);
	if (n == 0 || n > OMC_CN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static omc_err add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	OMC_AUTO(X509_EXTENSION) ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	OMC_OSSL_ENSURE(ext != NULL, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_add_ext(x, ext, -1) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err set_serial(X509 *x, uint64_t serial)
{
	if (serial != 0) {
		OMC_OSSL_ENSURE(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) == 1, OMC_ERR_CRYPTO);
		return OMC_OK;
	}
	/* 127 random bits, positive and never zero (RFC 5280 4.1.2.2). */
	uint8_t r[SERIAL_RANDOM_LEN];
	OMC_TRY(omc_rand_bytes(r, sizeof r));
	r[0] = (uint8_t)((r[0] & 0x7f) | 0x40);
	OMC_AUTO(BIGNUM) bn = BN_bin2bn(r, sizeof r, NULL);
	OMC_OSSL_ENSURE(bn != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL, OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err set_names(X509 *x, const omc_cert_req *req, const omc_cert *issuer)
{
	OMC_AUTO(X509_NAME) nm = X509_NAME_new();
	OMC_OSSL_ENSURE(nm != NULL, OMC_ERR_NOMEM);
	if (req->subject_org)
		OMC_OSSL_ENSURE(X509_NAME_add_entry_by_NID(nm, NID_organizationName, MBSTRING_UTF8,
							   (const unsigned char *)req->subject_org, -1, -1, 0) == 1,
				OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_NAME_add_entry_by_NID(nm, NID_commonName, MBSTRING_UTF8,
						   (const unsigned char *)req->subject_cn, -1, -1, 0) == 1,
			OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_set_subject_name(x, nm) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->x) : nm) == 1,
			OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_proto_cert_issue_unchecked(omc_cert **out, const omc_cert_req *req, const omc_key *subject_pub,
				       const omc_cert *issuer, const omc_key *issuer_key)
{
	OMC_AUTO(X509) x = X509_new();
	OMC_OSSL_ENSURE(x != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(X509_set_version(x, X509_VERSION_3) == 1, OMC_ERR_CRYPTO);
	OMC_TRY(set_serial(x, req->serial));
	OMC_TRY(set_names(x, req, issuer));
	time_t now = time(NULL);
	OMC_OSSL_ENSURE(X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &now) != NULL, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_time_adj_ex(X509_getm_notAfter(x), (int)req->days, 0, &now) != NULL, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(X509_set_pubkey(x, subject_pub->pkey) == 1, OMC_ERR_CRYPTO);

	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer ? issuer->x : x, x, NULL, NULL, 0);
	/* Lets a self-signed certificate's authorityKeyIdentifier name itself. */
	OMC_OSSL_ENSURE(X509V3_set_issuer_pkey(&v3, issuer_key->pkey) == 1, OMC_ERR_CRYPTO);
	OMC_TRY(add_ext(x, &v3, NID_basic_constraints, req->ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
	OMC_TRY(add_ext(x, &v3, NID_key_usage,
			req->ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyAgreement"));
	OMC_TRY(add_ext(x, &v3, NID_subject_key_identifier, "hash"));
	OMC_TRY(add_ext(x, &v3, NID_authority_key_identifier, "keyid:always"));
	if (req->san) {
		OMC_TRY(add_ext(x, &v3, NID_subject_alt_name, req->san));
		OMC_TRY(add_ext(x, &v3, NID_ext_key_usage, "serverAuth"));
	}
	OMC_OSSL_ENSURE(X509_sign(x, issuer_key->pkey, EVP_sha256()) > 0, OMC_ERR_CRYPTO);
	uint8_t fp[32];
	unsigned int n = 0;
	OMC_OSSL_ENSURE(X509_digest(x, EVP_sha256(), fp, &n) == 1 && n == 32, OMC_ERR_CRYPTO);
	OMC_ENSURE(ext_cache_fill(x), OMC_ERR_NOMEM);
	return cert_wrap(out, &x, fp);
}

omc_err omc_cert_issue(omc_cert **out, const omc_cert_req *req, const omc_key *subject_pub, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	OMC_ENSURE(out != NULL && req != NULL && subject_pub != NULL && issuer_key != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	OMC_ENSURE(req->subject_cn != NULL && name_ok(req->subject_cn), OMC_ERR_BAD_ARG);
	OMC_ENSURE(req->subject_org == NULL || name_ok(req->subject_org), OMC_ERR_BAD_ARG);
	OMC_ENSURE(req->days >= 1 && req->days <= OMC_CERT_DAYS_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(issuer_key->priv, OMC_ERR_BAD_ARG);
	if (issuer == NULL) {
		/* Self-signed: the issuer key is the subject's own. */
		OMC_ENSURE(omc_key_equal_public(issuer_key, subject_pub), OMC_ERR_BAD_ARG);
	} else {
		OMC_AUTO(omc_key) ipub = NULL;
		OMC_TRY(omc_cert_public_key(&ipub, issuer));
		OMC_ENSURE(omc_key_equal_public(issuer_key, ipub), OMC_ERR_BAD_ARG);
		/* Never make a certificate that no verifier would accept. */
		OMC_ENSURE(X509_check_ca(issuer->x) == 1 && (X509_get_key_usage(issuer->x) & KU_KEY_CERT_SIGN),
			   OMC_ERR_DENIED);
	}
	return omc_proto_cert_issue_unchecked(out, req, subject_pub, issuer, issuer_key);
}
