/* omc_proto_init: jansson's, cjose's and OpenSSL's allocations go through
 * omc_alloc, omc_realloc and omc_free, so that every block they free (JSON
 * strings, JOSE headers and plaintexts, content-encryption keys, the
 * temporary BIGNUMs cjose makes of a private scalar) is wiped first.
 *
 * The order matters, and is why this also runs as a constructor, when the
 * object file is loaded and before main():
 *  - the switch is process-wide, and a block that jansson malloc'd before it
 *    must never reach omc_free after it;
 *  - cjose_set_alloc_funcs() passes the functions on to OpenSSL
 *    (CRYPTO_set_mem_functions), which OpenSSL 3 accepts only before its
 *    first allocation, and refuses silently after it. If something in the
 *    process allocated through OpenSSL before this ran (a program that
 *    dlopen()s openmcim late), OpenSSL keeps its own allocator: everything
 *    still works, and OpenSSL still cleanses its own key material
 *    (BN_clear_free, OPENSSL_clear_free), but its other blocks are freed
 *    unwiped. omc_proto_ossl_routed() tells which case holds.
 * OpenSSL gets its own three forwarders to omc_alloc, omc_realloc and
 * omc_free, so that the test archive can hold its allocation-failure hook
 * while OpenSSL allocates: OpenSSL absorbs some failures (its method and
 * provider caches simply do not cache) and reports others as errors that do
 * not say "out of memory", so a failure injected there tests OpenSSL, not
 * openmcim. Every other allocation (ours, jansson's writers, cjose's) can be
 * made to fail. */
#include <pthread.h>

#include "proto/proto_internal.h"

static pthread_once_t proto_once = PTHREAD_ONCE_INIT;
static bool ossl_routed;

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(true);
#endif
	void *p = omc_alloc(n);
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(false);
#endif
	return p;
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(true);
#endif
	void *q = omc_realloc(p, n);
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(false);
#endif
	return q;
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	omc_free(p);
}

static void proto_init_once(void)
{
	json_set_alloc_funcs(omc_alloc, omc_free);
	cjose_set_alloc_funcs(omc_alloc, omc_realloc, omc_free);
	(void)CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
	CRYPTO_malloc_fn m = NULL;
	CRYPTO_realloc_fn r = NULL;
	CRYPTO_free_fn f = NULL;
	CRYPTO_get_mem_functions(&m, &r, &f);
	ossl_routed = m == ossl_malloc;
	if (!ossl_routed)
		OMC_LOG_INF("proto", "OpenSSL had allocated before openmcim loaded: its blocks are not wiped on release");
}

void omc_proto_init(void)
{
	(void)pthread_once(&proto_once, proto_init_once);
}

void omc_json_free(char *s)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	json_get_alloc_funcs(&m, &f);
	if (s && f)
		f(s);
}

bool omc_proto_ossl_routed(void)
{
	omc_proto_init();
	return ossl_routed;
}

__attribute__((constructor)) static void proto_init_at_load(void)
{
	omc_proto_init();
}
