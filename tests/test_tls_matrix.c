/* sispd's TLS handshake matrix, against the real binary on 127.0.0.1, with two independent
 * clients: wolfSSL (the test client) and OpenSSL's `openssl s_client`.
 *
 *   no client certificate        TLS 1.3 succeeds; only REGISTER (and PING) are served: any
 *                                other request gets ERROR ESTATE and the connection closes
 *   a registered user's cert     accepted (the control that shows each probe can succeed)
 *   a foreign CA's certificate   refused (same user name, issued by another sispd)
 *   a self-signed certificate    refused (same name, even the user's own key)
 *   an expired / not yet valid   refused (issued by this server's own CA, the user's key and
 *     certificate                serial: only the dates differ from the control)
 *   a revoked user               refused: the handshake fails, or HELLO is answered with
 *                                ERROR EREVOKED and the connection closes
 *   a TLS 1.2-only client        refused, with and without a certificate
 *
 * "Refused" is checked the same way for both clients: requests are pipelined right behind the
 * client's HELLO (PING, WHOAMI), and none of them may be answered. Last, a sispd whose CA
 * certificate has expired must not start, and must say so. */
#define _GNU_SOURCE /* memmem */
#include "ca.h"
#include "tclient.h"
#include "testutil.h"
#include "tserver.h"

#include <sisp/error.h>
#include <sisp/frame.h>
#include <sisp/packet.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *sispd;
static tserver_t srv, foreign;
static char work[64]; /* PEM files and s_client transcripts */
static int have_openssl;

/* ---- files and commands ---- */

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int read_bytes(const char *path, sisp_buf_t *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t buf[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = sisp_buf_append(out, buf, n);
    fclose(f);
    return rc;
}

/* system() with a printf-style command: the exit status, or -1 if it did not exit. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- keys and certificates ---- */

/* The user's Ed25519 private key as PKCS#8 v1 DER, which `openssl pkey` reads (OpenSSL refuses
 * wc_Ed25519KeyToDer's form, a version 0 structure that also carries the public key). */
static int key_der(const sisp_ident_key_t *id, uint8_t *der, size_t *len) {
    ed25519_key k;
    int rc = -1;
    if (wc_ed25519_init(&k) != 0)
        return -1;
    if (wc_ed25519_import_private_key(id->seed, 32, id->pub, 32, &k) == 0) {
        int n = wc_Ed25519PrivateKeyToDer(&k, der, (word32)*len);
        if (n > 0) {
            *len = (size_t)n;
            rc = 0;
        }
    }
    wc_ed25519_free(&k);
    return rc;
}

/* A self-signed certificate that looks like one of ours: CN=user, O=sisp, clientAuth, the
 * user's own key. Returns its DER length, or -1. */
static int self_signed(const tc_user_t *u, uint8_t *der, size_t cap) {
    Cert *c = calloc(1, sizeof *c);
    WC_RNG rng;
    ed25519_key k;
    int n = -1;
    if (c == NULL || wc_InitRng(&rng) != 0) {
        free(c);
        return -1;
    }
    if (wc_ed25519_init(&k) == 0) {
        if (wc_ed25519_import_private_key(u->id.seed, 32, u->id.pub, 32, &k) == 0 &&
            wc_InitCert(c) == 0) {
            c->sigType = CTC_ED25519;
            c->version = 2;
            c->selfSigned = 1;
            c->isCA = 0;
            c->daysValid = 30;
            c->serial[0] = 0x10;
            c->serial[1] = 0x01;
            c->serialSz = 2;
            snprintf(c->subject.commonName, sizeof c->subject.commonName, "%s", u->name);
            c->subject.commonNameEnc = CTC_UTF8;
            snprintf(c->subject.org, sizeof c->subject.org, "sisp");
            c->subject.orgEnc = CTC_UTF8;
            if (wc_SetKeyUsage(c, "digitalSignature") == 0 &&
                wc_SetExtKeyUsage(c, "clientAuth") == 0 &&
                wc_MakeCert_ex(c, der, (word32)cap, ED25519_TYPE, &k, &rng) > 0)
                n = wc_SignCert_ex(c->bodySz, CTC_ED25519, der, (word32)cap, ED25519_TYPE, &k,
                                   &rng);
        }
        wc_ed25519_free(&k);
    }
    wc_FreeRng(&rng);
    free(c);
    return n > 0 ? n : -1;
}

/* Replaces the CA certificate in dir with one made by the CA's own key that ended a day ago
 * (valid from 11 years before): an expired CA, as sispd would find it after ten years. */
static int expire_ca(const char *dir) {
    char path[300];
    sisp_buf_t der;
    sisp_buf_init(&der, 0);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if (read_bytes(path, &der) != 0)
        return -1;
    Cert *c = calloc(1, sizeof *c);
    uint8_t *out = malloc(4096);
    WC_RNG rng;
    ed25519_key k;
    word32 idx = 0;
    int n = -1, rng_ok = wc_InitRng(&rng) == 0, key_ok = wc_ed25519_init(&k) == 0;
    int64_t t = (int64_t)time(NULL);
    uint8_t seed[32];
    word32 slen = sizeof seed;
    sisp_ident_key_t id;
    /* The file holds the seed alone: signing also needs the public key. */
    if (key_ok && wc_Ed25519PrivateKeyDecode(der.data, &idx, &k, (word32)der.len) == 0 &&
        wc_ed25519_export_private_only(&k, seed, &slen) == 0 && slen == sizeof seed &&
        sisp_ident_from_seed(seed, &id) == 0) {
        wc_ed25519_free(&k);
        key_ok = wc_ed25519_init(&k) == 0 &&
                 wc_ed25519_import_private_key(id.seed, 32, id.pub, 32, &k) == 0;
    } else if (key_ok) {
        wc_ed25519_free(&k);
        key_ok = 0;
    }
    sisp_wipe(seed, sizeof seed);
    sisp_wipe(&id, sizeof id);
    if (c != NULL && out != NULL && rng_ok && key_ok && wc_InitCert(c) == 0) {
        c->sigType = CTC_ED25519;
        c->version = 2;
        c->selfSigned = 1;
        c->isCA = 1;
        c->serial[0] = 1;
        c->serialSz = 1;
        snprintf(c->subject.commonName, sizeof c->subject.commonName, "sisp CA 0ld0");
        c->subject.commonNameEnc = CTC_UTF8;
        snprintf(c->subject.org, sizeof c->subject.org, "sisp");
        c->subject.orgEnc = CTC_UTF8;
        if (sisp__asn_time_encode(t - 11 * 365 * 86400LL, c->beforeDate, &c->beforeDateSz) == 0 &&
            sisp__asn_time_encode(t - 86400, c->afterDate, &c->afterDateSz) == 0 &&
            wc_SetKeyUsage(c, "keyCertSign,cRLSign") == 0 &&
            wc_MakeCert_ex(c, out, 4096, ED25519_TYPE, &k, &rng) > 0)
            n = wc_SignCert_ex(c->bodySz, CTC_ED25519, out, 4096, ED25519_TYPE, &k, &rng);
    }
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    int rc = n > 0 ? write_bytes(path, out, (size_t)n) : -1;
    if (key_ok)
        wc_ed25519_free(&k);
    if (rng_ok)
        wc_FreeRng(&rng);
    sisp_buf_free_secure(&der);
    free(out);
    free(c);
    return rc;
}

/* u's certificate re-issued by this server's CA (opened on its data directory, as the server
 * has it) for the same key, name and serial, valid from not_before to not_after. */
static int reissue(const tc_user_t *u, int64_t not_before, int64_t not_after, tc_user_t *out) {
    sisp_ca_t *ca = NULL;
    sisp_buf_t csr, cert;
    sisp_cert_info_t info;
    uint8_t pub[32];
    int rc = sisp_cert_parse(u->cert, u->cert_len, &info);
    if (rc != 0)
        return rc;
    if ((rc = sisp_ca_open(srv.dir, "127.0.0.1", &ca)) != 0)
        return rc;
    sisp_buf_init(&csr, 0);
    sisp_buf_init(&cert, 0);
    rc = sisp_csr_make(&u->id, u->name, &csr);
    if (rc == 0)
        rc = sisp__ca_issue_at(ca, csr.data, csr.len, u->name, info.serial, not_before, not_after,
                               &cert, pub);
    if (rc == 0 && cert.len > sizeof out->cert)
        rc = SISP_EINVAL;
    if (rc == 0) {
        *out = *u;
        memcpy(out->cert, cert.data, cert.len);
        out->cert_len = cert.len;
    }
    sisp_buf_free(&csr);
    sisp_buf_free(&cert);
    sisp_ca_free(ca);
    return rc;
}

/* Writes work/<tag>.crt.pem and work/<tag>.key.pem for s_client. 0 or -1. */
static int to_pem(const tc_user_t *u, const char *tag) {
    char path[256];
    uint8_t der[256];
    size_t dlen = sizeof der;
    snprintf(path, sizeof path, "%s/%s.crt.der", work, tag);
    if (write_bytes(path, u->cert, u->cert_len) != 0 ||
        run("openssl x509 -inform DER -in %s/%s.crt.der -out %s/%s.crt.pem 2>>%s/openssl.log", work,
            tag, work, tag, work) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.key.der", work, tag);
    if (key_der(&u->id, der, &dlen) != 0 || write_bytes(path, der, dlen) != 0 ||
        run("openssl pkey -inform DER -in %s/%s.key.der -out %s/%s.key.pem 2>>%s/openssl.log", work,
            tag, work, tag, work) != 0)
        return -1;
    return 0;
}

/* A buffer read with read_text as a C string ("" if nothing was read). */
static const char *str(const sisp_buf_t *b) {
    return b->data != NULL ? (const char *)b->data : "";
}

/* Reads a whole file into *b as a NUL-terminated string. 0 or -1. */
static int read_text(const char *path, sisp_buf_t *b) {
    sisp_buf_reset(b);
    return read_bytes(path, b) == 0 && sisp_buf_append(b, "", 1) == 0 ? 0 : -1;
}

/* ---- what came back ---- */

typedef struct {
    int tls_ok;    /* the client's side of the handshake completed */
    int hello;     /* the server's HELLO arrived */
    char user[40]; /* the user it named */
    int registration;
    int served;      /* answers to the pipelined requests (PONG, WHOAMI_RESULT) */
    int error;       /* the first ERROR's code (negative), 0 if none */
    int bye;         /* the BYE's code (negative), 0 if none */
    int closed;      /* the server ended the connection */
    int exit_status; /* s_client's */
} outcome_t;

static void note(outcome_t *o, const sisp_packet_t *p) {
    switch (p->type) {
    case SISP_T_HELLO:
        o->hello = 1;
        snprintf(o->user, sizeof o->user, "%.*s", (int)p->u.hello.user.len,
                 (const char *)p->u.hello.user.ptr);
        o->registration = p->u.hello.registration;
        break;
    case SISP_T_PONG:
    case SISP_T_WHOAMI_RESULT:
        o->served++;
        break;
    case SISP_T_ERROR:
        if (o->error == 0)
            o->error = -(int)p->u.error.code;
        break;
    case SISP_T_BYE:
        o->bye = -(int)p->u.bye.code;
        break;
    default:
        break;
    }
}

/* The frames a client sends once TLS is up: HELLO, then PING and WHOAMI pipelined behind it
 * (a refused client must get no answer to either), then BYE so a served connection ends. */
static int probe_frames(sisp_buf_t *b) {
    sisp_hello_t h = {0};
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = SISP_LIMIT_CONTROL;
    h.max_data = SISP_LIMIT_DATA;
    h.software = sisp_slice_str("s_client");
    sisp_ping_t ping = {7};
    sisp_whoami_t who;
    memset(&who, 0, sizeof who);
    sisp_bye_t bye = {0, sisp_slice_str("done")};
    int rc = sisp_hello_encode(b, 0, &h);
    if (rc == 0)
        rc = sisp_ping_encode(b, 3, &ping);
    if (rc == 0)
        rc = sisp_whoami_encode(b, 5, &who);
    if (rc == 0)
        rc = sisp_bye_encode(b, 0, &bye);
    return rc;
}

/* wolfSSL: connects with u (NULL: no certificate), sends probe_frames(), reads to the end. */
static outcome_t probe_wolfssl(const tc_user_t *u, int tls12) {
    outcome_t o;
    memset(&o, 0, sizeof o);
    int err = 0;
    tclient_t *c = tc_connect_tls(srv.port, srv.ca, srv.ca_len, u, tls12, &err);
    if (c == NULL) {
        o.closed = 1;
        return o;
    }
    o.tls_ok = 1;
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    if (probe_frames(&b) == 0)
        (void)tc_send_raw(c, b.data, b.len); /* a refused peer may already be gone */
    sisp_buf_free(&b);
    for (;;) {
        const sisp_packet_t *p = NULL;
        int rc = tc_read_raw(c, 5000, &p);
        if (rc == 1)
            break; /* still open */
        if (rc < 0) {
            o.closed = 1;
            break;
        }
        note(&o, p);
    }
    tc_close(c);
    return o;
}

/* Parses s_client's stdout under -quiet: nothing but the application data. */
static void parse_frames(const sisp_buf_t *b, outcome_t *o) {
    size_t off = 0;
    sisp_packet_t *p = malloc(sizeof *p);
    while (p != NULL && b->len - off >= SISP_HEADER_SIZE) {
        const uint8_t *h = b->data + off;
        uint32_t len = sisp_load32(h);
        if (len > b->len - off - SISP_HEADER_SIZE)
            break;
        sisp_frame_t f = {len,
                          h[4],
                          h[5],
                          sisp_load16(h + 6),
                          sisp_load32(h + 8),
                          sisp_slice(h + SISP_HEADER_SIZE, len)};
        if (sisp_packet_decode(&f, p) == 0)
            note(o, p);
        off += SISP_HEADER_SIZE + len;
    }
    free(p);
}

/* openssl s_client: with tag's certificate and key (NULL: none), -tls1_3 or -tls1_2, sends
 * probe_frames(). *text gets stderr (and, without -quiet, stdout's text). */
static outcome_t probe_openssl(const char *tag, int tls12, sisp_buf_t *text) {
    outcome_t o;
    memset(&o, 0, sizeof o);
    char certopt[512] = "";
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    if (tag != NULL)
        snprintf(certopt, sizeof certopt, "-cert %s/%s.crt.pem -key %s/%s.key.pem", work, tag, work,
                 tag);
    char path[256];
    /* -quiet: stdout is the application data only (and implies -ign_eof, so s_client reads
     * until the server closes). -verify_return_error -verify_ip: the server must prove it is
     * 127.0.0.1 under our CA, or s_client gives up. */
    o.exit_status =
        run("timeout 20 openssl s_client -connect 127.0.0.1:%d %s -CAfile %s/ca.pem "
            "-verify_return_error -verify_ip 127.0.0.1 -quiet %s <%s/in.bin >%s/out.bin "
            "2>%s/err.txt",
            srv.port, tls12 ? "-tls1_2" : "-tls1_3", work, certopt, work, work, work);
    snprintf(path, sizeof path, "%s/out.bin", work);
    if (read_bytes(path, &out) == 0)
        parse_frames(&out, &o);
    snprintf(path, sizeof path, "%s/err.txt", work);
    if (read_text(path, text) != 0)
        T_FAIL_AT("cannot read %s", path);
    sisp_buf_free(&out);
    return o;
}

/* ---- assertions ---- */

static void expect_accepted(const char *what, const outcome_t *o, const char *user) {
    if (!o->hello || strcmp(o->user, user) != 0 || o->served != 2 || o->error != 0)
        T_FAIL_AT("%s: expected to be served as %s: hello %d (user \"%s\"), %d answers, error %s",
                  what, user, o->hello, o->user, o->served, t_errname(o->error));
    t_checks++;
}

/* Refused: no HELLO, no answer; if anything came at all, it is ERROR `code` (then the close). */
static void expect_refused(const char *what, const outcome_t *o, int code) {
    t_checks++;
    if (o->hello || o->served || !o->closed || (o->error != 0 && o->error != code)) {
        T_FAIL_AT("%s: expected a refusal: hello %d, %d answers, error %s, closed %d", what,
                  o->hello, o->served, t_errname(o->error), o->closed);
        return;
    }
    printf("  %-44s refused (%s)\n", what,
           o->error ? t_errname(o->error) : (o->tls_ok ? "alert after Finished" : "handshake"));
}

static void expect_refused_ssl(const char *what, const outcome_t *o, int code,
                               const sisp_buf_t *err) {
    t_checks++;
    /* s_client -quiet reads until the server closes: exit 124 is `timeout` ending it. */
    if (o->hello || o->served || (o->error != 0 && o->error != code) || o->exit_status == 124) {
        T_FAIL_AT("%s: expected a refusal and a close: hello %d, %d answers, error %s, exit %d; "
                  "s_client said:\n%s",
                  what, o->hello, o->served, t_errname(o->error), o->exit_status, str(err));
        return;
    }
    const char *alert = strstr(str(err), "alert");
    char line[96] = "";
    if (alert != NULL)
        snprintf(line, sizeof line, "%.*s", (int)strcspn(alert, ":\n"), alert);
    printf("  %-44s refused (%s, exit %d)\n", what,
           o->error ? t_errname(o->error) : (alert ? line : "closed"), o->exit_status);
}

/* Both clients with the same credentials. */
static void refused_both(const char *what, const tc_user_t *u, const char *tag, int tls12, int code,
                         sisp_buf_t *text) {
    char label[128];
    snprintf(label, sizeof label, "wolfSSL   %s", what);
    outcome_t o = probe_wolfssl(u, tls12);
    expect_refused(label, &o, code);
    if (!have_openssl)
        return;
    if (u != NULL && to_pem(u, tag) != 0) {
        T_FAIL_AT("%s: cannot convert the certificate and key to PEM (see %s/openssl.log)", what,
                  work);
        return;
    }
    snprintf(label, sizeof label, "s_client  %s", what);
    o = probe_openssl(u ? tag : NULL, tls12, text);
    expect_refused_ssl(label, &o, code, text);
}

static void accepted_both(const char *what, const tc_user_t *u, const char *tag, sisp_buf_t *text) {
    char label[128];
    snprintf(label, sizeof label, "wolfSSL   %s", what);
    outcome_t o = probe_wolfssl(u, 0);
    expect_accepted(label, &o, u->name);
    if (!have_openssl)
        return;
    if (to_pem(u, tag) != 0) {
        T_FAIL_AT("%s: cannot convert the certificate and key to PEM (see %s/openssl.log)", what,
                  work);
        return;
    }
    snprintf(label, sizeof label, "s_client  %s", what);
    o = probe_openssl(tag, 0, text);
    expect_accepted(label, &o, u->name);
    if (o.exit_status != 0)
        T_FAIL_AT("%s: s_client exited %d:\n%s", label, o.exit_status, str(text));
    printf("  %-44s served\n", what);
}

/* Over a certificate-less connection, an AUTH-only request is a state error, fatal. */
static void unauth_request(uint8_t type, const void *req) {
    int err = 0;
    tclient_t *c = tc_connect(srv.port, srv.ca, srv.ca_len, NULL, &err);
    if (c == NULL) {
        T_FAIL_AT("a connection without a certificate failed: %s", t_errname(err));
        return;
    }
    const sisp_packet_t *r = NULL;
    CHECK_INT(tc_request(c, type, req, &r), 0);
    if (r != NULL) {
        CHECK_INT(r->type, SISP_T_ERROR);
        CHECK_ERR(tc_reply_code(r), SISP_ESTATE);
    }
    CHECK_INT(tc_wait_close(c, 5000), -SISP_ESTATE);
    tc_close(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_tls_matrix path/to/sispd\n");
        return 2;
    }
    sispd = argv[1];
    signal(SIGPIPE, SIG_IGN);
    have_openssl = run("openssl version >/dev/null 2>&1") == 0;
    if (!have_openssl)
        T_FAIL_AT("openssl is not installed: the s_client half of the matrix cannot run "
                  "(scripts/deps.sh installs it; apt-get install openssl)");
    snprintf(work, sizeof work, "/tmp/sisp-test-XXXXXX");
    if (mkdtemp(work) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    sisp_buf_t text;
    sisp_buf_init(&text, 0);

    if (ts_start(&srv, sispd, NULL) != 0 || ts_start(&foreign, sispd, NULL) != 0) {
        T_FAIL_AT("sispd did not start");
        ts_kill(&srv);
        ts_cleanup(&srv);
        return t_done("test_tls_matrix");
    }
    char path[300];
    sisp_buf_t frames;
    sisp_buf_init(&frames, 0);
    snprintf(path, sizeof path, "%s/in.bin", work);
    if (probe_frames(&frames) != 0 || write_bytes(path, frames.data, frames.len) != 0)
        T_FAIL_AT("cannot write %s", path);
    sisp_buf_free(&frames);
    snprintf(path, sizeof path, "%s/ca.der", work);
    if (write_bytes(path, srv.ca, srv.ca_len) != 0 ||
        (have_openssl &&
         run("openssl x509 -inform DER -in %s/ca.der -out %s/ca.pem", work, work) != 0))
        T_FAIL_AT("cannot write the CA certificate as PEM");

    tc_user_t alice, bob, carol, alice_foreign;
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "alice", NULL, &alice), SISP_OK);
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "bob", NULL, &bob), SISP_OK);
    /* The foreign server has its own CA and its own alice. */
    CHECK_ERR(tc_register(foreign.port, foreign.ca, foreign.ca_len, "alice", NULL, &alice_foreign),
              SISP_OK);

    /* (a) No client certificate: TLS 1.3 completes, the server's HELLO offers registration, and
     * only REGISTER (and PING) are served. */
    printf("no client certificate:\n");
    {
        int err = 0;
        tclient_t *c = tc_connect(srv.port, srv.ca, srv.ca_len, NULL, &err);
        CHECK(c != NULL);
        if (c != NULL) {
            CHECK_INT(tc_server_hello(c)->registration, SISP_REG_OPEN);
            CHECK_INT(tc_server_hello(c)->user.len, 0);
            CHECK(tc_server_hello(c)->max_control < SISP_LIMIT_CONTROL); /* pre-auth limit */
            sisp_ping_t ping = {99};
            const sisp_packet_t *r = NULL;
            CHECK_INT(tc_request(c, SISP_T_PING, &ping, &r), 0);
            CHECK_INT(r->type, SISP_T_PONG);
            sisp_list_t l = {0, SISP_SLICE_NULL, 0};
            CHECK_INT(tc_request(c, SISP_T_LIST, &l, &r), 0);
            CHECK_INT(r->type, SISP_T_ERROR);
            CHECK_ERR(tc_reply_code(r), SISP_ESTATE);
            CHECK_INT(tc_wait_close(c, 5000), -SISP_ESTATE);
            tc_close(c);
        }
        sisp_whoami_t who;
        memset(&who, 0, sizeof who);
        unauth_request(SISP_T_WHOAMI, &who);
        sisp_download_t d = {sisp_slice_str("x.png"), 0, SISP_SLICE_NULL, 0};
        unauth_request(SISP_T_DOWNLOAD, &d);
        sisp_user_cert_t uc = {sisp_slice_str("alice")};
        unauth_request(SISP_T_USER_CERT, &uc);
        /* REGISTER is what such a connection is for. */
        CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "carol", NULL, &carol), SISP_OK);
        /* The pipelined probe: HELLO answered, PING answered, WHOAMI refused and fatal. */
        outcome_t o = probe_wolfssl(NULL, 0);
        CHECK(o.hello);
        CHECK_INT(o.served, 1);
        CHECK_ERR(o.error, SISP_ESTATE);
        CHECK(o.closed);
        printf("  wolfSSL   TLS 1.3, HELLO, REGISTER; other requests ESTATE\n");
        if (have_openssl) {
            /* The plain command a user would type completes, and verifies our server. */
            int st = run("timeout 20 openssl s_client -connect 127.0.0.1:%d -tls1_3 -CAfile "
                         "%s/ca.pem -ign_eof <%s/in.bin >%s/plain.txt 2>&1",
                         srv.port, work, work, work);
            snprintf(path, sizeof path, "%s/plain.txt", work);
            if (read_text(path, &text) != 0)
                T_FAIL_AT("no s_client transcript");
            CHECK_INT(st, 0);
            CHECK(strstr(str(&text), "Verify return code: 0 (ok)") != NULL);
            CHECK(strstr(str(&text), "TLSv1.3") != NULL);
            /* The server's HELLO (its payload holds the magic) came through. */
            CHECK(memmem(text.data, text.len, SISP_MAGIC, SISP_MAGIC_LEN) != NULL);
            if (strstr(str(&text), "Verify return code: 0 (ok)") == NULL)
                fprintf(stderr, "s_client said:\n%s\n", str(&text));
            o = probe_openssl(NULL, 0, &text);
            CHECK(o.hello);
            CHECK_INT(o.registration, SISP_REG_OPEN);
            CHECK_INT(o.served, 1);
            CHECK_ERR(o.error, SISP_ESTATE);
            printf("  s_client  TLS 1.3, \"Verify return code: 0 (ok)\", HELLO; WHOAMI ESTATE\n");
        }
    }

    /* The controls: a registered user's certificate works with both clients, and so does one
     * the test issues itself from the server's CA with valid dates (the same path as the
     * expired one below). */
    printf("client certificates:\n");
    accepted_both("registered user (alice)", &alice, "alice", &text);
    int64_t now = (int64_t)time(NULL);
    tc_user_t fresh, expired, early;
    CHECK_ERR(reissue(&alice, now - 3600, now + 86400, &fresh), SISP_OK);
    accepted_both("re-issued by our CA, valid dates", &fresh, "fresh", &text);

    /* (b) Refused certificates. */
    refused_both("foreign CA (another sispd's alice)", &alice_foreign, "foreign", 0, 0, &text);
    tc_user_t selfie = alice;
    int n = self_signed(&alice, selfie.cert, sizeof selfie.cert);
    CHECK(n > 0);
    if (n > 0) {
        selfie.cert_len = (size_t)n;
        refused_both("self-signed (alice's own key and name)", &selfie, "selfsigned", 0, 0, &text);
    }
    CHECK_ERR(reissue(&alice, now - 30 * 86400, now - 86400, &expired), SISP_OK);
    refused_both("expired (our CA, alice's key and serial)", &expired, "expired", 0, 0, &text);
    CHECK_ERR(reissue(&alice, now + 86400, now + 30 * 86400, &early), SISP_OK);
    refused_both("not yet valid (our CA)", &early, "early", 0, 0, &text);

    /* Revocation with the server running: bob works, `sispd revoke bob`, bob is refused. */
    accepted_both("bob before revocation", &bob, "bob", &text);
    {
        int st = run("%s --data %s revoke bob >%s/revoke.txt 2>&1", sispd, srv.dir, work);
        CHECK_INT(st, 0);
        snprintf(path, sizeof path, "%s/revoke.txt", work);
        if (read_text(path, &text) == 0)
            CHECK(strstr(str(&text), "revoked bob") != NULL);
    }
    refused_both("revoked (bob)", &bob, "bob", 0, SISP_EREVOKED, &text);

    /* TLS 1.2 is not spoken, with or without a certificate. */
    printf("TLS 1.2 only:\n");
    refused_both("TLS 1.2, no certificate", NULL, NULL, 1, 0, &text);
    refused_both("TLS 1.2, alice's certificate", &alice, "alice12", 1, 0, &text);
    if (have_openssl) {
        snprintf(path, sizeof path, "%s/err.txt", work);
        if (read_text(path, &text) == 0)
            CHECK(strstr(str(&text), "protocol version") != NULL);
    }

    /* After all that, the server still serves: alice and carol log in. */
    outcome_t o = probe_wolfssl(&alice, 0);
    expect_accepted("alice after the refusals", &o, "alice");
    o = probe_wolfssl(&carol, 0);
    expect_accepted("carol (registered without a certificate)", &o, "carol");

    CHECK_INT(ts_stop(&srv), 0);
    CHECK_INT(ts_stop(&foreign), 0);

    /* A CA past its end: sispd does not start, and says why (not a bare error code). */
    printf("an expired CA: sispd exits 1 at start, saying the CA expired\n");
    CHECK_INT(expire_ca(foreign.dir), 0);
    CHECK_INT(run("timeout 30 %s --data %s --listen 127.0.0.1:0 >%s/expired.out 2>%s/expired.err",
                  sispd, foreign.dir, work, work),
              1);
    snprintf(path, sizeof path, "%s/expired.err", work);
    CHECK(read_text(path, &text) == 0 && strstr(str(&text), "certificate authority in") != NULL &&
          strstr(str(&text), "has expired") != NULL);
    snprintf(path, sizeof path, "%s/expired.out", work);
    CHECK(read_text(path, &text) == 0 && strstr(str(&text), "listening") == NULL);
    sisp_buf_free(&text);
    ts_cleanup(&srv);
    ts_cleanup(&foreign);
    if (t_failures == 0)
        run("rm -rf '%s'", work);
    else
        fprintf(stderr, "s_client transcripts kept in %s\n", work);
    return t_done("test_tls_matrix");
}
