/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BLAKE2s (from libb2), HMAC-BLAKE2s and the HKDF of the WireGuard
 * whitepaper, section 5.4. HMAC and HKDF are compositions of the hash,
 * not new primitives.
 */
#ifndef FLOWSPREAD_HASH_H
#define FLOWSPREAD_HASH_H

#include <stddef.h>
#include <stdint.h>

enum {
	FS_BLAKE2S_OUTBYTES = 32,
	FS_BLAKE2S_BLOCKBYTES = 64,
	FS_BLAKE2S_KEYBYTES = 32,
};

/* Keyed (keylen 1..32) or unkeyed (key NULL, keylen 0) BLAKE2s; outlen 1..32. */
void fs_blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen,
		const void *key, size_t keylen);

/* HMAC (RFC 2104) over BLAKE2s-256 with its 64-byte block; any key length. */
void fs_hmac_blake2s(uint8_t out[FS_BLAKE2S_OUTBYTES], const void *in, size_t inlen,
		     const void *key, size_t keylen);

/*
 * HKDF as used by Noise: t0 = HMAC(chaining_key, data), t1 = HMAC(t0, 0x1),
 * t2 = HMAC(t0, t1 || 0x2), t3 = HMAC(t0, t2 || 0x3). Each of out1..out3 may
 * be NULL to stop there; every output is 32 bytes.
 */
void fs_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const void *data,
	    size_t datalen, const uint8_t chaining_key[FS_BLAKE2S_OUTBYTES]);

/* hash = BLAKE2s(hash || data) */
void fs_mix_hash(uint8_t hash[FS_BLAKE2S_OUTBYTES], const void *data, size_t len);

#endif
