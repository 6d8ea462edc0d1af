/* osmo-hlr's CTRL replies as the CCIF's client reads them (docs/hlr.md):
 * the input is a byte stream from the peer, cut into IPA frames by
 * srv_ctrl_parse exactly as ccif_ctrl.c's command() does: a frame that is
 * whole is consumed (parsed or refused), a partial one waits. Checks: the
 * parser never claims more than it has, never claims nothing of a whole
 * frame, and its strings end within their arrays. Then the first 64 bytes
 * as a variable and value for srv_ctrl_frame, whose frame must parse back
 * as a reply of the same length. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/hlr_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	if (size > 65536)
		return 0;
	size_t at = 0;
	while (at < size) {
		srv_ctrl_reply r;
		size_t used = 0;
		omc_err e = srv_ctrl_parse(&r, &used, data + at, size - at);
		if (used > size - at)
			abort();
		if (e == OMC_OK && used > 0 &&
		    (memchr(r.var, 0, sizeof r.var) == NULL || memchr(r.value, 0, sizeof r.value) == NULL))
			abort();
		if (used == 0) {
			/* Waiting: only when the frame is not whole. */
			if (size - at >= 3 && size - at >= 3 + ((size_t)data[at] << 8 | data[at + 1]))
				abort();
			break;
		}
		at += used;
	}
	char var[65], val[65];
	size_t n = size < 64 ? size : 64;
	for (size_t i = 0; i < n; i++)
		var[i] = val[i] = (char)(data[i] < 0x21 || data[i] > 0x7e ? 'v' : data[i]);
	var[n] = val[n] = 0;
	if (n == 0)
		return 0;
	uint8_t f[SRV_CTRL_MSG_MAX];
	size_t fl = 0;
	if (srv_ctrl_frame(f, sizeof f, &fl, true, 1, var, val) != OMC_OK)
		abort();
	/* The same bytes with the verb a reply has. */
	uint8_t g[SRV_CTRL_MSG_MAX + 16];
	size_t text = fl - 4 - 3; /* without "SET" */
	memcpy(g + 4, "SET_REPLY", 9);
	memcpy(g + 13, f + 7, text);
	size_t pl = 1 + 9 + text;
	g[0] = (uint8_t)(pl >> 8);
	g[1] = (uint8_t)pl;
	g[2] = 0xee;
	g[3] = 0x00;
	srv_ctrl_reply r;
	size_t used = 0;
	if (srv_ctrl_parse(&r, &used, g, 3 + pl) != OMC_OK || used != 3 + pl || r.verb != SRV_CTRL_SET_REPLY ||
	    r.id != 1 || strcmp(r.var, var) != 0 || strcmp(r.value, val) != 0)
		abort();
	return 0;
}
