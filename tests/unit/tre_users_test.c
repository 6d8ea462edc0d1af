/* Local users: roles, PIN rules, Argon2id authentication, per-user blocking
 * after OMC_USER_MAX_TRIES wrong PINs, the global failure count that
 * triggers lockdown, an unknown user indistinguishable from a wrong PIN,
 * and the strict JSON form that never holds the PIN.
 * covers: TRE-10, TRE-5, MGT-7, TRE-4 */
#include "testlib.h"

#include <stdlib.h>
#include <time.h>

#include "tre/tre_internal.h"

#define PIN(s) (s), (sizeof(s) - 1)

/* A table with a cheap Argon2id cost, so that the tests stay fast. */
static void fast_table(omc_users *t)
{
	omc_users_init(t);
	t->t_cost = 1;
	t->m_cost_kib = 64;
	t->lanes = 1;
}

static omc_err auth(omc_users *t, const char *name, const char *pin)
{
	const omc_user *who = (const omc_user *)1;
	omc_err e = omc_users_auth(t, name, pin, strlen(pin), &who);
	if (e == OMC_OK) {
		assert_non_null(who);
		assert_ptr_equal(who, omc_users_find(t, name));
	} else {
		assert_null(who);
	}
	return e;
}

static void test_roles(void **state)
{
	(void)state;
	assert_string_equal(omc_user_role_name(OMC_USER_ROLE_ADMIN), "admin");
	assert_string_equal(omc_user_role_name(OMC_USER_ROLE_OPERATOR), "operator");
	assert_string_equal(omc_user_role_name(OMC_USER_ROLE_USER), "user");
	assert_string_equal(omc_user_role_name((omc_user_role)0), "unknown");
	assert_string_equal(omc_user_role_name((omc_user_role)9), "unknown");
	static const omc_user_role all[] = {OMC_USER_ROLE_ADMIN, OMC_USER_ROLE_OPERATOR, OMC_USER_ROLE_USER};
	for (size_t i = 0; i < OMC_ARRAY_LEN(all); i++) {
		omc_user_role r = (omc_user_role)0;
		assert_err(omc_user_role_parse(&r, omc_user_role_name(all[i])), OMC_OK);
		assert_int_equal(r, all[i]);
	}
	static const char *const bad[] = {"", "Admin", "admin ", "root", "unknown", "use"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad); i++) {
		omc_user_role r = OMC_USER_ROLE_USER;
		assert_err(omc_user_role_parse(&r, bad[i]), OMC_ERR_BAD_ARG);
		assert_int_equal(r, OMC_USER_ROLE_USER);
	}
	omc_user_role r;
	assert_err(omc_user_role_parse(&r, NULL), OMC_ERR_BAD_ARG);
}

static void test_init_defaults(void **state)
{
	(void)state;
	omc_users t;
	memset(&t, 0x5a, sizeof t);
	omc_users_init(&t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.failures_total, 0);
	assert_int_equal(t.t_cost, 2);
	assert_int_equal(t.m_cost_kib, 19456);
	assert_int_equal(t.lanes, 1);
	assert_false(omc_users_lockdown_due(&t));
	assert_true(omc_users_lockdown_due(NULL));

	/* One PIN hash at the default cost, timed for the record. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_err(omc_users_add(&t, "alice", OMC_USER_ROLE_ADMIN, PIN("493817")), OMC_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	const omc_user *u = omc_users_find(&t, "alice");
	assert_non_null(u);
	assert_int_equal(u->t_cost, 2);
	assert_int_equal(u->m_cost_kib, 19456);
	assert_int_equal(u->lanes, 1);
	print_message("users: one Argon2id hash at t=2, m=19456 KiB, p=1: %.1f ms\n",
		      (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	omc_users_wipe(&t);
	assert_true(tl_all_bytes_are((const uint8_t *)&t, sizeof t, 0));
	omc_users_wipe(NULL);
}

static void test_add_auth_del(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "alice", OMC_USER_ROLE_ADMIN, PIN("1234")), OMC_OK);
	assert_err(omc_users_add(&t, "bob", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	assert_err(omc_users_add(&t, "op-1", OMC_USER_ROLE_OPERATOR, PIN("correct horse battery staple")), OMC_OK);
	assert_int_equal(t.n, 3);
	assert_err(omc_users_add(&t, "bob", OMC_USER_ROLE_ADMIN, PIN("999999")), OMC_ERR_EXISTS);
	assert_int_equal(t.n, 3);

	const omc_user *bob = omc_users_find(&t, "bob");
	assert_non_null(bob);
	assert_string_equal(bob->name, "bob");
	assert_int_equal(bob->role, OMC_USER_ROLE_USER);
	assert_int_equal(bob->t_cost, 1);
	assert_int_equal(bob->m_cost_kib, 64);
	assert_false(tl_all_bytes_are(bob->salt, 16, 0));
	assert_false(tl_all_bytes_are(bob->tag, 32, 0));
	/* Salts are random: the same PIN gives another tag. */
	assert_err(omc_users_add(&t, "bob2", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	const omc_user *bob2 = omc_users_find(&t, "bob2");
	assert_memory_not_equal(bob->salt, bob2->salt, 16);
	assert_memory_not_equal(bob->tag, bob2->tag, 32);

	assert_err(auth(&t, "alice", "1234"), OMC_OK);
	assert_err(auth(&t, "bob", "493817"), OMC_OK);
	assert_err(auth(&t, "op-1", "correct horse battery staple"), OMC_OK);
	assert_err(auth(&t, "bob", "493818"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "bob", "1234"), OMC_ERR_AUTH_FAILED); /* alice's PIN */
	assert_err(auth(&t, "bob", "4938170"), OMC_ERR_AUTH_FAILED);
	/* The PIN is its length, not a C string: "1234" out of a longer buffer. */
	const omc_user *who = NULL;
	assert_err(omc_users_auth(&t, "alice", "12345678", 4, &who), OMC_OK);
	assert_ptr_equal(who, omc_users_find(&t, "alice"));

	assert_err(omc_users_del(&t, "bob"), OMC_OK);
	assert_null(omc_users_find(&t, "bob"));
	assert_int_equal(t.n, 3);
	assert_true(tl_all_bytes_are((const uint8_t *)&t.u[3], sizeof t.u[3], 0)); /* the freed slot is wiped */
	assert_err(omc_users_del(&t, "bob"), OMC_ERR_NOT_FOUND);
	assert_err(omc_users_del(&t, "Bad Name"), OMC_ERR_NOT_FOUND);
	assert_err(auth(&t, "bob", "493817"), OMC_ERR_AUTH_FAILED);
	/* The others are intact after the move. */
	assert_err(auth(&t, "alice", "1234"), OMC_OK);
	assert_err(auth(&t, "op-1", "correct horse battery staple"), OMC_OK);
	assert_err(auth(&t, "bob2", "493817"), OMC_OK);
	omc_users_wipe(&t);
}

static void test_add_rules(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	static const char *const bad_names[] = {"",  "Alice", "a b",  "a/b", "a.b", "\xc3\xa9",
						"a\n", "ab:c", "-\t", "x\x7f"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(bad_names); i++)
		assert_err(omc_users_add(&t, bad_names[i], OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, NULL, OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_BAD_ARG);
	char name[OMC_USER_NAME_MAX + 2];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_err(omc_users_add(&t, name, OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_BAD_ARG);
	name[OMC_USER_NAME_MAX] = '\0';
	assert_err(omc_users_add(&t, name, OMC_USER_ROLE_USER, PIN("1234")), OMC_OK);
	assert_err(omc_users_add(&t, "a", OMC_USER_ROLE_USER, PIN("1234")), OMC_OK);
	assert_err(omc_users_add(&t, "0_z-9", OMC_USER_ROLE_USER, PIN("1234")), OMC_OK);

	/* PINs: 4..64 printable ASCII. */
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, PIN("123")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, PIN("12\n4")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, PIN("12\0" "4")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, PIN("12\x80" "4")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, NULL, 4), OMC_ERR_BAD_ARG);
	char pin[OMC_USER_PIN_MAX + 1];
	memset(pin, '~', sizeof pin);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, pin, sizeof pin), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "p", OMC_USER_ROLE_USER, pin, OMC_USER_PIN_MAX), OMC_OK);
	assert_err(auth(&t, "p", "~~~~"), OMC_ERR_AUTH_FAILED);
	const omc_user *who;
	assert_err(omc_users_auth(&t, "p", pin, OMC_USER_PIN_MAX, &who), OMC_OK);
	assert_err(omc_users_add(&t, "q", OMC_USER_ROLE_USER, PIN(" !~ ")), OMC_OK);

	/* Roles outside the enum. */
	assert_err(omc_users_add(&t, "r", (omc_user_role)0, PIN("1234")), OMC_ERR_BAD_ARG);
	assert_err(omc_users_add(&t, "r", (omc_user_role)4, PIN("1234")), OMC_ERR_BAD_ARG);
	/* A cost libargon2 refuses, or beyond our bounds. */
	t.m_cost_kib = 4;
	assert_err(omc_users_add(&t, "r", OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_BAD_ARG);
	t.m_cost_kib = 64;
	t.t_cost = 0;
	assert_err(omc_users_add(&t, "r", OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_BAD_ARG);
	assert_null(omc_users_find(&t, "r"));
	omc_users_wipe(&t);
}

static void test_table_full(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	for (int i = 0; i < OMC_USERS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof name, "u%d", i);
		assert_err(omc_users_add(&t, name, OMC_USER_ROLE_USER, PIN("1234")), OMC_OK);
	}
	assert_int_equal(t.n, OMC_USERS_MAX);
	assert_err(omc_users_add(&t, "one-more", OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_EXHAUSTED);
	assert_err(omc_users_add(&t, "u3", OMC_USER_ROLE_USER, PIN("1234")), OMC_ERR_EXISTS);
	assert_err(omc_users_del(&t, "u0"), OMC_OK);
	assert_err(omc_users_add(&t, "one-more", OMC_USER_ROLE_USER, PIN("1234")), OMC_OK);
	omc_users_wipe(&t);
}

static void test_set_pin(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "alice", OMC_USER_ROLE_ADMIN, PIN("1234")), OMC_OK);
	uint8_t old_salt[16];
	memcpy(old_salt, omc_users_find(&t, "alice")->salt, 16);
	t.m_cost_kib = 128; /* new PINs take the table's current cost */
	assert_err(omc_users_set_pin(&t, "alice", PIN("98765")), OMC_OK);
	const omc_user *a = omc_users_find(&t, "alice");
	assert_memory_not_equal(a->salt, old_salt, 16);
	assert_int_equal(a->m_cost_kib, 128);
	assert_err(auth(&t, "alice", "1234"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "alice", "98765"), OMC_OK);
	assert_err(omc_users_set_pin(&t, "nobody", PIN("98765")), OMC_ERR_NOT_FOUND);
	assert_err(omc_users_set_pin(&t, "alice", PIN("987")), OMC_ERR_BAD_ARG);
	assert_err(auth(&t, "alice", "98765"), OMC_OK);
	omc_users_wipe(&t);
}

static void test_block_after_three(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "admin", OMC_USER_ROLE_ADMIN, PIN("0000")), OMC_OK);
	assert_err(omc_users_add(&t, "bob", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	const omc_user *bob = omc_users_find(&t, "bob");

	/* Two wrong, one right: the counter starts again. */
	assert_err(auth(&t, "bob", "111111"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "bob", "222222"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(bob->failures, 2);
	assert_int_equal(t.failures_total, 2);
	assert_err(auth(&t, "bob", "493817"), OMC_OK);
	assert_int_equal(bob->failures, 0);
	assert_int_equal(t.failures_total, 0);

	for (unsigned i = 1; i <= OMC_USER_MAX_TRIES; i++) {
		assert_false(bob->blocked);
		assert_err(auth(&t, "bob", "000000"), OMC_ERR_AUTH_FAILED);
		assert_int_equal(bob->failures, i);
	}
	assert_true(bob->blocked);
	/* Blocked: refused even with the right PIN, and a wrong PIN is not
	 * checked (and not counted) any more. */
	assert_err(auth(&t, "bob", "493817"), OMC_ERR_DENIED);
	assert_err(auth(&t, "bob", "000000"), OMC_ERR_DENIED);
	assert_int_equal(bob->failures, OMC_USER_MAX_TRIES);
	assert_int_equal(t.failures_total, OMC_USER_MAX_TRIES);
	/* Others are not affected. */
	assert_err(auth(&t, "admin", "0000"), OMC_OK);
	assert_int_equal(t.failures_total, 0);
	assert_true(bob->blocked);
	/* The admin unblocks. */
	assert_err(omc_users_unblock(&t, "bob"), OMC_OK);
	assert_false(bob->blocked);
	assert_int_equal(bob->failures, 0);
	assert_err(auth(&t, "bob", "493817"), OMC_OK);
	assert_err(omc_users_unblock(&t, "nobody"), OMC_ERR_NOT_FOUND);
	omc_users_wipe(&t);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_unknown_user_like_wrong_pin(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "bob", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	/* Same answer, both counted. */
	assert_err(auth(&t, "eve", "493817"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(t.failures_total, 1);
	assert_err(auth(&t, "bob", "493818"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(t.failures_total, 2);
	assert_err(auth(&t, "Not A Name", "493817"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, NULL, "493817"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(t.failures_total, 4);
	/* Unknown names are never blocked (there is no one to block). */
	for (int i = 0; i < 4; i++)
		assert_err(auth(&t, "eve", "493817"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "bob", "493817"), OMC_OK);
	/* A PIN outside the rules is a usage error for everyone alike. */
	assert_err(auth(&t, "bob", "12"), OMC_ERR_BAD_ARG);
	assert_err(auth(&t, "eve", "12"), OMC_ERR_BAD_ARG);
	assert_int_equal(t.failures_total, 0);

	/* About the same time: median of wrong PIN vs unknown user at a cost
	 * large enough (4 MiB) for Argon2 to dominate. */
	t.m_cost_kib = 4096;
	assert_err(omc_users_set_pin(&t, "bob", PIN("493817")), OMC_OK);
	enum { RUNS = 7 };
	double wrong[RUNS], unknown[RUNS];
	for (int i = 0; i < RUNS; i++) {
		double a = now_ms();
		assert_err(auth(&t, "bob", "000000"), OMC_ERR_AUTH_FAILED);
		double b = now_ms();
		assert_err(auth(&t, "mallory", "000000"), OMC_ERR_AUTH_FAILED);
		double c = now_ms();
		assert_err(omc_users_unblock(&t, "bob"), OMC_OK);
		t.failures_total = 0;
		wrong[i] = b - a;
		unknown[i] = c - b;
	}
	qsort(wrong, RUNS, sizeof wrong[0], cmp_double);
	qsort(unknown, RUNS, sizeof unknown[0], cmp_double);
	double w = wrong[RUNS / 2], u = unknown[RUNS / 2];
	print_message("users: median wrong PIN %.2f ms, unknown user %.2f ms\n", w, u);
	assert_true(u > w / 3 && u < w * 3);
	omc_users_wipe(&t);
}

static void test_lockdown(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "admin", OMC_USER_ROLE_ADMIN, PIN("0000")), OMC_OK);
	assert_err(omc_users_add(&t, "bob", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	assert_err(omc_users_add(&t, "carol", OMC_USER_ROLE_USER, PIN("5555")), OMC_OK);
	/* Failures of everyone add up: 2 + 2 + 5 unknown = 9, no one blocked. */
	assert_err(auth(&t, "admin", "1111"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "admin", "1111"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "bob", "1111"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(&t, "bob", "1111"), OMC_ERR_AUTH_FAILED);
	for (int i = 0; i < 5; i++)
		assert_err(auth(&t, "ghost", "1111"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(t.failures_total, OMC_USERS_LOCKDOWN_FAILURES - 1);
	assert_false(omc_users_lockdown_due(&t));
	/* A success of anyone resets the count (and only the successful
	 * user's own counter). */
	assert_err(auth(&t, "carol", "5555"), OMC_OK);
	assert_int_equal(t.failures_total, 0);
	assert_int_equal(omc_users_find(&t, "admin")->failures, 2);
	assert_int_equal(omc_users_find(&t, "bob")->failures, 2);

	for (int i = 0; i < OMC_USERS_LOCKDOWN_FAILURES; i++) {
		assert_false(omc_users_lockdown_due(&t));
		assert_err(auth(&t, "ghost", "1111"), OMC_ERR_AUTH_FAILED);
	}
	assert_true(omc_users_lockdown_due(&t));
	/* Fail safe: no more attempts, not even right ones, until the TRE's
	 * lockdown handling resets the table. */
	assert_err(auth(&t, "carol", "5555"), OMC_ERR_LOCKDOWN);
	assert_err(auth(&t, "ghost", "1111"), OMC_ERR_LOCKDOWN);
	assert_int_equal(t.failures_total, OMC_USERS_LOCKDOWN_FAILURES);
	assert_true(omc_users_lockdown_due(&t));
	omc_users_wipe(&t);
}

/* A table with something in every field. */
static void sample_table(omc_users *t)
{
	fast_table(t);
	assert_err(omc_users_add(t, "admin", OMC_USER_ROLE_ADMIN, PIN("0000")), OMC_OK);
	assert_err(omc_users_add(t, "bob", OMC_USER_ROLE_USER, PIN("493817")), OMC_OK);
	t->m_cost_kib = 96;
	assert_err(omc_users_add(t, "op_7", OMC_USER_ROLE_OPERATOR, PIN("pass phrase")), OMC_OK);
	for (int i = 0; i < 3; i++)
		assert_err(auth(t, "op_7", "nope"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(t, "bob", "1111"), OMC_ERR_AUTH_FAILED);
	assert_err(auth(t, "ghost", "1111"), OMC_ERR_AUTH_FAILED);
	assert_int_equal(t->failures_total, 5);
}

static void expect_same_users(const omc_users *a, const omc_users *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->failures_total, b->failures_total);
	for (size_t i = 0; i < a->n; i++) {
		const omc_user *x = &a->u[i], *y = &b->u[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->role, y->role);
		assert_memory_equal(x->salt, y->salt, 16);
		assert_memory_equal(x->tag, y->tag, 32);
		assert_int_equal(x->t_cost, y->t_cost);
		assert_int_equal(x->m_cost_kib, y->m_cost_kib);
		assert_int_equal(x->lanes, y->lanes);
		assert_int_equal(x->failures, y->failures);
		assert_int_equal(x->blocked, y->blocked);
	}
}

static void test_json_round_trip(void **state)
{
	(void)state;
	omc_users t, back;
	sample_table(&t);
	char *json = NULL;
	size_t len = 0;
	assert_err(omc_users_to_json(&json, &len, &t), OMC_OK);
	assert_int_equal(strlen(json), len);
	memset(&back, 0x77, sizeof back);
	assert_err(omc_users_from_json(&back, json, len), OMC_OK);
	expect_same_users(&t, &back);
	assert_true(omc_users_find(&back, "op_7")->blocked);
	assert_int_equal(omc_users_find(&back, "op_7")->m_cost_kib, 96);
	assert_int_equal(omc_users_find(&back, "bob")->failures, 1);
	/* The parsed table works: same PINs, same counters. */
	assert_err(auth(&back, "bob", "493817"), OMC_OK);
	assert_err(auth(&back, "op_7", "pass phrase"), OMC_ERR_DENIED);
	assert_err(omc_users_unblock(&back, "op_7"), OMC_OK);
	assert_err(auth(&back, "op_7", "pass phrase"), OMC_OK);
	/* And the text is a fixed point. */
	char *json2 = NULL;
	size_t len2 = 0;
	omc_users again;
	assert_err(omc_users_from_json(&again, json, len), OMC_OK);
	assert_err(omc_users_to_json(&json2, &len2, &again), OMC_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(json, json2, len);
	omc_free(json2);
	omc_free(json);

	/* The empty table. */
	omc_users empty;
	fast_table(&empty);
	assert_err(omc_users_to_json(&json, &len, &empty), OMC_OK);
	assert_string_equal(json, "{\"failures_total\":0,\"users\":[],\"version\":1}");
	assert_err(omc_users_from_json(&back, json, len), OMC_OK);
	assert_int_equal(back.n, 0);
	omc_free(json);
	omc_users_wipe(&t);
	omc_users_wipe(&back);
	omc_users_wipe(&again);
}

static void test_json_never_holds_pin(void **state)
{
	(void)state;
	omc_users t;
	sample_table(&t);
	assert_err(omc_users_set_pin(&t, "admin", PIN("493817")), OMC_OK);
	char *json = NULL;
	size_t len = 0;
	assert_err(omc_users_to_json(&json, &len, &t), OMC_OK);
	/* The planted PIN in plain, hex (either case) and base64. */
	static const char *const forms[] = {"493817", "343933383137", "NDkzODE3"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(forms); i++)
		if (strstr(json, forms[i]))
			fail_msg("the users JSON holds the PIN as %s", forms[i]);
	/* Nor in base64 at another alignment within a longer string. */
	static const char *const b64_shifted[] = {"QzOTgxN", "0OTM4MT"};
	for (size_t i = 0; i < OMC_ARRAY_LEN(b64_shifted); i++)
		assert_null(strstr(json, b64_shifted[i]));
	omc_free(json);
	omc_users_wipe(&t);
}

/* Load the sample table's JSON, let mutate() change it, dump it again. */
static char *mutated(void (*mutate)(json_t *), size_t *len)
{
	omc_users t;
	sample_table(&t);
	char *json = NULL;
	size_t n = 0;
	assert_err(omc_users_to_json(&json, &n, &t), OMC_OK);
	json_error_t je;
	json_t *o = json_loadb(json, n, 0, &je);
	assert_non_null(o);
	omc_free(json);
	omc_users_wipe(&t);
	mutate(o);
	/* Into our own buffer: jansson may allocate through omc_alloc. */
	size_t l = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
	assert_true(l > 0);
	char *s = malloc(l + 1);
	assert_int_equal(json_dumpb(o, s, l, JSON_COMPACT | JSON_SORT_KEYS), l);
	s[l] = '\0';
	json_decref(o);
	*len = l;
	return s;
}

static json_t *user0(json_t *o)
{
	return json_array_get(json_object_get(o, "users"), 0);
}

static void m_none(json_t *o)
{
	(void)o;
}
static void m_top_unknown(json_t *o)
{
	json_object_set_new(o, "admin_pin", json_string("x"));
}
static void m_user_unknown(json_t *o)
{
	json_object_set_new(user0(o), "pin", json_string("0000"));
}
static void m_user_missing(json_t *o)
{
	json_object_del(user0(o), "failures");
}
static void m_top_missing(json_t *o)
{
	json_object_del(o, "failures_total");
}
static void m_salt_short(json_t *o)
{
	json_object_set_new(user0(o), "salt", json_string("00112233445566778899aabbccddee"));
}
static void m_salt_long(json_t *o)
{
	json_object_set_new(user0(o), "salt", json_string("00112233445566778899aabbccddeeff00"));
}
static void m_salt_nonhex(json_t *o)
{
	json_object_set_new(user0(o), "salt", json_string("00112233445566778899aabbccddeefg"));
}
static void m_salt_upper(json_t *o)
{
	char h[33];
	strcpy(h, json_string_value(json_object_get(user0(o), "salt")));
	for (int i = 0; i < 32; i++)
		if (h[i] >= 'a' && h[i] <= 'f')
			h[i] = (char)(h[i] - 32);
	json_object_set_new(user0(o), "salt", json_string(h));
}
static void m_tag_short(json_t *o)
{
	json_object_set_new(user0(o), "tag", json_string("00"));
}
static void m_tag_number(json_t *o)
{
	json_object_set_new(user0(o), "tag", json_integer(0));
}
static void m_duplicate_name(json_t *o)
{
	json_t *a = json_object_get(o, "users");
	json_object_set_new(json_array_get(a, 1), "name", json_string("admin"));
}
static void m_seventeen(json_t *o)
{
	json_t *a = json_object_get(o, "users");
	for (int i = 3; i < OMC_USERS_MAX + 1; i++) {
		json_t *u = json_deep_copy(json_array_get(a, 0));
		char name[16];
		snprintf(name, sizeof name, "x%d", i);
		json_object_set_new(u, "name", json_string(name));
		json_array_append_new(a, u);
	}
}
static void m_sixteen(json_t *o)
{
	json_t *a = json_object_get(o, "users");
	for (int i = 3; i < OMC_USERS_MAX; i++) {
		json_t *u = json_deep_copy(json_array_get(a, 0));
		char name[16];
		snprintf(name, sizeof name, "x%d", i);
		json_object_set_new(u, "name", json_string(name));
		json_array_append_new(a, u);
	}
}
static void m_version(json_t *o)
{
	json_object_set_new(o, "version", json_integer(2));
}
static void m_total_negative(json_t *o)
{
	json_object_set_new(o, "failures_total", json_integer(-1));
}
static void m_total_huge(json_t *o)
{
	json_object_set_new(o, "failures_total", json_integer((json_int_t)1 << 32));
}
static void m_t_zero(json_t *o)
{
	json_object_set_new(user0(o), "t", json_integer(0));
}
static void m_t_huge(json_t *o)
{
	json_object_set_new(user0(o), "t", json_integer(1000000));
}
static void m_m_small(json_t *o)
{
	json_object_set_new(user0(o), "m", json_integer(7));
}
static void m_m_huge(json_t *o)
{
	json_object_set_new(user0(o), "m", json_integer((json_int_t)1 << 31));
}
static void m_p_zero(json_t *o)
{
	json_object_set_new(user0(o), "p", json_integer(0));
}
static void m_role(json_t *o)
{
	json_object_set_new(user0(o), "role", json_string("root"));
}
static void m_name_upper(json_t *o)
{
	json_object_set_new(user0(o), "name", json_string("Admin"));
}
static void m_name_empty(json_t *o)
{
	json_object_set_new(user0(o), "name", json_string(""));
}
static void m_name_nul(json_t *o)
{
	json_object_set_new(user0(o), "name", json_stringn("ad\0min", 6));
}
static void m_blocked_int(json_t *o)
{
	json_object_set_new(user0(o), "blocked", json_integer(1));
}
static void m_failures_string(json_t *o)
{
	json_object_set_new(user0(o), "failures", json_string("1"));
}
static void m_failures_unblocked(json_t *o)
{
	json_object_set_new(user0(o), "failures", json_integer(OMC_USER_MAX_TRIES));
}
static void m_failures_many(json_t *o)
{
	json_object_set_new(user0(o), "failures", json_integer(OMC_USER_MAX_TRIES + 1));
	json_object_set_new(user0(o), "blocked", json_true());
}
static void m_users_object(json_t *o)
{
	json_object_set_new(o, "users", json_object());
}
static void m_user_array(json_t *o)
{
	json_array_append_new(json_object_get(o, "users"), json_array());
}

static void test_json_strict(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		void (*mutate)(json_t *);
		omc_err want;
	} cases[] = {
		{"as written", m_none, OMC_OK},
		{"16 users", m_sixteen, OMC_OK},
		{"unknown top-level key", m_top_unknown, OMC_ERR_BAD_FORMAT},
		{"unknown user key", m_user_unknown, OMC_ERR_BAD_FORMAT},
		{"missing user key", m_user_missing, OMC_ERR_BAD_FORMAT},
		{"missing top-level key", m_top_missing, OMC_ERR_BAD_FORMAT},
		{"15-byte salt", m_salt_short, OMC_ERR_BAD_FORMAT},
		{"17-byte salt", m_salt_long, OMC_ERR_BAD_FORMAT},
		{"non-hex salt", m_salt_nonhex, OMC_ERR_BAD_FORMAT},
		{"upper-case salt (not canonical)", m_salt_upper, OMC_ERR_BAD_FORMAT},
		{"1-byte tag", m_tag_short, OMC_ERR_BAD_FORMAT},
		{"tag as a number", m_tag_number, OMC_ERR_BAD_FORMAT},
		{"duplicate name", m_duplicate_name, OMC_ERR_BAD_FORMAT},
		{"17 users", m_seventeen, OMC_ERR_BAD_FORMAT},
		{"version 2", m_version, OMC_ERR_BAD_FORMAT},
		{"negative total", m_total_negative, OMC_ERR_BAD_FORMAT},
		{"total beyond 32 bits", m_total_huge, OMC_ERR_BAD_FORMAT},
		{"t = 0", m_t_zero, OMC_ERR_BAD_FORMAT},
		{"t too large", m_t_huge, OMC_ERR_BAD_FORMAT},
		{"m below 8 KiB per lane", m_m_small, OMC_ERR_BAD_FORMAT},
		{"m too large", m_m_huge, OMC_ERR_BAD_FORMAT},
		{"p = 0", m_p_zero, OMC_ERR_BAD_FORMAT},
		{"unknown role", m_role, OMC_ERR_BAD_FORMAT},
		{"upper-case name", m_name_upper, OMC_ERR_BAD_FORMAT},
		{"empty name", m_name_empty, OMC_ERR_BAD_FORMAT},
		{"name with NUL", m_name_nul, OMC_ERR_BAD_JSON}, /* jansson refuses \u0000 */
		{"blocked as an integer", m_blocked_int, OMC_ERR_BAD_FORMAT},
		{"failures as a string", m_failures_string, OMC_ERR_BAD_FORMAT},
		{"failures at the limit, not blocked", m_failures_unblocked, OMC_ERR_BAD_FORMAT},
		{"failures beyond the limit", m_failures_many, OMC_ERR_BAD_FORMAT},
		{"users as an object", m_users_object, OMC_ERR_BAD_FORMAT},
		{"a user as an array", m_user_array, OMC_ERR_BAD_FORMAT},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(cases); i++) {
		size_t len;
		char *s = mutated(cases[i].mutate, &len);
		omc_users t;
		fast_table(&t);
		omc_err e = omc_users_from_json(&t, s, len);
		if (e != cases[i].want)
			fail_msg("%s: got %s, want %s", cases[i].what, omc_err_name(e), omc_err_name(cases[i].want));
		if (e != OMC_OK) /* never half a table */
			assert_int_equal(t.n, 0);
		free(s);
		omc_users_wipe(&t);
	}

	/* Text-level faults. */
	static const char *const texts[] = {
		"",
		"{",
		"[]",
		"{\"version\":1,\"failures_total\":0,\"users\":[]} x",
		"{\"version\":1,\"version\":1,\"failures_total\":0,\"users\":[]}",
		"{\"version\":1.0,\"failures_total\":0,\"users\":[]}",
		/* Valid, but not the canonical text to_json writes. */
		"{\"version\":1,\"failures_total\":0,\"users\":[]}",
		"{\"failures_total\": 0,\"users\":[],\"version\":1}",
		"{\"failures_total\":0,\"users\":[],\"version\":1}\n",
		"{\"failures_total\":0,\"users\":[],\"version\":1}",
	};
	static const omc_err want[] = {OMC_ERR_BAD_JSON,   OMC_ERR_BAD_JSON,   OMC_ERR_BAD_FORMAT, OMC_ERR_BAD_JSON,
				       OMC_ERR_BAD_JSON,   OMC_ERR_BAD_FORMAT, OMC_ERR_BAD_FORMAT, OMC_ERR_BAD_FORMAT,
				       OMC_ERR_BAD_FORMAT, OMC_OK};
	assert_int_equal(OMC_ARRAY_LEN(texts), OMC_ARRAY_LEN(want));
	for (size_t i = 0; i < OMC_ARRAY_LEN(texts); i++) {
		omc_users t;
		omc_err e = omc_users_from_json(&t, texts[i], strlen(texts[i]));
		if (e != want[i])
			fail_msg("text %zu: got %s, want %s", i, omc_err_name(e), omc_err_name(want[i]));
		assert_int_equal(t.n, 0);
	}
	size_t big = 70 * 1024;
	char *b = malloc(big);
	memset(b, ' ', big);
	omc_users t;
	assert_err(omc_users_from_json(&t, b, big), OMC_ERR_TOO_LARGE);
	free(b);
	assert_err(omc_users_from_json(&t, NULL, 0), OMC_ERR_BAD_ARG);
}

static void test_alloc_failure(void **state)
{
	(void)state;
	omc_users t;
	sample_table(&t);
	char *json = (char *)1;
	size_t len = 9;
	omc_test_alloc_fail_at(1);
	assert_err(omc_users_to_json(&json, &len, &t), OMC_ERR_NOMEM);
	omc_test_alloc_fail_at(0);
	assert_null(json);
	assert_int_equal(len, 0);
	omc_users_wipe(&t);
}

/* Every allocation of to_json made to fail in turn (jansson's included, see
 * main): NOMEM, and nothing returned. */
static void test_alloc_failure_sweep(void **state)
{
	(void)state;
	omc_users t;
	fast_table(&t);
	assert_err(omc_users_add(&t, "a-name-of-thirty-two-characters0", OMC_USER_ROLE_ADMIN, PIN("0000")), OMC_OK);
	assert_err(omc_users_add(&t, "operator-console", OMC_USER_ROLE_OPERATOR, PIN("1111")), OMC_OK);
	t.failures_total = 7;
	char *json = NULL;
	size_t len = 0;
	unsigned long fails = 0;
	for (unsigned long i = 1;; i++) {
		char *j = NULL;
		size_t n = 0;
		unsigned long before = omc_test_alloc_count();
		omc_test_alloc_fail_at(i);
		omc_err e = omc_users_to_json(&j, &n, &t);
		omc_test_alloc_fail_at(0);
		if (omc_test_alloc_count() - before < i) {
			assert_err(e, OMC_OK);
			json = j;
			len = n;
			break;
		}
		assert_err(e, OMC_ERR_NOMEM);
		assert_null(j);
		fails++;
	}
	/* from_json is not swept: jansson's reader (json_loadb) is not safe
	 * under allocation failure (jansson issue #362: it drops characters,
	 * asserts, or writes out of bounds). Its parse is followed by a
	 * canonical re-serialisation check, which test_json_strict covers. */
	omc_users back;
	assert_err(omc_users_from_json(&back, json, len), OMC_OK);
	expect_same_users(&t, &back);
	omc_users_wipe(&back);
	print_message("users: %lu allocation failures injected into to_json, all NOMEM\n", fails);
	omc_free(json);
	omc_users_wipe(&t);
}

int main(void)
{
	/* As in the library (omc_proto_init): jansson allocates through
	 * omc_alloc, so its blocks are wiped and can be made to fail. */
	json_set_alloc_funcs(omc_alloc, omc_free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_init_defaults),
		cmocka_unit_test(test_add_auth_del),
		cmocka_unit_test(test_add_rules),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_set_pin),
		cmocka_unit_test(test_block_after_three),
		cmocka_unit_test(test_unknown_user_like_wrong_pin),
		cmocka_unit_test(test_lockdown),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_never_holds_pin),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_alloc_failure_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
