/* openmcim's keys and certificates against the openssl command line tool
 * (Debian's openssl package), which shares only the library underneath:
 *   - `openssl verify -x509_strict` accepts a chain openmcim issued (root
 *     CA -> intermediate CA -> leaf) and refuses it under another root;
 *   - `openssl pkey` opens openmcim's encrypted PEM with the hex of the
 *     secret (as docs/objects.md says), finds the same public key, refuses
 *     a wrong secret; `openssl asn1parse` shows PBES2, PBKDF2 with
 *     HMAC-SHA-256 and AES-256-CBC, as proto.h says;
 *   - keys and a certificate the tool makes are read by openmcim: an
 *     encrypted P-256 key (with the raw secret), a plaintext one (refused),
 *     a self-signed ECDSA-SHA-256 certificate, and one with SHA-384
 *     (refused).
 * covers: SEC-6, TRE-3, TRE-9 */
#include "testlib.h"

#include <stdlib.h>
#include <unistd.h>

#include "proto/proto_internal.h"

static char dir[] = "/tmp/omc-openssl-XXXXXX";

static const char *path(const char *name)
{
	static char p[4][160];
	static int next;
	char *s = p[next++ % 4];
	snprintf(s, sizeof p[0], "%s/%s", dir, name);
	return s;
}

static void write_file(const char *name, const char *text, size_t n)
{
	FILE *f = fopen(path(name), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *name, size_t *n)
{
	FILE *f = fopen(path(name), "r");
	assert_non_null(f);
	char *buf = omc_alloc(65536);
	assert_non_null(buf);
	*n = fread(buf, 1, 65535, f);
	buf[*n] = '\0';
	fclose(f);
	return buf;
}

static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[1024], err[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return tl_run(cmd, out, cap, err, sizeof err);
}

static omc_cert *issue(const char *cn, bool ca, const omc_key *subject, const omc_cert *issuer,
		       const omc_key *issuer_key)
{
	return tl_cert(cn, "openmcim", ca, 30, subject, issuer, issuer_key);
}

static void write_cert(const char *name, const omc_cert *c)
{
	char *pem = NULL;
	size_t n = 0;
	assert_err(omc_cert_to_pem(&pem, &n, c), OMC_OK);
	write_file(name, pem, n);
	omc_free(pem);
}

static int setup(void **state)
{
	(void)state;
	char out[256], err[256];
	if (tl_run("openssl version", out, sizeof out, err, sizeof err) != 0)
		fail_msg("the openssl tool is required (scripts/deps.sh installs it)");
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	char out[64];
	return tl_run(cmd, out, sizeof out, NULL, 0) == 0 ? 0 : -1;
}

static void test_verify_chain(void **state)
{
	(void)state;
	omc_key *rk = tl_key(), *ik = tl_key(), *lk = tl_key(), *ok = tl_key();
	omc_cert *root = issue("CLI Root", true, rk, NULL, rk);
	omc_cert *inter = issue("CLI Intermediate", true, ik, root, rk);
	omc_cert *leaf = issue("cli.leaf", false, lk, inter, ik);
	omc_cert *other = issue("CLI Root", true, ok, NULL, ok);
	write_cert("root.pem", root);
	write_cert("inter.pem", inter);
	write_cert("leaf.pem", leaf);
	write_cert("other.pem", other);
	char out[1024];
	int rc = run(out, sizeof out, "cd %s && openssl verify -x509_strict -CAfile root.pem -untrusted inter.pem leaf.pem",
		     dir);
	if (rc != 0 || strcmp(out, "leaf.pem: OK\n") != 0)
		fail_msg("openssl verify refused openmcim's chain (%d): %s", rc, out);
	rc = run(out, sizeof out, "cd %s && openssl verify -x509_strict -CAfile root.pem inter.pem", dir);
	assert_int_equal(rc, 0);
	/* The same chain under another root, or without its intermediate. */
	rc = run(out, sizeof out, "cd %s && openssl verify -x509_strict -CAfile other.pem -untrusted inter.pem leaf.pem",
		 dir);
	assert_int_not_equal(rc, 0);
	rc = run(out, sizeof out, "cd %s && openssl verify -x509_strict -CAfile root.pem leaf.pem", dir);
	assert_int_not_equal(rc, 0);
	/* What the tool reads in the leaf is what openmcim wrote. */
	rc = run(out, sizeof out, "cd %s && openssl x509 -in leaf.pem -noout -ext basicConstraints,keyUsage", dir);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "critical"));
	assert_non_null(strstr(out, "CA:FALSE"));
	assert_non_null(strstr(out, "Digital Signature, Key Agreement"));
	omc_cert_free(root);
	omc_cert_free(inter);
	omc_cert_free(leaf);
	omc_cert_free(other);
	omc_key_free(rk);
	omc_key_free(ik);
	omc_key_free(lk);
	omc_key_free(ok);
}

static void test_encrypted_pem(void **state)
{
	(void)state;
	omc_key *k = tl_key();
	uint8_t pass[24];
	tl_rand(pass, sizeof pass);
	pass[0] = 0;
	pass[1] = '\n'; /* not text at all */
	char hex[2 * sizeof pass + 2];
	assert_err(omc_hex_encode(hex, sizeof hex, pass, sizeof pass), OMC_OK);
	char *pem = NULL, *pub = NULL;
	size_t n = 0, pn = 0;
	assert_err(omc_key_to_pem(&pem, &n, k, true, pass, sizeof pass), OMC_OK);
	assert_err(omc_key_to_pem(&pub, &pn, k, false, NULL, 0), OMC_OK);
	write_file("key.pem", pem, n);
	/* The secret reaches the tool in a file, never on a command line. */
	size_t hl = strlen(hex);
	hex[hl] = '\n';
	write_file("pass.txt", hex, hl + 1);
	hex[hl] = '\0';
	write_file("wrong.txt", "00112233445566778899aabbccddeeff\n", 33);

	char out[4096];
	int rc = run(out, sizeof out, "cd %s && openssl pkey -in key.pem -passin file:pass.txt -pubout", dir);
	assert_int_equal(rc, 0);
	assert_string_equal(out, pub);
	rc = run(out, sizeof out, "cd %s && openssl pkey -in key.pem -passin file:wrong.txt -pubout", dir);
	assert_int_not_equal(rc, 0);
	rc = run(out, sizeof out, "cd %s && openssl asn1parse -in key.pem", dir);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, ":PBES2"));
	assert_non_null(strstr(out, ":PBKDF2"));
	assert_non_null(strstr(out, ":hmacWithSHA256"));
	assert_non_null(strstr(out, ":aes-256-cbc"));

	/* Keys the tool made. */
	rc = run(out, sizeof out,
		 "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc "
		 "-pass file:pass.txt -out theirs.pem && openssl genpkey -algorithm EC "
		 "-pkeyopt ec_paramgen_curve:P-256 -out plain.pem",
		 dir);
	assert_int_equal(rc, 0);
	size_t tn = 0;
	char *theirs = read_file("theirs.pem", &tn);
	omc_key *back = NULL;
	assert_err(omc_key_from_pem(&back, theirs, tn, pass, sizeof pass), OMC_OK);
	assert_true(omc_key_has_private(back));
	omc_key_free(back);
	back = NULL;
	omc_free(theirs);
	char *plain = read_file("plain.pem", &tn);
	assert_err(omc_key_from_pem(&back, plain, tn, pass, sizeof pass), OMC_ERR_DENIED);
	assert_null(back);
	omc_free(plain);
	omc_memzero(hex, sizeof hex);
	omc_memzero(pass, sizeof pass);
	omc_free(pem);
	omc_free(pub);
	omc_key_free(k);
}

static void test_their_certificates(void **state)
{
	(void)state;
	char out[4096];
	int rc = run(out, sizeof out,
		     "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ck.pem && "
		     "openssl req -x509 -new -key ck.pem -subj /CN=cli.made -days 2 -sha256 -out c256.pem && "
		     "openssl req -x509 -new -key ck.pem -subj /CN=cli.made -days 2 -sha384 -out c384.pem && "
		     "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ck384.pem && "
		     "openssl req -x509 -new -key ck384.pem -subj /CN=cli.made -days 2 -sha256 -out p384.pem",
		     dir);
	assert_int_equal(rc, 0);
	size_t n = 0;
	char *pem = read_file("c256.pem", &n);
	omc_cert *c = NULL;
	assert_err(omc_cert_from_pem(&c, pem, n), OMC_OK);
	char cn[64];
	assert_err(omc_cert_subject_cn(cn, sizeof cn, c), OMC_OK);
	assert_string_equal(cn, "cli.made");
	/* It verifies against itself as the anchor. */
	const omc_cert *chain[] = {c};
	assert_err(omc_cert_chain_verify(chain, 1, chain, 1, 0, NULL), OMC_OK);
	omc_cert_free(c);
	omc_free(pem);
	const char *const refused[] = {"c384.pem", "p384.pem"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(refused); i++) {
		pem = read_file(refused[i], &n);
		assert_err(omc_cert_from_pem(&c, pem, n), OMC_ERR_BAD_FORMAT);
		assert_null(c);
		omc_free(pem);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_chain),
		cmocka_unit_test(test_encrypted_pem),
		cmocka_unit_test(test_their_certificates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
