/* sisp-bench: sispd under load, next to references measured in the same run.
 *
 * One process, one libuv loop, many connections: each connection runs wolfSSL over memory
 * buffers (as server/tls.c does) on a non-blocking uv_tcp_t. The servers are started here, each
 * scenario with fresh ones: sispd (a fresh data directory, users registered with the blocking
 * test client, all of them members of group `all` with its key) and sisp-bench-echo, the bare
 * wolfSSL TLS 1.3 server with sispd's TLS settings on the same data directory's certificates;
 * nginx (mutual TLS 1.3 on the same certificates, one process, no session cache, HTTP/1.1
 * keep-alive) when its path is given; mosquitto (plain TCP MQTT 3.1.1, QoS 0) for the fan-out
 * reference when its path is given. Every client connection, to any of them, uses the same
 * wolfSSL client context and user certificate.
 *
 * Scenarios (see docs/BENCHMARKS.md for what each measures and why):
 *   handshakes  mutual-TLS connections, each the handshake then one small round trip (sispd:
 *               HELLO; echo: a 1-byte echo; nginx: GET of a 1-byte file), per server
 *               CPU-second (the server's tasks' run time from /proc/PID/task/T/schedstat)
 *   bulk        a sealed image uploaded (POST) and downloaded (DOWNLOAD) vs the same number of
 *               bytes to and from the echo server and nginx on one connection; MB/s, and MB
 *               per server CPU-second
 *   conc        8 connections downloading a 4 MiB sealed image at once (sispd: DOWNLOAD; echo:
 *               `D`; nginx: GET of the same bytes); aggregate MB/s and MB per server CPU-s
 *   posts       C clients posting 100 KiB sealed images back to back vs C clients uploading
 *               100 KiB to the echo server; and the data directory's fsync rate
 *   idle        N authenticated connections (HELLO done) held; server VmRSS growth per
 *               connection, vs N TLS connections to the echo server; then again once each
 *               connection has downloaded a 256 KiB image and gone quiet for 3 s
 *   fanout      N member connections, one poster: NOTIFY arrival after POSTED (first, median,
 *               p99, last) vs mosquitto delivering one QoS-0 PUBLISH to N subscribers
 *   client      the real `sisp` program (--sisp PATH): POST_IMAGE and DOWNLOAD of a 16 MiB
 *               image end to end against a fresh sispd, wall and client CPU time
 *
 * --perf DIR records where each server spends its time during its own timed windows of each
 * scenario: one `perf record -e cpu-clock -g -p PID` per scenario phase and server, enabled
 * only inside that phase's windows (perf's --control fifo), written to DIR/PHASE-SERVER.data. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "bench_stats.h"

#include "seal_fixture.h"
#include "tclient.h"
#include "tserver.h"

#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/frame.h>
#include <sisp/keys.h>
#include <sisp/packet.h>
#include <sisp/seal.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MIB ((size_t)1024 * 1024)
#define MAX_USERS 16
#define MAX_REPS 101
#define WINDOW ((size_t)1 << 20) /* ciphertext a sender keeps queued */
#define PLAIN_IO 16384
#define GROUP "all"

/* ---- options and results ---- */

typedef struct {
    const char *sispd, *echo, *mosquitto, *nginx;
    const char *sisp_cli; /* the client program, for the `client` scenario */
    const char *perf_dir; /* profile the servers into this directory (see the top) */
    unsigned reps;
    unsigned bulk_reps; /* bulk and conc: repetitions (default: reps) */
    unsigned hs_count, hs_parallel;
    size_t bulk_bytes;
    unsigned conc_n;   /* conc: concurrent downloads */
    size_t conc_bytes; /* conc: the image each downloads */
    unsigned post_clients, posts_per_client;
    size_t post_bytes;
    unsigned conns[8];
    size_t n_conns;
    unsigned users;
    int smoke;
    int same_conn;     /* bulk: every transfer on one connection per server */
    unsigned stall_ms; /* bulk: the client stops reading this long after IMAGE_BEGIN */
    int pin;           /* servers on CPU 0, sisp-bench on CPU 1 */
} opts_t;

static opts_t opt;
static int failures;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "# ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void fail_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("# FAILED: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    failures++;
}

/* One output row: metric unit median min max reps work. */
static void row(const char *metric, const char *unit, const double *v, size_t n, const char *work) {
    stats_t s = stats(v, n);
    printf("%-36s %-8s %12.3f %12.3f %12.3f %4zu %s\n", metric, unit, s.median, s.min, s.max, n,
           work);
    fflush(stdout);
}

/* A row of per-repetition ratios num[r] / den[r] (0 where den[r] is 0). */
static void ratio_row(const char *metric, const double *num, const double *den, size_t n) {
    double q[MAX_REPS];
    for (size_t r = 0; r < n; r++)
        q[r] = den[r] > 0 ? num[r] / den[r] : 0;
    row(metric, "ratio", q, n, "-");
}

/* ---- the server processes ---- */

static long clk_tck;

/* utime + stime of a process (all its threads, live and exited), seconds; 10 ms ticks. */
static double stat_cpu(const char *path) {
    char buf[2048];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)clk_tck;
}

/* A task's time on a CPU from its schedstat (nanoseconds), seconds; -1 if unreadable. */
static double schedstat_cpu(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    unsigned long long ns = 0;
    int ok = fscanf(f, "%llu", &ns) == 1;
    fclose(f);
    return ok ? (double)ns * 1e-9 : -1;
}

/* A process's CPU time, seconds: the sum of its live threads' schedstat run times, which
 * resolves a 10 ms transfer (the /proc/PID/stat ticks do not); a thread that exited during a
 * measurement loses its share (the servers here keep their threads). Falls back to stat. */
static double proc_cpu(pid_t pid) {
    char path[300];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    double sum = 0;
    int n = 0;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/proc/%d/task/%.32s/schedstat", (int)pid, e->d_name);
            double t = schedstat_cpu(path);
            if (t >= 0) {
                sum += t;
                n++;
            }
        }
        closedir(d);
    }
    if (n > 0)
        return sum;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu(path);
}

/* The main thread's alone: sispd's event loop (the store thread and the thread pool are
 * other tasks). */
static double loop_cpu(pid_t pid) {
    char path[80];
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)pid);
    double t = schedstat_cpu(path);
    if (t >= 0)
        return t;
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    return stat_cpu(path);
}

/* --pin: every task of pid onto CPU cpu (threads it starts later inherit it). */
static void pin_tasks(pid_t pid, size_t cpu) {
    if (!opt.pin || pid <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && sched_setaffinity((pid_t)atoi(e->d_name), sizeof set, &set) != 0)
            say("cannot pin task %s of %d: %s", e->d_name, (int)pid, strerror(errno));
    if (d != NULL)
        closedir(d);
}

/* VmRSS in KiB. */
static long proc_rss_kib(pid_t pid) {
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Starts argv[0] with stdout on a pipe; reads one line (the ready line) into line. */
static pid_t spawn_ready(char *const argv[], char *line, size_t cap) {
    int out[2];
    if (pipe(out) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv(argv[0], argv);
        perror("execv");
        _exit(127);
    }
    close(out[1]);
    size_t len = 0;
    struct pollfd p = {out[0], POLLIN, 0};
    while (len < cap - 1 && poll(&p, 1, 20000) > 0) {
        ssize_t r = read(out[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    return pid;
}

static void stop_pid(pid_t *pid) {
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* ---- the world: servers, users, client TLS contexts ---- */

typedef struct {
    tserver_t srv;
    pid_t echo_pid;
    int echo_port;
    pid_t mq_pid;
    int mq_port;
    pid_t nginx_pid; /* nginx runs as one process (master_process off): the worker */
    int nginx_port;
    char www[300]; /* nginx's document root */
    tc_user_t users[MAX_USERS];
    unsigned n_users;
    WOLFSSL_CTX *ctx[MAX_USERS];
    uint8_t epoch_key[32];
    uv_loop_t loop;
} world_t;

static world_t W;

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);

static WOLFSSL_CTX *client_ctx(const tc_user_t *u) {
    WOLFSSL_CTX *c = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
    uint8_t der[256];
    size_t dlen = 0;
    int groups[] = {WOLFSSL_ECC_X25519};
    if (c == NULL ||
        wolfSSL_CTX_load_verify_buffer(c, W.srv.ca, (long)W.srv.ca_len, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS ||
        sisp_ident_der(&u->id, der, sizeof der, &dlen) != 0 ||
        wolfSSL_CTX_use_certificate_buffer(c, u->cert, (long)u->cert_len, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_buffer(c, der, (long)dlen, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(c, groups, 1) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(c, sisp_tls13_suites()) != WOLFSSL_SUCCESS) {
        if (c)
            wolfSSL_CTX_free(c);
        return NULL;
    }
    wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER, NULL);
    wolfSSL_CTX_SetIORecv(c, io_recv);
    wolfSSL_CTX_SetIOSend(c, io_send);
    return c;
}

/* Waits until 127.0.0.1:port accepts (or pid, if given, has exited). 0 or -1. */
static int wait_port(int port, pid_t pid) {
    for (int i = 0; i < 500; i++) {
        usleep(20000);
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return 0;
    }
    return -1;
}

/* A free TCP port on 127.0.0.1 (bound, read, released). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int start_mosquitto(void) {
    char conf[300];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", W.srv.dir);
    if ((W.mq_port = free_port()) < 0)
        return -1;
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\nmax_connections -1\n"
            "persistence false\nlog_type error\nlog_dest stderr\n",
            W.mq_port);
    fclose(f);
    char *argv[] = {(char *)(uintptr_t)opt.mosquitto, (char *)(uintptr_t) "-c", conf, NULL};
    W.mq_pid = fork();
    if (W.mq_pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    if (W.mq_pid > 0 && wait_port(W.mq_port, W.mq_pid) == 0)
        return 0;
    stop_pid(&W.mq_pid);
    return -1;
}

/* ---- nginx: the same certificates, mutual TLS 1.3, HTTP/1.1 ---- */

static int write_file(const char *path, const void *p, size_t n) {
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return -1;
    int ok = fwrite(p, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1; /* nginx never sees half a file */
}

/* DER as PEM: base64 in 64-column lines between BEGIN and END lines. */
static int write_pem(const char *path, const char *label, const uint8_t *der, size_t len) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "-----BEGIN %s-----\n", label);
    size_t col = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)der[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)der[i + 1] << 8;
        if (i + 2 < len)
            v |= der[i + 2];
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < len ? b64[v >> 6 & 63] : '=',
                     i + 2 < len ? b64[v & 63] : '='};
        fwrite(q, 1, sizeof q, f);
        if ((col += 4) == 64) {
            fputc('\n', f);
            col = 0;
        }
    }
    if (col > 0)
        fputc('\n', f);
    fprintf(f, "-----END %s-----\n", label);
    return fclose(f) == 0 ? 0 : -1;
}

/* A file of the sispd data directory as PEM (the certificate and the PKCS#8 key are DER). */
static int der_file_to_pem(const char *name, const char *out, const char *label) {
    char path[400];
    uint8_t der[8192];
    snprintf(path, sizeof path, "%s/%s", W.srv.dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(der, 1, sizeof der, f);
    fclose(f);
    int rc = n > 0 && n < sizeof der ? write_pem(out, label, der, n) : -1;
    sisp_wipe(der, sizeof der);
    return rc;
}

/* nginx in W.srv.dir/nginx: one process (master_process off, so the process started here is
 * the one that serves and whose CPU is read), 127.0.0.1 only, TLS 1.3 only with sispd's
 * server certificate and key and its CA as the only client trust anchor, client certificates
 * required, no session cache and no tickets, X25519 then P-256; a document root whose files
 * the scenarios write; POST /upload answers 204 and nginx reads and discards the body. */
static int start_nginx(void) {
    char dir[280], p[400];
    snprintf(dir, sizeof dir, "%.256s/nginx", W.srv.dir);
    snprintf(W.www, sizeof W.www, "%s/www", dir);
    snprintf(p, sizeof p, "%s/tmp", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(W.www, 0755) != 0 || mkdir(p, 0700) != 0)
        return -1;
    char crt[400], key[400], ca[400], conf[400], errlog[400];
    snprintf(crt, sizeof crt, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server-key.pem", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(errlog, sizeof errlog, "%s/error.log", dir);
    snprintf(p, sizeof p, "%s/one", W.www);
    if (der_file_to_pem("server.crt", crt, "CERTIFICATE") != 0 ||
        der_file_to_pem("server.key", key, "PRIVATE KEY") != 0 ||
        write_pem(ca, "CERTIFICATE", W.srv.ca, W.srv.ca_len) != 0 || write_file(p, "x", 1) != 0)
        return -1;
    if ((W.nginx_port = free_port()) < 0)
        return -1;
    FILE *f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "# written by sisp-bench\n"
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            "worker_rlimit_nofile 20000;\npid %s/nginx.pid;\nerror_log %s warn;\n"
            "events { worker_connections 20000; }\n"
            "http {\n"
            "  access_log off;\n"
            "  client_body_temp_path %s/tmp/body;\n  proxy_temp_path %s/tmp/proxy;\n"
            "  fastcgi_temp_path %s/tmp/fastcgi;\n  uwsgi_temp_path %s/tmp/uwsgi;\n"
            "  scgi_temp_path %s/tmp/scgi;\n"
            "  keepalive_requests 1000000;\n  keepalive_timeout 3600s;\n"
            "  client_max_body_size 1g;\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl;\n"
            "    ssl_protocols TLSv1.3;\n"
            "    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
            "    ssl_client_certificate %s;\n    ssl_verify_client on;\n"
            "    ssl_verify_depth 1;\n"
            "    ssl_session_cache off;\n    ssl_session_tickets off;\n"
            "    ssl_ecdh_curve X25519:prime256v1;\n"
            "    root %s;\n"
            "    location = /upload { return 204; }\n"
            "  }\n"
            "}\n",
            dir, errlog, dir, dir, dir, dir, dir, W.nginx_port, crt, key, ca, W.www);
    if (fclose(f) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/", dir);
    char *argv[] = {(char *)(uintptr_t)opt.nginx,
                    (char *)(uintptr_t) "-p",
                    p,
                    (char *)(uintptr_t) "-c",
                    conf,
                    (char *)(uintptr_t) "-e",
                    errlog,
                    NULL};
    W.nginx_pid = fork();
    if (W.nginx_pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    if (W.nginx_pid > 0 && wait_port(W.nginx_port, W.nginx_pid) == 0)
        return 0;
    if (W.nginx_pid > 0 && kill(W.nginx_pid, 0) != 0)
        W.nginx_pid = 0; /* exited, reaped by wait_port */
    stop_pid(&W.nginx_pid);
    say("nginx did not start: see %s", errlog);
    return -1;
}

/* Puts bytes where nginx serves them as /NAME. */
static int www_put(const char *name, const void *p, size_t n) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s", W.www, name);
    return write_file(path, p, n);
}

/* ---- profiles of the servers (--perf DIR) ---- */

typedef struct {
    char name[64];
    pid_t perf;
    int ctl, ack; /* perf's --control fifos, both opened read-write here */
} prof_t;

static prof_t profs[32];
static size_t n_profs;
static prof_t *prof_active;

static int prof_cmd(prof_t *p, const char *cmd) {
    if (write(p->ctl, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        return -1;
    char ack[16];
    struct pollfd pf = {p->ack, POLLIN, 0};
    if (poll(&pf, 1, 10000) <= 0 || read(p->ack, ack, sizeof ack) <= 0)
        return -1;
    return 0;
}

/* From here to prof_off(), samples pid's threads into DIR/PHASE-WHO.data (one perf record per
 * phase and server, started the first time, attached with its events disabled). */
static void prof_on(const char *phase, const char *who, pid_t pid) {
    if (opt.perf_dir == NULL || pid <= 0)
        return;
    char name[64];
    snprintf(name, sizeof name, "%s-%s", phase, who);
    prof_t *p = NULL;
    for (size_t i = 0; i < n_profs && p == NULL; i++)
        if (strcmp(profs[i].name, name) == 0)
            p = &profs[i];
    if (p == NULL) {
        if (n_profs == sizeof profs / sizeof *profs)
            return;
        char ctl[400], ack[400], data[400], control[900], pidarg[16];
        snprintf(ctl, sizeof ctl, "%.300s/%.63s.ctl", opt.perf_dir, name);
        snprintf(ack, sizeof ack, "%.300s/%.63s.ack", opt.perf_dir, name);
        snprintf(data, sizeof data, "%.300s/%.63s.data", opt.perf_dir, name);
        snprintf(control, sizeof control, "--control=fifo:%s,%s", ctl, ack);
        snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
        unlink(ctl);
        unlink(ack);
        if (mkfifo(ctl, 0600) != 0 || mkfifo(ack, 0600) != 0) {
            fail_msg("perf: cannot make the control fifos in %s", opt.perf_dir);
            return;
        }
        p = &profs[n_profs];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        p->ctl = open(ctl, O_RDWR | O_CLOEXEC);
        p->ack = open(ack, O_RDWR | O_CLOEXEC);
        char *argv[] = {(char *)(uintptr_t) "perf",
                        (char *)(uintptr_t) "record",
                        (char *)(uintptr_t) "-q",
                        (char *)(uintptr_t) "-e",
                        (char *)(uintptr_t) "cpu-clock",
                        (char *)(uintptr_t) "-F",
                        (char *)(uintptr_t) "1999",
                        (char *)(uintptr_t) "--call-graph=dwarf,16384",
                        (char *)(uintptr_t) "-D",
                        (char *)(uintptr_t) "-1",
                        control,
                        (char *)(uintptr_t) "-p",
                        pidarg,
                        (char *)(uintptr_t) "-o",
                        data,
                        NULL};
        p->perf = fork();
        if (p->perf == 0) {
            execvp("perf", argv);
            _exit(127);
        }
        if (p->ctl < 0 || p->ack < 0 || p->perf < 0) {
            fail_msg("perf: cannot start for %s", name);
            return;
        }
        n_profs++;
    }
    if (prof_cmd(p, "enable\n") != 0) {
        fail_msg("perf: no answer for %s", name);
        return;
    }
    prof_active = p;
}

static void prof_off(void) {
    if (prof_active != NULL)
        prof_cmd(prof_active, "disable\n");
    prof_active = NULL;
}

/* Ends every perf record (they write their files on SIGINT). */
static void prof_stop_all(void) {
    prof_off();
    for (size_t i = 0; i < n_profs; i++) {
        prof_t *p = &profs[i];
        if (p->perf > 0) {
            kill(p->perf, SIGINT);
            waitpid(p->perf, NULL, 0);
        }
        close(p->ctl);
        close(p->ack);
        char path[400];
        snprintf(path, sizeof path, "%.300s/%.63s.ctl", opt.perf_dir, p->name);
        unlink(path);
        snprintf(path, sizeof path, "%.300s/%.63s.ack", opt.perf_dir, p->name);
        unlink(path);
    }
    n_profs = 0;
}

enum { WANT_MQ = 1, WANT_NGINX = 2 };

/* Fresh sispd and echo server (and mosquitto, nginx: `want`, if their paths were given),
 * n_users users in group `all`. */
static int world_up(unsigned n_users, int want) {
    static const char *const extra[] = {
        "--register-rate", "100000",  "--max-conns",         "20000",       "--max-per-addr",
        "20000",           "--quota", "1099511627776",       "--max-image", "1073741824",
        "--idle-timeout",  "3600",    "--handshake-timeout", "120",         NULL};
    memset(&W, 0, sizeof W);
    uv_loop_init(&W.loop);
    if (ts_start(&W.srv, opt.sispd, extra) != 0) {
        fail_msg("sispd did not start");
        return -1;
    }
    pin_tasks(W.srv.pid, 0);
    char line[256];
    char *argv[] = {(char *)(uintptr_t)opt.echo, (char *)(uintptr_t) "--data", W.srv.dir, NULL};
    W.echo_pid = spawn_ready(argv, line, sizeof line);
    if (W.echo_pid <= 0 ||
        sscanf(line, "sisp-bench-echo listening on 127.0.0.1:%d", &W.echo_port) != 1) {
        fail_msg("sisp-bench-echo did not start (\"%s\")", line);
        return -1;
    }
    pin_tasks(W.echo_pid, 0);
    if ((want & WANT_MQ) && opt.mosquitto && start_mosquitto() != 0) {
        fail_msg("mosquitto did not start");
        return -1;
    }
    if ((want & WANT_NGINX) && opt.nginx && start_nginx() != 0) {
        fail_msg("nginx did not start");
        return -1;
    }
    pin_tasks(W.mq_pid, 0);
    pin_tasks(W.nginx_pid, 0);
    W.n_users = n_users;
    sisp_rng_t rng;
    if (sisp_rng_init(&rng) != 0 || sisp_rng_bytes(&rng, W.epoch_key, 32) != 0)
        return -1;
    sisp_rng_free(&rng);
    for (unsigned i = 0; i < n_users; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench%02u", i);
        int rc = tc_register(W.srv.port, W.srv.ca, W.srv.ca_len, name, NULL, &W.users[i]);
        if (rc != 0) {
            fail_msg("register %s: %s", name, sisp_err_name(rc));
            return -1;
        }
    }
    /* u0 creates `all` and grants its key to everyone (itself first). */
    int err = 0;
    tclient_t *c = tc_connect(W.srv.port, W.srv.ca, W.srv.ca_len, &W.users[0], &err);
    if (c == NULL) {
        fail_msg("u0 cannot log in");
        return -1;
    }
    for (unsigned i = 0; i < n_users; i++) {
        int rc = tc_grant(c, &W.users[0], W.users[i].name, GROUP, 1, W.epoch_key);
        if (rc != 0) {
            fail_msg("grant to %s: %s", W.users[i].name, sisp_err_name(rc));
            tc_close(c);
            return -1;
        }
    }
    tc_close(c);
    for (unsigned i = 0; i < n_users; i++)
        if ((W.ctx[i] = client_ctx(&W.users[i])) == NULL) {
            fail_msg("client TLS context");
            return -1;
        }
    return 0;
}

static void walk_close(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void world_down(void) {
    prof_stop_all();
    uv_walk(&W.loop, walk_close, NULL);
    uv_run(&W.loop, UV_RUN_DEFAULT);
    uv_loop_close(&W.loop);
    for (unsigned i = 0; i < W.n_users; i++)
        if (W.ctx[i])
            wolfSSL_CTX_free(W.ctx[i]);
    stop_pid(&W.echo_pid);
    stop_pid(&W.mq_pid);
    stop_pid(&W.nginx_pid);
    if (W.srv.pid > 0 && ts_stop(&W.srv) != 0)
        fail_msg("sispd did not stop cleanly on SIGTERM");
    ts_cleanup(&W.srv);
}

/* ---- a sealed image ---- */

typedef struct {
    sisp_buf_t cipher, manifest;
    uint8_t sig[SISP_SIG_SIZE];
    char name[64];
} sealed_t;

static uint8_t *make_plain(size_t len) {
    uint8_t *p = malloc(len < sizeof t_png_1x1 ? sizeof t_png_1x1 : len);
    if (p == NULL)
        return NULL;
    memcpy(p, t_png_1x1, sizeof t_png_1x1); /* sealing sniffs the type: a real PNG's bytes */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = sizeof t_png_1x1; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

static int seal(const tc_user_t *u, const char *name, const uint8_t *plain, size_t len,
                sealed_t *out) {
    sisp_seal_params_t p = {
        sisp_slice_str(u->name), sisp_slice_str(name), sisp_slice_str(GROUP), 1, T_CREATED, 0};
    sisp_seal_t s;
    sisp_rng_t rng;
    snprintf(out->name, sizeof out->name, "%s", name);
    sisp_buf_init(&out->cipher, 0);
    sisp_buf_init(&out->manifest, 0);
    int rc = sisp_rng_init(&rng);
    if (rc != 0)
        return rc;
    rc = sisp_seal_init(&s, &p, W.epoch_key, &rng);
    if (rc == 0) {
        rc = sisp_seal_update(&s, plain, len, &out->cipher);
        if (rc == 0)
            rc = sisp_seal_final(&s, &out->cipher, &out->manifest);
        sisp_seal_free(&s);
    }
    sisp_rng_free(&rng);
    if (rc == 0)
        rc = sisp_manifest_sign(&u->id, out->manifest.data, out->manifest.len, out->sig);
    return rc;
}

static void sealed_free(sealed_t *s) {
    sisp_buf_free(&s->cipher);
    sisp_buf_free(&s->manifest);
}

/* ---- a client connection: TCP (libuv) + wolfSSL over memory buffers ---- */

enum { K_SISP, K_ECHO, K_NGINX, K_N };
static const char *const kind_name[K_N] = {"sispd", "echo", "nginx"};
enum { S_CONNECTING, S_TLS, S_HELLO, S_READY, S_CLOSED };

typedef struct bconn bconn_t;
struct bconn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    WOLFSSL *ssl;
    int kind, state, writing, failed;
    sisp_buf_t in; /* ciphertext from the socket, from in_pos on */
    size_t in_pos;
    sisp_buf_t out, inflight; /* ciphertext to send / being sent */
    sisp_buf_t plain;         /* SISP: plaintext not yet a whole frame; HTTP: a header */
    uint32_t next_stream;
    void (*on_ready)(bconn_t *c);
    void (*on_frame)(bconn_t *c, uint8_t type, uint32_t stream, const uint8_t *frame, size_t n);
    void (*on_bytes)(bconn_t *c, const uint8_t *p, size_t n);
    void (*on_sent)(bconn_t *c);     /* a write completed */
    void (*on_response)(bconn_t *c); /* HTTP: a whole response came */
    void *arg;
    size_t idx;
    /* scenario state */
    double t0, t1;
    uint64_t bytes, want;
    unsigned count;
    int flag;
    size_t pos;
    /* HTTP responses (nginx) */
    int in_body, status, trailer;
    uint64_t body_left;
    const uint8_t *expect; /* the body must be these bytes (or NULL) */
};

static uint8_t readbuf[65536];
static unsigned n_ready, n_failed, n_closed_live;

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    bconn_t *c = arg;
    (void)ssl;
    size_t avail = c->in.len - c->in_pos;
    if (avail == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = sz > 0 ? (size_t)sz : 0;
    if (n > avail)
        n = avail;
    memcpy(buf, c->in.data + c->in_pos, n);
    c->in_pos += n;
    if (c->in_pos == c->in.len) {
        c->in.len = 0;
        c->in_pos = 0;
    }
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    bconn_t *c = arg;
    (void)ssl;
    if (sz <= 0)
        return 0;
    if (sisp_buf_append(&c->out, buf, (size_t)sz) != 0)
        return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

static void bc_flush(bconn_t *c);

static void on_bc_closed(uv_handle_t *h) {
    bconn_t *c = (bconn_t *)h;
    if (c->ssl)
        wolfSSL_free(c->ssl);
    sisp_buf_free(&c->in);
    sisp_buf_free(&c->out);
    sisp_buf_free(&c->inflight);
    sisp_buf_free(&c->plain);
    free(c);
}

static void bc_close(bconn_t *c) {
    if (c == NULL || c->state == S_CLOSED)
        return;
    c->state = S_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_bc_closed);
}

static void bc_fail(bconn_t *c, const char *why) {
    if (c->state == S_CLOSED)
        return;
    if (!c->failed) {
        c->failed = 1;
        n_failed++;
        if (n_failed <= 5)
            say("connection %zu failed: %s", c->idx, why);
    }
    if (c->state == S_READY)
        n_closed_live++;
    bc_close(c);
}

static void on_bc_written(uv_write_t *req, int status) {
    bconn_t *c = (bconn_t *)((char *)req - offsetof(bconn_t, wreq));
    c->writing = 0;
    sisp_buf_reset(&c->inflight);
    if (c->state == S_CLOSED)
        return;
    if (status < 0) {
        bc_fail(c, uv_strerror(status));
        return;
    }
    bc_flush(c);
    if (c->on_sent && c->state != S_CLOSED)
        c->on_sent(c);
}

static void bc_flush(bconn_t *c) {
    if (c->writing || c->out.len == 0 || c->state == S_CLOSED)
        return;
    sisp_buf_t t = c->inflight;
    c->inflight = c->out;
    c->out = t;
    sisp_buf_reset(&c->out);
    uv_buf_t b = uv_buf_init((char *)c->inflight.data, (unsigned)c->inflight.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_bc_written) != 0) {
        bc_fail(c, "uv_write");
        return;
    }
    c->writing = 1;
}

static size_t bc_queued(const bconn_t *c) {
    return c->out.len + c->inflight.len;
}

static int bc_write(bconn_t *c, const void *p, size_t n) {
    const uint8_t *q = p;
    while (n > 0) {
        int k = n > PLAIN_IO ? PLAIN_IO : (int)n;
        int w = wolfSSL_write(c->ssl, q, k);
        if (w <= 0) {
            bc_fail(c, "wolfSSL_write");
            return -1;
        }
        q += w;
        n -= (size_t)w;
    }
    bc_flush(c);
    return 0;
}

static sisp_buf_t scratch;

static uint32_t bc_send(bconn_t *c, uint8_t type, uint32_t stream, const void *pkt) {
    sisp_buf_reset(&scratch);
    if (stream == 0 && sisp_type_stream_rule(type) != SISP_STREAM_ZERO)
        stream = c->next_stream += 2;
    if (sisp_payload_encode(&scratch, type, stream, pkt) != 0) {
        bc_fail(c, "encode");
        return 0;
    }
    return bc_write(c, scratch.data, scratch.len) == 0 ? stream : 0;
}

static void send_hello(bconn_t *c) {
    sisp_hello_t h = {0};
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = SISP_LIMIT_CONTROL;
    h.max_data = SISP_LIMIT_DATA;
    h.software = sisp_slice_str("sisp-bench");
    bc_send(c, SISP_T_HELLO, 0, &h);
}

static void become_ready(bconn_t *c) {
    c->state = S_READY;
    n_ready++;
    if (c->on_ready)
        c->on_ready(c);
}

/* SISP frames out of the plaintext. */
static void parse_frames(bconn_t *c) {
    size_t pos = 0;
    while (c->state != S_CLOSED && c->plain.len - pos >= SISP_HEADER_SIZE) {
        const uint8_t *h = c->plain.data + pos;
        uint32_t len = sisp_load32(h);
        if (len > SISP_LIMIT_ABSOLUTE) {
            bc_fail(c, "oversized frame");
            return;
        }
        size_t whole = SISP_HEADER_SIZE + (size_t)len;
        if (c->plain.len - pos < whole)
            break;
        uint8_t type = h[5];
        uint32_t stream = sisp_load32(h + 8);
        if (c->state == S_HELLO) {
            if (type != SISP_T_HELLO) {
                bc_fail(c, type == SISP_T_ERROR ? "ERROR instead of HELLO" : "no HELLO");
                return;
            }
            become_ready(c);
        } else if (type == SISP_T_ERROR && stream == 0) {
            bc_fail(c, "connection ERROR from the server");
            return;
        } else if (c->on_frame) {
            c->on_frame(c, type, stream, h, whole);
        }
        pos += whole;
    }
    if (c->state != S_CLOSED && pos > 0)
        sisp_buf_consume(&c->plain, pos);
}

static void bc_drive(bconn_t *c) {
    if (c->state == S_TLS) {
        int r = wolfSSL_connect(c->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(c->ssl, r);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) {
                char why[80];
                wolfSSL_ERR_error_string_n((unsigned long)e, why, sizeof why);
                bc_fail(c, why);
                return;
            }
            bc_flush(c);
            return;
        }
        static int told[K_N];
        if (!told[c->kind]) { /* once per server kind and process */
            told[c->kind] = 1;
            printf("# tls %s: %s %s\n", kind_name[c->kind], wolfSSL_get_version(c->ssl),
                   wolfSSL_get_cipher_name(c->ssl));
            fflush(stdout);
        }
        if (c->kind == K_SISP) {
            c->state = S_HELLO;
            send_hello(c);
        } else {
            become_ready(c);
        }
    }
    static uint8_t plain[PLAIN_IO];
    while (c->state == S_HELLO || c->state == S_READY) {
        int r = wolfSSL_read(c->ssl, plain, sizeof plain);
        if (r <= 0) {
            int e = wolfSSL_get_error(c->ssl, r);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
                bc_fail(c, e == WOLFSSL_ERROR_ZERO_RETURN ? "closed by the server" : "TLS read");
            break;
        }
        if (c->kind != K_SISP) {
            if (c->on_bytes)
                c->on_bytes(c, plain, (size_t)r);
        } else {
            if (sisp_buf_append(&c->plain, plain, (size_t)r) != 0) {
                bc_fail(c, "out of memory");
                return;
            }
            parse_frames(c);
        }
    }
    bc_flush(c);
}

static void on_bc_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
    (void)h;
    (void)size;
    buf->base = (char *)readbuf;
    buf->len = sizeof readbuf;
}

static void on_bc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    bconn_t *c = (bconn_t *)s;
    if (nread == 0 || c->state == S_CLOSED)
        return;
    if (nread < 0) {
        bc_fail(c, nread == UV_EOF ? "EOF from the server" : uv_strerror((int)nread));
        return;
    }
    if (c->in_pos > 0) {
        sisp_buf_consume(&c->in, c->in_pos);
        c->in_pos = 0;
    }
    if (sisp_buf_append(&c->in, buf->base, (size_t)nread) != 0) {
        bc_fail(c, "out of memory");
        return;
    }
    bc_drive(c);
}

static void on_bc_connect(uv_connect_t *req, int status) {
    bconn_t *c = (bconn_t *)((char *)req - offsetof(bconn_t, creq));
    if (c->state == S_CLOSED)
        return;
    if (status < 0) {
        bc_fail(c, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = S_TLS;
    uv_read_start((uv_stream_t *)&c->tcp, on_bc_alloc, on_bc_read);
    bc_drive(c);
}

/* Starts a connection as user u (kind: which server). */
static bconn_t *bc_open(int kind, unsigned u, size_t idx) {
    bconn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->kind = kind;
    c->idx = idx;
    c->next_stream = 1;
    sisp_buf_init(&c->in, 0);
    sisp_buf_init(&c->out, 0);
    sisp_buf_init(&c->inflight, 0);
    sisp_buf_init(&c->plain, 0);
    c->ssl = wolfSSL_new(W.ctx[u % W.n_users]);
    if (c->ssl == NULL) {
        free(c);
        return NULL;
    }
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    uv_tcp_init(&W.loop, &c->tcp);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1",
                kind == K_SISP   ? W.srv.port
                : kind == K_ECHO ? W.echo_port
                                 : W.nginx_port,
                &sa);
    c->state = S_CONNECTING;
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa, on_bc_connect) != 0) {
        bc_fail(c, "uv_tcp_connect");
        return NULL;
    }
    return c;
}

/* Runs the loop until *flag or the deadline. 0, or -1 on timeout. */
static int run_until(const int *flag, double timeout) {
    double end = now() + timeout;
    while (!*flag) {
        if (now() > end)
            return -1;
        uv_run(&W.loop, UV_RUN_ONCE);
    }
    return 0;
}

static void on_ready_flag(bconn_t *c) {
    c->flag = 1;
}

/* One connection, ready (TLS, and HELLO for sispd). */
static bconn_t *bc_connect_wait(int kind, unsigned u) {
    bconn_t *c = bc_open(kind, u, 0);
    if (c == NULL)
        return NULL;
    c->on_ready = on_ready_flag;
    unsigned failed0 = n_failed;
    while (!c->flag && n_failed == failed0)
        uv_run(&W.loop, UV_RUN_ONCE);
    if (!c->flag)
        return NULL; /* closed and freed by the loop */
    c->flag = 0;
    c->on_ready = NULL;
    return c;
}

/* Many connections, at most `parallel` in the handshake at once. */
typedef struct {
    bconn_t **v;
    size_t n, started, done;
    unsigned parallel;
    int kind;
    int all_done;
    void (*on_each)(bconn_t *c); /* called when c is ready */
} opener_t;

static opener_t *cur_opener;

static void opener_next(opener_t *o);

static void opener_ready(bconn_t *c) {
    opener_t *o = cur_opener;
    o->done++;
    if (o->on_each)
        o->on_each(c);
    opener_next(o);
}

static void opener_next(opener_t *o) {
    while (o->started < o->n && o->started - (o->done + n_failed) < o->parallel) {
        size_t i = o->started++;
        o->v[i] = bc_open(o->kind, (unsigned)i, i);
        if (o->v[i])
            o->v[i]->on_ready = opener_ready;
    }
    if (o->done + n_failed >= o->n)
        o->all_done = 1;
}

/* Opens n connections; returns how many are ready. v[i] may be closed (failed) ones: check
 * state. */
static size_t open_many(int kind, bconn_t **v, size_t n, unsigned parallel, double timeout) {
    opener_t o = {v, n, 0, 0, parallel, kind, 0, NULL};
    n_failed = 0;
    cur_opener = &o;
    opener_next(&o);
    double end = now() + timeout;
    while (!o.all_done && now() < end) {
        uv_run(&W.loop, UV_RUN_ONCE);
        opener_next(&o);
    }
    cur_opener = NULL;
    for (size_t i = 0; i < n; i++)
        if (v[i] && v[i]->state == S_READY)
            v[i]->on_ready = NULL;
    return o.done;
}

static void close_all(bconn_t **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i] && v[i]->state != S_CLOSED)
            bc_close(v[i]);
    /* Let the closes (and the servers' reading of them) happen. */
    for (int i = 0; i < 20; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    usleep(200000);
}

static pid_t server_pid(int kind) {
    return kind == K_SISP ? W.srv.pid : kind == K_ECHO ? W.echo_pid : W.nginx_pid;
}

/* ---- HTTP/1.1 over a connection to nginx: requests out, responses counted ---- */

static void http_request(bconn_t *c, const char *method, const char *path, const size_t *length) {
    char req[256];
    int n;
    if (length != NULL)
        n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", method,
                     path, *length);
    else
        n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    bc_write(c, req, (size_t)n);
}

/* A whole response: counted; c->flag is 1 when c->want have come (-1 on a bad status). */
static void http_response_done(bconn_t *c) {
    c->count++;
    if (c->status != 200 && c->status != 204) {
        say("nginx answered %d", c->status);
        c->flag = -1;
        return;
    }
    if (c->on_response) {
        c->on_response(c);
        return;
    }
    if (c->count >= c->want) {
        c->t1 = now();
        c->flag = 1;
    }
}

/* Plaintext from nginx: a header up to the empty line (Content-Length, no chunked encoding:
 * nginx sends files and `return 204` that way), then that many body bytes. */
static void http_bytes(bconn_t *c, const uint8_t *p, size_t n) {
    while (n > 0 && c->state != S_CLOSED && c->flag == 0) {
        if (c->in_body) {
            size_t k = n < c->body_left ? n : (size_t)c->body_left;
            if (c->expect != NULL && memcmp(c->expect + c->bytes, p, k) != 0) {
                c->flag = -1;
                return;
            }
            c->bytes += k;
            c->body_left -= k;
            p += k;
            n -= k;
            if (c->body_left == 0) {
                c->in_body = 0;
                http_response_done(c);
            }
            continue;
        }
        size_t old = c->plain.len;
        if (sisp_buf_append(&c->plain, p, n) != 0) {
            bc_fail(c, "out of memory");
            return;
        }
        const char *h = (const char *)c->plain.data, *end = NULL;
        for (size_t i = old > 3 ? old - 3 : 0; i + 4 <= c->plain.len && end == NULL; i++)
            if (memcmp(h + i, "\r\n\r\n", 4) == 0)
                end = h + i + 4;
        if (end == NULL) {
            if (c->plain.len > 16384)
                bc_fail(c, "HTTP header too long");
            return;
        }
        size_t head = (size_t)(end - h), rest = c->plain.len - head;
        c->status = 0;
        c->body_left = 0;
        /* "HTTP/1.1 NNN ": the header is not NUL-terminated, so no sscanf */
        if (head < 13 || memcmp(h, "HTTP/1.1 ", 9) != 0 || h[9] < '0' || h[9] > '9' ||
            h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9') {
            bc_fail(c, "not an HTTP/1.1 response");
            return;
        }
        c->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        for (const char *q = h; q < end; q++) {
            if (*q == '\n' && end - q > 16 && strncasecmp(q + 1, "content-length:", 15) == 0) {
                unsigned long long len = strtoull(q + 16, NULL, 10);
                c->body_left = len;
            }
        }
        /* The bytes after the header are the body's: take them from the caller's buffer. */
        p += n - rest;
        n = rest;
        sisp_buf_reset(&c->plain);
        if (c->body_left > 0)
            c->in_body = 1;
        else
            http_response_done(c);
    }
}

static int process_counter; /* scenarios' shared completion flag */

/* ---- handshakes ---- */

typedef struct {
    size_t n, started, done;
    unsigned parallel;
    int kind, all_done;
} hs_t;

static hs_t hs;

static void hs_start_more(void);

static void hs_finish(bconn_t *c) {
    hs.done++;
    bc_close(c);
    hs_start_more();
}

static void hs_echo_bytes(bconn_t *c, const uint8_t *p, size_t n) {
    (void)p;
    if (n > 0)
        hs_finish(c);
}

static void hs_ready(bconn_t *c) {
    if (c->kind == K_SISP) {
        hs_finish(c); /* the server's HELLO came: TLS and the certificate check are done */
        return;
    }
    if (c->kind == K_NGINX) {
        c->on_bytes = http_bytes;
        c->on_response = hs_finish; /* GET /one: 200 and its 1-byte body */
        http_request(c, "GET", "/one", NULL);
        return;
    }
    static const uint8_t cmd[10] = {'E', 0, 0, 0, 0, 0, 0, 0, 1, 'x'};
    c->on_bytes = hs_echo_bytes;
    bc_write(c, cmd, sizeof cmd);
}

static void hs_start_more(void) {
    while (hs.started < hs.n && hs.started - (hs.done + n_failed) < hs.parallel) {
        bconn_t *c = bc_open(hs.kind, 0, hs.started++);
        if (c)
            c->on_ready = hs_ready;
    }
    if (hs.done + n_failed >= hs.n)
        hs.all_done = 1;
}

/* Returns handshakes per server CPU-second; *wall_rate gets handshakes per wall second. */
static double hs_round(int kind, size_t n, double *wall_rate, double *cpu_s) {
    pid_t pid = server_pid(kind);
    memset(&hs, 0, sizeof hs);
    hs.n = n;
    hs.parallel = opt.hs_parallel;
    hs.kind = kind;
    n_failed = 0;
    usleep(100000); /* let the previous round's closes settle */
    double cpu0 = proc_cpu(pid), t0 = now();
    hs_start_more();
    if (run_until(&hs.all_done, 300) != 0 || n_failed > 0)
        fail_msg("handshakes to %s: %zu done, %u failed", kind_name[kind], hs.done, n_failed);
    double t1 = now();
    /* The server may still be reading the last closes: give it a moment, it is not counted
     * as handshake work by either side in a way that differs between them. */
    double cpu1 = proc_cpu(pid);
    *cpu_s = cpu1 - cpu0;
    *wall_rate = (double)hs.done / (t1 - t0);
    return *cpu_s > 0 ? (double)hs.done / *cpu_s : 0;
}

static void scenario_handshakes(void) {
    int ng = opt.nginx != NULL;
    if (world_up(1, WANT_NGINX) != 0) {
        world_down();
        return;
    }
    double sisp[MAX_REPS], echo[MAX_REPS], ratio[MAX_REPS], sw[MAX_REPS], ew[MAX_REPS];
    double ngx[MAX_REPS], nw[MAX_REPS], rn[MAX_REPS], ren[MAX_REPS];
    unsigned reps = opt.reps;
    say("handshakes: %u rounds of %u connections each to echo, sispd%s, %u in flight", reps,
        opt.hs_count, ng ? " and nginx" : "", opt.hs_parallel);
    double w, cpu;
    hs_round(K_ECHO, opt.hs_count / 4 + 1, &w, &cpu); /* warm-up, not counted */
    hs_round(K_SISP, opt.hs_count / 4 + 1, &w, &cpu);
    if (ng)
        hs_round(K_NGINX, opt.hs_count / 4 + 1, &w, &cpu);
    for (unsigned r = 0; r < reps; r++) {
        echo[r] = hs_round(K_ECHO, opt.hs_count, &ew[r], &cpu);
        say("  echo  %u: %.0f/cpu-s (%.2f cpu-s), %.0f/s wall", r, echo[r], cpu, ew[r]);
        prof_on("hs", "sispd", W.srv.pid);
        sisp[r] = hs_round(K_SISP, opt.hs_count, &sw[r], &cpu);
        prof_off();
        say("  sispd %u: %.0f/cpu-s (%.2f cpu-s), %.0f/s wall", r, sisp[r], cpu, sw[r]);
        ratio[r] = echo[r] > 0 ? sisp[r] / echo[r] : 0;
        if (ng) {
            prof_on("hs", "nginx", W.nginx_pid);
            ngx[r] = hs_round(K_NGINX, opt.hs_count, &nw[r], &cpu);
            prof_off();
            say("  nginx %u: %.0f/cpu-s (%.2f cpu-s), %.0f/s wall", r, ngx[r], cpu, nw[r]);
            rn[r] = ngx[r] > 0 ? sisp[r] / ngx[r] : 0;
            ren[r] = ngx[r] > 0 ? echo[r] / ngx[r] : 0;
        }
    }
    char work[64];
    snprintf(work, sizeof work, "%u", opt.hs_count);
    row("hs_echo_per_server_cpu_s", "hs/cpu-s", echo, reps, work);
    row("hs_sispd_per_server_cpu_s", "hs/cpu-s", sisp, reps, work);
    if (ng)
        row("hs_nginx_per_server_cpu_s", "hs/cpu-s", ngx, reps, work);
    row("hs_echo_wall", "hs/s", ew, reps, work);
    row("hs_sispd_wall", "hs/s", sw, reps, work);
    if (ng)
        row("hs_nginx_wall", "hs/s", nw, reps, work);
    row("hs_sispd/echo", "ratio", ratio, reps, "-");
    if (ng) {
        row("hs_sispd/nginx", "ratio", rn, reps, "-");
        row("hs_echo/nginx", "ratio", ren, reps, "-");
    }
    world_down();
}

/* ---- bulk ---- */

static sealed_t *up_img;

/* The client stops reading for --stall-ms, as a slow reader would, and then reads on. */
static uv_timer_t stall_timer;
static bconn_t *stalled;

static void on_stall_end(uv_timer_t *t) {
    (void)t;
    if (stalled && stalled->state != S_CLOSED)
        uv_read_start((uv_stream_t *)&stalled->tcp, on_bc_alloc, on_bc_read);
    stalled = NULL;
    uv_close((uv_handle_t *)&stall_timer, NULL);
}

static void stall(bconn_t *c) {
    stalled = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_init(&W.loop, &stall_timer);
    uv_timer_start(&stall_timer, on_stall_end, opt.stall_ms, 0);
}

static void bulk_sisp_frame(bconn_t *c, uint8_t type, uint32_t stream, const uint8_t *f, size_t n) {
    (void)stream;
    if (type == SISP_T_POSTED || (type == SISP_T_ERROR && c->count == 0)) {
        c->t1 = now();
        c->flag = type == SISP_T_POSTED ? 1 : -1;
    } else if (type == SISP_T_DATA) {
        sisp_frame_t fr = {(uint32_t)(n - SISP_HEADER_SIZE),
                           f[4],
                           type,
                           0,
                           stream,
                           sisp_slice(f + SISP_HEADER_SIZE, n - SISP_HEADER_SIZE)};
        sisp_data_t d;
        if (sisp_data_decode(&fr, &d) != 0 || d.offset != c->bytes ||
            d.offset + d.data.len > up_img->cipher.len ||
            memcmp(up_img->cipher.data + d.offset, d.data.ptr, d.data.len) != 0) {
            c->flag = -1;
            return;
        }
        c->bytes += d.data.len;
    } else if (type == SISP_T_IMAGE_BEGIN && opt.stall_ms > 0) {
        stall(c); /* a slow reader: see --stall-ms */
    } else if (type == SISP_T_IMAGE_END) {
        c->t1 = now();
        c->flag = c->bytes == up_img->cipher.len ? 1 : -1;
    } else if (type == SISP_T_ERROR) {
        c->flag = -1;
    }
}

/* Upload producer: DATA frames while less than WINDOW is queued, then POST_END. */
static void bulk_sisp_sent(bconn_t *c) {
    while (c->pos < up_img->cipher.len && bc_queued(c) < WINDOW && c->state == S_READY) {
        size_t n = up_img->cipher.len - c->pos;
        if (n > SISP_CHUNK_DEFAULT)
            n = SISP_CHUNK_DEFAULT;
        sisp_data_t d = {c->pos, sisp_slice(up_img->cipher.data + c->pos, n)};
        if (bc_send(c, SISP_T_DATA, (uint32_t)c->want, &d) == 0)
            return;
        c->pos += n;
        if (c->pos == up_img->cipher.len) {
            sisp_post_end_t pe = {up_img->cipher.len};
            bc_send(c, SISP_T_POST_END, (uint32_t)c->want, &pe);
        }
    }
}

static void echo_bytes(bconn_t *c, const uint8_t *p, size_t n) {
    (void)p;
    c->bytes += n;
    if (c->bytes >= c->want) {
        c->t1 = now();
        c->flag = 1;
    }
}

/* Upload producer for the echo server and nginx: the bytes while less than WINDOW is queued;
 * to nginx then a GET /one, whose answer comes only once nginx has read the whole body. */
static void raw_up_sent(bconn_t *c) {
    while (c->pos < up_img->cipher.len && bc_queued(c) < WINDOW && c->state == S_READY) {
        size_t n = up_img->cipher.len - c->pos;
        if (n > SISP_CHUNK_DEFAULT)
            n = SISP_CHUNK_DEFAULT;
        if (bc_write(c, up_img->cipher.data + c->pos, n) != 0)
            return;
        c->pos += n;
    }
    if (c->kind == K_NGINX && c->pos == up_img->cipher.len && !c->trailer && c->state == S_READY) {
        c->trailer = 1;
        http_request(c, "GET", "/one", NULL);
    }
}

static void put_cmd(uint8_t cmd[9], char op, uint64_t n) {
    cmd[0] = (uint8_t)op;
    sisp_store64(cmd + 1, n);
}

/* Waits for the transfer on c; MB/s of img's ciphertext, or 0 on failure. */
static double xfer_wait(bconn_t *c, const char *what) {
    if (run_until(&c->flag, 60) != 0 || c->flag != 1) {
        fail_msg("%s %s failed (not complete within 60 s)", kind_name[c->kind], what);
        return 0;
    }
    c->on_sent = NULL;
    return (double)up_img->cipher.len / 1e6 / (c->t1 - c->t0);
}

/* Starts an upload of img's ciphertext on c: sispd a POST (timed to POSTED, so the commit
 * counts); echo `U` (timed to its ack byte); nginx POST /upload with Content-Length, then
 * GET /one (timed to GET's answer: nginx answers the POST with 204 at once and discards the
 * body after it). */
static int echo_hash; /* echo uploads with 'H': hashed as sispd hashes them */

static void up_start(bconn_t *c, sealed_t *img) {
    up_img = img;
    c->flag = 0;
    c->bytes = 0;
    c->pos = 0;
    c->count = 0;
    c->trailer = 0;
    c->t0 = now();
    if (c->kind == K_SISP) {
        c->on_frame = bulk_sisp_frame;
        c->on_sent = bulk_sisp_sent;
        sisp_post_begin_t pb = {sisp_slice_str(img->name), sisp_slice_str(GROUP), img->cipher.len,
                                sisp_slice(img->manifest.data, img->manifest.len),
                                sisp_slice(img->sig, sizeof img->sig)};
        c->want = bc_send(c, SISP_T_POST_BEGIN, 0, &pb);
        bulk_sisp_sent(c);
        return;
    }
    if (c->kind == K_ECHO) {
        uint8_t cmd[9];
        c->on_bytes = echo_bytes;
        c->want = 1;
        put_cmd(cmd, echo_hash ? 'H' : 'U', img->cipher.len);
        bc_write(c, cmd, sizeof cmd);
    } else {
        c->on_bytes = http_bytes;
        c->on_response = NULL;
        c->expect = NULL;
        c->want = 2; /* the POST's 204, then GET /one's 200 */
        http_request(c, "POST", "/upload", &img->cipher.len);
    }
    c->on_sent = raw_up_sent;
    raw_up_sent(c);
}

/* Starts a download of img's ciphertext on c: sispd DOWNLOAD (timed to IMAGE_END, every byte
 * compared); echo `D` (the server's pattern, counted); nginx GET /img.bin, a file holding the
 * same ciphertext (timed to the body's last byte, every byte compared). */
static void down_start(bconn_t *c, sealed_t *img) {
    up_img = img;
    c->flag = 0;
    c->bytes = 0;
    c->t0 = now();
    if (c->kind == K_SISP) {
        c->on_frame = bulk_sisp_frame;
        c->count = 1;
        sisp_download_t d = {sisp_slice_str(img->name), 0, sisp_slice_str(GROUP), 0};
        bc_send(c, SISP_T_DOWNLOAD, 0, &d);
    } else if (c->kind == K_ECHO) {
        uint8_t cmd[9];
        c->on_bytes = echo_bytes;
        c->want = img->cipher.len;
        put_cmd(cmd, 'D', img->cipher.len);
        bc_write(c, cmd, sizeof cmd);
    } else {
        c->on_bytes = http_bytes;
        c->on_response = NULL;
        c->expect = img->cipher.data;
        c->count = 0;
        c->want = 1;
        http_request(c, "GET", "/img.bin", NULL);
    }
}

/* Replaces *c by a new ready connection (unless --same-conn and *c is still open). */
static int fresh(bconn_t **c, int kind) {
    if (opt.same_conn && *c && (*c)->state == S_READY)
        return 1;
    if (*c && (*c)->state != S_CLOSED)
        bc_close(*c);
    *c = bc_connect_wait(kind, 0);
    return *c != NULL;
}

/* One transfer on a fresh connection to kind: MB/s, and MB per server CPU-second in *core;
 * sispd's loop-thread and process busy fractions in *loop, *proc. 0 on failure. */
static double bulk_one(bconn_t **c, int kind, sealed_t *img, int up, double *core, double *loop,
                       double *proc) {
    if (!fresh(c, kind))
        return 0;
    pid_t pid = server_pid(kind);
    prof_on(up ? "bulk_up" : "bulk_down", kind_name[kind], kind == K_ECHO ? 0 : pid);
    double l0 = loop_cpu(pid), p0 = proc_cpu(pid), t0 = now();
    if (up)
        up_start(*c, img);
    else
        down_start(*c, img);
    double mbs = xfer_wait(*c, up ? "upload" : "download");
    double l1 = loop_cpu(pid), p1 = proc_cpu(pid), t1 = now();
    prof_off();
    if (mbs > 0 && kind == K_NGINX && !up && (*c)->bytes != img->cipher.len)
        mbs = 0;
    *core = p1 > p0 ? (double)img->cipher.len / 1e6 / (p1 - p0) : 0;
    *loop = (l1 - l0) / (t1 - t0);
    *proc = (p1 - p0) / (t1 - t0);
    return mbs;
}

static void scenario_bulk(void) {
    int ng = opt.nginx != NULL, nk = ng ? 3 : 2;
    static const int kinds[3] = {K_ECHO, K_SISP, K_NGINX};
    if (world_up(1, WANT_NGINX) != 0) {
        world_down();
        return;
    }
    unsigned reps = opt.bulk_reps;
    /* [kind][rep]: rates, MB per server CPU-s, and (sispd) loop / process busy */
    static double up[K_N][MAX_REPS], down[K_N][MAX_REPS], upc[K_N][MAX_REPS], downc[K_N][MAX_REPS];
    static double lu[MAX_REPS], pu[MAX_REPS], ld[MAX_REPS], pd[MAX_REPS];
    /* bare wolfSSL that also hashes the upload with SHA-256 (echo 'H'): [0] MB/s, [1] per core */
    static double uph[2][MAX_REPS];
    uint8_t *plain = make_plain(opt.bulk_bytes);
    bconn_t *conn[K_N] = {NULL, NULL, NULL};
    unsigned got = 0;
    say("bulk: %zu-byte image, %u repetitions, echo, sispd%s interleaved", opt.bulk_bytes, reps,
        ng ? " and nginx" : "");
    for (unsigned r = 0; plain != NULL && r <= reps; r++) { /* round 0 warms up */
        sealed_t img;
        char name[64];
        snprintf(name, sizeof name, "bulk-%u.png", r);
        if (seal(&W.users[0], name, plain, opt.bulk_bytes, &img) != 0 ||
            (ng && www_put("img.bin", img.cipher.data, img.cipher.len) != 0)) {
            fail_msg("seal");
            break;
        }
        /* A fresh connection for every transfer (connected before the clock starts), unless
         * --same-conn: see "A server bug found" in docs/BENCHMARKS.md. */
        double v[2][K_N], core[2][K_N], loop[2][K_N], proc[2][K_N];
        int ok = 1;
        for (int dir = 0; dir < 2 && ok; dir++) /* 0 up, 1 down */
            for (int i = 0; i < nk && ok; i++) {
                int k = kinds[i];
                v[dir][k] = bulk_one(&conn[k], k, &img, dir == 0, &core[dir][k], &loop[dir][k],
                                     &proc[dir][k]);
                ok = v[dir][k] > 0;
            }
        double vh = 0, coreh = 0, lh, ph;
        if (ok) { /* the reference again, hashing what it receives */
            echo_hash = 1;
            vh = bulk_one(&conn[K_ECHO], K_ECHO, &img, 1, &coreh, &lh, &ph);
            echo_hash = 0;
            ok = vh > 0;
        }
        sealed_free(&img);
        if (!ok)
            break;
        say("  %u: up echo %.1f echo+sha256 %.1f sispd %.1f, down echo %.1f sispd %.1f MB/s%s", r,
            v[0][K_ECHO], vh, v[0][K_SISP], v[1][K_ECHO], v[1][K_SISP], r == 0 ? " (warm-up)" : "");
        if (ng)
            say("     nginx up %.1f down %.1f MB/s; per server CPU-s: up echo %.0f sispd %.0f "
                "nginx %.0f, down echo %.0f sispd %.0f nginx %.0f MB",
                v[0][K_NGINX], v[1][K_NGINX], core[0][K_ECHO], core[0][K_SISP], core[0][K_NGINX],
                core[1][K_ECHO], core[1][K_SISP], core[1][K_NGINX]);
        if (r == 0)
            continue;
        for (int i = 0; i < nk; i++) {
            int k = kinds[i];
            up[k][got] = v[0][k];
            down[k][got] = v[1][k];
            upc[k][got] = core[0][k];
            downc[k][got] = core[1][k];
        }
        uph[0][got] = vh;
        uph[1][got] = coreh;
        lu[got] = loop[0][K_SISP];
        pu[got] = proc[0][K_SISP];
        ld[got] = loop[1][K_SISP];
        pd[got] = proc[1][K_SISP];
        got++;
    }
    char work[64], name[64];
    snprintf(work, sizeof work, "%zu", opt.bulk_bytes + opt.bulk_bytes / 4096); /* ~cipher */
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < nk; i++) {
            snprintf(name, sizeof name, "bulk_%s_%s", dir ? "down" : "up", kind_name[kinds[i]]);
            row(name, "MB/s", dir ? down[kinds[i]] : up[kinds[i]], got, work);
        }
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < nk; i++) {
            snprintf(name, sizeof name, "bulk_%s_%s_per_core", dir ? "down" : "up",
                     kind_name[kinds[i]]);
            row(name, "MB/cpu-s", dir ? downc[kinds[i]] : upc[kinds[i]], got, work);
        }
    row("bulk_up_echo_sha256", "MB/s", uph[0], got, work);
    row("bulk_up_echo_sha256_per_core", "MB/cpu-s", uph[1], got, work);
    row("bulk_up_sispd_loop_thread_busy", "cpu/wall", lu, got, work);
    row("bulk_up_sispd_process_busy", "cpu/wall", pu, got, work);
    row("bulk_down_sispd_loop_thread_busy", "cpu/wall", ld, got, work);
    row("bulk_down_sispd_process_busy", "cpu/wall", pd, got, work);
    /* Ratios, per repetition. */
    struct {
        const char *name;
        double (*a)[MAX_REPS], (*b)[MAX_REPS];
        int ka, kb;
    } ratios[] = {
        {"bulk_up_sispd/echo", up, up, K_SISP, K_ECHO},
        {"bulk_down_sispd/echo", down, down, K_SISP, K_ECHO},
        {"bulk_up_sispd/echo_per_core", upc, upc, K_SISP, K_ECHO},
        {"bulk_down_sispd/echo_per_core", downc, downc, K_SISP, K_ECHO},
        {"bulk_up_sispd/nginx", up, up, K_SISP, K_NGINX},
        {"bulk_down_sispd/nginx", down, down, K_SISP, K_NGINX},
        {"bulk_up_sispd/nginx_per_core", upc, upc, K_SISP, K_NGINX},
        {"bulk_down_sispd/nginx_per_core", downc, downc, K_SISP, K_NGINX},
        {"bulk_down_echo/nginx_per_core", downc, downc, K_ECHO, K_NGINX},
    };
    for (size_t i = 0; i < sizeof ratios / sizeof *ratios; i++) {
        if (!ng && (ratios[i].ka == K_NGINX || ratios[i].kb == K_NGINX))
            continue;
        ratio_row(ratios[i].name, ratios[i].a[ratios[i].ka], ratios[i].b[ratios[i].kb], got);
    }
    /* sispd's upload against the reference that hashes as it does, MB/s and per core. */
    ratio_row("bulk_up_sispd/echo_sha256", up[K_SISP], uph[0], got);
    ratio_row("bulk_up_sispd/echo_sha256_per_core", upc[K_SISP], uph[1], got);
    free(plain);
    for (int k = 0; k < K_N; k++)
        bc_close(conn[k]);
    world_down();
}

/* ---- concurrent downloads ---- */

/* n connections to kind, each downloading img at once: aggregate MB/s (first request to last
 * byte), and MB per server CPU-second in *core. 0 on failure. */
static double conc_round(int kind, sealed_t *img, unsigned n, double *core) {
    bconn_t *v[64];
    unsigned ready = 0;
    for (unsigned i = 0; i < n; i++)
        if ((v[i] = bc_connect_wait(kind, 0)) != NULL)
            ready++;
    double rate = 0;
    *core = 0;
    if (ready == n) {
        pid_t pid = server_pid(kind);
        char phase[32];
        snprintf(phase, sizeof phase, "conc%u", n);
        prof_on(phase, kind_name[kind], kind == K_ECHO ? 0 : pid);
        double p0 = proc_cpu(pid), t0 = now(), end = t0 + 60;
        for (unsigned i = 0; i < n; i++)
            down_start(v[i], img);
        unsigned done = 0;
        while (done < n && now() < end) {
            uv_run(&W.loop, UV_RUN_ONCE);
            done = 0;
            for (unsigned i = 0; i < n; i++)
                done += v[i]->flag != 0;
        }
        double t1 = 0;
        int ok = done == n;
        for (unsigned i = 0; i < n && ok; i++) {
            ok = v[i]->flag == 1 && (kind == K_ECHO || v[i]->bytes == img->cipher.len);
            if (v[i]->t1 > t1)
                t1 = v[i]->t1;
        }
        double p1 = proc_cpu(pid);
        prof_off();
        if (ok) {
            double mb = (double)n * (double)img->cipher.len / 1e6;
            rate = mb / (t1 - t0);
            *core = p1 > p0 ? mb / (p1 - p0) : 0;
        } else {
            fail_msg("%u concurrent downloads from %s: %u of %u complete", n, kind_name[kind], done,
                     n);
        }
    } else {
        fail_msg("%u concurrent downloads from %s: %u of %u connected", n, kind_name[kind], ready,
                 n);
    }
    for (unsigned i = 0; i < n; i++)
        bc_close(v[i]);
    for (int i = 0; i < 20; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    return rate;
}

static void scenario_conc(void) {
    int ng = opt.nginx != NULL, nk = ng ? 3 : 2;
    static const int kinds[3] = {K_ECHO, K_SISP, K_NGINX};
    unsigned n = opt.conc_n, reps = opt.bulk_reps;
    if (world_up(1, WANT_NGINX) != 0) {
        world_down();
        return;
    }
    static double agg[K_N][MAX_REPS], core[K_N][MAX_REPS];
    uint8_t *plain = make_plain(opt.conc_bytes);
    sealed_t img;
    memset(&img, 0, sizeof img);
    bconn_t *poster = bc_connect_wait(K_SISP, 0);
    if (plain == NULL || poster == NULL ||
        seal(&W.users[0], "conc.png", plain, opt.conc_bytes, &img) != 0 ||
        (ng && www_put("img.bin", img.cipher.data, img.cipher.len) != 0)) {
        fail_msg("conc: cannot set up");
        goto out;
    }
    up_start(poster, &img); /* the image sispd serves: posted once, untimed */
    if (xfer_wait(poster, "upload") == 0)
        goto out;
    say("conc: %u connections each downloading the same %zu-byte sealed image at once, %u "
        "repetitions, echo, sispd%s interleaved",
        n, img.cipher.len, reps, ng ? " and nginx" : "");
    unsigned got = 0;
    for (unsigned r = 0; r <= reps; r++) { /* round 0 warms up */
        double a[K_N] = {0}, c[K_N] = {0};
        int ok = 1;
        for (int i = 0; i < nk && ok; i++)
            ok = (a[kinds[i]] = conc_round(kinds[i], &img, n, &c[kinds[i]])) > 0;
        if (!ok)
            break;
        say("  %u: aggregate echo %.1f sispd %.1f nginx %.1f MB/s; per server CPU-s echo %.0f "
            "sispd %.0f nginx %.0f MB%s",
            r, a[K_ECHO], a[K_SISP], a[K_NGINX], c[K_ECHO], c[K_SISP], c[K_NGINX],
            r == 0 ? " (warm-up)" : "");
        if (r == 0)
            continue;
        for (int i = 0; i < nk; i++) {
            agg[kinds[i]][got] = a[kinds[i]];
            core[kinds[i]][got] = c[kinds[i]];
        }
        got++;
    }
    char name[64], work[64];
    snprintf(work, sizeof work, "%ux%zu", n, img.cipher.len);
    for (int i = 0; i < nk; i++) {
        snprintf(name, sizeof name, "conc%u_down_%s", n, kind_name[kinds[i]]);
        row(name, "MB/s", agg[kinds[i]], got, work);
    }
    for (int i = 0; i < nk; i++) {
        snprintf(name, sizeof name, "conc%u_down_%s_per_core", n, kind_name[kinds[i]]);
        row(name, "MB/cpu-s", core[kinds[i]], got, work);
    }
    for (int i = 1; i < nk; i++) { /* against echo, then nginx */
        int ref = kinds[i == 1 ? 0 : 2];
        snprintf(name, sizeof name, "conc%u_down_sispd/%s", n, kind_name[ref]);
        ratio_row(name, agg[K_SISP], agg[ref], got);
        snprintf(name, sizeof name, "conc%u_down_sispd/%s_per_core", n, kind_name[ref]);
        ratio_row(name, core[K_SISP], core[ref], got);
    }
out:
    sealed_free(&img);
    free(plain);
    bc_close(poster);
    world_down();
}

/* ---- posts ---- */

typedef struct {
    sealed_t *imgs;
    unsigned n_imgs, next;
    uint32_t stream;
    double t_start;
    double *lat;
    size_t *n_lat;
} poster_t;

static unsigned posts_left;
static int posts_done;

static void post_next(bconn_t *c);

static void post_frame(bconn_t *c, uint8_t type, uint32_t stream, const uint8_t *f, size_t n) {
    poster_t *p = c->arg;
    (void)f;
    (void)n;
    if (stream != p->stream || stream == 0)
        return; /* NOTIFY pushes of everyone's posts: ignored */
    if (type != SISP_T_POSTED) {
        fail_msg("post refused (frame type %u)", type);
        bc_close(c);
        posts_done = 1;
        return;
    }
    p->lat[(*p->n_lat)++] = now() - p->t_start;
    if (--posts_left == 0)
        posts_done = 1;
    post_next(c);
}

static void post_next(bconn_t *c) {
    poster_t *p = c->arg;
    if (p->next >= p->n_imgs)
        return;
    sealed_t *img = &p->imgs[p->next++];
    p->t_start = now();
    sisp_post_begin_t pb = {sisp_slice_str(img->name), sisp_slice_str(GROUP), img->cipher.len,
                            sisp_slice(img->manifest.data, img->manifest.len),
                            sisp_slice(img->sig, sizeof img->sig)};
    p->stream = bc_send(c, SISP_T_POST_BEGIN, 0, &pb);
    for (size_t off = 0; off < img->cipher.len && p->stream; off += SISP_CHUNK_DEFAULT) {
        size_t k =
            img->cipher.len - off < SISP_CHUNK_DEFAULT ? img->cipher.len - off : SISP_CHUNK_DEFAULT;
        sisp_data_t d = {off, sisp_slice(img->cipher.data + off, k)};
        bc_send(c, SISP_T_DATA, p->stream, &d);
    }
    sisp_post_end_t pe = {img->cipher.len};
    bc_send(c, SISP_T_POST_END, p->stream, &pe);
}

static void echo_post_bytes(bconn_t *c, const uint8_t *b, size_t n);

static void echo_post_next(bconn_t *c) {
    poster_t *p = c->arg;
    if (p->next >= p->n_imgs)
        return;
    sealed_t *img = &p->imgs[p->next++];
    uint8_t cmd[9];
    p->t_start = now();
    put_cmd(cmd, 'U', img->cipher.len);
    bc_write(c, cmd, sizeof cmd);
    bc_write(c, img->cipher.data, img->cipher.len);
}

static void echo_post_bytes(bconn_t *c, const uint8_t *b, size_t n) {
    poster_t *p = c->arg;
    (void)b;
    for (size_t i = 0; i < n; i++) {
        p->lat[(*p->n_lat)++] = now() - p->t_start;
        if (--posts_left == 0)
            posts_done = 1;
        echo_post_next(c);
    }
}

/* Runs one round: every connection posts its images back to back. Returns posts/s. */
static double posts_round(int kind, bconn_t **v, poster_t *ps, unsigned clients, double *lat,
                          size_t *n_lat, double *loop_busy, double *proc_busy) {
    posts_left = 0;
    posts_done = 0;
    *n_lat = 0;
    for (unsigned i = 0; i < clients; i++) {
        ps[i].next = 0;
        ps[i].lat = lat;
        ps[i].n_lat = n_lat;
        posts_left += ps[i].n_imgs;
    }
    unsigned total = posts_left;
    pid_t pid = kind == K_SISP ? W.srv.pid : W.echo_pid;
    double l0 = loop_cpu(pid), p0 = proc_cpu(pid);
    double t0 = now();
    for (unsigned i = 0; i < clients; i++) {
        v[i]->arg = &ps[i];
        if (kind == K_SISP) {
            v[i]->on_frame = post_frame;
            post_next(v[i]);
        } else {
            v[i]->on_bytes = echo_post_bytes;
            echo_post_next(v[i]);
        }
    }
    if (run_until(&posts_done, 600) != 0 || posts_left != 0)
        fail_msg("%s posts: %u of %u left", kind == K_SISP ? "sispd" : "echo", posts_left, total);
    double dt = now() - t0;
    *loop_busy = (loop_cpu(pid) - l0) / dt;
    *proc_busy = (proc_cpu(pid) - p0) / dt;
    return (double)(total - posts_left) / dt;
}

/* Sequential write + fsync of post-sized files in dir: what one fsync per post would allow. */
static double fsync_rate(const char *dir, size_t bytes, unsigned n) {
    char path[400];
    uint8_t *buf = make_plain(bytes);
    double t0 = now();
    for (unsigned i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/fsync-probe-%u", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, buf, bytes) != (ssize_t)bytes || fsync(fd) != 0)
            fail_msg("fsync probe");
        if (fd >= 0)
            close(fd);
    }
    double r = (double)n / (now() - t0);
    for (unsigned i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/fsync-probe-%u", dir, i);
        unlink(path);
    }
    free(buf);
    return r;
}

static void scenario_posts(void) {
    unsigned clients = opt.post_clients, per = opt.posts_per_client, reps = opt.reps;
    if (world_up(opt.users, 0) != 0) {
        world_down();
        return;
    }
    bconn_t **sv = calloc(clients, sizeof *sv), **ev = calloc(clients, sizeof *ev);
    poster_t *ps = calloc(clients, sizeof *ps);
    double *lat = calloc((size_t)clients * per, sizeof *lat);
    uint8_t *plain = make_plain(opt.post_bytes);
    double sr[MAX_REPS], er[MAX_REPS], rr[MAX_REPS], fr[MAX_REPS], sl50[MAX_REPS], sl99[MAX_REPS];
    double slb[MAX_REPS], spb[MAX_REPS];
    size_t n_lat = 0;
    if (!sv || !ev || !ps || !lat || !plain)
        goto out;
    if (open_many(K_SISP, sv, clients, 64, 120) != clients ||
        open_many(K_ECHO, ev, clients, 64, 120) != clients) {
        fail_msg("posts: cannot open %u connections to each server", clients);
        goto out;
    }
    say("posts: %u clients x %u posts of %zu bytes, %u rounds (%u users; every connection is a "
        "member of `%s`, so each post is also a NOTIFY to all %u connections)",
        clients, per, opt.post_bytes, reps, opt.users, GROUP, clients);
    for (unsigned r = 0; r < reps; r++) {
        double t0 = now();
        for (unsigned i = 0; i < clients; i++) {
            ps[i].n_imgs = per;
            if (ps[i].imgs == NULL)
                ps[i].imgs = calloc(per, sizeof *ps[i].imgs);
            for (unsigned k = 0; k < per; k++) {
                char name[64];
                snprintf(name, sizeof name, "p%u-%u-%u.png", r, i, k);
                if (ps[i].imgs[k].cipher.data)
                    sealed_free(&ps[i].imgs[k]);
                if (seal(&W.users[i % W.n_users], name, plain, opt.post_bytes, &ps[i].imgs[k]) !=
                    0) {
                    fail_msg("seal");
                    goto out;
                }
            }
        }
        say("  sealed %u images in %.2f s (untimed)", clients * per, now() - t0);
        double el, ep;
        er[r] = posts_round(K_ECHO, ev, ps, clients, lat, &n_lat, &el, &ep);
        sr[r] = posts_round(K_SISP, sv, ps, clients, lat, &n_lat, &slb[r], &spb[r]);
        qsort(lat, n_lat, sizeof *lat, cmp_double);
        sl50[r] = n_lat ? lat[n_lat / 2] * 1e3 : 0;
        sl99[r] = n_lat ? lat[(n_lat * 99) / 100] * 1e3 : 0;
        rr[r] = er[r] > 0 ? sr[r] / er[r] : 0;
        fr[r] = fsync_rate(W.srv.dir, opt.post_bytes, 20);
        say("  %u: echo %.0f uploads/s, sispd %.0f posts/s (latency median %.1f ms, p99 %.1f "
            "ms), fsync probe %.0f/s",
            r, er[r], sr[r], sl50[r], sl99[r], fr[r]);
    }
    char work[64];
    snprintf(work, sizeof work, "%ux%u", clients, per);
    row("posts_echo_100k_uploads", "ops/s", er, reps, work);
    row("posts_sispd_100k", "posts/s", sr, reps, work);
    row("posts_sispd/echo", "ratio", rr, reps, "-");
    row("posts_sispd_latency_median", "ms", sl50, reps, work);
    row("posts_sispd_latency_p99", "ms", sl99, reps, work);
    row("posts_sispd_loop_thread_busy", "cpu/wall", slb, reps, work);
    row("posts_sispd_process_busy", "cpu/wall", spb, reps, work);
    row("fsync_100k_sequential", "fsync/s", fr, reps, "20");
    ratio_row("posts_sispd/fsync_rate", sr, fr, reps);
out:
    if (sv && ev) {
        close_all(sv, clients);
        close_all(ev, clients);
    }
    for (unsigned i = 0; ps && i < clients; i++) {
        for (unsigned k = 0; ps[i].imgs && k < per; k++)
            sealed_free(&ps[i].imgs[k]);
        free(ps[i].imgs);
    }
    free(sv);
    free(ev);
    free(ps);
    free(lat);
    free(plain);
    world_down();
}

/* ---- idle connections and fan-out ---- */

static void echo_ping_bytes(bconn_t *c, const uint8_t *p, size_t n) {
    (void)p;
    c->bytes += n;
    if (c->bytes >= 1) {
        c->on_bytes = NULL;
        process_counter++;
    }
}

#define IDLE_DOWN_BYTES (256u * 1024u) /* what each idle connection downloads first */

/* Every ready connection of v downloads img (sispd DOWNLOAD, echo `D`), all at once; then
 * nothing for 3 s. RSS growth over rss0 per live connection, KiB; -1 if a download failed. */
static double idle_after_download(int kind, bconn_t **v, size_t n, sealed_t *img, long rss0,
                                  pid_t pid) {
    size_t started = 0, done = 0, ok = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] && v[i]->state == S_READY) {
            down_start(v[i], img);
            started++;
        }
    double end = now() + 120;
    while (done < started && now() < end) {
        uv_run(&W.loop, UV_RUN_ONCE);
        done = ok = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i] && (v[i]->on_frame == bulk_sisp_frame || v[i]->on_bytes == echo_bytes)) {
                done += v[i]->flag != 0; /* started above */
                ok += v[i]->flag == 1;
            }
    }
    if (ok != started) {
        fail_msg("idle: %zu of %zu downloads from %s complete", ok, started, kind_name[kind]);
        return -1;
    }
    end = now() + 3.0;
    while (now() < end) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    long rss2 = proc_rss_kib(pid);
    say("  %s: after %zu downloads of %zu bytes and 3 s quiet, RSS %ld KiB", kind_name[kind],
        started, img->cipher.len, rss2);
    return started ? (double)(rss2 - rss0) / (double)started : 0;
}

/* Per-connection server memory: RSS growth over n connections, KiB each. */
static double idle_measure(int kind, bconn_t **v, size_t n, size_t *held, long *rss0_out,
                           long *rss1_out) {
    pid_t pid = kind == K_SISP ? W.srv.pid : W.echo_pid;
    usleep(300000);
    long rss0 = proc_rss_kib(pid);
    double t0 = now();
    size_t ok = open_many(kind, v, n, 64, 600);
    double dt = now() - t0;
    if (kind == K_ECHO) {
        /* One echo round trip each, so the server has finished its side of every handshake
         * (sispd's HELLO reply proves the same). */
        static const uint8_t cmd[10] = {'E', 0, 0, 0, 0, 0, 0, 0, 1, 'x'};
        process_counter = 0;
        int want = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i] && v[i]->state == S_READY) {
                v[i]->bytes = 0;
                v[i]->on_bytes = echo_ping_bytes;
                bc_write(v[i], cmd, sizeof cmd);
                want++;
            }
        double end = now() + 60;
        while (process_counter < want && now() < end)
            uv_run(&W.loop, UV_RUN_ONCE);
    }
    /* Settle: nothing in flight, then read the server's RSS. */
    double end = now() + 1.0;
    while (now() < end) {
        uv_run(&W.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    long rss1 = proc_rss_kib(pid);
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += v[i] && v[i]->state == S_READY;
    *held = live;
    *rss0_out = rss0;
    *rss1_out = rss1;
    say("  %s: %zu of %zu connections ready in %.1f s, %zu still open; RSS %ld -> %ld KiB",
        kind == K_SISP ? "sispd" : "echo", ok, n, dt, live, rss0, rss1);
    return live ? (double)(rss1 - rss0) / (double)live : 0;
}

/* ---- fan-out: sispd ---- */

static double fan_t_posted;
static double *fan_arrival;
static size_t fan_got, fan_want;
static int fan_flag, fan_all;

static void fan_member_frame(bconn_t *c, uint8_t type, uint32_t stream, const uint8_t *f,
                             size_t n) {
    (void)stream;
    (void)f;
    (void)n;
    if (type != SISP_T_NOTIFY || c->flag)
        return;
    c->flag = 1;
    fan_arrival[c->idx] = now();
    if (++fan_got == fan_want)
        fan_all = 1;
}

static void fan_poster_frame(bconn_t *c, uint8_t type, uint32_t stream, const uint8_t *f,
                             size_t n) {
    (void)f;
    (void)n;
    if (stream != c->want || stream == 0)
        return;
    if (type == SISP_T_POSTED)
        fan_t_posted = now();
    else
        fail_msg("fan-out post refused (type %u)", type);
    fan_flag = 1;
}

typedef struct {
    double first, median, p99, last, from_end_last;
    double server_cpu_ms, client_cpu_ms; /* CPU time spent by each side during the round */
} fan_t;

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static void fan_summarise(double *arr, size_t n, double t0, fan_t *out) {
    for (size_t i = 0; i < n; i++)
        arr[i] = (arr[i] - t0) * 1e3;
    qsort(arr, n, sizeof *arr, cmp_double);
    out->first = arr[0];
    out->median = arr[n / 2];
    out->p99 = arr[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    out->last = arr[n - 1];
}

static int fan_sisp_round(bconn_t *poster, bconn_t **v, size_t n, unsigned r, fan_t *out) {
    sealed_t img;
    char name[64];
    static uint8_t plain[4096];
    memcpy(plain, t_png_1x1, sizeof t_png_1x1);
    snprintf(name, sizeof name, "fan-%zu-%u.png", n, r);
    if (seal(&W.users[0], name, plain, sizeof plain, &img) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (v[i]) {
            v[i]->flag = 0;
            v[i]->on_frame = fan_member_frame;
        }
    fan_got = 0;
    fan_want = 0;
    for (size_t i = 0; i < n; i++)
        fan_want += v[i] && v[i]->state == S_READY;
    for (size_t i = 0; i < n; i++)
        fan_arrival[i] = 0;
    fan_flag = fan_all = 0;
    fan_t_posted = 0;
    poster->on_frame = fan_poster_frame;
    sisp_post_begin_t pb = {sisp_slice_str(img.name), sisp_slice_str(GROUP), img.cipher.len,
                            sisp_slice(img.manifest.data, img.manifest.len),
                            sisp_slice(img.sig, sizeof img.sig)};
    poster->want = bc_send(poster, SISP_T_POST_BEGIN, 0, &pb);
    sisp_data_t d = {0, sisp_slice(img.cipher.data, img.cipher.len)};
    bc_send(poster, SISP_T_DATA, (uint32_t)poster->want, &d);
    sisp_post_end_t pe = {img.cipher.len};
    double scpu0 = proc_cpu(W.srv.pid), ccpu0 = self_cpu();
    double t_end = now();
    bc_send(poster, SISP_T_POST_END, (uint32_t)poster->want, &pe);
    int rc = run_until(&fan_flag, 60);
    if (rc == 0)
        rc = run_until(&fan_all, 60);
    out->server_cpu_ms = (proc_cpu(W.srv.pid) - scpu0) * 1e3;
    out->client_cpu_ms = (self_cpu() - ccpu0) * 1e3;
    sealed_free(&img);
    if (rc != 0 || fan_t_posted == 0) {
        fail_msg("sispd fan-out to %zu: %zu of %zu notified", n, fan_got, fan_want);
        return -1;
    }
    double *arr = malloc(fan_got * sizeof *arr);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] && v[i]->flag)
            arr[k++] = fan_arrival[i];
    fan_summarise(arr, k, fan_t_posted, out);
    out->from_end_last = out->last + (fan_t_posted - t_end) * 1e3;
    free(arr);
    usleep(200000);
    return 0;
}

/* ---- fan-out: mosquitto (plain TCP, MQTT 3.1.1, QoS 0) ---- */

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t creq;
    sisp_buf_t in;
    size_t idx;
    int state; /* 0 connecting, 1 CONNACK wait, 2 SUBACK wait, 3 ready, 4 closed */
    int got;
    int publisher;
} mconn_t;

static size_t mq_ready, mq_failed;

static void mq_closed(uv_handle_t *h) {
    mconn_t *m = (mconn_t *)h;
    sisp_buf_free(&m->in);
    free(m);
}

static void mq_close(mconn_t *m) {
    if (m->state == 4)
        return;
    m->state = 4;
    uv_close((uv_handle_t *)&m->tcp, mq_closed);
}

static void mq_wrote(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static void mq_write(mconn_t *m, const uint8_t *p, size_t n) {
    uv_write_t *req = malloc(sizeof *req + n);
    if (req == NULL)
        return;
    memcpy(req + 1, p, n);
    uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&m->tcp, &b, 1, mq_wrote) != 0)
        free(req);
}

static size_t mq_varint(uint8_t *p, size_t v) {
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v % 128);
        v /= 128;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static const char mq_topic[] = "sisp/bench/fanout";

static void mq_subscribe(mconn_t *m) {
    uint8_t p[64];
    size_t tl = sizeof mq_topic - 1, n = 0;
    p[n++] = 0x82;
    n += mq_varint(p + n, 2 + 2 + tl + 1);
    p[n++] = 0;
    p[n++] = 1; /* packet id */
    p[n++] = (uint8_t)(tl >> 8);
    p[n++] = (uint8_t)tl;
    memcpy(p + n, mq_topic, tl);
    n += tl;
    p[n++] = 0; /* QoS 0 */
    mq_write(m, p, n);
}

static void mq_packet(mconn_t *m, uint8_t type) {
    if (m->state == 1 && type == 0x20) {
        if (m->publisher) {
            m->state = 3;
            mq_ready++;
        } else {
            m->state = 2;
            mq_subscribe(m);
        }
    } else if (m->state == 2 && type == 0x90) {
        m->state = 3;
        mq_ready++;
    } else if (m->state == 3 && (type & 0xf0) == 0x30 && !m->got) {
        m->got = 1;
        fan_arrival[m->idx] = now();
        if (++fan_got == fan_want)
            fan_all = 1;
    }
}

static void mq_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    mconn_t *m = (mconn_t *)s;
    if (nread == 0 || m->state == 4)
        return;
    if (nread < 0) {
        mq_failed++;
        mq_close(m);
        return;
    }
    if (sisp_buf_append(&m->in, buf->base, (size_t)nread) != 0)
        return;
    size_t pos = 0;
    for (;;) {
        size_t avail = m->in.len - pos, len = 0, i = 1, mul = 1;
        if (avail < 2)
            break;
        while (i < avail && i < 5) {
            uint8_t b = m->in.data[pos + i++];
            len += (size_t)(b & 0x7f) * mul;
            mul *= 128;
            if (!(b & 0x80))
                break;
        }
        if (avail < i + len)
            break;
        mq_packet(m, m->in.data[pos]);
        pos += i + len;
    }
    sisp_buf_consume(&m->in, pos);
}

static void mq_connected(uv_connect_t *req, int status) {
    mconn_t *m = (mconn_t *)((char *)req - offsetof(mconn_t, creq));
    if (status < 0) {
        mq_failed++;
        mq_close(m);
        return;
    }
    uv_tcp_nodelay(&m->tcp, 1);
    uv_read_start((uv_stream_t *)&m->tcp, on_bc_alloc, mq_read);
    char id[32];
    int idl = snprintf(id, sizeof id, "%s%zu", m->publisher ? "pub" : "sub", m->idx);
    uint8_t p[64];
    size_t n = 0;
    static const uint8_t vh[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}; /* clean, no keepalive */
    p[n++] = 0x10;
    n += mq_varint(p + n, sizeof vh + 2 + (size_t)idl);
    memcpy(p + n, vh, sizeof vh);
    n += sizeof vh;
    p[n++] = 0;
    p[n++] = (uint8_t)idl;
    memcpy(p + n, id, (size_t)idl);
    n += (size_t)idl;
    m->state = 1;
    mq_write(m, p, n);
}

static mconn_t *mq_open(size_t idx, int publisher) {
    mconn_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->idx = idx;
    m->publisher = publisher;
    sisp_buf_init(&m->in, 0);
    uv_tcp_init(&W.loop, &m->tcp);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", W.mq_port, &sa);
    if (uv_tcp_connect(&m->creq, &m->tcp, (const struct sockaddr *)&sa, mq_connected) != 0) {
        mq_close(m);
        return NULL;
    }
    return m;
}

/* Holds n subscribers, publishes reps messages; summaries into out[r]. */
static int fan_mq(size_t n, unsigned reps, fan_t *out) {
    mconn_t **v = calloc(n, sizeof *v);
    if (v == NULL)
        return -1;
    mq_ready = mq_failed = 0;
    for (size_t started = 0; started < n || (mq_ready + mq_failed < n);) {
        while (started < n && started - (mq_ready + mq_failed) < 256) {
            v[started] = mq_open(started, 0);
            started++;
        }
        uv_run(&W.loop, UV_RUN_ONCE);
        if (mq_failed > 0)
            break;
    }
    size_t base_ready = mq_ready;
    mconn_t *pub = mq_open(n, 1);
    while (pub && mq_ready == base_ready && mq_failed == 0)
        uv_run(&W.loop, UV_RUN_ONCE);
    int rc = 0;
    if (mq_failed > 0 || pub == NULL || base_ready != n) {
        fail_msg("mosquitto: %zu of %zu subscribers ready, %zu failed", base_ready, n, mq_failed);
        rc = -1;
    }
    /* mosquitto acknowledges SUBSCRIBE before every subscription is visible to publishers on
     * other connections? It is one thread: SUBACK means done. Settle anyway. */
    usleep(300000);
    for (unsigned r = 0; rc == 0 && r < reps; r++) {
        for (size_t i = 0; i < n; i++) {
            v[i]->got = 0;
            fan_arrival[i] = 0;
        }
        fan_got = 0;
        fan_want = n;
        fan_all = 0;
        uint8_t p[512];
        size_t tl = sizeof mq_topic - 1, k = 0, payload = 160; /* about a NOTIFY frame */
        p[k++] = 0x30;
        k += mq_varint(p + k, 2 + tl + payload);
        p[k++] = (uint8_t)(tl >> 8);
        p[k++] = (uint8_t)tl;
        memcpy(p + k, mq_topic, tl);
        k += tl;
        memset(p + k, 'n', payload);
        k += payload;
        double scpu0 = proc_cpu(W.mq_pid), ccpu0 = self_cpu();
        double t0 = now();
        mq_write(pub, p, k);
        if (run_until(&fan_all, 60) != 0) {
            fail_msg("mosquitto fan-out to %zu: %zu delivered", n, fan_got);
            rc = -1;
            break;
        }
        out[r].server_cpu_ms = (proc_cpu(W.mq_pid) - scpu0) * 1e3;
        out[r].client_cpu_ms = (self_cpu() - ccpu0) * 1e3;
        double *arr = malloc(n * sizeof *arr);
        memcpy(arr, fan_arrival, n * sizeof *arr);
        fan_summarise(arr, n, t0, &out[r]);
        free(arr);
        usleep(200000);
    }
    for (size_t i = 0; i < n; i++)
        if (v[i])
            mq_close(v[i]);
    if (pub)
        mq_close(pub);
    for (int i = 0; i < 20; i++)
        uv_run(&W.loop, UV_RUN_NOWAIT);
    free(v);
    return rc;
}

static void fan_rows(const char *who, size_t n, const fan_t *f, unsigned reps) {
    double a[MAX_REPS], b[MAX_REPS], c[MAX_REPS], d[MAX_REPS], e[MAX_REPS], g[MAX_REPS];
    char name[64], work[32];
    for (unsigned r = 0; r < reps; r++) {
        a[r] = f[r].first;
        b[r] = f[r].median;
        c[r] = f[r].p99;
        d[r] = f[r].last;
        e[r] = f[r].server_cpu_ms;
        g[r] = f[r].client_cpu_ms;
    }
    snprintf(work, sizeof work, "%zu", n);
    snprintf(name, sizeof name, "fanout_%s_%zu_first", who, n);
    row(name, "ms", a, reps, work);
    snprintf(name, sizeof name, "fanout_%s_%zu_median", who, n);
    row(name, "ms", b, reps, work);
    snprintf(name, sizeof name, "fanout_%s_%zu_p99", who, n);
    row(name, "ms", c, reps, work);
    snprintf(name, sizeof name, "fanout_%s_%zu_last", who, n);
    row(name, "ms", d, reps, work);
    snprintf(name, sizeof name, "fanout_%s_%zu_server_cpu", who, n);
    row(name, "cpu-ms", e, reps, work);
    snprintf(name, sizeof name, "fanout_%s_%zu_client_cpu", who, n);
    row(name, "cpu-ms", g, reps, work);
}

/* idle and/or fanout at each connection count. */
static void scenario_conns(int do_idle, int do_fan) {
    for (size_t ci = 0; ci < opt.n_conns; ci++) {
        size_t n = opt.conns[ci];
        unsigned reps = opt.reps;
        if (world_up(opt.users, do_fan ? WANT_MQ : 0) != 0) {
            world_down();
            return;
        }
        bconn_t **v = calloc(n, sizeof *v);
        fan_arrival = calloc(n + 1, sizeof *fan_arrival);
        if (v == NULL || fan_arrival == NULL) {
            free(v);
            free(fan_arrival);
            world_down();
            return;
        }
        char work[32];
        snprintf(work, sizeof work, "%zu", n);
        sealed_t img;
        memset(&img, 0, sizeof img);
        if (do_idle) {
            /* The image each idle connection downloads before the second measurement. */
            uint8_t *plain = make_plain(IDLE_DOWN_BYTES);
            bconn_t *poster = bc_connect_wait(K_SISP, 0);
            if (plain == NULL || poster == NULL ||
                seal(&W.users[0], "idle.png", plain, IDLE_DOWN_BYTES, &img) != 0) {
                fail_msg("idle: cannot set up");
            } else {
                up_start(poster, &img);
                xfer_wait(poster, "upload");
            }
            free(plain);
            if (poster != NULL)
                bc_close(poster);
            say("idle: %zu connections to the echo server, then to sispd", n);
            size_t held_e = 0, held_s = 0;
            long e0, e1, s0, s1;
            double ke = idle_measure(K_ECHO, v, n, &held_e, &e0, &e1);
            double de = idle_after_download(K_ECHO, v, n, &img, e0, W.echo_pid);
            close_all(v, n);
            memset(v, 0, n * sizeof *v);
            double ks = idle_measure(K_SISP, v, n, &held_s, &s0, &s1);
            double ds = idle_after_download(K_SISP, v, n, &img, s0, W.srv.pid);
            double he = (double)held_e, hsd = (double)held_s, r = ke > 0 ? ks / ke : 0;
            char name[64];
            snprintf(name, sizeof name, "idle_echo_%zu_held", n);
            row(name, "conns", &he, 1, work);
            snprintf(name, sizeof name, "idle_echo_%zu_per_conn", n);
            row(name, "KiB", &ke, 1, work);
            snprintf(name, sizeof name, "idle_sispd_%zu_held", n);
            row(name, "conns", &hsd, 1, work);
            snprintf(name, sizeof name, "idle_sispd_%zu_per_conn", n);
            row(name, "KiB", &ks, 1, work);
            snprintf(name, sizeof name, "idle_sispd/echo_%zu", n);
            row(name, "ratio", &r, 1, "-");
            double rss = (double)s1 / 1024.0;
            snprintf(name, sizeof name, "idle_sispd_%zu_rss_total", n);
            row(name, "MiB", &rss, 1, work);
            snprintf(name, sizeof name, "idle_echo_%zu_after_download_per_conn", n);
            row(name, "KiB", &de, 1, work);
            snprintf(name, sizeof name, "idle_sispd_%zu_after_download_per_conn", n);
            row(name, "KiB", &ds, 1, work);
            if (held_s != n)
                fail_msg("sispd held %zu of %zu connections", held_s, n);
        } else {
            say("fanout: opening %zu member connections to sispd", n);
            size_t ok = open_many(K_SISP, v, n, 64, 600);
            if (ok != n)
                fail_msg("fanout: %zu of %zu connections", ok, n);
        }
        if (do_fan) {
            fan_t fs[MAX_REPS], fm[MAX_REPS];
            bconn_t *poster = bc_connect_wait(K_SISP, 0);
            int ok_s = poster != NULL, ok_m = 0;
            say("fanout: %zu members, %u posts (sispd)%s", n, reps,
                opt.mosquitto ? ", then mosquitto" : "");
            char phase[32];
            snprintf(phase, sizeof phase, "fanout%zu", n);
            for (unsigned r = 0; ok_s && r < reps; r++) {
                prof_on(phase, "sispd", W.srv.pid);
                int rc = fan_sisp_round(poster, v, n, r, &fs[r]);
                prof_off();
                if (rc != 0) {
                    ok_s = 0;
                    break;
                }
                say("  sispd %u: first %.2f median %.2f p99 %.2f last %.2f ms after POSTED "
                    "(last %.2f ms after POST_END sent)",
                    r, fs[r].first, fs[r].median, fs[r].p99, fs[r].last, fs[r].from_end_last);
            }
            bc_close(poster);
            close_all(v, n);
            if (opt.mosquitto) {
                ok_m = fan_mq(n, reps, fm) == 0;
                for (unsigned r = 0; ok_m && r < reps; r++)
                    say("  mosquitto %u: first %.2f median %.2f p99 %.2f last %.2f ms after "
                        "PUBLISH written",
                        r, fm[r].first, fm[r].median, fm[r].p99, fm[r].last);
            }
            if (ok_s)
                fan_rows("sispd", n, fs, reps);
            if (ok_m) {
                fan_rows("mosquitto", n, fm, reps);
                double rl[MAX_REPS], rm[MAX_REPS], ep[MAX_REPS];
                for (unsigned r = 0; ok_s && r < reps; r++) {
                    rl[r] = fm[r].last > 0 ? fs[r].last / fm[r].last : 0;
                    rm[r] = fm[r].median > 0 ? fs[r].median / fm[r].median : 0;
                    ep[r] = fs[r].from_end_last;
                }
                if (ok_s) {
                    char name[64];
                    snprintf(name, sizeof name, "fanout_%zu_last_sispd/mosquitto", n);
                    row(name, "ratio", rl, reps, "-");
                    snprintf(name, sizeof name, "fanout_%zu_median_sispd/mosquitto", n);
                    row(name, "ratio", rm, reps, "-");
                    snprintf(name, sizeof name, "fanout_sispd_%zu_last_from_post_end", n);
                    row(name, "ms", ep, reps, work);
                }
            }
        } else {
            close_all(v, n);
        }
        sealed_free(&img);
        free(v);
        free(fan_arrival);
        fan_arrival = NULL;
        world_down();
    }
}

/* ---- the real client, end to end ---- */

/* Runs argv with stdin from /dev/null and stdout and stderr appended to log: 0 when it exits
 * 0; its wall time and its CPU time (user + system, from wait4). */
static int run_prog(char *const argv[], const char *log, double *wall, double *cpu) {
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0)
            _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        return -1;
    *wall = now() - t0;
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* With --perf, argv run under `perf record` into DIR/NAME-sisp.data (the last run's). */
static char *const *profiled(char *const argv[], const char *name) {
    static char *v[48], data[400];
    if (opt.perf_dir == NULL)
        return argv;
    snprintf(data, sizeof data, "%.300s/%.63s-sisp.data", opt.perf_dir, name);
    unlink(data); /* not kept as .old */
    static const char *const pre[] = {"perf",      "record", "-q",   "-e",
                                      "cpu-clock", "-F",     "4999", "--call-graph=dwarf,16384",
                                      "-o",        NULL,     "--"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        v[n++] = pre[i] ? (char *)(uintptr_t)pre[i] : data;
    for (size_t i = 0; argv[i] != NULL && n < sizeof v / sizeof *v - 1; i++)
        v[n++] = argv[i];
    v[n] = NULL;
    return v;
}

static int same_file(const char *path, const uint8_t *want, size_t len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    uint8_t *p = malloc(len + 1);
    size_t n = p ? fread(p, 1, len + 1, f) : 0;
    fclose(f);
    int same = p != NULL && n == len && memcmp(p, want, len) == 0;
    free(p);
    return same;
}

/* `sisp post_image` and `sisp download` of one image (--bulk-mib, a PNG's first bytes then
 * noise), each a new process as a user runs it, against a fresh sispd whose first (and only)
 * user the client registered: MB/s of plaintext, wall and CPU time of the client and sispd. */
static void scenario_client(void) {
    if (opt.sisp_cli == NULL) {
        fail_msg("client: --sisp PATH is needed");
        return;
    }
    static const char *const extra[] = {"--quota", "1099511627776", "--max-image", "1073741824",
                                        NULL};
    static tserver_t srv;
    memset(&srv, 0, sizeof srv);
    uint8_t *plain = make_plain(opt.bulk_bytes);
    if (plain == NULL || ts_start(&srv, opt.sispd, extra) != 0) {
        fail_msg("client: sispd did not start");
        free(plain);
        return;
    }
    pin_tasks(srv.pid, 0);
    char home[400], img[400], out[400], log[400], server[64], name[64];
    snprintf(home, sizeof home, "%s/client-home", srv.dir);
    snprintf(img, sizeof img, "%s/client-image.png", srv.dir);
    snprintf(log, sizeof log, "%s/client.log", srv.dir);
    snprintf(server, sizeof server, "127.0.0.1:%d", srv.port);
    char *cli = (char *)(uintptr_t)opt.sisp_cli;
    double pw[MAX_REPS], pc[MAX_REPS], ps[MAX_REPS], pr[MAX_REPS];
    double dw[MAX_REPS], dc[MAX_REPS], ds[MAX_REPS], dr[MAX_REPS];
    unsigned got = 0, reps = opt.reps;
    double w, cpu;
    char *reg[] = {cli,
                   (char *)(uintptr_t) "--home",
                   home,
                   (char *)(uintptr_t) "--server",
                   server,
                   (char *)(uintptr_t) "--fingerprint",
                   srv.fingerprint,
                   (char *)(uintptr_t) "register",
                   (char *)(uintptr_t) "e2e",
                   NULL};
    if (write_file(img, plain, opt.bulk_bytes) != 0 || run_prog(reg, log, &w, &cpu) != 0) {
        fail_msg("client: cannot register with the real client (see %s)", log);
        goto out;
    }
    say("client: %s post_image and download of %zu bytes, %u repetitions after a warm-up",
        opt.sisp_cli, opt.bulk_bytes, reps);
    for (unsigned r = 0; r <= reps; r++) {
        snprintf(name, sizeof name, "e2e-%u", r);
        snprintf(out, sizeof out, "%s/client-out-%u.png", srv.dir, r);
        char *post[] = {
            cli, (char *)(uintptr_t) "--home", home, (char *)(uintptr_t) "post_image", name, img,
            NULL};
        char *down[] = {cli,  (char *)(uintptr_t) "--home", home, (char *)(uintptr_t) "download",
                        name, (char *)(uintptr_t) "-o",     out,  NULL};
        double s0 = proc_cpu(srv.pid);
        int rc = run_prog(profiled(post, "client_post_image"), log, &pw[got], &pc[got]);
        double s1 = proc_cpu(srv.pid);
        if (rc == 0)
            rc = run_prog(profiled(down, "client_download"), log, &dw[got], &dc[got]);
        double s2 = proc_cpu(srv.pid);
        if (rc != 0 || !same_file(out, plain, opt.bulk_bytes)) {
            fail_msg("client: post_image or download failed, or the download differs (see %s)",
                     log);
            goto out;
        }
        unlink(out);
        ps[got] = (s1 - s0) * 1e3;
        ds[got] = (s2 - s1) * 1e3;
        pr[got] = (double)opt.bulk_bytes / 1e6 / pw[got];
        dr[got] = (double)opt.bulk_bytes / 1e6 / dw[got];
        say("  %u: post_image %.1f ms (client CPU %.1f ms, sispd %.1f ms), download %.1f ms "
            "(client CPU %.1f ms, sispd %.1f ms)%s",
            r, pw[got] * 1e3, pc[got] * 1e3, ps[got], dw[got] * 1e3, dc[got] * 1e3, ds[got],
            r == 0 ? " (warm-up)" : "");
        if (r == 0)
            continue;
        pw[got] *= 1e3;
        pc[got] *= 1e3;
        dw[got] *= 1e3;
        dc[got] *= 1e3;
        got++;
    }
    char work[32];
    snprintf(work, sizeof work, "%zu", opt.bulk_bytes);
    row("client_post_image", "MB/s", pr, got, work);
    row("client_post_image_wall", "ms", pw, got, work);
    row("client_post_image_client_cpu", "cpu-ms", pc, got, work);
    row("client_post_image_sispd_cpu", "cpu-ms", ps, got, work);
    row("client_download", "MB/s", dr, got, work);
    row("client_download_wall", "ms", dw, got, work);
    row("client_download_client_cpu", "cpu-ms", dc, got, work);
    row("client_download_sispd_cpu", "cpu-ms", ds, got, work);
out:
    free(plain);
    if (ts_stop(&srv) != 0)
        fail_msg("sispd did not stop cleanly on SIGTERM");
    ts_cleanup(&srv);
}

/* ---- main ---- */

static void usage(void) {
    fprintf(stderr,
            "usage: sisp-bench --sispd PATH --echo PATH [options] SCENARIO...\n"
            "scenarios: handshakes bulk conc posts idle fanout client\n"
            "           conns (= idle then fanout), all (all but client unless --sisp is given)\n"
            "options:\n"
            "  --nginx PATH         measure nginx too (handshakes, bulk, conc)\n"
            "  --mosquitto PATH     measure mosquitto's fan-out too\n"
            "  --sisp PATH          the client program, for the client scenario\n"
            "  --perf DIR           profile sispd and nginx in their timed windows (perf record)\n"
            "  --reps N             repetitions (default 5)\n"
            "  --bulk-reps N        repetitions of bulk and conc (default: --reps)\n"
            "  --handshakes N       connections per handshake round (default 4000)\n"
            "  --parallel N         handshakes in flight (default 32)\n"
            "  --bulk-mib N         bulk (and client) image size (default 16)\n"
            "  --same-conn          bulk: all transfers on one connection per server\n"
            "  --stall-ms N         bulk: stop reading N ms after IMAGE_BEGIN (a slow reader)\n"
            "  --conc N             conc: concurrent downloads (default 8, at most 64)\n"
            "  --conc-mib N         conc: image size (default 4)\n"
            "  --clients N          posting clients (default 64)\n"
            "  --posts N            posts per client per round (default 16)\n"
            "  --conns N[,N...]     connection counts for idle/fanout (default 1000)\n"
            "  --users N            users the connections log in as (default 8)\n"
            "  --pin                the servers on CPU 0, sisp-bench (and the client) on CPU 1\n"
            "  --smoke              tiny everything (ctest)\n");
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = 20000;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        want = rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    say("RLIMIT_NOFILE %llu (inherited by the servers started here)",
        (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
    opt.reps = 5;
    opt.hs_count = 4000;
    opt.hs_parallel = 32;
    opt.bulk_bytes = 16 * MIB;
    opt.conc_n = 8;
    opt.conc_bytes = 4 * MIB;
    opt.post_clients = 64;
    opt.posts_per_client = 16;
    opt.post_bytes = 100 * 1024;
    opt.conns[0] = 1000;
    opt.n_conns = 1;
    opt.users = 8;
    enum { S_HS, S_BULK, S_CONC, S_POSTS, S_IDLE, S_FAN, S_CLIENT, N_SCEN };
    int want[N_SCEN] = {0};
    static const char *const names[N_SCEN] = {"handshakes", "bulk",   "conc",  "posts",
                                              "idle",       "fanout", "client"};
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--smoke") == 0) {
            opt.smoke = 1;
            continue;
        }
        if (strcmp(a, "--same-conn") == 0) {
            opt.same_conn = 1;
            continue;
        }
        if (strcmp(a, "--pin") == 0) {
            opt.pin = 1;
            continue;
        }
        if (a[0] != '-')
            break;
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--sispd") == 0)
            opt.sispd = v;
        else if (strcmp(a, "--echo") == 0)
            opt.echo = v;
        else if (strcmp(a, "--mosquitto") == 0)
            opt.mosquitto = v[0] ? v : NULL;
        else if (strcmp(a, "--nginx") == 0)
            opt.nginx = v[0] ? v : NULL;
        else if (strcmp(a, "--sisp") == 0)
            opt.sisp_cli = v[0] ? v : NULL;
        else if (strcmp(a, "--perf") == 0)
            opt.perf_dir = v[0] ? v : NULL;
        else if (strcmp(a, "--conc") == 0)
            opt.conc_n = (unsigned)atoi(v);
        else if (strcmp(a, "--conc-mib") == 0)
            opt.conc_bytes = (size_t)atoi(v) * MIB;
        else if (strcmp(a, "--reps") == 0)
            opt.reps = (unsigned)atoi(v);
        else if (strcmp(a, "--bulk-reps") == 0)
            opt.bulk_reps = (unsigned)atoi(v);
        else if (strcmp(a, "--handshakes") == 0)
            opt.hs_count = (unsigned)atoi(v);
        else if (strcmp(a, "--parallel") == 0)
            opt.hs_parallel = (unsigned)atoi(v);
        else if (strcmp(a, "--bulk-mib") == 0)
            opt.bulk_bytes = (size_t)atoi(v) * MIB;
        else if (strcmp(a, "--clients") == 0)
            opt.post_clients = (unsigned)atoi(v);
        else if (strcmp(a, "--posts") == 0)
            opt.posts_per_client = (unsigned)atoi(v);
        else if (strcmp(a, "--stall-ms") == 0)
            opt.stall_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--users") == 0)
            opt.users = (unsigned)atoi(v);
        else if (strcmp(a, "--conns") == 0) {
            opt.n_conns = 0;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && opt.n_conns < 8;
                 t = strtok_r(NULL, ",", &save))
                opt.conns[opt.n_conns++] = (unsigned)atoi(t);
        } else {
            usage();
            return 2;
        }
    }
    for (; i < argc; i++) {
        int found = 0;
        for (int k = 0; k < N_SCEN; k++)
            if (strcmp(argv[i], names[k]) == 0 ||
                (strcmp(argv[i], "all") == 0 && (k != S_CLIENT || opt.sisp_cli != NULL)) ||
                (strcmp(argv[i], "conns") == 0 && (k == S_IDLE || k == S_FAN)))
                want[k] = found = 1;
        if (!found) {
            usage();
            return 2;
        }
    }
    int any = 0;
    for (int k = 0; k < N_SCEN; k++)
        any |= want[k];
    if (opt.smoke) {
        opt.reps = 1;
        opt.bulk_reps = 1;
        opt.hs_count = 10;
        opt.hs_parallel = 4;
        opt.bulk_bytes = MIB;
        opt.conc_n = 2;
        opt.conc_bytes = MIB;
        opt.post_clients = 4;
        opt.posts_per_client = 2;
        opt.conns[0] = 10;
        opt.n_conns = 1;
        opt.users = 2;
        if (!any)
            for (int k = 0; k < N_SCEN; k++)
                want[k] = any = k != S_CLIENT || opt.sisp_cli != NULL;
    }
    if (opt.bulk_reps == 0)
        opt.bulk_reps = opt.reps;
    if (opt.sispd == NULL || opt.echo == NULL || opt.reps == 0 || opt.reps >= MAX_REPS ||
        opt.bulk_reps >= MAX_REPS || opt.users == 0 || opt.users > MAX_USERS ||
        opt.post_clients == 0 || opt.hs_count == 0 || opt.hs_parallel == 0 || opt.bulk_bytes == 0 ||
        opt.conc_n == 0 || opt.conc_n > 64 || opt.conc_bytes == 0 || !any) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    clk_tck = sysconf(_SC_CLK_TCK);
    raise_nofile();
    if (opt.pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(1, &set);
        if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_setaffinity(0, sizeof set, &set) != 0) {
            say("--pin needs two CPUs: not pinned");
            opt.pin = 0;
        }
    }
    wolfSSL_Init();
    sisp_buf_init(&scratch, 0);
    printf("# sisp-bench reps=%u wolfssl=%s build=%s suites=%s libuv=%s%s%s\n", opt.reps,
           LIBWOLFSSL_VERSION_STRING, sisp_crypto_accelerated() ? "accelerated" : "system",
           sisp_tls13_suites(), uv_version_string(), opt.smoke ? " smoke" : "",
           opt.pin ? " pinned: servers on CPU 0, sisp-bench on CPU 1" : "");
    printf("%-36s %-8s %12s %12s %12s %4s %s\n", "metric", "unit", "median", "min", "max", "reps",
           "work");
    if (opt.nginx)
        printf("# nginx: %s, one process (master_process off), TLS 1.3 only, mutual\n", opt.nginx);
    if (want[S_HS])
        scenario_handshakes();
    if (want[S_BULK])
        scenario_bulk();
    if (want[S_CONC])
        scenario_conc();
    if (want[S_POSTS])
        scenario_posts();
    if (want[S_IDLE] || want[S_FAN])
        scenario_conns(want[S_IDLE], want[S_FAN]);
    if (want[S_CLIENT])
        scenario_client();
    sisp_buf_free(&scratch);
    wolfSSL_Cleanup();
    printf("# %s\n", failures ? "FAILURES (see above)" : "all scenarios completed");
    return failures ? 1 : 0;
}
