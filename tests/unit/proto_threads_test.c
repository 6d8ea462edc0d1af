/* src/proto's certificates shared by threads, as a server shares them: its
 * anchors (parsed once, used by every request thread) and the parsed
 * certificate cache (one X509 for every request that carries the same
 * x5c). The first use of such a certificate happens in several threads at
 * once here: path validation reads the key identifiers and extensions
 * OpenSSL decodes into the X509 on first use, which src/proto/cert.c
 * decodes before the X509 is shared. Under TSan (make check-tsan) a
 * certificate decoded lazily shows as a data race in ASN1_STRING_cmp, as
 * server_restart_test once did; in every build each verification must
 * succeed and one of another chain must fail.
 * covers: SEC-8, SEC-9 */
#include "testlib.h"

#include <pthread.h>

#define TYP "omc-test+jws"
#define THREADS 4
#define ROUNDS 4
#define CHAINS 12 /* fresh certificates each time: each a first use */

typedef struct shared {
	pthread_barrier_t go;   /* every thread's first use at once */
	const omc_cert *anchor; /* parsed in the main thread, never used there */
	const char *good;       /* signed under anchor */
	const char *foreign;    /* a chain to another root */
} shared;

static omc_cert *issue(const char *cn, bool ca, const omc_key *subject, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	return tl_cert(cn, NULL, ca, 30, subject, issuer, issuer_key);
}

/* A JWS by a leaf under an intermediate under a new root; *root_der is
 * the root's DER, for a copy nobody has used yet. */
static char *chain_jws(const char *name, uint8_t **root_der, size_t *root_len)
{
	omc_key *rk = tl_key(), *ik = tl_key(), *lk = tl_key();
	omc_cert *root = issue(name, true, rk, NULL, rk);
	omc_cert *inter = issue("Threads Intermediate", true, ik, root, rk);
	omc_cert *leaf = issue("threads.example", false, lk, inter, ik);
	const omc_cert *x5c[] = {leaf, inter};
	char *jws = NULL;
	assert_err(omc_jws_sign(&jws, (const uint8_t *)"{\"n\":1}", 7, lk, x5c, 2, TYP), OMC_OK);
	if (root_der)
		assert_err(omc_cert_to_der(root_der, root_len, root), OMC_OK);
	omc_cert_free(leaf);
	omc_cert_free(inter);
	omc_cert_free(root);
	omc_key_free(lk);
	omc_key_free(ik);
	omc_key_free(rk);
	return jws;
}

static void *worker(void *arg)
{
	/* No cmocka assertion here: they are not for other threads. */
	shared *s = arg;
	const omc_cert *anchors[] = {s->anchor};
	(void)pthread_barrier_wait(&s->go);
	for (int i = 0; i < ROUNDS; i++) {
		omc_jws_verified v;
		if (omc_jws_verify_x5c(&v, s->good, strlen(s->good), anchors, 1, TYP, 0) != OMC_OK ||
		    v.len != 7 || memcmp(v.payload, "{\"n\":1}", 7) != 0)
			return (void *)1;
		omc_jws_verified_free(&v);
		if (omc_jws_verify_x5c(&v, s->foreign, strlen(s->foreign), anchors, 1, TYP, 0) !=
		    OMC_ERR_BAD_SIGNATURE)
			return (void *)2;
	}
	return NULL;
}

static void first_use(void)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *good = chain_jws("Threads Root", &der, &len);
	char *foreign = chain_jws("Threads Other Root", NULL, NULL);
	omc_cert *anchor = NULL;
	assert_err(omc_cert_from_der(&anchor, der, len), OMC_OK);
	omc_free(der);
	shared s = {.anchor = anchor, .good = good, .foreign = foreign};
	assert_int_equal(pthread_barrier_init(&s.go, NULL, THREADS), 0);
	pthread_t t[THREADS];
	for (size_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &s), 0);
	for (size_t i = 0; i < THREADS; i++) {
		void *r = NULL;
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	assert_int_equal(pthread_barrier_destroy(&s.go), 0);
	omc_cert_free(anchor);
	omc_free(good);
	omc_free(foreign);
}

static void test_first_use_in_threads(void **state)
{
	(void)state;
	for (int i = 0; i < CHAINS; i++)
		first_use();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_use_in_threads),
	};
	return cmocka_run_group_tests_name("proto_threads", tests, NULL, NULL);
}
