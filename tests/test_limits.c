/* sispd's limits, against the real binary on 127.0.0.1 (BRIEF §7): the per-connection push
 * queue cap (a stalled reader is dropped, everyone else is told of every post, and the stalled
 * one catches up with LIST), the handshake deadline, the connection caps (total and
 * certificate-less), the per-user quota and largest image, registration by invite, the
 * REGISTER rate limit, and bounded memory for a client that asks and never reads. Each part
 * runs its own server with the option it tests. */
#define _DEFAULT_SOURCE
#include "ca.h" /* sisp_csr_make */
#include "seal_fixture.h"
#include "tclient.h"
#include "testutil.h"
#include "tserver.h"

#include <sisp/error.h>
#include <sisp/packet.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *sispd;
static uint8_t all_key[32]; /* `all`, epoch 1, on every server of this test */

/* ---- small helpers ---- */

static int start(tserver_t *s, const char *const *extra) {
    memset(s, 0, sizeof *s);
    if (ts_start(s, sispd, extra) != 0) {
        T_FAIL_AT("sispd did not start");
        return -1;
    }
    return 0;
}

static void stop(tserver_t *s) {
    CHECK_INT(ts_stop(s), 0);
    ts_cleanup(s);
}

static tclient_t *login(const tserver_t *s, const tc_user_t *u) {
    int err = 0;
    tclient_t *c = tc_connect(s->port, s->ca, s->ca_len, u, &err);
    if (c == NULL)
        T_FAIL_AT("login of %s failed: %s", u->name, t_errname(err));
    return c;
}

/* Registers names[0..n) (the first one creates `all`), and has the first grant `all` epoch 1
 * to everyone. Returns the first user's connection (NULL on failure). */
static tclient_t *setup_users(const tserver_t *s, const char *const *names, tc_user_t *users,
                              size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tc_register(s->port, s->ca, s->ca_len, names[i], NULL, &users[i]) != 0) {
            T_FAIL_AT("cannot register %s", names[i]);
            return NULL;
        }
    tclient_t *c = login(s, &users[0]);
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        CHECK_ERR(tc_grant(c, &users[0], names[i], "all", 1, all_key), SISP_OK);
    return c;
}

static int ping(tclient_t *c) {
    sisp_ping_t p = {1234};
    const sisp_packet_t *r = NULL;
    return tc_request(c, SISP_T_PING, &p, &r) == 0 && r->type == SISP_T_PONG &&
                   r->u.pong.token == 1234
               ? 0
               : -1;
}

static int tcp_connect(int port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* When the server closed fd (EOF or reset; anything it sent first is read and dropped), in
 * milliseconds after t0 (a t_now_ms() time), or -1 if it was still open timeout_ms after t0. */
static int closed_within(int fd, int timeout_ms, int64_t t0) {
    for (;;) {
        int left = (int)(timeout_ms - (t_now_ms() - t0));
        if (left <= 0)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            continue;
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return (int)(t_now_ms() - t0);
    }
}

/* The state of the server's end of the TCP connection whose client end is fd, from
 * /proc/net/tcp: 1 ESTABLISHED, another TCP_* state number, 0 if the server holds no socket
 * for it any more, -1 if it cannot tell. */
static int server_end_state(int server_port, int fd) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    unsigned client_port = ntohs(sa.sin_port);
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return -1;
    char line[512];
    int state = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned lp, rp, st;
        if (sscanf(line, " %*d: %*8x:%x %*8x:%x %x", &lp, &rp, &st) == 3 &&
            (int)lp == server_port && rp == client_port) {
            state = (int)st;
            break;
        }
    }
    fclose(f);
    return state;
}

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = t_rand();
        size_t k = n - i < 8 ? n - i : 8;
        memcpy(p + i, &r, k);
    }
}

/* Random bytes that pass for a PNG (the server checks the content type's magic). */
static void fill_image(uint8_t *p, size_t n) {
    fill_random(p, n);
    memcpy(p, t_png_1x1, n < 8 ? n : 8);
}

/* ---- (a) the push queue cap ---- */

typedef struct {
    uint64_t *seqs;
    size_t n, cap;
} seqs_t;

static void collect_seq(void *arg, const sisp_image_info_t *e) {
    seqs_t *s = arg;
    if (s->n < s->cap)
        s->seqs[s->n] = e->seq;
    s->n++;
}

static int has_seq(const seqs_t *s, uint64_t seq) {
    for (size_t i = 0; i < s->n && i < s->cap; i++)
        if (s->seqs[i] == seq)
            return 1;
    return 0;
}

#define N_QUIET 300 /* posts while sam is connected and silent */
#define N_UNDER 5   /* posts while sam's download is stalled, under the cap */
#define N_STALL 60  /* posts while sam's download is stalled, over the cap */
#define N_POSTS (1 + N_QUIET + N_UNDER + N_STALL)
#define BIG_SIZE (24u << 20)

/* alice posts `name`; rita, reading, must be told of it at once with its sequence number.
 * Returns the sequence number (0 on failure). */
static uint64_t post_and_notify(tclient_t *alice_c, const tc_user_t *alice, tclient_t *rita,
                                const char *name, const uint8_t *img, size_t len) {
    uint64_t seq = 0;
    const sisp_packet_t *n = NULL;
    CHECK_ERR(tc_post(alice_c, alice, "all", 1, all_key, name, img, len, &seq), 0);
    CHECK_INT(tc_wait_push(rita, SISP_T_NOTIFY, 10000, &n), 0);
    if (n != NULL && n->type == SISP_T_NOTIFY) {
        CHECK_U64(n->u.notify.seq, seq);
        CHECK(sisp_slice_eq(n->u.notify.name, sisp_slice_str(name)));
    }
    n = NULL;
    CHECK_INT(tc_wait_push(alice_c, SISP_T_NOTIFY, 10000, &n), 0); /* the poster is told too */
    return seq;
}

/* Reads what a silent client was sent, until it ends or nothing comes for timeout_ms: the
 * NOTIFY sequence numbers in order, DATA bytes, the BYE code, frames after the BYE. */
typedef struct {
    uint64_t *notified;
    size_t n_notified, cap;
    uint64_t data, image_size; /* DATA bytes; the size IMAGE_BEGIN announced */
    int ended;                 /* IMAGE_END came */
    int bye, after_bye, closed;
} drained_t;

/* Waits until nothing more arrives in c's socket (it reads nothing): everything between the
 * server and c is full. Returns the bytes unread in the socket. */
static int wait_stalled(tclient_t *c) {
    int last = -1, queued = 0;
    int64_t t0 = t_now_ms(), stable_since = t_now_ms();
    while (t_now_ms() - t0 < 15000 && t_now_ms() - stable_since < 1500) {
        t_sleep_ms(50);
        if (ioctl(tc_fd(c), FIONREAD, &queued) != 0)
            break;
        if (queued != last) {
            last = queued;
            stable_since = t_now_ms();
        }
    }
    return queued;
}

static void drain(tclient_t *c, int timeout_ms, drained_t *d) {
    for (;;) {
        const sisp_packet_t *f = NULL;
        int rc = tc_read_raw(c, timeout_ms, &f);
        if (rc != 0) {
            d->closed = rc < 0;
            return;
        }
        if (d->bye != 0)
            d->after_bye++;
        if (f->type == SISP_T_BYE)
            d->bye = -(int)f->u.bye.code;
        else if (f->type == SISP_T_DATA)
            d->data += f->u.data.data.len;
        else if (f->type == SISP_T_IMAGE_BEGIN)
            d->image_size = f->u.image_begin.info.size;
        else if (f->type == SISP_T_IMAGE_END)
            d->ended = 1;
        else if (f->type == SISP_T_NOTIFY && d->n_notified < d->cap)
            d->notified[d->n_notified++] = f->u.notify.seq;
    }
}

/* The push queue cap (--push-queue 4096: some 20 notifications). sam, a member of `all`, stops
 * reading:
 *
 * 1. Connected and silent while alice posts 300 images. rita, reading, is told of each, in
 *    order. When sam reads at last, his stream holds a NOTIFY for every post, in order, or
 *    those up to a BYE EBUSY: none is lost silently. (On loopback the kernel absorbs some 4 MB
 *    of unread output, so 300 notifications of ~200 bytes never reach the server's own
 *    queue: sam is not expected to be dropped here.)
 * 2. Stalled for real: sam asks for a 24 MiB image and reads nothing, so everything between
 *    the server and him fills up (the kernel's buffers, then the server's). The download
 *    data queued does not count against the cap: 5 posts meanwhile, and when he reads he gets
 *    the whole image and the 5 notifications, still connected. The notifications piling up
 *    behind a stalled download do count: he stalls again, and once they are over the cap (60
 *    of them, against room for some 20), the server must drop him, without waiting for him
 *    to read. rita is still told of every post. When sam
 *    reads, the stream ends before the image does (with a BYE EBUSY if the server managed to
 *    send one).
 * 3. sam, back, catches up with LIST since=0: every post is there. */
static void test_push_queue(void) {
    printf("push queue cap (--push-queue 4096):\n");
    tserver_t s;
    const char *const extra[] = {"--push-queue", "4096", NULL};
    if (start(&s, extra) != 0)
        return;
    const char *const names[] = {"alice", "rita", "sam"};
    tc_user_t u[3];
    tclient_t *p = setup_users(&s, names, u, 3);
    tclient_t *r = p ? login(&s, &u[1]) : NULL;
    tclient_t *sam = r ? login(&s, &u[2]) : NULL;
    uint8_t *big = malloc(BIG_SIZE);
    uint64_t *posted = calloc(N_POSTS, sizeof *posted);
    drained_t d;
    memset(&d, 0, sizeof d);
    d.notified = calloc(N_POSTS, sizeof *d.notified);
    d.cap = N_POSTS;
    size_t np = 0;
    if (p == NULL || r == NULL || sam == NULL || big == NULL || posted == NULL ||
        d.notified == NULL) {
        T_FAIL_AT("setup failed");
        goto out;
    }
    fill_image(big, BIG_SIZE);
    uint8_t small[600];
    char name[64];

    /* 1. */
    for (int i = 0; i < N_QUIET; i++) {
        fill_image(small, sizeof small);
        snprintf(name, sizeof name, "quiet-%03d.png", i);
        posted[np++] = post_and_notify(p, &u[0], r, name, small, sizeof small);
    }
    drain(sam, 1000, &d);
    printf("  %d posts while sam was silent: rita told of each; sam's stream holds %zu "
           "notifications%s\n",
           N_QUIET, d.n_notified, d.bye ? " and a BYE" : "");
    t_checks++;
    for (size_t i = 0; i < d.n_notified; i++)
        if (d.notified[i] != posted[i]) {
            T_FAIL_AT("sam's notification %zu is seq %llu, post %zu was seq %llu", i,
                      (unsigned long long)d.notified[i], i, (unsigned long long)posted[i]);
            break;
        }
    if (d.bye != 0)
        CHECK_ERR(d.bye, SISP_EBUSY);
    else
        CHECK_U64(d.n_notified, N_QUIET); /* not dropped: then nothing may be missing */
    tc_close(sam);

    /* 2. */
    posted[np++] = post_and_notify(p, &u[0], r, "big.bin", big, BIG_SIZE);
    sam = login(&s, &u[2]);
    if (sam == NULL)
        goto out;
    sisp_download_t dl = {sisp_slice_str("big.bin"), 0, sisp_slice_str("all"), 0};
    CHECK(tc_send(sam, SISP_T_DOWNLOAD, 0, &dl) != 0);
    int queued = wait_stalled(sam);
    for (int i = 0; i < N_UNDER; i++) {
        fill_image(small, sizeof small);
        snprintf(name, sizeof name, "under-%03d.png", i);
        posted[np++] = post_and_notify(p, &u[0], r, name, small, sizeof small);
    }
    uint64_t *notified = d.notified;
    memset(&d, 0, sizeof d);
    d.notified = notified;
    d.cap = N_POSTS;
    drain(sam, 3000, &d);
    printf("  sam stalled on a download while %d posts were made (under the cap): he then read "
           "%llu of %llu bytes%s, %zu notifications%s\n",
           N_UNDER, (unsigned long long)d.data, (unsigned long long)d.image_size,
           d.ended ? " and IMAGE_END" : "", d.n_notified,
           d.closed ? ", and the end of the connection" : "");
    /* The download data queued does not count against the cap. */
    CHECK(d.image_size > BIG_SIZE); /* the sealed image */
    CHECK_U64(d.data, d.image_size);
    CHECK(d.ended);
    CHECK_U64(d.n_notified, N_UNDER);
    for (size_t i = 0; i < d.n_notified && i < N_UNDER; i++)
        CHECK_U64(d.notified[i], posted[np - N_UNDER + i]);
    CHECK_INT(d.bye, 0);
    CHECK(!d.closed);
    CHECK(ping(sam) == 0);

    CHECK(tc_send(sam, SISP_T_DOWNLOAD, 0, &dl) != 0);
    queued = wait_stalled(sam);
    printf("  sam's download is stalled again (%d bytes unread in his socket)\n", queued);
    int64_t first_post = t_now_ms();
    for (int i = 0; i < N_STALL; i++) {
        fill_image(small, sizeof small);
        snprintf(name, sizeof name, "stall-%03d.png", i);
        posted[np++] = post_and_notify(p, &u[0], r, name, small, sizeof small);
    }
    printf("  %d more posts: rita told of each\n", N_STALL);

    /* The server must have let go of sam by now, while he still has not read a byte. */
    int st = 1;
    while (t_now_ms() - first_post < 5000 && (st = server_end_state(s.port, tc_fd(sam))) == 1)
        t_sleep_ms(50);
    t_checks++;
    if (st == 1)
        T_FAIL_AT("sam is stalled and over the push cap, yet 5 s after the first post the server "
                  "still holds his connection open (its end is ESTABLISHED): a stalled reader "
                  "is told BYE but not dropped until he reads");
    else
        printf("  server's end of sam's connection: %s\n", st == 0  ? "gone"
                                                           : st < 0 ? "unknown"
                                                                    : "closing");

    memset(&d, 0, sizeof d);
    d.notified = notified;
    d.cap = N_POSTS;
    drain(sam, 5000, &d);
    printf("  sam read %llu of %llu bytes of the image, %zu notifications, then %s%s\n",
           (unsigned long long)d.data, (unsigned long long)d.image_size, d.n_notified,
           d.bye ? "BYE " : "the end of the connection", d.bye ? t_errname(d.bye) : "");
    CHECK(d.closed);
    CHECK(d.data < d.image_size); /* dropped mid-download */
    CHECK(!d.ended);
    CHECK(d.n_notified < N_STALL);
    if (d.bye != 0) {
        CHECK_ERR(d.bye, SISP_EBUSY);
        CHECK_INT(d.after_bye, 0);
    }
    tc_close(sam);

    /* 3. */
    sam = login(&s, &u[2]);
    if (sam != NULL) {
        seqs_t got = {calloc(N_POSTS + 8, sizeof(uint64_t)), 0, N_POSTS + 8};
        CHECK_ERR(tc_list_all(sam, "", 0, collect_seq, &got), 0);
        CHECK_U64(got.n, np);
        size_t missing = 0;
        for (size_t i = 0; i < np; i++)
            if (!has_seq(&got, posted[i]) && missing++ < 5)
                T_FAIL_AT("post %zu (seq %llu) missing from sam's LIST", i,
                          (unsigned long long)posted[i]);
        CHECK_U64(missing, 0);
        printf("  sam back: LIST since=0 has all %zu posts\n", got.n);
        CHECK(ping(sam) == 0);
        free(got.seqs);
        tc_close(sam);
    }
    sam = NULL;
out:
    tc_close(sam);
    free(big);
    free(posted);
    free(d.notified);
    tc_close(p);
    tc_close(r);
    stop(&s);
}

/* ---- (b) the handshake deadline ---- */

static void test_handshake_timeout(void) {
    printf("handshake deadline (--handshake-timeout 1):\n");
    tserver_t s;
    const char *const extra[] = {"--handshake-timeout", "1", NULL};
    if (start(&s, extra) != 0)
        return;
    tc_user_t alice;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &alice), 0);
    tclient_t *ok = login(&s, &alice); /* a finished handshake is not subject to it */

    int64_t t0 = t_now_ms();
    int silent = tcp_connect(s.port);
    int partial = tcp_connect(s.port);
    CHECK(silent >= 0 && partial >= 0);
    /* The start of a ClientHello's record header, then nothing. */
    static const uint8_t hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    CHECK_INT(write(partial, hello_start, sizeof hello_start), (ssize_t)sizeof hello_start);
    int t1 = closed_within(silent, 6000, t0);
    int t2 = closed_within(partial, 6000, t0);
    printf("  silent TCP connection closed after %d ms, a partial ClientHello after %d ms\n", t1,
           t2);
    CHECK(t1 >= 0 && t1 <= 5000);
    CHECK(t2 >= 0 && t2 <= 5000);
    close(silent);
    close(partial);

    /* TLS finished but no HELLO: BYE ETIMEDOUT, then the close. */
    int err = 0;
    tclient_t *c = tc_connect_tls(s.port, s.ca, s.ca_len, &alice, 0, &err);
    CHECK(c != NULL);
    if (c != NULL) {
        t0 = t_now_ms();
        const sisp_packet_t *f = NULL;
        int rc = tc_read_raw(c, 6000, &f);
        CHECK_INT(rc, 0);
        if (rc == 0) {
            CHECK_INT(f->type, SISP_T_BYE);
            if (f->type == SISP_T_BYE)
                CHECK_ERR(-(int)f->u.bye.code, SISP_ETIMEDOUT);
        }
        CHECK_INT(tc_read_raw(c, 3000, &f), -1);
        printf("  TLS without HELLO: BYE ETIMEDOUT after %lld ms\n", (long long)(t_now_ms() - t0));
        tc_close(c);
    }
    /* The established session outlived the deadline several times over. */
    CHECK(ok != NULL && ping(ok) == 0);
    tc_close(ok);
    stop(&s);
}

/* ---- minimum data rate ---- */

/* Sends the header of a POST_BEGIN declaring `len` payload bytes, then `len` bytes in pieces
 * of `piece` every `every_ms`. Returns the first frame the server sends back, or -1 if the
 * connection ended without one; *sent_all says whether every byte went out first. */
static int trickle(tclient_t *c, uint32_t len, uint32_t piece, int every_ms, int *sent_all,
                   const sisp_packet_t **f) {
    sisp_buf_t b;
    uint8_t junk[4096];
    memset(junk, 0x41, sizeof junk);
    sisp_buf_init(&b, 0);
    int rc = sisp_frame_put_header(&b, SISP_T_POST_BEGIN, 0, 1, len);
    if (rc == 0)
        rc = tc_send_raw(c, b.data, b.len);
    sisp_buf_free(&b);
    *sent_all = 0;
    for (uint32_t done = 0; rc == 0 && done < len; done += piece) {
        if (tc_read_raw(c, every_ms, f) == 0)
            return 0; /* the server spoke first */
        uint32_t k = len - done < piece ? len - done : piece;
        if (tc_send_raw(c, junk, k) != 0)
            return -1;
    }
    *sent_all = rc == 0;
    return rc == 0 ? tc_read_raw(c, 3000, f) : -1;
}

static void test_min_rate(void) {
    printf("minimum data rate (--min-rate 2000 --rate-window 2):\n");
    tserver_t s;
    const char *const extra[] = {"--min-rate", "2000", "--rate-window", "2", NULL};
    if (start(&s, extra) != 0)
        return;
    tc_user_t alice;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &alice), 0);
    tclient_t *slow = login(&s, &alice), *fast = login(&s, &alice), *idle = login(&s, &alice);
    if (slow != NULL && fast != NULL && idle != NULL) {
        /* 100 bytes every 500 ms (200 B/s) through a 20,000-byte frame: cut off. */
        const sisp_packet_t *f = NULL;
        int sent_all = 0;
        int64_t t0 = t_now_ms();
        int rc = trickle(slow, 20000, 100, 500, &sent_all, &f);
        CHECK_INT(rc, 0);
        CHECK_INT(sent_all, 0);
        if (rc == 0) {
            CHECK_INT(f->type, SISP_T_BYE);
            if (f->type == SISP_T_BYE)
                CHECK_ERR(-(int)f->u.bye.code, SISP_ETIMEDOUT);
        }
        printf("  200 B/s inside a frame: BYE ETIMEDOUT after %lld ms\n",
               (long long)(t_now_ms() - t0));
        /* 2,000 bytes every 250 ms (8 KB/s) through the same frame: served to the end (the
         * junk payload then gets its own error, not a timeout). */
        t0 = t_now_ms();
        rc = trickle(fast, 20000, 2000, 250, &sent_all, &f);
        CHECK_INT(rc, 0);
        CHECK_INT(sent_all, 1);
        if (rc == 0 && f->type == SISP_T_BYE)
            CHECK(-(int)f->u.bye.code != SISP_ETIMEDOUT);
        if (rc == 0 && f->type == SISP_T_ERROR)
            CHECK(-(int)f->u.error.code != SISP_ETIMEDOUT);
        printf("  8 KB/s: the whole frame accepted (%lld ms), answered with %s\n",
               (long long)(t_now_ms() - t0), rc == 0 ? sisp_type_name(f->type) : "nothing");
        /* A connection with nothing under way owes nothing: still served. */
        CHECK_INT(ping(idle), 0);
    }
    tc_close(slow);
    tc_close(fast);
    tc_close(idle);
    stop(&s);
}

/* ---- (c) connection caps ---- */

#define CAP_CLOSE_MS 15000 /* a wait for a refused connection's close, not a bound on it */

/* Connects, retrying for up to 3 s while the server has yet to notice earlier closes. */
static tclient_t *connect_retry(const tserver_t *s, const tc_user_t *u) {
    int64_t t0 = t_now_ms();
    for (;;) {
        int err = 0;
        tclient_t *c = tc_connect(s->port, s->ca, s->ca_len, u, &err);
        if (c != NULL || t_now_ms() - t0 > 3000)
            return c;
        t_sleep_ms(50);
    }
}

static void test_max_conns(void) {
    printf("connection caps (--max-conns 5; --max-preauth 2; --max-per-addr 3):\n");
    tserver_t s;
    /* With a handshake deadline of ten minutes, a close within the wait below can only be the
     * cap's refusal. */
    const char *const extra[] = {"--max-conns", "5", "--handshake-timeout", "600", NULL};
    if (start(&s, extra) != 0)
        return;
    tc_user_t alice;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &alice), 0);
    tclient_t *c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = connect_retry(&s, &alice);
        CHECK(c[i] != NULL);
    }
    int fd = tcp_connect(s.port);
    int t = closed_within(fd, CAP_CLOSE_MS, t_now_ms());
    printf("  6th connection closed after %d ms\n", t);
    CHECK(t >= 0);
    close(fd);
    int err = 0;
    tclient_t *x = tc_connect(s.port, s.ca, s.ca_len, &alice, &err);
    CHECK(x == NULL);
    tc_close(x);
    for (int i = 0; i < 5; i++)
        CHECK(c[i] != NULL && ping(c[i]) == 0);
    /* One leaves: there is room again. */
    tc_close(c[0]);
    c[0] = connect_retry(&s, &alice);
    CHECK(c[0] != NULL && ping(c[0]) == 0);
    for (int i = 0; i < 5; i++)
        tc_close(c[i]);
    stop(&s);

    const char *const extra2[] = {"--max-preauth", "2", "--handshake-timeout", "600", NULL};
    if (start(&s, extra2) != 0)
        return;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &alice), 0);
    tclient_t *pre[2];
    for (int i = 0; i < 2; i++) {
        pre[i] = connect_retry(&s, NULL);
        CHECK(pre[i] != NULL);
    }
    fd = tcp_connect(s.port);
    t = closed_within(fd, CAP_CLOSE_MS, t_now_ms());
    printf("  3rd connection without a certificate closed after %d ms\n", t);
    CHECK(t >= 0);
    close(fd);
    for (int i = 0; i < 2; i++)
        CHECK(pre[i] != NULL && ping(pre[i]) == 0);
    /* Not a bug of the cap, but worth knowing: until its certificate is verified every
     * connection counts as pre-auth, so with the certificate-less slots taken (by idle UNAUTH
     * sessions, which end after 6 handshake timeouts: "register or disconnect") registered users
     * cannot get in either. */
    x = tc_connect(s.port, s.ca, s.ca_len, &alice, &err);
    printf("  with the pre-auth slots taken, a registered user is %s\n",
           x ? "let in" : "refused too (counted as pre-auth until verified)");
    tc_close(x);
    tc_close(pre[0]);
    pre[0] = connect_retry(&s, NULL);
    CHECK(pre[0] != NULL && ping(pre[0]) == 0);
    tc_close(pre[0]);
    tc_close(pre[1]);
    /* With the slots free, the registered user is served. */
    x = connect_retry(&s, &alice);
    CHECK(x != NULL && ping(x) == 0);
    tc_close(x);
    stop(&s);

    /* Per address: every connection here comes from 127.0.0.1. */
    const char *const extra3[] = {"--max-per-addr", "3", "--handshake-timeout", "600", NULL};
    if (start(&s, extra3) != 0)
        return;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &alice), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            c[i] = connect_retry(&s, &alice);
            CHECK(c[i] != NULL);
        }
        fd = tcp_connect(s.port);
        t = closed_within(fd, CAP_CLOSE_MS, t_now_ms());
        printf("  round %d: 4th connection from 127.0.0.1 closed after %d ms\n", round + 1, t);
        CHECK(t >= 0);
        close(fd);
        for (int i = 0; i < 3; i++) {
            CHECK(c[i] != NULL && ping(c[i]) == 0);
            tc_close(c[i]); /* each close gives its slot back: the next round fits again */
        }
    }
    stop(&s);
}

/* ---- (d) quota and largest image ---- */

static void test_quota(void) {
    printf("quota (--quota 10000; --max-image 5000):\n");
    static uint8_t plain[20000];
    fill_image(plain, sizeof plain);
    const char *const names[] = {"alice"};
    tc_user_t alice;
    tserver_t s;
    const char *const extra[] = {"--quota", "10000", NULL};
    if (start(&s, extra) != 0)
        return;
    tclient_t *c = setup_users(&s, names, &alice, 1);
    if (c != NULL) {
        /* 4000 bytes seal to 4016 (one chunk and its tag): two fit, the third does not. */
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "big.png", plain, 20000, NULL),
                  SISP_EQUOTA);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "a.png", plain, 4000, NULL), 0);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "b.png", plain, 4000, NULL), 0);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "c.png", plain, 4000, NULL), SISP_EQUOTA);
        CHECK(ping(c) == 0); /* a refused upload is not fatal */
        uint64_t seq_buf[8];
        seqs_t got = {seq_buf, 0, 8};
        CHECK_ERR(tc_list_all(c, "", 0, collect_seq, &got), 0);
        CHECK_U64(got.n, 2);
        tc_close(c);
    }
    stop(&s);

    const char *const extra2[] = {"--max-image", "5000", NULL};
    if (start(&s, extra2) != 0)
        return;
    c = setup_users(&s, names, &alice, 1);
    if (c != NULL) {
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "big.png", plain, 20000, NULL),
                  SISP_EQUOTA);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "a.png", plain, 4000, NULL), 0);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "b.png", plain, 4000, NULL), 0);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "c.png", plain, 4968, NULL), 0);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, "d.png", plain, 4969, NULL), SISP_EQUOTA);
        CHECK(ping(c) == 0);
        tc_close(c);
    }
    printf("  over quota and over the largest image: EQUOTA, connection kept\n");
    stop(&s);
}

/* ---- (e) registration by invite ---- */

/* Runs `sispd --data dir invite [args]`: 0 and the code, or -1. */
static int make_invite(const tserver_t *s, const char *args, char *code, size_t cap) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s --data %s invite %s", sispd, s->dir, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    char line[128] = "";
    char *got = fgets(line, sizeof line, f);
    int st = pclose(f);
    if (got == NULL || st != 0)
        return -1;
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(code, cap, "%s", line);
    return 0;
}

static void test_invite(void) {
    printf("registration by invite (--registration invite):\n");
    tserver_t s;
    const char *const extra[] = {"--registration", "invite", "--register-rate", "100", NULL};
    if (start(&s, extra) != 0)
        return;
    int err = 0;
    tclient_t *c = tc_connect(s.port, s.ca, s.ca_len, NULL, &err);
    CHECK(c != NULL);
    if (c != NULL)
        CHECK_INT(tc_server_hello(c)->registration, SISP_REG_INVITE);
    tc_close(c);

    tc_user_t u;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", NULL, &u), SISP_EINVITE);
    char code[64], code2[64], old[64];
    CHECK_INT(make_invite(&s, "", code, sizeof code), 0);
    printf("  `sispd invite` printed %s\n", code);
    CHECK_INT(strlen(code), 14); /* XXXX-XXXX-XXXX */
    CHECK(code[4] == '-' && code[9] == '-');
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", "ABCD-EFGH-JKLM", &u), SISP_EINVITE);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", code, &u), 0);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "bob", code, &u), SISP_EINVITE); /* used */
    /* A taken name does not use up a code. */
    CHECK_INT(make_invite(&s, "", code2, sizeof code2), 0);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "alice", code2, &u), SISP_EEXIST);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "bob", code2, &u), 0);
    /* A code that has expired (valid for 0 days). */
    CHECK_INT(make_invite(&s, "--days 0", old, sizeof old), 0);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "carol", old, &u), SISP_EINVITE);
    printf("  no code, a made-up one, a used one, an expired one: EINVITE; a fresh one: once\n");
    stop(&s);
}

/* ---- (f) REGISTER rate limit ---- */

static void test_register_rate(void) {
    printf("REGISTER rate limit (--register-rate 3):\n");
    /* The server counts per calendar minute: start well inside one. */
    time_t t = time(NULL);
    if (t % 60 >= 50) {
        printf("  (waiting %d s for the next minute)\n", (int)(61 - t % 60));
        sleep((unsigned)(61 - t % 60));
    }
    tserver_t s;
    const char *const extra[] = {"--register-rate", "3", NULL};
    if (start(&s, extra) != 0)
        return;
    tc_user_t u;
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "user1", NULL, &u), 0);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "user1", NULL, &u), SISP_EEXIST); /* counts */
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "user2", NULL, &u), 0);
    CHECK_ERR(tc_register(s.port, s.ca, s.ca_len, "user3", NULL, &u), SISP_ERATELIMIT);
    /* The refusal says when to retry, and does not end the connection. */
    int err = 0;
    tclient_t *c = tc_connect(s.port, s.ca, s.ca_len, NULL, &err);
    CHECK(c != NULL);
    if (c != NULL) {
        sisp_buf_t csr;
        sisp_buf_init(&csr, 0);
        CHECK_ERR(sisp_csr_make(&u.id, "user4", &csr), 0);
        uint8_t xsig[64];
        CHECK_ERR(sisp_x25519_sign(&u.id, sisp_slice_str("user4"), u.x.pub, xsig), 0);
        sisp_register_req_t req = {sisp_slice_str("user4"), sisp_slice(csr.data, csr.len),
                                   sisp_slice(u.x.pub, 32), sisp_slice(xsig, sizeof xsig),
                                   SISP_SLICE_NULL};
        const sisp_packet_t *r = NULL;
        CHECK_INT(tc_request(c, SISP_T_REGISTER, &req, &r), 0);
        if (r != NULL) {
            CHECK_ERR(tc_reply_code(r), SISP_ERATELIMIT);
            if (r->type == SISP_T_ERROR)
                CHECK(r->u.error.retry_after_ms > 0);
        }
        CHECK(ping(c) == 0);
        sisp_buf_free(&csr);
        tc_close(c);
    }
    printf("  3 REGISTERs a minute from 127.0.0.1, the 4th and 5th: ERATELIMIT with "
           "retry-after\n");
    stop(&s);
}

/* ---- (g) output backpressure for replies ---- */

#ifdef T_ASAN
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

#define N_PIPELINED 20000

/* A client that pipelines requests and never reads must not make the server hold their
 * answers without bound (BRIEF §6: memory stays bounded under every load). 20,000 LIST
 * requests of ~30 bytes, each answered with a full page (64 entries, ~7 KiB): the server has
 * to stop reading, or drop the client, long before it holds 140 MB of answers. */
static void test_reply_backpressure(void) {
    printf("a client that pipelines requests and never reads:\n");
    if (UNDER_ASAN) {
        printf("  skipped under AddressSanitizer (its quarantine makes RSS meaningless here)\n");
        return;
    }
    tserver_t s;
    if (start(&s, NULL) != 0)
        return;
    const char *const names[] = {"alice"};
    tc_user_t alice;
    tclient_t *c = setup_users(&s, names, &alice, 1);
    if (c == NULL) {
        stop(&s);
        return;
    }
    uint8_t img[100];
    fill_image(img, sizeof img);
    for (int i = 0; i < 64; i++) {
        char name[128];
        snprintf(name, sizeof name, "an-image-with-a-long-name-so-that-a-page-is-large-%03d.png",
                 i);
        CHECK_ERR(tc_post(c, &alice, "all", 1, all_key, name, img, sizeof img, NULL), 0);
    }
    tclient_t *d = login(&s, &alice);
    long before = rss_kb(s.pid), peak = before;
    int sent = 0;
    if (d != NULL) {
        struct timeval tv = {2, 0}; /* a server that stops reading stops us too */
        setsockopt(tc_fd(d), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        for (; sent < N_PIPELINED; sent++) {
            sisp_list_t l = {0, SISP_SLICE_NULL, 0};
            if (tc_send(d, SISP_T_LIST, 0, &l) == 0)
                break;
        }
        long last = -1;
        for (int i = 0; i < 100 && peak != last; i++) { /* until it settles, at most 10 s */
            last = peak;
            t_sleep_ms(i < 10 ? 100 : 500);
            long now = rss_kb(s.pid);
            if (now > peak)
                peak = now;
        }
    }
    printf("  %d LIST requests sent; server RSS %ld kB before, %ld kB after\n", sent, before, peak);
    t_checks++;
    if (peak - before > 64 * 1024)
        T_FAIL_AT("one connection that never reads made sispd grow by %ld MB (limit 64 MB): "
                  "answers queue in the session's output without a cap",
                  (peak - before) / 1024);
    tc_close(d);
    tc_close(c);
    ts_kill(&s); /* its shutdown would wait on the stalled connection */
    ts_cleanup(&s);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_limits path/to/sispd\n");
        return 2;
    }
    sispd = argv[1];
    signal(SIGPIPE, SIG_IGN);
    t_rand_seed_from_env("test_limits");
    sisp_rng_t rng;
    CHECK_ERR(sisp_rng_init(&rng), 0);
    CHECK_ERR(sisp_rng_bytes(&rng, all_key, sizeof all_key), 0);
    sisp_rng_free(&rng);

    int64_t t0 = t_now_ms();
    test_handshake_timeout();
    test_max_conns();
    test_quota();
    test_invite();
    test_register_rate();
    test_push_queue();
    test_reply_backpressure();
    test_min_rate();
    printf("(%lld ms)\n", (long long)(t_now_ms() - t0));
    return t_done("test_limits");
}
