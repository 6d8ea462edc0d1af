/* JWS in compact serialisation (RFC 7515) with ES256 only (RFC 7518 3.4)
 * and the signer's chain in "x5c" (RFC 7515 4.1.6).
 *
 * The JOSE framing is done here, and ECDSA by OpenSSL on our own key
 * handles, not by cjose: cjose 0.6.2's ES256 verifier takes any signature
 * of 64 bytes or more and ignores what follows them (a second spelling of
 * every signed object), it needs the private scalar copied into a key of
 * its own to sign, and its JWS import dereferences NULL when an allocation
 * fails. What is accepted:
 *   - three segments of strict base64url (compact.c), at most OMC_JOSE_MAX
 *     bytes in all, the header at most OMC_JOSE_HDR_MAX;
 *   - a protected header that is a JSON object without duplicate members,
 *     with "alg" exactly "ES256" (anything else, "none" and "HS256"
 *     included, is OMC_ERR_BAD_SIGNATURE), no "crit" and no "b64" (no
 *     extension is understood), "typ" a short printable string, and "x5c"
 *     an array of 1 to OMC_X5C_MAX standard base64 (RFC 4648 4, padded)
 *     DER certificates, leaf first;
 *   - a signature of exactly 64 bytes, R || S, each 32 bytes big-endian.
 * omc_jws_verify_x5c validates the chain to the caller's anchors first
 * (omc_cert_chain_verify), requires digitalSignature in the leaf's
 * keyUsage, and then checks the signature with the leaf's key. Only then is
 * the payload decoded and handed out. */
#include <string.h>

#include <openssl/x509v3.h>

#include "proto/proto_internal.h"

#define ALG_ES256 "ES256"
#define MCIM_PACKAGE_TYP "omc-mcim-package+jwt" /* src/tre/install.c */
#define TYP_MAX (sizeof(((omc_jws_verified *)0)->typ) - 1)
_Static_assert(TYP_MAX == 63, "omc_jose_typ_ok and omc_jws_verified.typ disagree");
_Static_assert(OMC_HDR_TYP_CAP == TYP_MAX + 1, "the header cache keeps a typ as omc_jws_verified does");

/* --- ES256 ------------------------------------------------------------------------------ */

/* SHA-256, fetched from the default provider once per process and kept:
 * EVP_DigestSignInit_ex and EVP_DigestVerifyInit_ex looked the digest up by
 * name on every call. Only ever read once published (OpenSSL allows an
 * EVP_MD to be shared between threads); a failure to fetch is not
 * remembered, the next call tries again. */
static EVP_MD *sha256_md;

static const EVP_MD *es256_md(void)
{
	EVP_MD *md = __atomic_load_n(&sha256_md, __ATOMIC_ACQUIRE);
	if (md)
		return md;
	EVP_MD *made = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!made) {
		ERR_clear_error();
		return NULL;
	}
	EVP_MD *expected = NULL;
	if (!__atomic_compare_exchange_n(&sha256_md, &expected, made, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		EVP_MD_free(made); /* another thread published first */
		return expected;
	}
	return made;
}

/* The SHA-256 of the signing input (RFC 7518 3.4: ECDSA over SHA-256). */
static omc_err es256_digest(uint8_t dg[OMC_STATIC_LEN(32)], const char *tbs, size_t tbs_len)
{
	const EVP_MD *md = es256_md();
	OMC_OSSL_ENSURE(md != NULL, OMC_ERR_NOMEM);
	unsigned dl = 0;
	OMC_OSSL_ENSURE(EVP_Digest(tbs, tbs_len, dg, &dl, md, NULL) == 1 && dl == 32, OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* The digest, then ECDSA on it with a context of the key made per call
 * (EVP_PKEY_sign over a digest is what EVP_DigestSign does after hashing). */
static omc_err es256_sign(uint8_t rs[OMC_STATIC_LEN(OMC_ES256_SIG_LEN)], const omc_key *key, const char *tbs,
			  size_t tbs_len)
{
	uint8_t dg[32];
	OMC_TRY(es256_digest(dg, tbs, tbs_len));
	OMC_AUTO(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_sign_init(ctx) == 1, OMC_ERR_CRYPTO);
	uint8_t der[128];
	size_t der_len = sizeof der;
	/* OpenSSL 3.0 can report success with a length of (unsigned)-1 when an
	 * allocation fails while it encodes the signature: check the length. */
	OMC_OSSL_ENSURE(EVP_PKEY_sign(ctx, der, &der_len, dg, sizeof dg) == 1 && der_len > 0 && der_len <= sizeof der,
			OMC_ERR_CRYPTO);
	/* DER ECDSA-Sig-Value to the fixed-width R || S of RFC 7518 3.4. */
	const unsigned char *p = der;
	OMC_AUTO(ECDSA_SIG) sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	OMC_OSSL_ENSURE(sig != NULL && p == der + der_len, OMC_ERR_CRYPTO);
	const BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG_get0(sig, &r, &s);
	OMC_OSSL_ENSURE(BN_bn2binpad(r, rs, OMC_P256_LEN) == OMC_P256_LEN &&
				BN_bn2binpad(s, rs + OMC_P256_LEN, OMC_P256_LEN) == OMC_P256_LEN,
			OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err es256_verify(const uint8_t rs[OMC_STATIC_LEN(OMC_ES256_SIG_LEN)], const omc_key *key,
			    const char *tbs, size_t tbs_len)
{
	OMC_AUTO(ECDSA_SIG) sig = ECDSA_SIG_new();
	OMC_OSSL_ENSURE(sig != NULL, OMC_ERR_NOMEM);
	BIGNUM *r = BN_bin2bn(rs, OMC_P256_LEN, NULL);
	BIGNUM *s = BN_bin2bn(rs + OMC_P256_LEN, OMC_P256_LEN, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ERR_clear_error();
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	OMC_AUTO(omc_ossl_bytes) der = NULL;
	int der_len = i2d_ECDSA_SIG(sig, &der);
	OMC_OSSL_ENSURE(der_len > 0, OMC_ERR_NOMEM);
	uint8_t dg[32];
	OMC_TRY(es256_digest(dg, tbs, tbs_len));
	OMC_AUTO(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_verify_init(ctx) == 1, OMC_ERR_CRYPTO);
	/* 0 for a signature that does not verify, negative for one that is
	 * out of range: both are the same refusal. */
	OMC_OSSL_ENSURE(EVP_PKEY_verify(ctx, der, (size_t)der_len, dg, sizeof dg) == 1, OMC_ERR_BAD_SIGNATURE);
	return OMC_OK;
}

/* --- sign --------------------------------------------------------------------------------- */

static omc_err header_json(char **out, const omc_cert *const *x5c, size_t n_x5c, const char *typ)
{
	OMC_AUTO(json_t) h = json_object();
	OMC_ENSURE(h != NULL, OMC_ERR_NOMEM);
	OMC_ENSURE(json_object_set_new(h, "alg", json_string(ALG_ES256)) == 0, OMC_ERR_NOMEM);
	OMC_ENSURE(json_object_set_new(h, "typ", json_string(typ)) == 0, OMC_ERR_NOMEM);
	if (n_x5c > 0) {
		json_t *arr = json_array();
		OMC_ENSURE(arr != NULL, OMC_ERR_NOMEM);
		OMC_ENSURE(json_object_set_new(h, "x5c", arr) == 0, OMC_ERR_NOMEM);
		for (size_t i = 0; i < n_x5c; i++) {
			OMC_AUTO(omc_heap) der = NULL;
			size_t der_len = 0;
			OMC_TRY(omc_cert_to_der(&der, &der_len, x5c[i]));
			size_t n = omc_b64_encoded_len(der_len, OMC_B64_STD);
			OMC_AUTO(omc_heap_str) b64 = omc_alloc(n + 1);
			OMC_ENSURE(b64 != NULL, OMC_ERR_NOMEM);
			OMC_TRY(omc_b64_encode(b64, n + 1, der, der_len, OMC_B64_STD));
			OMC_ENSURE(json_array_append_new(arr, json_stringn(b64, n)) == 0, OMC_ERR_NOMEM);
		}
	}
	char *s = omc_json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	*out = s;
	return OMC_OK;
}

omc_err omc_jws_sign(char **compact, const uint8_t *payload, size_t len, const omc_key *key,
		     const omc_cert *const *x5c, size_t n_x5c, const char *typ)
{
	OMC_ENSURE(compact != NULL, OMC_ERR_BAD_ARG);
	*compact = NULL;
	OMC_ENSURE(key != NULL && key->priv && (payload != NULL || len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(n_x5c <= OMC_X5C_MAX && (x5c != NULL || n_x5c == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(typ != NULL && omc_jose_typ_ok(typ), OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX / 4 * 3, OMC_ERR_TOO_LARGE);
	omc_proto_init();
	if (n_x5c > 0) {
		/* The leaf must be the signer's and allowed to sign: a verifier
		 * checks exactly that. */
		for (size_t i = 0; i < n_x5c; i++)
			OMC_ENSURE(x5c[i] != NULL, OMC_ERR_BAD_ARG);
		OMC_AUTO(omc_key) leaf_pub = NULL;
		OMC_TRY(omc_cert_public_key(&leaf_pub, x5c[0]));
		OMC_ENSURE(omc_key_equal_public(leaf_pub, key), OMC_ERR_BAD_ARG);
		OMC_ENSURE(X509_get_key_usage(x5c[0]->x) & KU_DIGITAL_SIGNATURE, OMC_ERR_BAD_ARG);
	}

	OMC_AUTO(omc_json_str) hdr = NULL;
	OMC_TRY(header_json(&hdr, x5c, n_x5c, typ));
	OMC_AUTO(omc_heap_str) h64 = NULL;
	OMC_AUTO(omc_heap_str) p64 = NULL;
	size_t h64_len = 0, p64_len = 0;
	OMC_TRY(omc_jose_b64url_encode(&h64, &h64_len, (const uint8_t *)hdr, strlen(hdr)));
	OMC_TRY(omc_jose_b64url_encode(&p64, &p64_len, payload, len));
	size_t s64_len = omc_b64_encoded_len(OMC_ES256_SIG_LEN, OMC_B64_URL);
	size_t total = h64_len + 1 + p64_len + 1 + s64_len;
	/* Never make what omc_jws_verify_* would refuse. */
	OMC_ENSURE(h64_len <= OMC_JOSE_HDR_MAX && total <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);

	OMC_AUTO(omc_heap_str) out = omc_alloc(total + 1);
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	omc_cur w;
	omc_cur_init_write(&w, (uint8_t *)out, total + 1);
	OMC_TRY(omc_cur_write(&w, (const uint8_t *)h64, h64_len));
	OMC_TRY(omc_cur_write_u8(&w, '.'));
	OMC_TRY(omc_cur_write(&w, (const uint8_t *)p64, p64_len));
	size_t tbs_len = w.wpos; /* the signing input: ASCII(h64 '.' p64) */

	uint8_t rs[OMC_ES256_SIG_LEN];
	OMC_TRY(es256_sign(rs, key, out, tbs_len));
	char s64[OMC_ES256_SIG_LEN * 2];
	OMC_TRY(omc_b64_encode(s64, sizeof s64, rs, sizeof rs, OMC_B64_URL));
	OMC_TRY(omc_cur_write_u8(&w, '.'));
	OMC_TRY(omc_cur_write(&w, (const uint8_t *)s64, s64_len));
	OMC_TRY(omc_cur_write_u8(&w, '\0'));
	*compact = out;
	out = NULL;
	return OMC_OK;
}

/* --- parse ---------------------------------------------------------------------------------- */

typedef struct jws_parsed {
	omc_jose_seg seg[3];
	json_t *hdr;      /* NULL when the header cache had it */
	const char *typ;  /* in hdr or in typ_buf, or NULL */
	char typ_buf[OMC_HDR_TYP_CAP];
	omc_cert *x5c[OMC_X5C_MAX];
	size_t n_x5c;
	uint8_t sig[OMC_ES256_SIG_LEN];
} jws_parsed;

static void jws_parsed_release(jws_parsed *p)
{
	json_decref(p->hdr);
	for (size_t i = 0; i < p->n_x5c; i++)
		omc_cert_free(p->x5c[i]);
	omc_memzero(p, sizeof *p);
}

static omc_err parse_x5c(jws_parsed *p, const json_t *arr)
{
	OMC_ENSURE(json_is_array(arr), OMC_ERR_BAD_FORMAT);
	size_t n = json_array_size(arr);
	OMC_ENSURE(n >= 1 && n <= OMC_X5C_MAX, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(arr, i);
		OMC_ENSURE(json_is_string(v), OMC_ERR_BAD_FORMAT);
		size_t slen = json_string_length(v);
		OMC_ENSURE(slen <= omc_b64_encoded_len(OMC_CERT_DER_MAX, OMC_B64_STD), OMC_ERR_BAD_FORMAT);
		OMC_AUTO(omc_heap) der = omc_alloc(OMC_CERT_DER_MAX);
		OMC_ENSURE(der != NULL, OMC_ERR_NOMEM);
		size_t der_len = 0;
		OMC_ENSURE(omc_b64_decode(der, OMC_CERT_DER_MAX, &der_len, json_string_value(v), slen, OMC_B64_STD) ==
				   OMC_OK,
			   OMC_ERR_BAD_FORMAT);
		omc_err e = omc_proto_cert_parse_der(&p->x5c[i], der, der_len);
		if (e != OMC_OK)
			return e == OMC_ERR_NOMEM ? e : OMC_ERR_BAD_FORMAT;
		p->n_x5c = i + 1;
	}
	return OMC_OK;
}

/* The protected header: alg, crit, b64, typ, cty, kid, x5c. */
static omc_err header_parse(jws_parsed *p)
{
	OMC_TRY(omc_jose_header_parse(&p->hdr, &p->seg[0], OMC_JOSE_HDR_MAX));
	const char *alg = NULL;
	OMC_TRY(omc_jose_header_str(&alg, p->hdr, "alg", 16));
	OMC_ENSURE(alg != NULL, OMC_ERR_BAD_FORMAT);
	if (strcmp(alg, ALG_ES256) != 0) {
		OMC_LOG_DBG("proto", "JWS alg \"%s\" refused", alg);
		OMC_BAIL(OMC_ERR_BAD_SIGNATURE);
	}
	/* No extension is understood (RFC 7515 4.1.11, RFC 7797 3). */
	OMC_ENSURE(json_object_get(p->hdr, "crit") == NULL && json_object_get(p->hdr, "b64") == NULL,
		   OMC_ERR_BAD_SIGNATURE);
	OMC_TRY(omc_jose_header_str(&p->typ, p->hdr, "typ", TYP_MAX));
	if (p->typ)
		OMC_ENSURE(omc_jose_typ_ok(p->typ), OMC_ERR_BAD_FORMAT);
	const char *ignored = NULL;
	OMC_TRY(omc_jose_header_str(&ignored, p->hdr, "cty", 64));
	OMC_TRY(omc_jose_header_str(&ignored, p->hdr, "kid", 256));
	const json_t *x5c = json_object_get(p->hdr, "x5c");
	if (x5c)
		OMC_TRY(parse_x5c(p, x5c));
	return OMC_OK;
}

/* Everything but the signature check and the payload. The header from the
 * header cache when the same bytes came in a JWS that verified before: the
 * same result as its parse. */
static omc_err jws_parse(jws_parsed *p, const char *compact, size_t len)
{
	OMC_TRY(omc_jose_split(p->seg, 3, compact, len));
	bool hit = false;
	omc_proto_hdr_memo m;
	OMC_TRY(omc_proto_hdr_memo_get(&hit, &m, p->seg[0].s, p->seg[0].len));
	if (hit) {
		memcpy(p->typ_buf, m.typ, sizeof p->typ_buf);
		p->typ = m.has_typ ? p->typ_buf : NULL;
		for (size_t i = 0; i < m.n_x5c; i++)
			p->x5c[i] = m.x5c[i];
		p->n_x5c = m.n_x5c;
	} else {
		OMC_TRY(header_parse(p));
	}
	/* A signature of any other length does not verify (RFC 7518 3.4). */
	if (omc_jose_b64url_fixed(p->sig, sizeof p->sig, p->seg[2].s, p->seg[2].len) != OMC_OK)
		OMC_BAIL(OMC_ERR_BAD_SIGNATURE);
	return OMC_OK;
}

static omc_err check_typ(const jws_parsed *p, const char *want_typ)
{
	if (want_typ == NULL)
		return OMC_OK;
	if (p->typ == NULL || strcmp(p->typ, want_typ) != 0) {
		OMC_LOG_DBG("proto", "JWS typ \"%s\" where \"%s\" was wanted", p->typ ? p->typ : "", want_typ);
		OMC_BAIL(OMC_ERR_BAD_SIGNATURE);
	}
	return OMC_OK;
}

static omc_err check_signature(const jws_parsed *p, const omc_key *key)
{
	/* The signing input is the first two segments and the dot between,
	 * as they came: seg[1] starts right after that dot. */
	size_t tbs_len = p->seg[0].len + 1 + p->seg[1].len;
	return es256_verify(p->sig, key, p->seg[0].s, tbs_len);
}

/* Decoded only now that it is verified. */
static omc_err hand_out(omc_jws_verified *out, jws_parsed *p)
{
	OMC_TRY(omc_jose_b64url_decode(&out->payload, &out->len, p->seg[1].s, p->seg[1].len));
	if (p->typ) {
		size_t n = strlen(p->typ);
		memcpy(out->typ, p->typ, n + 1);
	}
	return OMC_OK;
}

/* --- verify ---------------------------------------------------------------------------------- */

omc_err omc_jws_verify_x5c(omc_jws_verified *out, const char *compact, size_t len, const omc_cert *const *anchors,
			   size_t n_anchors, const char *want_typ, time_t now)
{
	OMC_ENSURE(out != NULL, OMC_ERR_BAD_ARG);
	memset(out, 0, sizeof *out);
	OMC_ENSURE(compact != NULL && anchors != NULL && n_anchors >= 1 && n_anchors <= OMC_ANCHORS_MAX,
		   OMC_ERR_BAD_ARG);
	omc_proto_init();
	__attribute__((cleanup(jws_parsed_release))) jws_parsed p = {0};
	OMC_TRY(jws_parse(&p, compact, len));
	OMC_TRY(check_typ(&p, want_typ));
	OMC_ENSURE(p.n_x5c > 0, OMC_ERR_BAD_SIGNATURE);

	size_t anchor = 0;
	omc_err e = omc_cert_chain_verify((const omc_cert *const *)p.x5c, p.n_x5c, anchors, n_anchors, now, &anchor);
	if (e != OMC_OK)
		return e == OMC_ERR_NOMEM ? e : OMC_ERR_BAD_SIGNATURE;
	/* X509_get_key_usage is all ones without the extension (RFC 5280
	 * 4.2.1.3: no restriction); the ones openmcim issues always carry it. */
	if (!(X509_get_key_usage(p.x5c[0]->x) & KU_DIGITAL_SIGNATURE)) {
		OMC_LOG_DBG("proto", "JWS leaf certificate lacks digitalSignature");
		OMC_BAIL(OMC_ERR_BAD_SIGNATURE);
	}
	/* The same signature over the same bytes by the same certificate
	 * verified before (the signature cache): only the arithmetic is
	 * skipped, every check above ran. Not for an MCIM package: its payload
	 * holds K and OPc, and no digest of it is kept after the call. */
	uint8_t id[32];
	bool memo = (p.typ == NULL || strcmp(p.typ, MCIM_PACKAGE_TYP) != 0) &&
		    omc_proto_sig_id(id, p.x5c[0]->fp, p.sig, p.seg[0].s, p.seg[0].len + 1 + p.seg[1].len);
	if (!memo || !omc_proto_sig_memo_hit(id)) {
		OMC_AUTO(omc_key) leaf_key = NULL;
		OMC_TRY(omc_cert_public_key(&leaf_key, p.x5c[0]));
		OMC_TRY(check_signature(&p, leaf_key));
		if (memo)
			omc_proto_sig_memo_put(id);
	}
	/* Verified: its header may spare the next JWS with the same header its
	 * parse (not an MCIM package's, as above). */
	if (p.typ == NULL || strcmp(p.typ, MCIM_PACKAGE_TYP) != 0)
		omc_proto_hdr_memo_put(p.seg[0].s, p.seg[0].len, p.typ, (const omc_cert *const *)p.x5c, p.n_x5c);

	OMC_TRY(hand_out(out, &p));
	out->leaf = p.x5c[0];
	p.x5c[0] = NULL;
	/* Keep the release loop over x5c[1..] in step. */
	for (size_t i = 1; i < p.n_x5c; i++) {
		omc_cert_free(p.x5c[i]);
		p.x5c[i] = NULL;
	}
	p.n_x5c = 0;
	out->anchor = anchor;
	return OMC_OK;
}

omc_err omc_jws_verify_key(omc_jws_verified *out, const char *compact, size_t len, const omc_key *key,
			   const char *want_typ)
{
	OMC_ENSURE(out != NULL, OMC_ERR_BAD_ARG);
	memset(out, 0, sizeof *out);
	OMC_ENSURE(compact != NULL && key != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();
	__attribute__((cleanup(jws_parsed_release))) jws_parsed p = {0};
	OMC_TRY(jws_parse(&p, compact, len));
	OMC_TRY(check_typ(&p, want_typ));
	OMC_TRY(check_signature(&p, key));
	return hand_out(out, &p);
}

omc_err omc_jws_peek(uint8_t **payload, size_t *len, const char *compact, size_t clen)
{
	OMC_ENSURE(payload != NULL && len != NULL, OMC_ERR_BAD_ARG);
	*payload = NULL;
	*len = 0;
	OMC_ENSURE(compact != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();
	omc_jose_seg seg[3];
	OMC_TRY(omc_jose_split(seg, 3, compact, clen));
	/* A header in the header cache is a JSON object without duplicates:
	 * what the parse below checks, and more. */
	bool hit = false;
	OMC_TRY(omc_proto_hdr_memo_get(&hit, NULL, seg[0].s, seg[0].len));
	if (!hit) {
		OMC_AUTO(json_t) hdr = NULL;
		OMC_TRY(omc_jose_header_parse(&hdr, &seg[0], OMC_JOSE_HDR_MAX));
	}
	return omc_jose_b64url_decode(payload, len, seg[1].s, seg[1].len);
}

void omc_jws_verified_free(omc_jws_verified *v)
{
	if (!v)
		return;
	omc_free(v->payload);
	omc_cert_free(v->leaf);
	omc_memzero(v, sizeof *v);
}
