/* PCID renewal (CHG-4, CHG-5, NET-7): the ICO gives a device a new PCID
 * before its own expires.
 *
 * On the ICO's bootstrap listener, with the device's VNO session (a PCID's
 * or an operational one): a single-use nonce (POST /v1/pcids/nonce); the
 * TRE's session evidence over it (POST /v1/pcids/renew), checked against
 * the M2MES CAs and bound to the session's TRE, earns a new PCID in the
 * ICO's range, registered in the ICO's AuC with its lifetime, as an MCIM
 * package of role bootstrap signed by the ICO and encrypted to the
 * evidence's session key; the TRE's signed receipt (POST
 * /v1/pcids/receipts), `replaced` with the old IMSI, retires the old PCID
 * in the ICO's AuC and records the new one against the TRE. On the
 * CCIF's listener the ICO pushes a renewal (POST /v1/pcids/push): its
 * signed `renew_pcid` command, queued at the DPF; the TRE's signed result
 * tells the agent to renew now. Formats in docs/objects.md. */
#include <string.h>

#include "openmcim/tre.h"
#include "server/server_internal.h"

#define RENEW_NONCE_LIFETIME 300
#define PACKAGE_LIFETIME 86400

void srv_ccif_renew_nonce(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	char nb[48];
	int64_t exp = 0;
	if (srv_nonce_new(s, true, ss.imsi, RENEW_NONCE_LIFETIME, nb, &exp) != OMC_OK) {
		srv_fail(l, resp, 500, "internal", "no nonce");
		return;
	}
	srv_reply(l, resp, 201, json_pack("{s:s,s:I}", "nonce", nb, "expires", (json_int_t)exp));
}

/* Whether imsi (a session's, or a replaced PCID's) is one this network
 * knows for the TRE: a PCID the CCIF recorded against it, the PCID the DRF
 * saw it register with, or an MCIM an SHO here issued to it (caller holds
 * the lock). */
static bool imsi_of_tre(omc_server *s, const char *imsi, const char *tre)
{
	omc_dbs *q;
	bool ok = false;
	if (srv_sql(s, &q,
		    "SELECT 1 FROM ccif_pcid WHERE imsi = ?1 AND tre_id = ?2 UNION ALL"
		    " SELECT 1 FROM drf_seen WHERE pcid_imsi = ?1 AND tre_id = ?2 UNION ALL"
		    " SELECT 1 FROM sho_mcim WHERE imsi = ?1 AND tre_id = ?2 LIMIT 1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, imsi, -1);
		omc_dbs_bind_text(q, 2, tre, -1);
		ok = omc_dbs_step(q) == OMC_DB_ROW;
		srv_sql_done(s, q);
	}
	return ok;
}

static const struct {
	const char *code;
	int status;
	const char *msg;
} refusals[] = {
	{"unknown_nonce", 403, "the evidence names no nonce this CCIF gave to this session"},
	{"nonce_used", 409, "the nonce was used already"},
	{"nonce_expired", 403, "the nonce has expired"},
	{"bad_signature", 403, "the evidence does not verify to a trusted M2MES CA"},
	{"bad_format", 400, "the evidence is malformed"},
	{"lockdown", 403, "the TRE is locked down"},
	{"platform_anomaly", 403, "the platform failed its own check against the signed manifest"},
	{"no_session_key", 403, "the evidence carries no session key"},
	{"not_this_tre", 403, "the session is not one of this TRE's"},
	{"range_exhausted", 409, "the ICO's IMSI range is exhausted"},
	{"not_configured", 503, "no ICO is configured"},
	{"internal", 500, "internal error"},
};

/* The answer of a refusal, audited. (Out of line, as in pva.c: gcc's
 * -Wstring-compare on an inlined literal.) */
__attribute__((noinline)) static void refuse(srv_listener *l, omc_http_resp *resp, const char *code,
					     const char *subject)
{
	srv_lock(l->s);
	srv_audit(l->s, "ccif", "device", "pcid_renew", subject, "refused", code);
	srv_unlock(l->s);
	for (size_t i = 0; i < OMC_ARRAY_LEN(refusals); i++)
		if (!strcmp(refusals[i].code, code)) {
			srv_fail(l, resp, refusals[i].status, refusals[i].code, refusals[i].msg);
			return;
		}
	srv_fail(l, resp, 500, "internal", "internal error");
}

/* The new PCID's package, signed as the ICO and sealed to the session key
 * (*out from omc_alloc). K and OPc live only in cred and, transiently, in
 * the serialised claims, which omc_free wipes. */
static omc_err package_make(char **out, const srv_op *ico, const omc_aka_cred *cred, const char *imsi,
			    int64_t version, int64_t expires, int64_t seq, const char *tre, const char *nonce,
			    int64_t now, const omc_key *to)
{
	json_t *m = srv_cred_json(cred);
	bool ok = m && json_object_set_new(m, "id", json_string("pcid")) == 0 &&
		  json_object_set_new(m, "owner", json_string(ico->name)) == 0 &&
		  json_object_set_new(m, "role", json_string("bootstrap")) == 0 &&
		  json_object_set_new(m, "type", json_string("usim")) == 0 &&
		  json_object_set_new(m, "imsi", json_string(imsi)) == 0 &&
		  json_object_set_new(m, "version", json_integer((json_int_t)version)) == 0 &&
		  json_object_set_new(m, "expires", json_integer((json_int_t)expires)) == 0 &&
		  json_object_set_new(m, "acl", json_pack("[s]", "agent")) == 0;
	json_t *p = ok ? json_pack("{s:s,s:I,s:s,s:s,s:b,s:I,s:I,s:o}", "iss", ico->name, "seq", (json_int_t)seq, "tre",
				   tre, "nonce", nonce, "activate", true, "iat", (json_int_t)now, "exp",
				   (json_int_t)(now + PACKAGE_LIFETIME), "mcim", m)
		       : NULL;
	if (!ok) /* json_pack's "o" takes m even when it fails */
		json_decref(m);
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *jws = NULL;
	json_decref(p);
	const omc_cert *x5c[1] = {ico->cert};
	omc_err e = ps ? omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), ico->key, x5c, 1, "omc-mcim-package+jwt")
		       : OMC_ERR_NOMEM;
	omc_free(ps);
	if (e == OMC_OK)
		e = omc_jwe_encrypt(out, (const uint8_t *)jws, strlen(jws), to, "omc-mcim-package+jwe");
	omc_free(jws);
	return e;
}

/* In the transaction: the nonce spent, a new PCID registered for the TRE
 * and its package made. *why "" on success, else the refusal code. */
static omc_err issue(omc_server *s, srv_op *ico, const char *nb, const omc_evidence *ev, int64_t cur_version,
		     char imsi[16], int64_t *version, int64_t *expires, char **pkg, const char **why)
{
	omc_dbs *q;
	int64_t now = srv_now(s);
	*why = "internal";
	OMC_TRY(srv_sql(s, &q, "UPDATE ccif_nonce SET used = 1 WHERE nonce = ?1 AND used = 0"));
	omc_dbs_bind_text(q, 1, nb, -1);
	int rc = omc_dbs_step(q);
	bool spent = rc == OMC_DB_DONE && omc_db_changes(s->db) == 1;
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_DONE, omc_db_err(rc));
	if (!spent) {
		*why = "nonce_used";
		OMC_BAIL(OMC_ERR_DENIED);
	}
	int64_t n = 0;
	OMC_TRY(srv_counter_next(s, "ccif.msin", &n));
	size_t digits = 15 - strlen(ico->imsi_prefix);
	/* MSINs starting with 0 are the CCIF's (as in generate). */
	if (snprintf(imsi, 16, "%s0%0*lld", ico->imsi_prefix, (int)(digits - 1), (long long)n) != 15) {
		*why = "range_exhausted";
		OMC_BAIL(OMC_ERR_EXHAUSTED);
	}
	/* Above the version the device says its PCID has, and above every
	 * renewal sent to this TRE: a version the TRE holds already only makes
	 * it refuse, never accept an older PCID. */
	*version = cur_version;
	OMC_TRY(srv_sql(s, &q, "SELECT max(version) FROM ccif_renewal WHERE tre_id = ?1"));
	omc_dbs_bind_text(q, 1, ev->tre_id, -1);
	if (omc_dbs_step(q) == OMC_DB_ROW && omc_dbs_column_int64(q, 0) > *version)
		*version = omc_dbs_column_int64(q, 0);
	srv_sql_done(s, q);
	(*version)++;
	OMC_ENSURE(*version < INT32_MAX, OMC_ERR_EXHAUSTED);
	*expires = now + ico->pcid_lifetime;
	omc_aka_cred cred;
	OMC_DEFER_WIPE(cred);
	OMC_TRY(srv_cred_new(&cred, OMC_AKA_ALG_MILENAGE, NULL));
	omc_err e = srv_ccif_register_pcid(s, ico, imsi, &cred, "renewal", "device", ev->tre_id, *expires);
	char cname[40];
	snprintf(cname, sizeof cname, "seq.%s", ico->name);
	int64_t seq = 0;
	if (e == OMC_OK)
		e = srv_counter_next(s, cname, &seq);
	if (e == OMC_OK)
		e = srv_sql(s, &q,
			    "INSERT INTO ccif_renewal (imsi, tre_id, version, state, created) VALUES (?1, ?2, ?3, 'sent', ?4)");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, imsi, -1);
		omc_dbs_bind_text(q, 2, ev->tre_id, -1);
		omc_dbs_bind_int64(q, 3, (int64_t)*version);
		omc_dbs_bind_int64(q, 4, (int64_t)now);
		e = omc_db_err(omc_dbs_step(q));
		srv_sql_done(s, q);
	}
	if (e == OMC_OK)
		e = package_make(pkg, ico, &cred, imsi, *version, *expires, seq, ev->tre_id, nb, now, ev->eph_pub);
	omc_aka_cred_wipe(&cred);
	if (e == OMC_OK)
		*why = "";
	return e;
}

void srv_ccif_renew(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_session ss;
	if (!srv_auth_session(l, req, resp, &ss))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *evs = b ? srv_str(l, resp, b, "evidence", 16, 256 * 1024) : NULL;
	int64_t cur_version = 1;
	if (evs && json_object_get(b, "version") && !srv_int(l, resp, b, "version", 1, INT32_MAX - 1, &cur_version))
		evs = NULL;
	if (!evs) {
		json_decref(b);
		return;
	}
	srv_op *ico = srv_ico(s);
	if (!ico) {
		json_decref(b);
		refuse(l, resp, "not_configured", ss.imsi);
		return;
	}
	/* Which nonce: read before anything is trusted, then checked by
	 * omc_evidence_verify against the one stored. */
	uint8_t n[64];
	size_t nl = 0;
	char nbuf[96];
	if (!srv_evidence_nonce(evs, nbuf, n, &nl)) {
		json_decref(b);
		refuse(l, resp, "bad_format", ss.imsi);
		return;
	}
	srv_lock(s);
	const char *why = srv_nonce_state(s, true, nbuf, ss.imsi);
	srv_unlock(s);
	omc_evidence e;
	memset(&e, 0, sizeof e);
	if (!why[0]) {
		omc_err er = omc_evidence_verify(&e, evs, strlen(evs), (const omc_cert *const *)s->m2mes_ca,
						 s->n_m2mes_ca, n, nl, (time_t)srv_now(s));
		if (er != OMC_OK)
			why = er == OMC_ERR_BAD_FORMAT ? "bad_format" : "bad_signature";
		else if (!strcmp(e.tre_state, "lockdown"))
			why = "lockdown";
		else if (!e.platform_ok)
			why = "platform_anomaly";
		else if (!e.eph_pub)
			why = "no_session_key";
	}
	json_decref(b);
	if (!why[0]) {
		srv_lock(s);
		if (!imsi_of_tre(s, ss.imsi, e.tre_id))
			why = "not_this_tre";
		srv_unlock(s);
	}
	if (why[0]) {
		refuse(l, resp, why, e.tre_id[0] ? e.tre_id : ss.imsi);
		omc_evidence_free(&e);
		return;
	}
	char imsi[16] = "";
	int64_t version = 0, expires = 0;
	char *pkg = NULL;
	srv_lock(s);
	omc_err er = srv_begin(s) ? issue(s, ico, nbuf, &e, cur_version, imsi, &version, &expires, &pkg, &why)
				  : OMC_ERR_IO;
	if (er == OMC_OK) {
		srv_audit(s, "ccif", "device", "pcid_renew", e.tre_id, "ok", imsi);
		if (!srv_commit(s)) {
			er = OMC_ERR_IO;
			why = "internal";
		}
	} else {
		srv_rollback(s);
	}
	srv_unlock(s);
	if (er != OMC_OK) {
		omc_free(pkg);
		refuse(l, resp, why[0] ? why : "internal", e.tre_id);
		omc_evidence_free(&e);
		return;
	}
	omc_evidence_free(&e);
	json_t *out = json_pack("{s:s,s:s,s:s,s:I,s:I}", "package", pkg, "mcim", "pcid", "imsi", imsi, "version",
				(json_int_t)version, "expires", (json_int_t)expires);
	omc_free(pkg);
	srv_reply(l, resp, 200, out);
}

/* The TRE's receipt of a renewal: the old PCID retired in the ICO's AuC,
 * the new one recorded against the TRE. Sent again, it is answered the
 * same and changes nothing more. */
void srv_ccif_renew_receipt(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
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
	srv_op *ico = srv_ico(s);
	char cn[64];
	json_t *p = NULL;
	(void)srv_tre_signed(s, rc, strlen(rc), "omc-receipt+jwt", &p, cn);
	const char *tre = json_string_value(json_object_get(p, "tre"));
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *res = json_string_value(json_object_get(p, "result"));
	const char *mcim = json_string_value(json_object_get(p, "mcim"));
	const char *imsi = json_string_value(json_object_get(p, "imsi"));
	const char *old = json_string_value(json_object_get(json_object_get(p, "replaced"), "imsi"));
	if (!tre || strcmp(tre, cn) != 0) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature", "the receipt is not signed by the TRE it names");
		return;
	}
	if (!ico || !iss || strcmp(iss, ico->name) != 0 || !res || strcmp(res, "replaced") != 0 || !mcim ||
	    strcmp(mcim, "pcid") != 0 || !imsi || !old || !strcmp(old, imsi)) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 400, "bad_receipt", "the receipt is not one of a PCID renewal by the ICO");
		return;
	}
	omc_dbs *q;
	const char *code = NULL;
	bool again = false;
	srv_lock(s);
	omc_err e = srv_begin(s) ? OMC_OK : OMC_ERR_IO;
	if (e == OMC_OK)
		e = srv_sql(s, &q, "SELECT state FROM ccif_renewal WHERE imsi = ?1 AND tre_id = ?2");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, imsi, -1);
		omc_dbs_bind_text(q, 2, tre, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW)
			again = !strcmp((const char *)omc_dbs_column_text(q, 0), "installed");
		else
			code = "unknown_renewal";
		srv_sql_done(s, q);
	}
	/* The TRE says which IMSI it replaced; it must be one of this TRE's. */
	if (e == OMC_OK && !code && !again && !imsi_of_tre(s, old, tre))
		code = "not_this_tre";
	if (e == OMC_OK && !code && !again) {
		e = omc_auc_disable(ico->auc, old);
		if (e == OMC_ERR_NOT_FOUND)
			e = OMC_OK; /* not the ICO's (a factory PCID it never had): nothing to retire */
		if (e == OMC_OK)
			e = srv_ccif_hlr_retire(s, old);
	}
	if (e == OMC_OK && !code && !again)
		e = srv_sql(s, &q, "UPDATE ccif_renewal SET state = 'installed', old_imsi = ?2, receipt = ?3 WHERE imsi = ?1");
	if (e == OMC_OK && !code && !again) {
		omc_dbs_bind_text(q, 1, imsi, -1);
		omc_dbs_bind_text(q, 2, old, -1);
		omc_dbs_bind_text(q, 3, rc, -1);
		e = omc_db_err(omc_dbs_step(q));
		srv_sql_done(s, q);
	}
	/* The DRF and the DPF find the TRE by its PCID from now on. */
	if (e == OMC_OK && !code && !again)
		e = srv_sql(s, &q, "UPDATE drf_seen SET pcid_imsi = ?1, updated = ?4 WHERE tre_id = ?2 AND pcid_imsi = ?3");
	if (e == OMC_OK && !code && !again) {
		omc_dbs_bind_text(q, 1, imsi, -1);
		omc_dbs_bind_text(q, 2, tre, -1);
		omc_dbs_bind_text(q, 3, old, -1);
		omc_dbs_bind_int64(q, 4, (int64_t)srv_now(s));
		e = omc_db_err(omc_dbs_step(q));
		srv_sql_done(s, q);
	}
	if (e == OMC_OK && !code && !again) {
		char d[64];
		snprintf(d, sizeof d, "%s replaces %s", imsi, old);
		srv_audit(s, "ccif", "device", "pcid_renewed", tre, "ok", d);
	}
	if (e == OMC_OK && !code) {
		if (!srv_commit(s))
			e = OMC_ERR_IO;
	} else {
		srv_rollback(s);
	}
	srv_unlock(s);
	json_t *out = e == OMC_OK && !code ? json_pack("{s:s,s:s,s:s}", "imsi", imsi, "replaced", old, "state", "installed")
					  : NULL;
	json_decref(p);
	json_decref(b);
	if (code && !strcmp(code, "unknown_renewal"))
		srv_fail(l, resp, 404, code, "no renewal of this CCIF matches the receipt");
	else if (code)
		srv_fail(l, resp, 403, code, "the replaced IMSI is not one of this TRE's");
	else if (!out)
		srv_fail(l, resp, 500, "internal", omc_err_name(e));
	else
		srv_reply(l, resp, 200, out);
}

/* NET-7: the ICO asks a TRE to renew now: its signed `renew_pcid`
 * command, queued at the DPF like an SHO's. */
/* The seq claim of a command the DPF holds (-1 when it cannot be read). */
static int64_t open_seq(const char *command)
{
	uint8_t *pl = NULL;
	size_t pn = 0;
	if (!command || omc_jws_peek(&pl, &pn, command, strlen(command)) != OMC_OK)
		return -1;
	json_error_t je;
	json_t *c = omc_json_loadb((const char *)pl, pn, 0, &je);
	omc_free(pl);
	json_t *seq = json_object_get(c, "seq");
	int64_t v = json_is_integer(seq) && json_integer_value(seq) >= 0 ? (int64_t)json_integer_value(seq) : -1;
	json_decref(c);
	return v;
}

void srv_ccif_push(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_op *ico = srv_ico(s);
	const char *names[1] = {ico ? ico->name : "ico"};
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, names, 1, who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *tre = b ? srv_str(l, resp, b, "tre", 5, 63) : NULL;
	if (!tre || !ico) {
		if (tre)
			srv_fail(l, resp, 503, "not_configured", "no ICO is configured");
		json_decref(b);
		return;
	}
	omc_dbs *q;
	bool known = false;
	int64_t seq = 0;
	char cname[40];
	snprintf(cname, sizeof cname, "seq.%s", ico->name);
	srv_lock(s);
	if (srv_sql(s, &q,
		    "SELECT 1 FROM ccif_pcid WHERE tre_id = ?1 UNION ALL SELECT 1 FROM drf_seen WHERE tre_id = ?1 LIMIT 1") ==
	    OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		known = omc_dbs_step(q) == OMC_DB_ROW;
		srv_sql_done(s, q);
	}
	/* A renewal the ICO asked for and the TRE has not answered yet is
	 * answered again, and no second one queued: a push sent again after
	 * its answer was lost is idempotent. */
	int64_t open_id = 0;
	bool looked = !known;
	if (known && srv_sql(s, &q,
			     "SELECT id, command FROM dpf_command WHERE tre_id = ?1 AND issuer = ?2"
			     " AND state IN ('queued', 'fetched') ORDER BY id LIMIT 1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, tre, -1);
		omc_dbs_bind_text(q, 2, ico->name, -1);
		int rc = omc_dbs_step(q);
		looked = rc == OMC_DB_DONE || rc == OMC_DB_ROW;
		if (rc == OMC_DB_ROW) {
			open_id = omc_dbs_column_int64(q, 0);
			seq = open_seq((const char *)omc_dbs_column_text(q, 1));
			looked = seq >= 0;
		}
		srv_sql_done(s, q);
	}
	if (!looked || open_id > 0) {
		if (looked)
			srv_audit(s, "ccif", who, "pcid_push", tre, "ok", "renew_pcid open already");
		srv_unlock(s);
		if (!looked)
			srv_fail(l, resp, 500, "internal", "the open commands could not be read");
		else
			srv_reply(l, resp, 201,
				  json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)open_id, "state", "queued", "tre",
					    tre, "seq", (json_int_t)seq));
		json_decref(b); /* tre lives in b */
		return;
	}
	omc_err e = OMC_OK;
	if (known && srv_begin(s)) {
		e = srv_counter_next(s, cname, &seq);
		if (e == OMC_OK && !srv_commit(s))
			e = OMC_ERR_IO;
		else if (e != OMC_OK)
			srv_rollback(s);
	} else if (known) {
		e = OMC_ERR_IO;
	}
	srv_unlock(s);
	if (!known || e != OMC_OK) {
		json_decref(b);
		if (!known)
			srv_fail(l, resp, 404, "unknown_device", "the CCIF knows no TRE of that id");
		else
			srv_fail(l, resp, 500, "internal", omc_err_name(e));
		return;
	}
	int64_t now = srv_now(s);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:I}", "iss", ico->name, "seq", (json_int_t)seq, "tre", tre, "cmd",
			      "renew_pcid", "mcim", "pcid", "iat", (json_int_t)now, "exp", (json_int_t)(now + 30 * 86400));
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *jws = NULL;
	json_decref(p);
	const omc_cert *x5c[1] = {ico->cert};
	e = ps ? omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), ico->key, x5c, 1, "omc-command+jwt") : OMC_ERR_NOMEM;
	omc_free(ps);
	if (e != OMC_OK) {
		json_decref(b);
		srv_fail(l, resp, 500, "internal", omc_err_name(e));
		return;
	}
	int st = 0;
	json_t *a = NULL;
	e = srv_call(s, ico->key, ico->cert, "POST", srv_peer(s, "dpf"), "/v1/commands",
		     json_pack("{s:s,s:s}", "tre", tre, "command", jws), &st, &a);
	omc_free(jws);
	if (e != OMC_OK || st != 201) {
		json_decref(b);
		srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, "the DPF");
		json_decref(a);
		return;
	}
	srv_lock(s);
	srv_audit(s, "ccif", who, "pcid_push", tre, "ok", "renew_pcid queued");
	srv_unlock(s);
	json_t *out = json_pack("{s:O,s:s,s:s,s:I}", "id", json_object_get(a, "id"), "state", "queued", "tre", tre, "seq",
				(json_int_t)seq);
	json_decref(a);
	json_decref(b);
	srv_reply(l, resp, 201, out);
}
