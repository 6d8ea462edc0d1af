/* The link's frames (docs/link.md): a header with the version, BEARER,
 * DIRECTION, COUNT and the payload's length, the payload ciphered with
 * 128-EEA2 under KNASenc, then a MAC with 128-EIA2 under KNASint over the
 * header and the ciphertext. The receiver checks the header, its replay
 * window and the MAC (constant time) before it deciphers anything, and
 * moves its window only for a frame that passed them all. */
#include <string.h>

#include "link/link_internal.h"

omc_err omc_link_init(omc_link *l, const uint8_t kasme[OMC_LINK_KASME_LEN], uint8_t bearer, omc_link_dir self)
{
	omc_memzero(l, sizeof *l);
	OMC_ENSURE(bearer <= 31 && (self == OMC_LINK_UPLINK || self == OMC_LINK_DOWNLINK), OMC_ERR_BAD_ARG);
	OMC_TRY(omc_link_keys_derive(&l->keys, kasme));
	l->bearer = bearer;
	l->self = (uint8_t)self;
	l->ready = true;
	return OMC_OK;
}

void omc_link_wipe(omc_link *l)
{
	if (l)
		omc_memzero(l, sizeof *l);
}

/* The header: version, BEARER << 3 | DIRECTION << 2 (the layout of byte 4
 * of the B.1.1 counter block; the two low bits 0), COUNT, length. */
static omc_err put_header(uint8_t h[OMC_LINK_HDR_LEN], uint8_t bearer, uint8_t dir, uint32_t count, size_t len)
{
	omc_cur c;
	omc_cur_init_write(&c, h, OMC_LINK_HDR_LEN);
	OMC_TRY(omc_cur_write_u8(&c, OMC_LINK_VERSION));
	OMC_TRY(omc_cur_write_u8(&c, (uint8_t)((bearer << 3) | (dir << 2))));
	OMC_TRY(omc_cur_write_u32(&c, count));
	return omc_cur_write_u16(&c, (uint16_t)len);
}

omc_err omc_link_seal(omc_link *l, uint8_t *frame, size_t cap, size_t *frame_len, const uint8_t *pt, size_t pt_len)
{
	*frame_len = 0;
	OMC_ENSURE(l->ready, OMC_ERR_BAD_STATE);
	OMC_ENSURE(pt_len <= OMC_LINK_MAX_PAYLOAD, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(pt != NULL || pt_len == 0, OMC_ERR_BAD_ARG);
	size_t n = OMC_LINK_HDR_LEN + pt_len + OMC_LINK_MAC_LEN;
	OMC_ENSURE(cap >= n, OMC_ERR_NO_SPACE);
	/* A COUNT is never used twice under one key (TS 33.401 B.1.1). */
	OMC_ENSURE(!l->tx_done, OMC_ERR_EXHAUSTED);
	uint32_t count = l->tx_next;
	omc_err e = put_header(frame, l->bearer, l->self, count, pt_len);
	if (e == OMC_OK)
		e = omc_link_eea2(frame + OMC_LINK_HDR_LEN, l->keys.nas_enc, count, l->bearer, l->self, pt, pt_len * 8);
	if (e == OMC_OK)
		e = omc_link_eia2(frame + OMC_LINK_HDR_LEN + pt_len, l->keys.nas_int, count, l->bearer, l->self, frame,
				  (OMC_LINK_HDR_LEN + pt_len) * 8);
	if (e != OMC_OK) {
		omc_memzero(frame, n);
		return e;
	}
	if (count == UINT32_MAX)
		l->tx_done = true;
	else
		l->tx_next = count + 1;
	*frame_len = n;
	return OMC_OK;
}

/* The window: COUNT above the highest accepted is new; within
 * OMC_LINK_WINDOW below it, new unless its bit is set; older, a replay. */
static bool fresh(const omc_link *l, uint32_t count)
{
	if (!l->rx_any || count > l->rx_top)
		return true;
	uint32_t age = l->rx_top - count;
	return age < OMC_LINK_WINDOW && !((l->rx_seen >> age) & 1u);
}

static void accept(omc_link *l, uint32_t count)
{
	if (!l->rx_any) {
		l->rx_any = true;
		l->rx_top = count;
		l->rx_seen = 1;
	} else if (count > l->rx_top) {
		uint32_t shift = count - l->rx_top;
		l->rx_seen = shift >= 64 ? 1 : (l->rx_seen << shift) | 1u;
		l->rx_top = count;
	} else {
		l->rx_seen |= UINT64_C(1) << (l->rx_top - count);
	}
}

omc_err omc_link_open(omc_link *l, uint8_t *pt, size_t cap, size_t *pt_len, uint32_t *count, const uint8_t *frame,
		      size_t frame_len)
{
	*pt_len = 0;
	OMC_ENSURE(l->ready, OMC_ERR_BAD_STATE);
	omc_cur c;
	omc_cur_init_read(&c, frame, frame_len);
	uint8_t ver = 0, bd = 0;
	uint32_t cnt = 0;
	uint16_t len = 0;
	OMC_ENSURE(omc_cur_read_u8(&c, &ver) == OMC_OK && omc_cur_read_u8(&c, &bd) == OMC_OK &&
			   omc_cur_read_u32(&c, &cnt) == OMC_OK && omc_cur_read_u16(&c, &len) == OMC_OK,
		   OMC_ERR_TRUNCATED);
	OMC_ENSURE(ver == OMC_LINK_VERSION && (bd & 3u) == 0 && len <= OMC_LINK_MAX_PAYLOAD, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_cur_remaining(&c) >= (size_t)len + OMC_LINK_MAC_LEN, OMC_ERR_TRUNCATED);
	OMC_ENSURE(omc_cur_remaining(&c) == (size_t)len + OMC_LINK_MAC_LEN, OMC_ERR_BAD_FORMAT);
	uint8_t dir = (uint8_t)((bd >> 2) & 1u), bearer = (uint8_t)(bd >> 3);
	OMC_ENSURE(dir != l->self, OMC_ERR_LINK_DIRECTION);
	OMC_ENSURE(bearer == l->bearer, OMC_ERR_LINK_BEARER);
	OMC_ENSURE(fresh(l, cnt), OMC_ERR_LINK_REPLAY);
	const uint8_t *ct = NULL, *mac = NULL;
	OMC_ENSURE(omc_cur_read_ptr(&c, &ct, len) == OMC_OK && omc_cur_read_ptr(&c, &mac, OMC_LINK_MAC_LEN) == OMC_OK,
		   OMC_ERR_TRUNCATED);
	uint8_t want[OMC_LINK_MAC_LEN];
	OMC_TRY(omc_link_eia2(want, l->keys.nas_int, cnt, bearer, dir, frame, (OMC_LINK_HDR_LEN + (size_t)len) * 8));
	OMC_ENSURE(omc_ct_eq(want, mac, OMC_LINK_MAC_LEN), OMC_ERR_MAC_FAILURE);
	OMC_ENSURE(cap >= len, OMC_ERR_NO_SPACE);
	OMC_ENSURE(pt != NULL || len == 0, OMC_ERR_BAD_ARG);
	/* Verified: now decipher, and move the window. */
	OMC_TRY(omc_link_eea2(pt, l->keys.nas_enc, cnt, bearer, dir, ct, (size_t)len * 8));
	accept(l, cnt);
	*pt_len = len;
	if (count)
		*count = cnt;
	return OMC_OK;
}
