/* The viewer's SDL-free I/O: directory scan (filtering, natural and mtime order, stamps),
 * the inotify watcher (reacts to renames and finished writes, ignores dot-files), and the
 * decode worker (results, errors, size cap, generations, superseded requests). */
#include "sisp/error.h"
#include "sisp/gallery.h"
#include "sisp/loader.h"
#include "sisp/watch.h"
#include "testutil.h"
#include "view_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

/* ---- a small mailbox the watcher and loader callbacks post to ---- */

#define MAX_RESULTS 16

static pthread_mutex_t box_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t box_cv = PTHREAD_COND_INITIALIZER;
static int box_events;
static sisp_load_result_t *box_results[MAX_RESULTS];
static int box_count;

static void on_watch(void *ud) {
    (void)ud;
    pthread_mutex_lock(&box_mu);
    box_events++;
    pthread_cond_broadcast(&box_cv);
    pthread_mutex_unlock(&box_mu);
}

static void on_result(void *ud, sisp_load_result_t *res) {
    (void)ud;
    pthread_mutex_lock(&box_mu);
    if (box_count < MAX_RESULTS)
        box_results[box_count++] = res;
    else
        sisp_load_result_free(res);
    pthread_cond_broadcast(&box_cv);
    pthread_mutex_unlock(&box_mu);
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits until *counter >= n (or ms pass); returns the counter. */
static int wait_count(int *counter, int n, int ms) {
    struct timespec ts;
    int r;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&box_mu);
    while (*counter < n && pthread_cond_timedwait(&box_cv, &box_mu, &ts) != ETIMEDOUT)
        ;
    r = *counter;
    pthread_mutex_unlock(&box_mu);
    return r;
}

static int events_now(void) {
    int r;
    pthread_mutex_lock(&box_mu);
    r = box_events;
    pthread_mutex_unlock(&box_mu);
    return r;
}

/* Takes the oldest result (NULL after WAIT_MS without one). */
static sisp_load_result_t *take_result(void) {
    sisp_load_result_t *r = NULL;
    if (wait_count(&box_count, 1, WAIT_MS) < 1)
        return NULL;
    pthread_mutex_lock(&box_mu);
    r = box_results[0];
    memmove(box_results, box_results + 1, (size_t)(box_count - 1) * sizeof(box_results[0]));
    box_count--;
    pthread_mutex_unlock(&box_mu);
    return r;
}

static void set_mtime(const char *path, time_t sec) {
    struct timespec t[2] = {{sec, 0}, {sec, 0}};
    CHECK_INT(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void test_natcmp(void) {
    CHECK(sisp_gallery_natcmp("img2", "img10") < 0);
    CHECK(sisp_gallery_natcmp("img10", "img2") > 0);
    CHECK(sisp_gallery_natcmp("a", "b") < 0);
    CHECK(sisp_gallery_natcmp("x9y", "x10a") < 0);
    CHECK(sisp_gallery_natcmp("", "a") < 0);
    CHECK(sisp_gallery_natcmp("same", "same") == 0);
    CHECK(sisp_gallery_natcmp("img02", "img2") < 0); /* equal by value: byte order decides */
    CHECK(sisp_gallery_natcmp("2024-01-09", "2024-01-10") < 0);
    CHECK(sisp_gallery_natcmp("a99999999999999999999999", "a100000000000000000000000") < 0);
}

static void check_names(const sisp_gallery_t *g, const char *const names[], size_t n) {
    CHECK_INT(g->count, n);
    for (size_t i = 0; i < n && i < g->count; i++)
        CHECK_STR(g->items[i].name, names[i]);
}

static void test_scan(void) {
    static const char *const by_name[] = {"a.png", "fake.jpg", "img2.png", "img10.png", "noext"};
    static const char *const by_mtime[] = {"noext", "img10.png", "a.png", "img2.png", "fake.jpg"};
    static const uint8_t jpeg_magic[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
    char dir[256], p[512], q[512];
    sisp_gallery_t g;
    int sys_err = 0;

    CHECK_INT(tview_mkdtemp(dir, sizeof(dir), "gallery"), 0);
    tview_join(p, sizeof(p), dir, "img10.png");
    CHECK_INT(tview_write_pattern_png(p, 4, 4), 0);
    set_mtime(p, 1000);
    tview_join(p, sizeof(p), dir, "img2.png");
    CHECK_INT(tview_write_pattern_png(p, 4, 4), 0);
    set_mtime(p, 3000);
    tview_join(p, sizeof(p), dir, "a.png");
    CHECK_INT(tview_write_pattern_png(p, 4, 4), 0);
    set_mtime(p, 2000);
    tview_join(p, sizeof(p), dir, "a.png.info"); /* a sidecar, not an image */
    CHECK_INT(tview_write_file(p, "owner: x\n", 9), 0);
    tview_join(p, sizeof(p), dir, "noext"); /* image names need no extension */
    CHECK_INT(tview_write_pattern_png(p, 2, 2), 0);
    set_mtime(p, 500);
    tview_join(p, sizeof(p), dir, "fake.jpg"); /* JPEG magic is enough to be listed */
    CHECK_INT(tview_write_file(p, jpeg_magic, sizeof(jpeg_magic)), 0);
    set_mtime(p, 4000);
    tview_join(p, sizeof(p), dir, ".partial.png"); /* the client's temp file */
    CHECK_INT(tview_write_pattern_png(p, 4, 4), 0);
    tview_join(p, sizeof(p), dir, "notes.txt");
    CHECK_INT(tview_write_file(p, "hello, this is not an image", 27), 0);
    tview_join(p, sizeof(p), dir, "empty.png");
    CHECK_INT(tview_write_file(p, "", 0), 0);
    tview_join(p, sizeof(p), dir, "folder.png");
    CHECK_INT(mkdir(p, 0700), 0);
    tview_join(p, sizeof(p), dir, "dangling.png");
    CHECK_INT(symlink("/nonexistent/sisp-view-test", p), 0);
    tview_join(p, sizeof(p), dir, "pipe.png");
    CHECK_INT(mkfifo(p, 0600), 0);

    sisp_gallery_init(&g, SISP_GALLERY_SORT_NAME);
    CHECK_ERR(sisp_gallery_scan(&g, dir, &sys_err), 0);
    check_names(&g, by_name, 5);
    if (g.count == 5) {
        tview_join(p, sizeof(p), dir, "img2.png");
        CHECK_STR(g.items[2].path, p);
        CHECK_INT(sisp_gallery_find(&g, p), 2);
        CHECK(g.items[0].stamp.info_mtime_ns != 0);
        CHECK(g.items[2].stamp.info_mtime_ns == 0);
        CHECK(g.items[4].stamp.size > 0);
        CHECK(g.items[2].stamp.mtime_ns == 3000 * 1000000000LL);
    }
    CHECK_INT(sisp_gallery_find(&g, "nope"), -1);

    /* By modification time, oldest first. */
    g.sort = SISP_GALLERY_SORT_MTIME;
    CHECK_ERR(sisp_gallery_scan(&g, dir, NULL), 0);
    check_names(&g, by_mtime, 5);

    /* Stamps notice a rewrite of the image or of its sidecar. */
    {
        sisp_gallery_stamp_t before = g.items[2].stamp;
        tview_join(p, sizeof(p), dir, "a.png.info");
        set_mtime(p, 12345);
        CHECK_ERR(sisp_gallery_scan(&g, dir, NULL), 0);
        CHECK(!sisp_gallery_stamp_eq(&before, &g.items[2].stamp));
        CHECK(sisp_gallery_stamp_eq(&g.items[2].stamp, &g.items[2].stamp));
    }

    /* A failed scan leaves the gallery as it was. */
    tview_join(q, sizeof(q), dir, "missing-dir");
    CHECK_ERR(sisp_gallery_scan(&g, q, &sys_err), SISP_ENOTFOUND);
    CHECK_INT(sys_err, ENOENT);
    CHECK_INT(g.count, 5);
    sisp_gallery_free(&g);
    sisp_gallery_free(&g); /* idempotent */
    sisp_gallery_free(NULL);

    /* Command-line files keep their order, existing or not. */
    sisp_gallery_init(&g, SISP_GALLERY_SORT_NAME);
    CHECK_ERR(sisp_gallery_add(&g, "z.png"), 0);
    CHECK_ERR(sisp_gallery_add(&g, "dir/a.png"), 0);
    CHECK_INT(g.count, 2);
    CHECK_STR(g.items[1].name, "a.png");
    CHECK_STR(g.items[0].path, "z.png");
    sisp_gallery_free(&g);

    tview_join(p, sizeof(p), dir, "folder.png");
    rmdir(p);
    tview_rmdir(dir);

    CHECK(!sisp_gallery_name_ok(".hidden.png"));
    CHECK(!sisp_gallery_name_ok("x.png.info"));
    CHECK(!sisp_gallery_name_ok(""));
    CHECK(sisp_gallery_name_ok("x.png"));
}

static void test_watch(void) {
    char dir[256], tmp[512], final[512], other[512];
    sisp_watch_t *w = NULL;
    int n;

    CHECK_INT(tview_mkdtemp(dir, sizeof(dir), "watch"), 0);
    CHECK_ERR(sisp_watch_start(&w, dir, on_watch, NULL, NULL), 0);
    if (!w)
        return;
    /* Writing the temp file is invisible... */
    tview_join(tmp, sizeof(tmp), dir, ".download-1.part");
    CHECK_INT(tview_write_pattern_png(tmp, 8, 8), 0);
    t_sleep_ms(300);
    CHECK_INT(events_now(), 0);
    /* ...its rename into place is seen. */
    tview_join(final, sizeof(final), dir, "photo.png");
    n = events_now();
    CHECK_INT(rename(tmp, final), 0);
    CHECK(wait_count(&box_events, n + 1, WAIT_MS) > n);
    /* A file written in place is seen once it is closed. */
    t_sleep_ms(100);
    n = events_now();
    tview_join(other, sizeof(other), dir, "copied.png");
    CHECK_INT(tview_write_pattern_png(other, 8, 8), 0);
    CHECK(wait_count(&box_events, n + 1, WAIT_MS) > n);
    /* Deletions too. */
    t_sleep_ms(100);
    n = events_now();
    CHECK_INT(unlink(other), 0);
    CHECK(wait_count(&box_events, n + 1, WAIT_MS) > n);
    sisp_watch_stop(w);
    sisp_watch_stop(NULL);
    tview_rmdir(dir);

    /* Watching what is not a directory fails cleanly. */
    {
        int sys_err = 0;
        CHECK_ERR(sisp_watch_start(&w, "/nonexistent/sisp", on_watch, NULL, &sys_err),
                  SISP_ENOTFOUND);
        CHECK(w == NULL);
    }
}

static void test_loader(void) {
    char dir[256], good[512], side[512], bad[512], fifo[512], missing[512];
    sisp_decode_limits_t lim;
    sisp_loader_t *ld = NULL;
    sisp_load_result_t *r, sync;
    static const char info[] = "owner: frank\nverified: yes\n";

    CHECK_INT(tview_mkdtemp(dir, sizeof(dir), "loader"), 0);
    tview_join(good, sizeof(good), dir, "good.png");
    CHECK_INT(tview_write_pattern_png(good, 40, 30), 0);
    tview_join(side, sizeof(side), dir, "good.png.info");
    CHECK_INT(tview_write_file(side, info, sizeof(info) - 1), 0);
    tview_join(bad, sizeof(bad), dir, "bad.png");
    CHECK_INT(tview_write_file(bad, "\x89PNG\r\n\x1a\n garbage", 17), 0);
    tview_join(fifo, sizeof(fifo), dir, "fifo.png");
    CHECK_INT(mkfifo(fifo, 0600), 0);
    tview_join(missing, sizeof(missing), dir, "missing.png");

    /* Synchronously, as the worker does it. */
    CHECK_ERR(sisp_load_file(good, NULL, &sync), 0);
    CHECK_INT(sync.image.width, 40);
    CHECK_INT(sync.image.height, 30);
    CHECK_INT(sync.info_err, 0);
    CHECK_STR(sync.info.owner, "frank");
    CHECK_INT(sync.info.verified, SISP_INFO_VERIFIED_YES);
    if (sync.image.pixels) {
        int same = 1;
        for (int y = 0; y < 30; y++) {
            for (int x = 0; x < 40; x++) {
                uint8_t px[4];
                tview_pattern_pixel(x, y, 40, 30, px);
                same &= memcmp(px, sync.image.pixels + ((size_t)y * 40 + (size_t)x) * 4, 4) == 0;
            }
        }
        CHECK(same);
    }
    sisp_image_free(&sync.image);

    sisp_decode_limits_default(&lim);
    CHECK_ERR(sisp_loader_start(&ld, &lim, on_result, NULL), 0);
    if (!ld)
        return;

    CHECK_ERR(sisp_loader_request(ld, good, 1), 0);
    r = take_result();
    CHECK(r != NULL);
    if (r) {
        CHECK_U64(r->generation, 1);
        CHECK_ERR(r->err, 0);
        CHECK_STR(r->path, good);
        CHECK_INT(r->image.width, 40);
        CHECK(r->file_size > 8);
        CHECK_STR(r->info.owner, "frank");
        sisp_load_result_free(r);
    }

    CHECK_ERR(sisp_loader_request(ld, missing, 2), 0);
    r = take_result();
    CHECK(r != NULL);
    if (r) {
        CHECK_U64(r->generation, 2);
        CHECK_ERR(r->err, SISP_ENOTFOUND);
        CHECK(r->image.pixels == NULL);
        CHECK_ERR(r->info_err, SISP_ENOTFOUND);
        sisp_load_result_free(r);
    }

    CHECK_ERR(sisp_loader_request(ld, bad, 3), 0);
    r = take_result();
    CHECK(r != NULL);
    if (r) {
        CHECK(r->err == SISP_EIMGTRUNC || r->err == SISP_EIMGCORRUPT);
        sisp_load_result_free(r);
    }

    CHECK_ERR(sisp_loader_request(ld, fifo, 4), 0); /* refused, never blocks */
    r = take_result();
    CHECK(r != NULL);
    if (r) {
        CHECK_ERR(r->err, SISP_EINVAL);
        sisp_load_result_free(r);
    }

    /* Superseded requests: the last one always arrives, earlier ones may or may not. */
    for (uint64_t gen = 10; gen < 20; gen++)
        CHECK_ERR(sisp_loader_request(ld, good, gen), 0);
    for (;;) {
        r = take_result();
        CHECK(r != NULL);
        if (!r)
            break;
        CHECK(r->generation >= 10 && r->generation < 20);
        if (r->generation == 19) {
            CHECK_ERR(r->err, 0);
            sisp_load_result_free(r);
            break;
        }
        sisp_load_result_free(r);
    }
    /* Stopping with a request queued frees it; nothing leaks (ASan). */
    CHECK_ERR(sisp_loader_request(ld, good, 30), 0);
    CHECK_ERR(sisp_loader_request(ld, good, 31), 0);
    sisp_loader_stop(ld);
    while (box_count > 0)
        sisp_load_result_free(take_result());
    sisp_loader_stop(NULL);

    /* The file size cap is the decoder's input limit. */
    lim.max_input_bytes = 64;
    CHECK_ERR(sisp_load_file(good, &lim, &sync), SISP_EIMGTOOBIG);
    CHECK(sync.image.pixels == NULL);

    tview_rmdir(dir);
}

int main(void) {
    test_natcmp();
    test_scan();
    test_watch();
    test_loader();
    return t_done("view_gallery");
}
