/* The HTTP client of the network roles and the agent, over libcurl: one
 * easy handle per client (its connections are reused), a whole-request
 * timeout, response bodies bounded while they arrive. */
#include <pthread.h>
#include <string.h>

#include <curl/curl.h>

#include "net/net_internal.h"
#include "openmcim/net.h"
#include "util/util_internal.h"

struct omc_http_client {
	CURL *h;
	unsigned timeout_ms;
	size_t body_max;
	char ca_file[512];
	omc_http_fault_fn fault;
	void *fault_arg;
	omc_http_route_fn route;
	void *route_arg;
	omc_http_routed_fn routed;
};

typedef struct sink {
	uint8_t *b;
	size_t len, cap, max;
	bool too_large;
} sink;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	sink *k = arg;
	size_t n = size * nmemb;
	if (n > k->max - k->len) {
		k->too_large = true;
		return 0; /* libcurl aborts the transfer */
	}
	return omc_net_append(&k->b, &k->len, &k->cap, p, n) ? n : 0;
}

omc_err omc_http_client_new(omc_http_client **out, const omc_http_client_opts *o)
{
	OMC_ENSURE(out != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	pthread_once(&curl_once, curl_init);
	OMC_ENSURE(curl_init_rc == CURLE_OK, OMC_ERR_IO);
	omc_http_client *c = omc_calloc(1, sizeof *c);
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	c->h = curl_easy_init();
	if (!c->h) {
		omc_free(c);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	c->timeout_ms = o && o->timeout_ms ? o->timeout_ms : 10000;
	c->body_max = o && o->body_max ? o->body_max : OMC_HTTP_BODY_MAX;
	c->fault = o ? o->fault : NULL;
	c->fault_arg = o ? o->fault_arg : NULL;
	c->route = o ? o->route : NULL;
	c->route_arg = o ? o->route_arg : NULL;
	c->routed = o ? o->routed : NULL;
	if (o && o->ca_file) {
		size_t n = strlen(o->ca_file);
		if (n >= sizeof c->ca_file) {
			omc_http_client_free(c);
			OMC_BAIL(OMC_ERR_BAD_ARG);
		}
		memcpy(c->ca_file, o->ca_file, n + 1);
	}
	*out = c;
	return OMC_OK;
}

void omc_http_client_free(omc_http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	omc_free(c);
}

omc_err omc_http_call(omc_http_client *c, const char *method, const char *url, const char *body, size_t body_len,
		      int *status, char **resp, size_t *resp_len)
{
	return omc_http_call_auth(c, method, url, NULL, body, body_len, status, resp, resp_len);
}

omc_err omc_http_call_auth(omc_http_client *c, const char *method, const char *url, const char *authorization,
			   const char *body, size_t body_len, int *status, char **resp, size_t *resp_len)
{
	OMC_ENSURE(c && method && url && status && resp && resp_len && (body || body_len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(!authorization || (strlen(authorization) < 16384 && !strpbrk(authorization, "\r\n")),
		   OMC_ERR_BAD_ARG);
	*resp = NULL;
	*resp_len = 0;
	*status = 0;
	omc_http_fault f = c->fault ? c->fault(c->fault_arg, method, url) : OMC_HTTP_FAULT_NONE;
	OMC_ENSURE(f != OMC_HTTP_FAULT_DROP_REQUEST, OMC_ERR_IO);
	char to[1024];
	bool rerouted = c->route && c->route(c->route_arg, url, to, sizeof to);
	if (rerouted)
		url = to;
	sink k = {.max = c->body_max};
	struct curl_slist *hdr = NULL;
	CURL *h = c->h;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	if (c->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (authorization) {
		size_t n = strlen(authorization);
		char *line = omc_alloc(n + 16);
		if (!line)
			OMC_BAIL(OMC_ERR_NOMEM);
		memcpy(line, "Authorization: ", 15);
		memcpy(line + 15, authorization, n + 1);
		struct curl_slist *h2 = curl_slist_append(hdr, line);
		omc_free(line); /* curl keeps its own copy */
		if (!h2)
			OMC_BAIL(OMC_ERR_NOMEM);
		hdr = h2;
	}
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		/* No "Expect: 100-continue" round trip for larger bodies. */
		hdr = curl_slist_append(hdr, "Expect:");
		if (!hdr)
			OMC_BAIL(OMC_ERR_NOMEM);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (hdr)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hdr);
	if (rerouted && c->routed)
		c->routed(c->route_arg, url, rc == CURLE_COULDNT_CONNECT);
	if (rc != CURLE_OK) {
		omc_free(k.b);
		if (k.too_large)
			OMC_BAIL(OMC_ERR_TOO_LARGE);
		OMC_BAIL(rc == CURLE_OUT_OF_MEMORY ? OMC_ERR_NOMEM : OMC_ERR_IO);
	}
	if (f == OMC_HTTP_FAULT_DROP_RESPONSE) {
		omc_free(k.b);
		OMC_BAIL(OMC_ERR_IO);
	}
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (!k.b) {
		k.b = omc_alloc(1);
		if (!k.b)
			OMC_BAIL(OMC_ERR_NOMEM);
	}
	k.b[k.len] = 0;
	*status = (int)code;
	*resp = (char *)k.b;
	*resp_len = k.len;
	return OMC_OK;
}
