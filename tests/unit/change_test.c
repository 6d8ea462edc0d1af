/* Operator change and remote management end to end: `openmcim server`
 * in-process over loopback HTTP, the agent and the TRE library in this
 * process. A subscriber moves its device to another SHO; the RO's signed
 * `reprovision` erases the old SHO's MCIM, the device provisions again
 * with the new SHO, and the old SHO disables the IMSI on the TRE's signed
 * deletion receipt. Connectivity is cut, and the device rebooted, at every
 * step of a change. An SHO's subscriber manages its MCIM with signed
 * commands; another SHO and a replay get nowhere.
 * covers: CHG-1, CHG-2, CHG-3, EVAL-4, MGT-6, MGT-8, EVAL-5, SEC-10 */
#include "srv_fixture.h"


/* DESIGN invariant 4, and what an operator change must leave: at most one
 * owner's operational MCIMs activated; *live the operational MCIMs not
 * deleted, *owner the owner of the activated one. */
static size_t activated(sf_dev *d, size_t *live, char owner[17])
{
	omc_tre_mcim_info reg[64];
	size_t n = 0, k = 0;
	*live = 0;
	owner[0] = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(reg[i].role, "operational") != 0 || reg[i].state == OMC_MCIM_DELETED)
			continue;
		(*live)++;
		if (reg[i].state == OMC_MCIM_ACTIVATED) {
			if (k && strcmp(owner, reg[i].owner) != 0)
				fail_msg("two SHOs' MCIMs activated: %s and %s", owner, reg[i].owner);
			snprintf(owner, 17, "%s", reg[i].owner);
			k++;
		}
	}
	return k;
}

static void assert_invariant(sf_dev *d)
{
	size_t live;
	char owner[17];
	assert_true(activated(d, &live, owner) <= 1);
}

/* The device's transfer code, as its subscriber holds it (the last
 * registration or change gave it). */
static char transfer_code[64];

static void keep_code(json_t *o)
{
	const char *c = json_string_value(json_object_get(o, "transfer_code"));
	if (c && c[0])
		snprintf(transfer_code, sizeof transfer_code, "%s", c);
}

static int change_with(sf_env *e, sf_dev *d, int sho, const char *extra, const char *code, json_t **out)
{
	char body[256], role[16];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"change\":true,\"transfer_code\":\"%s\"%s}",
		 d->platform_id, code, extra);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *o = NULL;
	int st = sf_bearer(e, e->tokens[sho - 1], "POST", role, "/v1/devices", body, &o);
	if (st >= 200 && st <= 202)
		keep_code(o); /* every answer of its SHO gives a fresh one */
	if (out)
		*out = o;
	else
		json_decref(o);
	return st;
}

static int change_to(sf_env *e, sf_dev *d, int sho, json_t **out)
{
	return change_with(e, d, sho, "", transfer_code, out);
}

static long enabled(sf_env *e, const char *imsi)
{
	char q[160];
	snprintf(q, sizeof q, "SELECT enabled FROM auc_subscriber WHERE imsi = '%s'", imsi);
	return sf_db_count(e, q);
}

/* The device is with SHO want after a change: one operational MCIM live
 * and activated, want's; its IMSI enabled, the old one (old) disabled. */
static void assert_moved(sf_env *e, sf_dev *d, const omc_agent_info *in, const char *want, const char *old)
{
	assert_string_equal(in->sho, want);
	size_t live;
	char owner[17];
	assert_int_equal(activated(d, &live, owner), 1);
	assert_int_equal(live, 1);
	assert_string_equal(owner, want);
	assert_int_equal(enabled(e, old), 0);
	assert_int_equal(enabled(e, in->mcim_imsi), 1);
}

/* A device provisioned with sho1 by its agent. */
static void provisioned(sf_env *e, sf_dev *d, sf_agent *ae)
{
	sf_dev_make(e, d, NULL);
	char body[96];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d->platform_id);
	json_t *o = NULL;
	assert_int_equal(sf_bearer(e, e->tokens[0], "POST", "sho.sho1", "/v1/devices", body, &o), 201);
	keep_code(o);
	assert_int_equal(strlen(transfer_code), 43);
	json_decref(o);
	assert_int_equal(sf_report_pcid(e, d), 201);
	sf_agent_make(ae, e, d);
	omc_agent_info in = sf_agent_run(ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho1");
}

/* The same, and old the IMSI of its MCIM. */
static void provisioned_old(sf_env *e, sf_dev *d, sf_agent *ae, char old[16])
{
	provisioned(e, d, ae);
	omc_agent_info in;
	omc_agent_info_get(ae->a, &in);
	snprintf(old, 16, "%s", in.mcim_imsi);
}

/* CHG-1, CHG-2, EVAL-4: ten operator changes in a row on one device,
 * alternating SHOs. After each: exactly one operational MCIM live and
 * activated, the new SHO's; its IMSI enabled in the new SHO's AuC and the
 * old one disabled in the old SHO's, on the TRE's signed receipt. */
static void test_ten_changes(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	provisioned(&e, &d, &ae);
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	char prev[16];
	snprintf(prev, sizeof prev, "%s", in.mcim_imsi);
	/* A subscriber who lost the code asks its SHO for a new one. */
	{
		char first[64], body[128];
		snprintf(first, sizeof first, "%s", transfer_code);
		snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"new_transfer_code\":true}", d.platform_id);
		json_t *o = NULL;
		assert_int_equal(sf_bearer(&e, e.tokens[0], "POST", "sho.sho1", "/v1/devices", body, &o), 201);
		keep_code(o);
		json_decref(o);
		assert_string_not_equal(first, transfer_code);
		assert_int_equal(change_with(&e, &d, 2, "", first, NULL), 403);
		assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'change' AND result = 'refused'"),
				 1);
	}
	for (int i = 1; i <= 10; i++) {
		int to = i % 2 ? 2 : 1;
		json_t *o = NULL;
		char used[64];
		snprintf(used, sizeof used, "%s", transfer_code);
		assert_int_equal(change_to(&e, &d, to, &o), 202);
		/* The code changed with the move: the old one is void. */
		assert_string_not_equal(used, transfer_code);
		assert_string_equal(json_string_value(json_object_get(o, "state")), "changing");
		json_decref(o);
		/* Changing again to the same SHO changes nothing more. */
		assert_int_equal(change_to(&e, &d, to, NULL), 201);
		/* Without the code, or with an old one, another SHO gets nowhere. */
		assert_int_equal(change_with(&e, &d, to == 1 ? 2 : 1, "", "not-the-code", &o), 403);
		assert_string_equal(sf_code(o), "bad_transfer_code");
		json_decref(o);
		assert_int_equal(change_with(&e, &d, to == 1 ? 2 : 1, "", used, &o), 403);
		json_decref(o);
		in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
		char want[8], owner[17];
		snprintf(want, sizeof want, "sho%d", to);
		assert_string_equal(in.sho, want);
		size_t live;
		assert_int_equal(activated(&d, &live, owner), 1);
		assert_int_equal(live, 1);
		assert_string_equal(owner, want);
		assert_int_equal(strncmp(in.mcim_imsi, to == 1 ? "00102" : "00103", 5), 0);
		assert_int_equal(enabled(&e, in.mcim_imsi), 1);
		assert_int_equal(enabled(&e, prev), 0);
		assert_string_not_equal(prev, in.mcim_imsi);
		snprintf(prev, sizeof prev, "%s", in.mcim_imsi);
	}
	/* Every reprovision answered and passed on; ten IMSIs dead, one live. */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'done'"), 10);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM auc_subscriber WHERE operator <> 'ico' AND enabled = 0"),
			 10);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM auc_subscriber WHERE operator <> 'ico' AND enabled = 1"),
			 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'mcim_deleted'"), 10);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CHG-3: the connection cut, and the device rebooted, after every step of
 * a change in turn. Whatever the cut, the device never has two SHOs'
 * MCIMs activated, and it ends provisioned with the new SHO by itself;
 * the old SHO's IMSI ends disabled. */
static void test_change_cut_at_every_step(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_fix_ports(&e);
	for (unsigned k = 0; k <= 10; k++) {
		sf_dev d;
		sf_agent ae;
		provisioned(&e, &d, &ae);
		omc_agent_info in;
		omc_agent_info_get(ae.a, &in);
		char old[16];
		snprintf(old, sizeof old, "%s", in.mcim_imsi);
		assert_int_equal(change_to(&e, &d, 2, NULL), 202);
		unsigned w;
		for (unsigned i = 0; i < k; i++) {
			assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
			assert_invariant(&d);
		}
		/* The network goes; a few steps fail; the power goes. */
		sf_stop(&e);
		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
			assert_invariant(&d);
		}
		sf_agent_drop(&ae);
		sf_dev_reboot(&d);
		assert_invariant(&d);
		sf_start(&e);
		sf_agent_make(&ae, &e, &d);
		in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
		assert_string_equal(in.sho, "sho2");
		size_t live;
		char owner[17];
		assert_int_equal(activated(&d, &live, owner), 1);
		assert_int_equal(live, 1);
		assert_string_equal(owner, "sho2");
		assert_int_equal(enabled(&e, in.mcim_imsi), 1);
		assert_int_equal(enabled(&e, old), 0);
		sf_agent_drop(&ae);
		sf_dev_free(&d);
	}
	sf_down(&e);
}

/* The signed result's claims of command id, read by sho's subscriber. */
static json_t *result_of(sf_env *e, int sho, json_int_t id, const char *want_state)
{
	char body[64], role[16];
	snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *o = NULL;
	assert_int_equal(sf_bearer(e, e->tokens[sho - 1], "POST", role, "/v1/commands/status", body, &o), 200);
	assert_string_equal(json_string_value(json_object_get(o, "state")), want_state);
	const char *r = json_string_value(json_object_get(o, "result"));
	assert_non_null(r);
	json_t *c = NULL;
	if (strchr(r, '.')) {
		uint8_t *p;
		size_t l;
		assert_int_equal(omc_jws_peek(&p, &l, r, strlen(r)), OMC_OK);
		c = json_loadb((const char *)p, l, 0, NULL);
		omc_free(p);
	} else {
		c = json_pack("{s:s}", "error", r);
	}
	json_decref(o);
	return c;
}

/* The body of dpf POST /v1/commands: a command signed as PKI entity who,
 * with seq, for d's TRE. */
static char *queue_body(sf_env *e, const char *who, json_int_t seq, sf_dev *d, const char *cmd, const char *id)
{
	omc_key *k = NULL;
	omc_cert *cert = NULL;
	assert_int_equal(omc_pki_load(e->pki, who, &k, &cert), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s}", "iss", who, "seq", seq, "tre", d->tre_id, "cmd", cmd, "mcim", id);
	char *ps = json_dumps(p, JSON_COMPACT), *jws = NULL;
	json_decref(p);
	const omc_cert *x5c[1] = {cert};
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)ps, strlen(ps), k, x5c, 1, "omc-command+jwt"), OMC_OK);
	omc_free(ps);
	omc_key_free(k);
	omc_cert_free(cert);
	json_t *b = json_pack("{s:s,s:s}", "tre", d->tre_id, "command", jws);
	char *bs = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	omc_free(jws);
	return bs;
}

static const omc_tre_mcim_info *mcim(sf_dev *d, omc_tre_mcim_info *buf)
{
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d->t, buf, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(buf[i].role, "operational") && buf[i].state != OMC_MCIM_DELETED)
			return &buf[i];
	return NULL;
}

/* MGT-8, EVAL-5, SEC-10: the owner's subscriber deactivates, activates,
 * blocks, unblocks, updates and deletes through the SHO; the TRE signs
 * each result; a device whose MCIM is held waits in standby on its PCID.
 * Another SHO's command and a replayed one change nothing. MGT-6: the
 * owner discovers its MCIMs only. */
static void test_management(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	provisioned(&e, &d, &ae);
	omc_tre_mcim_info reg[64];
	json_t *c;
	/* deactivate: the device waits in standby with its PCID */
	json_int_t id = sf_sho_command(&e, 1, &d, "deactivate", NULL, 201);
	/* Sent again while open (its answer lost, say): the same command,
	 * none queued besides; another command is queued. */
	assert_int_equal(sf_sho_command(&e, 1, &d, "deactivate", NULL, 201), id);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1' AND state = 'queued'"),
			 1);
	sf_agent_run(&ae, OMC_AGENT_STANDBY);
	assert_int_equal(mcim(&d, reg)->state, OMC_MCIM_DEACTIVATED);
	c = result_of(&e, 1, id, "done");
	assert_string_equal(json_string_value(json_object_get(c, "result")), "ok");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "deactivated");
	json_decref(c);
	/* activate: operational again */
	sf_sho_command(&e, 1, &d, "activate", NULL, 201);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_int_equal(mcim(&d, reg)->state, OMC_MCIM_ACTIVATED);
	/* block, unblock (to deactivated), activate */
	sf_sho_command(&e, 1, &d, "block", NULL, 201);
	sf_agent_run(&ae, OMC_AGENT_STANDBY);
	assert_int_equal(mcim(&d, reg)->state, OMC_MCIM_BLOCKED);
	sf_sho_command(&e, 1, &d, "unblock", NULL, 201);
	sf_agent_run(&ae, OMC_AGENT_STANDBY);
	assert_int_equal(mcim(&d, reg)->state, OMC_MCIM_DEACTIVATED);
	sf_sho_command(&e, 1, &d, "activate", NULL, 201);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	/* update to version 2; then version 2 again is refused */
	id = sf_sho_command(&e, 1, &d, "update", "{\"version\":2,\"profile\":{\"data_only\":true,\"volume_cap\":5000}}", 201);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_int_equal(mcim(&d, reg)->version, 2);
	assert_true(mcim(&d, reg)->data_only);
	c = result_of(&e, 1, id, "done");
	assert_string_equal(json_string_value(json_object_get(c, "result")), "ok");
	json_decref(c);
	id = sf_sho_command(&e, 1, &d, "update", "{\"version\":2}", 201);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	c = result_of(&e, 1, id, "done");
	assert_string_equal(json_string_value(json_object_get(c, "result")), "refused");
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "version not above the installed one");
	json_decref(c);
	/* discover: its own MCIM, nothing else */
	id = sf_sho_command(&e, 1, &d, "discover", NULL, 201);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	c = result_of(&e, 1, id, "done");
	json_t *list = json_object_get(c, "mcims");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), mcim(&d, reg)->id);
	json_decref(c);
	/* Another SHO's subscriber: not its device. */
	sf_sho_command(&e, 2, &d, "deactivate", NULL, 404);
	/* Another SHO signing for sho1's MCIM itself: the TRE says no. */
	char *bs = queue_body(&e, "sho2", 900, &d, "deactivate", mcim(&d, reg)->id);
	json_t *o = NULL;
	assert_int_equal(sf_signed(&e, "sho2", "POST", "dpf", "/v1/commands", bs, &o), 201);
	json_decref(o);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_int_equal(mcim(&d, reg)->state, OMC_MCIM_ACTIVATED);
	/* ... and the same command again: a replay, refused without a result */
	assert_int_equal(sf_signed(&e, "sho2", "POST", "dpf", "/v1/commands", bs, &o), 201);
	json_int_t replay = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	omc_free(bs);
	sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	char q[128];
	snprintf(q, sizeof q, "SELECT count(*) FROM dpf_command WHERE id = %lld AND state = 'rejected'", (long long)replay);
	assert_int_equal(sf_db_count(&e, q), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE state = 'done' AND issuer = 'sho2'"
				    " AND result LIKE '%.%'"),
			 1);
	/* delete: the SHO hears it, disables the IMSI, and the device gets a
	 * new MCIM of the same SHO by itself. */
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	char old[16];
	snprintf(old, sizeof old, "%s", in.mcim_imsi);
	sf_sho_command(&e, 1, &d, "delete", NULL, 201);
	in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho1");
	assert_string_not_equal(in.mcim_imsi, old);
	assert_int_equal(enabled(&e, old), 0);
	assert_int_equal(enabled(&e, in.mcim_imsi), 1);
	size_t live;
	char owner[17];
	assert_int_equal(activated(&d, &live, owner), 1);
	assert_int_equal(live, 1);
	/* The RO deletes it: the DPF passes the TRE's result to the SHO that
	 * issued it, which disables the IMSI; the device gets a new one. */
	snprintf(old, sizeof old, "%s", in.mcim_imsi);
	bs = queue_body(&e, "ro", 900, &d, "delete", mcim(&d, reg)->id);
	assert_int_equal(sf_signed(&e, "ro", "POST", "dpf", "/v1/commands", bs, &o), 201);
	json_decref(o);
	omc_free(bs);
	in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_not_equal(in.mcim_imsi, old);
	assert_int_equal(enabled(&e, old), 0);
	assert_int_equal(enabled(&e, in.mcim_imsi), 1);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The TRE gets the RO's queued command, and its result goes nowhere (a
 * crash between the TRE's commit and the agent's save): the TRE is
 * pristine after it. */
static void lose_result(sf_env *e, sf_dev *d)
{
	char cmd[8192];
	sf_db_text(e, cmd, sizeof cmd, "SELECT command FROM dpf_command WHERE issuer = 'ro' AND state = 'queued'", NULL);
	assert_true(cmd[0] && strlen(cmd) < sizeof cmd - 1);
	char *res = NULL;
	bool applied = false;
	assert_int_equal(omc_tre_command(d->t, cmd, strlen(cmd), &res, &applied), OMC_OK);
	assert_true(applied);
	omc_free(res);
	assert_int_equal(omc_tre_get_state(d->t), OMC_TRE_PRISTINE);
}

/* CHG-2: the TRE carried out the reprovision but its result was lost (a
 * crash between the TRE's commit and the agent's save). The command comes
 * again, the TRE refuses the replay without a result; the DPF queues the
 * reprovision again under a new number, whose result names the old SHO's
 * tombstone: the old SHO still disables the IMSI. */
static void test_lost_reprovision_result(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	provisioned(&e, &d, &ae);
	omc_agent_info in;
	omc_agent_info_get(ae.a, &in);
	char old[16];
	snprintf(old, sizeof old, "%s", in.mcim_imsi);
	assert_int_equal(change_to(&e, &d, 2, NULL), 202);
	lose_result(&e, &d);
	assert_int_equal(enabled(&e, old), 1);
	in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho2");
	assert_int_equal(enabled(&e, old), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'rejected'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'done'"), 1);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The TRE's clock, moved on by the test. */
static int64_t dev_offset;

static int64_t dev_clock(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL) + dev_offset;
}

/* CHG-1, CHG-3: the requeue budget is per change, not per TRE. Three
 * changes in a row lose their reprovision's result (each refused as a
 * replay, queued again, carried out); then the TRE gets its fourth
 * change's reprovision 31 days late (its clock moved on, as after a month
 * offline) and refuses it, void by then, having done nothing. The DPF still sends it again under a new
 * number: the device moves to the new SHO and the old SHO disables its
 * IMSI. With a budget for the TRE's whole life (four refusals spent) the
 * device stayed with the old SHO's MCIM while the DRF named the new one,
 * nothing left to fetch: stranded (model/README.md, the settle finding). */
static void test_requeue_budget_per_change(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	provisioned(&e, &d, &ae);
	/* The same device on the servers' clock. */
	sf_agent_drop(&ae);
	omc_tre_close(d.t);
	omc_tre_opts to = {.io = d.io, .store_io = d.store_io, .count_boot = true, .now = dev_clock};
	assert_int_equal(omc_tre_open(&d.t, &to), OMC_OK);
	sf_agent_make(&ae, &e, &d);
	omc_agent_info in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	for (int i = 1; i <= 4; i++) {
		int sho = i % 2 ? 2 : 1;
		char old[16], want[8];
		snprintf(old, sizeof old, "%s", in.mcim_imsi);
		snprintf(want, sizeof want, "sho%d", sho);
		assert_int_equal(change_to(&e, &d, sho, NULL), 202);
		if (i < 4) {
			lose_result(&e, &d);
		} else {
			/* The TRE sees the command 31 days late: void, refused. */
			dev_offset = 31 * 86400;
			unsigned w;
			for (int k = 0; k < 200 && sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro'"
								  " AND state = 'rejected'") < 4;
			     k++)
				assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
			dev_offset = 0;
			assert_int_equal(omc_tre_get_state(d.t), OMC_TRE_PROVISIONED); /* nothing done */
		}
		in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
		assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'rejected'"),
				 i);
		assert_moved(&e, &d, &in, want, old);
		/* nothing left open for the TRE */
		assert_int_equal(
			sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE state IN ('queued', 'fetched', 'answered')"), 0);
	}
	/* each change carried out once, by its command's second number */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'done'"), 4);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

static int change_direct(sf_env *e, sf_dev *d, int sho)
{
	json_t *o = NULL;
	int st = change_with(e, d, sho, ",\"direct\":true", transfer_code, &o);
	if (st == 202)
		assert_string_equal(json_string_value(json_object_get(o, "state")), "direct");
	json_decref(o);
	return st;
}

/* Steps the agent until it is operational with SHO `sho` and the DRF has
 * the device provisioned, then runs it to its rest: the agent's info. */
static omc_agent_info settle_on(sf_env *e, sf_agent *ae, sf_dev *d, const char *sho, int steps)
{
	omc_agent_info in;
	unsigned w;
	for (int k = 0; k < steps; k++) {
		assert_int_equal(omc_agent_step(ae->a, &w), OMC_OK);
		assert_invariant(d);
		omc_agent_info_get(ae->a, &in);
		if (in.state == OMC_AGENT_OPERATIONAL && !strcmp(in.sho, sho) &&
		    sf_db_count(e, "SELECT count(*) FROM drf_device WHERE state = 'provisioned'") == 1)
			break;
	}
	return sf_agent_run(ae, OMC_AGENT_OPERATIONAL);
}

/* One operational MCIM live in the TRE, activated, of `owner`. */
static void assert_only_activated(sf_dev *d, const char *owner)
{
	size_t live;
	char who[17];
	assert_int_equal(activated(d, &live, who), 1);
	assert_int_equal(live, 1);
	assert_string_equal(who, owner);
}

/* Direct change (as SGP.02 and SGP.32 do), twice, alternating: the new
 * SHO's MCIM comes over the old SHO's connectivity, installed without
 * activation; the RO's switch activates it on trial (the old one
 * deactivated: never two activated); the device attaches with it and
 * confirms; the old MCIM is erased and its IMSI disabled. At no step are
 * two SHOs' MCIMs activated, and the device never goes back to its PCID. */
static void test_direct_change(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	provisioned(&e, &d, &ae);
	for (int i = 1; i <= 2; i++) {
		int to = i % 2 ? 2 : 1;
		omc_agent_info in;
		omc_agent_info_get(ae.a, &in);
		char old[16];
		snprintf(old, sizeof old, "%s", in.mcim_imsi);
		long pcid_attaches = sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'validate'");
		assert_int_equal(change_direct(&e, &d, to), 202);
		unsigned w;
		char want[8];
		snprintf(want, sizeof want, "sho%d", to);
		for (int k = 0; k < 200; k++) {
			assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
			assert_invariant(&d);
			omc_agent_info_get(ae.a, &in);
			assert_int_not_equal(in.state, OMC_AGENT_ATTACH_PCID);
			if (in.state == OMC_AGENT_OPERATIONAL && !strcmp(in.sho, want) && in.polls > 0 &&
			    sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'provisioned'") == 1)
				break;
		}
		in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
		assert_moved(&e, &d, &in, want, old);
		/* one validation more: the download came over the MCIM's session */
		assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE role = 'pva' AND event = 'validate'"),
				 pcid_attaches + 1);
	}
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'switch' AND detail = 'confirmed'"),
			 2);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* The TRE ends the trial, and the device's process dies before the agent
 * saved the statement: it never leaves the device. */
static unsigned ends_lost;
static omc_err end_then_die(void *ctx, bool confirm, char **statement)
{
	const omc_agent_local *l = ctx;
	omc_err e = confirm ? omc_tre_switch_confirm(l->t, statement) : omc_tre_switch_rollback(l->t, statement);
	if (e != OMC_OK)
		return e;
	omc_free(*statement);
	*statement = NULL;
	ends_lost++;
	return OMC_ERR_IO;
}

static void die_at_switch_end(omc_agent_tre *ops)
{
	ops->switch_end = end_then_die;
}

/* CHG-1, CHG-3: a direct change whose switch statement is lost with the
 * device's process (after the TRE's commit, before the agent's save). The
 * agent had saved that it was ending the trial; when it comes back it asks
 * the TRE again, gets the same statement, and the DPF passes the deletion
 * on: the old SHO disables the old IMSI and the DRF has the device
 * provisioned, not left `switching`. */
static void test_direct_change_statement_lost(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	char old[16];
	provisioned_old(&e, &d, &ae, old);
	sf_agent_drop(&ae);
	sf_agent_make_with(&ae, &e, &d, die_at_switch_end);
	ends_lost = 0;
	assert_int_equal(change_direct(&e, &d, 2), 202);
	unsigned w;
	for (int k = 0; k < 200 && ends_lost == 0; k++) {
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		assert_invariant(&d);
	}
	assert_int_equal(ends_lost, 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'switching'"), 1);
	sf_agent_drop(&ae);
	sf_dev_reboot(&d);
	sf_agent_make(&ae, &e, &d);
	omc_agent_info in = settle_on(&e, &ae, &d, "sho2", 200);
	assert_moved(&e, &d, &in, "sho2", old);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'switch' AND detail = 'confirmed'"),
			 1);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CHG-1, CHG-3: a direct change asked while the device still sends the
 * receipt of its first MCIM again (the first answer was lost after the
 * SHO took it). The late receipt of the SHO the DRF no longer names
 * leaves the DRF's device `direct`; the device hears of the change at its
 * next poll and moves. Before, it made the device `provisioned` with the
 * new SHO: the device never heard of the change and stayed with the old
 * SHO's MCIM while the DRF named the new one (model/README.md). */
static void test_direct_change_late_receipt(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	char old[16];
	provisioned_old(&e, &d, &ae, old);
	omc_agent_info in;
	/* The receipt the DPF took, as the device still holds it. */
	char t[8192];
	sf_db_text(&e, t, sizeof t, "SELECT receipt FROM dpf_download WHERE state = 'installed'", NULL);
	assert_true(t[0] && strlen(t) < sizeof t - 1);
	char *rc = omc_alloc(strlen(t) + 1);
	assert_non_null(rc);
	memcpy(rc, t, strlen(t) + 1);
	assert_int_equal(change_direct(&e, &d, 2), 202);
	omc_tre_mcim_info reg[64];
	snprintf(d.mcim_id, sizeof d.mcim_id, "%s", mcim(&d, reg)->id);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	assert_int_equal(sf_send_receipt(&e, &d, rc), 200); /* the same receipt, late */
	omc_free(rc);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'direct'"), 1);
	in = settle_on(&e, &ae, &d, "sho2", 200);
	assert_moved(&e, &d, &in, "sho2", old);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* CHG-1, CHG-3: two direct changes, the second asked during the first's
 * switch (SPIN's finding with two direct changes, model/README.md). The
 * device sends the new SHO's receipt again while `switching` (its first
 * answer lost); the subscriber then moves it back with a second direct
 * change; the first switch's end arrives after that. The repeated receipt
 * leaves the device `switching` and the switch's end leaves the second
 * change `direct`, so the device hears of it and moves back. Before, the
 * receipt made it `provisioned` early and the switch's end overwrote
 * `direct` with `provisioned`: the device stayed with sho2's MCIM while the
 * DRF named sho1, never told of the change. */
static void test_direct_change_twice_during_switch(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	char old[16];
	provisioned_old(&e, &d, &ae, old);
	omc_agent_info in;
	unsigned w;
	assert_int_equal(change_direct(&e, &d, 2), 202);
	/* up to the receipt of sho2's MCIM: the RO's switch queued */
	int k = 0;
	for (; k < 200 && sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE state = 'switching'") == 0; k++) {
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		assert_invariant(&d);
	}
	assert_true(k < 200);
	char t[8192];
	sf_db_text(&e, t, sizeof t, "SELECT receipt FROM dpf_download WHERE state = 'installed' AND sho = ?1", "sho2");
	assert_true(t[0] && strlen(t) < sizeof t - 1);
	/* the same receipt again, over a session of the MCIM still activated */
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d.t, reg, 64, &n), OMC_OK);
	d.mcim_id[0] = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].role, "operational") && reg[i].state == OMC_MCIM_ACTIVATED)
			snprintf(d.mcim_id, sizeof d.mcim_id, "%.40s", reg[i].id);
	assert_true(d.mcim_id[0]);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	assert_int_equal(sf_send_receipt(&e, &d, t), 200);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'switching'"),
			 1);
	/* the second direct change, back to sho1, before the switch's end */
	assert_int_equal(change_direct(&e, &d, 1), 202);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho1' AND state = 'direct'"), 1);
	const char *ended = "SELECT count(*) FROM audit WHERE role = 'dpf' AND event = 'switch'";
	for (k = 0; k < 200 && sf_db_count(&e, ended) == 0; k++) {
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		assert_invariant(&d);
	}
	assert_true(k < 200);
	/* the first switch's end leaves the second change pending */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho1' AND state = 'direct'"), 1);
	in = settle_on(&e, &ae, &d, "sho1", 300);
	assert_string_equal(in.sho, "sho1");
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho1' AND state = 'provisioned'"),
			 1);
	assert_only_activated(&d, "sho1");
	assert_int_equal(enabled(&e, in.mcim_imsi), 1);
	assert_int_not_equal(strcmp(in.mcim_imsi, old), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'switch' AND detail = 'confirmed'"),
			 2);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

/* Direct change rolled back: the new SHO's MCIM does not attach (its AuC
 * refuses it), so after three tries the device activates the old one
 * again and erases the new; the new SHO disables its IMSI, the DRF keeps
 * the device with the old SHO. */
static void test_direct_change_rollback(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_agent ae;
	char old[16];
	provisioned_old(&e, &d, &ae, old);
	omc_agent_info in;
	assert_int_equal(change_direct(&e, &d, 2), 202);
	unsigned w;
	bool cut = false;
	for (int k = 0; k < 300; k++) {
		assert_int_equal(omc_agent_step(ae.a, &w), OMC_OK);
		assert_invariant(&d);
		omc_tre_status st;
		assert_int_equal(omc_tre_get_status(d.t, &st), OMC_OK);
		if (st.switch_trial && !cut) {
			/* The new SHO's network refuses the new IMSI from now on. */
			sf_db_exec(&e, "UPDATE auc_subscriber SET enabled = 0 WHERE operator = 'sho2'");
			cut = true;
		}
		omc_agent_info_get(ae.a, &in);
		if (cut && !st.switch_trial && in.state == OMC_AGENT_OPERATIONAL)
			break;
	}
	assert_true(cut);
	in = sf_agent_run(&ae, OMC_AGENT_OPERATIONAL);
	assert_string_equal(in.sho, "sho1");
	assert_string_equal(in.mcim_imsi, old);
	assert_only_activated(&d, "sho1");
	assert_int_equal(enabled(&e, old), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE operator = 'sho2' AND state = 'deleted'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho1' AND state = 'provisioned'"),
			 1);
	sf_agent_drop(&ae);
	sf_dev_free(&d);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ten_changes),
		cmocka_unit_test(test_change_cut_at_every_step),
		cmocka_unit_test(test_management),
		cmocka_unit_test(test_lost_reprovision_result),
		cmocka_unit_test(test_requeue_budget_per_change),
		cmocka_unit_test(test_direct_change),
		cmocka_unit_test(test_direct_change_rollback),
		cmocka_unit_test(test_direct_change_statement_lost),
		cmocka_unit_test(test_direct_change_late_receipt),
		cmocka_unit_test(test_direct_change_twice_during_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
