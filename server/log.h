/* One line per event on stderr: time, level, message. Peer bytes go through sisp_log_escape
 * (printable ASCII kept, the rest as \xNN, truncated); secrets are never logged. */
#ifndef SISP_LOG_H
#define SISP_LOG_H

#include <stddef.h>

typedef enum { SISP_LOG_DEBUG, SISP_LOG_INFO, SISP_LOG_WARN, SISP_LOG_ERROR } sisp_log_level_t;

void sisp_log_set_level(sisp_log_level_t level);
__attribute__((format(printf, 2, 3))) void sisp_log(sisp_log_level_t level, const char *fmt, ...);
/* Writes at most out_size - 1 characters and a NUL. */
void sisp_log_escape(char *out, size_t out_size, const void *p, size_t len);

#endif
