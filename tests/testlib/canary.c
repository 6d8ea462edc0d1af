/* The secret canary scanner (see canary.h). */
#include "canary.h"

#include "testlib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto/proto_internal.h"
#include "util/util_internal.h"

/* Needles per secret: raw, hex twice, base64 std and url at three
 * alignments each. */
#define NEEDLES (3 + 2 * 3)
#define NEEDLE_MAX (2 * TL_CANARY_SECRET_MAX + 8)

typedef struct needle {
	char s[NEEDLE_MAX];
	size_t len;
	tl_canary_enc enc;
	unsigned align;
} needle;

typedef struct planted {
	char name[32];
	needle n[NEEDLES];
} planted;

static planted secrets[TL_CANARY_MAX];
static size_t n_secrets;
static size_t hits, scans;
static uint64_t bytes;

static const char *const enc_names[TL_ENC_COUNT] = {
	[TL_ENC_RAW] = "raw",
	[TL_ENC_HEX_LOWER] = "hex",
	[TL_ENC_HEX_UPPER] = "HEX",
	[TL_ENC_B64_STD] = "base64",
	[TL_ENC_B64_URL] = "base64url",
};

static size_t b64(char *out, const uint8_t *p, size_t n, bool url)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (left > 1)
			out[o++] = a[(v >> 6) & 63];
		if (left > 2)
			out[o++] = a[v & 63];
	}
	return o; /* unpadded */
}

size_t tl_canary_encode(char *out, size_t cap, const uint8_t *secret, size_t len, tl_canary_enc enc,
			unsigned align)
{
	assert_true(len <= TL_CANARY_SECRET_MAX && cap >= NEEDLE_MAX && align < 3);
	switch (enc) {
	case TL_ENC_RAW:
		memcpy(out, secret, len);
		out[len] = 0;
		return len;
	case TL_ENC_HEX_LOWER:
	case TL_ENC_HEX_UPPER: {
		const char *d = enc == TL_ENC_HEX_LOWER ? "0123456789abcdef" : "0123456789ABCDEF";
		for (size_t i = 0; i < len; i++) {
			out[2 * i] = d[secret[i] >> 4];
			out[2 * i + 1] = d[secret[i] & 15];
		}
		out[2 * len] = 0;
		return 2 * len;
	}
	case TL_ENC_B64_STD:
	case TL_ENC_B64_URL: {
		/* The secret after `align` bytes of unknown data: the
		 * characters that mix unknown bits are dropped at both ends
		 * (align 1: two, align 2: three; a trailing partial group of
		 * r bytes keeps r characters). */
		uint8_t z[TL_CANARY_SECRET_MAX + 2] = {0};
		memcpy(z + align, secret, len);
		size_t total = align + len;
		char full[NEEDLE_MAX + 8];
		(void)b64(full, z, total, enc == TL_ENC_B64_URL);
		size_t skip = align == 0 ? 0 : align + 1;
		size_t end = 4 * (total / 3) + total % 3;
		size_t n = end - skip;
		memcpy(out, full + skip, n);
		out[n] = 0;
		return n;
	}
	default:
		fail_msg("tl_canary_encode: encoding %d", (int)enc);
	}
	return 0;
}

void tl_canary_add(const char *name, const uint8_t *p, size_t len)
{
	if (n_secrets == TL_CANARY_MAX || len < 8 || len > TL_CANARY_SECRET_MAX)
		fail_msg("tl_canary_add %s: full or bad length %zu", name, len);
	planted *s = &secrets[n_secrets++];
	snprintf(s->name, sizeof s->name, "%s", name);
	size_t k = 0;
	for (int e = TL_ENC_RAW; e < TL_ENC_COUNT; e++) {
		unsigned aligns = e == TL_ENC_B64_STD || e == TL_ENC_B64_URL ? 3 : 1;
		for (unsigned a = 0; a < aligns; a++, k++) {
			s->n[k].enc = (tl_canary_enc)e;
			s->n[k].align = a;
			s->n[k].len = tl_canary_encode(s->n[k].s, sizeof s->n[k].s, p, len, (tl_canary_enc)e, a);
		}
	}
	assert_int_equal(k, NEEDLES);
}

void tl_canary_reset(void)
{
	memset(secrets, 0, sizeof secrets);
	n_secrets = 0;
	__atomic_store_n(&hits, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&scans, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bytes, 0, __ATOMIC_SEQ_CST);
}

/* The text with every '\n' and '\r' left out (PEM and other wrapped text
 * joined again), in one pass: a new buffer of *jl bytes for free(), or
 * NULL when the text has no line break. */
static uint8_t *joined(const uint8_t *p, size_t n, size_t *jl)
{
	if (!n || (!memchr(p, '\n', n) && !memchr(p, '\r', n)))
		return NULL;
	uint8_t *j = malloc(n);
	assert_non_null(j);
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\n' && p[i] != '\r')
			j[o++] = p[i];
	*jl = o;
	return j;
}

size_t tl_canary_scan_buf(const char *where, const void *p, size_t n)
{
	size_t found = 0, jl = 0;
	__atomic_fetch_add(&scans, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&bytes, (uint64_t)n, __ATOMIC_RELAXED);
	/* The hex and base64 needles also against the text with its line
	 * breaks left out, where they are not found as they are: a secret
	 * split across the lines of a PEM block or of wrapped text. Raw bytes
	 * may hold 0x0a or 0x0d themselves, so the raw needle is not. */
	uint8_t *j = joined(p, n, &jl);
	for (size_t i = 0; i < n_secrets; i++)
		for (size_t k = 0; k < NEEDLES; k++) {
			const needle *nd = &secrets[i].n[k];
			const uint8_t *at = n ? memmem(p, n, nd->s, nd->len) : NULL;
			const char *how = "";
			size_t off = at ? (size_t)(at - (const uint8_t *)p) : 0;
			if (!at && j && nd->enc != TL_ENC_RAW && (at = memmem(j, jl, nd->s, nd->len)) != NULL) {
				how = " of the text with its line breaks left out";
				off = (size_t)(at - j);
			}
			if (!at)
				continue;
			found++;
			fprintf(stderr, "canary: %s in %s as %s (alignment %u) at offset %zu%s\n", secrets[i].name,
				where, enc_names[nd->enc], nd->align, off, how);
		}
	free(j);
	__atomic_fetch_add(&hits, found, __ATOMIC_RELAXED);
	return found;
}

size_t tl_canary_scan_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("canary: cannot read %s", path);
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	assert_non_null(b);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			uint8_t *nb = realloc(b, cap);
			assert_non_null(nb);
			b = nb;
		}
		size_t r = fread(b + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	size_t found = tl_canary_scan_buf(path, b, len);
	free(b);
	return found;
}

size_t tl_canary_scan_tree(const char *dir, size_t *files)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("canary: cannot open %s", dir);
	size_t found = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char path[1024];
		assert_true(snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue; /* gone meanwhile (a -shm file) */
		if (S_ISDIR(st.st_mode))
			found += tl_canary_scan_tree(path, files);
		else if (S_ISREG(st.st_mode)) {
			found += tl_canary_scan_file(path);
			if (files)
				++*files;
		}
	}
	closedir(d);
	return found;
}

size_t tl_canary_hits(void)
{
	return __atomic_load_n(&hits, __ATOMIC_SEQ_CST);
}

size_t tl_canary_scans(void)
{
	return __atomic_load_n(&scans, __ATOMIC_SEQ_CST);
}

uint64_t tl_canary_bytes(void)
{
	return __atomic_load_n(&bytes, __ATOMIC_SEQ_CST);
}

size_t tl_canary_add_pki(const char *pki, size_t *control_hits)
{
	DIR *dir = opendir(pki);
	assert_non_null(dir);
	struct dirent *de;
	size_t keys = 0;
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name);
		char name[64];
		if (n < 5 || n - 4 >= sizeof name || strcmp(de->d_name + n - 4, ".key") != 0)
			continue;
		memcpy(name, de->d_name, n - 4);
		name[n - 4] = 0;
		omc_key *k = NULL;
		if (omc_pki_load(pki, name, &k, NULL) != OMC_OK)
			continue; /* not a signing key of the PKI's */
		BIGNUM *bn = NULL;
		assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
		uint8_t d[32];
		assert_int_equal(BN_bn2binpad(bn, d, 32), 32);
		BN_clear_free(bn);
		char what[80];
		snprintf(what, sizeof what, "private key of %s", name);
		tl_canary_add(what, d, 32);
		omc_memzero(d, sizeof d);
		/* The control: the key written as plain DER is found. */
		unsigned char *der = NULL;
		int dl = i2d_PrivateKey(k->pkey, &der);
		assert_true(dl > 0);
		size_t h = tl_canary_scan_buf("(control) the key as plain DER", der, (size_t)dl);
		OPENSSL_clear_free(der, (size_t)dl);
		omc_key_free(k);
		if (h == 0)
			fail_msg("the scalar of %s is not found in its DER", name);
		*control_hits += h;
		keys++;
	}
	closedir(dir);
	char path[256];
	snprintf(path, sizeof path, "%s/pki.secret", pki);
	uint8_t *sec = NULL;
	size_t sl = 0;
	assert_int_equal(omc_read_file(path, &sec, &sl, 64), OMC_OK);
	assert_int_equal(sl, 32);
	tl_canary_add("the PKI's key passphrase", sec, sl);
	omc_free(sec);
	return keys;
}
