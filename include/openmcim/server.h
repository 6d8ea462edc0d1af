/* openmcim: the network roles of `openmcim server` (src/server).
 *
 * Not frozen yet (issue 4 builds it role by role). Each role keeps its
 * state in one database (omc_db: SQLite in WAL mode; the SQL is kept
 * portable for a PostgreSQL backend). Roles share no memory: everything
 * durable goes through the database, so a restart between any two calls
 * loses nothing and issues nothing twice. */
#ifndef OPENMCIM_SERVER_H
#define OPENMCIM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "openmcim/aka.h"
#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/proto.h"

/* --- the database ------------------------------------------------------------ */
typedef struct omc_db omc_db;

/* Open (creating) the database at path, migrated to the current schema
 * (PRAGMA user_version). A database from a newer openmcim is refused
 * (OMC_ERR_UNSUPPORTED). OMC_ERR_IO if it cannot be opened. A handle is
 * for one thread at a time. */
OMC_API OMC_MUST_USE omc_err omc_db_open(omc_db **db, const char *path);
OMC_API void omc_db_close(omc_db *db);
/* Whether a database name (the [server] db value, or what omc_db_config
 * made) is PostgreSQL's: a libpq URI (postgresql://..., postgres://...) or
 * "pg:" and a libpq conninfo (host=... dbname=...). Anything else is an
 * SQLite file. */
OMC_API bool omc_db_is_pg(const char *db);
/* The config's [db] section as the name omc_db_open takes, into out:
 * backend "sqlite" (or NULL) with path, or "postgresql" with conninfo.
 * OMC_ERR_BAD_FORMAT when they do not fit together. */
OMC_API OMC_MUST_USE omc_err omc_db_config(char *out, size_t cap, const char *backend, const char *path,
					   const char *conninfo);
OMC_API int omc_db_schema_version(omc_db *db);

/* --- AuC/HSS (TS 33.102 6.3, Annex C) ----------------------------------------- */
typedef struct omc_auc omc_auc;

/* The authentication centre of `operator_name` ("ico", "sho1", ...) in db.
 * Subscriber secrets are sealed at rest (AES-256-GCM) under a key derived
 * from the 32-byte master key (SEC-12). */
OMC_API OMC_MUST_USE omc_err omc_auc_open(omc_auc **a, omc_db *db, const char *operator_name,
					   const uint8_t master[OMC_STATIC_LEN(32)]);
OMC_API void omc_auc_close(omc_auc *a);
/* The clock of expiry checks and records (seconds); NULL: time(NULL). */
OMC_API void omc_auc_set_clock(omc_auc *a, int64_t (*now)(void *arg), void *arg);

/* A subscriber: IMSI (6..15 digits), its credential, IND bits (0..8;
 * OMC_AKA_IND_BITS_DEFAULT for the usual 5). OMC_ERR_EXISTS if the IMSI is
 * known (to any operator: an IMSI is in one AuC only). */
OMC_API OMC_MUST_USE omc_err omc_auc_add(omc_auc *a, const char *imsi, const omc_aka_cred *cred, unsigned ind_bits);

/* The same with a lifetime and a service profile. expires: seconds since
 * the epoch, 0 for none; from then on omc_auc_vectors answers
 * OMC_ERR_BAD_STATE (a PCID's lifetime, CCIF-1, CHG-5). profile: the
 * compact JSON {"data_only": bool, "volume_cap": bytes} the VNO enforces
 * (SEC-7), under 128 bytes; NULL: {}. */
typedef struct omc_auc_sub_opts {
	unsigned ind_bits;
	int64_t expires;
	const char *profile;
} omc_auc_sub_opts;
OMC_API OMC_MUST_USE omc_err omc_auc_add_ex(omc_auc *a, const char *imsi, const omc_aka_cred *cred,
					     const omc_auc_sub_opts *o);

/* n (1..OMC_AUC_BATCH_MAX) authentication vectors for imsi: the SQN range
 * is reserved and every vector recorded (IMSI, SQN, RAND, time: SEC-13) in
 * one transaction before any vector is made, so no SQN is ever issued
 * twice, across restarts too. OMC_ERR_NOT_FOUND (not this operator's
 * subscriber), OMC_ERR_DENIED (disabled), OMC_ERR_BAD_STATE (expired),
 * OMC_ERR_EXHAUSTED (SEQ space
 * used up), OMC_ERR_CORRUPT (secrets do not open under this master key). */
#define OMC_AUC_BATCH_MAX 32
OMC_API OMC_MUST_USE omc_err omc_auc_vectors(omc_auc *a, const char *imsi, const uint8_t amf[OMC_STATIC_LEN(2)],
					      omc_aka_av *out, size_t n);

/* Resynchronisation (TS 33.102 6.3.5) with the RAND of the failed
 * challenge and the device's AUTS: OMC_ERR_MAC_FAILURE if AUTS is not the
 * subscriber's; *moved says whether SEQ_HE moved. */
OMC_API OMC_MUST_USE omc_err omc_auc_resync(omc_auc *a, const char *imsi, const uint8_t rand[OMC_STATIC_LEN(16)],
					     const uint8_t *auts, size_t auts_len, bool *moved);

/* hostapd's hlr_auc_gw protocol (src/server/auc_hlrgw.c, docs/card.md):
 * one request datagram in, its answer out (*out_len 0: none is due, as
 * for AKA-AUTS). AKA vectors use AMF 8000. OMC_ERR_BAD_FORMAT,
 * OMC_ERR_UNSUPPORTED (another request), OMC_ERR_NO_SPACE. */
OMC_API OMC_MUST_USE omc_err omc_auc_hlrgw_handle(omc_auc *a, char *out, size_t cap, size_t *out_len,
						   const char *req, size_t len);
/* Serve it on a UNIX datagram socket at path (made mode 0660, removed at
 * the end) until *stop (checked every 200 ms). OMC_ERR_IO. */
OMC_API OMC_MUST_USE omc_err omc_auc_hlrgw_serve(omc_auc *a, const char *path, volatile int *stop);

/* No more vectors for imsi (an operator change: the old SHO disables). */
OMC_API OMC_MUST_USE omc_err omc_auc_disable(omc_auc *a, const char *imsi);

typedef struct omc_auc_info {
	char imsi[16];
	omc_aka_alg alg;
	uint64_t seq_he;     /* the SEQ of the last vector issued */
	uint64_t avs_issued; /* vectors recorded for this IMSI */
	bool enabled;
	int64_t expires;   /* 0: none */
	char profile[128]; /* compact JSON */
} omc_auc_info;
OMC_API OMC_MUST_USE omc_err omc_auc_info_get(omc_auc *a, const char *imsi, omc_auc_info *info);

/* --- what a device computes for the roles -------------------------------------------- */
/* The nonce of the evidence a device registers with at the DRF: SHA-256 of
 * "omc/drf/v1/register" 0x00 IMSI 0x00 TIME, TIME the request's "time"
 * member in decimal (docs/server.md, DRF). */
OMC_API OMC_MUST_USE omc_err omc_drf_nonce(uint8_t out[OMC_STATIC_LEN(32)], const char *pcid_imsi, int64_t time);

/* The Authorization header value of a signed request from one server (or
 * the M2MES) to another: "OMC-JWS " and a JWS (typ omc-request+jwt, x5c
 * the signer's certificate) over the method, the path, the body's SHA-256,
 * the time and a fresh id (docs/server.md). *auth from omc_alloc. */
OMC_API OMC_MUST_USE omc_err omc_server_sign_request(char **auth, const omc_key *key, const omc_cert *cert,
						      const char *method, const char *path, const char *body,
						      size_t body_len, int64_t now);

/* --- `openmcim server`: the roles behind HTTP -------------------------------------- */
/* One process hosts any set of roles: for each operator of the config its
 * AuC (and, for an SHO, the SHO role), and the CCIF, VNO, bootstrap, DRF,
 * PVA and DPF when listed. Each role instance has its own listener, so a
 * role that calls another in the same process never waits on its own
 * threads. docs/server.md has the config file, docs/openapi.json every
 * endpoint. */
typedef struct omc_server omc_server;

typedef struct omc_server_opts {
	const char *config;        /* path of the INI config file */
	int64_t (*now)(void *arg); /* clock (seconds); NULL: time(NULL) */
	void *now_arg;
} omc_server_opts;

/* Read the config, open the database (migrating it), load keys and
 * anchors, start every listener. OMC_ERR_BAD_FORMAT for a bad config (the
 * log says which line), OMC_ERR_IO for a port that cannot be bound. */
OMC_API OMC_MUST_USE omc_err omc_server_start(omc_server **s, const omc_server_opts *o);
/* {"<role>": "http://host:port", ...}: the base URL of every role hosted
 * ("ccif", "vno", "bootstrap", "drf", "pva", "dpf", "auc.<operator>",
 * "sho.<operator>"). omc_alloc'd. */
OMC_API OMC_MUST_USE omc_err omc_server_urls(omc_server *s, char **json);
/* Stop every listener (waiting for running requests) and free. */
OMC_API void omc_server_stop(omc_server *s);

/* Make a demo deployment in dir (created; must not hold one already): the
 * demo PKI (dir/pki), a master key (dir/master.key, 0600), the config
 * (dir/server.conf: operators ico, sho1 (MILENAGE), sho2 (TUAK), every
 * role, ephemeral ports), the PVA's reference values for the demo model,
 * and one subscriber account per SHO, whose bearer tokens are written to
 * dir/subscribers.json (0600). */
OMC_API OMC_MUST_USE omc_err omc_server_demo_setup(const char *dir);
/* The same with the database db ([server] db: a file path, or a
 * PostgreSQL URI postgresql://...; NULL: dir/openmcim.db). A PostgreSQL
 * database must exist and be empty or a demo's own. */
OMC_API OMC_MUST_USE omc_err omc_server_demo_setup_db(const char *dir, const char *db);

/* A subscriber account of an SHO (the subscriber API's caller): its bearer
 * token (base64url, 43 characters) into token, shown once; only its
 * SHA-256 is stored. OMC_ERR_EXISTS if the name is taken at that SHO. */
OMC_API OMC_MUST_USE omc_err omc_server_subscriber_add(omc_db *db, const char *sho, const char *name,
						       char token[OMC_STATIC_LEN(48)]);
/* The PVA's reference values of a model, as omc_factory_references gives
 * them ([{"name", "sha256"}]); an entry may add "version": the evidence's
 * sw_version it holds for (absent: every version). */
OMC_API OMC_MUST_USE omc_err omc_server_reference_add(omc_db *db, const char *model, const char *json, size_t len);

/* The routes every listener answers: [{"role", "method", "path"}] (the
 * role as in omc_server_urls; GET /healthz and GET /metrics included), for
 * docs and the test that holds docs/openapi.json to the code. */
OMC_API OMC_MUST_USE omc_err omc_server_routes(omc_server *s, char **json);

/* --- administration (`openmcim ctl`, docs/cli-ctl.md) -------------------------------- */
/* What an administrator's tool reads of the config file: [server] db,
 * master_key and pki, and each [operator NAME]'s kind, imsi_prefix and alg,
 * with the rules omc_server_start applies to them (other keys are left to
 * it). Paths are as written: a relative one is relative to the current
 * directory, as for the server. */
#define OMC_SERVER_OPS_MAX 8
typedef struct omc_server_config_op {
	char name[17];       /* a-z 0-9 _ -, 1..16 */
	bool ico;            /* kind = ico; else sho (the default) */
	char imsi_prefix[7]; /* 5 or 6 digits */
	omc_aka_alg alg;     /* an SHO's MCIMs; OMC_AKA_ALG_MILENAGE by default */
} omc_server_config_op;
typedef struct omc_server_config {
	char db[512], master_key[512], pki[512];
	omc_server_config_op ops[OMC_SERVER_OPS_MAX];
	size_t n_ops;
} omc_server_config;
/* OMC_ERR_IO if unreadable; OMC_ERR_BAD_FORMAT for a line that does not
 * parse, a bad value of those keys, more than OMC_SERVER_OPS_MAX operators,
 * an operator without imsi_prefix, or no db or master_key (the log says
 * which). */
OMC_API OMC_MUST_USE omc_err omc_server_config_read(omc_server_config *c, const char *path);
/* The operator of that name in c, or NULL. */
OMC_API const omc_server_config_op *omc_server_config_op_find(const omc_server_config *c, const char *name);
/* Append "[operator NAME]" with kind, imsi_prefix and (kind sho) alg to the
 * config file: under an exclusive flock of the file, the old text and the
 * section go to a new file beside it (fsync), renamed over it (directory
 * fsync'd); its mode and owner are kept (OMC_ERR_IO if the owner cannot
 * be). Afterwards the file is exactly the old one or the new one.
 * OMC_ERR_EXISTS if the name or the IMSI prefix is taken,
 * OMC_ERR_EXHAUSTED if the file has OMC_SERVER_OPS_MAX operators already,
 * OMC_ERR_BAD_ARG for a bad name or prefix. The server reads its config at
 * start only, and needs the operator's key and certificate in its PKI. */
OMC_API OMC_MUST_USE omc_err omc_server_config_operator_add(const char *path, const omc_server_config_op *op);
/* The master key file as the server reads it: exactly 32 bytes, no access
 * for group or others (else OMC_ERR_BAD_FORMAT; OMC_ERR_IO if it does not
 * open). out is wiped on failure. */
OMC_API OMC_MUST_USE omc_err omc_server_master_read(uint8_t out[OMC_STATIC_LEN(32)], const char *path);

typedef struct omc_server_op_stats {
	uint64_t subscribers; /* in the operator's AuC */
	uint64_t enabled;     /* of these, not disabled */
	uint64_t accounts;    /* subscriber accounts of an SHO (omc_server_subscriber_add) */
	uint64_t devices;     /* devices registered at an SHO */
} omc_server_op_stats;
OMC_API OMC_MUST_USE omc_err omc_server_operator_stats(omc_db *db, const char *op, omc_server_op_stats *st);

/* The operator's AuC subscribers, public fields only, by IMSI: a JSON array
 * of {"imsi", "alg", "seq_he", "enabled", "expires", "profile" (object),
 * "avs_issued"}, omc_alloc'd. The sealed secrets are never read: there is no
 * export of K, OPc or TOPc. */
OMC_API OMC_MUST_USE omc_err omc_server_subscribers_export(omc_db *db, const char *op, char **json);

/* Subscribers of operator op (of c) from JSON lines (text, len; empty lines
 * skipped): {"imsi", "alg" ("milenage", the default, or "tuak"), "k", "opc"}
 * or {"imsi", "alg": "tuak", "k", "tuak": {"topc", "iterations",
 * "mac_bits", "res_bits", "ck_bits", "ik_bits"}}, optional "expires" and
 * "profile" as in omc_auc_sub_opts; no other member. Each IMSI must route
 * to op (the longest IMSI prefix of c). All in one transaction: either
 * every line is imported or none. OMC_ERR_BAD_FORMAT or OMC_ERR_EXISTS (an
 * IMSI known already) with r->line and r->why saying which line and why
 * (never quoting it); OMC_ERR_CORRUPT if master does not open a subscriber
 * the database holds already; OMC_ERR_NOT_FOUND if op is not in c. Each
 * credential is sealed under master (SEC-12) and every copy made here is
 * wiped; text is the caller's to wipe. */
typedef struct omc_server_import_result {
	size_t imported;
	size_t line; /* 1-based; 0: no line's fault */
	char why[96];
} omc_server_import_result;
OMC_API OMC_MUST_USE omc_err omc_server_subscribers_import(omc_db *db, const omc_server_config *c, const char *op,
							   const uint8_t master[OMC_STATIC_LEN(32)], const char *text,
							   size_t len, omc_server_import_result *r);

/* The devices the SHOs and the DRF of db know (of SHO sho; NULL: all): a
 * JSON array, by platform id, of {"platform_id", "tre_id", "sho",
 * "subscriber", "state", "drf_state", "mcim_id", "imsi", "version",
 * "pcid_imsi"}, one element per MCIM an SHO issued for the device (or one
 * with "mcim_id" null). state: the MCIM's at the SHO, else the device's
 * there ("registered"), null if only the DRF knows it; drf_state: the
 * DRF's ("assigned", "registered", "provisioned") or null. omc_alloc'd. */
OMC_API OMC_MUST_USE omc_err omc_server_devices_list(omc_db *db, const char *sho, char **json);

/* The newest `limit` (0: all) audit records of the network side, oldest
 * first: a JSON array of {"id", "time", "role", "actor", "event",
 * "subject", "result", "detail"}. role NULL: every role; "sho" takes
 * "sho.sho1" and every other "sho.NAME" too. omc_alloc'd. */
OMC_API OMC_MUST_USE omc_err omc_server_audit_list(omc_db *db, const char *role, uint64_t limit, char **json);

#endif
