/* What the fuzz targets share (never linked into production). Each target
 * defines LLVMFuzzerTestOneInput; libFuzzer drives it under OMC_FUZZ (clang),
 * replay.c replays a corpus directory through it everywhere else. */
#ifndef OMC_FUZZ_H
#define OMC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process: logs off (the targets feed garbage on purpose), the
 * JOSE allocators routed through omc_alloc. */
void fz_init(void);
/* data as a NUL-terminated omc_alloc'd string (NULL when out of memory). */
char *fz_str(const uint8_t *data, size_t size);
/* A fresh directory under /tmp for this process, removed at exit. */
const char *fz_tmpdir(void);
/* Write data to path (whole file); 0 on success. */
int fz_write(const char *path, const uint8_t *data, size_t size);

#endif
