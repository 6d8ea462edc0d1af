/* A downgraded algorithm at the CCIF (issue 7, docs/SECURITY.md): an ICO
 * whose config says `alg = tuak` takes no PCID reported with MILENAGE, nor
 * a TUAK one with fewer Keccak iterations (or a shorter MAC, RES, CK or IK)
 * than its own: 403 bad_report, the database as it was. With the ICO's
 * TUAK lengths at the defaults the same TUAK device is taken (the control),
 * and a MILENAGE ICO takes both (the story tests).
 * covers: SEC-4, CCIF-2 */
#include "srv_fixture.h"

#define TOPC "cd63cb71954a9f4e48a5994e37a02baf53c15671c60a4b731c55b4a441c0bde2"

static void on_answer(void *arg, int status, const char *body, size_t len)
{
	(void)arg;
	if (status >= 400)
		print_message("answer %d: %.*s\n", status, (int)len, body);
}


static void refused(sf_env *e, sf_dev *d, const char *what)
{
	uint8_t before[32], after[32];
	sf_db_digest(e, before);
	int st = sf_report_pcid(e, d);
	if (st != 403)
		fail_msg("%s: the report answered %d, want 403 bad_report", what, st);
	sf_db_digest(e, after);
	assert_memory_equal(before, after, 32);
}

static void test_ico_requires_tuak(void **state)
{
	(void)state;
	sf_env e;
	sf_up(&e);
	sf_hook.answer = on_answer;
	sf_restart_with(&e, "operator ico", "alg = tuak\ntuak_iterations = 2\n");
	sf_dev mil, tuak;
	sf_dev_make(&e, &mil, NULL); /* MILENAGE, made here (mode 2) */
	char pj[256];
	snprintf(pj, sizeof pj,
		 "{\"imsi\":\"001010000000077\",\"k\":\"465b5ce8b199b49faa5f0a2ee238a6bc\",\"alg\":\"tuak\","
		 "\"topc\":\"" TOPC "\"}");
	sf_dev_make(&e, &tuak, pj); /* TUAK, one iteration and the shortest lengths */
	refused(&e, &mil, "MILENAGE where the ICO asks for TUAK");
	refused(&e, &tuak, "TUAK with 1 iteration where the ICO asks for 2");
	sf_stop(&e);
	/* the ICO's TUAK at the default lengths and one iteration */
	char *at = NULL;
	{
		FILE *f = fopen(e.conf, "r");
		assert_non_null(f);
		static char buf[16384];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		/* the last one: the ICO's, appended after sho2's */
		for (char *p = buf; (p = strstr(p, "tuak_iterations = 2\n")) != NULL; p++)
			at = p;
		assert_non_null(at);
		memcpy(at, "tuak_iterations = 1\n", 20);
		f = fopen(e.conf, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, n, f), n);
		fclose(f);
	}
	sf_start(&e);
	refused(&e, &mil, "MILENAGE where the ICO asks for TUAK (default lengths)");
	assert_int_equal(sf_report_pcid(&e, &tuak), 201);
	sf_dev_free(&mil);
	sf_dev_free(&tuak);
	sf_hook.answer = NULL;
	sf_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ico_requires_tuak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
