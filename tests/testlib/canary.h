/* The secret canary (DESIGN invariant 1, SEC-12): plant known secrets, then
 * scan every byte the system wrote or said for them, in every encoding a
 * careless line of code could use: raw, hex in either case, base64 standard
 * and URL-safe, padded or not. A secret inside a longer base64 text depends
 * on its offset modulo 3 in the encoded bytes, so each of the three
 * alignments is searched for (the characters that depend on neighbouring
 * bytes are left out). The hex and base64 needles are also searched for
 * in the text with every line break ('\n', '\r') left out, so that a
 * secret split across the lines of a PEM block or of any wrapped text is
 * found too (one more linear pass, made only over a text that has a line
 * break). Encrypted-at-rest values carry no canary: they are
 * fine. Scanning is read-only and may run on several threads at once once
 * the secrets are added. */
#ifndef OMC_TL_CANARY_H
#define OMC_TL_CANARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TL_CANARY_MAX 128
#define TL_CANARY_SECRET_MAX 64

/* The encodings searched for, one needle each (the base64 ones once per
 * alignment). */
typedef enum tl_canary_enc {
	TL_ENC_RAW,
	TL_ENC_HEX_LOWER,
	TL_ENC_HEX_UPPER,
	TL_ENC_B64_STD,     /* with or without '=': the needle has no padding */
	TL_ENC_B64_URL,
	TL_ENC_COUNT
} tl_canary_enc;

/* Plant a secret (len 8..TL_CANARY_SECRET_MAX bytes) under a name for
 * the messages. Fails the test when full. */
void tl_canary_add(const char *name, const uint8_t *secret, size_t len);
/* Plant the private scalar of every key of a PKI directory (those
 * omc_pki_load opens) and its passphrase (pki.secret). Each scalar is
 * checked to be found in its key written as plain DER, the control that
 * the right bytes were planted: those hits are counted, and also added to
 * *control_hits. Returns how many keys were planted. */
size_t tl_canary_add_pki(const char *pki, size_t *control_hits);
/* Forget every secret and every hit. */
void tl_canary_reset(void);
/* Hits of any secret in any encoding in n bytes at p; `where` names the
 * source in the message printed per hit. The total is also kept. */
size_t tl_canary_scan_buf(const char *where, const void *p, size_t n);
/* The same over one file (read whole). */
size_t tl_canary_scan_file(const char *path);
/* Every regular file under dir, recursively (SQLite -wal and -shm files
 * included); *files (may be NULL) gets how many were read. */
size_t tl_canary_scan_tree(const char *dir, size_t *files);
/* Hits since the last reset, of every scan. */
size_t tl_canary_hits(void);
/* Scans, and bytes scanned, since the last reset (to show a scan ran). */
size_t tl_canary_scans(void);
uint64_t tl_canary_bytes(void);
/* The needle of secret i in encoding enc and alignment (0..2, base64
 * only): out gets a NUL-terminated text (raw: the bytes); returns its
 * length. For tests of the scanner itself. */
size_t tl_canary_encode(char *out, size_t cap, const uint8_t *secret, size_t len, tl_canary_enc enc,
			unsigned align);

#endif
