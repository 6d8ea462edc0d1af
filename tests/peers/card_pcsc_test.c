/* The MCIM as a smart card through real PC/SC: Debian's pcscd with
 * vsmartcard's vpcd reader driver (a private instance: its own mount
 * namespace for /run/pcscd, its own vpcd port), `openmcim tred` on a
 * factory device, `openmcim tred card` connected to vpcd, and this test as
 * a PC/SC client through libpcsclite. It reads EF_DIR and EF_IMSI, runs
 * AUTHENTICATE with vectors from Debian's osmo-auc-gen (an independent
 * MILENAGE): RES/CK/IK/Kc match; a replay gives AUTS that osmo-auc-gen
 * decodes to the card's SQN; a bad MAC gives 98 62. Neither K nor OPc is
 * in any log (pcscd's APDU trace included). Needs root (unshare, mount).
 * argv[1]: the openmcim binary.
 * covers: NET-2, NET-5, TRE-8, SEC-12 */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <winscard.h>

#include "card_rig.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define IMSI1 "001010000000001"

static const char *bin;
static card_rig rig;
static td_proc *tred, *pcscd, *card;
static SCARDCONTEXT ctx;
static SCARDHANDLE h;
static uint8_t rsp[258];
static DWORD rsp_len;

static unsigned xmit(const char *hex)
{
	uint8_t a[300];
	size_t n = tl_hex_var(a, sizeof a, hex);
	rsp_len = sizeof rsp;
	LONG rv = SCardTransmit(h, SCARD_PCI_T0, a, (DWORD)n, NULL, rsp, &rsp_len);
	if (rv != SCARD_S_SUCCESS)
		fail_msg("SCardTransmit %s: %s", hex, pcsc_stringify_error(rv));
	assert_true(rsp_len >= 2);
	return (unsigned)(rsp[rsp_len - 2] << 8 | rsp[rsp_len - 1]);
}

/* A command answered 61 xx, then GET RESPONSE: the data in rsp. */
static unsigned xmit_get(const char *hex)
{
	unsigned s = xmit(hex);
	if ((s >> 8) != 0x61)
		return s;
	char gr[16];
	snprintf(gr, sizeof gr, "00C00000%02X", s & 0xFF);
	assert_int_equal(xmit(gr), 0x9000);
	return s;
}

/* osmo-auc-gen's value of field name ("RES:") into out (hex). */
static void field(char *dst, size_t cap, const char *out, const char *name)
{
	const char *p = strstr(out, name);
	if (!p)
		fail_msg("osmo-auc-gen printed no %s:\n%s", name, out);
	p += strlen(name);
	p += strspn(p, " \t");
	size_t n = strcspn(p, "\r\n");
	assert_true(n < cap);
	memcpy(dst, p, n);
	dst[n] = 0;
}

static void hex_of(char *dst, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(dst + 2 * i, "%02x", p[i]);
}

static int setup(void **state)
{
	(void)state;
	if (!cr_start(&rig, bin, "card-pcsc", IMSI1, K1, OPC1))
		return -1;
	tred = rig.tred, pcscd = rig.pcscd, card = rig.card;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return -1;
	}
	DWORD proto;
	for (int tries = 0; tries < 100; tries++) {
		rv = SCardConnect(ctx, "Virtual PCD 00 00", SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, &h, &proto);
		if (rv == SCARD_S_SUCCESS)
			break;
		usleep(100000);
	}
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardConnect: %s\n", pcsc_stringify_error(rv));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (h)
		SCardDisconnect(h, SCARD_UNPOWER_CARD);
	if (ctx)
		SCardReleaseContext(ctx);
	td_cleanup();
	return 0;
}

static void test_atr_and_files(void **state)
{
	(void)state;
	uint8_t atr[MAX_ATR_SIZE];
	DWORD atr_len = sizeof atr, st, pr;
	char name[128];
	DWORD name_len = sizeof name;
	assert_int_equal(SCardStatus(h, name, &name_len, &st, &pr, atr, &atr_len), SCARD_S_SUCCESS);
	assert_int_equal(pr, SCARD_PROTOCOL_T0);
	assert_true(atr_len > 2);
	assert_int_equal(atr[0], 0x3B);

	/* MF's FCP, then EF_DIR: the USIM's AID (length from 6C). */
	assert_int_equal(xmit_get("00A40004023F00") >> 8, 0x61);
	assert_int_equal(rsp[0], 0x62);
	assert_int_equal(xmit_get("00A40004022F00") >> 8, 0x61);
	unsigned s = xmit("00B20104FF");
	assert_int_equal(s >> 8, 0x6C);
	char rr[16];
	snprintf(rr, sizeof rr, "00B20104%02X", s & 0xFF);
	assert_int_equal(xmit(rr), 0x9000);
	assert_int_equal(rsp[2], 0x4F);
	char aid[40] = {0}, sel[64];
	hex_of(aid, rsp + 4, rsp[3]);
	assert_memory_equal(aid, "a0000000871002", 14);
	snprintf(sel, sizeof sel, "00A40404%02X%s", rsp[3], aid);
	assert_int_equal(xmit_get(sel) >> 8, 0x61);
	/* EF_IMSI and EF_AD. */
	assert_int_equal(xmit_get("00A40004026F07") >> 8, 0x61);
	assert_int_equal(xmit("00B0000009"), 0x9000);
	char imsi[20];
	hex_of(imsi, rsp, 9);
	assert_string_equal(imsi, "080910100000000010");
	assert_int_equal(xmit("00A4000C026FAD"), 0x9000);
	assert_int_equal(xmit("00B0000004"), 0x9000);
	assert_int_equal(rsp[3], 2);
}

static unsigned auth(const char *rand_hex, const char *autn_hex)
{
	char a[128];
	snprintf(a, sizeof a, "008800812210%s10%s", rand_hex, autn_hex);
	return xmit_get(a);
}

static void test_authenticate(void **state)
{
	(void)state;
	char cmd[512], out[4096], err[1024], rand_hex[40], autn[40], want[80], got[80];
	uint8_t r[16];
	tl_rand(r, 16);
	hex_of(rand_hex, r, 16);
	assert_int_equal(xmit("00A4040C07A0000000871002"), 0x9000);

	/* A vector from osmo-auc-gen (SQN 97, AMF 8000). */
	snprintf(cmd, sizeof cmd, "osmo-auc-gen -3 -a milenage -k %s -o %s -f 8000 -r %s -s 97", K1, OPC1, rand_hex);
	if (tl_run(cmd, out, sizeof out, err, sizeof err) != 0)
		fail_msg("osmo-auc-gen (libosmocore-utils): %s", err);
	field(autn, sizeof autn, out, "AUTN:");
	assert_int_equal(auth(rand_hex, autn), 0x6135);
	assert_int_equal(rsp[0], 0xDB);
	assert_int_equal(rsp[1], 8);
	/* DB 08 RES 10 CK 10 IK 08 Kc */
	static const struct {
		size_t at, len;
		const char *name;
	} f[] = {{2, 8, "RES:"}, {11, 16, "CK:"}, {28, 16, "IK:"}, {45, 8, "Kc:"}};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		hex_of(got, rsp + f[i].at, f[i].len);
		field(want, sizeof want, out, f[i].name);
		if (strcmp(got, want))
			fail_msg("%s card %s, osmo-auc-gen %s", f[i].name, got, want);
	}

	/* The same again: sync failure; osmo-auc-gen reads SQN_MS 97 from AUTS. */
	assert_int_equal(auth(rand_hex, autn), 0x6110);
	assert_int_equal(rsp[0], 0xDC);
	assert_int_equal(rsp[1], 14);
	char auts[40];
	hex_of(auts, rsp + 2, 14);
	snprintf(cmd, sizeof cmd, "osmo-auc-gen -3 -a milenage -k %s -o %s -r %s -A %s", K1, OPC1, rand_hex, auts);
	if (tl_run(cmd, out, sizeof out, err, sizeof err) != 0)
		fail_msg("osmo-auc-gen -A: %s", err);
	field(want, sizeof want, out, "SQN.MS:");
	assert_string_equal(want, "97");

	/* A wrong key (a vector for another K): 98 62. */
	snprintf(cmd, sizeof cmd, "osmo-auc-gen -3 -a milenage -k 000102030405060708090a0b0c0d0e0f -o %s -f 8000 -r %s -s 129",
		 OPC1, rand_hex);
	assert_int_equal(tl_run(cmd, out, sizeof out, err, sizeof err), 0);
	field(autn, sizeof autn, out, "AUTN:");
	assert_int_equal(auth(rand_hex, autn), 0x9862);
}

/* SEC-12: nothing that saw the card's traffic logged K or OPc. */
static void test_no_secrets_in_logs(void **state)
{
	(void)state;
	const td_proc *ps[] = {tred, pcscd, card};
	for (size_t i = 0; i < 3; i++) {
		assert_true(td_file_has(ps[i]->log, "")); /* the log exists */
		if (td_file_has(ps[i]->log, K1) || td_file_has(ps[i]->log, OPC1))
			fail_msg("%s's log holds K or OPc", ps[i]->name);
	}
	/* The APDU trace is there (the check looked at real traffic). */
	assert_true(td_file_has(pcscd->log, "00880081"));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-openmcim\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atr_and_files),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_no_secrets_in_logs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
