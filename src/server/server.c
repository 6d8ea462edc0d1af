/* `openmcim server`: the config file, the listeners of the roles, and what
 * every role shares (answers, bodies, caller authentication, calls to other
 * roles, audit, counters, metrics). docs/server.md. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/evp.h>

#include "openmcim/factory.h"
#include "server/server_internal.h"

static const char *const role_names[SRV_ROLE_COUNT] = {"ccif", "auc", "sho", "vno", "bootstrap", "drf", "pva", "dpf"};

/* --- small things ---------------------------------------------------------------------- */

int64_t srv_now(omc_server *s)
{
	return s->now ? s->now(s->now_arg) : (int64_t)time(NULL);
}

void srv_lock(omc_server *s)
{
	pthread_mutex_lock(&s->lock);
}

/* The commits of the database handle that the request this thread handles
 * has made or may have read (the handle's count when it last let go of
 * it): what must be durable before anything of the request leaves. */
static _Thread_local uint64_t seen;

void srv_unlock(omc_server *s)
{
	uint64_t w = omc_db_written(s->db);
	if (w > seen)
		seen = w;
	pthread_mutex_unlock(&s->lock);
}

omc_err srv_durable(omc_server *s)
{
	return omc_db_sync(s->db, seen);
}

const char *srv_peer(omc_server *s, const char *name)
{
	for (size_t i = 0; i < s->n_peers; i++)
		if (!strcmp(s->peer[i][0], name))
			return s->peer[i][1];
	return NULL;
}

srv_op *srv_op_find(omc_server *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_ops; i++)
		if (!strcmp(s->ops[i].name, name))
			return &s->ops[i];
	return NULL;
}

srv_op *srv_op_for_imsi(omc_server *s, const char *imsi)
{
	srv_op *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; imsi && i < s->n_ops; i++) {
		size_t n = strlen(s->ops[i].imsi_prefix);
		if (n > best_len && !strncmp(imsi, s->ops[i].imsi_prefix, n)) {
			best = &s->ops[i];
			best_len = n;
		}
	}
	return best;
}

bool srv_digits(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool srv_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= SRV_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* --- answers ---------------------------------------------------------------------------- */

static void count_code(omc_server *s, int status, const char *code)
{
	pthread_mutex_lock(&s->mlock);
	size_t i = 0;
	while (i < s->n_codes && !(s->codes[i].status == status && !strcmp(s->codes[i].code, code)))
		i++;
	if (i == s->n_codes && i < SRV_CODES_MAX) {
		s->codes[i].code = code;
		s->codes[i].status = status;
		s->n_codes++;
	}
	if (i < s->n_codes)
		s->codes[i].n++;
	pthread_mutex_unlock(&s->mlock);
}

void srv_fail(srv_listener *l, omc_http_resp *resp, int status, const char *code, const char *msg)
{
	count_code(l->s, status, code);
	omc_http_resp_error(resp, status, code, msg);
}

void srv_reply(srv_listener *l, omc_http_resp *resp, int status, json_t *o)
{
	char *b = o ? omc_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!b) {
		srv_fail(l, resp, 500, "internal", "out of memory");
		return;
	}
	omc_free(resp->body);
	resp->body = b;
	resp->body_len = strlen(b);
	resp->status = status;
	resp->content_type = NULL;
}

json_t *srv_body(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		srv_fail(l, resp, 400, "bad_json", "the body is not a JSON object");
		return NULL;
	}
	return o;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

const char *srv_str(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, size_t min, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;
	if (!s || n < min || n > max || strlen(s) != n || !printable(s, n)) {
		char msg[96];
		snprintf(msg, sizeof msg, "member %.40s: a string of %zu to %zu characters", key, min, max);
		srv_fail(l, resp, 400, "bad_request", msg);
		return NULL;
	}
	return s;
}

bool srv_int(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, int64_t lo, int64_t hi,
	     int64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		char msg[128];
		snprintf(msg, sizeof msg, "member %.40s: an integer from %lld to %lld", key, (long long)lo,
			 (long long)hi);
		srv_fail(l, resp, 400, "bad_request", msg);
		return false;
	}
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* --- SQL helpers -------------------------------------------------------------------------- */

omc_err srv_sql(omc_server *s, omc_dbs **st, const char *sql)
{
	return omc_db_stmt(s->db, st, sql);
}

void srv_sql_done(omc_server *s, omc_dbs *st)
{
	omc_db_done(s->db, st);
}

bool srv_begin(omc_server *s)
{
	return omc_db_run(s->db, "BEGIN IMMEDIATE") == OMC_OK;
}

bool srv_commit(omc_server *s)
{
	if (omc_db_run(s->db, "COMMIT") == OMC_OK)
		return true;
	srv_rollback(s);
	return false;
}

void srv_rollback(omc_server *s)
{
	omc_db_rollback(s->db);
}

omc_err srv_counter_next(omc_server *s, const char *name, int64_t *v)
{
	omc_dbs *st;
	OMC_TRY(srv_sql(s, &st,
			"INSERT INTO counter (name, value) VALUES (?1, 1)"
			" ON CONFLICT (name) DO UPDATE SET value = counter.value + 1 RETURNING value"));
	omc_dbs_bind_text(st, 1, name, -1);
	int rc = omc_dbs_step(st);
	if (rc == OMC_DB_ROW)
		*v = (int64_t)omc_dbs_column_int64(st, 0);
	srv_sql_done(s, st);
	OMC_ENSURE(rc == OMC_DB_ROW, omc_db_err(rc));
	return OMC_OK;
}

omc_err srv_nonce_new(omc_server *s, bool ccif, const char *session, int64_t lifetime, char nb[48], int64_t *exp)
{
	uint8_t n[32];
	int64_t now = srv_now(s);
	*exp = now + lifetime;
	OMC_TRY(omc_rand_bytes(n, sizeof n));
	OMC_TRY(omc_b64_encode(nb, 48, n, 32, OMC_B64_URL));
	omc_dbs *q;
	srv_lock(s);
	omc_err e = srv_sql(s, &q,
			    ccif ? "INSERT INTO ccif_nonce (nonce, session, created, expires, used) VALUES (?1, ?2, ?3, ?4, 0)"
				 : "INSERT INTO pva_nonce (nonce, session, created, expires, used) VALUES (?1, ?2, ?3, ?4, 0)");
	if (e == OMC_OK) {
		omc_dbs_bind_text(q, 1, nb, -1);
		omc_dbs_bind_text(q, 2, session, -1);
		omc_dbs_bind_int64(q, 3, (int64_t)now);
		omc_dbs_bind_int64(q, 4, (int64_t)*exp);
		e = omc_dbs_step(q) == OMC_DB_DONE ? OMC_OK : OMC_ERR_IO;
		srv_sql_done(s, q);
	}
	/* Nonces past their life (used or not) go after an hour: one naming
	 * them is then unknown_nonce instead of nonce_expired. */
	if (e == OMC_OK && srv_sql(s, &q,
				   ccif ? "DELETE FROM ccif_nonce WHERE expires < ?1"
					: "DELETE FROM pva_nonce WHERE expires < ?1") == OMC_OK) {
		omc_dbs_bind_int64(q, 1, (int64_t)(now - 3600));
		(void)omc_dbs_step(q);
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	return e;
}

bool srv_evidence_nonce(const char *ev, char nb[96], uint8_t n[64], size_t *nl)
{
	uint8_t *pl = NULL;
	size_t pn = 0;
	json_t *pj = NULL;
	json_error_t je;
	nb[0] = 0;
	*nl = 0;
	if (omc_jws_peek(&pl, &pn, ev, strlen(ev)) == OMC_OK)
		pj = omc_json_loadb((const char *)pl, pn, 0, &je);
	omc_free(pl);
	const char *v = json_string_value(json_object_get(pj, "eat_nonce"));
	if (v && strlen(v) < 96)
		snprintf(nb, 96, "%s", v);
	json_decref(pj);
	return nb[0] && omc_b64_decode(n, 64, nl, nb, strlen(nb), OMC_B64_URL) == OMC_OK;
}

const char *srv_nonce_state(omc_server *s, bool ccif, const char *nb, const char *session)
{
	omc_dbs *q;
	const char *why = "unknown_nonce";
	if (srv_sql(s, &q,
		    ccif ? "SELECT session, expires, used FROM ccif_nonce WHERE nonce = ?1"
			 : "SELECT session, expires, used FROM pva_nonce WHERE nonce = ?1") != OMC_OK)
		return "internal";
	omc_dbs_bind_text(q, 1, nb, -1);
	if (omc_dbs_step(q) == OMC_DB_ROW) {
		if (omc_dbs_column_int(q, 2))
			why = "nonce_used";
		else if (omc_dbs_column_int64(q, 1) < srv_now(s))
			why = "nonce_expired";
		else if (strcmp((const char *)omc_dbs_column_text(q, 0), session) != 0)
			why = "unknown_nonce"; /* another session's */
		else
			why = "";
	}
	srv_sql_done(s, q);
	return why;
}

void srv_audit(omc_server *s, const char *role, const char *actor, const char *event, const char *subject,
	       const char *result, const char *detail)
{
	omc_dbs *st;
	if (srv_sql(s, &st,
		    "INSERT INTO audit (time, role, actor, event, subject, result, detail)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") != OMC_OK)
		return;
	omc_dbs_bind_int64(st, 1, (int64_t)srv_now(s));
	omc_dbs_bind_text(st, 2, role, -1);
	omc_dbs_bind_text(st, 3, actor, -1);
	omc_dbs_bind_text(st, 4, event, -1);
	omc_dbs_bind_text(st, 5, subject, -1);
	omc_dbs_bind_text(st, 6, result, -1);
	omc_dbs_bind_text(st, 7, detail, -1);
	if (omc_dbs_step(st) != OMC_DB_DONE)
		OMC_LOG_ERR("server", "audit record not written: %s", omc_db_errmsg(s->db));
	srv_sql_done(s, st);
}

/* --- tokens -------------------------------------------------------------------------------- */

omc_err srv_token_hash(uint8_t out[32], const char *token)
{
	unsigned n = 0;
	OMC_ENSURE(token != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err srv_token_new(char out[48])
{
	uint8_t r[32];
	OMC_DEFER_WIPE(r);
	OMC_TRY(omc_rand_bytes(r, sizeof r));
	return omc_b64_encode(out, 48, r, sizeof r, OMC_B64_URL);
}

static const char *bearer(const omc_http_req *req)
{
	const char *a = req->authorization;
	if (!a || strncmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	size_t n = strlen(a);
	return n >= 16 && n <= 128 ? a : NULL;
}

bool srv_auth_session(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, srv_session *out)
{
	omc_server *s = l->s;
	memset(out, 0, sizeof *out);
	const char *tok = bearer(req);
	if (!tok || srv_token_hash(out->token_hash, tok) != OMC_OK) {
		srv_fail(l, resp, 401, "no_session", "a session from the VNO is needed (Authorization: Bearer)");
		return false;
	}
	omc_dbs *st;
	bool ok = false, expired = false;
	srv_lock(s);
	if (srv_sql(s, &st,
		    "SELECT imsi, home, scope, data_only, volume_cap, used, expires FROM vno_session"
		    " WHERE token_hash = ?1") == OMC_OK) {
		omc_dbs_bind_blob(st, 1, out->token_hash, 32);
		if (omc_dbs_step(st) == OMC_DB_ROW) {
			snprintf(out->imsi, sizeof out->imsi, "%s", (const char *)omc_dbs_column_text(st, 0));
			snprintf(out->home, sizeof out->home, "%s", (const char *)omc_dbs_column_text(st, 1));
			snprintf(out->scope, sizeof out->scope, "%s", (const char *)omc_dbs_column_text(st, 2));
			out->data_only = omc_dbs_column_int(st, 3) != 0;
			out->volume_cap = (uint64_t)omc_dbs_column_int64(st, 4);
			out->used = (uint64_t)omc_dbs_column_int64(st, 5);
			expired = omc_dbs_column_int64(st, 6) <= srv_now(s);
			ok = !expired;
		}
		srv_sql_done(s, st);
	}
	srv_unlock(s);
	if (!ok)
		srv_fail(l, resp, 401, expired ? "session_expired" : "no_session",
			 expired ? "the session has expired: attach again" : "unknown session");
	return ok;
}

bool srv_auth_subscriber(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, char name[33])
{
	omc_server *s = l->s;
	uint8_t h[32];
	const char *tok = bearer(req);
	bool ok = false;
	if (tok && srv_token_hash(h, tok) == OMC_OK) {
		omc_dbs *st;
		srv_lock(s);
		if (srv_sql(s, &st, "SELECT name FROM sho_subscriber WHERE token_hash = ?1 AND operator = ?2") ==
		    OMC_OK) {
			omc_dbs_bind_blob(st, 1, h, 32);
			omc_dbs_bind_text(st, 2, l->op->name, -1);
			if (omc_dbs_step(st) == OMC_DB_ROW) {
				snprintf(name, 33, "%s", (const char *)omc_dbs_column_text(st, 0));
				ok = true;
			}
			srv_sql_done(s, st);
		}
		srv_unlock(s);
	}
	if (!ok)
		srv_fail(l, resp, 401, "unauthenticated", "a subscriber token of this SHO is needed");
	return ok;
}

/* --- signed requests between servers ------------------------------------------------------------- */

#define REQ_TYP "omc-request+jwt"
#define REQ_SKEW 300

static omc_err body_hash(char out[44], const char *body, size_t len)
{
	uint8_t h[32];
	unsigned n = 0;
	OMC_ENSURE(EVP_Digest(body, len, h, &n, EVP_sha256(), NULL) == 1, OMC_ERR_CRYPTO);
	return omc_b64_encode(out, 44, h, 32, OMC_B64_URL);
}

omc_err srv_sign_request(char **auth, const omc_key *key, const omc_cert *cert, const char *method,
			 const char *path, const char *body, size_t body_len, int64_t now)
{
	char bh[44], jti[48];
	uint8_t r[18];
	OMC_TRY(body_hash(bh, body ? body : "", body ? body_len : 0));
	OMC_TRY(omc_rand_bytes(r, sizeof r));
	OMC_TRY(omc_b64_encode(jti, sizeof jti, r, sizeof r, OMC_B64_URL));
	json_t *p = json_pack("{s:s,s:s,s:s,s:I,s:s}", "htm", method, "htu", path, "bh", bh, "iat", (json_int_t)now,
			      "jti", jti);
	char *ps = p ? omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(p);
	OMC_ENSURE(ps != NULL, OMC_ERR_NOMEM);
	const omc_cert *x5c[1] = {cert};
	char *jws = NULL;
	omc_err e = omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), key, x5c, 1, REQ_TYP);
	omc_free(ps);
	OMC_TRY(e);
	size_t n = strlen(jws);
	*auth = omc_alloc(n + 9);
	if (!*auth) {
		omc_free(jws);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	memcpy(*auth, "OMC-JWS ", 8);
	memcpy(*auth + 8, jws, n + 1);
	omc_free(jws);
	return OMC_OK;
}

/* The CA of a named entity, from the PKI directory (loaded once). */
static omc_cert *anchor_of(omc_server *s, const char *name)
{
	omc_cert *c = NULL;
	pthread_mutex_lock(&s->mlock);
	for (size_t i = 0; i < s->n_anchors && !c; i++)
		if (!strcmp(s->anchors[i].name, name))
			c = s->anchors[i].ca;
	if (!c && s->n_anchors < OMC_ARRAY_LEN(s->anchors)) {
		char ca[40];
		snprintf(ca, sizeof ca, "%s-ca", name);
		omc_cert *got = NULL;
		if (omc_pki_load(s->pki, ca, NULL, &got) == OMC_OK) {
			snprintf(s->anchors[s->n_anchors].name, SRV_NAME_MAX, "%s", name);
			s->anchors[s->n_anchors++].ca = got;
			c = got;
		}
	}
	pthread_mutex_unlock(&s->mlock);
	return c;
}

static bool jti_fresh(omc_server *s, const char *jti, int64_t now)
{
	omc_dbs *st;
	bool ok = false;
	srv_lock(s);
	if (srv_sql(s, &st, "INSERT INTO req_jti (jti, seen) VALUES (?1, ?2)") == OMC_OK) {
		omc_dbs_bind_text(st, 1, jti, -1);
		omc_dbs_bind_int64(st, 2, (int64_t)now);
		ok = omc_dbs_step(st) == OMC_DB_DONE;
		srv_sql_done(s, st);
	}
	/* A jti older than twice the skew can no longer come back: forget it. */
	if (ok && ++s->jti_inserts % 1024 == 0 &&
	    srv_sql(s, &st, "DELETE FROM req_jti WHERE seen < ?1") == OMC_OK) {
		omc_dbs_bind_int64(st, 1, (int64_t)(now - 2 * REQ_SKEW));
		(void)omc_dbs_step(st);
		srv_sql_done(s, st);
	}
	srv_unlock(s);
	return ok;
}

bool srv_auth_peer(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, const char *const *allowed,
		   size_t n_allowed, char who[SRV_NAME_MAX])
{
	return srv_auth_peer_cert(l, req, resp, allowed, n_allowed, who, NULL);
}

bool srv_auth_peer_cert(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, const char *const *allowed,
			size_t n_allowed, char who[SRV_NAME_MAX], omc_cert **leaf)
{
	if (leaf)
		*leaf = NULL;
	omc_server *s = l->s;
	const char *a = req->authorization;
	if (!a || strncmp(a, "OMC-JWS ", 8) != 0) {
		srv_fail(l, resp, 401, "unauthenticated", "a signed request is needed (Authorization: OMC-JWS)");
		return false;
	}
	a += 8;
	const omc_cert *anchors[8];
	const char *names[8];
	size_t n = 0;
	for (size_t i = 0; i < n_allowed && n < 8; i++) {
		omc_cert *c = anchor_of(s, allowed[i]);
		if (c) {
			anchors[n] = c;
			names[n++] = allowed[i];
		}
	}
	omc_jws_verified v = {0};
	const char *code = "bad_signature", *msg = "the request signature does not verify for an allowed caller";
	json_t *p = NULL;
	int64_t now = srv_now(s);
	if (n == 0 || omc_jws_verify_x5c(&v, a, strlen(a), anchors, n, REQ_TYP, (time_t)now) != OMC_OK)
		goto fail;
	char cn[64];
	if (omc_cert_subject_cn(cn, sizeof cn, v.leaf) != OMC_OK || strcmp(cn, names[v.anchor]) != 0) {
		code = "wrong_caller";
		msg = "the signing certificate does not name the caller its CA speaks for";
		goto fail;
	}
	json_error_t je;
	p = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	const char *htm = json_string_value(json_object_get(p, "htm"));
	const char *htu = json_string_value(json_object_get(p, "htu"));
	const char *bh = json_string_value(json_object_get(p, "bh"));
	const char *jti = json_string_value(json_object_get(p, "jti"));
	json_t *iat = json_object_get(p, "iat");
	char want_bh[44];
	code = "bad_request_signature";
	msg = "the signed request does not match this request";
	if (!htm || !htu || !bh || !jti || !json_is_integer(iat) || strlen(jti) < 16 || strlen(jti) > 64 ||
	    strcmp(htm, req->method) != 0 || strcmp(htu, req->path) != 0 ||
	    body_hash(want_bh, (const char *)req->body, req->body_len) != OMC_OK || strcmp(bh, want_bh) != 0)
		goto fail;
	if (json_integer_value(iat) < now - REQ_SKEW || json_integer_value(iat) > now + REQ_SKEW) {
		code = "stale_request";
		msg = "the signed request is too old or from the future";
		goto fail;
	}
	if (!jti_fresh(s, jti, now)) {
		code = "replayed_request";
		msg = "this signed request was seen before";
		goto fail;
	}
	snprintf(who, SRV_NAME_MAX, "%s", names[v.anchor]);
	if (leaf) {
		*leaf = v.leaf;
		v.leaf = NULL;
	}
	json_decref(p);
	omc_jws_verified_free(&v);
	return true;
fail:
	json_decref(p);
	omc_jws_verified_free(&v);
	srv_fail(l, resp, 401, code, msg);
	return false;
}

/* --- calls to other roles: one client per thread ------------------------------------------------- */

static void client_free(void *c)
{
	omc_http_client_free(c);
}

/* Each thread of a server keeps its own client (and its connections);
 * the key is the server's, so the threads' clients go when they do. */
static omc_http_client *thread_client(omc_server *s)
{
	if (!s->client_key_made)
		return NULL;
	omc_http_client *c = pthread_getspecific(s->client_key);
	if (!c) {
		omc_http_client_opts o = {.timeout_ms = 15000, .ca_file = s->tls ? s->tls_ca : NULL};
		if (omc_http_client_new(&c, &o) != OMC_OK)
			return NULL;
		if (pthread_setspecific(s->client_key, c) != 0) {
			omc_http_client_free(c);
			return NULL;
		}
	}
	return c;
}

omc_err srv_call(omc_server *s, const omc_key *key, const omc_cert *cert, const char *method, const char *base,
		 const char *path, json_t *body, int *status, json_t **out)
{
	*out = NULL;
	*status = 0;
	if (!base) {
		json_decref(body);
		OMC_BAIL(OMC_ERR_NOT_FOUND);
	}
	OMC_ENSURE(body != NULL, OMC_ERR_NOMEM); /* its json_pack failed: nothing to send */
	char *b = omc_json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	omc_http_client *c = b ? thread_client(s) : NULL;
	char url[SRV_URL_MAX + 128];
	char *auth = NULL;
	omc_err e = c ? OMC_OK : OMC_ERR_NOMEM;
	if (e == OMC_OK && snprintf(url, sizeof url, "%s%s", base, path) >= (int)sizeof url)
		e = OMC_ERR_BAD_ARG;
	if (e == OMC_OK)
		e = srv_sign_request(&auth, key, cert, method, path, b, strlen(b), srv_now(s));
	/* A call leaves the process as an answer does: what it rests on first. */
	if (e == OMC_OK)
		e = srv_durable(s);
	char *r = NULL;
	size_t rl = 0;
	if (e == OMC_OK)
		e = omc_http_call_auth(c, method, url, auth, b, strlen(b), status, &r, &rl);
	omc_free(auth);
	omc_free(b); /* wiped: bodies may carry sealed packages */
	if (e == OMC_OK && rl > 0) {
		json_error_t je;
		*out = omc_json_loadb(r, rl, JSON_REJECT_DUPLICATES, &je);
		if (*out && !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
		}
	}
	omc_free(r);
	return e;
}

/* --- metrics ----------------------------------------------------------------------------------- */

static const double lat_bounds[SRV_LAT_BUCKETS - 1] = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
						       0.1,   0.25,  0.5,   1.0,  2.5};

static void observe(omc_server *s, double secs)
{
	pthread_mutex_lock(&s->mlock);
	size_t i = 0;
	while (i < SRV_LAT_BUCKETS - 1 && secs > lat_bounds[i])
		i++;
	s->lat[i]++;
	s->lat_sum += secs;
	s->lat_count++;
	s->requests++;
	pthread_mutex_unlock(&s->mlock);
}

typedef struct mbuf {
	char *p;
	size_t len, cap;
	bool oom;
} mbuf;

static void mprintf(mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mprintf(mbuf *m, const char *fmt, ...)
{
	if (m->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(m->p ? m->p + m->len : NULL, m->p ? m->cap - m->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			m->oom = true;
			return;
		}
		if (m->p && (size_t)n < m->cap - m->len) {
			m->len += (size_t)n;
			return;
		}
		size_t cap = m->cap ? 2 * m->cap : 4096;
		while (cap < m->len + (size_t)n + 1)
			cap *= 2;
		char *q = omc_realloc(m->p, cap);
		if (!q) {
			m->oom = true;
			return;
		}
		m->p = q;
		m->cap = cap;
	}
}

void srv_metrics(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	mbuf m = {0};
	omc_http_server_stats st = {0};
	mprintf(&m, "# HELP omc_http_requests_total Requests answered by this listener, by status class.\n"
		    "# TYPE omc_http_requests_total counter\n");
	/* The server from the request, not l->http: that is set after the
	 * daemon's threads started, and a request can come first (TSan). */
	if (req->server)
		omc_http_server_stats_get(req->server, &st);
	for (int c = 1; c <= 5; c++)
		mprintf(&m, "omc_http_requests_total{role=\"%s\",class=\"%dxx\"} %llu\n", l->name, c,
			(unsigned long long)st.by_class[c]);
	mprintf(&m, "# HELP omc_errors_total Refusals of every role, by status and error code.\n"
		    "# TYPE omc_errors_total counter\n");
	pthread_mutex_lock(&s->mlock);
	for (size_t i = 0; i < s->n_codes; i++)
		mprintf(&m, "omc_errors_total{status=\"%d\",code=\"%s\"} %llu\n", s->codes[i].status, s->codes[i].code,
			(unsigned long long)s->codes[i].n);
	mprintf(&m, "# HELP omc_avs_issued_total Authentication vectors issued by the AuCs of this process.\n"
		    "# TYPE omc_avs_issued_total counter\nomc_avs_issued_total %llu\n",
		(unsigned long long)s->avs_issued);
	mprintf(&m, "# HELP omc_db_commits_total Commits the roles of this process wrote to the database.\n"
		    "# TYPE omc_db_commits_total counter\nomc_db_commits_total %llu\n"
		    "# HELP omc_db_syncs_total Flushes (fdatasync) of the database's WAL that made them durable.\n"
		    "# TYPE omc_db_syncs_total counter\nomc_db_syncs_total %llu\n",
		(unsigned long long)omc_db_written(s->db), (unsigned long long)omc_db_syncs(s->db));
	mprintf(&m, "# HELP omc_request_seconds Handling time of the role endpoints.\n"
		    "# TYPE omc_request_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t i = 0; i < SRV_LAT_BUCKETS - 1; i++) {
		cum += s->lat[i];
		mprintf(&m, "omc_request_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i], (unsigned long long)cum);
	}
	cum += s->lat[SRV_LAT_BUCKETS - 1];
	mprintf(&m, "omc_request_seconds_bucket{le=\"+Inf\"} %llu\nomc_request_seconds_sum %.6f\n"
		    "omc_request_seconds_count %llu\n",
		(unsigned long long)cum, s->lat_sum, (unsigned long long)s->lat_count);
	pthread_mutex_unlock(&s->mlock);
	mprintf(&m, "# HELP omc_devices Devices known to the DRF, by state.\n# TYPE omc_devices gauge\n");
	omc_dbs *q;
	srv_lock(s);
	if (srv_sql(s, &q, "SELECT state, count(*) FROM drf_device GROUP BY state ORDER BY state") == OMC_OK) {
		while (omc_dbs_step(q) == OMC_DB_ROW)
			mprintf(&m, "omc_devices{state=\"%s\"} %lld\n", (const char *)omc_dbs_column_text(q, 0),
				(long long)omc_dbs_column_int64(q, 1));
		srv_sql_done(s, q);
	}
	srv_unlock(s);
	if (m.oom) {
		omc_free(m.p);
		srv_fail(l, resp, 500, "internal", "out of memory");
		return;
	}
	omc_free(resp->body);
	resp->body = m.p;
	resp->body_len = m.len;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
}

/* --- routes ------------------------------------------------------------------------------------- */

static void trampoline(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	srv_route *r = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	seen = 0;
	if (!__atomic_load_n(&r->l->s->ready, __ATOMIC_ACQUIRE)) {
		srv_fail(r->l, resp, 503, "starting", "the server is still starting");
		return;
	}
	unsigned long failed = omc_alloc_failures();
	r->fn(r->l, req, resp);
	/* Memory that ran out under the handler makes its refusal no verdict
	 * on the request (a signature that could not be checked is not a bad
	 * one): the answer is a 500, and the caller may try again. */
	if (omc_alloc_failures() != failed && resp->status >= 400 && resp->status < 500)
		srv_fail(r->l, resp, 500, "internal", "out of memory");
	/* No answer leaves before every commit it made or read is durable
	 * (group commit: the WAL's fdatasync, shared with the requests that
	 * wait at the same time). If that cannot be, the answer is a 500,
	 * whatever the handler meant to say. */
	if (srv_durable(r->l->s) != OMC_OK)
		srv_fail(r->l, resp, 500, "internal", "the database could not make the change durable");
	seen = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	observe(r->l->s, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

void srv_route_add(srv_listener *l, const char *method, const char *path, srv_fn fn)
{
	if (l->n_routes >= OMC_ARRAY_LEN(l->routes)) {
		OMC_LOG_ERR("server", "%s: too many routes", l->name);
		return;
	}
	srv_route *r = &l->rctx[l->n_routes];
	r->l = l;
	r->fn = fn;
	r->method = method;
	r->path = path;
	l->routes[l->n_routes] = (omc_http_route){.method = method, .path = path, .fn = trampoline, .arg = r};
	l->n_routes++;
}

/* --- the config file ------------------------------------------------------------------------------- */

typedef struct cfg {
	omc_server *s;
	char db[512], master[512];
	char db_backend[16], db_path[512], db_conninfo[512]; /* [db] */
	uint64_t db_cache_kib, db_mmap_kib;                  /* [db], SQLite */
	bool db_cache_set, db_mmap_set;
	char roles[256];
	char m2mes_ca[8][512];
	size_t n_m2mes_ca;
	bool bad;
} cfg;

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	if (!srv_digits(v, 1, 19))
		return false;
	errno = 0;
	unsigned long long x = strtoull(v, NULL, 10);
	if (errno || x > max)
		return false;
	*out = x;
	return true;
}

/* A domain name: labels of a-z, 0-9 and '-', not beginning or ending with
 * '-', joined by single dots. */
static bool domain_ok(const char *v)
{
	size_t lab = 0;
	for (const char *p = v;; p++) {
		if (*p == '.' || *p == 0) {
			if (lab == 0 || p[-1] == '-')
				return false;
			if (*p == 0)
				return true;
			lab = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && lab > 0)) {
			lab++;
		} else {
			return false;
		}
	}
}

static bool copy(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/* [db] cache_size and mmap_size: KiB, decimal, in [min, max]; a bad one
 * is logged with its range (not the generic message). */
static bool db_kib(cfg *c, const char *name, const char *value, uint64_t min, uint64_t max, uint64_t *out, bool *set)
{
	uint64_t u = 0;
	if (parse_u64(value, max, &u) && u >= min) {
		*out = u;
		*set = true;
		return true;
	}
	if (!c->bad)
		OMC_LOG_ERR("server", "config: [db] %s: KiB, %llu to %llu, not \"%.32s\"", name, (unsigned long long)min,
			    (unsigned long long)max, value);
	c->bad = true;
	return false;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	cfg *c = user;
	omc_server *s = c->s;
	uint64_t u = 0;
	bool ok = false;
	if (!strcmp(section, "server")) {
		if (!strcmp(name, "listen"))
			ok = copy(s->listen, sizeof s->listen, value);
		else if (!strcmp(name, "port"))
			ok = parse_u64(value, 65535, &u) && ((s->port = (unsigned)u), true);
		else if (!strcmp(name, "threads"))
			ok = parse_u64(value, 64, &u) && u > 0 && ((s->threads = (unsigned)u), true);
		else if (!strcmp(name, "connection_timeout"))
			ok = parse_u64(value, 3600, &u) && u > 0 && ((s->conn_timeout = (unsigned)u), true);
		else if (!strcmp(name, "connection_limit"))
			ok = parse_u64(value, 100000, &u) && u > 0 && ((s->conn_limit = (unsigned)u), true);
		else if (!strcmp(name, "connection_limit_per_ip"))
			ok = parse_u64(value, 100000, &u) && ((s->conn_limit_per_ip = (unsigned)u), true);
		else if (!strcmp(name, "db"))
			ok = copy(c->db, sizeof c->db, value);
		else if (!strcmp(name, "pki"))
			ok = copy(s->pki, sizeof s->pki, value);
		else if (!strcmp(name, "master_key"))
			ok = copy(c->master, sizeof c->master, value);
		else if (!strcmp(name, "roles"))
			ok = copy(c->roles, sizeof c->roles, value);
		else if (!strcmp(name, "tls"))
			ok = parse_bool(value, &s->tls);
		else if (!strcmp(name, "session_lifetime"))
			ok = parse_u64(value, 30 * 86400, &u) && u > 0 && ((s->session_lifetime = (int64_t)u), true);
		else if (!strcmp(name, "nonce_lifetime"))
			ok = parse_u64(value, 3600, &u) && u > 0 && ((s->nonce_lifetime = (int64_t)u), true);
		else if (!strcmp(name, "token_lifetime"))
			ok = parse_u64(value, 86400, &u) && u > 0 && ((s->token_lifetime = (int64_t)u), true);
		else if (!strcmp(name, "vno_plmn"))
			ok = srv_digits(value, 5, 6) && copy(s->vno_plmn, sizeof s->vno_plmn, value);
	} else if (!strncmp(section, "operator ", 9)) {
		const char *opname = section + 9;
		srv_op *op = srv_op_find(s, opname);
		if (!op && srv_name_ok(opname) && s->n_ops < SRV_MAX_OPS) {
			op = &s->ops[s->n_ops++];
			memcpy(op->name, opname, strlen(opname) + 1);
			op->alg = OMC_AKA_ALG_MILENAGE;
			op->pcid_lifetime = 365 * 86400;
			omc_aka_tuak_params_default(&op->tuak);
		}
		if (!op)
			ok = false;
		else if (!strcmp(name, "kind"))
			ok = (!strcmp(value, "ico") || !strcmp(value, "sho")) && ((op->ico = value[0] == 'i'), true);
		else if (!strcmp(name, "imsi_prefix"))
			ok = srv_digits(value, 5, 6) && copy(op->imsi_prefix, sizeof op->imsi_prefix, value);
		else if (!strcmp(name, "alg"))
			ok = (!strcmp(value, "milenage") || !strcmp(value, "tuak")) &&
			     ((op->alg = value[0] == 'm' ? OMC_AKA_ALG_MILENAGE : OMC_AKA_ALG_TUAK), true);
		else if (!strcmp(name, "tuak_mac_bits"))
			ok = parse_u64(value, 256, &u) && ((op->tuak.mac_bits = (unsigned)u), true);
		else if (!strcmp(name, "tuak_res_bits"))
			ok = parse_u64(value, 256, &u) && ((op->tuak.res_bits = (unsigned)u), true);
		else if (!strcmp(name, "tuak_ck_bits"))
			ok = parse_u64(value, 256, &u) && ((op->tuak.ck_bits = (unsigned)u), true);
		else if (!strcmp(name, "tuak_ik_bits"))
			ok = parse_u64(value, 256, &u) && ((op->tuak.ik_bits = (unsigned)u), true);
		else if (!strcmp(name, "tuak_iterations"))
			ok = parse_u64(value, 65535, &u) && u > 0 && ((op->tuak.iterations = (unsigned)u), true);
		else if (!strcmp(name, "data_only"))
			ok = parse_bool(value, &op->data_only);
		else if (!strcmp(name, "volume_cap"))
			ok = parse_u64(value, INT64_MAX, &op->volume_cap);
		else if (!strcmp(name, "pcid_lifetime"))
			ok = parse_u64(value, 20 * 365 * 86400ull, &u) && u > 0 &&
			     ((op->pcid_lifetime = (int64_t)u), true);
		else if (!strcmp(name, "mcim_type"))
			ok = (!strcmp(value, "usim") || !strcmp(value, "isim")) && ((op->isim = value[0] == 'i'), true);
		else if (!strcmp(name, "ims_domain"))
			ok = domain_ok(value) && copy(op->ims_domain, sizeof op->ims_domain, value);
		else if (!strcmp(name, "hlrgw_socket"))
			ok = value[0] == '/' && copy(op->hlrgw_path, sizeof op->hlrgw_path, value);
	} else if (!strcmp(section, "db")) {
		if (!strcmp(name, "backend"))
			ok = (!strcmp(value, "sqlite") || !strcmp(value, "postgresql")) &&
			     copy(c->db_backend, sizeof c->db_backend, value);
		else if (!strcmp(name, "path"))
			ok = copy(c->db_path, sizeof c->db_path, value);
		else if (!strcmp(name, "conninfo"))
			ok = copy(c->db_conninfo, sizeof c->db_conninfo, value);
		else if (!strcmp(name, "cache_size"))
			ok = db_kib(c, name, value, OMC_DB_CACHE_KIB_MIN, OMC_DB_CACHE_KIB_MAX, &c->db_cache_kib,
				    &c->db_cache_set);
		else if (!strcmp(name, "mmap_size"))
			ok = db_kib(c, name, value, 0, OMC_DB_MMAP_KIB_MAX, &c->db_mmap_kib, &c->db_mmap_set);
	} else if (!strncmp(section, "vno.home ", 9) || !strcmp(section, "vno") || !strcmp(section, "ccif")) {
		ok = srv_hlr_config(s, section, name, value);
	} else if (!strcmp(section, "peers")) {
		if (s->n_peers < OMC_ARRAY_LEN(s->peer) && strlen(name) < SRV_URL_MAX &&
		    (!strncmp(value, "http://", 7) || !strncmp(value, "https://", 8))) {
			ok = copy(s->peer[s->n_peers][0], SRV_URL_MAX, name) &&
			     copy(s->peer[s->n_peers][1], SRV_URL_MAX, value);
			if (ok)
				s->n_peers++;
		}
	} else if (!strcmp(section, "trust")) {
		if (!strcmp(name, "m2mes_ca") && c->n_m2mes_ca < OMC_ARRAY_LEN(c->m2mes_ca))
			ok = copy(c->m2mes_ca[c->n_m2mes_ca++], sizeof c->m2mes_ca[0], value);
		else if (!strcmp(name, "pva") && s->n_pva_ca < OMC_ARRAY_LEN(s->pva_names) && srv_name_ok(value))
			ok = copy(s->pva_names[s->n_pva_ca++], SRV_NAME_MAX, value);
	}
	if (!ok && !c->bad) {
		c->bad = true;
		OMC_LOG_ERR("server", "config: [%s] %s: unknown key or bad value", section, name);
	}
	return 1;
}

/* --- start and stop ------------------------------------------------------------------------------- */

static omc_err read_master(const char *path, uint8_t out[32])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	struct stat sb;
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && sb.st_size == 32 && (sb.st_mode & 077) == 0)
		n = read(fd, out, 32);
	close(fd);
	if (n != 32) {
		OMC_LOG_ERR("server", "%s: the master key must be 32 bytes, readable by its owner only", path);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

static omc_err load_entity(omc_server *s, const char *name, omc_key **k, omc_cert **c)
{
	omc_err e = omc_pki_load(s->pki, name, k, c);
	if (e != OMC_OK)
		OMC_LOG_ERR("server", "%s: no key and certificate for %s", s->pki, name);
	return e;
}

static bool role_listed(const char *roles, const char *r)
{
	size_t n = strlen(r);
	for (const char *p = roles; (p = strstr(p, r)) != NULL; p += n)
		if ((p == roles || p[-1] == ' ' || p[-1] == ',') && (p[n] == 0 || p[n] == ' ' || p[n] == ','))
			return true;
	return false;
}

static omc_err add_listener(omc_server *s, srv_role role, srv_op *op)
{
	OMC_ENSURE(s->n_ls < SRV_MAX_LISTENERS, OMC_ERR_EXHAUSTED);
	if (s->port && s->port + s->n_ls > 65535) {
		OMC_LOG_ERR("server", "[server] port %u: listener %zu would be past port 65535", s->port, s->n_ls + 1);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	srv_listener *l = &s->ls[s->n_ls];
	memset(l, 0, sizeof *l);
	l->s = s;
	l->role = role;
	l->op = op;
	if (op)
		snprintf(l->name, sizeof l->name, "%s.%s", role_names[role], op->name);
	else
		snprintf(l->name, sizeof l->name, "%s", role_names[role]);
	switch (role) {
	case SRV_CCIF: srv_routes_ccif(l); break;
	case SRV_AUC: srv_routes_auc(l); break;
	case SRV_SHO: srv_routes_sho(l); break;
	case SRV_VNO: srv_routes_vno(l); break;
	case SRV_BOOTSTRAP: srv_routes_bootstrap(l); break;
	case SRV_DRF: srv_routes_drf(l); break;
	case SRV_PVA: srv_routes_pva(l); break;
	case SRV_DPF: srv_routes_dpf(l); break;
	default: OMC_BAIL(OMC_ERR_BUG);
	}
	srv_route_add(l, "GET", "/metrics", srv_metrics);
	omc_http_server_opts ho = {.addr = s->listen,
				   .port = (uint16_t)(s->port ? s->port + s->n_ls : 0),
				   .routes = l->routes,
				   .n_routes = l->n_routes,
				   .threads = s->threads,
				   .conn_timeout = s->conn_timeout,
				   .conn_limit = s->conn_limit,
				   .conn_limit_per_ip = s->conn_limit_per_ip,
				   .tls_cert_pem = s->tls ? s->tls_cert_pem : NULL,
				   .tls_key_pem = s->tls ? s->tls_key_pem : NULL,
				   .tls_key_pass = s->tls ? s->tls_pass : NULL};
	omc_err e = omc_http_server_start(&l->http, &ho);
	if (e != OMC_OK) {
		OMC_LOG_ERR("server", "%s: cannot listen on %s:%u", l->name, s->listen, (unsigned)ho.port);
		return e;
	}
	snprintf(l->url, sizeof l->url, "%s://%s:%u", s->tls ? "https" : "http", s->listen,
		 (unsigned)omc_http_server_port(l->http));
	s->n_ls++;
	/* A role hosted here is its own peer, unless the config names another URL. */
	if (!srv_peer(s, l->name) && s->n_peers < OMC_ARRAY_LEN(s->peer)) {
		memcpy(s->peer[s->n_peers][0], l->name, strlen(l->name) + 1);
		memcpy(s->peer[s->n_peers][1], l->url, strlen(l->url) + 1);
		s->n_peers++;
	}
	return OMC_OK;
}

static omc_err configure(omc_server *s, const omc_server_opts *o)
{
	cfg c;
	memset(&c, 0, sizeof c);
	c.s = s;
	snprintf(s->listen, sizeof s->listen, "127.0.0.1");
	s->threads = 2;
	s->session_lifetime = 86400;
	s->nonce_lifetime = 120;
	s->token_lifetime = 600;
	snprintf(s->vno_plmn, sizeof s->vno_plmn, "00101");
	int rc = ini_parse(o->config, on_ini, &c);
	if (rc < 0) {
		OMC_LOG_ERR("server", "%s: cannot read the config", o->config);
		OMC_BAIL(OMC_ERR_IO);
	}
	if (rc > 0 && !c.bad)
		OMC_LOG_ERR("server", "%s: line %d does not parse", o->config, rc);
	OMC_ENSURE(rc == 0 && !c.bad, OMC_ERR_BAD_FORMAT);
	if (c.db_backend[0] || c.db_path[0] || c.db_conninfo[0]) {
		/* [db] names the database: not [server] db too. */
		if (c.db[0] || omc_db_config(c.db, sizeof c.db, c.db_backend[0] ? c.db_backend : NULL, c.db_path,
					     c.db_conninfo) != OMC_OK) {
			OMC_LOG_ERR("server", "%s: [db]: backend sqlite with path, or postgresql with conninfo,"
					      " and no [server] db",
				    o->config);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	}
	if (!c.db[0] || !s->pki[0] || !c.master[0]) {
		OMC_LOG_ERR("server", "%s: [server] needs db, pki and master_key", o->config);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	if ((c.db_cache_set || c.db_mmap_set) && omc_db_is_pg(c.db)) {
		OMC_LOG_ERR("server", "%s: [db] cache_size and mmap_size are SQLite's: not with PostgreSQL", o->config);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	for (size_t i = 0; i < s->n_ops; i++) {
		omc_aka_tuak t;
		uint8_t k[16] = {1}, top[32] = {1};
		if (omc_aka_tuak_init(&t, k, sizeof k, top, &s->ops[i].tuak) != OMC_OK) {
			OMC_LOG_ERR("server", "%s: operator %s: TUAK parameters out of range (MAC 64/128/256, RES "
					      "32/64/128/256, CK and IK 128/256 bits)",
				    o->config, s->ops[i].name);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
		omc_aka_tuak_wipe(&t);
	}
	for (size_t i = 0; i < s->n_ops; i++)
		if (!s->ops[i].imsi_prefix[0]) {
			OMC_LOG_ERR("server", "%s: operator %s has no imsi_prefix", o->config, s->ops[i].name);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	for (int r = 0; r < SRV_ROLE_COUNT; r++)
		s->hosts[r] = r != SRV_AUC && r != SRV_SHO && role_listed(c.roles, role_names[r]);
	uint8_t master[32];
	OMC_DEFER_WIPE(master);
	OMC_TRY(read_master(c.master, master));
	OMC_TRY(srv_links_new(s, master));
	OMC_TRY(omc_db_open(&s->db, c.db));
	OMC_TRY(omc_db_cache(s->db, c.db_cache_set ? c.db_cache_kib : OMC_DB_CACHE_KIB_DEFAULT,
			     c.db_mmap_set ? c.db_mmap_kib : OMC_DB_MMAP_KIB_DEFAULT));
	/* One handle for every role: commits flushed together (docs/server.md). */
	OMC_TRY(omc_db_group_commit(s->db));
	for (size_t i = 0; i < s->n_ops; i++) {
		srv_op *op = &s->ops[i];
		OMC_TRY(omc_auc_open(&op->auc, s->db, op->name, master));
		if (s->now)
			omc_auc_set_clock(op->auc, s->now, s->now_arg);
		OMC_TRY(load_entity(s, op->name, &op->key, &op->cert));
	}
	if (s->hosts[SRV_VNO])
		OMC_TRY(load_entity(s, "vno", &s->vno_key, &s->vno_cert));
	if (s->hosts[SRV_DRF] || s->hosts[SRV_DPF])
		OMC_TRY(load_entity(s, "ro", &s->ro_key, &s->ro_cert));
	if (s->hosts[SRV_PVA])
		OMC_TRY(load_entity(s, "pva", &s->pva_key, &s->pva_cert));
	if (s->hosts[SRV_CCIF])
		OMC_TRY(load_entity(s, "ccif", &s->ccif_key, &s->ccif_cert));
	if (s->hosts[SRV_CCIF] || s->hosts[SRV_BOOTSTRAP]) {
		bool ico = false;
		for (size_t i = 0; i < s->n_ops; i++)
			ico |= s->ops[i].ico;
		if (!ico) {
			OMC_LOG_ERR("server", "%s: the CCIF and bootstrap roles need an operator of kind ico", o->config);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	}
	/* The M2MES CAs the PVA and DPF trust (EVAL-2): the config's, or the demo PKI's. */
	for (size_t i = 0; i < c.n_m2mes_ca; i++) {
		uint8_t *pem;
		size_t len;
		omc_err e = omc_read_file(c.m2mes_ca[i], &pem, &len, 64 * 1024);
		if (e != OMC_OK)
			OMC_LOG_ERR("server", "[trust] m2mes_ca %s: %s", c.m2mes_ca[i], omc_err_str(e));
		OMC_TRY(e);
		e = omc_cert_from_pem(&s->m2mes_ca[s->n_m2mes_ca], (const char *)pem, len);
		omc_free(pem);
		OMC_TRY(e);
		s->n_m2mes_ca++;
	}
	if (s->n_m2mes_ca == 0) {
		OMC_TRY(omc_pki_load(s->pki, "m2mes-ca", NULL, &s->m2mes_ca[0]));
		s->n_m2mes_ca = 1;
	}
	if (s->tls) {
		/* The key goes to GnuTLS encrypted, under a passphrase of this run. */
		omc_key *k = NULL;
		omc_cert *tc = NULL;
		uint8_t pass[32];
		size_t n = 0;
		OMC_DEFER_WIPE(pass);
		OMC_TRY(load_entity(s, "tls", &k, &tc));
		omc_err e = omc_rand_bytes(pass, sizeof pass);
		if (e == OMC_OK)
			e = omc_key_to_pem(&s->tls_key_pem, &n, k, true, pass, sizeof pass);
		if (e == OMC_OK)
			e = omc_hex_encode(s->tls_pass, sizeof s->tls_pass, pass, sizeof pass);
		if (e == OMC_OK)
			e = omc_cert_to_pem(&s->tls_cert_pem, &n, tc);
		omc_key_free(k);
		omc_cert_free(tc);
		OMC_TRY(e);
		OMC_ENSURE(snprintf(s->tls_ca, sizeof s->tls_ca, "%s/tls-ca.crt", s->pki) < (int)sizeof s->tls_ca,
			   OMC_ERR_BAD_ARG);
	}
	OMC_TRY(srv_hlr_start(s));
	if (s->n_pva_ca == 0) {
		snprintf(s->pva_names[0], SRV_NAME_MAX, "pva");
		s->n_pva_ca = 1;
	}
	for (size_t i = 0; i < s->n_pva_ca; i++) {
		char ca[40];
		snprintf(ca, sizeof ca, "%s-ca", s->pva_names[i]);
		OMC_TRY(omc_pki_load(s->pki, ca, NULL, &s->pva_ca[i]));
	}
	return OMC_OK;
}

omc_err omc_server_start(omc_server **out, const omc_server_opts *o)
{
	OMC_ENSURE(out && o && o->config, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	omc_server *s = omc_calloc(1, sizeof *s);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->mlock, NULL);
	s->now = o->now;
	s->now_arg = o->now_arg;
	omc_err e = pthread_key_create(&s->client_key, client_free) == 0 ? OMC_OK : OMC_ERR_NOMEM;
	s->client_key_made = e == OMC_OK;
	if (e == OMC_OK)
		e = configure(s, o);
	/* Listeners in a fixed order, so that fixed ports are predictable:
	 * the AuC of every operator, the SHOs, then the shared roles. */
	for (size_t i = 0; e == OMC_OK && i < s->n_ops; i++)
		e = add_listener(s, SRV_AUC, &s->ops[i]);
	for (size_t i = 0; e == OMC_OK && i < s->n_ops; i++)
		if (!s->ops[i].ico)
			e = add_listener(s, SRV_SHO, &s->ops[i]);
	static const srv_role shared[] = {SRV_CCIF, SRV_VNO, SRV_BOOTSTRAP, SRV_DRF, SRV_PVA, SRV_DPF};
	for (size_t i = 0; e == OMC_OK && i < OMC_ARRAY_LEN(shared); i++)
		if (s->hosts[shared[i]])
			e = add_listener(s, shared[i], NULL);
	/* hostapd's EAP-SIM/AKA database interface of an AuC (docs/card.md). */
	for (size_t i = 0; e == OMC_OK && i < s->n_ops; i++) {
		srv_op *op = &s->ops[i];
		for (size_t j = 0; j < i && op->hlrgw_path[0]; j++)
			if (!strcmp(op->hlrgw_path, s->ops[j].hlrgw_path)) {
				OMC_LOG_ERR("server", "config: [operator %s] hlrgw_socket: %s is [operator %s]'s",
					    op->name, op->hlrgw_path, s->ops[j].name);
				e = OMC_ERR_BAD_FORMAT;
			}
		if (e == OMC_OK && op->hlrgw_path[0])
			e = srv_hlrgw_start(&op->hlrgw, s, op->auc, op->hlrgw_path);
	}
	if (e != OMC_OK) {
		omc_server_stop(s);
		return e;
	}
	OMC_LOG_INF("server", "%zu listeners up", s->n_ls);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	*out = s;
	return OMC_OK;
}

omc_err omc_server_urls(omc_server *s, char **json)
{
	OMC_ENSURE(s && json, OMC_ERR_BAD_ARG);
	json_t *o = json_object();
	for (size_t i = 0; o && i < s->n_ls; i++)
		if (json_object_set_new(o, s->ls[i].name, json_string(s->ls[i].url)) != 0) {
			json_decref(o);
			o = NULL;
		}
	*json = o ? omc_json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	OMC_ENSURE(*json != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

omc_err omc_server_routes(omc_server *s, char **json)
{
	OMC_ENSURE(s && json, OMC_ERR_BAD_ARG);
	json_t *a = json_array();
	for (size_t i = 0; a && i < s->n_ls; i++) {
		const srv_listener *l = &s->ls[i];
		const char *role = l->op ? role_names[l->role] : l->name;
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "role", role, "method", "GET", "path", "/healthz"));
		for (size_t j = 0; j < l->n_routes; j++)
			json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "role", role, "method",
							   l->routes[j].method, "path", l->routes[j].path));
	}
	*json = a ? omc_json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	OMC_ENSURE(*json != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

void omc_server_stop(omc_server *s)
{
	if (!s)
		return;
	/* The pools' threads end here, and with them their clients. */
	for (size_t i = 0; i < s->n_ls; i++)
		omc_http_server_stop(s->ls[i].http);
	if (s->client_key_made)
		pthread_key_delete(s->client_key);
	srv_hlr_stop(s);
	for (size_t i = 0; i < s->n_ops; i++) {
		srv_hlrgw_stop(s->ops[i].hlrgw);
		s->ops[i].hlrgw = NULL;
	}
	omc_free(s->tls_key_pem);
	omc_free(s->tls_cert_pem);
	omc_memzero(s->tls_pass, sizeof s->tls_pass);
	for (size_t i = 0; i < s->n_ops; i++) {
		omc_auc_close(s->ops[i].auc);
		omc_key_free(s->ops[i].key);
		omc_cert_free(s->ops[i].cert);
	}
	omc_key_free(s->vno_key);
	omc_key_free(s->ro_key);
	omc_key_free(s->pva_key);
	omc_key_free(s->ccif_key);
	omc_cert_free(s->vno_cert);
	omc_cert_free(s->ro_cert);
	omc_cert_free(s->pva_cert);
	omc_cert_free(s->ccif_cert);
	for (size_t i = 0; i < s->n_m2mes_ca; i++)
		omc_cert_free(s->m2mes_ca[i]);
	for (size_t i = 0; i < s->n_pva_ca; i++)
		omc_cert_free(s->pva_ca[i]);
	for (size_t i = 0; i < s->n_anchors; i++)
		omc_cert_free(s->anchors[i].ca);
	srv_links_free(s);
	omc_db_close(s->db);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->mlock);
	omc_free(s);
}

bool srv_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];
	if (n > 64 || omc_hex_encode(h, sizeof h, p, n) != OMC_OK)
		return false;
	return json_object_set_new(o, key, json_string(h)) == 0;
}

bool srv_hex(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *h = srv_str(l, resp, o, key, 2 * n, 2 * n);
	if (!h)
		return false;
	if (omc_hex_decode(out, n, h, 2 * n) != OMC_OK) {
		char msg[96];
		snprintf(msg, sizeof msg, "member %.40s: %zu bytes in hex", key, n);
		srv_fail(l, resp, 400, "bad_request", msg);
		return false;
	}
	return true;
}

void srv_fail_peer(srv_listener *l, omc_http_resp *resp, int status, json_t *answer, const char *peer)
{
	const char *code = json_string_value(json_object_get(answer, "error"));
	char msg[160];
	bool code_ok = code && strlen(code) > 0 && strlen(code) <= 40 && strspn(code, "abcdefghijklmnopqrstuvwxyz_") == strlen(code);
	if (status >= 400 && status < 500 && code_ok) {
		snprintf(msg, sizeof msg, "%s refused: %.100s", peer,
			 json_string_value(json_object_get(answer, "message")) ?: code);
		for (char *p = msg; *p; p++)
			if (*p == '"' || *p == '\\' || *p < 0x20 || *p > 0x7e)
				*p = ' ';
		/* The code is one of the peer's own, from a fixed set: keep it. */
		count_code(l->s, status, "peer_refused");
		omc_http_resp_error(resp, status, code, msg);
		return;
	}
	snprintf(msg, sizeof msg, "%s did not answer (status %d)", peer, status);
	srv_fail(l, resp, 502, "peer_unavailable", msg);
}

bool srv_tre_signed(omc_server *s, const char *jws, size_t len, const char *typ, json_t **claims, char cn[64])
{
	*claims = NULL;
	cn[0] = 0;
	omc_jws_verified v = {0};
	json_error_t je;
	if (omc_jws_verify_x5c(&v, jws, len, (const omc_cert *const *)s->m2mes_ca, s->n_m2mes_ca, typ,
			       (time_t)srv_now(s)) == OMC_OK &&
	    omc_cert_subject_cn(cn, 64, v.leaf) == OMC_OK)
		*claims = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	omc_jws_verified_free(&v);
	if (*claims && !json_is_object(*claims)) {
		json_decref(*claims);
		*claims = NULL;
	}
	if (!*claims)
		cn[0] = 0;
	return *claims != NULL;
}
