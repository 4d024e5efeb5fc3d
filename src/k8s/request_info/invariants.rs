//! Invariants every parsed RequestInfo keeps; checked by the unit tests and the fuzz targets.

use super::info::RequestInfo;
use super::verb::Verb;

impl RequestInfo {
    /// Checks the promises [`super::parse`] makes about its `Ok` results; `Err` names the first
    /// one broken. For tests and fuzz targets: a parsed request never fails this.
    pub fn check_invariants(&self) -> Result<(), String> {
        check(
            self.watch == (self.verb == Verb::Watch),
            "watch == (verb == Watch)",
        )?;
        check(self.path.starts_with('/'), "path starts with '/'")?;
        check(
            !self.is_watch_list() || self.watch,
            "a WatchList is a watch",
        )?;
        if self.is_resource {
            self.check_resource()
        } else {
            self.check_non_resource()
        }
    }

    fn check_resource(&self) -> Result<(), String> {
        let core = self.api_prefix == "api";
        check(
            core || self.api_prefix == "apis",
            "api_prefix is api or apis",
        )?;
        check(core == self.group.is_empty(), "a group exactly under /apis")?;
        check(!self.version.is_empty(), "a version")?;
        check(!self.resource.is_empty(), "a resource")?;
        check(
            self.subresource.is_empty() || !self.name.is_empty(),
            "a subresource has a name",
        )?;
        check(
            self.verb != Verb::Proxy || self.subresource.is_empty(),
            "proxy has no subresource",
        )?;
        let named = matches!(self.verb, Verb::Get | Verb::Delete);
        check(
            !named || !self.name.is_empty(),
            "get and delete have a name",
        )?;
        let collection = matches!(self.verb, Verb::List | Verb::DeleteCollection);
        check(
            !collection || self.name.is_empty(),
            "list and deletecollection have no name",
        )?;
        let parts = [&self.group, &self.version, &self.namespace, &self.resource]
            .into_iter()
            .chain([&self.name, &self.subresource]);
        for part in parts {
            check(!part.contains('/'), "no '/' in a named part")?;
            check(part != "." && part != "..", "no dot segment")?;
            check(!part.chars().any(char::is_control), "no control characters")?;
        }
        Ok(())
    }

    fn check_non_resource(&self) -> Result<(), String> {
        let empty = [
            &self.api_prefix,
            &self.group,
            &self.version,
            &self.namespace,
        ]
        .into_iter()
        .chain([&self.resource, &self.name, &self.subresource])
        .all(|s| s.is_empty());
        check(empty, "non-resource requests name no resource")?;
        let method_verb = matches!(
            self.verb,
            Verb::Get | Verb::Create | Verb::Update | Verb::Patch | Verb::Delete
        );
        check(method_verb, "non-resource verbs come from the method")?;
        let no_options = self.label_selector.is_none()
            && self.field_selector.is_none()
            && self.resource_version.is_none()
            && self.timeout_seconds.is_none()
            && self.limit.is_none()
            && !self.send_initial_events
            && !self.allow_watch_bookmarks;
        check(no_options, "non-resource requests carry no list options")
    }
}

fn check(holds: bool, what: &str) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(format!("invariant broken: {what}"))
    }
}
