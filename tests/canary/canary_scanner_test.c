/* The canary scanner itself: a planted secret is found in every encoding
 * at every offset, inside longer texts, split across line breaks, in files
 * and in a tree, and a near miss is not. The encodings are made
 * independently of the scanner, by the project's encoders and by OpenSSL.
 * covers: SEC-12 (the tool that shows plaintext never lands) */
#include "testlib.h"

#include "canary.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

static const uint8_t K[16] = {0xc4, 0x0a, 0x11, 0x7e, 0x5b, 0x83, 0x29, 0xf0,
			      0x6d, 0x12, 0xa7, 0x3c, 0x98, 0xe1, 0x44, 0xbd};

/* The texts a secret may hide in: each encoding of pre || K || post. */
enum { T_RAW, T_HEX, T_HEX_UP, T_B64_PAD, T_B64_NOPAD, T_URL_PAD, T_URL_NOPAD, T_COUNT };

static size_t text(char *out, size_t cap, int t, size_t pre, size_t post, const uint8_t *k)
{
	uint8_t b[64];
	for (size_t i = 0; i < pre; i++)
		b[i] = (uint8_t)(0x30 + 7 * i);
	memcpy(b + pre, k, 16);
	for (size_t i = 0; i < post; i++)
		b[pre + 16 + i] = (uint8_t)(0x91 + 5 * i);
	size_t n = pre + 16 + post;
	switch (t) {
	case T_RAW:
		memcpy(out, b, n);
		return n;
	case T_HEX:
	case T_HEX_UP:
		assert_int_equal(omc_hex_encode(out, cap, b, n), OMC_OK);
		if (t == T_HEX_UP)
			for (size_t i = 0; out[i]; i++)
				if (out[i] >= 'a' && out[i] <= 'f')
					out[i] = (char)(out[i] - 'a' + 'A');
		return strlen(out);
	case T_B64_PAD:
		assert_int_equal(omc_b64_encode(out, cap, b, n, OMC_B64_STD), OMC_OK);
		return strlen(out);
	case T_URL_NOPAD:
		assert_int_equal(omc_b64_encode(out, cap, b, n, OMC_B64_URL), OMC_OK);
		return strlen(out);
	default: {
		/* OpenSSL's encoder, then padding off or the URL alphabet. */
		int m = EVP_EncodeBlock((unsigned char *)out, b, (int)n);
		assert_true(m > 0 && (size_t)m < cap);
		size_t len = (size_t)m;
		if (t == T_B64_NOPAD)
			while (len && out[len - 1] == '=')
				len--;
		if (t == T_URL_PAD)
			for (size_t i = 0; i < len; i++)
				out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
		out[len] = 0;
		return len;
	}
	}
}

static void every_encoding_every_offset(void **state)
{
	(void)state;
	tl_canary_reset();
	tl_canary_add("K", K, sizeof K);
	for (int t = 0; t < T_COUNT; t++)
		for (size_t pre = 0; pre < 6; pre++)
			for (size_t post = 0; post < 4; post++) {
				char buf[256];
				size_t n = text(buf, sizeof buf, t, pre, post, K);
				if (tl_canary_scan_buf("text", buf, n) == 0)
					fail_msg("missed: text %d, %zu bytes before, %zu after: %.*s", t, pre, post,
						 (int)n, buf);
			}
	assert_true(tl_canary_hits() >= T_COUNT * 6 * 4);
}

static void near_miss_is_no_hit(void **state)
{
	(void)state;
	tl_canary_reset();
	tl_canary_add("K", K, sizeof K);
	/* One bit off in the secret: no encoding of it matches. The first
	 * and last bytes are left alone: a base64 needle at alignment 1 or 2
	 * leaves out the few bits of them that share a character with the
	 * unknown neighbours (it still covers more than 120 bits). */
	for (size_t bit = 8; bit < 8 * (sizeof K - 1); bit++) {
		uint8_t k2[16];
		memcpy(k2, K, sizeof k2);
		k2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		for (int t = 0; t < T_COUNT; t++) {
			char buf[256];
			size_t n = text(buf, sizeof buf, t, bit % 3, 1, k2);
			assert_int_equal(tl_canary_scan_buf("near miss", buf, n), 0);
		}
	}
	assert_int_equal(tl_canary_hits(), 0);
	assert_true(tl_canary_scans() == 8 * (sizeof K - 2) * T_COUNT);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* One file per encoding in a tree (a nested folder, a -wal file): each is
 * found, and a clean file adds nothing. */
static void files_and_trees(void **state)
{
	(void)state;
	char dir[] = "/tmp/omc-canary-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[64], path[128];
	snprintf(sub, sizeof sub, "%s/db", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	tl_canary_reset();
	tl_canary_add("OPc", K, sizeof K);
	for (int t = 0; t < T_COUNT; t++) {
		char buf[256];
		size_t n = text(buf, sizeof buf, t, (size_t)t % 3, 2, K);
		snprintf(path, sizeof path, "%s/%s.%d%s", t % 2 ? sub : dir, "f", t, t == T_RAW ? "-wal" : "");
		write_file(path, buf, n);
		assert_true(tl_canary_scan_file(path) >= 1);
	}
	snprintf(path, sizeof path, "%s/clean.log", dir);
	write_file(path, "nothing to see\n", 15);
	assert_int_equal(tl_canary_scan_file(path), 0);
	size_t before = tl_canary_hits(), files = 0;
	size_t found = tl_canary_scan_tree(dir, &files);
	assert_int_equal(files, T_COUNT + 1);
	assert_true(found >= T_COUNT);
	assert_int_equal(tl_canary_hits(), before + found);
	for (int t = 0; t < T_COUNT; t++) {
		snprintf(path, sizeof path, "%s/%s.%d%s", t % 2 ? sub : dir, "f", t, t == T_RAW ? "-wal" : "");
		assert_int_equal(unlink(path), 0);
	}
	snprintf(path, sizeof path, "%s/clean.log", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* n bytes of in cut into lines of w characters, each ended by eol. */
static size_t wrap(char *out, size_t cap, const char *in, size_t n, size_t w, const char *eol)
{
	size_t o = 0, el = strlen(eol);
	for (size_t i = 0; i < n; i += w) {
		size_t l = n - i < w ? n - i : w;
		assert_true(o + l + el < cap);
		memcpy(out + o, in + i, l);
		o += l;
		memcpy(out + o, eol, el);
		o += el;
	}
	out[o] = 0;
	return o;
}

/* Whether any needle of K, as the scanner makes them, is in p as it is. */
static bool contiguous(const char *p, size_t n, const uint8_t *k)
{
	for (int e = TL_ENC_HEX_LOWER; e < TL_ENC_COUNT; e++)
		for (unsigned a = 0; a < 3; a++) {
			char nd[2 * TL_CANARY_SECRET_MAX + 8];
			size_t l = tl_canary_encode(nd, sizeof nd, k, 16, (tl_canary_enc)e, a);
			if (memmem(p, n, nd, l))
				return true;
		}
	return false;
}

/* A secret in hex or base64 split across line breaks (a PEM block's 64
 * columns, \n or \r\n, or narrower lines that cut every needle) is found;
 * the same text of a secret one bit off, wrapped alike, gives no hit, and
 * so does a wrapped file without the secret. */
static void split_across_lines(void **state)
{
	(void)state;
	static const int kinds[] = {T_HEX, T_HEX_UP, T_B64_PAD, T_B64_NOPAD, T_URL_NOPAD};
	static const char *const eols[] = {"\n", "\r\n"};
	static const size_t widths[] = {7, 13, 64};
	uint8_t k2[16];
	memcpy(k2, K, sizeof k2);
	k2[7] ^= 0x10;
	tl_canary_reset();
	tl_canary_add("K", K, sizeof K);
	size_t cases = 0, split = 0;
	for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; t++)
		for (size_t w = 0; w < 3; w++)
			for (size_t el = 0; el < 2; el++)
				for (size_t pre = 20; pre < 46; pre += 5) {
					char flat[160], buf[320];
					size_t n = text(flat, sizeof flat, kinds[t], pre, 2, K);
					size_t m = wrap(buf, sizeof buf, flat, n, widths[w], eols[el]);
					bool cut = !contiguous(buf, m, K);
					if (widths[w] < 19)
						assert_true(cut); /* every needle is longer than a line */
					split += cut;
					cases++;
					if (tl_canary_scan_buf("wrapped text", buf, m) == 0)
						fail_msg("missed: text %d wrapped at %zu (%s), %zu bytes before: %s", kinds[t],
							 widths[w], el ? "CRLF" : "LF", pre, buf);
					n = text(flat, sizeof flat, kinds[t], pre, 2, k2);
					m = wrap(buf, sizeof buf, flat, n, widths[w], eols[el]);
					assert_int_equal(tl_canary_scan_buf("wrapped near miss", buf, m), 0);
				}
	print_message("split secrets: %zu wrapped texts, %zu with every needle cut by a line break, all found\n",
		      cases, split);
	assert_true(split > 2 * cases / 3);
	assert_true(tl_canary_hits() >= cases);

	/* A PEM-like file: found when it holds K, nothing when it does not. */
	char dir[] = "/tmp/omc-canary-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/key.pem", dir);
	char flat[160], buf[400];
	size_t n = text(flat, sizeof flat, T_B64_PAD, 40, 8, K);
	int h = snprintf(buf, sizeof buf, "-----BEGIN X-----\r\n");
	size_t m = wrap(buf + h, sizeof buf - (size_t)h, flat, n, 64, "\r\n");
	snprintf(buf + (size_t)h + m, sizeof buf - (size_t)h - m, "-----END X-----\r\n");
	assert_false(contiguous(buf, strlen(buf), K));
	write_file(path, buf, strlen(buf));
	size_t before = tl_canary_hits();
	assert_true(tl_canary_scan_file(path) >= 1);
	n = text(flat, sizeof flat, T_B64_PAD, 40, 8, k2);
	m = wrap(buf + h, sizeof buf - (size_t)h, flat, n, 64, "\r\n");
	write_file(path, buf, (size_t)h + m);
	size_t mid = tl_canary_hits();
	assert_true(mid > before);
	assert_int_equal(tl_canary_scan_file(path), 0);
	assert_int_equal(tl_canary_hits(), mid);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* Several secrets: each is named, the hits add up. */
static void several_secrets(void **state)
{
	(void)state;
	uint8_t topc[32];
	for (size_t i = 0; i < sizeof topc; i++)
		topc[i] = (uint8_t)(0xa0 ^ (i * 13));
	tl_canary_reset();
	tl_canary_add("K", K, sizeof K);
	tl_canary_add("TOPc", topc, sizeof topc);
	char hk[40], ht[70], both[120];
	assert_int_equal(omc_hex_encode(hk, sizeof hk, K, sizeof K), OMC_OK);
	assert_int_equal(omc_hex_encode(ht, sizeof ht, topc, sizeof topc), OMC_OK);
	int n = snprintf(both, sizeof both, "{\"k\":\"%s\",\"topc\":\"%s\"}", hk, ht);
	assert_int_equal(tl_canary_scan_buf("json", both, (size_t)n), 2);
	assert_int_equal(tl_canary_hits(), 2);
	assert_true(tl_canary_bytes() == (uint64_t)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_encoding_every_offset),
		cmocka_unit_test(near_miss_is_no_hit),
		cmocka_unit_test(files_and_trees),
		cmocka_unit_test(split_across_lines),
		cmocka_unit_test(several_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
