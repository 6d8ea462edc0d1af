/* openmcim CLI: shared declarations of the subcommands. */
#ifndef OMC_CLI_H
#define OMC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of every subcommand. */
enum {
	CLI_OK = 0,      /* success (or, for verdicts, a positive one) */
	CLI_FAIL = 1,    /* the operation ran and failed, or a negative verdict */
	CLI_USAGE = 2,   /* bad options or input: one line on stderr, nothing on stdout */
	CLI_ERROR = 3,   /* an internal or environment error */
};

typedef struct cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_cmd;

int cmd_aka(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* A fresh directory /tmp/<stem>-XXXXXX for the demo (false: none), and its
 * removal. The test build of the CLI (openmcim_t) makes it under
 * $OMC_TEST_DEMO_DIR instead when that is set, and keeps it there for the
 * secret canary to scan (tests/canary/canary_demo_test.c). */
bool demo_mkdtemp(char *dir, size_t cap, const char *stem);
void demo_rmtree(const char *dir);
/* n random bytes of a demo secret; the test build plants
 * $OMC_TEST_CANARY_<name> (hex) instead when set. */
bool demo_secret(uint8_t *out, size_t n, const char *name);
/* The demo's TRE part (demo_tre.c): the number of failed steps. */
int demo_tre(void);
/* The demo's network part (demo_fleet.c): 0 every device attached, 1 not, -1 interrupted. */
int demo_fleet(unsigned n, bool json_out, unsigned *provisioned, unsigned *attached);
int cmd_factory(int argc, char **argv);
int cmd_tre(int argc, char **argv);
/* The TRE update commands (cmd_tre_update.c): whether s names one, and
 * the command itself, given cmd_tre's arguments. */
bool cli_tre_update_sub(const char *s);
int cmd_tre_update(int argc, char **argv);
int cmd_tred(int argc, char **argv);
/* openmcim tred card (cmd_tred_card.c): an MCIM as a smart card over vpcd. */
int cmd_tred_card(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

/* Read a whole file (at most max bytes) into an omc_alloc'd, NUL-terminated
 * buffer (omc_free wipes it); on failure prints the one-line error naming
 * opt and returns false. */
bool cli_read_file(const char *cmd, const char *opt, const char *path, char **data, size_t *len, size_t max);

/* "openmcim aka gen: --k: expected 32 hex digits" to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decode option `opt` (e.g. "--k") from hex into out (exactly len bytes, or
 * one of the lengths in lens[] if n_lens > 0, with *got set). On failure
 * prints the one-line error and returns false. If secret, the argument
 * string is overwritten in argv after decoding so that it no longer shows
 * in /proc/PID/cmdline. */
bool cli_hex_opt(const char *cmd, const char *opt, char *arg, uint8_t *out, const size_t *lens, size_t n_lens,
		 size_t *got, bool secret);
/* Parse a decimal unsigned option within [min, max]. */
bool cli_uint_opt(const char *cmd, const char *opt, const char *arg, unsigned long min, unsigned long max,
		  unsigned long *out);
/* --log-level err|wrn|inf|dbg: set it, or print the usage error and return false. */
bool cli_log_level_opt(const char *cmd, const char *arg);
/* Lowercase hex of n bytes into a static-free caller buffer of 2n+1. */
void cli_hex(char *out, const uint8_t *in, size_t n);

/* A tiny JSON object writer for flat objects of strings, integers, numbers
 * and booleans (no allocation, values hex or plain ASCII). */
typedef struct cli_json {
	FILE *f;
	int n;
} cli_json;
void cli_json_begin(cli_json *j, FILE *f);
void cli_json_str(cli_json *j, const char *key, const char *val);
void cli_json_hex(cli_json *j, const char *key, const uint8_t *v, size_t n);
void cli_json_u64(cli_json *j, const char *key, uint64_t v);
void cli_json_num(cli_json *j, const char *key, double v);
void cli_json_bool(cli_json *j, const char *key, bool v);
void cli_json_end(cli_json *j);

#endif
