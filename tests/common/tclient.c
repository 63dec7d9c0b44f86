#define _DEFAULT_SOURCE
#include "tclient.h"

#include "ca.h"

#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUEUED 256

struct tclient {
    int fd;
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    sisp_decoder_t dec;
    sisp_buf_t in;
    uint32_t next_stream;
    sisp_buf_t hello_frame;
    sisp_packet_t hello;
    sisp_packet_t *cur;            /* the last frame returned */
    sisp_buf_t cur_frame;          /* its bytes */
    sisp_buf_t queued[MAX_QUEUED]; /* pushes waiting to be asked for */
    size_t n_queued;
    sisp_packet_t *tmp;
};

static int ssl_once;

static int wait_readable(tclient_t *c, int timeout_ms) {
    if (wolfSSL_pending(c->ssl) > 0)
        return 1;
    struct pollfd p = {c->fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) > 0;
}

/* Reads one whole frame into out (bytes). 0, or -1 on close/timeout/error. */
static int read_frame(tclient_t *c, sisp_buf_t *out, int timeout_ms) {
    for (;;) {
        sisp_frame_t f;
        size_t n = 0;
        int rc = sisp_frame_decode(&c->dec, c->in.data, c->in.len, &f, &n);
        if (rc == 0) {
            sisp_buf_reset(out);
            if (sisp_buf_append(out, c->in.data, n) != 0)
                return -1;
            sisp_buf_consume(&c->in, n);
            return 0;
        }
        if (rc != SISP_NEED_MORE) {
            fprintf(stderr, "tclient: bad frame from server: %s\n", sisp_err_name(rc));
            return -1;
        }
        if (!wait_readable(c, timeout_ms))
            return -1;
        uint8_t buf[16384];
        int r = wolfSSL_read(c->ssl, buf, sizeof buf);
        if (r <= 0)
            return -1;
        if (sisp_buf_append(&c->in, buf, (size_t)r) != 0)
            return -1;
    }
}

static int decode_bytes(tclient_t *c, const sisp_buf_t *bytes, sisp_packet_t *pkt) {
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n;
    sisp_decoder_init(&d, SISP_ROLE_CLIENT);
    sisp_decoder_set_state(&d, c->dec.state, &c->dec.limits);
    int rc = sisp_frame_decode(&d, bytes->data, bytes->len, &f, &n);
    return rc == 0 ? sisp_packet_decode(&f, pkt) : rc;
}

static int write_all(tclient_t *c, const uint8_t *p, size_t n) {
    while (n > 0) {
        int chunk = n > 16384 ? 16384 : (int)n;
        int w = wolfSSL_write(c->ssl, p, chunk);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tc_send_raw(tclient_t *c, const void *p, size_t n) {
    return write_all(c, p, n);
}

uint32_t tc_send(tclient_t *c, uint8_t type, uint32_t stream, const void *pkt) {
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    if (stream == 0 && sisp_type_stream_rule(type) != SISP_STREAM_ZERO)
        stream = c->next_stream += 2;
    int rc = sisp_payload_encode(&b, type, stream, pkt);
    if (rc != 0) {
        fprintf(stderr, "tclient: cannot encode %s: %s\n", sisp_type_name(type), sisp_err_name(rc));
        stream = 0;
    } else if (write_all(c, b.data, b.len) != 0) {
        stream = 0;
    }
    sisp_buf_free(&b);
    return stream;
}

static int is_push(const sisp_packet_t *p) {
    return p->stream == 0 && p->type != SISP_T_ERROR && p->type != SISP_T_BYE &&
           p->type != SISP_T_PONG;
}

/* Keeps the current frame for tc_wait_push if it is a push. */
static void queue_if_push(tclient_t *c) {
    if (!is_push(c->cur) || c->n_queued >= MAX_QUEUED)
        return;
    sisp_buf_init(&c->queued[c->n_queued], 0);
    if (sisp_buf_append(&c->queued[c->n_queued], c->cur_frame.data, c->cur_frame.len) == 0)
        c->n_queued++;
}

int tc_read_stream(tclient_t *c, uint32_t stream, const sisp_packet_t **reply) {
    for (;;) {
        if (read_frame(c, &c->cur_frame, 10000) != 0)
            return -1;
        int rc = decode_bytes(c, &c->cur_frame, c->cur);
        if (rc != 0) {
            fprintf(stderr, "tclient: undecodable frame: %s\n", sisp_err_name(rc));
            return -1;
        }
        if (c->cur->stream == stream || (c->cur->stream == 0 && !is_push(c->cur))) {
            *reply = c->cur;
            return 0;
        }
        queue_if_push(c);
    }
}

int tc_request(tclient_t *c, uint8_t type, const void *req, const sisp_packet_t **reply) {
    uint32_t stream = tc_send(c, type, 0, req);
    if (stream == 0)
        return -1;
    return tc_read_stream(c, stream, reply);
}

int tc_wait_push(tclient_t *c, uint8_t type, int timeout_ms, const sisp_packet_t **push) {
    for (size_t i = 0; i < c->n_queued; i++) {
        if (decode_bytes(c, &c->queued[i], c->tmp) == 0 && c->tmp->type == type) {
            sisp_buf_t b = c->queued[i];
            memmove(&c->queued[i], &c->queued[i + 1], (c->n_queued - i - 1) * sizeof(sisp_buf_t));
            c->n_queued--;
            sisp_buf_free(&c->cur_frame);
            c->cur_frame = b;
            if (decode_bytes(c, &c->cur_frame, c->cur) != 0)
                return -1;
            *push = c->cur;
            return 0;
        }
    }
    for (;;) {
        if (read_frame(c, &c->cur_frame, timeout_ms) != 0)
            return -1;
        if (decode_bytes(c, &c->cur_frame, c->cur) != 0)
            return -1;
        if (c->cur->type == type) {
            *push = c->cur;
            return 0;
        }
        queue_if_push(c);
    }
}

int tc_wait_close(tclient_t *c, int timeout_ms) {
    int code = 0;
    for (;;) {
        if (!wait_readable(c, timeout_ms))
            return -1;
        if (read_frame(c, &c->cur_frame, timeout_ms) != 0)
            return code;
        if (decode_bytes(c, &c->cur_frame, c->cur) == 0) {
            if (c->cur->type == SISP_T_ERROR)
                code = (int)c->cur->u.error.code;
            else if (c->cur->type == SISP_T_BYE && code == 0)
                code = (int)c->cur->u.bye.code;
        }
    }
}

const sisp_hello_t *tc_server_hello(tclient_t *c) {
    return &c->hello.u.hello;
}

tclient_t *tc_connect(int port, const uint8_t *ca_der, size_t ca_len, const tc_user_t *user,
                      int *err) {
    tclient_t *c = tc_connect_tls(port, ca_der, ca_len, user, 0, err);
    if (c == NULL)
        return NULL;
    if (tc_send_hello(c) != 0 || read_frame(c, &c->hello_frame, 10000) != 0 ||
        decode_bytes(c, &c->hello_frame, &c->hello) != 0) {
        *err = SISP_EPROTO;
        tc_close(c);
        return NULL;
    }
    if (c->hello.type != SISP_T_HELLO) {
        if (c->hello.type == SISP_T_ERROR)
            *err = -(int)c->hello.u.error.code;
        tc_close(c);
        return NULL;
    }
    sisp_decoder_set_state(&c->dec, user ? SISP_STATE_AUTH : SISP_STATE_UNAUTH, NULL);
    return c;
}

void tc_close(tclient_t *c) {
    if (c == NULL)
        return;
    if (c->ssl) {
        wolfSSL_shutdown(c->ssl);
        wolfSSL_free(c->ssl);
    }
    if (c->ctx)
        wolfSSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    for (size_t i = 0; i < c->n_queued; i++)
        sisp_buf_free(&c->queued[i]);
    sisp_buf_free(&c->in);
    sisp_buf_free(&c->cur_frame);
    sisp_buf_free(&c->hello_frame);
    free(c->cur);
    free(c->tmp);
    free(c);
}

int tc_register(int port, const uint8_t *ca_der, size_t ca_len, const char *name,
                const char *invite, tc_user_t *out) {
    sisp_rng_t rng;
    sisp_buf_t csr;
    uint8_t xsig[SISP_SIG_SIZE];
    int err = 0, rc;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    sisp_buf_init(&csr, 0);
    if ((rc = sisp_rng_init(&rng)) != 0)
        return rc;
    rc = sisp_ident_generate(&rng, &out->id);
    if (rc == 0)
        rc = sisp_x25519_generate(&rng, &out->x);
    sisp_rng_free(&rng);
    if (rc == 0)
        rc = sisp_csr_make(&out->id, name, &csr);
    if (rc == 0)
        rc = sisp_x25519_sign(&out->id, sisp_slice_str(name), out->x.pub, xsig);
    if (rc != 0) {
        sisp_buf_free(&csr);
        return rc;
    }
    tclient_t *c = tc_connect(port, ca_der, ca_len, NULL, &err);
    if (c == NULL) {
        sisp_buf_free(&csr);
        return err ? err : SISP_EIO;
    }
    sisp_register_req_t r = {0};
    r.user = sisp_slice_str(name);
    r.csr = sisp_slice(csr.data, csr.len);
    r.x25519 = sisp_slice(out->x.pub, 32);
    r.x25519_sig = sisp_slice(xsig, sizeof xsig);
    r.invite = sisp_slice_str(invite);
    const sisp_packet_t *reply;
    rc = tc_request(c, SISP_T_REGISTER, &r, &reply);
    if (rc == 0 && reply->type == SISP_T_REGISTERED) {
        const sisp_slice_t *cert = &reply->u.registered.chain[0];
        memcpy(out->cert, cert->ptr, cert->len);
        out->cert_len = cert->len;
    } else if (rc == 0 && reply->type == SISP_T_ERROR) {
        rc = -(int)reply->u.error.code;
    } else {
        rc = SISP_EPROTO;
    }
    tc_close(c);
    sisp_buf_free(&csr);
    return rc;
}

/* ---- for the robustness suites ---- */

#include <sisp/keys.h>
#include <sisp/seal.h>

tclient_t *tc_connect_tls(int port, const uint8_t *ca_der, size_t ca_len, const tc_user_t *user,
                          int tls12, int *err) {
    *err = 0;
    if (!ssl_once) {
        wolfSSL_Init();
        ssl_once = 1;
    }
    tclient_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = -1;
    c->next_stream = 1;
    c->cur = malloc(sizeof *c->cur);
    c->tmp = malloc(sizeof *c->tmp);
    sisp_buf_init(&c->in, 0);
    sisp_buf_init(&c->cur_frame, 0);
    sisp_buf_init(&c->hello_frame, 0);
    sisp_decoder_init(&c->dec, SISP_ROLE_CLIENT);
    if (c->cur == NULL || c->tmp == NULL) {
        tc_close(c);
        return NULL;
    }

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (c->fd >= 0)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        *err = SISP_EIO;
        tc_close(c);
        return NULL;
    }
    c->ctx = wolfSSL_CTX_new(tls12 ? wolfTLSv1_2_client_method() : wolfTLSv1_3_client_method());
    if (c->ctx == NULL ||
        wolfSSL_CTX_load_verify_buffer(c->ctx, ca_der, (long)ca_len, WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS) {
        fprintf(stderr, "tclient: cannot load the CA\n");
        *err = SISP_EINVAL;
        tc_close(c);
        return NULL;
    }
    wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (user != NULL) {
        uint8_t der[256];
        size_t dlen = 0;
        if (sisp_ident_der(&user->id, der, sizeof der, &dlen) != 0 ||
            wolfSSL_CTX_use_certificate_buffer(c->ctx, user->cert, (long)user->cert_len,
                                               WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, der, (long)dlen, WOLFSSL_FILETYPE_ASN1) !=
                WOLFSSL_SUCCESS) {
            fprintf(stderr, "tclient: cannot load the user's certificate and key\n");
            *err = SISP_EINVAL;
            tc_close(c);
            return NULL;
        }
    }
    c->ssl = wolfSSL_new(c->ctx);
    if (c->ssl == NULL) {
        *err = SISP_ENOMEM;
        tc_close(c);
        return NULL;
    }
    wolfSSL_set_fd(c->ssl, c->fd);
    if (wolfSSL_connect(c->ssl) != WOLFSSL_SUCCESS) {
        *err = SISP_EAUTH;
        tc_close(c);
        return NULL;
    }
    return c;
}

int tc_send_hello(tclient_t *c) {
    sisp_hello_t h = {0};
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = SISP_LIMIT_CONTROL;
    h.max_data = SISP_LIMIT_DATA;
    h.software = sisp_slice_str("sisp-tclient");
    return tc_send(c, SISP_T_HELLO, 0, &h) == 0 ? 0 : -1;
}

int tc_read_raw(tclient_t *c, int timeout_ms, const sisp_packet_t **pkt) {
    for (;;) {
        if (c->in.len >= SISP_HEADER_SIZE) {
            uint32_t len = sisp_load32(c->in.data);
            if (len > SISP_LIMIT_ABSOLUTE) {
                fprintf(stderr, "tclient: frame of %u bytes from the server\n", (unsigned)len);
                return -1;
            }
            size_t whole = SISP_HEADER_SIZE + (size_t)len;
            if (c->in.len >= whole) {
                sisp_buf_reset(&c->cur_frame);
                if (sisp_buf_append(&c->cur_frame, c->in.data, whole) != 0)
                    return -1;
                sisp_buf_consume(&c->in, whole);
                const uint8_t *h = c->cur_frame.data;
                sisp_frame_t f;
                f.length = len;
                f.version = h[4];
                f.type = h[5];
                f.flags = sisp_load16(h + 6);
                f.stream = sisp_load32(h + 8);
                f.payload = sisp_slice(h + SISP_HEADER_SIZE, len);
                int rc = sisp_packet_decode(&f, c->cur);
                if (rc != 0) {
                    fprintf(stderr, "tclient: undecodable %s frame: %s\n",
                            sisp_type_name(f.type) ? sisp_type_name(f.type) : "unknown",
                            sisp_err_name(rc));
                    return -1;
                }
                *pkt = c->cur;
                return 0;
            }
        }
        if (!wait_readable(c, timeout_ms))
            return 1;
        uint8_t buf[16384];
        int r = wolfSSL_read(c->ssl, buf, sizeof buf);
        if (r <= 0)
            return -1;
        if (sisp_buf_append(&c->in, buf, (size_t)r) != 0)
            return -1;
    }
}

int tc_fd(const tclient_t *c) {
    return c->fd;
}

int tc_reply_code(const sisp_packet_t *r) {
    return r->type == SISP_T_ERROR ? -(int)r->u.error.code : 0;
}

int tc_make_grant(const tc_user_t *granter, const char *recipient, const uint8_t x_pub[32],
                  const char *group, uint32_t epoch, const uint8_t epoch_key[32],
                  tc_grant_bytes_t *gb, sisp_grant_t *g) {
    sisp_rng_t rng;
    int rc = sisp_rng_init(&rng);
    if (rc != 0)
        return rc;
    rc = sisp_epoch_wrap(&rng, epoch_key, x_pub, sisp_slice_str(group), epoch,
                         sisp_slice_str(recipient), gb->wrapped);
    sisp_rng_free(&rng);
    if (rc == 0)
        rc = sisp_grant_sign(&granter->id, sisp_slice_str(group), epoch, sisp_slice_str(recipient),
                             sisp_slice(gb->wrapped, sizeof gb->wrapped), gb->sig);
    if (rc != 0)
        return rc;
    memset(g, 0, sizeof *g);
    g->user = sisp_slice_str(recipient);
    g->epoch = epoch;
    g->wrapped = sisp_slice(gb->wrapped, sizeof gb->wrapped);
    g->signature = sisp_slice(gb->sig, sizeof gb->sig);
    return 0;
}

int tc_grant(tclient_t *c, const tc_user_t *granter, const char *recipient, const char *group,
             uint32_t epoch, const uint8_t epoch_key[32]) {
    const sisp_packet_t *r = NULL;
    uint8_t x_pub[32];
    if (strcmp(recipient, granter->name) == 0) {
        memcpy(x_pub, granter->x.pub, 32);
    } else {
        sisp_user_cert_t uc = {sisp_slice_str(recipient)};
        if (tc_request(c, SISP_T_USER_CERT, &uc, &r) != 0)
            return TC_ETRANSPORT;
        if (r->type != SISP_T_USER_CERT_RESULT)
            return tc_reply_code(r) ? tc_reply_code(r) : SISP_EPROTO;
        sisp_cert_info_t info;
        int rc =
            sisp_cert_parse(r->u.user_cert_result.cert.ptr, r->u.user_cert_result.cert.len, &info);
        if (rc == 0 && r->u.user_cert_result.x25519.len != 32)
            rc = SISP_EKEY;
        if (rc == 0)
            rc = sisp_x25519_verify(
                info.pub, sisp_slice_str(recipient), r->u.user_cert_result.x25519.ptr,
                r->u.user_cert_result.x25519_sig.ptr, r->u.user_cert_result.x25519_sig.len);
        if (rc != 0)
            return rc;
        memcpy(x_pub, r->u.user_cert_result.x25519.ptr, 32);
    }
    sisp_key_grant_t *kg = calloc(1, sizeof *kg);
    tc_grant_bytes_t gb;
    if (kg == NULL)
        return SISP_ENOMEM;
    kg->group = sisp_slice_str(group);
    int rc = tc_make_grant(granter, recipient, x_pub, group, epoch, epoch_key, &gb, &kg->grants[0]);
    kg->n_grants = 1;
    if (rc == 0)
        rc = tc_request(c, SISP_T_KEY_GRANT, kg, &r) != 0 ? TC_ETRANSPORT : tc_reply_code(r);
    free(kg);
    return rc;
}

int tc_post(tclient_t *c, const tc_user_t *owner, const char *group, uint32_t epoch,
            const uint8_t epoch_key[32], const char *name, const uint8_t *plain, size_t len,
            uint64_t *seq) {
    sisp_seal_params_t p = {sisp_slice_str(owner->name),
                            sisp_slice_str(name),
                            sisp_slice_str(group),
                            epoch,
                            1795000000,
                            4096};
    sisp_seal_t s;
    sisp_rng_t rng;
    sisp_buf_t cipher, manifest;
    uint8_t sig[SISP_SIG_SIZE];
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    int rc = sisp_rng_init(&rng);
    if (rc != 0)
        return rc;
    rc = sisp_seal_init(&s, &p, epoch_key, &rng);
    if (rc == 0) {
        rc = sisp_seal_update(&s, plain, len, &cipher);
        if (rc == 0)
            rc = sisp_seal_final(&s, &cipher, &manifest);
        sisp_seal_free(&s);
    }
    sisp_rng_free(&rng);
    if (rc == 0)
        rc = sisp_manifest_sign(&owner->id, manifest.data, manifest.len, sig);
    if (rc == 0) {
        sisp_post_begin_t pb = {sisp_slice_str(name), sisp_slice_str(group), cipher.len,
                                sisp_slice(manifest.data, manifest.len),
                                sisp_slice(sig, sizeof sig)};
        uint32_t stream = tc_send(c, SISP_T_POST_BEGIN, 0, &pb);
        for (size_t off = 0; stream != 0 && off < cipher.len; off += 65536) {
            size_t n = cipher.len - off < 65536 ? cipher.len - off : 65536;
            sisp_data_t d = {off, sisp_slice(cipher.data + off, n)};
            if (tc_send(c, SISP_T_DATA, stream, &d) == 0)
                stream = 0;
        }
        sisp_post_end_t pe = {cipher.len};
        if (stream != 0 && tc_send(c, SISP_T_POST_END, stream, &pe) == 0)
            stream = 0;
        const sisp_packet_t *r = NULL;
        if (stream == 0 || tc_read_stream(c, stream, &r) != 0)
            rc = TC_ETRANSPORT;
        else if (r->type == SISP_T_POSTED) {
            if (seq)
                *seq = r->u.posted.seq;
        } else {
            rc = tc_reply_code(r) ? tc_reply_code(r) : SISP_EPROTO;
        }
    }
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
    return rc;
}

int tc_download(tclient_t *c, const char *name, const char *group, const uint8_t owner_pub[32],
                const uint8_t epoch_key[32], sisp_buf_t *plain) {
    sisp_download_t d = {sisp_slice_str(name), 0, sisp_slice_str(group), 0};
    const sisp_packet_t *r = NULL;
    uint32_t stream = tc_send(c, SISP_T_DOWNLOAD, 0, &d);
    if (stream == 0 || tc_read_stream(c, stream, &r) != 0)
        return TC_ETRANSPORT;
    if (r->type != SISP_T_IMAGE_BEGIN)
        return tc_reply_code(r) ? tc_reply_code(r) : SISP_EPROTO;
    char owner[SISP_USERNAME_MAX + 1];
    snprintf(owner, sizeof owner, "%.*s", (int)r->u.image_begin.info.owner.len,
             (const char *)r->u.image_begin.info.owner.ptr);
    sisp_expect_t e = {sisp_slice_str(owner), sisp_slice_str(name), SISP_SLICE_NULL};
    sisp_open_t o;
    int rc = sisp_open_init(&o, r->u.image_begin.manifest.ptr, r->u.image_begin.manifest.len,
                            r->u.image_begin.signature.ptr, r->u.image_begin.signature.len,
                            owner_pub, &e);
    if (rc != 0) {
        sisp_open_free(&o);
        return rc; /* the rest of the stream stays unread: the caller closes c */
    }
    rc = sisp_open_key(&o, epoch_key);
    while (rc == 0) {
        if (tc_read_stream(c, stream, &r) != 0) {
            rc = TC_ETRANSPORT;
            break;
        }
        if (r->type == SISP_T_IMAGE_END)
            break;
        if (r->type != SISP_T_DATA) {
            rc = tc_reply_code(r) ? tc_reply_code(r) : SISP_EPROTO;
            break;
        }
        rc = sisp_open_update(&o, r->u.data.data.ptr, r->u.data.data.len, plain);
    }
    if (rc == 0)
        rc = sisp_open_final(&o);
    sisp_open_free(&o);
    return rc;
}

int tc_list_all(tclient_t *c, const char *group, uint64_t since,
                void (*cb)(void *arg, const sisp_image_info_t *e), void *arg) {
    for (;;) {
        sisp_list_t l = {since, sisp_slice_str(group), 0};
        const sisp_packet_t *r = NULL;
        if (tc_request(c, SISP_T_LIST, &l, &r) != 0)
            return TC_ETRANSPORT;
        if (r->type != SISP_T_LIST_RESULT)
            return tc_reply_code(r) ? tc_reply_code(r) : SISP_EPROTO;
        const sisp_list_result_t *res = &r->u.list_result;
        for (uint32_t i = 0; i < res->n_entries; i++)
            cb(arg, &res->entries[i]);
        if (!res->more)
            return 0;
        if (res->next_since <= since)
            return SISP_EPROTO;
        since = res->next_since;
    }
}
