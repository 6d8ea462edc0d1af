/* The TRE daemon and its client: a daemon in a thread on a factory device
 * in a temporary directory, every op through the client, malformed and
 * oversized requests answered with their codes while the connection and
 * the daemon go on, peer credentials (a peer not mapped may only read the
 * status, a mapped name is what the ACLs see), the socket claimed safely
 * and removed at the end, the agent's TRE table over the socket running
 * AKA with the PCID, and no PIN, K or OPc in any log line or answer.
 * covers: TRE-1, TRE-4, TRE-6, TRE-7, TRE-8, TRE-10, TRE-11, MGT-5, MGT-7, SEC-12 */
#include "tre_fixture.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "openmcim/tred.h"

#define K1 "6a1f0e2d3c4b5a69788796a5b4c3d2e1"
#define OPC1 "f0e1d2c3b4a5968778695a4b3c2d1e0f"
#define K2 "00112233445566778899aabbccddeef1"
#define OPC2 "ffeeddccbbaa99887766554433221100"
#define IMSI1 "001019000000777"
#define PIN_ROOT "738291"
#define PIN_AGENT "561902"
#define PIN_OP "440813"

static char root[] = "/tmp/omc-tred-XXXXXX";
static unsigned n_dirs;

/* --- logs, kept to be searched at the end ------------------------------------------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_all;
static size_t log_len, log_cap, log_lines;

static void log_keep(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&log_mu);
	size_t need = strlen(module) + strlen(msg) + 3;
	if (log_len + need > log_cap) {
		size_t cap = (log_cap + need) * 2;
		char *b = realloc(log_all, cap);
		if (b) {
			log_all = b;
			log_cap = cap;
		}
	}
	if (log_len + need <= log_cap) {
		log_len += (size_t)snprintf(log_all + log_len, log_cap - log_len, "%s %s\n", module, msg);
		log_lines++;
	}
	pthread_mutex_unlock(&log_mu);
}

/* Every answer the tests read, to be searched for K and OPc at the end. */
static char *answers;
static size_t answers_len, answers_cap;

static void keep_answer(const char *s, size_t n)
{
	if (answers_len + n + 1 > answers_cap) {
		size_t cap = (answers_cap + n + 1) * 2;
		char *b = realloc(answers, cap);
		assert_non_null(b);
		answers = b;
		answers_cap = cap;
	}
	memcpy(answers + answers_len, s, n);
	answers_len += n;
	answers[answers_len] = 0;
}

/* --- devices and daemons ----------------------------------------------------------------------- */

/* A factory device in root/devN with the PCID (K1, OPC1) on IMSI1; its
 * directory into dir. */
static void make_device(char *dir, size_t cap)
{
	snprintf(dir, cap, "%s/dev%u", root, n_dirs++);
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}", IMSI1, K1, OPC1);
	omc_factory_device_opts o = {.pki_dir = tf_pki(), .dir = dir, .pcid_json = pcid, .pcid_json_len = strlen(pcid)};
	char *rep = NULL;
	omc_err e = omc_factory_device(&o, &rep);
	if (e != OMC_OK)
		fail_msg("factory device: %s at %s", omc_err_name(e), omc_err_source());
	omc_free(rep);
}

typedef struct dm {
	omc_tred_daemon *d;
	pthread_t th;
	omc_err rc;
	char sock[160];
} dm;

static void *dm_main(void *arg)
{
	dm *m = arg;
	m->rc = omc_tred_daemon_run(m->d);
	return NULL;
}

static omc_err dm_try(dm *m, const char *dir, const char *sock, const char *users)
{
	memset(m, 0, sizeof *m);
	snprintf(m->sock, sizeof m->sock, "%s", sock);
	omc_tred_opts o = {.dir = dir, .socket_path = sock, .users_file = users};
	omc_err e = omc_tred_daemon_new(&m->d, &o);
	if (e == OMC_OK)
		assert_int_equal(pthread_create(&m->th, NULL, dm_main, m), 0);
	return e;
}

static void dm_start(dm *m, const char *dir, const char *sock, const char *users)
{
	omc_err e = dm_try(m, dir, sock, users);
	if (e != OMC_OK)
		fail_msg("daemon: %s at %s", omc_err_name(e), omc_err_source());
}

/* Stop: run returns OMC_OK, the socket is gone. */
static void dm_stop(dm *m)
{
	omc_tred_daemon_stop(m->d);
	assert_int_equal(pthread_join(m->th, NULL), 0);
	assert_err(m->rc, OMC_OK);
	omc_tred_daemon_free(m->d);
	struct stat st;
	assert_int_equal(lstat(m->sock, &st), -1);
	assert_int_equal(errno, ENOENT);
	m->d = NULL;
}

static void sock_path(char *p, size_t cap, const char *name)
{
	snprintf(p, cap, "%s/%s", root, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static omc_tred_client *client(const char *sock)
{
	omc_tred_client *c = NULL;
	omc_err e = omc_tred_connect(&c, sock);
	if (e != OMC_OK)
		fail_msg("connect %s: %s", sock, omc_err_name(e));
	return c;
}

/* --- raw connections --------------------------------------------------------------------------- */

static int raw_connect(const char *sock)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	assert_true(strlen(sock) < sizeof a.sun_path);
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(connect(fd, (const struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

/* One answer line (within 10 s) as JSON; each one an object with "ok". */
static json_t *raw_answer(int fd)
{
	static char line[1 << 16];
	size_t len = 0;
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, 10000);
		if (r <= 0)
			fail_msg("no answer within 10 s");
		ssize_t n = recv(fd, line + len, 1, 0); /* byte by byte: one line, no more */
		if (n <= 0)
			fail_msg("connection closed before an answer (%zu bytes)", len);
		if (line[len] == '\n')
			break;
		len++;
		assert_true(len < sizeof line - 1);
	}
	line[len] = 0;
	keep_answer(line, len);
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);
	if (!json_is_object(j) || !json_is_boolean(json_object_get(j, "ok")))
		fail_msg("not an answer: %s", line);
	return j;
}

static json_t *raw_ask(int fd, const char *line)
{
	raw_send(fd, line, strlen(line));
	raw_send(fd, "\n", 1);
	return raw_answer(fd);
}

/* An error answer with code `code` (and a message). */
static void expect_refusal(json_t *a, const char *code)
{
	if (!json_is_false(json_object_get(a, "ok")))
		fail_msg("want an error %s, got %s", code, json_dumps(a, 0));
	const char *got = json_string_value(json_object_get(a, "error"));
	if (!got || strcmp(got, code))
		fail_msg("want error %s, got %s", code, got ? got : "(none)");
	assert_non_null(json_string_value(json_object_get(a, "message")));
	json_decref(a);
}

static void expect_ok(json_t *a)
{
	if (!json_is_true(json_object_get(a, "ok")))
		fail_msg("want ok, got %s", json_dumps(a, 0));
	json_decref(a);
}

/* --- operator-side objects ------------------------------------------------------------------- */

static char *recovery(uint64_t seq, const char *tre_id, uint64_t counter)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)seq, "tre", tre_id, "counter",
			      (json_int_t)counter, "iat", (json_int_t)time(NULL));
	return tf_sign("ro", "omc-recovery+jwt", p);
}

static const omc_tre_mcim_info *find(omc_tred_client *c, const char *id, omc_tre_mcim_info *buf)
{
	size_t n;
	assert_err(omc_tred_registry(c, buf, 64, &n), OMC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(buf[i].id, id))
			return &buf[i];
	return NULL;
}

/* Install MCIM mcim (taken) for sho1 through the agent's table: session,
 * package, install. */
static void provision_mcim(const omc_agent_tre *ops, const char *tre_id, json_t *mcim, uint64_t seq)
{
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_err(ops->session_begin(ops->ctx, nonce, sizeof nonce, &ev), OMC_OK);
	char *pkg = tf_package("sho1", seq, tre_id, nonce, sizeof nonce, ev, mcim, true);
	char *receipt = NULL;
	assert_err(ops->install(ops->ctx, pkg, strlen(pkg), &receipt), OMC_OK);
	keep_answer(receipt, strlen(receipt));
	assert_true(strlen(receipt) > 100);
	omc_free(receipt);
	omc_free(pkg);
	omc_free(ev);
}

/* The same for MCIM id (K2, OPC2, ACL ["agent"]). */
static void provision(const omc_agent_tre *ops, const char *tre_id, const char *id, uint64_t seq)
{
	provision_mcim(ops, tre_id, tf_mcim(id, "sho1", "001020000000042", K2, OPC2), seq);
}

/* --- every op ---------------------------------------------------------------------------------- */

/* covers: TRE-1, TRE-4, TRE-7, TRE-11 */
static void test_status_attest_audit_tamper_recover(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "a.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	/* The socket is 0660 (TRE-1: the group decides who reaches it). */
	struct stat st;
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	omc_tred_client *c = client(sock);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.state, OMC_TRE_PRISTINE);
	assert_int_equal(s.boot_count, 1); /* the daemon's start is a boot */
	assert_true(s.platform_ok && s.store_ok);
	assert_int_equal(s.n_mcims, 1);
	assert_true(strncmp(s.tre_id, "tre-", 4) == 0);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *p = find(c, "pcid", reg);
	assert_non_null(p);
	assert_string_equal(p->imsi, IMSI1);
	assert_string_equal(p->role, "bootstrap");
	assert_string_equal(p->alg, "milenage");
	assert_string_equal(p->type, "usim");
	assert_int_equal(p->state, OMC_MCIM_ACTIVATED);
	/* A too small buffer: NO_SPACE with the count, as omc_tre_registry. */
	size_t n = 0;
	assert_err(omc_tred_registry(c, reg, 0, &n), OMC_ERR_NO_SPACE);
	assert_int_equal(n, 1);

	/* Attestation (TRE-7): the evidence verifies for this nonce. */
	uint8_t nonce[32];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_err(omc_tred_attest(c, nonce, sizeof nonce, &ev), OMC_OK);
	omc_cert *ca = tf_m2mes_ca();
	const omc_cert *anchors[] = {ca};
	omc_evidence e;
	assert_err(omc_evidence_verify(&e, ev, strlen(ev), anchors, 1, nonce, sizeof nonce, 0), OMC_OK);
	assert_string_equal(e.tre_id, s.tre_id);
	assert_null(e.eph_pub);
	omc_evidence_free(&e);
	omc_free(ev);
	assert_err(omc_tred_attest(c, nonce, 4, &ev), OMC_ERR_BAD_ARG); /* the TRE's rule: 8..64 bytes */
	/* Certificates. */
	char *pem = NULL;
	size_t pl = 0;
	assert_err(omc_tred_certificates(c, &pem, &pl), OMC_OK);
	assert_int_equal(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27), 0);
	assert_int_equal(pl, strlen(pem));
	omc_free(pem);

	/* Audit (TRE-11): export, verify, and a checkpoint anyone can check. */
	char *recs = NULL, *cp = NULL;
	size_t rl = 0;
	uint64_t cnt = 0, vc = 0;
	assert_err(omc_tred_audit_export(c, &recs, &rl), OMC_OK);
	assert_true(rl > 0 && recs[rl - 1] == '\n');
	assert_err(omc_tred_audit_verify(c, &vc), OMC_OK);
	assert_true(vc >= 2);
	assert_err(omc_tred_audit_checkpoint(c, &cp), OMC_OK);
	assert_err(omc_audit_checkpoint_verify(cp, strlen(cp), recs, rl, anchors, 1, &cnt), OMC_OK);
	assert_int_equal(cnt, vc);
	omc_free(recs);
	omc_free(cp);

	/* Tamper and recovery (TRE-4). */
	uint64_t ctr = 0;
	assert_err(omc_tred_recovery_counter(c, &ctr), OMC_OK);
	assert_err(omc_tred_tamper(c, "enclosure opened"), OMC_OK);
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.state, OMC_TRE_LOCKDOWN);
	assert_non_null(strstr(s.lockdown_reason, "enclosure opened"));
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 40);
	omc_aka_check_result r;
	assert_err(omc_tred_aka(c, "pcid", NULL, av.rand, av.autn, av.autn_len, &r), OMC_ERR_LOCKDOWN);
	/* Attestation still works in lockdown. */
	assert_err(omc_tred_attest(c, nonce, 16, &ev), OMC_OK);
	omc_free(ev);
	assert_err(omc_tred_recovery_counter(c, &ctr), OMC_OK);
	char *bad = recovery(1, s.tre_id, ctr + 7);
	assert_err(omc_tred_recover(c, bad, strlen(bad)), OMC_ERR_DENIED);
	omc_free(bad);
	assert_err(omc_tred_recover(c, "x.y.z", 5), OMC_ERR_BAD_FORMAT);
	char *good = recovery(2, s.tre_id, ctr);
	assert_err(omc_tred_recover(c, good, strlen(good)), OMC_OK);
	omc_free(good);
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.state, OMC_TRE_PRISTINE);
	omc_cert_free(ca);
	omc_tred_disconnect(c);
	dm_stop(&m);
	/* Started again: a second boot. */
	dm_start(&m, dir, sock, NULL);
	c = client(sock);
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.boot_count, 2);
	omc_tred_disconnect(c);
	dm_stop(&m);
}

/* The agent's table over the socket: AKA with the PCID, a package
 * installed, a signed command, AKA with the new MCIM (TRE-6, TRE-8, MGT-5).
 * covers: TRE-6, TRE-8, MGT-5 */
static void test_agent_table(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "b.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	omc_tred_client *c = client(sock);
	omc_agent_tre ops;
	omc_tred_agent_tre(&ops, c);
	omc_tre_state ts;
	assert_err(ops.state(ops.ctx, &ts), OMC_OK);
	assert_int_equal(ts, OMC_TRE_PRISTINE);
	/* The network's side: an AV from the known PCID (TS 33.102 6.3). */
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 33);
	omc_aka_check_result r;
	assert_err(ops.aka(ops.ctx, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	assert_int_equal(r.res_len, av.xres_len);
	assert_memory_equal(r.res, av.xres, av.xres_len);
	assert_int_equal(r.ck_len, 16);
	assert_int_equal(r.ik_len, 16);
	assert_memory_equal(r.ck, av.ck, 16);
	assert_memory_equal(r.ik, av.ik, 16);
	uint8_t sqn[6];
	omc_store_be48(sqn, 33);
	assert_memory_equal(r.sqn, sqn, 6);
	/* The same vector again: stale, AUTS for resynchronisation. */
	assert_err(ops.aka(ops.ctx, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_SYNC_FAILURE);
	assert_int_equal(r.auts_len, 14);
	/* A flipped MAC bit. */
	tf_av(&av, K1, OPC1, 65);
	av.autn[av.autn_len - 1] ^= 1;
	assert_err(ops.aka(ops.ctx, "pcid", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_MAC_FAILURE);
	assert_err(ops.aka(ops.ctx, "nosuch", av.rand, av.autn, av.autn_len, &r), OMC_ERR_NOT_FOUND);

	/* Provisioning through the table, then AKA with the MCIM. */
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	provision(&ops, s.tre_id, "m1", 1);
	assert_err(ops.state(ops.ctx, &ts), OMC_OK);
	assert_int_equal(ts, OMC_TRE_PROVISIONED);
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	assert_err(ops.registry(ops.ctx, reg, 64, &n), OMC_OK);
	assert_int_equal(n, 2);
	assert_non_null(find(c, "m1", reg));
	tf_av(&av, K2, OPC2, 100);
	assert_err(ops.aka(ops.ctx, "m1", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	assert_memory_equal(r.ck, av.ck, 16);
	/* A signed command: deactivate, then AKA is refused. */
	char *cmd = tf_command("sho1", 2, s.tre_id, "deactivate", "m1");
	char *res = NULL;
	bool applied = false;
	assert_err(ops.command(ops.ctx, cmd, strlen(cmd), &res, &applied), OMC_OK);
	assert_true(applied);
	assert_true(strlen(res) > 100);
	omc_free(res);
	omc_free(cmd);
	assert_int_equal(find(c, "m1", reg)->state, OMC_MCIM_DEACTIVATED);
	tf_av(&av, K2, OPC2, 132);
	assert_int_not_equal(ops.aka(ops.ctx, "m1", av.rand, av.autn, av.autn_len, &r), OMC_OK);
	/* Another SHO's command is answered (signed) but not applied. */
	cmd = tf_command("sho2", 1, s.tre_id, "activate", "m1");
	assert_err(ops.command(ops.ctx, cmd, strlen(cmd), &res, &applied), OMC_OK);
	assert_false(applied);
	omc_free(res);
	omc_free(cmd);
	/* A package replayed in a new session is refused, with the TRE's code. */
	uint8_t nonce[16];
	tl_rand(nonce, sizeof nonce);
	char *ev = NULL;
	assert_err(ops.session_begin(ops.ctx, nonce, sizeof nonce, &ev), OMC_OK);
	char *pkg = tf_package("sho1", 1, s.tre_id, nonce, sizeof nonce, ev,
			       tf_mcim("m2", "sho1", "001020000000043", K2, OPC2), true);
	char *receipt = NULL;
	assert_err(ops.install(ops.ctx, pkg, strlen(pkg), &receipt), OMC_ERR_DENIED); /* seq 1 again */
	assert_null(receipt);
	omc_free(pkg);
	omc_free(ev);
	assert_err(ops.attest(ops.ctx, nonce, sizeof nonce, &ev), OMC_OK);
	omc_free(ev);
	omc_tred_disconnect(c);
	dm_stop(&m);
}

/* An ISIM-type MCIM's identities (NET-5): the registry through the
 * daemon gives the IMPI and IMPU the MCIM came with (`tred card` puts them
 * in EF_IMPI and EF_IMPU); a USIM's have none.
 * covers: NET-5, MGT-5 */
static void test_isim_identities(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "i.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	omc_tred_client *c = client(sock);
	omc_agent_tre ops;
	omc_tred_agent_tre(&ops, c);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	static const char impi[] = "dev-7@ims.mnc002.mcc001.3gppnetwork.org", impu[] = "sip:+15550107@ims.example";
	json_t *mc = tf_mcim("m1", "sho1", "001020000000042", K2, OPC2);
	assert_int_equal(json_object_set_new(mc, "type", json_string("isim")), 0);
	assert_int_equal(json_object_set_new(mc, "impi", json_string(impi)), 0);
	assert_int_equal(json_object_set_new(mc, "impu", json_string(impu)), 0);
	provision_mcim(&ops, s.tre_id, mc, 1);
	omc_tre_mcim_info reg[64];
	const omc_tre_mcim_info *r = find(c, "m1", reg);
	assert_non_null(r);
	assert_string_equal(r->type, "isim");
	assert_string_equal(r->impi, impi);
	assert_string_equal(r->impu, impu);
	r = find(c, "pcid", reg);
	assert_non_null(r);
	assert_string_equal(r->type, "usim");
	assert_string_equal(r->impi, "");
	assert_string_equal(r->impu, "");
	omc_tred_disconnect(c);
	dm_stop(&m);
}

/* Users through the daemon: PINs go through omc_tre_user_auth (TRE-10);
 * the mapped name alone is not a TRE user (a user named like it is not
 * the peer).
 * covers: TRE-10, MGT-7 */
static void test_users_and_local_lifecycle(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "c.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	omc_tred_client *c = client(sock);
	omc_agent_tre ops;
	omc_tred_agent_tre(&ops, c);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	provision(&ops, s.tre_id, "m1", 1);
	omc_tre_user_info u[16];
	size_t n = 9;
	assert_err(omc_tred_user_list(c, u, 16, &n), OMC_OK);
	assert_int_equal(n, 0);
	/* The first user, an admin, needs no admin. */
	assert_err(omc_tred_user_add(c, NULL, NULL, 0, "root", "admin", PIN_ROOT, strlen(PIN_ROOT)), OMC_OK);
	/* Later ones do: none, a wrong PIN, a non-admin. */
	assert_err(omc_tred_user_add(c, NULL, NULL, 0, "agent", "operator", PIN_AGENT, 6), OMC_ERR_DENIED);
	assert_err(omc_tred_user_add(c, "root", "000000", 6, "agent", "operator", PIN_AGENT, 6), OMC_ERR_AUTH_FAILED);
	assert_err(omc_tred_user_add(c, "root", PIN_ROOT, 6, "agent", "operator", PIN_AGENT, 6), OMC_OK);
	assert_err(omc_tred_user_add(c, "agent", PIN_AGENT, 6, "op2", "user", PIN_OP, 6), OMC_ERR_DENIED);
	assert_err(omc_tred_user_add(c, "root", PIN_ROOT, 6, "op2", "user", PIN_OP, 6), OMC_OK);
	assert_err(omc_tred_user_add(c, "root", PIN_ROOT, 6, "op2", "user", PIN_OP, 6), OMC_ERR_EXISTS);
	assert_err(omc_tred_user_add(c, "root", PIN_ROOT, 6, "Bad Name", "user", PIN_OP, 6), OMC_ERR_BAD_ARG);
	assert_err(omc_tred_user_list(c, u, 16, &n), OMC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(u[0].name, "root");
	assert_string_equal(u[0].role, "admin");
	assert_string_equal(u[1].role, "operator");
	assert_string_equal(u[2].role, "user");
	assert_err(omc_tred_user_list(c, u, 2, &n), OMC_ERR_NO_SPACE);
	/* Local lifecycle (MGT-7): the ACL names "agent" and its role is
	 * operator, with its PIN; not without it, not as another user. */
	assert_err(omc_tred_local_lifecycle(c, "agent", "999999", 6, "m1", OMC_EV_DEACTIVATE), OMC_ERR_AUTH_FAILED);
	assert_err(omc_tred_local_lifecycle(c, "op2", PIN_OP, 6, "m1", OMC_EV_DEACTIVATE), OMC_ERR_DENIED);
	assert_err(omc_tred_local_lifecycle(c, "agent", PIN_AGENT, 6, "m1", OMC_EV_DEACTIVATE), OMC_OK);
	omc_tre_mcim_info reg[64];
	assert_int_equal(find(c, "m1", reg)->state, OMC_MCIM_DEACTIVATED);
	assert_err(omc_tred_local_lifecycle(c, "agent", PIN_AGENT, 6, "m1", OMC_EV_ACTIVATE), OMC_OK);
	assert_int_equal(find(c, "m1", reg)->state, OMC_MCIM_ACTIVATED);
	/* Three wrong PINs block op2; an admin unblocks, a non-admin cannot. */
	for (int i = 0; i < 3; i++)
		assert_err(omc_tred_local_lifecycle(c, "op2", "111111", 6, "m1", OMC_EV_BLOCK), OMC_ERR_AUTH_FAILED);
	assert_err(omc_tred_user_list(c, u, 16, &n), OMC_OK);
	assert_true(u[2].blocked);
	assert_err(omc_tred_user_unblock(c, "agent", PIN_AGENT, 6, "op2"), OMC_ERR_DENIED);
	assert_err(omc_tred_user_unblock(c, NULL, NULL, 0, "op2"), OMC_ERR_DENIED);
	assert_err(omc_tred_user_unblock(c, "root", PIN_ROOT, 6, "op2"), OMC_OK);
	assert_err(omc_tred_user_list(c, u, 16, &n), OMC_OK);
	assert_false(u[2].blocked);
	assert_int_equal(u[2].failures, 0);
	assert_err(omc_tred_user_del(c, "root", PIN_ROOT, 6, "op2"), OMC_OK);
	assert_err(omc_tred_user_del(c, "root", PIN_ROOT, 6, "op2"), OMC_ERR_NOT_FOUND);
	assert_err(omc_tred_user_list(c, u, 16, &n), OMC_OK);
	assert_int_equal(n, 2);
	/* Every attempt is audited and the chain holds. */
	uint64_t vc = 0;
	assert_err(omc_tred_audit_verify(c, &vc), OMC_OK);
	char *recs = NULL;
	size_t rl = 0;
	assert_err(omc_tred_audit_export(c, &recs, &rl), OMC_OK);
	assert_non_null(strstr(recs, "user_auth"));
	omc_free(recs);
	omc_tred_disconnect(c);
	dm_stop(&m);
}

/* --- malformed requests ------------------------------------------------------------------------ */

/* Each malformed request gets its code; the connection and the daemon go on.
 * covers: TRE-1 */
static void test_malformed_requests(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "d.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	int fd = raw_connect(sock);
	expect_refusal(raw_ask(fd, "not json"), "BAD_JSON");
	expect_refusal(raw_ask(fd, "{\"op\":\"status\""), "BAD_JSON");
	expect_refusal(raw_ask(fd, ""), "BAD_JSON");
	raw_send(fd, "{\"op\":\"status\"}\0\n", 17); /* a NUL byte */
	expect_refusal(raw_answer(fd), "BAD_JSON");
	expect_refusal(raw_ask(fd, "[1,2]"), "BAD_FORMAT");
	expect_refusal(raw_ask(fd, "\"status\""), "BAD_FORMAT");
	expect_refusal(raw_ask(fd, "{}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":5}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":\"nope\"}"), "UNSUPPORTED");
	expect_refusal(raw_ask(fd, "{\"op\":\"status\",\"op\":\"tamper\"}"), "BAD_JSON"); /* duplicate key */
	expect_refusal(raw_ask(fd, "{\"op\":\"status\",\"bogus\":1}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":\"attest\"}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":\"attest\",\"nonce\":16}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":\"attest\",\"nonce\":\"abc\"}"), "BAD_LENGTH");
	expect_refusal(raw_ask(fd, "{\"op\":\"attest\",\"nonce\":\"zz00112233445566\"}"), "BAD_HEX");
	expect_refusal(raw_ask(fd, "{\"op\":\"aka\",\"mcim\":\"pcid\",\"rand\":\"00\",\"autn\":\"00\"}"), "BAD_LENGTH");
	/* Well-formed for the daemon, refused by the TRE with its code (no session). */
	expect_refusal(raw_ask(fd, "{\"op\":\"install\",\"package\":\"a.b.c.d.e\"}"), "BAD_STATE");
	expect_refusal(raw_ask(fd, "{\"op\":\"tamper\"}"), "BAD_ARG");
	expect_refusal(raw_ask(fd, "{\"op\":\"user_del\",\"name\":\"x\",\"user\":\"root\"}"), "BAD_ARG"); /* no pin */
	expect_refusal(raw_ask(fd, "{\"op\":\"user_del\",\"name\":\"x\",\"pin\":\"1234\"}"), "BAD_ARG");  /* no user */
	expect_refusal(raw_ask(fd, "{\"op\":\"local_lifecycle\",\"mcim\":\"pcid\",\"event\":\"explode\","
				   "\"user\":\"a\",\"pin\":\"1234\"}"),
		       "BAD_ARG");
	/* A malformed request's answer does not quote it: a PIN stays inside. */
	json_t *a = raw_ask(fd, "{\"op\":\"user_add\",\"new_pin\":493817x}");
	char *dumped = json_dumps(a, 0);
	assert_null(strstr(dumped, "493817"));
	omc_free(dumped);
	expect_refusal(a, "BAD_JSON");
	/* The caller's id comes back, on answers and refusals. */
	a = raw_ask(fd, "{\"op\":\"status\",\"id\":7}");
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 7);
	expect_ok(a);
	a = raw_ask(fd, "{\"op\":\"nope\",\"id\":\"q1\"}");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "q1");
	expect_refusal(a, "UNSUPPORTED");
	/* Two requests in one write: two answers, in order. */
	static const char two[] = "{\"op\":\"status\",\"id\":1}\n{\"op\":\"registry\",\"id\":2}\n";
	raw_send(fd, two, sizeof two - 1);
	a = raw_answer(fd);
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 1);
	expect_ok(a);
	a = raw_answer(fd);
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 2);
	expect_ok(a);
	/* Exactly the largest request (padded with white space) is served. */
	static const char st[] = "{\"op\":\"status\"}";
	size_t max = OMC_TRED_MAX_REQUEST;
	char *big = malloc(max + 64);
	assert_non_null(big);
	memset(big, ' ', max);
	memcpy(big + max - (sizeof st - 1), st, sizeof st - 1);
	big[max] = '\n';
	raw_send(fd, big, max + 1);
	expect_ok(raw_answer(fd));
	/* One byte more: TOO_LARGE, and the connection goes on. */
	memset(big, ' ', max + 1);
	memcpy(big + max + 1 - (sizeof st - 1), st, sizeof st - 1);
	big[max + 1] = '\n';
	raw_send(fd, big, max + 2);
	expect_refusal(raw_answer(fd), "TOO_LARGE");
	/* Far more, in pieces, then a good request in the same write as its end. */
	memset(big, 'x', max);
	for (int i = 0; i < 3; i++)
		raw_send(fd, big, max);
	static const char tail[] = "xx\n{\"op\":\"status\",\"id\":3}\n";
	raw_send(fd, tail, sizeof tail - 1);
	expect_refusal(raw_answer(fd), "TOO_LARGE");
	a = raw_answer(fd);
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 3);
	expect_ok(a);
	/* Deeply nested JSON (issue 7): past jansson's 2048 levels BAD_JSON,
	 * 100 000 brackets open or closed included (no stack used up); at
	 * 2048 levels the request is read, and refused for its member. */
	static const size_t depths[] = {100000, 100000, 2049, 2048};
	for (size_t i = 0; i < OMC_ARRAY_LEN(depths); i++) {
		size_t d = depths[i], l = 0;
		bool closed = i != 0;
		l += (size_t)sprintf(big, "{\"op\":\"status\",\"x\":");
		for (size_t j = 1; j < d; j++)
			big[l++] = '[';
		for (size_t j = 1; closed && j < d; j++)
			big[l++] = ']';
		big[l++] = '}';
		big[l++] = '\n';
		raw_send(fd, big, l);
		expect_refusal(raw_answer(fd), d > 2048 ? "BAD_JSON" : "BAD_ARG");
	}
	free(big);
	/* A client that leaves mid-line harms no one. */
	int fd2 = raw_connect(sock);
	raw_send(fd2, "{\"op\":\"sta", 10);
	close(fd2);
	/* A client that stalls mid-line does not hold up another. */
	int fd3 = raw_connect(sock);
	raw_send(fd3, "{\"op\":", 6);
	expect_ok(raw_ask(fd, "{\"op\":\"status\"}"));
	int fd4 = raw_connect(sock);
	expect_ok(raw_ask(fd4, "{\"op\":\"status\"}"));
	close(fd4);
	raw_send(fd3, "\"status\"}\n", 10);
	expect_ok(raw_answer(fd3));
	close(fd3);
	/* Through the client: a request with a newline is refused before it leaves. */
	omc_tred_client *c = client(sock);
	char *ans = NULL;
	size_t al = 0;
	assert_err(omc_tred_call(c, "{\"op\":\n\"status\"}", 16, &ans, &al), OMC_ERR_BAD_ARG);
	assert_err(omc_tred_call(c, "{\"op\":\"status\"}", 15, &ans, &al), OMC_OK);
	assert_int_equal(ans[al], 0);
	assert_non_null(strstr(ans, "\"ok\":true"));
	omc_free(ans);
	omc_tred_disconnect(c);
	close(fd);
	dm_stop(&m);
}

/* The 65th connection is told and closed; the others go on. */
static void test_too_many_connections(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "e.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	int fds[OMC_TRED_MAX_CLIENTS];
	for (size_t i = 0; i < OMC_TRED_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(sock);
		expect_ok(raw_ask(fds[i], "{\"op\":\"status\"}")); /* accepted, each */
	}
	int extra = raw_connect(sock);
	expect_refusal(raw_answer(extra), "EXHAUSTED");
	char b;
	assert_int_equal(recv(extra, &b, 1, 0), 0); /* closed */
	close(extra);
	close(fds[0]);
	/* A slot is free again once the daemon has seen the close. */
	json_t *a = NULL;
	for (int tries = 0; tries < 50 && !a; tries++) {
		int fd = raw_connect(sock);
		raw_send(fd, "{\"op\":\"status\"}\n", 16);
		json_t *x = raw_answer(fd);
		if (json_is_true(json_object_get(x, "ok")))
			a = x;
		else
			json_decref(x), usleep(20000);
		close(fd);
	}
	assert_non_null(a);
	json_decref(a);
	for (size_t i = 1; i < OMC_TRED_MAX_CLIENTS; i++)
		close(fds[i]);
	dm_stop(&m);
}

/* --- peer credentials -------------------------------------------------------------------------- */

/* A peer the users map does not name reads the status and nothing else;
 * a mapped name is what the MCIM ACLs see (TRE-1, MGT-7).
 * covers: TRE-1, TRE-8, MGT-7 */
static void test_peer_credentials(void **state)
{
	(void)state;
	char dir[128], sock[160], users[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "f.sock");
	sock_path(users, sizeof users, "users-other");
	uid_t other = geteuid() == 4242 ? 4243 : 4242;
	char text[128];
	snprintf(text, sizeof text, "# only another uid\n%u agent\n", (unsigned)other);
	write_text(users, text);
	dm m;
	dm_start(&m, dir, sock, users);
	omc_tred_client *c = client(sock);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.state, OMC_TRE_PRISTINE);
	omc_tre_mcim_info reg[64];
	size_t n;
	assert_err(omc_tred_registry(c, reg, 64, &n), OMC_ERR_DENIED);
	/* The status carries the registry: ids and states, no secret. */
	assert_err(omc_tred_status_registry(c, &s, reg, 64, &n), OMC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(reg[0].id, "pcid");
	assert_err(omc_tred_tamper(c, "not mine to say"), OMC_ERR_DENIED);
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 33);
	omc_aka_check_result r;
	assert_err(omc_tred_aka(c, "pcid", NULL, av.rand, av.autn, av.autn_len, &r), OMC_ERR_DENIED);
	uint8_t nonce[16] = {1};
	char *ev = NULL;
	assert_err(omc_tred_attest(c, nonce, 16, &ev), OMC_ERR_DENIED);
	assert_err(omc_tred_session_begin(c, nonce, 16, &ev), OMC_ERR_DENIED);
	assert_err(omc_tred_user_add(c, NULL, NULL, 0, "root", "admin", PIN_ROOT, 6), OMC_ERR_DENIED);
	char *recs = NULL;
	size_t rl;
	assert_err(omc_tred_audit_export(c, &recs, &rl), OMC_ERR_DENIED);
	/* Nothing changed. */
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.state, OMC_TRE_PRISTINE);
	omc_tred_disconnect(c);
	dm_stop(&m);

	/* Mapped, but to a name the PCID's ACL (["agent"]) does not hold. */
	snprintf(text, sizeof text, "%u eve\n", (unsigned)geteuid());
	write_text(users, text);
	dm_start(&m, dir, sock, users);
	c = client(sock);
	assert_err(omc_tred_aka(c, "pcid", NULL, av.rand, av.autn, av.autn_len, &r), OMC_ERR_DENIED);
	assert_err(omc_tred_registry(c, reg, 64, &n), OMC_OK);
	omc_tred_disconnect(c);
	dm_stop(&m);

	/* By login name: this process's is "agent"; AKA with the PCID works. */
	struct passwd *pw = getpwuid(geteuid());
	assert_non_null(pw);
	snprintf(text, sizeof text, "  %s\tagent  \n\n# end\n", pw->pw_name);
	write_text(users, text);
	dm_start(&m, dir, sock, users);
	c = client(sock);
	assert_err(omc_tred_aka(c, "pcid", NULL, av.rand, av.autn, av.autn_len, &r), OMC_OK);
	assert_int_equal(r.status, OMC_AKA_STATUS_OK);
	omc_tred_disconnect(c);
	dm_stop(&m);

	/* Bad users files: the daemon does not start, and leaves no socket. */
	static const char *const bad[] = {"1000\n", "1000 agent extra\n", "1000 Agent\n", "x\x01y agent\n",
					  "1000 agent\n1000 admin\n", "no-such-login-here agent\n",
					  "4294967295 agent\n"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++) {
		write_text(users, bad[i]);
		assert_err(dm_try(&m, dir, sock, users), OMC_ERR_BAD_FORMAT);
		struct stat st;
		assert_int_equal(lstat(sock, &st), -1);
	}
	char missing[200];
	sock_path(missing, sizeof missing, "no-users-file");
	assert_err(dm_try(&m, dir, sock, missing), OMC_ERR_NOT_FOUND);
}

/* --- the socket -------------------------------------------------------------------------------- */

/* A live socket, a non-socket, a second daemon on the same TRE: refused;
 * a stale socket: replaced. The socket goes at the end.
 * covers: TRE-1 */
static void test_socket_claimed_safely(void **state)
{
	(void)state;
	char dir[128], dir2[128], sock[160], other[160];
	make_device(dir, sizeof dir);
	make_device(dir2, sizeof dir2);
	sock_path(sock, sizeof sock, "g.sock");
	sock_path(other, sizeof other, "g2.sock");
	/* A stale socket: bound, nobody listening. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	assert_true(strlen(sock) < sizeof a.sun_path);
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(bind(fd, (const struct sockaddr *)&a, sizeof a), 0);
	close(fd);
	dm m, m2;
	dm_start(&m, dir, sock, NULL);
	/* Live: refused, and the first daemon keeps its socket. */
	assert_err(dm_try(&m2, dir2, sock, NULL), OMC_ERR_EXISTS);
	/* The same TRE on another socket: refused (one handle a TRE). */
	assert_err(dm_try(&m2, dir, other, NULL), OMC_ERR_EXISTS);
	struct stat st;
	assert_int_equal(lstat(other, &st), -1);
	omc_tred_client *c = client(sock);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.boot_count, 1); /* the refused starts counted no boot */
	omc_tred_disconnect(c);
	dm_stop(&m);
	/* Not a socket: left alone. */
	write_text(other, "precious\n");
	assert_err(dm_try(&m2, dir2, other, NULL), OMC_ERR_EXISTS);
	assert_int_equal(lstat(other, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(other);
	/* A symbolic link is not a socket either. */
	assert_int_equal(symlink(sock, other), 0);
	assert_err(dm_try(&m2, dir2, other, NULL), OMC_ERR_EXISTS);
	unlink(other);
	/* No TRE there; a path too long. */
	char nodir[200];
	sock_path(nodir, sizeof nodir, "no-such-tre");
	assert_err(dm_try(&m2, nodir, sock, NULL), OMC_ERR_NOT_FOUND);
	assert_int_equal(lstat(sock, &st), -1);
	char longp[300];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = 0;
	assert_err(dm_try(&m2, dir, longp, NULL), OMC_ERR_BAD_ARG);
	assert_err(omc_tred_connect(&c, longp), OMC_ERR_BAD_ARG);
	/* Nobody there. */
	assert_err(omc_tred_connect(&c, sock), OMC_ERR_IO);
}

/* The client dials again after the daemon restarted. */
static void test_client_reconnects(void **state)
{
	(void)state;
	char dir[128], sock[160];
	make_device(dir, sizeof dir);
	sock_path(sock, sizeof sock, "h.sock");
	dm m;
	dm_start(&m, dir, sock, NULL);
	omc_tred_client *c = client(sock);
	omc_tre_status s;
	assert_err(omc_tred_status(c, &s), OMC_OK);
	dm_stop(&m);
	assert_err(omc_tred_status(c, &s), OMC_ERR_IO); /* nobody there */
	dm_start(&m, dir, sock, NULL);
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.boot_count, 2);
	/* And once more without a failed call in between. */
	dm_stop(&m);
	dm_start(&m, dir, sock, NULL);
	assert_err(omc_tred_status(c, &s), OMC_OK);
	assert_int_equal(s.boot_count, 3);
	omc_tred_disconnect(c);
	dm_stop(&m);
}

/* --- secrets ----------------------------------------------------------------------------------- */

static void scan_for(const char *hay, size_t len, const char *needle, const char *what, const char *where)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; hay && i + nl <= len; i++)
		if (!strncasecmp(hay + i, needle, nl))
			fail_msg("%s found in %s", what, where);
}

/* No PIN, K or OPc in any log line, nor K or OPc in any answer (SEC-12). */
static int no_secret_anywhere(void **state)
{
	(void)state;
	static const char *const keys[] = {K1, OPC1, K2, OPC2};
	static const char *const pins[] = {PIN_ROOT, PIN_AGENT, PIN_OP, "493817"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(keys); i++) {
		scan_for(log_all, log_len, keys[i], "a K or OPc", "the log");
		scan_for(answers, answers_len, keys[i], "a K or OPc", "an answer");
	}
	for (size_t i = 0; i < OMC_ARRAY_LEN(pins); i++)
		scan_for(log_all, log_len, pins[i], "a PIN", "the log");
	assert_true(log_lines >= 50); /* one line a request at least */
	assert_non_null(strstr(log_all, "connection from uid"));
	printf("# %zu log lines and %zu bytes of answers scanned, no secret in them\n", log_lines, answers_len);
	free(log_all);
	free(answers);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return 0;
}

int main(void)
{
	omc_proto_init();
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	omc_log_set_handler(log_keep, NULL);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_attest_audit_tamper_recover),
		cmocka_unit_test(test_agent_table),
		cmocka_unit_test(test_isim_identities),
		cmocka_unit_test(test_users_and_local_lifecycle),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_too_many_connections),
		cmocka_unit_test(test_peer_credentials),
		cmocka_unit_test(test_socket_claimed_safely),
		cmocka_unit_test(test_client_reconnects),
	};
	return cmocka_run_group_tests(tests, NULL, no_secret_anywhere);
}
