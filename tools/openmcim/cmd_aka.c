/* openmcim aka: generate vectors and check challenges (MILENAGE, TUAK).
 * The CLI contract (flags, JSON keys, exit statuses) is in docs/cli-aka.md;
 * scripts depend on it. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "openmcim/openmcim.h"

static const char aka_usage[] =
	"usage: openmcim aka gen   --alg milenage|tuak KEY-OPTIONS --rand HEX --sqn HEX --amf HEX [--json]\n"
	"       openmcim aka check --alg milenage|tuak KEY-OPTIONS --rand HEX --autn HEX\n"
	"                          [--sqn-ms HEX] [--ind-bits N] [--json]\n"
	"\n"
	"gen computes every function of the algorithm set for one RAND, SQN and AMF and\n"
	"the AUTN an authentication centre would send. check verifies a challenge (RAND,\n"
	"AUTN) as a USIM does: MAC, then SQN freshness (TS 33.102 Annex C).\n"
	"\n"
	"KEY-OPTIONS for --alg milenage (TS 35.206):\n"
	"  --k HEX            K, 128 bits\n"
	"  --op HEX | --opc HEX   OP or OPc, 128 bits (exactly one)\n"
	"  --c1 HEX .. --c5 HEX   operator constants c1..c5, 128 bits (default: TS 35.206)\n"
	"  --r1 N .. --r5 N       operator rotations r1..r5, 0..127 (default 64 0 32 64 96)\n"
	"KEY-OPTIONS for --alg tuak (TS 35.231):\n"
	"  --k HEX            K, 128 or 256 bits\n"
	"  --top HEX | --topc HEX TOP or TOPc, 256 bits (exactly one)\n"
	"  --iterations N     Keccak iterations (default 1)\n"
	"  --mac-bits 64|128|256  --res-bits 32|64|128|256  --ck-bits 128|256  --ik-bits 128|256\n"
	"                     output lengths (default 64, 64, 128, 128)\n"
	"\n"
	"Other options:\n"
	"  --rand HEX         RAND, 128 bits\n"
	"  --sqn HEX          SQN, 48 bits (gen)\n"
	"  --amf HEX          AMF, 16 bits (gen)\n"
	"  --autn HEX         AUTN, 64 bits plus the MAC length (check)\n"
	"  --sqn-ms HEX       the highest SQN the USIM has accepted: it takes SQN > SQN_MS\n"
	"                     (within the TS 33.102 C.2.1 limit) and answers AUTS\n"
	"                     otherwise (check; default: a fresh USIM)\n"
	"  --ind-bits N       IND length of the USIM's SQN array, 0..8 (check; default 5)\n"
	"  --json             one JSON object on stdout, values in lowercase hex\n"
	"\n"
	"gen --json keys: mac_a mac_s res ck ik ak ak_star autn, and opc or topc.\n"
	"check --json: {\"result\":\"ok\",\"res\",\"ck\",\"ik\",\"sqn\"}, {\"result\":\"sync_failure\",\"auts\"}\n"
	"or {\"result\":\"mac_failure\"}.\n"
	"\n"
	"Exit status: 0 success (check: challenge accepted), 1 check: MAC or sync failure,\n"
	"2 bad options or input (one line on stderr, nothing on stdout), 3 internal error.\n"
	"Key material given on the command line is overwritten in the process's argument\n"
	"list once read, but may still be seen by other local users before that and in\n"
	"shell history: use this command with test keys.\n";

enum {
	O_ALG = 256, O_K, O_OP, O_OPC, O_TOP, O_TOPC, O_RAND, O_SQN, O_AMF, O_AUTN, O_SQN_MS, O_IND_BITS, O_ITER,
	O_MAC_BITS, O_RES_BITS, O_CK_BITS, O_IK_BITS, O_JSON, O_HELP,
	O_C1, O_C2, O_C3, O_C4, O_C5, O_R1, O_R2, O_R3, O_R4, O_R5,
};

static const struct option aka_options[] = {
	{"alg", required_argument, NULL, O_ALG},
	{"k", required_argument, NULL, O_K},
	{"op", required_argument, NULL, O_OP},
	{"opc", required_argument, NULL, O_OPC},
	{"top", required_argument, NULL, O_TOP},
	{"topc", required_argument, NULL, O_TOPC},
	{"rand", required_argument, NULL, O_RAND},
	{"sqn", required_argument, NULL, O_SQN},
	{"amf", required_argument, NULL, O_AMF},
	{"autn", required_argument, NULL, O_AUTN},
	{"sqn-ms", required_argument, NULL, O_SQN_MS},
	{"ind-bits", required_argument, NULL, O_IND_BITS},
	{"iterations", required_argument, NULL, O_ITER},
	{"mac-bits", required_argument, NULL, O_MAC_BITS},
	{"res-bits", required_argument, NULL, O_RES_BITS},
	{"ck-bits", required_argument, NULL, O_CK_BITS},
	{"ik-bits", required_argument, NULL, O_IK_BITS},
	{"c1", required_argument, NULL, O_C1},
	{"c2", required_argument, NULL, O_C2},
	{"c3", required_argument, NULL, O_C3},
	{"c4", required_argument, NULL, O_C4},
	{"c5", required_argument, NULL, O_C5},
	{"r1", required_argument, NULL, O_R1},
	{"r2", required_argument, NULL, O_R2},
	{"r3", required_argument, NULL, O_R3},
	{"r4", required_argument, NULL, O_R4},
	{"r5", required_argument, NULL, O_R5},
	{"json", no_argument, NULL, O_JSON},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

/* Raw option strings (pointers into argv), validated once all are read. */
typedef struct aka_args {
	char *v[O_R5 + 1];
	bool json;
} aka_args;

static const char *opt_name(int id)
{
	for (const struct option *o = aka_options; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

/* Everything parsed and decoded; secret, wiped on exit. */
typedef struct aka_in {
	omc_aka_cred cred;
	uint8_t opc_out[32]; /* OPc or TOPc as used (printed by gen) */
	uint8_t rand[16], sqn[6], amf[2], autn[OMC_AKA_MAX_AUTN_LEN], sqn_ms[6];
	size_t autn_len;
	unsigned long ind_bits;
	bool has_sqn_ms;
} aka_in;

static bool hexarg(const char *cmd, aka_args *a, int id, uint8_t *out, size_t len, bool secret)
{
	char opt[32];
	snprintf(opt, sizeof opt, "--%s", opt_name(id));
	return cli_hex_opt(cmd, opt, a->v[id], out, &len, 1, NULL, secret);
}

static bool uintarg(const char *cmd, aka_args *a, int id, unsigned long min, unsigned long max,
		    unsigned long *out)
{
	char opt[32];
	snprintf(opt, sizeof opt, "--%s", opt_name(id));
	return cli_uint_opt(cmd, opt, a->v[id], min, max, out);
}

/* One of the listed bit lengths, or the default when absent. */
static bool bitsarg(const char *cmd, aka_args *a, int id, const unsigned *allowed, size_t n, unsigned def,
		    unsigned *out)
{
	if (!a->v[id]) {
		*out = def;
		return true;
	}
	unsigned long v;
	if (!uintarg(cmd, a, id, 0, 1024, &v))
		return false;
	for (size_t i = 0; i < n; i++)
		if (v == allowed[i]) {
			*out = (unsigned)v;
			return true;
		}
	cli_usage_error(cmd, "--%s: %lu is not an allowed length", opt_name(id), v);
	return false;
}

static bool need(const char *cmd, aka_args *a, int id)
{
	if (a->v[id])
		return true;
	cli_usage_error(cmd, "missing --%s", opt_name(id));
	return false;
}

static bool refuse(const char *cmd, aka_args *a, int id, const char *why)
{
	if (!a->v[id])
		return true;
	cli_usage_error(cmd, "--%s %s", opt_name(id), why);
	return false;
}

static bool build_milenage(const char *cmd, aka_args *a, aka_in *in)
{
	static const int tuak_only[] = {O_TOP, O_TOPC, O_ITER, O_MAC_BITS, O_RES_BITS, O_CK_BITS, O_IK_BITS};
	for (size_t i = 0; i < sizeof tuak_only / sizeof tuak_only[0]; i++)
		if (!refuse(cmd, a, tuak_only[i], "is a TUAK option (--alg tuak)"))
			return false;
	if (a->v[O_OP] && a->v[O_OPC])
		return cli_usage_error(cmd, "--op and --opc contradict each other: give one"), false;
	if (!a->v[O_OP] && !a->v[O_OPC])
		return cli_usage_error(cmd, "missing --op or --opc"), false;
	uint8_t k[16], op[16];
	omc_aka_milenage_consts consts;
	omc_aka_milenage_consts_default(&consts);
	bool ok = need(cmd, a, O_K) && hexarg(cmd, a, O_K, k, 16, true);
	if (ok && a->v[O_OP]) {
		ok = hexarg(cmd, a, O_OP, op, 16, true);
		if (ok && omc_aka_milenage_opc(in->opc_out, k, op) != OMC_OK) {
			fprintf(stderr, "openmcim %s: AES failed\n", cmd);
			ok = false;
		}
	} else if (ok) {
		ok = hexarg(cmd, a, O_OPC, in->opc_out, 16, true);
	}
	for (int i = 0; ok && i < 5; i++) {
		if (a->v[O_C1 + i])
			ok = hexarg(cmd, a, O_C1 + i, consts.c[i], 16, false);
		unsigned long r;
		if (ok && a->v[O_R1 + i]) {
			ok = uintarg(cmd, a, O_R1 + i, 0, 127, &r);
			consts.r[i] = (uint8_t)r;
		}
	}
	in->cred.alg = OMC_AKA_ALG_MILENAGE;
	if (ok && omc_aka_milenage_init(&in->cred.u.milenage, k, in->opc_out, &consts) != OMC_OK)
		ok = false;
	omc_memzero(k, sizeof k);
	omc_memzero(op, sizeof op);
	return ok;
}

static bool build_tuak(const char *cmd, aka_args *a, aka_in *in)
{
	static const unsigned mac_l[] = {64, 128, 256}, res_l[] = {32, 64, 128, 256}, key_l[] = {128, 256};
	for (int i = O_C1; i <= O_R5; i++)
		if (!refuse(cmd, a, i, "is a MILENAGE option (--alg milenage)"))
			return false;
	if (!refuse(cmd, a, O_OP, "is a MILENAGE option; TUAK takes --top") ||
	    !refuse(cmd, a, O_OPC, "is a MILENAGE option; TUAK takes --topc"))
		return false;
	if (a->v[O_TOP] && a->v[O_TOPC])
		return cli_usage_error(cmd, "--top and --topc contradict each other: give one"), false;
	if (!a->v[O_TOP] && !a->v[O_TOPC])
		return cli_usage_error(cmd, "missing --top or --topc"), false;
	omc_aka_tuak_params p;
	omc_aka_tuak_params_default(&p);
	unsigned long iter = 1;
	uint8_t k[32], top[32];
	size_t k_len = 0;
	static const size_t k_lens[] = {16, 32};
	bool ok = need(cmd, a, O_K) && cli_hex_opt(cmd, "--k", a->v[O_K], k, k_lens, 2, &k_len, true);
	ok = ok && (!a->v[O_ITER] || uintarg(cmd, a, O_ITER, 1, OMC_AKA_TUAK_MAX_ITERATIONS, &iter));
	ok = ok && bitsarg(cmd, a, O_MAC_BITS, mac_l, 3, 64, &p.mac_bits);
	ok = ok && bitsarg(cmd, a, O_RES_BITS, res_l, 4, 64, &p.res_bits);
	ok = ok && bitsarg(cmd, a, O_CK_BITS, key_l, 2, 128, &p.ck_bits);
	ok = ok && bitsarg(cmd, a, O_IK_BITS, key_l, 2, 128, &p.ik_bits);
	p.iterations = (unsigned)iter;
	if (ok && a->v[O_TOP]) {
		ok = hexarg(cmd, a, O_TOP, top, 32, true);
		if (ok && omc_aka_tuak_topc(in->opc_out, k, k_len, top, p.iterations) != OMC_OK) {
			fprintf(stderr, "openmcim %s: TOPc computation failed\n", cmd);
			ok = false;
		}
	} else if (ok) {
		ok = hexarg(cmd, a, O_TOPC, in->opc_out, 32, true);
	}
	in->cred.alg = OMC_AKA_ALG_TUAK;
	if (ok && omc_aka_tuak_init(&in->cred.u.tuak, k, k_len, in->opc_out, &p) != OMC_OK)
		ok = false;
	omc_memzero(k, sizeof k);
	omc_memzero(top, sizeof top);
	return ok;
}

static bool build_cred(const char *cmd, aka_args *a, aka_in *in)
{
	if (!need(cmd, a, O_ALG))
		return false;
	if (!strcmp(a->v[O_ALG], "milenage"))
		return build_milenage(cmd, a, in);
	if (!strcmp(a->v[O_ALG], "tuak"))
		return build_tuak(cmd, a, in);
	cli_usage_error(cmd, "--alg: expected milenage or tuak, got '%s'", a->v[O_ALG]);
	return false;
}

static void print_field(const char *name, const uint8_t *v, size_t n)
{
	char buf[2 * OMC_AKA_MAX_AUTN_LEN + 1];
	cli_hex(buf, v, n);
	printf("%-8s %s\n", name, buf);
	omc_memzero(buf, sizeof buf);
}

static int run_gen(const char *cmd, aka_args *a, aka_in *in)
{
	if (!refuse(cmd, a, O_AUTN, "is for 'aka check'") || !refuse(cmd, a, O_SQN_MS, "is for 'aka check'") ||
	    !refuse(cmd, a, O_IND_BITS, "is for 'aka check'"))
		return CLI_USAGE;
	if (!build_cred(cmd, a, in))
		return CLI_USAGE;
	if (!need(cmd, a, O_RAND) || !hexarg(cmd, a, O_RAND, in->rand, 16, false) || !need(cmd, a, O_SQN) ||
	    !hexarg(cmd, a, O_SQN, in->sqn, 6, false) || !need(cmd, a, O_AMF) ||
	    !hexarg(cmd, a, O_AMF, in->amf, 2, false))
		return CLI_USAGE;
	omc_aka_outputs o;
	omc_err e = omc_aka_outputs_gen(&o, &in->cred, in->rand, in->sqn, in->amf);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim %s: %s\n", cmd, omc_err_str(e));
		return CLI_ERROR;
	}
	bool tuak = in->cred.alg == OMC_AKA_ALG_TUAK;
	size_t opc_len = tuak ? 32 : 16;
	if (a->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_hex(&j, "mac_a", o.mac_a, o.mac_len);
		cli_json_hex(&j, "mac_s", o.mac_s, o.mac_len);
		cli_json_hex(&j, "res", o.res, o.res_len);
		cli_json_hex(&j, "ck", o.ck, o.ck_len);
		cli_json_hex(&j, "ik", o.ik, o.ik_len);
		cli_json_hex(&j, "ak", o.ak, 6);
		cli_json_hex(&j, "ak_star", o.ak_star, 6);
		cli_json_hex(&j, "autn", o.autn, o.autn_len);
		cli_json_hex(&j, tuak ? "topc" : "opc", in->opc_out, opc_len);
		cli_json_end(&j);
	} else {
		print_field("MAC-A", o.mac_a, o.mac_len);
		print_field("MAC-S", o.mac_s, o.mac_len);
		print_field("RES", o.res, o.res_len);
		print_field("CK", o.ck, o.ck_len);
		print_field("IK", o.ik, o.ik_len);
		print_field("AK", o.ak, 6);
		print_field("AK*", o.ak_star, 6);
		print_field("AUTN", o.autn, o.autn_len);
		print_field(tuak ? "TOPc" : "OPc", in->opc_out, opc_len);
	}
	omc_memzero(&o, sizeof o);
	return CLI_OK;
}

static int run_check(const char *cmd, aka_args *a, aka_in *in)
{
	if (!refuse(cmd, a, O_SQN, "is for 'aka gen' (check takes --sqn-ms)") ||
	    !refuse(cmd, a, O_AMF, "is for 'aka gen' (AMF is read from AUTN)"))
		return CLI_USAGE;
	if (!build_cred(cmd, a, in))
		return CLI_USAGE;
	if (!need(cmd, a, O_RAND) || !hexarg(cmd, a, O_RAND, in->rand, 16, false) || !need(cmd, a, O_AUTN))
		return CLI_USAGE;
	size_t autn_len = 8 + omc_aka_cred_mac_len(&in->cred);
	if (!hexarg(cmd, a, O_AUTN, in->autn, autn_len, false))
		return CLI_USAGE;
	in->ind_bits = OMC_AKA_IND_BITS_DEFAULT;
	if (a->v[O_IND_BITS] && !uintarg(cmd, a, O_IND_BITS, 0, OMC_AKA_IND_BITS_MAX, &in->ind_bits))
		return CLI_USAGE;
	if (a->v[O_SQN_MS] && !hexarg(cmd, a, O_SQN_MS, in->sqn_ms, 6, false))
		return CLI_USAGE;

	omc_aka_sqn_ms st;
	if (omc_aka_sqn_ms_init(&st, (unsigned)in->ind_bits, 0, 0) != OMC_OK)
		return CLI_ERROR;
	/* A USIM that has accepted every SQN up to SQN_MS. */
	if (a->v[O_SQN_MS] && omc_aka_sqn_ms_set_floor(&st, omc_load_be48(in->sqn_ms)) != OMC_OK)
		return CLI_ERROR;
	omc_aka_check_result r;
	omc_err e = omc_aka_check(&r, &st, &in->cred, in->rand, in->autn, autn_len);
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim %s: %s\n", cmd, omc_err_str(e));
		return CLI_ERROR;
	}
	int rc = r.status == OMC_AKA_STATUS_OK ? CLI_OK : CLI_FAIL;
	static const char *const names[] = {"ok", "sync_failure", "mac_failure"};
	if (a->json) {
		cli_json j;
		cli_json_begin(&j, stdout);
		cli_json_str(&j, "result", names[r.status]);
		if (r.status == OMC_AKA_STATUS_OK) {
			cli_json_hex(&j, "res", r.res, r.res_len);
			cli_json_hex(&j, "ck", r.ck, r.ck_len);
			cli_json_hex(&j, "ik", r.ik, r.ik_len);
			cli_json_hex(&j, "sqn", r.sqn, 6);
		} else if (r.status == OMC_AKA_STATUS_SYNC_FAILURE) {
			cli_json_hex(&j, "auts", r.auts, r.auts_len);
		}
		cli_json_end(&j);
	} else {
		printf("%-8s %s\n", "result", names[r.status]);
		if (r.status == OMC_AKA_STATUS_OK) {
			print_field("RES", r.res, r.res_len);
			print_field("CK", r.ck, r.ck_len);
			print_field("IK", r.ik, r.ik_len);
			print_field("SQN", r.sqn, 6);
		} else if (r.status == OMC_AKA_STATUS_SYNC_FAILURE) {
			print_field("AUTS", r.auts, r.auts_len);
		}
	}
	omc_memzero(&r, sizeof r);
	return rc;
}

int cmd_aka(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(aka_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	const char *cmd;
	if (!strcmp(sub, "gen"))
		cmd = "aka gen";
	else if (!strcmp(sub, "check"))
		cmd = "aka check";
	else
		return cli_usage_error("aka", "unknown subcommand '%s' (gen or check)", sub);

	aka_args a;
	memset(&a, 0, sizeof a);
	int sub_argc = argc - 1;
	char **sub_argv = argv + 1;
	opterr = 0;
	optind = 0; /* glibc: full re-initialisation */
	int c;
	while ((c = getopt_long_only(sub_argc, sub_argv, "h", aka_options, NULL)) != -1) {
		if (c == O_HELP || c == 'h') {
			fputs(aka_usage, stdout);
			return CLI_OK;
		}
		if (c == '?' || c == ':') {
			const char *bad = sub_argv[optind - 1];
			if (optopt)
				return cli_usage_error(cmd, "option '%s' needs a value", bad);
			return cli_usage_error(cmd, "unknown option '%s'", bad);
		}
		if (c == O_JSON) {
			a.json = true;
			continue;
		}
		if (a.v[c])
			return cli_usage_error(cmd, "--%s given twice", opt_name(c));
		a.v[c] = optarg;
	}
	if (optind < sub_argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", sub_argv[optind]);

	aka_in in;
	memset(&in, 0, sizeof in);
	int rc = !strcmp(sub, "gen") ? run_gen(cmd, &a, &in) : run_check(cmd, &a, &in);
	omc_memzero(&in, sizeof in);
	/* Key material not yet overwritten (an error came first): hide it too. */
	static const int secret_opts[] = {O_K, O_OP, O_OPC, O_TOP, O_TOPC};
	for (size_t i = 0; i < sizeof secret_opts / sizeof secret_opts[0]; i++)
		if (a.v[secret_opts[i]])
			memset(a.v[secret_opts[i]], 'x', strlen(a.v[secret_opts[i]]));
	fflush(stdout);
	return rc;
}
