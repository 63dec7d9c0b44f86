#define _DEFAULT_SOURCE
#include "tserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ts_start(tserver_t *s, const char *sispd, const char *const *extra) {
    int out[2];
    if (s->dir[0] == '\0') {
        snprintf(s->dir, sizeof s->dir, "/tmp/sisp-test-XXXXXX");
        if (mkdtemp(s->dir) == NULL)
            return -1;
    }
    if (pipe(out) != 0)
        return -1;
    /* execv takes char *const[]: give it copies it may treat as its own. */
    static char data_opt[] = "--data", listen_opt[] = "--listen", listen[] = "127.0.0.1:0";
    char *argv[32];
    char *copies[32];
    size_t n = 0, nc = 0;
    for (size_t i = 0; s->wrap && s->wrap[i] && n < 16; i++)
        argv[n++] = copies[nc++] = strdup(s->wrap[i]);
    argv[n++] = copies[nc++] = strdup(sispd);
    argv[n++] = data_opt;
    argv[n++] = s->dir;
    argv[n++] = listen_opt;
    argv[n++] = listen;
    for (size_t i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = copies[nc++] = strdup(extra[i]);
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv(argv[0], argv);
        perror("execv sispd");
        _exit(127);
    }
    close(out[1]);
    for (size_t i = 0; i < nc; i++)
        free(copies[i]);
    /* The ready line, within 20 s (first start makes the CA), 60 s when wrapped. */
    char line[512];
    size_t len = 0;
    struct pollfd p = {out[0], POLLIN, 0};
    while (len < sizeof line - 1) {
        if (poll(&p, 1, s->wrap ? 60000 : 20000) <= 0)
            break;
        ssize_t r = read(out[0], line + len, 1);
        if (r <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    if (sscanf(line, "sispd listening on 127.0.0.1:%d fingerprint %79s", &s->port,
               s->fingerprint) != 2) {
        fprintf(stderr, "tserver: no ready line (got \"%s\")\n", line);
        ts_kill(s);
        return -1;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/ca.crt", s->dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ts_kill(s);
        return -1;
    }
    s->ca_len = fread(s->ca, 1, sizeof s->ca, f);
    fclose(f);
    return 0;
}

static int wait_exit(tserver_t *s, int seconds) {
    for (int i = 0; i < seconds * 100; i++) {
        int status;
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int ts_stop(tserver_t *s) {
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int rc = wait_exit(s, s->wrap ? 120 : 15);
    if (rc < 0)
        ts_kill(s);
    return rc;
}

void ts_kill(tserver_t *s) {
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void ts_cleanup(tserver_t *s) {
    char cmd[400];
    if (s->dir[0] == '\0' || strncmp(s->dir, "/tmp/sisp-test-", 15) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tserver: cannot remove %s\n", s->dir);
}
