/* Inside hal/net/: the backends behind net.h's net_open/net_send/net_recv. */
#ifndef NET_BACKEND_H
#define NET_BACKEND_H
#include "net/net.h"

/* tap.c: tap=IF and bridge=BR (a tap fd), macvtap=IF (a /dev/tapN fd);
 * `what` is "--net MODE=IF", the start of every message. */
int tap_open(const struct net_spec *s, struct net_backend *b, const char *what, char *why, size_t whylen);
int macvtap_open(const struct net_spec *s, int index, struct net_backend *b, const char *what,
                 char *why, size_t whylen);
int tap_set_offload(struct net_backend *b, unsigned flags);
ssize_t tap_send(struct net_backend *b, const struct iovec *iov, int n);
ssize_t tap_recv(struct net_backend *b, const struct iovec *iov, int n);
void tap_close(struct net_backend *b);

/* passt.c: user (passt on a socketpair), the stream framing. */
int passt_open(const struct net_spec *s, struct net_backend *b, char *why, size_t whylen);
ssize_t stream_send(struct net_backend *b, const struct iovec *iov, int n);
ssize_t stream_recv(struct net_backend *b, const struct iovec *iov, int n);
void passt_close(struct net_backend *b);

size_t iov_bytes(const struct iovec *iov, int n);
#endif
