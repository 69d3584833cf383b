// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * BLAKE2s, HMAC-BLAKE2s and the Noise HKDF against values from outside this
 * project: RFC 7693 Appendix B, the BLAKE2 authors' keyed KAT file
 * (blake2s-kat.txt: key 00 01 .. 1f, input 00 01 .. n-1) and Python's own
 * BLAKE2s (hashlib, not libb2) for the compositions.
 */
#include "helpers.h"
#include "hash.h"
#include "leakcheck.h"

static void seq(uint8_t *buf, size_t len, uint8_t start)
{
	for (size_t i = 0; i < len; ++i)
		buf[i] = (uint8_t)(start + i);
}

FS_LEAK_CHECKED_SUITE(hash);

Test(hash, blake2s_rfc7693_abc)
{
	uint8_t out[32];

	/* RFC 7693 Appendix B. */
	fs_blake2s(out, sizeof(out), "abc", 3, NULL, 0);
	fs_assert_hex(out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

Test(hash, blake2s_empty_unkeyed)
{
	uint8_t out[32];

	/* python3: hashlib.blake2s(b"").hexdigest() */
	fs_blake2s(out, sizeof(out), "", 0, NULL, 0);
	fs_assert_hex(out, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

Test(hash, blake2s_keyed_kat)
{
	/*
	 * blake2s-kat.txt, keyed section (entry 0 and 255 checked against the
	 * file; all reproduced by hashlib.blake2s(bytes(range(n)), key=bytes(range(32)))).
	 */
	static const struct {
		size_t len;
		const char *hash;
	} kat[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		{ 2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803" },
		{ 63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
		{ 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
		{ 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
		{ 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t key[32], in[255], out[32];

	seq(key, sizeof(key), 0);
	seq(in, sizeof(in), 0);
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); ++i) {
		fs_blake2s(out, sizeof(out), in, kat[i].len, key, sizeof(key));
		cr_log_info("keyed KAT, input length %zu", kat[i].len);
		fs_assert_hex(out, 32, kat[i].hash);
	}
}

Test(hash, blake2s_short_output_is_not_a_prefix)
{
	uint8_t out16[16], key[32], in[65], out1[1];

	/* The output length is part of the parameter block: mac1 relies on it. */
	/* python3: hashlib.blake2s(b"abc", digest_size=16) */
	fs_blake2s(out16, sizeof(out16), "abc", 3, NULL, 0);
	fs_assert_hex(out16, 16, "aa4938119b1dc7b87cbad0ffd200d0ae");

	/* python3: hashlib.blake2s(bytes(range(65)), key=bytes(range(32)), digest_size=16) */
	seq(key, sizeof(key), 0);
	seq(in, sizeof(in), 0);
	fs_blake2s(out16, sizeof(out16), in, sizeof(in), key, sizeof(key));
	fs_assert_hex(out16, 16, "811ff8686d23a435ecbd0bdafcd27b1b");

	/* python3: hashlib.blake2s(b"", key=b"\x01", digest_size=1) */
	fs_blake2s(out1, 1, "", 0, "\x01", 1);
	fs_assert_hex(out1, 1, "31");
}

/* python3: hmac.new(key, msg, hashlib.blake2s).hexdigest() for each row. */
Test(hash, hmac_blake2s_vectors)
{
	static const struct {
		size_t keylen;	/* key is bytes(range(keylen)) unless text is set */
		const char *keytext;
		size_t msglen;	/* message is bytes(range(msglen)) unless text is set */
		const char *msgtext;
		const char *mac;
	} vec[] = {
		{ 3, "key", 43, "The quick brown fox jumps over the lazy dog",
		  "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0" },
		{ 32, NULL, 100, NULL,
		  "a81c95080ba2a7c4ed1b7b4c21dec2c4fd6dc9f03ff37b6d65289dc95a7d1ef1" },
		/* exactly one block: used as is */
		{ 64, NULL, 3, "msg",
		  "a5dc3951538c6666a6b803261613e59a75dace58b6614a5f9d019f080ac34a21" },
		/* longer than a block: hashed first */
		{ 65, NULL, 3, "msg",
		  "04baa328d2828e3450c93cc9475355b1bf0696e958388203df730a1f9ffc3111" },
		{ 100, NULL, 54, "Test Using Larger Than Block-Size Key - Hash Key First",
		  "c46ad3379b536bbc91e93e33fa0a1d292913ad21d84d0c62dd64502f02c59e0f" },
		{ 0, "", 0, "",
		  "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd" },
	};
	uint8_t key[128], msg[128], out[32];

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); ++i) {
		if (vec[i].keytext)
			memcpy(key, vec[i].keytext, vec[i].keylen);
		else
			seq(key, vec[i].keylen, 0);
		if (vec[i].msgtext)
			memcpy(msg, vec[i].msgtext, vec[i].msglen);
		else
			seq(msg, vec[i].msglen, 0);
		cr_log_info("HMAC row %zu: key %zu bytes, message %zu bytes", i, vec[i].keylen,
			    vec[i].msglen);
		fs_hmac_blake2s(out, msg, vec[i].msglen, key, vec[i].keylen);
		fs_assert_hex(out, 32, vec[i].mac);
	}
}

/*
 * python3, with HMAC as above:
 *   t0 = HMAC(ck, data); t1 = HMAC(t0, b"\x01"); t2 = HMAC(t0, t1 + b"\x02");
 *   t3 = HMAC(t0, t2 + b"\x03")   where ck = bytes(range(32)).
 */
Test(hash, kdf_vectors)
{
	static const struct {
		size_t datalen;	/* data is bytes(range(0x20, 0x20 + datalen)) or bytes(range(200)) */
		uint8_t start;
		const char *t1, *t2, *t3;
	} vec[] = {
		{ 0, 0, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
		  "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
		  "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f" },
		{ 32, 0x20, "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0",
		  "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5",
		  "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9" },
		{ 200, 0, "840b571d3e9d34f76ef19bbb25b552774124ce653961ff3d79d4b206ad853ff4",
		  "4b22976365f5cb1ffe7a5962d2373cae0e29b7fb8b99977e05d5c420678a5bb8",
		  "fa90dc4ce826978029a9c9d60369026121df255340fe54fc38a2b1ec7d5b6f55" },
	};
	uint8_t ck[32], data[200], t1[32], t2[32], t3[32], only1[32], two1[32], two2[32];

	seq(ck, sizeof(ck), 0);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); ++i) {
		seq(data, vec[i].datalen, vec[i].start);
		cr_log_info("KDF row %zu: %zu bytes of data", i, vec[i].datalen);
		fs_kdf(t1, t2, t3, data, vec[i].datalen, ck);
		fs_assert_hex(t1, 32, vec[i].t1);
		fs_assert_hex(t2, 32, vec[i].t2);
		fs_assert_hex(t3, 32, vec[i].t3);
		/* KDF1 and KDF2 are prefixes of KDF3. */
		fs_kdf(only1, NULL, NULL, data, vec[i].datalen, ck);
		fs_assert_hex(only1, 32, vec[i].t1);
		fs_kdf(two1, two2, NULL, data, vec[i].datalen, ck);
		fs_assert_hex(two1, 32, vec[i].t1);
		fs_assert_hex(two2, 32, vec[i].t2);
	}
}

Test(hash, kdf_null_output_stops_the_chain)
{
	uint8_t ck[32], t1[32], t3[32], untouched[32];

	seq(ck, sizeof(ck), 0);
	memset(t3, 0xa5, sizeof(t3));
	memset(untouched, 0xa5, sizeof(untouched));
	fs_kdf(t1, NULL, t3, "", 0, ck);
	fs_assert_hex(t1, 32, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624");
	fs_assert_bytes(t3, untouched, 32);
}

Test(hash, mix_hash_and_noise_initial_values)
{
	uint8_t h[32], c[32];
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

	/* python3: blake2s(blake2s(b"abc").digest() + b"def") */
	fs_blake2s(h, sizeof(h), "abc", 3, NULL, 0);
	fs_mix_hash(h, "def", 3);
	fs_assert_hex(h, 32, "98b52f487c0fdef263567f4de5ed89f419625c8d24d8a0b199f781d2d05bb23a");

	/*
	 * The handshake's initial chaining key and hash (whitepaper 5.4.2),
	 * as wireguard-go also spells them out; recomputed with hashlib.
	 */
	fs_blake2s(c, sizeof(c), construction, strlen(construction), NULL, 0);
	fs_assert_hex(c, 32, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	memcpy(h, c, sizeof(h));
	fs_mix_hash(h, identifier, strlen(identifier));
	fs_assert_hex(h, 32, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}
