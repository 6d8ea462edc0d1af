/* openmcim tred card: an MCIM of a running tred as a smart card over
 * vsmartcard's vpcd socket (NET-2, NET-5). It is a client of the daemon
 * like the agent: AUTHENTICATE goes to the daemon's "aka" op, so no K or
 * OPc ever reaches this process or the socket. docs/card.md. */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "cli.h"
#include "openmcim/openmcim.h"
#include "openmcim/unstable/card.h"

static const char card_usage[] =
	"usage: openmcim tred card --socket PATH --vpcd HOST:PORT [--mcim ID] [--mnc-len 2|3]\n"
	"                          [--iccid DIGITS] [--impi NAI] [--impu URI] [--log-level LEVEL]\n"
	"\n"
	"Serve an activated USIM- or ISIM-type MCIM of the TRE daemon on PATH as a UICC to\n"
	"vsmartcard's vpcd (the pcscd reader driver listening on HOST:PORT), until SIGTERM\n"
	"or SIGINT or until vpcd closes the connection. AUTHENTICATE runs inside the TRE\n"
	"as this process's user (the daemon maps its uid; 'agent' by default).\n"
	"\n"
	"  --socket PATH     the tred socket\n"
	"  --vpcd HOST:PORT  where vpcd listens (its reader's CHANNELID; default port 35963)\n"
	"  --mcim ID         the MCIM (default: the first activated operational one, else\n"
	"                    the first activated bootstrap one)\n"
	"  --mnc-len N       digits of the MNC in the IMSI, for EF_AD (default 2)\n"
	"  --iccid DIGITS    EF_ICCID (default: 89, the IMSI, zeros, a check digit)\n"
	"  --impi, --impu    ISIM identities (default: the MCIM's, else derived from the\n"
	"                    IMSI, TS 23.003)\n"
	"  --log-level L     err, wrn (default), inf, dbg (one line an APDU: INS and SW only)\n"
	"\n"
	"Once it has the MCIM it prints {\"mcim\":ID,\"imsi\":S,\"type\":S} on stdout.\n"
	"Exit status: 0 stopped, 2 usage error, 3 failure (no daemon, no such MCIM, no vpcd).\n";

static volatile int stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static omc_err auth_via_tred(void *ctx, const uint8_t rand[16], const uint8_t *autn, size_t autn_len,
			     omc_aka_check_result *out)
{
	void **a = ctx;
	return omc_tred_aka(a[0], a[1], NULL, rand, autn, autn_len, out);
}

/* The MCIM to serve: id if given, else the first activated operational,
 * else the first activated one. */
static const omc_tre_mcim_info *pick(const omc_tre_mcim_info *m, size_t n, const char *id)
{
	const omc_tre_mcim_info *any = NULL;
	for (size_t i = 0; i < n; i++) {
		if (id) {
			if (!strcmp(m[i].id, id))
				return &m[i];
			continue;
		}
		if (m[i].state != OMC_MCIM_ACTIVATED)
			continue;
		if (!strcmp(m[i].role, "operational"))
			return &m[i];
		if (!any)
			any = &m[i];
	}
	return any;
}

static bool copy_opt(const char *opt, char *dst, size_t cap, const char *src)
{
	if (strlen(src) >= cap) {
		cli_usage_error("tred card", "%s: at most %zu bytes", opt, cap - 1);
		return false;
	}
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

int cmd_tred_card(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"vpcd", required_argument, NULL, 'v'},
		{"mcim", required_argument, NULL, 'm'},   {"mnc-len", required_argument, NULL, 'n'},
		{"iccid", required_argument, NULL, 'c'},  {"impi", required_argument, NULL, 'i'},
		{"impu", required_argument, NULL, 'u'},   {"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *vpcd = NULL, *id = NULL, *level = "wrn";
	omc_card_profile prof;
	memset(&prof, 0, sizeof prof);
	prof.mnc_len = 2;
	unsigned long mnc = 2;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'v':
			vpcd = optarg;
			break;
		case 'm':
			id = optarg;
			break;
		case 'n':
			if (!cli_uint_opt("tred card", "--mnc-len", optarg, 2, 3, &mnc))
				return CLI_USAGE;
			break;
		case 'c':
			if (!copy_opt("--iccid", prof.iccid, sizeof prof.iccid, optarg))
				return CLI_USAGE;
			break;
		case 'i':
			if (!copy_opt("--impi", prof.impi, sizeof prof.impi, optarg))
				return CLI_USAGE;
			break;
		case 'u':
			if (!copy_opt("--impu", prof.impu, sizeof prof.impu, optarg))
				return CLI_USAGE;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(card_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("tred card", "unknown option or missing value: '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("tred card", "unexpected argument '%s'", argv[optind]);
	if (!sock)
		return cli_usage_error("tred card", "missing --socket");
	if (!vpcd)
		return cli_usage_error("tred card", "missing --vpcd");
	char host[256];
	const char *colon = strrchr(vpcd, ':');
	const char *port = colon ? colon + 1 : "35963";
	size_t hl = colon ? (size_t)(colon - vpcd) : strlen(vpcd);
	if (hl == 0 || hl >= sizeof host || !port[0])
		return cli_usage_error("tred card", "--vpcd: HOST:PORT");
	memcpy(host, vpcd, hl);
	host[hl] = 0;
	prof.mnc_len = (uint8_t)mnc;
	if (!cli_log_level_opt("tred card", level))
		return CLI_USAGE;

	omc_tred_client *cl = NULL;
	omc_err e = omc_tred_connect(&cl, sock);
	omc_tre_mcim_info reg[64];
	size_t n = 0;
	if (e == OMC_OK)
		e = omc_tred_registry(cl, reg, sizeof reg / sizeof reg[0], &n);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim tred card: cannot read the registry on %s: %s\n", sock, omc_err_str(e));
		omc_tred_disconnect(cl);
		return CLI_ERROR;
	}
	const omc_tre_mcim_info *m = pick(reg, n, id);
	if (!m || m->state != OMC_MCIM_ACTIVATED) {
		fprintf(stderr, "openmcim tred card: %s%s\n", id ? id : "no activated MCIM",
			!m ? (id ? ": no such MCIM" : "") : ": not activated");
		omc_tred_disconnect(cl);
		return CLI_ERROR;
	}
	memcpy(prof.imsi, m->imsi, sizeof prof.imsi);
	prof.isim = !strcmp(m->type, "isim");
	/* The ISIM's identities as its MCIM gave them, unless an option says. */
	if (prof.isim && !prof.impi[0])
		snprintf(prof.impi, sizeof prof.impi, "%s", m->impi);
	if (prof.isim && !prof.impu[0])
		snprintf(prof.impu, sizeof prof.impu, "%s", m->impu);
	char mcim_id[sizeof m->id];
	memcpy(mcim_id, m->id, sizeof mcim_id);
	void *actx[2] = {cl, mcim_id};
	omc_card card;
	e = omc_card_init(&card, &prof, auth_via_tred, actx);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim tred card: %s: cannot make a card of it: %s\n", mcim_id, omc_err_str(e));
		omc_tred_disconnect(cl);
		return CLI_ERROR;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("{\"mcim\":\"%s\",\"imsi\":\"%s\",\"type\":\"%s\"}\n", mcim_id, prof.imsi, prof.isim ? "isim" : "usim");
	fflush(stdout);
	e = omc_card_vpcd_serve(&card, host, port, &stop_flag);
	omc_card_wipe(&card);
	omc_tred_disconnect(cl);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim tred card: vpcd at %s:%s: %s\n", host, port, omc_err_str(e));
		return CLI_ERROR;
	}
	return CLI_OK;
}
