/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-platform userspace API of WireGuard on
 * /var/run/wireguard/IFNAME.sock: "get=1\n\n" and "set=1\n...\n\n",
 * several per connection, each answered with "errno=N\n\n" (a refused
 * set with an "error=REASON" line before it).
 */
#ifndef FLOWSPREAD_UAPI_H
#define FLOWSPREAD_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

struct fs_device;

#define FS_UAPI_DIR "/var/run/wireguard"

enum {
	FS_UAPI_MAX_CONNS = 32,		/* open connections; more are closed at once */
	FS_UAPI_ERROR_MAX = 512,	/* bytes of an error= line's text */
};

struct fs_uapi_conn {
	int fd;
	bool eof;			/* the client shut down its side */
	char *in;
	size_t in_len, in_cap;
	char *out;			/* the answer being written, one at a time */
	size_t out_len, out_off, out_cap;
};

/* What a connection waits for next. */
enum fs_uapi_want {
	FS_UAPI_CLOSE,
	FS_UAPI_WANT_READ,
	FS_UAPI_WANT_WRITE,	/* an answer to write, or a request read but not answered */
};

/* -EADDRINUSE if a daemon answers on IFNAME's socket, 0 if none does. */
int fs_uapi_probe(const char *ifname);

/*
 * Creates the listening socket (directory 0755, socket under umask 077).
 * A stale socket is replaced; a live one (a daemon answers) is -EADDRINUSE.
 */
int fs_uapi_listen(const char *ifname, char path[sizeof(((struct sockaddr_un *)0)->sun_path)]);

/*
 * Writes the pending answer, then answers what was read, one request at a
 * time, reading only while no answer waits to be written. A refused set
 * is answered "error=REASON\nerrno=-N\n\n". Call it when the fd is ready
 * for what it returned last.
 */
enum fs_uapi_want fs_uapi_conn_serve(struct fs_uapi_conn *conn, struct fs_device *dev);
void fs_uapi_conn_free(struct fs_uapi_conn *conn);

/* The body of a get answer, without the errno line (exported for tests). */
char *fs_uapi_get(struct fs_device *dev, size_t *len);

#endif
