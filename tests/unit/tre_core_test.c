/* The TRE core end to end on in-memory devices: factory, provisioning
 * session and install, AKA inside, signed commands, discovery, tamper and
 * recovery, secure boot, MCIM integrity, users and the ACL, audit and its
 * checkpoint, evidence verification.
 * covers: TRE-1, TRE-2, TRE-3, TRE-4, TRE-5, TRE-6, TRE-7, TRE-8, TRE-9, TRE-10, TRE-11,
 *         MGT-1, MGT-2, MGT-3, MGT-4, MGT-5, MGT-6, MGT-7, SEC-2, SEC-3, SEC-5, SEC-6, SEC-9,
 *         SEC-12, NET-3, EVAL-1 */
#include "tre_fixture.h"

#define K1 "5d8b1f3c9a0e4b7d2c6f1a8e3b9d0c7a"
#define OPC1 "a1b2c3d4e5f60718293a4b5c6d7e8f90"

static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};

static const omc_tre_mcim_info *find(omc_tre *t, const char *id, omc_tre_mcim_info *buf)
{
	size_t n;
	assert_int_equal(omc_tre_registry(t, buf, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(buf[i].id, id))
			return &buf[i];
	return NULL;
}

static void test_factory_and_status(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_int_equal(st.state, OMC_TRE_PRISTINE);
	assert_true(st.platform_ok);
	assert_true(st.store_ok);
	assert_int_equal(st.boot_count, 1);
	assert_string_equal(st.tre_id, d.tre_id);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *p = find(t, "pcid", reg);
	assert_non_null(p);
	assert_string_equal(p->role, "bootstrap");
	assert_string_equal(p->owner, "ico");
	assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	assert_string_equal(p->imsi, d.pcid_imsi);
	omc_tre_close(t);
	/* A second boot counts. */
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_int_equal(st.boot_count, 2);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static void test_pcid_aka_inside(void **state)
{
	(void)state;
	tf_dev d;
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"001019000000123\",\"k\":\"%s\",\"opc\":\"%s\"}", K1, OPC1);
	tf_dev_make(&d, NULL, pcid);
	/* The ICO's side of the factory's report (CCIF-2, SEC-6): it opens
	 * with the ICO's key only, is signed by this very device, and carries
	 * the PCID's secrets. */
	{
		json_t *rep = json_loads(d.report, 0, NULL);
		const char *jwe = json_string_value(json_object_get(rep, "pcid_report"));
		omc_key *ico, *sho;
		assert_int_equal(omc_pki_load(tf_pki(), "ico", &ico, NULL), OMC_OK);
		assert_int_equal(omc_pki_load(tf_pki(), "sho1", &sho, NULL), OMC_OK);
		uint8_t *jws;
		size_t jl;
		assert_int_equal(omc_jwe_decrypt(&jws, &jl, jwe, strlen(jwe), sho), OMC_ERR_AUTH_FAILED);
		assert_int_equal(omc_jwe_decrypt(&jws, &jl, jwe, strlen(jwe), ico), OMC_OK);
		omc_cert *ca = tf_m2mes_ca();
		const omc_cert *anchors[] = {ca};
		omc_jws_verified v;
		assert_int_equal(omc_jws_verify_x5c(&v, (const char *)jws, jl, anchors, 1, "omc-pcid-report+jwt", 0), OMC_OK);
		char cn[64];
		assert_int_equal(omc_cert_subject_cn(cn, sizeof cn, v.leaf), OMC_OK);
		assert_string_equal(cn, d.tre_id);
		json_t *p = json_loadb((const char *)v.payload, v.len, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(p, "tre_id")), d.tre_id);
		assert_string_equal(json_string_value(json_object_get(p, "imsi")), "001019000000123");
		assert_string_equal(json_string_value(json_object_get(p, "k")), K1);
		assert_string_equal(json_string_value(json_object_get(p, "opc")), OPC1);
		json_decref(p);
		omc_jws_verified_free(&v);
		omc_free(jws);
		omc_cert_free(ca);
		omc_key_free(ico);
		omc_key_free(sho);
		json_decref(rep);
	}
	omc_tre *t = tf_open(&d);
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 33);
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	assert_memory_equal(r.res, av.xres, 8);
	assert_memory_equal(r.ck, av.ck, 16);
	/* The SQN state is durable: after a restart the same vector is stale. */
	omc_tre_close(t);
	omc_memfs_reboot(d.fs);
	t = tf_open(&d);
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	/* A caller not in the ACL is refused (MGT-7). */
	omc_tre_caller eve = {.kind = OMC_ACTOR_USER, .name = "eve"};
	tf_av(&av, K1, OPC1, 65);
	assert_int_equal(omc_tre_aka(t, &eve, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_aka(t, &agent, "nosuch", av.rand, av.autn, av.autn_len, &r), OMC_ERR_NOT_FOUND);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* A new session and a package of sho1 (seq) for the id sho1-0001 with this
 * IMSI and K (OPC1), installed: its result (*pkg for the caller to free). */
static omc_err install_once_more(omc_tre *t, const tf_dev *d, uint64_t seq, const char *imsi, const char *k,
				 char **pkg, char **rc)
{
	uint8_t nonce[16];
	tl_rand(nonce, 16);
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
	*pkg = tf_package("sho1", seq, d->tre_id, nonce, 16, ev, tf_mcim("sho1-0001", "sho1", imsi, k, OPC1), true);
	omc_free(ev);
	*rc = NULL;
	return omc_tre_install(t, *pkg, strlen(*pkg), rc);
}

static void test_install_and_aka(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	char *receipt = tf_provision(t, "sho1", 1, tf_mcim("sho1-0001", "sho1", "001020000000001", K1, OPC1));
	/* The receipt is signed by the TRE and says what was installed. */
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_jws_verified v;
	assert_int_equal(omc_jws_verify_x5c(&v, receipt, strlen(receipt), anchors, 1, "omc-receipt+jwt", 0), OMC_OK);
	assert_non_null(strstr((const char *)v.payload, "\"mcim\":\"sho1-0001\""));
	assert_non_null(strstr((const char *)v.payload, "\"state\":\"activated\""));
	omc_jws_verified_free(&v);
	omc_free(receipt);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PROVISIONED);
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 100);
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(t, &agent, "sho1-0001", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	assert_memory_equal(r.res, av.xres, 8);
	/* Installing the same id again is refused. */
	char *pkg = NULL, *rc = NULL;
	assert_int_equal(install_once_more(t, &d, 2, "001020000000009", K1, &pkg, &rc), OMC_ERR_EXISTS);
	omc_free(pkg);
	/* The same id with the same IMSI and version but another K: refused too. */
	assert_int_equal(install_once_more(t, &d, 3, "001020000000001", OPC1, &pkg, &rc), OMC_ERR_EXISTS);
	omc_free(pkg);
	/* The very MCIM again (its first receipt lost): the receipt is signed
	 * again, the MCIM kept as it is: its SQN array was not reset, so the
	 * vector it accepted before is a replay now. */
	assert_int_equal(install_once_more(t, &d, 4, "001020000000001", K1, &pkg, &rc), OMC_OK);
	assert_int_equal(omc_jws_verify_x5c(&v, rc, strlen(rc), anchors, 1, "omc-receipt+jwt", 0), OMC_OK);
	assert_non_null(strstr((const char *)v.payload, "\"result\":\"installed\""));
	assert_non_null(strstr((const char *)v.payload, "\"seq\":4"));
	assert_non_null(strstr((const char *)v.payload, "\"state\":\"activated\""));
	omc_jws_verified_free(&v);
	omc_free(rc);
	assert_int_equal(omc_tre_aka(t, &agent, "sho1-0001", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	/* Its package once more: the session it was for is spent. */
	assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &rc), OMC_ERR_BAD_STATE);
	omc_free(pkg);
	omc_cert_free(ca);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Everything that identifies the TRE's visible state. */
typedef struct snap {
	uint8_t reg[32];
	size_t n;
	omc_tre_state st;
} snap;

static void take(omc_tre *t, snap *s)
{
	assert_int_equal(omc_tre_registry_digest(t, s->reg), OMC_OK);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	s->n = st.n_mcims;
	s->st = st.state;
}

static void same(omc_tre *t, const snap *s)
{
	snap now;
	take(t, &now);
	assert_memory_equal(now.reg, s->reg, 32);
	assert_int_equal(now.n, s->n);
	assert_int_equal(now.st, s->st);
}

static void test_package_refusals(void **state)
{
	(void)state;
	tf_dev d, other;
	tf_dev_make(&d, NULL, NULL);
	tf_dev_make(&other, NULL, NULL);
	omc_tre *t = tf_open(&d), *o = tf_open(&other);
	uint8_t nonce[16], onone[16];
	tl_rand(nonce, 16);
	tl_rand(onone, 16);
	char *ev = NULL, *oev = NULL, *rc = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
	assert_int_equal(omc_tre_session_begin(o, onone, 16, &oev), OMC_OK);
	snap s;
	take(t, &s);

	/* For another TRE: encrypted to its session key. */
	char *p = tf_package("sho1", 1, other.tre_id, onone, 16, oev, tf_mcim("m1", "sho1", "001020000000002", K1, OPC1),
			     true);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_AUTH_FAILED);
	omc_free(p);
	same(t, &s);
	/* Encrypted to our session but naming another TRE. */
	p = tf_package("sho1", 1, other.tre_id, nonce, 16, ev, tf_mcim("m1", "sho1", "001020000000002", K1, OPC1), true);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_DENIED);
	omc_free(p);
	same(t, &s);
	/* Wrong session nonce. */
	uint8_t bad[16];
	memcpy(bad, nonce, 16);
	bad[0] ^= 1;
	p = tf_package_ex("sho1", 1, d.tre_id, bad, 16, nonce, 16, ev, tf_mcim("m1", "sho1", "001020000000002", K1, OPC1),
			  true);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_DENIED);
	omc_free(p);
	same(t, &s);
	/* The issuer does not own the MCIM. */
	p = tf_package("sho1", 1, d.tre_id, nonce, 16, ev, tf_mcim("m1", "sho2", "001020000000002", K1, OPC1), true);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_DENIED);
	omc_free(p);
	same(t, &s);
	/* Signed by someone no operator CA vouches for (the RO). */
	p = tf_package("ro", 1, d.tre_id, nonce, 16, ev, tf_mcim("m1", "ro", "001020000000002", K1, OPC1), true);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_BAD_SIGNATURE);
	same(t, &s);
	/* Any flipped character of a good package. */
	omc_free(p);
	p = tf_package("sho1", 5, d.tre_id, nonce, 16, ev, tf_mcim("m1", "sho1", "001020000000002", K1, OPC1), true);
	size_t len = strlen(p);
	for (size_t i = 0; i < len; i += 1 + len / 97) {
		char saved = p[i];
		p[i] = saved == 'A' ? 'B' : 'A';
		omc_err e = omc_tre_install(t, p, len, &rc);
		p[i] = saved;
		if (e == OMC_OK)
			fail_msg("package with character %zu changed was installed", i);
	}
	same(t, &s);
	/* The good one installs; replaying it (or its sequence number) fails. */
	assert_int_equal(omc_tre_install(t, p, len, &rc), OMC_OK);
	omc_free(rc);
	assert_int_equal(omc_tre_install(t, p, len, &rc), OMC_ERR_BAD_STATE); /* session used */
	omc_free(p);
	omc_free(ev);
	tl_rand(nonce, 16);
	assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
	p = tf_package("sho1", 5, d.tre_id, nonce, 16, ev, tf_mcim("m2", "sho1", "001020000000003", K1, OPC1), true);
	take(t, &s);
	assert_int_equal(omc_tre_install(t, p, strlen(p), &rc), OMC_ERR_DENIED);
	same(t, &s);
	omc_free(p);
	omc_free(ev);
	omc_free(oev);
	omc_tre_close(t);
	omc_tre_close(o);
	tf_dev_free(&d);
	tf_dev_free(&other);
}

static char *result_of(omc_tre *t, const char *cmd, bool *applied)
{
	char *res = NULL;
	assert_int_equal(omc_tre_command(t, cmd, strlen(cmd), &res, applied), OMC_OK);
	return res;
}

static void test_commands(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("a1", "sho1", "001020000000011", K1, OPC1)));
	omc_tre_mcim_info reg[64];
	bool applied;
	char *c, *r;
	/* The owner deactivates and reactivates. */
	c = tf_command("sho1", 2, d.tre_id, "deactivate", "a1");
	r = result_of(t, c, &applied);
	assert_true(applied);
	assert_int_equal(find(t, "a1", reg)->state, OMC_MCIM_DEACTIVATED);
	/* Replayed: refused. */
	char *r2 = NULL;
	assert_int_equal(omc_tre_command(t, c, strlen(c), &r2, &applied), OMC_ERR_DENIED);
	/* Past its "exp": refused, and its sequence number is not used up. */
	{
		json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:I}", "iss", "sho1", "seq", (json_int_t)3, "tre", d.tre_id,
				      "cmd", "activate", "mcim", "a1", "iat", (json_int_t)time(NULL), "exp",
				      (json_int_t)time(NULL) - 10);
		char *old = tf_sign("sho1", "omc-command+jwt", p);
		assert_int_equal(omc_tre_command(t, old, strlen(old), &r2, &applied), OMC_ERR_DENIED);
		omc_free(old);
		assert_int_equal(find(t, "a1", reg)->state, OMC_MCIM_DEACTIVATED);
	}
	omc_free(c);
	omc_free(r);
	/* Another SHO may not touch it (invariant 6); refused with a signed result. */
	c = tf_command("sho2", 1, d.tre_id, "activate", "a1");
	r = result_of(t, c, &applied);
	assert_false(applied);
	assert_int_equal(find(t, "a1", reg)->state, OMC_MCIM_DEACTIVATED);
	/* ... and cannot tell it from an id nobody holds: the same answer. */
	char *c2 = tf_command("sho2", 2, d.tre_id, "activate", "zz9");
	char *r2b = result_of(t, c2, &applied);
	assert_false(applied);
	uint8_t *p1, *p2;
	size_t l1, l2;
	assert_int_equal(omc_jws_peek(&p1, &l1, r, strlen(r)), OMC_OK);
	assert_int_equal(omc_jws_peek(&p2, &l2, r2b, strlen(r2b)), OMC_OK);
	json_t *j1 = json_loadb((const char *)p1, l1, 0, NULL), *j2 = json_loadb((const char *)p2, l2, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j1, "reason")), "no such MCIM");
	assert_string_equal(json_string_value(json_object_get(j2, "reason")), "no such MCIM");
	assert_string_equal(json_string_value(json_object_get(j1, "state")), "");
	json_decref(j1);
	json_decref(j2);
	omc_free(p1);
	omc_free(p2);
	omc_free(c2);
	omc_free(r2b);
	omc_free(c);
	omc_free(r);
	/* Discovery: each SHO sees its own MCIMs only (MGT-6). */
	c = tf_command("sho2", 3, d.tre_id, "discover", "");
	r = result_of(t, c, &applied);
	assert_true(applied);
	omc_jws_verified v;
	assert_int_equal(omc_jws_peek(&v.payload, &v.len, r, strlen(r)), OMC_OK);
	assert_null(strstr((const char *)v.payload, "\"a1\""));
	omc_free(v.payload);
	omc_free(c);
	omc_free(r);
	c = tf_command("sho2", 4, d.tre_id, "discover", "a1");
	r = result_of(t, c, &applied);
	assert_false(applied); /* asking for another SHO's MCIM */
	omc_free(c);
	omc_free(r);
	c = tf_command("sho1", 3, d.tre_id, "discover", "");
	r = result_of(t, c, &applied);
	assert_true(applied);
	assert_int_equal(omc_jws_peek(&v.payload, &v.len, r, strlen(r)), OMC_OK);
	assert_non_null(strstr((const char *)v.payload, "\"a1\""));
	assert_null(strstr((const char *)v.payload, "pcid"));
	omc_free(v.payload);
	omc_free(c);
	omc_free(r);
	/* Block, unblock (to deactivated), activate. */
	const char *seq_cmds[] = {"block", "unblock", "activate"};
	const omc_mcim_state want[] = {OMC_MCIM_BLOCKED, OMC_MCIM_DEACTIVATED, OMC_MCIM_ACTIVATED};
	for (int i = 0; i < 3; i++) {
		c = tf_command("sho1", 4 + (uint64_t)i, d.tre_id, seq_cmds[i], "a1");
		r = result_of(t, c, &applied);
		assert_true(applied);
		assert_int_equal(find(t, "a1", reg)->state, want[i]);
		omc_free(c);
		omc_free(r);
	}
	/* The RO deletes it (operator change); the tombstone stays. */
	c = tf_command("ro", 1, d.tre_id, "delete", "a1");
	r = result_of(t, c, &applied);
	assert_true(applied);
	assert_int_equal(find(t, "a1", reg)->state, OMC_MCIM_DELETED);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	omc_free(c);
	omc_free(r);
	/* Nothing leaves deleted. */
	c = tf_command("sho1", 10, d.tre_id, "activate", "a1");
	r = result_of(t, c, &applied);
	assert_false(applied);
	omc_free(c);
	omc_free(r);
	/* A command for another TRE is refused outright. */
	c = tf_command("sho1", 11, "tre-0000000000000000", "activate", "a1");
	assert_int_equal(omc_tre_command(t, c, strlen(c), &r2, &applied), OMC_ERR_DENIED);
	omc_free(c);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static char *recovery(const char *who, uint64_t seq, const char *tre_id, uint64_t counter)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", who, "seq", (json_int_t)seq, "tre", tre_id, "counter",
			      (json_int_t)counter, "iat", (json_int_t)time(NULL));
	return tf_sign(who, "omc-recovery+jwt", p);
}

static void test_tamper_lockdown_recovery(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("b1", "sho1", "001020000000021", K1, OPC1)));
	assert_int_equal(omc_tre_tamper(t, "case opened"), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 200);
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(t, &agent, "b1", av.rand, av.autn, av.autn_len, &r), OMC_ERR_LOCKDOWN);
	omc_tre_close(t);
	/* Sticky across a power cut and a restart. */
	omc_memfs_reboot(d.fs);
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_non_null(strstr(st.lockdown_reason, "case opened"));
	/* Attestation still works and says so. */
	uint8_t nonce[16];
	tl_rand(nonce, 16);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, 16, &ev), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, 16, 0), OMC_OK);
	assert_string_equal(e.tre_state, "lockdown");
	omc_evidence_free(&e);
	omc_free(ev);
	char *rc = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, 16, &rc), OMC_ERR_LOCKDOWN);
	/* Recovery: a forged or stale authorisation is refused. */
	uint64_t ctr;
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	char *bad = recovery("sho1", 1, d.tre_id, ctr); /* an operator, not the RO or a PVA */
	assert_int_equal(omc_tre_recover(t, bad, strlen(bad)), OMC_ERR_BAD_SIGNATURE);
	omc_free(bad);
	bad = recovery("ro", 1, d.tre_id, ctr + 5);
	assert_int_equal(omc_tre_recover(t, bad, strlen(bad)), OMC_ERR_DENIED);
	omc_free(bad);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	char *good = recovery("ro", 2, d.tre_id, ctr);
	assert_int_equal(omc_tre_recover(t, good, strlen(good)), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	omc_tre_mcim_info reg[64];
	assert_int_equal(find(t, "b1", reg)->state, OMC_MCIM_DELETED);
	assert_int_equal(find(t, "pcid", reg)->state, OMC_MCIM_ACTIVATED);
	omc_tre_close(t);
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	/* Replaying the used authorisation does nothing: not in lockdown, and
	 * after another tamper its counter is stale. */
	assert_int_equal(omc_tre_tamper(t, "again"), OMC_OK);
	assert_int_equal(omc_tre_recover(t, good, strlen(good)), OMC_ERR_DENIED);
	omc_free(good);
	omc_cert_free(ca);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static void test_secure_boot(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	/* A modified component: platform anomaly, MCIM use refused (SEC-3). */
	char path[64];
	snprintf(path, sizeof path, "%splatform/firmware.bin", d.base);
	uint8_t *fw;
	size_t n;
	assert_int_equal(omc_memfs_raw_get(d.fs, path, &fw, &n), OMC_OK);
	fw[100] ^= 0x40;
	assert_int_equal(omc_memfs_raw_put(d.fs, path, fw, n), OMC_OK);
	omc_free(fw);
	omc_tre *t = tf_open(&d);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_false(st.platform_ok);
	assert_int_not_equal(st.state, OMC_TRE_LOCKDOWN);
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 33);
	omc_aka_check_result r;
	/* The PCID keeps its provisional connectivity, so that the PVA can see
	 * the evidence and a vendor's update can come ... */
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE); /* a verdict: another K made av */
	/* ... but no credential goes in, even in a session a validator let through. */
	{
		uint8_t sn[16];
		tl_rand(sn, 16);
		char *sev = NULL, *rc = NULL;
		assert_int_equal(omc_tre_session_begin(t, sn, 16, &sev), OMC_OK);
		char *pkg = tf_package("sho1", 1, d.tre_id, sn, 16, sev, tf_mcim("s1", "sho1", "001020000000091", K1, OPC1),
				       true);
		assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &rc), OMC_ERR_TAMPERED);
		assert_null(rc);
		omc_tre_mcim_info reg[64];
		assert_null(find(t, "s1", reg));
		omc_free(pkg);
		omc_free(sev);
	}
	/* The evidence reports which component. */
	uint8_t nonce[16];
	tl_rand(nonce, 16);
	char *ev = NULL;
	assert_int_equal(omc_tre_attest(t, nonce, 16, &ev), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, 16, 0), OMC_OK);
	assert_false(e.platform_ok);
	bool fw_bad = false;
	for (size_t i = 0; i < e.n_measurements; i++)
		if (!strcmp(e.measurements[i].name, "firmware"))
			fw_bad = !e.measurements[i].ok;
	assert_true(fw_bad);
	omc_evidence_free(&e);
	/* Another nonce or untrusted anchors: refused. */
	uint8_t other[16];
	memcpy(other, nonce, 16);
	other[3] ^= 1;
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, other, 16, 0), OMC_ERR_DENIED);
	omc_cert *wrong;
	assert_int_equal(omc_pki_load(tf_pki(), "pva-ca", NULL, &wrong), OMC_OK);
	const omc_cert *wa[] = {wrong};
	assert_int_equal(omc_evidence_verify(&e, ev, strlen(ev), wa, 1, nonce, 16, 0), OMC_ERR_BAD_SIGNATURE);
	omc_cert_free(wrong);
	omc_cert_free(ca);
	omc_free(ev);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static void test_users(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	/* The first user must be an admin. */
	assert_int_equal(omc_tre_user_add(t, NULL, "bob", "user", "1234", 4), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_user_add(t, NULL, "root", "admin", "9876", 4), OMC_OK);
	/* Later ones need an authenticated admin. */
	assert_int_equal(omc_tre_user_add(t, NULL, "bob", "user", "1234", 4), OMC_ERR_DENIED);
	omc_tre_caller admin;
	assert_int_equal(omc_tre_user_auth(t, "root", "9876", 4, &admin), OMC_OK);
	assert_int_equal(omc_tre_user_add(t, &admin, "bob", "user", "1234", 4), OMC_OK);
	/* The audit record names the admin who did it. */
	{
		char *recs = NULL;
		size_t rl = 0;
		assert_int_equal(omc_tre_audit_export(t, &recs, &rl), OMC_OK);
		const char *at = strstr(recs, "\"subject\":\"user:bob\"");
		assert_non_null(at);
		const char *line = at;
		while (line > recs && line[-1] != '\n')
			line--;
		const char *end = strchr(at, '\n');
		assert_non_null(end);
		assert_non_null(memmem(line, (size_t)(end - line), "\"actor\":\"user:root\"", 19));
		omc_free(recs);
	}
	omc_tre_caller bob;
	assert_int_equal(omc_tre_user_auth(t, "bob", "0000", 4, &bob), OMC_ERR_AUTH_FAILED);
	assert_int_equal(omc_tre_user_auth(t, "nobody", "0000", 4, &bob), OMC_ERR_AUTH_FAILED);
	assert_int_equal(omc_tre_user_auth(t, "bob", "1234", 4, &bob), OMC_OK);
	assert_string_equal(bob.name, "bob");
	/* Guessing one user's PIN blocks that user: refused from then on, even
	 * with the right PIN, without the PIN being checked. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(omc_tre_user_auth(t, "bob", "1111", 4, &bob), OMC_ERR_AUTH_FAILED);
	assert_int_equal(omc_tre_user_auth(t, "bob", "1234", 4, &bob), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	/* Guessing across names locks the whole TRE down (TRE-4): the failures
	 * of everyone since the last success add up. */
	omc_err e = OMC_OK;
	int tries = 0;
	while (tries < 20 && e != OMC_ERR_LOCKDOWN) {
		e = omc_tre_user_auth(t, "mallory", "1111", 4, &bob);
		tries++;
	}
	assert_int_equal(e, OMC_ERR_LOCKDOWN);
	assert_int_equal(tries, 10 - 3); /* OMC_USERS_LOCKDOWN_FAILURES, bob's 3 included */
	assert_int_equal(omc_tre_user_auth(t, "root", "9876", 4, &admin), OMC_ERR_LOCKDOWN);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_close(t);
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static void test_audit(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	/* Enough transactions to move records from the store to audit.log. */
	for (int i = 0; i < 40; i++) {
		uint8_t nonce[16];
		tl_rand(nonce, 16);
		char *ev = NULL;
		assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
		omc_free(ev);
	}
	uint64_t n = 0;
	assert_int_equal(omc_tre_audit_verify(t, &n), OMC_OK);
	assert_true(n >= 42);
	char *cp = NULL, *recs = NULL;
	size_t rl;
	assert_int_equal(omc_tre_audit_checkpoint(t, &cp), OMC_OK);
	assert_int_equal(omc_tre_audit_export(t, &recs, &rl), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	uint64_t cnt = 0;
	assert_int_equal(omc_audit_checkpoint_verify(cp, strlen(cp), recs, rl, anchors, 1, &cnt), OMC_OK);
	assert_int_equal(cnt, n);
	/* An edited copy fails the remote check. */
	char *x = strstr(recs, "session");
	assert_non_null(x);
	x[0] = 'S';
	assert_int_not_equal(omc_audit_checkpoint_verify(cp, strlen(cp), recs, rl, anchors, 1, &cnt), OMC_OK);
	omc_free(recs);
	omc_free(cp);
	omc_cert_free(ca);
	omc_tre_close(t);
	/* Truncating audit.log is detected by the TRE itself. */
	char path[64];
	snprintf(path, sizeof path, "%saudit.log", d.base);
	uint8_t *log;
	size_t len;
	assert_int_equal(omc_memfs_raw_get(d.fs, path, &log, &len), OMC_OK);
	assert_true(len > 200);
	assert_int_equal(omc_memfs_raw_put(d.fs, path, log, len / 2), OMC_OK);
	omc_free(log);
	t = tf_open_ro(&d);
	assert_int_equal(omc_tre_audit_verify(t, &n), OMC_ERR_TAMPERED);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Scan every byte of every file for a planted secret, in every encoding. */
/* The encodings a secret could leak in: raw, hex in either case, base64
 * and base64url (the part padding does not touch). */
static void scan_buf(const uint8_t *data, size_t len, const uint8_t *secret, size_t n, const char *what,
		     const char *where)
{
	char hexl[65], hexu[65], b64[64], b64u[64];
	assert_int_equal(omc_hex_encode(hexl, sizeof hexl, secret, n), OMC_OK);
	for (size_t i = 0; i <= 2 * n; i++)
		hexu[i] = (char)((hexl[i] >= 'a' && hexl[i] <= 'f') ? hexl[i] - 32 : hexl[i]);
	assert_int_equal(omc_b64_encode(b64, sizeof b64, secret, n, OMC_B64_STD), OMC_OK);
	assert_int_equal(omc_b64_encode(b64u, sizeof b64u, secret, n, OMC_B64_URL), OMC_OK);
	b64[strlen(b64) - 4] = 0;
	b64u[strlen(b64u) - 4] = 0;
	const void *needles[] = {secret, hexl, hexu, b64, b64u};
	const size_t lens[] = {n, 2 * n, 2 * n, strlen(b64), strlen(b64u)};
	for (size_t k = 0; k < 5; k++)
		if (len >= lens[k] && memmem(data, len, needles[k], lens[k]))
			fail_msg("%s found in %s (encoding %zu)", what, where, k);
}

/* Every log line of the whole binary, at every level (SEC-6, SEC-12:
 * DESIGN invariant 1 for logs). */
static char *log_all;
static size_t log_len, log_cap, log_lines;

static void log_keep(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	size_t need = strlen(module) + strlen(msg) + 3;
	if (log_len + need > log_cap) {
		size_t cap = (log_cap + need) * 2;
		char *b = realloc(log_all, cap);
		if (!b)
			return;
		log_all = b;
		log_cap = cap;
	}
	log_len += (size_t)snprintf(log_all + log_len, log_cap - log_len, "%s %s\n", module, msg);
	log_lines++;
}

static int logs_hold_no_secret(void **state)
{
	(void)state;
	static const char *const secrets[] = {K1, OPC1, "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
					      "11223344556677889900aabbccddeeff"};
	uint8_t s[16];
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		tl_hex(s, 16, secrets[i]);
		scan_buf((const uint8_t *)log_all, log_len, s, 16, secrets[i], "the log");
	}
	scan_buf((const uint8_t *)log_all, log_len, (const uint8_t *)"493817", 6, "PIN", "the log");
	/* The scan saw something: the runs above log lockdowns and anomalies. */
	assert_true(log_lines >= 5);
	printf("# %zu log lines scanned, no secret in them\n", log_lines);
	free(log_all);
	return 0;
}

static void scan_for(omc_memfs *fs, const uint8_t *secret, size_t n, const char *what)
{
	char *paths;
	size_t plen;
	assert_int_equal(omc_memfs_list(fs, &paths, &plen), OMC_OK);
	size_t files = 0;
	for (const char *p = paths; p < paths + plen; p += strlen(p) + 1) {
		uint8_t *data;
		size_t len;
		if (omc_memfs_raw_get(fs, p, &data, &len) != OMC_OK)
			continue;
		files++;
		scan_buf(data, len, secret, n, what, p);
		omc_free(data);
	}
	omc_free(paths);
	assert_true(files >= 8);
}

static void test_no_secret_on_disk(void **state)
{
	(void)state;
	tf_dev d;
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"001019000000777\",\"k\":\"%s\",\"opc\":\"%s\"}", K1, OPC1);
	tf_dev_make(&d, NULL, pcid);
	omc_tre *t = tf_open(&d);
	const char *k2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0", *opc2 = "11223344556677889900aabbccddeeff";
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("s1", "sho1", "001020000000031", k2, opc2)));
	assert_int_equal(omc_tre_user_add(t, NULL, "root", "admin", "493817", 6), OMC_OK);
	omc_aka_av av;
	tf_av(&av, k2, opc2, 64);
	omc_aka_check_result r;
	assert_int_equal(omc_tre_aka(t, &agent, "s1", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	omc_tre_close(t);
	uint8_t s[16];
	const char *secrets[] = {K1, OPC1, k2, opc2};
	for (int i = 0; i < 4; i++) {
		tl_hex(s, 16, secrets[i]);
		scan_for(d.fs, s, 16, secrets[i]);
	}
	scan_for(d.fs, (const uint8_t *)"493817", 6, "PIN");
	tf_dev_free(&d);
}

/* Damage the active slot's object region one byte at a time, each probe
 * on the device as it was, until MCIM `id` comes up blocked in a TRE that
 * is not locked down (MGT-2); the device is left in that state. False if no
 * position did it. */
static bool damage_until_blocked(tf_dev *d, const char *id, uint8_t mask, size_t step, bool ro)
{
	omc_tre *t = tf_open_ro(d);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	omc_tre_close(t);
	char path[64];
	snprintf(path, sizeof path, "%sstore/objs.%c", d->base, st.generation % 2 ? 'a' : 'b');
	uint8_t *o;
	size_t n;
	assert_int_equal(omc_memfs_raw_get(d->fs, path, &o, &n), OMC_OK);
	/* Opening commits (the boot count, the blocking): each probe starts
	 * from the same device. */
	tf_image sn;
	tf_dev_image_take(&sn, d);
	bool found = false;
	for (size_t pos = 20; pos < n && !found; pos += step) {
		tf_dev_image_put(&sn, d);
		uint8_t *copy = omc_alloc(n);
		assert_non_null(copy);
		memcpy(copy, o, n);
		copy[pos] ^= mask;
		assert_int_equal(omc_memfs_raw_put(d->fs, path, copy, n), OMC_OK);
		omc_free(copy);
		t = ro ? tf_open_ro(d) : tf_open(d);
		omc_tre_mcim_info reg[64];
		const omc_tre_mcim_info *c = find(t, id, reg);
		found = omc_tre_get_state(t) != OMC_TRE_LOCKDOWN && c && c->state == OMC_MCIM_BLOCKED;
		omc_tre_close(t);
	}
	tf_image_free(&sn);
	omc_free(o);
	return found;
}

static void test_mcim_integrity(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("c1", "sho1", "001020000000041", K1, OPC1)));
	omc_tre_close(t);
	/* A damaged record blocks that MCIM, and only that one. */
	assert_true(damage_until_blocked(&d, "c1", 0x01, 37, false));
	/* The blocking is durable: the next open still finds c1 blocked. */
	t = tf_open(&d);
	omc_tre_mcim_info reg[64];
	assert_int_equal(find(t, "c1", reg)->state, OMC_MCIM_BLOCKED);
	assert_int_equal(find(t, "pcid", reg)->state, OMC_MCIM_ACTIVATED);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static void test_rollback_locks_down(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	/* Snapshot the store, change it, put the snapshot back. */
	const char *names[] = {"root.a", "root.b", "objs.a", "objs.b", "arb.a", "arb.b"};
	uint8_t *old[6] = {0};
	size_t old_len[6] = {0};
	char path[64];
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof path, "%sstore/%s", d.base, names[i]);
		if (omc_memfs_raw_get(d.fs, path, &old[i], &old_len[i]) != OMC_OK)
			old[i] = NULL;
	}
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("r1", "sho1", "001020000000051", K1, OPC1)));
	omc_tre_close(t);
	for (int i = 0; i < 4; i++) { /* roots and objects, not the counter */
		snprintf(path, sizeof path, "%sstore/%s", d.base, names[i]);
		if (old[i])
			assert_int_equal(omc_memfs_raw_put(d.fs, path, old[i], old_len[i]), OMC_OK);
	}
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_LOCKDOWN);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_non_null(strstr(st.lockdown_reason, "rollback"));
	omc_tre_close(t);
	for (int i = 0; i < 6; i++)
		omc_free(old[i]);
	tf_dev_free(&d);
}

/* One operator's CA cannot speak for another (invariant 6, MGT-6): a
 * certificate with CN "sho1" issued by sho2's CA chains to a trusted
 * operator anchor, but not to sho1's own, and is refused. */
static void test_issuer_bound_to_its_ca(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("v1", "sho1", "001020000000081", K1, OPC1)));
	omc_key *ca_key, *fake_key;
	omc_cert *ca, *fake;
	assert_int_equal(omc_pki_load(tf_pki(), "sho2-ca", &ca_key, &ca), OMC_OK);
	assert_int_equal(omc_key_generate(&fake_key), OMC_OK);
	omc_cert_req req = {.subject_cn = "sho1", .subject_org = "not sho1", .days = 30};
	assert_int_equal(omc_cert_issue(&fake, &req, fake_key, ca, ca_key), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "iss", "sho1", "seq", (json_int_t)50, "tre", d.tre_id, "cmd",
			      "delete", "mcim", "v1", "iat", (json_int_t)time(NULL));
	char *payload = json_dumps(p, JSON_COMPACT), *jws = NULL;
	json_decref(p);
	const omc_cert *x5c[] = {fake};
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)payload, strlen(payload), fake_key, x5c, 1, "omc-command+jwt"),
			 OMC_OK);
	char *r = NULL;
	bool applied = true;
	assert_int_equal(omc_tre_command(t, jws, strlen(jws), &r, &applied), OMC_ERR_DENIED);
	assert_false(applied);
	omc_tre_mcim_info reg[64];
	assert_int_equal(find(t, "v1", reg)->state, OMC_MCIM_ACTIVATED);
	/* sho1's own sequence numbers were not touched: its next command works. */
	char *c = tf_command("sho1", 2, d.tre_id, "deactivate", "v1");
	assert_int_equal(omc_tre_command(t, c, strlen(c), &r, &applied), OMC_OK);
	assert_true(applied);
	omc_free(r);
	omc_free(c);
	omc_free(jws);
	omc_free(payload);
	omc_cert_free(fake);
	omc_cert_free(ca);
	omc_key_free(fake_key);
	omc_key_free(ca_key);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* A recovery authorisation stays good for its lockdown episode however
 * many junk attempts are refused meanwhile (each is audited, and so moves
 * the anti-rollback counter); it is spent once used. covers: TRE-4, SEC-5 */
static void test_recovery_not_stalled_by_refusals(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	assert_int_equal(omc_tre_tamper(t, "probe"), OMC_OK);
	uint64_t ctr, again;
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	char *good = recovery("ro", 7, d.tre_id, ctr);
	for (int i = 0; i < 5; i++) {
		char *junk = recovery("sho2", 1, d.tre_id, ctr); /* not the RO: refused, audited */
		assert_int_equal(omc_tre_recover(t, junk, strlen(junk)), OMC_ERR_BAD_SIGNATURE);
		omc_free(junk);
		assert_int_equal(omc_tre_recover(t, "x.y.z", 5), OMC_ERR_BAD_FORMAT);
		assert_int_equal(omc_tre_tamper(t, "probe again"), OMC_OK); /* still the same episode */
	}
	assert_int_equal(omc_tre_recovery_counter(t, &again), OMC_OK);
	assert_int_equal(again, ctr);
	/* Across a restart too. */
	omc_tre_close(t);
	t = tf_open(&d);
	assert_int_equal(omc_tre_recovery_counter(t, &again), OMC_OK);
	assert_int_equal(again, ctr);
	assert_int_equal(omc_tre_recover(t, good, strlen(good)), OMC_OK);
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	/* The next lockdown is a new episode: the spent authorisation is stale. */
	assert_int_equal(omc_tre_tamper(t, "later \xc3\xa9\n\x01"), OMC_OK); /* not ASCII: still recorded */
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_string_equal(st.lockdown_reason, "tamper: later ????");
	uint64_t n_audit = 0;
	assert_int_equal(omc_tre_audit_verify(t, &n_audit), OMC_OK);
	assert_int_equal(omc_tre_recovery_counter(t, &again), OMC_OK);
	assert_true(again > ctr);
	assert_int_equal(omc_tre_recover(t, good, strlen(good)), OMC_ERR_DENIED);
	omc_free(good);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* A read-only open (openmcim tre status) shows a damaged record as
 * blocked, with its owner and id, before any read-write open has replaced
 * it; its AKA is refused. covers: MGT-2, MGT-5 */
static void test_readonly_sees_damage(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, tf_mcim("c2", "sho1", "001020000000042", K1, OPC1)));
	omc_tre_close(t);
	assert_true(damage_until_blocked(&d, "c2", 0x01, 37, true));
	t = tf_open_ro(&d);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *c = find(t, "c2", reg);
	assert_int_equal(c->state, OMC_MCIM_BLOCKED);
	assert_string_equal(c->owner, "sho1");
	assert_string_equal(c->role, "operational");
	assert_int_equal(find(t, "pcid", reg)->state, OMC_MCIM_ACTIVATED);
	omc_aka_av av;
	omc_aka_check_result r;
	tf_av(&av, K1, OPC1, 64);
	assert_int_not_equal(omc_tre_aka(t, &agent, "c2", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* A damaged PCID is blocked and stays a bootstrap MCIM: the TRE does not
 * turn "provisioned" (MGT-2). covers: MGT-2, MGT-5, SEC-3 */
static void test_damaged_pcid_stays_bootstrap(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	assert_true(damage_until_blocked(&d, "pcid", 0x40, 29, false));
	omc_tre *t = tf_open(&d);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *p = find(t, "pcid", reg);
	assert_int_equal(p->state, OMC_MCIM_BLOCKED);
	assert_string_equal(p->role, "bootstrap");
	assert_string_equal(p->owner, "ico");
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	omc_tre_close(t);
	tf_dev_free(&d);
}

static int64_t fake_now;
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* A package for a provisioning session older than its lifetime is refused;
 * within it, installed. covers: SEC-9, MGT-1 */
static void test_session_expires(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	fake_now = (int64_t)time(NULL);
	omc_tre_opts o = {.now = fake_clock};
	tf_opts(&d, &o);
	omc_tre *t = NULL;
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	for (int late = 1; late >= 0; late--) {
		uint8_t nonce[16];
		tl_rand(nonce, 16);
		char *ev = NULL, *rc = NULL;
		assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
		char *pkg = tf_package("sho1", 2 - (uint64_t)late, d.tre_id, nonce, 16, ev,
				       tf_mcim("x1", "sho1", "001020000000093", K1, OPC1), true);
		fake_now += late ? 24 * 3600 + 1 : 24 * 3600;
		assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &rc), late ? OMC_ERR_BAD_STATE : OMC_OK);
		omc_free(rc);
		omc_free(pkg);
		omc_free(ev);
	}
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* MGT-3: an MCIM uses another's AKA function only if both sharing policies
 * name each other and both are activated; ids of the full 40 characters
 * work in a policy. An ACL entry no user name could match is refused. */
#define SHARED_KEY "key-012345678901234567890123456789abcdef"
static json_t *mcim_sharing(const char *id, const char *imsi, const char *share_with)
{
	json_t *m = tf_mcim(id, "sho1", imsi, K1, OPC1);
	assert_int_equal(json_object_set_new(m, "share", json_pack("[s]", share_with)), 0);
	return m;
}

static void test_sharing(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	omc_free(tf_provision(t, "sho1", 1, mcim_sharing(SHARED_KEY, "001020000000101", "app1")));
	omc_free(tf_provision(t, "sho1", 2, mcim_sharing("app1", "001020000000102", SHARED_KEY)));
	omc_free(tf_provision(t, "sho1", 3, mcim_sharing("app2", "001020000000103", SHARED_KEY)));
	omc_aka_av av;
	omc_aka_check_result r;
	tf_av(&av, K1, OPC1, 64);
	assert_int_equal(omc_tre_aka_shared(t, &agent, "app1", SHARED_KEY, av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	assert_memory_equal(r.res, av.xres, 8);
	/* app2 names the key, but the key does not name app2. */
	tf_av(&av, K1, OPC1, 96);
	assert_int_equal(omc_tre_aka_shared(t, &agent, "app2", SHARED_KEY, av.rand, av.autn, av.autn_len, &r),
			 OMC_ERR_DENIED);
	/* Both must be activated. */
	char *c = tf_command("sho1", 4, d.tre_id, "deactivate", "app1"), *res = NULL;
	bool applied = false;
	assert_int_equal(omc_tre_command(t, c, strlen(c), &res, &applied), OMC_OK);
	assert_true(applied);
	omc_free(c);
	omc_free(res);
	assert_int_equal(omc_tre_aka_shared(t, &agent, "app1", SHARED_KEY, av.rand, av.autn, av.autn_len, &r),
			 OMC_ERR_BAD_STATE);
	/* An ACL in upper case can never match a user: the package is refused. */
	uint8_t nonce[16];
	tl_rand(nonce, 16);
	char *ev = NULL, *rc = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, 16, &ev), OMC_OK);
	json_t *m = tf_mcim("app3", "sho1", "001020000000104", K1, OPC1);
	assert_int_equal(json_object_set_new(m, "acl", json_pack("[s]", "Agent")), 0);
	char *pkg = tf_package("sho1", 5, d.tre_id, nonce, 16, ev, m, true);
	assert_int_equal(omc_tre_install(t, pkg, strlen(pkg), &rc), OMC_ERR_BAD_FORMAT);
	omc_free(pkg);
	omc_free(ev);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Re-sign a JWS's payload with claim `key` set to `val`, by a certificate
 * with CN `cn` that the M2MES CA issued (a genuine TRE of another id). */
static char *resign(const char *jws, const char *typ, const char *key, const char *val, const char *cn)
{
	uint8_t *payload;
	size_t len;
	assert_int_equal(omc_jws_peek(&payload, &len, jws, strlen(jws)), OMC_OK);
	json_t *o = json_loadb((const char *)payload, len, 0, NULL);
	omc_free(payload);
	assert_non_null(o);
	assert_int_equal(json_object_set_new(o, key, json_string(val)), 0);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	omc_key *ca_key, *k;
	omc_cert *ca, *leaf;
	assert_int_equal(omc_pki_load(tf_pki(), "m2mes-ca", &ca_key, &ca), OMC_OK);
	assert_int_equal(omc_key_generate(&k), OMC_OK);
	omc_cert_req req = {.subject_cn = cn, .days = 30};
	assert_int_equal(omc_cert_issue(&leaf, &req, k, ca, ca_key), OMC_OK);
	const omc_cert *x5c[] = {leaf};
	char *out = NULL;
	assert_int_equal(omc_jws_sign(&out, (const uint8_t *)s, strlen(s), k, x5c, 1, typ), OMC_OK);
	omc_free(s);
	omc_key_free(ca_key);
	omc_key_free(k);
	omc_cert_free(ca);
	omc_cert_free(leaf);
	return out;
}

/* A TRE speaks for itself only: evidence or a checkpoint naming another
 * TRE than the certificate that signed it is refused, even from a genuine
 * certificate of the M2MES CA. covers: TRE-7, TRE-11, EVAL-1, SEC-8 */
static void test_verifiers_bind_tre_id(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	uint8_t nonce[16];
	tl_rand(nonce, 16);
	char *ev = NULL, *cp = NULL, *recs = NULL;
	size_t rl;
	assert_int_equal(omc_tre_attest(t, nonce, 16, &ev), OMC_OK);
	assert_int_equal(omc_tre_audit_checkpoint(t, &cp), OMC_OK);
	assert_int_equal(omc_tre_audit_export(t, &recs, &rl), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	uint64_t cnt;
	/* Signed by tre-other, claiming to be this TRE. */
	char *fake = resign(ev, "omc-evidence+jwt", "tre_id", d.tre_id, "tre-other");
	assert_int_equal(omc_evidence_verify(&e, fake, strlen(fake), anchors, 1, nonce, 16, 0), OMC_ERR_DENIED);
	omc_free(fake);
	/* The same certificate telling the truth is fine. */
	fake = resign(ev, "omc-evidence+jwt", "tre_id", "tre-other", "tre-other");
	assert_int_equal(omc_evidence_verify(&e, fake, strlen(fake), anchors, 1, nonce, 16, 0), OMC_OK);
	omc_evidence_free(&e);
	omc_free(fake);
	fake = resign(cp, "omc-audit-checkpoint+jwt", "tre", d.tre_id, "tre-other");
	assert_int_equal(omc_audit_checkpoint_verify(fake, strlen(fake), recs, rl, anchors, 1, &cnt), OMC_ERR_DENIED);
	omc_free(fake);
	assert_int_equal(omc_audit_checkpoint_verify(cp, strlen(cp), recs, rl, anchors, 1, &cnt), OMC_OK);
	omc_free(ev);
	omc_free(cp);
	omc_free(recs);
	omc_cert_free(ca);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Local lifecycle changes (MGT-7, TRE-10): an operator the MCIM's ACL names
 * may deactivate and activate it; a plain user, an operator the ACL does
 * not name, or a caller who is not a user at all may not. */
static void test_local_lifecycle_roles(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	omc_tre *t = tf_open(&d);
	json_t *m = tf_mcim("l1", "sho1", "001020000000121", K1, OPC1);
	assert_int_equal(json_object_set_new(m, "acl", json_pack("[s,s,s]", "op1", "bob", "agent")), 0);
	omc_free(tf_provision(t, "sho1", 1, m));
	omc_tre_caller root, op1, op2, bob;
	assert_int_equal(omc_tre_user_add(t, NULL, "root", "admin", "9876", 4), OMC_OK);
	assert_int_equal(omc_tre_user_auth(t, "root", "9876", 4, &root), OMC_OK);
	assert_int_equal(omc_tre_user_add(t, &root, "op1", "operator", "1111", 4), OMC_OK);
	assert_int_equal(omc_tre_user_add(t, &root, "op2", "operator", "2222", 4), OMC_OK);
	assert_int_equal(omc_tre_user_add(t, &root, "bob", "user", "3333", 4), OMC_OK);
	assert_int_equal(omc_tre_user_auth(t, "op1", "1111", 4, &op1), OMC_OK);
	assert_int_equal(omc_tre_user_auth(t, "op2", "2222", 4, &op2), OMC_OK);
	assert_int_equal(omc_tre_user_auth(t, "bob", "3333", 4, &bob), OMC_OK);
	omc_tre_mcim_info reg[64];
	assert_int_equal(omc_tre_local_lifecycle(t, &bob, "l1", OMC_EV_DEACTIVATE), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_local_lifecycle(t, &op2, "l1", OMC_EV_DEACTIVATE), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_local_lifecycle(t, &agent, "l1", OMC_EV_DEACTIVATE), OMC_ERR_DENIED);
	assert_int_equal(find(t, "l1", reg)->state, OMC_MCIM_ACTIVATED);
	assert_int_equal(omc_tre_local_lifecycle(t, &op1, "l1", OMC_EV_DEACTIVATE), OMC_OK);
	assert_int_equal(find(t, "l1", reg)->state, OMC_MCIM_DEACTIVATED);
	/* Not in the table for a user: delete. */
	assert_int_equal(omc_tre_local_lifecycle(t, &op1, "l1", OMC_EV_DELETE), OMC_ERR_DENIED);
	assert_int_equal(omc_tre_local_lifecycle(t, &op1, "l1", OMC_EV_ACTIVATE), OMC_OK);
	assert_int_equal(find(t, "l1", reg)->state, OMC_MCIM_ACTIVATED);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Recovery restores a damaged PCID from the sealed identity (pristine means
 * the PCID works): activated again, and it accepts only SQNs above every
 * one it accepted before the damage, so no old vector can be replayed.
 * covers: TRE-4, MGT-2, SEC-5, CHG-3, NET-3 */
static void test_recovery_restores_pcid(void **state)
{
	(void)state;
	tf_dev d;
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"001019000000321\",\"k\":\"%s\",\"opc\":\"%s\"}", K1, OPC1);
	tf_dev_make(&d, NULL, pcid);
	omc_tre *t = tf_open(&d);
	omc_aka_av av, old;
	omc_aka_check_result r;
	tf_av(&old, K1, OPC1, 700);
	tf_av(&av, K1, OPC1, 1000);
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	omc_tre_close(t);
	assert_true(damage_until_blocked(&d, "pcid", 0x40, 29, false));
	t = tf_open(&d);
	assert_int_equal(omc_tre_tamper(t, "probe"), OMC_OK);
	uint64_t ctr;
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	char *auth = recovery("ro", 1, d.tre_id, ctr);
	assert_int_equal(omc_tre_recover(t, auth, strlen(auth)), OMC_OK);
	omc_free(auth);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *p = find(t, "pcid", reg);
	assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	assert_string_equal(p->imsi, "001019000000321");
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	omc_tre_close(t);
	t = tf_open(&d);
	/* Below the old high-water mark: stale. Above it: accepted. */
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", old.rand, old.autn, old.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	tf_av(&av, K1, OPC1, 1100);
	assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	omc_tre_close(t);
	tf_dev_free(&d);
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	omc_log_set_handler(log_keep, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_factory_and_status),
		cmocka_unit_test(test_pcid_aka_inside),
		cmocka_unit_test(test_install_and_aka),
		cmocka_unit_test(test_sharing),
		cmocka_unit_test(test_session_expires),
		cmocka_unit_test(test_package_refusals),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_issuer_bound_to_its_ca),
		cmocka_unit_test(test_tamper_lockdown_recovery),
		cmocka_unit_test(test_recovery_not_stalled_by_refusals),
		cmocka_unit_test(test_secure_boot),
		cmocka_unit_test(test_verifiers_bind_tre_id),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_local_lifecycle_roles),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_no_secret_on_disk),
		cmocka_unit_test(test_mcim_integrity),
		cmocka_unit_test(test_damaged_pcid_stays_bootstrap),
		cmocka_unit_test(test_recovery_restores_pcid),
		cmocka_unit_test(test_readonly_sees_damage),
		cmocka_unit_test(test_rollback_locks_down),
	};
	return cmocka_run_group_tests(tests, NULL, logs_hold_no_secret);
}
