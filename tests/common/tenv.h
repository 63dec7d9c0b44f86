/* A synchronous environment for sessions (server/session.h), for tests/test_session.c and
 * fuzz/fuzz_session.c: a real store and a real CA in a temporary directory, jobs run on the
 * caller's thread, pushes recorded and delivered to the sessions attached to the environment,
 * a fixed clock and a counting rate limiter.
 *
 * Jobs: env->submit only appends the job to a FIFO; tenv_drain() (or tenv_step()) runs them
 * in order. A STORE job runs inside its own store batch (batch_begin, job_begin, run,
 * job_end(rc != 0), batch_commit), as worker.c runs a batch of one; a FILE job runs bare, as on
 * the thread pool. Then job->done(). A done() that starts the session's next job only queues
 * it, so nothing recurses: tenv_input() feeds the session and drains, like the event loop that
 * hands input to a session and later its completed jobs.
 *
 * A failed commit: with t->fail_commit_at = n, the n-th STORE job from now is undone after it
 * ran and reaches done() with rc SISP_ESTORE and commit_failed set, as when its batch's COMMIT
 * fails on the store thread (in a held batch: its savepoint is rolled back).
 *
 * Held batch (the fuzzer): between tenv_hold_begin() and tenv_hold_end() one batch stays open,
 * each STORE job is a savepoint in it, and tenv_hold_end() rolls the whole batch back (and
 * unlinks the blobs it renamed), so every fuzz input starts from the same store.
 *
 * Immediate mode (t->immediate = 1): submit runs the job and its done() at once, inside the
 * session's call, as worker.c does with a FILE job it cannot queue and conn.c once the store
 * thread is gone. Nested at most TENV_IMMEDIATE_DEPTH deep; deeper submissions are queued.
 *
 * Single-threaded. Nothing global: several environments may coexist. */
#ifndef SISP_TENV_H
#define SISP_TENV_H

#include "server.h"
#include "session.h"

#include <sisp/crypto.h>
#include <sisp/keys.h>
#include <sisp/packet.h>

#include <stddef.h>
#include <stdint.h>

#define TENV_NOW 1795000000 /* what env->now returns until a test changes tenv_t.now */
#define TENV_ATTACH_MAX 16  /* sessions that receive pushes */
#define TENV_IMMEDIATE_DEPTH 8

/* A frame the session handed to notify_group or notify_user. */
enum { TENV_PUSH_GROUP = 1, TENV_PUSH_USER = 2 };
typedef struct {
    int kind;
    char target[SISP_USERNAME_MAX + 1]; /* group or user name */
    uint8_t type;                       /* the frame's type */
    sisp_buf_t frame;                   /* owned: the whole frame */
} tenv_push_t;

typedef struct tenv {
    sisp_env_t env; /* hand &t->env to sisp_session_new (tenv_session does) */
    char dir[128];  /* the temporary data directory */
    sisp_store_t *store;
    sisp_ca_t *ca;
    int64_t now;             /* env->now */
    unsigned register_calls; /* env->register_allowed: allowed while <= cfg.register_per_min */
    unsigned wakes;          /* env->wake calls */
    unsigned fail_commit_at; /* the STORE job this many from now (1: the next) fails to commit */
    unsigned fail_begin_at;  /* the STORE job this many from now is never run, as when its
                                batch cannot begin (SQLITE_BUSY, a full disk) */
    int hold;                /* a held batch is open */
    int immediate;           /* immediate mode (above) */
    int depth;               /* immediate runs nested now */
    uint64_t jobs_run;
    sisp_job_t *head, *tail; /* the FIFO */
    tenv_push_t *pushes;     /* recorded, oldest first */
    size_t n_pushes, cap_pushes;
    sisp_session_t *attached[TENV_ATTACH_MAX];
    size_t n_attached;
} tenv_t;

/* Makes a temporary directory under tmpdir (NULL: $TMPDIR, else /tmp), opens the store and
 * the CA in it, and sets cfg to the defaults. 0 or an error (said on stderr). */
int tenv_open(tenv_t *t, const char *tmpdir);
/* Drains, frees the recorded pushes, closes the store and the CA, removes the directory.
 * Attached sessions must have been freed (tenv_session_free). */
void tenv_close(tenv_t *t);

/* Runs queued jobs (and those they queue) until none is left. */
void tenv_drain(tenv_t *t);
/* Runs at most max queued jobs; returns how many ran. */
size_t tenv_step(tenv_t *t, size_t max);
size_t tenv_queued(const tenv_t *t);

/* Opens a batch that every STORE job then runs in (as a savepoint); SISP_EINVAL if held. */
int tenv_hold_begin(tenv_t *t);
/* Drains, then rolls the held batch back. */
void tenv_hold_end(tenv_t *t);

/* ---- users ---- */

typedef struct {
    char name[SISP_USERNAME_MAX + 1];
    sisp_ident_key_t id;
    sisp_x25519_key_t x; /* private key = SHA-256 of the identity seed */
    uint8_t x_sig[SISP_SIG_SIZE];
    uint8_t cert[SISP_CERT_MAX];
    size_t cert_len;
    sisp_cert_info_t info; /* parsed from cert: what the TLS layer gives the session */
    uint8_t fp[SISP_SHA256_SIZE];
} tenv_user_t;

/* Keys (and the X25519 key's signature) from a fixed identity seed; no certificate. */
int tenv_keys(const char *name, const uint8_t seed[SISP_KEY_SIZE], tenv_user_t *u);
/* tenv_keys, then a certificate from the environment's CA with the store's next serial, and
 * the user in the store (registered_at = t->now). */
int tenv_user_add(tenv_t *t, const char *name, const uint8_t seed[SISP_KEY_SIZE], tenv_user_t *u);
/* Appends a REGISTER frame for u's keys (a CSR for u->id, u->x, u->x_sig). */
int tenv_register_encode(const tenv_user_t *u, const char *invite, uint32_t stream,
                         sisp_buf_t *out);

/* ---- sessions ---- */

/* A session for u's certificate (NULL: a connection without one), attached to the
 * environment so that pushes reach it. addr NULL: "127.0.0.1". */
sisp_session_t *tenv_session(tenv_t *t, const tenv_user_t *u, const char *addr);
/* The same for any certificate info (one the store may not know) and fingerprint. */
sisp_session_t *tenv_session_cert(tenv_t *t, const sisp_cert_info_t *info,
                                  const uint8_t fp[SISP_SHA256_SIZE], const char *addr);
/* Detaches and frees (sisp_session_free: deferred while a job of it is queued). */
void tenv_session_free(tenv_t *t, sisp_session_t *s);
/* sisp_session_input, then tenv_drain. */
void tenv_input(tenv_t *t, sisp_session_t *s, const void *p, size_t n);
/* Encodes one frame from a packet struct and feeds it (tenv_input). Returns the encoder's rc. */
int tenv_send(tenv_t *t, sisp_session_t *s, uint8_t type, uint32_t stream, const void *pkt);
/* The HELLO a client sends; with the largest DATA payload it takes given. */
int tenv_hello_encode(sisp_buf_t *out);
int tenv_hello_encode_max(sisp_buf_t *out, uint32_t max_data);
int tenv_hello_encode_limits(sisp_buf_t *out, uint32_t max_control, uint32_t max_data);

/* The first recorded push of that kind, target and frame type at or after index *from
 * (NULL: 0); *from is set past it. NULL if none. */
const tenv_push_t *tenv_push_find(const tenv_t *t, int kind, const char *target, uint8_t type,
                                  size_t *from);
void tenv_pushes_clear(tenv_t *t);

/* ---- the client's side ---- */

/* What a client makes of a session's output: a client-role decoder that follows the client's
 * states (HELLO until the server's HELLO, then AUTH with a certificate or UNAUTH), with
 * SISP_LIMIT_ABSOLUTE limits. */
typedef struct {
    sisp_decoder_t dec;
    sisp_state_t after_hello;
    sisp_buf_t in;  /* received, not yet returned */
    sisp_buf_t cur; /* the bytes of the frame last returned */
    sisp_packet_t *pkt;
    uint64_t received; /* bytes taken from the session */
    size_t frames;
    int saw_hello, saw_bye;
    size_t after_bye;     /* frames that followed a BYE */
    sisp_limits_t limits; /* what its HELLO announced; zero: the absolute limits */
} tenv_peer_t;

int tenv_peer_init(tenv_peer_t *p, int authenticated);
void tenv_peer_free(tenv_peer_t *p);
/* Moves the session's output into the peer: takes it all, sisp_buf_consume, then
 * sisp_session_drained and tenv_drain, repeatedly while that produces more (a download). */
void tenv_peer_take(tenv_peer_t *p, tenv_t *t, sisp_session_t *s);
/* Takes what the output holds now, once, without draining. */
void tenv_peer_take_once(tenv_peer_t *p, sisp_session_t *s);
/* The next frame: 0 and *pkt (valid until the next call), SISP_NEED_MORE when none is
 * complete, or the decoder's or the packet codec's error (the decoder's is sticky). */
int tenv_peer_next(tenv_peer_t *p, const sisp_packet_t **pkt);

/* ---- sealed images and grants with fixed randomness ---- */

/* Seals plain for (owner, name, group, epoch) under epoch_key with fixed content key and
 * nonces (varied by variant), chunk_size plaintext bytes a chunk, and signs the manifest
 * with signer. Appends the ciphertext to cipher and the manifest to manifest. */
int tenv_seal(const sisp_ident_key_t *signer, const char *owner, const char *name,
              const char *group, uint32_t epoch, const uint8_t epoch_key[SISP_KEY_SIZE],
              const uint8_t *plain, size_t len, uint32_t chunk_size, unsigned variant,
              sisp_buf_t *cipher, sisp_buf_t *manifest, uint8_t sig[SISP_SIG_SIZE]);

/* A grant's bytes, for sisp_grant_t's slices. */
typedef struct {
    uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE];
    uint8_t sig[SISP_SIG_SIZE];
} tenv_grant_bytes_t;

/* epoch_key wrapped to recipient's X25519 key (fixed ephemeral key) and signed by granter;
 * g's slices point into gb and at recipient. */
int tenv_grant(const sisp_ident_key_t *granter, const char *recipient,
               const uint8_t recipient_x[SISP_KEY_SIZE], const char *group, uint32_t epoch,
               const uint8_t epoch_key[SISP_KEY_SIZE], tenv_grant_bytes_t *gb, sisp_grant_t *g);

/* ---- the session fuzzer's world (fuzz/fuzz_session.c and its seeds) ----
 *
 * alice (t_alice_seed) and bob are members with keys of `all` (alice's, epoch 1); bob owns
 * `family` (epoch 1), which alice is not in, `club` (no key yet, epoch 0) and `crew` (epoch
 * 1), where alice is pending; eve is registered and revoked; carol has keys but
 * is not registered (the REGISTER seeds are hers); ghost has a certificate-shaped identity
 * the store has never heard of. seed.png (alice's, in `all`, two 4096-byte chunks) and
 * bob.png (bob's, in `family`) are stored. up.png is a sealed image of alice's for `all` that
 * an upload in progress (stream TENV_WORLD_UP_STREAM) is posting. */
#define TENV_WORLD_UP_STREAM 1
#define TENV_WORLD_INVITE "K7QF-2M9D-XW4P"
extern const uint8_t tenv_bob_seed[SISP_KEY_SIZE];
extern const uint8_t tenv_carol_seed[SISP_KEY_SIZE];
extern const uint8_t tenv_eve_seed[SISP_KEY_SIZE];

typedef struct {
    tenv_user_t alice, bob, carol, eve;
    sisp_cert_info_t ghost;            /* a user not in the store */
    sisp_cert_info_t alice_stale;      /* alice's name with another serial */
    uint64_t seed_id, bob_png_id;      /* image ids */
    sisp_buf_t seed_cipher;            /* seed.png's ciphertext */
    sisp_buf_t up_cipher, up_manifest; /* up.png */
    uint8_t up_sig[SISP_SIG_SIZE];
} tenv_world_t;

/* Makes the keys and images and puts the users, groups, grants, invite and images in t's
 * store, committed. Deterministic but for the CA and the certificates. */
int tenv_world_build(tenv_t *t, tenv_world_t *w);
void tenv_world_free(tenv_world_t *w);

/* Writes fuzz/corpus/session/ seeds under dir/session (sisp-protodoc --corpus). */
int tenv_session_seeds(const char *dir);

#endif
