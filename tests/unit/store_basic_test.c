/* The object store's behaviour through its public API: format, open, close,
 * put/get/overwrite/delete, list, verify, multi-op atomic commits, limits
 * and bad ids, NOT_FOUND cases, generations, the poisoned handle after an
 * I/O error, allocation failure at every allocation, syncs per commit, and
 * the same behaviour on the POSIX backend in a temporary directory.
 * covers: SEC-2, TRE-2, TRE-6, TRE-9, MGT-5 */
#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "openmcim/store.h"
#include "util/util_internal.h"

static const uint8_t KEY[32] = {0x6f, 0x6d, 0x63, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x72, 0x6f,
				0x6f, 0x74, 0x2d, 0x6b, 0x65, 0x79, 1,    2,    3,    4,    5,
				6,    7,    8,    9,    10,   11,   12,   13,   14,   15};

typedef struct env {
	omc_memfs *fs;      /* NULL on the POSIX backend */
	omc_store_io *io;
	omc_store_ard *ard;
	omc_store *s;
	char dir[64];       /* POSIX backend: the temporary directory */
} env;

static omc_err env_open(env *e, bool create)
{
	omc_store_opts o = {.io = e->io, .ard = e->ard, .create = create};
	return omc_store_open(&e->s, KEY, &o);
}

/* A fresh memfs store, formatted. */
static void env_new(env *e)
{
	memset(e, 0, sizeof *e);
	assert_err(omc_memfs_new(&e->fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&e->io, e->fs, ""), OMC_OK);
	assert_false(omc_store_exists(e->io));
	assert_err(omc_store_ard_sw_new(&e->ard, e->io, KEY, true), OMC_OK);
	assert_err(env_open(e, true), OMC_OK);
	assert_true(omc_store_exists(e->io));
}

static void env_reopen(env *e)
{
	omc_store_close(e->s);
	e->s = NULL;
	assert_err(env_open(e, false), OMC_OK);
}

static void env_free(env *e)
{
	omc_store_close(e->s);
	omc_store_ard_sw_free(e->ard);
	if (e->fs) {
		omc_store_io_mem_free(e->io);
		omc_memfs_free(e->fs);
	} else {
		omc_store_io_posix_free(e->io);
	}
	memset(e, 0, sizeof *e);
}

static omc_err put(omc_store *s, const char *id, const char *text)
{
	const omc_store_op op = {.id = id, .data = (const uint8_t *)text, .len = strlen(text)};
	return omc_store_commit(s, &op, 1, 0);
}

static omc_err del(omc_store *s, const char *id, unsigned flags)
{
	const omc_store_op op = {.id = id, .del = true};
	return omc_store_commit(s, &op, 1, flags);
}

static void expect_obj(omc_store *s, const char *id, const char *text)
{
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(s, id, &d, &n), OMC_OK);
	if (n != strlen(text) || (n && memcmp(d, text, n) != 0))
		fail_msg("object %s: got %zu bytes, want \"%s\"", id, n, text);
	omc_free(d);
}

static void expect_absent(omc_store *s, const char *id)
{
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(s, id, &d, &n), OMC_ERR_NOT_FOUND);
	assert_null(d);
}

/* list() into a "a,b,c" string. */
typedef struct list_acc {
	char buf[4096];
	size_t n;
} list_acc;

static void list_cb(void *arg, const char *id)
{
	list_acc *a = arg;
	const size_t l = strlen(a->buf);
	snprintf(a->buf + l, sizeof a->buf - l, "%s%s", l ? "," : "", id);
	a->n++;
}

static const char *list_str(omc_store *s, const char *prefix, list_acc *a)
{
	memset(a, 0, sizeof *a);
	assert_err(omc_store_list(s, prefix, list_cb, a), OMC_OK);
	return a->buf;
}

/* --- format, open, close ----------------------------------------------------- */

static void test_format_open_close(void **state)
{
	(void)state;
	env e;
	memset(&e, 0, sizeof e);
	assert_err(omc_memfs_new(&e.fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&e.io, e.fs, ""), OMC_OK);
	assert_false(omc_store_exists(e.io));

	/* No counter yet: NOT_FOUND even with create (create the ARD first). */
	assert_err(omc_store_ard_sw_new(&e.ard, e.io, KEY, false), OMC_OK);
	uint64_t c = 7;
	uint32_t f = 7;
	assert_err(e.ard->read(e.ard->ctx, &c, &f), OMC_ERR_NOT_FOUND);
	assert_err(env_open(&e, true), OMC_ERR_NOT_FOUND);
	assert_null(e.s);
	omc_store_ard_sw_free(e.ard);

	assert_err(omc_store_ard_sw_new(&e.ard, e.io, KEY, true), OMC_OK);
	assert_err(e.ard->read(e.ard->ctx, &c, &f), OMC_OK);
	assert_int_equal(c, 0);
	assert_int_equal(f, 0);
	assert_err(env_open(&e, false), OMC_ERR_NOT_FOUND); /* virgin, no create */
	assert_false(omc_store_exists(e.io));
	assert_err(env_open(&e, true), OMC_OK);
	assert_true(omc_store_exists(e.io));
	assert_int_equal(omc_store_generation(e.s), 1);
	assert_false(omc_store_rolled_forward(e.s));
	list_acc a;
	assert_string_equal(list_str(e.s, "", &a), "");
	assert_err(e.ard->read(e.ard->ctx, &c, &f), OMC_OK);
	assert_int_equal(c, 1);

	/* Reopen; create on an existing store formats nothing. */
	env_reopen(&e);
	assert_int_equal(omc_store_generation(e.s), 1);
	omc_store_close(e.s);
	assert_err(env_open(&e, true), OMC_OK);
	assert_int_equal(omc_store_generation(e.s), 1);

	/* Survives a power cut right after the format returned. */
	omc_store_close(e.s);
	e.s = NULL;
	omc_memfs_reboot(e.fs);
	assert_err(env_open(&e, false), OMC_OK);
	assert_int_equal(omc_store_generation(e.s), 1);

	omc_store_close(NULL);
	assert_int_equal(omc_store_generation(NULL), 0);
	assert_false(omc_store_rolled_forward(NULL));
	assert_false(omc_store_exists(NULL));
	env_free(&e);
}

static void test_open_bad_args(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	omc_store *s = NULL;
	omc_store_opts o = {.io = e.io, .ard = NULL};
	assert_err(omc_store_open(&s, KEY, &o), OMC_ERR_BAD_ARG);
	o = (omc_store_opts){.io = NULL, .ard = e.ard};
	assert_err(omc_store_open(&s, KEY, &o), OMC_ERR_BAD_ARG);
	assert_err(omc_store_open(&s, KEY, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_store_open(NULL, KEY, &o), OMC_ERR_BAD_ARG);
	assert_null(s);
	omc_store_ard *ard = NULL;
	assert_err(omc_store_ard_sw_new(&ard, NULL, KEY, true), OMC_ERR_BAD_ARG);
	assert_err(omc_store_io_mem_new(NULL, e.fs, ""), OMC_ERR_BAD_ARG);
	omc_store_io *io = NULL;
	assert_err(omc_store_io_mem_new(&io, e.fs, "../x"), OMC_ERR_BAD_ARG);
	assert_err(omc_store_io_mem_new(&io, e.fs, "/x"), OMC_ERR_BAD_ARG);
	assert_err(omc_store_io_posix_new(&io, ""), OMC_ERR_BAD_ARG);
	assert_null(io);
	env_free(&e);
}

/* --- objects -------------------------------------------------------------------- */

static void test_put_get_overwrite_delete(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	expect_absent(e.s, "a");
	assert_err(put(e.s, "a", "alpha"), OMC_OK);
	assert_err(put(e.s, "b", "bravo"), OMC_OK);
	expect_obj(e.s, "a", "alpha");
	expect_obj(e.s, "b", "bravo");
	assert_err(put(e.s, "a", "alpha, second version"), OMC_OK);
	expect_obj(e.s, "a", "alpha, second version");
	assert_err(put(e.s, "a", ""), OMC_OK); /* empty objects are objects */
	expect_obj(e.s, "a", "");
	assert_err(del(e.s, "b", 0), OMC_OK);
	expect_absent(e.s, "b");
	const uint64_t g = omc_store_generation(e.s);
	assert_err(del(e.s, "b", 0), OMC_ERR_NOT_FOUND);
	assert_err(del(e.s, "never", OMC_STORE_ERASE), OMC_ERR_NOT_FOUND);
	assert_int_equal(omc_store_generation(e.s), g);

	env_reopen(&e);
	expect_obj(e.s, "a", "");
	expect_absent(e.s, "b");
	assert_int_equal(omc_store_generation(e.s), g);
	env_free(&e);
}

static void test_multi_op_atomic(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	assert_err(put(e.s, "keep", "k"), OMC_OK);
	assert_err(put(e.s, "gone", "g"), OMC_OK);
	const uint64_t g = omc_store_generation(e.s);

	const omc_store_op ops[] = {
		{.id = "x", .data = (const uint8_t *)"xx", .len = 2},
		{.id = "y", .data = (const uint8_t *)"yy", .len = 2},
		{.id = "gone", .del = true},
		{.id = "keep", .data = (const uint8_t *)"k2", .len = 2},
	};
	assert_err(omc_store_commit(e.s, ops, OMC_ARRAY_LEN(ops), 0), OMC_OK);
	assert_int_equal(omc_store_generation(e.s), g + 1); /* one generation for all */
	list_acc a;
	assert_string_equal(list_str(e.s, "", &a), "keep,x,y");
	expect_obj(e.s, "keep", "k2");

	/* One bad op: nothing applied. */
	const omc_store_op bad[] = {
		{.id = "z", .data = (const uint8_t *)"zz", .len = 2},
		{.id = "x", .del = true},
		{.id = "missing", .del = true},
	};
	assert_err(omc_store_commit(e.s, bad, OMC_ARRAY_LEN(bad), 0), OMC_ERR_NOT_FOUND);
	assert_int_equal(omc_store_generation(e.s), g + 1);
	assert_string_equal(list_str(e.s, "", &a), "keep,x,y");
	const omc_store_op bad_id[] = {
		{.id = "z", .data = (const uint8_t *)"zz", .len = 2},
		{.id = "bad id", .data = (const uint8_t *)"zz", .len = 2},
	};
	assert_err(omc_store_commit(e.s, bad_id, OMC_ARRAY_LEN(bad_id), 0), OMC_ERR_BAD_ARG);
	assert_string_equal(list_str(e.s, "", &a), "keep,x,y");

	/* Ops apply in order: put then delete of one id, delete then put. */
	const omc_store_op order[] = {
		{.id = "t", .data = (const uint8_t *)"1", .len = 1},
		{.id = "t", .del = true},
		{.id = "y", .del = true},
		{.id = "y", .data = (const uint8_t *)"y2", .len = 2},
		{.id = "x", .data = (const uint8_t *)"x2", .len = 2},
		{.id = "x", .data = (const uint8_t *)"x3", .len = 2},
	};
	assert_err(omc_store_commit(e.s, order, OMC_ARRAY_LEN(order), 0), OMC_OK);
	assert_string_equal(list_str(e.s, "", &a), "keep,x,y");
	expect_obj(e.s, "y", "y2");
	expect_obj(e.s, "x", "x3");

	/* An empty commit is a new generation with the same content. */
	assert_err(omc_store_commit(e.s, NULL, 0, 0), OMC_OK);
	assert_int_equal(omc_store_generation(e.s), g + 3);
	env_reopen(&e);
	assert_string_equal(list_str(e.s, "", &a), "keep,x,y");
	expect_obj(e.s, "keep", "k2");
	env_free(&e);
}

static void test_list_prefix(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	const omc_store_op ops[] = {
		{.id = "user/a", .data = (const uint8_t *)"1", .len = 1},
		{.id = "mcim/2", .data = (const uint8_t *)"2", .len = 1},
		{.id = "mcim/10", .data = (const uint8_t *)"3", .len = 1},
		{.id = "mcim", .data = (const uint8_t *)"4", .len = 1},
		{.id = "A", .data = (const uint8_t *)"5", .len = 1},
	};
	assert_err(omc_store_commit(e.s, ops, OMC_ARRAY_LEN(ops), 0), OMC_OK);
	list_acc a;
	assert_string_equal(list_str(e.s, "", &a), "A,mcim,mcim/10,mcim/2,user/a"); /* byte order */
	assert_string_equal(list_str(e.s, NULL, &a), "A,mcim,mcim/10,mcim/2,user/a");
	assert_string_equal(list_str(e.s, "mcim/", &a), "mcim/10,mcim/2");
	assert_string_equal(list_str(e.s, "mcim", &a), "mcim,mcim/10,mcim/2");
	assert_string_equal(list_str(e.s, "user/a", &a), "user/a");
	assert_string_equal(list_str(e.s, "user/ab", &a), "");
	assert_string_equal(list_str(e.s, "zzz", &a), "");
	assert_err(omc_store_list(e.s, "", NULL, NULL), OMC_ERR_BAD_ARG);
	env_free(&e);
}

static void count_bad(void *arg, const char *id)
{
	(void)id;
	(*(size_t *)arg)++;
}

static void test_verify_clean(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	size_t n_bad = 99, calls = 0;
	assert_err(omc_store_verify(e.s, count_bad, &calls, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof id, "obj%02d", i);
		assert_err(put(e.s, id, id), OMC_OK);
	}
	assert_err(omc_store_verify(e.s, count_bad, &calls, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
	assert_int_equal(calls, 0);
	assert_err(omc_store_verify(e.s, NULL, NULL, NULL), OMC_OK);
	env_reopen(&e);
	assert_err(omc_store_verify(e.s, count_bad, &calls, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
	env_free(&e);
}

/* --- limits and bad ids -------------------------------------------------------------- */

static void test_bad_ids(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	char longest[OMC_STORE_ID_MAX + 1], too_long[OMC_STORE_ID_MAX + 2];
	memset(longest, 'L', OMC_STORE_ID_MAX);
	longest[OMC_STORE_ID_MAX] = '\0';
	memset(too_long, 'L', OMC_STORE_ID_MAX + 1);
	too_long[OMC_STORE_ID_MAX + 1] = '\0';
	const char *bad[] = {"", too_long, "a b", "a\n", "caf\xc3\xa9", "a:b", "a\\b", "a*", "a%", "\x7f"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++) {
		uint8_t *d = NULL;
		size_t n = 0;
		assert_err(put(e.s, bad[i], "x"), OMC_ERR_BAD_ARG);
		assert_err(del(e.s, bad[i], 0), OMC_ERR_BAD_ARG);
		assert_err(omc_store_get(e.s, bad[i], &d, &n), OMC_ERR_BAD_ARG);
	}
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(e.s, NULL, &d, &n), OMC_ERR_BAD_ARG);
	const omc_store_op null_id = {.id = NULL, .data = (const uint8_t *)"x", .len = 1};
	assert_err(omc_store_commit(e.s, &null_id, 1, 0), OMC_ERR_BAD_ARG);

	const char *good[] = {longest, "A-Z_a-z.0-9/", "-", ".", "/", "..", "../../etc/passwd"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(good); i++) {
		assert_err(put(e.s, good[i], good[i]), OMC_OK);
		expect_obj(e.s, good[i], good[i]);
	}
	env_reopen(&e);
	for (size_t i = 0; i < OMC_ARRAY_LEN(good); i++)
		expect_obj(e.s, good[i], good[i]);
	env_free(&e);
}

static void test_limits(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	const uint64_t g = omc_store_generation(e.s);

	/* Object size. */
	uint8_t *big = omc_alloc(OMC_STORE_OBJ_MAX + 1);
	assert_non_null(big);
	tl_rand(big, OMC_STORE_OBJ_MAX + 1);
	omc_store_op op = {.id = "big", .data = big, .len = OMC_STORE_OBJ_MAX + 1};
	assert_err(omc_store_commit(e.s, &op, 1, 0), OMC_ERR_TOO_LARGE);
	op.len = OMC_STORE_OBJ_MAX;
	assert_err(omc_store_commit(e.s, &op, 1, 0), OMC_OK);
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(e.s, "big", &d, &n), OMC_OK);
	assert_int_equal(n, OMC_STORE_OBJ_MAX);
	assert_memory_equal(d, big, n);
	omc_free(d);
	assert_err(del(e.s, "big", 0), OMC_OK);
	omc_free(big);

	/* Malformed ops. */
	const omc_store_op bad_ops[] = {
		{.id = "a", .data = NULL, .len = 1},
		{.id = "a", .data = (const uint8_t *)"x", .len = 1, .del = true},
		{.id = "a", .data = NULL, .len = 1, .del = true},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad_ops); i++)
		assert_err(omc_store_commit(e.s, &bad_ops[i], 1, 0), OMC_ERR_BAD_ARG);
	assert_err(omc_store_commit(e.s, NULL, 1, 0), OMC_ERR_BAD_ARG);
	assert_err(omc_store_commit(e.s, NULL, 0, 0x2), OMC_ERR_BAD_ARG);
	assert_err(omc_store_commit(NULL, NULL, 0, 0), OMC_ERR_BAD_ARG);
	assert_err(omc_store_get(e.s, "a", NULL, &n), OMC_ERR_BAD_ARG);
	assert_err(omc_store_verify(NULL, NULL, NULL, NULL), OMC_ERR_BAD_ARG);

	/* Object count: exactly the maximum in one commit, then one more. */
	omc_store_op *ops = omc_calloc(OMC_STORE_MAX_OBJECTS + 1, sizeof *ops);
	char (*ids)[16] = omc_calloc(OMC_STORE_MAX_OBJECTS + 1, sizeof *ids);
	assert_non_null(ops);
	assert_non_null(ids);
	for (size_t i = 0; i <= OMC_STORE_MAX_OBJECTS; i++) {
		snprintf(ids[i], sizeof ids[i], "o/%05zu", i);
		ops[i] = (omc_store_op){.id = ids[i], .data = (const uint8_t *)ids[i], .len = strlen(ids[i])};
	}
	const uint64_t g2 = omc_store_generation(e.s);
	assert_err(omc_store_commit(e.s, ops, OMC_STORE_MAX_OBJECTS + 1, 0), OMC_ERR_TOO_LARGE);
	assert_int_equal(omc_store_generation(e.s), g2);
	assert_err(omc_store_commit(e.s, ops, OMC_STORE_MAX_OBJECTS, 0), OMC_OK);
	assert_err(omc_store_commit(e.s, &ops[OMC_STORE_MAX_OBJECTS], 1, 0), OMC_ERR_TOO_LARGE);
	/* Replacing one at the limit is fine; so is delete-and-add in one commit. */
	assert_err(omc_store_commit(e.s, &ops[0], 1, 0), OMC_OK);
	const omc_store_op swap[] = {{.id = ids[0], .del = true}, ops[OMC_STORE_MAX_OBJECTS]};
	assert_err(omc_store_commit(e.s, swap, 2, 0), OMC_OK);
	env_reopen(&e);
	list_acc a;
	(void)list_str(e.s, "o/", &a);
	assert_int_equal(a.n, OMC_STORE_MAX_OBJECTS);
	size_t n_bad = 1;
	assert_err(omc_store_verify(e.s, NULL, NULL, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);
	expect_obj(e.s, ids[OMC_STORE_MAX_OBJECTS], ids[OMC_STORE_MAX_OBJECTS]);
	expect_absent(e.s, ids[0]);
	assert_true(omc_store_generation(e.s) > g);
	omc_free(ops);
	omc_free(ids);
	env_free(&e);
}

static void test_generations(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	uint64_t c;
	uint32_t f;
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(omc_store_generation(e.s), 1 + i);
		assert_err(e.ard->read(e.ard->ctx, &c, &f), OMC_OK);
		assert_int_equal(c, 1 + i); /* the counter follows every commit */
		assert_err(put(e.s, "g", "x"), OMC_OK);
	}
	assert_err(del(e.s, "g", OMC_STORE_ERASE), OMC_OK);
	assert_int_equal(omc_store_generation(e.s), 13); /* ERASE commits twice */
	assert_err(put(e.s, "bad id!", "x"), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_store_generation(e.s), 13);
	env_reopen(&e);
	assert_int_equal(omc_store_generation(e.s), 13);
	assert_err(e.ard->read(e.ard->ctx, &c, &f), OMC_OK);
	assert_int_equal(c, 13);
	env_free(&e);
}

/* --- durability cost ---------------------------------------------------------------------- */

static omc_memfs_stats stats_delta(const omc_memfs_stats *a, const omc_memfs_stats *b)
{
	return (omc_memfs_stats){
		.pwrite = b->pwrite - a->pwrite,
		.sync = b->sync - a->sync,
		.rename = b->rename - a->rename,
		.unlink = b->unlink - a->unlink,
		.sync_dir = b->sync_dir - a->sync_dir,
		.mkdir = b->mkdir - a->mkdir,
		.bytes_written = b->bytes_written - a->bytes_written,
	};
}

static void test_syncs_per_commit(void **state)
{
	(void)state;
	omc_memfs_stats s0, s1, d;
	env e;
	memset(&e, 0, sizeof e);
	assert_err(omc_memfs_new(&e.fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&e.io, e.fs, ""), OMC_OK);
	omc_memfs_stats_get(e.fs, &s0);
	assert_err(omc_store_ard_sw_new(&e.ard, e.io, KEY, true), OMC_OK);
	assert_err(env_open(&e, true), OMC_OK);
	omc_memfs_stats_get(e.fs, &s1);
	d = stats_delta(&s0, &s1);
	print_message("create ARD + format: %lu fdatasync, %lu dir fsync, %lu rename\n", d.sync, d.sync_dir, d.rename);
	assert_int_equal(d.sync, 4);     /* arb.a.tmp, objs.a, root.a.tmp, arb.b */
	assert_int_equal(d.sync_dir, 3); /* arb.a, root.a, arb.b appear */
	assert_int_equal(d.rename, 2);

	/* The first commit into slot b creates root.b and objs.b: their names
	 * need one directory sync, once in the store's life. */
	omc_memfs_stats_get(e.fs, &s0);
	assert_err(put(e.s, "a", "first"), OMC_OK);
	omc_memfs_stats_get(e.fs, &s1);
	d = stats_delta(&s0, &s1);
	assert_int_equal(d.sync, 3);
	assert_int_equal(d.sync_dir, 1);

	for (int i = 0; i < 5; i++) {
		omc_memfs_stats_get(e.fs, &s0);
		assert_err(put(e.s, "a", i % 2 ? "a longer value than before" : "short"), OMC_OK);
		omc_memfs_stats_get(e.fs, &s1);
		d = stats_delta(&s0, &s1);
		assert_int_equal(d.sync, 3); /* objs.T, root.T, ARD */
		assert_int_equal(d.sync_dir, 0);
		assert_int_equal(d.pwrite, 3);
		assert_int_equal(d.rename + d.unlink + d.mkdir, 0);
	}
	print_message("plain commit: %lu fdatasync, %lu dir fsync, %lu pwrite\n", d.sync, d.sync_dir, d.pwrite);

	omc_memfs_stats_get(e.fs, &s0);
	assert_err(del(e.s, "a", OMC_STORE_ERASE), OMC_OK);
	omc_memfs_stats_get(e.fs, &s1);
	d = stats_delta(&s0, &s1);
	print_message("commit with ERASE: %lu fdatasync, %lu dir fsync\n", d.sync, d.sync_dir);
	assert_int_equal(d.sync, 6);
	assert_int_equal(d.sync_dir, 0);

	/* Reads write nothing; a clean open writes nothing. */
	omc_memfs_stats_get(e.fs, &s0);
	const unsigned long ops0 = omc_memfs_op_count(e.fs);
	env_reopen(&e);
	size_t n_bad;
	assert_err(omc_store_verify(e.s, NULL, NULL, &n_bad), OMC_OK);
	omc_memfs_stats_get(e.fs, &s1);
	d = stats_delta(&s0, &s1);
	assert_int_equal(d.pwrite + d.sync + d.sync_dir + d.rename + d.unlink, 0);
	assert_int_equal(omc_memfs_op_count(e.fs), ops0);
	env_free(&e);
}

/* --- failures ------------------------------------------------------------------------------- */

static void test_poisoned_after_io_error(void **state)
{
	(void)state;
	env e;
	env_new(&e);
	assert_err(put(e.s, "a", "old"), OMC_OK);
	/* The third mutating operation (root.T's pwrite) fails. */
	omc_memfs_crash_at(e.fs, 3, OMC_MEMFS_LOSE_UNSYNCED, 0);
	assert_err(put(e.s, "a", "new"), OMC_ERR_IO);
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_store_get(e.s, "a", &d, &n), OMC_ERR_BAD_STATE);
	assert_err(omc_store_verify(e.s, NULL, NULL, &n), OMC_ERR_BAD_STATE);
	list_acc a;
	assert_err(omc_store_list(e.s, "", list_cb, &a), OMC_ERR_BAD_STATE);
	assert_err(put(e.s, "b", "x"), OMC_ERR_BAD_STATE);
	omc_store_close(e.s);
	e.s = NULL;
	assert_err(env_open(&e, false), OMC_ERR_IO); /* still powered off */
	omc_memfs_reboot(e.fs);
	assert_err(env_open(&e, false), OMC_OK);
	expect_obj(e.s, "a", "old");
	assert_err(put(e.s, "a", "new"), OMC_OK);
	expect_obj(e.s, "a", "new");
	env_free(&e);
}

/* The visible content as "id=value;..." for comparisons. */
static void snapshot_str(omc_store *s, char *out, size_t cap)
{
	list_acc a;
	(void)list_str(s, "", &a);
	out[0] = '\0';
	char *save = NULL;
	for (char *id = strtok_r(a.buf, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		uint8_t *d = NULL;
		size_t n = 0;
		assert_err(omc_store_get(s, id, &d, &n), OMC_OK);
		const size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s=%.*s;", id, (int)n, (const char *)d);
		omc_free(d);
	}
}

/* SQLite-style: make each allocation fail in turn, during a commit and
 * during an open. Every failure is NOMEM (or, once the medium was touched,
 * a poisoned handle), and the store reopens to exactly the old or the new
 * state, from the volatile view and after a power cut. */
static void test_alloc_failures(void **state)
{
	(void)state;
	char old[512], now[512], want_new[512];
	unsigned long tried = 0;
	for (unsigned long i = 1;; i++) {
		env e;
		env_new(&e);
		assert_err(put(e.s, "a", "A1"), OMC_OK);
		assert_err(put(e.s, "b", "B1"), OMC_OK);
		snapshot_str(e.s, old, sizeof old);
		const omc_store_op ops[] = {
			{.id = "a", .data = (const uint8_t *)"A2", .len = 2},
			{.id = "b", .del = true},
			{.id = "c", .data = (const uint8_t *)"C2", .len = 2},
		};
		omc_test_alloc_fail_at(i);
		const omc_err err = omc_store_commit(e.s, ops, OMC_ARRAY_LEN(ops), OMC_STORE_ERASE);
		omc_test_alloc_fail_at(0);
		if (err == OMC_OK) {
			env_free(&e);
			break;
		}
		tried++;
		if (err != OMC_ERR_NOMEM && err != OMC_ERR_IO && err != OMC_ERR_BAD_STATE)
			fail_msg("allocation %lu: commit returned %s", i, omc_err_name(err));
		snprintf(want_new, sizeof want_new, "a=A2;c=C2;");
		for (int cut = 0; cut < 2; cut++) {
			omc_store_close(e.s);
			e.s = NULL;
			if (cut)
				omc_memfs_reboot(e.fs);
			assert_err(env_open(&e, false), OMC_OK);
			snapshot_str(e.s, now, sizeof now);
			if (strcmp(now, old) != 0 && strcmp(now, want_new) != 0)
				fail_msg("allocation %lu: state %s", i, now);
		}
		env_free(&e);
	}
	/* And during open. */
	for (unsigned long i = 1;; i++) {
		env e;
		env_new(&e);
		assert_err(put(e.s, "a", "A1"), OMC_OK);
		omc_store_close(e.s);
		e.s = NULL;
		omc_test_alloc_fail_at(i);
		const omc_err err = env_open(&e, false);
		omc_test_alloc_fail_at(0);
		if (err == OMC_OK) {
			env_free(&e);
			break;
		}
		tried++;
		assert_err(err, OMC_ERR_NOMEM);
		assert_err(env_open(&e, false), OMC_OK);
		expect_obj(e.s, "a", "A1");
		env_free(&e);
	}
	print_message("allocation failures injected: %lu\n", tried);
	assert_true(tried > 10);
}

/* --- the POSIX backend ------------------------------------------------------------------------ */

static const char *const store_files[] = {"root.a", "root.b", "objs.a", "objs.b", "arb.a", "arb.b"};

/* Setup/teardown: a private temporary directory, removed whatever happens. */
static int tmpdir_setup(void **state)
{
	char *dir = malloc(64);
	if (dir == NULL)
		return -1;
	snprintf(dir, 64, "/tmp/omc-store-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tmpdir_teardown(void **state)
{
	char *dir = *state;
	const int r = nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return r;
}

static void test_posix_backend(void **state)
{
	env e;
	memset(&e, 0, sizeof e);
	snprintf(e.dir, sizeof e.dir, "%s", (const char *)*state);
	assert_err(omc_store_io_posix_new(&e.io, e.dir), OMC_OK);
	assert_false(omc_store_exists(e.io));
	assert_err(omc_store_ard_sw_new(&e.ard, e.io, KEY, true), OMC_OK);
	assert_err(env_open(&e, false), OMC_ERR_NOT_FOUND);
	assert_err(env_open(&e, true), OMC_OK);
	assert_true(omc_store_exists(e.io));
	assert_int_equal(omc_store_generation(e.s), 1);

	assert_err(put(e.s, "a", "alpha"), OMC_OK);
	assert_err(put(e.s, "b", "bravo"), OMC_OK);
	assert_err(put(e.s, "a", "alpha 2"), OMC_OK);
	const omc_store_op ops[] = {
		{.id = "c", .data = (const uint8_t *)"charlie", .len = 7},
		{.id = "b", .del = true},
	};
	assert_err(omc_store_commit(e.s, ops, 2, 0), OMC_OK);
	assert_err(del(e.s, "nope", 0), OMC_ERR_NOT_FOUND);
	assert_err(put(e.s, "d", "delta"), OMC_OK);
	assert_err(del(e.s, "d", OMC_STORE_ERASE), OMC_OK);
	list_acc a;
	assert_string_equal(list_str(e.s, "", &a), "a,c");
	assert_int_equal(omc_store_generation(e.s), 8);
	env_reopen(&e);
	assert_int_equal(omc_store_generation(e.s), 8);
	assert_string_equal(list_str(e.s, "", &a), "a,c");
	expect_obj(e.s, "a", "alpha 2");
	expect_obj(e.s, "c", "charlie");
	expect_absent(e.s, "b");
	size_t n_bad = 1;
	assert_err(omc_store_verify(e.s, NULL, NULL, &n_bad), OMC_OK);
	assert_int_equal(n_bad, 0);

	/* Files are private and nothing else was left behind. */
	for (size_t i = 0; i < OMC_ARRAY_LEN(store_files); i++) {
		char p[128];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", e.dir, store_files[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	DIR *dh = opendir(e.dir);
	assert_non_null(dh);
	size_t n_files = 0;
	for (struct dirent *de = readdir(dh); de; de = readdir(dh))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n_files++;
	closedir(dh);
	assert_int_equal(n_files, OMC_ARRAY_LEN(store_files));

	/* The backend stays inside its directory, and reports absence. */
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(e.io->read(e.io->ctx, "../etc/passwd", &d, &n), OMC_ERR_IO);
	assert_err(e.io->read(e.io->ctx, "/etc/passwd", &d, &n), OMC_ERR_IO);
	assert_err(e.io->pwrite(e.io->ctx, "x/../../y", 0, (const uint8_t *)"x", 1), OMC_ERR_IO);
	assert_err(e.io->read(e.io->ctx, "absent", &d, &n), OMC_ERR_NOT_FOUND);
	assert_err(e.io->exists(e.io->ctx, "absent"), OMC_ERR_NOT_FOUND);
	assert_err(e.io->unlink(e.io->ctx, "absent"), OMC_ERR_NOT_FOUND);
	assert_err(e.io->sync(e.io->ctx, "absent"), OMC_ERR_IO);
	assert_err(e.io->exists(e.io->ctx, ""), OMC_OK);
	assert_err(e.io->mkdir(e.io->ctx, "sub"), OMC_OK);
	assert_err(e.io->mkdir(e.io->ctx, "sub"), OMC_OK);
	assert_err(e.io->mkdir(e.io->ctx, "root.a"), OMC_ERR_IO);
	assert_err(e.io->pwrite(e.io->ctx, "sub/f", 3, (const uint8_t *)"xyz", 3), OMC_OK);
	assert_err(e.io->sync(e.io->ctx, "sub/f"), OMC_OK);
	assert_err(e.io->rename(e.io->ctx, "sub/f", "sub/g"), OMC_OK);
	assert_err(e.io->sync_dir(e.io->ctx, "sub"), OMC_OK);
	assert_err(e.io->read(e.io->ctx, "sub/g", &d, &n), OMC_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(d, "\0\0\0xyz", 6);
	omc_free(d);
	assert_err(e.io->unlink(e.io->ctx, "sub/g"), OMC_OK);
	char p[128];
	snprintf(p, sizeof p, "%s/sub", e.dir);
	assert_int_equal(rmdir(p), 0);

	/* Clean up: exactly the store's files, then the directory. */
	char dir[sizeof e.dir];
	memcpy(dir, e.dir, sizeof dir);
	env_free(&e);
	for (size_t i = 0; i < OMC_ARRAY_LEN(store_files); i++) {
		snprintf(p, sizeof p, "%s/%s", dir, store_files[i]);
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(mkdir(dir, 0700), 0); /* for the teardown */
}

int main(void)
{
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_open_close),
		cmocka_unit_test(test_open_bad_args),
		cmocka_unit_test(test_put_get_overwrite_delete),
		cmocka_unit_test(test_multi_op_atomic),
		cmocka_unit_test(test_list_prefix),
		cmocka_unit_test(test_verify_clean),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_syncs_per_commit),
		cmocka_unit_test(test_poisoned_after_io_error),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test_setup_teardown(test_posix_backend, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
