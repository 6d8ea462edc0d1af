/* The signature cache (proto_internal.h): ES256 signatures that verified,
 * by the SHA-256 of the signer's certificate, the signature and the
 * signing input. A verification is a function of exactly those bytes (the
 * certificate's DER holds the key), so verifying them again can only
 * verify again: a hit skips the ECDSA arithmetic and nothing else. The
 * path of the certificate, its validity at the time and its keyUsage are
 * checked by the caller on every call (omc_jws_verify_x5c), hit or miss.
 * Only what verified is put here; refusals run in full every time. The
 * entries are digests of public data (an MCIM package, whose payload holds
 * K and OPc, is never put here: jws.c); thread-safe. */
#include <pthread.h>
#include <string.h>

#include "proto/proto_internal.h"

static const char sig_tag[] = "openmcim es256 verified v1";

static struct {
	pthread_mutex_t lock;
	uint64_t tick;
	struct {
		uint8_t id[32];
		uint64_t used; /* 0: empty */
	} e[OMC_SIG_CACHE_N];
#ifdef OMC_TEST_HOOKS
	unsigned long hits;
#endif
} sig = {.lock = PTHREAD_MUTEX_INITIALIZER};

#ifdef OMC_TEST_HOOKS
#define memo_on() omc_test_proto_cache_on()
#else
#define memo_on() true
#endif

bool omc_proto_sig_id(uint8_t id[32], const uint8_t fp[32], const uint8_t rs[OMC_STATIC_LEN(OMC_ES256_SIG_LEN)],
		      const char *tbs, size_t tbs_len)
{
	OMC_AUTO(EVP_MD_CTX) md = EVP_MD_CTX_new();
	unsigned n = 0;
	uint64_t len = tbs_len;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(md, sig_tag, sizeof sig_tag) == 1 && EVP_DigestUpdate(md, fp, 32) == 1 &&
		  EVP_DigestUpdate(md, rs, OMC_ES256_SIG_LEN) == 1 && EVP_DigestUpdate(md, &len, sizeof len) == 1 &&
		  EVP_DigestUpdate(md, tbs, tbs_len) == 1 && EVP_DigestFinal_ex(md, id, &n) == 1 && n == 32;
	if (!ok)
		ERR_clear_error();
	return ok;
}

bool omc_proto_sig_memo_hit(const uint8_t id[32])
{
	if (!memo_on())
		return false;
	bool found = false;
	pthread_mutex_lock(&sig.lock);
	for (size_t i = 0; i < OMC_SIG_CACHE_N && !found; i++)
		if (sig.e[i].used && memcmp(sig.e[i].id, id, 32) == 0) {
			sig.e[i].used = ++sig.tick;
			found = true;
#ifdef OMC_TEST_HOOKS
			sig.hits++;
#endif
		}
	pthread_mutex_unlock(&sig.lock);
	return found;
}

void omc_proto_sig_memo_put(const uint8_t id[32])
{
	if (!memo_on())
		return;
	pthread_mutex_lock(&sig.lock);
	size_t v = 0; /* the least recently used (an empty one has used 0) */
	for (size_t i = 0; i < OMC_SIG_CACHE_N; i++) {
		if (sig.e[i].used && memcmp(sig.e[i].id, id, 32) == 0) {
			v = i;
			break;
		}
		if (sig.e[i].used < sig.e[v].used)
			v = i;
	}
	memcpy(sig.e[v].id, id, 32);
	sig.e[v].used = ++sig.tick;
	pthread_mutex_unlock(&sig.lock);
}

void omc_proto_sig_cache_clear(void)
{
	pthread_mutex_lock(&sig.lock);
	memset(sig.e, 0, sizeof sig.e);
	pthread_mutex_unlock(&sig.lock);
}

#ifdef OMC_TEST_HOOKS
unsigned long omc_test_sig_cache_hits(void)
{
	pthread_mutex_lock(&sig.lock);
	unsigned long n = sig.hits;
	pthread_mutex_unlock(&sig.lock);
	return n;
}
#endif
