/* Allocation-failure injection on three more of the server's stories
 * (issue 7, docs/SECURITY.md), as tests/faults/server_faults_test.c does for
 * the provisioning story (its header says how the sweep works): on a
 * device provisioned with sho1 without the sweep,
 * - the direct change (CHG-1, CHG-3): sho2's subscriber asks it (sho2 and
 *   the DRF: the device `direct`), the device hears of it at its command
 *   fetch, validates and downloads sho2's MCIM over its operational
 *   session (installed, not activated), its receipt queues the RO's
 *   `switch`, the switch's result is answered, the device attaches with
 *   the new MCIM and sends the TRE's end of the trial (`dpf POST
 *   /v1/switch`), passed on to sho1 as a deletion receipt;
 * - the owner's `update` (MGT-8): ACL, sharing policy, service profile and
 *   expiry to a higher version, queued through the SHO's command API,
 *   carried to the TRE through the DPF, its result collected;
 * - the owner's `delete` (MGT-8, CHG-2): queued, carried out, its result
 *   passed on to the SHO (its IMSI disabled) and read back, and the device
 *   provisioned again with a new MCIM of the same SHO.
 * Each call is swept (SF_SWEPT), and each story goes on from the state
 * the retries left to its end, where the device, the DRF and the AuCs are
 * checked. Besides, every success the sweep sees other than the clean
 * call's (one made without an allocation that failed under it, and each
 * retry that went through after a landed step) is checked to have done
 * its whole step (sf_check, check_step below). Bugs that found, fixed
 * (src/server/dpf.c, sho.c): while memory ran out, dpf GET /v1/commands
 * answered 200 without the direct change or without a command (and with
 * none when the session's TRE could not be looked up); a direct change's
 * receipt answered 200 with the RO's switch not queued (the device left
 * `direct`, the receipt never sent again), and a receipt whose DRF state
 * was not recorded; a result answered `done` but left `answered`; dpf POST
 * /v1/switch answered `confirmed` with the DRF's device left `switching`;
 * the SHO's deletions answered 200 without disabling the IMSI (a lookup or
 * an update that failed taken as "not this SHO's MCIM"). Each now answers
 * 500, and the device sends it again. Left as it is: sho2 asking for the
 * direct change again after its first answer was lost is sho2 registering
 * its own device (201 `registered`, no new transfer code: the subscriber
 * asks with new_transfer_code). A separate binary so that ctest runs it
 * next to the other two (it takes about 4 minutes under ASan).
 * covers: SEC-13, CHG-1, CHG-2, CHG-3, MGT-1, MGT-8, EVAL-4 */
#include "srv_fixture.h"

#include <time.h>

/* The TRE's record of MCIM id (NULL: none), in reg. */
static const omc_tre_mcim_info *mcim_of(sf_dev *d, const char *id, omc_tre_mcim_info reg[64])
{
	size_t n = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].id, id))
			return &reg[i];
	return NULL;
}

/* The operational MCIMs not deleted, and of them those activated; *owner
 * the owner of the last activated one. */
static size_t live_operational(sf_dev *d, size_t *activated, char owner[17])
{
	omc_tre_mcim_info reg[64];
	size_t n = 0, live = 0;
	*activated = 0;
	owner[0] = 0;
	assert_int_equal(omc_tre_registry(d->t, reg, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(reg[i].role, "operational") != 0 || reg[i].state == OMC_MCIM_DELETED)
			continue;
		live++;
		if (reg[i].state == OMC_MCIM_ACTIVATED) {
			(*activated)++;
			snprintf(owner, 17, "%s", reg[i].owner);
		}
	}
	return live;
}

/* Whether the AuC has imsi enabled (1), disabled (0), or not at all (-1). */
static long enabled(sf_env *e, const char *imsi)
{
	char q[160];
	snprintf(q, sizeof q, "SELECT enabled FROM auc_subscriber WHERE imsi = '%s'", imsi);
	return sf_db_count(e, q);
}

/* The claims of a compact JWS (a command or its result), unverified. */
static json_t *claims_of(const char *jws)
{
	assert_non_null(jws);
	uint8_t *p = NULL;
	size_t pl = 0;
	assert_int_equal(omc_jws_peek(&p, &pl, jws, strlen(jws)), OMC_OK);
	json_t *c = json_loadb((const char *)p, pl, 0, NULL);
	omc_free(p);
	assert_non_null(c);
	return c;
}

/* The SHO's status of its command id, asked by sho's subscriber: the
 * DPF's state must be done; the TRE's result claims (json_decref). */
static json_t *status_done(sf_env *e, int sho, json_int_t id)
{
	char body[64], role[16];
	snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id);
	snprintf(role, sizeof role, "sho.sho%d", sho);
	json_t *o = NULL;
	int st = sf_bearer(e, e->tokens[sho - 1], "POST", role, "/v1/commands/status", body, &o);
	if (st != 200)
		fail_msg("%s POST /v1/commands/status: %d %s", role, st, sf_code(o));
	assert_string_equal(json_string_value(json_object_get(o, "state")), "done");
	json_t *c = claims_of(json_string_value(json_object_get(o, "result")));
	json_decref(o);
	return c;
}

/* What a success of the step under way must have done, checked on every
 * success the sweep sees besides the clean call's (sf_check): one that
 * answered without an allocation that failed under it, and each retry
 * that went through after a landed step. */
typedef enum {
	CK_NONE,
	CK_DIRECT_ASKED, /* sho2 POST /v1/devices: the DRF has the device `direct` */
	CK_FETCH_DIRECT, /* dpf GET /v1/commands: the answer says so */
	CK_RECEIPT,      /* dpf POST /v1/receipts (direct): one RO switch queued, `switching` */
	CK_SWITCH_END,   /* dpf POST /v1/switch: the old IMSI off, the DRF's device provisioned */
	CK_QUEUED,       /* sho POST /v1/commands: queued at the DPF, once */
	CK_RESULT,       /* dpf GET /v1/commands and POST /v1/results: the command done */
	CK_STATUS,       /* sho POST /v1/commands/status: done, with the TRE's result */
} check_stage;

typedef struct story {
	check_stage stage;
	const char *issuer;  /* the command's issuer (CK_QUEUED, CK_RESULT) */
	char old_imsi[16];   /* disabled by the step, when not "" */
	unsigned long checks; /* successes checked */
} story;

static void check_step(void *arg, sf_env *e, const char *method, const char *role, const char *path, int status,
		       json_t *answer)
{
	story *k = arg;
	char q[192];
	(void)role;
	switch (k->stage) {
	case CK_NONE:
		return;
	case CK_DIRECT_ASKED:
		/* A retry after the DRF took the change and sho2's answer was
		 * lost is sho2 asking again for its own device: 201, state
		 * `registered`, no new transfer code (docs/server.md; the
		 * subscriber gets one with new_transfer_code). */
		if (status == 202 && json_string_value(json_object_get(answer, "state")))
			assert_string_equal(json_string_value(json_object_get(answer, "state")), "direct");
		else
			assert_int_equal(status, 201);
		assert_int_equal(sf_db_count(e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'direct'"), 1);
		assert_int_equal(sf_db_count(e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro'"), 0);
		break;
	case CK_FETCH_DIRECT: {
		const char *mode = json_string_value(json_object_get(json_object_get(answer, "change"), "mode"));
		if (!mode)
			fail_msg("dpf GET /v1/commands answered %d without the direct change", status);
		assert_string_equal(mode, "direct");
		break;
	}
	case CK_RECEIPT:
		assert_int_equal(sf_db_count(e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro'"), 1);
		assert_int_equal(
			sf_db_count(e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'switching'"), 1);
		break;
	case CK_SWITCH_END:
		assert_non_null(json_string_value(json_object_get(answer, "state")));
		assert_string_equal(json_string_value(json_object_get(answer, "state")), "confirmed");
		assert_int_equal(
			sf_db_count(e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'provisioned'"), 1);
		break;
	case CK_QUEUED:
		assert_true(json_integer_value(json_object_get(answer, "id")) > 0);
		snprintf(q, sizeof q, "SELECT count(*) FROM dpf_command WHERE issuer = '%s' AND state = 'queued'", k->issuer);
		assert_int_equal(sf_db_count(e, q), 1);
		snprintf(q, sizeof q, "SELECT count(*) FROM dpf_command WHERE issuer = '%s'", k->issuer);
		assert_int_equal(sf_db_count(e, q), 1);
		break;
	case CK_RESULT:
		if (!strcmp(method, "GET")) {
			assert_int_equal(json_array_size(json_object_get(answer, "commands")), 1);
			k->checks++;
			return; /* the result not sent yet */
		}
		assert_non_null(json_string_value(json_object_get(answer, "state")));
		assert_string_equal(json_string_value(json_object_get(answer, "state")), "done");
		snprintf(q, sizeof q, "SELECT count(*) FROM dpf_command WHERE issuer = '%s' AND state = 'done'", k->issuer);
		assert_int_equal(sf_db_count(e, q), 1);
		break;
	case CK_STATUS:
		assert_non_null(json_string_value(json_object_get(answer, "state")));
		assert_string_equal(json_string_value(json_object_get(answer, "state")), "done");
		assert_non_null(json_string_value(json_object_get(answer, "result")));
		break;
	}
	(void)path;
	if (k->old_imsi[0])
		assert_int_equal(enabled(e, k->old_imsi), 0);
	k->checks++;
}

/* Check each success of the step under way as stage says (CK_NONE: none);
 * old (may be NULL) an IMSI the step disables. */
static void checking(story *k, check_stage stage, const char *old)
{
	k->stage = stage;
	snprintf(k->old_imsi, sizeof k->old_imsi, "%s", old ? old : "");
	sf_check.fn = stage == CK_NONE ? NULL : check_step;
	sf_check.arg = k;
}

/* The sweep's rules for a story: no 4xx while memory ran out, every landed
 * step's retry accounted for, and more failures injected than calls. */
static void story_report(const char *what, const sf_sweep_state *b, const story *k)
{
	sf_sweep_report(what, b);
	print_message("%s: %lu answered 5xx, %lu succeeded without the allocation; %lu successes checked besides "
		      "the clean calls'\n",
		      what, sf_sweep.by_status[5] - b->by_status[5], sf_sweep.absorbed - b->absorbed, k->checks);
	assert_int_equal(sf_sweep.by_status[4], b->by_status[4]);
	assert_int_equal(sf_sweep.landed - b->landed, (sf_sweep.retry_ok - b->retry_ok) +
							     (sf_sweep.retry_idempotent - b->retry_idempotent) +
							     (sf_sweep.retry_by_design - b->retry_by_design));
	assert_true(sf_sweep.failures - b->failures > sf_sweep.calls - b->calls);
}

/* CHG-1, CHG-3: the direct change, every call swept. */
static void test_direct_change_swept(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	char old_id[41], old_imsi[16], body[256];
	snprintf(old_id, sizeof old_id, "%s", d.mcim_id);
	snprintf(old_imsi, sizeof old_imsi, "%s", d.mcim_imsi);
	assert_int_equal(strlen(d.transfer_code), 43);
	snprintf(body, sizeof body,
		 "{\"platform_id\":\"%s\",\"change\":true,\"direct\":true,\"transfer_code\":\"%s\"}", d.platform_id,
		 d.transfer_code);
	json_t *o = NULL;
	int st = 0;
	sf_sweep_state b0 = sf_sweep;

	sf_sweep.on = true;
	story k = {.issuer = "ro"};
	checking(&k, CK_DIRECT_ASKED, NULL);
	SF_SWEPT("sho2 POST /v1/devices (direct change; drf)",
	      st = sf_bearer(&e, e.tokens[1], "POST", "sho.sho2", "/v1/devices", body, &o));
	assert_int_equal(st, 202);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "direct");
	json_decref(o);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'direct'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro'"), 0);

	/* The device hears of it at its next fetch, over its MCIM's session. */
	checking(&k, CK_FETCH_DIRECT, NULL);
	SF_SWEPT("dpf GET /v1/commands (change: direct)", {
		assert_int_equal(sf_bearer(&e, d.session, "GET", "dpf", "/v1/commands", NULL, &o), 200);
		json_t *c = json_object_get(o, "change");
		assert_string_equal(json_string_value(json_object_get(c, "mode")), "direct");
		assert_string_equal(json_string_value(json_object_get(c, "sho")), "sho2");
		assert_int_equal(json_array_size(json_object_get(o, "commands")), 0);
		json_decref(o);
	});
	checking(&k, CK_NONE, NULL);
	SF_SWEPT("pva nonce and validate (operational session)", assert_int_equal(sf_validate(&e, &d), 200));
	char *receipt = NULL;
	SF_SWEPT("dpf POST /v1/download (direct; sho2 mcims, not activated)",
	      assert_int_equal(sf_download(&e, &d, &receipt), 200));
	omc_tre_mcim_info reg[64];
	assert_string_not_equal(d.mcim_id, old_id);
	assert_int_equal(mcim_of(&d, d.mcim_id, reg)->state, OMC_MCIM_INSTALLED);
	assert_string_equal(mcim_of(&d, d.mcim_id, reg)->owner, "sho2");
	assert_int_equal(mcim_of(&d, old_id, reg)->state, OMC_MCIM_ACTIVATED);
	checking(&k, CK_RECEIPT, NULL);
	SF_SWEPT("dpf POST /v1/receipts (direct: the ro switch queued; sho2 receipts)",
	      assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'switching'"),
			 1);
	/* one switch, however often the receipt came */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro'"), 1);

	char names[4][24];
	checking(&k, CK_RESULT, NULL);
	SF_SWEPT("dpf commands: fetch, results (switch)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "switch");
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'ro' AND state = 'done'"), 1);
	omc_tre_status ts;
	assert_int_equal(omc_tre_get_status(d.t, &ts), OMC_OK);
	assert_true(ts.switch_trial);
	assert_int_equal(mcim_of(&d, d.mcim_id, reg)->state, OMC_MCIM_ACTIVATED);
	assert_int_not_equal(mcim_of(&d, old_id, reg)->state, OMC_MCIM_ACTIVATED);
	checking(&k, CK_NONE, NULL);
	SF_SWEPT("vno attach (the new MCIM on trial; auc.sho2 vectors)",
	      assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200));

	/* Attached: the agent confirms, and sends the TRE's statement. */
	char *stmt = NULL;
	assert_int_equal(omc_tre_switch_confirm(d.t, &stmt), OMC_OK);
	json_t *sb = json_pack("{s:s}", "statement", stmt);
	omc_free(stmt);
	char *sbs = json_dumps(sb, JSON_COMPACT);
	json_decref(sb);
	checking(&k, CK_SWITCH_END, old_imsi);
	SF_SWEPT("dpf POST /v1/switch (sho1 deletions; drf)", {
		assert_int_equal(sf_bearer(&e, d.session, "POST", "dpf", "/v1/switch", sbs, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "state")), "confirmed");
		json_decref(o);
	});
	omc_free(sbs);
	sf_sweep.on = false;
	checking(&k, CK_NONE, NULL);

	/* The end: the device with sho2 alone, at the DRF too; the old IMSI
	 * disabled at sho1, the new one enabled at sho2. */
	size_t act = 0;
	char owner[17];
	assert_int_equal(live_operational(&d, &act, owner), 1);
	assert_int_equal(act, 1);
	assert_string_equal(owner, "sho2");
	assert_int_equal(mcim_of(&d, old_id, reg)->state, OMC_MCIM_DELETED);
	assert_int_equal(omc_tre_get_status(d.t, &ts), OMC_OK);
	assert_false(ts.switch_trial);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho2' AND state = 'provisioned'"),
			 1);
	assert_int_equal(enabled(&e, old_imsi), 0);
	assert_int_equal(enabled(&e, d.mcim_imsi), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE operator = 'sho1' AND state = 'deleted'"), 1);
	/* Audited by the clean call, and again by a retry after a landed
	 * step whose answer was lost (the audit records attempts). */
	assert_true(sf_db_count(&e, "SELECT count(*) FROM audit WHERE event = 'switch' AND detail = 'confirmed'"
				" AND result = 'ok'") >= 1);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	story_report("direct change", &b0, &k);
	sf_dev_free(&d);
	sf_down(&e);
}

/* MGT-8: the owner's update of ACL, sharing policy, service profile and
 * expiry to version 2, every call swept. */
static void test_update_swept(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	omc_tre_mcim_info reg[64];
	assert_int_equal(mcim_of(&d, d.mcim_id, reg)->version, 1);
	assert_false(mcim_of(&d, d.mcim_id, reg)->data_only);
	long long expires = (long long)time(NULL) + 400 * 86400;
	char upd[192];
	snprintf(upd, sizeof upd,
		 "{\"version\":2,\"acl\":[\"agent\",\"meter\"],\"share\":[],"
		 "\"profile\":{\"data_only\":true,\"volume_cap\":5000},\"expires\":%lld}",
		 expires);
	json_int_t id = 0;
	char names[4][24];
	sf_sweep_state b0 = sf_sweep;

	sf_sweep.on = true;
	story k = {.issuer = "sho1"};
	checking(&k, CK_QUEUED, NULL);
	SF_SWEPT("sho POST /v1/commands (update; dpf commands)", id = sf_sho_command(&e, 1, &d, "update", upd, 201));
	assert_true(id > 0);
	/* queued once, however often it was sent */
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1'"), 1);
	checking(&k, CK_RESULT, NULL);
	SF_SWEPT("dpf commands: fetch, results (update)", assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "update");
	json_t *c = NULL;
	checking(&k, CK_STATUS, NULL);
	SF_SWEPT("sho POST /v1/commands/status (update; dpf status)", c = status_done(&e, 1, id));
	sf_sweep.on = false;
	checking(&k, CK_NONE, NULL);
	assert_string_equal(json_string_value(json_object_get(c, "cmd")), "update");
	assert_string_equal(json_string_value(json_object_get(c, "result")), "ok");
	assert_string_equal(json_string_value(json_object_get(c, "mcim")), d.mcim_id);
	json_decref(c);

	/* The end: version 2 on the TRE, the MCIM still activated and
	 * attaching; the update carried out once. */
	const omc_tre_mcim_info *m = mcim_of(&d, d.mcim_id, reg);
	assert_int_equal(m->version, 2);
	assert_true(m->data_only);
	assert_int_equal(m->volume_cap, 5000);
	assert_int_equal(m->expires, expires);
	assert_int_equal(m->state, OMC_MCIM_ACTIVATED);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1' AND state = 'done'"), 1);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	story_report("update", &b0, &k);
	sf_dev_free(&d);
	sf_down(&e);
}

/* MGT-8, CHG-2: the owner's delete, its result passed on, and the device
 * provisioned again with the same SHO, every call swept. */
static void test_delete_swept(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	char old_id[41], old_imsi[16];
	snprintf(old_id, sizeof old_id, "%s", d.mcim_id);
	snprintf(old_imsi, sizeof old_imsi, "%s", d.mcim_imsi);
	json_int_t id = 0;
	char names[4][24];
	json_t *o = NULL;
	omc_tre_mcim_info reg[64];
	sf_sweep_state b0 = sf_sweep;

	sf_sweep.on = true;
	story k = {.issuer = "sho1"};
	checking(&k, CK_QUEUED, NULL);
	SF_SWEPT("sho POST /v1/commands (delete; dpf commands)", id = sf_sho_command(&e, 1, &d, "delete", NULL, 201));
	assert_true(id > 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1'"), 1);
	checking(&k, CK_RESULT, old_imsi);
	SF_SWEPT("dpf commands: fetch, results (delete; sho1 deletions)",
	      assert_int_equal(sf_dev_commands(&e, &d, names, 4), 1));
	assert_string_equal(names[0], "delete");
	/* the deletion passed on: the MCIM deleted at sho1, its IMSI off */
	assert_int_equal(mcim_of(&d, old_id, reg)->state, OMC_MCIM_DELETED);
	assert_int_equal(enabled(&e, old_imsi), 0);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM sho_mcim WHERE operator = 'sho1' AND state = 'deleted'"), 1);
	json_t *c = NULL;
	checking(&k, CK_STATUS, old_imsi);
	SF_SWEPT("sho POST /v1/commands/status (delete; dpf status)", c = status_done(&e, 1, id));
	assert_string_equal(json_string_value(json_object_get(c, "cmd")), "delete");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "deleted");
	json_decref(c);

	/* The device, its MCIM gone, provisions again on its PCID. */
	checking(&k, CK_NONE, NULL);
	sf_sweep.on = false;
	assert_int_equal(sf_attach(&e, &d, NULL), 200);
	sf_sweep.on = true;
	SF_SWEPT("drf POST /v1/register (after the delete)", {
		assert_int_equal(sf_register(&e, &d, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "sho")), "sho1");
		json_decref(o);
	});
	SF_SWEPT("pva nonce and validate (after the delete)", assert_int_equal(sf_validate(&e, &d), 200));
	char *receipt = NULL;
	SF_SWEPT("dpf POST /v1/download (sho1 mcims: a new one for the deleted)",
	      assert_int_equal(sf_download(&e, &d, &receipt), 200));
	SF_SWEPT("dpf POST /v1/receipts (sho1 receipts)", assert_int_equal(sf_send_receipt(&e, &d, receipt), 200));
	omc_free(receipt);
	sf_sweep.on = false;

	/* The end: a new MCIM of sho1 alone (under the deleted one's id), activated and attaching; the old
	 * IMSI disabled, the new one enabled; the delete carried out once. */
	assert_string_not_equal(d.mcim_imsi, old_imsi);
	size_t act = 0;
	char owner[17];
	assert_int_equal(live_operational(&d, &act, owner), 1);
	assert_int_equal(act, 1);
	assert_string_equal(owner, "sho1");
	assert_int_equal(enabled(&e, old_imsi), 0);
	assert_int_equal(enabled(&e, d.mcim_imsi), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM dpf_command WHERE issuer = 'sho1' AND state = 'done'"), 1);
	assert_int_equal(sf_db_count(&e, "SELECT count(*) FROM drf_device WHERE sho = 'sho1' AND state = 'provisioned'"),
			 1);
	assert_int_equal(sf_attach(&e, &d, d.mcim_id), 200);
	story_report("delete", &b0, &k);
	sf_dev_free(&d);
	sf_down(&e);
}

/* Each story starts with the sweep off and nothing checked (a story that
 * failed may have left them set). */
static int fresh(void **state)
{
	(void)state;
	sf_sweep.on = false;
	sf_check.fn = NULL;
	sf_check.arg = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_direct_change_swept, fresh),
		cmocka_unit_test_setup(test_update_swept, fresh),
		cmocka_unit_test_setup(test_delete_swept, fresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
