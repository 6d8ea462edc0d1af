/* Commits (docs/store.md "Commit protocol").
 *
 * Generation g is the newest root, in slot S; g + 1 goes to the other slot T:
 *   1. objs.T := the records of the new state, back to back from offset 0:
 *      unchanged objects' record bytes copied as they are (same FEK), new or
 *      changed ones sealed under a fresh FEK; zeros over the rest of any
 *      older, longer content; fdatasync(objs.T).
 *   2. root.T := root record g + 1 (zeros over any longer old one);
 *      fdatasync(root.T). A file created by steps 1-2 (only the very first
 *      commit into slot b) also gets fsync of the directory.
 *   3. ARD advance(g + 1).
 * Three syncs, and only then OMC_OK. Slot S is never written, so a power cut
 * anywhere leaves root g (steps 1-2 cut: root.T is torn or older than g) or
 * root g + 1 with the counter at g (step 3 cut: the next open rolls forward)
 * or at g + 1.
 *
 * OMC_STORE_ERASE then commits the same content again as g + 2, into S:
 * afterwards neither root holds a deleted object's FEK and neither objs file
 * its record. */
#include <string.h>

#include "store/store_internal.h"

/* One object of the state being built: either the unchanged record of an
 * entry of the current table (op == NULL) or new content from an op. */
typedef struct work_ent {
	const char *id;
	uint8_t id_len;
	size_t old;              /* index in s->ents when op == NULL */
	const omc_store_op *op;
} work_ent;

static omc_err check_op(const omc_store_op *op)
{
	OMC_ENSURE(omc_st_id_valid(op->id, NULL), OMC_ERR_BAD_ARG);
	if (op->del) {
		OMC_ENSURE(op->data == NULL && op->len == 0, OMC_ERR_BAD_ARG);
	} else {
		OMC_ENSURE(op->len <= OMC_STORE_OBJ_MAX, OMC_ERR_TOO_LARGE);
		OMC_ENSURE(op->data != NULL || op->len == 0, OMC_ERR_BAD_ARG);
	}
	return OMC_OK;
}

/* First index whose id is >= id. */
static size_t lower_bound(const work_ent *w, size_t n, const char *id, size_t id_len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		const size_t mid = lo + (hi - lo) / 2;
		if (omc_st_id_cmp(w[mid].id, w[mid].id_len, id, id_len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Applies the ops, in order, to the current table: the sorted list of what
 * the new state holds. Nothing is written here. */
static omc_err plan(const omc_store *s, const omc_store_op *ops, size_t n, work_ent *w, size_t *count)
{
	size_t m = s->n;
	for (size_t i = 0; i < m; i++)
		w[i] = (work_ent){.id = s->ents[i].id, .id_len = s->ents[i].id_len, .old = i, .op = NULL};
	for (size_t k = 0; k < n; k++) {
		size_t id_len = 0;
		OMC_TRY(check_op(&ops[k]));
		(void)omc_st_id_valid(ops[k].id, &id_len);
		const size_t pos = lower_bound(w, m, ops[k].id, id_len);
		const bool found = pos < m && omc_st_id_cmp(w[pos].id, w[pos].id_len, ops[k].id, id_len) == 0;
		if (ops[k].del) {
			OMC_ENSURE(found, OMC_ERR_NOT_FOUND);
			memmove(&w[pos], &w[pos + 1], (m - pos - 1) * sizeof *w);
			m--;
		} else if (found) {
			w[pos].op = &ops[k];
		} else {
			memmove(&w[pos + 1], &w[pos], (m - pos) * sizeof *w);
			w[pos] = (work_ent){.id = ops[k].id, .id_len = (uint8_t)id_len, .op = &ops[k]};
			m++;
		}
	}
	OMC_ENSURE(m <= OMC_STORE_MAX_OBJECTS, OMC_ERR_TOO_LARGE);
	*count = m;
	return OMC_OK;
}

static size_t rec_len(const omc_store *s, const work_ent *w)
{
	return w->op ? w->op->len + OMC_ST_REC_OVERHEAD : s->ents[w->old].len;
}

/* The unchanged record of an old entry, copied byte for byte. If the cached
 * file no longer holds it (it failed verification) zeros stand in: the
 * object stays as corrupt as it was, and the layout stays well formed. */
static omc_err copy_record(omc_cur *out, const omc_store *s, const omc_st_entry *old)
{
	omc_cur in;
	const uint8_t *rec;
	omc_cur_init_read(&in, s->objs, s->objs_len);
	if (old->off <= s->objs_len && old->len <= s->objs_len - old->off &&
	    omc_cur_skip(&in, (size_t)old->off) == OMC_OK && omc_cur_read_ptr(&in, &rec, old->len) == OMC_OK)
		return omc_cur_write(out, rec, old->len);
	uint8_t *z = NULL;
	OMC_TRY(omc_st_cur_claim(out, &z, old->len));
	omc_memzero(z, old->len);
	return OMC_OK;
}

/* Builds the new objs content (buf, file_len bytes: the records, then zeros
 * up to the old length of objs.T) and the new table. */
static omc_err build(const omc_store *s, const work_ent *w, size_t count, omc_st_entry *ents, uint8_t *buf,
		     size_t file_len)
{
	omc_cur c;
	omc_cur_init_write(&c, buf, file_len);
	for (size_t i = 0; i < count; i++) {
		omc_st_entry *e = &ents[i];
		memcpy(e->id, w[i].id, w[i].id_len);
		e->id[w[i].id_len] = '\0';
		e->id_len = w[i].id_len;
		e->off = c.wpos;
		e->len = (uint32_t)rec_len(s, &w[i]);
		if (w[i].op == NULL) {
			const omc_st_entry *old = &s->ents[w[i].old];
			memcpy(e->fek, old->fek, sizeof e->fek);
			memcpy(e->digest, old->digest, sizeof e->digest);
			OMC_TRY(copy_record(&c, s, old));
		} else {
			uint8_t *rec = NULL;
			OMC_TRY(omc_st_cur_claim(&c, &rec, e->len));
			OMC_TRY(omc_st_record_seal(rec, e, w[i].op->data, w[i].op->len));
		}
	}
	return OMC_OK;
}

/* Everything that touches the medium, in protocol order. Any failure leaves
 * the caller to poison the handle. */
static omc_err write_gen(omc_store *s, unsigned t, const uint8_t *objs, size_t objs_len, const uint8_t *root,
			 size_t root_len)
{
	omc_store_io *io = s->io;
	const bool created = !s->objs_file[t].exists || !s->root_file[t].exists;
	OMC_TRY(io->pwrite(io->ctx, omc_st_objs_name[t], 0, objs, objs_len));
	s->objs_file[t].exists = true;
	s->objs_file[t].len = objs_len;
	OMC_TRY(io->sync(io->ctx, omc_st_objs_name[t]));
	OMC_TRY(omc_st_write_file(io, omc_st_root_name[t], &s->root_file[t], root, root_len));
	OMC_TRY(io->sync(io->ctx, omc_st_root_name[t]));
	if (created)
		OMC_TRY(io->sync_dir(io->ctx, ""));
	OMC_TRY(s->ard->advance(s->ard->ctx, s->gen + 1));
	return OMC_OK;
}

/* Commits w[0..count) as generation s->gen + 1 into the inactive slot. */
static omc_err commit_gen(omc_store *s, const work_ent *w, size_t count)
{
	OMC_ENSURE(s->gen < UINT64_MAX - 1, OMC_ERR_EXHAUSTED);
	const unsigned t = 1u - s->active;
	size_t objs_len = 0;
	for (size_t i = 0; i < count; i++)
		objs_len += rec_len(s, &w[i]); /* <= 1024 * (256 KiB + 28): no overflow */
	const size_t old_len = s->objs_file[t].exists ? s->objs_file[t].len : 0;
	const size_t file_len = objs_len > old_len ? objs_len : old_len;

	omc_st_entry *ents = NULL;
	if (count) {
		ents = omc_calloc(count, sizeof *ents);
		OMC_ENSURE(ents != NULL, OMC_ERR_NOMEM);
	}
	uint8_t *buf = omc_calloc(file_len, 1);
	uint8_t *root = NULL;
	size_t root_len = 0;
	omc_err err = buf ? OMC_OK : OMC_ERR_NOMEM;
	if (err == OMC_OK)
		err = build(s, w, count, ents, buf, file_len);
	if (err == OMC_OK)
		err = omc_st_root_encode(&root, &root_len, s->k_root, s->gen + 1, ents, count);
	if (err == OMC_OK) {
		/* From the first write on, a failure leaves the medium in a state
		 * only a reopen sorts out. */
		s->poisoned = true;
		err = write_gen(s, t, buf, file_len, root, root_len);
		if (err == OMC_OK)
			s->poisoned = false;
	}
	omc_free(root);
	if (err != OMC_OK) {
		omc_free(ents);
		omc_free(buf);
		return err;
	}
	omc_free(s->ents);
	omc_free(s->objs);
	s->ents = ents;
	s->n = count;
	s->objs = buf;
	s->objs_len = file_len;
	s->active = t;
	s->gen++;
	return OMC_OK;
}

static omc_err commit(omc_store *s, const omc_store_op *ops, size_t n, unsigned flags)
{
	OMC_ENSURE(n <= (SIZE_MAX / sizeof(work_ent)) - s->n - 1, OMC_ERR_TOO_LARGE);
	work_ent *w = omc_calloc(s->n + n + 1, sizeof *w);
	OMC_ENSURE(w != NULL, OMC_ERR_NOMEM);
	size_t count = 0;
	omc_err err = plan(s, ops, n, w, &count);
	if (err == OMC_OK)
		err = commit_gen(s, w, count);
	omc_free(w);
	OMC_TRY(err);
	if (flags & OMC_STORE_ERASE) {
		/* The same content again, into the other slot: the previous root
		 * and objs file, which still hold what was deleted, are rewritten. */
		w = omc_calloc(s->n + 1, sizeof *w);
		err = w ? plan(s, NULL, 0, w, &count) : OMC_ERR_NOMEM;
		if (err == OMC_OK)
			err = commit_gen(s, w, count);
		omc_free(w);
		/* The new content is already committed: whatever failed, the
		 * caller must reopen to learn the state (as after a power cut). */
		if (err != OMC_OK)
			s->poisoned = true;
		OMC_TRY(err);
	}
	return OMC_OK;
}

omc_err omc_store_commit(omc_store *s, const omc_store_op *ops, size_t n, unsigned flags)
{
	OMC_ENSURE(s != NULL && (ops != NULL || n == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(!s->poisoned, OMC_ERR_BAD_STATE);
	OMC_ENSURE((flags & ~OMC_STORE_ERASE) == 0, OMC_ERR_BAD_ARG);
	return commit(s, ops, n, flags);
}
