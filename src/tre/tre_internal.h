/* openmcim TRE: internal interfaces between the TRE's parts. */
#ifndef OMC_TRE_INTERNAL_H
#define OMC_TRE_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "openmcim/aka.h"
#include "openmcim/tre.h"
#include "tre/tpm_internal.h"
#include "util/util_internal.h"

/* =========================================================================
 * Audit records (TRE-11, SEC-13): src/tre/audit.c
 *
 * An append-only chain of records, one JSON object per line:
 *   {"seq":N,"time":T,"event":E,"actor":A,"subject":S,"result":R,
 *    "detail":D,"prev":HEX,"hash":HEX,"mac":HEX}
 * body = the JSON object {seq,time,event,actor,subject,result,detail}
 *        serialised compact with sorted keys (jansson JSON_COMPACT |
 *        JSON_SORT_KEYS), exactly as it appears re-serialised;
 * hash = SHA-256("omc/audit/v1" || prev (32 bytes) || body);
 * mac  = HMAC-SHA-256(k_audit, hash).
 * The first record's prev is 32 zero bytes; seq counts from 1. The hash
 * chain lets anyone check order and integrity up to a signed checkpoint
 * (the TRE signs {count, head hash}); the MAC lets the TRE itself detect
 * records forged by someone who can write the file but lacks the key.
 * Strings: printable ASCII, at most OMC_AUDIT_FIELD_MAX bytes each (longer
 * detail is truncated by omc_audit_record, never by the verifier).
 * ========================================================================= */
#define OMC_AUDIT_FIELD_MAX 256
#define OMC_AUDIT_LINE_MAX 2048

typedef struct omc_audit_head {
	uint64_t count;   /* records so far */
	uint8_t hash[32]; /* hash of record number `count` (zeros when 0) */
} omc_audit_head;

typedef struct omc_audit_event {
	int64_t time;        /* seconds since the epoch */
	const char *event;   /* "install", "lifecycle", "aka", "tamper", ... */
	const char *actor;   /* "tre", "sho:NAME", "ro:NAME", "user:NAME" */
	const char *subject; /* "mcim:ID", "tre", "user:NAME", ... */
	const char *result;  /* "ok", "refused", "failed" */
	const char *detail;  /* free text, may be "" (never secret material) */
} omc_audit_event;

/* The next record after *head as one line ending in '\n' (*line from
 * omc_alloc, NUL-terminated, *len without the NUL); *head advances.
 * OMC_ERR_BAD_ARG for a field that is NULL or not printable ASCII. */
OMC_MUST_USE omc_err omc_audit_record(char **line, size_t *len, omc_audit_head *head,
				      const uint8_t k_audit[32], const omc_audit_event *ev);

/* Verify a buffer of records (lines). With k_audit NULL only the hash chain
 * is checked (a remote verifier); with it, every MAC too. On OMC_OK *head is
 * the head after the last record. On failure (OMC_ERR_TAMPERED for a broken
 * chain, MAC or sequence; OMC_ERR_BAD_FORMAT for an unparsable line),
 * *bad_line is the 1-based number of the first bad line. An empty buffer is
 * a valid empty chain. */
OMC_MUST_USE omc_err omc_audit_verify(omc_audit_head *head, size_t *bad_line, const char *buf, size_t len,
				      const uint8_t *k_audit);

/* OMC_OK if the chain in buf is valid and record number expect->count has
 * hash expect->hash (or expect->count == 0): the log holds at least what was
 * committed, unedited. OMC_ERR_TAMPERED if it is shorter (truncated) or
 * differs. */
OMC_MUST_USE omc_err omc_audit_extends(const char *buf, size_t len, const uint8_t *k_audit,
				       const omc_audit_head *expect);

/* Parse one record line into its fields (for listing); strings point into
 * a copy owned by the caller-provided json output: *obj is a jansson json_t*
 * the caller json_decref's. */
OMC_MUST_USE omc_err omc_audit_parse_line(void **obj, const char *line, size_t len);

/* =========================================================================
 * Local users (TRE-10, TRE-5, MGT-7): src/tre/users.c
 *
 * Up to OMC_USERS_MAX users, each with a role and a PIN stored as an
 * Argon2id hash (libargon2, raw mode: 16-byte random salt, 32-byte tag) with
 * its cost parameters. Wrong PINs count per user; at OMC_USER_MAX_TRIES
 * consecutive failures the user is blocked (only an admin unblocks). All
 * failures since the last success of anyone count towards
 * OMC_USERS_LOCKDOWN_FAILURES, at which the TRE locks down (the caller acts
 * on omc_users_lockdown_due). Comparisons are constant-time; PINs and
 * hashes of PINs are never logged.
 * ========================================================================= */
#define OMC_USERS_MAX 16
#define OMC_USER_NAME_MAX 32 /* [a-z0-9_-], 1..32 */
#define OMC_USER_PIN_MIN 4
#define OMC_USER_PIN_MAX 64
#define OMC_USER_MAX_TRIES 3
#define OMC_USERS_LOCKDOWN_FAILURES 10

typedef enum omc_user_role {
	OMC_USER_ROLE_ADMIN = 1,    /* manages users, may run any local operation */
	OMC_USER_ROLE_OPERATOR = 2, /* may activate/deactivate MCIMs its ACL names */
	OMC_USER_ROLE_USER = 3,     /* may run AKA of MCIMs whose ACL names it */
} omc_user_role;

typedef struct omc_user {
	char name[OMC_USER_NAME_MAX + 1];
	omc_user_role role;
	uint8_t salt[16];
	uint8_t tag[32];
	uint32_t t_cost, m_cost_kib, lanes;
	uint32_t failures; /* consecutive wrong PINs */
	bool blocked;
} omc_user;

typedef struct omc_users {
	omc_user u[OMC_USERS_MAX];
	size_t n;
	uint32_t failures_total; /* since the last successful authentication */
	/* Argon2id cost for new PINs (defaults: t = 2, m = 19456 KiB, 1 lane;
	 * tests lower it). */
	uint32_t t_cost, m_cost_kib, lanes;
} omc_users;

const char *omc_user_role_name(omc_user_role r); /* "admin", "operator", "user" */
OMC_MUST_USE omc_err omc_user_role_parse(omc_user_role *r, const char *s);

void omc_users_init(omc_users *t);
void omc_users_wipe(omc_users *t);
/* OMC_ERR_EXISTS, OMC_ERR_EXHAUSTED (table full), OMC_ERR_BAD_ARG (name or
 * PIN outside the rules). */
OMC_MUST_USE omc_err omc_users_add(omc_users *t, const char *name, omc_user_role role, const char *pin,
				   size_t pin_len);
OMC_MUST_USE omc_err omc_users_del(omc_users *t, const char *name);
OMC_MUST_USE omc_err omc_users_set_pin(omc_users *t, const char *name, const char *pin, size_t pin_len);
/* Unblock and reset the counter. */
OMC_MUST_USE omc_err omc_users_unblock(omc_users *t, const char *name);
/* OMC_OK and *who (pointer into t) on a right PIN (resets both counters);
 * OMC_ERR_AUTH_FAILED for a wrong PIN or an unknown user (both counted,
 * the same answer and about the same time); OMC_ERR_DENIED if blocked. */
OMC_MUST_USE omc_err omc_users_auth(omc_users *t, const char *name, const char *pin, size_t pin_len,
				    const omc_user **who);
bool omc_users_lockdown_due(const omc_users *t);
const omc_user *omc_users_find(const omc_users *t, const char *name);

/* The table as JSON (a store object) and back; parsing is strict. *json from
 * omc_alloc. Salts and tags are hex. */
OMC_MUST_USE omc_err omc_users_to_json(char **json, size_t *len, const omc_users *t);
OMC_MUST_USE omc_err omc_users_from_json(omc_users *t, const char *json, size_t len);

/* =========================================================================
 * MCIM records (src/tre/mcim.c): the JSON object stored (encrypted) as
 * store object "mcim/<owner>/<id>". Format in docs/objects.md.
 * ========================================================================= */
#define OMC_MCIM_ID_MAX 40    /* [A-Za-z0-9_-] */
#define OMC_MCIM_OWNER_MAX 16 /* [a-z0-9_-] */
#define OMC_MCIM_ACL_MAX 8
#define OMC_MCIM_SHARE_MAX 4

typedef enum omc_mcim_role {
	OMC_MCIM_ROLE_OPERATIONAL = 0,
	OMC_MCIM_ROLE_BOOTSTRAP = 1, /* a PCID: provisional connectivity only */
} omc_mcim_role;

typedef enum omc_mcim_type {
	OMC_MCIM_TYPE_USIM = 0,
	OMC_MCIM_TYPE_ISIM = 1,
} omc_mcim_type;

typedef struct omc_mcim {
	char id[OMC_MCIM_ID_MAX + 1];
	char owner[OMC_MCIM_OWNER_MAX + 1];
	omc_mcim_role role;
	omc_mcim_type type;
	char imsi[16];     /* 6..15 digits */
	char impi[128];    /* ISIM only, may be "" */
	char impu[128];    /* ISIM only, may be "" */
	omc_mcim_state state;
	uint32_t version;
	int64_t expires;   /* 0: none (a PCID has a lifetime, CHG-5) */
	bool has_secrets;  /* false for a tombstone or a record blocked unreadable */
	omc_aka_cred cred; /* secret */
	omc_aka_sqn_ms sqn;
	char acl[OMC_MCIM_ACL_MAX][OMC_USER_NAME_MAX + 1]; /* users that may run AKA */
	size_t n_acl;
	char share[OMC_MCIM_SHARE_MAX][OMC_MCIM_ID_MAX + 1]; /* MGT-3: MCIMs allowed to use this one's functions */
	size_t n_share;
	bool data_only;      /* service profile (SEC-7) */
	uint64_t volume_cap; /* bytes, 0 = none */
	char block_reason[64];
} omc_mcim;

const char *omc_mcim_role_name(omc_mcim_role r);
const char *omc_mcim_type_name(omc_mcim_type t);
void omc_mcim_wipe(omc_mcim *m);
/* Strict parse of a record (store form, with secrets and state) or of the
 * "mcim" claim of a package (`from_package`: no state, no sqn array; an
 * optional {"ind_bits","floor"} sqn start instead). */
OMC_MUST_USE omc_err omc_mcim_from_json(omc_mcim *m, const void *json_obj, bool from_package);
OMC_MUST_USE omc_err omc_mcim_parse(omc_mcim *m, const uint8_t *buf, size_t len);
/* The store form; *out from omc_alloc (wiped on omc_free). */
OMC_MUST_USE omc_err omc_mcim_to_json(char **out, size_t *len, const omc_mcim *m);
/* Store object id "mcim/<owner>/<id>". */
OMC_MUST_USE omc_err omc_mcim_object_id(char *buf, size_t cap, const char *owner, const char *id);
/* Drop the secrets (crypto-erase happens in the store commit) and keep a
 * tombstone. */
void omc_mcim_make_tombstone(omc_mcim *m);
/* MGT-8: apply an `update` claim ({"version", "acl"?, "share"?, "profile"?,
 * "expires"?}); version must be above the record's (OMC_ERR_DENIED).
 * OMC_ERR_BAD_FORMAT for anything else wrong; *m unchanged on error. */
OMC_MUST_USE omc_err omc_mcim_apply_update(omc_mcim *m, const void *json_obj);
bool omc_mcim_valid_id(const char *s, size_t max);
/* An owner (operator) name: 1..OMC_MCIM_OWNER_MAX of [a-z0-9_-]; it is the
 * "iss" of everything that owner signs. */
bool omc_mcim_valid_owner(const char *s);

/* =========================================================================
 * The TRE handle (src/tre/tre.c and friends)
 * ========================================================================= */
#define OMC_TRE_MAX_MCIMS 64
#define OMC_TRE_TRIAL_MAX 4
#define OMC_TRE_MAX_ANCHORS 8
#define OMC_TRE_MAX_ISSUERS 32
#define OMC_TRE_AUDIT_TAIL_MAX 32 /* records kept in the store before a flush to audit.log */
/* A provisioning session's lifetime: a package for an older one is refused
 * (its ephemeral key has been there too long to count as fresh). */
#define OMC_TRE_SESSION_LIFETIME (24 * 3600)
#define OMC_TRE_MAX_COMPONENTS OMC_EVIDENCE_MAX_MEASUREMENTS

/* Trust anchor roles (identity.sealed). */
typedef enum omc_anchor_role {
	OMC_ANCHOR_M2MES = 0,      /* device certificates (other TREs, for tests) */
	OMC_ANCHOR_TRE_VENDOR = 1, /* reference manifests, TRE updates */
	OMC_ANCHOR_OPERATOR = 2,   /* MCIM packages and commands (ICO, SHOs) */
	OMC_ANCHOR_RO = 3,         /* RO commands and recovery */
	OMC_ANCHOR_PVA = 4,        /* validation tokens and recovery */
	OMC_ANCHOR_ROLES = 5,
} omc_anchor_role;

typedef struct omc_tre_issuer {
	char name[OMC_MCIM_OWNER_MAX + 1];
	uint64_t seq;
} omc_tre_issuer;

typedef struct omc_tre_component {
	char name[32];
	uint8_t expected[32], measured[32];
	bool ok;
} omc_tre_component;

/* =========================================================================
 * Firmware update (TRE-12): src/tre/update.c, docs/objects.md "TRE update".
 *
 * The update's phase lives in the TRE state (member "update" of tre/state),
 * so that each change is one store commit; the files sit in the TRE's
 * directory under update/. The phases between two commits:
 *   NONE -stage-> STAGED -boot: backups-> SWITCHING -new files-> TRIAL
 *   TRIAL -confirm-> NONE (counter raised)
 *   TRIAL -boot-> REVERTING -old files-> NONE ("update reverted")
 * Every read-write open first settles an interrupted change: SWITCHING is
 * undone (back to STAGED), REVERTING is finished. Each file step is
 * idempotent and checked against digests kept in the state.
 * ========================================================================= */
#define OMC_TRE_UPDATE_FILE_MAX (16u * 1024 * 1024) /* one component's bytes */
#define OMC_TRE_UPDATE_VERSION_MAX 32               /* with the NUL */
#define OMC_TRE_UPDATE_PATH_MAX 80                  /* "platform/NAME", with the NUL */

typedef enum omc_tre_update_phase {
	OMC_TRE_UPD_NONE = 0,
	OMC_TRE_UPD_STAGED = 1,
	OMC_TRE_UPD_SWITCHING = 2,
	OMC_TRE_UPD_TRIAL = 3,
	OMC_TRE_UPD_REVERTING = 4,
} omc_tre_update_phase;

typedef struct omc_tre_update_comp {
	char name[32];
	char path[OMC_TRE_UPDATE_PATH_MAX];
	uint8_t sha256[32]; /* the new content */
	uint64_t size;
	bool had_old;           /* a file was at path before the switch (kept in update/old-cI) */
	uint8_t old_sha256[32]; /* its digest */
} omc_tre_update_comp;

typedef struct omc_tre_update_rec {
	omc_tre_update_phase phase;
	unsigned slot; /* staged files: update/sSLOT-... (a new stage takes the other slot) */
	char version[OMC_TRE_UPDATE_VERSION_MAX];
	uint64_t counter;
	uint8_t manifest_sha256[32]; /* the new reference manifest, update/sSLOT-manifest.jws */
	bool had_old_manifest;
	uint8_t old_manifest_sha256[32]; /* manifest.jws before the switch, update/old-manifest.jws */
	omc_tre_update_comp comps[OMC_TRE_MAX_COMPONENTS];
	size_t n;
} omc_tre_update_rec;

struct omc_tre {
	omc_store_io *io, *store_io;
	bool own_io, own_store_io, own_ard;
	bool use_tpm;    /* the TPM backend (docs/tpm.md) */
	omc_tpm_cfg tpm;
	omc_store_ard *ard;
	omc_store *store; /* NULL when the store could not be opened (lockdown) */
	bool readonly;
	int64_t (*now)(void *arg);
	void *now_arg;

	/* keys, derived from the device root key; wiped at close */
	uint8_t drk[32], k_ident[32], k_audit[32], k_keys[32];

	/* identity (identity.sealed) */
	char tre_id[64], platform_id[64], model[64];
	omc_key *att_key;
	omc_cert *chain[4];
	size_t n_chain;
	omc_cert *anchors[OMC_ANCHOR_ROLES][OMC_TRE_MAX_ANCHORS];
	size_t n_anchors[OMC_ANCHOR_ROLES];
	char *factory_pcid; /* MCIM JSON of the factory PCID (secret), omc_alloc'd */
	size_t factory_pcid_len;

	/* persisted TRE state (store object tre/state) */
	bool lockdown;
	char lockdown_reason[128];
	uint64_t boot_count;
	omc_tre_issuer issuers[OMC_TRE_MAX_ISSUERS];
	size_t n_issuers;
	omc_audit_head audit_head;   /* after the last record, file and tail */
	omc_audit_head audit_file;   /* after the last record in audit.log */
	uint64_t audit_file_len;     /* committed bytes of audit.log */
	bool audit_len_known;        /* the state said audit_file_len */
	uint64_t lockdown_epoch;     /* the counter when this lockdown began: recovery binds to it */
	uint64_t pcid_sqn;           /* highest SQN a bootstrap MCIM accepted: a restored PCID starts above it */
	bool lockdown_epoch_set;
	/* a direct operator change on trial (the RO's `switch`): the MCIM
	 * switched to, the ones deactivated for it, the command's seq */
	bool trial;
	char trial_to[OMC_MCIM_ID_MAX + 1];
	char trial_from[OMC_TRE_TRIAL_MAX][OMC_MCIM_ID_MAX + 1];
	size_t n_trial_from;
	uint64_t trial_seq;
	char *audit_tail[OMC_TRE_AUDIT_TAIL_MAX + 1];
	size_t n_tail;
	/* provisioning session */
	bool session;
	uint8_t session_nonce[64];
	size_t session_nonce_len;
	char *session_key; /* base64url of the key sealed under k_keys (omc_key_seal) */
	int64_t session_created;

	/* secure boot */
	bool platform_ok, manifest_ok;
	char fw_version[OMC_TRE_UPDATE_VERSION_MAX]; /* the running manifest's version ("" unverified) */
	uint64_t fw_manifest_counter;                /* and its security counter (0 if it names none) */
	/* firmware update (TRE-12, update.c), persisted in the TRE state */
	uint64_t fw_counter; /* the stored security counter: raised when an update is confirmed */
	omc_tre_update_rec upd;
	omc_tre_component comps[OMC_TRE_MAX_COMPONENTS];
	size_t n_comps;

	/* registry cache (no secrets) */
	omc_tre_mcim_info reg[OMC_TRE_MAX_MCIMS];
	size_t n_reg;

	omc_users users;
};

int64_t omc_tre_now(const omc_tre *t);
/* One transaction: extra store ops (owned buffers), committed with the TRE
 * state and the audit record of ev, atomically. */
typedef struct omc_tre_txn {
	omc_store_op ops[OMC_TRE_MAX_MCIMS + 4];
	char ids[OMC_TRE_MAX_MCIMS + 4][OMC_STORE_ID_MAX + 1];
	char *bufs[OMC_TRE_MAX_MCIMS + 4];
	size_t n;
	unsigned flags;
} omc_tre_txn;
void omc_tre_txn_init(omc_tre_txn *x);
void omc_tre_txn_free(omc_tre_txn *x);
OMC_MUST_USE omc_err omc_tre_txn_put_mcim(omc_tre_txn *x, const omc_mcim *m);
OMC_MUST_USE omc_err omc_tre_txn_put(omc_tre_txn *x, const char *id, char *buf, size_t len); /* takes buf */
/* Commit x (may be NULL) with the state and one audit record (ev may be
 * NULL). On failure the in-memory state is as before. */
OMC_MUST_USE omc_err omc_tre_commit(omc_tre *t, omc_tre_txn *x, const omc_audit_event *ev);
/* Audit a refusal or another event with no other change (a commit). */
void omc_tre_audit(omc_tre *t, const char *event, const char *actor, const char *subject, const char *result,
		   const char *detail);
/* Enter lockdown: the sticky flag first, then the state and audit. */
OMC_MUST_USE omc_err omc_tre_enter_lockdown(omc_tre *t, const char *reason);
/* Load an MCIM by id (searching owners). OMC_ERR_NOT_FOUND, OMC_ERR_CORRUPT. */
OMC_MUST_USE omc_err omc_tre_load_mcim(omc_tre *t, const char *id, omc_mcim *m);
/* Refresh the registry cache from the store. */
OMC_MUST_USE omc_err omc_tre_reload_registry(omc_tre *t);
const omc_tre_mcim_info *omc_tre_reg_find(const omc_tre *t, const char *id);
/* Anchors of a role as a const array for omc_cert_chain_verify. */
const omc_cert *const *omc_tre_anchors(const omc_tre *t, omc_anchor_role r, size_t *n);
/* Issuer sequence numbers (replay protection). */
uint64_t omc_tre_issuer_seq(const omc_tre *t, const char *iss);
OMC_MUST_USE omc_err omc_tre_issuer_set(omc_tre *t, const char *iss, uint64_t seq);
/* Sign a JSON payload with the attestation key (x5c = the TRE's chain). */
OMC_MUST_USE omc_err omc_tre_sign(omc_tre *t, const char *typ, const void *json_obj, char **jws);
/* Secure boot (boot.c): verify manifest.jws, measure the components. */
void omc_tre_measure(omc_tre *t);
/* Firmware update (update.c). The members "fw_counter" and "update" of the
 * TRE state: into the state object o, and back (absent: counter 0, no
 * update; anything malformed is OMC_ERR_CORRUPT). */
OMC_MUST_USE omc_err omc_tre_update_state_to_json(const omc_tre *t, json_t *o);
OMC_MUST_USE omc_err omc_tre_update_state_from_json(omc_tre *t, const json_t *o);
/* At a read-write open, before the measurement: settle an interrupted
 * switch or revert and, when the open is a boot, move a staged update to
 * its trial or revert an unconfirmed trial. Errors are I/O and store
 * errors; a damaged staged update or backup is dropped and audited. */
OMC_MUST_USE omc_err omc_tre_update_boot(omc_tre *t, bool boot);
/* HKDF-SHA-256 with an info label. */
OMC_MUST_USE omc_err omc_tre_hkdf(uint8_t out[32], const uint8_t ikm[32], const char *info);

/* AES-256-GCM sealing of a small file: magic(8) | nonce(12) | ct | tag(16),
 * AAD = magic. *out from omc_alloc. */
/* The provisioning session's private key (attest.c): OMC_ERR_BAD_STATE
 * without a session, OMC_ERR_CORRUPT if it does not open. */
OMC_MUST_USE omc_err omc_tre_session_key(omc_tre *t, omc_key **k);

/* A string member of o into dst (it must fit with its NUL), and an
 * integer member that is not negative: OMC_ERR_BAD_FORMAT otherwise. */
OMC_MUST_USE omc_err omc_tre_json_str(char *dst, size_t cap, const json_t *o, const char *key);
OMC_MUST_USE omc_err omc_tre_json_u64(uint64_t *out, const json_t *o, const char *key);

OMC_MUST_USE omc_err omc_tre_seal(uint8_t **out, size_t *out_len, const uint8_t key[32], const char magic[8],
				  const uint8_t *pt, size_t len);
OMC_MUST_USE omc_err omc_tre_unseal(uint8_t **pt, size_t *len, const uint8_t key[32], const char magic[8],
				    const uint8_t *in, size_t in_len);
/* Write a whole file atomically through io: path.tmp, sync, rename, sync_dir. */
OMC_MUST_USE omc_err omc_tre_write_file(omc_store_io *io, const char *path, const uint8_t *data, size_t len);

#define OMC_TRE_LABEL_IDENTITY "omc/tre/v1/identity"
#define OMC_TRE_LABEL_AUDIT "omc/tre/v1/audit"
#define OMC_TRE_LABEL_KEYS "omc/tre/v1/keys"
#define OMC_TRE_LABEL_STORE "omc/tre/v1/store"
#define OMC_TRE_IDENTITY_MAGIC "OMCIDNT1"

/* The factory's first commit (PCID, initial state, first audit record). */
OMC_MUST_USE omc_err omc_tre_factory_commit(omc_store *store, const uint8_t drk[32], const omc_mcim *pcid,
					    int64_t now);

#endif

