#include "vectors.h"

#include <string.h>

#define S(lit) sisp_slice(lit, sizeof(lit) - 1) /* a string literal */
#define B(arr) sisp_slice(arr, sizeof(arr))     /* a byte array */

/* Stand-ins for DER certificates, keys and signatures: the codec carries them as opaque
 * bytes, so short recognisable patterns keep the vectors readable. */
static const uint8_t x25519_pub[32] = {
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
    0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
static const uint8_t fp32[32] = {0x3b, 0x6a, 0x27, 0xbc, 0xce, 0xb6, 0xa4, 0x2d, 0x62, 0xa3, 0xa8,
                                 0xd0, 0x2a, 0x6f, 0x0d, 0x73, 0x65, 0x32, 0x15, 0x77, 0x1d, 0xe2,
                                 0x43, 0xa6, 0x3a, 0xc0, 0x48, 0xa1, 0x8b, 0x59, 0xda, 0x29};
static const uint8_t csr[] = {0x30, 0x81, 0x8a, 0x30, 0x3e, 0x02, 0x01, 0x00};
static const uint8_t cert_user[] = {0x30, 0x82, 0x01, 0x2c, 0x30, 0x81, 0xdf, 0xa0};
static const uint8_t cert_ca[] = {0x30, 0x82, 0x01, 0x3a, 0x30, 0x81, 0xed, 0xa0};
static const uint8_t sig[] = {0x5e, 0x61, 0x6c, 0x5e, 0xd1, 0x6e, 0xa7, 0x75};
static const uint8_t manifest[] = {0x53, 0x49, 0x53, 0x50, 0x2d, 0x4d, 0x31, 0x00};
static const uint8_t wrapped[] = {0x77, 0x72, 0x61, 0x70, 0x70, 0x65, 0x64, 0x21};
static const uint8_t chunk[] = {0xc1, 0x9a, 0x3e, 0x44, 0x0f, 0xd2, 0x7b, 0x18};

static t_vector_t vectors[48];
static size_t n_vectors;

static sisp_packet_t *add(const char *id, const char *title, sisp_role_t rx, sisp_state_t state,
                          uint8_t type, uint32_t stream) {
    t_vector_t *v = &vectors[n_vectors++];
    memset(v, 0, sizeof *v);
    v->id = id;
    v->title = title;
    v->receiver = rx;
    v->state = state;
    v->pkt.type = type;
    v->pkt.stream = stream;
    return &v->pkt;
}

static void image_info(sisp_image_info_t *i, uint64_t id, const char *name, const char *owner) {
    i->id = id;
    i->seq = id + 1000;
    i->name = sisp_slice_str(name);
    i->owner = sisp_slice_str(owner);
    i->group = S("all");
    i->size = 1048832;
    i->posted_at = 1795000000;
}

static void grant(sisp_grant_t *g, const char *user, uint32_t epoch, const char *granter) {
    g->user = sisp_slice_str(user);
    g->epoch = epoch;
    g->wrapped = B(wrapped);
    g->granter = sisp_slice_str(granter);
    g->signature = B(sig);
}

static void build(void) {
    const sisp_role_t SRV = SISP_ROLE_SERVER, CLI = SISP_ROLE_CLIENT;
    const sisp_state_t H = SISP_STATE_HELLO, U = SISP_STATE_UNAUTH, A = SISP_STATE_AUTH;
    sisp_packet_t *p;

    p = add("hello-client", "HELLO, client to server", SRV, H, SISP_T_HELLO, 0);
    p->u.hello.magic = S(SISP_MAGIC);
    p->u.hello.version = 1;
    p->u.hello.max_control = SISP_LIMIT_CONTROL;
    p->u.hello.max_data = SISP_LIMIT_DATA;
    p->u.hello.software = S("sisp 0.1");

    p = add("hello-server", "HELLO, server to client (authenticated as alice)", CLI, H,
            SISP_T_HELLO, 0);
    p->u.hello.magic = S(SISP_MAGIC);
    p->u.hello.version = 1;
    p->u.hello.max_control = SISP_LIMIT_CONTROL;
    p->u.hello.max_data = SISP_LIMIT_DATA;
    p->u.hello.caps = 1;
    p->u.hello.software = S("sispd 0.1");
    p->u.hello.user = S("alice");
    p->u.hello.registration = SISP_REG_INVITE;

    p = add("error", "ERROR (rate limited)", CLI, U, SISP_T_ERROR, 1);
    p->u.error.code = (uint32_t)-SISP_ERATELIMIT;
    p->u.error.message = S("too many registrations; retry later");
    p->u.error.retry_after_ms = 30000;
    p->u.error.ref_type = SISP_T_REGISTER;

    p = add("ok", "OK", CLI, A, SISP_T_OK, 9);
    p->u.ok.count = 2;

    p = add("ping", "PING", SRV, A, SISP_T_PING, 0);
    p->u.ping.token = 0x0123456789abcdefull;

    p = add("pong", "PONG", CLI, A, SISP_T_PONG, 0);
    p->u.pong.token = 0x0123456789abcdefull;

    p = add("bye", "BYE", SRV, A, SISP_T_BYE, 0);
    p->u.bye.message = S("client exit");

    p = add("cancel", "CANCEL", SRV, A, SISP_T_CANCEL, 3);
    p->u.cancel.code = (uint32_t)-SISP_ECANCELED;

    p = add("register", "REGISTER", SRV, U, SISP_T_REGISTER, 1);
    p->u.register_req.user = S("alice");
    p->u.register_req.csr = B(csr);
    p->u.register_req.x25519 = B(x25519_pub);
    p->u.register_req.x25519_sig = B(sig);
    p->u.register_req.invite = S("K7QF-2M9D-XW4P");

    p = add("registered", "REGISTERED", CLI, U, SISP_T_REGISTERED, 1);
    p->u.registered.user = S("alice");
    p->u.registered.chain[0] = B(cert_user);
    p->u.registered.chain[1] = B(cert_ca);
    p->u.registered.n_chain = 2;

    add("whoami", "WHOAMI", SRV, A, SISP_T_WHOAMI, 2);

    p = add("whoami-result", "WHOAMI_RESULT", CLI, A, SISP_T_WHOAMI_RESULT, 2);
    p->u.whoami_result.user = S("alice");
    p->u.whoami_result.cert_fp = B(fp32);
    p->u.whoami_result.registered_at = 1794000000;

    p = add("user-cert", "USER_CERT", SRV, A, SISP_T_USER_CERT, 4);
    p->u.user_cert.user = S("bob");

    p = add("user-cert-result", "USER_CERT_RESULT", CLI, A, SISP_T_USER_CERT_RESULT, 4);
    p->u.user_cert_result.user = S("bob");
    p->u.user_cert_result.cert = B(cert_user);
    p->u.user_cert_result.x25519 = B(x25519_pub);
    p->u.user_cert_result.x25519_sig = B(sig);

    p = add("post-begin", "POST_BEGIN", SRV, A, SISP_T_POST_BEGIN, 5);
    p->u.post_begin.name = S("beach-2026.jpg");
    p->u.post_begin.group = S("family");
    p->u.post_begin.size = 1048832;
    p->u.post_begin.manifest = B(manifest);
    p->u.post_begin.signature = B(sig);

    p = add("data", "DATA", SRV, A, SISP_T_DATA, 5);
    p->u.data.offset = 65536;
    p->u.data.data = B(chunk);

    p = add("post-end", "POST_END", SRV, A, SISP_T_POST_END, 5);
    p->u.post_end.size = 1048832;

    p = add("posted", "POSTED", CLI, A, SISP_T_POSTED, 5);
    p->u.posted.id = 42;
    p->u.posted.seq = 1042;
    p->u.posted.name = S("beach-2026.jpg");
    p->u.posted.group = S("family");
    p->u.posted.posted_at = 1795000000;

    p = add("download", "DOWNLOAD (by name)", SRV, A, SISP_T_DOWNLOAD, 7);
    p->u.download.name = S("beach-2026.jpg");
    p->u.download.group = S("family");

    p = add("download-resume", "DOWNLOAD (by id, resuming)", SRV, A, SISP_T_DOWNLOAD, 7);
    p->u.download.id = 42;
    p->u.download.offset = 524288;

    p = add("delete", "DELETE", SRV, A, SISP_T_DELETE, 11);
    p->u.delete.name = S("beach-2026.jpg");
    p->u.delete.group = S("family");

    p = add("image-begin", "IMAGE_BEGIN", CLI, A, SISP_T_IMAGE_BEGIN, 7);
    image_info(&p->u.image_begin.info, 42, "beach-2026.jpg", "alice");
    p->u.image_begin.info.group = S("family");
    p->u.image_begin.manifest = B(manifest);
    p->u.image_begin.signature = B(sig);

    p = add("data-download", "DATA, server to client", CLI, A, SISP_T_DATA, 7);
    p->u.data.offset = 0;
    p->u.data.data = B(chunk);

    p = add("image-end", "IMAGE_END", CLI, A, SISP_T_IMAGE_END, 7);
    p->u.image_end.size = 1048832;

    p = add("list", "LIST", SRV, A, SISP_T_LIST, 8);
    p->u.list.since = 1040;
    p->u.list.limit = 2;

    p = add("list-result", "LIST_RESULT (two entries, more to come)", CLI, A, SISP_T_LIST_RESULT,
            8);
    image_info(&p->u.list_result.entries[0], 41, "cat.png", "bob");
    image_info(&p->u.list_result.entries[1], 42, "beach-2026.jpg", "alice");
    p->u.list_result.n_entries = 2;
    p->u.list_result.next_since = 1042;
    p->u.list_result.more = 1;

    p = add("notify", "NOTIFY", CLI, A, SISP_T_NOTIFY, 0);
    image_info(&p->u.notify, 43, "sunset.png", "carol");

    p = add("group-create", "GROUP_CREATE", SRV, A, SISP_T_GROUP_CREATE, 10);
    p->u.group_create.group = S("family");
    grant(&p->u.group_create.grants[0], "alice", 1, "");
    p->u.group_create.n_grants = 1;

    p = add("group-add", "GROUP_ADD", SRV, A, SISP_T_GROUP_ADD, 11);
    p->u.group_add.group = S("family");
    p->u.group_add.user = S("bob");
    grant(&p->u.group_add.grants[0], "bob", 1, "");
    grant(&p->u.group_add.grants[1], "bob", 2, "");
    p->u.group_add.n_grants = 2;

    p = add("group-remove", "GROUP_REMOVE", SRV, A, SISP_T_GROUP_REMOVE, 12);
    p->u.group_remove.group = S("family");
    p->u.group_remove.user = S("bob");
    grant(&p->u.group_remove.grants[0], "alice", 3, "");
    p->u.group_remove.n_grants = 1;

    p = add("group-list", "GROUP_LIST (members of a group)", SRV, A, SISP_T_GROUP_LIST, 13);
    p->u.group_list.group = S("family");

    p = add("group-result", "GROUP_RESULT", CLI, A, SISP_T_GROUP_RESULT, 12);
    p->u.group_result.group = S("family");
    p->u.group_result.epoch = 3;
    p->u.group_result.members = 1;

    p = add("group-list-result", "GROUP_LIST_RESULT", CLI, A, SISP_T_GROUP_LIST_RESULT, 13);
    p->u.group_list_result.groups[0].group = S("family");
    p->u.group_list_result.groups[0].epoch = 3;
    p->u.group_list_result.groups[0].members = 2;
    p->u.group_list_result.groups[0].owner = S("alice");
    p->u.group_list_result.n_groups = 1;
    p->u.group_list_result.members[0] = S("alice");
    p->u.group_list_result.members[1] = S("carol");
    p->u.group_list_result.n_members = 2;
    p->u.group_list_result.pending[0] = S("carol");
    p->u.group_list_result.n_pending = 1;

    p = add("key-grant", "KEY_GRANT", SRV, A, SISP_T_KEY_GRANT, 14);
    p->u.key_grant.group = S("all");
    grant(&p->u.key_grant.grants[0], "dave", 1, "");
    p->u.key_grant.n_grants = 1;

    p = add("key-fetch", "KEY_FETCH", SRV, A, SISP_T_KEY_FETCH, 15);
    p->u.key_fetch.group = S("all");

    p = add("key-result", "KEY_RESULT", CLI, A, SISP_T_KEY_RESULT, 15);
    p->u.key_result.group = S("all");
    grant(&p->u.key_result.grants[0], "dave", 1, "alice");
    p->u.key_result.n_grants = 1;

    p = add("member-pending", "MEMBER_PENDING", CLI, A, SISP_T_MEMBER_PENDING, 0);
    p->u.member_pending.group = S("all");
    p->u.member_pending.user = S("dave");
}

size_t t_vector_count(void) {
    if (n_vectors == 0)
        build();
    return n_vectors;
}

const t_vector_t *t_vector(size_t i) {
    return i < t_vector_count() ? &vectors[i] : NULL;
}

/* ---- frames that must be refused ---- */

#define BAD(id_, title_, rx, st, err_, ...)                                                        \
    {                                                                                              \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        t_bad_vector_t *v_ = &bad[n_bad++];                                                        \
        v_->id = id_;                                                                              \
        v_->title = title_;                                                                        \
        v_->receiver = rx;                                                                         \
        v_->state = st;                                                                            \
        v_->bytes = b_;                                                                            \
        v_->len = sizeof b_;                                                                       \
        v_->err = err_;                                                                            \
    }

static t_bad_vector_t bad[16];
static size_t n_bad;

static void build_bad(void) {
    const sisp_role_t SRV = SISP_ROLE_SERVER;
    const sisp_state_t H = SISP_STATE_HELLO, U = SISP_STATE_UNAUTH, A = SISP_STATE_AUTH;
    BAD("bad-version", "version 2 header", SRV, A, SISP_EVERSION, 0, 0, 0, 0, 2, 0x04, 0, 0, 0, 0,
        0, 0);
    BAD("bad-flags", "reserved flag bit set", SRV, A, SISP_EFLAGS, 0, 0, 0, 0, 1, 0x04, 0, 1, 0, 0,
        0, 0);
    BAD("bad-type", "unknown frame type 0x7f", SRV, A, SISP_ETYPE, 0, 0, 0, 0, 1, 0x7f, 0, 0, 0, 0,
        0, 0);
    BAD("bad-state", "POST_BEGIN before authentication", SRV, U, SISP_ESTATE, 0, 0, 0, 0, 1, 0x20,
        0, 0, 0, 0, 0, 1);
    BAD("too-big-preauth", "HELLO declaring 16385 bytes before authentication", SRV, H,
        SISP_ETOOBIG, 0, 0, 0x40, 0x01, 1, 0x01, 0, 0, 0, 0, 0, 0);
    BAD("too-big-max", "PING declaring 2^32-1 bytes", SRV, A, SISP_ETOOBIG, 0xff, 0xff, 0xff, 0xff,
        1, 0x04, 0, 0, 0, 0, 0, 0);
    BAD("bad-stream", "HELLO on stream 1", SRV, H, SISP_ESTREAM, 0, 0, 0, 0, 1, 0x01, 0, 0, 0, 0, 0,
        1);
    BAD("missing-field", "HELLO without fields", SRV, H, SISP_EMISSING, 0, 0, 0, 0, 1, 0x01, 0, 0,
        0, 0, 0, 0);
    BAD("dup-field", "PING with its token twice", SRV, A, SISP_EDUPFIELD, 0, 0, 0, 28, 1, 0x04, 0,
        0, 0, 0, 0, 0, 0x01, 0x04, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x04, 0, 0, 0, 8, 0, 0,
        0, 0, 0, 0, 0, 2);
    BAD("unknown-critical", "PING with unknown critical field 9", SRV, A, SISP_EUNKNOWNFIELD, 0, 0,
        0, 7, 1, 0x04, 0, 0, 0, 0, 0, 0, 0x89, 0x01, 0, 0, 0, 1, 0);
    BAD("field-overrun", "PING whose field claims 8 bytes but has 2", SRV, A, SISP_EFIELD, 0, 0, 0,
        8, 1, 0x04, 0, 0, 0, 0, 0, 0, 0x01, 0x04, 0, 0, 0, 8, 0, 0);
    BAD("bad-username", "USER_CERT for \"Bob\"", SRV, A, SISP_EUSERNAME, 0, 0, 0, 9, 1, 0x14, 0, 0,
        0, 0, 0, 4, 0x81, 0x06, 0, 0, 0, 3, 'B', 'o', 'b');
}

size_t t_bad_vector_count(void) {
    if (n_bad == 0)
        build_bad();
    return n_bad;
}

const t_bad_vector_t *t_bad_vector(size_t i) {
    return i < t_bad_vector_count() ? &bad[i] : NULL;
}
