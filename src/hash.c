// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>
#include <blake2.h>
#include <sodium.h>
#include "hash.h"

void fs_blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen,
		const void *key, size_t keylen)
{
	/* libb2 only fails on out-of-range lengths, which callers never pass. */
	blake2s(out, in, key, outlen, inlen, keylen);
}

void fs_hmac_blake2s(uint8_t out[FS_BLAKE2S_OUTBYTES], const void *in, size_t inlen,
		     const void *key, size_t keylen)
{
	uint8_t pad[FS_BLAKE2S_BLOCKBYTES] = { 0 };
	uint8_t inner[FS_BLAKE2S_OUTBYTES];
	blake2s_state state;
	size_t i;

	if (keylen > FS_BLAKE2S_BLOCKBYTES)
		fs_blake2s(pad, FS_BLAKE2S_OUTBYTES, key, keylen, NULL, 0);
	else
		memcpy(pad, key, keylen);

	for (i = 0; i < sizeof(pad); ++i)
		pad[i] ^= 0x36;
	blake2s_init(&state, FS_BLAKE2S_OUTBYTES);
	blake2s_update(&state, pad, sizeof(pad));
	blake2s_update(&state, in, inlen);
	blake2s_final(&state, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); ++i)
		pad[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&state, FS_BLAKE2S_OUTBYTES);
	blake2s_update(&state, pad, sizeof(pad));
	blake2s_update(&state, inner, sizeof(inner));
	blake2s_final(&state, out, FS_BLAKE2S_OUTBYTES);

	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&state, sizeof(state));
}

void fs_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const void *data,
	    size_t datalen, const uint8_t chaining_key[FS_BLAKE2S_OUTBYTES])
{
	uint8_t secret[FS_BLAKE2S_OUTBYTES];
	uint8_t output[FS_BLAKE2S_OUTBYTES + 1];
	uint8_t *outs[] = { out1, out2, out3 };
	size_t i;

	fs_hmac_blake2s(secret, data, datalen, chaining_key, FS_BLAKE2S_OUTBYTES);

	/* t(i) = HMAC(secret, t(i-1) || i), with t(0) empty. */
	for (i = 0; i < 3 && outs[i]; ++i) {
		size_t prev = i ? FS_BLAKE2S_OUTBYTES : 0;

		output[prev] = (uint8_t)(i + 1);
		fs_hmac_blake2s(output, output, prev + 1, secret, sizeof(secret));
		memcpy(outs[i], output, FS_BLAKE2S_OUTBYTES);
	}

	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(output, sizeof(output));
}

void fs_mix_hash(uint8_t hash[FS_BLAKE2S_OUTBYTES], const void *data, size_t len)
{
	blake2s_state state;

	blake2s_init(&state, FS_BLAKE2S_OUTBYTES);
	blake2s_update(&state, hash, FS_BLAKE2S_OUTBYTES);
	blake2s_update(&state, data, len);
	blake2s_final(&state, hash, FS_BLAKE2S_OUTBYTES);
	sodium_memzero(&state, sizeof(state));
}
