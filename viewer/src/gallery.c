/* The image list: command-line files or a sorted directory scan. See sisp/gallery.h. */
#include "sisp/gallery.h"

#include "readfile.h"
#include "sisp/decode.h"
#include "sisp/error.h"
#include "sisp/info.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNIFF_BYTES 16

void sisp_gallery_init(sisp_gallery_t *g, sisp_gallery_sort_t sort) {
    memset(g, 0, sizeof(*g));
    g->sort = sort;
}

void sisp_gallery_free(sisp_gallery_t *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->count; i++)
        free(g->items[i].path);
    free(g->items);
    g->items = NULL;
    g->count = 0;
    g->cap = 0;
}

static const char *last_component(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Appends an entry taking ownership of path (freed on failure). */
static int push_owned(sisp_gallery_t *g, char *path, const sisp_gallery_stamp_t *stamp) {
    if (g->count >= SISP_GALLERY_MAX_ENTRIES) {
        free(path);
        return SISP_ETOOMANY;
    }
    if (g->count == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        sisp_gallery_entry_t *items = realloc(g->items, cap * sizeof(*items));
        if (!items) {
            free(path);
            return SISP_ENOMEM;
        }
        g->items = items;
        g->cap = cap;
    }
    g->items[g->count].path = path;
    g->items[g->count].name = last_component(path);
    if (stamp)
        g->items[g->count].stamp = *stamp;
    else
        memset(&g->items[g->count].stamp, 0, sizeof(*stamp));
    g->count++;
    return 0;
}

int sisp_gallery_add(sisp_gallery_t *g, const char *path) {
    size_t n = strlen(path) + 1;
    char *copy = malloc(n);
    if (!copy)
        return SISP_ENOMEM;
    memcpy(copy, path, n);
    return push_owned(g, copy, NULL);
}

int sisp_gallery_name_ok(const char *name) {
    return name[0] != '\0' && name[0] != '.' && !sisp_info_is_sidecar_name(name);
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

int sisp_gallery_natcmp(const char *a, const char *b) {
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    while (*p && *q) {
        if (is_digit((char)*p) && is_digit((char)*q)) {
            size_t np = 0, nq = 0;
            while (*p == '0')
                p++;
            while (*q == '0')
                q++;
            while (is_digit((char)p[np]))
                np++;
            while (is_digit((char)q[nq]))
                nq++;
            if (np != nq)
                return np < nq ? -1 : 1;
            for (size_t i = 0; i < np; i++) {
                if (p[i] != q[i])
                    return p[i] < q[i] ? -1 : 1;
            }
            p += np;
            q += nq;
            continue;
        }
        if (*p != *q)
            return *p < *q ? -1 : 1;
        p++;
        q++;
    }
    if (*p || *q)
        return *p ? 1 : -1;
    return strcmp(a, b); /* "a01" and "a1" are equal by value: keep a total order */
}

static int cmp_name(const void *x, const void *y) {
    const sisp_gallery_entry_t *a = x, *b = y;
    return sisp_gallery_natcmp(a->name, b->name);
}

static int cmp_mtime(const void *x, const void *y) {
    const sisp_gallery_entry_t *a = x, *b = y;
    if (a->stamp.mtime_ns != b->stamp.mtime_ns)
        return a->stamp.mtime_ns < b->stamp.mtime_ns ? -1 : 1;
    return cmp_name(x, y);
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + (int64_t)st->st_mtim.tv_nsec;
}

/* 1 if the regular file name in dir starts with PNG or JPEG magic. */
static int sniff_image(int dfd, const char *name) {
    uint8_t head[SNIFF_BYTES];
    ssize_t n;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return 0;
    do {
        n = read(fd, head, sizeof(head));
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n > 0 && sisp_image_sniff(head, (size_t)n) != SISP_IMAGE_UNKNOWN;
}

static char *join_path(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + (size_t)slash, name, nl + 1);
    return p;
}

/* The stamp of FILE.info next to name, 0 when there is none. */
static int64_t sidecar_mtime(int dfd, const char *name) {
    struct stat st;
    size_t nl = strlen(name), sl = strlen(SISP_INFO_SUFFIX);
    char *side = malloc(nl + sl + 1);
    int64_t t = 0;
    if (!side)
        return 0;
    memcpy(side, name, nl);
    memcpy(side + nl, SISP_INFO_SUFFIX, sl + 1);
    if (fstatat(dfd, side, &st, 0) == 0 && S_ISREG(st.st_mode))
        t = mtime_ns(&st);
    free(side);
    return t;
}

static int scan_entry(sisp_gallery_t *out, int dfd, const char *dir, const char *name) {
    struct stat st;
    sisp_gallery_stamp_t stamp;
    char *path;

    if (!sisp_gallery_name_ok(name))
        return 0;
    if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return 0;
    if (!sniff_image(dfd, name))
        return 0;
    stamp.mtime_ns = mtime_ns(&st);
    stamp.size = (uint64_t)st.st_size;
    stamp.info_mtime_ns = sidecar_mtime(dfd, name);
    path = join_path(dir, name);
    if (!path)
        return SISP_ENOMEM;
    return push_owned(out, path, &stamp);
}

int sisp_gallery_scan(sisp_gallery_t *g, const char *dir, int *sys_err) {
    sisp_gallery_t fresh;
    struct dirent *de;
    DIR *d;
    int err = 0;

    if (sys_err)
        *sys_err = 0;
    d = opendir(dir);
    if (!d) {
        if (sys_err)
            *sys_err = errno;
        return sisp__errno_code(errno);
    }
    sisp_gallery_init(&fresh, g->sort);
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0) {
                if (sys_err)
                    *sys_err = errno;
                err = SISP_EIO;
            }
            break;
        }
        err = scan_entry(&fresh, dirfd(d), dir, de->d_name);
        if (err != 0)
            break;
    }
    closedir(d);
    if (err != 0) {
        sisp_gallery_free(&fresh);
        return err;
    }
    if (fresh.count > 1)
        qsort(fresh.items, fresh.count, sizeof(*fresh.items),
              g->sort == SISP_GALLERY_SORT_MTIME ? cmp_mtime : cmp_name);
    sisp_gallery_free(g);
    *g = fresh;
    return 0;
}

long sisp_gallery_find(const sisp_gallery_t *g, const char *path) {
    for (size_t i = 0; i < g->count; i++) {
        if (strcmp(g->items[i].path, path) == 0)
            return (long)i;
    }
    return -1;
}

int sisp_gallery_stamp_eq(const sisp_gallery_stamp_t *a, const sisp_gallery_stamp_t *b) {
    return a->mtime_ns == b->mtime_ns && a->size == b->size && a->info_mtime_ns == b->info_mtime_ns;
}
