/* The TRE daemon's client: one request line out, one answer line in, for
 * each omc_tre_* the daemon serves, and the agent's TRE table over the
 * socket. Every buffer that held a request (a PIN) or an answer (CK, IK)
 * is wiped when freed (omc_free, jansson through omc_proto_init).
 * docs/tred.md. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "openmcim/proto.h"
#include "openmcim/tred.h"
#include "util/util_internal.h"

struct omc_tred_client {
	int fd; /* -1: to be connected before the next request */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* --- the connection -------------------------------------------------------------------------- */

static omc_err dial(omc_tred_client *c)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, c->path, strlen(c->path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	struct timeval tv = {.tv_sec = OMC_TRED_TIMEOUT_MS / 1000, .tv_usec = (OMC_TRED_TIMEOUT_MS % 1000) * 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
	    connect(fd, (const struct sockaddr *)&a, sizeof a) != 0) {
		OMC_LOG_DBG("tred", "%s: %s", c->path, strerror(errno));
		close(fd);
		OMC_BAIL(OMC_ERR_IO);
	}
	c->fd = fd;
	return OMC_OK;
}

static void hang_up(omc_tred_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

omc_err omc_tred_connect(omc_tred_client **out, const char *path)
{
	OMC_ENSURE(out && path, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	omc_tred_client *c = omc_calloc(1, sizeof *c);
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	c->fd = -1;
	size_t n = strlen(path);
	omc_err e = n > 0 && n < sizeof c->path ? OMC_OK : OMC_ERR_BAD_ARG;
	if (e == OMC_OK) {
		memcpy(c->path, path, n + 1);
		e = dial(c);
	}
	if (e != OMC_OK) {
		omc_free(c);
		return e;
	}
	*out = c;
	return OMC_OK;
}

void omc_tred_disconnect(omc_tred_client *c)
{
	if (!c)
		return;
	hang_up(c);
	omc_free(c);
}

/* A connection with nothing to read is alive; anything readable between
 * requests is the daemon's end of file (it restarted): dial again. */
static omc_err ensure_connected(omc_tred_client *c)
{
	if (c->fd >= 0) {
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		if (poll(&pf, 1, 0) != 0)
			hang_up(c);
	}
	return c->fd >= 0 ? OMC_OK : dial(c);
}

static omc_err send_line(omc_tred_client *c, const char *req, size_t len)
{
	char nl = '\n';
	struct iovec iov[2] = {{.iov_base = (void *)(uintptr_t)req, .iov_len = len}, {.iov_base = &nl, .iov_len = 1}};
	size_t left = len + 1;
	while (left > 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		OMC_ENSURE(n > 0, OMC_ERR_IO);
		left -= (size_t)n;
		for (size_t i = 0; i < 2; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	return OMC_OK;
}

/* Read up to the newline; nothing may follow it (one request in flight). */
static omc_err recv_line(omc_tred_client *c, char **answer, size_t *alen)
{
	size_t cap = 4096, len = 0;
	char *buf = omc_alloc(cap);
	OMC_ENSURE(buf != NULL, OMC_ERR_NOMEM);
	omc_err e = OMC_OK;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = cap < OMC_TRED_MAX_ANSWER ? omc_realloc(buf, cap * 2) : NULL;
			if (!nb) {
				e = cap < OMC_TRED_MAX_ANSWER ? OMC_ERR_NOMEM : OMC_ERR_TOO_LARGE;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(c->fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			OMC_LOG_DBG("tred", "%s: %s", c->path, n == 0 ? "connection closed" : strerror(errno));
			e = OMC_ERR_IO;
			break;
		}
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			if (nl != buf + len - 1)
				e = OMC_ERR_BAD_FORMAT;
			len = (size_t)(nl - buf);
			break;
		}
	}
	if (e != OMC_OK) {
		omc_free(buf);
		return e;
	}
	buf[len] = 0;
	*answer = buf;
	*alen = len;
	return OMC_OK;
}

omc_err omc_tred_call(omc_tred_client *c, const char *req, size_t len, char **answer, size_t *alen)
{
	OMC_ENSURE(c && req && answer && alen, OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_TRED_MAX_REQUEST, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(!memchr(req, '\n', len), OMC_ERR_BAD_ARG);
	OMC_TRY(ensure_connected(c));
	omc_err e = send_line(c, req, len);
	if (e == OMC_OK)
		e = recv_line(c, answer, alen);
	if (e != OMC_OK)
		hang_up(c); /* where the stream stands is unknown now */
	return e;
}

/* --- requests and answers -------------------------------------------------------------------- */

static omc_err err_from_name(const char *s)
{
#define OMC_TRED_NAME_(name, cat, n, msg) \
	if (!strcmp(s, #name))            \
		return OMC_ERR_##name;
	OMC_ERR_TABLE(OMC_TRED_NAME_)
#undef OMC_TRED_NAME_
	return OMC_ERR_BAD_FORMAT;
}

/* Send req (consumed); on "ok": true, *ans is the answer (the caller
 * decrefs it), else the daemon's error code. */
static omc_err rpc(omc_tred_client *c, json_t *req, json_t **ans)
{
	*ans = NULL;
	OMC_ENSURE(c != NULL, OMC_ERR_BAD_ARG);
	char *text = req ? omc_json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	OMC_ENSURE(text != NULL, OMC_ERR_NOMEM);
	char *line = NULL;
	size_t len = 0;
	omc_err e = omc_tred_call(c, text, strlen(text), &line, &len);
	omc_free(text); /* wipes a PIN */
	OMC_TRY(e);
	json_error_t je;
	json_t *a = omc_json_loadb(line, len, 0, &je);
	omc_free(line);
	if (!json_is_object(a)) {
		json_decref(a);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	json_t *ok = json_object_get(a, "ok");
	if (json_is_true(ok)) {
		*ans = a;
		return OMC_OK;
	}
	const char *name = json_string_value(json_object_get(a, "error"));
	e = json_is_false(ok) && name ? err_from_name(name) : OMC_ERR_BAD_FORMAT;
	json_decref(a);
	return e == OMC_OK ? OMC_ERR_BAD_FORMAT : e;
}

static json_t *request(const char *op)
{
	return json_pack("{s:s}", "op", op);
}

/* Add an argument; a NULL value (out of memory) makes the request NULL. */
static json_t *with(json_t *req, const char *key, json_t *v)
{
	if (!req || !v) {
		json_decref(req);
		json_decref(v);
		return NULL;
	}
	if (json_object_set_new(req, key, v) != 0) { /* v is released either way */
		json_decref(req);
		return NULL;
	}
	return req;
}

#define HEX_MAX 64 /* the longest binary argument: a nonce */

static json_t *hex_value(const uint8_t *b, size_t n)
{
	char hex[2 * HEX_MAX + 1];
	if (n > HEX_MAX || omc_hex_encode(hex, sizeof hex, b, n) != OMC_OK)
		return NULL;
	return json_string(hex);
}

static omc_err get_str(const json_t *a, const char *key, const char **s, size_t *len)
{
	json_t *v = json_object_get(a, key);
	*s = NULL;
	OMC_ENSURE(json_is_string(v), OMC_ERR_BAD_FORMAT);
	*s = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return OMC_OK;
}

/* A string of the answer into buf (cap counts the NUL); too long is malformed. */
static omc_err get_strbuf(const json_t *a, const char *key, char *buf, size_t cap)
{
	const char *s;
	size_t len;
	OMC_TRY(get_str(a, key, &s, &len));
	OMC_ENSURE(len < cap, OMC_ERR_BAD_FORMAT);
	memcpy(buf, s, len + 1);
	return OMC_OK;
}

/* A string of the answer, omc_alloc'd. */
static omc_err get_dup(const json_t *a, const char *key, char **out, size_t *out_len)
{
	const char *s;
	size_t len;
	OMC_TRY(get_str(a, key, &s, &len));
	char *d = omc_alloc(len + 1);
	OMC_ENSURE(d != NULL, OMC_ERR_NOMEM);
	memcpy(d, s, len + 1);
	*out = d;
	if (out_len)
		*out_len = len;
	return OMC_OK;
}

static omc_err get_u64(const json_t *a, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(a, key);
	OMC_ENSURE(json_is_integer(j) && json_integer_value(j) >= 0, OMC_ERR_BAD_FORMAT);
	*v = (uint64_t)json_integer_value(j);
	return OMC_OK;
}

static omc_err get_bool(const json_t *a, const char *key, bool *v)
{
	json_t *j = json_object_get(a, key);
	OMC_ENSURE(json_is_boolean(j), OMC_ERR_BAD_FORMAT);
	*v = json_is_true(j);
	return OMC_OK;
}

static omc_err get_hex(const json_t *a, const char *key, uint8_t *out, size_t cap, uint8_t *len)
{
	const char *s;
	size_t sl, n = 0;
	OMC_TRY(get_str(a, key, &s, &sl));
	OMC_ENSURE(omc_hex_decode_var(out, cap, &n, s, sl) == OMC_OK && n <= UINT8_MAX, OMC_ERR_BAD_FORMAT);
	*len = (uint8_t)n;
	return OMC_OK;
}

/* The strings omc_tre_* hands out as constants, from an answer's text. */
static const char *intern(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, names[i]))
			return names[i];
	return "unknown";
}

static const char *const roles[] = {"operational", "bootstrap"};
static const char *const types[] = {"usim", "isim"};
static const char *const algs[] = {"milenage", "tuak"};
static const char *const user_roles[] = {"admin", "operator", "user"};

static omc_err mcim_from(omc_tre_mcim_info *m, const json_t *o)
{
	memset(m, 0, sizeof *m);
	const char *s;
	uint64_t v;
	OMC_ENSURE(json_is_object(o), OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_strbuf(o, "id", m->id, sizeof m->id));
	OMC_TRY(get_strbuf(o, "owner", m->owner, sizeof m->owner));
	OMC_TRY(get_strbuf(o, "imsi", m->imsi, sizeof m->imsi));
	OMC_TRY(get_str(o, "role", &s, NULL));
	m->role = intern(s, roles, OMC_ARRAY_LEN(roles));
	OMC_TRY(get_str(o, "type", &s, NULL));
	m->type = intern(s, types, OMC_ARRAY_LEN(types));
	OMC_TRY(get_str(o, "alg", &s, NULL));
	m->alg = intern(s, algs, OMC_ARRAY_LEN(algs));
	OMC_TRY(get_str(o, "state", &s, NULL));
	OMC_ENSURE(omc_mcim_state_parse(&m->state, s) == OMC_OK, OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_u64(o, "version", &v));
	OMC_ENSURE(v <= UINT32_MAX, OMC_ERR_BAD_FORMAT);
	m->version = (uint32_t)v;
	json_t *ex = json_object_get(o, "expires");
	OMC_ENSURE(json_is_integer(ex), OMC_ERR_BAD_FORMAT);
	m->expires = (int64_t)json_integer_value(ex);
	OMC_TRY(get_bool(o, "data_only", &m->data_only));
	if (json_object_get(o, "impi"))
		OMC_TRY(get_strbuf(o, "impi", m->impi, sizeof m->impi));
	if (json_object_get(o, "impu"))
		OMC_TRY(get_strbuf(o, "impu", m->impu, sizeof m->impu));
	return get_u64(o, "volume_cap", &m->volume_cap);
}

static omc_err registry_from(const json_t *a, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	json_t *arr = json_object_get(a, "mcims");
	OMC_ENSURE(json_is_array(arr), OMC_ERR_BAD_FORMAT);
	*n = json_array_size(arr);
	OMC_ENSURE(*n <= cap, OMC_ERR_NO_SPACE);
	for (size_t i = 0; i < *n; i++)
		OMC_TRY(mcim_from(&out[i], json_array_get(arr, i)));
	return OMC_OK;
}

/* --- one call per op ------------------------------------------------------------------------- */

static omc_err status_from(const json_t *a, omc_tre_status *st)
{
	memset(st, 0, sizeof *st);
	const char *s;
	OMC_TRY(get_str(a, "state", &s, NULL));
	bool known = false;
	for (int i = OMC_TRE_PRISTINE; !known && i <= OMC_TRE_LOCKDOWN; i++)
		if (!strcmp(s, omc_tre_state_name((omc_tre_state)i))) {
			st->state = (omc_tre_state)i;
			known = true;
		}
	OMC_ENSURE(known, OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_strbuf(a, "lockdown_reason", st->lockdown_reason, sizeof st->lockdown_reason));
	OMC_TRY(get_strbuf(a, "tre_id", st->tre_id, sizeof st->tre_id));
	OMC_TRY(get_strbuf(a, "platform_id", st->platform_id, sizeof st->platform_id));
	OMC_TRY(get_strbuf(a, "model", st->model, sizeof st->model));
	OMC_TRY(get_u64(a, "generation", &st->generation));
	OMC_TRY(get_u64(a, "boot_count", &st->boot_count));
	OMC_TRY(get_bool(a, "platform_ok", &st->platform_ok));
	OMC_TRY(get_bool(a, "store_ok", &st->store_ok));
	OMC_TRY(get_u64(a, "audit_count", &st->audit_count));
	uint64_t n;
	OMC_TRY(get_u64(a, "n_mcims", &n));
	st->n_mcims = (size_t)n;
	st->switch_trial = json_is_true(json_object_get(a, "switch_trial"));
	return OMC_OK;
}

omc_err omc_tred_status(omc_tred_client *c, omc_tre_status *st)
{
	OMC_ENSURE(st != NULL, OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, request("status"), &a));
	omc_err e = status_from(a, st);
	json_decref(a);
	return e;
}

omc_err omc_tred_status_registry(omc_tred_client *c, omc_tre_status *st, omc_tre_mcim_info *out, size_t cap,
				 size_t *n)
{
	OMC_ENSURE(st && n && (out || cap == 0), OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, request("status"), &a));
	omc_err e = status_from(a, st);
	if (e == OMC_OK)
		e = registry_from(a, out, cap, n);
	json_decref(a);
	return e;
}

omc_err omc_tred_registry(omc_tred_client *c, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	OMC_ENSURE(n && (out || cap == 0), OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, request("registry"), &a));
	omc_err e = registry_from(a, out, cap, n);
	json_decref(a);
	return e;
}

/* An op whose answer is one string. */
static omc_err string_op(omc_tred_client *c, json_t *req, const char *key, char **out, size_t *out_len)
{
	if (!out) {
		json_decref(req);
		OMC_BAIL(OMC_ERR_BAD_ARG);
	}
	*out = NULL;
	json_t *a;
	OMC_TRY(rpc(c, req, &a));
	omc_err e = get_dup(a, key, out, out_len);
	json_decref(a);
	return e;
}

omc_err omc_tred_attest(omc_tred_client *c, const uint8_t *nonce, size_t nonce_len, char **evidence)
{
	OMC_ENSURE(nonce || nonce_len == 0, OMC_ERR_BAD_ARG);
	return string_op(c, with(request("attest"), "nonce", hex_value(nonce, nonce_len)), "evidence", evidence,
			 NULL);
}

omc_err omc_tred_session_begin(omc_tred_client *c, const uint8_t *nonce, size_t nonce_len, char **evidence)
{
	OMC_ENSURE(nonce || nonce_len == 0, OMC_ERR_BAD_ARG);
	return string_op(c, with(request("session_begin"), "nonce", hex_value(nonce, nonce_len)), "evidence",
			 evidence, NULL);
}

omc_err omc_tred_install(omc_tred_client *c, const char *package, size_t len, char **receipt)
{
	OMC_ENSURE(package != NULL, OMC_ERR_BAD_ARG);
	return string_op(c, with(request("install"), "package", json_stringn(package, len)), "receipt", receipt,
			 NULL);
}

omc_err omc_tred_command(omc_tred_client *c, const char *command, size_t len, char **result, bool *applied)
{
	OMC_ENSURE(command && result && applied, OMC_ERR_BAD_ARG);
	*result = NULL;
	*applied = false;
	json_t *a;
	OMC_TRY(rpc(c, with(request("command"), "command", json_stringn(command, len)), &a));
	omc_err e = get_bool(a, "applied", applied);
	if (e == OMC_OK)
		e = get_dup(a, "result", result, NULL);
	json_decref(a);
	return e;
}

static omc_err aka_from(const json_t *a, omc_aka_check_result *out)
{
	const char *s;
	OMC_TRY(get_str(a, "status", &s, NULL));
	if (!strcmp(s, "ok")) {
		out->status = OMC_AKA_STATUS_OK;
		uint8_t sl;
		OMC_TRY(get_hex(a, "res", out->res, sizeof out->res, &out->res_len));
		OMC_TRY(get_hex(a, "ck", out->ck, sizeof out->ck, &out->ck_len));
		OMC_TRY(get_hex(a, "ik", out->ik, sizeof out->ik, &out->ik_len));
		OMC_TRY(get_hex(a, "sqn", out->sqn, sizeof out->sqn, &sl));
		OMC_ENSURE(sl == sizeof out->sqn, OMC_ERR_BAD_FORMAT);
		return OMC_OK;
	}
	if (!strcmp(s, "sync_failure")) {
		out->status = OMC_AKA_STATUS_SYNC_FAILURE;
		return get_hex(a, "auts", out->auts, sizeof out->auts, &out->auts_len);
	}
	OMC_ENSURE(!strcmp(s, "mac_failure"), OMC_ERR_BAD_FORMAT);
	out->status = OMC_AKA_STATUS_MAC_FAILURE;
	return OMC_OK;
}

omc_err omc_tred_aka(omc_tred_client *c, const char *mcim_id, const char *key_id, const uint8_t rand[16],
		     const uint8_t *autn, size_t autn_len, omc_aka_check_result *out)
{
	OMC_ENSURE(mcim_id && rand && autn && out && autn_len <= OMC_AKA_MAX_AUTN_LEN, OMC_ERR_BAD_ARG);
	memset(out, 0, sizeof *out);
	json_t *req = with(request("aka"), "mcim", json_string(mcim_id));
	if (key_id)
		req = with(req, "key", json_string(key_id));
	req = with(req, "rand", hex_value(rand, OMC_AKA_RAND_LEN));
	req = with(req, "autn", hex_value(autn, autn_len));
	json_t *a;
	OMC_TRY(rpc(c, req, &a));
	omc_err e = aka_from(a, out);
	json_decref(a); /* wipes the hex of CK and IK */
	if (e != OMC_OK)
		omc_memzero(out, sizeof *out);
	return e;
}

omc_err omc_tred_tamper(omc_tred_client *c, const char *reason)
{
	OMC_ENSURE(reason != NULL, OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, with(request("tamper"), "reason", json_string(reason)), &a));
	json_decref(a);
	return OMC_OK;
}

omc_err omc_tred_recover(omc_tred_client *c, const char *authorisation, size_t len)
{
	OMC_ENSURE(authorisation != NULL, OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, with(request("recover"), "authorisation", json_stringn(authorisation, len)), &a));
	json_decref(a);
	return OMC_OK;
}

omc_err omc_tred_recovery_counter(omc_tred_client *c, uint64_t *counter)
{
	OMC_ENSURE(counter != NULL, OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, request("recovery_counter"), &a));
	omc_err e = get_u64(a, "counter", counter);
	json_decref(a);
	return e;
}

omc_err omc_tred_audit_export(omc_tred_client *c, char **buf, size_t *len)
{
	OMC_ENSURE(len != NULL, OMC_ERR_BAD_ARG);
	return string_op(c, request("audit"), "records", buf, len);
}

omc_err omc_tred_audit_verify(omc_tred_client *c, uint64_t *count)
{
	OMC_ENSURE(count != NULL, OMC_ERR_BAD_ARG);
	*count = 0;
	json_t *a;
	OMC_TRY(rpc(c, request("audit_verify"), &a));
	bool intact = false;
	const char *fault = NULL;
	omc_err e = get_bool(a, "intact", &intact);
	if (e == OMC_OK)
		e = get_u64(a, "records", count);
	if (e == OMC_OK && !intact)
		e = get_str(a, "fault", &fault, NULL);
	if (e == OMC_OK && fault) {
		e = err_from_name(fault);
		if (e == OMC_OK)
			e = OMC_ERR_BAD_FORMAT;
	}
	json_decref(a);
	return e;
}

omc_err omc_tred_tamper_report(omc_tred_client *c, char **jws)
{
	return string_op(c, request("tamper_report"), "report", jws, NULL);
}

omc_err omc_tred_audit_checkpoint(omc_tred_client *c, char **jws)
{
	return string_op(c, request("checkpoint"), "checkpoint", jws, NULL);
}

omc_err omc_tred_certificates(omc_tred_client *c, char **pem, size_t *len)
{
	return string_op(c, request("certificates"), "pem", pem, len);
}

/* --- local users ----------------------------------------------------------------------------- */

omc_err omc_tred_user_list(omc_tred_client *c, omc_tre_user_info *out, size_t cap, size_t *n)
{
	OMC_ENSURE(n && (out || cap == 0), OMC_ERR_BAD_ARG);
	json_t *a;
	OMC_TRY(rpc(c, request("users"), &a));
	json_t *arr = json_object_get(a, "users");
	omc_err e = json_is_array(arr) ? OMC_OK : OMC_ERR_BAD_FORMAT;
	if (e == OMC_OK) {
		*n = json_array_size(arr);
		e = *n <= cap ? OMC_OK : OMC_ERR_NO_SPACE;
	}
	for (size_t i = 0; e == OMC_OK && i < *n; i++) {
		json_t *u = json_array_get(arr, i);
		const char *role = NULL;
		uint64_t f = 0;
		memset(&out[i], 0, sizeof out[i]);
		e = json_is_object(u) ? get_strbuf(u, "name", out[i].name, sizeof out[i].name) : OMC_ERR_BAD_FORMAT;
		if (e == OMC_OK)
			e = get_str(u, "role", &role, NULL);
		if (e == OMC_OK)
			e = get_u64(u, "failures", &f);
		if (e == OMC_OK)
			e = get_bool(u, "blocked", &out[i].blocked);
		out[i].role = intern(role, user_roles, OMC_ARRAY_LEN(user_roles));
		out[i].failures = f > UINT32_MAX ? UINT32_MAX : (unsigned)f;
	}
	json_decref(a);
	return e;
}

/* "user" and "pin" of the user who authorises; none if user is NULL. */
static json_t *with_user(json_t *req, const char *user, const char *pin, size_t pin_len)
{
	if (!user)
		return req;
	req = with(req, "user", json_string(user));
	return with(req, "pin", pin ? json_stringn(pin, pin_len) : NULL);
}

static omc_err no_answer(omc_tred_client *c, json_t *req)
{
	json_t *a;
	OMC_TRY(rpc(c, req, &a));
	json_decref(a);
	return OMC_OK;
}

omc_err omc_tred_user_add(omc_tred_client *c, const char *admin, const char *admin_pin, size_t admin_pin_len,
			  const char *name, const char *role, const char *pin, size_t pin_len)
{
	OMC_ENSURE(name && role && pin && (!admin || admin_pin), OMC_ERR_BAD_ARG);
	json_t *req = with(request("user_add"), "name", json_string(name));
	req = with(req, "role", json_string(role));
	req = with(req, "new_pin", json_stringn(pin, pin_len));
	return no_answer(c, with_user(req, admin, admin_pin, admin_pin_len));
}

static omc_err user_change(omc_tred_client *c, const char *op, const char *admin, const char *admin_pin,
			   size_t admin_pin_len, const char *name)
{
	OMC_ENSURE(name && (!admin || admin_pin), OMC_ERR_BAD_ARG);
	json_t *req = with(request(op), "name", json_string(name));
	return no_answer(c, with_user(req, admin, admin_pin, admin_pin_len));
}

omc_err omc_tred_user_del(omc_tred_client *c, const char *admin, const char *admin_pin, size_t admin_pin_len,
			  const char *name)
{
	return user_change(c, "user_del", admin, admin_pin, admin_pin_len, name);
}

omc_err omc_tred_user_unblock(omc_tred_client *c, const char *admin, const char *admin_pin, size_t admin_pin_len,
			      const char *name)
{
	return user_change(c, "user_unblock", admin, admin_pin, admin_pin_len, name);
}

omc_err omc_tred_local_lifecycle(omc_tred_client *c, const char *user, const char *pin, size_t pin_len,
				 const char *mcim_id, omc_mcim_event event)
{
	OMC_ENSURE(user && pin && mcim_id && (unsigned)event < OMC_MCIM_EVENT_COUNT, OMC_ERR_BAD_ARG);
	json_t *req = with(request("local_lifecycle"), "mcim", json_string(mcim_id));
	req = with(req, "event", json_string(omc_mcim_event_name(event)));
	return no_answer(c, with_user(req, user, pin, pin_len));
}

/* --- the agent's TRE over the socket --------------------------------------------------------- */

static omc_err s_state(void *ctx, omc_tre_state *st)
{
	omc_tre_status s;
	OMC_TRY(omc_tred_status(ctx, &s));
	*st = s.state;
	return OMC_OK;
}

static omc_err s_registry(void *ctx, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	return omc_tred_registry(ctx, out, cap, n);
}

static omc_err s_attest(void *ctx, const uint8_t *nonce, size_t len, char **ev)
{
	return omc_tred_attest(ctx, nonce, len, ev);
}

static omc_err s_session(void *ctx, const uint8_t *nonce, size_t len, char **ev)
{
	return omc_tred_session_begin(ctx, nonce, len, ev);
}

static omc_err s_install(void *ctx, const char *pkg, size_t len, char **receipt)
{
	return omc_tred_install(ctx, pkg, len, receipt);
}

static omc_err s_command(void *ctx, const char *cmd, size_t len, char **result, bool *applied)
{
	return omc_tred_command(ctx, cmd, len, result, applied);
}

static omc_err s_aka(void *ctx, const char *id, const uint8_t rand[16], const uint8_t *autn, size_t al,
		     omc_aka_check_result *out)
{
	return omc_tred_aka(ctx, id, NULL, rand, autn, al, out);
}

static omc_err s_tamper_report(void *ctx, char **jws)
{
	return omc_tred_tamper_report(ctx, jws);
}

omc_err omc_tred_switch_end(omc_tred_client *c, bool confirm, char **statement)
{
	return string_op(c, request(confirm ? "switch_confirm" : "switch_rollback"), "statement", statement, NULL);
}

static omc_err s_switch_trial(void *ctx, bool *trial)
{
	omc_tre_status st;
	OMC_TRY(omc_tred_status(ctx, &st));
	*trial = st.switch_trial;
	return OMC_OK;
}

static omc_err s_switch_end(void *ctx, bool confirm, char **statement)
{
	return omc_tred_switch_end(ctx, confirm, statement);
}

void omc_tred_agent_tre(omc_agent_tre *ops, omc_tred_client *c)
{
	*ops = (omc_agent_tre){.ctx = c,
			       .state = s_state,
			       .registry = s_registry,
			       .attest = s_attest,
			       .session_begin = s_session,
			       .install = s_install,
			       .command = s_command,
			       .aka = s_aka,
			       .tamper_report = s_tamper_report,
			       .switch_trial = s_switch_trial,
			       .switch_end = s_switch_end};
}
