/* The sisp client: connection and trust, users and keys, groups, registration, listing.
 * Transfers (POST_IMAGE, DOWNLOAD, DISPLAY) are in transfer.c. See client.h. */
#define _DEFAULT_SOURCE
#include <sisp/cert.h>
#include <sisp/client.h>
#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/keystore.h>

#include "client_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define IDENTITY_KEY "identity.key"
#define X25519_KEY "x25519.key"
#define CERT_FILE "cert.der"
#define CA_FILE "ca.der"

void sisp_client_init(sisp_client_t *c) {
    memset(c, 0, sizeof *c);
    c->out = stdout;
    c->msg = stderr;
    c->timeout_ms = 30000;
    sisp_buf_init(&c->ca, 0);
    sisp_buf_init(&c->cert, 0);
}

/* The last seq shown, to the home's state file, if it is not there yet. */
static void save_seq(sisp_client_t *c) {
    if (c->seq_dirty && sisp_home_set_seq(&c->home, c->seen_seq) == 0)
        c->seq_dirty = 0;
}

void sisp_client_free(sisp_client_t *c) {
    sisp_client_disconnect(c);
    sisp_buf_free(&c->ca);
    sisp_buf_free(&c->cert);
    sisp_wipe(&c->id, sizeof c->id);
    sisp_wipe(&c->x, sizeof c->x);
}

int sisp_client_fail(sisp_client_t *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return rc;
}

void sisp_client_say(sisp_client_t *c, const char *fmt, ...) {
    va_list ap;
    if (c->before_print)
        c->before_print(c->print_arg);
    va_start(ap, fmt);
    vfprintf(c->msg, fmt, ap);
    va_end(ap);
    fputc('\n', c->msg);
    fflush(c->msg);
    if (c->after_print)
        c->after_print(c->print_arg);
}

/* ---- setup ---- */

static int split_server(sisp_client_t *c, const char *s) {
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0' || (size_t)(colon - s) >= sizeof c->host ||
        strlen(colon + 1) >= sizeof c->port)
        return sisp_client_fail(c, SISP_EINVAL, "server address must be HOST:PORT, not '%s'", s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') { /* [::1]:7443 */
        h++;
        hl -= 2;
    }
    memcpy(c->host, h, hl);
    c->host[hl] = '\0';
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return sisp_client_fail(c, SISP_EINVAL, "bad port in '%s'", s);
    snprintf(c->port, sizeof c->port, "%s", colon + 1);
    return 0;
}

static int load_identity(sisp_client_t *c) {
    char path[SISP_HOME_PATH_MAX];
    sisp_key_pair_t kp;
    int prot = 0, rc;
    if (!sisp_home_exists(&c->home, IDENTITY_KEY))
        return 0;
    sisp_home_path(&c->home, IDENTITY_KEY, path, sizeof path);
    rc = sisp_keystore_load(path, SISP_KEYFILE_IDENT, getenv("SISP_PASSPHRASE"), &kp, &prot);
    if (rc == 0)
        rc = sisp_ident_from_seed(kp.secret, &c->id);
    if (rc == 0) {
        sisp_home_path(&c->home, X25519_KEY, path, sizeof path);
        rc = sisp_keystore_load(path, SISP_KEYFILE_X25519, getenv("SISP_PASSPHRASE"), &kp, &prot);
    }
    if (rc == 0)
        rc = sisp_x25519_from_private(kp.secret, &c->x);
    sisp_wipe(&kp, sizeof kp);
    if (rc != 0)
        return sisp_client_fail(c, rc, "cannot load the keys in %s: %s%s", c->home.dir,
                                sisp_strerror(rc),
                                rc == SISP_EPASSPHRASE ? " (set SISP_PASSPHRASE)" : "");
    sisp_cert_info_t info;
    rc = sisp_home_read(&c->home, CERT_FILE, SISP_CERT_DER_MAX, &c->cert);
    if (rc == 0)
        rc = sisp_cert_parse(c->cert.data, c->cert.len, &info);
    if (rc == 0 && !sisp_ct_eq(info.pub, c->id.pub, SISP_KEY_SIZE))
        rc = SISP_EKEY;
    if (rc != 0)
        return sisp_client_fail(c, rc, "the certificate in %s is missing or not for its key: %s",
                                c->home.dir, sisp_strerror(rc));
    snprintf(c->user, sizeof c->user, "%s", info.user);
    c->have_identity = 1;
    return 0;
}

/* The CA pin: the home's, checked against --ca and --fingerprint when given. */
static int load_pin(sisp_client_t *c) {
    int rc = sisp_home_read(&c->home, CA_FILE, SISP_CERT_DER_MAX, &c->ca);
    if (rc != 0 && rc != SISP_ENOTFOUND)
        return sisp_client_fail(c, rc, "cannot read %s/%s: %s", c->home.dir, CA_FILE,
                                sisp_strerror(rc));
    char fp[72];
    if (c->ca_file != NULL) {
        sisp_buf_t given;
        sisp_buf_init(&given, 0);
        rc = sisp_file_read(c->ca_file, SISP_CERT_DER_MAX, &given);
        if (rc == 0)
            rc = sisp_cert_ca_check(given.data, given.len);
        if (rc != 0) {
            sisp_buf_free(&given);
            return sisp_client_fail(c, rc, "--ca %s: not a readable sisp CA certificate (DER): %s",
                                    c->ca_file, sisp_strerror(rc));
        }
        if (c->ca.len > 0 &&
            (c->ca.len != given.len || memcmp(c->ca.data, given.data, given.len))) {
            sisp_buf_free(&given);
            return sisp_client_fail(
                c, SISP_EPIN, "--ca %s differs from the CA this home pinned; refusing", c->ca_file);
        }
        sisp_fingerprint(given.data, given.len, fp);
        snprintf(c->want_fp, sizeof c->want_fp, "%s", fp);
        sisp_buf_free(&given);
    }
    if (c->want_fp[0] != '\0' && c->ca.len > 0) {
        sisp_fingerprint(c->ca.data, c->ca.len, fp);
        if (strcmp(fp, c->want_fp) != 0)
            return sisp_client_fail(c, SISP_EPIN,
                                    "--fingerprint %s differs from the CA this home pinned (%s)",
                                    c->want_fp, fp);
    }
    return 0;
}

int sisp_client_setup(sisp_client_t *c, const char *home, const char *server) {
    int rc = sisp_home_open(&c->home, home, 1);
    if (rc != 0)
        return sisp_client_fail(c, rc, "cannot open the home directory %s: %s",
                                home ? home : "(SISP_HOME or ~/.sisp)", sisp_strerror(rc));
    if (c->want_fp[0] != '\0') {
        /* Accept "SHA256:HEX" (what sispd prints) in either case. */
        if (strncasecmp(c->want_fp, "sha256:", 7) == 0)
            memcpy(c->want_fp, "SHA256:", 7);
        for (char *p = c->want_fp + 7; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        if (strlen(c->want_fp) != 71 || strncmp(c->want_fp, "SHA256:", 7) != 0)
            return sisp_client_fail(c, SISP_EINVAL,
                                    "--fingerprint takes SHA256:<64 hex digits>, as sispd prints");
    }
    char saved[300];
    const char *env = getenv("SISP_SERVER");
    if (server == NULL || server[0] == '\0')
        server = env && env[0] ? env : NULL;
    if (server == NULL && sisp_home_server(&c->home, saved, sizeof saved) == 0 && saved[0])
        server = saved;
    if (server != NULL && (rc = split_server(c, server)) != 0)
        return rc;
    if ((rc = load_pin(c)) != 0)
        return rc;
    return load_identity(c);
}

/* ---- connection and trust ---- */

static void on_push(void *arg, const sisp_packet_t *p);

void sisp_client_disconnect(sisp_client_t *c) {
    save_seq(c);
    if (c->conn != NULL) {
        sisp_bye_t bye = {0};
        sisp_conn_send(c->conn, SISP_T_BYE, 0, &bye);
    }
    sisp_conn_free(c->conn);
    sisp_tlsc_close(c->tls);
    c->conn = NULL;
    c->tls = NULL;
}

#define TLS_BAD_CERTIFICATE 42 /* the alert (RFC 8446 §6.2) */

static int open_tls(sisp_client_t *c, int pinned, sisp_tlsc_t **t) {
    sisp_tlsc_opts_t o = {c->host, c->port, NULL, 0, NULL, 0, NULL, c->timeout_ms};
    char why[300] = "";
    if (pinned) {
        o.ca = c->ca.data;
        o.ca_len = c->ca.len;
    }
    if (pinned && c->have_identity) {
        o.cert = c->cert.data;
        o.cert_len = c->cert.len;
        o.id = &c->id;
    }
    int rc = sisp_tlsc_open(&o, t, why, sizeof why);
    if (rc != 0)
        sisp_client_fail(c, rc, "%s", why);
    return rc;
}

/* First contact: read the CA the server presents, check it against --fingerprint, pin it. */
static int pin_first_contact(sisp_client_t *c) {
    sisp_tlsc_t *t;
    char fp[72];
    int rc = open_tls(c, 0, &t);
    if (rc != 0)
        return rc;
    rc = sisp_tlsc_server_ca(t, &c->ca);
    sisp_tlsc_close(t);
    if (rc == 0)
        rc = sisp_cert_ca_check(c->ca.data, c->ca.len);
    if (rc != 0) {
        sisp_buf_reset(&c->ca);
        return sisp_client_fail(c, SISP_EPIN, "%s:%s did not present a sisp CA certificate",
                                c->host, c->port);
    }
    sisp_fingerprint(c->ca.data, c->ca.len, fp);
    if (c->want_fp[0] != '\0' && strcmp(fp, c->want_fp) != 0) {
        sisp_buf_reset(&c->ca);
        return sisp_client_fail(c, SISP_EPIN,
                                "%s:%s presents CA %s, not the %s you gave; nothing was sent",
                                c->host, c->port, fp, c->want_fp);
    }
    rc = sisp_home_write(&c->home, CA_FILE, c->ca.data, c->ca.len, 0644);
    if (rc != 0)
        return sisp_client_fail(c, rc, "cannot save the CA pin in %s", c->home.dir);
    if (c->want_fp[0] != '\0')
        sisp_client_say(c, "pinned server CA %s (matches --fingerprint)", fp);
    else
        sisp_client_say(c,
                        "first contact with %s:%s: pinned its CA %s\n"
                        "  (compare with the fingerprint sispd printed; pass --fingerprint to "
                        "check it up front)",
                        c->host, c->port, fp);
    return 0;
}

/* The pinned CA no longer verifies the server: say loudly what it presents instead. */
static int pin_mismatch(sisp_client_t *c) {
    sisp_tlsc_t *t;
    sisp_buf_t seen;
    char pinned[72], now[72] = "an unknown certificate";
    sisp_buf_init(&seen, 0);
    sisp_fingerprint(c->ca.data, c->ca.len, pinned);
    if (open_tls(c, 0, &t) == 0) {
        if (sisp_tlsc_server_ca(t, &seen) == 0)
            sisp_fingerprint(seen.data, seen.len, now);
        sisp_tlsc_close(t);
    }
    sisp_buf_free(&seen);
    if (strcmp(now, pinned) == 0)
        /* The pinned CA, but its certificate for the server did not verify: expired, not yet
         * valid (a clock off), or not for this host name. */
        return sisp_client_fail(c, SISP_ECERT,
                                "%s:%s presents the CA this home pinned (%s), but its server "
                                "certificate does not verify (expired, a clock off, or another "
                                "host name); nothing was sent",
                                c->host, c->port, pinned);
    return sisp_client_fail(
        c, SISP_EPIN,
        "WARNING: SERVER CA CHANGED. %s:%s presents %s but this home pinned %s. Someone may be "
        "impersonating the server; nothing was sent. If the server was really reinstalled, use a "
        "new --home.",
        c->host, c->port, now, pinned);
}

static int bootstrap_keys(sisp_client_t *c);

int sisp_client_connect(sisp_client_t *c) {
    if (c->conn != NULL)
        return 0;
    if (c->host[0] == '\0')
        return sisp_client_fail(c, SISP_EINVAL,
                                "no server: give --server HOST:PORT (or set SISP_SERVER)");
    int rc = 0;
    if (c->ca.len == 0 && (rc = pin_first_contact(c)) != 0)
        return rc;
    rc = open_tls(c, 1, &c->tls);
    if (rc == SISP_EPIN)
        return pin_mismatch(c);
    if (rc != 0)
        return rc;
    sisp_transport_t tr;
    sisp_tlsc_transport(c->tls, &tr);
    c->conn = sisp_conn_new(&tr);
    if (c->conn == NULL) {
        sisp_client_disconnect(c);
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    }
    sisp_conn_on_push(c->conn, on_push, c);
    c->caught_up = 0;
    rc = sisp_conn_hello(c->conn, SISP_CLIENT_SOFTWARE, c->timeout_ms);
    if (rc != 0 && c->have_identity && sisp_tlsc_alert_received(c->tls) == TLS_BAD_CERTIFICATE) {
        /* In TLS 1.3 the server checks our certificate after our side of the handshake is
         * done, so its refusal arrives as an alert here. It does not say why; our own copy
         * tells what the server cannot have objected to. */
        sisp_cert_info_t ci, vi;
        int64_t t = (int64_t)time(NULL);
        int parsed = sisp_cert_parse(c->cert.data, c->cert.len, &ci) == 0;
        int valid = sisp_cert_verify(c->cert.data, c->cert.len, c->ca.data, c->ca.len, t, &vi) == 0;
        sisp_client_disconnect(c);
        if (parsed && ci.not_after < t)
            return sisp_client_fail(c, SISP_ECERT,
                                    "%s:%s refused %s's certificate: it has expired (register "
                                    "again under a new name, or ask the server's admin)",
                                    c->host, c->port, c->user);
        if (!valid)
            return sisp_client_fail(c, SISP_ECERT,
                                    "%s:%s refused %s's certificate, which does not verify "
                                    "against this home's pinned CA",
                                    c->host, c->port, c->user);
        return sisp_client_fail(c, SISP_EREVOKED,
                                "%s:%s refused %s's certificate, which is in date and from this "
                                "server's CA: it has been revoked",
                                c->host, c->port, c->user);
    }
    if (rc != 0) {
        const char *m = sisp_conn_server_message(c->conn);
        sisp_client_fail(c, rc, "%s:%s refused the connection: %s%s%s", c->host, c->port,
                         sisp_strerror(rc), m[0] ? ": " : "", m);
        if (rc == SISP_EREVOKED || rc == SISP_EAUTH)
            sisp_client_fail(c, rc, "%s:%s refused %s's certificate: %s", c->host, c->port, c->user,
                             sisp_strerror(rc));
        sisp_client_disconnect(c);
        return rc;
    }
    const sisp_hello_t *h = sisp_conn_server_hello(c->conn);
    if (c->have_identity && !sisp_slice_eq(h->user, sisp_slice_str(c->user))) {
        sisp_client_disconnect(c);
        return sisp_client_fail(c, SISP_EAUTH,
                                "the server did not accept %s's certificate (revoked or expired?)",
                                c->user);
    }
    if (c->have_identity && (rc = bootstrap_keys(c)) != 0)
        sisp_client_say(c, "warning: could not look after group keys: %s", c->why);
    return 0;
}

/* Fails with the server's error (and its message) for an ERROR reply. */
static int reply_fail(sisp_client_t *c, const sisp_packet_t *r, const char *what) {
    int rc = sisp_conn_reply_err(r);
    const char *m = sisp_conn_server_message(c->conn);
    if (rc == 0)
        rc = SISP_EPROTO;
    if (strcmp(m, sisp_strerror(rc)) == 0)
        m = ""; /* said once is enough */
    return sisp_client_fail(c, rc, "%s: %s%s%s", what, sisp_strerror(rc), m[0] ? ": " : "", m);
}

/* A request whose reply must be of type `want`. */
static int request(sisp_client_t *c, uint8_t type, const void *req, uint8_t want,
                   const sisp_packet_t **reply, const char *what) {
    int rc = sisp_client_connect(c);
    if (rc != 0)
        return rc;
    rc = sisp_conn_request(c->conn, type, req, c->timeout_ms, reply);
    if (rc != 0)
        return sisp_client_fail(c, rc, "%s: connection to %s:%s failed: %s", what, c->host, c->port,
                                sisp_strerror(rc));
    if ((*reply)->type != want)
        return reply_fail(c, *reply, what);
    return 0;
}

/* ---- other users: certificate checked against the CA, keys pinned ---- */

/* Asks the server for user's certificate and X25519 key and verifies them: the certificate
 * against the pinned CA, for that user, not revoked, the X25519 key signed by its key. 0 and
 * *k (not compared with the pin), or an error. */
static int fetch_user(sisp_client_t *c, const char *user, sisp_known_t *k) {
    sisp_user_cert_t q = {sisp_slice_str(user)};
    const sisp_packet_t *r;
    char what[96];
    snprintf(what, sizeof what, "looking up %s", user);
    int rc = request(c, SISP_T_USER_CERT, &q, SISP_T_USER_CERT_RESULT, &r, what);
    if (rc != 0)
        return rc;
    const sisp_user_cert_result_t *u = &r->u.user_cert_result;
    sisp_cert_info_t info;
    rc = sisp_cert_verify(u->cert.ptr, u->cert.len, c->ca.data, c->ca.len, (int64_t)time(NULL),
                          &info);
    if (rc != 0)
        return sisp_client_fail(c, rc, "%s's certificate does not verify against the pinned CA: %s",
                                user, sisp_strerror(rc));
    if (strcmp(info.user, user) != 0 || !sisp_slice_eq(u->user, sisp_slice_str(user)))
        return sisp_client_fail(
            c, SISP_EMISMATCH, "the server answered for %s with %s's certificate", user, info.user);
    if (u->revoked)
        return sisp_client_fail(c, SISP_EREVOKED, "%s's certificate is revoked", user);
    if (u->x25519.len != SISP_KEY_SIZE ||
        sisp_x25519_verify(info.pub, sisp_slice_str(user), u->x25519.ptr, u->x25519_sig.ptr,
                           u->x25519_sig.len) != 0)
        return sisp_client_fail(c, SISP_ESIG, "%s's X25519 key is not signed by their identity key",
                                user);
    snprintf(k->user, sizeof k->user, "%s", user);
    memcpy(k->ed, info.pub, SISP_KEY_SIZE);
    memcpy(k->x, u->x25519.ptr, SISP_KEY_SIZE);
    return 0;
}

/* Verifies user's certificate and X25519 key as the server hands them out, and compares
 * them with the pin. 0 and *k, or an error (a changed key is refused, loudly). */
static int get_user(sisp_client_t *c, const char *user, sisp_known_t *k) {
    for (int i = 0; i < c->n_known; i++) {
        if (strcmp(c->known[i].user, user) == 0) {
            *k = c->known[i];
            return 0;
        }
    }
    if (c->have_identity && strcmp(user, c->user) == 0) {
        snprintf(k->user, sizeof k->user, "%s", user);
        memcpy(k->ed, c->id.pub, SISP_KEY_SIZE);
        memcpy(k->x, c->x.pub, SISP_KEY_SIZE);
        return 0;
    }
    int rc = fetch_user(c, user, k);
    if (rc != 0)
        return rc;
    char fp[72];
    sisp_fingerprint(k->ed, SISP_KEY_SIZE, fp);
    rc = sisp_home_pin_user(&c->home, user, k->ed, k->x);
    if (rc == SISP_PIN_CHANGED) {
        char old[72] = "?";
        uint8_t ed[SISP_KEY_SIZE];
        if (sisp_home_pinned(&c->home, user, ed) == 0)
            sisp_fingerprint(ed, SISP_KEY_SIZE, old);
        sisp_client_say(c, "WARNING: KEY CHANGED for %s: pinned %s, the server now hands out %s.",
                        user, old, fp);
        return sisp_client_fail(c, SISP_EKEYCHANGED,
                                "%s's key changed since it was first seen; check with %s, then run "
                                "TRUST %s to accept the new key",
                                user, user, user);
    }
    if (rc < 0)
        return sisp_client_fail(c, rc, "cannot update %s/known_users: %s", c->home.dir,
                                sisp_strerror(rc));
    if (rc == SISP_PIN_NEW)
        sisp_client_say(c, "pinned %s's key %s", user, fp);
    if (c->n_known < (int)(sizeof c->known / sizeof c->known[0]))
        c->known[c->n_known++] = *k;
    return 0;
}

/* ---- group keys ---- */

typedef struct {
    uint32_t epoch;
    uint8_t key[SISP_KEY_SIZE];
} epoch_key_t;

#define MAX_EPOCHS 256

/* The key a grant from granter must be signed with: mine; or the granter's key as this home
 * pinned it, even if the server now says the granter is revoked (a revoked member's earlier
 * grants stay good: an honest server takes no grant from a revoked user); or, for a granter
 * not seen before, the key the server hands out now, checked and pinned on first sight. */
static int granter_key(sisp_client_t *c, const char *granter, uint8_t ed[SISP_KEY_SIZE]) {
    if (c->have_identity && strcmp(granter, c->user) == 0) {
        memcpy(ed, c->id.pub, SISP_KEY_SIZE);
        return 0;
    }
    int rc = sisp_home_pinned(&c->home, granter, ed);
    if (rc == 0)
        return 0;
    if (rc != SISP_ENOTFOUND)
        return sisp_client_fail(c, rc, "cannot read %s/known_users", c->home.dir);
    sisp_known_t k;
    rc = get_user(c, granter, &k);
    if (rc == 0)
        memcpy(ed, k.ed, SISP_KEY_SIZE);
    return rc;
}

/* Every epoch key of group granted to me that I can trust, each grant's signature checked
 * against its granter's key (granter_key). *n = 0 when I have none. */
static int my_keys(sisp_client_t *c, const char *group, epoch_key_t *keys, int *n) {
    sisp_key_fetch_t q = {sisp_slice_str(group), 0};
    const sisp_packet_t *r;
    char what[96];
    *n = 0;
    snprintf(what, sizeof what, "fetching the keys of %s", group);
    int rc = request(c, SISP_T_KEY_FETCH, &q, SISP_T_KEY_RESULT, &r, what);
    if (rc != 0)
        return rc;
    /* The reply's slices live until the next request: copy what get_user may disturb. */
    sisp_key_result_t *kr = malloc(sizeof *kr);
    uint8_t(*wrapped)[SISP_WRAPPED_EPOCH_SIZE] = malloc(SISP_GRANTS_MAX * sizeof *wrapped);
    uint8_t(*sig)[SISP_SIG_SIZE] = malloc(SISP_GRANTS_MAX * sizeof *sig);
    char(*granter)[SISP_USERNAME_MAX + 1] = malloc(SISP_GRANTS_MAX * sizeof *granter);
    if (kr == NULL || wrapped == NULL || sig == NULL || granter == NULL) {
        rc = sisp_client_fail(c, SISP_ENOMEM, "out of memory");
        goto done;
    }
    *kr = r->u.key_result;
    for (uint32_t i = 0; i < kr->n_grants; i++) {
        const sisp_grant_t *g = &kr->grants[i];
        if (g->wrapped.len != SISP_WRAPPED_EPOCH_SIZE || g->signature.len != SISP_SIG_SIZE ||
            g->granter.len == 0 || g->granter.len > SISP_USERNAME_MAX) {
            rc = sisp_client_fail(c, SISP_EPROTO, "malformed key grant for %s", group);
            goto done;
        }
        memcpy(wrapped[i], g->wrapped.ptr, SISP_WRAPPED_EPOCH_SIZE);
        memcpy(sig[i], g->signature.ptr, SISP_SIG_SIZE);
        memcpy(granter[i], g->granter.ptr, g->granter.len);
        granter[i][g->granter.len] = '\0';
    }
    /* A grant that cannot be trusted is left out, with a word on stderr; the others still
     * count (one bad grant must not lock its recipient out of the group). */
    for (uint32_t i = 0; i < kr->n_grants && *n < MAX_EPOCHS; i++) {
        uint32_t epoch = kr->grants[i].epoch;
        uint8_t ed[SISP_KEY_SIZE];
        if (granter_key(c, granter[i], ed) != 0) {
            sisp_client_say(c, "ignored the key of %s epoch %u from %s: %s", group, (unsigned)epoch,
                            granter[i], c->why);
            continue;
        }
        sisp_slice_t w = sisp_slice(wrapped[i], SISP_WRAPPED_EPOCH_SIZE);
        if (sisp_grant_verify(ed, sisp_slice_str(group), epoch, sisp_slice_str(c->user), w, sig[i],
                              SISP_SIG_SIZE) != 0) {
            sisp_client_say(c,
                            "ignored the key of %s epoch %u: it is not signed by %s's pinned "
                            "key",
                            group, (unsigned)epoch, granter[i]);
            continue;
        }
        int urc =
            sisp_epoch_unwrap(&c->x, wrapped[i], SISP_WRAPPED_EPOCH_SIZE, sisp_slice_str(group),
                              epoch, sisp_slice_str(c->user), keys[*n].key);
        if (urc != 0) {
            sisp_client_say(c, "ignored the key of %s epoch %u from %s: %s", group, (unsigned)epoch,
                            granter[i], sisp_strerror(urc));
            continue;
        }
        keys[(*n)++].epoch = epoch;
    }
done:
    free(kr);
    free(wrapped);
    free(sig);
    free(granter);
    return rc;
}

/* The key of one epoch (0: the newest I have). SISP_ENOTFOUND if I have none. */
static int epoch_key(sisp_client_t *c, const char *group, uint32_t epoch, uint32_t *got,
                     uint8_t key[SISP_KEY_SIZE]) {
    epoch_key_t *keys = malloc(MAX_EPOCHS * sizeof *keys);
    int n = 0, best = -1;
    if (keys == NULL)
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    int rc = my_keys(c, group, keys, &n);
    for (int i = 0; rc == 0 && i < n; i++)
        if (epoch ? keys[i].epoch == epoch : best < 0 || keys[i].epoch > keys[best].epoch)
            best = i;
    if (rc == 0 && best < 0 && epoch != 0)
        rc = sisp_client_fail(c, SISP_ENOTFOUND, "no key for epoch %u of %s was granted to you",
                              (unsigned)epoch, group);
    else if (rc == 0 && best < 0)
        rc = sisp_client_fail(c, SISP_ENOTFOUND,
                              "you have no key for %s yet: a member must admit you", group);
    if (rc == 0) {
        memcpy(key, keys[best].key, SISP_KEY_SIZE);
        *got = keys[best].epoch;
    }
    sisp_wipe(keys, MAX_EPOCHS * sizeof *keys);
    free(keys);
    return rc;
}

/* grants[i] for recipient k of each key; bytes kept in wrapped/sig. */
static int make_grants(sisp_client_t *c, const char *group, const sisp_known_t *k,
                       const epoch_key_t *keys, int n, sisp_grant_t *grants,
                       uint8_t (*wrapped)[SISP_WRAPPED_EPOCH_SIZE], uint8_t (*sig)[SISP_SIG_SIZE]) {
    sisp_rng_t rng;
    int rc = sisp_rng_init(&rng);
    for (int i = 0; rc == 0 && i < n; i++) {
        sisp_slice_t g = sisp_slice_str(group), u = sisp_slice_str(k->user);
        rc = sisp_epoch_wrap(&rng, keys[i].key, k->x, g, keys[i].epoch, u, wrapped[i]);
        sisp_slice_t w = sisp_slice(wrapped[i], SISP_WRAPPED_EPOCH_SIZE);
        if (rc == 0)
            rc = sisp_grant_sign(&c->id, g, keys[i].epoch, u, w, sig[i]);
        grants[i] = (sisp_grant_t){u, keys[i].epoch, w, {0}, sisp_slice(sig[i], SISP_SIG_SIZE)};
    }
    sisp_rng_free(&rng);
    if (rc != 0)
        return sisp_client_fail(c, rc, "cannot wrap the keys of %s for %s: %s", group, k->user,
                                sisp_strerror(rc));
    return 0;
}

typedef struct {
    sisp_grant_t grants[MAX_EPOCHS];
    uint8_t wrapped[MAX_EPOCHS][SISP_WRAPPED_EPOCH_SIZE];
    uint8_t sig[MAX_EPOCHS][SISP_SIG_SIZE];
    epoch_key_t keys[MAX_EPOCHS];
    int n_keys;
    sisp_known_t me; /* first_key's recipient: the grants' slices point at its name */
} grant_work_t;

static void grant_work_free(grant_work_t *w) {
    if (w != NULL)
        sisp_wipe(w->keys, sizeof w->keys);
    free(w);
}

/* Wraps every key of group I hold for user (verified into *k). With none held: `nokey`, and
 * nokey_why ends the message. */
static int grants_for(sisp_client_t *c, const char *group, const char *user, sisp_known_t *k,
                      grant_work_t *w, int nokey, const char *nokey_why) {
    int rc = get_user(c, user, k);
    if (rc == 0)
        rc = my_keys(c, group, w->keys, &w->n_keys);
    if (rc == 0 && w->n_keys == 0)
        rc = sisp_client_fail(c, nokey, "you hold no key of %s%s", group, nokey_why);
    if (rc == 0)
        rc = make_grants(c, group, k, w->keys, w->n_keys, w->grants, w->wrapped, w->sig);
    return rc;
}

/* A fresh key for epoch 1 of group, wrapped for me (w->grants[0]). */
static int first_key(sisp_client_t *c, const char *group, grant_work_t *w) {
    sisp_rng_t rng;
    int rc = sisp_rng_init(&rng);
    if (rc == 0) {
        rc = sisp_rng_bytes(&rng, w->keys[0].key, SISP_KEY_SIZE);
        sisp_rng_free(&rng);
    }
    w->keys[0].epoch = 1;
    w->n_keys = 1;
    if (rc == 0)
        rc = get_user(c, c->user, &w->me);
    if (rc == 0)
        rc = make_grants(c, group, &w->me, w->keys, 1, w->grants, w->wrapped, w->sig);
    return rc;
}

/* Sends KEY_GRANT of w's grants. */
static int send_key_grant(sisp_client_t *c, const char *group, const grant_work_t *w,
                          const char *what) {
    sisp_key_grant_t *g = calloc(1, sizeof *g);
    const sisp_packet_t *r;
    if (g == NULL)
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    g->group = sisp_slice_str(group);
    memcpy(g->grants, w->grants, (size_t)w->n_keys * sizeof g->grants[0]);
    g->n_grants = (uint32_t)w->n_keys;
    int rc = request(c, SISP_T_KEY_GRANT, g, SISP_T_OK, &r, what);
    free(g);
    return rc;
}

/* Admits user to group: verifies them, grants every epoch key I hold. */
static int admit(sisp_client_t *c, const char *group, const char *user) {
    sisp_known_t k;
    grant_work_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    int rc = grants_for(c, group, user, &k, w, SISP_ENOTFOUND, " to grant");
    if (rc == 0)
        rc = send_key_grant(c, group, w, "granting keys");
    if (rc == 0) {
        char fp[72];
        sisp_fingerprint(k.ed, SISP_KEY_SIZE, fp);
        sisp_client_say(c, "admitted %s (fingerprint %s) to %s", user, fp, group);
    }
    grant_work_free(w);
    return rc;
}

/* Calls cb for every member of group, in name order, a GROUP_LIST page at a time (a page holds
 * at most SISP_MEMBERS_MAX, and less for a small max_control). */
typedef void (*member_cb)(void *arg, const char *user, int pending);
static int each_member(sisp_client_t *c, const char *group, const char *what, member_cb cb,
                       void *arg) {
    char after[SISP_USERNAME_MAX + 1] = "";
    for (;;) {
        sisp_group_list_t q = {sisp_slice_str(group), sisp_slice_str(after)};
        const sisp_packet_t *r;
        int rc = request(c, SISP_T_GROUP_LIST, &q, SISP_T_GROUP_LIST_RESULT, &r, what);
        if (rc != 0)
            return rc;
        const sisp_group_list_result_t *l = &r->u.group_list_result;
        char name[SISP_USERNAME_MAX + 1];
        for (uint32_t i = 0; i < l->n_members; i++) {
            int pending = 0;
            for (uint32_t j = 0; j < l->n_pending && !pending; j++)
                pending = sisp_slice_eq(l->members[i], l->pending[j]);
            snprintf(name, sizeof name, "%.*s", (int)l->members[i].len,
                     (const char *)l->members[i].ptr);
            /* Pages must move forward: a server that repeats itself would loop forever. */
            if (strcmp(name, after) <= 0)
                return sisp_client_fail(c, SISP_EPROTO, "%s: the server listed %s out of order",
                                        what, name);
            cb(arg, name, pending);
            snprintf(after, sizeof after, "%s", name);
        }
        if (!l->more)
            return 0;
        if (l->n_members == 0)
            return sisp_client_fail(c, SISP_EPROTO,
                                    "%s: the server promised more members "
                                    "and listed none",
                                    what);
    }
}

typedef struct {
    sisp_client_t *c;
    int me_pending;
} pending_scan_t;

static void queue_admission(void *arg, const char *user, int pending) {
    pending_scan_t *ps = arg;
    sisp_client_t *c = ps->c;
    if (!pending)
        return;
    if (strcmp(user, c->user) == 0) {
        ps->me_pending = 1;
    } else if (c->n_admit < SISP_ADMIT_QUEUE) { /* the rest: at the next connection */
        sisp_admit_t *a = &c->admit[c->n_admit++];
        snprintf(a->group, sizeof a->group, "all");
        snprintf(a->user, sizeof a->user, "%s", user);
    }
}

/* On connect: make `all`'s first key if nobody has (we are its first member), then admit
 * whoever is pending in `all`. */
static int bootstrap_keys(sisp_client_t *c) {
    pending_scan_t ps = {c, 0};
    const sisp_packet_t *r;
    int rc = each_member(c, "all", "listing all", queue_admission, &ps);
    if (rc != 0)
        return rc;
    int me_pending = ps.me_pending;
    if (!me_pending) {
        /* A member of `all` who is not pending and was granted nothing: `all` has no key yet.
         * Only the count matters here, so the grants are neither verified nor opened. */
        sisp_key_fetch_t kq = {sisp_slice_str("all"), 0};
        rc = request(c, SISP_T_KEY_FETCH, &kq, SISP_T_KEY_RESULT, &r, "fetching the keys of all");
        if (rc == 0 && r->u.key_result.n_grants == 0) {
            grant_work_t *w = calloc(1, sizeof *w);
            rc = w ? first_key(c, "all", w) : sisp_client_fail(c, SISP_ENOMEM, "out of memory");
            if (rc == 0)
                rc = send_key_grant(c, "all", w, "creating all's key");
            if (rc == 0)
                sisp_client_say(c, "created the first key of group all");
            grant_work_free(w);
        }
        if (rc != 0)
            return rc;
    }
    return me_pending ? 0 : sisp_client_process(c);
}

int sisp_client_process(sisp_client_t *c) {
    int rc = 0;
    /* The last seq shown goes to the home's state file (a write, an fsync, a rename) once no
     * further frame is at hand, not after every NOTIFY: a burst of them costs one save. */
    if (c->seq_dirty && (c->conn == NULL || (!sisp_conn_has_frame(c->conn) &&
                                             (c->tls == NULL || !sisp_tlsc_pending(c->tls)))))
        save_seq(c);
    while (c->n_admit > 0) {
        sisp_admit_t a = c->admit[0];
        memmove(&c->admit[0], &c->admit[1], (size_t)(c->n_admit - 1) * sizeof a);
        c->n_admit--;
        if (c->conn == NULL)
            break;
        int r = admit(c, a.group, a.user);
        if (r != 0) {
            sisp_client_say(c, "did not admit %s to %s: %s", a.user, a.group, c->why);
            rc = r;
        }
    }
    return rc;
}

static void print_event(sisp_client_t *c, const sisp_image_info_t *e) {
    if (c->before_print)
        c->before_print(c->print_arg);
    fprintf(c->out, "NEW_IMAGE %.*s %.*s %.*s %" PRIu64 "\n", (int)e->name.len,
            (const char *)e->name.ptr, (int)e->owner.len, (const char *)e->owner.ptr,
            (int)e->group.len, (const char *)e->group.ptr, e->size);
    fflush(c->out);
    if (c->after_print)
        c->after_print(c->print_arg);
    if (e->seq > c->seen_seq)
        c->seen_seq = e->seq;
}

static void on_push(void *arg, const sisp_packet_t *p) {
    sisp_client_t *c = arg;
    if (p->type == SISP_T_NOTIFY) {
        if (c->print_events && p->u.notify.seq > c->seen_seq && c->catch_up && !c->caught_up) {
            /* The catch-up LIST may not hold it yet: it lists again (see catch_up). */
            if (p->u.notify.seq > c->held_seq)
                c->held_seq = p->u.notify.seq;
        } else if (c->print_events && p->u.notify.seq > c->seen_seq) {
            print_event(c, &p->u.notify);
            /* Saved once the burst it came in is handled; only by WATCH and the interactive
             * shell, which caught up first: a scripted shell that printed this one has not
             * shown what came before it. */
            if (c->catch_up)
                c->seq_dirty = 1;
        }
    } else if (p->type == SISP_T_MEMBER_PENDING) {
        const sisp_member_pending_t *m = &p->u.member_pending;
        if (sisp_slice_eq(m->user, sisp_slice_str(c->user)))
            return;
        /* Only `all` admits by itself (SECURITY.md). Anyone else awaiting a group's keys is
         * admitted by a member who means it, with GROUP ADD: the server alone could otherwise
         * make every member's client hand the group's keys to a user of its choosing. */
        if (!sisp_slice_eq(m->group, sisp_slice_str("all"))) {
            sisp_client_say(
                c, "%.*s awaits the keys of group %.*s: GROUP ADD %.*s %.*s grants them",
                (int)m->user.len, (const char *)m->user.ptr, (int)m->group.len,
                (const char *)m->group.ptr, (int)m->group.len, (const char *)m->group.ptr,
                (int)m->user.len, (const char *)m->user.ptr);
            return;
        }
        if (c->n_admit < SISP_ADMIT_QUEUE) {
            sisp_admit_t *a = &c->admit[c->n_admit++];
            memcpy(a->group, m->group.ptr, m->group.len);
            a->group[m->group.len] = '\0';
            memcpy(a->user, m->user.ptr, m->user.len);
            a->user[m->user.len] = '\0';
        }
    } else if (p->type == SISP_T_KEY_RESULT) {
        const sisp_key_result_t *k = &p->u.key_result;
        if (k->n_grants > 0 && !sisp_slice_eq(k->grants[0].granter, sisp_slice_str(c->user)))
            sisp_client_say(c, "%.*s granted you the keys of group %.*s",
                            (int)k->grants[0].granter.len, (const char *)k->grants[0].granter.ptr,
                            (int)k->group.len, (const char *)k->group.ptr);
    }
}

/* ---- commands ---- */

static int save_identity(sisp_client_t *c) {
    char path[SISP_HOME_PATH_MAX];
    sisp_key_pair_t kp;
    const char *pass = getenv("SISP_PASSPHRASE");
    memcpy(kp.secret, c->id.seed, SISP_KEY_SIZE);
    memcpy(kp.pub, c->id.pub, SISP_KEY_SIZE);
    sisp_home_path(&c->home, IDENTITY_KEY, path, sizeof path);
    int rc = sisp_keystore_save(path, SISP_KEYFILE_IDENT, &kp, pass, 0);
    memcpy(kp.secret, c->x.priv, SISP_KEY_SIZE);
    memcpy(kp.pub, c->x.pub, SISP_KEY_SIZE);
    sisp_home_path(&c->home, X25519_KEY, path, sizeof path);
    if (rc == 0)
        rc = sisp_keystore_save(path, SISP_KEYFILE_X25519, &kp, pass, 0);
    sisp_wipe(&kp, sizeof kp);
    if (rc == 0)
        rc = sisp_home_write(&c->home, CERT_FILE, c->cert.data, c->cert.len, 0644);
    return rc;
}

int sisp_cmd_register(sisp_client_t *c, const char *user, const char *invite) {
    if (c->have_identity)
        return sisp_client_fail(c, SISP_EEXIST,
                                "%s already holds the identity %s; use another --home for "
                                "another user",
                                c->home.dir, c->user);
    if (sisp_check_username(user, strlen(user)) != 0)
        return sisp_client_fail(c, SISP_EUSERNAME, "'%s': %s", user, sisp_strerror(SISP_EUSERNAME));
    if (invite != NULL && sisp_check_invite(invite, strlen(invite)) != 0)
        return sisp_client_fail(c, SISP_EINVITECODE, "%s", sisp_strerror(SISP_EINVITECODE));
    sisp_rng_t rng;
    sisp_buf_t csr;
    uint8_t xsig[SISP_SIG_SIZE];
    sisp_buf_init(&csr, 0);
    int rc = sisp_rng_init(&rng);
    if (rc == 0) {
        rc = sisp_ident_generate(&rng, &c->id);
        if (rc == 0)
            rc = sisp_x25519_generate(&rng, &c->x);
        sisp_rng_free(&rng);
    }
    if (rc == 0)
        rc = sisp_csr_make(&c->id, user, &csr);
    if (rc == 0)
        rc = sisp_x25519_sign(&c->id, sisp_slice_str(user), c->x.pub, xsig);
    if (rc != 0) {
        sisp_buf_free(&csr);
        return sisp_client_fail(c, rc, "cannot make keys: %s", sisp_strerror(rc));
    }
    sisp_register_req_t q = {0};
    q.user = sisp_slice_str(user);
    q.csr = sisp_slice(csr.data, csr.len);
    q.x25519 = sisp_slice(c->x.pub, SISP_KEY_SIZE);
    q.x25519_sig = sisp_slice(xsig, sizeof xsig);
    q.invite = sisp_slice_str(invite);
    const sisp_packet_t *r;
    rc = request(c, SISP_T_REGISTER, &q, SISP_T_REGISTERED, &r, "REGISTER");
    sisp_buf_free(&csr);
    if (rc == SISP_EEXIST)
        return sisp_client_fail(c, rc, "REGISTER: the name %s is taken; choose another", user);
    if (rc != 0)
        return rc;
    /* The certificate must be for us, from the CA we pinned. */
    const sisp_registered_t *reg = &r->u.registered;
    sisp_cert_info_t info;
    const sisp_slice_t *last = &reg->chain[reg->n_chain - 1];
    rc =
        reg->n_chain >= 2 && last->len == c->ca.len && memcmp(last->ptr, c->ca.data, c->ca.len) == 0
            ? 0
            : SISP_EPIN;
    if (rc == 0)
        rc = sisp_cert_verify(reg->chain[0].ptr, reg->chain[0].len, c->ca.data, c->ca.len,
                              (int64_t)time(NULL), &info);
    if (rc == 0 &&
        (strcmp(info.user, user) != 0 || !sisp_ct_eq(info.pub, c->id.pub, SISP_KEY_SIZE)))
        rc = SISP_EMISMATCH;
    if (rc != 0)
        return sisp_client_fail(c, rc, "the certificate the server issued is not valid for %s: %s",
                                user, sisp_strerror(rc));
    sisp_buf_reset(&c->cert);
    if (sisp_buf_append(&c->cert, reg->chain[0].ptr, reg->chain[0].len) != 0)
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    snprintf(c->user, sizeof c->user, "%s", user);
    char server[300];
    snprintf(server, sizeof server, "%s:%s", c->host, c->port);
    rc = save_identity(c);
    if (rc == 0)
        rc = sisp_home_set_server(&c->home, server);
    if (rc != 0)
        return sisp_client_fail(c, rc, "registered %s, but cannot save the keys in %s: %s", user,
                                c->home.dir, sisp_strerror(rc));
    c->have_identity = 1;
    char fp[72];
    sisp_fingerprint(c->id.pub, SISP_KEY_SIZE, fp);
    fprintf(c->out, "registered %s on %s, key fingerprint %s\n", user, server, fp);
    fflush(c->out);
    /* From now on, mutual TLS: reconnect with the new certificate (which also makes `all`'s
     * first key if we are the first user). */
    sisp_client_disconnect(c);
    return sisp_client_connect(c);
}

static int need_identity(sisp_client_t *c) {
    if (!c->have_identity)
        return sisp_client_fail(c, SISP_ENOIDENTITY,
                                "%s holds no identity: run `sisp register NAME` first",
                                c->home.dir);
    return 0;
}

int sisp_cmd_whoami(sisp_client_t *c) {
    sisp_whoami_t q = {0};
    const sisp_packet_t *r;
    int rc = need_identity(c);
    if (rc == 0)
        rc = request(c, SISP_T_WHOAMI, &q, SISP_T_WHOAMI_RESULT, &r, "WHOAMI");
    if (rc != 0)
        return rc;
    char fp[72], cafp[72];
    sisp_fingerprint(c->id.pub, SISP_KEY_SIZE, fp);
    sisp_fingerprint(c->ca.data, c->ca.len, cafp);
    fprintf(c->out, "%.*s on %s:%s\nkey fingerprint %s\nserver CA %s\n",
            (int)r->u.whoami_result.user.len, (const char *)r->u.whoami_result.user.ptr, c->host,
            c->port, fp, cafp);
    fflush(c->out);
    return 0;
}

static void fmt_time(uint64_t t, char *out, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, n, "%" PRIu64, t);
}

typedef void (*list_cb)(sisp_client_t *c, const sisp_image_info_t *e);

static int list_pages(sisp_client_t *c, const char *group, uint64_t since, list_cb cb) {
    for (int pages = 0; pages < 1000000; pages++) {
        sisp_list_t q = {since, sisp_slice_str(group), 0};
        const sisp_packet_t *r;
        int rc = request(c, SISP_T_LIST, &q, SISP_T_LIST_RESULT, &r, "LIST");
        if (rc != 0)
            return rc;
        const sisp_list_result_t *l = &r->u.list_result;
        for (uint32_t i = 0; i < l->n_entries; i++)
            cb(c, &l->entries[i]);
        if (!l->more)
            return 0;
        if (l->next_since <= since)
            return sisp_client_fail(c, SISP_EPROTO, "LIST: the server's paging does not advance");
        since = l->next_since;
    }
    return 0;
}

static void print_entry(sisp_client_t *c, const sisp_image_info_t *e) {
    char when[32];
    fmt_time(e->posted_at, when, sizeof when);
    fprintf(c->out, "%6" PRIu64 "  %-24.*s %-12.*s %-12.*s %10" PRIu64 "  %s\n", e->seq,
            (int)e->name.len, (const char *)e->name.ptr, (int)e->owner.len,
            (const char *)e->owner.ptr, (int)e->group.len, (const char *)e->group.ptr, e->size,
            when);
}

int sisp_cmd_list(sisp_client_t *c, const char *group, uint64_t since) {
    int rc = need_identity(c);
    if (rc != 0)
        return rc;
    if (group != NULL && sisp_check_groupname(group, strlen(group)) != 0)
        return sisp_client_fail(c, SISP_EGROUPNAME, "'%s': %s", group,
                                sisp_strerror(SISP_EGROUPNAME));
    if ((rc = sisp_client_connect(c)) != 0)
        return rc; /* no header for a listing that cannot start */
    fprintf(c->out, "%6s  %-24s %-12s %-12s %10s  %s\n", "SEQ", "NAME", "OWNER", "GROUP", "BYTES",
            "POSTED");
    rc = list_pages(c, group ? group : "", since, print_entry);
    fflush(c->out);
    return rc;
}

int sisp_cmd_delete(sisp_client_t *c, const char *name, const char *group) {
    int rc = sisp__client_image_args(c, name, &group);
    if (rc != 0)
        return rc;
    sisp_delete_t q = {sisp_slice_str(name), sisp_slice_str(group)};
    const sisp_packet_t *r;
    char what[SISP_IMAGENAME_MAX + 16];
    snprintf(what, sizeof what, "DELETE %s", name);
    rc = request(c, SISP_T_DELETE, &q, SISP_T_OK, &r, what);
    if (rc == SISP_ENOTFOUND)
        return sisp_client_fail(c, rc, "DELETE %s: there is no image %s in group %s", name, name,
                                group);
    if (rc != 0)
        return rc;
    fprintf(c->out, "deleted %s from %s (copies already downloaded stay where they are)\n", name,
            group);
    fflush(c->out);
    return 0;
}

static void catch_up_entry(sisp_client_t *c, const sisp_image_info_t *e) {
    if (e->seq > c->seen_seq)
        print_event(c, e);
}

int sisp_client_catch_up(sisp_client_t *c) {
    uint64_t saved = sisp_home_seq(&c->home);
    int rc;
    if (saved > c->seen_seq)
        c->seen_seq = saved;
    /* NOTIFYs that arrive meanwhile are held back (printing one would hide older events the
     * LIST is about to return); one newer than what the LIST returned means it was committed
     * after the LIST ran: list again. */
    do {
        c->held_seq = 0;
        rc = list_pages(c, "", c->seen_seq, catch_up_entry);
    } while (rc == 0 && c->held_seq > c->seen_seq);
    if (rc == 0) {
        c->caught_up = 1;
        sisp_home_set_seq(&c->home, c->seen_seq);
    }
    return rc;
}

int sisp_cmd_group_create(sisp_client_t *c, const char *group) {
    int rc = need_identity(c);
    if (rc != 0)
        return rc;
    if (sisp_check_groupname(group, strlen(group)) != 0)
        return sisp_client_fail(c, SISP_EGROUPNAME, "'%s': %s", group,
                                sisp_strerror(SISP_EGROUPNAME));
    grant_work_t *w = calloc(1, sizeof *w);
    sisp_group_create_t *q = calloc(1, sizeof *q);
    rc = w && q ? first_key(c, group, w) : SISP_ENOMEM;
    if (rc == 0) {
        const sisp_packet_t *r;
        q->group = sisp_slice_str(group);
        q->grants[0] = w->grants[0];
        q->n_grants = 1;
        rc = request(c, SISP_T_GROUP_CREATE, q, SISP_T_GROUP_RESULT, &r, "GROUP CREATE");
    }
    if (rc == 0) {
        fprintf(c->out, "created group %s\n", group);
        fflush(c->out);
    }
    if (rc == SISP_ENOMEM)
        sisp_client_fail(c, rc, "out of memory");
    grant_work_free(w);
    free(q);
    return rc;
}

/* GROUP ADD and REMOVE: an identity, a group name and a user name. */
static int check_group_user(sisp_client_t *c, const char *group, const char *user,
                            const char *cmd) {
    int rc = need_identity(c);
    if (rc == 0 && (sisp_check_groupname(group, strlen(group)) != 0 ||
                    sisp_check_username(user, strlen(user)) != 0))
        rc = sisp_client_fail(c, SISP_EINVAL, "%s takes a group and a user name", cmd);
    return rc;
}

int sisp_cmd_group_add(sisp_client_t *c, const char *group, const char *user) {
    int rc = check_group_user(c, group, user, "GROUP ADD");
    if (rc != 0)
        return rc;
    sisp_known_t k;
    grant_work_t *w = calloc(1, sizeof *w);
    sisp_group_add_t *q = calloc(1, sizeof *q);
    rc = w && q ? grants_for(c, group, user, &k, w, SISP_EPERM, ": only a member can add")
                : sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    if (rc == 0) {
        const sisp_packet_t *r;
        q->group = sisp_slice_str(group);
        q->user = sisp_slice_str(user);
        memcpy(q->grants, w->grants, (size_t)w->n_keys * sizeof q->grants[0]);
        q->n_grants = (uint32_t)w->n_keys;
        rc = request(c, SISP_T_GROUP_ADD, q, SISP_T_GROUP_RESULT, &r, "GROUP ADD");
    }
    if (rc == 0) {
        char fp[72];
        sisp_fingerprint(k.ed, SISP_KEY_SIZE, fp);
        fprintf(c->out, "added %s (fingerprint %s) to %s\n", user, fp, group);
        fflush(c->out);
    }
    grant_work_free(w);
    free(q);
    return rc;
}

int sisp_cmd_group_remove(sisp_client_t *c, const char *group, const char *user) {
    int rc = check_group_user(c, group, user, "GROUP REMOVE");
    if (rc != 0)
        return rc;
    /* The members who stay (every page), and the current epoch. */
    sisp_members_t m = {0};
    rc = each_member(c, group, "GROUP LIST", sisp_members_add, &m);
    if (rc == 0 && m.failed)
        rc = sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    int found = 0;
    for (size_t i = 0; rc == 0 && i < m.n; i++)
        found |= strcmp(m.names[i], user) == 0;
    const sisp_packet_t *r = NULL;
    uint32_t epoch = 0, new_epoch = 0;
    uint8_t old[SISP_KEY_SIZE];
    grant_work_t *w = calloc(1, sizeof *w);
    sisp_group_remove_t *q = calloc(1, sizeof *q);
    sisp_key_grant_t *kg = calloc(1, sizeof *kg);
    sisp_known_t *ks = calloc(SISP_GRANTS_MAX, sizeof *ks);
    sisp_rng_t rng;
    if (rc == 0 && !(w && q && kg && ks))
        rc = sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    if (rc == 0 && !found)
        rc = sisp_client_fail(c, SISP_ENOTFOUND, "%s is not a member of %s", user, group);
    if (rc == 0)
        rc = epoch_key(c, group, 0, &epoch, old);
    sisp_wipe(old, sizeof old);
    if (rc == 0 && (rc = sisp_rng_init(&rng)) == 0) {
        rc = sisp_rng_bytes(&rng, w->keys[0].key, SISP_KEY_SIZE);
        sisp_rng_free(&rng);
    }
    if (rc == 0) /* else w may be NULL */
        w->keys[0].epoch = epoch + 1;
    /* The new epoch for every remaining member (pending ones too: they get this one), but
     * not for a revoked one, whom the server no longer serves. Looked up afresh: a shell may
     * have met them before their revocation. GROUP_REMOVE carries at most SISP_GRANTS_MAX
     * grants; KEY_GRANTs carry the rest, and only a member holding the new key may send
     * them: my own grant goes first. Members not granted yet wait as pending meanwhile. */
    c->n_known = 0;
    size_t next = 0, total = m.n + 1; /* index 0: me; then the others */
    for (int first = 1; rc == 0 && (first || next < total); first = 0) {
        uint32_t n = 0;
        while (rc == 0 && next < total && n < SISP_GRANTS_MAX) {
            const char *who = next == 0 ? c->user : m.names[next - 1];
            next++;
            if ((next > 1 && strcmp(who, c->user) == 0) || strcmp(who, user) == 0)
                continue;
            rc = get_user(c, who, &ks[n]);
            if (rc == SISP_EREVOKED) {
                sisp_client_say(c, "%s is revoked: no key of the new epoch for them", who);
                rc = 0;
                continue;
            }
            if (rc == 0)
                rc = make_grants(c, group, &ks[n], w->keys, 1, &q->grants[n], &w->wrapped[n],
                                 &w->sig[n]);
            n++;
        }
        if (rc != 0)
            break;
        if (first) {
            q->group = sisp_slice_str(group);
            q->user = sisp_slice_str(user);
            q->n_grants = n;
            rc = request(c, SISP_T_GROUP_REMOVE, q, SISP_T_GROUP_RESULT, &r, "GROUP REMOVE");
            if (rc == 0)
                new_epoch = r->u.group_result.epoch;
        } else if (n > 0) {
            kg->group = sisp_slice_str(group);
            memcpy(kg->grants, q->grants, n * sizeof kg->grants[0]);
            kg->n_grants = n;
            rc = request(c, SISP_T_KEY_GRANT, kg, SISP_T_OK, &r, "GROUP REMOVE: granting the rest");
        }
    }
    if (rc == 0) {
        fprintf(c->out, "removed %s from %s; new posts use epoch %u, which %s cannot open\n", user,
                group, (unsigned)new_epoch, user);
        fflush(c->out);
    }
    grant_work_free(w);
    free(q);
    free(kg);
    free(ks);
    sisp_members_free(&m);
    return rc;
}

static void print_member(void *arg, const char *user, int pending) {
    sisp_client_t *c = arg;
    fprintf(c->out, "%s%s\n", user, pending ? " (pending: awaiting keys)" : "");
}

int sisp_cmd_group_list(sisp_client_t *c, const char *group) {
    int rc = need_identity(c);
    if (rc != 0)
        return rc;
    if (group != NULL && sisp_check_groupname(group, strlen(group)) != 0)
        return sisp_client_fail(c, SISP_EGROUPNAME, "'%s': %s", group,
                                sisp_strerror(SISP_EGROUPNAME));
    if (group != NULL) {
        rc = each_member(c, group, "GROUP LIST", print_member, c);
        fflush(c->out);
        return rc;
    }
    sisp_group_list_t q = {SISP_SLICE_NULL, SISP_SLICE_NULL};
    const sisp_packet_t *r;
    rc = request(c, SISP_T_GROUP_LIST, &q, SISP_T_GROUP_LIST_RESULT, &r, "GROUP LIST");
    if (rc != 0)
        return rc;
    const sisp_group_list_result_t *l = &r->u.group_list_result;
    fprintf(c->out, "%-32s %6s %8s  %s\n", "GROUP", "EPOCH", "MEMBERS", "OWNER");
    for (uint32_t i = 0; i < l->n_groups; i++)
        fprintf(c->out, "%-32.*s %6u %8u  %.*s\n", (int)l->groups[i].group.len,
                (const char *)l->groups[i].group.ptr, (unsigned)l->groups[i].epoch,
                (unsigned)l->groups[i].members, (int)l->groups[i].owner.len,
                (const char *)l->groups[i].owner.ptr);
    fflush(c->out);
    return 0;
}

int sisp_cmd_fingerprint(sisp_client_t *c, const char *user) {
    char fp[72];
    if (user == NULL || (c->have_identity && strcmp(user, c->user) == 0)) {
        int rc = need_identity(c);
        if (rc != 0)
            return rc;
        sisp_fingerprint(c->id.pub, SISP_KEY_SIZE, fp);
        fprintf(c->out, "%s %s\n", c->user, fp);
    } else {
        if (sisp_check_username(user, strlen(user)) != 0)
            return sisp_client_fail(c, SISP_EUSERNAME, "'%s': %s", user,
                                    sisp_strerror(SISP_EUSERNAME));
        sisp_known_t k;
        int rc = need_identity(c);
        if (rc == 0)
            rc = get_user(c, user, &k);
        if (rc != 0)
            return rc;
        sisp_fingerprint(k.ed, SISP_KEY_SIZE, fp);
        fprintf(c->out, "%s %s\n", user, fp);
    }
    fflush(c->out);
    return 0;
}

int sisp_cmd_trust(sisp_client_t *c, const char *user, const char *want_fp) {
    int rc = need_identity(c);
    if (rc != 0)
        return rc;
    if (sisp_check_username(user, strlen(user)) != 0)
        return sisp_client_fail(c, SISP_EUSERNAME, "'%s': %s", user, sisp_strerror(SISP_EUSERNAME));
    if (want_fp != NULL && (strncasecmp(want_fp, "SHA256:", 7) != 0 || strlen(want_fp) != 71))
        return sisp_client_fail(c, SISP_EINVAL, "'%s' is not a fingerprint (SHA256: and 64 hex)",
                                want_fp);
    sisp_known_t k;
    char fp[72];
    rc = get_user(c, user, &k);
    if (rc == 0) {
        sisp_fingerprint(k.ed, SISP_KEY_SIZE, fp);
        if (want_fp != NULL && strcasecmp(fp, want_fp) != 0)
            return sisp_client_fail(c, SISP_EKEYCHANGED,
                                    "%s's pinned key is %s, not the %s you gave: check with %s",
                                    user, fp, want_fp, user);
        fprintf(c->out, "%s's key is already the pinned one\n", user);
        fflush(c->out);
        return 0;
    }
    if (rc != SISP_EKEYCHANGED)
        return rc;
    /* get_user verified everything but the pin: fetch again, verify again (this answer is
     * what gets pinned), and replace it; with want_fp, only if it is the key the user read
     * out, whatever the server answered a moment ago. */
    rc = fetch_user(c, user, &k);
    if (rc != 0)
        return rc; /* c->why says what did not verify */
    sisp_fingerprint(k.ed, SISP_KEY_SIZE, fp);
    if (want_fp != NULL && strcasecmp(fp, want_fp) != 0)
        return sisp_client_fail(c, SISP_EKEYCHANGED,
                                "the server hands out %s for %s, not the %s you gave: nothing "
                                "changed",
                                fp, user, want_fp);
    rc = sisp_home_pin_replace(&c->home, user, k.ed, k.x);
    if (rc != 0)
        return sisp_client_fail(c, rc, "cannot accept %s's new key: %s", user, sisp_strerror(rc));
    fprintf(c->out, "now trusting %s's key %s\n", user, fp);
    fflush(c->out);
    return 0;
}

/* ---- for transfer.c ---- */

int sisp__client_user(sisp_client_t *c, const char *user, sisp_known_t *k) {
    return get_user(c, user, k);
}

int sisp__client_epoch_key(sisp_client_t *c, const char *group, uint32_t epoch, uint32_t *got,
                           uint8_t key[SISP_KEY_SIZE]) {
    return epoch_key(c, group, epoch, got, key);
}

int sisp__client_need_identity(sisp_client_t *c) {
    return need_identity(c);
}

int sisp__client_image_args(sisp_client_t *c, const char *name, const char **group) {
    int rc = need_identity(c);
    if (rc != 0)
        return rc;
    if (*group == NULL)
        *group = "all";
    if (sisp_check_imagename(name, strlen(name)) != 0)
        return sisp_client_fail(c, SISP_EIMAGENAME, "'%s': %s", name,
                                sisp_strerror(SISP_EIMAGENAME));
    if (sisp_check_groupname(*group, strlen(*group)) != 0)
        return sisp_client_fail(c, SISP_EGROUPNAME, "'%s': %s", *group,
                                sisp_strerror(SISP_EGROUPNAME));
    return 0;
}

int sisp__client_in_group(sisp_client_t *c, const char *group) {
    sisp_group_list_t q = {SISP_SLICE_NULL, SISP_SLICE_NULL}; /* my groups */
    const sisp_packet_t *r;
    if (c->conn == NULL)
        return SISP_EINVAL;
    int rc = sisp_conn_request(c->conn, SISP_T_GROUP_LIST, &q, c->timeout_ms, &r);
    if (rc != 0 || r->type != SISP_T_GROUP_LIST_RESULT)
        return rc != 0 ? rc : SISP_EPROTO;
    for (uint32_t i = 0; i < r->u.group_list_result.n_groups; i++)
        if (sisp_slice_eq(r->u.group_list_result.groups[i].group, sisp_slice_str(group)))
            return 1;
    return 0;
}

/* ---- for fuzz/fuzz_client_frames.c, which brings its own connection ---- */

void sisp__client_on_push(void *arg, const sisp_packet_t *p) {
    on_push(arg, p);
}

int sisp__client_bootstrap(sisp_client_t *c) {
    return bootstrap_keys(c);
}
