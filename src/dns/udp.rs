//! The UDP loop: one task per socket receives a datagram, answers it from the current snapshot
//! and sends the reply. No per-query logging; errors on one datagram never stop the loop.

use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::message::{respond, Limits, Transport};
use crate::snapshot::SharedSnapshot;

/// Serves one socket until `shutdown` is cancelled.
pub async fn serve(socket: UdpSocket, shared: Arc<SharedSnapshot>, limits: Limits, shutdown: CancellationToken) {
    let mut buf = vec![0u8; 65_535];
    let mut reply = Vec::with_capacity(4096);
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let (len, peer) = match received {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here (ECONNREFUSED); keep serving.
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        if peer.port() == 0 {
            continue;
        }
        if respond(&shared.load(), &buf[..len], Transport::Udp, &limits, &mut reply) {
            if let Err(e) = socket.send_to(&reply, peer).await {
                tracing::debug!(error = %e, %peer, "udp send failed");
            }
        }
    }
}
