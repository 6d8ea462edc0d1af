/* The PVA (SEC-8, TRE-7, EVAL-1, EVAL-2): single-use, short-lived nonces;
 * the TRE's evidence checked (chain to one of the trusted M2MES CAs,
 * signature, nonce), then its policy: not locked down, the platform's own
 * check passed, every measurement equal to a reference value of the model,
 * boot count and store generation never lower than last time for this
 * TRE, and a session key to download to. A pass earns a signed validation
 * token (omc-validation+jwt); every refusal has its own code. */
#include <string.h>

#include <openssl/evp.h>

#include "openmcim/tre.h"
#include "server/server_internal.h"

static void nonce(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	char nb[48];
	int64_t exp = 0;
	if (srv_nonce_new(s, false, ss.imsi, s->nonce_lifetime, nb, &exp) != OMC_OK) {
		srv_fail(l, resp, 500, "internal", "no nonce");
		return;
	}
	srv_reply(l, resp, 201, json_pack("{s:s,s:I}", "nonce", nb, "expires", (json_int_t)exp));
}

static bool reference_ok(omc_server *s, const omc_evidence *e, const char **why, char *detail, size_t cap)
{
	omc_dbs *q;
	int64_t refs = 0;
	srv_lock(s);
	/* Reference values per model, and per software version when a row
	 * names one ("" holds for every version). */
	if (srv_sql(s, &q, "SELECT count(*) FROM pva_reference WHERE model = ?1 AND version IN ('', ?2)") == OMC_OK) {
		omc_dbs_bind_text(q, 1, e->model, -1);
		omc_dbs_bind_text(q, 2, e->sw_version, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW)
			refs = omc_dbs_column_int64(q, 0);
		srv_sql_done(s, q);
	}
	bool ok = refs > 0;
	if (!ok) {
		*why = "no_reference";
		snprintf(detail, cap, "no reference values for model %.63s version %.15s", e->model, e->sw_version);
	}
	for (size_t i = 0; ok && i < e->n_measurements; i++) {
		char h[65];
		ok = omc_hex_encode(h, sizeof h, e->measurements[i].digest, 32) == OMC_OK &&
		     srv_sql(s, &q,
			     "SELECT 1 FROM pva_reference WHERE model = ?1 AND component = ?2 AND digest = ?3"
			     " AND version IN ('', ?4)") == OMC_OK;
		if (ok) {
			omc_dbs_bind_text(q, 1, e->model, -1);
			omc_dbs_bind_text(q, 2, e->measurements[i].name, -1);
			omc_dbs_bind_text(q, 3, h, -1);
			omc_dbs_bind_text(q, 4, e->sw_version, -1);
			ok = omc_dbs_step(q) == OMC_DB_ROW;
			srv_sql_done(s, q);
		}
		if (!ok) {
			*why = "measurement_mismatch";
			snprintf(detail, cap, "component %.31s does not match a reference value", e->measurements[i].name);
		}
	}
	srv_unlock(s);
	return ok;
}

/* Counters never go down for a TRE (caller holds the lock): "" or the
 * refusal code. */
static const char *counters_check(omc_server *s, const omc_evidence *e)
{
	omc_dbs *q;
	int64_t boot = 0, gen = 0;
	if (srv_sql(s, &q, "SELECT boot_count, generation FROM pva_device WHERE tre_id = ?1") != OMC_OK)
		return "internal";
	omc_dbs_bind_text(q, 1, e->tre_id, -1);
	if (omc_dbs_step(q) == OMC_DB_ROW) {
		boot = omc_dbs_column_int64(q, 0);
		gen = omc_dbs_column_int64(q, 1);
	}
	srv_sql_done(s, q);
	if ((int64_t)e->boot_count < boot)
		return "boot_count_decreased";
	if ((int64_t)e->generation < gen)
		return "generation_decreased";
	return "";
}

/* On a pass: the counters and the token (caller holds the lock, in the
 * transaction). */
static bool record_pass(omc_server *s, const omc_evidence *e, const char *jti, int64_t now, int64_t exp)
{
	omc_dbs *q;
	bool ok = srv_sql(s, &q,
			  "INSERT INTO pva_device (tre_id, boot_count, generation, updated) VALUES (?1, ?2, ?3, ?4)"
			  " ON CONFLICT (tre_id) DO UPDATE SET boot_count = ?2, generation = ?3, updated = ?4") == OMC_OK;
	if (ok) {
		omc_dbs_bind_text(q, 1, e->tre_id, -1);
		omc_dbs_bind_int64(q, 2, (int64_t)e->boot_count);
		omc_dbs_bind_int64(q, 3, (int64_t)e->generation);
		omc_dbs_bind_int64(q, 4, (int64_t)now);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	if (ok && srv_sql(s, &q, "INSERT INTO pva_token (jti, tre_id, issued, expires) VALUES (?1, ?2, ?3, ?4)") ==
			  OMC_OK) {
		omc_dbs_bind_text(q, 1, jti, -1);
		omc_dbs_bind_text(q, 2, e->tre_id, -1);
		omc_dbs_bind_int64(q, 3, (int64_t)now);
		omc_dbs_bind_int64(q, 4, (int64_t)exp);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	} else {
		ok = false;
	}
	return ok;
}

/* The end of every validation that got as far as a nonce of this session,
 * in one transaction: the nonce spent (whatever the outcome), on a pass the
 * TRE's counters and the token recorded, and the audit row. why is the
 * outcome so far ("" a pass); it becomes nonce_used if another validation
 * spent the nonce meanwhile, a counter refusal if another validation of
 * the TRE raised them meanwhile, internal if the database fails (then
 * nothing at all is recorded). e and jti only for a pass. */
static const char *finish(omc_server *s, const char *nb, const char *why, const char *subject, const char *detail,
			  const omc_evidence *e, const char *jti, int64_t now, int64_t exp)
{
	omc_dbs *q;
	srv_lock(s);
	bool ok = srv_begin(s);
	/* Spent by this attempt; on a pass, only if it still was unused. */
	if (ok && srv_sql(s, &q,
			  why[0] ? "UPDATE pva_nonce SET used = 1 WHERE nonce = ?1"
				 : "UPDATE pva_nonce SET used = 1 WHERE nonce = ?1 AND used = 0") == OMC_OK) {
		omc_dbs_bind_text(q, 1, nb, -1);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		if (ok && !why[0] && omc_db_changes(s->db) != 1)
			why = "nonce_used";
		srv_sql_done(s, q);
	} else {
		ok = false;
	}
	if (ok && !why[0])
		why = counters_check(s, e);
	if (ok && !why[0])
		ok = record_pass(s, e, jti, now, exp);
	if (ok)
		srv_audit(s, "pva", "device", "validate", why[0] ? subject : e->tre_id, why[0] ? "refused" : "ok",
			  why[0] ? (detail && detail[0] ? detail : why) : "validation token issued");
	ok = ok && srv_commit(s);
	if (!ok)
		srv_rollback(s);
	srv_unlock(s);
	return ok ? why : "internal";
}

static const struct {
	const char *code;
	int status;
	const char *msg;
} refusals[] = {
	{"unknown_nonce", 403, "the evidence names no nonce this PVA gave to this session"},
	{"nonce_used", 409, "the nonce was used already"},
	{"nonce_expired", 403, "the nonce has expired"},
	{"bad_signature", 403, "the evidence does not verify to a trusted M2MES CA"},
	{"bad_format", 400, "the evidence is malformed"},
	{"lockdown", 403, "the TRE is locked down"},
	{"platform_anomaly", 403, "the platform failed its own check against the signed manifest"},
	{"no_reference", 403, "no reference values for this model"},
	{"measurement_mismatch", 403, "a measurement does not match the reference values"},
	{"boot_count_decreased", 403, "the boot count is lower than before"},
	{"generation_decreased", 403, "the store generation is lower than before"},
	{"no_session_key", 403, "the evidence carries no session key"},
	{"internal", 500, "internal error"},
};

/* The answer of a refusal, audited already. (Out of line: inlined into a
 * caller whose code is one known literal, gcc's -Wstring-compare calls the
 * table lookup always false.) */
__attribute__((noinline)) static void refusal(srv_listener *l, omc_http_resp *resp, const char *code)
{
	for (size_t i = 0; i < OMC_ARRAY_LEN(refusals); i++)
		if (!strcmp(refusals[i].code, code)) {
			srv_fail(l, resp, refusals[i].status, refusals[i].code, refusals[i].msg);
			return;
		}
	srv_fail(l, resp, 500, "internal", "internal error");
}

/* A refusal that spends nothing: its audit row, and the answer. */
static void refuse(srv_listener *l, omc_http_resp *resp, const char *code, const char *subject, const char *detail)
{
	srv_lock(l->s);
	srv_audit(l->s, "pva", "device", "validate", subject, "refused", detail ? detail : code);
	srv_unlock(l->s);
	refusal(l, resp, code);
}

static void validate(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *ev = b ? srv_str(l, resp, b, "evidence", 16, 256 * 1024) : NULL;
	if (!ev) {
		json_decref(b);
		return;
	}
	/* Which nonce: read before anything is trusted, then checked by
	 * omc_evidence_verify against the nonce this PVA stored. */
	uint8_t n[64];
	size_t nl = 0;
	char nbuf[96];
	if (!srv_evidence_nonce(ev, nbuf, n, &nl)) {
		json_decref(b);
		refuse(l, resp, "bad_format", ss.imsi, "no nonce in the evidence");
		return;
	}
	srv_lock(s);
	const char *why = srv_nonce_state(s, false, nbuf, ss.imsi);
	srv_unlock(s);
	if (!strcmp(why, "unknown_nonce") || !strcmp(why, "internal")) {
		json_decref(b);
		refuse(l, resp, why, ss.imsi, NULL); /* nothing to spend */
		return;
	}
	omc_evidence e;
	memset(&e, 0, sizeof e);
	omc_err er = OMC_ERR_BAD_STATE; /* not verified (yet) */
	char detail[128] = "";
	if (!why[0]) {
		er = omc_evidence_verify(&e, ev, strlen(ev), (const omc_cert *const *)s->m2mes_ca, s->n_m2mes_ca, n, nl,
					 (time_t)srv_now(s));
		if (er != OMC_OK)
			why = er == OMC_ERR_BAD_FORMAT ? "bad_format" : "bad_signature";
		else if (!strcmp(e.tre_state, "lockdown"))
			why = "lockdown";
		else if (!e.platform_ok)
			why = "platform_anomaly";
	}
	for (size_t i = 0; !why[0] && i < e.n_measurements; i++)
		if (!e.measurements[i].ok)
			why = "platform_anomaly";
	if (!why[0] && !reference_ok(s, &e, &why, detail, sizeof detail)) {
		/* why and detail are set */
	} else if (!why[0] && !e.eph_pub) {
		why = "no_session_key";
	} else if (!why[0]) {
		/* Looked at here to refuse before signing; checked once more in
		 * the transaction that records them. */
		srv_lock(s);
		why = counters_check(s, &e);
		srv_unlock(s);
	}
	/* The token. */
	uint8_t eh[32], r[16];
	unsigned hl = 0;
	char ehh[65], jti[32];
	int64_t now = srv_now(s), exp = now + s->token_lifetime;
	char *tok = NULL;
	if (!why[0]) {
		bool ok = EVP_Digest(ev, strlen(ev), eh, &hl, EVP_sha256(), NULL) == 1 &&
			  omc_hex_encode(ehh, sizeof ehh, eh, 32) == OMC_OK && omc_rand_bytes(r, sizeof r) == OMC_OK &&
			  omc_b64_encode(jti, sizeof jti, r, sizeof r, OMC_B64_URL) == OMC_OK;
		json_t *p = ok ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:I,s:I}", "iss", "pva", "tre",
					   e.tre_id, "platform_id", e.platform_id, "model", e.model, "evidence_sha256",
					   ehh, "nonce", nbuf, "iat", (json_int_t)now, "exp", (json_int_t)exp, "jti", jti,
					   "boot_count", (json_int_t)e.boot_count, "generation",
					   (json_int_t)e.generation)
			       : NULL;
		char cn[SRV_NAME_MAX] = "pva";
		if (p && omc_cert_subject_cn(cn, sizeof cn, s->pva_cert) == OMC_OK)
			json_object_set_new(p, "iss", json_string(cn));
		char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(p);
		const omc_cert *x5c[1] = {s->pva_cert};
		ok = ps && omc_jws_sign(&tok, (const uint8_t *)ps, strlen(ps), s->pva_key, x5c, 1,
					"omc-validation+jwt") == OMC_OK;
		omc_free(ps);
		if (!ok)
			why = "internal";
	}
	/* Spent, recorded and audited at once, pass or refusal. */
	why = finish(s, nbuf, why, er == OMC_OK ? e.tre_id : ss.imsi, detail, &e, jti, now, exp);
	omc_evidence_free(&e);
	json_decref(b);
	if (why[0]) {
		omc_free(tok);
		refusal(l, resp, why);
		return;
	}
	json_t *out = json_pack("{s:s,s:I}", "token", tok, "expires", (json_int_t)exp);
	omc_free(tok);
	srv_reply(l, resp, 200, out);
}

/* --- recovery from lockdown (TRE-4, SEC-5) ---------------------------------------------- */

/* Who may ask for a device's recovery: the RO, and the M2MES that made it. */
static const char *const recovery_callers[] = {"ro", "m2mes"};

/* A nonce for the evidence of a locked-down device, handed to its
 * maintainer (the device itself is silent in lockdown). */
static void recovery_nonce(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, recovery_callers, OMC_ARRAY_LEN(recovery_callers), who))
		return;
	/* Optionally the TRE it is for, for the audit trail. */
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	const char *tre = json_object_get(b, "tre") ? srv_str(l, resp, b, "tre", 5, 63) : "-";
	if (!tre) {
		json_decref(b);
		return;
	}
	char nb[48], sess[48];
	snprintf(sess, sizeof sess, "recovery:%s", who);
	int64_t exp = 0;
	bool ok = srv_nonce_new(s, false, sess, s->nonce_lifetime, nb, &exp) == OMC_OK;
	srv_lock(s);
	if (ok)
		srv_audit(s, "pva", who, "recovery_nonce", tre, "ok", "for a locked-down device's evidence");
	srv_unlock(s);
	json_decref(b);
	if (!ok) {
		srv_fail(l, resp, 500, "internal", "no nonce");
		return;
	}
	srv_reply(l, resp, 201, json_pack("{s:s,s:I}", "nonce", nb, "expires", (json_int_t)exp));
}

/* The TRE's signed tamper report and fresh evidence over a recovery nonce:
 * the same TRE, locked down at the epoch the report names, whose platform
 * now passes its own check and matches the reference values, counters not
 * lowered. A pass earns a recovery authorisation (omc-recovery+jwt) bound
 * to that TRE and epoch; the nonce is spent either way. */
static void recovery(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, recovery_callers, OMC_ARRAY_LEN(recovery_callers), who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *rep = b ? srv_str(l, resp, b, "report", 16, 64 * 1024) : NULL;
	const char *ev = rep ? srv_str(l, resp, b, "evidence", 16, 256 * 1024) : NULL;
	if (!ev) {
		json_decref(b);
		return;
	}
	char cn[64] = "", sess[48];
	snprintf(sess, sizeof sess, "recovery:%s", who);
	json_t *rc = NULL;
	const char *why = "";
	char detail[128] = "";
	if (!srv_tre_signed(s, rep, strlen(rep), "omc-tamper-report+jwt", &rc, cn) ||
	    !json_is_integer(json_object_get(rc, "counter")) ||
	    strcmp(json_string_value(json_object_get(rc, "tre")) ? json_string_value(json_object_get(rc, "tre")) : "",
		   cn) != 0)
		why = "bad_report";
	int64_t counter = (int64_t)json_integer_value(json_object_get(rc, "counter"));
	json_decref(rc);
	/* The nonce, read before anything in the evidence is trusted. */
	uint8_t n[64];
	size_t nl = 0;
	char nb[96];
	if (!srv_evidence_nonce(ev, nb, n, &nl) && !why[0])
		why = "bad_format";
	if (!why[0]) {
		srv_lock(s);
		why = srv_nonce_state(s, false, nb, sess);
		srv_unlock(s);
	}
	bool spend = why[0] == 0 || !strcmp(why, "nonce_used") || !strcmp(why, "nonce_expired");
	omc_evidence e;
	memset(&e, 0, sizeof e);
	if (!why[0]) {
		omc_err er = omc_evidence_verify(&e, ev, strlen(ev), (const omc_cert *const *)s->m2mes_ca, s->n_m2mes_ca,
						 n, nl, (time_t)srv_now(s));
		if (er != OMC_OK)
			why = er == OMC_ERR_BAD_FORMAT ? "bad_format" : "bad_signature";
		else if (strcmp(e.tre_id, cn) != 0)
			why = "other_tre";
		else if (strcmp(e.tre_state, "lockdown") != 0)
			why = "not_locked_down";
		else if (!e.platform_ok)
			why = "platform_anomaly";
	}
	for (size_t i = 0; !why[0] && i < e.n_measurements; i++)
		if (!e.measurements[i].ok)
			why = "platform_anomaly";
	if (!why[0] && !reference_ok(s, &e, &why, detail, sizeof detail)) {
		/* why and detail are set */
	} else if (!why[0]) {
		srv_lock(s);
		why = counters_check(s, &e);
		srv_unlock(s);
	}
	char *auth = NULL;
	int64_t seq = 0, now = srv_now(s);
	srv_lock(s);
	bool ok = srv_begin(s);
	omc_dbs *q;
	if (ok && spend && srv_sql(s, &q, "UPDATE pva_nonce SET used = 1 WHERE nonce = ?1 AND used = 0") == OMC_OK) {
		omc_dbs_bind_text(q, 1, nb, -1);
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		if (ok && !why[0] && omc_db_changes(s->db) != 1)
			why = "nonce_used";
		srv_sql_done(s, q);
	}
	if (ok && !why[0])
		ok = srv_counter_next(s, "seq.pva-recovery", &seq) == OMC_OK;
	if (ok && !why[0]) {
		char iss[SRV_NAME_MAX] = "pva";
		if (omc_cert_subject_cn(iss, sizeof iss, s->pva_cert) != OMC_OK)
			snprintf(iss, sizeof iss, "pva");
		json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I,s:s}", "iss", iss, "seq", (json_int_t)seq, "tre", e.tre_id,
				      "counter", (json_int_t)counter, "iat", (json_int_t)now, "requested_by", who);
		char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(p);
		const omc_cert *x5c[1] = {s->pva_cert};
		ok = ps && omc_jws_sign(&auth, (const uint8_t *)ps, strlen(ps), s->pva_key, x5c, 1, "omc-recovery+jwt") ==
				   OMC_OK;
		omc_free(ps);
	}
	if (ok)
		srv_audit(s, "pva", who, "recovery", cn[0] ? cn : "tre", why[0] ? "refused" : "ok",
			  why[0] ? (detail[0] ? detail : why) : "recovery authorisation issued");
	ok = ok && srv_commit(s);
	if (!ok)
		srv_rollback(s);
	srv_unlock(s);
	omc_evidence_free(&e);
	json_decref(b);
	if (!ok) {
		omc_free(auth);
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	if (why[0]) {
		omc_free(auth);
		if (!strcmp(why, "bad_report"))
			srv_fail(l, resp, 403, "bad_report", "the tamper report is not signed by the TRE it names");
		else if (!strcmp(why, "other_tre"))
			srv_fail(l, resp, 403, "other_tre", "the evidence is not from the TRE of the report");
		else if (!strcmp(why, "not_locked_down"))
			srv_fail(l, resp, 409, "not_locked_down", "the TRE is not locked down: nothing to recover");
		else
			refusal(l, resp, why);
		return;
	}
	json_t *out = json_pack("{s:s,s:s,s:I}", "authorisation", auth, "tre", cn, "counter", (json_int_t)counter);
	omc_free(auth);
	srv_reply(l, resp, 200, out);
}

/* A device recovered from lockdown delivers the tamper report its agent
 * queued (TRE-4): checked and kept in the audit trail. */
static void tamper(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *rep = b ? srv_str(l, resp, b, "report", 16, 64 * 1024) : NULL;
	if (!rep) {
		json_decref(b);
		return;
	}
	json_t *c = NULL;
	char cn[64];
	bool ok = srv_tre_signed(s, rep, strlen(rep), "omc-tamper-report+jwt", &c, cn);
	const char *tre = json_string_value(json_object_get(c, "tre"));
	const char *reason = json_string_value(json_object_get(c, "reason"));
	ok = ok && tre && !strcmp(tre, cn) && reason;
	if (ok) {
		char d[160];
		snprintf(d, sizeof d, "counter %lld: %.120s", (long long)json_integer_value(json_object_get(c, "counter")),
			 reason);
		srv_lock(s);
		srv_audit(s, "pva", "device", "tamper_report", cn, "ok", d);
		srv_unlock(s);
	}
	json_decref(c);
	json_decref(b);
	if (!ok) {
		srv_fail(l, resp, 403, "bad_report", "the tamper report is not signed by the TRE it names");
		return;
	}
	srv_reply(l, resp, 201, json_pack("{s:s,s:s}", "tre", cn, "state", "recorded"));
}

void srv_routes_pva(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/nonce", nonce);
	srv_route_add(l, "POST", "/v1/validate", validate);
	srv_route_add(l, "POST", "/v1/recovery/nonce", recovery_nonce);
	srv_route_add(l, "POST", "/v1/recovery", recovery);
	srv_route_add(l, "POST", "/v1/tamper", tamper);
}
