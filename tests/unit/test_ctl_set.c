// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * set's arguments: each one below becomes the request `wg set` would send
 * (wireguard-tools' config_read_cmd), plus the extension settings; key
 * files are read as wg reads them; mistakes are told apart as usage
 * errors (exit 2: an unknown or misplaced word, a missing value) and bad
 * values (exit 1), each with its message.
 */
#include <unistd.h>
#include "../../src/ctl/subcommands.h"
#include "test_ctl.h"
#include "leakcheck.h"

/* A temporary file holding text; its path in path (PATH_MAX), removed by the caller. */
static void temp_file(char path[64], const char *text)
{
	int fd;

	snprintf(path, 64, "/tmp/test_ctl_set.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static enum ctl_status parse(struct ctl_device *dev, char *err, int argc, char **argv)
{
	ctl_test_init();
	ctl_device_init(dev);
	err[0] = '\0';
	return ctl_set_parse_args(dev, argc, argv, err, CTL_ERRLEN);
}

/* The request for argv, which must parse. */
#define SET_REQUEST(out, ...)                                                  \
	do {                                                                   \
		char *argv_[] = { __VA_ARGS__ };                               \
		char err_[CTL_ERRLEN];                                         \
		struct ctl_device dev_;                                        \
		cr_assert_eq(parse(&dev_, err_, sizeof(argv_) / sizeof(argv_[0]), argv_), \
			     CTL_OK, "%s", err_);                              \
		(out) = ctl_test_set_text(&dev_);                              \
		ctl_device_free(&dev_);                                        \
	} while (0)

/* argv must be refused with status and message. */
#define SET_REFUSED(status, message, ...)                                      \
	do {                                                                   \
		char *argv_[] = { __VA_ARGS__ };                               \
		char err_[CTL_ERRLEN];                                         \
		struct ctl_device dev_;                                        \
		cr_assert_eq(parse(&dev_, err_, sizeof(argv_) / sizeof(argv_[0]), argv_), \
			     (status), "wrong status; message: %s", err_);     \
		cr_assert_str_eq(err_, (message));                             \
		ctl_device_free(&dev_);                                        \
	} while (0)

FS_LEAK_CHECKED_SUITE(ctl_set);

Test(ctl_set, standard_arguments_as_wg_set_sends_them)
{
	char key_file[64], psk_file[64], *request;

	temp_file(key_file, PRIV_B64 "\n");
	temp_file(psk_file, PSK_B64 " \t\n\n");	/* white space may follow the key */
	SET_REQUEST(request, "listen-port", "51820", "fwmark", "0x10", "private-key", key_file,
		    "peer", KEY_A_B64, "preshared-key", psk_file, "endpoint", "[2001:db8::1]:4500",
		    "persistent-keepalive", "off", "allowed-ips", " 10.0.0.1/32, fd00::/64 ",
		    "peer", KEY_B_B64, "remove");
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" PRIV_HEX "\n"
			"listen_port=51820\n"
			"fwmark=16\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" PSK_HEX "\n"
			"endpoint=[2001:db8::1]:4500\n"
			"persistent_keepalive_interval=0\n"
			"replace_allowed_ips=true\n"
			"allowed_ip=10.0.0.1/32\n"
			"allowed_ip=fd00::/64\n"
			"public_key=" KEY_B_HEX "\n"
			"remove=true\n"
			"\n");
	free(request);
	unlink(key_file);
	unlink(psk_file);
}

Test(ctl_set, empty_key_file_and_empty_allowed_ips_remove)
{
	char *request;

	/* /dev/null removes the key; "" replaces the allowed IPs with none, as with wg. */
	SET_REQUEST(request, "private-key", "/dev/null", "peer", KEY_A_B64, "preshared-key",
		    "/dev/null", "allowed-ips", "");
	ctl_assert_text(request,
			"set=1\n"
			"private_key=" ZERO_HEX "\n"
			"public_key=" KEY_A_HEX "\n"
			"preshared_key=" ZERO_HEX "\n"
			"replace_allowed_ips=true\n"
			"\n");
	free(request);
}

Test(ctl_set, a_peer_alone_changes_nothing_else)
{
	char *request;

	SET_REQUEST(request, "peer", KEY_C_B64);
	ctl_assert_text(request, "set=1\npublic_key=" KEY_C_HEX "\n\n");
	free(request);
}

Test(ctl_set, extension_arguments)
{
	char *request;

	SET_REQUEST(request, "spread-prefix", "2001:db8:1::/64", "spread-prefix",
		    "2001:db8:2::/64, 2001:db8:3::/64", "spread-mode", "ports", "spread-ports",
		    "40000-40063", "spread-pairs", "4096", "endpoint-limit", "0", "steer", "on",
		    "steer-qdisc", "1:", "peer", KEY_A_B64, "alt-endpoint", "192.0.2.9:51820",
		    "alt-endpoint", "[2001:db8::9]:51820", "spread-prefix", "2001:db8:9::/64",
		    "spread-ports", "51820-51827");
	ctl_assert_text(request,
			"set=1\n"
			"spread_prefix=2001:db8:1::/64\n"
			"spread_prefix=2001:db8:2::/64\n"
			"spread_prefix=2001:db8:3::/64\n"
			"spread_mode=ports\n"
			"spread_ports=40000-40063\n"
			"spread_pairs=4096\n"
			"endpoint_limit=0\n"
			"steer=on\n"
			"steer_qdisc=1:\n"
			"public_key=" KEY_A_HEX "\n"
			"endpoint_alt=192.0.2.9:51820\n"
			"endpoint_alt=[2001:db8::9]:51820\n"
			"spread_prefix=2001:db8:9::/64\n"
			"spread_ports=51820-51827\n"
			"\n");
	free(request);
}

Test(ctl_set, empty_extension_values_clear)
{
	char *request;

	/* Each empty value is sent as such: the daemon sets the setting back to its default. */
	SET_REQUEST(request, "spread-prefix", "", "spread-mode", "", "spread-ports", "",
		    "spread-pairs", "", "endpoint-limit", "", "steer", "", "steer-qdisc", "",
		    "peer", KEY_A_B64, "alt-endpoint", "", "spread-prefix", " ", "spread-ports", "");
	ctl_assert_text(request,
			"set=1\n"
			"spread_prefix=\n"
			"spread_mode=\n"
			"spread_ports=\n"
			"spread_pairs=\n"
			"endpoint_limit=\n"
			"steer=\n"
			"steer_qdisc=\n"
			"public_key=" KEY_A_HEX "\n"
			"endpoint_alt=\n"
			"spread_prefix=\n"
			"spread_ports=\n"
			"\n");
	free(request);
}

Test(ctl_set, an_empty_list_value_then_items_replaces_the_list)
{
	char *request;

	/* Items after the empty value replace the list; items before it are dropped. */
	SET_REQUEST(request, "spread-prefix", "2001:db8:1::/64", "spread-prefix", "",
		    "spread-prefix", "2001:db8:2::/64", "spread-ports", "", "spread-ports", "1-2",
		    "peer", KEY_A_B64, "alt-endpoint", "192.0.2.1:1", "alt-endpoint", "");
	ctl_assert_text(request,
			"set=1\n"
			"spread_prefix=\n"
			"spread_prefix=2001:db8:2::/64\n"
			"spread_ports=1-2\n"
			"public_key=" KEY_A_HEX "\n"
			"endpoint_alt=\n"
			"\n");
	free(request);
}

Test(ctl_set, usage_errors)
{
	SET_REFUSED(CTL_USAGE, "listen-port needs a value", "listen-port");
	SET_REFUSED(CTL_USAGE, "peer needs a public key", "peer");
	SET_REFUSED(CTL_USAGE, "invalid argument \"listenport\"", "listenport", "1");
	SET_REFUSED(CTL_USAGE, "invalid argument \"remove\"", "remove");
	SET_REFUSED(CTL_USAGE, "invalid argument \"allowed-ips\"", "allowed-ips", "10.0.0.0/8");
	SET_REFUSED(CTL_USAGE, "fwmark is an interface setting: it must come before the first peer",
		    "peer", KEY_A_B64, "fwmark", "1");
	SET_REFUSED(CTL_USAGE, "steer is an interface setting: it must come before the first peer",
		    "peer", KEY_A_B64, "steer", "on");
}

Test(ctl_set, bad_values)
{
	SET_REFUSED(CTL_FAIL, "listen-port \"http-alt-x\": expected a port 0..65535", "listen-port",
		    "http-alt-x");
	SET_REFUSED(CTL_FAIL, "peer \"abc\": expected a base64 key of 44 characters ending in \"=\"",
		    "peer", "abc");
	SET_REFUSED(CTL_FAIL, "allowed-ips \"10.0.0.0/33\": expected ADDR/LEN with LEN 0..32",
		    "peer", KEY_A_B64, "allowed-ips", "10.0.0.0/8, 10.0.0.0/33");
	SET_REFUSED(CTL_FAIL, "persistent-keepalive \"never\": expected off or seconds 0..65535",
		    "peer", KEY_A_B64, "persistent-keepalive", "never");
	SET_REFUSED(CTL_FAIL, "spread-ports \"9-8\": expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535",
		    "peer", KEY_A_B64, "spread-ports", "9-8");
	SET_REFUSED(CTL_FAIL, "endpoint-limit \"100\": expected 0..64", "endpoint-limit", "100");
	/* An empty value clears extension settings only. */
	SET_REFUSED(CTL_FAIL, "listen-port \"\": expected a port 0..65535", "listen-port", "");
	SET_REFUSED(CTL_FAIL, "endpoint \"\": expected HOST:PORT or [HOST]:PORT", "peer",
		    KEY_A_B64, "endpoint", "");
	SET_REFUSED(CTL_FAIL, "endpoint \"[::1]\": expected HOST:PORT or [HOST]:PORT", "peer",
		    KEY_A_B64, "endpoint", "[::1]");
	SET_REFUSED(CTL_FAIL, "private-key \"/nonexistent/key\": No such file or directory",
		    "private-key", "/nonexistent/key");
}

Test(ctl_set, key_files_checked_as_wg_checks_them)
{
	char path[64], expected[256];

	temp_file(path, PRIV_B64 "x\n");
	snprintf(expected, sizeof(expected), "private-key \"%s\": expected a base64 key of 44 "
		 "characters and nothing after it but white space", path);
	SET_REFUSED(CTL_FAIL, expected, "private-key", path);
	unlink(path);

	/* As wg reads them, the first 44 bytes are the key: white space before it pushes
	 * the key's last character past them. */
	temp_file(path, " " PRIV_B64 "\n");
	snprintf(expected, sizeof(expected), "private-key \"%s\": expected a base64 key of 44 "
		 "characters and nothing after it but white space", path);
	SET_REFUSED(CTL_FAIL, expected, "private-key", path);
	unlink(path);

	temp_file(path, "short\n");
	snprintf(expected, sizeof(expected), "preshared-key \"%s\": expected a base64 key of 44 "
		 "characters ending in \"=\" (the key is secret: not shown)", path);
	SET_REFUSED(CTL_FAIL, expected, "peer", KEY_A_B64, "preshared-key", path);
	unlink(path);
}
