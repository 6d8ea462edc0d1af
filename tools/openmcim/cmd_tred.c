/* openmcim tred: the TRE daemon (TRE-1): the TRE library behind a Unix
 * socket, until SIGTERM or SIGINT. docs/tred.md. */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "openmcim/tred.h"

static const char tred_usage[] =
	"usage: openmcim tred --dir TREDIR --socket PATH [--users FILE] [--log-level LEVEL]\n"
	"                     [--tpm TCTI]\n"
	"       openmcim tred card --socket PATH --vpcd HOST:PORT [...]   (see tred card --help)\n"
	"\n"
	"Open the TRE in TREDIR once (a boot) and serve it on the Unix stream socket PATH\n"
	"(mode 0660), one JSON request a line, until SIGTERM or SIGINT.\n"
	"\n"
	"  --dir TREDIR      the TRE's directory (made by 'openmcim factory device')\n"
	"  --socket PATH     the socket to create; refused if a daemon listens there or\n"
	"                    PATH is not a socket; a stale socket is replaced\n"
	"  --users FILE      lines 'UID NAME': the local user name of each peer uid;\n"
	"                    default: this process's uid is 'agent', root is 'admin'.\n"
	"                    A peer not named may only ask for the status\n"
	"  --log-level L     err, wrn (default), inf (one line a connection and a request), dbg\n"
	"  --tpm TCTI        the TPM of a TPM device ('device:/dev/tpmrm0'); default: the\n"
	"                    TCTI in TREDIR/tpm.conf (docs/tpm.md)\n"
	"\n"
	"Once listening it prints {\"socket\":PATH,\"tre_id\":S,\"state\":S,\"boot_count\":N}\n"
	"on stdout. The requests: docs/tred.md.\n"
	"Exit status: 0 stopped by a signal, 2 usage error, 3 failure (the TRE cannot be\n"
	"opened, the socket is taken, a bad users file).\n";

static omc_tred_daemon *volatile running;

/* While the daemon starts, its own errors are kept, not printed: the last
 * one becomes the command's one-line error. Every other line goes to
 * stderr as the default sink writes it (the TRE's warnings among them). */
static char start_error[256];

static void start_log(void *arg, omc_log_level level, const char *module, const char *msg)
{
	(void)arg;
	if (level == OMC_LOG_LEVEL_ERR && !strcmp(module, "tred"))
		snprintf(start_error, sizeof start_error, "%s", msg);
	else
		fprintf(stderr, "openmcim[%s] %s: %s\n", module, omc_log_level_name(level), msg);
}

static void on_stop(int sig)
{
	(void)sig;
	omc_tred_daemon_stop(running);
}

static void ready_line(omc_tred_daemon *d, const char *path)
{
	omc_tre_status st;
	json_t *o = NULL;
	if (omc_tred_daemon_status(d, &st) == OMC_OK)
		o = json_pack("{s:s,s:s,s:s,s:I}", "socket", path, "tre_id", st.tre_id, "state",
			      omc_tre_state_name(st.state), "boot_count", (json_int_t)st.boot_count);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	puts(s ? s : "{}");
	omc_free(s);
	fflush(stdout);
}

int cmd_tred(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},       {"socket", required_argument, NULL, 's'},
		{"users", required_argument, NULL, 'u'},     {"log-level", required_argument, NULL, 'l'},
		{"tpm", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
	};
	if (argc > 1 && !strcmp(argv[1], "card"))
		return cmd_tred_card(argc - 1, argv + 1);
	const char *dir = NULL, *sock = NULL, *users = NULL, *level = "wrn", *tpm = NULL;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 't':
			tpm = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'u':
			users = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(tred_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("tred", "unknown option or missing value: '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("tred", "unexpected argument '%s'", argv[optind]);
	if (!dir)
		return cli_usage_error("tred", "missing --dir");
	if (!sock)
		return cli_usage_error("tred", "missing --socket");
	if (!sock[0] || strlen(sock) >= 108)
		return cli_usage_error("tred", "--socket: a path of 1 to 107 bytes");
	if (!cli_log_level_opt("tred", level))
		return CLI_USAGE;

	/* The stop signals are held back until the daemon can take them: one
	 * that comes while the TRE opens stops it right after. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	omc_tred_daemon *d = NULL;
	omc_tred_opts o = {.dir = dir, .socket_path = sock, .users_file = users, .tpm = tpm};
	omc_log_set_handler(start_log, NULL);
	omc_err e = omc_tred_daemon_new(&d, &o);
	omc_log_set_handler(NULL, NULL);
	if (e != OMC_OK) {
		if (start_error[0])
			fprintf(stderr, "openmcim tred: %s\n", start_error);
		else
			fprintf(stderr, "openmcim tred: cannot serve %s on %s: %s\n", dir, sock, omc_err_str(e));
		return CLI_ERROR;
	}
	running = d;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ready_line(d, sock);
	sigprocmask(SIG_SETMASK, &old, NULL);
	e = omc_tred_daemon_run(d);
	sigprocmask(SIG_BLOCK, &set, NULL);
	running = NULL;
	omc_tred_daemon_free(d);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim tred: %s\n", omc_err_str(e));
		return CLI_ERROR;
	}
	return CLI_OK;
}
