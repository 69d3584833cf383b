// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadctl's reading of UAPI answers: a get answer as wireguard-go
 * writes it (standard keys), one as flowspreadd writes it (extension keys
 * and endpoint state), newer keys skipped, the daemon's errno in either
 * sign, and malformed answers refused with a message naming the line; a
 * large answer (400k allowed IPs) read from a socket and parsed whole; the
 * answer to a set, with and without the reasons of a refusal, and what the
 * user reads of them.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
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

/* The answer to a set must parse; what the user reads of it for interface wg0, malloc'd. */
static char *refusal_text(const char *answer, size_t len, struct ctl_set_answer *parsed)
{
	char *out = NULL;

	cr_assert_eq(ctl_uapi_parse_set_answer(parsed, answer, len), 0, "refused: %s", answer);
	CTL_TEST_CAPTURE(out, ctl_uapi_print_refusal(f, "wg0", parsed));
	return out;
}

Test(ctl_uapi, a_refusal_without_reasons_names_the_errno_and_the_log)
{
	static const char answer[] = "errno=-22\n\n";
	struct ctl_set_answer parsed;
	char *text = refusal_text(answer, sizeof(answer) - 1, &parsed);

	cr_assert_eq(parsed.daemon_errno, -EINVAL);
	cr_assert_eq(parsed.n_reasons, 0);
	ctl_assert_text(text, "flowspreadctl: interface wg0: its daemon refused the change: "
			"Invalid argument (errno=-22) (the daemon's log has the reason: "
			"journalctl -u flowspreadd@wg0, or syslog when wg-quick started it)\n");
	free(text);
	ctl_set_answer_free(&parsed);
}

Test(ctl_uapi, each_reason_is_printed)
{
	static const char answer[] =
		"error=cannot listen on UDP port 40010 of spread_ports=40000-40063: "
		"Address already in use\n"
		"error=spread_prefix \"2001:db8::/64\" overlaps spread_prefix \"2001:db8::/48\"\n"
		"errno=-98\n\n";
	struct ctl_set_answer parsed;
	char *text = refusal_text(answer, sizeof(answer) - 1, &parsed);

	cr_assert_eq(parsed.daemon_errno, -EADDRINUSE);
	cr_assert_eq(parsed.n_reasons, 2);
	ctl_assert_text(text,
			"flowspreadctl: wg0: cannot listen on UDP port 40010 of "
			"spread_ports=40000-40063: Address already in use\n"
			"flowspreadctl: wg0: spread_prefix \"2001:db8::/64\" overlaps "
			"spread_prefix \"2001:db8::/48\"\n");
	free(text);
	ctl_set_answer_free(&parsed);
}

Test(ctl_uapi, odd_bytes_in_a_reason_are_not_passed_to_the_terminal)
{
	/* An escape sequence, a NUL, a tab, a carriage return, UTF-8 and 0xff. */
	static const char answer[] = "error=a\x1b[31mb\0c\td\re\xc3\xa9\xff f\nerrno=-1\n\n";
	struct ctl_set_answer parsed;
	char *text = refusal_text(answer, sizeof(answer) - 1, &parsed);

	cr_assert_eq(parsed.daemon_errno, -EPERM);
	ctl_assert_text(text, "flowspreadctl: wg0: a?[31mb?c?d?e??? f\n");
	free(text);
	ctl_set_answer_free(&parsed);
}

Test(ctl_uapi, a_reason_longer_than_allowed_is_cut)
{
	static const char end[] = "y\nerrno=-22\n\n";
	char answer[2 * CTL_REASON_MAX], expected[CTL_REASON_MAX + 4];
	struct ctl_set_answer parsed;
	size_t len = 6 + CTL_REASON_MAX + 3;
	char *text;

	/* 515 x and a y: 512 of them are kept, and "..." says the rest is missing. */
	memcpy(answer, "error=", 6);
	memset(answer + 6, 'x', CTL_REASON_MAX + 3);
	memcpy(answer + len, end, sizeof(end));
	memset(expected, 'x', CTL_REASON_MAX);
	memcpy(expected + CTL_REASON_MAX, "...", 4);
	text = refusal_text(answer, strlen(answer), &parsed);
	cr_assert_eq(parsed.n_reasons, 1);
	cr_assert_str_eq(parsed.reasons[0], expected);
	free(text);
	ctl_set_answer_free(&parsed);
}

Test(ctl_uapi, set_answers_with_reasons_other_keys_and_mistakes)
{
	struct ctl_set_answer parsed;

	/* Accepted: no reasons; a key this tool does not know is skipped, as wg skips it. */
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "errno=0\n\n", 9), 0);
	cr_assert_eq(parsed.daemon_errno, 0);
	cr_assert_eq(parsed.n_reasons, 0);
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "hint=x\nerror=\nerrno=5\n\n", 23), 0);
	cr_assert_eq(parsed.daemon_errno, -EIO);
	cr_assert_eq(parsed.n_reasons, 1);
	cr_assert_str_eq(parsed.reasons[0], "");
	ctl_set_answer_free(&parsed);
	/* Not an answer. */
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "error=x\n\n", 9), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "error=x\nerrno=-22", 17), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "error x\nerrno=-22\n\n", 19), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "errno=y\n\n", 9), -EPROTO);
	cr_assert_eq(ctl_uapi_parse_set_answer(&parsed, "", 0), -EPROTO);
	cr_assert_eq(parsed.n_reasons, 0);
	cr_assert_null(parsed.reasons);
}

enum { LARGE_IPS = 400000 };

/* A get answer: one peer with LARGE_IPS allowed IPs (/128s in fd00::/16), then another. */
static void large_answer(struct ctl_buf *answer)
{
	ctl_buf_init(answer);
	ctl_buf_printf(answer, "private_key=" PRIV_HEX "\nlisten_port=51820\n"
		       "public_key=" KEY_A_HEX "\n");
	for (uint32_t i = 0; i < LARGE_IPS; ++i)
		ctl_buf_printf(answer, "allowed_ip=fd00:%x:%x::1/128\n", (i >> 15) + 1,
			       (i & 0x7fff) + 1);
	ctl_buf_printf(answer, "public_key=" KEY_B_HEX "\nallowed_ip=10.0.0.1/32\nerrno=0\n\n");
	cr_assert(!answer->failed);
}

static void assert_large(const struct ctl_device *dev)
{
	char text[FS_PREFIX_STRLEN];

	cr_assert_eq(dev->n_peers, 2);
	cr_assert_eq(dev->peers[0].allowed_ips.n, LARGE_IPS);
	for (uint32_t i = 0; i < LARGE_IPS; ++i) {
		char expected[FS_PREFIX_STRLEN];

		snprintf(expected, sizeof(expected), "fd00:%x:%x::1/128", (i >> 15) + 1,
			 (i & 0x7fff) + 1);
		fs_prefix_format(text, &dev->peers[0].allowed_ips.items[i]);
		if (strcmp(text, expected))
			cr_assert_fail("allowed IP %u: %s, expected %s", i, text, expected);
	}
	assert_key(dev->peers[1].public_key, KEY_B_B64);
	cr_assert_eq(dev->peers[1].allowed_ips.n, 1);
	assert_prefix(&dev->peers[1].allowed_ips.items[0], "10.0.0.1/32");
}

Test(ctl_uapi, a_large_answer_is_parsed_whole)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;
	struct ctl_buf answer;

	ctl_test_init();
	large_answer(&answer);
	ctl_device_init(&dev);
	cr_assert_eq(ctl_uapi_parse_get(&dev, answer.data, answer.len, err, sizeof(err)), 0,
		     "%s", err);
	assert_large(&dev);
	ctl_device_free(&dev);
	ctl_buf_free(&answer);
}

struct writer {
	int fd;
	const struct ctl_buf *answer;
	size_t chunk;		/* bytes per write, to cut the answer at odd places */
};

static void *write_answer(void *arg)
{
	struct writer *w = arg;

	for (size_t at = 0; at < w->answer->len;) {
		size_t n = w->answer->len - at < w->chunk ? w->answer->len - at : w->chunk;
		ssize_t sent = write(w->fd, w->answer->data + at, n);

		if (sent <= 0)
			break;
		at += (size_t)sent;
	}
	/* What follows the empty line is not read: a daemon's next answer. */
	if (write(w->fd, "listen_port=1\n", 14) != 14)
		return NULL;
	return NULL;
}

Test(ctl_uapi, a_large_answer_is_read_whole_from_the_socket)
{
	static const size_t chunks[] = { 1000003, 4097, 1 << 16 };
	char err[CTL_ERRLEN] = "";
	struct ctl_buf answer;

	ctl_test_init();
	large_answer(&answer);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); ++c) {
		struct writer w = { .answer = &answer, .chunk = chunks[c] };
		struct ctl_device dev;
		struct ctl_buf got;
		pthread_t thread;
		int fds[2];

		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
		w.fd = fds[1];
		cr_assert_eq(pthread_create(&thread, NULL, write_answer, &w), 0);
		ctl_buf_init(&got);
		cr_assert_eq(ctl_uapi_read_answer(fds[0], &got), 0);
		cr_assert_eq(pthread_join(thread, NULL), 0);
		close(fds[0]);
		close(fds[1]);
		/* Read up to the empty line at least, and parsed whole. */
		cr_assert_geq(got.len, answer.len, "chunks of %zu: %zu bytes of %zu", chunks[c],
			      got.len, answer.len);
		cr_assert(!memcmp(got.data, answer.data, answer.len));
		ctl_device_init(&dev);
		cr_assert_eq(ctl_uapi_parse_get(&dev, got.data, got.len, err, sizeof(err)), 0,
			     "%s", err);
		assert_large(&dev);
		ctl_device_free(&dev);
		ctl_buf_free(&got);
	}
	ctl_buf_free(&answer);
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
