/* sisp's X.509 profile on wolfCrypt: parsing and checking user certificates, making requests,
 * and the Time encoding the CA writes. See cert.h. */
#include <sisp/cert.h>
#include <sisp/error.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <stdlib.h>
#include <string.h>

#if !defined(WOLFSSL_CERT_REQ) || !defined(HAVE_ED25519)
#error "sisp needs wolfSSL with CERT_REQ and Ed25519"
#endif

#define DAY 86400
#define DER_MAX SISP_CERT_DER_MAX

/* ---- time: unix seconds <-> civil UTC (Howard Hinnant's days_from_civil) ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static void put_digits(uint8_t *p, int64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
}

/* An encoded X.509 Time (tag, length, value): UTCTime up to 2049, GeneralizedTime after
 * (RFC 5280 4.1.2.5). out must hold 17 bytes. Years 1950..9999 only. */
int sisp__asn_time_encode(int64_t t, uint8_t *out, int *len) {
    int64_t days = t >= 0 ? t / DAY : -((-t + DAY - 1) / DAY);
    int64_t secs = t - days * DAY, y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1950 || y > 9999)
        return SISP_EINVAL;
    int pos = 2;
    if (y < 2050) {
        out[0] = ASN_UTC_TIME;
        out[1] = 13;
        put_digits(out + pos, y % 100, 2);
        pos += 2;
    } else {
        out[0] = ASN_GENERALIZED_TIME;
        out[1] = 15;
        put_digits(out + pos, y, 4);
        pos += 4;
    }
    put_digits(out + pos, m, 2);
    put_digits(out + pos + 2, d, 2);
    put_digits(out + pos + 4, secs / 3600, 2);
    put_digits(out + pos + 6, secs / 60 % 60, 2);
    put_digits(out + pos + 8, secs % 60, 2);
    out[pos + 10] = 'Z';
    *len = pos + 11;
    return 0;
}

static int get_digits(const uint8_t *p, int n, int64_t *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        *v = *v * 10 + (p[i] - '0');
    }
    return 1;
}

/* Parses an encoded Time as written by sisp__asn_time_encode (the DER profile of RFC 5280: seconds
 * present, 'Z'). */
/* Parses a Time as written by sisp__asn_time_encode. SISP_ECSR when malformed. */
static int sisp__asn_time_decode(const uint8_t *p, size_t len, int64_t *t) {
    int64_t y, mo, d, h, mi, s;
    size_t ylen;
    if (len == 15 && p[0] == ASN_UTC_TIME && p[1] == 13)
        ylen = 2;
    else if (len == 17 && p[0] == ASN_GENERALIZED_TIME && p[1] == 15)
        ylen = 4;
    else
        return SISP_ECSR;
    p += 2;
    if (!get_digits(p, (int)ylen, &y) || !get_digits(p + ylen, 2, &mo) ||
        !get_digits(p + ylen + 2, 2, &d) || !get_digits(p + ylen + 4, 2, &h) ||
        !get_digits(p + ylen + 6, 2, &mi) || !get_digits(p + ylen + 8, 2, &s) ||
        p[ylen + 10] != 'Z')
        return SISP_ECSR;
    if (ylen == 2)
        y += y < 50 ? 2000 : 1900;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return SISP_ECSR;
    *t = days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
    return 0;
}

/* ---- parsing ---- */

/* The signed part and the signature of a parsed certificate or request, checked with
 * Ed25519 under pub. */
int sisp__dc_verify_ed25519(const struct DecodedCert *dc, const uint8_t pub[SISP_KEY_SIZE]) {
    ed25519_key k;
    int ok = 0;
    if (dc->signatureOID != CTC_ED25519 || dc->signature == NULL ||
        dc->sigLength != ED25519_SIG_SIZE || dc->sigIndex <= dc->certBegin ||
        dc->sigIndex > dc->maxIdx)
        return SISP_ESIG;
    if (wc_ed25519_init(&k) != 0)
        return SISP_ECRYPTO;
    if (wc_ed25519_import_public(pub, SISP_KEY_SIZE, &k) != 0 ||
        wc_ed25519_verify_msg(dc->signature, dc->sigLength, dc->source + dc->certBegin,
                              dc->sigIndex - dc->certBegin, &ok, &k) != 0)
        ok = 0;
    wc_ed25519_free(&k);
    return ok == 1 ? 0 : SISP_ESIG;
}

int sisp__dc_ed25519_pub(const struct DecodedCert *dc, uint8_t pub[SISP_KEY_SIZE]) {
    if (dc->keyOID != ED25519k || dc->publicKey == NULL || dc->pubKeySize != SISP_KEY_SIZE)
        return SISP_ECSR;
    memcpy(pub, dc->publicKey, SISP_KEY_SIZE);
    return 0;
}

int sisp__dc_serial(const struct DecodedCert *dc, uint64_t *serial) {
    int n = dc->serialSz, i = 0;
    if (n <= 0 || n > (int)sizeof dc->serial)
        return SISP_ECSR;
    while (i < n && dc->serial[i] == 0)
        i++;
    if (n - i > 8)
        return SISP_ECSR;
    uint64_t v = 0;
    for (; i < n; i++)
        v = v << 8 | dc->serial[i];
    *serial = v;
    return 0;
}

int sisp__dc_not_after(const struct DecodedCert *dc, int64_t *t) {
    if (dc->afterDate == NULL || dc->afterDateLen <= 0)
        return SISP_ECSR;
    return sisp__asn_time_decode(dc->afterDate, (size_t)dc->afterDateLen, t);
}

/* A user certificate as we issue them: not a CA, for client authentication. */
static int dc_user_usage(const DecodedCert *dc) {
    return !dc->isCA && dc->extExtKeyUsageSet && (dc->extExtKeyUsage & EXTKEYUSE_CLIENT_AUTH);
}

/* Fills out from a parsed user certificate: 0 or SISP_ECSR. */
static int user_info(const DecodedCert *dc, size_t len, sisp_cert_info_t *out) {
    if (dc->srcIdx != len || !dc_user_usage(dc) || sisp__dc_ed25519_pub(dc, out->pub) != 0 ||
        sisp__dc_serial(dc, &out->serial) != 0 || sisp__dc_not_after(dc, &out->not_after) != 0 ||
        dc->subjectCN == NULL || dc->subjectCNLen <= 0 || dc->subjectCNLen > SISP_USERNAME_MAX ||
        sisp_check_username(dc->subjectCN, (size_t)dc->subjectCNLen) != 0)
        return SISP_ECSR;
    memcpy(out->user, dc->subjectCN, (size_t)dc->subjectCNLen);
    out->user[dc->subjectCNLen] = '\0';
    return 0;
}

int sisp_cert_parse(const uint8_t *der, size_t len, sisp_cert_info_t *out) {
    DecodedCert dc;
    int rc = SISP_ECSR;
    if (der == NULL || len == 0 || len > DER_MAX)
        return SISP_ECSR;
    memset(out, 0, sizeof *out);
    wc_InitDecodedCert(&dc, der, (word32)len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0)
        rc = user_info(&dc, len, out);
    wc_FreeDecodedCert(&dc);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* The Ed25519 key of a CA certificate (self-signed, basicConstraints CA). */
static int ca_pub(const uint8_t *der, size_t len, uint8_t pub[SISP_KEY_SIZE]) {
    DecodedCert dc;
    int rc = SISP_ECERT;
    if (der == NULL || len == 0 || len > DER_MAX)
        return SISP_ECERT;
    wc_InitDecodedCert(&dc, der, (word32)len, NULL);
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0 && dc.srcIdx == len && dc.isCA &&
        sisp__dc_ed25519_pub(&dc, pub) == 0 && sisp__dc_verify_ed25519(&dc, pub) == 0)
        rc = 0;
    wc_FreeDecodedCert(&dc);
    return rc;
}

int sisp_cert_ca_check(const uint8_t *der, size_t len) {
    uint8_t pub[SISP_KEY_SIZE];
    return ca_pub(der, len, pub);
}

int sisp_cert_verify(const uint8_t *der, size_t len, const uint8_t *ca_der, size_t ca_len,
                     int64_t now, sisp_cert_info_t *out) {
    DecodedCert dc;
    uint8_t issuer[SISP_KEY_SIZE];
    int64_t not_before = 0;
    int rc = ca_pub(ca_der, ca_len, issuer);
    memset(out, 0, sizeof *out);
    if (rc != 0)
        return rc;
    if (der == NULL || len == 0 || len > DER_MAX)
        return SISP_ECSR;
    wc_InitDecodedCert(&dc, der, (word32)len, NULL);
    rc = SISP_ECSR;
    if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0)
        rc = user_info(&dc, len, out);
    if (rc == 0)
        rc = sisp__dc_verify_ed25519(&dc, issuer);
    if (rc == 0 &&
        (dc.beforeDate == NULL || dc.beforeDateLen <= 0 ||
         sisp__asn_time_decode(dc.beforeDate, (size_t)dc.beforeDateLen, &not_before) != 0))
        rc = SISP_ECSR;
    if (rc == 0 && (now < not_before || now > out->not_after))
        rc = SISP_ECERT;
    wc_FreeDecodedCert(&dc);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int sisp_csr_make(const sisp_ident_key_t *id, const char *user, sisp_buf_t *out) {
    if (user == NULL || sisp_check_username(user, strlen(user)) != 0)
        return SISP_EUSERNAME;
    Cert *req = calloc(1, sizeof *req);
    uint8_t *der = malloc(DER_MAX);
    ed25519_key key;
    sisp_rng_t rng = {NULL};
    int rc = SISP_ECRYPTO, key_ready = 0;
    if (req == NULL || der == NULL) {
        rc = SISP_ENOMEM;
        goto done;
    }
    if ((rc = sisp_rng_init(&rng)) != 0)
        goto done;
    rc = SISP_ECRYPTO;
    if (wc_InitCert(req) != 0 || wc_ed25519_init(&key) != 0)
        goto done;
    key_ready = 1;
    if (wc_ed25519_import_private_key(id->seed, SISP_KEY_SIZE, id->pub, SISP_KEY_SIZE, &key) != 0)
        goto done;
    req->version = 0; /* PKCS#10 v1 */
    req->sigType = CTC_ED25519;
    memcpy(req->subject.commonName, user, strlen(user) + 1);
    req->subject.commonNameEnc = CTC_UTF8;
    int body = wc_MakeCertReq_ex(req, der, DER_MAX, ED25519_TYPE, &key);
    if (body <= 0)
        goto done;
    int n = wc_SignCert_ex(req->bodySz, CTC_ED25519, der, DER_MAX, ED25519_TYPE, &key, rng.impl);
    if (n <= 0)
        goto done;
    rc = sisp_buf_append(out, der, (size_t)n);
done:
    if (key_ready)
        wc_ed25519_free(&key);
    sisp_wipe(&key, sizeof key);
    sisp_rng_free(&rng);
    free(der);
    free(req);
    return rc;
}
