/* Lockdown and recovery end to end (TRE-4, SEC-5): `openmcim server`
 * in-process, the agent and the TRE in this process. A tamper locks the
 * TRE down; the agent goes silent with the TRE's signed tamper report
 * queued; the maintainer takes the report and fresh evidence over a PVA
 * recovery nonce to the PVA, which checks the platform against its
 * reference values and signs a recovery authorisation; the TRE recovers
 * to pristine and the device provisions again by itself, with a new MCIM
 * (the SHO sees the old one deleted in the TRE's evidence). Refusals: a
 * spent nonce, another TRE's evidence, a device not locked down, a
 * platform that still fails its check.
 * covers: TRE-4, SEC-5, SEC-8, EVAL-1 */
#include "srv_fixture.h"

static json_t *claims_of(const char *jws)
{
	uint8_t *p;
	size_t l;
	assert_int_equal(omc_jws_peek(&p, &l, jws, strlen(jws)), OMC_OK);
	json_t *j = json_loadb((const char *)p, l, 0, NULL);
	omc_free(p);
	assert_non_null(j);
	return j;
}

static char *evidence_over_nonce(sf_env *e, sf_dev *d)
{
	uint8_t n[32];
	sf_recovery_nonce(e, n);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(d->t, n, 32, &ev), OMC_OK);
	return ev;
}

static void test_tamper_and_recover(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_fix_ports(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	sf_agent ae;
	sf_agent_make(&ae, &e, &d);
	omc_agent_info in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	char old[16];
	snprintf(old, sizeof old, "%s", in.mcim_imsi);

	/* A report before any tamper: nothing to report. */
	char *rep = NULL;
	assert_int_equal(omc_tre_tamper_report(d.t, &rep), OMC_ERR_BAD_STATE);
	/* The case is opened: lockdown, and a signed report. */
	assert_int_equal(omc_tre_tamper(d.t, "probe"), OMC_OK);
	assert_int_equal(omc_tre_tamper_report(d.t, &rep), OMC_OK);
	/* The agent: silent, with the report queued. The server is gone: a
	 * step that went to the network would count a failure. */
	sf_stop(&e);
	unsigned w;
	for (int i = 0; i < 3; i++)
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_LOCKDOWN);
	assert_int_equal(in.failures, 0);
	uint8_t *st = NULL;
	size_t sl = 0;
	assert_int_equal(d.io->read(d.io->ctx, "agent.state", &st, &sl), OMC_OK);
	assert_non_null(memmem(st, sl, "tamper_report", 13));
	omc_free(st);
	sf_start(&e);

	json_t *rc = claims_of(rep);
	assert_string_equal(json_string_value(json_object_get(rc, "reason")), "tamper: probe");
	assert_string_equal(json_string_value(json_object_get(rc, "tre")), d.tre_id);
	json_decref(rc);

	/* The platform changed: its evidence does not pass. */
	uint8_t *fw = NULL;
	size_t fwl = 0;
	assert_int_equal(d.io->read(d.io->ctx, "platform/firmware.bin", &fw, &fwl), OMC_OK);
	assert_true(fwl > 100);
	assert_int_equal(d.io->pwrite(d.io->ctx, "platform/firmware.bin", 100, (const uint8_t *)"X", 1), OMC_OK);
	sf_dev_reboot(&d);
	assert_int_equal(omc_tre_get_state(d.t), OMC_TRE_LOCKDOWN);
	char *ev = evidence_over_nonce(&e, &d), *auth = NULL;
	json_t *o = NULL;
	assert_int_equal(sf_recovery(&e, rep, ev, &auth, &o), 403);
	assert_string_equal(sf_code(o), "platform_anomaly");
	json_decref(o);
	assert_null(auth);
	omc_free(ev);
	/* Repaired (the firmware as it was), booted: it passes. */
	assert_int_equal(d.io->pwrite(d.io->ctx, "platform/firmware.bin", 100, fw + 100, 1), OMC_OK);
	omc_free(fw);
	sf_dev_reboot(&d);
	ev = evidence_over_nonce(&e, &d);
	assert_int_equal(sf_recovery(&e, rep, ev, &auth, NULL), 200);
	assert_non_null(auth);
	/* The nonce is spent. */
	assert_int_equal(sf_recovery(&e, rep, ev, NULL, &o), 409);
	assert_string_equal(sf_code(o), "nonce_used");
	json_decref(o);
	omc_free(ev);
	/* Another TRE's evidence with this report: refused. */
	sf_dev d2;
	sf_dev_make(&e, &d2, NULL);
	ev = evidence_over_nonce(&e, &d2);
	assert_int_equal(sf_recovery(&e, rep, ev, NULL, &o), 403);
	assert_string_equal(sf_code(o), "other_tre");
	json_decref(o);
	omc_free(ev);
	/* A device no longer locked down: nothing to recover. */
	assert_int_equal(omc_tre_tamper(d2.t, "d2"), OMC_OK);
	char *rep2 = NULL, *auth2 = NULL;
	assert_int_equal(omc_tre_tamper_report(d2.t, &rep2), OMC_OK);
	ev = evidence_over_nonce(&e, &d2);
	assert_int_equal(sf_recovery(&e, rep2, ev, &auth2, NULL), 200);
	omc_free(ev);
	assert_int_equal(omc_tre_recover(d2.t, auth2, strlen(auth2)), OMC_OK);
	omc_free(auth2);
	ev = evidence_over_nonce(&e, &d2);
	assert_int_equal(sf_recovery(&e, rep2, ev, NULL, &o), 409);
	assert_string_equal(sf_code(o), "not_locked_down");
	json_decref(o);
	omc_free(ev);
	omc_free(rep2);
	sf_dev_free(&d2);
	/* The authorisation names this TRE and the lockdown's epoch. */
	uint64_t ctr = 0;
	assert_int_equal(omc_tre_recovery_counter(d.t, &ctr), OMC_OK);
	json_t *ac = claims_of(auth);
	assert_string_equal(json_string_value(json_object_get(ac, "tre")), d.tre_id);
	assert_int_equal((uint64_t)json_integer_value(json_object_get(ac, "counter")), ctr);
	json_decref(ac);
	/* Recovered: pristine, and the device provisions again by itself. */
	assert_int_equal(omc_tre_recover(d.t, auth, strlen(auth)), OMC_OK);
	assert_int_equal(omc_tre_get_state(d.t), OMC_TRE_PRISTINE);
	assert_int_equal(omc_tre_recover(d.t, auth, strlen(auth)), OMC_ERR_BAD_STATE);
	omc_free(auth);
	sf_agent_drop(&ae);
	sf_agent_make(&ae, &e, &d);
	in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho1");
	assert_string_not_equal(in.mcim_imsi, old);
	char q[160];
	snprintf(q, sizeof q, "SELECT enabled FROM auc_subscriber WHERE imsi = '%s'", old);
	assert_int_equal(sf_db_count(&e, q), 0);
	snprintf(q, sizeof q, "SELECT enabled FROM auc_subscriber WHERE imsi = '%s'", in.mcim_imsi);
	assert_int_equal(sf_db_count(&e, q), 1);
	/* The queued report reached the PVA once the device had a session. */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'tamper_report'"
				    " AND result = 'ok'"),
			 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'recovery'"
				    " AND result = 'ok'"),
			 2); /* this device and d2 */
	assert_int_equal(d.io->read(d.io->ctx, "agent.state", &st, &sl), OMC_OK);
	assert_null(memmem(st, sl, "tamper_report", 13));
	omc_free(st);
	omc_free(rep);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tamper_and_recover),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
