/* The database layer (src/server/db.c, db_pg.c; docs/server.md,
 * "Database") on SQLite, and as db_layer_test_pg on PostgreSQL
 * (OMC_TEST_PG, scripts/pg/cluster.sh): one statement API with the same
 * answers on both (EVAL-8: a database server for mass-market fleets), the
 * [db] config section, and two handles on one database as two replicas
 * would be: an SQN is never issued twice (SEC-13: every vector recorded). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/server_internal.h"
#include "srv_fixture.h"
#include "testlib.h"

typedef struct db_env {
	char dir[64];
	char db[192];
} db_env;

static void env_up(db_env *e)
{
	snprintf(e->dir, sizeof e->dir, "/tmp/omc-db-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	sf_db_new(e->db, sizeof e->db, e->dir);
}

static void env_down(db_env *e)
{
	sf_db_drop(e->db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
}

static long count(omc_db *db, const char *sql)
{
	omc_dbs *q = NULL;
	assert_int_equal(omc_db_prepare(db, sql, &q), OMC_DB_OK);
	assert_int_equal(omc_dbs_step(q), OMC_DB_ROW);
	long n = (long)omc_dbs_column_int64(q, 0);
	assert_int_equal(omc_dbs_step(q), OMC_DB_DONE);
	omc_dbs_finalize(q);
	return n;
}

static const char *const ins_sql = "INSERT INTO vno_attach (id, imsi, home, rand, xres_hash, profile, created)"
				   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static int insert(omc_db *db, const char *id, const uint8_t *blob, int blen, int64_t created)
{
	omc_dbs *st = NULL;
	assert_int_equal(omc_db_stmt(db, &st, ins_sql), OMC_OK);
	omc_dbs_bind_text(st, 1, id, -1);
	omc_dbs_bind_text(st, 2, "001010000000001xyz", 15); /* n bytes only */
	omc_dbs_bind_text(st, 3, "it's ?1 home", -1);
	omc_dbs_bind_blob(st, 4, blob, blen);
	omc_dbs_bind_blob(st, 5, blob, 0); /* empty, not NULL */
	omc_dbs_bind_text(st, 6, "{}", -1);
	omc_dbs_bind_int64(st, 7, created);
	int rc = omc_dbs_step(st);
	omc_db_done(db, st);
	return rc;
}

static void test_statements(void **state)
{
	(void)state;
	db_env e;
	env_up(&e);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	assert_int_equal(omc_db_schema_version(db), 8);
	assert_int_equal(db->kind, sf_pg() ? OMC_DB_PG : OMC_DB_SQLITE);

	/* Blobs with NUL and backslash bytes, text of n bytes, int64 ends. */
	const uint8_t blob[] = {0, 0x5c, 'x', 0xff, 0, 0x27, 0x3f};
	assert_int_equal(insert(db, "a", blob, (int)sizeof blob, INT64_MAX), OMC_DB_DONE);
	assert_int_equal(omc_db_changes(db), 1);
	assert_int_equal(insert(db, "b", blob, 1, INT64_MIN), OMC_DB_DONE);
	omc_dbs *q = NULL;
	/* A ? inside a literal is not a parameter; bare ? are numbered. */
	assert_int_equal(omc_db_prepare(db,
					"SELECT id, imsi, home, rand, xres_hash, created, '?' FROM vno_attach"
					" WHERE home = ? AND created <> ? ORDER BY id",
					&q),
			 OMC_DB_OK);
	omc_dbs_bind_text(q, 1, "it's ?1 home", -1);
	omc_dbs_bind_int64(q, 2, 7);
	assert_int_equal(omc_dbs_step(q), OMC_DB_ROW);
	assert_int_equal(omc_dbs_column_count(q), 7);
	assert_string_equal((const char *)omc_dbs_column_text(q, 0), "a");
	assert_string_equal((const char *)omc_dbs_column_text(q, 1), "001010000000001");
	assert_int_equal(omc_dbs_column_type(q, 3), OMC_DB_BLOB);
	assert_int_equal(omc_dbs_column_bytes(q, 3), (int)sizeof blob);
	assert_memory_equal(omc_dbs_column_blob(q, 3), blob, sizeof blob);
	assert_int_equal(omc_dbs_column_bytes(q, 4), 0);
	assert_int_equal(omc_dbs_column_type(q, 5), OMC_DB_INTEGER);
	assert_true(omc_dbs_column_int64(q, 5) == INT64_MAX);
	assert_string_equal((const char *)omc_dbs_column_text(q, 6), "?");
	assert_int_equal(omc_dbs_step(q), OMC_DB_ROW);
	assert_true(omc_dbs_column_int64(q, 5) == INT64_MIN);
	assert_int_equal(omc_dbs_column_bytes(q, 3), 1);
	assert_int_equal(omc_dbs_step(q), OMC_DB_DONE);
	/* Reset: the same bindings, the same rows again. */
	assert_int_equal(omc_dbs_reset(q), OMC_DB_OK);
	assert_int_equal(omc_dbs_step(q), OMC_DB_ROW);
	assert_string_equal((const char *)omc_dbs_column_text(q, 0), "a");
	omc_dbs_finalize(q);

	/* NULL in and out; the cached statement with other types bound. */
	assert_int_equal(omc_db_exec(db, "INSERT INTO drf_device (platform_id, sho, tre_id, pcid_imsi, state, updated)"
					 " VALUES ('p1', 'sho1', NULL, NULL, 'assigned', 1)"),
			 OMC_OK);
	static const char *const upd = "UPDATE drf_device SET tre_id = ?1, transfer_hash = ?2 WHERE platform_id = 'p1'";
	for (int round = 0; round < 2; round++) {
		omc_dbs *st = NULL;
		assert_int_equal(omc_db_stmt(db, &st, upd), OMC_OK);
		if (round == 0) {
			omc_dbs_bind_null(st, 1);
			omc_dbs_bind_blob(st, 2, NULL, 0);
		} else {
			omc_dbs_bind_text(st, 1, "tre-1", -1);
			omc_dbs_bind_blob(st, 2, blob, 3);
		}
		assert_int_equal(omc_dbs_step(st), OMC_DB_DONE);
		assert_int_equal(omc_db_changes(db), 1);
		omc_db_done(db, st);
		assert_int_equal(omc_db_prepare(db, "SELECT tre_id, transfer_hash FROM drf_device", &q), OMC_DB_OK);
		assert_int_equal(omc_dbs_step(q), OMC_DB_ROW);
		if (round == 0) {
			assert_int_equal(omc_dbs_column_type(q, 0), OMC_DB_NULL);
			assert_null(omc_dbs_column_text(q, 0));
			assert_int_equal(omc_dbs_column_type(q, 1), OMC_DB_NULL);
			assert_null(omc_dbs_column_blob(q, 1));
		} else {
			assert_string_equal((const char *)omc_dbs_column_text(q, 0), "tre-1");
			assert_int_equal(omc_dbs_column_bytes(q, 1), 3);
		}
		omc_dbs_finalize(q);
	}

	/* In a transaction a statement that fails fails alone, as in SQLite:
	 * the constraint, then the rest of the transaction commits. */
	assert_int_equal(omc_db_run(db, "BEGIN IMMEDIATE"), OMC_OK);
	assert_int_equal(insert(db, "c", blob, 2, 3), OMC_DB_DONE);
	assert_int_equal(insert(db, "a", blob, 2, 3), OMC_DB_CONSTRAINT);
	assert_int_equal(omc_db_err(OMC_DB_CONSTRAINT), OMC_ERR_EXISTS);
	assert_int_equal(insert(db, "d", blob, 2, 3), OMC_DB_DONE);
	assert_int_equal(omc_db_run(db, "COMMIT"), OMC_OK);
	assert_int_equal(count(db, "SELECT count(*) FROM vno_attach"), 4);
	/* ROLLBACK undoes; UPDATE counts its rows. */
	assert_int_equal(omc_db_run(db, "BEGIN IMMEDIATE"), OMC_OK);
	assert_int_equal(omc_db_exec(db, "UPDATE vno_attach SET created = 9 WHERE id IN ('c', 'd')"), OMC_OK);
	assert_int_equal(omc_db_changes(db), 2);
	assert_int_equal(omc_db_exec(db, "DELETE FROM vno_attach"), OMC_OK);
	omc_db_rollback(db);
	assert_int_equal(count(db, "SELECT count(*) FROM vno_attach WHERE created = 9"), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM vno_attach"), 4);

	/* An identity column where SQLite has its rowid; RETURNING; upserts. */
	for (int64_t want = 1; want <= 3; want++) {
		omc_dbs *st = NULL;
		assert_int_equal(omc_db_prepare(db,
						"INSERT INTO counter (name, value) VALUES (?1, 1) ON CONFLICT (name)"
						" DO UPDATE SET value = counter.value + 1 RETURNING value",
						&st),
				 OMC_DB_OK);
		omc_dbs_bind_text(st, 1, "t", -1);
		assert_int_equal(omc_dbs_step(st), OMC_DB_ROW);
		assert_int_equal(omc_dbs_column_int64(st, 0), want);
		omc_dbs_finalize(st);
		assert_int_equal(omc_db_prepare(db,
						"INSERT INTO audit (time, role, actor, event, subject, result, detail)"
						" VALUES (1, 'r', 'a', 'e', 's', 'ok', '') RETURNING id",
						&st),
				 OMC_DB_OK);
		assert_int_equal(omc_dbs_step(st), OMC_DB_ROW);
		assert_int_equal(omc_dbs_column_int64(st, 0), want);
		omc_dbs_finalize(st);
	}
	/* Bad SQL is an error with a message, not a crash. */
	assert_int_equal(omc_db_exec(db, "SELECT nothing FROM nowhere"), OMC_ERR_IO);
	assert_true(omc_db_errmsg(db)[0] != 0);
	omc_db_close(db);

	/* Opened again: migrated already, the rows there. */
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	assert_int_equal(omc_db_schema_version(db), 8);
	assert_int_equal(count(db, "SELECT count(*) FROM vno_attach"), 4);
	omc_db_close(db);
	env_down(&e);
}

static char logged[2048];

static void log_keep(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)level;
	size_t l = strlen(logged);
	snprintf(logged + l, sizeof logged - l, "%s: %s\n", module, msg);
}

static void test_config(void **state)
{
	(void)state;
	char out[128];
	assert_int_equal(omc_db_config(out, sizeof out, NULL, "/var/lib/omc.db", NULL), OMC_OK);
	assert_string_equal(out, "/var/lib/omc.db");
	assert_false(omc_db_is_pg(out));
	assert_int_equal(omc_db_config(out, sizeof out, "sqlite", "x.db", NULL), OMC_OK);
	assert_string_equal(out, "x.db");
	assert_int_equal(omc_db_config(out, sizeof out, "postgresql", NULL, "postgresql:///omc?host=/run/pg"), OMC_OK);
	assert_string_equal(out, "postgresql:///omc?host=/run/pg");
	assert_true(omc_db_is_pg(out));
	assert_int_equal(omc_db_config(out, sizeof out, "postgresql", NULL, "host=/run/pg dbname=omc"), OMC_OK);
	assert_string_equal(out, "pg:host=/run/pg dbname=omc");
	assert_true(omc_db_is_pg(out));
	assert_true(omc_db_is_pg("postgres://db.example/omc"));
	/* What does not fit together. */
	assert_int_equal(omc_db_config(out, sizeof out, "postgresql", NULL, NULL), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, sizeof out, "postgresql", "x.db", "host=h"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, sizeof out, "sqlite", NULL, NULL), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, sizeof out, "sqlite", "x.db", "host=h"), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, sizeof out, "sqlite", "postgresql:///x", NULL), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, sizeof out, "mysql", "x", NULL), OMC_ERR_BAD_FORMAT);
	assert_int_equal(omc_db_config(out, 4, "sqlite", "long.db", NULL), OMC_ERR_BAD_FORMAT);
	/* The config file's [db], as `openmcim ctl` reads it. */
	char dir[] = "/tmp/omc-dbconf-XXXXXX", conf[64];
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/server.conf", dir);
	static const char *const files[] = {
		"[server]\nmaster_key = m.key\n[db]\nbackend = postgresql\nconninfo = host=/run/pg dbname=omc\n",
		"[server]\nmaster_key = m.key\ndb = x.db\n[db]\nbackend = postgresql\nconninfo = host=/run/pg\n",
		"[server]\nmaster_key = m.key\n[db]\npath = /var/lib/omc.db\n",
		"[server]\nmaster_key = m.key\n[db]\nbackend = postgresql\npath = x.db\n",
	};
	static const char *const want[] = {"pg:host=/run/pg dbname=omc", NULL, "/var/lib/omc.db", NULL};
	for (size_t i = 0; i < 4; i++) {
		FILE *f = fopen(conf, "w");
		assert_non_null(f);
		fputs(files[i], f);
		assert_int_equal(fclose(f), 0);
		omc_server_config c;
		omc_err er = omc_server_config_read(&c, conf);
		if (want[i]) {
			assert_int_equal(er, OMC_OK);
			assert_string_equal(c.db, want[i]);
		} else {
			assert_int_equal(er, OMC_ERR_BAD_FORMAT);
		}
	}
	assert_int_equal(unlink(conf), 0);
	assert_int_equal(rmdir(dir), 0);
	/* A PostgreSQL that is not there: an error, and no password in it. */
	omc_db *db = NULL;
	logged[0] = 0;
	omc_log_set_handler(log_keep, NULL);
	assert_int_equal(omc_db_open(&db, "postgresql://omc:s3cr3t-pw@/nodb?host=/nonexistent-omc"), OMC_ERR_IO);
	omc_log_set_handler(NULL, NULL);
	assert_null(db);
	assert_non_null(strstr(logged, "nonexistent-omc"));
	assert_null(strstr(logged, "s3cr3t"));
}

/* --- the request path's plans and SQLite's cache (issue 8) ---------------------------------- */

/* An EXPLAIN QUERY PLAN's details, joined. */
static void plan_of(omc_db *db, const char *sql, char *out, size_t cap)
{
	char q[512];
	snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
	omc_dbs *st = NULL;
	assert_int_equal(omc_db_prepare(db, q, &st), OMC_DB_OK);
	out[0] = 0;
	while (omc_dbs_step(st) == OMC_DB_ROW) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s; ", (const char *)omc_dbs_column_text(st, 3));
	}
	omc_dbs_finalize(st);
}

/* Schema 8 on both backends; on SQLite, the lookups of the request path
 * that it is for search their index instead of scanning the table (the
 * statements as src/server writes them). */
static void test_request_path_indexes(void **state)
{
	(void)state;
	db_env e;
	env_up(&e);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	static const char in[] = " IN ('dpf_download_receipt', 'drf_device_tre', 'drf_seen_tre', 'drf_seen_pcid',"
				 " 'ccif_pcid_tre', 'sho_device_subscriber', 'sho_mcim_tre')";
	char q[512];
	if (db->kind == OMC_DB_PG)
		snprintf(q, sizeof q, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname%s",
			 in);
	else
		snprintf(q, sizeof q, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name%s", in);
	assert_int_equal(count(db, q), 7);
	static const struct {
		const char *sql, *index;
	} path[] = {
		{"UPDATE dpf_download SET state = 'installed', receipt = ?4 WHERE tre_id = ?1 AND sho = ?2 AND seq = ?3"
		 " RETURNING platform_id, mcim_id",
		 "dpf_download_receipt"},
		{"SELECT sho FROM drf_device WHERE tre_id = ?1 AND state = 'direct'", "drf_device_tre"},
		{"UPDATE drf_device SET state = 'provisioned', updated = ?3 WHERE tre_id = ?1 AND state = 'switching'"
		 " AND ?2 IS NOT NULL",
		 "drf_device_tre"},
		{"SELECT tre_id FROM drf_seen WHERE pcid_imsi = ?1 UNION ALL SELECT tre_id FROM sho_mcim WHERE imsi = ?1"
		 " LIMIT 1",
		 "drf_seen_pcid"},
		{"SELECT 1 FROM ccif_pcid WHERE tre_id = ?1 UNION ALL SELECT 1 FROM drf_seen WHERE tre_id = ?1 LIMIT 1",
		 "ccif_pcid_tre"},
		{"UPDATE drf_seen SET pcid_imsi = ?1, updated = ?4 WHERE tre_id = ?2 AND pcid_imsi = ?3", "drf_seen_"},
		{"SELECT d.platform_id, coalesce(m.state, d.state), m.mcim_id, m.imsi FROM sho_device d"
		 " LEFT JOIN sho_mcim m ON m.operator = d.operator AND m.platform_id = d.platform_id"
		 " WHERE d.operator = ?1 AND d.subscriber = ?2 ORDER BY d.platform_id",
		 "sho_device_subscriber"},
		{"SELECT d.platform_id FROM sho_mcim m JOIN sho_device d ON d.operator = m.operator"
		 " AND d.platform_id = m.platform_id WHERE m.operator = ?1 AND m.tre_id = ?2 AND d.subscriber = ?3"
		 " LIMIT 1",
		 "sho_mcim_tre"},
	};
	for (size_t i = 0; db->kind == OMC_DB_SQLITE && i < sizeof path / sizeof path[0]; i++) {
		char plan[1024];
		plan_of(db, path[i].sql, plan, sizeof plan);
		if (strstr(plan, "SCAN ") || !strstr(plan, path[i].index))
			fail_msg("%s: %s", path[i].sql, plan);
	}
	omc_db_close(db);
	env_down(&e);
}

/* SQLite's page cache and mmap per connection: the defaults, omc_db_cache
 * in range and out of it, and [db] cache_size / mmap_size in the server's
 * config: bad values stop the start with the key and its range in the log,
 * and with PostgreSQL the keys are refused. */
static void test_cache(void **state)
{
	(void)state;
	db_env e;
	env_up(&e);
	omc_db *db = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	assert_int_equal(omc_db_cache(db, OMC_DB_CACHE_KIB_MIN - 1, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_db_cache(db, OMC_DB_CACHE_KIB_MAX + 1ull, 0), OMC_ERR_BAD_ARG);
	assert_int_equal(omc_db_cache(db, 1024, OMC_DB_MMAP_KIB_MAX + 1ull), OMC_ERR_BAD_ARG);
	if (db->kind == OMC_DB_SQLITE) {
		assert_int_equal(count(db, "PRAGMA cache_size"), -(long)OMC_DB_CACHE_KIB_DEFAULT);
		assert_int_equal(count(db, "PRAGMA mmap_size"), (long)OMC_DB_MMAP_KIB_DEFAULT * 1024);
		assert_int_equal(omc_db_cache(db, 1024, 4096), OMC_OK);
		assert_int_equal(count(db, "PRAGMA cache_size"), -1024);
		assert_int_equal(count(db, "PRAGMA mmap_size"), 4096 * 1024);
	} else {
		assert_int_equal(omc_db_cache(db, 1024, 4096), OMC_OK); /* the PostgreSQL server's own */
	}
	omc_db_close(db);
	env_down(&e);

	static const struct {
		const char *lines, *logs;
	} bad[] = {
		{"cache_size = 0\n", "[db] cache_size: KiB, 64 to 4194304"},
		{"cache_size = 63\n", "[db] cache_size: KiB, 64 to 4194304"},
		{"cache_size = 4194305\n", "[db] cache_size: KiB, 64 to 4194304"},
		{"cache_size = -2000\n", "[db] cache_size: KiB, 64 to 4194304"},
		{"cache_size = 64M\n", "[db] cache_size: KiB, 64 to 4194304"},
		{"mmap_size = 2097153\n", "[db] mmap_size: KiB, 0 to 2097152"},
		{"mmap_size = lots\n", "[db] mmap_size: KiB, 0 to 2097152"},
		{"cache_sizes = 1024\n", "[db] cache_sizes: unknown key or bad value"},
	};
	sf_env env;
	uint8_t *orig = NULL;
	size_t ol = 0;
	sf_up_config(&env, &orig, &ol);
	omc_log_set_handler(log_keep, NULL);
	for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
		/* The last: good values, refused with PostgreSQL only. */
		bool good = i == sizeof bad / sizeof bad[0];
		char text[128];
		snprintf(text, sizeof text, "[db]\n%s", good ? "cache_size = 1024\nmmap_size = 4096\n" : bad[i].lines);
		logged[0] = 0;
		omc_server *s = NULL;
		omc_err er = sf_try_config(&env, orig, ol, text, &s);
		if (good && !sf_pg()) {
			assert_int_equal(er, OMC_OK);
			assert_int_equal(count(s->db, "PRAGMA cache_size"), -1024);
			assert_int_equal(count(s->db, "PRAGMA mmap_size"), 4096 * 1024);
			omc_server_stop(s);
			continue;
		}
		if (er != OMC_ERR_BAD_FORMAT) {
			omc_server_stop(s);
			fail_msg("config %zu (%s) not refused: %s", i, good ? "good" : bad[i].lines, omc_err_name(er));
		}
		assert_null(s);
		if (!strstr(logged, good ? "cache_size and mmap_size are SQLite's" : bad[i].logs))
			fail_msg("config %zu: log: %s", i, logged);
	}
	omc_log_set_handler(NULL, NULL);
	omc_free(orig);
	sf_down(&env);
}

/* --- two replicas ------------------------------------------------------------------------ */

#define REPLICA_ROUNDS 40
#define REPLICA_BATCH 4

static const uint8_t master[32] = {7, 1, 2, 3};
static const uint8_t amf[2] = {0x80, 0x00};

typedef struct replica {
	const char *db;
	omc_err err;
} replica;

static void *replica_run(void *arg)
{
	replica *r = arg;
	omc_db *db = NULL;
	omc_auc *a = NULL;
	r->err = omc_db_open(&db, r->db);
	if (r->err == OMC_OK)
		r->err = omc_auc_open(&a, db, "ico", master);
	for (int i = 0; r->err == OMC_OK && i < REPLICA_ROUNDS; i++) {
		omc_aka_av av[REPLICA_BATCH];
		r->err = omc_auc_vectors(a, "001010000000042", amf, av, REPLICA_BATCH);
		omc_memzero(av, sizeof av);
	}
	omc_auc_close(a);
	omc_db_close(db);
	return NULL;
}

/* Two handles on one database (two server replicas on one PostgreSQL):
 * vectors for one subscriber from both at once never share an SQN. */
static void test_two_handles_one_sqn_space(void **state)
{
	(void)state;
	db_env e;
	env_up(&e);
	omc_db *db = NULL;
	omc_auc *a = NULL;
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	assert_int_equal(omc_auc_open(&a, db, "ico", master), OMC_OK);
	omc_aka_cred c = {.alg = OMC_AKA_ALG_MILENAGE};
	uint8_t k[16] = {1, 2, 3}, opc[16] = {4, 5, 6};
	assert_int_equal(omc_aka_milenage_init(&c.u.milenage, k, opc, NULL), OMC_OK);
	assert_int_equal(omc_auc_add(a, "001010000000042", &c, OMC_AKA_IND_BITS_DEFAULT), OMC_OK);
	omc_auc_close(a);
	omc_db_close(db);

	replica r[2] = {{.db = e.db}, {.db = e.db}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, replica_run, &r[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].err, OMC_OK);
	}
	/* Every vector logged once, no SQN twice (TS 33.102 C.1.1). */
	assert_int_equal(omc_db_open(&db, e.db), OMC_OK);
	const long n = 2L * REPLICA_ROUNDS * REPLICA_BATCH;
	assert_int_equal(count(db, "SELECT count(*) FROM auc_av_log"), n);
	assert_int_equal(count(db, "SELECT count(DISTINCT sqn) FROM auc_av_log"), n);
	assert_int_equal(count(db, "SELECT count(DISTINCT rand) FROM auc_av_log"), n);
	omc_db_close(db);
	env_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_request_path_indexes),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_two_handles_one_sqn_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
