/* The protected access link's frame parser (docs/link.md), as the VNO runs
 * it on every POST /v1/link: the input is one uplink frame, opened by the
 * network's end of a link with a fixed KASME (32 bytes of 0x42, bearer 0).
 *
 * Properties: a refusal is one of the documented errors and leaves the
 * link exactly as it was (the window did not move); an accepted frame is
 * canonical (the device's end sealing its payload at its COUNT gives the
 * very same bytes) and the same frame again is a replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "link_fuzz: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	if (size > OMC_LINK_FRAME_MAX + 16)
		return 0;
	static uint8_t kasme[32], pt[OMC_LINK_MAX_PAYLOAD], again[OMC_LINK_FRAME_MAX];
	memset(kasme, 0x42, sizeof kasme);
	omc_link net, dev, before;
	check(omc_link_init(&net, kasme, 0, OMC_LINK_DOWNLINK) == OMC_OK, "init");
	check(omc_link_init(&dev, kasme, 0, OMC_LINK_UPLINK) == OMC_OK, "init");
	before = net;
	size_t len = 0;
	uint32_t count = 0;
	omc_err e = omc_link_open(&net, pt, sizeof pt, &len, &count, data, size);
	if (e != OMC_OK) {
		check(e == OMC_ERR_TRUNCATED || e == OMC_ERR_BAD_FORMAT || e == OMC_ERR_LINK_DIRECTION ||
			      e == OMC_ERR_LINK_BEARER || e == OMC_ERR_MAC_FAILURE,
		      "an undocumented refusal");
		check(memcmp(&net, &before, sizeof net) == 0, "a refusal moved the link");
		check(len == 0, "a refusal reports payload");
	} else {
		size_t n = 0;
		dev.tx_next = count;
		check(omc_link_seal(&dev, again, sizeof again, &n, pt, len) == OMC_OK, "reseal");
		check(n == size && memcmp(again, data, size) == 0, "an accepted frame is not canonical");
		check(omc_link_open(&net, pt, sizeof pt, &len, NULL, data, size) == OMC_ERR_LINK_REPLAY,
		      "the same frame twice");
	}
	omc_link_wipe(&net);
	omc_link_wipe(&dev);
	omc_link_wipe(&before);
	return 0;
}
