/* Levelled logging with one replaceable sink. */
#include <stdarg.h>
#include <stdio.h>

#include "util/util_internal.h"

static omc_log_handler log_fn;
static void *log_arg;
static omc_log_level log_level = OMC_LOG_LEVEL_WRN;

void omc_log_set_handler(omc_log_handler fn, void *arg)
{
	log_fn = fn;
	log_arg = arg;
}

void omc_log_set_level(omc_log_level level)
{
	log_level = level;
}

omc_log_level omc_log_get_level(void)
{
	return log_level;
}

const char *omc_log_level_name(omc_log_level level)
{
	switch (level) {
	case OMC_LOG_LEVEL_ERR:
		return "error";
	case OMC_LOG_LEVEL_WRN:
		return "warning";
	case OMC_LOG_LEVEL_INF:
		return "info";
	case OMC_LOG_LEVEL_DBG:
		return "debug";
	case OMC_LOG_NONE:
		break;
	}
	return "none";
}

void omc_log_write(omc_log_level level, const char *module, const char *fmt, ...)
{
	if (level > log_level || level == OMC_LOG_NONE)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(log_arg, level, module, msg);
	else
		fprintf(stderr, "openmcim[%s] %s: %s\n", module, omc_log_level_name(level), msg);
	omc_memzero(msg, sizeof msg);
}
