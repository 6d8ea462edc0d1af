/* Allocation-failure injection on the server's request path (issue 7,
 * docs/SECURITY.md): the whole provisioning story and the session's own
 * endpoints (test_server_request_paths), then the rest of the story on a
 * provisioned device (test_server_more_paths: bootstrap, CCIF PCIDs, push
 * and renewal, the SHO's commands, resync with an AUTS, the operator change
 * with the RO's reprovision and the old SHO's deletion receipt, recovery
 * and the tamper report) are driven through `openmcim server` in this
 * process with sf_sweep on (tests/testlib/srv_fixture.c), so that every
 * call is made once per allocation its handlers make (those of the peers
 * it calls, such as the VNO's call to the home AuC, included), the n-th
 * failing, and then once with none failing. Every failed call must answer
 * 5xx (500 internal or 502 peer_unavailable), never a 4xx verdict, and
 * leave every table of the database as it was, unless a whole step landed
 * first (a peer's commit, or a commit whose answer was lost): then the same
 * call made again on the database as it is must go through or give an
 * answer the fixture's retry_rules list (the step is done, or by design the
 * step is made again from its start: a challenge is answered once, a nonce
 * or a token is good once); the server is restarted on the database as it
 * was before the call, and the sweep goes on. The story goes on from the
 * state the last successful retry left, with its answer, where it answered
 * as the clean call did, else with the clean call's. Each step prints its
 * calls, failures, landed steps and retries. Bugs this found, fixed: a
 * refusal given while memory ran out (a signature not checked for want of
 * memory answered 401, a report 403; now 500, src/server/server.c
 * trampoline), a peer call sent with no body when its json_pack failed, a
 * double free of the MCIM when the package's json_pack failed (sho.c,
 * ccif_renew.c), a use-after-free of a TUAK credential's JSON when jansson
 * failed to take it (cred.c, the change to a TUAK SHO), and, from the
 * retries, non-idempotent requests: an ICO push, an SHO subscriber's
 * command and a DPF command sent again after a lost answer were queued
 * twice (the TRE then refused the second as a replay); each now answers
 * the open one (ccif_renew.c, sho.c, dpf.c). A statement that could not be
 * allocated was logged as "not an error" (db.c). jansson's reader and
 * OpenSSL are held out (docs/SECURITY.md, "Allocation-failure injection").
 * Leaks are ASan/LSan's to find: this binary runs under them in the ASan
 * build and fails on one.
 * covers: SEC-12, SEC-13, SVC-1, SVC-2, NET-1, NET-3, NET-4, NET-7, SEC-8, SEC-9, CCIF-2, MGT-1, MGT-8, CHG-1,
 * CHG-2, CHG-4, TRE-4 */
#include "srv_fixture.h"

#include <time.h>

/* What the sweep did for one step since *b: calls, failures injected, and
 * of those how many landed a whole step and how the retry went. */
static void sweep_report(const char *what, const sf_sweep_state *b)
{
	print_message("%s: %lu calls, %lu allocation failures injected (%lu landed: retry ok %lu, idempotent %lu, "
		      "by design %lu; went on from a retry %lu)\n",
		      what, sf_sweep.calls - b->calls, sf_sweep.failures - b->failures, sf_sweep.landed - b->landed,
		      sf_sweep.retry_ok - b->retry_ok, sf_sweep.retry_idempotent - b->retry_idempotent,
		      sf_sweep.retry_by_design - b->retry_by_design, sf_sweep.went_on - b->went_on);
}

/* Sweep the statement(s), reported as what. */
#define SWEPT(what, ...)                                                                                           \
	do {                                                                                                       \
		sf_sweep_state b_ = sf_sweep;                                                                      \
		__VA_ARGS__;                                                                                       \
		sweep_report(what, &b_);                                                                           \
	} while (0)

/* A command signed as PKI entity who (the SHO's own, as its server would). */
static char *signed_command(sf_env *e, const char *who, const char *tre_id, uint64_t seq)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "iss", who, "seq", (json_int_t)seq, "tre", tre_id, "cmd",
			      "discover", "mcim", "", "iat", (json_int_t)time(NULL));
	char *ps = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e->pki, who, &k, &c), OMC_OK);
	const omc_cert *x5c[1] = {c};
	char *jws = NULL;
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), k, x5c, 1, "omc-command+jwt"), OMC_OK);
	omc_free(ps);
	omc_key_free(k);
	omc_cert_free(c);
	return jws;
}

/* The DPF's command relay (MGT-1): queued by the SHO, fetched by the
 * device, carried out by its TRE, the result posted, its status read. */
static void commands(sf_env *e, sf_dev *d)
{
	char *cmd = signed_command(e, "sho1", d->tre_id, 100);
	json_t *q = json_pack("{s:s,s:s}", "tre", d->tre_id, "command", cmd);
	char *qb = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	json_t *o = NULL;
	assert_int_equal(sf_signed(e, "sho1", "POST", "dpf", "/v1/commands", qb, &o), 201);
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	assert_true(id > 0);
	json_decref(o);
	char names[2][24];
	assert_int_equal(sf_dev_commands(e, d, names, 2), 1);
	assert_string_equal(names[0], "discover");
	char sb[64];
	snprintf(sb, sizeof sb, "{\"id\":%lld}", (long long)id);
	assert_int_equal(sf_signed(e, "sho1", "POST", "dpf", "/v1/commands/status", sb, &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
	json_decref(o);
	omc_free(qb);
	omc_free(cmd);
}

static void test_server_request_paths(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);

	sf_sweep.on = true;
	SWEPT("sho POST /v1/devices", assert_int_equal(sf_subscribe(&e, &d, 1), 201));
	SWEPT("ccif POST /v1/reports", assert_int_equal(sf_report_pcid(&e, &d), 201));
	SWEPT("vno attach and complete (PCID; auc.ico vectors)", assert_int_equal(sf_attach(&e, &d, NULL), 200));
	json_t *r = NULL;
	SWEPT("drf POST /v1/register", assert_int_equal(sf_register(&e, &d, &r), 200));
	json_decref(r);
	SWEPT("pva nonce and validate", assert_int_equal(sf_validate(&e, &d), 200));
	char *receipt = NULL;
	SWEPT("dpf POST /v1/download (sho mcims)", assert_int_equal(sf_download(&e, &d, &receipt), 200));
	SWEPT("dpf POST /v1/receipts (sho receipts)", assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	SWEPT("vno attach and complete (MCIM; auc.sho1 vectors)", assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200));

	/* the session's own endpoints, and the subscriber's list */
	SWEPT("session, data, commands, devices, metrics", {
		json_t *o = NULL;
		assert_int_equal(sf_bearer(&e, d.session, "GET", "vno", "/v1/session", NULL, &o), 200);
		json_decref(o);
		assert_int_equal(sf_bearer(&e, d.session, "POST", "vno", "/v1/data", "{\"bytes\":1000}", &o), 200);
		json_decref(o);
		assert_int_equal(sf_bearer(&e, d.session, "GET", "dpf", "/v1/commands", NULL, &o), 200);
		json_decref(o);
		assert_int_equal(sf_bearer(&e, e.tokens[0], "GET", "sho.sho1", "/v1/devices", NULL, &o), 200);
		assert_int_equal(json_array_size(json_object_get(o, "devices")), 1);
		json_decref(o);
		assert_int_equal(sf_call(&e, "GET", "vno", "/metrics", NULL, NULL, NULL), 200);
	});
	SWEPT("dpf commands: queue, fetch, results, status", commands(&e, &d));
	sf_sweep.on = false;

	print_message("server: %lu calls swept, %lu allocation failures injected: %lu answered 5xx (%lu of them "
		      "after a whole step landed), %lu succeeded without the allocation, none a 4xx\n",
		      sf_sweep.calls, sf_sweep.failures, sf_sweep.by_status[5], sf_sweep.landed, sf_sweep.absorbed);
	assert_int_equal(sf_sweep.by_status[4], 0);
	print_message("server: after a landed step the same call again went through %lu times, said the step was done "
		      "%lu times, and was refused by design %lu times; the story went on from a retry's state %lu times\n",
		      sf_sweep.retry_ok, sf_sweep.retry_idempotent, sf_sweep.retry_by_design, sf_sweep.went_on);
	assert_true(sf_sweep.landed > 0);
	assert_int_equal(sf_sweep.landed, sf_sweep.retry_ok + sf_sweep.retry_idempotent + sf_sweep.retry_by_design);
	assert_true(sf_sweep.went_on > 0);
	assert_true(sf_sweep.failures > sf_sweep.calls);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The PCID renewal as the agent makes it (CHG-4, NET-7): the ICO's nonce
 * over the session, the TRE's evidence, the new PCID's package installed,
 * the receipt taken. */
static void renew_pcid(sf_env *e, sf_dev *d)
{
	json_t *o = NULL;
	assert_int_equal(sf_bearer(e, d->session, "POST", "bootstrap", "/v1/pcids/nonce", "{}", &o), 201);
	const char *nb = json_string_value(json_object_get(o, "nonce"));
	uint8_t n[64];
	size_t nl = 0;
	assert_int_equal(omc_b64_decode(n, sizeof n, &nl, nb, strlen(nb), OMC_B64_URL), OMC_OK);
	json_decref(o);
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(d->t, n, nl, &ev), OMC_OK);
	json_t *b = json_pack("{s:s,s:I}", "evidence", ev, "version", (json_int_t)1);
	omc_free(ev);
	char *bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_int_equal(sf_bearer(e, d->session, "POST", "bootstrap", "/v1/pcids/renew", bs, &o), 200);
	omc_free(bs);
	const char *pkg = json_string_value(json_object_get(o, "package"));
	assert_non_null(pkg);
	char *receipt = NULL;
	assert_int_equal(omc_tre_install(d->t, pkg, strlen(pkg), &receipt), OMC_OK);
	json_decref(o);
	omc_tre_mcim_info reg[16];
	size_t rn = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 16, &rn), OMC_OK);
	for (size_t i = 0; i < rn; i++)
		if (!strcmp(reg[i].id, "pcid"))
			snprintf(d->pcid_imsi, sizeof d->pcid_imsi, "%s", reg[i].imsi);
	b = json_pack("{s:s}", "receipt", receipt);
	omc_free(receipt);
	bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_int_equal(sf_bearer(e, d->session, "POST", "bootstrap", "/v1/pcids/receipts", bs, NULL), 200);
	omc_free(bs);
}

/* The rest of the story (after the provisioning of
 * test_server_request_paths, made here without the sweep): bootstrap,
 * PCID generation, push and renewal, an SHO's commands and its deletion
 * receipt, AuC resynchronisation (AUTS), the operator change (new SHO, RO's
 * reprovision, old SHO's deletion receipt, the new SHO's MCIM), tamper
 * recovery and the tamper report. */
static void test_server_more_paths(void **state)
{
	(void)state;
	sf_sweep.on = false; /* as the test before left it, had it failed */
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	char body[256], code[64], *receipt = NULL;
	snprintf(code, sizeof code, "%s", d.transfer_code);
	assert_int_equal(strlen(code), 43);
	json_t *o = NULL;
	sf_sweep_state b0 = sf_sweep;

	sf_sweep.on = true;
	SWEPT("bootstrap GET /v1/bootstrap",
	      assert_int_equal(sf_bearer(&e, d.session, "GET", "bootstrap", "/v1/bootstrap", NULL, NULL), 200));
	SWEPT("ccif POST /v1/pcids",
	      assert_int_equal(sf_signed(&e, "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":1}", NULL), 201));
	snprintf(body, sizeof body, "{\"tre\":\"%s\"}", d.tre_id);
	SWEPT("ccif POST /v1/pcids/push",
	      assert_int_equal(sf_signed(&e, "ico", "POST", "ccif", "/v1/pcids/push", body, NULL), 201));
	char names[4][24];
	SWEPT("dpf commands: fetch, results (renew_pcid)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "renew_pcid");
	SWEPT("bootstrap pcids nonce, renew, receipts", renew_pcid(&e, &d));

	/* The owner's commands (MGT-8) through the SHO, and a delete's
	 * receipt passed back to it (sho POST /v1/deletions). */
	json_int_t id = 0;
	SWEPT("sho POST /v1/commands", id = sf_sho_command(&e, 1, &d, "deactivate", NULL, 201));
	SWEPT("dpf commands: fetch, results (deactivate)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id);
	SWEPT("sho POST /v1/commands/status (dpf status)", {
		assert_int_equal(sf_bearer(&e, e.tokens[0], "POST", "sho.sho1", "/v1/commands/status", body, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
		json_decref(o);
	});
	sf_sweep.on = false;
	id = sf_sho_command(&e, 1, &d, "activate", NULL, 201);
	assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);

	/* AuC resynchronisation (NET-3, TS 33.102 6.3.5): a challenge
	 * answered after the TRE saw higher SEQs fails with AUTS. */
	sf_dev d2;
	sf_dev_make(&e, &d2, NULL);
	assert_int_equal(sf_subscribe(&e, &d2, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d2), 201);
	char att[64];
	uint8_t rand[16], autn[16];
	sf_challenge(&e, d2.pcid_imsi, att, rand, autn);
	for (int i = 0; i < 40; i++)
		assert_int_equal(sf_attach(&e, &d2, NULL), 200);
	static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(d2.t, &agent, "pcid", rand, autn, 16, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	char hex[80];
	assert_int_equal(omc_hex_encode(hex, sizeof hex, r.auts, r.auts_len), OMC_OK);
	snprintf(body, sizeof body, "{\"attach\":\"%s\",\"auts\":\"%s\"}", att, hex);
	sf_sweep.on = true;
	SWEPT("vno POST /v1/attach/resync (auc.ico resync)",
	      assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach/resync", NULL, body, NULL), 200));
	SWEPT("vno attach after the resync", assert_int_equal(sf_attach(&e, &d2, NULL), 200));
	sf_dev_free(&d2);

	/* The operator change (CHG-1, CHG-2): the new SHO asks with the
	 * transfer code; the RO's reprovision reaches the TRE, its result
	 * goes to the old SHO; the device provisions with the new one. */
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"change\":true,\"transfer_code\":\"%s\"}", d.platform_id,
		 code);
	int st = 0;
	SWEPT("sho2 POST /v1/devices (change; drf, ro reprovision)",
	      st = sf_bearer(&e, e.tokens[1], "POST", "sho.sho2", "/v1/devices", body, NULL));
	assert_true(st >= 200 && st <= 202);
	SWEPT("dpf commands: fetch, results (reprovision; sho1 deletions)",
	      assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "reprovision");
	SWEPT("vno attach (PCID)", assert_int_equal(sf_attach(&e, &d, NULL), 200));
	SWEPT("drf POST /v1/register (change)", {
		assert_int_equal(sf_register(&e, &d, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "sho")), "sho2");
		json_decref(o);
	});
	SWEPT("pva nonce and validate (change)", assert_int_equal(sf_validate(&e, &d), 200));
	SWEPT("dpf POST /v1/download (sho2 mcims)", assert_int_equal(sf_download(&e, &d, &receipt), 200));
	SWEPT("dpf POST /v1/receipts (sho2 receipts)", assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	SWEPT("vno attach (MCIM; auc.sho2 vectors)", assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200));

	/* Lockdown and recovery (TRE-4, SEC-5): the RO's recovery nonce and
	 * recovery; the recovered device attaches on its PCID and delivers
	 * its tamper report. */
	sf_sweep.on = false;
	assert_int_equal(omc_tre_tamper(d.t, "probe"), OMC_OK);
	char *rep = NULL;
	assert_int_equal(omc_tre_tamper_report(d.t, &rep), OMC_OK);
	sf_sweep.on = true;
	uint8_t n[32];
	SWEPT("pva POST /v1/recovery/nonce", sf_recovery_nonce(&e, n));
	char *ev = NULL, *auth = NULL;
	assert_int_equal(omc_tre_attest(d.t, n, 32, &ev), OMC_OK);
	SWEPT("pva POST /v1/recovery", assert_int_equal(sf_recovery(&e, rep, ev, &auth, NULL), 200));
	omc_free(ev);
	assert_non_null(auth);
	assert_int_equal(omc_tre_recover(d.t, auth, strlen(auth)), OMC_OK);
	omc_free(auth);
	sf_sweep.on = false;
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	json_t *tb = json_pack("{s:s}", "report", rep);
	char *tbs = json_dumps(tb, JSON_COMPACT);
	json_decref(tb);
	sf_sweep.on = true;
	SWEPT("pva POST /v1/tamper",
	      assert_int_equal(sf_bearer(&e, d.session, "POST", "pva", "/v1/tamper", tbs, NULL), 201));
	sf_sweep.on = false;
	omc_free(tbs);
	omc_free(rep);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'tamper_report'"
				     " AND result = 'ok'"),
			 1);

	sweep_report("server, the rest of the story", &b0);
	assert_int_equal(sf_sweep.by_status[4], 0);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_request_paths),
		cmocka_unit_test(test_server_more_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
