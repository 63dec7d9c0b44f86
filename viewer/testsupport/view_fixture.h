/* Test support for the viewer's tests: a deterministic test pattern, PNG writing with
 * libpng (so no binary fixtures are checked in), and scratch directories. */
#ifndef SISP_VIEW_FIXTURE_H
#define SISP_VIEW_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* String equality for tests/common/testutil.h's harness (include testutil.h first). */
#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        t_checks++;                                                                                \
        if (strcmp(a_, b_) != 0)                                                                   \
            T_FAIL_AT("CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b, a_, b_);                      \
    } while (0)

/* The pattern's colour at (x, y) of a w x h image: one base colour per quadrant (red,
 * green, blue, yellow: top-left, top-right, bottom-left, bottom-right) plus a small
 * position-dependent variation (0-31 on each channel), so a shift by one pixel shows while
 * averages stay within 32 of the base colour. Alpha is 255. */
void tview_pattern_pixel(int x, int y, int w, int h, uint8_t out[4]);

/* A new w x h RGBA8 buffer holding the pattern (free()), NULL on failure. */
uint8_t *tview_pattern(int w, int h);

/* Writes rgba (w x h, RGBA8) as an 8-bit RGBA PNG. 0 or -1. */
int tview_write_png(const char *path, const uint8_t *rgba, int w, int h);

/* Writes the pattern as a PNG. 0 or -1. */
int tview_write_pattern_png(const char *path, int w, int h);

/* Writes len bytes to path (create or truncate). 0 or -1. */
int tview_write_file(const char *path, const void *data, size_t len);

/* Makes a fresh directory under $TMPDIR (or /tmp) into buf. 0 or -1. */
int tview_mkdtemp(char *buf, size_t cap, const char *tag);

/* Removes every entry of dir (not recursive) and dir itself. */
void tview_rmdir(const char *dir);

/* snprintf into buf of dir "/" name; aborts when it does not fit. */
void tview_join(char *buf, size_t cap, const char *dir, const char *name);

#endif
