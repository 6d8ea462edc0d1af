/* Attestation (TRE-7, EVAL-1, SEC-8): evidence signed inside the TRE, the
 * provisioning session that binds a fresh ephemeral key into it, and the
 * verification a PVA runs. Claims are EAT-style JSON (RFC 9711's JWT form);
 * docs/objects.md lists them. */
#include <string.h>

#include <jansson.h>

#include "tre/tre_internal.h"

#define PROFILE "tag:openmcim.org,2026:tre-evidence:v1"
#define EVIDENCE_TYP "omc-evidence+jwt"

static omc_err b64url(char *out, size_t cap, const uint8_t *in, size_t n)
{
	return omc_b64_encode(out, cap, in, n, OMC_B64_URL);
}

static omc_err hexs(char *out, size_t cap, const uint8_t *in, size_t n)
{
	return omc_hex_encode(out, cap, in, n);
}

static omc_err evidence(omc_tre *t, const uint8_t *nonce, size_t nonce_len, const omc_key *eph, char **jws)
{
	OMC_ENSURE(nonce && nonce_len >= 8 && nonce_len <= 64, OMC_ERR_BAD_ARG);
	char nb[96], ueid_b[64], reg_h[65], audit_h[65];
	uint8_t ueid[33], reg[32];
	ueid[0] = 0x01; /* RAND type UEID (RFC 9711 4.2.1): a hash of the attestation key */
	OMC_TRY(omc_key_thumbprint(ueid + 1, t->att_key));
	OMC_TRY(b64url(nb, sizeof nb, nonce, nonce_len));
	OMC_TRY(b64url(ueid_b, sizeof ueid_b, ueid, sizeof ueid));
	OMC_TRY(omc_tre_registry_digest(t, reg));
	OMC_TRY(hexs(reg_h, sizeof reg_h, reg, 32));
	OMC_TRY(hexs(audit_h, sizeof audit_h, t->audit_head.hash, 32));

	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:b,s:s,s:{s:I,s:s}}",
			      "eat_profile", PROFILE, "eat_nonce", nb, "iat", (json_int_t)omc_tre_now(t), "ueid",
			      ueid_b, "tre_id", t->tre_id, "platform_id", t->platform_id, "model", t->model,
			      "sw_version", OMC_VERSION, "backend", "sw", "boot_count", (json_int_t)t->boot_count,
			      "generation", (json_int_t)(t->store ? omc_store_generation(t->store) : 0), "tre_state",
			      omc_tre_state_name(omc_tre_get_state(t)), "lockdown_reason",
			      t->lockdown ? t->lockdown_reason : "", "platform_ok", t->platform_ok, "manifest_ok",
			      t->manifest_ok, "registry_digest", reg_h, "audit", "count",
			      (json_int_t)t->audit_head.count, "hash", audit_h);
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = OMC_ERR_NOMEM;
	json_t *ms = json_array(), *rg = json_array();
	if (!ms || !rg || json_object_set(o, "measurements", ms) || json_object_set(o, "registry", rg))
		goto out;
	/* The running firmware (TRE-12): the reference manifest's version and
	 * the stored security counter. */
	if (json_object_set_new(o, "fw_version", json_string(t->fw_version)) ||
	    json_object_set_new(o, "fw_counter", json_integer((json_int_t)t->fw_counter)))
		goto out;
	for (size_t i = 0; i < t->n_comps; i++) {
		char d[65];
		if (hexs(d, sizeof d, t->comps[i].measured, 32) != OMC_OK ||
		    json_array_append_new(ms, json_pack("{s:s,s:s,s:b}", "name", t->comps[i].name, "digest", d, "ok",
							t->comps[i].ok)))
			goto out;
	}
	for (size_t i = 0; i < t->n_reg; i++)
		if (json_array_append_new(rg, json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", t->reg[i].id, "owner",
							t->reg[i].owner, "role", t->reg[i].role, "state",
							omc_mcim_state_name(t->reg[i].state), "version",
							(json_int_t)t->reg[i].version)))
			goto out;
	if (eph) {
		char *jwk;
		if (omc_key_to_jwk(&jwk, eph) != OMC_OK)
			goto out;
		json_error_t je;
		json_t *j = omc_json_loads(jwk, 0, &je);
		omc_free(jwk);
		if (!j || json_object_set_new(o, "eph_pub", j))
			goto out;
	}
	e = omc_tre_sign(t, EVIDENCE_TYP, o, jws);
out:
	json_decref(ms);
	json_decref(rg);
	json_decref(o);
	return e;
}

/* The session's key, sealed under k_keys (omc_key_seal), to and from the
 * base64url kept in the TRE state. */
static omc_err session_key_seal(char **out, const omc_key *k, const uint8_t k_keys[32])
{
	uint8_t *b;
	size_t n;
	OMC_TRY(omc_key_seal(&b, &n, k, k_keys));
	size_t cap = omc_b64_encoded_len(n, OMC_B64_URL) + 1;
	char *s = omc_alloc(cap);
	omc_err e = s ? omc_b64_encode(s, cap, b, n, OMC_B64_URL) : OMC_ERR_NOMEM;
	omc_free(b);
	if (e != OMC_OK) {
		omc_free(s);
		return e;
	}
	*out = s;
	return OMC_OK;
}

omc_err omc_tre_session_key(omc_tre *t, omc_key **k)
{
	OMC_ENSURE(t->session && t->session_key, OMC_ERR_BAD_STATE);
	uint8_t b[256];
	size_t n;
	OMC_ENSURE(omc_b64_decode(b, sizeof b, &n, t->session_key, strlen(t->session_key), OMC_B64_URL) == OMC_OK,
		   OMC_ERR_CORRUPT);
	omc_err e = omc_key_unseal(k, b, n, t->k_keys);
	omc_memzero(b, sizeof b);
	return e == OMC_OK ? OMC_OK : omc_nomem_or(e, OMC_ERR_CORRUPT);
}

omc_err omc_tre_attest(omc_tre *t, const uint8_t *nonce, size_t nonce_len, char **out)
{
	OMC_ENSURE(t && out, OMC_ERR_BAD_ARG);
	omc_key *eph = NULL;
	if (t->session && !t->lockdown) {
		omc_key *priv;
		omc_err ke = omc_tre_session_key(t, &priv);
		if (ke == OMC_OK) {
			ke = omc_key_public(&eph, priv);
			if (ke != OMC_OK)
				eph = NULL; /* evidence without a download key */
			omc_key_free(priv);
		}
		/* out of memory is no reason to leave the key out */
		OMC_ENSURE(ke != OMC_ERR_NOMEM, OMC_ERR_NOMEM);
	}
	omc_err e = evidence(t, nonce, nonce_len, eph, out);
	omc_key_free(eph);
	return e;
}

omc_err omc_tre_session_begin(omc_tre *t, const uint8_t *nonce, size_t nonce_len, char **out)
{
	OMC_ENSURE(t && out && nonce && nonce_len >= 8 && nonce_len <= 64, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	omc_key *eph;
	OMC_TRY(omc_key_generate(&eph));
	char *pem;
	omc_err e = session_key_seal(&pem, eph, t->k_keys);
	if (e != OMC_OK) {
		omc_key_free(eph);
		return e;
	}
	/* Keep the old session until the new one is durable. */
	bool had = t->session;
	uint8_t old_nonce[64];
	size_t old_len = t->session_nonce_len;
	memcpy(old_nonce, t->session_nonce, sizeof old_nonce);
	char *old_pem = t->session_key;
	int64_t old_created = t->session_created;
	t->session = true;
	memcpy(t->session_nonce, nonce, nonce_len);
	t->session_nonce_len = nonce_len;
	t->session_key = pem;
	t->session_created = omc_tre_now(t);
	omc_audit_event ev = {.time = omc_tre_now(t), .event = "session", .actor = "tre", .subject = "tre",
			      .result = "ok", .detail = "provisioning session opened"};
	e = omc_tre_commit(t, NULL, &ev);
	if (e != OMC_OK) {
		t->session = had;
		memcpy(t->session_nonce, old_nonce, sizeof old_nonce);
		t->session_nonce_len = old_len;
		t->session_key = old_pem;
		t->session_created = old_created;
		omc_free(pem);
		omc_key_free(eph);
		return e;
	}
	omc_free(old_pem);
	omc_key *pub = NULL;
	e = omc_key_public(&pub, eph);
	omc_key_free(eph);
	if (e == OMC_OK)
		e = evidence(t, nonce, nonce_len, pub, out);
	omc_key_free(pub);
	return e;
}

/* --- the verifier's side -------------------------------------------------------------- */

static omc_err hex_claim(uint8_t *dst, size_t n, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	OMC_ENSURE(json_is_string(v) && strlen(json_string_value(v)) == 2 * n, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(dst, n, json_string_value(v), 2 * n) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err parse_claims(omc_evidence *ev, const json_t *o, const uint8_t *nonce, size_t nonce_len)
{
	const json_t *p = json_object_get(o, "eat_profile");
	OMC_ENSURE(json_is_string(p) && !strcmp(json_string_value(p), PROFILE), OMC_ERR_BAD_FORMAT);
	const json_t *nv = json_object_get(o, "eat_nonce");
	OMC_ENSURE(json_is_string(nv), OMC_ERR_BAD_FORMAT);
	uint8_t got[64];
	size_t got_len = 0;
	OMC_ENSURE(omc_b64_decode(got, sizeof got, &got_len, json_string_value(nv), strlen(json_string_value(nv)),
				  OMC_B64_URL) == OMC_OK,
		   OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(got_len == nonce_len && omc_ct_eq(got, nonce, nonce_len), OMC_ERR_DENIED);
	uint64_t iat;
	OMC_TRY(omc_tre_json_u64(&iat, o, "iat"));
	ev->iat = (int64_t)iat;
	OMC_TRY(omc_tre_json_str(ev->tre_id, sizeof ev->tre_id, o, "tre_id"));
	OMC_TRY(omc_tre_json_str(ev->platform_id, sizeof ev->platform_id, o, "platform_id"));
	OMC_TRY(omc_tre_json_str(ev->model, sizeof ev->model, o, "model"));
	OMC_TRY(omc_tre_json_str(ev->tre_state, sizeof ev->tre_state, o, "tre_state"));
	OMC_TRY(omc_tre_json_str(ev->backend, sizeof ev->backend, o, "backend"));
	OMC_TRY(omc_tre_json_str(ev->sw_version, sizeof ev->sw_version, o, "sw_version"));
	OMC_TRY(omc_tre_json_u64(&ev->boot_count, o, "boot_count"));
	OMC_TRY(omc_tre_json_u64(&ev->generation, o, "generation"));
	OMC_TRY(hex_claim(ev->registry_digest, 32, o, "registry_digest"));
	const json_t *a = json_object_get(o, "audit");
	OMC_ENSURE(json_is_object(a), OMC_ERR_BAD_FORMAT);
	OMC_TRY(omc_tre_json_u64(&ev->audit_count, a, "count"));
	OMC_TRY(hex_claim(ev->audit_head, 32, a, "hash"));
	const json_t *po = json_object_get(o, "platform_ok");
	OMC_ENSURE(json_is_boolean(po), OMC_ERR_BAD_FORMAT);
	ev->platform_ok = json_is_true(po);
	const json_t *ue = json_object_get(o, "ueid");
	size_t ul = 0;
	OMC_ENSURE(json_is_string(ue) && omc_b64_decode(ev->ueid, sizeof ev->ueid, &ul, json_string_value(ue),
							strlen(json_string_value(ue)), OMC_B64_URL) == OMC_OK &&
			   ul == sizeof ev->ueid,
		   OMC_ERR_BAD_FORMAT);
	const json_t *ms = json_object_get(o, "measurements");
	OMC_ENSURE(json_is_array(ms) && json_array_size(ms) <= OMC_EVIDENCE_MAX_MEASUREMENTS, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const json_t *m = json_array_get(ms, i), *ok = json_object_get(m, "ok");
		OMC_TRY(omc_tre_json_str(ev->measurements[i].name, sizeof ev->measurements[i].name, m, "name"));
		OMC_TRY(hex_claim(ev->measurements[i].digest, 32, m, "digest"));
		OMC_ENSURE(json_is_boolean(ok), OMC_ERR_BAD_FORMAT);
		ev->measurements[i].ok = json_is_true(ok);
		ev->n_measurements++;
	}
	/* Optional (TRE-12; evidence of earlier TREs has neither): both or none. */
	const json_t *fv = json_object_get(o, "fw_version"), *fc = json_object_get(o, "fw_counter");
	if (fv || fc) {
		OMC_TRY(omc_tre_json_str(ev->fw_version, sizeof ev->fw_version, o, "fw_version"));
		OMC_TRY(omc_tre_json_u64(&ev->fw_counter, o, "fw_counter"));
		ev->has_fw = true;
	}
	const json_t *eph = json_object_get(o, "eph_pub");
	if (eph) {
		char *s = omc_json_dumps(eph, JSON_COMPACT);
		OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
		omc_err e = omc_key_from_jwk(&ev->eph_pub, s, strlen(s));
		omc_free(s);
		OMC_ENSURE(e == OMC_OK, OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

omc_err omc_evidence_verify(omc_evidence *ev, const char *jws, size_t len, const omc_cert *const *anchors,
			    size_t n_anchors, const uint8_t *nonce, size_t nonce_len, time_t now)
{
	OMC_ENSURE(ev && jws && nonce && nonce_len <= 64, OMC_ERR_BAD_ARG);
	omc_proto_init();
	memset(ev, 0, sizeof *ev);
	omc_jws_verified v;
	OMC_TRY(omc_jws_verify_x5c(&v, jws, len, anchors, n_anchors, EVIDENCE_TYP, now));
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	ev->leaf = v.leaf;
	v.leaf = NULL;
	omc_jws_verified_free(&v);
	omc_err e = o ? parse_claims(ev, o, nonce, nonce_len) : OMC_ERR_BAD_FORMAT;
	json_decref(o);
	/* The TRE speaks for itself only: tre_id is its certificate's CN. */
	char cn[64];
	if (e == OMC_OK && (omc_cert_subject_cn(cn, sizeof cn, ev->leaf) != OMC_OK || strcmp(cn, ev->tre_id) != 0))
		e = OMC_ERR_DENIED;
	if (e != OMC_OK)
		omc_evidence_free(ev);
	return e;
}

void omc_evidence_free(omc_evidence *ev)
{
	if (!ev)
		return;
	omc_key_free(ev->eph_pub);
	omc_cert_free(ev->leaf);
	memset(ev, 0, sizeof *ev);
}
