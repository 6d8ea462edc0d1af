/* A whole (small) file into memory: certificates and keys named by a
 * config file or an option, by any path, relative or absolute. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util_internal.h"

omc_err omc_read_file(const char *path, uint8_t **buf, size_t *len, size_t max)
{
	OMC_ENSURE(path && buf && len, OMC_ERR_BAD_ARG);
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		OMC_BAIL(errno == ENOENT ? OMC_ERR_NOT_FOUND : OMC_ERR_IO);
	struct stat st;
	omc_err e = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? OMC_OK : OMC_ERR_IO;
	if (e == OMC_OK && (uint64_t)st.st_size > max)
		e = OMC_ERR_TOO_LARGE;
	size_t n = e == OMC_OK ? (size_t)st.st_size : 0, off = 0;
	uint8_t *b = e == OMC_OK ? omc_alloc(n + 1) : NULL;
	if (e == OMC_OK && !b)
		e = OMC_ERR_NOMEM;
	while (e == OMC_OK && off < n) {
		ssize_t r = read(fd, b + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			e = OMC_ERR_IO;
		else
			off += (size_t)r;
	}
	close(fd);
	if (e != OMC_OK) {
		omc_free(b);
		OMC_BAIL(e);
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return OMC_OK;
}
