/* The CLI contract of `openmcim aka gen|check` (docs/cli-aka.md): flags,
 * JSON keys, exit statuses, and one-line errors that name the option with
 * nothing on stdout. Runs the real binary (argv[1]).
 * covers: SEC-4, EVAL-6, SEC-12 */
#include "testlib.h"

#include <ctype.h>

static const char *bin;
static char out[16384], err[16384];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char args[4096], cmd[4200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "'%s' %s", bin, args);
	return tl_run(cmd, out, sizeof out, err, sizeof err);
}

static json_t *parse_out(void)
{
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	if (!j)
		fail_msg("stdout is not JSON (%s): %s", e.text, out);
	/* One object on one line. */
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n')[1], '\0');
	return j;
}

static void expect_key(const json_t *j, const char *key, const char *want)
{
	const json_t *v = json_object_get(j, key);
	if (!json_is_string(v))
		fail_msg("key '%s' missing in %s", key, out);
	const char *s = json_string_value(v);
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			fail_msg("key '%s' is not lowercase hex: %s", key, s);
	if (want && strcmp(s, want))
		fail_msg("key '%s': got %s, want %s", key, s, want);
}

/* A usage error: exit 2, nothing on stdout, one line on stderr naming opt. */
static void expect_usage(int rc, const char *opt)
{
	if (rc != 2)
		fail_msg("exit %d, want 2; stderr: %s", rc, err);
	if (out[0])
		fail_msg("usage error printed on stdout: %s", out);
	size_t n = strlen(err);
	if (n == 0 || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1)
		fail_msg("error is not one line: '%s'", err);
	if (opt && !strstr(err, opt))
		fail_msg("error does not name %s: %s", opt, err);
}

#define S1_K "465b5ce8b199b49faa5f0a2ee238a6bc"
#define S1_OP "cdc202d5123e20f62b6d676ac72cb318"
#define S1_OPC "cd63cb71954a9f4e48a5994e37a02baf"
#define S1_RAND "23553cbe9637a89d218ae64dae47bf35"
#define S1_SQN "ff9bb4d0b607"
#define S1_AMF "b9b9"
#define MIL "aka gen --alg milenage --k " S1_K " --rand " S1_RAND " --sqn " S1_SQN " --amf " S1_AMF

static void test_gen_milenage_json(void **state)
{
	(void)state;
	json_t *vec = tl_load_vectors("milenage.json");
	size_t i;
	json_t *v;
	json_array_foreach(vec, i, v)
	{
		for (int use_op = 0; use_op < 2; use_op++) {
			int rc = run("aka gen --alg milenage --k %s %s %s --rand %s --sqn %s --amf %s --json",
				     tl_str(v, "k"), use_op ? "--op" : "--opc", tl_str(v, use_op ? "op" : "opc"),
				     tl_str(v, "rand"), tl_str(v, "sqn"), tl_str(v, "amf"));
			assert_int_equal(rc, 0);
			json_t *j = parse_out();
			expect_key(j, "mac_a", tl_str(v, "f1"));
			expect_key(j, "mac_s", tl_str(v, "f1star"));
			expect_key(j, "res", tl_str(v, "f2"));
			expect_key(j, "ck", tl_str(v, "f3"));
			expect_key(j, "ik", tl_str(v, "f4"));
			expect_key(j, "ak", tl_str(v, "f5"));
			expect_key(j, "ak_star", tl_str(v, "f5star"));
			expect_key(j, "opc", tl_str(v, "opc"));
			expect_key(j, "autn", NULL);
			assert_null(json_object_get(j, "topc"));
			assert_int_equal(json_object_size(j), 9);
			json_decref(j);
		}
	}
	json_decref(vec);
}

static void test_gen_tuak_json(void **state)
{
	(void)state;
	json_t *vec = tl_load_vectors("tuak.json");
	size_t i;
	json_t *v;
	json_array_foreach(vec, i, v)
	{
		int rc = run("aka gen --alg tuak --k %s --top %s --rand %s --sqn %s --amf %s --iterations %lld "
			     "--mac-bits %lld --res-bits %lld --ck-bits %lld --ik-bits %lld --json",
			     tl_str(v, "k"), tl_str(v, "top"), tl_str(v, "rand"), tl_str(v, "sqn"), tl_str(v, "amf"),
			     json_integer_value(json_object_get(v, "keccak_iterations")),
			     json_integer_value(json_object_get(v, "mac_len_bits")),
			     json_integer_value(json_object_get(v, "res_len_bits")),
			     json_integer_value(json_object_get(v, "ck_len_bits")),
			     json_integer_value(json_object_get(v, "ik_len_bits")));
		if (rc != 0)
			fail_msg("set %zu: exit %d: %s", i + 1, rc, err);
		json_t *j = parse_out();
		expect_key(j, "mac_a", tl_str(v, "f1"));
		expect_key(j, "mac_s", tl_str(v, "f1star"));
		expect_key(j, "res", tl_str(v, "f2"));
		expect_key(j, "ck", tl_str(v, "f3"));
		expect_key(j, "ik", tl_str(v, "f4"));
		expect_key(j, "ak", tl_str(v, "f5"));
		expect_key(j, "ak_star", tl_str(v, "f5star"));
		expect_key(j, "topc", tl_str(v, "topc"));
		assert_null(json_object_get(j, "opc"));
		json_decref(j);
		/* The same with --topc. */
		rc = run("aka gen --alg tuak --k %s --topc %s --rand %s --sqn %s --amf %s --iterations %lld "
			 "--mac-bits %lld --res-bits %lld --ck-bits %lld --ik-bits %lld --json",
			 tl_str(v, "k"), tl_str(v, "topc"), tl_str(v, "rand"), tl_str(v, "sqn"), tl_str(v, "amf"),
			 json_integer_value(json_object_get(v, "keccak_iterations")),
			 json_integer_value(json_object_get(v, "mac_len_bits")),
			 json_integer_value(json_object_get(v, "res_len_bits")),
			 json_integer_value(json_object_get(v, "ck_len_bits")),
			 json_integer_value(json_object_get(v, "ik_len_bits")));
		assert_int_equal(rc, 0);
		j = parse_out();
		expect_key(j, "mac_a", tl_str(v, "f1"));
		expect_key(j, "ik", tl_str(v, "f4"));
		json_decref(j);
	}
	json_decref(vec);
}

static void test_gen_constants(void **state)
{
	(void)state;
	/* Operator constants on the command line equal the library's answer. */
	omc_aka_milenage_consts cst;
	omc_aka_milenage_consts_default(&cst);
	tl_hex(cst.c[1], 16, "000102030405060708090a0b0c0d0e0f");
	cst.r[3] = 17;
	uint8_t k[16], opc[16], rand[16], sqn[6], amf[2];
	tl_hex(k, 16, S1_K);
	tl_hex(opc, 16, S1_OPC);
	tl_hex(rand, 16, S1_RAND);
	tl_hex(sqn, 6, S1_SQN);
	tl_hex(amf, 2, S1_AMF);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, &cst), OMC_OK);
	omc_aka_outputs o;
	assert_int_equal(omc_aka_outputs_gen(&o, &c, rand, sqn, amf), OMC_OK);
	assert_int_equal(run(MIL " --opc " S1_OPC " --c2 000102030405060708090a0b0c0d0e0f --r4 17 --json"), 0);
	json_t *j = parse_out();
	char h[65];
	assert_int_equal(omc_hex_encode(h, sizeof h, o.res, 8), OMC_OK);
	expect_key(j, "res", h);
	assert_int_equal(omc_hex_encode(h, sizeof h, o.ik, 16), OMC_OK);
	expect_key(j, "ik", h);
	json_decref(j);
	/* And the defaults given explicitly change nothing. */
	assert_int_equal(run(MIL " --opc " S1_OPC " --r1 64 --r2 0 --r3 32 --r4 64 --r5 96 "
			     "--c1 00000000000000000000000000000000 --json"),
			 0);
	j = parse_out();
	expect_key(j, "res", "a54211d5e3ba50bf");
	json_decref(j);
}

static void test_check(void **state)
{
	(void)state;
	assert_int_equal(run(MIL " --opc " S1_OPC " --json"), 0);
	json_t *g = parse_out();
	char autn[64];
	snprintf(autn, sizeof autn, "%s", json_string_value(json_object_get(g, "autn")));
	json_decref(g);
	const char *base = "aka check --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND;

	/* A fresh USIM refuses an SQN this far ahead (TS 33.102 C.2.1, Δ = 2^28). */
	assert_int_equal(run("%s --autn %s --json", base, autn), 1);
	json_t *j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "result")), "sync_failure");
	json_decref(j);
	/* One that has seen SQNs up to a little below: accepted. */
	assert_int_equal(run("%s --autn %s --sqn-ms ff9bb4000000 --json", base, autn), 0);
	j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "result")), "ok");
	expect_key(j, "res", "a54211d5e3ba50bf");
	expect_key(j, "ck", "b40ba9a3c58b2a05bbf0d987b21bf8cb");
	expect_key(j, "ik", "f769bcd751044604127672711c6d3441");
	expect_key(j, "sqn", S1_SQN);
	json_decref(j);

	/* SQN_MS just below: accepted; equal or above: sync failure with AUTS. */
	assert_int_equal(run("%s --autn %s --sqn-ms ff9bb4d0b606 --json", base, autn), 0);
	assert_int_equal(run("%s --autn %s --sqn-ms ff9bb4d0b607 --json", base, autn), 1);
	j = parse_out();
	assert_string_equal(json_string_value(json_object_get(j, "result")), "sync_failure");
	expect_key(j, "auts", NULL);
	assert_int_equal(json_object_size(j), 2);
	/* The AuC side accepts that AUTS and reads SQN_MS back. */
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	uint8_t k[16], opc[16], rand[16], auts[14];
	tl_hex(k, 16, S1_K);
	tl_hex(opc, 16, S1_OPC);
	tl_hex(rand, 16, S1_RAND);
	tl_hex(auts, 14, json_string_value(json_object_get(j, "auts")));
	json_decref(j);
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
	omc_aka_sqn_he he;
	assert_int_equal(omc_aka_sqn_he_init(&he, 5, 0), OMC_OK);
	uint64_t sqn_ms;
	bool moved;
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &c, rand, auts, 14), OMC_OK);
	assert_int_equal(sqn_ms, 0xff9bb4d0b607ull);

	/* A fresh USIM and a small SQN. */
	assert_int_equal(run("aka gen --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND
			     " --sqn 000000000021 --amf 8000 --json"),
			 0);
	g = parse_out();
	char autn2[64];
	snprintf(autn2, sizeof autn2, "%s", json_string_value(json_object_get(g, "autn")));
	json_decref(g);
	assert_int_equal(run("%s --autn %s --json", base, autn2), 0);
	j = parse_out();
	expect_key(j, "sqn", "000000000021");
	json_decref(j);
	assert_int_equal(run("%s --autn %s --ind-bits 0 --sqn-ms 000000000020 --json", base, autn2), 0);
	assert_int_equal(run("%s --autn %s --ind-bits 0 --sqn-ms 000000000021 --json", base, autn2), 1);

	/* A flipped bit: MAC failure, exit 1. */
	autn[31] = autn[31] == '0' ? '1' : '0';
	assert_int_equal(run("%s --autn %s --json", base, autn), 1);
	assert_string_equal(out, "{\"result\":\"mac_failure\"}\n");
	/* Human output. */
	assert_int_equal(run("%s --autn %s", base, autn), 1);
	assert_non_null(strstr(out, "mac_failure"));
}

static void test_usage_errors(void **state)
{
	(void)state;
	expect_usage(run("aka gen --alg milenage --k 465b5ce8b199b49faa5f0a2ee238a6bz --opc " S1_OPC
			 " --rand " S1_RAND " --sqn " S1_SQN " --amf " S1_AMF),
		     "--k");
	expect_usage(run(MIL " --opc " S1_OPC "00"), "--opc");
	expect_usage(run("aka gen --alg milenage --k " S1_K " --opc " S1_OPC " --rand 2355 --sqn " S1_SQN
			 " --amf " S1_AMF),
		     "--rand");
	expect_usage(run("aka gen --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND " --amf " S1_AMF),
		     "--sqn");
	expect_usage(run("aka gen --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND " --sqn " S1_SQN),
		     "--amf");
	expect_usage(run(MIL), "--opc");
	expect_usage(run(MIL " --op " S1_OP " --opc " S1_OPC), "--opc");
	expect_usage(run(MIL " --opc " S1_OPC " --top " S1_OPC S1_OPC), "--top");
	expect_usage(run(MIL " --opc " S1_OPC " --mac-bits 128"), "--mac-bits");
	expect_usage(run(MIL " --opc " S1_OPC " --r2 128"), "--r2");
	expect_usage(run(MIL " --opc " S1_OPC " --r2 -1"), "--r2");
	expect_usage(run(MIL " --opc " S1_OPC " --c3 00"), "--c3");
	expect_usage(run(MIL " --opc " S1_OPC " --autn 00"), "--autn");
	expect_usage(run(MIL " --opc " S1_OPC " --bogus 1"), "--bogus");
	expect_usage(run(MIL " --opc " S1_OPC " extra"), "extra");
	expect_usage(run(MIL " --opc " S1_OPC " --opc " S1_OPC), "--opc");
	expect_usage(run(MIL " --opc"), "--opc");
	expect_usage(run("aka gen --alg sha1 --k " S1_K), "--alg");
	expect_usage(run("aka gen --k " S1_K), "--alg");
	const char *tuak = "aka gen --alg tuak --k " S1_K " --topc " S1_OPC S1_OPC " --rand " S1_RAND " --sqn " S1_SQN
			   " --amf " S1_AMF;
	expect_usage(run("%s --mac-bits 48", tuak), "--mac-bits");
	expect_usage(run("%s --res-bits 16", tuak), "--res-bits");
	expect_usage(run("%s --ck-bits 64", tuak), "--ck-bits");
	expect_usage(run("%s --ik-bits 512", tuak), "--ik-bits");
	expect_usage(run("%s --iterations 0", tuak), "--iterations");
	expect_usage(run("%s --iterations x", tuak), "--iterations");
	expect_usage(run("%s --c1 00000000000000000000000000000000", tuak), "--c1");
	expect_usage(run("%s --opc " S1_OPC, tuak), "--opc");
	expect_usage(run("aka gen --alg tuak --k 0011 --topc " S1_OPC S1_OPC " --rand " S1_RAND " --sqn " S1_SQN
			 " --amf " S1_AMF),
		     "--k");
	expect_usage(run("aka check --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND " --autn 00"),
		     "--autn");
	expect_usage(run("aka check --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND), "--autn");
	expect_usage(run("aka check --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND
			 " --autn 55f328b43577b9b94a9ffac354dfafb3 --sqn " S1_SQN),
		     "--sqn");
	expect_usage(run("aka check --alg milenage --k " S1_K " --opc " S1_OPC " --rand " S1_RAND
			 " --autn 55f328b43577b9b94a9ffac354dfafb3 --ind-bits 9"),
		     "--ind-bits");
	expect_usage(run("aka frob"), "frob");
	expect_usage(run("frob"), "frob");
}

static void test_no_secret_in_errors(void **state)
{
	(void)state;
	/* A planted K with a bad OPc: the error must not echo K in any case. */
	const char *k = "0123456789abcdef0123456789abcdef";
	expect_usage(run("aka gen --alg milenage --k %s --opc zz --rand " S1_RAND " --sqn " S1_SQN " --amf " S1_AMF,
			 k),
		     "--opc");
	assert_null(strcasestr(err, k));
	expect_usage(run("aka gen --alg milenage --k %sqq --opc " S1_OPC " --rand " S1_RAND " --sqn " S1_SQN
			 " --amf " S1_AMF,
			 k),
		     "--k");
	assert_null(strcasestr(err, k));
	assert_null(strcasestr(err, "0123456789ab"));
}

static void test_help_and_version(void **state)
{
	(void)state;
	assert_int_equal(run("--help"), 0);
	assert_non_null(strstr(out, "aka"));
	assert_non_null(strstr(out, "bench"));
	assert_int_equal(run("--version"), 0);
	assert_non_null(strstr(out, "openmcim "));
	assert_int_equal(run("aka --help"), 0);
	assert_non_null(strstr(out, "--sqn-ms"));
	assert_non_null(strstr(out, "--iterations"));
	assert_int_equal(run("aka gen --help"), 0);
	assert_int_equal(run("bench --help"), 0);
	assert_int_equal(run("demo --help"), 0);
	assert_int_equal(run("help aka"), 0);
	assert_int_equal(run("%s", ""), 2);
	assert_int_equal(run("bench nosuch"), 2);
	assert_int_equal(run(MIL " --opc " S1_OPC), 0);
	assert_non_null(strstr(out, "AUTN"));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-openmcim\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gen_milenage_json), cmocka_unit_test(test_gen_tuak_json),
		cmocka_unit_test(test_gen_constants),     cmocka_unit_test(test_check),
		cmocka_unit_test(test_usage_errors),      cmocka_unit_test(test_no_secret_in_errors),
		cmocka_unit_test(test_help_and_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
