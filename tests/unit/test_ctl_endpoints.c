// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadctl endpoints: the endpoint table of each peer from a canned
 * get answer, whole, as a person reads it and as JSON: IPv4 and IPv6
 * entries, unknown ("-") ages and round trips, every origin, the current
 * endpoint marked, several peers, the PEER filter and an unknown PEER, a
 * daemon that reports no table, and what a malformed endpoint_state line
 * does (the answer is refused, naming the line; nothing is printed).
 */
#include <errno.h>
#include "test_ctl.h"
#include "leakcheck.h"
#include "../../src/ctl/subcommands.h"

/*
 * Peer A: endpoint, two alts (one IPv6), a prefix entry; the endpoint is
 * current. Peer B: the current endpoint is the roaming entry, the
 * configured one failed. Peer C: no endpoint, an empty table.
 */
#define TABLE_ANSWER                                                           \
	"private_key=" PRIV_HEX "\n"                                           \
	"listen_port=51820\n"                                                  \
	"public_key=" KEY_A_HEX "\n"                                           \
	"endpoint=[2001:db8::1]:51820\n"                                       \
	"allowed_ip=10.0.0.2/32\n"                                             \
	"endpoint_alt=192.0.2.7:51820\n"                                       \
	"endpoint_alt=[2001:db8:2::2]:51821\n"                                 \
	"spread_prefix=2001:db8:ff::/64\n"                                     \
	"endpoint_count=4\n"                                                   \
	"endpoint_state=[2001:db8::1]:51820,configured,120,3500,active\n"      \
	"endpoint_state=192.0.2.7:51820,alt,-,-,untried\n"                     \
	"endpoint_state=[2001:db8:2::2]:51821,alt,98000,850,stale\n"           \
	"endpoint_state=[2001:db8:ff::9]:40001,prefix,3299,-,unconfirmed\n"    \
	"public_key=" KEY_B_HEX "\n"                                           \
	"endpoint=198.51.100.77:1024\n"                                        \
	"endpoint_count=2\n"                                                   \
	"endpoint_state=192.0.2.2:51821,configured,-,1234567,failed\n"         \
	"endpoint_state=198.51.100.77:1024,roaming,0,-,unconfirmed\n"          \
	"public_key=" KEY_C_HEX "\n"                                           \
	"endpoint_count=0\n"                                                   \
	"errno=0\n\n"

#define PRETTY_PEER_A                                                                      \
	"peer: " KEY_A_B64 "\n"                                                            \
	"  endpoint: [2001:db8::1]:51820\n"                                                \
	"  endpoint count: 4\n"                                                            \
	"    address                 origin      last received             rtt      state\n" \
	"  * [2001:db8::1]:51820     configured  120 ms ago                3.50 ms  active\n" \
	"    192.0.2.7:51820         alt         never                     -        untried\n" \
	"    [2001:db8:2::2]:51821   alt         1 minute, 38 seconds ago  850 us   stale\n" \
	"    [2001:db8:ff::9]:40001  prefix      3.2 s ago                 -        unconfirmed\n"

#define PRETTY_PEER_B                                                                      \
	"peer: " KEY_B_B64 "\n"                                                            \
	"  endpoint: 198.51.100.77:1024\n"                                                 \
	"  endpoint count: 2\n"                                                            \
	"    address             origin      last received  rtt         state\n"             \
	"    192.0.2.2:51821     configured  never          1234.56 ms  failed\n"            \
	"  * 198.51.100.77:1024  roaming     0 ms ago       -           unconfirmed\n"

#define PRETTY_PEER_C                                                                      \
	"peer: " KEY_C_B64 "\n"                                                            \
	"  endpoint: (none)\n"                                                             \
	"  endpoint count: 0\n"

#define JSON_PEER_B                                                            \
	"    {\n"                                                              \
	"      \"public_key\": \"" KEY_B_B64 "\",\n"                           \
	"      \"endpoint\": \"198.51.100.77:1024\",\n"                        \
	"      \"endpoint_count\": 2,\n"                                       \
	"      \"endpoint_states\": [\n"                                       \
	"        {\n"                                                          \
	"          \"endpoint\": \"192.0.2.2:51821\",\n"                       \
	"          \"origin\": \"configured\",\n"                              \
	"          \"age_ms\": null,\n"                                        \
	"          \"rtt_us\": 1234567,\n"                                     \
	"          \"state\": \"failed\",\n"                                   \
	"          \"current\": false\n"                                       \
	"        },\n"                                                         \
	"        {\n"                                                          \
	"          \"endpoint\": \"198.51.100.77:1024\",\n"                    \
	"          \"origin\": \"roaming\",\n"                                 \
	"          \"age_ms\": 0,\n"                                           \
	"          \"rtt_us\": null,\n"                                        \
	"          \"state\": \"unconfirmed\",\n"                              \
	"          \"current\": true\n"                                        \
	"        }\n"                                                          \
	"      ]\n"                                                            \
	"    }"

FS_LEAK_CHECKED_SUITE(ctl_endpoints);

/* Runs ctl_endpoints_print on answer, which must succeed; its output, malloc'd. */
static char *run(const char *answer, const uint8_t *peer_key, bool json)
{
	char err[CTL_ERRLEN] = "", *out;
	struct ctl_device dev;
	enum ctl_status status;

	ctl_test_get(&dev, answer);
	CTL_TEST_CAPTURE(out, status = ctl_endpoints_print(f, &dev, peer_key, json, err,
							   sizeof(err)));
	cr_assert_eq(status, CTL_OK, "failed: %s", err);
	ctl_device_free(&dev);
	return out;
}

static void key(uint8_t out[WG_KEY_LEN], const char *base64)
{
	cr_assert(ctl_key_from_base64(out, base64));
}

Test(ctl_endpoints, pretty_every_peer)
{
	char *out = run(TABLE_ANSWER, NULL, false);

	/* In the daemon's order; columns as wide as their widest cell, no trailing blanks. */
	ctl_assert_text(out, "interface: wg0\n"
			     "\n" PRETTY_PEER_A
			     "\n" PRETTY_PEER_B
			     "\n" PRETTY_PEER_C);
	free(out);
}

Test(ctl_endpoints, pretty_one_peer)
{
	uint8_t b[WG_KEY_LEN];
	char *out;

	key(b, KEY_B_B64);
	out = run(TABLE_ANSWER, b, false);
	ctl_assert_text(out, "interface: wg0\n\n" PRETTY_PEER_B);
	free(out);
}

Test(ctl_endpoints, json_one_peer)
{
	uint8_t b[WG_KEY_LEN];
	char *out;

	key(b, KEY_B_B64);
	out = run(TABLE_ANSWER, b, true);
	ctl_assert_text(out, "{\n"
			     "  \"name\": \"wg0\",\n"
			     "  \"peers\": [\n" JSON_PEER_B "\n"
			     "  ]\n"
			     "}\n");
	free(out);
}

Test(ctl_endpoints, json_every_peer)
{
	char *out = run(TABLE_ANSWER, NULL, true);

	ctl_assert_text(out,
			"{\n"
			"  \"name\": \"wg0\",\n"
			"  \"peers\": [\n"
			"    {\n"
			"      \"public_key\": \"" KEY_A_B64 "\",\n"
			"      \"endpoint\": \"[2001:db8::1]:51820\",\n"
			"      \"endpoint_count\": 4,\n"
			"      \"endpoint_states\": [\n"
			"        {\n"
			"          \"endpoint\": \"[2001:db8::1]:51820\",\n"
			"          \"origin\": \"configured\",\n"
			"          \"age_ms\": 120,\n"
			"          \"rtt_us\": 3500,\n"
			"          \"state\": \"active\",\n"
			"          \"current\": true\n"
			"        },\n"
			"        {\n"
			"          \"endpoint\": \"192.0.2.7:51820\",\n"
			"          \"origin\": \"alt\",\n"
			"          \"age_ms\": null,\n"
			"          \"rtt_us\": null,\n"
			"          \"state\": \"untried\",\n"
			"          \"current\": false\n"
			"        },\n"
			"        {\n"
			"          \"endpoint\": \"[2001:db8:2::2]:51821\",\n"
			"          \"origin\": \"alt\",\n"
			"          \"age_ms\": 98000,\n"
			"          \"rtt_us\": 850,\n"
			"          \"state\": \"stale\",\n"
			"          \"current\": false\n"
			"        },\n"
			"        {\n"
			"          \"endpoint\": \"[2001:db8:ff::9]:40001\",\n"
			"          \"origin\": \"prefix\",\n"
			"          \"age_ms\": 3299,\n"
			"          \"rtt_us\": null,\n"
			"          \"state\": \"unconfirmed\",\n"
			"          \"current\": false\n"
			"        }\n"
			"      ]\n"
			"    },\n"
			JSON_PEER_B ",\n"
			"    {\n"
			"      \"public_key\": \"" KEY_C_B64 "\",\n"
			"      \"endpoint\": null,\n"
			"      \"endpoint_count\": 0,\n"
			"      \"endpoint_states\": []\n"
			"    }\n"
			"  ]\n"
			"}\n");
	free(out);
}

Test(ctl_endpoints, unknown_peer)
{
	char err[CTL_ERRLEN] = "", *out;
	uint8_t other[WG_KEY_LEN];
	struct ctl_device dev;
	enum ctl_status status;

	key(other, PRIV_PUB_B64);
	ctl_test_get(&dev, TABLE_ANSWER);
	for (int json = 0; json < 2; ++json) {
		CTL_TEST_CAPTURE(out, status = ctl_endpoints_print(f, &dev, other, json, err,
								   sizeof(err)));
		cr_assert_eq(status, CTL_FAIL);
		ctl_assert_text(err, "interface wg0 has no peer " PRIV_PUB_B64);
		ctl_assert_text(out, "");
		free(out);
	}
	ctl_device_free(&dev);
}

Test(ctl_endpoints, no_peers)
{
	char *out = run("listen_port=1\nerrno=0\n\n", NULL, false);

	ctl_assert_text(out, "interface: wg0\n");
	free(out);
	out = run("listen_port=1\nerrno=0\n\n", NULL, true);
	ctl_assert_text(out, "{\n  \"name\": \"wg0\",\n  \"peers\": []\n}\n");
	free(out);
}

Test(ctl_endpoints, daemon_without_table)
{
	char *out = run(WIREGUARD_GO_ANSWER, NULL, false);

	/* wireguard-go sends no endpoint_count: say so, not "0 entries". */
	ctl_assert_text(out, "interface: wg0\n"
			     "\n"
			     "peer: " KEY_A_B64 "\n"
			     "  endpoint: 192.0.2.1:51820\n"
			     "  endpoint table: not reported (the daemon is not flowspreadd?)\n"
			     "\n"
			     "peer: " KEY_B_B64 "\n"
			     "  endpoint: (none)\n"
			     "  endpoint table: not reported (the daemon is not flowspreadd?)\n");
	free(out);
	out = run(WIREGUARD_GO_ANSWER, NULL, true);
	cr_assert_not_null(strstr(out, "      \"endpoint\": \"192.0.2.1:51820\",\n"
				       "      \"endpoint_states\": []\n"), "%s", out);
	cr_assert_null(strstr(out, "endpoint_count"), "%s", out);
	free(out);
}

Test(ctl_endpoints, ages_and_round_trips)
{
	/* Truncated, never rounded up: 59999 ms is 59.9 s, 1999 us is 1.99 ms. */
	char *out = run("public_key=" KEY_A_HEX "\n"
			"endpoint_count=6\n"
			"endpoint_state=192.0.2.1:1,learned,999,999,unconfirmed\n"
			"endpoint_state=192.0.2.1:2,learned,1000,1000,stale\n"
			"endpoint_state=192.0.2.1:3,learned,59999,1999,stale\n"
			"endpoint_state=192.0.2.1:4,learned,60000,,stale\n"
			"endpoint_state=192.0.2.1:5,learned,90061000,-,stale\n"
			"endpoint_state=192.0.2.1:6,learned,,0,trying\n"
			"errno=0\n\n", NULL, false);

	ctl_assert_text(out, "interface: wg0\n"
			     "\n"
			     "peer: " KEY_A_B64 "\n"
			     "  endpoint: (none)\n"
			     "  endpoint count: 6\n"
			     "    address      origin   last received                          "
			     "rtt      state\n"
			     "    192.0.2.1:1  learned  999 ms ago                             "
			     "999 us   unconfirmed\n"
			     "    192.0.2.1:2  learned  1.0 s ago                              "
			     "1.00 ms  stale\n"
			     "    192.0.2.1:3  learned  59.9 s ago                             "
			     "1.99 ms  stale\n"
			     "    192.0.2.1:4  learned  1 minute ago                           "
			     "-        stale\n"
			     "    192.0.2.1:5  learned  1 day, 1 hour, 1 minute, 1 second ago  "
			     "-        stale\n"
			     "    192.0.2.1:6  learned  never                                  "
			     "0 us     trying\n");
	free(out);
}

Test(ctl_endpoints, current_marks_the_first_match_only)
{
	/* Same address twice (briefly possible after a reconfiguration): one "*". */
	char *out = run("public_key=" KEY_A_HEX "\n"
			"endpoint=[2001:db8::1]:1\n"
			"endpoint_count=3\n"
			"endpoint_state=[2001:db8::1]:2,configured,-,-,untried\n"
			"endpoint_state=[2001:db8::1]:1,alt,5,-,unconfirmed\n"
			"endpoint_state=[2001:db8::1]:1,learned,5,-,unconfirmed\n"
			"errno=0\n\n", NULL, false);

	cr_assert_not_null(strstr(out, "    [2001:db8::1]:2  configured"), "%s", out);
	cr_assert_not_null(strstr(out, "  * [2001:db8::1]:1  alt"), "%s", out);
	cr_assert_not_null(strstr(out, "    [2001:db8::1]:1  learned"), "%s", out);
	free(out);

	/* An endpoint that is no entry of the table marks none. */
	out = run("public_key=" KEY_A_HEX "\n"
		  "endpoint=192.0.2.9:9\n"
		  "endpoint_count=1\n"
		  "endpoint_state=192.0.2.1:1,configured,-,-,untried\n"
		  "errno=0\n\n", NULL, false);
	cr_assert_null(strchr(out, '*'), "%s", out);
	free(out);
}

/*
 * A malformed endpoint_state line: the whole get answer is refused
 * (-EPROTO) with a message naming the line, as for any known key with a
 * malformed value (ipc.h), so endpoints (like show) prints nothing and
 * exits 1 with "flowspreadctl: interface IFNAME: unexpected answer from its
 * daemon: line N: endpoint_state=... is malformed". Nothing is half shown.
 */
static void assert_refused(const char *state, const char *expected)
{
	char answer[512], err[CTL_ERRLEN] = "";
	struct ctl_device dev;

	snprintf(answer, sizeof(answer),
		 "public_key=" KEY_A_HEX "\n"
		 "endpoint_count=2\n"
		 "endpoint_state=192.0.2.1:1,configured,-,-,untried\n"
		 "endpoint_state=%s\n"
		 "errno=0\n\n", state);
	ctl_test_init();
	ctl_device_init(&dev);
	cr_assert_eq(ctl_uapi_parse_get(&dev, answer, strlen(answer), err, sizeof(err)), -EPROTO,
		     "accepted: %s", state);
	ctl_assert_text(err, expected);
	ctl_device_free(&dev);
}

Test(ctl_endpoints, malformed_state_line_refuses_the_answer)
{
	assert_refused("192.0.2.2:1,learned,1,2",
		       "line 4: endpoint_state=\"192.0.2.2:1,learned,1,2\" is malformed");
	assert_refused("192.0.2.2:1,learned,1,2,active,extra",
		       "line 4: endpoint_state=\"192.0.2.2:1,learned,1,2,active,extra\" "
		       "is malformed");
	assert_refused("2001:db8::1:51820,alt,-,-,untried",
		       "line 4: endpoint_state=\"2001:db8::1:51820,alt,-,-,untried\" is malformed");
	assert_refused("192.0.2.2:1,learned,12ms,-,stale",
		       "line 4: endpoint_state=\"192.0.2.2:1,learned,12ms,-,stale\" is malformed");
	assert_refused("192.0.2.2:1,learned,-,-1,stale",
		       "line 4: endpoint_state=\"192.0.2.2:1,learned,-,-1,stale\" is malformed");
	assert_refused("192.0.2.2:1,,-,-,stale",
		       "line 4: endpoint_state=\"192.0.2.2:1,,-,-,stale\" is malformed");
	assert_refused("192.0.2.2:1,learned,-,-,",
		       "line 4: endpoint_state=\"192.0.2.2:1,learned,-,-,\" is malformed");
	assert_refused("", "line 4: endpoint_state=\"\" is malformed");
}
