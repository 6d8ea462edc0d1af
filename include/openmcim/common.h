/* openmcim: attributes and small definitions shared by every public header. */
#ifndef OPENMCIM_COMMON_H
#define OPENMCIM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define OMC_API __attribute__((visibility("default")))
/* Every fallible function: ignoring its result is a compile error under -Werror. */
#define OMC_MUST_USE __attribute__((warn_unused_result))
#define OMC_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))

#ifdef __cplusplus
#define OMC_STATIC_LEN(n)
#else
/* Fixed-size array parameters: `uint8_t k[OMC_STATIC_LEN(16)]`. */
#define OMC_STATIC_LEN(n) static n
#endif

#endif
