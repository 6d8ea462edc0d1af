/* Secret hygiene, memory, randomness and logging of src/util: the one wipe
 * (omc_memzero, OMC_WIPE, OMC_DEFER_WIPE on every exit path), the one
 * constant-time compare (omc_ct_eq, omc_ct_is_zero: a difference in every
 * byte position and every bit), omc_alloc/omc_calloc/omc_free with the
 * allocation-failure hook of the test archive, omc_rand_bytes, and the log
 * sink and level filter.
 * covers: SEC-12 */
#include <stdalign.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"
#include "util/util_internal.h"

/* --- wipe ------------------------------------------------------------------ */

static void test_memzero(void **state)
{
	(void)state;
	uint8_t buf[64];
	/* Every offset and length: exactly [off, off+len) becomes zero. */
	for (size_t off = 0; off < 9; off++) {
		for (size_t len = 0; off + len <= sizeof buf; len++) {
			memset(buf, 0xaa, sizeof buf);
			omc_memzero(buf + off, len);
			assert_true(tl_all_bytes_are(buf, off, 0xaa));
			assert_true(tl_all_bytes_are(buf + off, len, 0));
			assert_true(tl_all_bytes_are(buf + off + len, sizeof buf - off - len, 0xaa));
		}
	}
	omc_memzero(NULL, 0); /* allowed by util.h */

	struct {
		uint64_t a;
		uint8_t b[13];
	} s;
	memset(&s, 0x5c, sizeof s);
	OMC_WIPE(s);
	assert_true(tl_all_bytes_are((const uint8_t *)&s, sizeof s, 0));
}

/* OMC_DEFER_WIPE(*view) wipes the 16 bytes *view names when the scope ends,
 * by whichever return; view points at the caller's array so the test can look
 * at it afterwards without touching a dead object. */
static int defer_helper(uint8_t (*view)[16], int early)
{
	OMC_DEFER_WIPE(*view);
	memset(*view, 0x42, sizeof *view);
	if (early)
		return 1;
	(*view)[0] = 0x43;
	return 2;
}

static void test_defer_wipe(void **state)
{
	(void)state;
	uint8_t secret[16];
	for (int early = 0; early < 2; early++) {
		memset(secret, 0x99, sizeof secret);
		assert_int_equal(defer_helper(&secret, early), early ? 1 : 2);
		assert_true(tl_all_bytes_are(secret, sizeof secret, 0));
	}

	memset(secret, 0x99, sizeof secret);
	{
		uint8_t(*view)[16] = &secret;
		OMC_DEFER_WIPE(*view);
		assert_true(tl_all_bytes_are(secret, sizeof secret, 0x99)); /* not before the end */
	}
	assert_true(tl_all_bytes_are(secret, sizeof secret, 0));
}

/* --- constant-time compare ----------------------------------------------------- */

static void test_ct_eq_all_byte_pairs(void **state)
{
	(void)state;
	for (unsigned x = 0; x < 256; x++) {
		for (unsigned y = 0; y < 256; y++) {
			const uint8_t a = (uint8_t)x, b = (uint8_t)y;
			const int r = omc_ct_eq(&a, &b, 1);
			if (r != (x == y))
				fail_msg("omc_ct_eq(0x%02x, 0x%02x) = %d", x, y, r);
		}
		const uint8_t a = (uint8_t)x;
		const int z = omc_ct_is_zero(&a, 1);
		if (z != (x == 0))
			fail_msg("omc_ct_is_zero(0x%02x) = %d", x, z);
	}
}

static void test_ct_eq_every_position_and_bit(void **state)
{
	(void)state;
	static const size_t sizes[] = {1, 2, 3, 8, 15, 16, 17, 32, 64, 255, 256, 1000};
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		const size_t n = sizes[si];
		uint8_t a[1000], b[1000];
		tl_rand(a, n);
		memcpy(b, a, n);
		assert_int_equal(omc_ct_eq(a, b, n), 1);
		assert_int_equal(omc_ct_eq(b, a, n), 1);
		assert_int_equal(omc_ct_eq(a, a, n), 1);
		for (size_t pos = 0; pos < n; pos++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				b[pos] = (uint8_t)(a[pos] ^ (1u << bit));
				if (omc_ct_eq(a, b, n) != 0 || omc_ct_eq(b, a, n) != 0)
					fail_msg("n=%zu: bit %u of byte %zu differs, yet equal", n, bit, pos);
				/* Bytes before the difference still compare equal. */
				assert_int_equal(omc_ct_eq(a, b, pos), 1);
				b[pos] = a[pos];
			}
			/* All bits of the byte at once. */
			b[pos] = (uint8_t)~a[pos];
			assert_int_equal(omc_ct_eq(a, b, n), 0);
			b[pos] = a[pos];
		}
		assert_int_equal(omc_ct_eq(a, b, n), 1);
	}
	/* Zero length compares equal, even without buffers. */
	assert_int_equal(omc_ct_eq(NULL, NULL, 0), 1);
	assert_int_equal(omc_ct_eq("a", "b", 0), 1);
}

static void test_ct_is_zero_every_position_and_bit(void **state)
{
	(void)state;
	static const size_t sizes[] = {1, 2, 7, 16, 17, 64, 1000};
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		const size_t n = sizes[si];
		uint8_t z[1000];
		memset(z, 0, n);
		assert_int_equal(omc_ct_is_zero(z, n), 1);
		for (size_t pos = 0; pos < n; pos++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				z[pos] = (uint8_t)(1u << bit);
				if (omc_ct_is_zero(z, n) != 0)
					fail_msg("n=%zu: bit %u of byte %zu set, yet zero", n, bit, pos);
				assert_int_equal(omc_ct_is_zero(z, pos), 1);
				z[pos] = 0;
			}
			z[pos] = 0xff;
			assert_int_equal(omc_ct_is_zero(z, n), 0);
			z[pos] = 0;
		}
	}
	assert_int_equal(omc_ct_is_zero(NULL, 0), 1);
}

/* --- allocation -------------------------------------------------------------- */

static void test_alloc_free(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 4096, 65537};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *p = omc_alloc(sizes[i]);
		if (sizes[i] == 0) {
			omc_free(p); /* whatever it returned, it can be freed */
			continue;
		}
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 0xcd, sizes[i]); /* the whole block is usable (ASan checks) */
		p[sizes[i] - 1] = 1;
		omc_free(p);
	}
	omc_free(NULL); /* no-op */

	/* Sizes that cannot be satisfied come back NULL, without calling
	 * malloc with a wrapped size. */
	assert_null(omc_alloc(SIZE_MAX));
	assert_null(omc_alloc(SIZE_MAX - 1));
	assert_null(omc_alloc(SIZE_MAX - 15));
}

static void test_omc_calloc(void **state)
{
	(void)state;
	/* Leave dirty memory of the size omc_calloc(10, 10) will ask malloc for
	 * (its header and the block), so that a calloc which forgot to zero
	 * would probably hand those bytes back. (ASan fills fresh blocks with
	 * junk, which does the same.) */
	void *junk = malloc(16 + 100);
	assert_non_null(junk);
	memset(junk, 0xa5, 16 + 100);
	free(junk);

	uint8_t *p = omc_calloc(10, 10);
	assert_non_null(p);
	assert_true(tl_all_bytes_are(p, 100, 0));
	assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
	omc_free(p);

	uint64_t *q = omc_calloc(1000, sizeof *q);
	assert_non_null(q);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(q[i], 0);
	omc_free(q);

	/* count * size overflows: NULL, never a short block. */
	assert_null(omc_calloc(SIZE_MAX, 2));
	assert_null(omc_calloc(2, SIZE_MAX));
	assert_null(omc_calloc(SIZE_MAX / 2 + 1, 2));
	assert_null(omc_calloc((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)));
	assert_null(omc_calloc(SIZE_MAX, SIZE_MAX));
	assert_null(omc_calloc(SIZE_MAX / 3 + 1, 3));

	/* Zero elements or zero size is an empty block, freeable. */
	omc_free(omc_calloc(0, 16));
	omc_free(omc_calloc(16, 0));
	omc_free(omc_calloc(0, SIZE_MAX));
	omc_free(omc_calloc(SIZE_MAX, 0));
}

/* Allocates `n` blocks (alternating omc_alloc and omc_calloc) and returns a
 * bitmask of the ones that came back NULL. */
static unsigned alloc_round(size_t n)
{
	void *p[8];
	unsigned nulls = 0;
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		p[i] = (i % 2) ? omc_calloc(3, 8) : omc_alloc(24);
		if (p[i] == NULL)
			nulls |= 1u << i;
	}
	for (size_t i = 0; i < n; i++)
		omc_free(p[i]);
	return nulls;
}

static void test_alloc_fail_hook(void **state)
{
	(void)state;
	/* No failure armed: everything succeeds, and each block is counted once. */
	omc_test_alloc_fail_at(0);
	unsigned long before = omc_test_alloc_count();
	assert_int_equal(alloc_round(6), 0);
	assert_int_equal(omc_test_alloc_count() - before, 6);

	/* The 1st allocation from now fails, and only that one. */
	omc_test_alloc_fail_at(1);
	assert_int_equal(alloc_round(6), 1u << 0);
	/* Spent: it does not fire again. */
	assert_int_equal(alloc_round(6), 0);

	/* The 3rd (an omc_alloc), and only that one. */
	omc_test_alloc_fail_at(3);
	assert_int_equal(alloc_round(6), 1u << 2);
	assert_int_equal(alloc_round(6), 0);

	/* The 2nd (an omc_calloc): calloc goes through the same hook. */
	omc_test_alloc_fail_at(2);
	assert_int_equal(alloc_round(6), 1u << 1);

	/* Armed, then disarmed: nothing fails. */
	omc_test_alloc_fail_at(2);
	omc_test_alloc_fail_at(0);
	assert_int_equal(alloc_round(6), 0);

	/* Re-arming counts from the moment of the call. */
	omc_test_alloc_fail_at(5);
	assert_int_equal(alloc_round(2), 0);
	omc_test_alloc_fail_at(1);
	assert_int_equal(alloc_round(6), 1u << 0);
	assert_int_equal(alloc_round(6), 0);

	/* Every position of a round, in turn. */
	for (unsigned k = 1; k <= 8; k++) {
		omc_test_alloc_fail_at(k);
		assert_int_equal(alloc_round(8), 1u << (k - 1));
	}
	omc_test_alloc_fail_at(0);
}

/* --- randomness --------------------------------------------------------------- */

/* omc_realloc always moves: contents kept up to the smaller size, a failed
 * allocation leaves the old block untouched, 0 frees, NULL allocates. */
static void test_omc_realloc(void **state)
{
	(void)state;
	uint8_t *p = omc_realloc(NULL, 8);
	assert_non_null(p);
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(0xa0 + i);
	uint8_t *q = omc_realloc(p, 64);
	assert_non_null(q);
	assert_ptr_not_equal(q, p);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(q[i], 0xa0 + i);
	uint8_t *r = omc_realloc(q, 4);
	assert_non_null(r);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(r[i], 0xa0 + i);
	omc_test_alloc_fail_at(1);
	assert_null(omc_realloc(r, 128));
	omc_test_alloc_fail_at(0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(r[i], 0xa0 + i); /* still ours, unchanged */
	assert_null(omc_realloc(r, 0));
}

static void test_rand_bytes(void **state)
{
	(void)state;
	uint8_t a[32], b[32];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_err(omc_rand_bytes(a, sizeof a), OMC_OK);
	assert_err(omc_rand_bytes(b, sizeof b), OMC_OK);
	assert_false(omc_ct_eq(a, b, sizeof a));
	assert_false(omc_ct_is_zero(a, sizeof a));
	assert_false(omc_ct_is_zero(b, sizeof b));

	/* A larger buffer is filled to its last byte (all 64 of the final bytes
	 * staying zero has probability 2^-512). */
	uint8_t big[4096];
	memset(big, 0, sizeof big);
	assert_err(omc_rand_bytes(big, sizeof big), OMC_OK);
	assert_false(omc_ct_is_zero(big + sizeof big - 64, 64));

	assert_err(omc_rand_bytes(NULL, 0), OMC_OK);
	assert_err(omc_rand_bytes(a, 0), OMC_OK);
	assert_err(omc_rand_bytes(NULL, 1), OMC_ERR_BAD_ARG);
}

/* --- logging ------------------------------------------------------------------- */

typedef struct capture {
	int calls;
	void *arg_seen;
	omc_log_level level;
	char module[32];
	char msg[1024];
} capture;

static void capture_fn(void *arg, omc_log_level level, const char *module, const char *msg)
{
	capture *c = arg;
	c->calls++;
	c->arg_seen = arg;
	c->level = level;
	snprintf(c->module, sizeof c->module, "%s", module);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void capture_reset(capture *c)
{
	memset(c, 0, sizeof *c);
}

/* Logs one message at level m, by omc_log_write or by the OMC_LOG_* macro. */
static void log_at(omc_log_level m, int by_macro, int n)
{
	if (!by_macro) {
		omc_log_write(m, "utiltest", "message %d at %s", n, omc_log_level_name(m));
		return;
	}
	switch (m) {
	case OMC_LOG_LEVEL_ERR:
		OMC_LOG_ERR("utiltest", "message %d at %s", n, omc_log_level_name(m));
		break;
	case OMC_LOG_LEVEL_WRN:
		OMC_LOG_WRN("utiltest", "message %d at %s", n, omc_log_level_name(m));
		break;
	case OMC_LOG_LEVEL_INF:
		OMC_LOG_INF("utiltest", "message %d at %s", n, omc_log_level_name(m));
		break;
	case OMC_LOG_LEVEL_DBG:
		OMC_LOG_DBG("utiltest", "message %d at %s", n, omc_log_level_name(m));
		break;
	case OMC_LOG_NONE:
		break;
	}
}

static int log_setup(void **state)
{
	static omc_log_level saved;
	saved = omc_log_get_level();
	*state = &saved;
	return 0;
}

static int log_teardown(void **state)
{
	omc_log_set_handler(NULL, NULL);
	omc_log_set_level(*(omc_log_level *)*state);
	return 0;
}

static void test_log_levels(void **state)
{
	(void)state;
	capture cap;
	omc_log_set_handler(capture_fn, &cap);
	for (int set = OMC_LOG_NONE; set <= OMC_LOG_LEVEL_DBG; set++) {
		omc_log_set_level((omc_log_level)set);
		assert_int_equal(omc_log_get_level(), set);
		for (int by_macro = 0; by_macro < 2; by_macro++) {
			for (int m = OMC_LOG_LEVEL_ERR; m <= OMC_LOG_LEVEL_DBG; m++) {
				capture_reset(&cap);
				log_at((omc_log_level)m, by_macro, 100 * set + m);
				const int want = m <= set;
				if (cap.calls != want)
					fail_msg("level %s, message at %s (%s): %d calls, want %d",
						 omc_log_level_name((omc_log_level)set),
						 omc_log_level_name((omc_log_level)m), by_macro ? "macro" : "function",
						 cap.calls, want);
				if (!want)
					continue;
				char expect[64];
				snprintf(expect, sizeof expect, "message %d at %s", 100 * set + m,
					 omc_log_level_name((omc_log_level)m));
				assert_ptr_equal(cap.arg_seen, &cap);
				assert_int_equal(cap.level, m);
				assert_string_equal(cap.module, "utiltest");
				assert_string_equal(cap.msg, expect);
			}
			/* OMC_LOG_NONE is not a message level: never delivered. */
			capture_reset(&cap);
			omc_log_write(OMC_LOG_NONE, "utiltest", "never");
			assert_int_equal(cap.calls, 0);
		}
	}
}

static void test_log_level_names(void **state)
{
	(void)state;
	assert_string_equal(omc_log_level_name(OMC_LOG_NONE), "none");
	assert_string_equal(omc_log_level_name(OMC_LOG_LEVEL_ERR), "error");
	assert_string_equal(omc_log_level_name(OMC_LOG_LEVEL_WRN), "warning");
	assert_string_equal(omc_log_level_name(OMC_LOG_LEVEL_INF), "info");
	assert_string_equal(omc_log_level_name(OMC_LOG_LEVEL_DBG), "debug");
	assert_non_null(omc_log_level_name((omc_log_level)42));
}

static void test_log_long_message(void **state)
{
	(void)state;
	capture cap;
	capture_reset(&cap);
	omc_log_set_handler(capture_fn, &cap);
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	char longmsg[900];
	memset(longmsg, 'q', sizeof longmsg - 1);
	longmsg[sizeof longmsg - 1] = '\0';
	OMC_LOG_INF("utiltest", "%s", longmsg);
	assert_int_equal(cap.calls, 1);
	/* Delivered NUL-terminated: a prefix of the text, possibly shortened. */
	const size_t n = strlen(cap.msg);
	assert_in_range(n, 1, sizeof longmsg - 1);
	assert_true(strspn(cap.msg, "q") == n);
}

/* NULL restores the default sink: "openmcim[module] level: message" on stderr. */
static void test_log_default_sink(void **state)
{
	(void)state;
	capture cap;
	capture_reset(&cap);
	omc_log_set_handler(capture_fn, &cap);
	omc_log_set_level(OMC_LOG_LEVEL_INF);
	omc_log_set_handler(NULL, NULL);

	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	const int saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) == 2);
	OMC_LOG_WRN("sinktest", "value %d", 7);
	OMC_LOG_DBG("sinktest", "filtered %d", 8);
	fflush(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);

	char out[256];
	rewind(tmp);
	const size_t n = fread(out, 1, sizeof out - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	assert_int_equal(cap.calls, 0);
	assert_string_equal(out, "openmcim[sinktest] warning: value 7\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memzero),
		cmocka_unit_test(test_defer_wipe),
		cmocka_unit_test(test_ct_eq_all_byte_pairs),
		cmocka_unit_test(test_ct_eq_every_position_and_bit),
		cmocka_unit_test(test_ct_is_zero_every_position_and_bit),
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_omc_calloc),
		cmocka_unit_test(test_alloc_fail_hook),
		cmocka_unit_test(test_omc_realloc),
		cmocka_unit_test(test_rand_bytes),
		cmocka_unit_test_setup_teardown(test_log_levels, log_setup, log_teardown),
		cmocka_unit_test(test_log_level_names),
		cmocka_unit_test_setup_teardown(test_log_long_message, log_setup, log_teardown),
		cmocka_unit_test_setup_teardown(test_log_default_sink, log_setup, log_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
