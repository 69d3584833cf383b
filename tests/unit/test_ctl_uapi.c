// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadctl's reading of UAPI answers: a get answer as wireguard-go
 * writes it (standard keys), one as flowspreadd writes it (extension keys
 * and endpoint state), newer keys skipped, the daemon's errno in either
 * sign, and malformed answers refused with a message naming the line.
 */
#include <errno.h>
#include "test_ctl.h"
#include "leakcheck.h"

static void assert_prefix(const struct fs_prefix *prefix, const char *expected)
{
	char text[FS_PREFIX_STRLEN];

	cr_assert_str_eq(fs_prefix_format(text, prefix), expected);
}

static void assert_endpoint(const union fs_sockaddr *endpoint, const char *expected)
{
	char text[FS_ENDPOINT_STRLEN];

	cr_assert_str_eq(fs_endpoint_format(text, endpoint), expected);
}

static void assert_key(const uint8_t key[WG_KEY_LEN], const char *expected_b64)
{
	char text[CTL_KEY_BASE64_LEN];

	cr_assert_str_eq(ctl_key_to_base64(text, key), expected_b64);
}

FS_LEAK_CHECKED_SUITE(ctl_uapi);

Test(ctl_uapi, wireguard_go_answer)
{
	struct ctl_device dev;
	const struct ctl_peer *a, *b;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	cr_assert(dev.has_private_key);
	assert_key(dev.private_key, PRIV_B64);
	cr_assert(dev.has_public_key);
	assert_key(dev.public_key, PRIV_PUB_B64);
	cr_assert(dev.has_listen_port);
	cr_assert_eq(dev.listen_port, 51820);
	cr_assert_eq(dev.fwmark, 66);
	cr_assert_eq(dev.n_peers, 2);

	a = &dev.peers[0];
	assert_key(a->public_key, KEY_A_B64);
	cr_assert(a->has_preshared_key);
	assert_key(a->preshared_key, PSK_B64);
	cr_assert(a->has_endpoint);
	assert_endpoint(&a->endpoint, "192.0.2.1:51820");
	cr_assert_eq(a->last_handshake_sec, 1700000000);
	cr_assert_eq(a->last_handshake_nsec, 5);
	cr_assert_eq(a->tx_bytes, 2097152);
	cr_assert_eq(a->rx_bytes, 1536);
	cr_assert_eq(a->persistent_keepalive, 25);
	cr_assert_eq(a->allowed_ips.n, 2);
	assert_prefix(&a->allowed_ips.items[0], "10.0.0.2/32");
	assert_prefix(&a->allowed_ips.items[1], "fd00::2/128");

	b = &dev.peers[1];
	assert_key(b->public_key, KEY_B_B64);
	cr_assert(!b->has_preshared_key, "an all-zero preshared key means none");
	cr_assert(!b->has_endpoint);
	cr_assert_eq(b->persistent_keepalive, 0);
	cr_assert_eq(b->allowed_ips.n, 0);
	cr_assert_eq(b->n_states, 0);
	ctl_device_free(&dev);
}

Test(ctl_uapi, no_private_key_no_public_key)
{
	struct ctl_device dev;

	ctl_test_get(&dev, "listen_port=0\nerrno=0\n\n");
	cr_assert(!dev.has_private_key);
	cr_assert(!dev.has_public_key);
	cr_assert(!dev.has_fwmark);
	cr_assert_eq(dev.n_peers, 0);
	ctl_device_free(&dev);
}

Test(ctl_uapi, extension_keys_and_endpoint_state)
{
	struct ctl_device dev;
	const struct ctl_peer *peer;

	ctl_test_get(&dev, FLOWSPREADD_ANSWER);
	cr_assert_eq(dev.spread_prefixes.n, 2);
	assert_prefix(&dev.spread_prefixes.items[0], "2001:db8:1::/64");
	assert_prefix(&dev.spread_prefixes.items[1], "198.51.100.0/28");
	cr_assert(dev.has_spread_mode);
	cr_assert_str_eq(dev.spread_mode, "addresses");
	cr_assert(dev.has_spread_ports);
	cr_assert_eq(dev.spread_ports.low, 40000);
	cr_assert_eq(dev.spread_ports.high, 40999);
	cr_assert(dev.has_spread_pairs);
	cr_assert_eq(dev.spread_pairs, 1024);
	cr_assert(dev.has_endpoint_limit);
	cr_assert_eq(dev.endpoint_limit, 8);
	cr_assert(dev.has_steer);
	cr_assert_str_eq(dev.steer, "on");
	cr_assert(dev.has_steer_qdisc);
	cr_assert_eq(dev.steer_qdisc, 0x8001);

	cr_assert_eq(dev.n_peers, 1);
	peer = &dev.peers[0];
	cr_assert_eq(peer->endpoint_alt.n, 2);
	assert_endpoint(&peer->endpoint_alt.items[0], "192.0.2.7:51820");
	assert_endpoint(&peer->endpoint_alt.items[1], "[2001:db8::2]:51821");
	cr_assert_eq(peer->spread_prefixes.n, 1);
	assert_prefix(&peer->spread_prefixes.items[0], "2001:db8:ff::/64");
	cr_assert(peer->has_spread_ports);
	cr_assert_eq(peer->spread_ports.low, 5000);
	cr_assert_eq(peer->spread_ports.high, 5999);
	cr_assert(peer->has_endpoint_count);
	cr_assert_eq(peer->endpoint_count, 3);
	cr_assert_eq(peer->n_states, 3);
	assert_endpoint(&peer->states[0].endpoint, "[2001:db8::1]:51820");
	cr_assert_str_eq(peer->states[0].origin, "configured");
	cr_assert(peer->states[0].has_age);
	cr_assert_eq(peer->states[0].age_ms, 120);
	cr_assert(peer->states[0].has_rtt);
	cr_assert_eq(peer->states[0].rtt_us, 3500);
	cr_assert_str_eq(peer->states[0].state, "active");
	cr_assert(!peer->states[1].has_age);
	cr_assert(!peer->states[1].has_rtt);
	cr_assert_str_eq(peer->states[1].state, "untried");
	cr_assert_str_eq(peer->states[2].origin, "learned");
	cr_assert_eq(peer->states[2].age_ms, 98000);
	cr_assert(!peer->states[2].has_rtt);
	cr_assert_str_eq(peer->states[2].state, "stale");
	ctl_device_free(&dev);
}

Test(ctl_uapi, unknown_keys_are_skipped)
{
	struct ctl_device dev;

	/* Keys of a newer daemon, and a device key inside a peer block (wg skips it too). */
	ctl_test_get(&dev,
		     "listen_port=1\n"
		     "future_device_key=whatever it is\n"
		     "public_key=" KEY_A_HEX "\n"
		     "future_peer_key=1,2,3\n"
		     "listen_port=2\n"
		     "fwmark=7\n"
		     "errno=0\n\n");
	cr_assert_eq(dev.listen_port, 1);
	cr_assert(!dev.has_fwmark);
	cr_assert_eq(dev.n_peers, 1);
	ctl_device_free(&dev);
}

Test(ctl_uapi, daemon_errno_either_sign)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;
	static const char minus[] = "errno=-22\n\n", plus[] = "errno=22\n\n";

	ctl_device_init(&dev);
	cr_assert_eq(ctl_uapi_parse_get(&dev, minus, strlen(minus), err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "errno=-22 (Invalid argument)");
	ctl_device_free(&dev);
	ctl_device_init(&dev);
	cr_assert_eq(ctl_uapi_parse_get(&dev, plus, strlen(plus), err, sizeof(err)), -EINVAL);
	ctl_device_free(&dev);
}

Test(ctl_uapi, set_answers)
{
	cr_assert_eq(ctl_uapi_parse_errno("errno=0\n\n", 9), 0);
	cr_assert_eq(ctl_uapi_parse_errno("errno=-22\n\n", 11), -EINVAL);
	cr_assert_eq(ctl_uapi_parse_errno("errno=22\n\n", 10), -EINVAL);
	cr_assert_eq(ctl_uapi_parse_errno("errno=-5\n", 9), -EIO);
	cr_assert_eq(ctl_uapi_parse_errno("errno=\n\n", 8), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_errno("errno=x\n\n", 9), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_errno("errno=0", 7), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_errno("\n", 1), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_errno("", 0), -EPROTO);
}

static void assert_malformed(const char *answer, const char *expected)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;

	ctl_test_init();
	ctl_device_init(&dev);
	cr_assert_eq(ctl_uapi_parse_get(&dev, answer, strlen(answer), err, sizeof(err)), -EPROTO,
		     "accepted: %s", answer);
	cr_assert_str_eq(err, expected, "\n  got      %s\n  expected %s", err, expected);
	ctl_device_free(&dev);
}

Test(ctl_uapi, malformed_answers)
{
	assert_malformed("listen_port=1\n\n", "no errno line at the end");
	assert_malformed("listen_port=1\nerrno=0", "line 2: cut short");
	assert_malformed("listen_port=65536\nerrno=0\n\n",
			 "line 1: listen_port=\"65536\" is malformed");
	assert_malformed("listen_port\nerrno=0\n\n", "line 1: \"listen_port\": expected KEY=VALUE");
	assert_malformed("public_key=" KEY_A_B64 "\nerrno=0\n\n",
			 "line 1: public_key=\"" KEY_A_B64 "\" is malformed");
	assert_malformed("public_key=" KEY_A_HEX "\nallowed_ip=10.0.0.1\nerrno=0\n\n",
			 "line 2: allowed_ip=\"10.0.0.1\" is malformed");
	assert_malformed("public_key=" KEY_A_HEX "\nendpoint_state=192.0.2.1:1,learned,1,2\n"
			 "errno=0\n\n",
			 "line 2: endpoint_state=\"192.0.2.1:1,learned,1,2\" is malformed");
	assert_malformed("public_key=" KEY_A_HEX "\nendpoint=somewhere:1\nerrno=0\n\n",
			 "line 2: endpoint=\"somewhere:1\" is malformed");
	/* Secrets stay out of messages. */
	assert_malformed("private_key=" PRIV_HEX "0\nerrno=0\n\n",
			 "line 1: private_key is malformed (a secret: not shown)");
	assert_malformed("public_key=" KEY_A_HEX "\npreshared_key=zz\nerrno=0\n\n",
			 "line 2: preshared_key is malformed (a secret: not shown)");
}

Test(ctl_uapi, interface_names)
{
	cr_assert(ctl_uapi_valid_name("wg0"));
	cr_assert(ctl_uapi_valid_name("fifteen-chars15"));
	cr_assert(!ctl_uapi_valid_name("sixteen-chars-16"));
	cr_assert(!ctl_uapi_valid_name(""));
	cr_assert(!ctl_uapi_valid_name("../etc/x"));
	cr_assert(!ctl_uapi_valid_name(".."));
}

Test(ctl_uapi, keys_in_both_encodings)
{
	uint8_t key[WG_KEY_LEN];
	char hex[CTL_KEY_HEX_LEN];

	ctl_test_init();
	cr_assert(ctl_key_from_base64(key, KEY_C_B64));
	cr_assert_str_eq(ctl_key_to_hex(hex, key), KEY_C_HEX);
	cr_assert(ctl_key_from_hex(key, PSK_HEX));
	assert_key(key, PSK_B64);
	/* 43 characters; no padding; nonzero unused bits (wg refuses these too). */
	cr_assert(!ctl_key_from_base64(key, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"));
	cr_assert(!ctl_key_from_base64(key, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAA"));
	cr_assert(!ctl_key_from_base64(key, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyB="));
	cr_assert(!ctl_key_from_hex(key, KEY_A_HEX "00"));
	cr_assert(!ctl_key_from_hex(key, "g102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"));
}
