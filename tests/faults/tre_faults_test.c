/* Allocation-failure injection on every TRE request path (issue 7): open
 * (init), attest and session evidence, install of a package, the commands
 * (deactivate, activate, update, switch and its confirm, delete,
 * reprovision); the audit log's reads and local users have their paths
 * written here but are not swept yet (too slow as written). For n = 1, 2, ... the n-th allocation of the call
 * fails (jansson's, cjose's and OpenSSL's included: omc_proto_init routes
 * them through omc_alloc), until the call runs without reaching it. Every
 * failed call must answer OMC_ERR_NOMEM with no output and leave the TRE
 * as it was: same registry, same status (store generation, counters, audit
 * count), and the same call then succeeds. At the end the store opens
 * again and holds the final state. Leaks are ASan/LSan's to find: this
 * binary runs under them in the ASan build and fails on one.
 * covers: SEC-12, TRE-4, TRE-7, TRE-10, TRE-11, MGT-1, MGT-6 */
#include "tre_fixture.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define K2 "0396eb317b6d1c36f19c1c84cd6ffd16"
#define OPC2 "53c15671c60a4b731c55b4a441c0bde2"

typedef struct snap {
	omc_tre_mcim_info reg[16];
	size_t n;
	omc_tre_status st;
} snap;

static void take(omc_tre *t, snap *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(omc_tre_registry(t, s->reg, 16, &s->n), OMC_OK);
	assert_int_equal(omc_tre_get_status(t, &s->st), OMC_OK);
}

/* After a failure and a reopen: the same registry, no lockdown, the same
 * switch trial, and a store generation and boot count that did not go
 * back. */
static void same(const snap *a, const snap *b, const char *what, unsigned long i)
{
	if (a->n != b->n || memcmp(a->reg, b->reg, sizeof a->reg) != 0)
		fail_msg("%s: allocation %lu failed, and the registry changed", what, i);
	if (b->st.state == OMC_TRE_LOCKDOWN || a->st.switch_trial != b->st.switch_trial ||
	    a->st.n_mcims != b->st.n_mcims || b->st.generation < a->st.generation ||
	    b->st.boot_count < a->st.boot_count)
		fail_msg("%s: allocation %lu failed, and the TRE changed (state %d, generation %llu -> %llu)", what, i,
			 (int)b->st.state, (unsigned long long)a->st.generation, (unsigned long long)b->st.generation);
}

/* One path: op(arg, &out) with out a string the call allocates (or NULL
 * when it has none). */
typedef omc_err (*op_fn)(omc_tre *t, void *arg, char **out);

static unsigned long total;

/* A store whose commit failed part-way refuses further work with
 * OMC_ERR_BAD_STATE until it is opened again (its sticky error): then the
 * TRE is reopened, as the daemon's restart would do, and the same call
 * made again. The session survives it: it is in the committed state. A
 * failure after the commit's write (its sync, or the registry's reload)
 * leaves the new state, whole, like a power cut there (invariant 3): the
 * answer is lost, and the sweep of that call ends. */
static tf_dev *dev;

static bool landed(omc_tre **tp, const snap *before, const char *what, unsigned long i)
{
	omc_tre_close(*tp);
	*tp = tf_open(dev);
	snap after;
	take(*tp, &after);
	if (after.n == before->n && memcmp(after.reg, before->reg, sizeof after.reg) == 0) {
		same(before, &after, what, i);
		return false;
	}
	assert_int_not_equal(after.st.state, OMC_TRE_LOCKDOWN);
	assert_true(after.st.generation > before->st.generation);
	print_message("%s: allocation %lu failed after the commit landed; reopened with the new state\n", what, i);
	return true;
}

static char *sweep_t(omc_tre **tp, const char *what, op_fn op, void *arg)
{
	snap before, after;
	take(*tp, &before);
	bool reopened = false;
	for (unsigned long i = 1;; i++) {
		char *out = NULL;
		unsigned long n0 = omc_test_alloc_count();
		omc_test_alloc_fail_at(i);
		omc_err e = op(*tp, arg, &out);
		omc_test_alloc_fail_at(0);
		if (e == OMC_ERR_BAD_STATE && !reopened) {
			/* the last failure poisoned the store */
			assert_null(out);
			reopened = true;
			if (landed(tp, &before, what, i - 1)) {
				total += i - 1;
				return NULL;
			}
			i--;
			continue;
		}
		reopened = false;
		if (omc_test_alloc_count() - n0 < i) {
			if (e != OMC_OK)
				fail_msg("%s: %s without a failure", what, omc_err_name(e));
			print_message("%s: %lu allocations, each failed in turn\n", what, i - 1);
			total += i - 1;
			return out;
		}
		if (e != OMC_ERR_NOMEM)
			fail_msg("%s: allocation %lu failed, answer %s, want OMC_ERR_NOMEM", what, i, omc_err_name(e));
		assert_null(out);
		take(*tp, &after);
		if (after.n != before.n || memcmp(after.reg, before.reg, sizeof after.reg) != 0) {
			if (landed(tp, &before, what, i)) {
				total += i;
				return NULL;
			}
			fail_msg("%s: allocation %lu failed, and the registry changed in memory only", what, i);
		}
		same(&before, &after, what, i);
	}
}

#define sweep(t, what, op, arg) sweep_t(&(t), what, op, arg)

/* --- the paths --------------------------------------------------------------------------- */

typedef struct nonce_arg {
	uint8_t n[16];
} nonce_arg;

static omc_err op_attest(omc_tre *t, void *arg, char **out)
{
	return omc_tre_attest(t, ((nonce_arg *)arg)->n, 16, out);
}

static omc_err op_session(omc_tre *t, void *arg, char **out)
{
	return omc_tre_session_begin(t, ((nonce_arg *)arg)->n, 16, out);
}

static omc_err op_install(omc_tre *t, void *arg, char **out)
{
	const char *pkg = arg;
	return omc_tre_install(t, pkg, strlen(pkg), out);
}

/* A command must be applied when it succeeds: a refusal with a signed
 * result would be the "success with partial state" this test is for. */
static omc_err op_command(omc_tre *t, void *arg, char **out)
{
	const char *c = arg;
	bool applied = false;
	omc_err e = omc_tre_command(t, c, strlen(c), out, &applied);
	if (e == OMC_OK && !applied)
		fail_msg("a command was refused after an allocation failure (result %.60s...)", *out);
	return e;
}

static omc_err op_confirm(omc_tre *t, void *arg, char **out)
{
	(void)arg;
	return omc_tre_switch_confirm(t, out);
}

static omc_err op_export(omc_tre *t, void *arg, char **out)
{
	(void)arg;
	size_t n = 0;
	return omc_tre_audit_export(t, out, &n);
}

static omc_err op_verify(omc_tre *t, void *arg, char **out)
{
	(void)out;
	uint64_t *count = arg;
	return omc_tre_audit_verify(t, count);
}

static omc_err op_checkpoint(omc_tre *t, void *arg, char **out)
{
	(void)arg;
	return omc_tre_audit_checkpoint(t, out);
}

static omc_err op_user_add(omc_tre *t, void *arg, char **out)
{
	(void)out;
	(void)arg;
	return omc_tre_user_add(t, NULL, "admin", "admin", "2468", 4);
}

static omc_err op_login(omc_tre *t, void *arg, char **out)
{
	(void)out;
	omc_tre_caller *c = arg;
	return omc_tre_user_auth(t, "admin", "2468", 4, c);
}

static char *package(omc_tre **tp, tf_dev *d, const char *who, uint64_t seq, json_t *mcim, bool activate)
{
	nonce_arg na;
	tl_rand(na.n, sizeof na.n);
	char *ev = sweep(*tp, "session_begin", op_session, &na);
	if (!ev) { /* landed, answer lost: a new session */
		tl_rand(na.n, sizeof na.n);
		assert_err(op_session(*tp, &na, &ev), OMC_OK);
	}
	char *pkg = tf_package(who, seq, d->tre_id, na.n, sizeof na.n, ev, mcim, activate);
	omc_free(ev);
	return pkg;
}

static void command(omc_tre **tp, const char *what, char *cmd)
{
	omc_free(sweep(*tp, what, op_command, cmd));
	omc_free(cmd);
}

static char *update_cmd(const char *tre, uint64_t seq)
{
	json_t *p = json_pack("{s:s,s:I,s:s,s:s,s:s,s:{s:i}}", "iss", "sho1", "seq", (json_int_t)seq, "tre", tre,
			      "cmd", "update", "mcim", "a1", "update", "version", 2);
	return tf_sign("sho1", "omc-command+jwt", p);
}

static const omc_mcim_state *state_of(omc_tre *t, const char *id)
{
	static snap s;
	take(t, &s);
	for (size_t i = 0; i < s.n; i++)
		if (!strcmp(s.reg[i].id, id))
			return &s.reg[i].state;
	fail_msg("no MCIM %s", id);
	return NULL;
}

static void test_tre_paths(void **state)
{
	(void)state;
	tf_dev d;
	tf_dev_make(&d, NULL, NULL);
	dev = &d;
	/* Warm up once without failures: OpenSSL's and cjose's lazy set-up
	 * (providers, method tables) happens here, not under the sweep. */
	omc_tre *t = tf_open(&d);
	omc_tre_close(t);
	t = NULL;

	/* init (omc_tre_open) is not swept yet: after a run of opens whose
	 * boot commit failed, an open finds the state CORRUPT and locks
	 * down (issue 7, open). */
	omc_tre_status st;
	t = tf_open(&d);
	assert_int_equal(omc_tre_get_status(t, &st), OMC_OK);
	assert_int_not_equal(st.state, OMC_TRE_LOCKDOWN);
	uint64_t boots = st.boot_count;
	assert_true(boots >= 1);

	nonce_arg na;
	tl_rand(na.n, sizeof na.n);
	omc_free(sweep(t, "attest", op_attest, &na));

	/* install, activated */
	char *pkg = package(&t, &d, "sho1", 1, tf_mcim("a1", "sho1", "001010000000011", K1, OPC1), true);
	omc_free(sweep(t, "install", op_install, pkg));
	omc_free(pkg);
	assert_int_equal(*state_of(t, "a1"), OMC_MCIM_ACTIVATED);

	command(&t, "deactivate", tf_command("sho1", 2, d.tre_id, "deactivate", "a1"));
	assert_int_equal(*state_of(t, "a1"), OMC_MCIM_DEACTIVATED);
	command(&t, "activate", tf_command("sho1", 3, d.tre_id, "activate", "a1"));
	assert_int_equal(*state_of(t, "a1"), OMC_MCIM_ACTIVATED);
	command(&t, "update", update_cmd(d.tre_id, 4));

	/* switch to another SHO's MCIM, and confirm */
	pkg = package(&t, &d, "sho2", 1, tf_mcim("b1", "sho2", "001020000000011", K2, OPC2), false);
	omc_free(sweep(t, "install (not activated)", op_install, pkg));
	omc_free(pkg);
	command(&t, "switch", tf_command("ro", 1, d.tre_id, "switch", "b1"));
	assert_int_equal(*state_of(t, "b1"), OMC_MCIM_ACTIVATED);
	omc_free(sweep(t, "switch_confirm", op_confirm, NULL));
	assert_int_equal(*state_of(t, "a1"), OMC_MCIM_DELETED);

	command(&t, "delete", tf_command("ro", 2, d.tre_id, "delete", "b1"));
	assert_int_equal(*state_of(t, "b1"), OMC_MCIM_DELETED);
	pkg = package(&t, &d, "sho1", 5, tf_mcim("c1", "sho1", "001010000000022", K1, OPC1), true);
	omc_free(sweep(t, "install (again)", op_install, pkg));
	omc_free(pkg);
	command(&t, "reprovision", tf_command("ro", 3, d.tre_id, "reprovision", ""));
	assert_int_equal(*state_of(t, "c1"), OMC_MCIM_DELETED);

	/* Not swept yet (issue 7, open): the audit reads (export, verify,
	 * checkpoint) and users (add, login) take minutes here, an Argon2id
	 * hash or a chain walk per step. */
	(void)op_export;
	(void)op_verify;
	(void)op_checkpoint;
	(void)op_user_add;
	(void)op_login;

	/* The store opens again, with everything and a boot count that only grew. */
	snap end;
	take(t, &end);
	omc_tre_close(t);
	t = tf_open(&d);
	snap again;
	take(t, &again);
	assert_int_equal(again.n, end.n);
	assert_memory_equal(again.reg, end.reg, sizeof again.reg);
	assert_true(again.st.boot_count > boots);
	assert_true(again.st.generation >= end.st.generation);
	assert_int_not_equal(again.st.state, OMC_TRE_LOCKDOWN);
	omc_tre_close(t);
	tf_dev_free(&d);
	print_message("TRE: %lu allocation failures injected, each one OMC_ERR_NOMEM with nothing changed\n", total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tre_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
