/* openmcim: internals of the object store (never installed).
 *
 * The on-disk format these constants describe is specified in docs/store.md;
 * the two must change together. Every multi-byte integer is big-endian and
 * every encoder and parser goes through omc_cur. */
#ifndef OMC_STORE_INTERNAL_H
#define OMC_STORE_INTERNAL_H

#include <stdbool.h>

#include "openmcim/store.h"
#include "util/util_internal.h"

#define OMC_ST_KEY_LEN 32
#define OMC_ST_NONCE_LEN 12
#define OMC_ST_TAG_LEN 16
#define OMC_ST_DIGEST_LEN 32

/* Key derivation labels (HKDF-SHA-256 info strings, docs/store.md "Keys"). */
#define OMC_ST_INFO_ROOT "omc/store/v1/root"
#define OMC_ST_INFO_ARB "omc/store/v1/arb"
/* AAD prefix of an object record; the object id follows it directly. */
#define OMC_ST_OBJ_AAD "omc/store/v1/obj"
#define OMC_ST_OBJ_AAD_LEN (sizeof OMC_ST_OBJ_AAD - 1)

/* Root record: header | AES-256-GCM(table) | tag.
 * header = magic(8) | version u16 | reserved u16 | generation u64 |
 *          table_len u32 | nonce(12) */
#define OMC_ST_ROOT_MAGIC "OMCROOT1"
#define OMC_ST_MAGIC_LEN 8
#define OMC_ST_ROOT_VERSION 1
#define OMC_ST_ROOT_HDR_LEN (OMC_ST_MAGIC_LEN + 2 + 2 + 8 + 4 + OMC_ST_NONCE_LEN)
/* Table entry: id_len u8 | id | fek(32) | off u64 | len u32 | digest(32). */
#define OMC_ST_ENTRY_FIXED (1 + OMC_ST_KEY_LEN + 8 + 4 + OMC_ST_DIGEST_LEN)
#define OMC_ST_TABLE_MAX (4 + (size_t)OMC_STORE_MAX_OBJECTS * (OMC_ST_ENTRY_FIXED + OMC_STORE_ID_MAX))
#define OMC_ST_ROOT_MAX (OMC_ST_ROOT_HDR_LEN + OMC_ST_TABLE_MAX + OMC_ST_TAG_LEN)

/* Object record: nonce(12) | AES-256-GCM ciphertext | tag(16). */
#define OMC_ST_REC_OVERHEAD (OMC_ST_NONCE_LEN + OMC_ST_TAG_LEN)
#define OMC_ST_REC_MAX ((size_t)OMC_STORE_OBJ_MAX + OMC_ST_REC_OVERHEAD)

/* Software ARD record (fixed size):
 * magic(8) | version u16 | reserved u16 | gen u64 | counter u64 | flags u32 |
 * HMAC-SHA-256(K_arb, all preceding bytes) */
#define OMC_ST_ARB_MAGIC "OMCARB01"
#define OMC_ST_ARB_VERSION 1
#define OMC_ST_ARB_BODY_LEN (OMC_ST_MAGIC_LEN + 2 + 2 + 8 + 8 + 4)
#define OMC_ST_ARB_LEN (OMC_ST_ARB_BODY_LEN + OMC_ST_DIGEST_LEN)

/* Claims the next n writable bytes of c for an encoder that fills them in
 * place (a sealed ciphertext); fails like omc_cur_write when they do not fit. */
static inline omc_err omc_st_cur_claim(omc_cur *c, uint8_t **p, size_t n)
{
	OMC_ENSURE(c->wr != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(n <= omc_cur_space(c), OMC_ERR_NO_SPACE);
	*p = &c->wr[c->wpos];
	c->wpos += n;
	return OMC_OK;
}

/* --- crypto (crypto.c, OpenSSL 3) ------------------------------------------ */

/* HKDF-SHA-256 (RFC 5869) with an empty salt. */
OMC_MUST_USE omc_err omc_st_hkdf(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
				 const uint8_t *info, size_t info_len);
/* Derives K_root or K_arb from the device root key (info: OMC_ST_INFO_*). */
OMC_MUST_USE omc_err omc_st_derive(uint8_t out[OMC_STATIC_LEN(OMC_ST_KEY_LEN)],
				   const uint8_t root_key[OMC_STATIC_LEN(OMC_ST_KEY_LEN)], const char *info);
/* AES-256-GCM, 96-bit nonce, 128-bit tag. ct and pt may be the same buffer
 * (in place), nothing else may overlap. */
OMC_MUST_USE omc_err omc_st_gcm_seal(uint8_t *ct, uint8_t tag[OMC_STATIC_LEN(OMC_ST_TAG_LEN)],
				     const uint8_t key[OMC_STATIC_LEN(OMC_ST_KEY_LEN)],
				     const uint8_t nonce[OMC_STATIC_LEN(OMC_ST_NONCE_LEN)], const uint8_t *aad,
				     size_t aad_len, const uint8_t *pt, size_t len);
/* OMC_ERR_MAC_FAILURE if the tag does not verify; pt is then zeroed. */
OMC_MUST_USE omc_err omc_st_gcm_open(uint8_t *pt, const uint8_t key[OMC_STATIC_LEN(OMC_ST_KEY_LEN)],
				     const uint8_t nonce[OMC_STATIC_LEN(OMC_ST_NONCE_LEN)], const uint8_t *aad,
				     size_t aad_len, const uint8_t *ct, size_t len,
				     const uint8_t tag[OMC_STATIC_LEN(OMC_ST_TAG_LEN)]);
OMC_MUST_USE omc_err omc_st_sha256(uint8_t out[OMC_STATIC_LEN(OMC_ST_DIGEST_LEN)], const uint8_t *data, size_t len);
OMC_MUST_USE omc_err omc_st_hmac_sha256(uint8_t out[OMC_STATIC_LEN(OMC_ST_DIGEST_LEN)],
					const uint8_t key[OMC_STATIC_LEN(OMC_ST_KEY_LEN)], const uint8_t *data,
					size_t len);

/* --- object ids and the table (root.c) ------------------------------------- */

/* true if id is 1..OMC_STORE_ID_MAX bytes of [A-Za-z0-9._/-]; *len gets its
 * length. */
bool omc_st_id_valid(const char *id, size_t *len);
/* Byte-wise order of two ids (ids are not secret). */
int omc_st_id_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

typedef struct omc_st_entry {
	char id[OMC_STORE_ID_MAX + 1]; /* NUL-terminated */
	uint8_t id_len;
	uint8_t fek[OMC_ST_KEY_LEN]; /* secret */
	uint64_t off;                /* where its record sits in objs.X */
	uint32_t len;
	uint8_t digest[OMC_ST_DIGEST_LEN]; /* SHA-256 of the record bytes */
} omc_st_entry;

/* Index of id in the sorted table, or n if absent. */
size_t omc_st_find(const omc_st_entry *e, size_t n, const char *id, size_t id_len);

/* Encodes and seals the root record of generation gen over the n entries
 * (sorted, contiguous records). *out from omc_alloc, exactly *out_len bytes. */
OMC_MUST_USE omc_err omc_st_root_encode(uint8_t **out, size_t *out_len,
					const uint8_t k_root[OMC_STATIC_LEN(OMC_ST_KEY_LEN)], uint64_t gen,
					const omc_st_entry *e, size_t n);
/* Opens and strictly parses a root file. Anything wrong (magic, version,
 * reserved bits, lengths, tag, trailing table bytes, non-zero file tail,
 * unsorted or duplicate ids, records not laid out back to back from offset 0
 * or past objs_len) is OMC_ERR_CORRUPT; OMC_ERR_NOMEM and OMC_ERR_CRYPTO pass
 * through. On success *e (omc_alloc, n entries; may be NULL when n is 0) and
 * *gen are set. */
OMC_MUST_USE omc_err omc_st_root_decode(omc_st_entry **e, size_t *n, uint64_t *gen,
					const uint8_t k_root[OMC_STATIC_LEN(OMC_ST_KEY_LEN)],
					const uint8_t *file, size_t file_len, uint64_t objs_len);

/* --- object records (record.c) ---------------------------------------------- */

/* Encrypts pt (len bytes) for id under a fresh random FEK and nonce into rec
 * (exactly len + OMC_ST_REC_OVERHEAD bytes) and fills ent's fek and digest
 * (not id, off or len). */
OMC_MUST_USE omc_err omc_st_record_seal(uint8_t *rec, omc_st_entry *ent, const uint8_t *pt, size_t len);
/* Checks ent's record inside objs (digest in constant time, then GCM) and,
 * if out is not NULL, returns the plaintext in *out (omc_alloc) and *out_len.
 * Any mismatch is OMC_ERR_CORRUPT. */
OMC_MUST_USE omc_err omc_st_record_open(uint8_t **out, size_t *out_len, const omc_st_entry *ent,
					const uint8_t *objs, size_t objs_len);

/* --- the store handle (store.c, commit.c) ----------------------------------- */

typedef struct omc_st_file {
	bool exists;
	size_t len; /* bytes in the file (valid only if exists) */
} omc_st_file;

extern const char *const omc_st_root_name[2];
extern const char *const omc_st_objs_name[2];

struct omc_store {
	omc_store_io *io;
	omc_store_ard *ard;
	uint8_t k_root[OMC_ST_KEY_LEN];
	uint64_t gen;
	unsigned active; /* slot of the current root: 0 = a, 1 = b */
	bool rolled_forward;
	bool poisoned; /* an I/O error inside a commit: only close is allowed */
	omc_st_file root_file[2];
	omc_st_file objs_file[2];
	omc_st_entry *ents; /* sorted by id */
	size_t n;
	uint8_t *objs; /* ciphertext of objs.<active> (never plaintext) */
	size_t objs_len;
};

/* Writes the whole of data, then zeros up to old_len if the file was
 * longer: one pwrite. Updates *f. */
OMC_MUST_USE omc_err omc_st_write_file(omc_store_io *io, const char *path, omc_st_file *f, const uint8_t *data,
				       size_t len);

#endif
