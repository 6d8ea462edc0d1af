/* TRE update (TRE-12): a signed update from the TRE vendor, staged, tried at
 * the next boot, then confirmed or reverted, in the manner of MCUboot's
 * swap with revert (docs/design.md there: "test" image, "confirm", revert
 * at the next boot).
 *
 * The update manifest is a JWS (typ "omc-update+jwt") by the TRE vendor:
 *   {"model", "version", "counter", "components": [{"name", "path",
 *    "sha256", "size"}], "manifest": the new reference manifest (compact
 *    JWS, typ "omc-manifest+jwt") naming the same components}
 * docs/objects.md "TRE update" lists the checks in order.
 *
 * Crash safety. The phase lives in the TRE state (tre/state), so each step
 * is one store commit; the file steps between two commits are idempotent
 * and checked against digests kept in the state (tre_internal.h has the
 * diagram):
 *   stage      write update/sS-* (tmp, fsync, rename, dir fsync), then
 *              commit STAGED. A cut before the commit leaves no update
 *              (the files are junk the next stage overwrites); a restage
 *              writes the other slot, so the staged one stays whole.
 *   boot       copy the running files to update/old-*, commit SWITCHING,
 *              copy the staged files over the running ones, commit TRIAL.
 *   revert     commit REVERTING, copy update/old-* back, commit NONE.
 *   confirm    commit NONE with the security counter raised.
 * At every read-write open an interrupted SWITCHING is undone (the
 * backups back, STAGED) and an interrupted REVERTING finished, before the
 * platform is measured; so once open returns, the files are all old or all
 * new. A backup or a staged file that no longer matches its digest stops
 * the update (audited) instead of mixing files. */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tre/tre_internal.h"

#define UPDATE_TYP "omc-update+jwt"
#define MANIFEST_TYP "omc-manifest+jwt"
#define UPDATE_DIR "update"
#define OLD_MANIFEST "update/old-manifest.jws"

static const char *const phase_names[] = {
	[OMC_TRE_UPD_NONE] = "none",   [OMC_TRE_UPD_STAGED] = "staged",       [OMC_TRE_UPD_SWITCHING] = "switching",
	[OMC_TRE_UPD_TRIAL] = "trial", [OMC_TRE_UPD_REVERTING] = "reverting",
};

const char *omc_tre_update_state_name(omc_tre_update_state s)
{
	switch (s) {
	case OMC_TRE_UPDATE_NONE:
		return "none";
	case OMC_TRE_UPDATE_STAGED:
		return "staged";
	case OMC_TRE_UPDATE_TRIAL:
		return "trial";
	case OMC_TRE_UPDATE_SWITCHING:
		return "switching";
	case OMC_TRE_UPDATE_REVERTING:
		return "reverting";
	}
	return "unknown";
}

/* --- file names and small helpers ----------------------------------------------- */

static void staged_name(char *buf, size_t cap, unsigned slot, size_t i)
{
	snprintf(buf, cap, UPDATE_DIR "/s%u-c%zu", slot, i);
}

static void staged_manifest_name(char *buf, size_t cap, unsigned slot)
{
	snprintf(buf, cap, UPDATE_DIR "/s%u-manifest.jws", slot);
}

static void staged_update_name(char *buf, size_t cap, unsigned slot)
{
	snprintf(buf, cap, UPDATE_DIR "/s%u-update.jws", slot);
}

static void old_name(char *buf, size_t cap, size_t i)
{
	snprintf(buf, cap, UPDATE_DIR "/old-c%zu", i);
}

static omc_err sha256(uint8_t out[32], const uint8_t *d, size_t n)
{
	unsigned l = 0;
	OMC_ENSURE(EVP_Digest(d, n, out, &l, EVP_sha256(), NULL) == 1 && l == 32, OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* A component's place: "platform/" and 1..63 of [A-Za-z0-9._-], not
 * beginning with '.', not ending in ".tmp". So an update can never write
 * device.key, identity.sealed, manifest.jws, audit.log, the store or its
 * own files, nor a temporary name of omc_tre_write_file. */
static bool path_ok(const char *p)
{
	static const char pre[] = "platform/";
	size_t n = strlen(p);
	if (strncmp(p, pre, sizeof pre - 1) != 0 || n <= sizeof pre - 1 || n - (sizeof pre - 1) > 63)
		return false;
	const char *f = p + sizeof pre - 1;
	if (f[0] == '.' || (strlen(f) >= 4 && !strcmp(f + strlen(f) - 4, ".tmp")))
		return false;
	for (; *f; f++)
		if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z') || (*f >= '0' && *f <= '9') || *f == '.' ||
		      *f == '_' || *f == '-'))
			return false;
	return true;
}

/* 1..31 printable ASCII characters (it goes into audit details). */
static bool version_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= OMC_TRE_UPDATE_VERSION_MAX)
		return false;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			return false;
	return true;
}

static omc_err hex32(uint8_t out[32], const json_t *v)
{
	OMC_ENSURE(json_is_string(v) && strlen(json_string_value(v)) == 64, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(out, 32, json_string_value(v), 64) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static json_t *hex32_json(const uint8_t in[32])
{
	char h[65];
	if (omc_hex_encode(h, sizeof h, in, 32) != OMC_OK)
		return NULL;
	return json_string(h);
}

/* A directory that must exist before files go in it (POSIX; the memfs has
 * names only). Made durable in its parent before any file relies on it. */
static omc_err ensure_dir(omc_store_io *io, const char *dir)
{
	if (io->exists(io->ctx, dir) == OMC_OK)
		return OMC_OK;
	OMC_TRY(io->mkdir(io->ctx, dir));
	return io->sync_dir(io->ctx, "");
}

static omc_err parent_dir(char *dir, size_t cap, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	OMC_ENSURE(n < cap, OMC_ERR_BAD_ARG);
	memcpy(dir, path, n);
	dir[n] = 0;
	return OMC_OK;
}

/* The file at path, if it has exactly this digest (and size, when given):
 * OMC_OK with *data; OMC_ERR_TAMPERED if it differs or is missing. */
static omc_err read_checked(omc_tre *t, const char *path, const uint8_t want[32], const uint64_t *size,
			    uint8_t **data, size_t *len)
{
	uint8_t *d;
	size_t n;
	omc_err e = t->io->read(t->io->ctx, path, &d, &n);
	if (e == OMC_ERR_NOT_FOUND)
		OMC_BAIL(OMC_ERR_TAMPERED);
	OMC_TRY(e);
	uint8_t h[32];
	e = sha256(h, d, n);
	if (e == OMC_OK && ((size && n != *size) || !omc_ct_eq(h, want, 32)))
		e = OMC_ERR_TAMPERED;
	if (e != OMC_OK) {
		omc_free(d);
		return e;
	}
	*data = d;
	*len = n;
	return OMC_OK;
}

/* Put the checked copy of `from` at `to`, atomically. */
static omc_err copy_checked(omc_tre *t, const char *from, const char *to, const uint8_t want[32],
			    const uint64_t *size)
{
	uint8_t *d;
	size_t n;
	OMC_TRY(read_checked(t, from, want, size, &d, &n));
	omc_err e = omc_tre_write_file(t->io, to, d, n);
	omc_free(d);
	return e;
}

/* Remove path (absent is fine) and make that durable. */
static omc_err remove_durably(omc_tre *t, const char *path)
{
	omc_err e = t->io->unlink(t->io->ctx, path);
	if (e != OMC_OK && e != OMC_ERR_NOT_FOUND)
		return e;
	char dir[OMC_TRE_UPDATE_PATH_MAX];
	OMC_TRY(parent_dir(dir, sizeof dir, path));
	return t->io->sync_dir(t->io->ctx, dir);
}

/* --- the update record in the TRE state ------------------------------------------- */

omc_err omc_tre_update_state_to_json(const omc_tre *t, json_t *o)
{
	OMC_ENSURE(json_object_set_new(o, "fw_counter", json_integer((json_int_t)t->fw_counter)) == 0, OMC_ERR_NOMEM);
	const omc_tre_update_rec *r = &t->upd;
	if (r->phase == OMC_TRE_UPD_NONE)
		return OMC_OK;
	json_t *u = json_pack("{s:s,s:I,s:s,s:I,s:o}", "phase", phase_names[r->phase], "slot", (json_int_t)r->slot,
			      "version", r->version, "counter", (json_int_t)r->counter, "manifest",
			      hex32_json(r->manifest_sha256));
	json_t *cs = json_array();
	omc_err e = OMC_ERR_NOMEM;
	if (!u || !cs)
		goto out;
	if (r->had_old_manifest && json_object_set_new(u, "old_manifest", hex32_json(r->old_manifest_sha256)))
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const omc_tre_update_comp *c = &r->comps[i];
		json_t *cj = json_pack("{s:s,s:s,s:o,s:I}", "name", c->name, "path", c->path, "sha256",
				       hex32_json(c->sha256), "size", (json_int_t)c->size);
		if (!cj || (c->had_old && json_object_set_new(cj, "old", hex32_json(c->old_sha256))) ||
		    json_array_append_new(cs, cj))
			goto out;
	}
	if (json_object_set(u, "components", cs) || json_object_set(o, "update", u))
		goto out;
	e = OMC_OK;
out:
	json_decref(cs);
	json_decref(u);
	return e;
}

static omc_err rec_from_json(omc_tre_update_rec *r, const json_t *u)
{
	const json_t *ph = json_object_get(u, "phase"), *cs = json_object_get(u, "components"),
		     *om = json_object_get(u, "old_manifest");
	OMC_ENSURE(json_is_string(ph), OMC_ERR_CORRUPT);
	bool known = false;
	for (size_t i = 1; i < OMC_ARRAY_LEN(phase_names); i++)
		if (!strcmp(json_string_value(ph), phase_names[i])) {
			r->phase = (omc_tre_update_phase)i;
			known = true;
		}
	uint64_t slot = 0;
	OMC_ENSURE(known && omc_tre_json_u64(&slot, u, "slot") == OMC_OK && slot <= 1, OMC_ERR_CORRUPT);
	r->slot = (unsigned)slot;
	OMC_ENSURE(omc_tre_json_str(r->version, sizeof r->version, u, "version") == OMC_OK &&
			   omc_tre_json_u64(&r->counter, u, "counter") == OMC_OK &&
			   hex32(r->manifest_sha256, json_object_get(u, "manifest")) == OMC_OK,
		   OMC_ERR_CORRUPT);
	r->had_old_manifest = om != NULL;
	OMC_ENSURE(!om || hex32(r->old_manifest_sha256, om) == OMC_OK, OMC_ERR_CORRUPT);
	OMC_ENSURE(json_is_array(cs) && json_array_size(cs) >= 1 && json_array_size(cs) <= OMC_TRE_MAX_COMPONENTS,
		   OMC_ERR_CORRUPT);
	for (size_t i = 0; i < json_array_size(cs); i++) {
		const json_t *c = json_array_get(cs, i), *old = json_object_get(c, "old");
		omc_tre_update_comp *rc = &r->comps[r->n++];
		OMC_ENSURE(omc_tre_json_str(rc->name, sizeof rc->name, c, "name") == OMC_OK &&
				   omc_tre_json_str(rc->path, sizeof rc->path, c, "path") == OMC_OK && path_ok(rc->path) &&
				   hex32(rc->sha256, json_object_get(c, "sha256")) == OMC_OK &&
				   omc_tre_json_u64(&rc->size, c, "size") == OMC_OK,
			   OMC_ERR_CORRUPT);
		rc->had_old = old != NULL;
		OMC_ENSURE(!old || hex32(rc->old_sha256, old) == OMC_OK, OMC_ERR_CORRUPT);
	}
	return OMC_OK;
}

omc_err omc_tre_update_state_from_json(omc_tre *t, const json_t *o)
{
	memset(&t->upd, 0, sizeof t->upd);
	t->fw_counter = 0;
	if (json_object_get(o, "fw_counter"))
		OMC_ENSURE(omc_tre_json_u64(&t->fw_counter, o, "fw_counter") == OMC_OK, OMC_ERR_CORRUPT);
	const json_t *u = json_object_get(o, "update");
	if (!u)
		return OMC_OK;
	OMC_ENSURE(json_is_object(u), OMC_ERR_CORRUPT);
	omc_err e = rec_from_json(&t->upd, u);
	if (e != OMC_OK)
		memset(&t->upd, 0, sizeof t->upd);
	return e;
}

/* One commit of the next update record (and counter), with ev's audit
 * record if given; on failure the TRE keeps the old ones. */
static omc_err commit_rec(omc_tre *t, const omc_tre_update_rec *next, uint64_t fw_counter, const omc_audit_event *ev)
{
	omc_tre_update_rec *old = omc_alloc(sizeof *old);
	OMC_ENSURE(old != NULL, OMC_ERR_NOMEM);
	*old = t->upd;
	uint64_t old_counter = t->fw_counter;
	t->upd = *next;
	t->fw_counter = fw_counter;
	omc_err e = omc_tre_commit(t, NULL, ev);
	if (e != OMC_OK) {
		t->upd = *old;
		t->fw_counter = old_counter;
	}
	omc_free(old);
	return e;
}

static omc_audit_event update_event(const omc_tre *t, const char *actor, const char *result, const char *detail)
{
	return (omc_audit_event){.time = omc_tre_now(t),
				 .event = "tre_update",
				 .actor = actor,
				 .subject = "tre",
				 .result = result,
				 .detail = detail};
}

/* Leftovers of a finished update: nothing refers to them any more, so a
 * failure here (a power cut) leaves junk that the next update overwrites. */
static void cleanup(omc_tre *t, const omc_tre_update_rec *r, bool both_slots)
{
	char p[OMC_TRE_UPDATE_PATH_MAX];
	for (unsigned s = 0; s < 2; s++) {
		if (!both_slots && s != r->slot)
			continue;
		for (size_t i = 0; i < r->n; i++) {
			staged_name(p, sizeof p, s, i);
			(void)t->io->unlink(t->io->ctx, p);
		}
		staged_manifest_name(p, sizeof p, s);
		(void)t->io->unlink(t->io->ctx, p);
		staged_update_name(p, sizeof p, s);
		(void)t->io->unlink(t->io->ctx, p);
	}
	for (size_t i = 0; i < r->n; i++) {
		old_name(p, sizeof p, i);
		(void)t->io->unlink(t->io->ctx, p);
	}
	(void)t->io->unlink(t->io->ctx, OLD_MANIFEST);
}

/* --- checking an update manifest --------------------------------------------------- */

/* The claims of an update manifest, or of the reference manifest inside it
 * (ref: no "size", no "manifest"). Types and rules only. */
static omc_err claims_parse(omc_tre_update_rec *r, const json_t *o, bool ref, const char **why)
{
	const json_t *model = json_object_get(o, "model"), *cs = json_object_get(o, "components");
	*why = "claims";
	OMC_ENSURE(json_is_object(o) && json_is_string(model), OMC_ERR_BAD_FORMAT);
	*why = "version";
	OMC_ENSURE(omc_tre_json_str(r->version, sizeof r->version, o, "version") == OMC_OK && version_ok(r->version),
		   OMC_ERR_BAD_FORMAT);
	*why = "counter";
	const json_t *cv = json_object_get(o, "counter");
	OMC_ENSURE(json_is_integer(cv) && json_integer_value(cv) >= 0, OMC_ERR_BAD_FORMAT);
	r->counter = (uint64_t)json_integer_value(cv);
	*why = "components";
	OMC_ENSURE(json_is_array(cs) && json_array_size(cs) >= 1 && json_array_size(cs) <= OMC_TRE_MAX_COMPONENTS,
		   OMC_ERR_BAD_FORMAT);
	r->n = 0;
	for (size_t i = 0; i < json_array_size(cs); i++) {
		const json_t *c = json_array_get(cs, i);
		omc_tre_update_comp *rc = &r->comps[r->n++];
		memset(rc, 0, sizeof *rc);
		OMC_ENSURE(json_is_object(c) && omc_tre_json_str(rc->name, sizeof rc->name, c, "name") == OMC_OK &&
				   rc->name[0] && omc_tre_json_str(rc->path, sizeof rc->path, c, "path") == OMC_OK &&
				   path_ok(rc->path) && hex32(rc->sha256, json_object_get(c, "sha256")) == OMC_OK,
			   OMC_ERR_BAD_FORMAT);
		if (!ref) {
			OMC_ENSURE(omc_tre_json_u64(&rc->size, c, "size") == OMC_OK && rc->size <= OMC_TRE_UPDATE_FILE_MAX,
				   OMC_ERR_BAD_FORMAT);
		}
		for (size_t j = 0; j < i; j++)
			OMC_ENSURE(strcmp(r->comps[j].name, rc->name) != 0 && strcmp(r->comps[j].path, rc->path) != 0,
				   OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

static omc_err load_payload(json_t **o, omc_tre *t, const char *jws, size_t len, const char *typ)
{
	size_t na;
	const omc_cert *const *anchors = omc_tre_anchors(t, OMC_ANCHOR_TRE_VENDOR, &na);
	omc_jws_verified v;
	OMC_TRY(omc_jws_verify_x5c(&v, jws, len, anchors, na, typ, (time_t)omc_tre_now(t)));
	json_error_t je;
	*o = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	omc_jws_verified_free(&v);
	OMC_ENSURE(*o != NULL, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

typedef struct parsed_update {
	omc_tre_update_rec rec;
	char *refman; /* the new reference manifest (compact JWS), omc_alloc'd */
	size_t refman_len;
	bool signed_ok; /* the update manifest's signature passed (audit actor) */
} parsed_update;

/* Checks 3 to 8 of docs/objects.md "TRE update". */
static omc_err update_parse(parsed_update *p, omc_tre *t, const char *jws, size_t len, const char **why)
{
	json_t *o = NULL, *ro = NULL;
	*why = "signature";
	OMC_TRY(load_payload(&o, t, jws, len, UPDATE_TYP));
	p->signed_ok = true;
	omc_err e = claims_parse(&p->rec, o, false, why);
	const json_t *mv = json_object_get(o, "manifest");
	if (e == OMC_OK && !json_is_string(mv)) {
		*why = "manifest";
		e = OMC_ERR_BAD_FORMAT;
	}
	if (e == OMC_OK && strcmp(json_string_value(json_object_get(o, "model")), t->model) != 0) {
		*why = "made for another model";
		e = OMC_ERR_DENIED;
	}
	/* Anti-rollback (MCUboot's security counter): an equal counter is
	 * accepted, so a vendor can reissue a build at the same level. */
	if (e == OMC_OK && p->rec.counter < t->fw_counter) {
		*why = "security counter below the TRE's";
		e = OMC_ERR_DENIED;
	}
	/* The new reference manifest: the vendor's too, and the same update. */
	omc_tre_update_rec *ref = e == OMC_OK ? omc_calloc(1, sizeof *ref) : NULL;
	if (e == OMC_OK && !ref)
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK) {
		*why = "reference manifest signature";
		e = load_payload(&ro, t, json_string_value(mv), strlen(json_string_value(mv)), MANIFEST_TYP);
	}
	if (e == OMC_OK)
		e = claims_parse(ref, ro, true, why);
	if (e == OMC_OK) {
		bool same = !strcmp(json_string_value(json_object_get(ro, "model")), t->model) &&
			    !strcmp(ref->version, p->rec.version) && ref->counter == p->rec.counter &&
			    ref->n == p->rec.n;
		for (size_t i = 0; same && i < ref->n; i++)
			same = !strcmp(ref->comps[i].name, p->rec.comps[i].name) &&
			       !strcmp(ref->comps[i].path, p->rec.comps[i].path) &&
			       omc_ct_eq(ref->comps[i].sha256, p->rec.comps[i].sha256, 32);
		if (!same) {
			*why = "reference manifest differs from the update";
			e = OMC_ERR_BAD_FORMAT;
		}
	}
	if (e == OMC_OK) {
		p->refman_len = strlen(json_string_value(mv));
		p->refman = omc_alloc(p->refman_len + 1);
		if (!p->refman)
			e = OMC_ERR_NOMEM;
		else
			memcpy(p->refman, json_string_value(mv), p->refman_len + 1);
	}
	if (e == OMC_OK)
		e = sha256(p->rec.manifest_sha256, (const uint8_t *)p->refman, p->refman_len);
	omc_free(ref);
	json_decref(ro);
	json_decref(o);
	return e;
}

/* Check 9: one file for each component, of its size and digest. */
static omc_err files_check(const omc_tre_update_rec *r, const omc_tre_update_file *files, size_t n_files,
			   const omc_tre_update_file **order, const char **why)
{
	*why = "files do not match the components";
	OMC_ENSURE(n_files == r->n, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < r->n; i++) {
		order[i] = NULL;
		for (size_t j = 0; j < n_files; j++) {
			if (!files[j].name || strcmp(files[j].name, r->comps[i].name) != 0)
				continue;
			OMC_ENSURE(order[i] == NULL && (files[j].data || files[j].len == 0), OMC_ERR_BAD_ARG);
			order[i] = &files[j];
		}
		*why = r->comps[i].name;
		OMC_ENSURE(order[i] != NULL, OMC_ERR_BAD_ARG);
	}
	for (size_t i = 0; i < r->n; i++) {
		*why = r->comps[i].name;
		OMC_ENSURE(order[i]->len == r->comps[i].size, OMC_ERR_BAD_LENGTH);
		uint8_t h[32];
		OMC_TRY(sha256(h, order[i]->data, order[i]->len));
		OMC_ENSURE(omc_ct_eq(h, r->comps[i].sha256, 32), OMC_ERR_TAMPERED);
	}
	return OMC_OK;
}

/* --- stage --------------------------------------------------------------------------- */

omc_err omc_tre_update_stage(omc_tre *t, const char *manifest, size_t len, const omc_tre_update_file *files,
			     size_t n_files)
{
	OMC_ENSURE(t && manifest && (files || n_files == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= OMC_JOSE_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	OMC_ENSURE(!t->readonly, OMC_ERR_BAD_STATE);
	/* A trial runs: it is confirmed or reverted first (MCUboot too has
	 * one image in test at a time). */
	OMC_ENSURE(t->upd.phase == OMC_TRE_UPD_NONE || t->upd.phase == OMC_TRE_UPD_STAGED, OMC_ERR_BAD_STATE);
	parsed_update *p = omc_calloc(1, sizeof *p);
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	const char *why = "";
	const omc_tre_update_file *order[OMC_TRE_MAX_COMPONENTS];
	omc_err e = update_parse(p, t, manifest, len, &why);
	if (e == OMC_OK)
		e = files_check(&p->rec, files, n_files, order, &why);
	if (e != OMC_OK) {
		char d[160];
		snprintf(d, sizeof d, "%s: %s", omc_err_name(e), why);
		OMC_LOG_DBG("tre", "update refused: %s", d);
		omc_tre_audit(t, "tre_update", p->signed_ok ? "tre-vendor" : "other", "tre", "refused", d);
		omc_free(p->refman);
		omc_free(p);
		return e;
	}
	/* A restage writes the other slot: the staged update stays whole
	 * until the commit that replaces it. */
	p->rec.phase = OMC_TRE_UPD_STAGED;
	p->rec.slot = t->upd.phase == OMC_TRE_UPD_STAGED ? t->upd.slot ^ 1u : 0;
	char path[OMC_TRE_UPDATE_PATH_MAX];
	e = ensure_dir(t->io, UPDATE_DIR);
	for (size_t i = 0; e == OMC_OK && i < p->rec.n; i++) {
		staged_name(path, sizeof path, p->rec.slot, i);
		e = omc_tre_write_file(t->io, path, order[i]->data, order[i]->len);
	}
	if (e == OMC_OK) {
		staged_manifest_name(path, sizeof path, p->rec.slot);
		e = omc_tre_write_file(t->io, path, (const uint8_t *)p->refman, p->refman_len);
	}
	if (e == OMC_OK) {
		staged_update_name(path, sizeof path, p->rec.slot);
		e = omc_tre_write_file(t->io, path, (const uint8_t *)manifest, len);
	}
	char d[128];
	snprintf(d, sizeof d, "staged: version %s, security counter %llu", p->rec.version,
		 (unsigned long long)p->rec.counter);
	omc_audit_event ev = update_event(t, "tre-vendor", "ok", d);
	omc_tre_update_rec *prev = e == OMC_OK ? omc_alloc(sizeof *prev) : NULL;
	if (e == OMC_OK && !prev)
		e = OMC_ERR_NOMEM;
	if (e == OMC_OK) {
		*prev = t->upd;
		e = commit_rec(t, &p->rec, t->fw_counter, &ev);
	}
	if (e == OMC_OK && prev->phase == OMC_TRE_UPD_STAGED) {
		/* The replaced stage's files (its slot only: the backups are
		 * not written before a boot). */
		for (size_t i = 0; i < prev->n; i++) {
			staged_name(path, sizeof path, prev->slot, i);
			(void)t->io->unlink(t->io->ctx, path);
		}
		staged_manifest_name(path, sizeof path, prev->slot);
		(void)t->io->unlink(t->io->ctx, path);
		staged_update_name(path, sizeof path, prev->slot);
		(void)t->io->unlink(t->io->ctx, path);
	}
	omc_free(prev);
	omc_free(p->refman);
	omc_free(p);
	return e;
}

/* --- the file steps ----------------------------------------------------------------- */

/* Every staged file still has its digest: OMC_ERR_TAMPERED if not. */
static omc_err staged_check(omc_tre *t, const omc_tre_update_rec *r)
{
	char path[OMC_TRE_UPDATE_PATH_MAX];
	uint8_t *d;
	size_t n;
	for (size_t i = 0; i < r->n; i++) {
		staged_name(path, sizeof path, r->slot, i);
		OMC_TRY(read_checked(t, path, r->comps[i].sha256, &r->comps[i].size, &d, &n));
		omc_free(d);
	}
	staged_manifest_name(path, sizeof path, r->slot);
	OMC_TRY(read_checked(t, path, r->manifest_sha256, NULL, &d, &n));
	omc_free(d);
	return OMC_OK;
}

/* Every backup still has its digest: OMC_ERR_TAMPERED if not. */
static omc_err backups_check(omc_tre *t, const omc_tre_update_rec *r)
{
	char path[OMC_TRE_UPDATE_PATH_MAX];
	uint8_t *d;
	size_t n;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->comps[i].had_old)
			continue;
		old_name(path, sizeof path, i);
		OMC_TRY(read_checked(t, path, r->comps[i].old_sha256, NULL, &d, &n));
		omc_free(d);
	}
	if (r->had_old_manifest) {
		OMC_TRY(read_checked(t, OLD_MANIFEST, r->old_manifest_sha256, NULL, &d, &n));
		omc_free(d);
	}
	return OMC_OK;
}

/* The staged files over the running ones, the new reference manifest
 * last. Checked first, so a damaged one changes nothing. */
static omc_err install_new(omc_tre *t, const omc_tre_update_rec *r)
{
	OMC_TRY(staged_check(t, r));
	char path[OMC_TRE_UPDATE_PATH_MAX], dir[OMC_TRE_UPDATE_PATH_MAX];
	for (size_t i = 0; i < r->n; i++) {
		OMC_TRY(parent_dir(dir, sizeof dir, r->comps[i].path));
		OMC_TRY(ensure_dir(t->io, dir));
		staged_name(path, sizeof path, r->slot, i);
		OMC_TRY(copy_checked(t, path, r->comps[i].path, r->comps[i].sha256, &r->comps[i].size));
	}
	staged_manifest_name(path, sizeof path, r->slot);
	return copy_checked(t, path, "manifest.jws", r->manifest_sha256, NULL);
}

/* The backups over the running files (and files that were not there
 * removed). Checked first, so a damaged one changes nothing. */
static omc_err restore_old(omc_tre *t, const omc_tre_update_rec *r)
{
	OMC_TRY(backups_check(t, r));
	char path[OMC_TRE_UPDATE_PATH_MAX];
	for (size_t i = 0; i < r->n; i++) {
		if (r->comps[i].had_old) {
			old_name(path, sizeof path, i);
			OMC_TRY(copy_checked(t, path, r->comps[i].path, r->comps[i].old_sha256, NULL));
		} else {
			OMC_TRY(remove_durably(t, r->comps[i].path));
		}
	}
	if (r->had_old_manifest)
		return copy_checked(t, OLD_MANIFEST, "manifest.jws", r->old_manifest_sha256, NULL);
	return remove_durably(t, "manifest.jws");
}

/* Copy a running file aside: update/old-... and its digest. */
static omc_err back_up(omc_tre *t, const char *path, const char *to, bool *had, uint8_t sha[32])
{
	uint8_t *d;
	size_t n;
	omc_err e = t->io->read(t->io->ctx, path, &d, &n);
	if (e == OMC_ERR_NOT_FOUND) {
		*had = false;
		return OMC_OK;
	}
	OMC_TRY(e);
	e = sha256(sha, d, n);
	if (e == OMC_OK)
		e = omc_tre_write_file(t->io, to, d, n);
	omc_free(d);
	*had = e == OMC_OK;
	return e;
}

/* The update is given up (a file it needs is damaged): no update any
 * more, the files as they are; the measurement shows what that means. */
static omc_err abandon(omc_tre *t, const char *why)
{
	char d[160];
	snprintf(d, sizeof d, "update of version %s abandoned: %s", t->upd.version, why);
	OMC_LOG_WRN("tre", "%s", d);
	omc_audit_event ev = update_event(t, "tre", "failed", d);
	omc_tre_update_rec none;
	memset(&none, 0, sizeof none);
	omc_tre_update_rec r = t->upd;
	OMC_TRY(commit_rec(t, &none, t->fw_counter, &ev));
	cleanup(t, &r, true);
	return OMC_OK;
}

/* SWITCHING found at an open: the switch was cut short. Undone. */
static omc_err undo_switch(omc_tre *t)
{
	omc_tre_update_rec r = t->upd;
	omc_err e = restore_old(t, &r);
	if (e == OMC_ERR_TAMPERED)
		return abandon(t, "a backup is damaged, the switch cannot be undone");
	OMC_TRY(e);
	r.phase = OMC_TRE_UPD_STAGED;
	return commit_rec(t, &r, t->fw_counter, NULL);
}

/* STAGED at a boot: the trial begins. */
static omc_err do_switch(omc_tre *t)
{
	omc_tre_update_rec r = t->upd;
	omc_err e = staged_check(t, &r);
	if (e == OMC_ERR_TAMPERED)
		return abandon(t, "a staged file is damaged");
	OMC_TRY(e);
	char path[OMC_TRE_UPDATE_PATH_MAX];
	OMC_TRY(ensure_dir(t->io, UPDATE_DIR));
	for (size_t i = 0; i < r.n; i++) {
		old_name(path, sizeof path, i);
		OMC_TRY(back_up(t, r.comps[i].path, path, &r.comps[i].had_old, r.comps[i].old_sha256));
	}
	OMC_TRY(back_up(t, "manifest.jws", OLD_MANIFEST, &r.had_old_manifest, r.old_manifest_sha256));
	r.phase = OMC_TRE_UPD_SWITCHING;
	OMC_TRY(commit_rec(t, &r, t->fw_counter, NULL));
	e = install_new(t, &r);
	if (e == OMC_ERR_TAMPERED) { /* changed since the check above */
		e = restore_old(t, &r);
		if (e == OMC_ERR_TAMPERED || e == OMC_OK)
			return abandon(t, e == OMC_OK ? "a staged file is damaged" : "staged files and backups damaged");
	}
	OMC_TRY(e);
	r.phase = OMC_TRE_UPD_TRIAL;
	char d[128];
	snprintf(d, sizeof d, "trial: version %s, security counter %llu", r.version, (unsigned long long)r.counter);
	omc_audit_event ev = update_event(t, "tre", "ok", d);
	return commit_rec(t, &r, t->fw_counter, &ev);
}

/* REVERTING at an open (or TRIAL at a boot, after the commit below): the
 * old files back, then no update. */
static omc_err finish_revert(omc_tre *t)
{
	omc_tre_update_rec r = t->upd;
	omc_err e = restore_old(t, &r);
	if (e == OMC_ERR_TAMPERED)
		return abandon(t, "a backup is damaged, the trial version stays (not confirmed)");
	OMC_TRY(e);
	char d[128];
	snprintf(d, sizeof d, "update reverted: version %s was not confirmed", r.version);
	OMC_LOG_WRN("tre", "%s", d);
	omc_audit_event ev = update_event(t, "tre", "failed", d);
	omc_tre_update_rec none;
	memset(&none, 0, sizeof none);
	OMC_TRY(commit_rec(t, &none, t->fw_counter, &ev));
	cleanup(t, &r, true);
	return OMC_OK;
}

omc_err omc_tre_update_boot(omc_tre *t, bool boot)
{
	if (!t->store || t->readonly)
		return OMC_OK;
	/* First what a power cut interrupted, at any open that may write. */
	if (t->upd.phase == OMC_TRE_UPD_SWITCHING)
		OMC_TRY(undo_switch(t));
	if (t->upd.phase == OMC_TRE_UPD_REVERTING)
		return finish_revert(t);
	if (!boot)
		return OMC_OK;
	/* A boot: a staged update starts its trial; an unconfirmed trial
	 * has had its boot and is reverted. */
	if (t->upd.phase == OMC_TRE_UPD_STAGED)
		return do_switch(t);
	if (t->upd.phase == OMC_TRE_UPD_TRIAL) {
		omc_tre_update_rec r = t->upd;
		r.phase = OMC_TRE_UPD_REVERTING;
		OMC_TRY(commit_rec(t, &r, t->fw_counter, NULL));
		return finish_revert(t);
	}
	return OMC_OK;
}

/* --- confirm and status ------------------------------------------------------------- */

omc_err omc_tre_update_confirm(omc_tre *t)
{
	OMC_ENSURE(t != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	OMC_ENSURE(!t->readonly, OMC_ERR_BAD_STATE);
	OMC_ENSURE(t->upd.phase == OMC_TRE_UPD_TRIAL, OMC_ERR_BAD_STATE);
	/* Only a trial that measured right: the new files against the new
	 * manifest, which is the update's. */
	if (!t->platform_ok || strcmp(t->fw_version, t->upd.version) != 0 || t->fw_manifest_counter != t->upd.counter) {
		omc_tre_audit(t, "tre_update", "tre", "tre", "refused",
			      "TAMPERED: the trial platform does not measure right");
		OMC_BAIL(OMC_ERR_TAMPERED);
	}
	omc_tre_update_rec r = t->upd, none;
	memset(&none, 0, sizeof none);
	uint64_t counter = r.counter > t->fw_counter ? r.counter : t->fw_counter;
	char d[128];
	snprintf(d, sizeof d, "confirmed: version %s, security counter %llu", r.version, (unsigned long long)counter);
	omc_audit_event ev = update_event(t, "tre", "ok", d);
	OMC_TRY(commit_rec(t, &none, counter, &ev));
	cleanup(t, &r, true);
	return OMC_OK;
}

omc_err omc_tre_update_status(omc_tre *t, omc_tre_update_info *st)
{
	OMC_ENSURE(t && st, OMC_ERR_BAD_ARG);
	memset(st, 0, sizeof *st);
	static const omc_tre_update_state map[] = {
		[OMC_TRE_UPD_NONE] = OMC_TRE_UPDATE_NONE,           [OMC_TRE_UPD_STAGED] = OMC_TRE_UPDATE_STAGED,
		[OMC_TRE_UPD_SWITCHING] = OMC_TRE_UPDATE_SWITCHING, [OMC_TRE_UPD_TRIAL] = OMC_TRE_UPDATE_TRIAL,
		[OMC_TRE_UPD_REVERTING] = OMC_TRE_UPDATE_REVERTING,
	};
	st->state = map[t->upd.phase];
	snprintf(st->running_version, sizeof st->running_version, "%s", t->fw_version);
	st->running_counter = t->fw_manifest_counter;
	st->counter = t->fw_counter;
	if (t->upd.phase != OMC_TRE_UPD_NONE) {
		snprintf(st->staged_version, sizeof st->staged_version, "%s", t->upd.version);
		st->staged_counter = t->upd.counter;
	}
	return OMC_OK;
}
