/* The listening socket of allotd, bound before anything else starts: an
 * address in use stops start-up before a thread, a sync or the database is
 * touched.  libmicrohttpd takes the socket over (MHD_OPTION_LISTEN_SOCKET). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"

int http_listen_socket(const char *host, uint16_t port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL) {
        snprintf(err, errlen, "ALLOT_LISTEN: cannot resolve host \"%s\"", host);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0;
    /* [::] means IPv6 only, as libmicrohttpd's own sockets do. */
    if (ok && res->ai_family == AF_INET6)
        ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0;
    ok = ok && bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0;
    freeaddrinfo(res);
    if (!ok) {
        int e = errno;
        snprintf(err, errlen, "ALLOT_LISTEN: cannot listen on %s:%u: %s", host, port,
                 e == EADDRINUSE ? "the address is in use"
                 : e == EADDRNOTAVAIL ? "not an address of this machine" : strerror(e));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}
