/* openmcim demo, second part: the TRE core and an operator's AuC on real
 * files in a temporary directory. The factory makes a PKI and a device;
 * the TRE boots; an SHO creates a subscriber in its AuC (SQLite), signs an
 * MCIM and encrypts it to the key of the TRE's provisioning session after
 * checking its evidence as a PVA would; the TRE installs it and runs AKA
 * inside against the AuC's vectors; a tamper locks it down and the RO's
 * signed recovery makes it pristine again; its audit log checks out. K
 * and OPc are random and never printed. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "util/util_internal.h"

typedef struct demo {
	char dir[64], pki[96], dev[96], db_path[96];
	omc_tre *t;
	omc_db *db;
	omc_auc *auc;
	omc_cert *m2mes;
	char tre_id[64];
	char *evidence;
	uint8_t nonce[16];
} demo;

static int step(const char *what, bool ok)
{
	printf("  %-62s %s\n", what, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

bool demo_mkdtemp(char *dir, size_t cap, const char *stem)
{
	const char *base = "/tmp";
#ifdef OMC_TEST_HOOKS
	if (getenv("OMC_TEST_DEMO_DIR"))
		base = getenv("OMC_TEST_DEMO_DIR");
#endif
	int n = snprintf(dir, cap, "%s/%s-XXXXXX", base, stem);
	return n > 0 && (size_t)n < cap && mkdtemp(dir) != NULL;
}

void demo_rmtree(const char *dir)
{
#ifdef OMC_TEST_HOOKS
	if (getenv("OMC_TEST_DEMO_DIR"))
		return;
#endif
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "openmcim demo: could not remove %s\n", dir);
}

bool demo_secret(uint8_t *out, size_t n, const char *name)
{
	if (omc_rand_bytes(out, n) != OMC_OK)
		return false;
	OMC_TEST_CANARY(out, n, name);
	(void)name;
	return true;
}

/* Sign a JSON payload as PKI entity `who`. */
static bool sign_as(char **jws, const demo *d, const char *who, const char *typ, json_t *payload)
{
	omc_key *k = NULL;
	omc_cert *c = NULL;
	char *s = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	bool ok = s && omc_pki_load(d->pki, who, &k, &c) == OMC_OK;
	const omc_cert *x5c[1] = {c};
	ok = ok && omc_jws_sign(jws, (const uint8_t *)s, strlen(s), k, x5c, 1, typ) == OMC_OK;
	omc_free(s); /* wiped: a package payload holds K and OPc */
	omc_key_free(k);
	omc_cert_free(c);
	return ok;
}

static bool hex(char *out, const uint8_t *in, size_t n)
{
	return omc_hex_encode(out, 2 * n + 1, in, n) == OMC_OK;
}

/* The SHO's side: a subscriber in its AuC, an MCIM signed and encrypted to
 * the session key from evidence it has checked. */
static bool make_package(char **pkg, demo *d, const char *imsi)
{
	uint8_t k[16], opc[16];
	char kh[33], oh[33], nb[32];
	omc_aka_cred cred = {.alg = OMC_AKA_ALG_MILENAGE};
	bool ok = demo_secret(k, 16, "K") && demo_secret(opc, 16, "OP") &&
		  omc_aka_milenage_init(&cred.u.milenage, k, opc, NULL) == OMC_OK &&
		  omc_auc_add(d->auc, imsi, &cred, OMC_AKA_IND_BITS_DEFAULT) == OMC_OK && hex(kh, k, 16) &&
		  hex(oh, opc, 16) && omc_b64_encode(nb, sizeof nb, d->nonce, 16, OMC_B64_URL) == OMC_OK;
	omc_aka_cred_wipe(&cred);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	json_t *m = ok ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:i}", "id", "sho1-0001", "owner", "sho1",
				   "role", "operational", "type", "usim", "imsi", imsi, "alg", "milenage", "k", kh,
				   "opc", oh, "acl", "agent", "version", 1)
		       : NULL;
	omc_memzero(kh, sizeof kh);
	omc_memzero(oh, sizeof oh);
	json_t *p = m ? json_pack("{s:s,s:I,s:s,s:s,s:I,s:b,s:o}", "iss", "sho1", "seq", (json_int_t)1, "tre",
				  d->tre_id, "nonce", nb, "iat", (json_int_t)time(NULL), "activate", 1, "mcim", m)
		      : NULL;
	char *jws = NULL;
	ok = p && sign_as(&jws, d, "sho1", "omc-mcim-package+jwt", p);
	/* The DPF: encrypt to the ephemeral key of the validated evidence. */
	omc_evidence ev;
	memset(&ev, 0, sizeof ev);
	const omc_cert *anchors[1] = {d->m2mes};
	ok = ok && omc_evidence_verify(&ev, d->evidence, strlen(d->evidence), anchors, 1, d->nonce, 16, 0) == OMC_OK &&
	     ev.eph_pub && omc_jwe_encrypt(pkg, (const uint8_t *)jws, strlen(jws), ev.eph_pub, "omc-mcim-package+jwe") == OMC_OK;
	omc_evidence_free(&ev);
	omc_free(jws);
	return ok;
}

static bool open_tre(demo *d)
{
	omc_tre_opts o = {.dir = d->dev, .count_boot = true};
	return omc_tre_open(&d->t, &o) == OMC_OK;
}

static int story(demo *d)
{
	static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
	int fails = 0;
	char *rep = NULL;
	omc_factory_device_opts fo = {.pki_dir = d->pki, .dir = d->dev};
	bool ok = omc_factory_pki(d->pki) == OMC_OK && omc_factory_device(&fo, &rep) == OMC_OK &&
		  omc_pki_load(d->pki, "m2mes-ca", NULL, &d->m2mes) == OMC_OK;
	omc_free(rep);
	fails += step("factory: a demo PKI and a device (root key, identity, PCID)", ok);
	if (!ok)
		return fails;

	omc_tre_status st;
	ok = open_tre(d) && omc_tre_get_status(d->t, &st) == OMC_OK && st.platform_ok &&
	     st.state == OMC_TRE_PRISTINE;
	if (ok)
		snprintf(d->tre_id, sizeof d->tre_id, "%s", st.tre_id);
	fails += step("the TRE boots: platform matches its signed manifest, pristine", ok);
	if (!ok)
		return fails;

	/* The SHO's AuC, and a provisioning session whose evidence it checks. */
	uint8_t master[32];
	ok = demo_secret(master, 32, "MASTER") && omc_db_open(&d->db, d->db_path) == OMC_OK &&
	     omc_auc_open(&d->auc, d->db, "sho1", master) == OMC_OK && omc_rand_bytes(d->nonce, 16) == OMC_OK &&
	     omc_tre_session_begin(d->t, d->nonce, 16, &d->evidence) == OMC_OK;
	omc_memzero(master, sizeof master);
	char *pkg = NULL, *receipt = NULL;
	ok = ok && make_package(&pkg, d, "001020000000001");
	omc_jws_verified v;
	memset(&v, 0, sizeof v);
	const omc_cert *anchors[1] = {d->m2mes};
	ok = ok && omc_tre_install(d->t, pkg, strlen(pkg), &receipt) == OMC_OK &&
	     omc_jws_verify_x5c(&v, receipt, strlen(receipt), anchors, 1, "omc-receipt+jwt", 0) == OMC_OK;
	omc_jws_verified_free(&v);
	omc_free(receipt);
	receipt = NULL;
	fails += step("an SHO's MCIM, encrypted to the TRE's session key, installed", ok);
	ok = pkg && omc_tre_install(d->t, pkg, strlen(pkg), &receipt) != OMC_OK;
	omc_free(receipt);
	omc_free(pkg);
	fails += step("the same package again: refused", ok);

	/* AKA inside against the AuC's vectors. */
	omc_aka_av av[2];
	omc_aka_check_result r;
	uint8_t amf[2] = {0x80, 0};
	ok = omc_auc_vectors(d->auc, "001020000000001", amf, av, 2) == OMC_OK &&
	     omc_tre_aka(d->t, &agent, "sho1-0001", av[0].rand, av[0].autn, av[0].autn_len, &r) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_OK && omc_ct_eq(r.res, av[0].xres, av[0].xres_len);
	fails += step("AKA inside the TRE with the AuC's vector: RES = XRES", ok);
	/* After a restart, a replay is stale and the next vector good. */
	omc_tre_close(d->t);
	d->t = NULL;
	ok = open_tre(d) &&
	     omc_tre_aka(d->t, &agent, "sho1-0001", av[0].rand, av[0].autn, av[0].autn_len, &r) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_SYNC_FAILURE &&
	     omc_tre_aka(d->t, &agent, "sho1-0001", av[1].rand, av[1].autn, av[1].autn_len, &r) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_OK;
	omc_memzero(av, sizeof av);
	omc_memzero(&r, sizeof r);
	fails += step("restarted: the used vector is stale, the next one accepted", ok);

	/* Tamper, lockdown, recovery. */
	uint64_t ctr = 0;
	ok = omc_tre_tamper(d->t, "enclosure opened") == OMC_OK && omc_tre_get_state(d->t) == OMC_TRE_LOCKDOWN &&
	     omc_auc_vectors(d->auc, "001020000000001", amf, av, 1) == OMC_OK &&
	     omc_tre_aka(d->t, &agent, "sho1-0001", av[0].rand, av[0].autn, av[0].autn_len, &r) == OMC_ERR_LOCKDOWN;
	omc_memzero(av, sizeof av);
	fails += step("tamper: lockdown, the MCIM refuses to run", ok);
	char *auth = NULL;
	ok = omc_tre_recovery_counter(d->t, &ctr) == OMC_OK &&
	     sign_as(&auth, d, "ro", "omc-recovery+jwt",
		     json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)1, "tre", d->tre_id, "counter",
			       (json_int_t)ctr, "iat", (json_int_t)time(NULL))) &&
	     omc_tre_recover(d->t, auth, strlen(auth)) == OMC_OK && omc_tre_get_state(d->t) == OMC_TRE_PRISTINE;
	omc_free(auth);
	fails += step("the RO's signed recovery: integrity checked, pristine again", ok);

	/* The audit log, as a remote party checks it. */
	char *cp = NULL, *recs = NULL;
	size_t rl = 0;
	uint64_t n = 0, cnt = 0;
	ok = omc_tre_audit_verify(d->t, &n) == OMC_OK && omc_tre_audit_checkpoint(d->t, &cp) == OMC_OK &&
	     omc_tre_audit_export(d->t, &recs, &rl) == OMC_OK &&
	     omc_audit_checkpoint_verify(cp, strlen(cp), recs, rl, anchors, 1, &cnt) == OMC_OK && cnt == n;
	omc_free(cp);
	omc_free(recs);
	char line[80];
	snprintf(line, sizeof line, "audit: %llu records, chain and signed checkpoint verify", (unsigned long long)n);
	fails += step(line, ok);
	return fails;
}

int demo_tre(void)
{
	demo d;
	memset(&d, 0, sizeof d);
	if (!demo_mkdtemp(d.dir, sizeof d.dir, "omc-demo")) {
		fprintf(stderr, "openmcim demo: cannot make a temporary directory\n");
		return 1;
	}
	snprintf(d.pki, sizeof d.pki, "%s/pki", d.dir);
	snprintf(d.dev, sizeof d.dev, "%s/device", d.dir);
	snprintf(d.db_path, sizeof d.db_path, "%s/sho1.db", d.dir);
	/* The TRE's warnings (the lockdown) are part of the story, not noise. */
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	printf("The TRE and an operator's AuC, on files in %s:\n", d.dir);
	int fails = story(&d);
	omc_tre_close(d.t);
	omc_auc_close(d.auc);
	omc_db_close(d.db);
	omc_cert_free(d.m2mes);
	omc_free(d.evidence);
	demo_rmtree(d.dir);
	return fails;
}
