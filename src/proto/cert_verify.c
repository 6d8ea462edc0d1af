/* Certificate path validation (RFC 5280 6) by OpenSSL's X509_STORE_CTX.
 *
 * The store holds the caller's anchors and nothing else (no system CA
 * paths). Checks: every signature, every validity period at `now`, the CA
 * flag and keyUsage keyCertSign of every issuer, path length constraints,
 * and X509_V_FLAG_X509_STRICT (RFC 5280 profile: critical basicConstraints
 * on CAs, key identifiers present, no explicit EC parameters...). A path
 * must end at a self-signed anchor, with one exception: an anchor that is
 * not self-signed but directly issued the leaf is accepted as the end of
 * the path (X509_V_FLAG_PARTIAL_CHAIN, only in that case), so that a
 * caller can pin an intermediate CA it was given. */
#include <openssl/x509v3.h>

#include "proto/proto_internal.h"

static const char *verify_error(const X509_STORE_CTX *ctx)
{
	return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
}

/* An anchor that is not self-signed and issued the leaf directly. */
static bool anchor_issued_leaf(const omc_cert *const *anchors, size_t n_anchors, X509 *leaf)
{
	for (size_t i = 0; i < n_anchors; i++) {
		X509 *a = anchors[i]->x;
		if (X509_self_signed(a, 0) != 1 && X509_check_issued(a, leaf) == X509_V_OK)
			return true;
	}
	ERR_clear_error();
	return false;
}

omc_err omc_cert_chain_verify(const omc_cert *const *chain, size_t n_chain, const omc_cert *const *anchors,
			      size_t n_anchors, time_t now, size_t *anchor)
{
	OMC_ENSURE(chain != NULL && anchors != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(n_chain >= 1 && n_chain <= OMC_X5C_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(n_anchors >= 1 && n_anchors <= OMC_ANCHORS_MAX, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < n_chain; i++)
		OMC_ENSURE(chain[i] != NULL, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < n_anchors; i++)
		OMC_ENSURE(anchors[i] != NULL, OMC_ERR_BAD_ARG);
	omc_proto_init();

	OMC_AUTO(X509_STORE) store = X509_STORE_new();
	OMC_OSSL_ENSURE(store != NULL, OMC_ERR_NOMEM);
	for (size_t i = 0; i < n_anchors; i++)
		OMC_OSSL_ENSURE(X509_STORE_add_cert(store, anchors[i]->x) == 1, OMC_ERR_NOMEM);
	OMC_AUTO(omc_x509_stack) untrusted = sk_X509_new_null();
	OMC_OSSL_ENSURE(untrusted != NULL, OMC_ERR_NOMEM);
	for (size_t i = 1; i < n_chain; i++)
		OMC_OSSL_ENSURE(sk_X509_push(untrusted, chain[i]->x) > 0, OMC_ERR_NOMEM);

	OMC_AUTO(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
	OMC_OSSL_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OMC_OSSL_ENSURE(X509_STORE_CTX_init(ctx, store, chain[0]->x, untrusted) == 1, OMC_ERR_NOMEM);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_V_FLAG_X509_STRICT;
	if (anchor_issued_leaf(anchors, n_anchors, chain[0]->x))
		flags |= X509_V_FLAG_PARTIAL_CHAIN;
	OMC_OSSL_ENSURE(X509_VERIFY_PARAM_set_flags(param, flags) == 1, OMC_ERR_CRYPTO);
	X509_VERIFY_PARAM_set_depth(param, OMC_X5C_MAX);
	if (now != 0)
		X509_VERIFY_PARAM_set_time(param, now);

	if (X509_verify_cert(ctx) != 1) {
		OMC_LOG_DBG("proto", "certificate chain refused at depth %d: %s", X509_STORE_CTX_get_error_depth(ctx),
			    verify_error(ctx));
		ERR_clear_error();
		OMC_BAIL(OMC_ERR_BAD_SIGNATURE);
	}

	/* The top of the validated path is the anchor it ended at. */
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	int depth = sk_X509_num(path);
	OMC_ASSERT(depth >= 1);
	X509 *top = sk_X509_value(path, depth - 1);
	for (size_t i = 0; i < n_anchors; i++) {
		if (X509_cmp(top, anchors[i]->x) == 0) {
			if (anchor)
				*anchor = i;
			return OMC_OK;
		}
	}
	OMC_LOG_ERR("proto", "verified path ends at no given anchor");
	OMC_BAIL(OMC_ERR_BUG);
}
