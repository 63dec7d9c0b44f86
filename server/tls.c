/* TLS 1.3 for sispd: wolfSSL driven through memory-buffer I/O callbacks.
 *
 * Client certificates are checked in the verify callback, which this wolfSSL build calls for
 * every certificate, good or bad (WOLFSSL_ALWAYS_VERIFY_CB): a failed chain or date check is
 * refused as is; for the leaf that passed, the callback parses it (it must be one of ours in
 * shape) and asks the revocation callback. What it accepted is what sisp_tls_peer reports. */
#include "tls.h"

#include <sisp/crypto.h>
#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(WOLFSSL_TLS13) || !defined(WOLFSSL_ALWAYS_VERIFY_CB) || !defined(HAVE_ED25519) ||     \
    !defined(HAVE_CURVE25519) || !defined(HAVE_SUPPORTED_CURVES)
/* Without ALWAYS_VERIFY_CB the callback would not run for good certificates, and revoked
 * ones would pass. */
#error "sispd needs wolfSSL with TLS 1.3, Ed25519, X25519 and WOLFSSL_ALWAYS_VERIFY_CB"
#endif

#define OUT_SLACK (64u << 10) /* room above SISP_TLS_OUT_MAX for handshake messages and alerts */
#define IN_MAX (SISP_TLS_OUT_MAX + OUT_SLACK)
#define IN_KEEP (64u << 10) /* an emptied input buffer larger than this is released */
#define RECORD_PLAIN 16384u
#define RECORD_OVERHEAD 64u /* header, inner type, tag, with room to spare */

struct sisp_tls_ctx {
    WOLFSSL_CTX *ctx;
    sisp_tls_revoked_cb revoked;
    void *arg;
};

struct sisp_tls {
    WOLFSSL *ssl;
    sisp_tls_ctx_t *ctx;
    sisp_buf_t in; /* ciphertext fed, not yet taken by wolfSSL: in.data[in_pos, in.len) */
    size_t in_pos;
    sisp_buf_t out;
    sisp_cert_info_t peer;             /* the client certificate the verify callback accepted */
    uint8_t peer_fp[SISP_SHA256_SIZE]; /* SHA-256 of its DER */
    int have_peer;
    int rejected; /* the verify callback refused the client's certificate: SISP_E* */
    int done;     /* handshake finished */
    int err;      /* sticky: once set, every call returns it */
    char why[160];
};

/* ---- I/O callbacks ---- */

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    sisp_tls_t *t = arg;
    (void)ssl;
    size_t avail = t->in.len - t->in_pos;
    if (avail == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = sz > 0 ? (size_t)sz : 0;
    if (n > avail)
        n = avail;
    memcpy(buf, t->in.data + t->in_pos, n);
    t->in_pos += n;
    if (t->in_pos == t->in.len) {
        t->in.len = 0;
        t->in_pos = 0;
    }
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    sisp_tls_t *t = arg;
    (void)ssl;
    if (sz <= 0)
        return 0;
    if (t->out.len + (size_t)sz > SISP_TLS_OUT_MAX + OUT_SLACK)
        return WOLFSSL_CBIO_ERR_WANT_WRITE; /* the caller has not sent what is queued */
    if (sisp_buf_append(&t->out, buf, (size_t)sz) != 0)
        return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

/* ---- the client certificate ---- */

/* The X509_V_ERR codes this build's certificate store reports (wolfSSL has no text for
 * most of them). */
static const char *x509_reason(int code) {
    switch (code) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
        return "certificate not yet valid";
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        return "certificate expired";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return "self-signed certificate";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        return "issuer unknown (not our CA)";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "bad certificate signature";
    default:
        return "certificate verification failed";
    }
}

/* code: a wolfSSL error (negative) or, from the certificate store, an X509_V_ERR (positive). */
static void set_why(sisp_tls_t *t, const char *what, int code) {
    char reason[WOLFSSL_MAX_ERROR_SZ];
    if (code > 0)
        snprintf(reason, sizeof reason, "%s", x509_reason(code));
    else
        wolfSSL_ERR_error_string_n((unsigned long)code, reason, sizeof reason);
    snprintf(t->why, sizeof t->why, "%s: %s (%d)", what, reason, code);
}

static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store) {
    sisp_tls_t *t = store ? store->userCtx : NULL;
    if (t == NULL)
        return 0;
    if (!preverify) { /* chain, signature or dates failed */
        if (t->rejected == 0)
            t->rejected = SISP_EAUTH;
        set_why(t, "client certificate refused", store->error);
        return 0;
    }
    if (store->totalCerts == 0)
        return 1; /* no certificate sent: allowed (to register); sisp_tls_peer says so */
    if (wolfSSL_X509_STORE_CTX_get_error_depth(store) != 0)
        return 1; /* an intermediate that verified: the leaf's turn comes */
    WOLFSSL_X509 *x = wolfSSL_X509_STORE_CTX_get_current_cert(store);
    int len = 0;
    const unsigned char *der = x ? wolfSSL_X509_get_der(x, &len) : NULL;
    sisp_cert_info_t info;
    if (der == NULL || len <= 0 || sisp_cert_parse(der, (size_t)len, &info) != 0) {
        t->rejected = SISP_EAUTH;
        snprintf(t->why, sizeof t->why, "client certificate is not a sisp user certificate");
        return 0;
    }
    int r = t->ctx->revoked ? t->ctx->revoked(t->ctx->arg, info.serial) : 0;
    if (r != 0) {
        t->rejected = r == 1 ? SISP_EREVOKED : (r < 0 ? r : SISP_EINTERNAL);
        snprintf(t->why, sizeof t->why, "client certificate serial %llu %s",
                 (unsigned long long)info.serial,
                 r == 1 ? "is revoked" : "could not be checked for revocation");
        return 0;
    }
    if (sisp_sha256(der, (size_t)len, t->peer_fp) != 0) {
        t->rejected = SISP_EINTERNAL;
        snprintf(t->why, sizeof t->why, "cannot hash the client certificate");
        return 0;
    }
    t->peer = info;
    t->have_peer = 1;
    return 1;
}

/* ---- context ---- */

/* The server sends its certificate and the CA's, so that a client meeting the server for the
 * first time can pin the CA (trust on first use) from the handshake itself. */
static int use_chain(WOLFSSL_CTX *ctx, sisp_slice_t cert, sisp_slice_t root) {
    uint8_t *der = malloc(cert.len + root.len);
    if (der == NULL)
        return -1;
    memcpy(der, cert.ptr, cert.len);
    memcpy(der + cert.len, root.ptr, root.len);
    int ok = wolfSSL_CTX_use_certificate_chain_buffer_format(
                 ctx, der, (long)(cert.len + root.len), WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS;
    free(der);
    return ok ? 0 : -1;
}

int sisp_tls_ctx_new(const sisp_ca_t *ca, sisp_tls_revoked_cb revoked, void *arg,
                     sisp_tls_ctx_t **out) {
    *out = NULL;
    sisp_slice_t cert = sisp_ca_server_cert(ca), key = sisp_ca_server_key(ca),
                 root = sisp_ca_cert(ca);
    if (cert.len > INT_MAX || key.len > INT_MAX || root.len > INT_MAX)
        return SISP_EINVAL;
    sisp_tls_ctx_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SISP_ENOMEM;
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) { /* reference-counted by wolfSSL */
        free(c);
        return SISP_ECRYPTO;
    }
    c->revoked = revoked;
    c->arg = arg;
    c->ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1}; /* X25519 preferred */
    int ok = c->ctx != NULL && use_chain(c->ctx, cert, root) == 0 &&
             wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, key.ptr, (long)key.len,
                                               WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
             wolfSSL_CTX_check_private_key(c->ctx) == WOLFSSL_SUCCESS &&
             wolfSSL_CTX_load_verify_buffer(c->ctx, root.ptr, (long)root.len,
                                            WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
             wolfSSL_CTX_set_groups(c->ctx, groups, 2) == WOLFSSL_SUCCESS &&
             /* The server's order decides (wolfSSL's default); see sisp_tls13_suites. */
             wolfSSL_CTX_set_cipher_list(c->ctx, sisp_tls13_suites()) == WOLFSSL_SUCCESS &&
             wolfSSL_CTX_no_ticket_TLSv13(c->ctx) == 0;
    if (ok) {
        /* Ask for a client certificate and verify it when sent, but let a client without one
         * in: it can only register. No FAIL_IF_NO_PEER_CERT; the session enforces the rest. */
        wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, verify_cb);
        wolfSSL_CTX_set_verify_depth(c->ctx, 1); /* leaf, then our CA */
        wolfSSL_CTX_set_session_cache_mode(c->ctx, WOLFSSL_SESS_CACHE_OFF);
        wolfSSL_CTX_SetIORecv(c->ctx, io_recv);
        wolfSSL_CTX_SetIOSend(c->ctx, io_send);
    }
    if (!ok) {
        sisp_tls_ctx_free(c);
        return SISP_ECRYPTO;
    }
    *out = c;
    return 0;
}

void sisp_tls_ctx_free(sisp_tls_ctx_t *c) {
    if (c == NULL)
        return;
    if (c->ctx != NULL)
        wolfSSL_CTX_free(c->ctx);
    wolfSSL_Cleanup();
    free(c);
}

/* ---- connection ---- */

sisp_tls_t *sisp_tls_new(sisp_tls_ctx_t *ctx) {
    sisp_tls_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->ctx = ctx;
    sisp_buf_init(&t->in, IN_MAX);
    sisp_buf_init(&t->out, SISP_TLS_OUT_MAX + OUT_SLACK);
    t->ssl = wolfSSL_new(ctx->ctx);
    if (t->ssl == NULL) {
        free(t);
        return NULL;
    }
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    wolfSSL_SetCertCbCtx(t->ssl, t); /* reaches verify_cb as store->userCtx */
    return t;
}

void sisp_tls_free(sisp_tls_t *t) {
    if (t == NULL)
        return;
    wolfSSL_free(t->ssl);
    sisp_buf_free(&t->in);
    sisp_buf_free(&t->out);
    sisp_wipe(&t->peer, sizeof t->peer);
    free(t);
}

int sisp_tls_feed(sisp_tls_t *t, const uint8_t *in, size_t len) {
    if (t->err != 0)
        return t->err;
    if (len == 0)
        return 0;
    if (t->in_pos > 0) { /* drop what wolfSSL already took */
        sisp_buf_consume(&t->in, t->in_pos);
        t->in_pos = 0;
    }
    return sisp_buf_append(&t->in, in, len);
}

/* After a fatal wolfSSL error: the code sisp reports, made sticky. */
static int fail(sisp_tls_t *t, int ret, const char *what) {
    int e = wolfSSL_get_error(t->ssl, ret);
    if (t->rejected != 0) {
        t->err = t->rejected;
    } else {
        switch (e) {
        case VERIFY_CERT_ERROR:
        case VERIFY_SIGN_ERROR:
        case SIG_VERIFY_E:
        case NO_PEER_CERT:
        case PEER_KEY_ERROR:
        case KEYUSE_SIGNATURE_E:
        case EXTKEYUSE_AUTH_E:
            t->err = SISP_EAUTH;
            break;
        default:
            t->err = SISP_EPROTO;
        }
        set_why(t, what, e);
    }
    return t->err;
}

static void release_input(sisp_tls_t *t) {
    if (t->in.len == 0 && t->in.cap > IN_KEEP)
        sisp_buf_free(&t->in);
}

int sisp_tls_handshake(sisp_tls_t *t) {
    if (t->err != 0)
        return t->err;
    if (t->done)
        return 0;
    int ret = wolfSSL_accept(t->ssl);
    release_input(t);
    if (ret == WOLFSSL_SUCCESS) {
        /* The session's peer chain and what the callback accepted must agree. */
        WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(t->ssl);
        int sent = chain != NULL && wolfSSL_get_chain_count(chain) > 0;
        if (sent != t->have_peer) {
            t->err = SISP_EAUTH;
            snprintf(t->why, sizeof t->why, "client certificate not checked");
            return t->err;
        }
        t->done = 1;
        return 0;
    }
    int e = wolfSSL_get_error(t->ssl, ret);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
        return SISP_NEED_MORE;
    return fail(t, ret, "handshake failed");
}

int sisp_tls_read(sisp_tls_t *t, uint8_t *out, size_t cap, size_t *n) {
    *n = 0;
    if (t->err != 0)
        return t->err;
    if (!t->done || cap == 0)
        return SISP_EINVAL;
    int ret = wolfSSL_read(t->ssl, out, cap > INT_MAX ? INT_MAX : (int)cap);
    release_input(t);
    if (ret > 0) {
        *n = (size_t)ret;
        return 0;
    }
    int e = wolfSSL_get_error(t->ssl, ret);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
        return SISP_NEED_MORE;
    if (e == WOLFSSL_ERROR_ZERO_RETURN) {
        t->err = SISP_ESHUTDOWN;
        return t->err;
    }
    return fail(t, ret, "read failed");
}

int sisp_tls_write(sisp_tls_t *t, const uint8_t *p, size_t len) {
    if (t->err != 0)
        return t->err;
    if (!t->done)
        return SISP_EINVAL;
    if (len == 0)
        return 0;
    /* All or nothing: refuse up front what might not fit, so wolfSSL never stops half way
     * through (a WANT_WRITE mid-write would bind the caller to repeat the same call). */
    size_t records = len / RECORD_PLAIN + 1;
    if (len > SISP_TLS_OUT_MAX - records * RECORD_OVERHEAD)
        return SISP_EINVAL;
    if (t->out.len + len + records * RECORD_OVERHEAD > SISP_TLS_OUT_MAX)
        return SISP_NEED_MORE;
    int ret = wolfSSL_write(t->ssl, p, (int)len);
    if (ret == (int)len)
        return 0;
    if (ret > 0) { /* cannot happen without partial-write mode */
        t->err = SISP_EINTERNAL;
        snprintf(t->why, sizeof t->why, "partial TLS write");
        return t->err;
    }
    return fail(t, ret, "write failed");
}

void sisp_tls_close(sisp_tls_t *t) {
    if (t->done && t->err == 0)
        wolfSSL_shutdown(t->ssl); /* queues close_notify; we do not wait for the peer's */
    if (t->err == 0)
        t->err = SISP_ESHUTDOWN;
}

size_t sisp_tls_trim(sisp_tls_t *t, size_t keep) {
    if (t->in_pos == t->in.len) {
        sisp_buf_reset(&t->in);
        t->in_pos = 0;
    }
    return sisp_buf_trim(&t->in, keep) + sisp_buf_trim(&t->out, keep);
}

sisp_buf_t *sisp_tls_out(sisp_tls_t *t) {
    return &t->out;
}

int sisp_tls_peer(sisp_tls_t *t, sisp_cert_info_t *info) {
    if (!t->done)
        return SISP_EINVAL;
    if (!t->have_peer)
        return SISP_ENOTFOUND;
    *info = t->peer;
    return 0;
}

const uint8_t *sisp_tls_peer_fp(const sisp_tls_t *t) {
    return t->done && t->have_peer ? t->peer_fp : NULL;
}

const char *sisp_tls_why(const sisp_tls_t *t) {
    return t->why[0] ? t->why : NULL;
}
