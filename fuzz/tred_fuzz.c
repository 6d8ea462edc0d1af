/* TRE socket requests (src/tred/ops.c): one request line as the daemon
 * reads it, through the real dispatcher into a real software TRE on an
 * in-memory file system (made at start-up by the factory with a demo PKI
 * of test keys).
 *
 * Input: selector byte (who is calling: the agent, the admin, an unmapped
 * uid; or 3: no request, the rest is an update JWS for omc_tre_update_stage,
 * which `openmcim tre update` hands the TRE), then the line. A request that locks the TRE down (tamper) or
 * changes its state is undone: the device's files are put back and the TRE
 * is opened again, so that every input starts from the same device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tre_fixture.h"
#include "tred/tred_internal.h"

static tf_dev dev;
static tf_image image;
static omc_tre *tre;
static bool ready;
static omc_tre_status initial; /* as opened: every input starts from it */

static void reopen(void)
{
	omc_tre_close(tre);
	tf_image_put(&image, dev.fs);
	tre = tf_open(&dev);
}

static void teardown(void)
{
	omc_tre_close(tre);
	tf_image_free(&image);
	tf_dev_free(&dev);
}

static void setup(void)
{
	fz_init();
	tf_dev_make(&dev, NULL, NULL);
	tf_image_take(&image, dev.fs);
	tre = tf_open(&dev);
	if (omc_tre_get_status(tre, &initial) != OMC_OK)
		abort();
	ready = true;
	atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 1 || size > 65536)
		return 0;
	tred_peer peer = {.uid = 1000, .gid = 1000, .pid = 1};
	if (data[0] % 4 == 3) {
		omc_tre_update_info ui;
		(void)!omc_tre_update_stage(tre, (const char *)data + 1, size - 1, NULL, 0);
		if (omc_tre_update_status(tre, &ui) != OMC_OK || ui.state != OMC_TRE_UPDATE_NONE)
			reopen();
		return 0;
	}
	switch (data[0] % 4) {
	case 0: peer.mapped = true; snprintf(peer.name, sizeof peer.name, "agent"); break;
	case 1: peer.mapped = true; peer.uid = 0; snprintf(peer.name, sizeof peer.name, "admin"); break;
	case 2: break;
	}
	char *line = fz_str(data + 1, size - 1);
	if (!line)
		return 0;
	char *answer = NULL;
	size_t alen = 0;
	if (tred_handle(tre, &peer, line, size - 1, &answer, &alen) == OMC_OK) {
		/* every answer is one line */
		if (!answer || alen == 0 || answer[alen - 1] != '\n' || memchr(answer, '\n', alen - 1))
			abort();
	}
	omc_free(answer);
	omc_free(line);
	omc_tre_status st;
	if (omc_tre_get_status(tre, &st) != OMC_OK || st.state != initial.state || st.n_mcims != initial.n_mcims ||
	    st.switch_trial != initial.switch_trial || st.generation != initial.generation)
		reopen();
	return 0;
}
