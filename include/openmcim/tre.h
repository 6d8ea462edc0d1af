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

#endif
