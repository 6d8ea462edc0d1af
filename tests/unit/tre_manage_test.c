/* Remote management inside the TRE: the RO's `reprovision` (operator change
 * by reverting to the pristine state), the owner's `update` (a new version
 * of an MCIM), and the rule that one operator's MCIMs at most are activated.
 * covers: CHG-1, CHG-2, EVAL-4, MGT-8, EVAL-5, SEC-10, MGT-6 */
#include "tre_fixture.h"

#define K1 "5d8b1f3c9a0e4b7d2c6f1a8e3b9d0c7a"
#define OPC1 "a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define K2 "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define OPC2 "00112233445566778899aabbccddeeff"

static const omc_tre_mcim_info *find(omc_tre *t, const char *id, omc_tre_mcim_info *buf)
{
	size_t n;
	assert_int_equal(omc_tre_registry(t, buf, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(buf[i].id, id))
			return &buf[i];
	return NULL;
}

/* The number of operational MCIMs activated, and of their owners. */
static size_t active_operational(omc_tre *t, const char **owner)
{
	omc_tre_mcim_info reg[64];
	size_t n, k = 0;
	static char last[17];
	assert_int_equal(omc_tre_registry(t, reg, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(reg[i].role, "operational") && reg[i].state == OMC_MCIM_ACTIVATED) {
			k++;
			snprintf(last, sizeof last, "%s", reg[i].owner);
		}
	*owner = k ? last : "";
	return k;
}

/* The claims of a signed result; the caller frees them. */
static json_t *claims(const char *jws)
{
	uint8_t *p;
	size_t l;
	assert_int_equal(omc_jws_peek(&p, &l, jws, strlen(jws)), OMC_OK);
	json_t *j = json_loadb((const char *)p, l, 0, NULL);
	omc_free(p);
	assert_non_null(j);
	return j;
}

/* Run a command that must produce a signed result; its claims. */
static json_t *run(omc_tre *t, char *cmd, bool *applied)
{
	char *res = NULL;
	assert_int_equal(omc_tre_command(t, cmd, strlen(cmd), &res, applied), OMC_OK);
	omc_free(cmd);
	json_t *j = claims(res);
	omc_free(res);
	return j;
}

static char *update_cmd(const char *who, uint64_t seq, const char *tre, const char *mcim, json_t *upd)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:o}", "iss", who, "seq", (json_int_t)seq, "tre", tre, "cmd",
			      "update", "mcim", mcim, "update", upd);
	return tf_sign(who, "omc-command+jwt", p);
}

static char *reprov_owner(uint64_t seq, const char *tre, const char *owner)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "iss", "ro", "seq", (json_int_t)seq, "tre", tre, "cmd",
			      "reprovision", "mcim", "", "owner", owner);
	return tf_sign("ro", "omc-command+jwt", p);
}

/* An install that may be refused: its error. */
static omc_err try_install(omc_tre *t, const char *who, uint64_t seq, json_t *mcim)
{
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL, *receipt = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	char *pkg = tf_package(who, seq, st.tre_id, nonce, sizeof nonce, ev, mcim, true);
	omc_err e = omc_tre_install(t, pkg, strlen(pkg), &receipt);
	omc_free(receipt);
	omc_free(ev);
	omc_free(pkg);
	return e;
}

/* CHG-1, CHG-2, EVAL-4: ten operator changes in a row, alternating SHOs.
 * Each `reprovision` erases the old SHO's MCIM in one commit, lists it in
 * the signed result (the deletion receipt), leaves the PCID and a
 * pristine TRE; the new SHO's MCIM installs; exactly one operational MCIM
 * is activated at every step, and it survives a restart. */
static void test_reprovision_ten_times(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("m0", "sho1", "001010000000100", K1, OPC1)));
	const char *owner;
	for (int i = 1; i <= 10; i++) {
		const char *old = i % 2 ? "sho1" : "sho2", *new = i % 2 ? "sho2" : "sho1";
		char old_id[8], new_id[8], imsi[16];
		snprintf(old_id, sizeof old_id, "m%d", i - 1);
		snprintf(new_id, sizeof new_id, "m%d", i);
		snprintf(imsi, sizeof imsi, "00101000000%04d", 100 + i);
		bool applied = false;
		json_t *r = run(t, tf_command("ro", (uint64_t)i, d.tre_id, "reprovision", ""), &applied);
		assert_true(applied);
		assert_string_equal(json_string_value(json_object_get(r, "result")), "ok");
		assert_string_equal(json_string_value(json_object_get(r, "cmd")), "reprovision");
		json_t *del = json_object_get(r, "deleted");
		assert_int_equal(json_array_size(del), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(del, 0), "id")), old_id);
		assert_string_equal(json_string_value(json_object_get(json_array_get(del, 0), "owner")), old);
		json_decref(r);
		assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
		assert_int_equal(active_operational(t, &owner), 0);
		omc_tre_mcim_info reg[64];
		assert_int_equal(find(t, old_id, reg)->state, OMC_MCIM_DELETED);
		assert_int_equal(find(t, "pcid", reg)->state, OMC_MCIM_ACTIVATED);
		omc_free(tf_provision(t, new, 100 + (uint64_t)i, tf_mcim(new_id, new, imsi, i % 2 ? K2 : K1, OPC1)));
		assert_int_equal(active_operational(t, &owner), 1);
		assert_string_equal(owner, new);
		if (i % 5 == 0) {
			omc_tre_close(t);
			t = tf_open(&d);
			assert_int_equal(active_operational(t, &owner), 1);
			assert_string_equal(owner, new);
		}
	}
	/* A replayed reprovision changes nothing: no signed result at all. */
	char *c = tf_command("ro", 10, d.tre_id, "reprovision", ""), *res = NULL;
	bool applied = true;
	assert_int_equal(omc_tre_command(t, c, strlen(c), &res, &applied), OMC_ERR_DENIED);
	assert_null(res);
	omc_free(c);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PROVISIONED);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* CHG-1: only the RO reprovisions; an SHO's `reprovision` is refused with
 * a signed result and nothing erased; on a pristine TRE it erases nothing
 * and still answers. */
static void test_reprovision_only_ro(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	bool applied = true;
	json_t *r = run(t, tf_command("ro", 1, d.tre_id, "reprovision", ""), &applied);
	assert_true(applied);
	assert_int_equal(json_array_size(json_object_get(r, "deleted")), 0);
	json_decref(r);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("a1", "sho1", "001010000000011", K1, OPC1)));
	r = run(t, tf_command("sho1", 2, d.tre_id, "reprovision", ""), &applied);
	assert_false(applied);
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "reprovision is for the RO");
	json_decref(r);
	const char *owner;
	assert_int_equal(active_operational(t, &owner), 1);
	char *audit = NULL;
	size_t al = 0;
	assert_int_equal(omc_tre_audit_export(t, &audit, &al), OMC_OK);
	assert_non_null(strstr(audit, "\"event\":\"reprovision\""));
	assert_non_null(strstr(audit, "reprovision is for the RO"));
	omc_free(audit);
	/* Bound to an owner: another owner's MCIM stays. */
	r = run(t, reprov_owner(2, d.tre_id, "sho2"), &applied);
	assert_true(applied);
	assert_int_equal(json_array_size(json_object_get(r, "deleted")), 0);
	json_decref(r);
	assert_int_equal(active_operational(t, &owner), 1);
	r = run(t, reprov_owner(3, d.tre_id, "sho1"), &applied);
	assert_true(applied);
	assert_int_equal(json_array_size(json_object_get(r, "deleted")), 1);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(r, "deleted"), 0), "erased")));
	json_decref(r);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	/* Late, after the new SHO's MCIM came: it erases nothing new and
	 * names the old tombstone again. */
	omc_free(tf_provision(t, "sho2", 1, tf_mcim("b1", "sho2", "001020000000011", K2, OPC2)));
	r = run(t, reprov_owner(4, d.tre_id, "sho1"), &applied);
	assert_true(applied);
	json_t *e0 = json_array_get(json_object_get(r, "deleted"), 0);
	assert_string_equal(json_string_value(json_object_get(e0, "imsi")), "001010000000011");
	assert_true(json_is_false(json_object_get(e0, "erased")));
	json_decref(r);
	assert_int_equal(active_operational(t, &owner), 1);
	assert_string_equal(owner, "sho2");
	r = run(t, reprov_owner(5, d.tre_id, "Bad Owner"), &applied);
	assert_false(applied);
	json_decref(r);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* DESIGN invariant 4: with sho1's MCIM activated, sho2's package may not
 * activate its own, nor may a command or a local user activate a second
 * operator's; after sho1's is deactivated, sho2's can be. */
static void test_one_operator_active(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("a1", "sho1", "001010000000011", K1, OPC1)));
	assert_int_equal(try_install(t, "sho2", 1, tf_mcim("b1", "sho2", "001020000000011", K2, OPC2)), OMC_ERR_DENIED);
	omc_tre_mcim_info reg[64];
	assert_null(find(t, "b1", reg));
	/* Installed without activation: allowed, but not activated while a1 is. */
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL, *receipt = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
	char *pkg = tf_package("sho2", 2, d.tre_id, nonce, sizeof nonce, ev,
			       tf_mcim("b1", "sho2", "001020000000011", K2, OPC2), false);
	assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &receipt), OMC_OK);
	omc_free(pkg);
	omc_free(ev);
	omc_free(receipt);
	bool applied = true;
	json_t *r = run(t, tf_command("sho2", 3, d.tre_id, "activate", "b1"), &applied);
	assert_false(applied);
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "another operator's MCIM is activated");
	json_decref(r);
	assert_int_equal(find(t, "b1", reg)->state, OMC_MCIM_INSTALLED);
	r = run(t, tf_command("sho1", 2, d.tre_id, "deactivate", "a1"), &applied);
	assert_true(applied);
	json_decref(r);
	r = run(t, tf_command("sho2", 4, d.tre_id, "activate", "b1"), &applied);
	assert_true(applied);
	json_decref(r);
	/* Now a1 cannot come back, by command or by a local admin. */
	r = run(t, tf_command("sho1", 3, d.tre_id, "activate", "a1"), &applied);
	assert_false(applied);
	json_decref(r);
	omc_tre_caller admin;
	assert_int_equal(omc_tre_user_add(t, NULL, "admin", "admin", "1234", 4), OMC_OK);
	assert_int_equal(omc_tre_user_auth(t, "admin", "1234", 4, &admin), OMC_OK);
	assert_int_equal(omc_tre_local_lifecycle(t, &admin, "a1", OMC_EV_ACTIVATE), OMC_ERR_DENIED);
	const char *owner;
	assert_int_equal(active_operational(t, &owner), 1);
	assert_string_equal(owner, "sho2");
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* MGT-8, EVAL-5: the owner updates ACL, sharing policy, service profile
 * and expiry to a higher version; a lower or equal version, another SHO's
 * update, a malformed update and a replay are refused and change nothing;
 * the new version holds after a restart. */
static void test_update(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("a1", "sho1", "001010000000011", K1, OPC1)));
	bool applied = false;
	char *c = update_cmd("sho1", 2, d.tre_id, "a1",
			     json_pack("{s:i,s:[s,s],s:{s:b,s:I}}", "version", 3, "acl", "agent", "meter", "profile",
				       "data_only", 1, "volume_cap", (json_int_t)1000000));
	char *keep = omc_alloc(strlen(c) + 1);
	memcpy(keep, c, strlen(c) + 1);
	json_t *r = run(t, c, &applied);
	assert_true(applied);
	assert_string_equal(json_string_value(json_object_get(r, "state")), "activated");
	json_decref(r);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *m = find(t, "a1", reg);
	assert_int_equal(m->version, 3);
	assert_true(m->data_only);
	assert_int_equal(m->volume_cap, 1000000);
	/* Replayed: refused before anything. */
	char *res = NULL;
	assert_int_equal(omc_tre_command(t, keep, strlen(keep), &res, &applied), OMC_ERR_DENIED);
	omc_free(keep);
	/* Lower and equal versions. */
	for (int v = 2; v <= 3; v++) {
		r = run(t, update_cmd("sho1", 1 + (uint64_t)v, d.tre_id, "a1", json_pack("{s:i}", "version", v)),
			&applied);
		assert_false(applied);
		assert_string_equal(json_string_value(json_object_get(r, "reason")),
				    "version not above the installed one");
		json_decref(r);
	}
	/* Another SHO: the answer for an id nobody holds. */
	r = run(t, update_cmd("sho2", 1, d.tre_id, "a1", json_pack("{s:i}", "version", 9)), &applied);
	assert_false(applied);
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "no such MCIM");
	json_decref(r);
	/* The RO may not update either. */
	r = run(t, update_cmd("ro", 1, d.tre_id, "a1", json_pack("{s:i}", "version", 9)), &applied);
	assert_false(applied);
	json_decref(r);
	/* A malformed update: an unknown member, a bad ACL, no version. */
	json_t *bad[] = {json_pack("{s:i,s:s}", "version", 9, "k", K2), json_pack("{s:i,s:[s]}", "version", 9, "acl", "A"),
			 json_pack("{s:[s]}", "acl", "x")};
	for (size_t i = 0; i < 3; i++) {
		r = run(t, update_cmd("sho1", 10 + i, d.tre_id, "a1", bad[i]), &applied);
		assert_false(applied);
		assert_string_equal(json_string_value(json_object_get(r, "reason")), "bad update");
		json_decref(r);
	}
	m = find(t, "a1", reg);
	assert_int_equal(m->version, 3);
	/* The credential still works after the update and a restart. */
	omc_tre_close(t);
	t = tf_open(&d);
	m = find(t, "a1", reg);
	assert_int_equal(m->version, 3);
	assert_int_equal(m->state, OMC_MCIM_ACTIVATED);
	omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "meter"};
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 64);
	omc_aka_check_result ar;
	assert_int_equal(omc_tre_aka(t, &agent, "a1", av.rand, av.autn, av.autn_len, &ar), OMC_OK);
	assert_int_equal(ar.status, OMC_AKA_STATUS_OK);
	omc_memzero(&ar, sizeof ar);
	/* A deleted MCIM is not updated. */
	r = run(t, tf_command("sho1", 20, d.tre_id, "delete", "a1"), &applied);
	json_decref(r);
	r = run(t, update_cmd("sho1", 21, d.tre_id, "a1", json_pack("{s:i}", "version", 10)), &applied);
	assert_false(applied);
	json_decref(r);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Direct change inside the TRE: the RO's `switch` activates the new
 * SHO's MCIM (installed, not activated) and deactivates the old one in
 * one commit, on trial, which survives a restart; confirm erases the old;
 * rollback restores it and erases the new; either gives its statement
 * again when asked again. An SHO cannot switch, nor can
 * a second switch start during a trial. */
static void test_switch(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("a1", "sho1", "001010000000011", K1, OPC1)));
	for (int round = 0; round < 2; round++) {
		const char *nid = round ? "c1" : "b1", *nown = round ? "sho1" : "sho2", *oid = round ? "b1" : "a1";
		/* the new MCIM, installed without activation */
		uint8_t nonce[16];
		tl_rand(nonce, sizeof nonce);
		char *ev = NULL, *receipt = NULL;
		assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
		char *pkg = tf_package(nown, 10 + (uint64_t)round, d.tre_id, nonce, sizeof nonce, ev,
				       tf_mcim(nid, nown, round ? "001010000000022" : "001020000000011", K2, OPC2), false);
		assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &receipt), OMC_OK);
		omc_free(pkg);
		omc_free(ev);
		omc_free(receipt);
		bool applied = true;
		json_t *r = run(t, tf_command(nown, 20 + (uint64_t)round, d.tre_id, "switch", nid), &applied);
		assert_false(applied); /* an SHO's switch */
		json_decref(r);
		r = run(t, tf_command("ro", 1 + (uint64_t)round * 10, d.tre_id, "switch", nid), &applied);
		assert_true(applied);
		json_decref(r);
		omc_tre_mcim_info reg[64];
		assert_int_equal(find(t, nid, reg)->state, OMC_MCIM_ACTIVATED);
		assert_int_equal(find(t, oid, reg)->state, OMC_MCIM_DEACTIVATED);
		r = run(t, tf_command("ro", 2 + (uint64_t)round * 10, d.tre_id, "switch", nid), &applied);
		assert_false(applied); /* on trial already */
		assert_string_equal(json_string_value(json_object_get(r, "reason")), "a switch is on trial");
		json_decref(r);
		omc_tre_close(t);
		t = tf_open(&d);
		omc_tre_status st;
		assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
		assert_true(st.switch_trial);
		char *stmt = NULL;
		if (round == 0) {
			assert_int_equal(omc_tre_switch_confirm(t, &stmt), OMC_OK);
			json_t *c = claims(stmt);
			assert_string_equal(json_string_value(json_object_get(c, "result")), "ok");
			assert_string_equal(json_string_value(
						    json_object_get(json_array_get(json_object_get(c, "deleted"), 0), "id")),
					    "a1");
			json_decref(c);
			assert_int_equal(find(t, "a1", reg)->state, OMC_MCIM_DELETED);
			assert_int_equal(find(t, "b1", reg)->state, OMC_MCIM_ACTIVATED);
		} else {
			assert_int_equal(omc_tre_switch_rollback(t, &stmt), OMC_OK);
			json_t *c = claims(stmt);
			assert_string_equal(json_string_value(json_object_get(c, "result")), "rolled_back");
			assert_string_equal(json_string_value(
						    json_object_get(json_array_get(json_object_get(c, "restored"), 0), "id")),
					    "b1");
			json_decref(c);
			assert_int_equal(find(t, "c1", reg)->state, OMC_MCIM_DELETED);
			assert_int_equal(find(t, "b1", reg)->state, OMC_MCIM_ACTIVATED);
		}
		assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
		assert_false(st.switch_trial);
		/* Asked again, as by an agent whose process died before it saved
		 * the statement: the same bytes, whichever end is asked, after a
		 * restart too. */
		char *again = NULL;
		assert_int_equal(omc_tre_switch_confirm(t, &again), OMC_OK);
		assert_string_equal(again, stmt);
		omc_free(again);
		omc_tre_close(t);
		t = tf_open(&d);
		assert_int_equal(omc_tre_switch_rollback(t, &again), OMC_OK);
		assert_string_equal(again, stmt);
		omc_free(again);
		omc_free(stmt);
		const char *owner;
		assert_int_equal(active_operational(t, &owner), 1);
	}
	/* The MCIM on trial deleted by the RO: the trial ends with it. */
	{
		uint8_t nonce[16];
		tl_rand(nonce, sizeof nonce);
		char *ev = NULL, *receipt = NULL;
		assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
		char *pkg = tf_package("sho2", 30, d.tre_id, nonce, sizeof nonce, ev,
				       tf_mcim("d1", "sho2", "001020000000033", K2, OPC2), false);
		assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &receipt), OMC_OK);
		omc_free(pkg);
		omc_free(ev);
		omc_free(receipt);
		bool applied = false;
		json_decref(run(t, tf_command("ro", 40, d.tre_id, "switch", "d1"), &applied));
		assert_true(applied);
		json_decref(run(t, tf_command("ro", 41, d.tre_id, "delete", "d1"), &applied));
		assert_true(applied);
		omc_tre_status st;
		assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
		assert_false(st.switch_trial);
		/* A trial ended so has no statement, nor is the one before given. */
		char *stmt = NULL;
		assert_int_equal(omc_tre_switch_confirm(t, &stmt), OMC_ERR_BAD_STATE);
		assert_null(stmt);
		omc_tre_close(t);
		t = tf_open(&d);
		assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
		assert_false(st.switch_trial);
	}
	omc_tre_close(t);
	tf_dev_free(&d);
}

int main(void)
{
	omc_proto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reprovision_ten_times),
		cmocka_unit_test(test_reprovision_only_ro),
		cmocka_unit_test(test_one_operator_active),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
