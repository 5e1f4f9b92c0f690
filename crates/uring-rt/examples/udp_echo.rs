//! A UDP echo server on a multishot receive:
//! `cargo run -p uring-rt --example udp_echo -- [ADDR]` (default 127.0.0.1:8081), then
//! e.g. `nc -u 127.0.0.1 8081`.
//!
//! One `RECVMSG` request fills buffers of the runtime's shared pool with datagrams and
//! their senders; each payload is sent back as it is (no copy) and its buffer returns
//! to the pool when the send is done.
use uring_rt::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    uring_rt::block_on(async {
        let socket = UdpSocket::bind(&addr).await?;
        println!("udp echo on {}", socket.local_addr()?);
        let mut datagrams = socket.recv_stream()?;
        while let Some(datagram) = datagrams.next().await {
            let (buf, from) = datagram?;
            let (res, _buf) = socket.send_to(buf, from).await;
            if let Err(e) = res {
                eprintln!("send to {from}: {e}");
            }
        }
        Ok(())
    })
}
