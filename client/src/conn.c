/* The client's side of a SISP connection: see conn.h. */
#include <sisp/conn.h>
#include <sisp/error.h>
#include <sisp/frame.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SINKS 8
#define READ_CHUNK 65536

typedef struct {
    uint32_t stream;
    sisp_sink_cb cb;
    void *arg;
} sink_t;

struct sisp_conn {
    sisp_transport_t t;
    sisp_decoder_t dec;
    sisp_buf_t in;  /* bytes read, not yet a whole frame */
    sisp_buf_t out; /* one encoded frame */
    uint32_t next_stream;
    sisp_push_cb push;
    void *push_arg;
    sink_t sinks[MAX_SINKS];
    sisp_packet_t *pkt;       /* the frame being dispatched */
    sisp_packet_t *reply;     /* the last reply handed out */
    sisp_buf_t reply_bytes;   /* its frame, which reply's slices point into */
    sisp_buf_t hello_bytes;   /* the server's HELLO frame */
    sisp_packet_t *hello;     /* decoded from hello_bytes */
    uint32_t waiting;         /* the stream sisp_conn_request waits on, 0 = none */
    int got_reply;            /* set when a frame for `waiting` arrived */
    int err;                  /* sticky: the connection is unusable once negative */
    char server_message[256]; /* from the last ERROR or BYE, escaped */
};

sisp_conn_t *sisp_conn_new(const sisp_transport_t *t) {
    sisp_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->t = *t;
    c->next_stream = 1;
    sisp_decoder_init(&c->dec, SISP_ROLE_CLIENT);
    sisp_buf_init(&c->in, 0);
    sisp_buf_init(&c->out, 0);
    sisp_buf_init(&c->reply_bytes, 0);
    sisp_buf_init(&c->hello_bytes, 0);
    c->pkt = malloc(sizeof *c->pkt);
    c->reply = malloc(sizeof *c->reply);
    c->hello = calloc(1, sizeof *c->hello);
    if (c->pkt == NULL || c->reply == NULL || c->hello == NULL) {
        sisp_conn_free(c);
        return NULL;
    }
    return c;
}

void sisp_conn_free(sisp_conn_t *c) {
    if (c == NULL)
        return;
    sisp_buf_free(&c->in);
    sisp_buf_free(&c->out);
    sisp_buf_free(&c->reply_bytes);
    sisp_buf_free(&c->hello_bytes);
    free(c->pkt);
    free(c->reply);
    free(c->hello);
    free(c);
}

void sisp_conn_on_push(sisp_conn_t *c, sisp_push_cb cb, void *arg) {
    c->push = cb;
    c->push_arg = arg;
}

uint32_t sisp_conn_stream_id(sisp_conn_t *c) {
    uint32_t s = c->next_stream;
    c->next_stream += 2;
    return s;
}

static int sink_index(const sisp_conn_t *c, uint32_t stream) {
    for (int i = 0; i < MAX_SINKS; i++)
        if (c->sinks[i].cb != NULL && c->sinks[i].stream == stream)
            return i;
    return -1;
}

static sink_t *find_sink(sisp_conn_t *c, uint32_t stream) {
    int i = sink_index(c, stream);
    return i < 0 ? NULL : &c->sinks[i];
}

int sisp_conn_send(sisp_conn_t *c, uint8_t type, uint32_t stream, const void *pkt) {
    /* A CANCEL abandons its stream, sent or not: the sink's owner is about to go away, and
     * what the server still sends on the stream is dropped. */
    sink_t *s = type == SISP_T_CANCEL ? find_sink(c, stream) : NULL;
    if (s != NULL)
        s->cb = NULL;
    if (c->err < 0)
        return c->err;
    sisp_buf_reset(&c->out);
    int rc = sisp_payload_encode(&c->out, type, stream, pkt);
    if (rc != 0)
        return rc; /* refused to encode: nothing was sent, the connection stays usable */
    rc = c->t.write(c->t.io, c->out.data, c->out.len);
    if (rc < 0)
        c->err = rc;
    return rc;
}

int sisp_conn_sink(sisp_conn_t *c, uint32_t stream, sisp_sink_cb cb, void *arg) {
    for (int i = 0; i < MAX_SINKS; i++) {
        if (c->sinks[i].cb == NULL) {
            c->sinks[i] = (sink_t){stream, cb, arg};
            return 0;
        }
    }
    return SISP_EBUSY;
}

int sisp_conn_sink_active(const sisp_conn_t *c, uint32_t stream) {
    return sink_index(c, stream) >= 0;
}

int sisp_conn_error(const sisp_conn_t *c) {
    return c->err < 0 ? c->err : 0;
}

int sisp_conn_reply_err(const sisp_packet_t *reply) {
    if (reply->type != SISP_T_ERROR)
        return 0;
    int code = (int)reply->u.error.code;
    return code > 0 && code < 1000 ? -code : SISP_EPROTO;
}

const char *sisp_conn_server_message(const sisp_conn_t *c) {
    return c->server_message;
}

/* Keeps a printable copy of a server message: bytes outside printable ASCII become \xNN. */
static void keep_message(sisp_conn_t *c, sisp_slice_t m) {
    size_t o = 0;
    for (size_t i = 0; i < m.len && o + 5 < sizeof c->server_message; i++) {
        uint8_t b = m.ptr[i];
        if (b >= 0x20 && b < 0x7f && b != '\\')
            c->server_message[o++] = (char)b;
        else
            o +=
                (size_t)snprintf(c->server_message + o, sizeof c->server_message - o, "\\x%02x", b);
    }
    c->server_message[o] = '\0';
}

/* Reads more bytes into c->in. 0, 1 on timeout, or an error (made sticky). */
static int fill(sisp_conn_t *c, int timeout_ms) {
    if (sisp_buf_reserve(&c->in, READ_CHUNK) != 0)
        return c->err = SISP_ENOMEM;
    int n = c->t.read(c->t.io, c->in.data + c->in.len, READ_CHUNK, timeout_ms);
    if (n < 0)
        return c->err = n;
    if (n == 0)
        return 1;
    c->in.len += (size_t)n;
    return 0;
}

/* The next whole frame in c->in, decoded into c->pkt (slices into c->in): 0 and *used, 1 if
 * more bytes are needed, or a sticky error. */
static int next_frame(sisp_conn_t *c, size_t *used) {
    sisp_frame_t f;
    size_t n = 0;
    int rc = sisp_frame_decode(&c->dec, c->in.data, c->in.len, &f, &n);
    if (rc == SISP_NEED_MORE)
        return 1;
    if (rc == 0)
        rc = sisp_packet_decode(&f, c->pkt);
    if (rc != 0)
        return c->err = rc;
    *used = n;
    return 0;
}

/* Handles the frame in c->pkt. Returns 0, or an error that ends the current wait. */
static int dispatch(sisp_conn_t *c, const uint8_t *bytes, size_t len) {
    sisp_packet_t *p = c->pkt;
    if (p->type == SISP_T_PING) {
        sisp_pong_t pong = {p->u.ping.token};
        return sisp_conn_send(c, SISP_T_PONG, p->stream, &pong);
    }
    if (p->type == SISP_T_PONG)
        return 0;
    if (p->type == SISP_T_BYE) {
        keep_message(c, p->u.bye.message);
        int code = (int)p->u.bye.code;
        return c->err = code > 0 && code < 1000 ? -code : SISP_ESHUTDOWN;
    }
    if (p->stream == 0) {
        if (p->type == SISP_T_ERROR) { /* about the connection: the server closes it next */
            keep_message(c, p->u.error.message);
            return c->err = sisp_conn_reply_err(p);
        }
        if (c->push != NULL)
            c->push(c->push_arg, p);
        return 0;
    }
    if (p->type == SISP_T_ERROR)
        keep_message(c, p->u.error.message);
    sink_t *s = find_sink(c, p->stream);
    if (s != NULL) {
        int rc = s->cb(s->arg, p);
        if (rc != 0)
            s->cb = NULL;
        return rc < 0 ? rc : 0;
    }
    if (c->waiting != 0 && p->stream == c->waiting) {
        sisp_buf_reset(&c->reply_bytes);
        if (sisp_buf_append(&c->reply_bytes, bytes, len) != 0)
            return SISP_ENOMEM;
        c->got_reply = 1;
    }
    return 0; /* a frame on a stream nobody waits for (e.g. after a CANCEL): dropped */
}

int sisp_conn_has_frame(const sisp_conn_t *c) {
    return c->in.len >= SISP_HEADER_SIZE && c->in.len - SISP_HEADER_SIZE >= sisp_load32(c->in.data);
}

/* Processes every whole frame already buffered; then, if none was, reads once. */
int sisp_conn_pump(sisp_conn_t *c, int timeout_ms) {
    if (c->err < 0)
        return c->err;
    for (;;) {
        size_t used = 0;
        int rc = next_frame(c, &used);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = dispatch(c, c->in.data, used);
            sisp_buf_consume(&c->in, used);
            return rc;
        }
        rc = fill(c, timeout_ms);
        if (rc != 0)
            return rc;
    }
}

/* Decodes c->reply_bytes into c->reply. */
static int decode_reply(sisp_conn_t *c) {
    sisp_decoder_t d = c->dec;
    sisp_frame_t f;
    size_t n;
    d.err = 0;
    int rc = sisp_frame_decode(&d, c->reply_bytes.data, c->reply_bytes.len, &f, &n);
    return rc == 0 ? sisp_packet_decode(&f, c->reply) : SISP_EPROTO;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sisp_conn_request(sisp_conn_t *c, uint8_t type, const void *req, int timeout_ms,
                      const sisp_packet_t **reply) {
    uint32_t stream = sisp_conn_stream_id(c);
    int rc = sisp_conn_send(c, type, stream, req);
    if (rc != 0)
        return rc;
    c->waiting = stream;
    c->got_reply = 0;
    /* The time limit is the request's, not each read's: pushes arriving meanwhile (a PING, a
     * stream of NOTIFYs) do not extend it. */
    int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    while (!c->got_reply) {
        int left = timeout_ms;
        if (deadline >= 0) {
            int64_t l = deadline - mono_ms();
            left = l > 0 ? (int)l : 0;
        }
        rc = left == 0 && deadline >= 0 ? 1 : sisp_conn_pump(c, left);
        if (rc == 1)
            rc = SISP_ETIMEDOUT;
        if (rc < 0)
            break;
    }
    c->waiting = 0;
    if (rc < 0)
        return rc;
    rc = decode_reply(c);
    if (rc == 0)
        *reply = c->reply;
    return rc;
}

int sisp_conn_wait_stream(sisp_conn_t *c, uint32_t stream, int timeout_ms) {
    while (find_sink(c, stream) != NULL) {
        int rc = sisp_conn_pump(c, timeout_ms);
        if (rc == 1)
            rc = SISP_ETIMEDOUT;
        if (rc < 0) {
            sink_t *s = find_sink(c, stream);
            if (s != NULL)
                s->cb = NULL;
            return rc;
        }
    }
    return 0;
}

int sisp_conn_hello(sisp_conn_t *c, const char *software, int timeout_ms) {
    sisp_hello_t h = {0};
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = SISP_LIMIT_CONTROL;
    h.max_data = SISP_LIMIT_DATA;
    h.software = sisp_slice_str(software);
    int rc = sisp_conn_send(c, SISP_T_HELLO, 0, &h);
    size_t used = 0;
    while (rc == 0 && (rc = next_frame(c, &used)) == 1) {
        rc = fill(c, timeout_ms);
        if (rc == 1)
            rc = SISP_ETIMEDOUT;
    }
    if (rc != 0)
        return rc;
    if (c->pkt->type == SISP_T_ERROR) {
        keep_message(c, c->pkt->u.error.message);
        return c->err = sisp_conn_reply_err(c->pkt);
    }
    if (c->pkt->type != SISP_T_HELLO || c->pkt->u.hello.magic.len != SISP_MAGIC_LEN ||
        memcmp(c->pkt->u.hello.magic.ptr, SISP_MAGIC, SISP_MAGIC_LEN) != 0)
        return c->err = SISP_EMAGIC;
    if (sisp_buf_append(&c->hello_bytes, c->in.data, used) != 0)
        return c->err = SISP_ENOMEM;
    sisp_buf_consume(&c->in, used);
    sisp_frame_t f;
    size_t n;
    sisp_decoder_t d;
    sisp_decoder_init(&d, SISP_ROLE_CLIENT);
    if (sisp_frame_decode(&d, c->hello_bytes.data, c->hello_bytes.len, &f, &n) != 0 ||
        sisp_packet_decode(&f, c->hello) != 0)
        return c->err = SISP_EPROTO;
    /* The server names the user it authenticated; without one we may only register. */
    sisp_decoder_set_state(
        &c->dec, c->hello->u.hello.user.len > 0 ? SISP_STATE_AUTH : SISP_STATE_UNAUTH, NULL);
    return 0;
}

const sisp_hello_t *sisp_conn_server_hello(const sisp_conn_t *c) {
    return &c->hello->u.hello;
}
