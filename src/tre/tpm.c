/* The TPM 2.0 backend of the TRE: the sealed device root key, the
 * anti-rollback device on NV indices, the lockdown PCR (tpm_internal.h has
 * the layout, docs/tpm.md the operation). */
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "store/store_internal.h"
#include "tre/tpm_internal.h"
#include "util/util_internal.h"

#define TPM_MAGIC "OMCTPM01"
#define TPM_MAGIC_LEN 8
#define TPM_HEADER_LEN (TPM_MAGIC_LEN + 5) /* magic | nv u32 | pcr u8 */
#define SEALED_LEN 36                      /* drk | nv u32 */
#define LOCKDOWN_LABEL "omc/tpm/v1/lockdown"
#define NV_OWNER_FIRST 0x01000000u
#define NV_OWNER_LAST 0x01bffffdu /* so that nv + 2 stays below 0x01c00000 */

enum { NV_COUNTER = 0, NV_BASE = 1, NV_FLAGS = 2 };

static uint32_t load_be32(const uint8_t p[4])
{
	return (uint32_t)omc_load_be48((const uint8_t[6]){0, 0, p[0], p[1], p[2], p[3]});
}

static void store_be32(uint8_t p[4], uint32_t v)
{
	uint8_t b[6];
	omc_store_be48(b, v);
	memcpy(p, b + 2, 4);
}

typedef struct tpm_conn {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
} tpm_conn;

/* A TPM response code as an omc_err, logged by name (response codes carry
 * no secrets). */
static omc_err tpm_fail(TSS2_RC rc, const char *what)
{
	OMC_LOG_ERR("tpm", "%s: %s", what, Tss2_RC_Decode(rc));
	const TSS2_RC base = rc & 0xfffu;
	if ((rc & 0xfff0000u) == TSS2_TCTI_RC_LAYER || (rc & 0xffffu) == TSS2_BASE_RC_IO_ERROR ||
	    (rc & 0xffffu) == TSS2_BASE_RC_NO_CONNECTION)
		return omc_err_raise(OMC_ERR_IO, __FILE__, __LINE__);
	/* Format-one codes carry a parameter, handle or session number in
	 * bits 6 and 8..11. */
	const TSS2_RC fmt1 = (base & TPM2_RC_FMT1) ? (base & 0xbfu) : base;
	if (fmt1 == TPM2_RC_POLICY_FAIL || base == TPM2_RC_PCR_CHANGED)
		return omc_err_raise(OMC_ERR_LOCKDOWN, __FILE__, __LINE__);
	if ((base & TPM2_RC_FMT1) && (base & 0x3fu) == (TPM2_RC_HANDLE & 0x3fu))
		return omc_err_raise(OMC_ERR_NOT_FOUND, __FILE__, __LINE__);
	if (base == TPM2_RC_NV_UNINITIALIZED)
		return omc_err_raise(OMC_ERR_CORRUPT, __FILE__, __LINE__);
	if ((base & TPM2_RC_FMT1) && ((base & 0x3fu) == (TPM2_RC_INTEGRITY & 0x3fu) ||
				      (base & 0x3fu) == (TPM2_RC_SIZE & 0x3fu)))
		return omc_err_raise(OMC_ERR_CORRUPT, __FILE__, __LINE__);
	return omc_err_raise(OMC_ERR_IO, __FILE__, __LINE__);
}

#define TPM_TRY(expr, what)                        \
	do {                                       \
		TSS2_RC rc_ = (expr);              \
		if (rc_ != TSS2_RC_SUCCESS)        \
			return tpm_fail(rc_, what); \
	} while (0)

omc_err omc_tpm_cfg_init(omc_tpm_cfg *c, const char *tcti, uint32_t nv, unsigned pcr)
{
	OMC_ENSURE(c != NULL && tcti != NULL, OMC_ERR_BAD_ARG);
	memset(c, 0, sizeof *c);
	const size_t n = strlen(tcti);
	OMC_ENSURE(n >= 1 && n < sizeof c->tcti, OMC_ERR_BAD_ARG);
	memcpy(c->tcti, tcti, n + 1);
	c->nv = nv ? nv : OMC_TRE_TPM_NV_DEFAULT;
	OMC_ENSURE(c->nv >= NV_OWNER_FIRST && c->nv <= NV_OWNER_LAST, OMC_ERR_BAD_ARG);
	pcr = pcr ? pcr : OMC_TRE_TPM_PCR_DEFAULT;
	OMC_ENSURE(pcr <= 23, OMC_ERR_BAD_ARG);
	c->pcr = (uint8_t)pcr;
	return OMC_OK;
}

static void conn_close(tpm_conn *k)
{
	if (k->esys)
		Esys_Finalize(&k->esys);
	if (k->tcti)
		Tss2_TctiLdr_Finalize(&k->tcti);
}

static omc_err conn_open(tpm_conn *k, const omc_tpm_cfg *c)
{
	*k = (tpm_conn){.tcti = NULL, .esys = NULL};
	TSS2_RC rc = Tss2_TctiLdr_Initialize(c->tcti, &k->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		k->tcti = NULL;
		OMC_LOG_ERR("tpm", "TCTI %s: %s", c->tcti, Tss2_RC_Decode(rc));
		OMC_BAIL(OMC_ERR_IO);
	}
	rc = Esys_Initialize(&k->esys, k->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		k->esys = NULL;
		conn_close(k);
		return tpm_fail(rc, "Esys_Initialize");
	}
	return OMC_OK;
}

static void flush(tpm_conn *k, ESYS_TR *h)
{
	if (*h != ESYS_TR_NONE) {
		TSS2_RC rc = Esys_FlushContext(k->esys, *h);
		if (rc != TSS2_RC_SUCCESS)
			OMC_LOG_ERR("tpm", "flush: %s", Tss2_RC_Decode(rc));
		*h = ESYS_TR_NONE;
	}
}

/* --- the sealed root ---------------------------------------------------------------- */

static void pcr_selection(TPML_PCR_SELECTION *s, uint8_t pcr)
{
	memset(s, 0, sizeof *s);
	s->count = 1;
	s->pcrSelections[0].hash = TPM2_ALG_SHA256;
	s->pcrSelections[0].sizeofSelect = 3;
	s->pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
}

/* The storage primary under the owner hierarchy: the same key every time
 * for the same owner seed, so it need not be persistent. */
static omc_err primary(tpm_conn *k, ESYS_TR *h)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC pub;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION none;
	memset(&sens, 0, sizeof sens);
	memset(&pub, 0, sizeof pub);
	memset(&outside, 0, sizeof outside);
	memset(&none, 0, sizeof none);
	pub.publicArea.type = TPM2_ALG_ECC;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
					  TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	TPMS_ECC_PARMS *e = &pub.publicArea.parameters.eccDetail;
	e->symmetric.algorithm = TPM2_ALG_AES;
	e->symmetric.keyBits.aes = 128;
	e->symmetric.mode.aes = TPM2_ALG_CFB;
	e->scheme.scheme = TPM2_ALG_NULL;
	e->curveID = TPM2_ECC_NIST_P256;
	e->kdf.scheme = TPM2_ALG_NULL;
	TPM_TRY(Esys_CreatePrimary(k->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
				   &pub, &outside, &none, h, NULL, NULL, NULL, NULL),
		"CreatePrimary");
	return OMC_OK;
}

/* A PolicyPCR session over c->pcr: a trial one (to compute the digest) or
 * a real one (to unseal). */
static omc_err pcr_session(tpm_conn *k, const omc_tpm_cfg *c, TPM2_SE type, ESYS_TR *s)
{
	TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
	TPM_TRY(Esys_StartAuthSession(k->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				      NULL, type, &sym, TPM2_ALG_SHA256, s),
		"StartAuthSession");
	TPM2B_DIGEST any = {.size = 0};
	TPML_PCR_SELECTION sel;
	pcr_selection(&sel, c->pcr);
	TPM_TRY(Esys_PolicyPCR(k->esys, *s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &any, &sel), "PolicyPCR");
	return OMC_OK;
}

/* A session salted with the primary (so that its key is the TPM's and
 * ours alone) that encrypts the first parameter of the command (DECRYPT:
 * the key going in) or of the response (ENCRYPT: the key coming out), so
 * the root key never crosses the bus to the TPM in the clear. */
static omc_err enc_session(tpm_conn *k, ESYS_TR prim, TPMA_SESSION dir, ESYS_TR *s)
{
	TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};
	TPM_TRY(Esys_StartAuthSession(k->esys, prim, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
				      TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, s),
		"StartAuthSession (salted)");
	TPM_TRY(Esys_TRSess_SetAttributes(k->esys, *s, (TPMA_SESSION)(dir | TPMA_SESSION_CONTINUESESSION), 0xff),
		"TRSess_SetAttributes");
	return OMC_OK;
}

static omc_err seal_in(tpm_conn *k, const omc_tpm_cfg *c, ESYS_TR *prim, ESYS_TR *trial, ESYS_TR *enc,
		       TPM2B_PUBLIC **opub, TPM2B_PRIVATE **opriv, const uint8_t drk[32])
{
	TPM2B_DIGEST *policy = NULL;
	OMC_TRY(pcr_session(k, c, TPM2_SE_TRIAL, trial));
	TPM_TRY(Esys_PolicyGetDigest(k->esys, *trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &policy),
		"PolicyGetDigest");
	flush(k, trial);
	TPM2B_PUBLIC pub;
	memset(&pub, 0, sizeof pub);
	pub.publicArea.type = TPM2_ALG_KEYEDHASH;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	/* No USERWITHAUTH: the policy is the only way in. */
	pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA;
	pub.publicArea.authPolicy = *policy;
	Esys_Free(policy);
	pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	/* The key and the NV indices it goes with: the TPM vouches for both. */
	TPM2B_SENSITIVE_CREATE sens;
	OMC_DEFER_WIPE(sens);
	memset(&sens, 0, sizeof sens);
	sens.sensitive.data.size = SEALED_LEN;
	memcpy(sens.sensitive.data.buffer, drk, 32);
	store_be32(sens.sensitive.data.buffer + 32, c->nv);
	TPM2B_DATA outside = {.size = 0};
	TPML_PCR_SELECTION none;
	memset(&none, 0, sizeof none);
	OMC_TRY(primary(k, prim));
	OMC_TRY(enc_session(k, *prim, TPMA_SESSION_DECRYPT, enc));
	TPM_TRY(Esys_Create(k->esys, *prim, ESYS_TR_PASSWORD, *enc, ESYS_TR_NONE, &sens, &pub, &outside, &none,
			    opriv, opub, NULL, NULL, NULL),
		"Create");
	return OMC_OK;
}

static omc_err blob_encode(uint8_t **blob, size_t *len, const omc_tpm_cfg *c, const TPM2B_PUBLIC *pub,
			   const TPM2B_PRIVATE *priv)
{
	uint8_t *b = omc_alloc(OMC_TPM_BLOB_MAX);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	memcpy(b, TPM_MAGIC, TPM_MAGIC_LEN);
	store_be32(b + TPM_MAGIC_LEN, c->nv);
	b[TPM_MAGIC_LEN + 4] = c->pcr;
	size_t off = TPM_HEADER_LEN;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, b, OMC_TPM_BLOB_MAX, &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, b, OMC_TPM_BLOB_MAX, &off) != TSS2_RC_SUCCESS) {
		omc_free(b);
		OMC_BAIL(OMC_ERR_NO_SPACE);
	}
	*blob = b;
	*len = off;
	return OMC_OK;
}

omc_err omc_tpm_seal(const omc_tpm_cfg *c, uint8_t **blob, size_t *len, const uint8_t drk[32])
{
	OMC_ENSURE(c && blob && len && drk, OMC_ERR_BAD_ARG);
	*blob = NULL;
	*len = 0;
	tpm_conn k;
	OMC_TRY(conn_open(&k, c));
	ESYS_TR prim = ESYS_TR_NONE, trial = ESYS_TR_NONE, enc = ESYS_TR_NONE;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	omc_err e = seal_in(&k, c, &prim, &trial, &enc, &pub, &priv, drk);
	flush(&k, &enc);
	flush(&k, &trial);
	flush(&k, &prim);
	if (e == OMC_OK)
		e = blob_encode(blob, len, c, pub, priv);
	Esys_Free(pub);
	Esys_Free(priv);
	conn_close(&k);
	return e;
}

/* The header's nv and pcr into c: the PCR is checked by the policy itself
 * (another one fails it), the NV index against the sealed copy. */
static omc_err blob_decode(omc_tpm_cfg *c, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, const uint8_t *blob, size_t len)
{
	OMC_ENSURE(len > TPM_HEADER_LEN && memcmp(blob, TPM_MAGIC, TPM_MAGIC_LEN) == 0, OMC_ERR_CORRUPT);
	const uint32_t nv = load_be32(blob + TPM_MAGIC_LEN);
	const uint8_t pcr = blob[TPM_MAGIC_LEN + 4];
	OMC_ENSURE(nv >= NV_OWNER_FIRST && nv <= NV_OWNER_LAST && pcr <= 23, OMC_ERR_CORRUPT);
	c->nv = nv;
	c->pcr = pcr;
	size_t off = TPM_HEADER_LEN;
	memset(pub, 0, sizeof *pub);
	*priv = (TPM2B_PRIVATE){.size = 0};
	OMC_ENSURE(Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, pub) == TSS2_RC_SUCCESS, OMC_ERR_CORRUPT);
	OMC_ENSURE(Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, priv) == TSS2_RC_SUCCESS, OMC_ERR_CORRUPT);
	OMC_ENSURE(off == len, OMC_ERR_CORRUPT);
	return OMC_OK;
}

static omc_err unseal_in(tpm_conn *k, const omc_tpm_cfg *c, ESYS_TR *prim, ESYS_TR *obj, ESYS_TR *sess,
			 ESYS_TR *enc, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv, uint8_t drk[32])
{
	OMC_TRY(primary(k, prim));
	TPM_TRY(Esys_Load(k->esys, *prim, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, obj), "Load");
	OMC_TRY(pcr_session(k, c, TPM2_SE_POLICY, sess));
	OMC_TRY(enc_session(k, *prim, TPMA_SESSION_ENCRYPT, enc));
	TPM2B_SENSITIVE_DATA *out = NULL;
	TPM_TRY(Esys_Unseal(k->esys, *obj, *sess, *enc, ESYS_TR_NONE, &out), "Unseal");
	const bool ok = out->size == SEALED_LEN && load_be32(out->buffer + 32) == c->nv;
	if (ok)
		memcpy(drk, out->buffer, 32);
	omc_memzero(out, sizeof *out);
	Esys_Free(out);
	OMC_ENSURE(ok, OMC_ERR_CORRUPT);
	return OMC_OK;
}

omc_err omc_tpm_unseal(omc_tpm_cfg *c, uint8_t drk[32], const uint8_t *blob, size_t len)
{
	OMC_ENSURE(c && drk && blob, OMC_ERR_BAD_ARG);
	omc_memzero(drk, 32);
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	OMC_TRY(blob_decode(c, &pub, &priv, blob, len));
	tpm_conn k;
	OMC_TRY(conn_open(&k, c));
	ESYS_TR prim = ESYS_TR_NONE, obj = ESYS_TR_NONE, sess = ESYS_TR_NONE, enc = ESYS_TR_NONE;
	omc_err e = unseal_in(&k, c, &prim, &obj, &sess, &enc, &pub, &priv, drk);
	flush(&k, &enc);
	flush(&k, &sess);
	flush(&k, &obj);
	flush(&k, &prim);
	conn_close(&k);
	if (e != OMC_OK)
		omc_memzero(drk, 32);
	return e;
}

/* --- NV: the anti-rollback device --------------------------------------------------- */

/* Whether an NV index is defined, asked without an error for "no" (ESYS
 * logs every failed command). */
static omc_err nv_exists(tpm_conn *k, uint32_t index, bool *yes)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TPM_TRY(Esys_GetCapability(k->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, index, 1,
				   &more, &cap),
		"GetCapability");
	*yes = cap->data.handles.count == 1 && cap->data.handles.handle[0] == index;
	Esys_Free(cap);
	return OMC_OK;
}

static omc_err nv_tr(tpm_conn *k, uint32_t index, ESYS_TR *tr)
{
	bool yes = false;
	OMC_TRY(nv_exists(k, index, &yes));
	if (!yes)
		return OMC_ERR_NOT_FOUND;
	TPM_TRY(Esys_TR_FromTPMPublic(k->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr), "NV lookup");
	return OMC_OK;
}

static void tr_close(tpm_conn *k, ESYS_TR *tr)
{
	if (*tr != ESYS_TR_NONE)
		(void)Esys_TR_Close(k->esys, tr);
	*tr = ESYS_TR_NONE;
}

static omc_err nv_read_u64(tpm_conn *k, uint32_t index, uint64_t *v)
{
	ESYS_TR tr = ESYS_TR_NONE;
	OMC_TRY(nv_tr(k, index, &tr));
	TPM2B_MAX_NV_BUFFER *data = NULL;
	TSS2_RC rc = Esys_NV_Read(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0,
				  &data);
	tr_close(k, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(rc, "NV_Read");
	const bool ok = data->size == 8;
	if (ok)
		*v = omc_load_be64(data->buffer);
	Esys_Free(data);
	OMC_ENSURE(ok, OMC_ERR_CORRUPT);
	return OMC_OK;
}

static omc_err nv_define(tpm_conn *k, uint32_t index, TPMA_NV type_and_extra, ESYS_TR *tr)
{
	TPM2B_AUTH auth = {.size = 0};
	TPM2B_NV_PUBLIC pub;
	memset(&pub, 0, sizeof pub);
	pub.nvPublic.nvIndex = index;
	pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
	pub.nvPublic.attributes = type_and_extra | TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA;
	pub.nvPublic.dataSize = 8;
	TPM_TRY(Esys_NV_DefineSpace(k->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth,
				    &pub, tr),
		"NV_DefineSpace");
	return OMC_OK;
}

static omc_err nv_undefine(tpm_conn *k, uint32_t index)
{
	ESYS_TR tr = ESYS_TR_NONE;
	omc_err e = nv_tr(k, index, &tr);
	if (e == OMC_ERR_NOT_FOUND)
		return OMC_OK;
	OMC_TRY(e);
	TSS2_RC rc = Esys_NV_UndefineSpace(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		tr_close(k, &tr);
		return tpm_fail(rc, "NV_UndefineSpace");
	}
	return OMC_OK;
}

static omc_err nv_increment(tpm_conn *k, uint32_t index)
{
	ESYS_TR tr = ESYS_TR_NONE;
	OMC_TRY(nv_tr(k, index, &tr));
	TSS2_RC rc = Esys_NV_Increment(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
	tr_close(k, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(rc, "NV_Increment");
	return OMC_OK;
}

static omc_err nv_set_bits(tpm_conn *k, uint32_t index, uint64_t bits)
{
	ESYS_TR tr = ESYS_TR_NONE;
	OMC_TRY(nv_tr(k, index, &tr));
	TSS2_RC rc =
		Esys_NV_SetBits(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, bits);
	tr_close(k, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(rc, "NV_SetBits");
	return OMC_OK;
}

/* The flags index, defined and initialised (a bits index reads only after
 * its first SetBits). */
static omc_err flags_define(tpm_conn *k, uint32_t index)
{
	ESYS_TR tr = ESYS_TR_NONE;
	OMC_TRY(nv_define(k, index, (TPMA_NV)(TPM2_NT_BITS << TPMA_NV_TPM2_NT_SHIFT), &tr));
	tr_close(k, &tr);
	return nv_set_bits(k, index, 0);
}

static omc_err ard_create_in(tpm_conn *k, const omc_tpm_cfg *c)
{
	for (unsigned i = 0; i < 3; i++)
		OMC_TRY(nv_undefine(k, c->nv + i));
	ESYS_TR tr = ESYS_TR_NONE;
	OMC_TRY(nv_define(k, c->nv + NV_COUNTER, (TPMA_NV)(TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT), &tr));
	tr_close(k, &tr);
	OMC_TRY(nv_increment(k, c->nv + NV_COUNTER));
	uint64_t base;
	OMC_TRY(nv_read_u64(k, c->nv + NV_COUNTER, &base));
	OMC_TRY(nv_define(k, c->nv + NV_BASE, TPMA_NV_WRITEDEFINE, &tr));
	TPM2B_MAX_NV_BUFFER data = {.size = 8};
	omc_store_be64(data.buffer, base);
	TSS2_RC rc = Esys_NV_Write(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data,
				   0);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_NV_WriteLock(k->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
	tr_close(k, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(rc, "NV base");
	/* The flags last: their presence says the device is complete. */
	return flags_define(k, c->nv + NV_FLAGS);
}

/* One connection for one operation: every ARD call and helper below. */
typedef struct tpm_op {
	enum { OP_CREATE, OP_READ, OP_ADVANCE, OP_SET, OP_CLEAR, OP_LOADED, OP_SHUTDOWN, OP_PCR_RESET, OP_NV_CLEAR } kind;
	uint64_t *counter, value;
	uint32_t *flags, bits;
} tpm_op;

static omc_err op_run(tpm_conn *k, const omc_tpm_cfg *c, tpm_op *op);

static omc_err with_tpm(const omc_tpm_cfg *c, tpm_op op)
{
	OMC_ENSURE(c != NULL, OMC_ERR_BAD_ARG);
	tpm_conn k;
	OMC_TRY(conn_open(&k, c));
	omc_err e = op_run(&k, c, &op);
	conn_close(&k);
	return e;
}

static omc_err read_in(tpm_conn *k, const omc_tpm_cfg *c, uint64_t *counter, uint32_t *flags)
{
	uint64_t base, v, bits;
	omc_err e = nv_read_u64(k, c->nv + NV_FLAGS, &bits);
	if (e == OMC_ERR_NOT_FOUND) {
		/* No flags: a creation cut short (NOT_FOUND, as for no device),
		 * unless the counter says a device was completed here. */
		ESYS_TR tr = ESYS_TR_NONE;
		omc_err ce = nv_tr(k, c->nv + NV_BASE, &tr);
		tr_close(k, &tr);
		OMC_BAIL(ce == OMC_OK ? OMC_ERR_CORRUPT : OMC_ERR_NOT_FOUND);
	}
	OMC_TRY(e);
	e = nv_read_u64(k, c->nv + NV_BASE, &base);
	OMC_TRY(e == OMC_ERR_NOT_FOUND ? OMC_ERR_CORRUPT : e);
	e = nv_read_u64(k, c->nv + NV_COUNTER, &v);
	OMC_TRY(e == OMC_ERR_NOT_FOUND ? OMC_ERR_CORRUPT : e);
	OMC_ENSURE(v >= base, OMC_ERR_CORRUPT);
	*counter = v - base;
	*flags = (uint32_t)bits;
	return OMC_OK;
}

static omc_err advance_in(tpm_conn *k, const omc_tpm_cfg *c, uint64_t value)
{
	uint64_t cur;
	uint32_t flags;
	OMC_TRY(read_in(k, c, &cur, &flags));
	OMC_ENSURE(value > cur, OMC_ERR_BAD_ARG);
	/* The store moves one at a time (a commit, a roll-forward); a larger
	 * step is bounded so that a bad value cannot wear the NV out. */
	OMC_ENSURE(value - cur <= 16, OMC_ERR_BAD_ARG);
	for (; cur < value; cur++)
		OMC_TRY(nv_increment(k, c->nv + NV_COUNTER));
	return OMC_OK;
}

static omc_err set_flags_in(tpm_conn *k, const omc_tpm_cfg *c, uint32_t bits)
{
	OMC_TRY(nv_set_bits(k, c->nv + NV_FLAGS, bits));
	if (!(bits & OMC_STORE_FLAG_LOCKDOWN))
		return OMC_OK;
	/* The root no longer unseals in this boot. */
	TPML_DIGEST_VALUES d;
	memset(&d, 0, sizeof d);
	d.count = 1;
	d.digests[0].hashAlg = TPM2_ALG_SHA256;
	OMC_TRY(omc_st_sha256(d.digests[0].digest.sha256, (const uint8_t *)LOCKDOWN_LABEL, strlen(LOCKDOWN_LABEL)));
	TPM_TRY(Esys_PCR_Extend(k->esys, (ESYS_TR)(ESYS_TR_PCR0 + c->pcr), ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &d),
		"PCR_Extend");
	return OMC_OK;
}

/* Bits only ever get set in a bits index: clearing is undefining it and
 * defining it again with the other bits (owner authorisation). A power cut
 * between the two leaves no flags index beside a counter: CORRUPT at read,
 * which the TRE treats as a lockdown, so a cut recovery fails safe. */
static omc_err clear_in(tpm_conn *k, const omc_tpm_cfg *c, uint32_t bits)
{
	uint64_t cur;
	uint32_t flags;
	OMC_TRY(read_in(k, c, &cur, &flags));
	if (!(flags & bits))
		return OMC_OK;
	OMC_TRY(nv_undefine(k, c->nv + NV_FLAGS));
	OMC_TRY(flags_define(k, c->nv + NV_FLAGS));
	const uint32_t keep = flags & ~bits;
	return keep ? nv_set_bits(k, c->nv + NV_FLAGS, keep) : OMC_OK;
}

static omc_err count_handles(tpm_conn *k, uint32_t first, uint32_t *n)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TPM_TRY(Esys_GetCapability(k->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first,
				   TPM2_MAX_CAP_HANDLES, &more, &cap),
		"GetCapability");
	/* Only handles of the asked-for type count. */
	for (uint32_t i = 0; i < cap->data.handles.count; i++)
		if ((cap->data.handles.handle[i] >> 24) == (first >> 24))
			(*n)++;
	Esys_Free(cap);
	return OMC_OK;
}

static omc_err op_run(tpm_conn *k, const omc_tpm_cfg *c, tpm_op *op)
{
	switch (op->kind) {
	case OP_CREATE:
		return ard_create_in(k, c);
	case OP_READ:
		return read_in(k, c, op->counter, op->flags);
	case OP_ADVANCE:
		return advance_in(k, c, op->value);
	case OP_SET:
		return set_flags_in(k, c, op->bits);
	case OP_CLEAR:
		return clear_in(k, c, op->bits);
	case OP_LOADED:
		*op->flags = 0;
		OMC_TRY(count_handles(k, (uint32_t)TPM2_HT_TRANSIENT << 24, op->flags));
		return count_handles(k, (uint32_t)TPM2_HT_LOADED_SESSION << 24, op->flags);
	case OP_SHUTDOWN:
		TPM_TRY(Esys_Shutdown(k->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR), "Shutdown");
		return OMC_OK;
	case OP_PCR_RESET:
		TPM_TRY(Esys_PCR_Reset(k->esys, (ESYS_TR)(ESYS_TR_PCR0 + c->pcr), ESYS_TR_PASSWORD, ESYS_TR_NONE,
				       ESYS_TR_NONE),
			"PCR_Reset");
		return OMC_OK;
	case OP_NV_CLEAR:
		for (unsigned i = 0; i < 3; i++)
			OMC_TRY(nv_undefine(k, c->nv + i));
		return OMC_OK;
	}
	OMC_BAIL(OMC_ERR_BUG);
}

/* --- the ARD ------------------------------------------------------------------------ */

typedef struct ard_tpm {
	omc_store_ard ard;
	omc_tpm_cfg cfg;
} ard_tpm;

static omc_err tpm_read(void *ctx, uint64_t *counter, uint32_t *flags)
{
	return with_tpm(&((const ard_tpm *)ctx)->cfg, (tpm_op){.kind = OP_READ, .counter = counter, .flags = flags});
}

static omc_err tpm_advance(void *ctx, uint64_t value)
{
	return with_tpm(&((const ard_tpm *)ctx)->cfg, (tpm_op){.kind = OP_ADVANCE, .value = value});
}

static omc_err tpm_set_flags(void *ctx, uint32_t bits)
{
	return with_tpm(&((const ard_tpm *)ctx)->cfg, (tpm_op){.kind = OP_SET, .bits = bits});
}

static omc_err tpm_clear_flags(void *ctx, uint32_t bits)
{
	return with_tpm(&((const ard_tpm *)ctx)->cfg, (tpm_op){.kind = OP_CLEAR, .bits = bits});
}

omc_err omc_tpm_ard_new(omc_store_ard **ard, const omc_tpm_cfg *c, bool create)
{
	OMC_ENSURE(ard && c, OMC_ERR_BAD_ARG);
	*ard = NULL;
	if (create)
		OMC_TRY(with_tpm(c, (tpm_op){.kind = OP_CREATE}));
	ard_tpm *a = omc_calloc(1, sizeof *a);
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	a->cfg = *c;
	a->ard = (omc_store_ard){.read = tpm_read,
				 .advance = tpm_advance,
				 .set_flags = tpm_set_flags,
				 .clear_flags = tpm_clear_flags,
				 .ctx = a};
	*ard = &a->ard;
	return OMC_OK;
}

void omc_tpm_ard_free(omc_store_ard *ard)
{
	if (ard)
		omc_free(ard->ctx);
}

/* --- helpers ------------------------------------------------------------------------ */

omc_err omc_tpm_loaded(const omc_tpm_cfg *c, uint32_t *n)
{
	OMC_ENSURE(n != NULL, OMC_ERR_BAD_ARG);
	*n = 0;
	return with_tpm(c, (tpm_op){.kind = OP_LOADED, .flags = n});
}

omc_err omc_tpm_shutdown(const omc_tpm_cfg *c)
{
	return with_tpm(c, (tpm_op){.kind = OP_SHUTDOWN});
}

omc_err omc_tpm_pcr_reset(const omc_tpm_cfg *c)
{
	return with_tpm(c, (tpm_op){.kind = OP_PCR_RESET});
}

omc_err omc_tpm_nv_clear(const omc_tpm_cfg *c)
{
	return with_tpm(c, (tpm_op){.kind = OP_NV_CLEAR});
}
