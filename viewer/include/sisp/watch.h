/* Watching a download directory for new images (sisp-view --dir DIR --watch), with inotify
 * on a thread of its own. The client writes each file as a temp file whose name starts
 * with '.', then renames it into place, so only completed files matter: the watcher reacts
 * to renames into and out of the directory, to close-after-write (for files copied in by
 * other means) and to deletions, and ignores names that start with '.'. It does not say
 * which file changed: the owner rescans the directory (sisp_gallery_scan), which also
 * recovers from a lost or overflowed event queue. */
#ifndef SISP_WATCH_H
#define SISP_WATCH_H

typedef struct sisp_watch sisp_watch_t;

/* Called on the watcher's thread, at most once per batch of events read together; it
 * must only hand the news over (e.g. SDL_PushEvent), never touch the gallery itself. */
typedef void (*sisp_watch_cb)(void *ud);

/* Starts watching dir. 0; SISP_ENOTFOUND, SISP_EPERM or SISP_EIO (*sys_err, may be NULL,
 * gets the errno); SISP_ENOMEM. On success *out is owned by the caller (sisp_watch_stop). */
int sisp_watch_start(sisp_watch_t **out, const char *dir, sisp_watch_cb cb, void *ud, int *sys_err);

/* Stops the thread and waits for it: no callback runs after this returns. NULL is a
 * no-op. */
void sisp_watch_stop(sisp_watch_t *w);

#endif
