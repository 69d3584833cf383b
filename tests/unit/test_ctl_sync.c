// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * syncconf's request: a running configuration (a get answer) and a file
 * go in, the exact request comes out, compared with what `wg syncconf`
 * (wireguard-tools' setconf.c) sends for the same pair.
 */
#include "../../src/ctl/sync.h"
#include "test_ctl.h"
#include "leakcheck.h"

/* The file parsed as syncconf parses it, diffed against the running answer: the request. */
static char *sync_request(const char *running_answer, const char *conf)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device running, file;
	char *request;

	ctl_test_get(&running, running_answer);
	ctl_device_init(&file);
	cr_assert(ctl_conf_parse(&file, conf, strlen(conf), "sync.conf", false, err, sizeof(err)),
		  "%s", err);
	cr_assert(ctl_sync_diff(&file, &running));
	request = ctl_test_set_text(&file);
	ctl_device_free(&file);
	ctl_device_free(&running);
	return request;
}

/* A running interface: A with a preshared key and keepalive, B, C. */
#define RUNNING_ABC                                                            \
	"private_key=" PRIV_HEX "\n"                                           \
	"listen_port=51820\n"                                                  \
	"public_key=" KEY_A_HEX "\n"                                           \
	"preshared_key=" PSK_HEX "\n"                                          \
	"endpoint=192.0.2.1:51820\n"                                           \
	"last_handshake_time_sec=1700000000\n"                                 \
	"persistent_keepalive_interval=25\n"                                   \
	"allowed_ip=10.0.0.1/32\n"                                             \
	"public_key=" KEY_B_HEX "\n"                                           \
	"preshared_key=" ZERO_HEX "\n"                                         \
	"persistent_keepalive_interval=0\n"                                    \
	"allowed_ip=10.0.0.2/32\n"                                             \
	"public_key=" KEY_C_HEX "\n"                                           \
	"preshared_key=" ZERO_HEX "\n"                                         \
	"persistent_keepalive_interval=0\n"                                    \
	"errno=0\n\n"

FS_LEAK_CHECKED_SUITE(ctl_sync);

Test(ctl_sync, removes_missing_peers_and_clears_dropped_settings)
{
	/* The file keeps A (now without preshared key or keepalive) and B; C goes. */
	char *request = sync_request(RUNNING_ABC,
				     "[Interface]\nPrivateKey = " PRIV_B64 "\nListenPort = 51820\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nAllowedIPs = 10.0.0.1/32\n"
				     "[Peer]\nPublicKey = " KEY_B_B64 "\nAllowedIPs = 10.0.0.2/32, "
				     "10.0.1.0/24\n");

	ctl_assert_text(request,
			"set=1\n"
			"private_key=" PRIV_HEX "\n"
			"listen_port=51820\n"
			"fwmark=0\n"
			"public_key=" KEY_C_HEX "\n"
			"remove=true\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" ZERO_HEX "\n"
			"persistent_keepalive_interval=0\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.1/32\n"
			"public_key=" KEY_B_HEX "\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.2/32\n"
			"allowed_ip=10.0.1.0/24\n"
			"\n");
	cr_assert_null(strstr(request, "replace_peers"), "syncconf must keep live sessions");
	free(request);
}

Test(ctl_sync, adds_new_peers_and_keeps_settings_the_file_gives)
{
	char *request = sync_request(RUNNING_ABC,
				     "[Interface]\nListenPort = 51820\n"
				     "[Peer]\nPublicKey = " KEY_C_B64 "\nEndpoint = 192.0.2.3:1\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nPresharedKey = " PSK_B64 "\n"
				     "PersistentKeepalive = 5\n"
				     "[Peer]\nPublicKey = " PRIV_PUB_B64 "\nAllowedIPs = 10.0.0.9/32\n");

	/* B is removed, C and A take the file's values, a new peer comes last. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=51820\n"
			"fwmark=0\n"
			"public_key=" KEY_B_HEX "\n"
			"remove=true\n"
			"public_key=" KEY_C_HEX "\n"
			"endpoint=192.0.2.3:1\n"
			"replace_allowed_ips=true\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" PSK_HEX "\n"
			"persistent_keepalive_interval=5\n"
			"replace_allowed_ips=true\n"
			"public_key=d89e3bad79437dbed9f843418304f460ff05c7fe81fe4a9577a804cb9367ff66\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.9/32\n"
			"\n");
	free(request);
}

Test(ctl_sync, a_file_without_peers_is_a_setconf)
{
	char *request = sync_request(RUNNING_ABC, "[Interface]\nListenPort = 1\n");

	/* As wg: replace_peers removes them all, which is what the file says. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=1\n"
			"fwmark=0\n"
			"replace_peers=true\n"
			"\n");
	free(request);
}

Test(ctl_sync, an_interface_without_peers_gets_a_setconf)
{
	char *request = sync_request("listen_port=1\nerrno=0\n\n",
				     "[Peer]\nPublicKey = " KEY_A_B64 "\n");

	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"replace_peers=true\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_sync, a_peer_in_two_blocks_is_cleared_once_and_only_if_no_block_sets_it)
{
	char *request = sync_request(RUNNING_ABC,
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nAllowedIPs = 10.0.0.1/32\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nPresharedKey = " PSK_B64 "\n"
				     "[Peer]\nPublicKey = " KEY_B_B64 "\n"
				     "[Peer]\nPublicKey = " KEY_C_B64 "\n");

	/* The second block keeps the key, so nothing clears it; the keepalive goes. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"public_key=" KEY_A_HEX "\n"
			"persistent_keepalive_interval=0\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.1/32\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" PSK_HEX "\n"
			"replace_allowed_ips=true\n"
			"public_key=" KEY_B_HEX "\n"
			"replace_allowed_ips=true\n"
			"public_key=" KEY_C_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_sync, the_file_s_extension_keys_are_sent_and_running_lists_replaced_whole)
{
	char *request = sync_request(
		"public_key=" KEY_A_HEX "\n"
		"endpoint_alt=192.0.2.7:1\n"
		"spread_prefix=2001:db8:ff::/64\n"
		"errno=0\n\n",
		"[Interface]\nSpreadMode = ports\nSpreadPorts = 40000-40099\n"
		"[Peer]\nPublicKey = " KEY_A_B64 "\nAltEndpoint = 192.0.2.8:2\n");

	/* A's alternates are replaced (emptied, then the file's); its prefix the file lacks goes. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"spread_mode=ports\n"
			"spread_ports=40000-40099\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"endpoint_alt=\n"
			"endpoint_alt=192.0.2.8:2\n"
			"spread_prefix=\n"
			"\n");
	free(request);
}

/* A running interface with every extension setting away from its default, and peer A's. */
#define RUNNING_EXTENDED                                                       \
	"listen_port=51820\n"                                                  \
	"spread_prefix=2001:db8:1::/64\n"                                      \
	"spread_prefix=198.51.100.0/28\n"                                      \
	"spread_mode=both\n"                                                   \
	"spread_ports=40000-40063\n"                                           \
	"spread_pairs=2048\n"                                                  \
	"endpoint_limit=4\n"                                                   \
	"steer=on\n"                                                           \
	"steer_qdisc=8001:\n"                                                  \
	"public_key=" KEY_A_HEX "\n"                                           \
	"endpoint_alt=192.0.2.7:51820\n"                                       \
	"endpoint_alt=[2001:db8::2]:51821\n"                                   \
	"spread_prefix=2001:db8:ff::/64\n"                                     \
	"spread_ports=5000-5999\n"                                             \
	"endpoint_count=1\n"                                                   \
	"public_key=" KEY_B_HEX "\n"                                           \
	"spread_ports=6000-6001\n"                                             \
	"errno=0\n\n"

Test(ctl_sync, running_extension_settings_the_file_lacks_are_cleared)
{
	char *request = sync_request(RUNNING_EXTENDED,
				     "[Interface]\nListenPort = 51820\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\n"
				     "[Peer]\nPublicKey = " KEY_C_B64 "\n");

	/* Every device-level setting goes back to its default; A's too; B is removed. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=51820\n"
			"fwmark=0\n"
			"spread_prefix=\n"
			"spread_mode=\n"
			"spread_ports=\n"
			"spread_pairs=\n"
			"endpoint_limit=\n"
			"steer=\n"
			"steer_qdisc=\n"
			"public_key=" KEY_B_HEX "\n"
			"remove=true\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"endpoint_alt=\n"
			"spread_prefix=\n"
			"spread_ports=\n"
			"public_key=" KEY_C_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_sync, settings_the_file_gives_are_sent_not_cleared)
{
	char *request = sync_request(RUNNING_EXTENDED,
				     "[Interface]\nSpreadPrefix = 2001:db8:2::/64\nSpreadMode = ports\n"
				     "SpreadPorts = 1-2\nSpreadPairs = 16\nEndpointLimit = 0\n"
				     "Steer = off\nSteerQdisc = 1:\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nAltEndpoint = 192.0.2.7:51820\n"
				     "[Peer]\nPublicKey = " KEY_B_B64 "\n"
				     "[Peer]\nPublicKey = " KEY_A_B64 "\nSpreadPorts = 5000-5001\n"
				     "SpreadPrefix = 2001:db8:fe::/64\n");

	/*
	 * Lists are emptied, then get the file's items (the clears of a peer go in
	 * its first block, the items where the file has them); A's spread ports,
	 * given in its second block, are not cleared.
	 */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"spread_prefix=\n"
			"spread_prefix=2001:db8:2::/64\n"
			"spread_mode=ports\n"
			"spread_ports=1-2\n"
			"spread_pairs=16\n"
			"endpoint_limit=0\n"
			"steer=off\n"
			"steer_qdisc=1:\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"endpoint_alt=\n"
			"endpoint_alt=192.0.2.7:51820\n"
			"spread_prefix=\n"
			"public_key=" KEY_B_HEX "\n"
			"replace_allowed_ips=true\n"
			"spread_ports=\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"spread_prefix=2001:db8:fe::/64\n"
			"spread_ports=5000-5001\n"
			"\n");
	free(request);
}

Test(ctl_sync, settings_at_their_defaults_are_not_cleared)
{
	/* flowspreadd always reports these three; wireguard-go reports none. */
	char *request = sync_request("spread_pairs=1024\nendpoint_limit=8\nsteer=off\n"
				     "public_key=" KEY_A_HEX "\nendpoint_count=0\nerrno=0\n\n",
				     "[Peer]\nPublicKey = " KEY_A_B64 "\n");

	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_sync, device_settings_are_cleared_also_when_peers_are_replaced)
{
	char *request = sync_request(RUNNING_EXTENDED, "[Interface]\nSteer = on\n");

	/* No peers in the file: replace_peers, as wg; A's settings go with A. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"replace_peers=true\n"
			"spread_prefix=\n"
			"spread_mode=\n"
			"spread_ports=\n"
			"spread_pairs=\n"
			"endpoint_limit=\n"
			"steer=on\n"
			"steer_qdisc=\n"
			"\n");
	free(request);
}

Test(ctl_sync, setconf_clears_device_settings_only)
{
	char err[CTL_ERRLEN] = "";
	struct ctl_device running, file;
	const char *conf = "[Interface]\nSpreadPairs = 64\n[Peer]\nPublicKey = " KEY_A_B64 "\n";
	char *request;

	ctl_test_get(&running, RUNNING_EXTENDED);
	ctl_device_init(&file);
	cr_assert(ctl_conf_parse(&file, conf, strlen(conf), "set.conf", false, err, sizeof(err)),
		  "%s", err);
	ctl_sync_clear_device(&file, &running);
	request = ctl_test_set_text(&file);
	/* replace_peers creates A anew, without the settings it had. */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"replace_peers=true\n"
			"spread_prefix=\n"
			"spread_mode=\n"
			"spread_ports=\n"
			"spread_pairs=64\n"
			"endpoint_limit=\n"
			"steer=\n"
			"steer_qdisc=\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
	ctl_device_free(&file);
	ctl_device_free(&running);
}

/* Key number i: its first 4 bytes are i, the rest fixed. */
static void numbered_key(uint8_t key[WG_KEY_LEN], uint32_t i)
{
	memset(key, 0x5a, WG_KEY_LEN);
	key[0] = (uint8_t)(i >> 24);
	key[1] = (uint8_t)(i >> 16);
	key[2] = (uint8_t)(i >> 8);
	key[3] = (uint8_t)i;
}

Test(ctl_sync, many_peers)
{
	enum { N = 20000 };
	struct ctl_device running, file;
	uint8_t key[WG_KEY_LEN];

	/* Running: peers 0..N-1, odd ones with a keepalive; file: N/2..N+N/2-1, backwards. */
	ctl_test_init();
	ctl_device_init(&running);
	ctl_device_init(&file);
	for (uint32_t i = 0; i < N; ++i) {
		struct ctl_peer *peer = ctl_device_add_peer(&running);

		cr_assert_not_null(peer);
		numbered_key(peer->public_key, i);
		peer->persistent_keepalive = (uint16_t)(i & 1);
	}
	for (uint32_t i = N + N / 2; i-- > N / 2;) {
		struct ctl_peer *peer = ctl_device_add_peer(&file);

		cr_assert_not_null(peer);
		numbered_key(peer->public_key, i);
	}
	file.replace_peers = true;
	cr_assert(ctl_sync_diff(&file, &running));
	cr_assert_eq(file.n_peers, N + N / 2);
	cr_assert(!file.replace_peers);
	for (uint32_t i = 0; i < N / 2; ++i) {
		numbered_key(key, i);
		cr_assert(file.peers[i].remove, "block %u is not a removal", i);
		cr_assert(!memcmp(file.peers[i].public_key, key, WG_KEY_LEN),
			  "removal %u is not of peer %u (running order)", i, i);
	}
	for (uint32_t j = 0; j < N; ++j) {
		const struct ctl_peer *peer = &file.peers[N / 2 + j];
		uint32_t i = N + N / 2 - 1 - j;

		numbered_key(key, i);
		cr_assert(!peer->remove && !memcmp(peer->public_key, key, WG_KEY_LEN),
			  "block %u is not the file's peer %u", N / 2 + j, i);
		/* Running odd peers below N had a keepalive: cleared; the others untouched. */
		cr_assert_eq(peer->has_persistent_keepalive, i < N && (i & 1), "peer %u", i);
	}
	ctl_device_free(&file);
	ctl_device_free(&running);
}
