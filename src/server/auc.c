/* The AuC/HSS of one operator (TS 33.102 6.3 and Annex C): subscribers with
 * their secrets sealed at rest, authentication vectors whose SQN range is
 * reserved and logged in one transaction before any vector is made, and
 * resynchronisation from AUTS.
 *
 * Secrets at rest (SEC-12): AES-256-GCM under
 *   K_sec = HMAC-SHA-256(master, "omc/auc/v1/secrets" || 0x01)
 * (HKDF-Expand of RFC 5869 with the master key as PRK: it is a random key),
 * nonce(12) | ct | tag(16), AAD = "omc/auc/v1" 0x00 operator 0x00 imsi, so a
 * record moved to another IMSI or operator does not open. The plaintext:
 *   MILENAGE: 0x01 | K(16) | OPc(16) | c1..c5 (5 x 16) | r1..r5 (5)
 *   TUAK:     0x02 | K length | K(32) | TOPc(32) | MAC, RES, CK, IK lengths
 *             (bytes) | iterations (2, big-endian)
 * Every plaintext copy is a wiped local. */
#include <string.h>
#include <time.h>

#include <openssl/hmac.h>

#include "server/server_internal.h"

#define SEC_MIL_LEN (1 + 16 + 16 + 5 * 16 + 5)
#define SEC_TUAK_LEN (1 + 1 + 32 + 32 + 4 + 2)
#define SEC_MAX SEC_MIL_LEN
#define SEALED_MAX (OMC_AEAD_NONCE_LEN + SEC_MAX + OMC_AEAD_TAG_LEN)

struct omc_auc {
	omc_db *db;
	char op[17];
	uint8_t k_sec[32];
	int64_t (*now)(void *);
	void *now_arg;
};

void omc_auc_set_clock(omc_auc *a, int64_t (*now)(void *arg), void *arg)
{
	if (!a)
		return;
	a->now = now;
	a->now_arg = arg;
}

static int64_t auc_now(const omc_auc *a)
{
	return a->now ? a->now(a->now_arg) : (int64_t)time(NULL);
}

/* A statement of the handle's cache (omc_db_stmt), as an SQLite code. */
static int prep(omc_auc *a, omc_dbs **st, const char *sql)
{
	if (omc_db_stmt(a->db, st, sql) == OMC_OK)
		return OMC_DB_OK;
	int rc = omc_db_errcode(a->db);
	return rc == OMC_DB_OK ? OMC_DB_ERROR : rc;
}

static bool valid_imsi(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 6 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool valid_op(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

omc_err omc_auc_open(omc_auc **out, omc_db *db, const char *op, const uint8_t master[32])
{
	OMC_ENSURE(out && db && master && valid_op(op), OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_auc *a = omc_calloc(1, sizeof *a);
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	a->db = db;
	memcpy(a->op, op, strlen(op) + 1);
	static const char label[] = "omc/auc/v1/secrets\x01";
	unsigned len = 0;
	if (!HMAC(EVP_sha256(), master, 32, (const uint8_t *)label, sizeof label - 1, a->k_sec, &len) || len != 32) {
		omc_auc_close(a);
		OMC_BAIL(OMC_ERR_CRYPTO);
	}
	*out = a;
	return OMC_OK;
}

void omc_auc_close(omc_auc *a)
{
	if (!a)
		return;
	omc_free(a); /* wipes k_sec */
}

static size_t aad_of(uint8_t *aad, size_t cap, const omc_auc *a, const char *imsi)
{
	int n = snprintf((char *)aad, cap, "omc/auc/v1%c%s%c%s", 0, a->op, 0, imsi);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static omc_err cred_encode(uint8_t *p, size_t *len, const omc_aka_cred *c)
{
	if (c->alg == OMC_AKA_ALG_MILENAGE) {
		const omc_aka_milenage *m = &c->u.milenage;
		p[0] = 1;
		memcpy(p + 1, m->k, 16);
		memcpy(p + 17, m->opc, 16);
		memcpy(p + 33, m->consts.c, 5 * 16);
		memcpy(p + 113, m->consts.r, 5);
		*len = SEC_MIL_LEN;
		return OMC_OK;
	}
	OMC_ENSURE(c->alg == OMC_AKA_ALG_TUAK, OMC_ERR_BAD_ARG);
	const omc_aka_tuak *t = &c->u.tuak;
	p[0] = 2;
	p[1] = t->k_len;
	memcpy(p + 2, t->k, 32);
	memcpy(p + 34, t->topc, 32);
	p[66] = t->mac_len;
	p[67] = t->res_len;
	p[68] = t->ck_len;
	p[69] = t->ik_len;
	p[70] = (uint8_t)(t->iterations >> 8);
	p[71] = (uint8_t)t->iterations;
	*len = SEC_TUAK_LEN;
	return OMC_OK;
}

/* Through the AKA engine's own constructors, so a damaged record cannot
 * give a credential those would refuse. */
static omc_err cred_decode(omc_aka_cred *c, const uint8_t *p, size_t len)
{
	memset(c, 0, sizeof *c);
	if (len == SEC_MIL_LEN && p[0] == 1) {
		omc_aka_milenage_consts k;
		memcpy(k.c, p + 33, 5 * 16);
		memcpy(k.r, p + 113, 5);
		c->alg = OMC_AKA_ALG_MILENAGE;
		return omc_aka_milenage_init(&c->u.milenage, p + 1, p + 17, &k) == OMC_OK ? OMC_OK : OMC_ERR_CORRUPT;
	}
	OMC_ENSURE(len == SEC_TUAK_LEN && p[0] == 2, OMC_ERR_CORRUPT);
	omc_aka_tuak_params tp = {.mac_bits = 8u * p[66],
				  .res_bits = 8u * p[67],
				  .ck_bits = 8u * p[68],
				  .ik_bits = 8u * p[69],
				  .iterations = (unsigned)p[70] << 8 | p[71]};
	c->alg = OMC_AKA_ALG_TUAK;
	return omc_aka_tuak_init(&c->u.tuak, p + 2, p[1], p + 34, &tp) == OMC_OK ? OMC_OK : OMC_ERR_CORRUPT;
}

static omc_err seal(uint8_t *out, size_t *out_len, const omc_auc *a, const char *imsi, const omc_aka_cred *c)
{
	uint8_t pt[SEC_MAX], aad[64];
	OMC_DEFER_WIPE(pt);
	size_t n = 0, al = aad_of(aad, sizeof aad, a, imsi);
	OMC_ENSURE(al > 0, OMC_ERR_BAD_ARG);
	OMC_TRY(cred_encode(pt, &n, c));
	OMC_TRY(omc_rand_bytes(out, OMC_AEAD_NONCE_LEN));
	OMC_TRY(omc_aead_seal(out + OMC_AEAD_NONCE_LEN, out + OMC_AEAD_NONCE_LEN + n, a->k_sec, out, aad, al, pt, n));
	*out_len = OMC_AEAD_NONCE_LEN + n + OMC_AEAD_TAG_LEN;
	return OMC_OK;
}

static omc_err unseal(omc_aka_cred *c, const omc_auc *a, const char *imsi, const uint8_t *in, size_t len)
{
	OMC_ENSURE(len > OMC_AEAD_NONCE_LEN + OMC_AEAD_TAG_LEN && len <= SEALED_MAX, OMC_ERR_CORRUPT);
	size_t n = len - OMC_AEAD_NONCE_LEN - OMC_AEAD_TAG_LEN;
	uint8_t pt[SEC_MAX], aad[64];
	OMC_DEFER_WIPE(pt);
	size_t al = aad_of(aad, sizeof aad, a, imsi);
	OMC_ENSURE(al > 0, OMC_ERR_BAD_ARG);
	omc_err e = omc_aead_open(pt, a->k_sec, in, aad, al, in + OMC_AEAD_NONCE_LEN, n, in + OMC_AEAD_NONCE_LEN + n);
	OMC_ENSURE(e == OMC_OK, e == OMC_ERR_MAC_FAILURE ? OMC_ERR_CORRUPT : e);
	return cred_decode(c, pt, n);
}

omc_err omc_auc_add(omc_auc *a, const char *imsi, const omc_aka_cred *cred, unsigned ind_bits)
{
	omc_auc_sub_opts o = {.ind_bits = ind_bits};
	return omc_auc_add_ex(a, imsi, cred, &o);
}

omc_err omc_auc_add_ex(omc_auc *a, const char *imsi, const omc_aka_cred *cred, const omc_auc_sub_opts *o)
{
	OMC_ENSURE(a && cred && o && valid_imsi(imsi) && o->ind_bits <= OMC_AKA_IND_BITS_MAX && o->expires >= 0,
		   OMC_ERR_BAD_ARG);
	const char *profile = o->profile ? o->profile : "{}";
	OMC_ENSURE(strlen(profile) < 128, OMC_ERR_BAD_ARG);
	uint8_t sealed[SEALED_MAX];
	size_t sl = 0;
	OMC_TRY(seal(sealed, &sl, a, imsi, cred));
	omc_dbs *st = NULL;
	int rc = prep(a, &st,
				    "INSERT INTO auc_subscriber (imsi, operator, alg, secrets, ind_bits, seq_he, next_ind,"
				    " enabled, created, expires, profile) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, 1, ?6, ?7, ?8)");
	if (rc == OMC_DB_OK) {
		omc_dbs_bind_text(st, 1, imsi, -1);
		omc_dbs_bind_text(st, 2, a->op, -1);
		omc_dbs_bind_text(st, 3, omc_aka_alg_name(cred->alg), -1);
		omc_dbs_bind_blob(st, 4, sealed, (int)sl);
		omc_dbs_bind_int64(st, 5, (int)o->ind_bits);
		omc_dbs_bind_int64(st, 6, (int64_t)auc_now(a));
		omc_dbs_bind_int64(st, 7, (int64_t)o->expires);
		omc_dbs_bind_text(st, 8, profile, -1);
		rc = omc_dbs_step(st);
	}
	omc_db_done(a->db, st);
	OMC_ENSURE(rc == OMC_DB_DONE, omc_db_err(rc));
	return OMC_OK;
}

typedef struct sub_row {
	omc_aka_cred cred;
	omc_aka_sqn_he he;
	bool enabled;
	int64_t expires;
} sub_row;

/* Inside a transaction: the subscriber of this operator. */
static omc_err load(sub_row *r, omc_auc *a, const char *imsi)
{
	omc_dbs *st = NULL;
	int rc = prep(a, &st,
				    "SELECT secrets, ind_bits, seq_he, next_ind, enabled, expires FROM auc_subscriber"
				    " WHERE imsi = ?1 AND operator = ?2");
	omc_err e = rc == OMC_DB_OK ? OMC_OK : omc_db_err(rc);
	if (e == OMC_OK) {
		omc_dbs_bind_text(st, 1, imsi, -1);
		omc_dbs_bind_text(st, 2, a->op, -1);
		rc = omc_dbs_step(st);
		e = rc == OMC_DB_ROW ? OMC_OK : rc == OMC_DB_DONE ? OMC_ERR_NOT_FOUND : omc_db_err(rc);
	}
	if (e == OMC_OK) {
		const uint8_t *blob = omc_dbs_column_blob(st, 0);
		size_t bl = (size_t)omc_dbs_column_bytes(st, 0);
		int64_t ind = omc_dbs_column_int64(st, 1), seq = omc_dbs_column_int64(st, 2),
			      next = omc_dbs_column_int64(st, 3);
		r->enabled = omc_dbs_column_int(st, 4) != 0;
		r->expires = (int64_t)omc_dbs_column_int64(st, 5);
		e = blob ? unseal(&r->cred, a, imsi, blob, bl) : OMC_ERR_CORRUPT;
		if (e == OMC_OK && (ind < 0 || ind > OMC_AKA_IND_BITS_MAX || seq < 0 || next < 0 || next >= (1 << ind)))
			e = OMC_ERR_CORRUPT;
		if (e == OMC_OK)
			e = omc_aka_sqn_he_init(&r->he, (unsigned)ind, (uint64_t)seq) == OMC_OK ? OMC_OK : OMC_ERR_CORRUPT;
		if (e == OMC_OK)
			r->he.next_ind = (uint32_t)next;
	}
	omc_db_done(a->db, st);
	return e;
}

static omc_err store_he(omc_auc *a, const char *imsi, const omc_aka_sqn_he *he)
{
	omc_dbs *st = NULL;
	int rc = prep(a, &st, "UPDATE auc_subscriber SET seq_he = ?1, next_ind = ?2 WHERE imsi = ?3");
	if (rc == OMC_DB_OK) {
		omc_dbs_bind_int64(st, 1, (int64_t)he->seq);
		omc_dbs_bind_int64(st, 2, (int64_t)he->next_ind);
		omc_dbs_bind_text(st, 3, imsi, -1);
		rc = omc_dbs_step(st);
	}
	omc_db_done(a->db, st);
	OMC_ENSURE(rc == OMC_DB_DONE, omc_db_err(rc));
	return OMC_OK;
}

static omc_err log_avs(omc_auc *a, const char *imsi, const uint8_t (*sqn)[6], const uint8_t (*rand)[16], size_t n)
{
	omc_dbs *st = NULL;
	int rc = prep(a, &st, "INSERT INTO auc_av_log (imsi, sqn, rand, issued) VALUES (?1, ?2, ?3, ?4)");
	int64_t now = (int64_t)auc_now(a);
	for (size_t i = 0; rc == OMC_DB_OK && i < n; i++) {
		omc_dbs_bind_text(st, 1, imsi, -1);
		omc_dbs_bind_int64(st, 2, (int64_t)omc_load_be48(sqn[i]));
		omc_dbs_bind_blob(st, 3, rand[i], 16);
		omc_dbs_bind_int64(st, 4, now);
		rc = omc_dbs_step(st) == OMC_DB_DONE ? omc_dbs_reset(st) : OMC_DB_ERROR;
	}
	omc_db_done(a->db, st);
	OMC_ENSURE(rc == OMC_DB_OK, omc_db_err(rc == OMC_DB_ERROR ? omc_db_errcode(a->db) : rc));
	return OMC_OK;
}

static void rollback(omc_auc *a)
{
	omc_db_rollback(a->db);
}

omc_err omc_auc_reserve(omc_auc_resv *out, omc_auc *a, const char *imsi, size_t n)
{
	OMC_ENSURE(out != NULL, OMC_ERR_BAD_ARG);
	omc_memzero(out, sizeof *out);
	OMC_ENSURE(a && valid_imsi(imsi) && n >= 1 && n <= OMC_AUC_BATCH_MAX, OMC_ERR_BAD_ARG);
	OMC_TRY(omc_rand_bytes(&out->rand[0][0], n * 16));
	sub_row r;
	OMC_DEFER_WIPE(r);
	/* Reserve and log, then commit, then compute: a crash after the
	 * commit skips SQNs, never repeats one (Annex C.3). */
	OMC_TRY(omc_db_run(a->db, "BEGIN IMMEDIATE"));
	omc_err e = load(&r, a, imsi);
	if (e == OMC_OK && !r.enabled)
		e = OMC_ERR_DENIED;
	if (e == OMC_OK && r.expires != 0 && r.expires <= auc_now(a))
		e = OMC_ERR_BAD_STATE;
	for (size_t i = 0; e == OMC_OK && i < n; i++)
		e = omc_aka_sqn_he_next(out->sqn[i], &r.he);
	if (e == OMC_OK)
		e = store_he(a, imsi, &r.he);
	if (e == OMC_OK)
		e = log_avs(a, imsi, (const uint8_t(*)[6])out->sqn, (const uint8_t(*)[16])out->rand, n);
	if (e == OMC_OK)
		e = omc_db_run(a->db, "COMMIT");
	if (e != OMC_OK) {
		rollback(a);
		omc_aka_cred_wipe(&r.cred);
		omc_memzero(out, sizeof *out);
		return e;
	}
	out->cred = r.cred;
	out->n = n;
	omc_aka_cred_wipe(&r.cred);
	return OMC_OK;
}

omc_err omc_auc_resv_vectors(omc_aka_av *out, omc_auc_resv *r, const uint8_t amf[2])
{
	OMC_ENSURE(out && r && amf && r->n >= 1 && r->n <= OMC_AUC_BATCH_MAX, OMC_ERR_BAD_ARG);
	omc_err e = OMC_OK;
	for (size_t i = 0; e == OMC_OK && i < r->n; i++)
		e = omc_aka_av_gen(&out[i], &r->cred, r->rand[i], r->sqn[i], amf);
	if (e != OMC_OK)
		omc_memzero(out, r->n * sizeof *out);
	omc_auc_resv_wipe(r);
	return e;
}

void omc_auc_resv_wipe(omc_auc_resv *r)
{
	if (!r)
		return;
	omc_aka_cred_wipe(&r->cred);
	omc_memzero(r, sizeof *r);
}

omc_err omc_auc_vectors(omc_auc *a, const char *imsi, const uint8_t amf[2], omc_aka_av *out, size_t n)
{
	OMC_ENSURE(a && amf && out && valid_imsi(imsi) && n >= 1 && n <= OMC_AUC_BATCH_MAX, OMC_ERR_BAD_ARG);
	omc_auc_resv r;
	OMC_DEFER_WIPE(r);
	OMC_TRY(omc_auc_reserve(&r, a, imsi, n));
	/* Durable before any vector is made: at once with synchronous = FULL;
	 * on a handle with group commit, after the flush. */
	omc_err e = omc_db_sync(a->db, omc_db_written(a->db));
	if (e != OMC_OK) {
		omc_auc_resv_wipe(&r);
		return e;
	}
	return omc_auc_resv_vectors(out, &r, amf);
}

omc_err omc_auc_resync(omc_auc *a, const char *imsi, const uint8_t rand[16], const uint8_t *auts, size_t auts_len,
		       bool *moved)
{
	OMC_ENSURE(a && rand && auts && moved && valid_imsi(imsi), OMC_ERR_BAD_ARG);
	*moved = false;
	sub_row r;
	OMC_DEFER_WIPE(r);
	OMC_TRY(omc_db_run(a->db, "BEGIN IMMEDIATE"));
	omc_err e = load(&r, a, imsi);
	uint64_t sqn_ms = 0;
	if (e == OMC_OK)
		e = omc_aka_resync(&sqn_ms, moved, &r.he, &r.cred, rand, auts, auts_len);
	if (e == OMC_OK && *moved)
		e = store_he(a, imsi, &r.he);
	if (e == OMC_OK)
		e = omc_db_run(a->db, "COMMIT");
	if (e != OMC_OK) {
		rollback(a);
		*moved = false;
	}
	omc_aka_cred_wipe(&r.cred);
	return e;
}

omc_err omc_auc_disable(omc_auc *a, const char *imsi)
{
	OMC_ENSURE(a && valid_imsi(imsi), OMC_ERR_BAD_ARG);
	omc_dbs *st = NULL;
	int rc = prep(a, &st, "UPDATE auc_subscriber SET enabled = 0 WHERE imsi = ?1 AND operator = ?2");
	if (rc == OMC_DB_OK) {
		omc_dbs_bind_text(st, 1, imsi, -1);
		omc_dbs_bind_text(st, 2, a->op, -1);
		rc = omc_dbs_step(st);
	}
	omc_db_done(a->db, st);
	OMC_ENSURE(rc == OMC_DB_DONE, omc_db_err(rc));
	OMC_ENSURE(omc_db_changes(a->db) == 1, OMC_ERR_NOT_FOUND);
	return OMC_OK;
}

omc_err omc_auc_info_get(omc_auc *a, const char *imsi, omc_auc_info *info)
{
	OMC_ENSURE(a && info && valid_imsi(imsi), OMC_ERR_BAD_ARG);
	memset(info, 0, sizeof *info);
	omc_dbs *st = NULL;
	int rc = prep(a, &st,
				    "SELECT alg, seq_he, enabled, (SELECT count(*) FROM auc_av_log l WHERE l.imsi = s.imsi),"
				    " expires, profile"
				    " FROM auc_subscriber s WHERE imsi = ?1 AND operator = ?2");
	omc_err e = rc == OMC_DB_OK ? OMC_OK : omc_db_err(rc);
	if (e == OMC_OK) {
		omc_dbs_bind_text(st, 1, imsi, -1);
		omc_dbs_bind_text(st, 2, a->op, -1);
		rc = omc_dbs_step(st);
		e = rc == OMC_DB_ROW ? OMC_OK : rc == OMC_DB_DONE ? OMC_ERR_NOT_FOUND : omc_db_err(rc);
	}
	if (e == OMC_OK) {
		const char *alg = (const char *)omc_dbs_column_text(st, 0);
		info->alg = alg && !strcmp(alg, "tuak") ? OMC_AKA_ALG_TUAK : OMC_AKA_ALG_MILENAGE;
		info->seq_he = (uint64_t)omc_dbs_column_int64(st, 1);
		info->enabled = omc_dbs_column_int(st, 2) != 0;
		info->avs_issued = (uint64_t)omc_dbs_column_int64(st, 3);
		info->expires = (int64_t)omc_dbs_column_int64(st, 4);
		const char *prof = (const char *)omc_dbs_column_text(st, 5);
		snprintf(info->profile, sizeof info->profile, "%s", prof ? prof : "{}");
		memcpy(info->imsi, imsi, strlen(imsi) + 1);
	}
	omc_db_done(a->db, st);
	return e;
}

omc_err omc_auc_cred_get(omc_auc *a, const char *imsi, omc_aka_cred *cred)
{
	OMC_ENSURE(a && cred && valid_imsi(imsi), OMC_ERR_BAD_ARG);
	sub_row r;
	OMC_DEFER_WIPE(r);
	omc_err e = load(&r, a, imsi);
	if (e == OMC_OK)
		*cred = r.cred;
	omc_aka_cred_wipe(&r.cred);
	return e;
}
