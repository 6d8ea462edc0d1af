/* openmcim tre: inspect and administer a TRE in a directory, or through
 * the TRE daemon's socket (--socket, docs/tred.md): every command works
 * either way, with the same output and exit statuses. */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "openmcim/tre.h"
#include "openmcim/tred.h"

static const char tre_usage[] =
	"usage: openmcim tre --dir TREDIR <command> [options]\n"
	"       openmcim tre --socket PATH <command> [options]\n"
	"\n"
	"--socket PATH reaches the TRE through its daemon ('openmcim tred'); every command\n"
	"works the same way there. --tpm TCTI names the TPM of a TPM device with --dir\n"
	"(default: the TCTI in TREDIR/tpm.conf; docs/tpm.md).\n"
	"\n"
	"Commands:\n"
	"  status [--json]            TRE state, generation, boot count, platform check, MCIMs\n"
	"  registry [--json]          the MCIM registry (MGT-5), tombstones included\n"
	"  audit [--verify] [--json]  the audit records; --verify checks the chain, its MACs\n"
	"                             and that nothing committed is missing (exit 0 only if intact)\n"
	"  checkpoint                 a signed audit checkpoint (JWS) for a remote verifier\n"
	"  tamper-report              in lockdown: the signed tamper report (JWS) for a PVA's recovery\n"
	"  attest --nonce HEX         signed evidence for a verifier's nonce (JWS)\n"
	"  certs                      the TRE's certificate chain (PEM)\n"
	"  users [--json]             local users and their state\n"
	"  user-add NAME --role R [--as ADMIN]\n"
	"                             add a user; reads the new PIN (and first the admin's PIN\n"
	"                             when --as is given) from stdin, one per line\n"
	"  user-del NAME --as ADMIN   delete a user (admin PIN on stdin)\n"
	"  user-unblock NAME --as ADMIN\n"
	"                             unblock a user blocked by wrong PINs (admin PIN on stdin)\n"
	"  tamper --reason TEXT       a tamper input: lock the TRE down (sticky, TRE-4)\n"
	"  recover --auth FILE        recover from lockdown with a signed authorisation\n"
	"  recovery-counter           the counter a recovery authorisation must name\n"
	"  update-stage --manifest FILE NAME=FILE...\n"
	"                             stage a signed TRE update (TRE-12; --dir only)\n"
	"  update-confirm             make the update in trial permanent (--dir only)\n"
	"  update-status [--json]     the update's state, running and staged versions (--dir only)\n"
	"  boot                       open as the device's start: count the boot, begin a staged\n"
	"                             update's trial or revert an unconfirmed one (--dir only)\n"
	"                             ('openmcim tre update-stage --help' says more)\n"
	"\n"
	"status --json prints {\"state\":\"pristine\"|\"provisioned\"|\"lockdown\", \"generation\":N,\n"
	"\"mcims\":[{\"id\",\"owner\",\"role\",\"state\"}], ...}.\n"
	"Exit status: 0 success, 1 a negative result (audit not intact, refused), 2 usage error,\n"
	"3 the TRE could not be opened (or its daemon reached) or the operation failed.\n";

typedef struct tre_args {
	const char *dir, *sock, *reason, *auth, *nonce, *role, *as, *tpm;
	bool json, verify;
} tre_args;

/* The TRE in this process (--dir) or behind its daemon (--socket): one of
 * the two is set, and each be_* asks the one that is. */
typedef struct tre_be {
	omc_tre *t;
	omc_tred_client *c;
} tre_be;

static omc_err be_status(tre_be *b, omc_tre_status *st)
{
	return b->t ? omc_tre_get_status(b->t, st) : omc_tred_status(b->c, st);
}

static omc_err be_registry(tre_be *b, omc_tre_mcim_info *out, size_t cap, size_t *n)
{
	return b->t ? omc_tre_registry(b->t, out, cap, n) : omc_tred_registry(b->c, out, cap, n);
}

static omc_err be_audit_verify(tre_be *b, uint64_t *n)
{
	return b->t ? omc_tre_audit_verify(b->t, n) : omc_tred_audit_verify(b->c, n);
}

static omc_err be_audit_export(tre_be *b, char **buf, size_t *len)
{
	return b->t ? omc_tre_audit_export(b->t, buf, len) : omc_tred_audit_export(b->c, buf, len);
}

static omc_err be_users(tre_be *b, omc_tre_user_info *u, size_t cap, size_t *n)
{
	return b->t ? omc_tre_user_list(b->t, u, cap, n) : omc_tred_user_list(b->c, u, cap, n);
}

static omc_err be_state(tre_be *b, omc_tre_state *st)
{
	if (b->t) {
		*st = omc_tre_get_state(b->t);
		return OMC_OK;
	}
	omc_tre_status s;
	omc_err e = omc_tred_status(b->c, &s);
	*st = s.state;
	return e;
}

static void be_close(tre_be *b)
{
	omc_tre_close(b->t);
	omc_tred_disconnect(b->c);
}

static int fail(const char *cmd, omc_err e)
{
	fprintf(stderr, "openmcim tre %s: %s\n", cmd, omc_err_str(e));
	return omc_err_category(e) == OMC_CAT_USAGE ? CLI_USAGE : CLI_ERROR;
}

static int open_tre(tre_be *b, const tre_args *a, bool readonly, const char *cmd)
{
	*b = (tre_be){0};
	if (a->sock) {
		omc_err e = omc_tred_connect(&b->c, a->sock);
		if (e != OMC_OK) {
			fprintf(stderr, "openmcim tre %s: cannot reach the TRE daemon at '%s': %s\n", cmd, a->sock,
				omc_err_str(e));
			return CLI_ERROR;
		}
		return CLI_OK;
	}
	omc_tre_opts o = {.dir = a->dir, .readonly = readonly, .tpm = a->tpm};
	omc_err e = omc_tre_open(&b->t, &o);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim tre %s: cannot open TRE in '%s': %s\n", cmd, a->dir, omc_err_str(e));
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int do_status(tre_be *b, const tre_args *a, bool registry_only)
{
	omc_tre_status st;
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	omc_err e;
	if (registry_only)
		e = be_registry(b, reg, 64, &n);
	else if (b->c) /* one request: a peer the daemon does not map may read the status */
		e = omc_tred_status_registry(b->c, &st, reg, 64, &n);
	else if ((e = omc_tre_get_status(b->t, &st)) == OMC_OK)
		e = omc_tre_registry(b->t, reg, 64, &n);
	if (e != OMC_OK)
		return b->t ? fail("status", OMC_ERR_BUG) : fail(registry_only ? "registry" : "status", e);
	if (a->json) {
		json_t *o = json_object(), *ms = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(ms, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "id", reg[i].id, "owner",
							    reg[i].owner, "role", reg[i].role, "state",
							    omc_mcim_state_name(reg[i].state), "imsi", reg[i].imsi, "alg",
							    reg[i].alg, "version", (json_int_t)reg[i].version));
		if (registry_only) {
			json_object_set_new(o, "mcims", ms);
		} else {
			json_object_set_new(o, "state", json_string(omc_tre_state_name(st.state)));
			json_object_set_new(o, "generation", json_integer((json_int_t)st.generation));
			json_object_set_new(o, "mcims", ms);
			json_object_set_new(o, "tre_id", json_string(st.tre_id));
			json_object_set_new(o, "platform_id", json_string(st.platform_id));
			json_object_set_new(o, "model", json_string(st.model));
			json_object_set_new(o, "boot_count", json_integer((json_int_t)st.boot_count));
			json_object_set_new(o, "platform_ok", json_boolean(st.platform_ok));
			json_object_set_new(o, "store_ok", json_boolean(st.store_ok));
			json_object_set_new(o, "lockdown_reason", json_string(st.lockdown_reason));
			json_object_set_new(o, "audit_count", json_integer((json_int_t)st.audit_count));
		}
		char *s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!s)
			return fail("status", OMC_ERR_NOMEM);
		puts(s);
		omc_free(s);
		return CLI_OK;
	}
	if (!registry_only) {
		printf("TRE          %s (%s, platform %s)\n", st.tre_id, st.model, st.platform_id);
		printf("state        %s%s%s\n", omc_tre_state_name(st.state), st.lockdown_reason[0] ? ": " : "",
		       st.lockdown_reason);
		printf("generation   %llu\n", (unsigned long long)st.generation);
		printf("boot count   %llu\n", (unsigned long long)st.boot_count);
		printf("platform     %s\n", st.platform_ok ? "matches the signed manifest" : "ANOMALY: MCIM use refused");
		printf("audit        %llu records\n\n", (unsigned long long)st.audit_count);
	}
	printf("%-24s %-8s %-12s %-16s %-9s %-12s %s\n", "MCIM", "OWNER", "ROLE", "IMSI", "ALG", "STATE", "VERSION");
	for (size_t i = 0; i < n; i++)
		printf("%-24s %-8s %-12s %-16s %-9s %-12s %u\n", reg[i].id, reg[i].owner, reg[i].role, reg[i].imsi,
		       reg[i].alg, omc_mcim_state_name(reg[i].state), reg[i].version);
	return CLI_OK;
}

static int do_audit(tre_be *b, const tre_args *a)
{
	if (a->verify) {
		uint64_t n = 0;
		omc_err e = be_audit_verify(b, &n);
		/* A daemon that does not serve this peer gave no verdict. */
		if (b->c && e == OMC_ERR_DENIED)
			return fail("audit", e);
		if (a->json)
			printf("{\"intact\":%s,\"records\":%llu}\n", e == OMC_OK ? "true" : "false", (unsigned long long)n);
		else if (e == OMC_OK)
			printf("audit chain intact: %llu records\n", (unsigned long long)n);
		else
			printf("audit chain BROKEN after record %llu: %s\n", (unsigned long long)n, omc_err_str(e));
		return e == OMC_OK ? CLI_OK : CLI_FAIL;
	}
	char *buf;
	size_t len;
	omc_err e = be_audit_export(b, &buf, &len);
	if (e != OMC_OK)
		return fail("audit", e);
	if (a->json) {
		fwrite(buf, 1, len, stdout);
	} else {
		/* One line a record: time, event, actor, subject, result, detail. */
		const char *p = buf;
		while (p < buf + len) {
			const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
			json_error_t je;
			json_t *o = json_loadb(p, l, 0, &je);
			if (o) {
				printf("%6lld %10lld %-10s %-16s %-22s %-8s %s\n",
				       (long long)json_integer_value(json_object_get(o, "seq")),
				       (long long)json_integer_value(json_object_get(o, "time")),
				       json_string_value(json_object_get(o, "event")),
				       json_string_value(json_object_get(o, "actor")),
				       json_string_value(json_object_get(o, "subject")),
				       json_string_value(json_object_get(o, "result")),
				       json_string_value(json_object_get(o, "detail")));
				json_decref(o);
			}
			p += l + 1;
		}
	}
	omc_free(buf);
	return CLI_OK;
}

#define PIN_BUF 128

/* One line from stdin, without its newline, into an omc_alloc'd buffer. */
static bool read_pin(char **pin, size_t *len)
{
	char *b = omc_alloc(PIN_BUF);
	if (!b || !fgets(b, PIN_BUF, stdin)) {
		omc_free(b);
		return false;
	}
	size_t n = strcspn(b, "\r\n");
	b[n] = 0;
	*pin = b;
	*len = n;
	return true;
}

/* A refusal (a wrong PIN, not an admin) exits 1, any other failure 3. */
static int user_fail(const char *sub, omc_err e)
{
	if (omc_err_category(e) == OMC_CAT_POLICY || omc_err_category(e) == OMC_CAT_AUTH) {
		fail(sub, e);
		return CLI_FAIL;
	}
	return fail(sub, e);
}

/* Through the daemon: the PINs are read first (the admin's, then the new
 * user's), and the daemon checks the admin's before the change. */
static int do_user_socket(omc_tred_client *c, const tre_args *a, const char *sub, const char *name)
{
	const char *label = !strcmp(sub, "user-add")   ? "tre user-add"
			    : !strcmp(sub, "user-del") ? "tre user-del"
						       : "tre user-unblock";
	bool add = !strcmp(sub, "user-add");
	if (add && !a->role)
		return cli_usage_error("tre user-add", "missing --role");
	char *apin = NULL, *pin = NULL;
	size_t apin_len = 0, pin_len = 0;
	if (a->as && !read_pin(&apin, &apin_len))
		return cli_usage_error(label, "no admin PIN on stdin");
	if (add && !read_pin(&pin, &pin_len)) {
		omc_free(apin);
		return cli_usage_error(label, "no PIN on stdin");
	}
	omc_err e;
	if (add)
		e = omc_tred_user_add(c, a->as, apin, apin_len, name, a->role, pin, pin_len);
	else if (!strcmp(sub, "user-del"))
		e = omc_tred_user_del(c, a->as, apin, apin_len, name);
	else
		e = omc_tred_user_unblock(c, a->as, apin, apin_len, name);
	omc_free(apin); /* wipes */
	omc_free(pin);
	return e == OMC_OK ? CLI_OK : user_fail(sub, e);
}

static int do_user(tre_be *b, const tre_args *a, const char *sub, const char *name)
{
	if (b->c)
		return do_user_socket(b->c, a, sub, name);
	omc_tre *t = b->t;
	omc_tre_caller admin = {0}, *adminp = NULL;
	char *pin = NULL;
	size_t pin_len = 0;
	if (a->as) {
		if (!read_pin(&pin, &pin_len))
			return cli_usage_error(!strcmp(sub, "user-add")   ? "tre user-add"
					       : !strcmp(sub, "user-del") ? "tre user-del"
									  : "tre user-unblock",
					       "no admin PIN on stdin");
		omc_err e = omc_tre_user_auth(t, a->as, pin, pin_len, &admin);
		omc_free(pin);
		/* A wrong admin PIN is a refusal (exit 1), as in the step below. */
		if (e != OMC_OK)
			return omc_err_category(e) == OMC_CAT_POLICY || omc_err_category(e) == OMC_CAT_AUTH
				       ? (fail(sub, e), CLI_FAIL)
				       : fail(sub, e);
		adminp = &admin;
	}
	omc_err e;
	if (!strcmp(sub, "user-add")) {
		if (!a->role)
			return cli_usage_error("tre user-add", "missing --role");
		if (!read_pin(&pin, &pin_len))
			return cli_usage_error("tre user-add", "no PIN on stdin");
		e = omc_tre_user_add(t, adminp, name, a->role, pin, pin_len);
		omc_free(pin);
	} else if (!strcmp(sub, "user-del")) {
		e = omc_tre_user_del(t, adminp, name);
	} else {
		e = omc_tre_user_unblock(t, adminp, name);
	}
	if (e != OMC_OK)
		return omc_err_category(e) == OMC_CAT_POLICY || omc_err_category(e) == OMC_CAT_AUTH ? (fail(sub, e), CLI_FAIL)
												     : fail(sub, e);
	return CLI_OK;
}

static int do_users(tre_be *b, const tre_args *a)
{
	omc_tre_user_info u[32];
	size_t n;
	omc_err ue = be_users(b, u, 32, &n);
	if (ue != OMC_OK)
		return fail("users", b->t ? OMC_ERR_BUG : ue);
	if (a->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:b}", "name", u[i].name, "role", u[i].role,
							     "failures", (int)u[i].failures, "blocked", u[i].blocked));
		char *s = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		puts(s ? s : "[]");
		omc_free(s);
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		printf("%-32s %-9s failures %u%s\n", u[i].name, u[i].role, u[i].failures, u[i].blocked ? " BLOCKED" : "");
	return CLI_OK;
}

int cmd_tre(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},    {"json", no_argument, NULL, 'j'},
		{"socket", required_argument, NULL, 'S'}, {"tpm", required_argument, NULL, 'T'},
		{"verify", no_argument, NULL, 'v'},       {"reason", required_argument, NULL, 'r'},
		{"auth", required_argument, NULL, 'a'},   {"nonce", required_argument, NULL, 'n'},
		{"role", required_argument, NULL, 'R'},   {"as", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	/* The update commands parse their own arguments (cmd_tre_update.c):
	 * the first word that is neither an option nor an option's value. */
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		if (w[0] != '-') {
			if (cli_tre_update_sub(w))
				return cmd_tre_update(argc, argv);
			break;
		}
		/* GNU getopt takes abbreviations: "--js" is --json. */
		size_t wl = strlen(w);
		bool flag = !strcmp(w, "-h") || strchr(w, '=') != NULL ||
			    (wl > 2 && (!strncmp("--json", w, wl) || !strncmp("--verify", w, wl) || !strncmp("--help", w, wl)));
		if (!flag)
			i++; /* its value */
	}
	tre_args a = {0};
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a.dir = optarg;
			break;
		case 'S':
			a.sock = optarg;
			break;
		case 'T':
			a.tpm = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		case 'v':
			a.verify = true;
			break;
		case 'r':
			a.reason = optarg;
			break;
		case 'a':
			a.auth = optarg;
			break;
		case 'n':
			a.nonce = optarg;
			break;
		case 'R':
			a.role = optarg;
			break;
		case 's':
			a.as = optarg;
			break;
		case 'h':
			fputs(tre_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("tre", "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fputs(tre_usage, stderr);
		return CLI_USAGE;
	}
	const char *sub = argv[optind++];
	const char *arg = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return cli_usage_error("tre", "unexpected argument '%s'", argv[optind]);
	if (a.dir && a.sock)
		return cli_usage_error("tre", "give one of --dir and --socket");
	if (!a.dir && !a.sock)
		return cli_usage_error("tre", "missing --dir (or --socket)");
	if (a.tpm && a.sock)
		return cli_usage_error("tre", "--tpm goes with --dir (the daemon has its own)");
	bool needs_arg = !strcmp(sub, "user-add") || !strcmp(sub, "user-del") || !strcmp(sub, "user-unblock");
	if (needs_arg != (arg != NULL))
		return cli_usage_error("tre", needs_arg ? "%s needs a user name" : "unexpected argument after %s", sub);

	static const char *const known[] = {"status", "registry", "audit",  "checkpoint", "attest",
					    "certs",  "users",    "user-add", "user-del",  "user-unblock", "tamper",
					    "recover", "recovery-counter", "tamper-report"};
	bool ok = false;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		ok = ok || !strcmp(sub, known[i]);
	if (!ok)
		return cli_usage_error("tre", "unknown command '%s' (see --help)", sub);
	if (!strcmp(sub, "tamper") && !a.reason)
		return cli_usage_error("tre tamper", "missing --reason");
	if (!strcmp(sub, "recover") && !a.auth)
		return cli_usage_error("tre recover", "missing --auth");
	uint8_t nonce[64];
	size_t nonce_len = 0;
	if (!strcmp(sub, "attest")) {
		static const size_t lens[] = {8, 16, 32, 64};
		if (!a.nonce)
			return cli_usage_error("tre attest", "missing --nonce");
		if (!cli_hex_opt("tre attest", "--nonce", (char *)(uintptr_t)a.nonce, nonce, lens, 4, &nonce_len, false))
			return CLI_USAGE;
	}
	char *auth = NULL;
	size_t auth_len = 0;
	char label[40];
	snprintf(label, sizeof label, "tre %s", sub);
	if (a.auth && !cli_read_file(label, "--auth", a.auth, &auth, &auth_len, 1 << 20))
		return CLI_USAGE;
	/* A file written by a shell or an editor ends in a newline: the
	 * compact serialisation has no white space, so trailing white space
	 * is not part of the object. */
	while (auth_len > 0 && (auth[auth_len - 1] == '\n' || auth[auth_len - 1] == '\r' ||
				auth[auth_len - 1] == ' ' || auth[auth_len - 1] == '\t'))
		auth[--auth_len] = '\0';

	bool readonly = !strcmp(sub, "status") || !strcmp(sub, "registry") || !strcmp(sub, "audit") ||
			!strcmp(sub, "certs") || !strcmp(sub, "users") || !strcmp(sub, "recovery-counter") ||
			!strcmp(sub, "tamper-report");
	tre_be be;
	int rc = open_tre(&be, &a, readonly, sub);
	if (rc != CLI_OK) {
		omc_free(auth);
		return rc;
	}
	omc_err e = OMC_OK;
	char *out = NULL;
	size_t out_len = 0;
	omc_tre *t = be.t;
	omc_tred_client *cl = be.c;
	if (!strcmp(sub, "status")) {
		rc = do_status(&be, &a, false);
	} else if (!strcmp(sub, "registry")) {
		rc = do_status(&be, &a, true);
	} else if (!strcmp(sub, "audit")) {
		rc = do_audit(&be, &a);
	} else if (!strcmp(sub, "users")) {
		rc = do_users(&be, &a);
	} else if (!strcmp(sub, "user-add") || !strcmp(sub, "user-del") || !strcmp(sub, "user-unblock")) {
		rc = do_user(&be, &a, sub, arg);
	} else if (!strcmp(sub, "tamper")) {
		e = t ? omc_tre_tamper(t, a.reason) : omc_tred_tamper(cl, a.reason);
		if (e == OMC_OK)
			printf("{\"state\":\"lockdown\"}\n");
	} else if (!strcmp(sub, "recover")) {
		e = t ? omc_tre_recover(t, auth, auth_len) : omc_tred_recover(cl, auth, auth_len);
		omc_tre_state now = OMC_TRE_PRISTINE;
		if (e == OMC_OK)
			e = be_state(&be, &now);
		if (e == OMC_OK)
			printf("{\"state\":\"%s\"}\n", omc_tre_state_name(now));
		else if (omc_err_category(e) == OMC_CAT_AUTH || omc_err_category(e) == OMC_CAT_POLICY ||
			 omc_err_category(e) == OMC_CAT_INPUT || e == OMC_ERR_TAMPERED)
			rc = (fail(sub, e), CLI_FAIL), e = OMC_OK; /* refused, malformed ones included */
		else if (e == OMC_ERR_UNSUPPORTED) /* no store to rebuild: a failure, not a usage error */
			rc = (fprintf(stderr, "openmcim tre recover: the store is destroyed; rebuilding it is not "
					      "supported\n"),
			      CLI_ERROR),
			e = OMC_OK;
	} else if (!strcmp(sub, "recovery-counter")) {
		uint64_t ctr;
		e = t ? omc_tre_recovery_counter(t, &ctr) : omc_tred_recovery_counter(cl, &ctr);
		omc_tre_status st;
		if (e == OMC_OK)
			e = be_status(&be, &st);
		if (e == OMC_OK)
			printf("{\"tre_id\":\"%s\",\"counter\":%llu}\n", st.tre_id, (unsigned long long)ctr);
	} else if (!strcmp(sub, "checkpoint")) {
		e = t ? omc_tre_audit_checkpoint(t, &out) : omc_tred_audit_checkpoint(cl, &out);
		if (e == OMC_ERR_TAMPERED) /* the audit log is not intact: a negative result */
			rc = (fail(sub, e), CLI_FAIL), e = OMC_OK;
	} else if (!strcmp(sub, "tamper-report")) {
		e = t ? omc_tre_tamper_report(t, &out) : omc_tred_tamper_report(cl, &out);
		if (e == OMC_ERR_BAD_STATE) /* not locked down: nothing to report */
			rc = (fprintf(stderr, "openmcim tre tamper-report: the TRE is not locked down\n"), CLI_FAIL),
			e = OMC_OK;
	} else if (!strcmp(sub, "attest")) {
		e = t ? omc_tre_attest(t, nonce, nonce_len, &out) : omc_tred_attest(cl, nonce, nonce_len, &out);
	} else if (!strcmp(sub, "certs")) {
		e = t ? omc_tre_certificates(t, &out, &out_len) : omc_tred_certificates(cl, &out, &out_len);
	}
	if (out) {
		fputs(out, stdout);
		if (!strchr(out, '\n'))
			fputc('\n', stdout);
		omc_free(out);
	}
	omc_free(auth);
	be_close(&be);
	if (e != OMC_OK)
		return fail(sub, e);
	return rc;
}
