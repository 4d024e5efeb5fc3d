//! Fuzz property: a view never seen online, served offline by filtering a broader view
//! (`hub::cache::filter`), holds exactly the objects kube-apiserver would have answered.
//!
//! Input, one item a line: the broad view's labelSelector, its fieldSelector, the wanted view's
//! labelSelector, its fieldSelector, the broad view's namespace, the wanted one's, then objects
//! as `namespace/name key=value,key`. More objects are made from the keys and values the
//! selectors name. Whenever `plan` accepts, every object of the broad view must be matched by
//! the filter exactly when the wanted selectors, evaluated by the reference
//! (`selector_reference.rs`: `labels.Parse` and `fields.ParseSelector`), select it:
//! "never silently return a wrong set" (DESIGN.md). Selectors the apiserver rejects are outside
//! the property (no view of them is ever stored), and so are label selectors with NUL bytes,
//! which the apiserver's lexer reads as the end of the string.
//!
//! Second property: the offline check of a request's selectors (`k8s::selector_syntax`) refuses
//! exactly the label selectors the reference refuses (NUL-free), and never a field selector the
//! reference takes, so offline the hub answers 400 where the cloud would, and only there.

use super::selector_reference::Sel;
use crate::hub::cache::filter::plan;
use crate::k8s::meta::Meta;
use crate::k8s::selector_syntax::{check_fields, check_labels};
use crate::store::{Gvr, ViewKey};

/// Checks the property on `data`; panics on a violation.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let mut line = || lines.next().unwrap_or_default().to_string();
    let (bl, bf, wl, wf, bns, wns) = (line(), line(), line(), line(), line(), line());
    let objects: Vec<Obj> = lines.filter_map(object).collect();
    for (l, f) in [(&bl, &bf), (&wl, &wf)] {
        if !l.contains('\0') {
            assert_eq!(
                check_labels(l).is_ok(),
                Sel::parse("", l, "").is_some(),
                "labelSelector {l:?}: the offline check and the reference disagree"
            );
        }
        if let Err(e) = check_fields(f) {
            assert!(
                Sel::parse("", "", f).is_none(),
                "fieldSelector {f:?} refused offline ({e}) but taken by the apiserver"
            );
        }
    }
    let Some(filter) = plan(&view(&bns, &bl, &bf), &view(&wns, &wl, &wf)) else {
        return;
    };
    let (Some(broad), Some(want)) = (Sel::parse(&bns, &bl, &bf), Sel::parse(&wns, &wl, &wf)) else {
        return;
    };
    let made = made_objects(&[&broad, &want], data);
    for o in objects.iter().chain(&made).filter(|o| broad.matches(o)) {
        assert_eq!(
            filter.matches(&o.meta),
            want.matches(o),
            "object {:?} {:?} from broad ({bns:?} {bl:?} {bf:?}) for ({wns:?} {wl:?} {wf:?})",
            o.meta,
            o.fields
        );
    }
}

/// An object: its metadata and the other fields a field selector may name.
pub struct Obj {
    pub meta: Meta,
    pub fields: Vec<(String, String)>,
}

/// kube-proxy's normalised view of services in `ns` with these selectors (also the filter's unit
/// tests' views).
pub(crate) fn view(ns: &str, labels: &str, fields: &str) -> ViewKey {
    ViewKey {
        component: "kube-proxy".into(),
        gvr: Gvr::new("", "v1", "services"),
        namespace: ns.into(),
        label_selector: labels.into(),
        field_selector: fields.into(),
        ..ViewKey::default()
    }
    .normalized()
}

fn object(line: &str) -> Option<Obj> {
    let (id, labels) = line.split_once(' ').unwrap_or((line, ""));
    let (namespace, name) = id.split_once('/')?;
    let mut meta = Meta {
        namespace: namespace.into(),
        name: name.into(),
        ..Meta::default()
    };
    for l in labels.split(',').filter(|l| !l.is_empty()) {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        set_label(&mut meta, k, v);
    }
    Some(Obj {
        meta,
        fields: Vec::new(),
    })
}

/// Sets a label, keeping the labels sorted with one entry per key, as `Meta` has them.
fn set_label(meta: &mut Meta, k: &str, v: &str) {
    match meta.labels.binary_search_by(|(key, _)| key.as_str().cmp(k)) {
        Ok(i) => meta.labels[i].1 = v.into(),
        Err(i) => meta.labels.insert(i, (k.into(), v.into())),
    }
}

/// Objects built from every key, value, field, name and namespace the selectors mention.
fn made_objects(sels: &[&Sel], data: &[u8]) -> Vec<Obj> {
    let mut keys: Vec<&str> = Vec::new();
    let mut values: Vec<&str> = vec!["", "other"];
    let mut fields: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = vec!["n"];
    let mut namespaces: Vec<&str> = vec!["ns"];
    for s in sels {
        namespaces.push(&s.namespace);
        for r in &s.labels {
            keys.push(&r.key);
            values.extend(r.values.iter().map(String::as_str));
        }
        for (f, _, v) in &s.fields {
            match f.as_str() {
                "metadata.name" => names.push(v),
                "metadata.namespace" => namespaces.push(v),
                f => fields.push(f),
            }
            values.push(v);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    fields.sort_unstable();
    fields.dedup();
    let mut rng = data
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .max(1);
    let mut pick = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    (0..48)
        .map(|_| {
            let mut meta = Meta {
                namespace: namespaces[pick(namespaces.len())].into(),
                name: names[pick(names.len())].into(),
                ..Meta::default()
            };
            for k in &keys {
                let v = pick(values.len() + 1);
                if v < values.len() {
                    set_label(&mut meta, k, values[v]);
                }
            }
            let fields = fields
                .iter()
                .map(|f| (f.to_string(), values[pick(values.len())].to_string()))
                .collect();
            Obj { meta, fields }
        })
        .collect()
}
