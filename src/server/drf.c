/* The DRF of the registration operator (SVC-1, TRE-6, EVAL-3): an SHO
 * tells it which devices (by platform identity) a subscriber registered
 * with it; a device registers with its PCID session and a TRE signature
 * (evidence over a nonce made of its PCID IMSI and the time) and learns
 * its SHO and the provisioning endpoints, or `pending`. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "openmcim/tre.h"
#include "server/server_internal.h"

omc_err srv_drf_sho_of(omc_server *s, const char *platform_id, char sho[SRV_NAME_MAX], char state[16])
{
	omc_dbs *q;
	OMC_TRY(srv_sql(s, &q, "SELECT sho, state FROM drf_device WHERE platform_id = ?1"));
	omc_dbs_bind_text(q, 1, platform_id, -1);
	int rc = omc_dbs_step(q);
	if (rc == OMC_DB_ROW) {
		snprintf(sho, SRV_NAME_MAX, "%s", (const char *)omc_dbs_column_text(q, 0));
		snprintf(state, 16, "%s", (const char *)omc_dbs_column_text(q, 1));
	}
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_ROW, rc == OMC_DB_DONE ? OMC_ERR_NOT_FOUND : omc_db_err(rc));
	return OMC_OK;
}

/* The SHOs of the config may register devices. */
static size_t sho_names(omc_server *s, const char **names, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_ops && n < cap; i++)
		if (!s->ops[i].ico)
			names[n++] = s->ops[i].name;
	return n;
}

static bool platform_id_ok(const char *p)
{
	return p && strlen(p) == 21 && !strncmp(p, "plat-", 5) && strspn(p + 5, "0123456789abcdef") == 16;
}

/* CHG-1: the device moves to SHO `to` (caller in a transaction, holding
 * the lock). A device the DRF has seen register (its TRE is known) gets
 * the RO's signed `reprovision` naming the old SHO, queued at the DPF: its
 * TRE erases the old SHO's MCIMs, returns to pristine and provisions
 * again, now with `to`. *queued says whether a command went out. */
static omc_err change(omc_server *s, const char *plat, const char *from, const char *to, bool direct, bool *queued)
{
	*queued = false;
	omc_dbs *q;
	char tre[64] = "";
	OMC_TRY(srv_sql(s, &q, "SELECT tre_id FROM drf_device WHERE platform_id = ?1 AND tre_id IS NOT NULL"));
	omc_dbs_bind_text(q, 1, plat, -1);
	if (omc_dbs_step(q) == OMC_DB_ROW)
		snprintf(tre, sizeof tre, "%s", (const char *)omc_dbs_column_text(q, 0));
	srv_sql_done(s, q);
	OMC_TRY(srv_sql(s, &q, "UPDATE drf_device SET sho = ?2, state = ?3, updated = ?4 WHERE platform_id = ?1"));
	omc_dbs_bind_text(q, 1, plat, -1);
	omc_dbs_bind_text(q, 2, to, -1);
	/* Direct (SGP.02/SGP.32 style): the device downloads the new SHO's MCIM
	 * over the old one's connectivity, told so with its commands. */
	omc_dbs_bind_text(q, 3, !tre[0] ? "assigned" : direct ? "direct" : "changing", -1);
	omc_dbs_bind_int64(q, 4, (int64_t)srv_now(s));
	int rc = omc_dbs_step(q);
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_DONE, omc_db_err(rc));
	char d[64];
	snprintf(d, sizeof d, "from %s to %s", from, to);
	srv_audit(s, "drf", to, "change", plat, "ok", d);
	if (!tre[0] || direct) {
		*queued = direct && tre[0];
		return OMC_OK;
	}
	int64_t id = 0;
	OMC_TRY(srv_ro_command(s, tre, "reprovision", from, NULL, &id));
	*queued = true;
	return OMC_OK;
}

/* A fresh transfer code for the device (caller in a transaction, holding
 * the lock): only its hash is kept; the code goes to the SHO, which gives
 * it to the subscriber. Whoever shows it may move the device to another
 * SHO (CHG-1), after which the code changes. */
static omc_err new_transfer_code(omc_server *s, const char *plat, char code[48])
{
	uint8_t h[32];
	OMC_TRY(srv_token_new(code));
	omc_err e = srv_token_hash(h, code);
	omc_dbs *q;
	if (e == OMC_OK)
		e = srv_sql(s, &q, "UPDATE drf_device SET transfer_hash = ?2 WHERE platform_id = ?1");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, plat, -1);
		omc_dbs_bind_blob(q, 2, h, 32);
		e = omc_dbs_step(q) == OMC_DB_DONE ? OMC_OK : OMC_ERR_IO;
		srv_sql_done(s, q);
	}
	omc_memzero(h, sizeof h);
	return e;
}

/* Whether code is the device's transfer code (caller holds the lock). */
static bool transfer_code_ok(omc_server *s, const char *plat, const char *code)
{
	uint8_t h[32];
	omc_dbs *q;
	bool ok = false;
	if (!code || srv_token_hash(h, code) != OMC_OK)
		return false;
	if (srv_sql(s, &q, "SELECT transfer_hash FROM drf_device WHERE platform_id = ?1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, plat, -1);
		ok = omc_dbs_step(q) == OMC_DB_ROW && omc_dbs_column_bytes(q, 0) == 32 &&
		     omc_ct_eq(omc_dbs_column_blob(q, 0), h, 32);
		srv_sql_done(s, q);
	}
	omc_memzero(h, sizeof h);
	return ok;
}

static void assign(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	const char *names[SRV_MAX_OPS];
	size_t n = sho_names(s, names, SRV_MAX_OPS);
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, names, n, who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *plat = b ? srv_str(l, resp, b, "platform_id", 21, 21) : NULL;
	if (plat && !platform_id_ok(plat)) {
		srv_fail(l, resp, 400, "bad_request", "member platform_id: plat- and 16 hex digits");
		plat = NULL;
	}
	if (!plat) {
		json_decref(b);
		return;
	}
	const json_t *cj = json_object_get(b, "change");
	if (cj && !json_is_boolean(cj)) {
		json_decref(b);
		srv_fail(l, resp, 400, "bad_request", "member change: a boolean");
		return;
	}
	const json_t *dj = json_object_get(b, "direct");
	if (dj && !json_is_boolean(dj)) {
		json_decref(b);
		srv_fail(l, resp, 400, "bad_request", "member direct: a boolean");
		return;
	}
	const json_t *tj = json_object_get(b, "transfer_code");
	if (tj && (!json_is_string(tj) || strlen(json_string_value(tj)) > 64)) {
		json_decref(b);
		srv_fail(l, resp, 400, "bad_request", "member transfer_code: a string of at most 64 characters");
		return;
	}
	bool want_change = json_is_true(cj), direct = json_is_true(dj), queued = false, bad_code = false;
	char code[48] = "";
	char sho[SRV_NAME_MAX] = "", state[16] = "";
	int status = 500;
	srv_lock(s);
	if (srv_begin(s)) {
		omc_err e = srv_drf_sho_of(s, plat, sho, state);
		omc_dbs *q;
		if (e == OMC_ERR_NOT_FOUND && srv_sql(s, &q,
						       "INSERT INTO drf_device (platform_id, sho, state, updated)"
						       " VALUES (?1, ?2, 'assigned', ?3)") == OMC_OK) {
			omc_dbs_bind_text(q, 1, plat, -1);
			omc_dbs_bind_text(q, 2, who, -1);
			omc_dbs_bind_int64(q, 3, (int64_t)srv_now(s));
			status = omc_dbs_step(q) == OMC_DB_DONE ? 201 : 500;
			srv_sql_done(s, q);
			snprintf(state, sizeof state, "assigned");
			if (status == 201 && new_transfer_code(s, plat, code) != OMC_OK)
				status = 500;
		} else if (e == OMC_OK && strcmp(sho, who) != 0 && want_change &&
			   !transfer_code_ok(s, plat, json_string_value(tj))) {
			/* Only the device's subscriber, who holds its code, moves it. */
			status = 403;
			bad_code = true;
		} else if (e == OMC_OK && strcmp(sho, who) != 0 && want_change) {
			status = change(s, plat, sho, who, direct, &queued) == OMC_OK &&
					 new_transfer_code(s, plat, code) == OMC_OK
				 ? 202
				 : 500;
			snprintf(state, sizeof state, "%s", !queued ? "assigned" : direct ? "direct" : "changing");
		} else if (e == OMC_OK) {
			status = strcmp(sho, who) == 0 ? 200 : 409;
			/* Asked again by its SHO: nothing changes, unless it asks for a
			 * new code (a subscriber who lost it; the old one is void). */
			if (status == 200 && json_is_true(json_object_get(b, "new_transfer_code")) &&
			    new_transfer_code(s, plat, code) != OMC_OK)
				status = 500;
		}
		if (status == 201)
			srv_audit(s, "drf", who, "assign", plat, "ok", "device registered with this SHO");
		else if (status == 409)
			srv_audit(s, "drf", who, "assign", plat, "refused", "registered with another SHO");
		if (bad_code) {
			srv_rollback(s);
			srv_audit(s, "drf", who, "change", plat, "refused", "no valid transfer code");
		} else if (status >= 200 && status <= 202 && !srv_commit(s)) {
			status = 500;
		} else if (status > 202) {
			srv_rollback(s);
		}
	}
	srv_unlock(s);
	if (status == 403)
		srv_fail(l, resp, 403, "bad_transfer_code",
			 "moving a device needs its transfer code, which its present SHO gave its subscriber");
	else if (status == 409)
		srv_fail(l, resp, 409, "assigned_elsewhere",
			 "the device is registered with another SHO (ask with change: true to move it)");
	else if (status == 500)
		srv_fail(l, resp, 500, "internal", "not recorded");
	else
		srv_reply(l, resp, status,
			  json_pack("{s:s,s:s,s:s,s:s}", "platform_id", plat, "sho", who, "state", state, "transfer_code",
				    code));
	omc_memzero(code, sizeof code);
	json_decref(b); /* plat lives in b */
}

/* The nonce of a registration's evidence: SHA-256 of
 * "omc/drf/v1/register" 0x00 IMSI 0x00 TIME (decimal). */
omc_err omc_drf_nonce(uint8_t out[32], const char *imsi, int64_t t)
{
	OMC_ENSURE(out && imsi, OMC_ERR_BAD_ARG);
	char in[96];
	int n = snprintf(in, sizeof in, "omc/drf/v1/register%c%s%c%lld", 0, imsi, 0, (long long)t);
	unsigned len = 0;
	OMC_ENSURE(n > 0 && (size_t)n < sizeof in, OMC_ERR_BAD_ARG);
	OMC_ENSURE(EVP_Digest(in, (size_t)n, out, &len, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

static void reg(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	if (strcmp(ss.scope, "provisioning") != 0) {
		srv_fail(l, resp, 403, "not_pcid", "registration is made with the PCID's session");
		return;
	}
	json_t *b = srv_body(l, req, resp);
	int64_t t = 0, now = srv_now(s);
	const char *ev = b ? srv_str(l, resp, b, "evidence", 16, 256 * 1024) : NULL;
	if (ev && !srv_int(l, resp, b, "time", 0, INT64_MAX, &t))
		ev = NULL;
	if (!ev) {
		json_decref(b);
		return;
	}
	if (t < now - 300 || t > now + 300) {
		json_decref(b);
		srv_fail(l, resp, 403, "stale", "member time: within 300 s of the DRF's clock");
		return;
	}
	uint8_t nonce[32];
	omc_evidence e;
	memset(&e, 0, sizeof e);
	if (omc_drf_nonce(nonce, ss.imsi, t) != OMC_OK ||
	    omc_evidence_verify(&e, ev, strlen(ev), (const omc_cert *const *)s->m2mes_ca, s->n_m2mes_ca, nonce, 32,
				(time_t)now) != OMC_OK) {
		omc_evidence_free(&e);
		json_decref(b);
		srv_lock(s);
		srv_audit(s, "drf", "device", "register", ss.imsi, "refused", "bad TRE signature");
		srv_unlock(s);
		srv_fail(l, resp, 403, "bad_signature", "the evidence does not verify for this session and time");
		return;
	}
	json_decref(b);
	char sho[SRV_NAME_MAX] = "", state[16] = "";
	bool ok = false, known = false;
	srv_lock(s);
	omc_dbs *q;
	if (srv_begin(s)) {
		ok = srv_sql(s, &q,
			     "INSERT INTO drf_seen (platform_id, tre_id, pcid_imsi, updated) VALUES (?1, ?2, ?3, ?4)"
			     " ON CONFLICT (platform_id) DO UPDATE SET tre_id = ?2, pcid_imsi = ?3, updated = ?4") == OMC_OK;
		if (ok) {
			omc_dbs_bind_text(q, 1, e.platform_id, -1);
			omc_dbs_bind_text(q, 2, e.tre_id, -1);
			omc_dbs_bind_text(q, 3, ss.imsi, -1);
			omc_dbs_bind_int64(q, 4, (int64_t)now);
			ok = omc_dbs_step(q) == OMC_DB_DONE;
			srv_sql_done(s, q);
		}
		omc_err er = ok ? srv_drf_sho_of(s, e.platform_id, sho, state) : OMC_ERR_IO;
		known = er == OMC_OK;
		ok = ok && (known || er == OMC_ERR_NOT_FOUND);
		if (ok && known &&
		    srv_sql(s, &q,
			    "UPDATE drf_device SET tre_id = ?2, pcid_imsi = ?3, updated = ?4,"
			    " state = CASE state WHEN 'assigned' THEN 'registered' ELSE state END"
			    " WHERE platform_id = ?1") == OMC_OK) {
			omc_dbs_bind_text(q, 1, e.platform_id, -1);
			omc_dbs_bind_text(q, 2, e.tre_id, -1);
			omc_dbs_bind_text(q, 3, ss.imsi, -1);
			omc_dbs_bind_int64(q, 4, (int64_t)now);
			ok = omc_dbs_step(q) == OMC_DB_DONE;
			srv_sql_done(s, q);
		}
		if (ok)
			srv_audit(s, "drf", "device", "register", e.platform_id, "ok", known ? sho : "pending");
		if (ok)
			ok = srv_commit(s);
		else
			srv_rollback(s);
	}
	srv_unlock(s);
	omc_evidence_free(&e);
	if (!ok) {
		srv_fail(l, resp, 500, "internal", "registration not recorded");
		return;
	}
	if (!known) {
		srv_reply(l, resp, 202, json_pack("{s:s,s:i}", "status", "pending", "retry_after", 30));
		return;
	}
	const char *pva = srv_peer(s, "pva"), *dpf = srv_peer(s, "dpf");
	srv_reply(l, resp, 200,
		  json_pack("{s:s,s:s,s:s,s:s}", "status", "assigned", "sho", sho, "pva", pva ? pva : "", "dpf",
			    dpf ? dpf : ""));
}

void srv_routes_drf(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/devices", assign);
	srv_route_add(l, "POST", "/v1/register", reg);
}
