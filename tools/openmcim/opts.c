/* Option helpers shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "openmcim/openmcim.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "openmcim %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_USAGE;
}

bool cli_hex_opt(const char *cmd, const char *opt, char *arg, uint8_t *out, const size_t *lens, size_t n_lens,
		 size_t *got, bool secret)
{
	size_t n = strlen(arg);
	bool fits = false;
	for (size_t i = 0; i < n_lens; i++)
		fits = fits || n == 2 * lens[i];
	if (!fits) {
		char want[64] = "";
		for (size_t i = 0; i < n_lens; i++) {
			size_t l = strlen(want);
			snprintf(want + l, sizeof want - l, "%s%zu", i ? (i + 1 == n_lens ? " or " : ", ") : "",
				 2 * lens[i]);
		}
		cli_usage_error(cmd, "%s: expected %s hex digits, got %zu", opt, want, n);
		if (secret)
			memset(arg, 'x', n);
		return false;
	}
	omc_err e = omc_hex_decode(out, n / 2, arg, n);
	if (secret)
		memset(arg, 'x', n);
	if (e != OMC_OK) {
		cli_usage_error(cmd, "%s: %s", opt, omc_err_str(e));
		return false;
	}
	if (got)
		*got = n / 2;
	return true;
}

bool cli_uint_opt(const char *cmd, const char *opt, const char *arg, unsigned long min, unsigned long max,
		  unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		cli_usage_error(cmd, "%s: expected an integer from %lu to %lu, got '%s'", opt, min, max, arg);
		return false;
	}
	*out = v;
	return true;
}

bool cli_read_file(const char *cmd, const char *opt, const char *path, char **data, size_t *len, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_usage_error(cmd, "%s: cannot open '%s': %s", opt, path, strerror(errno));
		return false;
	}
	char *b = omc_alloc(max + 1);
	size_t n = b ? fread(b, 1, max + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (!b || err || n > max) {
		omc_free(b);
		cli_usage_error(cmd, "%s: '%s' is %s", opt, path, !b ? "too large to read" : err ? "unreadable" : "too large");
		return false;
	}
	b[n] = 0;
	*data = b;
	*len = n;
	return true;
}

void cli_hex(char *out, const uint8_t *in, size_t n)
{
	if (omc_hex_encode(out, 2 * n + 1, in, n) != OMC_OK)
		out[0] = '\0';
}

void cli_json_begin(cli_json *j, FILE *f)
{
	j->f = f;
	j->n = 0;
	fputc('{', f);
}

static void key(cli_json *j, const char *k)
{
	fprintf(j->f, "%s\"%s\":", j->n++ ? "," : "", k);
}

void cli_json_str(cli_json *j, const char *k, const char *val)
{
	key(j, k);
	fputc('"', j->f);
	for (const char *p = val; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			fprintf(j->f, "\\%c", c);
		else if (c < 0x20)
			fprintf(j->f, "\\u%04x", c);
		else
			fputc(c, j->f);
	}
	fputc('"', j->f);
}

void cli_json_hex(cli_json *j, const char *k, const uint8_t *v, size_t n)
{
	char buf[2 * 64 + 1];
	if (n > 64)
		n = 64;
	cli_hex(buf, v, n);
	cli_json_str(j, k, buf);
	omc_memzero(buf, sizeof buf);
}

void cli_json_u64(cli_json *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_num(cli_json *j, const char *k, double v)
{
	key(j, k);
	fprintf(j->f, "%.6g", v);
}

void cli_json_bool(cli_json *j, const char *k, bool v)
{
	key(j, k);
	fputs(v ? "true" : "false", j->f);
}

void cli_json_end(cli_json *j)
{
	fputs("}\n", j->f);
}

bool cli_log_level_opt(const char *cmd, const char *arg)
{
	static const struct {
		const char *name;
		omc_log_level level;
	} levels[] = {{"err", OMC_LOG_LEVEL_ERR}, {"wrn", OMC_LOG_LEVEL_WRN}, {"inf", OMC_LOG_LEVEL_INF},
		      {"dbg", OMC_LOG_LEVEL_DBG}};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (!strcmp(levels[i].name, arg)) {
			omc_log_set_level(levels[i].level);
			return true;
		}
	cli_usage_error(cmd, "--log-level: err, wrn, inf or dbg");
	return false;
}
