/* The client's TLS 1.3 connection to sispd: see tlsclient.h. */
#define _DEFAULT_SOURCE
#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/tlsclient.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct sisp_tlsc {
    int fd;
    int timeout_ms;
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    int verify_failed; /* the pinned CA did not verify the server's chain */
};

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    if (why == NULL || n == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

static void set_timeouts(int fd, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects with a deadline: a non-blocking connect, then poll. */
static int tcp_connect(const char *host, const char *port, int timeout_ms, char *why,
                       size_t why_len) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        say(why, why_len, "cannot resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (poll(&p, 1, timeout_ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                rc = 0;
            else
                errno = soerr ? soerr : ETIMEDOUT;
        }
        if (rc != 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        say(why, why_len, "cannot connect to %s: %s", host, strerror(saved ? saved : EIO));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeouts(fd, timeout_ms);
    return fd;
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store) {
    WOLFSSL *ssl =
        wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
    sisp_tlsc_t *t = ssl ? wolfSSL_get_ex_data(ssl, 0) : NULL;
    if (!preverify && t != NULL)
        t->verify_failed = 1;
    return preverify;
}

static int setup_ctx(sisp_tlsc_t *t, const sisp_tlsc_opts_t *o) {
    t->ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
    if (t->ctx == NULL)
        return SISP_ENOMEM;
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
    if (wolfSSL_CTX_set_groups(t->ctx, groups, 2) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(t->ctx, sisp_tls13_suites()) != WOLFSSL_SUCCESS)
        return SISP_ECRYPTO;
    if (o->ca != NULL) {
        if (o->ca_len > INT_MAX ||
            wolfSSL_CTX_load_verify_buffer(t->ctx, o->ca, (long)o->ca_len, WOLFSSL_FILETYPE_ASN1) !=
                WOLFSSL_SUCCESS)
            return SISP_EPIN;
        wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_PEER, verify_cb);
    } else {
        /* First contact: accept the chain so its CA can be read; the caller pins it and
         * reconnects with VERIFY_PEER before anything is sent. */
        wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    if (o->cert != NULL) {
        uint8_t der[256];
        size_t dlen = 0;
        int ok = o->cert_len <= INT_MAX && sisp_ident_der(o->id, der, sizeof der, &dlen) == 0 &&
                 wolfSSL_CTX_use_certificate_buffer(t->ctx, o->cert, (long)o->cert_len,
                                                    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
                 wolfSSL_CTX_use_PrivateKey_buffer(t->ctx, der, (long)dlen,
                                                   WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
        sisp_wipe(der, sizeof der);
        if (!ok)
            return SISP_EKEY;
    }
    return 0;
}

int sisp_tlsc_open(const sisp_tlsc_opts_t *o, sisp_tlsc_t **out, char *why, size_t why_len) {
    static int initialised;
    *out = NULL;
    if (!initialised) {
        if (wolfSSL_Init() != WOLFSSL_SUCCESS)
            return SISP_ECRYPTO;
        initialised = 1;
    }
    sisp_tlsc_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return SISP_ENOMEM;
    t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    t->fd = tcp_connect(o->host, o->port, t->timeout_ms, why, why_len);
    if (t->fd < 0) {
        free(t);
        return SISP_EIO;
    }
    int rc = setup_ctx(t, o);
    if (rc == 0 && (t->ssl = wolfSSL_new(t->ctx)) == NULL)
        rc = SISP_ENOMEM;
    if (rc == 0) {
        wolfSSL_set_ex_data(t->ssl, 0, t);
        wolfSSL_set_fd(t->ssl, t->fd);
        if (wolfSSL_connect(t->ssl) != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(t->ssl, 0);
            char buf[WOLFSSL_MAX_ERROR_SZ];
            if (t->verify_failed) {
                rc = SISP_EPIN;
                say(why, why_len, "%s does not present a certificate from the pinned CA%s", o->host,
                    "");
            } else if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
                rc = SISP_ETIMEDOUT;
                say(why, why_len, "TLS handshake with %s timed out", o->host);
            } else {
                rc = SISP_EAUTH;
                say(why, why_len, "TLS handshake with %s failed: %s", o->host,
                    wolfSSL_ERR_error_string((unsigned long)e, buf));
            }
        }
    } else {
        say(why, why_len, "cannot set up TLS for %s: %s", o->host, sisp_strerror(rc));
    }
    if (rc != 0) {
        sisp_tlsc_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void sisp_tlsc_close(sisp_tlsc_t *t) {
    if (t == NULL)
        return;
    if (t->ssl != NULL) {
        set_timeouts(t->fd, 200); /* close_notify is a courtesy, not worth a long wait */
        wolfSSL_shutdown(t->ssl);
        wolfSSL_free(t->ssl);
    }
    wolfSSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

int sisp_tlsc_server_ca(sisp_tlsc_t *t, sisp_buf_t *out) {
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(t->ssl);
    int n = chain ? wolfSSL_get_chain_count(chain) : 0;
    if (n < 2)
        return SISP_ENOTFOUND;
    int len = wolfSSL_get_chain_length(chain, n - 1);
    const unsigned char *der = wolfSSL_get_chain_cert(chain, n - 1);
    if (der == NULL || len <= 0)
        return SISP_ENOTFOUND;
    return sisp_buf_append(out, der, (size_t)len);
}

static int tls_read(void *io, uint8_t *buf, size_t cap, int timeout_ms) {
    sisp_tlsc_t *t = io;
    if (wolfSSL_pending(t->ssl) <= 0) {
        struct pollfd p = {t->fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            return 0;
        if (r < 0)
            return errno == EINTR ? 0 : SISP_EIO;
    }
    int n = wolfSSL_read(t->ssl, buf, cap > 65536 ? 65536 : (int)cap);
    if (n > 0)
        return n;
    int e = wolfSSL_get_error(t->ssl, n);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
        return 0; /* a record still incomplete after SO_RCVTIMEO: like a timeout */
    if (e == WOLFSSL_ERROR_ZERO_RETURN || e == SOCKET_PEER_CLOSED_E || n == 0)
        return SISP_ESHUTDOWN;
    return SISP_EIO;
}

static int tls_write(void *io, const uint8_t *p, size_t n) {
    sisp_tlsc_t *t = io;
    while (n > 0) {
        int chunk = n > 65536 ? 65536 : (int)n;
        int w = wolfSSL_write(t->ssl, p, chunk);
        if (w <= 0) {
            int e = wolfSSL_get_error(t->ssl, w);
            return e == WOLFSSL_ERROR_WANT_WRITE ? SISP_ETIMEDOUT : SISP_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void sisp_tlsc_transport(sisp_tlsc_t *t, sisp_transport_t *out) {
    out->read = tls_read;
    out->write = tls_write;
    out->io = t;
}

int sisp_tlsc_fd(const sisp_tlsc_t *t) {
    return t->fd;
}

int sisp_tlsc_pending(sisp_tlsc_t *t) {
    return wolfSSL_pending(t->ssl) > 0;
}

int sisp_tlsc_alert_received(sisp_tlsc_t *t) {
    WOLFSSL_ALERT_HISTORY h;
    if (t == NULL || wolfSSL_get_alert_history(t->ssl, &h) != WOLFSSL_SUCCESS ||
        h.last_rx.level != alert_fatal)
        return -1;
    return h.last_rx.code;
}
