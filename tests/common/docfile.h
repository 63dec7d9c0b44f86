/* Reading and splicing docs/PROTOCOL.md's generated section. */
#ifndef SISP_DOCFILE_H
#define SISP_DOCFILE_H

#include <sisp/buf.h>

/* Reads a whole file into out (NUL-terminated, the NUL not counted in len). 0 or -1. */
int t_read_file(const char *path, sisp_buf_t *out);

/* Finds a generated section (from its begin marker through its end marker) in doc. 1 if
 * found. */
int t_doc_section(const sisp_buf_t *doc, const char *section, size_t *start, size_t *end);

#endif
