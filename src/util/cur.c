/* The bounds-checked cursor (see cur.h). Every check happens before any byte
 * moves, so a failed call leaves the cursor and the buffers as they were. */
#include <string.h>

#include "util/util_internal.h"

void omc_cur_init_read(omc_cur *c, const uint8_t *data, size_t len)
{
	c->rd = data;
	c->wr = NULL;
	c->cap = data ? len : 0;
	c->rpos = 0;
	c->wpos = c->cap;
}

void omc_cur_init_write(omc_cur *c, uint8_t *buf, size_t cap)
{
	c->rd = buf;
	c->wr = buf;
	c->cap = buf ? cap : 0;
	c->rpos = 0;
	c->wpos = 0;
}

omc_err omc_cur_validate(const omc_cur *c)
{
	OMC_ENSURE(c != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(c->rpos <= c->wpos && c->wpos <= c->cap, OMC_ERR_BUG);
	OMC_ENSURE(c->rd != NULL || c->cap == 0, OMC_ERR_BUG);
	OMC_ENSURE(c->wr == NULL || c->wr == c->rd, OMC_ERR_BUG);
	return OMC_OK;
}

size_t omc_cur_remaining(const omc_cur *c)
{
	return c->wpos - c->rpos;
}

size_t omc_cur_space(const omc_cur *c)
{
	return c->wr ? c->cap - c->wpos : 0;
}

omc_err omc_cur_read_ptr(omc_cur *c, const uint8_t **out, size_t n)
{
	OMC_ENSURE(n <= omc_cur_remaining(c), OMC_ERR_TRUNCATED);
	*out = c->rd + c->rpos;
	c->rpos += n;
	return OMC_OK;
}

omc_err omc_cur_read(omc_cur *c, uint8_t *out, size_t n)
{
	const uint8_t *p;
	OMC_TRY(omc_cur_read_ptr(c, &p, n));
	if (n)
		memcpy(out, p, n);
	return OMC_OK;
}

omc_err omc_cur_skip(omc_cur *c, size_t n)
{
	const uint8_t *p;
	return omc_cur_read_ptr(c, &p, n);
}

static omc_err read_uint(omc_cur *c, uint64_t *v, size_t n)
{
	const uint8_t *p;
	OMC_TRY(omc_cur_read_ptr(c, &p, n));
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return OMC_OK;
}

omc_err omc_cur_read_u8(omc_cur *c, uint8_t *v)
{
	uint64_t x;
	OMC_TRY(read_uint(c, &x, 1));
	*v = (uint8_t)x;
	return OMC_OK;
}

omc_err omc_cur_read_u16(omc_cur *c, uint16_t *v)
{
	uint64_t x;
	OMC_TRY(read_uint(c, &x, 2));
	*v = (uint16_t)x;
	return OMC_OK;
}

omc_err omc_cur_read_u32(omc_cur *c, uint32_t *v)
{
	uint64_t x;
	OMC_TRY(read_uint(c, &x, 4));
	*v = (uint32_t)x;
	return OMC_OK;
}

omc_err omc_cur_read_u48(omc_cur *c, uint64_t *v)
{
	return read_uint(c, v, 6);
}

omc_err omc_cur_read_u64(omc_cur *c, uint64_t *v)
{
	return read_uint(c, v, 8);
}

omc_err omc_cur_expect_end(const omc_cur *c)
{
	OMC_ENSURE(omc_cur_remaining(c) == 0, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

omc_err omc_cur_write(omc_cur *c, const uint8_t *in, size_t n)
{
	OMC_ENSURE(c->wr != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(n <= omc_cur_space(c), OMC_ERR_NO_SPACE);
	if (n)
		memmove(c->wr + c->wpos, in, n);
	c->wpos += n;
	return OMC_OK;
}

static omc_err write_uint(omc_cur *c, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[n - 1 - i] = (uint8_t)(v >> (8 * i));
	return omc_cur_write(c, b, n);
}

omc_err omc_cur_write_u8(omc_cur *c, uint8_t v)
{
	return write_uint(c, v, 1);
}

omc_err omc_cur_write_u16(omc_cur *c, uint16_t v)
{
	return write_uint(c, v, 2);
}

omc_err omc_cur_write_u32(omc_cur *c, uint32_t v)
{
	return write_uint(c, v, 4);
}

omc_err omc_cur_write_u48(omc_cur *c, uint64_t v)
{
	OMC_ENSURE(v < (UINT64_C(1) << 48), OMC_ERR_BAD_ARG);
	return write_uint(c, v, 6);
}

omc_err omc_cur_write_u64(omc_cur *c, uint64_t v)
{
	return write_uint(c, v, 8);
}

omc_err omc_cur_reserve(omc_cur *c, omc_cur_rsv *r, size_t width)
{
	OMC_ENSURE(width >= 1 && width <= 4, OMC_ERR_BAD_ARG);
	static const uint8_t zeros[4];
	size_t pos = c->wpos;
	OMC_TRY(omc_cur_write(c, zeros, width));
	r->pos = pos;
	r->width = width;
	return OMC_OK;
}

omc_err omc_cur_fill_reservation(omc_cur *c, const omc_cur_rsv *r)
{
	OMC_ENSURE(c->wr != NULL && r->width >= 1 && r->width <= 4, OMC_ERR_BAD_ARG);
	OMC_ENSURE(r->pos <= c->wpos && r->width <= c->wpos - r->pos, OMC_ERR_BAD_ARG);
	size_t len = c->wpos - r->pos - r->width;
	OMC_ENSURE(r->width == 4 || len < ((size_t)1 << (8 * r->width)), OMC_ERR_TOO_LARGE);
	OMC_ENSURE(len <= UINT32_MAX, OMC_ERR_TOO_LARGE);
	for (size_t i = 0; i < r->width; i++)
		c->wr[r->pos + r->width - 1 - i] = (uint8_t)(len >> (8 * i));
	return OMC_OK;
}
