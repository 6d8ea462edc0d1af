/* MCIM records: the JSON form stored (encrypted) in the TRE's store and
 * carried (signed, then encrypted) in MCIM packages. Strict: unknown keys,
 * wrong types and out-of-range values are refused. Secrets are parsed
 * straight into the credential and never logged; the JSON text holding them
 * is only ever in buffers that omc_free wipes. Format: docs/objects.md. */
#include <string.h>

#include <jansson.h>

#include "tre/tre_internal.h"

const char *omc_mcim_role_name(omc_mcim_role r)
{
	return r == OMC_MCIM_ROLE_BOOTSTRAP ? "bootstrap" : "operational";
}

const char *omc_mcim_type_name(omc_mcim_type t)
{
	return t == OMC_MCIM_TYPE_ISIM ? "isim" : "usim";
}

void omc_mcim_wipe(omc_mcim *m)
{
	if (m)
		omc_memzero(m, sizeof *m);
}

bool omc_mcim_valid_id(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool omc_mcim_valid_owner(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > OMC_MCIM_OWNER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool valid_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

omc_err omc_mcim_object_id(char *buf, size_t cap, const char *owner, const char *id)
{
	OMC_ENSURE(omc_mcim_valid_owner(owner) && omc_mcim_valid_id(id, OMC_MCIM_ID_MAX), OMC_ERR_BAD_ARG);
	int n = snprintf(buf, cap, "mcim/%s/%s", owner, id);
	OMC_ENSURE(n > 0 && (size_t)n < cap, OMC_ERR_NO_SPACE);
	return OMC_OK;
}

/* --- strict JSON helpers ----------------------------------------------------- */

/* Every key of obj must be in allowed (NULL-terminated). */
static omc_err only_keys(const json_t *obj, const char *const *allowed)
{
	OMC_ENSURE(json_is_object(obj), OMC_ERR_BAD_FORMAT);
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)(uintptr_t)obj, key, v)
	{
		(void)v;
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || !strcmp(key, *a);
		OMC_ENSURE(ok, OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

static omc_err get_str(const char **out, const json_t *obj, const char *key, bool required)
{
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		OMC_ENSURE(!required, OMC_ERR_BAD_FORMAT);
		*out = NULL;
		return OMC_OK;
	}
	OMC_ENSURE(json_is_string(v), OMC_ERR_BAD_FORMAT);
	*out = json_string_value(v);
	return OMC_OK;
}

static omc_err get_uint(uint64_t *out, const json_t *obj, const char *key, bool required, uint64_t def,
			uint64_t max)
{
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		OMC_ENSURE(!required, OMC_ERR_BAD_FORMAT);
		*out = def;
		return OMC_OK;
	}
	OMC_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, OMC_ERR_BAD_FORMAT);
	uint64_t x = (uint64_t)json_integer_value(v);
	OMC_ENSURE(x <= max, OMC_ERR_BAD_FORMAT);
	*out = x;
	return OMC_OK;
}

static omc_err get_hex(uint8_t *out, size_t len, const json_t *obj, const char *key)
{
	const char *s = NULL;
	OMC_TRY(get_str(&s, obj, key, true));
	OMC_ENSURE(strlen(s) == 2 * len, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(out, len, s, 2 * len) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err copy_str(char *dst, size_t cap, const char *src)
{
	OMC_ENSURE(src && strlen(src) < cap, OMC_ERR_BAD_FORMAT);
	memcpy(dst, src, strlen(src) + 1);
	return OMC_OK;
}

/* --- credential ---------------------------------------------------------------- */

static omc_err parse_milenage(omc_mcim *m, const json_t *o)
{
	uint8_t k[16], opc[16];
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(opc);
	omc_aka_milenage_consts c;
	omc_aka_milenage_consts_default(&c);
	OMC_TRY(get_hex(k, 16, o, "k"));
	OMC_TRY(get_hex(opc, 16, o, "opc"));
	const json_t *ca = json_object_get(o, "c"), *ra = json_object_get(o, "r");
	if (ca) {
		OMC_ENSURE(json_is_array(ca) && json_array_size(ca) == 5, OMC_ERR_BAD_FORMAT);
		for (size_t i = 0; i < 5; i++) {
			const json_t *e = json_array_get(ca, i);
			OMC_ENSURE(json_is_string(e) && strlen(json_string_value(e)) == 32, OMC_ERR_BAD_FORMAT);
			OMC_ENSURE(omc_hex_decode(c.c[i], 16, json_string_value(e), 32) == OMC_OK, OMC_ERR_BAD_FORMAT);
		}
	}
	if (ra) {
		OMC_ENSURE(json_is_array(ra) && json_array_size(ra) == 5, OMC_ERR_BAD_FORMAT);
		for (size_t i = 0; i < 5; i++) {
			const json_t *e = json_array_get(ra, i);
			OMC_ENSURE(json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) < 128,
				   OMC_ERR_BAD_FORMAT);
			c.r[i] = (uint8_t)json_integer_value(e);
		}
	}
	m->cred.alg = OMC_AKA_ALG_MILENAGE;
	OMC_ENSURE(omc_aka_milenage_init(&m->cred.u.milenage, k, opc, &c) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err parse_tuak(omc_mcim *m, const json_t *o)
{
	static const char *const tk[] = {"topc", "iterations", "mac_bits", "res_bits", "ck_bits", "ik_bits", NULL};
	const json_t *t = json_object_get(o, "tuak");
	OMC_TRY(only_keys(t, tk));
	uint8_t k[32], topc[32];
	OMC_DEFER_WIPE(k);
	OMC_DEFER_WIPE(topc);
	const char *ks = NULL;
	OMC_TRY(get_str(&ks, o, "k", true));
	size_t k_len = strlen(ks) / 2;
	OMC_ENSURE(k_len == 16 || k_len == 32, OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_hex(k, k_len, o, "k"));
	OMC_TRY(get_hex(topc, 32, t, "topc"));
	/* The fifth argument is the default for an absent member (the lengths
	 * omc_aka_tuak_params_default gives, as the AuC assumes), not a minimum:
	 * omc_aka_tuak_init refuses lengths outside the lists. */
	uint64_t it = 0, mb = 0, rb = 0, cb = 0, ib = 0;
	OMC_TRY(get_uint(&it, t, "iterations", false, 1, OMC_AKA_TUAK_MAX_ITERATIONS));
	OMC_TRY(get_uint(&mb, t, "mac_bits", false, 64, 256));
	OMC_TRY(get_uint(&rb, t, "res_bits", false, 64, 256));
	OMC_TRY(get_uint(&cb, t, "ck_bits", false, 128, 256));
	OMC_TRY(get_uint(&ib, t, "ik_bits", false, 128, 256));
	omc_aka_tuak_params p = {.mac_bits = (unsigned)mb,
				 .res_bits = (unsigned)rb,
				 .ck_bits = (unsigned)cb,
				 .ik_bits = (unsigned)ib,
				 .iterations = (unsigned)it};
	m->cred.alg = OMC_AKA_ALG_TUAK;
	OMC_ENSURE(omc_aka_tuak_init(&m->cred.u.tuak, k, k_len, topc, &p) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err parse_sqn(omc_mcim *m, const json_t *o, bool from_package)
{
	const json_t *s = json_object_get(o, "sqn");
	uint64_t ind = OMC_AKA_IND_BITS_DEFAULT;
	if (from_package) {
		static const char *const keys[] = {"ind_bits", "floor", NULL};
		uint8_t floor[6] = {0};
		if (s) {
			OMC_TRY(only_keys(s, keys));
			OMC_TRY(get_uint(&ind, s, "ind_bits", false, OMC_AKA_IND_BITS_DEFAULT, OMC_AKA_IND_BITS_MAX));
			if (json_object_get(s, "floor"))
				OMC_TRY(get_hex(floor, 6, s, "floor"));
		}
		OMC_ENSURE(omc_aka_sqn_ms_init(&m->sqn, (unsigned)ind, 0, 0) == OMC_OK, OMC_ERR_BAD_FORMAT);
		uint64_t f = omc_load_be48(floor);
		if (f)
			OMC_ENSURE(omc_aka_sqn_ms_set_floor(&m->sqn, f) == OMC_OK, OMC_ERR_BAD_FORMAT);
		return OMC_OK;
	}
	static const char *const keys[] = {"ind_bits", "delta", "age_limit", "seq", NULL};
	OMC_TRY(only_keys(s, keys));
	uint64_t delta = 0, age = 0;
	OMC_TRY(get_uint(&ind, s, "ind_bits", true, 0, OMC_AKA_IND_BITS_MAX));
	OMC_TRY(get_uint(&delta, s, "delta", true, 0, UINT64_C(1) << 48));
	OMC_TRY(get_uint(&age, s, "age_limit", true, 0, UINT64_C(1) << 48));
	OMC_ENSURE(omc_aka_sqn_ms_init(&m->sqn, (unsigned)ind, delta, age) == OMC_OK, OMC_ERR_BAD_FORMAT);
	const json_t *seq = json_object_get(s, "seq");
	OMC_ENSURE(json_is_array(seq) && json_array_size(seq) == (size_t)1 << ind, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < json_array_size(seq); i++) {
		const json_t *e = json_array_get(seq, i);
		OMC_ENSURE(json_is_integer(e) && json_integer_value(e) >= 0 &&
				   (uint64_t)json_integer_value(e) < (UINT64_C(1) << (48 - ind)),
			   OMC_ERR_BAD_FORMAT);
		m->sqn.seq[i] = (uint64_t)json_integer_value(e);
	}
	return OMC_OK;
}

/* An array of names into rows of `stride` bytes: MCIM ids (up to
 * max_len), or user names (lower case only, as omc_users accepts them, so
 * that an ACL entry that can never match is refused, not kept). */
static omc_err parse_names(char *dst, size_t stride, size_t cap, size_t *n, const json_t *arr, size_t max_len,
			   bool user_names)
{
	*n = 0;
	if (!arr)
		return OMC_OK;
	OMC_ENSURE(json_is_array(arr) && json_array_size(arr) <= cap && max_len < stride, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		OMC_ENSURE(json_is_string(e) && omc_mcim_valid_id(json_string_value(e), max_len), OMC_ERR_BAD_FORMAT);
		for (const char *c = json_string_value(e); user_names && *c; c++)
			OMC_ENSURE(!(*c >= 'A' && *c <= 'Z'), OMC_ERR_BAD_FORMAT);
		OMC_TRY(copy_str(dst + i * stride, stride, json_string_value(e)));
		(*n)++;
	}
	return OMC_OK;
}

static omc_err parse_all(omc_mcim *m, const json_t *o, bool from_package)
{
	static const char *const pkg_keys[] = {"id",  "owner", "role", "type", "imsi",    "impi",    "impu",
					       "alg", "k",     "opc",  "c",    "r",       "tuak",    "sqn",
					       "acl", "share", "profile", "version", "expires", NULL};
	static const char *const store_keys[] = {"id",  "owner", "role",    "type",    "imsi",    "impi",
						 "impu", "alg", "k",     "opc",     "c",       "r",
						 "tuak", "sqn", "acl",   "share",   "profile", "version",
						 "expires", "state", "block_reason", NULL};
	OMC_TRY(only_keys(o, from_package ? pkg_keys : store_keys));
	const char *s = NULL;
	OMC_TRY(get_str(&s, o, "id", true));
	OMC_ENSURE(omc_mcim_valid_id(s, OMC_MCIM_ID_MAX), OMC_ERR_BAD_FORMAT);
	OMC_TRY(copy_str(m->id, sizeof m->id, s));
	OMC_TRY(get_str(&s, o, "owner", true));
	OMC_ENSURE(omc_mcim_valid_owner(s), OMC_ERR_BAD_FORMAT);
	OMC_TRY(copy_str(m->owner, sizeof m->owner, s));
	OMC_TRY(get_str(&s, o, "role", true));
	if (!strcmp(s, "operational"))
		m->role = OMC_MCIM_ROLE_OPERATIONAL;
	else if (!strcmp(s, "bootstrap"))
		m->role = OMC_MCIM_ROLE_BOOTSTRAP;
	else
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_str(&s, o, "type", false));
	m->type = OMC_MCIM_TYPE_USIM;
	if (s && !strcmp(s, "isim"))
		m->type = OMC_MCIM_TYPE_ISIM;
	else
		OMC_ENSURE(!s || !strcmp(s, "usim"), OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_str(&s, o, "imsi", true));
	OMC_ENSURE(valid_digits(s, 6, 15), OMC_ERR_BAD_FORMAT);
	OMC_TRY(copy_str(m->imsi, sizeof m->imsi, s));
	OMC_TRY(get_str(&s, o, "impi", false));
	OMC_TRY(copy_str(m->impi, sizeof m->impi, s ? s : ""));
	OMC_TRY(get_str(&s, o, "impu", false));
	OMC_TRY(copy_str(m->impu, sizeof m->impu, s ? s : ""));

	OMC_TRY(get_str(&s, o, "alg", true));
	bool tuak = !strcmp(s, "tuak");
	OMC_ENSURE(tuak || !strcmp(s, "milenage"), OMC_ERR_BAD_FORMAT);
	m->has_secrets = json_object_get(o, "k") != NULL;
	if (from_package)
		OMC_ENSURE(m->has_secrets, OMC_ERR_BAD_FORMAT);
	if (m->has_secrets) {
		if (tuak) {
			OMC_ENSURE(!json_object_get(o, "opc") && !json_object_get(o, "c") && !json_object_get(o, "r"),
				   OMC_ERR_BAD_FORMAT);
			OMC_TRY(parse_tuak(m, o));
		} else {
			OMC_ENSURE(!json_object_get(o, "tuak"), OMC_ERR_BAD_FORMAT);
			OMC_TRY(parse_milenage(m, o));
		}
	} else {
		OMC_ENSURE(!json_object_get(o, "opc") && !json_object_get(o, "tuak"), OMC_ERR_BAD_FORMAT);
		m->cred.alg = tuak ? OMC_AKA_ALG_TUAK : OMC_AKA_ALG_MILENAGE;
	}
	if (m->has_secrets || json_object_get(o, "sqn"))
		OMC_TRY(parse_sqn(m, o, from_package));
	else
		OMC_ENSURE(omc_aka_sqn_ms_init(&m->sqn, OMC_AKA_IND_BITS_DEFAULT, 0, 0) == OMC_OK, OMC_ERR_BUG);

	OMC_TRY(parse_names(&m->acl[0][0], sizeof m->acl[0], OMC_MCIM_ACL_MAX, &m->n_acl, json_object_get(o, "acl"),
			    OMC_USER_NAME_MAX, true));
	OMC_TRY(parse_names(&m->share[0][0], sizeof m->share[0], OMC_MCIM_SHARE_MAX, &m->n_share,
			    json_object_get(o, "share"), OMC_MCIM_ID_MAX, false));

	const json_t *p = json_object_get(o, "profile");
	if (p) {
		static const char *const pk[] = {"data_only", "volume_cap", NULL};
		OMC_TRY(only_keys(p, pk));
		const json_t *d = json_object_get(p, "data_only");
		OMC_ENSURE(!d || json_is_boolean(d), OMC_ERR_BAD_FORMAT);
		m->data_only = d && json_is_true(d);
		OMC_TRY(get_uint(&m->volume_cap, p, "volume_cap", false, 0, UINT64_MAX >> 1));
	}
	uint64_t v, exp;
	OMC_TRY(get_uint(&v, o, "version", true, 0, UINT32_MAX));
	OMC_ENSURE(v >= 1, OMC_ERR_BAD_FORMAT);
	m->version = (uint32_t)v;
	OMC_TRY(get_uint(&exp, o, "expires", false, 0, INT64_MAX));
	m->expires = (int64_t)exp;

	if (from_package) {
		m->state = OMC_MCIM_INSTALLED;
	} else {
		OMC_TRY(get_str(&s, o, "state", true));
		OMC_TRY(omc_mcim_state_parse(&m->state, s));
		OMC_ENSURE(m->has_secrets || m->state == OMC_MCIM_DELETED || m->state == OMC_MCIM_BLOCKED,
			   OMC_ERR_BAD_FORMAT);
		OMC_TRY(get_str(&s, o, "block_reason", false));
		OMC_TRY(copy_str(m->block_reason, sizeof m->block_reason, s ? s : ""));
	}
	return OMC_OK;
}

/* MGT-8: a new version of an MCIM's non-secret parts. On any error *m is
 * unchanged. */
omc_err omc_mcim_apply_update(omc_mcim *m, const void *json_obj)
{
	const json_t *o = json_obj;
	static const char *const keys[] = {"version", "acl", "share", "profile", "expires", NULL};
	OMC_ENSURE(json_is_object(o), OMC_ERR_BAD_FORMAT);
	OMC_TRY(only_keys(o, keys));
	uint64_t v, exp;
	OMC_TRY(get_uint(&v, o, "version", true, 0, UINT32_MAX));
	OMC_ENSURE(v >= 1, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(v > m->version, OMC_ERR_DENIED); /* lower or equal versions refused */
	omc_mcim n = *m;
	omc_err e = OMC_OK;
	if (json_object_get(o, "acl"))
		e = parse_names(&n.acl[0][0], sizeof n.acl[0], OMC_MCIM_ACL_MAX, &n.n_acl, json_object_get(o, "acl"),
				OMC_USER_NAME_MAX, true);
	if (e == OMC_OK && json_object_get(o, "share"))
		e = parse_names(&n.share[0][0], sizeof n.share[0], OMC_MCIM_SHARE_MAX, &n.n_share,
				json_object_get(o, "share"), OMC_MCIM_ID_MAX, false);
	const json_t *p = json_object_get(o, "profile");
	if (e == OMC_OK && p) {
		static const char *const pk[] = {"data_only", "volume_cap", NULL};
		const json_t *d = json_object_get(p, "data_only");
		e = only_keys(p, pk);
		if (e == OMC_OK && d && !json_is_boolean(d))
			e = OMC_ERR_BAD_FORMAT;
		n.data_only = d && json_is_true(d);
		if (e == OMC_OK)
			e = get_uint(&n.volume_cap, p, "volume_cap", false, 0, UINT64_MAX >> 1);
	}
	if (e == OMC_OK && json_object_get(o, "expires")) {
		e = get_uint(&exp, o, "expires", true, 0, INT64_MAX);
		n.expires = (int64_t)exp;
	}
	if (e == OMC_OK) {
		n.version = (uint32_t)v;
		*m = n;
	}
	omc_mcim_wipe(&n);
	return e;
}

omc_err omc_mcim_from_json(omc_mcim *m, const void *json_obj, bool from_package)
{
	memset(m, 0, sizeof *m);
	omc_err e = parse_all(m, json_obj, from_package);
	if (e != OMC_OK)
		omc_mcim_wipe(m);
	return e;
}

omc_err omc_mcim_parse(omc_mcim *m, const uint8_t *buf, size_t len)
{
	json_error_t je;
	json_t *o = omc_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	OMC_ENSURE(o != NULL, OMC_ERR_BAD_FORMAT);
	omc_err e = omc_mcim_from_json(m, o, false);
	json_decref(o);
	return e;
}

/* --- serialisation --------------------------------------------------------------- */

static omc_err set(json_t *o, const char *key, json_t *v)
{
	OMC_ENSURE(v != NULL, OMC_ERR_NOMEM);
	OMC_ENSURE(json_object_set_new(o, key, v) == 0, OMC_ERR_NOMEM);
	return OMC_OK;
}

static omc_err set_hex(json_t *o, const char *key, const uint8_t *b, size_t n)
{
	char h[2 * 32 + 1];
	OMC_DEFER_WIPE(h);
	OMC_TRY(omc_hex_encode(h, sizeof h, b, n));
	return set(o, key, json_string(h));
}

/* n NUL-terminated names, stride bytes apart. */
static omc_err names_array(json_t **out, const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(base + i * stride)) != 0) {
			json_decref(a);
			OMC_BAIL(OMC_ERR_NOMEM);
		}
	*out = a;
	return OMC_OK;
}

static omc_err build(json_t *o, const omc_mcim *m)
{
	OMC_TRY(set(o, "id", json_string(m->id)));
	OMC_TRY(set(o, "owner", json_string(m->owner)));
	OMC_TRY(set(o, "role", json_string(omc_mcim_role_name(m->role))));
	OMC_TRY(set(o, "type", json_string(omc_mcim_type_name(m->type))));
	OMC_TRY(set(o, "imsi", json_string(m->imsi)));
	if (m->impi[0])
		OMC_TRY(set(o, "impi", json_string(m->impi)));
	if (m->impu[0])
		OMC_TRY(set(o, "impu", json_string(m->impu)));
	OMC_TRY(set(o, "alg", json_string(omc_aka_alg_name(m->cred.alg))));
	if (m->has_secrets) {
		if (m->cred.alg == OMC_AKA_ALG_TUAK) {
			const omc_aka_tuak *t = &m->cred.u.tuak;
			OMC_TRY(set_hex(o, "k", t->k, t->k_len));
			json_t *tj = json_object();
			OMC_TRY(set(o, "tuak", tj));
			OMC_TRY(set_hex(tj, "topc", t->topc, 32));
			OMC_TRY(set(tj, "iterations", json_integer(t->iterations)));
			OMC_TRY(set(tj, "mac_bits", json_integer(8 * t->mac_len)));
			OMC_TRY(set(tj, "res_bits", json_integer(8 * t->res_len)));
			OMC_TRY(set(tj, "ck_bits", json_integer(8 * t->ck_len)));
			OMC_TRY(set(tj, "ik_bits", json_integer(8 * t->ik_len)));
		} else {
			const omc_aka_milenage *mi = &m->cred.u.milenage;
			OMC_TRY(set_hex(o, "k", mi->k, 16));
			OMC_TRY(set_hex(o, "opc", mi->opc, 16));
			/* one at a time: a second array made before the first
			 * is placed leaks when the first fails */
			OMC_TRY(set(o, "c", json_array()));
			OMC_TRY(set(o, "r", json_array()));
			json_t *c = json_object_get(o, "c"), *r = json_object_get(o, "r");
			for (int i = 0; i < 5; i++) {
				char h[33];
				OMC_TRY(omc_hex_encode(h, sizeof h, mi->consts.c[i], 16));
				OMC_ENSURE(json_array_append_new(c, json_string(h)) == 0, OMC_ERR_NOMEM);
				OMC_ENSURE(json_array_append_new(r, json_integer(mi->consts.r[i])) == 0, OMC_ERR_NOMEM);
			}
		}
	}
	json_t *sq = json_object();
	OMC_TRY(set(o, "sqn", sq));
	OMC_TRY(set(sq, "ind_bits", json_integer(m->sqn.ind_bits)));
	OMC_TRY(set(sq, "delta", json_integer((json_int_t)m->sqn.delta)));
	OMC_TRY(set(sq, "age_limit", json_integer((json_int_t)m->sqn.age_limit)));
	json_t *seq = json_array();
	OMC_TRY(set(sq, "seq", seq));
	for (size_t i = 0; i < (size_t)1 << m->sqn.ind_bits; i++)
		OMC_ENSURE(json_array_append_new(seq, json_integer((json_int_t)m->sqn.seq[i])) == 0, OMC_ERR_NOMEM);
	json_t *a;
	OMC_TRY(names_array(&a, m->acl[0], sizeof m->acl[0], m->n_acl));
	OMC_TRY(set(o, "acl", a));
	OMC_TRY(names_array(&a, m->share[0], sizeof m->share[0], m->n_share));
	OMC_TRY(set(o, "share", a));
	json_t *p = json_object();
	OMC_TRY(set(o, "profile", p));
	OMC_TRY(set(p, "data_only", json_boolean(m->data_only)));
	OMC_TRY(set(p, "volume_cap", json_integer((json_int_t)m->volume_cap)));
	OMC_TRY(set(o, "version", json_integer(m->version)));
	OMC_TRY(set(o, "expires", json_integer(m->expires)));
	OMC_TRY(set(o, "state", json_string(omc_mcim_state_name(m->state))));
	if (m->block_reason[0])
		OMC_TRY(set(o, "block_reason", json_string(m->block_reason)));
	return OMC_OK;
}

omc_err omc_mcim_to_json(char **out, size_t *len, const omc_mcim *m)
{
	json_t *o = json_object();
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = build(o, m);
	if (e == OMC_OK) {
		*out = omc_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		if (!*out)
			e = OMC_ERR_NOMEM;
		else
			*len = strlen(*out);
	}
	json_decref(o);
	return e;
}

void omc_mcim_make_tombstone(omc_mcim *m)
{
	omc_aka_alg alg = m->cred.alg;
	omc_memzero(&m->cred, sizeof m->cred);
	m->cred.alg = alg;
	m->has_secrets = false;
	m->state = OMC_MCIM_DELETED;
}
