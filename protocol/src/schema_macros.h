/* Internal: helpers for writing schema tables (packet.c, seal.c). */
#ifndef SISP_SCHEMA_MACROS_H
#define SISP_SCHEMA_MACROS_H

#include <sisp/schema.h>

#include <stddef.h>

/* ---- field descriptor helpers ----
 * The char-array trick fails to compile if a struct member's width does not match its
 * wire type, so a table entry cannot silently write 8 bytes into a 4-byte member. */
#define MEMBER_SIZE(st, m) sizeof(((st *)0)->m)
#define CHECKED_OFF(st, m, w)                                                                      \
    ((uint16_t)(sizeof(char[MEMBER_SIZE(st, m) == (w) ? 1 : -1]) * offsetof(st, m)))
#define ARRAY_LEN(st, m) ((uint16_t)(sizeof(((st *)0)->m) / sizeof(((st *)0)->m[0])))

#define U8(st, id, fl, m, lo, hi)                                                                  \
    { id, SISP_W_U8, fl, SISP_C_NONE, #m, CHECKED_OFF(st, m, 1), 0, 0, 0, lo, hi, NULL }
#define U16(st, id, fl, m, lo, hi)                                                                 \
    { id, SISP_W_U16, fl, SISP_C_NONE, #m, CHECKED_OFF(st, m, 2), 0, 0, 0, lo, hi, NULL }
#define U32(st, id, fl, m, lo, hi)                                                                 \
    { id, SISP_W_U32, fl, SISP_C_NONE, #m, CHECKED_OFF(st, m, 4), 0, 0, 0, lo, hi, NULL }
#define U64(st, id, fl, m, lo, hi)                                                                 \
    { id, SISP_W_U64, fl, SISP_C_NONE, #m, CHECKED_OFF(st, m, 8), 0, 0, 0, lo, hi, NULL }
#define BYTES(st, id, fl, chk, m, lo, hi)                                                          \
    {                                                                                              \
        id, SISP_W_BYTES, fl, chk, #m, CHECKED_OFF(st, m, sizeof(sisp_slice_t)), 0, 0, 0, lo, hi,  \
            NULL                                                                                   \
    }
#define TEXT(st, id, fl, chk, m, lo, hi)                                                           \
    {                                                                                              \
        id, SISP_W_TEXT, fl, chk, #m, CHECKED_OFF(st, m, sizeof(sisp_slice_t)), 0, 0, 0, lo, hi,   \
            NULL                                                                                   \
    }
#define REP(st, id, wt, fl, chk, m, cnt, lo, hi, sub)                                              \
    {                                                                                              \
        id, wt, (fl) | SISP_F_REP, chk, #m, (uint16_t)offsetof(st, m), CHECKED_OFF(st, cnt, 4),    \
            ARRAY_LEN(st, m), (uint16_t)sizeof(((st *)0)->m[0]), lo, hi, sub                       \
    }
#define REQ SISP_F_REQ
#define OPT 0u

#define SCHEMA(sname, st, validate)                                                                \
    static const sisp_schema_t schema_##sname = {#sname, fields_##sname,                           \
                                                 sizeof fields_##sname / sizeof fields_##sname[0], \
                                                 sizeof(st), validate}

#define NAME_USER SISP_C_USER
#define NAME_GROUP SISP_C_GROUP
#define NAME_IMAGE SISP_C_IMAGE

#endif
