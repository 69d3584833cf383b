/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "netlink.h"

/* Room for the attributes of routes, rules and addresses alike. */
#define ATTR_MAX (RTA_MAX > FRA_MAX ? RTA_MAX : FRA_MAX)
_Static_assert(IFA_MAX <= ATTR_MAX, "tb[] too small for addresses");

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

enum {
	REQUEST_SIZE = 512,
	DUMP_SIZE = 32768,	/* libmnl's MNL_SOCKET_DUMP_SIZE, newer than 1.0.4 */
};

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
};

static int nl_open(struct nl *nl)
{
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID)) {
		int ret = -errno;

		mnl_socket_close(nl->sock);
		return ret;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	mnl_socket_close(nl->sock);
}

/* Sends nlh and runs cb over the answers until the ACK or the dump's end. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[DUMP_SIZE] __attribute__((aligned(4)));
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nl->seq, nl->portid, cb, data);
	} while (ret == MNL_CB_OK);
	return ret == MNL_CB_ERROR ? -errno : 0;
}

/* A change: one request, its ACK read and checked. */
static int nl_request(struct nl *nl, struct nlmsghdr *nlh)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return nl_talk(nl, nlh, NULL, NULL);
}

static int nl_dump(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	return nl_talk(nl, nlh, cb, data);
}

/* --- the guard's entries ----------------------------------------------------- */

uint32_t fs_guard_table(const char *ifname)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const unsigned char *c = (const unsigned char *)ifname; *c; c++)
		h = (h ^ *c) * 16777619u;
	return FS_GUARD_TABLE_BASE | ((h >> 16) ^ (h & 0xffff));
}

static unsigned int family_bytes(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* The steps of an install, in order: none exposes P before the next. */
enum step {
	STEP_UNREACHABLE,	/* unreachable P in main */
	STEP_LOCAL,		/* local P dev lo in T */
	STEP_ICMP,		/* rule: ICMP(v6) to P, lookup T */
	STEP_UDP,		/* rules: UDP to P and a port range, lookup T; one per range */
};

static unsigned int step_count(const struct fs_guard *guard)
{
	return STEP_UDP + guard->n_ranges;
}

static struct nlmsghdr *route_msg(char *buf, const struct fs_guard *guard,
				  const struct fs_prefix *p, bool add, bool local)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	uint32_t table = fs_guard_table(guard->ifname);

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	rtm->rtm_family = (unsigned char)p->family;
	rtm->rtm_dst_len = p->cidr;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = FS_GUARD_PROTO;
	rtm->rtm_scope = local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	rtm->rtm_type = local ? RTN_LOCAL : RTN_UNREACHABLE;
	mnl_attr_put(nlh, RTA_DST, family_bytes(p->family), p->addr.bytes);
	if (local) {
		mnl_attr_put_u32(nlh, RTA_TABLE, table);
		mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	} else {
		mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
		mnl_attr_put_u32(nlh, RTA_PRIORITY, table);	/* marks it ours */
	}
	return nlh;
}

static struct nlmsghdr *rule_msg(char *buf, const struct fs_guard *guard,
				 const struct fs_prefix *p, bool add,
				 const struct fs_port_range *range)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	uint8_t icmp = p->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	frh->family = (unsigned char)p->family;
	frh->dst_len = p->cidr;
	frh->table = RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, fs_guard_table(guard->ifname));
	mnl_attr_put_u32(nlh, FRA_PRIORITY, range ? FS_GUARD_PRIO_UDP : FS_GUARD_PRIO_ICMP);
	mnl_attr_put(nlh, FRA_DST, family_bytes(p->family), p->addr.bytes);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, FS_GUARD_PROTO);
	mnl_attr_put_u8(nlh, FRA_IP_PROTO, range ? IPPROTO_UDP : icmp);
	if (range) {
		struct fib_rule_port_range ports = { .start = range->low, .end = range->high };

		mnl_attr_put(nlh, FRA_DPORT_RANGE, sizeof(ports), &ports);
	}
	return nlh;
}

static struct nlmsghdr *step_msg(char *buf, const struct fs_guard *guard,
				 const struct fs_prefix *p, unsigned int step, bool add)
{
	switch (step) {
	case STEP_UNREACHABLE:
		return route_msg(buf, guard, p, add, false);
	case STEP_LOCAL:
		return route_msg(buf, guard, p, add, true);
	case STEP_ICMP:
		return rule_msg(buf, guard, p, add, NULL);
	default:
		return rule_msg(buf, guard, p, add, &guard->ranges[step - STEP_UDP]);
	}
}

static const char *step_name(const struct fs_guard *guard, unsigned int step,
			     char *out, size_t len)
{
	const char *icmp = guard->prefix.family == AF_INET6 ? "ICMPv6" : "ICMP";

	switch (step) {
	case STEP_UNREACHABLE:
		snprintf(out, len, "the unreachable route in table main");
		break;
	case STEP_LOCAL:
		snprintf(out, len, "the local route in table %u", fs_guard_table(guard->ifname));
		break;
	case STEP_ICMP:
		snprintf(out, len, "the %s rule", icmp);
		break;
	default:
		snprintf(out, len, "the rule for UDP ports %u-%u",
			 guard->ranges[step - STEP_UDP].low, guard->ranges[step - STEP_UDP].high);
	}
	return out;
}

static bool guard_valid(const struct fs_guard *guard, char *err, size_t errlen)
{
	char text[FS_PREFIX_STRLEN];

	if (guard->prefix.family != AF_INET6 && guard->prefix.family != AF_INET)
		return fs_fail(err, errlen, "the guarded prefix is neither IPv4 nor IPv6");
	if (guard->prefix.cidr == 0 || guard->prefix.cidr > family_bytes(guard->prefix.family) * 8)
		return fs_fail(err, errlen, "cannot guard %s: expected a length from 1 to %u",
			       fs_prefix_format(text, &guard->prefix),
			       family_bytes(guard->prefix.family) * 8);
	if (!guard->ifname[0] || guard->n_ranges > FS_GUARD_MAX_RANGES)
		return fs_fail(err, errlen, "cannot guard %s: %s",
			       fs_prefix_format(text, &guard->prefix),
			       guard->ifname[0] ? "too many port ranges" : "no interface name");
	for (unsigned int i = 0; i < guard->n_ranges; i++)
		if (!guard->ranges[i].low || guard->ranges[i].low > guard->ranges[i].high)
			return fs_fail(err, errlen, "cannot guard %s: invalid port range %u-%u",
				       fs_prefix_format(text, &guard->prefix),
				       guard->ranges[i].low, guard->ranges[i].high);
	return true;
}

/* Undoes steps [0, done) backwards; stops at nothing; the first error, or 0. */
static int undo_steps(struct nl *nl, const struct fs_guard *guard,
		      const struct fs_prefix *p, unsigned int done, unsigned int *failed)
{
	char buf[REQUEST_SIZE] __attribute__((aligned(4)));
	int first = 0, ret;

	while (done--) {
		ret = nl_request(nl, step_msg(buf, guard, p, done, false));
		if (ret == -ENOENT || ret == -ESRCH)	/* someone removed it already */
			ret = 0;
		if (ret && !first) {
			first = ret;
			*failed = done;
		}
	}
	return first;
}

int fs_guard_install(struct fs_guard *guard, char *err, size_t errlen)
{
	char buf[REQUEST_SIZE] __attribute__((aligned(4)));
	char text[FS_PREFIX_STRLEN], what[64];
	struct fs_prefix p = guard->prefix;
	unsigned int step, failed;
	struct nl nl;
	int ret;

	guard->installed = 0;
	if (!guard_valid(guard, err, errlen))
		return -EINVAL;
	fs_prefix_mask(&p);
	fs_prefix_format(text, &p);
	ret = nl_open(&nl);
	if (ret) {
		fs_fail(err, errlen, "cannot guard %s: rtnetlink: %s", text, strerror(-ret));
		return ret;
	}
	for (step = 0; step < step_count(guard); step++) {
		ret = nl_request(&nl, step_msg(buf, guard, &p, step, true));
		if (ret)
			break;
	}
	if (ret) {
		fs_fail(err, errlen, "cannot guard %s of %s: adding %s: %s", text, guard->ifname,
			step_name(guard, step, what, sizeof(what)), strerror(-ret));
		undo_steps(&nl, guard, &p, step, &failed);
	} else {
		guard->installed = step;
	}
	nl_close(&nl);
	return ret;
}

int fs_guard_remove(struct fs_guard *guard, char *err, size_t errlen)
{
	char text[FS_PREFIX_STRLEN], what[64];
	struct fs_prefix p = guard->prefix;
	unsigned int failed = 0;
	struct nl nl;
	int ret;

	if (!guard->installed)
		return 0;
	fs_prefix_mask(&p);
	fs_prefix_format(text, &p);
	ret = nl_open(&nl);
	if (ret) {
		fs_fail(err, errlen, "cannot remove the guard of %s: rtnetlink: %s", text,
			strerror(-ret));
		return ret;
	}
	ret = undo_steps(&nl, guard, &p, guard->installed, &failed);
	nl_close(&nl);
	if (ret)
		fs_fail(err, errlen, "cannot remove the guard of %s of %s: deleting %s: %s", text,
			guard->ifname, step_name(guard, failed, what, sizeof(what)), strerror(-ret));
	guard->installed = 0;
	return ret;
}

/* --- cleanup: find ours in dumps, delete each by sending it back ------------- */

struct found {
	struct nlmsghdr **msgs;
	unsigned int n, cap;
	uint32_t table;
	bool nomem;
};

static void keep(struct found *f, const struct nlmsghdr *nlh)
{
	struct nlmsghdr *copy;

	if (f->n == f->cap) {
		unsigned int cap = f->cap ? f->cap * 2 : 8;
		struct nlmsghdr **msgs = realloc(f->msgs, cap * sizeof(*msgs));

		if (!msgs) {
			f->nomem = true;
			return;
		}
		f->msgs = msgs;
		f->cap = cap;
	}
	copy = malloc(nlh->nlmsg_len);
	if (!copy) {
		f->nomem = true;
		return;
	}
	memcpy(copy, nlh, nlh->nlmsg_len);
	f->msgs[f->n++] = copy;
}

static void found_free(struct found *f)
{
	for (unsigned int i = 0; i < f->n; i++)
		free(f->msgs[i]);
	free(f->msgs);
}

/* Fills tb[type], tb having ATTR_MAX + 1 entries. */
static int attr_index(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= ATTR_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static uint32_t attr_u32(const struct nlattr *attr, uint32_t missing)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_U32))
		return missing;
	return mnl_attr_get_u32(attr);
}

static int rule_found(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_MAX + 1] = { NULL };
	struct found *f = data;
	uint32_t prio;

	if (nlh->nlmsg_type != RTM_NEWRULE ||
	    mnl_attr_parse(nlh, sizeof(*frh), attr_index, tb) < 0)
		return MNL_CB_OK;
	prio = attr_u32(tb[FRA_PRIORITY], 0);
	if (prio >= FS_GUARD_PRIO_FIRST && prio <= FS_GUARD_PRIO_LAST &&
	    attr_u32(tb[FRA_TABLE], frh->table) == f->table)
		keep(f, nlh);
	return MNL_CB_OK;
}

static int route_found(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_MAX + 1] = { NULL };
	struct found *f = data;
	uint32_t table;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_attr_parse(nlh, sizeof(*rtm), attr_index, tb) < 0)
		return MNL_CB_OK;
	table = attr_u32(tb[RTA_TABLE], rtm->rtm_table);
	if (table == f->table ||
	    (table == RT_TABLE_MAIN && rtm->rtm_type == RTN_UNREACHABLE &&
	     rtm->rtm_protocol == FS_GUARD_PROTO && attr_u32(tb[RTA_PRIORITY], 0) == f->table))
		keep(f, nlh);
	return MNL_CB_OK;
}

static int dump_ours(struct nl *nl, struct found *f, uint16_t type)
{
	char buf[REQUEST_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int ret;

	nlh->nlmsg_type = type;
	if (type == RTM_GETRULE) {
		struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

		frh->family = AF_UNSPEC;
		ret = nl_dump(nl, nlh, rule_found, f);
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

		rtm->rtm_family = AF_UNSPEC;
		ret = nl_dump(nl, nlh, route_found, f);
	}
	return ret ? ret : f->nomem ? -ENOMEM : 0;
}

/* Rules first, so the local route is never reachable without its guard. */
static int delete_ours(struct nl *nl, const struct found *f, uint16_t type)
{
	int first = 0, ret;

	for (unsigned int i = 0; i < f->n; i++) {
		f->msgs[i]->nlmsg_type = type;
		f->msgs[i]->nlmsg_flags = 0;
		ret = nl_request(nl, f->msgs[i]);
		if (ret && ret != -ENOENT && ret != -ESRCH && !first)
			first = ret;
	}
	return first;
}

int fs_guard_cleanup(const char *ifname, char *err, size_t errlen)
{
	struct found rules = { .table = fs_guard_table(ifname) };
	struct found routes = { .table = rules.table };
	const char *what = "rtnetlink";
	struct nl nl;
	int ret;

	ret = nl_open(&nl);
	if (ret)
		goto out;
	what = "dumping the rules";
	ret = dump_ours(&nl, &rules, RTM_GETRULE);
	if (ret)
		goto out_close;
	what = "deleting a rule";
	ret = delete_ours(&nl, &rules, RTM_DELRULE);
	if (ret)
		goto out_close;
	what = "dumping the routes";
	ret = dump_ours(&nl, &routes, RTM_GETROUTE);
	if (ret)
		goto out_close;
	what = "deleting a route";
	ret = delete_ours(&nl, &routes, RTM_DELROUTE);
out_close:
	nl_close(&nl);
out:
	if (ret)
		fs_fail(err, errlen, "cannot clean up the guard of %s (table %u): %s: %s", ifname,
			rules.table, what, strerror(-ret));
	found_free(&rules);
	found_free(&routes);
	return ret;
}

/* --- the overlap check ------------------------------------------------------ */

struct overlap {
	const struct fs_prefix *prefix;
	char *err;
	size_t errlen;
	bool found;
};

static void overlap_report(struct overlap *o, const char *what, const void *addr,
			   unsigned int len, const char *how, uint32_t ifindex)
{
	char text[FS_PREFIX_STRLEN], other[FS_PREFIX_STRLEN], dev[IF_NAMESIZE] = "?";
	struct fs_prefix q = { .family = o->prefix->family, .cidr = (uint8_t)len };

	memcpy(q.addr.bytes, addr, family_bytes(q.family));
	if (o->found || !fs_prefix_overlap(o->prefix, &q))
		return;
	o->found = true;
	if (!if_indextoname(ifindex, dev))
		snprintf(dev, sizeof(dev), "%u", ifindex);
	fs_fail(o->err, o->errlen,
		"spread prefix %s overlaps %s %s %s %s, and `local %s' would override it",
		fs_prefix_format(text, o->prefix), what, fs_prefix_format(other, &q), how, dev,
		text);
}

static const void *attr_addr(const struct nlattr *attr, int family)
{
	if (!attr || mnl_attr_get_payload_len(attr) < family_bytes(family))
		return NULL;
	return mnl_attr_get_payload(attr);
}

static int addr_overlap(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_MAX + 1] = { NULL };
	struct overlap *o = data;
	const void *addr;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != o->prefix->family ||
	    mnl_attr_parse(nlh, sizeof(*ifa), attr_index, tb) < 0)
		return MNL_CB_OK;
	/* IPv4 point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer's. */
	addr = attr_addr(tb[IFA_LOCAL], ifa->ifa_family);
	if (addr)
		overlap_report(o, "the address", addr, ifa->ifa_prefixlen, "assigned to",
			       ifa->ifa_index);
	addr = attr_addr(tb[IFA_ADDRESS], ifa->ifa_family);
	if (addr)
		overlap_report(o, "the address", addr, ifa->ifa_prefixlen, "assigned to",
			       ifa->ifa_index);
	return MNL_CB_OK;
}

/* Does a multipath route have a nexthop without a gateway? */
static bool multipath_onlink(const struct nlattr *mp, uint32_t *ifindex)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(mp);
	int left = (int)mnl_attr_get_payload_len(mp);

	for (; left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left;
	     left -= RTNH_ALIGN(nh->rtnh_len), nh = RTNH_NEXT(nh)) {
		const struct nlattr *attr = (const struct nlattr *)RTNH_DATA(nh);
		int attrs = nh->rtnh_len - (int)sizeof(*nh);
		bool gateway = false;

		for (; mnl_attr_ok(attr, attrs); attr = mnl_attr_next(attr)) {
			attrs -= (int)NLA_ALIGN(attr->nla_len);
			if (mnl_attr_get_type(attr) == RTA_GATEWAY || mnl_attr_get_type(attr) == RTA_VIA)
				gateway = true;
		}
		if (!gateway) {
			*ifindex = (uint32_t)nh->rtnh_ifindex;
			return true;
		}
	}
	return false;
}

static int route_overlap(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_MAX + 1] = { NULL };
	struct overlap *o = data;
	uint32_t ifindex;
	const void *dst;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != o->prefix->family ||
	    rtm->rtm_type != RTN_UNICAST || rtm->rtm_dst_len == 0 ||
	    mnl_attr_parse(nlh, sizeof(*rtm), attr_index, tb) < 0 ||
	    attr_u32(tb[RTA_TABLE], rtm->rtm_table) != RT_TABLE_MAIN ||
	    tb[RTA_GATEWAY] || tb[RTA_VIA])
		return MNL_CB_OK;
	ifindex = attr_u32(tb[RTA_OIF], 0);
	if (tb[RTA_MULTIPATH] && !multipath_onlink(tb[RTA_MULTIPATH], &ifindex))
		return MNL_CB_OK;
	dst = attr_addr(tb[RTA_DST], rtm->rtm_family);
	if (dst)
		overlap_report(o, "the on-link route", dst, rtm->rtm_dst_len, "dev", ifindex);
	return MNL_CB_OK;
}

int fs_guard_check(const struct fs_prefix *prefix, char *err, size_t errlen)
{
	char buf[REQUEST_SIZE] __attribute__((aligned(4)));
	struct overlap o = { .prefix = prefix, .err = err, .errlen = errlen };
	char text[FS_PREFIX_STRLEN];
	struct nlmsghdr *nlh;
	struct nl nl;
	int ret;

	ret = nl_open(&nl);
	if (ret)
		goto fail;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	((struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg)))
		->ifa_family = (unsigned char)prefix->family;
	ret = nl_dump(&nl, nlh, addr_overlap, &o);
	if (!ret && !o.found) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETROUTE;
		((struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg)))
			->rtm_family = (unsigned char)prefix->family;
		ret = nl_dump(&nl, nlh, route_overlap, &o);
	}
	nl_close(&nl);
	if (ret)
		goto fail;
	return o.found ? -EADDRINUSE : 0;
fail:
	fs_fail(err, errlen, "cannot check spread prefix %s against the host's addresses: %s",
		fs_prefix_format(text, prefix), strerror(-ret));
	return ret;
}

int fs_guard_set_freebind(int fd, int family)
{
	int one = 1;

	if (family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one))
			       : setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)))
		return -errno;
	return 0;
}
