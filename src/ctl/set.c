// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * set IFNAME [SETTING VALUE]... [peer KEY [remove] [SETTING VALUE]...]...:
 * wg set's arguments plus the extension settings. Interface settings come
 * before the first peer; private-key and preshared-key name files (an
 * empty file, like /dev/null, removes the key).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include "subcommands.h"
#include "ipc.h"
#include "util.h"

struct word {
	const char *name;
	enum ctl_field field;
	bool key_file;		/* the value names a file holding a key */
	bool list;		/* a comma list: white space in it is dropped, as wg does */
};

static const struct word device_words[] = {
	{ "private-key", CTL_F_PRIVATE_KEY, true, false },
	{ "listen-port", CTL_F_LISTEN_PORT, false, false },
	{ "fwmark", CTL_F_FWMARK, false, false },
	{ "spread-prefix", CTL_F_SPREAD_PREFIX, false, true },
	{ "spread-mode", CTL_F_SPREAD_MODE, false, false },
	{ "spread-ports", CTL_F_SPREAD_PORTS, false, false },
	{ "spread-pairs", CTL_F_SPREAD_PAIRS, false, false },
	{ "endpoint-limit", CTL_F_ENDPOINT_LIMIT, false, false },
	{ "steer", CTL_F_STEER, false, false },
	{ "steer-qdisc", CTL_F_STEER_QDISC, false, false },
	{ NULL, 0, false, false }
};

static const struct word peer_words[] = {
	{ "preshared-key", CTL_F_PRESHARED_KEY, true, false },
	{ "endpoint", CTL_F_ENDPOINT, false, false },
	{ "persistent-keepalive", CTL_F_PERSISTENT_KEEPALIVE, false, false },
	{ "allowed-ips", CTL_F_ALLOWED_IPS, false, true },
	{ "alt-endpoint", CTL_F_ALT_ENDPOINT, false, true },
	{ "spread-prefix", CTL_F_PEER_SPREAD_PREFIX, false, true },
	{ "spread-ports", CTL_F_PEER_SPREAD_PORTS, false, false },
	{ NULL, 0, false, false }
};

void ctl_set_usage(FILE *f, const char *name)
{
	fprintf(f,
		"Usage: %s %s <interface> [private-key <file path>] [listen-port <port>]\n"
		"        [fwmark <mark>] [spread-prefix <addr/len>]... [spread-mode off|ports|addresses|both]\n"
		"        [spread-ports <low>-<high>] [spread-pairs <n>] [endpoint-limit <n>]\n"
		"        [steer off|on|nft] [steer-qdisc <major>:]\n"
		"        [peer <base64 public key> [remove] [preshared-key <file path>]\n"
		"            [endpoint <ip>:<port>] [persistent-keepalive <seconds>|off]\n"
		"            [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] [alt-endpoint <ip>:<port>]...\n"
		"            [spread-prefix <addr/len>]... [spread-ports <low>-<high>]]...\n",
		PROG_NAME, name);
}

static const struct word *find_word(const struct word *words, const char *name)
{
	for (; words->name; ++words)
		if (!strcmp(words->name, name))
			return words;
	return NULL;
}

/* A copy of text without white space; NULL when out of memory. */
static char *strip_spaces(const char *text)
{
	char *out = malloc(strlen(text) + 1), *p = out;

	if (!out)
		return NULL;
	for (; *text; ++text)
		if (!strchr(" \t\n\v\f\r", *text))
			*p++ = *text;
	*p = '\0';
	return out;
}

static bool apply_key_file(struct ctl_device *dev, struct ctl_peer *peer, const struct word *word,
			   const char *path, char *err, size_t errlen)
{
	uint8_t key[WG_KEY_LEN];

	if (!ctl_read_key_file(key, word->name, path, err, errlen))
		return false;
	if (peer) {
		memcpy(peer->preshared_key, key, WG_KEY_LEN);
		peer->has_preshared_key = true;
	} else {
		memcpy(dev->private_key, key, WG_KEY_LEN);
		dev->has_private_key = true;
	}
	sodium_memzero(key, sizeof(key));
	return true;
}

static bool apply_word(struct ctl_device *dev, struct ctl_peer *peer, const struct word *word,
		       const char *value, char *err, size_t errlen)
{
	char *stripped;
	bool ok;

	if (word->key_file)
		return apply_key_file(dev, peer, word, value, err, errlen);
	stripped = word->list ? strip_spaces(value) : NULL;
	if (word->list && !stripped)
		return ctl_fail(err, errlen, "%s: out of memory", word->name);
	if (word->list)
		value = stripped;
	if (peer)
		ok = ctl_peer_apply(peer, word->field, word->name, value, err, errlen);
	else
		ok = ctl_device_apply(dev, word->field, word->name, value, err, errlen);
	free(stripped);
	return ok;
}

enum ctl_status ctl_set_parse_args(struct ctl_device *dev, int argc, char *argv[], char *err,
				   size_t errlen)
{
	struct ctl_peer *peer = NULL;
	char q[CTL_QUOTE_LEN];

	for (int i = 0; i < argc;) {
		const char *name = argv[i];
		const struct word *word = peer ? find_word(peer_words, name) : NULL;

		if (!strcmp(name, "remove") && peer) {
			peer->remove = true;
			++i;
			continue;
		}
		if (!word && !strcmp(name, "peer")) {
			if (i + 1 >= argc)
				return ctl_fail(err, errlen, "peer needs a public key"), CTL_USAGE;
			peer = ctl_device_add_peer(dev);
			if (!peer)
				return ctl_fail(err, errlen, "out of memory"), CTL_FAIL;
			if (!ctl_parse_key(peer->public_key, "peer", argv[i + 1], false, err, errlen))
				return CTL_FAIL;
			i += 2;
			continue;
		}
		if (!word && find_word(device_words, name)) {
			if (peer)
				return ctl_fail(err, errlen, "%s is an interface setting: it must come "
						"before the first peer", name), CTL_USAGE;
			word = find_word(device_words, name);
		}
		if (!word)
			return ctl_fail(err, errlen, "invalid argument %s", ctl_quote(q, name)),
			       CTL_USAGE;
		if (i + 1 >= argc)
			return ctl_fail(err, errlen, "%s needs a value", name), CTL_USAGE;
		if (!apply_word(dev, peer, word, argv[i + 1], err, errlen))
			return CTL_FAIL;
		i += 2;
	}
	return CTL_OK;
}

int ctl_set_main(int argc, char *argv[])
{
	char err[CTL_ERRLEN];
	struct ctl_device dev;
	enum ctl_status status;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		ctl_set_usage(stdout, argv[0]);
		return CTL_OK;
	}
	if (argc < 3) {
		ctl_set_usage(stderr, argv[0]);
		return CTL_USAGE;
	}
	ctl_device_init(&dev);
	status = ctl_set_parse_args(&dev, argc - 2, argv + 2, err, sizeof(err));
	if (status == CTL_OK && ctl_uapi_set(argv[1], &dev, err, sizeof(err)))
		status = CTL_FAIL;
	if (status != CTL_OK)
		ctl_error(err);
	if (status == CTL_USAGE)
		ctl_set_usage(stderr, argv[0]);
	ctl_device_free(&dev);
	return status;
}
