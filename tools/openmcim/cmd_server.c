/* openmcim server: the network roles (docs/server.md). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "openmcim/openmcim.h"

static const char server_usage[] =
	"usage: openmcim server --config FILE [--log-level LEVEL]\n"
	"       openmcim server --demo [--dir DIR] [--db URI] [--log-level LEVEL]\n"
	"\n"
	"Runs the network roles of the config file: the AuC of every operator, the SHO\n"
	"role of every operator of kind sho, and the CCIF, VNO, bootstrap, DRF, PVA and\n"
	"DPF when [server] roles lists them; each on its own listener. docs/server.md\n"
	"describes the file, docs/openapi.json every endpoint.\n"
	"\n"
	"--demo        every role on loopback with a fresh demo deployment in DIR (a new\n"
	"              temporary directory by default, removed at exit): the demo PKI, a\n"
	"              master key, server.conf, the PVA's reference values and a subscriber\n"
	"              account per SHO (tokens in DIR/subscribers.json). A DIR that holds a\n"
	"              deployment already (server.conf) is started again as it is.\n"
	"--dir DIR     where the demo deployment lives (kept at exit); while the server\n"
	"              runs, DIR/urls.json holds the role map below\n"
	"--db URI      with --demo: the deployment's database is this empty PostgreSQL\n"
	"              database (postgresql://...) instead of DIR/openmcim.db; further\n"
	"              replicas share it with `openmcim server --config DIR/server.conf`\n"
	"--config FILE the config file\n"
	"--log-level   err, wrn, inf or dbg (default wrn), on stderr\n"
	"\n"
	"Once every listener is up, the first line on stdout is one JSON object mapping\n"
	"each role (\"ccif\", \"vno\", \"bootstrap\", \"drf\", \"pva\", \"dpf\", \"auc.OPERATOR\",\n"
	"\"sho.OPERATOR\") to its base URL. It then runs until SIGINT or SIGTERM, and stops\n"
	"every listener before it exits.\n"
	"\n"
	"Exit status: 0 stopped by a signal, 2 usage error, 3 failure (a bad config, a\n"
	"port in use: the message says why).\n";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* dir/urls.json (through a temporary file and a rename, so that a reader
 * sees the whole map or none); its path in map. */
static bool write_urls(char *map, size_t cap, const char *dir, const char *urls)
{
	char tmpf[640];
	snprintf(map, cap, "%s/urls.json", dir);
	snprintf(tmpf, sizeof tmpf, "%s/urls.json.tmp", dir);
	FILE *f = fopen(tmpf, "w");
	bool ok = f && fprintf(f, "%s\n", urls) > 0;
	ok = (f && fclose(f) == 0) && ok && rename(tmpf, map) == 0;
	if (!ok) {
		unlink(tmpf);
		map[0] = 0;
	}
	return ok;
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"demo", no_argument, NULL, 'd'},
		{"dir", required_argument, NULL, 'D'},    {"log-level", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'B'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *dir = NULL, *level = "wrn", *db = NULL;
	bool demo = false;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			demo = true;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'B':
			if (!omc_db_is_pg(optarg))
				return cli_usage_error("server", "--db: expected a PostgreSQL URI (postgresql://...)");
			db = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(server_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("server", "unknown option or missing value: '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("server", "unexpected argument '%s'", argv[optind]);
	if (demo == (config != NULL))
		return cli_usage_error("server", "give exactly one of --config FILE and --demo");
	if (dir && !demo)
		return cli_usage_error("server", "--dir goes with --demo");
	if (db && !demo)
		return cli_usage_error("server", "--db goes with --demo (a config names its database itself)");
	static const struct {
		const char *name;
		omc_log_level level;
	} levels[] = {{"err", OMC_LOG_LEVEL_ERR}, {"wrn", OMC_LOG_LEVEL_WRN}, {"inf", OMC_LOG_LEVEL_INF},
		      {"dbg", OMC_LOG_LEVEL_DBG}};
	size_t li = 0;
	while (li < sizeof levels / sizeof levels[0] && strcmp(levels[li].name, level) != 0)
		li++;
	if (li == sizeof levels / sizeof levels[0])
		return cli_usage_error("server", "--log-level: err, wrn, inf or dbg");
	omc_log_set_level(levels[li].level);

	/* Block the stop signals before any thread starts, then wait for one.
	 * Blocked before the demo setup too: a stop signal during it is taken
	 * once the server is up, so no half-made deployment and no temporary
	 * directory are left behind. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	char tmp[64] = "", conf[600];
	if (demo) {
		if (!dir) {
			snprintf(tmp, sizeof tmp, "/tmp/openmcim-server-XXXXXX");
			if (!mkdtemp(tmp)) {
				fprintf(stderr, "openmcim server: cannot make a temporary directory\n");
				return CLI_ERROR;
			}
			dir = tmp;
		}
		if (strlen(dir) > 400)
			return cli_usage_error("server", "--dir: path too long");
		snprintf(conf, sizeof conf, "%s/server.conf", dir);
		if (access(conf, F_OK) != 0) {
			omc_err e = omc_server_demo_setup_db(dir, db);
			if (e != OMC_OK) {
				fprintf(stderr, "openmcim server: demo setup in %s: %s\n", dir, omc_err_str(e));
				if (tmp[0])
					nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
				return CLI_ERROR;
			}
		}
		config = conf;
	}
	omc_server *s = NULL;
	omc_server_opts so = {.config = config};
	omc_err e = omc_server_start(&s, &so);
	char *urls = NULL;
	if (e == OMC_OK)
		e = omc_server_urls(s, &urls);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim server: %s: %s\n", config, omc_err_str(e));
		omc_server_stop(s);
		if (tmp[0])
			nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		return CLI_ERROR;
	}
	printf("%s\n", urls);
	fflush(stdout);
	/* With --demo --dir, the same map in DIR/urls.json while the server
	 * runs: what `openmcim sim --server-dir DIR` reads (docs/sim.md). */
	char map[620] = "";
	if (demo && !tmp[0] && !write_urls(map, sizeof map, dir, urls))
		fprintf(stderr, "openmcim server: cannot write %s/urls.json\n", dir);
	omc_free(urls);
	if (demo)
		fprintf(stderr, "openmcim server: demo deployment in %s\n", dir);
	int sig = 0;
	sigwait(&set, &sig);
	omc_server_stop(s);
	if (map[0])
		unlink(map);
	if (tmp[0])
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return CLI_OK;
}
