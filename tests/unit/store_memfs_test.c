/* The in-memory file system's power-loss model (docs/store.md "In-memory
 * with power loss"), which every crash test relies on: what survives a cut
 * in each mode, names needing a directory sync, the cut itself (the op not
 * performed, everything after failing), counters, several io handles on one
 * fs, raw access and listing.
 * covers: TRE-2, SEC-2 */
#include "testlib.h"
#include "openmcim/store.h"
#include "util/util_internal.h"

typedef struct fx {
	omc_memfs *fs;
	omc_store_io *io;
} fx;

static void fx_new(fx *f)
{
	assert_err(omc_memfs_new(&f->fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&f->io, f->fs, ""), OMC_OK);
}

static void fx_free(fx *f)
{
	omc_store_io_mem_free(f->io);
	omc_memfs_free(f->fs);
}

static omc_err wr(omc_store_io *io, const char *p, uint64_t off, const char *s)
{
	return io->pwrite(io->ctx, p, off, (const uint8_t *)s, strlen(s));
}

/* The file's content as a string, "<absent>" if there is none. */
static const char *rd(omc_store_io *io, const char *p, char *buf, size_t cap)
{
	uint8_t *d = NULL;
	size_t n = 0;
	const omc_err e = io->read(io->ctx, p, &d, &n);
	if (e == OMC_ERR_NOT_FOUND)
		return "<absent>";
	assert_err(e, OMC_OK);
	assert_true(n < cap);
	memcpy(buf, d, n);
	buf[n] = '\0';
	omc_free(d);
	return buf;
}

static void test_durability_lose(void **state)
{
	(void)state;
	fx f;
	fx_new(&f);
	char b[64];
	/* A new file: data synced but its name not: gone after a cut. */
	assert_err(wr(f.io, "new", 0, "data"), OMC_OK);
	assert_err(f.io->sync(f.io->ctx, "new"), OMC_OK);
	assert_string_equal(rd(f.io, "new", b, sizeof b), "data");
	omc_memfs_reboot(f.fs);
	assert_string_equal(rd(f.io, "new", b, sizeof b), "<absent>");
	/* With the directory synced it stays; unsynced overwrites do not. */
	assert_err(wr(f.io, "f", 0, "hello"), OMC_OK);
	assert_err(f.io->sync(f.io->ctx, "f"), OMC_OK);
	assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
	assert_err(wr(f.io, "f", 0, "J"), OMC_OK);
	assert_err(wr(f.io, "f", 7, "x"), OMC_OK); /* a gap reads as zeros */
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(f.io->read(f.io->ctx, "f", &d, &n), OMC_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(d, "Jello\0\0x", 8);
	omc_free(d);
	omc_memfs_reboot(f.fs);
	assert_string_equal(rd(f.io, "f", b, sizeof b), "hello");
	/* Rename and unlink: durable only after sync_dir. */
	assert_err(f.io->rename(f.io->ctx, "f", "g"), OMC_OK);
	assert_string_equal(rd(f.io, "f", b, sizeof b), "<absent>");
	assert_string_equal(rd(f.io, "g", b, sizeof b), "hello");
	omc_memfs_reboot(f.fs);
	assert_string_equal(rd(f.io, "f", b, sizeof b), "hello");
	assert_string_equal(rd(f.io, "g", b, sizeof b), "<absent>");
	assert_err(f.io->rename(f.io->ctx, "f", "g"), OMC_OK);
	assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
	assert_err(f.io->unlink(f.io->ctx, "g"), OMC_OK);
	assert_err(f.io->exists(f.io->ctx, "g"), OMC_ERR_NOT_FOUND);
	omc_memfs_reboot(f.fs);
	assert_string_equal(rd(f.io, "g", b, sizeof b), "hello");
	assert_string_equal(rd(f.io, "f", b, sizeof b), "<absent>");
	fx_free(&f);
}

static void test_cut_modes(void **state)
{
	(void)state;
	char b[64];
	for (int mode = 0; mode < 3; mode++) {
		fx f;
		fx_new(&f);
		assert_err(wr(f.io, "f", 0, "old"), OMC_OK);
		assert_err(f.io->sync(f.io->ctx, "f"), OMC_OK);
		assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
		const unsigned long ops = omc_memfs_op_count(f.fs);
		assert_int_equal(ops, 3);
		omc_memfs_crash_at(f.fs, 3, (omc_memfs_crash_mode)mode, 1);
		assert_err(wr(f.io, "f", 0, "new"), OMC_OK);  /* 1 */
		assert_err(wr(f.io, "h", 0, "hhh"), OMC_OK);  /* 2: a new file */
		assert_err(f.io->sync(f.io->ctx, "f"), OMC_ERR_IO); /* 3: the cut, not performed */
		assert_int_equal(omc_memfs_op_count(f.fs), ops + 3);
		/* Everything fails until the reboot, reads included. */
		assert_err(wr(f.io, "f", 0, "x"), OMC_ERR_IO);
		assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_ERR_IO);
		assert_err(f.io->exists(f.io->ctx, "f"), OMC_ERR_IO);
		uint8_t *d = NULL;
		size_t n = 0;
		assert_err(f.io->read(f.io->ctx, "f", &d, &n), OMC_ERR_IO);
		omc_memfs_reboot(f.fs);
		assert_int_equal(omc_memfs_op_count(f.fs), 0);
		const char *fv = rd(f.io, "f", b, sizeof b);
		char hb[64];
		const char *hv = rd(f.io, "h", hb, sizeof hb);
		if (mode == OMC_MEMFS_LOSE_UNSYNCED) {
			assert_string_equal(fv, "old");
			assert_string_equal(hv, "<absent>");
		} else if (mode == OMC_MEMFS_KEEP_UNSYNCED) {
			assert_string_equal(fv, "new");
			assert_string_equal(hv, "hhh");
		} else {
			assert_true(strcmp(fv, "old") == 0 || strcmp(fv, "new") == 0 || strlen(fv) == 3);
		}
		/* I/O works again, the cut is disarmed. */
		assert_err(wr(f.io, "f", 0, "ok"), OMC_OK);
		assert_err(f.io->sync(f.io->ctx, "f"), OMC_OK);
		fx_free(&f);
	}
}

/* TEAR over many seeds: every outcome is sector-wise old, new or garbage,
 * and all of the non-trivial kinds show up. */
static void test_tear_sectors(void **state)
{
	(void)state;
	enum { LEN = 3 * 512 };
	static uint8_t old[LEN], new_b[LEN];
	memset(old, 'o', sizeof old);
	memset(new_b, 'n', sizeof new_b);
	unsigned seen_all_new = 0, seen_all_old = 0, seen_mixed = 0, seen_garbage = 0;
	for (uint64_t seed = 0; seed < 400; seed++) {
		fx f;
		fx_new(&f);
		assert_err(f.io->pwrite(f.io->ctx, "f", 0, old, LEN), OMC_OK);
		assert_err(f.io->sync(f.io->ctx, "f"), OMC_OK);
		assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
		omc_memfs_crash_at(f.fs, 2, OMC_MEMFS_TEAR_UNSYNCED, seed);
		assert_err(f.io->pwrite(f.io->ctx, "f", 0, new_b, LEN), OMC_OK);
		assert_err(f.io->sync(f.io->ctx, "f"), OMC_ERR_IO);
		omc_memfs_reboot(f.fs);
		uint8_t *d = NULL;
		size_t n = 0;
		assert_err(omc_memfs_raw_get(f.fs, "f", &d, &n), OMC_OK);
		assert_int_equal(n, LEN);
		unsigned kinds = 0;
		for (int s = 0; s < 3; s++) {
			const uint8_t *sec = &d[512 * s];
			if (tl_all_bytes_are(sec, 512, 'o'))
				kinds |= 1;
			else if (tl_all_bytes_are(sec, 512, 'n'))
				kinds |= 2;
			else
				kinds |= 4; /* garbage: a whole sector of it */
		}
		seen_all_old += kinds == 1;
		seen_all_new += kinds == 2;
		seen_mixed += (kinds & 3) == 3;
		seen_garbage += (kinds & 4) != 0;
		omc_free(d);
		fx_free(&f);
	}
	assert_true(seen_all_old > 0 && seen_all_new > 0 && seen_mixed > 0 && seen_garbage > 0);
}

static void test_shared_fs_and_dirs(void **state)
{
	(void)state;
	fx f;
	fx_new(&f);
	char b[64];
	omc_store_io *d1 = NULL, *d2 = NULL;
	assert_err(omc_store_io_mem_new(&d1, f.fs, "dev1/"), OMC_OK);
	assert_err(omc_store_io_mem_new(&d2, f.fs, "dev2"), OMC_OK); /* '/' added */
	assert_err(f.io->mkdir(f.io->ctx, "dev1"), OMC_OK);
	assert_err(f.io->mkdir(f.io->ctx, "dev1"), OMC_OK);
	assert_err(f.io->exists(f.io->ctx, "dev1"), OMC_OK);
	assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
	assert_err(wr(d1, "root.a", 0, "one"), OMC_OK);
	assert_err(wr(d2, "root.a", 0, "two"), OMC_OK);
	assert_string_equal(rd(d1, "root.a", b, sizeof b), "one");
	assert_string_equal(rd(d2, "root.a", b, sizeof b), "two");
	assert_string_equal(rd(f.io, "dev2/root.a", b, sizeof b), "two");
	assert_err(d1->sync(d1->ctx, "root.a"), OMC_OK);
	assert_err(d2->sync(d2->ctx, "root.a"), OMC_OK);
	/* Each base's "" is its own directory. */
	assert_err(d1->sync_dir(d1->ctx, ""), OMC_OK);
	omc_memfs_reboot(f.fs);
	assert_string_equal(rd(d1, "root.a", b, sizeof b), "one");
	assert_string_equal(rd(d2, "root.a", b, sizeof b), "<absent>");
	/* Paths stay inside the base. */
	assert_err(wr(d1, "../dev2/x", 0, "x"), OMC_ERR_IO);
	assert_err(wr(d1, "/x", 0, "x"), OMC_ERR_IO);
	assert_err(d1->rename(d1->ctx, "root.a", "sub/root.a"), OMC_ERR_IO); /* one directory per rename */
	assert_err(d1->unlink(d1->ctx, "nothing"), OMC_ERR_NOT_FOUND);
	assert_err(d1->sync(d1->ctx, "nothing"), OMC_ERR_IO);
	assert_err(f.io->pwrite(f.io->ctx, "dev1", 0, (const uint8_t *)"x", 1), OMC_ERR_IO); /* a directory */

	/* list: the durable files, sorted; raw access. */
	assert_err(omc_memfs_raw_put(f.fs, "a/raw", (const uint8_t *)"r", 1), OMC_OK);
	char *paths = NULL;
	size_t len = 0;
	assert_err(omc_memfs_list(f.fs, &paths, &len), OMC_OK);
	assert_int_equal(len, sizeof "a/raw" + sizeof "dev1/root.a");
	assert_memory_equal(paths, "a/raw\0dev1/root.a", len);
	omc_free(paths);
	uint8_t *d = NULL;
	size_t n = 0;
	assert_err(omc_memfs_raw_get(f.fs, "dev2/root.a", &d, &n), OMC_ERR_NOT_FOUND);
	assert_err(omc_memfs_raw_get(f.fs, "a/raw", &d, &n), OMC_OK);
	assert_int_equal(n, 1);
	omc_free(d);
	omc_store_io_mem_free(d1);
	omc_store_io_mem_free(d2);
	omc_store_io_mem_free(NULL);
	omc_memfs_free(NULL);
	fx_free(&f);
}

static void test_stats(void **state)
{
	(void)state;
	fx f;
	fx_new(&f);
	omc_memfs_stats st;
	assert_err(wr(f.io, "f", 0, "abcd"), OMC_OK);
	assert_err(wr(f.io, "f", 4, "ef"), OMC_OK);
	assert_err(f.io->sync(f.io->ctx, "f"), OMC_OK);
	assert_err(f.io->rename(f.io->ctx, "f", "g"), OMC_OK);
	assert_err(f.io->sync_dir(f.io->ctx, ""), OMC_OK);
	assert_err(f.io->mkdir(f.io->ctx, "d"), OMC_OK);
	assert_err(f.io->unlink(f.io->ctx, "g"), OMC_OK);
	omc_memfs_stats_get(f.fs, &st);
	assert_int_equal(st.pwrite, 2);
	assert_int_equal(st.bytes_written, 6);
	assert_int_equal(st.sync, 1);
	assert_int_equal(st.rename, 1);
	assert_int_equal(st.sync_dir, 1);
	assert_int_equal(st.mkdir, 1);
	assert_int_equal(st.unlink, 1);
	assert_int_equal(omc_memfs_op_count(f.fs), 7);
	/* Disarming. */
	omc_memfs_crash_at(f.fs, 1, OMC_MEMFS_LOSE_UNSYNCED, 0);
	omc_memfs_crash_at(f.fs, 0, OMC_MEMFS_LOSE_UNSYNCED, 0);
	assert_err(wr(f.io, "f", 0, "x"), OMC_OK);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durability_lose),
		cmocka_unit_test(test_cut_modes),
		cmocka_unit_test(test_tear_sectors),
		cmocka_unit_test(test_shared_fs_and_dirs),
		cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
