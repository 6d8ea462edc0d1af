/* The protected access link's frames (docs/link.md): a round trip each
 * way, and every refusal, each with its own error and none moving the
 * receiver's state: a replay, a frame older than the window, a bit flipped
 * in the header, the ciphertext or the MAC, a frame of the wrong direction
 * or bearer, another key. Also: the NAS keys equal the published A.7
 * derivations for EEA2 and EIA2 (tests/vectors/kdf.json), reordering within
 * the window is accepted once, COUNT never repeats (exhaustion), and a
 * wiped link refuses everything.
 * covers: SEC-11 */
#include "testlib.h"

#include "link/link_internal.h"

typedef struct pair {
	omc_link dev, net;
} pair;

static void make_pair(pair *p, uint8_t kasme_byte, uint8_t bearer)
{
	uint8_t kasme[32];
	memset(kasme, kasme_byte, sizeof kasme);
	assert_err(omc_link_init(&p->dev, kasme, bearer, OMC_LINK_UPLINK), OMC_OK);
	assert_err(omc_link_init(&p->net, kasme, bearer, OMC_LINK_DOWNLINK), OMC_OK);
}

static size_t seal(omc_link *l, uint8_t *frame, const char *msg)
{
	size_t n = 0;
	assert_err(omc_link_seal(l, frame, OMC_LINK_FRAME_MAX, &n, (const uint8_t *)msg, strlen(msg)), OMC_OK);
	assert_int_equal(n, OMC_LINK_HDR_LEN + strlen(msg) + OMC_LINK_MAC_LEN);
	return n;
}

static omc_err open_frame(omc_link *l, const uint8_t *frame, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	omc_err e = omc_link_open(l, (uint8_t *)out, cap - 1, &len, NULL, frame, n);
	out[e == OMC_OK ? len : 0] = 0;
	return e;
}

static void test_keys_are_the_a7_keys(void **state)
{
	(void)state;
	json_t *v = tl_load_vectors("kdf.json");
	size_t i, n = 0;
	json_t *o;
	json_array_foreach(v, i, o)
	{
		const char *name = tl_str(o, "name");
		bool enc = strstr(name, "KNASenc") && strstr(name, "(EEA2)");
		bool in = strstr(name, "KNASint") && strstr(name, "(EIA2)");
		if (!enc && !in)
			continue;
		uint8_t kasme[32];
		omc_link_keys k;
		tl_hex(kasme, 32, tl_str(o, "kasme"));
		assert_err(omc_link_keys_derive(&k, kasme), OMC_OK);
		tl_expect_hex(enc ? k.nas_enc : k.nas_int, 16, tl_str(o, "key_128"), name, (int)i);
		n++;
	}
	json_decref(v);
	assert_true(n >= 2);
	/* KUPenc is the same KDF with distinguisher 0x05. */
	uint8_t kasme[32], up[16];
	omc_link_keys k;
	tl_rand(kasme, sizeof kasme);
	assert_err(omc_link_keys_derive(&k, kasme), OMC_OK);
	assert_err(omc_aka_kdf_alg_key(up, kasme, 0x05, 2), OMC_OK);
	assert_memory_equal(k.up_enc, up, 16);
	assert_memory_not_equal(k.nas_enc, k.nas_int, 16);
}

static void test_kasme(void **state)
{
	(void)state;
	uint8_t ck[32], ik[32], plmn[3], sqn[6], a[32], b[32];
	tl_rand(ck, sizeof ck);
	tl_rand(ik, sizeof ik);
	tl_rand(sqn, sizeof sqn);
	assert_err(omc_aka_plmn_encode(plmn, "001", "01"), OMC_OK);
	assert_err(omc_link_kasme(a, ck, 16, ik, 16, plmn, sqn), OMC_OK);
	assert_err(omc_aka_kasme(b, ck, ik, plmn, sqn), OMC_OK);
	assert_memory_equal(a, b, 32);
	/* TUAK's 256-bit CK and IK have no KASME in TS 33.401. */
	assert_err(omc_link_kasme(a, ck, 32, ik, 32, plmn, sqn), OMC_ERR_UNSUPPORTED);
}

static void test_round_trip(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 0x11, 3);
	uint8_t f[OMC_LINK_FRAME_MAX];
	char out[64];
	for (int i = 0; i < 5; i++) {
		size_t n = seal(&p.dev, f, "uplink data");
		/* The header carries the version, BEARER, DIRECTION and COUNT in clear. */
		assert_int_equal(f[0], OMC_LINK_VERSION);
		assert_int_equal(f[1], 3 << 3 | 0 << 2);
		assert_int_equal(f[5], i);
		assert_memory_not_equal(f + OMC_LINK_HDR_LEN, "uplink data", 11);
		uint32_t count = 99;
		size_t len = 0;
		assert_err(omc_link_open(&p.net, (uint8_t *)out, sizeof out, &len, &count, f, n), OMC_OK);
		assert_int_equal(count, (uint32_t)i);
		assert_int_equal(len, 11);
		assert_memory_equal(out, "uplink data", 11);
		n = seal(&p.net, f, "downlink answer");
		assert_int_equal(f[1], 3 << 3 | 1 << 2);
		assert_err(open_frame(&p.dev, f, n, out, sizeof out), OMC_OK);
		assert_string_equal(out, "downlink answer");
	}
	/* An empty payload and the largest one. */
	size_t n = seal(&p.dev, f, "");
	assert_err(open_frame(&p.net, f, n, out, sizeof out), OMC_OK);
	static uint8_t big[OMC_LINK_MAX_PAYLOAD], back[OMC_LINK_MAX_PAYLOAD];
	tl_rand(big, sizeof big);
	size_t len = 0;
	assert_err(omc_link_seal(&p.dev, f, sizeof f, &n, big, sizeof big), OMC_OK);
	assert_err(omc_link_open(&p.net, back, sizeof back, &len, NULL, f, n), OMC_OK);
	assert_int_equal(len, sizeof big);
	assert_memory_equal(back, big, sizeof big);
	assert_err(omc_link_seal(&p.dev, f, sizeof f, &n, big, sizeof big + 1), OMC_ERR_TOO_LARGE);
	assert_err(omc_link_seal(&p.dev, f, 12, &n, big, 1), OMC_ERR_NO_SPACE);
	omc_link_wipe(&p.dev);
	omc_link_wipe(&p.net);
}

/* Every refusal: the right error, and the genuine frame still opens after. */
static void test_refusals(void **state)
{
	(void)state;
	pair p, other, bearer2;
	make_pair(&p, 0x22, 1);
	make_pair(&other, 0x23, 1);   /* another KASME */
	make_pair(&bearer2, 0x22, 2); /* the same keys, another bearer */
	uint8_t f[OMC_LINK_FRAME_MAX], g[OMC_LINK_FRAME_MAX];
	char out[64];
	size_t n = seal(&p.dev, f, "count me");
	struct {
		size_t byte;
		uint8_t mask;
		omc_err want;
		const char *what;
	} flips[] = {
		{0, 0x01, OMC_ERR_BAD_FORMAT, "version"},
		{1, 0x01, OMC_ERR_BAD_FORMAT, "reserved bits"},
		{1, 0x04, OMC_ERR_LINK_DIRECTION, "direction"},
		{1, 0x08, OMC_ERR_LINK_BEARER, "bearer"},
		{2, 0x80, OMC_ERR_MAC_FAILURE, "COUNT, high byte"},
		{5, 0x01, OMC_ERR_MAC_FAILURE, "COUNT, low byte"},
		{7, 0x01, OMC_ERR_TRUNCATED, "length, 9 for 8"},
		{7, 0x08, OMC_ERR_BAD_FORMAT, "length, 0 for 8"},
		{OMC_LINK_HDR_LEN, 0x01, OMC_ERR_MAC_FAILURE, "ciphertext, first bit"},
		{OMC_LINK_HDR_LEN + 7, 0x80, OMC_ERR_MAC_FAILURE, "ciphertext, last byte"},
		{OMC_LINK_HDR_LEN + 8, 0x01, OMC_ERR_MAC_FAILURE, "MAC, first byte"},
		{OMC_LINK_HDR_LEN + 11, 0x80, OMC_ERR_MAC_FAILURE, "MAC, last byte"},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(flips); i++) {
		memcpy(g, f, n);
		g[flips[i].byte] ^= flips[i].mask;
		omc_err e = open_frame(&p.net, g, n, out, sizeof out);
		if (e != flips[i].want)
			fail_msg("bit flip in the %s: %s, want %s", flips[i].what, omc_err_name(e),
				 omc_err_name(flips[i].want));
		assert_string_equal(out, "");
	}
	/* Every single bit of the frame, one at a time: all refused. */
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(g, f, n);
		g[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		if (open_frame(&p.net, g, n, out, sizeof out) == OMC_OK)
			fail_msg("a frame with bit %zu flipped was accepted", bit);
	}
	/* Cut short, or with a byte more. */
	assert_err(open_frame(&p.net, f, 7, out, sizeof out), OMC_ERR_TRUNCATED);
	assert_err(open_frame(&p.net, f, n - 1, out, sizeof out), OMC_ERR_TRUNCATED);
	memcpy(g, f, n);
	g[n] = 0;
	assert_err(open_frame(&p.net, g, n + 1, out, sizeof out), OMC_ERR_BAD_FORMAT);
	/* The wrong direction: the device's own frame back to the device. */
	assert_err(open_frame(&p.dev, f, n, out, sizeof out), OMC_ERR_LINK_DIRECTION);
	/* The wrong bearer, the wrong key. */
	assert_err(open_frame(&bearer2.net, f, n, out, sizeof out), OMC_ERR_LINK_BEARER);
	assert_err(open_frame(&other.net, f, n, out, sizeof out), OMC_ERR_MAC_FAILURE);
	/* Too small a buffer: refused, and the frame not used up. */
	size_t len = 0;
	assert_err(omc_link_open(&p.net, (uint8_t *)out, 3, &len, NULL, f, n), OMC_ERR_NO_SPACE);
	/* None of that moved the window: the genuine frame opens, once. */
	assert_err(open_frame(&p.net, f, n, out, sizeof out), OMC_OK);
	assert_string_equal(out, "count me");
	assert_err(open_frame(&p.net, f, n, out, sizeof out), OMC_ERR_LINK_REPLAY);
	omc_link_wipe(&p.dev);
	omc_link_wipe(&p.net);
	omc_link_wipe(&other.net);
	omc_link_wipe(&bearer2.net);
}

static void test_window(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 0x33, 0);
	static uint8_t f[100][32];
	size_t n[100];
	char out[32];
	for (int i = 0; i < 100; i++) {
		assert_err(omc_link_seal(&p.dev, f[i], sizeof f[i], &n[i], (const uint8_t *)"x", 1), OMC_OK);
	}
	/* Out of order within the window: each accepted once. */
	assert_err(open_frame(&p.net, f[10], n[10], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[12], n[12], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[11], n[11], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[11], n[11], out, sizeof out), OMC_ERR_LINK_REPLAY);
	assert_err(open_frame(&p.net, f[3], n[3], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[10], n[10], out, sizeof out), OMC_ERR_LINK_REPLAY);
	/* COUNT 80: 9 (never seen) is now 71 behind, beyond the window of 64. */
	assert_err(open_frame(&p.net, f[80], n[80], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[9], n[9], out, sizeof out), OMC_ERR_LINK_REPLAY);
	assert_err(open_frame(&p.net, f[17], n[17], out, sizeof out), OMC_OK); /* 63 behind: inside */
	assert_err(open_frame(&p.net, f[16], n[16], out, sizeof out), OMC_ERR_LINK_REPLAY);
	assert_err(open_frame(&p.net, f[99], n[99], out, sizeof out), OMC_OK);
	assert_err(open_frame(&p.net, f[80], n[80], out, sizeof out), OMC_ERR_LINK_REPLAY);
	omc_link_wipe(&p.dev);
	omc_link_wipe(&p.net);
}

static void test_count_exhausted(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 0x44, 0);
	uint8_t f[32];
	size_t n = 0;
	char out[32];
	p.dev.tx_next = UINT32_MAX;
	assert_err(omc_link_seal(&p.dev, f, sizeof f, &n, (const uint8_t *)"y", 1), OMC_OK);
	assert_err(open_frame(&p.net, f, n, out, sizeof out), OMC_OK);
	/* COUNT would wrap to 0 under the same key: no more frames. */
	assert_err(omc_link_seal(&p.dev, f, sizeof f, &n, (const uint8_t *)"y", 1), OMC_ERR_EXHAUSTED);
	assert_int_equal(n, 0);
	omc_link_wipe(&p.dev);
	omc_link_wipe(&p.net);
}

static void test_wiped(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, 0x55, 0);
	uint8_t f[32];
	size_t n = 0, len = 0;
	n = seal(&p.dev, f, "z");
	omc_link_wipe(&p.net);
	assert_true(tl_all_bytes_are((const uint8_t *)&p.net, sizeof p.net, 0));
	uint8_t out[8];
	assert_err(omc_link_open(&p.net, out, sizeof out, &len, NULL, f, n), OMC_ERR_BAD_STATE);
	omc_link_wipe(&p.dev);
	assert_err(omc_link_seal(&p.dev, f, sizeof f, &n, (const uint8_t *)"z", 1), OMC_ERR_BAD_STATE);
	uint8_t kasme[32] = {0};
	assert_err(omc_link_init(&p.dev, kasme, 32, OMC_LINK_UPLINK), OMC_ERR_BAD_ARG);
	assert_true(tl_all_bytes_are((const uint8_t *)&p.dev, sizeof p.dev, 0));
}

/* The seeds of fuzz/corpus/link are what their names say: frames of
 * KASME = 32 bytes of 0x42 made by an independent implementation (Python
 * over python3-cryptography, docs/fuzzing.md), so the valid ones also
 * cross-check this one. */
static void test_fuzz_seeds(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		omc_err want;
		size_t payload;
	} seeds[] = {
		{"valid-empty", OMC_OK, 0},
		{"valid-hello", OMC_OK, 10},
		{"valid-count-max", OMC_OK, 40},
		{"valid-1k", OMC_OK, 1000},
		{"bad-mac", OMC_ERR_MAC_FAILURE, 0},
		{"downlink", OMC_ERR_LINK_DIRECTION, 0},
		{"bearer-5", OMC_ERR_LINK_BEARER, 0},
		{"truncated", OMC_ERR_TRUNCATED, 0},
	};
	uint8_t kasme[32];
	memset(kasme, 0x42, sizeof kasme);
	for (size_t i = 0; i < OMC_ARRAY_LEN(seeds); i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/../../fuzz/corpus/link/%s", OMC_VECTORS_DIR, seeds[i].name);
		static uint8_t f[OMC_LINK_FRAME_MAX + 16], pt[OMC_LINK_MAX_PAYLOAD];
		FILE *fp = fopen(path, "rb");
		if (!fp)
			fail_msg("%s: cannot open", path);
		size_t n = fread(f, 1, sizeof f, fp);
		fclose(fp);
		omc_link net;
		assert_err(omc_link_init(&net, kasme, 0, OMC_LINK_DOWNLINK), OMC_OK);
		size_t len = 0;
		omc_err e = omc_link_open(&net, pt, sizeof pt, &len, NULL, f, n);
		if (e != seeds[i].want)
			fail_msg("seed %s: %s, want %s", seeds[i].name, omc_err_name(e), omc_err_name(seeds[i].want));
		assert_int_equal(len, seeds[i].payload);
		omc_link_wipe(&net);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_are_the_a7_keys), cmocka_unit_test(test_kasme),
		cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_window),               cmocka_unit_test(test_count_exhausted),
		cmocka_unit_test(test_wiped),                cmocka_unit_test(test_fuzz_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
