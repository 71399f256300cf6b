//! `kill -9` durability of the embedded backend: a child process (this test binary, running the
//! ignored `crash_child_writer` entry point) writes and reports each acknowledged revision; the
//! parent kills it without warning mid-stream, reopens the file and checks that every
//! acknowledged write is there and that the state is exactly a prefix of the write sequence.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bytes::Bytes;
use corten_storage::embedded::EmbeddedBackend;
use corten_storage::{Backend, ReadAt, Revision};

const CHILD_DB_ENV: &str = "CORTEN_STORAGE_CRASH_CHILD_DB";
const ACK_PREFIX: &str = "acked ";
/// How many acknowledged writes the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 200;

fn key(index: u64) -> String {
    format!("/crash/{index:08}")
}

/// Child side: writes forever (until killed), printing each acknowledged revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "entry point of the child process spawned by kill_minus_nine_keeps_every_acknowledged_write"]
async fn crash_child_writer() {
    let path = std::env::var(CHILD_DB_ENV).expect("run only as the crash test's child");
    let store = EmbeddedBackend::open(std::path::Path::new(&path)).expect("open");
    for index in 1..u64::MAX {
        let revision = store.create(&key(index), Bytes::from(index.to_string())).await.expect("create");
        println!("{ACK_PREFIX}{}", revision.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child_writer", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    // Kept open until after the kill, so the child never sees a closed pipe and exits on its own.
    let mut output = BufReader::new(child.stdout.take().expect("child stdout"));
    let mut last_acked = 0u64;
    let mut acks = 0usize;
    let mut line = String::new();
    while output.read_line(&mut line).expect("read child output") > 0 {
        if let Some(revision) = line.strip_prefix(ACK_PREFIX) {
            last_acked = revision.trim().parse().expect("revision");
            acks += 1;
            if acks == ACKS_BEFORE_KILL {
                break;
            }
        }
        line.clear();
    }
    assert_eq!(acks, ACKS_BEFORE_KILL, "the child stopped before acknowledging enough writes");
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    drop(output);

    let store = EmbeddedBackend::open(&path).expect("reopen after kill -9");
    let current = store.current_revision().await.expect("revision");
    assert!(current.0 >= last_acked, "acknowledged revision {last_acked} lost; store is at {current:?}");
    // Write n created key n at revision n: the reopened state must be exactly writes 1..=current.
    let page = store.list("/crash/", None, None, ReadAt::Latest).await.expect("list");
    assert_eq!(page.items.len() as u64, current.0, "one key per committed revision");
    for (index, kv) in (1..).zip(&page.items) {
        assert_eq!(kv.key, key(index));
        assert_eq!(kv.mod_revision, Revision(index));
        assert_eq!(kv.value, Bytes::from(index.to_string()));
    }
    let next = store.create("/crash/after", Bytes::from_static(b"x")).await.expect("write after reopen");
    assert_eq!(next, Revision(current.0 + 1));
}
