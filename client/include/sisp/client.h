/* The sisp client's operations: what each command does, over one connection to sispd.
 *
 * Every operation returns 0 or a negative SISP error and, on error, leaves one line in c->why
 * naming what failed and what to do. Results go to c->out (stdout: what scripts read),
 * messages to c->msg (stderr). Trust: the server's CA is pinned in the home on first contact
 * (or up front with a fingerprint or a CA file); other users' keys are pinned on first sight
 * and a changed key is refused, loudly, until TRUST accepts it. */
#ifndef SISP_CLIENT_H
#define SISP_CLIENT_H

#include <sisp/buf.h>
#include <sisp/conn.h>
#include <sisp/crypto.h>
#include <sisp/home.h>
#include <sisp/names.h>
#include <sisp/tlsclient.h>

#include <stdint.h>
#include <stdio.h>

#define SISP_CLIENT_SOFTWARE "sisp 0.1"
#define SISP_ADMIT_QUEUE 64

typedef struct {
    char group[SISP_GROUPNAME_MAX + 1];
    char user[SISP_USERNAME_MAX + 1];
} sisp_admit_t;

typedef struct {
    char user[SISP_USERNAME_MAX + 1];
    uint8_t ed[SISP_KEY_SIZE];
    uint8_t x[SISP_KEY_SIZE];
} sisp_known_t;

typedef struct {
    sisp_home_t home;
    char host[256];
    char port[16];
    char want_fp[72];    /* --fingerprint: "SHA256:<hex>", or "" */
    const char *ca_file; /* --ca: a CA certificate (DER) to pin, or NULL */
    int timeout_ms;
    FILE *out;        /* results */
    FILE *msg;        /* messages and warnings */
    int progress;     /* draw progress bars on msg */
    int print_events; /* print NEW_IMAGE lines for NOTIFY (WATCH, the shell) */
    /* hooks for the shell: called around anything printed while a prompt may be showing */
    void (*before_print)(void *arg);
    void (*after_print)(void *arg);
    void *print_arg;

    /* loaded state */
    sisp_buf_t ca; /* the pinned CA certificate, DER */
    int have_identity;
    char user[SISP_USERNAME_MAX + 1];
    sisp_ident_key_t id;
    sisp_x25519_key_t x;
    sisp_buf_t cert;

    /* the connection */
    sisp_tlsc_t *tls;
    sisp_conn_t *conn;

    /* work queued by pushes, done between commands */
    sisp_admit_t admit[SISP_ADMIT_QUEUE];
    int n_admit;
    uint64_t seen_seq;      /* highest seq printed or listed */
    int seq_dirty;          /* seen_seq is ahead of the home's state file */
    int catch_up;           /* WATCH, the shell: on a new connection, NOTIFYs wait for the
                               catch-up (sisp_client_catch_up), so events print once, in order */
    int caught_up;          /* this connection has caught up */
    uint64_t held_seq;      /* the highest NOTIFY held back while catching up */
    sisp_known_t known[32]; /* users verified during this run */
    int n_known;

    char why[512];
} sisp_client_t;

/* Sets defaults (stdout/stderr, 30 s timeout). */
void sisp_client_init(sisp_client_t *c);
/* Closes the connection and wipes keys. */
void sisp_client_free(sisp_client_t *c);
/* Opens (creating if needed) the home, reads the server address (`server` overrides the one
 * saved; SISP_SERVER too) and the identity if there is one. */
int sisp_client_setup(sisp_client_t *c, const char *home, const char *server);

/* Connects (pinning the CA on first contact) and says HELLO, with the identity when there is
 * one. Then admits pending members and makes `all`'s first key if that is ours to do. */
int sisp_client_connect(sisp_client_t *c);
void sisp_client_disconnect(sisp_client_t *c);
/* Does the admissions MEMBER_PENDING pushes queued. */
int sisp_client_process(sisp_client_t *c);

/* The commands. */
int sisp_cmd_register(sisp_client_t *c, const char *user, const char *invite);
int sisp_cmd_whoami(sisp_client_t *c);
int sisp_cmd_post(sisp_client_t *c, const char *name, const char *path, const char *group);
/* out_path NULL: ./<name>, refused if it exists. info: also write out_path.info (sisp-view's
 * sidecar). */
int sisp_cmd_download(sisp_client_t *c, const char *name, const char *group, const char *out_path,
                      int overwrite, int info);
int sisp_cmd_display(sisp_client_t *c, const char *name, const char *group);
int sisp_cmd_list(sisp_client_t *c, const char *group, uint64_t since);
/* Deletes one's own image from the server (group NULL: all). */
int sisp_cmd_delete(sisp_client_t *c, const char *name, const char *group);
int sisp_cmd_group_create(sisp_client_t *c, const char *group);
int sisp_cmd_group_add(sisp_client_t *c, const char *group, const char *user);
int sisp_cmd_group_remove(sisp_client_t *c, const char *group, const char *user);
int sisp_cmd_group_list(sisp_client_t *c, const char *group);
int sisp_cmd_fingerprint(sisp_client_t *c, const char *user);
/* want_fp ("SHA256:<hex>", may be NULL): accept the server's key for user only if it is
 * this one. */
int sisp_cmd_trust(sisp_client_t *c, const char *user, const char *want_fp);
/* Lists what happened since the last event seen and prints it as NEW_IMAGE lines. */
int sisp_client_catch_up(sisp_client_t *c);

/* Formats c->why. Returns rc. */
int sisp_client_fail(sisp_client_t *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints a message line on c->msg (through the shell's hooks). */
void sisp_client_say(sisp_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
