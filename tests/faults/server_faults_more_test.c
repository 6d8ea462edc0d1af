/* Allocation-failure injection on the rest of the server's story (issue 7,
 * docs/SECURITY.md), as tests/faults/server_faults_test.c does for the
 * provisioning story (its header says how the sweep works, and lists the
 * bugs both found): on a device provisioned without the sweep, bootstrap,
 * CCIF PCID generation and push, the pushed renew_pcid through the DPF, the
 * renewal (pcids nonce, renew, receipts), the SHO's command and status
 * endpoints, AuC resynchronisation (an AUTS through attach/resync), the
 * operator change (the new SHO's request, the DRF and the RO's
 * reprovision, its result passed on to the old SHO's deletions, the new
 * SHO's TUAK MCIM downloaded and attached), the PVA's recovery nonce and
 * recovery, and the recovered device's tamper report. A separate binary so
 * that ctest runs it next to the first (each sweep takes minutes under
 * ASan). The direct change (dpf POST /v1/switch), the SHO's update and
 * its own delete are swept in server_faults_change_test.c, the hostapd
 * socket in hlrgw_faults_test.c. Not swept yet: osmo-hlr's GSUP and CTRL
 * clients, the link.
 * covers: SEC-13, NET-3, NET-4, NET-7, CHG-1, CHG-2, CHG-4, CCIF-2, MGT-8, TRE-4, SEC-5 */
#include "srv_fixture.h"

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
	SF_SWEPT("bootstrap GET /v1/bootstrap",
	      assert_int_equal(sf_bearer(&e, d.session, "GET", "bootstrap", "/v1/bootstrap", NULL, NULL), 200));
	SF_SWEPT("ccif POST /v1/pcids",
	      assert_int_equal(sf_signed(&e, "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":1}", NULL), 201));
	snprintf(body, sizeof body, "{\"tre\":\"%s\"}", d.tre_id);
	SF_SWEPT("ccif POST /v1/pcids/push",
	      assert_int_equal(sf_signed(&e, "ico", "POST", "ccif", "/v1/pcids/push", body, NULL), 201));
	char names[4][24];
	SF_SWEPT("dpf commands: fetch, results (renew_pcid)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "renew_pcid");
	SF_SWEPT("bootstrap pcids nonce, renew, receipts", renew_pcid(&e, &d));

	/* The owner's commands (MGT-8) through the SHO, and a delete's
	 * receipt passed back to it (sho POST /v1/deletions). */
	json_int_t id = 0;
	SF_SWEPT("sho POST /v1/commands", id = sf_sho_command(&e, 1, &d, "deactivate", NULL, 201));
	SF_SWEPT("dpf commands: fetch, results (deactivate)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id);
	SF_SWEPT("sho POST /v1/commands/status (dpf status)", {
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
	SF_SWEPT("vno POST /v1/attach/resync (auc.ico resync)",
	      assert_int_equal(sf_call(&e, "POST", "vno", "/v1/attach/resync", NULL, body, NULL), 200));
	SF_SWEPT("vno attach after the resync", assert_int_equal(sf_attach(&e, &d2, NULL), 200));
	sf_dev_free(&d2);

	/* The operator change (CHG-1, CHG-2): the new SHO asks with the
	 * transfer code; the RO's reprovision reaches the TRE, its result
	 * goes to the old SHO; the device provisions with the new one. */
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"change\":true,\"transfer_code\":\"%s\"}", d.platform_id,
		 code);
	int st = 0;
	SF_SWEPT("sho2 POST /v1/devices (change; drf, ro reprovision)",
	      st = sf_bearer(&e, e.tokens[1], "POST", "sho.sho2", "/v1/devices", body, NULL));
	assert_true(st >= 200 && st <= 202);
	SF_SWEPT("dpf commands: fetch, results (reprovision; sho1 deletions)",
	      assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "reprovision");
	SF_SWEPT("vno attach (PCID)", assert_int_equal(sf_attach(&e, &d, NULL), 200));
	SF_SWEPT("drf POST /v1/register (change)", {
		assert_int_equal(sf_register(&e, &d, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "sho")), "sho2");
		json_decref(o);
	});
	SF_SWEPT("pva nonce and validate (change)", assert_int_equal(sf_validate(&e, &d), 200));
	SF_SWEPT("dpf POST /v1/download (sho2 mcims)", assert_int_equal(sf_download(&e, &d, &receipt), 200));
	SF_SWEPT("dpf POST /v1/receipts (sho2 receipts)", assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	SF_SWEPT("vno attach (MCIM; auc.sho2 vectors)", assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200));

	/* Lockdown and recovery (TRE-4, SEC-5): the RO's recovery nonce and
	 * recovery; the recovered device attaches on its PCID and delivers
	 * its tamper report. */
	sf_sweep.on = false;
	assert_int_equal(omc_tre_tamper(d.t, "probe"), OMC_OK);
	char *rep = NULL;
	assert_int_equal(omc_tre_tamper_report(d.t, &rep), OMC_OK);
	sf_sweep.on = true;
	uint8_t n[32];
	SF_SWEPT("pva POST /v1/recovery/nonce", sf_recovery_nonce(&e, n));
	char *ev = NULL, *auth = NULL;
	assert_int_equal(omc_tre_attest(d.t, n, 32, &ev), OMC_OK);
	SF_SWEPT("pva POST /v1/recovery", assert_int_equal(sf_recovery(&e, rep, ev, &auth, NULL), 200));
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
	SF_SWEPT("pva POST /v1/tamper",
	      assert_int_equal(sf_bearer(&e, d.session, "POST", "pva", "/v1/tamper", tbs, NULL), 201));
	sf_sweep.on = false;
	omc_free(tbs);
	omc_free(rep);
	/* Taken: once by the clean call, and once more by each failed one
	 * that took it before its answer failed (the audit is left out of
	 * the sweep's digest: it records attempts). */
	assert_true(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'tamper_report'"
				" AND result = 'ok'") >= 1);

	sf_sweep_report("server, the rest of the story", &b0);
	assert_int_equal(sf_sweep.by_status[4], 0);
	assert_true(sf_sweep.failures > sf_sweep.calls);
	assert_true(sf_sweep.retry_ok > 0 && sf_sweep.retry_idempotent > 0 && sf_sweep.retry_by_design > 0);
	assert_int_equal(sf_sweep.landed, sf_sweep.retry_ok + sf_sweep.retry_idempotent + sf_sweep.retry_by_design);
	assert_true(sf_sweep.went_on > 0);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_more_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
