/* A flipped bit anywhere in any of the TRE's own files is found: the TRE
 * refuses to open (no readable identity), locks down, reports a platform
 * anomaly (and refuses MCIM use), or finds its audit log broken. Never
 * does a changed file pass unnoticed. The store's files have their own
 * test (store_tamper_test: every byte that matters, slot by slot); here
 * they are checked through the TRE: a damaged state locks it down.
 * covers: TRE-4, TRE-9, TRE-11, SEC-3, SEC-5, SEC-13, MGT-2 */
#include "tre_fixture.h"

/* What the TRE made of the device; "" if it noticed nothing. */
static const char *verdict(tf_dev *d)
{
	omc_tre_opts o = {.count_boot = true};
	tf_opts(d, &o);
	omc_tre *t = NULL;
	omc_err e = omc_tre_open(&t, &o);
	if (e != OMC_OK) {
		assert_int_equal(e, OMC_ERR_CORRUPT); /* the only refusal to open */
		return "no identity";
	}
	const char *v = "";
	omc_tre_status st;
	uint64_t n = 0;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	if (st.state == OMC_TRE_LOCKDOWN)
		v = "lockdown";
	else if (!st.platform_ok)
		v = "platform anomaly";
	else if (omc_tre_audit_verify(t, &n) != OMC_OK)
		v = "audit broken";
	else {
		omc_tre_mcim_info reg[64];
		size_t k;
		assert_int_equal(omc_tre_registry(t, reg, 64, &k), OMC_OK);
		for (size_t i = 0; i < k; i++)
			if (reg[i].state == OMC_MCIM_BLOCKED)
				v = "MCIM blocked";
	}
	if (!strcmp(v, "platform anomaly")) {
		/* ... and then no operational MCIM is usable (SEC-3); the PCID
		 * is, for provisional connectivity only. */
		uint8_t rand[16] = {1}, autn[16] = {2};
		omc_aka_check_result r;
		omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
		assert_int_equal(omc_tre_aka(t, &agent, "t1", rand, autn, 16, &r), OMC_ERR_TAMPERED);
	}
	omc_tre_close(t);
	return v;
}

static bool is_store_file(const tf_dev *d, const char *path)
{
	size_t bl = strlen(d->base);
	return !strncmp(path + bl, "store/", 6);
}

static void test_every_file(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	/* Enough records for audit.log to exist, and an installed MCIM. */
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1,
			      tf_mcim("t1", "sho1", "001020000000111", "00112233445566778899aabbccddeeff",
				      "ffeeddccbbaa99887766554433221100")));
	for (int i = 0; i < 40; i++) {
		uint8_t nonce[16];
		tl_rand(nonce, 16);
		char *ev = NULL;
		assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
		omc_free(ev);
	}
	omc_tre_close(t);
	omc_memfs_reboot(d.fs);
	tf_image im;
	tf_dev_image_take(&im, &d);
	/* The untouched device is clean. */
	assert_string_equal(verdict(&d), "");
	tf_dev_image_put(&im, &d);

	size_t files = 0, flips = 0;
	bool saw_audit = false;
	for (size_t i = 0; i < im.n; i++) {
		const char *fpath = im.path[i];
		const uint8_t *fdata = im.data[i];
		size_t flen = im.len[i];
		/* tpm.conf (TPM backend) is where the TPM is, not a secret or
		 * state: the fixture names the TPM itself, and a TCTI that is
		 * changed reaches no TPM that unseals device.tpm. */
		if (is_store_file(&d, fpath) || flen == 0 || strstr(fpath, "tpm.conf"))
			continue;
		files++;
		saw_audit = saw_audit || strstr(fpath, "audit.log") != NULL;
		/* First and last byte, and 30 spread between; each bit position
		 * in turn. */
		for (size_t k = 0; k < 32; k++) {
			size_t pos = k == 31 ? flen - 1 : k * flen / 31;
			uint8_t *copy = omc_alloc(flen);
			assert_non_null(copy);
			memcpy(copy, fdata, flen);
			copy[pos] ^= (uint8_t)(1u << (k % 8));
			assert_int_equal(omc_memfs_raw_put(d.fs, fpath, copy, flen), OMC_OK);
			omc_free(copy);
			const char *v = verdict(&d);
			if (!v[0])
				fail_msg("bit %zu of byte %zu of %s changed, and nothing noticed", k % 8, pos, fpath);
			flips++;
			tf_dev_image_put(&im, &d);
		}
	}
	/* device.key, identity.sealed, manifest.jws, two platform files, audit.log */
	assert_true(files >= 6);
	assert_true(saw_audit);
	printf("# %zu flips in %zu files, each one noticed\n", flips, files);

	/* The state object damaged in the active slot: lockdown (TRE-4). */
	omc_tre_status st;
	t = tf_open_ro(&d);
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	omc_tre_close(t);
	tf_dev_image_put(&im, &d);
	char root[64];
	snprintf(root, sizeof root, "%sstore/root.%c", d.base, st.generation % 2 ? 'a' : 'b');
	for (size_t i = 0; i < im.n; i++) {
		if (strcmp(im.path[i], root) != 0)
			continue;
		uint8_t *copy = omc_alloc(im.len[i]);
		assert_non_null(copy);
		memcpy(copy, im.data[i], im.len[i]);
		copy[40] ^= 0x10;
		assert_int_equal(omc_memfs_raw_put(d.fs, root, copy, im.len[i]), OMC_OK);
		omc_free(copy);
	}
	/* One root damaged: the other, older one is valid but behind the
	 * counter: a rollback, and lockdown. */
	assert_string_equal(verdict(&d), "lockdown");
	tf_image_free(&im);
	tf_dev_free(&d);
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
