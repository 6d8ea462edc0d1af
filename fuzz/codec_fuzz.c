/* Text codecs and the CLI's option input: hex, base64 (both alphabets),
 * the lifecycle and role names, the CLI's hex and integer options and a
 * whole `openmcim aka` command line (getopt and all).
 *
 * Input: selector byte, then the text. Properties checked, not just "no
 * crash": what decodes re-encodes to the same text (the decoders are
 * strict, so the encoding is canonical), and a decoder that fails leaves
 * no bytes behind. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "tre/tre_internal.h"

#define MAX_IN 4096

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "codec_fuzz: %s\n", what);
		abort();
	}
}

static void hex(const char *s, size_t n)
{
	uint8_t out[MAX_IN / 2 + 1];
	size_t len = 0;
	omc_err e = omc_hex_decode_var(out, sizeof out, &len, s, n);
	if (e != OMC_OK) {
		check(len == 0, "hex: failed decode reports bytes");
		return;
	}
	check(len * 2 == n, "hex: length");
	char back[MAX_IN + 1];
	check(omc_hex_encode(back, sizeof back, out, len) == OMC_OK, "hex: re-encode");
	for (size_t i = 0; i < n; i++) /* the encoder writes lower case */
		check(back[i] == (s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]), "hex: round trip");
	uint8_t fixed[MAX_IN / 2 + 1];
	check(omc_hex_decode(fixed, len, s, n) == OMC_OK && memcmp(fixed, out, len) == 0, "hex: fixed vs var");
}

static void b64(const char *s, size_t n, omc_b64_variant v)
{
	uint8_t out[MAX_IN];
	size_t len = 0;
	if (omc_b64_decode(out, sizeof out, &len, s, n, v) != OMC_OK)
		return;
	check(omc_b64_encoded_len(len, v) == n, "b64: length");
	char back[MAX_IN + 4];
	check(omc_b64_encode(back, sizeof back, out, len, v) == OMC_OK, "b64: re-encode");
	check(memcmp(back, s, n) == 0 && back[n] == 0, "b64: round trip");
}

static void names(const char *s)
{
	omc_mcim_state st;
	omc_mcim_event ev;
	omc_user_role r;
	if (omc_mcim_state_parse(&st, s) == OMC_OK)
		check(strcmp(omc_mcim_state_name(st), s) == 0, "state name round trip");
	if (omc_mcim_event_parse(&ev, s) == OMC_OK)
		check(strcmp(omc_mcim_event_name(ev), s) == 0, "event name round trip");
	if (omc_user_role_parse(&r, s) == OMC_OK)
		check(s[0] != 0, "role: the empty name");
}

static void cli_opts(char *s, size_t n)
{
	uint8_t out[32];
	static const size_t lens[] = {16, 32};
	size_t got = 0;
	unsigned long v;
	if (cli_uint_opt("fuzz", "--n", s, 1, 1000, &v))
		check(v >= 1 && v <= 1000, "cli uint: range");
	/* last: it overwrites s */
	if (cli_hex_opt("fuzz", "--k", s, out, lens, 2, &got, true)) {
		check(got == 16 || got == 32, "cli hex: length");
		check(strspn(s, "x") == n, "cli hex: secret argument not overwritten");
	}
}

/* A command line: arguments separated by NUL bytes. */
static void cli_aka(const uint8_t *data, size_t size)
{
	char *buf = fz_str(data, size);
	if (!buf)
		return;
	char name[] = "aka";
	char *argv[34] = {name};
	int argc = 1;
	for (size_t i = 0; i <= size && argc < 33;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	optind = 0; /* glibc: a full reset of getopt's state */
	opterr = 0;
	(void)cmd_aka(argc, argv);
	omc_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once) {
		once = 1;
		fz_init();
		/* the CLI's answers are not what is tested (libFuzzer's
		 * -close_fd_mask=2 quiets its usage lines) */
		if (!freopen("/dev/null", "w", stdout))
			abort();
	}
	if (size < 1 || size > MAX_IN)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	if (sel % 6 == 5) {
		cli_aka(data, size);
		return 0;
	}
	char *s = fz_str(data, size);
	if (!s)
		return 0;
	switch (sel % 6) {
	case 0: hex(s, size); break;
	case 1: b64(s, size, OMC_B64_STD); break;
	case 2: b64(s, size, OMC_B64_URL); break;
	case 3: names(s); break;
	case 4: cli_opts(s, strlen(s)); break;
	}
	omc_free(s);
	return 0;
}
