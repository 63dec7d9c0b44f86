/* Generates parts of docs/PROTOCOL.md from the schema tables, the sample packets and the
 * fixed-key sealer, so the document cannot drift from the code: test_vectors compares the
 * two. */
#include "seal_fixture.h"
#include "vectors.h"

#include <sisp/keys.h>
#include <sisp/schema.h>
#include <sisp/seal.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static int bprintf(sisp_buf_t *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return SISP_EINVAL;
    return sisp_buf_append(b, tmp, (size_t)n);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != 0)                                                                              \
            return rc_;                                                                            \
    } while (0)

static const char *wtype_name(uint8_t w) {
    static const char *names[] = {"?", "U8", "U16", "U32", "U64", "BYTES", "TEXT", "STRUCT"};
    return w < sizeof names / sizeof names[0] ? names[w] : "?";
}

static const char *state_names(sisp_role_t rx, uint8_t type, char *buf, size_t n) {
    static const char *st[] = {"HELLO", "UNAUTH", "AUTH"};
    buf[0] = '\0';
    for (int s = 0; s < SISP_STATE_COUNT; s++) {
        if (!sisp_type_allowed(rx, (sisp_state_t)s, type))
            continue;
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", used ? ", " : "", st[s]);
    }
    if (buf[0] == '\0')
        snprintf(buf, n, "never");
    return buf;
}

/* The field name without a nesting prefix ("info. id" -> "id"). */
static const char *short_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return name;
    dot++;
    while (*dot == ' ')
        dot++;
    return dot;
}

static int constraint(sisp_buf_t *b, const sisp_field_desc_t *f) {
    static const char *checks[] = {"",           "user name",   "group name",
                                   "image name", "invite code", "`\"SISP\"`"};
    const char *sep = "";
    if (f->wtype == SISP_W_STRUCT) {
        TRY(bprintf(b, "`%s`", f->sub->name));
        sep = "; ";
    } else if (f->wtype == SISP_W_BYTES || f->wtype == SISP_W_TEXT) {
        if (f->check != SISP_C_NONE) {
            TRY(bprintf(b, "%s", checks[f->check]));
            sep = "; ";
        } else if (f->min == f->max && f->min != 0) {
            TRY(bprintf(b, "exactly %llu bytes", (unsigned long long)f->min));
            sep = "; ";
        } else if (f->min != 0 || f->max != 0) {
            TRY(bprintf(b, "%llu..%llu bytes", (unsigned long long)f->min,
                        (unsigned long long)f->max));
            sep = "; ";
        }
    } else if (f->min != 0 || f->max != 0) {
        if (f->max == 0)
            TRY(bprintf(b, "≥ %llu", (unsigned long long)f->min));
        else
            TRY(bprintf(b, "%llu..%llu", (unsigned long long)f->min, (unsigned long long)f->max));
        sep = "; ";
    }
    if (f->flags & SISP_F_REP)
        TRY(bprintf(b, "%sat most %u", sep, f->max_count));
    return 0;
}

static int field_table(sisp_buf_t *b, const sisp_schema_t *s) {
    if (s->n_fields == 0)
        return bprintf(b, "No fields: the payload is empty.\n\n");
    TRY(bprintf(b, "| id | field | wire type | presence | constraint |\n"
                   "|---:|---|---|---|---|\n"));
    for (size_t i = 0; i < s->n_fields; i++) {
        const sisp_field_desc_t *f = &s->fields[i];
        const char *presence =
            (f->flags & SISP_F_REP)
                ? ((f->flags & SISP_F_REQ) ? "repeated, at least one" : "repeated")
                : ((f->flags & SISP_F_REQ) ? "required" : "optional");
        TRY(bprintf(b, "| %u | `%s` | %s | %s | ", f->id, short_name(f->name), wtype_name(f->wtype),
                    presence));
        TRY(constraint(b, f));
        TRY(bprintf(b, " |\n"));
    }
    return bprintf(b, "\n");
}

static int hex_line(sisp_buf_t *b, const char *indent, const uint8_t *p, size_t n,
                    const char *comment) {
    char line[128];
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%02x", i ? " " : "", p[i]);
    if (comment == NULL)
        return bprintf(b, "%s%s\n", indent, line);
    return bprintf(b, "%s%-48s # %s\n", indent, line, comment);
}

static int hex_block(sisp_buf_t *b, const char *indent, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i += 16)
        TRY(hex_line(b, indent, p + i, n - i < 16 ? n - i : 16, NULL));
    return 0;
}

/* Writes a decoded payload field by field, each line annotated. */
static int annotate(sisp_buf_t *b, const sisp_schema_t *s, const uint8_t *p, size_t len,
                    int depth) {
    const char *indent = depth ? "    " : "";
    size_t pos = 0;
    while (pos + SISP_FIELD_HEADER_SIZE <= len) {
        uint8_t key = p[pos], wt = p[pos + 1];
        uint32_t flen = sisp_load32(p + pos + 2);
        const sisp_field_desc_t *f = NULL;
        for (size_t i = 0; i < s->n_fields; i++)
            if (s->fields[i].id == (key & SISP_FIELD_ID_MASK))
                f = &s->fields[i];
        char comment[160];
        const uint8_t *v = p + pos + SISP_FIELD_HEADER_SIZE;
        int inline_value = wt != SISP_W_STRUCT && flen <= 10;
        snprintf(comment, sizeof comment, "field %u%s %s, %s, %u byte%s", key & SISP_FIELD_ID_MASK,
                 (key & SISP_FIELD_CRITICAL) ? " (critical)" : "", f ? short_name(f->name) : "?",
                 wtype_name(wt), flen, flen == 1 ? "" : "s");
        if (inline_value) {
            uint8_t tmp[SISP_FIELD_HEADER_SIZE + 10];
            memcpy(tmp, p + pos, SISP_FIELD_HEADER_SIZE + flen);
            TRY(hex_line(b, indent, tmp, SISP_FIELD_HEADER_SIZE + flen, comment));
        } else {
            TRY(hex_line(b, indent, p + pos, SISP_FIELD_HEADER_SIZE, comment));
            if (wt == SISP_W_STRUCT && f != NULL)
                TRY(annotate(b, f->sub, v, flen, depth + 1));
            else
                TRY(hex_block(b, depth ? "        " : "    ", v, flen));
        }
        pos += SISP_FIELD_HEADER_SIZE + flen;
    }
    return 0;
}

static int vector_block(sisp_buf_t *b, const t_vector_t *v) {
    static const char *st[] = {"HELLO", "UNAUTH", "AUTH"};
    sisp_buf_t enc;
    sisp_buf_init(&enc, 0);
    int rc = sisp_packet_encode(&enc, &v->pkt);
    if (rc == 0)
        rc = bprintf(b,
                     "#### `%s`: %s\n\nReceived by the %s in state %s; %zu bytes.\n\n"
                     "```sisp-vector id=%s\n",
                     v->id, v->title, v->receiver == SISP_ROLE_SERVER ? "server" : "client",
                     st[v->state], enc.len, v->id);
    if (rc == 0) {
        char comment[128];
        snprintf(comment, sizeof comment, "header: length %u, version 1, %s, flags 0, stream %u",
                 sisp_load32(enc.data), sisp_type_name(v->pkt.type), v->pkt.stream);
        rc = hex_line(b, "", enc.data, SISP_HEADER_SIZE, comment);
    }
    if (rc == 0)
        rc = annotate(b, sisp_schema_for(v->pkt.type), enc.data + SISP_HEADER_SIZE,
                      enc.len - SISP_HEADER_SIZE, 0);
    if (rc == 0)
        rc = bprintf(b, "```\n\n");
    sisp_buf_free(&enc);
    return rc;
}

static int catalog(sisp_buf_t *b) {
    char s1[64], s2[64];
    static const char *rules[] = {"0", "non-zero", "any"};

    TRY(bprintf(b, "\n### Frame types\n\n"));
    TRY(bprintf(b, "| code | type | server accepts it in | client accepts it in | stream id |\n"
                   "|---|---|---|---|---|\n"));
    for (unsigned t = 0; t < 256; t++) {
        if (!sisp_type_known((uint8_t)t))
            continue;
        TRY(bprintf(b, "| `0x%02x` | %s | %s | %s | %s |\n", t, sisp_type_name((uint8_t)t),
                    state_names(SISP_ROLE_SERVER, (uint8_t)t, s1, sizeof s1),
                    state_names(SISP_ROLE_CLIENT, (uint8_t)t, s2, sizeof s2),
                    rules[sisp_type_stream_rule((uint8_t)t)]));
    }

    TRY(bprintf(b, "\n### Error codes\n\nERROR frames carry the number; the C API returns its "
                   "negative.\n\n| number | name | meaning |\n|---:|---|---|\n"));
#define ERR_ROW(name, num, msg) TRY(bprintf(b, "| %d | `SISP_%s` | %s |\n", num, #name, msg));
    SISP_ERRNO_MAP(ERR_ROW)
#undef ERR_ROW

    TRY(bprintf(b, "\n### Payload fields of each type\n\n"));
    for (unsigned t = 0; t < 256; t++) {
        const sisp_schema_t *s = sisp_schema_for((uint8_t)t);
        if (s == NULL)
            continue;
        TRY(bprintf(b, "#### %s (`0x%02x`)\n\n", sisp_type_name((uint8_t)t), t));
        TRY(field_table(b, s));
    }
    /* Nested structs, each once. */
    const sisp_schema_t *seen[8];
    size_t n_seen = 0;
    for (unsigned t = 0; t < 256; t++) {
        const sisp_schema_t *s = sisp_schema_for((uint8_t)t);
        for (size_t i = 0; s && i < s->n_fields; i++) {
            const sisp_schema_t *sub = s->fields[i].sub;
            int dup = 0;
            if (sub == NULL)
                continue;
            for (size_t k = 0; k < n_seen; k++)
                dup |= seen[k] == sub;
            if (dup || n_seen == 8)
                continue;
            seen[n_seen++] = sub;
            TRY(bprintf(b, "#### struct `%s`\n\n", sub->name));
            TRY(field_table(b, sub));
        }
    }

    TRY(bprintf(b, "### Test vectors\n\nEach block is one whole frame in hex; `#` starts a "
                   "comment. Tests decode every block whole, byte by byte and split at every "
                   "offset, and re-encode it byte for byte.\n\n"));
    for (size_t i = 0; i < t_vector_count(); i++)
        TRY(vector_block(b, t_vector(i)));

    TRY(bprintf(b, "### Frames that must be refused\n\n"
                   "| vector | receiver, state | frame (hex) | error |\n|---|---|---|---|\n"));
    for (size_t i = 0; i < t_bad_vector_count(); i++) {
        static const char *st[] = {"HELLO", "UNAUTH", "AUTH"};
        const t_bad_vector_t *v = t_bad_vector(i);
        TRY(bprintf(b, "| `%s`: %s | %s, %s | `", v->id, v->title,
                    v->receiver == SISP_ROLE_SERVER ? "server" : "client", st[v->state]));
        for (size_t k = 0; k < v->len; k++)
            TRY(bprintf(b, "%s%02x", k ? " " : "", v->bytes[k]));
        TRY(bprintf(b, "` | `%s` |\n", sisp_err_name(v->err)));
    }
    return bprintf(b, "\n");
}

/* ---- the sealed-image worked example ---- */

static int hex_row(sisp_buf_t *b, const char *label, const uint8_t *p, size_t n) {
    TRY(bprintf(b, "| %s | `", label));
    for (size_t i = 0; i < n; i++)
        TRY(bprintf(b, "%02x", p[i]));
    return bprintf(b, "` |\n");
}

static int fenced_hex(sisp_buf_t *b, const char *info, const uint8_t *p, size_t n) {
    TRY(bprintf(b, "```%s\n", info));
    TRY(hex_block(b, "", p, n));
    return bprintf(b, "```\n\n");
}

static int sealed(sisp_buf_t *b) {
    sisp_buf_t file;
    sisp_slice_t manifest, sig;
    size_t header_len = 0;
    sisp_ident_key_t alice;
    sisp_x25519_key_t alice_x, bob_x;
    uint8_t wrapped_ck[SISP_WRAPPED_CK_SIZE], wrapped_ek[SISP_WRAPPED_EPOCH_SIZE];
    uint8_t grant_sig[SISP_SIG_SIZE], x_sig[SISP_SIG_SIZE], nonce[SISP_GCM_NONCE_SIZE];
    const sisp_slice_t family = sisp_slice_str("family"), bob = sisp_slice_str("bob");
    int rc;

    sisp_buf_init(&file, 0);
    rc = t_seal_fixed(t_png_1x1, sizeof t_png_1x1, 4096, 0, t_alice_seed, &file);
    if (rc == 0)
        rc = sisp_sealed_header_parse(file.data, file.len, &manifest, &sig, &header_len);
    if (rc == 0)
        rc = sisp_ident_from_seed(t_alice_seed, &alice);
    if (rc == 0)
        rc = sisp_x25519_from_private(t_alice_x25519, &alice_x);
    if (rc == 0)
        rc = sisp_x25519_from_private(t_bob_x25519, &bob_x);
    if (rc == 0)
        rc = sisp_ck_wrap(t_epoch_key, family, 1, t_nonce_prefix, t_content_key, t_wrap_nonce,
                          wrapped_ck);
    if (rc == 0)
        rc =
            sisp_epoch_wrap_fixed(t_eph_x25519, t_epoch_key, bob_x.pub, family, 1, bob, wrapped_ek);
    if (rc == 0)
        rc = sisp_grant_sign(&alice, family, 1, bob, sisp_slice(wrapped_ek, sizeof wrapped_ek),
                             grant_sig);
    if (rc == 0)
        rc = sisp_x25519_sign(&alice, sisp_slice_str("alice"), alice_x.pub, x_sig);
    if (rc != 0) {
        sisp_buf_free(&file);
        return rc;
    }
    memcpy(nonce, t_nonce_prefix, 7);
    memset(nonce + 7, 0, 4);
    nonce[11] = 1;

    rc = bprintf(b, "\n#### Inputs\n\n| input | value (hex) |\n|---|---|\n");
    if (rc == 0)
        rc = hex_row(b, "alice's identity seed (RFC 8032 §7.1 test 1)", t_alice_seed, 32);
    if (rc == 0)
        rc = hex_row(b, "alice's identity public key", alice.pub, 32);
    if (rc == 0)
        rc = hex_row(b, "epoch key of group `family`, epoch 1", t_epoch_key, 32);
    if (rc == 0)
        rc = hex_row(b, "content key", t_content_key, 32);
    if (rc == 0)
        rc = hex_row(b, "nonce prefix", t_nonce_prefix, 7);
    if (rc == 0)
        rc = hex_row(b, "content-key wrap nonce", t_wrap_nonce, 12);
    if (rc == 0)
        rc = hex_row(b, "plaintext: a 1x1 PNG (67 bytes)", t_png_1x1, sizeof t_png_1x1);
    if (rc == 0)
        rc = bprintf(b,
                     "\nOwner `alice`, image `beach.png`, group `family`, epoch 1, created %u, "
                     "chunk size 4096: one chunk, the final one.\n\n",
                     T_CREATED);
    if (rc == 0)
        rc = bprintf(b, "#### Wrapped content key (%zu bytes)\n\n", sizeof wrapped_ck);
    if (rc == 0)
        rc = fenced_hex(b, "", wrapped_ck, sizeof wrapped_ck);
    if (rc == 0)
        rc = bprintf(b, "#### Manifest (%zu bytes)\n\n```sisp-manifest\n", manifest.len);
    if (rc == 0)
        rc = annotate(b, sisp_manifest_schema(), manifest.ptr, manifest.len, 0);
    if (rc == 0)
        rc = bprintf(b, "```\n\n#### Signature: Ed25519 over `SISP-MANIFEST-1` 00 ‖ manifest\n\n");
    if (rc == 0)
        rc = fenced_hex(b, "", sig.ptr, sig.len);
    if (rc == 0)
        rc = bprintf(b, "#### Chunk 0 (final): nonce and ciphertext ‖ tag\n\n");
    if (rc == 0)
        rc = fenced_hex(b, "", nonce, sizeof nonce);
    if (rc == 0)
        rc = fenced_hex(b, "", file.data + header_len, file.len - header_len);
    if (rc == 0)
        rc = bprintf(b,
                     "#### The whole sealed file (%zu bytes: %zu of header, manifest and "
                     "signature, then the chunk)\n\n",
                     file.len, header_len);
    if (rc == 0)
        rc = fenced_hex(b, "sisp-sealed id=beach", file.data, file.len);

    if (rc == 0)
        rc = bprintf(b, "#### Epoch key wrapped to bob\n\n| input | value (hex) |\n|---|---|\n");
    if (rc == 0)
        rc = hex_row(b, "bob's X25519 private key (RFC 7748 §6.1)", t_bob_x25519, 32);
    if (rc == 0)
        rc = hex_row(b, "bob's X25519 public key", bob_x.pub, 32);
    if (rc == 0)
        rc = hex_row(b, "ephemeral X25519 private key", t_eph_x25519, 32);
    if (rc == 0)
        rc = bprintf(b, "\nGroup `family`, epoch 1, recipient `bob`; the epoch key above. "
                        "Wrapped (ephemeral public key ‖ ciphertext ‖ tag):\n\n");
    if (rc == 0)
        rc = fenced_hex(b, "sisp-epoch-wrap id=bob", wrapped_ek, sizeof wrapped_ek);
    if (rc == 0)
        rc = bprintf(b, "alice's grant signature over it (`SISP-GRANT-1`):\n\n");
    if (rc == 0)
        rc = fenced_hex(b, "", grant_sig, sizeof grant_sig);
    if (rc == 0)
        rc = bprintf(b, "#### alice's X25519 key and its signature\n\n| input | value (hex) |\n"
                        "|---|---|\n");
    if (rc == 0)
        rc = hex_row(b, "alice's X25519 private key (RFC 7748 §6.1)", t_alice_x25519, 32);
    if (rc == 0)
        rc = hex_row(b, "alice's X25519 public key", alice_x.pub, 32);
    if (rc == 0)
        rc = hex_row(b, "signature (`SISP-X25519-KEY-1`, user `alice`)", x_sig, sizeof x_sig);
    if (rc == 0)
        rc = bprintf(b, "\n");
    sisp_buf_free(&file);
    return rc;
}

const char *const t_doc_sections[] = {"catalog", "sealed"};
const size_t t_doc_section_count = sizeof t_doc_sections / sizeof t_doc_sections[0];

void t_doc_markers(const char *section, char *begin, size_t begin_size, char *end,
                   size_t end_size) {
    snprintf(begin, begin_size,
             "<!-- BEGIN GENERATED %s by sisp-protodoc: do not edit by hand -->\n", section);
    snprintf(end, end_size, "<!-- END GENERATED %s -->\n", section);
}

int t_doc_generate(const char *section, sisp_buf_t *out) {
    char begin[128], end[128];
    t_doc_markers(section, begin, sizeof begin, end, sizeof end);
    TRY(bprintf(out, "%s", begin));
    if (strcmp(section, "catalog") == 0)
        TRY(catalog(out));
    else if (strcmp(section, "sealed") == 0)
        TRY(sealed(out));
    else
        return SISP_EINVAL;
    return bprintf(out, "%s", end);
}
