/* The card's end of vsmartcard's vpcd socket (see unstable/card.h): the
 * reader driver in pcscd listens on TCP, the card connects. Every message
 * either way is a 2-byte big-endian length and the payload. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openmcim/unstable/card.h"
#include "util/util_internal.h"

enum { VPCD_OFF = 0, VPCD_ON = 1, VPCD_RESET = 2, VPCD_ATR = 4 };

static omc_err connect_to(int *fd, const char *host, const char *port)
{
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		OMC_LOG_ERR("card", "vpcd: cannot resolve %s port %s", host, port);
		OMC_BAIL(OMC_ERR_IO);
	}
	int s = -1;
	for (struct addrinfo *p = ai; p && s < 0; p = p->ai_next) {
		s = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (s >= 0 && connect(s, p->ai_addr, p->ai_addrlen) != 0) {
			close(s);
			s = -1;
		}
	}
	freeaddrinfo(ai);
	if (s < 0) {
		OMC_LOG_ERR("card", "vpcd: cannot connect to %s:%s: %s", host, port, strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	*fd = s;
	return OMC_OK;
}

/* n bytes; *eof if the peer closed before the first one. */
static omc_err read_full(int fd, uint8_t *p, size_t n, bool *eof)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && got == 0 && eof) {
			*eof = true;
			return OMC_OK;
		}
		OMC_ENSURE(r > 0, OMC_ERR_IO);
		got += (size_t)r;
	}
	return OMC_OK;
}

static omc_err send_msg(int fd, const uint8_t *p, size_t n)
{
	uint8_t m[2 + OMC_CARD_MAX_RAPDU];
	OMC_ENSURE(n <= OMC_CARD_MAX_RAPDU, OMC_ERR_BUG);
	m[0] = (uint8_t)(n >> 8);
	m[1] = (uint8_t)n;
	memcpy(m + 2, p, n);
	size_t sent = 0;
	omc_err e = OMC_OK;
	while (sent < n + 2) {
		ssize_t w = send(fd, m + sent, n + 2 - sent, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = OMC_ERR_IO;
			break;
		}
		sent += (size_t)w;
	}
	omc_memzero(m, sizeof m); /* it may carry RES, CK, IK */
	OMC_ENSURE(e == OMC_OK, e);
	return OMC_OK;
}

/* One message from vpcd and its answer. *closed when vpcd hung up. */
static omc_err one(omc_card *c, int fd, bool *closed)
{
	uint8_t hdr[2], in[OMC_CARD_MAX_APDU], out[OMC_CARD_MAX_RAPDU];
	OMC_DEFER_WIPE(out);
	OMC_TRY(read_full(fd, hdr, 2, closed));
	if (*closed)
		return OMC_OK;
	size_t n = (size_t)(hdr[0] << 8 | hdr[1]);
	if (n == 0 || n > sizeof in) {
		OMC_LOG_ERR("card", "vpcd: a message of %zu bytes", n);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	OMC_TRY(read_full(fd, in, n, NULL));
	if (n == 1) {
		switch (in[0]) {
		case VPCD_OFF:
		case VPCD_ON:
		case VPCD_RESET:
			omc_card_reset(c);
			OMC_LOG_DBG("card", "vpcd: control %u", in[0]);
			return OMC_OK;
		case VPCD_ATR: {
			uint8_t atr[OMC_CARD_MAX_ATR];
			size_t al = omc_card_atr(atr);
			return send_msg(fd, atr, al);
		}
		default:
			OMC_LOG_ERR("card", "vpcd: unknown control %u", in[0]);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	}
	size_t ol;
	OMC_TRY(omc_card_apdu(c, out, sizeof out, &ol, in, n));
	/* INS and the status word only: the data may be RES, CK, IK. */
	OMC_LOG_DBG("card", "apdu ins %02x: %zu bytes, sw %02x%02x", in[1], ol, out[ol - 2], out[ol - 1]);
	return send_msg(fd, out, ol);
}

omc_err omc_card_vpcd_serve(omc_card *c, const char *host, const char *port, volatile int *stop)
{
	int fd = -1;
	OMC_TRY(connect_to(&fd, host, port));
	OMC_LOG_INF("card", "connected to vpcd at %s:%s", host, port);
	omc_card_reset(c);
	omc_err e = OMC_OK;
	bool closed = false;
	while (!closed && !(stop && *stop)) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, 200);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = OMC_ERR_IO;
			break;
		}
		if (r == 0)
			continue;
		e = one(c, fd, &closed);
		if (e != OMC_OK)
			break;
	}
	close(fd);
	omc_card_reset(c);
	if (closed)
		OMC_LOG_INF("card", "vpcd closed the connection");
	OMC_ENSURE(e == OMC_OK, e);
	return OMC_OK;
}
