/* The TRE core: opening (keys, identity, store, secure boot, MCIM checks),
 * the TRE state and its commits, the registry, users, lockdown, audit.
 *
 * Everything that changes the TRE goes through omc_tre_commit(): the
 * changed objects, the TRE state (issuer sequence numbers, session, audit
 * head) and the audit record of the transaction are one store commit, so
 * the audit trail and the state never disagree after a power cut. */
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "tre/tre_internal.h"

#define STATE_ID "tre/state"
#define USERS_ID "tre/users"

const char *omc_tre_state_name(omc_tre_state s)
{
	switch (s) {
	case OMC_TRE_PRISTINE:
		return "pristine";
	case OMC_TRE_PROVISIONED:
		return "provisioned";
	case OMC_TRE_LOCKDOWN:
		return "lockdown";
	}
	return "unknown";
}

int64_t omc_tre_now(const omc_tre *t)
{
	return t->now ? t->now(t->now_arg) : (int64_t)time(NULL);
}

/* --- crypto helpers --------------------------------------------------------------- */

omc_err omc_tre_hkdf(uint8_t out[32], const uint8_t ikm[32], const char *info)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	OMC_ENSURE(kdf != NULL, OMC_ERR_CRYPTO);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	OMC_ENSURE(ctx != NULL, OMC_ERR_NOMEM);
	OSSL_PARAM p[4];
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, 32);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info));
	p[3] = OSSL_PARAM_construct_end();
	int ok = EVP_KDF_derive(ctx, out, 32, p);
	EVP_KDF_CTX_free(ctx);
	OMC_ENSURE(ok == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

omc_err omc_tre_seal(uint8_t **out, size_t *out_len, const uint8_t key[32], const char magic[8], const uint8_t *pt,
		     size_t len)
{
	OMC_ENSURE(len < (1u << 24), OMC_ERR_TOO_LARGE);
	size_t n = 8 + 12 + len + 16;
	uint8_t *b = omc_alloc(n);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	memcpy(b, magic, 8);
	omc_err e = omc_rand_bytes(b + 8, 12);
	if (e == OMC_OK)
		e = omc_aead_seal(b + 20, b + 20 + len, key, b + 8, b, 8, pt, len);
	if (e != OMC_OK) {
		omc_free(b);
		return e;
	}
	*out = b;
	*out_len = n;
	return OMC_OK;
}

omc_err omc_tre_unseal(uint8_t **pt, size_t *len, const uint8_t key[32], const char magic[8], const uint8_t *in,
		       size_t in_len)
{
	OMC_ENSURE(in_len >= 36 && !memcmp(in, magic, 8), OMC_ERR_CORRUPT);
	size_t n = in_len - 36;
	uint8_t *b = omc_alloc(n + 1);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	omc_err e = omc_aead_open(b, key, in + 8, in, 8, in + 20, n, in + 20 + n);
	if (e != OMC_OK) {
		omc_free(b);
		OMC_BAIL(OMC_ERR_CORRUPT);
	}
	b[n] = 0;
	*pt = b;
	*len = n;
	return OMC_OK;
}

omc_err omc_tre_write_file(omc_store_io *io, const char *path, const uint8_t *data, size_t len)
{
	char tmp[256];
	OMC_ENSURE(snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp, OMC_ERR_BAD_ARG);
	(void)io->unlink(io->ctx, tmp);
	OMC_TRY(io->pwrite(io->ctx, tmp, 0, data, len));
	OMC_TRY(io->sync(io->ctx, tmp));
	OMC_TRY(io->rename(io->ctx, tmp, path));
	const char *slash = strrchr(path, '/');
	char dir[256] = "";
	if (slash) {
		size_t dl = (size_t)(slash - path);
		OMC_ENSURE(dl < sizeof dir, OMC_ERR_BAD_ARG);
		memcpy(dir, path, dl);
		dir[dl] = 0;
	}
	return io->sync_dir(io->ctx, dir);
}

/* --- JSON helpers ----------------------------------------------------------------- */

omc_err omc_tre_json_str(char *dst, size_t cap, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	OMC_ENSURE(json_is_string(v) && strlen(json_string_value(v)) < cap, OMC_ERR_BAD_FORMAT);
	memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
	return OMC_OK;
}

omc_err omc_tre_json_u64(uint64_t *out, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	OMC_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, OMC_ERR_BAD_FORMAT);
	*out = (uint64_t)json_integer_value(v);
	return OMC_OK;
}

static omc_err head_from_json(omc_audit_head *h, const json_t *o)
{
	OMC_ENSURE(json_is_object(o), OMC_ERR_BAD_FORMAT);
	OMC_TRY(omc_tre_json_u64(&h->count, o, "count"));
	const json_t *hv = json_object_get(o, "hash");
	OMC_ENSURE(json_is_string(hv) && strlen(json_string_value(hv)) == 64, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(h->hash, 32, json_string_value(hv), 64) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static json_t *head_to_json(const omc_audit_head *h)
{
	char hex[65];
	if (omc_hex_encode(hex, sizeof hex, h->hash, 32) != OMC_OK)
		return NULL;
	return json_pack("{s:I,s:s}", "count", (json_int_t)h->count, "hash", hex);
}

/* --- the TRE state object ------------------------------------------------------------ */

static void tail_clear(omc_tre *t)
{
	for (size_t i = 0; i < t->n_tail; i++)
		omc_free(t->audit_tail[i]);
	t->n_tail = 0;
}

static void session_clear(omc_tre *t)
{
	omc_free(t->session_key);
	t->session_key = NULL;
	t->session = false;
	omc_memzero(t->session_nonce, sizeof t->session_nonce);
	t->session_nonce_len = 0;
}

static omc_err state_load(omc_tre *t)
{
	uint8_t *buf;
	size_t len;
	OMC_TRY(omc_store_get(t->store, STATE_ID, &buf, &len));
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	omc_free(buf);
	OMC_ENSURE(o != NULL, OMC_ERR_CORRUPT);
	omc_err e = OMC_OK;
	const json_t *v;
	if (omc_tre_json_u64(&t->boot_count, o, "boot_count") != OMC_OK ||
	    head_from_json(&t->audit_head, json_object_get(o, "audit")) != OMC_OK ||
	    head_from_json(&t->audit_file, json_object_get(o, "audit_file")) != OMC_OK) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	/* The committed length of audit.log: bytes past it are a flush whose
	 * commit did not land (torn or whole), and the tail still holds them. */
	if (json_object_get(o, "audit_file_len")) {
		if (omc_tre_json_u64(&t->audit_file_len, o, "audit_file_len") != OMC_OK) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
		t->audit_len_known = true;
	}
	if (json_object_get(o, "pcid_sqn") && omc_tre_json_u64(&t->pcid_sqn, o, "pcid_sqn") != OMC_OK) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	if (json_object_get(o, "lockdown_epoch")) {
		if (omc_tre_json_u64(&t->lockdown_epoch, o, "lockdown_epoch") != OMC_OK) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
		t->lockdown_epoch_set = true;
	}
	t->trial = false;
	t->n_trial_from = 0;
	v = json_object_get(o, "trial");
	if (v) {
		const json_t *from = json_object_get(v, "from");
		if (!json_is_object(v) || omc_tre_json_str(t->trial_to, sizeof t->trial_to, v, "to") != OMC_OK ||
		    omc_tre_json_u64(&t->trial_seq, v, "seq") != OMC_OK || !json_is_array(from) ||
		    json_array_size(from) > OMC_TRE_TRIAL_MAX) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
		for (size_t i = 0; i < json_array_size(from); i++) {
			const char *id = json_string_value(json_array_get(from, i));
			if (!id || strlen(id) >= sizeof t->trial_from[0]) {
				e = OMC_ERR_CORRUPT;
				goto out;
			}
			memcpy(t->trial_from[i], id, strlen(id) + 1);
			t->n_trial_from++;
		}
		t->trial = true;
	}
	if (omc_tre_update_state_from_json(t, o) != OMC_OK) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	v = json_object_get(o, "lockdown");
	t->lockdown = json_is_true(v);
	if (omc_tre_json_str(t->lockdown_reason, sizeof t->lockdown_reason, o, "lockdown_reason") != OMC_OK) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	v = json_object_get(o, "issuers");
	t->n_issuers = 0;
	if (!json_is_array(v) || json_array_size(v) > OMC_TRE_MAX_ISSUERS) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *it = json_array_get(v, i);
		omc_tre_issuer *is = &t->issuers[t->n_issuers++];
		if (omc_tre_json_str(is->name, sizeof is->name, it, "name") != OMC_OK ||
		    omc_tre_json_u64(&is->seq, it, "seq") != OMC_OK) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
	}
	v = json_object_get(o, "audit_tail");
	if (!json_is_array(v) || json_array_size(v) > OMC_TRE_AUDIT_TAIL_MAX + 1) {
		e = OMC_ERR_CORRUPT;
		goto out;
	}
	tail_clear(t);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *l = json_array_get(v, i);
		if (!json_is_string(l)) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
		size_t n = strlen(json_string_value(l));
		char *c = omc_alloc(n + 1);
		if (!c) {
			e = OMC_ERR_NOMEM;
			goto out;
		}
		memcpy(c, json_string_value(l), n + 1);
		t->audit_tail[t->n_tail++] = c;
	}
	session_clear(t);
	v = json_object_get(o, "session");
	if (json_is_object(v)) {
		const json_t *nv = json_object_get(v, "nonce"), *kv = json_object_get(v, "key");
		uint64_t created = 0;
		size_t nl = json_is_string(nv) ? strlen(json_string_value(nv)) : 0;
		if (!json_is_string(kv) || nl < 16 || nl > 128 || nl % 2 || omc_tre_json_u64(&created, v, "created") != OMC_OK ||
		    omc_hex_decode(t->session_nonce, nl / 2, json_string_value(nv), nl) != OMC_OK) {
			e = OMC_ERR_CORRUPT;
			goto out;
		}
		t->session_nonce_len = nl / 2;
		t->session_created = (int64_t)created;
		size_t kl = strlen(json_string_value(kv));
		t->session_key = omc_alloc(kl + 1);
		if (!t->session_key) {
			e = OMC_ERR_NOMEM;
			goto out;
		}
		memcpy(t->session_key, json_string_value(kv), kl + 1);
		t->session = true;
	}
out:
	json_decref(o);
	return e;
}

/* The state as JSON, with the audit tail given (it changes in a commit). */
static omc_err state_dump(const omc_tre *t, char *const *tail, size_t n_tail, const omc_audit_head *head,
			  const omc_audit_head *file_head, char **out, size_t *len)
{
	json_t *o = json_object(), *iss = json_array(), *tl = json_array();
	omc_err e = OMC_ERR_NOMEM;
	if (!o || !iss || !tl)
		goto out;
	for (size_t i = 0; i < t->n_issuers; i++)
		if (json_array_append_new(iss, json_pack("{s:s,s:I}", "name", t->issuers[i].name, "seq",
							 (json_int_t)t->issuers[i].seq)) != 0)
			goto out;
	for (size_t i = 0; i < n_tail; i++)
		if (json_array_append_new(tl, json_string(tail[i])) != 0)
			goto out;
	if (json_object_set_new(o, "version", json_integer(1)) || json_object_set_new(o, "boot_count", json_integer((json_int_t)t->boot_count)) ||
	    json_object_set_new(o, "lockdown", json_boolean(t->lockdown)) ||
	    json_object_set_new(o, "lockdown_reason", json_string(t->lockdown_reason)) ||
	    json_object_set(o, "issuers", iss) || json_object_set(o, "audit_tail", tl) ||
	    json_object_set_new(o, "audit", head_to_json(head)) ||
	    json_object_set_new(o, "audit_file", head_to_json(file_head)) ||
	    json_object_set_new(o, "audit_file_len", json_integer((json_int_t)t->audit_file_len)) ||
	    json_object_set_new(o, "pcid_sqn", json_integer((json_int_t)t->pcid_sqn)) ||
	    (t->lockdown_epoch_set &&
	     json_object_set_new(o, "lockdown_epoch", json_integer((json_int_t)t->lockdown_epoch))) ||
	    omc_tre_update_state_to_json(t, o) != OMC_OK)
		goto out;
	if (t->trial) {
		json_t *from = json_array();
		for (size_t i = 0; from && i < t->n_trial_from; i++)
			if (json_array_append_new(from, json_string(t->trial_from[i]))) {
				json_decref(from);
				from = NULL;
			}
		if (!from || json_object_set_new(o, "trial", json_pack("{s:s,s:I,s:o}", "to", t->trial_to, "seq",
									(json_int_t)t->trial_seq, "from", from)))
			goto out;
	}
	if (t->session) {
		char nh[129];
		if (omc_hex_encode(nh, sizeof nh, t->session_nonce, t->session_nonce_len) != OMC_OK ||
		    json_object_set_new(o, "session", json_pack("{s:s,s:s,s:I}", "nonce", nh, "key", t->session_key,
								 "created", (json_int_t)t->session_created)))
			goto out;
	}
	*out = omc_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (*out) {
		*len = strlen(*out);
		e = OMC_OK;
	}
out:
	json_decref(iss);
	json_decref(tl);
	json_decref(o);
	return e;
}

/* --- transactions ------------------------------------------------------------------- */

void omc_tre_txn_init(omc_tre_txn *x)
{
	memset(x, 0, sizeof *x);
}

void omc_tre_txn_free(omc_tre_txn *x)
{
	for (size_t i = 0; i < x->n; i++)
		omc_free(x->bufs[i]);
	omc_memzero(x, sizeof *x);
}

omc_err omc_tre_txn_put(omc_tre_txn *x, const char *id, char *buf, size_t len)
{
	if (x->n >= OMC_ARRAY_LEN(x->ops) || strlen(id) > OMC_STORE_ID_MAX) {
		omc_free(buf);
		OMC_BAIL(OMC_ERR_EXHAUSTED);
	}
	size_t i = x->n++;
	memcpy(x->ids[i], id, strlen(id) + 1);
	x->bufs[i] = buf;
	x->ops[i] = (omc_store_op){.id = x->ids[i], .data = (const uint8_t *)buf, .len = len, .del = false};
	return OMC_OK;
}

omc_err omc_tre_txn_put_mcim(omc_tre_txn *x, const omc_mcim *m)
{
	char id[OMC_STORE_ID_MAX + 1], *buf;
	size_t len;
	OMC_TRY(omc_mcim_object_id(id, sizeof id, m->owner, m->id));
	OMC_TRY(omc_mcim_to_json(&buf, &len, m));
	return omc_tre_txn_put(x, id, buf, len);
}

/* Append the given tail lines to audit.log and sync it. */
static omc_err audit_flush(omc_tre *t, char *const *lines, size_t n, uint64_t *new_len)
{
	uint64_t off = t->audit_file_len;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);
		OMC_TRY(t->io->pwrite(t->io->ctx, "audit.log", off, (const uint8_t *)lines[i], l));
		off += l;
	}
	OMC_TRY(t->io->sync(t->io->ctx, "audit.log"));
	/* The first flush creates the file: its name is durable only once the
	 * directory is synced, and the state committed next counts on it. */
	if (t->audit_file_len == 0)
		OMC_TRY(t->io->sync_dir(t->io->ctx, ""));
	*new_len = off;
	return OMC_OK;
}

omc_err omc_tre_commit(omc_tre *t, omc_tre_txn *x, const omc_audit_event *ev)
{
	OMC_ENSURE(t->store != NULL, OMC_ERR_LOCKDOWN);
	OMC_ENSURE(!t->readonly, OMC_ERR_BAD_STATE);
	omc_audit_head head = t->audit_head;
	char *line = NULL;
	size_t line_len = 0;
	if (ev)
		OMC_TRY(omc_audit_record(&line, &line_len, &head, t->k_audit, ev));

	/* Too many records waiting in the store: move them to audit.log first
	 * (one sync; a crash after it leaves duplicates that open reconciles). */
	if (t->n_tail >= OMC_TRE_AUDIT_TAIL_MAX) {
		uint64_t new_len;
		omc_err fe = audit_flush(t, t->audit_tail, t->n_tail, &new_len);
		if (fe != OMC_OK) {
			omc_free(line);
			return fe;
		}
		t->audit_file_len = new_len;
		t->audit_file = t->audit_head;
		tail_clear(t);
	}
	char *tail[OMC_TRE_AUDIT_TAIL_MAX + 1];
	size_t n_tail = t->n_tail;
	memcpy(tail, t->audit_tail, n_tail * sizeof tail[0]);
	if (line)
		tail[n_tail++] = line;

	char *state;
	size_t state_len;
	omc_err e = state_dump(t, tail, n_tail, &head, &t->audit_file, &state, &state_len);
	if (e != OMC_OK) {
		omc_free(line);
		return e;
	}
	omc_tre_txn own;
	if (!x) {
		omc_tre_txn_init(&own);
		x = &own;
	}
	e = omc_tre_txn_put(x, STATE_ID, state, state_len);
	if (e == OMC_OK)
		e = omc_store_commit(t->store, x->ops, x->n, x->flags);
	if (x == &own)
		omc_tre_txn_free(&own);
	if (e != OMC_OK) {
		omc_free(line);
		return e;
	}
	if (line)
		t->audit_tail[t->n_tail++] = line;
	t->audit_head = head;
	return OMC_OK;
}

void omc_tre_audit(omc_tre *t, const char *event, const char *actor, const char *subject, const char *result,
		   const char *detail)
{
	omc_audit_event ev = {.time = omc_tre_now(t),
			      .event = event,
			      .actor = actor,
			      .subject = subject,
			      .result = result,
			      .detail = detail ? detail : ""};
	if (t->store && !t->readonly && omc_tre_commit(t, NULL, &ev) != OMC_OK)
		OMC_LOG_WRN("tre", "could not record audit event %s", event);
}

/* --- lockdown ------------------------------------------------------------------------ */

omc_err omc_tre_enter_lockdown(omc_tre *t, const char *reason)
{
	/* Two durable marks, each enough on its own: the state (committed
	 * first, with the reason and the audit record) and the sticky flag in
	 * the anti-rollback device (set whatever the commit did, so a store
	 * that cannot be written does not stop it). A power cut between the
	 * two leaves the state's mark, and open sets the flag from it. Without
	 * a readable anti-rollback device the lockdown holds in memory and the
	 * next open finds the same damage again. */
	omc_err e = OMC_OK;
	bool was = t->lockdown;
	t->lockdown = true;
	/* The episode's epoch, which a recovery authorisation names: taken once,
	 * when the lockdown begins, and kept however many refusals and further
	 * tampers commit meanwhile (each moves the counter). */
	uint64_t ctr;
	uint32_t fl;
	if (!t->lockdown_epoch_set && t->ard && t->ard->read(t->ard->ctx, &ctr, &fl) == OMC_OK) {
		t->lockdown_epoch = ctr;
		t->lockdown_epoch_set = true;
	}
	if (!was || !t->lockdown_reason[0])
		snprintf(t->lockdown_reason, sizeof t->lockdown_reason, "%s", reason);
	OMC_LOG_WRN("tre", "lockdown: %s", reason);
	if (t->store && !t->readonly) {
		omc_audit_event ev = {.time = omc_tre_now(t),
				      .event = "lockdown",
				      .actor = "tre",
				      .subject = "tre",
				      .result = "ok",
				      .detail = reason};
		e = omc_tre_commit(t, NULL, &ev);
	}
	omc_err fe = t->ard ? t->ard->set_flags(t->ard->ctx, OMC_STORE_FLAG_LOCKDOWN) : OMC_ERR_CORRUPT;
	if (e == OMC_OK)
		e = fe;
	return e;
}

omc_err omc_tre_tamper(omc_tre *t, const char *reason)
{
	OMC_ENSURE(t != NULL && reason != NULL, OMC_ERR_BAD_ARG);
	/* The reason goes into the state and the audit log, which hold
	 * printable ASCII only: anything else (a sensor's raw bytes, UTF-8)
	 * becomes '?', so that no input can keep the lockdown from being
	 * recorded. */
	char r[100];
	snprintf(r, sizeof r, "tamper: %s", reason);
	for (char *c = r; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	return omc_tre_enter_lockdown(t, r);
}

/* Lockdown where the caller has no way to report a failure: the in-memory
 * flag is set whatever happens, and a flag that could not be persisted is
 * logged (the next open finds the same damage and locks down again). */
static void lockdown_now(omc_tre *t, const char *reason)
{
	omc_err e = omc_tre_enter_lockdown(t, reason);
	if (e != OMC_OK)
		OMC_LOG_ERR("tre", "lockdown not persisted: %s", omc_err_name(e));
}

omc_tre_state omc_tre_get_state(const omc_tre *t)
{
	if (t->lockdown || !t->store)
		return OMC_TRE_LOCKDOWN;
	for (size_t i = 0; i < t->n_reg; i++)
		if (t->reg[i].state != OMC_MCIM_DELETED && !strcmp(t->reg[i].role, "operational"))
			return OMC_TRE_PROVISIONED;
	return OMC_TRE_PRISTINE;
}

/* --- registry ------------------------------------------------------------------------ */

struct reg_walk {
	omc_tre *t;
	omc_err err;
};

/* Whether owner/id is the factory PCID the sealed identity names. */
static bool is_factory_pcid(const omc_tre *t, const char *owner, const char *id)
{
	if (!t->factory_pcid)
		return false;
	json_error_t je;
	json_t *p = omc_json_loadb(t->factory_pcid, t->factory_pcid_len, 0, &je);
	const char *po = json_string_value(json_object_get(p, "owner")), *pi = json_string_value(json_object_get(p, "id"));
	bool same = po && pi && !strcmp(po, owner) && !strcmp(pi, id);
	json_decref(p); /* freed through omc_free: the PCID's secrets are wiped */
	return same;
}

static void reg_add(void *arg, const char *id)
{
	struct reg_walk *w = arg;
	omc_tre *t = w->t;
	if (w->err != OMC_OK || t->n_reg >= OMC_TRE_MAX_MCIMS)
		return;
	uint8_t *buf;
	size_t len;
	omc_mcim m;
	omc_err e = omc_store_get(t->store, id, &buf, &len);
	if (e == OMC_OK) {
		e = omc_mcim_parse(&m, buf, len);
		omc_free(buf);
	}
	if (e == OMC_ERR_NOMEM) {
		w->err = e; /* says nothing about the record */
		return;
	}
	if (e != OMC_OK) {
		/* Unreadable (MGT-2): a read-write open has already replaced it by
		 * a blocked record; a read-only one shows it blocked all the same,
		 * named by its object id "mcim/OWNER/ID". */
		const char *owner = id + 5, *slash = strchr(owner, '/');
		if (strncmp(id, "mcim/", 5) != 0 || !slash)
			return;
		omc_tre_mcim_info *r = &t->reg[t->n_reg++];
		memset(r, 0, sizeof *r);
		snprintf(r->owner, sizeof r->owner, "%.*s", (int)(slash - owner), owner);
		snprintf(r->id, sizeof r->id, "%s", slash + 1);
		r->role = omc_mcim_role_name(is_factory_pcid(t, r->owner, r->id) ? OMC_MCIM_ROLE_BOOTSTRAP
										    : OMC_MCIM_ROLE_OPERATIONAL);
		r->type = "unknown";
		r->alg = "unknown";
		r->state = OMC_MCIM_BLOCKED;
		return;
	}
	omc_tre_mcim_info *r = &t->reg[t->n_reg++];
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", m.id);
	snprintf(r->owner, sizeof r->owner, "%s", m.owner);
	snprintf(r->imsi, sizeof r->imsi, "%s", m.imsi);
	r->role = omc_mcim_role_name(m.role);
	r->type = omc_mcim_type_name(m.type);
	r->alg = omc_aka_alg_name(m.cred.alg);
	r->state = m.state;
	r->version = m.version;
	r->expires = m.expires;
	r->data_only = m.data_only;
	r->volume_cap = m.volume_cap;
	snprintf(r->impi, sizeof r->impi, "%s", m.impi);
	snprintf(r->impu, sizeof r->impu, "%s", m.impu);
	omc_mcim_wipe(&m);
}

omc_err omc_tre_reload_registry(omc_tre *t)
{
	t->n_reg = 0;
	if (!t->store)
		return OMC_OK;
	struct reg_walk w = {t, OMC_OK};
	OMC_TRY(omc_store_list(t->store, "mcim/", reg_add, &w));
	return w.err;
}

const omc_tre_mcim_info *omc_tre_reg_find(const omc_tre *t, const char *id)
{
	for (size_t i = 0; i < t->n_reg; i++)
		if (!strcmp(t->reg[i].id, id))
			return &t->reg[i];
	return NULL;
}

omc_err omc_tre_load_mcim(omc_tre *t, const char *id, omc_mcim *m)
{
	OMC_ENSURE(t->store != NULL, OMC_ERR_LOCKDOWN);
	const omc_tre_mcim_info *r = omc_tre_reg_find(t, id);
	OMC_ENSURE(r != NULL, OMC_ERR_NOT_FOUND);
	char oid[OMC_STORE_ID_MAX + 1];
	OMC_TRY(omc_mcim_object_id(oid, sizeof oid, r->owner, r->id));
	uint8_t *buf;
	size_t len;
	OMC_TRY(omc_store_get(t->store, oid, &buf, &len));
	omc_err e = omc_mcim_parse(m, buf, len);
	omc_free(buf);
	OMC_ENSURE(e == OMC_OK, OMC_ERR_CORRUPT);
	return OMC_OK;
}

omc_err omc_tre_registry(omc_tre *t, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	OMC_ENSURE(t && n && (out || cap == 0), OMC_ERR_BAD_ARG);
	*n = t->n_reg;
	OMC_ENSURE(t->n_reg <= cap, OMC_ERR_NO_SPACE);
	memcpy(out, t->reg, t->n_reg * sizeof *out);
	return OMC_OK;
}

omc_err omc_tre_registry_digest(omc_tre *t, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	OMC_ENSURE(c != NULL, OMC_ERR_NOMEM);
	int ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i < t->n_reg; i++) {
		char line[256];
		int l = snprintf(line, sizeof line, "%s|%s|%s|%s|%s|%u\n", t->reg[i].id, t->reg[i].owner, t->reg[i].role,
				 t->reg[i].imsi, omc_mcim_state_name(t->reg[i].state), t->reg[i].version);
		ok &= EVP_DigestUpdate(c, line, (size_t)l);
	}
	ok &= EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	OMC_ENSURE(ok == 1, OMC_ERR_CRYPTO);
	return OMC_OK;
}

/* --- issuers ------------------------------------------------------------------------- */

uint64_t omc_tre_issuer_seq(const omc_tre *t, const char *iss)
{
	for (size_t i = 0; i < t->n_issuers; i++)
		if (!strcmp(t->issuers[i].name, iss))
			return t->issuers[i].seq;
	return 0;
}

omc_err omc_tre_issuer_set(omc_tre *t, const char *iss, uint64_t seq)
{
	OMC_ENSURE(strlen(iss) <= OMC_MCIM_OWNER_MAX, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < t->n_issuers; i++)
		if (!strcmp(t->issuers[i].name, iss)) {
			t->issuers[i].seq = seq;
			return OMC_OK;
		}
	OMC_ENSURE(t->n_issuers < OMC_TRE_MAX_ISSUERS, OMC_ERR_EXHAUSTED);
	omc_tre_issuer *is = &t->issuers[t->n_issuers++];
	snprintf(is->name, sizeof is->name, "%s", iss);
	is->seq = seq;
	return OMC_OK;
}

const omc_cert *const *omc_tre_anchors(const omc_tre *t, omc_anchor_role r, size_t *n)
{
	*n = t->n_anchors[r];
	return (const omc_cert *const *)t->anchors[r];
}

omc_err omc_tre_sign(omc_tre *t, const char *typ, const void *json_obj, char **jws)
{
	char *payload = omc_json_dumps(json_obj, JSON_COMPACT | JSON_SORT_KEYS);
	OMC_ENSURE(payload != NULL, OMC_ERR_NOMEM);
	omc_err e = omc_jws_sign(jws, (const uint8_t *)payload, strlen(payload), t->att_key,
				 (const omc_cert *const *)t->chain, t->n_chain, typ);
	omc_free(payload);
	return e;
}

/* --- identity ------------------------------------------------------------------------- */

static omc_err certs_from_json(omc_cert **dst, size_t cap, size_t *n, const json_t *arr)
{
	*n = 0;
	OMC_ENSURE(json_is_array(arr) && json_array_size(arr) <= cap, OMC_ERR_CORRUPT);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *p = json_array_get(arr, i);
		OMC_ENSURE(json_is_string(p), OMC_ERR_CORRUPT);
		omc_err e = omc_cert_from_pem(&dst[i], json_string_value(p), strlen(json_string_value(p)));
		OMC_ENSURE(e == OMC_OK, omc_nomem_or(e, OMC_ERR_CORRUPT));
		(*n)++;
	}
	return OMC_OK;
}

static const char *const anchor_keys[OMC_ANCHOR_ROLES] = {"m2mes", "tre_vendor", "operator", "ro", "pva"};

/* The attestation key of the identity: omc_key_seal under K_keys in
 * base64url, or (identities made before) an encrypted PKCS#8 PEM. */
static omc_err att_key_open(omc_tre *t, const char *s)
{
	size_t n = strlen(s);
	if (strncmp(s, "-----BEGIN", 10) == 0)
		return omc_key_from_pem(&t->att_key, s, n, t->k_keys, 32);
	uint8_t sealed[192];
	size_t sl = 0;
	OMC_ENSURE(omc_b64_decode(sealed, sizeof sealed, &sl, s, n, OMC_B64_URL) == OMC_OK, OMC_ERR_CORRUPT);
	return omc_key_unseal(&t->att_key, sealed, sl, t->k_keys);
}

static omc_err identity_load(omc_tre *t)
{
	uint8_t *sealed, *pt;
	size_t sl, pl;
	OMC_TRY(t->io->read(t->io->ctx, "identity.sealed", &sealed, &sl));
	omc_err e = omc_tre_unseal(&pt, &pl, t->k_ident, OMC_TRE_IDENTITY_MAGIC, sealed, sl);
	omc_free(sealed);
	OMC_TRY(e);
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)pt, pl, JSON_REJECT_DUPLICATES, &je);
	omc_free(pt);
	OMC_ENSURE(o != NULL, OMC_ERR_CORRUPT);
	e = OMC_ERR_CORRUPT;
	const json_t *k = json_object_get(o, "att_key"), *a = json_object_get(o, "anchors"), *p;
	if (omc_tre_json_str(t->tre_id, sizeof t->tre_id, o, "tre_id") != OMC_OK ||
	    omc_tre_json_str(t->platform_id, sizeof t->platform_id, o, "platform_id") != OMC_OK ||
	    omc_tre_json_str(t->model, sizeof t->model, o, "model") != OMC_OK || !json_is_string(k) || !json_is_object(a))
		goto out;
	omc_err f = att_key_open(t, json_string_value(k));
	if (f != OMC_OK) {
		e = omc_nomem_or(f, e);
		goto out;
	}
	f = certs_from_json(t->chain, OMC_ARRAY_LEN(t->chain), &t->n_chain, json_object_get(o, "chain"));
	if (f != OMC_OK || t->n_chain == 0) {
		e = omc_nomem_or(f, e);
		goto out;
	}
	for (int r = 0; r < OMC_ANCHOR_ROLES; r++) {
		f = certs_from_json(t->anchors[r], OMC_TRE_MAX_ANCHORS, &t->n_anchors[r],
				    json_object_get(a, anchor_keys[r]));
		if (f != OMC_OK) {
			e = omc_nomem_or(f, e);
			goto out;
		}
	}
	p = json_object_get(o, "pcid");
	if (json_is_object(p)) {
		t->factory_pcid = omc_json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		if (!t->factory_pcid) {
			e = OMC_ERR_NOMEM;
			goto out;
		}
		t->factory_pcid_len = strlen(t->factory_pcid);
	}
	e = OMC_OK;
out:
	json_decref(o);
	return e;
}

/* --- users ----------------------------------------------------------------------------- */

static omc_err users_load(omc_tre *t)
{
	uint8_t *buf;
	size_t len;
	omc_users_init(&t->users);
	omc_err e = omc_store_get(t->store, USERS_ID, &buf, &len);
	if (e == OMC_ERR_NOT_FOUND)
		return OMC_OK;
	OMC_TRY(e);
	e = omc_users_from_json(&t->users, (const char *)buf, len);
	omc_free(buf);
	return e;
}

static omc_err users_commit(omc_tre *t, const omc_users *next, const omc_audit_event *ev)
{
	char *json;
	size_t len;
	OMC_TRY(omc_users_to_json(&json, &len, next));
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	omc_err e = omc_tre_txn_put(&x, USERS_ID, json, len);
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, ev);
	omc_tre_txn_free(&x);
	if (e == OMC_OK && next != &t->users)
		t->users = *next;
	return e;
}

/* The audit actor of a user-management change: "user:NAME" of the admin
 * who made it, or "tre" for the first admin (nobody to vouch for it). */
static const char *admin_actor(char *buf, size_t cap, const omc_tre_caller *admin)
{
	if (!admin)
		return "tre";
	snprintf(buf, cap, "user:%.32s", admin->name);
	return buf;
}

static bool is_admin(const omc_tre *t, const omc_tre_caller *c)
{
	if (!c || c->kind != OMC_ACTOR_USER)
		return false;
	const omc_user *u = omc_users_find(&t->users, c->name);
	return u && u->role == OMC_USER_ROLE_ADMIN && !u->blocked;
}

omc_err omc_tre_user_add(omc_tre *t, const omc_tre_caller *admin, const char *name, const char *role,
			 const char *pin, size_t pin_len)
{
	OMC_ENSURE(t && name && role && pin, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	omc_user_role r;
	OMC_TRY(omc_user_role_parse(&r, role));
	if (t->users.n == 0)
		OMC_ENSURE(r == OMC_USER_ROLE_ADMIN, OMC_ERR_DENIED);
	else if (!is_admin(t, admin)) {
		omc_tre_audit(t, "user_add", "other", "user", "refused", "not an admin");
		OMC_BAIL(OMC_ERR_DENIED);
	}
	omc_users next = t->users;
	omc_err e = omc_users_add(&next, name, r, pin, pin_len);
	if (e == OMC_OK) {
		char subj[48];
		snprintf(subj, sizeof subj, "user:%s", name);
		char actor[48];
		omc_audit_event ev = {.time = omc_tre_now(t),
				      .event = "user_add",
				      .actor = admin_actor(actor, sizeof actor, admin),
				      .subject = subj,
				      .result = "ok",
				      .detail = role};
		e = users_commit(t, &next, &ev);
	}
	omc_users_wipe(&next);
	return e;
}

omc_err omc_tre_user_del(omc_tre *t, const omc_tre_caller *admin, const char *name)
{
	OMC_ENSURE(t && name, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	OMC_ENSURE(is_admin(t, admin), OMC_ERR_DENIED);
	omc_users next = t->users;
	omc_err e = omc_users_del(&next, name);
	if (e == OMC_OK) {
		char actor[48];
		omc_audit_event ev = {.time = omc_tre_now(t), .event = "user_del",
				      .actor = admin_actor(actor, sizeof actor, admin), .subject = name,
				      .result = "ok", .detail = ""};
		e = users_commit(t, &next, &ev);
	}
	omc_users_wipe(&next);
	return e;
}

omc_err omc_tre_user_unblock(omc_tre *t, const omc_tre_caller *admin, const char *name)
{
	OMC_ENSURE(t && name, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	OMC_ENSURE(is_admin(t, admin), OMC_ERR_DENIED);
	omc_users next = t->users;
	omc_err e = omc_users_unblock(&next, name);
	if (e == OMC_OK) {
		char actor[48];
		omc_audit_event ev = {.time = omc_tre_now(t), .event = "user_unblock",
				      .actor = admin_actor(actor, sizeof actor, admin), .subject = name,
				      .result = "ok", .detail = ""};
		e = users_commit(t, &next, &ev);
	}
	omc_users_wipe(&next);
	return e;
}

omc_err omc_tre_user_auth(omc_tre *t, const char *name, const char *pin, size_t pin_len, omc_tre_caller *out)
{
	OMC_ENSURE(t && name && pin && out, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!t->lockdown && t->store, OMC_ERR_LOCKDOWN);
	memset(out, 0, sizeof *out);
	omc_users next = t->users;
	const omc_user *who = NULL;
	omc_err e = omc_users_auth(&next, name, pin, pin_len, &who);
	char subj[48];
	snprintf(subj, sizeof subj, "user:%.32s", name);
	omc_audit_event ev = {.time = omc_tre_now(t),
			      .event = "user_auth",
			      .actor = "user",
			      .subject = subj,
			      .result = e == OMC_OK ? "ok" : "failed",
			      .detail = omc_err_name(e)};
	/* Every attempt moves a counter: commit it before answering. */
	omc_err ce = users_commit(t, &next, &ev);
	if (e == OMC_OK && ce == OMC_OK) {
		out->kind = OMC_ACTOR_USER;
		snprintf(out->name, sizeof out->name, "%s", who->name);
	}
	bool lock = omc_users_lockdown_due(&next);
	omc_users_wipe(&next);
	OMC_TRY(ce);
	if (e != OMC_OK && lock) {
		lockdown_now(t, "repeated failed user authentication");
		OMC_BAIL(OMC_ERR_LOCKDOWN);
	}
	return e;
}

omc_err omc_tre_user_list(omc_tre *t, omc_tre_user_info *out, size_t cap, size_t *n)
{
	OMC_ENSURE(t && n && (out || cap == 0), OMC_ERR_BAD_ARG);
	*n = t->users.n;
	OMC_ENSURE(t->users.n <= cap, OMC_ERR_NO_SPACE);
	for (size_t i = 0; i < t->users.n; i++) {
		snprintf(out[i].name, sizeof out[i].name, "%s", t->users.u[i].name);
		out[i].role = omc_user_role_name(t->users.u[i].role);
		out[i].failures = t->users.u[i].failures;
		out[i].blocked = t->users.u[i].blocked;
	}
	return OMC_OK;
}

/* --- audit --------------------------------------------------------------------------- */

/* audit.log (may be absent) followed by the tail records not yet in it. */
static omc_err audit_all(omc_tre *t, char **buf, size_t *len)
{
	uint8_t *file = NULL;
	size_t flen = 0;
	omc_err e = t->io->read(t->io->ctx, "audit.log", &file, &flen);
	if (e == OMC_ERR_NOT_FOUND) {
		file = NULL;
		flen = 0;
	} else {
		OMC_TRY(e);
	}
	if (flen > t->audit_file_len)
		flen = (size_t)t->audit_file_len; /* past it: not committed */
	omc_audit_head fh = {0};
	size_t bad;
	omc_err ve = omc_audit_verify(&fh, &bad, (const char *)file, flen, t->k_audit);
	if (ve == OMC_ERR_NOMEM) {
		/* no verdict: which tail records the file holds is unknown */
		omc_free(file);
		return ve;
	}
	size_t total = flen;
	for (size_t i = 0; i < t->n_tail; i++)
		total += strlen(t->audit_tail[i]);
	char *b = omc_alloc(total + 1);
	if (!b) {
		omc_free(file);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	if (flen)
		memcpy(b, file, flen);
	size_t off = flen;
	omc_free(file);
	/* Tail records the file already holds (a flush whose commit did not
	 * land) are skipped: the file's copy is the same record. */
	uint64_t first_tail = t->audit_head.count - t->n_tail + 1;
	for (size_t i = 0; i < t->n_tail; i++) {
		if (ve == OMC_OK && first_tail + i <= fh.count)
			continue;
		size_t l = strlen(t->audit_tail[i]);
		memcpy(b + off, t->audit_tail[i], l);
		off += l;
	}
	b[off] = 0;
	*buf = b;
	*len = off;
	return OMC_OK;
}

omc_err omc_tre_audit_export(omc_tre *t, char **buf, size_t *len)
{
	OMC_ENSURE(t && buf && len, OMC_ERR_BAD_ARG);
	return audit_all(t, buf, len);
}

omc_err omc_tre_audit_verify(omc_tre *t, uint64_t *count)
{
	OMC_ENSURE(t && count, OMC_ERR_BAD_ARG);
	char *buf;
	size_t len;
	OMC_TRY(audit_all(t, &buf, &len));
	omc_audit_head h = {0};
	size_t bad = 0;
	omc_err e = omc_audit_verify(&h, &bad, buf, len, t->k_audit);
	*count = e == OMC_OK ? h.count : (bad ? bad - 1 : 0);
	/* The log must hold everything the store's state says was committed. */
	if (e == OMC_OK && t->store)
		e = omc_audit_extends(buf, len, t->k_audit, &t->audit_head);
	omc_free(buf);
	if (e != OMC_OK)
		OMC_BAIL(OMC_ERR_TAMPERED);
	return OMC_OK;
}

omc_err omc_tre_audit_checkpoint(omc_tre *t, char **jws)
{
	OMC_ENSURE(t && jws, OMC_ERR_BAD_ARG);
	uint64_t n;
	OMC_TRY(omc_tre_audit_verify(t, &n));
	char hex[65];
	OMC_TRY(omc_hex_encode(hex, sizeof hex, t->audit_head.hash, 32));
	json_t *o = json_pack("{s:s,s:I,s:s,s:I}", "tre", t->tre_id, "count", (json_int_t)t->audit_head.count, "head",
			      hex, "iat", (json_int_t)omc_tre_now(t));
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = omc_tre_sign(t, "omc-audit-checkpoint+jwt", o, jws);
	json_decref(o);
	return e;
}

omc_err omc_audit_checkpoint_verify(const char *jws, size_t jws_len, const char *records, size_t records_len,
				    const omc_cert *const *anchors, size_t n_anchors, uint64_t *count)
{
	omc_proto_init();
	omc_jws_verified v;
	OMC_TRY(omc_jws_verify_x5c(&v, jws, jws_len, anchors, n_anchors, "omc-audit-checkpoint+jwt", 0));
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)v.payload, v.len, JSON_REJECT_DUPLICATES, &je);
	char cn[64];
	omc_err ce = omc_cert_subject_cn(cn, sizeof cn, v.leaf);
	omc_jws_verified_free(&v);
	OMC_ENSURE(o != NULL, OMC_ERR_BAD_FORMAT);
	/* The checkpoint's "tre" is the TRE whose certificate signed it. */
	const json_t *tre = json_object_get(o, "tre");
	if (ce != OMC_OK || !json_is_string(tre) || strcmp(json_string_value(tre), cn) != 0) {
		json_decref(o);
		OMC_BAIL(OMC_ERR_DENIED);
	}
	omc_audit_head want;
	omc_err e = omc_tre_json_u64(&want.count, o, "count");
	const json_t *h = json_object_get(o, "head");
	if (e == OMC_OK && (!json_is_string(h) || strlen(json_string_value(h)) != 64 ||
			    omc_hex_decode(want.hash, 32, json_string_value(h), 64) != OMC_OK))
		e = OMC_ERR_BAD_FORMAT;
	json_decref(o);
	OMC_TRY(e);
	/* Anyone's check: the hash chain only (the MACs need the TRE's key). */
	OMC_TRY(omc_audit_extends(records, records_len, NULL, &want));
	*count = want.count;
	return OMC_OK;
}

omc_err omc_tre_certificates(omc_tre *t, char **pem, size_t *len)
{
	OMC_ENSURE(t && pem && len, OMC_ERR_BAD_ARG);
	size_t total = 0;
	char *parts[4] = {0};
	size_t lens[4] = {0};
	omc_err e = OMC_OK;
	for (size_t i = 0; i < t->n_chain && e == OMC_OK; i++) {
		e = omc_cert_to_pem(&parts[i], &lens[i], t->chain[i]);
		total += lens[i];
	}
	char *b = e == OMC_OK ? omc_alloc(total + 1) : NULL;
	if (e == OMC_OK && !b)
		e = OMC_ERR_NOMEM;
	size_t off = 0;
	for (size_t i = 0; i < t->n_chain; i++) {
		if (b && parts[i]) {
			memcpy(b + off, parts[i], lens[i]);
			off += lens[i];
		}
		omc_free(parts[i]);
	}
	OMC_TRY(e);
	b[off] = 0;
	*pem = b;
	*len = off;
	return OMC_OK;
}

omc_err omc_tre_get_status(omc_tre *t, omc_tre_status *st)
{
	OMC_ENSURE(t && st, OMC_ERR_BAD_ARG);
	memset(st, 0, sizeof *st);
	st->state = omc_tre_get_state(t);
	snprintf(st->lockdown_reason, sizeof st->lockdown_reason, "%s", t->lockdown ? t->lockdown_reason : "");
	snprintf(st->tre_id, sizeof st->tre_id, "%s", t->tre_id);
	snprintf(st->platform_id, sizeof st->platform_id, "%s", t->platform_id);
	snprintf(st->model, sizeof st->model, "%s", t->model);
	st->generation = t->store ? omc_store_generation(t->store) : 0;
	st->boot_count = t->boot_count;
	st->platform_ok = t->platform_ok;
	st->store_ok = t->store != NULL;
	st->audit_count = t->audit_head.count;
	st->n_mcims = t->n_reg;
	st->switch_trial = t->trial;
	return OMC_OK;
}

/* --- open and close -------------------------------------------------------------------- */

struct bad_walk {
	char ids[OMC_TRE_MAX_MCIMS][OMC_STORE_ID_MAX + 1];
	size_t n;
	bool core; /* tre/state or tre/users damaged */
};

static void note_bad(void *arg, const char *id)
{
	struct bad_walk *w = arg;
	if (!strncmp(id, "mcim/", 5)) {
		if (w->n < OMC_TRE_MAX_MCIMS)
			snprintf(w->ids[w->n++], sizeof w->ids[0], "%s", id);
	} else {
		w->core = true;
	}
}

/* MGT-2: replace an unreadable MCIM record by a blocked one without
 * secrets (its owner and id survive in the object id; its role is
 * bootstrap if it is the factory PCID, so a damaged PCID does not make
 * the TRE look provisioned). */
static omc_err block_unreadable(const omc_tre *t, omc_tre_txn *x, const char *oid)
{
	omc_mcim m;
	memset(&m, 0, sizeof m);
	const char *owner = oid + 5, *slash = strchr(owner, '/');
	OMC_ENSURE(slash != NULL, OMC_ERR_CORRUPT);
	snprintf(m.owner, sizeof m.owner, "%.*s", (int)(slash - owner), owner);
	snprintf(m.id, sizeof m.id, "%s", slash + 1);
	m.role = is_factory_pcid(t, m.owner, m.id) ? OMC_MCIM_ROLE_BOOTSTRAP : OMC_MCIM_ROLE_OPERATIONAL;
	snprintf(m.imsi, sizeof m.imsi, "000000");
	snprintf(m.block_reason, sizeof m.block_reason, "integrity: record unreadable");
	m.cred.alg = OMC_AKA_ALG_MILENAGE;
	m.version = 1;
	m.state = OMC_MCIM_BLOCKED;
	OMC_TRY(omc_aka_sqn_ms_init(&m.sqn, OMC_AKA_IND_BITS_DEFAULT, 0, 0));
	return omc_tre_txn_put_mcim(x, &m);
}

/* Secure boot of the store's contents (MGT-2): every object against the
 * root, every MCIM record parsed. */
static omc_err check_records(omc_tre *t)
{
	struct bad_walk *w = omc_calloc(1, sizeof *w);
	OMC_ENSURE(w != NULL, OMC_ERR_NOMEM);
	size_t n_bad = 0;
	omc_err e = omc_store_verify(t->store, note_bad, w, &n_bad);
	if (e != OMC_OK || w->core) {
		omc_free(w);
		return e != OMC_OK ? e : OMC_ERR_CORRUPT;
	}
	if (w->n && !t->readonly) {
		omc_tre_txn x;
		omc_tre_txn_init(&x);
		for (size_t i = 0; i < w->n && e == OMC_OK; i++)
			e = block_unreadable(t, &x, w->ids[i]);
		char detail[128];
		snprintf(detail, sizeof detail, "%zu MCIM record(s) failed the integrity check", w->n);
		omc_audit_event ev = {.time = omc_tre_now(t), .event = "integrity", .actor = "tre", .subject = "mcim",
				      .result = "blocked", .detail = detail};
		if (e == OMC_OK)
			e = omc_tre_commit(t, &x, &ev);
		omc_tre_txn_free(&x);
	}
	omc_free(w);
	return e;
}

/* The TPM backend when the caller names a TCTI or the TRE's tpm.conf
 * does (one line, at most OMC_TPM_TCTI_MAX - 1 bytes). */
static omc_err backend_pick(omc_tre *t, const char *tcti)
{
	if (tcti) {
		t->use_tpm = true;
		return omc_tpm_cfg_init(&t->tpm, tcti, 0, 0);
	}
	uint8_t *f = NULL;
	size_t len = 0;
	omc_err e = t->io->read(t->io->ctx, OMC_TPM_CONF, &f, &len);
	if (e == OMC_ERR_NOT_FOUND)
		return OMC_OK;
	OMC_TRY(e);
	char line[OMC_TPM_TCTI_MAX];
	while (len && (f[len - 1] == '\n' || f[len - 1] == '\r'))
		len--;
	e = len >= 1 && len < sizeof line && !memchr(f, '\0', len) && !memchr(f, '\n', len) ? OMC_OK
											  : OMC_ERR_CORRUPT;
	if (e == OMC_OK) {
		memcpy(line, f, len);
		line[len] = '\0';
		t->use_tpm = true;
		e = omc_tpm_cfg_init(&t->tpm, line, 0, 0);
	}
	omc_free(f);
	return e;
}

/* The device root key: device.key (software), or unsealed by the TPM from
 * device.tpm (OMC_ERR_LOCKDOWN once a lockdown extended the PCR in this
 * boot: nothing of the TRE opens until the next reboot). */
static omc_err root_load(omc_tre *t)
{
	uint8_t *f = NULL;
	size_t len = 0;
	OMC_TRY(t->io->read(t->io->ctx, t->use_tpm ? OMC_TPM_FILE : "device.key", &f, &len));
	omc_err e = OMC_OK;
	if (t->use_tpm)
		e = omc_tpm_unseal(&t->tpm, t->drk, f, len);
	else if (len == 32)
		memcpy(t->drk, f, 32);
	else
		e = OMC_ERR_CORRUPT;
	omc_free(f);
	return e;
}

static omc_err open_store(omc_tre *t)
{
	uint8_t sk[32];
	OMC_DEFER_WIPE(sk);
	OMC_TRY(omc_tre_hkdf(sk, t->drk, OMC_TRE_LABEL_STORE));
	if (!t->ard) {
		OMC_ENSURE(omc_store_exists(t->store_io), OMC_ERR_NOT_FOUND);
		if (t->use_tpm)
			OMC_TRY(omc_tpm_ard_new(&t->ard, &t->tpm, false));
		else
			OMC_TRY(omc_store_ard_sw_new(&t->ard, t->store_io, sk, false));
		t->own_ard = true;
	}
	omc_store_opts so = {.io = t->store_io, .ard = t->ard, .create = false};
	return omc_store_open(&t->store, sk, &so);
}

omc_err omc_tre_open(omc_tre **out, const omc_tre_opts *o)
{
	OMC_ENSURE(out && o, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_proto_init();
	omc_tre *t = omc_calloc(1, sizeof *t);
	OMC_ENSURE(t != NULL, OMC_ERR_NOMEM);
	t->readonly = o->readonly;
	t->now = o->now;
	t->now_arg = o->now_arg;
	omc_users_init(&t->users);
	omc_err e = OMC_OK;
	if (o->io) {
		t->io = o->io;
	} else {
		OMC_ENSURE(o->dir, OMC_ERR_BAD_ARG);
		e = omc_store_io_posix_new(&t->io, o->dir);
		t->own_io = e == OMC_OK;
	}
	if (e == OMC_OK && o->store_io) {
		t->store_io = o->store_io;
	} else if (e == OMC_OK) {
		char sd[4096];
		if (!o->dir || snprintf(sd, sizeof sd, "%s/store", o->dir) >= (int)sizeof sd)
			e = OMC_ERR_BAD_ARG;
		else
			e = omc_store_io_posix_new(&t->store_io, sd);
		t->own_store_io = e == OMC_OK;
	}
	t->ard = o->ard;

	/* Keys from the device root key. */
	if (e == OMC_OK)
		e = backend_pick(t, o->tpm);
	if (e == OMC_OK)
		e = root_load(t);
	if (e == OMC_OK)
		e = omc_tre_hkdf(t->k_ident, t->drk, OMC_TRE_LABEL_IDENTITY);
	if (e == OMC_OK)
		e = omc_tre_hkdf(t->k_audit, t->drk, OMC_TRE_LABEL_AUDIT);
	if (e == OMC_OK)
		e = omc_tre_hkdf(t->k_keys, t->drk, OMC_TRE_LABEL_KEYS);
	if (e == OMC_OK)
		e = identity_load(t);
	if (e != OMC_OK) {
		omc_tre_close(t);
		return e;
	}

	/* The store; storage corruption or a rollback locks the TRE down
	 * (TRE-4), and it still attests and shows its audit trail. */
	e = open_store(t);
	if (e == OMC_ERR_ROLLBACK || e == OMC_ERR_CORRUPT) {
		lockdown_now(t, e == OMC_ERR_ROLLBACK ? "store rollback" : "store corrupt");
		t->store = NULL;
	} else if (e != OMC_OK) {
		omc_tre_close(t);
		return e;
	}
	uint64_t counter;
	uint32_t flags = 0;
	bool flags_read = t->ard && t->ard->read(t->ard->ctx, &counter, &flags) == OMC_OK;
	if (flags_read && (flags & OMC_STORE_FLAG_LOCKDOWN))
		t->lockdown = true;

	if (t->store) {
		e = state_load(t);
		if (e == OMC_OK)
			e = users_load(t);
		if (e == OMC_ERR_NOMEM) {
			/* says nothing about the store: no lockdown for it */
			omc_tre_close(t);
			return e;
		}
		if (e != OMC_OK) {
			lockdown_now(t, "TRE state unreadable");
			omc_store_close(t->store);
			t->store = NULL;
		}
	}
	if (t->store && (flags & OMC_STORE_FLAG_LOCKDOWN))
		t->lockdown = true;
	/* A lockdown whose flag a power cut stopped (see enter_lockdown), or
	 * a recovery cut short after clearing it: the state's mark sets the
	 * flag again. The flag wins over the state, never the reverse. */
	if (t->store && t->lockdown && flags_read && !(flags & OMC_STORE_FLAG_LOCKDOWN) &&
	    t->ard->set_flags(t->ard->ctx, OMC_STORE_FLAG_LOCKDOWN) != OMC_OK)
		OMC_LOG_ERR("tre", "lockdown flag not restored");

	/* audit.log: its length (for appends), when the state does not say
	 * it. A file longer than the state says holds an uncommitted flush
	 * past that length: ignored, and overwritten by the next flush. A
	 * shorter one is a truncation that the audit check reports. */
	uint8_t *log = NULL;
	size_t log_len = 0;
	if (!t->audit_len_known && t->io->read(t->io->ctx, "audit.log", &log, &log_len) == OMC_OK) {
		t->audit_file_len = log_len;
		omc_free(log);
	}

	/* A TRE update (TRE-12, update.c): a step a power cut interrupted is
	 * settled and, at a boot, a staged update begins its trial or an
	 * unconfirmed trial is reverted, before anything is measured. */
	if (t->store && !t->readonly) {
		e = omc_tre_update_boot(t, o->count_boot);
		if (e != OMC_OK) {
			omc_tre_close(t);
			return e;
		}
	}

	/* Secure boot: the platform against the signed manifest (SEC-3). */
	omc_tre_measure(t);

	if (t->store) {
		e = check_records(t);
		if (e == OMC_OK)
			e = omc_tre_reload_registry(t);
		if (e == OMC_ERR_NOMEM) {
			omc_tre_close(t);
			return e;
		}
		if (e != OMC_OK) {
			lockdown_now(t, "TRE state damaged");
			omc_store_close(t->store);
			t->store = NULL;
		}
	}
	if (t->store && !t->readonly && o->count_boot) {
		t->boot_count++;
		char detail[96];
		snprintf(detail, sizeof detail, "platform %s%s", t->platform_ok ? "ok" : "anomaly",
			 omc_store_rolled_forward(t->store) ? ", interrupted commit recovered" : "");
		omc_audit_event ev = {.time = omc_tre_now(t), .event = "boot", .actor = "tre", .subject = "tre",
				      .result = "ok", .detail = detail};
		e = omc_tre_commit(t, NULL, &ev);
		if (e != OMC_OK) {
			omc_tre_close(t);
			return e;
		}
	}
	*out = t;
	return OMC_OK;
}

void omc_tre_close(omc_tre *t)
{
	if (!t)
		return;
	omc_store_close(t->store);
	if (t->own_ard && t->use_tpm)
		omc_tpm_ard_free(t->ard);
	else if (t->own_ard)
		omc_store_ard_sw_free(t->ard);
	if (t->own_store_io)
		omc_store_io_posix_free(t->store_io);
	if (t->own_io)
		omc_store_io_posix_free(t->io);
	omc_key_free(t->att_key);
	for (size_t i = 0; i < t->n_chain; i++)
		omc_cert_free(t->chain[i]);
	for (int r = 0; r < OMC_ANCHOR_ROLES; r++)
		for (size_t i = 0; i < t->n_anchors[r]; i++)
			omc_cert_free(t->anchors[r][i]);
	omc_free(t->factory_pcid);
	tail_clear(t);
	session_clear(t);
	omc_users_wipe(&t->users);
	omc_free(t); /* wipes the keys */
}

/* The factory's first commit into a freshly formatted store: the PCID, the
 * initial TRE state and the first audit record. */
omc_err omc_tre_factory_commit(omc_store *store, const uint8_t drk[32], const omc_mcim *pcid, int64_t now)
{
	omc_tre *t = omc_calloc(1, sizeof *t);
	OMC_ENSURE(t != NULL, OMC_ERR_NOMEM);
	t->store = store;
	omc_err e = omc_tre_hkdf(t->k_audit, drk, OMC_TRE_LABEL_AUDIT);
	omc_tre_txn x;
	omc_tre_txn_init(&x);
	if (e == OMC_OK)
		e = omc_tre_txn_put_mcim(&x, pcid);
	char detail[64];
	snprintf(detail, sizeof detail, "PCID %s installed", pcid->imsi);
	omc_audit_event ev = {.time = now, .event = "factory", .actor = "m2mes", .subject = "tre", .result = "ok",
			      .detail = detail};
	if (e == OMC_OK)
		e = omc_tre_commit(t, &x, &ev);
	omc_tre_txn_free(&x);
	t->store = NULL;
	tail_clear(t);
	omc_free(t);
	return e;
}
