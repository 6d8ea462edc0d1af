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

/* A subscriber: IMSI (6..15 digits), its credential, IND bits (0..8;
 * OMC_AKA_IND_BITS_DEFAULT for the usual 5). OMC_ERR_EXISTS if the IMSI is
 * known (to any operator: an IMSI is in one AuC only). */
OMC_API OMC_MUST_USE omc_err omc_auc_add(omc_auc *a, const char *imsi, const omc_aka_cred *cred, unsigned ind_bits);

/* n (1..OMC_AUC_BATCH_MAX) authentication vectors for imsi: the SQN range
 * is reserved and every vector recorded (IMSI, SQN, RAND, time: SEC-13) in
 * one transaction before any vector is made, so no SQN is ever issued
 * twice, across restarts too. OMC_ERR_NOT_FOUND (not this operator's
 * subscriber), OMC_ERR_DENIED (disabled), OMC_ERR_EXHAUSTED (SEQ space
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
} omc_auc_info;
OMC_API OMC_MUST_USE omc_err omc_auc_info_get(omc_auc *a, const char *imsi, omc_auc_info *info);

#endif
