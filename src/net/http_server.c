/* The HTTP server of the network roles, over libmicrohttpd: a thread pool,
 * request bodies accumulated per connection up to a bound (past it the
 * rest is read and dropped, and the answer is 413 without the handler
 * running), exact routes, uniform JSON errors, GET /healthz built in. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "openmcim/log.h"
#include "net/net_internal.h"
#include "openmcim/net.h"
#include "util/util_internal.h"

struct omc_http_server {
	struct MHD_Daemon *d;
	const omc_http_route *routes;
	size_t n_routes;
	size_t body_max;
	uint16_t port;
	/* statistics, updated with atomics from the pool's threads */
	uint64_t requests, by_class[6], too_large, not_found, bad_method;
};

/* Per request: the body as it arrives. */
typedef struct conn {
	uint8_t *body;
	size_t len, cap;
	bool too_large;
} conn;

static void bump(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

omc_err omc_http_resp_json(omc_http_resp *r, int status, const char *json)
{
	OMC_ENSURE(r != NULL && json != NULL, OMC_ERR_BAD_ARG);
	size_t n = strlen(json);
	char *b = omc_alloc(n + 1);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	memcpy(b, json, n + 1);
	omc_free(r->body);
	r->body = b;
	r->body_len = n;
	r->status = status;
	r->content_type = NULL;
	return OMC_OK;
}

void omc_http_resp_error(omc_http_resp *r, int status, const char *code, const char *message)
{
	char buf[512];
	snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"message\":\"%s\"}", code, message);
	if (omc_http_resp_json(r, status, buf) != OMC_OK) {
		/* No memory for a body: the status alone. */
		omc_free(r->body);
		r->body = NULL;
		r->body_len = 0;
		r->status = status;
	}
}

static bool path_match(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0;
	return strcmp(pattern, path) == 0;
}

static void healthz(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	(void)arg;
	(void)req;
	if (omc_http_resp_json(resp, 200, "{\"status\":\"ok\"}") != OMC_OK)
		resp->status = 500;
}

#ifdef OMC_TEST_HOOKS
static omc_test_http_body_fn body_hook;
static void *body_hook_arg;

void omc_test_http_on_body(omc_test_http_body_fn fn, void *arg)
{
	body_hook = fn;
	body_hook_arg = arg;
}
#endif

static void dispatch_route(omc_http_server *s, const omc_http_req *req, omc_http_resp *resp);

static void dispatch(omc_http_server *s, const omc_http_req *req, omc_http_resp *resp)
{
	dispatch_route(s, req, resp);
#ifdef OMC_TEST_HOOKS
	if (body_hook)
		body_hook(body_hook_arg, req->method, req->path, req->body, req->body_len, resp->body,
			  resp->body ? resp->body_len : 0);
#endif
}

static void dispatch_route(omc_http_server *s, const omc_http_req *req, omc_http_resp *resp)
{
	bool path_known = false;
	if (!strcmp(req->path, "/healthz")) {
		if (!strcmp(req->method, "GET")) {
			healthz(NULL, req, resp);
			return;
		}
		path_known = true;
	}
	for (size_t i = 0; i < s->n_routes; i++) {
		const omc_http_route *r = &s->routes[i];
		if (!path_match(r->path, req->path))
			continue;
		path_known = true;
		if (strcmp(r->method, req->method) != 0)
			continue;
		resp->status = 0;
		r->fn(r->arg, req, resp);
		if (resp->status < 100 || resp->status > 599) {
			OMC_LOG_ERR("net", "%s %s: the handler set no status", req->method, req->path);
			omc_http_resp_error(resp, 500, "internal", "internal error");
		}
		return;
	}
	if (path_known) {
		bump(&s->bad_method);
		omc_http_resp_error(resp, 405, "method_not_allowed", "method not allowed on this path");
	} else {
		bump(&s->not_found);
		omc_http_resp_error(resp, 404, "not_found", "no such path");
	}
}

static enum MHD_Result send_resp(omc_http_server *s, struct MHD_Connection *c, omc_http_resp *r)
{
	static char empty[1];
	struct MHD_Response *m =
		MHD_create_response_from_buffer(r->body_len, r->body ? r->body : empty, MHD_RESPMEM_MUST_COPY);
	omc_free(r->body); /* wiped: a body may carry what a caller must not keep around */
	r->body = NULL;
	if (!m)
		return MHD_NO;
	MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(m, "Cache-Control", "no-store");
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, m);
	MHD_destroy_response(m);
	bump(&s->requests);
	bump(&s->by_class[r->status / 100 % 6]);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	(void)version;
	omc_http_server *s = cls;
	conn *k = *con_cls;
	if (!k) {
		k = omc_calloc(1, sizeof *k);
		if (!k)
			return MHD_NO;
		*con_cls = k;
		return MHD_YES; /* the headers; the body (if any) comes next */
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0; /* consumed */
		if (k->too_large || n > s->body_max - k->len) {
			k->too_large = true; /* read the rest, keep none of it */
			return MHD_YES;
		}
		return omc_net_append(&k->body, &k->len, &k->cap, upload_data, n) ? MHD_YES : MHD_NO;
	}
	omc_http_resp resp = {0};
	if (k->too_large) {
		bump(&s->too_large);
		omc_http_resp_error(&resp, 413, "too_large", "request body too large");
		return send_resp(s, c, &resp);
	}
	if (k->body)
		k->body[k->len] = 0;
	omc_http_req req = {
		.method = method,
		.path = url,
		.body = k->body ? k->body : (const uint8_t *)"",
		.body_len = k->len,
		.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		.server = s,
	};
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_counted(true); /* the handler's allocations can be made to fail */
#endif
	dispatch(s, &req, &resp);
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_counted(false);
#endif
	return send_resp(s, c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	conn *k = *con_cls;
	if (k) {
		omc_free(k->body);
		omc_free(k);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's messages, into our log; the format is the library's. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = 0;
	OMC_LOG_WRN("net", "libmicrohttpd: %s", msg);
}

omc_err omc_http_server_start(omc_http_server **out, const omc_http_server_opts *o)
{
	OMC_ENSURE(out != NULL && o != NULL && (o->routes != NULL || o->n_routes == 0), OMC_ERR_BAD_ARG);
	*out = NULL;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(o->port);
	OMC_ENSURE(inet_pton(AF_INET, o->addr ? o->addr : "127.0.0.1", &sa.sin_addr) == 1, OMC_ERR_BAD_ARG);
	omc_http_server *s = omc_calloc(1, sizeof *s);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	s->routes = o->routes;
	s->n_routes = o->n_routes;
	s->body_max = o->body_max ? o->body_max : OMC_HTTP_BODY_MAX;
	unsigned threads = o->threads ? o->threads : 2;
	bool tls = o->tls_cert_pem || o->tls_key_pem;
	if (tls && (!o->tls_cert_pem || !o->tls_key_pem || !o->tls_key_pass ||
		    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)) {
		omc_free(s);
		OMC_BAIL(tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ? OMC_ERR_UNSUPPORTED : OMC_ERR_BAD_ARG);
	}
	/* Slow and half-open clients: an idle connection is closed after the
	 * timeout; past the limits a new connection is closed as it comes. */
	unsigned limit = o->conn_limit ? o->conn_limit : OMC_HTTP_CONN_LIMIT;
	if (limit < threads)
		limit = threads; /* libmicrohttpd shares the limit out over the pool */
	struct MHD_OptionItem limits[] = {
		{MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout ? o->conn_timeout : OMC_HTTP_CONN_TIMEOUT, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
		{o->conn_limit_per_ip ? MHD_OPTION_PER_IP_CONNECTION_LIMIT : MHD_OPTION_END, o->conn_limit_per_ip, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
	if (tls)
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
					MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, limits,
					MHD_OPTION_HTTPS_MEM_CERT, o->tls_cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
					o->tls_key_pem, MHD_OPTION_HTTPS_KEY_PASSWORD, o->tls_key_pass, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
					MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, limits,
					MHD_OPTION_END);
	if (!s->d) {
		omc_free(s);
		OMC_BAIL(OMC_ERR_IO);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : o->port;
	*out = s;
	return OMC_OK;
}

uint16_t omc_http_server_port(const omc_http_server *s)
{
	return s ? s->port : 0;
}

void omc_http_server_stats_get(omc_http_server *s, omc_http_server_stats *st)
{
	memset(st, 0, sizeof *st);
	st->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
	for (int i = 0; i < 6; i++)
		st->by_class[i] = __atomic_load_n(&s->by_class[i], __ATOMIC_RELAXED);
	st->too_large = __atomic_load_n(&s->too_large, __ATOMIC_RELAXED);
	st->not_found = __atomic_load_n(&s->not_found, __ATOMIC_RELAXED);
	st->bad_method = __atomic_load_n(&s->bad_method, __ATOMIC_RELAXED);
}

void omc_http_server_stop(omc_http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	omc_free(s);
}
