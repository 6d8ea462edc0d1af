/* openmcim demo: until the end-to-end story exists (issue 5), the AKA
 * engine's story: an authentication centre and a USIM that share a key,
 * a challenge, a replay caught by SQN freshness, resynchronisation, and the
 * same with TUAK; then the TRE's (demo_tre.c). Keys are random and never
 * printed. */
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

int cmd_demo(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: openmcim demo\n\n"
		       "Runs the AKA engine's story with fresh random keys (never printed): an\n"
		       "authentication centre and a USIM for MILENAGE and for TUAK, a replay caught by\n"
		       "SQN freshness, resynchronisation with AUTS, and a forged AUTN. Then the TRE, on\n"
		       "files in a temporary directory: the factory makes a PKI and a device, an SHO's\n"
		       "AuC (SQLite) and MCIM, the package encrypted to the TRE's session key after its\n"
		       "evidence is checked, install, AKA inside, a restart, tamper and lockdown, the\n"
		       "RO's signed recovery, and the audit log checked as a remote party would. The\n"
		       "full story over the network joins it as the servers and the agent land.\n"
		       "Exit status 0 if every step behaved as specified.\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_error("demo", "unexpected argument '%s'", argv[1]);

	omc_aka_cred cred;
	uint8_t k[32], opc[32];
	int fails = 0;
	printf("openmcim %s demo: the AKA engine, then the TRE\n\n", omc_version());

	printf("MILENAGE (TS 35.206), random K and OPc:\n");
	memset(&cred, 0, sizeof cred);
	cred.alg = OMC_AKA_ALG_MILENAGE;
	if (omc_rand_bytes(k, 16) != OMC_OK || omc_rand_bytes(opc, 16) != OMC_OK ||
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
	if (omc_rand_bytes(k, 32) != OMC_OK || omc_rand_bytes(opc, 32) != OMC_OK ||
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
	return fails ? CLI_FAIL : CLI_OK;
}
