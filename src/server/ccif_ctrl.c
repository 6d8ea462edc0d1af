/* The CCIF's client of osmo-hlr's CTRL interface (CCIF-1, NET-1;
 * docs/hlr.md): each PCID the CCIF registers goes into osmo-hlr too, so
 * that osmo-hlr, as the ICO's authentication centre, answers the VNO's
 * SendAuthInfo for it.
 *
 *   SET <id> subscriber.create <IMSI>
 *   SET <id> subscriber.by-imsi-<IMSI>.aud3g MILENAGE,<K>,OPC,<OPc>,<ind_bitlen>
 *   SET <id> subscriber.by-imsi-<IMSI>.ps-enabled 1
 *   SET <id> subscriber.by-imsi-<IMSI>.cs-enabled 0
 *   SET <id> subscriber.delete <IMSI>            (a PCID retired)
 *
 * Each command is an IPA frame: a 16-bit big-endian length, protocol 0xee
 * (osmo), extension 0x00 (CTRL), then the text; the answer is "SET_REPLY
 * <id> <var> <value>" or "ERROR <id> <reason>". K and OPc cross this
 * connection in the clear, so it is loopback only (the config refuses
 * anything else): osmo-hlr and this server are one trust domain. They are
 * never logged, and every buffer that held them is wiped. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/hlr_internal.h"

#define IPA_PROTO_OSMO 0xee
#define IPA_PROTO_CCM 0xfe
#define IPA_EXT_CTRL 0x00

omc_err srv_ctrl_frame(uint8_t *out, size_t cap, size_t *len, bool set, unsigned id, const char *var,
		       const char *value)
{
	OMC_ENSURE(out && len && var && (!set || value), OMC_ERR_BAD_ARG);
	*len = 0;
	OMC_ENSURE(cap >= 4, OMC_ERR_NO_SPACE);
	int n = set ? snprintf((char *)out + 4, cap - 4, "SET %u %s %s", id, var, value)
		    : snprintf((char *)out + 4, cap - 4, "GET %u %s", id, var);
	OMC_ENSURE(n > 0 && (size_t)n < cap - 4 && (size_t)n + 1 <= 0xffff, OMC_ERR_NO_SPACE);
	size_t pl = (size_t)n + 1; /* the extension byte and the text */
	out[0] = (uint8_t)(pl >> 8);
	out[1] = (uint8_t)pl;
	out[2] = IPA_PROTO_OSMO;
	out[3] = IPA_EXT_CTRL;
	*len = 4 + (size_t)n;
	return OMC_OK;
}

/* The next word of c (at least one printable byte) into w; the space
 * that ends it is consumed (*more), or the text ends. */
static bool word(omc_cur *c, char *w, size_t cap, bool *more)
{
	size_t n = 0;
	uint8_t b;
	*more = false;
	while (omc_cur_read_u8(c, &b) == OMC_OK) {
		if (b == ' ') {
			*more = true;
			break;
		}
		if (n + 1 >= cap || b < 0x21 || b > 0x7e)
			return false;
		w[n++] = (char)b;
	}
	w[n] = 0;
	return n > 0;
}

/* The rest of c into w, cut at cap - 1 bytes; NUL bytes refused. */
static bool rest(omc_cur *c, char *w, size_t cap)
{
	size_t n = 0;
	uint8_t b;
	while (omc_cur_read_u8(c, &b) == OMC_OK) {
		if (b == 0)
			return false;
		if (n + 1 < cap)
			w[n++] = (char)b;
	}
	w[n] = 0;
	return true;
}

omc_err srv_ctrl_parse(srv_ctrl_reply *out, size_t *used, const uint8_t *buf, size_t len)
{
	OMC_ENSURE(out && used && (buf || len == 0), OMC_ERR_BAD_ARG);
	*used = 0;
	memset(out, 0, sizeof *out);
	omc_cur f;
	omc_cur_init_read(&f, buf, len);
	uint16_t pl = 0;
	uint8_t proto = 0, ext = 0;
	const uint8_t *body = NULL;
	if (omc_cur_read_u16(&f, &pl) != OMC_OK || omc_cur_read_u8(&f, &proto) != OMC_OK ||
	    omc_cur_read_ptr(&f, &body, pl) != OMC_OK)
		return OMC_OK; /* not whole yet */
	*used = 3 + (size_t)pl;
	if (proto == IPA_PROTO_CCM) {
		/* PING, ID_GET...: nothing for us. */
		out->verb = SRV_CTRL_OTHER;
		return OMC_OK;
	}
	omc_cur c;
	omc_cur_init_read(&c, body, pl);
	OMC_ENSURE(proto == IPA_PROTO_OSMO && omc_cur_read_u8(&c, &ext) == OMC_OK && ext == IPA_EXT_CTRL,
		   OMC_ERR_BAD_FORMAT);
	char verb[16], id[12];
	bool more = false;
	OMC_ENSURE(word(&c, verb, sizeof verb, &more) && more && word(&c, id, sizeof id, &more), OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(srv_digits(id, 1, 9), OMC_ERR_BAD_FORMAT);
	unsigned v = 0;
	for (size_t i = 0; id[i]; i++)
		v = v * 10 + (unsigned)(id[i] - '0');
	out->id = v;
	if (!strcmp(verb, "ERROR")) {
		out->verb = SRV_CTRL_ERROR;
		/* The reason may be empty. */
		OMC_ENSURE(!more || rest(&c, out->value, sizeof out->value), OMC_ERR_BAD_FORMAT);
		return OMC_OK;
	}
	if (!strcmp(verb, "SET_REPLY"))
		out->verb = SRV_CTRL_SET_REPLY;
	else if (!strcmp(verb, "GET_REPLY"))
		out->verb = SRV_CTRL_GET_REPLY;
	else if (!strcmp(verb, "TRAP"))
		out->verb = SRV_CTRL_TRAP;
	else
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(more && word(&c, out->var, sizeof out->var, &more), OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(!more || rest(&c, out->value, sizeof out->value), OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

/* --- the connection ------------------------------------------------------------------------------- */

typedef struct ctrl_conn {
	int fd;
	struct timespec deadline;
	unsigned next_id;
	uint8_t in[2 * SRV_CTRL_MSG_MAX];
	size_t in_len;
	const srv_hlr *h;
} ctrl_conn;

static int ms_left(const ctrl_conn *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 120000 ? 120000 : (int)ms;
}

static omc_err conn_open(ctrl_conn *c, const srv_hlr *h)
{
	memset(c, 0, sizeof *c);
	c->h = h;
	c->next_id = 1;
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += (time_t)(h->ctrl_timeout_ms / 1000);
	c->deadline.tv_nsec += (long)(h->ctrl_timeout_ms % 1000) * 1000000L;
	if (c->deadline.tv_nsec >= 1000000000L) {
		c->deadline.tv_sec++;
		c->deadline.tv_nsec -= 1000000000L;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->ctrl_port)};
	OMC_ENSURE(inet_pton(AF_INET, h->ctrl_ip, &a.sin_addr) == 1, OMC_ERR_BAD_ARG);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	OMC_ENSURE(c->fd >= 0, OMC_ERR_IO);
	int r = connect(c->fd, (struct sockaddr *)&a, sizeof a);
	if (r != 0 && errno == EINPROGRESS) {
		struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof err;
		r = poll(&pf, 1, ms_left(c)) == 1 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0
			    ? 0
			    : -1;
	}
	if (r != 0) {
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL at %s:%u: cannot connect", h->ctrl_ip, h->ctrl_port);
		close(c->fd);
		c->fd = -1;
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

static void conn_close(ctrl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	omc_memzero(c->in, sizeof c->in);
}

static omc_err send_all(ctrl_conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
		OMC_ENSURE(poll(&pf, 1, ms_left(c)) == 1, OMC_ERR_IO);
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		OMC_ENSURE(w > 0, OMC_ERR_IO);
		p += w;
		n -= (size_t)w;
	}
	return OMC_OK;
}

/* One command and its reply (the one with its id; TRAPs and IPA CCM
 * frames are skipped). */
static omc_err command(ctrl_conn *c, const char *var, const char *value, srv_ctrl_reply *r)
{
	uint8_t f[SRV_CTRL_MSG_MAX];
	size_t fl = 0;
	unsigned id = c->next_id++;
	omc_err e = srv_ctrl_frame(f, sizeof f, &fl, true, id, var, value);
	if (e == OMC_OK)
		e = send_all(c, f, fl);
	omc_memzero(f, sizeof f);
	OMC_TRY(e);
	for (;;) {
		size_t used = 0;
		OMC_TRY(srv_ctrl_parse(r, &used, c->in, c->in_len));
		if (used > 0) {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			if ((r->verb == SRV_CTRL_SET_REPLY || r->verb == SRV_CTRL_ERROR) && r->id == id)
				return OMC_OK;
			continue;
		}
		/* A frame longer than the buffer is not osmo-hlr's answer to us. */
		OMC_ENSURE(c->in_len < sizeof c->in, OMC_ERR_TOO_LARGE);
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		int left = ms_left(c);
		OMC_ENSURE(left > 0 && poll(&pf, 1, left) == 1, OMC_ERR_IO);
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		OMC_ENSURE(n > 0, OMC_ERR_IO);
		c->in_len += (size_t)n;
	}
}

/* A SET that must succeed. */
static omc_err set_ok(ctrl_conn *c, const char *var, const char *value, const char *imsi)
{
	srv_ctrl_reply r;
	omc_err e = command(c, var, value, &r);
	if (e != OMC_OK) {
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL at %s:%u: no answer about %s: %s", c->h->ctrl_ip, c->h->ctrl_port,
			    imsi, omc_err_str(e));
		return e;
	}
	if (r.verb != SRV_CTRL_SET_REPLY) {
		/* The reason is osmo-hlr's text about the variable, never the value. */
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL refused a SET for %s: %.100s", imsi, r.value);
		omc_memzero(&r, sizeof r);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	omc_memzero(&r, sizeof r);
	return OMC_OK;
}

static bool consts_default(const omc_aka_milenage *m)
{
	omc_aka_milenage_consts d;
	omc_aka_milenage_consts_default(&d);
	return omc_ct_eq(&d, &m->consts, sizeof d);
}

omc_err srv_ccif_hlr_register(omc_server *s, const char *imsi, const omc_aka_cred *cred)
{
	const srv_hlr *h = s->hlr;
	if (!h || !h->ctrl)
		return OMC_OK;
	OMC_ENSURE(imsi && cred && srv_digits(imsi, 6, 15), OMC_ERR_BAD_ARG);
	/* osmo-hlr 1.5 computes MILENAGE with the TS 35.206 constants only. */
	if (cred->alg != OMC_AKA_ALG_MILENAGE || !consts_default(&cred->u.milenage)) {
		OMC_LOG_ERR("ccif", "osmo-hlr takes MILENAGE with the standard constants only: %s not registered", imsi);
		OMC_BAIL(OMC_ERR_UNSUPPORTED);
	}
	char var[96], val[128];
	OMC_DEFER_WIPE(val);
	ctrl_conn c;
	OMC_TRY(conn_open(&c, h));
	srv_ctrl_reply r;
	omc_err e = command(&c, "subscriber.create", imsi, &r);
	/* A subscriber osmo-hlr has already is one our database does not (the
	 * caller's transaction says the IMSI is free): left behind by a
	 * registration that failed after this point. It is overwritten. */
	if (e == OMC_OK && r.verb != SRV_CTRL_SET_REPLY && !strstr(r.value, "exists")) {
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL refused subscriber.create %s: %.100s", imsi, r.value);
		e = OMC_ERR_DENIED;
	} else if (e != OMC_OK) {
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL at %s:%u: no answer about %s: %s", h->ctrl_ip, h->ctrl_port, imsi,
			    omc_err_str(e));
	}
	memcpy(val, "MILENAGE,", 9);
	if (e == OMC_OK)
		e = omc_hex_encode(val + 9, sizeof val - 9, cred->u.milenage.k, 16);
	if (e == OMC_OK) {
		memcpy(val + 41, ",OPC,", 5);
		e = omc_hex_encode(val + 46, sizeof val - 46, cred->u.milenage.opc, 16);
	}
	if (e == OMC_OK) {
		snprintf(val + 78, sizeof val - 78, ",%u", (unsigned)OMC_AKA_IND_BITS_DEFAULT);
		snprintf(var, sizeof var, "subscriber.by-imsi-%s.aud3g", imsi);
		e = set_ok(&c, var, val, imsi);
	}
	if (e == OMC_OK) {
		snprintf(var, sizeof var, "subscriber.by-imsi-%s.ps-enabled", imsi);
		e = set_ok(&c, var, "1", imsi);
	}
	if (e == OMC_OK) {
		/* A PCID reaches the provisioning services only: no CS. */
		snprintf(var, sizeof var, "subscriber.by-imsi-%s.cs-enabled", imsi);
		e = set_ok(&c, var, "0", imsi);
	}
	conn_close(&c);
	if (e == OMC_OK)
		OMC_LOG_INF("ccif", "osmo-hlr: %s registered", imsi);
	return e;
}

omc_err srv_ccif_hlr_retire(omc_server *s, const char *imsi)
{
	const srv_hlr *h = s->hlr;
	if (!h || !h->ctrl)
		return OMC_OK;
	OMC_ENSURE(imsi && srv_digits(imsi, 6, 15), OMC_ERR_BAD_ARG);
	ctrl_conn c;
	OMC_TRY(conn_open(&c, h));
	srv_ctrl_reply r;
	omc_err e = command(&c, "subscriber.delete", imsi, &r);
	conn_close(&c);
	if (e == OMC_OK && r.verb != SRV_CTRL_SET_REPLY) {
		/* One osmo-hlr never had (registered before hlr_ctrl was set). */
		if (strstr(r.value, "exist"))
			return OMC_OK;
		OMC_LOG_ERR("ccif", "osmo-hlr CTRL refused subscriber.delete %s: %.100s", imsi, r.value);
		e = OMC_ERR_DENIED;
	}
	if (e == OMC_OK)
		OMC_LOG_INF("ccif", "osmo-hlr: %s deleted", imsi);
	return e;
}
