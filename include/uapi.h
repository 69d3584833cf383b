/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cross-platform userspace API of WireGuard on
 * /var/run/wireguard/IFNAME.sock: "get=1\n\n" and "set=1\n...\n\n",
 * several per connection, each answered with "errno=N\n\n".
 */
#ifndef FLOWSPREAD_UAPI_H
#define FLOWSPREAD_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

struct fs_device;

#define FS_UAPI_DIR "/var/run/wireguard"

struct fs_uapi_conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
};

/* -EADDRINUSE if a daemon answers on IFNAME's socket, 0 if none does. */
int fs_uapi_probe(const char *ifname);

/*
 * Creates the listening socket (directory 0755, socket under umask 077).
 * A stale socket is replaced; a live one (a daemon answers) is -EADDRINUSE.
 */
int fs_uapi_listen(const char *ifname, char path[sizeof(((struct sockaddr_un *)0)->sun_path)]);

/* Reads what is there and answers every complete request. False: close it. */
bool fs_uapi_conn_read(struct fs_uapi_conn *conn, struct fs_device *dev);
/* Writes what is pending. 1: more to write, 0: all written, -1: close it. */
int fs_uapi_conn_flush(struct fs_uapi_conn *conn);
void fs_uapi_conn_free(struct fs_uapi_conn *conn);

/* The body of a get answer, without the errno line (exported for tests). */
char *fs_uapi_get(struct fs_device *dev, size_t *len);

#endif
