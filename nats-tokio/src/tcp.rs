//! A tokio TCP stream as the futures-io reader and writer the client drives.
//!
//! Not tokio-util's `Compat`: its futures-io `poll_write_vectored` is the default one,
//! which writes only the first slice, so a vectored write of a header, a payload passed by
//! reference and a trailer became three `sendto` calls. This forwards vectored writes to
//! tokio's (`writev`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connected TCP stream (`TCP_NODELAY` set), for [`Tokio`](crate::Tokio)'s transport.
#[derive(Debug)]
pub struct TcpTransport(TcpStream);

impl TcpTransport {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self(stream)
    }
}

impl futures_io::AsyncRead for TcpTransport {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl futures_io::AsyncWrite for TcpTransport {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use futures_util::AsyncWriteExt;
    use tokio::io::AsyncReadExt;

    use super::TcpTransport;

    #[tokio::test]
    async fn a_vectored_write_takes_every_slice_in_one_call() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) =
            tokio::join!(tokio::net::TcpStream::connect(addr), async { listener.accept().await.unwrap().0 });
        let mut transport = TcpTransport::new(client.unwrap());
        let slices = [IoSlice::new(b"PUB a 3\r\n"), IoSlice::new(b"abc"), IoSlice::new(b"\r\n")];
        let written = transport.write_vectored(&slices).await.unwrap();
        assert_eq!(written, 14, "all three slices in one write (Compat wrote only the first)");
        transport.close().await.unwrap();
        let mut received = Vec::new();
        let mut server = server;
        server.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, b"PUB a 3\r\nabc\r\n");
    }
}
