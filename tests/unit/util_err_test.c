/* Error codes (src/util/err.c), driven by the X-macro table in err.h itself:
 * every row's code has its own name and value, a non-empty message and the
 * category the row says; values outside the table are "UNKNOWN"; every
 * category has a name; OMC_OK is 0. */
#include "testlib.h"
#include "util/util_internal.h"

_Static_assert(OMC_OK == 0, "OMC_OK must be 0");

typedef struct err_row {
	omc_err code;
	const char *name;
	omc_err_cat cat;
	const char *cat_token;
	unsigned n;
	const char *msg;
} err_row;

static const err_row rows[] = {
#define ROW_(name, cat, n, msg) {OMC_ERR_##name, #name, OMC_CAT_##cat, #cat, n, msg},
	OMC_ERR_TABLE(ROW_)
#undef ROW_
};
#define NROWS (sizeof rows / sizeof rows[0])

static void test_ok_is_zero(void **state)
{
	(void)state;
	assert_int_equal(OMC_OK, 0);
	assert_int_equal(OMC_ERR_OK, 0);
	assert_int_equal(OMC_CAT_OK, 0);
	assert_int_equal(omc_err_category(OMC_OK), OMC_CAT_OK);
	assert_string_equal(omc_err_name(OMC_OK), "OK");
	/* Exactly one row is success, and it is the first. */
	size_t zeros = 0;
	for (size_t i = 0; i < NROWS; i++)
		zeros += rows[i].code == 0;
	assert_int_equal(zeros, 1);
	assert_int_equal(rows[0].code, OMC_OK);
}

static void test_every_row(void **state)
{
	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		const err_row *r = &rows[i];
		/* The code is the row's category and number. */
		assert_int_equal(r->code, OMC_ERR_CODE(r->cat, r->n));
		assert_in_range(r->n, r->code == OMC_OK ? 0u : 1u, 255u);
		if (omc_err_category(r->code) != r->cat)
			fail_msg("%s: category %d, table says %s", r->name, (int)omc_err_category(r->code),
				 r->cat_token);
		/* The category's name is the table's token, and a known one. */
		assert_string_equal(omc_err_cat_name(r->cat), r->cat_token);
		assert_string_not_equal(omc_err_cat_name(r->cat), "UNKNOWN");
		/* Name and message come from this row. */
		assert_string_equal(omc_err_name(r->code), r->name);
		const char *m = omc_err_str(r->code);
		assert_non_null(m);
		assert_true(m[0] != '\0');
		assert_string_equal(m, r->msg);
		/* One line (err.h). */
		assert_null(strchr(m, '\n'));
	}
}

static void test_rows_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		for (size_t j = i + 1; j < NROWS; j++) {
			if (rows[i].code == rows[j].code)
				fail_msg("%s and %s share the value 0x%x", rows[i].name, rows[j].name,
					 (unsigned)rows[i].code);
			if (strcmp(omc_err_name(rows[i].code), omc_err_name(rows[j].code)) == 0)
				fail_msg("%s and %s share a name", rows[i].name, rows[j].name);
		}
	}
}

/* Every category except OK has at least one code. */
static void test_categories_used(void **state)
{
	(void)state;
	for (int c = OMC_CAT_USAGE; c <= OMC_CAT_INTERNAL; c++) {
		size_t k = 0;
		for (size_t i = 0; i < NROWS; i++)
			k += rows[i].cat == (omc_err_cat)c;
		if (k == 0)
			fail_msg("category %s has no code", omc_err_cat_name((omc_err_cat)c));
	}
}

static int in_table(unsigned v)
{
	for (size_t i = 0; i < NROWS; i++)
		if ((unsigned)rows[i].code == v)
			return 1;
	return 0;
}

static void test_unknown_values(void **state)
{
	(void)state;
	/* Every value of the 16-bit code space that no row uses. */
	size_t unknown = 0;
	for (unsigned v = 0; v <= 0xffffu; v++) {
		if (in_table(v))
			continue;
		const omc_err e = (omc_err)v;
		const char *name = omc_err_name(e);
		if (strcmp(name, "UNKNOWN") != 0)
			fail_msg("0x%x is not in the table but is named %s", v, name);
		const char *m = omc_err_str(e);
		assert_non_null(m);
		assert_true(m[0] != '\0');
		unknown++;
	}
	assert_int_equal(unknown, 0x10000u - NROWS);
	/* And some beyond it. */
	static const unsigned far[] = {0x10000u, 0x10101u, 0x7fffffffu};
	for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
		assert_string_equal(omc_err_name((omc_err)far[i]), "UNKNOWN");
		assert_non_null(omc_err_str((omc_err)far[i]));
	}
}

static void test_category_names(void **state)
{
	(void)state;
	static const struct {
		omc_err_cat c;
		const char *name;
	} cats[] = {
		{OMC_CAT_OK, "OK"},         {OMC_CAT_USAGE, "USAGE"},   {OMC_CAT_INPUT, "INPUT"},
		{OMC_CAT_AUTH, "AUTH"},     {OMC_CAT_POLICY, "POLICY"}, {OMC_CAT_STORE, "STORE"},
		{OMC_CAT_TAMPER, "TAMPER"}, {OMC_CAT_INTERNAL, "INTERNAL"},
	};
	for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
		assert_int_equal(cats[i].c, i);
		assert_string_equal(omc_err_cat_name(cats[i].c), cats[i].name);
	}
	static const unsigned bad[] = {8, 9, 0xff, 0x100, 0x7fffffffu};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_string_equal(omc_err_cat_name((omc_err_cat)bad[i]), "UNKNOWN");
}

/* The category sits in bits 8..15, so callers can branch on it for any code
 * of that category, known or not. */
static void test_category_bits(void **state)
{
	(void)state;
	for (unsigned c = 0; c <= 7; c++)
		for (unsigned n = 0; n <= 255; n++)
			assert_int_equal(omc_err_category((omc_err)OMC_ERR_CODE(c, n)), c);
	assert_int_equal(omc_err_category(OMC_ERR_MAC_FAILURE), OMC_CAT_AUTH);
	assert_int_equal(omc_err_category(OMC_ERR_LOCKDOWN), OMC_CAT_TAMPER);
	assert_int_equal(omc_err_category(OMC_ERR_NOMEM), OMC_CAT_INTERNAL);
}

/* A failure raised through OMC_ENSURE/OMC_BAIL records where it happened. */
static void test_err_source(void **state)
{
	(void)state;
	uint8_t out[1];
	assert_int_equal(omc_hex_decode(out, 1, "zz", 2), OMC_ERR_BAD_HEX);
	const char *src = omc_err_source();
	assert_non_null(src);
	assert_non_null(strstr(src, "hex.c:"));
	assert_true(strlen(src) > strlen("hex.c:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_is_zero),       cmocka_unit_test(test_every_row),
		cmocka_unit_test(test_rows_distinct),    cmocka_unit_test(test_categories_used),
		cmocka_unit_test(test_unknown_values),   cmocka_unit_test(test_category_names),
		cmocka_unit_test(test_category_bits),    cmocka_unit_test(test_err_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
