/* Object records (docs/store.md "Object record"):
 *
 *   record = nonce(12) | AES-256-GCM(FEK, nonce, AAD, plaintext) | tag(16)
 *   AAD    = "omc/store/v1/obj" | id
 *
 * Each record has its own random FEK, drawn afresh whenever the object's
 * content changes, so a nonce is never reused under a key. The root holds the
 * FEK and the SHA-256 of the record bytes: opening checks the digest first
 * (constant time), then the tag, and releases nothing that failed. */
#include <string.h>

#include "store/store_internal.h"

static size_t obj_aad(uint8_t aad[OMC_ST_OBJ_AAD_LEN + OMC_STORE_ID_MAX], const omc_st_entry *ent)
{
	omc_cur c;
	omc_cur_init_write(&c, aad, OMC_ST_OBJ_AAD_LEN + OMC_STORE_ID_MAX);
	/* Both writes fit by construction (id_len <= OMC_STORE_ID_MAX). */
	if (omc_cur_write(&c, (const uint8_t *)OMC_ST_OBJ_AAD, OMC_ST_OBJ_AAD_LEN) != OMC_OK ||
	    omc_cur_write(&c, (const uint8_t *)ent->id, ent->id_len) != OMC_OK)
		return 0;
	return c.wpos;
}

omc_err omc_st_record_seal(uint8_t *rec, omc_st_entry *ent, const uint8_t *pt, size_t len)
{
	OMC_ENSURE(len <= OMC_STORE_OBJ_MAX, OMC_ERR_TOO_LARGE);
	OMC_ENSURE(ent->id_len >= 1 && ent->id_len <= OMC_STORE_ID_MAX, OMC_ERR_BUG);
	uint8_t aad[OMC_ST_OBJ_AAD_LEN + OMC_STORE_ID_MAX];
	const size_t aad_len = obj_aad(aad, ent);
	OMC_ASSERT(aad_len == OMC_ST_OBJ_AAD_LEN + ent->id_len);

	uint8_t nonce[OMC_ST_NONCE_LEN];
	uint8_t tag[OMC_ST_TAG_LEN];
	uint8_t *ct = NULL;
	omc_cur c;
	OMC_TRY(omc_rand_bytes(ent->fek, OMC_ST_KEY_LEN));
	OMC_TRY(omc_rand_bytes(nonce, sizeof nonce));
	omc_cur_init_write(&c, rec, len + OMC_ST_REC_OVERHEAD);
	OMC_TRY(omc_cur_write(&c, nonce, sizeof nonce));
	OMC_TRY(omc_st_cur_claim(&c, &ct, len));
	OMC_TRY(omc_st_gcm_seal(ct, tag, ent->fek, nonce, aad, aad_len, pt, len));
	OMC_TRY(omc_cur_write(&c, tag, sizeof tag));
	OMC_ASSERT(omc_cur_space(&c) == 0);
	return omc_st_sha256(ent->digest, rec, len + OMC_ST_REC_OVERHEAD);
}

static omc_err record_open(uint8_t *pt, const omc_st_entry *ent, const uint8_t *rec, size_t rec_len)
{
	uint8_t aad[OMC_ST_OBJ_AAD_LEN + OMC_STORE_ID_MAX];
	const size_t aad_len = obj_aad(aad, ent);
	OMC_ASSERT(aad_len == OMC_ST_OBJ_AAD_LEN + ent->id_len);
	omc_cur c;
	const uint8_t *nonce, *ct, *tag;
	omc_cur_init_read(&c, rec, rec_len);
	OMC_TRY(omc_cur_read_ptr(&c, &nonce, OMC_ST_NONCE_LEN));
	OMC_TRY(omc_cur_read_ptr(&c, &ct, rec_len - OMC_ST_REC_OVERHEAD));
	OMC_TRY(omc_cur_read_ptr(&c, &tag, OMC_ST_TAG_LEN));
	OMC_TRY(omc_cur_expect_end(&c));
	return omc_st_gcm_open(pt, ent->fek, nonce, aad, aad_len, ct, rec_len - OMC_ST_REC_OVERHEAD, tag);
}

omc_err omc_st_record_open(uint8_t **out, size_t *out_len, const omc_st_entry *ent, const uint8_t *objs,
			   size_t objs_len)
{
	/* Bounds again: objs may have been re-read (verify) since the root was
	 * checked against it. */
	OMC_ENSURE(ent->len >= OMC_ST_REC_OVERHEAD && ent->len <= OMC_ST_REC_MAX, OMC_ERR_CORRUPT);
	OMC_ENSURE(ent->off <= objs_len && ent->len <= objs_len - ent->off, OMC_ERR_CORRUPT);
	omc_cur c;
	const uint8_t *rec;
	omc_cur_init_read(&c, objs, objs_len);
	OMC_TRY(omc_cur_skip(&c, (size_t)ent->off));
	OMC_TRY(omc_cur_read_ptr(&c, &rec, ent->len));

	uint8_t d[OMC_ST_DIGEST_LEN];
	OMC_TRY(omc_st_sha256(d, rec, ent->len));
	OMC_ENSURE(omc_ct_eq(d, ent->digest, sizeof d), OMC_ERR_CORRUPT);

	const size_t pt_len = ent->len - OMC_ST_REC_OVERHEAD;
	uint8_t *pt = omc_alloc(pt_len);
	OMC_ENSURE(pt != NULL, OMC_ERR_NOMEM);
	omc_err err = record_open(pt, ent, rec, ent->len);
	if (err != OMC_OK || out == NULL) {
		omc_free(pt);
		if (err == OMC_ERR_NOMEM || err == OMC_ERR_CRYPTO)
			return err;
		OMC_ENSURE(err == OMC_OK, OMC_ERR_CORRUPT);
		return OMC_OK;
	}
	*out = pt;
	*out_len = pt_len;
	return OMC_OK;
}
