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

Test(ctl_sync, extension_keys_pass_through)
{
	char *request = sync_request(
		"public_key=" KEY_A_HEX "\n"
		"endpoint_alt=192.0.2.7:1\n"
		"spread_prefix=2001:db8:ff::/64\n"
		"errno=0\n\n",
		"[Interface]\nSpreadMode = ports\nSpreadPorts = 40000-40099\n"
		"[Peer]\nPublicKey = " KEY_A_B64 "\nAltEndpoint = 192.0.2.8:2\n");

	/* The file's extension keys are sent; running ones cannot be cleared (no UAPI key). */
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"listen_port=0\n"
			"fwmark=0\n"
			"spread_mode=ports\n"
			"spread_ports=40000-40099\n"
			"public_key=" KEY_A_HEX "\n"
			"replace_allowed_ips=true\n"
			"endpoint_alt=192.0.2.8:2\n"
			"\n");
	free(request);
}
