/* The header cache (proto_internal.h): JWS protected headers that were
 * part of a JWS that verified (omc_jws_verify_x5c), by their exact bytes.
 * What jws.c reads from a header (alg, crit, b64, typ, cty, kid and the
 * x5c certificates) is a function of those bytes alone, so parsing them
 * again can only give the same result: a hit skips the base64url, the
 * JSON, the x5c's base64 and the certificates' parse-cache lookups, and
 * nothing else (the chain, its validity at the time, the leaf's keyUsage
 * and the signature are checked by the caller on every call, hit or miss).
 * A hit compares every byte of the segment, not a digest of it. Only
 * headers of JWSs that verified are put here; what was refused runs in full
 * every time. Headers are public data (certificates, algorithm, type), and
 * an MCIM package's is not put here all the same (jws.c). Nothing here
 * allocates: the segments are kept in fixed slots, the certificates as
 * references (X509_up_ref), so the cache adds no allocation that could fail
 * to the request paths (tests/faults); thread-safe. */
#include <pthread.h>
#include <string.h>

#include "proto/proto_internal.h"

typedef struct hdr_slot {
	uint64_t used; /* 0: empty */
	size_t len;
	char seg[OMC_HDR_CACHE_SEG_MAX];
	char typ[OMC_HDR_TYP_CAP];
	bool has_typ;
	size_t n_x5c;
	omc_cert x5c[OMC_X5C_MAX]; /* x: one reference of the cache's own */
} hdr_slot;

static struct {
	pthread_mutex_t lock;
	uint64_t tick;
	hdr_slot e[OMC_HDR_CACHE_N];
#ifdef OMC_TEST_HOOKS
	unsigned long hits;
#endif
} hdr = {.lock = PTHREAD_MUTEX_INITIALIZER};

#ifdef OMC_TEST_HOOKS
#define memo_on() omc_test_proto_cache_on()
#else
#define memo_on() true
#endif

static hdr_slot *find(const char *seg, size_t len)
{
	for (size_t i = 0; i < OMC_HDR_CACHE_N; i++)
		if (hdr.e[i].used && hdr.e[i].len == len && memcmp(hdr.e[i].seg, seg, len) == 0)
			return &hdr.e[i];
	return NULL;
}

static void slot_release(hdr_slot *s, X509 *drop[OMC_STATIC_LEN(OMC_X5C_MAX)], size_t *n_drop)
{
	for (size_t i = 0; i < s->n_x5c; i++)
		drop[(*n_drop)++] = s->x5c[i].x;
	s->n_x5c = 0;
	s->used = 0;
}

omc_err omc_proto_hdr_memo_get(bool *hit, omc_proto_hdr_memo *out, const char *seg, size_t len)
{
	*hit = false;
	if (!memo_on() || len > OMC_HDR_CACHE_SEG_MAX)
		return OMC_OK;
	omc_cert refs[OMC_X5C_MAX];
	size_t n = 0;
	pthread_mutex_lock(&hdr.lock);
	hdr_slot *s = find(seg, len);
	if (s) {
		s->used = ++hdr.tick;
		*hit = true;
#ifdef OMC_TEST_HOOKS
		hdr.hits++;
#endif
		if (out) {
			memcpy(out->typ, s->typ, sizeof out->typ);
			out->has_typ = s->has_typ;
			/* References taken under the lock: an eviction after it
			 * only drops the cache's own. */
			for (; n < s->n_x5c && X509_up_ref(s->x5c[n].x) == 1; n++)
				refs[n] = s->x5c[n];
			if (n < s->n_x5c)
				*hit = false;
		}
	}
	pthread_mutex_unlock(&hdr.lock);
	if (!out || !*hit) {
		for (size_t i = 0; i < n; i++)
			X509_free(refs[i].x);
		ERR_clear_error();
		return OMC_OK;
	}
	/* The caller's own handles, as omc_proto_cert_parse_der gives them. */
	omc_err e = OMC_OK;
	out->n_x5c = 0;
	for (size_t i = 0; i < n; i++) {
		if (e == OMC_OK && (e = omc_cert_dup(&out->x5c[i], &refs[i])) == OMC_OK)
			out->n_x5c = i + 1;
		X509_free(refs[i].x);
	}
	if (e != OMC_OK) {
		for (size_t i = 0; i < out->n_x5c; i++) {
			omc_cert_free(out->x5c[i]);
			out->x5c[i] = NULL;
		}
		out->n_x5c = 0;
		*hit = false;
	}
	return e;
}

void omc_proto_hdr_memo_put(const char *seg, size_t len, const char *typ, const omc_cert *const *x5c, size_t n_x5c)
{
	if (!memo_on() || len > OMC_HDR_CACHE_SEG_MAX || n_x5c > OMC_X5C_MAX ||
	    (typ && strlen(typ) >= OMC_HDR_TYP_CAP))
		return;
	omc_cert refs[OMC_X5C_MAX];
	size_t n = 0;
	for (; n < n_x5c && X509_up_ref(x5c[n]->x) == 1; n++)
		refs[n] = *x5c[n];
	X509 *drop[2 * OMC_X5C_MAX];
	size_t n_drop = 0;
	if (n < n_x5c) {
		for (size_t i = 0; i < n; i++)
			drop[n_drop++] = refs[i].x;
	} else {
		pthread_mutex_lock(&hdr.lock);
		hdr_slot *s = find(seg, len);
		if (!s) {
			s = &hdr.e[0]; /* the least recently used (an empty one has used 0) */
			for (size_t i = 1; i < OMC_HDR_CACHE_N && s->used; i++)
				if (hdr.e[i].used < s->used)
					s = &hdr.e[i];
			slot_release(s, drop, &n_drop);
			memcpy(s->seg, seg, len);
			s->len = len;
			s->has_typ = typ != NULL;
			memset(s->typ, 0, sizeof s->typ);
			if (typ)
				memcpy(s->typ, typ, strlen(typ));
			for (size_t i = 0; i < n; i++)
				s->x5c[i] = refs[i];
			s->n_x5c = n;
			n = 0; /* the slot holds them now */
		}
		s->used = ++hdr.tick;
		pthread_mutex_unlock(&hdr.lock);
		for (size_t i = 0; i < n; i++) /* it was there already */
			drop[n_drop++] = refs[i].x;
	}
	for (size_t i = 0; i < n_drop; i++)
		X509_free(drop[i]);
	ERR_clear_error();
}

void omc_proto_hdr_cache_clear(void)
{
	X509 *drop[OMC_X5C_MAX];
	for (size_t i = 0; i < OMC_HDR_CACHE_N; i++) {
		size_t n_drop = 0;
		pthread_mutex_lock(&hdr.lock);
		slot_release(&hdr.e[i], drop, &n_drop);
		pthread_mutex_unlock(&hdr.lock);
		for (size_t j = 0; j < n_drop; j++)
			X509_free(drop[j]);
	}
}

#ifdef OMC_TEST_HOOKS
unsigned long omc_test_hdr_cache_hits(void)
{
	pthread_mutex_lock(&hdr.lock);
	unsigned long n = hdr.hits;
	pthread_mutex_unlock(&hdr.lock);
	return n;
}
#endif
