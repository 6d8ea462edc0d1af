/* openmcim: the M2ME agent (src/agent).
 *
 * The device side's driver of the story in DESIGN.md, steps 3 to 8 and
 * after: initial attach with the PCID, bootstrap, registration with the
 * DRF (pending: retry later), platform validation with the PVA, MCIM
 * download and install, the receipt, operational attach with the MCIM,
 * then polling the DPF for signed commands. A table-driven state machine:
 * one step at a time, each step's outcome decides the next state; network
 * errors are retried with exponential backoff and jitter; the state is
 * written atomically after every step, so an agent started again resumes
 * where it was. In lockdown it stops all network activity (TRE-4).
 *
 * The agent reaches its TRE through omc_agent_tre: the TRE library in the
 * same process (omc_agent_tre_local) or the TRE daemon. It never sees K,
 * OPc or TOPc. docs/agent.md. */
#ifndef OPENMCIM_AGENT_H
#define OPENMCIM_AGENT_H

#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/net.h"
#include "openmcim/store.h"
#include "openmcim/tre.h"

/* What the agent asks of its TRE. */
typedef struct omc_agent_tre {
	void *ctx;
	omc_err (*state)(void *ctx, omc_tre_state *st);
	omc_err (*registry)(void *ctx, omc_tre_mcim_info *out, size_t cap, size_t *n);
	omc_err (*attest)(void *ctx, const uint8_t *nonce, size_t len, char **evidence);
	omc_err (*session_begin)(void *ctx, const uint8_t *nonce, size_t len, char **evidence);
	omc_err (*install)(void *ctx, const char *pkg, size_t len, char **receipt);
	omc_err (*command)(void *ctx, const char *cmd, size_t len, char **result, bool *applied);
	omc_err (*aka)(void *ctx, const char *mcim_id, const uint8_t rand[OMC_STATIC_LEN(16)], const uint8_t *autn,
		       size_t autn_len, omc_aka_check_result *out);
	/* Optional (NULL: none): omc_tre_tamper_report; whether a direct
	 * change's switch is on trial; omc_tre_switch_confirm (confirm) or
	 * omc_tre_switch_rollback. Without them the agent does no direct change. */
	omc_err (*tamper_report)(void *ctx, char **jws);
	omc_err (*switch_trial)(void *ctx, bool *trial);
	omc_err (*switch_end)(void *ctx, bool confirm, char **statement);
} omc_agent_tre;

/* The TRE library in this process, AKA run as local user `user` (the
 * agent's name in the MCIMs' ACLs: "agent" for the factory's and the
 * SHOs' MCIMs; NULL: "agent"). ctx is the caller's and must outlive ops. */
typedef struct omc_agent_local {
	omc_tre *t;
	char user[33];
} omc_agent_local;
OMC_API void omc_agent_tre_local(omc_agent_tre *ops, omc_agent_local *ctx, omc_tre *t, const char *user);

typedef enum omc_agent_state {
	OMC_AGENT_BOOT = 0,        /* look at the TRE: lockdown? an MCIM already? */
	OMC_AGENT_ATTACH_PCID = 1, /* AKA at the VNO with the PCID: a provisioning session */
	OMC_AGENT_BOOTSTRAP = 2,   /* the ICO's signed answer: DRF, PVA and DPF */
	OMC_AGENT_REGISTER = 3,    /* the DRF: the SHO, or pending */
	OMC_AGENT_VALIDATE = 4,    /* the PVA: nonce, session evidence, validation token */
	OMC_AGENT_DOWNLOAD = 5,    /* the DPF: the package, installed by the TRE */
	OMC_AGENT_RECEIPT = 6,     /* the TRE's receipt to the DPF */
	OMC_AGENT_ATTACH_MCIM = 7, /* AKA at the VNO with the MCIM: an operational session */
	OMC_AGENT_OPERATIONAL = 8, /* polling the DPF for commands */
	OMC_AGENT_LOCKDOWN = 9,    /* the TRE is locked down: no network activity */
	OMC_AGENT_STANDBY = 10,    /* an MCIM held but not activated: polling commands with the PCID */
	OMC_AGENT_RENEW = 11,      /* the ICO: a new PCID near the old one's expiry, or asked for (CHG-4, NET-7) */
} omc_agent_state;
#define OMC_AGENT_STATE_COUNT 12
OMC_API const char *omc_agent_state_name(omc_agent_state s);

typedef struct omc_agent_opts {
	omc_agent_tre tre;
	/* Where the state lives: the file `state_path` of io (written through
	 * a temporary file, synced and renamed). io NULL: in memory only. */
	omc_store_io *io;
	const char *state_path;
	const char *vno_url;       /* base URL of the VNO (preconfigured, NET-3) */
	const char *bootstrap_url; /* base URL of the ICO's bootstrap service (NET-4) */
	const char *bootstrap_ca;  /* PEM file: the ICO's CA, to check the bootstrap answer */
	const char *tls_ca;        /* PEM file: the CA of HTTPS listeners; NULL: the system's */
	unsigned backoff_min_ms;   /* 0: 200 */
	unsigned backoff_max_ms;   /* 0: 30000 */
	unsigned poll_ms;          /* OPERATIONAL: between command polls; 0: 30000 */
	uint64_t seed;             /* jitter; 0: random */
	/* CHG-4: ask the ICO for a new PCID once the PCID expires within this
	 * many seconds; 0: 30 days; negative: only when the network asks. */
	int64_t renew_before_s;
	/* Fault injection for the agent's HTTP client (the fleet simulator):
	 * omc_http_client_opts.fault; NULL: none. */
	omc_http_fault_fn http_fault;
	void *http_fault_arg;
	/* Request routing for the same client (omc_http_client_opts.route):
	 * the simulator spreads requests over server replicas; NULL: none. */
	omc_http_route_fn http_route;
	void *http_route_arg;
	omc_http_routed_fn http_routed; /* omc_http_client_opts.routed */
} omc_agent_opts;

typedef struct omc_agent omc_agent;

/* Load the saved state (or start at BOOT). The strings in o are copied. */
OMC_API OMC_MUST_USE omc_err omc_agent_new(omc_agent **a, const omc_agent_opts *o);
OMC_API void omc_agent_free(omc_agent *a);

/* One step: do the current state's work, move to the next state, save.
 * *wait_ms says how long to wait before the next step (0: at once; a
 * backoff after a failure; the DRF's retry time while pending; the poll
 * interval when operational). Errors are only for what the agent cannot
 * go on from (OMC_ERR_IO when its state cannot be saved). */
OMC_API OMC_MUST_USE omc_err omc_agent_step(omc_agent *a, unsigned *wait_ms);
/* Steps (sleeping between them) until the agent is OPERATIONAL with one
 * command poll done, or in LOCKDOWN, or timeout_ms has passed
 * (OMC_ERR_BAD_STATE then). */
OMC_API OMC_MUST_USE omc_err omc_agent_run(omc_agent *a, unsigned timeout_ms);

typedef struct omc_agent_info {
	omc_agent_state state;
	char sho[17];
	char mcim_id[41];
	char mcim_imsi[16];
	char last_error[128]; /* the last refusal or failure, "" if none */
	unsigned failures;    /* consecutive failures of the current state */
	unsigned steps;       /* steps taken since omc_agent_new */
	unsigned commands;    /* commands carried to the TRE and answered */
	unsigned polls;       /* command polls that got an answer, since omc_agent_new */
	bool pending;         /* the DRF said pending at the last try */
	bool polled;          /* a command poll got an answer since the agent entered its state */
} omc_agent_info;
OMC_API void omc_agent_info_get(const omc_agent *a, omc_agent_info *info);

/* The protected access link (SEC-11, docs/link.md): after each attach the
 * agent derives KASME from the TRE's CK and IK, the AUTN and the VNO's
 * serving network (TS 33.401 A.2), and the NAS keys (A.7); it keeps them in
 * memory only (never in the state file), with the session. */
typedef struct omc_agent_link_answer {
	int status;         /* the VNO's HTTP status (0: no answer) */
	char error[32];     /* its error code, "" on 200 */
	uint32_t count;     /* COUNT of the uplink frame sent */
	uint64_t used;      /* the session's volume so far, as the VNO counted it */
	uint64_t volume_cap; /* 0: none */
} omc_agent_link_answer;
/* Send len bytes (at most OMC_LINK_MAX_PAYLOAD) of the device's traffic
 * to the VNO in one protected frame (POST /v1/link), and check the VNO's
 * downlink frame in the answer. OMC_OK: accepted and counted.
 * OMC_ERR_BAD_STATE: no operational session with link keys (a restarted
 * agent attaches again first); OMC_ERR_IO: no answer; OMC_ERR_DENIED: the
 * VNO refused (ans->status, ans->error); the refusal of omc_link_open when
 * the downlink frame does not verify; OMC_ERR_EXHAUSTED after 2^32 frames. */
OMC_API OMC_MUST_USE omc_err omc_agent_link_send(omc_agent *a, omc_agent_link_answer *ans, const uint8_t *data,
						 size_t len);

#endif
