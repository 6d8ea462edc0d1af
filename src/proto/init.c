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
 * In the test archive, omc_test_alloc_fail_at() therefore counts OpenSSL's
 * allocations too. */
#include <pthread.h>

#include "proto/proto_internal.h"

static pthread_once_t proto_once = PTHREAD_ONCE_INIT;
static bool ossl_routed;

static void proto_init_once(void)
{
	json_set_alloc_funcs(omc_alloc, omc_free);
	cjose_set_alloc_funcs(omc_alloc, omc_realloc, omc_free);
	CRYPTO_malloc_fn m = NULL;
	CRYPTO_realloc_fn r = NULL;
	CRYPTO_free_fn f = NULL;
	CRYPTO_get_mem_functions(&m, &r, &f);
	ossl_routed = m == cjose_get_alloc3();
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
