/* openmcim: levelled logging.
 *
 * Log identifiers, lengths and error names, never key material: there is no
 * log call that takes a byte buffer, and scripts/lint/run.sh refuses log
 * calls whose arguments name a secret (k, opc, topc, pin, key...). The audit
 * log is a separate, signed channel.
 *
 * OMC_LOG_ERR/WRN/INF/DBG(module, fmt, ...) compile out above
 * OMC_MAX_LOG_LEVEL; at run time omc_log_set_level() filters further. The
 * default sink writes "openmcim[module] level: message" lines to stderr. */
#ifndef OPENMCIM_LOG_H
#define OPENMCIM_LOG_H

#include "openmcim/common.h"

typedef enum omc_log_level {
	OMC_LOG_NONE = 0,
	OMC_LOG_LEVEL_ERR = 1,
	OMC_LOG_LEVEL_WRN = 2,
	OMC_LOG_LEVEL_INF = 3,
	OMC_LOG_LEVEL_DBG = 4,
} omc_log_level;

#ifndef OMC_MAX_LOG_LEVEL
#define OMC_MAX_LOG_LEVEL OMC_LOG_LEVEL_DBG
#endif

typedef void (*omc_log_handler)(void *arg, omc_log_level level, const char *module, const char *msg);

/* NULL restores the default stderr sink. */
OMC_API void omc_log_set_handler(omc_log_handler fn, void *arg);
OMC_API void omc_log_set_level(omc_log_level level);
OMC_API omc_log_level omc_log_get_level(void);
OMC_API const char *omc_log_level_name(omc_log_level level);
OMC_API void omc_log_write(omc_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define OMC_LOG_(lvl, mod, ...)                                                 \
	do {                                                                    \
		if ((lvl) <= OMC_MAX_LOG_LEVEL && (lvl) <= omc_log_get_level()) \
			omc_log_write((lvl), (mod), __VA_ARGS__);               \
	} while (0)
#define OMC_LOG_ERR(mod, ...) OMC_LOG_(OMC_LOG_LEVEL_ERR, mod, __VA_ARGS__)
#define OMC_LOG_WRN(mod, ...) OMC_LOG_(OMC_LOG_LEVEL_WRN, mod, __VA_ARGS__)
#define OMC_LOG_INF(mod, ...) OMC_LOG_(OMC_LOG_LEVEL_INF, mod, __VA_ARGS__)
#define OMC_LOG_DBG(mod, ...) OMC_LOG_(OMC_LOG_LEVEL_DBG, mod, __VA_ARGS__)

#endif
