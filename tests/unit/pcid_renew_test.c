/* PCID renewal end to end: `openmcim server` in-process over loopback
 * HTTP, the agent and the TRE library in this process. A device whose
 * PCID nears its expiry asks the ICO for a new one (at the PCID's attach,
 * or while operational); the ICO pushes one with its signed `renew_pcid`.
 * Each time the TRE's receipt retires the old IMSI in the ICO's AuC, the
 * new PCID attaches (AKA through the VNO to the ICO's AuC) and the old one
 * no longer does. Refusals: no evidence over a CCIF nonce, another
 * session's nonce, a receipt that is not a renewal's.
 * covers: CHG-4, CHG-5, NET-7, NET-1, NET-3, SEC-9 */
#include "srv_fixture.h"
#include "util/util_internal.h"

#define DAY 86400

typedef struct agent_env {
	omc_agent_local local;
	omc_agent *a;
	char ca[160];
} agent_env;

static void agent_make(agent_env *ae, sf_env *e, sf_dev *d, int64_t renew_before_s)
{
	omc_agent_opts o = {.io = d->io,
			    .state_path = "agent.state",
			    .vno_url = sf_url(e, "vno"),
			    .bootstrap_url = sf_url(e, "bootstrap"),
			    .backoff_min_ms = 2,
			    .backoff_max_ms = 20,
			    .poll_ms = 20,
			    .seed = 17,
			    .renew_before_s = renew_before_s};
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

static omc_agent_info run(agent_env *ae, omc_agent_state want)
{
	omc_agent_info in;
	omc_err e = omc_agent_run(ae->a, 30000);
	omc_agent_info_get(ae->a, &in);
	if (e != OMC_OK || in.state != want)
		fail_msg("agent in %s (%s), wanted %s: %s", omc_agent_state_name(in.state), omc_err_name(e),
			 omc_agent_state_name(want), in.last_error);
	return in;
}

/* The ICO gives new PCIDs 800 days (the factory's last 365): a device
 * renewing within 400 days of the end renews once, not again. */
static void up(sf_env *e)
{
	sf_up(e);
	sf_fix_ports(e);
	sf_stop(e);
	uint8_t *c = NULL;
	size_t len = 0;
	assert_int_equal(omc_read_file(e->conf, &c, &len, 1 << 20), OMC_OK);
	char *conf = omc_alloc(len + 1);
	assert_non_null(conf);
	memcpy(conf, c, len);
	conf[len] = 0;
	omc_free(c);
	const char *key = "pcid_lifetime = 31536000\n";
	char *at = strstr(conf, key);
	assert_non_null(at);
	FILE *f = fopen(e->conf, "w");
	assert_non_null(f);
	fprintf(f, "%.*spcid_lifetime = %d\n%s", (int)(at - conf), conf, 800 * DAY, at + strlen(key));
	assert_int_equal(fclose(f), 0);
	omc_free(conf);
	sf_start(e);
}

static long enabled(sf_env *e, const char *imsi)
{
	char q[160];
	snprintf(q, sizeof q, "SELECT enabled FROM auc_subscriber WHERE operator = 'ico' AND imsi = '%s'", imsi);
	return sf_db_count(e, q);
}

static void pcid_of(sf_dev *d, omc_tre_mcim_info *out)
{
	omc_tre_mcim_info reg[16];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, "pcid")) {
			*out = reg[i];
			return;
		}
	fail_msg("no PCID");
}

/* The old IMSI is refused at the VNO; the new PCID attaches with the
 * TRE's AKA, a provisioning session, through the ICO's AuC. */
static void check_renewed(sf_env *e, sf_dev *d, const char *old_imsi)
{
	omc_tre_mcim_info p;
	pcid_of(d, &p);
	assert_string_not_equal(p.imsi, old_imsi);
	assert_int_equal(strncmp(p.imsi, "00101", 5), 0);
	assert_string_equal(p.role, "bootstrap");
	assert_string_equal(p.owner, "ico");
	assert_int_equal(p.state, OMC_MCIM_ACTIVATED);
	assert_true(p.version >= 2);
	assert_true(p.expires > (int64_t)time(NULL) + 700 * DAY);
	assert_int_equal(enabled(e, old_imsi), 0);
	assert_int_equal(enabled(e, p.imsi), 1);
	char q[200];
	snprintf(q, sizeof q,
		 "SELECT count(*) FROM ccif_renewal WHERE imsi = '%s' AND tre_id = '%s' AND old_imsi = '%s'"
		 " AND state = 'installed'",
		 p.imsi, d->tre_id, old_imsi);
	assert_int_equal(sf_db_count(e, q), 1);
	snprintf(q, sizeof q, "SELECT count(*) FROM ccif_pcid WHERE imsi = '%s' AND tre_id = '%s' AND mode = 'renewal'",
		 p.imsi, d->tre_id);
	assert_int_equal(sf_db_count(e, q), 1);
	/* The old PCID no longer attaches. */
	char body[64];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\"}", old_imsi);
	json_t *a = NULL;
	int st = sf_call(e, "POST", "vno", "/v1/attach", NULL, body, &a);
	assert_int_not_equal(st, 200);
	json_decref(a);
	/* The new one does. */
	assert_int_equal(sf_attach(e, d, "pcid"), 200);
}

/* CHG-4, CHG-5: a pristine device whose PCID nears its end renews when it
 * attaches with it, attaches again with the new PCID and provisions with
 * it. */
static void test_renew_at_pcid_attach(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	char old[16];
	snprintf(old, sizeof old, "%s", d.pcid_imsi);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	assert_int_equal(enabled(&e, old), 1);
	agent_env ae;
	agent_make(&ae, &e, &d, 400 * DAY);
	omc_agent_info in = run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho1");
	check_renewed(&e, &d, old);
	/* The DRF saw it register with the new PCID. */
	omc_tre_mcim_info p;
	pcid_of(&d, &p);
	char q[160];
	snprintf(q, sizeof q, "SELECT count(*) FROM drf_seen WHERE tre_id = '%s' AND pcid_imsi = '%s'", d.tre_id, p.imsi);
	assert_int_equal(sf_db_count(&e, q), 1);
	/* Once only: the new PCID is far from its end. */
	run(&ae, OMC_AGENT_OPERATIONAL);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_renewal"), 1);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CHG-4: an operational device renews from its operational session, keeps
 * its MCIM, and the new PCID attaches. */
static void test_renew_operational(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	char old[16];
	snprintf(old, sizeof old, "%s", d.pcid_imsi);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	agent_env ae;
	agent_make(&ae, &e, &d, 0); /* 30 days: not yet */
	omc_agent_info in = run(&ae, OMC_AGENT_OPERATIONAL);
	omc_tre_mcim_info p;
	pcid_of(&d, &p);
	assert_string_equal(p.imsi, old);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_renewal"), 0);
	char mcim_imsi[16];
	snprintf(mcim_imsi, sizeof mcim_imsi, "%s", in.mcim_imsi);
	/* The same device, an agent that renews 400 days ahead. */
	agent_drop(&ae);
	agent_make(&ae, &e, &d, 400 * DAY);
	in = run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.mcim_imsi, mcim_imsi);
	check_renewed(&e, &d, old);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* NET-7: the ICO pushes a renewal: its signed renew_pcid reaches the TRE
 * through the DPF, the signed result tells the agent, which renews now. */
static void test_renew_pushed(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	char old[16];
	snprintf(old, sizeof old, "%s", d.pcid_imsi);
	assert_int_equal(sf_subscribe(&e, &d, 1), 201);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	agent_env ae;
	agent_make(&ae, &e, &d, -1); /* only when asked */
	run(&ae, OMC_AGENT_OPERATIONAL);
	/* Only the ICO pushes; an SHO, or an unknown TRE, gets nowhere. */
	char body[128];
	snprintf(body, sizeof body, "{\"tre\":\"%s\"}", d.tre_id);
	json_t *o = NULL;
	assert_int_equal(sf_signed(&e, "sho1", "POST", "ccif", "/v1/pcids/push", body, &o), 401);
	json_decref(o);
	o = NULL;
	assert_int_equal(sf_signed(&e, "ico", "POST", "ccif", "/v1/pcids/push", "{\"tre\":\"tre-unknown\"}", &o), 404);
	assert_string_equal(sf_code(o), "unknown_device");
	json_decref(o);
	o = NULL;
	assert_int_equal(sf_signed(&e, "ico", "POST", "ccif", "/v1/pcids/push", body, &o), 201);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "queued");
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	json_int_t seq = json_integer_value(json_object_get(o, "seq"));
	assert_true(id > 0 && seq > 0);
	json_decref(o);
	/* Pushed again before the TRE answered (the first answer lost, say):
	 * the same command, none queued besides. */
	assert_int_equal(sf_signed(&e, "ico", "POST", "ccif", "/v1/pcids/push", body, &o), 201);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), seq);
	json_decref(o);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ico' AND state = 'queued'"), 1);
	run(&ae, OMC_AGENT_OPERATIONAL);
	run(&ae, OMC_AGENT_OPERATIONAL);
	check_renewed(&e, &d, old);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ico' AND state = 'done'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM ccif_renewal"), 1);
	agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The CCIF's refusals: no session, evidence over no nonce of its own
 * (changing nothing), a nonce used twice, a receipt no TRE signed; the
 * right receipt twice retires the old PCID once. */
static void test_renew_refusals(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	assert_int_equal(sf_attach(&e, &d, "pcid"), 200);
	char auth[96];
	snprintf(auth, sizeof auth, "Bearer %s", d.session);
	/* No session. */
	json_t *o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/nonce", NULL, "{}", &o), 401);
	json_decref(o);
	/* Evidence over a nonce the CCIF never gave. */
	uint8_t n[32] = {1, 2, 3};
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(d.t, n, sizeof n, &ev), OMC_OK);
	json_t *b = json_pack("{s:s}", "evidence", ev);
	char *bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	omc_free(ev);
	uint8_t before[32], after[32];
	sf_db_digest(&e, before);
	o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/renew", auth, bs, &o), 403);
	assert_string_equal(sf_code(o), "unknown_nonce");
	json_decref(o);
	omc_free(bs);
	sf_db_digest(&e, after);
	assert_memory_equal(before, after, 32);
	/* A nonce of this session: one renewal, then it is spent. */
	o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/nonce", auth, "{}", &o), 201);
	const char *nb = json_string_value(json_object_get(o, "nonce"));
	uint8_t nn[64];
	size_t nl = 0;
	assert_int_equal(omc_b64_decode(nn, sizeof nn, &nl, nb, strlen(nb), OMC_B64_URL), OMC_OK);
	json_decref(o);
	ev = NULL;
	assert_int_equal(omc_tre_session_begin(d.t, nn, nl, &ev), OMC_OK);
	b = json_pack("{s:s}", "evidence", ev);
	bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	omc_free(ev);
	o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/renew", auth, bs, &o), 200);
	const char *pkg = json_string_value(json_object_get(o, "package"));
	assert_non_null(pkg);
	char *receipt = NULL;
	assert_int_equal(omc_tre_install(d.t, pkg, strlen(pkg), &receipt), OMC_OK);
	json_decref(o);
	o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/renew", auth, bs, &o), 409);
	assert_string_equal(sf_code(o), "nonce_used");
	json_decref(o);
	omc_free(bs);
	/* Not signed by a TRE: refused. */
	b = json_pack("{s:s}", "receipt", "eyJhbGciOiJFUzI1NiJ9.eyJ0cmUiOiJ4In0.c2lnbmF0dXJl");
	bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	o = NULL;
	assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/receipts", auth, bs, &o), 403);
	json_decref(o);
	omc_free(bs);
	/* The right one, twice: the same answer, one retirement. */
	b = json_pack("{s:s}", "receipt", receipt);
	bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	for (int i = 0; i < 2; i++) {
		o = NULL;
		assert_int_equal(sf_call(&e, "POST", "bootstrap", "/v1/pcids/receipts", auth, bs, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "replaced")), d.pcid_imsi);
		json_decref(o);
	}
	omc_free(bs);
	omc_free(receipt);
	assert_int_equal(enabled(&e, d.pcid_imsi), 0);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_at_pcid_attach),
		cmocka_unit_test(test_renew_operational),
		cmocka_unit_test(test_renew_pushed),
		cmocka_unit_test(test_renew_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
