/* The store: open (with format and roll-forward), the open decision table,
 * reads, verification and listing. Commits are in commit.c; the format
 * and the table are specified in docs/store.md.
 *
 * Files: root.a/root.b (root records, A/B), objs.a/objs.b (the object
 * records of each slot), arb.a/arb.b (the software ARD, ard_sw.c). The slot
 * of the newest valid root is the active one; a commit writes the other. */
#include <string.h>

#include "store/store_internal.h"

const char *const omc_st_root_name[2] = {"root.a", "root.b"};
const char *const omc_st_objs_name[2] = {"objs.a", "objs.b"};
/* Only root.a.tmp is ever written (format); both names are cleaned up. */
static const char *const tmp_names[] = {"root.a.tmp", "root.b.tmp"};

/* --- the open decision table -----------------------------------------------------
 *
 * Inputs: what the root files are (none at all / present but none valid /
 * at least one valid, g* = the highest valid generation), and the ARD
 * (absent / corrupt / counter C). Rows are tried in order and the first
 * match wins, so the catch-all ROLLBACK row must stay last: whatever a valid
 * root and a readable counter do not explain as "equal" or "one ahead" is
 * a rollback of one of them (g* < C: old root files put back; g* > C + 1:
 * the counter put back). Mirrored in docs/store.md. */
typedef enum roots_cond { ROOTS_ANY, ROOTS_NONE, ROOTS_NONE_VALID, ROOTS_VALID } roots_cond;
typedef enum ard_cond { ARD_ANY, ARD_ABSENT, ARD_CORRUPT, ARD_PRESENT } ard_cond;
typedef enum gen_cond { GEN_ANY, GEN_C_ZERO, GEN_EQ_C, GEN_C_PLUS_1 } gen_cond;
typedef enum open_action {
	ACT_NO_COUNTER,    /* OMC_ERR_NOT_FOUND: create the ARD, then the store */
	ACT_VIRGIN,        /* OMC_ERR_NOT_FOUND, or format with opts->create */
	ACT_OPEN,          /* OMC_OK */
	ACT_ROLL_FORWARD,  /* advance(C + 1), then OMC_OK */
	ACT_ROLLBACK,      /* OMC_ERR_ROLLBACK */
	ACT_CORRUPT,       /* OMC_ERR_CORRUPT */
} open_action;

static const struct open_rule {
	roots_cond roots;
	ard_cond ard;
	gen_cond gen;
	open_action action;
	const char *why;
} open_rules[] = {
	{ROOTS_ANY, ARD_CORRUPT, GEN_ANY, ACT_CORRUPT, "counter files present, none valid"},
	{ROOTS_NONE, ARD_ABSENT, GEN_ANY, ACT_NO_COUNTER, "no store and no counter"},
	{ROOTS_NONE, ARD_PRESENT, GEN_C_ZERO, ACT_VIRGIN, "no store yet (or a format cut short)"},
	{ROOTS_NONE, ARD_PRESENT, GEN_ANY, ACT_ROLLBACK, "root files removed beneath a counter past 0"},
	{ROOTS_NONE_VALID, ARD_ANY, GEN_ANY, ACT_CORRUPT, "root files present, none valid"},
	{ROOTS_VALID, ARD_ABSENT, GEN_ANY, ACT_ROLLBACK, "counter removed beneath a store"},
	{ROOTS_VALID, ARD_PRESENT, GEN_EQ_C, ACT_OPEN, "g* == C"},
	{ROOTS_VALID, ARD_PRESENT, GEN_C_PLUS_1, ACT_ROLL_FORWARD, "g* == C + 1: commit cut before the counter"},
	{ROOTS_ANY, ARD_ANY, GEN_ANY, ACT_ROLLBACK, "g* < C or g* > C + 1"},
};

static bool rule_matches(const struct open_rule *r, roots_cond roots, ard_cond ard, uint64_t g, uint64_t c)
{
	if (r->roots != ROOTS_ANY && r->roots != roots)
		return false;
	if (r->ard != ARD_ANY && r->ard != ard)
		return false;
	switch (r->gen) {
	case GEN_ANY:
		return true;
	case GEN_C_ZERO:
		return c == 0;
	case GEN_EQ_C:
		return g == c;
	case GEN_C_PLUS_1:
		return c < UINT64_MAX && g == c + 1;
	}
	return false;
}

static const struct open_rule *open_decide(roots_cond roots, ard_cond ard, uint64_t g, uint64_t c)
{
	for (size_t i = 0; i < OMC_ARRAY_LEN(open_rules); i++)
		if (rule_matches(&open_rules[i], roots, ard, g, c))
			return &open_rules[i];
	return &open_rules[OMC_ARRAY_LEN(open_rules) - 1]; /* not reached: the last row matches all */
}

/* --- reading the slots --------------------------------------------------------- */

typedef struct slot_view {
	bool root_present;
	bool valid;
	uint64_t gen;
	omc_st_entry *ents;
	size_t n;
	uint8_t *objs;
	size_t objs_len;
} slot_view;

static void slot_view_free(slot_view *v)
{
	omc_free(v->ents);
	omc_free(v->objs);
	memset(v, 0, sizeof *v);
}

static omc_err read_opt(omc_store_io *io, const char *path, omc_st_file *f, uint8_t **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	omc_err err = io->read(io->ctx, path, data, len);
	if (err == OMC_ERR_NOT_FOUND) {
		f->exists = false;
		f->len = 0;
		return OMC_OK;
	}
	OMC_TRY(err);
	f->exists = true;
	f->len = *len;
	return OMC_OK;
}

static omc_err read_slot(omc_store *s, unsigned i, slot_view *v)
{
	uint8_t *root = NULL;
	size_t root_len = 0;
	OMC_TRY(read_opt(s->io, omc_st_objs_name[i], &s->objs_file[i], &v->objs, &v->objs_len));
	OMC_TRY(read_opt(s->io, omc_st_root_name[i], &s->root_file[i], &root, &root_len));
	v->root_present = s->root_file[i].exists;
	if (!v->root_present)
		return OMC_OK;
	omc_err err = omc_st_root_decode(&v->ents, &v->n, &v->gen, s->k_root, root, root_len, v->objs_len);
	omc_free(root);
	if (err == OMC_ERR_CORRUPT) {
		OMC_LOG_INF("store", "%s is not a valid root", omc_st_root_name[i]);
		return OMC_OK;
	}
	OMC_TRY(err);
	v->valid = true;
	return OMC_OK;
}

/* --- format ------------------------------------------------------------------------ */

omc_err omc_st_write_file(omc_store_io *io, const char *path, omc_st_file *f, const uint8_t *data, size_t len)
{
	const size_t total = f->exists && f->len > len ? f->len : len;
	if (total == len) {
		OMC_TRY(io->pwrite(io->ctx, path, 0, data, len));
	} else {
		/* One write: the new bytes and zeros over the rest of the old ones. */
		uint8_t *buf = omc_calloc(total, 1);
		OMC_ENSURE(buf != NULL, OMC_ERR_NOMEM);
		if (len)
			memcpy(buf, data, len);
		omc_err err = io->pwrite(io->ctx, path, 0, buf, total);
		omc_free(buf);
		OMC_TRY(err);
	}
	f->exists = true;
	f->len = total;
	return OMC_OK;
}

/* Generation 1, empty, in slot a. The root appears by rename after its data
 * is durable, so a power cut at any point leaves no root file (a virgin
 * store: format again) or a valid one (at worst rolled forward). */
static omc_err format(omc_store *s)
{
	omc_store_io *io = s->io;
	uint8_t *root = NULL;
	size_t root_len = 0;
	omc_st_file tmp = {.exists = false, .len = 0};
	OMC_TRY(omc_st_write_file(io, omc_st_objs_name[0], &s->objs_file[0], NULL, 0));
	OMC_TRY(io->sync(io->ctx, omc_st_objs_name[0]));
	OMC_TRY(omc_st_root_encode(&root, &root_len, s->k_root, 1, NULL, 0));
	omc_err err = omc_st_write_file(io, tmp_names[0], &tmp, root, root_len);
	omc_free(root);
	OMC_TRY(err);
	OMC_TRY(io->sync(io->ctx, tmp_names[0]));
	OMC_TRY(io->rename(io->ctx, tmp_names[0], omc_st_root_name[0]));
	OMC_TRY(io->sync_dir(io->ctx, ""));
	OMC_TRY(s->ard->advance(s->ard->ctx, 1));
	s->root_file[0] = tmp;
	s->gen = 1;
	s->active = 0;
	s->objs_len = s->objs_file[0].len;
	if (s->objs_len) {
		s->objs = omc_calloc(s->objs_len, 1);
		OMC_ENSURE(s->objs != NULL, OMC_ERR_NOMEM);
	}
	OMC_LOG_INF("store", "formatted a new store");
	return OMC_OK;
}

/* --- open ---------------------------------------------------------------------------- */

static omc_err cleanup_tmp(omc_store_io *io)
{
	for (size_t i = 0; i < OMC_ARRAY_LEN(tmp_names); i++) {
		omc_err err = io->exists(io->ctx, tmp_names[i]);
		if (err == OMC_ERR_NOT_FOUND)
			continue;
		OMC_TRY(err);
		err = io->unlink(io->ctx, tmp_names[i]);
		OMC_ENSURE(err == OMC_OK || err == OMC_ERR_NOT_FOUND, err);
	}
	return OMC_OK;
}

static omc_err open_slots(omc_store *s, const omc_store_opts *opts, slot_view v[2])
{
	OMC_TRY(cleanup_tmp(s->io));
	OMC_TRY(read_slot(s, 0, &v[0]));
	OMC_TRY(read_slot(s, 1, &v[1]));

	roots_cond roots = ROOTS_NONE;
	unsigned best = 0;
	if (v[0].valid || v[1].valid) {
		roots = ROOTS_VALID;
		/* Equal generations are never written; a copy: take slot a. */
		best = v[0].valid && (!v[1].valid || v[0].gen >= v[1].gen) ? 0 : 1;
	} else if (v[0].root_present || v[1].root_present) {
		roots = ROOTS_NONE_VALID;
	}
	const uint64_t g = roots == ROOTS_VALID ? v[best].gen : 0;

	uint64_t c = 0;
	uint32_t flags = 0;
	ard_cond ard = ARD_PRESENT;
	omc_err err = s->ard->read(s->ard->ctx, &c, &flags);
	if (err == OMC_ERR_NOT_FOUND)
		ard = ARD_ABSENT;
	else if (err == OMC_ERR_CORRUPT)
		ard = ARD_CORRUPT;
	else
		OMC_TRY(err);

	const struct open_rule *r = open_decide(roots, ard, g, c);
	switch (r->action) {
	case ACT_NO_COUNTER:
		OMC_BAIL(OMC_ERR_NOT_FOUND);
	case ACT_VIRGIN:
		OMC_ENSURE(opts->create, OMC_ERR_NOT_FOUND);
		return format(s);
	case ACT_ROLLBACK:
		OMC_LOG_WRN("store", "rollback: %s (root generation %llu, counter %llu)", r->why,
			    (unsigned long long)g, (unsigned long long)c);
		OMC_BAIL(OMC_ERR_ROLLBACK);
	case ACT_CORRUPT:
		OMC_LOG_WRN("store", "corrupt: %s", r->why);
		OMC_BAIL(OMC_ERR_CORRUPT);
	case ACT_ROLL_FORWARD:
		/* The root may have been read from a cache that never reached the
		 * medium (a commit whose fdatasync failed, then a reopen without a
		 * power cut): make its slot durable before the counter vouches
		 * for it, or a later power cut would turn this into a rollback. */
		if (s->objs_file[best].exists) /* an empty table needs no objs file */
			OMC_TRY(s->io->sync(s->io->ctx, omc_st_objs_name[best]));
		OMC_TRY(s->io->sync(s->io->ctx, omc_st_root_name[best]));
		OMC_TRY(s->io->sync_dir(s->io->ctx, ""));
		OMC_TRY(s->ard->advance(s->ard->ctx, g));
		s->rolled_forward = true;
		OMC_LOG_INF("store", "rolled forward to generation %llu", (unsigned long long)g);
		break;
	case ACT_OPEN:
		break;
	}
	s->gen = g;
	s->active = best;
	s->ents = v[best].ents;
	s->n = v[best].n;
	s->objs = v[best].objs;
	s->objs_len = v[best].objs_len;
	v[best].ents = NULL;
	v[best].objs = NULL;
	return OMC_OK;
}

omc_err omc_store_open(omc_store **out, const uint8_t root_key[OMC_ST_KEY_LEN], const omc_store_opts *opts)
{
	OMC_ENSURE(out != NULL && root_key != NULL && opts != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(opts->io != NULL && opts->ard != NULL, OMC_ERR_BAD_ARG);
	*out = NULL;
	omc_store *s = omc_calloc(1, sizeof *s);
	OMC_ENSURE(s != NULL, OMC_ERR_NOMEM);
	s->io = opts->io;
	s->ard = opts->ard;
	slot_view v[2];
	memset(v, 0, sizeof v);
	omc_err err = omc_st_derive(s->k_root, root_key, OMC_ST_INFO_ROOT);
	if (err == OMC_OK)
		err = open_slots(s, opts, v);
	slot_view_free(&v[0]);
	slot_view_free(&v[1]);
	if (err != OMC_OK) {
		omc_store_close(s);
		return err;
	}
	*out = s;
	return OMC_OK;
}

void omc_store_close(omc_store *s)
{
	if (s == NULL)
		return;
	omc_free(s->ents); /* FEKs: omc_free wipes */
	omc_free(s->objs);
	omc_free(s); /* K_root */
}

bool omc_store_exists(omc_store_io *io)
{
	if (io == NULL)
		return false;
	/* Anything but a clear "absent" for both counts as present: in doubt,
	 * never recreate a counter beside a store. */
	for (unsigned i = 0; i < 2; i++)
		if (io->exists(io->ctx, omc_st_root_name[i]) != OMC_ERR_NOT_FOUND)
			return true;
	return false;
}

uint64_t omc_store_generation(const omc_store *s)
{
	return s ? s->gen : 0;
}

bool omc_store_rolled_forward(const omc_store *s)
{
	return s ? s->rolled_forward : false;
}

bool omc_store_poisoned(const omc_store *s)
{
	return s ? s->poisoned : false;
}

/* --- reads ---------------------------------------------------------------------------- */

omc_err omc_store_get(omc_store *s, const char *id, uint8_t **data, size_t *len)
{
	OMC_ENSURE(s != NULL && data != NULL && len != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!s->poisoned, OMC_ERR_BAD_STATE);
	size_t id_len;
	OMC_ENSURE(omc_st_id_valid(id, &id_len), OMC_ERR_BAD_ARG);
	const size_t i = omc_st_find(s->ents, s->n, id, id_len);
	OMC_ENSURE(i < s->n, OMC_ERR_NOT_FOUND);
	omc_err err = omc_st_record_open(data, len, &s->ents[i], s->objs, s->objs_len);
	if (err == OMC_ERR_CORRUPT)
		OMC_LOG_WRN("store", "object %s fails verification", s->ents[i].id);
	return err;
}

omc_err omc_store_verify(omc_store *s, void (*bad)(void *arg, const char *id), void *arg, size_t *n_bad)
{
	OMC_ENSURE(s != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!s->poisoned, OMC_ERR_BAD_STATE);
	/* Check what is on the medium now, not what was read at open. */
	uint8_t *objs = NULL;
	size_t objs_len = 0;
	omc_st_file f;
	OMC_TRY(read_opt(s->io, omc_st_objs_name[s->active], &f, &objs, &objs_len));
	omc_free(s->objs);
	s->objs = objs;
	s->objs_len = objs_len;
	s->objs_file[s->active] = f;

	size_t count = 0;
	for (size_t i = 0; i < s->n; i++) {
		omc_err err = omc_st_record_open(NULL, NULL, &s->ents[i], s->objs, s->objs_len);
		if (err == OMC_ERR_CORRUPT) {
			OMC_LOG_WRN("store", "object %s fails verification", s->ents[i].id);
			count++;
			if (bad)
				bad(arg, s->ents[i].id);
			continue;
		}
		OMC_TRY(err);
	}
	if (n_bad)
		*n_bad = count;
	return OMC_OK;
}

omc_err omc_store_list(omc_store *s, const char *prefix, void (*fn)(void *arg, const char *id), void *arg)
{
	OMC_ENSURE(s != NULL && fn != NULL, OMC_ERR_BAD_ARG);
	OMC_ENSURE(!s->poisoned, OMC_ERR_BAD_STATE);
	const size_t plen = prefix ? strlen(prefix) : 0;
	for (size_t i = 0; i < s->n; i++)
		if (plen <= s->ents[i].id_len && strncmp(s->ents[i].id, prefix ? prefix : "", plen) == 0)
			fn(arg, s->ents[i].id);
	return OMC_OK;
}
