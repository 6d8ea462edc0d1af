/* Secure boot (SEC-3, MGT-2): the signed reference manifest and the
 * measurement of the platform components it names.
 *
 * manifest.jws is a JWS (typ "omc-manifest+jwt") by the TRE vendor, whose
 * certificate chains to a TRE-vendor anchor of identity.sealed, with
 *   {"model": M, "version": V, "components": [{"name", "path", "sha256"}]}
 * The model must be this TRE's. Each component (a file in the TRE's
 * directory) is hashed and compared. A missing or invalid manifest, or a
 * mismatch, is a platform anomaly: the TRE refuses MCIM use and reports the
 * results in its evidence; it does not lock down for it. */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tre/tre_internal.h"

static void measure_one(omc_tre *t, omc_tre_component *c, const char *path)
{
	uint8_t *data;
	size_t len;
	c->ok = false;
	memset(c->measured, 0, sizeof c->measured);
	if (t->io->read(t->io->ctx, path, &data, &len) != OMC_OK)
		return;
	unsigned int n = 0;
	int ok = EVP_Digest(data, len, c->measured, &n, EVP_sha256(), NULL);
	omc_free(data);
	c->ok = ok == 1 && n == 32 && omc_ct_eq(c->measured, c->expected, 32);
}

static bool safe_path(const char *p)
{
	return p[0] && p[0] != '/' && !strstr(p, "..") && strlen(p) < 200;
}

void omc_tre_measure(omc_tre *t)
{
	t->manifest_ok = false;
	t->platform_ok = false;
	t->n_comps = 0;
	t->fw_version[0] = 0;
	t->fw_manifest_counter = 0;
	uint8_t *m;
	size_t mlen;
	if (t->io->read(t->io->ctx, "manifest.jws", &m, &mlen) != OMC_OK) {
		OMC_LOG_WRN("tre", "no reference manifest: platform unverified");
		return;
	}
	size_t na;
	const omc_cert *const *anchors = omc_tre_anchors(t, OMC_ANCHOR_TRE_VENDOR, &na);
	omc_jws_verified v;
	omc_err e = omc_jws_verify_x5c(&v, (const char *)m, mlen, anchors, na, "omc-manifest+jwt",
				       (time_t)omc_tre_now(t));
	omc_free(m);
	if (e != OMC_OK) {
		OMC_LOG_WRN("tre", "reference manifest does not verify: %s", omc_err_name(e));
		return;
	}
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	omc_jws_verified_free(&v);
	if (!o)
		return;
	const json_t *model = json_object_get(o, "model"), *comps = json_object_get(o, "components"),
		     *ver = json_object_get(o, "version"), *ctr = json_object_get(o, "counter");
	bool ok = json_is_string(model) && !strcmp(json_string_value(model), t->model) && json_is_array(comps) &&
		  json_array_size(comps) >= 1 && json_array_size(comps) <= OMC_TRE_MAX_COMPONENTS;
	/* Anti-rollback (TRE-12): a manifest's optional security counter
	 * (absent: 0) may not be below the one the TRE stores, which a
	 * confirmed update raises; so an older manifest signed by the vendor,
	 * with the old component files, no longer verifies. */
	uint64_t counter = 0;
	if (ctr && (!json_is_integer(ctr) || json_integer_value(ctr) < 0))
		ok = false;
	else if (ctr)
		counter = (uint64_t)json_integer_value(ctr);
	if (ok && counter < t->fw_counter) {
		OMC_LOG_WRN("tre", "reference manifest below the security counter: platform unverified");
		ok = false;
	}
	if (ver && (!json_is_string(ver) || strlen(json_string_value(ver)) >= sizeof t->fw_version))
		ok = false;
	bool all = ok;
	for (size_t i = 0; ok && i < json_array_size(comps); i++) {
		const json_t *c = json_array_get(comps, i);
		const json_t *name = json_object_get(c, "name"), *path = json_object_get(c, "path"),
			     *h = json_object_get(c, "sha256");
		if (!json_is_string(name) || !json_is_string(path) || !json_is_string(h) ||
		    strlen(json_string_value(name)) >= sizeof t->comps[0].name || !safe_path(json_string_value(path)) ||
		    strlen(json_string_value(h)) != 64) {
			ok = false;
			break;
		}
		omc_tre_component *tc = &t->comps[t->n_comps++];
		memset(tc, 0, sizeof *tc); /* nothing left from an earlier measurement */
		snprintf(tc->name, sizeof tc->name, "%s", json_string_value(name));
		if (omc_hex_decode(tc->expected, 32, json_string_value(h), 64) != OMC_OK) {
			ok = false;
			break;
		}
		measure_one(t, tc, json_string_value(path));
		all = all && tc->ok;
	}
	if (ok) {
		snprintf(t->fw_version, sizeof t->fw_version, "%s", ver ? json_string_value(ver) : "");
		t->fw_manifest_counter = counter;
	}
	json_decref(o);
	t->manifest_ok = ok;
	t->platform_ok = ok && all;
	if (!t->platform_ok)
		OMC_LOG_WRN("tre", "platform anomaly: MCIM use refused");
}
