/* The VNO's end of the protected access link (SEC-11, docs/link.md). The
 * attach's vector gives CK, IK and AUTN: the VNO derives KASME with its
 * serving network's PLMN identity (`vno_plmn`) and SQN xor AK (TS 33.401
 * A.2), then the NAS keys (A.7), and keeps them, in memory only, under the
 * challenge until RES is checked; then under the session's token hash
 * until the session expires. POST /v1/link takes a frame of the device
 * (ciphered with 128-EEA2 under KNASenc, MAC by 128-EIA2 under KNASint),
 * counts its payload against the service profile like /v1/data, and
 * answers with a downlink frame. Keys are wiped when their challenge or
 * session ends, when the table is swept, and when the server stops. */
#include <string.h>

#include <openssl/evp.h>

#include "openmcim/link.h"
#include "server/server_internal.h"

#define LINKS_MAX 65536      /* entries at most (challenges and sessions) */
#define LINK_PENDING_S 300   /* a challenge lives 5 minutes (vno.c) */
#define LINK_BEARER 0        /* one bearer per session (docs/link.md) */
#define LINK_B64_MAX (((OMC_LINK_FRAME_MAX + 2) / 3) * 4 + 1)

typedef struct link_ent {
	bool used, bound;   /* bound: keyed by a session's token hash, else a challenge's */
	uint8_t id[32];     /* SHA-256 of the attach id, or the token hash */
	char imsi[16];
	int64_t expires;
	omc_link link;      /* the network's end: sends downlink */
} link_ent;

struct srv_links {
	pthread_mutex_t lock;
	link_ent *e;
	size_t n, cap;
};

static bool id_hash(uint8_t out[32], const char *attach_id)
{
	unsigned len = 0;
	return EVP_Digest(attach_id, strlen(attach_id), out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

omc_err srv_links_new(omc_server *s)
{
	if (s->links)
		return OMC_OK;
	srv_links *t = omc_calloc(1, sizeof *t);
	OMC_ENSURE(t != NULL, OMC_ERR_NOMEM);
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		omc_free(t);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	s->links = t;
	return OMC_OK;
}

void srv_links_free(omc_server *s)
{
	srv_links *t = s->links;
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		omc_link_wipe(&t->e[i].link);
	omc_free(t->e); /* wipes */
	pthread_mutex_destroy(&t->lock);
	omc_free(t);
	s->links = NULL;
}

static void drop(link_ent *e)
{
	omc_memzero(e, sizeof *e);
}

/* Ended challenges and sessions go (caller holds t->lock); then the table
 * is compacted. */
static void sweep(srv_links *t, int64_t now)
{
	size_t w = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].used && t->e[i].expires > now) {
			if (w != i) {
				t->e[w] = t->e[i];
				drop(&t->e[i]);
			}
			w++;
		} else {
			drop(&t->e[i]);
		}
	}
	t->n = w;
}

static link_ent *find(srv_links *t, const uint8_t id[32], bool bound, int64_t now)
{
	for (size_t i = 0; i < t->n; i++) {
		link_ent *e = &t->e[i];
		if (!e->used || e->bound != bound || !omc_ct_eq(e->id, id, 32))
			continue;
		if (e->expires <= now) {
			drop(e); /* its session (or challenge) has ended */
			return NULL;
		}
		return e;
	}
	return NULL;
}

void srv_link_offer(omc_server *s, const char *attach_id, const char *imsi, const char *ck_h, const char *ik_h,
		    const char *autn_h)
{
	srv_links *t = s->links;
	uint8_t ck[32], ik[32], autn[OMC_AKA_MAX_AUTN_LEN], plmn[3], kasme[32], id[32];
	size_t ckl = 0, ikl = 0, al = 0;
	OMC_DEFER_WIPE(ck);
	OMC_DEFER_WIPE(ik);
	OMC_DEFER_WIPE(kasme);
	char mcc[4], mnc[4];
	size_t pl = strlen(s->vno_plmn);
	memcpy(mcc, s->vno_plmn, 3);
	mcc[3] = 0;
	snprintf(mnc, sizeof mnc, "%s", s->vno_plmn + 3);
	omc_link link;
	OMC_DEFER_WIPE(link);
	bool ok = t && ck_h && ik_h && autn_h && (pl == 5 || pl == 6) &&
		  omc_hex_decode_var(ck, sizeof ck, &ckl, ck_h, strlen(ck_h)) == OMC_OK &&
		  omc_hex_decode_var(ik, sizeof ik, &ikl, ik_h, strlen(ik_h)) == OMC_OK &&
		  omc_hex_decode_var(autn, sizeof autn, &al, autn_h, strlen(autn_h)) == OMC_OK && al >= 6 &&
		  omc_aka_plmn_encode(plmn, mcc, mnc) == OMC_OK &&
		  /* A.2: SQN xor AK is the first 48 bits of AUTN. */
		  omc_link_kasme(kasme, ck, ckl, ik, ikl, plmn, autn) == OMC_OK &&
		  omc_link_init(&link, kasme, LINK_BEARER, OMC_LINK_DOWNLINK) == OMC_OK && id_hash(id, attach_id);
	if (!ok) {
		/* TUAK's 256-bit CK and IK, or no CK in the vector: the session
		 * has no protected link (POST /v1/link answers no_link). */
		OMC_LOG_INF("vno", "attach of %s: no link keys (CK of %zu bytes)", imsi, ckl);
		return;
	}
	int64_t now = srv_now(s);
	pthread_mutex_lock(&t->lock);
	sweep(t, now);
	if (t->n == t->cap && t->cap < LINKS_MAX) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		link_ent *ne = omc_realloc(t->e, nc * sizeof *ne);
		if (ne) {
			memset(ne + t->cap, 0, (nc - t->cap) * sizeof *ne);
			t->e = ne;
			t->cap = nc;
		}
	}
	if (t->n < t->cap) {
		link_ent *e = &t->e[t->n++];
		memset(e, 0, sizeof *e);
		e->used = true;
		memcpy(e->id, id, 32);
		snprintf(e->imsi, sizeof e->imsi, "%s", imsi);
		e->expires = now + LINK_PENDING_S;
		e->link = link;
		ok = true;
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&t->lock);
	if (!ok)
		OMC_LOG_WRN("vno", "link table full (%d): %s attaches without a link", LINKS_MAX, imsi);
}

void srv_link_bind(omc_server *s, const char *attach_id, const uint8_t *token_hash, int64_t expires)
{
	srv_links *t = s->links;
	uint8_t id[32];
	if (!t || !id_hash(id, attach_id))
		return;
	pthread_mutex_lock(&t->lock);
	link_ent *e = find(t, id, false, srv_now(s));
	if (e && token_hash) {
		memcpy(e->id, token_hash, 32);
		e->bound = true;
		e->expires = expires;
	} else if (e) {
		drop(e); /* RES did not match, a resynchronisation, or no session */
	}
	pthread_mutex_unlock(&t->lock);
}

bool srv_link_held(omc_server *s, const uint8_t token_hash[32])
{
	srv_links *t = s->links;
	bool held = false;
	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++)
		held |= t->e[i].used && t->e[i].bound && omc_ct_eq(t->e[i].id, token_hash, 32);
	pthread_mutex_unlock(&t->lock);
	return held;
}

typedef struct refusal {
	omc_err err;
	int status;
	const char *code, *msg;
} refusal;

/* One distinct code per reason a frame is dropped (docs/link.md). */
static const refusal refusals[] = {
	{OMC_ERR_TRUNCATED, 400, "bad_frame", "not a link frame (truncated)"},
	{OMC_ERR_BAD_FORMAT, 400, "bad_frame", "not a link frame of version 1"},
	{OMC_ERR_LINK_DIRECTION, 400, "wrong_direction", "the frame is not an uplink frame"},
	{OMC_ERR_LINK_BEARER, 400, "wrong_bearer", "the frame is for another bearer"},
	{OMC_ERR_LINK_REPLAY, 409, "replayed", "COUNT already received, or older than the replay window"},
	{OMC_ERR_MAC_FAILURE, 401, "bad_mac", "the frame's MAC does not verify"},
};

static void refuse(srv_listener *l, omc_http_resp *resp, const srv_session *ss, omc_err e)
{
	const refusal *r = NULL;
	for (size_t i = 0; i < OMC_ARRAY_LEN(refusals); i++)
		if (refusals[i].err == e)
			r = &refusals[i];
	if (!r) {
		srv_fail(l, resp, 500, "internal", "the frame could not be processed");
		return;
	}
	srv_lock(l->s);
	srv_audit(l->s, "vno", "device", "link", ss->imsi, "refused", r->code);
	srv_unlock(l->s);
	srv_fail(l, resp, r->status, r->code, r->msg);
}

/* Open the frame on the session's link: OMC_ERR_NOT_FOUND if it has none. */
static omc_err link_open(omc_server *s, const srv_session *ss, uint8_t *pt, size_t *pt_len, uint32_t *count,
			 const uint8_t *frame, size_t n)
{
	srv_links *t = s->links;
	OMC_ENSURE(t != NULL, OMC_ERR_NOT_FOUND);
	pthread_mutex_lock(&t->lock);
	link_ent *e = find(t, ss->token_hash, true, srv_now(s));
	omc_err r = e ? omc_link_open(&e->link, pt, OMC_LINK_MAX_PAYLOAD, pt_len, count, frame, n) : OMC_ERR_NOT_FOUND;
	pthread_mutex_unlock(&t->lock);
	return r;
}

static omc_err link_seal(omc_server *s, const srv_session *ss, uint8_t *frame, size_t *n, const uint8_t *pt,
			 size_t pt_len)
{
	srv_links *t = s->links;
	OMC_ENSURE(t != NULL, OMC_ERR_NOT_FOUND);
	pthread_mutex_lock(&t->lock);
	link_ent *e = find(t, ss->token_hash, true, srv_now(s));
	omc_err r = e ? omc_link_seal(&e->link, frame, OMC_LINK_FRAME_MAX, n, pt, pt_len) : OMC_ERR_NOT_FOUND;
	pthread_mutex_unlock(&t->lock);
	return r;
}

static void link_frame(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_vno_operational(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *fb = b ? srv_str(l, resp, b, "frame", 16, LINK_B64_MAX - 1) : NULL;
	static _Thread_local uint8_t frame[OMC_LINK_FRAME_MAX], pt[OMC_LINK_MAX_PAYLOAD];
	size_t n = 0, pt_len = 0;
	if (fb && omc_b64_decode(frame, sizeof frame, &n, fb, strlen(fb), OMC_B64_URL) != OMC_OK) {
		srv_fail(l, resp, 400, "bad_request", "member frame: a link frame in base64url");
		fb = NULL;
	}
	json_decref(b);
	if (!fb)
		return;
	uint32_t count = 0;
	omc_err e = link_open(s, &ss, pt, &pt_len, &count, frame, n);
	omc_memzero(frame, sizeof frame);
	if (e == OMC_ERR_NOT_FOUND) {
		srv_fail(l, resp, 409, "no_link", "this session has no link keys: attach again");
		return;
	}
	if (e != OMC_OK) {
		refuse(l, resp, &ss, e);
		return;
	}
	/* The payload is the device's traffic: it counts like /v1/data. */
	omc_memzero(pt, pt_len);
	uint64_t used = 0;
	if (!srv_vno_count(l, resp, &ss, (int64_t)pt_len, &used))
		return;
	/* The answer, downlink: what was received and counted. */
	char ack[96];
	int al = snprintf(ack, sizeof ack, "{\"count\":%u,\"bytes\":%zu,\"used\":%llu}", count, pt_len,
			  (unsigned long long)used);
	char out[LINK_B64_MAX];
	e = al > 0 && (size_t)al < sizeof ack ? link_seal(s, &ss, frame, &n, (const uint8_t *)ack, (size_t)al)
					      : OMC_ERR_BUG;
	if (e == OMC_OK)
		e = omc_b64_encode(out, sizeof out, frame, n, OMC_B64_URL);
	if (e != OMC_OK) {
		srv_fail(l, resp, 500, "internal", "no downlink frame");
		return;
	}
	srv_reply(l, resp, 200,
		  json_pack("{s:s,s:I,s:I,s:I,s:I}", "frame", out, "count", (json_int_t)count, "bytes",
			    (json_int_t)pt_len, "used", (json_int_t)used, "volume_cap", (json_int_t)ss.volume_cap));
}

void srv_routes_vno_link(srv_listener *l)
{
	if (srv_links_new(l->s) != OMC_OK)
		OMC_LOG_ERR("vno", "no memory for the link table: POST /v1/link answers no_link");
	srv_route_add(l, "POST", "/v1/link", link_frame);
}
