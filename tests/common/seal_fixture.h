/* Fixed keys and a deterministic sealer, shared by the sealed-image tests, the worked
 * example in docs/PROTOCOL.md, the fuzz seed corpus and the benchmarks. */
#ifndef SISP_SEAL_FIXTURE_H
#define SISP_SEAL_FIXTURE_H

#include <sisp/keys.h>
#include <sisp/seal.h>

/* alice's identity seed is RFC 8032 section 7.1 test 1's secret key; alice's and bob's
 * X25519 private keys are RFC 7748 section 6.1's. */
extern const uint8_t t_alice_seed[32];
extern const uint8_t t_mallory_seed[32];
extern const uint8_t t_alice_x25519[32];
extern const uint8_t t_bob_x25519[32];
extern const uint8_t t_epoch_key[32];   /* group "family", epoch 1 */
extern const uint8_t t_content_key[32]; /* the worked example's */
extern const uint8_t t_nonce_prefix[7];
extern const uint8_t t_wrap_nonce[12];
extern const uint8_t t_eph_x25519[32]; /* ephemeral key of the epoch-wrap example */
#define T_CREATED 1795000000u

/* A real 1x1 PNG (67 bytes). */
extern const uint8_t t_png_1x1[67];

/* The worked example's parameters: alice, "beach.png", group "family", epoch 1. */
sisp_seal_params_t t_seal_params(uint32_t chunk_size);

/* Seals plain with the fixed keys (content key, nonce prefix and wrap nonce varied by
 * `variant`, 0 = the worked example's) and writes the whole sealed file (header, manifest,
 * signature by signer_seed, chunks) to out. Returns 0 or an error. */
int t_seal_fixed(const uint8_t *plain, size_t len, uint32_t chunk_size, unsigned variant,
                 const uint8_t signer_seed[32], sisp_buf_t *out);

#endif
