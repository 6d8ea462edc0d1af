/* Allocation-failure injection on the server's request path (issue 7,
 * docs/SECURITY.md): the whole provisioning story and the session's own
 * endpoints (here), and the rest of the story on a provisioned device
 * (server_faults_more_test.c: bootstrap, CCIF PCIDs, push and renewal, the
 * SHO's commands, resync with an AUTS, the operator change with the RO's
 * reprovision and the old SHO's deletion receipt, recovery and the tamper
 * report) are driven through `openmcim server` in this
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
	SF_SWEPT("sho POST /v1/devices", assert_int_equal(sf_subscribe(&e, &d, 1), 201));
	SF_SWEPT("ccif POST /v1/reports", assert_int_equal(sf_report_pcid(&e, &d), 201));
	SF_SWEPT("vno attach and complete (PCID; auc.ico vectors)", assert_int_equal(sf_attach(&e, &d, NULL), 200));
	json_t *r = NULL;
	SF_SWEPT("drf POST /v1/register", assert_int_equal(sf_register(&e, &d, &r), 200));
	json_decref(r);
	SF_SWEPT("pva nonce and validate", assert_int_equal(sf_validate(&e, &d), 200));
	char *receipt = NULL;
	SF_SWEPT("dpf POST /v1/download (sho mcims)", assert_int_equal(sf_download(&e, &d, &receipt), 200));
	SF_SWEPT("dpf POST /v1/receipts (sho receipts)", assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	SF_SWEPT("vno attach and complete (MCIM; auc.sho1 vectors)", assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200));

	/* the session's own endpoints, and the subscriber's list */
	SF_SWEPT("session, data, commands, devices, metrics", {
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
	SF_SWEPT("dpf commands: queue, fetch, results, status", commands(&e, &d));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_request_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
