// XDP programs for the AF_XDP gain measurement (scripts/bench-xdp-gain.sh).
//
// `udp_to_xsk`: IPv4 UDP datagrams to PORT (given at compile time, -DPORT=…) on this queue go to the
// AF_XDP socket bound there; everything else (ARP, ICMP, TCP, other ports, fragments) passes to the
// kernel. `udp_reply_tx`: the fixed reply from inside the kernel (below). `count_drop`: counts and drops every frame (the generator's sink for replies, and the
// baseline receiver that does nothing).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef PORT
#define PORT 53
#endif

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} counted SEC(".maps");

// The UDP header of an unfragmented IPv4 datagram to PORT (without IP options) in the frame from
// `data` to `end`, or NULL.
static __always_inline struct udphdr *to_port(void *data, void *end)
{
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return NULL;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
        return NULL;
    if (ip->frag_off & bpf_htons(0x3fff)) // MF or an offset: a fragment
        return NULL;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end || udp->dest != bpf_htons(PORT))
        return NULL;
    return udp;
}

SEC("xdp")
int udp_to_xsk(struct xdp_md *ctx)
{
    if (!to_port((void *)(long)ctx->data, (void *)(long)ctx->data_end))
        return XDP_PASS;
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

// The same datagrams answered in the kernel: the query itself with QR, AA and NXDOMAIN set, MACs,
// addresses and ports swapped, the UDP checksum updated for the changed flags word (RFC 1624), sent
// back out of the interface it came in on. What no user-space path can beat.
SEC("xdp")
int udp_reply_tx(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct udphdr *udp = to_port(data, end);
    if (!udp)
        return XDP_PASS;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    __u8 *dns = (void *)(udp + 1);
    if ((void *)(dns + 12) > end || (dns[2] & 0x80))
        return XDP_PASS;
    __u16 old = *(__u16 *)(dns + 2);
    dns[2] = (dns[2] & 0x79) | 0x84;
    dns[3] = 0x03;
    __u16 new = *(__u16 *)(dns + 2);
    if (udp->check) {
        __u32 sum = (__u16)~udp->check + (__u16)~old + new;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        udp->check = (__u16)~sum ? (__u16)~sum : 0xffff;
    }
    __u8 mac[ETH_ALEN];
    __builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
    __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
    __builtin_memcpy(eth->h_source, mac, ETH_ALEN);
    __u32 a = ip->saddr;
    ip->saddr = ip->daddr;
    ip->daddr = a;
    __u16 p = udp->source;
    udp->source = udp->dest;
    udp->dest = p;
    return XDP_TX;
}

SEC("xdp")
int count_drop(struct xdp_md *ctx)
{
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&counted, &zero);
    if (n)
        *n += 1;
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
