/* The sample packets behind docs/PROTOCOL.md's test vectors and the fuzz seed corpora:
 * at least one per frame type, with fixed field values. */
#ifndef SISP_VECTORS_H
#define SISP_VECTORS_H

#include <sisp/packet.h>

#include <stddef.h>

typedef struct {
    const char *id;    /* file-name safe, e.g. "hello-client" */
    const char *title; /* e.g. "HELLO, client to server" */
    sisp_role_t receiver;
    sisp_state_t state; /* a state in which the receiver accepts it */
    sisp_packet_t pkt;
} t_vector_t;

size_t t_vector_count(void);
const t_vector_t *t_vector(size_t i);

/* Frames a receiver must refuse, with the error it must give. */
typedef struct {
    const char *id;
    const char *title;
    sisp_role_t receiver;
    sisp_state_t state;
    const uint8_t *bytes;
    size_t len;
    int err; /* from sisp_frame_decode, or else from sisp_packet_decode */
} t_bad_vector_t;

size_t t_bad_vector_count(void);
const t_bad_vector_t *t_bad_vector(size_t i);

/* The generated sections of docs/PROTOCOL.md, each between its begin and end markers:
 * "catalog" (type table, error codes, field tables, frame vectors) and "sealed" (the
 * sealed-image worked example). t_doc_generate appends one section, markers included. */
extern const char *const t_doc_sections[];
extern const size_t t_doc_section_count;
int t_doc_generate(const char *section, sisp_buf_t *out);
/* The marker lines of a section, e.g. "<!-- BEGIN GENERATED catalog ... -->\n". */
void t_doc_markers(const char *section, char *begin, size_t begin_size, char *end, size_t end_size);
#endif
