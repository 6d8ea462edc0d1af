/* The MCIM lifecycle table (MGT-4, MGT-5): every (state, event, actor)
 * triple, inside the table and outside it; properties of the table; and the
 * copy of the table in docs/lifecycle.md, which must not drift.
 * covers: MGT-4, MGT-5, MGT-2, MGT-7, TRE-5, CHG-2 */
#include "testlib.h"

#include <stdlib.h>

#include "openmcim/tre.h"

static int in_table(omc_mcim_state f, omc_mcim_event e, omc_actor_kind a, omc_mcim_state *to)
{
	size_t n;
	const omc_lifecycle_rule *t = omc_lifecycle_table(&n);
	int hits = 0;
	for (size_t i = 0; i < n; i++)
		if (t[i].from == f && t[i].event == e && t[i].actor == a) {
			*to = t[i].to;
			hits++;
		}
	return hits;
}

static void test_every_triple(void **state)
{
	(void)state;
	unsigned allowed = 0, refused = 0;
	for (int f = 0; f < OMC_MCIM_STATE_COUNT; f++)
		for (int e = 0; e < OMC_MCIM_EVENT_COUNT; e++)
			for (int a = 0; a < OMC_ACTOR_KIND_COUNT; a++) {
				omc_mcim_state want = OMC_MCIM_INSTALLED, got = OMC_MCIM_INSTALLED;
				int hits = in_table((omc_mcim_state)f, (omc_mcim_event)e, (omc_actor_kind)a, &want);
				assert_true(hits <= 1); /* no overlapping rows */
				omc_err err = omc_lifecycle_next(&got, (omc_mcim_state)f, (omc_mcim_event)e,
								 (omc_actor_kind)a);
				if (hits) {
					assert_int_equal(err, OMC_OK);
					assert_int_equal(got, want);
					allowed++;
				} else {
					assert_int_equal(err, OMC_ERR_DENIED);
					refused++;
				}
			}
	print_message("lifecycle: %u triples allowed, %u refused\n", allowed, refused);
	assert_int_equal(allowed + refused, OMC_MCIM_STATE_COUNT * OMC_MCIM_EVENT_COUNT * OMC_ACTOR_KIND_COUNT);
}

static void test_properties(void **state)
{
	(void)state;
	size_t n;
	const omc_lifecycle_rule *t = omc_lifecycle_table(&n);
	bool reachable[OMC_MCIM_STATE_COUNT] = {[OMC_MCIM_INSTALLED] = true};
	for (size_t i = 0; i < n; i++) {
		/* deleted is terminal */
		assert_int_not_equal(t[i].from, OMC_MCIM_DELETED);
		/* nothing for an unauthorised caller */
		assert_int_not_equal(t[i].actor, OMC_ACTOR_OTHER);
		/* only the owner activates a fresh install; only the owner unblocks */
		if (t[i].from == OMC_MCIM_INSTALLED && t[i].event == OMC_EV_ACTIVATE)
			assert_int_equal(t[i].actor, OMC_ACTOR_OWNER);
		if (t[i].event == OMC_EV_UNBLOCK) {
			assert_int_equal(t[i].actor, OMC_ACTOR_OWNER);
			assert_int_equal(t[i].to, OMC_MCIM_DEACTIVATED);
		}
		/* the RO never activates; users never unblock, block or delete */
		if (t[i].actor == OMC_ACTOR_RO)
			assert_int_equal(t[i].event, OMC_EV_DELETE);
		if (t[i].actor == OMC_ACTOR_USER)
			assert_true(t[i].event == OMC_EV_ACTIVATE || t[i].event == OMC_EV_DEACTIVATE);
		/* integrity failures always block, and only the TRE reports them */
		if (t[i].event == OMC_EV_INTEGRITY_FAIL) {
			assert_int_equal(t[i].actor, OMC_ACTOR_TRE);
			assert_int_equal(t[i].to, OMC_MCIM_BLOCKED);
		}
		/* every delete ends in deleted */
		if (t[i].event == OMC_EV_DELETE)
			assert_int_equal(t[i].to, OMC_MCIM_DELETED);
	}
	/* every state is reachable from installed */
	for (int round = 0; round < OMC_MCIM_STATE_COUNT; round++)
		for (size_t i = 0; i < n; i++)
			if (reachable[t[i].from])
				reachable[t[i].to] = true;
	for (int s = 0; s < OMC_MCIM_STATE_COUNT; s++)
		assert_true(reachable[s]);
	/* from every live state the owner and the RO can delete, and the TRE can block */
	for (int s = 0; s < OMC_MCIM_STATE_COUNT; s++) {
		if (s == OMC_MCIM_DELETED)
			continue;
		omc_mcim_state to;
		assert_int_equal(omc_lifecycle_next(&to, (omc_mcim_state)s, OMC_EV_DELETE, OMC_ACTOR_OWNER), OMC_OK);
		assert_int_equal(omc_lifecycle_next(&to, (omc_mcim_state)s, OMC_EV_DELETE, OMC_ACTOR_RO), OMC_OK);
		assert_int_equal(omc_lifecycle_next(&to, (omc_mcim_state)s, OMC_EV_INTEGRITY_FAIL, OMC_ACTOR_TRE),
				 OMC_OK);
	}
}

static void test_names(void **state)
{
	(void)state;
	for (int s = 0; s < OMC_MCIM_STATE_COUNT; s++) {
		omc_mcim_state back;
		assert_int_equal(omc_mcim_state_parse(&back, omc_mcim_state_name((omc_mcim_state)s)), OMC_OK);
		assert_int_equal(back, s);
	}
	for (int e = 0; e < OMC_MCIM_EVENT_COUNT; e++) {
		omc_mcim_event back;
		assert_int_equal(omc_mcim_event_parse(&back, omc_mcim_event_name((omc_mcim_event)e)), OMC_OK);
		assert_int_equal(back, e);
	}
	omc_mcim_state s;
	assert_int_equal(omc_mcim_state_parse(&s, "Activated"), OMC_ERR_BAD_FORMAT);
	assert_string_equal(omc_mcim_state_name((omc_mcim_state)9), "unknown");
	assert_string_equal(omc_actor_kind_name(OMC_ACTOR_RO), "ro");
}

/* docs/lifecycle.md holds the table between two marker lines; it must be
 * exactly what the code's table renders to. */
static void test_doc_mirror(void **state)
{
	(void)state;
	char want[8192] = "";
	size_t n;
	const omc_lifecycle_rule *t = omc_lifecycle_table(&n);
	strcat(want, "| from | event | actor | to |\n|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		char row[160];
		snprintf(row, sizeof row, "| %s | %s | %s | %s |\n", omc_mcim_state_name(t[i].from),
			 omc_mcim_event_name(t[i].event), omc_actor_kind_name(t[i].actor), omc_mcim_state_name(t[i].to));
		strcat(want, row);
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/../../docs/lifecycle.md", OMC_VECTORS_DIR);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	static char doc[65536];
	size_t len = fread(doc, 1, sizeof doc - 1, f);
	fclose(f);
	doc[len] = '\0';
	const char *b = strstr(doc, "<!-- table:begin -->\n");
	const char *e = strstr(doc, "<!-- table:end -->");
	if (!b || !e || e < b)
		fail_msg("docs/lifecycle.md lacks the table markers");
	b += strlen("<!-- table:begin -->\n");
	if ((size_t)(e - b) == strlen(want) && strncmp(b, want, strlen(want)) == 0)
		return;
	/* OMC_REGEN_DOCS=1 rewrites the doc's table from the code's. */
	const char *regen = getenv("OMC_REGEN_DOCS");
	if (regen && !strcmp(regen, "1")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fwrite(doc, 1, (size_t)(b - doc), f);
		fputs(want, f);
		fputs(e, f);
		fclose(f);
		print_message("rewrote the table in %s\n", path);
		return;
	}
	fail_msg("docs/lifecycle.md differs from src/tre/lifecycle.c: run OMC_REGEN_DOCS=1 %s", "tre_lifecycle_test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_triple),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_doc_mirror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
