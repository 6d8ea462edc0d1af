/* openmcim tre update-stage, update-confirm, update-status and boot: the TRE
 * update (TRE-12, docs/cli-tre.md "TRE update"). They work on a TRE
 * directory (--dir) only: the TRE daemon does not serve them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "openmcim/tre.h"

#define FILE_MAX (16u * 1024 * 1024) /* one component, as the TRE allows */

static const char update_usage[] =
	"usage: openmcim tre --dir TREDIR update-stage --manifest FILE NAME=FILE...\n"
	"       openmcim tre --dir TREDIR update-confirm\n"
	"       openmcim tre --dir TREDIR update-status [--json]\n"
	"       openmcim tre --dir TREDIR boot\n"
	"\n"
	"update-stage    checks a signed update manifest (typ omc-update+jwt, from the TRE\n"
	"                vendor; 'openmcim factory update-manifest' makes one) and the new\n"
	"                content of each of its components, given as NAME=FILE (one for each\n"
	"                component the manifest names, no other), and stages them. Prints\n"
	"                {\"update\":\"staged\",\"version\",\"counter\"}.\n"
	"update-confirm  makes the update whose trial runs permanent: the TRE's security\n"
	"                counter rises to the update's. Prints {\"update\":\"none\",\"version\",\n"
	"                \"counter\"}.\n"
	"update-status   the update's state (none, staged, trial; switching or reverting\n"
	"                when a power cut interrupted one and no read-write open ran since),\n"
	"                the running version and its counter, the stored security counter,\n"
	"                the staged version. --json: {\"state\",\"running_version\",\n"
	"                \"running_counter\",\"counter\",\"staged_version\",\"staged_counter\"}.\n"
	"boot            opens the TRE as the device's start does (the daemon and the agent\n"
	"                do it too): counts the boot; a staged update begins its trial, an\n"
	"                unconfirmed trial is reverted. Prints the update status as JSON.\n"
	"\n"
	"A staged update takes effect at the next boot only; another boot without\n"
	"update-confirm in between reverts it. update-stage, update-confirm and boot take\n"
	"the TRE directory's lock, as the daemon and the agent do: they fail while one runs.\n"
	"Exit status: 0 success, 1 refused (signature, model, security counter, a file's\n"
	"size or digest, no trial to confirm, lockdown), 2 usage error, 3 the TRE could\n"
	"not be opened or the operation failed.\n";

static const char *const subs[] = {"update-stage", "update-confirm", "update-status", "boot"};

bool cli_tre_update_sub(const char *s)
{
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(s, subs[i]))
			return true;
	return false;
}

static int refused_or_failed(const char *sub, omc_err e)
{
	fprintf(stderr, "openmcim tre %s: %s\n", sub, omc_err_str(e));
	omc_err_cat c = omc_err_category(e);
	if (c == OMC_CAT_USAGE)
		return CLI_USAGE;
	if (c == OMC_CAT_AUTH || c == OMC_CAT_POLICY || c == OMC_CAT_INPUT || c == OMC_CAT_TAMPER)
		return CLI_FAIL;
	return CLI_ERROR;
}

static int print_status(omc_tre *t, bool json, const char *sub)
{
	omc_tre_update_info u;
	omc_err e = omc_tre_update_status(t, &u);
	if (e != OMC_OK)
		return refused_or_failed(sub, e);
	if (json) {
		json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I}", "state", omc_tre_update_state_name(u.state),
				      "running_version", u.running_version, "running_counter",
				      (json_int_t)u.running_counter, "counter", (json_int_t)u.counter, "staged_version",
				      u.staged_version, "staged_counter", (json_int_t)u.staged_counter);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (!s)
			return refused_or_failed(sub, OMC_ERR_NOMEM);
		puts(s);
		omc_free(s);
		return CLI_OK;
	}
	printf("update        %s\n", omc_tre_update_state_name(u.state));
	printf("running       %s (security counter %llu)\n", u.running_version[0] ? u.running_version : "(unverified)",
	       (unsigned long long)u.running_counter);
	printf("counter       %llu (stored; a confirmed update raises it)\n", (unsigned long long)u.counter);
	if (u.state != OMC_TRE_UPDATE_NONE)
		printf("staged        %s (security counter %llu)\n", u.staged_version, (unsigned long long)u.staged_counter);
	return CLI_OK;
}

/* The component files: NAME=FILE each. */
static int read_files(const char *label, char **args, int n, omc_tre_update_file *f, char **bufs)
{
	for (int i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');
		if (!eq || eq == args[i] || !eq[1])
			return cli_usage_error(label, "'%s': want NAME=FILE", args[i]);
		*eq = '\0'; /* the name ends here; argv is ours */
		size_t len = 0;
		if (!cli_read_file(label, args[i], eq + 1, &bufs[i], &len, FILE_MAX))
			return CLI_USAGE;
		f[i] = (omc_tre_update_file){.name = args[i], .data = (const uint8_t *)bufs[i], .len = len};
	}
	return CLI_OK;
}

static int do_stage(omc_tre *t, const char *manifest_path, char **args, int n)
{
	const char *label = "tre update-stage";
	if (!manifest_path)
		return cli_usage_error(label, "missing --manifest");
	if (n < 1 || n > 16)
		return cli_usage_error(label, "want 1 to 16 NAME=FILE, one for each component");
	char *m = NULL;
	size_t mlen = 0;
	if (!cli_read_file(label, "--manifest", manifest_path, &m, &mlen, 1 << 20))
		return CLI_USAGE;
	/* A file from a shell or an editor ends in a newline; the compact
	 * serialisation has no white space. */
	while (mlen > 0 && (m[mlen - 1] == '\n' || m[mlen - 1] == '\r' || m[mlen - 1] == ' ' || m[mlen - 1] == '\t'))
		m[--mlen] = '\0';
	omc_tre_update_file f[16];
	char *bufs[16] = {0};
	int rc = read_files(label, args, n, f, bufs);
	if (rc == CLI_OK) {
		omc_err e = omc_tre_update_stage(t, m, mlen, f, (size_t)n);
		if (e == OMC_ERR_BAD_ARG)
			rc = cli_usage_error(label, "the files do not match the manifest's components (one NAME=FILE "
						    "for each, no other)");
		else if (e != OMC_OK)
			rc = refused_or_failed("update-stage", e);
	}
	for (int i = 0; i < n; i++)
		omc_free(bufs[i]);
	omc_free(m);
	if (rc != CLI_OK)
		return rc;
	omc_tre_update_info u;
	omc_err e = omc_tre_update_status(t, &u);
	if (e != OMC_OK)
		return refused_or_failed("update-stage", e);
	printf("{\"update\":\"staged\",\"version\":\"%s\",\"counter\":%llu}\n", u.staged_version,
	       (unsigned long long)u.staged_counter);
	return CLI_OK;
}

int cmd_tre_update(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'}, {"socket", required_argument, NULL, 'S'},
		{"manifest", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *manifest = NULL;
	bool json = false, sock = false;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'S':
			sock = true;
			break;
		case 'm':
			manifest = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(update_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("tre", "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("tre", "missing command");
	const char *sub = argv[optind++];
	char label[40];
	snprintf(label, sizeof label, "tre %s", sub);
	if (sock)
		return cli_usage_error(label, "the TRE daemon does not serve the update commands: use --dir");
	if (!dir)
		return cli_usage_error(label, "missing --dir");
	bool stage = !strcmp(sub, "update-stage");
	if (!stage && optind < argc)
		return cli_usage_error(label, "unexpected argument '%s'", argv[optind]);
	if (manifest && !stage)
		return cli_usage_error(label, "--manifest is for update-stage");
	if (json && strcmp(sub, "update-status") != 0)
		return cli_usage_error(label, "--json is for update-status");
	bool readonly = !strcmp(sub, "update-status");
	/* The commands that change files hold the TRE as the daemon and the
	 * agent do: a boot or a switch under a running daemon would pull its
	 * files from under it. */
	int dir_fd = -1;
	if (!readonly) {
		dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0 || flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
			bool busy = dir_fd >= 0 && errno == EWOULDBLOCK;
			fprintf(stderr, "openmcim %s: cannot open TRE in '%s': %s\n", label, dir,
				busy ? "another process (a tred daemon, an agent) holds this TRE" : strerror(errno));
			if (dir_fd >= 0)
				close(dir_fd);
			return CLI_ERROR;
		}
	}
	omc_tre_opts o = {.dir = dir, .readonly = readonly, .count_boot = !strcmp(sub, "boot")};
	omc_tre *t = NULL;
	omc_err e = omc_tre_open(&t, &o);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim %s: cannot open TRE in '%s': %s\n", label, dir, omc_err_str(e));
		if (dir_fd >= 0)
			close(dir_fd);
		return CLI_ERROR;
	}
	int rc;
	if (stage) {
		rc = do_stage(t, manifest, argv + optind, argc - optind);
	} else if (!strcmp(sub, "update-confirm")) {
		e = omc_tre_update_confirm(t);
		omc_tre_update_info u;
		if (e == OMC_OK)
			e = omc_tre_update_status(t, &u);
		if (e == OMC_OK) {
			printf("{\"update\":\"none\",\"version\":\"%s\",\"counter\":%llu}\n", u.running_version,
			       (unsigned long long)u.counter);
			rc = CLI_OK;
		} else {
			rc = refused_or_failed("update-confirm", e);
		}
	} else {
		rc = print_status(t, json || !strcmp(sub, "boot"), sub);
	}
	omc_tre_close(t);
	if (dir_fd >= 0)
		close(dir_fd); /* and the lock with it */
	return rc;
}
