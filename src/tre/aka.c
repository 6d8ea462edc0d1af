/* AKA inside the TRE (TRE-8, NET-3, SEC-12, MGT-3, MGT-7): the USIM side of
 * authentication runs here, with the MCIM's K and OPc/TOPc loaded from the
 * store only for the call and wiped after; the SQN state it moves is
 * committed before RES, CK and IK are returned (a power cut can never make
 * the USIM accept the same SQN twice). */
#include <stdio.h>
#include <string.h>

#include "tre/tre_internal.h"

static bool named(char (*list)[OMC_USER_NAME_MAX + 1], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

static bool named_id(char (*list)[OMC_MCIM_ID_MAX + 1], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/* Why an MCIM may not run AKA now, or NULL. */
static const char *unusable(const omc_tre *t, const omc_mcim *m)
{
	if (m->state != OMC_MCIM_ACTIVATED)
		return "not activated";
	if (!m->has_secrets)
		return "no credential";
	if (m->expires && omc_tre_now(t) >= m->expires)
		return "expired";
	return NULL;
}

static omc_err run(omc_tre *t, const omc_tre_caller *caller, const char *app_id, const char *key_id,
		   const uint8_t rand[16], const uint8_t *autn, size_t autn_len, omc_aka_check_result *out)
{
	memset(out, 0, sizeof *out);
	if (t->lockdown || !t->store)
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	char actor[48], subject[96];
	snprintf(actor, sizeof actor, "user:%.32s", caller->name);
	snprintf(subject, sizeof subject, "mcim:%.40s", key_id);
	omc_mcim app, key;
	memset(&app, 0, sizeof app);
	memset(&key, 0, sizeof key); /* initialisation, not a wipe: lint: allow */
	const char *why = NULL;
	omc_err e = omc_tre_load_mcim(t, app_id, &app);
	if (e == OMC_OK && strcmp(app_id, key_id) != 0)
		e = omc_tre_load_mcim(t, key_id, &key);
	else if (e == OMC_OK)
		key = app;
	if (e != OMC_OK) {
		omc_mcim_wipe(&app);
		omc_mcim_wipe(&key);
		return e;
	}
	/* SEC-3: a platform that failed its measurement runs no operational
	 * MCIM. The PCID still gives its provisional connectivity, which
	 * reaches only the provisioning services: the PVA sees the evidence
	 * (and refuses it, with its reason), a vendor's update can come. */
	if (!t->platform_ok && (app.role != OMC_MCIM_ROLE_BOOTSTRAP || key.role != OMC_MCIM_ROLE_BOOTSTRAP)) {
		omc_mcim_wipe(&app);
		omc_mcim_wipe(&key);
		omc_tre_audit(t, "aka", actor, subject, "refused", "platform anomaly");
		OMC_BAIL(OMC_ERR_TAMPERED);
	}
	/* MGT-7: the ACL provisioned with the MCIM says who may run it. */
	if (caller->kind != OMC_ACTOR_USER || !named(app.acl, app.n_acl, caller->name)) {
		why = "caller not in the ACL";
		e = OMC_ERR_DENIED;
	} else if ((why = unusable(t, &app)) != NULL || (why = unusable(t, &key)) != NULL) {
		e = OMC_ERR_BAD_STATE;
	} else if (strcmp(app_id, key_id) != 0 &&
		   (!named_id(app.share, app.n_share, key.id) || !named_id(key.share, key.n_share, app.id))) {
		/* MGT-3: both policies must allow the sharing. */
		why = "sharing not allowed by both MCIMs";
		e = OMC_ERR_DENIED;
	}
	if (e != OMC_OK) {
		omc_tre_audit(t, "aka", actor, subject, "refused", why);
		omc_mcim_wipe(&app);
		omc_mcim_wipe(&key);
		return e;
	}
	e = omc_aka_check(out, &key.sqn, &key.cred, rand, autn, autn_len);
	if (e == OMC_OK) {
		static const char *const names[] = {"ok", "sync_failure", "mac_failure"};
		omc_audit_event ev = {.time = omc_tre_now(t), .event = "aka", .actor = actor, .subject = subject,
				      .result = out->status == OMC_AKA_STATUS_OK ? "ok" : "failed",
				      .detail = names[out->status]};
		omc_tre_txn x;
		omc_tre_txn_init(&x);
		/* A bootstrap MCIM's high-water mark goes into the TRE state with
		 * it, so a PCID restored by a recovery never accepts an old SQN. */
		uint64_t old_pcid_sqn = t->pcid_sqn, acc = omc_load_be48(out->sqn);
		if (out->status == OMC_AKA_STATUS_OK && key.role == OMC_MCIM_ROLE_BOOTSTRAP && acc > t->pcid_sqn)
			t->pcid_sqn = acc;
		if (out->status == OMC_AKA_STATUS_OK)
			e = omc_tre_txn_put_mcim(&x, &key); /* the SQN it accepted */
		if (e == OMC_OK)
			e = omc_tre_commit(t, &x, &ev);
		if (e != OMC_OK)
			t->pcid_sqn = old_pcid_sqn;
		omc_tre_txn_free(&x);
		if (e != OMC_OK)
			omc_memzero(out, sizeof *out); /* nothing released unless durable */
	}
	omc_mcim_wipe(&app);
	omc_mcim_wipe(&key);
	return e;
}

omc_err omc_tre_aka(omc_tre *t, const omc_tre_caller *caller, const char *mcim_id, const uint8_t rand[16],
		    const uint8_t *autn, size_t autn_len, omc_aka_check_result *out)
{
	OMC_ENSURE(t && caller && mcim_id && rand && autn && out, OMC_ERR_BAD_ARG);
	return run(t, caller, mcim_id, mcim_id, rand, autn, autn_len, out);
}

omc_err omc_tre_aka_shared(omc_tre *t, const omc_tre_caller *caller, const char *app_id, const char *key_id,
			   const uint8_t rand[16], const uint8_t *autn, size_t autn_len, omc_aka_check_result *out)
{
	OMC_ENSURE(t && caller && app_id && key_id && rand && autn && out, OMC_ERR_BAD_ARG);
	return run(t, caller, app_id, key_id, rand, autn, autn_len, out);
}
