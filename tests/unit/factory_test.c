/* The factory with its PKI loaded once (omc_factory_open): devices made
 * with one omc_factory, from several threads at once, are each a TRE of
 * its own that opens and attests; a bad PKI directory is refused. The
 * attestation key in the sealed identity is omc_key_seal under K_keys
 * (no password-based derivation at every open), and an identity of the
 * earlier form (an encrypted PKCS#8 PEM) still opens to the same key.
 * covers: TRE-1, SEC-6, EVAL-8 */
#include <pthread.h>

#include "tre_fixture.h"
#include "tre/tre_internal.h"

#define THREADS 4

typedef struct made {
	omc_memfs *fs;
	omc_store_io *io, *sio;
	char tre_id[64];
	omc_err e;
	const omc_factory *f;
} made;

static void made_free(made *m)
{
	omc_store_io_mem_free(m->io);
	omc_store_io_mem_free(m->sio);
	omc_memfs_free(m->fs);
	memset(m, 0, sizeof *m);
}

static void *make_one(void *arg)
{
	made *m = arg;
	m->e = omc_memfs_new(&m->fs);
	if (m->e == OMC_OK)
		m->e = omc_store_io_mem_new(&m->io, m->fs, "");
	if (m->e == OMC_OK)
		m->e = omc_store_io_mem_new(&m->sio, m->fs, "store/");
	char *rep = NULL;
	omc_factory_device_opts o = {.factory = m->f, .io = m->io, .store_io = m->sio};
	if (m->e == OMC_OK)
		m->e = omc_factory_device(&o, &rep);
	json_error_t je;
	json_t *j = rep ? json_loads(rep, 0, &je) : NULL;
	const char *id = json_string_value(json_object_get(j, "tre_id"));
	snprintf(m->tre_id, sizeof m->tre_id, "%s", id ? id : "");
	json_decref(j);
	omc_free(rep);
	return NULL;
}

/* Opens, and its evidence is signed by the attestation key. */
static void expect_opens(made *m, uint8_t thumb[32])
{
	omc_tre *t = NULL;
	omc_tre_opts to = {.io = m->io, .store_io = m->sio};
	omc_err e = omc_tre_open(&t, &to);
	if (e != OMC_OK)
		fail_msg("omc_tre_open: %s at %s", omc_err_name(e), omc_err_source());
	uint8_t nonce[32] = {1, 2, 3};
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, sizeof nonce, &ev), OMC_OK);
	assert_non_null(ev);
	omc_free(ev);
	if (thumb)
		assert_int_equal(omc_key_thumbprint(thumb, t->att_key), OMC_OK);
	omc_tre_close(t);
}

static void test_factory_shared(void **state)
{
	(void)state;
	omc_factory *f = NULL;
	assert_int_equal(omc_factory_open(&f, tf_pki()), OMC_OK);
	made m[THREADS];
	memset(m, 0, sizeof m);
	pthread_t th[THREADS];
	for (size_t i = 0; i < THREADS; i++) {
		m[i].f = f;
		assert_int_equal(pthread_create(&th[i], NULL, make_one, &m[i]), 0);
	}
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < THREADS; i++) {
		if (m[i].e != OMC_OK)
			fail_msg("device %zu: %s", i, omc_err_name(m[i].e));
		assert_true(strncmp(m[i].tre_id, "tre-", 4) == 0);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(m[i].tre_id, m[k].tre_id);
		expect_opens(&m[i], NULL);
		made_free(&m[i]);
	}
	omc_factory_free(f);
	omc_factory_free(NULL);

	/* Neither a PKI directory nor a factory; a directory without a PKI. */
	char *rep = NULL;
	omc_factory_device_opts none = {0};
	assert_int_equal(omc_factory_device(&none, &rep), OMC_ERR_BAD_ARG);
	assert_int_not_equal(omc_factory_open(&f, "/nonexistent/pki"), OMC_OK);
	assert_null(f);
}

/* The identity's JSON, K_keys and K_ident of a software-backend device. */
static json_t *identity_of(made *m, uint8_t k_ident[32], uint8_t k_keys[32])
{
	uint8_t *drk = NULL, *sealed = NULL, *pt = NULL;
	size_t dl = 0, sl = 0, pl = 0;
	assert_int_equal(m->io->read(m->io->ctx, "device.key", &drk, &dl), OMC_OK);
	assert_int_equal(dl, 32);
	assert_int_equal(omc_tre_hkdf(k_ident, drk, OMC_TRE_LABEL_IDENTITY), OMC_OK);
	assert_int_equal(omc_tre_hkdf(k_keys, drk, OMC_TRE_LABEL_KEYS), OMC_OK);
	omc_free(drk);
	assert_int_equal(m->io->read(m->io->ctx, "identity.sealed", &sealed, &sl), OMC_OK);
	assert_int_equal(omc_tre_unseal(&pt, &pl, k_ident, OMC_TRE_IDENTITY_MAGIC, sealed, sl), OMC_OK);
	omc_free(sealed);
	json_error_t je;
	json_t *o = json_loadb((const char *)pt, pl, 0, &je);
	omc_free(pt);
	assert_non_null(o);
	return o;
}

/* Seal o (consumed) as the device's identity again. */
static void identity_put(made *m, json_t *o, const uint8_t k_ident[32])
{
	char *ident = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	assert_non_null(ident);
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	assert_int_equal(omc_tre_seal(&sealed, &sealed_len, k_ident, OMC_TRE_IDENTITY_MAGIC, (const uint8_t *)ident,
				      strlen(ident)),
			 OMC_OK);
	omc_free(ident);
	assert_int_equal(omc_tre_write_file(m->io, "identity.sealed", sealed, sealed_len), OMC_OK);
	omc_free(sealed);
}

static void test_att_key_forms(void **state)
{
	(void)state;
	made m;
	memset(&m, 0, sizeof m);
	make_one(&m); /* neither a factory nor a PKI directory: refused */
	assert_int_equal(m.e, OMC_ERR_BAD_ARG);
	made_free(&m);
	omc_factory *f = NULL;
	assert_int_equal(omc_factory_open(&f, tf_pki()), OMC_OK);
	m.f = f;
	make_one(&m);
	assert_int_equal(m.e, OMC_OK);
	uint8_t thumb_new[32], thumb_old[32], k_ident[32], k_keys[32];
	expect_opens(&m, thumb_new);

	/* The new form: base64url of the 130-byte seal, no PEM. */
	json_t *o = identity_of(&m, k_ident, k_keys);
	const char *ak = json_string_value(json_object_get(o, "att_key"));
	assert_non_null(ak);
	assert_null(strstr(ak, "-----BEGIN"));
	uint8_t seal[192];
	size_t sl = 0;
	assert_int_equal(omc_b64_decode(seal, sizeof seal, &sl, ak, strlen(ak), OMC_B64_URL), OMC_OK);
	assert_int_equal(sl, 130);

	/* The earlier form: the same key as encrypted PKCS#8 under K_keys. */
	omc_key *k = NULL;
	assert_int_equal(omc_key_unseal(&k, seal, sl, k_keys), OMC_OK);
	char *pem = NULL;
	size_t pem_len = 0;
	assert_int_equal(omc_key_to_pem(&pem, &pem_len, k, true, k_keys, 32), OMC_OK);
	omc_key_free(k);
	json_object_set_new(o, "att_key", json_stringn(pem, pem_len));
	omc_free(pem);
	identity_put(&m, o, k_ident);
	expect_opens(&m, thumb_old);
	assert_memory_equal(thumb_new, thumb_old, 32);

	/* A seal that does not open is a corrupt identity, not a crash. */
	o = identity_of(&m, k_ident, k_keys);
	json_object_set_new(o, "att_key", json_string("AAAA"));
	identity_put(&m, o, k_ident);
	omc_tre *t = NULL;
	omc_tre_opts to = {.io = m.io, .store_io = m.sio};
	assert_int_equal(omc_tre_open(&t, &to), OMC_ERR_CORRUPT);
	assert_null(t);
	omc_memzero(k_ident, sizeof k_ident);
	omc_memzero(k_keys, sizeof k_keys);
	made_free(&m);
	omc_factory_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_factory_shared),
		cmocka_unit_test(test_att_key_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
