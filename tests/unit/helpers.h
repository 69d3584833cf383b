/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared fixtures of the unit tests: hex decoding and comparison, and two
 * ends of a tunnel built in one process.
 *
 * A "side" is one WireGuard device reduced to what the core needs: an
 * identity, an index table and its view of the other side (a peer). A
 * "pair" is two sides that know each other; fs_test_handshake() runs a
 * whole handshake between them through the public API only, asserting
 * every step, so a test that needs keypairs can start from working ones.
 */
#ifndef FLOWSPREAD_TESTS_UNIT_HELPERS_H
#define FLOWSPREAD_TESTS_UNIT_HELPERS_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "clock.h"
#include "cookie.h"
#include "index.h"
#include "messages.h"
#include "noise.h"
#include "tai64n.h"

static inline void fs_test_sodium_init(void)
{
	cr_assert_geq(sodium_init(), 0, "sodium_init failed");
}

static inline int fs_test_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly len bytes from hex; a malformed constant fails the test. */
static inline void fs_test_unhex(uint8_t *out, size_t len, const char *hex)
{
	cr_assert_eq(strlen(hex), 2 * len, "hex constant has %zu digits, want %zu",
		     strlen(hex), 2 * len);
	for (size_t i = 0; i < len; ++i) {
		int hi = fs_test_nibble(hex[2 * i]), lo = fs_test_nibble(hex[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "bad hex digit near offset %zu", 2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* out must hold 2 * len + 1 characters. */
static inline void fs_test_tohex(char *out, const void *in, size_t len)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < len; ++i)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * len] = '\0';
}

static inline void fs_test_assert_bytes(const void *actual, const void *expected, size_t len,
					const char *what, const char *file, int line)
{
	char a[2 * 256 + 1], e[2 * 256 + 1];

	if (!memcmp(actual, expected, len))
		return;
	fs_test_tohex(a, actual, len < 256 ? len : 256);
	fs_test_tohex(e, expected, len < 256 ? len : 256);
	cr_assert_fail("%s:%d: %s differs\n  actual   %s\n  expected %s", file, line, what, a, e);
}

static inline void fs_test_assert_hex(const void *actual, size_t len, const char *hex,
				      const char *what, const char *file, int line)
{
	uint8_t expected[4096];

	cr_assert_leq(len, sizeof(expected));
	fs_test_unhex(expected, len, hex);
	fs_test_assert_bytes(actual, expected, len, what, file, line);
}

/* Asserts that len bytes at actual equal the bytes the hex string spells. */
#define fs_assert_hex(actual, len, hex) \
	fs_test_assert_hex((actual), (len), (hex), #actual, __FILE__, __LINE__)
#define fs_assert_bytes(actual, expected, len) \
	fs_test_assert_bytes((actual), (expected), (len), #actual, __FILE__, __LINE__)

static inline bool fs_test_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; ++i)
		if (b[i])
			return false;
	return true;
}

static inline uint32_t fs_test_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fs_test_le64(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)fs_test_le32(b) | (uint64_t)fs_test_le32(b + 4) << 32;
}

/* A small deterministic generator (xorshift64*) so random tests repeat. */
static inline uint64_t fs_test_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/* A source address as recvmsg gives it; port in host order here. */
static inline struct sockaddr_in fs_test_addr4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1, "bad test address %s", ip);
	return sin;
}

static inline struct sockaddr_in6 fs_test_addr6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1, "bad test address %s", ip);
	return sin6;
}

/* Seconds as CLOCK_BOOTTIME nanoseconds, the unit of every "now". */
#define FS_TEST_SEC(s) ((uint64_t)(s) * FS_NSEC_PER_SEC)

/* --- two ends of a tunnel ------------------------------------------------- */

struct fs_test_side {
	struct fs_noise_identity *identity;
	struct fs_index_table *table;
	struct fs_noise_peer *peer;	/* this side's view of the other side */
};

struct fs_test_pair {
	struct fs_test_side a, b;
	uint64_t unix_seconds;		/* timestamp of the next initiation */
};

static inline struct fs_noise_identity *fs_test_identity_new(void)
{
	struct fs_noise_identity *identity = fs_noise_identity_new();
	uint8_t private_key[WG_KEY_LEN];

	cr_assert_not_null(identity, "fs_noise_identity_new");
	fs_noise_generate_private(private_key);
	cr_assert(fs_noise_identity_set_private(identity, private_key),
		  "fs_noise_identity_set_private rejected a generated key");
	cr_assert(identity->has_identity);
	sodium_memzero(private_key, sizeof(private_key));
	return identity;
}

/* The lookup callback of fs_noise_consume_initiation: ctx is the responder side. */
static inline struct fs_noise_peer *fs_test_lookup(void *ctx,
						   const uint8_t remote_static[WG_KEY_LEN])
{
	struct fs_test_side *side = ctx;

	if (side->peer && !memcmp(side->peer->handshake.remote_static, remote_static, WG_KEY_LEN))
		return side->peer;
	return NULL;
}

static inline struct fs_noise_peer *fs_test_lookup_nobody(void *ctx,
							  const uint8_t remote_static[WG_KEY_LEN])
{
	(void)ctx;
	(void)remote_static;
	return NULL;
}

/*
 * Two identities, one index table each, and a peer on each side naming the
 * other. psk_a and psk_b are each side's preshared key (NULL: none).
 */
static inline void fs_test_pair_init_psk(struct fs_test_pair *pair, const uint8_t *psk_a,
					 const uint8_t *psk_b)
{
	fs_test_sodium_init();
	memset(pair, 0, sizeof(*pair));
	pair->unix_seconds = UINT64_C(1600000000);
	pair->a.identity = fs_test_identity_new();
	pair->b.identity = fs_test_identity_new();
	pair->a.table = fs_index_table_new();
	pair->b.table = fs_index_table_new();
	cr_assert(pair->a.table && pair->b.table, "fs_index_table_new");
	pair->a.peer = fs_noise_peer_new(pair->a.identity, pair->b.identity->public_key, psk_a,
					 &pair->a);
	pair->b.peer = fs_noise_peer_new(pair->b.identity, pair->a.identity->public_key, psk_b,
					 &pair->b);
	cr_assert(pair->a.peer && pair->b.peer, "fs_noise_peer_new");
}

static inline void fs_test_pair_init(struct fs_test_pair *pair)
{
	fs_test_pair_init_psk(pair, NULL, NULL);
}

static inline void fs_test_side_free(struct fs_test_side *side)
{
	if (side->peer)
		fs_noise_peer_free(side->peer, side->table);
	if (side->table) {
		cr_expect_eq(fs_index_count(side->table), 0,
			     "index table still holds %zu entries after the peer was freed",
			     fs_index_count(side->table));
		fs_index_table_free(side->table);
	}
	if (side->identity)
		fs_noise_identity_free(side->identity);
	memset(side, 0, sizeof(*side));
}

static inline void fs_test_pair_free(struct fs_test_pair *pair)
{
	fs_test_side_free(&pair->a);
	fs_test_side_free(&pair->b);
}

/* A fresh timestamp for the pair's next initiation, one second later each time. */
static inline void fs_test_next_timestamp(struct fs_test_pair *pair,
					  uint8_t timestamp[WG_TIMESTAMP_LEN])
{
	fs_tai64n_from(timestamp, pair->unix_seconds++, 0);
}

/*
 * A whole handshake from "from" (initiator) to "to" (responder) at time
 * now, with macs made and checked as the daemon would. Both sides begin
 * their session; the responder's keypair waits in "next".
 */
static inline void fs_test_handshake_between(struct fs_test_pair *pair,
					     struct fs_test_side *from, struct fs_test_side *to,
					     uint64_t now)
{
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct fs_cookie_checker to_checker, from_checker;
	struct sockaddr_in from_addr = fs_test_addr4("192.0.2.1", 51820);
	struct sockaddr_in to_addr = fs_test_addr4("198.51.100.2", 51820);
	uint8_t timestamp[WG_TIMESTAMP_LEN];

	fs_cookie_checker_init(&to_checker, to->identity->public_key);
	fs_cookie_checker_init(&from_checker, from->identity->public_key);

	fs_test_next_timestamp(pair, timestamp);
	cr_assert(fs_noise_create_initiation(from->peer, &initiation, from->table, timestamp),
		  "create_initiation");
	fs_cookie_add_macs(&from->peer->cookie, &initiation, sizeof(initiation), now);
	cr_assert_eq(fs_cookie_validate(&to_checker, &initiation, sizeof(initiation),
					(struct sockaddr *)&from_addr, false,
					now),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "initiation mac1");
	cr_assert_eq(fs_noise_consume_initiation(&initiation, to->identity, fs_test_lookup, to, now),
		     to->peer, "consume_initiation");
	cr_assert(fs_noise_create_response(to->peer, &response, to->table), "create_response");
	fs_cookie_add_macs(&to->peer->cookie, &response, sizeof(response), now);
	cr_assert_eq(fs_cookie_validate(&from_checker, &response, sizeof(response),
					(struct sockaddr *)&to_addr, false,
					now),
		     FS_COOKIE_VALID_MAC_BUT_NO_COOKIE, "response mac1");
	cr_assert_eq(fs_noise_consume_response(&response, from->identity, from->table), from->peer,
		     "consume_response");
	cr_assert(fs_noise_begin_session(from->peer, from->table, now), "initiator begin_session");
	cr_assert(fs_noise_begin_session(to->peer, to->table, now), "responder begin_session");
}

/* a initiates to b. */
static inline void fs_test_handshake(struct fs_test_pair *pair, uint64_t now)
{
	fs_test_handshake_between(pair, &pair->a, &pair->b, now);
}

/* --- a handshake computed outside this project ---------------------------- */

/*
 * Known answers for the whole protocol, made by an independent Python
 * implementation of whitepaper section 5.4: hashlib.blake2s (Python's own
 * BLAKE2, not libb2), X25519 and ChaCha20-Poly1305 from the 'cryptography'
 * package (OpenSSL, not libsodium), and HChaCha20 written out from
 * draft-irtf-cfrg-xchacha (checked against its section 2.2.1 vector).
 * Fixed keys, ephemerals, indices and timestamp; the initiation and
 * response carry mac1 and a zero mac2. The script, abridged to its
 * computation (the C constants are the hex of its variables):
 *
 * # Independent WireGuard v1 reference (whitepaper section 5.4) built from
 * # Python's hashlib.blake2s and the 'cryptography' package (OpenSSL X25519 and
 * # ChaCha20-Poly1305); HChaCha20 is written out from draft-irtf-cfrg-xchacha.
 * import hashlib, hmac, struct
 * from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
 * from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
 * from cryptography.hazmat.primitives import serialization as ser
 *
 * def HASH(b): return hashlib.blake2s(b).digest()
 * def MAC(k, b): return hashlib.blake2s(b, key=k, digest_size=16).digest()
 * def HMAC(k, b): return hmac.new(k, b, hashlib.blake2s).digest()
 * def KDF(n, ck, data):
 *     t0 = HMAC(ck, data); out = []; prev = b""
 *     for i in range(1, n + 1):
 *         prev = HMAC(t0, prev + bytes([i])); out.append(prev)
 *     return out
 * def pub(priv):
 *     return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
 * def DH(priv, pubk):
 *     return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pubk))
 * def AEAD(k, ctr, pt, ad):
 *     return ChaCha20Poly1305(k).encrypt(b"\0" * 4 + struct.pack("<Q", ctr), pt, ad)
 *
 * def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
 * def qr(s, a, b, c, d):
 *     s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
 *     s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
 *     s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
 *     s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
 * def hchacha20(key, nonce16):
 *     s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
 *     for _ in range(10):
 *         qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
 *         qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
 *     return struct.pack("<8I", *(s[0:4] + s[12:16]))
 * def XAEAD(k, nonce24, pt, ad):
 *     return ChaCha20Poly1305(hchacha20(k, nonce24[:16])).encrypt(b"\0" * 4 + nonce24[16:], pt, ad)
 * # draft-irtf-cfrg-xchacha-03 section 2.2.1
 * assert hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927")).hex() == \
 *     "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
 *
 * CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
 * IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
 *
 * def tai64n(sec, ns): return struct.pack(">QI", (1 << 62) + 10 + sec, ns)
 *
 * S_i = bytes([0x10 + i for i in range(32)])
 * S_r = bytes([0x40 + i for i in range(32)])
 * E_i = bytes([0x70 + i for i in range(32)])
 * E_r = bytes([0xa0 + i for i in range(32)])
 * PSK = bytes([0xd0 ^ i for i in range(32)])
 * IDX_I, IDX_R = 0x11223344, 0x55667788
 * TS = tai64n(1700000000, 5 << 24)
 * Sp_i, Sp_r, Ep_i, Ep_r = pub(S_i), pub(S_r), pub(E_i), pub(E_r)
 *
 * C = HASH(CONSTRUCTION); H = HASH(C + IDENTIFIER); H = HASH(H + Sp_r)
 * C = KDF(1, C, Ep_i)[0]; H = HASH(H + Ep_i)
 * C, k = KDF(2, C, DH(E_i, Sp_r)); enc_static = AEAD(k, 0, Sp_i, H); H = HASH(H + enc_static)
 * C, k = KDF(2, C, DH(S_i, Sp_r)); enc_ts = AEAD(k, 0, TS, H); H = HASH(H + enc_ts)
 * init = struct.pack("<II", 1, IDX_I) + Ep_i + enc_static + enc_ts
 * init_mac1 = MAC(HASH(b"mac1----" + Sp_r), init)
 * init_msg = init + init_mac1 + bytes(16)
 * H_after_init, C_after_init = H, C
 *
 * C = KDF(1, C, Ep_r)[0]; H = HASH(H + Ep_r)
 * C = KDF(1, C, DH(E_r, Ep_i))[0]
 * C = KDF(1, C, DH(E_r, Sp_i))[0]
 * C, t, k = KDF(3, C, PSK); H = HASH(H + t)
 * enc_nothing = AEAD(k, 0, b"", H); H = HASH(H + enc_nothing)
 * resp = struct.pack("<III", 2, IDX_R, IDX_I) + Ep_r + enc_nothing
 * resp_mac1 = MAC(HASH(b"mac1----" + Sp_i), resp)
 * resp_msg = resp + resp_mac1 + bytes(16)
 * T_i_send, T_i_recv = KDF(2, C, b"")
 *
 * # Data messages: initiator -> responder "hello" (padded to 16), counter 0;
 * # responder -> initiator "hi!" (padded to 16), counter 7.
 * def data(receiver, ctr, key, pt):
 *     pt = pt + bytes(-len(pt) % 16)
 *     return struct.pack("<IIQ", 4, receiver, ctr) + AEAD(key, ctr, pt, b"")
 * data_i = data(IDX_R, 0, T_i_send, b"hello")
 * data_r = data(IDX_I, 7, T_i_recv, b"hi!")
 *
 * # A cookie reply to the initiation, as a responder would send it: cookie
 * # "tau" under XChaCha20-Poly1305 keyed by HASH("cookie--" || Sp_r), with the
 * # initiation's mac1 as additional data. Then the initiation's mac2 with it.
 * TAU = bytes([0xc0 + i for i in range(16)])
 * NONCE = bytes([0x30 + i for i in range(24)])
 * cookie_msg = struct.pack("<II", 3, IDX_I) + NONCE + XAEAD(HASH(b"cookie--" + Sp_r), NONCE, TAU, init_mac1)
 * init_mac2 = MAC(TAU, init + init_mac1)
 *
 * KAT_S_I = S_i, KAT_SPUB_I = Sp_i, KAT_EPUB_I = Ep_i, KAT_TS = TS,
 * KAT_INITIATION = init_msg, KAT_RESPONSE = resp_msg, KAT_H_INIT and
 * KAT_C_INIT = H_after_init and C_after_init, KAT_T_I_SEND/RECV =
 * T_i_send/recv, KAT_DATA_I/R = data_i/r, KAT_TAU = TAU,
 * KAT_COOKIE_REPLY = cookie_msg, KAT_INIT_MAC2 = init_mac2;
 * KAT_DATA_R_REJECT_MINUS_1 and KAT_DATA_R_REJECT are data(IDX_I, n,
 * T_i_recv, b"x") with n = 2^64 - 8130 - 1 and 2^64 - 8130.
 */
#define KAT_IDX_I UINT32_C(0x11223344)
#define KAT_IDX_R UINT32_C(0x55667788)
#define KAT_UNIX_SECONDS UINT64_C(1700000000)
#define KAT_NANOSECONDS (5U << 24)
#define KAT_S_I \
	"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define KAT_S_R \
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
#define KAT_E_I \
	"707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f"
#define KAT_PSK \
	"d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define KAT_SPUB_I \
	"d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66"
#define KAT_SPUB_R \
	"79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
#define KAT_EPUB_I \
	"23b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c4823"
#define KAT_TS \
	"400000006553f10a05000000"
#define KAT_INITIATION \
	"010000004433221123b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49" \
	"f57e7c7dcd4c48237c9f087a47c7776566936c12f69cdefeb0172eed5225b21f" \
	"fd5b64d7cbdcc06f5db9067ffb754a97052851ac628edb82dd2c601dbc2df93c" \
	"6028bd96455e90e5387a470f93096caa38f9cfbc4b2f5ed0e59bfe5852eefbcf" \
	"e5df413800000000000000000000000000000000"
#define KAT_H_INIT \
	"cb814846ae15425db6bc3fbceeb7209d0a42742e65dcdfcbcfad45427db7d3cf"
#define KAT_C_INIT \
	"5f001477c0d98ef18fa6239d23fe85daf88296b78da4f828abc8a73e2ac12fef"
#define KAT_RESPONSE \
	"020000008877665544332211605a725d2a4adfeeb1a29e17edd621c1b7593ee8" \
	"cdbc44ac6c4ab6e2f805d23c9e7c4ffdd371de50d4d0fda913d126c4d2adf79a" \
	"5edf3fc93d969430acac88f200000000000000000000000000000000"
#define KAT_T_I_SEND \
	"251cb3c32e2dcf53e6671b469b3034e41cc2777de0fcdc7ea8e910254c23b8bc"
#define KAT_T_I_RECV \
	"e9437717c4e6db2611f745b9af2090ec53dad72558a04c195dfaf8aaf94ad887"
#define KAT_DATA_I \
	"040000008877665500000000000000007d11e644602b786f771684e0c9a39661" \
	"9fb135d7c633437cdf862d422f212bd1"
#define KAT_DATA_R \
	"0400000044332211070000000000000064121906197d593ef6a347a9230111f5" \
	"c607165e0ccaadd0e5668e4999542dc7"
#define KAT_TAU \
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define KAT_COOKIE_REPLY \
	"0300000044332211303132333435363738393a3b3c3d3e3f4041424344454647" \
	"ab0023cc9adc986dac04ab9ffb8305d77472641a64b216e601406c9be6ab7af0"
#define KAT_INIT_MAC2 \
	"8878d0acfceb9c16949cdc39b41a08f8"
#define KAT_DATA_R_REJECT_MINUS_1 \
	"04000000443322113de0ffffffffffffae1ae5ff6b094745733628c17eecefb0" \
	"ecd9c28b101aef3da079fa601ec058aa"
#define KAT_DATA_R_REJECT \
	"04000000443322113ee0ffffffffffff01b6d6a3e1cf906497aa4b52f1705f25" \
	"bed315254b16e0d56667ef2124591cd1"

static inline uint32_t fs_test_fixed_index(void *ctx)
{
	return *(const uint32_t *)ctx;
}

/* A table whose next index is always *index (the caller keeps it alive). */
static inline struct fs_index_table *fs_test_table_fixed(const uint32_t *index)
{
	struct fs_index_table *table = fs_index_table_new();

	cr_assert_not_null(table);
	fs_index_table_set_random(table, fs_test_fixed_index, (void *)index);
	return table;
}

static inline struct fs_noise_identity *fs_test_identity_from_hex(const char *private_hex,
								  const char *public_hex)
{
	struct fs_noise_identity *identity = fs_noise_identity_new();
	uint8_t private_key[WG_KEY_LEN];

	cr_assert_not_null(identity);
	fs_test_unhex(private_key, sizeof(private_key), private_hex);
	cr_assert(fs_noise_identity_set_private(identity, private_key));
	fs_assert_hex(identity->public_key, WG_KEY_LEN, public_hex);
	return identity;
}

/*
 * The KAT initiator right after it sent KAT_INITIATION: a real
 * fs_noise_create_initiation() under index KAT_IDX_I, whose random
 * ephemeral and transcript are then replaced by the script's, since the
 * API has no way to choose the ephemeral key.
 */
static inline void fs_test_kat_initiator(struct fs_test_side *side, const uint32_t *index)
{
	struct wg_message_handshake_initiation ignored;
	uint8_t remote[WG_KEY_LEN], psk[WG_KEY_LEN], timestamp[WG_TIMESTAMP_LEN];

	fs_test_sodium_init();
	side->identity = fs_test_identity_from_hex(KAT_S_I, KAT_SPUB_I);
	side->table = fs_test_table_fixed(index);
	fs_test_unhex(remote, sizeof(remote), KAT_SPUB_R);
	fs_test_unhex(psk, sizeof(psk), KAT_PSK);
	side->peer = fs_noise_peer_new(side->identity, remote, psk, side);
	cr_assert_not_null(side->peer);
	fs_tai64n_from(timestamp, KAT_UNIX_SECONDS, KAT_NANOSECONDS);
	cr_assert(fs_noise_create_initiation(side->peer, &ignored, side->table, timestamp));
	cr_assert_eq(fs_test_le32(&ignored.sender_index), KAT_IDX_I);
	fs_test_unhex(side->peer->handshake.ephemeral_private, WG_KEY_LEN, KAT_E_I);
	fs_test_unhex(side->peer->handshake.hash, WG_HASH_LEN, KAT_H_INIT);
	fs_test_unhex(side->peer->handshake.chaining_key, WG_HASH_LEN, KAT_C_INIT);
}

/* The KAT initiator with its session begun from KAT_RESPONSE. */
static inline void fs_test_kat_initiator_session(struct fs_test_side *side, const uint32_t *index,
						 uint64_t now)
{
	struct wg_message_handshake_response response;

	fs_test_kat_initiator(side, index);
	fs_test_unhex((uint8_t *)&response, sizeof(response), KAT_RESPONSE);
	cr_assert_eq(fs_noise_consume_response(&response, side->identity, side->table), side->peer,
		     "the independently computed response was refused");
	cr_assert(fs_noise_begin_session(side->peer, side->table, now));
	cr_assert_not_null(side->peer->current);
}

#endif
