/* The CLI contract of `openmcim tred` and of `openmcim tre --socket`: the
 * daemon starts on a factory device, prints its ready line, serves `tre
 * --socket` with the same output as `tre --dir`, refuses a second daemon
 * on its socket or its TRE, gives an unmapped peer the status only, and
 * on SIGTERM or SIGINT exits 0 with its socket removed. Runs the real
 * binary (argv[1]) in a temporary directory under /tmp.
 * covers: TRE-1, TRE-4, TRE-10, TRE-11 */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openmcim/factory.h"

#define K1 "3c9a0e4b7d2c6f1a8e3b9d0c7a5d8b1f"
#define OPC1 "0718293a4b5c6d7e8f90a1b2c3d4e5f6"

static const char *bin;
static char root[] = "/tmp/omc-tred-cli-XXXXXX";
static char pki[256];
static char out[65536], err[16384];

static int run_v(const char *input, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static int run_v(const char *input, const char *fmt, va_list ap)
{
	char args[4096], cmd[4400];
	vsnprintf(args, sizeof args, fmt, ap);
	if (input)
		snprintf(cmd, sizeof cmd, "printf '%s' | '%s' %s", input, bin, args);
	else
		snprintf(cmd, sizeof cmd, "'%s' %s </dev/null", bin, args);
	return tl_run(cmd, out, sizeof out, err, sizeof err);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_v(NULL, fmt, ap);
	va_end(ap);
	return rc;
}

/* stdin: input, a printf format of PIN lines ("4711\\n2468\\n"). */
static int run_in(const char *input, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_in(const char *input, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_v(input, fmt, ap);
	va_end(ap);
	return rc;
}

static void path(char *p, size_t cap, const char *name)
{
	if (snprintf(p, cap, "%s/%s", root, name) >= (int)cap)
		fail_msg("path too long: %s", name);
}

static json_t *parse_out(void)
{
	json_error_t e;
	json_t *j = json_loads(out, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("stdout is not JSON (%s): %s", e.text, out);
	return j;
}

/* A failure with exit want_rc: nothing on stdout, one line on stderr
 * naming `name` if given. */
static void expect_error(int rc, int want_rc, const char *name)
{
	if (rc != want_rc)
		fail_msg("exit %d, want %d; stdout: %.200s; stderr: %s", rc, want_rc, out, err);
	if (out[0])
		fail_msg("error printed on stdout: %s", out);
	size_t n = strlen(err);
	if (n == 0 || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1)
		fail_msg("error is not one line: '%s'", err);
	if (strncmp(err, "openmcim ", 9))
		fail_msg("error is not 'openmcim CMD: MESSAGE': %s", err);
	if (name && !strstr(err, name))
		fail_msg("error does not name %s: %s", name, err);
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* --- the daemon as a child ------------------------------------------------------------------- */

typedef struct tred {
	pid_t pid;
	int out_fd, err_fd;
	json_t *ready;
} tred;

static pid_t children[8];

static void kill_children(void)
{
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			(void)waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void forget(pid_t pid)
{
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void tred_stderr(const tred *t)
{
	ssize_t n = pread(t->err_fd, err, sizeof err - 1, 0);
	err[n > 0 ? n : 0] = 0;
}

/* Start `openmcim tred ARGS...`; NULL-terminated args. */
static void tred_spawn(tred *t, const char *const *args)
{
	memset(t, 0, sizeof *t);
	char errpath[600];
	path(errpath, sizeof errpath, "stderr-XXXXXX");
	t->err_fd = mkstemp(errpath);
	assert_true(t->err_fd >= 0);
	unlink(errpath);
	int p[2];
	assert_int_equal(pipe(p), 0);
	const char *argv[16] = {bin, "tred"};
	size_t n = 2;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(p[1], 1);
		dup2(t->err_fd, 2);
		close(p[0]);
		close(p[1]);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		if (!children[i]) {
			children[i] = t->pid;
			break;
		}
	close(p[1]);
	t->out_fd = p[0];
}

/* Its first stdout line within 10 s: one JSON object. */
static void tred_ready(tred *t)
{
	char line[4096];
	size_t len = 0;
	int64_t deadline = now_ms() + 10000;
	while (!memchr(line, '\n', len)) {
		int64_t left = deadline - now_ms();
		struct pollfd pf = {.fd = t->out_fd, .events = POLLIN};
		int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t got = r > 0 && len < sizeof line - 1 ? read(t->out_fd, line + len, sizeof line - 1 - len) : 0;
		if (got <= 0) {
			tred_stderr(t);
			fail_msg("no ready line (%s); stdout: %.*s; stderr: %s", r == 0 ? "timed out" : "closed", (int)len,
				 line, err);
		}
		len += (size_t)got;
	}
	line[len] = 0;
	char *nl = strchr(line, '\n');
	if (nl[1] != 0)
		fail_msg("more than the ready line on stdout: %s", line);
	*nl = 0;
	json_error_t je;
	t->ready = json_loads(line, 0, &je);
	if (!json_is_object(t->ready))
		fail_msg("the ready line is not one JSON object (%s): %s", je.text, line);
}

static void tred_start(tred *t, const char *const *args)
{
	tred_spawn(t, args);
	tred_ready(t);
}

/* Wait up to 5 s for its exit; its status. */
static int tred_wait(tred *t)
{
	int st = 0;
	pid_t w = 0;
	int64_t deadline = now_ms() + 5000;
	while ((w = waitpid(t->pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
		usleep(20000);
	tred_stderr(t);
	if (w != t->pid)
		fail_msg("still running after 5 s; stderr: %s", err);
	forget(t->pid);
	close(t->out_fd);
	close(t->err_fd);
	json_decref(t->ready);
	t->ready = NULL;
	return st;
}

/* sig: exit 0 within 5 s, the socket gone. */
static void tred_stop(tred *t, int sig, const char *sock)
{
	assert_int_equal(kill(t->pid, sig), 0);
	int st = tred_wait(t);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("signal %d: want exit 0, got status 0x%x; stderr: %s", sig, (unsigned)st, err);
	if (exists(sock))
		fail_msg("the socket %s is still there after exit", sock);
}

/* --- devices --------------------------------------------------------------------------------- */

static unsigned n_dev;

static void make_device(char *dir, size_t cap)
{
	char name[32], pcid[300], pf[300];
	snprintf(name, sizeof name, "dev%u", n_dev);
	snprintf(pf, sizeof pf, "%s/pcid%u.json", root, n_dev++);
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"001019000000555\",\"k\":\"%s\",\"opc\":\"%s\"}", K1, OPC1);
	write_file(pf, pcid);
	path(dir, cap, name);
	int rc = run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, dir, pf);
	if (rc != 0)
		fail_msg("factory device: exit %d: %s", rc, err);
	unlink(pf);
}

/* --- tests ----------------------------------------------------------------------------------- */

static void test_usage(void **state)
{
	(void)state;
	expect_error(run("tred"), 2, "--dir");
	expect_error(run("tred --dir /nonexistent"), 2, "--socket");
	expect_error(run("tred --socket /tmp/x.sock"), 2, "--dir");
	expect_error(run("tred --dir d --socket s --bogus"), 2, "--bogus");
	expect_error(run("tred --dir d --socket s extra"), 2, "extra");
	expect_error(run("tred --dir d --socket s --log-level loud"), 2, "--log-level");
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = 0;
	expect_error(run("tred --dir d --socket %s", longp), 2, "--socket");
	assert_int_equal(run("tred --help"), 0);
	assert_non_null(strstr(out, "usage: openmcim tred"));
	assert_int_equal(run("--help"), 0);
	assert_non_null(strstr(out, "tred"));
	/* tre: one of --dir and --socket. */
	expect_error(run("tre --dir d --socket s status"), 2, "--socket");
	expect_error(run("tre status"), 2, "--dir");
	assert_int_equal(run("tre --help"), 0);
	assert_non_null(strstr(out, "--socket PATH"));
	/* No daemon there: exit 3, one line. */
	char sock[300];
	path(sock, sizeof sock, "nobody.sock");
	expect_error(run("tre --socket '%s' status --json", sock), 3, "daemon");
	/* No TRE there: exit 3, and no socket left. */
	char nodir[300];
	path(nodir, sizeof nodir, "no-such-tre");
	expect_error(run("tred --dir '%s' --socket '%s'", nodir, sock), 3, "tred");
	assert_false(exists(sock));
}

/* Started, ready line, `tre --socket` as `tre --dir`, SIGTERM: exit 0 and
 * the socket gone (TRE-1, TRE-4, TRE-10, TRE-11). */
static void test_serve_and_stop(void **state)
{
	(void)state;
	char dir[300], sock[300];
	make_device(dir, sizeof dir);
	path(sock, sizeof sock, "t.sock");
	tred t;
	tred_start(&t, (const char *const[]){"--dir", dir, "--socket", sock, NULL});
	assert_string_equal(json_string_value(json_object_get(t.ready, "socket")), sock);
	assert_string_equal(json_string_value(json_object_get(t.ready, "state")), "pristine");
	assert_int_equal(json_integer_value(json_object_get(t.ready, "boot_count")), 1);
	char tre_id[64];
	snprintf(tre_id, sizeof tre_id, "%s", json_string_value(json_object_get(t.ready, "tre_id")));
	struct stat st;
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);

	/* The same bytes through the daemon as from the directory. */
	static const char *const same[] = {"status --json", "registry --json", "users --json", "audit --json",
					   "audit --verify --json", "status", "registry", "audit --verify"};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		assert_int_equal(run("tre --socket '%s' %s", sock, same[i]), 0);
		char via[sizeof out];
		memcpy(via, out, sizeof out);
		assert_int_equal(run("tre --dir '%s' %s", dir, same[i]), 0);
		if (strcmp(via, out))
			fail_msg("tre %s differs:\n--socket: %s\n--dir:    %s", same[i], via, out);
	}
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0);
	json_t *j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "tre_id")), tre_id);
	assert_int_equal(json_integer_value(json_object_get(j, "boot_count")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "mcims"), 0), "id")),
			    "pcid");
	json_decref(j);

	/* Users through the daemon, PINs on stdin (TRE-10). */
	assert_int_equal(run_in("4711\\n", "tre --socket '%s' user-add root --role admin", sock), 0);
	assert_int_equal(out[0], 0);
	expect_error(run_in("0000\\n2468\\n", "tre --socket '%s' user-add op --role operator --as root", sock), 1,
		     "user-add");
	assert_int_equal(run_in("4711\\n2468\\n", "tre --socket '%s' user-add op --role operator --as root", sock), 0);
	expect_error(run_in("4711\\n2468\\n", "tre --socket '%s' user-add op --role operator --as root", sock), 3,
		     "user-add"); /* exists */
	expect_error(run_in("", "tre --socket '%s' user-add x --role user --as root", sock), 2, "PIN");
	expect_error(run_in("4711\\n", "tre --socket '%s' user-add x --as root", sock), 2, "--role");
	assert_int_equal(run("tre --socket '%s' users --json", sock), 0);
	j = parse_out();
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	expect_error(run("tre --socket '%s' user-del op", sock), 1, "user-del"); /* no --as */
	assert_int_equal(run_in("4711\\n", "tre --socket '%s' user-del op --as root", sock), 0);
	assert_int_equal(run_in("4711\\n", "tre --socket '%s' user-unblock root --as root", sock), 0);

	/* Attestation, checkpoint and certificates come through too. */
	assert_int_equal(run("tre --socket '%s' attest --nonce 00112233445566778899aabbccddeeff", sock), 0);
	assert_true(strncmp(out, "eyJ", 3) == 0 && strchr(out, '\n'));
	assert_int_equal(run("tre --socket '%s' checkpoint", sock), 0);
	assert_true(strncmp(out, "eyJ", 3) == 0);
	assert_int_equal(run("tre --socket '%s' certs", sock), 0);
	assert_non_null(strstr(out, "-----BEGIN CERTIFICATE-----"));

	/* Tamper and recovery through the daemon (TRE-4). */
	assert_int_equal(run("tre --socket '%s' tamper --reason 'lid opened'", sock), 0);
	assert_string_equal(out, "{\"state\":\"lockdown\"}\n");
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0);
	j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "state")), "lockdown");
	assert_string_equal(json_string_value(json_object_get(j, "lockdown_reason")), "tamper: lid opened");
	json_decref(j);
	expect_error(run_in("4711\\n", "tre --socket '%s' user-del root --as root", sock), 3, "user-del");
	assert_int_equal(run("tre --socket '%s' recovery-counter", sock), 0);
	j = parse_out();
	json_int_t ctr = json_integer_value(json_object_get(j, "counter"));
	assert_string_equal(json_string_value(json_object_get(j, "tre_id")), tre_id);
	json_decref(j);
	char auth[300];
	path(auth, sizeof auth, "junk.jws");
	write_file(auth, "a.b.c\n");
	expect_error(run("tre --socket '%s' recover --auth '%s'", sock, auth), 1, "recover");
	omc_key *k;
	omc_cert *cert;
	assert_int_equal(omc_pki_load(pki, "ro", &k, &cert), OMC_OK);
	json_t *p = json_pack("{s:s,s:I,s:s,s:I,s:I}", "iss", "ro", "seq", (json_int_t)1, "tre", tre_id, "counter", ctr,
			      "iat", (json_int_t)time(NULL));
	char *payload = json_dumps(p, JSON_COMPACT), *jws = NULL;
	json_decref(p);
	const omc_cert *x5c[] = {cert};
	assert_int_equal(omc_jws_sign(&jws, (const uint8_t *)payload, strlen(payload), k, x5c, 1, "omc-recovery+jwt"),
			 OMC_OK);
	path(auth, sizeof auth, "good.jws");
	write_file(auth, jws);
	assert_int_equal(run("tre --socket '%s' recover --auth '%s'", sock, auth), 0);
	assert_string_equal(out, "{\"state\":\"pristine\"}\n");
	expect_error(run("tre --socket '%s' recover --auth '%s'", sock, auth), 1, "recover"); /* spent */
	omc_free(jws);
	omc_free(payload);
	omc_key_free(k);
	omc_cert_free(cert);

	/* The audit log holds all of it, and the chain is intact. */
	assert_int_equal(run("tre --socket '%s' audit", sock), 0);
	assert_non_null(strstr(out, "tamper"));
	assert_non_null(strstr(out, "recover"));
	assert_int_equal(run("tre --socket '%s' audit --verify --json", sock), 0);
	assert_non_null(strstr(out, "\"intact\":true"));

	tred_stop(&t, SIGTERM, sock);
	/* Its log says it stopped; no PIN in it. */
	assert_null(strstr(err, "4711"));
	assert_null(strstr(err, "2468"));
	/* Started again: the next boot; SIGINT stops it as well. */
	tred_start(&t, (const char *const[]){"--dir", dir, "--socket", sock, NULL});
	assert_int_equal(json_integer_value(json_object_get(t.ready, "boot_count")), 2);
	tred_stop(&t, SIGINT, sock);
}

/* One daemon a socket and a TRE; a stale socket is replaced. */
static void test_refusals(void **state)
{
	(void)state;
	char dir[300], dir2[300], sock[300], sock2[300];
	make_device(dir, sizeof dir);
	make_device(dir2, sizeof dir2);
	path(sock, sizeof sock, "r.sock");
	path(sock2, sizeof sock2, "r2.sock");
	tred t;
	tred_start(&t, (const char *const[]){"--dir", dir, "--socket", sock, "--log-level", "inf", NULL});
	expect_error(run("tred --dir '%s' --socket '%s'", dir2, sock), 3, "tred");
	expect_error(run("tred --dir '%s' --socket '%s'", dir, sock2), 3, "tred");
	assert_false(exists(sock2));
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0); /* the first one serves on */
	/* Killed hard: the socket stays, stale; the next start replaces it. */
	assert_int_equal(kill(t.pid, SIGKILL), 0);
	(void)tred_wait(&t);
	assert_true(exists(sock));
	tred_start(&t, (const char *const[]){"--dir", dir, "--socket", sock, NULL});
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0);
	tred_stop(&t, SIGTERM, sock);
	/* A file in the way is not touched. */
	write_file(sock2, "keep me\n");
	expect_error(run("tred --dir '%s' --socket '%s'", dir, sock2), 3, "tred");
	assert_true(exists(sock2));
	unlink(sock2);
	/* A bad users file. */
	char users[300];
	path(users, sizeof users, "users-bad");
	write_file(users, "12 Not-A-Name\n");
	expect_error(run("tred --dir '%s' --socket '%s' --users '%s'", dir, sock, users), 3, "tred");
	assert_false(exists(sock));
}

/* A peer the users file does not name gets the status only (TRE-1). */
static void test_unmapped_peer(void **state)
{
	(void)state;
	char dir[300], sock[300], users[300], text[64];
	make_device(dir, sizeof dir);
	path(sock, sizeof sock, "u.sock");
	path(users, sizeof users, "users-other");
	snprintf(text, sizeof text, "%u agent\n", (unsigned)(geteuid() == 4242 ? 4243 : 4242));
	write_file(users, text);
	tred t;
	tred_start(&t, (const char *const[]){"--dir", dir, "--socket", sock, "--users", users, NULL});
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0);
	json_t *j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "state")), "pristine");
	json_decref(j);
	expect_error(run("tre --socket '%s' registry --json", sock), 3, "not permitted");
	expect_error(run("tre --socket '%s' tamper --reason x", sock), 3, "not permitted");
	expect_error(run("tre --socket '%s' audit --json", sock), 3, "not permitted");
	expect_error(run("tre --socket '%s' audit --verify", sock), 3, "not permitted");
	expect_error(run("tre --socket '%s' recovery-counter", sock), 3, "not permitted");
	expect_error(run("tre --socket '%s' attest --nonce 0011223344556677", sock), 3, "not permitted");
	expect_error(run_in("4711\\n", "tre --socket '%s' user-add root --role admin", sock), 1, "not permitted");
	assert_int_equal(run("tre --socket '%s' status --json", sock), 0);
	assert_non_null(strstr(out, "\"state\":\"pristine\""));
	tred_stop(&t, SIGTERM, sock);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(root)) {
		fprintf(stderr, "mkdtemp failed\n");
		return -1;
	}
	snprintf(pki, sizeof pki, "%s/pki", root);
	int rc = run("factory pki --out '%s'", pki);
	if (rc != 0) {
		fprintf(stderr, "factory pki: exit %d: %s\n", rc, err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kill_children();
	if (nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "cannot remove %s\n", root);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-openmcim\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	omc_proto_init();
	atexit(kill_children);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_serve_and_stop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_unmapped_peer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
