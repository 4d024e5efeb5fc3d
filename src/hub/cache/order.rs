//! A watch's events continue the LIST the client made before it: they are applied only once
//! the view holds the state the watch started from (its `resourceVersion`). The LIST is
//! committed by another writer, which may still be decoding it when the first events come;
//! applying them first would leave a gap (events between the old view and the LIST) that the
//! LIST, then older than the view, could no longer fill.

use std::time::{Duration, Instant};

use crate::store::{Store, ViewKey};

/// How long a watch's events wait for the LIST they follow before the stream is not cached.
pub const WAIT_FOR_LIST: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(5);

/// Whether the view holds everything up to `from`, waiting up to [`WAIT_FOR_LIST`] (blocking:
/// call it on the blocking pool). A watch without a resourceVersion (or `0`) has nothing to
/// wait for.
pub fn caught_up(store: &Store, view: &ViewKey, from: Option<u64>) -> bool {
    let Some(from) = from.filter(|rv| *rv > 0) else {
        return true;
    };
    let deadline = Instant::now() + WAIT_FOR_LIST;
    loop {
        match store.scan(view) {
            Ok(Some((m, _))) if m.resource_version >= from => return true,
            Err(_) => return false,
            _ => {}
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
