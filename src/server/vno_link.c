/* The VNO's end of the protected access link (SEC-11, docs/link.md). The
 * attach's vector gives CK, IK and AUTN: the VNO derives KASME with its
 * serving network's PLMN identity (`vno_plmn`) and SQN xor AK (TS 33.401
 * A.2), then the NAS keys (A.7), and keeps them in the database (table
 * vno_link), so that every replica on it finds them: under the challenge
 * until RES is checked, then under the session's token hash too until the
 * session expires. POST /v1/link takes a frame of the device (ciphered
 * with 128-EEA2 under KNASenc, MAC by 128-EIA2 under KNASint), counts its
 * payload against the service profile like /v1/data, and answers with a
 * downlink frame.
 *
 * Keys at rest: AES-256-GCM under
 *   K_link = HMAC-SHA-256(master, "omc/vno/link/v1/keys" || 0x01)
 * (HKDF-Expand, as the AuC's K_sec), nonce(12) | KNASenc | KNASint |
 * KUPenc | tag(16), AAD = "omc/vno/link/v1" 0x00 SHA-256(attach id), the
 * row's key, so sealed keys moved to another row do not open. The replay
 * window and the downlink COUNT are plain columns, updated in the
 * transaction of each frame. Plaintext keys are wiped locals only. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "openmcim/link.h"
#include "server/server_internal.h"

#define LINK_PENDING_S 300   /* a challenge lives 5 minutes (vno.c) */
#define LINK_BEARER 0        /* one bearer per session (docs/link.md) */
#define LINK_B64_MAX (((OMC_LINK_FRAME_MAX + 2) / 3) * 4 + 1)
#define KEYS_LEN ((int)sizeof(omc_link_keys))
#define SEALED_LEN (OMC_AEAD_NONCE_LEN + KEYS_LEN + OMC_AEAD_TAG_LEN)
#define AAD_LABEL "omc/vno/link/v1"
#define AAD_LEN (sizeof AAD_LABEL + 32) /* the label, 0x00, the row's key */

static bool id_hash(uint8_t out[32], const char *attach_id)
{
	unsigned len = 0;
	return EVP_Digest(attach_id, strlen(attach_id), out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

omc_err srv_links_new(omc_server *s, const uint8_t master[32])
{
	static const char label[] = "omc/vno/link/v1/keys\x01";
	unsigned len = 0;
	s->link_keyed = HMAC(EVP_sha256(), master, 32, (const uint8_t *)label, sizeof label - 1, s->link_key, &len) &&
			len == 32;
	OMC_ENSURE(s->link_keyed, OMC_ERR_CRYPTO);
	return OMC_OK;
}

void srv_links_free(omc_server *s)
{
	omc_memzero(s->link_key, sizeof s->link_key);
	s->link_keyed = false;
}

static void aad_of(uint8_t aad[AAD_LEN], const uint8_t id[32])
{
	memcpy(aad, AAD_LABEL, sizeof AAD_LABEL); /* with its 0x00 */
	memcpy(aad + sizeof AAD_LABEL, id, 32);
}

static omc_err keys_seal(uint8_t out[SEALED_LEN], const omc_server *s, const uint8_t id[32], const omc_link_keys *k)
{
	uint8_t aad[AAD_LEN];
	aad_of(aad, id);
	OMC_ENSURE(s->link_keyed, OMC_ERR_BAD_ARG);
	OMC_TRY(omc_rand_bytes(out, OMC_AEAD_NONCE_LEN));
	return omc_aead_seal(out + OMC_AEAD_NONCE_LEN, out + OMC_AEAD_NONCE_LEN + KEYS_LEN, s->link_key, out, aad,
			     sizeof aad, (const uint8_t *)k, (size_t)KEYS_LEN);
}

static omc_err keys_open(omc_link_keys *k, const omc_server *s, const uint8_t id[32], const uint8_t *in, int len)
{
	uint8_t aad[AAD_LEN];
	aad_of(aad, id);
	OMC_ENSURE(s->link_keyed && in && len == SEALED_LEN, OMC_ERR_CORRUPT);
	omc_err e = omc_aead_open((uint8_t *)k, s->link_key, in, aad, sizeof aad, in + OMC_AEAD_NONCE_LEN,
				  (size_t)KEYS_LEN, in + OMC_AEAD_NONCE_LEN + KEYS_LEN);
	if (e != OMC_OK)
		omc_memzero(k, sizeof *k);
	return e == OMC_ERR_MAC_FAILURE ? OMC_ERR_CORRUPT : e;
}

void srv_link_offer(omc_server *s, const char *attach_id, const char *imsi, const char *ck_h, const char *ik_h,
		    const char *autn_h)
{
	uint8_t ck[32], ik[32], autn[OMC_AKA_MAX_AUTN_LEN], plmn[3], kasme[32], id[32], sealed[SEALED_LEN];
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
	bool ok = ck_h && ik_h && autn_h && (pl == 5 || pl == 6) &&
		  omc_hex_decode_var(ck, sizeof ck, &ckl, ck_h, strlen(ck_h)) == OMC_OK &&
		  omc_hex_decode_var(ik, sizeof ik, &ikl, ik_h, strlen(ik_h)) == OMC_OK &&
		  omc_hex_decode_var(autn, sizeof autn, &al, autn_h, strlen(autn_h)) == OMC_OK && al >= 6 &&
		  omc_aka_plmn_encode(plmn, mcc, mnc) == OMC_OK &&
		  /* A.2: SQN xor AK is the first 48 bits of AUTN. */
		  omc_link_kasme(kasme, ck, ckl, ik, ikl, plmn, autn) == OMC_OK &&
		  omc_link_init(&link, kasme, LINK_BEARER, OMC_LINK_DOWNLINK) == OMC_OK && id_hash(id, attach_id) &&
		  keys_seal(sealed, s, id, &link.keys) == OMC_OK;
	if (!ok) {
		/* TUAK's 256-bit CK and IK, or no CK in the vector: the session
		 * has no protected link (POST /v1/link answers no_link). */
		OMC_LOG_INF("vno", "attach of %s: no link keys (CK of %zu bytes)", imsi, ckl);
		return;
	}
	int64_t now = srv_now(s);
	omc_dbs *q;
	srv_lock(s);
	/* Ended challenges and sessions go (the index on expires). */
	if (srv_sql(s, &q, "DELETE FROM vno_link WHERE expires <= ?1") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, now);
		(void)omc_dbs_step(q);
		srv_sql_done(s, q);
	}
	ok = srv_sql(s, &q,
		     "INSERT INTO vno_link (attach_hash, imsi, token_hash, sealed, rx_any, rx_top, rx_seen, tx_next,"
		     " tx_done, expires) VALUES (?1, ?2, NULL, ?3, 0, 0, 0, 0, 0, ?4)") == OMC_OK;
	if (ok) {
		omc_dbs_bind_blob(q, 1, id, 32);
		omc_dbs_bind_text(q, 2, imsi, -1);
		omc_dbs_bind_blob(q, 3, sealed, SEALED_LEN);
		omc_dbs_bind_int64(q, 4, now + LINK_PENDING_S);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (!ok)
		OMC_LOG_WRN("vno", "link keys not recorded: %s attaches without a link", imsi);
}

void srv_link_bind(omc_server *s, const char *attach_id, const uint8_t *token_hash, int64_t expires)
{
	uint8_t id[32];
	omc_dbs *q;
	if (!id_hash(id, attach_id))
		return;
	srv_lock(s);
	/* The keys move to the session, or go: RES did not match, a
	 * resynchronisation, or no session. */
	omc_err e = token_hash ? srv_sql(s, &q,
					 "UPDATE vno_link SET token_hash = ?2, expires = ?3"
					 " WHERE attach_hash = ?1 AND token_hash IS NULL AND expires > ?4")
			       : srv_sql(s, &q, "DELETE FROM vno_link WHERE attach_hash = ?1 AND token_hash IS NULL");
	if (e == OMC_OK) {
		omc_dbs_bind_blob(q, 1, id, 32);
		if (token_hash) {
			omc_dbs_bind_blob(q, 2, token_hash, 32);
			omc_dbs_bind_int64(q, 3, expires);
			omc_dbs_bind_int64(q, 4, srv_now(s));
		}
		(void)omc_dbs_step(q);
		srv_sql_done(s, q);
	}
	srv_unlock(s);
}

bool srv_link_held(omc_server *s, const uint8_t token_hash[32])
{
	omc_dbs *q;
	bool held = false;
	srv_lock(s);
	if (srv_sql(s, &q, "SELECT 1 FROM vno_link WHERE token_hash = ?1") == OMC_OK) {
		omc_dbs_bind_blob(q, 1, token_hash, 32);
		held = omc_dbs_step(q) == OMC_DB_ROW;
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	return held;
}

/* The session's link, its keys unsealed (caller holds the lock, in a
 * transaction): OMC_ERR_NOT_FOUND if it has none, or it has ended. */
static omc_err link_load(omc_server *s, const uint8_t th[32], uint8_t id[32], omc_link *l)
{
	omc_dbs *q;
	OMC_TRY(srv_sql(s, &q,
			"SELECT attach_hash, sealed, rx_any, rx_top, rx_seen, tx_next, tx_done FROM vno_link"
			" WHERE token_hash = ?1 AND expires > ?2"));
	omc_dbs_bind_blob(q, 1, th, 32);
	omc_dbs_bind_int64(q, 2, srv_now(s));
	omc_err r = OMC_ERR_NOT_FOUND;
	if (omc_dbs_step(q) == OMC_DB_ROW && omc_dbs_column_bytes(q, 0) == 32) {
		memset(l, 0, sizeof *l);
		memcpy(id, omc_dbs_column_blob(q, 0), 32);
		r = keys_open(&l->keys, s, id, omc_dbs_column_blob(q, 1), omc_dbs_column_bytes(q, 1));
		l->bearer = LINK_BEARER;
		l->self = OMC_LINK_DOWNLINK;
		l->ready = r == OMC_OK;
		l->rx_any = omc_dbs_column_int64(q, 2) != 0;
		l->rx_top = (uint32_t)omc_dbs_column_int64(q, 3);
		l->rx_seen = (uint64_t)omc_dbs_column_int64(q, 4);
		l->tx_next = (uint32_t)omc_dbs_column_int64(q, 5);
		l->tx_done = omc_dbs_column_int64(q, 6) != 0;
	}
	srv_sql_done(s, q);
	return r;
}

static omc_err link_store(omc_server *s, const uint8_t id[32], const omc_link *l)
{
	omc_dbs *q;
	OMC_TRY(srv_sql(s, &q,
			"UPDATE vno_link SET rx_any = ?2, rx_top = ?3, rx_seen = ?4, tx_next = ?5, tx_done = ?6"
			" WHERE attach_hash = ?1"));
	omc_dbs_bind_blob(q, 1, id, 32);
	omc_dbs_bind_int64(q, 2, l->rx_any);
	omc_dbs_bind_int64(q, 3, (int64_t)l->rx_top);
	omc_dbs_bind_int64(q, 4, (int64_t)l->rx_seen);
	omc_dbs_bind_int64(q, 5, (int64_t)l->tx_next);
	omc_dbs_bind_int64(q, 6, l->tx_done);
	omc_err r = omc_dbs_step(q) == OMC_DB_DONE ? OMC_OK : OMC_ERR_IO;
	srv_sql_done(s, q);
	return r;
}

/* One frame in one transaction: the row read, its keys unsealed, the frame
 * opened (rx) or sealed (tx), the window or COUNT written back, committed.
 * A refused frame changes nothing. */
static omc_err link_use(omc_server *s, const srv_session *ss, bool rx, uint8_t *out, size_t cap, size_t *out_len,
			uint32_t *count, const uint8_t *in, size_t in_len)
{
	omc_link link;
	OMC_DEFER_WIPE(link);
	uint8_t id[32];
	srv_lock(s);
	omc_err r = srv_begin(s) ? OMC_OK : OMC_ERR_IO;
	if (r == OMC_OK) {
		r = link_load(s, ss->token_hash, id, &link);
		if (r == OMC_OK)
			r = rx ? omc_link_open(&link, out, cap, out_len, count, in, in_len)
			       : omc_link_seal(&link, out, cap, out_len, in, in_len);
		if (r == OMC_OK)
			r = link_store(s, id, &link);
		if (r != OMC_OK)
			srv_rollback(s);
		else if (!srv_commit(s))
			r = OMC_ERR_IO;
	}
	srv_unlock(s);
	return r;
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
	omc_err e = link_use(s, &ss, true, pt, OMC_LINK_MAX_PAYLOAD, &pt_len, &count, frame, n);
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
	e = al > 0 && (size_t)al < sizeof ack ? link_use(s, &ss, false, frame, OMC_LINK_FRAME_MAX, &n, NULL,
								 (const uint8_t *)ack, (size_t)al)
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
	srv_route_add(l, "POST", "/v1/link", link_frame);
}
