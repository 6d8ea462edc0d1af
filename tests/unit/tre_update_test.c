/* TRE update (TRE-12): stage, trial at the next boot, confirm or revert,
 * and every refusal of docs/objects.md "TRE update" with its error; the
 * security counter against rollback of the reference manifest (open point
 * 10); the optional firmware claims of the evidence.
 * covers: TRE-12, SEC-3, MGT-2, TRE-7, TRE-11 */
#include <openssl/evp.h>

#include "tre_fixture.h"
#include "tre/tre_internal.h"

#define FW "platform/firmware.bin"
#define CONF "platform/agent.conf"

/* The platform of version `v`: 4096 bytes of firmware and a configuration,
 * both depending on v. */
typedef struct platform {
	uint8_t fw[4096];
	char conf[128];
	omc_factory_update_component c[2];
	omc_tre_update_file f[2];
} platform;

static void platform_make(platform *p, const char *v)
{
	for (size_t i = 0; i < sizeof p->fw; i++)
		p->fw[i] = (uint8_t)(i * 31 + (unsigned char)v[0] * 7 + strlen(v));
	snprintf(p->conf, sizeof p->conf, "# agent configuration of version %s\n", v);
	p->c[0] = (omc_factory_update_component){"firmware", FW, p->fw, sizeof p->fw};
	p->c[1] = (omc_factory_update_component){"agent-config", CONF, (const uint8_t *)p->conf, strlen(p->conf)};
	p->f[0] = (omc_tre_update_file){"firmware", p->fw, sizeof p->fw};
	p->f[1] = (omc_tre_update_file){"agent-config", (const uint8_t *)p->conf, strlen(p->conf)};
}

static char *update_for(const char *model, const char *v, uint64_t counter, const platform *p)
{
	char *jws = NULL;
	assert_int_equal(omc_factory_update_manifest(&jws, tf_pki(), model, v, counter, p->c, 2), OMC_OK);
	return jws;
}

static omc_err stage(omc_tre *t, const char *jws, const platform *p)
{
	return omc_tre_update_stage(t, jws, strlen(jws), p->f, 2);
}

/* An open that is not a boot (the CLI's, the tests'). */
static omc_tre *open_plain(tf_dev *d)
{
	omc_tre_opts o = {0};
	tf_opts(d, &o);
	omc_tre *t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	return t;
}

static void sha_of(tf_dev *d, const char *path, uint8_t out[32])
{
	uint8_t *b;
	size_t n;
	assert_int_equal(d->io->read(d->io->ctx, path, &b, &n), OMC_OK);
	unsigned l = 0;
	assert_int_equal(EVP_Digest(b, n, out, &l, EVP_sha256(), NULL), 1);
	omc_free(b);
}

static bool file_is(tf_dev *d, const char *path, const uint8_t *want, size_t len)
{
	uint8_t *b;
	size_t n;
	if (d->io->read(d->io->ctx, path, &b, &n) != OMC_OK)
		return false;
	bool same = n == len && !memcmp(b, want, n);
	omc_free(b);
	return same;
}

static void expect_status(omc_tre *t, omc_tre_update_state s, const char *running, uint64_t counter)
{
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	if (u.state != s || strcmp(u.running_version, running) != 0 || u.counter != counter)
		fail_msg("update status %s, running '%s', counter %llu; want %s, '%s', %llu",
			 omc_tre_update_state_name(u.state), u.running_version, (unsigned long long)u.counter,
			 omc_tre_update_state_name(s), running, (unsigned long long)counter);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_true(st.platform_ok);
}

/* How many audit records have event "tre_update" and a detail containing s. */
static size_t audit_count(omc_tre *t, const char *result, const char *s)
{
	char *buf;
	size_t len, n = 0;
	assert_int_equal(omc_tre_audit_export(t, &buf, &len), OMC_OK);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		const char *ev = json_string_value(json_object_get(o, "event"));
		const char *res = json_string_value(json_object_get(o, "result"));
		const char *det = json_string_value(json_object_get(o, "detail"));
		n += !strcmp(ev, "tre_update") && !strcmp(res, result) && strstr(det, s) != NULL;
		json_decref(o);
	}
	omc_free(buf);
	return n;
}

/* TRE-12: staged, tried at the next boot, confirmed; the new version is
 * what the TRE measures and reports from then on. */
static void test_tre12_stage_trial_confirm(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	char *jws = update_for(NULL, "2.0", 1, &p);
	uint8_t fw_old[32], man_old[32];
	sha_of(&d, FW, fw_old);
	sha_of(&d, "manifest.jws", man_old);

	omc_tre *t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	assert_int_equal(u.state, OMC_TRE_UPDATE_STAGED);
	assert_string_equal(u.staged_version, "2.0");
	assert_int_equal(u.staged_counter, 1);
	/* Nothing runs yet: the old files, the old manifest. */
	expect_status(t, OMC_TRE_UPDATE_STAGED, "1.0", 0);
	assert_int_equal(omc_tre_update_confirm(t), OMC_ERR_BAD_STATE);
	assert_int_equal(audit_count(t, "ok", "staged: version 2.0"), 1);
	omc_tre_close(t);

	/* An open that is not a boot leaves it staged. */
	t = open_plain(&d);
	expect_status(t, OMC_TRE_UPDATE_STAGED, "1.0", 0);
	omc_tre_close(t);
	t = tf_open_ro(&d);
	expect_status(t, OMC_TRE_UPDATE_STAGED, "1.0", 0);
	omc_tre_close(t);

	/* The boot: the trial, measured against the new manifest. */
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "2.0", 0);
	assert_true(file_is(&d, FW, p.fw, sizeof p.fw));
	assert_true(file_is(&d, CONF, (const uint8_t *)p.conf, strlen(p.conf)));
	assert_int_equal(audit_count(t, "ok", "trial: version 2.0"), 1);
	assert_int_equal(omc_tre_update_confirm(t), OMC_OK);
	expect_status(t, OMC_TRE_UPDATE_NONE, "2.0", 1);
	assert_int_equal(audit_count(t, "ok", "confirmed: version 2.0, security counter 1"), 1);
	assert_int_equal(omc_tre_update_confirm(t), OMC_ERR_BAD_STATE);
	uint64_t n;
	assert_int_equal(omc_tre_audit_verify(t, &n), OMC_OK);

	/* The evidence says so (optional claims fw_version, fw_counter). */
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, sizeof nonce, 0), OMC_OK);
	assert_true(e.has_fw);
	assert_string_equal(e.fw_version, "2.0");
	assert_int_equal(e.fw_counter, 1);
	assert_true(e.platform_ok);
	omc_evidence_free(&e);
	omc_free(ev);
	omc_cert_free(ca);
	omc_tre_close(t);

	/* Confirmed: the next boots keep it, the leftovers are gone. */
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_NONE, "2.0", 1);
	omc_tre_close(t);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_NONE, "2.0", 1);
	omc_tre_close(t);
	assert_int_equal(d.io->exists(d.io->ctx, "update/old-c0"), OMC_ERR_NOT_FOUND);
	assert_int_equal(d.io->exists(d.io->ctx, "update/s0-c0"), OMC_ERR_NOT_FOUND);
	uint8_t fw_new[32];
	sha_of(&d, FW, fw_new);
	assert_false(omc_ct_eq(fw_new, fw_old, 32));
	omc_free(jws);
	tf_dev_free(&d);
}

/* TRE-12: a trial that is not confirmed is reverted at the next boot. */
static void test_tre12_trial_reverts(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	uint8_t *fw0, *man0;
	size_t fw0_len, man0_len;
	assert_int_equal(d.io->read(d.io->ctx, FW, &fw0, &fw0_len), OMC_OK);
	assert_int_equal(d.io->read(d.io->ctx, "manifest.jws", &man0, &man0_len), OMC_OK);
	platform p;
	platform_make(&p, "2.1");
	char *jws = update_for(NULL, "2.1", 3, &p);
	omc_tre *t = tf_open(&d);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "2.1", 0);
	omc_tre_close(t);
	/* A plain open during the trial (the CLI) changes nothing. */
	t = open_plain(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "2.1", 0);
	omc_tre_close(t);
	/* The next boot without a confirmation: back to the old version. */
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	assert_int_equal(audit_count(t, "failed", "update reverted: version 2.1 was not confirmed"), 1);
	assert_int_equal(omc_tre_update_confirm(t), OMC_ERR_BAD_STATE);
	omc_tre_close(t);
	assert_true(file_is(&d, FW, fw0, fw0_len));
	assert_true(file_is(&d, "manifest.jws", man0, man0_len));
	/* And the update can come again (the counter never moved). */
	t = tf_open(&d);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "2.1", 0);
	assert_int_equal(omc_tre_update_confirm(t), OMC_OK);
	expect_status(t, OMC_TRE_UPDATE_NONE, "2.1", 3);
	omc_tre_close(t);
	omc_free(fw0);
	omc_free(man0);
	omc_free(jws);
	tf_dev_free(&d);
}

/* TRE-12: the manifest must be the TRE vendor's, of type omc-update+jwt. */
static void test_tre12_bad_signature(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	char *good = update_for(NULL, "2.0", 1, &p);
	omc_tre *t = tf_open(&d);

	/* One changed character of the signature. */
	char *bad = omc_alloc(strlen(good) + 1);
	assert_non_null(bad);
	memcpy(bad, good, strlen(good) + 1);
	char *sig = strrchr(bad, '.') + 5;
	*sig = *sig == 'A' ? 'B' : 'A';
	assert_int_equal(stage(t, bad, &p), OMC_ERR_BAD_SIGNATURE);
	omc_free(bad);

	/* The same claims signed by an operator (a chain to another anchor). */
	uint8_t *payload;
	size_t plen;
	assert_int_equal(omc_jws_peek(&payload, &plen, good, strlen(good)), OMC_OK);
	json_error_t je;
	json_t *o = json_loadb((const char *)payload, plen, 0, &je);
	omc_free(payload);
	assert_non_null(o);
	char *by_sho = tf_sign("sho1", "omc-update+jwt", json_incref(o));
	assert_int_equal(stage(t, by_sho, &p), OMC_ERR_BAD_SIGNATURE);
	/* The vendor's key but the reference manifest's typ. */
	char *as_ref = tf_sign("tre-vendor", "omc-manifest+jwt", json_incref(o));
	assert_int_equal(stage(t, as_ref, &p), OMC_ERR_BAD_SIGNATURE);
	/* The factory's reference manifest is no update either. */
	uint8_t *man;
	size_t man_len;
	assert_int_equal(d.io->read(d.io->ctx, "manifest.jws", &man, &man_len), OMC_OK);
	assert_int_equal(omc_tre_update_stage(t, (const char *)man, man_len, p.f, 2), OMC_ERR_BAD_SIGNATURE);
	omc_free(man);
	/* An embedded reference manifest by someone else. */
	json_t *ref = json_pack("{s:s,s:s,s:I,s:O}", "model", "openmcim-demo-gw", "version", "2.0", "counter",
				(json_int_t)1, "components", json_object_get(o, "components"));
	char *ref_sho = tf_sign("sho1", "omc-manifest+jwt", ref);
	json_object_set_new(o, "manifest", json_string(ref_sho));
	char *mixed = tf_sign("tre-vendor", "omc-update+jwt", o);
	assert_int_equal(stage(t, mixed, &p), OMC_ERR_BAD_SIGNATURE);
	assert_int_equal(audit_count(t, "refused", "BAD_SIGNATURE"), 5);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	omc_free(ref_sho);
	omc_free(mixed);
	omc_free(by_sho);
	omc_free(as_ref);
	omc_free(good);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* TRE-12: made for another model, or with claims that break the rules. */
static void test_tre12_other_model_and_claims(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	omc_tre *t = tf_open(&d);
	char *jws = update_for("another-gw", "2.0", 1, &p);
	assert_int_equal(stage(t, jws, &p), OMC_ERR_DENIED);
	assert_int_equal(audit_count(t, "refused", "DENIED: made for another model"), 1);
	omc_free(jws);

	/* A component that would overwrite the TRE's own files. */
	static const char *const bad_paths[] = {"device.key", "identity.sealed", "manifest.jws", "store/root.a",
						"platform/../device.key", "update/s0-c0", "platform/.hidden",
						"platform/x.tmp", "platform/", "platform/a/b"};
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
		platform q = p;
		q.c[0].path = bad_paths[i];
		jws = update_for(NULL, "2.0", 1, &q);
		if (stage(t, jws, &q) != OMC_ERR_BAD_FORMAT)
			fail_msg("path '%s' not refused", bad_paths[i]);
		omc_free(jws);
	}
	/* Two components with the same name or the same path. */
	platform q = p;
	q.c[1].path = FW;
	jws = update_for(NULL, "2.0", 1, &q);
	assert_int_equal(stage(t, jws, &q), OMC_ERR_BAD_FORMAT);
	omc_free(jws);
	/* A reference manifest that names other contents than the update. */
	q = p;
	q.c[0].data = q.fw; /* q's own copy */
	char *upd = update_for(NULL, "2.0", 1, &p);
	q.fw[0] ^= 1;
	char *other = update_for(NULL, "2.0", 1, &q);
	uint8_t *pl;
	size_t pll;
	assert_int_equal(omc_jws_peek(&pl, &pll, upd, strlen(upd)), OMC_OK);
	json_error_t je;
	json_t *o = json_loadb((const char *)pl, pll, 0, &je);
	omc_free(pl);
	assert_int_equal(omc_jws_peek(&pl, &pll, other, strlen(other)), OMC_OK);
	json_t *o2 = json_loadb((const char *)pl, pll, 0, &je);
	omc_free(pl);
	json_object_set(o, "manifest", json_object_get(o2, "manifest"));
	json_decref(o2);
	char *mixed = tf_sign("tre-vendor", "omc-update+jwt", o);
	assert_int_equal(stage(t, mixed, &p), OMC_ERR_BAD_FORMAT);
	assert_int_equal(audit_count(t, "refused", "reference manifest differs from the update"), 1);
	omc_free(mixed);
	omc_free(other);
	omc_free(upd);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* TRE-12: every file of its size and digest, one for each component. */
static void test_tre12_files(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	char *jws = update_for(NULL, "2.0", 1, &p);
	omc_tre *t = tf_open(&d);
	platform q = p;
	q.f[0].data = q.fw;
	q.fw[100] ^= 0x40; /* one bit */
	assert_int_equal(stage(t, jws, &q), OMC_ERR_TAMPERED);
	q = p;
	q.f[0].data = q.fw;
	q.f[0].len = sizeof q.fw - 1; /* one byte short */
	assert_int_equal(stage(t, jws, &q), OMC_ERR_BAD_LENGTH);
	q = p;
	q.f[1].name = "firmware"; /* twice, agent-config missing */
	assert_int_equal(stage(t, jws, &q), OMC_ERR_BAD_ARG);
	q = p;
	q.f[1].name = "kernel";
	assert_int_equal(stage(t, jws, &q), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_tre_update_stage(t, jws, strlen(jws), p.f, 1), OMC_ERR_BAD_ARG);
	assert_int_equal(audit_count(t, "refused", "TAMPERED: firmware"), 1);
	assert_int_equal(audit_count(t, "refused", "BAD_LENGTH: firmware"), 1);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	/* Nothing was written for a refused update. */
	assert_int_equal(d.io->exists(d.io->ctx, "update/s0-c0"), OMC_ERR_NOT_FOUND);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	omc_free(jws);
	tf_dev_free(&d);
}

/* TRE-12: the security counter never goes back; an equal one is accepted
 * (a rebuild at the same level, as MCUboot allows). */
static void test_tre12_security_counter(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p5, p4, p5b;
	platform_make(&p5, "5.0");
	platform_make(&p4, "4.0");
	platform_make(&p5b, "5.0.1");
	char *j5 = update_for(NULL, "5.0", 5, &p5), *j4 = update_for(NULL, "4.0", 4, &p4),
	     *j5b = update_for(NULL, "5.0.1", 5, &p5b);
	omc_tre *t = tf_open(&d);
	assert_int_equal(stage(t, j4, &p4), OMC_OK); /* staged, never tried ... */
	assert_int_equal(stage(t, j5, &p5), OMC_OK); /* ... replaced */
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	assert_string_equal(u.staged_version, "5.0");
	omc_tre_close(t);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "5.0", 0);
	/* One at a time: no stage during a trial. */
	assert_int_equal(stage(t, j5b, &p5b), OMC_ERR_BAD_STATE);
	assert_int_equal(omc_tre_update_confirm(t), OMC_OK);
	expect_status(t, OMC_TRE_UPDATE_NONE, "5.0", 5);
	assert_int_equal(stage(t, j4, &p4), OMC_ERR_DENIED);
	assert_int_equal(audit_count(t, "refused", "DENIED: security counter below the TRE's"), 1);
	expect_status(t, OMC_TRE_UPDATE_NONE, "5.0", 5);
	assert_int_equal(stage(t, j5b, &p5b), OMC_OK);
	omc_tre_close(t);
	t = tf_open(&d);
	assert_int_equal(omc_tre_update_confirm(t), OMC_OK);
	expect_status(t, OMC_TRE_UPDATE_NONE, "5.0.1", 5);
	omc_tre_close(t);
	omc_free(j4);
	omc_free(j5);
	omc_free(j5b);
	tf_dev_free(&d);
}

/* Open point 10: after a confirmed update, the factory's manifest (no
 * counter: 0) with the factory's files is a rollback and does not verify. */
static void test_tre12_manifest_rollback_refused(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	uint8_t *fw0, *man0;
	size_t fw0_len, man0_len;
	assert_int_equal(d.io->read(d.io->ctx, FW, &fw0, &fw0_len), OMC_OK);
	assert_int_equal(d.io->read(d.io->ctx, "manifest.jws", &man0, &man0_len), OMC_OK);
	platform p;
	platform_make(&p, "2.0");
	/* The agent configuration stays as the factory made it. */
	uint8_t *conf0;
	size_t conf0_len;
	assert_int_equal(d.io->read(d.io->ctx, CONF, &conf0, &conf0_len), OMC_OK);
	p.c[1].data = p.f[1].data = conf0;
	p.c[1].len = p.f[1].len = conf0_len;
	char *jws = update_for(NULL, "2.0", 1, &p);
	omc_tre *t = tf_open(&d);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	t = tf_open(&d);
	assert_int_equal(omc_tre_update_confirm(t), OMC_OK);
	omc_tre_close(t);
	/* Someone puts the old manifest and firmware back. */
	assert_int_equal(omc_tre_write_file(d.io, FW, fw0, fw0_len), OMC_OK);
	assert_int_equal(omc_tre_write_file(d.io, "manifest.jws", man0, man0_len), OMC_OK);
	t = tf_open(&d);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_false(st.platform_ok);
	assert_false(t->manifest_ok);
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	assert_string_equal(u.running_version, "");
	assert_int_equal(u.counter, 1);
	omc_tre_close(t);
	omc_free(fw0);
	omc_free(man0);
	omc_free(conf0);
	omc_free(jws);
	tf_dev_free(&d);
}

/* TRE-12: nothing moves in lockdown. */
static void test_tre12_lockdown(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	char *jws = update_for(NULL, "2.0", 1, &p);
	omc_tre *t = tf_open(&d);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_TRIAL, "2.0", 0);
	assert_int_equal(omc_tre_tamper(t, "enclosure opened"), OMC_OK);
	assert_int_equal(omc_tre_update_confirm(t), OMC_ERR_LOCKDOWN);
	assert_int_equal(stage(t, jws, &p), OMC_ERR_LOCKDOWN);
	omc_tre_close(t);
	/* In lockdown the unconfirmed trial is still reverted at the boot
	 * (the old platform back, which recovery needs to measure right). */
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	assert_int_equal(u.state, OMC_TRE_UPDATE_NONE);
	assert_string_equal(u.running_version, "1.0");
	assert_int_equal(stage(t, jws, &p), OMC_ERR_LOCKDOWN);
	omc_tre_close(t);
	omc_free(jws);
	tf_dev_free(&d);
}

/* TRE-12: a staged file damaged on the flash is found at the boot: the
 * update is abandoned (audited), the old platform keeps running. */
static void test_tre12_damaged_stage(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	platform p;
	platform_make(&p, "2.0");
	char *jws = update_for(NULL, "2.0", 1, &p);
	omc_tre *t = tf_open(&d);
	assert_int_equal(stage(t, jws, &p), OMC_OK);
	omc_tre_close(t);
	char path[64];
	snprintf(path, sizeof path, "%supdate/s0-c0", d.base);
	uint8_t *b;
	size_t n;
	assert_int_equal(omc_memfs_raw_get(d.fs, path, &b, &n), OMC_OK);
	b[7] ^= 1;
	assert_int_equal(omc_memfs_raw_put(d.fs, path, b, n), OMC_OK);
	omc_free(b);
	t = tf_open(&d);
	expect_status(t, OMC_TRE_UPDATE_NONE, "1.0", 0);
	assert_int_equal(audit_count(t, "failed", "abandoned: a staged file is damaged"), 1);
	omc_tre_close(t);
	omc_free(jws);
	tf_dev_free(&d);
}

/* The evidence of a TRE without the firmware claims (an older TRE) still
 * verifies, and says so. */
static void test_evidence_without_fw_claims(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, sizeof nonce, &ev), OMC_OK);
	uint8_t *pl;
	size_t pll;
	assert_int_equal(omc_jws_peek(&pl, &pll, ev, strlen(ev)), OMC_OK);
	omc_free(ev);
	json_error_t je;
	json_t *o = json_loadb((const char *)pl, pll, 0, &je);
	omc_free(pl);
	assert_non_null(o);
	assert_int_equal(json_object_del(o, "fw_version"), 0);
	assert_int_equal(json_object_del(o, "fw_counter"), 0);
	assert_int_equal(omc_tre_sign(t, "omc-evidence+jwt", o, &ev), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, sizeof nonce, 0), OMC_OK);
	assert_false(e.has_fw);
	omc_evidence_free(&e);
	omc_free(ev);
	/* One of the two alone is malformed. */
	json_object_set_new(o, "fw_counter", json_integer(1));
	assert_int_equal(omc_tre_sign(t, "omc-evidence+jwt", o, &ev), OMC_OK);
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, sizeof nonce, 0),
			 OMC_ERR_BAD_FORMAT);
	omc_free(ev);
	json_decref(o);
	omc_cert_free(ca);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* The helper's own refusals. */
static void test_update_manifest_args(void **state)
{
	(void)state;
	platform p;
	platform_make(&p, "2.0");
	char *jws = NULL;
	assert_int_equal(omc_factory_update_manifest(&jws, tf_pki(), NULL, "2.0", 1, p.c, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_factory_update_manifest(&jws, tf_pki(), NULL, "", 1, p.c, 2), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_factory_update_manifest(&jws, tf_pki(), NULL, "2.0\n", 1, p.c, 2), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_factory_update_manifest(&jws, tf_pki(), NULL, "2.0", UINT64_MAX, p.c, 2),
			 OMC_ERR_BAD_ARG);
	assert_null(jws);
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tre12_stage_trial_confirm),
		cmocka_unit_test(test_tre12_trial_reverts),
		cmocka_unit_test(test_tre12_bad_signature),
		cmocka_unit_test(test_tre12_other_model_and_claims),
		cmocka_unit_test(test_tre12_files),
		cmocka_unit_test(test_tre12_security_counter),
		cmocka_unit_test(test_tre12_manifest_rollback_refused),
		cmocka_unit_test(test_tre12_lockdown),
		cmocka_unit_test(test_tre12_damaged_stage),
		cmocka_unit_test(test_evidence_without_fw_claims),
		cmocka_unit_test(test_update_manifest_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
