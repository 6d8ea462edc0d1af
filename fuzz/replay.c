/* Corpus replay: runs every file of each directory (or each file) given
 * through LLVMFuzzerTestOneInput once, for builds without libFuzzer (gcc).
 * A crash or sanitizer report fails the run; so does an empty corpus. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		uint8_t *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int err = ferror(f);
	fclose(f);
	if (!buf || err) {
		free(buf);
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	(void)LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir in name order (so that a failure reproduces). */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open directory %s\n", dir);
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof *names);
		if (!nn)
			break;
		names = nn;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	long ran = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	long total = 0;
	/* absolute: a target may change the working directory */
	char **abs = calloc((size_t)argc, sizeof *abs);
	for (int i = 1; abs && i < argc; i++)
		if (!(abs[i] = realpath(argv[i], NULL))) {
			fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
			return 1;
		}
	for (int i = 1; abs && i < argc; i++) {
		struct stat st;
		if (stat(abs[i], &st) != 0) {
			fprintf(stderr, "replay: cannot stat %s\n", abs[i]);
			return 1;
		}
		long r = S_ISDIR(st.st_mode) ? run_dir(abs[i]) : (run_file(abs[i]) == 0 ? 1 : -1);
		if (r < 0)
			return 1;
		total += r;
		free(abs[i]);
	}
	free(abs);
	printf("replay: %ld inputs\n", total);
	return total > 0 ? 0 : 1;
}
