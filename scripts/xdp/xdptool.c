// The smallest AF_XDP responder, and a counting sink, for the AF_XDP gain measurement
// (scripts/bench-xdp-gain.sh). Not part of the server.
//
//   xdptool respond OBJ IFACE   attaches OBJ's `udp_to_xsk` to IFACE (native mode), binds one AF_XDP
//                               socket to queue 0 (copy mode; zero-copy with XSK_ZEROCOPY=1, for
//                               drivers that have it) and answers every datagram it gets with
//                               a fixed reply: the query itself with QR, AA and NXDOMAIN set, MACs,
//                               addresses and ports swapped, TTL reset, IP and UDP checksums computed
//                               anew; received and sent in batches of up to 64, kicked until the
//                               kernel took them; sleeps in poll() when there is nothing to answer.
//   xdptool sink OBJ IFACE SECS attaches `count_drop` to IFACE for SECS seconds, prints the count.
//   xdptool tx OBJ IFACE        attaches `udp_reply_tx` (the fixed reply sent by the XDP program
//                               itself, no user space at all) until SIGINT or SIGTERM.
//
// Both detach their program on exit (end of time, SIGINT, SIGTERM).
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#define FRAMES 4096
#define FRAME XSK_UMEM__DEFAULT_FRAME_SIZE
#define BATCH 64
#define TX_SIZE 2048

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int ifindex;
static void detach(void) { if (ifindex) bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL); }

static struct bpf_object *attach(const char *path, const char *iface, const char *prog_name)
{
    ifindex = if_nametoindex(iface);
    if (!ifindex) { fprintf(stderr, "no interface %s\n", iface); exit(1); }
    struct bpf_object *obj = bpf_object__open_file(path, NULL);
    if (!obj || bpf_object__load(obj)) { fprintf(stderr, "cannot load %s\n", path); exit(1); }
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, prog_name);
    if (!prog) { fprintf(stderr, "no program %s in %s\n", prog_name, path); exit(1); }
    int err = bpf_xdp_attach(ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, NULL);
    if (err) { fprintf(stderr, "cannot attach to %s: %s\n", iface, strerror(-err)); ifindex = 0; exit(1); }
    atexit(detach);
    return obj;
}

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
    const uint8_t *b = p;
    for (; n > 1; n -= 2, b += 2) s += (uint32_t)b[0] << 8 | b[1];
    if (n) s += (uint32_t)b[0] << 8;
    return s;
}
static uint16_t fold(uint32_t s)
{
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

// Turns the query frame into its reply in place; 0 if it is not an IPv4/UDP DNS query.
static int answer(uint8_t *f, uint32_t len)
{
    if (len < sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr) + 12) return 0;
    struct ethhdr *eth = (void *)f;
    struct iphdr *ip = (void *)(eth + 1);
    struct udphdr *udp = (void *)(ip + 1);
    uint8_t *dns = (void *)(udp + 1);
    size_t dlen = ntohs(udp->len) - sizeof(struct udphdr);
    if (ntohs(udp->len) < sizeof(struct udphdr) + 12 || (uint8_t *)udp + ntohs(udp->len) > f + len) return 0;
    if (dns[2] & 0x80) return 0; // a response
    uint8_t mac[ETH_ALEN];
    memcpy(mac, eth->h_dest, ETH_ALEN); memcpy(eth->h_dest, eth->h_source, ETH_ALEN); memcpy(eth->h_source, mac, ETH_ALEN);
    uint32_t a = ip->saddr; ip->saddr = ip->daddr; ip->daddr = a;
    uint16_t p = udp->source; udp->source = udp->dest; udp->dest = p;
    dns[2] = (dns[2] & 0x79) | 0x84; // QR, AA; keep opcode and RD
    dns[3] = 0x03;                   // NXDOMAIN
    ip->ttl = 64; ip->check = 0; ip->check = fold(sum16(ip, sizeof *ip, 0));
    udp->check = 0;
    uint32_t s = sum16(&ip->saddr, 8, 0) + IPPROTO_UDP + ntohs(udp->len);
    uint16_t c = fold(sum16(udp, sizeof *udp + dlen, s));
    udp->check = c ? c : 0xffff;
    return 1;
}

// Frames whose replies went out go back to the fill ring.
static void reclaim(struct xsk_ring_cons *cq, struct xsk_ring_prod *fq, uint64_t *outstanding)
{
    uint32_t ci, fi;
    unsigned done = xsk_ring_cons__peek(cq, FRAMES, &ci);
    if (!done) return;
    while (xsk_ring_prod__reserve(fq, done, &fi) != done) {}
    for (unsigned i = 0; i < done; i++) *xsk_ring_prod__fill_addr(fq, fi + i) = *xsk_ring_cons__comp_addr(cq, ci + i);
    xsk_ring_prod__submit(fq, done);
    xsk_ring_cons__release(cq, done);
    *outstanding -= done;
}

static int respond(const char *obj_path, const char *iface)
{
    struct bpf_object *obj = attach(obj_path, iface, "udp_to_xsk");
    void *area;
    if (posix_memalign(&area, getpagesize(), (size_t)FRAMES * FRAME)) return 1;
    struct xsk_ring_prod fq = {0}, tx = {0};
    struct xsk_ring_cons cq = {0}, rx = {0};
    struct xsk_umem *umem;
    struct xsk_umem_config ucfg = { .fill_size = FRAMES, .comp_size = FRAMES, .frame_size = FRAME };
    int err = xsk_umem__create(&umem, area, (size_t)FRAMES * FRAME, &fq, &cq, &ucfg);
    if (err) { fprintf(stderr, "umem: %s\n", strerror(-err)); return 1; }
    struct xsk_socket *xsk;
    struct xsk_socket_config cfg = { .rx_size = 2048, .tx_size = TX_SIZE,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, .xdp_flags = XDP_FLAGS_DRV_MODE,
        .bind_flags = XDP_USE_NEED_WAKEUP | (getenv("XSK_ZEROCOPY") ? XDP_ZEROCOPY : XDP_COPY) };
    err = xsk_socket__create(&xsk, iface, 0, umem, &rx, &tx, &cfg);
    if (err) { fprintf(stderr, "xsk socket: %s\n", strerror(-err)); return 1; }
    int map = bpf_object__find_map_fd_by_name(obj, "xsks");
    if (map < 0 || xsk_socket__update_xskmap(xsk, map)) { fprintf(stderr, "xskmap update failed\n"); return 1; }
    int fd = xsk_socket__fd(xsk);
    uint32_t idx;
    if (xsk_ring_prod__reserve(&fq, FRAMES / 2, &idx) != FRAMES / 2) return 1;
    for (uint32_t i = 0; i < FRAMES / 2; i++) *xsk_ring_prod__fill_addr(&fq, idx + i) = (uint64_t)i * FRAME;
    xsk_ring_prod__submit(&fq, FRAMES / 2);
    fprintf(stderr, "answering on %s queue 0\n", iface);

    uint64_t received = 0, sent = 0, skipped = 0, outstanding = 0;
    while (!stop) {
        reclaim(&cq, &fq, &outstanding);
        uint32_t fi;
        uint32_t ri;
        unsigned n = xsk_ring_cons__peek(&rx, BATCH, &ri);
        if (!n) {
            // Sleep until the next datagram. Replies still in flight complete meanwhile (in
            // copy mode when the peer frees them) and are collected on the next round; the
            // fill ring has frames to spare for that.
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            poll(&pfd, 1, 100);
            continue;
        }
        received += n;
        uint64_t good[BATCH], bad[BATCH];
        uint32_t lens[BATCH];
        unsigned g = 0, b = 0;
        for (unsigned i = 0; i < n; i++) {
            const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, ri + i);
            if (answer(xsk_umem__get_data(area, d->addr), d->len)) { good[g] = d->addr; lens[g++] = d->len; }
            else bad[b++] = d->addr;
        }
        xsk_ring_cons__release(&rx, n);
        if (b) {
            while (xsk_ring_prod__reserve(&fq, b, &fi) != b) {}
            for (unsigned i = 0; i < b; i++) *xsk_ring_prod__fill_addr(&fq, fi + i) = bad[i];
            xsk_ring_prod__submit(&fq, b);
            skipped += b;
        }
        uint32_t ti = 0;
        while (xsk_ring_prod__reserve(&tx, g, &ti) != g && !stop) {
            sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
            reclaim(&cq, &fq, &outstanding);
        }
        if (stop) break;
        for (unsigned i = 0; i < g; i++) {
            struct xdp_desc *d = xsk_ring_prod__tx_desc(&tx, ti + i);
            d->addr = good[i]; d->len = lens[i];
        }
        xsk_ring_prod__submit(&tx, g);
        outstanding += g;
        sent += g;
        // In copy mode each kick sends a bounded number of frames (32 in current kernels):
        // kick until the kernel has taken the whole TX ring.
        for (int kicks = 0; kicks < 16 && xsk_prod_nb_free(&tx, TX_SIZE) < TX_SIZE; kicks++)
            sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
    }
    printf("received %llu sent %llu skipped %llu\n", (unsigned long long)received, (unsigned long long)sent,
           (unsigned long long)skipped);
    xsk_socket__delete(xsk);
    xsk_umem__delete(umem);
    return 0;
}

static int sink(const char *obj_path, const char *iface, int secs)
{
    struct bpf_object *obj = attach(obj_path, iface, "count_drop");
    int map = bpf_object__find_map_fd_by_name(obj, "counted");
    for (int i = 0; i < secs * 10 && !stop; i++) usleep(100000);
    int cpus = libbpf_num_possible_cpus();
    uint64_t v[cpus > 0 ? cpus : 1], total = 0;
    uint32_t zero = 0;
    if (map >= 0 && !bpf_map_lookup_elem(map, &zero, v))
        for (int i = 0; i < cpus; i++) total += v[i];
    printf("%llu\n", (unsigned long long)total);
    return 0;
}

static int tx(const char *obj_path, const char *iface)
{
    attach(obj_path, iface, "udp_reply_tx");
    while (!stop) usleep(100000);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (argc == 4 && !strcmp(argv[1], "respond")) return respond(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "tx")) return tx(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "sink")) return sink(argv[2], argv[3], atoi(argv[4]));
    fprintf(stderr, "usage: xdptool respond OBJ IFACE | xdptool tx OBJ IFACE | xdptool sink OBJ IFACE SECS\n");
    return 2;
}
