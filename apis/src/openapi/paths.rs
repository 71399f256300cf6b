//! The operations of every resource path, in Swagger 2.0 or OpenAPI 3.0 form.
//!
//! One [`Operation`] description per (path, method) is rendered in either dialect, so both
//! documents always list the same operations with the same parameters. Clients depend on the
//! details: kubectl finds a resource's kind through the `x-kubernetes-group-version-kind` of the
//! operations on its path, and enables server-side field validation only when the PATCH
//! operations of that kind declare the `fieldValidation` query parameter.

use serde_json::{json, Map, Value};

use super::schemas::{self, OPENAPI3_REF_PREFIX, SWAGGER2_REF_PREFIX};
use crate::resources::{ResourceInfo, Subresource};

/// Which OpenAPI dialect to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Swagger 2.0 (`/openapi/v2`).
    Swagger2,
    /// OpenAPI 3.0 (`/openapi/v3/...`).
    OpenApi3,
}

impl Dialect {
    fn reference(self, definition: &str) -> Value {
        let prefix = match self {
            Dialect::Swagger2 => SWAGGER2_REF_PREFIX,
            Dialect::OpenApi3 => OPENAPI3_REF_PREFIX,
        };
        json!({"$ref": format!("{prefix}{definition}")})
    }
}

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
const OBJECT_CONTENT_TYPES: &[&str] = &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];
const WATCH_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];

/// A non-body parameter.
#[derive(Debug, Clone, Copy)]
struct Param {
    name: &'static str,
    location: &'static str,
    kind: &'static str,
    description: &'static str,
}

const fn query(name: &'static str, kind: &'static str, description: &'static str) -> Param {
    Param { name, location: "query", kind, description }
}

const PRETTY: Param = query("pretty", "string", "If 'true', the output is indented.");
const NAME: Param = Param { name: "name", location: "path", kind: "string", description: "The object's name." };
const NAMESPACE: Param =
    Param { name: "namespace", location: "path", kind: "string", description: "The namespace the objects live in." };
const DRY_RUN: Param = query("dryRun", "string", "'All' processes the request without persisting it.");
const FIELD_MANAGER: Param = query("fieldManager", "string", "The name of the actor making the change.");
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How to treat unknown and duplicate fields in the body: Ignore, Warn (the default) or Strict.",
);
const FORCE: Param = query("force", "boolean", "Apply only: take ownership of conflicting fields.");
const LIST_PARAMS: &[Param] = &[
    query("allowWatchBookmarks", "boolean", "Watch only: ask for BOOKMARK events."),
    query("continue", "string", "The continue token of the previous page."),
    query("fieldSelector", "string", "Restricts the objects by their fields."),
    query("labelSelector", "string", "Restricts the objects by their labels."),
    query("limit", "integer", "The most objects to return in one page."),
    query("resourceVersion", "string", "The resource version the result must be at least as new as."),
    query("resourceVersionMatch", "string", "How resourceVersion is applied: Exact or NotOlderThan."),
    query("sendInitialEvents", "boolean", "Watch only: start with synthetic events for the current state."),
    query("timeoutSeconds", "integer", "How long a list or watch call may last."),
    query("watch", "boolean", "Stream changes instead of returning a list."),
];
const DELETE_PARAMS: &[Param] = &[
    DRY_RUN,
    query("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
    query(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "Delete objects that cannot be read from storage.",
    ),
    query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    query("propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."),
];

/// What one (path, method) pair does, independent of the dialect.
struct Operation {
    method: &'static str,
    id: String,
    action: &'static str,
    gvk: (&'static str, &'static str, &'static str),
    params: Vec<Param>,
    /// The request body's definition and whether it is required.
    body: Option<(String, bool)>,
    /// Status codes with the response body's definition.
    responses: Vec<(&'static str, &'static str, String)>,
    consumes: &'static [&'static str],
    produces: &'static [&'static str],
    tag: String,
}

impl Operation {
    fn render(&self, dialect: Dialect) -> Value {
        let mut op = Map::new();
        op.insert("description".into(), json!(describe(self.action, self.gvk.2)));
        op.insert("operationId".into(), json!(self.id));
        op.insert("tags".into(), json!([self.tag]));
        let mut parameters: Vec<Value> = self.params.iter().map(|p| render_param(p, dialect)).collect();
        let mut responses = Map::new();
        for (code, description, definition) in &self.responses {
            let response = match dialect {
                Dialect::Swagger2 => json!({"description": description, "schema": dialect.reference(definition)}),
                Dialect::OpenApi3 => {
                    json!({"description": description, "content": content(self.produces, dialect.reference(definition))})
                }
            };
            responses.insert((*code).into(), response);
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        match dialect {
            Dialect::Swagger2 => {
                if let Some((definition, required)) = &self.body {
                    parameters.insert(
                        0,
                        json!({"name": "body", "in": "body", "required": required, "schema": dialect.reference(definition)}),
                    );
                }
                op.insert("consumes".into(), json!(self.consumes));
                op.insert("produces".into(), json!(self.produces));
                op.insert("schemes".into(), json!(["https"]));
            }
            Dialect::OpenApi3 => {
                if let Some((definition, required)) = &self.body {
                    op.insert(
                        "requestBody".into(),
                        json!({"content": content(self.consumes, dialect.reference(definition)), "required": required}),
                    );
                }
            }
        }
        op.insert("parameters".into(), Value::Array(parameters));
        op.insert("responses".into(), Value::Object(responses));
        op.insert("x-kubernetes-action".into(), json!(self.action));
        let (group, version, kind) = self.gvk;
        op.insert("x-kubernetes-group-version-kind".into(), json!({"group": group, "kind": kind, "version": version}));
        Value::Object(op)
    }
}

fn content(media_types: &[&str], schema: Value) -> Value {
    Value::Object(media_types.iter().map(|m| ((*m).to_string(), json!({"schema": schema.clone()}))).collect())
}

fn render_param(param: &Param, dialect: Dialect) -> Value {
    let mut out = json!({"name": param.name, "in": param.location, "description": param.description});
    let required = param.location == "path";
    match dialect {
        Dialect::Swagger2 => {
            out["type"] = json!(param.kind);
            out["uniqueItems"] = json!(true);
        }
        Dialect::OpenApi3 => {
            out["schema"] = json!({"type": param.kind, "uniqueItems": true});
        }
    }
    if required {
        out["required"] = json!(true);
    }
    out
}

fn describe(action: &str, kind: &str) -> String {
    match action {
        "get" => format!("read the specified {kind}"),
        "list" => format!("list or watch objects of kind {kind}"),
        "watch" => format!("watch changes to an object of kind {kind}"),
        "watchlist" => format!("watch changes to a list of {kind}"),
        "post" => format!("create a {kind}"),
        "put" => format!("replace the specified {kind}"),
        "patch" => format!("partially update the specified {kind}"),
        "delete" => format!("delete a {kind}"),
        "deletecollection" => format!("delete a collection of {kind}"),
        other => format!("{other} {kind}"),
    }
}

/// `Apps`, `Core`, `RbacAuthorization`: the group as upstream spells it in operation ids.
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    group.trim_end_matches(".k8s.io").split('.').map(capitalize).collect()
}

fn lower_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Adds every path of `resource` (collection, item, watch, all-namespaces and subresources) with
/// the operations its verbs allow.
pub(super) fn add_resource_paths(paths: &mut Map<String, Value>, resource: &ResourceInfo, dialect: Dialect) {
    let Some(kind_def) = schemas::kind_definition(resource.group, resource.version, resource.kind) else { return };
    let list_def = schemas::definition_name(kind_def, resource.list_kind);
    let prefix = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    let scope = if resource.namespaced { "/namespaces/{namespace}" } else { "" };
    let scope_word = if resource.namespaced { "Namespaced" } else { "" };
    let stem = format!("{}{}", group_word(resource.group), capitalize(resource.version));
    let tag = lower_first(&stem);
    let gvk = (resource.group, resource.version, resource.kind);
    let scope_params: Vec<Param> = if resource.namespaced { vec![NAMESPACE, PRETTY] } else { vec![PRETTY] };
    let with_name: Vec<Param> = [vec![NAME], scope_params.clone()].concat();
    let op = |method, action, id: String, params: Vec<Param>| Operation {
        method,
        id,
        action,
        gvk,
        params,
        body: None,
        responses: Vec::new(),
        consumes: &["*/*"],
        produces: OBJECT_CONTENT_TYPES,
        tag: tag.clone(),
    };
    let ok = |definition: &str| vec![("200", "OK", definition.to_string())];
    let written = |definition: &str, extra: &'static [(&'static str, &'static str)]| {
        let mut out = ok(definition);
        out.extend(extra.iter().map(|(code, text)| (*code, *text, definition.to_string())));
        out
    };
    let write_params = |patch: bool| {
        let mut params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
        if patch {
            params.push(FORCE);
        }
        params
    };
    let kind = resource.kind;

    // The collection.
    let mut collection = Vec::new();
    if resource.supports("list") {
        let mut list = op("get", "list", format!("list{stem}{scope_word}{kind}"), LIST_PARAMS.to_vec());
        list.responses = ok(&list_def);
        list.produces = WATCH_CONTENT_TYPES;
        collection.push(list);
    }
    if resource.supports("create") {
        let mut create = op("post", "post", format!("create{stem}{scope_word}{kind}"), write_params(false));
        create.body = Some((kind_def.to_string(), true));
        create.responses = written(kind_def, &[("201", "Created"), ("202", "Accepted")]);
        collection.push(create);
    }
    if resource.supports("deletecollection") {
        // Deleting a collection selects objects like a list does, but never watches.
        let selecting = LIST_PARAMS.iter().filter(|p| !matches!(p.name, "allowWatchBookmarks" | "watch"));
        let params: Vec<Param> = DELETE_PARAMS.iter().chain(selecting).copied().collect();
        let mut delete = op("delete", "deletecollection", format!("delete{stem}Collection{scope_word}{kind}"), params);
        delete.body = Some((DELETE_OPTIONS.to_string(), false));
        delete.responses = ok(STATUS);
        collection.push(delete);
    }
    insert_path(paths, format!("{prefix}{scope}/{}", resource.plural), &scope_params, collection, dialect);

    // One object.
    let mut item = Vec::new();
    if resource.supports("get") {
        let mut read = op("get", "get", format!("read{stem}{scope_word}{kind}"), Vec::new());
        read.responses = ok(kind_def);
        item.push(read);
    }
    if resource.supports("update") {
        let mut replace = op("put", "put", format!("replace{stem}{scope_word}{kind}"), write_params(false));
        replace.body = Some((kind_def.to_string(), true));
        replace.responses = written(kind_def, &[("201", "Created")]);
        item.push(replace);
    }
    if resource.supports("patch") {
        let mut patch = op("patch", "patch", format!("patch{stem}{scope_word}{kind}"), write_params(true));
        patch.body = Some((PATCH.to_string(), true));
        patch.consumes = PATCH_CONTENT_TYPES;
        patch.responses = written(kind_def, &[("201", "Created")]);
        item.push(patch);
    }
    if resource.supports("delete") {
        let mut delete = op("delete", "delete", format!("delete{stem}{scope_word}{kind}"), DELETE_PARAMS.to_vec());
        delete.body = Some((DELETE_OPTIONS.to_string(), false));
        delete.responses = written(STATUS, &[("202", "Accepted")]);
        item.push(delete);
    }
    insert_path(paths, format!("{prefix}{scope}/{}/{{name}}", resource.plural), &with_name, item, dialect);

    // Watches, and listing across namespaces.
    if resource.supports("watch") {
        let mut watch_list = op("get", "watchlist", format!("watch{stem}{scope_word}{kind}List"), LIST_PARAMS.to_vec());
        watch_list.responses = ok(WATCH_EVENT);
        watch_list.produces = WATCH_CONTENT_TYPES;
        insert_path(paths, format!("{prefix}/watch{scope}/{}", resource.plural), &scope_params, vec![watch_list], dialect);
        let mut watch = op("get", "watch", format!("watch{stem}{scope_word}{kind}"), LIST_PARAMS.to_vec());
        watch.responses = ok(WATCH_EVENT);
        watch.produces = WATCH_CONTENT_TYPES;
        insert_path(paths, format!("{prefix}/watch{scope}/{}/{{name}}", resource.plural), &with_name, vec![watch], dialect);
    }
    if resource.namespaced && resource.supports("list") {
        let mut list = op("get", "list", format!("list{stem}{kind}ForAllNamespaces"), LIST_PARAMS.to_vec());
        list.responses = ok(&list_def);
        list.produces = WATCH_CONTENT_TYPES;
        insert_path(paths, format!("{prefix}/{}", resource.plural), &[PRETTY], vec![list], dialect);
        if resource.supports("watch") {
            let mut watch = op("get", "watchlist", format!("watch{stem}{kind}ListForAllNamespaces"), LIST_PARAMS.to_vec());
            watch.responses = ok(WATCH_EVENT);
            watch.produces = WATCH_CONTENT_TYPES;
            insert_path(paths, format!("{prefix}/watch/{}", resource.plural), &[PRETTY], vec![watch], dialect);
        }
    }

    for sub in resource.subresources {
        let (sub_gvk, sub_def) = match subresource_kind(sub) {
            Some(found) => found,
            None => (gvk, kind_def.to_string()),
        };
        let suffix = capitalize(sub.name);
        let mut ops = Vec::new();
        for verb in sub.verbs {
            let sub_op = |method, action, verb_word: &str, params| {
                let mut o = op(method, action, format!("{verb_word}{stem}{scope_word}{kind}{suffix}"), params);
                o.gvk = sub_gvk;
                o
            };
            let operation = match *verb {
                "get" => {
                    let mut o = sub_op("get", "get", "read", Vec::new());
                    o.responses = ok(&sub_def);
                    o
                }
                "update" => {
                    let mut o = sub_op("put", "put", "replace", write_params(false));
                    o.body = Some((sub_def.clone(), true));
                    o.responses = written(&sub_def, &[("201", "Created")]);
                    o
                }
                "patch" => {
                    let mut o = sub_op("patch", "patch", "patch", write_params(true));
                    o.body = Some((PATCH.to_string(), true));
                    o.consumes = PATCH_CONTENT_TYPES;
                    o.responses = written(&sub_def, &[("201", "Created")]);
                    o
                }
                "create" => {
                    let mut o = sub_op("post", "post", "create", write_params(false));
                    o.body = Some((sub_def.clone(), true));
                    o.responses = written(&sub_def, &[("201", "Created"), ("202", "Accepted")]);
                    o
                }
                _ => continue,
            };
            ops.push(operation);
        }
        insert_path(paths, format!("{prefix}{scope}/{}/{{name}}/{}", resource.plural, sub.name), &with_name, ops, dialect);
    }
}

/// The kind a subresource exchanges when it is not the parent's (`Scale`, `Binding`), with its
/// definition name.
fn subresource_kind(sub: &Subresource) -> Option<((&'static str, &'static str, &'static str), String)> {
    let (group, version, kind) = sub.kind?;
    let definition = schemas::kind_definition(group, version, kind)?;
    Some(((group, version, kind), definition.to_string()))
}

/// Adds a path with its operations; a path without operations is left out.
fn insert_path(paths: &mut Map<String, Value>, path: String, params: &[Param], ops: Vec<Operation>, dialect: Dialect) {
    if ops.is_empty() {
        return;
    }
    let mut item = Map::new();
    for op in &ops {
        item.insert(op.method.into(), op.render(dialect));
    }
    item.insert("parameters".into(), Value::Array(params.iter().map(|p| render_param(p, dialect)).collect()));
    paths.insert(path, Value::Object(item));
}
