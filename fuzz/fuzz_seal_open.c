/* fuzz_seal_open: arbitrary bytes as a whole sealed file ("SISPIMG" header, manifest,
 * signature, chunks), opened as alice's image with the seal fixture's epoch key.
 *
 * The header is parsed, the manifest verified under alice's public key with owner "alice"
 * expected, the content key unwrapped, and the chunks fed in a few pieces whose sizes come
 * from the input's length. Nothing may crash, and what is released must always be whole
 * verified chunks: after every call out.len == min(plain_size, counter * chunk_size), and
 * after a successful sisp_open_final it is the manifest's plain_size. Errors must be known
 * codes and sticky.
 *
 * A fuzzer cannot forge alice's signature, so when the signature is what fails, the
 * manifest is signed with alice's key and opened once more: the mutated manifests then
 * reach the size arithmetic and the chunk code too. (The first attempt still exercises the
 * refusal.) */
#include "fuzz_util.h"
#include "seal_fixture.h"

#include <sisp/error.h>
#include <sisp/packet.h>
#include <sisp/seal.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1u << 20)

static sisp_ident_key_t alice; /* derived once from t_alice_seed */

/* Plaintext bytes that count whole verified chunks may release. */
static uint64_t whole_chunks(const sisp_open_t *o) {
    uint64_t n = (uint64_t)o->counter * o->m.chunk_size;
    return n < o->m.plain_size ? n : o->m.plain_size;
}

static void check_released(const sisp_open_t *o, const sisp_buf_t *out) {
    REQUIRE(out->len == whole_chunks(o));
    REQUIRE(out->len == o->released);
    REQUIRE(o->seen <= o->m.cipher_size);
}

/* Feeds the chunks in up to four pieces; returns the first error, or 0. */
static int feed(sisp_open_t *o, const uint8_t *p, size_t n, size_t size, sisp_buf_t *out) {
    size_t cuts[4] = {size % 4099, (size * 7) % 9973, size % 13, n};
    size_t at = 0;
    for (size_t i = 0; i < 4 && at <= n; i++) {
        size_t take = cuts[i] < n - at ? cuts[i] : n - at;
        if (i == 3)
            take = n - at;
        size_t before = out->len;
        int rc = sisp_open_update(o, p + at, take, out);
        check_released(o, out);
        if (rc != 0) {
            REQUIRE(rc < 0 && sisp_err_known(rc));
            REQUIRE(o->err == rc);
            REQUIRE(sisp_open_update(o, p, n, out) == rc); /* sticky */
            REQUIRE(sisp_open_final(o) == rc);
            REQUIRE(out->len >= before);
            check_released(o, out);
            return rc;
        }
        at += take;
    }
    REQUIRE(o->seen == n);
    return 0;
}

static void open_file(const uint8_t *manifest, size_t manifest_len, const uint8_t *sig,
                      size_t sig_len, const uint8_t *chunks, size_t n, size_t size,
                      int may_resign) {
    sisp_expect_t expect = {sisp_slice_str("alice"), SISP_SLICE_NULL, SISP_SLICE_NULL};
    sisp_open_t o;
    sisp_buf_t out;
    int rc = sisp_open_init(&o, manifest, manifest_len, sig, sig_len, alice.pub, &expect);
    if (rc != 0) {
        REQUIRE(rc < 0 && sisp_err_known(rc) && o.err == rc);
        REQUIRE(sisp_open_key(&o, t_epoch_key) == rc);
        sisp_open_free(&o);
        if (rc == SISP_ESIG && may_resign && manifest_len > 0 &&
            manifest_len <= SISP_MANIFEST_MAX) {
            uint8_t again[SISP_SIG_SIZE];
            REQUIRE(sisp_manifest_sign(&alice, manifest, manifest_len, again) == 0);
            open_file(manifest, manifest_len, again, sizeof again, chunks, n, size, 0);
        }
        return;
    }
    /* The manifest is consistent: sizes agree with the chunking. */
    REQUIRE(sisp_slice_eq(o.m.owner, sisp_slice_str("alice")));
    REQUIRE(o.m.plain_size > 0 && o.m.chunk_size >= SISP_CHUNK_SIZE_MIN &&
            o.m.chunk_size <= SISP_CHUNK_SIZE_MAX);
    uint64_t chunks_total = (o.m.plain_size - 1) / o.m.chunk_size + 1;
    REQUIRE(o.m.cipher_size == o.m.plain_size + chunks_total * SISP_GCM_TAG_SIZE);

    sisp_buf_init(&out, 0);
    REQUIRE(sisp_open_update(&o, chunks, n, &out) == SISP_EINVAL); /* not keyed yet */
    REQUIRE(out.len == 0 && o.seen == 0);
    rc = sisp_open_key(&o, t_epoch_key);
    if (rc != 0) {
        REQUIRE(rc < 0 && sisp_err_known(rc) && o.err == rc);
        REQUIRE(sisp_open_update(&o, chunks, n, &out) == rc);
        REQUIRE(out.len == 0);
    } else if (feed(&o, chunks, n, size, &out) == 0) {
        rc = sisp_open_final(&o);
        check_released(&o, &out);
        if (rc == 0) {
            REQUIRE(out.len == o.m.plain_size);
            REQUIRE(o.counter == chunks_total);
            REQUIRE(o.seen == o.m.cipher_size && n == o.m.cipher_size);
            REQUIRE(sisp_open_final(&o) != 0); /* finished */
        } else {
            REQUIRE(rc < 0 && sisp_err_known(rc) && o.err == rc);
            REQUIRE(sisp_open_final(&o) == rc);
            REQUIRE(out.len < o.m.plain_size || rc == SISP_EHASH);
        }
    }
    sisp_buf_free(&out);
    sisp_open_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        REQUIRE(sisp_ident_from_seed(t_alice_seed, &alice) == 0);
        ready = 1;
    }
    if (size > MAX_INPUT)
        return 0;

    sisp_slice_t manifest, sig;
    size_t header_len = 0;
    int rc = sisp_sealed_header_parse(data, size, &manifest, &sig, &header_len);
    if (rc == SISP_NEED_MORE) {
        REQUIRE(header_len > size);
        return 0;
    }
    if (rc != 0) {
        REQUIRE(rc == SISP_ESEALFMT);
        return 0;
    }
    REQUIRE(header_len <= size);
    REQUIRE(manifest.ptr == data + SISP_SEALED_MAGIC_LEN + 1 + 4);
    REQUIRE(sig.ptr == manifest.ptr + manifest.len + 2 && sig.ptr + sig.len == data + header_len);
    open_file(manifest.ptr, manifest.len, sig.ptr, sig.len, data + header_len, size - header_len,
              size, 1);
    return 0;
}
