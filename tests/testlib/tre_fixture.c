#include "tre_fixture.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tre/tpm_internal.h"

static char pki_dir[64];

static void pki_cleanup(void)
{
	if (pki_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", pki_dir);
	}
}

const char *tf_pki(void)
{
	if (!pki_dir[0]) {
		snprintf(pki_dir, sizeof pki_dir, "/tmp/omc-pki-XXXXXX");
		if (!mkdtemp(pki_dir))
			fail_msg("mkdtemp failed");
		char sub[96];
		snprintf(sub, sizeof sub, "%s/pki", pki_dir);
		assert_int_equal(omc_factory_pki(sub), OMC_OK);
		memmove(pki_dir + 0, pki_dir, strlen(pki_dir) + 1);
		atexit(pki_cleanup);
	}
	static char sub[96];
	snprintf(sub, sizeof sub, "%s/pki", pki_dir);
	return sub;
}

/* --- swtpm ---------------------------------------------------------------- */

/* Every swtpm still running, stopped at exit (a failed test skips its
 * tf_dev_free); the children also die with the test (PDEATHSIG). */
#define TPM_MAX 64
static int tpm_pids[TPM_MAX];

static void tpm_reap_all(void)
{
	for (size_t i = 0; i < TPM_MAX; i++)
		if (tpm_pids[i] > 0) {
			kill(tpm_pids[i], SIGKILL);
			waitpid(tpm_pids[i], NULL, 0);
			tpm_pids[i] = 0;
		}
}

static void tpm_track(int pid, bool on)
{
	static bool registered;
	if (!registered) {
		atexit(tpm_reap_all);
		registered = true;
	}
	for (size_t i = 0; i < TPM_MAX; i++)
		if (on ? tpm_pids[i] == 0 : tpm_pids[i] == pid) {
			tpm_pids[i] = on ? pid : 0;
			return;
		}
	if (on)
		fail_msg("too many swtpm");
}

bool tf_tpm_backend(void)
{
	const char *v = getenv("OMC_TEST_TPM");
	return v && strcmp(v, "1") == 0;
}

static void tpm_cfg(const tf_tpm *t, omc_tpm_cfg *c)
{
	assert_int_equal(omc_tpm_cfg_init(c, t->tcti, 0, TF_TPM_PCR), OMC_OK);
}

void tf_tpm_restart(tf_tpm *t)
{
	char state[96], sock[96], ctrl[96], log[96];
	snprintf(state, sizeof state, "dir=%s", t->dir);
	snprintf(sock, sizeof sock, "type=unixio,path=%s/tpm.sock", t->dir);
	snprintf(ctrl, sizeof ctrl, "type=unixio,path=%s/tpm.sock.ctrl", t->dir);
	snprintf(log, sizeof log, "file=%s/log,level=1", t->dir);
	char path[96];
	snprintf(path, sizeof path, "%s/tpm.sock", t->dir);
	unlink(path);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", sock, "--ctrl", ctrl,
		       "--flags", "not-need-init,startup-clear", "--log", log, (char *)NULL);
		_exit(127);
	}
	t->pid = (int)pid;
	tpm_track(t->pid, true);
	/* Ready once it answers (a readiness wait, no timing assertion). */
	omc_tpm_cfg c;
	tpm_cfg(t, &c);
	uint32_t n;
	for (int i = 0; i < 500; i++) {
		if (access(path, F_OK) == 0 && omc_tpm_loaded(&c, &n) == OMC_OK)
			return;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			tpm_track(t->pid, false);
			t->pid = 0;
			fail_msg("swtpm exited (is it installed? see %s/log)", t->dir);
		}
		usleep(10000);
	}
	fail_msg("swtpm did not come up");
}

void tf_tpm_start(tf_tpm *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->dir, sizeof t->dir, "/tmp/omc-tpm-XXXXXX");
	if (!mkdtemp(t->dir))
		fail_msg("mkdtemp failed");
	snprintf(t->tcti, sizeof t->tcti, "swtpm:path=%s/tpm.sock", t->dir);
	tf_tpm_restart(t);
}

static void tpm_wait(tf_tpm *t, int sig)
{
	if (t->pid <= 0)
		return;
	kill(t->pid, sig);
	while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
		;
	tpm_track(t->pid, false);
	t->pid = 0;
}

void tf_tpm_poweroff(tf_tpm *t)
{
	omc_tpm_cfg c;
	tpm_cfg(t, &c);
	assert_int_equal(omc_tpm_shutdown(&c), OMC_OK);
	tpm_wait(t, SIGTERM);
}

void tf_tpm_kill(tf_tpm *t)
{
	tpm_wait(t, SIGKILL);
}

void tf_tpm_stop(tf_tpm *t)
{
	if (!t->dir[0])
		return;
	if (t->pid > 0)
		tf_tpm_poweroff(t);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	memset(t, 0, sizeof *t);
}

uint32_t tf_tpm_loaded(const tf_tpm *t)
{
	omc_tpm_cfg c;
	tpm_cfg(t, &c);
	uint32_t n = 0;
	assert_int_equal(omc_tpm_loaded(&c, &n), OMC_OK);
	return n;
}

/* --- devices --------------------------------------------------------------- */

static unsigned dev_counter;

void tf_dev_make(tf_dev *d, omc_memfs *shared, const char *pcid_json)
{
	memset(d, 0, sizeof *d);
	if (shared) {
		d->fs = shared;
	} else {
		assert_int_equal(omc_memfs_new(&d->fs), OMC_OK);
	}
	snprintf(d->base, sizeof d->base, "dev%u/", dev_counter++);
	char sb[48];
	snprintf(sb, sizeof sb, "%sstore/", d->base);
	assert_int_equal(omc_store_io_mem_new(&d->io, d->fs, d->base), OMC_OK);
	assert_int_equal(omc_store_io_mem_new(&d->store_io, d->fs, sb), OMC_OK);
	omc_factory_device_opts o = {.pki_dir = tf_pki(),
				     .io = d->io,
				     .store_io = d->store_io,
				     .pcid_json = pcid_json,
				     .pcid_json_len = pcid_json ? strlen(pcid_json) : 0};
	if (tf_tpm_backend()) {
		tf_tpm_start(&d->tpm);
		o.tpm = d->tpm.tcti;
		o.tpm_pcr = TF_TPM_PCR;
	}
	char *rep = NULL;
	omc_err e = omc_factory_device(&o, &rep);
	if (e != OMC_OK)
		fail_msg("factory device: %s at %s", omc_err_name(e), omc_err_source());
	snprintf(d->report, sizeof d->report, "%s", rep);
	json_error_t je;
	json_t *j = json_loads(rep, 0, &je);
	assert_non_null(j);
	snprintf(d->tre_id, sizeof d->tre_id, "%s", json_string_value(json_object_get(j, "tre_id")));
	snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", json_string_value(json_object_get(j, "pcid_imsi")));
	json_decref(j);
	omc_free(rep);
	if (shared)
		d->fs = NULL; /* not ours */
	else
		d->fs = d->fs;
}

void tf_dev_free(tf_dev *d)
{
	if (d->tpm.pid > 0) /* covers: every transient handle flushed on every path */
		assert_int_equal(tf_tpm_loaded(&d->tpm), 0);
	tf_tpm_stop(&d->tpm);
	omc_store_io_mem_free(d->io);
	omc_store_io_mem_free(d->store_io);
	if (d->fs)
		omc_memfs_free(d->fs);
	memset(d, 0, sizeof *d);
}

void tf_opts(tf_dev *d, omc_tre_opts *o)
{
	o->io = d->io;
	o->store_io = d->store_io;
	if (d->tpm.pid > 0) {
		omc_tpm_cfg c;
		tpm_cfg(&d->tpm, &c);
		assert_int_equal(omc_tpm_pcr_reset(&c), OMC_OK);
		o->tpm = d->tpm.tcti;
	}
}

static omc_tre *open_opts(tf_dev *d, bool ro)
{
	omc_tre_opts o = {.readonly = ro, .count_boot = !ro};
	tf_opts(d, &o);
	omc_tre *t = NULL;
	omc_err e = omc_tre_open(&t, &o);
	if (e != OMC_OK)
		fail_msg("omc_tre_open: %s at %s", omc_err_name(e), omc_err_source());
	return t;
}

omc_tre *tf_open(tf_dev *d)
{
	return open_opts(d, false);
}

omc_tre *tf_open_ro(tf_dev *d)
{
	return open_opts(d, true);
}

char *tf_sign(const char *who, const char *typ, json_t *payload)
{
	omc_key *k;
	omc_cert *c;
	assert_int_equal(omc_pki_load(tf_pki(), who, &k, &c), OMC_OK);
	char *s = json_dumps(payload, JSON_COMPACT);
	assert_non_null(s);
	char *jws = NULL;
	const omc_cert *x5c[] = {c};
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)s, strlen(s), k, x5c, 1, typ), OMC_OK);
	omc_free(s);
	omc_key_free(k);
	omc_cert_free(c);
	json_decref(payload);
	return jws;
}

json_t *tf_mcim(const char *id, const char *owner, const char *imsi, const char *k_hex, const char *opc_hex)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:i}", "id", id, "owner", owner, "role",
			 "operational", "type", "usim", "imsi", imsi, "alg", "milenage", "k", k_hex, "opc", opc_hex,
			 "acl", "agent", "version", 1);
}

char *tf_package(const char *who, uint64_t seq, const char *tre_id, const uint8_t *nonce, size_t nonce_len,
		 const char *evidence, json_t *mcim, bool activate)
{
	return tf_package_ex(who, seq, tre_id, nonce, nonce_len, nonce, nonce_len, evidence, mcim, activate);
}

char *tf_package_ex(const char *who, uint64_t seq, const char *tre_id, const uint8_t *claim_nonce, size_t claim_len,
		    const uint8_t *nonce, size_t nonce_len, const char *evidence, json_t *mcim, bool activate)
{
	char nb[128];
	assert_int_equal(omc_b64_encode(nb, sizeof nb, claim_nonce, claim_len, OMC_B64_URL), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:I,s:b,s:o}", "iss", who, "seq", (json_int_t)seq, "tre", tre_id,
			      "nonce", nb, "iat", (json_int_t)time(NULL), "activate", activate, "mcim", mcim);
	assert_non_null(p);
	char *jws = tf_sign(who, "omc-mcim-package+jwt", p);
	char *jwe = tf_seal(jws, nonce, nonce_len, evidence);
	omc_free(jws);
	return jwe;
}

char *tf_seal(const char *jws, const uint8_t *nonce, size_t nonce_len, const char *evidence)
{
	/* Encrypt to the session key carried by the evidence (the DPF's job). */
	omc_cert *ca = tf_m2mes_ca();
	omc_evidence ev;
	const omc_cert *anchors[] = {ca};
	assert_int_equal(omc_evidence_verify(&ev, evidence, strlen(evidence), anchors, 1, nonce, nonce_len, 0), OMC_OK);
	assert_non_null(ev.eph_pub);
	char *jwe = NULL;
	assert_int_equal(omc_jwe_encrypt(&jwe, (const uint8_t *)jws, strlen(jws), ev.eph_pub, "omc-mcim-package+jwe"),
			 OMC_OK);
	omc_evidence_free(&ev);
	omc_cert_free(ca);
	return jwe;
}

char *tf_command(const char *who, uint64_t seq, const char *tre_id, const char *cmd, const char *mcim)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "iss", who, "seq", (json_int_t)seq, "tre", tre_id, "cmd",
			      cmd, "mcim", mcim ? mcim : "", "iat", (json_int_t)time(NULL));
	return tf_sign(who, "omc-command+jwt", p);
}

char *tf_provision(omc_tre *t, const char *who, uint64_t seq, json_t *mcim)
{
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	char *pkg = tf_package(who, seq, st.tre_id, nonce, sizeof nonce, ev, mcim, true);
	char *receipt = NULL;
	omc_err e = omc_tre_install(t, pkg, strlen(pkg), &receipt);
	if (e != OMC_OK)
		fail_msg("install: %s at %s", omc_err_name(e), omc_err_source());
	omc_free(ev);
	omc_free(pkg);
	return receipt;
}

omc_cert *tf_m2mes_ca(void)
{
	omc_cert *c;
	assert_int_equal(omc_pki_load(tf_pki(), "m2mes-ca", NULL, &c), OMC_OK);
	return c;
}

void tf_av(omc_aka_av *av, const char *k_hex, const char *opc_hex, uint64_t sqn)
{
	uint8_t k[16], opc[16], rand[16], s[6], amf[2] = {0x80, 0};
	tl_hex(k, 16, k_hex);
	tl_hex(opc, 16, opc_hex);
	tl_rand(rand, 16);
	omc_store_be48(s, sqn);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
	assert_int_equal(omc_aka_av_gen(av, &c, rand, s, amf), OMC_OK);
	omc_aka_cred_wipe(&c);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
}

void tf_image_take(tf_image *im, omc_memfs *fs)
{
	memset(im, 0, sizeof *im);
	char *paths;
	size_t len;
	assert_int_equal(omc_memfs_list(fs, &paths, &len), OMC_OK);
	for (size_t i = 0; i < len; i += strlen(paths + i) + 1) {
		assert_true(im->n < TF_IMAGE_MAX && strlen(paths + i) < sizeof im->path[0]);
		snprintf(im->path[im->n], sizeof im->path[0], "%s", paths + i);
		if (omc_memfs_raw_get(fs, im->path[im->n], &im->data[im->n], &im->len[im->n]) == OMC_OK)
			im->n++; /* directories have no content */
	}
	omc_free(paths);
}

void tf_image_put(const tf_image *im, omc_memfs *fs)
{
	for (size_t i = 0; i < im->n; i++)
		assert_int_equal(omc_memfs_raw_put(fs, im->path[i], im->data[i], im->len[i]), OMC_OK);
}

void tf_image_free(tf_image *im)
{
	for (size_t i = 0; i < im->n; i++)
		omc_free(im->data[i]);
	free(im->tpm);
	memset(im, 0, sizeof *im);
}

#define TPM_STATE_FILE "tpm2-00.permall"

void tf_dev_image_take(tf_image *im, tf_dev *d)
{
	tf_image_take(im, d->fs);
	if (d->tpm.pid <= 0)
		return;
	tf_tpm_poweroff(&d->tpm);
	char path[96];
	snprintf(path, sizeof path, "%s/" TPM_STATE_FILE, d->tpm.dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	im->tpm = malloc((size_t)n);
	assert_non_null(im->tpm);
	im->tpm_len = fread(im->tpm, 1, (size_t)n, f);
	assert_int_equal(im->tpm_len, (size_t)n);
	fclose(f);
	tf_tpm_restart(&d->tpm);
}

void tf_dev_image_put(const tf_image *im, tf_dev *d)
{
	tf_image_put(im, d->fs);
	if (d->tpm.pid <= 0)
		return;
	assert_non_null(im->tpm);
	tf_tpm_poweroff(&d->tpm);
	char path[96];
	snprintf(path, sizeof path, "%s/" TPM_STATE_FILE, d->tpm.dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(im->tpm, 1, im->tpm_len, f), im->tpm_len);
	assert_int_equal(fclose(f), 0);
	tf_tpm_restart(&d->tpm);
}
