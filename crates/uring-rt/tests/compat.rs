//! The ecosystem: hyper's server and client over `PollIo`, hyper's timer and executor,
//! tokio's and futures-io's traits; on both backends.
mod common;

use std::cell::Cell;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::Timer as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use uring_rt::compat::PollIo;
use uring_rt::net::{TcpListener, TcpStream};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello {}", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[test]
fn hyper_serves_keep_alive_requests_to_hypers_client() {
    common::each_backend("hyper_serves_keep_alive_requests", |rt, _| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Rc::new(Cell::new(0));
            let a = accepted.clone();
            let server = uring_rt::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    a.set(a.get() + 1);
                    uring_rt::spawn(async move {
                        http1::Builder::new()
                            .timer(uring_rt::hyper::Timer)
                            .keep_alive(true)
                            .serve_connection(PollIo::new(stream), service_fn(hello))
                            .await
                            .unwrap();
                    })
                    .await
                    .unwrap();
                }
            });
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(PollIo::new(stream))
                .await
                .unwrap();
            let conn = uring_rt::spawn(conn);
            for i in 0..8 {
                let req = Request::get(format!("/req{i}"))
                    .header("host", "localhost")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let resp = sender.send_request(req).await.unwrap();
                assert_eq!(resp.status(), 200);
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(&body[..], format!("hello /req{i}").as_bytes());
            }
            // Eight requests on one connection: keep-alive held.
            assert_eq!(accepted.get(), 1);
            drop(sender);
            conn.await.unwrap().unwrap();
            server.abort();
        });
    });
}

#[test]
fn raw_keep_alive_requests_with_pipelining_get_every_reply() {
    common::each_backend("raw_keep_alive_requests", |rt, _| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = uring_rt::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                http1::Builder::new()
                    .timer(uring_rt::hyper::Timer)
                    .pipeline_flush(true)
                    .serve_connection(PollIo::new(stream), service_fn(hello))
                    .await
            });
            let client = TcpStream::connect(addr).await.unwrap();
            // Three requests in one write; the replies come back in order.
            let reqs: Vec<u8> = (0..3)
                .flat_map(|i| format!("GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes())
                .collect();
            let (res, _) = client.write_all(reqs).await;
            res.unwrap();
            let mut got = Vec::new();
            while count(&got, b"hello /p") < 3 {
                let (res, buf) = client.read(Vec::with_capacity(4096)).await;
                assert!(res.unwrap() > 0, "the server closed early: {got:?}");
                got.extend_from_slice(&buf);
            }
            let text = String::from_utf8(got).unwrap();
            let p0 = text.find("hello /p0").unwrap();
            let p2 = text.find("hello /p2").unwrap();
            assert!(p0 < p2);
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            server.await.unwrap().unwrap();
        });
    });
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn hyper_timer_fires_in_order_with_one_timeout_armed() {
    common::each_backend("hyper_timer", |rt, _| {
        let rt_ops = || rt.ops_in_flight();
        rt.block_on(async {
            let timer = uring_rt::hyper::Timer;
            let start = std::time::Instant::now();
            timer.sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            let base = rt_ops();
            // A thousand long sleeps, each polled once (registered), held at once, then
            // dropped, as hyper's header-read timeouts are: one timeout in flight at
            // most for all of them.
            let poll_once = |s: &mut Pin<Box<dyn hyper::rt::Sleep>>| {
                let waker = std::task::Waker::noop();
                let pending = s.as_mut().poll(&mut std::task::Context::from_waker(waker));
                assert!(pending.is_pending());
            };
            let mut held = Vec::new();
            for i in 0..1000u64 {
                let mut s = timer.sleep(Duration::from_secs(3600 - i));
                poll_once(&mut s);
                held.push(s);
                if i % 100 == 0 {
                    uring_rt::yield_now().await;
                }
            }
            // Each sooner deadline re-armed the timeout; the replaced ones finish
            // cancelling within a few turns.
            for _ in 0..20 {
                uring_rt::yield_now().await;
            }
            assert!(
                rt_ops() <= base + 1,
                "{} ops for 1000 sleeps",
                rt_ops() - base
            );
            drop(held);
            uring_rt::yield_now().await;
            assert!(
                rt_ops() <= base + 1,
                "{} ops after the drop",
                rt_ops() - base
            );
            // One due sooner than the armed timeout re-arms it, and fires.
            let mut held = timer.sleep(Duration::from_secs(3600));
            let pending = poll_fn(|cx| Poll::Ready(held.as_mut().poll(cx).is_pending())).await;
            assert!(pending);
            let start = std::time::Instant::now();
            timer.sleep(Duration::from_millis(10)).await;
            assert!(start.elapsed() >= Duration::from_millis(10));
            // Deadlines fire in order.
            let order = Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut tasks = Vec::new();
            for ms in [30u64, 10, 20] {
                let order = order.clone();
                tasks.push(uring_rt::spawn(async move {
                    uring_rt::hyper::Timer
                        .sleep(Duration::from_millis(ms))
                        .await;
                    order.borrow_mut().push(ms);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.borrow(), [10, 20, 30]);
        });
    });
}

#[test]
fn tokio_traits_move_a_large_stream_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    common::each_backend("tokio_traits", |rt, _| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
            let expect = &data;
            // Echo through tokio's traits, in odd-sized pieces.
            let echo = uring_rt::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                // Small writes back to back: without NODELAY, Nagle waits for ACKs.
                s.set_nodelay(true).unwrap();
                let mut io = PollIo::with_capacity(1000, s);
                let mut buf = vec![0u8; 3001];
                loop {
                    let n = io.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    io.write_all(&buf[..n]).await.unwrap();
                }
                io.shutdown().await.unwrap();
            });
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut io = PollIo::new(s);
            // Ping-pong in pieces of 7777 bytes; each comes back whole and in order.
            let mut back = Vec::new();
            for piece in data.chunks(7777) {
                io.write_all(piece).await.unwrap();
                let mut got = vec![0u8; piece.len()];
                io.read_exact(&mut got).await.unwrap();
                back.extend_from_slice(&got);
            }
            io.shutdown().await.unwrap();
            let mut tail = Vec::new();
            io.read_to_end(&mut tail).await.unwrap();
            assert!(tail.is_empty());
            assert_eq!(back.len(), expect.len());
            assert!(&back == expect);
            echo.await.unwrap();
        });
    });
}

#[test]
fn futures_io_traits_read_and_write() {
    common::each_backend("futures_io_traits", |rt, _| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = uring_rt::spawn(async move {
                let mut io = PollIo::new(TcpStream::connect(addr).await.unwrap());
                let msg = b"through futures-io";
                let n =
                    poll_fn(|cx| futures_io::AsyncWrite::poll_write(Pin::new(&mut io), cx, msg))
                        .await
                        .unwrap();
                assert_eq!(n, msg.len());
                poll_fn(|cx| futures_io::AsyncWrite::poll_close(Pin::new(&mut io), cx))
                    .await
                    .unwrap();
            });
            let (s, _) = listener.accept().await.unwrap();
            let mut io = PollIo::new(s);
            let mut got = Vec::new();
            loop {
                let mut buf = [0u8; 5];
                let n =
                    poll_fn(|cx| futures_io::AsyncRead::poll_read(Pin::new(&mut io), cx, &mut buf))
                        .await
                        .unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"through futures-io");
            client.await.unwrap();
        });
    });
}

#[test]
fn hyper_executor_runs_futures_as_local_tasks() {
    use hyper::rt::Executor as _;
    common::each_backend("hyper_executor", |rt, _| {
        rt.block_on(async {
            let ran = Rc::new(Cell::new(0));
            for _ in 0..3 {
                let r = ran.clone();
                // Not Send (an Rc): hyper's executor takes local futures.
                uring_rt::hyper::Executor.execute(async move {
                    uring_rt::yield_now().await;
                    r.set(r.get() + 1);
                });
            }
            assert_eq!(ran.get(), 0, "spawned, not run inline");
            for _ in 0..4 {
                uring_rt::yield_now().await;
            }
            assert_eq!(ran.get(), 3);
        });
    });
}
