/* Power cut at every I/O operation of every kind of TRE commit (DESIGN
 * invariant 3; MCUboot's run_perm_with_fails one level up from the store's
 * own crash test).
 *
 * Each kind starts from a device image (every durable byte of a device on a
 * memfs). A dry run counts the mutating operations N of the kind's one
 * call; then for every i in 1..N and every power-loss mode (unsynced data
 * lost, kept, or torn by 512-byte sectors) the call runs with the cut
 * before operation i, the device reboots and the TRE is opened again. It
 * must open, not in lockdown unless the kind itself locks down, with
 * exactly the old or the new visible state (registry, TRE state, users,
 * audit count), the new one whenever the call had answered OK, its audit
 * chain intact and holding everything committed, its store generation not
 * lower than before; and it must take a further commit. For AKA the SQN
 * state is probed too: the same challenge is accepted again only if the
 * old state survived (a power cut can never make the USIM accept one SQN
 * twice after it released RES). The factory's format is cut the same way:
 * afterwards there is no device (and the factory can make it again) or a
 * complete pristine one.
 * covers: CHG-4, CHG-5, TRE-2, TRE-4, TRE-6, TRE-8, TRE-9, TRE-10, TRE-11, MGT-1, MGT-4, MGT-5,
 *         SEC-2, SEC-5, SEC-12, NET-3 */
#include "tre_fixture.h"
#include "tre/tre_internal.h"

#define K1 "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define OPC1 "8899aabbccddeeff0011223344556677"

static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};

static unsigned long n_points; /* (crash point, mode) pairs tried */

/* --- device images ---------------------------------------------------------------- */

typedef struct img {
	tf_image files;
	char base[32];
	char tre_id[64];
} img;

static void img_take(img *im, omc_memfs *fs, const tf_dev *d)
{
	memset(im, 0, sizeof *im);
	/* Only what is durable counts: a power cut first. */
	omc_memfs_reboot(fs);
	tf_image_take(&im->files, fs);
	snprintf(im->base, sizeof im->base, "%s", d->base);
	snprintf(im->tre_id, sizeof im->tre_id, "%s", d->tre_id);
}

static void img_free(img *im)
{
	tf_image_free(&im->files);
	memset(im, 0, sizeof *im);
}

/* A device running from an image: its own memfs and the two backends. */
typedef struct rig {
	omc_memfs *fs;
	omc_store_io *io, *store_io;
	omc_tre *t;
} rig;

static void rig_io(rig *r, const char *base)
{
	char sb[48];
	snprintf(sb, sizeof sb, "%sstore/", base);
	assert_int_equal(omc_store_io_mem_new(&r->io, r->fs, base), OMC_OK);
	assert_int_equal(omc_store_io_mem_new(&r->store_io, r->fs, sb), OMC_OK);
}

static void rig_load(rig *r, const img *im)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(omc_memfs_new(&r->fs), OMC_OK);
	tf_image_put(&im->files, r->fs);
	rig_io(r, im->base);
}

static omc_err rig_open(rig *r, bool count_boot)
{
	omc_tre_opts o = {.io = r->io, .store_io = r->store_io, .count_boot = count_boot};
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

/* --- the visible state -------------------------------------------------------------- */

typedef struct view {
	char text[4096]; /* state, registry, users, audit count */
	uint64_t generation;
	omc_tre_state state;
} view;

static void view_take(omc_tre *t, view *v)
{
	memset(v, 0, sizeof *v);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	uint64_t count = 0;
	omc_err e = omc_tre_audit_verify(t, &count);
	if (e != OMC_OK)
		fail_msg("audit chain after the cut: %s (%lu records)", omc_err_name(e), (unsigned long)count);
	assert_int_equal(count, st.audit_count);
	size_t off = (size_t)snprintf(v->text, sizeof v->text, "%s audit=%lu", omc_tre_state_name(st.state),
				      (unsigned long)st.audit_count);
	omc_tre_mcim_info reg[16];
	size_t n;
	assert_int_equal(omc_tre_registry(t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(v->text + off, sizeof v->text - off, " %s/%s/%s/%u", reg[i].owner, reg[i].id,
					omc_mcim_state_name(reg[i].state), reg[i].version);
	omc_tre_user_info us[16];
	if (omc_tre_user_list(t, us, 16, &n) == OMC_OK)
		for (size_t i = 0; i < n; i++)
			off += (size_t)snprintf(v->text + off, sizeof v->text - off, " u:%s/%s/%u/%d", us[i].name,
						us[i].role, us[i].failures, us[i].blocked);
	assert_true(off < sizeof v->text);
	v->generation = st.generation;
	v->state = st.state;
}

/* --- the kinds of commit ------------------------------------------------------------ */

typedef struct kind {
	const char *name;
	img base;
	/* The call under test; returns what it answered. */
	omc_err (*op)(struct kind *k, omc_tre *t);
	/* What a successful call answers (OMC_OK, or the expected refusal). */
	omc_err want;
	/* State probes after the reboot (may commit). */
	void (*probe)(struct kind *k, omc_tre *t, bool is_new);
	bool count_boot; /* the call is the open itself */
	char *package, *command;
	omc_aka_av av;
} kind;

static omc_err op_install(kind *k, omc_tre *t)
{
	char *receipt = NULL;
	omc_err e = omc_tre_install(t, k->package, strlen(k->package), &receipt);
	omc_free(receipt);
	return e;
}

static omc_err op_command(kind *k, omc_tre *t)
{
	char *result = NULL;
	bool applied = false;
	omc_err e = omc_tre_command(t, k->command, strlen(k->command), &result, &applied);
	omc_free(result);
	if (e == OMC_OK && !applied)
		e = OMC_ERR_DENIED;
	return e;
}

static omc_err op_aka(kind *k, omc_tre *t)
{
	omc_aka_check_result r;
	omc_err e = omc_tre_aka(t, &agent, "m1", k->av.rand, k->av.autn, k->av.autn_len, &r);
	if (e == OMC_OK && r.status != OMC_AKA_STATUS_OK)
		e = OMC_ERR_SYNC_FAILURE;
	if (e == OMC_OK && !omc_ct_eq(r.res, k->av.xres, k->av.xres_len))
		e = OMC_ERR_MAC_FAILURE;
	omc_memzero(&r, sizeof r);
	return e;
}

static void probe_aka(kind *k, omc_tre *t, bool is_new)
{
	/* The same challenge again: stale if the new SQN state is durable. */
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(t, &agent, "m1", k->av.rand, k->av.autn, k->av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, is_new ? OMC_AKA_STATUS_SYNC_FAILURE : OMC_AKA_STATUS_OK);
	omc_memzero(&r, sizeof r);
}

static omc_err op_session(kind *k, omc_tre *t)
{
	(void)k;
	uint8_t nonce[16] = {0x5e, 0x55, 0x10, 0x4e};
	char *ev = NULL;
	omc_err e = omc_tre_session_begin(t, nonce, sizeof nonce, &ev);
	omc_free(ev);
	return e;
}

static omc_err op_tamper(kind *k, omc_tre *t)
{
	(void)k;
	return omc_tre_tamper(t, "enclosure opened");
}

static omc_err op_recover(kind *k, omc_tre *t)
{
	return omc_tre_recover(t, k->command, strlen(k->command));
}

static omc_err op_user_add(kind *k, omc_tre *t)
{
	(void)k;
	return omc_tre_user_add(t, NULL, "root", "admin", "2468", 4);
}

static omc_err op_user_auth_fail(kind *k, omc_tre *t)
{
	(void)k;
	omc_tre_caller c;
	return omc_tre_user_auth(t, "root", "1357", 4, &c);
}

static omc_err op_boot(kind *k, omc_tre *t)
{
	(void)k;
	(void)t;
	return OMC_OK; /* the open with count_boot is the commit */
}

/* --- the harness -------------------------------------------------------------------- */

static unsigned long dry_run(kind *k, view *old_v, view *new_v)
{
	rig r;
	rig_load(&r, &k->base);
	assert_int_equal(rig_open(&r, false), OMC_OK);
	view_take(r.t, old_v);
	rig_close_tre(&r);
	unsigned long before = omc_memfs_op_count(r.fs);
	assert_int_equal(rig_open(&r, k->count_boot), OMC_OK);
	omc_err e = k->op(k, r.t);
	if (e != k->want)
		fail_msg("%s: dry run answered %s, want %s", k->name, omc_err_name(e), omc_err_name(k->want));
	unsigned long n = omc_memfs_op_count(r.fs) - before;
	rig_close_tre(&r);
	omc_memfs_reboot(r.fs);
	assert_int_equal(rig_open(&r, false), OMC_OK);
	view_take(r.t, new_v);
	rig_free(&r);
	if (!strcmp(old_v->text, new_v->text))
		fail_msg("%s: the call changes nothing visible", k->name);
	return n;
}

static void run_kind(kind *k)
{
	view old_v, new_v;
	unsigned long n = dry_run(k, &old_v, &new_v);
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
			rig r;
			rig_load(&r, &k->base);
			omc_err e;
			if (k->count_boot) {
				omc_memfs_crash_at(r.fs, i, modes[m].mode, modes[m].seed * 7919 + i);
				e = rig_open(&r, true);
			} else {
				assert_int_equal(rig_open(&r, false), OMC_OK);
				omc_memfs_crash_at(r.fs, i, modes[m].mode, modes[m].seed * 7919 + i);
				e = k->op(k, r.t);
			}
			rig_close_tre(&r);
			omc_memfs_reboot(r.fs);
			n_points++;

			omc_err oe = rig_open(&r, false);
			if (oe != OMC_OK)
				fail_msg("%s: cut at %lu/%lu (mode %d): open: %s", k->name, i, n, (int)modes[m].mode,
					 omc_err_name(oe));
			view v;
			view_take(r.t, &v);
			bool is_old = !strcmp(v.text, old_v.text), is_new = !strcmp(v.text, new_v.text);
			if (!is_old && !is_new)
				fail_msg("%s: cut at %lu/%lu (mode %d): neither old nor new:\n  got %s\n  old %s\n  new %s",
					 k->name, i, n, (int)modes[m].mode, v.text, old_v.text, new_v.text);
			if (e == k->want && !is_new)
				fail_msg("%s: cut at %lu/%lu: the call answered %s but the old state came back",
					 k->name, i, n, omc_err_name(e));
			/* (The state's name is in the text: no lockdown unless the old or
			 * the new state is one.) */
			assert_true(v.generation >= old_v.generation);
			saw_old += is_old;
			saw_new += is_new;
			if (k->probe)
				k->probe(k, r.t, is_new);
			/* And it goes on: one more commit. */
			if (v.state != OMC_TRE_LOCKDOWN)
				assert_int_equal(op_session(k, r.t), OMC_OK);
			rig_free(&r);
		}
	}
	printf("# %-22s %3lu operations, %4lu cuts: old %lu, new %lu\n", k->name, n,
	       n * (sizeof modes / sizeof modes[0]), saw_old, saw_new);
	/* A cut before the first operation always leaves the old state. */
	assert_true(saw_old > 0);
}

/* --- the images -------------------------------------------------------------------- */

static omc_tre *dev_open(tf_dev *d)
{
	omc_tre_opts o = {.io = d->io, .store_io = d->store_io};
	omc_tre *t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	return t;
}

static char *recovery_auth(const char *tre_id, uint64_t counter)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)1, "tre", tre_id, "counter",
			      (json_int_t)counter, "iat", (json_int_t)time(NULL));
	return tf_sign("ro", "omc-recovery+jwt", p);
}

static void test_commit_kinds(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	kind k;

	/* The boot count (the daemon's open). */
	memset(&k, 0, sizeof k);
	k = (kind){.name = "boot", .op = op_boot, .want = OMC_OK, .count_boot = true};
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);

	/* A provisioning session. */
	k = (kind){.name = "session", .op = op_session, .want = OMC_OK};
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);

	/* A PCID renewal (CHG-4, CHG-5): the ICO's bootstrap MCIM replaces the
	 * PCID in one erasing commit. Cut anywhere, the old PCID or the new
	 * one comes back, never neither. (Not kept: the kinds below start
	 * from the factory PCID.) */
	omc_tre *t = dev_open(&d);
	uint8_t rnonce[16];
	tl_rand(rnonce, sizeof rnonce);
	char *rev = NULL;
	assert_int_equal(omc_tre_session_begin(t, rnonce, sizeof rnonce, &rev), OMC_OK);
	omc_tre_close(t);
	json_t *pm = tf_mcim("pcid", "ico", "001010000000042", K1, OPC1);
	assert_int_equal(json_object_set_new(pm, "role", json_string("bootstrap")), 0);
	assert_int_equal(json_object_set_new(pm, "version", json_integer(2)), 0);
	k = (kind){.name = "pcid renewal", .op = op_install, .want = OMC_OK};
	k.package = tf_package("ico", 1, d.tre_id, rnonce, sizeof rnonce, rev, pm, false);
	omc_free(rev);
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);
	omc_free(k.package);

	/* Install: the package is made for the session in the image. */
	t = dev_open(&d);
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_tre_close(t);
	k = (kind){.name = "install", .op = op_install, .want = OMC_OK};
	k.package = tf_package("sho1", 1, d.tre_id, nonce, sizeof nonce, ev,
			       tf_mcim("m1", "sho1", "001020000000071", K1, OPC1), false);
	omc_free(ev);
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);
	/* Install it for real, for the kinds below. */
	t = dev_open(&d);
	char *receipt = NULL;
	assert_int_equal(omc_tre_install(t, k.package, strlen(k.package), &receipt), OMC_OK);
	omc_free(receipt);
	omc_free(k.package);
	omc_tre_close(t);

	/* Each lifecycle change by signed command, in an order the table
	 * allows: installed -> activated -> deactivated -> activated (AKA
	 * runs here) -> blocked -> deactivated (unblock) -> deleted. */
	static const char *const cmds[] = {"activate", "deactivate", "activate", "block", "unblock", "delete"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "command %s", cmds[i]);
		k = (kind){.name = name, .op = op_command, .want = OMC_OK};
		k.command = tf_command("sho1", 2 + i, d.tre_id, cmds[i], "m1");
		img_take(&k.base, d.fs, &d);
		run_kind(&k);
		img_free(&k.base);
		if (i == 3) { /* before the block: activated */
			/* AKA with the SQN committed before RES, while activated. */
			kind a = {.name = "aka", .op = op_aka, .want = OMC_OK, .probe = probe_aka};
			tf_av(&a.av, K1, OPC1, 1000);
			img_take(&a.base, d.fs, &d);
			run_kind(&a);
			img_free(&a.base);
		}
		t = dev_open(&d);
		char *res = NULL;
		bool applied = false;
		assert_int_equal(omc_tre_command(t, k.command, strlen(k.command), &res, &applied), OMC_OK);
		assert_true(applied);
		omc_free(res);
		omc_free(k.command);
		omc_tre_close(t);
	}

	/* Local users: the first admin, then a counted failure. */
	k = (kind){.name = "user add", .op = op_user_add, .want = OMC_OK};
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);
	t = dev_open(&d);
	assert_int_equal(op_user_add(&k, t), OMC_OK);
	omc_tre_close(t);
	k = (kind){.name = "user auth failure", .op = op_user_auth_fail, .want = OMC_ERR_AUTH_FAILED};
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);

	/* Lockdown, then recovery. */
	k = (kind){.name = "tamper", .op = op_tamper, .want = OMC_OK};
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);
	t = dev_open(&d);
	assert_int_equal(omc_tre_tamper(t, "enclosure opened"), OMC_OK);
	uint64_t ctr;
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	omc_tre_close(t);
	k = (kind){.name = "recover", .op = op_recover, .want = OMC_OK};
	k.command = recovery_auth(d.tre_id, ctr);
	img_take(&k.base, d.fs, &d);
	run_kind(&k);
	img_free(&k.base);
	omc_free(k.command);

	tf_dev_free(&d);
}

/* The audit tail moving from the store to audit.log is a commit with an
 * extra write and sync in front: cut there too. */
static void test_audit_flush(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	for (int round = 0; round < 2; round++) { /* the file's creation, then an append */
		omc_tre *t = dev_open(&d);
		while (t->n_tail < OMC_TRE_AUDIT_TAIL_MAX)
			assert_int_equal(op_session(NULL, t), OMC_OK);
		omc_tre_close(t);
		kind k = {.name = round ? "audit append" : "audit create", .op = op_session, .want = OMC_OK};
		img_take(&k.base, d.fs, &d);
		run_kind(&k);
		img_free(&k.base);
		t = dev_open(&d);
		assert_int_equal(op_session(NULL, t), OMC_OK); /* the flush, for real */
		omc_tre_close(t);
	}
	tf_dev_free(&d);
}

/* The factory's first format: afterwards no device, or a whole one. */
static void test_factory_format(void **state)
{
	(void)state;
	/* Count the operations of one factory run. */
	omc_memfs *fs;
	assert_int_equal(omc_memfs_new(&fs), OMC_OK);
	rig r = {.fs = fs};
	rig_io(&r, "dev/");
	omc_factory_device_opts o = {.pki_dir = tf_pki(), .io = r.io, .store_io = r.store_io};
	char *rep = NULL;
	unsigned long before = omc_memfs_op_count(fs);
	assert_int_equal(omc_factory_device(&o, &rep), OMC_OK);
	unsigned long n = omc_memfs_op_count(fs) - before;
	omc_free(rep);
	rig_free(&r);
	unsigned long none = 0, whole = 0;
	for (unsigned long i = 1; i <= n; i++) {
		for (int m = 0; m < 3; m++) {
			assert_int_equal(omc_memfs_new(&fs), OMC_OK);
			r = (rig){.fs = fs};
			rig_io(&r, "dev/");
			o.io = r.io;
			o.store_io = r.store_io;
			omc_memfs_crash_at(fs, i, (omc_memfs_crash_mode)m, i);
			rep = NULL;
			omc_err e = omc_factory_device(&o, &rep);
			omc_free(rep);
			omc_memfs_reboot(fs);
			n_points++;
			omc_err oe = rig_open(&r, false);
			if (oe == OMC_OK) {
				view v;
				view_take(r.t, &v);
				assert_int_equal(v.state, OMC_TRE_PRISTINE);
				whole++;
			} else {
				if (oe != OMC_ERR_NOT_FOUND)
					fail_msg("factory cut at %lu/%lu (mode %d): open: %s", i, n, m,
						 omc_err_name(oe));
				if (e == OMC_OK)
					fail_msg("factory cut at %lu/%lu: answered OK but no device", i, n);
				none++;
				/* The factory line tries again on the same flash. */
				rep = NULL;
				e = omc_factory_device(&o, &rep);
				if (e != OMC_OK)
					fail_msg("factory cut at %lu/%lu (mode %d): second run: %s", i, n, m,
						 omc_err_name(e));
				omc_free(rep);
				assert_int_equal(rig_open(&r, false), OMC_OK);
				assert_int_equal(omc_tre_get_state(r.t), OMC_TRE_PRISTINE);
			}
			rig_free(&r);
		}
	}
	printf("# %-22s %3lu operations, %4lu cuts: none %lu, whole %lu\n", "factory format", n, 3 * n, none,
	       whole);
	assert_true(none > 0 && whole > 0);
}

static int report(void **state)
{
	(void)state;
	printf("# tre crash points tried: %lu\n", n_points);
	return 0;
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_kinds),
		cmocka_unit_test(test_audit_flush),
		cmocka_unit_test(test_factory_format),
	};
	return cmocka_run_group_tests(tests, NULL, report);
}
