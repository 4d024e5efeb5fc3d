//! Shutdown signals: one [`Trigger`] fires, every cloned [`Shutdown`] wakes.

use smol::channel::{bounded, Receiver, Sender};

/// Fires the shutdown; dropping it fires too.
#[derive(Debug)]
pub struct Trigger(Sender<()>);

/// Waits for the shutdown. Cheap to clone; every clone wakes when the trigger fires.
#[derive(Debug, Clone)]
pub struct Shutdown(Receiver<()>);

/// A connected trigger and signal.
///
/// ```
/// let (trigger, shutdown) = yurt::net::shutdown::channel();
/// assert!(!shutdown.is_fired());
/// trigger.fire();
/// smol::block_on(shutdown.wait());
/// assert!(shutdown.is_fired());
/// ```
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = bounded(1);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Fires the signal: every waiter wakes, and later waits return at once.
    pub fn fire(&self) {
        self.0.close();
    }
}

impl Shutdown {
    /// A signal that never fires (for callers that stop by dropping the future instead).
    pub fn never() -> Shutdown {
        let (tx, rx) = bounded(1);
        std::mem::forget(tx);
        Shutdown(rx)
    }

    /// Resolves once the trigger fired (or was dropped).
    pub async fn wait(&self) {
        let _ = self.0.recv().await;
    }

    /// Whether the trigger has fired.
    pub fn is_fired(&self) -> bool {
        self.0.is_closed()
    }
}

/// A [`Shutdown`] that fires on the first SIGTERM or SIGINT. Keep the returned task alive.
pub fn on_signals() -> std::io::Result<(Shutdown, smol::Task<()>)> {
    use async_signal::{Signal, Signals};
    use smol::stream::StreamExt;
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let (trigger, shutdown) = channel();
    let task = smol::spawn(async move {
        if let Some(Ok(sig)) = signals.next().await {
            log::info!("received {sig:?}: shutting down");
        }
        trigger.fire();
    });
    Ok((shutdown, task))
}
