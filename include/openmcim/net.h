/* openmcim: HTTP for the network roles (src/net).
 *
 * A small server over libmicrohttpd (a thread pool, exact routes, bodies
 * bounded before they are buffered, JSON errors) and a client over libcurl.
 * Every listener answers GET /healthz itself. The roles of `openmcim server`
 * sit behind it; the TRE core never links it. */
#ifndef OPENMCIM_NET_H
#define OPENMCIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openmcim/common.h"
#include "openmcim/err.h"

#define OMC_HTTP_BODY_MAX (1024u * 1024u) /* request and response bodies, default */
#define OMC_HTTP_CONN_TIMEOUT 30u          /* seconds a server connection may stay idle, default */
#define OMC_HTTP_CONN_LIMIT 512u           /* connections a server holds at once, default */

/* One request, as a handler sees it. Strings are NUL-terminated; body is
 * NUL-terminated after body_len bytes (it may hold NULs itself). */
typedef struct omc_http_req {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* without the query string */
	const uint8_t *body;       /* never NULL: "" when empty */
	size_t body_len;
	const char *content_type;  /* or NULL */
	const char *authorization; /* the Authorization header, or NULL */
	struct omc_http_server *server; /* the server answering (its statistics); NULL when called directly */
} omc_http_req;

/* What a handler answers: status and body (omc_alloc'd, taken over and
 * freed, wiped, by the server). A handler that sets nothing answers 500. */
typedef struct omc_http_resp {
	int status;
	char *body;
	size_t body_len;
	const char *content_type; /* a static string; NULL: application/json */
} omc_http_resp;

typedef void (*omc_http_handler)(void *arg, const omc_http_req *req, omc_http_resp *resp);

/* A route: method and exact path, or a path ending in a star for a prefix
 * ("/v1/devices/" and a star). The first match wins; a path that matches with another
 * method is 405. */
typedef struct omc_http_route {
	const char *method;
	const char *path;
	omc_http_handler fn;
	void *arg;
} omc_http_route;

typedef struct omc_http_server_opts {
	const char *addr;             /* IPv4 address to bind; NULL: 127.0.0.1 */
	uint16_t port;                /* 0: any free port (see omc_http_server_port) */
	const omc_http_route *routes; /* kept by reference: must outlive the server */
	size_t n_routes;
	unsigned threads;             /* 0: 2 */
	size_t body_max;              /* 0: OMC_HTTP_BODY_MAX; larger bodies are 413 */
	/* Slow and half-open clients (docs/server.md): a connection idle this
	 * many seconds is closed (0: OMC_HTTP_CONN_TIMEOUT); at most conn_limit
	 * connections at once (0: OMC_HTTP_CONN_LIMIT), and at most
	 * conn_limit_per_ip from one address (0: no bound but conn_limit);
	 * connections past a bound are closed as they are accepted. */
	unsigned conn_timeout, conn_limit, conn_limit_per_ip;
	/* HTTPS (libmicrohttpd's TLS, GnuTLS): the certificate chain and the
	 * encrypted PKCS#8 key in PEM with its passphrase; all NULL: plain
	 * HTTP. Kept by reference until the server stops. */
	const char *tls_cert_pem, *tls_key_pem, *tls_key_pass;
} omc_http_server_opts;

typedef struct omc_http_server omc_http_server;

typedef struct omc_http_server_stats {
	uint64_t requests;                  /* answered */
	uint64_t by_class[6];               /* by status / 100 (index 1..5) */
	uint64_t too_large, not_found, bad_method;
} omc_http_server_stats;

/* Start listening; handlers run on the server's threads, concurrently.
 * OMC_ERR_IO if the address cannot be bound. */
OMC_API OMC_MUST_USE omc_err omc_http_server_start(omc_http_server **s, const omc_http_server_opts *o);
OMC_API uint16_t omc_http_server_port(const omc_http_server *s);
OMC_API void omc_http_server_stats_get(omc_http_server *s, omc_http_server_stats *st);
/* Stop: waits for running handlers; NULL is a no-op. */
OMC_API void omc_http_server_stop(omc_http_server *s);

/* Answer with a copy of json (NUL-terminated), or with the uniform error
 * body {"error":CODE,"message":MESSAGE} (both printable ASCII, no quotes). */
OMC_API OMC_MUST_USE omc_err omc_http_resp_json(omc_http_resp *r, int status, const char *json);
OMC_API void omc_http_resp_error(omc_http_resp *r, int status, const char *code, const char *message);

/* --- client ----------------------------------------------------------------- */
typedef struct omc_http_client omc_http_client;
/* Fault injection (the fleet simulator, tests): what becomes of one
 * request. The hook may also sleep, which delays the request. */
typedef enum omc_http_fault {
	OMC_HTTP_FAULT_NONE = 0,
	OMC_HTTP_FAULT_DROP_REQUEST = 1,  /* never sent: OMC_ERR_IO */
	OMC_HTTP_FAULT_DROP_RESPONSE = 2, /* sent and answered, the answer lost: OMC_ERR_IO */
} omc_http_fault;
typedef omc_http_fault (*omc_http_fault_fn)(void *arg, const char *method, const char *url);
/* Routing (the fleet simulator's replicas): called before every request,
 * after the fault hook; writes the URL the request goes to into out (cap
 * bytes, NUL-terminated) and returns true, or returns false to keep url. */
typedef bool (*omc_http_route_fn)(void *arg, const char *url, char *out, size_t cap);
/* After a request the route hook sent elsewhere: the URL it went to, and
 * whether no connection could be made to it at all (refused, unreachable),
 * so the hook can leave that replica out for a while, as a load balancer's
 * health check would. Called with route_arg. */
typedef void (*omc_http_routed_fn)(void *arg, const char *url, bool unreachable);

typedef struct omc_http_client_opts {
	unsigned timeout_ms; /* whole request; 0: 10000 */
	size_t body_max;     /* response body; 0: OMC_HTTP_BODY_MAX */
	const char *ca_file; /* HTTPS: the CA certificates (PEM file) to trust; NULL: the system's */
	omc_http_fault_fn fault; /* called before every request; NULL: none */
	void *fault_arg;
	omc_http_route_fn route; /* called before every request; NULL: none */
	void *route_arg;
	omc_http_routed_fn routed; /* called after every routed request; NULL: none */
} omc_http_client_opts;

/* One client per thread (it keeps its connections open). o may be NULL. */
OMC_API OMC_MUST_USE omc_err omc_http_client_new(omc_http_client **c, const omc_http_client_opts *o);
OMC_API void omc_http_client_free(omc_http_client *c);

/* method url [body]: *status and the response body (omc_alloc'd,
 * NUL-terminated after *resp_len) whatever the status. OMC_ERR_IO when no
 * answer came (refused, timed out, reset), OMC_ERR_TOO_LARGE for a response
 * over body_max. A body is sent as application/json. */
OMC_API OMC_MUST_USE omc_err omc_http_call(omc_http_client *c, const char *method, const char *url,
					    const char *body, size_t body_len, int *status, char **resp,
					    size_t *resp_len);
/* The same with an Authorization header value (NULL: none). */
OMC_API OMC_MUST_USE omc_err omc_http_call_auth(omc_http_client *c, const char *method, const char *url,
						 const char *authorization, const char *body, size_t body_len,
						 int *status, char **resp, size_t *resp_len);

#endif
