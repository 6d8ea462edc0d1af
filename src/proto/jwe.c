/* JWE in compact serialisation (RFC 7516) with "alg":"ECDH-ES" (direct key
 * agreement, RFC 7518 4.6) and "enc":"A256GCM" (RFC 7518 5.3), to a P-256
 * key.
 *
 * Both sides are assembled here from OpenSSL's ECDH (EVP_PKEY_derive),
 * SHA-256 for the Concat KDF (RFC 7518 4.6.2, NIST SP 800-56A 5.8.1: a
 * single round for a 256-bit key) and AES-256-GCM. Not cjose's:
 * cjose 0.6.2's ECDH-ES decryption leaks an allocation on every call
 * (_cjose_jwe_decrypt_ek_ecdh_es overwrites the decoded, empty encrypted
 * key without freeing it) and needs the private scalar copied into a key
 * object of its own; its encryption dereferences NULL when one of its own
 * allocations fails, builds the recipient's key anew from its coordinates
 * and validates it again with a scalar multiplication (the price of the
 * ECDH itself) on every call. (OpenSSL's own SSKDF would do the KDF, but
 * OpenSSL 3.0's EVP_KDF_CTX_new crashes when an allocation inside it
 * fails.) cjose's JWE open (tests/unit/proto_jose_test.c), and jwcrypto
 * opens ours and we open its (tests/interop/jose_jwcrypto_test.c).
 *
 * What encryption makes: the protected header {"alg": "ECDH-ES", "enc":
 * "A256GCM", "epk": {"kty": "EC", "crv": "P-256", "x", "y"}, "typ"} (typ
 * when given; no apu, no apv), an empty encrypted key, a random 96-bit IV,
 * the ciphertext and the 128-bit tag, the header's base64url as AAD; the
 * ephemeral key is a fresh P-256 key of OpenSSL's, used once.
 *
 * What decryption accepts, checked before any key agreement:
 *   - five segments of strict base64url, at most OMC_JOSE_MAX bytes;
 *   - a protected header that is a JSON object without duplicate members:
 *     "alg" exactly "ECDH-ES" and "enc" exactly "A256GCM" (any other pair
 *     is OMC_ERR_AUTH_FAILED), no "crit" and no "zip"; "epk" a public EC
 *     JWK on P-256 whose point is on the curve (invalid-curve attacks), else
 *     OMC_ERR_AUTH_FAILED; "apu"/"apv" base64url if present;
 *   - an empty encrypted key (direct agreement), a 96-bit IV and a 128-bit
 *     tag (a shorter tag is malformed, never a weaker check).
 * The plaintext is handed out only after the tag has verified; on any
 * failure the buffer it was decrypted into is wiped. */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>

#include "proto/proto_internal.h"

#define JWE_HDR_B64_MAX 4096
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define GCM_KEY_LEN 32

typedef struct jwe_parts {
	uint8_t iv[GCM_IV_LEN];
	uint8_t tag[GCM_TAG_LEN];
	uint8_t *ct; /* omc_alloc'd */
	size_t ct_len;
	uint8_t *apu, *apv; /* omc_alloc'd, NULL when absent */
	size_t apu_len, apv_len;
	omc_key *epk;
} jwe_parts;

static void jwe_parts_release(jwe_parts *p)
{
	omc_free(p->ct);
	omc_free(p->apu);
	omc_free(p->apv);
	omc_key_free(p->epk);
	omc_memzero(p, sizeof *p);
}

static omc_err decode_party(uint8_t **out, size_t *len, const json_t *hdr, const char *name)
{
	const char *s = NULL;
	OMC_TRY(omc_jose_header_str(&s, hdr, name, 1024));
	if (s)
		OMC_TRY(omc_jose_b64url_decode(out, len, s, strlen(s)));
	return OMC_OK;
}

/* Everything about the header, before any key agreement. */
static omc_err check_header(jwe_parts *p, const json_t *hdr)
{
	const char *alg = NULL, *enc = NULL, *s = NULL;
	OMC_TRY(omc_jose_header_str(&alg, hdr, "alg", 32));
	OMC_TRY(omc_jose_header_str(&enc, hdr, "enc", 32));
	OMC_ENSURE(alg != NULL && enc != NULL, OMC_ERR_BAD_FORMAT);
	if (strcmp(alg, CJOSE_HDR_ALG_ECDH_ES) != 0 || strcmp(enc, CJOSE_HDR_ENC_A256GCM) != 0) {
		OMC_LOG_DBG("proto", "JWE alg \"%s\" enc \"%s\" refused", alg, enc);
		OMC_BAIL(OMC_ERR_AUTH_FAILED);
	}
	OMC_ENSURE(json_object_get(hdr, "crit") == NULL && json_object_get(hdr, "zip") == NULL,
		   OMC_ERR_AUTH_FAILED);
	OMC_TRY(omc_jose_header_str(&s, hdr, "typ", 63));
	OMC_TRY(omc_jose_header_str(&s, hdr, "cty", 63));
	OMC_TRY(omc_jose_header_str(&s, hdr, "kid", 256));
	OMC_TRY(decode_party(&p->apu, &p->apu_len, hdr, "apu"));
	OMC_TRY(decode_party(&p->apv, &p->apv_len, hdr, "apv"));
	/* The sender's ephemeral public key: a P-256 point on the curve. */
	omc_err e = omc_proto_key_from_jwk_json(&p->epk, json_object_get(hdr, "epk"));
	if (e != OMC_OK) {
		OMC_LOG_DBG("proto", "JWE epk refused: %s", omc_err_name(e));
		if (e == OMC_ERR_NOMEM)
			return e;
		OMC_BAIL(OMC_ERR_AUTH_FAILED);
	}
	return OMC_OK;
}

static omc_err check_segments(jwe_parts *p, const omc_jose_seg seg[OMC_STATIC_LEN(5)])
{
	OMC_ENSURE(seg[1].len == 0, OMC_ERR_BAD_FORMAT); /* ECDH-ES: no encrypted key */
	OMC_TRY(omc_jose_b64url_fixed(p->iv, sizeof p->iv, seg[2].s, seg[2].len));
	OMC_TRY(omc_jose_b64url_fixed(p->tag, sizeof p->tag, seg[4].s, seg[4].len));
	OMC_TRY(omc_jose_b64url_decode(&p->ct, &p->ct_len, seg[3].s, seg[3].len));
	OMC_ENSURE(p->ct_len <= INT_MAX, OMC_ERR_TOO_LARGE);
	return OMC_OK;
}

/* RFC 7518 4.6.2: OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo ||
 * SuppPubInfo, each of the first three a 32-bit big-endian length and the
 * bytes; AlgorithmID is "enc" for direct agreement; SuppPubInfo is the key
 * length in bits. */
static omc_err other_info(uint8_t *buf, size_t cap, size_t *len, const jwe_parts *p)
{
	static const char alg_id[] = "A256GCM";
	omc_cur w;
	omc_cur_init_write(&w, buf, cap);
	OMC_TRY(omc_cur_write_u32(&w, (uint32_t)(sizeof alg_id - 1)));
	OMC_TRY(omc_cur_write(&w, (const uint8_t *)alg_id, sizeof alg_id - 1));
	OMC_TRY(omc_cur_write_u32(&w, (uint32_t)p->apu_len));
	OMC_TRY(omc_cur_write(&w, p->apu, p->apu_len));
	OMC_TRY(omc_cur_write_u32(&w, (uint32_t)p->apv_len));
	OMC_TRY(omc_cur_write(&w, p->apv, p->apv_len));
	OMC_TRY(omc_cur_write_u32(&w, 8 * GCM_KEY_LEN));
	*len = w.wpos;
	return OMC_OK;
}

/* The ECDH shared secret Z of own's private key and peer's public key.
 * Every omc_key was checked when it was made (omc_proto_key_wrap: P-256,
 * on the curve; with cofactor 1 that is full public-key validation), so
 * OpenSSL is not asked to check the peer once more (validate_peer = 0:
 * EVP_PKEY_public_check, a scalar multiplication); it still refuses a peer
 * of other parameters. */
static omc_err ecdh(uint8_t z[OMC_STATIC_LEN(OMC_P256_LEN)], EVP_PKEY *own, EVP_PKEY *peer)
{
	OMC_AUTO(EVP_PKEY_CTX) dh = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
	OMC_OSSL_ENSURE(dh != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_PKEY_derive_init(dh) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_PKEY_derive_set_peer_ex(dh, peer, 0) == 1, OMC_ERR_AUTH_FAILED);
	size_t zlen = OMC_P256_LEN;
	OMC_OSSL_ENSURE(EVP_PKEY_derive(dh, z, &zlen) == 1 && zlen == OMC_P256_LEN, OMC_ERR_AUTH_FAILED);
	return OMC_OK;
}

/* The content-encryption key: Concat KDF over the ECDH shared secret Z. */
static omc_err concat_kdf(uint8_t cek[OMC_STATIC_LEN(GCM_KEY_LEN)], const uint8_t z[OMC_STATIC_LEN(OMC_P256_LEN)],
			  const jwe_parts *p)
{
	uint8_t info[3 * 4 + 7 + 2 * 1024 + 4];
	size_t info_len = 0;
	OMC_TRY(other_info(info, sizeof info, &info_len, p));
	/* NIST SP 800-56A 5.8.1 with SHA-256: K(i) = H(counter_i || Z ||
	 * OtherInfo); one round gives the 256 bits needed (counter 1). */
	static const uint8_t counter1[4] = {0, 0, 0, 1};
	OMC_AUTO(EVP_MD_CTX) md = EVP_MD_CTX_new();
	OMC_OSSL_ENSURE(md != NULL, OMC_ERR_NOMEM);
	unsigned int n = 0;
	OMC_OSSL_ENSURE(EVP_DigestInit_ex2(md, EVP_sha256(), NULL) == 1 &&
				EVP_DigestUpdate(md, counter1, sizeof counter1) == 1 &&
				EVP_DigestUpdate(md, z, OMC_P256_LEN) == 1 && EVP_DigestUpdate(md, info, info_len) == 1 &&
				EVP_DigestFinal_ex(md, cek, &n) == 1 && n == GCM_KEY_LEN,
			OMC_ERR_CRYPTO);
	return OMC_OK;
}

static omc_err derive_cek(uint8_t cek[OMC_STATIC_LEN(GCM_KEY_LEN)], const omc_key *recipient, const jwe_parts *p)
{
	uint8_t z[OMC_P256_LEN];
	OMC_DEFER_WIPE(z);
	OMC_TRY(ecdh(z, recipient->pkey, p->epk->pkey));
	return concat_kdf(cek, z, p);
}

/* AES-256-GCM with the protected header (its base64url, as sent) as AAD. */
static omc_err gcm_open(uint8_t *out, const uint8_t cek[OMC_STATIC_LEN(GCM_KEY_LEN)], const jwe_parts *p,
			const omc_jose_seg *aad)
{
	OMC_ENSURE(aad->len <= INT_MAX, OMC_ERR_TOO_LARGE);
	OMC_AUTO(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), cek, p->iv, NULL) == 1, OMC_ERR_CRYPTO);
	int n = 0;
	OMC_OSSL_ENSURE(EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad->s, (int)aad->len) == 1,
			OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_DecryptUpdate(ctx, out, &n, p->ct, (int)p->ct_len) == 1 && (size_t)n == p->ct_len,
			OMC_ERR_CRYPTO);
	uint8_t tag[GCM_TAG_LEN];
	memcpy(tag, p->tag, sizeof tag);
	OMC_OSSL_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)sizeof tag, tag) == 1, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_DecryptFinal_ex(ctx, out + n, &n) == 1 && n == 0, OMC_ERR_AUTH_FAILED);
	return OMC_OK;
}

omc_err omc_jwe_decrypt(uint8_t **plaintext, size_t *len, const char *compact, size_t clen,
			const omc_key *recipient)
{
	OMC_ENSURE(plaintext != NULL && len != NULL, OMC_ERR_BAD_ARG);
	*plaintext = NULL;
	*len = 0;
	OMC_ENSURE(compact != NULL && recipient != NULL && recipient->priv, OMC_ERR_BAD_ARG);
	omc_proto_init();

	omc_jose_seg seg[5];
	OMC_TRY(omc_jose_split(seg, 5, compact, clen));
	OMC_AUTO(json_t) hdr = NULL;
	OMC_TRY(omc_jose_header_parse(&hdr, &seg[0], JWE_HDR_B64_MAX));
	__attribute__((cleanup(jwe_parts_release))) jwe_parts p = {0};
	OMC_TRY(check_header(&p, hdr));
	OMC_TRY(check_segments(&p, seg));

	uint8_t cek[GCM_KEY_LEN];
	OMC_DEFER_WIPE(cek);
	OMC_TRY(derive_cek(cek, recipient, &p));
	OMC_AUTO(omc_heap) out = omc_alloc(p.ct_len + 1); /* wiped when released */
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	omc_err e = gcm_open(out, cek, &p, &seg[0]);
	if (e != OMC_OK) {
		OMC_LOG_DBG("proto", "JWE does not decrypt");
		return e;
	}
	out[p.ct_len] = 0;
	*plaintext = out;
	*len = p.ct_len;
	out = NULL;
	return OMC_OK;
}

/* --- encrypt ------------------------------------------------------------------------------ */

/* A fresh P-256 key (the ephemeral key of one JWE) and its public point as
 * the JWK members x and y. */
static omc_err ephemeral(EVP_PKEY **out, char x64[OMC_STATIC_LEN(44)], char y64[OMC_STATIC_LEN(44)])
{
	OMC_AUTO(EVP_PKEY) k = NULL;
	OMC_TRY(omc_proto_keygen(&k));
	uint8_t pt[1 + 2 * OMC_P256_LEN];
	size_t n = 0;
	/* SEC 1 2.3.3, uncompressed: 0x04 || x || y. */
	OMC_OSSL_ENSURE(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof pt, &n) == 1 &&
				n == sizeof pt && pt[0] == 0x04,
			OMC_ERR_CRYPTO);
	OMC_TRY(omc_b64_encode(x64, 44, pt + 1, OMC_P256_LEN, OMC_B64_URL));
	OMC_TRY(omc_b64_encode(y64, 44, pt + 1 + OMC_P256_LEN, OMC_P256_LEN, OMC_B64_URL));
	*out = k;
	k = NULL;
	return OMC_OK;
}

/* The protected header, in base64url. */
static omc_err header_b64(char **h64, size_t *h64_len, const char *x64, const char *y64, const char *typ)
{
	OMC_AUTO(json_t) h = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "alg", "ECDH-ES", "enc", "A256GCM", "epk", "kty",
				       "EC", "crv", "P-256", "x", x64, "y", y64);
	OMC_ENSURE(h != NULL, OMC_ERR_NOMEM);
	if (typ)
		OMC_ENSURE(json_object_set_new(h, "typ", json_string(typ)) == 0, OMC_ERR_NOMEM);
	OMC_AUTO(omc_json_str) hs = omc_json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	OMC_ENSURE(hs != NULL, OMC_ERR_NOMEM);
	return omc_jose_b64url_encode(h64, h64_len, (const uint8_t *)hs, strlen(hs));
}

/* AES-256-GCM of the plaintext, the header's base64url as AAD. */
static omc_err gcm_seal(uint8_t *ct, uint8_t tag[OMC_STATIC_LEN(GCM_TAG_LEN)], const uint8_t cek[OMC_STATIC_LEN(GCM_KEY_LEN)],
			const uint8_t iv[OMC_STATIC_LEN(GCM_IV_LEN)], const char *aad, size_t aad_len, const uint8_t *pt,
			size_t len)
{
	OMC_ENSURE(aad_len <= INT_MAX && len <= INT_MAX, OMC_ERR_TOO_LARGE);
	OMC_AUTO(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), cek, iv, NULL) == 1, OMC_ERR_CRYPTO);
	int n = 0;
	OMC_OSSL_ENSURE(EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)aad_len) == 1, OMC_ERR_CRYPTO);
	if (len > 0)
		OMC_OSSL_ENSURE(EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) == 1 && (size_t)n == len, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_EncryptFinal_ex(ctx, ct + len, &n) == 1 && n == 0, OMC_ERR_CRYPTO);
	OMC_OSSL_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_jwe_encrypt(char **compact, const uint8_t *plaintext, size_t len, const omc_key *recipient,
			const char *typ)
{
	OMC_ENSURE(compact != NULL, OMC_ERR_BAD_ARG);
	*compact = NULL;
	OMC_ENSURE(recipient != NULL && recipient->pkey != NULL && (plaintext != NULL || len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(typ == NULL || omc_jose_typ_ok(typ), OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX / 4 * 3, OMC_ERR_TOO_LARGE);
	omc_proto_init();

	OMC_AUTO(EVP_PKEY) eph = NULL;
	char x64[44], y64[44];
	OMC_TRY(ephemeral(&eph, x64, y64));
	uint8_t z[OMC_P256_LEN], cek[GCM_KEY_LEN];
	OMC_DEFER_WIPE(z);
	OMC_DEFER_WIPE(cek);
	OMC_TRY(ecdh(z, eph, recipient->pkey));
	jwe_parts none = {0}; /* no apu, no apv */
	OMC_TRY(concat_kdf(cek, z, &none));

	OMC_AUTO(omc_heap_str) h64 = NULL;
	size_t h64_len = 0;
	OMC_TRY(header_b64(&h64, &h64_len, x64, y64, typ));
	uint8_t iv[GCM_IV_LEN], tag[GCM_TAG_LEN];
	OMC_TRY(omc_rand_bytes(iv, sizeof iv));
	OMC_AUTO(omc_heap) ct = omc_alloc(len + 1);
	OMC_ENSURE(ct != NULL, OMC_ERR_NOMEM);
	OMC_TRY(gcm_seal(ct, tag, cek, iv, h64, h64_len, plaintext, len));

	OMC_AUTO(omc_heap_str) c64 = NULL;
	size_t c64_len = 0;
	OMC_TRY(omc_jose_b64url_encode(&c64, &c64_len, ct, len));
	char iv64[24], tag64[24];
	OMC_TRY(omc_b64_encode(iv64, sizeof iv64, iv, sizeof iv, OMC_B64_URL));
	OMC_TRY(omc_b64_encode(tag64, sizeof tag64, tag, sizeof tag, OMC_B64_URL));
	size_t iv64_len = strlen(iv64), tag64_len = strlen(tag64);
	size_t total = h64_len + 2 + iv64_len + 1 + c64_len + 1 + tag64_len;
	/* Never make what omc_jwe_decrypt refuses. */
	OMC_ENSURE(h64_len <= JWE_HDR_B64_MAX && total <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	char *out = omc_alloc(total + 1);
	OMC_ENSURE(out != NULL, OMC_ERR_NOMEM);
	omc_cur w;
	omc_cur_init_write(&w, (uint8_t *)out, total + 1);
	omc_err e = omc_cur_write(&w, (const uint8_t *)h64, h64_len);
	if (e == OMC_OK)
		e = omc_cur_write(&w, (const uint8_t *)"..", 2); /* the empty encrypted key */
	if (e == OMC_OK)
		e = omc_cur_write(&w, (const uint8_t *)iv64, iv64_len);
	if (e == OMC_OK)
		e = omc_cur_write_u8(&w, '.');
	if (e == OMC_OK)
		e = omc_cur_write(&w, (const uint8_t *)c64, c64_len);
	if (e == OMC_OK)
		e = omc_cur_write_u8(&w, '.');
	if (e == OMC_OK)
		e = omc_cur_write(&w, (const uint8_t *)tag64, tag64_len);
	if (e == OMC_OK)
		e = omc_cur_write_u8(&w, '\0');
	if (e != OMC_OK) {
		omc_free(out);
		return e;
	}
	*compact = out;
	return OMC_OK;
}
