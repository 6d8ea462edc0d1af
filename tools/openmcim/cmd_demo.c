/* openmcim demo: the network story with a fleet (demo_fleet.c); then the
 * AKA engine's story: an authentication centre and a USIM that share a
 * key, a challenge, a replay caught by SQN freshness, resynchronisation,
 * and the same with TUAK; then the TRE's on files (demo_tre.c). Keys are
 * random and never printed. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "openmcim/openmcim.h"

static int step(const char *what, bool ok)
{
	printf("  %-62s %s\n", what, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}

/* One subscriber, both sides; returns the number of failed steps. */
static int story(omc_aka_cred *cred)
{
	int fails = 0;
	omc_aka_sqn_he he;
	omc_aka_sqn_ms ms;
	omc_aka_av av;
	omc_aka_check_result r;
	uint8_t sqn[6], amf[2] = {0x80, 0x00}, rand[16];
	if (omc_aka_sqn_he_init(&he, 5, 0) != OMC_OK || omc_aka_sqn_ms_init(&ms, 5, 0, 0) != OMC_OK)
		return 1;

	/* 1. A fresh vector is accepted and RES = XRES. */
	bool ok = omc_aka_sqn_he_next(sqn, &he) == OMC_OK && omc_rand_bytes(rand, 16) == OMC_OK &&
		  omc_aka_av_gen(&av, cred, rand, sqn, amf) == OMC_OK &&
		  omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK &&
		  r.status == OMC_AKA_STATUS_OK && r.res_len == av.xres_len && omc_ct_eq(r.res, av.xres, r.res_len) &&
		  omc_ct_eq(r.ck, av.ck, r.ck_len);
	fails += step("AuC issues a vector; the USIM accepts it, RES = XRES, same CK", ok);

	/* 2. The same challenge again: a replay, refused with AUTS. */
	ok = omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_SYNC_FAILURE;
	fails += step("the same challenge replayed: sync failure, the USIM sends AUTS", ok);

	/* 3. The USIM was used with vectors from elsewhere in every IND slot
	 * (Annex C.2), so the AuC's next vector is stale; the AuC resyncs. */
	omc_aka_sqn_he far;
	uint8_t sqn_far[6];
	bool moved = false;
	uint64_t sqn_ms = 0;
	ok = omc_aka_sqn_he_init(&far, 5, 5000) == OMC_OK;
	for (int i = 0; ok && i < 32; i++)
		ok = omc_aka_sqn_he_next(sqn_far, &far) == OMC_OK && omc_rand_bytes(rand, 16) == OMC_OK &&
		     omc_aka_av_gen(&av, cred, rand, sqn_far, amf) == OMC_OK &&
		     omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK &&
		     r.status == OMC_AKA_STATUS_OK;
	ok = ok && omc_aka_sqn_he_next(sqn, &he) == OMC_OK && omc_rand_bytes(rand, 16) == OMC_OK &&
	     omc_aka_av_gen(&av, cred, rand, sqn, amf) == OMC_OK &&
	     omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_SYNC_FAILURE &&
	     omc_aka_resync(&sqn_ms, &moved, &he, cred, rand, r.auts, r.auts_len) == OMC_OK && moved;
	fails += step("USIM ahead of the AuC: AUTS verified, the AuC moves its SQN", ok);

	ok = omc_aka_sqn_he_next(sqn, &he) == OMC_OK && omc_rand_bytes(rand, 16) == OMC_OK &&
	     omc_aka_av_gen(&av, cred, rand, sqn, amf) == OMC_OK &&
	     omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK && r.status == OMC_AKA_STATUS_OK;
	fails += step("the next vector after resynchronisation is accepted", ok);

	/* 4. A flipped bit in AUTN's MAC: refused without touching SQN state. */
	av.autn[av.autn_len - 1] ^= 1;
	ok = omc_aka_check(&r, &ms, cred, rand, av.autn, av.autn_len) == OMC_OK &&
	     r.status == OMC_AKA_STATUS_MAC_FAILURE;
	fails += step("one flipped bit in AUTN: MAC failure", ok);

	omc_memzero(&av, sizeof av);
	omc_memzero(&r, sizeof r);
	return fails;
}

static const char demo_usage[] =
	"usage: openmcim demo [--devices N] [--json]\n"
	"\n"
	"First the network story: every role of `openmcim server` on loopback with a\n"
	"fresh demo deployment (one ICO, two SHOs, the RO's DRF and DPF, a PVA, a CCIF,\n"
	"a VNO) in a temporary directory; a fleet of N devices (default 20, at most\n"
	"1000) made in the factory step, their PCIDs reported to the CCIF, each\n"
	"registered with sho1 or sho2 by a subscriber; then each device's agent runs:\n"
	"attach with the PCID, bootstrap, registration, platform validation, MCIM\n"
	"download and install, receipt, attach with the MCIM, a command poll. Then a\n"
	"second act: every fourth device is moved to the other SHO by that SHO's\n"
	"subscriber (the RO's signed reprovision erases the old MCIM, the device\n"
	"provisions again with the new SHO, the old SHO disables its IMSI on the TRE's\n"
	"signed receipt), and the first device is tampered with and recovered (lockdown,\n"
	"the maintainer's tamper report and fresh evidence to the PVA, its recovery\n"
	"authorisation, pristine, provisioned again). A progress bar on a terminal, and\n"
	"a table: device, state, MCIM, SHO, attach result.\n"
	"\n"
	"Then the AKA engine's story with fresh random keys (never printed): an\n"
	"authentication centre and a USIM for MILENAGE and for TUAK, a replay caught by\n"
	"SQN freshness, resynchronisation with AUTS, and a forged AUTN. Then the TRE, on\n"
	"files in a temporary directory: the factory makes a PKI and a device, an SHO's\n"
	"AuC (SQLite) and MCIM, the package encrypted to the TRE's session key after its\n"
	"evidence is checked, install, AKA inside, a restart, tamper and lockdown, the\n"
	"RO's signed recovery, and the audit log checked as a remote party would.\n"
	"\n"
	"--devices N  the fleet's size (0 skips the network story)\n"
	"--json       the network story only, and one JSON object on stdout:\n"
	"             {\"devices\", \"provisioned\", \"attached\", \"operator_changes\",\n"
	"             \"recovered\" (integers), \"failures\" (a list of {device, tre_id,\n"
	"             state, error}), \"interrupted\"}\n"
	"\n"
	"Everything it started is stopped and its temporary directories removed, also\n"
	"on Ctrl-C. Exit status: 0 if every device was provisioned and attached, every\n"
	"change and the recovery completed (and, without --json, every step behaved as\n"
	"specified), 1 otherwise, 2 usage error, 130 interrupted.\n";

int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {{"devices", required_argument, NULL, 'n'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	unsigned long devices = 20;
	bool json_out = false;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!cli_uint_opt("demo", "--devices", optarg, 0, 1000, &devices))
				return CLI_USAGE;
			break;
		case 'j':
			json_out = true;
			break;
		case 'h':
			fputs(demo_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("demo", "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
	unsigned prov = 0, att = 0;
	int fleet_rc = 0;
	if (devices > 0 || json_out) {
		if (!json_out)
			printf("openmcim %s demo\n\n", omc_version());
		fleet_rc = demo_fleet((unsigned)devices, json_out, &prov, &att);
		if (fleet_rc < 0)
			return 130;
		if (json_out)
			return fleet_rc == 0 ? CLI_OK : CLI_FAIL;
		printf("\n");
	}
	omc_aka_cred cred;
	uint8_t k[32], opc[32];
	int fails = 0;
	printf("The AKA engine, then the TRE\n\n");

	printf("MILENAGE (TS 35.206), random K and OPc:\n");
	memset(&cred, 0, sizeof cred);
	cred.alg = OMC_AKA_ALG_MILENAGE;
	if (!demo_secret(k, 16, "K") || !demo_secret(opc, 16, "OP") ||
	    omc_aka_milenage_init(&cred.u.milenage, k, opc, NULL) != OMC_OK)
		fails++;
	else
		fails += story(&cred);
	omc_aka_cred_wipe(&cred);

	printf("\nTUAK (TS 35.231), random 256-bit K and TOPc, RES 128 bits, CK 256 bits:\n");
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	p.res_bits = 128;
	p.ck_bits = 256;
	cred.alg = OMC_AKA_ALG_TUAK;
	if (!demo_secret(k, 32, "K") || !demo_secret(opc, 32, "OP") ||
	    omc_aka_tuak_init(&cred.u.tuak, k, 32, opc, &p) != OMC_OK)
		fails++;
	else
		fails += story(&cred);
	omc_aka_cred_wipe(&cred);
	omc_memzero(k, sizeof k);
	omc_memzero(opc, sizeof opc);

	printf("\n");
	fails += demo_tre();
	printf("\n%s\n", fails ? "Some steps FAILED." : "Every step behaved as specified.");
	return fails || fleet_rc ? CLI_FAIL : CLI_OK;
}
