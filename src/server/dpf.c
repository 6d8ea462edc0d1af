/* The DPF of the registration operator (SEC-9, MGT-1): only on a valid
 * validation token from a trusted PVA, obtains the MCIM from the device's
 * SHO and encrypts it to the session key in the validated evidence, so
 * only that TRE, in that session, can open it; stores the TRE's signed
 * receipt and passes it to the SHO; queues signed commands for devices and
 * collects their signed results. */
#include <string.h>

#include <openssl/evp.h>

#include "openmcim/tre.h"
#include "server/server_internal.h"

typedef struct token {
	char tre[64], platform_id[32], nonce[96], jti[48], ev_sha[65];
	int64_t exp;
} token;

/* "" or the refusal code. */
static const char *token_check(omc_server *s, const char *tok, token *t)
{
	omc_jws_verified v = {0};
	if (omc_jws_verify_x5c(&v, tok, strlen(tok), (const omc_cert *const *)s->pva_ca, s->n_pva_ca,
			       "omc-validation+jwt", (time_t)srv_now(s)) != OMC_OK)
		return "bad_token";
	char cn[SRV_NAME_MAX + 8] = "";
	bool ok = omc_cert_subject_cn(cn, sizeof cn, v.leaf) == OMC_OK && !strcmp(cn, s->pva_names[v.anchor]);
	json_error_t je;
	json_t *p = ok ? omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je) : NULL;
	omc_jws_verified_free(&v);
	const char *f[5] = {json_string_value(json_object_get(p, "tre")),
			    json_string_value(json_object_get(p, "platform_id")),
			    json_string_value(json_object_get(p, "nonce")), json_string_value(json_object_get(p, "jti")),
			    json_string_value(json_object_get(p, "evidence_sha256"))};
	json_t *exp = json_object_get(p, "exp");
	const char *iss = json_string_value(json_object_get(p, "iss"));
	ok = ok && iss && !strcmp(iss, cn) && json_is_integer(exp);
	for (int i = 0; ok && i < 5; i++)
		ok = f[i] != NULL;
	ok = ok && strlen(f[0]) < sizeof t->tre && strlen(f[1]) < sizeof t->platform_id &&
	     strlen(f[2]) < sizeof t->nonce && strlen(f[3]) < sizeof t->jti && strlen(f[4]) == 64;
	if (ok) {
		memcpy(t->tre, f[0], strlen(f[0]) + 1);
		memcpy(t->platform_id, f[1], strlen(f[1]) + 1);
		memcpy(t->nonce, f[2], strlen(f[2]) + 1);
		memcpy(t->jti, f[3], strlen(f[3]) + 1);
		memcpy(t->ev_sha, f[4], 65);
		t->exp = (int64_t)json_integer_value(exp);
	}
	json_decref(p);
	if (!ok)
		return "bad_token";
	return t->exp < srv_now(s) ? "token_expired" : "";
}

static bool token_used(omc_server *s, const char *jti)
{
	omc_dbs *q;
	bool used = true;
	srv_lock(s);
	if (srv_sql(s, &q, "SELECT 1 FROM dpf_download WHERE token_jti = ?1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, jti, -1);
		used = omc_dbs_step(q) == OMC_DB_ROW;
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	return used;
}

/* Claim the token before the SHO is asked (caller holds the lock): of
 * downloads racing with one token, on this replica or another, one gets
 * the claim and the others are refused having changed nothing (SEC-9).
 * OMC_ERR_EXISTS if it is taken: by a download recorded, or by one in
 * progress. The claim is a row of dpf_claim for as long as the download
 * runs: what makes a token single-use is the download's row (token_jti is
 * unique), committed with its audit row and durable before the package
 * leaves; a claim older than SRV_CLAIM_STALE seconds is of a download that
 * died with its process (its package never left), and the token can be
 * tried again. */
#define SRV_CLAIM_STALE 300

static omc_err token_claim(omc_server *s, const char *jti)
{
	omc_dbs *q;
	OMC_TRY(srv_sql(s, &q, "SELECT 1 FROM dpf_download WHERE token_jti = ?1"));
	omc_dbs_bind_text(q, 1, jti, -1);
	int rc = omc_dbs_step(q);
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_DONE || rc == OMC_DB_ROW, omc_db_err(rc));
	OMC_ENSURE(rc == OMC_DB_DONE, OMC_ERR_EXISTS);
	/* One statement: a row back when it is ours, new or taken over. */
	int64_t now = srv_now(s);
	OMC_TRY(srv_sql(s, &q,
			"INSERT INTO dpf_claim (token_jti, claimed) VALUES (?1, ?2) ON CONFLICT (token_jti)"
			" DO UPDATE SET claimed = ?2 WHERE dpf_claim.claimed < ?3 RETURNING claimed"));
	omc_dbs_bind_text(q, 1, jti, -1);
	omc_dbs_bind_int64(q, 2, now);
	omc_dbs_bind_int64(q, 3, now - SRV_CLAIM_STALE);
	rc = omc_dbs_step(q);
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_DONE || rc == OMC_DB_ROW, omc_db_err(rc));
	OMC_ENSURE(rc == OMC_DB_ROW, OMC_ERR_EXISTS);
	return OMC_OK;
}

/* The download is over, made or not (caller holds the lock). */
static void claim_drop(omc_server *s, const char *jti)
{
	omc_dbs *q;
	if (srv_sql(s, &q, "DELETE FROM dpf_claim WHERE token_jti = ?1") != OMC_OK)
		return;
	omc_dbs_bind_text(q, 1, jti, -1);
	if (omc_dbs_step(q) != OMC_DB_DONE)
		OMC_LOG_ERR("dpf", "a download's claim stays until it is stale: %s", omc_db_errmsg(s->db));
	srv_sql_done(s, q);
}

static void token_release(omc_server *s, const char *jti)
{
	srv_lock(s);
	claim_drop(s, jti);
	srv_unlock(s);
}

static void download(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *tok = b ? srv_str(l, resp, b, "token", 16, 64 * 1024) : NULL;
	const char *ev = tok ? srv_str(l, resp, b, "evidence", 16, 256 * 1024) : NULL;
	if (!ev) {
		json_decref(b);
		return;
	}
	token t;
	memset(&t, 0, sizeof t);
	omc_evidence e;
	memset(&e, 0, sizeof e);
	const char *why = token_check(s, tok, &t);
	const char *msg = "the validation token is not from a trusted PVA";
	uint8_t h[32], n[64];
	unsigned hl = 0;
	size_t nl = 0;
	char hh[65];
	if (!why[0] && token_used(s, t.jti)) {
		why = "token_replayed";
		msg = "the validation token was used already";
	}
	if (!strcmp(why, "token_expired"))
		msg = "the validation token has expired";
	if (!why[0] && (EVP_Digest(ev, strlen(ev), h, &hl, EVP_sha256(), NULL) != 1 ||
			omc_hex_encode(hh, sizeof hh, h, 32) != OMC_OK || strcmp(hh, t.ev_sha) != 0)) {
		why = "evidence_mismatch";
		msg = "the evidence is not the one the token validated";
	}
	if (!why[0] && (omc_b64_decode(n, sizeof n, &nl, t.nonce, strlen(t.nonce), OMC_B64_URL) != OMC_OK ||
			omc_evidence_verify(&e, ev, strlen(ev), (const omc_cert *const *)s->m2mes_ca, s->n_m2mes_ca, n,
					    nl, (time_t)srv_now(s)) != OMC_OK ||
			strcmp(e.tre_id, t.tre) != 0 || !e.eph_pub)) {
		why = "evidence_mismatch";
		msg = "the evidence does not verify, or carries no session key";
	}
	char sho[SRV_NAME_MAX] = "", state[16] = "";
	if (!why[0]) {
		srv_lock(s);
		omc_err er = srv_drf_sho_of(s, t.platform_id, sho, state);
		omc_err cl = er == OMC_OK ? token_claim(s, t.jti) : OMC_OK;
		srv_unlock(s);
		if (er != OMC_OK) {
			why = "not_assigned";
			msg = "no SHO has registered this device yet";
		} else if (cl == OMC_ERR_EXISTS) {
			why = "token_replayed";
			msg = "the validation token was used already";
		} else if (cl != OMC_OK) {
			why = "internal";
			msg = "the download was not recorded";
		}
	}
	if (why[0]) {
		omc_evidence_free(&e);
		json_decref(b);
		srv_lock(s);
		srv_audit(s, "dpf", "device", "download", t.tre[0] ? t.tre : ss.imsi, "refused", why);
		srv_unlock(s);
		int status = !strcmp(why, "token_replayed") || !strcmp(why, "not_assigned") ? 409 : 403;
		srv_fail(l, resp, !strcmp(why, "internal") ? 500 : status, why, msg);
		return;
	}
	char peer[40];
	snprintf(peer, sizeof peer, "sho.%s", sho);
	int st = 0;
	json_t *a = NULL;
	omc_err er = srv_call(s, s->ro_key, s->ro_cert, "POST", srv_peer(s, peer), "/v1/mcims",
			      json_pack("{s:s,s:s,s:s,s:s,s:b}", "tre", t.tre, "platform_id", t.platform_id, "nonce",
					t.nonce, "evidence", ev, "activate", strcmp(state, "direct") != 0),
			      &st, &a);
	if (er != OMC_OK || st != 201) {
		token_release(s, t.jti);
		srv_fail_peer(l, resp, er == OMC_OK ? st : 0, a, "the SHO");
		json_decref(a);
		omc_evidence_free(&e);
		json_decref(b);
		return;
	}
	const char *sealed = json_string_value(json_object_get(a, "package"));
	const char *mcim = json_string_value(json_object_get(a, "mcim"));
	const char *imsi = json_string_value(json_object_get(a, "imsi"));
	json_t *seqj = json_object_get(a, "seq");
	uint8_t *inner = NULL;
	size_t il = 0;
	char *pkg = NULL;
	er = sealed && mcim && imsi && json_is_integer(seqj) ? OMC_OK : OMC_ERR_BAD_FORMAT;
	if (er == OMC_OK)
		er = omc_jwe_decrypt(&inner, &il, sealed, strlen(sealed), s->ro_key);
	if (er == OMC_OK)
		er = omc_jwe_encrypt(&pkg, inner, il, e.eph_pub,
				     "omc-mcim-package+jwe");
	omc_free(inner); /* wiped: the signed MCIM holds K and OPc */
	/* The download and its audit row in one transaction. */
	omc_dbs *q;
	srv_lock(s);
	if (er == OMC_OK && !srv_begin(s))
		er = OMC_ERR_IO;
	if (er == OMC_OK) {
		er = srv_sql(s, &q,
			     "INSERT INTO dpf_download (token_jti, tre_id, platform_id, sho, mcim_id, imsi, seq, state,"
			     " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'sent', ?8)");
		if (er == OMC_OK) {
			omc_dbs_bind_text(q, 1, t.jti, -1);
			omc_dbs_bind_text(q, 2, t.tre, -1);
			omc_dbs_bind_text(q, 3, t.platform_id, -1);
			omc_dbs_bind_text(q, 4, sho, -1);
			omc_dbs_bind_text(q, 5, mcim, -1);
			omc_dbs_bind_text(q, 6, imsi, -1);
			omc_dbs_bind_int64(q, 7, (int64_t)json_integer_value(seqj));
			omc_dbs_bind_int64(q, 8, (int64_t)srv_now(s));
			int rc = omc_dbs_step(q);
			er = omc_db_err(rc); /* a download of this token already: OMC_ERR_EXISTS */
			srv_sql_done(s, q);
		}
		if (er == OMC_OK) {
			srv_audit(s, "dpf", "device", "download", t.tre, "ok", mcim);
			if (!srv_commit(s))
				er = OMC_ERR_IO;
		} else {
			srv_rollback(s);
		}
	}
	claim_drop(s, t.jti);
	srv_unlock(s);
	json_t *out = er == OMC_OK ? json_pack("{s:s,s:s,s:s}", "package", pkg, "mcim", mcim, "sho", sho) : NULL;
	omc_free(pkg);
	json_decref(a);
	omc_evidence_free(&e);
	json_decref(b);
	if (!out) {
		srv_fail(l, resp, er == OMC_ERR_EXISTS ? 409 : 500, er == OMC_ERR_EXISTS ? "token_replayed" : "internal",
			 omc_err_name(er));
		return;
	}
	srv_reply(l, resp, 200, out);
}

static void receipt(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *rc = b ? srv_str(l, resp, b, "receipt", 16, 64 * 1024) : NULL;
	if (!rc) {
		json_decref(b);
		return;
	}
	char cn[64];
	json_t *p = NULL;
	(void)srv_tre_signed(s, rc, strlen(rc), "omc-receipt+jwt", &p, cn);
	const char *tre = json_string_value(json_object_get(p, "tre"));
	const char *iss = json_string_value(json_object_get(p, "iss"));
	json_t *seq = json_object_get(p, "seq");
	if (!tre || !iss || !json_is_integer(seq) || strcmp(tre, cn) != 0) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature", "the receipt is not signed by the TRE it names");
		return;
	}
	omc_dbs *q;
	char plat[32] = "", mcim[41] = "";
	srv_lock(s);
	if (srv_sql(s, &q,
		    "UPDATE dpf_download SET state = 'installed', receipt = ?4 WHERE tre_id = ?1 AND sho = ?2 AND seq = ?3"
		    " RETURNING platform_id, mcim_id") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		omc_dbs_bind_text(q, 2, iss, -1);
		omc_dbs_bind_int64(q, 3, (int64_t)json_integer_value(seq));
		omc_dbs_bind_text(q, 4, rc, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW) {
			snprintf(plat, sizeof plat, "%s", (const char *)omc_dbs_column_text(q, 0));
			snprintf(mcim, sizeof mcim, "%s", (const char *)omc_dbs_column_text(q, 1));
		}
		srv_sql_done(s, q);
	}
	/* A direct change: the new MCIM is installed, not activated; the RO's
	 * signed `switch` activates it on trial. Only the receipt of the SHO
	 * the DRF names changes the DRF's device: a late one of the SHO it has
	 * left (sent again, its first answer lost, after a change was asked)
	 * would make a `direct` device `provisioned`, and the device would
	 * never hear of the change (model/README.md). Nor does the receipt sent
	 * again while the device is `switching` (its first answer lost): the
	 * switch's end makes it `provisioned`; earlier, a second change asked
	 * meanwhile would be overwritten by that end. */
	char dsho[SRV_NAME_MAX] = "", dstate[16] = "";
	omc_err de = plat[0] ? srv_drf_sho_of(s, plat, dsho, dstate) : OMC_ERR_NOT_FOUND;
	bool named = de == OMC_OK && !strcmp(dsho, iss);
	/* Whether the DRF's side went through: a receipt whose switch was not
	 * queued, or whose device was not made provisioned, is not answered
	 * 200 (the device would not send it again). */
	bool drf_ok = de == OMC_OK || de == OMC_ERR_NOT_FOUND;
	if (named && !strcmp(dstate, "direct")) {
		int64_t cid = 0;
		drf_ok = false;
		if (srv_begin(s)) {
			if (srv_ro_command(s, tre, "switch", NULL, mcim, &cid) == OMC_OK &&
			    srv_sql(s, &q,
				    "UPDATE drf_device SET state = 'switching', updated = ?2 WHERE platform_id = ?1") ==
				    OMC_OK) {
				omc_dbs_bind_text(q, 1, plat, -1);
				omc_dbs_bind_int64(q, 2, (int64_t)srv_now(s));
				bool done = omc_dbs_step(q) == OMC_DB_DONE;
				srv_sql_done(s, q);
				drf_ok = done && srv_commit(s);
			}
			if (!drf_ok)
				srv_rollback(s);
		}
	} else if (named) {
		drf_ok = false;
		if (srv_sql(s, &q,
			    "UPDATE drf_device SET state = 'provisioned', updated = ?2 WHERE platform_id = ?1"
			    " AND state NOT IN ('direct', 'switching')") == OMC_OK) {
			omc_dbs_bind_text(q, 1, plat, -1);
			omc_dbs_bind_int64(q, 2, (int64_t)srv_now(s));
			drf_ok = omc_dbs_step(q) == OMC_DB_DONE;
			srv_sql_done(s, q);
		}
	}
	if (plat[0])
		srv_audit(s, "dpf", "device", "receipt", tre, "ok", mcim);
	srv_unlock(s);
	if (!plat[0]) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 404, "unknown_download", "no download of this DPF matches the receipt");
		return;
	}
	if (!drf_ok) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	char peer[40];
	snprintf(peer, sizeof peer, "sho.%s", iss);
	int st = 0;
	json_t *a = NULL;
	omc_err er = srv_call(s, s->ro_key, s->ro_cert, "POST", srv_peer(s, peer), "/v1/receipts",
			      json_pack("{s:s}", "receipt", rc), &st, &a);
	json_decref(p);
	json_decref(b);
	if (er != OMC_OK || st != 200) {
		/* Stored here; the device sends it again and the SHO hears it then. */
		srv_fail_peer(l, resp, er == OMC_OK ? st : 0, a, "the SHO");
		json_decref(a);
		return;
	}
	json_decref(a);
	srv_reply(l, resp, 200, json_pack("{s:s,s:s}", "mcim", mcim, "state", "installed"));
}

/* --- commands ------------------------------------------------------------------------ */

omc_err srv_ro_command(omc_server *s, const char *tre, const char *cmd, const char *owner, const char *mcim,
		       int64_t *id)
{
	int64_t seq = 0, now = srv_now(s);
	OMC_TRY(srv_counter_next(s, "seq.ro", &seq));
	/* Held back longer than 30 days, it is void. */
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)seq, "tre", tre, "cmd", cmd,
			      "mcim", mcim ? mcim : "", "iat", (json_int_t)now, "exp", (json_int_t)(now + 30 * 86400));
	if (p && owner && json_object_set_new(p, "owner", json_string(owner))) {
		json_decref(p);
		p = NULL;
	}
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *jws = NULL;
	json_decref(p);
	OMC_ENSURE(ps != NULL, OMC_ERR_NOMEM);
	const omc_cert *x5c[1] = {s->ro_cert};
	omc_err e = omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), s->ro_key, x5c, 1, "omc-command+jwt");
	omc_free(ps);
	OMC_TRY(e);
	omc_dbs *q;
	e = srv_sql(s, &q,
		    "INSERT INTO dpf_command (tre_id, issuer, command, state, created) VALUES (?1, 'ro', ?2, 'queued', ?3)"
		    " RETURNING id");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		omc_dbs_bind_text(q, 2, jws, -1);
		omc_dbs_bind_int64(q, 3, (int64_t)now);
		int rc = omc_dbs_step(q);
		if (rc == OMC_DB_ROW)
			*id = (int64_t)omc_dbs_column_int64(q, 0);
		srv_sql_done(s, q);
		e = rc == OMC_DB_ROW ? OMC_OK : omc_db_err(rc);
	}
	omc_free(jws);
	if (e == OMC_OK)
		srv_audit(s, "dpf", "ro", "command_queue", tre, "ok", cmd);
	return e;
}

static size_t issuer_names(omc_server *s, const char **names, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_ops && n + 1 < cap; i++)
		names[n++] = s->ops[i].name;
	names[n++] = "ro";
	return n;
}

static void cmd_queue(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	const char *names[SRV_MAX_OPS + 1];
	size_t nn = issuer_names(s, names, OMC_ARRAY_LEN(names));
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, names, nn, who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *tre = b ? srv_str(l, resp, b, "tre", 5, 63) : NULL;
	const char *cmd = tre ? srv_str(l, resp, b, "command", 16, 64 * 1024) : NULL;
	if (!cmd) {
		json_decref(b);
		return;
	}
	/* The TRE checks the signature; here only that the caller queues its own. */
	uint8_t *pl = NULL;
	size_t pn = 0;
	json_t *p = NULL;
	json_error_t je;
	if (omc_jws_peek(&pl, &pn, cmd, strlen(cmd)) == OMC_OK)
		p = omc_json_loadb((const char *)pl, pn, 0, &je);
	omc_free(pl);
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *ptre = json_string_value(json_object_get(p, "tre"));
	if (!iss || !ptre || strcmp(iss, who) != 0 || strcmp(ptre, tre) != 0) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "not_yours", "the command is not the caller's, or not for that TRE");
		return;
	}
	json_decref(p);
	omc_dbs *q;
	int64_t id = 0;
	bool looked = false, again = false;
	srv_lock(s);
	/* The same command queued again while it is open (its answer lost,
	 * say): the first is answered, none is queued besides. Once carried
	 * out, it is queued again: the TRE refuses the replay. */
	if (srv_sql(s, &q,
		    "SELECT id FROM dpf_command WHERE tre_id = ?1 AND issuer = ?2 AND command = ?3"
		    " AND state IN ('queued', 'fetched') ORDER BY id LIMIT 1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		omc_dbs_bind_text(q, 2, who, -1);
		omc_dbs_bind_text(q, 3, cmd, -1);
		int rc = omc_dbs_step(q);
		looked = rc == OMC_DB_DONE || rc == OMC_DB_ROW;
		if (rc == OMC_DB_ROW) {
			id = (int64_t)omc_dbs_column_int64(q, 0);
			again = true;
		}
		srv_sql_done(s, q);
	}
	if (looked && !id &&
	    srv_sql(s, &q,
		    "INSERT INTO dpf_command (tre_id, issuer, command, state, created) VALUES (?1, ?2, ?3, 'queued', ?4)"
		    " RETURNING id") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		omc_dbs_bind_text(q, 2, who, -1);
		omc_dbs_bind_text(q, 3, cmd, -1);
		omc_dbs_bind_int64(q, 4, (int64_t)srv_now(s));
		if (omc_dbs_step(q) == OMC_DB_ROW)
			id = (int64_t)omc_dbs_column_int64(q, 0);
		srv_sql_done(s, q);
	}
	if (id)
		srv_audit(s, "dpf", who, "command_queue", tre, "ok", again ? "queued already" : "queued");
	srv_unlock(s);
	json_decref(b);
	if (!id) {
		srv_fail(l, resp, 500, "internal", "not queued");
		return;
	}
	srv_reply(l, resp, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "queued"));
}

/* The TRE of a session: by its PCID (the DRF saw it register) or by an
 * MCIM an SHO here issued to it. OMC_OK, OMC_ERR_NOT_FOUND (none known),
 * or the database's error (memory ran out, say: not the same as none). */
static omc_err tre_of_session_err(omc_server *s, const srv_session *ss, char tre[64])
{
	omc_dbs *q;
	srv_lock(s);
	omc_err e = srv_sql(s, &q,
			    "SELECT tre_id FROM drf_seen WHERE pcid_imsi = ?1 UNION ALL"
			    " SELECT tre_id FROM sho_mcim WHERE imsi = ?1 LIMIT 1");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, ss->imsi, -1);
		int rc = omc_dbs_step(q);
		if (rc == OMC_DB_ROW)
			snprintf(tre, 64, "%s", (const char *)omc_dbs_column_text(q, 0));
		else
			e = rc == OMC_DB_DONE ? OMC_ERR_NOT_FOUND : omc_db_err(rc);
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	return e;
}

static bool tre_of_session(omc_server *s, const srv_session *ss, char tre[64])
{
	return tre_of_session_err(s, ss, tre) == OMC_OK;
}

static void cmd_fetch(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	char tre[64];
	json_t *arr = json_array();
	omc_err te = tre_of_session_err(s, &ss, tre);
	if (te != OMC_OK) {
		/* No TRE known: no commands. A lookup that failed is no "none"
		 * (NULL: 500). */
		srv_reply(l, resp, 200, te == OMC_ERR_NOT_FOUND ? json_pack("{s:o}", "commands", arr) : NULL);
		if (te != OMC_ERR_NOT_FOUND)
			json_decref(arr);
		return;
	}
	/* An answer that could not list every command, or say that a direct
	 * change is asked, is not given (500): a device told "nothing" would
	 * not hear of it until its next poll. */
	omc_dbs *q;
	bool ok = false;
	srv_lock(s);
	if (arr && srv_sql(s, &q,
			   "SELECT id, command FROM dpf_command WHERE tre_id = ?1 AND state IN ('queued', 'fetched')"
			   " ORDER BY id LIMIT 32") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		int rc = OMC_DB_DONE;
		ok = true;
		while (ok && (rc = omc_dbs_step(q)) == OMC_DB_ROW)
			ok = json_array_append_new(arr, json_pack("{s:I,s:s}", "id",
								  (json_int_t)omc_dbs_column_int64(q, 0), "command",
								  (const char *)omc_dbs_column_text(q, 1))) == 0;
		ok = ok && rc == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	/* A direct change asked for this TRE: the device downloads the new
	 * SHO's MCIM over its present connectivity. */
	json_t *out = ok ? json_pack("{s:s,s:o}", "tre", tre, "commands", arr) : NULL;
	if (!ok)
		json_decref(arr);
	if (out && srv_sql(s, &q, "SELECT sho FROM drf_device WHERE tre_id = ?1 AND state = 'direct'") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		int rc = omc_dbs_step(q);
		if ((rc == OMC_DB_ROW && json_object_set_new(out, "change",
							     json_pack("{s:s,s:s}", "mode", "direct", "sho",
								       (const char *)omc_dbs_column_text(q, 0))) != 0) ||
		    (rc != OMC_DB_ROW && rc != OMC_DB_DONE)) {
			json_decref(out);
			out = NULL;
		}
		srv_sql_done(s, q);
	} else if (out) {
		json_decref(out);
		out = NULL;
	}
	if (out &&
	    srv_sql(s, &q, "UPDATE dpf_command SET state = 'fetched' WHERE tre_id = ?1 AND state = 'queued'") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		(void)omc_dbs_step(q);
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	srv_reply(l, resp, 200, out);
}

/* CHG-2: the TRE's signed word that MCIMs are gone, passed to each SHO
 * that owned one. False if one of them did not take it. */
static bool pass_deletions(omc_server *s, const char *issuer, const char *res, const json_t *claims)
{
	const json_t *del = json_object_get(claims, "deleted");
	const char *cmd = json_string_value(json_object_get(claims, "cmd"));
	const char *r = json_string_value(json_object_get(claims, "result"));
	const char *state = json_string_value(json_object_get(claims, "state"));
	/* A `delete` carried out, the SHO's own or the RO's: the SHO that
	 * issued the MCIM hears it too. */
	bool deleted = cmd && !strcmp(cmd, "delete") && r && !strcmp(r, "ok") && state && !strcmp(state, "deleted");
	bool own_delete = deleted && strcmp(issuer, "ro") != 0;
	bool reprov = !strcmp(issuer, "ro") && cmd && (!strcmp(cmd, "reprovision") || !strcmp(cmd, "switch"));
	char owner_of[SRV_NAME_MAX] = "";
	if (deleted && !own_delete) {
		const char *mid = json_string_value(json_object_get(claims, "mcim"));
		const char *tre = json_string_value(json_object_get(claims, "tre"));
		omc_dbs *q;
		srv_lock(s);
		if (mid && tre && srv_sql(s, &q, "SELECT operator FROM sho_mcim WHERE mcim_id = ?1 AND tre_id = ?2") == OMC_OK) {
			omc_dbs_bind_text(q, 1, mid, -1);
			omc_dbs_bind_text(q, 2, tre, -1);
			if (omc_dbs_step(q) == OMC_DB_ROW)
				snprintf(owner_of, sizeof owner_of, "%s", (const char *)omc_dbs_column_text(q, 0));
			srv_sql_done(s, q);
		}
		srv_unlock(s);
		own_delete = owner_of[0] != 0;
	}
	if (!own_delete && !reprov)
		return true;
	const char *told[SRV_MAX_OPS];
	size_t n_told = 0;
	bool all = true;
	size_t n = own_delete ? 1 : json_array_size(del);
	for (size_t i = 0; i < n; i++) {
		const char *owner = own_delete ? (owner_of[0] ? owner_of : issuer)
					       : json_string_value(json_object_get(json_array_get(del, i), "owner"));
		bool seen = !owner;
		for (size_t k = 0; k < n_told && !seen; k++)
			seen = !strcmp(told[k], owner);
		if (seen || n_told == SRV_MAX_OPS)
			continue;
		told[n_told++] = owner;
		char peer[40];
		snprintf(peer, sizeof peer, "sho.%s", owner);
		int st = 0;
		json_t *a = NULL;
		omc_err e = srv_call(s, s->ro_key, s->ro_cert, "POST", srv_peer(s, peer), "/v1/deletions",
				     json_pack("{s:s}", "result", res), &st, &a);
		json_decref(a);
		if (e != OMC_OK || st != 200) {
			OMC_LOG_WRN("dpf", "deletion receipt not taken by %s (%d)", peer, e == OMC_OK ? st : 0);
			all = false;
		}
	}
	return all;
}

/* Whether a command refused without a result is the RO's owner-bound
 * reprovision (*owner its owner). */
static bool requeue_of(const char *issuer, const char *command, char owner[SRV_NAME_MAX])
{
	uint8_t *pl = NULL;
	size_t pn = 0;
	json_t *p = NULL;
	json_error_t je;
	if (strcmp(issuer, "ro") != 0 || !command || omc_jws_peek(&pl, &pn, command, strlen(command)) != OMC_OK)
		return false;
	p = omc_json_loadb((const char *)pl, pn, 0, &je);
	omc_free(pl);
	const char *cmd = json_string_value(json_object_get(p, "cmd"));
	const char *own = json_string_value(json_object_get(p, "owner"));
	bool yes = cmd && !strcmp(cmd, "reprovision") && own && strlen(own) < SRV_NAME_MAX;
	if (yes)
		snprintf(owner, SRV_NAME_MAX, "%s", own);
	json_decref(p);
	return yes;
}

/* A device reports on a command: the TRE's signed result, or the error
 * of a TRE that refused it without one (a replay, a bad signature). The
 * RO's reprovision results go on to the old SHOs; until each has taken
 * its receipt the command stays `answered` and the device sends it again. */
static void cmd_result(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	int64_t id = 0;
	bool has_id = b && srv_int(l, resp, b, "id", 1, INT64_MAX, &id);
	const char *res = NULL, *err = NULL;
	if (has_id && json_object_get(b, "error") && !json_object_get(b, "result"))
		err = srv_str(l, resp, b, "error", 1, 64);
	else if (has_id)
		res = srv_str(l, resp, b, "result", 16, 64 * 1024);
	if (!res && !err) {
		json_decref(b);
		return;
	}
	char cn[64] = "";
	json_t *claims = NULL;
	if (res && !srv_tre_signed(s, res, strlen(res), "omc-command-result+jwt", &claims, cn)) {
		json_decref(claims);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature", "the result is not signed by a TRE");
		return;
	}
	if (err && !tre_of_session(s, &ss, cn)) {
		json_decref(b);
		srv_fail(l, resp, 404, "unknown_command", "no open command of this TRE has that id");
		return;
	}
	omc_dbs *q;
	bool ok = false, requeue = false;
	char issuer[SRV_NAME_MAX] = "", owner[SRV_NAME_MAX] = "";
	srv_lock(s);
	if (srv_sql(s, &q,
		    "UPDATE dpf_command SET state = ?4, result = ?3 WHERE id = ?1 AND tre_id = ?2"
		    " AND state IN ('queued', 'fetched', 'answered') RETURNING issuer, command") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)id);
		omc_dbs_bind_text(q, 2, cn, -1);
		omc_dbs_bind_text(q, 3, res ? res : err, -1);
		omc_dbs_bind_text(q, 4, res ? "answered" : "rejected", -1);
		if (omc_dbs_step(q) == OMC_DB_ROW) {
			ok = true;
			snprintf(issuer, sizeof issuer, "%s", (const char *)omc_dbs_column_text(q, 0));
			if (err)
				requeue = requeue_of(issuer, (const char *)omc_dbs_column_text(q, 1), owner);
		}
		srv_sql_done(s, q);
	}
	if (ok && err)
		srv_audit(s, "dpf", "device", "command_result", cn, "refused", err);
	/* The RO's reprovision refused without a result: the TRE applied it
	 * and the device lost the result (a crash between the two), or it was
	 * replayed. Sent again under a new number, it names the old SHO's
	 * tombstones, and that SHO gets its receipt after all. Three times at
	 * most in a row: the budget counts the RO's commands refused since the
	 * TRE last carried one out (answered or done), not in the TRE's whole
	 * life, or refusals of past changes (lost results, commands void after
	 * 30 days offline) would strand the device at its next change: kept by
	 * the old SHO while the DRF names the new one (model/README.md). */
	if (requeue) {
		int64_t nid = 0;
		long tries = 0;
		if (srv_sql(s, &q,
			    "SELECT count(*) FROM dpf_command WHERE tre_id = ?1 AND issuer = 'ro' AND state = 'rejected'"
			    " AND id > (SELECT coalesce(max(id), 0) FROM dpf_command WHERE tre_id = ?1 AND issuer = 'ro'"
			    " AND state IN ('answered', 'done'))") == OMC_OK) {
			omc_dbs_bind_text(q, 1, cn, -1);
			if (omc_dbs_step(q) == OMC_DB_ROW)
				tries = (long)omc_dbs_column_int64(q, 0);
			srv_sql_done(s, q);
		}
		requeue = tries <= 3 && srv_begin(s);
		if (requeue && srv_ro_command(s, cn, "reprovision", owner, NULL, &nid) == OMC_OK) {
			requeue = srv_commit(s);
		} else if (requeue) {
			srv_rollback(s);
			requeue = false;
		}
	}
	srv_unlock(s);
	if (!ok || err) {
		json_decref(claims);
		json_decref(b); /* res and err live in b */
		if (!ok)
			srv_fail(l, resp, 404, "unknown_command", "no open command of this TRE has that id");
		else
			srv_reply(l, resp, 200,
				  json_pack("{s:I,s:s,s:b}", "id", (json_int_t)id, "state", "rejected", "requeued", requeue));
		return;
	}
	bool passed = pass_deletions(s, issuer, res, claims);
	json_decref(claims);
	json_decref(b);
	if (!passed) {
		srv_fail(l, resp, 502, "peer_unavailable", "an old SHO has not taken its deletion receipt: send it again");
		return;
	}
	/* Not recorded done: 500, and the device sends the result again. */
	bool done = false;
	srv_lock(s);
	if (srv_sql(s, &q, "UPDATE dpf_command SET state = 'done' WHERE id = ?1 AND state = 'answered'") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)id);
		done = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (!done) {
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	srv_reply(l, resp, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "done"));
}

/* The end of a direct change's trial, signed by the TRE (the result of the
 * RO's `switch`, result "ok" or "rolled_back"): the MCIMs it erased are
 * passed on to their SHOs as deletion receipts; the DRF keeps the device
 * with the SHO it ended with. */
static void switch_end(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *st = b ? srv_str(l, resp, b, "statement", 16, 64 * 1024) : NULL;
	if (!st) {
		json_decref(b);
		return;
	}
	json_t *c = NULL;
	char cn[64];
	bool sig = srv_tre_signed(s, st, strlen(st), "omc-command-result+jwt", &c, cn);
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *cmd = json_string_value(json_object_get(c, "cmd"));
	const char *r = json_string_value(json_object_get(c, "result"));
	const char *tre = json_string_value(json_object_get(c, "tre"));
	bool rolled = r && !strcmp(r, "rolled_back");
	if (!sig || !iss || strcmp(iss, "ro") != 0 || !cmd || strcmp(cmd, "switch") != 0 || !tre || strcmp(tre, cn) != 0 ||
	    !r || (strcmp(r, "ok") != 0 && !rolled)) {
		json_decref(c);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature", "not the end of a switch signed by the TRE it names");
		return;
	}
	/* Only the device itself: its session's TRE. */
	char stre[64];
	if (!tre_of_session(s, &ss, stre) || strcmp(stre, cn) != 0) {
		json_decref(c);
		json_decref(b);
		srv_fail(l, resp, 403, "not_yours", "the statement is not of the session's TRE");
		return;
	}
	bool passed = pass_deletions(s, "ro", st, c);
	/* Rolled back: the device stays with the SHO of the MCIM restored. Only
	 * a device still `switching`: the statement sent again after the next
	 * change was asked (`direct` or `changing`) leaves that change alone. */
	const char *back = json_string_value(json_object_get(json_array_get(json_object_get(c, "restored"), 0), "owner"));
	omc_dbs *q;
	bool recorded = false;
	srv_lock(s);
	if (passed && srv_sql(s, &q,
			      rolled && back ? "UPDATE drf_device SET sho = ?2, state = 'provisioned', updated = ?3"
					       " WHERE tre_id = ?1 AND state = 'switching'"
					     : "UPDATE drf_device SET state = 'provisioned', updated = ?3 WHERE tre_id = ?1"
					       " AND state = 'switching' AND ?2 IS NOT NULL") == OMC_OK) {
		omc_dbs_bind_text(q, 1, cn, -1);
		omc_dbs_bind_text(q, 2, back ? back : "", -1);
		omc_dbs_bind_int64(q, 3, (int64_t)srv_now(s));
		recorded = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
		if (recorded)
			srv_audit(s, "dpf", "device", "switch", cn, "ok", rolled ? "rolled back" : "confirmed");
	}
	srv_unlock(s);
	json_decref(c);
	json_decref(b);
	if (!passed) {
		srv_fail(l, resp, 502, "peer_unavailable", "an SHO has not taken its deletion receipt: send it again");
		return;
	}
	if (!recorded) {
		/* The DRF's device not made provisioned: the device sends it again. */
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	srv_reply(l, resp, 200, json_pack("{s:s,s:s}", "tre", cn, "state", rolled ? "rolled_back" : "confirmed"));
}

/* An issuer reads the state and the signed result of its command. */
static void cmd_status(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	const char *names[SRV_MAX_OPS + 1];
	size_t nn = issuer_names(s, names, OMC_ARRAY_LEN(names));
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, names, nn, who))
		return;
	json_t *b = srv_body(l, req, resp);
	int64_t id = 0;
	if (!b || !srv_int(l, resp, b, "id", 1, INT64_MAX, &id)) {
		json_decref(b);
		return;
	}
	json_decref(b);
	omc_dbs *q;
	json_t *out = NULL;
	srv_lock(s);
	if (srv_sql(s, &q, "SELECT state, result, tre_id FROM dpf_command WHERE id = ?1 AND issuer = ?2") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)id);
		omc_dbs_bind_text(q, 2, who, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW)
			out = json_pack("{s:I,s:s,s:s,s:s?}", "id", (json_int_t)id, "tre",
					(const char *)omc_dbs_column_text(q, 2), "state",
					(const char *)omc_dbs_column_text(q, 0), "result",
					(const char *)omc_dbs_column_text(q, 1));
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (!out) {
		srv_fail(l, resp, 404, "unknown_command", "no command of the caller has that id");
		return;
	}
	srv_reply(l, resp, 200, out);
}

void srv_routes_dpf(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/download", download);
	srv_route_add(l, "POST", "/v1/receipts", receipt);
	srv_route_add(l, "POST", "/v1/commands", cmd_queue);
	srv_route_add(l, "GET", "/v1/commands", cmd_fetch);
	srv_route_add(l, "POST", "/v1/results", cmd_result);
	srv_route_add(l, "POST", "/v1/switch", switch_end);
	srv_route_add(l, "POST", "/v1/commands/status", cmd_status);
}
