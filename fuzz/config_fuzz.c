/* Config files: the server's INI config as `openmcim server` reads it
 * (omc_server_start, the whole of configure()) and as `openmcim ctl` reads
 * it (omc_server_config_read), and tred's users file.
 *
 * Input: selector byte, then the file. The server is started in a demo
 * deployment made at start-up in a scratch directory, which is also the
 * working directory; an input naming an absolute path or "..", is skipped,
 * so that every path a fuzzed config names stays inside it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "tred/tred_internal.h"

static char dir[128];

/* No value starts with '/' (inih takes '=' and ':' as delimiters and strips
 * blanks), no "..". */
static bool confined(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.' && i + 1 < n && p[i + 1] == '.')
			return false;
		if (p[i] != '/')
			continue;
		size_t j = i;
		while (j > 0 && (p[j - 1] == ' ' || p[j - 1] == '\t'))
			j--;
		if (j == 0 || p[j - 1] == '=' || p[j - 1] == ':' || p[j - 1] == '\n' || p[j - 1] == '\r')
			return false;
	}
	return true;
}

static void setup(void)
{
	fz_init();
	snprintf(dir, sizeof dir, "%s/demo", fz_tmpdir());
	if (omc_server_demo_setup(dir) != OMC_OK || chdir(dir) != 0) {
		fprintf(stderr, "config_fuzz: cannot make the demo deployment\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		setup();
	if (size < 1 || size > 65536 || !confined(data + 1, size - 1))
		return 0;
	if (fz_write("fuzz.conf", data + 1, size - 1) != 0)
		abort();
	switch (data[0] % 3) {
	case 0: {
		omc_server_opts o = {.config = "fuzz.conf"};
		omc_server *s = NULL;
		if (omc_server_start(&s, &o) == OMC_OK)
			omc_server_stop(s);
		break;
	}
	case 1: {
		omc_server_config c;
		if (omc_server_config_read(&c, "fuzz.conf") == OMC_OK &&
		    (c.n_ops > OMC_SERVER_OPS_MAX || !c.db[0] || !c.master_key[0]))
			abort(); /* what the reader promises */
		break;
	}
	case 2: {
		tred_usermap m;
		if (tred_usermap_load(&m, "fuzz.conf") == OMC_OK) {
			if (m.n > OMC_TRED_MAX_USERS)
				abort();
			for (size_t i = 0; i < m.n; i++)
				if (!tred_name_ok(m.e[i].name, strlen(m.e[i].name)))
					abort();
		}
		break;
	}
	}
	return 0;
}
