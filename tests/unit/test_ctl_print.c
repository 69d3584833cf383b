// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * show and showconf output, whole: `wg show`'s pretty form for the
 * standard keys (the netns check diffs it with the real wg), the
 * extension lines after them, the JSON object with its documented field
 * names, and `wg showconf`'s INI with the extension keys.
 */
#include "test_ctl.h"
#include "leakcheck.h"

#define HANDSHAKE 1700000000	/* peer A's latest handshake in WIREGUARD_GO_ANSWER */

FS_LEAK_CHECKED_SUITE(ctl_print);

Test(ctl_print, pretty_standard_keys_as_wg_show)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_pretty(f, &dev, HANDSHAKE + 65, false));
	ctl_assert_text(out,
			"interface: wg0\n"
			"  public key: " PRIV_PUB_B64 "\n"
			"  private key: (hidden)\n"
			"  listening port: 51820\n"
			"  fwmark: 0x42\n"
			"\n"
			"peer: " KEY_A_B64 "\n"
			"  preshared key: (hidden)\n"
			"  endpoint: 192.0.2.1:51820\n"
			"  allowed ips: 10.0.0.2/32, fd00::2/128\n"
			"  latest handshake: 1 minute, 5 seconds ago\n"
			"  transfer: 1.50 KiB received, 2.00 MiB sent\n"
			"  persistent keepalive: every 25 seconds\n"
			"\n"
			"peer: " KEY_B_B64 "\n"
			"  allowed ips: (none)\n");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, pretty_shows_keys_when_asked)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_pretty(f, &dev, HANDSHAKE, true));
	cr_assert_not_null(strstr(out, "  private key: " PRIV_B64 "\n"), "%s", out);
	cr_assert_not_null(strstr(out, "  preshared key: " PSK_B64 "\n"), "%s", out);
	cr_assert_not_null(strstr(out, "  latest handshake: Now\n"), "%s", out);
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, pretty_clock_wound_backward)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_pretty(f, &dev, HANDSHAKE - 1, false));
	cr_assert_not_null(strstr(out, "  latest handshake: (System clock wound backward; "
				       "connection problems may ensue.)\n"), "%s", out);
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, pretty_orders_peers_by_latest_handshake)
{
	struct ctl_device dev;
	char *out;

	/* As wg: newest handshake first, never last, ties in the daemon's order. */
	ctl_test_get(&dev,
		     "public_key=" KEY_A_HEX "\n"
		     "public_key=" KEY_B_HEX "\nlast_handshake_time_sec=100\n"
		     "public_key=" KEY_C_HEX "\nlast_handshake_time_sec=200\n"
		     "public_key=" PRIV_HEX "\nlast_handshake_time_sec=100\n"
		     "last_handshake_time_nsec=1\n"
		     "errno=0\n\n");
	CTL_TEST_CAPTURE(out, ctl_print_pretty(f, &dev, 3600 + 200, false));
	ctl_assert_text(out,
			"interface: wg0\n"
			"\n"
			"peer: " KEY_C_B64 "\n"
			"  allowed ips: (none)\n"
			"  latest handshake: 1 hour ago\n"
			"\n"
			"peer: " PRIV_B64 "\n"
			"  allowed ips: (none)\n"
			"  latest handshake: 1 hour, 1 minute, 40 seconds ago\n"
			"\n"
			"peer: " KEY_B_B64 "\n"
			"  allowed ips: (none)\n"
			"  latest handshake: 1 hour, 1 minute, 40 seconds ago\n"
			"\n"
			"peer: " KEY_A_B64 "\n"
			"  allowed ips: (none)\n");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, pretty_extension_lines)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, FLOWSPREADD_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_pretty(f, &dev, HANDSHAKE, false));
	ctl_assert_text(out,
			"interface: wg0\n"
			"  public key: " PRIV_PUB_B64 "\n"
			"  private key: (hidden)\n"
			"  listening port: 51820\n"
			"  spread prefix: 2001:db8:1::/64, 198.51.100.0/28\n"
			"  spread mode: addresses\n"
			"  spread ports: 40000-40999\n"
			"  spread pairs: 1024\n"
			"  endpoint limit: 8\n"
			"  steer: on\n"
			"  steer qdisc: 8001:\n"
			"\n"
			"peer: " KEY_A_B64 "\n"
			"  endpoint: [2001:db8::1]:51820\n"
			"  allowed ips: (none)\n"
			"  alt endpoints: 192.0.2.7:51820, [2001:db8::2]:51821\n"
			"  spread prefix: 2001:db8:ff::/64\n"
			"  spread ports: 5000-5999\n"
			"  endpoint count: 3\n"
			"  endpoint state: [2001:db8::1]:51820, configured, age 120 ms, rtt 3500 us, "
			"active\n"
			"  endpoint state: 192.0.2.7:51820, configured, age -, rtt -, untried\n"
			"  endpoint state: 203.0.113.9:1024, learned, age 98000 ms, rtt -, stale\n");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, json_standard_keys)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_json(f, &dev, false, 0));
	ctl_assert_text(out,
			"{\n"
			"  \"name\": \"wg0\",\n"
			"  \"public_key\": \"" PRIV_PUB_B64 "\",\n"
			"  \"has_private_key\": true,\n"
			"  \"listen_port\": 51820,\n"
			"  \"fwmark\": 66,\n"
			"  \"peers\": [\n"
			"    {\n"
			"      \"public_key\": \"" KEY_A_B64 "\",\n"
			"      \"has_preshared_key\": true,\n"
			"      \"endpoint\": \"192.0.2.1:51820\",\n"
			"      \"allowed_ips\": [\n"
			"        \"10.0.0.2/32\",\n"
			"        \"fd00::2/128\"\n"
			"      ],\n"
			"      \"latest_handshake\": 1700000000,\n"
			"      \"latest_handshake_nsec\": 5,\n"
			"      \"rx_bytes\": 1536,\n"
			"      \"tx_bytes\": 2097152,\n"
			"      \"persistent_keepalive\": 25\n"
			"    },\n"
			"    {\n"
			"      \"public_key\": \"" KEY_B_B64 "\",\n"
			"      \"has_preshared_key\": false,\n"
			"      \"endpoint\": null,\n"
			"      \"allowed_ips\": [],\n"
			"      \"latest_handshake\": 0,\n"
			"      \"latest_handshake_nsec\": 0,\n"
			"      \"rx_bytes\": 0,\n"
			"      \"tx_bytes\": 0,\n"
			"      \"persistent_keepalive\": 0\n"
			"    }\n"
			"  ]\n"
			"}");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, json_keys_only_when_asked)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_json(f, &dev, true, 0));
	cr_assert_not_null(strstr(out, "  \"private_key\": \"" PRIV_B64 "\",\n"), "%s", out);
	cr_assert_not_null(strstr(out, "      \"preshared_key\": \"" PSK_B64 "\",\n"), "%s", out);
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, json_extension_keys)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, FLOWSPREADD_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_json(f, &dev, false, 0));
	ctl_assert_text(out,
			"{\n"
			"  \"name\": \"wg0\",\n"
			"  \"public_key\": \"" PRIV_PUB_B64 "\",\n"
			"  \"has_private_key\": true,\n"
			"  \"listen_port\": 51820,\n"
			"  \"fwmark\": 0,\n"
			"  \"spread_prefixes\": [\n"
			"    \"2001:db8:1::/64\",\n"
			"    \"198.51.100.0/28\"\n"
			"  ],\n"
			"  \"spread_mode\": \"addresses\",\n"
			"  \"spread_ports\": {\n"
			"    \"low\": 40000,\n"
			"    \"high\": 40999\n"
			"  },\n"
			"  \"spread_pairs\": 1024,\n"
			"  \"endpoint_limit\": 8,\n"
			"  \"steer\": \"on\",\n"
			"  \"steer_qdisc\": \"8001:\",\n"
			"  \"peers\": [\n"
			"    {\n"
			"      \"public_key\": \"" KEY_A_B64 "\",\n"
			"      \"has_preshared_key\": false,\n"
			"      \"endpoint\": \"[2001:db8::1]:51820\",\n"
			"      \"allowed_ips\": [],\n"
			"      \"latest_handshake\": 0,\n"
			"      \"latest_handshake_nsec\": 0,\n"
			"      \"rx_bytes\": 0,\n"
			"      \"tx_bytes\": 0,\n"
			"      \"persistent_keepalive\": 0,\n"
			"      \"alt_endpoints\": [\n"
			"        \"192.0.2.7:51820\",\n"
			"        \"[2001:db8::2]:51821\"\n"
			"      ],\n"
			"      \"spread_prefixes\": [\n"
			"        \"2001:db8:ff::/64\"\n"
			"      ],\n"
			"      \"spread_ports\": {\n"
			"        \"low\": 5000,\n"
			"        \"high\": 5999\n"
			"      },\n"
			"      \"endpoint_count\": 3,\n"
			"      \"endpoint_states\": [\n"
			"        {\n"
			"          \"endpoint\": \"[2001:db8::1]:51820\",\n"
			"          \"origin\": \"configured\",\n"
			"          \"age_ms\": 120,\n"
			"          \"rtt_us\": 3500,\n"
			"          \"state\": \"active\"\n"
			"        },\n"
			"        {\n"
			"          \"endpoint\": \"192.0.2.7:51820\",\n"
			"          \"origin\": \"configured\",\n"
			"          \"age_ms\": null,\n"
			"          \"rtt_us\": null,\n"
			"          \"state\": \"untried\"\n"
			"        },\n"
			"        {\n"
			"          \"endpoint\": \"203.0.113.9:1024\",\n"
			"          \"origin\": \"learned\",\n"
			"          \"age_ms\": 98000,\n"
			"          \"rtt_us\": null,\n"
			"          \"state\": \"stale\"\n"
			"        }\n"
			"      ]\n"
			"    }\n"
			"  ]\n"
			"}");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, json_strings_escaped)
{
	char *out;

	CTL_TEST_CAPTURE(out, ctl_json_string(f, "a\"b\\c\nd\te\x01\x7f"));
	ctl_assert_text(out, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\"");
	free(out);
}

Test(ctl_print, showconf_standard_keys_as_wg_showconf)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, WIREGUARD_GO_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_conf(f, &dev));
	ctl_assert_text(out,
			"[Interface]\n"
			"ListenPort = 51820\n"
			"FwMark = 0x42\n"
			"PrivateKey = " PRIV_B64 "\n"
			"\n"
			"[Peer]\n"
			"PublicKey = " KEY_A_B64 "\n"
			"PresharedKey = " PSK_B64 "\n"
			"AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
			"Endpoint = 192.0.2.1:51820\n"
			"PersistentKeepalive = 25\n"
			"\n"
			"[Peer]\n"
			"PublicKey = " KEY_B_B64 "\n");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, showconf_extension_keys)
{
	struct ctl_device dev;
	char *out;

	ctl_test_get(&dev, FLOWSPREADD_ANSWER);
	CTL_TEST_CAPTURE(out, ctl_print_conf(f, &dev));
	ctl_assert_text(out,
			"[Interface]\n"
			"ListenPort = 51820\n"
			"PrivateKey = " PRIV_B64 "\n"
			"SpreadPrefix = 2001:db8:1::/64, 198.51.100.0/28\n"
			"SpreadMode = addresses\n"
			"SpreadPorts = 40000-40999\n"
			"SpreadPairs = 1024\n"
			"EndpointLimit = 8\n"
			"Steer = on\n"
			"SteerQdisc = 8001:\n"
			"\n"
			"[Peer]\n"
			"PublicKey = " KEY_A_B64 "\n"
			"Endpoint = [2001:db8::1]:51820\n"
			"AltEndpoint = 192.0.2.7:51820, [2001:db8::2]:51821\n"
			"SpreadPrefix = 2001:db8:ff::/64\n"
			"SpreadPorts = 5000-5999\n");
	free(out);
	ctl_device_free(&dev);
}

Test(ctl_print, showconf_reads_back_as_the_same_request)
{
	struct ctl_device dev, again;
	char err[CTL_ERRLEN] = "", *conf, *first, *second;

	/* showconf's file, applied with setconf, sends what the interface holds. */
	ctl_test_get(&dev, FLOWSPREADD_ANSWER);
	CTL_TEST_CAPTURE(conf, ctl_print_conf(f, &dev));
	ctl_device_init(&again);
	cr_assert(ctl_conf_parse(&again, conf, strlen(conf), "shown.conf", false, err, sizeof(err)),
		  "%s", err);
	dev.has_listen_port = dev.has_fwmark = dev.replace_peers = true;
	dev.peers[0].replace_allowed_ips = true;
	first = ctl_test_set_text(&dev);
	second = ctl_test_set_text(&again);
	ctl_assert_text(second, first);
	free(first);
	free(second);
	free(conf);
	ctl_device_free(&again);
	ctl_device_free(&dev);
}

Test(ctl_print, durations_as_wg_writes_them)
{
	static const struct {
		unsigned long long seconds;
		const char *text;
	} cases[] = {
		{ 1, "1 second" },
		{ 59, "59 seconds" },
		{ 60, "1 minute" },
		{ 3661, "1 hour, 1 minute, 1 second" },
		{ 86400 * 2 + 5, "2 days, 5 seconds" },
		{ 365ULL * 86400 + 86400, "1 year, 1 day" },
		{ 0, "" },
	};
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		ctl_format_duration(out, sizeof(out), cases[i].seconds);
		cr_assert_str_eq(out, cases[i].text, "%llu s", cases[i].seconds);
	}
}

Test(ctl_print, byte_counts_as_wg_writes_them)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "0 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.00 KiB" },
		{ 1536, "1.50 KiB" },
		{ 1024 * 1024 - 1, "1024.00 KiB" },
		{ 2 * 1024 * 1024, "2.00 MiB" },
		{ 5ULL << 30, "5.00 GiB" },
		{ 3ULL << 40, "3.00 TiB" },
		{ 2048ULL << 40, "2048.00 TiB" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		ctl_format_bytes(out, sizeof(out), cases[i].bytes);
		cr_assert_str_eq(out, cases[i].text, "%llu bytes", (unsigned long long)cases[i].bytes);
	}
}
