/* The CLI contract of `openmcim server` (its --help is the contract):
 * usage errors exit 2 with one line on stderr and nothing on stdout; a bad
 * config exits 3 and says why; a running server prints one JSON line of
 * role URLs, answers /healthz and /metrics on every listener, stops on
 * SIGTERM with exit 0 and its ports closed; a demo --dir is started again
 * as it is (same tokens, same rows); a temporary demo directory is removed
 * at exit; fixed ports are the config's port upwards, and a second server
 * on them exits 3. Runs the real binary (argv[1]) in a temporary directory
 * under /tmp. */
#define _XOPEN_SOURCE 700
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "openmcim/net.h"
#include "openmcim/server.h"

static const char *bin;
static char root[] = "/tmp/omc-server-cli-XXXXXX";
static char deploy[256]; /* a demo deployment made in-process, for the config cases */
static char *base_conf;  /* its server.conf */
static char out[65536], err[16384];

static const char *const roles[] = {"auc.ico", "auc.sho1", "auc.sho2", "sho.sho1", "sho.sho2", "ccif",
				    "vno",     "bootstrap", "drf",     "pva",      "dpf"};
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define N_ROLES ARRAY_LEN(roles)

/* --- running the binary to completion --------------------------------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[2048], cmd[2400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	/* timeout: a server that should have refused to start must not hang the test. */
	snprintf(cmd, sizeof cmd, "timeout 20 '%s' %s </dev/null", bin, args);
	return tl_run(cmd, out, sizeof out, err, sizeof err);
}

/* Exit 2: nothing on stdout, one line "openmcim server: ..." on stderr. */
static void expect_usage(int rc)
{
	if (rc != 2)
		fail_msg("exit %d, want 2; stdout: %.200s; stderr: %s", rc, out, err);
	if (out[0])
		fail_msg("usage error printed on stdout: %s", out);
	size_t n = strlen(err);
	if (n == 0 || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1)
		fail_msg("usage error is not one line: '%s'", err);
	if (strncmp(err, "openmcim server: ", 17) != 0)
		fail_msg("usage error is not 'openmcim server: MESSAGE': %s", err);
}

/* Exit 3: nothing on stdout; stderr ends in "openmcim server: ..." and says
 * why (names `why` somewhere). */
static void expect_failure(int rc, const char *why)
{
	if (rc != 3)
		fail_msg("exit %d, want 3; stdout: %.200s; stderr: %s", rc, out, err);
	if (out[0])
		fail_msg("failure printed on stdout: %s", out);
	size_t n = strlen(err);
	if (n == 0 || err[n - 1] != '\n')
		fail_msg("no message on stderr: '%s'", err);
	const char *last = err + n - 1;
	while (last > err && last[-1] != '\n')
		last--;
	if (strncmp(last, "openmcim server: ", 17) != 0)
		fail_msg("the last stderr line is not 'openmcim server: MESSAGE': %s", err);
	if (why && !strstr(err, why))
		fail_msg("stderr does not say '%s': %s", why, err);
}

/* --- files ----------------------------------------------------------------------------- */

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		fail_msg("cannot write %s", p);
	size_t n = strlen(text);
	size_t w = fwrite(text, 1, n, f);
	if (fclose(f) != 0 || w != n)
		fail_msg("cannot write %s", p);
}

/* The whole file, malloc'd and NUL-terminated, or NULL if absent. */
static char *read_all(const char *p)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0, r;
	char *b = malloc(cap + 1);
	assert_non_null(b);
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			assert_non_null(nb);
			b = nb;
		}
	}
	fclose(f);
	b[n] = 0;
	return b;
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* root/name/server.conf: the deployment's config with `from` (which must be
 * there) replaced by `to`. Returns the path in a static buffer. */
static const char *conf_with(const char *name, const char *from, const char *to)
{
	static char p[512];
	const char *at = strstr(base_conf, from);
	if (!at)
		fail_msg("'%s' is not in the demo config:\n%s", from, base_conf);
	size_t n = strlen(base_conf) + strlen(to) + 1;
	char *t = malloc(n);
	assert_non_null(t);
	snprintf(t, n, "%.*s%s%s", (int)(at - base_conf), base_conf, to, at + strlen(from));
	snprintf(p, sizeof p, "%s/%s.conf", root, name);
	write_file(p, t);
	free(t);
	return p;
}

/* --- a running server ------------------------------------------------------------------- */

typedef struct srv {
	pid_t pid;
	int out_fd; /* its stdout */
	int err_fd; /* its stderr, a file */
	json_t *urls;
	uint16_t ports[N_ROLES];
} srv;

static pid_t children[8];

static void forget(pid_t pid)
{
	for (size_t i = 0; i < ARRAY_LEN(children); i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void kill_children(void)
{
	for (size_t i = 0; i < ARRAY_LEN(children); i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			(void)waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Everything the server wrote on stderr so far, into err. */
static void srv_stderr(const srv *s)
{
	ssize_t n = pread(s->err_fd, err, sizeof err - 1, 0);
	err[n > 0 ? n : 0] = 0;
}

static uint16_t url_port(const char *url)
{
	unsigned port = 0;
	int used = 0;
	if (sscanf(url, "http://127.0.0.1:%5u%n", &port, &used) != 1 || url[used] != 0 || port == 0 || port > 65535)
		fail_msg("not an http://127.0.0.1:PORT URL: %s", url);
	return (uint16_t)port;
}

/* Start `openmcim server ARGS...` in cwd (NULL: here). */
static void srv_spawn(srv *s, const char *cwd, const char *const *args)
{
	memset(s, 0, sizeof *s);
	char errpath[600];
	snprintf(errpath, sizeof errpath, "%s/stderr-XXXXXX", root);
	s->err_fd = mkstemp(errpath);
	assert_true(s->err_fd >= 0);
	unlink(errpath);
	int p[2];
	assert_int_equal(pipe(p), 0);
	const char *argv[16] = {bin, "server"};
	size_t n = 2;
	while (*args && n < ARRAY_LEN(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		dup2(in, 0);
		dup2(p[1], 1);
		dup2(s->err_fd, 2);
		close(p[0]);
		close(p[1]);
		if (cwd && chdir(cwd) != 0)
			_exit(126);
		execv(bin, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (size_t i = 0; i < ARRAY_LEN(children); i++)
		if (!children[i]) {
			children[i] = s->pid;
			break;
		}
	close(p[1]);
	s->out_fd = p[0];
}

/* Its first stdout line: one JSON object with exactly the demo's roles,
 * each an http://127.0.0.1:PORT. */
static void srv_read_urls(srv *s)
{
	/* The first line, within 30 s (the demo deployment is made first). */
	char line[4096];
	size_t len = 0;
	int64_t deadline = now_ms() + 30000;
	while (!memchr(line, '\n', len)) {
		int64_t left = deadline - now_ms();
		struct pollfd pf = {.fd = s->out_fd, .events = POLLIN};
		int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t got = r > 0 && len < sizeof line - 1 ? read(s->out_fd, line + len, sizeof line - 1 - len) : 0;
		if (got <= 0) {
			srv_stderr(s);
			fail_msg("no URL line from the server (%s); stdout: %.*s; stderr: %s",
				 r == 0 ? "timed out" : "closed", (int)len, line, err);
		}
		len += (size_t)got;
	}
	line[len] = 0;
	char *nl = strchr(line, '\n');
	if (nl[1] != 0)
		fail_msg("more than the URL line on stdout at start: %s", line);
	*nl = 0;
	json_error_t je;
	s->urls = json_loads(line, 0, &je);
	if (!json_is_object(s->urls))
		fail_msg("the first stdout line is not one JSON object (%s): %s", je.text, line);
	if (json_object_size(s->urls) != N_ROLES)
		fail_msg("want exactly %zu roles: %s", N_ROLES, line);
	for (size_t i = 0; i < N_ROLES; i++) {
		const char *u = json_string_value(json_object_get(s->urls, roles[i]));
		if (!u)
			fail_msg("role %s missing or not a string: %s", roles[i], line);
		s->ports[i] = url_port(u);
		for (size_t j = 0; j < i; j++)
			if (s->ports[j] == s->ports[i])
				fail_msg("two roles on port %u: %s", (unsigned)s->ports[i], line);
	}
}

static void srv_start_in(srv *s, const char *cwd, const char *const *args)
{
	srv_spawn(s, cwd, args);
	srv_read_urls(s);
}

static void srv_start(srv *s, const char *const *args)
{
	srv_start_in(s, NULL, args);
}

static const char *srv_url(const srv *s, const char *role)
{
	const char *u = json_string_value(json_object_get(s->urls, role));
	if (!u)
		fail_msg("no role %s", role);
	return u;
}

/* Wait for "demo deployment in DIR" on its stderr; DIR into dir. */
static void srv_demo_dir(srv *s, char *dir, size_t cap)
{
	static const char tag[] = "openmcim server: demo deployment in ";
	int64_t deadline = now_ms() + 5000;
	for (;;) {
		srv_stderr(s);
		const char *at = strstr(err, tag);
		if (at && strchr(at, '\n')) {
			at += sizeof tag - 1;
			snprintf(dir, cap, "%.*s", (int)strcspn(at, "\n"), at);
			return;
		}
		if (now_ms() > deadline)
			fail_msg("no 'demo deployment in DIR' on stderr: %s", err);
		usleep(20000);
	}
}

static bool port_open(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = connect(fd, (const struct sockaddr *)&a, sizeof a);
	close(fd);
	return rc == 0;
}

/* SIGTERM: exit 0 within 5 s, and every port closed afterwards. */
static void srv_wait_exit(srv *s)
{
	int st = 0;
	pid_t w = 0;
	int64_t deadline = now_ms() + 5000;
	while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
		usleep(20000);
	srv_stderr(s);
	if (w != s->pid)
		fail_msg("still running 5 s after SIGTERM; stderr: %s", err);
	forget(s->pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("SIGTERM: want exit 0, got status 0x%x; stderr: %s", (unsigned)st, err);
	for (size_t i = 0; i < N_ROLES; i++)
		if (port_open(s->ports[i]))
			fail_msg("%s: port %u still open after exit", roles[i], (unsigned)s->ports[i]);
	close(s->out_fd);
	close(s->err_fd);
	json_decref(s->urls);
	s->urls = NULL;
}

static void srv_term(srv *s)
{
	assert_int_equal(kill(s->pid, SIGTERM), 0);
	srv_wait_exit(s);
}

/* --- HTTP ------------------------------------------------------------------------------- */

static omc_http_client *http;

/* method url+path with an optional bearer token and body: the status, the
 * body into *body (malloc'd by omc_alloc; omc_free it). */
static int call(const char *method, const char *base, const char *path, const char *token, const char *body,
		char **resp)
{
	char url[512], auth[128];
	snprintf(url, sizeof url, "%s%s", base, path);
	if (token)
		snprintf(auth, sizeof auth, "Bearer %s", token);
	int status = 0;
	size_t len = 0;
	*resp = NULL;
	omc_err e = omc_http_call_auth(http, method, url, token ? auth : NULL, body, body ? strlen(body) : 0, &status,
				       resp, &len);
	if (e != OMC_OK)
		fail_msg("%s %s: %s", method, url, omc_err_name(e));
	return status;
}

/* Every role answers GET /healthz 200 {"status":"ok"} and GET /metrics 200
 * with the request counter. */
static void check_roles(const srv *s)
{
	for (size_t i = 0; i < N_ROLES; i++) {
		const char *u = srv_url(s, roles[i]);
		char *b;
		int st = call("GET", u, "/healthz", NULL, NULL, &b);
		json_error_t je;
		json_t *o = json_loads(b, 0, &je);
		if (st != 200 || !json_is_object(o) || json_object_size(o) != 1 ||
		    strcmp(json_string_value(json_object_get(o, "status")) ?: "", "ok") != 0)
			fail_msg("%s GET /healthz: %d %s", roles[i], st, b);
		json_decref(o);
		omc_free(b);
		st = call("GET", u, "/metrics", NULL, NULL, &b);
		if (st != 200 || !strstr(b, "omc_http_requests_total"))
			fail_msg("%s GET /metrics: %d %.300s", roles[i], st, b);
		omc_free(b);
	}
}

/* The demo subscriber token of sho ("sho1", "sho2") from DIR/subscribers.json. */
static void demo_token(char *tok, size_t cap, const char *subs, const char *sho)
{
	json_error_t je;
	json_t *o = json_loads(subs, 0, &je);
	const char *t = json_string_value(json_object_get(json_object_get(o, sho), "demo"));
	if (!t)
		fail_msg("no %s demo token in subscribers.json: %s", sho, subs);
	snprintf(tok, cap, "%s", t);
	json_decref(o);
}

/* --- the cases --------------------------------------------------------------------------- */

static void test_help(void **state)
{
	(void)state;
	int rc = run("server --help");
	if (rc != 0)
		fail_msg("server --help: exit %d; %s", rc, err);
	assert_int_equal(strncmp(out, "usage: openmcim server --config FILE", 36), 0);
	assert_non_null(strstr(out, "openmcim server --demo [--dir DIR]"));
	assert_non_null(strstr(out, "Exit status:"));
	assert_string_equal(err, "");
	/* `openmcim help server` is the same text. */
	char first[sizeof out];
	memcpy(first, out, sizeof out);
	assert_int_equal(run("help server"), 0);
	assert_string_equal(out, first);
	/* The umbrella lists it. */
	assert_int_equal(run("--help"), 0);
	assert_non_null(strstr(out, "\n  server "));
}

static void test_usage_errors(void **state)
{
	(void)state;
	expect_usage(run("server"));
	expect_usage(run("server --config %s/x.conf --demo", root));
	expect_usage(run("server --demo --config %s/x.conf", root));
	expect_usage(run("server --dir %s/d", root));
	expect_usage(run("server --config %s/x.conf --dir %s/d", root, root));
	expect_usage(run("server --bogus"));
	expect_usage(run("server --demo --bogus"));
	expect_usage(run("server -x"));
	expect_usage(run("server --config"));
	expect_usage(run("server --demo extra"));
	expect_usage(run("server --demo --log-level loud"));
	expect_usage(run("server --demo --log-level"));
	/* Nothing was made for a refused --demo --dir. */
	expect_usage(run("server --demo --dir %s/never --log-level loud", root));
	char p[512];
	snprintf(p, sizeof p, "%s/never", root);
	assert_false(exists(p));
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_failure(run("server --config %s/absent.conf", root), "absent.conf");
	expect_failure(run("server --config '%s'", conf_with("unknown", "threads = 2\n", "threads = 2\nbogus = 1\n")),
		       "bogus");
	expect_failure(run("server --config '%s'", conf_with("section", "[trust]", "[weird]\nx = 1\n[trust]")),
		       "weird");
	expect_failure(run("server --config '%s'", conf_with("port", "port = 0\n", "port = 99999\n")), "port");
	expect_failure(run("server --config '%s'", conf_with("alg", "alg = tuak\n", "alg = foo\n")), "alg");
	expect_failure(run("server --config '%s'", conf_with("kind", "kind = sho\n", "kind = bar\n")), "kind");
	expect_failure(run("server --config '%s'", conf_with("nodb", "db = ", "# db = ")), "db");
	expect_failure(run("server --config '%s'",
			   conf_with("noprefix", "imsi_prefix = 00103\n", "")), "imsi_prefix");
	expect_failure(run("server --config '%s'", conf_with("badline", "[trust]", "[trust")), "line");
	/* Fixed ports count up from port, one per listener: past 65535 is refused
	 * (it wrapped to port 0 and to 1, 2, ...). */
	expect_failure(run("server --config '%s'", conf_with("wrap", "port = 0\n", "port = 65530\n")), "port");
}

/* Started, every role answers, SIGTERM stops it; started again on the same
 * --dir it is the same deployment: the same tokens, the rows kept. */
static void test_demo_dir(void **state)
{
	(void)state;
	char dir[512], p[600], tok[64];
	snprintf(dir, sizeof dir, "%s/demo", root);
	srv s;
	srv_start(&s, (const char *const[]){"--demo", "--dir", dir, NULL});
	check_roles(&s);
	char got[512];
	srv_demo_dir(&s, got, sizeof got);
	assert_string_equal(got, dir);
	snprintf(p, sizeof p, "%s/subscribers.json", dir);
	char *subs = read_all(p);
	assert_non_null(subs);
	snprintf(p, sizeof p, "%s/server.conf", dir);
	char *conf = read_all(p);
	assert_non_null(conf);
	/* A row in the database: a device of the sho1 demo subscriber. */
	demo_token(tok, sizeof tok, subs, "sho1");
	char *b;
	int st = call("POST", srv_url(&s, "sho.sho1"), "/v1/devices", tok,
		      "{\"platform_id\":\"plat-0123456789abcdef\"}", &b);
	if (st != 201)
		fail_msg("sho.sho1 POST /v1/devices: %d %s", st, b);
	omc_free(b);
	srv_term(&s);
	assert_true(exists(dir)); /* --dir is kept */

	srv_start(&s, (const char *const[]){"--demo", "--dir", dir, "--log-level", "err", NULL});
	check_roles(&s);
	snprintf(p, sizeof p, "%s/subscribers.json", dir);
	char *subs2 = read_all(p);
	assert_non_null(subs2);
	assert_string_equal(subs2, subs);
	snprintf(p, sizeof p, "%s/server.conf", dir);
	char *conf2 = read_all(p);
	assert_non_null(conf2);
	assert_string_equal(conf2, conf);
	st = call("GET", srv_url(&s, "sho.sho1"), "/v1/devices", tok, NULL, &b);
	if (st != 200 || !strstr(b, "\"plat-0123456789abcdef\""))
		fail_msg("sho.sho1 GET /v1/devices after a restart: %d %s", st, b);
	omc_free(b);
	/* The other SHO's token still opens its own SHO, not this one. */
	demo_token(tok, sizeof tok, subs, "sho2");
	st = call("GET", srv_url(&s, "sho.sho2"), "/v1/devices", tok, NULL, &b);
	if (st != 200)
		fail_msg("sho.sho2 GET /v1/devices: %d %s", st, b);
	omc_free(b);
	st = call("GET", srv_url(&s, "sho.sho1"), "/v1/devices", tok, NULL, &b);
	assert_int_equal(st, 401);
	omc_free(b);
	srv_term(&s);
	free(subs);
	free(subs2);
	free(conf);
	free(conf2);
}

/* A relative --dir is relative to the working directory, and so is every
 * path of the config it writes (the M2MES CA was read from / instead). */
static void test_demo_rel_dir(void **state)
{
	(void)state;
	srv s;
	srv_start_in(&s, root, (const char *const[]){"--demo", "--dir", "rel", NULL});
	char got[512], p[600];
	srv_demo_dir(&s, got, sizeof got);
	assert_string_equal(got, "rel");
	check_roles(&s);
	srv_term(&s);
	snprintf(p, sizeof p, "%s/rel/server.conf", root);
	assert_true(exists(p));
}

/* SIGTERM while the demo deployment is being made: it is finished, the
 * server comes up and stops (exit 0), and the deployment is whole (a
 * signal there used to kill it half-made, and leave a temporary DIR). */
static void test_demo_term_during_setup(void **state)
{
	(void)state;
	char dir[512], p[600];
	snprintf(dir, sizeof dir, "%s/early", root);
	srv s;
	srv_spawn(&s, NULL, (const char *const[]){"--demo", "--dir", dir, NULL});
	int64_t deadline = now_ms() + 10000;
	while (!exists(dir) && now_ms() < deadline)
		usleep(500);
	assert_true(exists(dir));
	assert_int_equal(kill(s.pid, SIGTERM), 0);
	srv_read_urls(&s);
	srv_wait_exit(&s);
	snprintf(p, sizeof p, "%s/subscribers.json", dir);
	if (!exists(p))
		fail_msg("%s missing: the deployment was left half-made", p);
	/* And it starts again as it is. */
	srv_start(&s, (const char *const[]){"--demo", "--dir", dir, NULL});
	check_roles(&s);
	srv_term(&s);
}

/* --demo alone works in a temporary directory, removed at exit. */
static void test_demo_tmp(void **state)
{
	(void)state;
	srv s;
	srv_start(&s, (const char *const[]){"--demo", NULL});
	char dir[512], p[600];
	srv_demo_dir(&s, dir, sizeof dir);
	assert_true(dir[0] == '/');
	snprintf(p, sizeof p, "%s/server.conf", dir);
	if (!exists(p))
		fail_msg("no %s while the server runs", p);
	check_roles(&s);
	srv_term(&s);
	if (exists(dir))
		fail_msg("%s is still there after exit", dir);
}

/* port = P: the listeners take P, P+1, ... in the documented order; a
 * second server on the same ports exits 3 and the first keeps serving. */
static void test_fixed_ports(void **state)
{
	(void)state;
	uint16_t p = (uint16_t)tl_port_base(N_ROLES);
	char line[32];
	snprintf(line, sizeof line, "port = %u\n", (unsigned)p);
	const char *conf = conf_with("fixed", "port = 0\n", line);
	char cpath[512];
	snprintf(cpath, sizeof cpath, "%s", conf);
	srv s;
	srv_start(&s, (const char *const[]){"--config", cpath, NULL});
	for (size_t i = 0; i < N_ROLES; i++)
		if (s.ports[i] != p + i)
			fail_msg("%s on port %u, want %u", roles[i], (unsigned)s.ports[i], (unsigned)(p + i));
	char pstr[16];
	snprintf(pstr, sizeof pstr, "%u", (unsigned)p);
	expect_failure(run("server --config '%s'", cpath), pstr);
	check_roles(&s);
	srv_term(&s);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(root))
		return -1;
	snprintf(deploy, sizeof deploy, "%s/deploy", root);
	if (omc_server_demo_setup(deploy) != OMC_OK)
		return -1;
	char p[512];
	snprintf(p, sizeof p, "%s/server.conf", deploy);
	base_conf = read_all(p);
	omc_http_client_opts o = {.timeout_ms = 5000};
	if (!base_conf || omc_http_client_new(&http, &o) != OMC_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kill_children();
	omc_http_client_free(http);
	free(base_conf);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
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
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_demo_dir),
		cmocka_unit_test(test_demo_rel_dir),
		cmocka_unit_test(test_demo_term_during_setup),
		cmocka_unit_test(test_demo_tmp),
		cmocka_unit_test(test_fixed_ports),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
