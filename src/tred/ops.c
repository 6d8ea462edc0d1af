/* The daemon's requests: one table of ops (name, arguments, who may ask,
 * handler) and one dispatcher that parses a line, checks it against the
 * table and answers. Sans-I/O: a line in, an answer out. docs/tred.md.
 *
 * Who may ask (TRE-1): a peer the users map names may use every op; any
 * other peer only "status". AKA runs as the mapped name (the MCIMs' ACLs
 * decide, MGT-7). The ops a local user authorises take "user" and "pin"
 * and go through omc_tre_user_auth first (TRE-10): a mapped name alone is
 * never a TRE user. Requests are never logged, PINs never leave the
 * request's JSON, which is wiped when it is freed (omc_free). */
#include <string.h>

#include <jansson.h>

#include "openmcim/proto.h"
#include "tred/tred_internal.h"
#include "util/util_internal.h"

#define NONCE_MAX 64
#define MSG_MAX 96

typedef struct req {
	omc_tre *t;
	const tred_peer *peer;
	json_t *in;
	json_t *out;
	char msg[MSG_MAX]; /* a message naming the argument at fault, else "" */
} req;

typedef omc_err (*op_fn)(req *r);

enum {
	OP_ANYONE = 1, /* also for a peer the users map does not name */
};

typedef struct op_def {
	const char *name;
	unsigned flags;
	op_fn run;
	const char *args[8]; /* the arguments it takes (besides "op" and "id") */
} op_def;

/* --- arguments ------------------------------------------------------------------------------- */

/* "argument 'nonce' is missing" */
static omc_err bad_arg(req *r, omc_err e, const char *key, const char *what)
{
	snprintf(r->msg, sizeof r->msg, "argument '%s' %s", key, what);
	return e;
}

/* A string argument; absent: *s NULL (an error if required). */
static omc_err arg_str(req *r, const char *key, bool required, const char **s, size_t *len)
{
	json_t *v = json_object_get(r->in, key);
	*s = NULL;
	if (len)
		*len = 0;
	if (!v) {
		if (required)
			return bad_arg(r, OMC_ERR_BAD_ARG, key, "is missing");
		return OMC_OK;
	}
	if (!json_is_string(v))
		return bad_arg(r, OMC_ERR_BAD_ARG, key, "must be a string");
	*s = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return OMC_OK;
}

/* A hex argument of 1..cap bytes (exact, if exact). */
static omc_err arg_hex(req *r, const char *key, uint8_t *out, size_t cap, size_t *len, bool exact)
{
	const char *s;
	size_t sl;
	OMC_TRY(arg_str(r, key, true, &s, &sl));
	if (sl == 0 || sl % 2 || sl / 2 > cap || (exact && sl / 2 != cap))
		return bad_arg(r, OMC_ERR_BAD_LENGTH, key, "has the wrong length");
	omc_err e = omc_hex_decode_var(out, cap, len, s, sl);
	if (e != OMC_OK)
		return bad_arg(r, e, key, "is not hex");
	return OMC_OK;
}

/* "user" and "pin" together: authenticate (every attempt counted and
 * audited by the TRE). Neither: *have false. */
static omc_err arg_user(req *r, bool required, omc_tre_caller *who, bool *have)
{
	const char *user, *pin;
	size_t pin_len;
	*have = false;
	OMC_TRY(arg_str(r, "user", required, &user, NULL));
	OMC_TRY(arg_str(r, "pin", required || user, &pin, &pin_len));
	if (!user && pin)
		return bad_arg(r, OMC_ERR_BAD_ARG, "user", "is missing");
	if (!user)
		return OMC_OK;
	OMC_TRY(omc_tre_user_auth(r->t, user, pin, pin_len, who));
	*have = true;
	return OMC_OK;
}

/* --- answers --------------------------------------------------------------------------------- */

static omc_err put(req *r, const char *key, json_t *v)
{
	OMC_ENSURE(v && json_object_set_new(r->out, key, v) == 0, OMC_ERR_NOMEM);
	return OMC_OK;
}

static omc_err put_hex(req *r, const char *key, const uint8_t *b, size_t n)
{
	char hex[2 * OMC_AKA_MAX_AUTS_LEN + 1]; /* AUTS is the longest */
	OMC_DEFER_WIPE(hex);                    /* CK and IK pass through here */
	OMC_ENSURE(n <= OMC_AKA_MAX_AUTS_LEN, OMC_ERR_BUG);
	OMC_TRY(omc_hex_encode(hex, sizeof hex, b, n));
	return put(r, key, json_string(hex));
}

/* A string the TRE made (omc_alloc'd), consumed. */
static omc_err put_owned(req *r, const char *key, char *s, size_t len)
{
	omc_err e = put(r, key, json_stringn(s, len));
	omc_free(s);
	return e;
}

/* An MCIM of the registry; "impi" and "impu" only where the MCIM has them. */
static json_t *mcim_json(const omc_tre_mcim_info *m)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:I}", "id", m->id, "owner", m->owner,
			      "role", m->role, "state", omc_mcim_state_name(m->state), "imsi", m->imsi, "alg", m->alg,
			      "type", m->type, "version", (json_int_t)m->version, "expires", (json_int_t)m->expires,
			      "data_only", m->data_only, "volume_cap", (json_int_t)m->volume_cap);
	if (o && ((m->impi[0] && json_object_set_new(o, "impi", json_string(m->impi)) != 0) ||
		  (m->impu[0] && json_object_set_new(o, "impu", json_string(m->impu)) != 0))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* The registry as "mcims", however long it is. */
static omc_err put_registry(req *r)
{
	size_t n = 0;
	omc_err e = omc_tre_registry(r->t, NULL, 0, &n);
	OMC_ENSURE(e == OMC_OK || e == OMC_ERR_NO_SPACE, e);
	omc_tre_mcim_info *reg = n ? omc_calloc(n, sizeof *reg) : NULL;
	OMC_ENSURE(n == 0 || reg, OMC_ERR_NOMEM);
	e = n ? omc_tre_registry(r->t, reg, n, &n) : OMC_OK;
	json_t *arr = json_array();
	if (!arr)
		e = OMC_ERR_NOMEM;
	for (size_t i = 0; e == OMC_OK && i < n; i++)
		if (json_array_append_new(arr, mcim_json(&reg[i])) != 0)
			e = OMC_ERR_NOMEM;
	omc_free(reg);
	if (e != OMC_OK) {
		json_decref(arr);
		return e;
	}
	return put(r, "mcims", arr);
}

/* --- the ops --------------------------------------------------------------------------------- */

static omc_err op_status(req *r)
{
	omc_tre_status st;
	OMC_TRY(omc_tre_get_status(r->t, &st));
	OMC_TRY(put(r, "state", json_string(omc_tre_state_name(st.state))));
	OMC_TRY(put(r, "lockdown_reason", json_string(st.lockdown_reason)));
	OMC_TRY(put(r, "tre_id", json_string(st.tre_id)));
	OMC_TRY(put(r, "platform_id", json_string(st.platform_id)));
	OMC_TRY(put(r, "model", json_string(st.model)));
	OMC_TRY(put(r, "generation", json_integer((json_int_t)st.generation)));
	OMC_TRY(put(r, "boot_count", json_integer((json_int_t)st.boot_count)));
	OMC_TRY(put(r, "platform_ok", json_boolean(st.platform_ok)));
	OMC_TRY(put(r, "store_ok", json_boolean(st.store_ok)));
	OMC_TRY(put(r, "audit_count", json_integer((json_int_t)st.audit_count)));
	OMC_TRY(put(r, "n_mcims", json_integer((json_int_t)st.n_mcims)));
	OMC_TRY(put(r, "switch_trial", json_boolean(st.switch_trial)));
	return put_registry(r);
}

static omc_err op_registry(req *r)
{
	return put_registry(r);
}

static omc_err evidence_op(req *r, bool session)
{
	uint8_t nonce[NONCE_MAX];
	size_t nl;
	OMC_TRY(arg_hex(r, "nonce", nonce, sizeof nonce, &nl, false));
	char *ev = NULL;
	OMC_TRY(session ? omc_tre_session_begin(r->t, nonce, nl, &ev) : omc_tre_attest(r->t, nonce, nl, &ev));
	return put_owned(r, "evidence", ev, strlen(ev));
}

static omc_err op_attest(req *r)
{
	return evidence_op(r, false);
}

static omc_err op_session_begin(req *r)
{
	return evidence_op(r, true);
}

static omc_err op_install(req *r)
{
	const char *pkg;
	size_t len;
	OMC_TRY(arg_str(r, "package", true, &pkg, &len));
	char *receipt = NULL;
	OMC_TRY(omc_tre_install(r->t, pkg, len, &receipt));
	return put_owned(r, "receipt", receipt, strlen(receipt));
}

static omc_err op_command(req *r)
{
	const char *cmd;
	size_t len;
	OMC_TRY(arg_str(r, "command", true, &cmd, &len));
	char *result = NULL;
	bool applied = false;
	OMC_TRY(omc_tre_command(r->t, cmd, len, &result, &applied));
	OMC_TRY(put_owned(r, "result", result, strlen(result)));
	return put(r, "applied", json_boolean(applied));
}

static omc_err aka_answer(req *r, const omc_aka_check_result *res)
{
	switch (res->status) {
	case OMC_AKA_STATUS_OK:
		OMC_TRY(put(r, "status", json_string("ok")));
		OMC_TRY(put_hex(r, "res", res->res, res->res_len));
		OMC_TRY(put_hex(r, "ck", res->ck, res->ck_len));
		OMC_TRY(put_hex(r, "ik", res->ik, res->ik_len));
		return put_hex(r, "sqn", res->sqn, sizeof res->sqn);
	case OMC_AKA_STATUS_SYNC_FAILURE:
		OMC_TRY(put(r, "status", json_string("sync_failure")));
		return put_hex(r, "auts", res->auts, res->auts_len);
	case OMC_AKA_STATUS_MAC_FAILURE:
		return put(r, "status", json_string("mac_failure"));
	}
	OMC_BAIL(OMC_ERR_BUG);
}

/* TRE-8: as the mapped name, so the MCIM's ACL applies. */
static omc_err op_aka(req *r)
{
	const char *id, *key;
	uint8_t rand[OMC_AKA_RAND_LEN], autn[OMC_AKA_MAX_AUTN_LEN];
	size_t rl, al;
	OMC_TRY(arg_str(r, "mcim", true, &id, NULL));
	OMC_TRY(arg_str(r, "key", false, &key, NULL));
	OMC_TRY(arg_hex(r, "rand", rand, sizeof rand, &rl, true));
	OMC_TRY(arg_hex(r, "autn", autn, sizeof autn, &al, false));
	omc_tre_caller who = {.kind = OMC_ACTOR_USER};
	snprintf(who.name, sizeof who.name, "%s", r->peer->name);
	omc_aka_check_result res;
	OMC_DEFER_WIPE(res);
	OMC_TRY(key ? omc_tre_aka_shared(r->t, &who, id, key, rand, autn, al, &res)
		    : omc_tre_aka(r->t, &who, id, rand, autn, al, &res));
	return aka_answer(r, &res);
}

static omc_err put_state(req *r)
{
	return put(r, "state", json_string(omc_tre_state_name(omc_tre_get_state(r->t))));
}

static omc_err op_tamper(req *r)
{
	const char *reason;
	OMC_TRY(arg_str(r, "reason", true, &reason, NULL));
	OMC_TRY(omc_tre_tamper(r->t, reason));
	return put_state(r);
}

static omc_err op_recover(req *r)
{
	const char *auth;
	size_t len;
	OMC_TRY(arg_str(r, "authorisation", true, &auth, &len));
	OMC_TRY(omc_tre_recover(r->t, auth, len));
	return put_state(r);
}

static omc_err op_recovery_counter(req *r)
{
	uint64_t ctr;
	omc_tre_status st;
	OMC_TRY(omc_tre_recovery_counter(r->t, &ctr));
	OMC_TRY(omc_tre_get_status(r->t, &st));
	OMC_TRY(put(r, "tre_id", json_string(st.tre_id)));
	return put(r, "counter", json_integer((json_int_t)ctr));
}

static omc_err op_audit(req *r)
{
	char *buf = NULL;
	size_t len = 0;
	OMC_TRY(omc_tre_audit_export(r->t, &buf, &len));
	return put_owned(r, "records", buf, len);
}

/* Not intact is an answer, not an error: the verdict and where it broke. */
static omc_err op_audit_verify(req *r)
{
	uint64_t n = 0;
	omc_err e = omc_tre_audit_verify(r->t, &n);
	OMC_TRY(put(r, "intact", json_boolean(e == OMC_OK)));
	OMC_TRY(put(r, "records", json_integer((json_int_t)n)));
	if (e != OMC_OK) {
		OMC_TRY(put(r, "fault", json_string(omc_err_name(e))));
		OMC_TRY(put(r, "fault_message", json_string(omc_err_str(e))));
	}
	return OMC_OK;
}

static omc_err op_tamper_report(req *r)
{
	char *jws = NULL;
	OMC_TRY(omc_tre_tamper_report(r->t, &jws));
	return put_owned(r, "report", jws, strlen(jws));
}

static omc_err op_switch_confirm(req *r)
{
	char *jws = NULL;
	OMC_TRY(omc_tre_switch_confirm(r->t, &jws));
	return put_owned(r, "statement", jws, strlen(jws));
}

static omc_err op_switch_rollback(req *r)
{
	char *jws = NULL;
	OMC_TRY(omc_tre_switch_rollback(r->t, &jws));
	return put_owned(r, "statement", jws, strlen(jws));
}

static omc_err op_checkpoint(req *r)
{
	char *jws = NULL;
	OMC_TRY(omc_tre_audit_checkpoint(r->t, &jws));
	return put_owned(r, "checkpoint", jws, strlen(jws));
}

static omc_err op_certificates(req *r)
{
	char *pem = NULL;
	size_t len = 0;
	OMC_TRY(omc_tre_certificates(r->t, &pem, &len));
	return put_owned(r, "pem", pem, len);
}

static omc_err op_users(req *r)
{
	omc_tre_user_info u[OMC_TRED_MAX_USERS];
	size_t n = 0;
	OMC_TRY(omc_tre_user_list(r->t, u, OMC_ARRAY_LEN(u), &n));
	json_t *arr = json_array();
	OMC_ENSURE(arr != NULL, OMC_ERR_NOMEM);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:b}", "name", u[i].name, "role", u[i].role,
							  "failures", (int)u[i].failures, "blocked", u[i].blocked))) {
			json_decref(arr);
			OMC_BAIL(OMC_ERR_NOMEM);
		}
	return put(r, "users", arr);
}

static omc_err op_user_add(req *r)
{
	const char *name, *role, *pin;
	size_t pin_len;
	OMC_TRY(arg_str(r, "name", true, &name, NULL));
	OMC_TRY(arg_str(r, "role", true, &role, NULL));
	OMC_TRY(arg_str(r, "new_pin", true, &pin, &pin_len));
	omc_tre_caller admin;
	bool have;
	OMC_TRY(arg_user(r, false, &admin, &have));
	return omc_tre_user_add(r->t, have ? &admin : NULL, name, role, pin, pin_len);
}

static omc_err user_change(req *r, bool del)
{
	const char *name;
	OMC_TRY(arg_str(r, "name", true, &name, NULL));
	omc_tre_caller admin;
	bool have;
	OMC_TRY(arg_user(r, false, &admin, &have));
	const omc_tre_caller *a = have ? &admin : NULL;
	return del ? omc_tre_user_del(r->t, a, name) : omc_tre_user_unblock(r->t, a, name);
}

static omc_err op_user_del(req *r)
{
	return user_change(r, true);
}

static omc_err op_user_unblock(req *r)
{
	return user_change(r, false);
}

static omc_err op_local_lifecycle(req *r)
{
	const char *id, *event;
	OMC_TRY(arg_str(r, "mcim", true, &id, NULL));
	OMC_TRY(arg_str(r, "event", true, &event, NULL));
	omc_mcim_event ev;
	if (omc_mcim_event_parse(&ev, event) != OMC_OK)
		return bad_arg(r, OMC_ERR_BAD_ARG, "event", "is not a lifecycle event");
	omc_tre_caller who;
	bool have;
	OMC_TRY(arg_user(r, true, &who, &have));
	return omc_tre_local_lifecycle(r->t, &who, id, ev);
}

static const op_def ops[] = {
	{.name = "status", .flags = OP_ANYONE, .run = op_status},
	{.name = "registry", .run = op_registry},
	{.name = "attest", .run = op_attest, .args = {"nonce"}},
	{.name = "session_begin", .run = op_session_begin, .args = {"nonce"}},
	{.name = "install", .run = op_install, .args = {"package"}},
	{.name = "command", .run = op_command, .args = {"command"}},
	{.name = "aka", .run = op_aka, .args = {"mcim", "key", "rand", "autn"}},
	{.name = "tamper", .run = op_tamper, .args = {"reason"}},
	{.name = "recover", .run = op_recover, .args = {"authorisation"}},
	{.name = "recovery_counter", .run = op_recovery_counter},
	{.name = "audit", .run = op_audit},
	{.name = "audit_verify", .run = op_audit_verify},
	{.name = "checkpoint", .run = op_checkpoint},
	{.name = "tamper_report", .run = op_tamper_report},
	{.name = "switch_confirm", .run = op_switch_confirm},
	{.name = "switch_rollback", .run = op_switch_rollback},
	{.name = "certificates", .run = op_certificates},
	{.name = "users", .run = op_users},
	{.name = "user_add", .run = op_user_add, .args = {"user", "pin", "name", "role", "new_pin"}},
	{.name = "user_del", .run = op_user_del, .args = {"user", "pin", "name"}},
	{.name = "user_unblock", .run = op_user_unblock, .args = {"user", "pin", "name"}},
	{.name = "local_lifecycle", .run = op_local_lifecycle, .args = {"user", "pin", "mcim", "event"}},
};

/* --- the dispatcher -------------------------------------------------------------------------- */

static bool takes(const op_def *op, const char *key)
{
	if (!strcmp(key, "op") || !strcmp(key, "id"))
		return true;
	for (size_t i = 0; i < OMC_ARRAY_LEN(op->args) && op->args[i]; i++)
		if (!strcmp(key, op->args[i]))
			return true;
	return false;
}

/* Parse and check the request, find its op, run it. */
static omc_err dispatch(req *r, const char *line, size_t len, const op_def **which)
{
	json_error_t je;
	r->in = omc_json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!r->in) {
		/* Where, not what: jansson's text quotes the input, which may
		 * hold a PIN. */
		snprintf(r->msg, sizeof r->msg, "malformed JSON at byte %d", je.position);
		OMC_BAIL(OMC_ERR_BAD_JSON);
	}
	if (!json_is_object(r->in)) {
		snprintf(r->msg, sizeof r->msg, "a request is one JSON object");
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	const char *name;
	OMC_TRY(arg_str(r, "op", true, &name, NULL));
	const op_def *op = NULL;
	for (size_t i = 0; !op && i < OMC_ARRAY_LEN(ops); i++)
		if (!strcmp(name, ops[i].name))
			op = &ops[i];
	if (!op) {
		snprintf(r->msg, sizeof r->msg, "unknown op");
		OMC_BAIL(OMC_ERR_UNSUPPORTED);
	}
	*which = op;
	const char *key;
	json_t *v;
	json_object_foreach(r->in, key, v)
	{
		if (!takes(op, key)) {
			/* The key is named only if it is a plain word (the log shows it). */
			bool plain = strlen(key) <= 32 && key[0];
			for (const char *k = key; plain && *k; k++)
				plain = (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_';
			snprintf(r->msg, sizeof r->msg, "op %s takes no argument%s%s%s", op->name, plain ? " '" : "",
				 plain ? key : " of that name", plain ? "'" : "");
			OMC_BAIL(OMC_ERR_BAD_ARG);
		}
	}
	if (!r->peer->mapped && !(op->flags & OP_ANYONE)) {
		snprintf(r->msg, sizeof r->msg, "uid %u may only ask for the status", (unsigned)r->peer->uid);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	return op->run(r);
}

/* The answer as one line. */
static omc_err dump_line(json_t *o, char **answer, size_t *answer_len)
{
	size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	OMC_ENSURE(n > 0, OMC_ERR_NOMEM);
	char *buf = omc_alloc(n + 2);
	OMC_ENSURE(buf != NULL, OMC_ERR_NOMEM);
	if (json_dumpb(o, buf, n, JSON_COMPACT) != n) {
		omc_free(buf);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	buf[n] = '\n';
	buf[n + 1] = 0;
	*answer = buf;
	*answer_len = n + 1;
	return OMC_OK;
}

static omc_err error_answer(omc_err e, const char *message, json_t *id, char **answer, size_t *answer_len)
{
	json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 0, "error", omc_err_name(e), "message",
			      message && message[0] ? message : omc_err_str(e));
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	if (id && json_object_set(o, "id", id) != 0) {
		json_decref(o);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	omc_err de = dump_line(o, answer, answer_len);
	json_decref(o);
	return de;
}

omc_err tred_error_answer(omc_err e, const char *message, char **answer, size_t *answer_len)
{
	return error_answer(e, message, NULL, answer, answer_len);
}

omc_err tred_handle(omc_tre *t, const tred_peer *peer, const char *line, size_t len, char **answer,
		    size_t *answer_len)
{
	omc_proto_init();
	req r = {.t = t, .peer = peer, .out = json_pack("{s:b}", "ok", 1)}; /* "ok" first, for the eye */
	OMC_ENSURE(r.out != NULL, OMC_ERR_NOMEM);
	const op_def *op = NULL;
	omc_err res = dispatch(&r, line, len, &op);
	/* The caller's "id", a string or an integer, comes back as it was. */
	json_t *id = r.in && json_is_object(r.in) ? json_object_get(r.in, "id") : NULL;
	if (id && !json_is_string(id) && !json_is_integer(id))
		id = NULL;
	omc_err e = res;
	if (e == OMC_OK && id && json_object_set(r.out, "id", id) != 0)
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK)
		e = dump_line(r.out, answer, answer_len);
	if (e != OMC_OK)
		e = error_answer(e, r.msg, id, answer, answer_len);
	/* One line a request in the log: who, which op, what came of it
	 * (names and codes only: never an argument). */
	omc_log_level lvl = res == OMC_OK ? OMC_LOG_LEVEL_INF : OMC_LOG_LEVEL_WRN;
	OMC_LOG_(lvl, "tred", "uid %u pid %d%s%s: %s: %s%s%s", (unsigned)peer->uid, (int)peer->pid,
		 peer->mapped ? " as " : " (not mapped)", peer->name, op ? op->name : "(no op)", omc_err_name(res),
		 r.msg[0] ? ": " : "", r.msg);
	json_decref(r.in);
	json_decref(r.out);
	return e;
}
