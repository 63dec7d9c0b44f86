/* test_ca_tls: the server's CA (real files in a temporary directory) and its TLS layer,
 * against a real wolfSSL client over memory: certificate issuance and parsing, requests that
 * must be refused, and handshakes with no, good, foreign, self-signed, expired, revoked and
 * mismatched client certificates, a TLS 1.2 client, then application data both ways. */
#include "ca.h"
#include "testutil.h"
#include "tls.h"

#include <sisp/crypto.h>
#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOST "localhost"
#define DAYS 365

static char dir_a[64], dir_b[64];
static WC_RNG rng;

static void path_of(char *out, size_t n, const char *dir, const char *name) {
    if (snprintf(out, n, "%s/%s", dir, name) >= (int)n)
        T_FAIL_AT("path too long: %s", name);
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[256];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        path_of(p, sizeof p, dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static unsigned file_mode(const char *dir, const char *name) {
    char p[256];
    struct stat st;
    path_of(p, sizeof p, dir, name);
    if (stat(p, &st) != 0)
        return 0;
    return (unsigned)(st.st_mode & 07777);
}

static void read_whole(const char *dir, const char *name, sisp_buf_t *out) {
    char p[256];
    uint8_t tmp[4096];
    path_of(p, sizeof p, dir, name);
    FILE *f = fopen(p, "rb");
    sisp_buf_reset(out);
    if (f == NULL) {
        T_FAIL_AT("cannot open %s", p);
        return;
    }
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (sisp_buf_append(out, tmp, n) != 0)
            abort();
    fclose(f);
}

static void write_whole(const char *dir, const char *name, const uint8_t *p, size_t n) {
    char path[256];
    path_of(path, sizeof path, dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n)
        T_FAIL_AT("cannot write %s", path);
    if (f)
        fclose(f);
}

static sisp_ident_key_t ident(void) {
    sisp_rng_t r;
    sisp_ident_key_t id;
    if (sisp_rng_init(&r) != 0 || sisp_ident_generate(&r, &id) != 0)
        abort();
    sisp_rng_free(&r);
    return id;
}

/* ---- certificates and requests made with wolfCrypt directly ---- */

/* A request for pub's key, signed by signer (another key: no proof of possession). */
static int csr_signed_by(const sisp_ident_key_t *subject, const sisp_ident_key_t *signer,
                         uint8_t *der, size_t cap) {
    static Cert req;
    ed25519_key ks, kg;
    int n = -1;
    wc_ed25519_init(&ks);
    wc_ed25519_init(&kg);
    if (wc_InitCert(&req) == 0 && wc_ed25519_import_public(subject->pub, 32, &ks) == 0 &&
        wc_ed25519_import_private_key(signer->seed, 32, signer->pub, 32, &kg) == 0) {
        req.version = 0;
        req.sigType = CTC_ED25519;
        strcpy(req.subject.commonName, "mallory");
        if (wc_MakeCertReq_ex(&req, der, (word32)cap, ED25519_TYPE, &ks) > 0)
            n = wc_SignCert_ex(req.bodySz, CTC_ED25519, der, (word32)cap, ED25519_TYPE, &kg, &rng);
    }
    wc_ed25519_free(&ks);
    wc_ed25519_free(&kg);
    return n;
}

static int csr_ecc(uint8_t *der, size_t cap) {
    static Cert req;
    ecc_key k;
    int n = -1;
    if (wc_ecc_init(&k) != 0)
        return -1;
    if (wc_ecc_make_key(&rng, 32, &k) == 0 && wc_InitCert(&req) == 0) {
        req.version = 0;
        req.sigType = CTC_SHA256wECDSA;
        strcpy(req.subject.commonName, "eccuser");
        if (wc_MakeCertReq_ex(&req, der, (word32)cap, ECC_TYPE, &k) > 0)
            n = wc_SignCert_ex(req.bodySz, req.sigType, der, (word32)cap, ECC_TYPE, &k, &rng);
    }
    wc_ecc_free(&k);
    return n;
}

static int self_signed(const sisp_ident_key_t *id, const char *cn, uint8_t *der, size_t cap,
                       const char *eku) {
    static Cert c;
    ed25519_key k;
    int n = -1;
    wc_ed25519_init(&k);
    if (wc_InitCert(&c) == 0 && wc_ed25519_import_private_key(id->seed, 32, id->pub, 32, &k) == 0) {
        c.sigType = CTC_ED25519;
        c.serial[0] = 0x10;
        c.serial[1] = 0x01;
        c.serialSz = 2;
        c.daysValid = 30;
        strcpy(c.subject.commonName, cn);
        if ((eku == NULL || wc_SetExtKeyUsage(&c, eku) == 0) &&
            wc_MakeCert_ex(&c, der, (word32)cap, ED25519_TYPE, &k, &rng) > 0)
            n = wc_SignCert_ex(c.bodySz, CTC_ED25519, der, (word32)cap, ED25519_TYPE, &k, &rng);
    }
    wc_ed25519_free(&k);
    return n;
}

/* ---- the CA ---- */

static void test_ca_files(void) {
    sisp_ca_t *ca = NULL, *again = NULL;
    uint8_t fp1[32], fp2[32], h[32];
    sisp_buf_t f, cert1, srv1, key1;
    sisp_buf_init(&f, 0);
    sisp_buf_init(&cert1, 0);
    sisp_buf_init(&srv1, 0);
    sisp_buf_init(&key1, 0);

    CHECK_ERR(sisp_ca_open(dir_a, HOST, &ca), SISP_OK);
    if (ca == NULL)
        return;
    CHECK_INT(file_mode(dir_a, "ca.key"), 0600);
    CHECK_INT(file_mode(dir_a, "server.key"), 0600);
    CHECK_INT(file_mode(dir_a, "ca.crt"), 0644);
    CHECK_INT(file_mode(dir_a, "server.crt"), 0644);
    sisp_slice_t c = sisp_ca_cert(ca), s = sisp_ca_server_cert(ca), k = sisp_ca_server_key(ca);
    read_whole(dir_a, "ca.crt", &f);
    CHECK_MEM(f.data, f.len, c.ptr, c.len);
    read_whole(dir_a, "server.crt", &f);
    CHECK_MEM(f.data, f.len, s.ptr, s.len);
    read_whole(dir_a, "server.key", &f);
    CHECK_MEM(f.data, f.len, k.ptr, k.len);
    sisp_ca_fingerprint(ca, fp1);
    CHECK_ERR(sisp_sha256(c.ptr, c.len, h), SISP_OK);
    CHECK_MEM(fp1, 32, h, 32);
    CHECK(sisp_buf_append(&cert1, c.ptr, c.len) == 0);
    CHECK(sisp_buf_append(&srv1, s.ptr, s.len) == 0);
    CHECK(sisp_buf_append(&key1, k.ptr, k.len) == 0);

    /* Neither the CA nor the server certificate is a user certificate. */
    sisp_cert_info_t info;
    CHECK_ERR(sisp_cert_parse(c.ptr, c.len, &info), SISP_ECSR);

    /* Second start: everything as it was, and a key's temp file that a crash of another
     * process left is gone (the one an unrelated name has stays). */
    char stale[600], other[600];
    snprintf(stale, sizeof stale, "%s/ca.key.tmp.99999", dir_a);
    snprintf(other, sizeof other, "%s/notes.tmp.99999", dir_a);
    CHECK(t_write_file(stale, "secret", 6) == 0 && t_write_file(other, "x", 1) == 0);
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_OK);
    CHECK(access(stale, F_OK) != 0);
    CHECK(access(other, F_OK) == 0);
    unlink(other);
    if (again != NULL) {
        sisp_ca_fingerprint(again, fp2);
        CHECK_MEM(fp1, 32, fp2, 32);
        c = sisp_ca_cert(again);
        s = sisp_ca_server_cert(again);
        k = sisp_ca_server_key(again);
        CHECK_MEM(c.ptr, c.len, cert1.data, cert1.len);
        CHECK_MEM(s.ptr, s.len, srv1.data, srv1.len);
        CHECK_MEM(k.ptr, k.len, key1.data, key1.len);
        sisp_ca_free(again);
    }
    sisp_ca_free(ca);

    /* Another host name: same CA, a new server certificate with the next serial. */
    CHECK_ERR(sisp_ca_open(dir_a, "sisp.example.org", &again), SISP_OK);
    if (again != NULL) {
        sisp_ca_fingerprint(again, fp2);
        CHECK_MEM(fp1, 32, fp2, 32);
        s = sisp_ca_server_cert(again);
        CHECK(!t_mem_eq(s.ptr, s.len, srv1.data, srv1.len));
        /* (wolfSSL_X509_load_certificate_buffer refuses Ed25519 certificates in wolfSSL
         * 5.5.4: the DecodedCert it is built on is read directly.) */
        DecodedCert dc;
        wc_InitDecodedCert(&dc, s.ptr, (word32)s.len, NULL);
        CHECK_INT(wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL), 0);
        CHECK_MEM(dc.subjectCN, (size_t)dc.subjectCNLen, "sisp.example.org", 16);
        /* A random serial in [2^62, 2^63): never one an earlier server certificate had. */
        CHECK_INT(dc.serialSz, 8);
        CHECK_INT(dc.serial[0] & 0xc0, 0x40);
        DecodedCert d1;
        wc_InitDecodedCert(&d1, srv1.data, (word32)srv1.len, NULL);
        CHECK_INT(wc_ParseCert(&d1, CERT_TYPE, NO_VERIFY, NULL), 0);
        CHECK(!t_mem_eq(dc.serial, (size_t)dc.serialSz, d1.serial, (size_t)d1.serialSz));
        wc_FreeDecodedCert(&d1);
        int dns = 0, ip = 0;
        for (DNS_entry *e = dc.altNames; e != NULL; e = e->next) {
            if (e->type == ASN_DNS_TYPE &&
                t_mem_eq(e->name, (size_t)e->len, "sisp.example.org", 16))
                dns++;
            else if (e->type == ASN_IP_TYPE && t_mem_eq(e->name, (size_t)e->len, "\x7f\0\0\1", 4))
                ip++;
            else
                T_FAIL_AT("unexpected alt name type %d", e->type);
        }
        CHECK_INT(dns, 1);
        CHECK_INT(ip, 1);
        CHECK(dc.extExtKeyUsage == EXTKEYUSE_SERVER_AUTH);
        wc_FreeDecodedCert(&dc);
        sisp_ca_free(again);
    }
    /* Back to the first host name for the handshakes below. */
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_OK);
    sisp_ca_free(again);
    /* A certificate that is not for the server key is replaced. */
    write_whole(dir_a, "server.crt", cert1.data, cert1.len);
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_OK);
    if (again != NULL) {
        s = sisp_ca_server_cert(again);
        CHECK(!t_mem_eq(s.ptr, s.len, cert1.data, cert1.len));
        read_whole(dir_a, "server.crt", &f);
        CHECK_MEM(f.data, f.len, s.ptr, s.len);
        sisp_ca_free(again);
    }

    /* A key file others can read is refused, as is a damaged CA certificate. */
    char p[256];
    path_of(p, sizeof p, dir_a, "ca.key");
    CHECK(chmod(p, 0640) == 0);
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_EKEYPERM);
    CHECK(again == NULL);
    CHECK(chmod(p, 0600) == 0);
    CHECK(cert1.len > 100);
    cert1.data[cert1.len - 3] ^= 1; /* in the signature */
    write_whole(dir_a, "ca.crt", cert1.data, cert1.len);
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_EKEYFILE);
    cert1.data[cert1.len - 3] ^= 1;
    write_whole(dir_a, "ca.crt", cert1.data, cert1.len);
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &again), SISP_OK);
    sisp_ca_free(again);

    /* A certificate without its key is never replaced. */
    char d2[64];
    snprintf(d2, sizeof d2, "/tmp/sisp-ca2-XXXXXX");
    CHECK(mkdtemp(d2) != NULL);
    write_whole(d2, "ca.crt", cert1.data, cert1.len);
    CHECK_ERR(sisp_ca_open(d2, HOST, &again), SISP_EKEYFILE);
    remove_dir(d2);
    /* A key without its certificate (a crash during the first start) gets one. */
    CHECK(mkdtemp(strcpy(d2, "/tmp/sisp-ca3-XXXXXX")) != NULL);
    CHECK_ERR(sisp_ca_open(d2, HOST, &again), SISP_OK);
    sisp_ca_free(again);
    read_whole(d2, "ca.key", &key1);
    path_of(p, sizeof p, d2, "ca.crt");
    CHECK(unlink(p) == 0);
    CHECK_ERR(sisp_ca_open(d2, HOST, &again), SISP_OK);
    sisp_ca_free(again);
    read_whole(d2, "ca.key", &f);
    CHECK_MEM(f.data, f.len, key1.data, key1.len);
    CHECK_INT(file_mode(d2, "ca.crt"), 0644);
    remove_dir(d2);

    CHECK_ERR(sisp_ca_open(dir_a, "bad host", &again), SISP_EINVAL);
    CHECK_ERR(sisp_ca_open(dir_a, "", &again), SISP_EINVAL);

    sisp_buf_free(&f);
    sisp_buf_free(&cert1);
    sisp_buf_free(&srv1);
    sisp_buf_free(&key1);
}

static void test_issue(sisp_ca_t *ca) {
    sisp_ident_key_t id = ident(), other = ident();
    sisp_buf_t csr, cert;
    uint8_t pub[32];
    sisp_cert_info_t info;
    sisp_buf_init(&csr, 0);
    sisp_buf_init(&cert, 0);

    CHECK_ERR(sisp_csr_make(&id, "alice", &csr), SISP_OK);
    int64_t t0 = (int64_t)time(NULL);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "alice", 1000, DAYS, &cert, pub), SISP_OK);
    CHECK_MEM(pub, 32, id.pub, 32);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    CHECK(strcmp(info.user, "alice") == 0);
    CHECK_U64(info.serial, 1000);
    CHECK_MEM(info.pub, 32, id.pub, 32);
    CHECK(info.not_after >= t0 + DAYS * 86400 && info.not_after <= t0 + DAYS * 86400 + 5);

    /* The subject is the user name given, whatever the request asked for; serials of any
     * width up to 64 bits survive (the top bit set needs a leading zero in DER). */
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "bob_2", UINT64_MAX, 1, &cert, pub), SISP_OK);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    CHECK(strcmp(info.user, "bob_2") == 0);
    CHECK_U64(info.serial, UINT64_MAX);
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "carol", 0x8000000000000005u, 1, &cert, pub),
              SISP_OK);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    CHECK_U64(info.serial, 0x8000000000000005u);

    /* The longest validity allowed, and one more: it ends with the CA's (10 years), since a
     * certificate outliving its CA would not verify. */
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "alice", 1000, 36500, &cert, pub), SISP_OK);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    sisp_slice_t cac = sisp_ca_cert(ca);
    DecodedCert cadc;
    int64_t ca_end = 0;
    wc_InitDecodedCert(&cadc, cac.ptr, (word32)cac.len, NULL);
    CHECK_INT(wc_ParseCert(&cadc, CERT_TYPE, NO_VERIFY, NULL), 0);
    CHECK_INT(sisp__dc_not_after(&cadc, &ca_end), 0);
    wc_FreeDecodedCert(&cadc);
    CHECK(ca_end > (int64_t)time(NULL) + 3600LL * 86400);
    CHECK(info.not_after == ca_end);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "alice", 1000, 36501, &cert, pub), SISP_EINVAL);
    /* Past 2049 the dates are GeneralizedTime. */
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp__ca_issue_at(ca, csr.data, csr.len, "alice", 1000, 946684800 /* 2000 */,
                                2524608000 /* 2050-01-01 */, &cert, pub),
              SISP_OK);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    CHECK(info.not_after == 2524608000);
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp__ca_issue_at(ca, csr.data, csr.len, "alice", 1000, 946684800,
                                2524607999 /* 2049-12-31 23:59:59 */, &cert, pub),
              SISP_OK);
    CHECK_ERR(sisp_cert_parse(cert.data, cert.len, &info), SISP_OK);
    CHECK(info.not_after == 2524607999);
    CHECK_ERR(sisp__ca_issue_at(ca, csr.data, csr.len, "alice", 1000, 20, 10, &cert, pub),
              SISP_EINVAL);
    sisp_buf_reset(&cert);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "carol", 0x8000000000000005u, 1, &cert, pub),
              SISP_OK);

    /* Appends; a failure leaves what was there. */
    size_t had = cert.len;
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "Alice", 1001, DAYS, &cert, pub),
              SISP_EUSERNAME);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "alice", 1001, 0, &cert, pub), SISP_EINVAL);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len, "alice", 0, DAYS, &cert, pub), SISP_EINVAL);
    CHECK_U64(cert.len, had);

    /* Refused requests. */
    uint8_t bad[2048];
    CHECK(csr.len <= sizeof bad);
    memcpy(bad, csr.data, csr.len);
    bad[csr.len - 1] ^= 0x01; /* the signature */
    CHECK_ERR(sisp_ca_issue(ca, bad, csr.len, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    memcpy(bad, csr.data, csr.len);
    bad[csr.len - 70] ^= 0x01; /* signed bytes, near the end: the public key */
    CHECK_ERR(sisp_ca_issue(ca, bad, csr.len, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    CHECK_ERR(sisp_ca_issue(ca, csr.data, csr.len - 1, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    memcpy(bad, csr.data, csr.len);
    bad[csr.len] = 0;
    CHECK_ERR(sisp_ca_issue(ca, bad, csr.len + 1, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    CHECK_ERR(sisp_ca_issue(ca, NULL, 0, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    int n = csr_signed_by(&id, &other, bad, sizeof bad);
    CHECK(n > 0);
    if (n > 0)
        CHECK_ERR(sisp_ca_issue(ca, bad, (size_t)n, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    n = csr_signed_by(&id, &id, bad, sizeof bad); /* the same, properly signed, is fine */
    CHECK(n > 0);
    if (n > 0)
        CHECK_ERR(sisp_ca_issue(ca, bad, (size_t)n, "alice", 1002, DAYS, &cert, pub), SISP_OK);
    n = csr_ecc(bad, sizeof bad);
    CHECK(n > 0);
    if (n > 0)
        CHECK_ERR(sisp_ca_issue(ca, bad, (size_t)n, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);
    /* A certificate is not a request. */
    CHECK_ERR(sisp_ca_issue(ca, cert.data, had, "alice", 1002, DAYS, &cert, pub), SISP_ECSR);

    /* sisp_cert_parse refuses what is not one of ours in shape. */
    CHECK_ERR(sisp_cert_parse(cert.data, had - 1, &info), SISP_ECSR);
    CHECK_ERR(sisp_cert_parse(csr.data, csr.len, &info), SISP_ECSR);
    n = self_signed(&id, "Not A User", bad, sizeof bad, "clientAuth");
    CHECK(n > 0);
    if (n > 0)
        CHECK_ERR(sisp_cert_parse(bad, (size_t)n, &info), SISP_ECSR);
    n = self_signed(&id, "dave", bad, sizeof bad, "clientAuth");
    if (n > 0) { /* parse does not verify: the shape is right */
        CHECK_ERR(sisp_cert_parse(bad, (size_t)n, &info), SISP_OK);
        CHECK_U64(info.serial, 0x1001);
    }
    n = self_signed(&id, "dave", bad, sizeof bad, NULL); /* not for client authentication */
    if (n > 0)
        CHECK_ERR(sisp_cert_parse(bad, (size_t)n, &info), SISP_ECSR);
    n = self_signed(&id, "dave", bad, sizeof bad, "serverAuth");
    if (n > 0)
        CHECK_ERR(sisp_cert_parse(bad, (size_t)n, &info), SISP_ECSR);
    /* The server certificate, even when its host name looks like a user name. */
    sisp_slice_t sc = sisp_ca_server_cert(ca);
    CHECK_ERR(sisp_cert_parse(sc.ptr, sc.len, &info), SISP_ECSR);

    /* Usernames are checked by the request maker too. */
    sisp_buf_reset(&csr);
    CHECK_ERR(sisp_csr_make(&id, "x", &csr), SISP_EUSERNAME);

    sisp_buf_free(&csr);
    sisp_buf_free(&cert);
}

/* ---- a wolfSSL client over memory ---- */

typedef struct {
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    sisp_buf_t in; /* ciphertext from the server, drained by the recv callback */
    size_t in_pos;
    sisp_buf_t out; /* ciphertext for the server */
} tclient_t;

static int c_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    tclient_t *c = arg;
    (void)ssl;
    size_t avail = c->in.len - c->in_pos;
    if (avail == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < avail ? (size_t)sz : avail;
    memcpy(buf, c->in.data + c->in_pos, n);
    c->in_pos += n;
    if (c->in_pos == c->in.len)
        c->in.len = c->in_pos = 0;
    return (int)n;
}

static int c_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
    tclient_t *c = arg;
    (void)ssl;
    if (sisp_buf_append(&c->out, buf, (size_t)sz) != 0)
        return WOLFSSL_CBIO_ERR_GENERAL;
    return sz;
}

/* A client trusting root; with a certificate and key if cert is not NULL. */
static int tclient_init(tclient_t *c, WOLFSSL_METHOD *method, sisp_slice_t root,
                        const uint8_t *cert, size_t cert_len, const sisp_ident_key_t *key) {
    memset(c, 0, sizeof *c);
    sisp_buf_init(&c->in, 0);
    sisp_buf_init(&c->out, 0);
    c->ctx = wolfSSL_CTX_new(method);
    if (c->ctx == NULL)
        return -1;
    if (wolfSSL_CTX_load_verify_buffer(c->ctx, root.ptr, (long)root.len, WOLFSSL_FILETYPE_ASN1) !=
        WOLFSSL_SUCCESS)
        return -1;
    wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (cert != NULL) {
        uint8_t der[256];
        size_t n = 0;
        if (sisp_ident_der(key, der, sizeof der, &n) != 0 ||
            wolfSSL_CTX_use_certificate_buffer(c->ctx, cert, (long)cert_len,
                                               WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, der, (long)n, WOLFSSL_FILETYPE_ASN1) !=
                WOLFSSL_SUCCESS)
            return -1;
    }
    wolfSSL_CTX_SetIORecv(c->ctx, c_recv);
    wolfSSL_CTX_SetIOSend(c->ctx, c_send);
    c->ssl = wolfSSL_new(c->ctx);
    if (c->ssl == NULL)
        return -1;
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    if (wolfSSL_check_domain_name(c->ssl, HOST) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}

static void tclient_free(tclient_t *c) {
    wolfSSL_free(c->ssl);
    wolfSSL_CTX_free(c->ctx);
    sisp_buf_free(&c->in);
    sisp_buf_free(&c->out);
}

/* Server output to the client. */
static void to_client(sisp_tls_t *t, tclient_t *c) {
    sisp_buf_t *o = sisp_tls_out(t);
    if (o->len > 0) {
        if (sisp_buf_append(&c->in, o->data, o->len) != 0)
            abort();
        sisp_buf_consume(o, o->len);
    }
}

/* Client output to the server, in pieces of at most step bytes (0: whole). Calls step_fn
 * after each piece, if not NULL, and keeps its first non-NEED_MORE result. */
static int to_server(tclient_t *c, sisp_tls_t *t, size_t step, int (*fn)(sisp_tls_t *)) {
    int rc = SISP_NEED_MORE;
    size_t pos = 0;
    while (pos < c->out.len) {
        size_t n = step && c->out.len - pos > step ? step : c->out.len - pos;
        int f = sisp_tls_feed(t, c->out.data + pos, n);
        if (f != 0)
            return f;
        pos += n;
        if (fn != NULL && rc == SISP_NEED_MORE)
            rc = fn(t);
    }
    sisp_buf_reset(&c->out);
    if (fn != NULL && rc == SISP_NEED_MORE)
        rc = fn(t);
    return rc;
}

typedef struct {
    int server;     /* sisp_tls_handshake's final result */
    int client_ok;  /* wolfSSL_connect succeeded */
    int client_err; /* else its wolfSSL_get_error */
} hs_result_t;

static hs_result_t handshake(sisp_tls_t *t, tclient_t *c, size_t step) {
    hs_result_t r = {SISP_NEED_MORE, 0, 0};
    for (int round = 0; round < 20; round++) {
        if (!r.client_ok && r.client_err == 0) {
            int ret = wolfSSL_connect(c->ssl);
            if (ret == WOLFSSL_SUCCESS) {
                r.client_ok = 1;
            } else {
                int e = wolfSSL_get_error(c->ssl, ret);
                if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
                    r.client_err = e;
            }
        }
        if (r.server == SISP_NEED_MORE)
            r.server = to_server(c, t, step, sisp_tls_handshake);
        else
            sisp_buf_reset(&c->out);
        to_client(t, c);
        if (r.server != SISP_NEED_MORE && (r.client_ok || r.client_err != 0))
            break;
    }
    return r;
}

/* Reads exactly n bytes of plaintext on the client. */
static int client_read(tclient_t *c, uint8_t *out, size_t n) {
    size_t got = 0;
    while (got < n) {
        int r = wolfSSL_read(c->ssl, out + got, (int)(n - got));
        if (r <= 0)
            return wolfSSL_get_error(c->ssl, r);
        got += (size_t)r;
    }
    return 0;
}

/* Signs the client's CertificateVerify with this key instead of the certificate's, when set:
 * a client that has someone's certificate but not their key. */
static const sisp_ident_key_t *sign_with;

static int sign_other(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
                      unsigned char *out, unsigned int *out_len, const unsigned char *key_der,
                      unsigned int key_len, void *ctx) {
    const sisp_ident_key_t *k = ctx;
    ed25519_key ek;
    (void)ssl;
    (void)key_der;
    (void)key_len;
    wc_ed25519_init(&ek);
    int rc = wc_ed25519_import_private_key(k->seed, 32, k->pub, 32, &ek);
    if (rc == 0)
        rc = wc_ed25519_sign_msg(in, in_len, out, out_len, &ek);
    wc_ed25519_free(&ek);
    return rc;
}

static sisp_ca_t *ca_a, *ca_b;
static uint64_t revoked_serial, last_serial_asked;
static int revoked_answer = 1;

static int revoked_cb(void *arg, uint64_t serial) {
    CHECK(arg == &revoked_serial);
    last_serial_asked = serial;
    return serial == revoked_serial ? revoked_answer : 0;
}

/* Issues a certificate for a new key from ca, valid [nb, na). */
static void issue(sisp_ca_t *ca, const char *user, uint64_t serial, int64_t nb, int64_t na,
                  sisp_ident_key_t *id, sisp_buf_t *cert) {
    sisp_buf_t csr;
    uint8_t pub[32];
    sisp_buf_init(&csr, 0);
    *id = ident();
    sisp_buf_reset(cert);
    CHECK_ERR(sisp_csr_make(id, user, &csr), SISP_OK);
    CHECK_ERR(sisp__ca_issue_at(ca, csr.data, csr.len, user, serial, nb, na, cert, pub), SISP_OK);
    sisp_buf_free(&csr);
}

/* One handshake; returns the server's result; *peer the peer info if it succeeded. */
static int try_client(sisp_tls_ctx_t *ctx, WOLFSSL_METHOD *method, const sisp_buf_t *cert,
                      const sisp_ident_key_t *key, size_t step, sisp_cert_info_t *peer,
                      int *peer_rc, int *client_ok) {
    tclient_t c;
    sisp_tls_t *t = sisp_tls_new(ctx);
    CHECK(t != NULL);
    if (t == NULL)
        return SISP_ENOMEM;
    int rc = tclient_init(&c, method, sisp_ca_cert(ca_a), cert ? cert->data : NULL,
                          cert ? cert->len : 0, key);
    CHECK_INT(rc, 0);
    if (rc == 0 && sign_with != NULL) {
        wolfSSL_CTX_SetEd25519SignCb(c.ctx, sign_other);
        wolfSSL_SetEd25519SignCtx(c.ssl, (void *)(uintptr_t)sign_with);
    }
    hs_result_t r = {SISP_EINTERNAL, 0, 0};
    if (rc == 0)
        r = handshake(t, &c, step);
    if (client_ok)
        *client_ok = r.client_ok;
    if (r.server == 0 && peer_rc != NULL)
        *peer_rc = sisp_tls_peer(t, peer);
    if (r.server != 0) {
        CHECK(sisp_tls_why(t) != NULL);
        /* sticky */
        CHECK_ERR(sisp_tls_handshake(t), r.server);
        uint8_t b[8];
        size_t n = 1;
        CHECK_ERR(sisp_tls_read(t, b, sizeof b, &n), r.server);
        CHECK_U64(n, 0);
    }
    if (getenv("SISP_TEST_VERBOSE"))
        fprintf(stderr, "  server: %s (%s); client: %s %d\n", t_errname(r.server),
                sisp_tls_why(t) ? sisp_tls_why(t) : "-", r.client_ok ? "ok" : "failed",
                r.client_err);
    tclient_free(&c);
    sisp_tls_free(t);
    return r.server;
}

static void test_handshakes(void) {
    sisp_tls_ctx_t *ctx = NULL;
    sisp_ident_key_t id, id2;
    sisp_buf_t cert, cert2;
    sisp_cert_info_t peer;
    int peer_rc = 99, client_ok = 0;
    int64_t now = (int64_t)time(NULL);
    sisp_buf_init(&cert, 0);
    sisp_buf_init(&cert2, 0);
    CHECK_ERR(sisp_tls_ctx_new(ca_a, revoked_cb, &revoked_serial, &ctx), SISP_OK);
    if (ctx == NULL)
        return;

    /* No client certificate: in, unauthenticated. */
    CHECK_ERR(
        try_client(ctx, wolfTLSv1_3_client_method(), NULL, NULL, 0, &peer, &peer_rc, &client_ok),
        SISP_OK);
    CHECK_ERR(peer_rc, SISP_ENOTFOUND);
    CHECK(client_ok);

    /* An issued certificate, fed whole and one byte at a time. */
    issue(ca_a, "alice", 1000, now - 3600, now + 86400, &id, &cert);
    for (size_t step = 0; step <= 1; step++) {
        memset(&peer, 0, sizeof peer);
        last_serial_asked = 0;
        CHECK_ERR(
            try_client(ctx, wolfTLSv1_3_client_method(), &cert, &id, step, &peer, &peer_rc, NULL),
            SISP_OK);
        CHECK_ERR(peer_rc, SISP_OK);
        CHECK(strcmp(peer.user, "alice") == 0);
        CHECK_U64(peer.serial, 1000);
        CHECK_MEM(peer.pub, 32, id.pub, 32);
        CHECK(peer.not_after == now + 86400);
        CHECK_U64(last_serial_asked, 1000);
    }

    /* A client that sends the CA certificate after its own. */
    {
        tclient_t c;
        sisp_tls_t *t = sisp_tls_new(ctx);
        sisp_slice_t root = sisp_ca_cert(ca_a);
        static uint8_t pem[8192];
        int n1 = wc_DerToPem(cert.data, (word32)cert.len, pem, sizeof pem, CERT_TYPE);
        int n2 = n1 > 0 ? wc_DerToPem(root.ptr, (word32)root.len, pem + n1,
                                      (word32)(sizeof pem - (size_t)n1), CERT_TYPE)
                        : -1;
        CHECK(n1 > 0 && n2 > 0);
        CHECK_INT(tclient_init(&c, wolfTLSv1_3_client_method(), root, cert.data, cert.len, &id), 0);
        CHECK_INT(wolfSSL_use_certificate_chain_buffer(c.ssl, pem, n1 + n2), WOLFSSL_SUCCESS);
        hs_result_t r = handshake(t, &c, 0);
        CHECK_ERR(r.server, SISP_OK);
        CHECK_ERR(sisp_tls_peer(t, &peer), SISP_OK);
        CHECK(strcmp(peer.user, "alice") == 0);
        /* The fingerprint is the leaf's, not the CA's that came after it. */
        uint8_t fp[SISP_SHA256_SIZE];
        CHECK_ERR(sisp_sha256(cert.data, cert.len, fp), SISP_OK);
        CHECK(sisp_tls_peer_fp(t) != NULL);
        if (sisp_tls_peer_fp(t) != NULL)
            CHECK_MEM(sisp_tls_peer_fp(t), SISP_SHA256_SIZE, fp, SISP_SHA256_SIZE);
        if (getenv("SISP_TEST_VERBOSE"))
            fprintf(stderr, "  chain: %s\n", sisp_tls_why(t) ? sisp_tls_why(t) : "-");
        tclient_free(&c);
        sisp_tls_free(t);
    }

    /* Someone else's certificate, without their key: CertificateVerify fails. */
    id2 = ident();
    sign_with = &id2;
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert, &id, 0, NULL, NULL, NULL),
              SISP_EAUTH);
    sign_with = &id; /* the callback itself is sound */
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert, &id, 0, NULL, NULL, NULL),
              SISP_OK);
    sign_with = NULL;

    /* Revoked; and a revocation check that cannot answer fails closed. */
    revoked_serial = 1000;
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert, &id, 0, NULL, NULL, NULL),
              SISP_EREVOKED);
    revoked_answer = SISP_ESTORE;
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert, &id, 0, NULL, NULL, NULL),
              SISP_ESTORE);
    revoked_answer = 1;
    revoked_serial = 0;

    /* From a foreign CA. */
    issue(ca_b, "alice", 1000, now - 3600, now + 86400, &id2, &cert2);
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert2, &id2, 0, NULL, NULL, NULL),
              SISP_EAUTH);

    /* Self-signed. */
    uint8_t der[2048];
    int n = self_signed(&id2, "alice", der, sizeof der, "clientAuth");
    CHECK(n > 0);
    sisp_buf_reset(&cert2);
    CHECK(sisp_buf_append(&cert2, der, (size_t)(n > 0 ? n : 0)) == 0);
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert2, &id2, 0, NULL, NULL, NULL),
              SISP_EAUTH);

    /* Expired, and not yet valid. */
    last_serial_asked = 0;
    issue(ca_a, "alice", 1003, now - 10 * 86400, now - 86400, &id2, &cert2);
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert2, &id2, 0, NULL, NULL, NULL),
              SISP_EAUTH);
    issue(ca_a, "alice", 1004, now + 86400, now + 10 * 86400, &id2, &cert2);
    CHECK_ERR(try_client(ctx, wolfTLSv1_3_client_method(), &cert2, &id2, 0, NULL, NULL, NULL),
              SISP_EAUTH);
    CHECK_U64(last_serial_asked, 0); /* refused before the revocation check */

    /* The server's own certificate and key, presented by a client: not for client auth. */
    {
        sisp_slice_t sc = sisp_ca_server_cert(ca_a), sk = sisp_ca_server_key(ca_a);
        tclient_t c;
        sisp_tls_t *t = sisp_tls_new(ctx);
        CHECK_INT(tclient_init(&c, wolfTLSv1_3_client_method(), sisp_ca_cert(ca_a), NULL, 0, NULL),
                  0);
        CHECK_INT(
            wolfSSL_use_certificate_buffer(c.ssl, sc.ptr, (long)sc.len, WOLFSSL_FILETYPE_ASN1),
            WOLFSSL_SUCCESS);
        CHECK_INT(wolfSSL_use_PrivateKey_buffer(c.ssl, sk.ptr, (long)sk.len, WOLFSSL_FILETYPE_ASN1),
                  WOLFSSL_SUCCESS);
        hs_result_t r = handshake(t, &c, 0);
        CHECK_ERR(r.server, SISP_EAUTH);
        tclient_free(&c);
        sisp_tls_free(t);
    }

    /* TLS 1.2 only. */
    CHECK_ERR(try_client(ctx, wolfTLSv1_2_client_method(), NULL, NULL, 0, NULL, NULL, &client_ok),
              SISP_EPROTO);
    CHECK(!client_ok);

    sisp_tls_ctx_free(ctx);
    sisp_buf_free(&cert);
    sisp_buf_free(&cert2);
}

/* A client that trusts a different CA refuses the server. */
static void test_wrong_ca(void) {
    sisp_tls_ctx_t *ctx = NULL;
    tclient_t c;
    CHECK_ERR(sisp_tls_ctx_new(ca_a, NULL, NULL, &ctx), SISP_OK);
    if (ctx == NULL)
        return;
    sisp_tls_t *t = sisp_tls_new(ctx);
    CHECK_INT(tclient_init(&c, wolfTLSv1_3_client_method(), sisp_ca_cert(ca_b), NULL, 0, NULL), 0);
    hs_result_t r = handshake(t, &c, 0);
    CHECK(!r.client_ok);
    CHECK(r.client_err != 0);
    CHECK(r.server != 0);
    tclient_free(&c);
    sisp_tls_free(t);
    sisp_tls_ctx_free(ctx);
}

static void fill(uint8_t *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        p[i] = (uint8_t)(seed >> 56);
    }
}

static void test_data(void) {
    sisp_tls_ctx_t *ctx = NULL;
    sisp_ident_key_t id;
    sisp_buf_t cert;
    tclient_t c;
    int64_t now = (int64_t)time(NULL);
    sisp_buf_init(&cert, 0);
    CHECK_ERR(sisp_tls_ctx_new(ca_a, revoked_cb, &revoked_serial, &ctx), SISP_OK);
    if (ctx == NULL)
        return;
    issue(ca_a, "bob-1", 1010, now - 60, now + 86400, &id, &cert);
    sisp_tls_t *t = sisp_tls_new(ctx);
    CHECK_INT(
        tclient_init(&c, wolfTLSv1_3_client_method(), sisp_ca_cert(ca_a), cert.data, cert.len, &id),
        0);
    uint8_t small[16];
    size_t n = 0;
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_EINVAL); /* before the handshake */
    CHECK_ERR(sisp_tls_write(t, small, 1), SISP_EINVAL);
    /* Key shares for P-256 and X25519, in that order: the server takes X25519. */
    CHECK_INT(wolfSSL_UseKeyShare(c.ssl, WOLFSSL_ECC_SECP256R1), WOLFSSL_SUCCESS);
    CHECK_INT(wolfSSL_UseKeyShare(c.ssl, WOLFSSL_ECC_X25519), WOLFSSL_SUCCESS);
    hs_result_t r = handshake(t, &c, 0);
    CHECK_ERR(r.server, SISP_OK);
    CHECK(r.client_ok);
    if (r.server != 0 || !r.client_ok)
        goto out;
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_NEED_MORE);
    CHECK(strcmp(wolfSSL_get_version(c.ssl), "TLSv1.3") == 0);
    CHECK(wolfSSL_get_curve_name(c.ssl) != NULL &&
          strcmp(wolfSSL_get_curve_name(c.ssl), "X25519") == 0);

    /* Small messages both ways. */
    CHECK_INT(wolfSSL_write(c.ssl, "hello", 5), 5);
    CHECK_ERR(to_server(&c, t, 0, NULL), SISP_NEED_MORE);
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_OK);
    CHECK_MEM(small, n, "hello", 5);
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_NEED_MORE);
    CHECK_ERR(sisp_tls_write(t, (const uint8_t *)"world", 5), SISP_OK);
    to_client(t, &c);
    CHECK_INT(client_read(&c, small, 5), 0);
    CHECK_MEM(small, 5, "world", 5);
    {
        /* The client has read past where a NewSessionTicket would be: none came. */
        uint8_t ticket[512];
        word32 tlen = sizeof ticket;
        CHECK_INT(wolfSSL_get_SessionTicket(c.ssl, ticket, &tlen), WOLFSSL_SUCCESS);
        CHECK_U64(tlen, 0);
    }

    /* 1 MiB from the server in 64 KiB writes, and 1 MiB from the client fed in odd pieces
     * and read through a small buffer. */
    size_t big = 1u << 20;
    uint8_t *src = malloc(big), *dst = malloc(big);
    if (src == NULL || dst == NULL)
        abort();
    fill(src, big, 7);
    for (size_t off = 0; off < big; off += 65536)
        CHECK_ERR(sisp_tls_write(t, src + off, 65536), SISP_OK);
    CHECK(sisp_tls_out(t)->len > big);
    to_client(t, &c);
    memset(dst, 0, big);
    CHECK_INT(client_read(&c, dst, big), 0);
    CHECK_MEM(dst, big, src, big);

    fill(src, big, 11);
    for (size_t off = 0; off < big;) {
        size_t k = 1 + (size_t)t_rand_below(50000);
        if (k > big - off)
            k = big - off;
        CHECK_INT(wolfSSL_write(c.ssl, src + off, (int)k), (int)k);
        off += k;
    }
    size_t got = 0, fed = 0;
    memset(dst, 0, big);
    while (fed < c.out.len || got < big) {
        if (fed < c.out.len) {
            size_t k = 1 + (size_t)t_rand_below(30000);
            if (k > c.out.len - fed)
                k = c.out.len - fed;
            CHECK_ERR(sisp_tls_feed(t, c.out.data + fed, k), SISP_OK);
            fed += k;
        }
        for (;;) {
            size_t cap = 1 + (size_t)t_rand_below(5000);
            if (cap > big - got)
                cap = big - got;
            if (cap == 0)
                break;
            int rc = sisp_tls_read(t, dst + got, cap, &n);
            if (rc == SISP_NEED_MORE)
                break;
            CHECK_ERR(rc, SISP_OK);
            if (rc != 0)
                goto freebig;
            got += n;
        }
        if (fed == c.out.len && got < big) {
            T_FAIL_AT("stalled at %zu of %zu", got, big);
            break;
        }
    }
    sisp_buf_reset(&c.out);
    CHECK_U64(got, big);
    CHECK_MEM(dst, big, src, big);

    /* Backpressure: writes are refused, whole, while output would pass the cap. */
    {
        size_t chunk = 1u << 20;
        int i = 0, rc = 0;
        while ((rc = sisp_tls_write(t, src, chunk)) == 0 && i < 10)
            i++;
        CHECK_ERR(rc, SISP_NEED_MORE);
        CHECK_INT(i, 3);
        size_t queued = sisp_tls_out(t)->len;
        CHECK(queued <= SISP_TLS_OUT_MAX);
        CHECK_ERR(sisp_tls_write(t, src, chunk), SISP_NEED_MORE);
        CHECK_U64(sisp_tls_out(t)->len, queued);
        to_client(t, &c); /* sent */
        CHECK_ERR(sisp_tls_write(t, src, chunk), SISP_OK);
        to_client(t, &c);
        uint8_t *sink = malloc(4 * chunk);
        if (sink == NULL)
            abort();
        CHECK_INT(client_read(&c, sink, 4 * chunk), 0);
        CHECK_MEM(sink + 3 * chunk, chunk, src, chunk);
        free(sink);
        uint8_t *huge = calloc(1, SISP_TLS_OUT_MAX);
        if (huge == NULL)
            abort();
        CHECK_ERR(sisp_tls_write(t, huge, SISP_TLS_OUT_MAX), SISP_EINVAL);
        free(huge);
    }

    /* The client closes: the server sees ESHUTDOWN, and keeps seeing it. */
    wolfSSL_shutdown(c.ssl);
    CHECK_ERR(to_server(&c, t, 0, NULL), SISP_NEED_MORE);
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_ESHUTDOWN);
    CHECK_ERR(sisp_tls_read(t, small, sizeof small, &n), SISP_ESHUTDOWN);
    CHECK_ERR(sisp_tls_write(t, small, 1), SISP_ESHUTDOWN);
freebig:
    free(src);
    free(dst);
out:
    tclient_free(&c);
    sisp_tls_free(t);

    /* The server closes: the client reads close_notify. */
    t = sisp_tls_new(ctx);
    CHECK_INT(tclient_init(&c, wolfTLSv1_3_client_method(), sisp_ca_cert(ca_a), NULL, 0, NULL), 0);
    r = handshake(t, &c, 0);
    CHECK_ERR(r.server, SISP_OK);
    sisp_tls_close(t);
    to_client(t, &c);
    int ret = wolfSSL_read(c.ssl, small, sizeof small);
    CHECK(ret <= 0);
    CHECK_INT(wolfSSL_get_error(c.ssl, ret), WOLFSSL_ERROR_ZERO_RETURN);
    CHECK_ERR(sisp_tls_write(t, small, 1), SISP_ESHUTDOWN);
    tclient_free(&c);
    sisp_tls_free(t);

    sisp_tls_ctx_free(ctx);
    sisp_buf_free(&cert);
}

int main(void) {
    t_rand_seed_from_env("test_ca_tls");
    umask(022);
    snprintf(dir_a, sizeof dir_a, "/tmp/sisp-ca-a-XXXXXX");
    snprintf(dir_b, sizeof dir_b, "/tmp/sisp-ca-b-XXXXXX");
    if (mkdtemp(dir_a) == NULL || mkdtemp(dir_b) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (wolfSSL_Init() != WOLFSSL_SUCCESS || wc_InitRng(&rng) != 0)
        return 1;

    test_ca_files();
    CHECK_ERR(sisp_ca_open(dir_a, HOST, &ca_a), SISP_OK);
    CHECK_ERR(sisp_ca_open(dir_b, HOST, &ca_b), SISP_OK);
    if (ca_a != NULL && ca_b != NULL) {
        uint8_t fa[32], fb[32];
        sisp_ca_fingerprint(ca_a, fa);
        sisp_ca_fingerprint(ca_b, fb);
        CHECK(!t_mem_eq(fa, 32, fb, 32));
        test_issue(ca_a);
        test_handshakes();
        test_wrong_ca();
        test_data();
    }
    sisp_ca_free(ca_a);
    sisp_ca_free(ca_b);
    sisp_ca_free(NULL);
    sisp_tls_free(NULL);

    wc_FreeRng(&rng);
    wolfSSL_Cleanup();
    remove_dir(dir_a);
    remove_dir(dir_b);
    return t_done("test_ca_tls");
}
