/* The M2ME agent: one table of states, one function per state, each
 * returning the outcome of its step; omc_agent_step applies it (the next
 * state, a retry with backoff and jitter, or a wait) and saves the state
 * atomically. docs/agent.md. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "openmcim/agent.h"
#include "openmcim/link.h"
#include "openmcim/net.h"
#include "openmcim/proto.h"
#include "openmcim/server.h"
#include "util/util_internal.h"

#define URL_MAX 160
#define TOKEN_MAX 128

struct omc_agent {
	omc_agent_tre tre;
	omc_store_io *io;
	char state_path[128];
	char vno[URL_MAX], bootstrap[URL_MAX], drf[URL_MAX], pva[URL_MAX], dpf[URL_MAX];
	omc_cert *bootstrap_ca;
	omc_http_client *http;
	unsigned backoff_min, backoff_max, poll_ms;
	uint64_t rng;
	/* the state, as saved */
	omc_agent_state state;
	char session[TOKEN_MAX], scope[16];
	char sho[17], mcim_id[41], mcim_imsi[16];
	char *evidence, *token, *receipt;
	char *result;      /* a command's signed result (or refusal) not yet taken by the DPF */
	char *tamper;      /* the TRE's signed tamper report, queued for the PVA */
	char *stmt;        /* the TRE's signed end of a direct change's trial, for the DPF */
	bool ending;       /* the TRE asked to end a trial, its statement not yet saved */
	bool direct;       /* a direct change asked: the new SHO's MCIM over this connectivity */
	bool again;        /* this run: the DPF queued a command again, poll once more */
	unsigned trial_failures;
	int64_t result_id; /* its command's id */
	char last_error[128];
	unsigned failures, commands;
	bool pending;
	/* PCID renewal (CHG-4, NET-7) */
	int64_t renew_before_s;
	bool renew;             /* the network asked (a signed renew_pcid applied) */
	char *renew_receipt;    /* the TRE's receipt of a renewal, not yet taken by the ICO */
	int64_t renew_after;    /* no new attempt before (wall clock; not saved) */
	omc_agent_state renew_back; /* where a renewal that fails goes back to (not saved) */
	/* this run */
	unsigned steps, polls;
	bool polled;
	/* SEC-11: the link of the session (not saved), and the one of an
	 * attach whose session is not taken yet */
	omc_link link, link_next;
};

static const char *const state_names[OMC_AGENT_STATE_COUNT] = {
	"boot",     "attach_pcid", "bootstrap",   "register",    "validate",
	"download", "receipt",     "attach_mcim", "operational", "lockdown",
	"standby",  "renew_pcid",
};

const char *omc_agent_state_name(omc_agent_state s)
{
	return (unsigned)s < OMC_AGENT_STATE_COUNT ? state_names[s] : "unknown";
}

/* --- the TRE in this process ------------------------------------------------------------- */

typedef omc_agent_local local_tre;

static omc_err l_state(void *ctx, omc_tre_state *st)
{
	*st = omc_tre_get_state(((local_tre *)ctx)->t);
	return OMC_OK;
}

static omc_err l_registry(void *ctx, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	return omc_tre_registry(((local_tre *)ctx)->t, out, cap, n);
}

static omc_err l_attest(void *ctx, const uint8_t *nonce, size_t len, char **ev)
{
	return omc_tre_attest(((local_tre *)ctx)->t, nonce, len, ev);
}

static omc_err l_session(void *ctx, const uint8_t *nonce, size_t len, char **ev)
{
	return omc_tre_session_begin(((local_tre *)ctx)->t, nonce, len, ev);
}

static omc_err l_install(void *ctx, const char *pkg, size_t len, char **receipt)
{
	return omc_tre_install(((local_tre *)ctx)->t, pkg, len, receipt);
}

static omc_err l_command(void *ctx, const char *cmd, size_t len, char **result, bool *applied)
{
	return omc_tre_command(((local_tre *)ctx)->t, cmd, len, result, applied);
}

static omc_err l_tamper_report(void *ctx, char **jws)
{
	return omc_tre_tamper_report(((local_tre *)ctx)->t, jws);
}

static omc_err l_switch_trial(void *ctx, bool *trial)
{
	omc_tre_status st;
	OMC_TRY(omc_tre_get_status(((local_tre *)ctx)->t, &st));
	*trial = st.switch_trial;
	return OMC_OK;
}

static omc_err l_switch_end(void *ctx, bool confirm, char **statement)
{
	omc_tre *t = ((local_tre *)ctx)->t;
	return confirm ? omc_tre_switch_confirm(t, statement) : omc_tre_switch_rollback(t, statement);
}

static omc_err l_aka(void *ctx, const char *id, const uint8_t rand[16], const uint8_t *autn, size_t al,
		     omc_aka_check_result *out)
{
	local_tre *lt = ctx;
	omc_tre_caller c = {.kind = OMC_ACTOR_USER};
	memcpy(c.name, lt->user, sizeof c.name);
	return omc_tre_aka(lt->t, &c, id, rand, autn, al, out);
}

void omc_agent_tre_local(omc_agent_tre *ops, omc_agent_local *lt, omc_tre *t, const char *user)
{
	lt->t = t;
	snprintf(lt->user, sizeof lt->user, "%s", user ? user : "agent");
	*ops = (omc_agent_tre){.ctx = lt,
			       .state = l_state,
			       .registry = l_registry,
			       .attest = l_attest,
			       .session_begin = l_session,
			       .install = l_install,
			       .command = l_command,
			       .aka = l_aka,
			       .tamper_report = l_tamper_report,
			       .switch_trial = l_switch_trial,
			       .switch_end = l_switch_end};
}

/* --- saving and loading ------------------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static omc_err save(omc_agent *a)
{
	if (!a->io)
		return OMC_OK;
	json_t *o = json_pack("{s:i,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:i,s:i,s:b,s:o,s:I}", "version", 1,
			      "state", state_names[a->state], "session", str_or_null(a->session), "scope", a->scope,
			      "drf", a->drf, "pva", a->pva, "dpf", a->dpf, "sho", a->sho, "mcim_id", a->mcim_id,
			      "mcim_imsi", a->mcim_imsi, "evidence", str_or_null(a->evidence), "token",
			      str_or_null(a->token), "receipt", str_or_null(a->receipt), "last_error", a->last_error,
			      "failures", (int)a->failures, "commands", (int)a->commands, "pending", a->pending, "result",
			      str_or_null(a->result), "result_id", (json_int_t)a->result_id);
	if (o && a->tamper && json_object_set_new(o, "tamper_report", json_string(a->tamper))) {
		json_decref(o);
		o = NULL;
	}
	if (o && (json_object_set_new(o, "direct", json_boolean(a->direct)) ||
		  json_object_set_new(o, "trial_failures", json_integer((json_int_t)a->trial_failures)) ||
		  json_object_set_new(o, "switch_ending", json_boolean(a->ending)) ||
		  (a->stmt && json_object_set_new(o, "switch_statement", json_string(a->stmt))))) {
		json_decref(o);
		o = NULL;
	}
	if (o && (json_object_set_new(o, "renew", json_boolean(a->renew)) ||
		  json_object_set_new(o, "renew_receipt", str_or_null(a->renew_receipt)))) {
		json_decref(o);
		o = NULL;
	}
	char *s = o ? omc_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", a->state_path);
	/* A temporary file a crash left behind may be longer: not reused. */
	omc_err e = a->io->exists(a->io->ctx, tmp) == OMC_OK ? a->io->unlink(a->io->ctx, tmp) : OMC_OK;
	if (e == OMC_OK)
		e = a->io->pwrite(a->io->ctx, tmp, 0, (const uint8_t *)s, strlen(s));
	if (e == OMC_OK)
		e = a->io->sync(a->io->ctx, tmp);
	if (e == OMC_OK)
		e = a->io->rename(a->io->ctx, tmp, a->state_path);
	if (e == OMC_OK)
		e = a->io->sync_dir(a->io->ctx, "");
	omc_free(s);
	return e;
}

static bool copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_null(v) || !v) {
		dst[0] = 0;
		return true;
	}
	const char *s = json_string_value(v);
	if (!s || strlen(s) >= cap)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static bool dup_str(char **dst, json_t *o, const char *key)
{
	omc_free(*dst);
	*dst = NULL;
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		return true;
	size_t n = strlen(s);
	*dst = omc_alloc(n + 1);
	if (!*dst)
		return false;
	memcpy(*dst, s, n + 1);
	return true;
}

static omc_err load(omc_agent *a)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	omc_err e = a->io ? a->io->read(a->io->ctx, a->state_path, &buf, &len) : OMC_ERR_NOT_FOUND;
	if (e == OMC_ERR_NOT_FOUND)
		return OMC_OK;
	OMC_TRY(e);
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	omc_free(buf);
	const char *st = json_string_value(json_object_get(o, "state"));
	bool ok = st != NULL;
	a->state = OMC_AGENT_BOOT;
	for (int i = 0; ok && i < OMC_AGENT_STATE_COUNT; i++)
		if (!strcmp(st, state_names[i]))
			a->state = (omc_agent_state)i;
	ok = ok && copy_str(a->session, sizeof a->session, o, "session") &&
	     copy_str(a->scope, sizeof a->scope, o, "scope") && copy_str(a->drf, sizeof a->drf, o, "drf") &&
	     copy_str(a->pva, sizeof a->pva, o, "pva") && copy_str(a->dpf, sizeof a->dpf, o, "dpf") &&
	     copy_str(a->sho, sizeof a->sho, o, "sho") && copy_str(a->mcim_id, sizeof a->mcim_id, o, "mcim_id") &&
	     copy_str(a->mcim_imsi, sizeof a->mcim_imsi, o, "mcim_imsi") &&
	     copy_str(a->last_error, sizeof a->last_error, o, "last_error") && dup_str(&a->evidence, o, "evidence") &&
	     dup_str(&a->token, o, "token") && dup_str(&a->receipt, o, "receipt") && dup_str(&a->result, o, "result") &&
	     dup_str(&a->tamper, o, "tamper_report") && dup_str(&a->stmt, o, "switch_statement") &&
	     dup_str(&a->renew_receipt, o, "renew_receipt");
	a->direct = json_is_true(json_object_get(o, "direct"));
	a->trial_failures = (unsigned)json_integer_value(json_object_get(o, "trial_failures"));
	a->ending = json_is_true(json_object_get(o, "switch_ending"));
	a->renew = json_is_true(json_object_get(o, "renew"));
	a->result_id = (int64_t)json_integer_value(json_object_get(o, "result_id"));
	if (!a->result || a->result_id < 1) {
		omc_free(a->result);
		a->result = NULL;
		a->result_id = 0;
	}
	a->failures = (unsigned)json_integer_value(json_object_get(o, "failures"));
	a->commands = (unsigned)json_integer_value(json_object_get(o, "commands"));
	a->pending = json_is_true(json_object_get(o, "pending"));
	json_decref(o);
	if (!ok) {
		/* A state file that does not read: start over from the TRE. */
		OMC_LOG_WRN("agent", "%s unreadable: starting from boot", a->state_path);
		a->state = OMC_AGENT_BOOT;
	}
	return OMC_OK;
}

/* --- HTTP --------------------------------------------------------------------------------------- */

/* The status (0: no answer); *out the JSON answer or NULL. */
static int call(omc_agent *a, const char *method, const char *base, const char *path, bool with_session,
		json_t *body, json_t **out)
{
	*out = NULL;
	char url[URL_MAX + 64], auth[TOKEN_MAX + 8];
	snprintf(url, sizeof url, "%s%s", base, path);
	snprintf(auth, sizeof auth, "Bearer %s", a->session);
	char *b = body ? omc_json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	if (!base[0] || omc_http_call_auth(a->http, method, url, with_session ? auth : NULL, b, b ? strlen(b) : 0, &st, &r,
					  &rl) != OMC_OK)
		st = 0;
	omc_free(b);
	if (r && rl) {
		json_error_t je;
		*out = omc_json_loadb(r, rl, 0, &je);
	}
	omc_free(r);
	return st;
}

static void set_error(omc_agent *a, const char *what, int status, json_t *ans)
{
	const char *code = json_string_value(json_object_get(ans, "error"));
	if (status == 0)
		snprintf(a->last_error, sizeof a->last_error, "%s: no answer", what);
	else
		snprintf(a->last_error, sizeof a->last_error, "%s: %d %.60s", what, status, code ? code : "");
}

/* --- the steps ------------------------------------------------------------------------------------ */

typedef enum outcome_kind { NEXT, RETRY, WAIT } outcome_kind;
typedef struct outcome {
	outcome_kind kind;
	omc_agent_state next; /* NEXT */
	unsigned wait_ms;     /* WAIT */
} outcome;

static outcome go(omc_agent_state s)
{
	return (outcome){NEXT, s, 0};
}

static outcome retry(void)
{
	return (outcome){RETRY, OMC_AGENT_BOOT, 0};
}

/* A refusal that means the session is gone: attach again. */
static bool session_lost(int st, json_t *ans)
{
	const char *code = json_string_value(json_object_get(ans, "error"));
	return st == 401 && code && (!strcmp(code, "session_expired") || !strcmp(code, "no_session"));
}

static const char *imsi_of(omc_agent *a, const char *id, char out[16])
{
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	if (a->tre.registry(a->tre.ctx, reg, 64, &n) != OMC_OK)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, id) && reg[i].state == OMC_MCIM_ACTIVATED) {
			snprintf(out, 16, "%s", reg[i].imsi);
			return out;
		}
	return NULL;
}

/* An operational MCIM kept but not activated (its owner deactivated or
 * blocked it, or it waits for activation), and none activated: the
 * device waits for its owner's commands with the PCID's session. */
static bool held(omc_agent *a)
{
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	bool kept = false;
	if (a->tre.registry(a->tre.ctx, reg, 64, &n) != OMC_OK)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(reg[i].role, "operational") != 0 || reg[i].state == OMC_MCIM_DELETED)
			continue;
		if (reg[i].state == OMC_MCIM_ACTIVATED)
			return false;
		kept = true;
	}
	return kept;
}

/* SEC-11: the link keys of this attach, kept for its session: KASME from
 * CK, IK, the serving network the VNO named and SQN xor AK (the first 48
 * bits of AUTN), TS 33.401 A.2. None for TUAK's 256-bit CK and IK. */
static void link_derive(omc_agent *a, const char *snid, const omc_aka_check_result *r, const uint8_t *autn)
{
	uint8_t plmn[3], kasme[OMC_LINK_KASME_LEN];
	OMC_DEFER_WIPE(kasme);
	char mcc[4] = {0}, mnc[4] = {0};
	omc_link_wipe(&a->link_next);
	size_t n = snid ? strlen(snid) : 0;
	if (n != 5 && n != 6)
		return;
	memcpy(mcc, snid, 3);
	memcpy(mnc, snid + 3, n - 3);
	if (omc_aka_plmn_encode(plmn, mcc, mnc) != OMC_OK ||
	    omc_link_kasme(kasme, r->ck, r->ck_len, r->ik, r->ik_len, plmn, autn) != OMC_OK ||
	    omc_link_init(&a->link_next, kasme, 0, OMC_LINK_UPLINK) != OMC_OK)
		omc_link_wipe(&a->link_next);
}

/* AKA at the VNO with MCIM id (a resynchronisation at most once). */
static int attach(omc_agent *a, const char *id, json_t **ans)
{
	*ans = NULL;
	char imsi[16];
	if (!imsi_of(a, id, imsi)) {
		snprintf(a->last_error, sizeof a->last_error, "attach: no activated MCIM %.40s", id);
		return -1;
	}
	for (int round = 0; round < 2; round++) {
		json_t *c = NULL;
		int st = call(a, "POST", a->vno, "/v1/attach", false, json_pack("{s:s}", "imsi", imsi), &c);
		if (st != 200) {
			*ans = c;
			return st;
		}
		const char *att = json_string_value(json_object_get(c, "attach"));
		const char *rh = json_string_value(json_object_get(c, "rand"));
		const char *ah = json_string_value(json_object_get(c, "autn"));
		uint8_t rand[16], autn[OMC_AKA_MAX_AUTN_LEN];
		size_t al = 0;
		omc_aka_check_result r;
		OMC_DEFER_WIPE(r);
		if (!att || !rh || !ah || omc_hex_decode(rand, 16, rh, strlen(rh)) != OMC_OK ||
		    omc_hex_decode_var(autn, sizeof autn, &al, ah, strlen(ah)) != OMC_OK ||
		    a->tre.aka(a->tre.ctx, id, rand, autn, al, &r) != OMC_OK) {
			json_decref(c);
			snprintf(a->last_error, sizeof a->last_error, "attach: the TRE refused the challenge");
			return -1;
		}
		char hex[2 * OMC_AKA_MAX_AUTS_LEN + 1];
		json_t *body = NULL;
		const char *path = NULL;
		if (r.status == OMC_AKA_STATUS_SYNC_FAILURE && round == 0 &&
		    omc_hex_encode(hex, sizeof hex, r.auts, r.auts_len) == OMC_OK) {
			body = json_pack("{s:s,s:s}", "attach", att, "auts", hex);
			path = "/v1/attach/resync";
		} else if (r.status == OMC_AKA_STATUS_OK && omc_hex_encode(hex, sizeof hex, r.res, r.res_len) == OMC_OK) {
			body = json_pack("{s:s,s:s}", "attach", att, "res", hex);
			path = "/v1/attach/complete";
			link_derive(a, json_string_value(json_object_get(c, "serving_network")), &r, autn);
		}
		if (!path) {
			json_decref(c);
			snprintf(a->last_error, sizeof a->last_error, "attach: the network failed authentication");
			return -1;
		}
		json_decref(c);
		omc_memzero(hex, sizeof hex);
		int st2 = call(a, "POST", a->vno, path, false, body, &c);
		if (st2 == 200 && !strcmp(path, "/v1/attach/resync")) {
			json_decref(c);
			continue;
		}
		*ans = c;
		return st2;
	}
	return -1;
}

static outcome take_session(omc_agent *a, int st, json_t *ans, const char *want_scope)
{
	const char *tok = json_string_value(json_object_get(ans, "session"));
	const char *scope = json_string_value(json_object_get(ans, "scope"));
	if (st != 200 || !tok || strlen(tok) >= sizeof a->session || !scope || strcmp(scope, want_scope) != 0) {
		if (st > 0)
			set_error(a, "attach", st, ans);
		json_decref(ans);
		omc_link_wipe(&a->link_next);
		return retry();
	}
	snprintf(a->session, sizeof a->session, "%s", tok);
	snprintf(a->scope, sizeof a->scope, "%s", scope);
	/* The old session's keys go; the new session's come. */
	a->link = a->link_next;
	omc_link_wipe(&a->link_next);
	json_decref(ans);
	return go(OMC_AGENT_BOOT); /* the caller picks the state */
}

/* Hand the DPF the outcome of the last command, saved before it is sent
 * so that a crash or a lost answer does not lose it (the old SHO's
 * deletion receipt, CHG-2). The status of the call (0: nothing to send). */
static int flush_result(omc_agent *a)
{
	if (!a->result)
		return 0;
	bool signed_result = strchr(a->result, '.') != NULL; /* a JWS; else an error name */
	json_t *r = NULL;
	int st = call(a, "POST", a->dpf, "/v1/results", true,
		      json_pack("{s:I,s:s}", "id", (json_int_t)a->result_id, signed_result ? "result" : "error", a->result),
		      &r);
	/* The DPF sent the command again (a reprovision whose result was
	 * lost): poll once more before calling this poll done. */
	if (st == 200 && json_is_true(json_object_get(r, "requeued")))
		a->again = true;
	/* Taken, or the DPF holds no such open command (taken before). */
	if (st == 200 || st == 404 || st == 403) {
		if (st == 200)
			a->commands++;
		omc_free(a->result);
		a->result = NULL;
		a->result_id = 0;
	} else {
		set_error(a, "results", st, r);
	}
	json_decref(r);
	return st;
}

/* The end of a direct change's trial, to the DPF (which tells the SHOs
 * whose MCIMs went); kept until taken. */
static void flush_stmt(omc_agent *a)
{
	if (!a->stmt)
		return;
	json_t *r = NULL;
	int st = call(a, "POST", a->dpf, "/v1/switch", true, json_pack("{s:s}", "statement", a->stmt), &r);
	if (st == 200 || st == 403) {
		omc_free(a->stmt);
		a->stmt = NULL;
	} else {
		set_error(a, "switch", st, r);
	}
	json_decref(r);
}

static bool switch_trial(omc_agent *a)
{
	bool trial = false;
	return a->tre.switch_trial && a->tre.switch_trial(a->tre.ctx, &trial) == OMC_OK && trial;
}

/* Confirm (attached with the new MCIM) or roll back (it would not). The
 * intent is saved first: a process that dies after the TRE's commit and
 * before the save of the statement asks again when it comes back
 * (ask_again), and the TRE gives the same statement. */
static void switch_end(omc_agent *a, bool confirm)
{
	char *s = NULL;
	if (!a->tre.switch_end)
		return;
	if (!a->ending) {
		a->ending = true;
		if (save(a) != OMC_OK)
			OMC_LOG_WRN("agent", "state not saved before the end of a switch");
	}
	omc_err e = a->tre.switch_end(a->tre.ctx, confirm, &s);
	if (e == OMC_ERR_BAD_STATE)
		a->ending = false; /* no trial, no statement: nothing to wait for */
	if (e != OMC_OK)
		return;
	omc_free(a->stmt);
	a->stmt = s;
	a->ending = false;
	a->trial_failures = 0;
	if (save(a) != OMC_OK)
		OMC_LOG_WRN("agent", "state not saved after the end of a switch");
	flush_stmt(a);
}

/* A trial the TRE ended whose statement this process never saved: the TRE
 * gives it again (the same bytes, whichever end is asked). */
static void ask_again(omc_agent *a)
{
	if (a->ending && !a->stmt && !switch_trial(a))
		switch_end(a, true);
}

static outcome st_boot(omc_agent *a)
{
	ask_again(a);
	omc_tre_state ts;
	if (a->tre.state(a->tre.ctx, &ts) != OMC_OK)
		return retry();
	if (ts == OMC_TRE_LOCKDOWN)
		return go(OMC_AGENT_LOCKDOWN);
	/* An operational MCIM already activated: attach with it. */
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	if (a->tre.registry(a->tre.ctx, reg, 64, &n) != OMC_OK)
		return retry();
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].role, "operational") && reg[i].state == OMC_MCIM_ACTIVATED) {
			snprintf(a->mcim_id, sizeof a->mcim_id, "%s", reg[i].id);
			snprintf(a->mcim_imsi, sizeof a->mcim_imsi, "%s", reg[i].imsi);
			snprintf(a->sho, sizeof a->sho, "%s", reg[i].owner);
			return go(a->receipt ? OMC_AGENT_RECEIPT : OMC_AGENT_ATTACH_MCIM);
		}
	return go(OMC_AGENT_ATTACH_PCID);
}

/* CHG-4, NET-7: a renewal is due when the network asked for one, when a
 * renewal's receipt waits to be sent, or when the activated PCID expires
 * within renew_before_s; not again before renew_after after a failure. */
static bool renew_due(omc_agent *a)
{
	int64_t now = (int64_t)time(NULL);
	if (now < a->renew_after)
		return false;
	if (a->renew || a->renew_receipt)
		return true;
	if (a->renew_before_s < 0)
		return false;
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	if (a->tre.registry(a->tre.ctx, reg, 64, &n) != OMC_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, "pcid") && !strcmp(reg[i].role, "bootstrap") && reg[i].state == OMC_MCIM_ACTIVATED)
			return reg[i].expires > 0 && reg[i].expires - now <= a->renew_before_s;
	return false;
}

/* Renew first if it is due, then go on to next. */
static outcome renew_or(omc_agent *a, omc_agent_state next)
{
	if (!renew_due(a))
		return go(next);
	a->renew_back = next;
	return go(OMC_AGENT_RENEW);
}

static outcome st_attach_pcid(omc_agent *a)
{
	json_t *ans = NULL;
	int st = attach(a, "pcid", &ans);
	outcome o = take_session(a, st, ans, "provisioning");
	if (o.kind != NEXT)
		return o;
	omc_agent_state next = !(a->drf[0] && a->pva[0] && a->dpf[0]) ? OMC_AGENT_BOOTSTRAP
			       : held(a)                               ? OMC_AGENT_STANDBY
									: OMC_AGENT_REGISTER;
	return renew_or(a, next);
}

static bool url_ok(const char *u)
{
	return u && strlen(u) < URL_MAX && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8));
}

static outcome st_bootstrap(omc_agent *a)
{
	json_t *ans = NULL;
	int st = call(a, "GET", a->bootstrap, "/v1/bootstrap", true, NULL, &ans);
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_ATTACH_PCID);
	}
	const char *jws = json_string_value(json_object_get(ans, "bootstrap"));
	omc_jws_verified v = {0};
	const omc_cert *anchors[1] = {a->bootstrap_ca};
	json_t *p = NULL;
	if (st == 200 && jws && a->bootstrap_ca &&
	    omc_jws_verify_x5c(&v, jws, strlen(jws), anchors, 1, "omc-bootstrap+jwt", 0) == OMC_OK) {
		json_error_t je;
		p = omc_json_loadb((const char *)v.payload, v.len, 0, &je);
	}
	omc_jws_verified_free(&v);
	const char *drf = json_string_value(json_object_get(p, "drf"));
	const char *pva = json_string_value(json_object_get(p, "pva"));
	const char *dpf = json_string_value(json_object_get(p, "dpf"));
	bool ok = url_ok(drf) && url_ok(pva) && url_ok(dpf);
	if (ok) {
		snprintf(a->drf, sizeof a->drf, "%s", drf);
		snprintf(a->pva, sizeof a->pva, "%s", pva);
		snprintf(a->dpf, sizeof a->dpf, "%s", dpf);
	} else if (st == 200) {
		snprintf(a->last_error, sizeof a->last_error, "bootstrap: the answer is not signed by the ICO");
	} else {
		set_error(a, "bootstrap", st, ans);
	}
	json_decref(p);
	json_decref(ans);
	return ok ? go(held(a) ? OMC_AGENT_STANDBY : OMC_AGENT_REGISTER) : retry();
}

static outcome st_register(omc_agent *a)
{
	char pcid[16];
	if (!imsi_of(a, "pcid", pcid))
		return retry();
	/* A result an operational session could not send (a reprovision erased
	 * its MCIM): sent with the PCID's; provisioning goes on regardless. */
	(void)flush_result(a);
	/* A tamper report queued in lockdown: the PVA hears of it now. */
	if (a->tamper) {
		json_t *r = NULL;
		int ts = call(a, "POST", a->pva, "/v1/tamper", true, json_pack("{s:s}", "report", a->tamper), &r);
		if (ts == 201 || ts == 403) {
			omc_free(a->tamper);
			a->tamper = NULL;
		}
		json_decref(r);
	}
	int64_t t = (int64_t)time(NULL);
	uint8_t nonce[32];
	char *ev = NULL;
	if (omc_drf_nonce(nonce, pcid, t) != OMC_OK || a->tre.attest(a->tre.ctx, nonce, 32, &ev) != OMC_OK)
		return retry();
	json_t *ans = NULL;
	int st = call(a, "POST", a->drf, "/v1/register", true, json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)t),
		      &ans);
	omc_free(ev);
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_ATTACH_PCID);
	}
	if (st == 202) {
		json_int_t after = json_integer_value(json_object_get(ans, "retry_after"));
		json_decref(ans);
		a->pending = true;
		snprintf(a->last_error, sizeof a->last_error, "register: pending (no SHO yet)");
		unsigned ms = after > 0 && after < 3600 ? (unsigned)after * 1000u : a->backoff_max;
		return (outcome){WAIT, OMC_AGENT_REGISTER, ms < a->backoff_max ? ms : a->backoff_max};
	}
	const char *sho = json_string_value(json_object_get(ans, "sho"));
	if (st != 200 || !sho || strlen(sho) >= sizeof a->sho) {
		set_error(a, "register", st, ans);
		json_decref(ans);
		return retry();
	}
	a->pending = false;
	snprintf(a->sho, sizeof a->sho, "%s", sho);
	/* The DRF's endpoints, when it gives them, win over the bootstrap's. */
	const char *pva = json_string_value(json_object_get(ans, "pva"));
	const char *dpf = json_string_value(json_object_get(ans, "dpf"));
	if (url_ok(pva))
		snprintf(a->pva, sizeof a->pva, "%s", pva);
	if (url_ok(dpf))
		snprintf(a->dpf, sizeof a->dpf, "%s", dpf);
	json_decref(ans);
	return go(OMC_AGENT_VALIDATE);
}

static outcome st_validate(omc_agent *a)
{
	json_t *ans = NULL;
	int st = call(a, "POST", a->pva, "/v1/nonce", true, json_object(), &ans);
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_ATTACH_PCID);
	}
	const char *nb = json_string_value(json_object_get(ans, "nonce"));
	uint8_t n[64];
	size_t nl = 0;
	if (st != 201 || !nb || omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL) != OMC_OK) {
		set_error(a, "nonce", st, ans);
		json_decref(ans);
		return retry();
	}
	json_decref(ans);
	omc_free(a->evidence);
	a->evidence = NULL;
	if (a->tre.session_begin(a->tre.ctx, n, nl, &a->evidence) != OMC_OK) {
		snprintf(a->last_error, sizeof a->last_error, "validate: the TRE opened no session");
		return retry();
	}
	st = call(a, "POST", a->pva, "/v1/validate", true, json_pack("{s:s}", "evidence", a->evidence), &ans);
	const char *tok = json_string_value(json_object_get(ans, "token"));
	if (st != 200 || !tok) {
		set_error(a, "validate", st, ans);
		bool lost = session_lost(st, ans);
		json_decref(ans);
		return lost ? go(OMC_AGENT_ATTACH_PCID) : retry();
	}
	size_t tl = strlen(tok);
	omc_free(a->token);
	a->token = omc_alloc(tl + 1);
	if (a->token)
		memcpy(a->token, tok, tl + 1);
	json_decref(ans);
	return a->token ? go(OMC_AGENT_DOWNLOAD) : retry();
}

static outcome st_download(omc_agent *a)
{
	if (!a->token || !a->evidence)
		return go(OMC_AGENT_VALIDATE);
	json_t *ans = NULL;
	int st = call(a, "POST", a->dpf, "/v1/download", true,
		      json_pack("{s:s,s:s}", "token", a->token, "evidence", a->evidence), &ans);
	const char *code = json_string_value(json_object_get(ans, "error"));
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_ATTACH_PCID);
	}
	const char *pkg = json_string_value(json_object_get(ans, "package"));
	const char *mcim = json_string_value(json_object_get(ans, "mcim"));
	if (st != 200 || !pkg || !mcim || strlen(mcim) >= sizeof a->mcim_id) {
		set_error(a, "download", st, ans);
		/* A token used up or stale: validate again. */
		bool again = code && (!strcmp(code, "token_replayed") || !strcmp(code, "token_expired") ||
				      !strcmp(code, "evidence_mismatch"));
		json_decref(ans);
		if (again) {
			omc_free(a->token);
			a->token = NULL;
			return go(OMC_AGENT_VALIDATE);
		}
		return retry();
	}
	char *receipt = NULL;
	omc_err e = a->tre.install(a->tre.ctx, pkg, strlen(pkg), &receipt);
	snprintf(a->mcim_id, sizeof a->mcim_id, "%s", mcim);
	json_decref(ans);
	omc_free(a->token);
	a->token = NULL;
	if (e == OMC_ERR_EXISTS) {
		/* Another MCIM under that id is here already: go on with it. (The
		 * same MCIM again, its first receipt lost, gets a receipt again.) */
		return go(OMC_AGENT_BOOT);
	}
	if (e != OMC_OK) {
		snprintf(a->last_error, sizeof a->last_error, "install: %s", omc_err_name(e));
		return go(OMC_AGENT_VALIDATE);
	}
	omc_free(a->receipt);
	a->receipt = receipt;
	return go(OMC_AGENT_RECEIPT);
}

static outcome st_receipt(omc_agent *a)
{
	if (!a->receipt)
		return go(OMC_AGENT_ATTACH_MCIM);
	json_t *ans = NULL;
	int st = call(a, "POST", a->dpf, "/v1/receipts", true, json_pack("{s:s}", "receipt", a->receipt), &ans);
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_ATTACH_PCID);
	}
	if (st != 200) {
		set_error(a, "receipt", st, ans);
		json_decref(ans);
		return retry();
	}
	json_decref(ans);
	omc_free(a->receipt);
	a->receipt = NULL;
	a->direct = false; /* the new MCIM is here; the RO's switch comes as a command */
	return go(OMC_AGENT_ATTACH_MCIM);
}

static outcome st_attach_mcim(omc_agent *a)
{
	ask_again(a);
	char imsi[16];
	if (!a->mcim_id[0] || !imsi_of(a, a->mcim_id, imsi))
		return go(OMC_AGENT_BOOT);
	snprintf(a->mcim_imsi, sizeof a->mcim_imsi, "%s", imsi);
	json_t *ans = NULL;
	int st = attach(a, a->mcim_id, &ans);
	outcome o = take_session(a, st, ans, "operational");
	bool trial = switch_trial(a);
	if (o.kind == NEXT) {
		/* A direct change on trial attached with the new MCIM: confirm. */
		if (trial)
			switch_end(a, true);
		return go(OMC_AGENT_OPERATIONAL);
	}
	/* The new MCIM does not attach (the network answered, and refused; or
	 * the TRE refused the challenge): after three tries, back to the old.
	 * No answer at all is not held against it. */
	if (trial && st != 0 && ++a->trial_failures >= 3) {
		switch_end(a, false);
		return go(OMC_AGENT_BOOT);
	}
	return o;
}

/* Whether a command (a JWS the TRE has verified) is `renew_pcid`. */
static bool is_renew_command(const char *cmd)
{
	uint8_t *pl = NULL;
	size_t n = 0;
	if (omc_jws_peek(&pl, &n, cmd, strlen(cmd)) != OMC_OK)
		return false;
	json_error_t je;
	json_t *c = omc_json_loadb((const char *)pl, n, 0, &je);
	omc_free(pl);
	const char *name = json_string_value(json_object_get(c, "cmd"));
	bool yes = name && !strcmp(name, "renew_pcid");
	json_decref(c);
	return yes;
}

/* Send the last result, then fetch the queued commands and carry them out
 * one by one, each result saved before it is sent. The status of the
 * DPF's answer (200 when every step went through). */
static int run_commands(omc_agent *a)
{
	int st = flush_result(a);
	if (a->result)
		return st;
	json_t *ans = NULL;
	st = call(a, "GET", a->dpf, "/v1/commands", true, NULL, &ans);
	if (st != 200) {
		set_error(a, "commands", st, ans);
		json_decref(ans);
		return st;
	}
	json_t *cmds = json_object_get(ans, "commands");
	/* The DPF says a direct change is asked (the new SHO's MCIM to be
	 * downloaded over this connectivity). */
	const char *mode = json_string_value(json_object_get(json_object_get(ans, "change"), "mode"));
	if (mode && !strcmp(mode, "direct") && a->tre.switch_trial && a->tre.switch_end && !switch_trial(a))
		a->direct = true;
	for (size_t i = 0; i < json_array_size(cmds) && !a->result; i++) {
		json_t *c = json_array_get(cmds, i);
		const char *cmd = json_string_value(json_object_get(c, "command"));
		json_t *id = json_object_get(c, "id");
		if (!cmd || !json_is_integer(id) || json_integer_value(id) < 1)
			continue;
		char *result = NULL;
		bool applied = false;
		omc_err e = a->tre.command(a->tre.ctx, cmd, strlen(cmd), &result, &applied);
		if (e == OMC_ERR_LOCKDOWN)
			break;
		if (e != OMC_OK) {
			/* Refused without a signed result: say so, by the error's name. */
			const char *n = omc_err_name(e);
			result = omc_alloc(strlen(n) + 1);
			if (!result)
				break;
			memcpy(result, n, strlen(n) + 1);
		}
		if (applied && is_renew_command(cmd))
			a->renew = true; /* NET-7: the TRE checked it; renew at the next step */
		a->result = result;
		a->result_id = (int64_t)json_integer_value(id);
		if (save(a) != OMC_OK)
			OMC_LOG_WRN("agent", "state not saved before sending a result");
		st = flush_result(a); /* not taken: sent again on the next step */
	}
	json_decref(ans);
	a->polled = !a->again;
	a->again = false;
	a->polls++;
	return a->result ? st : 200;
}

static outcome st_operational(omc_agent *a)
{
	ask_again(a);
	flush_stmt(a);
	if (a->stmt)
		return retry(); /* the end of a switch not taken yet: nothing else first */
	int st = run_commands(a);
	/* A session gone (its MCIM may have been erased): attach again, or
	 * look at the TRE again if the MCIM is gone. */
	if (st == 401)
		return go(OMC_AGENT_ATTACH_MCIM);
	omc_tre_state ts;
	if (a->tre.state(a->tre.ctx, &ts) == OMC_OK && ts == OMC_TRE_LOCKDOWN)
		return go(OMC_AGENT_LOCKDOWN);
	char imsi[16];
	if (!imsi_of(a, a->mcim_id, imsi))
		return go(OMC_AGENT_BOOT);
	if (st != 200)
		return retry();
	if (a->direct)
		return go(OMC_AGENT_VALIDATE); /* then download, install (not activated), receipt */
	if (renew_due(a)) {
		a->renew_back = OMC_AGENT_OPERATIONAL;
		return go(OMC_AGENT_RENEW);
	}
	return (outcome){WAIT, OMC_AGENT_OPERATIONAL, a->poll_ms};
}

static outcome st_standby(omc_agent *a)
{
	int st = run_commands(a);
	if (st == 401)
		return go(OMC_AGENT_ATTACH_PCID);
	omc_tre_state ts;
	if (a->tre.state(a->tre.ctx, &ts) == OMC_OK && ts == OMC_TRE_LOCKDOWN)
		return go(OMC_AGENT_LOCKDOWN);
	/* Activated again, or deleted: boot decides what comes next. */
	if (!held(a))
		return go(OMC_AGENT_BOOT);
	if (st != 200)
		return retry();
	if (renew_due(a)) {
		a->renew_back = OMC_AGENT_STANDBY;
		return go(OMC_AGENT_RENEW);
	}
	return (outcome){WAIT, OMC_AGENT_STANDBY, a->poll_ms};
}

/* A renewal that did not go through: back where it came from, and not
 * again for a while (the PCID still works until it expires). */
static outcome renew_failed(omc_agent *a)
{
	unsigned ms = a->backoff_max;
	a->renew_after = (int64_t)time(NULL) + (int64_t)(ms / 1000u) + 1;
	omc_agent_state back = a->renew_back;
	return (outcome){WAIT, back == OMC_AGENT_RENEW ? OMC_AGENT_BOOT : back, ms};
}

/* After a renewal: an operational session goes on; a PCID's session
 * belonged to the old PCID, so attach with the new one. */
static outcome renew_done(omc_agent *a)
{
	a->renew = false;
	a->renew_after = 0;
	return go(!strcmp(a->scope, "operational") && a->renew_back == OMC_AGENT_OPERATIONAL ? OMC_AGENT_OPERATIONAL
											       : OMC_AGENT_ATTACH_PCID);
}

/* The TRE's receipt to the ICO, which retires the old PCID on it. The
 * status (200 when taken). */
static int renew_send_receipt(omc_agent *a)
{
	json_t *ans = NULL;
	int st = call(a, "POST", a->bootstrap, "/v1/pcids/receipts", true,
		      json_pack("{s:s}", "receipt", a->renew_receipt), &ans);
	/* Taken, or refused for good (sending it again would not help). */
	if (st == 200 || st == 400 || st == 403 || st == 404) {
		if (st != 200)
			set_error(a, "renew receipt", st, ans);
		omc_free(a->renew_receipt);
		a->renew_receipt = NULL;
	} else {
		set_error(a, "renew receipt", st, ans);
	}
	json_decref(ans);
	return st;
}

/* CHG-4, CHG-5, NET-7: a nonce from the ICO, the TRE's session evidence
 * over it, the new PCID's package installed by the TRE (it replaces the
 * old one), the receipt saved and then sent. */
static outcome st_renew(omc_agent *a)
{
	if (a->renew_receipt) {
		int st = renew_send_receipt(a);
		if (st == 401)
			return go(OMC_AGENT_BOOT); /* attach again; the receipt stays */
		return a->renew_receipt ? renew_failed(a) : renew_done(a);
	}
	json_t *ans = NULL;
	int st = call(a, "POST", a->bootstrap, "/v1/pcids/nonce", true, json_object(), &ans);
	if (session_lost(st, ans)) {
		json_decref(ans);
		return go(OMC_AGENT_BOOT);
	}
	const char *nb = json_string_value(json_object_get(ans, "nonce"));
	uint8_t n[64];
	size_t nl = 0;
	if (st != 201 || !nb || omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL) != OMC_OK) {
		set_error(a, "renew nonce", st, ans);
		json_decref(ans);
		return renew_failed(a);
	}
	json_decref(ans);
	char *ev = NULL;
	if (a->tre.session_begin(a->tre.ctx, n, nl, &ev) != OMC_OK) {
		snprintf(a->last_error, sizeof a->last_error, "renew: the TRE opened no session");
		return renew_failed(a);
	}
	/* The PCID's version, so that the new one is above it. */
	omc_tre_mcim_info reg[64];
	size_t rn = 0;
	json_int_t version = 1;
	if (a->tre.registry(a->tre.ctx, reg, 64, &rn) == OMC_OK)
		for (size_t i = 0; i < rn; i++)
			if (!strcmp(reg[i].id, "pcid") && reg[i].version > 0)
				version = (json_int_t)reg[i].version;
	st = call(a, "POST", a->bootstrap, "/v1/pcids/renew", true,
		  json_pack("{s:s,s:I}", "evidence", ev, "version", version), &ans);
	omc_free(ev);
	const char *pkg = json_string_value(json_object_get(ans, "package"));
	if (st != 200 || !pkg) {
		set_error(a, "renew", st, ans);
		bool lost = session_lost(st, ans);
		json_decref(ans);
		return lost ? go(OMC_AGENT_BOOT) : renew_failed(a);
	}
	char *receipt = NULL;
	omc_err e = a->tre.install(a->tre.ctx, pkg, strlen(pkg), &receipt);
	json_decref(ans);
	if (e != OMC_OK) {
		snprintf(a->last_error, sizeof a->last_error, "renew: install: %s", omc_err_name(e));
		return renew_failed(a);
	}
	/* The old PCID is gone from the TRE: the receipt is the ICO's only word
	 * of it, saved before it is sent. */
	a->renew_receipt = receipt;
	a->renew = false;
	if (save(a) != OMC_OK)
		OMC_LOG_WRN("agent", "state not saved before sending the renewal's receipt");
	st = renew_send_receipt(a);
	if (a->renew_receipt)
		return st == 401 ? go(OMC_AGENT_BOOT) : renew_failed(a);
	return renew_done(a);
}

static outcome st_lockdown(omc_agent *a)
{
	/* No network activity (TRE-4): the TRE's signed tamper report queued
	 * for the PVA (sent once the TRE is recovered and the device has a
	 * session again), and a watch for the recovery. */
	if (!a->tamper && a->tre.tamper_report && a->tre.tamper_report(a->tre.ctx, &a->tamper) != OMC_OK)
		a->tamper = NULL;
	omc_tre_state ts;
	if (a->tre.state(a->tre.ctx, &ts) == OMC_OK && ts != OMC_TRE_LOCKDOWN)
		return go(OMC_AGENT_BOOT);
	return (outcome){WAIT, OMC_AGENT_LOCKDOWN, a->backoff_max};
}

static outcome (*const steps[OMC_AGENT_STATE_COUNT])(omc_agent *) = {
	[OMC_AGENT_BOOT] = st_boot,
	[OMC_AGENT_ATTACH_PCID] = st_attach_pcid,
	[OMC_AGENT_BOOTSTRAP] = st_bootstrap,
	[OMC_AGENT_REGISTER] = st_register,
	[OMC_AGENT_VALIDATE] = st_validate,
	[OMC_AGENT_DOWNLOAD] = st_download,
	[OMC_AGENT_RECEIPT] = st_receipt,
	[OMC_AGENT_ATTACH_MCIM] = st_attach_mcim,
	[OMC_AGENT_OPERATIONAL] = st_operational,
	[OMC_AGENT_LOCKDOWN] = st_lockdown,
	[OMC_AGENT_STANDBY] = st_standby,
	[OMC_AGENT_RENEW] = st_renew,
};

/* --- the machine ------------------------------------------------------------------------------- */

static uint64_t next_rand(omc_agent *a)
{
	/* xorshift64*: jitter only, nothing secret. */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return a->rng * 2685821657736338717ull;
}

static unsigned backoff(omc_agent *a)
{
	uint64_t ms = a->backoff_min;
	for (unsigned i = 1; i < a->failures && ms < a->backoff_max; i++)
		ms *= 2;
	if (ms > a->backoff_max)
		ms = a->backoff_max;
	/* full jitter over [ms/2, ms] */
	return (unsigned)(ms / 2 + next_rand(a) % (ms / 2 + 1));
}

omc_err omc_agent_step(omc_agent *a, unsigned *wait_ms)
{
	OMC_ENSURE(a && wait_ms, OMC_ERR_BAD_ARG);
	*wait_ms = 0;
	a->steps++;
	omc_tre_state ts;
	/* Lockdown stops everything else, whatever the saved state says. */
	if (a->state != OMC_AGENT_LOCKDOWN && a->tre.state(a->tre.ctx, &ts) == OMC_OK && ts == OMC_TRE_LOCKDOWN)
		a->state = OMC_AGENT_LOCKDOWN;
	omc_agent_state before = a->state;
	outcome o = steps[a->state](a);
	switch (o.kind) {
	case NEXT:
		/* A poll counts for the state it was made in: a new state (a
		 * command moved the device on) waits for its own. */
		if (o.next != before)
			a->polled = false;
		a->state = o.next;
		if (o.next != before || before == OMC_AGENT_BOOT)
			a->failures = 0;
		if (o.next != OMC_AGENT_REGISTER)
			a->pending = false;
		break;
	case RETRY:
		a->failures++;
		*wait_ms = backoff(a);
		break;
	case WAIT:
		a->state = o.next;
		*wait_ms = o.wait_ms;
		break;
	}
	return save(a);
}

omc_err omc_agent_run(omc_agent *a, unsigned timeout_ms)
{
	OMC_ENSURE(a != NULL, OMC_ERR_BAD_ARG);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->polled = false;
	for (;;) {
		unsigned w = 0;
		OMC_TRY(omc_agent_step(a, &w));
		if (((a->state == OMC_AGENT_OPERATIONAL || a->state == OMC_AGENT_STANDBY) && a->polled) ||
		    a->state == OMC_AGENT_LOCKDOWN)
			return OMC_OK;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t el = (uint64_t)(t.tv_sec - t0.tv_sec) * 1000u + (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000);
		if (el + w >= timeout_ms)
			OMC_BAIL(OMC_ERR_BAD_STATE);
		if (w) {
			struct timespec d = {.tv_sec = w / 1000, .tv_nsec = (long)(w % 1000) * 1000000L};
			nanosleep(&d, NULL);
		}
	}
}

omc_err omc_agent_new(omc_agent **out, const omc_agent_opts *o)
{
	OMC_ENSURE(out && o && o->tre.state && o->tre.registry && o->tre.attest && o->tre.session_begin &&
			   o->tre.install && o->tre.command && o->tre.aka && url_ok(o->vno_url) && url_ok(o->bootstrap_url),
		   OMC_ERR_BAD_ARG);
	OMC_ENSURE(!o->io || (o->state_path && strlen(o->state_path) > 0 && strlen(o->state_path) < 120), OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	omc_agent *a = omc_calloc(1, sizeof *a);
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	a->tre = o->tre;
	a->io = o->io;
	if (o->state_path)
		snprintf(a->state_path, sizeof a->state_path, "%s", o->state_path);
	snprintf(a->vno, sizeof a->vno, "%s", o->vno_url);
	snprintf(a->bootstrap, sizeof a->bootstrap, "%s", o->bootstrap_url);
	a->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : 200;
	a->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : 30000;
	if (a->backoff_max < a->backoff_min)
		a->backoff_max = a->backoff_min;
	a->poll_ms = o->poll_ms ? o->poll_ms : 30000;
	a->renew_before_s = o->renew_before_s ? o->renew_before_s : 30 * 86400;
	a->renew_back = OMC_AGENT_BOOT;
	a->rng = o->seed;
	omc_err e = OMC_OK;
	if (!a->rng)
		e = omc_rand_bytes((uint8_t *)&a->rng, sizeof a->rng);
	a->rng |= 1;
	omc_http_client_opts co = {.timeout_ms = 15000,
				   .ca_file = o->tls_ca,
				   .fault = o->http_fault,
				   .fault_arg = o->http_fault_arg,
				   .route = o->http_route,
				   .route_arg = o->http_route_arg,
				   .routed = o->http_routed};
	if (e == OMC_OK)
		e = omc_http_client_new(&a->http, &co);
	if (e == OMC_OK && o->bootstrap_ca) {
		uint8_t *pem = NULL;
		size_t len = 0;
		e = omc_read_file(o->bootstrap_ca, &pem, &len, 64 * 1024);
		if (e == OMC_OK)
			e = omc_cert_from_pem(&a->bootstrap_ca, (const char *)pem, len);
		omc_free(pem);
	}
	if (e == OMC_OK)
		e = load(a);
	if (e != OMC_OK) {
		omc_agent_free(a);
		return e;
	}
	*out = a;
	return OMC_OK;
}

void omc_agent_free(omc_agent *a)
{
	if (!a)
		return;
	omc_http_client_free(a->http);
	omc_cert_free(a->bootstrap_ca);
	omc_free(a->evidence);
	omc_free(a->token);
	omc_free(a->receipt);
	omc_free(a->result);
	omc_free(a->tamper);
	omc_free(a->stmt);
	omc_free(a->renew_receipt);
	omc_link_wipe(&a->link);
	omc_link_wipe(&a->link_next);
	omc_free(a);
}

void omc_agent_info_get(const omc_agent *a, omc_agent_info *info)
{
	memset(info, 0, sizeof *info);
	info->state = a->state;
	snprintf(info->sho, sizeof info->sho, "%s", a->sho);
	snprintf(info->mcim_id, sizeof info->mcim_id, "%s", a->mcim_id);
	snprintf(info->mcim_imsi, sizeof info->mcim_imsi, "%s", a->mcim_imsi);
	snprintf(info->last_error, sizeof info->last_error, "%s", a->last_error);
	info->failures = a->failures;
	info->steps = a->steps;
	info->commands = a->commands;
	info->polls = a->polls;
	info->pending = a->pending;
	info->polled = a->polled;
}

/* --- the protected access link (SEC-11, docs/link.md) ------------------------------------------- */

/* The VNO's downlink answer: a frame of the link whose payload names the
 * uplink COUNT it acknowledges. */
static omc_err link_check_answer(omc_agent *a, const json_t *ans, uint32_t count)
{
	const char *fb = json_string_value(json_object_get(ans, "frame"));
	static _Thread_local uint8_t frame[OMC_LINK_FRAME_MAX];
	char pt[128];
	size_t n = 0, len = 0;
	OMC_ENSURE(fb && omc_b64_decode(frame, sizeof frame, &n, fb, strlen(fb), OMC_B64_URL) == OMC_OK,
		   OMC_ERR_BAD_FORMAT);
	OMC_TRY(omc_link_open(&a->link, (uint8_t *)pt, sizeof pt - 1, &len, NULL, frame, n));
	pt[len] = 0;
	json_error_t je;
	json_t *o = omc_json_loads(pt, 0, &je);
	bool ok = o && json_integer_value(json_object_get(o, "count")) == (json_int_t)count;
	json_decref(o);
	OMC_ENSURE(ok, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

omc_err omc_agent_link_send(omc_agent *a, omc_agent_link_answer *ans, const uint8_t *data, size_t len)
{
	OMC_ENSURE(a && ans && (data || len == 0), OMC_ERR_BAD_ARG);
	memset(ans, 0, sizeof *ans);
	OMC_ENSURE(a->link.ready && a->session[0] && !strcmp(a->scope, "operational"), OMC_ERR_BAD_STATE);
	static _Thread_local uint8_t frame[OMC_LINK_FRAME_MAX];
	static _Thread_local char b64[((OMC_LINK_FRAME_MAX + 2) / 3) * 4 + 1];
	size_t n = 0;
	uint32_t count = a->link.tx_next;
	OMC_TRY(omc_link_seal(&a->link, frame, sizeof frame, &n, data, len));
	ans->count = count;
	OMC_TRY(omc_b64_encode(b64, sizeof b64, frame, n, OMC_B64_URL));
	json_t *r = NULL;
	ans->status = call(a, "POST", a->vno, "/v1/link", true, json_pack("{s:s}", "frame", b64), &r);
	const char *code = json_string_value(json_object_get(r, "error"));
	snprintf(ans->error, sizeof ans->error, "%s", code ? code : "");
	ans->used = (uint64_t)json_integer_value(json_object_get(r, "used"));
	ans->volume_cap = (uint64_t)json_integer_value(json_object_get(r, "volume_cap"));
	omc_err e = ans->status == 0 ? OMC_ERR_IO : ans->status != 200 ? OMC_ERR_DENIED : link_check_answer(a, r, count);
	json_decref(r);
	if (e != OMC_OK)
		return omc_err_raise(e, __FILE__, __LINE__);
	return OMC_OK;
}
