/* The schema behind the packet codec: one table of field descriptors per frame type.
 * The codec, the documentation generator and the tests all read these tables, so the
 * byte layouts in docs/PROTOCOL.md cannot drift from the code. */
#ifndef SISP_SCHEMA_H
#define SISP_SCHEMA_H

#include <sisp/buf.h>

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SISP_W_U8 = 1,
    SISP_W_U16 = 2,
    SISP_W_U32 = 3,
    SISP_W_U64 = 4,
    SISP_W_BYTES = 5,
    SISP_W_TEXT = 6,
    SISP_W_STRUCT = 7,
} sisp_wtype_t;

#define SISP_FIELD_HEADER_SIZE 6
#define SISP_FIELD_CRITICAL 0x80u
#define SISP_FIELD_ID_MASK 0x7fu

/* Field flags. */
#define SISP_F_REQ 1u /* must be present (repeated: at least once) */
#define SISP_F_REP 2u /* may repeat, up to max_count */

/* Content checks applied to TEXT/BYTES values after the length bounds. */
typedef enum {
    SISP_C_NONE = 0,
    SISP_C_USER,   /* sisp_check_username */
    SISP_C_GROUP,  /* sisp_check_groupname */
    SISP_C_IMAGE,  /* sisp_check_imagename */
    SISP_C_INVITE, /* sisp_check_invite */
    SISP_C_MAGIC,  /* equals SISP_MAGIC */
} sisp_check_t;

struct sisp_schema;

typedef struct {
    uint8_t id; /* 1..127 */
    uint8_t wtype;
    uint8_t flags;
    uint8_t check;
    const char *name;
    uint16_t offset;    /* of the value, or of the array for repeated fields */
    uint16_t count_off; /* repeated: of the uint32_t element count */
    uint16_t max_count; /* repeated: capacity */
    uint16_t elem_size; /* repeated: sizeof one element */
    uint64_t min;       /* ints: least value; BYTES/TEXT: least length */
    uint64_t max;       /* ints: greatest value; BYTES/TEXT: greatest length (0 = frame) */
    const struct sisp_schema *sub; /* STRUCT: the nested schema */
} sisp_field_desc_t;

typedef struct sisp_schema {
    const char *name;
    const sisp_field_desc_t *fields;
    size_t n_fields; /* at most 32 */
    size_t size;     /* sizeof the struct */
    /* Checks that span fields; 0 or an error. NULL = none. */
    int (*validate)(const void *value);
} sisp_schema_t;

/* The schema of a frame type, or NULL if unknown. */
const sisp_schema_t *sisp_schema_for(uint8_t type);
/* The schema of the sealed-image manifest (seal.h). */
const sisp_schema_t *sisp_manifest_schema(void);

/* Decode a field sequence into value (zeroed first) / encode value as a field sequence. */
int sisp_fields_decode(const sisp_schema_t *s, const uint8_t *p, size_t len, void *value);
/* Appends value's fields (validated as on decode) to out. On error out may hold a partial
 * encoding: callers truncate to where they started. */
int sisp_fields_encode(sisp_buf_t *out, const sisp_schema_t *s, const void *value);
#endif
