//! Lints the image recipes under `images/` without Yocto or Buildroot: the Yocto recipe and the
//! Buildroot package parse line by line with a minimal checker, every file they install exists,
//! every variable they use is defined (or is a known global of the build system), the service units
//! start binaries the multicall dispatcher knows, and the kubelet drop-in points at the hub.
//! What this does not prove: that bitbake or Buildroot build the package (see docs/FLASHING.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn boards() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("board-configs"))
        .expect("board-configs")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("board.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no board configs");
    out
}

/// Names the dispatcher maps from argv[0] (`"yurthub" => Some("hub")` in src/cli/mod.rs), with the
/// subcommand each runs.
fn dispatcher_links() -> BTreeMap<String, String> {
    let src = read("src/cli/mod.rs");
    let mut out = BTreeMap::new();
    for line in src.lines() {
        let l = line.trim();
        if let Some((name, rest)) = l.split_once("=> Some(\"") {
            let name = name.trim().trim_matches('"');
            if let Some(cmd) = rest.split('"').next() {
                out.insert(name.to_string(), cmd.to_string());
            }
        }
    }
    assert!(
        out.contains_key("yurthub"),
        "could not read the dispatcher's link names: {out:?}"
    );
    out
}

/// Keys of /etc/default/yurt as images/board-env generates it for `board`.
fn env_keys(board: &str) -> BTreeSet<String> {
    let out = Command::new("bash")
        .arg(root().join("images/board-env"))
        .arg(root().join(format!("board-configs/{board}/board.toml")))
        .output()
        .expect("run images/board-env");
    assert!(
        out.status.success(),
        "board-env {board}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let keys: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap_or_default().to_string())
        .collect();
    assert!(
        keys.contains("YURT_HUB_FLAGS"),
        "board-env {board} gave {keys:?}"
    );
    keys
}

/// `${NAME}` references (not `${@python}`), in order.
fn brace_vars(s: &str, open: &str, close: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else { break };
        let name = &after[..j];
        if !name.starts_with('@') && !name.contains(' ') {
            out.push(name.to_string());
        }
        rest = &after[j..];
    }
    out
}

/// Make variable references `$(NAME)`, also nested inside function calls such as
/// `$(call qstrip,$(X))`; function names (`call`, `eval`, ...) are left out.
fn make_vars(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in s.match_indices("$(") {
        let name: String = s[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_@-".contains(*c))
            .collect();
        let next = s[i + 2 + name.len()..].chars().next();
        if !name.is_empty() && next == Some(')') {
            out.push(name);
        }
    }
    out
}

// ---------------------------------------------------------------- BitBake

/// Joins backslash-continued lines; returns (first line number, logical line).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            cur.push_str(stripped);
            cur.push(' ');
        } else {
            cur.push_str(line);
            out.push((start, std::mem::take(&mut cur)));
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// A parsed BitBake file: assignments, inherits, requires, shell function bodies.
#[derive(Default, Debug)]
struct BbFile {
    vars: BTreeMap<String, String>,
    inherits: Vec<String>,
    requires: Vec<String>,
    functions: BTreeMap<String, String>,
}

const BB_OPS: [&str; 8] = ["??=", "?=", ":=", "+=", "=+", ".=", "=.", "="];

/// Minimal line-wise BitBake checker. Errors carry the line number.
fn parse_bb(text: &str) -> Result<BbFile, String> {
    let mut f = BbFile::default();
    let mut func: Option<(String, String)> = None;
    for (n, line) in logical_lines(text) {
        let t = line.trim();
        if let Some((name, body)) = func.as_mut() {
            if line == "}" {
                f.functions.insert(name.clone(), std::mem::take(body));
                func = None;
            } else {
                body.push_str(&line);
                body.push('\n');
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix("inherit ") {
            f.inherits.extend(rest.split_whitespace().map(String::from));
            continue;
        }
        if let Some(rest) = t
            .strip_prefix("require ")
            .or_else(|| t.strip_prefix("include "))
        {
            f.requires.push(rest.trim().to_string());
            continue;
        }
        if t.starts_with("addtask ") {
            continue;
        }
        if let Some(head) = t.strip_suffix('{') {
            let head = head.trim();
            if let Some(name) = head.strip_suffix("()") {
                let name = name.trim().trim_start_matches("python ").trim();
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-:${}".contains(c));
                if valid {
                    func = Some((name.to_string(), String::new()));
                    continue;
                }
            }
            return Err(format!("line {n}: bad function header: {t}"));
        }
        let t2 = t.strip_prefix("export ").unwrap_or(t);
        let Some((name, op, value)) = BB_OPS.iter().find_map(|op| {
            let i = t2.find(op)?;
            // The first operator character must come right after the name (and spaces).
            let name = t2[..i].trim();
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-:${}.[]+".contains(c));
            ok.then(|| (name.to_string(), *op, t2[i + op.len()..].trim().to_string()))
        }) else {
            return Err(format!(
                "line {n}: neither assignment, inherit, require nor function: {t}"
            ));
        };
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        let inner = if quoted {
            &value[1..value.len() - 1]
        } else {
            ""
        };
        if !quoted || inner.replace("\\\"", "").contains('"') {
            return Err(format!(
                "line {n}: value of {name} is not one double-quoted string: {value}"
            ));
        }
        let _ = op;
        f.vars.insert(name, inner.to_string());
    }
    if let Some((name, _)) = func {
        return Err(format!("function {name} never closed with a lone '}}'"));
    }
    Ok(f)
}

/// Variables BitBake and oe-core define that the recipe may use.
const BB_GLOBALS: &[&str] = &[
    "S",
    "D",
    "B",
    "WORKDIR",
    "PN",
    "PV",
    "bindir",
    "sysconfdir",
    "localstatedir",
    "systemd_system_unitdir",
    "COMMON_LICENSE_DIR",
    "LAYERDIR",
    "DISTRO_FEATURES",
    "BBPATH",
    "BBFILES",
    "BBFILE_COLLECTIONS",
];

/// Expands `${VAR}` from `vars` (recursively, a few rounds); unknown names stay.
fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for _ in 0..5 {
        let mut next = out.clone();
        for name in brace_vars(&out, "${", '}') {
            if let Some(v) = vars.get(&name) {
                next = next.replace(&format!("${{{name}}}"), v);
            }
        }
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// Problems in the Yocto layer: undefined variables and missing files.
fn lint_yocto(recipe_rel: &str, recipe: &BbFile, layer: &BbFile) -> Vec<String> {
    let mut errs = Vec::new();
    let recipe_dir = root().join(recipe_rel).parent().expect("dir").to_path_buf();
    let mut defined: BTreeSet<String> = BB_GLOBALS.iter().map(|s| s.to_string()).collect();
    for v in recipe.vars.keys().chain(layer.vars.keys()) {
        defined.insert(v.split(':').next().unwrap_or(v).to_string());
    }
    let mut all_text = String::new();
    for v in recipe.vars.values() {
        all_text.push_str(v);
        all_text.push('\n');
    }
    for (name, body) in &recipe.functions {
        all_text.push_str(name);
        all_text.push('\n');
        all_text.push_str(body);
    }
    for name in brace_vars(&all_text, "${", '}') {
        if !defined.contains(&name) {
            errs.push(format!("{recipe_rel}: ${{{name}}} is not defined"));
        }
    }
    for req in &recipe.requires {
        if !recipe_dir.join(req).is_file() {
            errs.push(format!("{recipe_rel}: require {req}: no such file"));
        }
    }
    for c in ["cargo", "systemd", "update-rc.d", "externalsrc"] {
        if !recipe.inherits.iter().any(|i| i == c) {
            errs.push(format!("{recipe_rel}: does not inherit {c}"));
        }
    }
    // Every ${S}/path the recipe installs from exists in the repository, for every board.
    let mut vars = recipe.vars.clone();
    for board in boards() {
        vars.insert("YURT_BOARD".into(), board.clone());
        for (fname, body) in &recipe.functions {
            for word in expand(body, &vars)
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == ';'))
            {
                if let Some(rel) = word.strip_prefix("${S}/") {
                    if !root().join(rel).exists() {
                        errs.push(format!(
                            "{recipe_rel} {fname} ({board}): {rel} does not exist"
                        ));
                    }
                }
            }
        }
    }
    let default_board = recipe.vars.get("YURT_BOARD").cloned().unwrap_or_default();
    if !root().join("board-configs").join(&default_board).is_dir() {
        errs.push(format!(
            "{recipe_rel}: default YURT_BOARD {default_board:?} is no board config"
        ));
    }
    errs
}

#[test]
fn yocto_layer_parses_and_references_exist() {
    let layer = parse_bb(&read("images/meta-yurt/conf/layer.conf")).expect("layer.conf parses");
    assert_eq!(
        layer.vars.get("BBFILE_COLLECTIONS").map(|s| s.trim()),
        Some("yurt")
    );
    assert!(layer.vars.contains_key("LAYERSERIES_COMPAT_yurt"));
    let rel = "images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb";
    let recipe = parse_bb(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    // layer.conf's BBFILES pattern recipes-*/*/*.bb must cover the recipe.
    assert!(layer
        .vars
        .get("BBFILES")
        .is_some_and(|v| v.contains("recipes-*/*/*.bb")));
    assert_eq!(
        rel.split('/').count(),
        5,
        "recipe must sit at recipes-*/<name>/<file>.bb"
    );
    let errs = lint_yocto(rel, &recipe, &layer);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let install = recipe
        .functions
        .get("do_install:append")
        .expect("do_install:append");
    for link in ["yurthub", "yurt-tunnel-agent", "yurt-edge"] {
        assert!(
            install.contains(&format!("ln -sf yurt ${{D}}${{bindir}}/{link}")),
            "no {link} link"
        );
    }
    let inc =
        parse_bb(&read("images/meta-yurt/recipes-yurt/yurt/yurt-crates.inc")).expect("inc parses");
    assert!(inc.vars.keys().any(|k| k.starts_with("SRC_URI[")));
}

#[test]
fn yocto_crates_inc_matches_cargo_lock() {
    let lock: toml::Value = toml::from_str(&read("Cargo.lock")).expect("Cargo.lock");
    let mut want = BTreeSet::new();
    for p in lock
        .get("package")
        .and_then(|p| p.as_array())
        .expect("packages")
    {
        let registry = p
            .get("source")
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.starts_with("registry+"));
        if registry {
            let f = |k: &str| {
                p.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            want.insert((f("name"), f("version"), f("checksum")));
        }
    }
    assert!(!want.is_empty());
    let inc = read("images/meta-yurt/recipes-yurt/yurt/yurt-crates.inc");
    let mut have = BTreeSet::new();
    let mut uris = BTreeSet::new();
    for line in inc.lines() {
        if let Some(rest) = line.trim().strip_prefix("crate://crates.io/") {
            uris.insert(rest.trim_end_matches('\\').trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("SRC_URI[") {
            let (key, val) = rest.split_once("] = ").expect("SRC_URI[..] = ..");
            let nv = key.strip_suffix(".sha256sum").expect(".sha256sum");
            have.insert(format!("{nv}={}", val.trim_matches('"')));
        }
    }
    let want_sums: BTreeSet<String> = want
        .iter()
        .map(|(n, v, c)| format!("{n}-{v}={c}"))
        .collect();
    let want_uris: BTreeSet<String> = want.iter().map(|(n, v, _)| format!("{n}/{v}")).collect();
    assert!(
        have == want_sums && uris == want_uris,
        "images/meta-yurt/recipes-yurt/yurt/yurt-crates.inc is out of date with Cargo.lock: run \
         images/meta-yurt/recipes-yurt/yurt/gen-crates-inc"
    );
}

// ---------------------------------------------------------------- Buildroot (make + Kconfig)

#[derive(Default, Debug)]
struct MkFile {
    vars: BTreeSet<String>,
    defines: BTreeMap<String, String>,
    text_outside_defines: String,
}

/// Minimal line-wise checker for a Buildroot package .mk.
fn parse_mk(text: &str) -> Result<MkFile, String> {
    let mut f = MkFile::default();
    let mut define: Option<(String, String)> = None;
    let mut cond_depth = 0i32;
    let mut last = String::new();
    for (n, line) in logical_lines(text) {
        let t = line.trim();
        if let Some((name, body)) = define.as_mut() {
            if t == "endef" {
                f.defines.insert(name.clone(), std::mem::take(body));
                f.vars.insert(name.clone());
                define = None;
            } else if !line.starts_with('\t') && !t.is_empty() {
                return Err(format!(
                    "line {n}: command in define {name} must start with a tab"
                ));
            } else {
                body.push_str(t);
                body.push('\n');
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        last = t.to_string();
        if let Some(name) = t.strip_prefix("define ") {
            define = Some((name.trim().to_string(), String::new()));
            continue;
        }
        if t.starts_with("ifeq ")
            || t.starts_with("ifneq ")
            || t.starts_with("ifdef ")
            || t.starts_with("ifndef ")
        {
            cond_depth += 1;
            continue;
        }
        if t == "else" {
            continue;
        }
        if t == "endif" {
            cond_depth -= 1;
            if cond_depth < 0 {
                return Err(format!("line {n}: endif without if"));
            }
            continue;
        }
        if t.starts_with("include ") || t.starts_with("$(eval ") {
            f.text_outside_defines.push_str(t);
            f.text_outside_defines.push('\n');
            continue;
        }
        let op = ["+=", ":=", "?=", "="]
            .iter()
            .find_map(|op| t.find(op).map(|i| (i, *op)));
        let Some((i, op)) = op else {
            return Err(format!(
                "line {n}: not an assignment, define, conditional or include: {t}"
            ));
        };
        let name = t[..i].trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("line {n}: bad variable name {name:?}"));
        }
        f.vars.insert(name.to_string());
        f.text_outside_defines.push_str(&t[i + op.len()..]);
        f.text_outside_defines.push('\n');
    }
    if let Some((name, _)) = define {
        return Err(format!("define {name} has no endef"));
    }
    if cond_depth != 0 {
        return Err("unbalanced ifeq/endif".into());
    }
    if !text.trim().is_empty() && text.contains("-package))") && !last.starts_with("$(eval $(") {
        return Err("the package infrastructure $(eval ...) must be the last line".into());
    }
    Ok(f)
}

/// Symbols a Kconfig file declares (`config X`), and every symbol it refers to.
fn parse_kconfig(text: &str) -> Result<(BTreeSet<String>, BTreeSet<String>), String> {
    let mut declared = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut in_help = false;
    let mut depth = 0i32;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if in_help {
            // Help text runs while lines are indented deeper than the option's keywords (or blank).
            if t.is_empty() || line.starts_with("\t  ") || line.starts_with("\t\t") {
                continue;
            }
            in_help = false;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let word = t.split_whitespace().next().unwrap_or_default();
        let rest = t[word.len()..].trim();
        let symbols = |s: &str| -> Vec<String> {
            s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("BR2_"))
                .map(String::from)
                .collect()
        };
        match word {
            "config" | "menuconfig" => {
                declared.insert(rest.to_string());
            }
            "bool" | "string" | "int" | "comment" | "prompt" | "source" | "menu" | "endmenu" => {
                if matches!(word, "bool" | "string" | "comment" | "source")
                    && !rest.starts_with('"')
                {
                    return Err(format!("line {}: {word} needs a quoted string", n + 1));
                }
                if word == "comment" {
                    // A `depends on` may follow on the next line; nothing to record here.
                }
            }
            "default" | "select" | "imply" => used.extend(symbols(rest)),
            "depends" => {
                if !rest.starts_with("on ") {
                    return Err(format!("line {}: depends without on", n + 1));
                }
                used.extend(symbols(rest));
            }
            "if" => {
                depth += 1;
                used.extend(symbols(rest));
            }
            "endif" => depth -= 1,
            "help" | "---help---" => in_help = true,
            _ => return Err(format!("line {}: unknown Kconfig keyword {word:?}", n + 1)),
        }
    }
    if depth != 0 {
        return Err("unbalanced if/endif".into());
    }
    Ok((declared, used))
}

/// Buildroot symbols and make variables from Buildroot itself that the package may use.
const BR_GLOBALS: &[&str] = &[
    "TARGET_DIR",
    "INSTALL",
    "@D",
    "BR2_EXTERNAL_YURT_PATH",
    "YURT_PKGDIR",
    "BR2_INIT_SYSTEMD",
    "BR2_PACKAGE_HOST_RUSTC",
    "BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS",
];

fn lint_buildroot(mk_text: &str, kconfig_text: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mk = match parse_mk(mk_text) {
        Ok(m) => m,
        Err(e) => return vec![format!("yurt.mk: {e}")],
    };
    let (declared, used) = match parse_kconfig(kconfig_text) {
        Ok(k) => k,
        Err(e) => return vec![format!("package/yurt/Config.in: {e}")],
    };
    let globals: BTreeSet<String> = BR_GLOBALS.iter().map(|s| s.to_string()).collect();
    for s in &used {
        if !declared.contains(s) && !globals.contains(s) {
            errs.push(format!("Config.in uses {s}, declared nowhere"));
        }
    }
    let mut all = mk.text_outside_defines.clone();
    for body in mk.defines.values() {
        all.push_str(body);
    }
    for name in make_vars(&all) {
        if name.ends_with("-package") {
            continue;
        }
        let ok = mk.vars.contains(&name) || globals.contains(&name) || declared.contains(&name);
        if !ok {
            errs.push(format!("yurt.mk: $({name}) is not defined"));
        }
    }
    for needed in [
        "YURT_VERSION",
        "YURT_SITE",
        "YURT_LICENSE",
        "YURT_CARGO_BUILD_OPTS",
    ] {
        if !mk.vars.contains(needed) {
            errs.push(format!("yurt.mk: {needed} missing"));
        }
    }
    // Files: $(@D)/x is the repository root (local site), $(YURT_PKGDIR)/x the package folder.
    let board_file = "$(@D)/board-configs/$(YURT_BOARD)/board.toml";
    for board in boards() {
        let text = all
            .replace("$(YURT_BOARD_FILE)", board_file)
            .replace("$(YURT_BOARD)", &board);
        for word in text
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == ';'))
        {
            if let Some(rel) = word.strip_prefix("$(@D)/") {
                if !root().join(rel).exists() {
                    errs.push(format!("yurt.mk ({board}): {rel} does not exist"));
                }
            }
            if let Some(rel) = word.strip_prefix("$(YURT_PKGDIR)/") {
                if !root()
                    .join("images/buildroot/package/yurt")
                    .join(rel)
                    .exists()
                {
                    errs.push(format!("yurt.mk: package file {rel} does not exist"));
                }
            }
        }
    }
    for link in ["yurthub", "yurt-tunnel-agent", "yurt-edge"] {
        if !all.contains(&format!("ln -sf yurt $(TARGET_DIR)/usr/bin/{link}")) {
            errs.push(format!("yurt.mk: no {link} link"));
        }
    }
    errs
}

#[test]
fn buildroot_external_tree_parses_and_references_exist() {
    let desc = read("images/buildroot/external.desc");
    assert!(
        desc.lines().any(|l| l.trim() == "name: YURT"),
        "external.desc must name YURT"
    );
    let ext_mk = read("images/buildroot/external.mk");
    assert!(ext_mk.contains("$(BR2_EXTERNAL_YURT_PATH)/package/*/*.mk"));
    let top = read("images/buildroot/Config.in");
    for line in top.lines().filter(|l| l.starts_with("source")) {
        let path = line.split('"').nth(1).expect("quoted path");
        let rel = path.replace("$BR2_EXTERNAL_YURT_PATH", "images/buildroot");
        assert!(
            root().join(&rel).is_file(),
            "Config.in sources missing {rel}"
        );
    }
    parse_kconfig(&top).expect("top Config.in parses");
    let errs = lint_buildroot(
        &read("images/buildroot/package/yurt/yurt.mk"),
        &read("images/buildroot/package/yurt/Config.in"),
    );
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // The SITE is the repository root, two folders above the external tree.
    let mk = read("images/buildroot/package/yurt/yurt.mk");
    assert!(mk.contains("YURT_SITE = $(BR2_EXTERNAL_YURT_PATH)/../.."));
    assert!(root().join("images/buildroot/../../Cargo.toml").is_file());
}

// ---------------------------------------------------------------- units and scripts

/// Every `/usr/bin/<name>` a file starts, with the argument after it.
fn started_binaries(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let w = w.trim_start_matches("ExecStart=");
            if let Some(name) = w.strip_prefix("/usr/bin/") {
                out.push((name.to_string(), words.get(i + 1).map(|s| s.to_string())));
            }
        }
    }
    out
}

/// Checks one started binary against the dispatcher: a link name it maps, or `yurt <command>` with a
/// command some link maps to.
fn binary_known(
    name: &str,
    next: Option<&str>,
    links: &BTreeMap<String, String>,
) -> Result<(), String> {
    if name == "yurt" {
        let cmd = next.unwrap_or_default();
        let known = links.values().any(|c| c == cmd) || cmd == "hub";
        return if known {
            Ok(())
        } else {
            Err(format!("yurt {cmd}: not a command the dispatcher knows"))
        };
    }
    if links.contains_key(name) {
        Ok(())
    } else {
        Err(format!(
            "/usr/bin/{name}: not a link name the dispatcher knows"
        ))
    }
}

const UNIT_SECTIONS: [&str; 3] = ["[Unit]", "[Service]", "[Install]"];

fn lint_unit(
    name: &str,
    text: &str,
    links: &BTreeMap<String, String>,
    env: &BTreeSet<String>,
) -> Vec<String> {
    let mut errs = Vec::new();
    let mut section = "";
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') {
            if !UNIT_SECTIONS.contains(&t) {
                errs.push(format!("{name}:{}: unknown section {t}", n + 1));
            }
            section = t;
            continue;
        }
        if section.is_empty() || !t.contains('=') {
            errs.push(format!(
                "{name}:{}: not key=value inside a section: {t}",
                n + 1
            ));
            continue;
        }
        let (key, value) = t.split_once('=').unwrap_or_default();
        if key.starts_with("Exec") {
            let mut vars = brace_vars(value, "${", '}');
            vars.extend(
                value
                    .split_whitespace()
                    .filter_map(|w| w.strip_prefix('$'))
                    .filter(|w| !w.starts_with('{'))
                    .map(String::from),
            );
            for v in vars {
                if !env.contains(&v) {
                    errs.push(format!(
                        "{name}: {key} uses ${v}, which /etc/default/yurt does not define"
                    ));
                }
            }
        }
        if key == "EnvironmentFile" && value.trim_start_matches('-') != "/etc/default/yurt" {
            errs.push(format!(
                "{name}: EnvironmentFile should be /etc/default/yurt"
            ));
        }
    }
    for (bin, next) in started_binaries(text) {
        if let Err(e) = binary_known(&bin, next.as_deref(), links) {
            errs.push(format!("{name}: {e}"));
        }
    }
    errs
}

#[test]
fn units_start_known_binaries_with_defined_variables() {
    let links = dispatcher_links();
    let mut units = Vec::new();
    for e in std::fs::read_dir(root().join("images/systemd")).expect("images/systemd") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "service") {
            units.push(p);
        }
    }
    units.sort();
    assert_eq!(
        units.len(),
        3,
        "expected yurt-edge, yurthub and yurt-tunnel-agent units: {units:?}"
    );
    let recipe = read("images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb");
    let mk = read("images/buildroot/package/yurt/yurt.mk");
    for board in boards() {
        let env = env_keys(&board);
        for u in &units {
            let name = u.file_name().expect("name").to_string_lossy().into_owned();
            let errs = lint_unit(
                &name,
                &std::fs::read_to_string(u).expect("unit"),
                &links,
                &env,
            );
            assert!(errs.is_empty(), "{board}: {}", errs.join("\n"));
            assert!(
                recipe.contains(&format!("images/systemd/{name}")),
                "the Yocto recipe does not install {name}"
            );
            assert!(
                mk.contains(&format!("images/systemd/{name}")),
                "the Buildroot package does not install {name}"
            );
        }
    }
}

#[test]
fn sysv_script_starts_known_binaries_with_defined_variables() {
    let links = dispatcher_links();
    let text = read("images/buildroot/package/yurt/S99yurt");
    assert!(text.starts_with("#!/bin/sh\n"));
    let mut started = started_binaries(&text);
    started.retain(|(b, _)| b != "env");
    assert!(
        started.len() >= 3,
        "expected yurthub, yurt-tunnel-agent and yurt-edge: {started:?}"
    );
    for (bin, next) in &started {
        binary_known(bin, next.as_deref(), &links).expect("S99yurt");
    }
    let used: BTreeSet<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter_map(|w| w.strip_prefix("$YURT_"))
        .map(|w| format!("YURT_{w}"))
        .collect();
    assert!(!used.is_empty());
    for board in boards() {
        let env = env_keys(&board);
        for v in &used {
            assert!(
                env.contains(v),
                "S99yurt uses ${v}, not in /etc/default/yurt for {board}"
            );
        }
    }
}

#[test]
fn kubelet_dropin_points_at_the_hub() {
    let dropin = read("images/systemd/kubelet.service.d/10-yurt.conf");
    let kcfg_path = dropin
        .split_whitespace()
        .find_map(|w| {
            w.trim_matches('"')
                .split("--kubeconfig=")
                .nth(1)
                .map(String::from)
        })
        .expect("drop-in sets --kubeconfig");
    assert_eq!(kcfg_path, "/etc/yurt/kubelet.kubeconfig");
    let kubeconfig = read("images/kubeconfig/kubelet-yurt.kubeconfig");
    let servers: Vec<&str> = kubeconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server:"))
        .map(str::trim)
        .collect();
    // The hub's proxy: plain HTTP on loopback, port 10261 (DESIGN.md, Ports).
    assert_eq!(
        servers.len(),
        1,
        "one cluster in the kubeconfig: {servers:?}"
    );
    let (scheme, addr) = servers[0].split_once("://").expect("a URL");
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    assert_eq!((scheme, host, port), ("http", "127.0.0.1", "10261"));
    // Both image builders install the template where the drop-in looks.
    let recipe = read("images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb");
    assert!(recipe.contains(
        "images/kubeconfig/kubelet-yurt.kubeconfig ${D}${sysconfdir}/yurt/kubelet.kubeconfig"
    ));
    let mk = read("images/buildroot/package/yurt/yurt.mk");
    assert!(mk.contains("$(TARGET_DIR)/etc/yurt/kubelet.kubeconfig"));
    assert!(
        recipe.contains("kubelet.service.d/10-yurt.conf")
            && mk.contains("kubelet.service.d/10-yurt.conf")
    );
}

#[test]
fn images_install_the_cache_config_the_env_passes() {
    // /etc/default/yurt passes --cache-config=/etc/yurt/cache.json (images/board-env); both image
    // builders must write that file from the same board config, or the hub exits 64 at boot.
    let recipe = read("images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb");
    assert!(
        recipe.contains(
            "images/board-env --cache-json ${YURT_BOARD_FILE} > ${D}${sysconfdir}/yurt/cache.json"
        ),
        "meta-yurt does not install /etc/yurt/cache.json"
    );
    assert!(
        recipe.contains("${sysconfdir}/yurt/cache.json\""),
        "cache.json is a CONFFILE"
    );
    let mk = read("images/buildroot/package/yurt/yurt.mk");
    assert!(
        mk.contains(
            "images/board-env --cache-json $(YURT_BOARD_FILE) > $(TARGET_DIR)/etc/yurt/cache.json"
        ),
        "package/yurt does not install /etc/yurt/cache.json"
    );
    for board in boards() {
        assert!(
            env_keys(&board).contains("YURT_CACHE_CONFIG"),
            "{board}: no YURT_CACHE_CONFIG"
        );
    }
}

// ---------------------------------------------------------------- the checker can fail

#[test]
fn checkers_reject_broken_input() {
    assert!(parse_bb("FOO = \"a\"\nBAR = unquoted\n").is_err());
    assert!(parse_bb("FOO = \"a\" \"b\"\n").is_err());
    assert!(
        parse_bb("do_install() {\n  true\n").is_err(),
        "unclosed function"
    );
    assert!(parse_bb("this is not bitbake\n").is_err());
    let ok =
        parse_bb("A ?= \"x\"\nB:append = \" ${A}\"\nexport C = \"1\"\ndo_x() {\n  echo ${A}\n}\n");
    assert!(ok.is_ok(), "{ok:?}");

    let layer = parse_bb(&read("images/meta-yurt/conf/layer.conf")).expect("layer");
    let rel = "images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb";
    let good = read(rel);
    let undefined = parse_bb(&good.replace("${YURT_BOARD_FILE} ${D}", "${YURT_BORD_FILE} ${D}"))
        .expect("parses");
    assert!(lint_yocto(rel, &undefined, &layer)
        .iter()
        .any(|e| e.contains("YURT_BORD_FILE")));
    let missing = parse_bb(&good.replace(
        "images/systemd/yurthub.service",
        "images/systemd/yurthubb.service",
    ))
    .expect("parses");
    assert!(lint_yocto(rel, &missing, &layer)
        .iter()
        .any(|e| e.contains("yurthubb.service")));

    let mk = read("images/buildroot/package/yurt/yurt.mk");
    let kc = read("images/buildroot/package/yurt/Config.in");
    assert!(lint_buildroot(
        &mk.replace("$(YURT_PKGDIR)/S99yurt", "$(YURT_PKGDIR)/S98yurt"),
        &kc
    )
    .iter()
    .any(|e| e.contains("S98yurt")));
    assert!(lint_buildroot(
        &mk.replace("$(BR2_PACKAGE_YURT_BOARD)", "$(BR2_PACKAGE_YURT_BORD)"),
        &kc
    )
    .iter()
    .any(|e| e.contains("BR2_PACKAGE_YURT_BORD")));
    assert!(lint_buildroot(
        &mk.replace("\t$(INSTALL) -D -m 0755", "    $(INSTALL) -D -m 0755"),
        &kc
    )
    .iter()
    .any(|e| e.contains("tab")));
    assert!(parse_kconfig("config X\n\tbool yes\n").is_err());

    let links = dispatcher_links();
    let env: BTreeSet<String> = ["YURT_HUB_FLAGS".to_string()].into();
    let unit = "[Service]\nExecStart=/usr/bin/yurtx $YURT_HUB_FLAGS $YURT_NOPE\n";
    let errs = lint_unit("x.service", unit, &links, &env);
    assert!(
        errs.iter().any(|e| e.contains("yurtx")) && errs.iter().any(|e| e.contains("YURT_NOPE")),
        "{errs:?}"
    );
    assert!(binary_known("yurt", Some("edge"), &links).is_ok());
    assert!(binary_known("yurt", Some("frobnicate"), &links).is_err());
}

#[test]
fn every_lint_target_exists() {
    // The lint must not pass by finding nothing.
    for rel in [
        "images/meta-yurt/conf/layer.conf",
        "images/meta-yurt/recipes-yurt/yurt/yurt_0.1.bb",
        "images/meta-yurt/recipes-yurt/yurt/yurt-crates.inc",
        "images/buildroot/external.desc",
        "images/buildroot/external.mk",
        "images/buildroot/Config.in",
        "images/buildroot/package/yurt/Config.in",
        "images/buildroot/package/yurt/yurt.mk",
        "images/buildroot/package/yurt/S99yurt",
        "images/systemd/yurt-edge.service",
        "images/systemd/yurthub.service",
        "images/systemd/yurt-tunnel-agent.service",
        "images/systemd/kubelet.service.d/10-yurt.conf",
        "images/kubeconfig/kubelet-yurt.kubeconfig",
        "images/board-env",
    ] {
        assert!(Path::new(&root().join(rel)).is_file(), "{rel} missing");
    }
}
