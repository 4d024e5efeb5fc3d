//! A model of client-go's reflector (ListAndWatch), as node-clients.md §1 describes it, run on a
//! thread against the hub: LIST (`limit=500&resourceVersion=0`) then WATCH, or a WatchList; a
//! watch that ends cleanly is re-opened from the last resourceVersion; an ERROR event, an error
//! answer or a very short empty watch relists (with the last resourceVersion, `""` after a 410);
//! connection refused backs off and re-watches.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use super::informer::Informer;
use super::stream::{self, encoding, Chunk, Conn, Ev, Items};

/// Back-off between failed attempts (client-go starts at 0.8 s; shorter keeps tests quick).
const BACKOFF: Duration = Duration::from_millis(400);

/// One completed sync (LIST answer, or WatchList initial events up to their bookmark).
#[derive(Debug, Clone)]
pub struct Synced {
    pub watch_list: bool,
    /// From sending the request to having the whole state.
    pub took: Duration,
    pub at: Instant,
    pub rv: String,
    pub items: Items,
    pub content_type: String,
}

/// How a watch stream ended.
#[derive(Debug, Clone)]
pub struct WatchEnd {
    /// With the last chunk, not a cut connection.
    pub clean: bool,
    pub lasted: Duration,
    pub events: usize,
    /// An ERROR event's code.
    pub error: Option<i32>,
    pub at: Instant,
}

/// Everything the reflector saw.
#[derive(Debug, Default)]
pub struct State {
    pub syncs: Vec<Synced>,
    /// (HTTP status or 0 for transport, what) of each failed attempt.
    pub failures: Vec<(u16, String)>,
    pub ends: Vec<WatchEnd>,
    /// The informer's store and last synced resourceVersion.
    pub items: Items,
    pub last_rv: String,
    /// Since when the current watch (or WatchList stream past its bookmark) is open.
    pub watching_since: Option<Instant>,
    /// resourceVersions that are not decimal integers (kubelet parses them).
    pub bad_rvs: Vec<String>,
    /// WatchList streams that ended before their initial-events-end bookmark.
    pub no_bookmark: usize,
}

/// A running reflector; stops when dropped.
pub struct Reflector {
    pub spec: Informer,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reflector {
    pub fn start(addr: SocketAddr, spec: Informer) -> Reflector {
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, sp) = (spec.clone(), state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            Run {
                addr,
                spec: s,
                state: st,
                stop: sp,
            }
            .run()
        });
        Reflector {
            spec,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `done(state)`; false after `within`.
    pub fn wait(&self, within: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if done(&self.state()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done(&self.state())
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Run {
    addr: SocketAddr,
    spec: Informer,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

/// A watch stream being read: events already decoded and bytes not yet decoded.
struct Open {
    conn: Conn,
    pending: Vec<Ev>,
    buf: Vec<u8>,
}

/// How following a stream ended.
enum Followed {
    Ended(WatchEnd),
    Stopped,
}

impl Run {
    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn get(&self, path: &str) -> std::io::Result<Conn> {
        let h = [
            ("User-Agent", self.spec.ua.as_str()),
            ("Accept", self.spec.accept.as_str()),
        ];
        stream::open(self.addr, "GET", path, &h, b"")
    }

    fn fail(&self, code: u16, what: String) {
        self.st().failures.push((code, what));
        self.pause(BACKOFF);
    }

    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.stopped() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn check_rv(&self, rv: &str) {
        if yurt::k8s::meta::rv_u64(rv).is_none() {
            self.st().bad_rvs.push(rv.to_string());
        }
    }

    fn run(self) {
        let mut relist_rv = if self.spec.watch_list { "" } else { "0" }.to_string();
        while !self.stopped() {
            let synced = if self.spec.watch_list {
                self.watch_list(&relist_rv)
            } else {
                self.list(&relist_rv)
            };
            let mut stream = match synced {
                Ok(s) => s,
                Err(code) => {
                    if code == 410 {
                        relist_rv.clear();
                    }
                    continue;
                }
            };
            loop {
                if self.stopped() {
                    return;
                }
                let open = match stream.take() {
                    Some(o) => o,
                    None => {
                        let rv = self.st().last_rv.clone();
                        match self.get(&self.spec.watch_path(&rv)) {
                            Ok(c) if c.status == 200 => {
                                self.st().watching_since = Some(Instant::now());
                                Open {
                                    conn: c,
                                    pending: Vec::new(),
                                    buf: Vec::new(),
                                }
                            }
                            Ok(c) => {
                                self.fail(c.status, "watch".into());
                                break;
                            }
                            Err(e) => {
                                self.fail(0, format!("watch: {e}"));
                                continue;
                            }
                        }
                    }
                };
                let end = match self.follow(open) {
                    Followed::Stopped => return,
                    Followed::Ended(e) => e,
                };
                self.st().watching_since = None;
                let relist = end.error.is_some()
                    || (end.clean && end.events == 0 && end.lasted < Duration::from_secs(1));
                self.st().ends.push(end);
                if relist {
                    self.pause(BACKOFF);
                    break;
                }
            }
            relist_rv = self.st().last_rv.clone();
        }
    }

    /// LIST; `Err(status)` after recording the failure.
    fn list(&self, rv: &str) -> Result<Option<Open>, u16> {
        let start = Instant::now();
        let c = match self.get(&self.spec.list_path(rv)) {
            Ok(c) => c,
            Err(e) => {
                self.fail(0, format!("list: {e}"));
                return Err(0);
            }
        };
        let (status, ct) = (c.status, c.header("content-type").unwrap_or("").to_string());
        let body = c.body(Duration::from_secs(10));
        let Some(body) = body.filter(|_| status == 200) else {
            self.fail(status, "list".into());
            return Err(status);
        };
        let (rv, items) = stream::list(encoding(&ct), &body);
        self.check_rv(&rv);
        items.values().for_each(|o| self.check_rv(&o.rv));
        let mut st = self.st();
        st.items = items.clone();
        st.last_rv = rv.clone();
        st.syncs.push(Synced {
            watch_list: false,
            took: start.elapsed(),
            at: Instant::now(),
            rv,
            items,
            content_type: ct,
        });
        Ok(None)
    }

    /// WatchList: the stream, past its initial-events-end bookmark, goes on as the watch.
    fn watch_list(&self, rv: &str) -> Result<Option<Open>, u16> {
        let start = Instant::now();
        let mut c = match self.get(&self.spec.watch_list_path(rv)) {
            Ok(c) if c.status == 200 => c,
            Ok(c) => {
                self.fail(c.status, "watchlist".into());
                return Err(c.status);
            }
            Err(e) => {
                self.fail(0, format!("watchlist: {e}"));
                return Err(0);
            }
        };
        let ct = c.header("content-type").unwrap_or("").to_string();
        let enc = encoding(&ct);
        let (mut buf, mut initial) = (Vec::new(), Items::new());
        loop {
            match c.next() {
                Chunk::Data(d) => buf.extend(d),
                Chunk::Pending if !self.stopped() => continue,
                Chunk::Pending => return Err(0),
                Chunk::End | Chunk::Broken => {
                    self.st().no_bookmark += 1;
                    self.fail(200, "watchlist ended before its bookmark".into());
                    return Err(0);
                }
            }
            let mut evs = stream::events(enc, &mut buf).into_iter();
            while let Some(ev) = evs.next() {
                match ev {
                    Ev::Added(o) | Ev::Modified(o) => {
                        self.check_rv(&o.rv);
                        initial.insert(o.key.clone(), o);
                    }
                    Ev::Deleted(o) => {
                        initial.remove(&o.key);
                    }
                    Ev::Bookmark {
                        rv,
                        initial_end: true,
                    } => {
                        self.check_rv(&rv);
                        let mut st = self.st();
                        st.items = initial.clone();
                        st.last_rv = rv.clone();
                        st.watching_since = Some(Instant::now());
                        st.syncs.push(Synced {
                            watch_list: true,
                            took: start.elapsed(),
                            at: Instant::now(),
                            rv,
                            items: initial,
                            content_type: ct,
                        });
                        drop(st);
                        return Ok(Some(Open {
                            conn: c,
                            pending: evs.collect(),
                            buf,
                        }));
                    }
                    Ev::Bookmark { .. } => {}
                    Ev::Error(code) => {
                        self.fail(code as u16, "watchlist ERROR event".into());
                        return Err(code as u16);
                    }
                }
            }
        }
    }

    /// Follows a watch until it ends, applying its events to the store.
    fn follow(&self, open: Open) -> Followed {
        let Open {
            conn: mut c,
            mut pending,
            mut buf,
        } = open;
        let enc = encoding(c.header("content-type").unwrap_or("application/json"));
        let start = Instant::now();
        let (mut events, mut error) = (0, None);
        let clean = loop {
            let mut evs = std::mem::take(&mut pending);
            evs.extend(stream::events(enc, &mut buf));
            for ev in evs {
                events += 1;
                let mut st = self.st();
                match ev {
                    Ev::Added(o) | Ev::Modified(o) => {
                        st.last_rv = o.rv.clone();
                        st.items.insert(o.key.clone(), o);
                    }
                    Ev::Deleted(o) => {
                        st.last_rv = o.rv.clone();
                        st.items.remove(&o.key);
                    }
                    Ev::Bookmark { rv, .. } => st.last_rv = rv,
                    Ev::Error(code) => error = Some(code),
                }
                let rv = st.last_rv.clone();
                drop(st);
                self.check_rv(&rv);
            }
            if error.is_some() {
                break true;
            }
            match c.next() {
                Chunk::Data(d) => buf.extend(d),
                Chunk::Pending if self.stopped() => return Followed::Stopped,
                Chunk::Pending => {}
                Chunk::End => break true,
                Chunk::Broken => break false,
            }
        };
        Followed::Ended(WatchEnd {
            clean,
            lasted: start.elapsed(),
            events,
            error,
            at: Instant::now(),
        })
    }
}
