//! The connection's socket as hyper sees it: reads limited while a head is awaited,
//! and every read and write told to the connection's stage for the watchdog.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Stage;

/// The connection's socket, telling its stage when bytes arrive.
pub(super) struct Watched {
    pub(super) inner: TcpStream,
    pub(super) stage: Arc<Stage>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stage.head_done();
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // While a head is awaited, hyper is given no more than it may hold, so that
        // MAX_HEAD_BYTES is the limit exactly, however the client's bytes arrive.
        let room = self.stage.head_room();
        let before = buf.filled().len();
        let polled = match room {
            Some(room) if room < buf.remaining() => {
                let mut limited = ReadBuf::new(buf.initialize_unfilled_to(room.max(1)));
                let polled = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
                let read = limited.filled().len();
                buf.advance(read);
                polled
            }
            _ => Pin::new(&mut self.inner).poll_read(cx, buf),
        };
        let read = buf.filled().len() - before;
        if matches!(polled, Poll::Ready(Ok(()))) && read > 0 {
            self.stage.received();
            if room.is_some() && !self.stage.head_received(read) {
                return Poll::Ready(Err(std::io::Error::other(
                    "the unfinished request heads of every connection take all that may be held",
                )));
            }
        }
        polled
    }
}

/// What a write's outcome tells the stage: a refused write (the client's window is
/// full) starts the stall clock, a written byte stops it.
fn noted(stage: &Stage, polled: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
    match &polled {
        Poll::Pending => stage.write_refused(),
        Poll::Ready(Ok(written)) if *written > 0 => stage.wrote(),
        Poll::Ready(_) => {}
    }
    polled
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        noted(&self.stage, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        // A kept body in pages goes by sendfile: no copy of it per request.
        if let Some(plan) = crate::pages::plan(bufs) {
            let polled = loop {
                let socket = &self.inner;
                match socket.poll_write_ready(cx) {
                    Poll::Pending => break Poll::Pending,
                    Poll::Ready(Err(error)) => break Poll::Ready(Err(error)),
                    Poll::Ready(Ok(())) => {}
                }
                match socket.try_io(tokio::io::Interest::WRITABLE, || {
                    crate::pages::send(socket, bufs, &plan)
                }) {
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    written => break Poll::Ready(written),
                }
            };
            return noted(&self.stage, polled);
        }
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        noted(&self.stage, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
