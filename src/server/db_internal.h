/* The database layer's two backends (db.c: SQLite and the dispatch;
 * db_pg.c: PostgreSQL through libpq). Nothing outside them includes this. */
#ifndef OMC_SERVER_DB_INTERNAL_H
#define OMC_SERVER_DB_INTERNAL_H

#include <sqlite3.h>

#include "server/server_internal.h"

typedef struct omc_pgs omc_pgs;

struct omc_dbs {
	omc_db *db;
	sqlite3_stmt *lite; /* SQLite */
	omc_pgs *pg;        /* PostgreSQL */
};

/* db_pg.c. The connection, its schema (the same migrations with the types
 * of PostgreSQL: db.c's list) and its statements. */
OMC_MUST_USE omc_err omc_pg_open(omc_db *db, const char *conninfo);
void omc_pg_close(omc_db *db);
OMC_MUST_USE omc_err omc_pg_migrate(omc_db *db, const char *const *steps, int n);
int omc_pg_schema_version(omc_db *db);
/* SQL without results, several statements at once; "BEGIN IMMEDIATE" is a
 * transaction holding the database's write lock. An OMC_DB_* code. */
int omc_pg_exec(omc_db *db, const char *sql);
/* Group commit: commits asynchronous on the handle's connection
 * (synchronous_commit = off), and omc_pg_flush, on a connection of its
 * own, a synchronous commit that flushes the WAL up to its end: every
 * commit of every connection before it, this handle's among them. */
OMC_MUST_USE omc_err omc_pg_group(omc_db *db);
OMC_MUST_USE omc_err omc_pg_flush(omc_db *db);
int omc_pg_prepare(omc_dbs *st, const char *sql);
const char *omc_pg_sql(const omc_dbs *st);
void omc_pg_finalize(omc_dbs *st);
void omc_pg_bind(omc_dbs *st, int i, int type, const void *p, int n, int64_t v);
void omc_pg_clear(omc_dbs *st);
int omc_pg_step(omc_dbs *st);
void omc_pg_reset(omc_dbs *st);
int64_t omc_pg_int64(omc_dbs *st, int c);
const unsigned char *omc_pg_text(omc_dbs *st, int c);
const void *omc_pg_blob(omc_dbs *st, int c);
int omc_pg_bytes(omc_dbs *st, int c);
int omc_pg_type(omc_dbs *st, int c);
int omc_pg_count(omc_dbs *st);

#endif
