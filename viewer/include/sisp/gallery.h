/* The list of images sisp-view pages through: files named on the command line (kept in
 * the order given), or the images in a directory (--dir), sorted by name (natural order:
 * "img2" before "img10"; the default) or by modification time (oldest first, so the
 * newest download is last). A directory scan takes regular files, following symlinks,
 * whose names do not start with '.' (the client's temp files) and do not end in ".info"
 * (sidecars), and whose first bytes are PNG or JPEG magic. Watching lives in watch.h.
 * Not thread-safe: one thread owns a gallery. */
#ifndef SISP_GALLERY_H
#define SISP_GALLERY_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SISP_GALLERY_SORT_NAME = 0,
    SISP_GALLERY_SORT_MTIME,
} sisp_gallery_sort_t;

/* What a file looked like when scanned; a change means it was replaced. */
typedef struct {
    int64_t mtime_ns;
    int64_t info_mtime_ns; /* of FILE.info, 0 when there is none */
    uint64_t size;
} sisp_gallery_stamp_t;

typedef struct {
    char *path;       /* owned */
    const char *name; /* the last path component, points into path */
    sisp_gallery_stamp_t stamp;
} sisp_gallery_entry_t;

typedef struct {
    sisp_gallery_entry_t *items; /* owned, count used of cap */
    size_t count;
    size_t cap;
    sisp_gallery_sort_t sort;
} sisp_gallery_t;

/* The limit on entries, so a hostile directory cannot exhaust memory. */
#define SISP_GALLERY_MAX_ENTRIES 1000000

void sisp_gallery_init(sisp_gallery_t *g, sisp_gallery_sort_t sort);

/* Frees every entry; g is left empty and reusable. NULL is a no-op. */
void sisp_gallery_free(sisp_gallery_t *g);

/* Appends path as given (no check that it exists: the viewer shows the error when it
 * comes to it). 0, SISP_ENOMEM or SISP_ETOOMANY. */
int sisp_gallery_add(sisp_gallery_t *g, const char *path);

/* Replaces the contents with the images in dir, sorted by g->sort. On failure g is
 * unchanged. 0; SISP_ENOTFOUND, SISP_EPERM or SISP_EIO (*sys_err, may be NULL, gets the
 * errno) when dir cannot be read; SISP_ENOMEM; SISP_ETOOMANY. */
int sisp_gallery_scan(sisp_gallery_t *g, const char *dir, int *sys_err);

/* Index of the entry whose path equals path, or -1. */
long sisp_gallery_find(const sisp_gallery_t *g, const char *path);

/* 1 if a directory entry with this name may be an image (not hidden, not a sidecar). */
int sisp_gallery_name_ok(const char *name);

/* Natural order: runs of digits compare by value. Usable with qsort on strings. */
int sisp_gallery_natcmp(const char *a, const char *b);

/* 1 if both stamps describe the same file state. */
int sisp_gallery_stamp_eq(const sisp_gallery_stamp_t *a, const sisp_gallery_stamp_t *b);

#endif
