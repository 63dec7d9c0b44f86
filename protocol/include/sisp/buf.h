/* Byte slices (borrowed) and growable byte buffers (owned). */
#ifndef SISP_BUF_H
#define SISP_BUF_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define SISP_MUST_CHECK __attribute__((warn_unused_result))
#else
#define SISP_MUST_CHECK
#endif

/* A borrowed view of bytes. Never owns ptr; valid as long as what it points into. */
typedef struct {
    const uint8_t *ptr;
    size_t len;
} sisp_slice_t;

#define SISP_SLICE_NULL ((sisp_slice_t){NULL, 0})

static inline sisp_slice_t sisp_slice(const void *ptr, size_t len) {
    sisp_slice_t s = {(const uint8_t *)ptr, len};
    return s;
}

/* A slice over a NUL-terminated string (without the NUL). */
sisp_slice_t sisp_slice_str(const char *s);

/* 1 if both slices hold the same bytes. Not constant time. */
int sisp_slice_eq(sisp_slice_t a, sisp_slice_t b);

/* An owned, growable buffer. Caller-allocated; sisp_buf_init, then sisp_buf_free.
 * data is owned by the buffer and may move on any call that grows it, so never keep a
 * pointer into data across such a call. max caps growth (0 = SIZE_MAX). */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} sisp_buf_t;

void sisp_buf_init(sisp_buf_t *b, size_t max);
void sisp_buf_free(sisp_buf_t *b); /* wipes nothing; NULL is a no-op */
/* Frees like sisp_buf_free, but first overwrites the contents (for key material). */
void sisp_buf_free_secure(sisp_buf_t *b);
void sisp_buf_reset(sisp_buf_t *b); /* len = 0, keeps the memory */
/* An empty buffer whose capacity exceeds keep gives its memory back (max stays): for buffers
 * that grew for a transfer and should not hold that memory while idle. Returns the bytes
 * freed. */
size_t sisp_buf_trim(sisp_buf_t *b, size_t keep);

/* Makes room for n more bytes. SISP_ENOMEM if allocation fails or max would be exceeded. */
SISP_MUST_CHECK int sisp_buf_reserve(sisp_buf_t *b, size_t n);
SISP_MUST_CHECK int sisp_buf_append(sisp_buf_t *b, const void *p, size_t n);
/* Drops the first n bytes (n <= len). */
void sisp_buf_consume(sisp_buf_t *b, size_t n);

/* Big-endian wire integers. Only these touch wire integers; structs are never cast on bytes. */
static inline uint16_t sisp_load16(const uint8_t *p) {
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}
static inline uint32_t sisp_load32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t sisp_load64(const uint8_t *p) {
    return (uint64_t)sisp_load32(p) << 32 | sisp_load32(p + 4);
}
static inline void sisp_store16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sisp_store32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sisp_store64(uint8_t *p, uint64_t v) {
    sisp_store32(p, (uint32_t)(v >> 32));
    sisp_store32(p + 4, (uint32_t)v);
}

/* A bounds-checked reader over a slice. Every take fails (returns 0) instead of reading
 * past the end; once failed, the reader stays failed. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
    int failed;
} sisp_reader_t;

static inline void sisp_reader_init(sisp_reader_t *r, sisp_slice_t s) {
    r->pos = s.ptr;
    r->end = s.len ? s.ptr + s.len : s.ptr; /* NULL + 0 is undefined */
    r->failed = 0;
}
static inline size_t sisp_reader_left(const sisp_reader_t *r) {
    return (size_t)(r->end - r->pos);
}
/* Takes n bytes as a slice; 0 (and failed) if fewer than n remain. */
static inline int sisp_reader_take(sisp_reader_t *r, size_t n, sisp_slice_t *out) {
    if (r->failed || n > (size_t)(r->end - r->pos)) {
        r->failed = 1;
        return 0;
    }
    out->ptr = r->pos;
    out->len = n;
    r->pos += n;
    return 1;
}

#endif
