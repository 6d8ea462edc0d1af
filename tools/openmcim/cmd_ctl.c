/* openmcim ctl: administer the deployment of a server config file: its
 * operators, the subscribers, devices and audit records of its database
 * (docs/cli-ctl.md). The work is done by the omc_server_config_* and
 * omc_server_*_list functions (src/server/ctl.c); this file is options,
 * messages and tables. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- help ------------------------------------------------------------------------------------ */

static const char ctl_usage[] =
	"usage: openmcim ctl --config FILE <command> [options]\n"
	"\n"
	"Administers the deployment that an `openmcim server` config file describes: its\n"
	"operators, and the subscribers, devices and audit records of its database. Of FILE\n"
	"it reads [server] db, master_key and pki and the [operator NAME] sections. The\n"
	"server may be running: the database is SQLite in WAL mode, and every change ctl\n"
	"makes to it is one transaction. The server reads FILE only when it starts.\n"
	"\n"
	"Commands:\n"
	"  operators                   the operators of FILE, with counts from the database\n"
	"  operator add NAME --kind ico|sho --imsi-prefix DIGITS [--alg milenage|tuak]\n"
	"                              append an [operator NAME] section to FILE\n"
	"  subscriber add --sho NAME --name NAME\n"
	"                              a subscriber account of an SHO; prints its token once\n"
	"  subscribers export --operator NAME\n"
	"                              the operator's AuC subscribers, public fields only\n"
	"                              (no K, OPc or TOPc: export of secrets is not offered)\n"
	"  subscribers import --operator NAME --file F\n"
	"                              AuC subscribers from JSON lines: all or nothing\n"
	"  devices [--sho NAME]        devices: platform, TRE, SHO, state, MCIM, IMSI\n"
	"  audit [--role R] [--limit N]\n"
	"                              the audit records of the network roles, newest last\n"
	"\n"
	"Every command takes --json (one JSON document on stdout instead of a table) and\n"
	"--help (that command's usage). Options may come before or after the command.\n"
	"docs/cli-ctl.md has the details.\n"
	"\n"
	"Exit status: 0 success; 1 the operation failed (a name or IMSI that exists, an\n"
	"unknown operator); 2 usage error or malformed input (one line on stderr, nothing\n"
	"on stdout); 3 error (the config, the database or the master key).\n";

static const char operators_usage[] =
	"usage: openmcim ctl --config FILE operators [--json]\n"
	"\n"
	"Lists the operators of FILE: name, kind (ico or sho), IMSI prefix, the algorithm\n"
	"of the MCIMs an SHO issues (none for the ICO), and from the database the number\n"
	"of subscribers in its AuC (and of these, enabled), of subscriber accounts and of\n"
	"devices registered at it. PKI says whether [server] pki holds the operator's key\n"
	"and certificate (NAME.key, NAME.crt), without which the server does not start.\n"
	"Counts are empty (null) while the database does not exist.\n"
	"\n"
	"--json: {\"config\", \"db\", \"operators\": [{\"name\", \"kind\", \"imsi_prefix\", \"alg\",\n"
	"\"subscribers\", \"enabled\", \"accounts\", \"devices\", \"pki\"}]}.\n"
	"Exit status: 0, or 3 if FILE or the database cannot be read.\n";

static const char operator_add_usage[] =
	"usage: openmcim ctl --config FILE operator add NAME --kind ico|sho --imsi-prefix DIGITS\n"
	"                    [--alg milenage|tuak] [--json]\n"
	"\n"
	"Appends an [operator NAME] section (kind, imsi_prefix and, for an SHO, alg) to\n"
	"FILE. The file is replaced atomically: the old text and the section are written\n"
	"to a new file beside it (with FILE's mode and owner), which is fsync'd and\n"
	"renamed over FILE, under an exclusive lock, so FILE is always the old file or the\n"
	"new one. Comments and every other line are kept as they are.\n"
	"\n"
	"NAME          1 to 16 of a-z 0-9 _ -\n"
	"--kind        ico (its AuC holds the PCIDs) or sho (it issues MCIMs)\n"
	"--imsi-prefix MCC and MNC: 5 or 6 digits; the IMSIs routed to this operator\n"
	"--alg         the algorithm of the MCIMs an SHO issues (default milenage); not\n"
	"              with --kind ico\n"
	"\n"
	"Refused (exit 1, FILE untouched): a NAME that FILE has already, an IMSI prefix\n"
	"another operator has, a FILE with 8 operators (the most a server hosts). The\n"
	"running server does not see the operator until it restarts, and it does not\n"
	"start until its PKI holds NAME.key and NAME.crt: this command issues no keys.\n"
	"Other keys of the section (data_only, volume_cap, pcid_lifetime) keep the\n"
	"server's defaults; edit FILE to change them.\n"
	"\n"
	"--json: {\"name\", \"kind\", \"imsi_prefix\", \"alg\", \"config\", \"pki\"}.\n"
	"Exit status: 0 added, 1 refused, 2 usage error, 3 FILE unreadable, malformed or\n"
	"not writable.\n";

static const char subscriber_add_usage[] =
	"usage: openmcim ctl --config FILE subscriber add --sho NAME --name NAME [--json]\n"
	"\n"
	"Creates a subscriber account of the SHO --sho: the caller of its subscriber API\n"
	"(registering devices). Prints the account's bearer token (43 characters of\n"
	"base64url) once: only its SHA-256 is stored, so it cannot be shown again.\n"
	"\n"
	"--sho   an operator of kind sho in FILE\n"
	"--name  the account's name at that SHO: 1 to 32 of a-z 0-9 _ -\n"
	"\n"
	"--json: {\"sho\", \"name\", \"token\"}.\n"
	"Exit status: 0 created, 1 the name exists at that SHO or --sho is not an SHO of\n"
	"FILE, 2 usage error, 3 FILE or the database cannot be read.\n";

static const char export_usage[] =
	"usage: openmcim ctl --config FILE subscribers export --operator NAME [--json]\n"
	"\n"
	"Writes the AuC subscribers of operator NAME, by IMSI, one JSON object a line:\n"
	"  {\"imsi\", \"alg\", \"seq_he\", \"enabled\", \"expires\", \"profile\", \"avs_issued\"}\n"
	"seq_he is the SEQ of the last vector issued, expires seconds since the epoch (0:\n"
	"none), profile the service profile the VNO enforces, avs_issued the vectors\n"
	"recorded. Public fields only: K, OPc and TOPc are never read, and there is no\n"
	"export of secrets (they stay sealed in the database under the master key).\n"
	"\n"
	"--json: one document instead, {\"operator\", \"subscribers\": [...]}.\n"
	"Exit status: 0, 1 NAME is not an operator of FILE, 2 usage error, 3 FILE or the\n"
	"database cannot be read.\n";

static const char import_usage[] =
	"usage: openmcim ctl --config FILE subscribers import --operator NAME --file F [--json]\n"
	"\n"
	"Adds subscribers to the AuC of operator NAME from F (- for stdin), one JSON\n"
	"object a line (empty lines skipped):\n"
	"  {\"imsi\":\"001020000000001\", \"alg\":\"milenage\", \"k\":HEX32, \"opc\":HEX32}\n"
	"  {\"imsi\":..., \"alg\":\"tuak\", \"k\":HEX32|HEX64, \"tuak\":{\"topc\":HEX64,\n"
	"   \"iterations\", \"mac_bits\", \"res_bits\", \"ck_bits\", \"ik_bits\"}}\n"
	"(HEXn: n hex digits, either case.) "
	"alg defaults to milenage; of the tuak\n"
	"members only topc is required (defaults: 1 iteration, MAC and RES 64 bits, CK and\n"
	"IK 128). "
	"Optional: \"expires\" (seconds since the epoch, 0 for none) and \"profile\"\n"
	"({\"data_only\": bool, \"volume_cap\": bytes}). Every IMSI must be in NAME's range\n"
	"(its IMSI prefix being the longest of FILE's to match). The secrets are sealed\n"
	"under the master key ([server] master_key) before they reach the database, and\n"
	"every copy this command makes of them, the file's text included, is wiped from\n"
	"memory after use. F itself is left as it is: remove it yourself.\n"
	"\n"
	"One transaction for the whole file: a malformed line, or an IMSI that is in the\n"
	"database already, and nothing is imported. The error names the line, never its\n"
	"content. A master key that does not open the subscribers already in the\n"
	"database is refused.\n"
	"\n"
	"--json: {\"operator\", \"imported\"}.\n"
	"Exit status: 0 imported, 1 an IMSI exists or NAME is not an operator of FILE,\n"
	"2 usage error, F unreadable or a malformed line, 3 FILE, the database or the\n"
	"master key.\n";

static const char devices_usage[] =
	"usage: openmcim ctl --config FILE devices [--sho NAME] [--json]\n"
	"\n"
	"Lists the devices the database knows, by platform id: one line for each MCIM an\n"
	"SHO issued for a device (or one without), with its TRE, its SHO, the state at the\n"
	"SHO (the MCIM's: issued, installed, ...; else the device's: registered), the\n"
	"DRF's state (assigned, registered, provisioned), the MCIM id and its IMSI. A\n"
	"device only the DRF knows has no SHO state. Unknown values show as -.\n"
	"\n"
	"--sho NAME  only the devices of that SHO of FILE\n"
	"--json: {\"devices\": [{\"platform_id\", \"tre_id\", \"sho\", \"subscriber\", \"state\",\n"
	"\"drf_state\", \"mcim_id\", \"imsi\", \"version\", \"pcid_imsi\"}]}, null where unknown.\n"
	"Exit status: 0, 1 --sho is not an SHO of FILE, 2 usage error, 3 FILE or the\n"
	"database cannot be read.\n";

static const char audit_usage[] =
	"usage: openmcim ctl --config FILE audit [--role R] [--limit N] [--json]\n"
	"\n"
	"Prints the audit records of the network roles (refusals included), oldest first:\n"
	"id, time (UTC), role, actor, event, subject, result, detail.\n"
	"\n"
	"--role R   only role R: an exact role (\"drf\", \"sho.sho1\", \"auc.ico\") or a kind\n"
	"           (\"sho\" takes every sho.NAME)\n"
	"--limit N  only the newest N records (1 to 1000000000); default all\n"
	"--json: {\"audit\": [{\"id\", \"time\" (seconds since the epoch), \"role\", \"actor\",\n"
	"\"event\", \"subject\", \"result\", \"detail\"}]}.\n"
	"Exit status: 0, 2 usage error, 3 FILE or the database cannot be read.\n";

/* --- options and commands ------------------------------------------------------------------- */

enum {
	O_CONFIG = 1 << 0,
	O_JSON = 1 << 1,
	O_KIND = 1 << 2,
	O_PREFIX = 1 << 3,
	O_ALG = 1 << 4,
	O_SHO = 1 << 5,
	O_NAME = 1 << 6,
	O_OPERATOR = 1 << 7,
	O_FILE = 1 << 8,
	O_ROLE = 1 << 9,
	O_LIMIT = 1 << 10,
};

static const struct {
	unsigned bit;
	const char *name;
} opt_names[] = {
	{O_KIND, "--kind"}, {O_PREFIX, "--imsi-prefix"}, {O_ALG, "--alg"},   {O_SHO, "--sho"},
	{O_NAME, "--name"}, {O_OPERATOR, "--operator"},  {O_FILE, "--file"}, {O_ROLE, "--role"},
	{O_LIMIT, "--limit"},
};

typedef struct ctl_args {
	const char *config, *kind, *prefix, *alg, *sho, *name, *op, *file, *role, *limit;
	const char *arg; /* operator add NAME */
	const char *label;
	unsigned given;
	bool json;
} ctl_args;

typedef struct ctl_cmd {
	const char *w1, *w2;
	const char *label;
	unsigned opts, required;
	bool takes_arg;
	const char *help;
	int (*run)(ctl_args *a);
} ctl_cmd;

/* The first error the library logged (the most specific), for the one
 * line a failure prints; the library's log lines are not printed. */
static char last_log[256];

static void capture_log(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	(void)module;
	if (level == OMC_LOG_LEVEL_ERR && !last_log[0])
		snprintf(last_log, sizeof last_log, "%s", msg);
}

/* "openmcim ctl LABEL: WHAT: why" on stderr; returns rc. why: what the
 * library logged, else the error's message. */
static int fail(const ctl_args *a, int rc, omc_err e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(const ctl_args *a, int rc, omc_err e, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "openmcim ctl %s: ", a->label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e != OMC_OK)
		fprintf(stderr, ": %s", last_log[0] ? last_log : omc_err_str(e));
	fputc('\n', stderr);
	return rc;
}

static int usage(const ctl_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(const ctl_args *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "ctl %s", a->label);
	return cli_usage_error(cmd, "%s", msg);
}

/* A name of a-z 0-9 _ -, 1..max. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && strspn(s, "0123456789") == n;
}

static int read_config(ctl_args *a, omc_server_config *c)
{
	omc_err e = omc_server_config_read(c, a->config);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", a->config);
	return CLI_OK;
}

/* The database's name for a message: a PostgreSQL conninfo may hold a
 * password, so it is never printed. */
static const char *db_shown(const char *db)
{
	return omc_db_is_pg(db) ? "the PostgreSQL database" : db;
}

/* The database of the config. A command that only reads refuses one that
 * does not exist (omc_db_open would make it); *db NULL with may_miss. */
static int open_db(ctl_args *a, const omc_server_config *c, bool create, bool may_miss, omc_db **db)
{
	*db = NULL;
	/* A PostgreSQL conninfo may hold a password: never printed. */
	const char *name = db_shown(c->db);
	if (!create && !omc_db_is_pg(c->db) && access(c->db, F_OK) != 0) {
		if (may_miss)
			return CLI_OK;
		return fail(a, CLI_ERROR, OMC_OK, "%s: no database (the server makes it when it first starts)", c->db);
	}
	omc_err e = omc_db_open(db, c->db);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", name);
	return CLI_OK;
}

/* The operator NAME of the config: 1 (with the message) if it is not there,
 * or if sho_only and it is not an SHO. */
static int find_op(ctl_args *a, const omc_server_config *c, const char *opt, const char *name, bool sho_only,
		   const omc_server_config_op **op)
{
	*op = omc_server_config_op_find(c, name);
	if (!*op)
		return fail(a, CLI_FAIL, OMC_OK, "%s: unknown operator '%s' (not in %s)", opt, name, a->config);
	if (sho_only && (*op)->ico)
		return fail(a, CLI_FAIL, OMC_OK, "%s: operator '%s' is the ICO, not an SHO", opt, name);
	return CLI_OK;
}

/* The text of a JSON document, one line on stdout. */
static int print_json(const ctl_args *a, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return fail(a, CLI_ERROR, OMC_ERR_NOMEM, "output");
	puts(s);
	omc_free(s);
	return CLI_OK;
}

static json_t *parse_json(const char *s)
{
	json_error_t je;
	return json_loads(s, JSON_REJECT_DUPLICATES, &je);
}

/* --- tables ---------------------------------------------------------------------------------------- */

typedef struct col {
	const char *head, *key;
} col;

#define CELL_MAX 160

/* A member as a cell: strings with control characters shown as '?',
 * integers in decimal, booleans yes/no, null or absent "-". */
static void cell(char out[CELL_MAX], const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = 0;
		for (; s[n] && n + 1 < CELL_MAX; n++)
			out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
		out[n] = 0;
		if (n == 0)
			snprintf(out, CELL_MAX, "-");
	} else if (json_is_integer(v)) {
		snprintf(out, CELL_MAX, "%lld", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, CELL_MAX, "%s", json_is_true(v) ? "yes" : "no");
	} else {
		snprintf(out, CELL_MAX, "-");
	}
}

/* rows (an array of objects) under the heads, each column as wide as its
 * widest cell; the last column unpadded. */
static void table(const json_t *rows, const col *cols, size_t n_cols)
{
	int w[16] = {0};
	char c[CELL_MAX];
	for (size_t i = 0; i < n_cols && i < 16; i++) {
		w[i] = (int)strlen(cols[i].head);
		for (size_t r = 0; r < json_array_size(rows); r++) {
			cell(c, json_object_get(json_array_get(rows, r), cols[i].key));
			if ((int)strlen(c) > w[i])
				w[i] = (int)strlen(c);
		}
	}
	for (size_t i = 0; i < n_cols && i < 16; i++) {
		if (i + 1 < n_cols)
			printf("%-*s  ", w[i], cols[i].head);
		else
			printf("%s\n", cols[i].head);
	}
	for (size_t r = 0; r < json_array_size(rows); r++)
		for (size_t i = 0; i < n_cols && i < 16; i++) {
			cell(c, json_object_get(json_array_get(rows, r), cols[i].key));
			if (i + 1 < n_cols)
				printf("%-*s  ", w[i], c);
			else
				printf("%s\n", c);
		}
}

/* --- the commands ------------------------------------------------------------------------------------- */

/* NAME.key and NAME.crt in the PKI directory. */
static bool pki_has(const omc_server_config *c, const char *name)
{
	char p[700];
	if (!c->pki[0])
		return false;
	snprintf(p, sizeof p, "%s/%s.key", c->pki, name);
	bool ok = access(p, R_OK) == 0;
	snprintf(p, sizeof p, "%s/%s.crt", c->pki, name);
	return ok && access(p, R_OK) == 0;
}

static int do_operators(ctl_args *a)
{
	omc_server_config c;
	int rc = read_config(a, &c);
	omc_db *db = NULL;
	if (rc == CLI_OK)
		rc = open_db(a, &c, false, true, &db);
	if (rc != CLI_OK)
		return rc;
	json_t *ops = json_array();
	for (size_t i = 0; ops && i < c.n_ops; i++) {
		const omc_server_config_op *op = &c.ops[i];
		omc_server_op_stats st = {0};
		omc_err e = db ? omc_server_operator_stats(db, op->name, &st) : OMC_OK;
		if (e != OMC_OK) {
			json_decref(ops);
			omc_db_close(db);
			return fail(a, CLI_ERROR, e, "%s", db_shown(c.db));
		}
		json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:o,s:b}", "name", op->name, "kind",
				      op->ico ? "ico" : "sho", "imsi_prefix", op->imsi_prefix, "alg",
				      op->ico ? NULL : omc_aka_alg_name(op->alg), "subscribers",
				      db ? json_integer((json_int_t)st.subscribers) : json_null(), "enabled",
				      db ? json_integer((json_int_t)st.enabled) : json_null(), "accounts",
				      db ? json_integer((json_int_t)st.accounts) : json_null(), "devices",
				      db ? json_integer((json_int_t)st.devices) : json_null(), "pki", pki_has(&c, op->name));
		if (!o || json_array_append_new(ops, o) != 0) {
			json_decref(ops);
			ops = NULL;
		}
	}
	omc_db_close(db);
	if (!ops)
		return fail(a, CLI_ERROR, OMC_ERR_NOMEM, "output");
	if (a->json)
		return print_json(a, json_pack("{s:s,s:s,s:o}", "config", a->config, "db", db_shown(c.db), "operators", ops));
	static const col cols[] = {{"NAME", "name"},	       {"KIND", "kind"},	 {"IMSI PREFIX", "imsi_prefix"},
				   {"ALG", "alg"},	       {"SUBSCRIBERS", "subscribers"}, {"ENABLED", "enabled"},
				   {"ACCOUNTS", "accounts"}, {"DEVICES", "devices"},	 {"PKI", "pki"}};
	table(ops, cols, ARRAY_LEN(cols));
	json_decref(ops);
	return CLI_OK;
}

static int do_operator_add(ctl_args *a)
{
	if (!name_ok(a->arg, 16))
		return usage(a, "operator name '%s': 1 to 16 of a-z 0-9 _ -", a->arg);
	if (strcmp(a->kind, "ico") != 0 && strcmp(a->kind, "sho") != 0)
		return usage(a, "--kind: ico or sho, not '%s'", a->kind);
	if (!digits(a->prefix, 5, 6))
		return usage(a, "--imsi-prefix: 5 or 6 digits (MCC and MNC), not '%s'", a->prefix);
	omc_server_config_op op = {.ico = a->kind[0] == 'i', .alg = OMC_AKA_ALG_MILENAGE};
	if (a->alg) {
		if (op.ico)
			return usage(a, "--alg applies to --kind sho (the MCIMs an SHO issues)");
		if (strcmp(a->alg, "milenage") != 0 && strcmp(a->alg, "tuak") != 0)
			return usage(a, "--alg: milenage or tuak, not '%s'", a->alg);
		op.alg = a->alg[0] == 'm' ? OMC_AKA_ALG_MILENAGE : OMC_AKA_ALG_TUAK;
	}
	memcpy(op.name, a->arg, strlen(a->arg) + 1);
	memcpy(op.imsi_prefix, a->prefix, strlen(a->prefix) + 1);
	omc_server_config c;
	int rc = read_config(a, &c);
	if (rc != CLI_OK)
		return rc;
	omc_err e = omc_server_config_operator_add(a->config, &op);
	if (e == OMC_ERR_EXISTS || e == OMC_ERR_EXHAUSTED)
		return fail(a, CLI_FAIL, e, "%s", a->config);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", a->config);
	bool pki = pki_has(&c, op.name);
	const char *alg = op.ico ? NULL : omc_aka_alg_name(op.alg);
	if (a->json)
		return print_json(a, json_pack("{s:s,s:s,s:s,s:s?,s:s,s:b}", "name", op.name, "kind", a->kind,
					       "imsi_prefix", op.imsi_prefix, "alg", alg, "config", a->config, "pki",
					       pki));
	printf("operator %s added to %s: kind %s, IMSI prefix %s%s%s\n", op.name, a->config, a->kind, op.imsi_prefix,
	       alg ? ", alg " : "", alg ? alg : "");
	printf("the server reads %s when it starts: restart it to host %s\n", a->config, op.name);
	if (!pki)
		printf("the PKI (%s) has no %s.key and %s.crt: the server will not start without them\n",
		       c.pki[0] ? c.pki : "[server] pki", op.name, op.name);
	return CLI_OK;
}

static int do_subscriber_add(ctl_args *a)
{
	if (!name_ok(a->name, 32))
		return usage(a, "--name: 1 to 32 of a-z 0-9 _ -, not '%s'", a->name);
	omc_server_config c;
	const omc_server_config_op *op;
	omc_db *db;
	int rc = read_config(a, &c);
	if (rc == CLI_OK)
		rc = find_op(a, &c, "--sho", a->sho, true, &op);
	if (rc == CLI_OK)
		rc = open_db(a, &c, true, false, &db);
	if (rc != CLI_OK)
		return rc;
	char token[48];
	omc_err e = omc_server_subscriber_add(db, op->name, a->name, token);
	omc_db_close(db);
	if (e == OMC_ERR_EXISTS)
		return fail(a, CLI_FAIL, OMC_OK, "subscriber '%s' exists at %s", a->name, op->name);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", db_shown(c.db));
	if (a->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_str(&j, "sho", op->name);
		cli_json_str(&j, "name", a->name);
		cli_json_str(&j, "token", token);
		cli_json_end(&j);
	} else {
		printf("subscriber account %s at %s; its bearer token, shown this once (only its SHA-256 is kept):\n%s\n",
		       a->name, op->name, token);
	}
	omc_memzero(token, sizeof token);
	return CLI_OK;
}

static int do_export(ctl_args *a)
{
	omc_server_config c;
	const omc_server_config_op *op;
	omc_db *db;
	int rc = read_config(a, &c);
	if (rc == CLI_OK)
		rc = find_op(a, &c, "--operator", a->op, false, &op);
	if (rc == CLI_OK)
		rc = open_db(a, &c, false, false, &db);
	if (rc != CLI_OK)
		return rc;
	char *s = NULL;
	omc_err e = omc_server_subscribers_export(db, op->name, &s);
	omc_db_close(db);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", db_shown(c.db));
	json_t *subs = parse_json(s);
	omc_free(s);
	if (!json_is_array(subs)) {
		json_decref(subs);
		return fail(a, CLI_ERROR, OMC_ERR_BUG, "export");
	}
	if (a->json)
		return print_json(a, json_pack("{s:s,s:o}", "operator", op->name, "subscribers", subs));
	for (size_t i = 0; i < json_array_size(subs); i++) {
		char *line = json_dumps(json_array_get(subs, i), JSON_COMPACT);
		if (!line) {
			json_decref(subs);
			return fail(a, CLI_ERROR, OMC_ERR_NOMEM, "output");
		}
		puts(line);
		omc_free(line);
	}
	json_decref(subs);
	return CLI_OK;
}

#define IMPORT_MAX ((size_t)1 << 30)

/* The whole of F (or stdin) with read(2) straight into an omc_alloc'd
 * buffer: no stdio buffer keeps a copy of the secrets, and every buffer
 * left behind as it grows is wiped (omc_realloc, omc_free). */
static int read_secret_file(const ctl_args *a, char **out, size_t *len)
{
	bool in = !strcmp(a->file, "-");
	int fd = in ? 0 : open(a->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return usage(a, "--file: cannot open '%s': %s", a->file, strerror(errno));
	size_t cap = 1 << 16, n = 0;
	struct stat sb;
	bool reg = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
	bool big = reg && (uint64_t)sb.st_size >= IMPORT_MAX - 1;
	/* A regular file in one read and the read that finds its end. */
	if (reg && !big && sb.st_size > 0)
		cap = (size_t)sb.st_size + 2;
	char *b = big ? NULL : omc_alloc(cap);
	bool ok = b != NULL;
	while (ok) {
		if (n + 1 >= cap) {
			big = cap >= IMPORT_MAX;
			char *nb = big ? NULL : omc_realloc(b, cap * 2 > IMPORT_MAX ? IMPORT_MAX : cap * 2);
			if (!nb) {
				ok = false;
				break;
			}
			b = nb;
			cap = cap * 2 > IMPORT_MAX ? IMPORT_MAX : cap * 2;
		}
		ssize_t r = read(fd, b + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ok = false;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (!in)
		close(fd);
	if (!ok) {
		omc_free(b);
		return usage(a, "--file: '%s' is %s", a->file, big ? "larger than 1 GiB" : "unreadable");
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return CLI_OK;
}

static int do_import(ctl_args *a)
{
	omc_server_config c;
	const omc_server_config_op *op;
	int rc = read_config(a, &c);
	if (rc == CLI_OK)
		rc = find_op(a, &c, "--operator", a->op, false, &op);
	if (rc != CLI_OK)
		return rc;
	uint8_t master[32];
	omc_err e = omc_server_master_read(master, c.master_key);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", c.master_key);
	char *text = NULL;
	size_t len = 0;
	omc_db *db = NULL;
	rc = read_secret_file(a, &text, &len);
	if (rc == CLI_OK)
		rc = open_db(a, &c, true, false, &db);
	omc_server_import_result r = {0};
	if (rc == CLI_OK)
		e = omc_server_subscribers_import(db, &c, op->name, master, text, len, &r);
	omc_memzero(master, sizeof master);
	omc_free(text); /* wipes the file's text */
	omc_db_close(db);
	if (rc != CLI_OK)
		return rc;
	if (e == OMC_ERR_EXISTS && r.line > 0)
		return fail(a, CLI_FAIL, OMC_OK, "--file: line %zu: %s; nothing imported", r.line, r.why);
	if (e == OMC_ERR_BAD_FORMAT && r.line > 0)
		return usage(a, "--file: line %zu: %s; nothing imported", r.line, r.why);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, OMC_OK, "%s: %s; nothing imported", e == OMC_ERR_CORRUPT ? c.master_key : db_shown(c.db),
			    last_log[0] ? last_log : omc_err_str(e));
	if (a->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_str(&j, "operator", op->name);
		cli_json_u64(&j, "imported", r.imported);
		cli_json_end(&j);
	} else {
		printf("imported %zu subscriber%s into the AuC of %s\n", r.imported, r.imported == 1 ? "" : "s", op->name);
	}
	return CLI_OK;
}

static int do_devices(ctl_args *a)
{
	omc_server_config c;
	const omc_server_config_op *op = NULL;
	omc_db *db;
	int rc = read_config(a, &c);
	if (rc == CLI_OK && a->sho)
		rc = find_op(a, &c, "--sho", a->sho, true, &op);
	if (rc == CLI_OK)
		rc = open_db(a, &c, false, false, &db);
	if (rc != CLI_OK)
		return rc;
	char *s = NULL;
	omc_err e = omc_server_devices_list(db, op ? op->name : NULL, &s);
	omc_db_close(db);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", db_shown(c.db));
	json_t *devs = parse_json(s);
	omc_free(s);
	if (!json_is_array(devs)) {
		json_decref(devs);
		return fail(a, CLI_ERROR, OMC_ERR_BUG, "devices");
	}
	if (a->json)
		return print_json(a, json_pack("{s:o}", "devices", devs));
	static const col cols[] = {{"PLATFORM", "platform_id"}, {"TRE", "tre_id"},	   {"SHO", "sho"},
				   {"STATE", "state"},	      {"DRF", "drf_state"},	   {"MCIM", "mcim_id"},
				   {"IMSI", "imsi"}};
	table(devs, cols, ARRAY_LEN(cols));
	json_decref(devs);
	return CLI_OK;
}

static int do_audit(ctl_args *a)
{
	unsigned long limit = 0;
	if (a->limit) {
		char cmd[32];
		snprintf(cmd, sizeof cmd, "ctl %s", a->label);
		if (!cli_uint_opt(cmd, "--limit", a->limit, 1, 1000000000ul, &limit))
			return CLI_USAGE;
	}
	if (a->role && (strlen(a->role) == 0 || strlen(a->role) > 40 ||
			strspn(a->role, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(a->role)))
		return usage(a, "--role: a role such as drf, sho or sho.sho1, not '%s'", a->role);
	omc_server_config c;
	omc_db *db;
	int rc = read_config(a, &c);
	if (rc == CLI_OK)
		rc = open_db(a, &c, false, false, &db);
	if (rc != CLI_OK)
		return rc;
	char *s = NULL;
	omc_err e = omc_server_audit_list(db, a->role, limit, &s);
	omc_db_close(db);
	if (e != OMC_OK)
		return fail(a, CLI_ERROR, e, "%s", db_shown(c.db));
	json_t *recs = parse_json(s);
	omc_free(s);
	if (!json_is_array(recs)) {
		json_decref(recs);
		return fail(a, CLI_ERROR, OMC_ERR_BUG, "audit");
	}
	if (a->json)
		return print_json(a, json_pack("{s:o}", "audit", recs));
	/* The time in UTC for the table. */
	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *o = json_array_get(recs, i);
		time_t t = (time_t)json_integer_value(json_object_get(o, "time"));
		struct tm tm;
		char when[32] = "-";
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "when", json_string(when));
	}
	static const col cols[] = {{"ID", "id"},	   {"TIME", "when"},	 {"ROLE", "role"},     {"ACTOR", "actor"},
				   {"EVENT", "event"},   {"SUBJECT", "subject"}, {"RESULT", "result"}, {"DETAIL", "detail"}};
	table(recs, cols, ARRAY_LEN(cols));
	json_decref(recs);
	return CLI_OK;
}

static const ctl_cmd cmds[] = {
	{"operators", NULL, "operators", O_JSON, 0, false, operators_usage, do_operators},
	{"operator", "add", "operator add", O_JSON | O_KIND | O_PREFIX | O_ALG, O_KIND | O_PREFIX, true,
	 operator_add_usage, do_operator_add},
	{"subscriber", "add", "subscriber add", O_JSON | O_SHO | O_NAME, O_SHO | O_NAME, false, subscriber_add_usage,
	 do_subscriber_add},
	{"subscribers", "export", "subscribers export", O_JSON | O_OPERATOR, O_OPERATOR, false, export_usage, do_export},
	{"subscribers", "import", "subscribers import", O_JSON | O_OPERATOR | O_FILE, O_OPERATOR | O_FILE, false,
	 import_usage, do_import},
	{"devices", NULL, "devices", O_JSON | O_SHO, 0, false, devices_usage, do_devices},
	{"audit", NULL, "audit", O_JSON | O_ROLE | O_LIMIT, 0, false, audit_usage, do_audit},
};

int cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'j'},
		{"kind", required_argument, NULL, 'k'},     {"imsi-prefix", required_argument, NULL, 'p'},
		{"alg", required_argument, NULL, 'a'},      {"sho", required_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'},     {"operator", required_argument, NULL, 'o'},
		{"file", required_argument, NULL, 'f'},     {"role", required_argument, NULL, 'r'},
		{"limit", required_argument, NULL, 'l'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	ctl_args a = {.label = "ctl"};
	bool help = false;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.config = optarg; a.given |= O_CONFIG; break;
		case 'j': a.json = true; a.given |= O_JSON; break;
		case 'k': a.kind = optarg; a.given |= O_KIND; break;
		case 'p': a.prefix = optarg; a.given |= O_PREFIX; break;
		case 'a': a.alg = optarg; a.given |= O_ALG; break;
		case 's': a.sho = optarg; a.given |= O_SHO; break;
		case 'n': a.name = optarg; a.given |= O_NAME; break;
		case 'o': a.op = optarg; a.given |= O_OPERATOR; break;
		case 'f': a.file = optarg; a.given |= O_FILE; break;
		case 'r': a.role = optarg; a.given |= O_ROLE; break;
		case 'l': a.limit = optarg; a.given |= O_LIMIT; break;
		case 'h': help = true; break;
		default:
			return cli_usage_error("ctl", "unknown option or missing value: '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	char **w = argv + optind;
	int nw = argc - optind;
	if (nw == 0) {
		if (help) {
			fputs(ctl_usage, stdout);
			return CLI_OK;
		}
		fputs(ctl_usage, stderr);
		return CLI_USAGE;
	}
	const ctl_cmd *cmd = NULL;
	bool word_known = false;
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
		if (strcmp(cmds[i].w1, w[0]) != 0)
			continue;
		word_known = true;
		if (!cmds[i].w2 || (nw > 1 && !strcmp(cmds[i].w2, w[1])))
			cmd = &cmds[i];
	}
	if (!cmd && word_known && help && nw == 1) {
		/* `ctl subscribers --help`: every command under that word. */
		for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
			if (!strcmp(cmds[i].w1, w[0]))
				printf("%s%s", i && !strcmp(cmds[i - 1].w1, w[0]) ? "\n" : "", cmds[i].help);
		return CLI_OK;
	}
	if (!cmd && word_known && nw == 1)
		return cli_usage_error("ctl", "'%s' needs a command (see --help)", w[0]);
	if (!cmd && word_known)
		return cli_usage_error("ctl", "unknown command '%s %s' (see --help)", w[0], w[1]);
	if (!cmd)
		return cli_usage_error("ctl", "unknown command '%s' (see --help)", w[0]);
	a.label = cmd->label;
	if (help) {
		fputs(cmd->help, stdout);
		return CLI_OK;
	}
	int used = cmd->w2 ? 2 : 1;
	if (cmd->takes_arg) {
		if (nw <= used)
			return usage(&a, "missing the operator's NAME");
		a.arg = w[used++];
	}
	if (nw > used)
		return usage(&a, "unexpected argument '%s'", w[used]);
	for (size_t i = 0; i < ARRAY_LEN(opt_names); i++) {
		if ((a.given & opt_names[i].bit) && !(cmd->opts & opt_names[i].bit))
			return usage(&a, "%s does not apply to %s (see --help)", opt_names[i].name, cmd->label);
		if ((cmd->required & opt_names[i].bit) && !(a.given & opt_names[i].bit))
			return usage(&a, "missing %s", opt_names[i].name);
	}
	if (!a.config)
		return usage(&a, "missing --config FILE (the server's config file)");
	omc_log_set_handler(capture_log, NULL);
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	last_log[0] = 0;
	int rc = cmd->run(&a);
	omc_log_set_handler(NULL, NULL);
	return rc;
}
