/* openmcim factory: the secure out-of-band step (demo PKI, devices). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "openmcim/factory.h"
#include "openmcim/openmcim.h"

static const char factory_usage[] =
	"usage: openmcim factory pki --out DIR\n"
	"       openmcim factory device --pki DIR --out TREDIR [--pcid FILE] [--model NAME]\n"
	"                               [--tpm TCTI [--tpm-nv INDEX] [--tpm-pcr N]]\n"
	"       openmcim factory update-manifest --pki DIR --version V --counter N [--model NAME]\n"
	"                                        NAME:PATH=FILE...\n"
	"\n"
	"pki     makes the demo PKI in DIR: for each of m2mes, tre-vendor, ico, sho1, sho2,\n"
	"        ro, pva, ccif, vno and tls a CA and a signing certificate (P-256; tls:\n"
	"        a TLS server certificate for 127.0.0.1 and localhost). Private keys are\n"
	"        PKCS#8 PEM encrypted under DIR/pki.secret; DIR must not hold a PKI already.\n"
	"device  makes a device in TREDIR: device root key, sealed identity (attestation key\n"
	"        and certificate from the M2MES CA, trust anchors), platform components and\n"
	"        their reference manifest signed by the TRE vendor, and the store holding the\n"
	"        PCID as an activated MCIM of role bootstrap. FILE is JSON\n"
	"        {\"imsi\":..., \"k\":HEX, \"opc\":HEX} or {\"imsi\", \"k\", \"alg\":\"tuak\", \"topc\"};\n"
	"        without it the PCID is generated. Prints one JSON object: tre_id,\n"
	"        platform_id, model, pcid_imsi, and pcid_report, a JWE to the ICO carrying the\n"
	"        PCID's secrets (they never leave the factory in plaintext).\n"
	"        --tpm TCTI puts the device on a TPM 2.0 (docs/tpm.md): the root key sealed\n"
	"        to PCR N (default 15) in TREDIR/device.tpm, the store's counter and the\n"
	"        lockdown flag in NV indices INDEX..INDEX+2 (default 0x01500020), the TCTI\n"
	"        ('device:/dev/tpmrm0', 'swtpm:path=SOCK') in TREDIR/tpm.conf.\n"
	"update-manifest\n"
	"        makes a TRE update (TRE-12) as the TRE vendor does: the new reference\n"
	"        manifest (version V, security counter N, default model openmcim-demo-gw)\n"
	"        inside an update manifest naming each component's path, SHA-256 and size,\n"
	"        both signed with DIR's tre-vendor key. Each component is NAME:PATH=FILE:\n"
	"        its name, its place in the TRE directory (platform/NAME) and the file with\n"
	"        its new content, at most 16 of them. Prints the update manifest (JWS) for\n"
	"        'openmcim tre update-stage'.\n"
	"\n"
	"Exit status: 0 success, 2 usage error, 3 failure (the message says why).\n";

#define UPDATE_FILE_MAX (16u * 1024 * 1024)

/* factory update-manifest: argv[0] is "update-manifest". */
static int update_manifest(int argc, char **argv)
{
	const char *cmd = "factory update-manifest";
	static const struct option opts[] = {
		{"pki", required_argument, NULL, 'p'},     {"version", required_argument, NULL, 'v'},
		{"counter", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *pki_dir = NULL, *version = NULL, *counter_s = NULL, *model = NULL;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pki_dir = optarg;
			break;
		case 'v':
			version = optarg;
			break;
		case 'c':
			counter_s = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 'h':
			fputs(factory_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (!pki_dir || !version || !counter_s)
		return cli_usage_error(cmd, "missing %s", !pki_dir ? "--pki" : !version ? "--version" : "--counter");
	unsigned long counter;
	if (!cli_uint_opt(cmd, "--counter", counter_s, 0, (unsigned long)INT64_MAX, &counter))
		return CLI_USAGE;
	int n = argc - optind;
	if (n < 1 || n > 16)
		return cli_usage_error(cmd, "want 1 to 16 components NAME:PATH=FILE");
	omc_factory_update_component comps[16];
	char *bufs[16] = {0};
	int rc = CLI_OK;
	for (int i = 0; i < n && rc == CLI_OK; i++) {
		char *arg = argv[optind + i], *colon = strchr(arg, ':'), *eq = colon ? strchr(colon, '=') : NULL;
		if (!colon || colon == arg || !eq || eq == colon + 1 || !eq[1]) {
			rc = cli_usage_error(cmd, "'%s': want NAME:PATH=FILE", arg);
			break;
		}
		*colon = '\0';
		*eq = '\0';
		size_t len = 0;
		if (!cli_read_file(cmd, arg, eq + 1, &bufs[i], &len, UPDATE_FILE_MAX)) {
			rc = CLI_USAGE;
			break;
		}
		comps[i] = (omc_factory_update_component){
			.name = arg, .path = colon + 1, .data = (const uint8_t *)bufs[i], .len = len};
	}
	char *jws = NULL;
	omc_err e = OMC_OK;
	if (rc == CLI_OK)
		e = omc_factory_update_manifest(&jws, pki_dir, model, version, (uint64_t)counter, comps, (size_t)n);
	for (int i = 0; i < n; i++)
		omc_free(bufs[i]);
	if (rc != CLI_OK)
		return rc;
	if (e == OMC_ERR_BAD_ARG)
		return cli_usage_error(cmd, "--version: 1 to 31 printable characters; --model: 1 to 63");
	if (e != OMC_OK) {
		fprintf(stderr, "openmcim %s: %s\n", cmd, omc_err_str(e));
		return CLI_ERROR;
	}
	puts(jws);
	omc_free(jws);
	return CLI_OK;
}

int cmd_factory(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(factory_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	bool pki = !strcmp(sub, "pki"), device = !strcmp(sub, "device");
	if (!strcmp(sub, "update-manifest"))
		return update_manifest(argc - 1, argv + 1);
	if (!pki && !device)
		return cli_usage_error("factory", "unknown subcommand '%s' (pki, device or update-manifest)", sub);
	const char *cmd = pki ? "factory pki" : "factory device";
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'}, {"pki", required_argument, NULL, 'p'},
		{"pcid", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
		{"tpm", required_argument, NULL, 't'},  {"tpm-nv", required_argument, NULL, 'N'},
		{"tpm-pcr", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *pki_dir = NULL, *pcid = NULL, *model = NULL, *tpm = NULL;
	unsigned long tpm_nv = 0, tpm_pcr = 0;
	char *end;
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'p':
			pki_dir = optarg;
			break;
		case 'c':
			pcid = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 't':
			tpm = optarg;
			break;
		case 'N':
			tpm_nv = strtoul(optarg, &end, 0);
			if (!optarg[0] || *end || tpm_nv == 0 || tpm_nv > 0xffffffffUL)
				return cli_usage_error(cmd, "--tpm-nv: an NV index such as 0x01500020");
			break;
		case 'P':
			tpm_pcr = strtoul(optarg, &end, 10);
			if (!optarg[0] || *end || tpm_pcr > 23)
				return cli_usage_error(cmd, "--tpm-pcr: a PCR number 0..23");
			break;
		case 'h':
			fputs(factory_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind]);
		}
	}
	if (optind < argc - 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (!out)
		return cli_usage_error(cmd, "missing --out");
	if (pki) {
		if (pki_dir || pcid || model || tpm || tpm_nv || tpm_pcr)
			return cli_usage_error(cmd, "only --out applies");
		omc_err e = omc_factory_pki(out);
		if (e != OMC_OK) {
			fprintf(stderr, "openmcim %s: %s: %s\n", cmd, out, omc_err_str(e));
			return CLI_ERROR;
		}
		printf("{\"pki\":\"%s\"}\n", out);
		return CLI_OK;
	}
	if (!pki_dir)
		return cli_usage_error(cmd, "missing --pki");
	if (!tpm && (tpm_nv || tpm_pcr))
		return cli_usage_error(cmd, "--tpm-nv and --tpm-pcr go with --tpm");
	char *json = NULL;
	size_t json_len = 0;
	if (pcid && !cli_read_file(cmd, "--pcid", pcid, &json, &json_len, 4096))
		return CLI_USAGE;
	omc_factory_device_opts o = {
		.pki_dir = pki_dir, .dir = out, .pcid_json = json, .pcid_json_len = json_len, .model = model,
		.tpm = tpm, .tpm_nv = (uint32_t)tpm_nv, .tpm_pcr = (unsigned)tpm_pcr};
	char *report = NULL;
	omc_err e = omc_factory_device(&o, &report);
	omc_free(json);
	if (e != OMC_OK) {
		if (e == OMC_ERR_BAD_FORMAT)
			return cli_usage_error(cmd, "--pcid: %s (want {\"imsi\", \"k\", \"opc\"})", omc_err_str(e));
		fprintf(stderr, "openmcim %s: %s\n", cmd, omc_err_str(e));
		return CLI_ERROR;
	}
	puts(report);
	omc_free(report);
	return CLI_OK;
}
