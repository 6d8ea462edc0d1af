/* osmo-hlr as the ICO's authentication centre (NET-1; docs/hlr.md): the
 * config of the VNO's GSUP sources and of the CCIF's CTRL client, and the
 * VNO's two hooks, which take vectors (or resynchronise) over GSUP for an
 * IMSI of a source's range and over HTTP from the home AuC otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/hlr_internal.h"

static srv_hlr *hlr_of(omc_server *s)
{
	if (!s->hlr) {
		s->hlr = omc_calloc(1, sizeof *s->hlr);
		if (s->hlr) {
			s->hlr->timeout_ms = SRV_HLR_TIMEOUT_MS;
			s->hlr->ctrl_timeout_ms = SRV_HLR_TIMEOUT_MS;
		}
	}
	return s->hlr;
}

/* "A.B.C.D:PORT" into ip and port (1..65535). */
static bool addr_parse(const char *v, char ip[16], unsigned *port)
{
	const char *colon = strrchr(v, ':');
	if (!colon || colon == v || (size_t)(colon - v) >= 16 || !srv_digits(colon + 1, 1, 5))
		return false;
	char a[16];
	memcpy(a, v, (size_t)(colon - v));
	a[colon - v] = 0;
	struct in_addr in;
	unsigned long p = strtoul(colon + 1, NULL, 10);
	if (inet_pton(AF_INET, a, &in) != 1 || p == 0 || p > 65535)
		return false;
	memcpy(ip, a, strlen(a) + 1);
	*port = (unsigned)p;
	return true;
}

static bool ms_parse(const char *v, unsigned *out)
{
	if (!srv_digits(v, 1, 6))
		return false;
	unsigned long x = strtoul(v, NULL, 10);
	if (x < 100 || x > 120000)
		return false;
	*out = (unsigned)x;
	return true;
}

bool srv_hlr_config(omc_server *s, const char *section, const char *name, const char *value)
{
	srv_hlr *h = hlr_of(s);
	if (!h)
		return false;
	if (!strncmp(section, "vno.home ", 9)) {
		const char *sn = section + 9;
		srv_hlr_source *src = NULL;
		for (size_t i = 0; i < h->n_src; i++)
			if (!strcmp(h->src[i].name, sn))
				src = &h->src[i];
		if (!src && srv_name_ok(sn) && h->n_src < SRV_HLR_SOURCES) {
			src = &h->src[h->n_src++];
			memcpy(src->name, sn, strlen(sn) + 1);
		}
		if (!src)
			return false;
		if (!strcmp(name, "type"))
			return !strcmp(value, "gsup") && ((src->typed = true), true);
		if (!strcmp(name, "address"))
			return addr_parse(value, src->ip, &src->port);
		if (!strcmp(name, "imsi_prefix"))
			return srv_digits(value, 5, 15) && (memcpy(src->prefix, value, strlen(value) + 1), true);
		return false;
	}
	if (!strcmp(section, "vno") && !strcmp(name, "gsup_timeout"))
		return ms_parse(value, &h->timeout_ms);
	if (!strcmp(section, "ccif") && !strcmp(name, "hlr_ctrl")) {
		/* K and OPc cross this link in the clear: loopback only. */
		if (!addr_parse(value, h->ctrl_ip, &h->ctrl_port) || strncmp(h->ctrl_ip, "127.", 4) != 0)
			return false;
		h->ctrl = true;
		return true;
	}
	if (!strcmp(section, "ccif") && !strcmp(name, "hlr_timeout"))
		return ms_parse(value, &h->ctrl_timeout_ms);
	return false;
}

omc_err srv_hlr_start(omc_server *s)
{
	srv_hlr *h = s->hlr;
	if (!h)
		return OMC_OK;
	for (size_t i = 0; i < h->n_src; i++) {
		srv_hlr_source *src = &h->src[i];
		if (!src->typed || !src->ip[0] || !src->prefix[0]) {
			OMC_LOG_ERR("server", "config: [vno.home %s] needs type = gsup, address and imsi_prefix", src->name);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
		if (!srv_op_for_imsi(s, src->prefix)) {
			OMC_LOG_ERR("server", "config: [vno.home %s]: no operator's imsi_prefix begins %s", src->name,
				    src->prefix);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	}
	if (h->n_src > 0 && s->hosts[SRV_VNO])
		OMC_TRY(srv_gsup_start(h));
	return OMC_OK;
}

void srv_hlr_stop(omc_server *s)
{
	if (!s->hlr)
		return;
	srv_gsup_stop(s->hlr);
	omc_free(s->hlr);
	s->hlr = NULL;
}

/* The source whose prefix is the longest to begin imsi, or -1. */
static int source_for(const srv_hlr *h, const char *imsi)
{
	int best = -1;
	size_t bl = 0;
	for (size_t i = 0; h && i < h->n_src; i++) {
		size_t pl = strlen(h->src[i].prefix);
		if (pl > bl && !strncmp(imsi, h->src[i].prefix, pl)) {
			best = (int)i;
			bl = pl;
		}
	}
	return best;
}

/* A refusal in the form of a peer's answer, for srv_fail_peer. */
static json_t *refusal(const char *code, const char *msg)
{
	return json_pack("{s:s,s:s}", "error", code, "message", msg);
}

static void who_of(const srv_hlr_source *src, char *who, size_t cap)
{
	snprintf(who, cap, "osmo-hlr %s (%s:%u)", src->name, src->ip, src->port);
}

/* A failed SendAuthInfo as a peer's answer: osmo-hlr's "IMSI unknown" is
 * the AuC's refusal (passed on), anything else 502 peer_unavailable with
 * who saying what happened. */
static void sai_failed(const srv_hlr *h, const srv_hlr_source *src, int cause, bool resync, int *status,
		       json_t **out, char *who, size_t who_cap)
{
	*status = 0;
	if (cause == SRV_GSUP_DOWN)
		snprintf(who, who_cap, "osmo-hlr %s (%s:%u, not connected)", src->name, src->ip, src->port);
	else if (cause == SRV_GSUP_TIMEOUT)
		snprintf(who, who_cap, "osmo-hlr %s (%s:%u, nothing in %u ms)", src->name, src->ip, src->port,
			 h->timeout_ms);
	else if (cause != SRV_GSUP_CAUSE_IMSI_UNKNOWN)
		snprintf(who, who_cap, "osmo-hlr %s (%s:%u, SendAuthInfo error cause %d)", src->name, src->ip,
			 src->port, cause);
	else if (resync) {
		/* osmo-hlr gives this cause for an AUTS that does not verify. */
		*status = 403;
		*out = refusal("bad_auts", "SendAuthInfo error: AUTS is not the subscriber's");
	} else {
		*status = 404;
		*out = refusal("unknown_subscriber", "SendAuthInfo error: IMSI unknown in the HLR");
	}
}

/* The source of imsi's range (-1: none, and the home AuC's path/body is
 * called over HTTP instead, *called set). */
static int route(omc_server *s, const char *home, const char *imsi, const char *path, json_t *body, int *status,
		 json_t **out, char *who, size_t who_cap, omc_err *called)
{
	*status = 0;
	*out = NULL;
	int si = source_for(s->hlr, imsi);
	if (si >= 0) {
		json_decref(body);
		who_of(&s->hlr->src[si], who, who_cap);
		return si;
	}
	char peer[40];
	snprintf(who, who_cap, "the home AuC");
	snprintf(peer, sizeof peer, "auc.%s", home);
	*called = srv_call(s, s->vno_key, s->vno_cert, "POST", srv_peer(s, peer), path, body, status, out);
	return -1;
}

/* One SendAuthInfo to source si (a resync with rand and auts); false, with
 * the failure as a peer's answer, when no vector came. */
static bool sai(omc_server *s, int si, const char *imsi, const uint8_t *rand, const uint8_t *auts, omc_aka_av *av,
		size_t *n, int *status, json_t **out, char *who, size_t who_cap)
{
	const srv_hlr_source *src = &s->hlr->src[si];
	int cause = 0;
	omc_err e = srv_gsup_sai(s->hlr, (size_t)si, imsi, rand, auts, av, OMC_GSUP_MAX_AV, n, &cause);
	if (e == OMC_OK && cause == 0 && *n > 0)
		return true;
	OMC_LOG_WRN("vno", "gsup: %s: %s %s refused: %s", src->name, rand ? "resynchronisation of" : "vectors for", imsi,
		    cause == SRV_GSUP_DOWN      ? "not connected"
		    : cause == SRV_GSUP_TIMEOUT ? "no answer in time"
		    : cause != 0                ? "SendAuthInfo error"
						: "no UMTS vector");
	sai_failed(s->hlr, src, cause, rand != NULL, status, out, who, who_cap);
	return false;
}

omc_err srv_vno_vectors(omc_server *s, const srv_op *home, const char *imsi, int *status, json_t **out, char *who,
			size_t who_cap)
{
	omc_err called = OMC_OK;
	int si = route(s, home->name, imsi, "/v1/vectors", json_pack("{s:s,s:i}", "imsi", imsi, "n", 1), status, out,
		       who, who_cap, &called);
	if (si < 0)
		return called;
	omc_aka_av av[OMC_GSUP_MAX_AV];
	OMC_DEFER_WIPE(av);
	size_t n = 0;
	if (!sai(s, si, imsi, NULL, NULL, av, &n, status, out, who, who_cap))
		return OMC_OK;
	/* One vector is used; the others are dropped (each SendAuthInfo gives
	 * fresh ones, and an unused SQN is harmless: TS 33.102 C.2). */
	json_t *v = json_object();
	bool ok = v && srv_set_hex(v, "rand", av[0].rand, 16) && srv_set_hex(v, "autn", av[0].autn, av[0].autn_len) &&
		  srv_set_hex(v, "xres", av[0].xres, av[0].xres_len);
	json_t *o = ok ? json_pack("{s:s,s:[o],s:b,s:{}}", "imsi", imsi, "vectors", v, "provisional", home->ico, "profile")
		       : NULL;
	if (!o) {
		json_decref(v);
		return OMC_ERR_NOMEM;
	}
	OMC_LOG_INF("vno", "gsup: %s: %zu vector(s) for %s", s->hlr->src[si].name, n, imsi);
	*status = 200;
	*out = o;
	return OMC_OK;
}

omc_err srv_vno_resync(omc_server *s, const char *home, const char *imsi, const char *rand_h, const char *auts_h,
		       int *status, json_t **out, char *who, size_t who_cap)
{
	omc_err called = OMC_OK;
	int si = route(s, home, imsi, "/v1/resync",
		       json_pack("{s:s,s:s,s:s}", "imsi", imsi, "rand", rand_h, "auts", auts_h), status, out, who,
		       who_cap, &called);
	if (si < 0)
		return called;
	uint8_t rand[16], auts[14];
	if (omc_hex_decode(rand, sizeof rand, rand_h, strlen(rand_h)) != OMC_OK ||
	    omc_hex_decode(auts, sizeof auts, auts_h, strlen(auts_h)) != OMC_OK) {
		/* GSUP carries the MILENAGE AUTS only (TS 33.102 6.3.3). */
		*status = 400;
		*out = refusal("bad_request", "member auts: 14 bytes in hex for osmo-hlr");
		return OMC_OK;
	}
	omc_aka_av av[OMC_GSUP_MAX_AV];
	OMC_DEFER_WIPE(av);
	size_t n = 0;
	if (!sai(s, si, imsi, rand, auts, av, &n, status, out, who, who_cap))
		return OMC_OK;
	/* osmo-hlr moved SQN_HE past the AUTS's SQN_MS and answered vectors of
	 * the new range; the device's next attach takes fresh ones. */
	OMC_LOG_INF("vno", "gsup: %s: %s resynchronised", s->hlr->src[si].name, imsi);
	*status = 200;
	*out = json_pack("{s:b}", "moved", true);
	return *out ? OMC_OK : OMC_ERR_NOMEM;
}
