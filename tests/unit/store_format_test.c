/* The store's on-disk format against docs/store.md: known answers for the
 * key derivation (cross-checked with Python's `cryptography`) and AES-GCM
 * (McGrew-Viega test case 14), the byte layout of root, object and ARD
 * records decoded independently of the store, and the strict root parser:
 * every malformed table, header or file shape is an invalid root.
 * covers: SEC-2, SEC-12, TRE-2 */
#include <openssl/hmac.h>

#include "testlib.h"
#include "openmcim/store.h"
#include "store/store_internal.h"

/* root_key = 00 01 .. 1f */
static void seq_key(uint8_t k[32])
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
}

/* --- known answers ------------------------------------------------------------ */

static void test_kdf_kat(void **state)
{
	(void)state;
	/* RFC 5869 A.3: SHA-256, IKM = 0x0b * 22, no salt, no info, L = 42. */
	uint8_t ikm[22], okm[42];
	memset(ikm, 0x0b, sizeof ikm);
	assert_err(omc_st_hkdf(okm, sizeof okm, ikm, sizeof ikm, NULL, 0), OMC_OK);
	tl_expect_hex(okm, sizeof okm,
		      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
		      "RFC 5869 A.3 OKM", 0);

	/* The store's two keys for root_key 00..1f, from
	 * cryptography.hazmat HKDF(SHA256, 32, salt=None, info=...). */
	uint8_t rk[32], k[32];
	seq_key(rk);
	assert_err(omc_st_derive(k, rk, OMC_ST_INFO_ROOT), OMC_OK);
	tl_expect_hex(k, 32, "c5a31b6a1dea75e4c92e9b296436b6050c33dac1d53adf9e52b7293b80d8a229", "K_root", 0);
	assert_err(omc_st_derive(k, rk, OMC_ST_INFO_ARB), OMC_OK);
	tl_expect_hex(k, 32, "1993359618a13b3c8f154688d23fcb1c91c1df11ba5efe09c4ff2d14a9791884", "K_arb", 0);

	assert_err(omc_st_hkdf(okm, 0, ikm, sizeof ikm, NULL, 0), OMC_ERR_BAD_ARG);
	assert_err(omc_st_hkdf(okm, sizeof okm, ikm, 0, NULL, 0), OMC_ERR_BAD_ARG);
}

static void test_gcm_kat(void **state)
{
	(void)state;
	/* GCM spec (McGrew, Viega) test case 14: K = 0^256, IV = 0^96, P = 0^128. */
	const uint8_t key[32] = {0}, nonce[12] = {0}, pt[16] = {0};
	uint8_t ct[16], tag[16], back[16];
	assert_err(omc_st_gcm_seal(ct, tag, key, nonce, NULL, 0, pt, sizeof pt), OMC_OK);
	tl_expect_hex(ct, 16, "cea7403d4d606b6e074ec5d3baf39d18", "GCM TC14 C", 0);
	tl_expect_hex(tag, 16, "d0d1c8a799996bf0265b98b5d48ab919", "GCM TC14 T", 0);
	assert_err(omc_st_gcm_open(back, key, nonce, NULL, 0, ct, sizeof ct, tag), OMC_OK);
	assert_memory_equal(back, pt, 16);
	/* A wrong tag, AAD or ciphertext bit: refused, and nothing released. */
	for (size_t bit = 0; bit < 8 * 16; bit += 13) {
		uint8_t t2[16];
		memcpy(t2, tag, 16);
		t2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(back, 0xee, sizeof back);
		assert_err(omc_st_gcm_open(back, key, nonce, NULL, 0, ct, sizeof ct, t2), OMC_ERR_MAC_FAILURE);
		assert_true(tl_all_bytes_are(back, sizeof back, 0));
	}
	const uint8_t aad[1] = {0};
	assert_err(omc_st_gcm_open(back, key, nonce, aad, 1, ct, sizeof ct, tag), OMC_ERR_MAC_FAILURE);
	/* In place. */
	uint8_t buf[16] = {0};
	assert_err(omc_st_gcm_seal(buf, tag, key, nonce, NULL, 0, buf, sizeof buf), OMC_OK);
	assert_memory_equal(buf, ct, 16);
}

/* --- the layout, decoded here independently -------------------------------------- */

typedef struct mem_env {
	omc_memfs *fs;
	omc_store_io *io;
	omc_store_ard *ard;
	omc_store *s;
} mem_env;

static void mem_env_new(mem_env *e, const uint8_t key[32])
{
	memset(e, 0, sizeof *e);
	assert_err(omc_memfs_new(&e->fs), OMC_OK);
	assert_err(omc_store_io_mem_new(&e->io, e->fs, ""), OMC_OK);
	assert_err(omc_store_ard_sw_new(&e->ard, e->io, key, true), OMC_OK);
	const omc_store_opts o = {.io = e->io, .ard = e->ard, .create = true};
	assert_err(omc_store_open(&e->s, key, &o), OMC_OK);
}

static void mem_env_free(mem_env *e)
{
	omc_store_close(e->s);
	omc_store_ard_sw_free(e->ard);
	omc_store_io_mem_free(e->io);
	omc_memfs_free(e->fs);
}

static uint8_t *raw(mem_env *e, const char *path, size_t *len)
{
	uint8_t *d = NULL;
	assert_err(omc_memfs_raw_get(e->fs, path, &d, len), OMC_OK);
	return d;
}

/* Decrypts a root file by hand: header fields, then the table plaintext. */
static uint8_t *open_root_by_hand(const uint8_t *f, size_t len, const uint8_t kroot[32], uint64_t *gen, size_t *tlen)
{
	assert_true(len >= 36 + 16);
	assert_memory_equal(f, "OMCROOT1", 8);
	assert_int_equal((f[8] << 8) | f[9], 1);  /* version */
	assert_int_equal((f[10] << 8) | f[11], 0); /* reserved */
	*gen = omc_load_be64(&f[12]);
	*tlen = ((size_t)f[20] << 24) | ((size_t)f[21] << 16) | ((size_t)f[22] << 8) | f[23];
	assert_true(36 + *tlen + 16 <= len);
	for (size_t i = 36 + *tlen + 16; i < len; i++)
		assert_int_equal(f[i], 0); /* the zeroed tail */
	uint8_t *t = malloc(*tlen);
	assert_non_null(t);
	assert_err(omc_st_gcm_open(t, kroot, &f[24], f, 36, &f[36], *tlen, &f[36 + *tlen]), OMC_OK);
	return t;
}

static void test_root_and_record_layout(void **state)
{
	(void)state;
	uint8_t rk[32], kroot[32];
	seq_key(rk);
	assert_err(omc_st_derive(kroot, rk, OMC_ST_INFO_ROOT), OMC_OK);
	mem_env e;
	mem_env_new(&e, rk);

	/* Generation 1: an empty table (count 0) in root.a; objs.a empty. */
	size_t len, tlen, olen;
	uint64_t gen;
	uint8_t *f = raw(&e, "root.a", &len);
	assert_int_equal(len, 36 + 4 + 16);
	uint8_t *t = open_root_by_hand(f, len, kroot, &gen, &tlen);
	assert_int_equal(gen, 1);
	assert_int_equal(tlen, 4);
	assert_true(tl_all_bytes_are(t, 4, 0));
	free(t);
	omc_free(f);
	f = raw(&e, "objs.a", &olen);
	assert_int_equal(olen, 0);
	omc_free(f);

	/* Generation 2 in slot b: "obj" = "hello", "a" = "" (sorted: a, obj). */
	const omc_store_op ops[] = {
		{.id = "obj", .data = (const uint8_t *)"hello", .len = 5},
		{.id = "a", .data = NULL, .len = 0},
	};
	assert_err(omc_store_commit(e.s, ops, 2, 0), OMC_OK);
	f = raw(&e, "root.b", &len);
	t = open_root_by_hand(f, len, kroot, &gen, &tlen);
	assert_int_equal(gen, 2);
	assert_int_equal(tlen, 4 + (1 + 1 + 32 + 8 + 4 + 32) + (1 + 3 + 32 + 8 + 4 + 32));
	assert_int_equal(len, 36 + tlen + 16);
	uint8_t *objs = raw(&e, "objs.b", &olen);
	assert_int_equal(olen, (0 + 28) + (5 + 28));

	omc_cur c;
	omc_cur_init_read(&c, t, tlen);
	uint32_t count;
	assert_err(omc_cur_read_u32(&c, &count), OMC_OK);
	assert_int_equal(count, 2);
	const char *want_id[] = {"a", "obj"};
	const char *want_pt[] = {"", "hello"};
	uint64_t next = 0;
	for (int i = 0; i < 2; i++) {
		uint8_t id_len, fek[32], digest[32], d[32];
		char id[65] = {0};
		uint64_t off;
		uint32_t rlen;
		assert_err(omc_cur_read_u8(&c, &id_len), OMC_OK);
		assert_err(omc_cur_read(&c, (uint8_t *)id, id_len), OMC_OK);
		assert_err(omc_cur_read(&c, fek, 32), OMC_OK);
		assert_err(omc_cur_read_u64(&c, &off), OMC_OK);
		assert_err(omc_cur_read_u32(&c, &rlen), OMC_OK);
		assert_err(omc_cur_read(&c, digest, 32), OMC_OK);
		assert_string_equal(id, want_id[i]);
		assert_int_equal(off, next);
		assert_int_equal(rlen, strlen(want_pt[i]) + 28);
		next += rlen;
		/* digest = SHA-256 of the record; record = nonce | ct | tag. */
		assert_err(omc_st_sha256(d, &objs[off], rlen), OMC_OK);
		assert_memory_equal(d, digest, 32);
		uint8_t aad[16 + 64], pt[64];
		memcpy(aad, "omc/store/v1/obj", 16);
		memcpy(&aad[16], id, id_len);
		assert_err(omc_st_gcm_open(pt, fek, &objs[off], aad, 16 + (size_t)id_len, &objs[off + 12], rlen - 28,
					   &objs[off + rlen - 16]),
			   OMC_OK);
		assert_memory_equal(pt, want_pt[i], rlen - 28);
	}
	assert_err(omc_cur_expect_end(&c), OMC_OK);
	free(t);
	omc_free(f);
	omc_free(objs);

	/* A shorter state into a slot that held a longer one: zeros behind it. */
	assert_err(omc_store_commit(e.s, ops, 2, 0), OMC_OK); /* g3 -> a */
	const omc_store_op del = {.id = "obj", .del = true};
	assert_err(omc_store_commit(e.s, &del, 1, 0), OMC_OK); /* g4 -> b */
	f = raw(&e, "root.b", &len);
	t = open_root_by_hand(f, len, kroot, &gen, &tlen);
	assert_int_equal(gen, 4);
	assert_true(len > 36 + tlen + 16);
	objs = raw(&e, "objs.b", &olen);
	assert_int_equal(olen, 61);
	assert_true(tl_all_bytes_are(&objs[28], olen - 28, 0));
	free(t);
	omc_free(f);
	omc_free(objs);
	mem_env_free(&e);
}

static void check_arb(const uint8_t *f, size_t len, const uint8_t karb[32], uint64_t gen, uint64_t counter,
		      uint32_t flags)
{
	assert_int_equal(len, 64);
	assert_memory_equal(f, "OMCARB01", 8);
	assert_int_equal((f[8] << 8) | f[9], 1);
	assert_int_equal((f[10] << 8) | f[11], 0);
	assert_int_equal(omc_load_be64(&f[12]), gen);
	assert_int_equal(omc_load_be64(&f[20]), counter);
	assert_int_equal(((uint32_t)f[28] << 24) | ((uint32_t)f[29] << 16) | ((uint32_t)f[30] << 8) | f[31], flags);
	uint8_t mac[32];
	unsigned n = 0;
	assert_non_null(HMAC(EVP_sha256(), karb, 32, f, 32, mac, &n));
	assert_memory_equal(mac, &f[32], 32);
}

static void test_arb_layout(void **state)
{
	(void)state;
	uint8_t rk[32], karb[32];
	seq_key(rk);
	assert_err(omc_st_derive(karb, rk, OMC_ST_INFO_ARB), OMC_OK);
	mem_env e;
	mem_env_new(&e, rk);
	/* Created: arb.a gen 1 counter 0; format: arb.b gen 2 counter 1. */
	size_t len;
	uint8_t *f = raw(&e, "arb.a", &len);
	check_arb(f, len, karb, 1, 0, 0);
	omc_free(f);
	f = raw(&e, "arb.b", &len);
	check_arb(f, len, karb, 2, 1, 0);
	omc_free(f);
	/* Flags: sticky, written A/B like the counter. */
	assert_err(e.ard->set_flags(e.ard->ctx, OMC_STORE_FLAG_LOCKDOWN), OMC_OK);
	f = raw(&e, "arb.a", &len);
	check_arb(f, len, karb, 3, 1, 1);
	omc_free(f);
	assert_err(e.ard->set_flags(e.ard->ctx, OMC_STORE_FLAG_LOCKDOWN), OMC_OK); /* no change, no write */
	f = raw(&e, "arb.b", &len);
	check_arb(f, len, karb, 2, 1, 0);
	omc_free(f);
	assert_err(e.ard->advance(e.ard->ctx, 5), OMC_OK);
	f = raw(&e, "arb.b", &len);
	check_arb(f, len, karb, 4, 5, 1);
	omc_free(f);
	assert_err(e.ard->advance(e.ard->ctx, 5), OMC_ERR_BAD_ARG);
	assert_err(e.ard->advance(e.ard->ctx, 4), OMC_ERR_BAD_ARG);
	assert_err(e.ard->clear_flags(e.ard->ctx, OMC_STORE_FLAG_LOCKDOWN), OMC_OK);
	uint64_t c;
	uint32_t fl;
	assert_err(e.ard->read(e.ard->ctx, &c, &fl), OMC_OK);
	assert_int_equal(c, 5);
	assert_int_equal(fl, 0);
	mem_env_free(&e);
}

/* --- the strict root parser ---------------------------------------------------------- */

typedef struct root_spec {
	uint16_t version, reserved;
	uint64_t gen;
	int tlen_delta; /* header table_len minus the real one */
	size_t tail;    /* zero bytes after the tag */
	uint8_t tail_byte;
} root_spec;

/* Seals an arbitrary table plaintext into a root file per spec. */
static size_t seal_root(uint8_t *out, size_t cap, const uint8_t kroot[32], const root_spec *sp, const uint8_t *table,
			size_t tlen)
{
	omc_cur c;
	uint8_t nonce[12], tag[16];
	tl_rand(nonce, sizeof nonce);
	omc_cur_init_write(&c, out, cap);
	assert_err(omc_cur_write(&c, (const uint8_t *)"OMCROOT1", 8), OMC_OK);
	assert_err(omc_cur_write_u16(&c, sp->version), OMC_OK);
	assert_err(omc_cur_write_u16(&c, sp->reserved), OMC_OK);
	assert_err(omc_cur_write_u64(&c, sp->gen), OMC_OK);
	assert_err(omc_cur_write_u32(&c, (uint32_t)((int)tlen + sp->tlen_delta)), OMC_OK);
	assert_err(omc_cur_write(&c, nonce, 12), OMC_OK);
	uint8_t *ct = malloc(tlen + 1);
	assert_non_null(ct);
	assert_err(omc_st_gcm_seal(ct, tag, kroot, nonce, out, 36, table, tlen), OMC_OK);
	assert_err(omc_cur_write(&c, ct, tlen), OMC_OK);
	assert_err(omc_cur_write(&c, tag, 16), OMC_OK);
	free(ct);
	for (size_t i = 0; i < sp->tail; i++)
		assert_err(omc_cur_write_u8(&c, i + 1 == sp->tail ? sp->tail_byte : 0), OMC_OK);
	return c.wpos;
}

typedef struct tent {
	const char *id;
	int id_len; /* -1: strlen */
	uint64_t off;
	uint32_t len;
} tent;

static size_t make_table(uint8_t *out, size_t cap, int count, const tent *e, size_t n, size_t trailing)
{
	omc_cur c;
	uint8_t zeros[32] = {0};
	omc_cur_init_write(&c, out, cap);
	assert_err(omc_cur_write_u32(&c, (uint32_t)(count < 0 ? (int)n : count)), OMC_OK);
	for (size_t i = 0; i < n; i++) {
		const size_t l = e[i].id_len < 0 ? strlen(e[i].id) : (size_t)e[i].id_len;
		assert_err(omc_cur_write_u8(&c, (uint8_t)l), OMC_OK);
		assert_err(omc_cur_write(&c, (const uint8_t *)e[i].id, l), OMC_OK);
		assert_err(omc_cur_write(&c, zeros, 32), OMC_OK);
		assert_err(omc_cur_write_u64(&c, e[i].off), OMC_OK);
		assert_err(omc_cur_write_u32(&c, e[i].len), OMC_OK);
		assert_err(omc_cur_write(&c, zeros, 32), OMC_OK);
	}
	for (size_t i = 0; i < trailing; i++)
		assert_err(omc_cur_write_u8(&c, 0), OMC_OK);
	return c.wpos;
}

static omc_err decode(const uint8_t kroot[32], const uint8_t *f, size_t len, uint64_t objs_len)
{
	omc_st_entry *e = NULL;
	size_t n = 99;
	uint64_t gen = 0;
	const omc_err err = omc_st_root_decode(&e, &n, &gen, kroot, f, len, objs_len);
	omc_free(e);
	return err;
}

static void test_root_strict(void **state)
{
	(void)state;
	uint8_t kroot[32], other[32];
	tl_rand(kroot, 32);
	tl_rand(other, 32);
	static uint8_t table[8192], file[8192 + 256];
	const root_spec ok = {.version = 1, .reserved = 0, .gen = 7};
#define X16 "xxxxxxxxxxxxxxxx"
#define ID64 X16 X16 X16 X16
	const struct {
		const char *name;
		int count;
		tent e[3];
		size_t n;
		size_t trailing;
		uint64_t objs_len;
		omc_err want;
	} tables[] = {
		{"empty", -1, {{0}}, 0, 0, 0, OMC_OK},
		{"one", -1, {{"a", -1, 0, 28}}, 1, 0, 28, OMC_OK},
		{"two back to back", -1, {{"a", -1, 0, 28}, {"b", -1, 28, 30}}, 2, 0, 58, OMC_OK},
		{"objs longer than records", -1, {{"a", -1, 0, 28}}, 1, 0, 1000, OMC_OK},
		{"trailing byte", -1, {{"a", -1, 0, 28}}, 1, 1, 28, OMC_ERR_CORRUPT},
		{"count too high", 2, {{"a", -1, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"count too low", 0, {{"a", -1, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"count past the maximum", 1025, {{0}}, 0, 0, 0, OMC_ERR_CORRUPT},
		{"id length 0", -1, {{"", 0, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"id length 65", -1, {{ID64 "x", -1, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"id length 64", -1, {{ID64, -1, 0, 28}}, 1, 0, 28, OMC_OK},
		{"bad id byte", -1, {{"a b", -1, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"NUL in id", -1, {{"a\0b", 3, 0, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"unsorted", -1, {{"b", -1, 0, 28}, {"a", -1, 28, 28}}, 2, 0, 56, OMC_ERR_CORRUPT},
		{"duplicate", -1, {{"a", -1, 0, 28}, {"a", -1, 28, 28}}, 2, 0, 56, OMC_ERR_CORRUPT},
		{"prefix sorts first", -1, {{"ab", -1, 0, 28}, {"a", -1, 28, 28}}, 2, 0, 56, OMC_ERR_CORRUPT},
		{"record too short", -1, {{"a", -1, 0, 27}}, 1, 0, 28, OMC_ERR_CORRUPT},
		{"record too long", -1, {{"a", -1, 0, 256 * 1024 + 29}}, 1, 0, 1 << 20, OMC_ERR_CORRUPT},
		{"record at the limit", -1, {{"a", -1, 0, 256 * 1024 + 28}}, 1, 0, 1 << 20, OMC_OK},
		{"gap at the start", -1, {{"a", -1, 1, 28}}, 1, 0, 29, OMC_ERR_CORRUPT},
		{"gap between", -1, {{"a", -1, 0, 28}, {"b", -1, 29, 28}}, 2, 0, 57, OMC_ERR_CORRUPT},
		{"overlap", -1, {{"a", -1, 0, 28}, {"b", -1, 27, 28}}, 2, 0, 57, OMC_ERR_CORRUPT},
		{"past objs", -1, {{"a", -1, 0, 28}}, 1, 0, 27, OMC_ERR_CORRUPT},
		{"second past objs", -1, {{"a", -1, 0, 28}, {"b", -1, 28, 28}}, 2, 0, 55, OMC_ERR_CORRUPT},
		{"huge offset", -1, {{"a", -1, UINT64_MAX - 10, 28}}, 1, 0, 28, OMC_ERR_CORRUPT},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(tables); i++) {
		const size_t tl = make_table(table, sizeof table, tables[i].count, tables[i].e, tables[i].n,
					     tables[i].trailing);
		const size_t fl = seal_root(file, sizeof file, kroot, &ok, table, tl);
		const omc_err got = decode(kroot, file, fl, tables[i].objs_len);
		if (got != tables[i].want)
			fail_msg("table \"%s\": got %s, want %s", tables[i].name, omc_err_name(got),
				 omc_err_name(tables[i].want));
	}

	/* Header and file shape, around a valid one-entry table. */
	const tent one = {"a", -1, 0, 28};
	const size_t tl = make_table(table, sizeof table, -1, &one, 1, 0);
	static const struct {
		const char *name;
		root_spec sp;
		omc_err want;
	} shapes[] = {
		{"valid", {1, 0, 7, 0, 0, 0}, OMC_OK},
		{"zero tail", {1, 0, 7, 0, 300, 0}, OMC_OK},
		{"non-zero tail", {1, 0, 7, 0, 300, 1}, OMC_ERR_CORRUPT},
		{"one non-zero tail byte", {1, 0, 7, 0, 1, 0x80}, OMC_ERR_CORRUPT},
		{"version 0", {0, 0, 7, 0, 0, 0}, OMC_ERR_CORRUPT},
		{"version 2", {2, 0, 7, 0, 0, 0}, OMC_ERR_CORRUPT},
		{"reserved bits", {1, 1, 7, 0, 0, 0}, OMC_ERR_CORRUPT},
		{"generation 0", {1, 0, 0, 0, 0, 0}, OMC_ERR_CORRUPT},
		{"generation max", {1, 0, UINT64_MAX, 0, 0, 0}, OMC_ERR_CORRUPT},
		{"table_len short", {1, 0, 7, -1, 0, 0}, OMC_ERR_CORRUPT},
		{"table_len long", {1, 0, 7, 1, 0, 0}, OMC_ERR_CORRUPT},
		{"table_len long, tail absorbs", {1, 0, 7, 1, 20, 0}, OMC_ERR_CORRUPT},
	};
	for (size_t i = 0; i < OMC_ARRAY_LEN(shapes); i++) {
		const size_t fl = seal_root(file, sizeof file, kroot, &shapes[i].sp, table, tl);
		const omc_err got = decode(kroot, file, fl, 28);
		if (got != shapes[i].want)
			fail_msg("shape \"%s\": got %s, want %s", shapes[i].name, omc_err_name(got),
				 omc_err_name(shapes[i].want));
	}

	/* Every truncation, every single bit flip, bad magic, the wrong key. */
	const size_t fl = seal_root(file, sizeof file, kroot, &ok, table, tl);
	assert_err(decode(kroot, file, fl, 28), OMC_OK);
	for (size_t n = 0; n < fl; n++)
		assert_err(decode(kroot, file, n, 28), OMC_ERR_CORRUPT);
	for (size_t bit = 0; bit < 8 * fl; bit++) {
		file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_err(decode(kroot, file, fl, 28), OMC_ERR_CORRUPT);
		file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_err(decode(other, file, fl, 28), OMC_ERR_CORRUPT);
	assert_err(decode(kroot, NULL, 0, 28), OMC_ERR_CORRUPT);

	/* The encoder's own output decodes to what went in. */
	omc_st_entry in[2];
	memset(in, 0, sizeof in);
	strcpy(in[0].id, "m/1");
	in[0].id_len = 3;
	in[0].len = 40;
	strcpy(in[1].id, "m/2");
	in[1].id_len = 3;
	in[1].off = 40;
	in[1].len = 28;
	tl_rand(in[0].fek, 32);
	tl_rand(in[1].digest, 32);
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	assert_err(omc_st_root_encode(&enc, &enc_len, kroot, 9, in, 2), OMC_OK);
	omc_st_entry *out = NULL;
	size_t n = 0;
	uint64_t gen = 0;
	assert_err(omc_st_root_decode(&out, &n, &gen, kroot, enc, enc_len, 68), OMC_OK);
	assert_int_equal(n, 2);
	assert_int_equal(gen, 9);
	assert_memory_equal(out, in, sizeof in);
	assert_err(omc_st_root_decode(&out, &n, &gen, kroot, enc, enc_len, 67), OMC_ERR_CORRUPT);
	omc_free(out);
	omc_free(enc);
}

static void test_record_seal_open(void **state)
{
	(void)state;
	uint8_t pt[100], rec[128];
	tl_rand(pt, sizeof pt);
	omc_st_entry e;
	memset(&e, 0, sizeof e);
	strcpy(e.id, "obj");
	e.id_len = 3;
	e.len = sizeof pt + 28;
	assert_err(omc_st_record_seal(rec, &e, pt, sizeof pt), OMC_OK);
	uint8_t *out = NULL;
	size_t n = 0;
	assert_err(omc_st_record_open(&out, &n, &e, rec, e.len), OMC_OK);
	assert_int_equal(n, sizeof pt);
	assert_memory_equal(out, pt, n);
	omc_free(out);
	assert_err(omc_st_record_open(NULL, NULL, &e, rec, e.len), OMC_OK);
	/* Every byte of the record matters. */
	for (size_t i = 0; i < e.len; i++) {
		rec[i] ^= 0x01;
		out = NULL;
		assert_err(omc_st_record_open(&out, &n, &e, rec, e.len), OMC_ERR_CORRUPT);
		assert_null(out);
		rec[i] ^= 0x01;
	}
	/* The digest check comes first; with the digest fixed up, GCM still
	 * refuses a changed byte, and a record moved to another id. */
	rec[20] ^= 0x01;
	omc_st_entry fixed = e;
	assert_err(omc_st_sha256(fixed.digest, rec, e.len), OMC_OK);
	assert_err(omc_st_record_open(&out, &n, &fixed, rec, e.len), OMC_ERR_CORRUPT);
	rec[20] ^= 0x01;
	omc_st_entry moved = e;
	strcpy(moved.id, "obk");
	assert_err(omc_st_record_open(&out, &n, &moved, rec, e.len), OMC_ERR_CORRUPT);
	/* A record that GCM accepts but the root did not name (sealed here under
	 * the same FEK and id, as a replayed older version would be if FEKs were
	 * ever reused): the digest refuses it. */
	uint8_t other[128], nonce[12], aad[19];
	tl_rand(nonce, sizeof nonce);
	memcpy(aad, "omc/store/v1/obj", 16);
	memcpy(&aad[16], "obj", 3);
	omc_cur c;
	omc_cur_init_write(&c, other, e.len);
	assert_err(omc_cur_write(&c, nonce, 12), OMC_OK);
	uint8_t ct[100], tag[16];
	assert_err(omc_st_gcm_seal(ct, tag, e.fek, nonce, aad, sizeof aad, pt, sizeof pt), OMC_OK);
	assert_err(omc_cur_write(&c, ct, sizeof ct), OMC_OK);
	assert_err(omc_cur_write(&c, tag, 16), OMC_OK);
	omc_st_entry same = e;
	assert_err(omc_st_sha256(same.digest, other, e.len), OMC_OK);
	assert_err(omc_st_record_open(&out, &n, &same, other, e.len), OMC_OK); /* authentic ... */
	omc_free(out);
	assert_err(omc_st_record_open(&out, &n, &e, other, e.len), OMC_ERR_CORRUPT); /* ... but not this one */
	/* Out of range. */
	assert_err(omc_st_record_open(&out, &n, &e, rec, e.len - 1), OMC_ERR_CORRUPT);
	e.off = 1;
	assert_err(omc_st_record_open(&out, &n, &e, rec, e.len), OMC_ERR_CORRUPT);
	e.off = UINT64_MAX;
	assert_err(omc_st_record_open(&out, &n, &e, rec, e.len), OMC_ERR_CORRUPT);
}

int main(void)
{
	omc_log_set_level(OMC_LOG_LEVEL_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kdf_kat),
		cmocka_unit_test(test_gcm_kat),
		cmocka_unit_test(test_root_and_record_layout),
		cmocka_unit_test(test_arb_layout),
		cmocka_unit_test(test_root_strict),
		cmocka_unit_test(test_record_seal_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
