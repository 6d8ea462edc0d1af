/* What the TRE reads back from its storage: the store's root record and
 * object records (src/store), the blobs inside them (an MCIM record, the
 * users table) and the audit log (src/tre/audit.c).
 *
 * Input: selector byte, then the bytes. The root record and the objects
 * are sealed (AES-GCM), which a fuzzer cannot forge: the "sealed here"
 * selectors take the input as the plaintext table (or record) and seal it
 * here under a fixed test key first, so that the parsers behind the tag
 * see fuzzed bytes. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openmcim/openmcim.h"
#include "store/store_internal.h"
#include "tre/tre_internal.h"

static const uint8_t k_test[32] = {0x66, 0x75, 0x7a, 0x7a}; /* a test key, not a device's */

/* header | GCM(table) | tag, then every record of the table opened in objs. */
static void root_sealed(const uint8_t *data, size_t size)
{
	if (size < 4)
		return;
	size_t tlen = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (tlen > size)
		tlen = size;
	const uint8_t *objs = data + tlen;
	size_t objs_len = size - tlen;
	size_t flen = OMC_ST_ROOT_HDR_LEN + tlen + OMC_ST_TAG_LEN;
	uint8_t *file = omc_alloc(flen);
	if (!file)
		return;
	static const uint8_t nonce[OMC_ST_NONCE_LEN] = {9};
	uint8_t *h = file;
	memcpy(h, OMC_ST_ROOT_MAGIC, OMC_ST_MAGIC_LEN);
	h += OMC_ST_MAGIC_LEN;
	*h++ = 0, *h++ = 1;      /* version */
	*h++ = 0, *h++ = 0;      /* reserved */
	memset(h, 0, 7), h[7] = 7; /* generation */
	h += 8;
	*h++ = (uint8_t)(tlen >> 24), *h++ = (uint8_t)(tlen >> 16), *h++ = (uint8_t)(tlen >> 8), *h++ = (uint8_t)tlen;
	memcpy(h, nonce, OMC_ST_NONCE_LEN);
	if (omc_st_gcm_seal(file + OMC_ST_ROOT_HDR_LEN, file + OMC_ST_ROOT_HDR_LEN + tlen, k_test, nonce, file,
			    OMC_ST_ROOT_HDR_LEN, data, tlen) == OMC_OK) {
		omc_st_entry *e = NULL;
		size_t n = 0;
		uint64_t gen = 0;
		if (omc_st_root_decode(&e, &n, &gen, k_test, file, flen, objs_len) == OMC_OK) {
			if (gen != 7)
				abort();
			for (size_t i = 0; i < n; i++) {
				if (e[i].off + e[i].len > objs_len || e[i].id_len != strlen(e[i].id))
					abort(); /* the decoder promises both */
				uint8_t *pt = NULL;
				size_t pl = 0;
				if (omc_st_record_open(&pt, &pl, &e[i], objs, objs_len) == OMC_OK)
					omc_free(pt);
			}
			omc_free(e);
		}
	}
	omc_free(file);
}

/* seal, then open: the same bytes come back; a flipped bit does not open */
static void record_sealed(const uint8_t *data, size_t size)
{
	if (size == 0 || size > OMC_STORE_OBJ_MAX)
		return;
	omc_st_entry ent;
	memset(&ent, 0, sizeof ent);
	memcpy(ent.id, "fuzz/obj", 8);
	ent.id_len = 8;
	uint8_t *rec = omc_alloc(size + OMC_ST_REC_OVERHEAD);
	if (!rec)
		return;
	if (omc_st_record_seal(rec, &ent, data, size) == OMC_OK) {
		ent.len = (uint32_t)(size + OMC_ST_REC_OVERHEAD);
		uint8_t *pt = NULL;
		size_t pl = 0;
		if (omc_st_record_open(&pt, &pl, &ent, rec, ent.len) != OMC_OK || pl != size || memcmp(pt, data, size))
			abort();
		omc_free(pt);
		rec[data[0] % ent.len] ^= (uint8_t)(1u << (data[size - 1] % 8));
		if (omc_st_record_open(NULL, NULL, &ent, rec, ent.len) == OMC_OK)
			abort();
	}
	omc_free(rec);
}

static void audit(const char *s, size_t len, uint8_t mode)
{
	omc_audit_head head;
	size_t bad = 0;
	void *obj = NULL;
	switch (mode) {
	case 0:
	case 1:
		memset(&head, 0, sizeof head);
		if (omc_audit_verify(&head, &bad, s, len, mode == 0 ? k_test : NULL) == OMC_OK &&
		    omc_audit_extends(s, len, mode == 0 ? k_test : NULL, &head) != OMC_OK)
			abort(); /* a valid log extends its own head */
		break;
	case 2:
		if (omc_audit_parse_line(&obj, s, len) == OMC_OK)
			json_decref(obj);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	if (size < 1 || size > 1 << 20)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	char *s = fz_str(data, size);
	if (!s)
		return 0;
	switch (sel % 8) {
	case 0:
	case 1:
	case 2: audit(s, size, sel % 8); break;
	case 3: {
		omc_st_entry *e = NULL;
		size_t n = 0;
		uint64_t gen;
		if (omc_st_root_decode(&e, &n, &gen, k_test, data, size, 1 << 20) == OMC_OK)
			omc_free(e);
		break;
	}
	case 4: root_sealed(data, size); break;
	case 5: record_sealed(data, size); break;
	case 6: {
		omc_mcim m;
		char *back = NULL;
		size_t bl;
		if (omc_mcim_parse(&m, data, size) == OMC_OK && omc_mcim_to_json(&back, &bl, &m) != OMC_OK)
			abort(); /* what parses, prints */
		omc_free(back);
		omc_mcim_wipe(&m);
		break;
	}
	case 7: {
		omc_users u;
		char *back = NULL;
		size_t bl;
		if (omc_users_from_json(&u, s, size) == OMC_OK && omc_users_to_json(&back, &bl, &u) != OMC_OK)
			abort();
		omc_free(back);
		omc_memzero(&u, sizeof u);
		break;
	}
	}
	omc_free(s);
	return 0;
}
