/* PCID renewal in the TRE: a bootstrap MCIM from the PCID's owner (the
 * ICO), same id, a higher version, replaces the live PCID in one commit,
 * activated, its SQN state fresh, the old secrets erased from both store
 * slots; the receipt says `replaced` with the old IMSI. Every other
 * install of a live id stays OMC_ERR_EXISTS; a bootstrap MCIM never comes
 * from another owner or beside the PCID. The network's `renew_pcid`
 * command changes nothing but answers a signed result. Recovery keeps a
 * renewed PCID that is intact.
 * covers: CHG-4, CHG-5, NET-7, SEC-6, SEC-9 */
#include "tre_fixture.h"

#define K1 "5d8b1f3c9a0e4b7d2c6f1a8e3b9d0c7a"
#define OPC1 "a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define K2 "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define OPC2 "11223344556677889900aabbccddeeff"
#define OLD_IMSI "001019000000777"
#define NEW_IMSI "001010000000042"

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

static void dev_with_pcid(tf_dev *d)
{
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}", OLD_IMSI, K1, OPC1);
	tf_dev_make(d, NULL, pcid);
}

/* A bootstrap MCIM in package form. */
static json_t *pcid_mcim(const char *id, const char *owner, const char *role, const char *imsi, int version)
{
	json_t *m = tf_mcim(id, owner, imsi, K2, OPC2);
	assert_int_equal(json_object_set_new(m, "role", json_string(role)), 0);
	assert_int_equal(json_object_set_new(m, "version", json_integer(version)), 0);
	assert_int_equal(json_object_set_new(m, "expires", json_integer((json_int_t)time(NULL) + 400 * 86400)), 0);
	return m;
}

/* A session, then the package of `who` for it, installed: the answer. */
static omc_err renew(omc_tre *t, const char *who, uint64_t seq, json_t *mcim, char **receipt)
{
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_int_equal(omc_tre_session_begin(t, nonce, sizeof nonce, &ev), OMC_OK);
	omc_tre_status st;
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	char *pkg = tf_package(who, seq, st.tre_id, nonce, sizeof nonce, ev, mcim, false);
	omc_free(ev);
	*receipt = NULL;
	omc_err e = omc_tre_install(t, pkg, strlen(pkg), receipt);
	omc_free(pkg);
	return e;
}

static json_t *claims_of(const char *jws)
{
	uint8_t *pl = NULL;
	size_t n = 0;
	assert_int_equal(omc_jws_peek(&pl, &n, jws, strlen(jws)), OMC_OK);
	json_error_t je;
	json_t *c = json_loadb((const char *)pl, n, 0, &je);
	omc_free(pl);
	assert_non_null(c);
	return c;
}

/* AKA with the PCID against a vector from k/opc: OK, or a MAC failure. */
static omc_err pcid_aka(omc_tre *t, const char *k, const char *opc, uint64_t sqn)
{
	omc_aka_av av;
	tf_av(&av, k, opc, sqn);
	omc_aka_check_result r;
	omc_err e = omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r);
	if (e == OMC_OK && r.status != OMC_AKA_STATUS_OK)
		e = r.status == OMC_AKA_STATUS_SYNC_FAILURE ? OMC_ERR_SYNC_FAILURE : OMC_ERR_MAC_FAILURE;
	if (e == OMC_OK && !omc_ct_eq(r.res, av.xres, av.xres_len))
		e = OMC_ERR_MAC_FAILURE;
	omc_memzero(&r, sizeof r);
	return e;
}

static void scan_for(omc_memfs *fs, const char *hex)
{
	uint8_t s[16];
	tl_hex(s, 16, hex);
	char *paths;
	size_t plen;
	assert_int_equal(omc_memfs_list(fs, &paths, &plen), OMC_OK);
	for (const char *p = paths; p < paths + plen; p += strlen(p) + 1) {
		uint8_t *data;
		size_t len;
		if (omc_memfs_raw_get(fs, p, &data, &len) != OMC_OK)
			continue;
		for (size_t i = 0; i + 16 <= len; i++)
			if (!memcmp(data + i, s, 16))
				fail_msg("%s found in %s at %zu", hex, p, i);
		omc_free(data);
	}
	omc_free(paths);
}

/* CHG-4, CHG-5: the renewal replaces the PCID, activated, with a fresh SQN
 * state; the receipt names the IMSI it replaced. */
static void test_renewal_replaces(void **state)
{
	(void)state;
	tf_dev d;
	dev_with_pcid(&d);
	omc_tre *t = tf_open(&d);
	/* The old PCID runs AKA and accepts a high SQN. */
	assert_int_equal(pcid_aka(t, K1, OPC1, 5000), OMC_OK);
	char *receipt = NULL;
	assert_int_equal(renew(t, "ico", 1, pcid_mcim("pcid", "ico", "bootstrap", NEW_IMSI, 2), &receipt), OMC_OK);
	assert_non_null(receipt);
	json_t *c = claims_of(receipt);
	assert_string_equal(json_string_value(json_object_get(c, "result")), "replaced");
	assert_string_equal(json_string_value(json_object_get(c, "mcim")), "pcid");
	assert_string_equal(json_string_value(json_object_get(c, "imsi")), NEW_IMSI);
	assert_string_equal(json_string_value(json_object_get(c, "iss")), "ico");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "activated");
	json_t *rep = json_object_get(c, "replaced");
	assert_string_equal(json_string_value(json_object_get(rep, "imsi")), OLD_IMSI);
	assert_int_equal(json_integer_value(json_object_get(rep, "version")), 1);
	json_decref(c);
	omc_free(receipt);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *p = find(t, "pcid", reg);
	assert_non_null(p);
	assert_string_equal(p->imsi, NEW_IMSI);
	assert_string_equal(p->role, "bootstrap");
	assert_string_equal(p->owner, "ico");
	assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	assert_int_equal(p->version, 2);
	assert_true(p->expires > (int64_t)time(NULL) + 399 * 86400);
	/* Still pristine: a PCID only. */
	assert_int_equal(omc_tre_get_state(t), OMC_TRE_PRISTINE);
	/* The new K answers, from a low SQN (fresh state); the old K does not. */
	assert_int_equal(pcid_aka(t, K2, OPC2, 32), OMC_OK);
	assert_int_not_equal(pcid_aka(t, K1, OPC1, 6000), OMC_OK);
	/* The same package's successor again: version 2 is not above 2. */
	assert_int_equal(renew(t, "ico", 2, pcid_mcim("pcid", "ico", "bootstrap", "001010000000043", 2), &receipt),
			 OMC_ERR_EXISTS);
	/* And a reboot keeps the new one. */
	omc_tre_close(t);
	t = tf_open(&d);
	p = find(t, "pcid", reg);
	assert_string_equal(p->imsi, NEW_IMSI);
	assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	assert_int_equal(pcid_aka(t, K2, OPC2, 64), OMC_OK);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* Every other install of the live PCID's id is refused and changes
 * nothing: a version not above it, another owner, the operational role; a
 * bootstrap MCIM beside the PCID is refused too. */
static void test_renewal_refusals(void **state)
{
	(void)state;
	tf_dev d;
	dev_with_pcid(&d);
	omc_tre *t = tf_open(&d);
	char *receipt = NULL;
	static const struct {
		const char *who, *id, *owner, *role;
		int version;
		omc_err want;
	} cases[] = {
		{"ico", "pcid", "ico", "bootstrap", 1, OMC_ERR_EXISTS},       /* equal version */
		{"sho1", "pcid", "sho1", "bootstrap", 5, OMC_ERR_EXISTS},     /* another owner */
		{"ico", "pcid", "ico", "operational", 5, OMC_ERR_EXISTS},     /* not a bootstrap MCIM */
		{"sho1", "pcid", "sho1", "operational", 5, OMC_ERR_EXISTS},   /* an SHO's MCIM named pcid */
		{"sho1", "pcid2", "sho1", "bootstrap", 1, OMC_ERR_DENIED},    /* a bootstrap MCIM of an SHO */
		{"ico", "pcid2", "ico", "bootstrap", 1, OMC_ERR_DENIED},      /* a second PCID */
		{"sho1", "pcid", "ico", "bootstrap", 5, OMC_ERR_DENIED},      /* signed by one not the owner */
	};
	uint64_t seq = 1;
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		json_t *m = pcid_mcim(cases[i].id, cases[i].owner, cases[i].role, NEW_IMSI, cases[i].version);
		omc_err e = renew(t, cases[i].who, seq++, m, &receipt);
		if (e != cases[i].want)
			fail_msg("case %zu: %s, want %s", i, omc_err_name(e), omc_err_name(cases[i].want));
		assert_null(receipt);
		omc_tre_mcim_info reg[64];
		const omc_tre_mcim_info *p = find(t, "pcid", reg);
		assert_string_equal(p->imsi, OLD_IMSI);
		assert_int_equal(p->version, 1);
		assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
		assert_null(find(t, "pcid2", reg));
	}
	/* After a renewal to version 3, version 2 is below it. */
	assert_int_equal(renew(t, "ico", seq++, pcid_mcim("pcid", "ico", "bootstrap", NEW_IMSI, 3), &receipt), OMC_OK);
	omc_free(receipt);
	assert_int_equal(renew(t, "ico", seq++, pcid_mcim("pcid", "ico", "bootstrap", "001010000000044", 2), &receipt),
			 OMC_ERR_EXISTS);
	assert_null(receipt);
	/* The old PCID still answers AKA nowhere; the renewed one does. */
	assert_int_equal(pcid_aka(t, K2, OPC2, 32), OMC_OK);
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* SEC-6: neither store slot keeps the old K or OPc after the renewal (the
 * commit erases), even after one more commit; the new ones are encrypted. */
static void test_old_secret_gone(void **state)
{
	(void)state;
	tf_dev d;
	dev_with_pcid(&d);
	omc_tre *t = tf_open(&d);
	assert_int_equal(pcid_aka(t, K1, OPC1, 64), OMC_OK);
	char *receipt = NULL;
	assert_int_equal(renew(t, "ico", 1, pcid_mcim("pcid", "ico", "bootstrap", NEW_IMSI, 2), &receipt), OMC_OK);
	omc_free(receipt);
	omc_tre_close(t);
	scan_for(d.fs, K1);
	scan_for(d.fs, OPC1);
	scan_for(d.fs, K2);
	scan_for(d.fs, OPC2);
	tf_dev_free(&d);
}

/* NET-7: the ICO's (or the RO's) `renew_pcid` changes nothing and is
 * answered with a signed result; an SHO gets "no such MCIM". */
static void test_renew_command(void **state)
{
	(void)state;
	tf_dev d;
	dev_with_pcid(&d);
	omc_tre *t = tf_open(&d);
	static const struct {
		const char *who;
		bool ok;
	} cases[] = {{"ico", true}, {"ro", true}, {"sho1", false}};
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		char *cmd = tf_command(cases[i].who, 1, d.tre_id, "renew_pcid", "pcid");
		char *res = NULL;
		bool applied = false;
		assert_int_equal(omc_tre_command(t, cmd, strlen(cmd), &res, &applied), OMC_OK);
		assert_int_equal(applied, cases[i].ok);
		json_t *c = claims_of(res);
		assert_string_equal(json_string_value(json_object_get(c, "cmd")), "renew_pcid");
		assert_string_equal(json_string_value(json_object_get(c, "result")), cases[i].ok ? "ok" : "refused");
		if (!cases[i].ok)
			assert_string_equal(json_string_value(json_object_get(c, "reason")), "no such MCIM");
		json_decref(c);
		omc_free(res);
		omc_free(cmd);
		omc_tre_mcim_info reg[64];
		const omc_tre_mcim_info *p = find(t, "pcid", reg);
		assert_string_equal(p->imsi, OLD_IMSI);
		assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	}
	omc_tre_close(t);
	tf_dev_free(&d);
}

/* TRE-4 with CHG-4: recovery keeps a renewed PCID that is intact (the
 * factory PCID comes back only if the PCID is blocked or gone). */
static void test_recovery_keeps_renewed(void **state)
{
	(void)state;
	tf_dev d;
	dev_with_pcid(&d);
	omc_tre *t = tf_open(&d);
	char *receipt = NULL;
	assert_int_equal(renew(t, "ico", 1, pcid_mcim("pcid", "ico", "bootstrap", NEW_IMSI, 2), &receipt), OMC_OK);
	omc_free(receipt);
	assert_int_equal(omc_tre_tamper(t, "enclosure opened"), OMC_OK);
	uint64_t ctr;
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)1, "tre", d.tre_id, "counter",
			      (json_int_t)ctr, "iat", (json_int_t)time(NULL));
	char *auth = tf_sign("ro", "omc-recovery+jwt", p);
	assert_int_equal(omc_tre_recover(t, auth, strlen(auth)), OMC_OK);
	omc_free(auth);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *r = find(t, "pcid", reg);
	assert_string_equal(r->imsi, NEW_IMSI);
	assert_int_equal(r->version, 2);
	assert_int_equal(r->state, OMC_MCIM_ACTIVATED);
	assert_int_equal(pcid_aka(t, K2, OPC2, 32), OMC_OK);
	/* Blocked, the renewed PCID gives way to the factory one at the next
	 * recovery, at a version above it. */
	char *cmd = tf_command("ico", 2, d.tre_id, "block", "pcid");
	char *res = NULL;
	bool applied = false;
	assert_int_equal(omc_tre_command(t, cmd, strlen(cmd), &res, &applied), OMC_OK);
	assert_true(applied);
	omc_free(res);
	omc_free(cmd);
	assert_int_equal(omc_tre_tamper(t, "enclosure opened"), OMC_OK);
	assert_int_equal(omc_tre_recovery_counter(t, &ctr), OMC_OK);
	p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)2, "tre", d.tre_id, "counter",
		      (json_int_t)ctr, "iat", (json_int_t)time(NULL));
	auth = tf_sign("ro", "omc-recovery+jwt", p);
	assert_int_equal(omc_tre_recover(t, auth, strlen(auth)), OMC_OK);
	omc_free(auth);
	r = find(t, "pcid", reg);
	assert_string_equal(r->imsi, OLD_IMSI);
	assert_int_equal(r->version, 3);
	assert_int_equal(r->state, OMC_MCIM_ACTIVATED);
	omc_tre_close(t);
	tf_dev_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renewal_replaces),   cmocka_unit_test(test_renewal_refusals),
		cmocka_unit_test(test_old_secret_gone),    cmocka_unit_test(test_renew_command),
		cmocka_unit_test(test_recovery_keeps_renewed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
