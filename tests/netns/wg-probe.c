// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wg-probe: one WireGuard v1 handshake and a few ICMP echoes, built on the
 * protocol core (libfscore) and plain UDP sockets, no TUN. It exists to
 * prove that the core speaks WireGuard, bit for bit, to a stock peer.
 *
 *   initiator:  -> initiation            responder:  <- initiation
 *               <- response (or cookie)              -> response
 *               -> data: echo request                <- data: echo request
 *               <- data: echo reply                  -> data: echo reply
 *
 * The inner packets are IPv4 ICMP echoes between --inner-src (ours) and
 * --inner-dst (the peer's tunnel address). Every datagram that is not what
 * the protocol expects at that point is ignored and counted, never trusted.
 *
 * A data flood (--flood-sources, --inner-flows), to see what a peer keeps
 * per source and per flow: once the session is up, and before the first
 * echo, the initiator sends authenticated data messages, each from another
 * outer source (addresses of --source-prefix, chosen per datagram with
 * IPV6_PKTINFO on IPV6_FREEBIND sockets) and carrying another inner flow
 * (IPv4 UDP from --inner-src to --inner-dst, the ports varied), paced so
 * that the peer's socket buffer is not simply overrun. The echoes that
 * follow, from our own address, show the session still works.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cookie.h"
#include "index.h"
#include "messages.h"
#include "noise.h"
#include "tai64n.h"
#include "transport.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78	/* linux/in6.h, since Linux 4.15; glibc may lack it */
#endif

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

enum {
	BUFFER_LEN = 2048,
	INNER_MTU = 1420,		/* wireguard-go's default */
	RETRY_MS = 1000,		/* initiation and echo retransmission */
	ECHO_PAYLOAD_LEN = 56,		/* as ping's default: 84-byte packets */
	FLOOD_BURST = 64,		/* datagrams, well below a default socket buffer */
	FLOW_PAYLOAD_LEN = 32,		/* UDP payload of a data flood's inner packet */
	FLOW_PORT_BASE = 1024,		/* inner flow f: source port BASE + f % PORTS, */
	FLOW_PORTS = 64000,		/* destination port BASE + f / PORTS */
	MAX_FLOOD = 1 << 24,		/* sources or inner flows of one data flood */
	MAX_SOURCE_PORTS = 256,		/* a socket each */
	DEFAULT_FLOOD_RATE = 20000,	/* data messages per second */
	ADDR_STR_LEN = INET6_ADDRSTRLEN + 8,
	KEY_B64_LEN = sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL),
};

enum mode { MODE_INITIATOR, MODE_RESPONDER };

struct options {
	enum mode mode;
	uint8_t private_key[WG_KEY_LEN];
	uint8_t peer_public[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];
	bool has_private_key, has_peer_public, has_preshared_key;
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;
	uint16_t listen_port;
	struct in_addr inner_src, inner_dst;
	bool has_inner_src, has_inner_dst;
	unsigned int count;
	unsigned int timeout_s;
	bool under_load;
	unsigned int flood;
	/* The data flood; messages: the larger of flood_sources and inner_flows. */
	unsigned int flood_sources;	/* outer source addresses, 0: our own */
	struct in6_addr source_prefix;	/* where they are drawn from */
	unsigned int source_prefix_len;
	bool has_source_prefix;
	unsigned int source_ports;	/* distinct source ports, a socket each */
	unsigned int inner_flows;	/* distinct inner UDP flows, 0: one */
	unsigned int flood_rate;	/* data messages per second, 0: unpaced */
	bool flood_rate_set;
	bool verbose;
};

/* Why datagrams were dropped; printed at the end. */
struct ignored {
	unsigned int malformed;		/* wrong length, type or reserved bytes */
	unsigned int unexpected;	/* a valid type this side does not take now */
	unsigned int bad_mac;		/* mac1 does not authenticate */
	unsigned int bad_handshake;	/* the core rejected the message */
	unsigned int unknown_index;	/* no keypair with that receiver index */
	unsigned int bad_data;		/* does not authenticate, or no valid key */
	unsigned int replayed;		/* authenticates, but the counter was seen */
	unsigned int keepalives;
	unsigned int not_echo;		/* decrypted, but not the echo we wait for */
};

struct echo_packet {
	struct iphdr ip;
	struct icmphdr icmp;
	uint8_t payload[ECHO_PAYLOAD_LEN];
};
_Static_assert(sizeof(struct echo_packet) == 84, "an echo is 84 bytes, as ping's");

/* An inner packet of the data flood: 60 bytes, 96 on the wire once encrypted. */
struct flow_packet {
	struct iphdr ip;
	struct udphdr udp;
	uint8_t payload[FLOW_PAYLOAD_LEN];
};

union buffer {
	uint8_t bytes[BUFFER_LEN];
	struct wg_message_header header;
	struct wg_message_handshake_initiation initiation;
	struct wg_message_handshake_response response;
	struct wg_message_handshake_cookie cookie;
	struct wg_message_data data;
};

struct probe {
	const struct options *opt;
	int fd;
	struct fs_index_table *table;
	struct fs_noise_identity *identity;
	struct fs_noise_peer *peer;
	struct fs_cookie_checker checker;
	struct sockaddr_storage remote;	/* where the peer is sent to */
	socklen_t remote_len;
	struct sockaddr_storage from;	/* the datagram being handled */
	socklen_t from_len;
	uint64_t started, deadline;
	uint64_t initiation_sent_at, echo_sent_at;
	uint16_t echo_id, echo_seq;
	unsigned int echoes_done;
	unsigned int cookies_sent;
	bool established;
	bool send_now;			/* the initiator's next step is due at once */
	struct echo_packet echo;	/* the request in flight (initiator) */
	struct wg_message_handshake_initiation junk;	/* for --flood */
	int *port_fds;			/* data flood: socket i % source_ports sends */
	unsigned int n_port_fds;	/* source i; port_fds[0] is fd */
	bool data_flood_done;
	struct ignored ignored;
	union buffer in, out;
};

static const char *progname = "wg-probe";

/* --- printing ---------------------------------------------------------- */

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 2, 3)))
verbose(const struct probe *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->opt->verbose)
		return;
	fputs("   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static double ms_since(uint64_t then)
{
	return (double)(fs_clock_now() - then) / (double)FS_NSEC_PER_MSEC;
}

static const char *key_str(char out[KEY_B64_LEN], const uint8_t key[WG_KEY_LEN])
{
	return sodium_bin2base64(out, KEY_B64_LEN, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* "192.0.2.1:51820" or "[2001:db8::1]:51820"; v4-mapped IPv6 prints as IPv4. */
static const char *addr_str(char out[ADDR_STR_LEN], const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, ADDR_STR_LEN, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
		snprintf(out, ADDR_STR_LEN, "%s:%u", host, ntohs(sin6->sin6_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, ADDR_STR_LEN, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, ADDR_STR_LEN, "(address family %u)", ss->ss_family);
	}
	return out;
}

static const char *inner_str(char out[INET_ADDRSTRLEN], uint32_t addr_be)
{
	struct in_addr in = { .s_addr = addr_be };

	return inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

/* Counts a dropped datagram; false, for "return ignore(...)" in the consumers. */
static bool ignore(struct probe *p, unsigned int *counter, const char *why)
{
	char from[ADDR_STR_LEN];

	++*counter;
	verbose(p, "(ignored a datagram from %s: %s)", addr_str(from, &p->from), why);
	return false;
}

/* --- command line ------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s initiator --endpoint ADDR:PORT [OPTIONS]\n"
		"       %s responder --listen PORT [OPTIONS]\n"
		"\n"
		"Runs one WireGuard v1 handshake with a peer over UDP, then exchanges\n"
		"ICMP echoes with it inside the tunnel (IPv4, no TUN device).\n"
		"\n"
		"  --private-key FILE      our private key, base64 (wg genkey)\n"
		"  --peer-public BASE64    the peer's public key (wg pubkey)\n"
		"  --preshared-key FILE    optional preshared key, base64 (wg genpsk)\n"
		"  --endpoint ADDR:PORT    initiator: where the peer listens ([ADDR]:PORT for IPv6)\n"
		"  --listen PORT           responder: UDP port to listen on (IPv4 and IPv6);\n"
		"                          initiator: optional source port\n"
		"  --inner-src ADDR        our IPv4 address inside the tunnel\n"
		"  --inner-dst ADDR        the peer's IPv4 address inside the tunnel\n"
		"  --count N               echoes to send (initiator) or answer (responder); 1\n"
		"  --timeout S             give up after S seconds; 10\n"
		"  --under-load            responder: act as if under load, answering each\n"
		"                          initiation without a valid mac2 with a cookie reply\n"
		"  --flood N               initiator: until a cookie reply comes, precede each\n"
		"                          initiation by N from a throwaway key (valid mac1,\n"
		"                          unknown to the peer), to put the peer under load\n"
		"  --verbose               print keys, indices and every ignored datagram\n"
		"\n"
		"Data flood (initiator): once the session is up, before the first echo, send\n"
		"max(N, M) data messages, message i from source i %% N carrying flow i %% M:\n"
		"  --flood-sources N       N distinct outer sources: host addresses 1..N of\n"
		"                          --source-prefix (IPv6 --endpoint only); the namespace\n"
		"                          needs a local route for it, to receive the replies\n"
		"                          (ip -6 route add local PREFIX dev lo)\n"
		"  --source-prefix P/LEN   the IPv6 prefix the sources are drawn from\n"
		"  --source-ports K        K UDP sockets, so K source ports (ours, as --listen\n"
		"                          says, and K - 1 ephemeral ones): source i sends from\n"
		"                          socket i %% K; 1\n"
		"  --inner-flows M         M distinct inner flows: IPv4 UDP from --inner-src to\n"
		"                          --inner-dst, flow f from port %d + f %% %d to\n"
		"                          port %d + f / %d, a %d-byte payload; --inner-src\n"
		"                          must be in the peer's allowed IPs for us, or it drops\n"
		"                          them\n"
		"  --flood-rate R          data messages per second, in bursts of %d, so the\n"
		"                          peer's socket buffer is not simply overrun; 0 sends\n"
		"                          as fast as we can; %d\n"
		"It prints \"-> data flood: P data messages, B bytes, ...\": B is the UDP\n"
		"payload sent, what the peer's transfer counter grows by if it takes all.\n"
		"\n"
		"Exit status: 0 when all echoes were answered, 1 on timeout or error,\n"
		"2 on a usage error.\n",
		progname, progname, FLOW_PORT_BASE, FLOW_PORTS, FLOW_PORT_BASE, FLOW_PORTS,
		FLOW_PAYLOAD_LEN, FLOOD_BURST, DEFAULT_FLOOD_RATE);
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		++s;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		--end;
	*end = '\0';
	return s;
}

static bool decode_key(uint8_t key[WG_KEY_LEN], const char *b64)
{
	size_t len;
	const char *end;

	return sodium_base642bin(key, WG_KEY_LEN, b64, strlen(b64), NULL, &len, &end,
				 sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       len == WG_KEY_LEN && *end == '\0';
}

static bool parse_key(uint8_t key[WG_KEY_LEN], const char *option, const char *value)
{
	if (decode_key(key, value))
		return true;
	fail("%s: `%s' is not a base64 key of %d bytes (as printed by wg pubkey)", option, value,
	     WG_KEY_LEN);
	return false;
}

/* The file's content is secret: errors name the file, never what it holds. */
static bool parse_key_file(uint8_t key[WG_KEY_LEN], const char *option, const char *path)
{
	char text[256];
	size_t len;
	bool ok = false;
	FILE *f = fopen(path, "re");

	if (!f) {
		fail("%s: cannot open `%s': %s", option, path, strerror(errno));
		return false;
	}
	len = fread(text, 1, sizeof(text) - 1, f);
	if (ferror(f)) {
		fail("%s: cannot read `%s': %s", option, path, strerror(errno));
		goto out;
	}
	text[len] = '\0';
	ok = decode_key(key, trim(text));
	if (!ok)
		fail("%s: `%s' does not hold a base64 key of %d bytes (as made by wg genkey)",
		     option, path, WG_KEY_LEN);
out:
	sodium_memzero(text, sizeof(text));
	fclose(f);
	return ok;
}

static bool parse_uint(unsigned int *out, const char *option, const char *value,
		       unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || value[0] == '-' || v < min || v > max) {
		fail("%s: `%s' is not a number from %lu to %lu", option, value, min, max);
		return false;
	}
	*out = (unsigned int)v;
	return true;
}

static bool parse_port(uint16_t *port, const char *option, const char *value)
{
	unsigned int v;

	if (!parse_uint(&v, option, value, 1, 65535))
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool parse_inner(struct in_addr *addr, const char *option, const char *value)
{
	if (inet_pton(AF_INET, value, addr) == 1)
		return true;
	fail("%s: `%s' is not an IPv4 address", option, value);
	return false;
}

/* ADDR:PORT with a numeric IPv4 address, or [ADDR]:PORT with an IPv6 one. */
static bool parse_endpoint(struct options *opt, const char *value)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(value, ':');
	size_t host_len = colon ? (size_t)(colon - value) : 0;
	struct sockaddr_in *sin = (struct sockaddr_in *)&opt->endpoint;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&opt->endpoint;
	uint16_t port;

	if (!colon || host_len == 0 || host_len >= sizeof(host))
		goto bad;
	memcpy(host, value, host_len);
	host[host_len] = '\0';
	if (!parse_port(&port, "--endpoint", colon + 1))
		return false;
	memset(&opt->endpoint, 0, sizeof(opt->endpoint));
	if (host[0] == '[' && host[host_len - 1] == ']') {
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		opt->endpoint_len = sizeof(*sin6);
		return true;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		goto bad;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	opt->endpoint_len = sizeof(*sin);
	return true;
bad:
	fail("--endpoint: `%s' is not ADDR:PORT (a numeric IPv4 address, or [IPv6]:PORT)", value);
	return false;
}

/* An IPv6 ADDR/LEN; the host bits must be zero. */
static bool parse_source_prefix(struct options *opt, const char *value)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(value, '/');
	size_t addr_len = slash ? (size_t)(slash - value) : 0;
	unsigned int len;

	if (!slash || addr_len == 0 || addr_len >= sizeof(addr))
		goto bad;
	memcpy(addr, value, addr_len);
	addr[addr_len] = '\0';
	if (inet_pton(AF_INET6, addr, &opt->source_prefix) != 1)
		goto bad;
	if (!parse_uint(&len, "--source-prefix", slash + 1, 1, 127))
		return false;
	for (unsigned int bit = len; bit < 128; ++bit)
		if (opt->source_prefix.s6_addr[bit / 8] & (0x80 >> (bit % 8))) {
			fail("--source-prefix: `%s' has host bits set", value);
			return false;
		}
	opt->source_prefix_len = len;
	return (opt->has_source_prefix = true);
bad:
	fail("--source-prefix: `%s' is not an IPv6 ADDR/LEN", value);
	return false;
}

static bool parse_mode(struct options *opt, const char *value)
{
	if (!strcmp(value, "initiator"))
		opt->mode = MODE_INITIATOR;
	else if (!strcmp(value, "responder"))
		opt->mode = MODE_RESPONDER;
	else {
		fail("mode `%s' is neither `initiator' nor `responder'", value);
		return false;
	}
	return true;
}

static bool check_data_flood(const struct options *opt)
{
	unsigned int host_bits = 128 - opt->source_prefix_len;
	bool flood = opt->flood_sources || opt->inner_flows;

	if (!flood && (opt->has_source_prefix || opt->source_ports > 1 || opt->flood_rate_set))
		fail("--source-prefix, --source-ports and --flood-rate go with --flood-sources "
		     "or --inner-flows");
	else if (flood && opt->mode != MODE_INITIATOR)
		fail("--flood-sources and --inner-flows are for the initiator");
	else if (opt->flood_sources && !opt->has_source_prefix)
		fail("--flood-sources needs --source-prefix");
	else if (opt->has_source_prefix && !opt->flood_sources)
		fail("--source-prefix needs --flood-sources");
	else if (opt->flood_sources && opt->endpoint.ss_family != AF_INET6)
		fail("--flood-sources: the --endpoint must be IPv6, as the sources are");
	else if (opt->flood_sources && host_bits < 32 &&
		 opt->flood_sources > (UINT32_C(1) << host_bits) - 1)
		fail("--flood-sources: %u sources do not fit in a /%u (host addresses 1..%u)",
		     opt->flood_sources, opt->source_prefix_len, (1U << host_bits) - 1);
	else
		return true;
	return false;
}

static bool check_options(const struct options *opt)
{
	if (!opt->has_private_key)
		fail("--private-key FILE is required");
	else if (!opt->has_peer_public)
		fail("--peer-public BASE64 is required");
	else if (!opt->has_inner_src || !opt->has_inner_dst)
		fail("--inner-src and --inner-dst are required");
	else if (opt->mode == MODE_INITIATOR && !opt->endpoint_len)
		fail("initiator: --endpoint ADDR:PORT is required");
	else if (opt->mode == MODE_RESPONDER && !opt->listen_port)
		fail("responder: --listen PORT is required");
	else if (opt->mode == MODE_INITIATOR && opt->under_load)
		fail("--under-load is for the responder");
	else if (opt->mode == MODE_RESPONDER && opt->flood)
		fail("--flood is for the initiator");
	else
		return check_data_flood(opt);
	return false;
}

/* The long options without a short letter. */
enum {
	OPT_FLOOD_SOURCES = 256,
	OPT_SOURCE_PREFIX,
	OPT_SOURCE_PORTS,
	OPT_INNER_FLOWS,
	OPT_FLOOD_RATE,
};

static bool parse_option(struct options *opt, int c, const char *arg)
{
	switch (c) {
	case 'k':
		return (opt->has_private_key = parse_key_file(opt->private_key, "--private-key", arg));
	case 'p':
		return (opt->has_peer_public = parse_key(opt->peer_public, "--peer-public", arg));
	case 'K':
		return (opt->has_preshared_key =
				parse_key_file(opt->preshared_key, "--preshared-key", arg));
	case 'e':
		return parse_endpoint(opt, arg);
	case 'l':
		return parse_port(&opt->listen_port, "--listen", arg);
	case 's':
		return (opt->has_inner_src = parse_inner(&opt->inner_src, "--inner-src", arg));
	case 'd':
		return (opt->has_inner_dst = parse_inner(&opt->inner_dst, "--inner-dst", arg));
	case 'c':
		return parse_uint(&opt->count, "--count", arg, 1, 1000000);
	case 't':
		return parse_uint(&opt->timeout_s, "--timeout", arg, 1, 86400);
	case 'L':
		opt->under_load = true;
		return true;
	case 'f':
		return parse_uint(&opt->flood, "--flood", arg, 1, 100000);
	case 'v':
		opt->verbose = true;
		return true;
	case OPT_FLOOD_SOURCES:
		return parse_uint(&opt->flood_sources, "--flood-sources", arg, 1, MAX_FLOOD);
	case OPT_SOURCE_PREFIX:
		return parse_source_prefix(opt, arg);
	case OPT_SOURCE_PORTS:
		return parse_uint(&opt->source_ports, "--source-ports", arg, 1, MAX_SOURCE_PORTS);
	case OPT_INNER_FLOWS:
		return parse_uint(&opt->inner_flows, "--inner-flows", arg, 1, MAX_FLOOD);
	case OPT_FLOOD_RATE:
		opt->flood_rate_set = true;
		return parse_uint(&opt->flood_rate, "--flood-rate", arg, 0, 10000000);
	default:
		return false;
	}
}

/* 0 to run, 1 for --help, -1 on a usage error (already reported). */
static int parse_args(struct options *opt, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "private-key", required_argument, NULL, 'k' },
		{ "peer-public", required_argument, NULL, 'p' },
		{ "preshared-key", required_argument, NULL, 'K' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "listen", required_argument, NULL, 'l' },
		{ "inner-src", required_argument, NULL, 's' },
		{ "inner-dst", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "under-load", no_argument, NULL, 'L' },
		{ "flood", required_argument, NULL, 'f' },
		{ "flood-sources", required_argument, NULL, OPT_FLOOD_SOURCES },
		{ "source-prefix", required_argument, NULL, OPT_SOURCE_PREFIX },
		{ "source-ports", required_argument, NULL, OPT_SOURCE_PORTS },
		{ "inner-flows", required_argument, NULL, OPT_INNER_FLOWS },
		{ "flood-rate", required_argument, NULL, OPT_FLOOD_RATE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	opt->count = 1;
	opt->timeout_s = 10;
	opt->source_ports = 1;
	opt->flood_rate = DEFAULT_FLOOD_RATE;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || !parse_option(opt, c, optarg))
			return -1;
	}
	if (optind == argc) {
		fail("missing mode: `initiator' or `responder' (see --help)");
		return -1;
	}
	if (optind < argc - 1) {
		fail("unexpected argument `%s' after the mode", argv[optind + 1]);
		return -1;
	}
	if (!parse_mode(opt, argv[optind]) || !check_options(opt))
		return -1;
	return 0;
}

/* --- inner packets: IPv4 ICMP echo ------------------------------------- */

static uint16_t inet_checksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;

	for (; len > 1; b += 2, len -= 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (len)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void fill_ipv4(struct iphdr *ip, size_t total_len, uint8_t protocol, uint32_t saddr,
		      uint32_t daddr)
{
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)total_len);
	ip->frag_off = 0;
	ip->ttl = 64;
	ip->protocol = protocol;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->check = 0;
	ip->check = inet_checksum(ip, sizeof(*ip));
}

static void build_echo_request(struct probe *p)
{
	static const char text[] = "flowspread wg-probe echo ";
	struct echo_packet *e = &p->echo;

	for (size_t i = 0; i < sizeof(e->payload); ++i)
		e->payload[i] = i < sizeof(text) - 1 ? (uint8_t)text[i] : (uint8_t)i;
	e->icmp.type = ICMP_ECHO;
	e->icmp.code = 0;
	e->icmp.un.echo.id = htons(p->echo_id);
	e->icmp.un.echo.sequence = htons(p->echo_seq);
	e->icmp.checksum = 0;
	e->icmp.checksum = inet_checksum(&e->icmp, sizeof(e->icmp) + sizeof(e->payload));
	e->ip.id = htons(p->echo_seq);
	fill_ipv4(&e->ip, sizeof(*e), IPPROTO_ICMP, p->opt->inner_src.s_addr,
		  p->opt->inner_dst.s_addr);
}

/*
 * The ICMP message inside an IPv4 packet of at most len bytes, if the
 * packet is a whole, well-formed ICMP packet from the peer's tunnel address
 * to ours; its length in *icmp_len.
 */
static struct icmphdr *parse_icmp(struct probe *p, void *plain, size_t len, size_t *icmp_len)
{
	struct iphdr *ip = plain;
	size_t tot_len;

	if (len < sizeof(*ip) || ip->version != 4 || ip->ihl != sizeof(*ip) / 4)
		return NULL;
	tot_len = ntohs(ip->tot_len);
	if (tot_len > len || tot_len < sizeof(*ip) + sizeof(struct icmphdr) ||
	    inet_checksum(ip, sizeof(*ip)) != 0 || (ntohs(ip->frag_off) & (IP_MF | IP_OFFMASK)) ||
	    ip->protocol != IPPROTO_ICMP || ip->saddr != p->opt->inner_dst.s_addr ||
	    ip->daddr != p->opt->inner_src.s_addr)
		return NULL;
	*icmp_len = tot_len - sizeof(*ip);
	if (inet_checksum(ip + 1, *icmp_len) != 0)
		return NULL;
	return (struct icmphdr *)(ip + 1);
}

/* Turns a request into its reply in place: swapped addresses, type 0. */
static void make_echo_reply(struct iphdr *ip, size_t icmp_len)
{
	struct icmphdr *icmp = (struct icmphdr *)(ip + 1);
	uint32_t saddr = ip->daddr;

	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = 0;
	icmp->checksum = inet_checksum(icmp, icmp_len);
	ip->id = htons((uint16_t)randombytes_uniform(65536));
	fill_ipv4(ip, sizeof(*ip) + icmp_len, IPPROTO_ICMP, saddr, ip->saddr);
}

static void describe_echo(char *out, size_t size, const struct iphdr *ip)
{
	const struct icmphdr *icmp = (const struct icmphdr *)(ip + 1);
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];

	snprintf(out, size, "ICMP echo %s %s -> %s (id 0x%04x, seq %u, %u bytes)",
		 icmp->type == ICMP_ECHO ? "request" : "reply", inner_str(src, ip->saddr),
		 inner_str(dst, ip->daddr), ntohs(icmp->un.echo.id), ntohs(icmp->un.echo.sequence),
		 ntohs(ip->tot_len));
}

/* --- inner packets of the data flood: IPv4 UDP ------------------------ */

/* The UDP checksum, over the IPv4 pseudo-header, the header and the payload. */
static uint16_t udp4_checksum(const struct flow_packet *f)
{
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, protocol;
		uint16_t len;
		struct udphdr udp;
		uint8_t payload[FLOW_PAYLOAD_LEN];
	} __attribute__((packed)) pseudo = {
		.saddr = f->ip.saddr,
		.daddr = f->ip.daddr,
		.protocol = IPPROTO_UDP,
		.len = f->udp.len,
		.udp = f->udp,
	};
	uint16_t sum;

	memcpy(pseudo.payload, f->payload, sizeof(pseudo.payload));
	pseudo.udp.check = 0;
	sum = inet_checksum(&pseudo, sizeof(pseudo));
	return sum ? sum : 0xffff;	/* 0 would mean "no checksum" */
}

/* Inner flow number flow: its own pair of ports, the rest alike. */
static void build_flow_packet(const struct probe *p, struct flow_packet *f, uint32_t flow)
{
	static const char text[] = "flowspread wg-probe data flood ";

	for (size_t i = 0; i < sizeof(f->payload); ++i)
		f->payload[i] = i < sizeof(text) - 1 ? (uint8_t)text[i] : (uint8_t)i;
	f->udp.source = htons((uint16_t)(FLOW_PORT_BASE + flow % FLOW_PORTS));
	f->udp.dest = htons((uint16_t)(FLOW_PORT_BASE + flow / FLOW_PORTS));
	f->udp.len = htons(sizeof(f->udp) + sizeof(f->payload));
	f->ip.id = htons((uint16_t)flow);
	fill_ipv4(&f->ip, sizeof(*f), IPPROTO_UDP, p->opt->inner_src.s_addr,
		  p->opt->inner_dst.s_addr);
	f->udp.check = udp4_checksum(f);
}

/* --- UDP --------------------------------------------------------------- */

static bool send_to(struct probe *p, const struct sockaddr_storage *ss, socklen_t sslen,
		    const void *buf, size_t len)
{
	char to[ADDR_STR_LEN];

	if (sendto(p->fd, buf, len, 0, (const struct sockaddr *)ss, sslen) == (ssize_t)len)
		return true;
	fail("cannot send %zu bytes to %s: %s", len, addr_str(to, ss), strerror(errno));
	return false;
}

static bool send_to_peer(struct probe *p, const void *buf, size_t len)
{
	return send_to(p, &p->remote, p->remote_len, buf, len);
}

/* A datagram's length, or -ETIMEDOUT when nothing came before "until". */
static ssize_t receive(struct probe *p, uint64_t until)
{
	uint64_t now = fs_clock_now();
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	uint64_t wait_ms = until > now ? (until - now + FS_NSEC_PER_MSEC - 1) / FS_NSEC_PER_MSEC : 0;
	ssize_t n;

	if (poll(&pfd, 1, (int)wait_ms) <= 0)
		return -ETIMEDOUT;
	p->from_len = sizeof(p->from);
	n = recvfrom(p->fd, p->in.bytes, sizeof(p->in.bytes), 0, (struct sockaddr *)&p->from,
		     &p->from_len);
	if (n < 0) {
		/* ECONNREFUSED and the like: an ICMP error for an earlier send. */
		verbose(p, "(receive: %s)", strerror(errno));
		return -errno;
	}
	return n;
}

static void set_remote(struct probe *p, const struct sockaddr_storage *ss, socklen_t len)
{
	memcpy(&p->remote, ss, len);
	p->remote_len = len;
}

/*
 * The data flood's sockets: ours, then source_ports - 1 more that take an
 * ephemeral port at their first send. With --source-prefix, each may send
 * from any address (IPV6_FREEBIND; without it, IPV6_PKTINFO with an address
 * not assigned here fails with EINVAL).
 */
static bool open_port_sockets(struct probe *p)
{
	const struct options *opt = p->opt;
	int family = opt->endpoint.ss_family, on = 1;

	p->port_fds = calloc(opt->source_ports, sizeof(*p->port_fds));
	if (!p->port_fds) {
		fail("out of memory");
		return false;
	}
	p->port_fds[p->n_port_fds++] = p->fd;
	while (p->n_port_fds < opt->source_ports) {
		int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fail("--source-ports: cannot open UDP socket %u: %s", p->n_port_fds + 1,
			     strerror(errno));
			return false;
		}
		p->port_fds[p->n_port_fds++] = fd;
	}
	for (unsigned int i = 0; opt->has_source_prefix && i < p->n_port_fds; ++i)
		if (setsockopt(p->port_fds[i], IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof(on))) {
			fail("--source-prefix: cannot set IPV6_FREEBIND: %s", strerror(errno));
			return false;
		}
	return true;
}

static bool open_socket(struct probe *p)
{
	const struct options *opt = p->opt;
	int family = opt->mode == MODE_INITIATOR ? opt->endpoint.ss_family : AF_INET6;
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons(opt->listen_port) };
	struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_port = htons(opt->listen_port) };
	int off = 0, rcvbuf = 4 << 20;

	p->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0 && family == AF_INET6 && opt->mode == MODE_RESPONDER)
		p->fd = socket(family = AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		fail("cannot open a UDP socket: %s", strerror(errno));
		return false;
	}
	if (family == AF_INET6)
		setsockopt(p->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (opt->flood)	/* room for the cookie replies to the junk (best effort) */
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if ((opt->flood_sources || opt->inner_flows) && !open_port_sockets(p))
		return false;
	if (!opt->listen_port)
		return true;
	if (family == AF_INET6 ? bind(p->fd, (struct sockaddr *)&any6, sizeof(any6))
			       : bind(p->fd, (struct sockaddr *)&any4, sizeof(any4))) {
		fail("cannot listen on UDP port %u: %s", opt->listen_port, strerror(errno));
		return false;
	}
	return true;
}

/* --- the handshake ----------------------------------------------------- */

/*
 * A handshake initiation from a throwaway key: its mac1 is valid (it needs
 * only the peer's public key), so the peer queues it and spends two
 * Diffie-Hellman operations before it finds the key unknown.
 */
static bool make_junk_initiation(struct probe *p)
{
	struct fs_noise_identity *identity = fs_noise_identity_new();
	struct fs_index_table *table = fs_index_table_new();
	struct fs_noise_peer *peer = NULL;
	uint8_t key[WG_KEY_LEN], timestamp[WG_TIMESTAMP_LEN];
	bool ok = false;

	if (!identity || !table)
		goto out;
	fs_noise_generate_private(key);
	if (!fs_noise_identity_set_private(identity, key))
		goto out;
	peer = fs_noise_peer_new(identity, p->opt->peer_public, NULL, NULL);
	if (!peer)
		goto out;
	fs_tai64n_now(timestamp);
	ok = fs_noise_create_initiation(peer, &p->junk, table, timestamp);
	fs_cookie_add_macs(&peer->cookie, &p->junk, sizeof(p->junk), fs_clock_now());
out:
	if (peer)
		fs_noise_peer_free(peer, table);
	if (table)
		fs_index_table_free(table);
	if (identity)
		fs_noise_identity_free(identity);
	sodium_memzero(key, sizeof(key));
	if (!ok)
		fail("--flood: the core could not make a throwaway initiation");
	return ok;
}

/*
 * Sends the junk --flood times, in bursts small enough for the peer's socket
 * buffer, then pauses so that its handshake queue fills before our own
 * initiation comes: a peer stays "under load" for a while (wireguard-go:
 * 1 s) after its queue was long.
 */
static void flood(struct probe *p)
{
	const struct timespec burst_pause = { .tv_nsec = 200 * 1000 };
	const struct timespec pause = { .tv_nsec = 20 * FS_NSEC_PER_MSEC };
	unsigned int sent = 0;

	for (unsigned int i = 0; i < p->opt->flood; ++i) {
		sent += sendto(p->fd, &p->junk, sizeof(p->junk), 0,
			       (const struct sockaddr *)&p->remote, p->remote_len) > 0;
		if (i % FLOOD_BURST == FLOOD_BURST - 1)
			nanosleep(&burst_pause, NULL);
	}
	printf("-> %u handshake initiations from a throwaway key (--flood), to load the peer\n",
	       sent);
	nanosleep(&pause, NULL);
}

static bool send_initiation(struct probe *p)
{
	struct wg_message_handshake_initiation *msg = &p->out.initiation;
	uint8_t timestamp[WG_TIMESTAMP_LEN];
	char to[ADDR_STR_LEN];

	if (p->opt->flood && !p->peer->cookie.is_valid)
		flood(p);
	fs_tai64n_now(timestamp);
	if (!fs_noise_create_initiation(p->peer, msg, p->table, timestamp)) {
		fail("the core could not create a handshake initiation");
		return false;
	}
	fs_cookie_add_macs(&p->peer->cookie, msg, sizeof(*msg), fs_clock_now());
	if (!send_to_peer(p, msg, sizeof(*msg)))
		return true;	/* transient (no route yet?): the retry may work */
	p->initiation_sent_at = fs_clock_now();
	printf("-> handshake initiation to %s (%zu bytes, sender index 0x%08x%s)\n",
	       addr_str(to, &p->remote), sizeof(*msg), le32toh(msg->sender_index),
	       p->peer->cookie.is_valid ? ", with mac2 from the cookie" : "");
	return true;
}

static bool consume_response(struct probe *p, size_t len)
{
	const struct wg_message_handshake_response *msg = &p->in.response;
	char from[ADDR_STR_LEN];
	uint64_t now = fs_clock_now();

	if (p->opt->mode != MODE_INITIATOR || p->established)
		return ignore(p, &p->ignored.unexpected, "a handshake response we did not ask for");
	if (fs_cookie_validate(&p->checker, msg, len, (struct sockaddr *)&p->from, false, now) ==
	    FS_COOKIE_INVALID_MAC)
		return ignore(p, &p->ignored.bad_mac, "handshake response with a bad mac1");
	if (fs_noise_consume_response(msg, p->identity, p->table) != p->peer)
		return ignore(p, &p->ignored.bad_handshake, "handshake response rejected by the core");
	if (!fs_noise_begin_session(p->peer, p->table, now))
		return ignore(p, &p->ignored.bad_handshake, "could not derive the session keys");
	set_remote(p, &p->from, p->from_len);
	p->established = true;
	printf("<- handshake response from %s (%zu bytes, sender index 0x%08x, receiver index 0x%08x)\n"
	       "   mac1 OK, response authenticated: session established in %.1f ms\n",
	       addr_str(from, &p->from), len, le32toh(msg->sender_index),
	       le32toh(msg->receiver_index), ms_since(p->initiation_sent_at));
	verbose(p, "keypair: our index 0x%08x, theirs 0x%08x", p->peer->current->entry.index,
		p->peer->current->remote_index);
	p->send_now = true;
	return true;
}

static bool consume_cookie(struct probe *p)
{
	char from[ADDR_STR_LEN];

	if (p->opt->mode != MODE_INITIATOR || p->established)
		return ignore(p, &p->ignored.unexpected, "a cookie reply we did not ask for");
	if (!fs_index_lookup(p->table, FS_INDEX_HANDSHAKE | FS_INDEX_KEYPAIR,
			     le32toh(p->in.cookie.receiver_index)))
		return ignore(p, &p->ignored.unknown_index,
			      "a cookie reply for an index not ours (one of the --flood junk?)");
	if (!fs_cookie_consume_reply(&p->in.cookie, p->table, fs_clock_now()))
		return ignore(p, &p->ignored.bad_handshake, "a cookie reply that does not authenticate");
	printf("<- cookie reply from %s (%zu bytes, receiver index 0x%08x): the peer is under load\n"
	       "   cookie decrypted with our last mac1; the next initiation carries mac2\n",
	       addr_str(from, &p->from), sizeof(p->in.cookie), le32toh(p->in.cookie.receiver_index));
	p->send_now = true;
	return true;
}

static struct fs_noise_peer *lookup_peer(void *ctx, const uint8_t remote_static[WG_KEY_LEN])
{
	struct probe *p = ctx;

	if (sodium_memcmp(remote_static, p->opt->peer_public, WG_KEY_LEN))
		return NULL;
	return p->peer;
}

static void send_response(struct probe *p)
{
	struct wg_message_handshake_response *msg = &p->out.response;

	if (!fs_noise_create_response(p->peer, msg, p->table)) {
		fail("the core could not create a handshake response");
		return;
	}
	fs_cookie_add_macs(&p->peer->cookie, msg, sizeof(*msg), fs_clock_now());
	if (!fs_noise_begin_session(p->peer, p->table, fs_clock_now())) {
		fail("the core could not derive the session keys");
		return;
	}
	if (!send_to_peer(p, msg, sizeof(*msg)))
		return;
	p->established = true;
	printf("-> handshake response (%zu bytes, sender index 0x%08x, receiver index 0x%08x)\n"
	       "   the new keypair waits for the peer's first data message to confirm it\n",
	       sizeof(*msg), le32toh(msg->sender_index), le32toh(msg->receiver_index));
}

/* Under load, an initiation without a valid mac2 gets this instead of a response. */
static bool send_cookie_reply(struct probe *p, size_t len)
{
	const struct wg_message_handshake_initiation *msg = &p->in.initiation;
	struct wg_message_handshake_cookie *reply = &p->out.cookie;
	char from[ADDR_STR_LEN];

	if (!fs_cookie_create_reply(&p->checker, reply, msg, len, le32toh(msg->sender_index),
				    (struct sockaddr *)&p->from, fs_clock_now())) {
		fail("the core could not create a cookie reply for %s", addr_str(from, &p->from));
		return false;
	}
	if (!send_to(p, &p->from, p->from_len, reply, sizeof(*reply)))
		return false;
	++p->cookies_sent;
	printf("<- handshake initiation from %s (%zu bytes, sender index 0x%08x)\n"
	       "   mac1 OK, no valid mac2: we are \"under load\" (--under-load)\n"
	       "-> cookie reply (%zu bytes, receiver index 0x%08x): the initiator must retry with mac2\n",
	       addr_str(from, &p->from), len, le32toh(msg->sender_index), sizeof(*reply),
	       le32toh(reply->receiver_index));
	return true;
}

static bool consume_initiation(struct probe *p, size_t len)
{
	const struct wg_message_handshake_initiation *msg = &p->in.initiation;
	char from[ADDR_STR_LEN];
	uint64_t now = fs_clock_now();
	enum fs_cookie_mac_state macs;

	if (p->opt->mode != MODE_RESPONDER)
		return ignore(p, &p->ignored.unexpected, "a handshake initiation (we initiate)");
	macs = fs_cookie_validate(&p->checker, msg, len, (struct sockaddr *)&p->from,
				  p->opt->under_load, now);
	if (macs == FS_COOKIE_INVALID_MAC)
		return ignore(p, &p->ignored.bad_mac, "handshake initiation with a bad mac1");
	if (p->opt->under_load && macs != FS_COOKIE_VALID_MAC_WITH_COOKIE)
		return send_cookie_reply(p, len);
	if (fs_noise_consume_initiation(msg, p->identity, lookup_peer, p, now) != p->peer)
		return ignore(p, &p->ignored.bad_handshake,
			      "handshake initiation rejected by the core (unknown key, replayed "
			      "timestamp or flood)");
	set_remote(p, &p->from, p->from_len);
	printf("<- handshake initiation from %s (%zu bytes, sender index 0x%08x)\n"
	       "   mac1 OK%s, peer's static key and timestamp authenticated\n",
	       addr_str(from, &p->from), len, le32toh(msg->sender_index),
	       macs == FS_COOKIE_VALID_MAC_WITH_COOKIE ? ", mac2 OK (made with our cookie)" : "");
	send_response(p);
	return true;
}

/* --- data messages ----------------------------------------------------- */

static bool send_data(struct probe *p, const void *plain, size_t len, const char *what)
{
	ssize_t n = fs_transport_encrypt(p->peer->current, p->out.bytes, sizeof(p->out.bytes),
					 plain, len, INNER_MTU, fs_clock_now());

	if (n < 0) {
		fail("cannot encrypt %s: %s", what, strerror((int)-n));
		return false;
	}
	if (!send_to_peer(p, p->out.bytes, (size_t)n))
		return false;
	printf("-> %s, encrypted %zd bytes, counter %" PRIu64 "\n", what, n,
	       le64toh(p->out.data.counter));
	verbose(p, "data message to receiver index 0x%08x, plaintext padded from %zu to %zu bytes",
		le32toh(p->out.data.key_idx), len, (size_t)n - wg_message_data_len(0));
	return true;
}

static bool send_echo_request(struct probe *p)
{
	char what[160];

	build_echo_request(p);
	describe_echo(what, sizeof(what), &p->echo.ip);
	if (!send_data(p, &p->echo, sizeof(p->echo), what))
		return false;
	p->echo_sent_at = fs_clock_now();
	return true;
}

static void answer_echo_request(struct probe *p, struct iphdr *ip, size_t icmp_len)
{
	char what[160];

	make_echo_reply(ip, icmp_len);
	describe_echo(what, sizeof(what), ip);
	if (send_data(p, ip, sizeof(*ip) + icmp_len, what))
		++p->echoes_done;
}

static bool is_our_echo_reply(const struct probe *p, const struct icmphdr *icmp, size_t icmp_len)
{
	return icmp->type == ICMP_ECHOREPLY && icmp->code == 0 &&
	       icmp_len == sizeof(p->echo.icmp) + sizeof(p->echo.payload) &&
	       icmp->un.echo.id == p->echo.icmp.un.echo.id &&
	       icmp->un.echo.sequence == p->echo.icmp.un.echo.sequence &&
	       !memcmp(icmp + 1, p->echo.payload, sizeof(p->echo.payload));
}

static bool consume_echo(struct probe *p, void *plain, size_t len)
{
	char what[160];
	size_t icmp_len;
	struct icmphdr *icmp = parse_icmp(p, plain, len, &icmp_len);
	bool responder = p->opt->mode == MODE_RESPONDER;

	if (!icmp)
		return ignore(p, &p->ignored.not_echo, "decrypted, but not ICMP between our tunnel addresses");
	if (responder ? icmp->type != ICMP_ECHO || icmp->code != 0
		      : !p->echo_sent_at || !is_our_echo_reply(p, icmp, icmp_len))
		return ignore(p, &p->ignored.not_echo, "decrypted ICMP, but not the echo we wait for");
	describe_echo(what, sizeof(what), plain);
	if (responder) {
		printf("   %s\n", what);
		answer_echo_request(p, plain, icmp_len);
		return true;
	}
	printf("   %s\n   id, sequence and payload match: round trip %.1f ms\n", what,
	       ms_since(p->echo_sent_at));
	p->echo_sent_at = 0;
	++p->echoes_done;
	p->send_now = true;
	return true;
}

static const char *decrypt_error(ssize_t err)
{
	switch (err) {
	case -EBADMSG:
		return "data message does not authenticate";
	case -ENOKEY:
		return "data message for a keypair not valid for receiving";
	case -EKEYEXPIRED:
		return "data message for an expired keypair";
	case -EINVAL:
		return "malformed data message";
	default:
		return strerror((int)-err);
	}
}

static struct fs_noise_keypair *find_keypair(struct probe *p, uint32_t index)
{
	struct fs_index_entry *entry = fs_index_lookup(p->table, FS_INDEX_KEYPAIR, index);

	/* The entry is the keypair's first member. */
	return entry && entry->peer == p->peer ? container_of(entry, struct fs_noise_keypair, entry)
					       : NULL;
}

static bool consume_data(struct probe *p, size_t len)
{
	uint32_t index = fs_transport_receiver(p->in.bytes);
	uint64_t counter = le64toh(p->in.data.counter);
	struct fs_noise_keypair *keypair = find_keypair(p, index);
	uint8_t *plain = p->in.bytes + sizeof(struct wg_message_data);
	char from[ADDR_STR_LEN];
	ssize_t n;

	if (!keypair)
		return ignore(p, &p->ignored.unknown_index, "data for an unknown receiver index");
	n = fs_transport_decrypt(keypair, plain, p->in.bytes, len, fs_clock_now());
	if (n == -EALREADY)
		return ignore(p, &p->ignored.replayed, "data message replayed or behind the window");
	if (n < 0)
		return ignore(p, &p->ignored.bad_data, decrypt_error(n));
	set_remote(p, &p->from, p->from_len);
	printf("<- %s from %s (%zu bytes, counter %" PRIu64 "), decrypted OK\n",
	       n ? "data message" : "keepalive", addr_str(from, &p->from), len, counter);
	verbose(p, "for our receiver index 0x%08x", index);
	if (fs_noise_received_with_keypair(p->peer, keypair, p->table))
		printf("   first data message under the new keypair: session confirmed\n");
	if (n == 0) {
		++p->ignored.keepalives;
		return true;
	}
	return consume_echo(p, plain, (size_t)n);
}

static bool consume_datagram(struct probe *p, size_t len)
{
	switch (fs_message_classify(p->in.bytes, len)) {
	case WG_MESSAGE_HANDSHAKE_INITIATION:
		return consume_initiation(p, len);
	case WG_MESSAGE_HANDSHAKE_RESPONSE:
		return consume_response(p, len);
	case WG_MESSAGE_HANDSHAKE_COOKIE:
		return consume_cookie(p);
	case WG_MESSAGE_DATA:
		return consume_data(p, len);
	default:
		return ignore(p, &p->ignored.malformed, "not a WireGuard message");
	}
}

/* --- the data flood ---------------------------------------------------- */

/* Host address host (below 2^(128 - LEN), checked with the options) of the prefix. */
static void source_address(const struct options *opt, uint32_t host, struct in6_addr *out)
{
	*out = opt->source_prefix;
	for (int b = 15; host; --b, host >>= 8)
		out->s6_addr[b] |= (uint8_t)host;
}

/* Sleeps until the nth message is due, at rate per second from start. */
static void pace(uint64_t start, unsigned int n, unsigned int rate)
{
	uint64_t due, now = fs_clock_now();
	struct timespec ts;

	if (!rate)
		return;
	due = start + (uint64_t)n * FS_NSEC_PER_SEC / rate;
	if (due <= now)
		return;
	ts.tv_sec = (time_t)((due - now) / FS_NSEC_PER_SEC);
	ts.tv_nsec = (long)((due - now) % FS_NSEC_PER_SEC);
	nanosleep(&ts, NULL);
}

static void describe_data_flood(const struct probe *p, unsigned int sources, unsigned int flows)
{
	const struct options *opt = p->opt;
	char first[INET6_ADDRSTRLEN], last[INET6_ADDRSTRLEN], src[INET_ADDRSTRLEN],
		dst[INET_ADDRSTRLEN];
	struct in6_addr a;

	if (opt->flood_sources) {
		source_address(opt, 1, &a);
		inet_ntop(AF_INET6, &a, first, sizeof(first));
		source_address(opt, sources, &a);
		inet_ntop(AF_INET6, &a, last, sizeof(last));
		printf("   from %u outer sources, %s to %s, on %u source port%s\n", sources, first,
		       last, p->n_port_fds, p->n_port_fds == 1 ? "" : "s");
	} else {
		printf("   from our own address, on %u source port%s\n", p->n_port_fds,
		       p->n_port_fds == 1 ? "" : "s");
	}
	printf("   carrying %u inner UDP flow%s %s:%u.. -> %s:%u.. (%zu-byte packets)\n", flows,
	       flows == 1 ? "" : "s", inner_str(src, opt->inner_src.s_addr), FLOW_PORT_BASE,
	       inner_str(dst, opt->inner_dst.s_addr), FLOW_PORT_BASE, sizeof(struct flow_packet));
}

/*
 * Message i goes from source i % sources (host address i % sources + 1 of
 * the prefix, on socket i % source_ports) and carries inner flow i % flows,
 * under the current keypair, built and encrypted in place in p->out. Send
 * errors are counted, not fatal: the peer's answer to them is what we
 * measure. False if nothing could be sent.
 */
static bool data_flood(struct probe *p)
{
	const struct options *opt = p->opt;
	unsigned int sources = opt->flood_sources ? opt->flood_sources : 1;
	unsigned int flows = opt->inner_flows ? opt->inner_flows : 1;
	unsigned int total = sources > flows ? sources : flows;
	unsigned int sent = 0, failed = 0;
	int first_error = 0;
	uint64_t bytes = 0, start = fs_clock_now();
	/* Built where fs_transport_encrypt takes it to encrypt in place. */
	struct flow_packet *f = (struct flow_packet *)(p->out.data.encrypted_data);
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} control;
	struct iovec iov = { .iov_base = p->out.bytes };
	struct msghdr msg = {
		.msg_name = &p->remote,
		.msg_namelen = p->remote_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct in6_pktinfo *info = NULL;

	if (opt->flood_sources) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = IPPROTO_IPV6;
		cmsg->cmsg_type = IPV6_PKTINFO;
		cmsg->cmsg_len = CMSG_LEN(sizeof(*info));
		info = (struct in6_pktinfo *)CMSG_DATA(cmsg);
	}
	for (unsigned int i = 0; i < total; ++i) {
		ssize_t n;

		build_flow_packet(p, f, i % flows);
		n = fs_transport_encrypt(p->peer->current, p->out.bytes, sizeof(p->out.bytes), f,
					 sizeof(*f), INNER_MTU, fs_clock_now());
		if (n < 0) {
			fail("cannot encrypt data message %u of the flood: %s", i,
			     strerror((int)-n));
			return false;
		}
		iov.iov_len = (size_t)n;
		if (info)
			source_address(opt, i % sources + 1, &info->ipi6_addr);
		if (sendmsg(p->port_fds[i % p->n_port_fds], &msg, 0) == n) {
			++sent;
			bytes += (uint64_t)n;
		} else if (!failed++) {
			first_error = errno;
		}
		if (i % FLOOD_BURST == FLOOD_BURST - 1)
			pace(start, i + 1, opt->flood_rate);
	}
	printf("-> data flood: %u data messages, %" PRIu64 " bytes, in %.1f ms (%.0f messages/s)\n",
	       sent, bytes, ms_since(start), sent / (ms_since(start) / 1000.0 + 1e-9));
	describe_data_flood(p, sources, flows);
	if (failed)
		printf("   %u not sent, the first for: %s\n", failed, strerror(first_error));
	return sent > 0;
}

/* --- the two modes ----------------------------------------------------- */

/* Sends what is due (an initiation, or the echo request) and when to retry. */
static bool initiator_send(struct probe *p, uint64_t *next)
{
	uint64_t now = fs_clock_now();

	if (now < *next)
		return true;
	*next = now + RETRY_MS * FS_NSEC_PER_MSEC;
	if (!p->established)
		return send_initiation(p);
	if (!p->data_flood_done && (p->opt->flood_sources || p->opt->inner_flows)) {
		p->data_flood_done = true;
		if (!data_flood(p))
			return false;
		now = fs_clock_now();
		*next = now + RETRY_MS * FS_NSEC_PER_MSEC;
	}
	if (p->echo_sent_at)
		printf("   no reply within %d ms, sending the echo request again\n", RETRY_MS);
	else
		++p->echo_seq;
	return send_echo_request(p);
}

static bool run_initiator(struct probe *p)
{
	uint64_t next = 0;

	set_remote(p, &p->opt->endpoint, p->opt->endpoint_len);
	p->echo_id = (uint16_t)randombytes_uniform(65536);
	while (p->echoes_done < p->opt->count && fs_clock_now() < p->deadline) {
		ssize_t n;

		if (p->send_now)
			next = 0;
		p->send_now = false;
		if (!initiator_send(p, &next))
			return false;
		n = receive(p, next < p->deadline ? next : p->deadline);
		if (n >= 0)
			consume_datagram(p, (size_t)n);
	}
	return p->echoes_done == p->opt->count;
}

static bool run_responder(struct probe *p)
{
	printf("<> listening on UDP port %u for a handshake initiation\n", p->opt->listen_port);
	while (p->echoes_done < p->opt->count && fs_clock_now() < p->deadline) {
		ssize_t n = receive(p, p->deadline);

		if (n >= 0)
			consume_datagram(p, (size_t)n);
	}
	return p->echoes_done == p->opt->count;
}

/* --- set-up and tear-down ---------------------------------------------- */

static void print_identity(const struct probe *p)
{
	char ours[KEY_B64_LEN], theirs[KEY_B64_LEN];

	printf("wg-probe %s: our public key %s\n",
	       p->opt->mode == MODE_INITIATOR ? "initiator" : "responder",
	       key_str(ours, p->identity->public_key));
	printf("   peer %s, %s preshared key\n", key_str(theirs, p->opt->peer_public),
	       p->opt->has_preshared_key ? "with a" : "no");
}

static bool probe_init(struct probe *p, const struct options *opt)
{
	memset(p, 0, sizeof(*p));
	p->opt = opt;
	p->fd = -1;
	p->started = fs_clock_now();
	p->deadline = p->started + opt->timeout_s * FS_NSEC_PER_SEC;
	p->table = fs_index_table_new();
	p->identity = fs_noise_identity_new();
	if (!p->table || !p->identity) {
		fail("out of memory");
		return false;
	}
	if (sodium_is_zero(opt->private_key, WG_KEY_LEN)) {
		fail("--private-key: the file holds the all-zero key, which means no key");
		return false;
	}
	if (!fs_noise_identity_set_private(p->identity, opt->private_key)) {
		fail("--private-key: the key's public key is degenerate");
		return false;
	}
	p->peer = fs_noise_peer_new(p->identity, opt->peer_public,
				    opt->has_preshared_key ? opt->preshared_key : NULL, p);
	if (!p->peer) {
		fail("--peer-public: the core refused the peer: %s", strerror(errno));
		return false;
	}
	fs_cookie_checker_init(&p->checker, p->identity->public_key);
	if (opt->flood && !make_junk_initiation(p))
		return false;
	print_identity(p);
	return open_socket(p);
}

static void probe_destroy(struct probe *p)
{
	for (unsigned int i = 1; i < p->n_port_fds; ++i)
		close(p->port_fds[i]);
	free(p->port_fds);
	if (p->fd >= 0)
		close(p->fd);
	if (p->peer)
		fs_noise_peer_free(p->peer, p->table);
	if (p->identity)
		fs_noise_identity_free(p->identity);
	if (p->table)
		fs_index_table_free(p->table);
	sodium_memzero(p, sizeof(*p));
}

static void print_summary(const struct probe *p, bool ok)
{
	const struct ignored *i = &p->ignored;
	unsigned int dropped = i->malformed + i->unexpected + i->bad_mac + i->bad_handshake +
			       i->unknown_index + i->bad_data + i->replayed + i->not_echo;

	printf("%s: %u of %u echo requests answered%s in %.1f ms", ok ? "OK" : "FAILED",
	       p->echoes_done, p->opt->count, p->opt->mode == MODE_INITIATOR ? "" : " by us",
	       ms_since(p->started));
	if (!ok && fs_clock_now() >= p->deadline)
		printf(" (timeout %u s%s)", p->opt->timeout_s,
		       p->established ? "" : ", no handshake completed");
	printf("; %u datagrams ignored", dropped);
	if (dropped)
		printf(" (%u malformed, %u unexpected, %u bad mac1, %u rejected handshakes, "
		       "%u unknown index, %u undecryptable, %u replayed, %u not our echo)",
		       i->malformed, i->unexpected, i->bad_mac, i->bad_handshake,
		       i->unknown_index, i->bad_data, i->replayed, i->not_echo);
	if (i->keepalives)
		printf(", %u keepalives", i->keepalives);
	if (p->cookies_sent)
		printf(", %u cookie replies sent", p->cookies_sent);
	printf("\n");
}

int main(int argc, char *argv[])
{
	static struct options opt;
	static struct probe probe;
	int rc;
	bool ok = false;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		fail("libsodium failed to initialise");
		return 1;
	}
	rc = parse_args(&opt, argc, argv);
	if (rc)
		goto out_options;
	if (probe_init(&probe, &opt)) {
		ok = opt.mode == MODE_INITIATOR ? run_initiator(&probe) : run_responder(&probe);
		print_summary(&probe, ok);
	}
	probe_destroy(&probe);
out_options:
	sodium_memzero(&opt, sizeof(opt));
	if (rc)
		return rc > 0 ? 0 : 2;
	return ok ? 0 : 1;
}
