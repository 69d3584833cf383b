// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadd: command line and environment as wireguard-go's, start-up in
 * order, the control loop, and tear-down backwards.
 *
 *   flowspreadd [-f|--foreground] [--workers N] INTERFACE-NAME
 *
 * The TUN device and the UAPI socket are made before daemonizing, so that
 * when the command returns both exist and `wg` can configure the interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>
#include "clock.h"
#include "device.h"
#include "log.h"
#include "secmem.h"
#include "tun.h"
#include "uapi.h"

enum {
	TAG_SIGNAL = 1,
	TAG_UAPI_LISTEN,
	TAG_UAPI_CONN,
	TAG_NETLINK,
	TAG_INOTIFY,
	TAG_KICK,
	TAG_TIMER,
};

struct daemon_state {
	struct fs_device dev;
	char ifname[IFNAMSIZ];
	char uapi_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int uapi_fd, tun_fd, epoll_fd, signal_fd, netlink_fd, inotify_fd, timer_fd;
	ino_t uapi_ino;			/* ours, so we never unlink a successor's socket */
	bool foreground;
	bool vnet_hdr;
	unsigned int workers;
	bool quit;
	const char *quit_reason;
	struct epoll_tag *fixed_tags[8];	/* of the fds above, freed at exit */
	unsigned int n_fixed_tags;
	unsigned int n_conns;			/* open UAPI connections */
};

struct epoll_tag {
	int tag;
	struct fs_uapi_conn *conn;
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: flowspreadd [-f/--foreground] [--workers N] [--key-memory SIZE] INTERFACE-NAME\n"
		     "       flowspreadd --version\n\n"
		     "Environment: WG_PROCESS_FOREGROUND=1, WG_TUN_FD=FD, WG_UAPI_FD=FD,\n"
		     "LOG_LEVEL=verbose|debug|error|silent, FLOWSPREAD_WORKERS=N,\n"
		     "FLOWSPREAD_KEY_MEMORY=SIZE.\n");
}

static bool valid_ifname(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; ++p)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static bool parse_fd(const char *var, int *fd)
{
	const char *text = getenv(var);
	char *end;
	long value;

	*fd = -1;
	if (!text)
		return true;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || end == text || value < 0 || value > 1 << 20 ||
	    fcntl((int)value, F_GETFD) < 0) {
		fprintf(stderr, "flowspreadd: %s=\"%s\": expected an open file descriptor number\n",
			var, text);
		return false;
	}
	*fd = (int)value;
	return true;
}

static bool parse_workers(const char *text, const char *what, unsigned int *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || end == text || value < 1 || value > FS_MAX_WORKERS) {
		fprintf(stderr, "flowspreadd: %s \"%s\": expected a number of workers from 1 to %d\n",
			what, text, FS_MAX_WORKERS);
		return false;
	}
	*out = (unsigned int)value;
	return true;
}

/* A size in bytes, with an optional K, M or G suffix (powers of 1024); 0 is no limit. */
static bool parse_key_memory(const char *text, const char *what)
{
	unsigned long long value;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (*end && !end[1])
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 64;
	if (errno || end == text || *text == '-' || (*end && (!shift || shift == 64 || end[1])) ||
	    value > (SIZE_MAX >> 30)) {
		fprintf(stderr, "flowspreadd: %s \"%s\": expected a size in bytes, with K, M or G after it if you like (0: no limit)\n",
			what, text);
		return false;
	}
	fs_secmem_set_limit((size_t)value << shift);
	return true;
}

/* Returns 0 to go on, or the exit status. */
static int parse_args(struct daemon_state *st, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "workers", required_argument, NULL, 'w' },
		{ "key-memory", required_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *env;
	int c;

	st->workers = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (st->workers < 1)
		st->workers = 1;
	if (st->workers > FS_MAX_WORKERS)
		st->workers = FS_MAX_WORKERS;
	env = getenv("FLOWSPREAD_WORKERS");
	if (env && !parse_workers(env, "FLOWSPREAD_WORKERS", &st->workers))
		return 1;
	env = getenv("FLOWSPREAD_KEY_MEMORY");
	if (env && *env && !parse_key_memory(env, "FLOWSPREAD_KEY_MEMORY"))
		return 1;
	env = getenv("WG_PROCESS_FOREGROUND");
	st->foreground = env && !strcmp(env, "1");
	/* As wireguard-go, an unknown level means error; we say so and go on. */
	if (!fs_log_set_level(getenv("LOG_LEVEL")))
		fprintf(stderr, "flowspreadd: warning: LOG_LEVEL=\"%s\": expected verbose, debug, error or silent; logging errors only\n",
			getenv("LOG_LEVEL"));
	while ((c = getopt_long(argc, argv, "fh", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			st->foreground = true;
			break;
		case 'w':
			if (!parse_workers(optarg, "--workers", &st->workers))
				return 1;
			break;
		case 'k':
			if (!parse_key_memory(optarg, "--key-memory"))
				return 1;
			break;
		case 'v':
			printf("flowspreadd %s\n", PACKAGE_VERSION);
			return -1;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	if (!valid_ifname(argv[optind])) {
		fprintf(stderr, "flowspreadd: interface name \"%s\": expected 1 to %d characters, without '/', ':' or spaces\n",
			argv[optind], IFNAMSIZ - 1);
		return 1;
	}
	snprintf(st->ifname, sizeof(st->ifname), "%s", argv[optind]);
	return 0;
}

/* Returns whether the device is multi-queue, or -errno with msg saying why not. */
static int open_tun(struct daemon_state *st, char *msg, size_t msglen)
{
	bool multi_queue = true;
	int fd, ret;

	*msg = '\0';
	if (!parse_fd("WG_TUN_FD", &fd))
		return -EINVAL;		/* it said why */
	if (fd >= 0) {
		ret = fs_tun_describe(fd, st->ifname, &multi_queue, &st->vnet_hdr);
		if (ret) {
			snprintf(msg, msglen, "WG_TUN_FD=%d: expected a TUN device: %s", fd,
				 strerror(-ret));
			return ret;
		}
	} else {
		fd = fs_tun_open_queue(st->ifname, true, true, msg, msglen);
		if (fd < 0)
			return fd;
		st->vnet_hdr = true;
		ret = fs_tun_set_mtu(st->ifname, FS_DEFAULT_MTU);
		if (ret)
			fs_log_error("cannot set the MTU of %s to %d: %s", st->ifname, FS_DEFAULT_MTU,
				     strerror(-ret));
	}
	/* Without offloads the vnet header stays, always empty: harmless. */
	if (st->vnet_hdr && (ret = fs_tun_enable_offloads(fd)))
		fs_log_error("cannot enable TUN offloads on %s: %s", st->ifname, strerror(-ret));
	st->tun_fd = fd;
	return multi_queue ? 1 : 0;
}

static void quit_signals(sigset_t *mask);

/*
 * Double fork: the daemon is nobody's child, and the parent reaps the
 * middle one. The parent then waits on a pipe until the daemon says it is
 * running (or dies), so the command's exit status tells whether it started.
 * Returns in the daemon with *ready_fd, the pipe's write end.
 */
static int daemonize(int *ready_fd)
{
	int fds[2], status;
	char ok;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		sigset_t mask;

		/* The waiting parent may be interrupted as any command. */
		quit_signals(&mask);
		pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
		close(fds[1]);
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			exit(1);
		exit(read(fds[0], &ok, 1) == 1 && ok == 0 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/"))
		_exit(1);
	*ready_fd = fds[1];
	return 0;
}

/* Once running: tell the waiting parent, let go of the terminal, log to syslog. */
static void detach(const char *ifname, int ready_fd)
{
	char ok = 0;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	fs_log_init(ifname, true);
	if (write(ready_fd, &ok, 1) != 1)
		fs_log_error("cannot tell the parent we started: %s", strerror(errno));
	close(ready_fd);
}

static int epoll_add(struct daemon_state *st, int fd, uint32_t events, int tag,
		     struct fs_uapi_conn *conn)
{
	struct epoll_tag *t = malloc(sizeof(*t));
	struct epoll_event ev = { .events = events };

	if (!t)
		return -ENOMEM;
	t->tag = tag;
	t->conn = conn;
	ev.data.ptr = t;
	if (epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		free(t);
		return -errno;
	}
	if (!conn)
		st->fixed_tags[st->n_fixed_tags++] = t;
	return 0;
}

static int open_netlink(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int link_attr(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == IFLA_MTU && !mnl_attr_validate(attr, MNL_TYPE_U32))
		*(unsigned int *)data = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int link_event(const struct nlmsghdr *nlh, void *data)
{
	struct daemon_state *st = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	unsigned int mtu = 0;

	if (ifi->ifi_index != st->dev.ifindex)
		return MNL_CB_OK;
	if (nlh->nlmsg_type == RTM_DELLINK) {
		st->quit = true;
		st->quit_reason = "the interface was deleted";
	} else if (nlh->nlmsg_type == RTM_NEWLINK) {
		mnl_attr_parse(nlh, sizeof(*ifi), link_attr, &mtu);
		if (mtu)
			__atomic_store_n(&st->dev.mtu, mtu, __ATOMIC_RELAXED);
	}
	return MNL_CB_OK;
}

static void read_netlink(struct daemon_state *st)
{
	char buf[8192] __attribute__((aligned(4)));
	ssize_t n;

	while ((n = recv(st->netlink_fd, buf, sizeof(buf), 0)) > 0)
		mnl_cb_run(buf, (size_t)n, 0, 0, link_event, st);
	/* A deleted TUN also shows up as ENOENT on its index. */
	if (if_nametoindex(st->ifname) != (unsigned int)st->dev.ifindex && !st->quit) {
		st->quit = true;
		st->quit_reason = "the interface was deleted";
	}
}

static void read_inotify(struct daemon_state *st)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat sb;

	while (read(st->inotify_fd, buf, sizeof(buf)) > 0)
		;
	if (lstat(st->uapi_path, &sb) && errno == ENOENT) {
		st->quit = true;
		st->quit_reason = "the UAPI socket was removed";
	}
}

static void accept_uapi(struct daemon_state *st)
{
	for (;;) {
		int fd = accept4(st->uapi_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct fs_uapi_conn *conn;

		if (fd < 0)
			return;
		if (st->n_conns >= FS_UAPI_MAX_CONNS) {
			fs_log_error("UAPI: %u connections open already; closing a new one",
				     st->n_conns);
			close(fd);
			continue;
		}
		conn = calloc(1, sizeof(*conn));
		if (!conn) {
			close(fd);
			continue;
		}
		conn->fd = fd;
		if (epoll_add(st, fd, EPOLLIN, TAG_UAPI_CONN, conn))
			fs_uapi_conn_free(conn);
		else
			++st->n_conns;
	}
}

static void close_conn(struct daemon_state *st, struct epoll_tag *tag)
{
	epoll_ctl(st->epoll_fd, EPOLL_CTL_DEL, tag->conn->fd, NULL);
	fs_uapi_conn_free(tag->conn);
	free(tag);
	--st->n_conns;
}

/*
 * Either readable or writable, never both: while an answer waits to be
 * written (or a request read ahead waits for its turn), the client is not
 * read from. No EPOLLRDHUP: a client that shut down its side after its
 * requests still gets its answers (the read then sees the end).
 */
static void serve_conn(struct daemon_state *st, struct epoll_tag *tag)
{
	struct fs_uapi_conn *conn = tag->conn;
	struct epoll_event ev = { .data.ptr = tag };

	switch (fs_uapi_conn_serve(conn, &st->dev)) {
	case FS_UAPI_CLOSE:
		close_conn(st, tag);
		return;
	case FS_UAPI_WANT_READ:
		ev.events = EPOLLIN;
		break;
	case FS_UAPI_WANT_WRITE:
		ev.events = EPOLLOUT;
		break;
	}
	epoll_ctl(st->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void arm_timerfd(struct daemon_state *st, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	if (deadline != UINT64_MAX) {
		if (!deadline)
			deadline = 1;
		its.it_value.tv_sec = (time_t)(deadline / FS_NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(deadline % FS_NSEC_PER_SEC);
	}
	timerfd_settime(st->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void run_timers(struct daemon_state *st)
{
	uint64_t next;

	pthread_mutex_lock(&st->dev.lock);
	next = fs_timers_run(&st->dev, fs_clock_now());
	pthread_mutex_unlock(&st->dev.lock);
	arm_timerfd(st, next);
}

static void control_loop(struct daemon_state *st)
{
	struct epoll_event events[32];

	while (!st->quit) {
		int n = epoll_wait(st->epoll_fd, events, 32, -1);

		if (n < 0 && errno != EINTR) {
			fs_log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n && !st->quit; ++i) {
			struct epoll_tag *tag = events[i].data.ptr;
			uint64_t value;

			switch (tag->tag) {
			case TAG_SIGNAL: {
				struct signalfd_siginfo info;

				if (read(st->signal_fd, &info, sizeof(info)) == sizeof(info)) {
					st->quit = true;
					st->quit_reason = strsignal((int)info.ssi_signo);
				}
				break;
			}
			case TAG_UAPI_LISTEN:
				accept_uapi(st);
				break;
			case TAG_UAPI_CONN:
				serve_conn(st, tag);
				break;
			case TAG_NETLINK:
				read_netlink(st);
				break;
			case TAG_INOTIFY:
				read_inotify(st);
				break;
			case TAG_KICK:
				while (read(st->dev.kick_fd, &value, sizeof(value)) > 0)
					;
				if (__atomic_load_n(&st->dev.tun_gone, __ATOMIC_ACQUIRE)) {
					st->quit = true;
					st->quit_reason = "the interface was deleted";
					break;
				}
				fs_device_process_handshakes(&st->dev);
				fs_device_process_stale_sources(&st->dev);
				break;
			case TAG_TIMER:
				while (read(st->timer_fd, &value, sizeof(value)) > 0)
					;
				break;
			}
		}
		run_timers(st);
	}
}

static void quit_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
}

static int setup_control(struct daemon_state *st)
{
	sigset_t mask;
	int ret;

	quit_signals(&mask);
	st->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	st->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	st->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	st->netlink_fd = open_netlink();
	if (st->signal_fd < 0 || st->epoll_fd < 0 || st->timer_fd < 0 || st->netlink_fd < 0)
		return -errno;
	/* Deleted before we listened for link events? Then no event will tell us. */
	if (if_nametoindex(st->ifname) != (unsigned int)st->dev.ifindex) {
		st->quit = true;
		st->quit_reason = "the interface was deleted";
	}
	if ((ret = epoll_add(st, st->signal_fd, EPOLLIN, TAG_SIGNAL, NULL)) ||
	    (ret = epoll_add(st, st->uapi_fd, EPOLLIN, TAG_UAPI_LISTEN, NULL)) ||
	    (ret = epoll_add(st, st->netlink_fd, EPOLLIN, TAG_NETLINK, NULL)) ||
	    (ret = epoll_add(st, st->inotify_fd, EPOLLIN, TAG_INOTIFY, NULL)) ||
	    (ret = epoll_add(st, st->dev.kick_fd, EPOLLIN, TAG_KICK, NULL)) ||
	    (ret = epoll_add(st, st->timer_fd, EPOLLIN, TAG_TIMER, NULL)))
		return ret;
	return 0;
}

/* The workers still run: every counter is read atomically. */
#define DROPS(field) (unsigned long long)__atomic_load_n(&d->field, __ATOMIC_RELAXED)
static void log_drops(struct fs_device *dev)
{
	const struct fs_drop_stats *d = &dev->drops;

	fs_log_verbose("dropped: %llu malformed, %llu unknown index, %llu bad mac, %llu replayed, "
		       "%llu expired key, %llu source not allowed, %llu no route, %llu no endpoint, "
		       "%llu handshake queue full, %llu invalid handshake, %llu rate limited, "
		       "%llu truncated, %llu send errors",
		       DROPS(malformed), DROPS(unknown_index), DROPS(bad_mac), DROPS(replayed),
		       DROPS(expired_key), DROPS(source_not_allowed), DROPS(no_route),
		       DROPS(no_endpoint), DROPS(handshake_queue_full), DROPS(handshake_invalid),
		       DROPS(ratelimited), DROPS(truncated), DROPS(send_errors));
}
#undef DROPS

static void close_fds(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; ++i)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int open_queues(struct daemon_state *st, bool multi_queue)
{
	struct fs_device *dev = &st->dev;

	dev->tun_fds[0] = st->tun_fd;
	dev->n_tun_fds = 1;
	dev->vnet_hdr = st->vnet_hdr;
	if (!multi_queue)
		return 0;
	for (unsigned int i = 1; i < dev->n_workers; ++i) {
		char name[IFNAMSIZ], msg[FS_ERRLEN];
		int fd;

		memcpy(name, st->ifname, IFNAMSIZ);
		fd = fs_tun_open_queue(name, true, st->vnet_hdr, msg, sizeof(msg));
		if (fd < 0) {
			fs_log_error("opening queue %u of %s: %s", i, st->ifname, msg);
			return fd;
		}
		dev->tun_fds[dev->n_tun_fds++] = fd;
	}
	return 0;
}

/*
 * Ports mode holds a socket per port of spread_ports (up to 1024) and
 * registers them in each worker's ring: the usual soft limit of 1024
 * descriptors is too small, the hard one is not.
 */
static void raise_fd_limit(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) || lim.rlim_cur >= lim.rlim_max)
		return;
	lim.rlim_cur = lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim))
		fs_log_error("cannot raise the open file limit to %llu: %s",
			     (unsigned long long)lim.rlim_max, strerror(errno));
}

int main(int argc, char *argv[])
{
	struct daemon_state st = { .uapi_fd = -1, .tun_fd = -1, .epoll_fd = -1, .signal_fd = -1,
				   .netlink_fd = -1, .inotify_fd = -1, .timer_fd = -1 };
	bool multi_queue;
	int ret, status = 1, ready_fd = -1;
	sigset_t mask;

	ret = parse_args(&st, argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret;
	/*
	 * Blocked from the start (and so in every thread): a signal that comes
	 * while we set up waits for the signalfd and ends in a clean exit.
	 */
	quit_signals(&mask);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0) {
		fprintf(stderr, "flowspreadd: libsodium failed to initialise\n");
		return 1;
	}
	fs_log_init(st.ifname, false);

	/* Before touching the TUN device: it may be a running daemon's. */
	if (!getenv("WG_UAPI_FD") && fs_uapi_probe(st.ifname) == -EADDRINUSE) {
		fprintf(stderr, "flowspreadd: another daemon serves %s (%s/%s.sock answers)\n",
			st.ifname, FS_UAPI_DIR, st.ifname);
		return 1;
	}
	{
		char msg[FS_ERRLEN];

		ret = open_tun(&st, msg, sizeof(msg));
		if (ret < 0) {
			if (*msg)
				fprintf(stderr, "flowspreadd: %s\n", msg);
			return 1;
		}
	}
	multi_queue = ret;
	if (!parse_fd("WG_UAPI_FD", &st.uapi_fd))
		goto out_tun;
	if (st.uapi_fd < 0) {
		st.uapi_fd = fs_uapi_listen(st.ifname, st.uapi_path);
		if (st.uapi_fd < 0) {
			fprintf(stderr, "flowspreadd: cannot listen on %s/%s.sock: %s\n", FS_UAPI_DIR,
				st.ifname, st.uapi_fd == -EADDRINUSE ?
				"another daemon serves this interface" : strerror(-st.uapi_fd));
			goto out_tun;
		}
	} else {
		snprintf(st.uapi_path, sizeof(st.uapi_path), "%s/%s.sock", FS_UAPI_DIR, st.ifname);
		fcntl(st.uapi_fd, F_SETFL, fcntl(st.uapi_fd, F_GETFL) | O_NONBLOCK);
	}

	/* Watched from now on, so that removing it at any time stops us. */
	st.inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (st.inotify_fd < 0) {
		fprintf(stderr, "flowspreadd: inotify: %s\n", strerror(errno));
		goto out_uapi;
	}
	{
		struct stat sb;

		if (inotify_add_watch(st.inotify_fd, st.uapi_path, IN_ATTRIB | IN_DELETE_SELF) < 0 ||
		    lstat(st.uapi_path, &sb)) {
			if (errno != ENOENT) {
				fprintf(stderr, "flowspreadd: watching %s: %s\n", st.uapi_path,
					strerror(errno));
				goto out_uapi;
			}
			st.quit = true;
			st.quit_reason = "the UAPI socket was removed";
		} else {
			st.uapi_ino = sb.st_ino;
		}
	}
	if (!st.foreground) {
		ret = daemonize(&ready_fd);
		if (ret) {
			fprintf(stderr, "flowspreadd: cannot daemonize: %s\n", strerror(-ret));
			goto out_uapi;
		}
	}

	raise_fd_limit();
	urcu_memb_register_thread();
	ret = fs_device_init(&st.dev, st.ifname, st.workers);
	if (ret) {
		fs_log_error("cannot initialise the device: %s", strerror(-ret));
		goto out_device;
	}
	st.dev.ifindex = (int)if_nametoindex(st.ifname);
	fs_tun_get_mtu(st.ifname, &st.dev.mtu);
	ret = open_queues(&st, multi_queue);
	st.tun_fd = -1;		/* the device owns it now */
	if (ret) {
		fs_log_error("cannot open the TUN queues of %s: %s", st.ifname, strerror(-ret));
		goto out_device;
	}
	ret = setup_control(&st);
	if (ret) {
		fs_log_error("cannot set up the control loop: %s", strerror(-ret));
		goto out_device;
	}
	{
		char err[FS_ERRLEN];

		/* Routes and rules a crashed predecessor left for this interface. */
		if (fs_guard_cleanup(st.ifname, err, sizeof(err)))
			fs_log_error("%s", err);
	}
	ret = fs_device_start(&st.dev);
	if (ret) {
		fs_log_error("cannot start the workers: %s", strerror(-ret));
		goto out_device;
	}
	fs_log_verbose("device %s started with %u workers, listening on UDP port %u", st.ifname,
		       st.workers, st.dev.listen_port);
	if (ready_fd >= 0) {
		detach(st.ifname, ready_fd);
		ready_fd = -1;
	}

	control_loop(&st);
	fs_log_verbose("shutting down: %s", st.quit_reason ? st.quit_reason : "error");
	log_drops(&st.dev);
	status = st.quit ? 0 : 1;

out_device:
	fs_device_destroy(&st.dev);
	for (unsigned int i = 0; i < st.n_fixed_tags; ++i)
		free(st.fixed_tags[i]);
	close_fds((int[]){ st.epoll_fd, st.signal_fd, st.netlink_fd, st.inotify_fd, st.timer_fd },
		  5);
	urcu_memb_unregister_thread();
out_uapi:
	if (st.uapi_fd >= 0)
		close(st.uapi_fd);
	if (st.uapi_path[0]) {
		struct stat sb;

		if (!lstat(st.uapi_path, &sb) && S_ISSOCK(sb.st_mode) && sb.st_ino == st.uapi_ino)
			unlink(st.uapi_path);
	}
out_tun:
	if (st.tun_fd >= 0)
		close(st.tun_fd);
	return status;
}
