/* openmcim net: internal helpers shared by the HTTP server and client. */
#ifndef OMC_NET_INTERNAL_H
#define OMC_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Append n bytes to *buf (len, cap), growing it by doubling through
 * omc_realloc (the old block wiped) and always leaving room for a NUL
 * after the data. False when out of memory (the buffer is unchanged). */
bool omc_net_append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n);

#endif
