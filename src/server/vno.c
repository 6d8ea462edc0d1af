/* The VNO (NET-1, NET-3, SEC-7): attach by IMSI with the ordinary AV
 * request to the home AuC, chosen by the IMSI's MCC and MNC (no new
 * function in the VNO for PCIDs: they are the ICO's subscribers); AKA with
 * the device (RES against XRES, or AUTS for a resynchronisation); a
 * session. A PCID's session reaches only the provisioning services; an
 * operational one carries the MCIM's service profile (data only, volume
 * cap), enforced and counted here. */
#include <string.h>

#include <openssl/evp.h>

#include "server/server_internal.h"

static bool sha256(uint8_t out[32], const uint8_t *p, size_t n)
{
	unsigned len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1;
}

static void attach(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	const char *imsi = srv_str(l, resp, b, "imsi", 6, 15);
	if (imsi && !srv_digits(imsi, 6, 15)) {
		srv_fail(l, resp, 400, "bad_request", "member imsi: 6 to 15 digits");
		imsi = NULL;
	}
	srv_op *home = imsi ? srv_op_for_imsi(s, imsi) : NULL;
	char peer[80];
	if (imsi && !home)
		srv_fail(l, resp, 404, "unknown_network", "no home network for this IMSI");
	if (!home) {
		json_decref(b);
		return;
	}
	int st = 0;
	json_t *a = NULL;
	omc_err e = srv_vno_vectors(s, home, imsi, &st, &a, peer, sizeof peer);
	if (e != OMC_OK || st != 200) {
		srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, peer);
		json_decref(a);
		json_decref(b);
		return;
	}
	json_t *v = json_array_get(json_object_get(a, "vectors"), 0);
	const char *rand_h = json_string_value(json_object_get(v, "rand"));
	const char *autn_h = json_string_value(json_object_get(v, "autn"));
	const char *xres_h = json_string_value(json_object_get(v, "xres"));
	json_t *prof = json_object_get(a, "profile");
	bool provisional = json_is_true(json_object_get(a, "provisional"));
	uint8_t rand[16], xres[32], xh[32];
	size_t xl = 0;
	char id[48];
	bool ok = rand_h && autn_h && xres_h && omc_hex_decode(rand, 16, rand_h, strlen(rand_h)) == OMC_OK &&
		  omc_hex_decode_var(xres, sizeof xres, &xl, xres_h, strlen(xres_h)) == OMC_OK && xl >= 4 &&
		  sha256(xh, xres, xl) && srv_token_new(id) == OMC_OK;
	omc_memzero(xres, sizeof xres);
	json_t *pj = ok ? json_pack("{s:b,s:b,s:I}", "provisional", provisional, "data_only",
				    json_is_true(json_object_get(prof, "data_only")), "volume_cap",
				    (json_int_t)json_integer_value(json_object_get(prof, "volume_cap")))
			: NULL;
	char *ps = pj ? omc_json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(pj);
	if (!ok) {
		omc_free(ps);
		json_decref(a);
		json_decref(b);
		srv_fail(l, resp, 502, "peer_unavailable", "the home AuC gave no usable vector");
		return;
	}
	omc_dbs *q;
	srv_lock(s);
	if (srv_sql(s, &q,
		    "INSERT INTO vno_attach (id, imsi, home, rand, xres_hash, profile, created)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") == OMC_OK) {
		omc_dbs_bind_text(q, 1, id, -1);
		omc_dbs_bind_text(q, 2, imsi, -1);
		omc_dbs_bind_text(q, 3, home->name, -1);
		omc_dbs_bind_blob(q, 4, rand, 16);
		omc_dbs_bind_blob(q, 5, xh, 32);
		omc_dbs_bind_text(q, 6, ps, -1);
		omc_dbs_bind_int64(q, 7, (int64_t)srv_now(s));
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	} else {
		ok = false;
	}
	/* Challenges nobody answered within their 5 minutes can go. */
	if (ok && srv_sql(s, &q, "DELETE FROM vno_attach WHERE created < ?1") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)(srv_now(s) - 300));
		(void)omc_dbs_step(q);
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (ok)
		srv_link_offer(s, id, imsi, json_string_value(json_object_get(v, "ck")),
			       json_string_value(json_object_get(v, "ik")), autn_h);
	json_t *out = ok ? json_pack("{s:s,s:s,s:s,s:s,s:s}", "attach", id, "rand", rand_h, "autn", autn_h, "home",
				     home->name, "serving_network", s->vno_plmn)
			 : NULL;
	omc_free(ps);
	json_decref(a);
	json_decref(b);
	if (!out) {
		srv_fail(l, resp, 500, "internal", "attach not recorded");
		return;
	}
	srv_reply(l, resp, 200, out);
}

typedef struct attach_row {
	char imsi[16], home[SRV_NAME_MAX];
	uint8_t rand[16], xres_hash[32];
	char profile[160];
	int64_t created;
} attach_row;

/* Take (read and delete) an attach: each challenge is answered once. */
static bool take_attach(omc_server *s, const char *id, attach_row *r)
{
	omc_dbs *q;
	bool ok = false;
	srv_lock(s);
	if (srv_begin(s)) {
		if (srv_sql(s, &q, "SELECT imsi, home, rand, xres_hash, profile, created FROM vno_attach WHERE id = ?1") ==
		    OMC_OK) {
			omc_dbs_bind_text(q, 1, id, -1);
			if (omc_dbs_step(q) == OMC_DB_ROW && omc_dbs_column_bytes(q, 2) == 16 &&
			    omc_dbs_column_bytes(q, 3) == 32) {
				snprintf(r->imsi, sizeof r->imsi, "%s", (const char *)omc_dbs_column_text(q, 0));
				snprintf(r->home, sizeof r->home, "%s", (const char *)omc_dbs_column_text(q, 1));
				memcpy(r->rand, omc_dbs_column_blob(q, 2), 16);
				memcpy(r->xres_hash, omc_dbs_column_blob(q, 3), 32);
				snprintf(r->profile, sizeof r->profile, "%s", (const char *)omc_dbs_column_text(q, 4));
				r->created = (int64_t)omc_dbs_column_int64(q, 5);
				ok = true;
			}
			srv_sql_done(s, q);
		}
		if (ok && srv_sql(s, &q, "DELETE FROM vno_attach WHERE id = ?1") == OMC_OK) {
			omc_dbs_bind_text(q, 1, id, -1);
			ok = omc_dbs_step(q) == OMC_DB_DONE;
			srv_sql_done(s, q);
		}
		if (ok)
			ok = srv_commit(s);
		else
			srv_rollback(s);
	}
	srv_unlock(s);
	/* A challenge lives 5 minutes. */
	return ok && r->created + 300 >= srv_now(s);
}

static void complete(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	const char *id = srv_str(l, resp, b, "attach", 16, 64);
	const char *res_h = id ? srv_str(l, resp, b, "res", 8, 64) : NULL;
	uint8_t res[32], rh[32];
	size_t rl = 0;
	attach_row r;
	if (res_h && omc_hex_decode_var(res, sizeof res, &rl, res_h, strlen(res_h)) != OMC_OK) {
		srv_fail(l, resp, 400, "bad_request", "member res: 4 to 32 bytes in hex");
		res_h = NULL;
	}
	if (res_h && !take_attach(s, id, &r)) {
		srv_fail(l, resp, 404, "unknown_attach", "no such challenge (answered already, or too old)");
		res_h = NULL;
	}
	bool match = res_h && sha256(rh, res, rl) && omc_ct_eq(rh, r.xres_hash, 32);
	omc_memzero(res, sizeof res);
	if (res_h && !match) {
		srv_lock(s);
		srv_audit(s, "vno", "device", "attach", r.imsi, "refused", "RES does not match XRES");
		srv_unlock(s);
		srv_fail(l, resp, 401, "auth_failed", "RES does not match");
	}
	if (!match) {
		if (res_h)
			srv_link_bind(s, id, NULL, 0); /* the challenge was taken */
		json_decref(b);
		return;
	}
	json_error_t je;
	json_t *prof = omc_json_loads(r.profile, 0, &je);
	bool provisional = json_is_true(json_object_get(prof, "provisional"));
	bool data_only = json_is_true(json_object_get(prof, "data_only"));
	json_int_t cap = json_integer_value(json_object_get(prof, "volume_cap"));
	json_decref(prof);
	const char *scope = provisional ? "provisioning" : "operational";
	char tok[48];
	uint8_t th[32];
	int64_t now = srv_now(s), exp = now + s->session_lifetime;
	bool ok = srv_token_new(tok) == OMC_OK && srv_token_hash(th, tok) == OMC_OK;
	omc_dbs *q;
	srv_lock(s);
	if (ok && srv_sql(s, &q,
			  "INSERT INTO vno_session (token_hash, imsi, home, scope, data_only, volume_cap, used,"
			  " created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)") == OMC_OK) {
		omc_dbs_bind_blob(q, 1, th, 32);
		omc_dbs_bind_text(q, 2, r.imsi, -1);
		omc_dbs_bind_text(q, 3, r.home, -1);
		omc_dbs_bind_text(q, 4, scope, -1);
		omc_dbs_bind_int64(q, 5, data_only);
		omc_dbs_bind_int64(q, 6, (int64_t)(cap > 0 ? cap : 0));
		omc_dbs_bind_int64(q, 7, (int64_t)now);
		omc_dbs_bind_int64(q, 8, (int64_t)exp);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	} else {
		ok = false;
	}
	if (ok)
		srv_audit(s, "vno", "device", "attach", r.imsi, "ok", scope);
	srv_unlock(s);
	srv_link_bind(s, id, ok ? th : NULL, exp);
	json_decref(b);
	if (!ok) {
		srv_fail(l, resp, 500, "internal", "session not recorded");
		return;
	}
	srv_reply(l, resp, 200,
		  json_pack("{s:s,s:s,s:s,s:I,s:{s:b,s:I}}", "session", tok, "scope", scope, "imsi", r.imsi, "expires",
			    (json_int_t)exp, "profile", "data_only", data_only, "volume_cap", cap > 0 ? cap : 0));
	omc_memzero(tok, sizeof tok);
}

static void resync(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	const char *id = srv_str(l, resp, b, "attach", 16, 64);
	const char *auts = id ? srv_str(l, resp, b, "auts", 28, 76) : NULL;
	attach_row r;
	uint8_t ab[38];
	size_t al = 0;
	/* Checked before the challenge is taken: a malformed request uses nothing up. */
	if (auts && omc_hex_decode_var(ab, sizeof ab, &al, auts, strlen(auts)) != OMC_OK) {
		srv_fail(l, resp, 400, "bad_request", "member auts: 14 to 38 bytes in hex");
		auts = NULL;
	}
	if (auts && !take_attach(s, id, &r)) {
		srv_fail(l, resp, 404, "unknown_attach", "no such challenge (answered already, or too old)");
		auts = NULL;
	}
	if (auts)
		srv_link_bind(s, id, NULL, 0);
	if (!auts) {
		json_decref(b);
		return;
	}
	char rand_h[33], peer[80] = "the home AuC";
	int st = 0;
	json_t *a = NULL;
	omc_err e = omc_hex_encode(rand_h, sizeof rand_h, r.rand, 16);
	if (e == OMC_OK)
		e = srv_vno_resync(s, r.home, r.imsi, rand_h, auts, &st, &a, peer, sizeof peer);
	json_decref(b);
	if (e != OMC_OK || st != 200) {
		srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, peer);
		json_decref(a);
		return;
	}
	bool moved = json_is_true(json_object_get(a, "moved"));
	json_decref(a);
	srv_reply(l, resp, 200, json_pack("{s:b}", "moved", moved));
}

bool srv_vno_operational(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, srv_session *ss)
{
	if (!srv_auth_session(l, req, resp, ss))
		return false;
	if (strcmp(ss->scope, "operational") != 0) {
		srv_fail(l, resp, 403, "provisioning_only", "a PCID session reaches the provisioning services only");
		return false;
	}
	return true;
}

bool srv_vno_count(srv_listener *l, omc_http_resp *resp, const srv_session *ss, int64_t n, uint64_t *used)
{
	omc_server *s = l->s;
	omc_dbs *q;
	bool ok = false, capped = false;
	srv_lock(s);
	if (srv_sql(s, &q,
		    "UPDATE vno_session SET used = used + ?1 WHERE token_hash = ?2"
		    " AND (volume_cap = 0 OR used + ?1 <= volume_cap) RETURNING used") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)n);
		omc_dbs_bind_blob(q, 2, ss->token_hash, 32);
		int rc = omc_dbs_step(q);
		ok = rc == OMC_DB_ROW;
		capped = rc == OMC_DB_DONE;
		if (ok)
			*used = (uint64_t)omc_dbs_column_int64(q, 0);
		srv_sql_done(s, q);
	}
	if (capped)
		srv_audit(s, "vno", "device", "data", ss->imsi, "refused", "volume cap reached");
	srv_unlock(s);
	if (capped)
		srv_fail(l, resp, 403, "volume_cap", "the service profile's volume cap is reached");
	else if (!ok)
		srv_fail(l, resp, 500, "internal", "usage not counted");
	return ok;
}

static void data(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	srv_session ss;
	if (!srv_vno_operational(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	int64_t n = 0;
	if (!b || !srv_int(l, resp, b, "bytes", 1, INT64_C(1) << 40, &n)) {
		json_decref(b);
		return;
	}
	json_decref(b);
	uint64_t used = 0;
	if (!srv_vno_count(l, resp, &ss, n, &used))
		return;
	srv_reply(l, resp, 200, json_pack("{s:I,s:I}", "used", (json_int_t)used, "volume_cap", (json_int_t)ss.volume_cap));
}

static void sms(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	if (strcmp(ss.scope, "operational") != 0)
		srv_fail(l, resp, 403, "provisioning_only", "a PCID session reaches the provisioning services only");
	else if (ss.data_only)
		srv_fail(l, resp, 403, "data_only", "the service profile allows data only");
	else
		srv_reply(l, resp, 200, json_pack("{s:b}", "accepted", true));
}

static void session(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	srv_reply(l, resp, 200,
		  json_pack("{s:s,s:s,s:s,s:b,s:I,s:I}", "imsi", ss.imsi, "home", ss.home, "scope", ss.scope, "data_only",
			    ss.data_only, "volume_cap", (json_int_t)ss.volume_cap, "used", (json_int_t)ss.used));
}

void srv_routes_vno(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/attach", attach);
	srv_route_add(l, "POST", "/v1/attach/complete", complete);
	srv_route_add(l, "POST", "/v1/attach/resync", resync);
	srv_route_add(l, "GET", "/v1/session", session);
	srv_route_add(l, "POST", "/v1/data", data);
	srv_route_add(l, "POST", "/v1/sms", sms);
	srv_routes_vno_link(l);
}
