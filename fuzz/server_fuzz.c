/* The JSON body of every server endpoint, through the real request
 * handlers of every role (the route tables of a started demo server,
 * called in-process: no sockets between the fuzzer and the handler).
 *
 * Input: route byte (an index into all listeners' routes, in order),
 * caller byte (no Authorization; a subscriber's bearer token; a request
 * signed here as one of the demo PKI's entities over this very body),
 * then, for a route whose path ends in '*', the rest of the path up to a
 * newline, then the body. The signer and the tokens are the demo
 * deployment's, made at start-up in a scratch directory. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "server/server_internal.h"

static const char *const signers[] = {"sho1", "sho2", "ico", "vno", "ro", "pva", "ccif", "m2mes"};
#define N_SIGNERS (sizeof signers / sizeof signers[0])

static omc_server *srv;
static omc_key *keys[N_SIGNERS];
static omc_cert *certs[N_SIGNERS];
static char tokens[2][64];
static const omc_http_route *routes[SRV_MAX_LISTENERS * 16];
static size_t n_routes;

static void die(const char *what)
{
	fprintf(stderr, "server_fuzz: set-up: %s\n", what);
	abort();
}

static void teardown(void)
{
	omc_server_stop(srv);
	for (size_t i = 0; i < N_SIGNERS; i++) {
		omc_key_free(keys[i]);
		omc_cert_free(certs[i]);
	}
}

static void setup(void)
{
	fz_init();
	char dir[128], path[192];
	snprintf(dir, sizeof dir, "%s/demo", fz_tmpdir());
	if (omc_server_demo_setup(dir) != OMC_OK)
		die("demo deployment");
	snprintf(path, sizeof path, "%s/server.conf", dir);
	omc_server_opts o = {.config = path};
	if (omc_server_start(&srv, &o) != OMC_OK)
		die("server start");
	snprintf(path, sizeof path, "%s/pki", dir);
	for (size_t i = 0; i < N_SIGNERS; i++)
		if (omc_pki_load(path, signers[i], &keys[i], &certs[i]) != OMC_OK)
			die(signers[i]);
	snprintf(path, sizeof path, "%s/subscribers.json", dir);
	json_t *t = json_load_file(path, 0, NULL);
	const char *a = json_string_value(json_object_get(json_object_get(t, "sho1"), "demo"));
	const char *b = json_string_value(json_object_get(json_object_get(t, "sho2"), "demo"));
	if (!a || !b)
		die("subscriber tokens");
	snprintf(tokens[0], sizeof tokens[0], "Bearer %s", a);
	snprintf(tokens[1], sizeof tokens[1], "Bearer %s", b);
	json_decref(t);
	for (size_t i = 0; i < srv->n_ls; i++)
		for (size_t j = 0; j < srv->ls[i].n_routes; j++)
			routes[n_routes++] = &srv->ls[i].routes[j];
	if (n_routes == 0)
		die("no routes");
	atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		setup();
	if (size < 2 || size > 65536)
		return 0;
	const omc_http_route *r = routes[data[0] % n_routes];
	uint8_t who = data[1];
	data += 2;
	size -= 2;
	char path[256];
	size_t pl = strlen(r->path);
	if (pl && r->path[pl - 1] == '*') {
		const uint8_t *nl = memchr(data, '\n', size < 128 ? size : 128);
		size_t sl = nl ? (size_t)(nl - data) : 0;
		snprintf(path, sizeof path, "%.*s%.*s", (int)(pl - 1), r->path, (int)sl, (const char *)data);
		if (nl) {
			data += sl + 1;
			size -= sl + 1;
		}
	} else {
		snprintf(path, sizeof path, "%s", r->path);
	}
	char *body = fz_str(data, size);
	if (!body)
		return 0;
	char *auth = NULL;
	const char *authz = NULL;
	switch (who % 4) {
	case 0: break;
	case 1: authz = tokens[who / 4 % 2]; break;
	default: {
		size_t k = who / 4 % N_SIGNERS;
		if (omc_server_sign_request(&auth, keys[k], certs[k], r->method, path, body, size,
					    (int64_t)time(NULL)) == OMC_OK)
			authz = auth;
		break;
	}
	}
	omc_http_req req = {.method = r->method,
			    .path = path,
			    .body = (const uint8_t *)body,
			    .body_len = size,
			    .content_type = "application/json",
			    .authorization = authz};
	omc_http_resp resp = {0};
	r->fn(r->arg, &req, &resp);
	if (resp.status < 100 || resp.status > 599)
		abort(); /* every handler answers */
	omc_free(resp.body);
	omc_free(auth);
	omc_free(body);
	return 0;
}
