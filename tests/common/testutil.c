#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "testutil.h"

#include <sisp/error.h>
#include <sisp/frame.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int t_failures;
int t_checks;

int t_done(const char *suite) {
    printf("%s: %d checks, %d failures\n", suite, t_checks, t_failures);
    return t_failures == 0 ? 0 : 1;
}

const char *t_errname(int err) {
    if (err == SISP_NEED_MORE)
        return "NEED_MORE";
    return sisp_err_name(err);
}

int t_mem_eq(const void *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

void t_hexdump(const char *label, const void *p, size_t n) {
    const uint8_t *b = p;
    fprintf(stderr, "%s (%zu bytes):", label, n);
    for (size_t i = 0; i < n && i < 256; i++)
        fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n    " : " ", b[i]);
    fprintf(stderr, "%s\n", n > 256 ? " ..." : "");
}

static size_t page_size(void) {
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static size_t guard_span(size_t len) {
    size_t ps = page_size();
    return ((len + ps - 1) / ps) * ps + ps;
}

uint8_t *t_guard_copy(const void *src, size_t len) {
    size_t ps = page_size(), span = guard_span(len);
    uint8_t *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    if (mprotect(base + span - ps, ps, PROT_NONE) != 0) {
        perror("mprotect");
        abort();
    }
    uint8_t *p = base + span - ps - len;
    if (len > 0)
        memcpy(p, src, len);
    return p;
}

void t_guard_free(uint8_t *p, size_t len) {
    size_t ps = page_size(), span = guard_span(len);
    uint8_t *base = p + len + ps - span;
    munmap(base, span);
}

static uint64_t rng_state;

uint64_t t_rand(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t t_rand_below(uint64_t n) {
    return t_rand() % n;
}

void t_rand_seed_from_env(const char *suite) {
    const char *e = getenv("SISP_TEST_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed;
    printf("%s: seed %llu (replay with SISP_TEST_SEED=%llu)\n", suite, (unsigned long long)seed,
           (unsigned long long)seed);
}

int64_t t_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int t_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

void t_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
