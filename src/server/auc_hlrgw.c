/* The AuC behind hostapd's EAP-SIM/AKA database interface: the text
 * protocol of hostapd's hlr_auc_gw over a UNIX datagram socket
 * (eap_sim_db=unix:PATH), so hostapd's EAP-AKA and EAP-AKA' server takes
 * vectors from this AuC with no code of ours on its side (NET-1, NET-2).
 *
 *   AKA-REQ-AUTH IMSI            -> AKA-RESP-AUTH IMSI RAND AUTN IK CK RES
 *                                   or AKA-RESP-AUTH IMSI FAILURE
 *   AKA-AUTS IMSI AUTS RAND      -> (no answer: resynchronise)
 *   SIM-REQ-AUTH IMSI [N]        -> SIM-RESP-AUTH IMSI FAILURE (no GSM triplets)
 *
 * Binary fields are hex. AMF is 8000: the separation bit that EAP-AKA'
 * (RFC 5448 3.4) requires. The answer carries CK, IK and RES: the socket
 * is the AuC's, mode 0660 in a directory the operator owns. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/server_internal.h"
#include "util/util_internal.h"

#define HLRGW_MAX_MSG 1000

/* The next space-separated word of s[*pos..len): *w, *wl. */
static bool word(const char *s, size_t len, size_t *pos, const char **w, size_t *wl)
{
	while (*pos < len && s[*pos] == ' ')
		(*pos)++;
	size_t st = *pos;
	while (*pos < len && s[*pos] != ' ' && s[*pos] != '\n' && s[*pos] != '\0')
		(*pos)++;
	*w = s + st;
	*wl = *pos - st;
	return *wl > 0;
}

static bool is(const char *w, size_t wl, const char *lit)
{
	return wl == strlen(lit) && !memcmp(w, lit, wl);
}

/* The IMSI, digits only, up to an '@' realm if hostapd sends one. */
static bool imsi_of(char imsi[16], const char *w, size_t wl)
{
	const char *at = memchr(w, '@', wl);
	if (at)
		wl = (size_t)(at - w);
	if (wl < 6 || wl > 15)
		return false;
	for (size_t i = 0; i < wl; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	memcpy(imsi, w, wl);
	imsi[wl] = 0;
	return true;
}

static omc_err hexcat(char *out, size_t cap, size_t *at, const uint8_t *p, size_t n)
{
	OMC_ENSURE(*at + 1 + 2 * n + 1 <= cap, OMC_ERR_NO_SPACE);
	out[(*at)++] = ' ';
	OMC_TRY(omc_hex_encode(out + *at, cap - *at, p, n));
	*at += 2 * n;
	return OMC_OK;
}

static omc_err aka_answer(omc_auc *a, const char *imsi, char *out, size_t cap, size_t *out_len)
{
	static const uint8_t amf[2] = {0x80, 0x00};
	omc_aka_av av;
	OMC_DEFER_WIPE(av);
	omc_err e = omc_auc_vectors(a, imsi, amf, &av, 1);
	int n = snprintf(out, cap, "AKA-RESP-AUTH %s", imsi);
	OMC_ENSURE(n > 0 && (size_t)n < cap, OMC_ERR_NO_SPACE);
	size_t at = (size_t)n;
	if (e != OMC_OK) {
		/* One answer for every refusal; the reason goes to the log. */
		OMC_LOG_WRN("auc", "hlr_auc_gw: no vector for %s: %s", imsi, omc_err_str(e));
		OMC_ENSURE(at + 9 <= cap, OMC_ERR_NO_SPACE);
		memcpy(out + at, " FAILURE", 9);
		*out_len = at + 8;
		return OMC_OK;
	}
	OMC_TRY(hexcat(out, cap, &at, av.rand, sizeof av.rand));
	OMC_TRY(hexcat(out, cap, &at, av.autn, av.autn_len));
	OMC_TRY(hexcat(out, cap, &at, av.ik, av.ik_len));
	OMC_TRY(hexcat(out, cap, &at, av.ck, av.ck_len));
	OMC_TRY(hexcat(out, cap, &at, av.xres, av.xres_len));
	*out_len = at;
	OMC_LOG_INF("auc", "hlr_auc_gw: a vector for %s", imsi);
	return OMC_OK;
}

omc_err omc_auc_hlrgw_handle(omc_auc *a, char *out, size_t cap, size_t *out_len, const char *req, size_t len)
{
	OMC_ENSURE(a && out && out_len && req && cap > 0, OMC_ERR_BAD_ARG);
	*out_len = 0;
	size_t pos = 0, wl, il;
	const char *w, *iw;
	char imsi[16];
	if (!word(req, len, &pos, &w, &wl) || !word(req, len, &pos, &iw, &il) || !imsi_of(imsi, iw, il))
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	if (is(w, wl, "AKA-REQ-AUTH"))
		return aka_answer(a, imsi, out, cap, out_len);
	if (is(w, wl, "SIM-REQ-AUTH")) {
		int n = snprintf(out, cap, "SIM-RESP-AUTH %s FAILURE", imsi);
		OMC_ENSURE(n > 0 && (size_t)n < cap, OMC_ERR_NO_SPACE);
		*out_len = (size_t)n;
		return OMC_OK;
	}
	if (is(w, wl, "AKA-AUTS")) {
		const char *aw, *rw;
		size_t al, rl;
		uint8_t auts[14], rnd[16];
		OMC_ENSURE(word(req, len, &pos, &aw, &al) && word(req, len, &pos, &rw, &rl), OMC_ERR_BAD_FORMAT);
		OMC_TRY(omc_hex_decode(auts, sizeof auts, aw, al));
		OMC_TRY(omc_hex_decode(rnd, sizeof rnd, rw, rl));
		bool moved = false;
		omc_err e = omc_auc_resync(a, imsi, rnd, auts, sizeof auts, &moved);
		if (e != OMC_OK)
			OMC_LOG_WRN("auc", "hlr_auc_gw: resync of %s refused: %s", imsi, omc_err_str(e));
		else
			OMC_LOG_INF("auc", "hlr_auc_gw: resync of %s (%s)", imsi, moved ? "moved" : "in range");
		return OMC_OK; /* hlr_auc_gw answers no AKA-AUTS */
	}
	OMC_BAIL(OMC_ERR_UNSUPPORTED);
}

/* The socket at path, bound (mode 0660: the umask of the bind), into *out. */
static omc_err hlrgw_bind(const char *path, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	OMC_ENSURE(path && strlen(path) < sizeof sa.sun_path, OMC_ERR_BAD_ARG);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	(void)unlink(path);
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r != 0) {
		OMC_LOG_ERR("auc", "hlr_auc_gw: cannot bind %s: %s", path, strerror(errno));
		close(fd);
		OMC_BAIL(OMC_ERR_IO);
	}
	OMC_LOG_INF("auc", "hlr_auc_gw: listening on %s", path);
	*out = fd;
	return OMC_OK;
}

/* Answer the datagrams on fd until *stop (read every 200 ms). In a server
 * (s not NULL) each request runs under the database handle's lock, and an
 * answer leaves only once what it read or wrote is durable (the SQN range
 * and the vector log, docs/server.md "AuC/HSS"), as for the HTTP AuC. */
static omc_err hlrgw_loop(omc_server *s, omc_auc *a, int fd, volatile int *stop)
{
	while (!(stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, 200);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			OMC_BAIL(OMC_ERR_IO);
		if (pr == 0)
			continue;
		char in[HLRGW_MAX_MSG], out[HLRGW_MAX_MSG];
		OMC_DEFER_WIPE(out);
		struct sockaddr_un from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		size_t ol = 0;
		if (s)
			srv_lock(s);
		omc_err he = omc_auc_hlrgw_handle(a, out, sizeof out, &ol, in, (size_t)n);
		if (s)
			srv_unlock(s);
		if (he == OMC_OK && s)
			he = srv_durable(s);
		if (he != OMC_OK)
			OMC_LOG_WRN("auc", "hlr_auc_gw: a request refused: %s", omc_err_str(he));
		else if (ol > 0 && sendto(fd, out, ol, 0, (struct sockaddr *)&from, fl) < 0)
			OMC_LOG_WRN("auc", "hlr_auc_gw: cannot answer: %s", strerror(errno));
	}
	return OMC_OK;
}

omc_err omc_auc_hlrgw_serve(omc_auc *a, const char *path, volatile int *stop)
{
	OMC_ENSURE(a && path, OMC_ERR_BAD_ARG);
	int fd = -1;
	OMC_TRY(hlrgw_bind(path, &fd));
	omc_err e = hlrgw_loop(NULL, a, fd, stop);
	close(fd);
	(void)unlink(path);
	return e;
}

/* --- in `openmcim server`: [operator NAME] hlrgw_socket ------------------------------------------ */

struct srv_hlrgw {
	omc_server *s;
	omc_auc *auc;
	int fd;
	volatile int stop;
	pthread_t thr;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

static void *hlrgw_thread(void *arg)
{
	srv_hlrgw *g = arg;
	omc_err e = hlrgw_loop(g->s, g->auc, g->fd, &g->stop);
	if (e != OMC_OK)
		OMC_LOG_ERR("auc", "hlr_auc_gw on %s: stopped: %s", g->path, omc_err_str(e));
	return NULL;
}

omc_err srv_hlrgw_start(srv_hlrgw **out, omc_server *s, omc_auc *a, const char *path)
{
	OMC_ENSURE(out && s && a && path, OMC_ERR_BAD_ARG);
	*out = NULL;
	srv_hlrgw *g = omc_calloc(1, sizeof *g);
	OMC_ENSURE(g != NULL, OMC_ERR_NOMEM);
	g->s = s;
	g->auc = a;
	g->fd = -1;
	omc_err e = strlen(path) < sizeof g->path ? OMC_OK : OMC_ERR_BAD_ARG;
	if (e == OMC_OK) {
		memcpy(g->path, path, strlen(path) + 1);
		e = hlrgw_bind(path, &g->fd);
	}
	if (e == OMC_OK && pthread_create(&g->thr, NULL, hlrgw_thread, g) != 0)
		e = OMC_ERR_NOMEM;
	if (e != OMC_OK) {
		if (g->fd >= 0) {
			close(g->fd);
			(void)unlink(g->path);
		}
		omc_free(g);
		return e;
	}
	*out = g;
	return OMC_OK;
}

void srv_hlrgw_stop(srv_hlrgw *g)
{
	if (!g)
		return;
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	pthread_join(g->thr, NULL);
	close(g->fd);
	(void)unlink(g->path);
	omc_free(g);
}
