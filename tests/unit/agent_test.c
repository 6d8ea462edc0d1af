/* The M2ME agent against `openmcim server` in-process over loopback HTTP,
 * with the TRE library in the same process: the whole story (NET-1, NET-3,
 * NET-4, SVC-1, SEC-8, SEC-9, MGT-1, TRE-7), a registration pending until
 * the subscriber registers the device (SVC-1, EVAL-3), a resume from the
 * saved state after every step, a receipt lost with the process (signed
 * again), lockdown stopping all network activity
 * (TRE-4), and a modified platform refused by the PVA (SEC-3, SEC-8). */
#include "srv_fixture.h"

typedef struct agent_env {
	omc_agent_local local;
	omc_agent *a;
	char ca[160];
} agent_env;

static void agent_make(agent_env *ae, sf_env *e, sf_dev *d)
{
	omc_agent_opts o = {.io = d->io,
			    .state_path = "agent.state",
			    .vno_url = sf_url(e, "vno"),
			    .bootstrap_url = sf_url(e, "bootstrap"),
			    .backoff_min_ms = 5,
			    .backoff_max_ms = 100,
			    .poll_ms = 50,
			    .seed = 7};
	snprintf(ae->ca, sizeof ae->ca, "%s/ico-ca.crt", e->pki);
	o.bootstrap_ca = ae->ca;
	omc_agent_tre_local(&o.tre, &ae->local, d->t, "agent");
	assert_int_equal(omc_agent_new(&ae->a, &o), OMC_OK);
}

static void agent_drop(agent_env *ae)
{
	omc_agent_free(ae->a);
	ae->a = NULL;
}

/* A device of the deployment, its PCID reported and (sho 1 or 2; 0: not
 * yet) registered with an SHO by its subscriber. */
static void device_up(sf_env *e, sf_dev *d, int sho)
{
	sf_dev_make(e, d, NULL);
	if (sho)
		assert_int_equal(sf_subscribe(e, d, sho), 201);
	assert_int_equal(sf_report_pcid(e, d), 201);
}

static void assert_operational(agent_env *ae, const char *sho)
{
	omc_agent_info in;
	omc_agent_info_get(ae->a, &in);
	if (in.state != OMC_AGENT_OPERATIONAL)
		fail_msg("agent in %s: %s", omc_agent_state_name(in.state), in.last_error);
	assert_string_equal(in.sho, sho);
	assert_true(in.mcim_id[0] != 0);
}

static void test_agent_provisions(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	device_up(&e, &d, 2);
	agent_env ae;
	agent_make(&ae, &e, &d);
	assert_int_equal(omc_agent_run(ae.a, 30000), OMC_OK);
	assert_operational(&ae, "sho2");
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(strncmp(in.mcim_imsi, "00103", 5), 0);
	/* The SHO's AuC issued the vectors of the operational attach. */
	char q[160];
	snprintf(q, sizeof q, "SELECT count(*) FROM auc_av_log WHERE imsi = '%s'", in.mcim_imsi);
	assert_true(sf_db_count(&e, q) >= 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE state = 'installed'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'provisioned'"), 1);
	agent_drop(&ae);
	/* A new agent on the saved state goes on from operational. */
	agent_make(&ae, &e, &d);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_OPERATIONAL);
	assert_int_equal(omc_agent_run(ae.a, 10000), OMC_OK);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim"), 1);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

static void test_agent_waits_until_registered(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	device_up(&e, &d, 0);
	agent_env ae;
	agent_make(&ae, &e, &d);
	omc_agent_info in;
	unsigned w;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		omc_agent_info_get(ae.a, &in);
		if (in.pending)
			break;
	}
	assert_true(in.pending);
	assert_int_equal(in.state, OMC_AGENT_REGISTER);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim"), 0);
	/* Still pending on the next try. */
	assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	assert_true(w > 0);
	omc_agent_info_get(ae.a, &in);
	assert_true(in.pending);
	/* The subscriber registers it: the device goes on by itself. */
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(omc_agent_run(ae.a, 30000), OMC_OK);
	assert_operational(&ae, "sho1");
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* Kill the agent after every step in turn (and the device with it: its
 * TRE is closed and opened again): each device still completes, with one
 * MCIM and an IMSI of its own. */
static void test_agent_resumes_after_every_step(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	for (unsigned k = 1; k <= 10; k++) {
		sf_dev d;
		device_up(&e, &d, 1 + k % 2);
		agent_env ae;
		agent_make(&ae, &e, &d);
		unsigned w;
		for (unsigned i = 0; i < k; i++)
			assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		agent_drop(&ae);
		sf_dev_reboot(&d);
		agent_make(&ae, &e, &d);
		assert_int_equal(omc_agent_run(ae.a, 30000), OMC_OK);
		assert_operational(&ae, k % 2 ? "sho2" : "sho1");
		omc_tre_mcim_info reg[8];
		size_t n = 0, operational = 0;
		assert_int_equal(omc_tre_registry(d.t, reg, 8, &n), OMC_OK);
		for (size_t i = 0; i < n; i++)
			operational += !strcmp(reg[i].role, "operational");
		assert_int_equal(operational, 1);
		agent_drop(&ae);
		sf_dev_free(&d);
	}
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim"), 10);
	assert_int_equal(sf_db_count(&e, "SELECT count(DISTINCT imsi) FROM sho_mcim"), 10);
	assert_int_equal(sf_db_count(&e, "SELECT count(DISTINCT tre_id) FROM sho_mcim"), 10);
	sf_down(&e);
}

/* The process dies after the TRE installed the MCIM and before the agent
 * saved the receipt: the saved state is the one from before the download.
 * The agent validates and downloads again, the SHO sends the same MCIM, the
 * TRE signs the receipt again, and the SHO gets it: its MCIM ends
 * `installed`, not left `issued` (docs/objects.md, "The same MCIM again"). */
static void test_agent_receipt_lost_with_process(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	device_up(&e, &d, 1);
	agent_env ae;
	agent_make(&ae, &e, &d);
	omc_agent_info in;
	unsigned w;
	for (int i = 0; i < 40; i++) {
		omc_agent_info_get(ae.a, &in);
		if (in.state == OMC_AGENT_DOWNLOAD)
			break;
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	}
	assert_int_equal(in.state, OMC_AGENT_DOWNLOAD);
	uint8_t *saved = NULL;
	size_t len = 0;
	assert_int_equal(d.io->read(d.io->ctx, "agent.state", &saved, &len), OMC_OK);
	assert_int_equal(d.io->pwrite(d.io->ctx, "agent.state.before", 0, saved, len), OMC_OK);
	omc_free(saved);
	assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_RECEIPT);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE state = 'issued'"), 1);
	/* The receipt and the state after the install are lost with the process. */
	agent_drop(&ae);
	assert_int_equal(d.io->rename(d.io->ctx, "agent.state.before", "agent.state"), OMC_OK);
	sf_dev_reboot(&d);
	agent_make(&ae, &e, &d);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_DOWNLOAD);
	assert_int_equal(omc_agent_run(ae.a, 30000), OMC_OK);
	assert_operational(&ae, "sho1");
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE state = 'installed'"), 1);
	omc_tre_mcim_info reg[8];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d.t, reg, 8, &n), OMC_OK);
	assert_int_equal(n, 2); /* the PCID and the one MCIM */
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

static void test_agent_lockdown_stops_network(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	device_up(&e, &d, 1);
	agent_env ae;
	agent_make(&ae, &e, &d);
	assert_int_equal(omc_agent_run(ae.a, 30000), OMC_OK);
	assert_int_equal(omc_tre_tamper(d.t, "case opened"), OMC_OK);
	/* The server is gone: a step that went to the network would fail. */
	sf_stop(&e);
	unsigned w = 0;
	assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_LOCKDOWN);
	assert_int_equal(in.failures, 0);
	assert_string_equal(in.last_error, "");
	assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_LOCKDOWN);
	assert_int_equal(in.failures, 0);
	assert_true(w > 0);
	assert_int_equal(omc_agent_run(ae.a, 1000), OMC_OK);
	sf_start(&e);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

static void test_agent_modified_platform_refused(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	device_up(&e, &d, 1);
	/* One byte of the firmware changed, then a boot. */
	assert_int_equal(d.io->pwrite(d.io->ctx, "platform/firmware.bin", 100, (const uint8_t *)"X", 1), OMC_OK);
	assert_int_equal(d.io->sync(d.io->ctx, "platform/firmware.bin"), OMC_OK);
	sf_dev_reboot(&d);
	agent_env ae;
	agent_make(&ae, &e, &d);
	omc_agent_info in;
	unsigned w;
	for (int i = 0; i < 12; i++)
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
	omc_agent_info_get(ae.a, &in);
	assert_int_equal(in.state, OMC_AGENT_VALIDATE);
	assert_non_null(strstr(in.last_error, "platform_anomaly"));
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim"), 0);
	assert_true(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND result = 'refused'"
				    " AND detail = 'platform_anomaly'") >= 1);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_provisions),
		cmocka_unit_test(test_agent_waits_until_registered),
		cmocka_unit_test(test_agent_resumes_after_every_step),
		cmocka_unit_test(test_agent_receipt_lost_with_process),
		cmocka_unit_test(test_agent_lockdown_stops_network),
		cmocka_unit_test(test_agent_modified_platform_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
