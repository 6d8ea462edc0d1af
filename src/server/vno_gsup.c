/* The VNO's vectors from osmo-hlr over GSUP (NET-1; docs/hlr.md): an
 * IMSI range of `[vno.home NAME]` (type gsup) takes its vectors with a
 * SendAuthInfo request to osmo-hlr instead of a call to the home AuC's
 * `/v1/vectors`, and a resynchronisation with a SendAuthInfo carrying RAND
 * and AUTS (TS 29.002 SendAuthenticationInfo, TS 33.102 6.3.5), as any
 * MSC or SGSN of the ICO would: the VNO needs no new function.
 *
 * libosmo-gsup-client runs on the osmocom select loop, which is
 * single-threaded: one thread of ours runs it for every source (its state,
 * osmo_ctx included, is that thread's). A handler thread queues a request
 * under the lock, wakes the loop through an eventfd and waits, with a time
 * limit, for the answer the loop thread fills in. GSUP carries no
 * transaction id: osmo-hlr answers one connection in order, so an answer
 * goes to the oldest request sent for its IMSI. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <osmocom/core/logging.h>
#include <osmocom/core/msgb.h>
#include <osmocom/core/select.h>
#include <osmocom/core/talloc.h>
#include <osmocom/core/timer.h>
#include <osmocom/gsm/gsup.h>
#include <osmocom/gsm/ipa.h>
#include <osmocom/gsupclient/gsup_client.h>

#include "server/hlr_internal.h"

/* libosmo-gsup-client reports "up" on the TCP connect, before osmo-hlr has
 * taken the IPA identity: a request sent at once is dropped. The link is
 * used this long after it comes up (docs/hlr.md, "Pitfalls"). */
#define GSUP_SETTLE_US 300000

enum req_state { REQ_QUEUED, REQ_SENT, REQ_DONE };

typedef struct gsup_req {
	struct gsup_req *next;
	size_t src;
	char imsi[16];
	bool resync;
	uint8_t rand[16], auts[14];
	enum req_state state;
	int result; /* 0: vectors; > 0: the GSUP cause; -1: the link is down */
	omc_aka_av av[OMC_GSUP_MAX_AV];
	size_t n;
} gsup_req;

typedef struct gsup_link {
	srv_hlr *h;
	size_t idx;
	struct osmo_gsup_client *cl;
	struct osmo_timer_list settle;
	bool timer_made;
} gsup_link;

struct srv_gsup {
	srv_hlr *h;
	pthread_t th;
	bool th_made;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	bool stop;             /* under mu */
	bool ready[SRV_HLR_SOURCES]; /* under mu: the link may carry requests */
	gsup_req *reqs;        /* under mu */
	gsup_link link[SRV_HLR_SOURCES]; /* the loop thread's */
	struct osmo_fd ofd;
	/* the start, told to srv_gsup_start */
	bool started;
	omc_err start_err;
};

static void finish(srv_gsup *g, gsup_req *r, int result)
{
	r->result = result;
	r->state = REQ_DONE;
	pthread_cond_broadcast(&g->cv);
}

/* Every request of a link that is down fails now (under mu). */
static void fail_link(srv_gsup *g, size_t src)
{
	for (gsup_req *r = g->reqs; r; r = r->next)
		if (r->src == src && r->state != REQ_DONE)
			finish(g, r, -1);
}

static void settled(void *arg)
{
	gsup_link *lk = arg;
	srv_gsup *g = lk->h->gsup;
	pthread_mutex_lock(&g->mu);
	g->ready[lk->idx] = true;
	pthread_mutex_unlock(&g->mu);
	OMC_LOG_INF("vno", "gsup: %s: connected to osmo-hlr at %s:%u", lk->h->src[lk->idx].name, lk->h->src[lk->idx].ip,
		    lk->h->src[lk->idx].port);
}

static bool up_down(struct osmo_gsup_client *cl, bool up)
{
	gsup_link *lk = cl->data;
	srv_gsup *g = lk->h->gsup;
	if (up) {
		osmo_timer_schedule(&lk->settle, 0, GSUP_SETTLE_US);
		return true;
	}
	osmo_timer_del(&lk->settle);
	pthread_mutex_lock(&g->mu);
	bool was = g->ready[lk->idx];
	g->ready[lk->idx] = false;
	fail_link(g, lk->idx);
	pthread_mutex_unlock(&g->mu);
	if (was)
		OMC_LOG_WRN("vno", "gsup: %s: lost osmo-hlr at %s:%u", lk->h->src[lk->idx].name, lk->h->src[lk->idx].ip,
			    lk->h->src[lk->idx].port);
	return true;
}

/* An answer from osmo-hlr: to the oldest request sent for its IMSI. */
static int on_read(struct osmo_gsup_client *cl, struct msgb *msg)
{
	gsup_link *lk = cl->data;
	srv_gsup *g = lk->h->gsup;
	struct osmo_gsup_message m;
	memset(&m, 0, sizeof m);
	int rc = osmo_gsup_decode(msgb_l2(msg), msgb_l2len(msg), &m);
	bool sai = rc >= 0 && (m.message_type == OSMO_GSUP_MSGT_SEND_AUTH_INFO_RESULT ||
			       m.message_type == OSMO_GSUP_MSGT_SEND_AUTH_INFO_ERROR);
	if (rc < 0)
		OMC_LOG_WRN("vno", "gsup: %s: a message that does not decode (%d)", lk->h->src[lk->idx].name, rc);
	pthread_mutex_lock(&g->mu);
	gsup_req *r = g->reqs;
	while (sai && r && !(r->src == lk->idx && r->state == REQ_SENT && !strcmp(r->imsi, m.imsi)))
		r = r->next;
	if (sai && r && m.message_type == OSMO_GSUP_MSGT_SEND_AUTH_INFO_ERROR) {
		finish(g, r, m.cause > 0 ? (int)m.cause : 255);
	} else if (sai && r) {
		size_t n = 0;
		for (size_t i = 0; i < m.num_auth_vectors && i < OMC_GSUP_MAX_AV; i++) {
			const struct osmo_auth_vector *v = &m.auth_vectors[i];
			if (!(v->auth_types & OSMO_AUTH_TYPE_UMTS) || v->res_len < 4 || v->res_len > 16)
				continue;
			omc_aka_av *a = &r->av[n++];
			memcpy(a->rand, v->rand, 16);
			memcpy(a->autn, v->autn, 16);
			memcpy(a->ck, v->ck, 16);
			memcpy(a->ik, v->ik, 16);
			memcpy(a->xres, v->res, v->res_len);
			a->autn_len = a->ck_len = a->ik_len = 16;
			a->xres_len = v->res_len;
		}
		r->n = n;
		finish(g, r, 0);
	} else if (sai) {
		OMC_LOG_WRN("vno", "gsup: %s: an answer nobody waits for (timed out)", lk->h->src[lk->idx].name);
	}
	pthread_mutex_unlock(&g->mu);
	/* CK, IK and XRES were in there. */
	omc_memzero(&m, sizeof m);
	omc_memzero(msg->head, msg->data_len);
	msgb_free(msg);
	return 0;
}

/* Send what is queued (loop thread). */
static int on_wake(struct osmo_fd *ofd, unsigned int what)
{
	(void)what;
	srv_gsup *g = ofd->data;
	uint64_t v;
	if (read(g->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		OMC_LOG_WRN("vno", "gsup: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&g->mu);
	for (gsup_req *r = g->reqs; r; r = r->next) {
		if (r->state != REQ_QUEUED)
			continue;
		if (!g->ready[r->src]) {
			finish(g, r, -1);
			continue;
		}
		struct osmo_gsup_message m;
		memset(&m, 0, sizeof m);
		m.message_type = OSMO_GSUP_MSGT_SEND_AUTH_INFO_REQUEST;
		memcpy(m.imsi, r->imsi, strlen(r->imsi) + 1);
		m.cn_domain = OSMO_GSUP_CN_DOMAIN_PS;
		if (r->resync) {
			m.rand = r->rand;
			m.auts = r->auts;
		}
		if (osmo_gsup_client_enc_send(g->link[r->src].cl, &m) < 0)
			finish(g, r, -1);
		else
			r->state = REQ_SENT;
	}
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/* libosmocore's logging is the process's, set up once. */
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static bool log_ok;

static void log_setup(void)
{
	static const struct log_info no_categories = {0};
	log_ok = log_init(&no_categories, NULL) == 0;
}

static void *loop_main(void *arg)
{
	srv_gsup *g = arg;
	srv_hlr *h = g->h;
	omc_err e = OMC_OK;
	/* libosmocore writes with write(): a peer gone makes it EPIPE, not a
	 * SIGPIPE that would end the server (it stays pending, blocked, here). */
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	/* The select loop's state is per thread: this one's, made here. */
	if (osmo_ctx_init("omc-gsup") != 0)
		e = OMC_ERR_NOMEM;
	osmo_select_init();
	/* Library logging stays off (no target): ours says what happens. */
	pthread_once(&log_once, log_setup);
	if (e == OMC_OK && !log_ok)
		e = OMC_ERR_NOMEM;
	void *ctx = e == OMC_OK ? talloc_named_const(OTC_GLOBAL, 0, "omc-gsup") : NULL;
	if (e == OMC_OK && !ctx)
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK) {
		osmo_fd_setup(&g->ofd, g->efd, OSMO_FD_READ, on_wake, g, 0);
		if (osmo_fd_register(&g->ofd) != 0)
			e = OMC_ERR_IO;
	}
	for (size_t i = 0; e == OMC_OK && i < h->n_src; i++) {
		gsup_link *lk = &g->link[i];
		lk->h = h;
		lk->idx = i;
		osmo_timer_setup(&lk->settle, settled, lk);
		lk->timer_made = true;
		struct ipaccess_unit *dev = talloc_zero(ctx, struct ipaccess_unit);
		char unit[48];
		snprintf(unit, sizeof unit, "openmcim-vno-%s", h->src[i].name);
		if (dev)
			dev->unit_name = talloc_strdup(dev, unit);
		struct osmo_gsup_client_config cc = {
			.ipa_dev = dev,
			.ip_addr = h->src[i].ip,
			.tcp_port = h->src[i].port,
			.read_cb = on_read,
			.up_down_cb = up_down,
			.data = lk,
		};
		lk->cl = dev && dev->unit_name ? osmo_gsup_client_create3(ctx, &cc) : NULL;
		if (!lk->cl) {
			OMC_LOG_ERR("vno", "gsup: %s: no GSUP client for %s:%u", h->src[i].name, h->src[i].ip,
				    h->src[i].port);
			e = OMC_ERR_IO;
		}
	}
	pthread_mutex_lock(&g->mu);
	g->started = true;
	g->start_err = e;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	for (;;) {
		pthread_mutex_lock(&g->mu);
		bool stop = g->stop || e != OMC_OK;
		pthread_mutex_unlock(&g->mu);
		if (stop)
			break;
		osmo_select_main_ctx(0);
	}
	for (size_t i = 0; i < h->n_src; i++) {
		if (g->link[i].timer_made)
			osmo_timer_del(&g->link[i].settle);
		if (g->link[i].cl)
			osmo_gsup_client_destroy(g->link[i].cl);
		g->link[i].cl = NULL;
	}
	if (g->ofd.fd >= 0 && osmo_fd_is_registered(&g->ofd))
		osmo_fd_unregister(&g->ofd);
	if (osmo_ctx) {
		talloc_free(osmo_ctx);
		osmo_ctx = NULL;
	}
	return NULL;
}

omc_err srv_gsup_start(srv_hlr *h)
{
	OMC_ENSURE(h && h->n_src > 0, OMC_ERR_BAD_ARG);
	srv_gsup *g = omc_calloc(1, sizeof *g);
	OMC_ENSURE(g != NULL, OMC_ERR_NOMEM);
	g->h = h;
	g->ofd.fd = -1;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	h->gsup = g;
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	OMC_ENSURE(g->efd >= 0, OMC_ERR_IO);
	OMC_ENSURE(pthread_create(&g->th, NULL, loop_main, g) == 0, OMC_ERR_NOMEM);
	g->th_made = true;
	pthread_mutex_lock(&g->mu);
	while (!g->started)
		pthread_cond_wait(&g->cv, &g->mu);
	omc_err e = g->start_err;
	pthread_mutex_unlock(&g->mu);
	return e;
}

static void wake(srv_gsup *g)
{
	uint64_t one = 1;
	if (write(g->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		OMC_LOG_WRN("vno", "gsup: eventfd: %s", strerror(errno));
}

void srv_gsup_stop(srv_hlr *h)
{
	srv_gsup *g = h ? h->gsup : NULL;
	if (!g)
		return;
	if (g->th_made) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_mutex_unlock(&g->mu);
		wake(g);
		pthread_join(g->th, NULL);
	}
	if (g->efd >= 0)
		close(g->efd);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	omc_free(g);
	h->gsup = NULL;
}

omc_err srv_gsup_sai(srv_hlr *h, size_t src, const char *imsi, const uint8_t *rand, const uint8_t *auts,
		     omc_aka_av *out, size_t cap, size_t *n, int *cause)
{
	OMC_ENSURE(h && h->gsup && src < h->n_src && imsi && out && n && cause, OMC_ERR_BAD_ARG);
	OMC_ENSURE(strlen(imsi) >= 6 && strlen(imsi) <= 15 && (!rand) == (!auts), OMC_ERR_BAD_ARG);
	srv_gsup *g = h->gsup;
	*n = 0;
	*cause = 0;
	gsup_req *r = omc_calloc(1, sizeof *r);
	OMC_ENSURE(r != NULL, OMC_ERR_NOMEM);
	r->src = src;
	memcpy(r->imsi, imsi, strlen(imsi) + 1);
	if (rand) {
		r->resync = true;
		memcpy(r->rand, rand, 16);
		memcpy(r->auts, auts, 14);
	}
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(h->timeout_ms / 1000);
	dl.tv_nsec += (long)(h->timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->mu);
	bool ready = g->ready[src];
	if (ready) {
		/* At the tail: requests of one IMSI go out in their order. */
		gsup_req **at = &g->reqs;
		while (*at)
			at = &(*at)->next;
		*at = r;
	}
	pthread_mutex_unlock(&g->mu);
	if (!ready) {
		omc_free(r);
		*cause = SRV_GSUP_DOWN;
		OMC_BAIL(OMC_ERR_IO);
	}
	wake(g);
	pthread_mutex_lock(&g->mu);
	int rc = 0;
	while (r->state != REQ_DONE && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g->cv, &g->mu, &dl);
	/* Done or not, the request leaves the list here: the loop thread
	 * never sees it again (an answer after this is dropped). */
	for (gsup_req **at = &g->reqs; *at; at = &(*at)->next)
		if (*at == r) {
			*at = r->next;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	omc_err e = OMC_OK;
	if (r->state != REQ_DONE || r->result < 0) {
		*cause = r->state != REQ_DONE ? SRV_GSUP_TIMEOUT : SRV_GSUP_DOWN;
		e = OMC_ERR_IO;
	} else if (r->result > 0)
		*cause = r->result;
	for (size_t i = 0; e == OMC_OK && r->result == 0 && i < r->n && i < cap; i++)
		out[(*n)++] = r->av[i];
	omc_memzero(r, sizeof *r);
	omc_free(r);
	return e;
}
