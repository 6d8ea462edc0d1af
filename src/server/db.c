/* The database layer of the network roles: the statement API over both
 * backends (omc_dbs_*, dispatching to db_pg.c for PostgreSQL), and SQLite.
 *
 * SQLite: WAL mode with a busy
 * timeout, foreign keys on, and the schema migrated step by step through
 * PRAGMA user_version. Each step is one transaction, so a crash during a
 * migration leaves the previous version whole.
 *
 * Group commit (omc_db_group_commit, for the server's one shared handle):
 * synchronous = FULL flushes the WAL inside every COMMIT, under the lock
 * that serialises the handle, so every commit of every role costs a flush
 * of its own and everybody waits for it. With group commit the handle runs
 * synchronous = NORMAL (the commit's frames are written to the WAL, not
 * flushed) and the flush is omc_db_sync's: an fdatasync of the WAL, by one
 * thread, outside that lock, for every commit written before it began. A
 * commit is durable once its frames are (SQLite's WAL recovery keeps the
 * longest valid prefix of the WAL); SQLite itself still flushes the WAL
 * before every checkpoint and the database after it, so frames that a
 * checkpoint copies and a WAL restart overwrites were flushed first. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/db_internal.h"

/* Step i takes the schema from version i to i + 1, on both backends.
 * Portable SQL only (types INTEGER, TEXT, BLOB, which db_pg.c gives to
 * PostgreSQL as BIGINT, BYTEA and an identity column for INTEGER PRIMARY
 * KEY; no STRICT, no WITHOUT ROWID). */
static const char *const migrations[] = {
	/* 0 -> 1: the AuC */
	"CREATE TABLE auc_subscriber ("
	" imsi TEXT NOT NULL PRIMARY KEY,"
	" operator TEXT NOT NULL,"
	" alg TEXT NOT NULL,"
	" secrets BLOB NOT NULL,"
	" ind_bits INTEGER NOT NULL,"
	" seq_he INTEGER NOT NULL,"
	" next_ind INTEGER NOT NULL,"
	" enabled INTEGER NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX auc_subscriber_operator ON auc_subscriber(operator);"
	"CREATE TABLE auc_av_log ("
	" id INTEGER PRIMARY KEY,"
	" imsi TEXT NOT NULL REFERENCES auc_subscriber(imsi),"
	" sqn INTEGER NOT NULL,"
	" rand BLOB NOT NULL,"
	" issued INTEGER NOT NULL);"
	"CREATE INDEX auc_av_log_imsi ON auc_av_log(imsi);",
	/* 1 -> 2: the roles of `openmcim server` (docs/server.md) */
	"ALTER TABLE auc_subscriber ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE auc_subscriber ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';"
	"CREATE TABLE counter (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE req_jti (jti TEXT NOT NULL PRIMARY KEY, seen INTEGER NOT NULL);"
	"CREATE INDEX req_jti_seen ON req_jti(seen);"
	"CREATE TABLE audit (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, role TEXT NOT NULL,"
	" actor TEXT NOT NULL, event TEXT NOT NULL, subject TEXT NOT NULL, result TEXT NOT NULL,"
	" detail TEXT NOT NULL);"
	"CREATE TABLE ccif_pcid (imsi TEXT NOT NULL PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT NULL,"
	" tre_id TEXT, created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE TABLE vno_attach (id TEXT NOT NULL PRIMARY KEY, imsi TEXT NOT NULL, home TEXT NOT NULL,"
	" rand BLOB NOT NULL, xres_hash BLOB NOT NULL, profile TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE vno_session (token_hash BLOB NOT NULL PRIMARY KEY, imsi TEXT NOT NULL, home TEXT NOT NULL,"
	" scope TEXT NOT NULL, data_only INTEGER NOT NULL, volume_cap INTEGER NOT NULL, used INTEGER NOT NULL,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE INDEX vno_session_imsi ON vno_session(imsi);"
	"CREATE TABLE drf_device (platform_id TEXT NOT NULL PRIMARY KEY, sho TEXT NOT NULL, tre_id TEXT,"
	" pcid_imsi TEXT, state TEXT NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE drf_seen (platform_id TEXT NOT NULL PRIMARY KEY, tre_id TEXT NOT NULL,"
	" pcid_imsi TEXT NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE pva_nonce (nonce TEXT NOT NULL PRIMARY KEY, session TEXT NOT NULL, created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL, used INTEGER NOT NULL);"
	"CREATE TABLE pva_device (tre_id TEXT NOT NULL PRIMARY KEY, boot_count INTEGER NOT NULL,"
	" generation INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE pva_reference (model TEXT NOT NULL, version TEXT NOT NULL, component TEXT NOT NULL,"
	" digest TEXT NOT NULL, PRIMARY KEY (model, version, component, digest));"
	"CREATE TABLE pva_token (jti TEXT NOT NULL PRIMARY KEY, tre_id TEXT NOT NULL, issued INTEGER NOT NULL,"
	" expires INTEGER NOT NULL);"
	"CREATE TABLE sho_subscriber (operator TEXT NOT NULL, name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,"
	" created INTEGER NOT NULL, PRIMARY KEY (operator, name));"
	"CREATE TABLE sho_device (operator TEXT NOT NULL, platform_id TEXT NOT NULL, subscriber TEXT NOT NULL,"
	" profile TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (operator, platform_id));"
	"CREATE TABLE sho_mcim (mcim_id TEXT NOT NULL PRIMARY KEY, operator TEXT NOT NULL, platform_id TEXT NOT NULL,"
	" tre_id TEXT NOT NULL, imsi TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, state TEXT NOT NULL,"
	" seq INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE INDEX sho_mcim_device ON sho_mcim(operator, platform_id);"
	"CREATE TABLE dpf_download (id INTEGER PRIMARY KEY, token_jti TEXT NOT NULL UNIQUE, tre_id TEXT NOT NULL,"
	" platform_id TEXT NOT NULL, sho TEXT NOT NULL, mcim_id TEXT NOT NULL, imsi TEXT NOT NULL,"
	" seq INTEGER NOT NULL, state TEXT NOT NULL, receipt TEXT, created INTEGER NOT NULL);"
	"CREATE TABLE dpf_command (id INTEGER PRIMARY KEY, tre_id TEXT NOT NULL, issuer TEXT NOT NULL,"
	" command TEXT NOT NULL, state TEXT NOT NULL, result TEXT, created INTEGER NOT NULL);"
	"CREATE INDEX dpf_command_tre ON dpf_command(tre_id, state);",
	/* 2 -> 3: the purges of every PVA nonce and VNO attach request (DELETE
	 * ... WHERE expires / created < ?) find their rows without a scan */
	("CREATE INDEX pva_nonce_expires ON pva_nonce(expires);"
	 "CREATE INDEX vno_attach_created ON vno_attach(created);"),
	/* 3 -> 4: PCID renewal (CHG-4, CHG-5): the CCIF's single-use nonces,
	 * and each new PCID sent to a TRE until its receipt retires the old */
	("CREATE TABLE ccif_nonce (nonce TEXT NOT NULL PRIMARY KEY, session TEXT NOT NULL, created INTEGER NOT NULL,"
	 " expires INTEGER NOT NULL, used INTEGER NOT NULL);"
	 "CREATE INDEX ccif_nonce_expires ON ccif_nonce(expires);"
	 "CREATE TABLE ccif_renewal (imsi TEXT NOT NULL PRIMARY KEY, tre_id TEXT NOT NULL, version INTEGER NOT NULL,"
	 " old_imsi TEXT, state TEXT NOT NULL, created INTEGER NOT NULL, receipt TEXT);"
	 "CREATE INDEX ccif_renewal_tre ON ccif_renewal(tre_id);"),
	/* 4 -> 5: a device's transfer code (its SHA-256): what a subscriber
	 * shows to move the device to another SHO (CHG-1) */
	"ALTER TABLE drf_device ADD COLUMN transfer_hash BLOB;",
	/* 5 -> 6: the DPF's claims of the validation tokens of the downloads in
	 * progress, in the database so that replicas share them */
	"CREATE TABLE dpf_claim (token_jti TEXT NOT NULL PRIMARY KEY, claimed INTEGER NOT NULL);",
	/* 6 -> 7: the VNO's protected-link keys (sealed under the master key)
	 * and replay windows, under the challenge and then the session, so
	 * that replicas share them (SEC-11, docs/link.md) */
	"CREATE TABLE vno_link (attach_hash BLOB NOT NULL PRIMARY KEY, imsi TEXT NOT NULL, token_hash BLOB UNIQUE,"
	" sealed BLOB NOT NULL, rx_any INTEGER NOT NULL, rx_top INTEGER NOT NULL, rx_seen INTEGER NOT NULL,"
	" tx_next INTEGER NOT NULL, tx_done INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE INDEX vno_link_expires ON vno_link(expires);",
	/* 7 -> 8: the lookups of the request path that scanned a whole table
	 * (EXPLAIN QUERY PLAN, issue 8; docs/sim.md, MEASUREMENTS): the DPF's
	 * receipt by (tre_id, sho, seq) and its command poll by the TRE's
	 * drf_device row, the TRE and PCID lookups of the DRF's sightings and
	 * the CCIF's PCIDs, an SHO's devices of one subscriber and its MCIMs
	 * of one TRE, which searched every row of the operator */
	("CREATE INDEX dpf_download_receipt ON dpf_download(tre_id, sho, seq);"
	 "CREATE INDEX drf_device_tre ON drf_device(tre_id);"
	 "CREATE INDEX drf_seen_tre ON drf_seen(tre_id);"
	 "CREATE INDEX drf_seen_pcid ON drf_seen(pcid_imsi);"
	 "CREATE INDEX ccif_pcid_tre ON ccif_pcid(tre_id);"
	 "CREATE INDEX sho_device_subscriber ON sho_device(operator, subscriber, platform_id);"
	 "CREATE INDEX sho_mcim_tre ON sho_mcim(tre_id, operator);"),
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

bool omc_db_is_pg(const char *path)
{
	return path && (!strncmp(path, "postgresql://", 13) || !strncmp(path, "postgres://", 11) ||
			!strncmp(path, "pg:", 3));
}

omc_err omc_db_config(char *out, size_t cap, const char *backend, const char *path, const char *conninfo)
{
	OMC_ENSURE(out && cap, OMC_ERR_BAD_ARG);
	out[0] = 0;
	int n = -1;
	if (!backend || !strcmp(backend, "sqlite")) {
		if (path && path[0] && !(conninfo && conninfo[0]) && !omc_db_is_pg(path))
			n = snprintf(out, cap, "%s", path);
	} else if (!strcmp(backend, "postgresql")) {
		if (conninfo && conninfo[0] && !(path && path[0]))
			n = snprintf(out, cap, "%s%s", omc_db_is_pg(conninfo) ? "" : "pg:", conninfo);
	}
	if (n < 0 || (size_t)n >= cap) {
		out[0] = 0;
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

omc_err omc_db_exec(omc_db *db, const char *sql)
{
	if (db->kind == OMC_DB_PG)
		return omc_db_err(omc_pg_exec(db, sql));
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		OMC_LOG_ERR("db", "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		OMC_BAIL(omc_db_err(rc));
	}
	return OMC_OK;
}

void omc_db_rollback(omc_db *db)
{
	if (db->kind == OMC_DB_PG)
		(void)omc_pg_exec(db, "ROLLBACK");
	else
		(void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* --- statements ---------------------------------------------------------------------------- */

int omc_db_prepare(omc_db *db, const char *sql, omc_dbs **out)
{
	*out = NULL;
	omc_dbs *st = omc_calloc(1, sizeof *st);
	if (!st) {
		if (db->kind == OMC_DB_PG)
			db->pg_rc = OMC_DB_NOMEM;
		return OMC_DB_NOMEM;
	}
	st->db = db;
	int rc = db->kind == OMC_DB_PG ? omc_pg_prepare(st, sql)
				       : sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite, NULL);
	if (rc != OMC_DB_OK) {
		omc_dbs_finalize(st);
		return rc;
	}
	*out = st;
	return OMC_DB_OK;
}

void omc_dbs_finalize(omc_dbs *st)
{
	if (!st)
		return;
	if (st->pg)
		omc_pg_finalize(st);
	sqlite3_finalize(st->lite);
	omc_free(st);
}

void omc_dbs_bind_text(omc_dbs *st, int i, const char *p, int n)
{
	if (st->db->kind == OMC_DB_PG)
		omc_pg_bind(st, i, p ? OMC_DB_TEXT : OMC_DB_NULL, p, n, 0);
	else
		sqlite3_bind_text(st->lite, i, p, n, SQLITE_STATIC);
}

void omc_dbs_bind_blob(omc_dbs *st, int i, const void *p, int n)
{
	if (st->db->kind == OMC_DB_PG)
		omc_pg_bind(st, i, p ? OMC_DB_BLOB : OMC_DB_NULL, p, n, 0);
	else
		sqlite3_bind_blob(st->lite, i, p, n, SQLITE_STATIC);
}

void omc_dbs_bind_int64(omc_dbs *st, int i, int64_t v)
{
	if (st->db->kind == OMC_DB_PG)
		omc_pg_bind(st, i, OMC_DB_INTEGER, NULL, 0, v);
	else
		sqlite3_bind_int64(st->lite, i, v);
}

void omc_dbs_bind_null(omc_dbs *st, int i)
{
	if (st->db->kind == OMC_DB_PG)
		omc_pg_bind(st, i, OMC_DB_NULL, NULL, 0, 0);
	else
		sqlite3_bind_null(st->lite, i);
}

int omc_dbs_step(omc_dbs *st)
{
	return st->pg ? omc_pg_step(st) : sqlite3_step(st->lite);
}

int omc_dbs_reset(omc_dbs *st)
{
	if (!st->pg)
		return sqlite3_reset(st->lite);
	omc_pg_reset(st);
	return OMC_DB_OK;
}

int64_t omc_dbs_column_int64(omc_dbs *st, int c)
{
	return st->pg ? omc_pg_int64(st, c) : (int64_t)sqlite3_column_int64(st->lite, c);
}

int omc_dbs_column_int(omc_dbs *st, int c)
{
	return (int)omc_dbs_column_int64(st, c);
}

const unsigned char *omc_dbs_column_text(omc_dbs *st, int c)
{
	return st->pg ? omc_pg_text(st, c) : sqlite3_column_text(st->lite, c);
}

const void *omc_dbs_column_blob(omc_dbs *st, int c)
{
	return st->pg ? omc_pg_blob(st, c) : sqlite3_column_blob(st->lite, c);
}

int omc_dbs_column_bytes(omc_dbs *st, int c)
{
	return st->pg ? omc_pg_bytes(st, c) : sqlite3_column_bytes(st->lite, c);
}

int omc_dbs_column_type(omc_dbs *st, int c)
{
	return st->pg ? omc_pg_type(st, c) : sqlite3_column_type(st->lite, c);
}

int omc_dbs_column_count(omc_dbs *st)
{
	return st->pg ? omc_pg_count(st) : sqlite3_column_count(st->lite);
}

int64_t omc_db_changes(omc_db *db)
{
	return db->kind == OMC_DB_PG ? db->pg_changes : (int64_t)sqlite3_changes(db->h);
}

const char *omc_db_errmsg(omc_db *db)
{
	return db->kind == OMC_DB_PG ? db->pg_msg : sqlite3_errmsg(db->h);
}

int omc_db_errcode(omc_db *db)
{
	return db->kind == OMC_DB_PG ? db->pg_rc : sqlite3_errcode(db->h);
}

static const char *stmt_sql(const omc_dbs *st)
{
	return st->pg ? omc_pg_sql(st) : sqlite3_sql(st->lite);
}

omc_err omc_db_stmt(omc_db *db, omc_dbs **st, const char *sql)
{
	*st = NULL;
	size_t slot = OMC_DB_STMTS;
	for (size_t i = 0; i < db->n_stmts && slot == OMC_DB_STMTS; i++)
		if (db->stmts[i].sql == sql)
			slot = i;
	if (slot < OMC_DB_STMTS && !db->stmts[slot].busy && !strcmp(stmt_sql(db->stmts[slot].st), sql)) {
		db->stmts[slot].busy = true;
		*st = db->stmts[slot].st;
		return OMC_OK;
	}
	int rc = omc_db_prepare(db, sql, st);
	if (rc != OMC_DB_OK) {
		/* A statement not allocated leaves SQLite's own message at
		 * "not an error": say what happened. */
		OMC_LOG_ERR("db", "%s", rc == OMC_DB_NOMEM ? "out of memory" : omc_db_errmsg(db));
		*st = NULL;
		OMC_BAIL(omc_db_err(rc));
	}
	/* Kept when the text is new and there is room; else finalized when done. */
	if (slot == OMC_DB_STMTS && db->n_stmts < OMC_DB_STMTS) {
		db->stmts[db->n_stmts].sql = sql;
		db->stmts[db->n_stmts].st = *st;
		db->stmts[db->n_stmts].busy = true;
		db->n_stmts++;
	}
	return OMC_OK;
}

void omc_db_done(omc_db *db, omc_dbs *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < db->n_stmts; i++)
		if (db->stmts[i].st == st) {
			if (st->pg) {
				omc_pg_reset(st);
				omc_pg_clear(st);
			} else {
				(void)sqlite3_reset(st->lite);
				(void)sqlite3_clear_bindings(st->lite);
			}
			db->stmts[i].busy = false;
			return;
		}
	omc_dbs_finalize(st);
}

omc_err omc_db_run(omc_db *db, const char *sql)
{
	if (db->kind == OMC_DB_PG)
		return omc_db_err(omc_pg_exec(db, sql));
	omc_dbs *st;
	OMC_TRY(omc_db_stmt(db, &st, sql));
	int rc = omc_dbs_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		OMC_LOG_ERR("db", "%s", sqlite3_errmsg(db->h));
	omc_db_done(db, st);
	OMC_ENSURE(rc == SQLITE_DONE || rc == SQLITE_ROW, omc_db_err(rc));
	return OMC_OK;
}

omc_err omc_db_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return OMC_OK;
	case SQLITE_NOMEM:
		return OMC_ERR_NOMEM;
	case SQLITE_CONSTRAINT:
		return OMC_ERR_EXISTS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return OMC_ERR_CORRUPT;
	default:
		return OMC_ERR_IO;
	}
}

static int user_version(sqlite3 *h)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static omc_err migrate(omc_db *db)
{
	if (db->kind == OMC_DB_PG)
		return omc_pg_migrate(db, migrations, SCHEMA_VERSION);
	int v = user_version(db->h);
	OMC_ENSURE(v >= 0, OMC_ERR_IO);
	OMC_ENSURE(v <= SCHEMA_VERSION, OMC_ERR_UNSUPPORTED);
	for (; v < SCHEMA_VERSION; v++) {
		char setv[64];
		snprintf(setv, sizeof setv, "PRAGMA user_version = %d;", v + 1);
		OMC_TRY(omc_db_exec(db, "BEGIN IMMEDIATE"));
		omc_err e = omc_db_exec(db, migrations[v]);
		if (e == OMC_OK)
			e = omc_db_exec(db, setv);
		if (e == OMC_OK)
			e = omc_db_exec(db, "COMMIT");
		if (e != OMC_OK) {
			(void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
			return e;
		}
	}
	return OMC_OK;
}

omc_err omc_db_open(omc_db **out, const char *path)
{
	OMC_ENSURE(out != NULL && path != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_db *db = omc_calloc(1, sizeof *db);
	OMC_ENSURE(db != NULL, OMC_ERR_NOMEM);
	omc_err e;
	if (omc_db_is_pg(path)) {
		/* PostgreSQL: one connection, synchronous_commit on (db_pg.c). */
		db->kind = OMC_DB_PG;
		e = omc_pg_open(db, path);
	} else {
		int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
					 NULL);
		e = rc == SQLITE_OK ? OMC_OK : OMC_ERR_IO;
		if (e == OMC_OK)
			sqlite3_busy_timeout(db->h, 5000);
		/* WAL: readers do not block the writer; synchronous=FULL: a commit
		 * that returned is on disk (the AuC's SQN promise depends on it),
		 * until omc_db_group_commit hands the flushes to omc_db_sync. */
		if (e == OMC_OK)
			e = omc_db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
	}
	if (e == OMC_OK)
		e = omc_db_cache(db, OMC_DB_CACHE_KIB_DEFAULT, OMC_DB_MMAP_KIB_DEFAULT);
	if (e == OMC_OK)
		e = migrate(db);
	if (e != OMC_OK) {
		omc_db_close(db);
		return e;
	}
	*out = db;
	return OMC_OK;
}

/* SQLite's default cache is 2,000 KiB, and every page it misses is a
 * read() of the file. The default here, 8 MiB, holds the interior pages of
 * every table and index (about 50 bytes per device) up to some 150,000
 * devices (issue 8; docs/server.md, "Database"). The cache grows as pages
 * are read or written, up to the bound. */
omc_err omc_db_cache(omc_db *db, uint64_t cache_kib, uint64_t mmap_kib)
{
	OMC_ENSURE(db != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(cache_kib >= OMC_DB_CACHE_KIB_MIN && cache_kib <= OMC_DB_CACHE_KIB_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(mmap_kib <= OMC_DB_MMAP_KIB_MAX, OMC_ERR_BAD_ARG);
	if (db->kind == OMC_DB_PG)
		return OMC_OK;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%llu; PRAGMA mmap_size = %llu;", (unsigned long long)cache_kib,
		 (unsigned long long)mmap_kib * 1024);
	return omc_db_exec(db, sql);
}

void omc_db_close(omc_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_stmts; i++)
		omc_dbs_finalize(db->stmts[i].st);
	if (db->kind == OMC_DB_PG)
		omc_pg_close(db);
	else
		sqlite3_close(db->h);
	if (db->group && db->kind == OMC_DB_SQLITE)
		close(db->wal_fd);
	omc_free(db->wal_path);
	if (db->sync_made) {
		pthread_mutex_destroy(&db->sync_lock);
		pthread_cond_destroy(&db->sync_cv);
	}
	omc_free(db);
}

/* --- group commit -------------------------------------------------------------------------- */

#ifdef OMC_TEST_HOOKS
static void (*test_on_sync)(void *, const char *, uint64_t);
static void *test_on_sync_arg;
static atomic_bool test_fail_sync;

void omc_test_db_on_sync(void (*fn)(void *arg, const char *wal, uint64_t len), void *arg)
{
	test_on_sync = fn;
	test_on_sync_arg = arg;
}

void omc_test_db_fail_sync(void)
{
	atomic_store(&test_fail_sync, true);
}
#endif

/* SQLite calls it after every commit that wrote frames, its frames written.
 * Setting it replaces the automatic checkpoint of 1000 frames: done here as
 * SQLite's own sqlite3WalDefaultHook does it (a passive checkpoint, which
 * flushes the WAL before and the database after). */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	omc_db *db = arg;
	atomic_fetch_add(&db->written, 1);
	if (frames >= 1000)
		(void)sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* fsync of the directory that holds path: its entries (the WAL's) last. */
static omc_err sync_dir_of(const char *path)
{
	size_t n = strlen(path);
	char *dir = omc_alloc(n + 1);
	OMC_ENSURE(dir != NULL, OMC_ERR_NOMEM);
	memcpy(dir, path, n + 1);
	int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	omc_free(dir);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	int rc = fsync(fd);
	close(fd);
	OMC_ENSURE(rc == 0, OMC_ERR_IO);
	return OMC_OK;
}

/* The lock and condition of omc_db_sync. */
static omc_err sync_init(omc_db *db)
{
	if (pthread_mutex_init(&db->sync_lock, NULL) != 0)
		OMC_BAIL(OMC_ERR_NOMEM);
	if (pthread_cond_init(&db->sync_cv, NULL) != 0) {
		pthread_mutex_destroy(&db->sync_lock);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	db->sync_made = true;
	return OMC_OK;
}

omc_err omc_db_group_commit(omc_db *db)
{
	OMC_ENSURE(db != NULL && !db->group, OMC_ERR_BAD_ARG);
	if (db->kind == OMC_DB_PG) {
		/* Commits asynchronous, and omc_db_sync's flush a synchronous
		 * commit on a second connection (db_pg.c). */
		OMC_TRY(omc_pg_group(db));
		OMC_TRY(sync_init(db));
		db->group = true;
		return OMC_OK;
	}
	const char *path = sqlite3_db_filename(db->h, "main");
	OMC_ENSURE(path != NULL && path[0], OMC_ERR_BAD_ARG);
	/* WAL mode (omc_db_open asked for it), and the WAL opened: a read does. */
	sqlite3_stmt *st = NULL;
	bool wal = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
		   sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		   !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	if (!wal) {
		OMC_LOG_WRN("db", "%s: not in WAL mode: every commit flushed on its own", path);
		return OMC_OK;
	}
	OMC_TRY(omc_db_exec(db, "SELECT count(*) FROM sqlite_master"));
	size_t pl = strlen(path);
	db->wal_path = omc_alloc(pl + 5);
	OMC_ENSURE(db->wal_path != NULL, OMC_ERR_NOMEM);
	memcpy(db->wal_path, path, pl);
	memcpy(db->wal_path + pl, "-wal", 5);
	int fd = open(db->wal_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		OMC_LOG_ERR("db", "%s: cannot open the WAL: %s", db->wal_path, strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	/* The WAL's directory entry must last as its frames will. */
	omc_err e = sync_dir_of(path);
	if (e == OMC_OK)
		e = sync_init(db);
	if (e != OMC_OK) {
		close(fd);
		return e;
	}
	db->wal_fd = fd;
	db->group = true;
	sqlite3_wal_hook(db->h, wal_hook, db);
	return omc_db_exec(db, "PRAGMA synchronous = NORMAL");
}

uint64_t omc_db_written(omc_db *db)
{
	return db && db->group ? atomic_load(&db->written) : 0;
}

uint64_t omc_db_syncs(omc_db *db)
{
	if (!db || !db->group)
		return 0;
	pthread_mutex_lock(&db->sync_lock);
	uint64_t n = db->syncs;
	pthread_mutex_unlock(&db->sync_lock);
	return n;
}

/* One fdatasync of the WAL. The file is SQLite's for as long as the handle
 * is open (only the last connection to close deletes it); a WAL without a
 * name any more would be a flush of nothing, so it fails. */
static omc_err wal_flush(omc_db *db)
{
	if (db->kind == OMC_DB_PG)
		return omc_pg_flush(db);
	struct stat sb;
	OMC_ENSURE(fstat(db->wal_fd, &sb) == 0 && sb.st_nlink > 0, OMC_ERR_IO);
	int rc = fdatasync(db->wal_fd);
#ifdef OMC_TEST_HOOKS
	if (atomic_exchange(&test_fail_sync, false)) {
		rc = -1;
		errno = EIO;
	}
	if (rc == 0 && test_on_sync)
		test_on_sync(test_on_sync_arg, db->wal_path, (uint64_t)sb.st_size);
#endif
	if (rc != 0) {
		OMC_LOG_ERR("db", "fdatasync of the WAL failed: %s; nothing is durable from now on", strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

omc_err omc_db_sync(omc_db *db, uint64_t n)
{
	if (!db || !db->group)
		return OMC_OK;
	pthread_mutex_lock(&db->sync_lock);
	while (db->synced < n && db->sync_err == OMC_OK) {
		if (db->syncing) {
			/* One flush at a time: the next covers this thread too. */
			pthread_cond_wait(&db->sync_cv, &db->sync_lock);
			continue;
		}
		db->syncing = true;
		/* Every commit counted here has its frames written (the hook runs
		 * after the write), so the flush that follows covers them all. */
		uint64_t upto = atomic_load(&db->written);
		pthread_mutex_unlock(&db->sync_lock);
		omc_err e = wal_flush(db);
		pthread_mutex_lock(&db->sync_lock);
		db->syncing = false;
		db->syncs++;
		if (e == OMC_OK && upto > db->synced)
			db->synced = upto;
		if (e != OMC_OK)
			db->sync_err = e;
		pthread_cond_broadcast(&db->sync_cv);
	}
	omc_err e = db->synced >= n ? OMC_OK : db->sync_err;
	pthread_mutex_unlock(&db->sync_lock);
	return e;
}

int omc_db_schema_version(omc_db *db)
{
	if (!db)
		return -1;
	return db->kind == OMC_DB_PG ? omc_pg_schema_version(db) : user_version(db->h);
}
