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
