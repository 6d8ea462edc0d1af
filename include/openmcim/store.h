/* openmcim: the TRE's secure object store.
 *
 * A small key-value store of named objects (an MCIM record, the user table,
 * the TRE state...) that is
 *   - confidential and authentic: every object is AES-256-GCM encrypted
 *     under its own random key (FEK); the FEKs live in the root record,
 *     itself AES-256-GCM encrypted under a key derived (HKDF-SHA-256) from
 *     the device root key;
 *   - atomic: a commit applies any number of puts and deletes, and after a
 *     power cut at any single write, sync or rename the store holds exactly
 *     the old state or the new one;
 *   - rollback-protected: each commit has a generation tied to a monotonic
 *     counter (the anti-rollback device, ARD). A root older than the counter
 *     is a rollback: the store refuses to open (OMC_ERR_ROLLBACK) and the
 *     caller locks the TRE down;
 *   - honest about corruption: files present but no valid root is
 *     OMC_ERR_CORRUPT, never a silent reset;
 *   - crypto-erasing: a commit with OMC_STORE_ERASE leaves no copy of a
 *     deleted object's FEK or ciphertext in either root slot.
 *
 * The on-disk format is in docs/store.md. All file access goes through an
 * omc_store_io backend: POSIX files by default, or an in-memory file system
 * that models power loss (unsynced writes lost or torn) for the crash tests
 * and the fleet simulator.
 *
 * The ARD holds the monotonic counter and sticky flags (the TRE's lockdown
 * flag lives there, so it can be set even when the store itself is corrupt).
 * The software ARD keeps them in two MAC'd files (A/B); a TPM NV counter can
 * implement the same interface later. */
#ifndef OPENMCIM_STORE_H
#define OPENMCIM_STORE_H

#include <stdbool.h>

#include "openmcim/common.h"
#include "openmcim/err.h"
#include "openmcim/util.h"

#define OMC_STORE_ID_MAX 64            /* object id: [A-Za-z0-9._/-], 1..64 bytes */
#define OMC_STORE_OBJ_MAX (256 * 1024) /* one object's plaintext */
#define OMC_STORE_MAX_OBJECTS 1024

/* ---------------------------------------------------------------------------
 * File I/O backend. Paths are relative to the store directory given at open
 * ("root.a", "arb.b", ...). Every call returns OMC_OK or OMC_ERR_IO (or
 * OMC_ERR_NOT_FOUND where said). A backend may be shared by several stores
 * only if its ctx is thread-safe; the provided ones are not.
 * ------------------------------------------------------------------------- */
typedef struct omc_store_io {
	/* Whole file into a buffer from omc_alloc (caller omc_free's it);
	 * OMC_ERR_NOT_FOUND if absent. */
	omc_err (*read)(void *ctx, const char *path, uint8_t **data, size_t *len);
	/* Write len bytes at off, creating the file (mode 0600) if absent and
	 * extending it if needed. Not durable until sync. */
	omc_err (*pwrite)(void *ctx, const char *path, uint64_t off, const uint8_t *data, size_t len);
	/* Make the file's contents durable (fdatasync). */
	omc_err (*sync)(void *ctx, const char *path);
	/* Atomically replace `to` by `from` (rename(2)); durable after sync_dir. */
	omc_err (*rename)(void *ctx, const char *from, const char *to);
	omc_err (*unlink)(void *ctx, const char *path);
	/* Make renames, creations and unlinks in directory `dir` durable ("" is
	 * the store directory itself). */
	omc_err (*sync_dir)(void *ctx, const char *dir);
	omc_err (*mkdir)(void *ctx, const char *dir);
	/* OMC_OK if the path exists (file or directory), else OMC_ERR_NOT_FOUND. */
	omc_err (*exists)(void *ctx, const char *path);
	void *ctx;
} omc_store_io;

/* POSIX files under base_dir (created by the caller). The returned io owns
 * a copy of base_dir; free with omc_store_io_posix_free. */
OMC_API OMC_MUST_USE omc_err omc_store_io_posix_new(omc_store_io **io, const char *base_dir);
OMC_API void omc_store_io_posix_free(omc_store_io *io);

/* An in-memory file system with a durability model: data written but not
 * synced (and renames not followed by sync_dir) may be lost at a simulated
 * power cut. Shared by several stores (one per subdirectory) in the fleet
 * simulator. */
typedef struct omc_memfs omc_memfs;
OMC_API OMC_MUST_USE omc_err omc_memfs_new(omc_memfs **fs);
OMC_API void omc_memfs_free(omc_memfs *fs);
/* An io backend rooted at base ("" or "dev17/") inside fs; free with
 * omc_store_io_mem_free. */
OMC_API OMC_MUST_USE omc_err omc_store_io_mem_new(omc_store_io **io, omc_memfs *fs, const char *base);
OMC_API void omc_store_io_mem_free(omc_store_io *io);

/* Fault injection (tests): count the mutating operations (pwrite, sync,
 * rename, unlink, sync_dir, mkdir) and, when the count reaches crash_at
 * (1 = the first one after this call; 0 disarms), simulate a power cut just
 * before that operation: every operation from then on fails with
 * OMC_ERR_IO, and the durable state is what survived, per `mode`. */
typedef enum omc_memfs_crash_mode {
	OMC_MEMFS_LOSE_UNSYNCED = 0, /* unsynced writes and renames are lost */
	OMC_MEMFS_KEEP_UNSYNCED = 1, /* they all happened */
	OMC_MEMFS_TEAR_UNSYNCED = 2, /* each unsynced write survives, is lost, or is torn
				       by 512-byte sectors (new, old or garbage), chosen
				       by `seed` (docs/store.md) */
} omc_memfs_crash_mode;
OMC_API void omc_memfs_crash_at(omc_memfs *fs, unsigned long crash_at, omc_memfs_crash_mode mode, uint64_t seed);
/* Mutating operations counted so far (since creation or the last reboot). */
OMC_API unsigned long omc_memfs_op_count(const omc_memfs *fs);
/* Per-kind counters for the benchmark (fsyncs per commit and so on). */
typedef struct omc_memfs_stats {
	unsigned long pwrite, sync, rename, unlink, sync_dir, mkdir;
	unsigned long bytes_written;
} omc_memfs_stats;
OMC_API void omc_memfs_stats_get(const omc_memfs *fs, omc_memfs_stats *st);
/* After a crash: apply the durability model, clear the crash, and let I/O
 * work again (as a reboot would). Without a pending crash: drop unsynced
 * data as a power cut would. */
OMC_API void omc_memfs_reboot(omc_memfs *fs);
/* Test access to raw bytes (tamper tests): read or overwrite a file's
 * durable content directly. */
OMC_API OMC_MUST_USE omc_err omc_memfs_raw_get(omc_memfs *fs, const char *path, uint8_t **data, size_t *len);
OMC_API OMC_MUST_USE omc_err omc_memfs_raw_put(omc_memfs *fs, const char *path, const uint8_t *data, size_t len);
/* Every path in fs, for the tests that scan all stored bytes (NUL-separated
 * list in a buffer from omc_alloc). */
OMC_API OMC_MUST_USE omc_err omc_memfs_list(omc_memfs *fs, char **paths, size_t *len);

/* ---------------------------------------------------------------------------
 * Anti-rollback device: a monotonic counter and sticky flag bits.
 * ------------------------------------------------------------------------- */
typedef struct omc_store_ard {
	/* Current counter and flags. */
	omc_err (*read)(void *ctx, uint64_t *counter, uint32_t *flags);
	/* Raise the counter to value (> current, else OMC_ERR_BAD_ARG). */
	omc_err (*advance)(void *ctx, uint64_t value);
	/* flags |= bits (durable before it returns). */
	omc_err (*set_flags)(void *ctx, uint32_t bits);
	/* flags &= ~bits (recovery only). */
	omc_err (*clear_flags)(void *ctx, uint32_t bits);
	void *ctx;
} omc_store_ard;

#define OMC_STORE_FLAG_LOCKDOWN 0x1u

/* The software ARD: files "arb.a" and "arb.b" through io, each
 * {magic, version, own generation, counter, flags, HMAC-SHA-256 under a key
 * derived from root_key}; written A/B, newest valid wins. Any file present
 * and none valid is OMC_ERR_CORRUPT at read; both absent is
 * OMC_ERR_NOT_FOUND at read. `create` makes them (counter 0) if both are
 * absent. Free with omc_store_ard_sw_free. */
OMC_API OMC_MUST_USE omc_err omc_store_ard_sw_new(omc_store_ard **ard, omc_store_io *io,
						   const uint8_t root_key[OMC_STATIC_LEN(32)], bool create);
OMC_API void omc_store_ard_sw_free(omc_store_ard *ard);

/* ---------------------------------------------------------------------------
 * The store.
 * ------------------------------------------------------------------------- */
typedef struct omc_store omc_store;

typedef struct omc_store_opts {
	omc_store_io *io;   /* required */
	omc_store_ard *ard; /* required */
	bool create;        /* format a new store if none exists */
} omc_store_opts;

/* Whether a store exists under io (either root file present, valid or
 * not). A caller creates the software ARD only for a store that does not
 * exist: recreating the counter beside an existing store would hide a
 * rollback. */
OMC_API OMC_MUST_USE bool omc_store_exists(omc_store_io *io);

/* Open (or, with opts->create and no store present, format) the store.
 *   OMC_OK            opened; a commit interrupted after its root was
 *                     written but before the counter moved is rolled
 *                     forward (counter := root generation) and reported
 *                     through omc_store_rolled_forward();
 *   OMC_ERR_NOT_FOUND no store and !create, or no store and no counter
 *                     (create the ARD first);
 *   OMC_ERR_ROLLBACK  the newest valid root is older than the counter, or
 *                     more than one ahead of it, or one of the two is
 *                     missing beside the other (docs/store.md, the table);
 *   OMC_ERR_CORRUPT   store files exist but no root is valid (or a valid
 *                     root names objects that are missing entirely);
 *   OMC_ERR_IO, OMC_ERR_NOMEM.
 * Formatting is atomic: a crash during it leaves no store (NOT_FOUND), never
 * a corrupt one. root_key is copied; wipe yours after. */
OMC_API OMC_MUST_USE omc_err omc_store_open(omc_store **s, const uint8_t root_key[OMC_STATIC_LEN(32)],
					     const omc_store_opts *opts);
/* Wipes every key and cached plaintext. NULL is a no-op. */
OMC_API void omc_store_close(omc_store *s);

OMC_API uint64_t omc_store_generation(const omc_store *s);
/* Whether this open rolled an interrupted commit forward. */
OMC_API bool omc_store_rolled_forward(const omc_store *s);
/* Whether a commit failed part-way: every call then answers
 * OMC_ERR_BAD_STATE until the store is opened again. */
OMC_API bool omc_store_poisoned(const omc_store *s);

/* Read object `id`: *data from omc_alloc (wiped by omc_free), *len bytes.
 *   OMC_ERR_NOT_FOUND  no such object;
 *   OMC_ERR_CORRUPT    the object's bytes do not match the root (digest or
 *                      GCM tag): the caller blocks what it held (MGT-2). */
OMC_API OMC_MUST_USE omc_err omc_store_get(omc_store *s, const char *id, uint8_t **data, size_t *len);
/* Check every object against the root without returning data; calls
 * bad(arg, id) for each one that fails. Returns the number of bad ones via
 * *n_bad. */
OMC_API OMC_MUST_USE omc_err omc_store_verify(omc_store *s, void (*bad)(void *arg, const char *id), void *arg,
					       size_t *n_bad);
/* Calls fn(arg, id) for every object whose id starts with prefix ("" for
 * all), in sorted order. */
OMC_API OMC_MUST_USE omc_err omc_store_list(omc_store *s, const char *prefix,
					     void (*fn)(void *arg, const char *id), void *arg);

typedef struct omc_store_op {
	const char *id;
	const uint8_t *data; /* NULL with len 0 and del = true for a delete */
	size_t len;
	bool del;
} omc_store_op;

#define OMC_STORE_ERASE 0x1u /* deleted objects leave no trace in either slot */

/* Apply ops atomically as generation + 1: all or nothing, durable when it
 * returns OMC_OK. Deleting an absent object is OMC_ERR_NOT_FOUND (nothing
 * applied). Objects that failed verification may be overwritten or deleted.
 * After an I/O error the handle is unusable (OMC_ERR_BAD_STATE): close and
 * reopen, as after a power cut. */
OMC_API OMC_MUST_USE omc_err omc_store_commit(omc_store *s, const omc_store_op *ops, size_t n, unsigned flags);

#endif
