/* The packet catalog's schemas and the one codec that serves them all. */
#include <sisp/names.h>
#include <sisp/packet.h>
#include <sisp/schema.h>

#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(sisp_packet_t) < 65536, "schema offsets are 16-bit");

#include "schema_macros.h"

/* HELLO */
static const sisp_field_desc_t fields_hello[] = {
    BYTES(sisp_hello_t, 1, REQ, SISP_C_MAGIC, magic, 0, 0),
    U16(sisp_hello_t, 2, REQ, version, 1, 0),
    U32(sisp_hello_t, 3, REQ, max_control, 1024, SISP_LIMIT_ABSOLUTE),
    U32(sisp_hello_t, 4, REQ, max_data, 0, SISP_LIMIT_ABSOLUTE),
    U64(sisp_hello_t, 5, OPT, caps, 0, 0),
    TEXT(sisp_hello_t, 6, OPT, SISP_C_NONE, software, 0, 64),
    TEXT(sisp_hello_t, 7, OPT, NAME_USER, user, 0, 0),
    U8(sisp_hello_t, 8, OPT, registration, 0, SISP_REG_INVITE),
};
SCHEMA(hello, sisp_hello_t, NULL);

/* ERROR */
static const sisp_field_desc_t fields_error[] = {
    U32(sisp_error_t, 1, REQ, code, 1, 0xffff),
    TEXT(sisp_error_t, 2, OPT, SISP_C_NONE, message, 0, SISP_TEXT_MAX),
    U32(sisp_error_t, 3, OPT, retry_after_ms, 0, 0),
    U8(sisp_error_t, 4, OPT, ref_type, 0, 0),
};
SCHEMA(error, sisp_error_t, NULL);

static const sisp_field_desc_t fields_ok[] = {
    U32(sisp_ok_t, 1, OPT, count, 0, 0),
};
SCHEMA(ok, sisp_ok_t, NULL);

static const sisp_field_desc_t fields_ping[] = {
    U64(sisp_ping_t, 1, OPT, token, 0, 0),
};
SCHEMA(ping, sisp_ping_t, NULL);
#define schema_pong schema_ping

static const sisp_field_desc_t fields_bye[] = {
    U32(sisp_bye_t, 1, OPT, code, 0, 0xffff),
    TEXT(sisp_bye_t, 2, OPT, SISP_C_NONE, message, 0, SISP_TEXT_MAX),
};
SCHEMA(bye, sisp_bye_t, NULL);

static const sisp_field_desc_t fields_cancel[] = {
    U32(sisp_cancel_t, 1, OPT, code, 0, 0xffff),
};
SCHEMA(cancel, sisp_cancel_t, NULL);

/* Identity */
static const sisp_field_desc_t fields_register_req[] = {
    TEXT(sisp_register_req_t, 1, REQ, NAME_USER, user, 0, 0),
    BYTES(sisp_register_req_t, 2, REQ, SISP_C_NONE, csr, 1, SISP_CERT_MAX),
    BYTES(sisp_register_req_t, 3, REQ, SISP_C_NONE, x25519, 32, 32),
    BYTES(sisp_register_req_t, 4, REQ, SISP_C_NONE, x25519_sig, 1, SISP_SIG_MAX),
    TEXT(sisp_register_req_t, 5, OPT, SISP_C_INVITE, invite, 0, 0),
};
SCHEMA(register_req, sisp_register_req_t, NULL);

static const sisp_field_desc_t fields_registered[] = {
    TEXT(sisp_registered_t, 1, REQ, NAME_USER, user, 0, 0),
    REP(sisp_registered_t, 2, SISP_W_BYTES, REQ, SISP_C_NONE, chain, n_chain, 1, SISP_CERT_MAX,
        NULL),
};
SCHEMA(registered, sisp_registered_t, NULL);

static const sisp_field_desc_t fields_whoami[] = {{0}};
static const sisp_schema_t schema_whoami = {"whoami", fields_whoami, 0, sizeof(sisp_whoami_t),
                                            NULL};

static const sisp_field_desc_t fields_whoami_result[] = {
    TEXT(sisp_whoami_result_t, 1, REQ, NAME_USER, user, 0, 0),
    BYTES(sisp_whoami_result_t, 2, REQ, SISP_C_NONE, cert_fp, 32, 32),
    U64(sisp_whoami_result_t, 3, OPT, registered_at, 0, 0),
};
SCHEMA(whoami_result, sisp_whoami_result_t, NULL);

static const sisp_field_desc_t fields_user_cert[] = {
    TEXT(sisp_user_cert_t, 1, REQ, NAME_USER, user, 0, 0),
};
SCHEMA(user_cert, sisp_user_cert_t, NULL);

static const sisp_field_desc_t fields_user_cert_result[] = {
    TEXT(sisp_user_cert_result_t, 1, REQ, NAME_USER, user, 0, 0),
    BYTES(sisp_user_cert_result_t, 2, REQ, SISP_C_NONE, cert, 1, SISP_CERT_MAX),
    BYTES(sisp_user_cert_result_t, 3, REQ, SISP_C_NONE, x25519, 32, 32),
    BYTES(sisp_user_cert_result_t, 4, REQ, SISP_C_NONE, x25519_sig, 1, SISP_SIG_MAX),
    U8(sisp_user_cert_result_t, 5, OPT, revoked, 0, 1),
};
SCHEMA(user_cert_result, sisp_user_cert_result_t, NULL);

/* Images */
static const sisp_field_desc_t fields_post_begin[] = {
    TEXT(sisp_post_begin_t, 1, REQ, NAME_IMAGE, name, 0, 0),
    TEXT(sisp_post_begin_t, 2, REQ, NAME_GROUP, group, 0, 0),
    U64(sisp_post_begin_t, 3, REQ, size, 0, 0),
    BYTES(sisp_post_begin_t, 4, REQ, SISP_C_NONE, manifest, 1, SISP_MANIFEST_MAX),
    BYTES(sisp_post_begin_t, 5, REQ, SISP_C_NONE, signature, 1, SISP_SIG_MAX),
};
SCHEMA(post_begin, sisp_post_begin_t, NULL);

static const sisp_field_desc_t fields_data[] = {
    U64(sisp_data_t, 1, REQ, offset, 0, 0),
    BYTES(sisp_data_t, 2, REQ, SISP_C_NONE, data, 1, SISP_CHUNK_MAX),
};
SCHEMA(data, sisp_data_t, NULL);

static const sisp_field_desc_t fields_post_end[] = {
    U64(sisp_post_end_t, 1, REQ, size, 0, 0),
};
SCHEMA(post_end, sisp_post_end_t, NULL);

static const sisp_field_desc_t fields_posted[] = {
    U64(sisp_posted_t, 1, REQ, id, 1, 0),
    U64(sisp_posted_t, 2, REQ, seq, 1, 0),
    TEXT(sisp_posted_t, 3, REQ, NAME_IMAGE, name, 0, 0),
    TEXT(sisp_posted_t, 4, REQ, NAME_GROUP, group, 0, 0),
    U64(sisp_posted_t, 5, REQ, posted_at, 0, 0),
};
SCHEMA(posted, sisp_posted_t, NULL);

static int validate_download(const void *v) {
    const sisp_download_t *d = v;
    return (d->name.len == 0 && d->id == 0) ? SISP_EMISSING : 0;
}
static const sisp_field_desc_t fields_download[] = {
    TEXT(sisp_download_t, 1, OPT, NAME_IMAGE, name, 0, 0),
    U64(sisp_download_t, 2, OPT, id, 0, 0),
    TEXT(sisp_download_t, 3, OPT, NAME_GROUP, group, 0, 0),
    U64(sisp_download_t, 4, OPT, offset, 0, 0),
};
SCHEMA(download, sisp_download_t, validate_download);

static const sisp_field_desc_t fields_delete[] = {
    TEXT(sisp_delete_t, 1, REQ, NAME_IMAGE, name, 0, 0),
    TEXT(sisp_delete_t, 2, REQ, NAME_GROUP, group, 0, 0),
};
SCHEMA(delete, sisp_delete_t, NULL);

#define IMAGE_INFO_FIELDS(st, pre)                                                                 \
    U64(st, 1, REQ, pre id, 1, 0), U64(st, 2, REQ, pre seq, 1, 0),                                 \
        TEXT(st, 3, REQ, NAME_IMAGE, pre name, 0, 0),                                              \
        TEXT(st, 4, REQ, NAME_USER, pre owner, 0, 0),                                              \
        TEXT(st, 5, REQ, NAME_GROUP, pre group, 0, 0), U64(st, 6, REQ, pre size, 0, 0),            \
        U64(st, 7, REQ, pre posted_at, 0, 0)

static const sisp_field_desc_t fields_image_info[] = {IMAGE_INFO_FIELDS(sisp_image_info_t, )};
SCHEMA(image_info, sisp_image_info_t, NULL);
#define schema_notify schema_image_info

static const sisp_field_desc_t fields_image_begin[] = {
    IMAGE_INFO_FIELDS(sisp_image_begin_t, info.),
    BYTES(sisp_image_begin_t, 8, REQ, SISP_C_NONE, manifest, 1, SISP_MANIFEST_MAX),
    BYTES(sisp_image_begin_t, 9, REQ, SISP_C_NONE, signature, 1, SISP_SIG_MAX),
    U64(sisp_image_begin_t, 10, OPT, offset, 0, 0),
};
SCHEMA(image_begin, sisp_image_begin_t, NULL);

static const sisp_field_desc_t fields_image_end[] = {
    U64(sisp_image_end_t, 1, REQ, size, 0, 0),
};
SCHEMA(image_end, sisp_image_end_t, NULL);

static const sisp_field_desc_t fields_list[] = {
    U64(sisp_list_t, 1, OPT, since, 0, 0),
    TEXT(sisp_list_t, 2, OPT, NAME_GROUP, group, 0, 0),
    U32(sisp_list_t, 3, OPT, limit, 0, SISP_LIST_PAGE_MAX),
};
SCHEMA(list, sisp_list_t, NULL);

static const sisp_field_desc_t fields_list_result[] = {
    REP(sisp_list_result_t, 1, SISP_W_STRUCT, OPT, SISP_C_NONE, entries, n_entries, 0, 0,
        &schema_image_info),
    U64(sisp_list_result_t, 2, REQ, next_since, 0, 0),
    U8(sisp_list_result_t, 3, OPT, more, 0, 1),
};
SCHEMA(list_result, sisp_list_result_t, NULL);

/* Groups and keys */
static const sisp_field_desc_t fields_grant[] = {
    TEXT(sisp_grant_t, 1, REQ, NAME_USER, user, 0, 0),
    U32(sisp_grant_t, 2, REQ, epoch, 1, 0),
    BYTES(sisp_grant_t, 3, REQ, SISP_C_NONE, wrapped, 1, SISP_WRAPPED_MAX),
    TEXT(sisp_grant_t, 4, OPT, NAME_USER, granter, 0, 0),
    BYTES(sisp_grant_t, 5, REQ, SISP_C_NONE, signature, 1, SISP_SIG_MAX),
};
SCHEMA(grant, sisp_grant_t, NULL);

#define GRANTS(st, id, fl)                                                                         \
    REP(st, id, SISP_W_STRUCT, fl, SISP_C_NONE, grants, n_grants, 0, 0, &schema_grant)

static const sisp_field_desc_t fields_group_create[] = {
    TEXT(sisp_group_create_t, 1, REQ, NAME_GROUP, group, 0, 0),
    GRANTS(sisp_group_create_t, 2, REQ),
};
SCHEMA(group_create, sisp_group_create_t, NULL);

static const sisp_field_desc_t fields_group_add[] = {
    TEXT(sisp_group_add_t, 1, REQ, NAME_GROUP, group, 0, 0),
    TEXT(sisp_group_add_t, 2, REQ, NAME_USER, user, 0, 0),
    GRANTS(sisp_group_add_t, 3, OPT),
};
SCHEMA(group_add, sisp_group_add_t, NULL);

static const sisp_field_desc_t fields_group_remove[] = {
    TEXT(sisp_group_remove_t, 1, REQ, NAME_GROUP, group, 0, 0),
    TEXT(sisp_group_remove_t, 2, REQ, NAME_USER, user, 0, 0),
    GRANTS(sisp_group_remove_t, 3, OPT),
};
SCHEMA(group_remove, sisp_group_remove_t, NULL);

static int validate_group_list(const void *v) {
    const sisp_group_list_t *g = v;
    return (g->after.len > 0 && g->group.len == 0) ? SISP_EMISSING : 0;
}
static const sisp_field_desc_t fields_group_list[] = {
    TEXT(sisp_group_list_t, 1, OPT, NAME_GROUP, group, 0, 0),
    TEXT(sisp_group_list_t, 2, OPT, NAME_USER, after, 0, 0),
};
SCHEMA(group_list, sisp_group_list_t, validate_group_list);

static const sisp_field_desc_t fields_group_result[] = {
    TEXT(sisp_group_result_t, 1, REQ, NAME_GROUP, group, 0, 0),
    U32(sisp_group_result_t, 2, REQ, epoch, 1, 0),
    U32(sisp_group_result_t, 3, OPT, members, 0, 0),
};
SCHEMA(group_result, sisp_group_result_t, NULL);

static const sisp_field_desc_t fields_group_info[] = {
    TEXT(sisp_group_info_t, 1, REQ, NAME_GROUP, group, 0, 0),
    U32(sisp_group_info_t, 2, REQ, epoch, 1, 0),
    U32(sisp_group_info_t, 3, OPT, members, 0, 0),
    TEXT(sisp_group_info_t, 4, OPT, NAME_USER, owner, 0, 0),
};
SCHEMA(group_info, sisp_group_info_t, NULL);

static const sisp_field_desc_t fields_group_list_result[] = {
    REP(sisp_group_list_result_t, 1, SISP_W_STRUCT, OPT, SISP_C_NONE, groups, n_groups, 0, 0,
        &schema_group_info),
    REP(sisp_group_list_result_t, 2, SISP_W_TEXT, OPT, NAME_USER, members, n_members, 0, 0, NULL),
    REP(sisp_group_list_result_t, 3, SISP_W_TEXT, OPT, NAME_USER, pending, n_pending, 0, 0, NULL),
    U8(sisp_group_list_result_t, 4, OPT, more, 0, 1),
};
SCHEMA(group_list_result, sisp_group_list_result_t, NULL);

static const sisp_field_desc_t fields_key_grant[] = {
    TEXT(sisp_key_grant_t, 1, REQ, NAME_GROUP, group, 0, 0),
    GRANTS(sisp_key_grant_t, 2, REQ),
};
SCHEMA(key_grant, sisp_key_grant_t, NULL);

static const sisp_field_desc_t fields_key_fetch[] = {
    TEXT(sisp_key_fetch_t, 1, REQ, NAME_GROUP, group, 0, 0),
    U32(sisp_key_fetch_t, 2, OPT, epoch, 0, 0),
};
SCHEMA(key_fetch, sisp_key_fetch_t, NULL);

static const sisp_field_desc_t fields_key_result[] = {
    TEXT(sisp_key_result_t, 1, REQ, NAME_GROUP, group, 0, 0),
    GRANTS(sisp_key_result_t, 2, OPT),
};
SCHEMA(key_result, sisp_key_result_t, NULL);

static const sisp_field_desc_t fields_member_pending[] = {
    TEXT(sisp_member_pending_t, 1, REQ, NAME_GROUP, group, 0, 0),
    TEXT(sisp_member_pending_t, 2, REQ, NAME_USER, user, 0, 0),
};
SCHEMA(member_pending, sisp_member_pending_t, NULL);

/* ---- the catalog ---- */

typedef struct {
    const char *name;
    const sisp_schema_t *schema;
    uint8_t server_rx; /* state mask */
    uint8_t client_rx;
    uint8_t stream_rule;
} type_info_t;

static const type_info_t *type_info(uint8_t type) {
    switch (type) {
#define SISP__INFO(code, NAME, name, srx, crx, stream)                                             \
    case code: {                                                                                   \
        static const type_info_t info = {#NAME, &schema_##name, srx, crx, stream};                 \
        return &info;                                                                              \
    }
        SISP_PACKET_MAP(SISP__INFO)
#undef SISP__INFO
    default:
        return NULL;
    }
}

int sisp_type_known(uint8_t type) {
    return type_info(type) != NULL;
}

const char *sisp_type_name(uint8_t type) {
    const type_info_t *t = type_info(type);
    return t ? t->name : NULL;
}

int sisp_type_allowed(sisp_role_t receiver, sisp_state_t state, uint8_t type) {
    const type_info_t *t = type_info(type);
    if (t == NULL || state >= SISP_STATE_COUNT)
        return 0;
    unsigned mask = receiver == SISP_ROLE_SERVER ? t->server_rx : t->client_rx;
    return (mask >> state) & 1u;
}

int sisp_type_stream_rule(uint8_t type) {
    const type_info_t *t = type_info(type);
    return t ? t->stream_rule : SISP_STREAM_ANY;
}

const sisp_schema_t *sisp_schema_for(uint8_t type) {
    const type_info_t *t = type_info(type);
    return t ? t->schema : NULL;
}

/* ---- the codec ---- */

static unsigned int_width(uint8_t wtype) {
    switch (wtype) {
    case SISP_W_U8:
        return 1;
    case SISP_W_U16:
        return 2;
    case SISP_W_U32:
        return 4;
    case SISP_W_U64:
        return 8;
    default:
        return 0;
    }
}

static uint64_t load_int(const void *slot, unsigned width) {
    switch (width) {
    case 1:
        return *(const uint8_t *)slot;
    case 2:
        return *(const uint16_t *)slot;
    case 4:
        return *(const uint32_t *)slot;
    default:
        return *(const uint64_t *)slot;
    }
}

static void store_int(void *slot, unsigned width, uint64_t v) {
    switch (width) {
    case 1:
        *(uint8_t *)slot = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)slot = (uint16_t)v;
        break;
    case 4:
        *(uint32_t *)slot = (uint32_t)v;
        break;
    default:
        *(uint64_t *)slot = v;
        break;
    }
}

static int check_content(uint8_t check, sisp_slice_t s) {
    const char *c = (const char *)s.ptr;
    switch (check) {
    case SISP_C_USER:
        return sisp_check_username(c, s.len);
    case SISP_C_GROUP:
        return sisp_check_groupname(c, s.len);
    case SISP_C_IMAGE:
        return sisp_check_imagename(c, s.len);
    case SISP_C_INVITE:
        return sisp_check_invite(c, s.len);
    case SISP_C_MAGIC:
        return (s.len == SISP_MAGIC_LEN && memcmp(s.ptr, SISP_MAGIC, SISP_MAGIC_LEN) == 0)
                   ? 0
                   : SISP_EMAGIC;
    default:
        return 0;
    }
}

/* Checks one scalar (int, BYTES or TEXT) value in its slot. */
static int check_value(const sisp_field_desc_t *f, const void *slot) {
    unsigned w = int_width(f->wtype);
    if (w != 0) {
        uint64_t v = load_int(slot, w);
        if (v < f->min || (f->max != 0 && v > f->max))
            return SISP_EVALUE;
        return 0;
    }
    const sisp_slice_t *s = slot;
    if (s->len > 0 && s->ptr == NULL)
        return SISP_EINVAL;
    if (s->len < f->min || (f->max != 0 && s->len > f->max))
        return SISP_EFIELDLEN;
    if (f->wtype == SISP_W_TEXT) {
        int rc = sisp_check_text((const char *)s->ptr, s->len);
        if (rc != 0)
            return rc;
    }
    return check_content(f->check, *s);
}

static const sisp_field_desc_t *find_field(const sisp_schema_t *s, unsigned id, size_t *index) {
    for (size_t i = 0; i < s->n_fields; i++) {
        if (s->fields[i].id == id) {
            *index = i;
            return &s->fields[i];
        }
    }
    return NULL;
}

int sisp_fields_decode(const sisp_schema_t *s, const uint8_t *p, size_t len, void *value) {
    uint8_t *base = value;
    uint32_t seen = 0;
    sisp_reader_t r;

    memset(value, 0, s->size);
    sisp_reader_init(&r, sisp_slice(p, len));
    while (sisp_reader_left(&r) > 0) {
        sisp_slice_t hdr, val;
        if (!sisp_reader_take(&r, SISP_FIELD_HEADER_SIZE, &hdr))
            return SISP_EFIELD;
        uint8_t key = hdr.ptr[0], wtype = hdr.ptr[1];
        uint32_t flen = sisp_load32(hdr.ptr + 2);
        if (!sisp_reader_take(&r, flen, &val))
            return SISP_EFIELD;

        size_t idx = 0;
        const sisp_field_desc_t *f = find_field(s, key & SISP_FIELD_ID_MASK, &idx);
        if (f == NULL) {
            if (key & SISP_FIELD_CRITICAL)
                return SISP_EUNKNOWNFIELD;
            continue; /* unknown optional field: skip */
        }
        if (wtype != f->wtype)
            return SISP_EFIELDTYPE;
        uint32_t bit = 1u << idx;
        void *slot = base + f->offset;
        if (f->flags & SISP_F_REP) {
            uint32_t *count = (uint32_t *)(base + f->count_off);
            if (*count >= f->max_count)
                return SISP_ETOOMANY;
            slot = base + f->offset + (size_t)*count * f->elem_size;
            (*count)++;
        } else if (seen & bit) {
            return SISP_EDUPFIELD;
        }
        seen |= bit;

        unsigned w = int_width(wtype);
        int rc;
        if (w != 0) {
            if (flen != w)
                return SISP_EFIELDLEN;
            uint64_t v = w == 1   ? val.ptr[0]
                         : w == 2 ? sisp_load16(val.ptr)
                         : w == 4 ? sisp_load32(val.ptr)
                                  : sisp_load64(val.ptr);
            store_int(slot, w, v);
            rc = check_value(f, slot);
        } else if (wtype == SISP_W_STRUCT) {
            rc = sisp_fields_decode(f->sub, val.ptr, val.len, slot);
        } else {
            *(sisp_slice_t *)slot = val;
            rc = check_value(f, slot);
        }
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < s->n_fields; i++)
        if ((s->fields[i].flags & SISP_F_REQ) && !(seen & (1u << i)))
            return SISP_EMISSING;
    return s->validate ? s->validate(value) : 0;
}

static int is_empty(const sisp_field_desc_t *f, const void *slot) {
    unsigned w = int_width(f->wtype);
    if (w != 0)
        return load_int(slot, w) == 0;
    return ((const sisp_slice_t *)slot)->len == 0;
}

/* Writes a field header (id with its critical bit, wire type, length). */
static uint8_t *put_field_header(uint8_t *p, const sisp_field_desc_t *f, size_t len) {
    p[0] = (uint8_t)(f->id | ((f->flags & SISP_F_REQ) ? SISP_FIELD_CRITICAL : 0));
    p[1] = f->wtype;
    sisp_store32(p + 2, (uint32_t)len);
    return p + SISP_FIELD_HEADER_SIZE;
}

static int put_field(sisp_buf_t *out, const sisp_field_desc_t *f, const void *slot) {
    uint8_t hdr[SISP_FIELD_HEADER_SIZE];
    unsigned w = int_width(f->wtype);
    int rc;

    if (f->wtype == SISP_W_STRUCT) {
        size_t at = out->len;
        put_field_header(hdr, f, 0);
        if ((rc = sisp_buf_append(out, hdr, sizeof hdr)) != 0)
            return rc;
        if ((rc = sisp_fields_encode(out, f->sub, slot)) != 0)
            return rc;
        size_t n = out->len - at - sizeof hdr;
        if (n > UINT32_MAX)
            return SISP_ETOOBIG;
        sisp_store32(out->data + at + 2, (uint32_t)n);
        return 0;
    }
    if ((rc = check_value(f, slot)) != 0)
        return rc;
    if (w != 0) {
        uint8_t v[8];
        uint64_t x = load_int(slot, w);
        for (unsigned i = 0; i < w; i++)
            v[i] = (uint8_t)(x >> (8 * (w - 1 - i)));
        put_field_header(hdr, f, w);
        if ((rc = sisp_buf_append(out, hdr, sizeof hdr)) != 0)
            return rc;
        return sisp_buf_append(out, v, w);
    }
    const sisp_slice_t *sl = slot;
    if (sl->len > UINT32_MAX)
        return SISP_ETOOBIG;
    put_field_header(hdr, f, sl->len);
    if ((rc = sisp_buf_append(out, hdr, sizeof hdr)) != 0)
        return rc;
    return sisp_buf_append(out, sl->ptr, sl->len);
}

int sisp_fields_encode(sisp_buf_t *out, const sisp_schema_t *s, const void *value) {
    const uint8_t *base = value;
    int rc;
    if (s->validate && (rc = s->validate(value)) != 0)
        return rc;
    for (size_t i = 0; i < s->n_fields; i++) {
        const sisp_field_desc_t *f = &s->fields[i];
        if (f->flags & SISP_F_REP) {
            uint32_t n = *(const uint32_t *)(base + f->count_off);
            if (n > f->max_count)
                return SISP_ETOOMANY;
            if (n == 0 && (f->flags & SISP_F_REQ))
                return SISP_EMISSING;
            for (uint32_t k = 0; k < n; k++)
                if ((rc = put_field(out, f, base + f->offset + (size_t)k * f->elem_size)) != 0)
                    return rc;
            continue;
        }
        const void *slot = base + f->offset;
        if (!(f->flags & SISP_F_REQ) && is_empty(f, slot))
            continue;
        if ((rc = put_field(out, f, slot)) != 0)
            return rc;
    }
    return 0;
}

static int stream_ok(uint8_t type, uint32_t stream) {
    switch (sisp_type_stream_rule(type)) {
    case SISP_STREAM_ZERO:
        return stream == 0;
    case SISP_STREAM_NONZERO:
        return stream != 0;
    default:
        return 1;
    }
}

int sisp_payload_decode(uint8_t type, const sisp_frame_t *frame, void *out) {
    const sisp_schema_t *s = sisp_schema_for(type);
    if (s == NULL || frame->type != type)
        return SISP_EINVAL;
    if (!stream_ok(type, frame->stream))
        return SISP_ESTREAM;
    return sisp_fields_decode(s, frame->payload.ptr, frame->payload.len, out);
}

int sisp_packet_decode(const sisp_frame_t *frame, sisp_packet_t *pkt) {
    if (!sisp_type_known(frame->type))
        return SISP_ETYPE;
    pkt->type = frame->type;
    pkt->stream = frame->stream;
    return sisp_payload_decode(frame->type, frame, &pkt->u);
}

int sisp_payload_encode(sisp_buf_t *out, uint8_t type, uint32_t stream, const void *in) {
    const sisp_schema_t *s = sisp_schema_for(type);
    if (s == NULL)
        return SISP_ETYPE;
    if (!stream_ok(type, stream))
        return SISP_ESTREAM;
    size_t start = out->len;
    int rc = sisp_frame_put_header(out, type, 0, stream, 0);
    if (rc == 0)
        rc = sisp_fields_encode(out, s, in);
    if (rc == 0) {
        size_t n = out->len - start - SISP_HEADER_SIZE;
        if (n > SISP_LIMIT_ABSOLUTE)
            rc = SISP_ETOOBIG;
        else
            sisp_store32(out->data + start, (uint32_t)n);
    }
    if (rc != 0)
        out->len = start;
    return rc;
}

int sisp_packet_encode(sisp_buf_t *out, const sisp_packet_t *pkt) {
    return sisp_payload_encode(out, pkt->type, pkt->stream, &pkt->u);
}

_Static_assert(SISP_DATA_OVERHEAD == SISP_HEADER_SIZE + 2 * SISP_FIELD_HEADER_SIZE + 8,
               "a DATA frame: header, the offset field, the data field's header");

uint8_t *sisp_data_room(sisp_buf_t *out, size_t n) {
    if (n > SISP_CHUNK_MAX || sisp_buf_reserve(out, SISP_DATA_OVERHEAD + n) != 0)
        return NULL;
    return out->data + out->len + SISP_DATA_OVERHEAD;
}

int sisp_data_put(sisp_buf_t *out, uint32_t stream, uint64_t offset, size_t len) {
    if (stream == 0)
        return SISP_ESTREAM;
    if (len < fields_data[1].min || len > fields_data[1].max)
        return SISP_EFIELDLEN;
    if (out->cap - out->len < SISP_DATA_OVERHEAD + len)
        return SISP_EINVAL; /* no room was made for it */
    /* The frame header as every encoder writes it, and the field headers from the DATA
     * schema's own descriptors: they cannot differ from what sisp_data_encode writes. */
    uint8_t *p = out->data + out->len;
    sisp_frame_header_write(p, SISP_T_DATA, 0, stream,
                            (uint32_t)(SISP_DATA_OVERHEAD - SISP_HEADER_SIZE + len));
    p = put_field_header(p + SISP_HEADER_SIZE, &fields_data[0], 8);
    sisp_store64(p, offset);
    put_field_header(p + 8, &fields_data[1], len);
    out->len += SISP_DATA_OVERHEAD + len;
    return 0;
}

static int values_equal(const sisp_schema_t *s, const void *a, const void *b);

static int slot_equal(const sisp_field_desc_t *f, const void *a, const void *b) {
    unsigned w = int_width(f->wtype);
    if (w != 0)
        return load_int(a, w) == load_int(b, w);
    if (f->wtype == SISP_W_STRUCT)
        return values_equal(f->sub, a, b);
    return sisp_slice_eq(*(const sisp_slice_t *)a, *(const sisp_slice_t *)b);
}

static int values_equal(const sisp_schema_t *s, const void *a, const void *b) {
    const uint8_t *pa = a, *pb = b;
    for (size_t i = 0; i < s->n_fields; i++) {
        const sisp_field_desc_t *f = &s->fields[i];
        if (f->flags & SISP_F_REP) {
            uint32_t na = *(const uint32_t *)(pa + f->count_off);
            uint32_t nb = *(const uint32_t *)(pb + f->count_off);
            if (na != nb || na > f->max_count)
                return 0;
            for (uint32_t k = 0; k < na; k++) {
                size_t off = f->offset + (size_t)k * f->elem_size;
                if (!slot_equal(f, pa + off, pb + off))
                    return 0;
            }
        } else if (!slot_equal(f, pa + f->offset, pb + f->offset)) {
            return 0;
        }
    }
    return 1;
}

int sisp_packet_equal(uint8_t type, const void *a, const void *b) {
    const sisp_schema_t *s = sisp_schema_for(type);
    return s != NULL && values_equal(s, a, b);
}
