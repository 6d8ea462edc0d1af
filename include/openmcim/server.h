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

/* --- the database ------------------------------------------------------------ */
typedef struct omc_db omc_db;

/* Open (creating) the database at path, migrated to the current schema
 * (PRAGMA user_version). A database from a newer openmcim is refused
 * (OMC_ERR_UNSUPPORTED). OMC_ERR_IO if it cannot be opened. A handle is
 * for one thread at a time. */
OMC_API OMC_MUST_USE omc_err omc_db_open(omc_db **db, const char *path);
OMC_API void omc_db_close(omc_db *db);
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

/* A subscriber account of an SHO (the subscriber API's caller): its bearer
 * token (base64url, 43 characters) into token, shown once; only its
 * SHA-256 is stored. OMC_ERR_EXISTS if the name is taken at that SHO. */
OMC_API OMC_MUST_USE omc_err omc_server_subscriber_add(omc_db *db, const char *sho, const char *name,
						       char token[OMC_STATIC_LEN(48)]);
/* The PVA's reference values of a model, as omc_factory_references gives
 * them ([{"name", "sha256"}]). */
OMC_API OMC_MUST_USE omc_err omc_server_reference_add(omc_db *db, const char *model, const char *json, size_t len);

/* The routes every listener answers: [{"role", "method", "path"}] (the
 * role as in omc_server_urls; GET /healthz and GET /metrics included), for
 * docs and the test that holds docs/openapi.json to the code. */
OMC_API OMC_MUST_USE omc_err omc_server_routes(omc_server *s, char **json);

#endif
