/* sispd: the sisp server. See README.md and docs/PROTOCOL.md. */
#include "ca.h"
#include "conn.h"
#include "log.h"
#include "store.h"

#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/names.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

typedef struct {
    const char *data;
    char host[256];
    int port;
    sisp_server_cfg_t cfg;
    sisp_net_cfg_t net;
} opts_t;

static void usage(FILE *f) {
    fprintf(
        f, "usage: sispd [options]                 run the server\n"
           "       sispd [--data DIR] invite [--days N]   print a one-time registration code\n"
           "       sispd [--data DIR] users         list registered users\n"
           "       sispd [--data DIR] revoke USER   revoke a user's certificate\n"
           "       sispd --version                  version and the TLS library build\n"
           "options:\n"
           "  --data DIR              data directory (default ./sisp-data)\n"
           "  --listen HOST:PORT      address to listen on (default 127.0.0.1:7443; port 0 = any)\n"
           "  --registration MODE     open | invite (default open)\n"
           "  --quota BYTES           per-user storage quota (default 1 GiB)\n"
           "  --max-image BYTES       largest image accepted (default 256 MiB)\n"
           "  --cert-days N           validity of issued certificates (default 825)\n"
           "  --register-rate N       REGISTER attempts per address per minute (default 10)\n"
           "  --max-conns N           connections in all (default 20000)\n"
           "  --max-preauth N         connections without a certificate (default 1024)\n"
           "  --max-per-addr N        connections from one address (default 20000)\n"
           "  --handshake-timeout S   seconds for TLS and HELLO (default 10)\n"
           "  --idle-timeout S        seconds without a frame before closing (default 300)\n"
           "  --min-rate BYTES        bytes/s a client must keep sending while a frame or\n"
           "                          an upload is under way (default 1024; 0 = none)\n"
           "  --rate-window S         seconds the minimum rate is averaged over (default 20)\n"
           "  --push-queue BYTES      notifications a slow client may have queued before it\n"
           "                          is dropped (default 4 MiB)\n"
           "  --push-count N          the same, counted (default 4096)\n"
           "  --verbose               debug logging\n");
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, unsigned *out) {
    uint64_t v;
    if (parse_u64(s, &v) != 0 || v > 0xffffffffu)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_listen(const char *s, opts_t *o) {
    const char *colon = strrchr(s, ':');
    unsigned port;
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof o->host ||
        parse_uint(colon + 1, &port) != 0 || port > 65535)
        return -1;
    memcpy(o->host, s, (size_t)(colon - s));
    o->host[colon - s] = '\0';
    if (o->host[0] == '[') { /* [::1]:port */
        size_t n = strlen(o->host);
        if (n < 3 || o->host[n - 1] != ']')
            return -1;
        memmove(o->host, o->host + 1, n - 2);
        o->host[n - 2] = '\0';
    }
    o->port = (int)port;
    return 0;
}

/* ---- admin subcommands ---- */

static void print_user(void *arg, const sisp_user_rec_t *u) {
    (void)arg;
    char when[32];
    time_t t = (time_t)u->registered_at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    printf("%-32s serial %-8llu registered %s%s\n", u->user, (unsigned long long)u->serial, when,
           u->revoked ? "  REVOKED" : "");
}

static int admin(const opts_t *o, int argc, char **argv) {
    sisp_store_t *st = NULL;
    int rc = sisp_store_open(o->data, &st);
    if (rc != 0) {
        fprintf(stderr, "sispd: cannot open the store in %s: %s\n", o->data, sisp_strerror(rc));
        return 1;
    }
    if (strcmp(argv[0], "users") == 0 && argc == 1) {
        rc = sisp_store_users(st, print_user, NULL);
    } else if (strcmp(argv[0], "revoke") == 0 && argc == 2) {
        if (sisp_check_username(argv[1], strlen(argv[1])) != 0)
            rc = SISP_EUSERNAME;
        else if ((rc = sisp_store_user_revoke(st, argv[1])) == 0) {
            sisp_store_audit(st, "admin", "revoke", argv[1]);
            printf("revoked %s\n", argv[1]);
        }
    } else if (strcmp(argv[0], "invite") == 0 && (argc == 1 || argc == 3)) {
        unsigned days = 7;
        if (argc == 3 && (strcmp(argv[1], "--days") != 0 || parse_uint(argv[2], &days) != 0)) {
            usage(stderr);
            sisp_store_close(st);
            return 2;
        }
        sisp_rng_t rng;
        uint8_t raw[12];
        char code[32];
        static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* no 0/O, 1/I */
        rc = sisp_rng_init(&rng);
        if (rc == 0)
            rc = sisp_rng_bytes(&rng, raw, sizeof raw);
        sisp_rng_free(&rng);
        if (rc == 0) {
            size_t n = 0;
            for (size_t i = 0; i < sizeof raw; i++) {
                if (i > 0 && i % 4 == 0)
                    code[n++] = '-';
                code[n++] = alphabet[raw[i] % 32];
            }
            code[n] = '\0';
            rc = sisp_store_invite_add(st, code, (int64_t)time(NULL) + (int64_t)days * 86400);
            if (rc == 0)
                printf("%s\n", code);
        }
    } else {
        usage(stderr);
        sisp_store_close(st);
        return 2;
    }
    sisp_store_close(st);
    if (rc != 0) {
        fprintf(stderr, "sispd: %s: %s\n", argv[0], sisp_strerror(rc));
        return 1;
    }
    return 0;
}

/* ---- the server ---- */

static sisp_server_t *the_server;
static uv_signal_t sigint, sigterm;

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    sisp_log(SISP_LOG_INFO, "signal %d: shutting down", signum);
    /* Both watchers go: a loop with a live signal handle would never run dry. */
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    if (the_server)
        sisp_server_shutdown(the_server);
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int serve(const opts_t *o) {
    sisp_ca_t *ca = NULL;
    sisp_store_t *st = NULL;
    uv_loop_t loop;
    int rc, port = 0;

    /* One descriptor per connection: raise the soft limit as far as the hard one allows, so
     * --max-conns is what bounds connections, not an inherited default of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)o->net.max_conns + 64)
        sisp_log(SISP_LOG_WARN, "file descriptor limit %llu is below --max-conns %u",
                 (unsigned long long)rl.rlim_cur, o->net.max_conns);
    if (mkdir(o->data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "sispd: cannot create %s: %s\n", o->data, strerror(errno));
        return 1;
    }
    if ((rc = sisp_ca_open(o->data, strcmp(o->host, "0.0.0.0") ? o->host : "localhost", &ca)) !=
        0) {
        if (rc == SISP_ECERT)
            fprintf(stderr,
                    "sispd: the certificate authority in %s has expired (CA certificates last 10 "
                    "years); a new one means every user registers again\n",
                    o->data);
        else
            fprintf(stderr, "sispd: certificate authority in %s: %s\n", o->data, sisp_strerror(rc));
        return 1;
    }
    if ((rc = sisp_store_open(o->data, &st)) != 0) {
        fprintf(stderr, "sispd: store in %s: %s\n", o->data, sisp_strerror(rc));
        sisp_ca_free(ca);
        return 1;
    }
    uv_loop_init(&loop);
    rc = sisp_server_start(&loop, &o->net, &o->cfg, ca, st, o->host, o->port, &the_server, &port);
    if (rc != 0) {
        fprintf(stderr, "sispd: cannot listen on %s:%d: %s\n", o->host, o->port, sisp_strerror(rc));
    } else {
        uint8_t fp[SISP_SHA256_SIZE];
        char hex[2 * SISP_SHA256_SIZE + 1];
        sisp_ca_fingerprint(ca, fp);
        for (size_t i = 0; i < sizeof fp; i++)
            snprintf(hex + 2 * i, 3, "%02x", fp[i]);
        /* The handlers first: whoever waits for the ready line may stop us right after it. */
        uv_signal_init(&loop, &sigint);
        uv_signal_init(&loop, &sigterm);
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        printf("sispd listening on %s:%d fingerprint SHA256:%s\n", o->host, port, hex);
        fflush(stdout);
        sisp_log(SISP_LOG_INFO, "listening on %s:%d, registration %s; %s", o->host, port,
                 o->cfg.registration == SISP_REG_INVITE ? "by invite" : "open",
                 sisp_crypto_build());
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sisp_server_free(the_server);
    the_server = NULL;
    sisp_store_close(st);
    sisp_ca_free(ca);
    if (rc == 0)
        sisp_log(SISP_LOG_INFO, "stopped");
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    opts_t o;
    memset(&o, 0, sizeof o);
    o.data = "./sisp-data";
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    o.port = 7443;
    sisp_server_cfg_default(&o.cfg);
    sisp_net_cfg_default(&o.net);
    signal(SIGPIPE, SIG_IGN);

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("sispd 0.1\n%s\n", sisp_crypto_build());
            return 0;
        } else if (strcmp(a, "--verbose") == 0) {
            sisp_log_set_level(SISP_LOG_DEBUG);
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "sispd: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--data") == 0)
            o.data = v;
        else if (strcmp(a, "--listen") == 0)
            bad = parse_listen(v, &o);
        else if (strcmp(a, "--registration") == 0) {
            if (strcmp(v, "open") == 0)
                o.cfg.registration = SISP_REG_OPEN;
            else if (strcmp(v, "invite") == 0)
                o.cfg.registration = SISP_REG_INVITE;
            else
                bad = 1;
        } else if (strcmp(a, "--quota") == 0)
            bad = parse_u64(v, &o.cfg.quota_bytes);
        else if (strcmp(a, "--max-image") == 0)
            bad = parse_u64(v, &o.cfg.max_image_bytes);
        else if (strcmp(a, "--cert-days") == 0)
            bad = parse_uint(v, &o.cfg.cert_days) || o.cfg.cert_days == 0;
        else if (strcmp(a, "--register-rate") == 0)
            bad = parse_uint(v, &o.cfg.register_per_min);
        else if (strcmp(a, "--max-conns") == 0)
            bad = parse_uint(v, &o.net.max_conns);
        else if (strcmp(a, "--max-preauth") == 0)
            bad = parse_uint(v, &o.net.max_preauth);
        else if (strcmp(a, "--max-per-addr") == 0)
            bad = parse_uint(v, &o.net.max_per_addr);
        else if (strcmp(a, "--handshake-timeout") == 0)
            bad = parse_uint(v, &o.net.handshake_timeout) || o.net.handshake_timeout == 0;
        else if (strcmp(a, "--min-rate") == 0)
            bad = parse_uint(v, &o.net.min_rate);
        else if (strcmp(a, "--rate-window") == 0)
            bad = parse_uint(v, &o.net.rate_window) || o.net.rate_window == 0;
        else if (strcmp(a, "--idle-timeout") == 0)
            bad = parse_uint(v, &o.net.idle_timeout) || o.net.idle_timeout < 2;
        else if (strcmp(a, "--push-queue") == 0) {
            bad = parse_u64(v, &n) || n < 4096;
            o.cfg.push_queue_bytes = (size_t)n;
        } else if (strcmp(a, "--push-count") == 0) {
            bad = parse_u64(v, &n) || n < 16 || n > 1000000;
            o.cfg.push_queue_count = (size_t)n;
        } else {
            fprintf(stderr, "sispd: unknown option %s (see sispd --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "sispd: bad value for %s: %s\n", a, v);
            return 2;
        }
    }
    if (i < argc)
        return admin(&o, argc - i, argv + i);
    return serve(&o);
}
