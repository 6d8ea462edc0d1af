/* openmcim: the AKA engine.
 *
 * The 3GPP authentication algorithm sets and what surrounds them:
 *   - MILENAGE (TS 35.205, 35.206): f1, f1*, f2, f3, f4, f5, f5*, OPc from
 *     OP, operator-chosen constants c1..c5 and rotations r1..r5;
 *   - TUAK (TS 35.231): the same functions on Keccak-f[1600], K of 128 or
 *     256 bits, MAC 64/128/256, RES 32/64/128/256, CK and IK 128/256 bits,
 *     TOPc from TOP, any Keccak iteration count;
 *   - authentication vectors (TS 33.102 6.3.2), the USIM-side check of a
 *     challenge, AUTS generation and resynchronisation (TS 33.102 6.3.3,
 *     6.3.5), SQN management of TS 33.102 Annex C on both sides;
 *   - the key derivations of TS 33.220 Annex B, TS 33.401 Annex A, and
 *     TS 33.402 (CK', IK' for EAP-AKA', RFC 5448);
 *   - a batch path for authentication centres: N vectors for N subscribers,
 *     each with its own K, in one call.
 *
 * Nothing here allocates. Every secret the engine holds on its stack is wiped
 * before it returns, on every path. Contexts holding K (omc_aka_milenage,
 * omc_aka_tuak, omc_aka_cred) are caller-allocated and must be wiped with
 * their _wipe function. Outputs come first; any optional output may be NULL.
 * Unless a function says otherwise, outputs must not overlap inputs.
 *
 * Byte strings are big-endian as in the specifications: SQN[0] holds bits
 * 47..40 of SQN, and so on. */
#ifndef OPENMCIM_AKA_H
#define OPENMCIM_AKA_H

#include <stdbool.h>

#include "openmcim/common.h"
#include "openmcim/err.h"

#define OMC_AKA_RAND_LEN 16
#define OMC_AKA_SQN_LEN 6
#define OMC_AKA_AMF_LEN 2
#define OMC_AKA_AK_LEN 6
#define OMC_AKA_MAX_MAC_LEN 32
#define OMC_AKA_MAX_RES_LEN 32
#define OMC_AKA_MAX_KEY_LEN 32 /* CK, IK */
#define OMC_AKA_MAX_AUTN_LEN (OMC_AKA_SQN_LEN + OMC_AKA_AMF_LEN + OMC_AKA_MAX_MAC_LEN)
#define OMC_AKA_MAX_AUTS_LEN (OMC_AKA_SQN_LEN + OMC_AKA_MAX_MAC_LEN)

/* ======================================================================
 * MILENAGE (TS 35.206)
 * ====================================================================== */

/* The operator-chosen constants of TS 35.206 section 4.1: c1..c5 (128 bits)
 * and r1..r5 (rotations, 0..127 bits towards the most significant bit). */
typedef struct omc_aka_milenage_consts {
	uint8_t c[5][16];
	uint8_t r[5];
} omc_aka_milenage_consts;

/* The values TS 35.206 gives: c1 = 0, c2 = 1, c3 = 2, c4 = 4, c5 = 8;
 * r1 = 64, r2 = 0, r3 = 32, r4 = 64, r5 = 96. */
OMC_API void omc_aka_milenage_consts_default(omc_aka_milenage_consts *out) OMC_NONNULL(1);

/* A MILENAGE subscriber: K, OPc and the constants. Secret. */
typedef struct omc_aka_milenage {
	uint8_t k[16];
	uint8_t opc[16];
	omc_aka_milenage_consts consts;
} omc_aka_milenage;

/* consts NULL means the TS 35.206 values. OMC_ERR_BAD_ARG for r > 127. */
OMC_API OMC_MUST_USE omc_err omc_aka_milenage_init(omc_aka_milenage *m, const uint8_t k[OMC_STATIC_LEN(16)],
						    const uint8_t opc[OMC_STATIC_LEN(16)],
						    const omc_aka_milenage_consts *consts) OMC_NONNULL(1, 2, 3);
OMC_API void omc_aka_milenage_wipe(omc_aka_milenage *m);

/* OPc = OP xor E_K(OP) (TS 35.206 4.1). opc may equal op. */
OMC_API OMC_MUST_USE omc_err omc_aka_milenage_opc(uint8_t opc[OMC_STATIC_LEN(16)], const uint8_t k[OMC_STATIC_LEN(16)],
						   const uint8_t op[OMC_STATIC_LEN(16)]) OMC_NONNULL(1, 2, 3);

/* f1 (MAC-A) and f1* (MAC-S): both come from OUT1, so one call gives either
 * or both. */
OMC_API OMC_MUST_USE omc_err omc_aka_milenage_f1(uint8_t mac_a[8], uint8_t mac_s[8], const omc_aka_milenage *m,
						  const uint8_t rand[OMC_STATIC_LEN(16)],
						  const uint8_t sqn[OMC_STATIC_LEN(6)],
						  const uint8_t amf[OMC_STATIC_LEN(2)]) OMC_NONNULL(3, 4, 5, 6);

/* f2 (RES), f3 (CK), f4 (IK), f5 (AK) and f5* (AK*): any subset. */
OMC_API OMC_MUST_USE omc_err omc_aka_milenage_f2345(uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6],
						     uint8_t ak_star[6], const omc_aka_milenage *m,
						     const uint8_t rand[OMC_STATIC_LEN(16)]) OMC_NONNULL(6, 7);

/* ======================================================================
 * TUAK (TS 35.231)
 * ====================================================================== */

/* A TUAK subscriber. Lengths are in bytes. Secret. */
typedef struct omc_aka_tuak {
	uint8_t k[32];
	uint8_t topc[32];
	uint8_t k_len;   /* 16 or 32 */
	uint8_t mac_len; /* 8, 16 or 32 */
	uint8_t res_len; /* 4, 8, 16 or 32 */
	uint8_t ck_len;  /* 16 or 32 */
	uint8_t ik_len;  /* 16 or 32 */
	uint16_t iterations; /* Keccak iterations, 1..OMC_AKA_TUAK_MAX_ITERATIONS */
} omc_aka_tuak;

#define OMC_AKA_TUAK_MAX_ITERATIONS 65535

/* Lengths in bits, as the specification and the CLI state them. */
typedef struct omc_aka_tuak_params {
	unsigned mac_bits;   /* 64, 128, 256 */
	unsigned res_bits;   /* 32, 64, 128, 256 */
	unsigned ck_bits;    /* 128, 256 */
	unsigned ik_bits;    /* 128, 256 */
	unsigned iterations; /* >= 1 */
} omc_aka_tuak_params;

/* MAC 64, RES 64, CK 128, IK 128, one iteration: the lengths a 3G/LTE USIM
 * exchanges. */
OMC_API void omc_aka_tuak_params_default(omc_aka_tuak_params *p) OMC_NONNULL(1);

/* OMC_ERR_BAD_ARG (or BAD_LENGTH for k_len) for any value outside the lists. */
OMC_API OMC_MUST_USE omc_err omc_aka_tuak_init(omc_aka_tuak *t, const uint8_t *k, size_t k_len,
						const uint8_t topc[OMC_STATIC_LEN(32)],
						const omc_aka_tuak_params *p) OMC_NONNULL(1, 2, 4, 5);
OMC_API void omc_aka_tuak_wipe(omc_aka_tuak *t);

/* TOPc from TOP (TS 35.231 6.2). topc may equal top. */
OMC_API OMC_MUST_USE omc_err omc_aka_tuak_topc(uint8_t topc[OMC_STATIC_LEN(32)], const uint8_t *k, size_t k_len,
						const uint8_t top[OMC_STATIC_LEN(32)], unsigned iterations)
	OMC_NONNULL(1, 2, 4);

/* f1 (MAC-A) and f1* (MAC-S), each t->mac_len bytes; either may be NULL.
 * TUAK computes them with separate permutations. */
OMC_API OMC_MUST_USE omc_err omc_aka_tuak_f1(uint8_t *mac_a, uint8_t *mac_s, const omc_aka_tuak *t,
					      const uint8_t rand[OMC_STATIC_LEN(16)],
					      const uint8_t sqn[OMC_STATIC_LEN(6)],
					      const uint8_t amf[OMC_STATIC_LEN(2)]) OMC_NONNULL(3, 4, 5, 6);
/* f2 (RES, res_len), f3 (CK, ck_len), f4 (IK, ik_len), f5 (AK): one
 * permutation; f5* (AK*) needs another and is computed only if asked for. */
OMC_API OMC_MUST_USE omc_err omc_aka_tuak_f2345(uint8_t *res, uint8_t *ck, uint8_t *ik, uint8_t ak[6],
						 uint8_t ak_star[6], const omc_aka_tuak *t,
						 const uint8_t rand[OMC_STATIC_LEN(16)]) OMC_NONNULL(6, 7);

/* ======================================================================
 * Either algorithm: credentials, vectors, the USIM-side check
 * ====================================================================== */

typedef enum omc_aka_alg {
	OMC_AKA_ALG_MILENAGE = 1,
	OMC_AKA_ALG_TUAK = 2,
} omc_aka_alg;

/* "milenage" or "tuak"; NULL for an unknown value. */
OMC_API const char *omc_aka_alg_name(omc_aka_alg alg);

/* A subscriber's long-term credential, as an AuC or a USIM holds it. Secret. */
typedef struct omc_aka_cred {
	omc_aka_alg alg;
	union {
		omc_aka_milenage milenage;
		omc_aka_tuak tuak;
	} u;
} omc_aka_cred;

OMC_API void omc_aka_cred_wipe(omc_aka_cred *c);
OMC_API size_t omc_aka_cred_mac_len(const omc_aka_cred *c) OMC_NONNULL(1);
OMC_API size_t omc_aka_cred_res_len(const omc_aka_cred *c) OMC_NONNULL(1);
OMC_API size_t omc_aka_cred_ck_len(const omc_aka_cred *c) OMC_NONNULL(1);
OMC_API size_t omc_aka_cred_ik_len(const omc_aka_cred *c) OMC_NONNULL(1);

/* Every output of the algorithm set for one (RAND, SQN, AMF), with AUTN.
 * Lengths in bytes. Holds keys: wipe after use. */
typedef struct omc_aka_outputs {
	uint8_t mac_a[OMC_AKA_MAX_MAC_LEN];
	uint8_t mac_s[OMC_AKA_MAX_MAC_LEN];
	uint8_t res[OMC_AKA_MAX_RES_LEN];
	uint8_t ck[OMC_AKA_MAX_KEY_LEN];
	uint8_t ik[OMC_AKA_MAX_KEY_LEN];
	uint8_t ak[OMC_AKA_AK_LEN];
	uint8_t ak_star[OMC_AKA_AK_LEN];
	uint8_t autn[OMC_AKA_MAX_AUTN_LEN];
	uint8_t mac_len, res_len, ck_len, ik_len, autn_len;
} omc_aka_outputs;

OMC_API OMC_MUST_USE omc_err omc_aka_outputs_gen(omc_aka_outputs *out, const omc_aka_cred *c,
						  const uint8_t rand[OMC_STATIC_LEN(16)],
						  const uint8_t sqn[OMC_STATIC_LEN(6)],
						  const uint8_t amf[OMC_STATIC_LEN(2)]) OMC_NONNULL(1, 2, 3, 4, 5);

/* An authentication vector (TS 33.102 6.3.2): RAND, XRES, CK, IK and
 * AUTN = (SQN xor AK) || AMF || MAC-A. Holds keys: wipe after use. */
typedef struct omc_aka_av {
	uint8_t rand[OMC_AKA_RAND_LEN];
	uint8_t xres[OMC_AKA_MAX_RES_LEN];
	uint8_t ck[OMC_AKA_MAX_KEY_LEN];
	uint8_t ik[OMC_AKA_MAX_KEY_LEN];
	uint8_t autn[OMC_AKA_MAX_AUTN_LEN];
	uint8_t xres_len, ck_len, ik_len, autn_len;
} omc_aka_av;

OMC_API OMC_MUST_USE omc_err omc_aka_av_gen(omc_aka_av *av, const omc_aka_cred *c,
					     const uint8_t rand[OMC_STATIC_LEN(16)],
					     const uint8_t sqn[OMC_STATIC_LEN(6)],
					     const uint8_t amf[OMC_STATIC_LEN(2)]) OMC_NONNULL(1, 2, 3, 4, 5);

/* ======================================================================
 * SQN management (TS 33.102 Annex C)
 *
 * SQN (48 bits) = SEQ || IND, IND the ind_bits least significant bits.
 * ====================================================================== */

#define OMC_AKA_IND_BITS_DEFAULT 5
#define OMC_AKA_IND_BITS_MAX 8
#define OMC_AKA_SEQ_DELTA_DEFAULT (UINT64_C(1) << 28) /* Annex C.2.2 */

/* The USIM's state (Annex C.2): the array SEQ_MS(i), one entry per IND.
 * Not secret, but integrity-relevant: the TRE stores it with the MCIM. */
typedef struct omc_aka_sqn_ms {
	uint64_t seq[1u << OMC_AKA_IND_BITS_MAX];
	uint8_t ind_bits;
	uint64_t delta; /* Δ: largest accepted jump above the highest SEQ_MS (C.2.2) */
	uint64_t age_limit; /* L: largest accepted distance below it (C.2.2); 0: no limit */
} omc_aka_sqn_ms;

/* A fresh USIM: every SEQ_MS(i) = 0. ind_bits 0..OMC_AKA_IND_BITS_MAX.
 * delta = 0 means OMC_AKA_SEQ_DELTA_DEFAULT; age_limit = 0 means no limit. */
OMC_API OMC_MUST_USE omc_err omc_aka_sqn_ms_init(omc_aka_sqn_ms *s, unsigned ind_bits, uint64_t delta,
						  uint64_t age_limit) OMC_NONNULL(1);
/* The highest SEQ accepted so far, and SQN_MS as AUTS carries it ("the
 * highest previously accepted sequence number", Annex C.2.2): that SEQ with
 * the IND it was accepted under (the highest IND among equal SEQ); 0 while
 * nothing has been accepted. */
OMC_API uint64_t omc_aka_sqn_ms_highest_seq(const omc_aka_sqn_ms *s) OMC_NONNULL(1);
OMC_API uint64_t omc_aka_sqn_ms_sqn(const omc_aka_sqn_ms *s) OMC_NONNULL(1);
/* Would the USIM accept this SQN? (Annex C.2.2.) Does not change state. */
OMC_API bool omc_aka_sqn_ms_acceptable(const omc_aka_sqn_ms *s, uint64_t sqn) OMC_NONNULL(1);
/* A USIM that has accepted every SQN up to and including sqn (and no more):
 * afterwards exactly the SQNs above sqn (within Δ) are acceptable. For an
 * MCIM whose SQN history starts elsewhere, and for `aka check --sqn-ms`. */
OMC_API OMC_MUST_USE omc_err omc_aka_sqn_ms_set_floor(omc_aka_sqn_ms *s, uint64_t sqn) OMC_NONNULL(1);
/* Record an accepted SQN: SEQ_MS(IND) := SEQ. */
OMC_API OMC_MUST_USE omc_err omc_aka_sqn_ms_accept(omc_aka_sqn_ms *s, uint64_t sqn) OMC_NONNULL(1);

/* The AuC's state for one subscriber (Annex C.1.1, C.1.2, C.3): SEQ_HE and
 * the IND allocation (a cyclic counter, C.1.2). */
typedef struct omc_aka_sqn_he {
	uint64_t seq;      /* SEQ_HE: the SEQ of the last vector issued */
	uint32_t next_ind; /* IND for the next vector */
	uint8_t ind_bits;
} omc_aka_sqn_he;

OMC_API OMC_MUST_USE omc_err omc_aka_sqn_he_init(omc_aka_sqn_he *s, unsigned ind_bits, uint64_t seq)
	OMC_NONNULL(1);
/* The next SQN: SEQ_HE + 1 with the next IND. OMC_ERR_EXHAUSTED once SEQ
 * would leave its 48 - ind_bits bits (the AuC must never wrap: C.3). */
OMC_API OMC_MUST_USE omc_err omc_aka_sqn_he_next(uint8_t sqn[OMC_STATIC_LEN(6)], omc_aka_sqn_he *s)
	OMC_NONNULL(1, 2);
/* Reserve count consecutive SEQ values at once (an AuC's batch or its
 * durable range): *first_seq gets the first; SEQ_HE moves past the range. */
OMC_API OMC_MUST_USE omc_err omc_aka_sqn_he_reserve(uint64_t *first_seq, omc_aka_sqn_he *s, uint64_t count)
	OMC_NONNULL(1, 2);

/* ======================================================================
 * The USIM side of a challenge (TS 33.102 6.3.3) and resynchronisation
 * ====================================================================== */

typedef enum omc_aka_status {
	OMC_AKA_STATUS_OK = 0,
	OMC_AKA_STATUS_SYNC_FAILURE = 1,
	OMC_AKA_STATUS_MAC_FAILURE = 2,
} omc_aka_status;

typedef struct omc_aka_check_result {
	omc_aka_status status;
	uint8_t res[OMC_AKA_MAX_RES_LEN]; /* OK */
	uint8_t ck[OMC_AKA_MAX_KEY_LEN];  /* OK */
	uint8_t ik[OMC_AKA_MAX_KEY_LEN];  /* OK */
	uint8_t sqn[OMC_AKA_SQN_LEN];     /* OK: the SQN accepted */
	uint8_t auts[OMC_AKA_MAX_AUTS_LEN]; /* SYNC_FAILURE */
	uint8_t res_len, ck_len, ik_len, auts_len;
} omc_aka_check_result;

/* Verify (RAND, AUTN) as a USIM does: recover SQN with AK = f5(RAND), check
 * MAC-A = f1 (constant time), then the SQN against state (Annex C.2.2).
 * Returns OMC_OK with out->status:
 *   OK            RES, CK, IK filled; state records SQN;
 *   SYNC_FAILURE  AUTS = (SQN_MS xor AK*) || MAC-S filled; state unchanged;
 *   MAC_FAILURE   nothing else; state unchanged.
 * An error return (wrong AUTN length, bad arguments) means no verdict. */
OMC_API OMC_MUST_USE omc_err omc_aka_check(omc_aka_check_result *out, omc_aka_sqn_ms *state,
					    const omc_aka_cred *c, const uint8_t rand[OMC_STATIC_LEN(16)],
					    const uint8_t *autn, size_t autn_len) OMC_NONNULL(1, 2, 3, 4, 5);

/* AUTS for the USIM's current SQN_MS (TS 33.102 6.3.3): (SQN_MS xor
 * f5*(RAND)) || f1*(SQN_MS, RAND, AMF = 0000). *auts_len = 6 + MAC length. */
OMC_API OMC_MUST_USE omc_err omc_aka_auts_gen(uint8_t auts[OMC_AKA_MAX_AUTS_LEN], size_t *auts_len,
					       const omc_aka_cred *c, const omc_aka_sqn_ms *state,
					       const uint8_t rand[OMC_STATIC_LEN(16)]) OMC_NONNULL(1, 2, 3, 4, 5);

/* The AuC's side of resynchronisation (TS 33.102 6.3.5, Annex C.3.4):
 * verify MAC-S of AUTS (constant time; OMC_ERR_MAC_FAILURE if wrong), recover
 * SQN_MS into *sqn_ms, and if the next SQN the AuC would issue is not
 * acceptable to the USIM, set SEQ_HE := SEQ_MS. *moved tells which. */
OMC_API OMC_MUST_USE omc_err omc_aka_resync(uint64_t *sqn_ms, bool *moved, omc_aka_sqn_he *he,
					     const omc_aka_cred *c, const uint8_t rand[OMC_STATIC_LEN(16)],
					     const uint8_t *auts, size_t auts_len) OMC_NONNULL(1, 2, 3, 4, 5, 6);

/* ======================================================================
 * Batch path for authentication centres (MILENAGE)
 * ====================================================================== */

/* One subscriber's inputs and its vector's outputs. */
typedef struct omc_aka_milenage_batch_in {
	uint8_t k[16];
	uint8_t opc[16];
	uint8_t rand[16];
	uint8_t sqn[6];
	uint8_t amf[2];
} omc_aka_milenage_batch_in;

typedef struct omc_aka_milenage_batch_out {
	uint8_t xres[8];
	uint8_t ck[16];
	uint8_t ik[16];
	uint8_t autn[16];
} omc_aka_milenage_batch_out;

typedef enum omc_aka_impl {
	OMC_AKA_IMPL_AUTO = 0,    /* the fastest this CPU runs */
	OMC_AKA_IMPL_OPENSSL = 1, /* one vector at a time through OpenSSL */
	OMC_AKA_IMPL_AESNI = 2,   /* AES-NI, 8 subscribers interleaved */
	OMC_AKA_IMPL_VAES = 3,    /* VAES on 512-bit registers, 16 interleaved */
	OMC_AKA_IMPL_VAES256 = 4, /* VAES on 256-bit registers (AVX2), 8 interleaved */
} omc_aka_impl;
#define OMC_AKA_IMPL_LAST OMC_AKA_IMPL_VAES256

/* "auto", "openssl", "aesni", "vaes", "vaes256". */
OMC_API const char *omc_aka_impl_name(omc_aka_impl impl);
/* Whether this CPU (and build) can run impl. */
OMC_API bool omc_aka_impl_available(omc_aka_impl impl);
/* What OMC_AKA_IMPL_AUTO resolves to here. */
OMC_API omc_aka_impl omc_aka_impl_auto(void);

/* n vectors for n subscribers; consts NULL means the TS 35.206 values (one
 * set per batch: a batch belongs to one operator). Rotations that are not
 * multiples of 8 bits run on the OpenSSL path. OMC_ERR_UNSUPPORTED if impl
 * is not available. out and in must not overlap. */
OMC_API OMC_MUST_USE omc_err omc_aka_milenage_batch(omc_aka_milenage_batch_out *out,
						     const omc_aka_milenage_batch_in *in, size_t n,
						     const omc_aka_milenage_consts *consts, omc_aka_impl impl);

/* ======================================================================
 * Batch path for authentication centres (TUAK)
 * ====================================================================== */

/* One TUAK subscriber's inputs: a 128-bit K and its TOPc. */
typedef struct omc_aka_tuak_batch_in {
	uint8_t k[16];
	uint8_t topc[32];
	uint8_t rand[16];
	uint8_t sqn[6];
	uint8_t amf[2];
} omc_aka_tuak_batch_in;

/* XRES, CK, IK, AUTN: the same layout as MILENAGE's. */
typedef omc_aka_milenage_batch_out omc_aka_tuak_batch_out;

/* n TUAK vectors for n subscribers with the lengths a 3G/LTE USIM exchanges
 * (MAC 64, RES 64, CK 128, IK 128; K 128) and `iterations` Keccak iterations
 * (one value per batch: a batch belongs to one operator). Each vector equals
 * omc_aka_av_gen's for the same subscriber. out and in must not overlap. */
OMC_API OMC_MUST_USE omc_err omc_aka_tuak_batch(omc_aka_tuak_batch_out *out, const omc_aka_tuak_batch_in *in,
						 size_t n, unsigned iterations);

/* ======================================================================
 * Key derivation (TS 33.220 Annex B, TS 33.401 Annex A, TS 33.402 6.4)
 * ====================================================================== */

typedef struct omc_aka_kdf_param {
	const uint8_t *ptr;
	size_t len; /* at most 65535 */
} omc_aka_kdf_param;

/* The generic KDF of TS 33.220 B.2: HMAC-SHA-256(key, FC || P0 || L0 || ...
 * || Pn || Ln), L the 2-byte length of P. At most 8 parameters. */
OMC_API OMC_MUST_USE omc_err omc_aka_kdf(uint8_t out[OMC_STATIC_LEN(32)], const uint8_t *key, size_t key_len,
					  uint8_t fc, const omc_aka_kdf_param *params, size_t n_params)
	OMC_NONNULL(1, 2);

/* PLMN identity of TS 24.008 10.5.1.13 (as in TS 33.401 A.2): MCC and MNC as
 * decimal strings (3 digits; 2 or 3 digits). */
OMC_API OMC_MUST_USE omc_err omc_aka_plmn_encode(uint8_t out[OMC_STATIC_LEN(3)], const char *mcc, const char *mnc)
	OMC_NONNULL(1, 2, 3);

/* KASME (TS 33.401 A.2): FC = 0x10, P0 = serving network id (PLMN),
 * P1 = SQN xor AK, key = CK || IK. */
OMC_API OMC_MUST_USE omc_err omc_aka_kasme(uint8_t kasme[OMC_STATIC_LEN(32)], const uint8_t ck[OMC_STATIC_LEN(16)],
					    const uint8_t ik[OMC_STATIC_LEN(16)], const uint8_t plmn[OMC_STATIC_LEN(3)],
					    const uint8_t sqn_xor_ak[OMC_STATIC_LEN(6)]) OMC_NONNULL(1, 2, 3, 4, 5);

/* Algorithm keys from KASME (TS 33.401 A.7): FC = 0x15, P0 = algorithm type
 * distinguisher, P1 = algorithm identity; the 128 least significant bits. */
#define OMC_AKA_ALG_NAS_ENC 0x01
#define OMC_AKA_ALG_NAS_INT 0x02
#define OMC_AKA_ALG_RRC_ENC 0x03
#define OMC_AKA_ALG_RRC_INT 0x04
#define OMC_AKA_ALG_UP_ENC 0x05
#define OMC_AKA_ALG_UP_INT 0x06
OMC_API OMC_MUST_USE omc_err omc_aka_kdf_alg_key(uint8_t key[OMC_STATIC_LEN(16)],
						  const uint8_t kasme[OMC_STATIC_LEN(32)], uint8_t type_distinguisher,
						  uint8_t alg_id) OMC_NONNULL(1, 2);

/* CK' and IK' (TS 33.402 A.2, RFC 5448 3.3): FC = 0x20, P0 = access network
 * identity, P1 = SQN xor AK; CK' the first 128 bits of the output, IK' the
 * last. */
OMC_API OMC_MUST_USE omc_err omc_aka_ck_ik_prime(uint8_t ck_prime[OMC_STATIC_LEN(16)],
						  uint8_t ik_prime[OMC_STATIC_LEN(16)],
						  const uint8_t ck[OMC_STATIC_LEN(16)], const uint8_t ik[OMC_STATIC_LEN(16)],
						  const char *net_name, size_t net_name_len,
						  const uint8_t sqn_xor_ak[OMC_STATIC_LEN(6)]) OMC_NONNULL(1, 2, 3, 4, 5, 7);

#endif
