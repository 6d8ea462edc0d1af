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
 * caller can pin an intermediate CA it was given.
 *
 * A chain that verified is remembered (the chain cache), so that the same
 * x5c under the same anchors is not verified again and again: the same
 * signatures over the same bytes can only verify the same way. What
 * OpenSSL decides from the certificates alone (signatures, CA flags, key
 * usage, path length, the strict profile) is remembered; what depends on
 * the time (the validity of every certificate of the path, the anchor
 * included) is checked again on every hit, by X509_cmp_time as
 * X509_verify_cert does it (valid when notBefore <= now < notAfter). A
 * chain is remembered only when its path was the only one to build: for
 * every certificate of the path, exactly one of the certificates given
 * (chain and anchors, by fingerprint) has the subject its issuer names (the
 * next on the path; for the anchor it ends at, itself or none), so that the
 * path OpenSSL would build at another time is the same one. Refusals are
 * never remembered: they run the whole verification every time. */
#include <pthread.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "proto/proto_internal.h"

/* --- the chain cache -------------------------------------------------------------------- */

#define PATH_MAX_LEN 16
#define REF_ANCHOR 0x80 /* a ref: chain index, or REF_ANCHOR | anchor index */

typedef struct chain_memo {
	uint8_t id[32]; /* SHA-256 of the counts and fingerprints of chain and anchors, in order */
	uint8_t n_path;
	uint8_t ref[PATH_MAX_LEN]; /* the validated path, leaf first */
	uint8_t anchor;            /* the index it reported */
	uint64_t used;
} chain_memo;

static struct {
	pthread_mutex_t lock;
	uint64_t tick;
	chain_memo m[OMC_CHAIN_CACHE_N];
#ifdef OMC_TEST_HOOKS
	unsigned long hits;
#endif
} memo = {.lock = PTHREAD_MUTEX_INITIALIZER};

void omc_proto_chain_cache_clear(void)
{
	pthread_mutex_lock(&memo.lock);
	memset(memo.m, 0, sizeof memo.m);
	pthread_mutex_unlock(&memo.lock);
}

#ifdef OMC_TEST_HOOKS
unsigned long omc_test_chain_cache_hits(void)
{
	pthread_mutex_lock(&memo.lock);
	unsigned long n = memo.hits;
	pthread_mutex_unlock(&memo.lock);
	return n;
}
#define memo_on() omc_test_proto_cache_on()
#else
#define memo_on() true
#endif

static bool chain_id(uint8_t id[32], const omc_cert *const *chain, size_t n_chain, const omc_cert *const *anchors,
		     size_t n_anchors)
{
	OMC_AUTO(EVP_MD_CTX) md = EVP_MD_CTX_new();
	uint8_t nc = (uint8_t)n_chain, na = (uint8_t)n_anchors;
	unsigned n = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, &nc, 1) == 1 &&
		  EVP_DigestUpdate(md, &na, 1) == 1;
	for (size_t i = 0; ok && i < n_chain; i++)
		ok = EVP_DigestUpdate(md, chain[i]->fp, 32) == 1;
	for (size_t i = 0; ok && i < n_anchors; i++)
		ok = EVP_DigestUpdate(md, anchors[i]->fp, 32) == 1;
	ok = ok && EVP_DigestFinal_ex(md, id, &n) == 1 && n == 32;
	if (!ok)
		ERR_clear_error();
	return ok;
}

static X509 *ref_cert(uint8_t ref, const omc_cert *const *chain, const omc_cert *const *anchors)
{
	return ref & REF_ANCHOR ? anchors[ref & ~REF_ANCHOR]->x : chain[ref]->x;
}

/* Within its validity at now (0: the current time), as x509_check_cert_time
 * decides it. */
static bool time_ok(X509 *x, time_t now)
{
	time_t *t = now != 0 ? &now : NULL;
	return X509_cmp_time(X509_get0_notBefore(x), t) < 0 && X509_cmp_time(X509_get0_notAfter(x), t) > 0;
}

/* true (and *anchor) if this chain verified before and every certificate
 * of its path is within its validity now. */
static bool memo_hit(const uint8_t id[32], const omc_cert *const *chain, const omc_cert *const *anchors, time_t now,
		     size_t *anchor)
{
	chain_memo m = {0};
	bool found = false;
	pthread_mutex_lock(&memo.lock);
	for (size_t i = 0; i < OMC_CHAIN_CACHE_N && !found; i++)
		if (memo.m[i].n_path && memcmp(memo.m[i].id, id, 32) == 0) {
			memo.m[i].used = ++memo.tick;
			m = memo.m[i];
			found = true;
		}
	pthread_mutex_unlock(&memo.lock);
	for (size_t i = 0; found && i < m.n_path; i++)
		found = time_ok(ref_cert(m.ref[i], chain, anchors), now);
	ERR_clear_error();
	if (!found)
		return false;
	if (anchor)
		*anchor = m.anchor;
#ifdef OMC_TEST_HOOKS
	pthread_mutex_lock(&memo.lock);
	memo.hits++;
	pthread_mutex_unlock(&memo.lock);
#endif
	return true;
}

/* The certificates given whose subject is the issuer x names, each counted
 * once (by fingerprint): at most 2 are told apart, enough to say "only
 * this one". */
static size_t issuers_named(const omc_cert *const *c[2], const size_t n[2], X509 *x, const uint8_t **first)
{
	const X509_NAME *want = X509_get_issuer_name(x);
	size_t count = 0;
	*first = NULL;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < n[k]; i++) {
			const omc_cert *cand = c[k][i];
			if (X509_NAME_cmp(X509_get_subject_name(cand->x), want) != 0)
				continue;
			if (*first && memcmp(*first, cand->fp, 32) == 0)
				continue;
			if (!*first)
				*first = cand->fp;
			count++;
		}
	return count;
}

/* Remember a verified chain whose path (in ctx) was the only one to build. */
static void memo_put(const uint8_t id[32], X509_STORE_CTX *ctx, const omc_cert *const *chain, size_t n_chain,
		     const omc_cert *const *anchors, size_t n_anchors, size_t anchor)
{
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	int depth = sk_X509_num(path);
	if (depth < 1 || depth > PATH_MAX_LEN || n_chain > REF_ANCHOR || n_anchors > REF_ANCHOR)
		return;
	chain_memo m = {.n_path = (uint8_t)depth, .anchor = (uint8_t)anchor};
	memcpy(m.id, id, 32);
	const omc_cert *const *sets[2] = {chain, anchors};
	const size_t ns[2] = {n_chain, n_anchors};
	const uint8_t *fp[PATH_MAX_LEN];
	for (int d = 0; d < depth; d++) {
		X509 *x = sk_X509_value(path, d);
		bool known = false;
		/* The handles given hold the very X509 objects the path is made of. */
		for (size_t i = 0; i < n_anchors && !known; i++)
			if (anchors[i]->x == x) {
				m.ref[d] = (uint8_t)(REF_ANCHOR | i);
				fp[d] = anchors[i]->fp;
				known = true;
			}
		for (size_t i = 0; i < n_chain && !known; i++)
			if (chain[i]->x == x) {
				m.ref[d] = (uint8_t)i;
				fp[d] = chain[i]->fp;
				known = true;
			}
		if (!known)
			return;
	}
	for (int d = 0; d < depth; d++) {
		const uint8_t *only = NULL;
		size_t n = issuers_named(sets, ns, sk_X509_value(path, d), &only);
		bool unique;
		if (d + 1 < depth)
			unique = n == 1 && memcmp(only, fp[d + 1], 32) == 0;
		else /* the anchor: self-issued, or issued by none given */
			unique = n == 0 || (n == 1 && memcmp(only, fp[d], 32) == 0);
		if (!unique)
			return;
	}
	pthread_mutex_lock(&memo.lock);
	size_t v = 0;
	bool there = false;
	for (size_t i = 0; i < OMC_CHAIN_CACHE_N && !there; i++) {
		if (memo.m[i].n_path && memcmp(memo.m[i].id, id, 32) == 0)
			there = true;
		else if (memo.m[v].n_path && (!memo.m[i].n_path || memo.m[i].used < memo.m[v].used))
			v = i;
	}
	if (!there) {
		m.used = ++memo.tick;
		memo.m[v] = m;
	}
	pthread_mutex_unlock(&memo.lock);
}

/* --- verification ------------------------------------------------------------------------- */

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
	uint8_t id[32];
	bool memo_ok = memo_on() && chain_id(id, chain, n_chain, anchors, n_anchors);
	if (memo_ok && memo_hit(id, chain, anchors, now, anchor))
		return OMC_OK;

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
			if (memo_ok)
				memo_put(id, ctx, chain, n_chain, anchors, n_anchors, i);
			ERR_clear_error();
			return OMC_OK;
		}
	}
	OMC_LOG_ERR("proto", "verified path ends at no given anchor");
	OMC_BAIL(OMC_ERR_BUG);
}
