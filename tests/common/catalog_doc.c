/* Generates the catalog part of docs/PROTOCOL.md from the schema tables and the sample
 * packets, so the document cannot drift from the code: test_vectors compares the two. */
#include "vectors.h"

#include <sisp/schema.h>

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

int t_catalog_markdown(sisp_buf_t *b) {
    char s1[64], s2[64];
    static const char *rules[] = {"0", "non-zero", "any"};

    TRY(bprintf(b, "%s\n### Frame types\n\n", T_DOC_BEGIN));
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
    return bprintf(b, "\n%s", T_DOC_END);
}
