/* omc_json_loadb: jansson's reader, made safe to call when memory runs out.
 *
 * jansson 2.14's lexer ignores a failed append to its token buffer
 * (lex_save -> strbuffer_append_byte): the token goes on without the byte,
 * so a string can come back with a character missing, and a string token
 * that lost its closing quote is scanned past its end. A document read
 * while any allocation failed is therefore not trusted: it is freed and
 * the caller gets NULL with "out of memory", as for a document jansson
 * could not build. In the test archive the allocation-failure hook is held
 * while jansson reads, since a failure injected there would only exercise
 * jansson's bug, not ours. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/util_internal.h"

json_t *omc_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	unsigned long failed = omc_alloc_failures();
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(true);
#endif
	json_t *j = json_loadb(buf, len, flags, err);
#ifdef OMC_TEST_HOOKS
	omc_test_alloc_hold(false);
#endif
	if (omc_alloc_failures() != failed) {
		json_decref(j);
		j = NULL;
		if (err) {
			err->line = err->column = -1;
			err->position = 0;
			snprintf(err->source, sizeof err->source, "<buffer>");
			snprintf(err->text, sizeof err->text, "out of memory");
		}
	}
	return j;
}

json_t *omc_json_loads(const char *s, size_t flags, json_error_t *err)
{
	return omc_json_loadb(s, s ? strlen(s) : 0, flags, err);
}

/* jansson's writer can also go on past a failed allocation and return a
 * document (its internal tables are optional to it): a document written
 * while any allocation failed is not trusted either. */
char *omc_json_dumps(const json_t *j, size_t flags)
{
	unsigned long failed = omc_alloc_failures();
	char *s = json_dumps(j, flags);
	if (s && omc_alloc_failures() != failed) {
		omc_free(s);
		s = NULL;
	}
	return s;
}
