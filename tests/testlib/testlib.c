#include "testlib.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

json_t *tl_load_vectors(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", OMC_VECTORS_DIR, name);
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		fail_msg("cannot load %s: %s (line %d)", path, e.text, e.line);
	return j;
}

const char *tl_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		fail_msg("vector lacks string member '%s'", key);
	return json_string_value(v);
}

void tl_hex(uint8_t *out, size_t len, const char *hex)
{
	omc_err e = omc_hex_decode(out, len, hex, strlen(hex));
	if (e != OMC_OK)
		fail_msg("bad test hex '%s' for %zu bytes: %s", hex, len, omc_err_str(e));
}

size_t tl_hex_var(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;
	omc_err e = omc_hex_decode_var(out, cap, &n, hex, strlen(hex));
	if (e != OMC_OK)
		fail_msg("bad test hex '%s': %s", hex, omc_err_str(e));
	return n;
}

void tl_expect_hex(const uint8_t *got, size_t n, const char *want_hex, const char *what, int set)
{
	char buf[2 * 256 + 1];
	if (n > 256)
		fail_msg("tl_expect_hex: %zu bytes is too long", n);
	if (omc_hex_encode(buf, sizeof buf, got, n) != OMC_OK)
		fail_msg("hex encode failed");
	if (strlen(want_hex) != 2 * n || strcasecmp(buf, want_hex) != 0)
		fail_msg("set %d %s: got %s, want %s", set, what, buf, want_hex);
}

int tl_all_bytes_are(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

void tl_make_cred(omc_aka_cred *c, omc_aka_alg alg, size_t k_len, unsigned mac_bits)
{
	uint8_t k[32], opc[32];
	tl_rand(k, sizeof k);
	tl_rand(opc, sizeof opc);
	memset(c, 0, sizeof *c);
	c->alg = alg;
	if (alg == OMC_AKA_ALG_MILENAGE) {
		assert_int_equal(omc_aka_milenage_init(&c->u.milenage, k, opc, NULL), OMC_OK);
	} else {
		omc_aka_tuak_params p;
		omc_aka_tuak_params_default(&p);
		p.mac_bits = mac_bits;
		assert_int_equal(omc_aka_tuak_init(&c->u.tuak, k, k_len, opc, &p), OMC_OK);
	}
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
}

void tl_rand(void *out, size_t n)
{
	if (omc_rand_bytes(out, n) != OMC_OK)
		fail_msg("omc_rand_bytes failed");
}

void tl_milenage_av(omc_aka_av *av, const char *k_hex, const char *opc_hex, uint64_t sqn, const uint8_t amf[2])
{
	uint8_t k[16], opc[16], rnd[16], sq[6];
	tl_hex(k, 16, k_hex);
	tl_hex(opc, 16, opc_hex);
	for (int i = 0; i < 6; i++)
		sq[i] = (uint8_t)(sqn >> (40 - 8 * i));
	tl_rand(rnd, sizeof rnd);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
	assert_int_equal(omc_aka_av_gen(av, &c, rnd, sq, amf), OMC_OK);
	omc_aka_cred_wipe(&c);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);
}

long tl_db_count(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	sqlite3_stmt *q = NULL;
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	long n = sqlite3_step(q) == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : -1;
	sqlite3_finalize(q);
	sqlite3_close(h);
	return n;
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char tmp[4096];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf && n + 1 < cap)
				buf[n++] = tmp[i];
	}
	if (buf && cap)
		buf[n] = '\0';
	return n;
}

int tl_run(const char *cmd, char *out, size_t out_cap, char *err, size_t err_cap)
{
	char errpath[] = "/tmp/omc-test-stderr-XXXXXX";
	int efd = mkstemp(errpath);
	if (efd < 0)
		return -1;
	unlink(errpath);
	int p[2];
	if (pipe(p) != 0) {
		close(efd);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(efd, 2);
		close(p[0]);
		close(p[1]);
		close(efd);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	drain(p[0], out, out_cap);
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) < 0) {
		close(efd);
		return -1;
	}
	lseek(efd, 0, SEEK_SET);
	drain(efd, err, err_cap);
	close(efd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tl_run_bin(const char *bin, char *out, size_t out_cap, char *err, size_t err_cap, const char *fmt, ...)
{
	char args[4096], cmd[4400];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof args ||
	    snprintf(cmd, sizeof cmd, "'%s' %s </dev/null", bin, args) >= (int)sizeof cmd)
		return -1;
	return tl_run(cmd, out, out_cap, err, err_cap);
}

omc_key *tl_key(void)
{
	omc_key *k = NULL;
	assert_err(omc_key_generate(&k), OMC_OK);
	return k;
}

omc_cert *tl_cert(const char *cn, const char *org, bool ca, unsigned days, const omc_key *subject,
		  const omc_cert *issuer, const omc_key *issuer_key)
{
	omc_cert_req req = {.subject_cn = cn, .subject_org = org, .ca = ca, .days = days};
	omc_key *pub = NULL;
	assert_err(omc_key_public(&pub, subject), OMC_OK);
	omc_cert *c = NULL;
	assert_err(omc_cert_issue(&c, &req, pub, issuer, issuer_key), OMC_OK);
	omc_key_free(pub);
	return c;
}

static bool port_free(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

unsigned tl_port_base(unsigned n)
{
	unsigned lo = 32768, hi = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	/* 10000 up to the ephemeral range, or 20000..39999 without room. */
	unsigned first = 10000, span = lo > first + n + 1000 ? lo - first - n : 0;
	if (!span) {
		first = 20000;
		span = 20000;
	}
	uint32_t r = 0;
	for (int tries = 0; tries < 200; tries++) {
		tl_rand(&r, sizeof r);
		unsigned p = first + r % span;
		bool ok = true;
		for (unsigned i = 0; i < n && ok; i++)
			ok = port_free(p + i);
		if (ok)
			return p;
	}
	fail_msg("no %u free ports in a row", n);
	return 0;
}
