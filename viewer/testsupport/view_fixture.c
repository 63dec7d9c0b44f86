/* Test support for the viewer's tests. See view_fixture.h. */
#include "view_fixture.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tview_pattern_pixel(int x, int y, int w, int h, uint8_t out[4]) {
    static const uint8_t base[4][3] = {{200, 16, 16}, {16, 200, 16}, {16, 16, 200}, {200, 200, 16}};
    int q = (x >= w / 2) + 2 * (y >= h / 2);
    unsigned v = (unsigned)(x * 7 + y * 13);
    out[0] = (uint8_t)(base[q][0] + (v & 31u));
    out[1] = (uint8_t)(base[q][1] + ((v >> 1) & 31u));
    out[2] = (uint8_t)(base[q][2] + ((v >> 2) & 31u));
    out[3] = 255;
}

uint8_t *tview_pattern(int w, int h) {
    uint8_t *p = malloc((size_t)w * (size_t)h * 4);
    if (!p)
        return NULL;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            tview_pattern_pixel(x, y, w, h, p + ((size_t)y * (size_t)w + (size_t)x) * 4);
    }
    return p;
}

int tview_write_png(const char *path, const uint8_t *rgba, int w, int h) {
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGBA;
    if (!png_image_write_to_file(&img, path, 0, rgba, 0, NULL)) {
        fprintf(stderr, "png write %s: %s\n", path, img.message);
        return -1;
    }
    return 0;
}

int tview_write_pattern_png(const char *path, int w, int h) {
    uint8_t *p = tview_pattern(w, h);
    int r = p ? tview_write_png(path, p, w, h) : -1;
    free(p);
    return r;
}

int tview_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int r = 0;
    if (!f)
        return -1;
    if (len > 0 && fwrite(data, 1, len, f) != len)
        r = -1;
    if (fclose(f) != 0)
        r = -1;
    return r;
}

int tview_mkdtemp(char *buf, size_t cap, const char *tag) {
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(buf, cap, "%s/sisp-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(buf) ? 0 : -1;
}

void tview_rmdir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];
    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            tview_join(path, sizeof(path), dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

void tview_join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        abort();
}
