/* openmcim server: internal interfaces between the roles, the database and
 * the HTTP layer. */
#ifndef OMC_SERVER_INTERNAL_H
#define OMC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <jansson.h>

#include "openmcim/log.h"
#include "openmcim/net.h"
#include "openmcim/proto.h"
#include "openmcim/server.h"
#include "util/util_internal.h"

#define OMC_DB_STMTS 96 /* prepared statements kept per handle */

/* The database layer (db.c, db_pg.c): one handle on SQLite (a file path)
 * or PostgreSQL (a libpq URI, postgresql://... or postgres://...), and a
 * thin statement API over both. SQL is written once, with SQLite's `?` /
 * `?N` placeholders (turned into `$N` for PostgreSQL) and portable SQL
 * only (docs/server.md, "Database"). Result codes are SQLite's numbers. */
enum {
	OMC_DB_OK = 0,
	OMC_DB_ERROR = 1,
	OMC_DB_BUSY = 5,
	OMC_DB_NOMEM = 7,
	OMC_DB_IOERR = 10,
	OMC_DB_CORRUPT = 11,
	OMC_DB_CONSTRAINT = 19,
	OMC_DB_ROW = 100,
	OMC_DB_DONE = 101,
};
/* Column types (omc_dbs_column_type). */
enum { OMC_DB_INTEGER = 1, OMC_DB_FLOAT = 2, OMC_DB_TEXT = 3, OMC_DB_BLOB = 4, OMC_DB_NULL = 5 };

typedef enum omc_db_kind { OMC_DB_SQLITE, OMC_DB_PG } omc_db_kind;
typedef struct omc_dbs omc_dbs; /* a prepared statement */

struct omc_db {
	omc_db_kind kind;
	struct sqlite3 *h;  /* SQLite */
	struct pg_conn *pg; /* PostgreSQL (PGconn) */
	struct pg_conn *pg_sync; /* PostgreSQL with group commit: the flushes' own connection */
	char *pg_conninfo;       /* for that one (may hold a password: wiped at the end) */
	int pg_rc;          /* PostgreSQL: the last result code, its message and changes */
	char pg_msg[256];
	int64_t pg_changes;
	uint64_t pg_names;  /* statements prepared on the connection so far */
	/* Group commit (omc_db_group_commit); all zero without it. */
	bool group;
	int wal_fd;              /* the WAL, for fdatasync */
	char *wal_path;
	_Atomic uint64_t written; /* commits written to the WAL so far (WAL hook) */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cv;
	bool sync_made;     /* sync_lock and sync_cv exist */
	uint64_t synced;    /* the first `synced` commits are durable */
	bool syncing;       /* a thread is in fdatasync for the others */
	omc_err sync_err;   /* sticky: an fdatasync failed, nothing more is durable */
	uint64_t syncs;     /* fdatasyncs made */
	/* Prepared statements, by the address of their SQL (omc_db_stmt). */
	struct {
		const char *sql;
		omc_dbs *st;
		bool busy; /* handed out, not given back yet */
	} stmts[OMC_DB_STMTS];
	size_t n_stmts;
};

/* A statement of sql (one statement), prepared now: give it back with
 * omc_dbs_finalize. OMC_DB_OK or an error code (the message in
 * omc_db_errmsg). */
int omc_db_prepare(omc_db *db, const char *sql, omc_dbs **st);
void omc_dbs_finalize(omc_dbs *st);
/* Bindings, 1-based as in SQLite. Text and blobs are not copied: they
 * must live until the statement is reset or given back (SQLITE_STATIC);
 * n < 0 for text: up to its NUL. */
void omc_dbs_bind_text(omc_dbs *st, int i, const char *p, int n);
void omc_dbs_bind_blob(omc_dbs *st, int i, const void *p, int n);
void omc_dbs_bind_int64(omc_dbs *st, int i, int64_t v);
void omc_dbs_bind_null(omc_dbs *st, int i);
/* OMC_DB_ROW (a row to read), OMC_DB_DONE, or an error code. */
int omc_dbs_step(omc_dbs *st);
/* Ready to step again from the start, bindings kept: OMC_DB_OK. */
int omc_dbs_reset(omc_dbs *st);
/* Columns of the current row, 0-based; valid until the next step or reset.
 * A NULL is 0, NULL text and NULL blob. */
int64_t omc_dbs_column_int64(omc_dbs *st, int c);
int omc_dbs_column_int(omc_dbs *st, int c);
const unsigned char *omc_dbs_column_text(omc_dbs *st, int c);
const void *omc_dbs_column_blob(omc_dbs *st, int c);
int omc_dbs_column_bytes(omc_dbs *st, int c);
int omc_dbs_column_type(omc_dbs *st, int c);
int omc_dbs_column_count(omc_dbs *st);
/* Rows the last INSERT, UPDATE or DELETE changed. */
int64_t omc_db_changes(omc_db *db);
const char *omc_db_errmsg(omc_db *db);
int omc_db_errcode(omc_db *db);
/* ROLLBACK of the transaction open, if any. */
void omc_db_rollback(omc_db *db);

/* Run SQL without results; the message of a failure goes to the log. */
OMC_MUST_USE omc_err omc_db_exec(omc_db *db, const char *sql);
/* A prepared statement of sql (one statement), from the handle's cache:
 * SQLite parses and plans each SQL text once per handle, not on every use.
 * sql is kept by its address, so give string literals (another text at the
 * same address is told apart by its content, and prepared anew). Give the
 * statement back with omc_db_done (it is reset and its bindings cleared,
 * so no pointer to the caller's buffers stays behind), never with
 * sqlite3_finalize. A statement of the cache in use is prepared again for
 * a second user, and finalized when given back. By whoever holds the
 * handle (one thread at a time). */
OMC_MUST_USE omc_err omc_db_stmt(omc_db *db, omc_dbs **st, const char *sql);
void omc_db_done(omc_db *db, omc_dbs *st);
/* One statement without results through the cache (BEGIN, COMMIT...). */
OMC_MUST_USE omc_err omc_db_run(omc_db *db, const char *sql);

/* SQLite's memory for the database, per connection (docs/server.md,
 * "[db]"): a page cache of cache_kib KiB (PRAGMA cache_size = -cache_kib)
 * and the first mmap_kib KiB of the file read through mmap (PRAGMA
 * mmap_size; 0: read() only). omc_db_open sets the defaults below; the
 * server sets its config's. Nothing on PostgreSQL, whose server has its
 * own (shared_buffers). OMC_ERR_BAD_ARG out of the ranges below. */
#define OMC_DB_CACHE_KIB_MIN 64
#define OMC_DB_CACHE_KIB_MAX (4u << 20) /* 4 GiB */
#define OMC_DB_CACHE_KIB_DEFAULT 8192u  /* 8 MiB */
#define OMC_DB_MMAP_KIB_MAX (2u << 20)  /* 2 GiB, SQLite's SQLITE_MAX_MMAP_SIZE */
#define OMC_DB_MMAP_KIB_DEFAULT 0u
OMC_MUST_USE omc_err omc_db_cache(omc_db *db, uint64_t cache_kib, uint64_t mmap_kib);

/* Group commit, for a handle that several threads share (docs/server.md,
 * "Database"). From this call on, a commit on the handle is written to the
 * WAL but not flushed (synchronous = NORMAL), and omc_db_sync makes
 * commits durable: one fdatasync of the WAL covers every commit written
 * before it began, whichever thread made it, and threads that wait meanwhile
 * share the next one. A handle without this call stays synchronous = FULL
 * (every commit durable when it returns), and omc_db_sync does nothing.
 * Call it once, before any other thread uses the handle. */
OMC_MUST_USE omc_err omc_db_group_commit(omc_db *db);
/* How many commits this handle has written: what a caller has made or seen
 * once it reads this after its statements. */
uint64_t omc_db_written(omc_db *db);
/* Return when the first n commits of the handle are durable (at once if
 * they are already, or without group commit). OMC_ERR_IO if an fdatasync
 * failed: then no later commit is ever reported durable (the kernel may have
 * dropped the pages), and the process must be restarted. Never call it
 * while holding the lock that serialises the handle: that lock would be
 * held for the fdatasync. */
OMC_MUST_USE omc_err omc_db_sync(omc_db *db, uint64_t n);
/* fdatasyncs made by omc_db_sync, for the metrics. */
uint64_t omc_db_syncs(omc_db *db);
#ifdef OMC_TEST_HOOKS
/* Called after every fdatasync of omc_db_sync with the WAL's path and its
 * length when the fdatasync began: what a power cut would keep at least. */
OMC_API void omc_test_db_on_sync(void (*fn)(void *arg, const char *wal, uint64_t len), void *arg);
/* Make the next fdatasync of omc_db_sync fail (as EIO would). */
OMC_API void omc_test_db_fail_sync(void);
#endif
/* An SQLite result code as an omc_err (a constraint is OMC_ERR_EXISTS). */
omc_err omc_db_err(int rc);

/* omc_auc_vectors in two halves, for a caller that makes the commit durable
 * itself (omc_db_sync) outside the lock that serialises the handle:
 * omc_auc_reserve takes the SQN range and logs the vectors in one committed
 * transaction, exactly as omc_auc_vectors does; once that commit is durable,
 * and only then, omc_auc_resv_vectors computes the vectors (and wipes r).
 * r holds the credential: a caller that does not make the vectors wipes it
 * with omc_auc_resv_wipe. */
typedef struct omc_auc_resv {
	omc_aka_cred cred;
	uint8_t sqn[OMC_AUC_BATCH_MAX][6];
	uint8_t rand[OMC_AUC_BATCH_MAX][16];
	size_t n;
} omc_auc_resv;
OMC_MUST_USE omc_err omc_auc_reserve(omc_auc_resv *r, omc_auc *a, const char *imsi, size_t n);
OMC_MUST_USE omc_err omc_auc_resv_vectors(omc_aka_av *out, omc_auc_resv *r, const uint8_t amf[2]);
void omc_auc_resv_wipe(omc_auc_resv *r);

/* The subscriber's credential, for an SHO that issues the same MCIM again
 * (a download retried after a lost answer). The caller wipes it. */
OMC_MUST_USE omc_err omc_auc_cred_get(omc_auc *a, const char *imsi, omc_aka_cred *cred);

/* --- the server -------------------------------------------------------------------- */
#define SRV_MAX_OPS 8
#define SRV_MAX_LISTENERS 24
#define SRV_URL_MAX 160
#define SRV_NAME_MAX 17
#define SRV_CLAIMS_MAX 64 /* [server] threads at most: downloads at once */

typedef enum srv_role {
	SRV_CCIF,
	SRV_AUC,
	SRV_SHO,
	SRV_VNO,
	SRV_BOOTSTRAP,
	SRV_DRF,
	SRV_PVA,
	SRV_DPF,
	SRV_ROLE_COUNT
} srv_role;

typedef struct srv_op {
	char name[SRV_NAME_MAX];
	bool ico;            /* the ICO (its AuC holds PCIDs) or an SHO */
	char imsi_prefix[7]; /* MCC and MNC: 5 or 6 digits */
	omc_aka_alg alg;     /* the algorithm of the MCIMs an SHO issues */
	omc_aka_tuak_params tuak; /* and, for TUAK, its parameters (EVAL-6) */
	bool data_only;      /* the service profile of its MCIMs (SEC-7) */
	bool isim;           /* an SHO's MCIMs are ISIM-type (NET-5), with IMPI and IMPU */
	char ims_domain[64]; /* their domain; "" gives ims.mncMNC.mccMCC.3gppnetwork.org */
	uint64_t volume_cap;
	int64_t pcid_lifetime; /* ICO: seconds */
	omc_auc *auc;
	omc_key *key; /* the operator's signing key and certificate */
	omc_cert *cert;
	char hlrgw_path[108];      /* hostapd's hlr_auc_gw socket of its AuC, or "" */
	struct srv_hlrgw *hlrgw;   /* serving it (auc_hlrgw.c) */
} srv_op;

/* hostapd's hlr_auc_gw protocol for server s's AuC a on a UNIX datagram
 * socket at path, in a thread of its own, until srv_hlrgw_stop
 * (auc_hlrgw.c). */
typedef struct srv_hlrgw srv_hlrgw;
OMC_MUST_USE omc_err srv_hlrgw_start(srv_hlrgw **out, omc_server *s, omc_auc *a, const char *path);
void srv_hlrgw_stop(srv_hlrgw *g);

typedef struct srv_listener srv_listener;
typedef struct srv_route srv_route;
typedef void (*srv_fn)(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);

struct srv_route {
	srv_listener *l;
	srv_fn fn;
	const char *method, *path;
};

struct srv_listener {
	omc_server *s;
	srv_role role;
	srv_op *op; /* AuC and SHO: whose */
	char name[32];
	char url[SRV_URL_MAX];
	omc_http_server *http;
	omc_http_route routes[16];
	srv_route rctx[16];
	size_t n_routes;
};

#define SRV_LAT_BUCKETS 12
#define SRV_CODES_MAX 64

struct omc_server {
	omc_db *db;
	/* Set (release) once every listener is up and the peer table is whole;
	 * a request before that is answered 503 (acquire), so no handler
	 * reads what omc_server_start still writes. */
	int ready;
	pthread_mutex_t lock; /* the database handle: one thread at a time */
	int64_t (*now)(void *);
	void *now_arg;
	char pki[256];
	char listen[64];
	unsigned port, threads;
	unsigned conn_timeout, conn_limit, conn_limit_per_ip; /* [server] connection_*; 0: the defaults */
	int64_t session_lifetime, nonce_lifetime, token_lifetime;
	srv_op ops[SRV_MAX_OPS];
	size_t n_ops;
	bool hosts[SRV_ROLE_COUNT];
	srv_listener ls[SRV_MAX_LISTENERS];
	size_t n_ls;
	/* peers: the base URL of each role this process calls */
	char peer[SRV_MAX_LISTENERS][2][SRV_URL_MAX]; /* name, url */
	size_t n_peers;
	/* keys of the entities hosted, and the anchors of everyone */
	omc_key *vno_key, *ro_key, *pva_key, *ccif_key;
	omc_cert *vno_cert, *ro_cert, *pva_cert, *ccif_cert;
	omc_cert *m2mes_ca[8];
	size_t n_m2mes_ca;
	omc_cert *pva_ca[8];
	size_t n_pva_ca;
	char pva_names[8][SRV_NAME_MAX];
	/* metrics */
	pthread_mutex_t mlock;
	uint64_t lat[SRV_LAT_BUCKETS]; /* cumulative at render time */
	double lat_sum;
	uint64_t lat_count;
	struct {
		const char *code;
		int status;
		uint64_t n;
	} codes[SRV_CODES_MAX];
	size_t n_codes;
	uint64_t avs_issued, requests;
	uint64_t jti_inserts;
	struct {
		char name[SRV_NAME_MAX];
		omc_cert *ca;
	} anchors[32];
	size_t n_anchors;
	/* HTTPS: the listeners' certificate and key (the key encrypted under a
	 * passphrase made for this run), and the CA file the callers trust */
	bool tls;
	char *tls_cert_pem, *tls_key_pem;
	char tls_pass[65];
	char tls_ca[300];
	pthread_key_t client_key;
	bool client_key_made;
	/* osmo-hlr as an authentication centre (hlr.c, docs/hlr.md), or NULL */
	struct srv_hlr *hlr;
	/* the key sealing the VNO's protected-link keys in the database
	 * (vno_link.c) and its serving network's PLMN identity, MCC and MNC
	 * ([server] vno_plmn) */
	uint8_t link_key[32];
	bool link_keyed;
	char vno_plmn[7];
};

int64_t srv_now(omc_server *s);
/* The database handle, one thread at a time. srv_unlock also notes, for
 * the request this thread handles, how many commits it has made or may
 * have read: srv_durable waits until they are durable (never call it
 * holding the lock). The route trampoline calls it before every answer,
 * srv_call before every call to another role. */
void srv_lock(omc_server *s);
void srv_unlock(omc_server *s);
OMC_MUST_USE omc_err srv_durable(omc_server *s);
/* The base URL of a role ("drf", "sho.sho1", "auc.ico"), or NULL. */
const char *srv_peer(omc_server *s, const char *name);
srv_op *srv_op_find(omc_server *s, const char *name);
/* The operator whose IMSI prefix is the longest to begin imsi. */
srv_op *srv_op_for_imsi(omc_server *s, const char *imsi);

/* Answers. srv_fail counts the code for /metrics. */
void srv_fail(srv_listener *l, omc_http_resp *resp, int status, const char *code, const char *msg);
/* Answer with o (consumed). */
void srv_reply(srv_listener *l, omc_http_resp *resp, int status, json_t *o);

/* The request body as a JSON object (duplicate members refused); answers
 * 400 bad_json itself and returns NULL. */
json_t *srv_body(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);
/* Members, with their rules: a string of min..max bytes of printable
 * ASCII, an integer in lo..hi. NULL / false (with a 400 bad_request) when
 * missing or wrong. */
const char *srv_str(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, size_t min, size_t max);
bool srv_int(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, int64_t lo, int64_t hi,
	     int64_t *out);
bool srv_digits(const char *s, size_t min, size_t max);
bool srv_name_ok(const char *s);

/* --- callers ---------------------------------------------------------------------- */
/* A server calling a server: the Authorization header "OMC-JWS <compact>"
 * holds a JWS (typ omc-request+jwt, x5c the caller's signing
 * certificate) over {"htm", "htu", "bh", "iat", "jti"}: the method, the
 * path, the base64url SHA-256 of the body, the time and a unique id.
 * Accepted when the chain ends at the CA of one of the allowed names, the
 * certificate's CN is that name, the method, path and body match, iat is
 * within 300 s of the server's clock and the jti was never seen. *who
 * gets the name. Answers the refusal itself (401) and returns false. */
bool srv_auth_peer(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, const char *const *allowed,
		   size_t n_allowed, char who[SRV_NAME_MAX]);
/* The same, also giving the caller's certificate (the caller frees it). */
bool srv_auth_peer_cert(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, const char *const *allowed,
			size_t n_allowed, char who[SRV_NAME_MAX], omc_cert **leaf);
/* Make the header value for a call. */
OMC_MUST_USE omc_err srv_sign_request(char **auth, const omc_key *key, const omc_cert *cert, const char *method,
				      const char *path, const char *body, size_t body_len, int64_t now);

/* A device: "Authorization: Bearer <session>" from the VNO (SEC-7). */
typedef struct srv_session {
	char imsi[16];
	char home[SRV_NAME_MAX];
	char scope[16]; /* "provisioning" (a PCID) or "operational" */
	uint8_t token_hash[32];
	bool data_only;
	uint64_t volume_cap, used;
} srv_session;
bool srv_auth_session(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, srv_session *out);
/* A subscriber of this SHO: "Authorization: Bearer <token>". */
bool srv_auth_subscriber(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, char name[33]);
/* SHA-256 of a bearer token as stored. */
OMC_MUST_USE omc_err srv_token_hash(uint8_t out[32], const char *token);
/* A fresh random token (base64url of 32 bytes). */
OMC_MUST_USE omc_err srv_token_new(char out[48]);

/* Call another role: the body (consumed) signed as key/cert. Every call
 * has a body: NULL is a json_pack that ran out of memory, OMC_ERR_NOMEM,
 * as is a body that cannot be written. *out is the answer's JSON object
 * (NULL if none), *status its status. OMC_ERR_IO if no answer came. */
OMC_MUST_USE omc_err srv_call(omc_server *s, const omc_key *key, const omc_cert *cert, const char *method,
			      const char *base, const char *path, json_t *body, int *status, json_t **out);

/* A fresh single-use nonce (base64url of 32 random bytes, in nb) for
 * session, living lifetime seconds (*exp when it ends), in the PVA's table
 * or (ccif) the CCIF's; nonces past their life an hour ago are purged. */
OMC_MUST_USE omc_err srv_nonce_new(omc_server *s, bool ccif, const char *session, int64_t lifetime, char nb[48],
				   int64_t *exp);
/* "" if nb is a nonce of that table given to session, unused and alive,
 * else the refusal code: unknown_nonce, nonce_used, nonce_expired,
 * internal (caller holds the lock). Read only. */
const char *srv_nonce_state(omc_server *s, bool ccif, const char *nb, const char *session);
/* The nonce evidence names (`eat_nonce`), read before anything in it is
 * trusted (omc_evidence_verify checks it later): nb its base64url text,
 * n and *nl its bytes. False if there is none, or it does not decode. */
bool srv_evidence_nonce(const char *ev, char nb[96], uint8_t n[64], size_t *nl);

/* An audit record of the network side (caller holds the lock). */
void srv_audit(omc_server *s, const char *role, const char *actor, const char *event, const char *subject,
	       const char *result, const char *detail);

/* A counter of the database (caller holds the lock, in a transaction):
 * the next value of name, starting at 1. */
OMC_MUST_USE omc_err srv_counter_next(omc_server *s, const char *name, int64_t *v);

/* Small SQL helpers (caller holds the lock). srv_sql gives a statement of
 * the handle's cache (omc_db_stmt): give it back with srv_sql_done. */
OMC_MUST_USE omc_err srv_sql(omc_server *s, omc_dbs **st, const char *sql);
void srv_sql_done(omc_server *s, omc_dbs *st);
bool srv_begin(omc_server *s);
bool srv_commit(omc_server *s);
void srv_rollback(omc_server *s);

/* The ICO (the operator of kind ico), or NULL. */
srv_op *srv_ico(omc_server *s);
/* Inside a transaction: a PCID into the ICO's AuC (with its lifetime) and
 * the CCIF's table (tre_id may be NULL). */
OMC_MUST_USE omc_err srv_ccif_register_pcid(omc_server *s, srv_op *ico, const char *imsi, const omc_aka_cred *cred,
					    const char *mode, const char *source, const char *tre_id, int64_t expires);
/* PCID renewal (CHG-4, CHG-5, NET-7), src/server/ccif_renew.c: the
 * device's nonce, renewal and receipt on the ICO's bootstrap listener, the
 * ICO's push on the CCIF's. */
void srv_ccif_renew_nonce(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);
void srv_ccif_renew(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);
void srv_ccif_renew_receipt(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);
void srv_ccif_push(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);

/* The roles (one file each) add their routes. */
void srv_routes_ccif(srv_listener *l);
void srv_routes_auc(srv_listener *l);
void srv_routes_sho(srv_listener *l);
void srv_routes_vno(srv_listener *l);
void srv_routes_bootstrap(srv_listener *l);
void srv_routes_drf(srv_listener *l);
void srv_routes_pva(srv_listener *l);
void srv_routes_dpf(srv_listener *l);
void srv_route_add(srv_listener *l, const char *method, const char *path, srv_fn fn);

/* The VNO's protected access link (SEC-11, vno_link.c, docs/link.md): its
 * keys and windows in table vno_link, the keys sealed under a key derived
 * from the master key by srv_links_new and wiped by srv_links_free. */
OMC_MUST_USE omc_err srv_links_new(omc_server *s, const uint8_t master[32]);
void srv_links_free(omc_server *s);
void srv_routes_vno_link(srv_listener *l);
/* At the attach: keys from the vector (hex of CK, IK, AUTN), recorded under
 * the challenge's id (its SHA-256). */
void srv_link_offer(omc_server *s, const char *attach_id, const char *imsi, const char *ck_h, const char *ik_h,
		    const char *autn_h);
/* When the challenge is taken: the keys move to the session (token_hash,
 * until expires), or are wiped (token_hash NULL). */
void srv_link_bind(omc_server *s, const char *attach_id, const uint8_t *token_hash, int64_t expires);
/* Whether keys of the session with this token hash are in the database,
 * ended or not (a sweep at each attach drops ended ones): for the tests. */
bool srv_link_held(omc_server *s, const uint8_t token_hash[32]);
/* vno.c, for /v1/data and /v1/link: the caller's session, which must be
 * operational; then n bytes of its traffic counted against its volume cap
 * (*used: the total so far; takes the lock). Each answers its refusal
 * itself (401, 403 provisioning_only or volume_cap, 500) and returns false. */
bool srv_vno_operational(srv_listener *l, const omc_http_req *req, omc_http_resp *resp, srv_session *ss);
bool srv_vno_count(srv_listener *l, omc_http_resp *resp, const srv_session *ss, int64_t n, uint64_t *used);
/* The DRF's record of a device's SHO (caller holds the lock). */
OMC_MUST_USE omc_err srv_drf_sho_of(omc_server *s, const char *platform_id, char sho[SRV_NAME_MAX],
				    char state[16]);

/* o[key] = hex of n bytes; false on no memory. */
bool srv_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n);
/* Hex member of exactly n bytes (or, with n_out, 1..cap bytes). */
bool srv_hex(srv_listener *l, omc_http_resp *resp, json_t *o, const char *key, uint8_t *out, size_t n);
/* Pass a peer's refusal on: its status and error code, or 502. */
void srv_fail_peer(srv_listener *l, omc_http_resp *resp, int status, json_t *answer, const char *peer);

/* Credentials (cred.c): fresh random ones (TUAK with the default
 * parameters), their JSON form {"alg", "k", "opc"} or {"alg", "k",
 * "tuak": {...}}, and back. */
OMC_MUST_USE omc_err srv_cred_new(omc_aka_cred *c, omc_aka_alg alg, const omc_aka_tuak_params *tuak);
json_t *srv_cred_json(const omc_aka_cred *c);
OMC_MUST_USE omc_err srv_cred_from_json(omc_aka_cred *c, json_t *o);
/* Whether credentials c are no weaker than operator op asks for: with
 * `alg = tuak`, TUAK with each length and the iterations at least its
 * own (a PCID reported with MILENAGE, or with fewer iterations or a
 * shorter MAC or RES, is a downgrade); with MILENAGE, either algorithm. */
bool srv_cred_meets(const omc_aka_cred *c, const srv_op *op);

/* A JWS a TRE signed (receipt, command result, PCID report): typ, chain
 * to a trusted M2MES CA at the server's clock; *claims the payload object
 * (the caller frees it), cn the signer's CN (the TRE's id). */
bool srv_tre_signed(omc_server *s, const char *jws, size_t len, const char *typ, json_t **claims, char cn[64]);

/* The RO's own signed command (cmd "reprovision", ...; owner, if not NULL,
 * its "owner" claim) queued at the DPF for tre; *id its row. The caller
 * holds the lock, in a transaction. */
OMC_MUST_USE omc_err srv_ro_command(omc_server *s, const char *tre, const char *cmd, const char *owner,
				    const char *mcim, int64_t *id);

/* osmo-hlr as the ICO's authentication centre (hlr.c, vno_gsup.c,
 * ccif_ctrl.c; docs/hlr.md). srv_hlr_config takes a key of [vno.home
 * NAME], [vno] or [ccif] (false: unknown or bad); srv_hlr_start checks it
 * and starts the GSUP clients, srv_hlr_stop ends them. */
typedef struct srv_hlr srv_hlr;
bool srv_hlr_config(omc_server *s, const char *section, const char *name, const char *value);
OMC_MUST_USE omc_err srv_hlr_start(omc_server *s);
void srv_hlr_stop(omc_server *s);
/* The VNO's vector for imsi (home its operator), as the home AuC's
 * `/v1/vectors` answers: over GSUP from osmo-hlr when a [vno.home] range
 * holds imsi, else that call. *status and *out as srv_call's; who gets the
 * peer's name for srv_fail_peer. */
OMC_MUST_USE omc_err srv_vno_vectors(omc_server *s, const srv_op *home, const char *imsi, int *status, json_t **out,
				     char *who, size_t who_cap);
/* The same for `/v1/resync` (RAND and AUTS in hex). */
OMC_MUST_USE omc_err srv_vno_resync(omc_server *s, const char *home, const char *imsi, const char *rand_h,
				    const char *auts_h, int *status, json_t **out, char *who, size_t who_cap);
/* The CCIF: a PCID into osmo-hlr over CTRL when [ccif] hlr_ctrl is set
 * (else nothing), and a retired one out of it. */
OMC_MUST_USE omc_err srv_ccif_hlr_register(omc_server *s, const char *imsi, const omc_aka_cred *cred);
OMC_MUST_USE omc_err srv_ccif_hlr_retire(omc_server *s, const char *imsi);

/* The metrics page. */
void srv_metrics(srv_listener *l, const omc_http_req *req, omc_http_resp *resp);

#endif
