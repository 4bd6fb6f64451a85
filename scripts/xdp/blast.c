// Fixed-rate DNS query sender for the AF_XDP gain measurement (scripts/bench-xdp-gain.sh).
//
//   blast ADDR PORT QUERIES RATE SECS
//
// Sends the queries of QUERIES (dnsperf's format: "name TYPE" per line; A, AAAA, TXT) in turn, RATE
// per second for SECS seconds, in one sendmmsg per 200 µs tick (a veth's receive ring holds 256
// frames, so larger bursts would be dropped before any server sees them), from one connected
// UDP socket. It
// never reads: the replies are counted and dropped by an XDP sink on the sending interface, so the
// sender's cost does not depend on the server. Prints "sent N behind_ms M" (how far it fell behind
// its own schedule at worst).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 300000
#define TICK_NS 200000L

static uint8_t *pkt[MAXQ];
static uint16_t plen[MAXQ];

static int encode(uint8_t *out, const char *name, const char *type, uint16_t id)
{
    uint8_t *p = out;
    *p++ = id >> 8; *p++ = id & 0xff;
    *p++ = 0; *p++ = 0;         // a query, RD clear
    *p++ = 0; *p++ = 1;         // one question
    memset(p, 0, 6); p += 6;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n > 63) break;
        *p++ = (uint8_t)n; memcpy(p, s, n); p += n;
        s += n + (dot ? 1 : 0);
        if (!dot) break;
    }
    *p++ = 0;
    uint16_t t = !strcmp(type, "AAAA") ? 28 : !strcmp(type, "TXT") ? 16 : 1;
    *p++ = t >> 8; *p++ = t & 0xff; *p++ = 0; *p++ = 1;
    return (int)(p - out);
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: blast ADDR PORT QUERIES RATE SECS\n"); return 2; }
    long rate = atol(argv[4]), secs = atol(argv[5]);
    FILE *f = fopen(argv[3], "r");
    if (!f) { perror(argv[3]); return 1; }
    char line[512], name[300], type[16];
    int nq = 0;
    while (nq < MAXQ && fgets(line, sizeof line, f))
        if (sscanf(line, "%299s %15s", name, type) == 2) {
            pkt[nq] = malloc(512);
            plen[nq] = (uint16_t)encode(pkt[nq], name, type, (uint16_t)nq);
            nq++;
        }
    fclose(f);
    if (!nq) { fprintf(stderr, "no queries in %s\n", argv[3]); return 1; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || connect(fd, (void *)&to, sizeof to)) { perror("connect"); return 1; }
    int big = 1 << 22;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);

    long ticks = secs * (1000000000L / TICK_NS), most = rate / (1000000000L / TICK_NS) + 2;
    struct mmsghdr *m = calloc(most, sizeof *m);
    struct iovec *iov = calloc(most, sizeof *iov);
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long sent = 0, behind = 0;
    int q = 0;
    for (long t = 0; t < ticks; t++) {
        // As many as the schedule owes by the end of this tick (fractions carry over).
        long per_tick = (long)((t + 1) * (double)rate * TICK_NS / 1e9) - sent;
        if (per_tick > most) per_tick = most;
        for (long i = 0; i < per_tick; i++) {
            iov[i].iov_base = pkt[q]; iov[i].iov_len = plen[q];
            m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
            q = (q + 1) % nq;
        }
        long done = 0;
        while (done < per_tick) {
            int r = sendmmsg(fd, m + done, (unsigned)(per_tick - done), 0);
            if (r <= 0) break;
            done += r;
        }
        sent += done;
        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long lag = (now.tv_sec - next.tv_sec) * 1000L + (now.tv_nsec - next.tv_nsec) / 1000000L;
        if (lag > behind) behind = lag;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    printf("sent %ld behind_ms %ld\n", sent, behind);
    return 0;
}
