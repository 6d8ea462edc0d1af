/* MCIM installation (MGT-1, SEC-6, SEC-9), signed commands from SHOs and
 * the RO (MGT-4, MGT-6), local lifecycle changes (MGT-7) and recovery from
 * lockdown (TRE-4). Every decision follows one rule: verify, then decrypt,
 * then check, then commit; a refusal changes nothing but the audit log.
 * Formats in docs/objects.md. */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tre/tre_internal.h"

#define PACKAGE_TYP "omc-mcim-package+jwt"
#define RECEIPT_TYP "omc-receipt+jwt"
#define COMMAND_TYP "omc-command+jwt"
#define RESULT_TYP "omc-command-result+jwt"
#define RECOVERY_TYP "omc-recovery+jwt"

/* The common claims of a signed object from an issuer: iss (equal to the
 * signing certificate's CN, and named by the CA the chain ends at), seq
 * (above the last one seen), tre (this TRE). */
typedef struct signed_obj {
	json_t *claims;
	char iss[OMC_MCIM_OWNER_MAX + 1];
	uint64_t seq;
} signed_obj;

static omc_err verify_signed(omc_tre *t, signed_obj *so, const char *jws, size_t len, const char *typ,
			     const omc_anchor_role *roles, size_t n_roles, omc_anchor_role *matched)
{
	memset(so, 0, sizeof *so);
	omc_jws_verified v;
	omc_err e = OMC_ERR_BAD_SIGNATURE;
	size_t r;
	for (r = 0; r < n_roles; r++) {
		size_t na;
		const omc_cert *const *anchors = omc_tre_anchors(t, roles[r], &na);
		if (na == 0)
			continue;
		e = omc_jws_verify_x5c(&v, jws, len, anchors, na, typ, (time_t)omc_tre_now(t));
		if (e == OMC_OK || e == OMC_ERR_BAD_FORMAT || e == OMC_ERR_NOMEM)
			break; /* out of memory: not the next role's signature either */
	}
	OMC_TRY(e);
	*matched = roles[r];
	char cn[64], ca_cn[128];
	size_t na;
	const omc_cert *const *anchors = omc_tre_anchors(t, roles[r], &na);
	e = v.anchor < na ? omc_cert_subject_cn(ca_cn, sizeof ca_cn, anchors[v.anchor]) : OMC_ERR_BUG;
	if (e == OMC_OK)
		e = omc_cert_subject_cn(cn, sizeof cn, v.leaf);
	json_error_t je;
	so->claims = e == OMC_OK ? omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je) : NULL;
	omc_jws_verified_free(&v);
	OMC_TRY(e);
	OMC_ENSURE(so->claims != NULL, OMC_ERR_BAD_FORMAT);
	const json_t *iss = json_object_get(so->claims, "iss"), *seq = json_object_get(so->claims, "seq"),
		     *tre = json_object_get(so->claims, "tre");
	if (!json_is_string(iss) || !omc_mcim_valid_owner(json_string_value(iss)) ||
	    !json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(tre)) {
		json_decref(so->claims);
		so->claims = NULL;
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	snprintf(so->iss, sizeof so->iss, "%s", json_string_value(iss));
	so->seq = (uint64_t)json_integer_value(seq);
	/* The signer speaks only for itself, and only under its own CA: a CA
	 * vouches for the one name its CN begins with ("sho1 CA ..." for
	 * "sho1"), so one operator's CA cannot issue a certificate that speaks
	 * for another (DESIGN invariant 6). */
	size_t il = strlen(so->iss);
	bool own_ca = strncmp(ca_cn, so->iss, il) == 0 && ca_cn[il] == ' ';
	if (strcmp(cn, so->iss) != 0 || !own_ca || strcmp(json_string_value(tre), t->tre_id) != 0) {
		json_decref(so->claims);
		so->claims = NULL;
		OMC_BAIL(OMC_ERR_DENIED);
	}
	return OMC_OK;
}

static void refuse(omc_tre *t, const char *event, const char *actor, const char *subject, omc_err why,
		   const char *detail)
{
	char d[160];
	snprintf(d, sizeof d, "%s%s%s", omc_err_name(why), detail ? ": " : "", detail ? detail : "");
	omc_tre_audit(t, event, actor, subject, "refused", d);
}

static omc_err digest_hex(char out[65], const char *data, size_t len)
{
	uint8_t h[32];
	unsigned n = 0;
	OMC_ENSURE(EVP_Digest(data, len, h, &n, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	return omc_hex_encode(out, 65, h, 32);
}

/* DESIGN invariant 4: the operational MCIMs of one operator at most are
 * activated at a time, so an operator change can never leave two SHOs'
 * credentials both in use. True if activating m would break it. */
static bool other_operator_active(const omc_tre *t, const omc_mcim *m)
{
	if (m->role != OMC_MCIM_ROLE_OPERATIONAL)
		return false;
	for (size_t i = 0; i < t->n_reg; i++)
		if (!strcmp(t->reg[i].role, "operational") && t->reg[i].state == OMC_MCIM_ACTIVATED &&
		    strcmp(t->reg[i].owner, m->owner) != 0 && strcmp(t->reg[i].id, m->id) != 0)
			return true;
	return false;
}

#define OTHER_ACTIVE "another operator's MCIM is activated"

/* The same credential: algorithm, every parameter, K and OPc or TOPc. */
static bool same_cred(const omc_aka_cred *a, const omc_aka_cred *b)
{
	if (a->alg != b->alg)
		return false;
	if (a->alg == OMC_AKA_ALG_MILENAGE) {
		const omc_aka_milenage *x = &a->u.milenage, *y = &b->u.milenage;
		return omc_ct_eq(x->k, y->k, sizeof x->k) & omc_ct_eq(x->opc, y->opc, sizeof x->opc) &
		       omc_ct_eq(x->consts.c, y->consts.c, sizeof x->consts.c) &
		       omc_ct_eq(x->consts.r, y->consts.r, sizeof x->consts.r);
	}
	const omc_aka_tuak *x = &a->u.tuak, *y = &b->u.tuak;
	return x->k_len == y->k_len && x->mac_len == y->mac_len && x->res_len == y->res_len &&
	       x->ck_len == y->ck_len && x->ik_len == y->ik_len && x->iterations == y->iterations &&
	       (omc_ct_eq(x->k, y->k, sizeof x->k) & omc_ct_eq(x->topc, y->topc, sizeof x->topc));
}

/* The package's operational MCIM is the one installed under its id: same
 * owner, IMSI, version, type and credential. Its owner sent it again
 * because the receipt of the first install was lost (the device's process
 * died before it saved it: docs/agent.md); the TRE then signs the receipt
 * again rather than refusing, and keeps the MCIM as it is (its state, its
 * SQN array: nothing of it is reset). */
static bool installed_already(omc_tre *t, const omc_tre_mcim_info *old, const omc_mcim *m)
{
	if (m->role != OMC_MCIM_ROLE_OPERATIONAL || strcmp(old->role, "operational") != 0 ||
	    strcmp(old->owner, m->owner) != 0 || strcmp(old->imsi, m->imsi) != 0 || old->version != m->version)
		return false;
	omc_mcim cur;
	memset(&cur, 0, sizeof cur);
	bool same = omc_tre_load_mcim(t, m->id, &cur) == OMC_OK && cur.has_secrets && cur.type == m->type &&
		    !strcmp(cur.impi, m->impi) && !strcmp(cur.impu, m->impu) && same_cred(&cur.cred, &m->cred);
	omc_mcim_wipe(&cur);
	return same;
}

/* --- install -------------------------------------------------------------------------- */

static omc_err install_checked(omc_tre *t, const char *package, size_t len, char **receipt, char *actor,
			       size_t actor_cap, char *subject, size_t subject_cap, const char **why)
{
	*why = NULL;
	OMC_ENSURE(t->session, OMC_ERR_BAD_STATE);
	int64_t now = omc_tre_now(t);
	/* A clock behind the session's start (a device without a real-time
	 * clock after a restart) is not held against it. */
	if (now > t->session_created && now - t->session_created > OMC_TRE_SESSION_LIFETIME) {
		*why = "session expired";
		OMC_BAIL(OMC_ERR_BAD_STATE);
	}
	/* Decrypt with the session's ephemeral key: only this TRE, in this
	 * session, can open the package (SEC-9). */
	omc_key *eph;
	OMC_TRY(omc_tre_session_key(t, &eph));
	uint8_t *inner;
	size_t inner_len;
	omc_err e = omc_jwe_decrypt(&inner, &inner_len, package, len, eph);
	omc_key_free(eph);
	OMC_TRY(e);

	static const omc_anchor_role roles[] = {OMC_ANCHOR_OPERATOR};
	omc_anchor_role matched;
	signed_obj so;
	e = verify_signed(t, &so, (const char *)inner, inner_len, PACKAGE_TYP, roles, 1, &matched);
	omc_free(inner);
	OMC_TRY(e);
	snprintf(actor, actor_cap, "owner:%s", so.iss);

	omc_mcim m;
	memset(&m, 0, sizeof m);
	const json_t *c = so.claims, *nonce = json_object_get(c, "nonce"), *exp = json_object_get(c, "exp"),
		     *act = json_object_get(c, "activate"), *mj = json_object_get(c, "mcim");
	uint8_t nb[64];
	size_t nl = 0;
	e = OMC_ERR_DENIED;
	if (!json_is_string(nonce) || omc_b64_decode(nb, sizeof nb, &nl, json_string_value(nonce),
						       strlen(json_string_value(nonce)), OMC_B64_URL) != OMC_OK ||
	    nl != t->session_nonce_len || !omc_ct_eq(nb, t->session_nonce, nl)) {
		*why = "session nonce";
		goto out;
	}
	if (exp && (!json_is_integer(exp) || json_integer_value(exp) < omc_tre_now(t))) {
		*why = "expired";
		goto out;
	}
	if (so.seq <= omc_tre_issuer_seq(t, so.iss)) {
		*why = "replayed sequence number";
		goto out;
	}
	if (act && !json_is_boolean(act)) {
		e = OMC_ERR_BAD_FORMAT;
		goto out;
	}
	e = omc_mcim_from_json(&m, mj, true);
	if (e != OMC_OK) {
		*why = "MCIM record";
		goto out;
	}
	snprintf(subject, subject_cap, "mcim:%s", m.id);
	if (strcmp(m.owner, so.iss) != 0) {
		e = OMC_ERR_DENIED;
		*why = "issuer does not own the MCIM";
		goto out;
	}
	const omc_tre_mcim_info *old = omc_tre_reg_find(t, m.id);
	bool live = old && old->state != OMC_MCIM_DELETED;
	/* CHG-4, CHG-5: a bootstrap MCIM arrives only as the renewal of the
	 * live PCID: same id, same owner (the ICO), a higher version. It
	 * replaces the old one in one commit, activated, its SQN state fresh;
	 * any other live id stays taken, and no one installs a bootstrap MCIM
	 * of their own beside it. */
	bool renewal = m.role == OMC_MCIM_ROLE_BOOTSTRAP && live && !strcmp(old->role, "bootstrap") &&
		       !strcmp(old->owner, m.owner) && m.version > old->version;
	bool again = live && !renewal && installed_already(t, old, &m);
	char old_imsi[16] = "";
	uint32_t old_version = 0;
	if (live && !renewal && !again) {
		e = OMC_ERR_EXISTS;
		*why = m.role != OMC_MCIM_ROLE_BOOTSTRAP || strcmp(old->role, "bootstrap") ? NULL
		       : strcmp(old->owner, m.owner)                                   ? "renewal by another owner"
											 : "renewal version not above the PCID's";
		goto out;
	}
	if (m.role == OMC_MCIM_ROLE_BOOTSTRAP && !renewal) {
		e = OMC_ERR_DENIED;
		*why = "a bootstrap MCIM only renews the PCID";
		goto out;
	}
	if (renewal) {
		snprintf(old_imsi, sizeof old_imsi, "%s", old->imsi);
		old_version = old->version;
		act = json_true(); /* the PCID stays usable: the new one activated */
	}
	if (old && strcmp(old->owner, m.owner) != 0) {
		e = OMC_ERR_DENIED; /* a tombstone keeps its id for its owner */
		*why = "id of another owner's MCIM";
		goto out;
	}
	if (t->n_reg >= OMC_TRE_MAX_MCIMS && !old) {
		e = OMC_ERR_EXHAUSTED;
		goto out;
	}
	if (again)
		m.state = old->state;
	else if (json_is_true(act)) {
		e = omc_lifecycle_next(&m.state, m.state, OMC_EV_ACTIVATE, OMC_ACTOR_OWNER);
		if (e != OMC_OK)
			goto out;
		if (other_operator_active(t, &m)) {
			e = OMC_ERR_DENIED;
			*why = OTHER_ACTIVE;
			goto out;
		}
	}

	/* Commit: the MCIM, the issuer's sequence number, the session closed. */
	uint64_t old_seq = omc_tre_issuer_seq(t, so.iss);
	e = omc_tre_issuer_set(t, so.iss, so.seq);
	if (e != OMC_OK)
		goto out;
	char *sess_pem = t->session_key;
	t->session = false;
	t->session_key = NULL;
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	/* A renewal overwrites the PCID's record: no copy of the old K or OPc
	 * stays in either slot. */
	if (renewal)
		x.flags = OMC_STORE_ERASE;
	e = again ? OMC_OK : omc_tre_txn_put_mcim(&x, &m);
	char detail[128];
	if (again)
		snprintf(detail, sizeof detail, "imsi %s version %u %s, installed before: receipt signed again", m.imsi,
			 m.version, omc_mcim_state_name(m.state));
	else if (renewal)
		snprintf(detail, sizeof detail, "imsi %s version %u %s, replaces imsi %s version %u", m.imsi, m.version,
			 omc_mcim_state_name(m.state), old_imsi, old_version);
	else
		snprintf(detail, sizeof detail, "imsi %s version %u %s", m.imsi, m.version,
			 omc_mcim_state_name(m.state));
	omc_audit_event ev = {.time = omc_tre_now(t), .event = renewal ? "renew" : "install", .actor = actor,
			      .subject = subject, .result = "ok", .detail = detail};
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &ev);
	omc_tre_txn_free(&x);
	if (e != OMC_OK) {
		if (omc_tre_issuer_set(t, so.iss, old_seq) != OMC_OK)
			OMC_LOG_ERR("tre", "could not restore the issuer sequence of %s", so.iss);
		t->session = true;
		t->session_key = sess_pem;
		goto out;
	}
	omc_free(sess_pem);
	omc_memzero(t->session_nonce, sizeof t->session_nonce);
	t->session_nonce_len = 0;
	e = omc_tre_reload_registry(t);
	if (e != OMC_OK)
		goto out;

	/* The signed receipt. */
	char dg[65];
	e = digest_hex(dg, package, len);
	if (e != OMC_OK)
		goto out;
	json_t *r = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "tre", t->tre_id, "iss", so.iss, "seq",
			      (json_int_t)so.seq, "result", renewal ? "replaced" : "installed", "mcim", m.id, "imsi", m.imsi,
			      "version", (json_int_t)m.version, "state", omc_mcim_state_name(m.state), "package_sha256", dg,
			      "iat", (json_int_t)omc_tre_now(t));
	if (r && renewal &&
	    json_object_set_new(r, "replaced", json_pack("{s:s,s:I}", "imsi", old_imsi, "version", (json_int_t)old_version))) {
		json_decref(r);
		r = NULL;
	}
	e = r ? omc_tre_sign(t, RECEIPT_TYP, r, receipt) : OMC_ERR_NOMEM;
	json_decref(r);
out:
	omc_mcim_wipe(&m);
	json_decref(so.claims);
	return e;
}

omc_err omc_tre_install(omc_tre *t, const char *package, size_t len, char **receipt)
{
	OMC_ENSURE(t && package && receipt, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	*receipt = NULL;
	if (t->lockdown || !t->store)
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	char actor[40] = "other", subject[64] = "mcim";
	const char *why = NULL;
	/* SEC-3: no credential goes into a platform that failed its
	 * measurement, whatever a validator may have said. */
	if (!t->platform_ok) {
		refuse(t, "install", actor, subject, OMC_ERR_TAMPERED, "platform anomaly");
		OMC_BAIL(OMC_ERR_TAMPERED);
	}
	omc_err e = install_checked(t, package, len, receipt, actor, sizeof actor, subject, sizeof subject, &why);
	if (e != OMC_OK)
		refuse(t, "install", actor, subject, e, why);
	return e;
}

/* The statement of the last end of a trial, kept so that it can be given
 * again (the agent's process may die before it saved the first): the
 * object {"statement": JWS}, or {} from the start of a trial until its end
 * (a trial ended otherwise, by a delete, a recovery or a reprovision, has
 * none). */
#define SWITCH_ID "tre/switch"

static omc_err txn_put_switch(omc_tre_txn *x, const char *statement)
{
	json_t *o = statement ? json_pack("{s:s}", "statement", statement) : json_object();
	char *buf = o ? omc_json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	OMC_ENSURE(buf != NULL, OMC_ERR_NOMEM);
	return omc_tre_txn_put(x, SWITCH_ID, buf, strlen(buf));
}

static omc_err switch_statement_again(omc_tre *t, char **statement)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	omc_err e = omc_store_get(t->store, SWITCH_ID, &buf, &len);
	if (e == OMC_ERR_NOT_FOUND)
		OMC_BAIL(OMC_ERR_BAD_STATE);
	OMC_TRY(e);
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	omc_free(buf);
	const char *st = json_string_value(json_object_get(o, "statement"));
	e = !o ? OMC_ERR_CORRUPT : !st ? OMC_ERR_BAD_STATE : OMC_OK;
	size_t n = st ? strlen(st) : 0;
	if (e == OMC_OK && (*statement = omc_alloc(n + 1)) == NULL)
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK)
		memcpy(*statement, st, n + 1);
	json_decref(o);
	return e;
}

/* --- signed commands ---------------------------------------------------------------------- */

static omc_err result_sign(omc_tre *t, const signed_obj *so, const char *cmd, const char *mcim, bool ok,
			   const char *reason, const char *state, const char *extra_key, json_t *extra, char **out)
{
	json_t *r = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:I}", "tre", t->tre_id, "iss", so->iss, "seq",
			      (json_int_t)so->seq, "cmd", cmd, "mcim", mcim ? mcim : "", "result",
			      ok ? "ok" : "refused", "reason", reason ? reason : "", "state", state ? state : "",
			      "iat", (json_int_t)omc_tre_now(t));
	if (r && extra && json_object_set(r, extra_key, extra)) {
		json_decref(r);
		r = NULL;
	}
	omc_err e = r ? omc_tre_sign(t, RESULT_TYP, r, out) : OMC_ERR_NOMEM;
	json_decref(r);
	return e;
}

static omc_err command_event(omc_mcim_event *ev, const char *cmd)
{
	static const struct {
		const char *name;
		omc_mcim_event ev;
	} map[] = {{"activate", OMC_EV_ACTIVATE}, {"deactivate", OMC_EV_DEACTIVATE}, {"block", OMC_EV_BLOCK},
		   {"unblock", OMC_EV_UNBLOCK},   {"delete", OMC_EV_DELETE}};
	for (size_t i = 0; i < OMC_ARRAY_LEN(map); i++)
		if (!strcmp(cmd, map[i].name)) {
			*ev = map[i].ev;
			return OMC_OK;
		}
	OMC_BAIL(OMC_ERR_BAD_FORMAT);
}

/* Apply a lifecycle event to a record and commit it with its audit record. */
static omc_err apply_event(omc_tre *t, omc_mcim *m, omc_mcim_event ev, omc_actor_kind actor, const char *actor_s)
{
	omc_mcim_state to;
	char subject[64];
	snprintf(subject, sizeof subject, "mcim:%s", m->id);
	omc_err e = omc_lifecycle_next(&to, m->state, ev, actor);
	if (e != OMC_OK) {
		char d[96];
		snprintf(d, sizeof d, "%s from %s by %s not in the table", omc_mcim_event_name(ev),
			 omc_mcim_state_name(m->state), omc_actor_kind_name(actor));
		omc_tre_audit(t, "lifecycle", actor_s, subject, "refused", d);
		return e;
	}
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	char d[96];
	snprintf(d, sizeof d, "%s: %s -> %s", omc_mcim_event_name(ev), omc_mcim_state_name(m->state),
		 omc_mcim_state_name(to));
	m->state = to;
	/* A switch on trial loses what is deleted: the MCIM switched to (the
	 * trial ends) or one it would restore (dropped from the list). */
	bool trial = t->trial;
	size_t n_from = t->n_trial_from;
	char from[OMC_TRE_TRIAL_MAX][OMC_MCIM_ID_MAX + 1];
	memcpy(from, t->trial_from, sizeof from);
	if (to == OMC_MCIM_DELETED) {
		omc_mcim_make_tombstone(m);
		x.flags = OMC_STORE_ERASE; /* no copy of K or OPc stays in either slot */
		if (t->trial && !strcmp(t->trial_to, m->id))
			t->trial = false;
		for (size_t i = 0; t->trial && i < t->n_trial_from; i++)
			if (!strcmp(t->trial_from[i], m->id)) {
				memmove(t->trial_from[i], t->trial_from[i + 1],
					(t->n_trial_from - i - 1) * sizeof t->trial_from[0]);
				t->n_trial_from--;
				break;
			}
	}
	e = omc_tre_txn_put_mcim(&x, m);
	omc_audit_event aev = {.time = omc_tre_now(t), .event = "lifecycle", .actor = actor_s, .subject = subject,
			       .result = "ok", .detail = d};
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &aev);
	if (e != OMC_OK) {
		t->trial = trial;
		t->n_trial_from = n_from;
		memcpy(t->trial_from, from, sizeof from);
	}
	omc_tre_txn_free(&x);
	if (e == OMC_OK)
		e = omc_tre_reload_registry(t);
	return e;
}

static omc_err discover(omc_tre *t, const char *iss, json_t **out)
{
	json_t *a = json_array();
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	for (size_t i = 0; i < t->n_reg; i++) {
		if (strcmp(t->reg[i].owner, iss) != 0)
			continue; /* MGT-6: its own MCIMs only */
		if (json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", t->reg[i].id, "imsi",
						       t->reg[i].imsi, "role", t->reg[i].role, "state",
						       omc_mcim_state_name(t->reg[i].state), "version",
						       (json_int_t)t->reg[i].version))) {
			json_decref(a);
			OMC_BAIL(OMC_ERR_NOMEM);
		}
	}
	*out = a;
	return OMC_OK;
}

/* CHG-1/2: the RO's `reprovision`. Every operational MCIM that is not
 * deleted (of `owner` only, if the command names one) is crypto-erased in
 * one commit (tombstones stay); the PCID stays. *out lists what is gone:
 * the deletion receipt each old SHO gets. With an owner, its earlier
 * tombstones are listed too (erased false), so that a reprovision sent
 * again after a lost result still tells that SHO which IMSIs are dead. */
static omc_err reprovision(omc_tre *t, const char *actor_s, const char *owner, json_t **out)
{
	json_t *a = json_array();
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	x.flags = OMC_STORE_ERASE;
	omc_err e = OMC_OK;
	size_t n = 0;
	for (size_t i = 0; i < t->n_reg && e == OMC_OK; i++) {
		const omc_tre_mcim_info *r = &t->reg[i];
		if (strcmp(r->role, "operational") != 0 || (owner && strcmp(r->owner, owner) != 0))
			continue;
		bool erase = r->state != OMC_MCIM_DELETED;
		if (!erase && !owner)
			continue;
		if (!erase) {
			if (json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:b}", "id", r->id, "owner", r->owner,
							       "imsi", r->imsi, "version", (json_int_t)r->version,
							       "erased", 0)))
				e = OMC_ERR_NOMEM;
			continue;
		}
		omc_mcim m;
		e = omc_tre_load_mcim(t, r->id, &m);
		if (e == OMC_OK) {
			omc_mcim_make_tombstone(&m);
			e = omc_tre_txn_put_mcim(&x, &m);
		}
		if (e == OMC_OK &&
		    json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:b}", "id", m.id, "owner", m.owner, "imsi", m.imsi,
						       "version", (json_int_t)m.version, "erased", 1)))
			e = OMC_ERR_NOMEM;
		omc_mcim_wipe(&m);
		n++;
	}
	char d[96];
	snprintf(d, sizeof d, "%zu MCIM(s) erased%s%s", n, owner ? " of " : "", owner ? owner : "");
	/* A switch on trial whose MCIMs are erased has nothing to confirm. */
	bool trial = t->trial;
	if (!owner)
		t->trial = false;
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "reprovision", .actor = actor_s, .subject = "tre",
			      .result = "ok", .detail = d};
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &ev);
	if (e != OMC_OK)
		t->trial = trial;
	omc_tre_txn_free(&x);
	if (e == OMC_OK)
		e = omc_tre_reload_registry(t);
	if (e != OMC_OK) {
		json_decref(a);
		return e;
	}
	*out = a;
	return OMC_OK;
}

/* Direct change (as SGP.02 and SGP.32 do): the RO's `switch` to MCIM
 * `to` (installed, not activated, downloaded over the old SHO's
 * connectivity): in one commit every activated operational MCIM of another
 * owner is deactivated and `to` activated, on trial. The device then
 * attaches with `to` and confirms (the old ones are erased) or rolls back
 * (they are activated again and `to` erased). */
static omc_err switch_to(omc_tre *t, const char *to, uint64_t seq, const char *actor_s, const char **reason)
{
	const omc_tre_mcim_info *ri = to ? omc_tre_reg_find(t, to) : NULL;
	if (t->trial) {
		*reason = "a switch is on trial";
		OMC_BAIL(OMC_ERR_BAD_STATE);
	}
	if (!ri || strcmp(ri->role, "operational") != 0 ||
	    (ri->state != OMC_MCIM_INSTALLED && ri->state != OMC_MCIM_DEACTIVATED)) {
		*reason = "no such MCIM";
		OMC_BAIL(OMC_ERR_NOT_FOUND);
	}
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	omc_err e = OMC_OK;
	size_t n = 0;
	char from[OMC_TRE_TRIAL_MAX][OMC_MCIM_ID_MAX + 1];
	for (size_t i = 0; i < t->n_reg && e == OMC_OK; i++) {
		const omc_tre_mcim_info *r = &t->reg[i];
		if (strcmp(r->role, "operational") != 0 || r->state != OMC_MCIM_ACTIVATED || !strcmp(r->owner, ri->owner))
			continue;
		if (n == OMC_TRE_TRIAL_MAX) {
			e = OMC_ERR_EXHAUSTED;
			break;
		}
		omc_mcim m;
		e = omc_tre_load_mcim(t, r->id, &m);
		if (e == OMC_OK) {
			m.state = OMC_MCIM_DEACTIVATED;
			e = omc_tre_txn_put_mcim(&x, &m);
			snprintf(from[n++], sizeof from[0], "%s", m.id);
		}
		omc_mcim_wipe(&m);
	}
	omc_mcim nm;
	memset(&nm, 0, sizeof nm);
	if (e == OMC_OK)
		e = omc_tre_load_mcim(t, to, &nm);
	if (e == OMC_OK) {
		nm.state = OMC_MCIM_ACTIVATED;
		e = omc_tre_txn_put_mcim(&x, &nm);
	}
	omc_mcim_wipe(&nm);
	if (e == OMC_OK)
		e = txn_put_switch(&x, NULL); /* the statement of the trial before is not this one's */
	char subject[64], d[96];
	snprintf(subject, sizeof subject, "mcim:%s", to);
	snprintf(d, sizeof d, "on trial: %zu MCIM(s) of other owners deactivated", n);
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "switch", .actor = actor_s, .subject = subject,
			      .result = "ok", .detail = d};
	if (e == OMC_OK) {
		t->trial = true;
		snprintf(t->trial_to, sizeof t->trial_to, "%s", to);
		memcpy(t->trial_from, from, sizeof from);
		t->n_trial_from = n;
		t->trial_seq = seq;
		e = omc_tre_commit(t, &x, &ev);
		if (e != OMC_OK)
			t->trial = false;
	}
	omc_tre_txn_free(&x);
	if (e == OMC_OK)
		e = omc_tre_reload_registry(t);
	if (e != OMC_OK && !*reason)
		*reason = omc_err_name(e);
	return e;
}

/* MGT-8: the owner's `update`: a higher version of the MCIM's ACL,
 * sharing policy, service profile or expiry, in one commit. */
static omc_err update(omc_tre *t, omc_mcim *m, const json_t *u, const char *actor_s, const char **reason)
{
	omc_err e = omc_mcim_apply_update(m, u);
	if (e != OMC_OK) {
		*reason = e == OMC_ERR_DENIED ? "version not above the installed one" : "bad update";
		return e;
	}
	if (m->state == OMC_MCIM_DELETED) {
		*reason = "not allowed";
		OMC_BAIL(OMC_ERR_DENIED);
	}
	char subject[64], d[64];
	snprintf(subject, sizeof subject, "mcim:%s", m->id);
	snprintf(d, sizeof d, "version %u", m->version);
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	e = omc_tre_txn_put_mcim(&x, m);
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "update", .actor = actor_s, .subject = subject,
			      .result = "ok", .detail = d};
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &ev);
	omc_tre_txn_free(&x);
	if (e == OMC_OK)
		e = omc_tre_reload_registry(t);
	if (e != OMC_OK)
		*reason = omc_err_name(e);
	return e;
}

omc_err omc_tre_command(omc_tre *t, const char *command, size_t len, char **result, bool *applied)
{
	OMC_ENSURE(t && command && result && applied, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	*result = NULL;
	*applied = false;
	if (t->lockdown || !t->store)
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	/* A store that a failed commit left waiting for a reopen would turn
	 * every command into a signed refusal it cannot even audit. */
	OMC_ENSURE(!omc_store_poisoned(t->store), OMC_ERR_BAD_STATE);
	static const omc_anchor_role roles[] = {OMC_ANCHOR_OPERATOR, OMC_ANCHOR_RO};
	omc_anchor_role matched;
	signed_obj so;
	omc_err e = verify_signed(t, &so, command, len, COMMAND_TYP, roles, 2, &matched);
	if (e != OMC_OK) {
		refuse(t, "command", "other", "tre", e, NULL);
		return e;
	}
	char actor_s[40];
	snprintf(actor_s, sizeof actor_s, "%s:%s", matched == OMC_ANCHOR_RO ? "ro" : "owner", so.iss);
	const json_t *cj = json_object_get(so.claims, "cmd"), *mj = json_object_get(so.claims, "mcim");
	const char *cmd = json_is_string(cj) ? json_string_value(cj) : "";
	const char *mid = json_is_string(mj) ? json_string_value(mj) : NULL;
	if (so.seq <= omc_tre_issuer_seq(t, so.iss)) {
		refuse(t, "command", actor_s, "tre", OMC_ERR_DENIED, "replayed sequence number");
		json_decref(so.claims);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	/* A command may say until when it holds ("exp", seconds since the
	 * epoch), so that one signed but held back does not stay good for
	 * ever; an expired one consumes nothing. */
	const json_t *exp = json_object_get(so.claims, "exp");
	if (exp && (!json_is_integer(exp) || json_integer_value(exp) < omc_tre_now(t))) {
		refuse(t, "command", actor_s, "tre", OMC_ERR_DENIED, "expired");
		json_decref(so.claims);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	/* An authentic, fresh command consumes its sequence number whatever
	 * the outcome; the state and the audit record go in one commit below,
	 * or alone for a refusal. */
	const uint64_t old_seq = omc_tre_issuer_seq(t, so.iss);
	e = omc_tre_issuer_set(t, so.iss, so.seq);
	if (e != OMC_OK) {
		json_decref(so.claims);
		return e;
	}
	const char *reason = NULL, *extra_key = "mcims";
	bool ok = false;
	/* Out of memory on the way is no outcome: nothing is audited, the
	 * sequence number is not consumed, and the caller gets NOMEM and may
	 * send the same command again. */
	omc_err fatal = OMC_OK;
	json_t *extra = NULL;
	omc_mcim m;
	memset(&m, 0, sizeof m);
	char subject[64];
	snprintf(subject, sizeof subject, "mcim:%s", mid ? mid : "-");
	if (!strcmp(cmd, "discover")) {
		if (matched != OMC_ANCHOR_OPERATOR) {
			reason = "discover is for MCIM owners";
		} else if (mid && mid[0]) {
			const omc_tre_mcim_info *r = omc_tre_reg_find(t, mid);
			if (!r || strcmp(r->owner, so.iss) != 0)
				reason = "not the owner"; /* another SHO's MCIM: refused, audited */
		}
		if (!reason && (e = discover(t, so.iss, &extra)) == OMC_OK)
			ok = true;
		if (!reason && !ok) {
			reason = "internal error";
			fatal = omc_nomem_or(e, OMC_OK);
		}
		if (fatal == OMC_OK)
			omc_tre_audit(t, "discover", actor_s, subject, ok ? "ok" : "refused", reason);
	} else if (!strcmp(cmd, "reprovision")) {
		extra_key = "deleted";
		if (matched != OMC_ANCHOR_RO)
			reason = "reprovision is for the RO";
		else if (json_object_get(so.claims, "owner") &&
			 (!json_is_string(json_object_get(so.claims, "owner")) ||
			  !omc_mcim_valid_owner(json_string_value(json_object_get(so.claims, "owner")))))
			reason = "bad owner";
		else if ((e = reprovision(t, actor_s, json_string_value(json_object_get(so.claims, "owner")), &extra)) ==
			 OMC_OK)
			ok = true;
		else
			reason = omc_err_name(e), fatal = omc_nomem_or(e, OMC_OK);
		if (!ok && fatal == OMC_OK)
			omc_tre_audit(t, "reprovision", actor_s, "tre", "refused", reason);
	} else if (!strcmp(cmd, "switch")) {
		if (matched != OMC_ANCHOR_RO)
			reason = "switch is for the RO";
		else if ((e = switch_to(t, mid, so.seq, actor_s, &reason)) == OMC_OK)
			ok = true;
		else
			fatal = omc_nomem_or(e, OMC_OK);
		if (!ok && fatal == OMC_OK)
			omc_tre_audit(t, "switch", actor_s, subject, "refused", reason);
	} else if (!strcmp(cmd, "renew_pcid")) {
		/* NET-7: the network asks for a new PCID. Nothing changes here;
		 * the signed result tells the agent to ask the ICO now. From the
		 * RO, or from the owner of the bootstrap MCIM it names. */
		const char *pid = mid && mid[0] ? mid : "pcid";
		const omc_tre_mcim_info *ri = omc_tre_reg_find(t, pid);
		if (!ri || strcmp(ri->role, "bootstrap") != 0 || ri->state == OMC_MCIM_DELETED)
			reason = "no such MCIM";
		else if (matched != OMC_ANCHOR_RO && strcmp(ri->owner, so.iss) != 0)
			reason = "no such MCIM"; /* another owner's: audited, not told */
		else
			ok = true;
		if (ok)
			mid = pid;
		omc_tre_audit(t, "command", actor_s, subject, ok ? "ok" : "refused",
			      ok ? "renew_pcid" : ri ? "renew_pcid: not the PCID's owner" : reason);
	} else if (!strcmp(cmd, "update")) {
		const omc_tre_mcim_info *ri = mid ? omc_tre_reg_find(t, mid) : NULL;
		const char *audit_reason = NULL;
		if (!mid) {
			reason = "unknown command";
		} else if (!ri || matched != OMC_ANCHOR_OPERATOR || strcmp(ri->owner, so.iss) != 0) {
			reason = "no such MCIM"; /* the owner alone updates; others learn nothing */
			audit_reason = ri ? "another owner's MCIM" : reason;
		} else if ((e = omc_tre_load_mcim(t, mid, &m)) != OMC_OK) {
			reason = "no such MCIM";
			fatal = omc_nomem_or(e, OMC_OK);
		} else if ((e = update(t, &m, json_object_get(so.claims, "update"), actor_s, &reason)) == OMC_OK) {
			ok = true;
		} else {
			fatal = omc_nomem_or(e, OMC_OK);
		}
		if (!ok && fatal == OMC_OK)
			omc_tre_audit(t, "command", actor_s, subject, "refused", audit_reason ? audit_reason : reason);
	} else {
		omc_mcim_event ev = (omc_mcim_event)0;
		/* Another owner's MCIM gets the same answer as one that does not
		 * exist, so that no SHO learns which ids others hold (MGT-6); the
		 * audit record says which it was. */
		const omc_tre_mcim_info *ri = mid ? omc_tre_reg_find(t, mid) : NULL;
		bool visible = ri && (matched == OMC_ANCHOR_RO || !strcmp(ri->owner, so.iss));
		const char *audit_reason = NULL;
		if (command_event(&ev, cmd) != OMC_OK || !mid) {
			reason = "unknown command";
		} else if (!visible) {
			reason = "no such MCIM";
			audit_reason = ri ? "another owner's MCIM" : reason;
		} else if ((e = omc_tre_load_mcim(t, mid, &m)) != OMC_OK) {
			reason = "no such MCIM";
			fatal = omc_nomem_or(e, OMC_OK);
		} else if (ev == OMC_EV_ACTIVATE && other_operator_active(t, &m)) {
			reason = OTHER_ACTIVE;
		} else {
			omc_actor_kind kind = matched == OMC_ANCHOR_RO ? OMC_ACTOR_RO
					      : !strcmp(m.owner, so.iss) ? OMC_ACTOR_OWNER
									 : OMC_ACTOR_OTHER;
			e = apply_event(t, &m, ev, kind, actor_s);
			if (e == OMC_OK)
				ok = true;
			else
				reason = e == OMC_ERR_DENIED ? "not allowed" : omc_err_name(e);
			fatal = omc_nomem_or(e, OMC_OK);
		}
		if (!ok && fatal == OMC_OK && reason && strcmp(reason, "not allowed") != 0)
			omc_tre_audit(t, "command", actor_s, subject, "refused", audit_reason ? audit_reason : reason);
	}
	if (fatal != OMC_OK) {
		/* in memory: nothing was committed; the entry exists, so this cannot fail */
		if (omc_tre_issuer_set(t, so.iss, old_seq) != OMC_OK)
			OMC_LOG_ERR("tre", "issuer sequence not restored");
		json_decref(extra);
		omc_mcim_wipe(&m);
		json_decref(so.claims);
		return fatal;
	}
	const omc_tre_mcim_info *r = mid ? omc_tre_reg_find(t, mid) : NULL;
	const char *state = r && (!strcmp(r->owner, so.iss) || matched == OMC_ANCHOR_RO) ? omc_mcim_state_name(r->state)
											: "";
	e = result_sign(t, &so, cmd, mid, ok, reason, state, extra_key, extra, result);
	json_decref(extra);
	omc_mcim_wipe(&m);
	json_decref(so.claims);
	*applied = ok;
	return e;
}

/* The end of a switch's trial: confirm (erase the MCIMs it deactivated)
 * or roll back (activate them again, erase the one switched to). One
 * commit; *statement is the TRE's signed result of the RO's `switch`
 * (iss "ro", its seq, cmd "switch", result "ok" or "rolled_back") with
 * `deleted` (what was erased: the receipt for its owners) and `restored`.
 * It is signed before the commit and kept by it (SWITCH_ID): with no trial
 * on, the last one's is given again. */
static omc_err switch_end(omc_tre *t, bool confirm, char **statement)
{
	OMC_ENSURE(t && statement, OMC_ERR_BAD_ARG);
	*statement = NULL;
	if (t->lockdown || !t->store)
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	if (!t->trial)
		return switch_statement_again(t, statement);
	json_t *del = json_array(), *res = json_array();
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	x.flags = OMC_STORE_ERASE;
	omc_err e = del && res ? OMC_OK : OMC_ERR_NOMEM;
	char to[OMC_MCIM_ID_MAX + 1];
	snprintf(to, sizeof to, "%s", t->trial_to);
	/* The state `to` ends in: as the registry has it, unless changed here. */
	const omc_tre_mcim_info *r = omc_tre_reg_find(t, to);
	const char *to_state = r ? omc_mcim_state_name(r->state) : "";
	for (size_t i = 0; i < t->n_trial_from + 1 && e == OMC_OK; i++) {
		const char *id = i < t->n_trial_from ? t->trial_from[i] : t->trial_to;
		bool erase = confirm == (i < t->n_trial_from);
		omc_mcim m;
		omc_err le = omc_tre_load_mcim(t, id, &m);
		if (le == OMC_ERR_NOMEM) {
			e = le; /* not unreadable: skipping it would keep an old MCIM */
			break;
		}
		if (le != OMC_OK)
			continue; /* unreadable: nothing to restore, nothing to erase */
		if (m.state == OMC_MCIM_DELETED) {
			omc_mcim_wipe(&m);
			continue;
		}
		if (erase) {
			omc_mcim_make_tombstone(&m);
			if (json_array_append_new(del, json_pack("{s:s,s:s,s:s,s:I,s:b}", "id", m.id, "owner", m.owner, "imsi",
								 m.imsi, "version", (json_int_t)m.version, "erased", 1)))
				e = OMC_ERR_NOMEM;
		} else if (i < t->n_trial_from && m.state == OMC_MCIM_DEACTIVATED) {
			m.state = OMC_MCIM_ACTIVATED;
			if (json_array_append_new(res, json_pack("{s:s,s:s}", "id", m.id, "owner", m.owner)))
				e = OMC_ERR_NOMEM;
		}
		if (i == t->n_trial_from)
			to_state = omc_mcim_state_name(m.state);
		if (e == OMC_OK)
			e = omc_tre_txn_put_mcim(&x, &m);
		omc_mcim_wipe(&m);
	}
	uint64_t seq = t->trial_seq;
	char *stmt = NULL;
	if (e == OMC_OK && confirm) {
		signed_obj so = {.seq = seq};
		snprintf(so.iss, sizeof so.iss, "ro");
		e = result_sign(t, &so, "switch", to, true, "", to_state, "deleted", del, &stmt);
	} else if (e == OMC_OK) {
		/* result "rolled_back", and the MCIMs restored */
		json_t *rj = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:O}", "tre", t->tre_id, "iss", "ro", "seq",
				       (json_int_t)seq, "cmd", "switch", "mcim", to, "result", "rolled_back", "reason", "",
				       "state", to_state, "iat", (json_int_t)omc_tre_now(t), "deleted", del, "restored", res);
		e = rj ? omc_tre_sign(t, RESULT_TYP, rj, &stmt) : OMC_ERR_NOMEM;
		json_decref(rj);
	}
	if (e == OMC_OK)
		e = txn_put_switch(&x, stmt);
	char subject[64];
	snprintf(subject, sizeof subject, "mcim:%s", to);
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "switch", .actor = "tre", .subject = subject,
			      .result = "ok", .detail = confirm ? "confirmed: the old MCIMs erased" : "rolled back"};
	if (e == OMC_OK) {
		t->trial = false;
		e = omc_tre_commit(t, &x, &ev);
		if (e != OMC_OK)
			t->trial = true;
	}
	omc_tre_txn_free(&x);
	if (e == OMC_OK)
		e = omc_tre_reload_registry(t);
	if (e == OMC_OK) {
		*statement = stmt;
		stmt = NULL;
	}
	omc_free(stmt);
	json_decref(del);
	json_decref(res);
	return e;
}

omc_err omc_tre_switch_confirm(omc_tre *t, char **statement)
{
	return switch_end(t, true, statement);
}

omc_err omc_tre_switch_rollback(omc_tre *t, char **statement)
{
	return switch_end(t, false, statement);
}

/* --- local lifecycle ------------------------------------------------------------------------ */

static bool acl_allows(const omc_mcim *m, const char *name)
{
	for (size_t i = 0; i < m->n_acl; i++)
		if (!strcmp(m->acl[i], name))
			return true;
	return false;
}

omc_err omc_tre_local_lifecycle(omc_tre *t, const omc_tre_caller *caller, const char *mcim_id, omc_mcim_event event)
{
	OMC_ENSURE(t && caller && mcim_id, OMC_ERR_BAD_ARG);
	if (t->lockdown || !t->store)
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	omc_mcim m;
	OMC_TRY(omc_tre_load_mcim(t, mcim_id, &m));
	char actor[48];
	snprintf(actor, sizeof actor, "user:%s", caller->name);
	/* MGT-7, TRE-10: a local user changes an MCIM's state only if the
	 * MCIM's ACL names it and its role allows it (admin or operator; a
	 * plain user may run AKA, nothing more). */
	const omc_user *u = caller->kind == OMC_ACTOR_USER ? omc_users_find(&t->users, caller->name) : NULL;
	bool role_ok = u && !u->blocked && (u->role == OMC_USER_ROLE_ADMIN || u->role == OMC_USER_ROLE_OPERATOR);
	omc_actor_kind kind = role_ok && acl_allows(&m, caller->name) ? OMC_ACTOR_USER : OMC_ACTOR_OTHER;
	if (event == OMC_EV_ACTIVATE && other_operator_active(t, &m)) {
		char subject[64];
		snprintf(subject, sizeof subject, "mcim:%s", m.id);
		omc_tre_audit(t, "lifecycle", actor, subject, "refused", OTHER_ACTIVE);
		omc_mcim_wipe(&m);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	omc_err e = apply_event(t, &m, event, kind, actor);
	omc_mcim_wipe(&m);
	return e;
}

/* --- recovery ---------------------------------------------------------------------------------- */

/* The factory PCID again (identity.sealed keeps it), if the bootstrap MCIM
 * of that id is blocked, deleted or missing: activated, and accepting only
 * SQNs above any a bootstrap MCIM accepted before (pcid_sqn in the TRE
 * state, and the old record's own if it still reads). */
static omc_err restore_pcid(omc_tre *t, omc_tre_txn *x, bool *restored)
{
	*restored = false;
	if (!t->factory_pcid)
		return OMC_OK;
	json_error_t je;
	json_t *p = omc_json_loadb(t->factory_pcid, t->factory_pcid_len, 0, &je);
	OMC_ENSURE(p != NULL, OMC_ERR_CORRUPT);
	omc_mcim rec;
	omc_err e = omc_mcim_from_json(&rec, p, true);
	json_decref(p);
	OMC_TRY(e);
	const omc_tre_mcim_info *cur = omc_tre_reg_find(t, rec.id);
	if (cur && cur->state != OMC_MCIM_BLOCKED && cur->state != OMC_MCIM_DELETED) {
		omc_mcim_wipe(&rec);
		return OMC_OK; /* the PCID is fine as it is */
	}
	uint64_t floor = t->pcid_sqn;
	omc_mcim old;
	if (cur && omc_tre_load_mcim(t, rec.id, &old) == OMC_OK) {
		uint64_t s = omc_aka_sqn_ms_sqn(&old.sqn);
		if (s > floor)
			floor = s;
		if (old.version >= rec.version)
			rec.version = old.version + 1;
		omc_mcim_wipe(&old);
	}
	e = omc_aka_sqn_ms_set_floor(&rec.sqn, floor);
	if (e == OMC_OK)
		e = omc_lifecycle_next(&rec.state, OMC_MCIM_INSTALLED, OMC_EV_ACTIVATE, OMC_ACTOR_OWNER);
	if (e == OMC_OK)
		e = omc_tre_txn_put_mcim(x, &rec);
	omc_mcim_wipe(&rec);
	*restored = e == OMC_OK;
	return e;
}

omc_err omc_tre_recovery_counter(omc_tre *t, uint64_t *counter)
{
	OMC_ENSURE(t && counter && t->ard, OMC_ERR_BAD_ARG);
	/* The anti-rollback counter when this lockdown began; without a record
	 * of it (not locked down, or a lockdown whose state could not be
	 * committed) the counter now. */
	if (t->lockdown && t->lockdown_epoch_set) {
		*counter = t->lockdown_epoch;
		return OMC_OK;
	}
	uint32_t flags;
	return t->ard->read(t->ard->ctx, counter, &flags);
}

omc_err omc_tre_tamper_report(omc_tre *t, char **jws)
{
	OMC_ENSURE(t && jws, OMC_ERR_BAD_ARG);
	*jws = NULL;
	OMC_ENSURE(t->lockdown, OMC_ERR_BAD_STATE);
	uint64_t counter = 0;
	OMC_TRY(omc_tre_recovery_counter(t, &counter));
	char head[65];
	OMC_TRY(omc_hex_encode(head, sizeof head, t->audit_head.hash, 32));
	json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:{s:I,s:s}}", "tre", t->tre_id, "platform_id", t->platform_id,
			      "model", t->model, "reason", t->lockdown_reason, "counter", (json_int_t)counter, "iat",
			      (json_int_t)omc_tre_now(t), "audit", "count", (json_int_t)t->audit_head.count, "hash", head);
	omc_err e = r ? omc_tre_sign(t, "omc-tamper-report+jwt", r, jws) : OMC_ERR_NOMEM;
	json_decref(r);
	return e;
}

omc_err omc_tre_recover(omc_tre *t, const char *auth, size_t len)
{
	OMC_ENSURE(t && auth, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(t->lockdown, OMC_ERR_BAD_STATE);
	static const omc_anchor_role roles[] = {OMC_ANCHOR_RO, OMC_ANCHOR_PVA};
	omc_anchor_role matched;
	signed_obj so;
	omc_err e = verify_signed(t, &so, auth, len, RECOVERY_TYP, roles, 2, &matched);
	if (e != OMC_OK) {
		refuse(t, "recover", "other", "tre", e, NULL);
		return e;
	}
	char actor_s[40];
	snprintf(actor_s, sizeof actor_s, "%s:%s", matched == OMC_ANCHOR_RO ? "ro" : "pva", so.iss);
	/* Bound to the current anti-rollback counter: a used authorisation
	 * never works again (each recovery commits and moves the counter). */
	uint64_t counter = 0;
	const json_t *cv = json_object_get(so.claims, "counter");
	e = omc_tre_recovery_counter(t, &counter);
	bool fresh = e == OMC_OK && json_is_integer(cv) && (uint64_t)json_integer_value(cv) == counter;
	json_decref(so.claims);
	if (!fresh) {
		refuse(t, "recover", actor_s, "tre", OMC_ERR_DENIED, "stale authorisation");
		OMC_BAIL(OMC_ERR_DENIED);
	}
	/* A fresh integrity check must pass. */
	omc_tre_measure(t);
	if (!t->platform_ok) {
		refuse(t, "recover", actor_s, "tre", OMC_ERR_TAMPERED, "integrity check failed");
		OMC_BAIL(OMC_ERR_TAMPERED);
	}
	if (!t->store)
		OMC_BAIL(OMC_ERR_UNSUPPORTED); /* rebuilding a destroyed store: not supported yet */

	/* Back to pristine: erase every operational MCIM, keep the PCID, or
	 * restore it from the sealed identity if it is blocked or gone. */
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	x.flags = OMC_STORE_ERASE;
	size_t erased = 0;
	bool restored = false;
	e = restore_pcid(t, &x, &restored);
	for (size_t i = 0; i < t->n_reg && e == OMC_OK; i++) {
		if (!strcmp(t->reg[i].role, "bootstrap") || t->reg[i].state == OMC_MCIM_DELETED)
			continue;
		omc_mcim m;
		e = omc_tre_load_mcim(t, t->reg[i].id, &m);
		if (e == OMC_OK) {
			omc_mcim_make_tombstone(&m);
			e = omc_tre_txn_put_mcim(&x, &m);
			erased++;
		}
		omc_mcim_wipe(&m);
	}
	bool was = t->lockdown, epoch_set = t->lockdown_epoch_set, trial = t->trial;
	t->trial = false; /* every operational MCIM is erased: no switch left to end */
	char reason[128];
	memcpy(reason, t->lockdown_reason, sizeof reason);
	t->lockdown = false;
	t->lockdown_reason[0] = 0;
	t->lockdown_epoch_set = false; /* used: the next lockdown takes a newer one */
	char d[96];
	snprintf(d, sizeof d, "recovered: %zu MCIM(s) erased,%s pristine", erased, restored ? " PCID restored," : "");
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "recover", .actor = actor_s, .subject = "tre",
			      .result = "ok", .detail = d};
	/* The flag first, then the state: a power cut between the two leaves
	 * the state's lockdown, and open sets the flag again (the old state,
	 * whole). The other order could leave erased MCIMs in lockdown. */
	if (e == OMC_OK)
		e = t->ard->clear_flags(t->ard->ctx, OMC_STORE_FLAG_LOCKDOWN);
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &ev);
	omc_tre_txn_free(&x);
	if (e != OMC_OK) {
		t->lockdown = was;
		t->lockdown_epoch_set = epoch_set;
		t->trial = trial;
		memcpy(t->lockdown_reason, reason, sizeof reason);
		return e;
	}
	return omc_tre_reload_registry(t);
}
