/* The database of the network roles: SQLite in WAL mode with a busy
 * timeout, foreign keys on, and the schema migrated step by step through
 * PRAGMA user_version. Each step is one transaction, so a crash during a
 * migration leaves the previous version whole. */
#include <string.h>

#include "server/server_internal.h"

/* Step i takes the schema from version i to i + 1. Portable SQL only
 * (types INTEGER, TEXT, BLOB; no STRICT, no WITHOUT ROWID). */
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
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

omc_err omc_db_exec(omc_db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		OMC_LOG_ERR("db", "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		OMC_BAIL(omc_db_err(rc));
	}
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
	int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	omc_err e = rc == SQLITE_OK ? OMC_OK : OMC_ERR_IO;
	if (e == OMC_OK)
		sqlite3_busy_timeout(db->h, 5000);
	/* WAL: readers do not block the writer; synchronous=FULL: a commit
	 * that returned is on disk (the AuC's SQN promise depends on it). */
	if (e == OMC_OK)
		e = omc_db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
	if (e == OMC_OK)
		e = migrate(db);
	if (e != OMC_OK) {
		omc_db_close(db);
		return e;
	}
	*out = db;
	return OMC_OK;
}

void omc_db_close(omc_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->h);
	omc_free(db);
}

int omc_db_schema_version(omc_db *db)
{
	return db ? user_version(db->h) : -1;
}
