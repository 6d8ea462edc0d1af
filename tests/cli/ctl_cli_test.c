/* The CLI contract of `openmcim ctl` (docs/cli-ctl.md): every command on a
 * demo deployment (omc_server_demo_setup) and on one the real server went
 * through the provisioning story with; exit statuses (0, 1 refused, 2
 * usage, 3 error), one-line errors with nothing on stdout, the JSON of
 * every command, the config file appended atomically, and imports that
 * are all or nothing and leave no plaintext K, OPc or TOPc in the export,
 * the output or any file of the deployment. Runs the real binary (argv[1]).
 * covers: SEC-12, SEC-13, SVC-2, EVAL-3 */
#include "testlib.h"

#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "srv_fixture.h"

static const char *bin;
static char root[] = "/tmp/omc-ctl-cli-XXXXXX";
static char demo[256], conf[300], dbpath[300];
static char out[1 << 18], err[16384];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[4096], cmd[4400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "'%s' %s", bin, args);
	if (!strchr(args, '<'))
		strncat(cmd, " </dev/null", sizeof cmd - strlen(cmd) - 1);
	return tl_run(cmd, out, sizeof out, err, sizeof err);
}

/* `ctl --config CONF ARGS` */
static int ctl(const char *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl(const char *cfg, const char *fmt, ...)
{
	char args[3800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	return run("ctl --config '%s' %s", cfg, args);
}

static void path(char *p, size_t cap, const char *name)
{
	if (snprintf(p, cap, "%s/%s", root, name) >= (int)cap)
		fail_msg("path too long: %s", name);
}

static json_t *parse_out(void)
{
	json_error_t e;
	json_t *j = json_loads(out, JSON_REJECT_DUPLICATES, &e);
	if (!json_is_object(j))
		fail_msg("stdout is not one JSON object (%s): %s", e.text, out);
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n')[1], '\0');
	return j;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		fail_msg("key '%s' missing or not a string in %s", key, out);
	return s;
}

static json_int_t jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		fail_msg("key '%s' missing or not an integer in %s", key, out);
	return json_integer_value(v);
}

/* A failure with exit want_rc: nothing on stdout, one line "openmcim ctl
 * ..." on stderr, naming `name` if given. */
static void expect_error(int rc, int want_rc, const char *name)
{
	if (rc != want_rc)
		fail_msg("exit %d, want %d; stdout: %.300s; stderr: %s", rc, want_rc, out, err);
	if (out[0])
		fail_msg("error printed on stdout: %s", out);
	size_t n = strlen(err);
	if (n == 0 || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1)
		fail_msg("error is not one line: '%s'", err);
	if (strncmp(err, "openmcim ctl", 12))
		fail_msg("error is not 'openmcim ctl ...: MESSAGE': %s", err);
	if (name && !strstr(err, name))
		fail_msg("error does not name '%s': %s", name, err);
}

static void expect_ok(int rc)
{
	if (rc != 0)
		fail_msg("exit %d; stdout: %.300s; stderr: %s", rc, out, err);
	assert_string_equal(err, "");
}

/* --- files ------------------------------------------------------------------------------------- */

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		fail_msg("cannot write %s", p);
	size_t len = strlen(text);
	size_t w = len ? fwrite(text, 1, len, f) : 0;
	if (fclose(f) != 0 || w != len)
		fail_msg("cannot write %s", p);
}

static uint8_t *read_all(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0, r;
	uint8_t *b = malloc(cap + 1);
	assert_non_null(b);
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			uint8_t *nb = realloc(b, cap + 1);
			assert_non_null(nb);
			b = nb;
		}
	}
	fclose(f);
	b[n] = 0;
	*len = n;
	return b;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	size_t n;
	uint8_t *b = read_all(from, &n);
	if (!b)
		fail_msg("cannot read %s", from);
	write_file(to, (const char *)b);
	assert_int_equal(chmod(to, mode), 0);
	free(b);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* --- planted secrets ---------------------------------------------------------------------------- */

typedef struct secret {
	uint8_t b[32];
	size_t n;
	char lower[65], upper[65];
} secret;

static void secret_new(secret *s, size_t n)
{
	tl_rand(s->b, n);
	s->n = n;
	assert_int_equal(omc_hex_encode(s->lower, sizeof s->lower, s->b, n), OMC_OK);
	for (size_t i = 0; i <= 2 * n; i++)
		s->upper[i] = (char)(s->lower[i] >= 'a' && s->lower[i] <= 'f' ? s->lower[i] - 32 : s->lower[i]);
}

/* None of the secrets in the n bytes at p, as hex in either case or raw. */
static void expect_no_secret(const char *what, const uint8_t *p, size_t n, const secret *ss, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const secret *s = &ss[i];
		if (memmem(p, n, s->lower, 2 * s->n) || memmem(p, n, s->upper, 2 * s->n))
			fail_msg("%s holds planted secret %zu as hex", what, i);
		if (memmem(p, n, s->b, s->n))
			fail_msg("%s holds planted secret %zu as raw bytes", what, i);
	}
}

static size_t scan_dir(const char *dir, const secret *ss, size_t count)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s", dir);
	size_t files = 0;
	const struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[1024];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		assert_int_equal(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			files += scan_dir(p, ss, count);
		} else if (S_ISREG(st.st_mode)) {
			size_t n;
			uint8_t *b = read_all(p, &n);
			assert_non_null(b);
			expect_no_secret(p, b, n, ss, count);
			free(b);
			files++;
		}
	}
	closedir(d);
	return files;
}

/* --- the database ------------------------------------------------------------------------------- */

static void sql(const char *db, const char *text)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	char *msg = NULL;
	if (sqlite3_exec(h, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg);
	sqlite3_close(h);
}

static void db_digest(const char *db, uint8_t d[32])
{
	sf_env e;
	memset(&e, 0, sizeof e);
	if (strlen(db) >= sizeof e.db)
		fail_msg("path too long: %s", db);
	memcpy(e.db, db, strlen(db) + 1);
	sf_db_digest(&e, d);
}

/* The export of an operator as an array (stdout is JSON lines). */
static json_t *export_lines(const char *cfg, const char *op)
{
	expect_ok(ctl(cfg, "subscribers export --operator %s", op));
	json_t *a = json_array();
	for (char *p = out; *p;) {
		char *nl = strchr(p, '\n');
		if (!nl)
			fail_msg("export does not end its line: %s", p);
		json_error_t e;
		json_t *o = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &e);
		if (!json_is_object(o))
			fail_msg("export line is not a JSON object: %.*s", (int)(nl - p), p);
		json_array_append_new(a, o);
		p = nl + 1;
	}
	return a;
}

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
	{
		const char *s = json_string_value(json_object_get(o, key));
		if (s && !strcmp(s, val))
			return o;
	}
	return NULL;
}

/* --- help and usage ------------------------------------------------------------------------------ */

static void test_help_and_usage(void **state)
{
	(void)state;
	/* ctl --help: every command; no --config needed. */
	expect_ok(run("ctl --help"));
	static const char *const cmds[] = {"operators", "operator add", "subscriber add", "subscribers export",
					   "subscribers import", "devices", "audit"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strstr(out, cmds[i]))
			fail_msg("ctl --help does not list '%s'", cmds[i]);
	assert_non_null(strstr(out, "Exit status"));
	expect_ok(run("help ctl"));
	assert_non_null(strstr(out, "usage: openmcim ctl"));
	expect_ok(run("--help"));
	assert_non_null(strstr(out, "ctl"));
	/* Each command's own --help, before or after the words. */
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		expect_ok(run("ctl %s --help", cmds[i]));
		char want[80];
		snprintf(want, sizeof want, "usage: openmcim ctl --config FILE %s", cmds[i]);
		if (strncmp(out, want, strlen(want)))
			fail_msg("'ctl %s --help' does not start with '%s': %.200s", cmds[i], want, out);
		assert_non_null(strstr(out, "--json"));
		assert_non_null(strstr(out, "Exit status"));
	}
	expect_ok(run("ctl --help subscribers export"));
	/* The export says that secrets are not exported. */
	assert_non_null(strstr(out, "no\nexport of secrets") ? out : strstr(out, "no export of secrets"));
	expect_ok(run("ctl subscribers --help"));
	assert_non_null(strstr(out, "subscribers export"));
	assert_non_null(strstr(out, "subscribers import"));

	/* No command: the usage on stderr, exit 2. */
	assert_int_equal(run("ctl --config '%s'", conf), 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "usage: openmcim ctl"));

	expect_error(ctl(conf, "frobnicate"), 2, "frobnicate");
	expect_error(ctl(conf, "subscribers"), 2, "subscribers");
	expect_error(ctl(conf, "subscribers delete"), 2, "delete");
	expect_error(run("ctl operators"), 2, "--config");
	expect_error(ctl(conf, "operators --bogus"), 2, "--bogus");
	expect_error(ctl(conf, "operators extra"), 2, "extra");
	expect_error(ctl(conf, "devices --kind sho"), 2, "--kind");
	expect_error(ctl(conf, "audit --sho sho1"), 2, "--sho");
	expect_error(ctl(conf, "audit --limit"), 2, "--limit");
	expect_error(ctl(conf, "audit --limit 0"), 2, "--limit");
	expect_error(ctl(conf, "audit --limit ten"), 2, "--limit");
	expect_error(ctl(conf, "audit --role 'A B'"), 2, "--role");
	expect_error(ctl(conf, "operator add"), 2, "NAME");
	expect_error(ctl(conf, "operator add x1 --imsi-prefix 00109"), 2, "--kind");
	expect_error(ctl(conf, "operator add x1 --kind sho"), 2, "--imsi-prefix");
	expect_error(ctl(conf, "operator add x1 --kind mvno --imsi-prefix 00109"), 2, "--kind");
	expect_error(ctl(conf, "operator add X1 --kind sho --imsi-prefix 00109"), 2, "X1");
	expect_error(ctl(conf, "operator add x1234567890123456 --kind sho --imsi-prefix 00109"), 2, NULL);
	expect_error(ctl(conf, "operator add x1 --kind sho --imsi-prefix 0010"), 2, "--imsi-prefix");
	expect_error(ctl(conf, "operator add x1 --kind sho --imsi-prefix 001a9"), 2, "--imsi-prefix");
	expect_error(ctl(conf, "operator add x1 --kind sho --imsi-prefix 00109 --alg sha1"), 2, "--alg");
	expect_error(ctl(conf, "operator add x1 --kind ico --imsi-prefix 00109 --alg tuak"), 2, "--alg");
	expect_error(ctl(conf, "subscriber add --sho sho1"), 2, "--name");
	expect_error(ctl(conf, "subscriber add --name bob"), 2, "--sho");
	expect_error(ctl(conf, "subscriber add --sho sho1 --name 'Bob Smith'"), 2, "--name");
	expect_error(ctl(conf, "subscribers export"), 2, "--operator");
	expect_error(ctl(conf, "subscribers import --operator sho1"), 2, "--file");
	expect_error(ctl(conf, "subscribers import --file x"), 2, "--operator");
	/* A config that is not there, or not a config. */
	char bad[600];
	path(bad, sizeof bad, "no-such.conf");
	expect_error(ctl(bad, "operators"), 3, bad);
	path(bad, sizeof bad, "bad.conf");
	write_file(bad, "[server]\ndb = /tmp/x.db\nmaster_key = /tmp/x.key\n[operator sho1]\nkind = mvno\n");
	expect_error(ctl(bad, "operators"), 3, "kind");
	write_file(bad, "[server]\nthis line does not parse\n");
	expect_error(ctl(bad, "operators"), 3, "line 2");
	write_file(bad, "[server]\ndb = /tmp/x.db\n");
	expect_error(ctl(bad, "operators"), 3, "master_key");
}

/* --- operators ---------------------------------------------------------------------------------- */

static void test_operators(void **state)
{
	(void)state;
	expect_ok(ctl(conf, "operators"));
	assert_true(strncmp(out, "NAME", 4) == 0);
	assert_non_null(strstr(out, "SUBSCRIBERS"));
	assert_non_null(strstr(out, "sho1"));
	assert_non_null(strstr(out, "00103"));
	assert_non_null(strstr(out, "tuak"));
	expect_ok(ctl(conf, "operators --json"));
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "config"), conf);
	assert_string_equal(jstr(j, "db"), dbpath);
	json_t *ops = json_object_get(j, "operators");
	assert_true(json_array_size(ops) >= 3);
	static const struct {
		const char *name, *kind, *prefix, *alg;
	} want[] = {{"ico", "ico", "00101", NULL}, {"sho1", "sho", "00102", "milenage"}, {"sho2", "sho", "00103", "tuak"}};
	for (size_t i = 0; i < 3; i++) {
		json_t *o = json_array_get(ops, i);
		assert_string_equal(jstr(o, "name"), want[i].name);
		assert_string_equal(jstr(o, "kind"), want[i].kind);
		assert_string_equal(jstr(o, "imsi_prefix"), want[i].prefix);
		if (want[i].alg)
			assert_string_equal(jstr(o, "alg"), want[i].alg);
		else
			assert_true(json_is_null(json_object_get(o, "alg")));
		assert_true(json_is_true(json_object_get(o, "pki")));
		assert_true(jint(o, "subscribers") >= 0);
		assert_true(jint(o, "enabled") <= jint(o, "subscribers"));
		assert_true(jint(o, "devices") >= 0);
		/* The demo made one subscriber account at each SHO. */
		assert_true(jint(o, "accounts") >= (i == 0 ? 0 : 1));
	}
	json_decref(j);
}

/* The config is appended atomically: refusals leave it byte for byte, the
 * mode stays, no temporary file is left, and the result still parses. */
static void test_operator_add(void **state)
{
	(void)state;
	char cfg[600];
	path(cfg, sizeof cfg, "add.conf");
	copy_file(conf, cfg, 0640);
	expect_ok(ctl(cfg, "operator add sho3 --kind sho --imsi-prefix 00104 --alg tuak --json"));
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "name"), "sho3");
	assert_string_equal(jstr(j, "kind"), "sho");
	assert_string_equal(jstr(j, "imsi_prefix"), "00104");
	assert_string_equal(jstr(j, "alg"), "tuak");
	assert_string_equal(jstr(j, "config"), cfg);
	/* The demo PKI has no sho3. */
	assert_true(json_is_false(json_object_get(j, "pki")));
	json_decref(j);
	struct stat st;
	assert_int_equal(stat(cfg, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	size_t n;
	char *text = (char *)read_all(cfg, &n);
	assert_non_null(strstr(text, "\n[operator sho3]\nkind = sho\nimsi_prefix = 00104\nalg = tuak\n"));
	/* Everything that was there is still there, in front. */
	size_t on;
	char *orig = (char *)read_all(conf, &on);
	assert_true(n > on && memcmp(text, orig, on) == 0);
	free(orig);
	free(text);
	omc_server_config c;
	assert_int_equal(omc_server_config_read(&c, cfg), OMC_OK);
	assert_int_equal(c.n_ops, 4);
	assert_string_equal(c.ops[3].name, "sho3");
	assert_int_equal(c.ops[3].alg, OMC_AKA_ALG_TUAK);
	assert_false(c.ops[3].ico);

	/* The human form: an ICO, no --alg. */
	expect_ok(ctl(cfg, "operator add ico2 --kind ico --imsi-prefix 001059"));
	assert_non_null(strstr(out, "operator ico2 added"));
	assert_non_null(strstr(out, "restart"));
	assert_non_null(strstr(out, "ico2.key"));
	expect_ok(ctl(cfg, "operators --json"));
	j = parse_out();
	json_t *ops = json_object_get(j, "operators");
	assert_int_equal(json_array_size(ops), 5);
	json_t *o = find_by(ops, "name", "ico2");
	assert_non_null(o);
	assert_string_equal(jstr(o, "kind"), "ico");
	assert_true(json_is_null(json_object_get(o, "alg")));
	assert_true(json_is_false(json_object_get(o, "pki")));
	json_decref(j);

	/* Refusals: exit 1 and the file as it was. */
	uint8_t *before = read_all(cfg, &n);
	static const char *const refused[] = {
		"operator add sho3 --kind sho --imsi-prefix 00109",  /* the name */
		"operator add sho1 --kind ico --imsi-prefix 00109",  /* a demo name */
		"operator add sho9 --kind sho --imsi-prefix 00102",  /* sho1's prefix */
		"operator add sho9 --kind sho --imsi-prefix 001059", /* ico2's prefix */
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		expect_error(ctl(cfg, "%s", refused[i]), 1, i < 2 ? "exists" : "prefix");
		size_t m;
		uint8_t *after = read_all(cfg, &m);
		assert_int_equal(m, n);
		assert_memory_equal(after, before, n);
		free(after);
	}
	/* A section without keys counts as the name taken. */
	FILE *f = fopen(cfg, "a");
	assert_non_null(f);
	fputs("\n[operator empty] \n", f);
	fclose(f);
	expect_error(ctl(cfg, "operator add empty --kind sho --imsi-prefix 00109"), 1, "exists");
	/* Up to 8 operators, then refused. */
	expect_ok(ctl(cfg, "operator add sho6 --kind sho --imsi-prefix 00106"));
	expect_ok(ctl(cfg, "operator add sho7 --kind sho --imsi-prefix 00107"));
	expect_ok(ctl(cfg, "operator add sho8 --kind sho --imsi-prefix 00108"));
	expect_error(ctl(cfg, "operator add sho9 --kind sho --imsi-prefix 00109"), 1, "8");
	assert_int_equal(omc_server_config_read(&c, cfg), OMC_OK);
	assert_int_equal(c.n_ops, 8);
	free(before);
	/* No temporary file left beside it. */
	DIR *d = opendir(root);
	assert_non_null(d);
	const struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, "add.conf.", 9))
			fail_msg("temporary file left: %s", de->d_name);
	closedir(d);
	/* Two at once: the lock serialises them, neither is lost. */
	char par[600];
	path(par, sizeof par, "parallel.conf");
	copy_file(conf, par, 0600);
	expect_ok(run("ctl --config '%s' operator add pa --kind sho --imsi-prefix 00111 >/dev/null & "
		      "'%s' ctl --config '%s' operator add pb --kind sho --imsi-prefix 00112 >/dev/null; wait",
		      par, bin, par));
	assert_int_equal(omc_server_config_read(&c, par), OMC_OK);
	assert_int_equal(c.n_ops, 5);
	assert_non_null(omc_server_config_op_find(&c, "pa"));
	assert_non_null(omc_server_config_op_find(&c, "pb"));
	/* The owner is kept (a server running as another user reads it). */
	if (geteuid() == 0) {
		assert_int_equal(chown(par, 65534, 65534), 0);
		expect_ok(ctl(par, "operator add pc --kind sho --imsi-prefix 00113"));
		assert_int_equal(stat(par, &st), 0);
		assert_int_equal(st.st_uid, 65534);
		assert_int_equal(st.st_gid, 65534);
		assert_int_equal(st.st_mode & 07777, 0600);
	}
	/* A directory where the config cannot be replaced. */
	char ro[600], rocfg[700];
	path(ro, sizeof ro, "ro");
	assert_int_equal(mkdir(ro, 0700), 0);
	snprintf(rocfg, sizeof rocfg, "%s/server.conf", ro);
	copy_file(conf, rocfg, 0600);
	assert_int_equal(chmod(ro, 0500), 0);
	if (geteuid() != 0) /* root writes anyway */
		expect_error(ctl(rocfg, "operator add sho3 --kind sho --imsi-prefix 00104"), 3, NULL);
	assert_int_equal(chmod(ro, 0700), 0);
}

/* --- subscriber accounts -------------------------------------------------------------------------- */

static void test_subscriber_add(void **state)
{
	(void)state;
	expect_ok(ctl(conf, "subscriber add --sho sho1 --name alice --json"));
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "sho"), "sho1");
	assert_string_equal(jstr(j, "name"), "alice");
	char token[64];
	snprintf(token, sizeof token, "%s", jstr(j, "token"));
	assert_int_equal(strlen(token), 43);
	assert_int_equal(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	json_decref(j);
	/* Human: the token once, on its own line. */
	expect_ok(ctl(conf, "subscriber add --sho sho2 --name alice"));
	assert_non_null(strstr(out, "shown this once"));
	char *last = strrchr(out, '\n');
	assert_non_null(last);
	*last = 0;
	char *tok2 = strrchr(out, '\n');
	assert_non_null(tok2);
	assert_int_equal(strlen(tok2 + 1), 43);
	assert_string_not_equal(tok2 + 1, token);

	/* Refused: the same name at the same SHO, an unknown SHO, the ICO. */
	expect_error(ctl(conf, "subscriber add --sho sho1 --name alice"), 1, "exists");
	expect_error(ctl(conf, "subscriber add --sho sho9 --name bob"), 1, "sho9");
	expect_error(ctl(conf, "subscriber add --sho ico --name bob"), 1, "ico");

	/* Counted, and the token itself is not in the database (only its hash). */
	expect_ok(ctl(conf, "operators --json"));
	j = parse_out();
	assert_int_equal(jint(find_by(json_object_get(j, "operators"), "name", "sho1"), "accounts"), 2);
	json_decref(j);
	size_t n;
	uint8_t *db = read_all(dbpath, &n);
	assert_non_null(db);
	assert_null(memmem(db, n, token, 43));
	free(db);
}

/* --- import and export ----------------------------------------------------------------------------- */

/* covers: SEC-12 */
static void test_import_export_round_trip(void **state)
{
	(void)state;
	secret s[5];
	secret_new(&s[0], 16); /* K, OPc of a MILENAGE subscriber */
	secret_new(&s[1], 16);
	secret_new(&s[2], 32); /* K, TOPc of a TUAK one */
	secret_new(&s[3], 32);
	secret_new(&s[4], 16); /* K of a TUAK one with a 128-bit K (TOPc in s[1]'s place below) */
	secret topc2;
	secret_new(&topc2, 32);
	char text[2048], file[600];
	snprintf(text, sizeof text,
		 "{\"imsi\":\"001030000100001\",\"k\":\"%s\",\"opc\":\"%s\"}\n"
		 "\n"
		 "{\"imsi\":\"001030000100002\",\"alg\":\"tuak\",\"k\":\"%s\",\"tuak\":{\"topc\":\"%s\",\"iterations\":2,"
		 "\"mac_bits\":128,\"res_bits\":128,\"ck_bits\":256,\"ik_bits\":256},\"expires\":4102444800,"
		 "\"profile\":{\"data_only\":true,\"volume_cap\":1048576}}\r\n"
		 "{\"imsi\":\"001030000100003\",\"alg\":\"tuak\",\"k\":\"%s\",\"tuak\":{\"topc\":\"%s\"},"
		 "\"profile\":{\"data_only\":false}}",
		 s[0].upper, s[1].lower, s[2].lower, s[3].upper, s[4].lower, topc2.lower);
	path(file, sizeof file, "import.jsonl");
	write_file(file, text);
	expect_ok(ctl(conf, "subscribers import --operator sho2 --file '%s'", file));
	assert_non_null(strstr(out, "imported 3 subscribers"));
	secret all[6] = {s[0], s[1], s[2], s[3], s[4], topc2};
	expect_no_secret("import's stdout", (const uint8_t *)out, strlen(out), all, 6);

	/* The public fields come back. */
	json_t *a = export_lines(conf, "sho2");
	expect_no_secret("export", (const uint8_t *)out, strlen(out), all, 6);
	assert_int_equal(json_array_size(a), 3);
	static const struct {
		const char *imsi, *alg;
		json_int_t expires;
		const char *profile;
	} want[] = {{"001030000100001", "milenage", 0, "{}"},
		    {"001030000100002", "tuak", 4102444800, "{\"data_only\":true,\"volume_cap\":1048576}"},
		    {"001030000100003", "tuak", 0, "{\"data_only\":false}"}};
	for (size_t i = 0; i < 3; i++) {
		json_t *o = json_array_get(a, i);
		assert_string_equal(jstr(o, "imsi"), want[i].imsi);
		assert_string_equal(jstr(o, "alg"), want[i].alg);
		assert_int_equal(jint(o, "expires"), want[i].expires);
		assert_int_equal(jint(o, "seq_he"), 0);
		assert_int_equal(jint(o, "avs_issued"), 0);
		assert_true(json_is_true(json_object_get(o, "enabled")));
		char *p = json_dumps(json_object_get(o, "profile"), JSON_COMPACT);
		assert_string_equal(p, want[i].profile);
		omc_free(p);
		/* Exactly the documented members: nothing secret rides along. */
		assert_int_equal(json_object_size(o), 7);
		assert_null(json_object_get(o, "k"));
		assert_null(json_object_get(o, "opc"));
		assert_null(json_object_get(o, "secrets"));
	}
	/* --json: one document with the same subscribers. */
	expect_ok(ctl(conf, "subscribers export --operator sho2 --json"));
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "operator"), "sho2");
	assert_true(json_equal(json_object_get(j, "subscribers"), a));
	json_decref(j);

	/* Exported, then imported elsewhere as public fields plus new secrets:
	 * the round trip of expires and profile through import. */
	char again[2048];
	json_t *o = json_deep_copy(json_array_get(a, 1));
	json_object_set_new(o, "imsi", json_string("001030000100009"));
	json_object_del(o, "seq_he");
	json_object_del(o, "enabled");
	json_object_del(o, "avs_issued");
	json_object_set_new(o, "k", json_string(s[2].lower));
	json_t *tu = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i}", "topc", s[3].lower, "iterations", 2, "mac_bits", 128,
			       "res_bits", 128, "ck_bits", 256, "ik_bits", 256);
	json_object_set_new(o, "tuak", tu);
	char *line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	snprintf(again, sizeof again, "%s\n", line);
	omc_free(line);
	write_file(file, again);
	expect_ok(ctl(conf, "subscribers import --operator sho2 --file '%s' --json", file));
	j = parse_out();
	assert_string_equal(jstr(j, "operator"), "sho2");
	assert_int_equal(jint(j, "imported"), 1);
	json_decref(j);
	json_t *b = export_lines(conf, "sho2");
	json_t *x = find_by(b, "imsi", "001030000100009");
	assert_non_null(x);
	json_object_set_new(x, "imsi", json_string("001030000100002"));
	assert_true(json_equal(x, json_array_get(a, 1)));
	json_decref(b);
	json_decref(a);

	/* From stdin too. */
	snprintf(text, sizeof text, "{\"imsi\":\"001030000100010\",\"k\":\"%s\",\"opc\":\"%s\"}\n", s[4].lower,
		 s[1].upper);
	write_file(file, text);
	expect_ok(ctl(conf, "subscribers import --operator sho2 --file - --json < '%s'", file));
	j = parse_out();
	assert_int_equal(jint(j, "imported"), 1);
	json_decref(j);

	/* Counted by operators. */
	expect_ok(ctl(conf, "operators --json"));
	j = parse_out();
	json_t *sho2 = find_by(json_object_get(j, "operators"), "name", "sho2");
	assert_int_equal(jint(sho2, "subscribers"), 5);
	assert_int_equal(jint(sho2, "enabled"), 5);
	json_decref(j);

	/* The same IMSIs again: exit 1, and nothing added. */
	write_file(file, text);
	expect_error(ctl(conf, "subscribers import --operator sho2 --file '%s'", file), 1, "line 1");
	assert_non_null(strstr(err, "nothing imported"));
	expect_no_secret("import's stderr", (const uint8_t *)err, strlen(err), all, 6);

	/* No planted secret in any file of the deployment (SEC-12): the
	 * database holds them sealed only. */
	assert_true(scan_dir(demo, all, 6) >= 5);
	unlink(file);
}

/* A malformed line, or an IMSI that exists, and nothing of the file is
 * imported (one transaction); the error names the line and never quotes
 * it. */
static void test_import_refusals(void **state)
{
	(void)state;
	secret k, opc;
	secret_new(&k, 16);
	secret_new(&opc, 16);
	secret both[2] = {k, opc};
	char good[256], file[600];
	snprintf(good, sizeof good, "{\"imsi\":\"001020000200001\",\"k\":\"%s\",\"opc\":\"%s\"}", k.lower, opc.lower);
	path(file, sizeof file, "refused.jsonl");
#define GK "\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\""
#define GO "\"opc\":\"cd63cb71954a9f4e48a5994e37a02baf\""
#define IM "\"imsi\":\"001020000200002\""
	static const struct {
		const char *what, *line;
		int rc;
	} bad[] = {
		{"not JSON", "imsi=001020000200002", 2},
		{"truncated", "{" IM "," GK "," GO, 2},
		{"trailing text", "{" IM "," GK "," GO "} x", 2},
		{"an array", "[\"001020000200002\"]", 2},
		{"duplicate member", "{" IM "," GK "," GK "," GO "}", 2},
		{"unknown member", "{" IM "," GK "," GO ",\"amf\":\"8000\"}", 2},
		{"no imsi", "{" GK "," GO "}", 2},
		{"imsi a number", "{\"imsi\":1020000200002," GK "," GO "}", 2},
		{"imsi short", "{\"imsi\":\"00102\"," GK "," GO "}", 2},
		{"imsi of sho2", "{\"imsi\":\"001030000200002\"," GK "," GO "}", 2},
		{"bad hex", "{" IM ",\"k\":\"zz5b5ce8b199b49faa5f0a2ee238a6bc\"," GO "}", 2},
		{"short k", "{" IM ",\"k\":\"465b5ce8\"," GO "}", 2},
		{"no opc", "{" IM "," GK "}", 2},
		{"alg upper case", "{" IM ",\"alg\":\"MILENAGE\"," GK "," GO "}", 2},
		{"tuak without topc", "{" IM ",\"alg\":\"tuak\"," GK ",\"tuak\":{}}", 2},
		{"tuak bad mac", "{" IM ",\"alg\":\"tuak\"," GK ",\"tuak\":{\"topc\":\"" "465b5ce8b199b49faa5f0a2ee238a6bc"
				   "465b5ce8b199b49faa5f0a2ee238a6bc\",\"mac_bits\":65}}", 2},
		{"tuak bits a string", "{" IM ",\"alg\":\"tuak\"," GK ",\"tuak\":{\"topc\":\"" "465b5ce8b199b49faa5f0a2ee238a6bc"
				   "465b5ce8b199b49faa5f0a2ee238a6bc\",\"mac_bits\":\"64\"}}", 2},
		{"expires negative", "{" IM "," GK "," GO ",\"expires\":-1}", 2},
		{"profile extra member", "{" IM "," GK "," GO ",\"profile\":{\"roaming\":true}}", 2},
		{"profile not an object", "{" IM "," GK "," GO ",\"profile\":\"{}\"}", 2},
		{"imsi in the file twice", "{\"imsi\":\"001020000200001\"," GK "," GO "}", 1},
	};
	uint8_t before[32], after[32];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[1024];
		snprintf(text, sizeof text, "%s\n%s\n", good, bad[i].line);
		write_file(file, text);
		db_digest(dbpath, before);
		int rc = ctl(conf, "subscribers import --operator sho1 --file '%s'", file);
		if (rc != bad[i].rc)
			fail_msg("%s: exit %d, want %d; stderr %s", bad[i].what, rc, bad[i].rc, err);
		expect_error(rc, bad[i].rc, "line 2");
		assert_non_null(strstr(err, "nothing imported"));
		expect_no_secret(bad[i].what, (const uint8_t *)err, strlen(err), both, 2);
		assert_null(strstr(err, "465b5ce8"));
		db_digest(dbpath, after);
		if (memcmp(before, after, 32) != 0)
			fail_msg("%s: the database changed", bad[i].what);
	}
	/* Line 1 was never imported. */
	json_t *a = export_lines(conf, "sho1");
	assert_null(find_by(a, "imsi", "001020000200001"));
	json_decref(a);
	/* An IMSI the database has already, after a good line. */
	char text[1024];
	snprintf(text, sizeof text,
		 "%s\n{\"imsi\":\"001020000200003\"," GK "," GO "}\n{\"imsi\":\"001020000200004\"," GK "," GO "}\n", good);
	write_file(file, text);
	expect_ok(ctl(conf, "subscribers import --operator sho1 --file '%s'", file));
	assert_non_null(strstr(out, "imported 3"));
	snprintf(text, sizeof text, "{\"imsi\":\"001020000200005\"," GK "," GO "}\n{\"imsi\":\"001020000200003\"," GK
		 "," GO "}\n");
	write_file(file, text);
	db_digest(dbpath, before);
	expect_error(ctl(conf, "subscribers import --operator sho1 --file '%s'", file), 1, "line 2");
	assert_non_null(strstr(err, "001020000200003"));
	db_digest(dbpath, after);
	assert_memory_equal(before, after, 32);
	/* An unknown operator, a file that is not there. */
	expect_error(ctl(conf, "subscribers import --operator sho9 --file '%s'", file), 1, "sho9");
	char none[600];
	path(none, sizeof none, "no-such.jsonl");
	expect_error(ctl(conf, "subscribers import --operator sho1 --file '%s'", none), 2, "--file");
	expect_error(ctl(conf, "subscribers export --operator sho9"), 1, "sho9");
	/* An empty file imports nothing, successfully. */
	write_file(file, "\n\n");
	expect_ok(ctl(conf, "subscribers import --operator sho1 --file '%s' --json", file));
	json_t *j = parse_out();
	assert_int_equal(jint(j, "imported"), 0);
	json_decref(j);
	unlink(file);
#undef GK
#undef GO
#undef IM
}

/* A master key that does not open what the database holds is refused
 * before anything is sealed under it; so is a key file others may read. */
static void test_import_master_key(void **state)
{
	(void)state;
	char cfg[600], key[600], file[600];
	path(cfg, sizeof cfg, "otherkey.conf");
	path(key, sizeof key, "other.key");
	path(file, sizeof file, "mk.jsonl");
	uint8_t mk[32];
	tl_rand(mk, sizeof mk);
	FILE *f = fopen(key, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(mk, 1, 32, f), 32);
	fclose(f);
	assert_int_equal(chmod(key, 0600), 0);
	size_t n;
	char *text = (char *)read_all(conf, &n);
	char orig_key[300];
	snprintf(orig_key, sizeof orig_key, "master_key = %s/master.key", demo);
	char *at = strstr(text, orig_key);
	assert_non_null(at);
	char newconf[4096];
	snprintf(newconf, sizeof newconf, "%.*smaster_key = %s%s", (int)(at - text), text, key, at + strlen(orig_key));
	free(text);
	write_file(cfg, newconf);
	/* Make sure the database holds a subscriber. */
	write_file(file, "{\"imsi\":\"001020000300001\",\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\","
			 "\"opc\":\"cd63cb71954a9f4e48a5994e37a02baf\"}\n");
	expect_ok(ctl(conf, "subscribers import --operator sho1 --file '%s'", file));
	write_file(file, "{\"imsi\":\"001020000300002\",\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\","
			 "\"opc\":\"cd63cb71954a9f4e48a5994e37a02baf\"}\n");
	uint8_t before[32], after[32];
	db_digest(dbpath, before);
	expect_error(ctl(cfg, "subscribers import --operator sho1 --file '%s'", file), 3, "master key");
	db_digest(dbpath, after);
	assert_memory_equal(before, after, 32);
	/* Readable by others: refused as the server refuses it. */
	assert_int_equal(chmod(key, 0644), 0);
	expect_error(ctl(cfg, "subscribers import --operator sho1 --file '%s'", file), 3, key);
	unlink(file);
}

/* --- devices and audit ----------------------------------------------------------------------------- */

/* Rows as the roles write them: a device provisioned at sho1, one
 * registered at sho2 without an MCIM yet, one only the DRF knows. */
static void test_devices(void **state)
{
	(void)state;
	sql(dbpath, "INSERT INTO drf_device VALUES ('plat-00000000000000a1', 'sho1', 'tre-00000000000000a1',"
		    " '001010000000001', 'provisioned', 1, NULL);"
		    "INSERT INTO sho_device VALUES ('sho1', 'plat-00000000000000a1', 'demo', '{}', 'registered', 1);"
		    "INSERT INTO sho_mcim VALUES ('sho1-00000000000000a1', 'sho1', 'plat-00000000000000a1',"
		    " 'tre-00000000000000a1', '001020000000001', 1, 'installed', 1, 1, 2);"
		    "INSERT INTO drf_device VALUES ('plat-00000000000000b2', 'sho2', NULL, NULL, 'assigned', 1, NULL);"
		    "INSERT INTO sho_device VALUES ('sho2', 'plat-00000000000000b2', 'demo', '{}', 'registered', 1);"
		    "INSERT INTO drf_device VALUES ('plat-00000000000000c3', 'sho1', 'tre-00000000000000c3',"
		    " '001010000000003', 'registered', 1, NULL);");
	expect_ok(ctl(conf, "devices --json"));
	json_t *j = parse_out();
	json_t *d = json_object_get(j, "devices");
	assert_int_equal(json_array_size(d), 3);
	json_t *a = json_array_get(d, 0), *b = json_array_get(d, 1), *c = json_array_get(d, 2);
	assert_string_equal(jstr(a, "platform_id"), "plat-00000000000000a1");
	assert_string_equal(jstr(a, "tre_id"), "tre-00000000000000a1");
	assert_string_equal(jstr(a, "sho"), "sho1");
	assert_string_equal(jstr(a, "subscriber"), "demo");
	assert_string_equal(jstr(a, "state"), "installed");
	assert_string_equal(jstr(a, "drf_state"), "provisioned");
	assert_string_equal(jstr(a, "mcim_id"), "sho1-00000000000000a1");
	assert_string_equal(jstr(a, "imsi"), "001020000000001");
	assert_int_equal(jint(a, "version"), 1);
	assert_string_equal(jstr(a, "pcid_imsi"), "001010000000001");
	assert_string_equal(jstr(b, "platform_id"), "plat-00000000000000b2");
	assert_string_equal(jstr(b, "state"), "registered");
	assert_string_equal(jstr(b, "drf_state"), "assigned");
	assert_true(json_is_null(json_object_get(b, "tre_id")));
	assert_true(json_is_null(json_object_get(b, "mcim_id")));
	assert_true(json_is_null(json_object_get(b, "imsi")));
	assert_string_equal(jstr(c, "platform_id"), "plat-00000000000000c3");
	assert_string_equal(jstr(c, "sho"), "sho1");
	assert_true(json_is_null(json_object_get(c, "state")));
	assert_string_equal(jstr(c, "drf_state"), "registered");
	json_decref(j);
	/* One SHO's only. */
	expect_ok(ctl(conf, "devices --sho sho2 --json"));
	j = parse_out();
	d = json_object_get(j, "devices");
	assert_int_equal(json_array_size(d), 1);
	assert_string_equal(jstr(json_array_get(d, 0), "platform_id"), "plat-00000000000000b2");
	json_decref(j);
	/* The table. */
	expect_ok(ctl(conf, "devices --sho sho1"));
	assert_true(strncmp(out, "PLATFORM", 8) == 0);
	assert_non_null(strstr(out, "plat-00000000000000a1"));
	assert_non_null(strstr(out, "installed"));
	assert_non_null(strstr(out, "001020000000001"));
	assert_non_null(strstr(out, "plat-00000000000000c3"));
	assert_null(strstr(out, "plat-00000000000000b2"));
	expect_error(ctl(conf, "devices --sho ico"), 1, "ico");
	expect_error(ctl(conf, "devices --sho nosuch"), 1, "nosuch");
	sql(dbpath, "DELETE FROM sho_mcim; DELETE FROM sho_device; DELETE FROM drf_device;");
}

static void test_audit(void **state)
{
	(void)state;
	sql(dbpath, "DELETE FROM audit;"
		    "INSERT INTO audit VALUES (1, 1700000000, 'drf', 'sho1', 'device_assign', 'plat-1', 'ok', '');"
		    "INSERT INTO audit VALUES (2, 1700000001, 'sho.sho1', 'demo', 'device_register', 'plat-1', 'ok',"
		    " 'told the DRF');"
		    "INSERT INTO audit VALUES (3, 1700000002, 'sho.sho2', 'demo', 'device_register', 'plat-2', 'ok', '');"
		    "INSERT INTO audit VALUES (4, 1700000003, 'shop', 'x', 'odd', 'y', 'refused', 'a' || char(10) || 'b');"
		    "INSERT INTO audit VALUES (5, 1700000004, 'auc.ico', 'vno', 'vectors', '001010000000001', 'ok', 'n=1');");
	expect_ok(ctl(conf, "audit --json"));
	json_t *j = parse_out();
	json_t *a = json_object_get(j, "audit");
	assert_int_equal(json_array_size(a), 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(jint(json_array_get(a, i), "id"), (json_int_t)i + 1); /* newest last */
	json_t *r = json_array_get(a, 1);
	assert_int_equal(jint(r, "time"), 1700000001);
	assert_string_equal(jstr(r, "role"), "sho.sho1");
	assert_string_equal(jstr(r, "actor"), "demo");
	assert_string_equal(jstr(r, "event"), "device_register");
	assert_string_equal(jstr(r, "subject"), "plat-1");
	assert_string_equal(jstr(r, "result"), "ok");
	assert_string_equal(jstr(r, "detail"), "told the DRF");
	assert_string_equal(jstr(json_array_get(a, 3), "detail"), "a\nb");
	json_decref(j);
	/* The newest two. */
	expect_ok(ctl(conf, "audit --limit 2 --json"));
	j = parse_out();
	a = json_object_get(j, "audit");
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(jint(json_array_get(a, 0), "id"), 4);
	assert_int_equal(jint(json_array_get(a, 1), "id"), 5);
	json_decref(j);
	/* A kind of role takes every instance; "shop" is not an SHO. */
	expect_ok(ctl(conf, "audit --role sho --json"));
	j = parse_out();
	a = json_object_get(j, "audit");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(jstr(json_array_get(a, 0), "role"), "sho.sho1");
	assert_string_equal(jstr(json_array_get(a, 1), "role"), "sho.sho2");
	json_decref(j);
	expect_ok(ctl(conf, "audit --role sho.sho2 --limit 5 --json"));
	j = parse_out();
	assert_int_equal(json_array_size(json_object_get(j, "audit")), 1);
	json_decref(j);
	expect_ok(ctl(conf, "audit --role pva --json"));
	j = parse_out();
	assert_int_equal(json_array_size(json_object_get(j, "audit")), 0);
	json_decref(j);
	/* The table: UTC times, one line a record (a newline in a detail is
	 * not a new line). */
	expect_ok(ctl(conf, "audit"));
	assert_true(strncmp(out, "ID", 2) == 0);
	assert_non_null(strstr(out, "2023-11-14T22:13:21Z"));
	assert_non_null(strstr(out, "told the DRF"));
	assert_non_null(strstr(out, "a?b"));
	size_t lines = 0;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 6);
}

/* What the real server wrote through the provisioning story, as ctl shows
 * it: the device with its MCIM, the AuC subscribers (the PCID at the ICO,
 * the MCIM's IMSI at the SHO, with the vectors the attaches used), and the
 * audit records.
 * covers: SVC-2, EVAL-3, SEC-13 */
static void test_story(void **state)
{
	(void)state;
	sf_env e;
	sf_dev d, d2;
	sf_up(&e);
	sf_dev_make(&e, &d, NULL);
	sf_provision(&e, &d, 1);
	sf_dev_make(&e, &d2, NULL);
	assert_int_equal(sf_subscribe(&e, &d2, 2), 201);
	/* While the server runs. */
	expect_ok(ctl(e.conf, "devices --json"));
	json_t *j = parse_out();
	json_t *devs = json_object_get(j, "devices");
	assert_int_equal(json_array_size(devs), 2);
	json_t *x = find_by(devs, "platform_id", d.platform_id);
	assert_non_null(x);
	assert_string_equal(jstr(x, "tre_id"), d.tre_id);
	assert_string_equal(jstr(x, "sho"), "sho1");
	assert_string_equal(jstr(x, "state"), "installed");
	assert_string_equal(jstr(x, "drf_state"), "provisioned");
	assert_string_equal(jstr(x, "mcim_id"), d.mcim_id);
	assert_string_equal(jstr(x, "imsi"), d.mcim_imsi);
	assert_string_equal(jstr(x, "pcid_imsi"), d.pcid_imsi);
	x = find_by(devs, "platform_id", d2.platform_id);
	assert_non_null(x);
	assert_string_equal(jstr(x, "sho"), "sho2");
	assert_string_equal(jstr(x, "state"), "registered");
	assert_true(json_is_null(json_object_get(x, "mcim_id")));
	json_decref(j);
	sf_stop(&e);
	expect_ok(ctl(e.conf, "devices"));
	assert_non_null(strstr(out, d.platform_id));
	assert_non_null(strstr(out, d.mcim_id));
	assert_non_null(strstr(out, d.mcim_imsi));

	json_t *ico = export_lines(e.conf, "ico");
	json_t *p = find_by(ico, "imsi", d.pcid_imsi);
	assert_non_null(p);
	assert_true(jint(p, "avs_issued") >= 1);
	assert_true(jint(p, "expires") > 0); /* a PCID's lifetime */
	json_decref(ico);
	json_t *sho1 = export_lines(e.conf, "sho1");
	p = find_by(sho1, "imsi", d.mcim_imsi);
	assert_non_null(p);
	assert_string_equal(jstr(p, "alg"), "milenage");
	assert_true(jint(p, "avs_issued") >= 1);
	assert_true(jint(p, "seq_he") >= 1);
	assert_true(json_is_true(json_object_get(p, "enabled")));
	json_decref(sho1);
	expect_ok(ctl(e.conf, "operators --json"));
	j = parse_out();
	json_t *o = find_by(json_object_get(j, "operators"), "name", "sho1");
	assert_int_equal(jint(o, "devices"), 1);
	assert_int_equal(jint(o, "subscribers"), 1);
	json_decref(j);

	expect_ok(ctl(e.conf, "audit --role sho.sho1 --json"));
	j = parse_out();
	json_t *a = json_object_get(j, "audit");
	assert_true(json_array_size(a) >= 1);
	assert_non_null(find_by(a, "event", "device_register"));
	json_decref(j);
	expect_ok(ctl(e.conf, "audit --json"));
	j = parse_out();
	a = json_object_get(j, "audit");
	assert_true(json_array_size(a) >= 3);
	for (size_t i = 1; i < json_array_size(a); i++)
		assert_true(jint(json_array_get(a, i), "id") > jint(json_array_get(a, i - 1), "id"));
	json_decref(j);
	sf_dev_free(&d);
	sf_dev_free(&d2);
	sf_down(&e);
}

/* A config whose database does not exist: reading commands refuse and do
 * not make one; operators lists the config with empty counts. */
static void test_no_database(void **state)
{
	(void)state;
	char cfg[600], db[600];
	path(cfg, sizeof cfg, "nodb.conf");
	path(db, sizeof db, "nodb.db");
	char text[4096];
	snprintf(text, sizeof text,
		 "[server]\ndb = %s\nmaster_key = %s/master.key\npki = %s/pki\n\n[operator sho1]\nkind = sho\n"
		 "imsi_prefix = 00102\n",
		 db, demo, demo);
	write_file(cfg, text);
	expect_error(ctl(cfg, "devices"), 3, db);
	expect_error(ctl(cfg, "audit"), 3, db);
	expect_error(ctl(cfg, "subscribers export --operator sho1"), 3, db);
	assert_int_not_equal(access(db, F_OK), 0);
	expect_ok(ctl(cfg, "operators --json"));
	json_t *j = parse_out();
	json_t *o = json_array_get(json_object_get(j, "operators"), 0);
	assert_string_equal(jstr(o, "name"), "sho1");
	assert_true(json_is_null(json_object_get(o, "subscribers")));
	json_decref(j);
	expect_ok(ctl(cfg, "operators"));
	assert_non_null(strstr(out, "sho1"));
	assert_int_not_equal(access(db, F_OK), 0);
	/* A subscriber account makes it (as the server would). */
	expect_ok(ctl(cfg, "subscriber add --sho sho1 --name first"));
	assert_int_equal(access(db, F_OK), 0);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(root))
		return -1;
	snprintf(demo, sizeof demo, "%s/demo", root);
	snprintf(conf, sizeof conf, "%s/server.conf", demo);
	snprintf(dbpath, sizeof dbpath, "%s/openmcim.db", demo);
	omc_err e = omc_server_demo_setup(demo);
	if (e != OMC_OK) {
		fprintf(stderr, "demo setup: %s\n", omc_err_str(e));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_usage),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_operator_add),
		cmocka_unit_test(test_subscriber_add),
		cmocka_unit_test(test_import_export_round_trip),
		cmocka_unit_test(test_import_refusals),
		cmocka_unit_test(test_import_master_key),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_story),
		cmocka_unit_test(test_no_database),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
