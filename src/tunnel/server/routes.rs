//! The routing table: node name and node IPs → the agent link that serves them. The newest
//! registration of a node wins; the caller closes the one it displaced.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// One registered agent. `L` is the link handle (a [`crate::tunnel::mux::Link`] in the server).
#[derive(Debug)]
pub struct Route<L> {
    /// Unique per registration; a later registration has a larger id.
    pub id: u64,
    pub node: String,
    pub ips: Vec<IpAddr>,
    pub peer: SocketAddr,
    pub since: SystemTime,
    pub link: L,
}

/// Node name / IP → route.
#[derive(Debug)]
pub struct Routes<L> {
    inner: Mutex<Inner<L>>,
}

#[derive(Debug)]
struct Inner<L> {
    by_node: HashMap<String, Arc<Route<L>>>,
    by_ip: HashMap<IpAddr, String>,
}

impl<L> Default for Routes<L> {
    fn default() -> Self {
        Routes {
            inner: Mutex::new(Inner {
                by_node: HashMap::new(),
                by_ip: HashMap::new(),
            }),
        }
    }
}

impl<L> Routes<L> {
    fn lock(&self) -> MutexGuard<'_, Inner<L>> {
        // A panic while holding the lock leaves consistent maps (every update is one insert or
        // remove), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `route`, replacing any earlier route of the same node (returned, to be closed).
    /// Its IPs now point at its node, even if another node claimed them before.
    pub fn insert(&self, route: Arc<Route<L>>) -> Option<Arc<Route<L>>> {
        let mut inner = self.lock();
        let old = inner.by_node.insert(route.node.clone(), route.clone());
        if let Some(old) = &old {
            for ip in &old.ips {
                if inner.by_ip.get(ip) == Some(&old.node) {
                    inner.by_ip.remove(ip);
                }
            }
        }
        for ip in &route.ips {
            inner.by_ip.insert(*ip, route.node.clone());
        }
        old
    }

    /// Removes the route of `node` if it is still registration `id` (a newer one stays).
    pub fn remove(&self, node: &str, id: u64) -> bool {
        let mut inner = self.lock();
        let current = inner.by_node.get(node).map(|r| r.id);
        if current != Some(id) {
            return false;
        }
        if let Some(old) = inner.by_node.remove(node) {
            for ip in &old.ips {
                if inner.by_ip.get(ip).map(String::as_str) == Some(node) {
                    inner.by_ip.remove(ip);
                }
            }
        }
        true
    }

    /// The route for a CONNECT host: a node IP, or a node name (case-insensitive).
    pub fn lookup(&self, host: &str) -> Option<Arc<Route<L>>> {
        let inner = self.lock();
        let node = match host.parse::<IpAddr>() {
            Ok(ip) => inner.by_ip.get(&ip)?.clone(),
            Err(_) => host.to_ascii_lowercase(),
        };
        inner.by_node.get(&node).cloned()
    }

    /// Every route, sorted by node name.
    pub fn list(&self) -> Vec<Arc<Route<L>>> {
        let mut all: Vec<_> = self.lock().by_node.values().cloned().collect();
        all.sort_by(|a, b| a.node.cmp(&b.node));
        all
    }

    /// How many nodes have a route.
    pub fn len(&self) -> usize {
        self.lock().by_node.len()
    }

    /// Whether no node has a route.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: u64, node: &str, ips: &[&str]) -> Arc<Route<()>> {
        Arc::new(Route {
            id,
            node: node.into(),
            ips: ips
                .iter()
                .map(|s| s.parse().expect("test input is valid"))
                .collect(),
            peer: "127.0.0.1:1".parse().expect("test input is valid"),
            since: SystemTime::UNIX_EPOCH,
            link: (),
        })
    }

    #[test]
    fn newest_wins_and_stale_removal_is_ignored() {
        let t = Routes::default();
        assert!(t.insert(route(1, "a", &["10.0.0.1"])).is_none());
        assert_eq!(t.lookup("10.0.0.1").expect("test input is valid").id, 1);
        assert_eq!(t.lookup("A").expect("test input is valid").id, 1);
        let old = t
            .insert(route(2, "a", &["10.0.0.2"]))
            .expect("test input is valid");
        assert_eq!(old.id, 1);
        assert!(t.lookup("10.0.0.1").is_none());
        assert_eq!(t.lookup("10.0.0.2").expect("test input is valid").id, 2);
        assert!(!t.remove("a", 1));
        assert_eq!(t.lookup("a").expect("test input is valid").id, 2);
        assert!(t.remove("a", 2));
        assert!(t.lookup("a").is_none() && t.lookup("10.0.0.2").is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn an_ip_moves_to_the_node_that_registered_it_last() {
        let t = Routes::default();
        t.insert(route(1, "a", &["10.0.0.1"]));
        t.insert(route(2, "b", &["10.0.0.1"]));
        assert_eq!(t.lookup("10.0.0.1").expect("test input is valid").node, "b");
        t.remove("a", 1);
        assert_eq!(t.lookup("10.0.0.1").expect("test input is valid").node, "b");
        assert_eq!(t.list().len(), 1);
    }
}
