/* osmo-hlr as the ICO's authentication centre, end to end (NET-1: the VNO
 * takes AVs from the ICO by an existing method, GSUP SendAuthInfo, with no
 * new function; CCIF-1: the CCIF registers each PCID in osmo-hlr over its
 * CTRL interface). Debian's osmo-hlr runs on a fresh database with its
 * fixed ports (GSUP 4222, CTRL 4259, VTY 4258: osmo-hlr 1.5 has no port
 * option), so the whole test runs in a network namespace of its own
 * (unshare: only lo, nothing reaches or collides with the machine's). The
 * openmcim server routes the ICO's IMSI range (00101) to it. A device made
 * by `openmcim factory device` is reported to the CCIF (osmo-hlr gets K and
 * OPc: checked over CTRL), its SQN is moved ahead of osmo-hlr's, and
 * `openmcim agent` runs it to the end: the attach with the PCID needs one
 * resynchronisation (AUTS and RAND in a SendAuthInfo; osmo-hlr's SQN
 * follows), then provisioning, the MCIM installed and the operational
 * attach (the SHO's own AuC). With osmo-hlr stopped the VNO answers 502
 * with osmo-hlr named, and a report is refused and left nowhere; once
 * osmo-hlr is back the VNO reconnects by itself. No K or OPc in the logs.
 * Needs root (namespaces). argv[1]: the openmcim binary.
 * covers: NET-1, NET-3, CCIF-1, CCIF-2, SEC-13 */
#include "testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openmcim/openmcim.h"
#include "daemon.h"
#include "server/hlr_internal.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define K2 "fec86ba6eb707ed08905757b1bb44b8f"
#define OPC2 "1006020f0a478bf6b699f15c062e42b3"
#define PCID1 "001019000000071"
#define PCID2 "001019000000072"
/* The device's SEQ_MS, ahead of anything osmo-hlr has issued. */
#define SEQ_AHEAD (UINT64_C(1) << 20)

static const char *bin;
static td_proc *hlr, *srv;
static char srv_log[512], hlr_log[512];
static char sdir[400], conf[460], db[460], pki[460], ico_ca[460], hlr_cfg[400], hlr_db[400];
static char token1[64];
static json_t *urls;
static omc_http_client *http;
static char out[1 << 16], err[1 << 14];

static const char *url(const char *role)
{
	const char *u = json_string_value(json_object_get(urls, role));
	if (!u)
		fail_msg("no URL for %s", role);
	return u;
}

static int post_out(const char *role, const char *path, const char *auth, const char *body, json_t **ans)
{
	char u[256];
	snprintf(u, sizeof u, "%s%s", url(role), path);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	if (omc_http_call_auth(http, "POST", u, auth, body, strlen(body), &st, &r, &rl) != OMC_OK)
		st = 0;
	if (ans) {
		json_error_t je;
		*ans = r ? json_loadb(r, rl, 0, &je) : NULL;
	}
	omc_free(r);
	return st;
}

static bool port_open(unsigned port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

/* One CTRL GET to osmo-hlr, through the server's own frame and parser:
 * the reply's value in v. */
static bool ctrl_get(const char *var, char *v, size_t cap)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(4259)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {10, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint8_t f[SRV_CTRL_MSG_MAX], in[4096];
	size_t fl = 0, il = 0, used = 0;
	bool ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0 &&
		  srv_ctrl_frame(f, sizeof f, &fl, false, 7, var, NULL) == OMC_OK && send(s, f, fl, 0) == (ssize_t)fl;
	srv_ctrl_reply r;
	while (ok) {
		ssize_t n = recv(s, in + il, sizeof in - il, 0);
		if (n <= 0)
			break;
		il += (size_t)n;
		if (srv_ctrl_parse(&r, &used, in, il) != OMC_OK)
			break;
		if (used > 0 && r.verb == SRV_CTRL_GET_REPLY && r.id == 7) {
			snprintf(v, cap, "%s", r.value);
			close(s);
			return true;
		}
		if (used > 0) {
			fprintf(stderr, "CTRL GET %s: verb %d: %s\n", var, (int)r.verb, r.value);
			break;
		}
	}
	close(s);
	return false;
}

static void write_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void hlr_start(void)
{
	const char *argv[] = {"osmo-hlr", "-c", hlr_cfg, "-l", hlr_db, "-s", NULL};
	hlr = td_start("osmo-hlr", argv, NULL);
	snprintf(hlr_log, sizeof hlr_log, "%s", hlr->log);
	if (!td_wait_log(hlr, "CTRL at 127.0.0.1 4259", 20000))
		fail_msg("osmo-hlr did not start");
	for (int i = 0; i < 200 && !port_open(4222); i++)
		usleep(50000);
	assert_true(port_open(4222));
}

/* The device made with a known PCID, reported by the subscriber (CCIF
 * mode "subscriber"): the report's status. */
static int dev_make(const char *name, const char *imsi, const char *k, const char *opc, char *dev_dir, size_t cap,
		    char *platform_id, size_t pcap)
{
	char pcid[500], body[300];
	snprintf(dev_dir, cap, "%s/%s", sdir, name);
	snprintf(pcid, sizeof pcid, "%s.pcid.json", dev_dir);
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}", imsi, k, opc);
	write_file(pcid, body, "w");
	char cmd[1500];
	snprintf(cmd, sizeof cmd, "'%s' factory device --pki '%s' --out '%s' --pcid '%s'", bin, pki, dev_dir, pcid);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	unlink(pcid); /* it holds K */
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	assert_non_null(j);
	snprintf(platform_id, pcap, "%s", json_string_value(json_object_get(j, "platform_id")));
	json_t *b = json_pack("{s:O}", "report", json_object_get(j, "pcid_report"));
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_decref(j);
	char auth[100];
	snprintf(auth, sizeof auth, "Bearer %s", token1);
	int st = post_out("ccif", "/v1/reports", auth, s, NULL);
	omc_free(s);
	return st;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "SKIP: needs root for a network namespace of its own (osmo-hlr's ports are fixed)\n");
		exit(77);
	}
	if (tl_run("ip link set lo up", NULL, 0, err, sizeof err) != 0) {
		fprintf(stderr, "ip link set lo up: %s\n", err);
		return -1;
	}
	const char *d = td_dir("hlr");
	snprintf(hlr_cfg, sizeof hlr_cfg, "%s/hlr.cfg", d);
	snprintf(hlr_db, sizeof hlr_db, "%s/hlr.db", d);
	/* Notice level: osmo-hlr's own log never shows a CTRL value then. */
	write_file(hlr_cfg,
		   "log stderr\n logging filter all 1\n logging color 0\n logging print category 1\n"
		   " logging level main notice\n logging level db notice\n logging level auc notice\n"
		   " logging level ctrl notice\n"
		   "line vty\n bind 127.0.0.1\nctrl\n bind 127.0.0.1\nhlr\n gsup\n  bind ip 127.0.0.1\n",
		   "w");
	char cmd[600];
	snprintf(cmd, sizeof cmd, "osmo-hlr-db-tool -l '%s' create", hlr_db);
	if (tl_run(cmd, out, sizeof out, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		return -1;
	}
	hlr_start();
	snprintf(sdir, sizeof sdir, "%s/srv", d);
	if (omc_server_demo_setup(sdir) != OMC_OK)
		return -1;
	snprintf(conf, sizeof conf, "%s/server.conf", sdir);
	snprintf(db, sizeof db, "%s/openmcim.db", sdir);
	snprintf(pki, sizeof pki, "%s/pki", sdir);
	snprintf(ico_ca, sizeof ico_ca, "%s/pki/ico-ca.crt", sdir);
	/* The ICO's whole range to osmo-hlr; the CCIF registers there. */
	write_file(conf,
		   "\n[vno.home ico]\ntype = gsup\naddress = 127.0.0.1:4222\nimsi_prefix = 00101\n\n"
		   "[vno]\ngsup_timeout = 10000\n\n[ccif]\nhlr_ctrl = 127.0.0.1:4259\nhlr_timeout = 10000\n",
		   "a");
	char subs[460];
	snprintf(subs, sizeof subs, "%s/subscribers.json", sdir);
	json_error_t je;
	json_t *t = json_load_file(subs, 0, &je);
	snprintf(token1, sizeof token1, "%s", json_string_value(json_object_get(json_object_get(t, "sho1"), "demo")));
	json_decref(t);
	const char *argv[] = {bin, "server", "--config", conf, "--log-level", "inf", NULL};
	srv = td_start("server", argv, NULL);
	snprintf(srv_log, sizeof srv_log, "%s", srv->log);
	if (!td_wait_log(srv, "\"dpf\":\"http", 60000))
		return -1;
	static char log[1 << 16];
	td_read_log(srv, log, sizeof log);
	const char *at = strstr(log, "{\"auc.ico\"");
	const char *nl = at ? strchr(at, '\n') : NULL;
	urls = at && nl ? json_loadb(at, (size_t)(nl - at), 0, &je) : NULL;
	if (!urls)
		return -1;
	if (omc_http_client_new(&http, NULL) != OMC_OK)
		return -1;
	/* The VNO's GSUP link settles once it is up (docs/hlr.md). */
	return td_wait_log(srv, "gsup: ico: connected to osmo-hlr", 20000) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	omc_http_client_free(http);
	json_decref(urls);
	if (srv)
		(void)td_stop(srv);
	if (hlr)
		(void)td_stop(hlr);
	return 0;
}

/* Move the TRE's SEQ_MS to SEQ_AHEAD for every IND (TS 33.102 C.2.2):
 * AKA with vectors made here, as an agent would run them. */
static void sqn_ahead(const char *dev_dir)
{
	omc_tre *t = NULL;
	omc_tre_opts o = {.dir = dev_dir};
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};
	static const uint8_t amf[2] = {0, 0};
	omc_aka_av av;
	omc_aka_check_result r;
	for (unsigned ind = 0; ind < 32; ind++) {
		tl_milenage_av(&av, K1, OPC1, (SEQ_AHEAD << 5) | ind, amf);
		assert_int_equal(omc_tre_aka(t, &agent, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
		assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	}
	omc_memzero(&r, sizeof r);
	omc_memzero(&av, sizeof av);
	omc_tre_close(t);
}

/* aud3g.sqn of info-aud. */
static uint64_t hlr_sqn(const char *imsi)
{
	char var[96], v[512];
	snprintf(var, sizeof var, "subscriber.by-imsi-%s.info-aud", imsi);
	assert_true(ctrl_get(var, v, sizeof v));
	const char *at = strstr(v, "aud3g.sqn\t");
	assert_non_null(at);
	return strtoull(at + 10, NULL, 10);
}

static void test_story(void **state)
{
	(void)state;
	char dev[500], pid[64];
	/* CCIF-1: the report puts the PCID into osmo-hlr with the device's K
	 * and OPc, packet-switched only. */
	assert_int_equal(dev_make("dev1", PCID1, K1, OPC1, dev, sizeof dev, pid, sizeof pid), 201);
	char var[96], v[512];
	snprintf(var, sizeof var, "subscriber.by-imsi-%s.info-aud", PCID1);
	assert_true(ctrl_get(var, v, sizeof v));
	assert_non_null(strstr(v, "aud3g.algo\tMILENAGE"));
	assert_non_null(strstr(v, "aud3g.k\t" K1));
	assert_non_null(strstr(v, "aud3g.opc\t" OPC1));
	assert_non_null(strstr(v, "aud3g.ind_bitlen\t5"));
	snprintf(var, sizeof var, "subscriber.by-imsi-%s.ps-enabled", PCID1);
	assert_true(ctrl_get(var, v, sizeof v));
	assert_string_equal(v, "1");
	snprintf(var, sizeof var, "subscriber.by-imsi-%s.cs-enabled", PCID1);
	assert_true(ctrl_get(var, v, sizeof v));
	assert_string_equal(v, "0");
	assert_int_equal(hlr_sqn(PCID1), 0);
	/* The device's SQN ahead: osmo-hlr's first vectors are stale to it. */
	sqn_ahead(dev);
	char body[120], auth[100];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", pid);
	snprintf(auth, sizeof auth, "Bearer %s", token1);
	assert_int_equal(post_out("sho.sho1", "/v1/devices", auth, body, NULL), 201);
	char info[600], cmd[3000];
	snprintf(info, sizeof info, "%s.agent.json", dev);
	snprintf(cmd, sizeof cmd,
		 "'%s' agent --tre '%s' --vno '%s' --bootstrap '%s' --bootstrap-ca '%s' --until operational "
		 "--timeout 240 --backoff-max-ms 500 --poll-ms 100 --json > '%s'",
		 bin, dev, url("vno"), url("bootstrap"), ico_ca, info);
	int rc = tl_run(cmd, NULL, 0, err, sizeof err);
	json_error_t je;
	json_t *j = json_load_file(info, 0, &je);
	if (rc != 0 || !j)
		fail_msg("agent: exit %d: %s", rc, err);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "operational");
	assert_string_equal(json_string_value(json_object_get(j, "sho")), "sho1");
	const char *mcim_imsi = json_string_value(json_object_get(j, "mcim_imsi"));
	assert_non_null(mcim_imsi);
	/* The PCID's vectors came from osmo-hlr, none from openmcim's AuC;
	 * one resynchronisation moved osmo-hlr's SQN past the device's. */
	assert_true(td_wait_log(srv, "gsup: ico: " PCID1 " resynchronised", 1000));
	assert_true(td_wait_log(srv, "gsup: ico: 5 vector(s) for " PCID1, 1000));
	char q[256];
	snprintf(q, sizeof q, "SELECT count(*) FROM auc_av_log WHERE imsi = '%s'", PCID1);
	assert_int_equal(tl_db_count(db, q), 0);
	uint64_t sqn = hlr_sqn(PCID1);
	if (sqn <= (SEQ_AHEAD << 5))
		fail_msg("osmo-hlr's SQN %llu is not past the device's", (unsigned long long)sqn);
	/* The provisioning session was the PCID's, the operational one the
	 * MCIM's, whose vectors the SHO's AuC issued (NET-3). */
	snprintf(q, sizeof q,
		 "SELECT count(*) FROM audit WHERE role = 'vno' AND event = 'attach' AND subject = '%s'"
		 " AND result = 'ok' AND detail = 'provisioning'",
		 PCID1);
	assert_true(tl_db_count(db, q) >= 1);
	snprintf(q, sizeof q,
		 "SELECT count(*) FROM audit WHERE role = 'vno' AND event = 'attach' AND subject = '%s'"
		 " AND result = 'ok' AND detail = 'operational'",
		 mcim_imsi);
	assert_true(tl_db_count(db, q) >= 1);
	snprintf(q, sizeof q, "SELECT count(*) FROM auc_av_log WHERE imsi = '%s'", mcim_imsi);
	assert_true(tl_db_count(db, q) >= 1);
	/* The MCIM is installed and activated in the TRE. */
	omc_tre *t = NULL;
	omc_tre_opts o = {.dir = dev, .readonly = true};
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	omc_tre_mcim_info reg[16];
	size_t n = 0, op = 0;
	assert_int_equal(omc_tre_registry(t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		op += !strcmp(reg[i].role, "operational") && reg[i].state == OMC_MCIM_ACTIVATED;
	omc_tre_close(t);
	assert_int_equal(op, 1);
	json_decref(j);
}

static void test_hlr_down_then_back(void **state)
{
	(void)state;
	assert_int_equal(td_stop(hlr), 0);
	hlr = NULL;
	/* The VNO says osmo-hlr is not connected (once it noticed the drop). */
	json_t *a = NULL;
	int st = 0;
	const char *msg = NULL;
	for (int i = 0; i < 100; i++) {
		json_decref(a);
		st = post_out("vno", "/v1/attach", NULL, "{\"imsi\":\"" PCID1 "\"}", &a);
		msg = json_string_value(json_object_get(a, "message"));
		if (st == 502 && msg && strstr(msg, "not connected"))
			break;
		usleep(100000);
	}
	assert_int_equal(st, 502);
	assert_string_equal(json_string_value(json_object_get(a, "error")), "peer_unavailable");
	assert_non_null(strstr(msg, "osmo-hlr ico (127.0.0.1:4222, not connected)"));
	json_decref(a);
	/* The CCIF refuses a PCID osmo-hlr cannot take, and keeps none of it. */
	char dev[500], pid[64];
	int rs = dev_make("dev2", PCID2, K2, OPC2, dev, sizeof dev, pid, sizeof pid);
	assert_int_equal(rs, 500);
	assert_int_equal(tl_db_count(db, "SELECT count(*) FROM auc_subscriber WHERE imsi = '" PCID2 "'"), 0);
	assert_int_equal(tl_db_count(db, "SELECT count(*) FROM ccif_pcid WHERE imsi = '" PCID2 "'"), 0);
	/* osmo-hlr back on its database: the VNO reconnects by itself. */
	hlr_start();
	st = 0;
	for (int i = 0; i < 200 && st != 200; i++) {
		st = post_out("vno", "/v1/attach", NULL, "{\"imsi\":\"" PCID1 "\"}", &a);
		json_decref(a);
		a = NULL;
		if (st != 200)
			usleep(100000);
	}
	assert_int_equal(st, 200);
	/* An IMSI of the range osmo-hlr does not know: its refusal passed on. */
	st = post_out("vno", "/v1/attach", NULL, "{\"imsi\":\"001019999999999\"}", &a);
	assert_int_equal(st, 404);
	assert_string_equal(json_string_value(json_object_get(a, "error")), "unknown_subscriber");
	json_decref(a);
}

/* The server stops on SIGTERM with status 0, its GSUP thread joined and
 * nothing left behind (the sanitizers of a test build would say so). */
static void test_server_stops_cleanly(void **state)
{
	(void)state;
	assert_int_equal(td_stop(srv), 0);
	char log[1 << 16];
	td_read_log(srv, log, sizeof log);
	assert_null(strstr(log, "Sanitizer"));
	assert_null(strstr(log, "runtime error"));
	srv = NULL;
}

static void test_no_secrets_in_logs(void **state)
{
	(void)state;
	const char *logs[] = {srv_log, hlr ? hlr->log : hlr_log};
	for (size_t i = 0; i < 2; i++) {
		assert_true(logs[i][0] != 0);
		assert_false(td_file_has(logs[i], K1));
		assert_false(td_file_has(logs[i], OPC1));
		assert_false(td_file_has(logs[i], K2));
		assert_false(td_file_has(logs[i], OPC2));
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-openmcim\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_story),
		cmocka_unit_test(test_hlr_down_then_back),
		cmocka_unit_test(test_server_stops_cleanly),
		cmocka_unit_test(test_no_secrets_in_logs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
