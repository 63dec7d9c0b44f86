#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static sisp_log_level_t min_level = SISP_LOG_INFO;

void sisp_log_set_level(sisp_log_level_t level) {
    min_level = level;
}

void sisp_log(sisp_log_level_t level, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < min_level)
        return;
    char line[1024], stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000, names[level], line);
}

void sisp_log_escape(char *out, size_t out_size, const void *p, size_t len) {
    const unsigned char *b = p;
    size_t o = 0;
    if (out_size == 0)
        return;
    for (size_t i = 0; i < len; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\') {
            if (o + 1 >= out_size)
                break;
            out[o++] = (char)b[i];
        } else {
            if (o + 4 >= out_size)
                break;
            snprintf(out + o, 5, "\\x%02x", b[i]);
            o += 4;
        }
    }
    out[o] = '\0';
}
