/* Runs the real sispd binary for integration tests: a temporary data directory, port 0, the
 * ready line parsed, SIGTERM or SIGKILL to stop it. */
#ifndef SISP_TSERVER_H
#define SISP_TSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int port;
    char fingerprint[80]; /* "SHA256:..." */
    char dir[256];
    uint8_t ca[4096];
    size_t ca_len;
    const char *const *wrap; /* if set, a command sispd runs under: {"/usr/bin/valgrind", ...} */
} tserver_t;

/* Makes a fresh data directory (if dir[0] is empty) and starts `[wrap...] sispd --data dir
 * --listen 127.0.0.1:0 extra...`. 0 or -1. */
int ts_start(tserver_t *s, const char *sispd, const char *const *extra);
/* SIGTERM and wait: returns the exit status (0 for a clean shutdown), -1 on a timeout (15 s,
 * 120 s when wrapped). */
int ts_stop(tserver_t *s);
void ts_kill(tserver_t *s); /* SIGKILL and reap */
/* Removes the data directory. */
void ts_cleanup(tserver_t *s);

#endif
