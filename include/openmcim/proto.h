/* openmcim: keys, certificates and the signed and encrypted objects (JOSE).
 *
 * Every object that crosses a boundary between the TRE and the network is
 * JOSE in compact serialisation:
 *   - signed:    JWS, ES256 (ECDSA P-256, SHA-256), the signer's certificate
 *                chain in the protected header (x5c, leaf first), and a
 *                "typ" naming the object (RFC 7515, RFC 7519 8);
 *   - encrypted: JWE, ECDH-ES (direct key agreement) with A256GCM, to a P-256
 *                public key (RFC 7516, RFC 7518 4.6).
 * Payloads are JSON; docs/objects.md lists every object and its claims.
 *
 * Keys are ECDSA/ECDH P-256 only. Private keys on disk are PKCS#8 PEM,
 * encrypted (AES-256-CBC, PBKDF2-HMAC-SHA-256) under a key-encryption
 * secret; they never appear in a file in plaintext. Certificates are X.509
 * v3, ECDSA-with-SHA256.
 *
 * The implementation sits on OpenSSL 3 (keys, X.509) and cjose (JOSE); their
 * allocations go through omc_alloc so that freed memory is wiped. */
#ifndef OPENMCIM_PROTO_H
#define OPENMCIM_PROTO_H

#include <stdbool.h>
#include <time.h>

#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/util.h"

#define OMC_JOSE_MAX (1024 * 1024) /* largest compact JWS/JWE accepted */

/* --- keys ------------------------------------------------------------------ */
typedef struct omc_key omc_key; /* a P-256 key pair, or a public key alone */

OMC_API OMC_MUST_USE omc_err omc_key_generate(omc_key **k);
OMC_API void omc_key_free(omc_key *k);
OMC_API bool omc_key_has_private(const omc_key *k);
/* A new handle holding only the public half. */
OMC_API OMC_MUST_USE omc_err omc_key_public(omc_key **pub, const omc_key *k);
/* PEM: a private key needs the key-encryption secret (pass, pass_len >= 16
 * bytes); a public key ("PUBLIC KEY") needs none (pass NULL). *pem from
 * omc_alloc, NUL-terminated. */
OMC_API OMC_MUST_USE omc_err omc_key_to_pem(char **pem, size_t *pem_len, const omc_key *k, bool include_private,
					     const uint8_t *pass, size_t pass_len);
OMC_API OMC_MUST_USE omc_err omc_key_from_pem(omc_key **k, const char *pem, size_t pem_len, const uint8_t *pass,
					       size_t pass_len);
/* A private key sealed under a 32-byte random key-encryption key (AES-256-GCM
 * over the scalar and the public point, 130 bytes; docs/objects.md): for
 * keys that a random key already protects, where PEM's password-based
 * derivation would only cost time. *out from omc_alloc. Opening:
 * OMC_ERR_AUTH_FAILED for another key or any changed byte,
 * OMC_ERR_BAD_FORMAT for a wrong length or a scalar that does not match. */
OMC_API OMC_MUST_USE omc_err omc_key_seal(uint8_t **out, size_t *out_len, const omc_key *k,
					   const uint8_t kek[OMC_STATIC_LEN(32)]);
OMC_API OMC_MUST_USE omc_err omc_key_unseal(omc_key **k, const uint8_t *in, size_t len,
					     const uint8_t kek[OMC_STATIC_LEN(32)]);
/* Public JWK ({"kty":"EC","crv":"P-256","x":...,"y":...}), *json from
 * omc_alloc; and back. Anything but a P-256 point on the curve is refused. */
OMC_API OMC_MUST_USE omc_err omc_key_to_jwk(char **json, const omc_key *k);
OMC_API OMC_MUST_USE omc_err omc_key_from_jwk(omc_key **k, const char *json, size_t len);
/* RFC 7638 JWK thumbprint (SHA-256) of the public key. */
OMC_API OMC_MUST_USE omc_err omc_key_thumbprint(uint8_t out[OMC_STATIC_LEN(32)], const omc_key *k);
/* 1 if both hold the same public key. */
OMC_API bool omc_key_equal_public(const omc_key *a, const omc_key *b);

/* --- certificates ---------------------------------------------------------- */
typedef struct omc_cert omc_cert;

typedef struct omc_cert_req {
	const char *subject_cn;  /* required */
	const char *subject_org; /* optional */
	bool ca;                 /* basicConstraints CA:TRUE, keyCertSign */
	unsigned days;           /* validity from now - 1 hour */
	uint64_t serial;         /* 0: random */
	const char *san;         /* optional: subjectAltName ("IP:127.0.0.1,DNS:localhost"),
				  * and the extended key usage serverAuth: a TLS server */
} omc_cert_req;

/* Issue a certificate for subject_pub, signed by issuer_key; issuer NULL
 * makes it self-signed (issuer_key must then hold subject_pub's private
 * half). */
OMC_API OMC_MUST_USE omc_err omc_cert_issue(omc_cert **out, const omc_cert_req *req, const omc_key *subject_pub,
					     const omc_cert *issuer, const omc_key *issuer_key);
OMC_API void omc_cert_free(omc_cert *c);
OMC_API OMC_MUST_USE omc_err omc_cert_dup(omc_cert **out, const omc_cert *c);
OMC_API OMC_MUST_USE omc_err omc_cert_to_pem(char **pem, size_t *len, const omc_cert *c);
/* One certificate from PEM or DER. */
OMC_API OMC_MUST_USE omc_err omc_cert_from_pem(omc_cert **c, const char *pem, size_t len);
OMC_API OMC_MUST_USE omc_err omc_cert_to_der(uint8_t **der, size_t *len, const omc_cert *c);
OMC_API OMC_MUST_USE omc_err omc_cert_from_der(omc_cert **c, const uint8_t *der, size_t len);
/* The subject's public key (a new handle). */
OMC_API OMC_MUST_USE omc_err omc_cert_public_key(omc_key **k, const omc_cert *c);
/* Subject CN into buf (NUL-terminated); OMC_ERR_NO_SPACE if it does not fit. */
OMC_API OMC_MUST_USE omc_err omc_cert_subject_cn(char *buf, size_t cap, const omc_cert *c);
/* SHA-256 of the DER encoding. */
OMC_API OMC_MUST_USE omc_err omc_cert_fingerprint(uint8_t out[OMC_STATIC_LEN(32)], const omc_cert *c);
/* Verify chain[0] (leaf) through chain[1..] to one of anchors at time now
 * (0 = current time): signatures, validity, CA flags, path length. *anchor
 * (optional) gets the index of the anchor used. OMC_ERR_BAD_SIGNATURE for
 * any failure (details via omc_log at debug level only). */
OMC_API OMC_MUST_USE omc_err omc_cert_chain_verify(const omc_cert *const *chain, size_t n_chain,
						    const omc_cert *const *anchors, size_t n_anchors, time_t now,
						    size_t *anchor);

/* --- JWS (ES256, x5c) ------------------------------------------------------- */
/* Sign payload; x5c is the signer's chain, leaf first (n_x5c may be 0: no
 * x5c header). typ goes in the protected header. *compact from omc_alloc. */
OMC_API OMC_MUST_USE omc_err omc_jws_sign(char **compact, const uint8_t *payload, size_t len, const omc_key *key,
					   const omc_cert *const *x5c, size_t n_x5c, const char *typ);

typedef struct omc_jws_verified {
	uint8_t *payload; /* omc_alloc'd, NUL-terminated after len bytes */
	size_t len;
	omc_cert *leaf;  /* the signer's certificate (NULL when verified by key) */
	size_t anchor;   /* index of the anchor the chain ended at */
	char typ[64];
} omc_jws_verified;

/* Verify a JWS whose x5c chains to one of anchors (at time now; 0 = current
 * time), with alg ES256 only and typ equal to want_typ (NULL: any). The
 * leaf's key must have made the signature. OMC_ERR_BAD_FORMAT for a
 * malformed object, OMC_ERR_BAD_SIGNATURE for anything that does not
 * verify. */
OMC_API OMC_MUST_USE omc_err omc_jws_verify_x5c(omc_jws_verified *out, const char *compact, size_t len,
						 const omc_cert *const *anchors, size_t n_anchors, const char *want_typ,
						 time_t now);
/* Verify with a known public key (no x5c needed). */
OMC_API OMC_MUST_USE omc_err omc_jws_verify_key(omc_jws_verified *out, const char *compact, size_t len,
						 const omc_key *key, const char *want_typ);
/* Payload without verifying anything (to read an issuer before choosing a
 * key). The caller must verify before trusting a byte of it. */
OMC_API OMC_MUST_USE omc_err omc_jws_peek(uint8_t **payload, size_t *len, const char *compact, size_t clen);
OMC_API void omc_jws_verified_free(omc_jws_verified *v);

/* --- JWE (ECDH-ES, A256GCM) -------------------------------------------------- */
OMC_API OMC_MUST_USE omc_err omc_jwe_encrypt(char **compact, const uint8_t *plaintext, size_t len,
					      const omc_key *recipient, const char *typ);
/* *plaintext from omc_alloc (wiped when freed). Only alg ECDH-ES with enc
 * A256GCM is accepted; OMC_ERR_AUTH_FAILED if it does not decrypt. */
OMC_API OMC_MUST_USE omc_err omc_jwe_decrypt(uint8_t **plaintext, size_t *len, const char *compact, size_t clen,
					      const omc_key *recipient);

/* Route jansson's and cjose's allocations through omc_alloc/omc_free (so that
 * every freed JSON string or JOSE buffer is wiped). Idempotent; the proto
 * functions call it themselves. */
OMC_API void omc_proto_init(void);

#endif
