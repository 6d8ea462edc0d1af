/* docs/openapi.json held to the code: the document is OpenAPI 3.1 with the
 * layout docs/server.md describes (path keys "/ROLE" + path, x-omc-role,
 * x-omc-path, the uniform error body); every route the demo server answers
 * is documented for its role with its method, and every documented
 * operation is a live route; and what the listeners answer (refusals
 * provoked on purpose, then the answers of a provisioned device) has a
 * documented status whose schema the body satisfies. */
#include "srv_fixture.h"

#include <regex.h>
#include <stdlib.h>

#ifndef OMC_DOCS_DIR
#error "OMC_DOCS_DIR: tests/CMakeLists.txt defines it"
#endif

static const char *const http_methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
#define N_METHODS (sizeof http_methods / sizeof http_methods[0])

static json_t *load_doc(void)
{
	json_error_t je;
	json_t *d = json_load_file(OMC_DOCS_DIR "/openapi.json", JSON_REJECT_DUPLICATES, &je);
	if (!d)
		fail_msg("docs/openapi.json: not JSON: line %d: %s", je.line, je.text);
	return d;
}

/* --- a small JSON Schema check: what docs/openapi.json uses ------------------------------- */

static json_t *resolve(json_t *doc, const char *ref)
{
	if (strncmp(ref, "#/", 2) != 0)
		fail_msg("docs/openapi.json: $ref %s: only local references are used", ref);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", ref + 2);
	json_t *at = doc;
	for (char *save = NULL, *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save))
		at = json_object_get(at, p);
	if (!at)
		fail_msg("docs/openapi.json: $ref %s resolves to nothing", ref);
	return at;
}

static bool type_is(const char *t, json_t *v)
{
	if (!strcmp(t, "object"))
		return json_is_object(v);
	if (!strcmp(t, "array"))
		return json_is_array(v);
	if (!strcmp(t, "string"))
		return json_is_string(v);
	if (!strcmp(t, "integer"))
		return json_is_integer(v);
	if (!strcmp(t, "number"))
		return json_is_number(v);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(t, "null"))
		return json_is_null(v);
	fail_msg("docs/openapi.json: unknown type %s", t);
	return false;
}

static bool pattern_ok(const char *pat, const char *str)
{
	regex_t re;
	if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
		fail_msg("docs/openapi.json: pattern %s is not a POSIX extended regex", pat);
	bool ok = regexec(&re, str, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* Whether v satisfies schema; if not, why (into why). */
static bool conforms(json_t *doc, json_t *schema, json_t *v, const char *at, char *why, size_t cap)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));
	if (ref && !conforms(doc, resolve(doc, ref), v, at, why, cap))
		return false;
	json_t *ty = json_object_get(schema, "type");
	if (ty) {
		bool any = false;
		size_t k;
		json_t *x;
		if (json_is_string(ty))
			any = type_is(json_string_value(ty), v);
		json_array_foreach (ty, k, x)
			any |= type_is(json_string_value(x), v);
		if (!any) {
			snprintf(why, cap, "%s: not of the documented type", at);
			return false;
		}
	}
	json_t *c = json_object_get(schema, "const");
	if (c && !json_equal(c, v)) {
		snprintf(why, cap, "%s: not the documented constant", at);
		return false;
	}
	json_t *en = json_object_get(schema, "enum");
	if (en) {
		bool found = false;
		size_t k;
		json_t *x;
		json_array_foreach (en, k, x)
			found |= json_equal(x, v) != 0;
		if (!found) {
			const char *sv = json_string_value(v);
			snprintf(why, cap, "%s: %s is not one of the documented values", at, sv ? sv : "the value");
			return false;
		}
	}
	if (json_is_string(v)) {
		const char *sv = json_string_value(v);
		json_int_t n = (json_int_t)json_string_length(v);
		json_t *lo = json_object_get(schema, "minLength"), *hi = json_object_get(schema, "maxLength");
		const char *pat = json_string_value(json_object_get(schema, "pattern"));
		if ((lo && n < json_integer_value(lo)) || (hi && n > json_integer_value(hi))) {
			snprintf(why, cap, "%s: length %lld outside the documented range", at, (long long)n);
			return false;
		}
		if (pat && !pattern_ok(pat, sv)) {
			snprintf(why, cap, "%s: \"%.60s\" does not match %s", at, sv, pat);
			return false;
		}
	}
	if (json_is_integer(v)) {
		json_t *lo = json_object_get(schema, "minimum"), *hi = json_object_get(schema, "maximum");
		json_int_t n = json_integer_value(v);
		if ((lo && n < json_integer_value(lo)) || (hi && n > json_integer_value(hi))) {
			snprintf(why, cap, "%s: %lld outside the documented range", at, (long long)n);
			return false;
		}
	}
	if (json_is_object(v)) {
		json_t *props = json_object_get(schema, "properties");
		json_t *req = json_object_get(schema, "required");
		size_t k;
		json_t *x;
		json_array_foreach (req, k, x)
			if (!json_object_get(v, json_string_value(x))) {
				snprintf(why, cap, "%s: member %s is documented as required but absent", at,
					 json_string_value(x));
				return false;
			}
		const char *key;
		json_object_foreach (v, key, x) {
			char sub[160];
			snprintf(sub, sizeof sub, "%s.%s", at, key);
			json_t *ps = json_object_get(props, key);
			if (ps && !conforms(doc, ps, x, sub, why, cap))
				return false;
			if (!ps && json_is_false(json_object_get(schema, "additionalProperties"))) {
				snprintf(why, cap, "%s: member not documented", sub);
				return false;
			}
		}
	}
	if (json_is_array(v)) {
		json_t *items = json_object_get(schema, "items");
		json_t *lo = json_object_get(schema, "minItems"), *hi = json_object_get(schema, "maxItems");
		json_int_t n = (json_int_t)json_array_size(v);
		if ((lo && n < json_integer_value(lo)) || (hi && n > json_integer_value(hi))) {
			snprintf(why, cap, "%s: %lld items, outside the documented range", at, (long long)n);
			return false;
		}
		size_t k;
		json_t *x;
		json_array_foreach (v, k, x) {
			char sub[160];
			snprintf(sub, sizeof sub, "%s[%zu]", at, k);
			if (items && !conforms(doc, items, x, sub, why, cap))
				return false;
		}
	}
	return true;
}

/* --- the document's own shape -------------------------------------------------------------- */

static void check_error_response(json_t *doc, const char *where, const char *status, json_t *r)
{
	json_t *sch = json_object_get(json_object_get(json_object_get(r, "content"), "application/json"), "schema");
	const char *ref = json_string_value(json_object_get(sch, "$ref"));
	if (!ref || strcmp(ref, "#/components/schemas/Error") != 0)
		fail_msg("%s %s: an error response's schema is not #/components/schemas/Error", where, status);
	json_t *en = json_object_get(json_object_get(json_object_get(sch, "properties"), "error"), "enum");
	if (!json_is_array(en) || json_array_size(en) == 0)
		fail_msg("%s %s: no error codes listed (properties.error.enum)", where, status);
	const char *desc = json_string_value(json_object_get(r, "description"));
	size_t k;
	json_t *x;
	json_array_foreach (en, k, x) {
		const char *code = json_string_value(x);
		char why[256] = "", quoted[64];
		json_t *body = code ? json_pack("{s:s,s:s}", "error", code, "message", "m") : NULL;
		bool ok = body && conforms(doc, resolve(doc, "#/components/schemas/Error"), body, where, why, sizeof why);
		json_decref(body);
		if (!ok)
			fail_msg("%s %s: error code %s: %s", where, status, code ? code : "(not a string)", why);
		snprintf(quoted, sizeof quoted, "`%s`", code);
		if (!desc || !strstr(desc, quoted))
			fail_msg("%s %s: error code %s is not explained in the description", where, status, code);
	}
}

static void test_document_shape(void **state)
{
	(void)state;
	json_t *doc = load_doc();
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
	assert_non_null(resolve(doc, "#/components/schemas/Error"));
	json_t *paths = json_object_get(doc, "paths");
	assert_true(json_is_object(paths) && json_object_size(paths) > 0);
	const char *key;
	json_t *item;
	json_object_foreach (paths, key, item) {
		const char *role = json_string_value(json_object_get(item, "x-omc-role"));
		const char *path = json_string_value(json_object_get(item, "x-omc-path"));
		if (!role || !path)
			fail_msg("%s: no x-omc-role or x-omc-path", key);
		char want[256];
		snprintf(want, sizeof want, "/%s%s", role, path);
		if (strcmp(want, key) != 0)
			fail_msg("%s: the key is not /x-omc-role followed by x-omc-path (%s)", key, want);
		if (!json_is_array(json_object_get(item, "servers")) || json_array_size(json_object_get(item, "servers")) != 1)
			fail_msg("%s: not one servers entry (the role's listener)", key);
		size_t n_ops = 0;
		for (size_t m = 0; m < N_METHODS; m++) {
			json_t *o = json_object_get(item, http_methods[m]);
			if (!o)
				continue;
			n_ops++;
			char where[300];
			snprintf(where, sizeof where, "%s %s", http_methods[m], key);
			json_t *tags = json_object_get(o, "tags");
			if (json_array_size(tags) != 1 || strcmp(json_string_value(json_array_get(tags, 0)) ?: "", role) != 0)
				fail_msg("%s: its one tag is not its role %s", where, role);
			if (!json_is_string(json_object_get(o, "operationId")))
				fail_msg("%s: no operationId", where);
			json_t *sec = json_object_get(o, "security");
			if (!json_is_array(sec))
				fail_msg("%s: no security (an empty list when none)", where);
			size_t k;
			json_t *req;
			json_array_foreach (sec, k, req) {
				const char *name;
				json_t *callers;
				json_object_foreach (req, name, callers)
					if (!json_object_get(schemes, name) || !json_is_array(callers))
						fail_msg("%s: security scheme %s is not in components", where, name);
			}
			json_t *rb = json_object_get(o, "requestBody");
			if (rb && !json_object_get(json_object_get(json_object_get(rb, "content"), "application/json"), "schema"))
				fail_msg("%s: a request body without an application/json schema", where);
			json_t *rs = json_object_get(o, "responses");
			if (!json_is_object(rs) || json_object_size(rs) == 0)
				fail_msg("%s: no responses", where);
			bool success = false;
			const char *st;
			json_t *r;
			json_object_foreach (rs, st, r) {
				int code = atoi(st);
				if (code < 200 || code > 599 || strlen(st) != 3)
					fail_msg("%s: response %s is not a status", where, st);
				if (!json_is_string(json_object_get(r, "description")))
					fail_msg("%s %s: no description", where, st);
				if (code < 300)
					success = true;
				if (code >= 400)
					check_error_response(doc, where, st, r);
			}
			if (!success)
				fail_msg("%s: no success response", where);
		}
		if (n_ops == 0)
			fail_msg("%s: no operation", key);
	}
	json_decref(doc);
}

/* --- both ways: live routes and documented operations -------------------------------------------- */

static void test_routes_both_ways(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	char *rj = NULL;
	assert_int_equal(omc_server_routes(e.srv, &rj), OMC_OK);
	json_error_t je;
	json_t *live = json_loads(rj, 0, &je);
	omc_free(rj);
	assert_true(json_is_array(live) && json_array_size(live) > 0);
	json_t *doc = load_doc();
	json_t *paths = json_object_get(doc, "paths");
	/* Every live route is documented. */
	size_t k;
	json_t *r;
	json_t *seen = json_object();
	json_array_foreach (live, k, r) {
		const char *role = json_string_value(json_object_get(r, "role"));
		const char *method = json_string_value(json_object_get(r, "method"));
		const char *path = json_string_value(json_object_get(r, "path"));
		assert_non_null(role);
		assert_non_null(method);
		assert_non_null(path);
		char pk[256], lower[16], id[300];
		snprintf(pk, sizeof pk, "/%s%s", role, path);
		size_t n = strlen(method);
		assert_true(n < sizeof lower);
		for (size_t c = 0; c <= n; c++)
			lower[c] = (char)(method[c] >= 'A' && method[c] <= 'Z' ? method[c] - 'A' + 'a' : method[c]);
		json_t *item = json_object_get(paths, pk);
		if (!item)
			fail_msg("the %s listener answers %s %s: docs/openapi.json has no path \"%s\"", role, method, path, pk);
		if (!json_object_get(item, lower))
			fail_msg("the %s listener answers %s %s: docs/openapi.json's \"%s\" has no \"%s\"", role, method, path,
				 pk, lower);
		snprintf(id, sizeof id, "%s %s", lower, pk);
		json_object_set_new(seen, id, json_true());
	}
	/* Every documented operation is live. */
	const char *pk;
	json_t *item;
	json_object_foreach (paths, pk, item)
		for (size_t m = 0; m < N_METHODS; m++) {
			if (!json_object_get(item, http_methods[m]))
				continue;
			char id[300];
			snprintf(id, sizeof id, "%s %s", http_methods[m], pk);
			if (!json_object_get(seen, id))
				fail_msg("docs/openapi.json documents %s %s on the %s listener, which has no such route",
					 http_methods[m], json_string_value(json_object_get(item, "x-omc-path")),
					 json_string_value(json_object_get(item, "x-omc-role")));
		}
	json_decref(seen);
	json_decref(doc);
	json_decref(live);
	sf_down(&e);
}

/* --- what the listeners answer is documented ------------------------------------------------------ */

typedef struct probe_ctx {
	sf_env *e;
	json_t *doc;
	size_t checked;
} probe_ctx;

static json_t *operation(json_t *doc, const char *role, const char *method, const char *path)
{
	char pk[256], lower[16];
	snprintf(pk, sizeof pk, "/%s%s", role, path);
	size_t n = strlen(method);
	assert_true(n < sizeof lower);
	for (size_t c = 0; c <= n; c++)
		lower[c] = (char)(method[c] >= 'A' && method[c] <= 'Z' ? method[c] - 'A' + 'a' : method[c]);
	json_t *o = json_object_get(json_object_get(json_object_get(doc, "paths"), pk), lower);
	if (!o)
		fail_msg("docs/openapi.json: no %s %s", method, pk);
	return o;
}

/* The answer (status st, body out) must be a documented response of the
 * operation, and its body must satisfy that response's schema. */
static void expect_documented(probe_ctx *p, const char *listener, const char *method, const char *path, int st,
			      json_t *out, const char *how)
{
	char role[32];
	snprintf(role, sizeof role, "%s", listener);
	char *dot = strchr(role, '.');
	if (dot)
		*dot = 0;
	json_t *o = operation(p->doc, role, method, path);
	char sts[8];
	snprintf(sts, sizeof sts, "%d", st);
	json_t *r = json_object_get(json_object_get(o, "responses"), sts);
	if (!r)
		fail_msg("%s %s on %s (%s): answered %d \"%s\", a status docs/openapi.json does not list", method, path,
			 listener, how, st, sf_code(out));
	json_t *content = json_object_get(r, "content");
	json_t *sch = json_object_get(json_object_get(content, "application/json"), "schema");
	if (sch) {
		if (!out)
			fail_msg("%s %s on %s (%s): %d without a JSON body", method, path, listener, how, st);
		char why[512] = "", at[128];
		snprintf(at, sizeof at, "%d body", st);
		if (!conforms(p->doc, sch, out, at, why, sizeof why))
			fail_msg("%s %s on %s (%s): the answer is not as docs/openapi.json says: %s", method, path, listener,
				 how, why);
	}
	if (getenv("OMC_OPENAPI_VERBOSE"))
		print_message("%-8s %-22s %-10s %d %-22s (%s)\n", method, path, listener, st, sf_code(out), how);
	p->checked++;
}

static void probe(probe_ctx *p, const char *listener, const char *method, const char *path, const char *auth,
		  const char *body, const char *how)
{
	json_t *out = NULL;
	int st = sf_call(p->e, method, listener, path, auth, body, &out);
	expect_documented(p, listener, method, path, st, out, how);
	json_decref(out);
}

static void probe_signed(probe_ctx *p, const char *who, const char *listener, const char *method, const char *path,
			 const char *body, const char *how)
{
	json_t *out = NULL;
	int st = sf_signed(p->e, who, method, listener, path, body, &out);
	expect_documented(p, listener, method, path, st, out, how);
	json_decref(out);
}

/* A name that may call: the security requirement's first concrete caller. */
static const char *caller_for(json_t *o)
{
	json_t *sec = json_object_get(o, "security");
	size_t k;
	json_t *req;
	json_array_foreach (sec, k, req) {
		json_t *callers = json_object_get(req, "signedRequest");
		const char *c = json_string_value(json_array_get(callers, 0));
		if (c)
			return !strcmp(c, "SHO") ? "sho1" : !strcmp(c, "OPERATOR") ? "ico" : c;
	}
	return NULL;
}

static bool takes(json_t *o, const char *scheme)
{
	size_t k;
	json_t *req;
	json_array_foreach (json_object_get(o, "security"), k, req)
		if (json_object_get(req, scheme))
			return true;
	return false;
}

static void test_answers_documented(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	probe_ctx p = {.e = &e, .doc = load_doc()};
	/* A device with a PCID session, for the roles that take one. */
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	char session[80], sub[80];
	snprintf(session, sizeof session, "Bearer %s", d.session);
	snprintf(sub, sizeof sub, "Bearer %s", e.tokens[0]);
	static const char bogus[] = "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	/* Refusals of every operation of every listener: no credentials, wrong
	 * ones, right ones with an empty body and with {}. */
	char *rj = NULL;
	assert_int_equal(omc_server_routes(e.srv, &rj), OMC_OK);
	json_error_t je;
	json_t *live = json_loads(rj, 0, &je);
	omc_free(rj);
	const char *listener;
	json_t *url;
	json_object_foreach (e.urls, listener, url) {
		char role[32];
		snprintf(role, sizeof role, "%s", listener);
		char *dot = strchr(role, '.');
		if (dot)
			*dot = 0;
		bool sho1 = !strcmp(listener, "sho.sho1");
		size_t k;
		json_t *r;
		json_array_foreach (live, k, r) {
			if (strcmp(json_string_value(json_object_get(r, "role")), role) != 0)
				continue;
			const char *m = json_string_value(json_object_get(r, "method"));
			const char *path = json_string_value(json_object_get(r, "path"));
			json_t *o = operation(p.doc, role, m, path);
			probe(&p, listener, m, path, NULL, NULL, "no credentials, no body");
			probe(&p, listener, m, path, NULL, "{}", "no credentials, {}");
			probe(&p, listener, m, path, bogus, "{}", "an unknown bearer token");
			const char *who = caller_for(o);
			if (who) {
				probe_signed(&p, "tre-vendor", listener, m, path, "{}", "signed by a caller not allowed");
				probe_signed(&p, who, listener, m, path, NULL, "signed, no body");
				probe_signed(&p, who, listener, m, path, "{}", "signed, {}");
				probe_signed(&p, who, listener, m, path, "{\"imsi\":\"1\",\"id\":0,\"tre\":1}", "signed, bad members");
			}
			if (takes(o, "session")) {
				probe(&p, listener, m, path, session, NULL, "a PCID session, no body");
				probe(&p, listener, m, path, session, "{}", "a PCID session, {}");
			}
			if (takes(o, "subscriber") && (sho1 || strcmp(role, "sho") != 0)) {
				probe(&p, listener, m, path, sub, NULL, "a subscriber, no body");
				probe(&p, listener, m, path, sub, "{}", "a subscriber, {}");
			}
		}
	}
	json_decref(live);
	/* The rest of the story, and the answers of a provisioned device. */
	json_t *reg = NULL;
	int st = sf_register(&e, &d, &reg);
	expect_documented(&p, "drf", "POST", "/v1/register", st, reg, "the story");
	json_decref(reg);
	assert_int_equal(sf_validate(&e, &d), 200);
	char *receipt = NULL;
	assert_int_equal(sf_download(&e, &d, &receipt), 200);
	assert_int_equal(sf_send_receipt(&e, &d, receipt), 200);
	char body[8192];
	snprintf(body, sizeof body, "{\"receipt\":\"%s\"}", receipt);
	probe(&p, "dpf", "POST", "/v1/receipts", session, body, "the receipt again");
	probe_signed(&p, "ro", "sho.sho1", "POST", "/v1/receipts", body, "the receipt again, to the SHO");
	omc_free(receipt);
	/* Spent already: the nonce, the token. */
	char pcid_session[80];
	snprintf(pcid_session, sizeof pcid_session, "%s", session);
	json_t *jb = json_pack("{s:s}", "evidence", d.evidence);
	char *js = json_dumps(jb, JSON_COMPACT);
	probe(&p, "pva", "POST", "/v1/validate", pcid_session, js, "the evidence again");
	omc_free(js);
	json_decref(jb);
	jb = json_pack("{s:s,s:s}", "token", d.token, "evidence", d.evidence);
	js = json_dumps(jb, JSON_COMPACT);
	probe(&p, "dpf", "POST", "/v1/download", pcid_session, js, "the token again");
	omc_free(js);
	json_decref(jb);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	snprintf(session, sizeof session, "Bearer %s", d.session);
	probe(&p, "drf", "POST", "/v1/register", session, "{}", "an operational session");
	probe(&p, "vno", "GET", "/v1/session", session, NULL, "an operational session");
	probe(&p, "vno", "POST", "/v1/data", session, "{\"bytes\":1000}", "an operational session");
	probe(&p, "vno", "POST", "/v1/sms", session, "{}", "an operational session");
	probe(&p, "bootstrap", "GET", "/v1/bootstrap", session, NULL, "an operational session");
	probe(&p, "dpf", "GET", "/v1/commands", session, NULL, "an operational session");
	probe(&p, "sho.sho1", "GET", "/v1/devices", sub, NULL, "a provisioned device");
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d.platform_id);
	probe(&p, "sho.sho1", "POST", "/v1/devices", sub, body, "registered again");
	probe_signed(&p, "sho1", "drf", "POST", "/v1/devices", body, "assigned again");
	probe_signed(&p, "sho2", "drf", "POST", "/v1/devices", body, "another SHO");
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":3}", d.mcim_imsi);
	probe_signed(&p, "vno", "auc.sho1", "POST", "/v1/vectors", body, "an MCIM's vectors");
	probe_signed(&p, "vno", "auc.ico", "POST", "/v1/vectors", body, "another operator's IMSI");
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"amf\":\"0000\"}", d.pcid_imsi);
	probe_signed(&p, "vno", "auc.ico", "POST", "/v1/vectors", body, "a PCID's vector");
	probe_signed(&p, "m2mes", "ccif", "POST", "/v1/pcids", "{\"count\":2,\"alg\":\"tuak\"}", "two TUAK PCIDs");
	probe_signed(&p, "m2mes", "ccif", "POST", "/v1/reports", "{\"report\":\"not a report at all\"}", "not a report");
	probe(&p, "pva", "POST", "/v1/nonce", session, NULL, "an operational session");
	probe(&p, "vno", "POST", "/v1/attach", NULL, "{\"imsi\":\"999990000000001\"}", "no home network");
	probe(&p, "vno", "POST", "/v1/attach/complete", NULL,
	      "{\"attach\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"res\":\"0011223344556677\"}", "no such attach");
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"rand\":\"%032d\",\"auts\":\"%028d\"}", d.mcim_imsi, 0, 0);
	probe_signed(&p, "vno", "auc.sho1", "POST", "/v1/resync", body, "a forged AUTS");
	probe(&p, "vno", "POST", "/v1/attach/resync", NULL, "{\"attach\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"auts\":\"0000000000000000000000000000\"}",
	      "no such attach");
	snprintf(body, sizeof body, "{\"tre\":\"%s\",\"command\":\"not a signed command\"}", d.tre_id);
	probe_signed(&p, "sho1", "dpf", "POST", "/v1/commands", body, "not a command");
	probe_signed(&p, "sho1", "dpf", "POST", "/v1/commands/status", "{\"id\":1}", "no command");
	probe(&p, "dpf", "POST", "/v1/results", session, "{\"id\":1,\"result\":\"not a signed result\"}", "not a result");
	/* sho2: TUAK with MAC and RES of 128 bits, CK and IK of 256; data only, capped. */
	sf_dev d2;
	sf_dev_make(&e, &d2, NULL);
	sf_provision(&e, &d2, 2);
	char s2[80];
	snprintf(s2, sizeof s2, "Bearer %s", d2.session);
	probe(&p, "vno", "POST", "/v1/sms", s2, "{}", "a data-only profile");
	probe(&p, "vno", "POST", "/v1/data", s2, "{\"bytes\":2000000}", "over the cap");
	probe(&p, "vno", "GET", "/v1/session", s2, NULL, "a capped session");
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":32}", d2.mcim_imsi);
	probe_signed(&p, "vno", "auc.sho2", "POST", "/v1/vectors", body, "TUAK vectors");
	probe(&p, "drf", "GET", "/metrics", NULL, NULL, "after the stories");
	sf_dev_free(&d2);
	print_message("%zu answers checked against docs/openapi.json\n", p.checked);
	sf_dev_free(&d);
	json_decref(p.doc);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_shape),
		cmocka_unit_test(test_routes_both_ways),
		cmocka_unit_test(test_answers_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
