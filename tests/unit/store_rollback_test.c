/* The rollback matrix (tre-anchors 8 row 3, TF-M PS 3001-3009 style).
 *
 * A store goes through generations 1..6 (generation g adds object obj/g and
 * rewrites "common", so every objs file is longer than the one before),
 * keeping a copy of every file after each generation. Each row then puts
 * back old root.X, objs.X and arb.X files, singly and in combinations, or
 * removes files, or runs the store against a test ARD whose counter is set
 * to C-2 .. C+2 and the extremes, and asserts the exact outcome: OK, roll
 * forward (to which generation), ROLLBACK or CORRUPT; for OK rows also the
 * exact visible content of that generation.
 *
 * Two rows document the software ARD's limit (docs/store.md, threat model):
 * whoever can write the whole directory can replay all of it, or the counter
 * together with one slot, and the store cannot tell. The PVA's generation
 * tracking is the backstop for that.
 * covers: TRE-4, SEC-5, TRE-2, SEC-2 */
#include "testlib.h"
#include "openmcim/store.h"
#include "util/util_internal.h"

static const uint8_t KEY[32] = {0x72, 0x6f, 0x6c, 0x6c, 0x62, 0x61, 0x63, 0x6b, 9, 8, 7, 6, 5, 4, 3, 2,
				1,    0,    1,    2,    3,    4,    5,    6,    7, 8, 9, 10, 11, 12, 13, 14};

#define GENS 6

/* --- files and snapshots ----------------------------------------------------------- */

enum {
	RA = 1u << 0, /* root.a */
	RB = 1u << 1,
	OA = 1u << 2, /* objs.a */
	OB = 1u << 3,
	AA = 1u << 4, /* arb.a */
	AB = 1u << 5,
	ALL_STORE = RA | RB | OA | OB,
	ALL_ARB = AA | AB,
	ALL = ALL_STORE | ALL_ARB,
};
static const char *const file_names[6] = {"root.a", "root.b", "objs.a", "objs.b", "arb.a", "arb.b"};

typedef struct snap {
	uint8_t *data[6];
	size_t len[6];
	bool present[6];
} snap;

static void snap_take(omc_memfs *fs, snap *s)
{
	for (int i = 0; i < 6; i++) {
		s->data[i] = NULL;
		s->present[i] = omc_memfs_raw_get(fs, file_names[i], &s->data[i], &s->len[i]) == OMC_OK;
	}
}

static void snap_free(snap *s)
{
	for (int i = 0; i < 6; i++)
		omc_free(s->data[i]);
}

/* --- content of each generation -------------------------------------------------------- */

static void value_of(char *out, size_t cap, int k)
{
	/* obj/k grows with k so that later objs files are longer. */
	snprintf(out, cap, "value of object %d: %.*s", k, 4 * k, "................................");
}

static omc_err commit_gen(omc_store *s, int g)
{
	char id[24], v[128], common[24];
	snprintf(id, sizeof id, "obj/%d", g);
	value_of(v, sizeof v, g);
	snprintf(common, sizeof common, "common %d", g);
	const omc_store_op ops[] = {
		{.id = id, .data = (const uint8_t *)v, .len = strlen(v)},
		{.id = "common", .data = (const uint8_t *)common, .len = strlen(common)},
	};
	return omc_store_commit(s, ops, 2, 0);
}

typedef struct acc {
	omc_store *s;
	char buf[2048];
} acc;

static void acc_cb(void *arg, const char *id)
{
	acc *a = arg;
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(a->s, id, &d, &n), OMC_OK);
	const size_t l = strlen(a->buf);
	snprintf(a->buf + l, sizeof a->buf - l, "%s=%.*s;", id, (int)n, (const char *)d);
	omc_free(d);
}

static void expect_content(omc_store *s, uint64_t g)
{
	char want[2048] = "";
	if (g >= 2) {
		snprintf(want, sizeof want, "common=common %d;", (int)g);
		for (int k = 2; k <= (int)g; k++) {
			char v[128];
			value_of(v, sizeof v, k);
			const size_t l = strlen(want);
			snprintf(want + l, sizeof want - l, "obj/%d=%s;", k, v);
		}
	}
	acc a = {.s = s, .buf = ""};
	assert_err(omc_store_list(s, "", acc_cb, &a), OMC_OK);
	if (strcmp(a.buf, want) != 0)
		fail_msg("content of generation %d: got %s, want %s", (int)g, a.buf, want);
	size_t n_bad = 1;
	assert_err(omc_store_verify(s, NULL, NULL, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
}

/* --- a test ARD whose counter the test sets, or that is absent or corrupt ---------- */

typedef struct test_ard {
	omc_store_ard ard;
	uint64_t counter;
	uint32_t flags;
	omc_err read_err;
} test_ard;

static omc_err t_read(void *ctx, uint64_t *counter, uint32_t *flags)
{
	const test_ard *t = ctx;
	if (t->read_err != OMC_OK)
		return t->read_err;
	*counter = t->counter;
	*flags = t->flags;
	return OMC_OK;
}

static omc_err t_advance(void *ctx, uint64_t value)
{
	test_ard *t = ctx;
	if (t->read_err != OMC_OK)
		return t->read_err;
	if (value <= t->counter)
		return OMC_ERR_BAD_ARG;
	t->counter = value;
	return OMC_OK;
}

static omc_err t_set_flags(void *ctx, uint32_t bits)
{
	((test_ard *)ctx)->flags |= bits;
	return OMC_OK;
}

static omc_err t_clear_flags(void *ctx, uint32_t bits)
{
	((test_ard *)ctx)->flags &= ~bits;
	return OMC_OK;
}

static void test_ard_init(test_ard *t, uint64_t counter, omc_err read_err)
{
	*t = (test_ard){.counter = counter, .read_err = read_err};
	t->ard = (omc_store_ard){
		.read = t_read, .advance = t_advance, .set_flags = t_set_flags, .clear_flags = t_clear_flags, .ctx = t};
}

/* --- the matrix ---------------------------------------------------------------------------- */

enum ard_kind { SW, TEST_C, TEST_ABSENT, TEST_CORRUPT };
enum special { NONE = 0, SWAP_SLOTS, COPY_B_TO_A };

typedef struct row {
	const char *name;
	int from;         /* put back files from the copy taken after generation `from` ... */
	unsigned files;   /* ... these ones */
	int from2;        /* and a second set */
	unsigned files2;
	unsigned remove;  /* then delete these */
	enum special special;
	enum ard_kind ard;
	int64_t c_delta;  /* TEST_C: counter = C + c_delta (C = 6) */
	uint64_t c_abs;   /* TEST_C with c_delta == INT64_MIN: this counter */
	omc_err want;
	bool rolled;
	uint64_t gen;     /* for OK: the generation opened */
} row;

#define ABS INT64_MIN

/* Now: root.a = r5, objs.a = o5, root.b = r6, objs.b = o6, counter C = 6
 * (arb.a gen 7 counter 6, arb.b gen 6 counter 5). Generation g was written
 * to slot a if g is odd, b if even. */
static const row rows[] = {
	{"untouched", 0, 0, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},

	/* Old root or objs files, singly. */
	{"old root.b (r4) over r6", 4, RB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"old root.b (r2) over r6", 2, RB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"old root.a (r3), inactive slot", 3, RA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"old root.a (r1), inactive slot", 1, RA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"old objs.b (o4) under r6", 4, OB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"old objs.a (o3), inactive slot", 3, OA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},

	/* Combinations of store files. */
	{"old slot b (r4+o4)", 4, RB | OB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"old slot a (r3+o3)", 3, RA | OA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"all store files of g4", 4, ALL_STORE, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"all store files of g5", 5, ALL_STORE, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"all store files of g2", 2, ALL_STORE, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"store files of g4, root.b of g6", 4, ALL_STORE, 6, RB, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"slot b of g4, slot a of g6 (r5+o5)", 4, RB | OB, 6, RA | OA, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},

	/* Old counter files. */
	{"arb of g5 (C = 5)", 5, ALL_ARB, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, true, 6},
	{"arb of g4 (C = 4)", 4, ALL_ARB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"arb of g1 (C = 1)", 1, ALL_ARB, 0, 0, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"old arb.a (counter 4) alone", 4, AA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, true, 6},
	{"old arb.b (counter 3) alone", 4, AB, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"arb.a from g3 (counter 2) alone", 3, AA, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, true, 6},

	/* Store and counter together. */
	{"everything of g4 (full replay: undetectable)", 4, ALL, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 4},
	{"everything of g1", 1, ALL, 0, 0, 0, NONE, SW, 0, 0, OMC_OK, false, 1},
	{"slot b + arb of g4 (replay of one slot and the counter: undetectable)", 4, RB | OB | ALL_ARB, 0, 0, 0,
	 NONE, SW, 0, 0, OMC_OK, true, 5},
	{"store of g4, arb of g5", 4, ALL_STORE, 5, ALL_ARB, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"store of g5, arb of g4", 5, ALL_STORE, 4, ALL_ARB, 0, NONE, SW, 0, 0, OMC_OK, true, 5},
	{"store of g5, arb of g3", 5, ALL_STORE, 3, ALL_ARB, 0, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},

	/* Files removed. */
	{"root.b removed", 0, 0, 0, 0, RB, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"objs.b removed", 0, 0, 0, 0, OB, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"root.a removed", 0, 0, 0, 0, RA, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"objs.a removed", 0, 0, 0, 0, OA, NONE, SW, 0, 0, OMC_OK, false, 6},
	{"both roots removed", 0, 0, 0, 0, RA | RB, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"all store files removed", 0, 0, 0, 0, ALL_STORE, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"both arb files removed", 0, 0, 0, 0, ALL_ARB, NONE, SW, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"newest arb (arb.a) removed", 0, 0, 0, 0, AA, NONE, SW, 0, 0, OMC_OK, true, 6},
	{"older arb (arb.b) removed", 0, 0, 0, 0, AB, NONE, SW, 0, 0, OMC_OK, false, 6},

	/* Slots are interchangeable: a root does not name its slot. */
	{"slots swapped", 0, 0, 0, 0, 0, SWAP_SLOTS, SW, 0, 0, OMC_OK, false, 6},
	{"slot b copied over slot a", 0, 0, 0, 0, 0, COPY_B_TO_A, SW, 0, 0, OMC_OK, false, 6},

	/* The counter against g* = 6 (test ARD). */
	{"counter C-2 (g* = C+2)", 0, 0, 0, 0, 0, NONE, TEST_C, -2, 0, OMC_ERR_ROLLBACK, false, 0},
	{"counter C-1 (g* = C+1)", 0, 0, 0, 0, 0, NONE, TEST_C, -1, 0, OMC_OK, true, 6},
	{"counter C (g* = C)", 0, 0, 0, 0, 0, NONE, TEST_C, 0, 0, OMC_OK, false, 6},
	{"counter C+1 (g* = C-1)", 0, 0, 0, 0, 0, NONE, TEST_C, 1, 0, OMC_ERR_ROLLBACK, false, 0},
	{"counter C+2 (g* = C-2)", 0, 0, 0, 0, 0, NONE, TEST_C, 2, 0, OMC_ERR_ROLLBACK, false, 0},
	{"counter 0", 0, 0, 0, 0, 0, NONE, TEST_C, ABS, 0, OMC_ERR_ROLLBACK, false, 0},
	{"counter at max", 0, 0, 0, 0, 0, NONE, TEST_C, ABS, UINT64_MAX, OMC_ERR_ROLLBACK, false, 0},
	{"counter at max - 1", 0, 0, 0, 0, 0, NONE, TEST_C, ABS, UINT64_MAX - 1, OMC_ERR_ROLLBACK, false, 0},
	{"counter absent", 0, 0, 0, 0, 0, NONE, TEST_ABSENT, 0, 0, OMC_ERR_ROLLBACK, false, 0},
	{"counter corrupt", 0, 0, 0, 0, 0, NONE, TEST_CORRUPT, 0, 0, OMC_ERR_CORRUPT, false, 0},

	/* Old files and the counter state together (g* = 5 after r4 over r6). */
	{"r4 over r6, counter 4 (g* = C+1)", 4, RB, 0, 0, 0, NONE, TEST_C, -2, 0, OMC_OK, true, 5},
	{"r4 over r6, counter 5 (g* = C)", 4, RB, 0, 0, 0, NONE, TEST_C, -1, 0, OMC_OK, false, 5},
	{"r4 over r6, counter 3 (g* = C+2)", 4, RB, 0, 0, 0, NONE, TEST_C, -3, 0, OMC_ERR_ROLLBACK, false, 0},
	{"store of g1, counter 0", 1, ALL_STORE, 0, 0, 0, NONE, TEST_C, ABS, 0, OMC_OK, true, 1},
	{"store of g1, counter 1", 1, ALL_STORE, 0, 0, 0, NONE, TEST_C, ABS, 1, OMC_OK, false, 1},
	{"store of g1, counter 2", 1, ALL_STORE, 0, 0, 0, NONE, TEST_C, ABS, 2, OMC_ERR_ROLLBACK, false, 0},
	{"no roots, counter 0 (virgin)", 0, 0, 0, 0, RA | RB, NONE, TEST_C, ABS, 0, OMC_ERR_NOT_FOUND, false, 0},
	{"no roots, counter absent", 0, 0, 0, 0, RA | RB, NONE, TEST_ABSENT, 0, 0, OMC_ERR_NOT_FOUND, false, 0},
};

/* Puts the chosen files back as they were; one that did not exist then is
 * removed (a full replay of generation 1 has no slot b). */
static void restore(omc_memfs *fs, omc_store_io *io, const snap *from, unsigned files)
{
	for (int i = 0; i < 6; i++) {
		if (!(files & (1u << i)))
			continue;
		if (from->present[i]) {
			assert_err(omc_memfs_raw_put(fs, file_names[i], from->data[i], from->len[i]), OMC_OK);
		} else if (io->exists(io->ctx, file_names[i]) == OMC_OK) {
			assert_err(io->unlink(io->ctx, file_names[i]), OMC_OK);
			assert_err(io->sync_dir(io->ctx, ""), OMC_OK);
		}
	}
}

static void remove_files(omc_store_io *io, unsigned files)
{
	for (int i = 0; i < 6; i++)
		if (files & (1u << i))
			assert_err(io->unlink(io->ctx, file_names[i]), OMC_OK);
	assert_err(io->sync_dir(io->ctx, ""), OMC_OK);
}

static void swap_files(omc_memfs *fs, int x, int y, bool copy_only)
{
	uint8_t *dx = NULL, *dy = NULL;
	size_t lx = 0, ly = 0;
	assert_err(omc_memfs_raw_get(fs, file_names[x], &dx, &lx), OMC_OK);
	assert_err(omc_memfs_raw_get(fs, file_names[y], &dy, &ly), OMC_OK);
	assert_err(omc_memfs_raw_put(fs, file_names[x], dy, ly), OMC_OK);
	if (!copy_only)
		assert_err(omc_memfs_raw_put(fs, file_names[y], dx, lx), OMC_OK);
	omc_free(dx);
	omc_free(dy);
}

static void run_row(const row *r)
{
	omc_memfs *fs = NULL;
	omc_store_io *io = NULL;
	omc_store_ard *sw = NULL;
	omc_store *s = NULL;
	snap snaps[GENS + 1];
	memset(snaps, 0, sizeof snaps);
	assert_err(omc_memfs_new(&fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&io, fs, ""), OMC_OK);
	assert_err(omc_store_ard_sw_new(&sw, io, KEY, true), OMC_OK);
	omc_store_opts o = {.io = io, .ard = sw, .create = true};
	assert_err(omc_store_open(&s, KEY, &o), OMC_OK);
	snap_take(fs, &snaps[1]);
	for (int g = 2; g <= GENS; g++) {
		assert_err(commit_gen(s, g), OMC_OK);
		snap_take(fs, &snaps[g]);
	}
	omc_store_close(s);
	s = NULL;

	if (r->from)
		restore(fs, io, &snaps[r->from], r->files);
	if (r->from2)
		restore(fs, io, &snaps[r->from2], r->files2);
	if (r->remove)
		remove_files(io, r->remove);
	if (r->special == SWAP_SLOTS) {
		swap_files(fs, 0, 1, false);
		swap_files(fs, 2, 3, false);
	} else if (r->special == COPY_B_TO_A) {
		swap_files(fs, 0, 1, true);
		swap_files(fs, 2, 3, true);
	}

	test_ard t;
	test_ard_init(&t, 0, OMC_OK);
	if (r->ard == TEST_C)
		t.counter = r->c_delta == ABS ? r->c_abs : (uint64_t)(GENS + r->c_delta);
	else if (r->ard == TEST_ABSENT)
		t.read_err = OMC_ERR_NOT_FOUND;
	else if (r->ard == TEST_CORRUPT)
		t.read_err = OMC_ERR_CORRUPT;
	omc_store_ard *ard = r->ard == SW ? sw : &t.ard;

	o = (omc_store_opts){.io = io, .ard = ard, .create = false};
	const omc_err got = omc_store_open(&s, KEY, &o);
	if (got != r->want)
		fail_msg("row \"%s\": open returned %s, want %s", r->name, omc_err_name(got), omc_err_name(r->want));
	if (got == OMC_OK) {
		if (omc_store_rolled_forward(s) != r->rolled || omc_store_generation(s) != r->gen)
			fail_msg("row \"%s\": generation %llu rolled forward %d, want %llu and %d", r->name,
				 (unsigned long long)omc_store_generation(s), omc_store_rolled_forward(s),
				 (unsigned long long)r->gen, r->rolled);
		expect_content(s, r->gen);
		/* The counter now vouches for exactly this generation ... */
		uint64_t c = 0;
		uint32_t f = 0;
		assert_err(ard->read(ard->ctx, &c, &f), OMC_OK);
		assert_int_equal(c, r->gen);
		/* ... and the store goes on from it, across a reopen. */
		assert_err(commit_gen(s, (int)r->gen + 1), OMC_OK);
		omc_store_close(s);
		s = NULL;
		assert_err(omc_store_open(&s, KEY, &o), OMC_OK);
		assert_false(omc_store_rolled_forward(s));
		assert_int_equal(omc_store_generation(s), r->gen + 1);
		expect_content(s, r->gen + 1);
		omc_store_close(s);
	} else {
		assert_null(s);
		/* A refused open changes nothing: the same answer again. */
		assert_err(omc_store_open(&s, KEY, &o), r->want);
	}
	for (int g = 1; g <= GENS; g++)
		snap_free(&snaps[g]);
	omc_store_ard_sw_free(sw);
	omc_store_io_mem_free(io);
	omc_memfs_free(fs);
}

static void test_rollback_matrix(void **state)
{
	(void)state;
	for (size_t i = 0; i < OMC_ARRAY_LEN(rows); i++)
		run_row(&rows[i]);
	print_message("rollback matrix: %zu rows\n", OMC_ARRAY_LEN(rows));
}

/* The counter never goes back through the store's own API. */
static void test_counter_monotonic(void **state)
{
	(void)state;
	omc_memfs *fs = NULL;
	omc_store_io *io = NULL;
	omc_store_ard *ard = NULL;
	assert_err(omc_memfs_new(&fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&io, fs, ""), OMC_OK);
	assert_err(omc_store_ard_sw_new(&ard, io, KEY, true), OMC_OK);
	uint64_t c = 1;
	uint32_t f = 1;
	assert_err(ard->read(ard->ctx, &c, &f), OMC_OK);
	assert_int_equal(c, 0);
	for (uint64_t v = 1; v < 20; v += 3) {
		assert_err(ard->advance(ard->ctx, v), OMC_OK);
		assert_err(ard->advance(ard->ctx, v), OMC_ERR_BAD_ARG);
		assert_err(ard->advance(ard->ctx, v - 1), OMC_ERR_BAD_ARG);
		assert_err(ard->read(ard->ctx, &c, &f), OMC_OK);
		assert_int_equal(c, v);
	}
	/* Creating the ARD again beside an existing one changes nothing. */
	omc_store_ard *again = NULL;
	assert_err(omc_store_ard_sw_new(&again, io, KEY, true), OMC_OK);
	assert_err(again->read(again->ctx, &c, &f), OMC_OK);
	assert_int_equal(c, 19);
	/* A different root key does not recognise it: corrupt, not absent. */
	uint8_t other[32];
	memcpy(other, KEY, 32);
	other[0] ^= 1;
	omc_store_ard *wrong = NULL;
	assert_err(omc_store_ard_sw_new(&wrong, io, other, true), OMC_OK);
	assert_err(wrong->read(wrong->ctx, &c, &f), OMC_ERR_CORRUPT);
	assert_err(wrong->advance(wrong->ctx, 100), OMC_ERR_CORRUPT);
	assert_err(wrong->set_flags(wrong->ctx, 1), OMC_ERR_CORRUPT);
	omc_store_ard_sw_free(wrong);
	omc_store_ard_sw_free(again);
	omc_store_ard_sw_free(ard);
	omc_store_ard_sw_free(NULL);
	omc_store_io_mem_free(io);
	omc_memfs_free(fs);
}

int main(void)
{
	omc_log_set_level(OMC_LOG_NONE);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollback_matrix),
		cmocka_unit_test(test_counter_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
