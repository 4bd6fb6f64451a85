//! Binding listen addresses: several `SO_REUSEPORT` UDP sockets and one TCP listener per address,
//! on the same port (port 0 picks one free for both, which is what tests use).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Sockets bound for one listen address.
#[derive(Debug)]
pub struct Bound {
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: std::net::TcpListener,
    pub addr: SocketAddr,
}

/// Binds `workers` UDP sockets and a TCP listener on `addr`.
pub fn bind(addr: SocketAddr, workers: usize, receive_buffer: usize) -> io::Result<Bound> {
    // With port 0 the kernel picks the UDP port; TCP may find that port taken, so try again.
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_err = None;
    for _ in 0..attempts {
        let first = udp_socket(addr, receive_buffer)?;
        let actual = first.local_addr()?.as_socket().ok_or_else(|| io::Error::other("no socket address"))?;
        match tcp_listener(actual) {
            Ok(tcp) => {
                let mut udp = vec![first.into()];
                for _ in 1..workers.max(1) {
                    udp.push(udp_socket(actual, receive_buffer)?.into());
                }
                return Ok(Bound { udp, tcp, addr: actual });
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("could not bind")))
}

fn udp_socket(addr: SocketAddr, receive_buffer: usize) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    // The kernel caps this at net.core.rmem_max; a smaller buffer is not an error.
    let _ = s.set_recv_buffer_size(receive_buffer);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}
