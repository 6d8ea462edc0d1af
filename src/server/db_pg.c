/* The PostgreSQL backend of the database layer, through libpq.
 *
 * One connection per handle, used by one thread at a time (the server's
 * handle lock, as with SQLite). Statements are written for SQLite: `?N`
 * and `?` become `$N`, and each is prepared on the connection the first
 * time it runs (PQprepare) with the types of its bindings (BIGINT, TEXT,
 * BYTEA; a NULL leaves the type to the server), again when the types
 * change. Parameters go in binary form, results come back as text (BYTEA
 * in hex, decoded here).
 *
 * Semantics kept from SQLite (docs/server.md, "Database"):
 * - "BEGIN IMMEDIATE" is BEGIN and then pg_advisory_xact_lock on one key of
 *   the database: one writing transaction at a time across every process
 *   on the database, as SQLite's write lock (so a read then a write in
 *   one transaction, SQN reservation, IMSI allocation, nonce use, command
 *   claims, is never interleaved with another replica's);
 * - a statement that fails inside a transaction fails alone (a SAVEPOINT
 *   around every write), where PostgreSQL would abort the transaction;
 * - synchronous_commit = on: a COMMIT that returned is durable.
 * The schema: the same migrations as SQLite, with the types of PostgreSQL
 * (INTEGER PRIMARY KEY an identity column, INTEGER BIGINT, BLOB BYTEA);
 * the version in the table omc_schema. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "server/db_internal.h"

#define PG_MAXP 40
/* The key of the database's write lock (pg_advisory_xact_lock): "omcim". */
#define PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(478560250221)"

/* Type OIDs of PostgreSQL's catalogue (pg_type.dat), stable across versions. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

struct omc_pgs {
	char *sql;  /* as given (the cache compares it) */
	char *text; /* with $N */
	int nparams;
	bool write; /* INSERT, UPDATE or DELETE: a savepoint in a transaction */
	char name[32];
	bool prepared;
	Oid ptypes[PG_MAXP]; /* as prepared */
	Oid types[PG_MAXP];  /* as bound (0: NULL) */
	const char *vals[PG_MAXP];
	int lens[PG_MAXP];
	uint8_t ibuf[PG_MAXP][8];
	PGresult *res;
	int row, rows;
	bool done; /* DONE given: the next step runs it again */
	int ncols;
	uint8_t **blob; /* BYTEA columns of the current row, decoded */
	int *blen;
};

static int pg_code(PGresult *r, PGconn *c)
{
	if (PQstatus(c) != CONNECTION_OK)
		return OMC_DB_IOERR;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (!state)
		return OMC_DB_ERROR;
	if (!strncmp(state, "23", 2))
		return OMC_DB_CONSTRAINT;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
		return OMC_DB_BUSY;
	if (!strncmp(state, "53", 2))
		return OMC_DB_NOMEM;
	if (!strncmp(state, "08", 2) || !strncmp(state, "57", 2) || !strncmp(state, "58", 2))
		return OMC_DB_IOERR;
	return OMC_DB_ERROR;
}

/* Note the result of a command on db: OMC_DB_OK or its error (logged). */
static int pg_note(omc_db *db, PGresult *r)
{
	ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
		const char *n = PQcmdTuples(r);
		db->pg_changes = n && n[0] ? strtoll(n, NULL, 10) : 0;
		db->pg_rc = OMC_DB_OK;
		db->pg_msg[0] = 0;
		return OMC_DB_OK;
	}
	db->pg_rc = pg_code(r, db->pg);
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(db->pg);
	snprintf(db->pg_msg, sizeof db->pg_msg, "%s", m && m[0] ? m : "PostgreSQL: no answer");
	size_t l = strlen(db->pg_msg);
	while (l && (db->pg_msg[l - 1] == '\n' || db->pg_msg[l - 1] == ' '))
		db->pg_msg[--l] = 0;
	return db->pg_rc;
}

static int pg_simple(omc_db *db, const char *sql)
{
	/* Group commit: whatever a request did or read on the connection may
	 * rest on a commit not flushed yet, its own or another replica's. */
	if (db->group)
		atomic_fetch_add(&db->written, 1);
	PGresult *r = PQexec(db->pg, sql);
	int rc = pg_note(db, r);
	PQclear(r);
	return rc;
}

omc_err omc_pg_open(omc_db *db, const char *conninfo)
{
	if (!strncmp(conninfo, "pg:", 3))
		conninfo += 3;
	size_t cl = strlen(conninfo);
	db->pg_conninfo = omc_alloc(cl + 1);
	OMC_ENSURE(db->pg_conninfo != NULL, OMC_ERR_NOMEM);
	memcpy(db->pg_conninfo, conninfo, cl + 1);
	db->pg = PQconnectdb(conninfo);
	if (!db->pg)
		OMC_BAIL(OMC_ERR_NOMEM);
	if (PQstatus(db->pg) != CONNECTION_OK) {
		/* libpq's message names the host and database, never a password. */
		char *m = PQerrorMessage(db->pg);
		size_t l = strlen(m);
		while (l && m[l - 1] == '\n')
			l--;
		OMC_LOG_ERR("db", "PostgreSQL: %.*s", (int)l, m);
		OMC_BAIL(OMC_ERR_IO);
	}
	if (pg_simple(db, "SET synchronous_commit = on; SET client_min_messages = warning;"
			  " SET default_transaction_isolation = 'read committed'") != OMC_DB_OK) {
		OMC_LOG_ERR("db", "%s", db->pg_msg);
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

void omc_pg_close(omc_db *db)
{
	PQfinish(db->pg);
	PQfinish(db->pg_sync);
	db->pg = db->pg_sync = NULL;
	if (db->pg_conninfo) {
		omc_memzero(db->pg_conninfo, strlen(db->pg_conninfo));
		omc_free(db->pg_conninfo);
		db->pg_conninfo = NULL;
	}
}

omc_err omc_pg_group(omc_db *db)
{
	db->pg_sync = PQconnectdb(db->pg_conninfo);
	OMC_ENSURE(db->pg_sync != NULL, OMC_ERR_NOMEM);
	if (PQstatus(db->pg_sync) != CONNECTION_OK) {
		OMC_LOG_ERR("db", "PostgreSQL: the connection for group commit: %s", PQerrorMessage(db->pg_sync));
		OMC_BAIL(OMC_ERR_IO);
	}
	PGresult *r = PQexec(db->pg_sync, "SET synchronous_commit = on");
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	OMC_ENSURE(ok, OMC_ERR_IO);
	if (pg_simple(db, "SET synchronous_commit = off") != OMC_DB_OK) {
		OMC_LOG_ERR("db", "%s", db->pg_msg);
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

omc_err omc_pg_flush(omc_db *db)
{
	/* A commit that wrote WAL, synchronous: PostgreSQL flushes the WAL up
	 * to its commit record, so every commit inserted before it too. One
	 * row per connection (its backend's pid), no contention between
	 * replicas. */
	PGresult *r = PQexec(db->pg_sync, "INSERT INTO omc_sync (pid, n) VALUES (pg_backend_pid(), 1)"
					  " ON CONFLICT (pid) DO UPDATE SET n = omc_sync.n + 1");
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		OMC_LOG_ERR("db", "PostgreSQL: the flush failed: %s",
			    r ? PQresultErrorMessage(r) : PQerrorMessage(db->pg_sync));
	PQclear(r);
	OMC_ENSURE(ok, OMC_ERR_IO);
	return OMC_OK;
}

int omc_pg_exec(omc_db *db, const char *sql)
{
	int rc;
	if (!strcmp(sql, "BEGIN IMMEDIATE")) {
		rc = pg_simple(db, "BEGIN; " PG_WRITE_LOCK);
		if (rc != OMC_DB_OK)
			(void)pg_simple(db, "ROLLBACK");
	} else if (!strcmp(sql, "COMMIT")) {
		/* A transaction that failed reports ROLLBACK to COMMIT. */
		if (db->group)
			atomic_fetch_add(&db->written, 1);
		PGresult *r = PQexec(db->pg, "COMMIT");
		rc = pg_note(db, r);
		if (rc == OMC_DB_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
			rc = db->pg_rc = OMC_DB_ERROR;
			snprintf(db->pg_msg, sizeof db->pg_msg, "the transaction was rolled back");
		}
		PQclear(r);
	} else if (!strcmp(sql, "ROLLBACK")) {
		rc = PQtransactionStatus(db->pg) == PQTRANS_IDLE ? OMC_DB_OK : pg_simple(db, sql);
	} else {
		rc = pg_simple(db, sql);
	}
	if (rc != OMC_DB_OK)
		OMC_LOG_ERR("db", "%s", db->pg_msg);
	return rc;
}

/* --- the schema ------------------------------------------------------------------------------- */

/* The migration step in PostgreSQL's types: words replaced whole. */
static char *pg_types(const char *sql)
{
	static const char *const from[] = {"INTEGER PRIMARY KEY", "INTEGER", "BLOB"};
	static const char *const to[] = {"BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT", "BYTEA"};
	size_t n = strlen(sql);
	char *out = omc_alloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		bool hit = false;
		bool word_start = i == 0 || !(isalnum((unsigned char)sql[i - 1]) || sql[i - 1] == '_');
		for (size_t k = 0; word_start && k < 3 && !hit; k++) {
			size_t fl = strlen(from[k]);
			char next = sql[i + fl < n ? i + fl : n];
			if (!strncmp(sql + i, from[k], fl) && !(isalnum((unsigned char)next) || next == '_')) {
				size_t tl = strlen(to[k]);
				memcpy(out + o, to[k], tl);
				o += tl;
				i += fl;
				hit = true;
			}
		}
		if (!hit)
			out[o++] = sql[i++];
	}
	out[o] = 0;
	return out;
}

static int pg_version_read(omc_db *db)
{
	PGresult *r = PQexec(db->pg, "SELECT version FROM omc_schema");
	int v = -1;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		v = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return v;
}

int omc_pg_schema_version(omc_db *db)
{
	return pg_version_read(db);
}

omc_err omc_pg_migrate(omc_db *db, const char *const *steps, int n)
{
	/* One transaction under the write lock: replicas that start together
	 * migrate once, and a crash leaves the previous version whole. */
	omc_err e = omc_db_err(omc_pg_exec(db, "BEGIN IMMEDIATE"));
	if (e != OMC_OK)
		return e;
	if (omc_pg_exec(db, "CREATE TABLE IF NOT EXISTS omc_schema (version BIGINT NOT NULL);"
			    " CREATE TABLE IF NOT EXISTS omc_sync (pid BIGINT NOT NULL PRIMARY KEY, n BIGINT NOT NULL)") !=
	    OMC_DB_OK)
		e = OMC_ERR_IO;
	int v = e == OMC_OK ? pg_version_read(db) : -1;
	if (e == OMC_OK && v < 0)
		e = OMC_ERR_IO;
	if (e == OMC_OK && v > n) {
		OMC_LOG_ERR("db", "the database's schema is version %d, newer than this program's %d", v, n);
		e = OMC_ERR_UNSUPPORTED;
	}
	if (e == OMC_OK && v == 0 && omc_pg_exec(db, "DELETE FROM omc_schema; INSERT INTO omc_schema VALUES (0)") != 0)
		e = OMC_ERR_IO;
	for (; e == OMC_OK && v < n; v++) {
		char *sql = pg_types(steps[v]);
		if (!sql) {
			e = OMC_ERR_NOMEM;
			break;
		}
		char setv[64];
		snprintf(setv, sizeof setv, "UPDATE omc_schema SET version = %d", v + 1);
		if (omc_pg_exec(db, sql) != OMC_DB_OK || omc_pg_exec(db, setv) != OMC_DB_OK)
			e = OMC_ERR_IO;
		omc_free(sql);
	}
	if (e == OMC_OK)
		e = omc_db_err(omc_pg_exec(db, "COMMIT"));
	if (e != OMC_OK)
		(void)omc_pg_exec(db, "ROLLBACK");
	return e;
}

/* --- statements ------------------------------------------------------------------------------- */

/* SQLite's placeholders as PostgreSQL's: ?N is $N, a bare ? the next
 * number after the highest so far; none inside quotes. */
static char *pg_params(const char *sql, int *np)
{
	size_t n = strlen(sql);
	char *out = omc_alloc(n * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	int max = 0;
	char quote = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = sql[i];
		if (quote) {
			if (ch == quote)
				quote = 0;
			out[o++] = ch;
		} else if (ch == '\'' || ch == '"') {
			quote = ch;
			out[o++] = ch;
		} else if (ch == '?') {
			int k = 0;
			while (i + 1 < n && isdigit((unsigned char)sql[i + 1]) && k < 1000)
				k = k * 10 + (sql[++i] - '0');
			if (k == 0)
				k = max + 1;
			if (k > max)
				max = k;
			o += (size_t)snprintf(out + o, 8, "$%d", k);
		} else {
			out[o++] = ch;
		}
	}
	out[o] = 0;
	*np = max;
	return out;
}

int omc_pg_prepare(omc_dbs *st, const char *sql)
{
	omc_db *db = st->db;
	omc_pgs *p = omc_calloc(1, sizeof *p);
	if (!p)
		return db->pg_rc = OMC_DB_NOMEM;
	st->pg = p;
	size_t l = strlen(sql);
	p->sql = omc_alloc(l + 1);
	if (!p->sql)
		return db->pg_rc = OMC_DB_NOMEM;
	memcpy(p->sql, sql, l + 1);
	p->text = pg_params(sql, &p->nparams);
	if (!p->text)
		return db->pg_rc = OMC_DB_NOMEM;
	if (p->nparams > PG_MAXP) {
		snprintf(db->pg_msg, sizeof db->pg_msg, "more than %d parameters", PG_MAXP);
		return db->pg_rc = OMC_DB_ERROR;
	}
	const char *w = sql;
	while (isspace((unsigned char)*w))
		w++;
	p->write = !strncasecmp(w, "INSERT", 6) || !strncasecmp(w, "UPDATE", 6) || !strncasecmp(w, "DELETE", 6);
	p->row = -1;
	return OMC_DB_OK;
}

const char *omc_pg_sql(const omc_dbs *st)
{
	return st->pg->sql;
}

static void pg_rowfree(omc_pgs *p)
{
	for (int c = 0; p->blob && c < p->ncols; c++) {
		omc_free(p->blob[c]);
		p->blob[c] = NULL;
		p->blen[c] = -1;
	}
}

void omc_pg_reset(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	pg_rowfree(p);
	omc_free(p->blob);
	omc_free(p->blen);
	p->blob = NULL;
	p->blen = NULL;
	p->ncols = 0;
	PQclear(p->res);
	p->res = NULL;
	p->row = -1;
	p->rows = 0;
	p->done = false;
}

void omc_pg_finalize(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	omc_pg_reset(st);
	if (p->prepared && st->db->pg && PQstatus(st->db->pg) == CONNECTION_OK) {
		char sql[48];
		snprintf(sql, sizeof sql, "DEALLOCATE %s", p->name);
		PQclear(PQexec(st->db->pg, sql));
	}
	omc_free(p->sql);
	omc_free(p->text);
	omc_free(p);
	st->pg = NULL;
}

void omc_pg_bind(omc_dbs *st, int i, int type, const void *v, int n, int64_t iv)
{
	omc_pgs *p = st->pg;
	if (i < 1 || i > PG_MAXP)
		return;
	i--;
	switch (type) {
	case OMC_DB_INTEGER: {
		uint64_t u = (uint64_t)iv;
		for (int k = 7; k >= 0; k--, u >>= 8)
			p->ibuf[i][k] = (uint8_t)u;
		p->types[i] = OID_INT8;
		p->vals[i] = (const char *)p->ibuf[i];
		p->lens[i] = 8;
		break;
	}
	case OMC_DB_TEXT:
		p->types[i] = OID_TEXT;
		p->vals[i] = v;
		p->lens[i] = n < 0 ? (int)strlen(v) : n;
		break;
	case OMC_DB_BLOB:
		p->types[i] = OID_BYTEA;
		/* An empty blob is not NULL: any address will do for 0 bytes. */
		p->vals[i] = n > 0 ? v : (const char *)p->ibuf[i];
		p->lens[i] = n > 0 ? n : 0;
		break;
	default:
		p->types[i] = 0;
		p->vals[i] = NULL;
		p->lens[i] = 0;
	}
}

void omc_pg_clear(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	for (int i = 0; i < PG_MAXP; i++)
		omc_pg_bind(st, i + 1, OMC_DB_NULL, NULL, 0, 0);
	(void)p;
}

/* Prepared with the types bound now, unless the statement already is with
 * types that agree (a NULL agrees with any). */
static int pg_ready(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	omc_db *db = st->db;
	bool same = p->prepared;
	for (int i = 0; same && i < p->nparams; i++)
		if (p->types[i] && p->types[i] != p->ptypes[i])
			same = false;
	if (same)
		return OMC_DB_OK;
	if (p->prepared) {
		char sql[48];
		snprintf(sql, sizeof sql, "DEALLOCATE %s", p->name);
		PQclear(PQexec(db->pg, sql));
		p->prepared = false;
	}
	snprintf(p->name, sizeof p->name, "omc_%llu", (unsigned long long)++db->pg_names);
	memcpy(p->ptypes, p->types, sizeof p->ptypes);
	PGresult *r = PQprepare(db->pg, p->name, p->text, p->nparams, p->ptypes);
	int rc = pg_note(db, r);
	PQclear(r);
	if (rc == OMC_DB_OK)
		p->prepared = true;
	return rc;
}

static int pg_run(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	omc_db *db = st->db;
	bool sp = p->write && PQtransactionStatus(db->pg) == PQTRANS_INTRANS;
	int rc = OMC_DB_OK;
	if (sp)
		rc = pg_simple(db, "SAVEPOINT omc_stmt");
	if (rc == OMC_DB_OK)
		rc = pg_ready(st);
	if (rc == OMC_DB_OK) {
		int fmts[PG_MAXP];
		for (int i = 0; i < p->nparams; i++)
			fmts[i] = 1;
		if (db->group)
			atomic_fetch_add(&db->written, 1);
		p->res = PQexecPrepared(db->pg, p->name, p->nparams, p->vals, p->lens, fmts, 0);
		rc = pg_note(db, p->res);
	}
	if (sp) {
		/* The statement's changes or error, not the savepoint's answer. */
		int msg_rc = db->pg_rc;
		int64_t changes = db->pg_changes;
		char msg[sizeof db->pg_msg];
		memcpy(msg, db->pg_msg, sizeof msg);
		int sprc = pg_simple(db, rc == OMC_DB_OK ? "RELEASE SAVEPOINT omc_stmt" : "ROLLBACK TO SAVEPOINT omc_stmt");
		if (rc == OMC_DB_OK && sprc != OMC_DB_OK)
			rc = sprc;
		if (rc == OMC_DB_OK || sprc == OMC_DB_OK) {
			db->pg_rc = msg_rc;
			db->pg_changes = changes;
			memcpy(db->pg_msg, msg, sizeof msg);
		}
	}
	if (rc != OMC_DB_OK) {
		/* A constraint is an answer the callers expect (OMC_ERR_EXISTS). */
		if (rc != OMC_DB_CONSTRAINT)
			OMC_LOG_ERR("db", "%s", db->pg_msg);
		PQclear(p->res);
		p->res = NULL;
		return rc;
	}
	p->rows = PQntuples(p->res);
	p->ncols = PQnfields(p->res);
	p->row = -1;
	if (p->ncols > 0) {
		p->blob = omc_calloc((size_t)p->ncols, sizeof *p->blob);
		p->blen = omc_calloc((size_t)p->ncols, sizeof *p->blen);
		if (!p->blob || !p->blen) {
			omc_pg_reset(st);
			return db->pg_rc = OMC_DB_NOMEM;
		}
		for (int c = 0; c < p->ncols; c++)
			p->blen[c] = -1;
	}
	return OMC_DB_OK;
}

int omc_pg_step(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	if (p->done)
		omc_pg_reset(st);
	if (!p->res) {
		int rc = pg_run(st);
		if (rc != OMC_DB_OK)
			return rc;
	}
	pg_rowfree(p);
	if (++p->row < p->rows)
		return OMC_DB_ROW;
	p->done = true;
	return OMC_DB_DONE;
}

static bool pg_at(omc_pgs *p, int c)
{
	return p->res && c >= 0 && c < p->ncols && p->row >= 0 && p->row < p->rows;
}

int64_t omc_pg_int64(omc_dbs *st, int c)
{
	omc_pgs *p = st->pg;
	if (!pg_at(p, c) || PQgetisnull(p->res, p->row, c))
		return 0;
	const char *v = PQgetvalue(p->res, p->row, c);
	if (PQftype(p->res, c) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

const unsigned char *omc_pg_text(omc_dbs *st, int c)
{
	omc_pgs *p = st->pg;
	if (!pg_at(p, c) || PQgetisnull(p->res, p->row, c))
		return NULL;
	return (const unsigned char *)PQgetvalue(p->res, p->row, c);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A BYTEA column of the row, decoded once (hex output, "\x..."). */
static bool pg_decode(omc_pgs *p, int c)
{
	if (p->blen[c] >= 0)
		return true;
	const char *v = PQgetvalue(p->res, p->row, c);
	size_t l = (size_t)PQgetlength(p->res, p->row, c);
	if (l < 2 || v[0] != '\\' || v[1] != 'x' || l % 2)
		return false;
	size_t n = (l - 2) / 2;
	uint8_t *b = omc_alloc(n ? n : 1);
	if (!b)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
		if (hi < 0 || lo < 0) {
			omc_free(b);
			return false;
		}
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	p->blob[c] = b;
	p->blen[c] = (int)n;
	return true;
}

const void *omc_pg_blob(omc_dbs *st, int c)
{
	omc_pgs *p = st->pg;
	if (!pg_at(p, c) || PQgetisnull(p->res, p->row, c))
		return NULL;
	if (PQftype(p->res, c) != OID_BYTEA)
		return PQgetvalue(p->res, p->row, c);
	if (!pg_decode(p, c))
		return NULL;
	/* SQLite gives NULL for an empty blob too. */
	return p->blen[c] > 0 ? p->blob[c] : NULL;
}

int omc_pg_bytes(omc_dbs *st, int c)
{
	omc_pgs *p = st->pg;
	if (!pg_at(p, c) || PQgetisnull(p->res, p->row, c))
		return 0;
	if (PQftype(p->res, c) != OID_BYTEA)
		return PQgetlength(p->res, p->row, c);
	return pg_decode(p, c) ? p->blen[c] : 0;
}

int omc_pg_type(omc_dbs *st, int c)
{
	omc_pgs *p = st->pg;
	if (!pg_at(p, c) || PQgetisnull(p->res, p->row, c))
		return OMC_DB_NULL;
	switch (PQftype(p->res, c)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return OMC_DB_INTEGER;
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return OMC_DB_FLOAT;
	case OID_BYTEA:
		return OMC_DB_BLOB;
	default:
		return OMC_DB_TEXT;
	}
}

int omc_pg_count(omc_dbs *st)
{
	omc_pgs *p = st->pg;
	/* Before the first step SQLite knows the columns; here they come with
	 * the result. */
	return p->res ? p->ncols : 0;
}
