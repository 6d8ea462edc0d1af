/* openmcim: the bounds-checked byte cursor every parser and encoder uses.
 *
 * A cursor is a window over a caller buffer with a read position and a write
 * position: 0 <= rpos <= wpos <= cap. Reads consume [rpos, wpos); writes
 * append at wpos. A read-only cursor (omc_cur_init_read) refuses writes.
 * Every operation either succeeds completely or fails and leaves the cursor
 * as it was (no partial reads or writes). Integers are big-endian.
 *
 * Length prefixes: omc_cur_reserve() keeps room for an n-byte length and
 * omc_cur_fill_reservation() later writes the number of bytes appended
 * since, as s2n's stuffer reservations do. */
#ifndef OPENMCIM_CUR_H
#define OPENMCIM_CUR_H

#include "openmcim/util.h"

typedef struct omc_cur {
	const uint8_t *rd; /* the buffer, for reading */
	uint8_t *wr;       /* the same buffer, for writing; NULL if read-only */
	size_t cap;
	size_t rpos;
	size_t wpos;
} omc_cur;

typedef struct omc_cur_rsv {
	size_t pos;   /* where the length goes */
	size_t width; /* 1, 2, 3 or 4 bytes */
} omc_cur_rsv;

/* Read from data[0..len). */
OMC_API void omc_cur_init_read(omc_cur *c, const uint8_t *data, size_t len);
/* Write into buf[0..cap), starting empty. */
OMC_API void omc_cur_init_write(omc_cur *c, uint8_t *buf, size_t cap);
/* OMC_OK if the invariants hold. */
OMC_API OMC_MUST_USE omc_err omc_cur_validate(const omc_cur *c);

OMC_API size_t omc_cur_remaining(const omc_cur *c); /* readable bytes */
OMC_API size_t omc_cur_space(const omc_cur *c);     /* writable bytes */

OMC_API OMC_MUST_USE omc_err omc_cur_read(omc_cur *c, uint8_t *out, size_t n);
/* Borrow n bytes in place; *out points into the cursor's buffer. */
OMC_API OMC_MUST_USE omc_err omc_cur_read_ptr(omc_cur *c, const uint8_t **out, size_t n);
OMC_API OMC_MUST_USE omc_err omc_cur_skip(omc_cur *c, size_t n);
OMC_API OMC_MUST_USE omc_err omc_cur_read_u8(omc_cur *c, uint8_t *v);
OMC_API OMC_MUST_USE omc_err omc_cur_read_u16(omc_cur *c, uint16_t *v);
OMC_API OMC_MUST_USE omc_err omc_cur_read_u32(omc_cur *c, uint32_t *v);
OMC_API OMC_MUST_USE omc_err omc_cur_read_u48(omc_cur *c, uint64_t *v);
OMC_API OMC_MUST_USE omc_err omc_cur_read_u64(omc_cur *c, uint64_t *v);
/* OMC_OK only if every byte has been read. */
OMC_API OMC_MUST_USE omc_err omc_cur_expect_end(const omc_cur *c);

OMC_API OMC_MUST_USE omc_err omc_cur_write(omc_cur *c, const uint8_t *in, size_t n);
OMC_API OMC_MUST_USE omc_err omc_cur_write_u8(omc_cur *c, uint8_t v);
OMC_API OMC_MUST_USE omc_err omc_cur_write_u16(omc_cur *c, uint16_t v);
OMC_API OMC_MUST_USE omc_err omc_cur_write_u32(omc_cur *c, uint32_t v);
OMC_API OMC_MUST_USE omc_err omc_cur_write_u48(omc_cur *c, uint64_t v);
OMC_API OMC_MUST_USE omc_err omc_cur_write_u64(omc_cur *c, uint64_t v);

OMC_API OMC_MUST_USE omc_err omc_cur_reserve(omc_cur *c, omc_cur_rsv *r, size_t width);
/* Writes (wpos - r->pos - r->width); OMC_ERR_TOO_LARGE if it does not fit width. */
OMC_API OMC_MUST_USE omc_err omc_cur_fill_reservation(omc_cur *c, const omc_cur_rsv *r);

#endif
