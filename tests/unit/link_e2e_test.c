/* The protected access link end to end (SEC-11): an agent provisions
 * itself through a running server (in process, loopback HTTP), attaches
 * with its MCIM (MILENAGE, sho1) and sends its traffic through the VNO in
 * protected frames (POST /v1/link), which the VNO accepts and counts
 * against the session (GET /v1/session). Then, with the agent's own
 * session: the captured frame sent again is refused as replayed, the same
 * frame under a fresh COUNT as modified (bad_mac), in the downlink
 * direction as wrong_direction; none of that stops the agent's next frame
 * and each is audited. The test derives KASME and the NAS keys itself
 * from what went over the wire (the AuC's CK and IK, the attach's AUTN and
 * serving network, TS 33.401 A.2 and A.7) and deciphers the captured
 * frame with them: the agent and the VNO used exactly those keys. Those
 * keys then appear in no log line, no HTTP body, no file of the
 * deployment, nor in the agent's saved state (the secret canary). When
 * the session expires the VNO refuses it and the next attach sweeps its
 * keys away. A TUAK-256 device (sho2) gets no link (TS 33.401 has no
 * KASME for 256-bit CK and IK).
 * covers: SEC-11, SEC-12, SEC-7 */
#include "srv_fixture.h"

#include "canary.h"

#include <pthread.h>
#include <stdlib.h>

#include "link/link_internal.h"
#include "net/net_internal.h"
#include "server/server_internal.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *seen;                 /* every log line and body, for the canary */
static size_t seen_len, seen_cap;
static char ck_h[80], ik_h[80];    /* the last vector the AuC gave */
static char autn_h[80], snid[8];   /* the last attach challenge */
static char link_req[16384];       /* the last POST /v1/link body */

static void keep(const void *p, size_t n)
{
	pthread_mutex_lock(&mu);
	if (seen_len + n + 1 > seen_cap) {
		size_t nc = (seen_len + n + 1) * 2;
		char *ns = omc_realloc(seen, nc);
		assert_non_null(ns);
		seen = ns;
		seen_cap = nc;
	}
	memcpy(seen + seen_len, p, n);
	seen_len += n;
	seen[seen_len++] = '\n';
	pthread_mutex_unlock(&mu);
}

static void on_log(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	(void)module;
	keep(msg, strlen(msg));
}

static void copy_member(char *out, size_t cap, const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	if (v)
		snprintf(out, cap, "%s", v);
}

static void on_body(void *arg, const char *method, const char *path, const uint8_t *req, size_t req_len,
		    const char *resp, size_t resp_len)
{
	(void)arg;
	(void)method;
	keep(req, req_len);
	keep(resp, resp_len);
	json_error_t je;
	pthread_mutex_lock(&mu);
	if (!strcmp(path, "/v1/vectors")) {
		json_t *o = json_loadb(resp, resp_len, 0, &je);
		json_t *v = json_array_get(json_object_get(o, "vectors"), 0);
		copy_member(ck_h, sizeof ck_h, v, "ck");
		copy_member(ik_h, sizeof ik_h, v, "ik");
		json_decref(o);
	} else if (!strcmp(path, "/v1/attach")) {
		json_t *o = json_loadb(resp, resp_len, 0, &je);
		copy_member(autn_h, sizeof autn_h, o, "autn");
		copy_member(snid, sizeof snid, o, "serving_network");
		json_decref(o);
	} else if (!strcmp(path, "/v1/link") && req_len < sizeof link_req) {
		memcpy(link_req, req, req_len);
		link_req[req_len] = 0;
	}
	pthread_mutex_unlock(&mu);
}

/* The agent's session token, from its saved state. */
static void session_of(sf_dev *d, char out[64])
{
	uint8_t *st = NULL;
	size_t sl = 0;
	assert_int_equal(d->io->read(d->io->ctx, "agent.state", &st, &sl), OMC_OK);
	json_error_t je;
	json_t *o = json_loadb((const char *)st, sl, 0, &je);
	assert_non_null(o);
	snprintf(out, 64, "%s", json_string_value(json_object_get(o, "session")));
	json_decref(o);
	omc_free(st);
	assert_true(strlen(out) > 20);
}

/* The keys as TS 33.401 derives them from what went over the wire. */
static void derive(omc_link_keys *k, uint8_t kasme[32])
{
	uint8_t ck[16], ik[16], autn[16], plmn[3];
	char mcc[4] = {0}, mnc[4] = {0};
	tl_hex(ck, 16, ck_h);
	tl_hex(ik, 16, ik_h);
	tl_hex(autn, 16, autn_h);
	assert_true(strlen(snid) == 5 || strlen(snid) == 6);
	memcpy(mcc, snid, 3);
	memcpy(mnc, snid + 3, strlen(snid) - 3);
	assert_err(omc_aka_plmn_encode(plmn, mcc, mnc), OMC_OK);
	assert_err(omc_aka_kasme(kasme, ck, ik, plmn, autn), OMC_OK);
	assert_err(omc_link_keys_derive(k, kasme), OMC_OK);
}

static size_t frame_of(const char *body, uint8_t *frame, size_t cap)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je);
	const char *fb = json_string_value(json_object_get(o, "frame"));
	assert_non_null(fb);
	size_t n = 0;
	assert_err(omc_b64_decode(frame, cap, &n, fb, strlen(fb), OMC_B64_URL), OMC_OK);
	json_decref(o);
	return n;
}

static int post_frame(sf_env *e, const char *tok, const uint8_t *frame, size_t n, json_t **out)
{
	char b64[16384], body[16500];
	assert_err(omc_b64_encode(b64, sizeof b64, frame, n, OMC_B64_URL), OMC_OK);
	snprintf(body, sizeof body, "{\"frame\":\"%s\"}", b64);
	return sf_bearer(e, tok, "POST", "vno", "/v1/link", body, out);
}

static void expect_refused(sf_env *e, const char *tok, const uint8_t *frame, size_t n, int status,
			   const char *code)
{
	json_t *o = NULL;
	int st = post_frame(e, tok, frame, n, &o);
	if (st != status || strcmp(sf_code(o), code) != 0)
		fail_msg("want %d %s, got %d %s", status, code, st, sf_code(o));
	json_decref(o);
}

static uint64_t used_of(sf_env *e, const char *tok)
{
	json_t *o = NULL;
	assert_int_equal(sf_bearer(e, tok, "GET", "vno", "/v1/session", NULL, &o), 200);
	uint64_t u = (uint64_t)json_integer_value(json_object_get(o, "used"));
	json_decref(o);
	return u;
}

/* A server, and a device whose agent is operational with an MCIM of sho. */
static void operational(sf_env *e, sf_dev *d, sf_agent *ae, int sho)
{
	sf_up(e);
	sf_dev_make(e, d, NULL);
	assert_int_equal(sf_subscribe(e, d, sho), 201);
	assert_int_equal(sf_report_pcid(e, d), 201);
	sf_agent_make(ae, e, d);
	sf_agent_run(ae, OMC_AGENT_OPERATIONAL);
}

static void test_link_through_the_vno(void **state)
{
	(void)state;
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	omc_log_set_handler(on_log, NULL);
	omc_test_http_on_body(on_body, NULL);
	sf_env e;
	sf_dev d;
	sf_agent ae;
	operational(&e, &d, &ae, 1);
	char tok[64];
	session_of(&d, tok);
	uint64_t used0 = used_of(&e, tok);

	/* Traffic: three frames, accepted, counted, each answered by a
	 * downlink frame the agent verified. */
	static uint8_t data[3000];
	tl_rand(data, sizeof data);
	const size_t sizes[] = {100, 1, 2899};
	uint64_t sent = 0;
	omc_agent_link_answer ans;
	for (size_t i = 0; i < 3; i++) {
		assert_err(omc_agent_link_send(ae.a, &ans, data, sizes[i]), OMC_OK);
		sent += sizes[i];
		assert_int_equal(ans.status, 200);
		assert_int_equal(ans.count, i);
		assert_int_equal(ans.used, used0 + sent);
	}
	assert_int_equal(used_of(&e, tok), used0 + sent);

	/* The captured frame deciphers under the keys TS 33.401 gives for
	 * this attach: COUNT 2, uplink, bearer 0, EEA2 under KNASenc, and its
	 * MAC is EIA2 under KNASint over header and ciphertext. */
	omc_link_keys k;
	uint8_t kasme[32];
	derive(&k, kasme);
	static uint8_t f[OMC_LINK_FRAME_MAX], pt[OMC_LINK_MAX_PAYLOAD];
	size_t n = frame_of(link_req, f, sizeof f);
	assert_int_equal(n, OMC_LINK_HDR_LEN + 2899 + OMC_LINK_MAC_LEN);
	assert_int_equal(f[1], 0);
	assert_int_equal(f[5], 2);
	uint8_t mac[4];
	assert_err(omc_link_eia2(mac, k.nas_int, 2, 0, 0, f, (n - 4) * 8), OMC_OK);
	assert_memory_equal(mac, f + n - 4, 4);
	assert_err(omc_link_eea2(pt, k.nas_enc, 2, 0, 0, f + OMC_LINK_HDR_LEN, 2899 * 8), OMC_OK);
	assert_memory_equal(pt, data, 2899);
	assert_memory_not_equal(f + OMC_LINK_HDR_LEN, data, 2899);

	/* Refusals with the agent's own session. */
	uint8_t g[OMC_LINK_FRAME_MAX];
	expect_refused(&e, tok, f, n, 409, "replayed");
	memcpy(g, f, n);
	g[2] ^= 0x40; /* a fresh COUNT, the MAC left as it was */
	expect_refused(&e, tok, g, n, 401, "bad_mac");
	memcpy(g, f, n);
	g[OMC_LINK_HDR_LEN + 10] ^= 0x01; /* ciphertext */
	g[5] = 200;                        /* past the window's top: not a replay */
	expect_refused(&e, tok, g, n, 401, "bad_mac");
	memcpy(g, f, n);
	g[1] |= 0x04; /* downlink */
	expect_refused(&e, tok, g, n, 400, "wrong_direction");
	memcpy(g, f, n);
	g[1] |= 0x08; /* bearer 1 */
	expect_refused(&e, tok, g, n, 400, "wrong_bearer");
	expect_refused(&e, tok, f, 12, 400, "bad_frame");
	assert_int_equal(used_of(&e, tok), used0 + sent); /* nothing counted */
	assert_true(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'link' AND result = 'refused'") >= 6);
	/* Without a session, or with a provisioning one: the usual refusals. */
	json_t *o = NULL;
	assert_int_equal(sf_call(&e, "POST", "vno", "/v1/link", NULL, "{\"frame\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", &o), 401);
	json_decref(o);
	/* The agent goes on: COUNT 3 is fresh. */
	assert_err(omc_agent_link_send(ae.a, &ans, data, 10), OMC_OK);
	assert_int_equal(ans.count, 3);
	assert_int_equal(used_of(&e, tok), used0 + sent + 10);

	/* The secret canary: KASME and the keys are nowhere. */
	tl_canary_reset();
	tl_canary_add("KASME", kasme, 32);
	tl_canary_add("KNASenc", k.nas_enc, 16);
	tl_canary_add("KNASint", k.nas_int, 16);
	tl_canary_add("KUPenc", k.up_enc, 16);
	pthread_mutex_lock(&mu);
	size_t hits = tl_canary_scan_buf("logs and HTTP bodies", seen, seen_len);
	pthread_mutex_unlock(&mu);
	size_t files = 0;
	hits += tl_canary_scan_tree(e.dir, &files);
	uint8_t *st = NULL;
	size_t sl = 0;
	assert_int_equal(d.io->read(d.io->ctx, "agent.state", &st, &sl), OMC_OK);
	hits += tl_canary_scan_buf("agent.state", st, sl);
	omc_free(st);
	assert_true(files > 0 && seen_len > 10000);
	assert_int_equal(hits, 0);
	/* The control: the scanner finds a key where it is. */
	char kh[65];
	assert_err(omc_hex_encode(kh, sizeof kh, kasme, 32), OMC_OK);
	assert_true(tl_canary_scan_buf("control", kh, strlen(kh)) > 0);
	tl_canary_reset();

	/* The session ends: refused, and the next attach sweeps its keys. */
	uint8_t th[32];
	assert_err(srv_token_hash(th, tok), OMC_OK);
	assert_true(srv_link_held(e.srv, th));
	e.now_offset += 86400 + 60;
	assert_err(omc_agent_link_send(ae.a, &ans, data, 10), OMC_ERR_DENIED);
	assert_int_equal(ans.status, 401);
	assert_string_equal(ans.error, "session_expired");
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(sf_attach(&e, &d, in.mcim_id), 200);
	assert_false(srv_link_held(e.srv, th));

	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
	omc_test_http_on_body(NULL, NULL);
	omc_log_set_handler(NULL, NULL);
	omc_log_set_level(OMC_LOG_LEVEL_WRN);
}

/* TUAK with 256-bit CK and IK (sho2): operational, but no link keys. */
static void test_no_link_for_tuak256(void **state)
{
	(void)state;
	sf_env e;
	sf_dev d;
	sf_agent ae;
	operational(&e, &d, &ae, 2);
	omc_agent_link_answer ans;
	uint8_t b[4] = {1, 2, 3, 4};
	assert_err(omc_agent_link_send(ae.a, &ans, b, sizeof b), OMC_ERR_BAD_STATE);
	assert_int_equal(ans.status, 0);
	/* And the VNO says so to a frame on that session. */
	char tok[64];
	session_of(&d, tok);
	uint8_t f[32] = {OMC_LINK_VERSION, 0, 0, 0, 0, 0, 0, 4};
	expect_refused(&e, tok, f, OMC_LINK_HDR_LEN + 4 + OMC_LINK_MAC_LEN, 409, "no_link");
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* SEC-11, EVAL-8: the link's keys and replay window are rows of the
 * database (vno_link), so two server processes on one database share
 * them: the attach answered by replica A, completed on replica B; frames
 * alternate between them, each accepted once, a replay refused by the
 * other replica, and the downlink COUNT goes on across them. */
static json_t *urls_a, *urls_b;

static void complete_on_b(void *arg, sf_env *e, const char *method, const char *role, const char *path)
{
	(void)arg;
	(void)method;
	(void)role;
	e->urls = strcmp(path, "/v1/attach/complete") != 0 ? urls_a : urls_b;
}

static void test_link_across_replicas(void **state)
{
	(void)state;
	omc_test_http_on_body(on_body, NULL);
	sf_env e;
	sf_dev d;
	sf_agent ae;
	operational(&e, &d, &ae, 1);
	sf_env b = e; /* a second server on the same config and database */
	b.srv = NULL;
	b.urls = NULL;
	sf_start(&b);
	urls_a = e.urls;
	urls_b = b.urls;
	assert_string_not_equal(sf_url(&e, "vno"), sf_url(&b, "vno"));
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	sf_hook.before = complete_on_b;
	assert_int_equal(sf_attach(&e, &d, in.mcim_id), 200);
	sf_hook.before = NULL;
	e.urls = urls_a;
	uint8_t th[32];
	assert_err(srv_token_hash(th, d.session), OMC_OK);
	assert_true(srv_link_held(e.srv, th));
	assert_true(srv_link_held(b.srv, th));

	omc_link_keys k;
	uint8_t kasme[32];
	derive(&k, kasme);
	omc_link up;
	assert_err(omc_link_init(&up, kasme, 0, OMC_LINK_UPLINK), OMC_OK);
	static uint8_t f[3][OMC_LINK_FRAME_MAX], g[OMC_LINK_FRAME_MAX], pt[OMC_LINK_MAX_PAYLOAD];
	size_t n[3] = {0};
	for (unsigned i = 0; i < 3; i++) {
		uint8_t data[40];
		tl_rand(data, sizeof data);
		assert_err(omc_link_seal(&up, f[i], sizeof f[i], &n[i], data, sizeof data), OMC_OK);
		json_t *o = NULL;
		assert_int_equal(post_frame(i % 2 ? &e : &b, d.session, f[i], n[i], &o), 200);
		assert_int_equal(json_integer_value(json_object_get(o, "count")), i);
		const char *fb = json_string_value(json_object_get(o, "frame"));
		assert_non_null(fb);
		size_t gl = 0, pl = 0;
		uint32_t count = 99;
		assert_err(omc_b64_decode(g, sizeof g, &gl, fb, strlen(fb), OMC_B64_URL), OMC_OK);
		/* downlink COUNT i whichever replica sealed it: a repeated
		 * COUNT would be refused here as a replay */
		assert_err(omc_link_open(&up, pt, sizeof pt, &pl, &count, g, gl), OMC_OK);
		assert_int_equal(count, i);
		json_decref(o);
	}
	/* Each frame was accepted once: the other replica refuses it again. */
	expect_refused(&e, d.session, f[0], n[0], 409, "replayed");
	expect_refused(&b, d.session, f[1], n[1], 409, "replayed");
	expect_refused(&e, d.session, f[2], n[2], 409, "replayed");
	omc_link_wipe(&up);

	omc_server_stop(b.srv);
	json_decref(b.urls);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
	omc_test_http_on_body(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_through_the_vno),
		cmocka_unit_test(test_no_link_for_tuak256),
		cmocka_unit_test(test_link_across_replicas),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	omc_free(seen);
	return rc;
}
