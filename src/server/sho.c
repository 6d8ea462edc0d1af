/* An SHO (SVC-2, EVAL-3, EVAL-6, SEC-7): the subscriber API to register
 * devices (told to the RO's DRF); MCIMs made for the DPF (an IMSI from the
 * operator's range, fresh K and OPc or TOPc, the algorithm it chose, into
 * its AuC with the service profile), signed with their ACL and profile,
 * and handed to the DPF encrypted to the DPF's key; install receipts.
 * An SHO reaches only its own devices and MCIMs. */
#include <string.h>

#include "server/server_internal.h"

static const char *const ro_callers[] = {"ro"};

static void dev_register(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char sub[33];
	if (!srv_auth_subscriber(l, req, resp, sub))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *plat = b ? srv_str(l, resp, b, "platform_id", 21, 21) : NULL;
	if (plat && (strncmp(plat, "plat-", 5) != 0 || strspn(plat + 5, "0123456789abcdef") != 16)) {
		srv_fail(l, resp, 400, "bad_request", "member platform_id: plat- and 16 hex digits");
		plat = NULL;
	}
	if (!plat) {
		json_decref(b);
		return;
	}
	/* Another subscriber's device of this SHO is refused before the DRF hears of it. */
	omc_dbs *q;
	char owner[33] = "";
	srv_lock(s);
	if (srv_sql(s, &q, "SELECT subscriber FROM sho_device WHERE operator = ?1 AND platform_id = ?2") == OMC_OK) {
		omc_dbs_bind_text(q, 1, l->op->name, -1);
		omc_dbs_bind_text(q, 2, plat, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW)
			snprintf(owner, sizeof owner, "%s", (const char *)omc_dbs_column_text(q, 0));
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (owner[0] && strcmp(owner, sub) != 0) {
		json_decref(b);
		srv_fail(l, resp, 409, "other_subscriber", "the device is another subscriber's");
		return;
	}
	/* CHG-1: "change": true moves a device registered with another SHO;
	 * "direct": true, without erasing the old MCIM first. */
	const json_t *cj = json_object_get(b, "change"), *dj = json_object_get(b, "direct");
	if ((cj && !json_is_boolean(cj)) || (dj && !json_is_boolean(dj))) {
		json_decref(b);
		srv_fail(l, resp, 400, "bad_request", "members change and direct: booleans");
		return;
	}
	int st = 0;
	json_t *a = NULL;
	omc_err e = srv_call(s, l->op->key, l->op->cert, "POST", srv_peer(s, "drf"), "/v1/devices",
			     json_pack("{s:s,s:b,s:b,s:s*,s:b}", "platform_id", plat, "change", json_is_true(cj), "direct",
				       json_is_true(json_object_get(b, "direct")), "transfer_code",
				       json_string_value(json_object_get(b, "transfer_code")), "new_transfer_code",
				       json_is_true(json_object_get(b, "new_transfer_code"))),
			     &st, &a);
	if (e != OMC_OK || (st != 200 && st != 201 && st != 202)) {
		srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, "the DRF");
		json_decref(a);
		json_decref(b);
		return;
	}
	char dstate[16], code[65] = "";
	snprintf(dstate, sizeof dstate, "%s", st == 202 ? json_string_value(json_object_get(a, "state")) : "registered");
	if (!dstate[0])
		snprintf(dstate, sizeof dstate, "changing");
	const char *cv = json_string_value(json_object_get(a, "transfer_code"));
	snprintf(code, sizeof code, "%s", cv ? cv : "");
	json_decref(a);
	bool ok = false;
	srv_lock(s);
	if (srv_sql(s, &q,
		    "INSERT INTO sho_device (operator, platform_id, subscriber, profile, state, created)"
		    " VALUES (?1, ?2, ?3, '{}', 'registered', ?4) ON CONFLICT (operator, platform_id) DO NOTHING") ==
	    OMC_OK) {
		omc_dbs_bind_text(q, 1, l->op->name, -1);
		omc_dbs_bind_text(q, 2, plat, -1);
		omc_dbs_bind_text(q, 3, sub, -1);
		omc_dbs_bind_int64(q, 4, (int64_t)srv_now(s));
		ok = omc_dbs_step(q) == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	if (ok)
		srv_audit(s, l->name, sub, "device_register", plat, "ok", "told the DRF");
	srv_unlock(s);
	if (!ok) {
		json_decref(b);
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	/* plat lives in b: b goes only once the answer is packed. */
	/* The device's transfer code, for its subscriber only: shown to
	 * another SHO, it lets that SHO take the device over (CHG-1). */
	srv_reply(l, resp, st == 202 ? 202 : 201,
		  json_pack("{s:s,s:s,s:s,s:s}", "platform_id", plat, "sho", l->op->name, "state", dstate,
			    "transfer_code", code));
	omc_memzero(code, sizeof code);
	json_decref(b);
}

static void dev_list(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char sub[33];
	if (!srv_auth_subscriber(l, req, resp, sub))
		return;
	json_t *arr = json_array();
	omc_dbs *q;
	srv_lock(s);
	if (arr && srv_sql(s, &q,
			   "SELECT d.platform_id, coalesce(m.state, d.state), m.mcim_id, m.imsi FROM sho_device d"
			   " LEFT JOIN sho_mcim m ON m.operator = d.operator AND m.platform_id = d.platform_id"
			   " WHERE d.operator = ?1 AND d.subscriber = ?2 ORDER BY d.platform_id") == OMC_OK) {
		omc_dbs_bind_text(q, 1, l->op->name, -1);
		omc_dbs_bind_text(q, 2, sub, -1);
		while (omc_dbs_step(q) == OMC_DB_ROW) {
			const char *mcim = (const char *)omc_dbs_column_text(q, 2);
			const char *imsi = (const char *)omc_dbs_column_text(q, 3);
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:s?}", "platform_id",
							     (const char *)omc_dbs_column_text(q, 0), "state",
							     (const char *)omc_dbs_column_text(q, 1), "mcim", mcim, "imsi",
							     imsi));
		}
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	srv_reply(l, resp, 200, arr ? json_pack("{s:o}", "devices", arr) : NULL);
}

typedef struct mcim_row {
	char id[41], imsi[16], state[16], tre[64];
	int64_t version;
	bool found;
} mcim_row;

static omc_err mcim_of_device(omc_server *s, const srv_op *op, const char *plat, mcim_row *r)
{
	omc_dbs *q;
	memset(r, 0, sizeof *r);
	OMC_TRY(srv_sql(s, &q,
			"SELECT mcim_id, imsi, state, tre_id, version FROM sho_mcim WHERE operator = ?1 AND platform_id = ?2"
			" AND state <> 'deleted' ORDER BY created DESC LIMIT 1"));
	omc_dbs_bind_text(q, 1, op->name, -1);
	omc_dbs_bind_text(q, 2, plat, -1);
	int rc = omc_dbs_step(q);
	if (rc == OMC_DB_ROW) {
		snprintf(r->id, sizeof r->id, "%s", (const char *)omc_dbs_column_text(q, 0));
		snprintf(r->imsi, sizeof r->imsi, "%s", (const char *)omc_dbs_column_text(q, 1));
		snprintf(r->state, sizeof r->state, "%s", (const char *)omc_dbs_column_text(q, 2));
		snprintf(r->tre, sizeof r->tre, "%s", (const char *)omc_dbs_column_text(q, 3));
		r->version = (int64_t)omc_dbs_column_int64(q, 4);
		r->found = true;
	}
	srv_sql_done(s, q);
	OMC_ENSURE(rc == OMC_DB_ROW || rc == OMC_DB_DONE, omc_db_err(rc));
	return OMC_OK;
}

/* One transaction: a new MCIM (IMSI, credential into the AuC, the row),
 * or the one issued before and never confirmed (the same IMSI and K: a
 * retried download); and the next sequence number of this issuer. */
static omc_err issue(omc_server *s, srv_op *op, const char *plat, const char *tre, mcim_row *r, omc_aka_cred *cred,
		     int64_t *seq, int *status)
{
	*status = 500;
	OMC_ENSURE(srv_begin(s), OMC_ERR_IO);
	omc_dbs *q;
	bool registered = false;
	omc_err e = srv_sql(s, &q, "SELECT 1 FROM sho_device WHERE operator = ?1 AND platform_id = ?2");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, op->name, -1);
		omc_dbs_bind_text(q, 2, plat, -1);
		registered = omc_dbs_step(q) == OMC_DB_ROW;
		srv_sql_done(s, q);
	}
	if (e == OMC_OK && !registered) {
		*status = 404;
		e = OMC_ERR_NOT_FOUND;
	}
	if (e == OMC_OK)
		e = mcim_of_device(s, op, plat, r);
	if (e == OMC_OK && r->found && strcmp(r->state, "issued") != 0) {
		*status = 409;
		e = OMC_ERR_EXISTS;
	}
	if (e == OMC_OK && r->found && strcmp(r->tre, tre) != 0) {
		*status = 409;
		e = OMC_ERR_DENIED;
	}
	char cname[40];
	snprintf(cname, sizeof cname, "seq.%s", op->name);
	if (e == OMC_OK)
		e = srv_counter_next(s, cname, seq);
	if (e == OMC_OK && r->found) {
		e = omc_auc_cred_get(op->auc, r->imsi, cred);
	} else if (e == OMC_OK) {
		int64_t n = 0;
		snprintf(cname, sizeof cname, "msin.%s", op->name);
		e = srv_counter_next(s, cname, &n);
		size_t digits = 15 - strlen(op->imsi_prefix);
		if (e == OMC_OK &&
		    snprintf(r->imsi, sizeof r->imsi, "%s%0*lld", op->imsi_prefix, (int)digits, (long long)n) != 15)
			e = OMC_ERR_EXHAUSTED;
		/* The MCIM's id: the operator and the TRE's 16 hex digits. */
		snprintf(r->id, sizeof r->id, "%s-%.16s", op->name, strlen(tre) > 4 ? tre + 4 : tre);
		r->version = 1;
		snprintf(r->state, sizeof r->state, "issued");
		if (e == OMC_OK)
			e = srv_cred_new(cred, op->alg, &op->tuak);
		char prof[96];
		snprintf(prof, sizeof prof, "{\"data_only\":%s,\"volume_cap\":%llu}", op->data_only ? "true" : "false",
			 (unsigned long long)op->volume_cap);
		omc_auc_sub_opts ao = {.ind_bits = OMC_AKA_IND_BITS_DEFAULT, .profile = prof};
		if (e == OMC_OK)
			e = omc_auc_add_ex(op->auc, r->imsi, cred, &ao);
		if (e == OMC_OK)
			e = srv_sql(s, &q,
				    "INSERT INTO sho_mcim (mcim_id, operator, platform_id, tre_id, imsi, version, state, seq,"
				    " created, updated) VALUES (?1, ?2, ?3, ?4, ?5, 1, 'issued', ?6, ?7, ?7)"
				    /* back after an operator change: the id again (the TRE
				     * keeps its tombstone), a new IMSI and K */
				    " ON CONFLICT (mcim_id) DO UPDATE SET imsi = ?5, version = 1, state = 'issued', seq = ?6,"
				    " tre_id = ?4, created = ?7, updated = ?7 WHERE sho_mcim.state = 'deleted'");
		if (e == OMC_OK) {
			omc_dbs_bind_text(q, 1, r->id, -1);
			omc_dbs_bind_text(q, 2, op->name, -1);
			omc_dbs_bind_text(q, 3, plat, -1);
			omc_dbs_bind_text(q, 4, tre, -1);
			omc_dbs_bind_text(q, 5, r->imsi, -1);
			omc_dbs_bind_int64(q, 6, (int64_t)*seq);
			omc_dbs_bind_int64(q, 7, (int64_t)srv_now(s));
			int rc = omc_dbs_step(q);
			bool one = omc_db_changes(s->db) == 1;
			srv_sql_done(s, q);
			e = rc == OMC_DB_DONE ? (one ? OMC_OK : OMC_ERR_EXISTS) : omc_db_err(rc);
		}
	}
	if (e == OMC_OK) {
		char role[32];
		snprintf(role, sizeof role, "sho.%s", op->name);
		srv_audit(s, role, "ro", "mcim_issue", r->id, "ok", r->imsi);
		if (!srv_commit(s))
			e = OMC_ERR_IO;
	} else {
		srv_rollback(s);
		omc_aka_cred_wipe(cred);
	}
	if (e == OMC_OK)
		*status = 201;
	return e;
}

static bool mcim_gone(omc_server *s, srv_op *op, const char *tre, const char *id, const char *imsi);

/* Under the lock: the device's MCIM of this SHO is in this TRE and past
 * "issued" (installed, or further on). */
static bool past_issued(omc_server *s, srv_op *op, const char *plat, const char *tre, mcim_row *r)
{
	return mcim_of_device(s, op, plat, r) == OMC_OK && r->found && strcmp(r->state, "issued") != 0 &&
	       !strcmp(r->tre, tre);
}

/* An ISIM-type MCIM's identities (NET-5, TS 23.003 13.3 and 13.4B): the
 * IMPI IMSI@domain, the IMPU sip:IMPI; the domain the operator's, else its
 * home network domain ims.mncMNC.mccMCC.3gppnetwork.org. */
static bool isim_ids(json_t *m, const srv_op *op, const char *imsi)
{
	char dom[64], impi[128], impu[128];
	size_t ml = strlen(op->imsi_prefix) - 3;
	int n = op->ims_domain[0] ? snprintf(dom, sizeof dom, "%s", op->ims_domain)
				  : snprintf(dom, sizeof dom, "ims.mnc%s%.*s.mcc%.3s.3gppnetwork.org", ml == 2 ? "0" : "",
					     (int)ml, op->imsi_prefix + 3, op->imsi_prefix);
	if (n <= 0 || (size_t)n >= sizeof dom)
		return false;
	n = snprintf(impi, sizeof impi, "%s@%s", imsi, dom);
	if (n <= 0 || (size_t)n >= sizeof impi)
		return false;
	n = snprintf(impu, sizeof impu, "sip:%s", impi);
	if (n <= 0 || (size_t)n >= sizeof impu)
		return false;
	return json_object_set_new(m, "impi", json_string(impi)) == 0 &&
	       json_object_set_new(m, "impu", json_string(impu)) == 0;
}

static void mcim_make(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_op *op = l->op;
	char who[SRV_NAME_MAX];
	omc_cert *caller = NULL;
	if (!srv_auth_peer_cert(l, req, resp, ro_callers, 1, who, &caller))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *tre = b ? srv_str(l, resp, b, "tre", 5, 63) : NULL;
	const char *plat = tre ? srv_str(l, resp, b, "platform_id", 21, 21) : NULL;
	const char *nonce = plat ? srv_str(l, resp, b, "nonce", 11, 86) : NULL;
	if (!nonce) {
		omc_cert_free(caller);
		json_decref(b);
		return;
	}
	/* The validated evidence (optional) shows the TRE's registry: an MCIM
	 * of this SHO that the TRE lists as deleted (a recovery from lockdown
	 * erased it, or its deletion receipt was lost) is dead here too, and
	 * a new one can be issued. It can tell something only when this TRE's
	 * MCIM is past "issued": only then is it verified (outside the lock),
	 * and the row read again. */
	const char *ev = json_is_string(json_object_get(b, "evidence")) ? json_string_value(json_object_get(b, "evidence"))
									 : NULL;
	json_t *evc = NULL;
	char ecn[64];
	mcim_row r;
	omc_aka_cred cred;
	OMC_DEFER_WIPE(cred);
	int64_t seq = 0;
	int status = 500;
	srv_lock(s);
	if (ev && past_issued(s, op, plat, tre, &r)) {
		srv_unlock(s);
		if (!(srv_tre_signed(s, ev, strlen(ev), "omc-evidence+jwt", &evc, ecn) && !strcmp(ecn, tre))) {
			json_decref(evc);
			evc = NULL;
		}
		srv_lock(s);
	}
	if (evc && past_issued(s, op, plat, tre, &r)) {
		json_t *reg = json_object_get(evc, "registry");
		for (size_t i = 0; i < json_array_size(reg); i++) {
			json_t *m = json_array_get(reg, i);
			const char *id = json_string_value(json_object_get(m, "id"));
			const char *own = json_string_value(json_object_get(m, "owner"));
			const char *st = json_string_value(json_object_get(m, "state"));
			if (id && own && st && !strcmp(id, r.id) && !strcmp(own, op->name) && !strcmp(st, "deleted"))
				(void)mcim_gone(s, op, tre, r.id, r.imsi);
		}
	}
	json_decref(evc);
	omc_err e = issue(s, op, plat, tre, &r, &cred, &seq, &status);
	srv_unlock(s);
	if (e != OMC_OK) {
		omc_cert_free(caller);
		json_decref(b);
		if (status == 404)
			srv_fail(l, resp, 404, "unknown_device", "no device of this SHO has that platform identity");
		else if (status == 409 && e == OMC_ERR_EXISTS)
			srv_fail(l, resp, 409, "installed", "the device holds an MCIM of this SHO already");
		else if (status == 409)
			srv_fail(l, resp, 409, "other_tre", "the MCIM was issued to another TRE");
		else
			srv_fail(l, resp, 500, "internal", omc_err_name(e));
		return;
	}
	/* The MCIM in package form, the owner's signature, then sealed to the DPF. */
	json_t *m = srv_cred_json(&cred);
	omc_aka_cred_wipe(&cred);
	bool ok = m && json_object_set_new(m, "id", json_string(r.id)) == 0 &&
		  json_object_set_new(m, "owner", json_string(op->name)) == 0 &&
		  json_object_set_new(m, "role", json_string("operational")) == 0 &&
		  json_object_set_new(m, "type", json_string(op->isim ? "isim" : "usim")) == 0 &&
		  (!op->isim || isim_ids(m, op, r.imsi)) &&
		  json_object_set_new(m, "imsi", json_string(r.imsi)) == 0 &&
		  json_object_set_new(m, "version", json_integer(r.version)) == 0 &&
		  json_object_set_new(m, "acl", json_pack("[s]", "agent")) == 0 &&
		  json_object_set_new(m, "profile", json_pack("{s:b,s:I}", "data_only", op->data_only, "volume_cap",
							      (json_int_t)op->volume_cap)) == 0;
	/* Activated at install, but for a direct change: the RO's switch
	 * activates it later. */
	bool activate = !json_is_false(json_object_get(b, "activate"));
	json_t *p = ok ? json_pack("{s:s,s:I,s:s,s:s,s:b,s:I,s:o}", "iss", op->name, "seq", (json_int_t)seq, "tre", tre,
				   "nonce", nonce, "activate", activate, "iat", (json_int_t)srv_now(s), "mcim", m)
		       : NULL;
	if (!ok) /* json_pack's "o" takes m even when it fails */
		json_decref(m);
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *jws = NULL, *jwe = NULL;
	json_decref(p);
	const omc_cert *x5c[1] = {op->cert};
	omc_key *dpf = NULL;
	e = ps ? omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), op->key, x5c, 1, "omc-mcim-package+jwt") : OMC_ERR_NOMEM;
	omc_free(ps); /* wiped: it held K and OPc */
	if (e == OMC_OK)
		e = omc_cert_public_key(&dpf, caller);
	if (e == OMC_OK)
		e = omc_jwe_encrypt(&jwe, (const uint8_t *)jws, strlen(jws), dpf, "omc-mcim-transfer+jwe");
	omc_free(jws);
	omc_key_free(dpf);
	omc_cert_free(caller);
	json_decref(b);
	if (e != OMC_OK) {
		srv_fail(l, resp, 500, "internal", omc_err_name(e));
		return;
	}
	json_t *out = json_pack("{s:s,s:s,s:I,s:s}", "mcim", r.id, "imsi", r.imsi, "seq", (json_int_t)seq, "package", jwe);
	omc_free(jwe);
	srv_reply(l, resp, 201, out);
}

/* A receipt the DPF passes on: the TRE's signed word that it installed. */
static void receipt(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, ro_callers, 1, who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *rc = b ? srv_str(l, resp, b, "receipt", 16, 64 * 1024) : NULL;
	if (!rc) {
		json_decref(b);
		return;
	}
	json_t *p = NULL;
	char cn[64];
	bool sig = srv_tre_signed(s, rc, strlen(rc), "omc-receipt+jwt", &p, cn);
	const char *tre = json_string_value(json_object_get(p, "tre"));
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *mcim = json_string_value(json_object_get(p, "mcim"));
	if (!sig || !tre || !iss || !mcim || strcmp(tre, cn) != 0) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature", "the receipt is not signed by the TRE it names");
		return;
	}
	if (strcmp(iss, l->op->name) != 0) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "not_yours", "the receipt is for another SHO's MCIM");
		return;
	}
	omc_dbs *q;
	bool ok = false;
	srv_lock(s);
	if (srv_sql(s, &q,
		    "UPDATE sho_mcim SET state = 'installed', updated = ?4 WHERE mcim_id = ?1 AND operator = ?2"
		    " AND tre_id = ?3 AND state IN ('issued', 'installed')") == OMC_OK) {
		omc_dbs_bind_text(q, 1, mcim, -1);
		omc_dbs_bind_text(q, 2, l->op->name, -1);
		omc_dbs_bind_text(q, 3, tre, -1);
		omc_dbs_bind_int64(q, 4, (int64_t)srv_now(s));
		ok = omc_dbs_step(q) == OMC_DB_DONE && omc_db_changes(s->db) == 1;
		srv_sql_done(s, q);
	}
	if (ok)
		srv_audit(s, l->name, "ro", "receipt", mcim, "ok", tre);
	srv_unlock(s);
	json_t *out = ok ? json_pack("{s:s,s:s}", "mcim", mcim, "state", "installed") : NULL;
	json_decref(p);
	json_decref(b);
	if (!ok) {
		srv_fail(l, resp, 404, "unknown_mcim", "no MCIM of this SHO matches the receipt");
		return;
	}
	srv_reply(l, resp, 200, out);
}

/* Mark this SHO's MCIM deleted and disable its IMSI in the AuC, if the
 * MCIM is the one issued to that TRE (caller holds the lock). */
static bool mcim_gone(omc_server *s, srv_op *op, const char *tre, const char *id, const char *imsi)
{
	if (!srv_begin(s))
		return false;
	omc_dbs *q;
	bool mine = false, looked = false; /* looked: the row is known to be there or not */
	if (srv_sql(s, &q,
		    "UPDATE sho_mcim SET state = 'deleted', updated = ?5 WHERE mcim_id = ?1 AND operator = ?2"
		    " AND tre_id = ?3 AND imsi = ?4 RETURNING 1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, id, -1);
		omc_dbs_bind_text(q, 2, op->name, -1);
		omc_dbs_bind_text(q, 3, tre, -1);
		omc_dbs_bind_text(q, 4, imsi, -1);
		omc_dbs_bind_int64(q, 5, (int64_t)srv_now(s));
		int rc = omc_dbs_step(q);
		mine = rc == OMC_DB_ROW;
		looked = mine || rc == OMC_DB_DONE;
		srv_sql_done(s, q);
	}
	omc_err e = mine ? omc_auc_disable(op->auc, imsi) : OMC_OK;
	if (mine && e == OMC_OK) {
		char role[32];
		snprintf(role, sizeof role, "sho.%s", op->name);
		srv_audit(s, role, "ro", "mcim_deleted", id, "ok", imsi);
	}
	if (mine && e == OMC_OK)
		return srv_commit(s);
	srv_rollback(s);
	return !mine && looked; /* not ours: nothing to do (a statement that failed is no "not ours") */
}

/* CHG-2: the RO passes the TRE's signed reprovision result; each MCIM of
 * this SHO it lists as gone is marked deleted and its IMSI disabled in
 * the AuC. Taking it twice changes nothing more. */
static void deletions(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, ro_callers, 1, who))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *res = b ? srv_str(l, resp, b, "result", 16, 64 * 1024) : NULL;
	if (!res) {
		json_decref(b);
		return;
	}
	json_t *p = NULL;
	char cn[64];
	bool sig = srv_tre_signed(s, res, strlen(res), "omc-command-result+jwt", &p, cn);
	const char *tre = json_string_value(json_object_get(p, "tre"));
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *cmd = json_string_value(json_object_get(p, "cmd"));
	const char *r = json_string_value(json_object_get(p, "result"));
	const char *mid = json_string_value(json_object_get(p, "mcim"));
	const char *state = json_string_value(json_object_get(p, "state"));
	json_t *del = json_object_get(p, "deleted");
	bool reprov = iss && !strcmp(iss, "ro") && cmd && (!strcmp(cmd, "reprovision") || !strcmp(cmd, "switch")) &&
		      json_is_array(del);
	/* or a `delete` of this SHO's MCIM carried out, its own or the RO's */
	bool own = iss && (!strcmp(iss, l->op->name) || !strcmp(iss, "ro")) && cmd && !strcmp(cmd, "delete") && mid &&
		   state && !strcmp(state, "deleted");
	char own_imsi[16] = "";
	bool own_looked = !own; /* the MCIM's row looked up: known to be there or not */
	if (sig && own) {
		omc_dbs *q;
		srv_lock(s);
		if (srv_sql(s, &q, "SELECT imsi FROM sho_mcim WHERE mcim_id = ?1 AND operator = ?2 AND tre_id = ?3") ==
		    OMC_OK) {
			omc_dbs_bind_text(q, 1, mid, -1);
			omc_dbs_bind_text(q, 2, l->op->name, -1);
			omc_dbs_bind_text(q, 3, cn, -1);
			int rc = omc_dbs_step(q);
			if (rc == OMC_DB_ROW)
				snprintf(own_imsi, sizeof own_imsi, "%s", (const char *)omc_dbs_column_text(q, 0));
			own_looked = rc == OMC_DB_ROW || rc == OMC_DB_DONE;
			srv_sql_done(s, q);
		}
		srv_unlock(s);
	}
	if (!sig || !tre || strcmp(tre, cn) != 0 || !(reprov || own) || !r ||
	    (strcmp(r, "ok") != 0 && strcmp(r, "rolled_back") != 0)) {
		json_decref(p);
		json_decref(b);
		srv_fail(l, resp, 403, "bad_signature",
			 "not a reprovision result (or this SHO's delete) signed by the TRE it names");
		return;
	}
	json_t *gone = json_array();
	bool ok = gone != NULL && own_looked;
	if (ok && own && own_imsi[0]) {
		srv_lock(s);
		ok = mcim_gone(s, l->op, tre, mid, own_imsi);
		srv_unlock(s);
		if (ok)
			json_array_append_new(gone, json_string(own_imsi));
	}
	for (size_t i = 0; ok && reprov && i < json_array_size(del); i++) {
		json_t *d = json_array_get(del, i);
		const char *owner = json_string_value(json_object_get(d, "owner"));
		const char *id = json_string_value(json_object_get(d, "id"));
		const char *imsi = json_string_value(json_object_get(d, "imsi"));
		if (!owner || strcmp(owner, l->op->name) != 0 || !id || !imsi || !srv_digits(imsi, 6, 15))
			continue;
		srv_lock(s);
		ok = mcim_gone(s, l->op, tre, id, imsi);
		srv_unlock(s);
		if (ok)
			json_array_append_new(gone, json_string(imsi));
	}
	json_decref(p);
	json_decref(b);
	if (!ok) {
		json_decref(gone);
		srv_fail(l, resp, 500, "internal", "not recorded");
		return;
	}
	srv_reply(l, resp, 200, json_pack("{s:o}", "disabled", gone));
}

/* MGT-8, MGT-6: a subscriber has its SHO sign a command for one of its
 * devices' MCIMs (or a discover) and queue it at the DPF. */
/* The DPF's open command (queued or fetched) of this SHO for the TRE that
 * is the same as the one asked for (cmd, mcim, update): *id and *seq, or
 * *id 0 when there is none (caller holds the lock). A command sent again
 * after its answer was lost is answered with the first, not queued twice. */
static omc_err open_same(omc_server *s, const srv_op *op, const char *tre, const char *cmd, const char *mcim,
			 const json_t *upd, int64_t *id, int64_t *seq)
{
	*id = 0;
	omc_dbs *q;
	OMC_TRY(srv_sql(s, &q,
			"SELECT id, command FROM dpf_command WHERE tre_id = ?1 AND issuer = ?2"
			" AND state IN ('queued', 'fetched') ORDER BY id"));
	omc_dbs_bind_text(q, 1, tre, -1);
	omc_dbs_bind_text(q, 2, op->name, -1);
	omc_err e = OMC_OK;
	int rc = OMC_DB_DONE;
	while (!*id && (rc = omc_dbs_step(q)) == OMC_DB_ROW) {
		const char *c = (const char *)omc_dbs_column_text(q, 1);
		uint8_t *pl = NULL;
		size_t pn = 0;
		json_error_t je;
		json_t *p = NULL;
		if (c && omc_jws_peek(&pl, &pn, c, strlen(c)) == OMC_OK)
			p = omc_json_loadb((const char *)pl, pn, 0, &je);
		omc_free(pl);
		if (!p) {
			e = OMC_ERR_NOMEM; /* ours, so readable: memory ran out */
			break;
		}
		const char *pc = json_string_value(json_object_get(p, "cmd"));
		const char *pm = json_string_value(json_object_get(p, "mcim"));
		const json_t *pu = json_object_get(p, "update");
		json_t *ps = json_object_get(p, "seq");
		if (pc && pm && json_is_integer(ps) && !strcmp(pc, cmd) && !strcmp(pm, mcim) &&
		    (pu && upd ? json_equal(pu, upd) : pu == upd)) {
			*id = omc_dbs_column_int64(q, 0);
			*seq = (int64_t)json_integer_value(ps);
		}
		json_decref(p);
	}
	if (e == OMC_OK && !*id && rc != OMC_DB_DONE)
		e = omc_db_err(rc);
	srv_sql_done(s, q);
	return e;
}

static void cmd_send(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	srv_op *op = l->op;
	char sub[33];
	if (!srv_auth_subscriber(l, req, resp, sub))
		return;
	json_t *b = srv_body(l, req, resp);
	const char *plat = b ? srv_str(l, resp, b, "platform_id", 21, 21) : NULL;
	const char *cmd = plat ? srv_str(l, resp, b, "cmd", 1, 16) : NULL;
	if (!cmd) {
		json_decref(b);
		return;
	}
	static const char *const cmds[] = {"activate", "deactivate", "block",   "unblock",
					   "delete",   "update",     "discover"};
	bool known = false;
	for (size_t i = 0; i < OMC_ARRAY_LEN(cmds); i++)
		known = known || !strcmp(cmd, cmds[i]);
	json_t *upd = json_object_get(b, "update");
	if (!known || (!strcmp(cmd, "update") != (upd != NULL)) || (upd && !json_is_object(upd))) {
		json_decref(b);
		srv_fail(l, resp, 400, "bad_request",
			 "member cmd: activate, deactivate, block, unblock, delete, update (with an update object)"
			 " or discover");
		return;
	}
	omc_dbs *q;
	mcim_row r;
	memset(&r, 0, sizeof r);
	bool mine = false;
	int64_t seq = 0, open_id = 0;
	omc_err e = OMC_ERR_IO;
	srv_lock(s);
	if (srv_begin(s)) {
		e = srv_sql(s, &q, "SELECT 1 FROM sho_device WHERE operator = ?1 AND platform_id = ?2 AND subscriber = ?3");
		if (e == OMC_OK) {
			omc_dbs_bind_text(q, 1, op->name, -1);
			omc_dbs_bind_text(q, 2, plat, -1);
			omc_dbs_bind_text(q, 3, sub, -1);
			mine = omc_dbs_step(q) == OMC_DB_ROW;
			srv_sql_done(s, q);
		}
		if (e == OMC_OK && mine)
			e = mcim_of_device(s, op, plat, &r);
		if (e == OMC_OK && mine && r.found)
			e = open_same(s, op, r.tre, cmd, strcmp(cmd, "discover") ? r.id : "", upd, &open_id, &seq);
		char cname[40];
		snprintf(cname, sizeof cname, "seq.%s", op->name);
		if (e == OMC_OK && mine && r.found && !open_id)
			e = srv_counter_next(s, cname, &seq);
		if (e == OMC_OK && seq)
			e = srv_commit(s) ? OMC_OK : OMC_ERR_IO;
		else
			srv_rollback(s);
	}
	srv_unlock(s);
	if (e == OMC_OK && open_id) {
		json_decref(b);
		srv_reply(l, resp, 201,
			  json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)open_id, "state", "queued", "mcim", r.id, "seq",
				    (json_int_t)seq));
		return;
	}
	if (e != OMC_OK || !mine || !r.found) {
		json_decref(b);
		if (e != OMC_OK)
			srv_fail(l, resp, 500, "internal", omc_err_name(e));
		else if (!mine)
			srv_fail(l, resp, 404, "unknown_device", "no device of this subscriber has that platform identity");
		else
			srv_fail(l, resp, 409, "no_mcim", "the device holds no MCIM of this SHO");
		return;
	}
	int64_t now = srv_now(s);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:I}", "iss", op->name, "seq", (json_int_t)seq, "tre", r.tre, "cmd",
			      cmd, "mcim", strcmp(cmd, "discover") ? r.id : "", "iat", (json_int_t)now, "exp",
			      (json_int_t)(now + 7 * 86400));
	if (p && upd && json_object_set(p, "update", upd)) {
		json_decref(p);
		p = NULL;
	}
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *jws = NULL;
	json_decref(p);
	json_decref(b);
	const omc_cert *x5c[1] = {op->cert};
	e = ps ? omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), op->key, x5c, 1, "omc-command+jwt") : OMC_ERR_NOMEM;
	omc_free(ps);
	if (e != OMC_OK) {
		srv_fail(l, resp, 500, "internal", omc_err_name(e));
		return;
	}
	int st = 0;
	json_t *a = NULL;
	e = srv_call(s, op->key, op->cert, "POST", srv_peer(s, "dpf"), "/v1/commands",
		     json_pack("{s:s,s:s}", "tre", r.tre, "command", jws), &st, &a);
	omc_free(jws);
	if (e != OMC_OK || st != 201) {
		srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, "the DPF");
		json_decref(a);
		return;
	}
	json_t *id = json_object_get(a, "id");
	json_t *out = json_pack("{s:O,s:s,s:s,s:I}", "id", id, "state", "queued", "mcim", r.id, "seq", (json_int_t)seq);
	json_decref(a);
	srv_reply(l, resp, 201, out);
}

/* A subscriber reads what became of its command: the DPF's state and the
 * TRE's signed result. A `delete` the TRE carried out disables the IMSI. */
static void cmd_status(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char sub[33];
	if (!srv_auth_subscriber(l, req, resp, sub))
		return;
	json_t *b = srv_body(l, req, resp);
	int64_t id = 0;
	if (!b || !srv_int(l, resp, b, "id", 1, INT64_MAX, &id)) {
		json_decref(b);
		return;
	}
	json_decref(b);
	int st = 0;
	json_t *a = NULL;
	omc_err e = srv_call(s, l->op->key, l->op->cert, "POST", srv_peer(s, "dpf"), "/v1/commands/status",
			     json_pack("{s:I}", "id", (json_int_t)id), &st, &a);
	if (e != OMC_OK || st != 200) {
		if (e == OMC_OK && st == 404)
			srv_fail(l, resp, 404, "unknown_command", "no command of this SHO has that id");
		else
			srv_fail_peer(l, resp, e == OMC_OK ? st : 0, a, "the DPF");
		json_decref(a);
		return;
	}
	/* The subscriber sees only its own devices' commands. */
	const char *tre = json_string_value(json_object_get(a, "tre"));
	const char *res = json_string_value(json_object_get(a, "result"));
	omc_dbs *q;
	char plat[32] = "";
	srv_lock(s);
	if (tre && srv_sql(s, &q,
			   "SELECT d.platform_id FROM sho_mcim m JOIN sho_device d ON d.operator = m.operator"
			   " AND d.platform_id = m.platform_id WHERE m.operator = ?1 AND m.tre_id = ?2 AND d.subscriber = ?3"
			   " LIMIT 1") == OMC_OK) {
		omc_dbs_bind_text(q, 1, l->op->name, -1);
		omc_dbs_bind_text(q, 2, tre, -1);
		omc_dbs_bind_text(q, 3, sub, -1);
		if (omc_dbs_step(q) == OMC_DB_ROW)
			snprintf(plat, sizeof plat, "%s", (const char *)omc_dbs_column_text(q, 0));
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (!plat[0]) {
		json_decref(a);
		srv_fail(l, resp, 404, "unknown_command", "no command of this SHO has that id");
		return;
	}
	json_t *c = NULL;
	char cn[64];
	if (res && srv_tre_signed(s, res, strlen(res), "omc-command-result+jwt", &c, cn) && !strcmp(cn, tre)) {
		const char *cmd = json_string_value(json_object_get(c, "cmd"));
		const char *state = json_string_value(json_object_get(c, "state"));
		const char *mid = json_string_value(json_object_get(c, "mcim"));
		mcim_row r;
		srv_lock(s);
		if (cmd && !strcmp(cmd, "delete") && state && !strcmp(state, "deleted") && mid &&
		    mcim_of_device(s, l->op, plat, &r) == OMC_OK && r.found && !strcmp(r.id, mid))
			(void)mcim_gone(s, l->op, tre, r.id, r.imsi);
		srv_unlock(s);
	}
	json_decref(c);
	json_t *out = json_pack("{s:I,s:s,s:O,s:O?}", "id", (json_int_t)id, "platform_id", plat, "state",
				json_object_get(a, "state"), "result", json_object_get(a, "result"));
	json_decref(a);
	srv_reply(l, resp, 200, out);
}

void srv_routes_sho(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/devices", dev_register);
	srv_route_add(l, "GET", "/v1/devices", dev_list);
	srv_route_add(l, "POST", "/v1/mcims", mcim_make);
	srv_route_add(l, "POST", "/v1/receipts", receipt);
	srv_route_add(l, "POST", "/v1/deletions", deletions);
	srv_route_add(l, "POST", "/v1/commands", cmd_send);
	srv_route_add(l, "POST", "/v1/commands/status", cmd_status);
}
