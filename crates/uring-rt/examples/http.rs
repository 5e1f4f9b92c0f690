//! HTTP/1.1 "Hello, World!" with keep-alive, through hyper on uring-rt.
//!
//! ```text
//! cargo run --release -p uring-rt --example http -- [ADDR] [THREADS] [--reuseport]
//! curl -v http://127.0.0.1:8080/          # or: wrk -c 64 -d 10 http://127.0.0.1:8080/
//! ```
//!
//! One runtime per thread (`THREADS`, default 1). Core 0 accepts and deals the
//! connections out to the cores in turn, each handed over as its descriptor
//! ([`uring_rt::Core::spawn_with_fd`]); with `--reuseport`, every core accepts on its
//! own `SO_REUSEPORT` listener and the kernel spreads the connections instead.
//! `URING_BACKEND=engine` runs it on the user-space engine.
use std::convert::Infallible;
use std::io;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use uring_rt::compat::PollIo;
use uring_rt::net::{TcpListener, TcpStream};
use uring_rt::{Core, cores};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// Serves one connection (as many requests as the client sends on it).
async fn serve(stream: TcpStream) {
    let served = http1::Builder::new()
        .timer(uring_rt::hyper::Timer)
        .keep_alive(true)
        .serve_connection(PollIo::new(stream), service_fn(hello))
        .await;
    if let Err(e) = served
        && !e.is_incomplete_message()
    {
        eprintln!("connection: {e}");
    }
}

/// Core 0's loop: accept, and give each connection to the next core in turn.
async fn accept_and_deal(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let all = cores();
    let me = Core::current().expect("inside a runtime");
    println!(
        "listening on http://{} ({} core(s), {})",
        listener.local_addr()?,
        all.len(),
        me.backend().name()
    );
    for next in 0.. {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let core = &all[next % all.len()];
        if core.same(&me) {
            drop(uring_rt::spawn(serve(stream)));
        } else {
            drop(core.spawn_with_fd(stream.into_fd()?, |fd| async move {
                match TcpStream::from_std(fd.into()) {
                    Ok(stream) => serve(stream).await,
                    Err(e) => eprintln!("hand-off: {e}"),
                }
            }));
        }
    }
    Ok(())
}

/// Every core's loop with `--reuseport`.
async fn accept_here(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind_reuseport(addr).await?;
    if Core::current().is_some_and(|c| c.index() == 0) {
        println!(
            "listening on http://{} ({} cores, SO_REUSEPORT)",
            listener.local_addr()?,
            cores().len()
        );
    }
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        drop(uring_rt::spawn(serve(stream)));
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reuseport = args.iter().any(|a| a == "--reuseport");
    let mut plain = args.iter().filter(|a| !a.starts_with("--"));
    let addr = plain
        .next()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let threads: usize = match plain.next() {
        Some(n) => n
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "THREADS: a number"))?,
        None => 1,
    };
    let results = uring_rt::Builder::new().threads(threads).run(|| async {
        if reuseport {
            accept_here(&addr).await
        } else if Core::current().is_some_and(|c| c.index() == 0) {
            accept_and_deal(&addr).await
        } else {
            // Serves what core 0 hands over, until core 0 stops.
            Ok(())
        }
    })?;
    results.into_iter().collect()
}
