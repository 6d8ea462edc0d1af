/* Power cut at every I/O operation of every step of a TRE update (TRE-12;
 * MCUboot's run_perm_with_fails for its swap with revert).
 *
 * Each step starts from a device image (every durable byte of a device on
 * a memfs): staging an update, staging another over it, the switch to the
 * trial at a boot, the confirmation, and the revert at the boot after an
 * unconfirmed trial. A dry run counts the mutating operations N of the
 * step; then for every i in 1..N and every power-loss mode (unsynced data
 * lost, kept, or torn by 512-byte sectors) the step runs with the cut
 * before operation i, the device reboots, and the TRE is opened again (an
 * open that is not a boot, so it starts nothing new). It must open, with
 * its audit chain intact, in exactly the old or the new state of the step
 * (the new one whenever the step had answered OK): the update's state and
 * versions, the stored counter, and the digests of manifest.jws and of
 * every component file, which must measure right against that manifest.
 * Never half the files of each. Then the update is driven to its end from
 * there (boot, confirm or revert), which must work too: a staged update
 * is whole, the backups of a trial are whole.
 * (A cut among the unlinks of leftovers after the last commit lets the
 * open go on with a dead flash: it then logs a lockdown it cannot
 * persist. Nothing of it survives the reboot, as the checks show.)
 * covers: TRE-12, SEC-3, TRE-11 */
#include <openssl/evp.h>

#include "tre_fixture.h"
#include "tre/tre_internal.h"

#define FW "platform/firmware.bin"
#define CONF "platform/agent.conf"

static unsigned long n_points; /* (crash point, mode) pairs tried */

/* --- platforms and updates ------------------------------------------------------------ */

typedef struct platform {
	uint8_t fw[4096];
	char conf[128];
	omc_factory_update_component c[2];
	omc_tre_update_file f[2];
	char *jws;
} platform;

static void platform_make(platform *p, const char *v, uint64_t counter)
{
	memset(p, 0, sizeof *p);
	for (size_t i = 0; i < sizeof p->fw; i++)
		p->fw[i] = (uint8_t)(i * 13 + (unsigned char)v[0] * 3 + strlen(v));
	snprintf(p->conf, sizeof p->conf, "# agent configuration of version %s\n", v);
	p->c[0] = (omc_factory_update_component){"firmware", FW, p->fw, sizeof p->fw};
	p->c[1] = (omc_factory_update_component){"agent-config", CONF, (const uint8_t *)p->conf, strlen(p->conf)};
	p->f[0] = (omc_tre_update_file){"firmware", p->fw, sizeof p->fw};
	p->f[1] = (omc_tre_update_file){"agent-config", (const uint8_t *)p->conf, strlen(p->conf)};
	assert_int_equal(omc_factory_update_manifest(&p->jws, tf_pki(), NULL, v, counter, p->c, 2), OMC_OK);
}

/* --- device images and rigs (as in tre_crash_test) ------------------------------------ */

typedef struct img {
	tf_image files;
	char base[32];
} img;

static void img_take(img *im, omc_memfs *fs, const tf_dev *d)
{
	memset(im, 0, sizeof *im);
	omc_memfs_reboot(fs); /* only what is durable counts */
	tf_image_take(&im->files, fs);
	snprintf(im->base, sizeof im->base, "%s", d->base);
}

typedef struct rig {
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	omc_tre *t;
} rig;

static void rig_load(rig *r, const img *im)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(omc_memfs_new(&r->fs), OMC_OK);
	tf_image_put(&im->files, r->fs);
	char sb[48];
	snprintf(sb, sizeof sb, "%sstore/", im->base);
	assert_int_equal(omc_store_io_mem_new(&r->io, r->fs, im->base), OMC_OK);
	assert_int_equal(omc_store_io_mem_new(&r->store_io, r->fs, sb), OMC_OK);
}

static omc_err rig_open(rig *r, bool boot)
{
	omc_tre_opts o = {.io = r->io, .store_io = r->store_io, .count_boot = boot};
	r->t = NULL;
	return omc_tre_open(&r->t, &o);
}

static void rig_close_tre(rig *r)
{
	omc_tre_close(r->t);
	r->t = NULL;
}

static void rig_free(rig *r)
{
	rig_close_tre(r);
	omc_store_io_mem_free(r->io);
	omc_store_io_mem_free(r->store_io);
	omc_memfs_free(r->fs);
	memset(r, 0, sizeof *r);
}

/* --- the visible state ----------------------------------------------------------------- */

static void digest_hex(omc_store_io *io, const char *path, char out[17])
{
	uint8_t *b, h[32];
	size_t n;
	unsigned l = 0;
	if (io->read(io->ctx, path, &b, &n) != OMC_OK) {
		snprintf(out, 17, "missing");
		return;
	}
	assert_int_equal(EVP_Digest(b, n, h, &l, EVP_sha256(), NULL), 1);
	omc_free(b);
	assert_int_equal(omc_hex_encode(out, 17, h, 8), OMC_OK);
}

typedef struct view {
	char text[512];
	omc_tre_update_info u;
} view;

static void view_take(rig *r, view *v)
{
	memset(v, 0, sizeof *v);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(r->t, &st), OMC_OK);
	uint64_t count = 0;
	omc_err e = omc_tre_audit_verify(r->t, &count);
	if (e != OMC_OK)
		fail_msg("audit chain after the cut: %s (%lu records)", omc_err_name(e), (unsigned long)count);
	assert_int_equal(omc_tre_update_status(r->t, &v->u), OMC_OK);
	char fw[17], conf[17], man[17];
	digest_hex(r->io, FW, fw);
	digest_hex(r->io, CONF, conf);
	digest_hex(r->io, "manifest.jws", man);
	snprintf(v->text, sizeof v->text,
		 "%s update=%s running=%s/%llu counter=%llu staged=%s/%llu platform=%s fw=%s conf=%s man=%s",
		 omc_tre_state_name(st.state), omc_tre_update_state_name(v->u.state), v->u.running_version,
		 (unsigned long long)v->u.running_counter, (unsigned long long)v->u.counter, v->u.staged_version,
		 (unsigned long long)v->u.staged_counter, st.platform_ok ? "ok" : "ANOMALY", fw, conf, man);
	/* The files are one version's, the manifest in place says which. */
	if (!st.platform_ok)
		fail_msg("platform does not measure right: %s", v->text);
}

/* From any state, the update to its end: a staged one boots into its
 * trial; a trial is confirmed or (revert) reverted at a boot. Each must
 * work and measure right. */
static void finish(rig *r, bool revert)
{
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(r->t, &u), OMC_OK);
	if (u.state == OMC_TRE_UPDATE_STAGED) {
		char want[32];
		snprintf(want, sizeof want, "%s", u.staged_version);
		rig_close_tre(r);
		assert_int_equal(rig_open(r, true), OMC_OK);
		view v;
		view_take(r, &v);
		assert_int_equal(v.u.state, OMC_TRE_UPDATE_TRIAL);
		assert_string_equal(v.u.running_version, want);
		u = v.u;
	}
	if (u.state != OMC_TRE_UPDATE_TRIAL)
		return;
	char trial[32];
	snprintf(trial, sizeof trial, "%s", u.running_version);
	if (revert) {
		rig_close_tre(r);
		assert_int_equal(rig_open(r, true), OMC_OK);
	} else {
		assert_int_equal(omc_tre_update_confirm(r->t), OMC_OK);
	}
	view v;
	view_take(r, &v);
	assert_int_equal(v.u.state, OMC_TRE_UPDATE_NONE);
	if (revert)
		assert_string_not_equal(v.u.running_version, trial);
	else
		assert_string_equal(v.u.running_version, trial);
	rig_close_tre(r);
	assert_int_equal(rig_open(r, true), OMC_OK);
	view w;
	view_take(r, &w);
	assert_string_equal(w.u.running_version, v.u.running_version);
}

/* --- the steps --------------------------------------------------------------------------- */

typedef struct step {
	const char *name;
	img base;
	bool is_open;        /* the step is a boot open itself */
	const platform *p;   /* what it stages */
	bool confirm;        /* it confirms */
} step;

static omc_err step_run(const step *s, rig *r, unsigned long crash_at, omc_memfs_crash_mode mode, uint64_t seed)
{
	if (s->is_open) {
		if (crash_at)
			omc_memfs_crash_at(r->fs, crash_at, mode, seed);
		omc_err e = rig_open(r, true);
		rig_close_tre(r);
		return e;
	}
	assert_int_equal(rig_open(r, false), OMC_OK);
	if (crash_at)
		omc_memfs_crash_at(r->fs, crash_at, mode, seed);
	omc_err e = s->confirm ? omc_tre_update_confirm(r->t)
			       : omc_tre_update_stage(r->t, s->p->jws, strlen(s->p->jws), s->p->f, 2);
	rig_close_tre(r);
	return e;
}

static void run_step(step *s)
{
	/* Dry run: the old and the new state, and the operations between. */
	view old_v, new_v;
	rig r;
	rig_load(&r, &s->base);
	assert_int_equal(rig_open(&r, false), OMC_OK);
	view_take(&r, &old_v);
	rig_close_tre(&r);
	unsigned long before = omc_memfs_op_count(r.fs);
	assert_int_equal(step_run(s, &r, 0, OMC_MEMFS_LOSE_UNSYNCED, 0), OMC_OK);
	unsigned long n = omc_memfs_op_count(r.fs) - before;
	omc_memfs_reboot(r.fs);
	assert_int_equal(rig_open(&r, false), OMC_OK);
	view_take(&r, &new_v);
	rig_free(&r);
	if (!strcmp(old_v.text, new_v.text))
		fail_msg("%s: the step changes nothing visible", s->name);
	assert_true(n > 0);

	static const struct {
		omc_memfs_crash_mode mode;
		uint64_t seed;
	} modes[] = {{OMC_MEMFS_LOSE_UNSYNCED, 0},
		     {OMC_MEMFS_KEEP_UNSYNCED, 0},
		     {OMC_MEMFS_TEAR_UNSYNCED, 1},
		     {OMC_MEMFS_TEAR_UNSYNCED, 2},
		     {OMC_MEMFS_TEAR_UNSYNCED, 3}};
	unsigned long saw_old = 0, saw_new = 0;
	for (unsigned long i = 1; i <= n; i++) {
		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
			rig_load(&r, &s->base);
			omc_err e = step_run(s, &r, i, modes[m].mode, modes[m].seed * 7919 + i);
			omc_memfs_reboot(r.fs);
			n_points++;
			omc_err oe = rig_open(&r, false);
			if (oe != OMC_OK)
				fail_msg("%s: cut at %lu/%lu (mode %d): open: %s", s->name, i, n, (int)modes[m].mode,
					 omc_err_name(oe));
			view v;
			view_take(&r, &v);
			bool is_old = !strcmp(v.text, old_v.text), is_new = !strcmp(v.text, new_v.text);
			if (!is_old && !is_new)
				fail_msg("%s: cut at %lu/%lu (mode %d): neither old nor new:\n  got %s\n  old %s\n  new %s",
					 s->name, i, n, (int)modes[m].mode, v.text, old_v.text, new_v.text);
			if (e == OMC_OK && !is_new)
				fail_msg("%s: cut at %lu/%lu: the step answered OK but the old state came back", s->name,
					 i, n);
			saw_old += is_old;
			saw_new += is_new;
			finish(&r, (i + m) % 2 == 1);
			rig_free(&r);
		}
	}
	printf("# %-14s %3lu operations, %4lu cuts: old %lu, new %lu\n", s->name, n,
	       n * (sizeof modes / sizeof modes[0]), saw_old, saw_new);
	assert_true(saw_old > 0 && saw_new > 0);
}

static omc_tre *dev_open(tf_dev *d, bool boot)
{
	omc_tre_opts o = {.io = d->io, .store_io = d->store_io, .count_boot = boot};
	omc_tre *t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	return t;
}

static void test_update_steps(void **state)
{
	(void)state;
	platform *p2 = omc_calloc(1, sizeof *p2), *p3 = omc_calloc(1, sizeof *p3);
	assert_non_null(p2);
	assert_non_null(p3);
	platform_make(p2, "2.0", 1);
	platform_make(p3, "3.0", 2);
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	step s;

	/* Stage on a device without an update. */
	s = (step){.name = "stage", .p = p2};
	img_take(&s.base, d.fs, &d);
	run_step(&s);
	tf_image_free(&s.base.files);
	omc_tre *t = dev_open(&d, false);
	assert_int_equal(omc_tre_update_stage(t, p2->jws, strlen(p2->jws), p2->f, 2), OMC_OK);
	omc_tre_close(t);

	/* Stage another over it (the other slot). */
	s = (step){.name = "restage", .p = p3};
	img_take(&s.base, d.fs, &d);
	run_step(&s);
	tf_image_free(&s.base.files);

	/* The switch to the trial at the boot. */
	s = (step){.name = "switch", .is_open = true};
	img_take(&s.base, d.fs, &d);
	run_step(&s);
	tf_image_free(&s.base.files);
	t = dev_open(&d, true);
	omc_tre_update_info u;
	assert_int_equal(omc_tre_update_status(t, &u), OMC_OK);
	assert_int_equal(u.state, OMC_TRE_UPDATE_TRIAL);
	omc_tre_close(t);

	/* During the trial: the confirmation, or the revert at the next boot. */
	s = (step){.name = "confirm", .confirm = true};
	img_take(&s.base, d.fs, &d);
	run_step(&s);
	tf_image_free(&s.base.files);
	s = (step){.name = "revert", .is_open = true};
	img_take(&s.base, d.fs, &d);
	run_step(&s);
	tf_image_free(&s.base.files);

	tf_dev_free(&d);
	omc_free(p2->jws);
	omc_free(p3->jws);
	omc_free(p2);
	omc_free(p3);
}

static int report(void **state)
{
	(void)state;
	printf("# tre update crash points tried: %lu\n", n_points);
	return 0;
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_steps),
	};
	return cmocka_run_group_tests(tests, NULL, report);
}
