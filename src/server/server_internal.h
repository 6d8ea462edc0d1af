/* openmcim server: internal interfaces between the roles and the database. */
#ifndef OMC_SERVER_INTERNAL_H
#define OMC_SERVER_INTERNAL_H

#include <stdio.h>

#include <sqlite3.h>

#include "openmcim/log.h"
#include "openmcim/server.h"
#include "util/util_internal.h"

struct omc_db {
	sqlite3 *h;
};

/* Run SQL without results; the message of a failure goes to the log. */
OMC_MUST_USE omc_err omc_db_exec(omc_db *db, const char *sql);
/* An SQLite result code as an omc_err (a constraint is OMC_ERR_EXISTS). */
omc_err omc_db_err(int rc);

#endif
