/* openmcim: the protected access link (SEC-11). After AKA the device and
 * the VNO hold the same KASME (TS 33.401 Annex A.2) and the NAS keys of
 * Annex A.7; the device's traffic through the VNO travels in frames
 * ciphered with 128-EEA2 (AES-128-CTR, Annex B.1.3) and integrity
 * protected with 128-EIA2 (AES-CMAC, Annex B.2.3), each with its COUNT,
 * BEARER and DIRECTION; the receiver refuses a replayed, reordered beyond
 * its window, or modified frame. The frame format is in docs/link.md.
 *
 * Contexts are caller-allocated, fixed-size, without interior pointers;
 * omc_link_wipe wipes one. OpenSSL does the AES (EVP aes-128-ctr, EVP_MAC
 * CMAC). */
#ifndef OPENMCIM_LINK_H
#define OPENMCIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openmcim/common.h"
#include "openmcim/err.h"

#define OMC_LINK_KEY_LEN 16
#define OMC_LINK_KASME_LEN 32
#define OMC_LINK_MAC_LEN 4
#define OMC_LINK_HDR_LEN 8
/* Payload bytes one frame carries at most. */
#define OMC_LINK_MAX_PAYLOAD 8192
#define OMC_LINK_FRAME_MAX (OMC_LINK_HDR_LEN + OMC_LINK_MAX_PAYLOAD + OMC_LINK_MAC_LEN)
/* Frames older than the highest COUNT received by this many or more are
 * refused as replays (and so is any COUNT seen before). */
#define OMC_LINK_WINDOW 64
#define OMC_LINK_VERSION 1
/* Algorithm identities of TS 33.401 5.1.3.2 and 5.1.4.2, and the algorithm
 * type distinguishers of Annex A.7 Table A.7-1. */
#define OMC_LINK_ALG_EEA2 2
#define OMC_LINK_ALG_EIA2 2
#define OMC_LINK_NAS_ENC_ALG 0x01
#define OMC_LINK_NAS_INT_ALG 0x02
#define OMC_LINK_UP_ENC_ALG 0x05

/* DIRECTION of TS 33.401 B.1.1: 0 uplink (device to network), 1 downlink. */
typedef enum omc_link_dir { OMC_LINK_UPLINK = 0, OMC_LINK_DOWNLINK = 1 } omc_link_dir;

/* 128-EEA2 (TS 33.401 B.1.3): AES-128 in counter mode from the counter
 * block COUNT[32] || BEARER[5] || DIRECTION[1] || 0^26 || 0^64. in holds
 * `bits` bits (the first bit is the most significant of in[0]); out gets
 * (bits + 7) / 8 bytes, the bits after the last zero. Encryption and
 * decryption are the same operation. out may equal in (not overlap
 * otherwise). bearer 0..31, direction 0..1. */
OMC_API OMC_MUST_USE omc_err omc_link_eea2(uint8_t *out, const uint8_t key[OMC_STATIC_LEN(OMC_LINK_KEY_LEN)],
					   uint32_t count, uint8_t bearer, uint8_t direction, const uint8_t *in,
					   size_t bits);

/* 128-EIA2 (TS 33.401 B.2.3): the 32 most significant bits of AES-CMAC
 * (NIST SP 800-38B) over COUNT[32] || BEARER[5] || DIRECTION[1] || 0^26 ||
 * MESSAGE, MESSAGE being `bits` bits of msg (bits after the last ignored). */
OMC_API OMC_MUST_USE omc_err omc_link_eia2(uint8_t mac[OMC_STATIC_LEN(OMC_LINK_MAC_LEN)],
					   const uint8_t key[OMC_STATIC_LEN(OMC_LINK_KEY_LEN)], uint32_t count,
					   uint8_t bearer, uint8_t direction, const uint8_t *msg, size_t bits);

/* KASME (TS 33.401 A.2) from CK and IK of 16 bytes each, the serving
 * network's PLMN identity (omc_aka_plmn_encode) and SQN xor AK (the first
 * 6 bytes of AUTN). OMC_ERR_UNSUPPORTED for other CK/IK lengths (TUAK's
 * 256-bit keys: TS 33.401 defines KASME for 128-bit CK and IK only). */
OMC_API OMC_MUST_USE omc_err omc_link_kasme(uint8_t kasme[OMC_STATIC_LEN(OMC_LINK_KASME_LEN)], const uint8_t *ck,
					    size_t ck_len, const uint8_t *ik, size_t ik_len,
					    const uint8_t plmn[OMC_STATIC_LEN(3)], const uint8_t sqn_xor_ak[OMC_STATIC_LEN(6)]);

/* The keys of TS 33.401 A.7 for EEA2 and EIA2. */
typedef struct omc_link_keys {
	uint8_t nas_enc[OMC_LINK_KEY_LEN]; /* KNASenc: distinguisher 0x01, EEA2 */
	uint8_t nas_int[OMC_LINK_KEY_LEN]; /* KNASint: distinguisher 0x02, EIA2 */
	uint8_t up_enc[OMC_LINK_KEY_LEN];  /* KUPenc: distinguisher 0x05, EEA2 */
} omc_link_keys;

OMC_API OMC_MUST_USE omc_err omc_link_keys_derive(omc_link_keys *k,
						  const uint8_t kasme[OMC_STATIC_LEN(OMC_LINK_KASME_LEN)]);

/* One end of the link: it sends in direction `self` and receives frames of
 * the other direction, all on one bearer. */
typedef struct omc_link {
	omc_link_keys keys;
	uint8_t bearer;   /* 0..31 */
	uint8_t self;     /* omc_link_dir this end sends */
	bool ready;       /* keys set */
	bool tx_done;     /* COUNT 2^32 - 1 was sent: no more frames, attach again */
	uint32_t tx_next; /* COUNT of the next frame sent */
	bool rx_any;      /* a frame was accepted */
	uint32_t rx_top;  /* the highest COUNT accepted */
	uint64_t rx_seen; /* bit i: COUNT rx_top - i accepted */
} omc_link;

/* Keys from KASME (A.7), both COUNTs at 0. */
OMC_API OMC_MUST_USE omc_err omc_link_init(omc_link *l, const uint8_t kasme[OMC_STATIC_LEN(OMC_LINK_KASME_LEN)],
					   uint8_t bearer, omc_link_dir self) OMC_NONNULL(1, 2);

/* Protect pt_len bytes (at most OMC_LINK_MAX_PAYLOAD) into frame (cap
 * bytes; pt_len + OMC_LINK_HDR_LEN + OMC_LINK_MAC_LEN needed); *frame_len
 * its length. Uses up one COUNT. pt and frame must not overlap.
 * OMC_ERR_EXHAUSTED once every COUNT was used. */
OMC_API OMC_MUST_USE omc_err omc_link_seal(omc_link *l, uint8_t *frame, size_t cap, size_t *frame_len,
					   const uint8_t *pt, size_t pt_len) OMC_NONNULL(1, 2, 4);

/* Check and open a frame of the peer: pt (cap bytes) gets the payload,
 * *pt_len its length, *count (may be NULL) its COUNT. Refusals, in the
 * order they are checked, each leaving the link and pt unchanged:
 *   OMC_ERR_TRUNCATED / OMC_ERR_BAD_FORMAT  not a frame of this version
 *   OMC_ERR_LINK_DIRECTION                  not the peer's direction
 *   OMC_ERR_LINK_BEARER                     another bearer
 *   OMC_ERR_LINK_REPLAY                     COUNT seen, or below the window
 *   OMC_ERR_MAC_FAILURE                     modified, or another key
 *   OMC_ERR_NO_SPACE                        pt too small
 * frame and pt must not overlap. */
OMC_API OMC_MUST_USE omc_err omc_link_open(omc_link *l, uint8_t *pt, size_t cap, size_t *pt_len, uint32_t *count,
					   const uint8_t *frame, size_t frame_len) OMC_NONNULL(1, 4, 6);

OMC_API void omc_link_wipe(omc_link *l);

#endif
