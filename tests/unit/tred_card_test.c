/* The MCIM as a UICC (src/tred/card.c), APDUs driven directly: ATR, the
 * T=0 SELECT/GET RESPONSE dance, EF_DIR, EF_ICCID, EF_IMSI, EF_AD, EF_UST,
 * EF_EPSLOCI, the ISIM's EF_IMPI/EF_DOMAIN/EF_IMPU, and AUTHENTICATE in 3G
 * context against a real TRE: RES/CK/IK equal the network's vector, a
 * replay gives AUTS that the AuC's resync accepts, a bad MAC gives 98 62,
 * a TRE that refuses gives 69 85. Malformed APDUs get status words.
 * covers: NET-2, NET-5, TRE-8, SEC-12 */
#include "tre_fixture.h"

#include "openmcim/unstable/card.h"

#define K1 "465b5ce8b199b49faa5f0a2ee238a6bc"
#define OPC1 "cd63cb71954a9f4e48a5994e37a02baf"
#define IMSI1 "001010000000001"

static const omc_tre_caller agent = {.kind = OMC_ACTOR_USER, .name = "agent"};

typedef struct tre_auth {
	omc_tre *t;
	const omc_tre_caller *who;
	unsigned calls;
} tre_auth;

static omc_err auth_tre(void *ctx, const uint8_t rand[16], const uint8_t *autn, size_t al, omc_aka_check_result *out)
{
	tre_auth *a = ctx;
	a->calls++;
	return omc_tre_aka(a->t, a->who, "pcid", rand, autn, al, out);
}

static omc_err auth_never(void *ctx, const uint8_t rand[16], const uint8_t *autn, size_t al,
			  omc_aka_check_result *out)
{
	(void)ctx, (void)rand, (void)autn, (void)al, (void)out;
	fail_msg("the card called the TRE for a malformed AUTHENTICATE");
	return OMC_ERR_BUG;
}

static uint8_t rsp[OMC_CARD_MAX_RAPDU];
static size_t rsp_len;

/* Send hex APDU; the status word. */
static unsigned tx_bytes(omc_card *c, const uint8_t *a, size_t n)
{
	assert_int_equal(omc_card_apdu(c, rsp, sizeof rsp, &rsp_len, a, n), OMC_OK);
	assert_true(rsp_len >= 2 && rsp_len <= sizeof rsp);
	return (unsigned)(rsp[rsp_len - 2] << 8 | rsp[rsp_len - 1]);
}

static unsigned tx(omc_card *c, const char *hex)
{
	uint8_t a[OMC_CARD_MAX_APDU];
	size_t n = tl_hex_var(a, sizeof a, hex);
	return tx_bytes(c, a, n);
}

/* SELECT with FCP, then GET RESPONSE of the 61 xx: the FCP in rsp. */
static void select_fcp(omc_card *c, const char *select_hex)
{
	unsigned s = tx(c, select_hex);
	if ((s >> 8) != 0x61)
		fail_msg("SELECT %s: sw %04x, want 61xx", select_hex, s);
	char gr[16];
	snprintf(gr, sizeof gr, "00C00000%02X", s & 0xFF);
	assert_int_equal(tx(c, gr), 0x9000);
	assert_int_equal(rsp_len - 2, s & 0xFF);
	assert_int_equal(rsp[0], 0x62);
	assert_int_equal(rsp[1], rsp_len - 4); /* the template ends at the data's end */
}

/* The value of TLV tag in the FCP in rsp (NULL if absent). */
static const uint8_t *fcp_tag(uint8_t tag, size_t *len)
{
	for (size_t i = 2; i + 2 <= rsp_len - 2;) {
		size_t l = rsp[i + 1];
		assert_true(i + 2 + l <= rsp_len - 2);
		if (rsp[i] == tag) {
			*len = l;
			return rsp + i + 2;
		}
		i += 2 + l;
	}
	return NULL;
}

static void card_usim(omc_card *c, omc_card_auth_fn fn, void *ctx)
{
	omc_card_profile p;
	memset(&p, 0, sizeof p);
	memcpy(p.imsi, IMSI1, sizeof IMSI1);
	p.mnc_len = 2;
	assert_int_equal(omc_card_init(c, &p, fn, ctx), OMC_OK);
}

static void test_atr(void **state)
{
	(void)state;
	uint8_t atr[OMC_CARD_MAX_ATR];
	size_t n = omc_card_atr(atr);
	assert_true(n >= 2 && n <= OMC_CARD_MAX_ATR);
	assert_int_equal(atr[0], 0x3B);
	/* T0's low nibble counts the historical bytes; TCK makes T0..TCK xor to 0. */
	uint8_t x = 0;
	for (size_t i = 1; i < n; i++)
		x ^= atr[i];
	assert_int_equal(x, 0);
	assert_int_equal(atr[1] & 0x0F, 15);
}

static void test_files(void **state)
{
	(void)state;
	omc_card c;
	card_usim(&c, auth_never, NULL);
	/* MF: a DF FCP with a PIN status template saying no PIN. */
	select_fcp(&c, "00A40004023F00");
	size_t l;
	const uint8_t *v = fcp_tag(0x82, &l);
	assert_non_null(v);
	assert_int_equal(v[0], 0x78);
	v = fcp_tag(0xC6, &l);
	assert_non_null(v);
	assert_int_equal(v[0], 0x90);
	assert_int_equal(v[2] & 0x80, 0);
	/* EF_DIR: the record length from 6C, then the USIM's AID, no ISIM. */
	select_fcp(&c, "00A40004022F00");
	v = fcp_tag(0x82, &l);
	assert_int_equal(l, 5);
	assert_int_equal(v[0], 0x42);
	assert_int_equal(tx(&c, "00B20104FF"), 0x6C20);
	assert_int_equal(tx(&c, "00B2010420"), 0x9000);
	tl_expect_hex(rsp, 4, "61184f10", "EF_DIR template", 0);
	tl_expect_hex(rsp + 4, 7, "a0000000871002", "USIM AID", 0);
	assert_int_equal(tx(&c, "00B2020420"), 0x6A83);
	/* EF_ICCID: 89, the IMSI, zeros, Luhn digit; swapped BCD. */
	select_fcp(&c, "00A40004022FE2");
	assert_int_equal(tx(&c, "00B000000A"), 0x9000);
	tl_expect_hex(rsp, 10, "98000101000000000180", "EF_ICCID", 0);
	/* The ADF by partial AID, then EF_IMSI, EF_AD, EF_UST, EF_EPSLOCI. */
	select_fcp(&c, "00A4040407A0000000871002");
	v = fcp_tag(0x84, &l);
	assert_non_null(v);
	assert_int_equal(l, 16);
	select_fcp(&c, "00A40004026F07");
	v = fcp_tag(0x80, &l);
	assert_non_null(v);
	assert_int_equal(v[0] << 8 | v[1], 9);
	assert_int_equal(tx(&c, "00B0000009"), 0x9000);
	tl_expect_hex(rsp, 9, "080910100000000010", "EF_IMSI", 0);
	assert_int_equal(tx(&c, "00A4000C026FAD"), 0x9000);
	assert_int_equal(tx(&c, "00B0000004"), 0x9000);
	tl_expect_hex(rsp, 4, "00000002", "EF_AD", 0);
	assert_int_equal(tx(&c, "00B0000204"), 0x6C02);
	assert_int_equal(tx(&c, "00B0000400"), 0x6B00);
	assert_int_equal(tx(&c, "00B2010400"), 0x6981); /* a transparent EF has no records */
	/* By short file identifier: EF_UST is SFI 04. */
	assert_int_equal(tx(&c, "00B0840000"), 0x9000);
	assert_int_equal(rsp_len, 11 + 2);
	assert_int_equal(rsp[3], 0x04);
	assert_int_equal(tx(&c, "00A4000C026FE3"), 0x9000);
	assert_int_equal(tx(&c, "00B0000012"), 0x9000);
	assert_int_equal(rsp[17], 0x01);
	/* By path from the MF. */
	assert_int_equal(tx(&c, "00A4080C047FFF6F07"), 0x9000);
	assert_int_equal(tx(&c, "00B0000001"), 0x9000);
	assert_int_equal(rsp[0], 0x08);
	/* No ISIM on a USIM-type MCIM. */
	assert_int_equal(tx(&c, "00A4040407A0000000871004"), 0x6A82);
	assert_int_equal(tx(&c, "00A40004026F02"), 0x6A82);
	omc_card_wipe(&c);
}

static void test_isim(void **state)
{
	(void)state;
	omc_card c;
	omc_card_profile p;
	memset(&p, 0, sizeof p);
	memcpy(p.imsi, "310150123456789", 16);
	p.mnc_len = 3;
	p.isim = true;
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_OK);
	/* EF_DIR lists the USIM and the ISIM. */
	assert_int_equal(tx(&c, "00A4000C022F00"), 0x9000);
	assert_int_equal(tx(&c, "00B2020420"), 0x9000);
	tl_expect_hex(rsp + 4, 7, "a0000000871004", "ISIM AID", 0);
	select_fcp(&c, "00A4040410A0000000871004FFFFFFFF8906190001");
	/* EF_IMPI: TS 23.003 13.3 from the IMSI, three-digit MNC. */
	assert_int_equal(tx(&c, "00A4000C026F02"), 0x9000);
	assert_int_equal(tx(&c, "00B0000000"), 0x9000);
	const char *impi = "310150123456789@ims.mnc150.mcc310.3gppnetwork.org";
	assert_int_equal(rsp[0], 0x80);
	assert_int_equal(rsp[1], strlen(impi));
	assert_memory_equal(rsp + 2, impi, strlen(impi));
	assert_int_equal(tx(&c, "00A4000C026F03"), 0x9000);
	assert_int_equal(tx(&c, "00B0000000"), 0x9000);
	assert_memory_equal(rsp + 2, "ims.mnc150.mcc310.3gppnetwork.org", rsp[1]);
	/* EF_IMPU: one record, sip:IMPI. */
	assert_int_equal(tx(&c, "00A4000C026F04"), 0x9000);
	assert_int_equal(tx(&c, "00B2010400"), 0x9000);
	assert_int_equal(rsp[1], strlen(impi) + 4);
	assert_memory_equal(rsp + 2, "sip:", 4);
	assert_memory_equal(rsp + 6, impi, strlen(impi));
	omc_card_wipe(&c);

	/* Identities given are served as they are. */
	snprintf(p.impi, sizeof p.impi, "dev1@ims.example.org");
	snprintf(p.impu, sizeof p.impu, "sip:+4915112345678@ims.example.org");
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_OK);
	assert_int_equal(tx(&c, "00A4040C07A0000000871004"), 0x9000);
	assert_int_equal(tx(&c, "00A4000C026F04"), 0x9000);
	assert_int_equal(tx(&c, "00B2010400"), 0x9000);
	assert_memory_equal(rsp + 2, p.impu, strlen(p.impu));
	omc_card_wipe(&c);
}

static void test_refusals(void **state)
{
	(void)state;
	omc_card c;
	card_usim(&c, auth_never, NULL);
	uint8_t a[OMC_CARD_MAX_APDU + 1] = {0};
	assert_int_equal(omc_card_apdu(&c, rsp, sizeof rsp, &rsp_len, a, 3), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_card_apdu(&c, rsp, sizeof rsp, &rsp_len, a, sizeof a), OMC_ERR_BAD_LENGTH);
	assert_int_equal(omc_card_apdu(&c, rsp, 10, &rsp_len, a, 4), OMC_ERR_BAD_ARG);
	assert_int_equal(tx(&c, "A0A40000023F00"), 0x6E00);    /* GSM SIM class */
	assert_int_equal(tx(&c, "01A40004023F00"), 0x6881);    /* logical channel */
	assert_int_equal(tx(&c, "00CA000000"), 0x6D00);        /* unknown INS */
	assert_int_equal(tx(&c, "00A4000402"), 0x6700);        /* Lc without data: case 2 */
	assert_int_equal(tx(&c, "00A40004033F0000"), 0x6700);  /* a FID of 3 bytes */
	assert_int_equal(tx(&c, "00A40004034F"), 0x6700);      /* Lc longer than the data */
	assert_int_equal(tx(&c, "00A40004021234"), 0x6A82);    /* no such file */
	assert_int_equal(tx(&c, "00A40004027FFF"), 0x6A82);    /* no ADF selected yet */
	assert_int_equal(tx(&c, "00A40001023F00"), 0x6A86);
	assert_int_equal(tx(&c, "00B0000001"), 0x6986);        /* no EF selected */
	assert_int_equal(tx(&c, "00C0000010"), 0x6985);        /* nothing to get */
	/* T=0: the next command drops a waiting response. */
	assert_int_equal(tx(&c, "00A40004023F00"), 0x611A);
	assert_int_equal(tx(&c, "00A4000C023F00"), 0x9000);
	assert_int_equal(tx(&c, "00C000001A"), 0x6985);
	/* A failed SELECT keeps what was selected. */
	assert_int_equal(tx(&c, "00A4000C022FE2"), 0x9000);
	assert_int_equal(tx(&c, "00A4000C026F07"), 0x6A82); /* EF_IMSI is in the ADF, not the MF */
	assert_int_equal(tx(&c, "00B0000001"), 0x9000);
	assert_int_equal(rsp[0], 0x98);
	/* AUTHENTICATE outside an ADF, in GSM context, malformed. */
	const char *autn32 = "0088008122" "10" "00112233445566778899aabbccddeeff" "10" "00112233445566778899aabbccddeeff";
	assert_int_equal(tx(&c, autn32), 0x6985);
	assert_int_equal(tx(&c, "00A4040C07A0000000871002"), 0x9000);
	assert_int_equal(tx(&c, "0088008022" "10" "00112233445566778899aabbccddeeff" "10"
				"00112233445566778899aabbccddeeff"),
			 0x6A86);
	assert_int_equal(tx(&c, "0088008112" "10" "00112233445566778899aabbccddeeff" "00"), 0x6A80);
	assert_int_equal(tx(&c, "0088008122" "0f" "00112233445566778899aabbccddeeff" "10"
				"00112233445566778899aabbccddeeff"),
			 0x6A80);
	assert_int_equal(tx(&c, "0088008122" "10" "00112233445566778899aabbccddeeff" "11"
				"00112233445566778899aabbccddeeff"),
			 0x6A80);
	/* PIN1 is disabled: a VERIFY status query says OK, a PIN is not taken. */
	assert_int_equal(tx(&c, "0020000100"), 0x9000);
	assert_int_equal(tx(&c, "002000010831323334FFFFFFFF"), 0x6984);
	assert_int_equal(tx(&c, "80F2000C00"), 0x9000);
	assert_int_equal(tx(&c, "80F2000000"), 0x9000);
	assert_int_equal(rsp[0], 0x62);
	/* Bad profiles. */
	omc_card_profile p;
	memset(&p, 0, sizeof p);
	memcpy(p.imsi, "00101", 6);
	p.mnc_len = 2;
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_ERR_BAD_FORMAT);
	memcpy(p.imsi, "00101000000000a", 16);
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_ERR_BAD_FORMAT);
	memcpy(p.imsi, IMSI1, 16);
	p.mnc_len = 4;
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_ERR_BAD_FORMAT);
	p.mnc_len = 2;
	memcpy(p.iccid, "8912", 5);
	assert_int_equal(omc_card_init(&c, &p, auth_never, NULL), OMC_ERR_BAD_FORMAT);
	omc_card_wipe(&c);
}

/* AUTHENTICATE for av; the status word (answer via GET RESPONSE in rsp). */
static unsigned authenticate(omc_card *c, const uint8_t *rand, const uint8_t *autn)
{
	uint8_t a[5 + 34];
	memcpy(a, (const uint8_t[]){0x00, 0x88, 0x00, 0x81, 0x22, 0x10}, 6);
	memcpy(a + 6, rand, 16);
	a[22] = 0x10;
	memcpy(a + 23, autn, 16);
	unsigned s = tx_bytes(c, a, 39);
	if ((s >> 8) != 0x61)
		return s;
	uint8_t gr[5] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)s};
	assert_int_equal(tx_bytes(c, gr, 5), 0x9000);
	return s;
}

static void test_authenticate(void **state)
{
	(void)state;
	tf_dev d;
	char pcid[256];
	snprintf(pcid, sizeof pcid, "{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}", IMSI1, K1, OPC1);
	tf_dev_make(&d, NULL, pcid);
	omc_tre *t = tf_open(&d);
	tre_auth ta = {.t = t, .who = &agent};
	omc_card c;
	card_usim(&c, auth_tre, &ta);
	assert_int_equal(tx(&c, "00A4040C07A0000000871002"), 0x9000);

	/* OK: DB RES CK IK Kc, all equal to the network's vector (TRE-8). */
	omc_aka_av av;
	tf_av(&av, K1, OPC1, 64 + 1);
	assert_int_equal(authenticate(&c, av.rand, av.autn), 0x6135);
	assert_int_equal(rsp[0], 0xDB);
	assert_int_equal(rsp[1], 8);
	assert_memory_equal(rsp + 2, av.xres, 8);
	assert_int_equal(rsp[10], 16);
	assert_memory_equal(rsp + 11, av.ck, 16);
	assert_int_equal(rsp[27], 16);
	assert_memory_equal(rsp + 28, av.ik, 16);
	assert_int_equal(rsp[44], 8);
	for (size_t i = 0; i < 8; i++) /* c3, TS 33.102 6.8.1.2 */
		assert_int_equal(rsp[45 + i], av.ck[i] ^ av.ck[i + 8] ^ av.ik[i] ^ av.ik[i + 8]);
	assert_int_equal(ta.calls, 1);
	/* The answer is gone once read (and wiped: the card holds no RES). */
	assert_int_equal(tx(&c, "00C0000035"), 0x6985);
	assert_true(tl_all_bytes_are(c.resp, sizeof c.resp, 0));

	/* The same vector again: sync failure, DC AUTS, which the AuC's
	 * resynchronisation verifies and decodes to the SQN accepted. */
	assert_int_equal(authenticate(&c, av.rand, av.autn), 0x6110);
	assert_int_equal(rsp[0], 0xDC);
	assert_int_equal(rsp[1], 14);
	uint8_t k[16], opc[16];
	tl_hex(k, 16, K1);
	tl_hex(opc, 16, OPC1);
	omc_aka_cred cr = {.alg = OMC_AKA_ALG_MILENAGE};
	assert_int_equal(omc_aka_milenage_init(&cr.u.milenage, k, opc, NULL), OMC_OK);
	omc_aka_sqn_he he;
	assert_int_equal(omc_aka_sqn_he_init(&he, OMC_AKA_IND_BITS_DEFAULT, 0), OMC_OK);
	uint64_t sqn_ms;
	bool moved;
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &cr, av.rand, rsp + 2, 14), OMC_OK);
	assert_int_equal(sqn_ms, 65);
	/* A flipped AUTS bit is refused by the AuC. */
	rsp[2 + 13] ^= 1;
	assert_int_equal(omc_aka_resync(&sqn_ms, &moved, &he, &cr, av.rand, rsp + 2, 14), OMC_ERR_MAC_FAILURE);

	/* A bad MAC: 98 62, nothing to get. */
	omc_aka_av av2;
	tf_av(&av2, K1, OPC1, 128 + 1);
	av2.autn[15] ^= 0x01;
	assert_int_equal(authenticate(&c, av2.rand, av2.autn), 0x9862);
	assert_int_equal(rsp_len, 2);
	/* A key the card does not hold: 98 62 too. */
	tf_av(&av2, "00112233445566778899aabbccddeeff", OPC1, 128 + 1);
	assert_int_equal(authenticate(&c, av2.rand, av2.autn), 0x9862);

	/* The TRE refuses (a caller the ACL does not name): 69 85. */
	omc_tre_caller eve = {.kind = OMC_ACTOR_USER, .name = "eve"};
	ta.who = &eve;
	tf_av(&av2, K1, OPC1, 128 + 1);
	assert_int_equal(authenticate(&c, av2.rand, av2.autn), 0x6985);
	ta.who = &agent;
	assert_int_equal(authenticate(&c, av2.rand, av2.autn), 0x6135);
	assert_memory_equal(rsp + 2, av2.xres, 8);

	omc_aka_cred_wipe(&cr);
	OMC_WIPE(k);
	OMC_WIPE(opc);
	OMC_WIPE(av);
	OMC_WIPE(av2);
	omc_card_wipe(&c);
	omc_tre_close(t);
	tf_dev_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atr),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_isim),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_authenticate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
