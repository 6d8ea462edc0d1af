/* The bounds-checked cursor (src/util/cur.c): big-endian integers of every
 * width against known bytes, reads past the end and writes past the capacity
 * that fail without moving anything, read-only cursors, expect_end, length
 * reservations of width 1..4, and omc_cur_validate on good and corrupted
 * structs. */
#include <stdlib.h>

#include "testlib.h"

/* Same bytes, same positions: nothing moved. */
static void assert_cur_same(const omc_cur *a, const omc_cur *b)
{
	assert_ptr_equal(a->rd, b->rd);
	assert_ptr_equal(a->wr, b->wr);
	assert_int_equal(a->cap, b->cap);
	assert_int_equal(a->rpos, b->rpos);
	assert_int_equal(a->wpos, b->wpos);
}

/* 01 02 .. 15: u8, u16, u32, u48, u64 in that order. */
static const uint8_t known[21] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
				  0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};

static void test_write_known_values(void **state)
{
	(void)state;
	uint8_t buf[sizeof known];
	omc_cur c;
	omc_cur_init_write(&c, buf, sizeof buf);
	assert_err(omc_cur_validate(&c), OMC_OK);
	assert_int_equal(omc_cur_space(&c), sizeof buf);
	assert_int_equal(omc_cur_remaining(&c), 0);

	assert_err(omc_cur_write_u8(&c, 0x01), OMC_OK);
	assert_err(omc_cur_write_u16(&c, 0x0203), OMC_OK);
	assert_err(omc_cur_write_u32(&c, 0x04050607u), OMC_OK);
	assert_err(omc_cur_write_u48(&c, UINT64_C(0x08090a0b0c0d)), OMC_OK);
	assert_err(omc_cur_write_u64(&c, UINT64_C(0x0e0f101112131415)), OMC_OK);
	assert_err(omc_cur_validate(&c), OMC_OK);
	assert_int_equal(c.wpos, sizeof known);
	assert_int_equal(omc_cur_space(&c), 0);
	assert_int_equal(omc_cur_remaining(&c), sizeof known);
	assert_memory_equal(buf, known, sizeof known);

	/* Extremes. */
	uint8_t b2[21];
	static const uint8_t ff[21] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	omc_cur_init_write(&c, b2, sizeof b2);
	assert_err(omc_cur_write_u8(&c, UINT8_MAX), OMC_OK);
	assert_err(omc_cur_write_u16(&c, UINT16_MAX), OMC_OK);
	assert_err(omc_cur_write_u32(&c, UINT32_MAX), OMC_OK);
	assert_err(omc_cur_write_u48(&c, (UINT64_C(1) << 48) - 1), OMC_OK);
	assert_err(omc_cur_write_u64(&c, UINT64_MAX), OMC_OK);
	assert_memory_equal(b2, ff, sizeof ff);

	/* Bytes, then reading back what was written through the same cursor. */
	uint8_t b3[8];
	omc_cur_init_write(&c, b3, sizeof b3);
	assert_err(omc_cur_write(&c, known, 3), OMC_OK);
	assert_err(omc_cur_write(&c, NULL, 0), OMC_OK);
	assert_err(omc_cur_write_u16(&c, 0xbeef), OMC_OK);
	uint8_t got[3];
	uint16_t v16 = 0;
	assert_err(omc_cur_read(&c, got, 3), OMC_OK);
	assert_memory_equal(got, known, 3);
	assert_err(omc_cur_read_u16(&c, &v16), OMC_OK);
	assert_int_equal(v16, 0xbeef);
	assert_err(omc_cur_expect_end(&c), OMC_OK);
	assert_err(omc_cur_validate(&c), OMC_OK);
}

static void test_read_known_values(void **state)
{
	(void)state;
	omc_cur c;
	omc_cur_init_read(&c, known, sizeof known);
	assert_err(omc_cur_validate(&c), OMC_OK);
	assert_int_equal(omc_cur_remaining(&c), sizeof known);
	assert_int_equal(omc_cur_space(&c), 0);

	uint8_t v8 = 0;
	uint16_t v16 = 0;
	uint32_t v32 = 0;
	uint64_t v48 = 0, v64 = 0;
	assert_err(omc_cur_read_u8(&c, &v8), OMC_OK);
	assert_err(omc_cur_read_u16(&c, &v16), OMC_OK);
	assert_err(omc_cur_read_u32(&c, &v32), OMC_OK);
	assert_err(omc_cur_read_u48(&c, &v48), OMC_OK);
	assert_int_equal(omc_cur_remaining(&c), 8);
	assert_err(omc_cur_expect_end(&c), OMC_ERR_BAD_FORMAT);
	assert_err(omc_cur_read_u64(&c, &v64), OMC_OK);
	assert_int_equal(v8, 0x01);
	assert_int_equal(v16, 0x0203);
	assert_int_equal(v32, 0x04050607u);
	assert_int_equal(v48, UINT64_C(0x08090a0b0c0d));
	assert_int_equal(v64, UINT64_C(0x0e0f101112131415));
	assert_int_equal(omc_cur_remaining(&c), 0);
	assert_err(omc_cur_expect_end(&c), OMC_OK);
	assert_err(omc_cur_validate(&c), OMC_OK);

	/* High bits survive (no sign extension, no truncation). */
	static const uint8_t hi[] = {0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8};
	omc_cur_init_read(&c, hi, sizeof hi);
	assert_err(omc_cur_read_u48(&c, &v48), OMC_OK);
	assert_int_equal(v48, UINT64_C(0x800000000001));
	assert_err(omc_cur_read_u64(&c, &v64), OMC_OK);
	assert_int_equal(v64, UINT64_C(0xfffefdfcfbfaf9f8));

	/* Bytes, borrowed pointers and skips. */
	omc_cur_init_read(&c, known, sizeof known);
	uint8_t got[4];
	const uint8_t *p = NULL;
	assert_err(omc_cur_read(&c, got, 4), OMC_OK);
	assert_memory_equal(got, known, 4);
	assert_err(omc_cur_read_ptr(&c, &p, 5), OMC_OK);
	assert_ptr_equal(p, known + 4);
	assert_err(omc_cur_skip(&c, 2), OMC_OK);
	assert_err(omc_cur_read(&c, NULL, 0), OMC_OK);
	assert_err(omc_cur_skip(&c, 0), OMC_OK);
	assert_err(omc_cur_read_u8(&c, &v8), OMC_OK);
	assert_int_equal(v8, known[11]);
	assert_err(omc_cur_skip(&c, sizeof known - 12), OMC_OK);
	assert_err(omc_cur_expect_end(&c), OMC_OK);

	/* A NULL buffer is an empty cursor, whatever the length says. */
	omc_cur_init_read(&c, NULL, 5);
	assert_err(omc_cur_validate(&c), OMC_OK);
	assert_int_equal(omc_cur_remaining(&c), 0);
	assert_err(omc_cur_read_u8(&c, &v8), OMC_ERR_TRUNCATED);
	assert_err(omc_cur_expect_end(&c), OMC_OK);
	omc_cur_init_write(&c, NULL, 5);
	assert_err(omc_cur_validate(&c), OMC_OK);
	assert_int_equal(omc_cur_space(&c), 0);
	assert_int_not_equal(omc_cur_write_u8(&c, 1), OMC_OK);
}

/* For every width, a cursor with one byte too few: the read fails with
 * TRUNCATED, and neither the cursor nor the output moves. */
static void test_read_past_end(void **state)
{
	(void)state;
	static const size_t widths[] = {1, 2, 4, 6, 8};
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		const size_t width = widths[w];
		for (size_t have = 0; have < width; have++) {
			/* Start one byte in, so rpos is not 0. */
			omc_cur c, before;
			omc_cur_init_read(&c, known, 1 + have);
			assert_err(omc_cur_skip(&c, 1), OMC_OK);
			before = c;

			omc_err e;
			uint64_t v = UINT64_C(0x5a5a5a5a5a5a5a5a);
			uint8_t v8 = 0x5a;
			uint16_t v16 = 0x5a5a;
			uint32_t v32 = 0x5a5a5a5au;
			switch (width) {
			case 1:
				e = omc_cur_read_u8(&c, &v8);
				break;
			case 2:
				e = omc_cur_read_u16(&c, &v16);
				break;
			case 4:
				e = omc_cur_read_u32(&c, &v32);
				break;
			case 6:
				e = omc_cur_read_u48(&c, &v);
				break;
			default:
				e = omc_cur_read_u64(&c, &v);
				break;
			}
			assert_err(e, OMC_ERR_TRUNCATED);
			assert_cur_same(&c, &before);
			assert_int_equal(v, UINT64_C(0x5a5a5a5a5a5a5a5a));
			assert_int_equal(v8, 0x5a);
			assert_int_equal(v16, 0x5a5a);
			assert_int_equal(v32, 0x5a5a5a5au);

			uint8_t out[8];
			memset(out, 0x5a, sizeof out);
			const uint8_t *p = (const uint8_t *)&before;
			assert_err(omc_cur_read(&c, out, width), OMC_ERR_TRUNCATED);
			assert_err(omc_cur_read_ptr(&c, &p, width), OMC_ERR_TRUNCATED);
			assert_err(omc_cur_skip(&c, width), OMC_ERR_TRUNCATED);
			assert_cur_same(&c, &before);
			assert_ptr_equal(p, (const uint8_t *)&before);
			for (size_t i = 0; i < sizeof out; i++)
				assert_int_equal(out[i], 0x5a);
			assert_err(omc_cur_validate(&c), OMC_OK);
		}
	}

	/* Huge lengths do not wrap around. */
	omc_cur c, before;
	omc_cur_init_read(&c, known, sizeof known);
	assert_err(omc_cur_skip(&c, 3), OMC_OK);
	before = c;
	const uint8_t *p = NULL;
	assert_err(omc_cur_skip(&c, SIZE_MAX), OMC_ERR_TRUNCATED);
	assert_err(omc_cur_read_ptr(&c, &p, SIZE_MAX - 2), OMC_ERR_TRUNCATED);
	assert_err(omc_cur_skip(&c, sizeof known - 2), OMC_ERR_TRUNCATED);
	assert_cur_same(&c, &before);
	assert_null(p);
}

/* For every width, a cursor with one byte too few of space: NO_SPACE, and
 * neither the cursor nor the buffer changes. */
static void test_write_past_capacity(void **state)
{
	(void)state;
	static const size_t widths[] = {1, 2, 4, 6, 8};
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		const size_t width = widths[w];
		for (size_t room = 0; room < width; room++) {
			uint8_t buf[16], copy[16];
			memset(buf, 0x5a, sizeof buf);
			omc_cur c, before;
			/* Two bytes already written, then `room` bytes of space. */
			omc_cur_init_write(&c, buf, 2 + room);
			assert_err(omc_cur_write_u16(&c, 0xa1a2), OMC_OK);
			before = c;
			memcpy(copy, buf, sizeof buf);
			assert_int_equal(omc_cur_space(&c), room);

			omc_err e;
			switch (width) {
			case 1:
				e = omc_cur_write_u8(&c, 0xff);
				break;
			case 2:
				e = omc_cur_write_u16(&c, 0xffff);
				break;
			case 4:
				e = omc_cur_write_u32(&c, 0xffffffffu);
				break;
			case 6:
				e = omc_cur_write_u48(&c, UINT64_C(0xffffffffffff));
				break;
			default:
				e = omc_cur_write_u64(&c, UINT64_MAX);
				break;
			}
			assert_err(e, OMC_ERR_NO_SPACE);
			assert_cur_same(&c, &before);
			assert_memory_equal(buf, copy, sizeof buf);

			static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
			assert_err(omc_cur_write(&c, ones, width), OMC_ERR_NO_SPACE);
			assert_cur_same(&c, &before);
			assert_memory_equal(buf, copy, sizeof buf);

			if (width <= 4) {
				omc_cur_rsv r = {.pos = 77, .width = 88};
				assert_err(omc_cur_reserve(&c, &r, width), OMC_ERR_NO_SPACE);
				assert_cur_same(&c, &before);
				assert_memory_equal(buf, copy, sizeof buf);
				assert_int_equal(r.pos, 77);
				assert_int_equal(r.width, 88);
			}
			assert_err(omc_cur_validate(&c), OMC_OK);
		}
	}

	uint8_t buf[4] = {1, 2, 3, 4};
	omc_cur c, before;
	omc_cur_init_write(&c, buf, sizeof buf);
	assert_err(omc_cur_write_u8(&c, 9), OMC_OK);
	before = c;
	assert_err(omc_cur_write(&c, known, SIZE_MAX), OMC_ERR_NO_SPACE);
	assert_err(omc_cur_write(&c, known, SIZE_MAX - 1), OMC_ERR_NO_SPACE);
	assert_cur_same(&c, &before);
	static const uint8_t want[4] = {9, 2, 3, 4};
	assert_memory_equal(buf, want, 4);
}

static void test_read_only_refuses_writes(void **state)
{
	(void)state;
	uint8_t buf[16];
	memset(buf, 0x3c, sizeof buf);
	uint8_t copy[16];
	memcpy(copy, buf, sizeof buf);

	omc_cur c, before;
	omc_cur_init_read(&c, buf, sizeof buf);
	assert_null(c.wr);
	assert_int_equal(omc_cur_space(&c), 0);
	uint8_t v8 = 0;
	assert_err(omc_cur_read_u8(&c, &v8), OMC_OK); /* leaves a read position to keep */
	before = c;

	assert_int_not_equal(omc_cur_write_u8(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_write_u16(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_write_u32(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_write_u48(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_write_u64(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_write(&c, known, 1), OMC_OK);
	omc_cur_rsv r = {.pos = 0, .width = 1};
	assert_int_not_equal(omc_cur_reserve(&c, &r, 2), OMC_OK);
	/* A reservation that looks in range must not write through rd either. */
	r.pos = 2;
	r.width = 2;
	assert_int_not_equal(omc_cur_fill_reservation(&c, &r), OMC_OK);

	assert_cur_same(&c, &before);
	assert_memory_equal(buf, copy, sizeof buf);
	assert_err(omc_cur_validate(&c), OMC_OK);
}

static void test_expect_end(void **state)
{
	(void)state;
	omc_cur c;
	uint8_t buf[4];
	omc_cur_init_write(&c, buf, sizeof buf);
	assert_err(omc_cur_expect_end(&c), OMC_OK); /* nothing written, nothing to read */
	assert_err(omc_cur_write_u16(&c, 0x1234), OMC_OK);
	assert_int_not_equal(omc_cur_expect_end(&c), OMC_OK);
	assert_err(omc_cur_skip(&c, 1), OMC_OK);
	assert_int_not_equal(omc_cur_expect_end(&c), OMC_OK);
	assert_err(omc_cur_skip(&c, 1), OMC_OK);
	assert_err(omc_cur_expect_end(&c), OMC_OK);

	omc_cur_init_read(&c, known, 0);
	assert_err(omc_cur_expect_end(&c), OMC_OK);
	omc_cur_init_read(&c, known, 1);
	assert_err(omc_cur_expect_end(&c), OMC_ERR_BAD_FORMAT);
}

/* Reserve a width-byte length, append len bytes, fill: the prefix holds len
 * big-endian and the payload follows untouched. */
static void check_reservation(size_t width, size_t len)
{
	const size_t total = 1 + width + len + 1;
	uint8_t *buf = malloc(total);
	assert_non_null(buf);
	omc_cur c;
	omc_cur_init_write(&c, buf, total);
	assert_err(omc_cur_write_u8(&c, 0xaa), OMC_OK);
	omc_cur_rsv r;
	assert_err(omc_cur_reserve(&c, &r, width), OMC_OK);
	assert_int_equal(r.pos, 1);
	assert_int_equal(r.width, width);
	assert_int_equal(c.wpos, 1 + width);
	for (size_t i = 0; i < width; i++)
		assert_int_equal(buf[1 + i], 0);
	if (len) {
		memset(buf + 1 + width, 0x77, len);
		c.wpos += len; /* as if written; keeps the test fast for 2^24 */
		assert_err(omc_cur_validate(&c), OMC_OK);
	}
	assert_err(omc_cur_fill_reservation(&c, &r), OMC_OK);
	assert_err(omc_cur_write_u8(&c, 0xbb), OMC_OK);
	assert_int_equal(c.wpos, total);

	size_t got = 0;
	for (size_t i = 0; i < width; i++)
		got = (got << 8) | buf[1 + i];
	assert_int_equal(got, len);
	assert_int_equal(buf[0], 0xaa);
	assert_int_equal(buf[total - 1], 0xbb);
	if (len) {
		assert_int_equal(buf[1 + width], 0x77);
		assert_int_equal(buf[width + len], 0x77);
	}
	free(buf);
}

/* As check_reservation with len one past what width holds: TOO_LARGE, and
 * the zeroed prefix and the cursor stay as they were. */
static void check_reservation_too_large(size_t width, size_t len)
{
	const size_t total = width + len;
	uint8_t *buf = malloc(total);
	assert_non_null(buf);
	omc_cur c;
	omc_cur_init_write(&c, buf, total);
	omc_cur_rsv r;
	assert_err(omc_cur_reserve(&c, &r, width), OMC_OK);
	c.wpos += len;
	omc_cur before = c;
	assert_err(omc_cur_fill_reservation(&c, &r), OMC_ERR_TOO_LARGE);
	assert_cur_same(&c, &before);
	for (size_t i = 0; i < width; i++)
		assert_int_equal(buf[i], 0);
	free(buf);
}

static void test_reservations(void **state)
{
	(void)state;
	for (size_t width = 1; width <= 4; width++) {
		check_reservation(width, 0);
		check_reservation(width, 1);
		check_reservation(width, 200);
		check_reservation(width, 255);
	}
	for (size_t width = 2; width <= 4; width++) {
		check_reservation(width, 256);
		check_reservation(width, 0x1234);
		check_reservation(width, 65535);
	}
	for (size_t width = 3; width <= 4; width++) {
		check_reservation(width, 65536);
		check_reservation(width, 0x12345);
	}
	check_reservation(3, ((size_t)1 << 24) - 1);
	check_reservation(4, (size_t)1 << 24);

	check_reservation_too_large(1, 256);
	check_reservation_too_large(1, 1000);
	check_reservation_too_large(2, 65536);
	check_reservation_too_large(3, (size_t)1 << 24);
}

/* Width 4 holds lengths up to 2^32 - 1. Past that needs a 4 GiB buffer, so
 * the cursor is told it holds that much while only the four prefix bytes
 * exist; fill_reservation writes nothing but the prefix. */
static void test_reservation_width4_limit(void **state)
{
	(void)state;
#if SIZE_MAX <= UINT32_MAX
	skip();
#else
	uint8_t buf[4] = {0, 0, 0, 0};
	omc_cur c;
	omc_cur_init_write(&c, buf, sizeof buf);
	omc_cur_rsv r;
	assert_err(omc_cur_reserve(&c, &r, 4), OMC_OK);

	c.cap = (size_t)UINT32_MAX + 4;
	c.wpos = c.cap;
	assert_err(omc_cur_fill_reservation(&c, &r), OMC_OK);
	static const uint8_t max[4] = {0xff, 0xff, 0xff, 0xff};
	assert_memory_equal(buf, max, 4);

	memset(buf, 0, sizeof buf);
	c.cap = (size_t)UINT32_MAX + 5;
	c.wpos = c.cap;
	assert_err(omc_cur_fill_reservation(&c, &r), OMC_ERR_TOO_LARGE);
	static const uint8_t zero[4];
	assert_memory_equal(buf, zero, 4);
#endif
}

/* A reservation whose pos + width wraps around SIZE_MAX is not inside the
 * written bytes and must be refused before anything is written. The cursor
 * sits in the middle of a larger array so that a write before its start
 * lands in guard bytes this test can see (rather than on the stack). */
static void test_reservation_pos_overflow(void **state)
{
	(void)state;
	uint8_t arena[24];
	memset(arena, 0xee, sizeof arena);
	omc_cur c;
	omc_cur_init_write(&c, arena + 8, 8);
	assert_err(omc_cur_write_u64(&c, 0), OMC_OK);
	const omc_cur before = c;
	uint8_t copy[sizeof arena];
	memcpy(copy, arena, sizeof arena);

	for (size_t width = 1; width <= 4; width++) {
		for (size_t back = 1; back < width; back++) {
			/* pos + width == wpos - 1 (mod 2^64): passes a naive check. */
			const omc_cur_rsv r = {.pos = SIZE_MAX - back + 1, .width = width};
			omc_err e = omc_cur_fill_reservation(&c, &r);
			if (e == OMC_OK || memcmp(arena, copy, sizeof arena) != 0)
				fail_msg("reservation {pos SIZE_MAX-%zu, width %zu} on wpos %zu: got %s, "
					 "guard bytes %s",
					 back - 1, width, c.wpos, omc_err_name(e),
					 memcmp(arena, copy, sizeof arena) ? "overwritten" : "intact");
			assert_cur_same(&c, &before);
		}
	}
}

static void test_reservation_nested_and_bad(void **state)
{
	(void)state;
	/* A TLV inside a TLV: outer 2-byte length, inner 1-byte length. */
	uint8_t buf[16];
	memset(buf, 0x5a, sizeof buf);
	omc_cur c;
	omc_cur_init_write(&c, buf, sizeof buf);
	omc_cur_rsv outer, inner;
	assert_err(omc_cur_write_u8(&c, 0x30), OMC_OK);
	assert_err(omc_cur_reserve(&c, &outer, 2), OMC_OK);
	assert_err(omc_cur_write_u8(&c, 0x04), OMC_OK);
	assert_err(omc_cur_reserve(&c, &inner, 1), OMC_OK);
	assert_err(omc_cur_write_u32(&c, 0xdeadbeefu), OMC_OK);
	assert_err(omc_cur_fill_reservation(&c, &inner), OMC_OK);
	assert_err(omc_cur_fill_reservation(&c, &outer), OMC_OK);
	static const uint8_t want[] = {0x30, 0x00, 0x06, 0x04, 0x04, 0xde, 0xad, 0xbe, 0xef};
	assert_int_equal(c.wpos, sizeof want);
	assert_memory_equal(buf, want, sizeof want);

	/* Filling twice after more data updates the length. */
	assert_err(omc_cur_write_u8(&c, 0x01), OMC_OK);
	assert_err(omc_cur_fill_reservation(&c, &outer), OMC_OK);
	assert_int_equal(buf[2], 0x07);

	/* Widths outside 1..4 are refused, and nothing is written. */
	omc_cur before = c;
	static const size_t bad_widths[] = {0, 5, 8, SIZE_MAX};
	for (size_t i = 0; i < sizeof bad_widths / sizeof bad_widths[0]; i++) {
		omc_cur_rsv r = {.pos = 99, .width = 99};
		assert_int_not_equal(omc_cur_reserve(&c, &r, bad_widths[i]), OMC_OK);
		assert_cur_same(&c, &before);
		assert_int_equal(r.pos, 99);
		omc_cur_rsv bogus = {.pos = 0, .width = bad_widths[i]};
		assert_int_not_equal(omc_cur_fill_reservation(&c, &bogus), OMC_OK);
		assert_cur_same(&c, &before);
	}
	/* A reservation that does not lie inside what has been written. */
	uint8_t copy[sizeof buf];
	memcpy(copy, buf, sizeof buf);
	omc_cur_rsv past = {.pos = c.wpos - 1, .width = 2};
	assert_int_not_equal(omc_cur_fill_reservation(&c, &past), OMC_OK);
	past.pos = c.wpos + 3;
	past.width = 1;
	assert_int_not_equal(omc_cur_fill_reservation(&c, &past), OMC_OK);
	assert_cur_same(&c, &before);
	assert_memory_equal(buf, copy, sizeof buf);
}

static void test_u48_range(void **state)
{
	(void)state;
	uint8_t buf[8];
	memset(buf, 0x11, sizeof buf);
	omc_cur c, before;
	omc_cur_init_write(&c, buf, sizeof buf);
	before = c;
	static const uint64_t too_big[] = {UINT64_C(1) << 48, (UINT64_C(1) << 48) + 1, UINT64_C(1) << 63,
					   UINT64_MAX};
	for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
		assert_int_not_equal(omc_cur_write_u48(&c, too_big[i]), OMC_OK);
		assert_cur_same(&c, &before);
		for (size_t j = 0; j < sizeof buf; j++)
			assert_int_equal(buf[j], 0x11);
	}
	assert_err(omc_cur_write_u48(&c, (UINT64_C(1) << 48) - 1), OMC_OK);
	assert_err(omc_cur_write_u48(&c, 0), OMC_ERR_NO_SPACE); /* only 2 bytes left */

	/* Round trip through the u48 reader, and agreement with omc_load_be48. */
	for (int i = 0; i < 64; i++) {
		uint64_t v;
		tl_rand(&v, sizeof v);
		v &= (UINT64_C(1) << 48) - 1;
		omc_cur_init_write(&c, buf, 6);
		assert_err(omc_cur_write_u48(&c, v), OMC_OK);
		assert_int_equal(omc_load_be48(buf), v);
		uint64_t back = ~v;
		assert_err(omc_cur_read_u48(&c, &back), OMC_OK);
		assert_int_equal(back, v);
	}
}

static void test_validate(void **state)
{
	(void)state;
	uint8_t buf[8];
	omc_cur good;
	omc_cur_init_write(&good, buf, sizeof buf);
	assert_err(omc_cur_validate(&good), OMC_OK);
	assert_err(omc_cur_write_u32(&good, 1), OMC_OK);
	assert_err(omc_cur_skip(&good, 2), OMC_OK);
	assert_err(omc_cur_validate(&good), OMC_OK);

	omc_cur ro;
	omc_cur_init_read(&ro, known, sizeof known);
	assert_err(omc_cur_validate(&ro), OMC_OK);

	/* Full and empty boundaries are valid. */
	omc_cur b = good;
	b.rpos = b.wpos = b.cap;
	assert_err(omc_cur_validate(&b), OMC_OK);
	b.rpos = b.wpos = 0;
	assert_err(omc_cur_validate(&b), OMC_OK);

	assert_int_not_equal(omc_cur_validate(NULL), OMC_OK);

	/* Each invariant broken in turn. */
	omc_cur bad = good;
	bad.rpos = bad.wpos + 1; /* rpos > wpos */
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = good;
	bad.wpos = bad.cap + 1; /* wpos > cap */
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = good;
	bad.rpos = bad.wpos = bad.cap + 1;
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = good;
	bad.rpos = SIZE_MAX;
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = good;
	bad.rd = NULL; /* no buffer but a capacity */
	bad.wr = NULL;
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = good;
	bad.wr = buf + 1; /* write view is not the read view */
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = ro;
	bad.wr = buf; /* a read cursor given someone else's buffer to write */
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	bad = ro;
	bad.wpos = ro.cap + 1;
	assert_int_not_equal(omc_cur_validate(&bad), OMC_OK);
	assert_err(omc_cur_validate(&bad), OMC_ERR_BUG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_known_values),
		cmocka_unit_test(test_read_known_values),
		cmocka_unit_test(test_read_past_end),
		cmocka_unit_test(test_write_past_capacity),
		cmocka_unit_test(test_read_only_refuses_writes),
		cmocka_unit_test(test_expect_end),
		cmocka_unit_test(test_reservations),
		cmocka_unit_test(test_reservation_width4_limit),
		cmocka_unit_test(test_reservation_nested_and_bad),
		cmocka_unit_test(test_u48_range),
		cmocka_unit_test(test_validate),
		/* Last: on the bug it checks, sanitizers stop the process. */
		cmocka_unit_test(test_reservation_pos_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
