/* End to end with real processes over loopback: `openmcim server` (its
 * demo deployment on fixed ports), devices made by `openmcim factory
 * device`, and `openmcim agent` on each TRE directory. The device reaches
 * its MCIM and attaches with it; the SHO's AuC issued the vectors; the
 * server's audit and the TRE's tell the same story. A device that boots
 * before its subscriber registered it waits, then completes. A device
 * whose measured component was modified is refused by the PVA and gets no
 * MCIM; the reason is recorded on both sides. The agent, and separately
 * the server, are killed (SIGKILL) at 20 points of provisioning: after a
 * restart every device completes with exactly one MCIM and no IMSI is
 * used twice. At the end, the secret canary over every file the processes
 * left (their logs on stderr included: stderr.log): the master key, the
 * PKI's private keys and their passphrase, and every device's root key
 * are planted from their files, and nothing else holds them in any
 * encoding (tests/testlib/canary.h; the production binary reads no planted
 * K or OPc, tests/canary/ does that).
 * covers: NET-1, NET-3, NET-4, SVC-1, SVC-2, SEC-8, SEC-9, MGT-1, TRE-1, TRE-7, EVAL-1, EVAL-3, CCIF-2, SEC-3,
 * SEC-12 */
#include "testlib.h"

#include "canary.h"

#include <ftw.h>


#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "openmcim/openmcim.h"
#include "util/util_internal.h"

static const char *bin;
static char root[] = "/tmp/omc-e2e-XXXXXX";
static char dir[128], conf[160], db[160], ico_ca[192];
static char token1[64], token2[64];
static json_t *urls;
static pid_t server_pid;
static omc_http_client *http;
static unsigned run_ms = 300; /* a whole agent run, measured by test_story */

static unsigned now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned)(t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

/* The k-th of 20 kill points: spread over a whole run and a bit past it. */
static unsigned kill_at(unsigned k)
{
	return 5 + k * (run_ms + run_ms / 10) / 20;
}

static void msleep(unsigned ms)
{
	struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&d, NULL);
}

static const char *url(const char *role)
{
	const char *u = json_string_value(json_object_get(urls, role));
	if (!u)
		fail_msg("no URL for %s", role);
	return u;
}

/* A child running argv, stdout to out_path (or /dev/null). */
static pid_t spawn(const char *const argv[], const char *out_path)
{
	pid_t p = fork();
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* nothing outlives a crashed test */
		int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		char log[192];
		snprintf(log, sizeof log, "%s/stderr.log", dir); /* every log line, for the canary */
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || err < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(err, 2);
		union {
			const char *const *c;
			char *const *m;
		} u = {.c = argv};
		execv(u.m[0], u.m);
		_exit(127);
	}
	assert_true(p > 0);
	return p;
}

static int wait_exit(pid_t p, unsigned timeout_ms)
{
	for (unsigned t = 0; t < timeout_ms; t += 20) {
		int st = 0;
		if (waitpid(p, &st, WNOHANG) == p)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		msleep(20);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	fail_msg("pid %d did not exit in %u ms", (int)p, timeout_ms);
	return -1;
}

static void server_start(void)
{
	char out[192];
	snprintf(out, sizeof out, "%s/urls.json", dir);
	unlink(out);
	const char *argv[] = {bin, "server", "--config", conf, NULL};
	server_pid = spawn(argv, out);
	for (int i = 0; i < 300; i++) {
		json_error_t je;
		json_t *u = json_load_file(out, 0, &je);
		if (u && json_object_size(u) == 11) {
			json_decref(urls);
			urls = u;
			return;
		}
		json_decref(u);
		msleep(20);
	}
	fail_msg("the server did not come up");
}

static void server_kill(void)
{
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	server_pid = 0;
}

static int post_out(const char *role, const char *path, const char *token, const char *body, json_t **out)
{
	char u[256], auth[128];
	snprintf(u, sizeof u, "%s%s", url(role), path);
	snprintf(auth, sizeof auth, "Bearer %s", token);
	int st = 0;
	char *r = NULL;
	size_t rl = 0;
	if (omc_http_call_auth(http, "POST", u, auth, body, strlen(body), &st, &r, &rl) != OMC_OK)
		st = 0;
	if (out) {
		json_error_t je;
		*out = r ? json_loadb(r, rl, 0, &je) : NULL;
	}
	omc_free(r);
	return st;
}

static int post(const char *role, const char *path, const char *token, const char *body)
{
	return post_out(role, path, token, body, NULL);
}

static long db_count(const char *sql)
{
	return tl_db_count(db, sql);
}

typedef struct dev {
	char dir[160], tre_id[64], platform_id[32], report[8192];
} dev;

/* `openmcim factory device`, then the PCID report relayed by a
 * subscriber (CCIF mode 3). */
static void dev_make(dev *d, const char *name)
{
	snprintf(d->dir, sizeof d->dir, "%s/%s", dir, name);
	char pki[160], out[192];
	snprintf(pki, sizeof pki, "%s/pki", dir);
	snprintf(out, sizeof out, "%s.json", d->dir);
	const char *argv[] = {bin, "factory", "device", "--pki", pki, "--out", d->dir, NULL};
	assert_int_equal(wait_exit(spawn(argv, out), 20000), 0);
	json_error_t je;
	json_t *j = json_load_file(out, 0, &je);
	assert_non_null(j);
	snprintf(d->tre_id, sizeof d->tre_id, "%s", json_string_value(json_object_get(j, "tre_id")));
	snprintf(d->platform_id, sizeof d->platform_id, "%s", json_string_value(json_object_get(j, "platform_id")));
	json_t *b = json_pack("{s:O}", "report", json_object_get(j, "pcid_report"));
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	json_decref(j);
	assert_int_equal(post("ccif", "/v1/reports", token1, s), 201);
	omc_free(s);
}

static void dev_subscribe(const dev *d, int sho)
{
	char body[96];
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d->platform_id);
	assert_int_equal(post(sho == 1 ? "sho.sho1" : "sho.sho2", "/v1/devices", sho == 1 ? token1 : token2, body), 201);
}

static pid_t agent_spawn(const dev *d, const char *out, const char *timeout)
{
	const char *argv[] = {bin,  "agent",
			"--tre",      d->dir,
			"--vno",      url("vno"),
			"--bootstrap", url("bootstrap"),
			"--bootstrap-ca", ico_ca,
			"--until",    "operational",
			"--timeout",  timeout,
			"--backoff-max-ms", "200",
			"--poll-ms",  "50",
			"--json",     NULL};
	return spawn(argv, out);
}

/* Run the agent to the end; its JSON summary in *info. */
static int agent_run(const dev *d, json_t **info, const char *timeout)
{
	char out[192];
	snprintf(out, sizeof out, "%s.agent.json", d->dir);
	int rc = wait_exit(agent_spawn(d, out, timeout), 90000);
	json_error_t je;
	*info = json_load_file(out, 0, &je);
	return rc;
}

static void expect_one_mcim(const dev *d)
{
	omc_tre *t = NULL;
	omc_tre_opts o = {.dir = d->dir, .readonly = true};
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	omc_tre_mcim_info reg[16];
	size_t n = 0, op = 0;
	assert_int_equal(omc_tre_registry(t, reg, 16, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		op += !strcmp(reg[i].role, "operational") && reg[i].state == OMC_MCIM_ACTIVATED;
	omc_tre_close(t);
	if (op != 1)
		fail_msg("%s: %zu activated operational MCIMs", d->tre_id, op);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(root))
		return -1;
	snprintf(dir, sizeof dir, "%s/d", root);
	if (omc_server_demo_setup(dir) != OMC_OK)
		return -1;
	snprintf(conf, sizeof conf, "%s/server.conf", dir);
	snprintf(db, sizeof db, "%s/openmcim.db", dir);
	snprintf(ico_ca, sizeof ico_ca, "%s/pki/ico-ca.crt", dir);
	/* Fixed ports, so that a restarted server is where the agents saved it. */
	int port = (int)tl_port_base(11);
	FILE *f = fopen(conf, "r");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strstr(buf, "port = 0\n");
	if (!p)
		return -1;
	f = fopen(conf, "w");
	fprintf(f, "%.*sport = %d\n%s", (int)(p - buf), buf, port, p + 9);
	fclose(f);
	char subs[192];
	snprintf(subs, sizeof subs, "%s/subscribers.json", dir);
	json_error_t je;
	json_t *t = json_load_file(subs, 0, &je);
	snprintf(token1, sizeof token1, "%s", json_string_value(json_object_get(json_object_get(t, "sho1"), "demo")));
	snprintf(token2, sizeof token2, "%s", json_string_value(json_object_get(json_object_get(t, "sho2"), "demo")));
	json_decref(t);
	if (omc_http_client_new(&http, NULL) != OMC_OK)
		return -1;
	server_start();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (server_pid)
		server_kill();
	omc_http_client_free(http);
	json_decref(urls);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_story(void **state)
{
	(void)state;
	dev d;
	dev_make(&d, "story");
	dev_subscribe(&d, 1);
	json_t *info = NULL;
	unsigned t0 = now_ms();
	assert_int_equal(agent_run(&d, &info, "60"), 0);
	run_ms = now_ms() - t0;
	assert_string_equal(json_string_value(json_object_get(info, "state")), "operational");
	assert_string_equal(json_string_value(json_object_get(info, "sho")), "sho1");
	const char *mcim = json_string_value(json_object_get(info, "mcim_id"));
	const char *imsi = json_string_value(json_object_get(info, "mcim_imsi"));
	expect_one_mcim(&d);
	char q[256];
	/* The SHO's AuC issued the vectors of the operational attach. */
	snprintf(q, sizeof q, "SELECT count(*) FROM auc_av_log WHERE imsi = '%s'", imsi);
	assert_true(db_count(q) >= 1);
	/* Both sides' audit: the server issued and got the receipt of this
	 * MCIM for this TRE; the TRE installed it. */
	snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE event = 'mcim_issue' AND subject = '%s'", mcim);
	assert_int_equal(db_count(q), 1);
	snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE role = 'dpf' AND event = 'receipt' AND subject = '%s'"
			      " AND detail = '%s'", d.tre_id, mcim);
	assert_int_equal(db_count(q), 1);
	char cmd[512], out[65536], err[4096];
	snprintf(cmd, sizeof cmd, "'%s' tre --dir '%s' audit --json", bin, d.dir);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	char want[96];
	snprintf(want, sizeof want, "\"subject\":\"mcim:%s\"", mcim);
	const char *at = strstr(out, want);
	assert_non_null(at);
	assert_non_null(strstr(out, "\"event\":\"install\""));
	json_decref(info);
}

static void test_pending_then_registered(void **state)
{
	(void)state;
	dev d;
	dev_make(&d, "pending");
	char out[192], st_path[200];
	snprintf(out, sizeof out, "%s.agent.json", d.dir);
	snprintf(st_path, sizeof st_path, "%s/agent.state", d.dir);
	pid_t p = agent_spawn(&d, out, "60");
	bool pending = false;
	for (int i = 0; i < 250 && !pending; i++) {
		msleep(20);
		json_error_t je;
		json_t *s = json_load_file(st_path, 0, &je);
		pending = s && json_is_true(json_object_get(s, "pending")) &&
			  !strcmp(json_string_value(json_object_get(s, "state")), "register");
		json_decref(s);
	}
	assert_true(pending);
	msleep(300); /* still waiting */
	assert_int_equal(waitpid(p, NULL, WNOHANG), 0);
	dev_subscribe(&d, 2);
	assert_int_equal(wait_exit(p, 60000), 0);
	json_error_t je;
	json_t *info = json_load_file(out, 0, &je);
	assert_string_equal(json_string_value(json_object_get(info, "sho")), "sho2");
	json_decref(info);
	expect_one_mcim(&d);
}

static void test_modified_component_refused(void **state)
{
	(void)state;
	dev d;
	dev_make(&d, "modified");
	dev_subscribe(&d, 1);
	char fw[200];
	snprintf(fw, sizeof fw, "%s/platform/firmware.bin", d.dir);
	int fd = open(fw, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 10), 1);
	close(fd);
	json_t *info = NULL;
	assert_int_equal(agent_run(&d, &info, "3"), 1);
	assert_string_equal(json_string_value(json_object_get(info, "state")), "validate");
	assert_non_null(strstr(json_string_value(json_object_get(info, "last_error")), "platform_anomaly"));
	json_decref(info);
	/* The PVA's side of it, and no MCIM anywhere. */
	char q[256];
	snprintf(q, sizeof q, "SELECT count(*) FROM audit WHERE role = 'pva' AND result = 'refused' AND subject = '%s'"
			      " AND detail = 'platform_anomaly'", d.tre_id);
	assert_true(db_count(q) >= 1);
	snprintf(q, sizeof q, "SELECT count(*) FROM sho_mcim WHERE tre_id = '%s'", d.tre_id);
	assert_int_equal(db_count(q), 0);
	omc_tre *t = NULL;
	omc_tre_opts o = {.dir = d.dir, .readonly = true};
	assert_int_equal(omc_tre_open(&t, &o), OMC_OK);
	omc_tre_mcim_info reg[16];
	size_t n = 0;
	assert_int_equal(omc_tre_registry(t, reg, 16, &n), OMC_OK);
	assert_int_equal(n, 1); /* the PCID only */
	omc_tre_close(t);
}

/* The agent's saved state now ("none" before its first save). */
static void saved_state(const dev *d, char out[24])
{
	char path[200];
	snprintf(path, sizeof path, "%s/agent.state", d->dir);
	json_error_t je;
	json_t *s = json_load_file(path, 0, &je);
	const char *st = json_string_value(json_object_get(s, "state"));
	snprintf(out, 24, "%s", st ? st : "none");
	json_decref(s);
}

static size_t distinct(char seen[][24], size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = !strcmp(seen[i], seen[j]);
		d += !dup;
	}
	return d;
}

static void check_fleet(unsigned n_expected_min)
{
	assert_true(db_count("SELECT count(*) FROM sho_mcim") >= (long)n_expected_min);
	assert_int_equal(db_count("SELECT count(*) FROM sho_mcim"), db_count("SELECT count(DISTINCT imsi) FROM sho_mcim"));
	assert_int_equal(db_count("SELECT count(*) FROM sho_mcim"),
			 db_count("SELECT count(DISTINCT tre_id) FROM sho_mcim"));
	assert_int_equal(db_count("SELECT count(*) FROM (SELECT imsi, sqn FROM auc_av_log GROUP BY imsi, sqn"
				  " HAVING count(*) > 1)"),
			 0);
}

static void test_kill_agent_at_20_points(void **state)
{
	(void)state;
	/* 20 kills spread over one measured run; on a loaded machine, where
	 * a run takes longer than measured, up to 20 more over three runs'
	 * time, until the kills have landed in 4 states at least. */
	char seen[40][24];
	unsigned k = 0;
	for (; k < 40; k++) {
		if (k >= 20 && distinct(seen, k) >= 4)
			break;
		unsigned at = k < 20 ? kill_at(k) : 5 + (k - 20) * 3 * run_ms / 20;
		dev d;
		char name[32];
		snprintf(name, sizeof name, "ka%02u", k);
		dev_make(&d, name);
		dev_subscribe(&d, 1 + (int)(k % 2));
		pid_t p = agent_spawn(&d, NULL, "60");
		msleep(at); /* from before the PCID attach to after the receipt */
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		saved_state(&d, seen[k]);
		json_t *info = NULL;
		int rc = agent_run(&d, &info, "60");
		if (rc != 0)
			fail_msg("%s after a kill at %u ms: exit %d, %s", name, at, rc,
				 json_string_value(json_object_get(info, "last_error")));
		json_decref(info);
		expect_one_mcim(&d);
	}
	/* The kills landed all along the story, not in one place. */
	if (distinct(seen, k) < 4)
		fail_msg("the kills hit only %zu states", distinct(seen, k));
	check_fleet(20);
}

static void test_kill_server_at_20_points(void **state)
{
	(void)state;
	/* As for the agent: 20 kills over one measured run, then up to 20
	 * more over three runs' time until they hit 4 states. */
	char seen[40][24];
	unsigned k = 0;
	for (; k < 40; k++) {
		if (k >= 20 && distinct(seen, k) >= 4)
			break;
		unsigned at = k < 20 ? kill_at(k) : 5 + (k - 20) * 3 * run_ms / 20;
		dev d;
		char name[32];
		snprintf(name, sizeof name, "ks%02u", k);
		dev_make(&d, name);
		dev_subscribe(&d, 1 + (int)(k % 2));
		char out[192];
		snprintf(out, sizeof out, "%s.agent.json", d.dir);
		pid_t p = agent_spawn(&d, out, "60");
		msleep(at);
		server_kill();
		saved_state(&d, seen[k]);
		msleep(50);
		server_start();
		int rc = wait_exit(p, 60000);
		if (rc != 0)
			fail_msg("%s after a server kill at %u ms: exit %d", name, at, rc);
		expect_one_mcim(&d);
	}
	if (distinct(seen, k) < 4)
		fail_msg("the server kills hit the agents in only %zu states", distinct(seen, k));
	check_fleet(40);
}

/* CHG-1, CHG-2, CHG-3, EVAL-4 with real processes: `openmcim server` and
 * `openmcim agent` processes. The subscriber moves the device to sho2
 * (revert to pristine), back to sho1 directly (switch on trial), then to
 * sho2 again with the agent killed part-way; each time one agent run ends
 * operational with the new SHO, one MCIM activated, the old IMSI disabled. */
static void test_operator_change_processes(void **state)
{
	(void)state;
	dev d;
	dev_make(&d, "oc");
	char body[192], code[64] = "";
	snprintf(body, sizeof body, "{\"platform_id\":\"%s\"}", d.platform_id);
	json_t *o = NULL;
	assert_int_equal(post_out("sho.sho1", "/v1/devices", token1, body, &o), 201);
	snprintf(code, sizeof code, "%s", json_string_value(json_object_get(o, "transfer_code")));
	json_decref(o);
	json_t *info = NULL;
	assert_int_equal(agent_run(&d, &info, "60"), 0);
	assert_string_equal(json_string_value(json_object_get(info, "sho")), "sho1");
	json_decref(info);
	static const struct {
		int to;
		const char *extra;
		bool kill;
	} steps[] = {{2, "", false}, {1, ",\"direct\":true", false}, {2, "", true}};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		char prev[16], q[128];
		omc_tre *t = NULL;
		omc_tre_opts ro = {.dir = d.dir, .readonly = true};
		omc_tre_mcim_info reg[16];
		size_t n = 0;
		assert_int_equal(omc_tre_open(&t, &ro), OMC_OK);
		assert_int_equal(omc_tre_registry(t, reg, 16, &n), OMC_OK);
		prev[0] = 0;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(reg[j].role, "operational") && reg[j].state == OMC_MCIM_ACTIVATED)
				snprintf(prev, sizeof prev, "%s", reg[j].imsi);
		omc_tre_close(t);
		assert_true(prev[0] != 0);
		snprintf(body, sizeof body, "{\"platform_id\":\"%s\",\"change\":true,\"transfer_code\":\"%s\"%s}",
			 d.platform_id, code, steps[i].extra);
		assert_int_equal(post_out(steps[i].to == 1 ? "sho.sho1" : "sho.sho2", "/v1/devices",
					  steps[i].to == 1 ? token1 : token2, body, &o),
				 202);
		snprintf(code, sizeof code, "%s", json_string_value(json_object_get(o, "transfer_code")));
		json_decref(o);
		if (steps[i].kill) {
			pid_t p = agent_spawn(&d, NULL, "60");
			msleep(run_ms / 2);
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
		assert_int_equal(agent_run(&d, &info, "60"), 0);
		assert_string_equal(json_string_value(json_object_get(info, "sho")), steps[i].to == 1 ? "sho1" : "sho2");
		json_decref(info);
		expect_one_mcim(&d);
		snprintf(q, sizeof q, "SELECT count(*) FROM auc_subscriber WHERE imsi = '%s' AND enabled = 0", prev);
		assert_int_equal(db_count(q), 1);
	}
}

/* TRE-1: the same story with the TRE behind its daemon: three processes
 * (server, tred, agent). The agent holds no TRE handle of its own; the
 * daemon runs AKA, attestation and install, and `tre --socket` reads the
 * result from it. */
static void test_story_through_tred(void **state)
{
	(void)state;
	dev d;
	dev_make(&d, "tred");
	dev_subscribe(&d, 2);
	char sock[200], tout[200], st[200], aout[200];
	snprintf(sock, sizeof sock, "%s/tred.sock", root);
	snprintf(tout, sizeof tout, "%s/tred.out", root);
	snprintf(st, sizeof st, "%s/tred-agent.state", root);
	snprintf(aout, sizeof aout, "%s/tred-agent.json", root);
	const char *targv[] = {bin, "tred", "--dir", d.dir, "--socket", sock, NULL};
	pid_t tred = spawn(targv, tout);
	bool up = false;
	for (int i = 0; i < 250 && !up; i++) {
		msleep(20);
		json_error_t je;
		json_t *o = json_load_file(tout, 0, &je);
		up = o && json_object_get(o, "socket");
		json_decref(o);
	}
	assert_true(up);
	/* The daemon holds the TRE: an agent on the directory is refused. */
	char cmd0[1024], o0[4096], e0[4096];
	snprintf(cmd0, sizeof cmd0, "'%s' agent --tre '%s' --vno %s --bootstrap %s --bootstrap-ca %s --until operational",
		 bin, d.dir, url("vno"), url("bootstrap"), ico_ca);
	assert_int_equal(tl_run(cmd0, o0, sizeof o0, e0, sizeof e0), 3);
	assert_non_null(strstr(e0, "holds this TRE"));
	const char *aargv[] = {bin, "agent", "--tred", sock, "--state", st, "--vno", url("vno"), "--bootstrap",
			       url("bootstrap"), "--bootstrap-ca", ico_ca, "--until", "operational", "--timeout", "60",
			       "--backoff-max-ms", "200", "--poll-ms", "50", "--json", NULL};
	assert_int_equal(wait_exit(spawn(aargv, aout), 60000), 0);
	json_error_t je;
	json_t *info = json_load_file(aout, 0, &je);
	assert_string_equal(json_string_value(json_object_get(info, "state")), "operational");
	assert_string_equal(json_string_value(json_object_get(info, "sho")), "sho2");
	char want[64];
	snprintf(want, sizeof want, "%s", json_string_value(json_object_get(info, "mcim_id")));
	json_decref(info);
	char cmd[512], out[65536], err[4096];
	snprintf(cmd, sizeof cmd, "'%s' tre --socket '%s' registry --json", bin, sock);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	assert_non_null(strstr(out, want));
	kill(tred, SIGTERM);
	assert_int_equal(wait_exit(tred, 10000), 0);
	expect_one_mcim(&d);
}

/* The agent's CLI contract: usage errors exit 2 with one line on stderr
 * and nothing on stdout; an unopenable TRE exits 3. */
static void test_agent_usage(void **state)
{
	(void)state;
	char out[4096], err[4096], cmd[1024];
	const char *bad[] = {"", "--tre /nonexistent", "--tre x --vno ftp://a --bootstrap http://b --bootstrap-ca c",
			     "--tre x --vno http://a --bootstrap http://b --bootstrap-ca c --until never",
			     "--tre x --vno http://a --bootstrap http://b --bootstrap-ca c --state a/b", "--frob",
			     "--tre x --tred s --state p --vno http://a --bootstrap http://b --bootstrap-ca c",
			     "--tred s --vno http://a --bootstrap http://b --bootstrap-ca c"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(cmd, sizeof cmd, "'%s' agent %s", bin, bad[i]);
		int rc = tl_run(cmd, out, sizeof out, err, sizeof err);
		if (rc != 2)
			fail_msg("agent %s: exit %d, want 2", bad[i], rc);
		assert_string_equal(out, "");
		assert_true(strlen(err) > 0 && strchr(err, '\n') == err + strlen(err) - 1);
	}
	snprintf(cmd, sizeof cmd, "'%s' agent --tre %s/none --vno http://127.0.0.1:1 --bootstrap http://127.0.0.1:1"
			      " --bootstrap-ca %s",
		 bin, root, ico_ca);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 3);
	snprintf(cmd, sizeof cmd, "'%s' agent --help", bin);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	assert_non_null(strstr(out, "--until operational"));
}

/* --- the canary over every file ----------------------------------------------------------- */

static size_t home_hits, homes, scanned;

static bool is_home(const char *p)
{
	static const char *const names[] = {"/master.key", "/pki.secret", "/device.key"};
	size_t n = strlen(p);
	for (size_t i = 0; i < OMC_ARRAY_LEN(names); i++) {
		size_t m = strlen(names[i]);
		if (n >= m && !strcmp(p + n - m, names[i]))
			return true;
	}
	return false;
}

static void plant_file(const char *what, const char *path)
{
	uint8_t *b = NULL;
	size_t n = 0;
	assert_int_equal(omc_read_file(path, &b, &n, 64), OMC_OK);
	assert_int_equal(n, 32);
	tl_canary_add(what, b, n);
	omc_free(b);
}

static int plant_root_keys(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	size_t n = strlen(p);
	if (flag == FTW_F && n > 11 && !strcmp(p + n - 11, "/device.key"))
		plant_file("a device's root key", p);
	return 0;
}

static int scan_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	if (is_home(p)) {
		size_t before = tl_canary_hits();
		home_hits += tl_canary_scan_file(p);
		if (tl_canary_hits() == before)
			fail_msg("%s: its own secret was not found in it (control)", p);
		homes++;
	} else {
		tl_canary_scan_file(p);
		scanned++;
	}
	return 0;
}

static void test_canary_every_file(void **state)
{
	(void)state;
	tl_canary_reset();
	char p[256];
	snprintf(p, sizeof p, "%s/master.key", dir);
	plant_file("the master key", p);
	snprintf(p, sizeof p, "%s/pki", dir);
	size_t control = 0, keys = tl_canary_add_pki(p, &control);
	assert_true(keys >= 6);
	assert_int_equal(nftw(dir, plant_root_keys, 16, FTW_PHYS), 0);
	home_hits = homes = scanned = 0;
	assert_int_equal(nftw(root, scan_one, 16, FTW_PHYS), 0);
	/* zero hits but each secret's own file */
	assert_int_equal(tl_canary_hits(), control + home_hits);
	assert_true(homes >= 4); /* master.key, pki.secret, devices */
	assert_true(scanned >= 20);
	print_message("canary: %zu files scanned (%llu bytes, stderr.log included), %zu private keys, %zu homes of "
		      "secrets as controls: no secret outside its home\n",
		      scanned, (unsigned long long)tl_canary_bytes(), keys, homes);
	tl_canary_reset();
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_usage),
		cmocka_unit_test(test_story),
		cmocka_unit_test(test_story_through_tred),
		cmocka_unit_test(test_pending_then_registered),
		cmocka_unit_test(test_modified_component_refused),
		cmocka_unit_test(test_kill_agent_at_20_points),
		cmocka_unit_test(test_kill_server_at_20_points),
		cmocka_unit_test(test_operator_change_processes),
		cmocka_unit_test(test_canary_every_file), /* last: over what all the others left */
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
