#include "server.h"

#include <sisp/frame.h>
#include <sisp/packet.h>

void sisp_server_cfg_default(sisp_server_cfg_t *cfg) {
    cfg->registration = SISP_REG_OPEN;
    cfg->quota_bytes = 1024ull * 1024 * 1024;
    cfg->max_image_bytes = 256ull * 1024 * 1024;
    cfg->cert_days = 825;
    cfg->register_per_min = 10;
    cfg->push_queue_bytes = 4u * 1024u * 1024u;
    cfg->push_queue_count = 4096;
    cfg->chunk = SISP_CHUNK_DEFAULT;
    cfg->read_cached = 1;
}
