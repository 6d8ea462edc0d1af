/* The TRE daemon (TRE-1): the TRE opened once, a Unix stream socket, and
 * one poll loop that serves every connection one request at a time on the
 * single TRE handle (which is not thread-safe). Each connection's peer
 * credentials are read at accept and mapped to a local user name
 * (peers.c); each line is answered by ops.c. docs/tred.md.
 *
 * Buffers: a connection's request bytes are wiped as soon as a line is
 * answered (a PIN may be in it), its answer when it is sent (CK and IK may
 * be in it). A connection reads only while it has no answer waiting and no
 * whole line buffered, so answers come in request order and a client that
 * does not read its answers stalls only itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "openmcim/proto.h"
#include "tred/tred_internal.h"
#include "util/util_internal.h"

#define READ_CHUNK (64u << 10)

typedef struct conn {
	int fd; /* -1: a free slot */
	tred_peer peer;
	uint8_t *in;
	size_t in_len, in_cap;
	size_t scanned;  /* in[0..scanned) holds no newline */
	bool discarding; /* dropping the rest of a line that is too long */
	char *out;       /* the answer being sent */
	size_t out_len, out_off;
} conn;

struct omc_tred_daemon {
	omc_tre *t;
	int lfd;
	int stop_rd, stop_wr;
	int dir_fd; /* TREDIR, flock'd for as long as the daemon lives */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool bound; /* path is ours to unlink */
	dev_t dev;
	ino_t ino;
	tred_usermap users;
	conn c[OMC_TRED_MAX_CLIENTS];
};

/* --- the socket ------------------------------------------------------------------------------ */

static omc_err addr_of(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	size_t n = strlen(path);
	OMC_ENSURE(n > 0 && n < sizeof a->sun_path, OMC_ERR_BAD_ARG);
	memcpy(a->sun_path, path, n);
	return OMC_OK;
}

/* Refuse a live socket and anything that is not a socket; remove a stale
 * one (nothing listens: connect says ECONNREFUSED). */
static omc_err claim_path(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return OMC_OK;
		OMC_LOG_ERR("tred", "%s: %s", path, strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	if (!S_ISSOCK(st.st_mode)) {
		OMC_LOG_ERR("tred", "%s exists and is not a socket: left alone", path);
		OMC_BAIL(OMC_ERR_EXISTS);
	}
	struct sockaddr_un a;
	OMC_TRY(addr_of(&a, path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	int rc = connect(fd, (const struct sockaddr *)&a, sizeof a);
	int err = errno;
	close(fd);
	if (rc == 0) {
		OMC_LOG_ERR("tred", "%s: a daemon is listening there already", path);
		OMC_BAIL(OMC_ERR_EXISTS);
	}
	if (err != ECONNREFUSED) {
		OMC_LOG_ERR("tred", "%s: %s", path, strerror(err));
		OMC_BAIL(OMC_ERR_IO);
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		OMC_LOG_ERR("tred", "%s: cannot remove the stale socket: %s", path, strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	OMC_LOG_INF("tred", "%s: removed a stale socket", path);
	return OMC_OK;
}

/* Bind with mode 0600 (umask), widen to 0660, listen. */
static omc_err bind_listen(omc_tred_daemon *d)
{
	struct sockaddr_un a;
	OMC_TRY(addr_of(&a, d->path));
	OMC_TRY(claim_path(d->path));
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	OMC_ENSURE(d->lfd >= 0, OMC_ERR_IO);
	mode_t old = umask(0177);
	int rc = bind(d->lfd, (const struct sockaddr *)&a, sizeof a);
	int err = errno;
	umask(old);
	if (rc != 0) {
		OMC_LOG_ERR("tred", "%s: bind: %s", d->path, strerror(err));
		OMC_BAIL(err == EADDRINUSE ? OMC_ERR_EXISTS : OMC_ERR_IO);
	}
	struct stat st;
	if (lstat(d->path, &st) != 0 || !S_ISSOCK(st.st_mode))
		OMC_BAIL(OMC_ERR_IO);
	d->bound = true;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	if (chmod(d->path, 0660) != 0 || listen(d->lfd, 16) != 0) {
		OMC_LOG_ERR("tred", "%s: %s", d->path, strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

/* The socket file, if it is still the one bind made. */
static void unlink_ours(omc_tred_daemon *d)
{
	struct stat st;
	if (d->bound && lstat(d->path, &st) == 0 && st.st_dev == d->dev && st.st_ino == d->ino)
		(void)unlink(d->path);
	d->bound = false;
}

static omc_err lock_dir(omc_tred_daemon *d, const char *dir)
{
	d->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dir_fd < 0) {
		OMC_LOG_ERR("tred", "%s: %s", dir, strerror(errno));
		OMC_BAIL(errno == ENOENT || errno == ENOTDIR ? OMC_ERR_NOT_FOUND : OMC_ERR_IO);
	}
	if (flock(d->dir_fd, LOCK_EX | LOCK_NB) != 0) {
		OMC_LOG_ERR("tred", "%s: another daemon serves this TRE", dir);
		OMC_BAIL(errno == EWOULDBLOCK ? OMC_ERR_EXISTS : OMC_ERR_IO);
	}
	return OMC_OK;
}

/* --- life ------------------------------------------------------------------------------------ */

static omc_err start(omc_tred_daemon *d, const omc_tred_opts *o)
{
	OMC_ENSURE(o->dir && o->socket_path, OMC_ERR_BAD_ARG);
	OMC_ENSURE(strlen(o->socket_path) > 0 && strlen(o->socket_path) < sizeof d->path, OMC_ERR_BAD_ARG);
	memcpy(d->path, o->socket_path, strlen(o->socket_path) + 1);
	if (o->users_file)
		OMC_TRY(tred_usermap_load(&d->users, o->users_file));
	else
		tred_usermap_default(&d->users, geteuid());
	int p[2];
	OMC_ENSURE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, OMC_ERR_IO);
	d->stop_rd = p[0];
	d->stop_wr = p[1];
	OMC_TRY(lock_dir(d, o->dir));
	/* The socket first: a second daemon is refused before it counts a boot. */
	OMC_TRY(bind_listen(d));
	omc_tre_opts to = {.dir = o->dir, .count_boot = true, .tpm = o->tpm};
	omc_err e = omc_tre_open(&d->t, &to);
	if (e != OMC_OK) {
		OMC_LOG_ERR("tred", "cannot open the TRE in %s: %s", o->dir, omc_err_str(e));
		return e;
	}
	OMC_LOG_INF("tred", "serving %s on %s (%zu uids mapped)", o->dir, d->path, d->users.n);
	return OMC_OK;
}

omc_err omc_tred_daemon_new(omc_tred_daemon **out, const omc_tred_opts *o)
{
	OMC_ENSURE(out && o, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	omc_tred_daemon *d = omc_calloc(1, sizeof *d);
	OMC_ENSURE(d != NULL, OMC_ERR_NOMEM);
	d->lfd = d->stop_rd = d->stop_wr = d->dir_fd = -1;
	for (size_t i = 0; i < OMC_TRED_MAX_CLIENTS; i++)
		d->c[i].fd = -1;
	omc_err e = start(d, o);
	if (e != OMC_OK) {
		omc_tred_daemon_free(d);
		return e;
	}
	*out = d;
	return OMC_OK;
}

static void conn_close(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	omc_free(c->in); /* wipes */
	omc_free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void omc_tred_daemon_free(omc_tred_daemon *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < OMC_TRED_MAX_CLIENTS; i++)
		conn_close(&d->c[i]);
	if (d->lfd >= 0)
		close(d->lfd);
	unlink_ours(d);
	omc_tre_close(d->t);
	if (d->dir_fd >= 0)
		close(d->dir_fd); /* releases the lock */
	if (d->stop_rd >= 0)
		close(d->stop_rd);
	if (d->stop_wr >= 0)
		close(d->stop_wr);
	omc_free(d);
}

void omc_tred_daemon_stop(omc_tred_daemon *d)
{
	int saved = errno; /* from a signal handler */
	if (d && d->stop_wr >= 0) {
		char b = 1;
		ssize_t w = write(d->stop_wr, &b, 1);
		(void)w; /* a full pipe means a stop is pending already */
	}
	errno = saved;
}

omc_err omc_tred_daemon_status(omc_tred_daemon *d, omc_tre_status *st)
{
	OMC_ENSURE(d && st, OMC_ERR_BAD_ARG);
	return omc_tre_get_status(d->t, st);
}

/* --- connections ----------------------------------------------------------------------------- */

static void accept_one(omc_tred_daemon *d)
{
	int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return; /* gone already, or EAGAIN */
	struct ucred cr;
	socklen_t cl = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cl != sizeof cr) {
		OMC_LOG_WRN("tred", "a connection without peer credentials: closed");
		close(fd);
		return;
	}
	conn *c = NULL;
	for (size_t i = 0; !c && i < OMC_TRED_MAX_CLIENTS; i++)
		if (d->c[i].fd < 0)
			c = &d->c[i];
	if (!c) {
		OMC_LOG_WRN("tred", "uid %u pid %d: more than %u connections: refused", (unsigned)cr.uid, (int)cr.pid,
			    (unsigned)OMC_TRED_MAX_CLIENTS);
		char *ans = NULL;
		size_t al = 0;
		if (tred_error_answer(OMC_ERR_EXHAUSTED, "too many connections", &ans, &al) == OMC_OK)
			(void)send(fd, ans, al, MSG_NOSIGNAL | MSG_DONTWAIT);
		omc_free(ans);
		close(fd);
		return;
	}
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->peer.uid = cr.uid;
	c->peer.gid = cr.gid;
	c->peer.pid = cr.pid;
	tred_usermap_apply(&d->users, &c->peer);
	OMC_LOG_INF("tred", "connection from uid %u gid %u pid %d: %s%s", (unsigned)cr.uid, (unsigned)cr.gid,
		    (int)cr.pid, c->peer.mapped ? "as " : "not mapped (status only)", c->peer.name);
}

static bool has_line(const conn *c)
{
	return c->scanned < c->in_len;
}

/* Drop in[0..n), wiping it: the rest moves to the front and the bytes it
 * leaves behind are zeroed. */
static void consume(conn *c, size_t n)
{
	omc_memzero(c->in, n);
	memmove(c->in, c->in + n, c->in_len - n);
	omc_memzero(c->in + c->in_len - n, n);
	c->in_len -= n;
	c->scanned = 0;
}

/* Find the first newline from `scanned` on; scanned = its index, or in_len. */
static void scan(conn *c)
{
	const uint8_t *nl = c->in_len > c->scanned ? memchr(c->in + c->scanned, '\n', c->in_len - c->scanned) : NULL;
	c->scanned = nl ? (size_t)(nl - c->in) : c->in_len;
}

static omc_err queue_error(conn *c, omc_err e, const char *msg)
{
	return tred_error_answer(e, msg, &c->out, &c->out_len);
}

/* Read what is there; false: close the connection (EOF, an error, no memory). */
static bool conn_read(conn *c)
{
	if (c->in_cap - c->in_len < READ_CHUNK) {
		size_t cap = c->in_len + READ_CHUNK;
		uint8_t *nb = omc_realloc(c->in, cap); /* the old block is wiped */
		if (!nb)
			return false;
		c->in = nb;
		c->in_cap = cap;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	if (n == 0)
		return false;
	c->in_len += (size_t)n;
	if (c->discarding) {
		/* The rest of a line too long: drop it up to its newline. */
		scan(c);
		if (!has_line(c)) {
			consume(c, c->in_len);
			return true;
		}
		consume(c, c->scanned + 1);
		c->discarding = false;
		if (queue_error(c, OMC_ERR_TOO_LARGE, "request line longer than 1 MiB") != OMC_OK)
			return false;
		scan(c);
		return true;
	}
	scan(c);
	if (c->scanned > OMC_TRED_MAX_REQUEST) {
		/* Only whole lines are buffered before this one, and they are
		 * answered: this line is first, and its answer comes in order. */
		if (has_line(c)) {
			consume(c, c->scanned + 1);
			scan(c);
		} else {
			consume(c, c->in_len);
			c->discarding = true;
			return true;
		}
		if (queue_error(c, OMC_ERR_TOO_LARGE, "request line longer than 1 MiB") != OMC_OK)
			return false;
	}
	return true;
}

/* Send what the socket takes; false: close. */
static bool conn_flush(conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->out_off += (size_t)n;
	}
	omc_free(c->out); /* wipes */
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return true;
}

/* Answer the first buffered line. */
static bool conn_serve(omc_tred_daemon *d, conn *c)
{
	size_t len = c->scanned;
	if (len > OMC_TRED_MAX_REQUEST) {
		consume(c, len + 1);
		if (queue_error(c, OMC_ERR_TOO_LARGE, "request line longer than 1 MiB") != OMC_OK)
			return false;
	} else {
		omc_err e = tred_handle(d->t, &c->peer, (const char *)c->in, len, &c->out, &c->out_len);
		consume(c, len + 1);
		if (e != OMC_OK)
			return false;
	}
	scan(c);
	/* A connection that sent one large request keeps no large buffer. */
	if (c->in_len == 0 && c->in_cap > 4 * READ_CHUNK) {
		omc_free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return conn_flush(c);
}

/* --- the loop -------------------------------------------------------------------------------- */

omc_err omc_tred_daemon_run(omc_tred_daemon *d)
{
	OMC_ENSURE(d && d->t, OMC_ERR_BAD_ARG);
	struct pollfd pf[2 + OMC_TRED_MAX_CLIENTS];
	size_t idx[2 + OMC_TRED_MAX_CLIENTS];
	bool more = false; /* a connection has a whole line waiting: do not block */
	for (;;) {
		pf[0] = (struct pollfd){.fd = d->stop_rd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = d->lfd, .events = POLLIN};
		size_t n = 2;
		for (size_t i = 0; i < OMC_TRED_MAX_CLIENTS; i++) {
			conn *c = &d->c[i];
			if (c->fd < 0)
				continue;
			short ev = c->out ? POLLOUT : has_line(c) ? 0 : POLLIN;
			pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
			idx[n++] = i;
		}
		int r = poll(pf, (nfds_t)n, more ? 0 : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			OMC_LOG_ERR("tred", "poll: %s", strerror(errno));
			OMC_BAIL(OMC_ERR_IO);
		}
		if (pf[0].revents) {
			char b[16];
			while (read(d->stop_rd, b, sizeof b) > 0)
				;
			OMC_LOG_INF("tred", "stopping");
			return OMC_OK;
		}
		if (pf[1].revents & POLLIN)
			accept_one(d);
		more = false;
		for (size_t k = 2; k < n; k++) {
			conn *c = &d->c[idx[k]];
			short re = pf[k].revents;
			bool ok = true;
			if (c->out && (re & (POLLOUT | POLLERR | POLLHUP)))
				ok = conn_flush(c);
			else if (!c->out && !has_line(c) && (re & (POLLIN | POLLERR | POLLHUP)))
				ok = conn_read(c);
			/* One request a connection a round: no one waits long. */
			if (ok && !c->out && has_line(c))
				ok = conn_serve(d, c);
			if (!ok) {
				OMC_LOG_INF("tred", "uid %u pid %d: connection closed", (unsigned)c->peer.uid,
					    (int)c->peer.pid);
				conn_close(c);
				continue;
			}
			more = more || (!c->out && has_line(c));
		}
	}
}
