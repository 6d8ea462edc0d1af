/* openmcim proto: internal interfaces between the module's parts.
 *
 *   init.c         omc_proto_init: jansson, cjose, OpenSSL allocate through omc_alloc
 *   pem.c          PEM blocks and memory BIOs
 *   key.c          P-256 key handles, encrypted PKCS#8 PEM
 *   jwk.c          public JWK and its RFC 7638 thumbprint
 *   cert.c         X.509 v3 issue, parse, encode
 *   cert_verify.c  chain verification (X509_STORE_CTX)
 *   compact.c      the JOSE compact serialisation: split, base64url, header
 *   jws.c          ES256 sign and verify, x5c
 *   jwe.c          ECDH-ES + A256GCM: cjose encrypts, OpenSSL primitives decrypt
 *
 * Ownership of OpenSSL, jansson and cjose objects is kept straight with
 * OMC_AUTO(type): a local released when its scope ends, by whichever path
 * (s2n DEFER_CLEANUP). A function that hands an object on sets the local to
 * NULL after the hand-over. */
#ifndef OMC_PROTO_INTERNAL_H
#define OMC_PROTO_INTERNAL_H

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "openmcim/proto.h"
#include "util/util_internal.h"

struct omc_key {
	EVP_PKEY *pkey; /* an EC key on P-256 (checked whenever one is made) */
	bool priv;      /* the private scalar is present */
};

struct omc_cert {
	X509 *x;        /* v3, P-256 key, ecdsa-with-SHA256 (checked on parse) */
	uint8_t fp[32]; /* SHA-256 of its DER: omc_cert_fingerprint */
};

/* --- limits (checked before anything is parsed) ------------------------------ */
#define OMC_P256_LEN 32         /* a coordinate, a scalar, half a signature */
#define OMC_ES256_SIG_LEN 64    /* R || S, RFC 7518 3.4 */
#define OMC_X5C_MAX 8           /* certificates in an x5c header */
#define OMC_CERT_DER_MAX 8192   /* one certificate, DER */
#define OMC_CERT_PEM_MAX 16384  /* one certificate, PEM */
#define OMC_KEY_PEM_MAX 8192    /* one key, PEM */
#define OMC_JWK_MAX 4096        /* one JWK, JSON */
#define OMC_PASS_MIN 16         /* key-encryption secret, bytes */
#define OMC_PASS_MAX 256
#define OMC_CN_MAX 64           /* X.520 ub-common-name */
#define OMC_CERT_DAYS_MAX 36500 /* validity of an issued certificate */
#define OMC_ANCHORS_MAX 64      /* trust anchors given to one verification */
/* A protected header holds at most OMC_X5C_MAX certificates in base64 plus a
 * few short members. */
#define OMC_JOSE_HDR_MAX (OMC_X5C_MAX * (OMC_CERT_DER_MAX / 3 + 1) * 4 + 4096)

/* --- scoped release ------------------------------------------------------------ */
#define OMC_AUTO(type) __attribute__((cleanup(omc_auto_release_##type))) type *
#define OMC_AUTO_DEFINE(type, release)                            \
	static inline void omc_auto_release_##type(type **p)      \
	{                                                         \
		if (*p)                                           \
			release(*p);                              \
		*p = NULL;                                        \
	}

typedef STACK_OF(X509) omc_x509_stack;
typedef unsigned char omc_ossl_bytes; /* OPENSSL_malloc'd bytes (DER) */
typedef uint8_t omc_heap;             /* omc_alloc'd bytes, wiped when released */
typedef char omc_heap_str;            /* the same, text */
typedef char omc_json_str;            /* from json_dumps */

/* Releases what jansson allocated (json_dumps), through jansson's current
 * free function (omc_free once omc_proto_init has run). (init.c) */
void omc_json_free(char *s);

static inline void omc_x509_stack_free_(omc_x509_stack *s)
{
	sk_X509_free(s); /* the certificates belong to their omc_cert handles */
}
static inline void omc_ossl_bytes_free_(omc_ossl_bytes *s)
{
	OPENSSL_free(s);
}
static inline void omc_cjose_jwk_release_(cjose_jwk_t *k)
{
	(void)cjose_jwk_release(k);
}

OMC_AUTO_DEFINE(EVP_PKEY, EVP_PKEY_free)
OMC_AUTO_DEFINE(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
OMC_AUTO_DEFINE(EVP_MD_CTX, EVP_MD_CTX_free)
OMC_AUTO_DEFINE(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
OMC_AUTO_DEFINE(BIO, BIO_free)
OMC_AUTO_DEFINE(BIGNUM, BN_clear_free)
OMC_AUTO_DEFINE(ECDSA_SIG, ECDSA_SIG_free)
OMC_AUTO_DEFINE(X509, X509_free)
OMC_AUTO_DEFINE(X509_NAME, X509_NAME_free)
OMC_AUTO_DEFINE(X509_STORE, X509_STORE_free)
OMC_AUTO_DEFINE(X509_STORE_CTX, X509_STORE_CTX_free)
OMC_AUTO_DEFINE(X509_EXTENSION, X509_EXTENSION_free)
OMC_AUTO_DEFINE(X509_SIG, X509_SIG_free)
OMC_AUTO_DEFINE(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free)
OMC_AUTO_DEFINE(omc_x509_stack, omc_x509_stack_free_)
OMC_AUTO_DEFINE(omc_ossl_bytes, omc_ossl_bytes_free_)
OMC_AUTO_DEFINE(omc_heap, omc_free)
OMC_AUTO_DEFINE(omc_heap_str, omc_free)
OMC_AUTO_DEFINE(omc_json_str, omc_json_free)
OMC_AUTO_DEFINE(json_t, json_decref)
OMC_AUTO_DEFINE(cjose_jwk_t, omc_cjose_jwk_release_)
OMC_AUTO_DEFINE(cjose_jwe_t, cjose_jwe_release)
OMC_AUTO_DEFINE(omc_key, omc_key_free)

/* OMC_ENSURE for a call into OpenSSL: on failure the thread's OpenSSL error
 * queue is emptied too, so that no stale entry outlives the call. */
/* OpenSSL's name of the one curve. */
#define P256_GROUP "prime256v1"

#define OMC_OSSL_ENSURE(cond, err)                   \
	do {                                         \
		if (!(cond)) {                       \
			ERR_clear_error();           \
			OMC_BAIL(err);               \
		}                                    \
	} while (0)

/* --- init.c ------------------------------------------------------------------- */
/* true if OpenSSL allocates through omc_alloc (see init.c). */
bool omc_proto_ossl_routed(void);

/* --- PEM and memory BIOs (pem.c) ---------------------------------------------- */
/* The first PEM block of a text, read with PEM_FLAG_SECURE so that OpenSSL
 * cleanses its buffers; release with omc_pem_block_release (which cleanses
 * data: it may be a plaintext private key that is about to be refused). */
typedef struct omc_pem_block {
	char *name;
	char *header;
	unsigned char *data;
	long len;
} omc_pem_block;
void omc_pem_block_release(omc_pem_block *b);
#define OMC_PEM_BLOCK __attribute__((cleanup(omc_pem_block_release))) omc_pem_block
/* OMC_ERR_TOO_LARGE above max bytes, OMC_ERR_BAD_FORMAT without a block. */
OMC_MUST_USE omc_err omc_pem_read(omc_pem_block *b, const char *pem, size_t len, size_t max);
/* The bytes written to a memory BIO, as a new omc_alloc'd NUL-terminated string. */
OMC_MUST_USE omc_err omc_bio_to_str(char **out, size_t *len, BIO *bio);

/* --- keys (key.c) -------------------------------------------------------------- */
/* OMC_OK if pk is an EC key on the named curve P-256, else OMC_ERR_BAD_FORMAT
 * (other types, other curves and explicit curve parameters alike). */
OMC_MUST_USE omc_err omc_proto_pkey_check_p256(const EVP_PKEY *pk);
/* A new handle that takes pkey over (also on failure) after checking it. */
OMC_MUST_USE omc_err omc_proto_key_wrap(omc_key **out, EVP_PKEY **pkey, bool priv);
/* The same without any check, for keys that hold by construction what
 * omc_proto_key_wrap checks: made by OpenSSL from P-256's parameters or from
 * a checked key (generation, the public half of a handle), or a certificate's
 * key, checked when the certificate was parsed or issued. */
OMC_MUST_USE omc_err omc_proto_key_adopt(omc_key **out, EVP_PKEY **pkey, bool priv);
/* P-256's domain parameters as a key, made on first use and shared (read
 * only); NULL if it could not be made (the next call tries again). */
EVP_PKEY *omc_proto_p256(void);
/* A new P-256 key pair from OpenSSL's generator. */
OMC_MUST_USE omc_err omc_proto_keygen(EVP_PKEY **out);
/* A public key from affine coordinates; OMC_ERR_BAD_FORMAT unless the point
 * is on P-256 (and not the point at infinity). */
OMC_MUST_USE omc_err omc_proto_key_from_xy(omc_key **out, const uint8_t x[OMC_STATIC_LEN(OMC_P256_LEN)],
					    const uint8_t y[OMC_STATIC_LEN(OMC_P256_LEN)]);
/* Affine coordinates of the public key, big-endian, 32 bytes each. */
OMC_MUST_USE omc_err omc_proto_key_xy(uint8_t x[OMC_STATIC_LEN(OMC_P256_LEN)], uint8_t y[OMC_STATIC_LEN(OMC_P256_LEN)],
				      const omc_key *k);
/* The private scalar, big-endian; the caller wipes d. */
OMC_MUST_USE omc_err omc_proto_key_scalar(uint8_t d[OMC_STATIC_LEN(OMC_P256_LEN)], const omc_key *k);
/* The public key as a cjose JWK (cjose never gets a private scalar). */
OMC_MUST_USE omc_err omc_proto_key_to_cjose(cjose_jwk_t **out, const omc_key *k);

/* An EC public key from the members of a parsed JWK (kty, crv, x, y); also
 * the "epk" of a JWE. OMC_ERR_DENIED if it carries "d". (jwk.c) */
OMC_MUST_USE omc_err omc_proto_key_from_jwk_json(omc_key **k, const json_t *jwk);

/* --- certificates (cert.c) ------------------------------------------------------ */
/* One certificate from DER: canonical DER only (it must encode back to the
 * same bytes), v3, a P-256 key, signed with ecdsa-with-SHA256. */
OMC_MUST_USE omc_err omc_proto_cert_parse_der(omc_cert **out, const uint8_t *der, size_t len);
/* The parse cache (cert.c): the X509 of DER bytes already parsed and found
 * acceptable by omc_proto_cert_parse_der, under the SHA-256 of the bytes. A
 * certificate never changes once parsed, so the handles share it
 * (X509_up_ref, as omc_cert_dup does); a parse of the same bytes can only
 * give the same result, so a hit skips d2i, the re-encoding check and the
 * key checks. Holds only public data; thread-safe. */
#define OMC_CERT_CACHE_N 64
/* The chain cache (cert_verify.c): chains that verified, by their
 * certificates' and anchors' fingerprints. */
#define OMC_CHAIN_CACHE_N 64
/* The signature cache (sig_memo.c): ES256 signatures that verified, under
 * omc_proto_sig_id of the signer's certificate fingerprint, the signature
 * and the signing input. omc_jws_verify_x5c looks there before the ECDSA
 * verification and puts what verified; nothing else changes (the chain, its
 * validity and the leaf's keyUsage are checked on every call). */
#define OMC_SIG_CACHE_N 64
OMC_MUST_USE bool omc_proto_sig_id(uint8_t id[32], const uint8_t fp[32],
				   const uint8_t rs[OMC_STATIC_LEN(OMC_ES256_SIG_LEN)], const char *tbs,
				   size_t tbs_len);
OMC_MUST_USE bool omc_proto_sig_memo_hit(const uint8_t id[32]);
void omc_proto_sig_memo_put(const uint8_t id[32]);
void omc_proto_sig_cache_clear(void);
/* The header cache (hdr_memo.c): the protected headers of JWSs that
 * verified (omc_jws_verify_x5c), by their exact bytes (a segment of at most
 * OMC_HDR_CACHE_SEG_MAX characters), with what jws.c read from them: the
 * "typ" and the x5c certificates. A hit hands out new handles to the same
 * certificates (omc_cert_dup) and skips the header's parse; the chain, its
 * validity, the keyUsage and the signature are checked on every call. */
#define OMC_HDR_CACHE_N 32
#define OMC_HDR_CACHE_SEG_MAX 4096
#define OMC_HDR_TYP_CAP 64
typedef struct omc_proto_hdr_memo {
	char typ[OMC_HDR_TYP_CAP];
	bool has_typ;
	omc_cert *x5c[OMC_X5C_MAX]; /* the caller's to free */
	size_t n_x5c;
} omc_proto_hdr_memo;
/* *hit whether seg is there; with out, its typ and certificates too (then
 * OMC_ERR_NOMEM, and *hit false, if a handle could not be made). */
OMC_MUST_USE omc_err omc_proto_hdr_memo_get(bool *hit, omc_proto_hdr_memo *out, const char *seg, size_t len);
void omc_proto_hdr_memo_put(const char *seg, size_t len, const char *typ, const omc_cert *const *x5c,
			    size_t n_x5c);
void omc_proto_hdr_cache_clear(void);
#ifdef OMC_TEST_HOOKS
/* The four caches on (the default) or off; off empties them. */
OMC_API void omc_test_proto_cache(bool on);
OMC_API bool omc_test_proto_cache_on(void);
/* Hits of each cache since the start. */
OMC_API unsigned long omc_test_cert_cache_hits(void);
OMC_API unsigned long omc_test_chain_cache_hits(void);
OMC_API unsigned long omc_test_sig_cache_hits(void);
OMC_API unsigned long omc_test_hdr_cache_hits(void);
#endif
void omc_proto_chain_cache_clear(void);

/* omc_cert_issue without its policy checks (issuer must be a CA, key pairs
 * must match): only the tests use it, to make certificates that must fail. */
OMC_MUST_USE omc_err omc_proto_cert_issue_unchecked(omc_cert **out, const omc_cert_req *req,
						    const omc_key *subject_pub, const omc_cert *issuer,
						    const omc_key *issuer_key);

/* --- the compact serialisation (compact.c) ------------------------------------- */
typedef struct omc_jose_seg {
	const char *s; /* points into the caller's compact string */
	size_t len;
} omc_jose_seg;

/* Split compact (clen bytes, at most OMC_JOSE_MAX, else OMC_ERR_TOO_LARGE)
 * into exactly n segments separated by '.'; every other byte must be of the
 * base64url alphabet (OMC_ERR_BAD_FORMAT otherwise). */
OMC_MUST_USE omc_err omc_jose_split(omc_jose_seg *seg, size_t n, const char *compact, size_t clen);
/* Strict base64url (no padding, canonical) into a new omc_alloc'd buffer with
 * a NUL after the *len bytes. OMC_ERR_BAD_FORMAT if it is not base64url. */
OMC_MUST_USE omc_err omc_jose_b64url_decode(uint8_t **out, size_t *len, const char *s, size_t slen);
/* A typ value: 1..63 printable ASCII characters, no space. */
bool omc_jose_typ_ok(const char *typ);
/* Exactly n bytes of strict base64url into out; OMC_ERR_BAD_FORMAT otherwise. */
OMC_MUST_USE omc_err omc_jose_b64url_fixed(uint8_t *out, size_t n, const char *s, size_t slen);
/* base64url of in, as a new omc_alloc'd NUL-terminated string. */
OMC_MUST_USE omc_err omc_jose_b64url_encode(char **out, size_t *out_len, const uint8_t *in, size_t len);
/* The protected header: base64url of a JSON object (no duplicate member,
 * no NUL), at most max bytes of base64url. OMC_ERR_BAD_FORMAT otherwise. */
OMC_MUST_USE omc_err omc_jose_header_parse(json_t **hdr, const omc_jose_seg *seg, size_t max);
/* Member name of hdr as a string: *out NULL if absent; OMC_ERR_BAD_FORMAT if
 * present but not a string, or longer than max, or holding a control byte. */
OMC_MUST_USE omc_err omc_jose_header_str(const char **out, const json_t *hdr, const char *name, size_t max);

#endif
