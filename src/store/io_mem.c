/* omc_memfs: an in-memory file system with a power-loss model, and the
 * omc_store_io backend over it (docs/store.md "The in-memory backend").
 *
 * Model. Files are inodes reached through a namespace (path -> inode).
 * There are two views of everything:
 *   - the volatile view, which every read sees: each inode's current bytes
 *     and the current namespace;
 *   - the durable view, which is what a power cut leaves: each inode's bytes
 *     as of its last sync, and the namespace as of the last sync_dir of each
 *     directory.
 * pwrite changes the volatile bytes and is remembered as a pending write of
 * its inode until sync(file) makes the whole inode durable. Creating a file
 * (the first pwrite), rename, unlink and mkdir change the volatile namespace
 * at once and are queued as pending namespace operations of their parent
 * directory until sync_dir(directory) applies them, in order, to the durable
 * namespace. So a new file needs sync_dir before its name survives, as POSIX
 * requires (store.h: "make renames, creations and unlinks ... durable").
 *
 * Power cut. omc_memfs_crash_at(fs, i, mode, seed) arms a cut just before
 * the i-th mutating operation (pwrite, sync, rename, unlink, sync_dir,
 * mkdir) counted from that call: that operation is not performed, and it
 * and every later call of any kind fail with OMC_ERR_IO until
 * omc_memfs_reboot(), which builds the surviving state:
 *   LOSE  durable view only;
 *   KEEP  every performed operation survived (the volatile view);
 *   TEAR  per pending write, by a PRNG seeded with `seed`: kept, dropped,
 *         only a prefix of its 512-byte sectors kept (sectors aligned on file
 *         offsets), an arbitrary subset of those sectors kept, or each sector
 *         new, old or garbage; and a prefix of the pending namespace
 *         operations applied, all of them half the time (a journalled file
 *         system applies metadata in order).
 * Directories are names only: a file's parent need not exist, and mkdir
 * exists for callers that keep one store per subdirectory. */
#include <string.h>

#include "store/store_internal.h"

#define MF_SECTOR 512
#define MF_FILE_MAX ((size_t)1 << 30)

typedef struct mf_bytes {
	uint8_t *p;
	size_t len;
	size_t cap;
} mf_bytes;

typedef struct mf_write {
	uint64_t off;
	mf_bytes data;
} mf_write;

typedef struct mf_inode {
	struct mf_inode *next;
	bool is_dir;
	bool mark;
	mf_bytes vol; /* what reads see */
	mf_bytes dur; /* as of the last sync */
	mf_write *w;  /* writes since the last sync, oldest first */
	size_t nw, w_cap;
} mf_inode;

typedef struct mf_ent {
	char *path;
	mf_inode *ino;
} mf_ent;

typedef struct mf_ns {
	mf_ent *e;
	size_t n, cap;
} mf_ns;

typedef enum mf_op_kind {
	MF_LINK,   /* a: path -> ino (a file's creation, mkdir) */
	MF_RENAME, /* a -> b */
	MF_UNLINK, /* a */
} mf_op_kind;

typedef struct mf_op {
	mf_op_kind kind;
	char *dir; /* the parent directory whose sync_dir makes it durable */
	char *a;
	char *b;
	mf_inode *ino;
} mf_op;

struct omc_memfs {
	mf_inode *inodes;
	mf_ns vol;
	mf_ns dur;
	mf_op *ops;
	size_t nops, ops_cap;
	unsigned long count;        /* mutating operations since creation or reboot */
	unsigned long crash_target; /* count at which the cut happens; 0: none */
	omc_memfs_crash_mode mode;
	uint64_t seed;
	bool crashed;
	omc_memfs_stats st;
};

typedef struct mem_io {
	omc_store_io io;
	omc_memfs *fs;
	size_t base_len;
	char base[]; /* "" or ending in '/' */
} mem_io;

/* --- small helpers ----------------------------------------------------------- */

static char *str_dup_n(const char *s, size_t n)
{
	char *d = omc_alloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static char *str_cat(const char *a, const char *b)
{
	const size_t na = strlen(a), nb = strlen(b);
	if (na > MF_FILE_MAX || nb > MF_FILE_MAX)
		return NULL;
	char *d = omc_alloc(na + nb + 1);
	if (d) {
		memcpy(d, a, na);
		memcpy(&d[na], b, nb);
		d[na + nb] = '\0';
	}
	return d;
}

/* The parent directory of a full path: "dev1/root.a" -> "dev1", "x" -> "". */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return str_dup_n(path, slash ? (size_t)(slash - path) : 0);
}

static omc_err bytes_reserve(mf_bytes *b, size_t need)
{
	if (need <= b->cap)
		return OMC_OK;
	OMC_ENSURE(need <= MF_FILE_MAX, OMC_ERR_IO);
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = omc_alloc(cap);
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	if (b->len)
		memcpy(p, b->p, b->len);
	omc_free(b->p);
	b->p = p;
	b->cap = cap;
	return OMC_OK;
}

/* Writes data at off, zero-filling any gap past the end. Space must have
 * been reserved. */
static void bytes_put(mf_bytes *b, uint64_t off, const uint8_t *data, size_t len)
{
	const size_t o = (size_t)off;
	if (o > b->len)
		omc_memzero(&b->p[b->len], o - b->len);
	if (len)
		memcpy(&b->p[o], data, len);
	if (o + len > b->len)
		b->len = o + len;
}

static omc_err bytes_set(mf_bytes *b, const uint8_t *data, size_t len)
{
	OMC_TRY(bytes_reserve(b, len));
	b->len = 0;
	bytes_put(b, 0, data, len);
	return OMC_OK;
}

static void bytes_free(mf_bytes *b)
{
	omc_free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void inode_drop_writes(mf_inode *ino)
{
	for (size_t i = 0; i < ino->nw; i++)
		bytes_free(&ino->w[i].data);
	ino->nw = 0;
}

static mf_inode *inode_new(omc_memfs *fs, bool is_dir)
{
	mf_inode *ino = omc_calloc(1, sizeof *ino);
	if (ino) {
		ino->is_dir = is_dir;
		ino->next = fs->inodes;
		fs->inodes = ino;
	}
	return ino;
}

static void inode_free(mf_inode *ino)
{
	inode_drop_writes(ino);
	omc_free(ino->w);
	bytes_free(&ino->vol);
	bytes_free(&ino->dur);
	omc_free(ino);
}

/* --- namespaces ----------------------------------------------------------------- */

static size_t ns_find(const mf_ns *ns, const char *path)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->e[i].path, path) == 0)
			return i;
	return ns->n;
}

static mf_inode *ns_get(const mf_ns *ns, const char *path)
{
	const size_t i = ns_find(ns, path);
	return i < ns->n ? ns->e[i].ino : NULL;
}

static void ns_remove(mf_ns *ns, const char *path)
{
	const size_t i = ns_find(ns, path);
	if (i == ns->n)
		return;
	omc_free(ns->e[i].path);
	ns->e[i] = ns->e[ns->n - 1];
	ns->n--;
}

/* path -> ino, replacing any previous link of path. */
static omc_err ns_set(mf_ns *ns, const char *path, mf_inode *ino)
{
	const size_t i = ns_find(ns, path);
	if (i < ns->n) {
		ns->e[i].ino = ino;
		return OMC_OK;
	}
	if (ns->n == ns->cap) {
		const size_t cap = ns->cap ? ns->cap * 2 : 16;
		mf_ent *e = omc_calloc(cap, sizeof *e);
		OMC_ENSURE(e != NULL, OMC_ERR_NOMEM);
		if (ns->n)
			memcpy(e, ns->e, ns->n * sizeof *e);
		omc_free(ns->e);
		ns->e = e;
		ns->cap = cap;
	}
	char *p = str_dup_n(path, strlen(path));
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	ns->e[ns->n].path = p;
	ns->e[ns->n].ino = ino;
	ns->n++;
	return OMC_OK;
}

static void ns_clear(mf_ns *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		omc_free(ns->e[i].path);
	ns->n = 0;
}

static omc_err ns_copy(mf_ns *dst, const mf_ns *src)
{
	ns_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		OMC_TRY(ns_set(dst, src->e[i].path, src->e[i].ino));
	return OMC_OK;
}

/* Applies one namespace operation to the durable namespace. */
static omc_err ns_apply(mf_ns *ns, const mf_op *op)
{
	switch (op->kind) {
	case MF_LINK:
		return ns_set(ns, op->a, op->ino);
	case MF_RENAME: {
		mf_inode *ino = ns_get(ns, op->a);
		if (ino == NULL)
			return OMC_OK; /* its creation is not durable either */
		OMC_TRY(ns_set(ns, op->b, ino));
		ns_remove(ns, op->a);
		return OMC_OK;
	}
	case MF_UNLINK:
		ns_remove(ns, op->a);
		return OMC_OK;
	}
	return OMC_ERR_BUG;
}

static void op_free(mf_op *op)
{
	omc_free(op->dir);
	omc_free(op->a);
	omc_free(op->b);
}

static omc_err op_push(omc_memfs *fs, mf_op_kind kind, const char *a, const char *b, mf_inode *ino)
{
	if (fs->nops == fs->ops_cap) {
		const size_t cap = fs->ops_cap ? fs->ops_cap * 2 : 16;
		mf_op *o = omc_calloc(cap, sizeof *o);
		OMC_ENSURE(o != NULL, OMC_ERR_NOMEM);
		if (fs->nops)
			memcpy(o, fs->ops, fs->nops * sizeof *o);
		omc_free(fs->ops);
		fs->ops = o;
		fs->ops_cap = cap;
	}
	mf_op op = {.kind = kind, .ino = ino};
	op.dir = parent_of(b ? b : a);
	op.a = str_dup_n(a, strlen(a));
	op.b = b ? str_dup_n(b, strlen(b)) : NULL;
	if (op.dir == NULL || op.a == NULL || (b && op.b == NULL)) {
		op_free(&op);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	fs->ops[fs->nops++] = op;
	return OMC_OK;
}

static void ops_clear(omc_memfs *fs)
{
	for (size_t i = 0; i < fs->nops; i++)
		op_free(&fs->ops[i]);
	fs->nops = 0;
}

/* Frees inodes nothing refers to any more. */
static void gc(omc_memfs *fs)
{
	for (mf_inode *i = fs->inodes; i; i = i->next)
		i->mark = false;
	for (size_t k = 0; k < fs->vol.n; k++)
		fs->vol.e[k].ino->mark = true;
	for (size_t k = 0; k < fs->dur.n; k++)
		fs->dur.e[k].ino->mark = true;
	for (size_t k = 0; k < fs->nops; k++)
		if (fs->ops[k].ino)
			fs->ops[k].ino->mark = true;
	mf_inode **pp = &fs->inodes;
	while (*pp) {
		mf_inode *i = *pp;
		if (i->mark) {
			pp = &i->next;
		} else {
			*pp = i->next;
			inode_free(i);
		}
	}
}

/* --- the file system ------------------------------------------------------------- */

omc_err omc_memfs_new(omc_memfs **fs)
{
	OMC_ENSURE(fs != NULL, OMC_ERR_BAD_ARG);
	*fs = omc_calloc(1, sizeof **fs);
	OMC_ENSURE(*fs != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

void omc_memfs_free(omc_memfs *fs)
{
	if (fs == NULL)
		return;
	ops_clear(fs);
	omc_free(fs->ops);
	ns_clear(&fs->vol);
	ns_clear(&fs->dur);
	omc_free(fs->vol.e);
	omc_free(fs->dur.e);
	while (fs->inodes) {
		mf_inode *i = fs->inodes;
		fs->inodes = i->next;
		inode_free(i);
	}
	omc_free(fs);
}

void omc_memfs_crash_at(omc_memfs *fs, unsigned long crash_at, omc_memfs_crash_mode mode, uint64_t seed)
{
	fs->crash_target = crash_at ? fs->count + crash_at : 0;
	fs->mode = mode;
	fs->seed = seed;
}

unsigned long omc_memfs_op_count(const omc_memfs *fs)
{
	return fs->count;
}

void omc_memfs_stats_get(const omc_memfs *fs, omc_memfs_stats *st)
{
	*st = fs->st;
}

/* splitmix64: a small deterministic PRNG for the tear decisions. */
static uint64_t prng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* How one pending write survives a TEAR power cut. */
typedef enum tear_how {
	TEAR_KEEP,     /* all of it */
	TEAR_DROP,     /* none of it */
	TEAR_PREFIX,   /* its first k sectors */
	TEAR_SUBSET,   /* any subset of its sectors */
	TEAR_SCRAMBLE, /* each sector new, old, or garbage */
	TEAR_HOW_COUNT
} tear_how;

/* Applies the pending write w to the durable bytes of ino, torn as the PRNG
 * decides. Sectors are the 512-byte-aligned pieces of the write by file
 * offset; a sector not written keeps its old bytes. */
static omc_err tear_write(mf_inode *ino, const mf_write *w, uint64_t *rng)
{
	const tear_how how = (tear_how)(prng_next(rng) % TEAR_HOW_COUNT);
	if (how == TEAR_DROP)
		return OMC_OK;
	const size_t start = (size_t)w->off;
	const size_t end = start + w->data.len;
	size_t n_sec = 0;
	for (size_t s = start; s < end; s = (s / MF_SECTOR + 1) * MF_SECTOR)
		n_sec++;
	const size_t keep_prefix = how == TEAR_PREFIX ? (size_t)(prng_next(rng) % (n_sec + 1)) : n_sec;
	size_t k = 0;
	for (size_t s = start; s < end; k++) {
		const size_t e = (s / MF_SECTOR + 1) * MF_SECTOR < end ? (s / MF_SECTOR + 1) * MF_SECTOR : end;
		unsigned what = 1; /* 0: old, 1: new, 2: garbage */
		if (how == TEAR_PREFIX)
			what = k < keep_prefix;
		else if (how == TEAR_SUBSET)
			what = (unsigned)(prng_next(rng) & 1);
		else if (how == TEAR_SCRAMBLE)
			what = (unsigned)(prng_next(rng) % 3);
		if (what) {
			OMC_TRY(bytes_reserve(&ino->dur, e));
			bytes_put(&ino->dur, s, &w->data.p[s - start], e - s);
		}
		if (what == 2)
			for (size_t b = s; b < e; b++)
				ino->dur.p[b] = (uint8_t)prng_next(rng);
		s = e;
	}
	/* A write of no bytes (a file's creation) has nothing to tear. */
	return OMC_OK;
}

static omc_err reboot(omc_memfs *fs)
{
	const omc_memfs_crash_mode mode = fs->crashed ? fs->mode : OMC_MEMFS_LOSE_UNSYNCED;
	uint64_t rng = fs->seed;
	/* File contents. */
	for (mf_inode *i = fs->inodes; i; i = i->next) {
		if (mode == OMC_MEMFS_KEEP_UNSYNCED) {
			OMC_TRY(bytes_set(&i->dur, i->vol.p, i->vol.len));
		} else if (mode == OMC_MEMFS_TEAR_UNSYNCED) {
			for (size_t k = 0; k < i->nw; k++)
				OMC_TRY(tear_write(i, &i->w[k], &rng));
		}
		inode_drop_writes(i);
		OMC_TRY(bytes_set(&i->vol, i->dur.p, i->dur.len));
	}
	/* The namespace: none, all, or a prefix of the pending operations. */
	size_t n_apply = 0;
	if (mode == OMC_MEMFS_KEEP_UNSYNCED)
		n_apply = fs->nops;
	else if (mode == OMC_MEMFS_TEAR_UNSYNCED)
		/* Half the time all of them (names made it, data maybe not). */
		n_apply = prng_next(&rng) & 1 ? fs->nops : (size_t)(prng_next(&rng) % (fs->nops + 1));
	for (size_t k = 0; k < n_apply; k++)
		OMC_TRY(ns_apply(&fs->dur, &fs->ops[k]));
	ops_clear(fs);
	OMC_TRY(ns_copy(&fs->vol, &fs->dur));
	gc(fs);
	return OMC_OK;
}

void omc_memfs_reboot(omc_memfs *fs)
{
	/* Only allocation can fail here; the model is then as far as it got,
	 * which a test notices. */
	(void)reboot(fs);
	fs->crashed = false;
	fs->crash_target = 0;
	fs->count = 0;
}

omc_err omc_memfs_raw_get(omc_memfs *fs, const char *path, uint8_t **data, size_t *len)
{
	OMC_ENSURE(fs != NULL && path != NULL && data != NULL && len != NULL, OMC_ERR_BAD_ARG);
	const mf_inode *ino = ns_get(&fs->dur, path);
	OMC_ENSURE(ino != NULL && !ino->is_dir, OMC_ERR_NOT_FOUND);
	uint8_t *p = omc_alloc(ino->dur.len);
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	if (ino->dur.len)
		memcpy(p, ino->dur.p, ino->dur.len);
	*data = p;
	*len = ino->dur.len;
	return OMC_OK;
}

omc_err omc_memfs_raw_put(omc_memfs *fs, const char *path, const uint8_t *data, size_t len)
{
	OMC_ENSURE(fs != NULL && path != NULL && path[0] != '\0' && (data != NULL || len == 0), OMC_ERR_BAD_ARG);
	OMC_ENSURE(len <= MF_FILE_MAX, OMC_ERR_TOO_LARGE);
	mf_inode *ino = inode_new(fs, false);
	OMC_ENSURE(ino != NULL, OMC_ERR_NOMEM);
	OMC_TRY(bytes_set(&ino->dur, data, len));
	OMC_TRY(bytes_set(&ino->vol, data, len));
	OMC_TRY(ns_set(&fs->dur, path, ino));
	OMC_TRY(ns_set(&fs->vol, path, ino));
	gc(fs);
	return OMC_OK;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

omc_err omc_memfs_list(omc_memfs *fs, char **paths, size_t *len)
{
	OMC_ENSURE(fs != NULL && paths != NULL && len != NULL, OMC_ERR_BAD_ARG);
	const char **v = omc_calloc(fs->dur.n + 1, sizeof *v);
	OMC_ENSURE(v != NULL, OMC_ERR_NOMEM);
	size_t n = 0, total = 0;
	for (size_t i = 0; i < fs->dur.n; i++) {
		if (fs->dur.e[i].ino->is_dir)
			continue;
		v[n++] = fs->dur.e[i].path;
		total += strlen(fs->dur.e[i].path) + 1;
	}
	qsort(v, n, sizeof *v, path_cmp);
	char *out = omc_alloc(total);
	if (out == NULL) {
		omc_free(v);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		const size_t l = strlen(v[i]) + 1;
		memcpy(&out[pos], v[i], l);
		pos += l;
	}
	omc_free(v);
	*paths = out;
	*len = total;
	return OMC_OK;
}

/* --- the io backend ---------------------------------------------------------------- */

/* Every call first checks for a power cut; mutating calls count and may be
 * the one the cut falls on. */
static omc_err mutating(omc_memfs *fs)
{
	OMC_ENSURE(!fs->crashed, OMC_ERR_IO);
	fs->count++;
	if (fs->crash_target && fs->count >= fs->crash_target) {
		fs->crashed = true;
		OMC_BAIL(OMC_ERR_IO);
	}
	return OMC_OK;
}

static bool rel_path_ok(const char *path)
{
	return path != NULL && path[0] != '/' && strstr(path, "..") == NULL;
}

/* *out = base + path (omc_alloc): OMC_ERR_IO for a path outside the base,
 * OMC_ERR_NOMEM. */
static omc_err full(char **out, const mem_io *m, const char *path)
{
	OMC_ENSURE(rel_path_ok(path), OMC_ERR_IO);
	*out = str_cat(m->base, path);
	OMC_ENSURE(*out != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

/* base + dir without the trailing '/': the key sync_dir matches parents by. */
static omc_err full_dir(char **out, const mem_io *m, const char *dir)
{
	OMC_TRY(full(out, m, dir));
	char *p = *out;
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	return OMC_OK;
}

static omc_err mem_read(void *ctx, const char *path, uint8_t **data, size_t *len)
{
	mem_io *m = ctx;
	OMC_ENSURE(!m->fs->crashed, OMC_ERR_IO);
	char *fp = NULL;
	OMC_TRY(full(&fp, m, path));
	const mf_inode *ino = ns_get(&m->fs->vol, fp);
	omc_free(fp);
	OMC_ENSURE(ino != NULL, OMC_ERR_NOT_FOUND);
	OMC_ENSURE(!ino->is_dir, OMC_ERR_IO);
	uint8_t *p = omc_alloc(ino->vol.len);
	OMC_ENSURE(p != NULL, OMC_ERR_NOMEM);
	if (ino->vol.len)
		memcpy(p, ino->vol.p, ino->vol.len);
	*data = p;
	*len = ino->vol.len;
	return OMC_OK;
}

static omc_err do_pwrite(omc_memfs *fs, const char *fp, uint64_t off, const uint8_t *data, size_t len)
{
	OMC_ENSURE(off <= MF_FILE_MAX && len <= MF_FILE_MAX - off, OMC_ERR_IO);
	mf_inode *ino = ns_get(&fs->vol, fp);
	OMC_ENSURE(ino == NULL || !ino->is_dir, OMC_ERR_IO);
	if (ino == NULL) {
		ino = inode_new(fs, false);
		OMC_ENSURE(ino != NULL, OMC_ERR_NOMEM);
		OMC_TRY(ns_set(&fs->vol, fp, ino));
		OMC_TRY(op_push(fs, MF_LINK, fp, NULL, ino));
	}
	if (ino->nw == ino->w_cap) {
		const size_t cap = ino->w_cap ? ino->w_cap * 2 : 4;
		mf_write *w = omc_calloc(cap, sizeof *w);
		OMC_ENSURE(w != NULL, OMC_ERR_NOMEM);
		if (ino->nw)
			memcpy(w, ino->w, ino->nw * sizeof *w);
		omc_free(ino->w);
		ino->w = w;
		ino->w_cap = cap;
	}
	mf_write wr = {.off = off};
	OMC_TRY(bytes_set(&wr.data, data, len));
	omc_err err = bytes_reserve(&ino->vol, (size_t)off + len);
	if (err != OMC_OK) {
		bytes_free(&wr.data);
		return err;
	}
	bytes_put(&ino->vol, off, data, len);
	ino->w[ino->nw++] = wr;
	fs->st.pwrite++;
	fs->st.bytes_written += len;
	return OMC_OK;
}

static omc_err mem_pwrite(void *ctx, const char *path, uint64_t off, const uint8_t *data, size_t len)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	OMC_ENSURE(path != NULL && path[0] != '\0' && (data != NULL || len == 0), OMC_ERR_IO);
	char *fp = NULL;
	OMC_TRY(full(&fp, m, path));
	omc_err err = do_pwrite(m->fs, fp, off, data, len);
	omc_free(fp);
	return err;
}

static omc_err mem_sync(void *ctx, const char *path)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	char *fp = NULL;
	OMC_TRY(full(&fp, m, path));
	mf_inode *ino = ns_get(&m->fs->vol, fp);
	omc_free(fp);
	OMC_ENSURE(ino != NULL, OMC_ERR_IO);
	OMC_TRY(bytes_set(&ino->dur, ino->vol.p, ino->vol.len));
	inode_drop_writes(ino);
	m->fs->st.sync++;
	return OMC_OK;
}

static omc_err do_rename(omc_memfs *fs, const char *f, const char *t)
{
	mf_inode *ino = ns_get(&fs->vol, f);
	OMC_ENSURE(ino != NULL, OMC_ERR_IO);
	const mf_inode *dst = ns_get(&fs->vol, t);
	OMC_ENSURE(dst == NULL || (!dst->is_dir && !ino->is_dir), OMC_ERR_IO);
	/* One directory per rename: the model has no cross-directory order. */
	char *pf = parent_of(f);
	char *pt = parent_of(t);
	const bool same = pf && pt && strcmp(pf, pt) == 0;
	omc_free(pf);
	omc_free(pt);
	OMC_ENSURE(same, OMC_ERR_IO);
	if (strcmp(f, t) == 0)
		return OMC_OK;
	OMC_TRY(op_push(fs, MF_RENAME, f, t, NULL));
	OMC_TRY(ns_set(&fs->vol, t, ino));
	ns_remove(&fs->vol, f);
	fs->st.rename++;
	gc(fs);
	return OMC_OK;
}

static omc_err mem_rename(void *ctx, const char *from, const char *to)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	char *f = NULL, *t = NULL;
	omc_err err = full(&f, m, from);
	if (err == OMC_OK)
		err = full(&t, m, to);
	if (err == OMC_OK)
		err = from[0] && to[0] ? do_rename(m->fs, f, t) : OMC_ERR_IO;
	omc_free(f);
	omc_free(t);
	return err;
}

static omc_err do_unlink(omc_memfs *fs, const char *fp)
{
	const mf_inode *ino = ns_get(&fs->vol, fp);
	OMC_ENSURE(ino != NULL, OMC_ERR_NOT_FOUND);
	OMC_ENSURE(!ino->is_dir, OMC_ERR_IO);
	OMC_TRY(op_push(fs, MF_UNLINK, fp, NULL, NULL));
	ns_remove(&fs->vol, fp);
	fs->st.unlink++;
	gc(fs);
	return OMC_OK;
}

static omc_err mem_unlink(void *ctx, const char *path)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	char *fp = NULL;
	OMC_TRY(full(&fp, m, path));
	omc_err err = path[0] ? do_unlink(m->fs, fp) : OMC_ERR_IO;
	omc_free(fp);
	return err;
}

static omc_err do_sync_dir(omc_memfs *fs, const char *dir)
{
	size_t keep = 0;
	omc_err err = OMC_OK;
	for (size_t i = 0; i < fs->nops; i++) {
		mf_op *op = &fs->ops[i];
		if (err == OMC_OK && strcmp(op->dir, dir) == 0) {
			err = ns_apply(&fs->dur, op);
			op_free(op);
		} else {
			fs->ops[keep++] = *op;
		}
	}
	fs->nops = keep;
	OMC_TRY(err);
	fs->st.sync_dir++;
	gc(fs);
	return OMC_OK;
}

static omc_err mem_sync_dir(void *ctx, const char *dir)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	char *d = NULL;
	OMC_TRY(full_dir(&d, m, dir));
	omc_err err = do_sync_dir(m->fs, d);
	omc_free(d);
	return err;
}

static omc_err do_mkdir(omc_memfs *fs, const char *d)
{
	const mf_inode *ino = ns_get(&fs->vol, d);
	if (ino != NULL) {
		OMC_ENSURE(ino->is_dir, OMC_ERR_IO);
		return OMC_OK; /* already there: idempotent */
	}
	mf_inode *n = inode_new(fs, true);
	OMC_ENSURE(n != NULL, OMC_ERR_NOMEM);
	OMC_TRY(ns_set(&fs->vol, d, n));
	OMC_TRY(op_push(fs, MF_LINK, d, NULL, n));
	fs->st.mkdir++;
	return OMC_OK;
}

static omc_err mem_mkdir(void *ctx, const char *dir)
{
	mem_io *m = ctx;
	OMC_TRY(mutating(m->fs));
	char *d = NULL;
	OMC_TRY(full_dir(&d, m, dir));
	omc_err err = d[0] ? do_mkdir(m->fs, d) : OMC_ERR_IO;
	omc_free(d);
	return err;
}

static omc_err mem_exists(void *ctx, const char *path)
{
	mem_io *m = ctx;
	OMC_ENSURE(!m->fs->crashed, OMC_ERR_IO);
	char *fp = NULL;
	OMC_TRY(full_dir(&fp, m, path));
	/* The root of the fs and the io's own base always exist. */
	const bool found = fp[0] == '\0' || strcmp(path, "") == 0 || ns_get(&m->fs->vol, fp) != NULL;
	omc_free(fp);
	OMC_ENSURE(found, OMC_ERR_NOT_FOUND);
	return OMC_OK;
}

omc_err omc_store_io_mem_new(omc_store_io **io, omc_memfs *fs, const char *base)
{
	OMC_ENSURE(io != NULL && fs != NULL && base != NULL && rel_path_ok(base), OMC_ERR_BAD_ARG);
	const size_t n = strlen(base);
	OMC_ENSURE(n < 1024, OMC_ERR_BAD_ARG);
	const bool add_slash = n > 0 && base[n - 1] != '/';
	mem_io *m = omc_calloc(1, sizeof *m + n + 2);
	OMC_ENSURE(m != NULL, OMC_ERR_NOMEM);
	memcpy(m->base, base, n);
	if (add_slash)
		m->base[n] = '/';
	m->base_len = n + (add_slash ? 1 : 0);
	m->fs = fs;
	m->io = (omc_store_io){
		.read = mem_read,
		.pwrite = mem_pwrite,
		.sync = mem_sync,
		.rename = mem_rename,
		.unlink = mem_unlink,
		.sync_dir = mem_sync_dir,
		.mkdir = mem_mkdir,
		.exists = mem_exists,
		.ctx = m,
	};
	*io = &m->io;
	return OMC_OK;
}

void omc_store_io_mem_free(omc_store_io *io)
{
	if (io == NULL)
		return;
	omc_free(io->ctx);
}
