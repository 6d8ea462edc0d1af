/* The AuC/HSS over HTTP (TS 33.102 6.3): vectors and resynchronisation for
 * the VNOs that serve the operator's subscribers. Callers: signed requests
 * of a VNO. docs/server.md, docs/openapi.json. */
#include <string.h>

#include "server/server_internal.h"

static const char *const auc_callers[] = {"vno"};

static void fail_auc(srv_listener *l, omc_http_resp *resp, omc_err e)
{
	switch (e) {
	case OMC_ERR_NOT_FOUND: srv_fail(l, resp, 404, "unknown_subscriber", "no such subscriber here"); break;
	case OMC_ERR_DENIED: srv_fail(l, resp, 403, "disabled", "the subscriber is disabled"); break;
	case OMC_ERR_BAD_STATE: srv_fail(l, resp, 403, "expired", "the subscription has expired"); break;
	case OMC_ERR_EXHAUSTED: srv_fail(l, resp, 403, "sqn_exhausted", "the SQN space is used up"); break;
	case OMC_ERR_MAC_FAILURE: srv_fail(l, resp, 403, "bad_auts", "AUTS is not the subscriber's"); break;
	case OMC_ERR_BAD_LENGTH:
		srv_fail(l, resp, 400, "bad_request", "member auts: the length does not fit the subscriber's algorithm");
		break;
	default: srv_fail(l, resp, 500, "internal", omc_err_name(e)); break;
	}
}

static void vectors(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, auc_callers, OMC_ARRAY_LEN(auc_callers), who))
		return;
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	int64_t n = 1;
	uint8_t amf[2] = {0x80, 0x00};
	const char *imsi = srv_str(l, resp, b, "imsi", 6, 15);
	if (imsi && !srv_digits(imsi, 6, 15)) {
		srv_fail(l, resp, 400, "bad_request", "member imsi: 6 to 15 digits");
		imsi = NULL;
	}
	if (imsi && json_object_get(b, "n") && !srv_int(l, resp, b, "n", 1, OMC_AUC_BATCH_MAX, &n))
		imsi = NULL;
	if (imsi && json_object_get(b, "amf") && !srv_hex(l, resp, b, "amf", amf, 2))
		imsi = NULL;
	if (!imsi) {
		json_decref(b);
		return;
	}
	omc_aka_av av[OMC_AUC_BATCH_MAX];
	OMC_DEFER_WIPE(av);
	omc_auc_resv rv;
	OMC_DEFER_WIPE(rv);
	omc_auc_info info;
	srv_lock(s);
	omc_err e = omc_auc_reserve(&rv, l->op->auc, imsi, (size_t)n);
	if (e == OMC_OK)
		e = omc_auc_info_get(l->op->auc, imsi, &info);
	srv_unlock(s);
	/* The SQN range and the vector log are durable before any vector is
	 * made (docs/server.md, "AuC/HSS"): the flush happens outside the
	 * lock, shared with whoever waits with this request. */
	if (e == OMC_OK)
		e = srv_durable(s);
	if (e == OMC_OK)
		e = omc_auc_resv_vectors(av, &rv, amf);
	omc_auc_resv_wipe(&rv);
	if (e != OMC_OK) {
		json_decref(b);
		fail_auc(l, resp, e);
		return;
	}
	pthread_mutex_lock(&s->mlock);
	s->avs_issued += (uint64_t)n;
	pthread_mutex_unlock(&s->mlock);
	json_error_t je;
	json_t *prof = omc_json_loads(info.profile, 0, &je);
	json_t *arr = json_array();
	json_t *o = json_pack("{s:s,s:s,s:b,s:I,s:o,s:o}", "imsi", imsi, "alg", omc_aka_alg_name(info.alg),
			      "provisional", l->op->ico, "expires", (json_int_t)info.expires, "profile",
			      prof ? prof : json_object(), "vectors", arr ? arr : json_array());
	bool ok = o != NULL && arr != NULL;
	for (int64_t i = 0; ok && i < n; i++) {
		json_t *v = json_object();
		ok = v && srv_set_hex(v, "rand", av[i].rand, 16) && srv_set_hex(v, "autn", av[i].autn, av[i].autn_len) &&
		     srv_set_hex(v, "xres", av[i].xres, av[i].xres_len) && srv_set_hex(v, "ck", av[i].ck, av[i].ck_len) &&
		     srv_set_hex(v, "ik", av[i].ik, av[i].ik_len) && json_array_append(arr, v) == 0;
		json_decref(v);
	}
	json_decref(b);
	if (!ok) {
		json_decref(o);
		srv_fail(l, resp, 500, "internal", "out of memory");
		return;
	}
	srv_reply(l, resp, 200, o);
}

static void resync(srv_listener *l, const omc_http_req *req, omc_http_resp *resp)
{
	omc_server *s = l->s;
	char who[SRV_NAME_MAX];
	if (!srv_auth_peer(l, req, resp, auc_callers, OMC_ARRAY_LEN(auc_callers), who))
		return;
	json_t *b = srv_body(l, req, resp);
	if (!b)
		return;
	uint8_t rand[16], auts[38];
	size_t auts_len = 0;
	const char *imsi = srv_str(l, resp, b, "imsi", 6, 15);
	bool ok = imsi && srv_hex(l, resp, b, "rand", rand, 16);
	const char *ah = ok ? srv_str(l, resp, b, "auts", 28, 76) : NULL;
	ok = ah != NULL;
	if (ok && omc_hex_decode_var(auts, sizeof auts, &auts_len, ah, strlen(ah)) != OMC_OK) {
		srv_fail(l, resp, 400, "bad_request", "member auts: 14 to 38 bytes in hex");
		ok = false;
	}
	if (ok && !srv_digits(imsi, 6, 15)) {
		srv_fail(l, resp, 400, "bad_request", "member imsi: 6 to 15 digits");
		ok = false;
	}
	if (!ok) {
		json_decref(b);
		return;
	}
	bool moved = false;
	srv_lock(s);
	omc_err e = omc_auc_resync(l->op->auc, imsi, rand, auts, auts_len, &moved);
	srv_audit(s, l->name, who, "resync", imsi, e == OMC_OK ? "ok" : "refused",
		  e == OMC_OK ? (moved ? "SEQ_HE moved" : "SEQ_HE kept") : omc_err_name(e));
	srv_unlock(s);
	json_decref(b);
	if (e != OMC_OK) {
		fail_auc(l, resp, e);
		return;
	}
	srv_reply(l, resp, 200, json_pack("{s:b}", "moved", moved));
}

void srv_routes_auc(srv_listener *l)
{
	srv_route_add(l, "POST", "/v1/vectors", vectors);
	srv_route_add(l, "POST", "/v1/resync", resync);
}
