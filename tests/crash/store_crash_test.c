/* Power cut at every I/O operation of every kind of commit (MCUboot's
 * run_perm_with_fails, SQLite's crash tests; tre-anchors 8 rows 1, 2, 4, 13).
 *
 * For each commit kind (format, first put, update, shrink, multi-op put +
 * delete, delete with ERASE, 50 mixed commits) a dry run counts the mutating
 * operations N; then for every i in 1..N and every power-loss mode (unsynced
 * data lost, kept, or torn by 512-byte sectors under several seeds) the
 * commit runs with the cut before operation i, the machine reboots, and the
 * store must open (a roll-forward is fine) with exactly the old or the new
 * content, its counter never lower than before and equal to the generation,
 * no object failing verification, and no CORRUPT or ROLLBACK ever; and it
 * must take a further commit. Each recovery open is itself cut at each of
 * its own operations (a second power cut during recovery) and must then
 * give the same result. Last, an endurance run of 1000 commits with random
 * cuts checks the same, and that the files stay bounded.
 * covers: TRE-2, TRE-4, SEC-2, SEC-5 */
#include "testlib.h"
#include "openmcim/store.h"
#include "util/util_internal.h"

#include <openssl/evp.h>

static const uint8_t KEY[32] = {0x63, 0x72, 0x61, 0x73, 0x68, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x11,
				0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
				0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};

static uint64_t prng_state = 0x0123456789abcdefu;
static uint64_t rnd(void)
{
	uint64_t z = (prng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned long n_points;   /* (crash point, mode) pairs */
static unsigned long n_recovery; /* second cuts during recovery */
static uint64_t run_no;          /* makes every TEAR run's seed distinct */

static uint64_t tear_seed(uint64_t base)
{
	return base * UINT64_C(1000003) + ++run_no;
}

/* --- file-system snapshots (durable view) ------------------------------------------- */

#define SNAP_MAX 16
typedef struct fsnap {
	size_t n;
	char *path[SNAP_MAX];
	uint8_t *data[SNAP_MAX];
	size_t len[SNAP_MAX];
} fsnap;

static void fsnap_take(omc_memfs *fs, fsnap *s)
{
	char *paths = NULL;
	size_t plen = 0;
	memset(s, 0, sizeof *s);
	assert_err(omc_memfs_list(fs, &paths, &plen), OMC_OK);
	for (size_t off = 0; off < plen; off += strlen(&paths[off]) + 1) {
		assert_true(s->n < SNAP_MAX);
		s->path[s->n] = strdup(&paths[off]);
		assert_err(omc_memfs_raw_get(fs, &paths[off], &s->data[s->n], &s->len[s->n]), OMC_OK);
		s->n++;
	}
	omc_free(paths);
}

static omc_memfs *fsnap_restore(const fsnap *s)
{
	omc_memfs *fs = NULL;
	assert_err(omc_memfs_new(&fs), OMC_OK);
	for (size_t i = 0; i < s->n; i++)
		assert_err(omc_memfs_raw_put(fs, s->path[i], s->data[i], s->len[i]), OMC_OK);
	return fs;
}

static void fsnap_free(fsnap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->path[i]);
		omc_free(s->data[i]);
	}
	memset(s, 0, sizeof *s);
}

static size_t fs_total_bytes(omc_memfs *fs)
{
	fsnap s;
	fsnap_take(fs, &s);
	size_t total = 0;
	for (size_t i = 0; i < s.n; i++)
		total += s.len[i];
	fsnap_free(&s);
	return total;
}

/* --- a device: fs, io, ARD, store ------------------------------------------------------ */

typedef struct rig {
	omc_memfs *fs;
	omc_store_io *io;
	omc_store_ard *ard;
	omc_store *s;
} rig;

static void rig_attach(rig *r, omc_memfs *fs)
{
	memset(r, 0, sizeof *r);
	r->fs = fs;
	assert_err(omc_store_io_mem_new(&r->io, fs, ""), OMC_OK);
}

static void rig_close(rig *r)
{
	omc_store_close(r->s);
	omc_store_ard_sw_free(r->ard);
	r->s = NULL;
	r->ard = NULL;
}

static void rig_free(rig *r)
{
	rig_close(r);
	omc_store_io_mem_free(r->io);
	omc_memfs_free(r->fs);
	memset(r, 0, sizeof *r);
}

/* What a TRE does at boot: create the counter only for a store that does
 * not exist, then open (formatting if asked to). */
static omc_err rig_open(rig *r, bool create)
{
	rig_close(r);
	omc_err err = omc_store_ard_sw_new(&r->ard, r->io, KEY, create && !omc_store_exists(r->io));
	if (err != OMC_OK)
		return err;
	const omc_store_opts o = {.io = r->io, .ard = r->ard, .create = create};
	return omc_store_open(&r->s, KEY, &o);
}

/* --- visible state ------------------------------------------------------------------------- */

typedef struct vstate {
	bool exists;
	uint64_t gen;
	uint8_t digest[32]; /* SHA-256 over (id, length, content) of every object in order */
} vstate;

typedef struct digest_acc {
	omc_store *s;
	EVP_MD_CTX *md;
} digest_acc;

static void digest_cb(void *arg, const char *id)
{
	digest_acc *a = arg;
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(a->s, id, &d, &n), OMC_OK);
	const uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	assert_int_equal(EVP_DigestUpdate(a->md, id, strlen(id) + 1), 1);
	assert_int_equal(EVP_DigestUpdate(a->md, len, 4), 1);
	assert_int_equal(EVP_DigestUpdate(a->md, d, n), 1);
	omc_free(d);
}

static void state_of(omc_store *s, vstate *st)
{
	memset(st, 0, sizeof *st);
	st->exists = true;
	st->gen = omc_store_generation(s);
	digest_acc a = {.s = s, .md = EVP_MD_CTX_new()};
	assert_non_null(a.md);
	assert_int_equal(EVP_DigestInit_ex(a.md, EVP_sha256(), NULL), 1);
	assert_err(omc_store_list(s, "", digest_cb, &a), OMC_OK);
	assert_int_equal(EVP_DigestFinal_ex(a.md, st->digest, NULL), 1);
	EVP_MD_CTX_free(a.md);
	size_t n_bad = 1;
	assert_err(omc_store_verify(s, NULL, NULL, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
}

static bool state_eq(const vstate *a, const vstate *b)
{
	return a->exists == b->exists && (!a->exists || memcmp(a->digest, b->digest, 32) == 0);
}

static uint64_t counter_of(rig *r)
{
	uint64_t c = 0;
	uint32_t f = 0;
	assert_err(r->ard->read(r->ard->ctx, &c, &f), OMC_OK);
	return c;
}

/* --- one scenario ---------------------------------------------------------------------------- */

typedef struct commit_arg {
	const omc_store_op *ops;
	size_t n;
	unsigned flags;
} commit_arg;

typedef struct scenario {
	const char *name;
	bool format; /* the action is "create the ARD and format" */
	commit_arg c;
} scenario;

static omc_err act(rig *r, const scenario *sc)
{
	if (sc->format)
		return rig_open(r, true);
	return omc_store_commit(r->s, sc->c.ops, sc->c.n, sc->c.flags);
}

static const struct {
	omc_memfs_crash_mode mode;
	uint64_t seed;
} modes[] = {
	{OMC_MEMFS_LOSE_UNSYNCED, 0},  {OMC_MEMFS_KEEP_UNSYNCED, 0},  {OMC_MEMFS_TEAR_UNSYNCED, 1},
	{OMC_MEMFS_TEAR_UNSYNCED, 2},  {OMC_MEMFS_TEAR_UNSYNCED, 3},  {OMC_MEMFS_TEAR_UNSYNCED, 4},
	{OMC_MEMFS_TEAR_UNSYNCED, 5},  {OMC_MEMFS_TEAR_UNSYNCED, 6},  {OMC_MEMFS_TEAR_UNSYNCED, 7},
	{OMC_MEMFS_TEAR_UNSYNCED, 0xfeedfacecafe},
};

/* The boot after a power cut: the state it finds (a virgin device is a
 * valid outcome only of a format). Fails the test on any error. */
static void recover(rig *r, const scenario *sc, vstate *st)
{
	memset(st, 0, sizeof *st);
	if (!omc_store_exists(r->io)) {
		if (!sc->format)
			fail_msg("%s: the store vanished", sc->name);
		return; /* virgin: the old state of a format */
	}
	const omc_err err = rig_open(r, false);
	if (err != OMC_OK)
		fail_msg("%s: open after the power cut: %s", sc->name, omc_err_name(err));
	state_of(r->s, st);
	assert_int_equal(counter_of(r), st->gen);
}

/* The outcome must be exactly old or new (with ERASE, the intermediate
 * generation holds the new content). */
static void check_outcome(const scenario *sc, const vstate *old, const vstate *new_st, const vstate *got,
			  uint64_t c_before, uint64_t c_after, unsigned long i, size_t m)
{
	const bool is_old = state_eq(got, old) && (!got->exists || got->gen == old->gen);
	const bool is_new = state_eq(got, new_st) &&
			    (got->gen == new_st->gen || ((sc->c.flags & OMC_STORE_ERASE) && got->gen == new_st->gen - 1));
	if (!is_old && !is_new)
		fail_msg("%s: cut at op %lu (mode %zu): state at generation %llu is neither old (%llu) nor new (%llu)",
			 sc->name, i, m, (unsigned long long)got->gen, (unsigned long long)old->gen,
			 (unsigned long long)new_st->gen);
	if (got->exists && c_after < c_before)
		fail_msg("%s: cut at op %lu: counter went back from %llu to %llu", sc->name, i,
			 (unsigned long long)c_before, (unsigned long long)c_after);
}

/* After a recovery, the store takes one more commit and keeps it. */
static void check_usable(rig *r, const scenario *sc)
{
	if (r->s == NULL) { /* virgin after a cut format: formatting again works */
		assert_true(sc->format);
		assert_err(rig_open(r, true), OMC_OK);
		assert_int_equal(omc_store_generation(r->s), 1);
	}
	const uint64_t g = omc_store_generation(r->s);
	const omc_store_op op = {.id = "after/crash", .data = (const uint8_t *)"still works", .len = 11};
	assert_err(omc_store_commit(r->s, &op, 1, 0), OMC_OK);
	omc_memfs_reboot(r->fs); /* a power cut right after: the commit is durable */
	assert_err(rig_open(r, false), OMC_OK);
	assert_int_equal(omc_store_generation(r->s), g + 1);
	assert_false(omc_store_rolled_forward(r->s));
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(r->s, "after/crash", &d, &n), OMC_OK);
	assert_int_equal(n, 11);
	omc_free(d);
}

/* A second power cut at each operation of the recovery open: the next boot
 * must reach the same state the uninterrupted recovery reached. */
static void cut_recovery(const fsnap *post, const scenario *sc, const vstate *want, size_t m)
{
	/* Count the recovery's own operations. */
	rig r;
	rig_attach(&r, fsnap_restore(post));
	vstate st;
	const unsigned long before = omc_memfs_op_count(r.fs);
	recover(&r, sc, &st);
	const unsigned long ops = omc_memfs_op_count(r.fs) - before;
	rig_free(&r);
	for (unsigned long j = 1; j <= ops; j++) {
		rig_attach(&r, fsnap_restore(post));
		omc_memfs_crash_at(r.fs, j, modes[m].mode, tear_seed(modes[m].seed));
		assert_true(rig_open(&r, false) != OMC_OK);
		rig_close(&r);
		omc_memfs_reboot(r.fs);
		recover(&r, sc, &st);
		if (!state_eq(&st, want) || st.gen != want->gen)
			fail_msg("%s: a cut at recovery op %lu changed the outcome", sc->name, j);
		rig_free(&r);
		n_recovery++;
	}
}

/* Runs sc from the durable state pre; on return *next holds the state after
 * an uninterrupted run (the next scenario's starting point). */
static void run_scenario(const fsnap *pre, const scenario *sc, fsnap *next)
{
	/* Dry run: the old and new states and the operation count. */
	rig r;
	rig_attach(&r, fsnap_restore(pre));
	vstate old, new_st;
	memset(&old, 0, sizeof old);
	uint64_t c0 = 0;
	if (!sc->format) {
		assert_err(rig_open(&r, false), OMC_OK);
		state_of(r.s, &old);
		c0 = counter_of(&r);
	}
	const unsigned long ops0 = omc_memfs_op_count(r.fs);
	assert_err(act(&r, sc), OMC_OK);
	const unsigned long n_ops = omc_memfs_op_count(r.fs) - ops0;
	state_of(r.s, &new_st);
	fsnap_take(r.fs, next);
	rig_free(&r);

	for (unsigned long i = 1; i <= n_ops; i++) {
		for (size_t m = 0; m < OMC_ARRAY_LEN(modes); m++) {
			rig_attach(&r, fsnap_restore(pre));
			if (!sc->format)
				assert_err(rig_open(&r, false), OMC_OK);
			omc_memfs_crash_at(r.fs, i, modes[m].mode, tear_seed(modes[m].seed));
			if (act(&r, sc) == OMC_OK)
				fail_msg("%s: no power cut at op %lu of %lu", sc->name, i, n_ops);
			rig_close(&r);
			omc_memfs_reboot(r.fs);

			fsnap post;
			fsnap_take(r.fs, &post);
			vstate got;
			recover(&r, sc, &got);
			const uint64_t c1 = got.exists ? counter_of(&r) : 0;
			check_outcome(sc, &old, &new_st, &got, c0, c1, i, m);
			check_usable(&r, sc);
			rig_free(&r);
			cut_recovery(&post, sc, &got, m);
			fsnap_free(&post);
			n_points++;
		}
	}
}

/* --- the commit kinds ------------------------------------------------------------------------ */

static uint8_t *rand_buf(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
	return p;
}

static void test_commit_kinds(void **state)
{
	(void)state;
	n_points = n_recovery = 0;
	fsnap pre, next;
	memset(&pre, 0, sizeof pre); /* an empty device */

	const scenario format = {.name = "format", .format = true};
	run_scenario(&pre, &format, &next);
	fsnap_free(&pre);
	pre = next;

	uint8_t *big = rand_buf(3000), *mid = rand_buf(700), *small = rand_buf(40);
	const omc_store_op first[] = {{.id = "mcim/1", .data = big, .len = 3000}};
	const omc_store_op more[] = {
		{.id = "tre/state", .data = small, .len = 40},
		{.id = "users", .data = mid, .len = 700},
	};
	const omc_store_op update[] = {{.id = "mcim/1", .data = mid, .len = 700}}; /* shorter: zero tail */
	const omc_store_op grow[] = {{.id = "users", .data = big, .len = 3000}};
	const omc_store_op multi[] = {
		{.id = "mcim/2", .data = mid, .len = 700},
		{.id = "tre/state", .del = true},
		{.id = "mcim/1", .data = small, .len = 40},
	};
	const omc_store_op erase[] = {{.id = "mcim/2", .del = true}};
	const scenario kinds[] = {
		{.name = "first put", .c = {first, 1, 0}},
		{.name = "two puts", .c = {more, 2, 0}},
		{.name = "update (shrink)", .c = {update, 1, 0}},
		{.name = "update (grow)", .c = {grow, 1, 0}},
		{.name = "multi-op put+delete", .c = {multi, 3, 0}},
		{.name = "delete with ERASE", .c = {erase, 1, OMC_STORE_ERASE}},
		{.name = "empty commit", .c = {NULL, 0, 0}},
	};
	for (size_t k = 0; k < OMC_ARRAY_LEN(kinds); k++) {
		run_scenario(&pre, &kinds[k], &next);
		fsnap_free(&pre);
		pre = next;
	}
	fsnap_free(&pre);
	free(big);
	free(mid);
	free(small);
	print_message("commit kinds: %lu crash points x modes, %lu second cuts during recovery\n", n_points,
		      n_recovery);
}

/* Random commits over a small id space: puts of 0..5000 bytes (several
 * sectors), overwrites, deletes, sometimes several at once, sometimes ERASE. */
#define N_IDS 12
typedef struct mix {
	bool present[N_IDS];
	char names[N_IDS][16];
	omc_store_op ops[4];
	uint8_t *bufs[4];
	size_t n;
	unsigned flags;
} mix;

static void mix_init(mix *x)
{
	memset(x, 0, sizeof *x);
	for (int i = 0; i < N_IDS; i++)
		snprintf(x->names[i], sizeof x->names[i], "obj/%02d", i);
}

static void mix_make(mix *x)
{
	x->n = 1 + (size_t)(rnd() % 4);
	x->flags = rnd() % 5 == 0 ? OMC_STORE_ERASE : 0;
	bool used[N_IDS] = {false};
	for (size_t k = 0; k < x->n; k++) {
		size_t id;
		do
			id = (size_t)(rnd() % N_IDS);
		while (used[id]);
		used[id] = true;
		x->bufs[k] = NULL;
		if (x->present[id] && rnd() % 3 == 0) {
			x->ops[k] = (omc_store_op){.id = x->names[id], .del = true};
			x->present[id] = false;
		} else {
			const size_t len = rnd() % 4 == 0 ? (size_t)(rnd() % 5001) : (size_t)(rnd() % 300);
			x->bufs[k] = rand_buf(len);
			x->ops[k] = (omc_store_op){.id = x->names[id], .data = x->bufs[k], .len = len};
			x->present[id] = true;
		}
	}
}

static void mix_free_bufs(mix *x)
{
	for (size_t k = 0; k < x->n; k++)
		free(x->bufs[k]);
}

static void test_mixed_commits(void **state)
{
	(void)state;
	n_points = n_recovery = 0;
	prng_state = 42;
	fsnap pre, next;
	memset(&pre, 0, sizeof pre);
	const scenario format = {.name = "format", .format = true};
	run_scenario(&pre, &format, &next);
	pre = next;
	mix x;
	mix_init(&x);
	for (int k = 0; k < 50; k++) {
		mix_make(&x);
		char name[32];
		snprintf(name, sizeof name, "mixed commit %d", k);
		const scenario sc = {.name = name, .c = {x.ops, x.n, x.flags}};
		run_scenario(&pre, &sc, &next);
		fsnap_free(&pre);
		pre = next;
		mix_free_bufs(&x);
	}
	fsnap_free(&pre);
	print_message("50 mixed commits: %lu crash points x modes, %lu second cuts during recovery\n", n_points,
		      n_recovery);
}

/* A cut inside the roll-forward itself, spelled out: the commit stops just
 * before the counter moves, the next boot is cut while rolling forward (at
 * each of its operations, in each mode), and the one after that finishes. */
static void test_cut_during_roll_forward(void **state)
{
	(void)state;
	rig r;
	omc_memfs *fs = NULL;
	assert_err(omc_memfs_new(&fs), OMC_OK);
	rig_attach(&r, fs);
	assert_err(rig_open(&r, true), OMC_OK);
	const omc_store_op op = {.id = "x", .data = (const uint8_t *)"new", .len = 3};
	/* objs pwrite, sync, root pwrite, sync, sync_dir (first commit into
	 * slot b), then the ARD's pwrite: cut there. */
	omc_memfs_crash_at(r.fs, 6, OMC_MEMFS_LOSE_UNSYNCED, 0);
	assert_err(omc_store_commit(r.s, &op, 1, 0), OMC_ERR_IO);
	rig_close(&r);
	omc_memfs_reboot(r.fs);
	fsnap post;
	fsnap_take(r.fs, &post);
	rig_free(&r);

	unsigned long cuts = 0;
	for (unsigned long j = 1;; j++) {
		bool cut_happened = false;
		for (size_t m = 0; m < OMC_ARRAY_LEN(modes); m++) {
			rig_attach(&r, fsnap_restore(&post));
			omc_memfs_crash_at(r.fs, j, modes[m].mode, tear_seed(modes[m].seed));
			const omc_err err = rig_open(&r, false);
			if (err == OMC_OK) { /* j is past the recovery's last operation */
				assert_true(omc_store_rolled_forward(r.s));
				rig_free(&r);
				continue;
			}
			cut_happened = true;
			rig_close(&r);
			omc_memfs_reboot(r.fs);
			assert_err(rig_open(&r, false), OMC_OK);
			assert_int_equal(omc_store_generation(r.s), 2);
			assert_int_equal(counter_of(&r), 2);
			uint8_t *d = NULL;
			size_t n = 0;
			assert_err(omc_store_get(r.s, "x", &d, &n), OMC_OK);
			assert_memory_equal(d, "new", 3);
			omc_free(d);
			rig_free(&r);
			cuts++;
		}
		if (!cut_happened)
			break;
	}
	fsnap_free(&post);
	print_message("roll-forward cut at each of its operations: %lu cuts\n", cuts);
	assert_true(cuts >= 4 * OMC_ARRAY_LEN(modes)); /* sync, sync, sync_dir, ARD write, ARD sync */
}

/* --- endurance ---------------------------------------------------------------------------------- */

static void test_endurance(void **state)
{
	(void)state;
	prng_state = 7;
	omc_memfs *fs = NULL;
	assert_err(omc_memfs_new(&fs), OMC_OK);
	rig r;
	rig_attach(&r, fs);
	assert_err(rig_open(&r, true), OMC_OK);
	mix x;
	mix_init(&x);
	vstate cur;
	state_of(r.s, &cur);
	unsigned long crashes = 0, rolled = 0, kept_new = 0;
	size_t max_bytes = 0;
	for (int k = 0; k < 1000; k++) {
		const bool crash = rnd() % 2 == 0;
		mix_make(&x);
		if (crash)
			omc_memfs_crash_at(r.fs, 1 + (unsigned long)(rnd() % 14), (omc_memfs_crash_mode)(rnd() % 3), rnd());
		const omc_err err = omc_store_commit(r.s, x.ops, x.n, x.flags);
		omc_memfs_crash_at(r.fs, 0, OMC_MEMFS_LOSE_UNSYNCED, 0); /* disarm if not reached */
		vstate got;
		if (err == OMC_OK) {
			state_of(r.s, &got);
		} else {
			assert_err(err, OMC_ERR_IO);
			crashes++;
			rig_close(&r);
			omc_memfs_reboot(r.fs);
			assert_err(rig_open(&r, false), OMC_OK);
			rolled += omc_store_rolled_forward(r.s);
			state_of(r.s, &got);
			if (!state_eq(&got, &cur))
				kept_new++;
		}
		assert_true(got.gen >= cur.gen);
		assert_int_equal(counter_of(&r), got.gen);
		/* Resync the model's idea of which ids exist with the store. */
		for (int i = 0; i < N_IDS; i++) {
			uint8_t *d = NULL;
			size_t n = 0;
			const omc_err e = omc_store_get(r.s, x.names[i], &d, &n);
			assert_true(e == OMC_OK || e == OMC_ERR_NOT_FOUND);
			x.present[i] = e == OMC_OK;
			omc_free(d);
		}
		cur = got;
		mix_free_bufs(&x);
		const size_t bytes = fs_total_bytes(r.fs);
		max_bytes = bytes > max_bytes ? bytes : max_bytes;
	}
	/* Bounded: at most 12 objects of 5000 bytes, twice (A/B), plus roots,
	 * counters and slack; no garbage piles up. */
	assert_true(max_bytes < 2 * N_IDS * (5000 + 28) + 8192);
	print_message("endurance: 1000 commits, %lu power cuts (%lu rolled forward, %lu kept the new state), "
		      "largest footprint %zu bytes\n",
		      crashes, rolled, kept_new, max_bytes);
	rig_free(&r);
}

int main(void)
{
	omc_log_set_level(OMC_LOG_NONE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_kinds),
		cmocka_unit_test(test_mixed_commits),
		cmocka_unit_test(test_cut_during_roll_forward),
		cmocka_unit_test(test_endurance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
