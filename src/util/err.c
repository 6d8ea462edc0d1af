/* Error names, messages and categories, from the one table in err.h. */
#include <stdio.h>

#include "util/util_internal.h"

const char *omc_err_name(omc_err e)
{
	switch (e) {
#define OMC_ERR_NAME_(name, cat, n, msg) \
	case OMC_ERR_##name:             \
		return #name;
		OMC_ERR_TABLE(OMC_ERR_NAME_)
#undef OMC_ERR_NAME_
	}
	return "UNKNOWN";
}

const char *omc_err_str(omc_err e)
{
	switch (e) {
#define OMC_ERR_MSG_(name, cat, n, msg) \
	case OMC_ERR_##name:            \
		return msg;
		OMC_ERR_TABLE(OMC_ERR_MSG_)
#undef OMC_ERR_MSG_
	}
	return "unknown error";
}

omc_err_cat omc_err_category(omc_err e)
{
	return (omc_err_cat)(((unsigned)e >> 8) & 0xffu);
}

const char *omc_err_cat_name(omc_err_cat c)
{
	static const char *const names[] = {"OK", "USAGE", "INPUT", "AUTH", "POLICY", "STORE", "TAMPER", "INTERNAL"};
	return (unsigned)c < OMC_ARRAY_LEN(names) ? names[c] : "UNKNOWN";
}

static _Thread_local char err_source[96];

omc_err omc_err_raise(omc_err e, const char *file, int line)
{
	snprintf(err_source, sizeof err_source, "%s:%d", file, line);
	return e;
}

const char *omc_err_source(void)
{
	return err_source;
}
