// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadctl's config files: each file below is parsed as setconf,
 * addconf or syncconf would, and the UAPI request it makes is compared
 * whole with the request `wg setconf` sends for the standard keys (see
 * wireguard-tools' ipc-uapi.h) plus the extension lines of flowspreadd(8). Refused files are checked for the exact message.
 */
#include "test_ctl.h"
#include "leakcheck.h"

FS_LEAK_CHECKED_SUITE(ctl_config);

Test(ctl_config, standard_keys_as_wg_setconf_sends_them)
{
	char *request = ctl_test_conf_request(
		"[Interface]\n"
		"PrivateKey = " PRIV_B64 "\n"
		"ListenPort = 51820\n"
		"FwMark = 0x42\n"
		"\n"
		"[Peer]\n"
		"PublicKey = " KEY_A_B64 "\n"
		"PresharedKey = " PSK_B64 "\n"
		"AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
		"Endpoint = 192.0.2.1:51820\n"
		"PersistentKeepalive = 25\n", false);

	ctl_assert_text(request,
			"set=1\n"
			"private_key=" PRIV_HEX "\n"
			"listen_port=51820\n"
			"fwmark=66\n"
			"replace_peers=true\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" PSK_HEX "\n"
			"endpoint=192.0.2.1:51820\n"
			"persistent_keepalive_interval=25\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.2/32\n"
			"allowed_ip=fd00::2/128\n"
			"\n");
	free(request);
}

Test(ctl_config, setconf_clears_what_the_file_does_not_set)
{
	char *request = ctl_test_conf_request("[Peer]\nPublicKey = " KEY_B_B64 "\n", false);

	/* wg setconf: no PrivateKey, ListenPort or FwMark in the file means none. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"replace_peers=true\n"
			"public_key=" KEY_B_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_config, addconf_sends_only_what_the_file_sets)
{
	char *request = ctl_test_conf_request(
		"[Interface]\nListenPort = 4000\n[Peer]\nPublicKey = " KEY_B_B64 "\n"
		"AllowedIPs = 10.1.0.0/16\n", true);

	ctl_assert_text(request,
			"set=1\n"
			"listen_port=4000\n"
			"public_key=" KEY_B_HEX "\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.1.0.0/16\n"
			"\n");
	free(request);
}

Test(ctl_config, addconf_keeps_allowed_ips_of_a_section_without_them)
{
	/* An extension-only [Peer] section, as applied from wg-quick's PostUp. */
	char *add = ctl_test_conf_request(
		"[Peer]\nPublicKey = " KEY_B_B64 "\nAltEndpoint = 192.0.2.9:51820\n", true);
	char *set = ctl_test_conf_request(
		"[Peer]\nPublicKey = " KEY_B_B64 "\nAltEndpoint = 192.0.2.9:51820\n", false);

	ctl_assert_text(add,
			"set=1\n"
			"public_key=" KEY_B_HEX "\n"
			"endpoint_alt=192.0.2.9:51820\n"
			"\n");
	/* setconf still replaces them, as wg setconf does. */
	cr_assert(strstr(set, "replace_allowed_ips=true\n"), "setconf request: %s", set);
	free(add);
	free(set);
}

Test(ctl_config, interface_extension_keys)
{
	char *request = ctl_test_conf_request(
		"[Interface]\n"
		"SpreadPrefix = 2001:db8:1::/64, 2001:db8:2::/64\n"
		"SpreadPrefix = 198.51.100.0/28\n"
		"SpreadMode = Both\n"
		"SpreadPorts = 40000-40999\n"
		"SpreadPairs = 65536\n"
		"EndpointLimit = 64\n"
		"Steer = nft\n"
		"SteerQdisc = 8001:\n", true);

	ctl_assert_text(request,
			"set=1\n"
			"spread_prefix=2001:db8:1::/64\n"
			"spread_prefix=2001:db8:2::/64\n"
			"spread_prefix=198.51.100.0/28\n"
			"spread_mode=both\n"
			"spread_ports=40000-40999\n"
			"spread_pairs=65536\n"
			"endpoint_limit=64\n"
			"steer=nft\n"
			"steer_qdisc=8001:\n"
			"\n");
	free(request);
}

Test(ctl_config, peer_extension_keys)
{
	char *request = ctl_test_conf_request(
		"[Peer]\n"
		"PublicKey = " KEY_A_B64 "\n"
		"Endpoint = [2001:db8::1]:51820\n"
		"AltEndpoint = 192.0.2.7:51820, [2001:db8::2]:51821\n"
		"AltEndpoint = 192.0.2.8:4500\n"
		"SpreadPrefix = 2001:db8:ff::/64\n"
		"SpreadPorts = 1-65535\n", true);

	ctl_assert_text(request,
			"set=1\n"
			"public_key=" KEY_A_HEX "\n"
			"endpoint=[2001:db8::1]:51820\n"
			"endpoint_alt=192.0.2.7:51820\n"
			"endpoint_alt=[2001:db8::2]:51821\n"
			"endpoint_alt=192.0.2.8:4500\n"
			"spread_prefix=2001:db8:ff::/64\n"
			"spread_ports=1-65535\n"
			"\n");
	free(request);
}

Test(ctl_config, allowed_ips_lists_add_up_and_lengths_default_to_the_address)
{
	char *request = ctl_test_conf_request(
		"[Peer]\n"
		"PublicKey = " KEY_A_B64 "\n"
		"AllowedIPs = 10.0.0.1, 10.0.1.0/24,fd00::1\n"
		"AllowedIPs = 0.0.0.0/0, ::/0\n"
		"AllowedIPs = 10.9.9.9/24\n", true);

	/* Host bits are kept, as wg sends them (it only warns). */
	ctl_assert_text(request,
			"set=1\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.1/32\n"
			"allowed_ip=10.0.1.0/24\n"
			"allowed_ip=fd00::1/128\n"
			"allowed_ip=0.0.0.0/0\n"
			"allowed_ip=::/0\n"
			"allowed_ip=10.9.9.9/24\n"
			"\n");
	free(request);
}

Test(ctl_config, comments_case_and_white_space_as_wg_reads_them)
{
	char *request = ctl_test_conf_request(
		"# a whole-line comment\n"
		"  [interface]   # the section, in lower case\r\n"
		"listenport=7   \r\n"
		"\tFWMARK = off\n"
		"PrivateKey=" PRIV_B64 "#no space before the comment\n"
		"\n"
		"[PEER]\n"
		"publickey = " KEY_C_B64 "\n"
		"Persistent Keepalive = off\n"	/* wg drops white space inside lines too */
		"allowedips = 10.0.0.0/8 , 172.16.0.0 / 12\n"
		"# AllowedIPs = 192.168.0.0/16\n"
		"spreadports = 5000-5000", true);

	ctl_assert_text(request,
			"set=1\n"
			"private_key=" PRIV_HEX "\n"
			"listen_port=7\n"
			"fwmark=0\n"
			"public_key=" KEY_C_HEX "\n"
			"persistent_keepalive_interval=0\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.0/8\n"
			"allowed_ip=172.16.0.0/12\n"
			"spread_ports=5000-5000\n"
			"\n");
	free(request);
}

Test(ctl_config, numbers_in_every_form_wg_takes)
{
	char *request = ctl_test_conf_request(
		"[Interface]\nFwMark = 0xFFFFFFFF\nListenPort = 65535\n"
		"[Interface]\nFwMark = 1234\n"	/* a later section and a later value win */
		"[Peer]\nPublicKey = " KEY_A_B64 "\nPersistentKeepalive = 65535\n"
		"[Peer]\nPublicKey = " KEY_B_B64 "\nPersistentKeepalive = 0\n", true);

	ctl_assert_text(request,
			"set=1\n"
			"listen_port=65535\n"
			"fwmark=1234\n"
			"public_key=" KEY_A_HEX "\n"
			"persistent_keepalive_interval=65535\n"
			"public_key=" KEY_B_HEX "\n"
			"persistent_keepalive_interval=0\n"
			"\n");
	free(request);
}

Test(ctl_config, endpoint_names_are_resolved_like_wg)
{
	char *request = ctl_test_conf_request(
		"[Peer]\nPublicKey = " KEY_A_B64 "\nEndpoint = localhost:51820\n", true);

	/* /etc/hosts names localhost; getaddrinfo may return either loopback first. */
	cr_assert(strstr(request, "endpoint=127.0.0.1:51820\n") ||
		  strstr(request, "endpoint=[::1]:51820\n"), "%s", request);
	free(request);
}

/* --- refused files ------------------------------------------------------------ */

static void assert_refused(const char *conf, const char *expected)
{
	char *err = ctl_test_conf_error(conf);

	cr_assert_str_eq(err, expected, "\n  got      %s\n  expected %s", err, expected);
	free(err);
}

#define PEER_A "[Peer]\nPublicKey = " KEY_A_B64 "\n"

Test(ctl_config, allowed_ip_length_out_of_range)
{
	assert_refused("[Interface]\nListenPort = 1\n\n"
		       "[Peer]\n# the peer\nPublicKey = " KEY_A_B64 "\nAllowedIPs = 10.0.0.0/33\n",
		       "config file wg0.conf line 7: AllowedIPs \"10.0.0.0/33\": "
		       "expected ADDR/LEN with LEN 0..32");
	assert_refused(PEER_A "AllowedIPs = 10.0.0.0/8, fd00::/129\n",
		       "config file wg0.conf line 3: AllowedIPs \"fd00::/129\": "
		       "expected ADDR/LEN with LEN 0..128");
	assert_refused(PEER_A "AllowedIPs = 10.0.0.0/-1\n",
		       "config file wg0.conf line 3: AllowedIPs \"10.0.0.0/-1\": "
		       "expected ADDR/LEN with LEN 0..32");
}

Test(ctl_config, allowed_ip_bad_address_or_empty_item)
{
	assert_refused(PEER_A "AllowedIPs = 10.0.0.300/24\n",
		       "config file wg0.conf line 3: AllowedIPs \"10.0.0.300/24\": "
		       "expected ADDR/LEN with a numeric IPv4 or IPv6 ADDR");
	assert_refused(PEER_A "AllowedIPs = 10.0.0.1/32,,10.0.0.2/32\n",
		       "config file wg0.conf line 3: AllowedIPs \"\": "
		       "expected ADDR/LEN with a numeric IPv4 or IPv6 ADDR");
}

Test(ctl_config, keys_malformed_and_secrets_not_shown)
{
	assert_refused("[Interface]\nPrivateKey = AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\n",
		       "config file wg0.conf line 2: PrivateKey: expected a base64 key of 44 "
		       "characters ending in \"=\" (the value is secret: not shown)");
	assert_refused(PEER_A "PresharedKey = not-a-key\n",
		       "config file wg0.conf line 3: PresharedKey: expected a base64 key of 44 "
		       "characters ending in \"=\" (the value is secret: not shown)");
	assert_refused("[Peer]\nPublicKey = AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyB=\n",
		       "config file wg0.conf line 2: PublicKey "
		       "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyB=\": expected a base64 key "
		       "of 44 characters ending in \"=\"");
}

Test(ctl_config, numbers_out_of_range)
{
	assert_refused("[Interface]\nListenPort = 65536\n",
		       "config file wg0.conf line 2: ListenPort \"65536\": expected a port 0..65535");
	assert_refused("[Interface]\nFwMark = 0x100000000\n",
		       "config file wg0.conf line 2: FwMark \"0x100000000\": expected off or a mark "
		       "0..0xffffffff (decimal or 0x hex)");
	assert_refused("[Interface]\nFwMark = -1\n",
		       "config file wg0.conf line 2: FwMark \"-1\": expected off or a mark "
		       "0..0xffffffff (decimal or 0x hex)");
	assert_refused(PEER_A "PersistentKeepalive = 65536\n",
		       "config file wg0.conf line 3: PersistentKeepalive \"65536\": expected off "
		       "or seconds 0..65535");
}

Test(ctl_config, endpoints_malformed)
{
	assert_refused(PEER_A "Endpoint = 192.0.2.1\n",
		       "config file wg0.conf line 3: Endpoint \"192.0.2.1\": expected HOST:PORT "
		       "or [HOST]:PORT");
	assert_refused(PEER_A "Endpoint = [2001:db8::1:51820\n",
		       "config file wg0.conf line 3: Endpoint \"[2001:db8::1:51820\": expected "
		       "HOST:PORT or [HOST]:PORT");
	assert_refused(PEER_A "Endpoint = 2001:db8::1:51820\n",
		       "config file wg0.conf line 3: Endpoint \"2001:db8::1:51820\": expected "
		       "[ADDR]:PORT for an IPv6 address");
	assert_refused(PEER_A "AltEndpoint = 192.0.2.1:1, 192.0.2.2\n",
		       "config file wg0.conf line 3: AltEndpoint \"192.0.2.2\": expected HOST:PORT "
		       "or [HOST]:PORT");
}

Test(ctl_config, extension_values_out_of_range)
{
	assert_refused("[Interface]\nSpreadMode = sideways\n",
		       "config file wg0.conf line 2: SpreadMode \"sideways\": expected off, ports, "
		       "addresses or both");
	assert_refused("[Interface]\nSpreadPorts = 41000-40000\n",
		       "config file wg0.conf line 2: SpreadPorts \"41000-40000\": expected "
		       "LOW-HIGH with 1 <= LOW <= HIGH <= 65535");
	assert_refused("[Interface]\nSpreadPorts = 0-10\n",
		       "config file wg0.conf line 2: SpreadPorts \"0-10\": expected "
		       "LOW-HIGH with 1 <= LOW <= HIGH <= 65535");
	assert_refused("[Interface]\nSpreadPairs = 0\n",
		       "config file wg0.conf line 2: SpreadPairs \"0\": expected 1..65536");
	assert_refused("[Interface]\nSpreadPairs = 65537\n",
		       "config file wg0.conf line 2: SpreadPairs \"65537\": expected 1..65536");
	assert_refused("[Interface]\nEndpointLimit = 65\n",
		       "config file wg0.conf line 2: EndpointLimit \"65\": expected 0..64");
	assert_refused("[Interface]\nSteer = always\n",
		       "config file wg0.conf line 2: Steer \"always\": expected off, on or nft");
	assert_refused("[Interface]\nSteerQdisc = 1\n",
		       "config file wg0.conf line 2: SteerQdisc \"1\": expected a qdisc handle "
		       "MAJOR: in hex, 1: to ffff:");
	assert_refused("[Interface]\nSteerQdisc = 10000:\n",
		       "config file wg0.conf line 2: SteerQdisc \"10000:\": expected a qdisc handle "
		       "MAJOR: in hex, 1: to ffff:");
	assert_refused("[Interface]\nSteerQdisc = 0:\n",
		       "config file wg0.conf line 2: SteerQdisc \"0:\": expected a qdisc handle "
		       "MAJOR: in hex, 1: to ffff:");
}

Test(ctl_config, spread_prefixes_need_a_length_up_to_120)
{
	assert_refused("[Interface]\nSpreadPrefix = 2001:db8::\n",
		       "config file wg0.conf line 2: SpreadPrefix \"2001:db8::\": expected ADDR/LEN "
		       "with LEN 0..120");
	assert_refused("[Interface]\nSpreadPrefix = 2001:db8::/121\n",
		       "config file wg0.conf line 2: SpreadPrefix \"2001:db8::/121\": expected "
		       "ADDR/LEN with LEN 0..120");
	assert_refused(PEER_A "SpreadPrefix = 192.0.2.0/33\n",
		       "config file wg0.conf line 3: SpreadPrefix \"192.0.2.0/33\": expected "
		       "ADDR/LEN with LEN 0..32");
}

Test(ctl_config, too_many_spread_prefixes)
{
	char conf[4096] = "[Interface]\n";

	for (int i = 0; i <= FS_MAX_PREFIXES; ++i)
		snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf),
			 "SpreadPrefix = 2001:db8:%x::/64\n", i);
	assert_refused(conf, "config file wg0.conf line 18: SpreadPrefix: more than 16 prefixes");
}

Test(ctl_config, wg_quick_keys_refused_with_a_pointer_to_strip)
{
	static const char *const keys[] = {
		"Address", "DNS", "MTU", "Table", "PreUp", "PostUp", "PreDown", "PostDown",
		"SaveConfig",
	};
	char conf[256], expected[512];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
		snprintf(conf, sizeof(conf), "[Interface]\nPrivateKey = " PRIV_B64 "\n%s = x\n",
			 keys[i]);
		snprintf(expected, sizeof(expected),
			 "config file wg0.conf line 3: %s is a wg-quick key, which setconf does not "
			 "take (as with wg setconf): drop wg-quick keys with \"wg-quick strip FILE\" "
			 "first", keys[i]);
		assert_refused(conf, expected);
	}
	/* Matched without regard to case, as wg-quick does. */
	assert_refused("[Interface]\naddress = 10.0.0.1/24\n",
		       "config file wg0.conf line 2: address is a wg-quick key, which setconf does "
		       "not take (as with wg setconf): drop wg-quick keys with \"wg-quick strip "
		       "FILE\" first");
}

Test(ctl_config, unknown_keys_and_sections)
{
	assert_refused("[Interface]\nListenPort = 1\nFlowSpread = yes\n",
		       "config file wg0.conf line 3: unknown key \"FlowSpread\" in [Interface]: "
		       "expected one of PrivateKey, ListenPort, FwMark, SpreadPrefix, SpreadMode, "
		       "SpreadPorts, SpreadPairs, EndpointLimit, Steer, SteerQdisc");
	/* wg-quick reads its keys only in [Interface]: in [Peer], Address is just unknown. */
	assert_refused(PEER_A "Address = 10.0.0.2/32\n",
		       "config file wg0.conf line 3: unknown key \"Address\" in [Peer]: expected one "
		       "of PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive, "
		       "AltEndpoint, SpreadPrefix, SpreadPorts");
	assert_refused("[Interfaces]\n",
		       "config file wg0.conf line 1: section \"[Interfaces]\": expected [Interface] "
		       "or [Peer]");
	assert_refused("ListenPort = 1\n[Interface]\n",
		       "config file wg0.conf line 1: \"ListenPort\" comes before any [Interface] or "
		       "[Peer] section");
	assert_refused("[Interface]\nListenPort 51820\n",
		       "config file wg0.conf line 2: \"ListenPort51820\": expected KEY = VALUE, "
		       "[Interface] or [Peer]");
}

Test(ctl_config, empty_values_and_peers_without_keys)
{
	assert_refused("[Interface]\nListenPort =   # nothing\n",
		       "config file wg0.conf line 2: ListenPort has no value");
	assert_refused("[Peer]\nAllowedIPs = 10.0.0.1/32\n\n[Peer]\nPublicKey = " KEY_A_B64 "\n",
		       "config file wg0.conf line 1: [Peer] has no PublicKey");
	assert_refused(PEER_A "[Peer]\nEndpoint = 192.0.2.1:1\n",
		       "config file wg0.conf line 3: [Peer] has no PublicKey");
}

Test(ctl_config, nul_bytes_refused)
{
	static const char conf[] = "[Interface]\nListenPort = 1\0\n";
	char err[CTL_ERRLEN] = "";
	struct ctl_device dev;

	ctl_device_init(&dev);
	cr_assert(!ctl_conf_parse(&dev, conf, sizeof(conf) - 1, "wg0.conf", false, err,
				  sizeof(err)));
	cr_assert_str_eq(err, "config file wg0.conf line 2: contains a NUL byte: expected text");
	ctl_device_free(&dev);
}
