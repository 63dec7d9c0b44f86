/* The server's certificate authority: Ed25519 keys and X.509 certificates through wolfCrypt.
 *
 * Serial numbers: the CA certificate is 1; the server certificate starts at 2 and takes the next
 * number each time it is renewed (it stays below 1000); user certificates get theirs from the
 * caller (the store's counter, which starts at 1000), so numbers never collide.
 *
 * Everything read from disk is checked before it is used: the CA certificate must carry the CA
 * key and verify under it; a server certificate that is not the CA's, not for this key or host
 * name, or that expires within 30 days is replaced at start. */
#include "ca.h"

#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(WOLFSSL_CERT_REQ) || !defined(WOLFSSL_CERT_EXT) ||      \
    !defined(HAVE_ED25519) || !defined(WOLFSSL_ALT_NAMES)
#error "sispd needs wolfSSL with CERT_GEN, CERT_REQ, CERT_EXT, ALT_NAMES and Ed25519"
#endif

#define CA_KEY_FILE "ca.key"
#define CA_CERT_FILE "ca.crt"
#define SERVER_KEY_FILE "server.key"
#define SERVER_CERT_FILE "server.crt"

#define DAY 86400
#define CA_DAYS 3650    /* 10 years */
#define SERVER_DAYS 730 /* 2 years */
#define RENEW_MARGIN 30 /* days: a server certificate closer than this to expiry is renewed */
#define BACKDATE 3600   /* notBefore = now - 1 h, for clocks that run a little slow */
#define MAX_USER_DAYS 36500
#define CA_SERIAL 1
#define SERVER_SERIAL_BIT (1ull << 62) /* server certificates: random serials from here */

#define DER_MAX SISP_CERT_DER_MAX
#define FILE_MAX 65536 /* refuse to read anything larger from the data directory */
#define KEY_DER_MAX 256

struct sisp_ca {
    ed25519_key key; /* the CA signing key */
    uint8_t pub[SISP_KEY_SIZE];
    sisp_buf_t cert;        /* ca.crt */
    sisp_buf_t server_cert; /* server.crt */
    sisp_buf_t server_key;  /* server.key, re-encoded from the loaded key (secret) */
    uint8_t fingerprint[SISP_SHA256_SIZE];
    int64_t not_after; /* the CA certificate's: nothing it signs outlives it */
    sisp_rng_t rng;
    int key_ready;
};

/* ---- files ---- */

static int path_join(char *out, size_t n, const char *dir, const char *name) {
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w < 0 || (size_t)w >= n ? SISP_EINVAL : 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes dir/name atomically: a temp file with exactly this mode, fsync, rename, fsync(dir). */
static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n, mode_t mode) {
    char path[PATH_MAX], tmp[PATH_MAX];
    if (path_join(path, sizeof path, dir, name) != 0)
        return SISP_EINVAL;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return SISP_EINVAL;
    unlink(tmp); /* a leftover with this pid (sisp_ca_open removes the others) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return SISP_EIO;
    /* The mode given to open is masked by the umask; set exactly the one wanted. */
    int ok = fchmod(fd, mode) == 0 && write_all(fd, p, n) == 0 && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (ok && rename(tmp, path) == 0 && sync_dir(dir) == 0)
        return 0;
    unlink(tmp);
    return SISP_EIO;
}

/* Reads dir/name into out. SISP_ENOTFOUND if it does not exist; for a secret, SISP_EKEYPERM
 * if group or others have any access. */
static int read_file(const char *dir, const char *name, int secret, sisp_buf_t *out) {
    char path[PATH_MAX];
    struct stat st;
    if (path_join(path, sizeof path, dir, name) != 0)
        return SISP_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? SISP_ENOTFOUND : SISP_EIO;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = SISP_EIO;
    else if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX)
        rc = SISP_EKEYFILE;
    else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
        rc = SISP_EKEYPERM;
    else if (sisp_buf_reserve(out, (size_t)st.st_size + 1) != 0)
        rc = SISP_ENOMEM;
    while (rc == 0 && out->len < out->cap) {
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = SISP_EIO;
        else if (r == 0)
            break;
        else
            out->len += (size_t)r;
    }
    if (rc == 0 && out->len > FILE_MAX)
        rc = SISP_EKEYFILE; /* grew while we read it */
    close(fd);
    return rc;
}

/* ---- keys ---- */

static int key_generate(sisp_ca_t *ca, ed25519_key *key) {
    if (wc_ed25519_init(key) != 0)
        return SISP_ECRYPTO;
    if (wc_ed25519_make_key(ca->rng.impl, ED25519_KEY_SIZE, key) != 0) {
        wc_ed25519_free(key);
        return SISP_ECRYPTO;
    }
    return 0;
}

/* A key pair rebuilt from the seed in a DER private key, so a public key stored alongside it
 * can never disagree with the private one. */
static int key_from_der(const uint8_t *der, size_t len, ed25519_key *key,
                        uint8_t pub[SISP_KEY_SIZE]) {
    uint8_t seed[ED25519_KEY_SIZE];
    word32 idx = 0, slen = sizeof seed;
    sisp_ident_key_t id;
    int rc = SISP_EKEYFILE;
    if (len > KEY_DER_MAX || wc_ed25519_init(key) != 0)
        return SISP_EKEYFILE;
    if (wc_Ed25519PrivateKeyDecode(der, &idx, key, (word32)len) == 0 && idx == len &&
        wc_ed25519_export_private_only(key, seed, &slen) == 0 && slen == sizeof seed &&
        sisp_ident_from_seed(seed, &id) == 0) {
        wc_ed25519_free(key);
        if (wc_ed25519_init(key) == 0 &&
            wc_ed25519_import_private_key(seed, sizeof seed, id.pub, SISP_KEY_SIZE, key) == 0) {
            memcpy(pub, id.pub, SISP_KEY_SIZE);
            rc = 0;
        }
    }
    sisp_wipe(seed, sizeof seed);
    sisp_wipe(&id, sizeof id);
    if (rc != 0) {
        wc_ed25519_free(key);
        sisp_wipe(key, sizeof *key);
    }
    return rc;
}

/* PKCS#8 v1 with the seed only (RFC 8410), which OpenSSL also reads. (wc_Ed25519KeyToDer
 * appends the public key in a form OpenSSL refuses.) */
static int key_to_der(ed25519_key *key, sisp_buf_t *out) {
    uint8_t der[KEY_DER_MAX];
    int n = wc_Ed25519PrivateKeyToDer(key, der, sizeof der);
    int rc = n > 0 ? sisp_buf_append(out, der, (size_t)n) : SISP_ECRYPTO;
    sisp_wipe(der, sizeof der);
    return rc;
}

static int key_public(ed25519_key *key, uint8_t pub[SISP_KEY_SIZE]) {
    word32 n = SISP_KEY_SIZE;
    return wc_ed25519_export_public(key, pub, &n) == 0 && n == SISP_KEY_SIZE ? 0 : SISP_ECRYPTO;
}

/* ---- certificate generation ---- */

enum cert_kind { KIND_CA, KIND_SERVER, KIND_USER };

typedef struct {
    enum cert_kind kind;
    const char *cn;
    uint64_t serial;
    int64_t not_before, not_after;
} cert_spec_t;

/* GeneralNames for the server: the host name (as an IP address if it is one, else DNS) and
 * 127.0.0.1. */
static int server_alt_names(const char *host, uint8_t *out, int *len) {
    uint8_t ip6[16], ip4[4];
    size_t hl = strlen(host), pos = 2;
    if (inet_pton(AF_INET, host, ip4) == 1) {
        static const uint8_t lo[4] = {127, 0, 0, 1};
        if (memcmp(ip4, lo, 4) != 0) {
            out[pos++] = 0x87; /* [7] iPAddress */
            out[pos++] = 4;
            memcpy(out + pos, ip4, 4);
            pos += 4;
        }
    } else if (inet_pton(AF_INET6, host, ip6) == 1) {
        out[pos++] = 0x87;
        out[pos++] = 16;
        memcpy(out + pos, ip6, 16);
        pos += 16;
    } else {
        out[pos++] = 0x82; /* [2] dNSName */
        out[pos++] = (uint8_t)hl;
        memcpy(out + pos, host, hl);
        pos += hl;
    }
    out[pos++] = 0x87;
    out[pos++] = 4;
    out[pos++] = 127;
    out[pos++] = 0;
    out[pos++] = 0;
    out[pos++] = 1;
    out[0] = 0x30; /* SEQUENCE OF GeneralName; always short enough for a one-byte length */
    out[1] = (uint8_t)(pos - 2);
    *len = (int)pos;
    return 0;
}

/* Makes a certificate for subject (its public key) signed by the CA key, per spec. */
static int make_cert(sisp_ca_t *ca, const cert_spec_t *s, ed25519_key *subject, sisp_buf_t *out) {
    Cert *c = calloc(1, sizeof *c);
    uint8_t *der = malloc(DER_MAX);
    int rc = SISP_ECRYPTO;
    if (c == NULL || der == NULL) {
        rc = SISP_ENOMEM;
        goto done;
    }
    if (wc_InitCert(c) != 0)
        goto done;
    c->sigType = CTC_ED25519;
    c->version = 2; /* X.509 v3 */
    if (strlen(s->cn) >= CTC_NAME_SIZE) {
        rc = SISP_EINVAL;
        goto done;
    }
    memcpy(c->subject.commonName, s->cn, strlen(s->cn) + 1);
    c->subject.commonNameEnc = CTC_UTF8;
    memcpy(c->subject.org, "sisp", 5);
    c->subject.orgEnc = CTC_UTF8;

    /* serial: big-endian, minimal; wolfSSL adds the 0x00 that keeps it positive */
    uint8_t sn[8];
    sisp_store64(sn, s->serial);
    int first = 0;
    while (first < 7 && sn[first] == 0)
        first++;
    memcpy(c->serial, sn + first, (size_t)(8 - first));
    c->serialSz = 8 - first;

    if (sisp__asn_time_encode(s->not_before, c->beforeDate, &c->beforeDateSz) != 0 ||
        sisp__asn_time_encode(s->not_after, c->afterDate, &c->afterDateSz) != 0) {
        rc = SISP_EINVAL;
        goto done;
    }

    if (s->kind == KIND_CA) {
        c->selfSigned = 1;
        c->isCA = 1;
        c->pathLen = 0; /* no intermediates */
        c->pathLenSet = 1;
        if (wc_SetKeyUsage(c, "keyCertSign,cRLSign") != 0)
            goto done;
    } else {
        c->selfSigned = 0;
        c->isCA = 0;
        if (wc_SetIssuerBuffer(c, ca->cert.data, (int)ca->cert.len) != 0 ||
            wc_SetKeyUsage(c, "digitalSignature") != 0 ||
            wc_SetExtKeyUsage(c, s->kind == KIND_SERVER ? "serverAuth" : "clientAuth") != 0)
            goto done;
        if (s->kind == KIND_SERVER && server_alt_names(s->cn, c->altNames, &c->altNamesSz) != 0)
            goto done;
    }
    if (wc_SetSubjectKeyIdFromPublicKey_ex(c, ED25519_TYPE, subject) != 0 ||
        wc_SetAuthKeyIdFromPublicKey_ex(c, ED25519_TYPE, &ca->key) != 0)
        goto done;

    int body = wc_MakeCert_ex(c, der, DER_MAX, ED25519_TYPE, subject, ca->rng.impl);
    if (body <= 0)
        goto done;
    int n =
        wc_SignCert_ex(c->bodySz, CTC_ED25519, der, DER_MAX, ED25519_TYPE, &ca->key, ca->rng.impl);
    if (n <= 0)
        goto done;
    rc = sisp_buf_append(out, der, (size_t)n);
done:
    free(der);
    free(c);
    return rc;
}

static int64_t now(void) {
    return (int64_t)time(NULL);
}

/* ---- the CA on disk ---- */

static int make_ca_cert(sisp_ca_t *ca) {
    uint8_t r[2];
    char cn[32];
    int rc = sisp_rng_bytes(&ca->rng, r, sizeof r);
    if (rc != 0)
        return rc;
    snprintf(cn, sizeof cn, "sisp CA %02x%02x", r[0], r[1]);
    int64_t t = now();
    cert_spec_t s = {KIND_CA, cn, CA_SERIAL, t - BACKDATE, t + (int64_t)CA_DAYS * DAY};
    sisp_buf_reset(&ca->cert);
    return make_cert(ca, &s, &ca->key, &ca->cert);
}

/* The CA certificate must hold the CA key and be self-signed by it. */
static int check_ca_cert(sisp_ca_t *ca) {
    DecodedCert dc;
    uint8_t pub[SISP_KEY_SIZE];
    int rc = SISP_EKEYFILE;
    if (ca->cert.len == 0 || ca->cert.len > DER_MAX)
        return SISP_EKEYFILE;
    wc_InitDecodedCert(&dc, ca->cert.data, (word32)ca->cert.len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0 && dc.srcIdx == ca->cert.len &&
        sisp__dc_ed25519_pub(&dc, pub) == 0 && memcmp(pub, ca->pub, SISP_KEY_SIZE) == 0 &&
        sisp__dc_verify_ed25519(&dc, ca->pub) == 0 && sisp__dc_not_after(&dc, &ca->not_after) == 0)
        rc = 0;
    wc_FreeDecodedCert(&dc);
    return rc;
}

static int open_ca(sisp_ca_t *ca, const char *dir) {
    sisp_buf_t der;
    sisp_buf_init(&der, 0);
    int rc = read_file(dir, CA_KEY_FILE, 1, &der);
    int crc = read_file(dir, CA_CERT_FILE, 0, &ca->cert);
    if (rc == SISP_ENOTFOUND) {
        if (crc != SISP_ENOTFOUND) { /* a certificate without its key: never replace it */
            rc = crc == 0 ? SISP_EKEYFILE : crc;
            goto done;
        }
        if ((rc = key_generate(ca, &ca->key)) != 0)
            goto done;
        ca->key_ready = 1;
        if ((rc = key_public(&ca->key, ca->pub)) != 0 || (rc = key_to_der(&ca->key, &der)) != 0 ||
            (rc = write_file(dir, CA_KEY_FILE, der.data, der.len, 0600)) != 0)
            goto done;
    } else if (rc != 0) {
        goto done;
    } else {
        if ((rc = key_from_der(der.data, der.len, &ca->key, ca->pub)) != 0)
            goto done;
        ca->key_ready = 1;
    }
    if (crc == SISP_ENOTFOUND) {
        /* First start, or a crash between writing the key and the certificate. */
        if ((rc = make_ca_cert(ca)) != 0 ||
            (rc = write_file(dir, CA_CERT_FILE, ca->cert.data, ca->cert.len, 0644)) != 0)
            goto done;
    } else if (crc != 0) {
        rc = crc;
        goto done;
    }
    rc = check_ca_cert(ca);
done:
    sisp_buf_free_secure(&der);
    return rc;
}

/* 1 if the server certificate is usable as is; *serial gets its serial number if it parses. */
static int server_cert_ok(sisp_ca_t *ca, const char *host, const uint8_t pub[SISP_KEY_SIZE],
                          uint64_t *serial) {
    DecodedCert dc;
    uint8_t cpub[SISP_KEY_SIZE];
    int64_t not_after = 0;
    int ok = 0;
    if (ca->server_cert.len == 0 || ca->server_cert.len > DER_MAX)
        return 0;
    wc_InitDecodedCert(&dc, ca->server_cert.data, (word32)ca->server_cert.len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0) {
        if (sisp__dc_serial(&dc, serial) != 0)
            *serial = 0;
        ok = dc.srcIdx == ca->server_cert.len && sisp__dc_ed25519_pub(&dc, cpub) == 0 &&
             memcmp(cpub, pub, SISP_KEY_SIZE) == 0 && sisp__dc_verify_ed25519(&dc, ca->pub) == 0 &&
             dc.subjectCN != NULL && (size_t)dc.subjectCNLen == strlen(host) &&
             memcmp(dc.subjectCN, host, strlen(host)) == 0 &&
             sisp__dc_not_after(&dc, &not_after) == 0 &&
             (not_after - now() > (int64_t)RENEW_MARGIN * DAY ||
              (not_after >= ca->not_after && not_after > now())); /* as long as the CA lasts */
    }
    wc_FreeDecodedCert(&dc);
    return ok;
}

static int open_server(sisp_ca_t *ca, const char *dir, const char *host) {
    ed25519_key key;
    uint8_t pub[SISP_KEY_SIZE];
    int have_key = 0;
    sisp_buf_t der;
    sisp_buf_init(&der, 0);
    int rc = read_file(dir, SERVER_KEY_FILE, 1, &der);
    if (rc == SISP_ENOTFOUND) {
        if ((rc = key_generate(ca, &key)) != 0)
            goto done;
        have_key = 1;
        if ((rc = key_public(&key, pub)) != 0 || (rc = key_to_der(&key, &ca->server_key)) != 0 ||
            (rc = write_file(dir, SERVER_KEY_FILE, ca->server_key.data, ca->server_key.len,
                             0600)) != 0)
            goto done;
        sisp_buf_reset(&ca->server_cert); /* whatever certificate is there is for another key */
    } else if (rc != 0) {
        goto done;
    } else {
        if ((rc = key_from_der(der.data, der.len, &key, pub)) != 0)
            goto done;
        have_key = 1;
        if ((rc = key_to_der(&key, &ca->server_key)) != 0)
            goto done;
        rc = read_file(dir, SERVER_CERT_FILE, 0, &ca->server_cert);
        if (rc != 0 && rc != SISP_ENOTFOUND)
            goto done;
    }
    uint64_t serial = 0;
    if (ca->not_after <= now()) {
        rc = SISP_ECERT; /* the CA has expired: nothing it signs would verify */
        goto done;
    }
    if (!server_cert_ok(ca, host, pub, &serial)) {
        /* A random serial in [2^62, 2^63), where the store's sequential user serials never
         * reach: a new server certificate never repeats an earlier one's, even when the old
         * certificate or key file is gone. */
        uint8_t r[8];
        if ((rc = sisp_rng_bytes(&ca->rng, r, sizeof r)) != 0)
            goto done;
        serial = (sisp_load64(r) & (SERVER_SERIAL_BIT - 1)) | SERVER_SERIAL_BIT;
        int64_t t = now(), until = t + (int64_t)SERVER_DAYS * DAY;
        cert_spec_t s = {KIND_SERVER, host, serial, t - BACKDATE,
                         until < ca->not_after ? until : ca->not_after};
        sisp_buf_reset(&ca->server_cert);
        if ((rc = make_cert(ca, &s, &key, &ca->server_cert)) != 0 ||
            (rc = write_file(dir, SERVER_CERT_FILE, ca->server_cert.data, ca->server_cert.len,
                             0644)) != 0)
            goto done;
    }
    rc = 0;
done:
    if (have_key)
        wc_ed25519_free(&key);
    sisp_wipe(&key, sizeof key);
    sisp_buf_free_secure(&der);
    return rc;
}

/* A host name fit for a certificate's CN and SAN: letters, digits, '.', '-', ':' (IPv6). */
static int check_host(const char *h) {
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n >= CTC_NAME_SIZE)
        return SISP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':'))
            return SISP_EINVAL;
    }
    return 0;
}

/* Temp files of write_file that a crash left (NAME.tmp.PID, 0600, possibly a key): removed at
 * start, whatever pid wrote them. */
static void remove_stale_temps(const char *dir) {
    static const char *const names[] = {CA_KEY_FILE, CA_CERT_FILE, SERVER_KEY_FILE,
                                        SERVER_CERT_FILE};
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t n = strlen(names[i]);
            if (strncmp(e->d_name, names[i], n) == 0 && strncmp(e->d_name + n, ".tmp.", 5) == 0) {
                char path[PATH_MAX];
                if (path_join(path, sizeof path, dir, e->d_name) == 0)
                    unlink(path);
            }
        }
    }
    if (d != NULL)
        closedir(d);
}

int sisp_ca_open(const char *data_dir, const char *hostname, sisp_ca_t **out) {
    *out = NULL;
    if (data_dir == NULL || check_host(hostname) != 0)
        return SISP_EINVAL;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return SISP_EIO;
    sisp_ca_t *ca = calloc(1, sizeof *ca);
    if (ca == NULL)
        return SISP_ENOMEM;
    sisp_buf_init(&ca->cert, FILE_MAX);
    sisp_buf_init(&ca->server_cert, FILE_MAX);
    sisp_buf_init(&ca->server_key, 0);
    remove_stale_temps(data_dir);
    int rc = sisp_rng_init(&ca->rng);
    if (rc == 0)
        rc = open_ca(ca, data_dir);
    if (rc == 0)
        rc = open_server(ca, data_dir, hostname);
    if (rc == 0)
        rc = sisp_sha256(ca->cert.data, ca->cert.len, ca->fingerprint);
    if (rc != 0) {
        sisp_ca_free(ca);
        return rc;
    }
    *out = ca;
    return 0;
}

void sisp_ca_free(sisp_ca_t *ca) {
    if (ca == NULL)
        return;
    if (ca->key_ready)
        wc_ed25519_free(&ca->key);
    sisp_wipe(&ca->key, sizeof ca->key);
    sisp_buf_free(&ca->cert);
    sisp_buf_free(&ca->server_cert);
    sisp_buf_free_secure(&ca->server_key);
    sisp_rng_free(&ca->rng);
    sisp_wipe(ca, sizeof *ca);
    free(ca);
}

sisp_slice_t sisp_ca_cert(const sisp_ca_t *ca) {
    return sisp_slice(ca->cert.data, ca->cert.len);
}

sisp_slice_t sisp_ca_server_cert(const sisp_ca_t *ca) {
    return sisp_slice(ca->server_cert.data, ca->server_cert.len);
}

sisp_slice_t sisp_ca_server_key(const sisp_ca_t *ca) {
    return sisp_slice(ca->server_key.data, ca->server_key.len);
}

void sisp_ca_fingerprint(const sisp_ca_t *ca, uint8_t out[SISP_SHA256_SIZE]) {
    memcpy(out, ca->fingerprint, SISP_SHA256_SIZE);
}

/* ---- requests ---- */

/* Parses a PKCS#10 request, checks that it is Ed25519 and signed by its own key. */
static int csr_check(const uint8_t *csr, size_t len, uint8_t pub[SISP_KEY_SIZE]) {
    DecodedCert dc;
    int rc = SISP_ECSR;
    if (csr == NULL || len == 0 || len > DER_MAX)
        return SISP_ECSR;
    wc_InitDecodedCert(&dc, csr, (word32)len, NULL);
    /* VERIFY makes wolfSSL check the self-signature too; we check it again ourselves so the
     * proof of possession never depends on a library option. */
    if (wc_ParseCert(&dc, CERTREQ_TYPE, VERIFY, NULL) == 0 && dc.srcIdx == len &&
        sisp__dc_ed25519_pub(&dc, pub) == 0 && sisp__dc_verify_ed25519(&dc, pub) == 0)
        rc = 0;
    wc_FreeDecodedCert(&dc);
    return rc;
}

int sisp__ca_issue_at(sisp_ca_t *ca, const uint8_t *csr, size_t csr_len, const char *user,
                      uint64_t serial, int64_t not_before, int64_t not_after, sisp_buf_t *cert,
                      uint8_t pub[SISP_KEY_SIZE]) {
    uint8_t k[SISP_KEY_SIZE];
    ed25519_key subject;
    if (user == NULL || sisp_check_username(user, strlen(user)) != 0)
        return SISP_EUSERNAME;
    if (serial == 0 || not_after <= not_before)
        return SISP_EINVAL;
    int rc = csr_check(csr, csr_len, k);
    if (rc != 0)
        return rc;
    if (wc_ed25519_init(&subject) != 0)
        return SISP_ECRYPTO;
    if (wc_ed25519_import_public(k, SISP_KEY_SIZE, &subject) != 0) {
        wc_ed25519_free(&subject);
        return SISP_ECSR;
    }
    cert_spec_t s = {KIND_USER, user, serial, not_before, not_after};
    size_t before = cert->len;
    rc = make_cert(ca, &s, &subject, cert);
    wc_ed25519_free(&subject);
    if (rc != 0) {
        cert->len = before;
        return rc;
    }
    memcpy(pub, k, SISP_KEY_SIZE);
    return 0;
}

int sisp_ca_issue(sisp_ca_t *ca, const uint8_t *csr, size_t csr_len, const char *user,
                  uint64_t serial, unsigned validity_days, sisp_buf_t *cert,
                  uint8_t pub[SISP_KEY_SIZE]) {
    if (validity_days == 0 || validity_days > MAX_USER_DAYS)
        return SISP_EINVAL;
    int64_t t = now(), until = t + (int64_t)validity_days * DAY;
    /* Nothing outlives the CA: past its end the certificate would not verify anyway. */
    if (until > ca->not_after)
        until = ca->not_after;
    if (until <= t)
        return SISP_ECERT; /* the CA certificate has expired */
    return sisp__ca_issue_at(ca, csr, csr_len, user, serial, t - BACKDATE, until, cert, pub);
}
