//! Measures embedded write throughput, sequential versus concurrent (group commit). Ignored by
//! default because it only reports numbers; run it with
//! `cargo test -p corten-storage --release --test throughput -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use corten_storage::embedded::EmbeddedBackend;
use corten_storage::{Backend, Revision};

const SEQUENTIAL_WRITES: u64 = 500;
const WRITERS: u64 = 64;
const WRITES_PER_WRITER: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints a measurement; run explicitly"]
async fn report_write_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedBackend::open(&dir.path().join("store.redb")).expect("open"));
    let value = Bytes::from(vec![b'x'; 1024]);

    let started = Instant::now();
    for index in 0..SEQUENTIAL_WRITES {
        store.create(&format!("/seq/{index}"), value.clone()).await.expect("create");
    }
    let sequential = SEQUENTIAL_WRITES as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            let value = value.clone();
            tokio::spawn(async move {
                for index in 0..WRITES_PER_WRITER {
                    store.create(&format!("/par/{writer}/{index}"), value.clone()).await.expect("create");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let concurrent = (WRITERS * WRITES_PER_WRITER) as f64 / started.elapsed().as_secs_f64();

    let total = SEQUENTIAL_WRITES + WRITERS * WRITES_PER_WRITER;
    assert_eq!(store.current_revision().await.expect("revision"), Revision(total), "every write landed exactly once");
    println!("embedded writes/s (1 KiB values, durable): sequential {sequential:.0}, {WRITERS} concurrent writers {concurrent:.0}");
}
