// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "parse.h"
#include "ipc.h"

enum {
	ANSWER_MAX = 256 << 20,		/* a get answer larger than this is not a daemon's */
};

/* --- the get answer ---------------------------------------------------------- */

struct get_parser {
	struct ctl_device *dev;
	struct ctl_peer *peer;		/* the current peer, or NULL before the first */
	bool saw_errno;
	int daemon_errno;
	char *err;
	size_t errlen;
};

static bool parse_u32(uint32_t *out, const char *value, uint32_t max)
{
	uint64_t number;

	if (!ctl_parse_u64(&number, value, max))
		return false;
	*out = (uint32_t)number;
	return true;
}

static bool parse_u16(uint16_t *out, const char *value)
{
	uint64_t number;

	if (!ctl_parse_u64(&number, value, UINT16_MAX))
		return false;
	*out = (uint16_t)number;
	return true;
}

/* A mode or state name as a daemon writes it: [a-z0-9_-], not empty. */
static bool parse_word(char out[CTL_WORD_LEN], const char *value)
{
	size_t len = strlen(value);

	if (!len || len >= CTL_WORD_LEN)
		return false;
	for (size_t i = 0; i < len; ++i) {
		char c = value[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	memcpy(out, value, len + 1);
	return true;
}

static bool parse_errno(int *out, const char *value)
{
	uint64_t number;
	bool negative = value[0] == '-';

	if (!ctl_parse_u64(&number, value + negative, 4095))
		return false;
	*out = -(int)number;
	return true;
}

/* "-" or nothing: unknown; else a decimal number. */
static bool parse_optional_u64(bool *has, uint64_t *out, const char *value)
{
	*has = false;
	*out = 0;
	if (!*value || !strcmp(value, "-"))
		return true;
	*has = ctl_parse_u64(out, value, UINT64_MAX);
	return *has;
}

/* "ADDR:PORT,ORIGIN,AGE_MS,RTT_US,STATE"; addresses hold no commas. */
static bool parse_endpoint_state(struct ctl_endpoint_state *state, const char *value)
{
	char copy[FS_ENDPOINT_STRLEN + 4 * CTL_WORD_LEN + 64], *fields[5], *rest = copy;
	size_t i;

	memset(state, 0, sizeof(*state));
	if (strlen(value) >= sizeof(copy))
		return false;
	strcpy(copy, value);
	for (i = 0; i < 5 && rest; ++i)
		fields[i] = strsep(&rest, ",");
	if (i < 5 || rest)
		return false;
	return fs_endpoint_parse(&state->endpoint, fields[0], NULL, 0) &&
	       parse_word(state->origin, fields[1]) &&
	       parse_optional_u64(&state->has_age, &state->age_ms, fields[2]) &&
	       parse_optional_u64(&state->has_rtt, &state->rtt_us, fields[3]) &&
	       parse_word(state->state, fields[4]);
}

static bool parse_prefix(struct ctl_prefix_list *list, const char *value)
{
	struct fs_prefix prefix;

	/* The daemon always writes the length; wg refuses an allowed_ip without one too. */
	return strchr(value, '/') && fs_prefix_parse(&prefix, value, NULL, 0) &&
	       ctl_prefix_list_add(list, &prefix);
}

/* Device keys; false: malformed. Keys this tool does not know are skipped. */
static bool device_line(struct get_parser *g, const char *key, const char *value)
{
	struct ctl_device *dev = g->dev;

	if (!strcmp(key, "private_key")) {
		if (!ctl_key_from_hex(dev->private_key, value))
			return false;
		dev->has_private_key = !ctl_key_is_zero(dev->private_key);
		dev->has_public_key = dev->has_private_key &&
				      !crypto_scalarmult_curve25519_base(dev->public_key,
									 dev->private_key);
		return true;
	}
	if (!strcmp(key, "listen_port"))
		return dev->has_listen_port = parse_u16(&dev->listen_port, value);
	if (!strcmp(key, "fwmark"))
		return dev->has_fwmark = parse_u32(&dev->fwmark, value, UINT32_MAX);
	if (!strcmp(key, "spread_prefix"))
		return parse_prefix(&dev->spread_prefixes, value);
	if (!strcmp(key, "spread_mode"))
		return dev->has_spread_mode = parse_word(dev->spread_mode, value);
	if (!strcmp(key, "spread_ports"))
		return dev->has_spread_ports = ctl_port_range_from_text(&dev->spread_ports, value);
	if (!strcmp(key, "spread_pairs"))
		return dev->has_spread_pairs = parse_u32(&dev->spread_pairs, value, UINT32_MAX);
	if (!strcmp(key, "endpoint_limit"))
		return dev->has_endpoint_limit = parse_u32(&dev->endpoint_limit, value, UINT32_MAX);
	if (!strcmp(key, "steer"))
		return dev->has_steer = parse_word(dev->steer, value);
	if (!strcmp(key, "steer_qdisc"))
		return dev->has_steer_qdisc = ctl_qdisc_from_text(&dev->steer_qdisc, value);
	return true;
}

static bool peer_line(struct get_parser *g, const char *key, const char *value)
{
	struct ctl_peer *peer = g->peer;
	struct ctl_endpoint_state state;

	if (!strcmp(key, "preshared_key")) {
		if (!ctl_key_from_hex(peer->preshared_key, value))
			return false;
		peer->has_preshared_key = !ctl_key_is_zero(peer->preshared_key);
		return true;
	}
	if (!strcmp(key, "endpoint"))
		return peer->has_endpoint = fs_endpoint_parse(&peer->endpoint, value, NULL, 0);
	if (!strcmp(key, "last_handshake_time_sec"))
		return ctl_parse_u64(&peer->last_handshake_sec, value, INT64_MAX);
	if (!strcmp(key, "last_handshake_time_nsec"))
		return ctl_parse_u64(&peer->last_handshake_nsec, value, INT64_MAX);
	if (!strcmp(key, "rx_bytes"))
		return ctl_parse_u64(&peer->rx_bytes, value, UINT64_MAX);
	if (!strcmp(key, "tx_bytes"))
		return ctl_parse_u64(&peer->tx_bytes, value, UINT64_MAX);
	if (!strcmp(key, "persistent_keepalive_interval"))
		return peer->has_persistent_keepalive = parse_u16(&peer->persistent_keepalive, value);
	if (!strcmp(key, "allowed_ip"))
		return parse_prefix(&peer->allowed_ips, value);
	if (!strcmp(key, "endpoint_alt")) {
		union fs_sockaddr endpoint;

		return fs_endpoint_parse(&endpoint, value, NULL, 0) &&
		       ctl_endpoint_list_add(&peer->endpoint_alt, &endpoint);
	}
	if (!strcmp(key, "spread_prefix"))
		return parse_prefix(&peer->spread_prefixes, value);
	if (!strcmp(key, "spread_ports"))
		return peer->has_spread_ports = ctl_port_range_from_text(&peer->spread_ports, value);
	if (!strcmp(key, "endpoint_count"))
		return peer->has_endpoint_count = parse_u32(&peer->endpoint_count, value, UINT32_MAX);
	if (!strcmp(key, "endpoint_state"))
		return parse_endpoint_state(&state, value) && ctl_peer_add_state(peer, &state);
	if (!strcmp(key, "spread_source"))
		return ctl_peer_add_spread_source(peer, value);
	return true;
}

static bool get_line(struct get_parser *g, char *line, unsigned int lineno)
{
	char *value = strchr(line, '='), q[CTL_QUOTE_LEN];
	bool ok;

	if (!value)
		return ctl_fail(g->err, g->errlen, "line %u: %s: expected KEY=VALUE", lineno,
				ctl_quote(q, line));
	*value++ = '\0';
	if (!strcmp(line, "errno")) {
		g->saw_errno = true;
		ok = parse_errno(&g->daemon_errno, value);
	} else if (!strcmp(line, "public_key")) {
		g->peer = ctl_device_add_peer(g->dev);
		if (!g->peer)
			return ctl_fail(g->err, g->errlen, "out of memory");
		ok = ctl_key_from_hex(g->peer->public_key, value);
	} else if (!g->peer) {
		ok = device_line(g, line, value);
	} else {
		ok = peer_line(g, line, value);
	}
	if (ok)
		return true;
	if (!strcmp(line, "private_key") || !strcmp(line, "preshared_key"))
		return ctl_fail(g->err, g->errlen, "line %u: %s is malformed (a secret: not shown)",
				lineno, line);
	return ctl_fail(g->err, g->errlen, "line %u: %s=%s is malformed", lineno, line,
			ctl_quote(q, value));
}

int ctl_uapi_parse_get(struct ctl_device *dev, const char *text, size_t len, char *err,
		       size_t errlen)
{
	struct get_parser g = { .dev = dev, .err = err, .errlen = errlen };
	const char *start = text, *end = text + len;
	unsigned int lineno = 0;

	while (start < end) {
		const char *nl = memchr(start, '\n', (size_t)(end - start));
		size_t line_len = nl ? (size_t)(nl - start) : (size_t)(end - start);
		char *line;
		bool ok;

		++lineno;
		if (!line_len)
			break;
		if (!nl)
			return ctl_fail(err, errlen, "line %u: cut short", lineno), -EPROTO;
		line = strndup(start, line_len);
		if (!line)
			return ctl_fail(err, errlen, "out of memory"), -ENOMEM;
		if (strlen(line) != line_len)
			ok = ctl_fail(err, errlen, "line %u: contains a NUL byte", lineno);
		else
			ok = get_line(&g, line, lineno);
		sodium_memzero(line, line_len);
		free(line);
		if (!ok)
			return -EPROTO;
		if (g.saw_errno)
			break;
		start += line_len + 1;
	}
	if (!g.saw_errno)
		return ctl_fail(err, errlen, "no errno line at the end"), -EPROTO;
	if (g.daemon_errno)
		ctl_fail(err, errlen, "errno=%d (%s)", g.daemon_errno, strerror(-g.daemon_errno));
	return g.daemon_errno;
}

int ctl_uapi_parse_errno(const char *text, size_t len)
{
	char value[16];
	const char *nl;
	int daemon_errno;
	size_t n;

	if (len < 7 || memcmp(text, "errno=", 6))
		return -EPROTO;
	nl = memchr(text, '\n', len);
	if (!nl)
		return -EPROTO;
	n = (size_t)(nl - text) - 6;
	if (n >= sizeof(value))
		return -EPROTO;
	memcpy(value, text + 6, n);
	value[n] = '\0';
	if (!parse_errno(&daemon_errno, value))
		return -EPROTO;
	return daemon_errno;
}

/* --- the answer to a set ---------------------------------------------------- */

/* TEXT as the user may see it: bytes outside ' '..'~' as '?', at most CTL_REASON_MAX. */
static char *reason_copy(const char *text, size_t len)
{
	bool cut = len > CTL_REASON_MAX;
	char *copy;

	if (cut)
		len = CTL_REASON_MAX;
	copy = malloc(len + (cut ? 4 : 1));
	if (!copy)
		return NULL;
	for (size_t i = 0; i < len; ++i)
		copy[i] = text[i] >= ' ' && text[i] <= '~' ? text[i] : '?';
	strcpy(copy + len, cut ? "..." : "");
	return copy;
}

static int add_reason(struct ctl_set_answer *answer, const char *text, size_t len)
{
	char **bigger, *reason;

	if (answer->n_reasons >= SIZE_MAX / sizeof(*bigger) - 1)
		return -ENOMEM;
	bigger = realloc(answer->reasons, (answer->n_reasons + 1) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	answer->reasons = bigger;
	reason = reason_copy(text, len);
	if (!reason)
		return -ENOMEM;
	answer->reasons[answer->n_reasons++] = reason;
	return 0;
}

/* One line of a set answer, without its newline; *done after the errno line. */
static int set_answer_line(struct ctl_set_answer *answer, const char *line, size_t len,
			   bool *done)
{
	const char *eq = memchr(line, '=', len);
	char value[16];
	size_t n;

	if (!eq)
		return -EPROTO;
	n = (size_t)(line + len - (eq + 1));
	if (eq - line == 5 && !memcmp(line, "error", 5))
		return add_reason(answer, eq + 1, n);
	if (eq - line != 5 || memcmp(line, "errno", 5))
		return 0;	/* a key this tool does not know */
	if (n >= sizeof(value))
		return -EPROTO;
	memcpy(value, eq + 1, n);
	value[n] = '\0';
	if (!parse_errno(&answer->daemon_errno, value))
		return -EPROTO;
	*done = true;
	return 0;
}

int ctl_uapi_parse_set_answer(struct ctl_set_answer *answer, const char *text, size_t len)
{
	const char *start = text, *end = text + len;
	bool done = false;
	int ret = 0;

	memset(answer, 0, sizeof(*answer));
	while (!ret && !done && start < end) {
		const char *nl = memchr(start, '\n', (size_t)(end - start));

		if (!nl || nl == start)
			break;	/* cut short, or the empty line before any errno */
		ret = set_answer_line(answer, start, (size_t)(nl - start), &done);
		start = nl + 1;
	}
	if (!ret && !done)
		ret = -EPROTO;
	if (ret)
		ctl_set_answer_free(answer);
	return ret;
}

void ctl_set_answer_free(struct ctl_set_answer *answer)
{
	for (size_t i = 0; i < answer->n_reasons; ++i)
		free(answer->reasons[i]);
	free(answer->reasons);
	memset(answer, 0, sizeof(*answer));
}

void ctl_uapi_print_refusal(FILE *f, const char *ifname, const struct ctl_set_answer *answer)
{
	for (size_t i = 0; i < answer->n_reasons; ++i)
		fprintf(f, PROG_NAME ": %s: %s\n", ifname, answer->reasons[i]);
	if (answer->n_reasons)
		return;
	fprintf(f, PROG_NAME ": interface %s: its daemon refused the change: %s (errno=%d) "
		"(the daemon's log has the reason: journalctl -u flowspreadd@%s, or syslog when "
		"wg-quick started it)\n", ifname, strerror(-answer->daemon_errno),
		answer->daemon_errno, ifname);
}

/* --- the set request -------------------------------------------------------- */

static void format_key(struct ctl_buf *out, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char hex[CTL_KEY_HEX_LEN];

	ctl_buf_printf(out, "%s=%s\n", name, ctl_key_to_hex(hex, key));
	sodium_memzero(hex, sizeof(hex));
}

/* "NAME=" alone: back to the default (a list: emptied before its items follow). */
static void format_clear(struct ctl_buf *out, const char *name, bool clear)
{
	if (clear)
		ctl_buf_printf(out, "%s=\n", name);
}

static void format_prefixes(struct ctl_buf *out, const char *name,
			    const struct ctl_prefix_list *list)
{
	char text[FS_PREFIX_STRLEN];

	for (size_t i = 0; i < list->n; ++i)
		ctl_buf_printf(out, "%s=%s\n", name, fs_prefix_format(text, &list->items[i]));
}

static void format_device(struct ctl_buf *out, const struct ctl_device *dev)
{
	if (dev->has_private_key)
		format_key(out, "private_key", dev->private_key);
	if (dev->has_listen_port)
		ctl_buf_printf(out, "listen_port=%u\n", dev->listen_port);
	if (dev->has_fwmark)
		ctl_buf_printf(out, "fwmark=%u\n", dev->fwmark);
	if (dev->replace_peers)
		ctl_buf_printf(out, "replace_peers=true\n");
	format_clear(out, "spread_prefix", dev->clear_spread_prefixes);
	format_prefixes(out, "spread_prefix", &dev->spread_prefixes);
	if (dev->has_spread_mode)
		ctl_buf_printf(out, "spread_mode=%s\n", dev->spread_mode);
	else
		format_clear(out, "spread_mode", dev->clear_spread_mode);
	if (dev->has_spread_ports)
		ctl_buf_printf(out, "spread_ports=%u-%u\n", dev->spread_ports.low,
			       dev->spread_ports.high);
	else
		format_clear(out, "spread_ports", dev->clear_spread_ports);
	if (dev->has_spread_pairs)
		ctl_buf_printf(out, "spread_pairs=%u\n", dev->spread_pairs);
	else
		format_clear(out, "spread_pairs", dev->clear_spread_pairs);
	if (dev->has_endpoint_limit)
		ctl_buf_printf(out, "endpoint_limit=%u\n", dev->endpoint_limit);
	else
		format_clear(out, "endpoint_limit", dev->clear_endpoint_limit);
	if (dev->has_steer)
		ctl_buf_printf(out, "steer=%s\n", dev->steer);
	else
		format_clear(out, "steer", dev->clear_steer);
	if (dev->has_steer_qdisc)
		ctl_buf_printf(out, "steer_qdisc=%x:\n", dev->steer_qdisc);
	else
		format_clear(out, "steer_qdisc", dev->clear_steer_qdisc);
}

static void format_peer(struct ctl_buf *out, const struct ctl_peer *peer)
{
	char endpoint[FS_ENDPOINT_STRLEN];

	format_key(out, "public_key", peer->public_key);
	if (peer->remove) {
		ctl_buf_printf(out, "remove=true\n");
		return;
	}
	if (peer->has_preshared_key)
		format_key(out, "preshared_key", peer->preshared_key);
	if (peer->has_endpoint)
		ctl_buf_printf(out, "endpoint=%s\n", fs_endpoint_format(endpoint, &peer->endpoint));
	if (peer->has_persistent_keepalive)
		ctl_buf_printf(out, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive);
	if (peer->replace_allowed_ips)
		ctl_buf_printf(out, "replace_allowed_ips=true\n");
	format_prefixes(out, "allowed_ip", &peer->allowed_ips);
	format_clear(out, "endpoint_alt", peer->clear_endpoint_alt);
	for (size_t i = 0; i < peer->endpoint_alt.n; ++i)
		ctl_buf_printf(out, "endpoint_alt=%s\n",
			       fs_endpoint_format(endpoint, &peer->endpoint_alt.items[i]));
	format_clear(out, "spread_prefix", peer->clear_spread_prefixes);
	format_prefixes(out, "spread_prefix", &peer->spread_prefixes);
	if (peer->has_spread_ports)
		ctl_buf_printf(out, "spread_ports=%u-%u\n", peer->spread_ports.low,
			       peer->spread_ports.high);
	else
		format_clear(out, "spread_ports", peer->clear_spread_ports);
}

void ctl_uapi_format_set(struct ctl_buf *out, const struct ctl_device *dev)
{
	ctl_buf_printf(out, "set=1\n");
	format_device(out, dev);
	for (size_t i = 0; i < dev->n_peers; ++i)
		format_peer(out, &dev->peers[i]);
	ctl_buf_printf(out, "\n");
}

/* --- the socket ------------------------------------------------------------- */

bool ctl_uapi_valid_name(const char *ifname)
{
	size_t len = strlen(ifname);

	return len && len < IF_NAMESIZE && !strchr(ifname, '/') && strcmp(ifname, ".") &&
	       strcmp(ifname, "..");
}

static int uapi_connect(const char *ifname)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (!ctl_uapi_valid_name(ifname))
		return -EINVAL;
	snprintf(addr.sun_path, sizeof(addr.sun_path), CTL_UAPI_DIR "/%s.sock", ifname);
	if (stat(addr.sun_path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * True once the answer holds its final empty line. *searched bytes were
 * looked at before: only the new ones are (and the newline before them),
 * so a long answer is searched once, not once per read.
 */
static bool answer_complete(const struct ctl_buf *answer, size_t *searched)
{
	size_t from = *searched ? *searched - 1 : 0;
	bool done;

	if (!answer->len)
		return false;
	done = answer->data[0] == '\n' ||
	       (answer->len - from >= 2 &&
		memmem(answer->data + from, answer->len - from, "\n\n", 2));
	*searched = answer->len;
	return done;
}

int ctl_uapi_read_answer(int fd, struct ctl_buf *answer)
{
	char chunk[65536];
	size_t searched = 0;
	int ret = 0;

	while (!answer_complete(answer, &searched)) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (!n)
			break;
		ctl_buf_append(answer, chunk, (size_t)n);
		if (answer->failed || answer->len > ANSWER_MAX) {
			ret = -ENOMEM;
			break;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	return ret;
}

/*
 * Sends request and reads the answer. A daemon may close its end after
 * refusing a request half read, so a failed send still reads what came back.
 */
static int exchange(const char *ifname, const char *request, size_t len, struct ctl_buf *answer,
		    char *err, size_t errlen)
{
	int fd = uapi_connect(ifname), sent, received;

	if (fd < 0) {
		if (fd == -ENOENT)
			ctl_fail(err, errlen, "interface %s: no socket " CTL_UAPI_DIR "/%s.sock "
				 "(is its daemon running?)", ifname, ifname);
		else if (fd == -ECONNREFUSED)
			ctl_fail(err, errlen, "interface %s: nobody listens on " CTL_UAPI_DIR "/%s.sock "
				 "(is its daemon running?)", ifname, ifname);
		else if (fd == -EINVAL)
			ctl_fail(err, errlen, "interface %s: expected an interface name of 1 to %d "
				 "characters without '/'", ifname, IF_NAMESIZE - 1);
		else
			ctl_fail(err, errlen, "interface %s: cannot connect to " CTL_UAPI_DIR
				 "/%s.sock: %s", ifname, ifname, strerror(-fd));
		return fd;
	}
	sent = send_all(fd, request, len);
	received = ctl_uapi_read_answer(fd, answer);
	close(fd);
	if (received < 0 || (sent < 0 && !answer->len)) {
		int ret = received < 0 ? received : sent;

		ctl_fail(err, errlen, "interface %s: talking to its daemon: %s", ifname,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

int ctl_uapi_get(struct ctl_device *dev, const char *ifname, char *err, size_t errlen)
{
	static const char request[] = "get=1\n\n";
	struct ctl_buf answer;
	int ret;

	ctl_buf_init(&answer);
	ret = exchange(ifname, request, sizeof(request) - 1, &answer, err, errlen);
	if (!ret) {
		ret = ctl_uapi_parse_get(dev, answer.data ? answer.data : "", answer.len, err, errlen);
		if (ret == -EPROTO || ret == -ENOMEM)
			ctl_err_prefix(err, errlen, "interface %s: unexpected answer from its daemon: ",
				       ifname);
		else if (ret)
			ctl_err_prefix(err, errlen, "interface %s: its daemon answered ", ifname);
	}
	ctl_buf_free(&answer);
	if (!ret)
		snprintf(dev->name, sizeof(dev->name), "%s", ifname);
	return ret;
}

int ctl_uapi_set(const char *ifname, const struct ctl_device *dev, char *err, size_t errlen)
{
	struct ctl_set_answer parsed = { 0 };
	struct ctl_buf request, answer;
	int ret;

	ctl_buf_init(&request);
	ctl_buf_init(&answer);
	ctl_uapi_format_set(&request, dev);
	if (request.failed) {
		ret = -ENOMEM;
		ctl_fail(err, errlen, "interface %s: out of memory", ifname);
		goto out;
	}
	ret = exchange(ifname, request.data, request.len, &answer, err, errlen);
	if (ret)
		goto out;
	ret = ctl_uapi_parse_set_answer(&parsed, answer.data ? answer.data : "", answer.len);
	if (ret == -ENOMEM) {
		ctl_fail(err, errlen, "interface %s: out of memory", ifname);
	} else if (ret) {
		ctl_fail(err, errlen, "interface %s: unexpected answer from its daemon: "
			 "expected errno=N", ifname);
	} else if (parsed.daemon_errno) {
		ret = parsed.daemon_errno;
		ctl_uapi_print_refusal(stderr, ifname, &parsed);
		if (err && errlen)
			err[0] = '\0';
	}
	ctl_set_answer_free(&parsed);
out:
	ctl_buf_free(&request);
	ctl_buf_free(&answer);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * False for a socket that is gone or that nobody listens on (a stale one
 * refuses connections); true otherwise, also when this user may not
 * connect, so that reading the interface reports it (as wg does).
 */
static bool live(const char *ifname)
{
	int fd = uapi_connect(ifname);

	if (fd < 0)
		return fd != -ENOENT && fd != -ECONNREFUSED && fd != -ENOTSOCK;
	close(fd);
	return true;
}

int ctl_uapi_list(char ***names, size_t *n)
{
	size_t count = 0, alloc = 0;
	char **list = NULL;
	struct dirent *ent;
	int ret = 0;
	DIR *dir;

	*names = NULL;
	*n = 0;
	dir = opendir(CTL_UAPI_DIR);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((ent = readdir(dir))) {
		size_t len = strlen(ent->d_name);
		char name[IF_NAMESIZE];

		if (len <= 5 || len - 5 >= IF_NAMESIZE || strcmp(ent->d_name + len - 5, ".sock"))
			continue;
		memcpy(name, ent->d_name, len - 5);
		name[len - 5] = '\0';
		if (!ctl_uapi_valid_name(name) || !live(name))
			continue;
		if (count == alloc) {
			char **bigger = realloc(list, (alloc ? alloc * 2 : 8) * sizeof(*list));

			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			list = bigger;
			alloc = alloc ? alloc * 2 : 8;
		}
		list[count] = strdup(name);
		if (!list[count]) {
			ret = -ENOMEM;
			break;
		}
		++count;
	}
	closedir(dir);
	if (ret) {
		ctl_uapi_list_free(list, count);
		return ret;
	}
	if (count)
		qsort(list, count, sizeof(*list), name_cmp);
	*names = list;
	*n = count;
	return 0;
}

void ctl_uapi_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		free(names[i]);
	free(names);
}
