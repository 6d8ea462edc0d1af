/* Local users (TRE-10, TRE-5, MGT-7): names, roles and PINs kept as
 * Argon2id tags (libargon2, raw mode), with per-user and global failure
 * counters. Interface and rules in tre_internal.h.
 *
 * Authentication answers a wrong PIN and an unknown (or malformed) user
 * name alike: the same error, both counted towards lockdown, and both after
 * one Argon2id computation at the table's cost (an unknown user is hashed
 * against a dummy salt). A blocked user is refused without the PIN being
 * checked, so that a blocked account cannot be used as an oracle. Once
 * lockdown is due, every authentication is refused with OMC_ERR_LOCKDOWN
 * (fail safe if the caller has not acted on omc_users_lockdown_due yet).
 *
 * PIN-derived bytes (the computed tag) are wiped on every path; stored
 * tags are only compared with omc_ct_eq. The JSON form holds salts and tags
 * in hex, never the PIN; it is canonical (compact, sorted keys) and
 * omc_users_from_json accepts nothing else. */
#include <string.h>

#include <argon2.h>
#include <jansson.h>

#include "tre/tre_internal.h"

#define USERS_JSON_VERSION 1
#define USERS_JSON_MAX (64u * 1024u) /* a full table is about 5 KiB */
#define USER_SALT_LEN 16
#define USER_TAG_LEN 32

/* Bounds on Argon2id costs: what we write and what we accept from a stored
 * table (a damaged table must not make authentication run for hours). */
#define USER_T_MAX 64u
#define USER_M_MAX (4u * 1024u * 1024u) /* KiB: 4 GiB */
#define USER_LANES_MAX 16u

#define USER_T_DEFAULT 2u
#define USER_M_DEFAULT 19456u /* KiB: 19 MiB, the OWASP minimum for Argon2id */
#define USER_LANES_DEFAULT 1u

/* --- roles ----------------------------------------------------------------------- */

static const struct {
	omc_user_role role;
	const char *name;
} role_names[] = {
	{OMC_USER_ROLE_ADMIN, "admin"},
	{OMC_USER_ROLE_OPERATOR, "operator"},
	{OMC_USER_ROLE_USER, "user"},
};

const char *omc_user_role_name(omc_user_role r)
{
	for (size_t i = 0; i < OMC_ARRAY_LEN(role_names); i++)
		if (role_names[i].role == r)
			return role_names[i].name;
	return "unknown";
}

omc_err omc_user_role_parse(omc_user_role *r, const char *s)
{
	OMC_ENSURE(r != NULL && s != NULL, OMC_ERR_BAD_ARG);
	for (size_t i = 0; i < OMC_ARRAY_LEN(role_names); i++)
		if (!strcmp(s, role_names[i].name)) {
			*r = role_names[i].role;
			return OMC_OK;
		}
	OMC_BAIL(OMC_ERR_BAD_ARG);
}

static bool valid_role(omc_user_role r)
{
	return r == OMC_USER_ROLE_ADMIN || r == OMC_USER_ROLE_OPERATOR || r == OMC_USER_ROLE_USER;
}

/* --- rules ------------------------------------------------------------------------ */

static bool valid_name(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, OMC_USER_NAME_MAX + 1);
	if (n == 0 || n > OMC_USER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* 4..64 printable ASCII characters (digits or a passphrase). */
static bool valid_pin(const char *pin, size_t pin_len)
{
	if (!pin || pin_len < OMC_USER_PIN_MIN || pin_len > OMC_USER_PIN_MAX)
		return false;
	bool ok = true;
	for (size_t i = 0; i < pin_len; i++)
		ok &= pin[i] >= 0x20 && pin[i] <= 0x7e;
	return ok;
}

static bool valid_cost(uint32_t t_cost, uint32_t m_cost_kib, uint32_t lanes)
{
	return t_cost >= 1 && t_cost <= USER_T_MAX && lanes >= 1 && lanes <= USER_LANES_MAX &&
	       m_cost_kib >= 8u * lanes && m_cost_kib <= USER_M_MAX;
}

/* --- Argon2id ---------------------------------------------------------------------- */

static omc_err pin_tag(uint8_t tag[USER_TAG_LEN], const char *pin, size_t pin_len, const uint8_t salt[USER_SALT_LEN],
		       uint32_t t_cost, uint32_t m_cost_kib, uint32_t lanes)
{
	OMC_ENSURE(valid_cost(t_cost, m_cost_kib, lanes), OMC_ERR_BAD_ARG);
	int rc = argon2id_hash_raw(t_cost, m_cost_kib, lanes, pin, pin_len, salt, USER_SALT_LEN, tag, USER_TAG_LEN);
	if (rc != ARGON2_OK) {
		omc_memzero(tag, USER_TAG_LEN);
		OMC_BAIL(rc == ARGON2_MEMORY_ALLOCATION_ERROR ? OMC_ERR_NOMEM : OMC_ERR_CRYPTO);
	}
	return OMC_OK;
}

/* A fresh salt and tag for pin at the table's cost, into u. */
static omc_err set_credential(omc_user *u, const omc_users *t, const char *pin, size_t pin_len)
{
	uint8_t salt[USER_SALT_LEN], tag[USER_TAG_LEN];
	OMC_DEFER_WIPE(tag);
	OMC_TRY(omc_rand_bytes(salt, sizeof salt));
	OMC_TRY(pin_tag(tag, pin, pin_len, salt, t->t_cost, t->m_cost_kib, t->lanes));
	memcpy(u->salt, salt, sizeof salt);
	memcpy(u->tag, tag, sizeof tag);
	u->t_cost = t->t_cost;
	u->m_cost_kib = t->m_cost_kib;
	u->lanes = t->lanes;
	return OMC_OK;
}

/* --- the table ---------------------------------------------------------------------- */

void omc_users_init(omc_users *t)
{
	if (!t)
		return;
	omc_memzero(t, sizeof *t);
	t->t_cost = USER_T_DEFAULT;
	t->m_cost_kib = USER_M_DEFAULT;
	t->lanes = USER_LANES_DEFAULT;
}

void omc_users_wipe(omc_users *t)
{
	if (t)
		omc_memzero(t, sizeof *t);
}

static omc_user *find_mut(omc_users *t, const char *name)
{
	if (!t || !valid_name(name) || t->n > OMC_USERS_MAX)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->u[i].name, name))
			return &t->u[i];
	return NULL;
}

const omc_user *omc_users_find(const omc_users *t, const char *name)
{
	return find_mut((omc_users *)(uintptr_t)t, name);
}

bool omc_users_lockdown_due(const omc_users *t)
{
	/* Fail safe: no table is a table in lockdown. */
	return !t || t->failures_total >= OMC_USERS_LOCKDOWN_FAILURES;
}

omc_err omc_users_add(omc_users *t, const char *name, omc_user_role role, const char *pin, size_t pin_len)
{
	OMC_ENSURE(t != NULL && t->n <= OMC_USERS_MAX, OMC_ERR_BAD_ARG);
	OMC_ENSURE(valid_name(name) && valid_role(role) && valid_pin(pin, pin_len), OMC_ERR_BAD_ARG);
	OMC_ENSURE(find_mut(t, name) == NULL, OMC_ERR_EXISTS);
	OMC_ENSURE(t->n < OMC_USERS_MAX, OMC_ERR_EXHAUSTED);
	omc_user u = {0};
	OMC_DEFER_WIPE(u);
	memcpy(u.name, name, strlen(name) + 1);
	u.role = role;
	OMC_TRY(set_credential(&u, t, pin, pin_len));
	t->u[t->n++] = u;
	return OMC_OK;
}

omc_err omc_users_del(omc_users *t, const char *name)
{
	OMC_ENSURE(t != NULL && t->n <= OMC_USERS_MAX, OMC_ERR_BAD_ARG);
	omc_user *u = find_mut(t, name);
	OMC_ENSURE(u != NULL, OMC_ERR_NOT_FOUND);
	size_t i = (size_t)(u - t->u);
	memmove(&t->u[i], &t->u[i + 1], (t->n - i - 1) * sizeof t->u[0]);
	t->n--;
	omc_memzero(&t->u[t->n], sizeof t->u[0]);
	return OMC_OK;
}

omc_err omc_users_set_pin(omc_users *t, const char *name, const char *pin, size_t pin_len)
{
	OMC_ENSURE(t != NULL && valid_pin(pin, pin_len), OMC_ERR_BAD_ARG);
	omc_user *u = find_mut(t, name);
	OMC_ENSURE(u != NULL, OMC_ERR_NOT_FOUND);
	/* Only the credential changes (at the table's current cost); the
	 * counters and the block stay: unblocking is omc_users_unblock. */
	return set_credential(u, t, pin, pin_len);
}

omc_err omc_users_unblock(omc_users *t, const char *name)
{
	OMC_ENSURE(t != NULL, OMC_ERR_BAD_ARG);
	omc_user *u = find_mut(t, name);
	OMC_ENSURE(u != NULL, OMC_ERR_NOT_FOUND);
	u->blocked = false;
	u->failures = 0;
	return OMC_OK;
}

/* Salt and tag an unknown user is checked against: the comparison can
 * never succeed (the outcome also requires a found user), it only costs
 * what a real check costs. */
static const uint8_t dummy_salt[USER_SALT_LEN] = "omc/users/dummy";
static const uint8_t dummy_tag[USER_TAG_LEN] = {0};

omc_err omc_users_auth(omc_users *t, const char *name, const char *pin, size_t pin_len, const omc_user **who)
{
	OMC_ENSURE(t != NULL && who != NULL && t->n <= OMC_USERS_MAX, OMC_ERR_BAD_ARG);
	*who = NULL;
	/* The PIN rules are public and do not depend on the user. */
	OMC_ENSURE(valid_pin(pin, pin_len), OMC_ERR_BAD_ARG);
	OMC_ENSURE(!omc_users_lockdown_due(t), OMC_ERR_LOCKDOWN);

	omc_user *u = find_mut(t, name);
	if (u && u->blocked)
		OMC_BAIL(OMC_ERR_DENIED);

	const uint8_t *salt = u ? u->salt : dummy_salt;
	const uint8_t *ref = u ? u->tag : dummy_tag;
	uint32_t tc = u ? u->t_cost : t->t_cost, mc = u ? u->m_cost_kib : t->m_cost_kib;
	uint32_t lanes = u ? u->lanes : t->lanes;

	uint8_t tag[USER_TAG_LEN];
	OMC_DEFER_WIPE(tag);
	OMC_TRY(pin_tag(tag, pin, pin_len, salt, tc, mc, lanes));

	/* Fault hardening: the tag is compared twice and both must agree. */
	volatile int eq1 = omc_ct_eq(tag, ref, USER_TAG_LEN);
	volatile int eq2 = omc_ct_eq(ref, tag, USER_TAG_LEN);
	if (u != NULL && eq1 == 1 && eq2 == 1) {
		u->failures = 0;
		t->failures_total = 0;
		*who = u;
		return OMC_OK;
	}
	if (t->failures_total < UINT32_MAX)
		t->failures_total++;
	if (u) {
		if (u->failures < UINT32_MAX)
			u->failures++;
		if (u->failures >= OMC_USER_MAX_TRIES)
			u->blocked = true;
	}
	OMC_BAIL(OMC_ERR_AUTH_FAILED);
}

/* --- JSON ------------------------------------------------------------------------------ */

static omc_err set_new(json_t *o, const char *key, json_t *v)
{
	/* json_object_set_new takes v even when it fails. */
	OMC_ENSURE(v != NULL && json_object_set_new(o, key, v) == 0, OMC_ERR_NOMEM);
	return OMC_OK;
}

static omc_err set_hex(json_t *o, const char *key, const uint8_t *b, size_t n)
{
	char h[2 * USER_TAG_LEN + 1];
	OMC_DEFER_WIPE(h);
	OMC_TRY(omc_hex_encode(h, sizeof h, b, n));
	return set_new(o, key, json_string(h));
}

static omc_err user_to_json(json_t *a, const omc_user *u)
{
	json_t *o = json_object();
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	if (json_array_append_new(a, o) != 0)
		OMC_BAIL(OMC_ERR_NOMEM);
	OMC_TRY(set_new(o, "name", json_string(u->name)));
	OMC_TRY(set_new(o, "role", json_string(omc_user_role_name(u->role))));
	OMC_TRY(set_hex(o, "salt", u->salt, sizeof u->salt));
	OMC_TRY(set_hex(o, "tag", u->tag, sizeof u->tag));
	OMC_TRY(set_new(o, "t", json_integer(u->t_cost)));
	OMC_TRY(set_new(o, "m", json_integer(u->m_cost_kib)));
	OMC_TRY(set_new(o, "p", json_integer(u->lanes)));
	OMC_TRY(set_new(o, "failures", json_integer(u->failures)));
	OMC_TRY(set_new(o, "blocked", json_boolean(u->blocked)));
	return OMC_OK;
}

static omc_err table_to_json(json_t *o, const omc_users *t)
{
	OMC_TRY(set_new(o, "version", json_integer(USERS_JSON_VERSION)));
	OMC_TRY(set_new(o, "failures_total", json_integer(t->failures_total)));
	json_t *a = json_array();
	OMC_TRY(set_new(o, "users", a));
	for (size_t i = 0; i < t->n; i++)
		OMC_TRY(user_to_json(a, &t->u[i]));
	return OMC_OK;
}

omc_err omc_users_to_json(char **json, size_t *len, const omc_users *t)
{
	OMC_ENSURE(json != NULL && len != NULL && t != NULL && t->n <= OMC_USERS_MAX, OMC_ERR_BAD_ARG);
	*json = NULL;
	*len = 0;
	for (size_t i = 0; i < t->n; i++)
		OMC_ENSURE(valid_name(t->u[i].name) && valid_role(t->u[i].role), OMC_ERR_BAD_ARG);
	json_t *o = json_object();
	OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
	omc_err e = table_to_json(o, t);
	char *out = NULL;
	size_t n = 0;
	if (e == OMC_OK) {
		/* Into our own buffer, so that the text is wiped when freed. */
		n = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
		out = n ? omc_alloc(n + 1) : NULL;
		if (!out || json_dumpb(o, out, n, JSON_COMPACT | JSON_SORT_KEYS) != n)
			e = omc_err_raise(OMC_ERR_NOMEM, __FILE__, __LINE__);
	}
	json_decref(o);
	if (e != OMC_OK) {
		omc_free(out);
		return e;
	}
	out[n] = '\0';
	*json = out;
	*len = n;
	return OMC_OK;
}

/* Every key of obj is one of the n in keys, and each of them is there. */
static omc_err exact_keys(const json_t *obj, const char *const *keys, size_t n)
{
	OMC_ENSURE(json_is_object(obj) && json_object_size(obj) == n, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < n; i++)
		OMC_ENSURE(json_object_get(obj, keys[i]) != NULL, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err get_u32(uint32_t *out, const json_t *obj, const char *key, uint32_t min, uint32_t max)
{
	const json_t *v = json_object_get(obj, key);
	OMC_ENSURE(json_is_integer(v), OMC_ERR_BAD_FORMAT);
	json_int_t x = json_integer_value(v);
	OMC_ENSURE(x >= (json_int_t)min && x <= (json_int_t)max, OMC_ERR_BAD_FORMAT);
	*out = (uint32_t)x;
	return OMC_OK;
}

static omc_err get_hex(uint8_t *out, size_t n, const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	OMC_ENSURE(json_is_string(v) && json_string_length(v) == 2 * n, OMC_ERR_BAD_FORMAT);
	OMC_ENSURE(omc_hex_decode(out, n, json_string_value(v), 2 * n) == OMC_OK, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err user_from_json(omc_user *u, const json_t *o)
{
	static const char *const keys[] = {"name", "role", "salt", "tag", "t", "m", "p", "failures", "blocked"};
	OMC_TRY(exact_keys(o, keys, OMC_ARRAY_LEN(keys)));
	const json_t *name = json_object_get(o, "name"), *role = json_object_get(o, "role");
	const json_t *blocked = json_object_get(o, "blocked");
	OMC_ENSURE(json_is_string(name) && json_string_length(name) == strlen(json_string_value(name)) &&
			   valid_name(json_string_value(name)),
		   OMC_ERR_BAD_FORMAT);
	memcpy(u->name, json_string_value(name), json_string_length(name) + 1);
	OMC_ENSURE(json_is_string(role) && omc_user_role_parse(&u->role, json_string_value(role)) == OMC_OK,
		   OMC_ERR_BAD_FORMAT);
	OMC_TRY(get_hex(u->salt, sizeof u->salt, o, "salt"));
	OMC_TRY(get_hex(u->tag, sizeof u->tag, o, "tag"));
	OMC_TRY(get_u32(&u->t_cost, o, "t", 1, USER_T_MAX));
	OMC_TRY(get_u32(&u->lanes, o, "p", 1, USER_LANES_MAX));
	OMC_TRY(get_u32(&u->m_cost_kib, o, "m", 8u * u->lanes, USER_M_MAX));
	OMC_TRY(get_u32(&u->failures, o, "failures", 0, OMC_USER_MAX_TRIES));
	OMC_ENSURE(json_is_boolean(blocked), OMC_ERR_BAD_FORMAT);
	u->blocked = json_is_true(blocked);
	/* A user at the limit is blocked; anything else is not a table we wrote. */
	OMC_ENSURE(u->failures < OMC_USER_MAX_TRIES || u->blocked, OMC_ERR_BAD_FORMAT);
	return OMC_OK;
}

static omc_err table_from_json(omc_users *t, const json_t *o)
{
	static const char *const keys[] = {"version", "failures_total", "users"};
	OMC_TRY(exact_keys(o, keys, OMC_ARRAY_LEN(keys)));
	uint32_t version = 0;
	OMC_TRY(get_u32(&version, o, "version", USERS_JSON_VERSION, USERS_JSON_VERSION));
	OMC_TRY(get_u32(&t->failures_total, o, "failures_total", 0, UINT32_MAX));
	const json_t *a = json_object_get(o, "users");
	OMC_ENSURE(json_is_array(a) && json_array_size(a) <= OMC_USERS_MAX, OMC_ERR_BAD_FORMAT);
	for (size_t i = 0; i < json_array_size(a); i++) {
		omc_user *u = &t->u[i];
		OMC_TRY(user_from_json(u, json_array_get(a, i)));
		for (size_t j = 0; j < i; j++)
			OMC_ENSURE(strcmp(t->u[j].name, u->name) != 0, OMC_ERR_BAD_FORMAT);
		t->n = i + 1;
	}
	return OMC_OK;
}

omc_err omc_users_from_json(omc_users *t, const char *json, size_t len)
{
	OMC_ENSURE(t != NULL && json != NULL, OMC_ERR_BAD_ARG);
	/* Parse into a scratch table so that *t never holds half a table. */
	omc_users tmp;
	OMC_DEFER_WIPE(tmp);
	omc_users_init(&tmp);
	omc_users_init(t);
	OMC_ENSURE(len <= USERS_JSON_MAX, OMC_ERR_TOO_LARGE);
	json_error_t je;
	json_t *o = omc_json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	OMC_ENSURE(o != NULL || json_error_code(&je) != json_error_out_of_memory, OMC_ERR_NOMEM);
	OMC_ENSURE(o != NULL, OMC_ERR_BAD_JSON);
	omc_err e = table_from_json(&tmp, o);
	json_decref(o);
	OMC_TRY(e);
	/* Byte for byte what omc_users_to_json writes for this table. Tables
	 * are only ever written by it, and jansson's lexer can drop a
	 * character on a failed allocation and still report success (jansson
	 * issue #362): a 32-character name one byte shorter is still a valid
	 * name, and must not slip through as a different user. */
	char *canon = NULL;
	size_t cn = 0;
	OMC_TRY(omc_users_to_json(&canon, &cn, &tmp));
	bool same = cn == len && omc_ct_eq(canon, json, len);
	omc_free(canon);
	OMC_ENSURE(same, OMC_ERR_BAD_FORMAT);
	*t = tmp;
	return OMC_OK;
}
