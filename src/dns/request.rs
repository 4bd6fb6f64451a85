//! What both answer paths need to know about a request: how it arrived, the size limits of a
//! reply, which path wrote it, and which packets are dropped before either path reads them.

/// Length of the DNS header.
pub const HEADER_LEN: usize = 12;

/// How the request arrived; UDP replies are size-limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Size limits for replies.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest UDP reply to an EDNS client (and the size we advertise).
    pub max_udp_payload: u16,
}

/// Which path wrote a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The allocation-free [`super::lean`] path.
    Lean,
    /// The hickory-proto path ([`super::full`]).
    Full,
}

/// Responses (QR=1) and runts: dropped before anything reads them.
pub fn dropped_unread(packet: &[u8]) -> bool {
    packet.len() < HEADER_LEN || packet[2] & 0x80 != 0
}
