/* The daemon's map from peer uids to local user names (TRE-1, TRE-10):
 * a users file of "UID NAME" lines, or the default (the daemon's own uid
 * is "agent", root "admin"). A peer whose uid is not in the map may only
 * ask for the status. docs/tred.md, "Peer credentials". */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tred/tred_internal.h"
#include "util/util_internal.h"

#define USERS_FILE_MAX (64u << 10)

bool tred_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TRED_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void put(tred_usermap *m, uid_t uid, const char *name)
{
	m->e[m->n].uid = uid;
	snprintf(m->e[m->n].name, sizeof m->e[m->n].name, "%s", name);
	m->n++;
}

void tred_usermap_default(tred_usermap *m, uid_t own_uid)
{
	memset(m, 0, sizeof *m);
	put(m, own_uid, "agent");
	if (own_uid != 0)
		put(m, 0, "admin");
}

/* A decimal uid, or a login name from the password database. */
static bool parse_uid(uid_t *uid, const char *s, size_t len)
{
	bool digits = len > 0 && len <= 10;
	for (size_t i = 0; digits && i < len; i++)
		digits = s[i] >= '0' && s[i] <= '9';
	if (digits) {
		uint64_t v = 0;
		for (size_t i = 0; i < len; i++)
			v = v * 10 + (uint64_t)(s[i] - '0');
		if (v >= (uint64_t)(uid_t)-1) /* (uid_t)-1 is "no uid" */
			return false;
		*uid = (uid_t)v;
		return true;
	}
	char login[64], buf[4096];
	if (len == 0 || len >= sizeof login)
		return false;
	memcpy(login, s, len);
	login[len] = 0;
	struct passwd pw, *res = NULL;
	if (getpwnam_r(login, &pw, buf, sizeof buf, &res) != 0 || !res)
		return false;
	*uid = pw.pw_uid;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (without its newline): blank, a comment, or "UID NAME". */
static omc_err parse_line(tred_usermap *m, const char *p, size_t len, unsigned lineno, const char *path)
{
	size_t i = 0;
	while (i < len && is_space(p[i]))
		i++;
	if (i == len || p[i] == '#')
		return OMC_OK;
	size_t u0 = i;
	while (i < len && !is_space(p[i]))
		i++;
	size_t u1 = i;
	while (i < len && is_space(p[i]))
		i++;
	size_t n0 = i;
	while (i < len && !is_space(p[i]))
		i++;
	size_t n1 = i;
	while (i < len && is_space(p[i]))
		i++;
	uid_t uid;
	if (i != len || n0 == n1 || !parse_uid(&uid, p + u0, u1 - u0) || !tred_name_ok(p + n0, n1 - n0)) {
		OMC_LOG_ERR("tred", "%s:%u: want 'UID NAME' (a known uid or login, a name of [a-z0-9_-])", path, lineno);
		OMC_BAIL(OMC_ERR_BAD_FORMAT);
	}
	for (size_t k = 0; k < m->n; k++)
		if (m->e[k].uid == uid) {
			OMC_LOG_ERR("tred", "%s:%u: uid %u named twice", path, lineno, (unsigned)uid);
			OMC_BAIL(OMC_ERR_BAD_FORMAT);
		}
	if (m->n == OMC_TRED_MAX_USERS) {
		OMC_LOG_ERR("tred", "%s:%u: more than %u users", path, lineno, (unsigned)OMC_TRED_MAX_USERS);
		OMC_BAIL(OMC_ERR_TOO_LARGE);
	}
	char name[TRED_NAME_MAX + 1];
	memcpy(name, p + n0, n1 - n0);
	name[n1 - n0] = 0;
	put(m, uid, name);
	return OMC_OK;
}

omc_err tred_usermap_load(tred_usermap *m, const char *path)
{
	memset(m, 0, sizeof *m);
	uint8_t *buf = NULL;
	size_t len = 0;
	omc_err e = omc_read_file(path, &buf, &len, USERS_FILE_MAX);
	if (e != OMC_OK) {
		OMC_LOG_ERR("tred", "users file %s: %s", path, omc_err_str(e));
		return e;
	}
	const char *p = (const char *)buf;
	unsigned lineno = 1;
	size_t at = 0;
	while (e == OMC_OK && at < len) {
		const char *nl = memchr(p + at, '\n', len - at);
		size_t l = nl ? (size_t)(nl - (p + at)) : len - at;
		if (memchr(p + at, 0, l)) {
			OMC_LOG_ERR("tred", "%s:%u: a NUL byte", path, lineno);
			e = OMC_ERR_BAD_FORMAT;
			break;
		}
		e = parse_line(m, p + at, l, lineno++, path);
		at += l + 1;
	}
	omc_free(buf);
	if (e != OMC_OK)
		memset(m, 0, sizeof *m);
	return e;
}

void tred_usermap_apply(const tred_usermap *m, tred_peer *peer)
{
	peer->mapped = false;
	peer->name[0] = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].uid == peer->uid) {
			peer->mapped = true;
			snprintf(peer->name, sizeof peer->name, "%s", m->e[i].name);
			return;
		}
}
