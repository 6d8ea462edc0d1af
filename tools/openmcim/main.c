/* openmcim: the umbrella command. Subcommands are registered in one table. */
#include <string.h>

#include "cli.h"
#include "openmcim/openmcim.h"

static const cli_cmd commands[] = {
	{"aka", "3GPP AKA algorithms: vectors and challenge checks (MILENAGE, TUAK)", cmd_aka},
	{"bench", "benchmarks, each figure beside its bound measured in the same run", cmd_bench},
	{"ctl", "administer a server's deployment: operators, subscribers, devices, audit", cmd_ctl},
	{"demo", "a guided run of what openmcim does so far", cmd_demo},
	{"factory", "the factory step: demo PKI and devices (TRE, identity, PCID)", cmd_factory},
	{"server", "the network roles: AuC, CCIF, VNO, bootstrap, DRF, PVA, SHO, DPF", cmd_server},
	{"sim", "the fleet simulator: N devices against the server, with faults", cmd_sim},
	{"agent", "the M2ME agent: a device from its PCID to its MCIM, then commands", cmd_agent},
	{"tre", "inspect and administer a TRE: status, registry, audit, users, tamper", cmd_tre},
	{"tred", "the TRE daemon: the TRE behind a Unix socket, for the agent and local tools", cmd_tred},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: openmcim [--version] [--help] <command> [<args>]\n\n"
		   "Remote provisioning and change of subscription for M2M equipment (3GPP TR 33.812).\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'openmcim <command> --help' for a command's options.\n"
		   "Exit status: 0 success, 1 failure or negative verdict, 2 usage error, 3 internal error.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
				if (!strcmp(commands[i].name, argv[2])) {
					static char help_flag[] = "--help";
					char *sub[] = {argv[2], help_flag, NULL};
					return commands[i].run(2, sub);
				}
			return cli_usage_error("help", "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("openmcim %s\n", omc_version());
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "openmcim: unknown command '%s' (see 'openmcim --help')\n", name);
	return CLI_USAGE;
}
