/* X.509 certificates of src/proto: a three-level chain (root CA ->
 * intermediate CA -> leaf) verifies, and is refused with a wrong anchor,
 * expired, not yet valid, with a leaf acting as a CA, with one byte of a
 * signature or of a signed field changed, without its intermediate; the
 * partial-chain rule (a pinned intermediate that issued the leaf, and
 * nothing deeper); the extensions every issued certificate carries; PEM and
 * DER both ways, strictly (trailing bytes, truncation, other key types);
 * subject CN and fingerprint; the issuing policy; allocation failure. The
 * parse and chain caches: a hit gives what a full run gives, the time is
 * checked on every hit, ambiguous paths are never kept. Every test runs
 * twice, with the caches and without.
 * covers: TRE-3, TRE-7, TRE-9, SEC-9 */
#include "testlib.h"

#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proto/proto_internal.h"

#define DAY (24 * 60 * 60)

typedef struct pki {
	omc_key *root_k, *inter_k, *leaf_k, *other_k;
	omc_cert *root, *inter, *leaf, *other_root;
} pki;

static omc_cert *issue(const char *cn, bool ca, unsigned days, const omc_key *subject, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	return tl_cert(cn, "openmcim test", ca, days, subject, issuer, issuer_key);
}

static int setup(void **state)
{
	pki *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->root_k = tl_key();
	p->inter_k = tl_key();
	p->leaf_k = tl_key();
	p->other_k = tl_key();
	p->root = issue("Test Root CA", true, 3650, p->root_k, NULL, p->root_k);
	p->inter = issue("Test Intermediate CA", true, 1825, p->inter_k, p->root, p->root_k);
	p->leaf = issue("leaf.example", false, 365, p->leaf_k, p->inter, p->inter_k);
	p->other_root = issue("Test Root CA", true, 3650, p->other_k, NULL, p->other_k); /* same name */
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	pki *p = *state;
	omc_cert_free(p->root);
	omc_cert_free(p->inter);
	omc_cert_free(p->leaf);
	omc_cert_free(p->other_root);
	omc_key_free(p->root_k);
	omc_key_free(p->inter_k);
	omc_key_free(p->leaf_k);
	omc_key_free(p->other_k);
	free(p);
	return 0;
}

static omc_err verify(const omc_cert *leaf, const omc_cert *i1, const omc_cert *i2, const omc_cert *a1,
		      const omc_cert *a2, time_t now, size_t *anchor)
{
	const omc_cert *chain[3] = {leaf, i1, i2};
	size_t n_chain = i2 ? 3 : i1 ? 2 : 1;
	const omc_cert *anchors[2] = {a1, a2};
	return omc_cert_chain_verify(chain, n_chain, anchors, a2 ? 2 : 1, now, anchor);
}

/* --- verification ------------------------------------------------------------------------- */

static void test_chain_verifies(void **state)
{
	pki *p = *state;
	size_t anchor = 99;
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	assert_err(verify(p->leaf, p->inter, NULL, p->other_root, p->root, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 1);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, time(NULL) + 300 * DAY, NULL), OMC_OK);
	/* The order of the untrusted certificates does not matter; the root
	 * itself may come along. */
	assert_err(verify(p->leaf, p->root, p->inter, p->root, NULL, 0, NULL), OMC_OK);
	/* A self-signed root verifies against itself. */
	assert_err(verify(p->root, NULL, NULL, p->root, NULL, 0, &anchor), OMC_OK);
}

static void test_chain_refused(void **state)
{
	pki *p = *state;
	time_t now = time(NULL);
	/* Wrong anchor, even one with the same name. */
	assert_err(verify(p->leaf, p->inter, NULL, p->other_root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	/* Expired (the leaf after a year, everything after 20), not yet valid. */
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now + 400 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now + 20 * 366 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now - 2 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	/* Missing intermediate. */
	assert_err(verify(p->leaf, NULL, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(p->leaf, p->other_root, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	/* Arguments. */
	const omc_cert *none[1] = {NULL};
	assert_err(omc_cert_chain_verify(none, 1, none, 1, 0, NULL), OMC_ERR_BAD_ARG);
	const omc_cert *chain[1] = {p->leaf};
	const omc_cert *anchors[1] = {p->root};
	assert_err(omc_cert_chain_verify(chain, 0, anchors, 1, 0, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_cert_chain_verify(chain, 1, anchors, 0, 0, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_cert_chain_verify(chain, OMC_X5C_MAX + 1, anchors, 1, 0, NULL), OMC_ERR_BAD_ARG);
}

/* A leaf certificate (CA:FALSE, no keyCertSign) used to issue another. */
static void test_leaf_as_ca(void **state)
{
	pki *p = *state;
	omc_key *k = tl_key(), *pub = NULL;
	assert_err(omc_key_public(&pub, k), OMC_OK);
	omc_cert_req req = {.subject_cn = "under.leaf", .days = 30};
	omc_cert *c = NULL;
	/* omc_cert_issue will not make it... */
	assert_err(omc_cert_issue(&c, &req, pub, p->leaf, p->leaf_k), OMC_ERR_DENIED);
	assert_null(c);
	/* ...so it is made without the policy checks, and must not verify. */
	assert_err(omc_proto_cert_issue_unchecked(&c, &req, pub, p->leaf, p->leaf_k), OMC_OK);
	const omc_cert *chain[3] = {c, p->leaf, p->inter};
	const omc_cert *anchors[1] = {p->root};
	assert_err(omc_cert_chain_verify(chain, 3, anchors, 1, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	/* Not even with the leaf itself pinned as an anchor. */
	const omc_cert *pinned[1] = {p->leaf};
	assert_err(omc_cert_chain_verify(chain, 1, pinned, 1, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	/* A CA with a leaf's key usage does not either. */
	omc_cert *c2 = NULL;
	req.ca = true;
	assert_err(omc_proto_cert_issue_unchecked(&c2, &req, pub, p->leaf, p->leaf_k), OMC_OK);
	chain[0] = c2;
	assert_err(omc_cert_chain_verify(chain, 3, anchors, 1, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	omc_cert_free(c);
	omc_cert_free(c2);
	omc_key_free(pub);
	omc_key_free(k);
}

static omc_cert *tampered(const omc_cert *c, size_t at_from_end)
{
	uint8_t *der = NULL;
	size_t n = 0;
	assert_err(omc_cert_to_der(&der, &n, c), OMC_OK);
	der[n - 1 - at_from_end] ^= 0x01;
	omc_cert *t = NULL;
	assert_err(omc_cert_from_der(&t, der, n), OMC_OK);
	omc_free(der);
	return t;
}

static void test_tampered(void **state)
{
	pki *p = *state;
	/* The last bytes of the DER are S of the signature. */
	for (size_t at = 0; at < 4; at++) {
		omc_cert *leaf = tampered(p->leaf, at), *inter = tampered(p->inter, at);
		assert_err(verify(leaf, p->inter, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
		assert_err(verify(p->leaf, inter, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
		omc_cert_free(leaf);
		omc_cert_free(inter);
	}
	/* A signed field: the subject CN of the leaf. */
	uint8_t *der = NULL;
	size_t n = 0;
	assert_err(omc_cert_to_der(&der, &n, p->leaf), OMC_OK);
	uint8_t *cn = memmem(der, n, "leaf.example", 12);
	assert_non_null(cn);
	cn[0] = 'L';
	omc_cert *t = NULL;
	assert_err(omc_cert_from_der(&t, der, n), OMC_OK);
	char buf[64];
	assert_err(omc_cert_subject_cn(buf, sizeof buf, t), OMC_OK);
	assert_string_equal(buf, "Leaf.example");
	assert_err(verify(t, p->inter, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	omc_cert_free(t);
	omc_free(der);
}

/* X509_V_FLAG_PARTIAL_CHAIN only for an anchor that issued the leaf. */
static void test_partial_chain(void **state)
{
	pki *p = *state;
	size_t anchor = 99;
	assert_err(verify(p->leaf, NULL, NULL, p->inter, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	assert_err(verify(p->leaf, p->inter, NULL, p->other_root, p->inter, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 1);

	/* root -> inter -> inter2 -> leaf2: inter pinned does not validate
	 * leaf2 (it did not issue it), with or without inter2 along. */
	omc_key *k2 = tl_key(), *kl = tl_key();
	omc_cert *inter2 = issue("Test Intermediate 2", true, 365, k2, p->inter, p->inter_k);
	omc_cert *leaf2 = issue("leaf2.example", false, 30, kl, inter2, k2);
	assert_err(verify(leaf2, inter2, NULL, p->inter, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(leaf2, inter2, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(leaf2, inter2, p->inter, p->root, NULL, 0, NULL), OMC_OK);
	assert_err(verify(leaf2, NULL, NULL, inter2, NULL, 0, NULL), OMC_OK);
	/* An expired pinned intermediate is still refused. */
	assert_err(verify(leaf2, NULL, NULL, inter2, NULL, time(NULL) + 400 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	omc_cert_free(inter2);
	omc_cert_free(leaf2);
	omc_key_free(k2);
	omc_key_free(kl);
}

/* --- what is issued ------------------------------------------------------------------------ */

static ASN1_OCTET_STRING *ext_octets(X509 *x, int nid)
{
	return X509_get_ext_d2i(x, nid, NULL, NULL);
}

static void check_profile(const omc_cert *c, const omc_cert *issuer, bool ca)
{
	X509 *x = c->x;
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 1);
	i = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), 1);
	uint32_t ku = X509_get_key_usage(x);
	if (ca) {
		assert_int_equal(X509_check_ca(x), 1);
		assert_int_equal(ku, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	} else {
		assert_int_equal(X509_check_ca(x), 0);
		assert_int_equal(ku, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
	}
	ASN1_OCTET_STRING *ski = ext_octets(x, NID_subject_key_identifier);
	assert_non_null(ski);
	AUTHORITY_KEYID *aki = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	assert_non_null(aki);
	assert_non_null(aki->keyid);
	ASN1_OCTET_STRING *iski = ext_octets(issuer->x, NID_subject_key_identifier);
	assert_non_null(iski);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid, iski), 0);
	ASN1_OCTET_STRING_free(ski);
	ASN1_OCTET_STRING_free(iski);
	AUTHORITY_KEYID_free(aki);
	/* Validity: from an hour ago (clock skew). */
	int days = 0, secs = 0;
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)), 1);
	assert_true(days == 0 && secs <= -3590 && secs >= -3700);
}

static void test_profile(void **state)
{
	pki *p = *state;
	check_profile(p->root, p->root, true);
	check_profile(p->inter, p->root, true);
	check_profile(p->leaf, p->inter, false);
	/* Serial numbers: as asked, or 127 random bits. */
	omc_cert_req req = {.subject_cn = "serial", .days = 1, .serial = 42};
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, p->leaf_k), OMC_OK);
	omc_cert *c = NULL;
	assert_err(omc_cert_issue(&c, &req, pub, p->inter, p->inter_k), OMC_OK);
	uint64_t v = 0;
	assert_int_equal(ASN1_INTEGER_get_uint64(&v, X509_get0_serialNumber(c->x)), 1);
	assert_int_equal(v, 42);
	omc_cert_free(c);
	const ASN1_INTEGER *s1 = X509_get0_serialNumber(p->leaf->x), *s2 = X509_get0_serialNumber(p->inter->x);
	assert_int_not_equal(ASN1_INTEGER_cmp(s1, s2), 0);
	BIGNUM *bn = ASN1_INTEGER_to_BN(s1, NULL);
	assert_false(BN_is_negative(bn));
	assert_int_equal(BN_num_bits(bn), 127);
	BN_free(bn);
	omc_key_free(pub);
}

static void test_issue_policy(void **state)
{
	pki *p = *state;
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, p->leaf_k), OMC_OK);
	omc_cert *c = NULL;
	omc_cert_req req = {.subject_cn = "x", .days = 1};
	char long_cn[OMC_CN_MAX + 2];
	memset(long_cn, 'a', sizeof long_cn - 1);
	long_cn[sizeof long_cn - 1] = '\0';
	omc_cert_req bad[] = {
		{.subject_cn = NULL, .days = 1},
		{.subject_cn = "", .days = 1},
		{.subject_cn = long_cn, .days = 1},
		{.subject_cn = "new\nline", .days = 1},
		{.subject_cn = "x", .subject_org = "", .days = 1},
		{.subject_cn = "x", .days = 0},
		{.subject_cn = "x", .days = OMC_CERT_DAYS_MAX + 1},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++)
		assert_err(omc_cert_issue(&c, &bad[i], pub, p->inter, p->inter_k), OMC_ERR_BAD_ARG);
	/* The issuer's key must be private and the issuer's; self-signed
	 * means the subject's own key. */
	omc_key *inter_pub = NULL;
	assert_err(omc_key_public(&inter_pub, p->inter_k), OMC_OK);
	assert_err(omc_cert_issue(&c, &req, pub, p->inter, inter_pub), OMC_ERR_BAD_ARG);
	assert_err(omc_cert_issue(&c, &req, pub, p->inter, p->root_k), OMC_ERR_BAD_ARG);
	assert_err(omc_cert_issue(&c, &req, pub, NULL, p->root_k), OMC_ERR_BAD_ARG);
	assert_null(c);
	long_cn[OMC_CN_MAX] = '\0';
	req.subject_cn = long_cn;
	assert_err(omc_cert_issue(&c, &req, pub, p->inter, p->inter_k), OMC_OK);
	omc_cert_free(c);
	omc_key_free(inter_pub);
	omc_key_free(pub);
}

/* --- encodings ------------------------------------------------------------------------------ */

static void test_pem_der_round_trip(void **state)
{
	pki *p = *state;
	const omc_cert *all[] = {p->root, p->inter, p->leaf};
	for (size_t i = 0; i < OMC_ARRAY_LEN(all); i++) {
		uint8_t fp[32], fp2[32], want[32];
		assert_err(omc_cert_fingerprint(fp, all[i]), OMC_OK);
		uint8_t *der = NULL;
		size_t n = 0;
		assert_err(omc_cert_to_der(&der, &n, all[i]), OMC_OK);
		unsigned int dl = 0;
		assert_int_equal(EVP_Digest(der, n, want, &dl, EVP_sha256(), NULL), 1);
		assert_memory_equal(fp, want, 32);

		omc_cert *c = NULL;
		assert_err(omc_cert_from_der(&c, der, n), OMC_OK);
		assert_err(omc_cert_fingerprint(fp2, c), OMC_OK);
		assert_memory_equal(fp, fp2, 32);
		omc_cert_free(c);
		/* omc_cert_from_pem takes DER too. */
		assert_err(omc_cert_from_pem(&c, (const char *)der, n), OMC_OK);
		omc_cert_free(c);

		char *pem = NULL;
		size_t pn = 0;
		assert_err(omc_cert_to_pem(&pem, &pn, all[i]), OMC_OK);
		assert_int_equal(strlen(pem), pn);
		assert_true(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
		assert_err(omc_cert_from_pem(&c, pem, pn), OMC_OK);
		assert_err(omc_cert_fingerprint(fp2, c), OMC_OK);
		assert_memory_equal(fp, fp2, 32);
		/* Blank lines before the PEM block are fine. */
		char *spaced = omc_alloc(pn + 4);
		assert_non_null(spaced);
		memcpy(spaced, "\n \r\n", 4);
		memcpy(spaced + 4, pem, pn);
		omc_cert *e = NULL;
		assert_err(omc_cert_from_pem(&e, spaced, pn + 4), OMC_OK);
		omc_cert_free(e);
		omc_free(spaced);
		omc_cert *d = NULL;
		assert_err(omc_cert_dup(&d, c), OMC_OK);
		omc_cert_free(c);
		assert_err(omc_cert_fingerprint(fp2, d), OMC_OK);
		assert_memory_equal(fp, fp2, 32);
		omc_cert_free(d);

		/* Strictness: a byte after the DER, every truncation. */
		uint8_t *longer = omc_alloc(n + 1);
		assert_non_null(longer);
		memcpy(longer, der, n);
		longer[n] = 0;
		assert_err(omc_cert_from_der(&c, longer, n + 1), OMC_ERR_BAD_FORMAT);
		for (size_t cut = 0; cut < n; cut++)
			assert_int_not_equal(omc_cert_from_der(&c, der, cut), OMC_OK);
		for (size_t cut = 0; cut + 2 < pn; cut += 5)
			assert_int_not_equal(omc_cert_from_pem(&c, pem, cut), OMC_OK);
		assert_null(c);
		omc_free(longer);
		omc_free(pem);
		omc_free(der);
	}
	omc_cert *c = NULL;
	uint8_t *big = omc_calloc(1, OMC_CERT_DER_MAX + 1);
	assert_non_null(big);
	assert_err(omc_cert_from_der(&c, big, OMC_CERT_DER_MAX + 1), OMC_ERR_TOO_LARGE);
	assert_err(omc_cert_from_der(&c, big, OMC_CERT_DER_MAX), OMC_ERR_BAD_FORMAT);
	omc_free(big);
	for (int i = 0; i < 1000; i++) {
		uint8_t junk[200];
		tl_rand(junk, sizeof junk);
		junk[0] = 0x30; /* a SEQUENCE, to get a little further */
		assert_int_not_equal(omc_cert_from_der(&c, junk, 2 + junk[1] % 198u), OMC_OK);
	}
	assert_null(c);
}

/* Certificates OpenSSL makes with other keys or other digests. */
static X509 *ossl_cert(EVP_PKEY *pk, const EVP_MD *md)
{
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	X509_NAME *nm = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"other", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, nm), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), DAY));
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	assert_true(X509_sign(x, pk, md) > 0);
	return x;
}

static void refuse_ossl_cert(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	omc_cert *c = NULL;
	assert_err(omc_cert_from_der(&c, der, (size_t)n), OMC_ERR_BAD_FORMAT);
	assert_null(c);
	OPENSSL_free(der);
	X509_free(x);
}

static void test_other_algorithms_refused(void **state)
{
	(void)state;
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(p384);
	assert_non_null(p256);
	assert_non_null(ed);
	refuse_ossl_cert(ossl_cert(p384, EVP_sha256()));
	refuse_ossl_cert(ossl_cert(p256, EVP_sha384()));
	refuse_ossl_cert(ossl_cert(ed, NULL));
	/* And a v1 certificate with a P-256 key. */
	X509 *v1 = ossl_cert(p256, EVP_sha256());
	assert_int_equal(X509_set_version(v1, X509_VERSION_1), 1);
	assert_true(X509_sign(v1, p256, EVP_sha256()) > 0);
	refuse_ossl_cert(v1);
	/* The control: the same with v3 and SHA-256 parses. */
	X509 *ok = ossl_cert(p256, EVP_sha256());
	unsigned char *der = NULL;
	int n = i2d_X509(ok, &der);
	omc_cert *c = NULL;
	assert_err(omc_cert_from_der(&c, der, (size_t)n), OMC_OK);
	omc_cert_free(c);
	OPENSSL_free(der);
	X509_free(ok);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ed);
}

static void test_subject_and_key(void **state)
{
	pki *p = *state;
	char buf[64];
	assert_err(omc_cert_subject_cn(buf, sizeof buf, p->leaf), OMC_OK);
	assert_string_equal(buf, "leaf.example");
	assert_err(omc_cert_subject_cn(buf, sizeof buf, p->root), OMC_OK);
	assert_string_equal(buf, "Test Root CA");
	assert_err(omc_cert_subject_cn(buf, 12, p->leaf), OMC_ERR_NO_SPACE);
	assert_err(omc_cert_subject_cn(buf, 13, p->leaf), OMC_OK);
	assert_err(omc_cert_subject_cn(buf, 0, p->leaf), OMC_ERR_BAD_ARG);
	omc_key *k = NULL;
	assert_err(omc_cert_public_key(&k, p->leaf), OMC_OK);
	assert_false(omc_key_has_private(k));
	assert_true(omc_key_equal_public(k, p->leaf_k));
	assert_false(omc_key_equal_public(k, p->inter_k));
	omc_key_free(k);
	uint8_t a[32], b[32];
	assert_err(omc_cert_fingerprint(a, p->root), OMC_OK);
	assert_err(omc_cert_fingerprint(b, p->other_root), OMC_OK);
	assert_memory_not_equal(a, b, 32);
}

static void test_alloc_failure(void **state)
{
	pki *p = *state;
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, p->leaf_k), OMC_OK);
	uint8_t *der = NULL;
	size_t n = 0;
	assert_err(omc_cert_to_der(&der, &n, p->leaf), OMC_OK);
	unsigned nomem = 0;
	unsigned long failures = 0, tried = 0;
	for (int op = 0; op < 3; op++) {
		unsigned long total = 0; /* allocations of a clean run (i == 0) */
		for (unsigned long i = 0; i <= total; i++) {
			unsigned long before = omc_test_alloc_count();
			omc_cert *c = NULL;
			char *pem = NULL;
			size_t pn = 0;
			omc_cert_req req = {.subject_cn = "oom", .days = 1};
			omc_test_alloc_fail_at(i);
			omc_err e;
			if (op == 0) {
				e = omc_cert_issue(&c, &req, pub, p->inter, p->inter_k);
			} else if (op == 1) {
				e = omc_cert_from_der(&c, der, n);
				if (e == OMC_OK)
					e = omc_cert_to_pem(&pem, &pn, c);
			} else {
				e = verify(p->leaf, p->inter, NULL, p->root, NULL, 0, NULL);
			}
			omc_test_alloc_fail_at(0);

			if (i == 0) {
				assert_err(e, OMC_OK);
				total = omc_test_alloc_count() - before;
				tried += total;
			}
			omc_cert_free(c);
			omc_free(pem);
			if (e == OMC_OK)
				continue; /* that allocation was not needed after all */
			nomem += e == OMC_ERR_NOMEM;
			failures++;
		}
	}
	print_message("%lu allocations failed in turn: %lu errors, %u of them NOMEM\n", tried, failures, nomem);
	assert_true(nomem > 0);
	omc_free(der);
	omc_key_free(pub);
	/* Everything still works afterwards. */
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, 0, NULL), OMC_OK);
}

/* --- the caches ------------------------------------------------------------------------------ */

/* A chain verified once is verified from the cache, with the anchor it
 * reached, and only while every certificate of its path is within its
 * validity; a chain with two anchors of the same name is never kept. */
static void test_chain_cache(void **state)
{
	pki *p = *state;
	if (!omc_test_proto_cache_on())
		skip();
	omc_test_proto_cache(true); /* empty */
	time_t now = time(NULL);
	size_t anchor = 99;
	unsigned long h = omc_test_chain_cache_hits();
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(omc_test_chain_cache_hits(), h);
	anchor = 99;
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	assert_int_equal(omc_test_chain_cache_hits(), h + 1);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now + 300 * (time_t)DAY, NULL), OMC_OK);
	assert_int_equal(omc_test_chain_cache_hits(), h + 2);
	/* Out of the leaf's validity, the root's, before the leaf's: refused,
	 * and the entry still serves within. */
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now + 400 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now + 20 * 366 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now - 2 * (time_t)DAY, NULL),
		   OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(omc_test_chain_cache_hits(), h + 2);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, now, NULL), OMC_OK);
	assert_int_equal(omc_test_chain_cache_hits(), h + 3);
	/* Another order of the same certificates is another chain. */
	omc_key *k = tl_key();
	omc_cert *ca2 = issue("Another CA", true, 30, k, NULL, k);
	assert_err(verify(p->leaf, p->inter, NULL, ca2, p->root, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 1);
	assert_err(verify(p->leaf, p->inter, NULL, p->root, ca2, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	h = omc_test_chain_cache_hits();
	assert_err(verify(p->leaf, p->inter, NULL, ca2, p->root, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 1);
	assert_int_equal(omc_test_chain_cache_hits(), h + 1);
	/* The anchor's own validity is checked on a hit too (ca2 lives 30
	 * days, the leaf it issued 365). */
	omc_key *kl = tl_key();
	omc_cert *leaf2 = issue("leaf2.example", false, 365, kl, ca2, k);
	assert_err(verify(leaf2, NULL, NULL, ca2, NULL, 0, NULL), OMC_OK);
	assert_err(verify(leaf2, NULL, NULL, ca2, NULL, now + 31 * (time_t)DAY, NULL), OMC_ERR_BAD_SIGNATURE);
	/* Two anchors of the same name: ambiguous, never kept (other_root is
	 * "Test Root CA" too). */
	h = omc_test_chain_cache_hits();
	for (int i = 0; i < 3; i++) {
		assert_err(verify(p->leaf, p->inter, NULL, p->other_root, p->root, 0, &anchor), OMC_OK);
		assert_int_equal(anchor, 1);
	}
	assert_int_equal(omc_test_chain_cache_hits(), h);
	/* Refusals are not kept: refused each time, in full. */
	for (int i = 0; i < 3; i++)
		assert_err(verify(p->leaf, p->inter, NULL, ca2, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(omc_test_chain_cache_hits(), h);
	/* The partial chain: a pinned intermediate, kept; expired, refused. */
	assert_err(verify(p->leaf, NULL, NULL, p->inter, NULL, 0, &anchor), OMC_OK);
	assert_err(verify(p->leaf, NULL, NULL, p->inter, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	assert_int_equal(omc_test_chain_cache_hits(), h + 1);
	assert_err(verify(p->leaf, NULL, NULL, p->inter, NULL, now + 400 * (time_t)DAY, NULL), OMC_ERR_BAD_SIGNATURE);
	/* More chains than the cache holds: the oldest go, nothing breaks. */
	for (int i = 0; i < OMC_CHAIN_CACHE_N + 8; i++) {
		omc_key *ki = tl_key();
		omc_cert *ci = issue("many", false, 1, ki, p->inter, p->inter_k);
		assert_err(verify(ci, p->inter, NULL, p->root, NULL, 0, NULL), OMC_OK);
		omc_cert_free(ci);
		omc_key_free(ki);
	}
	assert_err(verify(p->leaf, p->inter, NULL, p->root, NULL, 0, &anchor), OMC_OK);
	assert_int_equal(anchor, 0);
	omc_cert_free(leaf2);
	omc_cert_free(ca2);
	omc_key_free(kl);
	omc_key_free(k);
}

/* The same DER parses to a handle on the same certificate; each handle
 * lives on its own; what is refused is refused again. */
static void test_parse_cache(void **state)
{
	pki *p = *state;
	if (!omc_test_proto_cache_on())
		skip();
	uint8_t *der = NULL, fp[32], fp2[32];
	size_t n = 0;
	assert_err(omc_cert_to_der(&der, &n, p->leaf), OMC_OK);
	omc_cert *a = NULL, *b = NULL;
	unsigned long h = omc_test_cert_cache_hits();
	assert_err(omc_cert_from_der(&a, der, n), OMC_OK);
	assert_err(omc_cert_from_der(&b, der, n), OMC_OK);
	assert_true(omc_test_cert_cache_hits() > h);
	assert_err(omc_cert_fingerprint(fp, a), OMC_OK);
	assert_err(omc_cert_fingerprint(fp2, p->leaf), OMC_OK);
	assert_memory_equal(fp, fp2, 32);
	omc_cert_free(a);
	assert_err(omc_cert_fingerprint(fp, b), OMC_OK);
	assert_memory_equal(fp, fp2, 32);
	assert_err(verify(b, p->inter, NULL, p->root, NULL, 0, NULL), OMC_OK);
	char cn[64];
	assert_err(omc_cert_subject_cn(cn, sizeof cn, b), OMC_OK);
	assert_string_equal(cn, "leaf.example");
	omc_cert_free(b);
	/* One bit of the signature changed: other bytes, refused each time. */
	der[n - 1] ^= 1;
	for (int i = 0; i < 2; i++) {
		assert_err(omc_cert_from_der(&a, der, n), OMC_OK);
		assert_err(verify(a, p->inter, NULL, p->root, NULL, 0, NULL), OMC_ERR_BAD_SIGNATURE);
		omc_cert_free(a);
	}
	/* Bytes after the certificate: refused each time. */
	uint8_t *more = calloc(1, n + 1);
	assert_non_null(more);
	memcpy(more, der, n);
	more[n - 1] ^= 1;
	for (int i = 0; i < 2; i++) {
		assert_err(omc_cert_from_der(&a, more, n + 1), OMC_ERR_BAD_FORMAT);
		assert_null(a);
	}
	free(more);
	omc_free(der);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_chain_verifies),
	cmocka_unit_test(test_chain_refused),
	cmocka_unit_test(test_leaf_as_ca),
	cmocka_unit_test(test_tampered),
	cmocka_unit_test(test_partial_chain),
	cmocka_unit_test(test_profile),
	cmocka_unit_test(test_issue_policy),
	cmocka_unit_test(test_pem_der_round_trip),
	cmocka_unit_test(test_other_algorithms_refused),
	cmocka_unit_test(test_subject_and_key),
	cmocka_unit_test(test_alloc_failure),
	cmocka_unit_test(test_chain_cache),
	cmocka_unit_test(test_parse_cache),
};

int main(void)
{
	/* With the caches (as shipped), then without them: the same outcomes. */
	int failed = cmocka_run_group_tests_name("proto_cert, caches on", tests, setup, teardown);
	omc_test_proto_cache(false);
	failed += cmocka_run_group_tests_name("proto_cert, caches off", tests, setup, teardown);
	omc_test_proto_cache(true);
	return failed;
}
