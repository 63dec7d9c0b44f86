/* The SISP/1 packet catalog: a typed struct per frame type, and one schema-driven codec
 * that turns a frame payload into that struct and back.
 *
 * Payload encoding: a sequence of fields, each
 *
 *   offset size field
 *   0      1    key     bit 7: critical; bits 0-6: field id (1-127, per frame type)
 *   1      1    wtype   wire type (sisp_wtype_t)
 *   2      4    length  value length in bytes, big-endian
 *   6      len  value
 *
 * Integers are big-endian and exactly 1, 2, 4 or 8 bytes for U8/U16/U32/U64. TEXT is
 * UTF-8 without control characters. STRUCT holds a nested field sequence. A field the
 * receiver does not know is skipped unless its critical bit is set (SISP_EUNKNOWNFIELD).
 * A known field that is not declared repeated may appear once (SISP_EDUPFIELD); every
 * required field must be present (SISP_EMISSING). The encoder writes fields in id order,
 * sets the critical bit on required fields, and omits optional fields that are zero or
 * empty; a decoder treats an absent optional field as zero or empty.
 *
 * Decoded slices borrow from the frame's payload, which borrows from the caller's read
 * buffer: a decoded packet is valid until that buffer is consumed or changed. */
#ifndef SISP_PACKET_H
#define SISP_PACKET_H

#include <sisp/buf.h>
#include <sisp/frame.h>

#include <stdint.h>

#define SISP_MAGIC "SISP"
#define SISP_MAGIC_LEN 4

/* Capacities of repeated fields (a decoder refuses more with SISP_ETOOMANY). */
#define SISP_CHAIN_MAX 4       /* certificates in a chain */
#define SISP_LIST_PAGE_MAX 64  /* images per LIST_RESULT */
#define SISP_GRANTS_MAX 256    /* key grants per frame */
#define SISP_GROUPS_MAX 128    /* groups per GROUP_LIST_RESULT */
#define SISP_MEMBERS_MAX 256   /* members per GROUP_LIST_RESULT */
#define SISP_CERT_MAX 8192     /* DER certificate or CSR */
#define SISP_SIG_MAX 512       /* a signature */
#define SISP_MANIFEST_MAX 8192 /* a sealed-image manifest */
#define SISP_WRAPPED_MAX 256   /* a wrapped epoch key */
#define SISP_TEXT_MAX 512      /* human-readable messages */

/* HELLO registration modes (server to client). */
#define SISP_REG_CLOSED 0
#define SISP_REG_OPEN 1
#define SISP_REG_INVITE 2

/* Stream rules: which stream ids a frame type may carry. */
#define SISP_STREAM_ZERO 0    /* connection-level or push */
#define SISP_STREAM_NONZERO 1 /* belongs to a request */
#define SISP_STREAM_ANY 2

/* Session-state masks for the catalog below. */
#define SISP__H (1u << SISP_STATE_HELLO)
#define SISP__U (1u << SISP_STATE_UNAUTH)
#define SISP__A (1u << SISP_STATE_AUTH)
#define SISP__UA (SISP__U | SISP__A)
#define SISP__HUA (SISP__H | SISP__U | SISP__A)

/* XX(code, NAME, name, server_rx_states, client_rx_states, stream_rule)
 * server_rx_states: states in which a server accepts this type from a client;
 * client_rx_states: states in which a client accepts it from a server. 0 = never. */
#define SISP_PACKET_MAP(XX)                                                                        \
    XX(0x01, HELLO, hello, SISP__H, SISP__H, SISP_STREAM_ZERO)                                     \
    XX(0x02, ERROR, error, SISP__UA, SISP__HUA, SISP_STREAM_ANY)                                   \
    XX(0x03, OK, ok, 0, SISP__A, SISP_STREAM_NONZERO)                                              \
    XX(0x04, PING, ping, SISP__UA, SISP__UA, SISP_STREAM_ANY)                                      \
    XX(0x05, PONG, pong, SISP__UA, SISP__UA, SISP_STREAM_ANY)                                      \
    XX(0x06, BYE, bye, SISP__HUA, SISP__HUA, SISP_STREAM_ZERO)                                     \
    XX(0x07, CANCEL, cancel, SISP__A, SISP__A, SISP_STREAM_NONZERO)                                \
    XX(0x10, REGISTER, register_req, SISP__U, 0, SISP_STREAM_NONZERO)                              \
    XX(0x11, REGISTERED, registered, 0, SISP__U, SISP_STREAM_NONZERO)                              \
    XX(0x12, WHOAMI, whoami, SISP__A, 0, SISP_STREAM_NONZERO)                                      \
    XX(0x13, WHOAMI_RESULT, whoami_result, 0, SISP__A, SISP_STREAM_NONZERO)                        \
    XX(0x14, USER_CERT, user_cert, SISP__A, 0, SISP_STREAM_NONZERO)                                \
    XX(0x15, USER_CERT_RESULT, user_cert_result, 0, SISP__A, SISP_STREAM_NONZERO)                  \
    XX(0x20, POST_BEGIN, post_begin, SISP__A, 0, SISP_STREAM_NONZERO)                              \
    XX(0x21, DATA, data, SISP__A, SISP__A, SISP_STREAM_NONZERO)                                    \
    XX(0x22, POST_END, post_end, SISP__A, 0, SISP_STREAM_NONZERO)                                  \
    XX(0x23, POSTED, posted, 0, SISP__A, SISP_STREAM_NONZERO)                                      \
    XX(0x24, DOWNLOAD, download, SISP__A, 0, SISP_STREAM_NONZERO)                                  \
    XX(0x25, IMAGE_BEGIN, image_begin, 0, SISP__A, SISP_STREAM_NONZERO)                            \
    XX(0x26, IMAGE_END, image_end, 0, SISP__A, SISP_STREAM_NONZERO)                                \
    XX(0x27, LIST, list, SISP__A, 0, SISP_STREAM_NONZERO)                                          \
    XX(0x28, LIST_RESULT, list_result, 0, SISP__A, SISP_STREAM_NONZERO)                            \
    XX(0x29, NOTIFY, notify, 0, SISP__A, SISP_STREAM_ZERO)                                         \
    XX(0x2A, DELETE, delete, SISP__A, 0, SISP_STREAM_NONZERO)                                      \
    XX(0x30, GROUP_CREATE, group_create, SISP__A, 0, SISP_STREAM_NONZERO)                          \
    XX(0x31, GROUP_ADD, group_add, SISP__A, 0, SISP_STREAM_NONZERO)                                \
    XX(0x32, GROUP_REMOVE, group_remove, SISP__A, 0, SISP_STREAM_NONZERO)                          \
    XX(0x33, GROUP_LIST, group_list, SISP__A, 0, SISP_STREAM_NONZERO)                              \
    XX(0x34, GROUP_RESULT, group_result, 0, SISP__A, SISP_STREAM_NONZERO)                          \
    XX(0x35, GROUP_LIST_RESULT, group_list_result, 0, SISP__A, SISP_STREAM_NONZERO)                \
    XX(0x36, KEY_GRANT, key_grant, SISP__A, 0, SISP_STREAM_NONZERO)                                \
    XX(0x37, KEY_FETCH, key_fetch, SISP__A, 0, SISP_STREAM_NONZERO)                                \
    XX(0x38, KEY_RESULT, key_result, 0, SISP__A, SISP_STREAM_ANY)                                  \
    XX(0x39, MEMBER_PENDING, member_pending, 0, SISP__A, SISP_STREAM_ZERO)

typedef enum {
#define SISP__T_ENUM(code, NAME, name, srx, crx, stream) SISP_T_##NAME = code,
    SISP_PACKET_MAP(SISP__T_ENUM)
#undef SISP__T_ENUM
} sisp_type_t;

/* ---- packet structs (field ids in comments; R = required) ---- */

typedef struct {
    sisp_slice_t magic;    /* 1 R  BYTES "SISP" */
    uint16_t version;      /* 2 R  highest protocol version spoken (>= 1) */
    uint32_t max_control;  /* 3 R  largest control payload this side accepts */
    uint32_t max_data;     /* 4 R  largest DATA payload this side accepts */
    uint64_t caps;         /* 5    capability bits (SISP_CAP_*) */
    sisp_slice_t software; /* 6    TEXT, e.g. "sispd 0.1" */
    sisp_slice_t user;     /* 7    server to client: the authenticated user name */
    uint8_t registration;  /* 8    server to client: SISP_REG_* */
} sisp_hello_t;

typedef struct {
    uint32_t code;           /* 1 R  positive SISP error number (-SISP_E*) */
    sisp_slice_t message;    /* 2    TEXT */
    uint32_t retry_after_ms; /* 3 */
    uint8_t ref_type;        /* 4    the frame type being refused */
} sisp_error_t;

typedef struct {
    uint32_t count; /* 1    how many items the request affected */
} sisp_ok_t;

typedef struct {
    uint64_t token; /* 1    echoed in PONG */
} sisp_ping_t;
typedef sisp_ping_t sisp_pong_t;

typedef struct {
    uint32_t code;        /* 1    0 = normal close, else a SISP error number */
    sisp_slice_t message; /* 2    TEXT */
} sisp_bye_t;

typedef struct {
    uint32_t code; /* 1    why the stream is abandoned */
} sisp_cancel_t;

typedef struct {
    sisp_slice_t user;       /* 1 R  user name */
    sisp_slice_t csr;        /* 2 R  DER PKCS#10 request for the identity key */
    sisp_slice_t x25519;     /* 3 R  32-byte X25519 public key */
    sisp_slice_t x25519_sig; /* 4 R  identity-key signature over the X25519 key */
    sisp_slice_t invite;     /* 5    invite code */
} sisp_register_req_t;

typedef struct {
    sisp_slice_t user;                  /* 1 R */
    sisp_slice_t chain[SISP_CHAIN_MAX]; /* 2 R  repeated DER certs: the user's, then the CA */
    uint32_t n_chain;
} sisp_registered_t;

typedef struct {
    uint8_t unused_; /* no fields */
} sisp_whoami_t;

typedef struct {
    sisp_slice_t user;      /* 1 R */
    sisp_slice_t cert_fp;   /* 2 R  SHA-256 of the user's certificate (32 bytes) */
    uint64_t registered_at; /* 3    unix seconds */
} sisp_whoami_result_t;

typedef struct {
    sisp_slice_t user; /* 1 R */
} sisp_user_cert_t;

typedef struct {
    sisp_slice_t user;       /* 1 R */
    sisp_slice_t cert;       /* 2 R  DER certificate */
    sisp_slice_t x25519;     /* 3 R  32 bytes */
    sisp_slice_t x25519_sig; /* 4 R */
    uint8_t revoked;         /* 5    0 or 1 */
} sisp_user_cert_result_t;

typedef struct {
    sisp_slice_t name;      /* 1 R  image name */
    sisp_slice_t group;     /* 2 R  group name */
    uint64_t size;          /* 3 R  ciphertext bytes that DATA frames will carry */
    sisp_slice_t manifest;  /* 4 R  signed manifest (sealed-image format) */
    sisp_slice_t signature; /* 5 R  owner's signature over the manifest */
} sisp_post_begin_t;

typedef struct {
    uint64_t offset;   /* 1 R  byte offset of data within the stream */
    sisp_slice_t data; /* 2 R  1 .. SISP_CHUNK_MAX bytes */
} sisp_data_t;

typedef struct {
    uint64_t size; /* 1 R  total bytes sent in DATA frames */
} sisp_post_end_t;

typedef struct {
    uint64_t id;        /* 1 R  server-assigned image id */
    uint64_t seq;       /* 2 R  per-server sequence number of the post */
    sisp_slice_t name;  /* 3 R */
    sisp_slice_t group; /* 4 R */
    uint64_t posted_at; /* 5 R  unix seconds */
} sisp_posted_t;

typedef struct {
    sisp_slice_t name;  /* 1    image name (name or id required) */
    uint64_t id;        /* 2    image id */
    sisp_slice_t group; /* 3    narrows a name lookup */
    uint64_t offset;    /* 4    resume from this ciphertext offset */
} sisp_download_t;

typedef struct {
    sisp_slice_t name;  /* 1 R  image name */
    sisp_slice_t group; /* 2 R  its group */
} sisp_delete_t;

/* An image as listed, notified or announced: the metadata the server may know. */
typedef struct {
    uint64_t id;        /* 1 R */
    uint64_t seq;       /* 2 R */
    sisp_slice_t name;  /* 3 R */
    sisp_slice_t owner; /* 4 R  user name */
    sisp_slice_t group; /* 5 R */
    uint64_t size;      /* 6 R  ciphertext bytes */
    uint64_t posted_at; /* 7 R */
} sisp_image_info_t;

typedef sisp_image_info_t sisp_notify_t;

typedef struct {
    sisp_image_info_t info; /* fields 1-7 as in sisp_image_info_t */
    sisp_slice_t manifest;  /* 8 R */
    sisp_slice_t signature; /* 9 R */
    uint64_t offset;        /* 10   first DATA offset (resumed download) */
} sisp_image_begin_t;

typedef struct {
    uint64_t size; /* 1 R  total ciphertext bytes */
} sisp_image_end_t;

typedef struct {
    uint64_t since;     /* 1    only images with seq > since */
    sisp_slice_t group; /* 2    only this group */
    uint32_t limit;     /* 3    page size, 0 = SISP_LIST_PAGE_MAX, at most SISP_LIST_PAGE_MAX */
} sisp_list_t;

typedef struct {
    sisp_image_info_t entries[SISP_LIST_PAGE_MAX]; /* 1    repeated STRUCT */
    uint32_t n_entries;
    uint64_t next_since; /* 2 R  pass as `since` for the next page */
    uint8_t more;        /* 3    1 if another page follows */
} sisp_list_result_t;

/* One wrapped group epoch key for one member, signed by the member who wrapped it. */
typedef struct {
    sisp_slice_t user;      /* 1 R  recipient */
    uint32_t epoch;         /* 2 R  >= 1 */
    sisp_slice_t wrapped;   /* 3 R  epoch key wrapped to the recipient's X25519 key */
    sisp_slice_t granter;   /* 4    who wrapped it (set by the server on KEY_RESULT) */
    sisp_slice_t signature; /* 5 R  granter's signature over the grant */
} sisp_grant_t;

typedef struct {
    sisp_slice_t group;                   /* 1 R */
    sisp_grant_t grants[SISP_GRANTS_MAX]; /* 2 R  repeated STRUCT: epoch 1 for the creator */
    uint32_t n_grants;
} sisp_group_create_t;

typedef struct {
    sisp_slice_t group;                   /* 1 R */
    sisp_slice_t user;                    /* 2 R */
    sisp_grant_t grants[SISP_GRANTS_MAX]; /* 3    repeated: current and past epochs */
    uint32_t n_grants;
} sisp_group_add_t;

typedef struct {
    sisp_slice_t group;                   /* 1 R */
    sisp_slice_t user;                    /* 2 R */
    sisp_grant_t grants[SISP_GRANTS_MAX]; /* 3    repeated: the new epoch for the others */
    uint32_t n_grants;
} sisp_group_remove_t;

typedef struct {
    sisp_slice_t group; /* 1    absent: my groups; present: that group's members */
    sisp_slice_t after; /* 2    with group: only members whose names sort after this one */
} sisp_group_list_t;

typedef struct {
    sisp_slice_t group; /* 1 R */
    uint32_t epoch;     /* 2 R  current epoch */
    uint32_t members;   /* 3 */
} sisp_group_result_t;

typedef struct {
    sisp_slice_t group; /* 1 R */
    uint32_t epoch;     /* 2 R */
    uint32_t members;   /* 3 */
    sisp_slice_t owner; /* 4    creator */
} sisp_group_info_t;

typedef struct {
    sisp_group_info_t groups[SISP_GROUPS_MAX]; /* 1    repeated STRUCT */
    uint32_t n_groups;
    sisp_slice_t members[SISP_MEMBERS_MAX]; /* 2    repeated user names */
    uint32_t n_members;
    sisp_slice_t
        pending[SISP_MEMBERS_MAX]; /* 3    repeated: the members among them awaiting keys */
    uint32_t n_pending;
    uint8_t more; /* 4    1: more members follow (ask again with after = the last one) */
} sisp_group_list_result_t;

typedef struct {
    sisp_slice_t group;                   /* 1 R */
    sisp_grant_t grants[SISP_GRANTS_MAX]; /* 2 R  repeated */
    uint32_t n_grants;
} sisp_key_grant_t;

typedef struct {
    sisp_slice_t group; /* 1 R */
    uint32_t epoch;     /* 2    0 = every epoch granted to me */
} sisp_key_fetch_t;

typedef struct {
    sisp_slice_t group;                   /* 1 R */
    sisp_grant_t grants[SISP_GRANTS_MAX]; /* 2    repeated, granter set */
    uint32_t n_grants;
} sisp_key_result_t;

typedef struct {
    sisp_slice_t group; /* 1 R */
    sisp_slice_t user;  /* 2 R  the member awaiting keys */
} sisp_member_pending_t;

/* Any packet, tagged by type. Large (the repeated-field capacities): keep one per
 * connection or on the heap rather than many on a small stack. */
typedef struct {
    uint8_t type;
    uint32_t stream;
    union {
#define SISP__U_MEMBER(code, NAME, name, srx, crx, stream) sisp_##name##_t name;
        SISP_PACKET_MAP(SISP__U_MEMBER)
#undef SISP__U_MEMBER
    } u;
} sisp_packet_t;

/* ---- catalog queries ---- */

/* 1 if type is in the catalog. */
int sisp_type_known(uint8_t type);
/* "HELLO", or NULL for an unknown type. */
const char *sisp_type_name(uint8_t type);
/* 1 if a receiver in this role and state accepts this type. */
int sisp_type_allowed(sisp_role_t receiver, sisp_state_t state, uint8_t type);
/* SISP_STREAM_* for a known type. */
int sisp_type_stream_rule(uint8_t type);

/* ---- codec ---- */

/* Decodes a frame (from sisp_frame_decode) into pkt: checks the stream rule, every field
 * and every name; pkt->type and pkt->stream are set. Returns 0 or a specific error. */
int sisp_packet_decode(const sisp_frame_t *frame, sisp_packet_t *pkt);

/* Decodes a frame that must be of `type` into that type's struct (e.g. sisp_hello_t). */
int sisp_payload_decode(uint8_t type, const sisp_frame_t *frame, void *out);

/* Validates and appends one whole frame of `type` built from that type's struct. On
 * error nothing is appended. */
SISP_MUST_CHECK int sisp_payload_encode(sisp_buf_t *out, uint8_t type, uint32_t stream,
                                        const void *in);

SISP_MUST_CHECK int sisp_packet_encode(sisp_buf_t *out, const sisp_packet_t *pkt);

/* A DATA frame built around payload already in place, so a file can be read straight into the
 * output: sisp_data_room makes room for a frame of up to n data bytes and returns where they
 * go (NULL if it cannot); once len (1 .. n) bytes are there, sisp_data_put writes the headers
 * in front of them and appends the frame. The bytes are those sisp_data_encode writes. On
 * error nothing is appended. SISP_DATA_OVERHEAD: the frame header, the offset field, the data
 * field's header. */
#define SISP_DATA_OVERHEAD (SISP_HEADER_SIZE + 6u + 8u + 6u)
uint8_t *sisp_data_room(sisp_buf_t *out, size_t n);
SISP_MUST_CHECK int sisp_data_put(sisp_buf_t *out, uint32_t stream, uint64_t offset, size_t len);

/* 1 if two packets of one type carry the same field values (what the wire would carry). */
int sisp_packet_equal(uint8_t type, const void *a, const void *b);

/* Typed wrappers: sisp_hello_encode(out, stream, &hello), sisp_hello_decode(frame, &hello). */
#define SISP__TYPED(code, NAME, name, srx, crx, stream_rule)                                       \
    SISP_MUST_CHECK static inline int sisp_##name##_encode(sisp_buf_t *out, uint32_t stream,       \
                                                           const sisp_##name##_t *p) {             \
        return sisp_payload_encode(out, SISP_T_##NAME, stream, p);                                 \
    }                                                                                              \
    static inline int sisp_##name##_decode(const sisp_frame_t *f, sisp_##name##_t *p) {            \
        return sisp_payload_decode(SISP_T_##NAME, f, p);                                           \
    }
SISP_PACKET_MAP(SISP__TYPED)
#undef SISP__TYPED

#endif
