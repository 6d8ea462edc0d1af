/* The MCIM lifecycle (MGT-4, MGT-5): one static table of
 * (from, event, actor) -> to, walked by one dispatcher. Anything not in the
 * table is refused (and audited by the caller). docs/lifecycle.md mirrors
 * this table and is checked against it by tests/unit/tre_lifecycle_test.c.
 *
 * Rules of the table (each is a test):
 *   - deleted is terminal: no row leaves it;
 *   - only the owner (SHO/ICO, by signed command, or by the activate claim of
 *     its own package) activates from installed;
 *   - a local user may switch an MCIM its ACL allows between activated and
 *     deactivated, never unblock, delete or activate a fresh install;
 *   - the TRE blocks on integrity failure from any live state; only the
 *     owner unblocks, and unblocking lands in deactivated (re-activation is
 *     a separate, explicit step);
 *   - the RO may delete (operator change by reverting to the pristine state,
 *     CHG-1/2) but not activate;
 *   - nothing is ever allowed to OMC_ACTOR_OTHER. */
#include <string.h>

#include "openmcim/tre.h"
#include "util/util_internal.h"

#define R(f, e, a, t) {.from = OMC_MCIM_##f, .event = OMC_EV_##e, .actor = OMC_ACTOR_##a, .to = OMC_MCIM_##t}

static const omc_lifecycle_rule table[] = {
	/* Activation: the owner (its package's activate claim counts as its
	 * signed command); a user with the ACL may re-activate what it
	 * deactivated. */
	R(INSTALLED, ACTIVATE, OWNER, ACTIVATED),
	R(DEACTIVATED, ACTIVATE, OWNER, ACTIVATED),
	R(DEACTIVATED, ACTIVATE, USER, ACTIVATED),
	/* Deactivation. */
	R(ACTIVATED, DEACTIVATE, OWNER, DEACTIVATED),
	R(ACTIVATED, DEACTIVATE, USER, DEACTIVATED),
	/* Blocking: the owner's decision, or the TRE's on an anomaly (MGT-2). */
	R(INSTALLED, BLOCK, OWNER, BLOCKED),
	R(ACTIVATED, BLOCK, OWNER, BLOCKED),
	R(DEACTIVATED, BLOCK, OWNER, BLOCKED),
	R(INSTALLED, INTEGRITY_FAIL, TRE, BLOCKED),
	R(ACTIVATED, INTEGRITY_FAIL, TRE, BLOCKED),
	R(DEACTIVATED, INTEGRITY_FAIL, TRE, BLOCKED),
	R(BLOCKED, INTEGRITY_FAIL, TRE, BLOCKED),
	/* Unblocking: the owner only, to deactivated. */
	R(BLOCKED, UNBLOCK, OWNER, DEACTIVATED),
	/* Deletion (crypto-erase): the owner, or the RO for an operator change;
	 * the TRE itself when it returns to pristine on recovery. */
	R(INSTALLED, DELETE, OWNER, DELETED),
	R(ACTIVATED, DELETE, OWNER, DELETED),
	R(DEACTIVATED, DELETE, OWNER, DELETED),
	R(BLOCKED, DELETE, OWNER, DELETED),
	R(INSTALLED, DELETE, RO, DELETED),
	R(ACTIVATED, DELETE, RO, DELETED),
	R(DEACTIVATED, DELETE, RO, DELETED),
	R(BLOCKED, DELETE, RO, DELETED),
	R(INSTALLED, DELETE, TRE, DELETED),
	R(ACTIVATED, DELETE, TRE, DELETED),
	R(DEACTIVATED, DELETE, TRE, DELETED),
	R(BLOCKED, DELETE, TRE, DELETED),
};

static const char *const state_names[OMC_MCIM_STATE_COUNT] = {"installed", "activated", "deactivated", "blocked",
							       "deleted"};
static const char *const event_names[OMC_MCIM_EVENT_COUNT] = {"activate", "deactivate", "block",
							       "unblock",  "delete",     "integrity_fail"};
static const char *const actor_names[OMC_ACTOR_KIND_COUNT] = {"tre", "owner", "ro", "user", "other"};

const char *omc_mcim_state_name(omc_mcim_state s)
{
	return (unsigned)s < OMC_MCIM_STATE_COUNT ? state_names[s] : "unknown";
}

const char *omc_mcim_event_name(omc_mcim_event e)
{
	return (unsigned)e < OMC_MCIM_EVENT_COUNT ? event_names[e] : "unknown";
}

const char *omc_actor_kind_name(omc_actor_kind a)
{
	return (unsigned)a < OMC_ACTOR_KIND_COUNT ? actor_names[a] : "unknown";
}

omc_err omc_mcim_state_parse(omc_mcim_state *s, const char *name)
{
	for (unsigned i = 0; i < OMC_MCIM_STATE_COUNT; i++)
		if (!strcmp(name, state_names[i])) {
			*s = (omc_mcim_state)i;
			return OMC_OK;
		}
	OMC_BAIL(OMC_ERR_BAD_FORMAT);
}

omc_err omc_mcim_event_parse(omc_mcim_event *e, const char *name)
{
	for (unsigned i = 0; i < OMC_MCIM_EVENT_COUNT; i++)
		if (!strcmp(name, event_names[i])) {
			*e = (omc_mcim_event)i;
			return OMC_OK;
		}
	OMC_BAIL(OMC_ERR_BAD_FORMAT);
}

const omc_lifecycle_rule *omc_lifecycle_table(size_t *n)
{
	*n = OMC_ARRAY_LEN(table);
	return table;
}

omc_err omc_lifecycle_next(omc_mcim_state *to, omc_mcim_state from, omc_mcim_event event, omc_actor_kind actor)
{
	for (size_t i = 0; i < OMC_ARRAY_LEN(table); i++)
		if (table[i].from == from && table[i].event == event && table[i].actor == actor) {
			*to = table[i].to;
			return OMC_OK;
		}
	OMC_BAIL(OMC_ERR_DENIED);
}
