//! docs/ cannot drift from the schema the provider serves (issue 14).
//!
//! The schema comes from the real CLI: `terraform providers schema -json` in a workspace wired to
//! the built provider through dev_overrides (written to target/tmp/docs-schema/schema.json). Then:
//!
//! - `tfplugindocs validate` (pinned, built from the Go module proxy by
//!   scripts/install-release-tools.sh) checks docs/ against it: layout, front matter, one page for
//!   every resource, data source and action and no page without one;
//! - our own check reads every page's `## Argument Reference`, `## Attribute Reference` and
//!   `## Timeouts` lists (the prose stays hand-written) and requires that they name exactly the
//!   schema's arguments (required or optional), its read-only attributes, the attributes of each
//!   list-of-object element and of the timeouts block, with `Required`/`Optional` and the type
//!   where a line states them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use testkit::{repo_root, terraform_clis, Flavor, Workspace};

/// The provider's schema from `providers schema -json`, written to a file for tfplugindocs. The
/// newest Terraform answers (the actions pages need `action_schemas`, which Terraform 1.14+ reports);
/// the newest CLI of any flavour only when no Terraform is selected.
fn schema() -> &'static Option<(PathBuf, Value)> {
    static SCHEMA: OnceLock<Option<(PathBuf, Value)>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let clis = terraform_clis();
        let cli = clis
            .iter()
            .filter(|c| c.flavor == Flavor::Terraform)
            .max_by_key(|c| c.version_triple())
            .or_else(|| clis.first());
        let mut found = None;
        if let Some(cli) = cli {
            eprintln!("docs_schema: schema from {cli}");
            let provider = crate::provider();
            let ws = Workspace::with_providers(cli, &[&provider]);
            ws.write_main_tf(
                "terraform {\n  required_providers {\n    hostup = {\n      source = \"hostup/hostup\"\n    }\n  }\n}\n",
            );
            let out = ws.run(&["providers", "schema", "-json"]);
            out.assert_success();
            let json = out.json();
            let dir = repo_root().join("target/tmp/docs-schema");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("schema.json");
            std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
            found = Some((path, json));
        }
        found
    })
}

fn provider_schema(all: &Value) -> &Value {
    let schemas = all["provider_schemas"]
        .as_object()
        .expect("provider_schemas");
    let (_, ours) = schemas
        .iter()
        .find(|(k, _)| k.ends_with("/hostup/hostup"))
        .expect("hostup/hostup in provider_schemas");
    ours
}

#[test]
fn tfplugindocs_validate_passes_on_docs() {
    let Some((schema_file, all)) = schema() else {
        return;
    };
    // tfplugindocs looks the provider up as `hostup` or `registry.terraform.io/hashicorp/hostup`
    // only, so hand it our schema under the short name.
    let mut short = all.clone();
    short["provider_schemas"] = serde_json::json!({ "hostup": provider_schema(all) });
    let schema_file = schema_file.with_file_name("schema-tfplugindocs.json");
    std::fs::write(&schema_file, serde_json::to_vec(&short).unwrap()).unwrap();
    let root = repo_root();
    let install = Command::new(root.join("scripts/install-release-tools.sh"))
        .arg("tfplugindocs")
        .status()
        .expect("run install-release-tools.sh");
    assert!(install.success(), "installing tfplugindocs failed");
    let out = Command::new(root.join(".tools/bin/tfplugindocs"))
        .args(["validate", "--provider-name", "terraform-provider-hostup"])
        .arg("--provider-dir")
        .arg(&root)
        .arg("--providers-schema")
        .arg(&schema_file)
        .output()
        .expect("run tfplugindocs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Its [DEBUG] lines list every file it looked at; the rest is the verdict.
    let verdict: Vec<&str> = text.lines().filter(|l| !l.contains("[DEBUG]")).collect();
    eprintln!("tfplugindocs validate:\n  {}", verdict.join("\n  "));
    assert!(
        out.status.success(),
        "tfplugindocs validate failed:\n{text}"
    );
}

// ----- our own check: the reference lists name exactly what the schema has ------------------------

/// One top-level list item under a reference heading: `- \`name\` (String, Required) …` or
/// `* \`name\` - (Required) …`, with the names of the items nested under it.
#[derive(Debug)]
struct Item {
    name: String,
    /// The words of the first parenthesis right after the name: `["String", "Required", …]`.
    flags: Vec<String>,
    /// The items indented under this one (an element's attributes), in order.
    nested: Vec<Item>,
}

impl Item {
    fn nested_names(&self) -> BTreeSet<String> {
        self.nested.iter().map(|i| i.name.clone()).collect()
    }
}

/// Puts `item`, found at `depth` (0 for a top-level item), under the last item one level up.
fn place(items: &mut Vec<Item>, depth: usize, item: Item) {
    match items.last_mut() {
        Some(parent) if depth > 0 => place(&mut parent.nested, depth - 1, item),
        _ => items.push(item),
    }
}

/// The list items of every `## ` section of a page, by heading.
fn sections(text: &str) -> BTreeMap<String, Vec<Item>> {
    let mut out: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            current = Some(h.trim().to_owned());
            out.entry(h.trim().to_owned()).or_default();
            continue;
        }
        let Some(section) = current.as_ref() else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let Some(rest) = trimmed
            .strip_prefix("- `")
            .or_else(|| trimmed.strip_prefix("* `"))
        else {
            continue;
        };
        let Some((name, after)) = rest.split_once('`') else {
            continue;
        };
        let after = after.trim_start().trim_start_matches("- ").trim_start();
        let flags = after
            .strip_prefix('(')
            .and_then(|a| a.split_once(')'))
            .map(|(inside, _)| inside.split(',').map(|w| w.trim().to_owned()).collect())
            .unwrap_or_default();
        let item = Item {
            name: name.to_owned(),
            flags,
            nested: Vec::new(),
        };
        // Markdown nests a list item by indenting it two spaces per level.
        place(out.get_mut(section).unwrap(), indent / 2, item);
    }
    out
}

/// How the docs name a schema type: `String`, `Number`, `Boolean`, `Map of String`, `List of Object`.
fn type_name(t: &Value) -> String {
    match t {
        Value::String(s) => match s.as_str() {
            "string" => "String".into(),
            "number" => "Number".into(),
            "bool" => "Boolean".into(),
            other => other.into(),
        },
        Value::Array(a) => {
            let kind = a[0].as_str().unwrap_or("");
            let inner = a.get(1).map(type_name).unwrap_or_default();
            match kind {
                "list" => format!("List of {inner}"),
                "set" => format!("Set of {inner}"),
                "map" => format!("Map of {inner}"),
                "object" => "Object".into(),
                other => other.into(),
            }
        }
        _ => String::new(),
    }
}

/// The attribute types of a list/set of objects' elements, or None for any other type.
fn element_attributes(t: &Value) -> Option<&serde_json::Map<String, Value>> {
    let a = t.as_array()?;
    if !matches!(a[0].as_str(), Some("list" | "set")) {
        return None;
    }
    let inner = a.get(1)?.as_array()?;
    if inner[0] != "object" {
        return None;
    }
    inner[1].as_object()
}

/// Checks that an item documents exactly the element attributes of its type, at every depth.
fn check_elements(path: &str, item: &Item, ty: &Value, problem: &mut dyn FnMut(String)) {
    match element_attributes(ty) {
        Some(want) => {
            let want_names: BTreeSet<String> = want.keys().cloned().collect();
            if item.nested_names() != want_names {
                problem(format!(
                    "`{path}` elements are documented with {:?}; the schema's are {want_names:?}",
                    item.nested_names()
                ));
            }
            for child in &item.nested {
                if let Some(child_ty) = want.get(&child.name) {
                    check_elements(&format!("{path}.{}", child.name), child, child_ty, problem);
                }
            }
        }
        None if !item.nested.is_empty() => problem(format!(
            "`{path}` lists nested items {:?} but is {}",
            item.nested_names(),
            type_name(ty)
        )),
        None => {}
    }
}

/// Everything wrong with one page, as messages.
fn check_page(page: &Path, block: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    let sections = sections(&text);
    let mut problems = Vec::new();
    let mut problem = |msg: String| problems.push(format!("{}: {msg}", page.display()));

    let empty = serde_json::Map::new();
    let attrs = block["attributes"].as_object().unwrap_or(&empty);
    let blocks = block["block_types"].as_object().unwrap_or(&empty);
    let arguments: BTreeSet<String> = attrs
        .iter()
        .filter(|(_, a)| a["required"] == true || a["optional"] == true)
        .map(|(n, _)| n.clone())
        .chain(blocks.keys().cloned())
        .collect();
    let read_only: BTreeSet<String> = attrs
        .iter()
        .filter(|(_, a)| a["required"] != true && a["optional"] != true)
        .map(|(n, _)| n.clone())
        .collect();

    let listed = |heading: &str| -> BTreeMap<String, &Item> {
        sections
            .get(heading)
            .map(|items| items.iter().map(|i| (i.name.clone(), i)).collect())
            .unwrap_or_default()
    };
    let args_doc = listed("Argument Reference");
    let attrs_doc = listed("Attribute Reference");
    let names = |m: &BTreeMap<String, &Item>| m.keys().cloned().collect::<BTreeSet<_>>();
    if names(&args_doc) != arguments {
        problem(format!(
            "## Argument Reference lists {:?}; the schema's arguments are {:?}",
            names(&args_doc),
            arguments
        ));
    }
    if names(&attrs_doc) != read_only {
        problem(format!(
            "## Attribute Reference lists {:?}; the schema's read-only attributes are {:?}",
            names(&attrs_doc),
            read_only
        ));
    }

    for (name, item) in args_doc.iter().chain(attrs_doc.iter()) {
        if let Some(attr) = attrs.get(name) {
            let want = if attr["required"] == true {
                Some("Required")
            } else if attr["optional"] == true {
                Some("Optional")
            } else {
                None
            };
            let stated = item
                .flags
                .iter()
                .find(|f| *f == "Required" || *f == "Optional");
            match (want, stated) {
                (Some(w), Some(s)) if w != s => {
                    problem(format!("`{name}` is {w} in the schema, documented {s}"))
                }
                (Some(w), None) => problem(format!("`{name}` does not say it is {w}")),
                (None, Some(s)) => problem(format!("`{name}` is read-only, documented {s}")),
                _ => {}
            }
            let ty = type_name(&attr["type"]);
            if let Some(first) = item
                .flags
                .first()
                .filter(|f| f.starts_with(char::is_uppercase))
            {
                if !matches!(first.as_str(), "Required" | "Optional") && *first != ty {
                    problem(format!(
                        "`{name}` is {ty} in the schema, documented {first}"
                    ));
                }
            }
            check_elements(name, item, &attr["type"], &mut problem);
        } else if let Some(b) = blocks.get(name) {
            if let Some(first) = item.flags.first() {
                if first != "Block" {
                    problem(format!("`{name}` is a block, documented {first}"));
                }
            }
            // A block's own attributes are listed under a heading named after it (`## Timeouts`).
            let heading = {
                let mut c = name.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            };
            let inner: BTreeSet<String> = b["block"]["attributes"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let doc = names(&listed(&heading));
            if doc != inner {
                problem(format!(
                    "## {heading} lists {doc:?}; the `{name}` block's attributes are {inner:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn reference_lists_match_the_schema() {
    let Some((_, all)) = schema() else {
        return;
    };
    let ours = provider_schema(all);
    let docs = repo_root().join("docs");
    let mut problems = check_page(&docs.join("index.md"), &ours["provider"]["block"]);
    let mut checked = vec!["index.md".to_owned()];
    for (key, dir, suffix) in [
        ("resource_schemas", "resources", "Resource"),
        ("data_source_schemas", "data-sources", "Data Source"),
        ("action_schemas", "actions", "Action"),
        ("list_resource_schemas", "list-resources", "List Resource"),
    ] {
        let Some(map) = ours[key].as_object() else {
            continue;
        };
        for (type_name, schema) in map {
            let short = type_name.strip_prefix("hostup_").unwrap_or(type_name);
            let page = docs.join(dir).join(format!("{short}.md"));
            if !page.is_file() {
                problems.push(format!(
                    "{suffix} {type_name} has no page {}",
                    page.display()
                ));
                continue;
            }
            problems.extend(check_page(&page, &schema["block"]));
            checked.push(format!("{dir}/{short}.md"));
        }
    }
    eprintln!("docs_schema: checked {checked:?}");
    assert!(
        problems.is_empty(),
        "docs/ has drifted from the schema:\n  {}",
        problems.join("\n  ")
    );
}
