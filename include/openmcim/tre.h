/* openmcim: the TRE (trusted environment) core.
 *
 * A library with no network code (TRE-1..11, MGT-1..7): secure storage of
 * several MCIMs and the TRE's own keys, the MCIM registry and lifecycle,
 * installation of MCIM packages, AKA run inside, secure boot, tamper
 * lockdown, local users, audit and attestation. The daemon, the agent and
 * the simulator all call this API. No call returns K, OPc or TOPc.
 * Object formats are in docs/objects.md, the lifecycle in docs/lifecycle.md. */
#ifndef OPENMCIM_TRE_H
#define OPENMCIM_TRE_H

#include <stdbool.h>

#include "openmcim/aka.h"
#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/proto.h"
#include "openmcim/store.h"

/* =========================================================================
 * MCIM lifecycle (MGT-4, MGT-5): one static table, one dispatcher.
 * ========================================================================= */
typedef enum omc_mcim_state {
	OMC_MCIM_INSTALLED = 0,   /* stored, not usable yet */
	OMC_MCIM_ACTIVATED = 1,   /* usable for AKA */
	OMC_MCIM_DEACTIVATED = 2, /* stored, switched off */
	OMC_MCIM_BLOCKED = 3,     /* integrity anomaly or the owner's block */
	OMC_MCIM_DELETED = 4,     /* secrets crypto-erased; a tombstone remains */
} omc_mcim_state;
#define OMC_MCIM_STATE_COUNT 5

typedef enum omc_mcim_event {
	OMC_EV_ACTIVATE = 0,
	OMC_EV_DEACTIVATE = 1,
	OMC_EV_BLOCK = 2,
	OMC_EV_UNBLOCK = 3,
	OMC_EV_DELETE = 4,
	OMC_EV_INTEGRITY_FAIL = 5, /* the TRE found the record damaged (MGT-2) */
} omc_mcim_event;
#define OMC_MCIM_EVENT_COUNT 6

typedef enum omc_actor_kind {
	OMC_ACTOR_TRE = 0,   /* the TRE itself */
	OMC_ACTOR_OWNER = 1, /* the SHO (or ICO) owning the MCIM, by signed command */
	OMC_ACTOR_RO = 2,    /* the registration operator, by signed command */
	OMC_ACTOR_USER = 3,  /* an authenticated local user the MCIM's ACL allows */
	OMC_ACTOR_OTHER = 4, /* anyone else (another SHO, an unauthenticated caller) */
} omc_actor_kind;
#define OMC_ACTOR_KIND_COUNT 5

typedef struct omc_lifecycle_rule {
	omc_mcim_state from;
	omc_mcim_event event;
	omc_actor_kind actor;
	omc_mcim_state to;
} omc_lifecycle_rule;

OMC_API const char *omc_mcim_state_name(omc_mcim_state s);
OMC_API const char *omc_mcim_event_name(omc_mcim_event e);
OMC_API const char *omc_actor_kind_name(omc_actor_kind a);
OMC_API OMC_MUST_USE omc_err omc_mcim_state_parse(omc_mcim_state *s, const char *name);
OMC_API OMC_MUST_USE omc_err omc_mcim_event_parse(omc_mcim_event *e, const char *name);

/* The table itself (for tests, docs and the formal model). */
OMC_API const omc_lifecycle_rule *omc_lifecycle_table(size_t *n);
/* The dispatcher: OMC_OK and *to if (from, event, actor) is in the table,
 * else OMC_ERR_DENIED. */
OMC_API OMC_MUST_USE omc_err omc_lifecycle_next(omc_mcim_state *to, omc_mcim_state from, omc_mcim_event event,
						 omc_actor_kind actor);

/* =========================================================================
 * The TRE
 *
 * A TRE lives in a directory (TREDIR) reached through two omc_store_io
 * backends: the TRE's own files (device.key, or device.tpm and tpm.conf on
 * the TPM backend (docs/tpm.md), identity.sealed, manifest.jws,
 * platform/..., audit.log) and its store (store/...). See docs/objects.md and docs/store.md.
 * ========================================================================= */
typedef struct omc_tre omc_tre;

typedef enum omc_tre_state {
	OMC_TRE_PRISTINE = 0,    /* no operational MCIM: the PCID only */
	OMC_TRE_PROVISIONED = 1, /* at least one operational MCIM not deleted */
	OMC_TRE_LOCKDOWN = 2,    /* tamper: only attestation, audit and recovery */
} omc_tre_state;
OMC_API const char *omc_tre_state_name(omc_tre_state s);

#define OMC_TRE_TPM_NV_DEFAULT 0x01500020u
#define OMC_TRE_TPM_PCR_DEFAULT 15u

typedef struct omc_tre_opts {
	const char *dir;        /* TREDIR, for the POSIX backends (ignored if both io given) */
	omc_store_io *io;       /* the TRE's files; NULL: POSIX files in dir */
	omc_store_io *store_io; /* the store; NULL: POSIX files in dir/store */
	omc_store_ard *ard;     /* NULL: the software ARD in the store, or the TPM's */
	/* The TPM 2.0 backend (docs/tpm.md): a TCTI string ("swtpm:path=S",
	 * "swtpm:host=127.0.0.1,port=P", "device:/dev/tpmrm0"). NULL: the one
	 * in the TRE's tpm.conf, which the factory writes for a TPM device;
	 * no tpm.conf: the software backend. The NV indices and the PCR are
	 * the ones the device was made with (device.tpm). */
	const char *tpm;
	bool readonly;          /* inspection: no commits (a detected tamper still locks down) */
	bool count_boot;        /* a start of the device: count it and audit it (the daemon) */
	int64_t (*now)(void *arg); /* clock (seconds); NULL: time(NULL) */
	void *now_arg;
} omc_tre_opts;

/* Open a TRE: derive the keys from the device root key, load the sealed
 * identity, open the store, measure the platform against the signed
 * reference manifest (SEC-3), check every MCIM record (MGT-2: a bad one is
 * blocked), count the boot (opts->count_boot). On the TPM backend
 * OMC_ERR_LOCKDOWN: a lockdown in this boot keeps the root key sealed until
 * the next reboot. Storage corruption or rollback, or a sticky
 * lockdown flag, opens the TRE in lockdown (OMC_OK; omc_tre_get_state says
 * so). Errors: OMC_ERR_NOT_FOUND (no TRE there), OMC_ERR_CORRUPT (no
 * readable identity: not even attestation is possible), OMC_ERR_IO. */
OMC_API OMC_MUST_USE omc_err omc_tre_open(omc_tre **t, const omc_tre_opts *o);
OMC_API void omc_tre_close(omc_tre *t);

OMC_API omc_tre_state omc_tre_get_state(const omc_tre *t);

typedef struct omc_tre_status {
	omc_tre_state state;
	char lockdown_reason[128];
	char tre_id[64];
	char platform_id[64];
	char model[64];
	uint64_t generation; /* store generation (0 if the store is unavailable) */
	uint64_t boot_count;
	bool platform_ok; /* every measured component matched the signed manifest */
	bool store_ok;
	uint64_t audit_count;
	size_t n_mcims;
	bool switch_trial; /* a direct operator change waits for confirm or rollback */
} omc_tre_status;
OMC_API OMC_MUST_USE omc_err omc_tre_get_status(omc_tre *t, omc_tre_status *st);

typedef struct omc_tre_mcim_info {
	char id[41];
	char owner[17];
	char imsi[16];
	const char *role; /* "operational", "bootstrap" */
	const char *type; /* "usim", "isim" */
	const char *alg;  /* "milenage", "tuak" */
	omc_mcim_state state;
	uint32_t version;
	int64_t expires;
	bool data_only;
	uint64_t volume_cap;
	char impi[128]; /* an ISIM's identities, as its MCIM gave them, or "" */
	char impu[128];
} omc_tre_mcim_info;
/* The registry (MGT-5), tombstones included, sorted by owner/id; an
 * unreadable record shows as blocked. */
OMC_API OMC_MUST_USE omc_err omc_tre_registry(omc_tre *t, omc_tre_mcim_info *out, size_t cap, size_t *n);
/* SHA-256 over the registry's (id, owner, role, imsi, state, version). */
OMC_API OMC_MUST_USE omc_err omc_tre_registry_digest(omc_tre *t, uint8_t out[OMC_STATIC_LEN(32)]);

/* Who asks. Local users come from omc_tre_user_auth; the TRE's daemon may
 * also vouch for a local process it authenticated by peer credentials
 * (kind USER, the name its configuration maps the uid to). */
typedef struct omc_tre_caller {
	omc_actor_kind kind;
	char name[33];
} omc_tre_caller;

/* --- local users (TRE-10) -------------------------------------------------------- */
/* The first user may be added by anyone and must be an admin; later ones
 * need an admin caller. role: "admin", "operator", "user". */
OMC_API OMC_MUST_USE omc_err omc_tre_user_add(omc_tre *t, const omc_tre_caller *admin, const char *name,
					       const char *role, const char *pin, size_t pin_len);
OMC_API OMC_MUST_USE omc_err omc_tre_user_del(omc_tre *t, const omc_tre_caller *admin, const char *name);
OMC_API OMC_MUST_USE omc_err omc_tre_user_unblock(omc_tre *t, const omc_tre_caller *admin, const char *name);
/* OMC_OK fills *out; OMC_ERR_AUTH_FAILED (wrong PIN or unknown user: one
 * answer); OMC_ERR_DENIED (blocked); OMC_ERR_LOCKDOWN when this failure was
 * one too many (TRE-4). Every failure is counted durably and audited. */
OMC_API OMC_MUST_USE omc_err omc_tre_user_auth(omc_tre *t, const char *name, const char *pin, size_t pin_len,
						omc_tre_caller *out);
typedef struct omc_tre_user_info {
	char name[33];
	const char *role;
	unsigned failures;
	bool blocked;
} omc_tre_user_info;
OMC_API OMC_MUST_USE omc_err omc_tre_user_list(omc_tre *t, omc_tre_user_info *out, size_t cap, size_t *n);

/* --- provisioning (SEC-9, MGT-1, TRE-7) ------------------------------------------- */
/* Signed evidence (JWS, typ "omc-evidence+jwt") for the PVA's nonce: EAT-style
 * claims, docs/objects.md. With a provisioning session open it carries the
 * session's ephemeral public key. nonce: 8..64 bytes. *evidence from
 * omc_alloc. Works in lockdown. */
OMC_API OMC_MUST_USE omc_err omc_tre_attest(omc_tre *t, const uint8_t *nonce, size_t nonce_len, char **evidence);
/* Open a provisioning session: a fresh ephemeral P-256 key kept (encrypted)
 * in the store with the nonce; returns the evidence carrying its public key. */
OMC_API OMC_MUST_USE omc_err omc_tre_session_begin(omc_tre *t, const uint8_t *nonce, size_t nonce_len,
						    char **evidence);
/* Install an MCIM package (a JWE to the session key around a JWS by an
 * issuer chaining to a trusted operator CA): checks target TRE, session
 * nonce, the issuer's sequence number and ownership; installs atomically
 * (activated if the package says so); returns a receipt JWS signed by the
 * TRE. Refusals change nothing but the audit log: OMC_ERR_BAD_FORMAT,
 * OMC_ERR_AUTH_FAILED (does not decrypt: another TRE or session),
 * OMC_ERR_BAD_SIGNATURE (untrusted issuer), OMC_ERR_DENIED (wrong target,
 * nonce, owner, replayed sequence number), OMC_ERR_EXISTS (that MCIM id is
 * live), OMC_ERR_BAD_STATE (no session), OMC_ERR_LOCKDOWN. The very MCIM
 * installed under that id again (same owner, IMSI, version, credential: its
 * first receipt was lost) is kept as it is and gets a receipt again. */
OMC_API OMC_MUST_USE omc_err omc_tre_install(omc_tre *t, const char *package, size_t len, char **receipt);
/* A signed command (JWS typ "omc-command+jwt") from an SHO or the RO:
 * activate, deactivate, block, unblock, delete, discover. The signer must
 * own the MCIM (or be the RO, for delete); an optional "exp" bounds its
 * life. Returns the signed result (also for a refusal, which is audited):
 * OMC_OK means a result was produced; *applied says whether the command
 * took effect. */
OMC_API OMC_MUST_USE omc_err omc_tre_command(omc_tre *t, const char *command, size_t len, char **result,
					      bool *applied);
/* A direct operator change (the RO's signed `switch` put MCIM `to` on
 * trial, the old owner's deactivated): after attaching with `to`, the
 * agent confirms (the old MCIMs are erased) or, if `to` does not attach,
 * rolls back (the old ones activated again, `to` erased). *statement is
 * the TRE's signed result (omc-command-result+jwt, iss "ro", the switch's
 * seq, cmd "switch", result "ok" or "rolled_back", `deleted`, and
 * `restored` on a rollback) for the DPF, which passes the deletion on to
 * the owners. The statement is kept with the end: with no switch on trial,
 * either call gives the last end's statement again, the same bytes (its
 * first copy may have died with the caller's process); OMC_ERR_BAD_STATE
 * if there is none (no trial ended since the last began, or it ended
 * otherwise: a delete, a recovery, a reprovision). */
OMC_API OMC_MUST_USE omc_err omc_tre_switch_confirm(omc_tre *t, char **statement);
OMC_API OMC_MUST_USE omc_err omc_tre_switch_rollback(omc_tre *t, char **statement);
/* A local lifecycle change by an authenticated user: an admin or operator
 * whom the MCIM's ACL names, as the lifecycle table allows. */
OMC_API OMC_MUST_USE omc_err omc_tre_local_lifecycle(omc_tre *t, const omc_tre_caller *caller, const char *mcim_id,
						      omc_mcim_event event);

/* --- AKA inside (TRE-8, SEC-12, MGT-3) --------------------------------------------- */
/* Run the USIM side of AKA with MCIM mcim_id for caller: the MCIM must be
 * activated, its ACL must name the caller, the platform must be intact and
 * the TRE not locked down. On OK the new SQN state is durable before
 * RES, CK and IK are returned. K, OPc and TOPc never leave. */
OMC_API OMC_MUST_USE omc_err omc_tre_aka(omc_tre *t, const omc_tre_caller *caller, const char *mcim_id,
					  const uint8_t rand[OMC_STATIC_LEN(16)], const uint8_t *autn, size_t autn_len,
					  omc_aka_check_result *out);
/* MGT-3: application MCIM app_id uses the AKA function of key_id, only if
 * each one's sharing policy names the other and both are activated. */
OMC_API OMC_MUST_USE omc_err omc_tre_aka_shared(omc_tre *t, const omc_tre_caller *caller, const char *app_id,
						 const char *key_id, const uint8_t rand[OMC_STATIC_LEN(16)],
						 const uint8_t *autn, size_t autn_len, omc_aka_check_result *out);

/* --- tamper, lockdown, recovery (TRE-4, SEC-5) --------------------------------------- */
/* A tamper input (a sensor driver, a test): sticky lockdown at once. */
OMC_API OMC_MUST_USE omc_err omc_tre_tamper(omc_tre *t, const char *reason);
/* A signed recovery authorisation (JWS typ "omc-recovery+jwt" from the RO or a
 * PVA, bound to this TRE and to this lockdown's epoch, which
 * omc_tre_recovery_counter gives): after a fresh passing integrity check,
 * erase every operational MCIM, keep the PCID (or restore it from the sealed
 * identity if it is blocked or gone, accepting only SQNs above any accepted
 * before), clear the lockdown: the TRE is pristine again. */
OMC_API OMC_MUST_USE omc_err omc_tre_recover(omc_tre *t, const char *authorisation, size_t len);
/* TRE-4, SEC-5: in lockdown, the signed tamper report (JWS typ
 * "omc-tamper-report+jwt" by the attestation key: tre, platform_id, model,
 * reason, counter (the lockdown's epoch), iat, audit {count, hash}) that
 * the device's maintainer hands to a PVA (POST /v1/recovery) with fresh
 * evidence to get a recovery authorisation. OMC_ERR_BAD_STATE when not
 * locked down. */
OMC_API OMC_MUST_USE omc_err omc_tre_tamper_report(omc_tre *t, char **jws);
/* The number a recovery authorisation must name: in lockdown, the
 * anti-rollback counter as it was when the lockdown began (refusals and
 * further tampers do not move it); otherwise the counter now. */
OMC_API OMC_MUST_USE omc_err omc_tre_recovery_counter(omc_tre *t, uint64_t *counter);

/* --- firmware update (TRE-12) --------------------------------------------------------- */
/* A signed update from the TRE vendor (MCUboot-like: stage, trial, confirm
 * or revert). The update manifest is a JWS (typ "omc-update+jwt") chaining
 * to a TRE-vendor anchor, with model, version, security counter, the new
 * reference manifest and, for each component, its path, SHA-256 and size;
 * docs/objects.md "TRE update" has the claims and the checks in order.
 *
 * omc_tre_update_stage checks the manifest and every file, writes them
 * under update/ in the TRE's directory and records the update as staged,
 * in one commit with its audit record. Refused in lockdown
 * (OMC_ERR_LOCKDOWN), during a trial (OMC_ERR_BAD_STATE); then, audited:
 * OMC_ERR_BAD_SIGNATURE / OMC_ERR_BAD_FORMAT (manifest), OMC_ERR_DENIED
 * (another model, a security counter below the stored one; an equal one is
 * accepted), OMC_ERR_BAD_ARG (a component without its file, or a file the
 * manifest does not name), OMC_ERR_BAD_LENGTH (a file's size),
 * OMC_ERR_TAMPERED (a file's SHA-256). A new stage replaces a staged
 * update that has not started its trial.
 *
 * The next open that counts a boot (omc_tre_opts.count_boot) puts the new
 * files and the new reference manifest in place, the old ones kept aside:
 * the trial, measured against the new manifest. omc_tre_update_confirm
 * during the trial makes it permanent (the stored security counter rises
 * to the update's; OMC_ERR_BAD_STATE outside a trial, OMC_ERR_TAMPERED if
 * the new platform did not measure right, OMC_ERR_LOCKDOWN). The next boot
 * of an unconfirmed trial reverts it: the old files and manifest are back
 * (audited "update reverted"). A power cut at any step leaves the old or
 * the new state, never a mix of files. */
typedef struct omc_tre_update_file {
	const char *name;    /* the component's name in the manifest */
	const uint8_t *data; /* its new content */
	size_t len;
} omc_tre_update_file;
OMC_API OMC_MUST_USE omc_err omc_tre_update_stage(omc_tre *t, const char *manifest, size_t len,
						   const omc_tre_update_file *files, size_t n_files);
OMC_API OMC_MUST_USE omc_err omc_tre_update_confirm(omc_tre *t);

typedef enum omc_tre_update_state {
	OMC_TRE_UPDATE_NONE = 0,
	OMC_TRE_UPDATE_STAGED = 1,    /* waiting for the next boot */
	OMC_TRE_UPDATE_TRIAL = 2,     /* running the new files, not confirmed */
	OMC_TRE_UPDATE_SWITCHING = 3, /* a switch cut short: a read-write open undoes it */
	OMC_TRE_UPDATE_REVERTING = 4, /* a revert cut short: a read-write open finishes it */
} omc_tre_update_state;
OMC_API const char *omc_tre_update_state_name(omc_tre_update_state s);

typedef struct omc_tre_update_info {
	omc_tre_update_state state;
	char running_version[32]; /* the running reference manifest's version; "" if it did not verify */
	uint64_t running_counter; /* its security counter */
	uint64_t counter;         /* the stored security counter (raised by a confirmed update) */
	char staged_version[32];  /* staged or in trial: the update's version; else "" */
	uint64_t staged_counter;  /* and its security counter */
} omc_tre_update_info;
OMC_API OMC_MUST_USE omc_err omc_tre_update_status(omc_tre *t, omc_tre_update_info *st);

/* --- audit (TRE-11, SEC-13) ---------------------------------------------------------- */
/* Every record (JSON lines, oldest first). */
OMC_API OMC_MUST_USE omc_err omc_tre_audit_export(omc_tre *t, char **buf, size_t *len);
/* Check the chain and its MACs, and that it holds everything committed.
 * OMC_ERR_TAMPERED with *count = records up to the first bad one. */
OMC_API OMC_MUST_USE omc_err omc_tre_audit_verify(omc_tre *t, uint64_t *count);
/* A checkpoint JWS (typ "omc-audit-checkpoint+jwt": tre, count, head) signed by the
 * attestation key, verifiable by anyone holding the TRE's certificate. */
OMC_API OMC_MUST_USE omc_err omc_tre_audit_checkpoint(omc_tre *t, char **jws);
/* Anyone's check: records in buf chain up to the checkpoint's head, and the
 * checkpoint is signed by a TRE whose certificate chains to anchors. */
OMC_API OMC_MUST_USE omc_err omc_audit_checkpoint_verify(const char *jws, size_t jws_len, const char *records,
							  size_t records_len, const omc_cert *const *anchors,
							  size_t n_anchors, uint64_t *count);

/* The TRE's certificate chain (PEM, leaf first). */
OMC_API OMC_MUST_USE omc_err omc_tre_certificates(omc_tre *t, char **pem, size_t *len);

/* =========================================================================
 * Verifying evidence (the PVA's side, SEC-8, EVAL-1)
 * ========================================================================= */
#define OMC_EVIDENCE_MAX_MEASUREMENTS 16
typedef struct omc_evidence {
	char tre_id[64], platform_id[64], model[64], tre_state[16], backend[8], sw_version[16];
	int64_t iat;
	uint64_t boot_count, generation, audit_count;
	uint8_t registry_digest[32], audit_head[32], ueid[33];
	bool platform_ok;
	struct {
		char name[32];
		uint8_t digest[32];
		bool ok;
	} measurements[OMC_EVIDENCE_MAX_MEASUREMENTS];
	size_t n_measurements;
	bool has_fw;             /* the optional claims fw_version and fw_counter were there */
	char fw_version[32];     /* the running reference manifest's version */
	uint64_t fw_counter;     /* the TRE's stored security counter (TRE-12) */
	omc_key *eph_pub; /* the session key for the MCIM download, or NULL */
	omc_cert *leaf;   /* the TRE's certificate */
} omc_evidence;

/* Verify signature and chain (to one of anchors: the M2MES CAs a PVA trusts,
 * EVAL-2), the profile, and that the nonce is exactly `nonce`; parse the
 * claims. Policy (reference values, counters never decreasing) is the
 * PVA's. OMC_ERR_BAD_SIGNATURE, OMC_ERR_BAD_FORMAT, OMC_ERR_DENIED (nonce). */
OMC_API OMC_MUST_USE omc_err omc_evidence_verify(omc_evidence *ev, const char *jws, size_t len,
						  const omc_cert *const *anchors, size_t n_anchors,
						  const uint8_t *nonce, size_t nonce_len, time_t now);
OMC_API void omc_evidence_free(omc_evidence *ev);

#endif
