/* The libuv side of sispd: the listener, one connection per client (TCP + TLS + session),
 * backpressure, timeouts, connection limits, notification fan-out, clean shutdown. */
#ifndef SISP_CONN_H
#define SISP_CONN_H

#include "server.h"
#include "tls.h"
#include "worker.h"

#include <uv.h>

typedef struct {
    unsigned max_conns;         /* all connections */
    unsigned max_preauth;       /* connections without a verified certificate */
    unsigned max_per_addr;      /* connections from one address */
    unsigned handshake_timeout; /* seconds for TLS and HELLO */
    unsigned idle_timeout;      /* seconds without a frame: PING at half, close at full */
    unsigned min_rate;    /* bytes/s a peer must send while a frame or upload is open; 0 = none */
    unsigned rate_window; /* seconds over which min_rate is averaged (at least 1) */
} sisp_net_cfg_t;

void sisp_net_cfg_default(sisp_net_cfg_t *cfg);

typedef struct sisp_server sisp_server_t;

/* Binds host:port (port 0 = any free port) and starts accepting. *bound_port gets the port. */
int sisp_server_start(uv_loop_t *loop, const sisp_net_cfg_t *net, const sisp_server_cfg_t *cfg,
                      sisp_ca_t *ca, sisp_store_t *st, const char *host, int port,
                      sisp_server_t **out, int *bound_port);
/* Stops accepting, says BYE to every connection, lets in-flight jobs finish, closes
 * everything; the loop then runs dry. */
void sisp_server_shutdown(sisp_server_t *srv);
/* Frees what is left once the loop has run dry. */
void sisp_server_free(sisp_server_t *srv);

#endif
