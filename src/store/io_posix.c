/* The POSIX file backend of omc_store_io: paths relative to base_dir.
 *
 * Each call opens, acts and closes; nothing is kept open between calls, so a
 * handle holds no descriptor across a power cut. Durability follows POSIX:
 * data after fdatasync(file), names (creations, renames, unlinks) after
 * fsync(directory). Paths that start with '/' or contain ".." are refused, so
 * a store cannot reach outside its directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

/* Largest file read() accepts: objs.X at its limit is about 256 MiB. */
#define POSIX_READ_MAX ((size_t)1 << 30)
#define POSIX_PATH_MAX 4096

typedef struct posix_io {
	omc_store_io io;
	size_t base_len;
	char base[]; /* NUL-terminated, no trailing '/' */
} posix_io;

static bool rel_path_ok(const char *path)
{
	return path != NULL && path[0] != '/' && strstr(path, "..") == NULL;
}

/* base "/" path into buf; "" names the base directory itself. */
static omc_err full_path(char *buf, size_t cap, const posix_io *p, const char *path)
{
	OMC_ENSURE(rel_path_ok(path), OMC_ERR_IO);
	const size_t n = strlen(path);
	omc_cur c;
	omc_cur_init_write(&c, (uint8_t *)buf, cap);
	OMC_ENSURE(omc_cur_write(&c, (const uint8_t *)p->base, p->base_len) == OMC_OK, OMC_ERR_IO);
	if (n) {
		OMC_ENSURE(omc_cur_write_u8(&c, '/') == OMC_OK, OMC_ERR_IO);
		OMC_ENSURE(omc_cur_write(&c, (const uint8_t *)path, n) == OMC_OK, OMC_ERR_IO);
	}
	OMC_ENSURE(omc_cur_write_u8(&c, '\0') == OMC_OK, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err read_all(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		const ssize_t r = read(fd, &buf[done], len - done);
		if (r < 0 && errno == EINTR)
			continue;
		OMC_ENSURE(r > 0, OMC_ERR_IO); /* 0: the file shrank under us */
		done += (size_t)r;
	}
	return OMC_OK;
}

static omc_err px_read(void *ctx, const char *path, uint8_t **data, size_t *len)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, path));
	const int fd = open(fp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		OMC_BAIL(errno == ENOENT ? OMC_ERR_NOT_FOUND : OMC_ERR_IO);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > POSIX_READ_MAX) {
		close(fd);
		OMC_BAIL(OMC_ERR_IO);
	}
	const size_t n = (size_t)st.st_size;
	uint8_t *buf = omc_alloc(n);
	if (buf == NULL) {
		close(fd);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	omc_err err = read_all(fd, buf, n);
	close(fd);
	if (err != OMC_OK) {
		omc_free(buf);
		return err;
	}
	*data = buf;
	*len = n;
	return OMC_OK;
}

static omc_err px_pwrite(void *ctx, const char *path, uint64_t off, const uint8_t *data, size_t len)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, path));
	OMC_ENSURE(path[0] != '\0', OMC_ERR_IO);
	OMC_ENSURE(off <= (uint64_t)INT64_MAX - len, OMC_ERR_IO);
	const int fd = open(fp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	size_t done = 0;
	while (done < len) {
		const ssize_t w = pwrite(fd, &data[done], len - done, (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			OMC_BAIL(OMC_ERR_IO);
		}
		done += (size_t)w;
	}
	OMC_ENSURE(close(fd) == 0, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_sync(void *ctx, const char *path)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, path));
	const int fd = open(fp, O_RDONLY | O_CLOEXEC);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	const int r = fdatasync(fd);
	close(fd);
	OMC_ENSURE(r == 0, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_rename(void *ctx, const char *from, const char *to)
{
	char f[POSIX_PATH_MAX], t[POSIX_PATH_MAX];
	OMC_TRY(full_path(f, sizeof f, ctx, from));
	OMC_TRY(full_path(t, sizeof t, ctx, to));
	OMC_ENSURE(rename(f, t) == 0, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_unlink(void *ctx, const char *path)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, path));
	if (unlink(fp) != 0)
		OMC_BAIL(errno == ENOENT ? OMC_ERR_NOT_FOUND : OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_sync_dir(void *ctx, const char *dir)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, dir));
	const int fd = open(fp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	const int r = fsync(fd);
	close(fd);
	OMC_ENSURE(r == 0, OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_mkdir(void *ctx, const char *dir)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, dir));
	OMC_ENSURE(dir[0] != '\0', OMC_ERR_IO);
	if (mkdir(fp, 0700) == 0)
		return OMC_OK;
	/* Already there as a directory is success: mkdir is idempotent here. */
	struct stat st;
	OMC_ENSURE(errno == EEXIST && stat(fp, &st) == 0 && S_ISDIR(st.st_mode), OMC_ERR_IO);
	return OMC_OK;
}

static omc_err px_exists(void *ctx, const char *path)
{
	char fp[POSIX_PATH_MAX];
	OMC_TRY(full_path(fp, sizeof fp, ctx, path));
	struct stat st;
	if (stat(fp, &st) != 0)
		OMC_BAIL(errno == ENOENT ? OMC_ERR_NOT_FOUND : OMC_ERR_IO);
	return OMC_OK;
}

omc_err omc_store_io_posix_new(omc_store_io **io, const char *base_dir)
{
	OMC_ENSURE(io != NULL && base_dir != NULL && base_dir[0] != '\0', OMC_ERR_BAD_ARG);
	size_t n = strlen(base_dir);
	while (n > 1 && base_dir[n - 1] == '/')
		n--;
	OMC_ENSURE(n < POSIX_PATH_MAX / 2, OMC_ERR_BAD_ARG);
	posix_io *p = omc_calloc(1, sizeof *p + n + 1);
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	memcpy(p->base, base_dir, n);
	p->base[n] = '\0';
	p->base_len = n;
	p->io = (omc_store_io){
		.read = px_read,
		.pwrite = px_pwrite,
		.sync = px_sync,
		.rename = px_rename,
		.unlink = px_unlink,
		.sync_dir = px_sync_dir,
		.mkdir = px_mkdir,
		.exists = px_exists,
		.ctx = p,
	};
	*io = &p->io;
	return OMC_OK;
}

void omc_store_io_posix_free(omc_store_io *io)
{
	if (io == NULL)
		return;
	omc_free(io->ctx); /* the posix_io that contains io */
}
