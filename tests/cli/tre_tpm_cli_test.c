/* The CLI on a TPM device (docs/tpm.md): `factory device --tpm` makes a
 * device whose root key is only in device.tpm, `tre` and `tred` find the
 * TPM through tpm.conf or --tpm, a lockdown keeps the TRE shut in that
 * boot and holds after a reboot, and the option errors are usage errors.
 * Runs the real binary (argv[1]) against a swtpm of its own.
 * covers: SEC-2, TRE-2, TRE-4, TRE-9 */
#include "tre_fixture.h"

#include <stdlib.h>
#include <unistd.h>

static const char *bin;
static char out[65536], err[16384];

#define run(...) tl_run_bin(bin, out, sizeof out, err, sizeof err, __VA_ARGS__)

static void test_tpm_device(void **state)
{
	(void)state;
	tf_tpm t;
	tf_tpm_start(&t);
	char dir[64], tre[96], file[128];
	snprintf(dir, sizeof dir, "/tmp/omc-tpm-cli-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(tre, sizeof tre, "%s/tre", dir);

	/* Option errors: usage (2), nothing made. */
	assert_int_equal(run("factory device --pki '%s' --out '%s' --tpm-pcr 16", tf_pki(), tre), 2);
	assert_int_equal(run("factory device --pki '%s' --out '%s' --tpm '%s' --tpm-pcr 24", tf_pki(), tre, t.tcti),
			 2);
	assert_int_equal(run("factory device --pki '%s' --out '%s' --tpm '%s' --tpm-nv x", tf_pki(), tre, t.tcti), 2);
	assert_int_not_equal(access(tre, F_OK), 0);

	assert_int_equal(run("factory device --pki '%s' --out '%s' --tpm '%s' --tpm-pcr %u", tf_pki(), tre, t.tcti,
			     TF_TPM_PCR),
			 0);
	snprintf(file, sizeof file, "%s/device.key", tre);
	assert_int_not_equal(access(file, F_OK), 0);
	snprintf(file, sizeof file, "%s/device.tpm", tre);
	assert_int_equal(access(file, F_OK), 0);

	/* tpm.conf names the TPM; --tpm names it too. */
	assert_int_equal(run("tre --dir '%s' status --json", tre), 0);
	assert_non_null(strstr(out, "\"state\":\"pristine\""));
	assert_int_equal(run("tre --dir '%s' --tpm '%s' status --json", tre, t.tcti), 0);
	assert_int_equal(run("tre --socket /nonexistent --tpm '%s' status", t.tcti), 2);
	/* A TCTI that reaches no TPM: the TRE does not open (3). */
	assert_int_equal(run("tre --dir '%s' --tpm swtpm:path=/nonexistent status", tre), 3);

	/* Lockdown: shut in this boot, lockdown after a reboot. */
	assert_int_equal(run("tre --dir '%s' tamper --reason 'case opened'", tre), 0);
	assert_int_equal(run("tre --dir '%s' status --json", tre), 3);
	assert_non_null(strstr(err, "locked down"));
	tf_tpm_poweroff(&t);
	tf_tpm_restart(&t);
	assert_int_equal(run("tre --dir '%s' status --json", tre), 0);
	assert_non_null(strstr(out, "\"state\":\"lockdown\""));
	assert_int_equal(tf_tpm_loaded(&t), 0);

	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	tf_tpm_stop(&t);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OPENMCIM\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpm_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
