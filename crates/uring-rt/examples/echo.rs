//! A TCP echo server on multishot accept and multishot receive:
//! `cargo run -p uring-rt --example echo -- [ADDR]` (default 127.0.0.1:8080), then
//! e.g. `nc 127.0.0.1 8080`.
//!
//! One `ACCEPT` request yields every connection; per connection, one `RECV` request
//! fills buffers of the runtime's shared pool, and each buffer is written back as it
//! is (no copy) and returns to the pool when the write is done.
use uring_rt::net::{TcpListener, TcpStream};

async fn echo(conn: TcpStream) -> std::io::Result<()> {
    let mut received = conn.recv_stream()?;
    while let Some(buf) = received.next().await {
        let (res, _buf) = conn.write_all(buf?).await;
        res?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    uring_rt::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("echo on {}", listener.local_addr()?);
        let mut incoming = listener.incoming();
        while let Some(conn) = incoming.next().await {
            match conn {
                // Detached: the connection's task runs on by itself.
                Ok(conn) => drop(uring_rt::spawn(async move {
                    if let Err(e) = echo(conn).await {
                        eprintln!("connection: {e}");
                    }
                })),
                // EMFILE and the like: the stream goes on.
                Err(e) => eprintln!("accept: {e}"),
            }
        }
        Ok(())
    })
}
