/* Object ids and the root record (docs/store.md "Root record").
 *
 *   root.X = header | AES-256-GCM(K_root, nonce, AAD = header, table) | tag
 *            | zero bytes (the tail of an older, longer record)
 *   header = "OMCROOT1" | version u16 = 1 | reserved u16 = 0 |
 *            generation u64 | table_len u32 | nonce(12)
 *   table  = count u32 | count * entry, sorted by id, no duplicates
 *   entry  = id_len u8 | id | fek(32) | off u64 | len u32 | digest(32)
 *
 * The parser is strict: one encoding per table, so anything it accepts the
 * encoder would have written byte for byte. */
#include <string.h>

#include "store/store_internal.h"

bool omc_st_id_valid(const char *id, size_t *len)
{
	if (id == NULL)
		return false;
	size_t n = 0;
	for (; id[n] != '\0'; n++) {
		if (n >= OMC_STORE_ID_MAX)
			return false;
		const char ch = id[n];
		const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
				ch == '.' || ch == '_' || ch == '/' || ch == '-';
		if (!ok)
			return false;
	}
	if (len)
		*len = n;
	return n >= 1;
}

int omc_st_id_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
	const size_t m = a_len < b_len ? a_len : b_len;
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

size_t omc_st_find(const omc_st_entry *e, size_t n, const char *id, size_t id_len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		const size_t mid = lo + (hi - lo) / 2;
		const int c = omc_st_id_cmp(e[mid].id, e[mid].id_len, id, id_len);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

static size_t table_len(const omc_st_entry *e, size_t n)
{
	size_t len = 4;
	for (size_t i = 0; i < n; i++)
		len += OMC_ST_ENTRY_FIXED + e[i].id_len;
	return len;
}

static omc_err encode_header(omc_cur *c, uint64_t gen, uint32_t tlen, const uint8_t nonce[OMC_ST_NONCE_LEN])
{
	OMC_TRY(omc_cur_write(c, (const uint8_t *)OMC_ST_ROOT_MAGIC, OMC_ST_MAGIC_LEN));
	OMC_TRY(omc_cur_write_u16(c, OMC_ST_ROOT_VERSION));
	OMC_TRY(omc_cur_write_u16(c, 0));
	OMC_TRY(omc_cur_write_u64(c, gen));
	OMC_TRY(omc_cur_write_u32(c, tlen));
	OMC_TRY(omc_cur_write(c, nonce, OMC_ST_NONCE_LEN));
	return OMC_OK;
}

static omc_err encode_table(omc_cur *c, const omc_st_entry *e, size_t n)
{
	OMC_ENSURE(n <= OMC_STORE_MAX_OBJECTS, OMC_ERR_TOO_LARGE);
	OMC_TRY(omc_cur_write_u32(c, (uint32_t)n));
	for (size_t i = 0; i < n; i++) {
		OMC_TRY(omc_cur_write_u8(c, e[i].id_len));
		OMC_TRY(omc_cur_write(c, (const uint8_t *)e[i].id, e[i].id_len));
		OMC_TRY(omc_cur_write(c, e[i].fek, OMC_ST_KEY_LEN));
		OMC_TRY(omc_cur_write_u64(c, e[i].off));
		OMC_TRY(omc_cur_write_u32(c, e[i].len));
		OMC_TRY(omc_cur_write(c, e[i].digest, OMC_ST_DIGEST_LEN));
	}
	return OMC_OK;
}

static omc_err root_encode_into(uint8_t *out, size_t out_len, uint8_t *table, size_t tlen, const uint8_t *k_root,
				uint64_t gen, const omc_st_entry *e, size_t n)
{
	omc_cur c;
	omc_cur_init_write(&c, table, tlen);
	OMC_TRY(encode_table(&c, e, n));
	OMC_ASSERT(omc_cur_space(&c) == 0);

	uint8_t nonce[OMC_ST_NONCE_LEN];
	OMC_TRY(omc_rand_bytes(nonce, sizeof nonce));
	omc_cur_init_write(&c, out, out_len);
	OMC_TRY(encode_header(&c, gen, (uint32_t)tlen, nonce));
	/* AAD = the header just written; the table is sealed in place. */
	uint8_t tag[OMC_ST_TAG_LEN];
	OMC_TRY(omc_st_gcm_seal(table, tag, k_root, nonce, out, OMC_ST_ROOT_HDR_LEN, table, tlen));
	OMC_TRY(omc_cur_write(&c, table, tlen));
	OMC_TRY(omc_cur_write(&c, tag, sizeof tag));
	OMC_ASSERT(omc_cur_space(&c) == 0);
	return OMC_OK;
}

omc_err omc_st_root_encode(uint8_t **out, size_t *out_len, const uint8_t k_root[OMC_ST_KEY_LEN], uint64_t gen,
			   const omc_st_entry *e, size_t n)
{
	const size_t tlen = table_len(e, n);
	OMC_ENSURE(tlen <= OMC_ST_TABLE_MAX, OMC_ERR_TOO_LARGE);
	const size_t len = OMC_ST_ROOT_HDR_LEN + tlen + OMC_ST_TAG_LEN;
	uint8_t *table = omc_alloc(tlen);
	OMC_ENSURE(table != NULL, OMC_ERR_NOMEM);
	uint8_t *buf = omc_alloc(len);
	if (buf == NULL) {
		omc_free(table);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	omc_err err = root_encode_into(buf, len, table, tlen, k_root, gen, e, n);
	omc_free(table); /* the FEKs in clear: wiped by omc_free */
	if (err != OMC_OK) {
		omc_free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return OMC_OK;
}

/* Table entries, strictly: valid sorted unique ids, records of a possible
 * size laid out back to back from offset 0 and inside objs.X, nothing after
 * the last entry. */
static omc_err parse_table(omc_st_entry *e, size_t count, omc_cur *c, uint64_t objs_len)
{
	uint64_t next_off = 0;
	for (size_t i = 0; i < count; i++) {
		omc_st_entry *x = &e[i];
		uint8_t id_len;
		const uint8_t *id;
		size_t chk;
		OMC_TRY(omc_cur_read_u8(c, &id_len));
		OMC_ENSURE(id_len >= 1 && id_len <= OMC_STORE_ID_MAX, OMC_ERR_CORRUPT);
		OMC_TRY(omc_cur_read_ptr(c, &id, id_len));
		memcpy(x->id, id, id_len);
		x->id[id_len] = '\0';
		x->id_len = id_len;
		/* An embedded NUL shows up as a shorter valid id. */
		OMC_ENSURE(omc_st_id_valid(x->id, &chk) && chk == id_len, OMC_ERR_CORRUPT);
		OMC_ENSURE(i == 0 || omc_st_id_cmp(e[i - 1].id, e[i - 1].id_len, x->id, x->id_len) < 0,
			   OMC_ERR_CORRUPT);
		OMC_TRY(omc_cur_read(c, x->fek, OMC_ST_KEY_LEN));
		OMC_TRY(omc_cur_read_u64(c, &x->off));
		OMC_TRY(omc_cur_read_u32(c, &x->len));
		OMC_TRY(omc_cur_read(c, x->digest, OMC_ST_DIGEST_LEN));
		OMC_ENSURE(x->len >= OMC_ST_REC_OVERHEAD && x->len <= OMC_ST_REC_MAX, OMC_ERR_CORRUPT);
		OMC_ENSURE(x->off == next_off, OMC_ERR_CORRUPT);
		next_off += x->len;
		OMC_ENSURE(next_off <= objs_len, OMC_ERR_CORRUPT);
	}
	return omc_cur_expect_end(c);
}

static omc_err parse_header(const uint8_t *hdr, uint64_t *gen, uint32_t *tlen, uint8_t nonce[OMC_ST_NONCE_LEN])
{
	omc_cur c;
	const uint8_t *magic;
	uint16_t version, reserved;
	omc_cur_init_read(&c, hdr, OMC_ST_ROOT_HDR_LEN);
	OMC_TRY(omc_cur_read_ptr(&c, &magic, OMC_ST_MAGIC_LEN));
	OMC_ENSURE(memcmp(magic, OMC_ST_ROOT_MAGIC, OMC_ST_MAGIC_LEN) == 0, OMC_ERR_CORRUPT);
	OMC_TRY(omc_cur_read_u16(&c, &version));
	OMC_TRY(omc_cur_read_u16(&c, &reserved));
	OMC_ENSURE(version == OMC_ST_ROOT_VERSION && reserved == 0, OMC_ERR_CORRUPT);
	OMC_TRY(omc_cur_read_u64(&c, gen));
	OMC_ENSURE(*gen >= 1 && *gen < UINT64_MAX, OMC_ERR_CORRUPT);
	OMC_TRY(omc_cur_read_u32(&c, tlen));
	OMC_ENSURE(*tlen >= 4 && *tlen <= OMC_ST_TABLE_MAX, OMC_ERR_CORRUPT);
	OMC_TRY(omc_cur_read(&c, nonce, OMC_ST_NONCE_LEN));
	return omc_cur_expect_end(&c);
}

static omc_err root_decode(omc_st_entry **out, size_t *n_out, uint64_t *gen_out, uint8_t **table_out,
			   const uint8_t *k_root, const uint8_t *file, size_t file_len, uint64_t objs_len)
{
	OMC_ENSURE(file_len >= OMC_ST_ROOT_HDR_LEN + 4 + OMC_ST_TAG_LEN && file_len <= OMC_ST_ROOT_MAX,
		   OMC_ERR_CORRUPT);
	omc_cur c;
	const uint8_t *hdr, *ct, *tag, *tail;
	uint64_t gen;
	uint32_t tlen;
	uint8_t nonce[OMC_ST_NONCE_LEN];
	omc_cur_init_read(&c, file, file_len);
	OMC_TRY(omc_cur_read_ptr(&c, &hdr, OMC_ST_ROOT_HDR_LEN));
	OMC_TRY(parse_header(hdr, &gen, &tlen, nonce));
	OMC_TRY(omc_cur_read_ptr(&c, &ct, tlen));
	OMC_TRY(omc_cur_read_ptr(&c, &tag, OMC_ST_TAG_LEN));
	/* What follows the record is the zeroed tail of a longer older one. */
	const size_t tail_len = omc_cur_remaining(&c);
	OMC_TRY(omc_cur_read_ptr(&c, &tail, tail_len));
	OMC_ENSURE(omc_ct_is_zero(tail, tail_len), OMC_ERR_CORRUPT);

	uint8_t *table = omc_alloc(tlen);
	OMC_ENSURE(table != NULL, OMC_ERR_NOMEM);
	*table_out = table;
	OMC_TRY(omc_st_gcm_open(table, k_root, nonce, hdr, OMC_ST_ROOT_HDR_LEN, ct, tlen, tag));

	uint32_t count;
	omc_cur_init_read(&c, table, tlen);
	OMC_TRY(omc_cur_read_u32(&c, &count));
	OMC_ENSURE(count <= OMC_STORE_MAX_OBJECTS, OMC_ERR_CORRUPT);
	OMC_ENSURE((size_t)count * (OMC_ST_ENTRY_FIXED + 1) <= omc_cur_remaining(&c), OMC_ERR_CORRUPT);
	omc_st_entry *e = NULL;
	if (count) {
		e = omc_calloc(count, sizeof *e);
		OMC_ENSURE(e != NULL, OMC_ERR_NOMEM);
	}
	*out = e;
	OMC_TRY(parse_table(e, count, &c, objs_len));
	*n_out = count;
	*gen_out = gen;
	return OMC_OK;
}

omc_err omc_st_root_decode(omc_st_entry **e, size_t *n, uint64_t *gen, const uint8_t k_root[OMC_ST_KEY_LEN],
			   const uint8_t *file, size_t file_len, uint64_t objs_len)
{
	omc_st_entry *ents = NULL;
	uint8_t *table = NULL;
	size_t count = 0;
	uint64_t g = 0;
	omc_err err = root_decode(&ents, &count, &g, &table, k_root, file, file_len, objs_len);
	omc_free(table); /* plaintext FEKs: wiped */
	if (err != OMC_OK) {
		omc_free(ents);
		/* Whatever is wrong with the bytes, the root is simply not valid. */
		return err == OMC_ERR_NOMEM || err == OMC_ERR_CRYPTO ? err : OMC_ERR_CORRUPT;
	}
	*e = ents;
	*n = count;
	*gen = g;
	return OMC_OK;
}
