/* Crash safety (BRIEF §5, §7): kill -9 at random moments during uploads loses no acknowledged
 * image and never exposes a partial one.
 *
 * Each cycle, 20 connections (one thread each) post 10 images each, of 1 B to 200 KB (some
 * span several DATA frames), and record every POSTED acknowledgement. After a random number of
 * acknowledgements (20..150) the server gets SIGKILL, and is started again on the same data
 * directory. Then:
 *   - every acknowledged image is listed (LIST since=0, page by page), with its sequence number;
 *   - every listed image, acknowledged or not (a commit whose POSTED was lost in the kill),
 *     downloads, verifies (signature, every chunk, the hash) and is byte-identical to what its
 *     thread meant to post: nothing partial or foreign is ever listed;
 *   - DIR/blobs/tmp/ is empty and DIR/blobs/ holds exactly one file per listed image.
 * Three cycles, each at its own random moment (seeded, printed: SISP_TEST_SEED replays it). */
#define _DEFAULT_SOURCE
#include "seal_fixture.h"
#include "tclient.h"
#include "testutil.h"
#include "tserver.h"

#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/ecc.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_THREADS 20
#define PER_THREAD 10
#define CYCLES 3
#define MAX_IMAGES (CYCLES * N_THREADS * PER_THREAD)
#define MAX_SIZE (200u * 1024u)

static const char *sispd;
static tserver_t srv;
static tc_user_t alice;
static uint8_t all_key[32];

typedef struct {
    char name[48];
    uint64_t seq;
} ack_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ack_t acks[MAX_IMAGES];
static size_t n_acks;
static atomic_int acked_now;   /* this cycle's acknowledgements */
static atomic_int server_errs; /* refusals that are not a dead connection */

/* The content an image name stands for: its size and bytes follow from the name alone, so
 * any listed image can be checked, acknowledged or not. A PNG by its magic. */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t content_of(const char *name, uint8_t *out) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    uint64_t r = mix(&h);
    /* Mostly small; one in four spans several 64 KiB DATA frames. */
    size_t len = r % 4 == 0 ? (size_t)(mix(&h) % MAX_SIZE) + 1 : (size_t)(mix(&h) % 8192) + 1;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = mix(&h);
        memcpy(out + i, &v, len - i < 8 ? len - i : 8);
    }
    memcpy(out, t_png_1x1, len < 8 ? len : 8);
    return len;
}

/* ---- the uploaders ---- */

typedef struct {
    pthread_t th;
    int cycle, index;
    int port;
} worker_t;

static void *upload(void *arg) {
    worker_t *w = arg;
    uint8_t *buf = malloc(MAX_SIZE);
    int err = 0;
    tclient_t *c = buf ? tc_connect(w->port, srv.ca, srv.ca_len, &alice, &err) : NULL;
    for (int i = 0; c != NULL && i < PER_THREAD; i++) {
        char name[48];
        snprintf(name, sizeof name, "k%d-t%02d-%02d.png", w->cycle, w->index, i);
        size_t len = content_of(name, buf);
        uint64_t seq = 0;
        int rc = tc_post(c, &alice, "all", 1, all_key, name, buf, len, &seq);
        if (rc == TC_ETRANSPORT)
            break; /* the server is gone */
        if (rc != 0) {
            fprintf(stderr, "test_crash: posting %s: %s\n", name, t_errname(rc));
            atomic_fetch_add(&server_errs, 1);
            continue;
        }
        pthread_mutex_lock(&mu);
        if (n_acks < MAX_IMAGES) {
            snprintf(acks[n_acks].name, sizeof acks[n_acks].name, "%s", name);
            acks[n_acks].seq = seq;
            n_acks++;
        }
        pthread_mutex_unlock(&mu);
        atomic_fetch_add(&acked_now, 1);
    }
    tc_close(c);
    free(buf);
#if defined(HAVE_ECC) && defined(FP_ECC)
    wc_ecc_fp_free(); /* this thread's fixed-point cache (the TLS key share): it is per thread */
#endif
    return NULL;
}

/* ---- checking the restarted server ---- */

typedef struct {
    char name[48];
    uint64_t seq, size;
} listed_t;

typedef struct {
    listed_t *v;
    size_t n;
    int bad;
} listing_t;

static void on_listed(void *arg, const sisp_image_info_t *e) {
    listing_t *l = arg;
    if (l->n >= MAX_IMAGES || e->name.len >= sizeof l->v[0].name) {
        l->bad++;
        return;
    }
    listed_t *x = &l->v[l->n++];
    memcpy(x->name, e->name.ptr, e->name.len);
    x->name[e->name.len] = '\0';
    x->seq = e->seq;
    x->size = e->size;
}

/* Regular files in dir (not counting subdirectories), or -1. */
static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
            n++;
    }
    closedir(d);
    return n;
}

static tclient_t *login_retry(void) {
    int64_t t0 = t_now_ms();
    for (;;) {
        int err = 0;
        tclient_t *c = tc_connect(srv.port, srv.ca, srv.ca_len, &alice, &err);
        if (c != NULL || t_now_ms() - t0 > 5000) {
            if (c == NULL)
                T_FAIL_AT("cannot log in after the restart: %s", t_errname(err));
            return c;
        }
        t_sleep_ms(50);
    }
}

static void verify(void) {
    tclient_t *c = login_retry();
    if (c == NULL)
        return;
    listing_t l = {calloc(MAX_IMAGES, sizeof(listed_t)), 0, 0};
    if (l.v == NULL) {
        tc_close(c);
        return;
    }
    CHECK_ERR(tc_list_all(c, "", 0, on_listed, &l), 0);
    CHECK_INT(l.bad, 0);

    /* Every acknowledged image is there, under the sequence number it was acknowledged with. */
    size_t missing = 0;
    for (size_t i = 0; i < n_acks; i++) {
        size_t j = 0;
        while (j < l.n && strcmp(l.v[j].name, acks[i].name) != 0)
            j++;
        if (j == l.n) {
            if (missing++ < 10)
                T_FAIL_AT("acknowledged image %s (seq %llu) is lost", acks[i].name,
                          (unsigned long long)acks[i].seq);
        } else if (l.v[j].seq != acks[i].seq) {
            T_FAIL_AT("%s was acknowledged as seq %llu, listed as %llu", acks[i].name,
                      (unsigned long long)acks[i].seq, (unsigned long long)l.v[j].seq);
        }
    }
    t_checks++;
    CHECK_U64(missing, 0);

    /* Every listed image is whole and is what it should be; names and seqs are unique. */
    uint8_t *want = malloc(MAX_SIZE);
    sisp_buf_t got;
    sisp_buf_init(&got, 0);
    size_t bad = 0;
    for (size_t j = 0; want != NULL && j < l.n; j++) {
        for (size_t k = 0; k < j; k++)
            if (strcmp(l.v[k].name, l.v[j].name) == 0 || l.v[k].seq == l.v[j].seq)
                T_FAIL_AT("listed twice: %s / seq %llu", l.v[j].name,
                          (unsigned long long)l.v[j].seq);
        size_t len = content_of(l.v[j].name, want);
        sisp_buf_reset(&got);
        int rc = tc_download(c, l.v[j].name, "all", alice.id.pub, all_key, &got);
        if (rc != 0) {
            /* A stream may be left half read: reconnect for the next image. */
            tc_close(c);
            c = login_retry();
            if (c == NULL)
                break;
        }
        t_checks++;
        if (rc != 0 || !t_mem_eq(got.data, got.len, want, len)) {
            if (bad++ < 10)
                T_FAIL_AT("listed image %s (seq %llu, %llu bytes) %s", l.v[j].name,
                          (unsigned long long)l.v[j].seq, (unsigned long long)l.v[j].size,
                          rc != 0 ? t_errname(rc) : "differs from what was posted");
        }
    }
    CHECK_U64(bad, 0);
    sisp_buf_free(&got);
    free(want);

    char dir[400];
    snprintf(dir, sizeof dir, "%s/blobs/tmp", srv.dir);
    int tmp = count_files(dir);
    snprintf(dir, sizeof dir, "%s/blobs", srv.dir);
    int blobs = count_files(dir);
    CHECK_INT(tmp, 0);
    CHECK_INT(blobs, (int)l.n);
    printf("  after restart: %zu listed (%zu acknowledged), all verified; %d blob files, %d in "
           "tmp/\n",
           l.n, n_acks, blobs, tmp);
    free(l.v);
    tc_close(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_crash path/to/sispd\n");
        return 2;
    }
    sispd = argv[1];
    signal(SIGPIPE, SIG_IGN);
    t_rand_seed_from_env("test_crash");
    int64_t t_start = t_now_ms();

    if (ts_start(&srv, sispd, NULL) != 0) {
        T_FAIL_AT("sispd did not start");
        return t_done("test_crash");
    }
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "alice", NULL, &alice), 0);
    sisp_rng_t rng;
    CHECK_ERR(sisp_rng_init(&rng), 0);
    CHECK_ERR(sisp_rng_bytes(&rng, all_key, sizeof all_key), 0);
    sisp_rng_free(&rng);
    {
        /* The first connection also initialises wolfSSL, before any thread does. */
        int err = 0;
        tclient_t *c = tc_connect(srv.port, srv.ca, srv.ca_len, &alice, &err);
        CHECK(c != NULL);
        if (c == NULL) {
            ts_kill(&srv);
            ts_cleanup(&srv);
            return t_done("test_crash");
        }
        CHECK_ERR(tc_grant(c, &alice, "alice", "all", 1, all_key), 0);
        tc_close(c);
    }

    for (int cycle = 0; cycle < CYCLES; cycle++) {
        int kill_after = 20 + (int)t_rand_below(131);
        int jitter_us = (int)t_rand_below(3000);
        printf("cycle %d: SIGKILL after %d acknowledgements (+%d us)\n", cycle + 1, kill_after,
               jitter_us);
        atomic_store(&acked_now, 0);
        worker_t w[N_THREADS];
        int started = 0;
        for (int i = 0; i < N_THREADS; i++) {
            w[i].cycle = cycle;
            w[i].index = i;
            w[i].port = srv.port;
            if (pthread_create(&w[i].th, NULL, upload, &w[i]) != 0)
                break;
            started++;
        }
        CHECK_INT(started, N_THREADS);
        int64_t t0 = t_now_ms();
        while (atomic_load(&acked_now) < kill_after && t_now_ms() - t0 < 30000) {
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
        struct timespec ts = {0, (long)jitter_us * 1000};
        nanosleep(&ts, NULL);
        int at_kill = atomic_load(&acked_now);
        ts_kill(&srv);
        for (int i = 0; i < started; i++)
            pthread_join(w[i].th, NULL);
        printf("  killed with %d acknowledged (%d by the time every uploader noticed)\n", at_kill,
               atomic_load(&acked_now));
        CHECK(at_kill >= kill_after);
        CHECK(atomic_load(&acked_now) < N_THREADS * PER_THREAD); /* it died mid-way */

        if (ts_start(&srv, sispd, NULL) != 0) {
            T_FAIL_AT("sispd did not restart on %s", srv.dir);
            break;
        }
        verify();
    }
    CHECK_INT(atomic_load(&server_errs), 0);
    CHECK_INT(ts_stop(&srv), 0);
    if (t_failures == 0)
        ts_cleanup(&srv);
    else
        fprintf(stderr, "data directory kept: %s\n", srv.dir);
    printf("(%lld ms)\n", (long long)(t_now_ms() - t_start));
    return t_done("test_crash");
}
