/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fixtures of flowspreadctl's unit tests (suites ctl_*): fixed keys in
 * the three spellings the tool meets (base64 for users, hex on the wire),
 * and shortcuts that run the pure parts (config file → request text, get
 * answer → struct → printed text) and assert they succeed.
 */
#ifndef FLOWSPREAD_TESTS_UNIT_TEST_CTL_H
#define FLOWSPREAD_TESTS_UNIT_TEST_CTL_H

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/ctl/conf.h"
#include "../../src/ctl/containers.h"
#include "../../src/ctl/ipc.h"
#include "../../src/ctl/print.h"
#include "../../src/ctl/util.h"

/* Bytes 0x01..0x20, 0x40..0x5f, 0xc0..0xdf; a preshared key; a private key (0x10..0x2f). */
#define KEY_A_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY_A_HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define KEY_B_B64 "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
#define KEY_B_HEX "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
#define KEY_C_B64 "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t8="
#define KEY_C_HEX "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
#define PSK_B64 "0NHS09TV1tfY2drb3N3e38DBwsPExcbHyMnKy8zNzs8="
#define PSK_HEX "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define PRIV_B64 "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8="
#define PRIV_HEX "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
/* X25519 public key of PRIV (as `wg pubkey` computes it). */
#define PRIV_PUB_B64 "2J47rXlDfb7Z+ENBgwT0YP8Fx/6B/kqVd6gEy5Nn/2Y="
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

/* What wireguard-go answers to get=1 for an interface with two peers. */
#define WIREGUARD_GO_ANSWER                                                    \
	"private_key=" PRIV_HEX "\n"                                           \
	"listen_port=51820\n"                                                  \
	"fwmark=66\n"                                                          \
	"public_key=" KEY_A_HEX "\n"                                           \
	"preshared_key=" PSK_HEX "\n"                                          \
	"protocol_version=1\n"                                                 \
	"endpoint=192.0.2.1:51820\n"                                           \
	"last_handshake_time_sec=1700000000\n"                                 \
	"last_handshake_time_nsec=5\n"                                         \
	"tx_bytes=2097152\n"                                                   \
	"rx_bytes=1536\n"                                                      \
	"persistent_keepalive_interval=25\n"                                   \
	"allowed_ip=10.0.0.2/32\n"                                             \
	"allowed_ip=fd00::2/128\n"                                             \
	"public_key=" KEY_B_HEX "\n"                                           \
	"preshared_key=" ZERO_HEX "\n"                                         \
	"protocol_version=1\n"                                                 \
	"last_handshake_time_sec=0\n"                                          \
	"last_handshake_time_nsec=0\n"                                         \
	"tx_bytes=0\n"                                                         \
	"rx_bytes=0\n"                                                         \
	"persistent_keepalive_interval=0\n"                                    \
	"errno=0\n"                                                            \
	"\n"

/* What flowspreadd answers for an interface with extension keys and endpoint state. */
#define FLOWSPREADD_ANSWER                                                     \
	"private_key=" PRIV_HEX "\n"                                           \
	"listen_port=51820\n"                                                  \
	"spread_prefix=2001:db8:1::/64\n"                                      \
	"spread_prefix=198.51.100.0/28\n"                                      \
	"spread_mode=addresses\n"                                              \
	"spread_ports=40000-40999\n"                                           \
	"spread_pairs=1024\n"                                                  \
	"endpoint_limit=8\n"                                                   \
	"steer=on\n"                                                           \
	"steer_qdisc=8001:\n"                                                  \
	"public_key=" KEY_A_HEX "\n"                                           \
	"endpoint=[2001:db8::1]:51820\n"                                       \
	"endpoint_alt=192.0.2.7:51820\n"                                       \
	"endpoint_alt=[2001:db8::2]:51821\n"                                   \
	"spread_prefix=2001:db8:ff::/64\n"                                     \
	"spread_ports=5000-5999\n"                                             \
	"endpoint_count=3\n"                                                   \
	"endpoint_state=[2001:db8::1]:51820,configured,120,3500,active\n"      \
	"endpoint_state=192.0.2.7:51820,configured,-,-,untried\n"              \
	"endpoint_state=203.0.113.9:1024,learned,98000,,stale\n"               \
	"errno=0\n\n"

static inline void ctl_test_init(void)
{
	cr_assert_geq(sodium_init(), 0, "sodium_init failed");
}

/* The request text *dev makes, as a malloc'd string. */
static inline char *ctl_test_set_text(const struct ctl_device *dev)
{
	struct ctl_buf buf;
	char *text;

	ctl_buf_init(&buf);
	ctl_uapi_format_set(&buf, dev);
	cr_assert(!buf.failed, "ctl_uapi_format_set ran out of memory");
	text = strdup(buf.data);
	cr_assert_not_null(text);
	ctl_buf_free(&buf);
	return text;
}

/* Parses a config file that must be valid; the request it makes, as text. */
static inline char *ctl_test_conf_request(const char *conf, bool append)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;
	char *text;

	ctl_test_init();
	ctl_device_init(&dev);
	cr_assert(ctl_conf_parse(&dev, conf, strlen(conf), "test.conf", append, err, sizeof(err)),
		  "config refused: %s", err);
	text = ctl_test_set_text(&dev);
	ctl_device_free(&dev);
	return text;
}

/* Parses a config file that must be refused; the message, as a malloc'd string. */
static inline char *ctl_test_conf_error(const char *conf)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;
	char *text;

	ctl_test_init();
	ctl_device_init(&dev);
	cr_assert(!ctl_conf_parse(&dev, conf, strlen(conf), "wg0.conf", false, err, sizeof(err)),
		  "config accepted:\n%s", conf);
	ctl_device_free(&dev);
	text = strdup(err);
	cr_assert_not_null(text);
	return text;
}

/* Parses a get answer that must be valid into the empty *dev. */
static inline void ctl_test_get(struct ctl_device *dev, const char *answer)
{
	char err[CTL_ERRLEN] = "";

	ctl_test_init();
	ctl_device_init(dev);
	cr_assert_eq(ctl_uapi_parse_get(dev, answer, strlen(answer), err, sizeof(err)), 0,
		     "get answer refused: %s", err);
	snprintf(dev->name, sizeof(dev->name), "wg0");
}

/* Runs print(f, arg) into memory and returns what it wrote, malloc'd. */
#define CTL_TEST_CAPTURE(out, ...)                                             \
	do {                                                                   \
		size_t capture_len_ = 0;                                       \
		FILE *f = open_memstream(&(out), &capture_len_);               \
		cr_assert_not_null(f);                                         \
		__VA_ARGS__;                                                   \
		cr_assert_eq(fclose(f), 0);                                    \
	} while (0)

#define ctl_assert_text(actual, expected)                                      \
	cr_assert_str_eq((actual), (expected), "\n--- got:\n%s\n--- expected:\n%s", \
			 (actual), (expected))

#endif
