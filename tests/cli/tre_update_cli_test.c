/* The CLI contract of the TRE update (TRE-12): `openmcim factory
 * update-manifest`, `openmcim tre update-stage`, `update-status`, `boot`
 * and `update-confirm`: the JSON they print, their exit statuses, one-line
 * usage errors with nothing on stdout, and the whole round trip on a
 * device in a directory (stage, boot into the trial, confirm; or a second
 * boot that reverts). Runs the real binary (argv[1]) under /tmp.
 * covers: TRE-12, SEC-3 */
#include "testlib.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *bin;
static char root[] = "/tmp/omc-update-cli-XXXXXX";
static char pki[256];
static char out[65536], err[16384];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[4096], cmd[4400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "'%s' %s </dev/null", bin, args);
	return tl_run(cmd, out, sizeof out, err, sizeof err);
}

static void path(char *p, size_t cap, const char *name)
{
	if (snprintf(p, cap, "%s/%s", root, name) >= (int)cap)
		fail_msg("path too long: %s", name);
}

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

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* The update status as JSON, with its state and running version checked. */
static void expect_update(const char *dir, const char *state, const char *running, long long counter)
{
	if (run("tre --dir '%s' update-status --json", dir) != 0)
		fail_msg("update-status: %s", err);
	json_t *j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "state")), state);
	assert_string_equal(json_string_value(json_object_get(j, "running_version")), running);
	assert_int_equal(json_integer_value(json_object_get(j, "counter")), counter);
	assert_non_null(json_object_get(j, "staged_version"));
	assert_non_null(json_object_get(j, "running_counter"));
	assert_non_null(json_object_get(j, "staged_counter"));
	json_decref(j);
	/* ... and the platform measures right whatever the state. */
	if (run("tre --dir '%s' status --json", dir) != 0)
		fail_msg("status: %s", err);
	j = parse_out();
	assert_true(json_is_true(json_object_get(j, "platform_ok")));
	json_decref(j);
}

/* A device, new firmware for it and the update manifest of version v. */
static void make(char *dev, size_t cap, const char *name, const char *v, unsigned counter, char *man, size_t mcap)
{
	path(dev, cap, name);
	if (run("factory device --pki '%s' --out '%s'", pki, dev) != 0)
		fail_msg("factory device: %s", err);
	char fw[600];
	snprintf(fw, sizeof fw, "%s.fw", dev);
	char content[5000];
	memset(content, v[0], sizeof content);
	write_file(fw, content, sizeof content);
	snprintf(man, mcap, "%s.jws", dev);
	if (run("factory update-manifest --pki '%s' --version %s --counter %u firmware:platform/firmware.bin='%s' "
		"agent-config:platform/agent.conf='%s/platform/agent.conf'",
		pki, v, counter, fw, dev) != 0)
		fail_msg("factory update-manifest: %s", err);
	assert_string_equal(err, "");
	assert_int_equal(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
			 strlen(out) - 1);
	write_file(man, out, strlen(out));
}

static int stage(const char *dev, const char *man)
{
	return run("tre --dir '%s' update-stage --manifest '%s' firmware='%s.fw' agent-config='%s/platform/agent.conf'",
		   dev, man, dev, dev);
}

/* covers: TRE-12 */
static void test_round_trip(void **state)
{
	(void)state;
	char dev[512], man[600];
	make(dev, sizeof dev, "dev1", "2.0", 1, man, sizeof man);
	expect_update(dev, "none", "1.0", 0);
	assert_int_equal(stage(dev, man), 0);
	json_t *j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "update")), "staged");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "2.0");
	assert_int_equal(json_integer_value(json_object_get(j, "counter")), 1);
	json_decref(j);
	expect_update(dev, "staged", "1.0", 0);
	/* Nothing to confirm before the boot. */
	expect_error(run("tre --dir '%s' update-confirm", dev), 1, "update-confirm");
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);
	j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "state")), "trial");
	assert_string_equal(json_string_value(json_object_get(j, "running_version")), "2.0");
	json_decref(j);
	expect_update(dev, "trial", "2.0", 0);
	assert_int_equal(run("tre --dir '%s' update-confirm", dev), 0);
	j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "update")), "none");
	assert_string_equal(json_string_value(json_object_get(j, "version")), "2.0");
	assert_int_equal(json_integer_value(json_object_get(j, "counter")), 1);
	json_decref(j);
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);
	expect_update(dev, "none", "2.0", 1);
	/* The human form names the state and the versions. */
	assert_int_equal(run("tre --dir '%s' update-status", dev), 0);
	assert_non_null(strstr(out, "update        none"));
	assert_non_null(strstr(out, "running       2.0 (security counter 1)"));
	/* The audit log tells the story. */
	assert_int_equal(run("tre --dir '%s' audit", dev), 0);
	assert_non_null(strstr(out, "staged: version 2.0"));
	assert_non_null(strstr(out, "trial: version 2.0"));
	assert_non_null(strstr(out, "confirmed: version 2.0"));
	/* The same update once more: an equal security counter is accepted. */
	assert_int_equal(stage(dev, man), 0);
}

/* covers: TRE-12 */
static void test_revert_and_refusals(void **state)
{
	(void)state;
	char dev[512], man[600], dev2[512], man2[600];
	make(dev, sizeof dev, "dev2", "3.0", 2, man, sizeof man);
	/* A manifest made for this device, with the other device's firmware. */
	make(dev2, sizeof dev2, "dev3", "4.0", 1, man2, sizeof man2);
	expect_error(run("tre --dir '%s' update-stage --manifest '%s' firmware='%s.fw' "
			 "agent-config='%s/platform/agent.conf'",
			 dev, man, dev2, dev),
		     1, "update-stage");
	/* Not a JWS at all. */
	expect_error(run("tre --dir '%s' update-stage --manifest '%s.fw' firmware='%s.fw' "
			 "agent-config='%s/platform/agent.conf'",
			 dev, dev, dev, dev),
		     1, "update-stage");
	/* A missing component: a usage error. */
	expect_error(run("tre --dir '%s' update-stage --manifest '%s' firmware='%s.fw'", dev, man, dev), 2,
		     "components");
	expect_update(dev, "none", "1.0", 0);

	assert_int_equal(stage(dev, man), 0);
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);
	expect_update(dev, "trial", "3.0", 0);
	/* No stage during a trial. */
	expect_error(stage(dev, man), 1, "update-stage");
	/* Booted again without a confirmation: reverted. */
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);
	expect_update(dev, "none", "1.0", 0);
	assert_int_equal(run("tre --dir '%s' audit", dev), 0);
	assert_non_null(strstr(out, "update reverted: version 3.0 was not confirmed"));

	/* A lower security counter after a confirmed update. */
	assert_int_equal(stage(dev, man), 0);
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);
	assert_int_equal(run("tre --dir '%s' update-confirm", dev), 0);
	char man_low[700];
	snprintf(man_low, sizeof man_low, "%s.low.jws", dev);
	if (run("factory update-manifest --pki '%s' --version 2.9 --counter 1 firmware:platform/firmware.bin='%s.fw' "
		"agent-config:platform/agent.conf='%s/platform/agent.conf'",
		pki, dev, dev) != 0)
		fail_msg("factory update-manifest: %s", err);
	write_file(man_low, out, strlen(out));
	expect_error(run("tre --dir '%s' update-stage --manifest '%s' firmware='%s.fw' "
			 "agent-config='%s/platform/agent.conf'",
			 dev, man_low, dev, dev),
		     1, "not permitted");
	expect_update(dev, "none", "3.0", 2);

	/* Lockdown: refused. */
	assert_int_equal(run("tre --dir '%s' tamper --reason test", dev), 0);
	expect_error(stage(dev, man), 1, "locked down");
	expect_error(run("tre --dir '%s' update-confirm", dev), 1, "locked down");
}

/* covers: TRE-12 */
static void test_usage(void **state)
{
	(void)state;
	char dev[512], man[600];
	make(dev, sizeof dev, "dev4", "2.0", 1, man, sizeof man);
	expect_error(run("tre --dir '%s' update-stage", dev), 2, "--manifest");
	expect_error(run("tre --dir '%s' update-stage --manifest '%s'", dev, man), 2, "NAME=FILE");
	expect_error(run("tre --dir '%s' update-stage --manifest '%s' firmware", dev, man), 2, "NAME=FILE");
	expect_error(run("tre --dir '%s' update-stage --manifest '%s' firmware=/no/such", dev, man), 2, "/no/such");
	expect_error(run("tre --dir '%s' update-stage --manifest /no/such firmware=x", dev), 2, "--manifest");
	expect_error(run("tre --dir '%s' update-confirm extra", dev), 2, "extra");
	expect_error(run("tre --dir '%s' update-status --manifest x", dev), 2, "--manifest");
	expect_error(run("tre --dir '%s' update-confirm --json", dev), 2, "--json");
	expect_error(run("tre --dir '%s' update-status --bogus", dev), 2, "--bogus");
	expect_error(run("tre update-status"), 2, "--dir");
	expect_error(run("tre --socket /tmp/none update-status"), 2, "--dir");
	/* Abbreviated options before the command still find it. */
	assert_int_equal(run("tre --di='%s' update-status --js", dev), 0);
	json_decref(parse_out());
	assert_int_equal(run("tre --js --dir '%s' update-status", dev), 0);
	json_decref(parse_out());
	expect_error(run("tre --dir '%s/none' update-status", root), 3, "none");
	/* Another process holds the TRE (as a daemon would): no boot, no stage. */
	int fd = open(dev, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	expect_error(run("tre --dir '%s' boot", dev), 3, "holds this TRE");
	expect_error(run("tre --dir '%s' update-confirm", dev), 3, "holds this TRE");
	assert_int_equal(run("tre --dir '%s' update-status", dev), 0); /* read-only: fine */
	close(fd);
	assert_int_equal(run("tre --dir '%s' boot", dev), 0);

	expect_error(run("factory update-manifest --pki '%s' --counter 1 a:platform/a=%s", pki, man), 2, "--version");
	expect_error(run("factory update-manifest --pki '%s' --version 1 a:platform/a=%s", pki, man), 2, "--counter");
	expect_error(run("factory update-manifest --version 1 --counter 1 a:platform/a=%s", man), 2, "--pki");
	expect_error(run("factory update-manifest --pki '%s' --version 1 --counter -1 a:platform/a=%s", pki, man), 2,
		     "--counter");
	expect_error(run("factory update-manifest --pki '%s' --version 1 --counter 1", pki), 2, "NAME:PATH=FILE");
	expect_error(run("factory update-manifest --pki '%s' --version 1 --counter 1 a=%s", pki, man), 2,
		     "NAME:PATH=FILE");
	expect_error(run("factory update-manifest --pki '%s' --version 1 --counter 1 a:platform/a=/no/such", pki), 2,
		     "/no/such");

	/* --help: exit 0, on stdout, and the commands it names. */
	const char *helps[] = {"tre update-stage --help", "tre --dir x update-status --help", "tre boot -h"};
	for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
		if (run("%s", helps[i]) != 0)
			fail_msg("%s: %s", helps[i], err);
		assert_string_equal(err, "");
		assert_non_null(strstr(out, "update-stage --manifest FILE NAME=FILE..."));
		assert_non_null(strstr(out, "update-confirm"));
		assert_non_null(strstr(out, "update-status [--json]"));
	}
	assert_int_equal(run("tre --help"), 0);
	assert_non_null(strstr(out, "update-stage --manifest FILE NAME=FILE..."));
	assert_non_null(strstr(out, "  boot "));
	assert_int_equal(run("factory --help"), 0);
	assert_non_null(strstr(out, "factory update-manifest --pki DIR --version V --counter N"));
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
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_revert_and_refusals),
		cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
