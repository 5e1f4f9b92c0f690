//! The test attributes: `#[uring_rt::test]` runs an `async fn` on each backend,
//! `#[uring_rt::sim_test]` runs a simulation for many seeds and fails with the seed.
use std::cell::RefCell;
use std::time::Duration;

use uring_rt::fs::File;
use uring_rt::sim::Sim;

#[uring_rt::test]
async fn the_test_attribute_runs_an_async_body() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("f");
    let f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await?;
    f.write_all_at(b"both backends".to_vec(), 0).await.0?;
    let (n, buf) = f.read_at(vec![0; 64], 0).await;
    assert_eq!(&buf[..n?], b"both backends");
    uring_rt::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}

#[uring_rt::test]
#[should_panic(expected = "the body's error")]
async fn an_error_fails_the_test() -> Result<(), String> {
    Err("the body's error".to_string())
}

thread_local! {
    static SEEDS: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

#[uring_rt::sim_test(seeds = 12)]
fn the_sim_test_attribute_runs_each_seed(sim: &mut Sim) {
    SEEDS.with(|s| s.borrow_mut().push(sim.seed()));
    sim.client("c", |node| async move {
        let f = File::create(node.dir().join("x")).await.unwrap();
        f.write_all_at(vec![1; 10], 0).await.0.unwrap();
        uring_rt::time::sleep(Duration::from_secs(10)).await;
    });
}

#[test]
fn seeds_are_counted_from_the_base() {
    // Without the variables, `seeds = 12` runs seeds 0 to 11, the first twice.
    if std::env::var_os("URING_SIM_SEED").is_some() || std::env::var_os("URING_SIM_SEEDS").is_some()
    {
        return;
    }
    SEEDS.with(|s| s.borrow_mut().clear());
    the_sim_test_attribute_runs_each_seed();
    let seen = SEEDS.with(|s| s.borrow().clone());
    let mut want: Vec<u64> = vec![0];
    want.extend(0..12);
    assert_eq!(seen, want);
}

#[uring_rt::sim_test(seeds = 50)]
#[should_panic(expected = "URING_SIM_SEED=")]
fn a_failing_seed_fails_the_test_with_its_seed(sim: &mut Sim) {
    sim.client("c", |_| async move {
        uring_rt::time::sleep(Duration::from_millis(1)).await;
        panic!("always fails");
    });
}
