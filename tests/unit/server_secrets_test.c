/* The secret canary of `openmcim server` (DESIGN invariant 1): K, OPc and
 * TOPc planted in the factory's PCIDs, those the CCIF generates and those
 * the SHOs generate for their MCIMs never appear in the database file, its
 * WAL, any file of the deployment, any log line (at DBG) or any HTTP
 * answer, in any encoding: raw, hex in either case, base64 and base64url of
 * the bytes and of their hex at every alignment (a JWS payload holding the
 * hex). A positive control shows the scanner finds each form.
 * covers: SEC-6, SEC-12, SEC-13, CCIF-1, CCIF-2, SVC-2, NET-1 */
#include "srv_fixture.h"

#include <ftw.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/server_internal.h"

/* --- what is looked for ------------------------------------------------------------------- */

#define MAX_SECRETS 16
#define MAX_PATTERNS (MAX_SECRETS * 40)

typedef struct secret {
	char name[48];
	uint8_t v[32];
	size_t n;
} secret;

typedef struct pattern {
	char name[80];
	char p[96];
	size_t n;
} pattern;

static secret secrets[MAX_SECRETS];
static size_t n_secrets;
static pattern pats[MAX_PATTERNS];
static size_t n_pats;

static void secret_add(const char *name, const uint8_t *v, size_t n)
{
	assert_true(n_secrets < MAX_SECRETS && n <= 32 && n >= 16);
	secret *s = &secrets[n_secrets++];
	snprintf(s->name, sizeof s->name, "%s", name);
	memcpy(s->v, v, n);
	s->n = n;
}

static void pattern_add(const char *secret_name, const char *form, const void *p, size_t n)
{
	assert_true(n_pats < MAX_PATTERNS && n <= sizeof pats[0].p && n >= 16);
	pattern *t = &pats[n_pats++];
	snprintf(t->name, sizeof t->name, "%s as %s", secret_name, form);
	memcpy(t->p, p, n);
	t->n = n;
}

/* Encoders of the test's own, independent of src/util. */
static void hex(char *out, const uint8_t *in, size_t n, bool upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static size_t b64(char *out, const uint8_t *in, size_t n, bool url)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

/* The base64 characters that depend on `in` alone, wherever it sits in a
 * longer encoded stream: for each offset o (mod 3) of its first byte, the
 * whole groups of 3 bytes that hold only its bytes. Padded or not, inside a
 * JWS or on its own, these characters appear. */
static void b64_forms(const char *secret_name, const char *what, const uint8_t *in, size_t n)
{
	for (int url = 0; url < 2; url++)
		for (size_t o = 0; o < 3; o++) {
			uint8_t buf[72] = {0};
			char enc[100], form[48];
			assert_true(o + n <= sizeof buf);
			memcpy(buf + o, in, n);
			b64(enc, buf, o + n, url != 0);
			size_t from = o ? 4 : 0, to = 4 * ((o + n) / 3);
			snprintf(form, sizeof form, "%s%s at +%zu", url ? "base64url of " : "base64 of ", what, o);
			pattern_add(secret_name, form, enc + from, to - from);
		}
}

static void patterns_build(void)
{
	n_pats = 0;
	for (size_t i = 0; i < n_secrets; i++) {
		const secret *s = &secrets[i];
		char hl[65], hu[65];
		hex(hl, s->v, s->n, false);
		hex(hu, s->v, s->n, true);
		pattern_add(s->name, "raw bytes", s->v, s->n);
		pattern_add(s->name, "hex", hl, 2 * s->n);
		pattern_add(s->name, "HEX", hu, 2 * s->n);
		b64_forms(s->name, "the bytes", s->v, s->n);
		b64_forms(s->name, "the hex", (const uint8_t *)hl, 2 * s->n);
		b64_forms(s->name, "the HEX", (const uint8_t *)hu, 2 * s->n);
	}
}

static bool quiet; /* the positive control plants hits on purpose */

/* Hits of every pattern in buf, each reported. */
static size_t scan(const char *where, const void *buf, size_t n)
{
	size_t hits = 0;
	for (size_t i = 0; i < n_pats; i++) {
		const char *p = buf, *end = p + n;
		while (p < end) {
			const char *h = memmem(p, (size_t)(end - p), pats[i].p, pats[i].n);
			if (!h)
				break;
			if (!quiet)
				print_error("%s: %s at offset %zu\n", where, pats[i].name,
					    (size_t)(h - (const char *)buf));
			hits++;
			p = h + 1;
		}
	}
	return hits;
}

static size_t scan_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0; /* gone meanwhile (a -shm or -journal) */
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	assert_non_null(b);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
			assert_non_null(b);
		}
	}
	fclose(f);
	size_t hits = scan(path, b, n);
	free(b);
	return hits;
}

static size_t tree_hits, tree_files;

static int tree_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F) {
		tree_files++;
		tree_hits += scan_file(path);
	}
	return 0;
}

/* Every file under dir. */
static size_t scan_tree(const char *dir, size_t *files)
{
	tree_hits = tree_files = 0;
	assert_int_equal(nftw(dir, tree_one, 16, FTW_PHYS), 0);
	*files = tree_files;
	return tree_hits;
}

/* --- what is captured ---------------------------------------------------------------------- */

typedef struct capture {
	pthread_mutex_t lock;
	char *b;
	size_t n, cap, items;
} capture;

static void capture_add(capture *c, const char *a, size_t an, const char *z, size_t zn)
{
	pthread_mutex_lock(&c->lock);
	if (c->n + an + zn + 2 > c->cap) {
		c->cap = 2 * (c->n + an + zn + 2) + 4096;
		c->b = realloc(c->b, c->cap);
		assert_non_null(c->b);
	}
	memcpy(c->b + c->n, a, an);
	c->n += an;
	memcpy(c->b + c->n, z, zn);
	c->n += zn;
	c->b[c->n++] = '\n';
	c->items++;
	pthread_mutex_unlock(&c->lock);
}

static capture logs = {.lock = PTHREAD_MUTEX_INITIALIZER};
static capture bodies = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void log_sink(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)level;
	capture *c = arg;
	char m[64];
	int n = snprintf(m, sizeof m, "%s: ", module ? module : "");
	capture_add(c, m, n > 0 ? (size_t)n : 0, msg, strlen(msg));
}

static void answer_sink(void *arg, int status, const char *body, size_t len)
{
	(void)status;
	capture_add(arg, "", 0, body ? body : "", body ? len : 0);
}

/* --- the planted secrets ------------------------------------------------------------------- */

#define PCID1_K "5a0f63e2b71c48d99e2a61f07bd35c14"
#define PCID1_OPC "c3e8017d5ba24f6690d1e73a2c58b40f"
#define PCID2_K "9d4e12a7f06b3c58e1d27a94b0c63f85"
#define PCID2_TOPC "2f7a91c4e05b38d6a1f40e7c92b65d13e8c0472a9f1b63d5c7e20a4819f3b6de"

static void cred_secrets(const char *who, const omc_aka_cred *c)
{
	char n[48];
	if (c->alg == OMC_AKA_ALG_MILENAGE) {
		snprintf(n, sizeof n, "%s K", who);
		secret_add(n, c->u.milenage.k, 16);
		snprintf(n, sizeof n, "%s OPc", who);
		secret_add(n, c->u.milenage.opc, 16);
	} else {
		snprintf(n, sizeof n, "%s K", who);
		secret_add(n, c->u.tuak.k, c->u.tuak.k_len);
		snprintf(n, sizeof n, "%s TOPc", who);
		secret_add(n, c->u.tuak.topc, 32);
	}
}

/* The credential an AuC holds for imsi (opened with the master key). */
static void auc_cred(omc_db *db, const uint8_t master[32], const char *op, const char *imsi, omc_aka_cred *c)
{
	omc_auc *a = NULL;
	assert_int_equal(omc_auc_open(&a, db, op, master), OMC_OK);
	assert_int_equal(omc_auc_cred_get(a, imsi, c), OMC_OK);
	omc_auc_close(a);
}

/* --- the positive control ---------------------------------------------------------------------- */

/* The scanner finds a planted value in each form, and nothing in a buffer
 * without it: without this, zero hits would prove nothing. */
static void test_scanner_finds_planted(void **state)
{
	(void)state;
	quiet = true;
	n_secrets = 0;
	uint8_t k[16];
	tl_hex(k, 16, PCID1_K);
	secret_add("canary K", k, 16);
	patterns_build();
	char buf[512], enc[256];
	/* hex, either case, inside JSON */
	snprintf(buf, sizeof buf, "{\"imsi\":\"001019000000001\",\"k\":\"%s\"}", PCID1_K);
	assert_int_equal(scan("control: hex", buf, strlen(buf)), 1);
	hex(enc, k, 16, true);
	snprintf(buf, sizeof buf, "K=%s;", enc);
	assert_int_equal(scan("control: HEX", buf, strlen(buf)), 1);
	/* raw bytes after some others */
	memset(buf, 0xa5, sizeof buf);
	memcpy(buf + 77, k, 16);
	assert_int_equal(scan("control: raw", buf, sizeof buf), 1);
	/* base64 and base64url of the bytes, at each offset */
	for (size_t o = 0; o < 3; o++)
		for (int url = 0; url < 2; url++) {
			uint8_t raw[40];
			memset(raw, 0x3c, sizeof raw);
			memcpy(raw + 5 + o, k, 16);
			b64(enc, raw, sizeof raw, url != 0);
			assert_true(scan("control: base64", enc, strlen(enc)) >= 1);
		}
	/* an unencrypted JWS payload carrying the hex */
	char json[128];
	snprintf(json, sizeof json, "{\"alg\":\"milenage\",\"k\":\"%s\"}", PCID1_K);
	b64(enc, (const uint8_t *)json, strlen(json), true);
	snprintf(buf, sizeof buf, "eyJhbGciOiJFUzI1NiJ9.%s.c2ln", enc);
	assert_true(scan("control: JWS payload", buf, strlen(buf)) >= 1);
	/* the file walker: a file deep in a tree */
	char dir[64], sub[96], path[128];
	snprintf(dir, sizeof dir, "/tmp/omc-canary-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof sub, "%s/a", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof path, "%s/log.txt", sub);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "line one\nsecret %s here\n", PCID1_K);
	fclose(f);
	size_t files = 0;
	assert_int_equal(scan_tree(dir, &files), 1);
	assert_int_equal(files, 1);
	/* and nothing where it is not */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(scan_tree(dir, &files), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
	k[0] ^= 1;
	snprintf(buf, sizeof buf, "%02x%s", k[0], &PCID1_K[2]);
	assert_int_equal(scan("control: another K", buf, strlen(buf)), 0);
	omc_memzero(k, sizeof k);
	quiet = false;
}

/* --- the canary ---------------------------------------------------------------------------- */

/* SEC-6, SEC-12: the story for two devices (sho1 MILENAGE, sho2 TUAK)
 * with planted PCIDs and a third with a PCID the CCIF generated, every log
 * line and answer captured; then no secret anywhere. */
static void test_no_secret_anywhere(void **state)
{
	(void)state;
	omc_log_level old_level = omc_log_get_level();
	omc_log_set_level(OMC_LOG_LEVEL_DBG);
	omc_log_set_handler(log_sink, &logs);
	sf_hook = (sf_hooks){.answer = answer_sink, .arg = &bodies};
	sf_env e;
	sf_up(&e);
	static const char *const pcid[2] = {
		"{\"imsi\":\"001019000000701\",\"k\":\"" PCID1_K "\",\"opc\":\"" PCID1_OPC "\"}",
		"{\"imsi\":\"001019000000702\",\"alg\":\"tuak\",\"k\":\"" PCID2_K "\",\"topc\":\"" PCID2_TOPC "\"}",
	};
	static sf_dev d[3];
	for (int i = 0; i < 2; i++) {
		sf_dev_make(&e, &d[i], pcid[i]);
		sf_provision(&e, &d[i], i + 1);
	}
	/* CCIF-1 mode "ccif": a PCID made by the CCIF, handed to the M2MES */
	json_t *o = NULL;
	assert_int_equal(sf_signed(&e, "m2mes", "POST", "ccif", "/v1/pcids", "{\"count\":1}", &o), 201);
	const char *jwe = json_string_value(json_object_get(json_array_get(json_object_get(o, "pcids"), 0), "pcid"));
	assert_non_null(jwe);
	omc_key *mk = NULL;
	assert_int_equal(omc_pki_load(e.pki, "m2mes", &mk, NULL), OMC_OK);
	uint8_t *pt = NULL;
	size_t pl = 0;
	assert_int_equal(omc_jwe_decrypt(&pt, &pl, jwe, strlen(jwe), mk), OMC_OK);
	omc_key_free(mk);
	json_decref(o);
	sf_dev_make(&e, &d[2], (const char *)pt);
	omc_free(pt);
	assert_int_equal(sf_attach(&e, &d[2], NULL), 200);
	/* More answers to scan: the operational session, the subscriber's
	 * list, the AuC's vectors for an MCIM, the metrics. */
	assert_int_equal(sf_bearer(&e, d[0].session, "GET", "vno", "/v1/session", NULL, NULL), 200);
	assert_int_equal(sf_bearer(&e, e.tokens[0], "GET", "sho.sho1", "/v1/devices", NULL, NULL), 200);
	assert_int_equal(sf_bearer(&e, e.tokens[1], "GET", "sho.sho2", "/v1/devices", NULL, NULL), 200);
	char body[64];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":4}", d[0].mcim_imsi);
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.sho1", "/v1/vectors", body, NULL), 200);
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":4}", d[1].mcim_imsi);
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.sho2", "/v1/vectors", body, NULL), 200);
	assert_int_equal(sf_call(&e, "GET", "vno", "/metrics", NULL, NULL, NULL), 200);

	/* Every secret: the planted ones and those the CCIF and SHOs made,
	 * read back from the AuCs under the master key. */
	n_secrets = 0;
	uint8_t master[32];
	char mpath[160];
	snprintf(mpath, sizeof mpath, "%s/master.key", e.dir);
	FILE *f = fopen(mpath, "rb");
	assert_non_null(f);
	assert_int_equal(fread(master, 1, 32, f), 32);
	fclose(f);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	omc_aka_cred c;
	auc_cred(db, master, "ico", d[0].pcid_imsi, &c);
	assert_int_equal(c.alg, OMC_AKA_ALG_MILENAGE);
	uint8_t want[32];
	tl_hex(want, 16, PCID1_K);
	assert_memory_equal(c.u.milenage.k, want, 16);
	tl_hex(want, 16, PCID1_OPC);
	assert_memory_equal(c.u.milenage.opc, want, 16);
	cred_secrets("planted PCID 1", &c);
	auc_cred(db, master, "ico", d[1].pcid_imsi, &c);
	assert_int_equal(c.alg, OMC_AKA_ALG_TUAK);
	tl_hex(want, 16, PCID2_K);
	assert_int_equal(c.u.tuak.k_len, 16);
	assert_memory_equal(c.u.tuak.k, want, 16);
	tl_hex(want, 32, PCID2_TOPC);
	assert_memory_equal(c.u.tuak.topc, want, 32);
	cred_secrets("planted PCID 2", &c);
	auc_cred(db, master, "ico", d[2].pcid_imsi, &c);
	cred_secrets("CCIF's PCID", &c);
	auc_cred(db, master, "sho1", d[0].mcim_imsi, &c);
	assert_int_equal(c.alg, OMC_AKA_ALG_MILENAGE);
	cred_secrets("sho1's MCIM", &c);
	auc_cred(db, master, "sho2", d[1].mcim_imsi, &c);
	assert_int_equal(c.alg, OMC_AKA_ALG_TUAK);
	cred_secrets("sho2's MCIM", &c);
	omc_aka_cred_wipe(&c);
	omc_memzero(master, sizeof master);
	omc_db_close(db);
	assert_int_equal(n_secrets, 10);
	patterns_build();

	/* The database and its WAL while the server runs, every file of the
	 * deployment, every log line, every answer. */
	size_t hits = 0, files = 0;
	if (sf_pg()) {
		/* PostgreSQL (the _pg entry): every file of the cluster, its
		 * tables and its WAL (pg_wal), as it runs and once the server has
		 * closed its connection and a checkpoint wrote the pages. */
		char data[256];
		snprintf(data, sizeof data, "%s/data", getenv("OMC_TEST_PG"));
		hits += scan_tree(data, &files);
		assert_true(files >= 100); /* base/, pg_wal/, global/... */
		hits += scan_tree(e.dir, &files);
		sf_stop(&e);
		sf_db_exec(&e, "CHECKPOINT");
		hits += scan_tree(data, &files);
	} else {
		char wal[256];
		snprintf(wal, sizeof wal, "%s-wal", e.db);
		assert_int_equal(access(wal, R_OK), 0);
		hits = scan_file(e.db) + scan_file(wal);
		hits += scan_tree(e.dir, &files);
		assert_true(files >= 6); /* db, wal, conf, master.key, subscribers.json, pki/... */
		sf_stop(&e);
		/* and once the server has closed the database (the WAL checkpointed) */
		hits += scan_file(e.db);
	}
	hits += scan_tree(e.dir, &files);
	omc_log_set_handler(NULL, NULL);
	omc_log_set_level(old_level);
	sf_hook = (sf_hooks){0};
	print_message("scanned %zu patterns over %zu log lines, %zu answers (%zu bytes), %zu files\n", n_pats,
		      logs.items, bodies.items, bodies.n, files);
	assert_true(logs.items > 0);
	assert_true(bodies.items >= 25);
	hits += scan("log", logs.b, logs.n);
	hits += scan("answers", bodies.b, bodies.n);
	assert_int_equal(hits, 0);
	free(logs.b);
	free(bodies.b);
	logs.b = bodies.b = NULL;
	logs.n = logs.cap = bodies.n = bodies.cap = 0;
	sf_start(&e);
	for (int i = 0; i < 3; i++)
		sf_dev_free(&d[i]);
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanner_finds_planted),
		cmocka_unit_test(test_no_secret_anywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
