/* Directory watching with inotify on its own thread. See sisp/watch.h. */
#include "sisp/watch.h"

#include "readfile.h"
#include "sisp/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* IN_CREATE: a finished file linked into the directory (as sisp gives a download its name)
 * raises nothing else. A file created and then written in place may be seen half-written at
 * its IN_CREATE (or not listed yet, if it does not sniff as an image); its IN_CLOSE_WRITE
 * rescans, and a changed stamp reloads it. */
#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |       \
     IN_MOVE_SELF | IN_ONLYDIR)

struct sisp_watch {
    int ifd;     /* inotify */
    int stop[2]; /* a byte on stop[1] ends the thread */
    pthread_t thread;
    sisp_watch_cb cb;
    void *ud;
};

/* 1 if one event could mean an image appeared, went or changed. */
static int event_matters(const struct inotify_event *ev, const char *name) {
    if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
        return 1;
    if (ev->mask & IN_ISDIR)
        return 0;
    return ev->len > 0 && name[0] != '\0' && name[0] != '.';
}

/* Reads every queued event; 1 if any matters, -1 when the thread should end. */
static int drain(int ifd) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int matters = 0;
    for (;;) {
        ssize_t n = read(ifd, buf, sizeof(buf));
        size_t pos = 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? matters : -1;
        }
        if (n == 0)
            return -1;
        while ((size_t)n - pos >= sizeof(struct inotify_event)) {
            struct inotify_event ev;
            memcpy(&ev, buf + pos, sizeof(ev));
            if (ev.len > (size_t)n - pos - sizeof(ev))
                break; /* the kernel never splits events; be safe anyway */
            if (event_matters(&ev, buf + pos + sizeof(ev)))
                matters = 1;
            pos += sizeof(ev) + ev.len;
        }
    }
}

static void *watch_main(void *arg) {
    sisp_watch_t *w = arg;
    struct pollfd fds[2];
    fds[0].fd = w->ifd;
    fds[0].events = POLLIN;
    fds[1].fd = w->stop[0];
    fds[1].events = POLLIN;
    for (;;) {
        int r;
        fds[0].revents = 0;
        fds[1].revents = 0;
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        r = drain(w->ifd);
        if (r < 0)
            break;
        if (r > 0)
            w->cb(w->ud);
    }
    return NULL;
}

static int set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static int errno_code(int e, int *sys_err) {
    if (sys_err)
        *sys_err = e;
    return sisp__errno_code(e);
}

int sisp_watch_start(sisp_watch_t **out, const char *dir, sisp_watch_cb cb, void *ud,
                     int *sys_err) {
    sisp_watch_t *w;
    int err;

    *out = NULL;
    if (sys_err)
        *sys_err = 0;
    w = calloc(1, sizeof(*w));
    if (!w)
        return SISP_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    w->stop[0] = w->stop[1] = -1;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0 || inotify_add_watch(w->ifd, dir, WATCH_MASK) < 0 || pipe(w->stop) != 0 ||
        set_cloexec(w->stop[0]) != 0 || set_cloexec(w->stop[1]) != 0) {
        err = errno_code(errno, sys_err);
        goto fail;
    }
    err = pthread_create(&w->thread, NULL, watch_main, w);
    if (err != 0) {
        err = errno_code(err, sys_err);
        goto fail;
    }
    *out = w;
    return 0;
fail:
    if (w->ifd >= 0)
        close(w->ifd);
    if (w->stop[0] >= 0)
        close(w->stop[0]);
    if (w->stop[1] >= 0)
        close(w->stop[1]);
    free(w);
    return err;
}

void sisp_watch_stop(sisp_watch_t *w) {
    const char byte = 1;
    ssize_t n;
    if (!w)
        return;
    do {
        n = write(w->stop[1], &byte, 1);
    } while (n < 0 && errno == EINTR);
    pthread_join(w->thread, NULL);
    close(w->ifd);
    close(w->stop[0]);
    close(w->stop[1]);
    free(w);
}
