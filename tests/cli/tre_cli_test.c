/* The CLI contract of `openmcim factory` and `openmcim tre` that scripts
 * outside the project depend on: exit statuses, the JSON of factory device
 * and of tre status, lockdown that sticks, an audit log whose truncation or
 * edit is caught, one-line usage errors with nothing on stdout, and no PCID
 * secret in any output or any file of the device. Runs the real binary
 * (argv[1]) on devices made in a temporary directory under /tmp.
 * covers: TRE-1, TRE-2, TRE-3, TRE-4, TRE-6, TRE-9, TRE-11, SEC-4, SEC-5, SEC-6, SEC-12, SEC-13 */
#include "testlib.h"

#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "openmcim/factory.h"

static const char *bin;
static char root[] = "/tmp/omc-tre-cli-XXXXXX";
static char pki[256];
static char out[65536], err[16384];

/* Runs `openmcim ARGS`, with stdin from `input` (one line) if not NULL. */
static int run_v(const char *input, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static int run_v(const char *input, const char *fmt, va_list ap)
{
	char args[4096], cmd[4400];
	vsnprintf(args, sizeof args, fmt, ap);
	if (input)
		snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | '%s' %s", input, bin, args);
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

static int run_in(const char *input, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_in(const char *input, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = run_v(input, fmt, ap);
	va_end(ap);
	return rc;
}

/* root/<name>, in a caller buffer. */
static void path(char *p, size_t cap, const char *name)
{
	if (snprintf(p, cap, "%s/%s", root, name) >= (int)cap)
		fail_msg("path too long: %s", name);
}

/* stdout as exactly one JSON object on one line. */
static json_t *parse_out(void)
{
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
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

/* A failure with exit want_rc: nothing on stdout, one line on stderr
 * (naming `name` if given). */
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

static void expect_usage(int rc, const char *name)
{
	expect_error(rc, 2, name);
}

/* --- files -------------------------------------------------------------------------- */

static void write_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");
	if (!f)
		fail_msg("cannot write %s", p);
	size_t w = len ? fwrite(data, 1, len, f) : 0;
	int c = fclose(f);
	if (w != len || c != 0)
		fail_msg("cannot write %s", p);
}

/* The whole file, malloc'd (NUL-terminated), or NULL if absent. */
static uint8_t *read_all(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap + 1);
	assert_non_null(b);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			uint8_t *nb = realloc(b, cap + 1);
			assert_non_null(nb);
			b = nb;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		fail_msg("cannot read %s", p);
	}
	b[n] = 0;
	*len = n;
	return b;
}

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

typedef void walk_fn(const char *p, const uint8_t *data, size_t len, void *ctx);

/* Calls fn on every regular file under dir (recursively); returns how many. */
static size_t walk(const char *dir, walk_fn *fn, void *ctx)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open directory %s", dir);
	size_t n = 0;
	const struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[4096];
		struct stat st;
		if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p || lstat(p, &st) != 0) {
			closedir(d);
			fail_msg("cannot stat %s/%s", dir, de->d_name);
		}
		if (S_ISDIR(st.st_mode)) {
			n += walk(p, fn, ctx);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			uint8_t *b = read_all(p, &len);
			if (!b) {
				closedir(d);
				fail_msg("cannot read %s", p);
			}
			fn(p, b, len, ctx);
			free(b);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* An order-independent digest of a tree: names, sizes and contents. */
typedef struct snap {
	uint64_t sum;
	size_t files;
} snap;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void snap_file(const char *p, const uint8_t *data, size_t len, void *ctx)
{
	snap *s = ctx;
	uint64_t h = fnv1a(0xcbf29ce484222325ull, p, strlen(p) + 1);
	h = fnv1a(h, &len, sizeof len);
	s->sum += fnv1a(h, data, len);
}

static snap snapshot(const char *dir)
{
	snap s = {0};
	s.files = walk(dir, snap_file, &s);
	return s;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_rf(const char *p)
{
	if (exists(p) && nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fail_msg("cannot remove %s", p);
}

/* --- devices ------------------------------------------------------------------------ */

/* factory device into root/<name>, with a PCID file or not; returns its
 * stdout as JSON after checking the keys. */
static json_t *make_device(char *dir, size_t cap, const char *name, const char *pcid)
{
	path(dir, cap, name);
	int rc = pcid ? run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, dir, pcid)
		      : run("factory device --pki '%s' --out '%s'", pki, dir);
	if (rc != 0)
		fail_msg("factory device: exit %d: %s", rc, err);
	assert_string_equal(err, "");
	json_t *j = parse_out();
	static const char *const keys[] = {"tre_id", "platform_id", "model", "pcid_imsi", "pcid_report"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!jstr(j, keys[i])[0])
			fail_msg("key '%s' is empty in %s", keys[i], out);
	assert_int_equal(json_object_size(j), 5);
	/* Keys sorted, as documented. */
	const char *prev = out;
	static const char *const sorted[] = {"\"model\":", "\"pcid_imsi\":", "\"pcid_report\":",
					     "\"platform_id\":", "\"tre_id\":"};
	for (size_t i = 0; i < sizeof sorted / sizeof sorted[0]; i++) {
		const char *at = strstr(out, sorted[i]);
		if (!at || at < prev)
			fail_msg("keys not sorted: %s", out);
		prev = at;
	}
	/* The PCID report is a compact JWE: five parts. */
	const char *jwe = jstr(j, "pcid_report");
	size_t dots = 0;
	for (const char *p = jwe; *p; p++)
		dots += *p == '.';
	assert_int_equal(dots, 4);
	return j;
}

static json_t *status(const char *dir)
{
	int rc = run("tre --dir '%s' status --json", dir);
	if (rc != 0)
		fail_msg("status: exit %d: %s", rc, err);
	json_t *j = parse_out();
	if (!json_is_integer(json_object_get(j, "generation")))
		fail_msg("no integer generation in %s", out);
	if (!json_is_array(json_object_get(j, "mcims")))
		fail_msg("no mcims array in %s", out);
	return j;
}

static void expect_state(const char *dir, const char *want)
{
	json_t *j = status(dir);
	if (strcmp(jstr(j, "state"), want))
		fail_msg("state %s, want %s: %s", jstr(j, "state"), want, out);
	json_decref(j);
}

/* The one MCIM of a fresh device: the PCID, bootstrap, activated. */
static void expect_fresh(const json_t *st, const json_t *made)
{
	assert_string_equal(jstr(st, "state"), "pristine");
	assert_string_equal(jstr(st, "tre_id"), jstr(made, "tre_id"));
	assert_string_equal(jstr(st, "platform_id"), jstr(made, "platform_id"));
	assert_string_equal(jstr(st, "model"), jstr(made, "model"));
	const json_t *ms = json_object_get(st, "mcims");
	assert_int_equal(json_array_size(ms), 1);
	const json_t *m = json_array_get(ms, 0);
	assert_true(jstr(m, "id")[0] != '\0');
	assert_true(jstr(m, "owner")[0] != '\0');
	assert_string_equal(jstr(m, "role"), "bootstrap");
	assert_string_equal(jstr(m, "state"), "activated");
	assert_string_equal(jstr(m, "imsi"), jstr(made, "pcid_imsi"));
}

/* --- factory ------------------------------------------------------------------------ */

/* covers: TRE-3 */
static void test_factory_pki(void **state)
{
	(void)state;
	char dir[512], p[600];
	path(dir, sizeof dir, "pki-own");
	assert_int_equal(run("factory pki --out '%s'", dir), 0);
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "pki"), dir);
	json_decref(j);
	static const char *const files[] = {"pki.secret", "m2mes-ca.crt", "tre-vendor.key", "ico.crt", "ccif-ca.key"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		if (!exists(p))
			fail_msg("factory pki made no %s", files[i]);
	}
	/* A second run refuses and leaves the PKI as it was. */
	snap before = snapshot(dir);
	assert_true(before.files >= 30);
	expect_error(run("factory pki --out '%s'", dir), 3, NULL);
	snap after = snapshot(dir);
	assert_int_equal(after.files, before.files);
	assert_true(after.sum == before.sum);
	rm_rf(dir);
}

/* covers: TRE-3, TRE-9, TRE-6 */
static void test_factory_device_generated(void **state)
{
	(void)state;
	char d1[512], d2[512];
	json_t *m1 = make_device(d1, sizeof d1, "gen1", NULL);
	json_t *st = status(d1);
	expect_fresh(st, m1);
	assert_string_equal(jstr(st, "lockdown_reason"), "");
	json_decref(st);
	/* Human status says the same. */
	assert_int_equal(run("tre --dir '%s' status", d1), 0);
	assert_non_null(strstr(out, "pristine"));
	assert_non_null(strstr(out, jstr(m1, "tre_id")));

	/* A second device: its own identity and PCID. */
	json_t *m2 = make_device(d2, sizeof d2, "gen2", NULL);
	assert_string_not_equal(jstr(m1, "tre_id"), jstr(m2, "tre_id"));
	assert_string_not_equal(jstr(m1, "platform_id"), jstr(m2, "platform_id"));
	assert_string_not_equal(jstr(m1, "pcid_imsi"), jstr(m2, "pcid_imsi"));
	json_decref(m2);

	/* factory device again on an existing device: refused, device untouched. */
	snap before = snapshot(d1);
	expect_error(run("factory device --pki '%s' --out '%s'", pki, d1), 3, NULL);
	snap after = snapshot(d1);
	assert_int_equal(after.files, before.files);
	assert_true(after.sum == before.sum);
	st = status(d1);
	expect_fresh(st, m1);
	json_decref(st);
	json_decref(m1);
	rm_rf(d1);
	rm_rf(d2);
}

/* covers: TRE-3, TRE-6, SEC-4 */
static void test_factory_device_pcid(void **state)
{
	(void)state;
	char pf[512], d[512];
	path(pf, sizeof pf, "pcid-given.json");
	static const char mil[] = "{\"imsi\":\"001010123456789\",\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\","
				  "\"opc\":\"CD63CB71954A9F4E48A5994E37A02BAF\"}";
	write_file(pf, mil, sizeof mil - 1);
	json_t *m = make_device(d, sizeof d, "given-mil", pf);
	assert_string_equal(jstr(m, "pcid_imsi"), "001010123456789");
	json_t *st = status(d);
	expect_fresh(st, m);
	assert_string_equal(jstr(json_array_get(json_object_get(st, "mcims"), 0), "alg"), "milenage");
	json_decref(st);
	json_decref(m);
	rm_rf(d);

	/* "alg":"milenage" given: the same as the default. */
	static const char mil2[] = "{\"imsi\":\"123456\",\"alg\":\"milenage\","
				   "\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\","
				   "\"opc\":\"cd63cb71954a9f4e48a5994e37a02baf\"}";
	write_file(pf, mil2, sizeof mil2 - 1);
	m = make_device(d, sizeof d, "given-mil2", pf);
	assert_string_equal(jstr(m, "pcid_imsi"), "123456");
	st = status(d);
	expect_fresh(st, m);
	assert_string_equal(jstr(json_array_get(json_object_get(st, "mcims"), 0), "alg"), "milenage");
	json_decref(st);
	json_decref(m);
	rm_rf(d);

	/* TUAK with a 128-bit K. */
	static const char tuak128[] = "{\"imsi\":\"001010987654320\",\"alg\":\"tuak\","
				      "\"k\":\"abababababababababababababababab\","
				      "\"topc\":\"bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff\"}";
	write_file(pf, tuak128, sizeof tuak128 - 1);
	m = make_device(d, sizeof d, "given-tuak128", pf);
	st = status(d);
	expect_fresh(st, m);
	assert_string_equal(jstr(json_array_get(json_object_get(st, "mcims"), 0), "alg"), "tuak");
	json_decref(st);
	json_decref(m);
	rm_rf(d);

	/* TUAK, with a 256-bit K, and a model name. */
	static const char tuak[] = "{\"imsi\":\"001010987654321\",\"alg\":\"tuak\","
				   "\"k\":\"abababababababababababababababababababababababababababababababab\","
				   "\"topc\":\"bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff\"}";
	write_file(pf, tuak, sizeof tuak - 1);
	path(d, sizeof d, "given-tuak");
	assert_int_equal(run("factory device --pki '%s' --out '%s' --pcid '%s' --model test-model", pki, d, pf), 0);
	m = parse_out();
	assert_string_equal(jstr(m, "pcid_imsi"), "001010987654321");
	assert_string_equal(jstr(m, "model"), "test-model");
	st = status(d);
	expect_fresh(st, m);
	assert_string_equal(jstr(json_array_get(json_object_get(st, "mcims"), 0), "alg"), "tuak");
	json_decref(st);
	json_decref(m);
	rm_rf(d);
	remove(pf);
}

#define GOOD_K "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define GOOD_OPC "11223344556677889900aabbccddeeff"
#define IMSI "\"imsi\":\"001010000000042\""

/* covers: TRE-3, SEC-6 */
static void test_factory_device_bad_pcid(void **state)
{
	(void)state;
	static const struct {
		const char *what, *json;
	} bad[] = {
		{"bad hex in k", "{" IMSI ",\"k\":\"zz1e2d3c4b5a69788796a5b4c3d2e1f0\",\"opc\":\"" GOOD_OPC "\"}"},
		{"bad hex in opc", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"11223344556677889900aabbccddeegg\"}"},
		{"short k", "{" IMSI ",\"k\":\"0f1e2d3c4b5a6978\",\"opc\":\"" GOOD_OPC "\"}"},
		{"long k", "{" IMSI ",\"k\":\"" GOOD_K "00\",\"opc\":\"" GOOD_OPC "\"}"},
		{"odd k", "{" IMSI ",\"k\":\"" GOOD_K "0\",\"opc\":\"" GOOD_OPC "\"}"},
		{"short opc", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"1122\"}"},
		{"long opc", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC GOOD_OPC "\"}"},
		{"k not a string", "{" IMSI ",\"k\":12,\"opc\":\"" GOOD_OPC "\"}"},
		{"missing imsi", "{\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"missing k", "{" IMSI ",\"opc\":\"" GOOD_OPC "\"}"},
		{"missing opc", "{" IMSI ",\"k\":\"" GOOD_K "\"}"},
		{"imsi too long", "{\"imsi\":\"0010100000000001234\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"imsi too short", "{\"imsi\":\"12345\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"imsi not digits", "{\"imsi\":\"00101abc\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"imsi a number", "{\"imsi\":1010000000042,\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"unknown alg", "{" IMSI ",\"alg\":\"sha1\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"alg in upper case", "{" IMSI ",\"alg\":\"MILENAGE\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"alg not a string", "{" IMSI ",\"alg\":7,\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"tuak without topc", "{" IMSI ",\"alg\":\"tuak\",\"k\":\"" GOOD_K "\"}"},
		{"tuak with opc, no topc", "{" IMSI ",\"alg\":\"tuak\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"tuak short topc", "{" IMSI ",\"alg\":\"tuak\",\"k\":\"" GOOD_K "\",\"topc\":\"" GOOD_OPC "\"}"},
		{"tuak with topc and opc", "{" IMSI ",\"alg\":\"tuak\",\"k\":\"" GOOD_K "\",\"topc\":\"" GOOD_OPC GOOD_OPC
		 "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"milenage with topc", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\",\"topc\":\"" GOOD_OPC GOOD_OPC
		 "\"}"},
		{"unknown key", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\",\"amf\":\"8000\"}"},
		{"duplicate key", "{" IMSI ",\"k\":\"" GOOD_K "\",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}"},
		{"not JSON", "imsi=001010000000042 k=" GOOD_K},
		{"truncated JSON", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\""},
		{"trailing text", "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"} x"},
		{"an array", "[\"001010000000042\",\"" GOOD_K "\",\"" GOOD_OPC "\"]"},
		{"empty file", ""},
	};
	char pf[512], d[512];
	path(pf, sizeof pf, "pcid-bad.json");
	path(d, sizeof d, "bad-pcid");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(pf, bad[i].json, strlen(bad[i].json));
		int rc = run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, d, pf);
		if (rc != 2 || out[0])
			fail_msg("%s: exit %d, stdout '%s', stderr '%s'", bad[i].what, rc, out, err);
		expect_usage(rc, "--pcid");
		/* The error does not echo the file. */
		assert_null(strcasestr(err, GOOD_K));
		assert_null(strcasestr(err, GOOD_OPC));
		/* No half-made device is left that a TRE would open. */
		if (exists(d)) {
			int src = run("tre --dir '%s' status --json", d);
			if (src == 0)
				fail_msg("%s: a device was made: %s", bad[i].what, out);
		}
		rm_rf(d);
	}
	/* What a refused run leaves is made anew by the next good one. */
	write_file(pf, bad[0].json, strlen(bad[0].json));
	expect_usage(run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, d, pf), "--pcid");
	static const char good[] = "{" IMSI ",\"k\":\"" GOOD_K "\",\"opc\":\"" GOOD_OPC "\"}";
	write_file(pf, good, sizeof good - 1);
	json_t *m = make_device(d, sizeof d, "bad-pcid", pf);
	assert_string_equal(jstr(m, "pcid_imsi"), "001010000000042");
	json_t *st = status(d);
	expect_fresh(st, m);
	json_decref(st);
	json_decref(m);
	rm_rf(d);
	/* A file that cannot be read, and one too large. */
	char nf[600];
	snprintf(nf, sizeof nf, "%s/no-such-pcid.json", root);
	expect_usage(run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, d, nf), "--pcid");
	char *big = malloc(8192);
	assert_non_null(big);
	memset(big, ' ', 8192);
	big[0] = '{';
	big[8191] = '}';
	write_file(pf, big, 8192);
	free(big);
	expect_usage(run("factory device --pki '%s' --out '%s' --pcid '%s'", pki, d, pf), "--pcid");
	rm_rf(d);
	remove(pf);
}

/* covers: TRE-3 */
static void test_factory_usage(void **state)
{
	(void)state;
	char d[512];
	path(d, sizeof d, "usage-dev");
	expect_usage(run("factory device --out '%s'", d), "--pki");
	expect_usage(run("factory device --pki '%s'", pki), "--out");
	expect_usage(run("factory device"), "--out");
	expect_usage(run("factory device --pki '%s' --out", pki), "--out");
	expect_usage(run("factory device --out '%s' --pki", d), "--pki");
	expect_usage(run("factory device --pki '%s' --out '%s' --bogus", pki, d), "--bogus");
	expect_usage(run("factory device --pki '%s' --out '%s' --bogus 1", pki, d), "--bogus");
	expect_usage(run("factory device --pki '%s' --out '%s' extra", pki, d), "extra");
	expect_usage(run("factory device --pki '%s' --out '%s' -x", pki, d), "-x");
	expect_usage(run("factory pki"), "--out");
	expect_usage(run("factory pki --out '%s' --pcid x.json", d), NULL);
	expect_usage(run("factory pki --out '%s' --frob", d), "--frob");
	expect_usage(run("factory frob"), "frob");
	expect_usage(run("factory --bogus"), "--bogus");
	assert_false(exists(d));
	/* No subcommand: a usage error, nothing on stdout. */
	assert_int_equal(run("factory"), 2);
	assert_string_equal(out, "");

	const char *helps[] = {"factory --help", "factory -h", "factory device --help", "factory pki --help",
			       "help factory"};
	for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
		if (run("%s", helps[i]) != 0)
			fail_msg("%s: exit not 0: %s", helps[i], err);
		assert_string_equal(err, "");
		assert_non_null(strstr(out, "usage: openmcim factory pki --out DIR"));
		assert_non_null(strstr(out, "--pcid FILE"));
	}
}

/* --- tre ---------------------------------------------------------------------------- */

/* covers: TRE-1 */
static void test_tre_usage(void **state)
{
	(void)state;
	char d[512];
	json_t *m = make_device(d, sizeof d, "usage-tre", NULL);
	json_decref(m);
	const char *helps[] = {"tre --help", "tre -h", "help tre"};
	for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
		if (run("%s", helps[i]) != 0)
			fail_msg("%s: exit not 0: %s", helps[i], err);
		assert_string_equal(err, "");
		assert_non_null(strstr(out, "usage: openmcim tre --dir TREDIR"));
		assert_non_null(strstr(out, "tamper --reason TEXT"));
	}
	assert_int_equal(run("tre --dir '%s' status --help", d), 0);
	assert_non_null(strstr(out, "usage: openmcim tre"));

	/* GNU long options: after the command, abbreviated, with '='. */
	assert_int_equal(run("tre status --dir '%s' --json", d), 0);
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "state"), "pristine");
	json_decref(j);
	assert_int_equal(run("tre status --di='%s' --js", d), 0);
	j = parse_out();
	assert_string_equal(jstr(j, "state"), "pristine");
	json_decref(j);
	expect_usage(run("tre -dir '%s' status", d), NULL);

	expect_usage(run("tre --dir '%s' frob", d), "frob");
	expect_usage(run("tre --dir '%s' stat", d), "stat");
	expect_usage(run("tre --dir '%s' status --bogus", d), "--bogus");
	expect_usage(run("tre --bogus --dir '%s' status", d), "--bogus");
	expect_usage(run("tre --dir '%s' -x status", d), "-x");
	expect_usage(run("tre --dir '%s' status --json extra", d), NULL);
	expect_usage(run("tre status"), "--dir");
	expect_usage(run("tre status --dir"), "--dir");
	expect_usage(run("tre --dir '%s' tamper", d), "--reason");
	expect_usage(run("tre --dir '%s' attest", d), "--nonce");
	expect_usage(run("tre --dir '%s' attest --nonce 00zz112233445566", d), "--nonce");
	expect_usage(run("tre --dir '%s' attest --nonce 0011", d), "--nonce");
	expect_usage(run("tre --dir '%s' recover", d), "--auth");
	expect_usage(run("tre --dir '%s' user-add", d), "user-add");
	/* No command: a usage error, nothing on stdout. */
	assert_int_equal(run("tre --dir '%s'", d), 2);
	assert_string_equal(out, "");
	/* Not a TRE: exit 3, one line. */
	char nd[600];
	snprintf(nd, sizeof nd, "%s/no-such-tre", root);
	expect_error(run("tre --dir '%s' status --json", nd), 3, nd);
	assert_false(exists(nd));

	/* None of that touched the device. */
	expect_state(d, "pristine");
	rm_rf(d);
}

/* covers: TRE-4, SEC-5, TRE-11 */
static void test_tamper_sticky(void **state)
{
	(void)state;
	char d[512], auth[512];
	json_t *m = make_device(d, sizeof d, "tamper", NULL);
	json_decref(m);
	json_t *st = status(d);
	json_int_t gen0 = json_integer_value(json_object_get(st, "generation"));
	json_decref(st);

	assert_int_equal(run("tre --dir '%s' tamper --reason 'case opened'", d), 0);
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "state"), "lockdown");
	json_decref(j);
	st = status(d);
	assert_string_equal(jstr(st, "state"), "lockdown");
	assert_non_null(strstr(jstr(st, "lockdown_reason"), "case opened"));
	assert_true(json_integer_value(json_object_get(st, "generation")) > gen0);
	/* The MCIM is still there, the TRE just will not use it. */
	assert_int_equal(json_array_size(json_object_get(st, "mcims")), 1);
	json_decref(st);

	/* The lockdown is in the audit trail, which stays intact. */
	assert_int_equal(run("tre --dir '%s' audit --json", d), 0);
	assert_non_null(strstr(out, "\"event\":\"lockdown\""));
	assert_non_null(strstr(out, "case opened"));
	assert_int_equal(run("tre --dir '%s' audit --verify", d), 0);

	/* Sticky: whatever runs next, every later invocation finds lockdown. */
	path(auth, sizeof auth, "bogus-recovery.jws");
	static const char bogus[] = "eyJhbGciOiJub25lIn0.e30.\n";
	write_file(auth, bogus, sizeof bogus - 1);
	for (int round = 0; round < 2; round++) {
		expect_state(d, "lockdown");
		assert_int_equal(run("tre --dir '%s' attest --nonce 0011223344556677", d), 0);
		expect_state(d, "lockdown");
		assert_int_equal(run("tre --dir '%s' checkpoint", d), 0);
		expect_state(d, "lockdown");
		assert_int_equal(run("tre --dir '%s' registry --json", d), 0);
		expect_state(d, "lockdown");
		assert_int_not_equal(run_in("123456", "tre --dir '%s' user-add eve --role admin", d), 0);
		assert_string_equal(out, "");
		expect_state(d, "lockdown");
		assert_int_not_equal(run("tre --dir '%s' recover --auth '%s'", d, auth), 0);
		assert_string_equal(out, "");
		expect_state(d, "lockdown");
		assert_int_equal(run("tre --dir '%s' tamper --reason again", d), 0);
		expect_state(d, "lockdown");
	}
	assert_int_equal(run("tre --dir '%s' status", d), 0);
	assert_non_null(strstr(out, "lockdown"));
	assert_int_equal(run("tre --dir '%s' audit --verify", d), 0);
	remove(auth);
	rm_rf(d);
}

/* Adds refused-operation records until audit.log exists in dir. */
static void fill_audit_log(const char *dir)
{
	char log[600];
	snprintf(log, sizeof log, "%s/audit.log", dir);
	/* An admin first: then a user-add without --as is refused and audited. */
	assert_int_equal(run_in("246810", "tre --dir '%s' user-add alice --role admin", dir), 0);
	for (int i = 0; i < 80 && !exists(log); i++)
		expect_error(run_in("1357", "tre --dir '%s' user-add mallory%d --role user", dir, i), 1, NULL);
	if (!exists(log))
		fail_msg("no audit.log in %s after 80 audited operations", dir);
	/* And a few more, so that audit.log is followed by records in the store. */
	for (int i = 0; i < 3; i++)
		expect_error(run_in("1357", "tre --dir '%s' user-add late%d --role user", dir, i), 1, NULL);
}

/* audit --verify: exit 0 and intact:true, or exit 1 and intact:false. */
static void expect_audit(const char *dir, bool intact, const char *what)
{
	int rc = run("tre --dir '%s' audit --verify --json", dir);
	if (rc != (intact ? 0 : 1))
		fail_msg("%s: audit --verify exit %d, want %d: %s %s", what, rc, intact ? 0 : 1, out, err);
	json_t *j = parse_out();
	if (json_is_true(json_object_get(j, "intact")) != intact)
		fail_msg("%s: %s", what, out);
	json_decref(j);
	rc = run("tre --dir '%s' audit --verify", dir);
	if (rc != (intact ? 0 : 1))
		fail_msg("%s: audit --verify (text) exit %d", what, rc);
}

/* covers: TRE-11, SEC-13 */
static void test_audit_verify(void **state)
{
	(void)state;
	char d[512], log[600];
	json_t *m = make_device(d, sizeof d, "audit", NULL);
	json_decref(m);
	snprintf(log, sizeof log, "%s/audit.log", d);
	expect_audit(d, true, "fresh device");
	fill_audit_log(d);
	expect_audit(d, true, "after flush");
	/* The count is the one status reports, and the refusals are there. */
	json_t *st = status(d);
	json_int_t count = json_integer_value(json_object_get(st, "audit_count"));
	assert_true(count > 32);
	json_decref(st);
	assert_int_equal(run("tre --dir '%s' audit --verify --json", d), 0);
	json_t *v = parse_out();
	assert_int_equal(json_integer_value(json_object_get(v, "records")), count);
	json_decref(v);
	assert_int_equal(run("tre --dir '%s' audit --json", d), 0);
	assert_non_null(strstr(out, "\"result\":\"refused\""));

	size_t len;
	uint8_t *orig = read_all(log, &len);
	assert_non_null(orig);
	assert_true(len > 1000);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);

	/* Truncations: the last byte, the last record, half, everything. */
	size_t last_nl = len - 1;
	while (last_nl > 0 && orig[last_nl - 1] != '\n')
		last_nl--;
	const size_t cuts[] = {len - 1, last_nl, len / 2, 1, 0};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "truncated to %zu of %zu bytes", cuts[i], len);
		write_file(log, orig, cuts[i]);
		expect_audit(d, false, what);
		write_file(log, orig, len);
		expect_audit(d, true, "restored");
	}
	assert_int_equal(remove(log), 0);
	expect_audit(d, false, "audit.log removed");
	write_file(log, orig, len);

	/* One byte edited: first, last, and spread through the middle. */
	for (size_t k = 0; k <= 8; k++) {
		size_t pos = k == 8 ? len - 1 : k * (len - 1) / 8;
		char what[64];
		snprintf(what, sizeof what, "byte %zu of %zu flipped", pos, len);
		memcpy(buf, orig, len);
		buf[pos] ^= 0x01;
		write_file(log, buf, len);
		expect_audit(d, false, what);
	}
	/* Clean edits in a record in the middle, that leave valid JSON: a digit
	 * of its time, a hex digit of its MAC, a letter of its detail. */
	const char *mid = strchr((const char *)orig + len / 2, '\n');
	assert_non_null(mid);
	mid++;
	static const char *const fields[] = {"\"time\":", "\"mac\":\"", "\"detail\":\"n", "\"seq\":"};
	for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
		const char *f = strstr(mid, fields[k]);
		assert_non_null(f);
		size_t pos = (size_t)(f - (const char *)orig) + strlen(fields[k]);
		memcpy(buf, orig, len);
		buf[pos] = buf[pos] == '1' ? '2' : (buf[pos] == 'n' ? 'm' : '1');
		assert_true(buf[pos] != orig[pos]);
		write_file(log, buf, len);
		char what[64];
		snprintf(what, sizeof what, "edit of %s at byte %zu", fields[k], pos);
		expect_audit(d, false, what);
	}
	/* A record in the middle removed. */
	const char *end = strchr(mid, '\n');
	assert_non_null(end);
	size_t a = (size_t)(mid - (const char *)orig), b = (size_t)(end + 1 - (const char *)orig);
	memcpy(buf, orig, a);
	memcpy(buf + a, orig + b, len - b);
	write_file(log, buf, len - (b - a));
	expect_audit(d, false, "a record removed");

	write_file(log, orig, len);
	expect_audit(d, true, "restored at the end");
	free(buf);
	free(orig);
	rm_rf(d);
}

/* --- secrets ------------------------------------------------------------------------ */

typedef struct secrets {
	uint8_t raw[2][32];
	size_t len[2];
	char hex[2][65];
	const char *where;
} secrets;

static void hex_lower(char *o, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = digits[in[i] >> 4];
		o[2 * i + 1] = digits[in[i] & 15];
	}
	o[2 * n] = 0;
}

static void secrets_init(secrets *s, const char *k_hex, const char *opc_hex)
{
	memset(s, 0, sizeof *s);
	s->len[0] = tl_hex_var(s->raw[0], 32, k_hex);
	s->len[1] = tl_hex_var(s->raw[1], 32, opc_hex);
	hex_lower(s->hex[0], s->raw[0], s->len[0]);
	hex_lower(s->hex[1], s->raw[1], s->len[1]);
}

/* Fails if any secret shows in data: raw, or as hex in any case. */
static void check_bytes(const char *what, const uint8_t *data, size_t len, const secrets *s)
{
	char *low = malloc(len + 1);
	assert_non_null(low);
	for (size_t i = 0; i < len; i++)
		low[i] = (data[i] >= 'A' && data[i] <= 'Z') ? (char)(data[i] + 32) : (char)data[i];
	low[len] = 0;
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "OPc/TOPc" : "K";
		bool raw = memmem(data, len, s->raw[i], s->len[i]) != NULL;
		bool hex = memmem(low, len, s->hex[i], strlen(s->hex[i])) != NULL;
		if (raw || hex) {
			free(low);
			fail_msg("%s of the PCID (%s) found in %s (%s)", name, raw ? "raw" : "hex", what,
				 s->where ? s->where : "");
		}
	}
	free(low);
}

static void check_file(const char *p, const uint8_t *data, size_t len, void *ctx)
{
	check_bytes(p, data, len, ctx);
}

static void check_outputs(const char *what, secrets *s)
{
	s->where = what;
	check_bytes("stdout", (const uint8_t *)out, strlen(out), s);
	check_bytes("stderr", (const uint8_t *)err, strlen(err), s);
}

/* Makes a device from the PCID, runs every read-out and some writes on it,
 * then searches every output and every file of the device. */
static void secrets_round(const char *name, const char *pcid_json, const char *k, const char *opc)
{
	secrets s;
	secrets_init(&s, k, opc);
	char pf[512], d[512], log[600];
	path(pf, sizeof pf, "pcid-secret.json");
	write_file(pf, pcid_json, strlen(pcid_json));
	json_t *m = make_device(d, sizeof d, name, pf);
	check_outputs("factory device", &s);
	json_decref(m);
	remove(pf);
	/* Enough records for audit.log, then every command that prints. */
	fill_audit_log(d);
	static const char *const cmds[] = {"status", "status --json", "registry", "registry --json", "audit",
					   "audit --json", "audit --verify", "checkpoint", "certs", "users --json",
					   "recovery-counter", "attest --nonce 00112233445566778899aabbccddeeff"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (run("tre --dir '%s' %s", d, cmds[i]) != 0)
			fail_msg("%s: exit not 0: %s", cmds[i], err);
		check_outputs(cmds[i], &s);
	}
	/* Errors and refusals. */
	expect_error(run_in("999999", "tre --dir '%s' user-add bob --role user --as alice", d), 1, NULL);
	check_outputs("user-add with a wrong admin PIN", &s);
	assert_int_equal(run("tre --dir '%s' tamper --reason 'probe'", d), 0);
	check_outputs("tamper", &s);
	assert_int_equal(run("tre --dir '%s' status --json", d), 0);
	check_outputs("status after tamper", &s);
	assert_int_equal(run("tre --dir '%s' audit", d), 0);
	check_outputs("audit after tamper", &s);

	snprintf(log, sizeof log, "%s/audit.log", d);
	assert_true(exists(log));
	s.where = name;
	size_t n = walk(d, check_file, &s);
	/* device.key, identity.sealed, manifest.jws, audit.log, the platform,
	 * the store: all of it was searched. */
	assert_true(n >= 8);
	rm_rf(d);
}

/* covers: SEC-6, SEC-12, TRE-2, TRE-6 */
static void test_no_secret_leaves(void **state)
{
	(void)state;
	/* Upper-case hex in the file; searched for in any case. */
	secrets_round("secret-mil",
		      "{\"imsi\":\"001010555000111\",\"k\":\"9D3A7C21E0B45F86A1C2D3E4F5061728\","
		      "\"opc\":\"6B8E0F1A2C3D4E5F708192A3B4C5D6E7\"}",
		      "9d3a7c21e0b45f86a1c2d3e4f5061728", "6b8e0f1a2c3d4e5f708192a3b4c5d6e7");
	secrets_round("secret-tuak",
		      "{\"imsi\":\"001010555000222\",\"alg\":\"tuak\","
		      "\"k\":\"e1d2c3b4a5968778695a4b3c2d1e0ff0f1e2d3c4b5a69788796a5b4c3d2e1f00\","
		      "\"topc\":\"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\"}",
		      "e1d2c3b4a5968778695a4b3c2d1e0ff0f1e2d3c4b5a69788796a5b4c3d2e1f00",
		      "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9");
}

/* --- main --------------------------------------------------------------------------- */

/* Recovery through the CLI: tamper, ask the counter, an authorisation the
 * RO signed (saved with a trailing newline, as shells and editors leave
 * it), recover: pristine again. A malformed or foreign authorisation is a
 * refusal (exit 1); the same one twice is refused once spent.
 * covers: TRE-4, SEC-5 */
/* Users through the CLI: a user blocked by wrong PINs is unblocked by an
 * admin with user-unblock; a non-admin may not unblock.
 * covers: TRE-10, TRE-5 */
static void users_json(const char *d, const char *name, bool *blocked, json_int_t *failures)
{
	assert_int_equal(run("tre --dir '%s' users --json", d), 0);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	assert_non_null(j);
	size_t i;
	json_t *u;
	bool found = false;
	json_array_foreach(j, i, u)
	{
		if (!strcmp(json_string_value(json_object_get(u, "name")), name)) {
			*blocked = json_is_true(json_object_get(u, "blocked"));
			*failures = json_integer_value(json_object_get(u, "failures"));
			found = true;
		}
	}
	json_decref(j);
	assert_true(found);
}

static void test_user_unblock(void **state)
{
	(void)state;
	char d[512];
	json_t *m = make_device(d, sizeof d, "unblock", NULL);
	json_decref(m);
	assert_int_equal(run_in("9876\n", "tre --dir '%s' user-add root --role admin", d), 0);
	assert_int_equal(run_in("9876\n1234\n", "tre --dir '%s' user-add bob --role user --as root", d), 0);
	/* Three wrong PINs as bob: bob is blocked. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(run_in("0000\n5555\n", "tre --dir '%s' user-add eve --role user --as bob", d), 1);
	bool blocked = false;
	json_int_t failures = 0;
	users_json(d, "bob", &blocked, &failures);
	assert_true(blocked);
	assert_int_equal(failures, 3);
	/* Not by bob himself (blocked, and not an admin), only by the admin. */
	expect_error(run_in("1234\n", "tre --dir '%s' user-unblock bob --as bob", d), 1, "user-unblock");
	expect_usage(run_in("", "tre --dir '%s' user-unblock bob --as root", d), "user-unblock");
	assert_int_equal(run_in("9876\n", "tre --dir '%s' user-unblock bob --as root", d), 0);
	users_json(d, "bob", &blocked, &failures);
	assert_false(blocked);
	assert_int_equal(failures, 0);
	expect_usage(run("tre --dir '%s' user-unblock", d), "user name");
}

static void test_recover_round_trip(void **state)
{
	(void)state;
	char d[512], auth[600];
	json_t *m = make_device(d, sizeof d, "recover", NULL);
	char tre_id[64];
	snprintf(tre_id, sizeof tre_id, "%s", jstr(m, "tre_id"));
	json_decref(m);
	assert_int_equal(run("tre --dir '%s' tamper --reason 'probe'", d), 0);
	assert_int_equal(run("tre --dir '%s' recovery-counter", d), 0);
	json_t *c = parse_out();
	json_int_t ctr = json_integer_value(json_object_get(c, "counter"));
	assert_string_equal(jstr(c, "tre_id"), tre_id);
	json_decref(c);

	path(auth, sizeof auth, "recover-junk.jws");
	write_file(auth, "a.b.c\n", 6);
	expect_error(run("tre --dir '%s' recover --auth '%s'", d, auth), 1, "recover");
	expect_state(d, "lockdown");

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
	char file[4096];
	int n = snprintf(file, sizeof file, "%s\n", jws);
	assert_true(n > 0 && (size_t)n < sizeof file);
	path(auth, sizeof auth, "recover-good.jws");
	write_file(auth, file, (size_t)n);
	assert_int_equal(run("tre --dir '%s' recover --auth '%s'", d, auth), 0);
	json_t *j = parse_out();
	assert_string_equal(jstr(j, "state"), "pristine");
	json_decref(j);
	expect_state(d, "pristine");
	/* Spent: not in lockdown any more, and stale after the next one. */
	assert_int_equal(run("tre --dir '%s' tamper --reason 'again'", d), 0);
	expect_error(run("tre --dir '%s' recover --auth '%s'", d, auth), 1, "recover");
	expect_state(d, "lockdown");
	omc_free(jws);
	omc_free(payload);
	omc_key_free(k);
	omc_cert_free(cert);
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
	if (root[strlen(root) - 1] != 'X' && nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
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
		cmocka_unit_test(test_factory_pki),
		cmocka_unit_test(test_factory_device_generated),
		cmocka_unit_test(test_factory_device_pcid),
		cmocka_unit_test(test_factory_device_bad_pcid),
		cmocka_unit_test(test_factory_usage),
		cmocka_unit_test(test_tre_usage),
		cmocka_unit_test(test_tamper_sticky),
		cmocka_unit_test(test_recover_round_trip),
		cmocka_unit_test(test_user_unblock),
		cmocka_unit_test(test_audit_verify),
		cmocka_unit_test(test_no_secret_leaves),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
