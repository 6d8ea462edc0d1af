/* Prints the Promela form of the MCIM lifecycle table (src/tre/lifecycle.c,
 * through omc_lifecycle_table()), the one source of truth of model/.
 *
 *   lifecycle_pml            the text on stdout
 *   lifecycle_pml FILE       exit 0 if FILE holds exactly that text, else 1
 *
 * ctest runs the second form on model/lifecycle.pml, so a change of the C
 * table that is not regenerated into the model fails the build's tests.
 * covers: MGT-4 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openmcim/tre.h"

#define OUT_MAX 16384

typedef struct {
	char buf[OUT_MAX];
	size_t len;
	int overflow;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof o->buf - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}

/* "integrity_fail" -> "INTEGRITY_FAIL" */
static const char *upper(const char *s)
{
	static char b[4][32];
	static unsigned k;
	char *d = b[k++ % 4];
	size_t i = 0;
	for (; s[i] && i < 31; i++)
		d[i] = (char)toupper((unsigned char)s[i]);
	d[i] = 0;
	return d;
}

static void render(out *o)
{
	size_t n = 0;
	const omc_lifecycle_rule *t = omc_lifecycle_table(&n);
	put(o, "/* GENERATED from src/tre/lifecycle.c by tests/model/lifecycle_pml.c: do not edit.\n"
	       " * Regenerate: build/tests/lifecycle_pml > model/lifecycle.pml (ctest model_lifecycle_sync\n"
	       " * fails while the two differ). State 0 (M_NONE) is the model's \"no record\"; the C\n"
	       " * states are shifted by one. */\n");
	put(o, "#define M_NONE 0\n");
	for (unsigned s = 0; s < OMC_MCIM_STATE_COUNT; s++)
		put(o, "#define M_%s %u\n", upper(omc_mcim_state_name((omc_mcim_state)s)), s + 1);
	put(o, "#define M_REFUSED 255\n");
	for (unsigned e = 0; e < OMC_MCIM_EVENT_COUNT; e++)
		put(o, "#define E_%s %u\n", upper(omc_mcim_event_name((omc_mcim_event)e)), e);
	for (unsigned a = 0; a < OMC_ACTOR_KIND_COUNT; a++)
		put(o, "#define A_%s %u\n", upper(omc_actor_kind_name((omc_actor_kind)a)), a);
	put(o, "#define LC_ROWS %zu\n\n", n);
	put(o, "/* omc_lifecycle_next(): first match of (from, event, actor), else refused. */\n");
	put(o, "inline lc_next(from, ev, actor, to) {\n\tif\n");
	for (size_t i = 0; i < n; i++)
		put(o, "\t:: from == M_%s && ev == E_%s && actor == A_%s -> to = M_%s\n",
		    upper(omc_mcim_state_name(t[i].from)), upper(omc_mcim_event_name(t[i].event)),
		    upper(omc_actor_kind_name(t[i].actor)), upper(omc_mcim_state_name(t[i].to)));
	put(o, "\t:: else -> to = M_REFUSED\n\tfi\n}\n");
}

int main(int argc, char **argv)
{
	static out o;
	render(&o);
	if (o.overflow) {
		fprintf(stderr, "lifecycle_pml: output too large\n");
		return 2;
	}
	if (argc < 2) {
		fwrite(o.buf, 1, o.len, stdout);
		return 0;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "lifecycle_pml: cannot open %s\n", argv[1]);
		return 1;
	}
	static char have[OUT_MAX + 1];
	size_t got = fread(have, 1, sizeof have, f);
	fclose(f);
	if (got != o.len || memcmp(have, o.buf, o.len) != 0) {
		fprintf(stderr, "lifecycle_pml: %s differs from the table in src/tre/lifecycle.c; regenerate it\n",
			argv[1]);
		return 1;
	}
	return 0;
}
