/* EAP-AKA and EAP-AKA' against real software: Debian's hostapd (RADIUS
 * server with its integrated EAP server) takes vectors from openmcim's AuC
 * over the hlr_auc_gw protocol: from `openmcim server` (a process, the demo
 * deployment with `[operator ico] hlrgw_socket` and the subscriber imported
 * by `openmcim ctl`), and, for the wrong key, from omc_auc_hlrgw_serve in
 * this process; and
 * Debian's eapol_test (EAP peer + RADIUS client) reads the MCIM as a card
 * through a private pcscd (card_rig). hostapd and eapol_test run in a
 * network namespace of their own (hostapd's RADIUS server binds 0.0.0.0).
 * Full EAP-AKA and EAP-AKA' (both sides derive the same MSK: eapol_test
 * compares its MPPE keys with the Access-Accept's), resynchronisation (the
 * card's SQN moved ahead first), fast re-authentication, and a wrong key
 * (an AuC holding another K for the IMSI) rejected; and real 802.1X:
 * hostapd's wired authenticator and wpa_supplicant over a veth pair between
 * two namespaces, ending with the port authorised. Needs root.
 * argv[1]: the openmcim binary.
 * covers: NET-1, NET-2, NET-5, TRE-8, SEC-12, SEC-13 */
#include "testlib.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canary.h"
#include "card_rig.h"
#include "openmcim/server.h"
#include "openmcim/tred.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define KBAD "000102030405060708090a0b0c0d0e0f"
#define IMSI1 "001010000000001"

static const char *bin;
static card_rig rig;
static char ns[32];

typedef struct gw {
	omc_db *db; /* one each: an IMSI belongs to one operator of a database */
	omc_auc *auc;
	char path[300];
	volatile int stop;
	pthread_t th;
	bool running;
	omc_err result;
} gw;
static gw good, bad;
static td_proc *hap_good, *hap_bad, *srv;

static void *gw_main(void *arg)
{
	gw *g = arg;
	g->result = omc_auc_hlrgw_serve(g->auc, g->path, &g->stop);
	return NULL;
}

static bool gw_start(gw *g, const char *op, const char *k_hex, const char *sockname)
{
	uint8_t master[32], k[16], opc[16];
	char dbp[300], name[64];
	snprintf(name, sizeof name, "auc-%s.db", op);
	td_path(dbp, sizeof dbp, name);
	tl_rand(master, sizeof master);
	if (omc_db_open(&g->db, dbp) != OMC_OK || omc_auc_open(&g->auc, g->db, op, master) != OMC_OK)
		return false;
	omc_memzero(master, sizeof master);
	tl_hex(k, 16, k_hex);
	tl_hex(opc, 16, OPC1);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	bool ok = omc_aka_milenage_init(&c.u.milenage, k, opc, NULL) == OMC_OK &&
		  omc_auc_add(g->auc, IMSI1, &c, OMC_AKA_IND_BITS_DEFAULT) == OMC_OK;
	omc_aka_cred_wipe(&c);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	td_path(g->path, sizeof g->path, sockname);
	if (!ok || pthread_create(&g->th, NULL, gw_main, g) != 0)
		return false;
	g->running = true;
	return td_wait_path(g->path, 5000);
}

static void gw_stop(gw *g)
{
	if (g->running) {
		g->stop = 1;
		pthread_join(g->th, NULL);
		g->running = false;
	}
	omc_auc_close(g->auc);
	omc_db_close(g->db);
	g->auc = NULL;
	g->db = NULL;
}

/* `openmcim server` on the demo deployment, the ICO's AuC with IMSI1 (K1,
 * OPC1, imported by `openmcim ctl` from stdin) and its hostapd socket at
 * g->path. */
static bool server_start(gw *g, const char *sockname)
{
	char dep[300], conf[340], cmd[1400], e[512];
	td_path(dep, sizeof dep, "deployment");
	snprintf(conf, sizeof conf, "%s/server.conf", dep);
	td_path(g->path, sizeof g->path, sockname);
	if (omc_server_demo_setup(dep) != OMC_OK)
		return false;
	FILE *f = fopen(conf, "a");
	if (!f)
		return false;
	fprintf(f, "\n[operator ico]\nhlrgw_socket = %s\n", g->path);
	if (fclose(f) != 0)
		return false;
	snprintf(cmd, sizeof cmd,
		 "printf '%%s\\n' '{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}' | '%s' ctl --config '%s' "
		 "subscribers import --operator ico --file -",
		 IMSI1, K1, OPC1, bin, conf);
	if (tl_run(cmd, NULL, 0, e, sizeof e) != 0) {
		fprintf(stderr, "openmcim ctl subscribers import: %s\n", e);
		return false;
	}
	const char *argv[] = {bin, "server", "--config", conf, "--log-level", "inf", NULL};
	srv = td_start("server", argv, NULL);
	return td_wait_path(g->path, 10000);
}

static void write_text(const char *name, const char *text)
{
	char p[400];
	td_path(p, sizeof p, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* hostapd as a RADIUS-only EAP server on port, vectors from g. */
static td_proc *hostapd_start(const char *name, const gw *g, unsigned port)
{
	char conf[3000], file[64], users[400], clients[400], path[400];
	td_path(users, sizeof users, "eap_user.conf");
	td_path(clients, sizeof clients, "radius_clients.conf");
	snprintf(conf, sizeof conf,
		 "driver=none\ninterface=%s\nlogger_stdout=-1\nlogger_stdout_level=0\neap_server=1\n"
		 "eap_user_file=%s\neap_sim_db=unix:%s\neap_sim_aka_result_ind=1\n"
		 "radius_server_clients=%s\nradius_server_auth_port=%u\n",
		 name, users, g->path, clients, port);
	snprintf(file, sizeof file, "%s.conf", name);
	write_text(file, conf);
	td_path(path, sizeof path, file);
	const char *argv[] = {"ip", "netns", "exec", ns, "hostapd", "-dd", path, NULL};
	td_proc *p = td_start(name, argv, NULL);
	if (!td_wait_log(p, "Setup of interface done", 10000))
		fail_msg("hostapd %s did not start", name);
	return p;
}

static char out[1 << 18], err[1 << 16];

/* eapol_test with method (AKA or AKA') against port, extra args; its exit. */
static int eapol(const char *method, unsigned port, const char *extra)
{
	char conf[400], name[64], path[400], cmd[1500];
	snprintf(conf, sizeof conf,
		 "pcsc_reader=Virtual PCD 00 00\nnetwork={\n\tssid=\"aka-test\"\n\tkey_mgmt=WPA-EAP IEEE8021X\n"
		 "\teap=%s\n\tpcsc=\"\"\n}\n",
		 method);
	snprintf(name, sizeof name, "eapol-%s.conf", strcmp(method, "AKA") ? "akap" : "aka");
	write_text(name, conf);
	td_path(path, sizeof path, name);
	snprintf(cmd, sizeof cmd,
		 "PCSCLITE_CSOCK_NAME='%s' timeout 60 ip netns exec %s eapol_test -c '%s' -a 127.0.0.1 -p %u "
		 "-s testsecret -t 15 %s",
		 rig.comm, ns, path, port, extra);
	int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
	if (getenv("OMC_KEEP_PEERS_DIR")) {
		static int n;
		snprintf(name, sizeof name, "eapol-%d.out", n++);
		write_text(name, out);
	}
	return rc;
}

static void expect_success(int rc, unsigned n_auth)
{
	char want[64];
	snprintf(want, sizeof want, "MPPE keys OK: %u  mismatch: 0", n_auth);
	if (rc != 0 || !strstr(out, "SUCCESS") || !strstr(out, want))
		fail_msg("eapol_test: exit %d, want SUCCESS and '%s'; last output:\n%s\n%s", rc, want,
			 strlen(out) > 6000 ? out + strlen(out) - 6000 : out, err);
}

static void ns_del(void)
{
	if (ns[0]) {
		char cmd[100];
		snprintf(cmd, sizeof cmd, "ip netns del %s", ns);
		(void)tl_run(cmd, NULL, 0, NULL, 0);
		ns[0] = 0;
	}
}

static int setup(void **state)
{
	(void)state;
	if (!cr_start(&rig, bin, "eap-aka", IMSI1, K1, OPC1))
		return -1;
	char cmd[200];
	if (!server_start(&good, "hlr-good.sock") || !gw_start(&bad, "rogue", KBAD, "hlr-bad.sock"))
		return -1;
	snprintf(ns, sizeof ns, "omc-eap-%d", (int)getpid());
	snprintf(cmd, sizeof cmd, "ip netns add %s && ip -n %s link set lo up", ns, ns);
	if (tl_run(cmd, NULL, 0, err, sizeof err) != 0) {
		fprintf(stderr, "ip netns add: %s\n", err);
		ns[0] = 0;
		return -1;
	}
	atexit(ns_del); /* runs after td_cleanup's: hostapd is gone first */
	/* hostapd's identity prefixes: 0 AKA permanent, 2 pseudonym, 4 re-auth;
	 * 6, 7, 8 the same for AKA'. */
	write_text("eap_user.conf",
		   "\"0\"*\tAKA\n\"2\"*\tAKA\n\"4\"*\tAKA\n\"6\"*\tAKA'\n\"7\"*\tAKA'\n\"8\"*\tAKA'\n");
	write_text("radius_clients.conf", "127.0.0.1/32\ttestsecret\n");
	hap_good = hostapd_start("as-good", &good, 18120);
	hap_bad = hostapd_start("as-bad", &bad, 18121);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (hap_good)
		(void)td_stop(hap_good);
	if (hap_bad)
		(void)td_stop(hap_bad);
	if (srv)
		(void)td_stop(srv);
	gw_stop(&good);
	gw_stop(&bad);
	ns_del();
	td_cleanup();
	return 0;
}

static void test_aka(void **state)
{
	(void)state;
	expect_success(eapol("AKA", 18120, ""), 1);
	/* The identity came from the card's EF_IMSI and EF_AD. */
	assert_non_null(strstr(out, "0" IMSI1 "@wlan.mnc001.mcc001.3gppnetwork.org"));
	assert_non_null(strstr(out, "EAP-AKA"));
}

static void test_aka_prime(void **state)
{
	(void)state;
	expect_success(eapol("AKA'", 18120, ""), 1);
	assert_non_null(strstr(out, "6" IMSI1 "@wlan.mnc001.mcc001.3gppnetwork.org"));
	assert_non_null(strstr(out, "EAP-AKA'"));
}

static void test_reauth(void **state)
{
	(void)state;
	/* One full authentication, then three fast re-authentications. */
	expect_success(eapol("AKA", 18120, "-r 3"), 4);
	assert_non_null(strstr(out, "EAP-AKA: subtype Reauthentication"));
	expect_success(eapol("AKA'", 18120, "-r 2"), 3);
}

static void test_resync(void **state)
{
	(void)state;
	/* Move the card's SEQ_MS ahead of the AuC's SEQ_HE for every IND
	 * (TS 33.102 C.2.2): AKA with vectors of SEQ 2^20, IND 0..31, through
	 * the daemon as the agent would. */
	omc_tred_client *c;
	assert_int_equal(omc_tred_connect(&c, rig.sock), OMC_OK);
	uint8_t k[16], opc[16], rnd[16], sqn[6], amf[2] = {0x80, 0};
	tl_hex(k, 16, K1);
	tl_hex(opc, 16, OPC1);
	omc_aka_cred cr = {.alg = OMC_AKA_ALG_MILENAGE};
	assert_int_equal(omc_aka_milenage_init(&cr.u.milenage, k, opc, NULL), OMC_OK);
	omc_aka_av av;
	omc_aka_check_result r;
	for (unsigned ind = 0; ind < 32; ind++) {
		uint64_t v = (UINT64_C(1) << 25) | ind;
		for (int i = 0; i < 6; i++)
			sqn[i] = (uint8_t)(v >> (40 - 8 * i));
		tl_rand(rnd, sizeof rnd);
		assert_int_equal(omc_aka_av_gen(&av, &cr, rnd, sqn, amf), OMC_OK);
		assert_int_equal(omc_tred_aka(c, "pcid", NULL, av.rand, av.autn, av.autn_len, &r), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	}
	omc_memzero(&r, sizeof r);
	omc_memzero(&av, sizeof av);
	omc_aka_cred_wipe(&cr);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
	omc_tred_disconnect(c);
	/* The card answers the next challenge with AUTS; hostapd hands it to
	 * the AuC (AKA-AUTS), asks again, and the new challenge succeeds. */
	expect_success(eapol("AKA", 18120, ""), 1);
	assert_non_null(strstr(out, "SCARD: UMTS Synchronization-Failure"));
	assert_true(td_wait_log(hap_good, "reporting AKA AUTS", 2000));
}

static void test_wrong_key(void **state)
{
	(void)state;
	/* An AuC whose K for the IMSI is not the card's: the card finds the
	 * MAC wrong (98 62), the peer sends Authentication-Reject, the server
	 * rejects. */
	int rc = eapol("AKA", 18121, "");
	if (rc == 0 || !strstr(out, "FAILURE") || strstr(out, "MPPE keys OK: 1"))
		fail_msg("eapol_test against the wrong key: exit %d; output:\n%s", rc,
			 strlen(out) > 6000 ? out + strlen(out) - 6000 : out);
	assert_non_null(strstr(out, "Access-Reject"));
	char card[1 << 16];
	td_read_log(rig.card, card, sizeof card);
	assert_non_null(strstr(card, "ins 88: 2 bytes, sw 9862"));
}

/* Real IEEE 802.1X: hostapd's wired authenticator in the test's namespace
 * and wpa_supplicant's wired driver in a second one, on the two ends of a
 * veth pair; the port ends authorised (EAPOL, not RADIUS). */
static char ns2[40];

static void ns2_del(void)
{
	if (ns2[0]) {
		char cmd[100];
		snprintf(cmd, sizeof cmd, "ip netns del %s", ns2);
		(void)tl_run(cmd, NULL, 0, NULL, 0);
		ns2[0] = 0;
	}
}

static void test_wired_8021x(void **state)
{
	(void)state;
	char cmd[600], conf[1500], users[400], path[400], ctrl[400];
	snprintf(ns2, sizeof ns2, "omc-sup-%d", (int)getpid());
	atexit(ns2_del);
	snprintf(cmd, sizeof cmd,
		 "ip netns add %s && ip -n %s link set lo up && ip link add omcauth0 netns %s type veth peer name "
		 "omcsupp0 netns %s && ip -n %s link set omcauth0 up && ip -n %s link set omcsupp0 up",
		 ns2, ns2, ns, ns2, ns, ns2);
	if (tl_run(cmd, NULL, 0, err, sizeof err) != 0)
		fail_msg("veth between namespaces: %s", err);
	td_path(users, sizeof users, "eap_user.conf");
	snprintf(conf, sizeof conf,
		 "interface=omcauth0\ndriver=wired\nlogger_stdout=-1\nlogger_stdout_level=0\nieee8021x=1\n"
		 "eapol_version=2\neap_server=1\neap_user_file=%s\neap_sim_db=unix:%s\n",
		 users, good.path);
	write_text("wired-auth.conf", conf);
	td_path(path, sizeof path, "wired-auth.conf");
	const char *hargv[] = {"ip", "netns", "exec", ns, "hostapd", "-dd", path, NULL};
	td_proc *auth = td_start("wired-auth", hargv, NULL);
	assert_true(td_wait_log(auth, "Setup of interface done", 10000));

	td_path(ctrl, sizeof ctrl, "wpa_ctrl");
	snprintf(conf, sizeof conf,
		 "ctrl_interface=%s\nap_scan=0\npcsc_reader=Virtual PCD 00 00\nnetwork={\n\tkey_mgmt=IEEE8021X\n"
		 "\teap=AKA\n\tpcsc=\"\"\n\teapol_flags=0\n}\n",
		 ctrl);
	write_text("wired-supp.conf", conf);
	td_path(path, sizeof path, "wired-supp.conf");
	char env[400];
	snprintf(env, sizeof env, "PCSCLITE_CSOCK_NAME=%s", rig.comm);
	const char *senv[] = {env, NULL};
	const char *sargv[] = {"ip", "netns", "exec", ns2, "wpa_supplicant", "-dd", "-D", "wired", "-i", "omcsupp0",
			       "-c", path, NULL};
	td_proc *supp = td_start("wired-supp", sargv, senv);
	assert_true(td_wait_log(supp, "CTRL-EVENT-EAP-SUCCESS", 30000));
	assert_true(td_wait_log(auth, "IEEE 802.1X: authenticated", 5000));
	snprintf(cmd, sizeof cmd, "ip netns exec %s wpa_cli -p '%s' -i omcsupp0 status", ns2, ctrl);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	if (!strstr(out, "suppPortStatus=Authorized") || !strstr(out, "selectedMethod=23"))
		fail_msg("wpa_cli status:\n%s", out);
	(void)td_stop(supp);
	(void)td_stop(auth);
	ns2_del(); /* the veth pair goes with it */
}

/* SEC-12: K and OPc in no log of this setup. */
static void test_no_secrets_in_logs(void **state)
{
	(void)state;
	const td_proc *ps[] = {rig.tred, rig.pcscd, rig.card, hap_good, hap_bad, srv};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		if (td_file_has(ps[i]->log, K1) || td_file_has(ps[i]->log, OPC1))
			fail_msg("%s's log holds K or OPc", ps[i]->name);
	assert_true(td_file_has(hap_good->log, "AKA-RESP-AUTH"));
	/* The vectors came from the server's AuC, which keeps K and OPc
	 * encrypted at rest (SEC-12). */
	assert_true(td_file_has(srv->log, "hlr_auc_gw:avectorfor" IMSI1)); /* spaces are dropped */
	uint8_t k[16], opc[16];
	tl_hex(k, 16, K1);
	tl_hex(opc, 16, OPC1);
	tl_canary_reset();
	tl_canary_add("K", k, sizeof k);
	tl_canary_add("OPc", opc, sizeof opc);
	char dep[400];
	td_path(dep, sizeof dep, "deployment");
	size_t files = 0;
	assert_int_equal(tl_canary_scan_tree(dep, &files), 0); /* every encoding, the database's pages too */
	assert_true(files >= 2);
	tl_canary_reset();
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-openmcim\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aka),       cmocka_unit_test(test_aka_prime),
		cmocka_unit_test(test_reauth),    cmocka_unit_test(test_resync),
		cmocka_unit_test(test_wrong_key), cmocka_unit_test(test_wired_8021x),
		cmocka_unit_test(test_no_secrets_in_logs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
