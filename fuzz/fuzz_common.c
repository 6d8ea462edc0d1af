/* Helpers of the fuzz targets (fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openmcim/openmcim.h"

static void quiet(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	(void)module;
	(void)msg;
}

void fz_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	omc_log_set_handler(quiet, NULL);
	omc_proto_init();
}

char *fz_str(const uint8_t *data, size_t size)
{
	char *s = omc_alloc(size + 1);
	if (!s)
		return NULL;
	if (size)
		memcpy(s, data, size);
	s[size] = 0;
	return s;
}

static char tmp_dir[64];

static void tmp_cleanup(void)
{
	char cmd[96];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", tmp_dir);
}

const char *fz_tmpdir(void)
{
	if (!tmp_dir[0]) {
		snprintf(tmp_dir, sizeof tmp_dir, "/tmp/omc-fuzz-XXXXXX");
		if (!mkdtemp(tmp_dir)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(tmp_cleanup);
	}
	return tmp_dir;
}

int fz_write(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = size ? fwrite(data, 1, size, f) : 0;
	int bad = n != size;
	bad |= fclose(f) != 0;
	return bad ? -1 : 0;
}
