//! Bind-before-connect for runtimes whose TCP API has none (smol, async-std): a blocking
//! helper, to run on the runtime's blocking pool.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};

use socket2::{Domain, Socket, Type};

/// Resolves `host:port` and opens a TCP connection to the first address of `local`'s
/// family that answers, from `local` (port `0`: any), with `TCP_NODELAY` set. Blocking:
/// name resolution and the connect wait on the calling thread. For implementations of
/// [`Runtime::connect_from`](crate::Runtime::connect_from); the stream is in blocking
/// mode, to be handed to the runtime (`Async::new`, `From<std::net::TcpStream>`).
///
/// # Errors
/// The resolution's error, the last connect's error, or [`io::ErrorKind::AddrNotAvailable`]
/// when no address of `local`'s family was found.
///
/// ```no_run
/// use std::net::SocketAddr;
///
/// let local: SocketAddr = "127.0.0.1:0".parse()?;
/// let stream = nats_client::connect_bound("localhost", 4222, local)?;
/// assert_eq!(stream.local_addr()?.ip(), local.ip());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_bound(host: &str, port: u16, local: SocketAddr) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()?.filter(|a| a.is_ipv4() == local.is_ipv4()) {
        let attempt = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.bind(&local.into())?;
            socket.connect(&addr.into())?;
            socket.set_tcp_nodelay(true)?;
            Ok(TcpStream::from(socket))
        })();
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host}:{port} has no address of the local address {local}'s family"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn connects_from_the_given_address_and_refuses_other_families() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = connect_bound("127.0.0.1", port, "127.0.0.1:0".parse().unwrap()).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(stream.local_addr().unwrap(), peer, "the server sees the bound address");
        assert!(stream.nodelay().unwrap());

        let error = connect_bound("127.0.0.1", port, "[::1]:0".parse().unwrap()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrNotAvailable);
    }
}
