/* sisp-bench-echo: the bare wolfSSL reference for sisp-bench. A TLS 1.3 server on libuv with
 * sispd's TLS settings (server/tls.c): TLS 1.3 only, the Ed25519 server certificate and key of
 * a sispd data directory, client certificates requested and verified against that directory's
 * CA (a client may also come without one), verify depth 1, X25519 preferred, no session
 * tickets, no session cache, TCP_NODELAY. Nothing else: wolfSSL does its own socket I/O on a
 * non-blocking fd that a uv_poll_t watches, the least a libuv TLS server can do.
 *
 * After the handshake the client sends commands, each a 9-byte header (op, then a 64-bit
 * big-endian length):
 *   'E' n  the next n bytes are echoed back
 *   'U' n  the next n bytes are read and dropped, then one byte 'K' is sent (an upload)
 *   'H' n  the same, and the n bytes are hashed with SHA-256 as they come, as sispd hashes an
 *          upload's ciphertext (sisp_sha256: the same code); the ack is the hash's first byte
 *   'D' n  n bytes are sent (a download)
 *
 *   sisp-bench-echo --data DIR [--listen 127.0.0.1:PORT]
 * prints "sisp-bench-echo listening on 127.0.0.1:PORT" when ready; SIGTERM or SIGINT stops it. */
#define _GNU_SOURCE
#include <sisp/crypto.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define IO_MAX 16384 /* one TLS record of plaintext */

typedef struct {
    uv_poll_t poll;
    int fd;
    WOLFSSL *ssl;
    int hs_done;
    int events; /* what poll watches now */
    uint8_t hdr[9];
    size_t hdr_len;
    int op; /* 0: reading a header */
    uint64_t left;
    const uint8_t *wptr; /* a wolfSSL_write to repeat with the same arguments */
    int wlen;
    int ack;            /* 'U' done: the ack byte is what wptr points at */
    sisp_sha256_t hash; /* 'H' */
    uint8_t digest[SISP_SHA256_SIZE];
    uint8_t buf[IO_MAX];
} econn_t;

static WOLFSSL_CTX *ctx;
static uv_loop_t *loop;
static uv_poll_t listen_poll;
static int listen_fd = -1;
static uv_signal_t sigint_h, sigterm_h;
static uint8_t pattern[IO_MAX];
static const uint8_t ack_byte = 'K';

static int read_file(const char *dir, const char *name, uint8_t **out, long *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "sisp-bench-echo: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *p = malloc(65536);
    size_t n = p ? fread(p, 1, 65536, f) : 0;
    fclose(f);
    if (n == 0) {
        free(p);
        return -1;
    }
    *out = p;
    *len = (long)n;
    return 0;
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store) {
    (void)store;
    return preverify; /* chain and dates, as sispd; no certificate at all is allowed too */
}

static void on_event(uv_poll_t *p, int status, int events);

static void on_closed(uv_handle_t *h) {
    econn_t *c = (econn_t *)h;
    if (c->op == 'H')
        sisp_sha256_free(&c->hash);
    wolfSSL_free(c->ssl);
    close(c->fd);
    free(c);
}

static void econn_close(econn_t *c) {
    if (!uv_is_closing((uv_handle_t *)&c->poll))
        uv_close((uv_handle_t *)&c->poll, on_closed);
}

static void watch(econn_t *c, int want_write) {
    int ev = UV_READABLE | (want_write ? UV_WRITABLE : 0);
    if (ev != c->events) {
        c->events = ev;
        uv_poll_start(&c->poll, ev, on_event);
    }
}

/* 1: go on; 0: wait (poll set); -1: closed. */
static int wait_or_close(econn_t *c, int ret) {
    int e = wolfSSL_get_error(c->ssl, ret);
    if (e == WOLFSSL_ERROR_WANT_READ) {
        watch(c, 0);
        return 0;
    }
    if (e == WOLFSSL_ERROR_WANT_WRITE) {
        watch(c, 1);
        return 0;
    }
    econn_close(c);
    return -1;
}

static void drive(econn_t *c) {
    if (!c->hs_done) {
        int r = wolfSSL_accept(c->ssl);
        if (r != WOLFSSL_SUCCESS) {
            wait_or_close(c, r);
            return;
        }
        c->hs_done = 1;
    }
    for (;;) {
        if (c->wlen > 0) {
            int r = wolfSSL_write(c->ssl, c->wptr, c->wlen);
            if (r <= 0) {
                wait_or_close(c, r);
                return;
            }
            c->wlen = 0;
            if (c->op == 'D' && c->left == 0)
                c->op = 0;
            watch(c, 0);
            continue;
        }
        if (c->op == 'D') {
            int n = c->left < IO_MAX ? (int)c->left : IO_MAX;
            c->left -= (uint64_t)n;
            c->wptr = pattern;
            c->wlen = n;
            continue;
        }
        if (c->op == 0) {
            int r = wolfSSL_read(c->ssl, c->hdr + c->hdr_len, (int)(sizeof c->hdr - c->hdr_len));
            if (r <= 0) {
                wait_or_close(c, r);
                return;
            }
            c->hdr_len += (size_t)r;
            if (c->hdr_len < sizeof c->hdr)
                continue;
            c->hdr_len = 0;
            c->op = c->hdr[0];
            c->left = 0;
            for (int i = 1; i < 9; i++)
                c->left = c->left << 8 | c->hdr[i];
            if (c->op != 'E' && c->op != 'U' && c->op != 'D' && c->op != 'H') {
                econn_close(c);
                return;
            }
            if (c->op == 'H' && (c->left == 0 || sisp_sha256_init(&c->hash) != 0)) {
                econn_close(c);
                return;
            }
            if (c->left == 0 && c->op != 'D')
                c->op = 0;
            continue;
        }
        /* 'E', 'U' or 'H': read some of the payload */
        int want = c->left < IO_MAX ? (int)c->left : IO_MAX;
        int r = wolfSSL_read(c->ssl, c->buf, want);
        if (r <= 0) {
            wait_or_close(c, r);
            return;
        }
        c->left -= (uint64_t)r;
        if (c->op == 'H' && sisp_sha256_update(&c->hash, c->buf, (size_t)r) != 0) {
            econn_close(c);
            return;
        }
        if (c->op == 'E') {
            c->wptr = c->buf;
            c->wlen = r;
        } else if (c->op == 'H' && c->left == 0) {
            if (sisp_sha256_final(&c->hash, c->digest) != 0) {
                econn_close(c);
                return;
            }
            c->wptr = c->digest;
            c->wlen = 1;
        } else if (c->left == 0) {
            c->wptr = &ack_byte;
            c->wlen = 1;
        }
        if (c->left == 0)
            c->op = 0;
    }
}

static void on_event(uv_poll_t *p, int status, int events) {
    econn_t *c = (econn_t *)p;
    (void)events;
    if (status < 0) {
        econn_close(c);
        return;
    }
    drive(c);
}

static void on_accept(uv_poll_t *p, int status, int events) {
    (void)p;
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of fds: the next event retries */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        econn_t *c = calloc(1, sizeof *c);
        if (c == NULL || (c->ssl = wolfSSL_new(ctx)) == NULL) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        wolfSSL_set_fd(c->ssl, fd);
        if (uv_poll_init(loop, &c->poll, fd) != 0) {
            wolfSSL_free(c->ssl);
            close(fd);
            free(c);
            continue;
        }
        c->events = UV_READABLE;
        uv_poll_start(&c->poll, UV_READABLE, on_event);
    }
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_POLL && h != (uv_handle_t *)&listen_poll ? on_closed : NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    (void)signum;
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *listen_at = "127.0.0.1:0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--listen") == 0)
            listen_at = argv[i + 1];
    }
    if (dir == NULL) {
        fprintf(stderr, "usage: sisp-bench-echo --data SISPD_DATA_DIR [--listen 127.0.0.1:PORT]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 31 + 7);

    uint8_t *cert, *key, *ca;
    long cert_len, key_len, ca_len;
    if (read_file(dir, "server.crt", &cert, &cert_len) ||
        read_file(dir, "server.key", &key, &key_len) || read_file(dir, "ca.crt", &ca, &ca_len))
        return 1;
    wolfSSL_Init();
    ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
    if (ctx == NULL ||
        wolfSSL_CTX_use_certificate_buffer(ctx, cert, cert_len, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, key_len, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_load_verify_buffer(ctx, ca, ca_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(ctx, groups, 2) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(ctx, sisp_tls13_suites()) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_no_ticket_TLSv13(ctx) != 0) {
        fprintf(stderr, "sisp-bench-echo: cannot set up TLS from %s\n", dir);
        return 1;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, verify_cb);
    wolfSSL_CTX_set_verify_depth(ctx, 1);
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    free(cert);
    free(key);
    free(ca);

    char host[64];
    const char *colon = strrchr(listen_at, ':');
    if (colon == NULL || (size_t)(colon - listen_at) >= sizeof host)
        return 2;
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = '\0';
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return 2;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 1024) != 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("sisp-bench-echo: listen");
        return 1;
    }
    loop = uv_default_loop();
    uv_poll_init(loop, &listen_poll, listen_fd);
    uv_poll_start(&listen_poll, UV_READABLE, on_accept);
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    printf("sisp-bench-echo listening on %s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    close(listen_fd);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return 0;
}
