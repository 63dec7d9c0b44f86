#include "docfile.h"
#include "vectors.h"

#include <stdio.h>
#include <string.h>

int t_read_file(const char *path, sisp_buf_t *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t tmp[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        rc = sisp_buf_append(out, tmp, n);
    if (ferror(f))
        rc = -1;
    fclose(f);
    if (rc == 0 && (rc = sisp_buf_append(out, "", 1)) == 0)
        out->len--;
    return rc == 0 ? 0 : -1;
}

static const char *find(const sisp_buf_t *doc, size_t from, const char *needle) {
    const char *text = (const char *)doc->data;
    if (text == NULL || from > doc->len)
        return NULL;
    return strstr(text + from, needle);
}

int t_doc_section(const sisp_buf_t *doc, const char *section, size_t *start, size_t *end) {
    char begin_marker[128], end_marker[128];
    t_doc_markers(section, begin_marker, sizeof begin_marker, end_marker, sizeof end_marker);
    const char *b = find(doc, 0, begin_marker);
    if (b == NULL)
        return 0;
    size_t s = (size_t)(b - (const char *)doc->data);
    const char *e = find(doc, s, end_marker);
    if (e == NULL)
        return 0;
    *start = s;
    *end = (size_t)(e - (const char *)doc->data) + strlen(end_marker);
    return 1;
}
