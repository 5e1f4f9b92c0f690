//! Copies a file through the ring: `cargo run -p uring-rt --example copy -- SRC DST`.
use uring_rt::IoBuf;
use uring_rt::fs::File;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(from), Some(to)) = (args.next(), args.next()) else {
        eprintln!("usage: copy SRC DST");
        std::process::exit(2);
    };
    uring_rt::block_on(async {
        let (src, dst) = (File::open(&from).await?, File::create(&to).await?);
        let (mut buf, mut pos) = (vec![0u8; 1 << 16], 0);
        loop {
            let (n, b) = src.read_at(buf, pos).await;
            let n = n?;
            if n == 0 {
                break dst.sync_all().await;
            }
            let (res, b) = dst.write_all_at(b.slice(..n), pos).await;
            res?;
            (buf, pos) = (b.into_inner(), pos + n as u64);
        }
    })
}
