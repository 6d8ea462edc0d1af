/* Every refusal of every endpoint of `openmcim server` (issue 4): malformed
 * JSON, wrong member types, oversized bodies, missing, unknown, misplaced,
 * stale, altered and replayed credentials, unknown devices and
 * subscribers, replayed nonces and tokens, another SHO's devices and
 * receipts. Each refusal is checked for its status, its error code and an
 * unchanged database (sf_db_digest: every table but audit and req_jti);
 * where a refusal rightly uses something up (a PVA nonce, a VNO challenge:
 * both single use) the test says which table may change and checks that
 * the thing is spent and nothing else changed. The happy path of the
 * endpoints the story test does not reach is here too.
 *
 * covers: SEC-7, SEC-8, SEC-9, SEC-13, SVC-1, SVC-2, EVAL-1, EVAL-3, EVAL-6,
 * NET-1, NET-3, NET-4, CCIF-1, CCIF-2, TRE-6, TRE-7, MGT-1, SEC-11 */
#include "srv_fixture.h"

#include <pthread.h>
#include <time.h>

#include <openssl/evp.h>

#include "server/server_internal.h"

static unsigned n_cases; /* refusals checked, for the summary */

/* --- the database, table by table ------------------------------------------------------ */

#define SNAP_TABLES 48

typedef struct snap {
	uint8_t all[32]; /* sf_db_digest */
	size_t n;
	char name[SNAP_TABLES][40];
	uint8_t h[SNAP_TABLES][32];
} snap;

/* The same hash as sf_db_digest, one per table, so that a failure can say
 * which table changed. */
static void snap_take(sf_env *e, snap *s)
{
	memset(s, 0, sizeof *s);
	sf_db_digest(e, s->all);
	s->n = sf_db_tables(e, s->name, s->h, SNAP_TABLES);
}

/* The tables that differ from s, but `spent` (NULL: none), into out
 * ("" when none). */
/* Whether table is one of spent, a list separated by spaces. */
static bool spent_has(const char *spent, const char *table)
{
	size_t n = strlen(table);
	for (const char *p = spent; p && (p = strstr(p, table)) != NULL; p += n)
		if ((p == spent || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

static void snap_diff(sf_env *e, const snap *s, const char *spent, char *out, size_t cap)
{
	snap now;
	snap_take(e, &now);
	out[0] = 0;
	size_t used = 0;
	for (size_t i = 0; i < now.n; i++) {
		if (spent_has(spent, now.name[i]))
			continue;
		bool same = false;
		for (size_t j = 0; j < s->n; j++)
			if (!strcmp(s->name[j], now.name[i]))
				same = memcmp(s->h[j], now.h[i], 32) == 0;
		if (!same && used + strlen(now.name[i]) + 3 < cap)
			used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", now.name[i]);
	}
}

/* Run SQL on the database with the server stopped (to set up a state no
 * request can reach), then start it again. */
static void db_poke(sf_env *e, const char *sql)
{
	sf_stop(e);
	sf_db_exec(e, sql);
	sf_start(e);
}

/* --- calls ------------------------------------------------------------------------------- */

/* "Bearer TOKEN" in one of a few rotating buffers. */
static const char *bearer(const char *tok)
{
	static char b[4][160];
	static unsigned i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof b[i], "Bearer %s", tok);
	return b[i];
}

/* The Authorization value of a signed request by PKI entity who, its time
 * skew seconds off the server's clock. omc_free it. */
static char *sign_auth(sf_env *e, const char *who, const char *method, const char *path, const char *body,
		       int64_t skew)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e->pki, who, &k, &c), OMC_OK);
	char *auth = NULL;
	assert_int_equal(srv_sign_request(&auth, k, c, method, path, body, body ? strlen(body) : 0,
					  (int64_t)time(NULL) + e->now_offset + skew),
			 OMC_OK);
	omc_key_free(k);
	omc_cert_free(c);
	return auth;
}

/* A JWS of typ over p (consumed) by PKI entity who, as the roles make them. */
static char *sign_obj(sf_env *e, const char *who, const char *typ, json_t *p)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e->pki, who, &k, &c), OMC_OK);
	char *ps = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(p);
	assert_non_null(ps);
	const omc_cert *x5c[1] = {c};
	char *jws = NULL;
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), k, x5c, 1, typ), OMC_OK);
	omc_free(ps);
	omc_key_free(k);
	omc_cert_free(c);
	return jws;
}

/* The answer of one call must be want_st with error code want_code ("":
 * none), and the database unchanged but for the tables `spent` (names
 * separated by spaces; NULL: none). *out (optional) gets the answer. */
static void expect(sf_env *e, int line, int want_st, const char *want_code, const char *spent, const char *method,
		   const char *role, const char *path, const char *auth, const char *body, json_t **out)
{
	snap before;
	snap_take(e, &before);
	json_t *o = NULL;
	int st = sf_call(e, method, role, path, auth, body, &o);
	char code[48], msg[200];
	snprintf(code, sizeof code, "%s", sf_code(o));
	snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(o, "message")) ?: "");
	n_cases++;
	if (st != want_st || strcmp(code, want_code) != 0) {
		json_decref(o);
		fail_msg("line %d: %s %s %s: got %d %s (%s), want %d %s", line, method, role, path, st, code, msg,
			 want_st, want_code);
	}
	char diff[512];
	uint8_t after[32];
	sf_db_digest(e, after);
	if (!spent && memcmp(after, before.all, 32) != 0) {
		snap_diff(e, &before, NULL, diff, sizeof diff);
		json_decref(o);
		fail_msg("line %d: %s %s %s (%d %s) changed the database: %s", line, method, role, path, st, code,
			 diff);
	}
	if (spent) {
		snap_diff(e, &before, spent, diff, sizeof diff);
		if (diff[0]) {
			json_decref(o);
			fail_msg("line %d: %s %s %s (%d %s) changed more than %s: %s", line, method, role, path, st,
				 code, spent, diff);
		}
	}
	if (out)
		*out = o;
	else
		json_decref(o);
}

static void expect_signed(sf_env *e, int line, int want_st, const char *want_code, const char *who,
			  const char *method, const char *role, const char *path, const char *body, json_t **out)
{
	char *auth = sign_auth(e, who, method, path, body, 0);
	expect(e, line, want_st, want_code, NULL, method, role, path, auth, body, out);
	omc_free(auth);
}

/* A refusal: its status and code, and the database as it was. */
#define REFUSE(e, st, code, method, role, path, auth, body) \
	expect((e), __LINE__, (st), (code), NULL, (method), (role), (path), (auth), (body), NULL)
/* The same, but a single-use thing in `table` is used up. */
#define REFUSE_SPENDING(e, table, st, code, method, role, path, auth, body) \
	expect((e), __LINE__, (st), (code), (table), (method), (role), (path), (auth), (body), NULL)
/* A refusal of a request signed as who. */
#define REFUSE_SIGNED(e, st, code, who, method, role, path, body) \
	expect_signed((e), __LINE__, (st), (code), (who), (method), (role), (path), (body), NULL)

/* A call that must answer want_st (no refusal asserted on the database). */
static json_t *call_ok(sf_env *e, int line, int want_st, const char *method, const char *role, const char *path,
		       const char *auth, const char *body)
{
	json_t *o = NULL;
	int st = sf_call(e, method, role, path, auth, body, &o);
	if (st != want_st) {
		char code[48];
		snprintf(code, sizeof code, "%s", sf_code(o));
		json_decref(o);
		fail_msg("line %d: %s %s %s: got %d %s, want %d", line, method, role, path, st, code, want_st);
	}
	return o;
}
#define CALL_OK(e, st, method, role, path, auth, body) call_ok((e), __LINE__, (st), (method), (role), (path), (auth), (body))

static json_t *signed_ok(sf_env *e, int line, int want_st, const char *who, const char *method, const char *role,
			 const char *path, const char *body)
{
	char *auth = sign_auth(e, who, method, path, body, 0);
	json_t *o = call_ok(e, line, want_st, method, role, path, auth, body);
	omc_free(auth);
	return o;
}
#define SIGNED_OK(e, st, who, method, role, path, body) signed_ok((e), __LINE__, (st), (who), (method), (role), (path), (body))

/* {"key": "value"} as compact JSON; omc_free it. */
static char *body1(const char *key, const char *value)
{
	json_t *b = json_pack("{s:s}", key, value);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_non_null(s);
	return s;
}

static char *body2(const char *k1, const char *v1, const char *k2, const char *v2)
{
	json_t *b = json_pack("{s:s,s:s}", k1, v1, k2, v2);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_non_null(s);
	return s;
}

/* --- the world: a deployment with two devices ------------------------------------------------ */

typedef struct world {
	sf_env e;
	sf_dev a;      /* provisioned with sho1: an operational session, its MCIM installed */
	sf_dev b;      /* PCID reported, attached: a provisioning session; at the DRF, pending */
	char *receipt; /* a's install receipt */
} world;

/* sf_provision, keeping the receipt. */
static void provision(sf_env *e, sf_dev *d, int sho, char **receipt)
{
	assert_int_equal(sf_subscribe(e, d, sho), 201);
	assert_int_equal(sf_report_pcid(e, d), 201);
	assert_int_equal(sf_attach(e, d, NULL), 200);
	json_t *r = NULL;
	assert_int_equal(sf_register(e, d, &r), 200);
	json_decref(r);
	assert_int_equal(sf_validate(e, d), 200);
	assert_int_equal(sf_download(e, d, receipt), 200);
	assert_int_equal(sf_send_receipt(e, d, *receipt), 200);
	assert_int_equal(sf_attach(e, d, d->mcim_id), 200);
}

static int world_setup(void **state)
{
	world *w = omc_calloc(1, sizeof *w);
	assert_non_null(w);
	sf_up(&w->e);
	sf_dev_make(&w->e, &w->a, NULL);
	provision(&w->e, &w->a, 1, &w->receipt);
	sf_dev_make(&w->e, &w->b, NULL);
	assert_int_equal(sf_report_pcid(&w->e, &w->b), 201);
	assert_int_equal(sf_attach(&w->e, &w->b, NULL), 200);
	json_t *r = NULL;
	assert_int_equal(sf_register(&w->e, &w->b, &r), 202);
	json_decref(r);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	world *w = *state;
	sf_dev_free(&w->a);
	sf_dev_free(&w->b);
	omc_free(w->receipt);
	sf_down(&w->e);
	omc_free(w);
	return 0;
}

/* A fresh nonce of the PVA for d's session: its bytes and its text. */
static void pva_nonce(sf_env *e, sf_dev *d, uint8_t n[64], size_t *nl, char nb[96])
{
	json_t *a = CALL_OK(e, 201, "POST", "pva", "/v1/nonce", bearer(d->session), "{}");
	const char *s = json_string_value(json_object_get(a, "nonce"));
	assert_non_null(s);
	snprintf(nb, 96, "%s", s);
	assert_int_equal(omc_b64_decode(n, 64, nl, s, strlen(s), OMC_B64_URL), OMC_OK);
	json_decref(a);
}

static long nonce_used(sf_env *e, const char *nb)
{
	char sql[192];
	snprintf(sql, sizeof sql, "SELECT used FROM pva_nonce WHERE nonce = '%s'", nb);
	return sf_db_count(e, sql);
}

/* --- every route, table-driven ---------------------------------------------------------------- */

typedef enum auth_kind {
	A_NONE,       /* anyone (the VNO's attach) */
	A_SESSION,    /* a VNO session: the provisioning one of device b */
	A_OP_SESSION, /* a VNO session: the operational one of device a */
	A_SUBSCRIBER, /* a subscriber of the listener's SHO */
	A_SIGNED,     /* a signed request of `caller` */
} auth_kind;

typedef struct route {
	const char *role, *method, *path;
	auth_kind auth;
	const char *caller;   /* A_SIGNED: an allowed caller */
	const char *stranger; /* A_SIGNED: a PKI entity the route does not allow */
	const char *bad[3];   /* bodies with a member missing or of the wrong type (NULL: reads no body) */
	const char *ids;      /* requirement IDs */
} route;

#define A20 "AAAAAAAAAAAAAAAAAAAA"
#define PLAT "plat-0123456789abcdef"
#define TRE "tre-0123456789abcdef"
#define IMSI "001010000000001"
#define HEX14 "0000000000000000000000000000"
#define HEX16 "00000000000000000000000000000000"

#define AUC_ROUTES(r)                                                                                                \
	{r, "POST", "/v1/vectors", A_SIGNED, "vno", "sho1",                                                          \
	 {"{\"imsi\":1010000000001}", "{\"imsi\":\"0010100000000011\"}", "{\"imsi\":\"" IMSI "\",\"n\":\"1\"}"},     \
	 "NET-1, SEC-13"},                                                                                           \
	{                                                                                                            \
		r, "POST", "/v1/resync", A_SIGNED, "vno", "sho1",                                                    \
			{"{\"imsi\":\"" IMSI "\",\"rand\":7,\"auts\":\"" HEX14 "\"}",                                \
			 "{\"imsi\":\"" IMSI "\",\"rand\":\"" HEX16 "\",\"auts\":true}",                             \
			 "{\"imsi\":[],\"rand\":\"" HEX16 "\",\"auts\":\"" HEX14 "\"}"},                             \
			"NET-1, NET-3"                                                                               \
	}

#define SHO_ROUTES(r)                                                                                                \
	{r, "POST", "/v1/devices", A_SUBSCRIBER, NULL, NULL,                                                         \
	 {"{\"platform_id\":false}", "{\"platform_id\":\"plat-0123\"}", "{}"}, "SVC-2, EVAL-3"},                     \
		{r, "GET", "/v1/devices", A_SUBSCRIBER, NULL, NULL, {NULL}, "EVAL-3, EVAL-6"},                       \
		{r, "POST", "/v1/mcims", A_SIGNED, "ro", "vno",                                                      \
		 {"{\"tre\":\"" TRE "\",\"platform_id\":\"" PLAT "\",\"nonce\":5}",                                  \
		  "{\"tre\":1,\"platform_id\":\"" PLAT "\",\"nonce\":\"" A20 "\"}",                                  \
		  "{\"tre\":\"" TRE "\",\"platform_id\":\"" PLAT "\"}"},                                             \
		 "SVC-2, SEC-9"},                                                                                    \
	{r, "POST", "/v1/receipts", A_SIGNED, "ro", "vno", {"{\"receipt\":[]}", "{}", "{\"receipt\":\"short\"}"}, \
	 "SEC-9, MGT-1"},                                                                                            \
		{r, "POST", "/v1/deletions", A_SIGNED, "ro", "vno", {"{\"result\":[]}", "{}", "{\"result\":\"short\"}"}, \
		 "CHG-2"},                                                                                           \
		{r, "POST", "/v1/commands", A_SUBSCRIBER, NULL, NULL,                                                \
		 {"{\"platform_id\":\"" PLAT "\",\"cmd\":\"reboot\"}", "{\"platform_id\":\"" PLAT "\"}",          \
		  "{\"platform_id\":\"" PLAT "\",\"cmd\":\"update\"}"},                                              \
		 "MGT-8, MGT-6"},                                                                                    \
	{                                                                                                            \
		r, "POST", "/v1/commands/status", A_SUBSCRIBER, NULL, NULL, {"{\"id\":0}", "{}", "{\"id\":\"1\"}"},     \
			"MGT-8"                                                                                      \
	}

static const route routes[] = {
	{"ccif", "POST", "/v1/pcids", A_SIGNED, "m2mes", "sho1", {"{\"count\":\"2\"}", "{\"count\":0}", "{\"alg\":5}"},
	 "CCIF-1, CCIF-2"},
	{"ccif", "POST", "/v1/reports", A_SIGNED, "m2mes", "sho1", {"{\"report\":42}", "{}", "{\"report\":\"short\"}"},
	 "CCIF-2"},
	{"ccif", "POST", "/v1/pcids/push", A_SIGNED, "ico", "sho1", {"{\"tre\":5}", "{}", "{\"tre\":\"abc\"}"},
	 "NET-7"},
	AUC_ROUTES("auc.ico"),
	AUC_ROUTES("auc.sho1"),
	AUC_ROUTES("auc.sho2"),
	{"vno", "POST", "/v1/attach", A_NONE, NULL, NULL, {"{\"imsi\":1}", "{}", "{\"imsi\":\"0010100000000011\"}"},
	 "NET-1"},
	{"vno", "POST", "/v1/attach/complete", A_NONE, NULL, NULL,
	 {"{\"attach\":\"" A20 "\",\"res\":12345678}", "{\"attach\":5,\"res\":\"0011223344556677\"}",
	  "{\"res\":\"0011223344556677\"}"},
	 "NET-1, NET-3"},
	{"vno", "POST", "/v1/attach/resync", A_NONE, NULL, NULL,
	 {"{\"attach\":\"" A20 "\",\"auts\":[]}", "{\"attach\":null,\"auts\":\"" HEX14 "\"}", "{}"}, "NET-1, NET-3"},
	{"vno", "GET", "/v1/session", A_SESSION, NULL, NULL, {NULL}, "SEC-7"},
	{"vno", "POST", "/v1/data", A_OP_SESSION, NULL, NULL, {"{\"bytes\":\"1000\"}", "{\"bytes\":0}", "{\"bytes\":1.5}"},
	 "SEC-7"},
	{"vno", "POST", "/v1/sms", A_OP_SESSION, NULL, NULL, {NULL}, "SEC-7"},
	{"vno", "POST", "/v1/link", A_OP_SESSION, NULL, NULL, {"{\"frame\":5}", "{}", "{\"frame\":\"short\"}"},
	 "SEC-11"},
	{"bootstrap", "GET", "/v1/bootstrap", A_SESSION, NULL, NULL, {NULL}, "NET-4"},
	{"bootstrap", "POST", "/v1/pcids/nonce", A_SESSION, NULL, NULL, {NULL}, "CHG-4"},
	{"bootstrap", "POST", "/v1/pcids/renew", A_SESSION, NULL, NULL,
	 {"{\"evidence\":true}", "{\"evidence\":\"" A20 "\",\"version\":0}", "{\"evidence\":\"short\"}"},
	 "CHG-4, CHG-5"},
	{"bootstrap", "POST", "/v1/pcids/receipts", A_SESSION, NULL, NULL,
	 {"{\"receipt\":null}", "{}", "{\"receipt\":\"short\"}"}, "CHG-4, CHG-5"},
	{"drf", "POST", "/v1/devices", A_SIGNED, "sho1", "vno",
	 {"{\"platform_id\":[\"" PLAT "\"]}", "{\"platform_id\":\"plat-0123456789abcdeg\"}", "{}"}, "SVC-1, EVAL-3"},
	{"drf", "POST", "/v1/register", A_SESSION, NULL, NULL,
	 {"{\"evidence\":\"" A20 "\",\"time\":\"now\"}", "{\"evidence\":7,\"time\":1}", "{\"evidence\":\"" A20 "\"}"},
	 "SVC-1, TRE-6"},
	{"pva", "POST", "/v1/nonce", A_SESSION, NULL, NULL, {NULL}, "SEC-8"},
	{"pva", "POST", "/v1/validate", A_SESSION, NULL, NULL, {"{\"evidence\":true}", "{}", "{\"evidence\":\"short\"}"},
	 "SEC-8, TRE-7, EVAL-1"},
	{"pva", "POST", "/v1/recovery/nonce", A_SIGNED, "ro", "vno", {"{\"tre\":5}", "{\"tre\":\"x\"}", "{\"tre\":[]}"},
	 "TRE-4, SEC-5"},
	{"pva", "POST", "/v1/recovery", A_SIGNED, "ro", "vno",
	 {"{\"report\":1,\"evidence\":\"" A20 "\"}", "{\"report\":\"" A20 "\"}", "{\"evidence\":\"" A20 "\"}"},
	 "TRE-4, SEC-5"},
	{"pva", "POST", "/v1/tamper", A_SESSION, NULL, NULL, {"{\"report\":[]}", "{}", "{\"report\":\"short\"}"},
	 "TRE-4"},
	{"dpf", "POST", "/v1/download", A_SESSION, NULL, NULL,
	 {"{\"token\":{},\"evidence\":\"" A20 "\"}", "{\"token\":\"" A20 "\",\"evidence\":1}", "{\"token\":\"" A20 "\"}"},
	 "SEC-9, SEC-8"},
	{"dpf", "POST", "/v1/receipts", A_SESSION, NULL, NULL, {"{\"receipt\":null}", "{}", "{\"receipt\":\"short\"}"},
	 "SEC-9, MGT-1"},
	{"dpf", "POST", "/v1/commands", A_SIGNED, "sho1", "vno",
	 {"{\"tre\":\"" TRE "\",\"command\":12}", "{\"tre\":1,\"command\":\"" A20 "\"}", "{\"tre\":\"" TRE "\"}"},
	 "MGT-1"},
	{"dpf", "GET", "/v1/commands", A_SESSION, NULL, NULL, {NULL}, "MGT-1"},
	{"dpf", "POST", "/v1/results", A_SESSION, NULL, NULL,
	 {"{\"id\":\"1\",\"result\":\"" A20 "\"}", "{\"id\":0,\"result\":\"" A20 "\"}", "{\"id\":1,\"result\":false}"},
	 "MGT-1, SEC-13"},
	{"dpf", "POST", "/v1/switch", A_SESSION, NULL, NULL, {"{\"statement\":7}", "{}", "{\"statement\":\"short\"}"},
	 "CHG-1, CHG-3"},
	{"dpf", "POST", "/v1/commands/status", A_SIGNED, "sho1", "pva", {"{\"id\":1.5}", "{\"id\":\"1\"}", "{}"},
	 "MGT-1"},
	SHO_ROUTES("sho.sho1"),
	SHO_ROUTES("sho.sho2"),
};

/* The valid Authorization of r for body (omc_free it if *owned). */
static const char *auth_of(world *w, const route *r, const char *body, char **owned)
{
	*owned = NULL;
	switch (r->auth) {
	case A_NONE: return NULL;
	case A_SESSION: return bearer(w->b.session);
	case A_OP_SESSION: return bearer(w->a.session);
	case A_SUBSCRIBER: return bearer(w->e.tokens[strcmp(r->role, "sho.sho1") == 0 ? 0 : 1]);
	case A_SIGNED: *owned = sign_auth(&w->e, r->caller, r->method, r->path, body, 0); return *owned;
	}
	return NULL;
}

/* The table names every route of every listener, and nothing else (so a
 * new route cannot go untested); /metrics answers on each (happy path). */
static void test_every_route_in_the_table(void **state)
{
	world *w = *state;
	omc_server *s = w->e.srv;
	size_t found = 0;
	for (size_t i = 0; i < s->n_ls; i++) {
		const srv_listener *l = &s->ls[i];
		for (size_t j = 0; j < l->n_routes; j++) {
			if (!strcmp(l->routes[j].path, "/metrics"))
				continue;
			bool in = false;
			for (size_t k = 0; k < OMC_ARRAY_LEN(routes) && !in; k++)
				in = !strcmp(routes[k].role, l->name) && !strcmp(routes[k].method, l->routes[j].method) &&
				     !strcmp(routes[k].path, l->routes[j].path);
			if (!in)
				fail_msg("%s %s %s is not in the table of this test", l->name, l->routes[j].method,
					 l->routes[j].path);
			found++;
		}
		json_decref(CALL_OK(&w->e, 200, "GET", l->name, "/metrics", NULL, NULL));
		json_decref(CALL_OK(&w->e, 200, "GET", l->name, "/healthz", NULL, NULL));
	}
	assert_int_equal(found, OMC_ARRAY_LEN(routes));
}

/* No credential, or the wrong kind, or an unknown one: 401 and nothing
 * changed (SEC-8, SEC-9, SVC-1, SVC-2, SEC-7). */
static void test_every_route_refuses_missing_and_unknown_callers(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char unknown[48];
	assert_int_equal(srv_token_new(unknown), OMC_OK);
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		const route *r = &routes[i];
		const char *body = r->bad[0] ? r->bad[0] : NULL;
		char *vno_signed = sign_auth(e, "vno", r->method, r->path, body, 0);
		switch (r->auth) {
		case A_NONE: break;
		case A_SESSION:
		case A_OP_SESSION:
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, NULL, body);
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, bearer(unknown), body);
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, bearer("short"), body);
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, "Basic dXNlcjpwYXNz", body);
			/* a subscriber's token, a signed request: not a session */
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, bearer(e->tokens[0]), body);
			REFUSE(e, 401, "no_session", r->method, r->role, r->path, vno_signed, body);
			break;
		case A_SUBSCRIBER: {
			bool sho1 = !strcmp(r->role, "sho.sho1");
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, NULL, body);
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, bearer(unknown), body);
			/* the other SHO's subscriber (EVAL-6), a device's session, a server */
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, bearer(e->tokens[sho1 ? 1 : 0]),
			       body);
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, bearer(w->a.session), body);
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, vno_signed, body);
			break;
		}
		case A_SIGNED:
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, NULL, body);
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, bearer(unknown), body);
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, "OMC-JWT x", body);
			/* a device's session is no server (the CCIF's reports take
			 * bearers, but of subscribers only) */
			REFUSE(e, 401, "unauthenticated", r->method, r->role, r->path, bearer(w->a.session), body);
			break;
		}
		omc_free(vno_signed);
	}
}

/* Signed requests (server to server): a caller the route does not allow
 * (e.g. sho1 at the AuC, which serves only the VNO), a signature that does
 * not verify, a request too old or from the future, a body, path or method
 * changed after signing, and the same request twice (SEC-13, SEC-9). */
static void test_signed_routes_refuse_strangers_replays_and_alterations(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		const route *r = &routes[i];
		if (r->auth != A_SIGNED)
			continue;
		const char *body = r->bad[0];
		char *a = sign_auth(e, r->stranger, r->method, r->path, body, 0);
		REFUSE(e, 401, "bad_signature", r->method, r->role, r->path, a, body);
		omc_free(a);
		/* the route's own caller, with its signature's last bytes changed */
		a = sign_auth(e, r->caller, r->method, r->path, body, 0);
		size_t n = strlen(a);
		a[n - 10] = a[n - 10] == 'A' ? 'B' : 'A';
		REFUSE(e, 401, "bad_signature", r->method, r->role, r->path, a, body);
		omc_free(a);
		REFUSE(e, 401, "bad_signature", r->method, r->role, r->path, "OMC-JWS not.a.jws", body);
		a = sign_auth(e, r->caller, r->method, r->path, body, -1000);
		REFUSE(e, 401, "stale_request", r->method, r->role, r->path, a, body);
		omc_free(a);
		a = sign_auth(e, r->caller, r->method, r->path, body, +1000);
		REFUSE(e, 401, "stale_request", r->method, r->role, r->path, a, body);
		omc_free(a);
		/* the body changed after signing */
		a = sign_auth(e, r->caller, r->method, r->path, body, 0);
		REFUSE(e, 401, "bad_request_signature", r->method, r->role, r->path, a, r->bad[1]);
		REFUSE(e, 401, "bad_request_signature", r->method, r->role, r->path, a, "");
		omc_free(a);
		/* signed for another path, another method */
		a = sign_auth(e, r->caller, r->method, "/v1/other", body, 0);
		REFUSE(e, 401, "bad_request_signature", r->method, r->role, r->path, a, body);
		omc_free(a);
		a = sign_auth(e, r->caller, "PUT", r->path, body, 0);
		REFUSE(e, 401, "bad_request_signature", r->method, r->role, r->path, a, body);
		omc_free(a);
		/* The same Authorization and body twice: the first gets as far as
		 * the body (400), the second is a replay. */
		a = sign_auth(e, r->caller, r->method, r->path, body, 0);
		REFUSE(e, 400, "bad_request", r->method, r->role, r->path, a, body);
		REFUSE(e, 401, "replayed_request", r->method, r->role, r->path, a, body);
		omc_free(a);
	}
}

/* Bodies that are not one JSON object: 400 bad_json, nothing changed. */
static void test_every_body_refuses_malformed_json(void **state)
{
	world *w = *state;
	static const char *const junk[] = {
		"",
		"{",
		"{\"imsi\":",
		"[]",
		"[{\"imsi\":\"" IMSI "\"}]",
		"\"" IMSI "\"",
		"42",
		"null",
		"{\"a\":1,\"a\":2}",      /* a duplicate member */
		"{\"a\":\"x\\u0000y\"}",  /* NUL in a string */
		"{\"a\":1} {\"b\":2}",    /* trailing data */
		"{'a':1}",
		"{\"a\":1,}",
		"\xff\xfe{\"a\":1}",     /* not UTF-8 */
		"{\"a\":\"\xc3\x28\"}",  /* not UTF-8 inside a string */
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		const route *r = &routes[i];
		if (!r->bad[0])
			continue;
		for (size_t j = 0; j < OMC_ARRAY_LEN(junk); j++) {
			char *owned = NULL;
			const char *auth = auth_of(w, r, junk[j], &owned);
			REFUSE(&w->e, 400, "bad_json", r->method, r->role, r->path, auth, junk[j]);
			omc_free(owned);
		}
	}
}

/* Members missing, of the wrong type or out of bounds: 400 bad_request. */
static void test_every_body_refuses_wrong_member_types(void **state)
{
	world *w = *state;
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		const route *r = &routes[i];
		for (size_t j = 0; j < 3 && r->bad[j]; j++) {
			char *owned = NULL;
			const char *auth = auth_of(w, r, r->bad[j], &owned);
			REFUSE(&w->e, 400, "bad_request", r->method, r->role, r->path, auth, r->bad[j]);
			omc_free(owned);
		}
	}
}

/* A body over 1 MiB: 413 too_large from every route of every listener
 * before any handler runs; exactly 1 MiB still reaches the handler. */
static void test_every_route_refuses_oversized_bodies(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	size_t n = OMC_HTTP_BODY_MAX + 1;
	char *big = omc_alloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = 0;
	omc_server *s = e->srv;
	for (size_t i = 0; i < s->n_ls; i++) {
		const srv_listener *l = &s->ls[i];
		for (size_t j = 0; j < l->n_routes; j++)
			REFUSE(e, 413, "too_large", l->routes[j].method, l->name, l->routes[j].path, NULL, big);
		REFUSE(e, 413, "too_large", "GET", l->name, "/healthz", NULL, big);
	}
	/* with valid credentials too */
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		char *owned = NULL;
		const char *auth = auth_of(w, &routes[i], big, &owned);
		REFUSE(e, 413, "too_large", routes[i].method, routes[i].role, routes[i].path, auth, big);
		omc_free(owned);
	}
	/* the bound itself is allowed: {} padded to exactly 1 MiB */
	big[n - 2] = '}';
	big[n - 1] = 0;
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach", NULL, big);
	omc_free(big);
}

/* JSON nested deeper than jansson's bound (JSON_PARSER_MAX_DEPTH, 2048
 * levels counting the body's own object): 400 bad_json from every route
 * with a body, nothing changed, no stack used up, whether it is 100 000
 * unclosed brackets, 100 000 closed ones (otherwise valid JSON), or
 * objects in objects. 2049 levels are refused as too deep; 2048 are read,
 * and the route goes on to its own refusal of the body's other member. */
static char *nested(const char *rest, size_t depth, bool close, bool objects)
{
	size_t n = 16 + 6 * depth + strlen(rest);
	char *b = omc_alloc(n);
	assert_non_null(b);
	size_t l = 0;
	memcpy(b + l, "{\"deep\":", 8);
	l += 8;
	for (size_t i = 1; i < depth; i++) {
		if (objects) {
			memcpy(b + l, "{\"a\":", 5);
			l += 5;
		} else
			b[l++] = '[';
	}
	if (objects)
		b[l++] = '1';
	for (size_t i = 1; close && i < depth; i++)
		b[l++] = objects ? '}' : ']';
	if (close && rest[0] == '{' && rest[1] != '}') {
		b[l++] = ',';
		memcpy(b + l, rest + 1, strlen(rest)); /* the rest of the object, NUL included */
	} else {
		memcpy(b + l, "}", 2);
	}
	return b;
}

static void test_every_body_refuses_deeply_nested_json(void **state)
{
	world *w = *state;
	for (size_t i = 0; i < OMC_ARRAY_LEN(routes); i++) {
		const route *r = &routes[i];
		if (!r->bad[0])
			continue;
		char *body[] = {
			nested(r->bad[0], 100000, false, false), nested(r->bad[0], 100000, true, false),
			nested(r->bad[0], 50000, true, true),    nested(r->bad[0], 2049, true, false),
			nested(r->bad[0], 2049, true, true),
		};
		for (size_t j = 0; j < OMC_ARRAY_LEN(body); j++) {
			char *owned = NULL;
			const char *auth = auth_of(w, r, body[j], &owned);
			REFUSE(&w->e, 400, "bad_json", r->method, r->role, r->path, auth, body[j]);
			omc_free(owned);
			omc_free(body[j]);
		}
		/* at the bound: read, and refused for its other member like bad[0] alone */
		char *at = nested(r->bad[0], 2048, true, false);
		char *owned = NULL;
		const char *auth = auth_of(w, r, at, &owned);
		REFUSE(&w->e, 400, "bad_request", r->method, r->role, r->path, auth, at);
		omc_free(owned);
		omc_free(at);
	}
}

/* --- the roles, one by one ---------------------------------------------------------------- */

/* AuC (NET-1, SEC-13): vectors and resync for the VNO only, and for the
 * operator's own subscribers only. */
static void test_auc(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char b[160];
	/* happy: a batch of 2, both recorded (SEC-13) */
	long avs = sf_db_count(e, "SELECT count(*) FROM auc_av_log");
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"n\":2}", w->a.mcim_imsi);
	json_t *o = SIGNED_OK(e, 200, "vno", "POST", "auc.sho1", "/v1/vectors", b);
	assert_int_equal(json_array_size(json_object_get(o, "vectors")), 2);
	assert_false(json_is_true(json_object_get(o, "provisional")));
	json_decref(o);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM auc_av_log"), avs + 2);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", w->b.pcid_imsi);
	o = SIGNED_OK(e, 200, "vno", "POST", "auc.ico", "/v1/vectors", b);
	assert_true(json_is_true(json_object_get(o, "provisional")));
	json_decref(o);
	/* unknown subscribers; another operator's subscriber is unknown here */
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.ico", "/v1/vectors", "{\"imsi\":\"001019999999999\"}");
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.sho1", "/v1/vectors", b);
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.sho2", "/v1/vectors", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", w->a.mcim_imsi);
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.ico", "/v1/vectors", b);
	/* malformed members */
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", "{\"imsi\":\"00101abcdefghij\"}");
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", "{\"imsi\":\"00101\"}");
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"n\":0}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"n\":33}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"amf\":\"zzzz\"}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"amf\":\"80\"}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/vectors", b);
	/* resync: unknown subscriber, an AUTS that is not the subscriber's
	 * (MAC-S fails: nothing moves), malformed members */
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.ico", "/v1/resync",
		      "{\"imsi\":\"001019999999999\",\"rand\":\"" HEX16 "\",\"auts\":\"" HEX14 "\"}");
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"rand\":\"" HEX16 "\",\"auts\":\"" HEX14 "\"}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 404, "unknown_subscriber", "vno", "POST", "auc.sho1", "/v1/resync", b);
	REFUSE_SIGNED(e, 403, "bad_auts", "vno", "POST", "auc.ico", "/v1/resync", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"rand\":\"" HEX16 "\",\"auts\":\"zz000000000000000000000000zz\"}",
		 w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/resync", b);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\",\"rand\":\"00\",\"auts\":\"" HEX14 "\"}", w->b.pcid_imsi);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/resync", b);
	REFUSE_SIGNED(e, 400, "bad_request", "vno", "POST", "auc.ico", "/v1/resync",
		      "{\"imsi\":\"00101abc\",\"rand\":\"" HEX16 "\",\"auts\":\"" HEX14 "\"}");
}

/* CCIF (CCIF-1, CCIF-2): PCIDs generated for the M2MES; reports from the
 * M2MES or relayed by a subscriber. */
static void test_ccif(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	/* happy, mode "ccif": two TUAK PCIDs, each sealed to the M2MES */
	long pcids = sf_db_count(e, "SELECT count(*) FROM ccif_pcid");
	json_t *o = SIGNED_OK(e, 201, "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":2,\"alg\":\"tuak\"}");
	assert_int_equal(json_array_size(json_object_get(o, "pcids")), 2);
	json_decref(o);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM ccif_pcid"), pcids + 2);
	/* happy, mode "subscriber": a report relayed with a subscriber's token */
	sf_dev c;
	sf_dev_make(e, &c, NULL);
	char *rb = body1("report", c.report);
	o = CALL_OK(e, 201, "POST", "ccif", "/v1/reports", bearer(e->tokens[1]), rb);
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "subscriber");
	json_decref(o);
	/* the same report again, either way */
	REFUSE(e, 409, "exists", "POST", "ccif", "/v1/reports", bearer(e->tokens[0]), rb);
	REFUSE_SIGNED(e, 409, "exists", "m2mes", "POST", "ccif", "/v1/reports", rb);
	omc_free(rb);
	rb = body1("report", w->a.report);
	REFUSE_SIGNED(e, 409, "exists", "m2mes", "POST", "ccif", "/v1/reports", rb);
	omc_free(rb);
	/* a report that is not a JWE to the ICO */
	REFUSE_SIGNED(e, 403, "bad_report", "m2mes", "POST", "ccif", "/v1/reports", "{\"report\":\"" A20 A20 "\"}");
	char unknown[48];
	assert_int_equal(srv_token_new(unknown), OMC_OK);
	REFUSE(e, 401, "unauthenticated", "POST", "ccif", "/v1/reports", bearer(unknown), "{\"report\":\"" A20 "\"}");
	/* a PCID outside the ICO's IMSI range (here: sho1's) */
	sf_dev r;
	sf_dev_make(e, &r, "{\"imsi\":\"001029000000001\",\"k\":\"00112233445566778899aabbccddeeff\","
			   "\"opc\":\"ffeeddccbbaa99887766554433221100\"}");
	rb = body1("report", r.report);
	REFUSE_SIGNED(e, 403, "wrong_range", "m2mes", "POST", "ccif", "/v1/reports", rb);
	omc_free(rb);
	sf_dev_free(&r);
	/* bounds of the generator */
	REFUSE_SIGNED(e, 400, "bad_request", "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":101}");
	REFUSE_SIGNED(e, 400, "bad_request", "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":-1}");
	REFUSE_SIGNED(e, 400, "bad_request", "m2mes", "POST", "ccif", "/v1/pcids", "{\"alg\":\"sha1\"}");
	REFUSE_SIGNED(e, 400, "bad_request", "m2mes", "POST", "ccif", "/v1/pcids", "{\"alg\":\"\"}");
	sf_dev_free(&c);
}

/* VNO (NET-1, NET-3, SEC-7): attach by IMSI, AKA, the session's scope. */
static void test_vno(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char b[256], id[64];
	REFUSE(e, 404, "unknown_network", "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"999990000000001\"}");
	/* the home AuC's refusal is passed on */
	REFUSE(e, 404, "unknown_subscriber", "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"001019999999999\"}");
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"00101\"}");
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach", NULL, "{\"imsi\":\"00101abc9\"}");
	REFUSE(e, 404, "unknown_attach", "POST", "vno", "/v1/attach/complete", NULL,
	       "{\"attach\":\"" A20 "\",\"res\":\"0011223344556677\"}");
	REFUSE(e, 404, "unknown_attach", "POST", "vno", "/v1/attach/resync", NULL,
	       "{\"attach\":\"" A20 "\",\"auts\":\"" HEX14 "\"}");
	/* RES mismatch: 401, the challenge used up (one answer per challenge),
	 * no session; the right answer afterwards finds no challenge. */
	sf_challenge(e, w->b.pcid_imsi, id, NULL, NULL);
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"res\":\"0011223344556677\"}", id);
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach/complete", NULL,
	       "{\"attach\":\"" A20 "\",\"res\":\"zz11223344556677\"}");
	long sessions = sf_db_count(e, "SELECT count(*) FROM vno_session");
	REFUSE_SPENDING(e, "vno_attach vno_link", 401, "auth_failed", "POST", "vno", "/v1/attach/complete", NULL, b);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM vno_session"), sessions);
	REFUSE(e, 404, "unknown_attach", "POST", "vno", "/v1/attach/complete", NULL, b);
	/* a malformed AUTS leaves the challenge alone */
	sf_challenge(e, w->b.pcid_imsi, id, NULL, NULL);
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"auts\":\"zz000000000000000000000000zz\"}", id);
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach/resync", NULL, b);
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"auts\":\"0000000000000000000000000000000\"}", id);
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/attach/resync", NULL, b);
	/* an AUTS that is not the subscriber's: the AuC's 403, the challenge used up */
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"auts\":\"" HEX14 "\"}", id);
	REFUSE_SPENDING(e, "vno_attach vno_link", 403, "bad_auts", "POST", "vno", "/v1/attach/resync", NULL, b);
	REFUSE(e, 404, "unknown_attach", "POST", "vno", "/v1/attach/resync", NULL, b);
	/* a challenge older than 5 minutes: gone (used up), 404 */
	sf_challenge(e, w->b.pcid_imsi, id, NULL, NULL);
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"res\":\"0011223344556677\"}", id);
	e->now_offset = 301;
	REFUSE_SPENDING(e, "vno_attach", 404, "unknown_attach", "POST", "vno", "/v1/attach/complete", NULL, b);
	/* the home AuC's refusals passed on: a PCID past its lifetime
	 * (CCIF-1), a disabled subscriber */
	e->now_offset = 366 * 86400;
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", w->b.pcid_imsi);
	REFUSE(e, 403, "expired", "POST", "vno", "/v1/attach", NULL, b);
	e->now_offset = 0;
	/* SEC-11: a session of a fresh attach refuses a frame that is not
	 * base64url, one that is not a frame, one whose MAC is wrong (each
	 * audited, nothing counted). */
	assert_int_equal(sf_attach(e, &w->a, w->a.mcim_id), 200);
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/link", bearer(w->a.session),
	       "{\"frame\":\"AQAAAAAAAAAAAAAAAAA=\"}");
	REFUSE(e, 400, "bad_frame", "POST", "vno", "/v1/link", bearer(w->a.session),
	       "{\"frame\":\"AgAAAAAAAAAAAAAAAAAA\"}");
	REFUSE(e, 401, "bad_mac", "POST", "vno", "/v1/link", bearer(w->a.session), "{\"frame\":\"AQAAAAAAAAAAAAAA\"}");
	char sql[160];
	snprintf(sql, sizeof sql, "UPDATE auc_subscriber SET enabled = 0 WHERE imsi = '%s'", w->a.mcim_imsi);
	db_poke(e, sql);
	snprintf(b, sizeof b, "{\"imsi\":\"%s\"}", w->a.mcim_imsi);
	REFUSE(e, 403, "disabled", "POST", "vno", "/v1/attach", NULL, b);
	/* db_poke restarted the server: the link keys are in the database
	 * (vno_link), so the session's link is still there (SEC-11). */
	REFUSE(e, 401, "bad_mac", "POST", "vno", "/v1/link", bearer(w->a.session), "{\"frame\":\"AQAAAAAAAAAAAAAA\"}");
	/* a PCID's session reaches the provisioning services only (NET-1) */
	REFUSE(e, 403, "provisioning_only", "POST", "vno", "/v1/data", bearer(w->b.session), "{\"bytes\":1}");
	REFUSE(e, 403, "provisioning_only", "POST", "vno", "/v1/sms", bearer(w->b.session), "{}");
	REFUSE(e, 403, "provisioning_only", "POST", "vno", "/v1/link", bearer(w->b.session),
	       "{\"frame\":\"AQAAAAAAAAAAAAAAAAAA\"}");
	json_t *o = CALL_OK(e, 200, "GET", "vno", "/v1/session", bearer(w->b.session), NULL);
	assert_string_equal(json_string_value(json_object_get(o, "scope")), "provisioning");
	json_decref(o);
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/data", bearer(w->a.session), "{\"bytes\":-5}");
	REFUSE(e, 400, "bad_request", "POST", "vno", "/v1/data", bearer(w->a.session), "{\"bytes\":2199023255553}");
	/* an expired session */
	w->e.now_offset = 86400 + 10;
	REFUSE(e, 401, "session_expired", "GET", "vno", "/v1/session", bearer(w->a.session), NULL);
	REFUSE(e, 401, "session_expired", "POST", "pva", "/v1/nonce", bearer(w->b.session), "{}");
	w->e.now_offset = 0;
}

/* The VNO resynchronisation's happy path (NET-3, TS 33.102 6.3.5): a
 * challenge answered late, after the TRE saw a higher SEQ in its IND slot,
 * fails with AUTS; the VNO passes it to the AuC. */
static void test_vno_resync(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char id[64];
	uint8_t rand[16], autn[16];
	sf_challenge(e, w->b.pcid_imsi, id, rand, autn);
	static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
	omc_aka_check_result r;
	for (int i = 0; i < 40; i++) {
		assert_int_equal(sf_attach(e, &w->b, NULL), 200);
	}
	assert_int_equal(omc_tre_aka(w->b.t, &agent, "pcid", rand, autn, 16, &r), OMC_OK);
	if (r.status != OMC_AKA_STATUS_SYNC_FAILURE)
		fail_msg("the late challenge did not fail with AUTS (status %d)", (int)r.status);
	char hex[80], b[200];
	assert_int_equal(omc_hex_encode(hex, sizeof hex, r.auts, r.auts_len), OMC_OK);
	snprintf(b, sizeof b, "{\"attach\":\"%s\",\"auts\":\"%s\"}", id, hex);
	json_t *o = CALL_OK(e, 200, "POST", "vno", "/v1/attach/resync", NULL, b);
	assert_true(json_is_boolean(json_object_get(o, "moved")));
	json_decref(o);
	assert_int_equal(sf_attach(e, &w->b, NULL), 200);
}

/* SEC-7: the service profile (sho2: data only, 1 MiB) refused without a change. */
static void test_vno_profile(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	sf_dev c;
	sf_dev_make(e, &c, NULL);
	char *receipt = NULL;
	provision(e, &c, 2, &receipt);
	omc_free(receipt);
	REFUSE(e, 403, "data_only", "POST", "vno", "/v1/sms", bearer(c.session), "{}");
	json_decref(CALL_OK(e, 200, "POST", "vno", "/v1/data", bearer(c.session), "{\"bytes\":1048000}"));
	REFUSE(e, 403, "volume_cap", "POST", "vno", "/v1/data", bearer(c.session), "{\"bytes\":577}");
	json_decref(CALL_OK(e, 200, "POST", "vno", "/v1/data", bearer(c.session), "{\"bytes\":576}"));
	REFUSE(e, 403, "volume_cap", "POST", "vno", "/v1/data", bearer(c.session), "{\"bytes\":1}");
	json_decref(CALL_OK(e, 200, "POST", "vno", "/v1/sms", bearer(w->a.session), "{}"));
	sf_dev_free(&c);
}

/* NET-4: the bootstrap answer names the provisioning endpoints. */
static void test_bootstrap(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	json_t *o = CALL_OK(e, 200, "GET", "bootstrap", "/v1/bootstrap", bearer(w->b.session), NULL);
	assert_string_equal(json_string_value(json_object_get(o, "drf")), sf_url(e, "drf"));
	assert_string_equal(json_string_value(json_object_get(o, "pva")), sf_url(e, "pva"));
	assert_string_equal(json_string_value(json_object_get(o, "dpf")), sf_url(e, "dpf"));
	assert_non_null(json_string_value(json_object_get(o, "bootstrap")));
	json_decref(o);
}

/* DRF (SVC-1, TRE-6, EVAL-3): SHOs assign devices; devices register with
 * their PCID session and a TRE signature. */
static void test_drf(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char *b = body1("platform_id", w->a.platform_id);
	/* another SHO's device */
	REFUSE_SIGNED(e, 409, "assigned_elsewhere", "sho2", "POST", "drf", "/v1/devices", b);
	/* its own SHO again: 200, nothing changes */
	expect_signed(e, __LINE__, 200, "", "sho1", "POST", "drf", "/v1/devices", b, NULL);
	omc_free(b);
	REFUSE_SIGNED(e, 400, "bad_request", "sho1", "POST", "drf", "/v1/devices",
		      "{\"platform_id\":\"plat-0123456789ABCDEF\"}");
	REFUSE_SIGNED(e, 400, "bad_request", "sho1", "POST", "drf", "/v1/devices",
		      "{\"platform_id\":\"tre--0123456789abcdef\"}");
	REFUSE_SIGNED(e, 400, "bad_request", "sho1", "POST", "drf", "/v1/devices", "{\"platform_id\":\"plat-0123\"}");
	/* registration: the operational session is not the PCID's */
	int64_t t = (int64_t)time(NULL);
	uint8_t nonce[32];
	assert_int_equal(omc_drf_nonce(nonce, w->b.pcid_imsi, t), OMC_OK);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(w->b.t, nonce, 32, &ev), OMC_OK);
	json_t *j = json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)t);
	char *good = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	REFUSE(e, 403, "not_pcid", "POST", "drf", "/v1/register", bearer(w->a.session), good);
	/* a time too far off the DRF's clock */
	e->now_offset = 310;
	REFUSE(e, 403, "stale", "POST", "drf", "/v1/register", bearer(w->b.session), good);
	e->now_offset = -310;
	REFUSE(e, 403, "stale", "POST", "drf", "/v1/register", bearer(w->b.session), good);
	e->now_offset = 0;
	/* evidence that is not a TRE's signature, or over another time, or
	 * another device's PCID */
	char junk[96];
	snprintf(junk, sizeof junk, "{\"evidence\":\"" A20 "\",\"time\":%lld}", (long long)t);
	REFUSE(e, 403, "bad_signature", "POST", "drf", "/v1/register", bearer(w->b.session), junk);
	snprintf(junk, sizeof junk, "{\"evidence\":\"" A20 "\",\"time\":1}");
	REFUSE(e, 403, "stale", "POST", "drf", "/v1/register", bearer(w->b.session), junk);
	j = json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)(t + 1));
	char *other = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	REFUSE(e, 403, "bad_signature", "POST", "drf", "/v1/register", bearer(w->b.session), other);
	omc_free(other);
	omc_free(ev);
	assert_int_equal(omc_drf_nonce(nonce, w->a.pcid_imsi, t), OMC_OK);
	assert_int_equal(omc_tre_attest(w->b.t, nonce, 32, &ev), OMC_OK);
	j = json_pack("{s:s,s:I}", "evidence", ev, "time", (json_int_t)t);
	other = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	REFUSE(e, 403, "bad_signature", "POST", "drf", "/v1/register", bearer(w->b.session), other);
	omc_free(other);
	omc_free(ev);
	/* a device no SHO has registered: 202 pending, and no assignment made (EVAL-3) */
	json_t *o = CALL_OK(e, 202, "POST", "drf", "/v1/register", bearer(w->b.session), good);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
	json_decref(o);
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM drf_device WHERE platform_id = '%s'", w->b.platform_id);
	assert_int_equal(sf_db_count(e, sql), 0);
	omc_free(good);
}

/* PVA (SEC-8, TRE-7, EVAL-1): single-use nonces of this PVA, for this
 * session; evidence that verifies. */
static void test_pva(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	sf_dev *d = &w->b;
	/* happy, then the same evidence again: 409 nonce_used, nothing changed */
	assert_int_equal(sf_validate(e, d), 200);
	char *vb = body1("evidence", d->evidence);
	REFUSE(e, 409, "nonce_used", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	omc_free(vb);
	/* evidence over a nonce this PVA never gave */
	uint8_t n[64];
	size_t nl = 0;
	char nb[96];
	char *ev = NULL;
	tl_rand(n, 32);
	assert_int_equal(omc_tre_session_begin(d->t, n, 32, &ev), OMC_OK);
	vb = body1("evidence", ev);
	REFUSE(e, 403, "unknown_nonce", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	omc_free(vb);
	omc_free(ev);
	/* a nonce given to another session: refused, and not spent */
	pva_nonce(e, d, n, &nl, nb);
	assert_int_equal(omc_tre_session_begin(d->t, n, nl, &ev), OMC_OK);
	vb = body1("evidence", ev);
	REFUSE(e, 403, "unknown_nonce", "POST", "pva", "/v1/validate", bearer(w->a.session), vb);
	assert_int_equal(nonce_used(e, nb), 0);
	json_decref(CALL_OK(e, 200, "POST", "pva", "/v1/validate", bearer(d->session), vb));
	assert_int_equal(nonce_used(e, nb), 1);
	omc_free(vb);
	omc_free(ev);
	/* no nonce to be read in it */
	REFUSE(e, 400, "bad_format", "POST", "pva", "/v1/validate", bearer(d->session), "{\"evidence\":\"" A20 "\"}");
	REFUSE(e, 400, "bad_format", "POST", "pva", "/v1/validate", bearer(d->session),
	       "{\"evidence\":\"eyJhIjoxfQ.eyJhIjoxfQ.AAAA\"}");
	/* a signature that does not verify: refused, the nonce spent (single use) */
	pva_nonce(e, d, n, &nl, nb);
	assert_int_equal(omc_tre_session_begin(d->t, n, nl, &ev), OMC_OK);
	size_t len = strlen(ev);
	ev[len - 10] = ev[len - 10] == 'A' ? 'B' : 'A';
	vb = body1("evidence", ev);
	REFUSE_SPENDING(e, "pva_nonce", 403, "bad_signature", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	assert_int_equal(nonce_used(e, nb), 1);
	REFUSE(e, 409, "nonce_used", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	omc_free(vb);
	omc_free(ev);
	/* an expired nonce: refused, spent */
	pva_nonce(e, d, n, &nl, nb);
	assert_int_equal(omc_tre_session_begin(d->t, n, nl, &ev), OMC_OK);
	vb = body1("evidence", ev);
	e->now_offset = 121;
	REFUSE_SPENDING(e, "pva_nonce", 403, "nonce_expired", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	e->now_offset = 0;
	assert_int_equal(nonce_used(e, nb), 1);
	REFUSE(e, 409, "nonce_used", "POST", "pva", "/v1/validate", bearer(d->session), vb);
	omc_free(vb);
	omc_free(ev);
}

/* Evidence of d over a fresh nonce of the PVA, validated: the refusal,
 * with the nonce spent and nothing else changed. attest: without a
 * provisioning session (no session key). */
static void pva_refuses(sf_env *e, int line, sf_dev *d, bool attest, int st, const char *code)
{
	uint8_t n[64];
	size_t nl = 0;
	char nb[96], *ev = NULL;
	pva_nonce(e, d, n, &nl, nb);
	if (attest)
		assert_int_equal(omc_tre_attest(d->t, n, nl, &ev), OMC_OK);
	else
		assert_int_equal(omc_tre_session_begin(d->t, n, nl, &ev), OMC_OK);
	char *vb = body1("evidence", ev);
	expect(e, line, st, code, "pva_nonce", "POST", "pva", "/v1/validate", bearer(d->session), vb, NULL);
	assert_int_equal(nonce_used(e, nb), 1);
	omc_free(vb);
	omc_free(ev);
}

/* The PVA's policy (SEC-8, EVAL-1, TRE-7): counters that went down,
 * measurements without a reference, no session key, lockdown. Each
 * refusal spends its nonce and changes nothing else. */
static void test_pva_policy(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	sf_dev *d = &w->b;
	assert_int_equal(sf_validate(e, d), 200);
	char sql[192];
	snprintf(sql, sizeof sql, "UPDATE pva_device SET boot_count = boot_count + 100 WHERE tre_id = '%s'", d->tre_id);
	db_poke(e, sql);
	pva_refuses(e, __LINE__, d, false, 403, "boot_count_decreased");
	snprintf(sql, sizeof sql, "UPDATE pva_device SET boot_count = 0, generation = generation + 100 WHERE tre_id = '%s'",
		 d->tre_id);
	db_poke(e, sql);
	pva_refuses(e, __LINE__, d, false, 403, "generation_decreased");
	/* evidence without a session key (a device that opened no session) */
	sf_dev c;
	sf_dev_make(e, &c, NULL);
	assert_int_equal(sf_report_pcid(e, &c), 201);
	assert_int_equal(sf_attach(e, &c, NULL), 200);
	pva_refuses(e, __LINE__, &c, true, 403, "no_session_key");
	sf_dev_free(&c);
	db_poke(e, "UPDATE pva_reference SET digest = '0000000000000000000000000000000000000000000000000000000000000000'");
	pva_refuses(e, __LINE__, d, false, 403, "measurement_mismatch");
	db_poke(e, "DELETE FROM pva_reference");
	pva_refuses(e, __LINE__, d, false, 403, "no_reference");
	assert_int_equal(omc_tre_tamper(d->t, "test: case opened"), OMC_OK);
	pva_refuses(e, __LINE__, d, true, 403, "lockdown");
}

/* DPF (SEC-9, SEC-8, MGT-1): a download only on a fresh token of a
 * trusted PVA, for the evidence it validated, for a device an SHO took. */
static void test_dpf_download(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	/* a's token was used for its download */
	char *db = body2("token", w->a.token, "evidence", w->a.evidence);
	REFUSE(e, 409, "token_replayed", "POST", "dpf", "/v1/download", bearer(w->a.session), db);
	REFUSE(e, 409, "token_replayed", "POST", "dpf", "/v1/download", bearer(w->b.session), db);
	omc_free(db);
	REFUSE(e, 403, "bad_token", "POST", "dpf", "/v1/download", bearer(w->b.session),
	       "{\"token\":\"" A20 "\",\"evidence\":\"" A20 "\"}");
	/* b validated; evidence of another session of the same TRE */
	sf_dev *d = &w->b;
	assert_int_equal(sf_validate(e, d), 200);
	uint8_t n[16];
	tl_rand(n, sizeof n);
	char *ev2 = NULL;
	assert_int_equal(omc_tre_session_begin(d->t, n, sizeof n, &ev2), OMC_OK);
	db = body2("token", d->token, "evidence", ev2);
	REFUSE(e, 403, "evidence_mismatch", "POST", "dpf", "/v1/download", bearer(d->session), db);
	omc_free(db);
	db = body2("token", d->token, "evidence", w->a.evidence);
	REFUSE(e, 403, "evidence_mismatch", "POST", "dpf", "/v1/download", bearer(d->session), db);
	omc_free(db);
	omc_free(ev2);
	/* a token not made by a trusted PVA (signed by an SHO), and one by the
	 * PVA's key but without its claims */
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "iss", "sho1", "tre", d->tre_id, "platform_id",
			      d->platform_id, "nonce", "AAAAAAAAAAAAAAAAAAAAAA", "jti", "forged-jti-000000", "exp",
			      (json_int_t)time(NULL) + 600, "evidence_sha256",
			      "0000000000000000000000000000000000000000000000000000000000000000");
	char *forged = sign_obj(e, "sho1", "omc-validation+jwt", p);
	db = body2("token", forged, "evidence", d->evidence);
	REFUSE(e, 403, "bad_token", "POST", "dpf", "/v1/download", bearer(d->session), db);
	omc_free(db);
	omc_free(forged);
	forged = sign_obj(e, "pva", "omc-validation+jwt", json_pack("{s:s}", "iss", "pva"));
	db = body2("token", forged, "evidence", d->evidence);
	REFUSE(e, 403, "bad_token", "POST", "dpf", "/v1/download", bearer(d->session), db);
	omc_free(db);
	omc_free(forged);
	/* the right token and evidence, but no SHO has the device (EVAL-3) */
	db = body2("token", d->token, "evidence", d->evidence);
	REFUSE(e, 409, "not_assigned", "POST", "dpf", "/v1/download", bearer(d->session), db);
	/* an expired token */
	e->now_offset = 601;
	REFUSE(e, 403, "token_expired", "POST", "dpf", "/v1/download", bearer(d->session), db);
	e->now_offset = 0;
	omc_free(db);
	/* a device holding an MCIM of its SHO already: the SHO's 409 passed on */
	assert_int_equal(sf_validate(e, &w->a), 200);
	db = body2("token", w->a.token, "evidence", w->a.evidence);
	REFUSE(e, 409, "installed", "POST", "dpf", "/v1/download", bearer(w->a.session), db);
	omc_free(db);
	/* receipts that are no TRE's: garbage, another object of the TRE */
	REFUSE(e, 403, "bad_signature", "POST", "dpf", "/v1/receipts", bearer(w->a.session),
	       "{\"receipt\":\"" A20 "\"}");
	char *rb = body1("receipt", w->a.evidence);
	REFUSE(e, 403, "bad_signature", "POST", "dpf", "/v1/receipts", bearer(w->a.session), rb);
	omc_free(rb);
}

typedef struct racer {
	char url[256];
	const char *auth, *body;
	pthread_barrier_t *go;
	int status;
	char code[48];
} racer;

/* One request on its own client, released with the others at once. */
static void *race(void *arg)
{
	racer *r = arg;
	omc_http_client *c = NULL;
	omc_http_client_opts o = {.timeout_ms = 20000};
	bool ok = omc_http_client_new(&c, &o) == OMC_OK;
	pthread_barrier_wait(r->go);
	char *resp = NULL;
	size_t rl = 0;
	if (ok && omc_http_call_auth(c, "POST", r->url, r->auth, r->body, strlen(r->body), &r->status, &resp, &rl) ==
			  OMC_OK) {
		json_error_t je;
		json_t *j = json_loadb(resp, rl, 0, &je);
		snprintf(r->code, sizeof r->code, "%s", sf_code(j));
		json_decref(j);
	}
	omc_free(resp);
	omc_http_client_free(c);
	return NULL;
}

/* Device d subscribed with sho1, registered and validated: a token to
 * download with. */
static void validated(sf_env *e, sf_dev *d)
{
	assert_int_equal(sf_subscribe(e, d, 1), 201);
	json_t *r = NULL;
	assert_int_equal(sf_register(e, d, &r), 200);
	json_decref(r);
	assert_int_equal(sf_validate(e, d), 200);
}

/* SEC-9: a validation token is single use under concurrency too: of
 * downloads sent at once with one token, one succeeds and every other is
 * 409 token_replayed having changed nothing (the SHO issued once). */
static void test_dpf_token_race(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	sf_dev *d = &w->b;
	validated(e, d);
	char *db = body2("token", d->token, "evidence", d->evidence);
	long seq0 = sf_db_count(e, "SELECT value FROM counter WHERE name = 'seq.sho1'");
	long dl0 = sf_db_count(e, "SELECT count(*) FROM dpf_download");
	enum { N = 4 };
	racer rs[N];
	pthread_t th[N];
	pthread_barrier_t go;
	char auth[160];
	snprintf(auth, sizeof auth, "Bearer %s", d->session);
	assert_int_equal(pthread_barrier_init(&go, NULL, N), 0);
	for (int i = 0; i < N; i++) {
		memset(&rs[i], 0, sizeof rs[i]);
		snprintf(rs[i].url, sizeof rs[i].url, "%s/v1/download", sf_url(e, "dpf"));
		rs[i].auth = auth;
		rs[i].body = db;
		rs[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		if (rs[i].status == 200)
			ok++;
		else if (rs[i].status != 409 || strcmp(rs[i].code, "token_replayed") != 0)
			fail_msg("racer %d: %d %s, want 200 or 409 token_replayed", i, rs[i].status, rs[i].code);
	}
	assert_int_equal(ok, 1);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM dpf_download"), dl0 + 1);
	long seq1 = sf_db_count(e, "SELECT value FROM counter WHERE name = 'seq.sho1'");
	if (seq1 != seq0 + 1)
		fail_msg("the SHO issued %ld times for one token", seq1 - seq0);
	omc_free(db);
}

/* SEC-9 across replicas: the claim of a token whose download is in
 * progress is a row of dpf_claim, shared by every process on the database.
 * Another's live claim refuses (409 token_replayed, nothing changed); a
 * stale one (its process died before its package left) is taken over, and
 * the download's end drops it. */
static void test_dpf_claim_shared(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	sf_dev *d = &w->b;
	validated(e, d);
	char jti[64], sql[256];
	sf_db_text(e, jti, sizeof jti, "SELECT jti FROM pva_token WHERE tre_id = ?1 ORDER BY issued DESC", d->tre_id);
	assert_true(jti[0] != 0);
	long now = (long)time(NULL) + (long)e->now_offset;
	snprintf(sql, sizeof sql, "INSERT INTO dpf_claim (token_jti, claimed) VALUES ('%s', %ld)", jti, now);
	sf_db_exec(e, sql);
	char *db = body2("token", d->token, "evidence", d->evidence);
	REFUSE(e, 409, "token_replayed", "POST", "dpf", "/v1/download", bearer(d->session), db);
	omc_free(db);
	snprintf(sql, sizeof sql, "UPDATE dpf_claim SET claimed = %ld", now - 301);
	sf_db_exec(e, sql);
	char *receipt = NULL;
	assert_int_equal(sf_download(e, d, &receipt), 200);
	omc_free(receipt);
	assert_int_equal(sf_db_count(e, "SELECT count(*) FROM dpf_claim"), 0);
}

/* A receipt no download or MCIM matches (a state set up with the server
 * stopped): DPF 404 unknown_download, SHO 404 unknown_mcim (SEC-9, MGT-1). */
static void test_receipts_unknown(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char *rb = body1("receipt", w->receipt);
	db_poke(e, "DELETE FROM dpf_download");
	REFUSE(e, 404, "unknown_download", "POST", "dpf", "/v1/receipts", bearer(w->a.session), rb);
	db_poke(e, "UPDATE sho_mcim SET state = 'deleted'");
	REFUSE_SIGNED(e, 404, "unknown_mcim", "ro", "POST", "sho.sho1", "/v1/receipts", rb);
	omc_free(rb);
}

/* DPF commands (MGT-1, SEC-13): an issuer queues its own signed commands,
 * the device fetches them and posts the TRE's signed results, the issuer
 * reads them; nobody else. */
static void test_dpf_commands(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "iss", "sho1", "seq", (json_int_t)100, "tre", w->a.tre_id,
			      "cmd", "discover", "mcim", "", "iat", (json_int_t)time(NULL));
	char *cmd = sign_obj(e, "sho1", "omc-command+jwt", p);
	char *qb = body2("tre", w->a.tre_id, "command", cmd);
	/* happy: queued, fetched, carried out, result posted, status read */
	json_t *o = SIGNED_OK(e, 201, "sho1", "POST", "dpf", "/v1/commands", qb);
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	assert_true(id > 0);
	json_decref(o);
	o = CALL_OK(e, 200, "GET", "dpf", "/v1/commands", bearer(w->a.session), NULL);
	json_t *got = json_array_get(json_object_get(o, "commands"), 0);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), id);
	assert_string_equal(json_string_value(json_object_get(got, "command")), cmd);
	json_decref(o);
	char *result = NULL;
	bool applied = false;
	assert_int_equal(omc_tre_command(w->a.t, cmd, strlen(cmd), &result, &applied), OMC_OK);
	json_t *rj = json_pack("{s:I,s:s}", "id", id, "result", result);
	char *rb = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	json_decref(CALL_OK(e, 200, "POST", "dpf", "/v1/results", bearer(w->a.session), rb));
	char sb[64];
	snprintf(sb, sizeof sb, "{\"id\":%lld}", (long long)id);
	o = SIGNED_OK(e, 200, "sho1", "POST", "dpf", "/v1/commands/status", sb);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
	assert_string_equal(json_string_value(json_object_get(o, "result")), result);
	json_decref(o);
	/* another SHO does not read it; no such command */
	REFUSE_SIGNED(e, 404, "unknown_command", "sho2", "POST", "dpf", "/v1/commands/status", sb);
	REFUSE_SIGNED(e, 404, "unknown_command", "ro", "POST", "dpf", "/v1/commands/status", sb);
	REFUSE_SIGNED(e, 404, "unknown_command", "sho1", "POST", "dpf", "/v1/commands/status", "{\"id\":999999}");
	/* results: the same again, an unknown id, a command of another TRE,
	 * garbage, another object of the TRE */
	REFUSE(e, 404, "unknown_command", "POST", "dpf", "/v1/results", bearer(w->a.session), rb);
	omc_free(rb);
	rj = json_pack("{s:I,s:s}", "id", (json_int_t)999999, "result", result);
	rb = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	REFUSE(e, 404, "unknown_command", "POST", "dpf", "/v1/results", bearer(w->a.session), rb);
	omc_free(rb);
	char *cmd_b = sign_obj(e, "ro", "omc-command+jwt",
			       json_pack("{s:s,s:I,s:s,s:s,s:s}", "iss", "ro", "seq", (json_int_t)5, "tre", w->b.tre_id,
					 "cmd", "discover", "mcim", ""));
	char *qb_b = body2("tre", w->b.tre_id, "command", cmd_b);
	o = SIGNED_OK(e, 201, "ro", "POST", "dpf", "/v1/commands", qb_b);
	json_int_t id_b = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	rj = json_pack("{s:I,s:s}", "id", id_b, "result", result);
	rb = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	REFUSE(e, 404, "unknown_command", "POST", "dpf", "/v1/results", bearer(w->a.session), rb);
	omc_free(rb);
	REFUSE(e, 403, "bad_signature", "POST", "dpf", "/v1/results", bearer(w->a.session),
	       "{\"id\":1,\"result\":\"" A20 "\"}");
	rj = json_pack("{s:I,s:s}", "id", id_b, "result", w->receipt);
	rb = json_dumps(rj, JSON_COMPACT);
	json_decref(rj);
	REFUSE(e, 403, "bad_signature", "POST", "dpf", "/v1/results", bearer(w->a.session), rb);
	omc_free(rb);
	/* queueing: only the caller's own commands, for the TRE the body names */
	REFUSE_SIGNED(e, 403, "not_yours", "sho2", "POST", "dpf", "/v1/commands", qb);
	REFUSE_SIGNED(e, 403, "not_yours", "ro", "POST", "dpf", "/v1/commands", qb);
	char *wrong_tre = body2("tre", w->b.tre_id, "command", cmd);
	REFUSE_SIGNED(e, 403, "not_yours", "sho1", "POST", "dpf", "/v1/commands", wrong_tre);
	omc_free(wrong_tre);
	REFUSE_SIGNED(e, 403, "not_yours", "sho1", "POST", "dpf", "/v1/commands",
		      "{\"tre\":\"" TRE "\",\"command\":\"" A20 "\"}");
	omc_free(result);
	omc_free(qb_b);
	omc_free(cmd_b);
	omc_free(qb);
	omc_free(cmd);
}

/* SHO (SVC-2, EVAL-3, EVAL-6): a subscriber reaches only its own devices
 * at its own SHO; an MCIM only for a device of this SHO, to the TRE it
 * was issued to; receipts of this SHO's MCIMs only. */
static void test_sho(void **state)
{
	world *w = *state;
	sf_env *e = &w->e;
	char *pb = body1("platform_id", w->a.platform_id);
	/* sho2's subscriber registering sho1's device: the DRF's 409 passed on */
	REFUSE(e, 409, "assigned_elsewhere", "POST", "sho.sho2", "/v1/devices", bearer(e->tokens[1]), pb);
	/* sho1's subscriber again: 201, nothing changes */
	expect(e, __LINE__, 201, "", NULL, "POST", "sho.sho1", "/v1/devices", bearer(e->tokens[0]), pb, NULL);
	REFUSE(e, 400, "bad_request", "POST", "sho.sho1", "/v1/devices", bearer(e->tokens[0]),
	       "{\"platform_id\":\"plat-0123456789abcdeZ\"}");
	/* listings: sho2 does not see sho1's device */
	json_t *o = CALL_OK(e, 200, "GET", "sho.sho2", "/v1/devices", bearer(e->tokens[1]), NULL);
	assert_int_equal(json_array_size(json_object_get(o, "devices")), 0);
	json_decref(o);
	o = CALL_OK(e, 200, "GET", "sho.sho1", "/v1/devices", bearer(e->tokens[0]), NULL);
	json_t *dev = json_array_get(json_object_get(o, "devices"), 0);
	assert_string_equal(json_string_value(json_object_get(dev, "platform_id")), w->a.platform_id);
	assert_string_equal(json_string_value(json_object_get(dev, "state")), "installed");
	json_decref(o);
	/* MCIMs: sho2 for sho1's device; sho1 for a device holding one already */
	json_t *j = json_pack("{s:s,s:s,s:s}", "tre", w->a.tre_id, "platform_id", w->a.platform_id, "nonce",
			      "AAAAAAAAAAAAAAAAAAAAAA");
	char *mb = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	REFUSE_SIGNED(e, 404, "unknown_device", "ro", "POST", "sho.sho2", "/v1/mcims", mb);
	REFUSE_SIGNED(e, 409, "installed", "ro", "POST", "sho.sho1", "/v1/mcims", mb);
	omc_free(mb);
	/* a device c of sho1: issued to its TRE; another TRE is refused; the
	 * same request again gets the same MCIM (a retried download) */
	sf_dev c;
	sf_dev_make(e, &c, NULL);
	assert_int_equal(sf_subscribe(e, &c, 1), 201);
	j = json_pack("{s:s,s:s,s:s}", "tre", c.tre_id, "platform_id", c.platform_id, "nonce", "AAAAAAAAAAAAAAAAAAAAAA");
	mb = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	o = SIGNED_OK(e, 201, "ro", "POST", "sho.sho1", "/v1/mcims", mb);
	char mcim[41], imsi[16];
	snprintf(mcim, sizeof mcim, "%s", json_string_value(json_object_get(o, "mcim")));
	snprintf(imsi, sizeof imsi, "%s", json_string_value(json_object_get(o, "imsi")));
	json_decref(o);
	REFUSE_SIGNED(e, 404, "unknown_device", "ro", "POST", "sho.sho2", "/v1/mcims", mb);
	j = json_pack("{s:s,s:s,s:s}", "tre", "tre-ffffffffffffffff", "platform_id", c.platform_id, "nonce",
		      "AAAAAAAAAAAAAAAAAAAAAA");
	char *other = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	REFUSE_SIGNED(e, 409, "other_tre", "ro", "POST", "sho.sho1", "/v1/mcims", other);
	omc_free(other);
	o = SIGNED_OK(e, 201, "ro", "POST", "sho.sho1", "/v1/mcims", mb);
	assert_string_equal(json_string_value(json_object_get(o, "mcim")), mcim);
	assert_string_equal(json_string_value(json_object_get(o, "imsi")), imsi);
	json_decref(o);
	omc_free(mb);
	sf_dev_free(&c);
	/* receipts: sho2 reading sho1's; garbage; another object of the TRE */
	char *rb = body1("receipt", w->receipt);
	REFUSE_SIGNED(e, 403, "not_yours", "ro", "POST", "sho.sho2", "/v1/receipts", rb);
	omc_free(rb);
	REFUSE_SIGNED(e, 403, "bad_signature", "ro", "POST", "sho.sho1", "/v1/receipts", "{\"receipt\":\"" A20 "\"}");
	rb = body1("receipt", w->a.evidence);
	REFUSE_SIGNED(e, 403, "bad_signature", "ro", "POST", "sho.sho1", "/v1/receipts", rb);
	omc_free(rb);
	/* another subscriber of the same SHO */
	char tok[48];
	sf_stop(e);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e->db), OMC_OK);
	assert_int_equal(omc_server_subscriber_add(db, "sho1", "other", tok), OMC_OK);
	omc_db_close(db);
	sf_start(e);
	REFUSE(e, 409, "other_subscriber", "POST", "sho.sho1", "/v1/devices", bearer(tok), pb);
	REFUSE(e, 401, "unauthenticated", "POST", "sho.sho2", "/v1/devices", bearer(tok), pb);
	o = CALL_OK(e, 200, "GET", "sho.sho1", "/v1/devices", bearer(tok), NULL);
	assert_int_equal(json_array_size(json_object_get(o, "devices")), 0);
	json_decref(o);
	omc_free(pb);
}

#define WORLD_TEST(f) cmocka_unit_test_setup_teardown(f, world_setup, world_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WORLD_TEST(test_every_route_in_the_table),
		WORLD_TEST(test_every_route_refuses_missing_and_unknown_callers),
		WORLD_TEST(test_signed_routes_refuse_strangers_replays_and_alterations),
		WORLD_TEST(test_every_body_refuses_malformed_json),
		WORLD_TEST(test_every_body_refuses_wrong_member_types),
		WORLD_TEST(test_every_route_refuses_oversized_bodies),
		WORLD_TEST(test_every_body_refuses_deeply_nested_json),
		WORLD_TEST(test_auc),
		WORLD_TEST(test_ccif),
		WORLD_TEST(test_vno),
		WORLD_TEST(test_vno_resync),
		WORLD_TEST(test_vno_profile),
		WORLD_TEST(test_bootstrap),
		WORLD_TEST(test_drf),
		WORLD_TEST(test_pva),
		WORLD_TEST(test_pva_policy),
		WORLD_TEST(test_dpf_download),
		WORLD_TEST(test_dpf_token_race),
		WORLD_TEST(test_dpf_claim_shared),
		WORLD_TEST(test_receipts_unknown),
		WORLD_TEST(test_dpf_commands),
		WORLD_TEST(test_sho),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	printf("server_refusals_test: %u refusals and answers checked against the database\n", n_cases);
	return rc;
}
