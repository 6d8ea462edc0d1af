/* The HTTP layer of the network roles, over loopback with the real server
 * (libmicrohttpd) and client (libcurl): /healthz, exact and prefix routes,
 * 404 and 405 with the uniform JSON error, bodies with NULs both ways, a
 * body over the bound refused with 413 before any handler runs, the
 * client's response bound, concurrent requests on the thread pool, a
 * refused connection, and statistics that count it all. */
#include "testlib.h"

#include <pthread.h>

#include "openmcim/net.h"

static unsigned long echo_calls;

static void echo(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	(void)arg;
	__atomic_fetch_add(&echo_calls, 1, __ATOMIC_RELAXED);
	char *b = omc_alloc(req->body_len + 1);
	assert_non_null(b);
	memcpy(b, req->body, req->body_len + 1);
	resp->body = b;
	resp->body_len = req->body_len;
	resp->status = 201;
	resp->content_type = "application/octet-stream";
}

static void device(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	(void)arg;
	char buf[128];
	snprintf(buf, sizeof buf, "{\"path\":\"%s\",\"auth\":\"%s\"}", req->path,
		 req->authorization ? req->authorization : "");
	assert_int_equal(omc_http_resp_json(resp, 200, buf), OMC_OK);
}

static void big(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	(void)arg;
	(void)req;
	size_t n = 300000;
	char *b = omc_alloc(n + 1);
	assert_non_null(b);
	memset(b, 'x', n);
	b[n] = 0;
	resp->body = b;
	resp->body_len = n;
	resp->status = 200;
}

static void forgetful(void *arg, const omc_http_req *req, omc_http_resp *resp)
{
	(void)arg;
	(void)req;
	(void)resp; /* sets nothing: 500 */
}

static const omc_http_route routes[] = {
	{"POST", "/echo", echo, NULL},
	{"GET", "/v1/devices/*", device, NULL},
	{"GET", "/big", big, NULL},
	{"GET", "/forgetful", forgetful, NULL},
};

static omc_http_server *srv;
static char base[64];

static int setup(void **state)
{
	(void)state;
	omc_http_server_opts o = {.routes = routes, .n_routes = 4, .threads = 4, .body_max = 64 * 1024};
	if (omc_http_server_start(&srv, &o) != OMC_OK)
		return -1;
	snprintf(base, sizeof base, "http://127.0.0.1:%u", omc_http_server_port(srv));
	return omc_http_server_port(srv) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	omc_http_server_stop(srv);
	return 0;
}

static int call(omc_http_client *c, const char *method, const char *path, const char *body, size_t len, char **out,
		size_t *out_len)
{
	char url[256];
	snprintf(url, sizeof url, "%s%s", base, path);
	int status = 0;
	assert_int_equal(omc_http_call(c, method, url, body, len, &status, out, out_len), OMC_OK);
	return status;
}

static void expect_error(const char *body, const char *code)
{
	json_error_t e;
	json_t *j = json_loads(body, 0, &e);
	if (!j)
		fail_msg("error body is not JSON: %s", body);
	assert_string_equal(json_string_value(json_object_get(j, "error")), code);
	assert_true(json_is_string(json_object_get(j, "message")));
	json_decref(j);
}

static void test_routes(void **state)
{
	(void)state;
	omc_http_client *c;
	assert_int_equal(omc_http_client_new(&c, NULL), OMC_OK);
	char *b;
	size_t n;
	assert_int_equal(call(c, "GET", "/healthz", NULL, 0, &b, &n), 200);
	assert_string_equal(b, "{\"status\":\"ok\"}");
	omc_free(b);
	/* A body with NULs in it goes both ways intact. */
	static const char payload[] = "a\0b\0c{\"x\":1}";
	assert_int_equal(call(c, "POST", "/echo", payload, sizeof payload, &b, &n), 201);
	assert_int_equal(n, sizeof payload);
	assert_memory_equal(b, payload, sizeof payload);
	omc_free(b);
	/* An empty body. */
	assert_int_equal(call(c, "POST", "/echo", "", 0, &b, &n), 201);
	assert_int_equal(n, 0);
	omc_free(b);
	/* Prefix route. */
	assert_int_equal(call(c, "GET", "/v1/devices/tre-1", NULL, 0, &b, &n), 200);
	assert_non_null(strstr(b, "\"path\":\"/v1/devices/tre-1\""));
	omc_free(b);
	/* Unknown path, known path with another method. */
	assert_int_equal(call(c, "GET", "/nope", NULL, 0, &b, &n), 404);
	expect_error(b, "not_found");
	omc_free(b);
	assert_int_equal(call(c, "GET", "/echo", NULL, 0, &b, &n), 405);
	expect_error(b, "method_not_allowed");
	omc_free(b);
	assert_int_equal(call(c, "DELETE", "/healthz", NULL, 0, &b, &n), 405);
	omc_free(b);
	/* A handler that answers nothing is a 500, not a hang. */
	assert_int_equal(call(c, "GET", "/forgetful", NULL, 0, &b, &n), 500);
	expect_error(b, "internal");
	omc_free(b);
	omc_http_client_free(c);
}

static void test_body_bounds(void **state)
{
	(void)state;
	omc_http_client *c;
	assert_int_equal(omc_http_client_new(&c, NULL), OMC_OK);
	size_t big_len = 64 * 1024 + 1;
	char *big_body = omc_alloc(big_len);
	assert_non_null(big_body);
	memset(big_body, '{', big_len);
	unsigned long before = __atomic_load_n(&echo_calls, __ATOMIC_RELAXED);
	char *b;
	size_t n;
	assert_int_equal(call(c, "POST", "/echo", big_body, big_len, &b, &n), 413);
	expect_error(b, "too_large");
	omc_free(b);
	assert_int_equal(__atomic_load_n(&echo_calls, __ATOMIC_RELAXED), before); /* the handler never ran */
	/* Exactly at the bound is fine. */
	assert_int_equal(call(c, "POST", "/echo", big_body, big_len - 1, &b, &n), 201);
	assert_int_equal(n, big_len - 1);
	omc_free(b);
	omc_free(big_body);
	omc_http_client_free(c);
	/* The client's own bound on what it reads. */
	omc_http_client_opts co = {.body_max = 1000};
	assert_int_equal(omc_http_client_new(&c, &co), OMC_OK);
	char url[128];
	snprintf(url, sizeof url, "%s/big", base);
	int status;
	assert_int_equal(omc_http_call(c, "GET", url, NULL, 0, &status, &b, &n), OMC_ERR_TOO_LARGE);
	assert_null(b);
	omc_http_client_free(c);
}

typedef struct worker {
	int ok;
	unsigned id;
} worker;

static void *hammer(void *arg)
{
	worker *w = arg;
	omc_http_client *c;
	if (omc_http_client_new(&c, NULL) != OMC_OK)
		return NULL;
	char url[128], body[64];
	snprintf(url, sizeof url, "%s/echo", base);
	for (int i = 0; i < 50; i++) {
		int n = snprintf(body, sizeof body, "{\"worker\":%u,\"i\":%d}", w->id, i);
		int status;
		char *b = NULL;
		size_t len;
		if (omc_http_call(c, "POST", url, body, (size_t)n, &status, &b, &len) == OMC_OK && status == 201 &&
		    len == (size_t)n && !memcmp(b, body, len))
			w->ok++;
		omc_free(b);
	}
	omc_http_client_free(c);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	pthread_t th[6];
	worker w[6];
	for (unsigned i = 0; i < 6; i++) {
		w[i] = (worker){.id = i};
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (unsigned i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].ok, 50);
	}
}

static void test_refused_and_stats(void **state)
{
	(void)state;
	/* A port nothing listens on: find one by starting and stopping a server. */
	omc_http_server *tmp;
	omc_http_server_opts o = {0};
	assert_int_equal(omc_http_server_start(&tmp, &o), OMC_OK);
	uint16_t port = omc_http_server_port(tmp);
	omc_http_server_stop(tmp);
	omc_http_client *c;
	assert_int_equal(omc_http_client_new(&c, NULL), OMC_OK);
	char url[64], *b = (char *)1;
	snprintf(url, sizeof url, "http://127.0.0.1:%u/healthz", port);
	int status = -1;
	size_t n;
	assert_int_equal(omc_http_call(c, "GET", url, NULL, 0, &status, &b, &n), OMC_ERR_IO);
	assert_null(b);
	omc_http_client_free(c);
	/* Binding a bad address is refused. */
	omc_http_server_opts bad = {.addr = "not-an-address"};
	assert_int_equal(omc_http_server_start(&tmp, &bad), OMC_ERR_BAD_ARG);
	omc_http_server_stats st;
	omc_http_server_stats_get(srv, &st);
	assert_true(st.requests >= 300 + 10);
	assert_int_equal(st.too_large, 1);
	assert_true(st.not_found >= 1);
	assert_true(st.bad_method >= 2);
	assert_true(st.by_class[2] >= 300 && st.by_class[4] >= 4 && st.by_class[5] >= 1);
}

static omc_http_fault next_fault;
static unsigned fault_calls;

static omc_http_fault fault_hook(void *arg, const char *method, const char *url)
{
	assert_ptr_equal(arg, &next_fault);
	assert_string_equal(method, "GET");
	assert_non_null(strstr(url, "/healthz"));
	fault_calls++;
	return next_fault;
}

/* The fault hook: a dropped request never reaches the server, a dropped
 * response does, and both are OMC_ERR_IO with no body; none is a plain call. */
static void test_fault_hook(void **state)
{
	(void)state;
	omc_http_client *c;
	omc_http_client_opts co = {.fault = fault_hook, .fault_arg = &next_fault};
	assert_int_equal(omc_http_client_new(&c, &co), OMC_OK);
	char url[96], *b = NULL;
	snprintf(url, sizeof url, "%s/healthz", base);
	int status = -1;
	size_t n;
	omc_http_server_stats st0, st1;
	static const omc_http_fault kinds[] = {OMC_HTTP_FAULT_DROP_REQUEST, OMC_HTTP_FAULT_DROP_RESPONSE};
	static const uint64_t reached[] = {0, 1};
	for (size_t i = 0; i < 2; i++) {
		next_fault = kinds[i];
		omc_http_server_stats_get(srv, &st0);
		b = (char *)1;
		assert_int_equal(omc_http_call(c, "GET", url, NULL, 0, &status, &b, &n), OMC_ERR_IO);
		assert_null(b);
		omc_http_server_stats_get(srv, &st1);
		assert_int_equal(st1.requests - st0.requests, reached[i]);
	}
	next_fault = OMC_HTTP_FAULT_NONE;
	assert_int_equal(omc_http_call(c, "GET", url, NULL, 0, &status, &b, &n), OMC_OK);
	assert_int_equal(status, 200);
	omc_free(b);
	assert_int_equal(fault_calls, 3);
	omc_http_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_body_bounds),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_refused_and_stats),
		cmocka_unit_test(test_fault_hook),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
