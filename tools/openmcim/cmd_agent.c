/* openmcim agent: the M2ME agent (docs/agent.md) on a TRE directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "openmcim/tred.h"

static const char agent_usage[] =
	"usage: openmcim agent --tre TREDIR --vno URL --bootstrap URL --bootstrap-ca PEM\n"
	"                      [--tls-ca PEM] [--state FILE] [--until operational]\n"
	"                      [--timeout SECONDS] [--poll-ms N] [--backoff-max-ms N]\n"
	"                      [--renew-before-days N] [--json]\n"
	"       openmcim agent --tred SOCKET --state PATH --vno URL --bootstrap URL\n"
	"                      --bootstrap-ca PEM [the same options]\n"
	"\n"
	"Runs the M2ME agent (docs/agent.md) on the TRE in TREDIR, or on the TRE the\n"
	"daemon `openmcim tred` serves on SOCKET (then the state is the file PATH): attach\n"
	"with the PCID at\n"
	"the VNO, the ICO's bootstrap answer (checked against the CA in PEM), registration\n"
	"with the DRF (pending until a subscriber has registered the device with an SHO),\n"
	"validation by the PVA, the MCIM's download and install, the receipt, attach with\n"
	"the MCIM, then polling the DPF for signed commands. The state is saved in FILE\n"
	"(default TREDIR/agent.state) after every step, so an agent started again goes on\n"
	"where it was. In lockdown it does nothing on the network.\n"
	"\n"
	"--until operational  stop once attached with the MCIM and one command poll done\n"
	"                     (without it: run until SIGTERM or SIGINT)\n"
	"--timeout SECONDS    with --until: give up after this long (default 120)\n"
	"--poll-ms N          between command polls (default 30000)\n"
	"--backoff-max-ms N   the longest wait after failures (default 30000)\n"
	"--renew-before-days N  ask the ICO for a new PCID once the PCID expires within\n"
	"                     N days (default 30; 0: only when the network asks)\n"
	"--tls-ca PEM         the CA of HTTPS listeners\n"
	"--json               at the end, one JSON object on stdout: state, sho, mcim_id,\n"
	"                     mcim_imsi, last_error, failures, steps, commands, pending\n"
	"\n"
	"Exit status: 0 operational (with --until) or stopped by a signal; 1 not there in\n"
	"time, in lockdown, or in standby (its MCIM deactivated or blocked by its owner);\n"
	"2 usage error; 3 the TRE or the state could not be opened.\n";

static volatile sig_atomic_t agent_stop;

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

static void print_info(const omc_agent_info *in, bool json_out)
{
	if (json_out) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:b}", "state", omc_agent_state_name(in->state),
				      "sho", in->sho, "mcim_id", in->mcim_id, "mcim_imsi", in->mcim_imsi, "last_error",
				      in->last_error, "failures", (int)in->failures, "steps", (int)in->steps, "commands",
				      (int)in->commands, "pending", in->pending);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			printf("%s\n", s);
		omc_free(s);
		json_decref(o);
		return;
	}
	printf("state      %s\nsho        %s\nmcim       %s\nimsi       %s\nsteps      %u\ncommands   %u\n",
	       omc_agent_state_name(in->state), in->sho[0] ? in->sho : "-", in->mcim_id[0] ? in->mcim_id : "-",
	       in->mcim_imsi[0] ? in->mcim_imsi : "-", in->steps, in->commands);
	if (in->last_error[0])
		printf("last error %s\n", in->last_error);
}

int cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {
		{"tre", required_argument, NULL, 't'},          {"vno", required_argument, NULL, 'v'},
		{"bootstrap", required_argument, NULL, 'b'},    {"bootstrap-ca", required_argument, NULL, 'c'},
		{"tls-ca", required_argument, NULL, 'T'},       {"state", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},        {"timeout", required_argument, NULL, 'o'},
		{"poll-ms", required_argument, NULL, 'p'},      {"backoff-max-ms", required_argument, NULL, 'B'},
		{"json", no_argument, NULL, 'j'},               {"help", no_argument, NULL, 'h'},
		{"tred", required_argument, NULL, 'S'},         {"renew-before-days", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	const char *tre = NULL, *vno = NULL, *boot = NULL, *ca = NULL, *tls = NULL, *state = NULL, *sock = NULL;
	bool until = false, json_out = false;
	unsigned long timeout = 120, poll = 30000, bmax = 30000, renew_days = 30;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': tre = optarg; break;
		case 'S': sock = optarg; break;
		case 'v': vno = optarg; break;
		case 'b': boot = optarg; break;
		case 'c': ca = optarg; break;
		case 'T': tls = optarg; break;
		case 's': state = optarg; break;
		case 'u':
			if (strcmp(optarg, "operational") != 0)
				return cli_usage_error("agent", "--until: only 'operational'");
			until = true;
			break;
		case 'o':
			if (!cli_uint_opt("agent", "--timeout", optarg, 1, 86400, &timeout))
				return CLI_USAGE;
			break;
		case 'p':
			if (!cli_uint_opt("agent", "--poll-ms", optarg, 10, 3600000, &poll))
				return CLI_USAGE;
			break;
		case 'B':
			if (!cli_uint_opt("agent", "--backoff-max-ms", optarg, 10, 3600000, &bmax))
				return CLI_USAGE;
			break;
		case 'R':
			if (!cli_uint_opt("agent", "--renew-before-days", optarg, 0, 3650, &renew_days))
				return CLI_USAGE;
			break;
		case 'j': json_out = true; break;
		case 'h': fputs(agent_usage, stdout); return CLI_OK;
		default:
			return cli_usage_error("agent", "unknown option or missing value: '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("agent", "unexpected argument '%s'", argv[optind]);
	if ((tre != NULL) == (sock != NULL))
		return cli_usage_error("agent", "give exactly one of --tre TREDIR and --tred SOCKET");
	if (!vno || !boot || !ca)
		return cli_usage_error("agent", "--vno, --bootstrap and --bootstrap-ca are required");
	if (sock && !state)
		return cli_usage_error("agent", "--tred needs --state PATH");
	if (strncmp(vno, "http://", 7) && strncmp(vno, "https://", 8))
		return cli_usage_error("agent", "--vno: an http:// or https:// URL");
	if (strncmp(boot, "http://", 7) && strncmp(boot, "https://", 8))
		return cli_usage_error("agent", "--bootstrap: an http:// or https:// URL");
	/* The state: a file in TREDIR, or (with --tred) a path of its own. */
	char state_dir[400] = ".", state_name[112] = "agent.state";
	if (tre && state && (strchr(state, '/') || strlen(state) > 100))
		return cli_usage_error("agent", "--state: a file name in TREDIR");
	if (tre) {
		snprintf(state_dir, sizeof state_dir, "%s", tre);
		if (state)
			snprintf(state_name, sizeof state_name, "%s", state);
	} else {
		const char *slash = strrchr(state, '/');
		const char *name = slash ? slash + 1 : state;
		if (!name[0] || strlen(name) > 100 || (slash && (size_t)(slash - state) >= sizeof state_dir))
			return cli_usage_error("agent", "--state: a file path");
		if (slash)
			snprintf(state_dir, sizeof state_dir, "%.*s", slash == state ? 1 : (int)(slash - state), state);
		snprintf(state_name, sizeof state_name, "%s", name);
	}
	omc_log_set_level(OMC_LOG_LEVEL_ERR);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	omc_tre *t = NULL;
	omc_tred_client *tc = NULL;
	omc_store_io *io = NULL;
	omc_agent *a = NULL;
	omc_agent_local local;
	omc_tre_opts to = {.dir = tre, .count_boot = true};
	/* One process holds a TRE at a time: the same lock as the daemon's. */
	int dir_fd = -1;
	if (tre) {
		dir_fd = open(tre, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0 || flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
			bool busy = dir_fd >= 0 && errno == EWOULDBLOCK;
			fprintf(stderr, "openmcim agent: %s: %s\n", tre,
				busy ? "another process (a tred daemon, an agent) holds this TRE" : "cannot open");
			if (dir_fd >= 0)
				close(dir_fd);
			return CLI_ERROR;
		}
	}
	omc_err e = tre ? omc_tre_open(&t, &to) : omc_tred_connect(&tc, sock);
	if (e == OMC_OK)
		e = omc_store_io_posix_new(&io, state_dir);
	if (e == OMC_OK) {
		omc_agent_opts ao = {.io = io,
				     .state_path = state_name,
				     .vno_url = vno,
				     .bootstrap_url = boot,
				     .bootstrap_ca = ca,
				     .tls_ca = tls,
				     .backoff_max_ms = (unsigned)bmax,
				     .poll_ms = (unsigned)poll,
				     .renew_before_s = renew_days ? (int64_t)renew_days * 86400 : -1};
		if (t)
			omc_agent_tre_local(&ao.tre, &local, t, "agent");
		else
			omc_tred_agent_tre(&ao.tre, tc);
		e = omc_agent_new(&a, &ao);
	}
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim agent: %s: %s\n", tre ? tre : sock, omc_err_str(e));
		omc_agent_free(a);
		omc_store_io_posix_free(io);
		omc_tre_close(t);
		omc_tred_disconnect(tc);
		if (dir_fd >= 0)
			close(dir_fd);
		return CLI_ERROR;
	}
	int rc = CLI_OK;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!agent_stop) {
		unsigned w = 0;
		omc_agent_info in;
		if (omc_agent_step(a, &w) != OMC_OK) {
			fprintf(stderr, "openmcim agent: the state could not be saved\n");
			rc = CLI_ERROR;
			break;
		}
		omc_agent_info_get(a, &in);
		if (until && in.state == OMC_AGENT_OPERATIONAL && in.polled)
			break;
		/* Lockdown, or standby (its MCIM held by its owner, deactivated or
		 * blocked): settled, but not operational. */
		if (until && (in.state == OMC_AGENT_LOCKDOWN || (in.state == OMC_AGENT_STANDBY && in.polled))) {
			rc = CLI_FAIL;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (until && el + w / 1000.0 > (double)timeout) {
			rc = CLI_FAIL;
			break;
		}
		/* Sleep in slices, so that a signal ends the wait at once. */
		while (w > 0 && !agent_stop) {
			unsigned slice = w < 100 ? w : 100;
			struct timespec d = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
			nanosleep(&d, NULL);
			w -= slice;
		}
	}
	omc_agent_info in;
	omc_agent_info_get(a, &in);
	print_info(&in, json_out);
	omc_agent_free(a);
	omc_store_io_posix_free(io);
	omc_tre_close(t);
	omc_tred_disconnect(tc);
	if (dir_fd >= 0)
		close(dir_fd);
	return rc;
}
