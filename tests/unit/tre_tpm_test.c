/* The TPM 2.0 backend on a swtpm of its own (docs/tpm.md): the sealed
 * device root key and its PCR policy, the NV anti-rollback device, lockdown
 * across a reboot, power loss of the TPM and of the TRE process, and no
 * transient object or session left loaded after any of it (the rest of the
 * TRE suite runs on this backend as the *_tpm ctest entries).
 * covers: SEC-2, SEC-5, TRE-2, TRE-4, TRE-9 */
#include "tre_fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tre/tpm_internal.h"

static const omc_tre_caller admin = {.kind = OMC_ACTOR_USER, .name = "admin"};

static void cfg(omc_tpm_cfg *c, const tf_tpm *t)
{
	assert_int_equal(omc_tpm_cfg_init(c, t->tcti, 0, TF_TPM_PCR), OMC_OK);
}

static void assert_none_loaded(const tf_tpm *t)
{
	assert_int_equal(tf_tpm_loaded(t), 0);
}

/* A device of the fixture on a swtpm of its own. */
static void tpm_dev_make(tf_dev *d)
{
	setenv("OMC_TEST_TPM", "1", 1);
	tf_dev_make(d, NULL, NULL);
	assert_true(d->tpm.pid > 0);
}

/* covers: SEC-2, TRE-2 (the root key only in the TPM's keeping) */
static void test_seal_unseal(void **state)
{
	(void)state;
	tf_tpm t;
	tf_tpm_start(&t);
	omc_tpm_cfg c;
	cfg(&c, &t);
	uint8_t drk[32], back[32];
	tl_rand(drk, sizeof drk);
	uint8_t *blob = NULL;
	size_t len = 0;
	assert_int_equal(omc_tpm_seal(&c, &blob, &len, drk), OMC_OK);
	assert_none_loaded(&t);
	assert_true(len > 100 && len <= OMC_TPM_BLOB_MAX);
	/* The blob does not hold the key in the clear. */
	for (size_t i = 0; i + 32 <= len; i++)
		assert_false(memcmp(blob + i, drk, 32) == 0);
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_OK);
	assert_memory_equal(back, drk, 32);
	assert_none_loaded(&t);

	/* A flipped bit in the private part: refused, nothing left loaded. */
	blob[len - 5] ^= 0x10;
	memset(back, 0xa5, sizeof back);
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_ERR_CORRUPT);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(back[i], 0); /* wiped on failure */
	assert_none_loaded(&t);
	blob[len - 5] ^= 0x10;
	/* Bad framing. */
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len - 1), OMC_ERR_CORRUPT);
	blob[0] ^= 1;
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_ERR_CORRUPT);
	blob[0] ^= 1;

	/* The header names another PCR than the one it was sealed to: the
	 * policy fails; another NV index: the sealed copy disagrees. */
	blob[12] = 23;
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_ERR_LOCKDOWN);
	assert_none_loaded(&t);
	blob[12] = TF_TPM_PCR;
	blob[11] ^= 0x04;
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_ERR_CORRUPT);
	assert_none_loaded(&t);
	blob[11] ^= 0x04;
	omc_store_ard *ard = NULL;
	assert_int_equal(omc_tpm_ard_new(&ard, &c, true), OMC_OK);
	assert_int_equal(ard->set_flags(ard->ctx, OMC_STORE_FLAG_LOCKDOWN), OMC_OK);
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_ERR_LOCKDOWN);
	assert_none_loaded(&t);
	/* The PCR back at its boot value: it unseals again. */
	assert_int_equal(omc_tpm_pcr_reset(&c), OMC_OK);
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_OK);
	assert_memory_equal(back, drk, 32);
	omc_tpm_ard_free(ard);
	omc_free(blob);
	assert_none_loaded(&t);
	tf_tpm_stop(&t);
}

/* Whether the n bytes of needle are anywhere in the file. */
static bool file_has(const char *path, const uint8_t *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 20];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(len > 0 && len < sizeof buf);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return true;
	return false;
}

/* Every byte to and from the TPM, recorded by the pcap TCTI: the root key
 * is in none of them (salted sessions encrypt it both ways), while the
 * recording does hold what is sent in the clear (the NV index numbers).
 * covers: SEC-2 */
static void test_no_key_on_the_wire(void **state)
{
	(void)state;
	tf_tpm t;
	tf_tpm_start(&t);
	char pcap[96], tcti[192];
	snprintf(pcap, sizeof pcap, "%s/wire.pcap", t.dir);
	snprintf(tcti, sizeof tcti, "pcap:%s", t.tcti);
	setenv("TCTI_PCAP_FILE", pcap, 1);
	omc_tpm_cfg c;
	assert_int_equal(omc_tpm_cfg_init(&c, tcti, 0, TF_TPM_PCR), OMC_OK);
	uint8_t drk[32], back[32], *blob = NULL;
	size_t len = 0;
	tl_rand(drk, sizeof drk);
	assert_int_equal(omc_tpm_seal(&c, &blob, &len, drk), OMC_OK);
	assert_int_equal(omc_tpm_unseal(&c, back, blob, len), OMC_OK);
	assert_memory_equal(back, drk, 32);
	omc_store_ard *ard = NULL;
	assert_int_equal(omc_tpm_ard_new(&ard, &c, true), OMC_OK);
	omc_tpm_ard_free(ard);
	unsetenv("TCTI_PCAP_FILE");
	assert_false(file_has(pcap, drk, 16));
	assert_false(file_has(pcap, drk + 16, 16));
	const uint8_t nv[4] = {0x01, 0x50, 0x00, 0x20};
	assert_true(file_has(pcap, nv, sizeof nv));
	omc_free(blob);
	assert_none_loaded(&t);
	tf_tpm_stop(&t);
}

static void test_cfg(void **state)
{
	(void)state;
	omc_tpm_cfg c;
	assert_int_equal(omc_tpm_cfg_init(&c, "device:/dev/tpmrm0", 0, 0), OMC_OK);
	assert_int_equal(c.nv, OMC_TRE_TPM_NV_DEFAULT);
	assert_int_equal(c.pcr, OMC_TRE_TPM_PCR_DEFAULT);
	assert_int_equal(omc_tpm_cfg_init(&c, "device:/dev/tpmrm0", 0x01c00002u, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_tpm_cfg_init(&c, "device:/dev/tpmrm0", 0x00ffffffu, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_tpm_cfg_init(&c, "device:/dev/tpmrm0", 0, 24), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_tpm_cfg_init(&c, "", 0, 0), OMC_ERR_BAD_ARG);
	char big[OMC_TPM_TCTI_MAX + 1];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(omc_tpm_cfg_init(&c, big, 0, 0), OMC_ERR_BAD_ARG);
	/* No TPM there: an I/O error, not a crash. */
	assert_int_equal(omc_tpm_cfg_init(&c, "swtpm:path=/nonexistent/tpm.sock", 0, 16), OMC_OK);
	uint8_t drk[32] = {0}, *blob = NULL;
	size_t len;
	assert_int_equal(omc_tpm_seal(&c, &blob, &len, drk), OMC_ERR_IO);
	assert_null(blob);
}

/* The NV anti-rollback device. covers: TRE-9, SEC-5 */
static void test_ard(void **state)
{
	(void)state;
	tf_tpm t;
	tf_tpm_start(&t);
	omc_tpm_cfg c;
	cfg(&c, &t);
	omc_store_ard *ard = NULL;
	assert_int_equal(omc_tpm_ard_new(&ard, &c, false), OMC_OK);
	uint64_t ctr = 99;
	uint32_t fl = 99;
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_ERR_NOT_FOUND); /* not made yet */
	omc_tpm_ard_free(ard);
	assert_int_equal(omc_tpm_ard_new(&ard, &c, true), OMC_OK);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(ctr, 0);
	assert_int_equal(fl, 0);
	assert_int_equal(ard->advance(ard->ctx, 1), OMC_OK);
	assert_int_equal(ard->advance(ard->ctx, 1), OMC_ERR_BAD_ARG); /* never back, never in place */
	assert_int_equal(ard->advance(ard->ctx, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(ard->advance(ard->ctx, 3), OMC_OK);
	assert_int_equal(ard->advance(ard->ctx, 1000), OMC_ERR_BAD_ARG); /* bounded step */
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(ctr, 3);
	assert_int_equal(ard->set_flags(ard->ctx, 0x4), OMC_OK);
	assert_int_equal(ard->set_flags(ard->ctx, 0x8), OMC_OK);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(fl, 0xc);
	assert_int_equal(ard->clear_flags(ard->ctx, 0x4), OMC_OK);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(fl, 0x8);
	assert_int_equal(ctr, 3);

	/* NV is kept over a reboot and a power cut, the counter with it. */
	tf_tpm_poweroff(&t);
	tf_tpm_restart(&t);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(ctr, 3);
	assert_int_equal(fl, 0x8);
	tf_tpm_kill(&t);
	tf_tpm_restart(&t);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_OK);
	assert_int_equal(ctr, 3);

	/* A creation cut short (flags index not made yet) reads as no device;
	 * a device whose flags index went missing reads as corrupt. */
	assert_int_equal(omc_tpm_nv_clear(&c), OMC_OK);
	assert_int_equal(ard->read(ard->ctx, &ctr, &fl), OMC_ERR_NOT_FOUND);
	assert_none_loaded(&t);
	omc_tpm_ard_free(ard);
	tf_tpm_stop(&t);
}

/* A counter made again beside an existing store (the indices undefined
 * and defined anew: what an attacker with owner authorisation can do)
 * starts from 0 against a store further on: the store is a rollback and
 * the TRE locks down. covers: TRE-4, TRE-9 */
static void test_recreated_counter_is_rollback(void **state)
{
	(void)state;
	tf_dev d;
	tpm_dev_make(&d);
	omc_tre *t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	assert_int_equal(omc_tre_user_add(t, &admin, "admin", "admin", "493817", 6), OMC_OK);
	omc_tre_close(t);
	omc_tpm_cfg c;
	cfg(&c, &d.tpm);
	omc_store_ard *ard = NULL;
	assert_int_equal(omc_tpm_ard_new(&ard, &c, true), OMC_OK);
	omc_tpm_ard_free(ard);
	t = tf_open(&d);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_int_equal(st.state, OMC_TRE_LOCKDOWN);
	assert_non_null(strstr(st.lockdown_reason, "rollback"));
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* A lockdown extends the sealing PCR: in that boot the root key no longer
 * unseals (not even a new process opens the TRE); after a reboot it does,
 * and the NV flag brings the lockdown back. covers: TRE-4, SEC-5 */
static void test_lockdown_holds_over_reboot(void **state)
{
	(void)state;
	tf_dev d;
	tpm_dev_make(&d);
	omc_tre *t = tf_open(&d);
	assert_int_equal(omc_tre_tamper(t, "case opened"), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	/* The running TRE still attests: its keys were unsealed at boot. */
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_free(ev);
	omc_tre_close(t);
	assert_none_loaded(&d.tpm);

	/* Same boot: no open at all. */
	omc_tre_opts o = {.io = d.io, .store_io = d.store_io, .tpm = d.tpm.tcti};
	t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_ERR_LOCKDOWN);
	assert_null(t);
	assert_none_loaded(&d.tpm);

	/* A reboot: TPM2_Shutdown, the swtpm stopped and started on its state. */
	tf_tpm_poweroff(&d.tpm);
	tf_tpm_restart(&d.tpm);
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_close(t);
	/* A power cut of the TPM instead: the same. */
	tf_tpm_kill(&d.tpm);
	tf_tpm_restart(&d.tpm);
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Without a TCTI from the caller the TRE takes its tpm.conf; without that
 * it is a software device, and a TPM device has no device.key. */
static void test_backend_from_conf(void **state)
{
	(void)state;
	tf_dev d;
	tpm_dev_make(&d);
	omc_tre_opts o = {.io = d.io, .store_io = d.store_io};
	omc_tre *t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	omc_tre_close(t);
	t = NULL;
	uint8_t *conf;
	size_t conf_len;
	assert_int_equal(d.io->read(d.io->ctx, OMC_TPM_CONF, &conf, &conf_len), OMC_OK);
	assert_int_equal(conf_len, strlen(d.tpm.tcti));
	assert_memory_equal(conf, d.tpm.tcti, conf_len);
	omc_free(conf);
	assert_int_equal(d.io->unlink(d.io->ctx, OMC_TPM_CONF), OMC_OK);
	assert_int_equal(omc_tre_open(&t, &o), OMC_ERR_NOT_FOUND); /* no device.key */
	assert_null(t);
	/* A tpm.conf that is not one line of TCTI. */
	assert_int_equal(d.io->pwrite(d.io->ctx, OMC_TPM_CONF, 0, (const uint8_t *)"a\nb", 3), OMC_OK);
	assert_int_equal(omc_tre_open(&t, &o), OMC_ERR_CORRUPT);
	assert_null(t);
	tf_dev_free(&d);
}

/* --- power loss of the TRE process (kill -9), on POSIX files ------------------------ */

static void make_posix_device(char *dir, size_t cap, const tf_tpm *tpm)
{
	snprintf(dir, cap, "/tmp/omc-tpmdev-XXXXXX");
	assert_non_null(mkdtemp(dir));
	omc_factory_device_opts fo = {.pki_dir = tf_pki(), .dir = dir, .tpm = tpm->tcti, .tpm_pcr = TF_TPM_PCR};
	/* covers: SEC-2 (the root key never in a file in the clear) */
	char *rep = NULL;
	assert_int_equal(omc_factory_device(&fo, &rep), OMC_OK);
	omc_free(rep);
	char path[128];
	snprintf(path, sizeof path, "%s/device.key", dir);
	assert_int_not_equal(access(path, F_OK), 0); /* no plaintext root key */
	snprintf(path, sizeof path, "%s/" OMC_TPM_FILE, dir);
	assert_int_equal(access(path, F_OK), 0);
}

/* The child adds users, one commit each, telling the parent after each;
 * the parent kills it with SIGKILL after `acks` of them. */
static void child_commits(const char *dir, const char *tcti, int fd)
{
	omc_tre_opts o = {.dir = dir, .tpm = tcti};
	omc_tre *t = NULL;
	if (omc_tre_open(&t, &o) != OMC_OK)
		_exit(2);
	omc_err e = omc_tre_user_add(t, &admin, "admin", "admin", "493817", 6);
	if (e != OMC_OK && e != OMC_ERR_EXISTS) {
		fprintf(stderr, "user_add: %s at %s\n", omc_err_name(e), omc_err_source());
		_exit(3);
	}
	for (unsigned i = 0;; i++) {
		char name[16];
		snprintf(name, sizeof name, "u%u", i % 1000);
		if (omc_tre_user_add(t, &admin, name, "user", "493817", 6) != OMC_OK &&
		    omc_tre_user_del(t, &admin, name) != OMC_OK)
			_exit(4);
		if (write(fd, "x", 1) != 1)
			_exit(5);
	}
}

/* covers: TRE-9, SEC-5 (power loss of the process: the next open is clean) */
static void test_tre_killed(void **state)
{
	(void)state;
	tf_tpm tpm;
	tf_tpm_start(&tpm);
	char dir[64];
	make_posix_device(dir, sizeof dir, &tpm);
	assert_none_loaded(&tpm);
	for (int round = 0; round < 3; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_commits(dir, tpm.tcti, p[1]);
		}
		close(p[1]);
		char b;
		int st, got = 1;
		for (int i = 0; i < 2 + round && got == 1; i++)
			got = (int)read(p[0], &b, 1);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st))
			fail_msg("the committing child stopped by itself (exit %d)", WEXITSTATUS(st));
		close(p[0]);
		/* The reboot of the device: the process and the TPM's PCRs. */
		omc_tpm_cfg c;
		cfg(&c, &tpm);
		assert_int_equal(omc_tpm_pcr_reset(&c), OMC_OK);
		omc_tre_opts o = {.dir = dir, .tpm = tpm.tcti, .count_boot = true};
		omc_tre *t = NULL;
		assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
		assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
		uint64_t n = 0;
		assert_int_equal(omc_tre_audit_verify(t, &n), OMC_OK);
		omc_tre_status s;
		assert_int_equal(omc_tre_get_status(t, &s), OMC_OK);
		assert_true(s.generation >= (uint64_t)(3 + round));
		omc_tre_close(t);
		/* The killed process held nothing loaded between its commands. */
		assert_none_loaded(&tpm);
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	tf_tpm_stop(&tpm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg),
		cmocka_unit_test(test_seal_unseal),
		cmocka_unit_test(test_no_key_on_the_wire),
		cmocka_unit_test(test_ard),
		cmocka_unit_test(test_recreated_counter_is_rollback),
		cmocka_unit_test(test_lockdown_holds_over_reboot),
		cmocka_unit_test(test_backend_from_conf),
		cmocka_unit_test(test_tre_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
