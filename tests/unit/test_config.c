// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <criterion/criterion.h>
#include "leakcheck.h"
#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

FS_LEAK_CHECKED_SUITE(config);

#define KEY_A "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define KEY_B "c6c8e0b8d2bdad0e1b6c2a0e49b0af9c16f3e5a6f4e1da1e6a2a53c0e8f4d3b1"
#define KEY_C "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae503bf9a61"
#define KEY_D "662e14fd594556f522604703340351258903b64f35553763f19426ab2a515c58"
#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"

static int parse_text(struct fs_config *cfg, const char *text, char *err)
{
	return fs_config_parse(cfg, text, strlen(text), err, FS_ERRLEN);
}

static void assert_empty(const struct fs_config *cfg)
{
	static const struct fs_config empty;

	cr_assert(!memcmp(cfg, &empty, sizeof(empty)), "the config was not left empty");
}

static void unhex_key(uint8_t key[WG_KEY_LEN], const char *hex)
{
	char err[FS_ERRLEN];

	cr_assert(fs_config_parse_key_hex(key, hex, err, sizeof(err)), "%s", err);
}

static void assert_key(const uint8_t key[WG_KEY_LEN], const char *hex)
{
	uint8_t want[WG_KEY_LEN];

	unhex_key(want, hex);
	cr_assert(!memcmp(key, want, WG_KEY_LEN), "key differs from %s", hex);
}

static void assert_endpoint(const union fs_sockaddr *ep, const char *text)
{
	char out[FS_ENDPOINT_STRLEN];

	cr_assert_str_eq(fs_endpoint_format(out, ep), text);
}

static void assert_prefix(const struct fs_prefix *prefix, const char *text)
{
	char out[FS_PREFIX_STRLEN];

	cr_assert_str_eq(fs_prefix_format(out, prefix), text);
}

/* Parses text expecting success; the caller frees cfg. */
static void parse_ok(struct fs_config *cfg, const char *text)
{
	char err[FS_ERRLEN] = "";
	int ret = parse_text(cfg, text, err);

	cr_assert_eq(ret, 0, "parse failed with %d: %s\n--- request:\n%.300s", ret, err, text);
	cr_assert_str_eq(err, "");
}

/* Parses text expecting ret, and a message starting with want (when not NULL). */
static void parse_fails(const char *text, int want_ret, const char *want)
{
	char err[FS_ERRLEN] = "";
	struct fs_config cfg;
	int ret;

	memset(&cfg, 0x5a, sizeof(cfg));
	ret = parse_text(&cfg, text, err);
	cr_assert_eq(ret, want_ret, "got %d (%s), want %d for:\n%.300s", ret, err,
		     want_ret, text);
	assert_empty(&cfg);
	cr_assert_neq(err[0], '\0', "no message for:\n%.300s", text);
	if (want)
		cr_assert(!strncmp(err, want, strlen(want)), "message \"%s\" does not start \"%s\"",
			  err, want);
}

/* A growable request text. */
struct request {
	char *text;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void add(struct request *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!r->text) {
		r->cap = 4096;
		r->text = malloc(r->cap);
		cr_assert_not_null(r->text);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(r->text + r->len, r->cap - r->len, fmt, ap);
		va_end(ap);
		cr_assert_geq(n, 0);
		if ((size_t)n < r->cap - r->len)
			break;
		r->cap = r->cap * 2 + (size_t)n;
		r->text = realloc(r->text, r->cap);
		cr_assert_not_null(r->text);
	}
	r->len += (size_t)n;
}

/*
 * CPU seconds of this process since start: a bound on wall time would fail
 * whenever the machine is busy, a bound on CPU time only when the parser is.
 */
static double cpu_seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* --- what `wg setconf` sends ------------------------------------------------- */

static const char setconf_request[] =
	"private_key=" KEY_A "\n"
	"listen_port=51820\n"
	"fwmark=4660\n"
	"replace_peers=true\n"
	"public_key=" KEY_B "\n"
	"preshared_key=" KEY_C "\n"
	"endpoint=192.0.2.1:51820\n"
	"persistent_keepalive_interval=25\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.0.0.2/32\n"
	"allowed_ip=2001:db8::2/128\n"
	"public_key=" KEY_D "\n"
	"endpoint=[2001:db8::1]:51821\n"
	"persistent_keepalive_interval=0\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.1.0.0/16\n"
	"allowed_ip=10.2.3.4/8\n"
	"allowed_ip=::/0\n"
	"\n";

Test(config, setconf_request_exact_values)
{
	struct fs_config cfg;
	struct fs_config_peer *a, *b;

	parse_ok(&cfg, setconf_request);
	cr_assert(cfg.has_private_key);
	assert_key(cfg.private_key, KEY_A);
	cr_assert(cfg.has_listen_port);
	cr_assert_eq(cfg.listen_port, 51820);
	cr_assert(cfg.has_fwmark);
	cr_assert_eq(cfg.fwmark, 4660);
	cr_assert(cfg.replace_peers);
	cr_assert_eq(cfg.n_spread_prefixes, 0);
	cr_assert_not(cfg.has_spread_mode || cfg.has_spread_ports || cfg.has_spread_pairs ||
		      cfg.has_endpoint_limit || cfg.has_steer || cfg.has_steer_qdisc);
	cr_assert_eq(cfg.n_peers, 2);

	a = &cfg.peers[0];
	assert_key(a->public_key, KEY_B);
	cr_assert_not(a->remove || a->update_only);
	cr_assert(a->has_preshared_key);
	assert_key(a->preshared_key, KEY_C);
	cr_assert(a->has_endpoint);
	assert_endpoint(&a->endpoint, "192.0.2.1:51820");
	cr_assert(a->has_persistent_keepalive);
	cr_assert_eq(a->persistent_keepalive, 25);
	cr_assert(a->replace_allowed_ips);
	cr_assert_eq(a->n_allowed_ips, 2);
	assert_prefix(&a->allowed_ips[0], "10.0.0.2/32");
	assert_prefix(&a->allowed_ips[1], "2001:db8::2/128");
	cr_assert_eq(a->n_endpoint_alt + a->n_spread_prefixes, 0);
	cr_assert_not(a->has_spread_ports);

	b = &cfg.peers[1];
	assert_key(b->public_key, KEY_D);
	cr_assert_not(b->has_preshared_key);
	assert_endpoint(&b->endpoint, "[2001:db8::1]:51821");
	cr_assert(b->has_persistent_keepalive);
	cr_assert_eq(b->persistent_keepalive, 0);
	cr_assert_eq(b->n_allowed_ips, 3);
	assert_prefix(&b->allowed_ips[0], "10.1.0.0/16");
	assert_prefix(&b->allowed_ips[1], "10.2.3.4/8");	/* host bits kept, as given */
	assert_prefix(&b->allowed_ips[2], "::/0");

	fs_config_free(&cfg);
	assert_empty(&cfg);
}

Test(config, line_endings)
{
	static const char *const requests[] = {
		"listen_port=1\nfwmark=2\n",		/* no terminating empty line */
		"listen_port=1\nfwmark=2\n\n",		/* with it */
		"listen_port=1\nfwmark=2",		/* last line without '\n' */
		"listen_port=1\r\nfwmark=2\r\n\r\n",	/* CRLF, as Go's line scanner takes */
	};

	for (size_t i = 0; i < ARRAY_SIZE(requests); ++i) {
		struct fs_config cfg;

		parse_ok(&cfg, requests[i]);
		cr_assert(cfg.has_listen_port && cfg.has_fwmark, "request %zu", i);
		cr_assert_eq(cfg.listen_port, 1);
		cr_assert_eq(cfg.fwmark, 2);
		fs_config_free(&cfg);
	}
}

Test(config, empty_request_sets_nothing)
{
	struct fs_config cfg;

	parse_ok(&cfg, "");
	assert_empty(&cfg);
	parse_ok(&cfg, "\n");
	assert_empty(&cfg);
}

Test(config, only_the_last_line_may_be_empty)
{
	parse_fails("listen_port=1\n\nfwmark=2\n", -EPROTO,
		    "line 2: empty line before the end of the request");
	parse_fails("listen_port=1\n\n\n", -EPROTO, "line 2:");
}

/* --- standard keys ----------------------------------------------------------- */

Test(config, later_values_win_and_blocks_stay_in_order)
{
	struct fs_config cfg;

	parse_ok(&cfg, "listen_port=1\nlisten_port=2\nfwmark=0\n"
		       "public_key=" KEY_B "\nendpoint=192.0.2.1:1\nendpoint=192.0.2.2:2\n"
		       "public_key=" KEY_D "\nremove=true\n"
		       "public_key=" KEY_B "\nupdate_only=true\nallowed_ip=10.0.0.1/32\n");
	cr_assert_eq(cfg.listen_port, 2);
	cr_assert(cfg.has_fwmark);
	cr_assert_eq(cfg.fwmark, 0);
	cr_assert_not(cfg.replace_peers);
	cr_assert_eq(cfg.n_peers, 3);
	assert_key(cfg.peers[0].public_key, KEY_B);
	assert_endpoint(&cfg.peers[0].endpoint, "192.0.2.2:2");
	cr_assert_not(cfg.peers[0].remove);
	assert_key(cfg.peers[1].public_key, KEY_D);
	cr_assert(cfg.peers[1].remove);
	cr_assert_not(cfg.peers[1].has_endpoint);
	assert_key(cfg.peers[2].public_key, KEY_B);
	cr_assert(cfg.peers[2].update_only);
	cr_assert_not(cfg.peers[2].has_endpoint);
	cr_assert_eq(cfg.peers[2].n_allowed_ips, 1);
	fs_config_free(&cfg);
}

Test(config, keys_in_either_case_and_zero_keys)
{
	struct request r = { 0 };
	struct fs_config cfg;
	char upper[] = KEY_A;

	for (char *c = upper; *c; ++c)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	parse_ok(&cfg, "private_key=" ZERO_KEY "\n");
	cr_assert(cfg.has_private_key);
	assert_key(cfg.private_key, ZERO_KEY);
	fs_config_free(&cfg);

	add(&r, "private_key=%s\npublic_key=%s\npreshared_key=" ZERO_KEY "\n", upper, upper);
	parse_ok(&cfg, r.text);
	free(r.text);
	assert_key(cfg.private_key, KEY_A);
	assert_key(cfg.peers[0].public_key, KEY_A);
	cr_assert(cfg.peers[0].has_preshared_key);
	assert_key(cfg.peers[0].preshared_key, ZERO_KEY);
	fs_config_free(&cfg);
}

Test(config, bad_keys_never_echo_key_material)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
		{ "private_key=" KEY_A "0\n",
		  "line 1: invalid private_key: key has 65 characters: expected 64 hex digits" },
		{ "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027\n",
		  "line 1: invalid private_key: key has 63 characters: expected 64 hex digits" },
		{ "private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba5202zz\n",
		  "line 1: invalid private_key: key has a non-hex character at offset 62: "
		  "expected 64 hex digits" },
		{ "public_key=" KEY_B "\npreshared_key=xe84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027\n",
		  "line 2: invalid preshared_key: key has a non-hex character at offset 0: "
		  "expected 64 hex digits" },
		{ "public_key=" KEY_B "\npreshared_key=\n",
		  "line 2: invalid preshared_key: key has 0 characters: expected 64 hex digits" },
		{ "public_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027 \n",
		  "line 1: invalid public_key: key has a non-hex character at offset 63" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); ++i) {
		char err[FS_ERRLEN];
		struct fs_config cfg;

		parse_fails(cases[i].text, -EINVAL, cases[i].message);
		cr_assert_eq(parse_text(&cfg, cases[i].text, err), -EINVAL);
		cr_assert_null(strstr(err, "e84b5a6d"), "key material in \"%s\"", err);
	}
}

struct value_case {
	const char *line;
	bool ok;
};

/* Each line alone in a request (peer lines after a public_key). */
static void check_value_cases(const struct value_case *cases, size_t n, bool peer)
{
	for (size_t i = 0; i < n; ++i) {
		struct request r = { 0 };
		struct fs_config cfg;
		char err[FS_ERRLEN] = "";
		int ret;

		if (peer)
			add(&r, "public_key=" KEY_B "\n");
		add(&r, "%s\n", cases[i].line);
		ret = parse_text(&cfg, r.text, err);
		if (cases[i].ok) {
			cr_assert_eq(ret, 0, "\"%s\" rejected: %s", cases[i].line, err);
			fs_config_free(&cfg);
		} else {
			cr_assert_eq(ret, -EINVAL, "\"%s\" gave %d, want -EINVAL", cases[i].line, ret);
			assert_empty(&cfg);
			cr_assert(strstr(err, "expected"), "\"%s\": no reason in \"%s\"",
				  cases[i].line, err);
			cr_assert(!strncmp(err, peer ? "line 2: " : "line 1: ", 8),
				  "\"%s\": the line is not named in \"%s\"", cases[i].line, err);
		}
		free(r.text);
	}
}

Test(config, standard_device_values)
{
	static const struct value_case cases[] = {
		{ "listen_port=0", true },
		{ "listen_port=65535", true },
		{ "listen_port=051820", true },
		{ "listen_port=65536", false },
		{ "listen_port=-1", false },
		{ "listen_port=+1", false },
		{ "listen_port=", false },
		{ "listen_port= 1", false },
		{ "listen_port=1 ", false },
		{ "listen_port=0x10", false },
		{ "fwmark=0", true },
		{ "fwmark=4294967295", true },
		{ "fwmark=4294967296", false },
		{ "fwmark=0x1", false },
		{ "fwmark=off", false },
		{ "replace_peers=true", true },
		{ "replace_peers=false", false },
		{ "replace_peers=1", false },
		{ "replace_peers=TRUE", false },
	};

	check_value_cases(cases, ARRAY_SIZE(cases), false);
}

Test(config, standard_peer_values)
{
	static const struct value_case cases[] = {
		{ "remove=true", true },
		{ "remove=false", false },
		{ "update_only=true", true },
		{ "update_only=", false },
		{ "persistent_keepalive_interval=65535", true },
		{ "persistent_keepalive_interval=65536", false },
		{ "persistent_keepalive_interval=25s", false },
		{ "replace_allowed_ips=true", true },
		{ "replace_allowed_ips=yes", false },
		{ "protocol_version=1", true },
		{ "protocol_version=2", false },
		{ "protocol_version=01", false },
		{ "endpoint=[fe80::1%lo]:51820", true },
		{ "endpoint=vpn.example.com:51820", false },
		{ "endpoint=192.0.2.1", false },
		{ "allowed_ip=192.0.2.1", true },
		{ "allowed_ip=0.0.0.0/0", true },
		{ "allowed_ip=10.0.0.0/33", false },
		{ "allowed_ip=10.0.0.0/8,10.1.0.0/16", false },
	};

	check_value_cases(cases, ARRAY_SIZE(cases), true);
}

Test(config, value_errors_name_line_key_and_value)
{
	parse_fails("listen_port=1\npublic_key=" KEY_B "\nendpoint=192.0.2.1\n", -EINVAL,
		    "line 3: invalid endpoint: endpoint \"192.0.2.1\" has no port: "
		    "expected ADDR:PORT or [ADDR]:PORT");
	parse_fails("listen_port=70000\n", -EINVAL,
		    "line 1: invalid listen_port \"70000\": expected a decimal number 0..65535");
	parse_fails("public_key=" KEY_B "\nallowed_ip=10.0.0.0/33\n", -EINVAL,
		    "line 2: invalid allowed_ip: prefix \"10.0.0.0/33\" has invalid length "
		    "\"33\": expected 0..32");
	/* The line splits at its first '=': the rest is the value. */
	parse_fails("fwmark=1=2\n", -EINVAL, "line 1: invalid fwmark \"1=2\"");
}

Test(config, replace_allowed_ips_drops_earlier_ones)
{
	struct fs_config cfg;

	parse_ok(&cfg, "public_key=" KEY_B "\n"
		       "allowed_ip=10.0.0.1/32\nallowed_ip=10.0.0.2/32\nallowed_ip=10.0.0.3/32\n"
		       "replace_allowed_ips=true\n"
		       "allowed_ip=10.9.0.0/16\n"
		       "public_key=" KEY_D "\n"
		       "allowed_ip=192.0.2.0/24\n"
		       "public_key=" KEY_B "\n"
		       "allowed_ip=10.8.0.0/16\nreplace_allowed_ips=true\n");
	cr_assert_eq(cfg.n_peers, 3);
	cr_assert(cfg.peers[0].replace_allowed_ips);
	cr_assert_eq(cfg.peers[0].n_allowed_ips, 1);
	assert_prefix(&cfg.peers[0].allowed_ips[0], "10.9.0.0/16");
	/* Another block is untouched by it, and a replace only reaches back in its own. */
	cr_assert_not(cfg.peers[1].replace_allowed_ips);
	cr_assert_eq(cfg.peers[1].n_allowed_ips, 1);
	assert_prefix(&cfg.peers[1].allowed_ips[0], "192.0.2.0/24");
	cr_assert(cfg.peers[2].replace_allowed_ips);
	cr_assert_eq(cfg.peers[2].n_allowed_ips, 0);
	fs_config_free(&cfg);
}

/* --- keys in the wrong place, unknown keys, malformed lines ------------------- */

Test(config, device_key_in_peer_block_rejected)
{
	static const char *const device_only[] = {
		("private_key=" KEY_A), "listen_port=1", "fwmark=1", "replace_peers=true",
		"spread_mode=ports", "spread_pairs=2", "endpoint_limit=2", "steer=on",
		"steer_qdisc=1:",
	};

	parse_fails("public_key=" KEY_B "\nlisten_port=51820\n", -EINVAL,
		    "line 2: invalid UAPI peer key \"listen_port\"");
	for (size_t i = 0; i < ARRAY_SIZE(device_only); ++i) {
		struct request r = { 0 };

		add(&r, "listen_port=1\npublic_key=" KEY_B "\nallowed_ip=10.0.0.0/8\n%s\n",
		    device_only[i]);
		parse_fails(r.text, -EINVAL, "line 4: invalid UAPI peer key \"");
		free(r.text);
	}
}

Test(config, peer_key_before_public_key_rejected)
{
	parse_fails("endpoint=192.0.2.1:1\n", -EINVAL, "line 1: invalid UAPI device key \"endpoint\"");
	parse_fails("allowed_ip=10.0.0.0/8\n", -EINVAL, "line 1: invalid UAPI device key");
	parse_fails("endpoint_alt=192.0.2.1:1\n", -EINVAL, "line 1: invalid UAPI device key");
}

Test(config, unknown_key_leaves_config_empty)
{
	parse_fails("private_key=" KEY_A "\nlisten_port=1\nspread_prefix=2001:db8::/64\n"
		    "public_key=" KEY_B "\nallowed_ip=10.0.0.0/8\nallowed_ip=10.1.0.0/16\n"
		    "public_key=" KEY_D "\nendpoint=192.0.2.1:1\nfrobnicate=yes\n",
		    -EINVAL, "line 9: invalid UAPI peer key \"frobnicate\"");
	parse_fails("listen_port=1\nListen_Port=2\n", -EINVAL,
		    "line 2: invalid UAPI device key \"Listen_Port\"");
	parse_fails("=1\n", -EINVAL, "line 1: invalid UAPI device key \"\"");
	parse_fails(" listen_port=1\n", -EINVAL, "line 1: invalid UAPI device key \" listen_port\"");
	parse_fails("get=1\n", -EINVAL, "line 1: invalid UAPI device key \"get\"");
}

Test(config, line_without_equals_is_protocol_error)
{
	parse_fails("listen_port\n", -EPROTO, "line 1: expected KEY=VALUE");
	parse_fails("public_key=" KEY_B "\nallowed_ip=10.0.0.0/8\nremove\n", -EPROTO,
		    "line 3: expected KEY=VALUE");
}

Test(config, nul_bytes_and_long_lines_rejected)
{
	static const char with_nul[] = "listen_port=1\nfwmark=1\0002\n";
	struct fs_config cfg;
	char err[FS_ERRLEN], *text;
	size_t len;

	memset(&cfg, 0x5a, sizeof(cfg));
	cr_assert_eq(fs_config_parse(&cfg, with_nul, sizeof(with_nul) - 1, err, sizeof(err)),
		     -EINVAL);
	assert_empty(&cfg);
	cr_assert_str_eq(err, "line 2: line contains a NUL byte");

	/* 4096 bytes is a line (here with a bad value); 4097 is too long. */
	for (len = 4096; len <= 4097; ++len) {
		char want[FS_ERRLEN];

		text = malloc(len + 2);
		cr_assert_not_null(text);
		memcpy(text, "fwmark=", 7);
		memset(text + 7, '1', len - 7);
		memcpy(text + len, "\n", 2);
		snprintf(want, sizeof(want), "line 1: invalid fwmark \"%.64s...\": "
			 "expected a decimal number 0..4294967295", text + 7);
		memset(&cfg, 0x5a, sizeof(cfg));
		cr_assert_eq(fs_config_parse(&cfg, text, len + 1, err, sizeof(err)), -EINVAL);
		assert_empty(&cfg);
		cr_assert_str_eq(err, len == 4096 ? want : "line 1: line is longer than 4096 bytes");
		free(text);
	}
}

Test(config, null_error_buffer)
{
	struct fs_config cfg;

	cr_assert_eq(fs_config_parse(&cfg, "bogus=1\n", 8, NULL, 0), -EINVAL);
	assert_empty(&cfg);
	cr_assert_eq(fs_config_parse(&cfg, "bogus\n", 6, NULL, 0), -EPROTO);
	cr_assert_eq(fs_config_parse(&cfg, "listen_port=9\n", 14, NULL, 0), 0);
	cr_assert_eq(cfg.listen_port, 9);
	fs_config_free(&cfg);
}

/* Every kind of error after many allocations: nothing leaks (ASan checks at exit). */
Test(config, errors_after_allocations_free_everything)
{
	static const char *const last_lines[] = {
		"bogus=1", "listen_port", "allowed_ip=10.0.0.0/33", "public_key=00",
		"endpoint=nowhere:1", "spread_prefix=2001:db8::/121", "listen_port=1",
		"preshared_key=00",
	};

	for (size_t i = 0; i < ARRAY_SIZE(last_lines); ++i) {
		struct request r = { 0 };

		add(&r, "private_key=" KEY_A "\n");
		for (int peer = 0; peer < 300; ++peer) {
			add(&r, "public_key=%064x\npreshared_key=" KEY_C "\n", peer + 1);
			for (int ip = 0; ip < 20; ++ip)
				add(&r, "allowed_ip=10.%d.%d.0/24\n", peer % 256, ip);
		}
		add(&r, "%s\n", last_lines[i]);
		parse_fails(r.text, strchr(last_lines[i], '=') ? -EINVAL : -EPROTO, "line 6602: ");
		free(r.text);
	}
}

/* --- extension keys ---------------------------------------------------------- */

Test(config, device_extensions_exact_values)
{
	struct fs_config cfg;

	parse_ok(&cfg, "spread_prefix=2001:db8:1::/64\n"
		       "spread_prefix=2001:db8:2::5/48\n"
		       "spread_prefix=192.0.2.0/24\n"
		       "spread_mode=both\n"
		       "spread_ports=50000-50999\n"
		       "spread_pairs=4096\n"
		       "endpoint_limit=0\n"
		       "steer=nft\n"
		       "steer_qdisc=1a:\n");
	cr_assert_eq(cfg.n_spread_prefixes, 3);
	assert_prefix(&cfg.spread_prefixes[0], "2001:db8:1::/64");
	assert_prefix(&cfg.spread_prefixes[1], "2001:db8:2::/48");	/* masked */
	assert_prefix(&cfg.spread_prefixes[2], "192.0.2.0/24");
	cr_assert(cfg.has_spread_mode);
	cr_assert_eq(cfg.spread_mode, FS_SPREAD_BOTH);
	cr_assert(cfg.has_spread_ports);
	cr_assert_eq(cfg.spread_ports.low, 50000);
	cr_assert_eq(cfg.spread_ports.high, 50999);
	cr_assert(cfg.has_spread_pairs);
	cr_assert_eq(cfg.spread_pairs, 4096);
	cr_assert(cfg.has_endpoint_limit);
	cr_assert_eq(cfg.endpoint_limit, 0);
	cr_assert(cfg.has_steer);
	cr_assert_eq(cfg.steer, FS_STEER_NFT);
	cr_assert(cfg.has_steer_qdisc);
	cr_assert_eq(cfg.steer_qdisc_major, 0x1a);
	cr_assert_eq(cfg.n_peers, 0);
	fs_config_free(&cfg);
}

Test(config, device_extension_ranges)
{
	static const struct value_case cases[] = {
		{ "spread_prefix=2001:db8::/120", true },
		{ "spread_prefix=2001:db8::/121", false },
		{ "spread_prefix=2001:db8::1", false },		/* /128 */
		{ "spread_prefix=192.0.2.1/32", true },
		{ "spread_prefix=192.0.2.1/33", false },
		{ "spread_prefix=::/0", false },	/* the default route */
		{ "spread_prefix=2001:db8::/64,2001:db8:1::/64", false },
		{ "spread_mode=off", true },
		{ "spread_mode=ports", true },
		{ "spread_mode=addresses", true },
		{ "spread_mode=default", false },
		{ "spread_mode=Ports", false },
		{ "spread_mode=", true },		/* back to the default */
		{ "spread_ports=1-65535", true },
		{ "spread_ports=5000-5000", true },
		{ "spread_ports=0-10", false },
		{ "spread_ports=10-9", false },
		{ "spread_ports=1-65536", false },
		{ "spread_ports=5000", false },
		{ "spread_ports=5000-", false },
		{ "spread_ports=-5000", false },
		{ "spread_ports=1--2", false },
		{ "spread_ports=1 - 2", false },
		{ "spread_ports=00000001-00002", true },
		{ "spread_pairs=1", true },
		{ "spread_pairs=65536", true },
		{ "spread_pairs=0", false },
		{ "spread_pairs=65537", false },
		{ "endpoint_limit=64", true },
		{ "endpoint_limit=65", false },
		{ "endpoint_limit=-1", false },
		{ "steer=off", true },
		{ "steer=on", true },
		{ "steer=auto", false },
		{ "steer_qdisc=ffff:", true },
		{ "steer_qdisc=FFFF:", true },
		{ "steer_qdisc=0001:", true },
		{ "steer_qdisc=0:", false },
		{ "steer_qdisc=10000:", false },
		{ "steer_qdisc=1", false },
		{ "steer_qdisc=1:0", false },
		{ "steer_qdisc=:", false },
		{ "steer_qdisc=0x1:", false },
		{ "steer_qdisc=g:", false },
	};

	check_value_cases(cases, ARRAY_SIZE(cases), false);
}

Test(config, spread_mode_and_steer_names_round_trip)
{
	static const enum fs_spread_mode modes[] = {
		FS_SPREAD_OFF, FS_SPREAD_PORTS, FS_SPREAD_ADDRESSES, FS_SPREAD_BOTH,
	};
	static const enum fs_steer_mode steers[] = { FS_STEER_OFF, FS_STEER_ON, FS_STEER_NFT };
	struct fs_config cfg;
	struct request r = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(modes); ++i) {
		r.len = 0;
		add(&r, "spread_mode=%s\n", fs_spread_mode_name(modes[i]));
		parse_ok(&cfg, r.text);
		cr_assert_eq(cfg.spread_mode, modes[i]);
		fs_config_free(&cfg);
	}
	for (size_t i = 0; i < ARRAY_SIZE(steers); ++i) {
		r.len = 0;
		add(&r, "steer=%s\n", fs_steer_mode_name(steers[i]));
		parse_ok(&cfg, r.text);
		cr_assert_eq(cfg.steer, steers[i]);
		fs_config_free(&cfg);
	}
	free(r.text);
	cr_assert_str_eq(fs_spread_mode_name(FS_SPREAD_ADDRESSES), "addresses");
	cr_assert_str_eq(fs_spread_mode_name(FS_SPREAD_DEFAULT), "default");
	cr_assert_str_eq(fs_spread_mode_name((enum fs_spread_mode)99), "unknown");
	cr_assert_str_eq(fs_steer_mode_name(FS_STEER_NFT), "nft");
	cr_assert_str_eq(fs_steer_mode_name((enum fs_steer_mode)-1), "unknown");
}

Test(config, port_range_helper)
{
	struct fs_port_range range = { 7, 7 };
	char err[FS_ERRLEN] = "";

	cr_assert(fs_config_parse_port_range(&range, "1024-2047", err, sizeof(err)), "%s", err);
	cr_assert_eq(range.low, 1024);
	cr_assert_eq(range.high, 2047);
	cr_assert_not(fs_config_parse_port_range(&range, "2048-1024", err, sizeof(err)));
	cr_assert_str_eq(err, "port range \"2048-1024\": expected LOW-HIGH with "
			      "1 <= LOW <= HIGH <= 65535");
	cr_assert_eq(range.low, 1024, "a failed parse changed the range");
	cr_assert_not(fs_config_parse_port_range(&range, "", NULL, 0));
}

Test(config, spread_prefix_limits_and_overlaps)
{
	struct request r = { 0 };
	struct fs_config cfg;

	for (int i = 0; i < FS_MAX_PREFIXES; ++i)
		add(&r, "spread_prefix=2001:db8:%x::/48\n", i);
	parse_ok(&cfg, r.text);
	cr_assert_eq(cfg.n_spread_prefixes, FS_MAX_PREFIXES);
	assert_prefix(&cfg.spread_prefixes[FS_MAX_PREFIXES - 1], "2001:db8:f::/48");
	fs_config_free(&cfg);

	add(&r, "spread_prefix=2001:db8:100::/48\n");
	parse_fails(r.text, -EINVAL, "line 17: too many spread_prefix lines: expected at most 16");
	free(r.text);

	parse_fails("spread_prefix=2001:db8::/48\nspread_prefix=2001:db8:0:1::/64\n", -EINVAL,
		    "line 2: spread_prefix \"2001:db8:0:1::/64\" overlaps spread_prefix "
		    "\"2001:db8::/48\"");
	parse_fails("spread_prefix=2001:db8::/64\nspread_prefix=2001:db8::/64\n", -EINVAL,
		    "line 2: spread_prefix \"2001:db8::/64\" overlaps");
	parse_fails("public_key=" KEY_B "\nspread_prefix=10.0.0.0/8\nspread_prefix=10.1.0.0/16\n",
		    -EINVAL, "line 3: spread_prefix \"10.1.0.0/16\" overlaps spread_prefix "
		    "\"10.0.0.0/8\"");

	/* Lists are separate: the device's, and each peer block's. */
	parse_ok(&cfg, "spread_prefix=2001:db8::/64\n"
		       "public_key=" KEY_B "\nspread_prefix=2001:db8::/64\n"
		       "public_key=" KEY_D "\nspread_prefix=2001:db8::/64\n"
		       "spread_prefix=2001:db8:0:1::/64\n");
	cr_assert_eq(cfg.n_spread_prefixes, 1);
	cr_assert_eq(cfg.peers[0].n_spread_prefixes, 1);
	cr_assert_eq(cfg.peers[1].n_spread_prefixes, 2);
	assert_prefix(&cfg.peers[1].spread_prefixes[1], "2001:db8:0:1::/64");
	fs_config_free(&cfg);
}

Test(config, peer_extensions_exact_values)
{
	struct fs_config cfg;
	struct fs_config_peer *peer;

	parse_ok(&cfg, "public_key=" KEY_B "\n"
		       "endpoint=192.0.2.1:51820\n"
		       "endpoint_alt=198.51.100.1:51820\n"
		       "endpoint_alt=[2001:db8::7]:4500\n"
		       "spread_prefix=2001:db8:b::1/64\n"
		       "spread_ports=40000-40063\n"
		       "allowed_ip=10.0.0.0/8\n");
	cr_assert_eq(cfg.n_peers, 1);
	peer = &cfg.peers[0];
	assert_endpoint(&peer->endpoint, "192.0.2.1:51820");
	cr_assert_eq(peer->n_endpoint_alt, 2);
	assert_endpoint(&peer->endpoint_alt[0], "198.51.100.1:51820");
	assert_endpoint(&peer->endpoint_alt[1], "[2001:db8::7]:4500");
	cr_assert_eq(peer->n_spread_prefixes, 1);
	assert_prefix(&peer->spread_prefixes[0], "2001:db8:b::/64");
	cr_assert(peer->has_spread_ports);
	cr_assert_eq(peer->spread_ports.low, 40000);
	cr_assert_eq(peer->spread_ports.high, 40063);
	cr_assert_eq(peer->n_allowed_ips, 1);
	cr_assert_eq(cfg.n_spread_prefixes, 0, "a peer's prefix went to the device");
	cr_assert_not(cfg.has_spread_ports, "a peer's port range went to the device");
	fs_config_free(&cfg);
}

Test(config, peer_extension_ranges)
{
	static const struct value_case cases[] = {
		{ "endpoint_alt=[fe80::1%lo]:1", true },
		{ "endpoint_alt=192.0.2.1", false },
		{ "endpoint_alt=[192.0.2.1]:1", false },
		{ "endpoint_alt=example.net:1", false },
		{ "spread_prefix=2001:db8::/120", true },
		{ "spread_prefix=2001:db8::/121", false },
		{ "spread_ports=1-1", true },
		{ "spread_ports=0-1", false },
		{ "spread_ports=2-1", false },
	};

	check_value_cases(cases, ARRAY_SIZE(cases), true);
}

Test(config, endpoint_alt_limit)
{
	struct request r = { 0 };
	struct fs_config cfg;

	add(&r, "public_key=" KEY_B "\n");
	for (int i = 0; i < FS_MAX_ENDPOINT_ALT; ++i)
		add(&r, "endpoint_alt=192.0.2.%d:%d\n", i + 1, 51820 + i);
	parse_ok(&cfg, r.text);
	cr_assert_eq(cfg.peers[0].n_endpoint_alt, FS_MAX_ENDPOINT_ALT);
	assert_endpoint(&cfg.peers[0].endpoint_alt[15], "192.0.2.16:51835");
	cr_assert_not(cfg.peers[0].has_endpoint, "endpoint_alt set the endpoint");
	fs_config_free(&cfg);

	add(&r, "endpoint_alt=192.0.2.99:1\n");
	parse_fails(r.text, -EINVAL, "line 18: too many endpoint_alt lines: expected at most 16");
	free(r.text);
}

/* --- large requests ------------------------------------------------------------ */

enum { MANY = 100000 };

Test(config, many_allowed_ips_parse_fast)
{
	struct request r = { 0 };
	struct timespec start;
	struct fs_config cfg;
	struct fs_config_peer *peer;
	double elapsed;

	add(&r, "public_key=" KEY_B "\nreplace_allowed_ips=true\n");
	for (int i = 0; i < MANY; ++i) {
		if (i % 2)
			add(&r, "allowed_ip=2001:db8:%x:%x::/64\n", i >> 16, i & 0xffff);
		else
			add(&r, "allowed_ip=10.%d.%d.%d/32\n", i >> 16, i >> 8 & 0xff, i & 0xff);
	}
	add(&r, "\n");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
	parse_ok(&cfg, r.text);
	elapsed = cpu_seconds_since(&start);
	cr_log_info("%d allowed_ip lines (%zu bytes) parsed in %.1f ms of CPU", MANY, r.len,
		    elapsed * 1e3);
	cr_expect_lt(elapsed, 1.0, "a %d-line request took %.3f s of CPU", MANY, elapsed);

	peer = &cfg.peers[0];
	cr_assert_eq(peer->n_allowed_ips, MANY);
	assert_prefix(&peer->allowed_ips[0], "10.0.0.0/32");
	assert_prefix(&peer->allowed_ips[1], "2001:db8:0:1::/64");
	assert_prefix(&peer->allowed_ips[MANY - 2], "10.1.134.158/32");
	assert_prefix(&peer->allowed_ips[MANY - 1], "2001:db8:1:869f::/64");
	fs_config_free(&cfg);
	free(r.text);
}

Test(config, many_peers_parse_fast)
{
	struct request r = { 0 };
	struct timespec start;
	struct fs_config cfg;
	double elapsed;
	enum { PEERS = MANY / 4 };

	for (int i = 0; i < PEERS; ++i)
		add(&r, "public_key=%064x\nendpoint=192.0.2.%d:%d\nallowed_ip=10.%d.%d.0/24\n"
			"persistent_keepalive_interval=25\n", i, i % 254 + 1, 1024 + i % 60000,
		    i >> 8, i & 0xff);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
	parse_ok(&cfg, r.text);
	elapsed = cpu_seconds_since(&start);
	cr_log_info("%d peers (%d lines) parsed in %.1f ms of CPU", PEERS, 4 * PEERS, elapsed * 1e3);
	cr_expect_lt(elapsed, 1.0, "%d peers took %.3f s of CPU", PEERS, elapsed);

	cr_assert_eq(cfg.n_peers, PEERS);
	cr_assert_eq(cfg.peers[PEERS - 1].public_key[WG_KEY_LEN - 1], (PEERS - 1) & 0xff);
	cr_assert_eq(cfg.peers[PEERS - 1].public_key[WG_KEY_LEN - 2], (PEERS - 1) >> 8);
	assert_endpoint(&cfg.peers[PEERS - 1].endpoint, "192.0.2.108:26023");
	assert_prefix(&cfg.peers[PEERS - 1].allowed_ips[0], "10.97.167.0/24");
	fs_config_free(&cfg);
	free(r.text);
}

/* --- an empty extension value: back to the default --------------------------- */

Test(config, empty_device_extension_values_clear)
{
	struct fs_config cfg;

	parse_ok(&cfg, "spread_prefix=\nspread_mode=\nspread_ports=\nspread_pairs=\n"
		       "endpoint_limit=\nsteer=\nsteer_qdisc=\n");
	cr_assert(cfg.has_spread_prefixes);
	cr_assert_eq(cfg.n_spread_prefixes, 0);
	cr_assert(cfg.has_spread_mode);
	cr_assert_eq(cfg.spread_mode, FS_SPREAD_DEFAULT);
	cr_assert(cfg.has_spread_ports);
	cr_assert_eq(cfg.spread_ports.low, 0, "an empty spread_ports is no range");
	cr_assert_eq(cfg.spread_ports.high, 0);
	cr_assert(cfg.has_spread_pairs);
	cr_assert_eq(cfg.spread_pairs, FS_SPREAD_PAIRS_DEFAULT);
	cr_assert(cfg.has_endpoint_limit);
	cr_assert_eq(cfg.endpoint_limit, FS_ENDPOINT_LIMIT_DEFAULT);
	cr_assert(cfg.has_steer);
	cr_assert_eq(cfg.steer, FS_STEER_OFF);
	cr_assert(cfg.has_steer_qdisc);
	cr_assert_eq(cfg.steer_qdisc_major, 0);
	fs_config_free(&cfg);

	/* Not given: not touched. */
	parse_ok(&cfg, "listen_port=1\n");
	cr_assert_not(cfg.has_spread_prefixes || cfg.has_spread_mode || cfg.has_spread_ports ||
		      cfg.has_spread_pairs || cfg.has_endpoint_limit || cfg.has_steer ||
		      cfg.has_steer_qdisc);
	fs_config_free(&cfg);

	/* Empty, then items: the list is these items; items, then empty: none. */
	parse_ok(&cfg, "spread_prefix=\nspread_prefix=2001:db8:1::/64\nspread_prefix=2001:db8:2::/64\n"
		       "spread_ports=\nspread_ports=40000-40001\nsteer_qdisc=\nsteer_qdisc=1:\n");
	cr_assert_eq(cfg.n_spread_prefixes, 2);
	assert_prefix(&cfg.spread_prefixes[1], "2001:db8:2::/64");
	cr_assert_eq(cfg.spread_ports.low, 40000);
	cr_assert_eq(cfg.steer_qdisc_major, 1);
	fs_config_free(&cfg);
	parse_ok(&cfg, "spread_prefix=2001:db8:1::/64\nspread_prefix=\nspread_ports=1-2\nspread_ports=\n");
	cr_assert(cfg.has_spread_prefixes);
	cr_assert_eq(cfg.n_spread_prefixes, 0);
	cr_assert_eq(cfg.spread_ports.low, 0);
	fs_config_free(&cfg);
}

Test(config, empty_peer_extension_values_clear)
{
	struct fs_config cfg;
	struct fs_config_peer *peer;

	parse_ok(&cfg, "public_key=" KEY_B "\nendpoint_alt=\nspread_prefix=\nspread_ports=\n"
		       "public_key=" KEY_D "\nendpoint_alt=192.0.2.1:1\nendpoint_alt=\n"
		       "endpoint_alt=192.0.2.2:2\nspread_prefix=\nspread_prefix=2001:db8:d::/64\n");
	peer = &cfg.peers[0];
	cr_assert(peer->has_endpoint_alt && peer->has_spread_prefixes && peer->has_spread_ports);
	cr_assert_eq(peer->n_endpoint_alt, 0);
	cr_assert_eq(peer->n_spread_prefixes, 0);
	cr_assert_eq(peer->spread_ports.low, 0);
	cr_assert_not(cfg.has_spread_prefixes, "a peer's empty spread_prefix went to the device");
	peer = &cfg.peers[1];
	cr_assert_eq(peer->n_endpoint_alt, 1);
	assert_endpoint(&peer->endpoint_alt[0], "192.0.2.2:2");
	cr_assert_eq(peer->n_spread_prefixes, 1);
	cr_assert_not(peer->has_spread_ports);
	fs_config_free(&cfg);
}

Test(config, empty_standard_values_stay_errors)
{
	static const struct value_case device[] = {
		{ "private_key=", false },
		{ "listen_port=", false },
		{ "fwmark=", false },
		{ "replace_peers=", false },
	};
	static const struct value_case peer[] = {
		{ "endpoint=", false },
		{ "allowed_ip=", false },
		{ "preshared_key=", false },
		{ "persistent_keepalive_interval=", false },
		{ "remove=", false },
		{ "replace_allowed_ips=", false },
		{ "protocol_version=", false },
	};

	check_value_cases(device, ARRAY_SIZE(device), false);
	check_value_cases(peer, ARRAY_SIZE(peer), true);
	parse_fails("public_key=\n", -EINVAL, "line 1: invalid public_key");
}

/* --- spread prefixes no host can spread from or to --------------------------- */

Test(config, spread_prefixes_refused_with_their_reason)
{
	static const struct {
		const char *prefix, *message;
	} cases[] = {
		{ "::/0", "spread_prefix ::/0 is the default route: expected a length of at least /32" },
		{ "0.0.0.0/0", "spread_prefix 0.0.0.0/0 is the default route: expected a length of at least /8" },
		{ "2001::/16", "spread_prefix 2001::/16 is too wide: expected a length of at least /32" },
		{ "10.0.0.0/7", "spread_prefix 10.0.0.0/7 is too wide: expected a length of at least /8" },
		{ "2001:db8::/121", "spread_prefix 2001:db8::/121: expected an IPv6 length up to /120" },
		{ "ff02::/64", "spread_prefix ff02::/64 holds multicast (ff00::/8) addresses" },
		{ "fe80::/64", "spread_prefix fe80::/64 holds link-local (fe80::/10) addresses" },
		{ "febf:1::/64", "spread_prefix febf:1::/64 holds link-local (fe80::/10) addresses" },
		{ "fec0::/64", "spread_prefix fec0::/64 holds site-local, deprecated (fec0::/10) addresses" },
		{ "::/64", "spread_prefix ::/64 holds unspecified (::/128) addresses" },
		{ "::1/120", "spread_prefix ::/120 holds unspecified (::/128) addresses" },
		{ "::ffff:192.0.2.0/120", "spread_prefix ::ffff:192.0.2.0/120 holds IPv4-mapped (::ffff:0:0/96) addresses" },
		{ "::c000:200/120", "spread_prefix ::192.0.2.0/120 holds reserved, IPv4-compatible (::/8) addresses" },
		{ "127.0.0.0/8", "spread_prefix 127.0.0.0/8 holds loopback (127.0.0.0/8) addresses" },
		{ "127.1.2.0/24", "spread_prefix 127.1.2.0/24 holds loopback (127.0.0.0/8) addresses" },
		{ "0.1.2.0/24", "spread_prefix 0.1.2.0/24 holds unspecified (\"this network\", 0.0.0.0/8) addresses" },
		{ "169.254.7.0/24", "spread_prefix 169.254.7.0/24 holds link-local (169.254.0.0/16) addresses" },
		{ "224.0.0.0/24", "spread_prefix 224.0.0.0/24 holds multicast (224.0.0.0/4) addresses" },
		{ "239.1.0.0/16", "spread_prefix 239.1.0.0/16 holds multicast (224.0.0.0/4) addresses" },
		{ "255.255.255.255/32", "spread_prefix 255.255.255.255/32 holds reserved or broadcast (240.0.0.0/4) addresses" },
	};
	static const char *const fine[] = {
		"2001:db8::/32", "2001:db8:a0::/64", "fd00:1::/48", "2001:db8::/120",
		"192.0.2.0/24", "198.51.100.7/32", "10.0.0.0/8", "100::/64",
	};
	char err[FS_ERRLEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); ++i) {
		struct fs_prefix prefix;
		char want[FS_ERRLEN];
		char text[128];

		/* In the device section and in a peer block alike. */
		snprintf(text, sizeof(text), "spread_prefix=%s\n", cases[i].prefix);
		snprintf(want, sizeof(want), "line 1: invalid %s", cases[i].message);
		parse_fails(text, -EINVAL, want);
		snprintf(text, sizeof(text), "public_key=" KEY_B "\nspread_prefix=%s\n",
			 cases[i].prefix);
		snprintf(want, sizeof(want), "line 2: invalid %s", cases[i].message);
		parse_fails(text, -EINVAL, want);

		cr_assert(fs_prefix_parse(&prefix, cases[i].prefix, err, sizeof(err)));
		fs_prefix_mask(&prefix);
		cr_assert_not(fs_config_check_spread_prefix(&prefix, err, sizeof(err)));
		cr_assert(!strncmp(err, cases[i].message, strlen(cases[i].message)),
			  "\"%s\" does not start \"%s\"", err, cases[i].message);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fine); ++i) {
		struct fs_config cfg;
		char text[128];

		snprintf(text, sizeof(text), "spread_prefix=%s\n", fine[i]);
		parse_ok(&cfg, text);
		fs_config_free(&cfg);
	}
}
