// The fixed reply of `xdptool respond`, through the kernel's UDP sockets: recvmmsg and sendmmsg of
// up to 32 datagrams, as dnsbl's UDP loop does, with no DNS work. For the AF_XDP gain measurement
// (scripts/bench-xdp-gain.sh): it separates the socket path's kernel cost from dnsbl's own.
//
//   sockresp ADDR PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 32
static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: sockresp ADDR PORT\n"); return 2; }
    // Without SA_RESTART, so that a signal ends the blocking recvmmsg.
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(fd, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    int big = 1 << 22;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    static uint8_t buf[BATCH][1500];
    struct sockaddr_in from[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr m[BATCH];
    unsigned long long answered = 0;
    while (!stop) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){ buf[i], sizeof buf[i] };
            m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1 };
        }
        int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        int k = 0;
        for (int i = 0; i < n; i++) {
            uint8_t *d = buf[i];
            if (m[i].msg_len < 12 || (d[2] & 0x80)) continue;
            d[2] = (d[2] & 0x79) | 0x84;
            d[3] = 0x03;
            iov[k] = (struct iovec){ d, m[i].msg_len };
            m[k].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[k], .msg_iovlen = 1 };
            k++;
        }
        int s = 0;
        while (s < k) { int r = sendmmsg(fd, m + s, (unsigned)(k - s), 0); if (r <= 0) break; s += r; }
        answered += (unsigned long long)s;
    }
    printf("answered %llu\n", answered);
    return 0;
}
