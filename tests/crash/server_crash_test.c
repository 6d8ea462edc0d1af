/* Power cuts of `openmcim server` with group commit (docs/server.md,
 * "Database"): the server's one database handle writes its commits to the
 * WAL without flushing them, and omc_db_sync flushes the WAL for every
 * request before its answer leaves. A power cut keeps the database file and
 * at least the part of the WAL that the last fdatasync covered, and SQLite's
 * recovery keeps the longest valid prefix of it; so "what a power cut right
 * now would leave" is a copy of the database file and of that much of the
 * WAL, recovered by SQLite. The tests:
 *
 *  - after every answer of two whole provisioning stories (and of refusals
 *    and reads), a cut leaves exactly what the live database holds, every
 *    table (audit and req_jti included): nothing answered was lost;
 *  - the check is not blind: a commit made on the server's handle without
 *    omc_db_sync is missing from the cut;
 *  - eight threads ask the AuC for vectors at once: every vector answered is
 *    in the AV log of a cut taken at the moment its answer arrived (SEC-13:
 *    an SQN is durably reserved before it leaves), and the fdatasyncs are
 *    fewer than the commits (one flush covers several);
 *  - an fdatasync that fails makes every later answer that rests on an
 *    unflushed commit a 500, until a restart.
 * covers: SEC-13, SEC-9, NET-1, DESIGN invariant 4 */
#include "srv_fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "server/server_internal.h"

/* --- what a power cut keeps ------------------------------------------------------------ */

static _Atomic uint64_t durable_len; /* of the WAL, at the last fdatasync */
static atomic_ulong syncs_seen;

static void on_sync(void *arg, const char *wal, uint64_t len)
{
	(void)arg;
	(void)wal;
	uint64_t cur = atomic_load(&durable_len);
	while (len > cur && !atomic_compare_exchange_weak(&durable_len, &cur, len))
		;
	atomic_fetch_add(&syncs_seen, 1);
}

static void copy_file(const char *from, const char *to, uint64_t max)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	uint64_t done = 0;
	char buf[65536];
	while (in >= 0 && done < max) {
		size_t want = max - done < sizeof buf ? (size_t)(max - done) : sizeof buf;
		ssize_t n = read(in, buf, want);
		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_int_equal(write(out, buf, (size_t)n), n);
		done += (uint64_t)n;
	}
	if (in >= 0)
		close(in);
	close(out);
}

/* The database a power cut now would leave, with wal_len bytes of the WAL:
 * its path (in e->dir). */
static const char *cut(sf_env *e, uint64_t wal_len)
{
	static char db[192];
	char from[200], to[200];
	snprintf(db, sizeof db, "%s/cut.db", e->dir);
	snprintf(to, sizeof to, "%s-shm", db);
	unlink(to);
	copy_file(e->db, db, UINT64_MAX);
	snprintf(from, sizeof from, "%s-wal", e->db);
	snprintf(to, sizeof to, "%s-wal", db);
	copy_file(from, to, wal_len);
	return db;
}

/* SHA-256 over every row of every table, in rowid order. */
static void digest(const char *path, int flags, uint8_t out[32])
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(path, &h, flags, NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	sqlite3_stmt *t = NULL;
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
					    &t, NULL),
			 SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(t, 0);
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY rowid", name);
		EVP_DigestUpdate(md, name, strlen(name) + 1);
		sqlite3_stmt *q = NULL;
		assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
		while (sqlite3_step(q) == SQLITE_ROW)
			for (int c = 0; c < sqlite3_column_count(q); c++) {
				const void *p = sqlite3_column_blob(q, c);
				int n = sqlite3_column_bytes(q, c);
				EVP_DigestUpdate(md, &n, sizeof n);
				if (p)
					EVP_DigestUpdate(md, p, (size_t)n);
			}
		sqlite3_finalize(q);
	}
	sqlite3_finalize(t);
	unsigned l = 0;
	assert_int_equal(EVP_DigestFinal_ex(md, out, &l), 1);
	EVP_MD_CTX_free(md);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* true if a cut now keeps everything the live database holds. */
static bool cut_keeps_all(sf_env *e)
{
	uint8_t live[32], kept[32];
	digest(e->db, SQLITE_OPEN_READONLY, live);
	digest(cut(e, atomic_load(&durable_len)), SQLITE_OPEN_READWRITE, kept);
	return memcmp(live, kept, 32) == 0;
}

/* The WAL's header: checkpoint sequence and salts change when a checkpoint
 * lets the WAL start over (then old cut lengths mean nothing). */
static void wal_header(sf_env *e, uint8_t out[24])
{
	char p[200];
	snprintf(p, sizeof p, "%s-wal", e->db);
	memset(out, 0, 24);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		assert_true(read(fd, out, 24) >= 0);
		close(fd);
	}
}

static void up(sf_env *e)
{
	atomic_store(&durable_len, 0);
	atomic_store(&syncs_seen, 0);
	omc_test_db_on_sync(on_sync, NULL);
	sf_up(e);
}

static void down(sf_env *e)
{
	omc_test_db_on_sync(NULL, NULL);
	sf_down(e);
}

/* --- a cut after every answer ---------------------------------------------------------- */

typedef struct watch {
	sf_env *e;
	unsigned answers, lost;
} watch;

static void after_answer(void *arg, int status, const char *body, size_t len)
{
	watch *w = arg;
	(void)body;
	(void)len;
	w->answers++;
	if (!cut_keeps_all(w->e)) {
		w->lost++;
		print_error("an answer (status %d) left before what it rests on was durable\n", status);
	}
}

static void test_cut_after_every_answer(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	watch w = {.e = &e};
	sf_hook = (sf_hooks){.answer = after_answer, .arg = &w};
	sf_dev a, b;
	sf_dev_make(&e, &a, NULL);
	sf_dev_make(&e, &b, NULL);
	sf_provision(&e, &a, 1);
	sf_provision(&e, &b, 2);
	/* Refusals and reads too: a replayed token, a session, the metrics. */
	json_t *o = NULL;
	assert_int_equal(sf_bearer(&e, a.session, "GET", "vno", "/v1/session", NULL, &o), 200);
	json_decref(o);
	assert_int_equal(sf_call(&e, "GET", "dpf", "/metrics", NULL, NULL, NULL), 200);
	char *body = NULL;
	assert_true(asprintf(&body, "{\"token\":\"%s\",\"evidence\":\"%s\"}", a.token, a.evidence) > 0);
	assert_int_equal(sf_bearer(&e, a.session, "POST", "dpf", "/v1/download", body, &o), 409);
	json_decref(o);
	free(body);
	sf_hook = (sf_hooks){0};
	print_message("%u answers, each followed by a power cut: %u lost anything (%lu fdatasyncs)\n", w.answers,
		      w.lost, (unsigned long)atomic_load(&syncs_seen));
	assert_true(w.answers > 20);
	assert_int_equal(w.lost, 0);

	/* Not blind: a commit on the server's handle without omc_db_sync is
	 * not in the cut, and is once something flushes. */
	omc_server *s = e.srv;
	srv_lock(s);
	assert_int_equal(omc_db_exec(s->db, "INSERT INTO audit (time, role, actor, event, subject, result, detail)"
					    " VALUES (1, 'test', 'test', 'unflushed', '-', 'ok', '-')"),
			 OMC_OK);
	uint64_t n = omc_db_written(s->db);
	srv_unlock(s);
	assert_false(cut_keeps_all(&e));
	assert_int_equal(omc_db_sync(s->db, n), OMC_OK);
	assert_true(cut_keeps_all(&e));
	sf_dev_free(&a);
	sf_dev_free(&b);
	down(&e);
}

/* --- vectors from many threads at once -------------------------------------------------- */

#define AV_THREADS 8
#define AV_EACH 12

typedef struct av_run {
	sf_env *e;
	const char *imsi;
	omc_key *key;
	omc_cert *cert;
	uint8_t rand[AV_EACH][16];
	uint64_t len[AV_EACH]; /* durable WAL length when the answer arrived */
	int failed;
} av_run;

static void *av_thread(void *arg)
{
	av_run *r = arg;
	omc_http_client *c = NULL;
	omc_http_client_opts co = {.timeout_ms = 30000};
	if (omc_http_client_new(&c, &co) != OMC_OK) {
		r->failed = -1;
		return NULL;
	}
	char url[256], body[96];
	snprintf(url, sizeof url, "%s/v1/vectors", sf_url(r->e, "auc.ico"));
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":1}", r->imsi);
	for (int i = 0; i < AV_EACH && !r->failed; i++) {
		char *auth = NULL, *ans = NULL;
		size_t al = 0;
		int st = 0;
		if (srv_sign_request(&auth, r->key, r->cert, "POST", "/v1/vectors", body, strlen(body),
				     (int64_t)time(NULL) + r->e->now_offset) != OMC_OK ||
		    omc_http_call_auth(c, "POST", url, auth, body, strlen(body), &st, &ans, &al) != OMC_OK || st != 200) {
			r->failed = st ? st : -2;
		} else {
			/* The moment the answer is here: what a cut would keep. */
			r->len[i] = atomic_load(&durable_len);
			json_error_t je;
			json_t *o = json_loadb(ans, al, 0, &je);
			const char *h = json_string_value(json_object_get(json_array_get(json_object_get(o, "vectors"), 0),
									   "rand"));
			if (!h || omc_hex_decode(r->rand[i], 16, h, strlen(h)) != OMC_OK)
				r->failed = -3;
			json_decref(o);
		}
		omc_free(auth);
		omc_free(ans);
	}
	omc_http_client_free(c);
	return NULL;
}

static bool rand_logged(const char *db, const uint8_t rand[16])
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM auc_av_log WHERE rand = ?1", -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(q, 1, rand, 16, SQLITE_STATIC);
	bool there = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
	sqlite3_finalize(q);
	sqlite3_close(h);
	return there;
}

static void test_concurrent_vectors(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	omc_key *k = NULL;
	omc_cert *c = NULL;
	assert_int_equal(omc_pki_load(e.pki, "vno", &k, &c), OMC_OK);
	uint8_t h0[24], h1[24];
	wal_header(&e, h0);
	uint64_t w0 = omc_db_written(e.srv->db), s0 = omc_db_syncs(e.srv->db);
	static av_run runs[AV_THREADS];
	pthread_t th[AV_THREADS];
	for (int i = 0; i < AV_THREADS; i++) {
		runs[i] = (av_run){.e = &e, .imsi = d.pcid_imsi, .key = k, .cert = c};
		assert_int_equal(pthread_create(&th[i], NULL, av_thread, &runs[i]), 0);
	}
	for (int i = 0; i < AV_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	uint64_t commits = omc_db_written(e.srv->db) - w0, syncs = omc_db_syncs(e.srv->db) - s0;
	print_message("%d vectors from %d threads: %llu commits, %llu fdatasyncs\n", AV_THREADS * AV_EACH, AV_THREADS,
		      (unsigned long long)commits, (unsigned long long)syncs);
	for (int i = 0; i < AV_THREADS; i++)
		assert_int_equal(runs[i].failed, 0);
	/* Two commits a request (the jti, the SQN range and its log), one flush
	 * at most, and flushes shared between threads. */
	assert_true(commits >= 2 * AV_THREADS * AV_EACH);
	assert_true(syncs <= AV_THREADS * AV_EACH);
	assert_true(syncs < commits);
	/* Every vector was in the log of the WAL prefix flushed when its answer
	 * arrived (unless a checkpoint started the WAL over meanwhile). */
	wal_header(&e, h1);
	if (memcmp(h0, h1, 24) == 0) {
		for (int i = 0; i < AV_THREADS; i++)
			for (int j = 0; j < AV_EACH; j++)
				if (!rand_logged(cut(&e, runs[i].len[j]), runs[i].rand[j]))
					fail_msg("thread %d, vector %d: answered before its SQN was durable", i, j);
	} else {
		print_message("the WAL started over during the run: per-answer cuts skipped\n");
	}
	assert_true(cut_keeps_all(&e));
	omc_key_free(k);
	omc_cert_free(c);
	sf_dev_free(&d);
	down(&e);
}

/* --- an fdatasync that fails ----------------------------------------------------------- */

static void test_failed_flush_is_a_500(void **state)
{
	(void)state;
	sf_env e;
	up(&e);
	sf_dev d;
	sf_dev_make(&e, &d, NULL);
	assert_int_equal(sf_report_pcid(&e, &d), 201);
	char body[96];
	snprintf(body, sizeof body, "{\"imsi\":\"%s\",\"n\":1}", d.pcid_imsi);
	json_t *o = NULL;
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.ico", "/v1/vectors", body, &o), 200);
	json_decref(o);
	/* The next flush fails: the vectors are not made, the answer is a 500. */
	omc_test_db_fail_sync();
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.ico", "/v1/vectors", body, &o), 500);
	assert_string_equal(sf_code(o), "internal");
	assert_null(json_object_get(o, "vectors"));
	json_decref(o);
	/* From then on nothing unflushed is taken for durable: a write is a 500,
	 * and so is a read that may have seen it; what needs no database is not. */
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.ico", "/v1/vectors", body, &o), 500);
	json_decref(o);
	assert_int_equal(sf_call(&e, "GET", "dpf", "/metrics", NULL, NULL, NULL), 500);
	assert_int_equal(sf_call(&e, "GET", "dpf", "/healthz", NULL, NULL, &o), 200);
	json_decref(o);
	/* A restart is a new handle (and a new WAL): durable again. */
	sf_stop(&e);
	atomic_store(&durable_len, 0);
	sf_start(&e);
	assert_int_equal(sf_signed(&e, "vno", "POST", "auc.ico", "/v1/vectors", body, &o), 200);
	json_decref(o);
	assert_true(cut_keeps_all(&e));
	sf_dev_free(&d);
	down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_after_every_answer),
		cmocka_unit_test(test_concurrent_vectors),
		cmocka_unit_test(test_failed_flush_is_a_500),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
