/* What `openmcim ctl` does (docs/cli-ctl.md): the part of the server's
 * config file an administrator needs (the database, the master key and the
 * operators), an operator appended to that file atomically, and the
 * database's subscribers, devices and audit records read and imported.
 *
 * Secrets: the export reads no secrets column (there is no export of K or
 * OPc); the import keeps each line's credential in a wiped local and hands
 * it to omc_auc_add_ex, which seals it before it reaches the database
 * (SEC-12). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "server/server_internal.h"

_Static_assert(OMC_SERVER_OPS_MAX == SRV_MAX_OPS, "ctl reads as many operators as the server hosts");

/* --- the config file -------------------------------------------------------------------- */

typedef struct ctl_cfg {
	omc_server_config *c;
	char db_backend[16], db_path[512], db_conninfo[512]; /* [db] */
	bool bad;
} ctl_cfg;

static bool set_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static omc_server_config_op *op_find(omc_server_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_ops; i++)
		if (!strcmp(c->ops[i].name, name))
			return &c->ops[i];
	return NULL;
}

const omc_server_config_op *omc_server_config_op_find(const omc_server_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_ops; i++)
		if (!strcmp(c->ops[i].name, name))
			return &c->ops[i];
	return NULL;
}

/* The same keys and values as on_ini() in server.c accepts; everything
 * else is left to the server. */
static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	ctl_cfg *x = user;
	omc_server_config *c = x->c;
	bool ok = true;
	if (!strcmp(section, "server")) {
		if (!strcmp(name, "db"))
			ok = set_str(c->db, sizeof c->db, value);
		else if (!strcmp(name, "master_key"))
			ok = set_str(c->master_key, sizeof c->master_key, value);
		else if (!strcmp(name, "pki"))
			ok = set_str(c->pki, sizeof c->pki, value);
	} else if (!strcmp(section, "db")) {
		if (!strcmp(name, "backend"))
			ok = set_str(x->db_backend, sizeof x->db_backend, value);
		else if (!strcmp(name, "path"))
			ok = set_str(x->db_path, sizeof x->db_path, value);
		else if (!strcmp(name, "conninfo"))
			ok = set_str(x->db_conninfo, sizeof x->db_conninfo, value);
	} else if (!strncmp(section, "operator ", 9)) {
		const char *opname = section + 9;
		omc_server_config_op *op = op_find(c, opname);
		if (!op && srv_name_ok(opname) && c->n_ops < OMC_SERVER_OPS_MAX) {
			op = &c->ops[c->n_ops++];
			memcpy(op->name, opname, strlen(opname) + 1);
			op->alg = OMC_AKA_ALG_MILENAGE;
		}
		if (!op)
			ok = false;
		else if (!strcmp(name, "kind"))
			ok = (!strcmp(value, "ico") || !strcmp(value, "sho")) && ((op->ico = value[0] == 'i'), true);
		else if (!strcmp(name, "imsi_prefix"))
			ok = srv_digits(value, 5, 6) && set_str(op->imsi_prefix, sizeof op->imsi_prefix, value);
		else if (!strcmp(name, "alg"))
			ok = (!strcmp(value, "milenage") || !strcmp(value, "tuak")) &&
			     ((op->alg = value[0] == 'm' ? OMC_AKA_ALG_MILENAGE : OMC_AKA_ALG_TUAK), true);
	}
	if (!ok && !x->bad) {
		x->bad = true;
		OMC_LOG_ERR("ctl", "[%s] %s: bad value, or too many operators", section, name);
	}
	return 1;
}

omc_err omc_server_config_read(omc_server_config *c, const char *path)
{
	OMC_ENSURE(c && path, OMC_ERR_BAD_ARG);
	memset(c, 0, sizeof *c);
	ctl_cfg x = {.c = c};
	int rc = ini_parse(path, on_ini, &x);
	if (rc < 0) {
		OMC_LOG_ERR("ctl", "cannot read the config");
		OMC_BAIL(OMC_ERR_IO);
	}
	if (rc > 0 && !x.bad)
		OMC_LOG_ERR("ctl", "line %d does not parse", rc);
	OMC_ENSURE(rc == 0 && !x.bad, OMC_ERR_BAD_FORMAT);
	if ((x.db_backend[0] || x.db_path[0] || x.db_conninfo[0]) &&
	    (c->db[0] || omc_db_config(c->db, sizeof c->db, x.db_backend[0] ? x.db_backend : NULL, x.db_path,
				       x.db_conninfo) != OMC_OK)) {
		OMC_LOG_ERR("ctl", "[db]: backend sqlite with path, or postgresql with conninfo, and no [server] db");
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	if (!c->db[0] || !c->master_key[0]) {
		OMC_LOG_ERR("ctl", "[server] needs db and master_key");
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	for (size_t i = 0; i < c->n_ops; i++)
		if (!c->ops[i].imsi_prefix[0]) {
			OMC_LOG_ERR("ctl", "operator %s has no imsi_prefix", c->ops[i].name);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	return OMC_OK;
}

omc_err omc_server_master_read(uint8_t out[32], const char *path)
{
	OMC_ENSURE(out && path, OMC_ERR_BAD_ARG);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		OMC_LOG_ERR("ctl", "cannot open the master key file");
		OMC_BAIL(OMC_ERR_IO);
	}
	struct stat sb;
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 32 && (sb.st_mode & 077) == 0)
		n = read(fd, out, 32);
	close(fd);
	if (n != 32) {
		omc_memzero(out, 32);
		OMC_LOG_ERR("ctl", "the master key must be 32 bytes, readable by its owner only");
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	return OMC_OK;
}

/* The config file open under an exclusive lock, as the path names it now:
 * a writer that renamed a new file over it while this waited makes this
 * take the new one. */
static omc_err lock_config(int *out, const char *path)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		OMC_ENSURE(fd >= 0, OMC_ERR_IO);
		struct stat a, b;
		if (flock(fd, LOCK_EX) != 0 || fstat(fd, &a) != 0) {
			close(fd);
			OMC_BAIL(OMC_ERR_IO);
		}
		if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*out = fd;
			return OMC_OK;
		}
		close(fd);
	}
	OMC_BAIL(OMC_ERR_IO);
}

static omc_err read_fd(int fd, char **buf, size_t *len)
{
	struct stat sb;
	OMC_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), OMC_ERR_IO);
	OMC_ENSURE(sb.st_size >= 0 && sb.st_size <= (1 << 20), OMC_ERR_TOO_LARGE);
	size_t cap = (size_t)sb.st_size, n = 0;
	char *b = omc_alloc(cap + 1);
	OMC_ENSURE(b != NULL, OMC_ERR_NOMEM);
	while (n < cap) {
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			omc_free(b);
			OMC_BAIL(OMC_ERR_IO);
		}
		n += (size_t)r;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return OMC_OK;
}

/* A line "[operator NAME]" (white space around it allowed): a section of
 * that name, even one without keys (which inih never reports). */
static bool has_section(const char *text, const char *name)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		size_t want = strlen(name);
		if ((size_t)(e - s) == 11 + want && !strncmp(s, "[operator ", 10) && !strncmp(s + 10, name, want) &&
		    e[-1] == ']')
			return true;
		p += n + (nl ? 1 : 0);
	}
	return false;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* old + add into a new file beside path (with the old one's mode and, if
 * that cannot be kept, refused, its owner: a server running as another
 * user must still read it), then renamed over it. */
static omc_err replace_file(const char *path, const struct stat *sb, const char *old, size_t old_len, const char *add,
			    size_t add_len)
{
	char tmp[1100];
	OMC_ENSURE(snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) < (int)sizeof tmp, OMC_ERR_BAD_ARG);
	int fd = mkstemp(tmp);
	OMC_ENSURE(fd >= 0, OMC_ERR_IO);
	bool owner = fchown(fd, sb->st_uid, sb->st_gid) == 0 || (sb->st_uid == geteuid() && sb->st_gid == getegid());
	if (!owner)
		errno = EPERM;
	bool ok = owner && fchmod(fd, sb->st_mode & 07777) == 0 && write_all(fd, old, old_len) &&
		  (old_len == 0 || old[old_len - 1] == '\n' || write_all(fd, "\n", 1)) && write_all(fd, add, add_len) &&
		  fsync(fd) == 0;
	ok &= close(fd) == 0;
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		unlink(tmp);
		OMC_LOG_ERR("ctl", "cannot write the config: %s", strerror(errno));
		OMC_BAIL(OMC_ERR_IO);
	}
	/* The rename itself is durable once the directory is. */
	char dir[1100];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok = dfd >= 0 && fsync(dfd) == 0;
	if (dfd >= 0)
		close(dfd);
	OMC_ENSURE(ok, OMC_ERR_IO);
	return OMC_OK;
}

omc_err omc_server_config_operator_add(const char *path, const omc_server_config_op *def)
{
	OMC_ENSURE(path && def && strlen(path) < 1000 && srv_name_ok(def->name) && srv_digits(def->imsi_prefix, 5, 6) &&
			   (def->alg == OMC_AKA_ALG_MILENAGE || def->alg == OMC_AKA_ALG_TUAK),
		   OMC_ERR_BAD_ARG);
	int fd = -1;
	OMC_TRY(lock_config(&fd, path));
	char *text = NULL;
	size_t len = 0;
	struct stat sb;
	omc_err e = fstat(fd, &sb) == 0 ? read_fd(fd, &text, &len) : OMC_ERR_IO;
	omc_server_config c = {0};
	/* The file as it is now, under the lock. */
	if (e == OMC_OK)
		e = omc_server_config_read(&c, path);
	if (e == OMC_OK && (op_find(&c, def->name) || has_section(text, def->name))) {
		OMC_LOG_ERR("ctl", "operator %s exists", def->name);
		e = OMC_ERR_EXISTS;
	}
	for (size_t i = 0; e == OMC_OK && i < c.n_ops; i++)
		if (!strcmp(c.ops[i].imsi_prefix, def->imsi_prefix)) {
			OMC_LOG_ERR("ctl", "IMSI prefix %s is operator %s's", def->imsi_prefix, c.ops[i].name);
			e = OMC_ERR_EXISTS;
		}
	if (e == OMC_OK && c.n_ops >= OMC_SERVER_OPS_MAX) {
		OMC_LOG_ERR("ctl", "the config has %d operators already, the most a server hosts", OMC_SERVER_OPS_MAX);
		e = OMC_ERR_EXHAUSTED;
	}
	char add[160];
	int n = 0;
	if (e == OMC_OK) {
		n = def->ico ? snprintf(add, sizeof add, "\n[operator %s]\nkind = ico\nimsi_prefix = %s\n", def->name,
				       def->imsi_prefix)
			    : snprintf(add, sizeof add, "\n[operator %s]\nkind = sho\nimsi_prefix = %s\nalg = %s\n",
				       def->name, def->imsi_prefix, omc_aka_alg_name(def->alg));
		if (n <= 0 || (size_t)n >= sizeof add)
			e = OMC_ERR_BUG;
	}
	if (e == OMC_OK)
		e = replace_file(path, &sb, text, len, add, (size_t)n);
	omc_free(text);
	close(fd); /* releases the lock */
	return e;
}

/* --- reading the database ----------------------------------------------------------------- */

static omc_err prep(omc_db *db, omc_dbs **q, const char *sql)
{
	int rc = omc_db_prepare(db, sql, q);
	if (rc != OMC_DB_OK) {
		OMC_LOG_ERR("ctl", "%s", omc_db_errmsg(db));
		omc_dbs_finalize(*q);
		*q = NULL;
		OMC_BAIL(omc_db_err(rc));
	}
	return OMC_OK;
}

/* A text column as a JSON string (null for NULL). Bytes that are not
 * printable ASCII become '?', so any row gives valid JSON. */
static json_t *col_str(omc_dbs *q, int i)
{
	const unsigned char *t = omc_dbs_column_text(q, i);
	if (!t)
		return json_null();
	size_t n = (size_t)omc_dbs_column_bytes(q, i);
	json_t *s = json_stringn((const char *)t, n);
	if (s)
		return s;
	char *c = omc_alloc(n + 1);
	if (!c)
		return NULL;
	for (size_t k = 0; k < n; k++)
		c[k] = t[k] >= 0x20 && t[k] < 0x7f ? (char)t[k] : '?';
	s = json_stringn(c, n);
	omc_free(c);
	return s;
}

static omc_err dump(json_t *a, char **json)
{
	OMC_ENSURE(a != NULL, OMC_ERR_NOMEM);
	*json = omc_json_dumps(a, JSON_COMPACT);
	json_decref(a);
	OMC_ENSURE(*json != NULL, OMC_ERR_NOMEM);
	return OMC_OK;
}

/* o (made whole: made_ok) onto a; false if it could not be. */
static bool append(json_t *a, json_t *o, bool made_ok)
{
	if (!made_ok) {
		json_decref(o);
		return false;
	}
	return json_array_append_new(a, o) == 0;
}

static omc_err count(omc_db *db, const char *sql, const char *op, uint64_t *out)
{
	omc_dbs *q = NULL;
	OMC_TRY(prep(db, &q, sql));
	omc_dbs_bind_text(q, 1, op, -1);
	int rc = omc_dbs_step(q);
	if (rc == OMC_DB_ROW)
		*out = (uint64_t)omc_dbs_column_int64(q, 0);
	omc_dbs_finalize(q);
	OMC_ENSURE(rc == OMC_DB_ROW, omc_db_err(rc) != OMC_OK ? omc_db_err(rc) : OMC_ERR_IO);
	return OMC_OK;
}

omc_err omc_server_operator_stats(omc_db *db, const char *op, omc_server_op_stats *st)
{
	OMC_ENSURE(db && op && st, OMC_ERR_BAD_ARG);
	memset(st, 0, sizeof *st);
	OMC_TRY(count(db, "SELECT count(*) FROM auc_subscriber WHERE operator = ?1", op, &st->subscribers));
	OMC_TRY(count(db, "SELECT count(*) FROM auc_subscriber WHERE operator = ?1 AND enabled <> 0", op, &st->enabled));
	OMC_TRY(count(db, "SELECT count(*) FROM sho_subscriber WHERE operator = ?1", op, &st->accounts));
	OMC_TRY(count(db, "SELECT count(*) FROM sho_device WHERE operator = ?1", op, &st->devices));
	return OMC_OK;
}

/* The stored profile as an object (it is compact JSON), or as the string
 * it is if it does not parse. */
static json_t *profile_of(omc_dbs *q, int i)
{
	const char *t = (const char *)omc_dbs_column_text(q, i);
	json_error_t je;
	json_t *o = t ? omc_json_loads(t, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (json_is_object(o))
		return o;
	json_decref(o);
	return t ? col_str(q, i) : json_object();
}

omc_err omc_server_subscribers_export(omc_db *db, const char *op, char **json)
{
	OMC_ENSURE(db && op && json, OMC_ERR_BAD_ARG);
	*json = NULL;
	omc_dbs *q = NULL;
	/* Never the secrets column: no K, OPc or TOPc leaves this way. */
	OMC_TRY(prep(db, &q,
		     "SELECT imsi, alg, seq_he, enabled, expires, profile,"
		     " (SELECT count(*) FROM auc_av_log l WHERE l.imsi = s.imsi)"
		     " FROM auc_subscriber s WHERE operator = ?1 ORDER BY imsi"));
	omc_dbs_bind_text(q, 1, op, -1);
	json_t *a = json_array();
	int rc = OMC_DB_DONE;
	bool ok = a != NULL;
	while (ok && (rc = omc_dbs_step(q)) == OMC_DB_ROW) {
		json_t *o = json_object();
		ok = o && json_object_set_new(o, "imsi", col_str(q, 0)) == 0 &&
		     json_object_set_new(o, "alg", col_str(q, 1)) == 0 &&
		     json_object_set_new(o, "seq_he", json_integer(omc_dbs_column_int64(q, 2))) == 0 &&
		     json_object_set_new(o, "enabled", json_boolean(omc_dbs_column_int(q, 3) != 0)) == 0 &&
		     json_object_set_new(o, "expires", json_integer(omc_dbs_column_int64(q, 4))) == 0 &&
		     json_object_set_new(o, "profile", profile_of(q, 5)) == 0 &&
		     json_object_set_new(o, "avs_issued", json_integer(omc_dbs_column_int64(q, 6))) == 0;
		ok = append(a, o, ok);
	}
	if (ok && rc != OMC_DB_DONE) {
		OMC_LOG_ERR("ctl", "%s", omc_db_errmsg(db));
		omc_dbs_finalize(q);
		json_decref(a);
		OMC_BAIL(omc_db_err(rc));
	}
	omc_dbs_finalize(q);
	if (!ok) {
		json_decref(a);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	return dump(a, json);
}

omc_err omc_server_devices_list(omc_db *db, const char *sho, char **json)
{
	OMC_ENSURE(db && json, OMC_ERR_BAD_ARG);
	*json = NULL;
	omc_dbs *q = NULL;
	/* Every device an SHO registered, with each MCIM it issued for it (or
	 * none yet) and what the DRF knows; then the devices only the DRF
	 * knows (their SHO is hosted elsewhere, or has no record). */
	OMC_TRY(prep(db, &q,
		     "SELECT d.platform_id, coalesce(m.tre_id, r.tre_id), d.operator, d.subscriber,"
		     " coalesce(m.state, d.state), r.state, m.mcim_id, m.imsi, m.version, r.pcid_imsi, m.created"
		     " FROM sho_device d LEFT JOIN drf_device r ON r.platform_id = d.platform_id"
		     " LEFT JOIN sho_mcim m ON m.operator = d.operator AND m.platform_id = d.platform_id"
		     " WHERE ?1 IS NULL OR d.operator = ?1"
		     " UNION ALL"
		     " SELECT r.platform_id, r.tre_id, r.sho, NULL, NULL, r.state, NULL, NULL, NULL, r.pcid_imsi, NULL"
		     " FROM drf_device r WHERE (?1 IS NULL OR r.sho = ?1) AND NOT EXISTS"
		     " (SELECT 1 FROM sho_device d WHERE d.platform_id = r.platform_id AND d.operator = r.sho)"
		     " ORDER BY 1, 3, 11"));
	if (sho)
		omc_dbs_bind_text(q, 1, sho, -1);
	json_t *a = json_array();
	int rc = OMC_DB_DONE;
	bool ok = a != NULL;
	while (ok && (rc = omc_dbs_step(q)) == OMC_DB_ROW) {
		json_t *o = json_object();
		json_t *ver = omc_dbs_column_type(q, 8) == OMC_DB_NULL ? json_null()
								       : json_integer(omc_dbs_column_int64(q, 8));
		ok = o && json_object_set_new(o, "platform_id", col_str(q, 0)) == 0 &&
		     json_object_set_new(o, "tre_id", col_str(q, 1)) == 0 &&
		     json_object_set_new(o, "sho", col_str(q, 2)) == 0 &&
		     json_object_set_new(o, "subscriber", col_str(q, 3)) == 0 &&
		     json_object_set_new(o, "state", col_str(q, 4)) == 0 &&
		     json_object_set_new(o, "drf_state", col_str(q, 5)) == 0 &&
		     json_object_set_new(o, "mcim_id", col_str(q, 6)) == 0 &&
		     json_object_set_new(o, "imsi", col_str(q, 7)) == 0 && json_object_set_new(o, "version", ver) == 0 &&
		     json_object_set_new(o, "pcid_imsi", col_str(q, 9)) == 0;
		ok = append(a, o, ok);
	}
	if (ok && rc != OMC_DB_DONE) {
		OMC_LOG_ERR("ctl", "%s", omc_db_errmsg(db));
		omc_dbs_finalize(q);
		json_decref(a);
		OMC_BAIL(omc_db_err(rc));
	}
	omc_dbs_finalize(q);
	if (!ok) {
		json_decref(a);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	return dump(a, json);
}

omc_err omc_server_audit_list(omc_db *db, const char *role, uint64_t limit, char **json)
{
	OMC_ENSURE(db && json && limit <= INT64_MAX, OMC_ERR_BAD_ARG);
	*json = NULL;
	omc_dbs *q = NULL;
	/* The newest `limit` records of the role (or of "ROLE.x": --role sho
	 * takes every SHO), oldest first. */
	OMC_TRY(prep(db, &q,
		     "SELECT id, time, role, actor, event, subject, result, detail FROM"
		     " (SELECT * FROM audit WHERE ?1 IS NULL OR role = ?1 OR substr(role, 1, length(?1) + 1) = ?1 || '.'"
		     " ORDER BY id DESC LIMIT ?2) ORDER BY id"));
	if (role)
		omc_dbs_bind_text(q, 1, role, -1);
	omc_dbs_bind_int64(q, 2, limit ? (int64_t)limit : -1);
	json_t *a = json_array();
	int rc = OMC_DB_DONE;
	bool ok = a != NULL;
	static const char *const names[] = {"role", "actor", "event", "subject", "result", "detail"};
	while (ok && (rc = omc_dbs_step(q)) == OMC_DB_ROW) {
		json_t *o = json_object();
		ok = o && json_object_set_new(o, "id", json_integer(omc_dbs_column_int64(q, 0))) == 0 &&
		     json_object_set_new(o, "time", json_integer(omc_dbs_column_int64(q, 1))) == 0;
		for (int i = 0; ok && i < 6; i++)
			ok = json_object_set_new(o, names[i], col_str(q, 2 + i)) == 0;
		ok = append(a, o, ok);
	}
	if (ok && rc != OMC_DB_DONE) {
		OMC_LOG_ERR("ctl", "%s", omc_db_errmsg(db));
		omc_dbs_finalize(q);
		json_decref(a);
		OMC_BAIL(omc_db_err(rc));
	}
	omc_dbs_finalize(q);
	if (!ok) {
		json_decref(a);
		OMC_BAIL(OMC_ERR_NOMEM);
	}
	return dump(a, json);
}

/* --- import ------------------------------------------------------------------------------- */

static omc_err why(omc_server_import_result *r, omc_err e, const char *msg)
{
	snprintf(r->why, sizeof r->why, "%s", msg);
	return e;
}

static bool only_members(json_t *o, const char *const *allowed, size_t n)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(k, allowed[i]);
		if (!found)
			return false;
	}
	return true;
}

/* The operator whose IMSI prefix is the longest to begin imsi (the
 * routing of srv_op_for_imsi). */
static const omc_server_config_op *home_of(const omc_server_config *c, const char *imsi)
{
	const omc_server_config_op *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < c->n_ops; i++) {
		size_t n = strlen(c->ops[i].imsi_prefix);
		if (n > best_len && !strncmp(imsi, c->ops[i].imsi_prefix, n)) {
			best = &c->ops[i];
			best_len = n;
		}
	}
	return best;
}

/* A service profile as the VNO enforces it: {"data_only": bool,
 * "volume_cap": bytes}, either member optional; compact into out. */
static bool profile_ok(json_t *p, char out[128])
{
	static const char *const members[] = {"data_only", "volume_cap"};
	json_t *d = json_object_get(p, "data_only"), *v = json_object_get(p, "volume_cap");
	if (!json_is_object(p) || !only_members(p, members, 2) || (d && !json_is_boolean(d)) ||
	    (v && (!json_is_integer(v) || json_integer_value(v) < 0)))
		return false;
	char *s = omc_json_dumps(p, JSON_COMPACT);
	bool ok = s && strlen(s) < 128;
	if (ok)
		memcpy(out, s, strlen(s) + 1);
	omc_free(s);
	return ok;
}

/* One line: its subscriber into the AuC (inside the caller's transaction). */
static omc_err import_line(omc_auc *a, const omc_server_config *c, const omc_server_config_op *op, const char *p,
			   size_t n, omc_server_import_result *r)
{
	static const char *const members[] = {"imsi", "alg", "k", "opc", "tuak", "expires", "profile"};
	static const char *const tuak_members[] = {"topc", "iterations", "mac_bits", "res_bits", "ck_bits", "ik_bits"};
	json_error_t je;
	json_t *o = omc_json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
	omc_memzero(&je, sizeof je); /* its text may quote the line */
	if (!json_is_object(o)) {
		json_decref(o);
		return why(r, OMC_ERR_BAD_FORMAT, "not one JSON object");
	}
	const char *imsi = json_string_value(json_object_get(o, "imsi"));
	const char *alg = json_string_value(json_object_get(o, "alg"));
	json_t *tu = json_object_get(o, "tuak"), *exp = json_object_get(o, "expires"), *prof = json_object_get(o, "profile");
	omc_err e = OMC_OK;
	char profile[128] = "{}";
	if (!only_members(o, members, OMC_ARRAY_LEN(members)))
		e = why(r, OMC_ERR_BAD_FORMAT, "unknown member (imsi, alg, k, opc, tuak, expires, profile)");
	else if (!imsi || !srv_digits(imsi, 6, 15))
		e = why(r, OMC_ERR_BAD_FORMAT, "imsi: a string of 6 to 15 digits");
	else if (home_of(c, imsi) != op)
		e = why(r, OMC_ERR_BAD_FORMAT, "imsi: not in the operator's IMSI range");
	else if (json_object_get(o, "alg") && (!alg || (strcmp(alg, "milenage") && strcmp(alg, "tuak"))))
		e = why(r, OMC_ERR_BAD_FORMAT, "alg: milenage or tuak");
	else if (tu && (!json_is_object(tu) || !only_members(tu, tuak_members, OMC_ARRAY_LEN(tuak_members))))
		e = why(r, OMC_ERR_BAD_FORMAT, "tuak: an object of topc, iterations, mac_bits, res_bits, ck_bits, ik_bits");
	else if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 0))
		e = why(r, OMC_ERR_BAD_FORMAT, "expires: seconds since the epoch, 0 for none");
	else if (prof && !profile_ok(prof, profile))
		e = why(r, OMC_ERR_BAD_FORMAT, "profile: {\"data_only\": bool, \"volume_cap\": bytes}");
	for (size_t i = 1; e == OMC_OK && tu && i < OMC_ARRAY_LEN(tuak_members); i++) {
		json_t *v = json_object_get(tu, tuak_members[i]);
		if (v && (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 65535))
			e = why(r, OMC_ERR_BAD_FORMAT, "tuak: iterations and bit lengths are positive integers");
	}
	omc_aka_cred cred;
	OMC_DEFER_WIPE(cred);
	if (e == OMC_OK && srv_cred_from_json(&cred, o) != OMC_OK)
		e = why(r, OMC_ERR_BAD_FORMAT,
			"not a credential: k (16 or 32 bytes of hex) and opc (16), or tuak.topc (32)");
	char imsi_copy[16] = "";
	if (imsi && strlen(imsi) < sizeof imsi_copy)
		memcpy(imsi_copy, imsi, strlen(imsi) + 1);
	omc_auc_sub_opts so = {.ind_bits = OMC_AKA_IND_BITS_DEFAULT,
			       .expires = exp ? (int64_t)json_integer_value(exp) : 0,
			       .profile = profile};
	json_decref(o); /* omc_free wipes the hex of the secrets */
	if (e == OMC_OK) {
		e = omc_auc_add_ex(a, imsi_copy, &cred, &so);
		if (e == OMC_ERR_EXISTS)
			snprintf(r->why, sizeof r->why, "imsi %s: a subscriber of this or another operator already",
				 imsi_copy);
		else if (e != OMC_OK)
			(void)why(r, e, omc_err_str(e));
	}
	omc_aka_cred_wipe(&cred);
	return e;
}

/* The master key opens what the database holds already: one sealed record
 * of any operator (the records of every operator are sealed under keys
 * derived from the one master key). An empty database proves nothing. */
static omc_err master_opens(omc_db *db, const uint8_t master[32])
{
	omc_dbs *q = NULL;
	OMC_TRY(prep(db, &q, "SELECT imsi, operator FROM auc_subscriber LIMIT 1"));
	int rc = omc_dbs_step(q);
	char imsi[16] = "", op[SRV_NAME_MAX] = "";
	if (rc == OMC_DB_ROW) {
		snprintf(imsi, sizeof imsi, "%s", (const char *)omc_dbs_column_text(q, 0));
		snprintf(op, sizeof op, "%s", (const char *)omc_dbs_column_text(q, 1));
	}
	omc_dbs_finalize(q);
	OMC_ENSURE(rc == OMC_DB_ROW || rc == OMC_DB_DONE, omc_db_err(rc));
	if (rc == OMC_DB_DONE)
		return OMC_OK;
	omc_auc *a = NULL;
	OMC_TRY(omc_auc_open(&a, db, op, master));
	omc_aka_cred cred;
	OMC_DEFER_WIPE(cred);
	omc_err e = omc_auc_cred_get(a, imsi, &cred);
	omc_aka_cred_wipe(&cred);
	omc_auc_close(a);
	if (e == OMC_ERR_CORRUPT)
		OMC_LOG_ERR("ctl", "the master key does not open the subscribers in the database");
	return e;
}

omc_err omc_server_subscribers_import(omc_db *db, const omc_server_config *c, const char *opname,
				      const uint8_t master[32], const char *text, size_t len,
				      omc_server_import_result *r)
{
	OMC_ENSURE(db && c && opname && master && r && (text || len == 0), OMC_ERR_BAD_ARG);
	memset(r, 0, sizeof *r);
	const omc_server_config_op *op = omc_server_config_op_find(c, opname);
	OMC_ENSURE(op != NULL, OMC_ERR_NOT_FOUND);
	OMC_TRY(master_opens(db, master));
	omc_auc *a = NULL;
	OMC_TRY(omc_auc_open(&a, db, opname, master));
	omc_err e = omc_db_exec(db, "BEGIN IMMEDIATE");
	size_t imported = 0, line = 0;
	for (size_t at = 0; e == OMC_OK && at < len;) {
		const char *p = text + at;
		const char *nl = memchr(p, '\n', len - at);
		size_t n = nl ? (size_t)(nl - p) : len - at;
		at += n + (nl ? 1 : 0);
		line++;
		size_t blank = 0;
		while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
			blank++;
		if (blank == n)
			continue; /* an empty line */
		e = import_line(a, c, op, p, n, r);
		if (e == OMC_OK)
			imported++;
		else
			r->line = line;
	}
	if (e == OMC_OK)
		e = omc_db_exec(db, "COMMIT");
	if (e != OMC_OK)
		omc_db_rollback(db);
	else
		r->imported = imported;
	omc_auc_close(a);
	return e;
}
