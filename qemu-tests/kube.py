#!/usr/bin/env python3
"""Host-side Kubernetes client for the QEMU scenarios (standard library only).

The guest's hub is reached through a forwarded port (plain HTTP, as kubelet reaches it on
127.0.0.1:10261); the API double directly over TLS with the admin certificate of the test PKI
(qemu-tests/lib.sh cloud_pki). Subcommands:

  list-items FILE [--pb]           prints "<list rv> <n> items" and one "<ns/name> <rv>" per item
  same-list GOT WANT [--pb]        two LIST answers hold the same resourceVersion and the same items
                                   (key, resourceVersion, content: exact bytes in protobuf, equal
                                   JSON values otherwise) in the same order
  churn --api URL --pki DIR --node N --stop FILE
                                   creates, patches and deletes pods on the double until FILE exists
  informer --hub PORT --ua UA --path P --stop FILE [--watchlist]
                                   LIST + WATCH (or WatchList) through the hub like a client-go
                                   informer, starting over every 1-3 s, until FILE exists
  verify-views --hub PORT --api URL --pki DIR --view 'COMPONENT|UA|PATH' ...
                                   for each view: the hub's (offline) LIST equals the double's state
                                   at that LIST's resourceVersion (resourceVersionMatch=Exact): a
                                   complete old or new state, never a torn one; one line per view
  view-rvs --hub-server PORT --resource R [--above COMPONENT=RV ...] [--wait S]
                                   "<component> <rv>" of the cached views per GET /v1/cache; with
                                   --above, waits until those views are past those RVs

Exit status 0 = the check held; 1 = it did not (the reason on stdout); 2 = usage or transport error.
"""
import argparse
import http.client
import json
import os
import random
import ssl
import sys
import time
import urllib.parse

JSON = "application/json"
PB = "application/vnd.kubernetes.protobuf"


# ---------------------------------------------------------------- protobuf (k8s\0 + runtime.Unknown)

def _varint(b, i):
    shift = n = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, i
        shift += 7


def _fields(b):
    """(field number, wire type, value) of one message; value is bytes for wire type 2."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            ln, i = _varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, wt, v


def _first(b, num):
    return next((v for n, wt, v in _fields(b) if n == num and wt == 2), b"")


def pb_list(body):
    """(list rv, [(ns/name, rv, item bytes)]) of a protobuf List (DESIGN.md: List = {metadata=1,
    items=2}, ObjectMeta = field 1 with name=1, namespace=3, resourceVersion=6)."""
    if not body.startswith(b"k8s\x00"):
        raise ValueError("not a Kubernetes protobuf body")
    raw = _first(body[4:], 2)
    rv = _first(_first(raw, 1), 2).decode()
    items = []
    for n, wt, item in _fields(raw):
        if n == 2 and wt == 2:
            meta = _first(item, 1)
            key = f"{_first(meta, 3).decode()}/{_first(meta, 1).decode()}"
            items.append((key, _first(meta, 6).decode(), bytes(item)))
    return rv, items


def json_list(body, untyped=False):
    """(list rv, [(ns/name, rv, item JSON with sorted keys)]). untyped: drop the items' own
    apiVersion/kind (a watch event's object carries them, a LIST's items do not)."""
    v = json.loads(body)
    if not isinstance(v.get("items"), list):
        raise ValueError(f"not a list: {body[:200]!r}")
    items = []
    for it in v["items"]:
        if untyped:
            it = {k: x for k, x in it.items() if k not in ("apiVersion", "kind")}
        m = it.get("metadata", {})
        key = f"{m.get('namespace', '')}/{m.get('name', '')}"
        items.append((key, m.get("resourceVersion", ""), json.dumps(it, sort_keys=True).encode()))
    return v.get("metadata", {}).get("resourceVersion", ""), items


def parse_list(body, pb):
    return pb_list(body) if pb else json_list(body)


def diff(got, want):
    """None when equal, else one line saying how they differ."""
    (grv, gi), (wrv, wi) = got, want
    if grv != wrv:
        return f"list resourceVersion {grv} != {wrv}"
    gk, wk = [k for k, _, _ in gi], [k for k, _, _ in wi]
    if gk != wk:
        return f"items differ: only got {sorted(set(gk) - set(wk))[:5]}, only want {sorted(set(wk) - set(gk))[:5]} (or order)"
    for (k, grv_i, gb), (_, wrv_i, wb) in zip(gi, wi):
        if grv_i != wrv_i:
            return f"{k}: resourceVersion {grv_i} != {wrv_i}"
        if gb != wb:
            return f"{k}: bytes differ ({len(gb)} vs {len(wb)})"
    return None


# ---------------------------------------------------------------- HTTP

class Api:
    """The double over TLS with the admin certificate; keep-alive, reconnect on error."""

    def __init__(self, url, pki):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.conn = None

    def req(self, method, path, body=None, ctype=JSON, accept=JSON):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
                headers = {"Accept": accept, "User-Agent": "qemu-tests-admin/v1"}
                data = None
                if body is not None:
                    data = json.dumps(body).encode()
                    headers["Content-Type"] = ctype
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")


def hub_get(port, path, ua, accept, timeout=20):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path, headers={"User-Agent": ua, "Accept": accept})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def with_query(path, **kv):
    u = urllib.parse.urlsplit(path)
    q = [(k, v) for k, v in urllib.parse.parse_qsl(u.query) if k not in kv and k not in ("limit", "resourceVersion")]
    q += [(k, str(v)) for k, v in kv.items() if v is not None]
    return urllib.parse.urlunsplit(("", "", u.path, urllib.parse.urlencode(q), ""))


# ---------------------------------------------------------------- subcommands

def cmd_list_items(a):
    rv, items = parse_list(open(a.file, "rb").read(), a.pb)
    print(f"{rv} {len(items)} items")
    for k, irv, _ in items:
        print(k, irv)
    return 0


def cmd_same_list(a):
    try:
        got = parse_list(open(a.got, "rb").read(), a.pb)
        want = parse_list(open(a.want, "rb").read(), a.pb)
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        print(f"cannot parse: {e}")
        return 1
    if not want[1]:
        print("the reference list is empty: nothing to compare")
        return 1
    d = diff(got, want)
    if d:
        print(d)
        return 1
    print(f"rv {got[0]}, {len(got[1])} items, byte-identical")
    return 0


def cmd_churn(a):
    """Pods churn-0..churn-(N-1) in `default`: on node a.node or another, labelled app=churn or
    app=other; each step creates an absent pod, or patches a present one (annotation, sometimes
    the label: it moves in or out of a label-selected view), or deletes it."""
    api = Api(a.api, a.pki)
    rnd = random.Random(a.seed)
    present = {}
    ops = 0
    base = "/api/v1/namespaces/default/pods"
    while not os.path.exists(a.stop):
        i = rnd.randrange(a.pods)
        name = f"churn-{i}"
        if name not in present:
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "default",
                             "labels": {"app": rnd.choice(["churn", "other"])}},
                "spec": {"nodeName": rnd.choice([a.node, a.node, "other-node"]),
                         "containers": [{"name": "c", "image": "busybox"}]},
            }
            st, body = api.req("POST", base, pod)
            if st not in (201, 409):
                print(f"churn: create {name}: {st} {body[:200]!r}", file=sys.stderr)
                return 2
            present[name] = True
        elif rnd.random() < 0.75:
            patch = {"metadata": {"annotations": {"seq": str(ops)}}}
            if rnd.random() < 0.3:
                patch["metadata"]["labels"] = {"app": rnd.choice(["churn", "other"])}
            st, body = api.req("PATCH", f"{base}/{name}", patch, ctype="application/merge-patch+json")
            if st == 404:
                present.pop(name, None)
            elif st != 200:
                print(f"churn: patch {name}: {st} {body[:200]!r}", file=sys.stderr)
                return 2
        else:
            st, body = api.req("DELETE", f"{base}/{name}")
            if st not in (200, 404):
                print(f"churn: delete {name}: {st} {body[:200]!r}", file=sys.stderr)
                return 2
            present.pop(name, None)
        ops += 1
        if a.interval:
            time.sleep(a.interval)
    print(f"churn: {ops} changes")
    return 0


def cmd_informer(a):
    """LIST, then WATCH from its resourceVersion for a few seconds, again; with --watchlist, a
    WatchList instead (client-go 1.35+: initial events up to the initial-events-end bookmark, then
    the stream). Errors (the guest is killed under us) just mean: try again until the stop file
    appears."""
    rnd = random.Random()
    lists = events = 0
    while not os.path.exists(a.stop):
        try:
            if a.watchlist:
                wpath = with_query(a.path, watch="true", sendInitialEvents="true",
                                   resourceVersionMatch="NotOlderThan", resourceVersion=None,
                                   allowWatchBookmarks="true", timeoutSeconds=rnd.randint(1, 3))
                lists += 1
            else:
                st, body = hub_get(a.hub, with_query(a.path, limit=500, resourceVersion=0), a.ua, JSON, timeout=10)
                if st != 200:
                    time.sleep(0.3)
                    continue
                rv, _ = json_list(body)
                lists += 1
                wpath = with_query(a.path, watch="true", resourceVersion=rv, allowWatchBookmarks="true",
                                   timeoutSeconds=rnd.randint(1, 3))
            c = http.client.HTTPConnection("127.0.0.1", a.hub, timeout=10)
            c.request("GET", wpath, headers={"User-Agent": a.ua, "Accept": JSON})
            r = c.getresponse()
            while not os.path.exists(a.stop):
                line = r.readline()
                if not line:
                    break
                events += 1
            c.close()
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.3)
    print(f"informer {a.ua}: {lists} lists, {events} watch events")
    return 0


def verify_view(api, hub, ua, path):
    """(True, summary) when the hub's LIST of the view is the double's exact state at its rv."""
    try:
        st, body = hub_get(hub, with_query(path, limit=500, resourceVersion=0), ua, JSON)
    except (OSError, http.client.HTTPException) as e:
        return False, f"hub LIST failed: {e}"
    if st != 200:
        return False, f"hub LIST answered {st}: {body[:300]!r}"
    # The view was filled by LISTs and watch events alike; compare without the items' type fields.
    got = json_list(body, untyped=True)
    rv = got[0]
    if not rv.isdigit() or int(rv) == 0:
        return False, f"the cached list has no resourceVersion ({rv!r})"
    st, body = api.req("GET", with_query(path, resourceVersion=rv, resourceVersionMatch="Exact"))
    if st != 200:
        return False, f"direct LIST at resourceVersion {rv} answered {st}: {body[:300]!r}"
    # The hub keeps a view's objects by key; compare as sets in key order.
    want = (rv, sorted(json_list(body, untyped=True)[1]))
    got = (rv, sorted(got[1]))
    d = diff(got, want)
    if d:
        return False, f"view at rv {rv} is not the double's state at rv {rv}: {d}"
    # The comparison itself must be able to fail: a state missing one object is caught.
    if want[1]:
        assert diff(got, (rv, want[1][1:])), "self-check: a missing object went unnoticed"
    return True, f"rv {rv}: {len(got[1])} objects, the double's exact state at that resourceVersion"


def cmd_verify_views(a):
    """One line per --view component|user agent|path: "pass|fail <component> <summary>"."""
    api = Api(a.api, a.pki)
    bad = 0
    for v in a.view:
        name, ua, path = v.split("|")[:3]
        ok, msg = verify_view(api, a.hub, ua, path)
        print("pass" if ok else "fail", name, msg, flush=True)
        bad += not ok
    return 1 if bad else 0


def view_rvs(port, resource):
    """{component: resourceVersion} of the cached views of `resource` per GET /v1/cache."""
    st, body = hub_get(port, "/v1/cache", "qemu-tests", JSON, timeout=10)
    out = {}
    if st == 200:
        for v in json.loads(body).get("views", []):
            if v["resource"] == resource:
                out[v["component"]] = max(out.get(v["component"], 0), int(v["resource_version"]))
    return out


def cmd_view_rvs(a):
    """Prints "<component> <rv>" per view of the resource (0 when absent). With --above C=RV...,
    polls until every named component's view is above that RV (or --wait seconds pass; exit 1)."""
    need = dict(x.split("=") for x in a.above)
    deadline = time.monotonic() + a.wait
    while True:
        try:
            rvs = view_rvs(a.hub_server, a.resource)
        except (OSError, http.client.HTTPException, ValueError):
            rvs = {}
        if all(rvs.get(c, 0) > int(rv) for c, rv in need.items()) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    for c in sorted(set(rvs) | set(need)):
        print(c, rvs.get(c, 0))
    return 0 if all(rvs.get(c, 0) > int(rv) for c, rv in need.items()) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("list-items")
    s.add_argument("file")
    s.add_argument("--pb", action="store_true")
    s = sub.add_parser("same-list")
    s.add_argument("got")
    s.add_argument("want")
    s.add_argument("--pb", action="store_true")
    s = sub.add_parser("churn")
    for f in ("--api", "--pki", "--node", "--stop"):
        s.add_argument(f, required=True)
    s.add_argument("--pods", type=int, default=40)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--interval", type=float, default=0.0)
    s = sub.add_parser("informer")
    s.add_argument("--hub", type=int, required=True)
    for f in ("--ua", "--path", "--stop"):
        s.add_argument(f, required=True)
    s.add_argument("--watchlist", action="store_true")
    s = sub.add_parser("verify-views")
    s.add_argument("--hub", type=int, required=True)
    for f in ("--api", "--pki"):
        s.add_argument(f, required=True)
    s.add_argument("--view", action="append", required=True)
    s = sub.add_parser("view-rvs")
    s.add_argument("--hub-server", type=int, required=True)
    s.add_argument("--resource", required=True)
    s.add_argument("--above", action="append", default=[])
    s.add_argument("--wait", type=float, default=0)
    a = p.parse_args()
    try:
        return globals()["cmd_" + a.cmd.replace("-", "_")](a)
    except (OSError, http.client.HTTPException) as e:
        print(f"{a.cmd}: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
