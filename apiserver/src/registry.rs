//! The generic registry: create, get, list, update, patch and delete for every kind.
//!
//! This is upstream's `generic/registry.Store` in one place. It owns the object bookkeeping
//! (uid, creationTimestamp, generation, resourceVersion, finalizers and deletionTimestamp,
//! dry-run, field validation) and calls the kind's [`Strategy`](corten_apis::Strategy) for what
//! differs. It never branches on a kind's name: per-kind behaviour comes from the strategy, the
//! resource table, or a [`hooks::ResourceHooks`](crate::hooks::ResourceHooks) entry.
//!
//! Storage holds each object as JSON **without** `metadata.resourceVersion`: the version is the
//! key's `mod_revision`, written into the object on the way out, so it can never disagree with
//! the store.

use std::num::NonZeroUsize;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use corten_apimachinery::patch;
use corten_apimachinery::selectors::{FieldSelector, LabelSelector};
use corten_apimachinery::{ApiError, FieldErrors, GroupResource};
use corten_apis::ResourceInfo;
use corten_storage::{Backend, Error as StorageError, KeyValue, ReadAt, Revision};
use serde_json::{json, Map, Value};

use crate::hooks::Hooks;

/// How unknown fields in a request body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (upstream's default).
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}. Allowed values: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Options shared by every write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// `dryRun=All`: do everything but persist.
    pub dry_run: bool,
    /// Unknown-field handling.
    pub field_validation: FieldValidation,
    /// `fieldManager`, or the one derived from the user agent.
    pub field_manager: String,
    /// Keys the request body repeats (dotted paths), reported like unknown fields.
    pub duplicate_fields: Vec<String>,
    /// The authenticated requester (user, groups), for kinds that record it.
    pub requester: Option<(String, Vec<String>)>,
}

/// The patch media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply {
        /// `force=true`.
        force: bool,
    },
}

/// List parameters.
#[derive(Debug, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: Option<LabelSelector>,
    /// `fieldSelector`.
    pub field_selector: Option<FieldSelector>,
    /// `limit`.
    pub limit: Option<NonZeroUsize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
}

/// `DeleteOptions`, from the body or the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy` (Orphan, Background, Foreground).
    pub propagation_policy: Option<String>,
    /// `orphanDependents` (deprecated form of Orphan).
    pub orphan_dependents: Option<bool>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
}

/// The outcome of a write.
pub struct Written {
    /// The object as stored (or as it would be, for dry-run).
    pub object: Value,
    /// Whether the write created the object (201 vs 200).
    pub created: bool,
    /// Warnings for the `Warning` header.
    pub warnings: Vec<String>,
}

/// The generic registry over one storage backend.
pub struct Registry {
    store: Arc<dyn Backend>,
    hooks: Hooks,
}

/// How many times a write re-reads and retries after losing a compare-and-swap race when the
/// client did not ask for a specific resourceVersion.
const MAX_CONFLICT_RETRIES: usize = 16;

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn Backend>) -> Self {
        let hooks = Hooks::new(store.clone());
        Registry { store, hooks }
    }

    /// The backend, for the watch path and maintenance.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.store
    }

    // ----- reads -----

    /// Reads one object.
    pub async fn get(&self, info: &ResourceInfo, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let key = key(info, ns, name);
        match self.store.get(&key, ReadAt::Latest).await.map_err(|e| storage_error(e, info, name))? {
            Some(kv) => decode_stored(info, &kv),
            None => Err(ApiError::not_found(info.group_resource(), name)),
        }
    }

    /// Lists objects, filtered by selectors, paginated with limit/continue.
    pub async fn list(&self, info: &ResourceInfo, ns: Option<&str>, opts: &ListOptions) -> Result<Value, ApiError> {
        let prefix = prefix(info, ns);
        let (mut start_after, mut at) = (None, ReadAt::Latest);
        if let Some(token) = opts.continue_token.as_deref().filter(|t| !t.is_empty()) {
            let (rev, start) = decode_continue(token, &prefix)?;
            start_after = Some(start);
            at = ReadAt::Exactly(rev);
        } else if let Some(rv) = opts.resource_version.as_deref().filter(|rv| !rv.is_empty() && *rv != "0") {
            let rev = parse_resource_version(rv)?;
            let current = self.store.current_revision().await.map_err(|e| storage_error(e, info, ""))?;
            if opts.resource_version_match.as_deref() == Some("Exact") {
                at = ReadAt::Exactly(rev);
            } else if rev > current {
                return Err(ApiError::timeout(format!("Too large resource version: {}, current: {}", rev.0, current.0)));
            }
        }

        let filtering = opts.label_selector.is_some() || opts.field_selector.is_some();
        let mut items = Vec::new();
        let mut revision = None;
        let mut next_start: Option<String> = None;
        let mut remaining = 0u64;
        loop {
            let want = opts.limit.map(|l| l.get() - items.len());
            // When filtering, read ahead in bigger pages so a selective selector does not cost one
            // storage call per object.
            let page_limit = want.map(|w| if filtering { w.max(500) } else { w }).and_then(NonZeroUsize::new);
            let page = self
                .store
                .list(&prefix, start_after.as_deref(), page_limit, at)
                .await
                .map_err(|e| match e {
                    StorageError::Compacted { .. } if opts.continue_token.is_some() => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ),
                    other => storage_error(other, info, ""),
                })?;
            // Every page of a list (and of its continuations) reads one snapshot and reports it.
            let snapshot = match at {
                ReadAt::Exactly(rev) => rev,
                ReadAt::Latest => page.revision,
            };
            revision.get_or_insert(snapshot);
            at = ReadAt::Exactly(snapshot);
            let page_len = page.items.len();
            let mut scanned = 0;
            let mut last_key = None;
            for kv in &page.items {
                scanned += 1;
                last_key = Some(kv.key.clone());
                let obj = decode_stored(info, kv)?;
                if !matches_selectors(info, &obj, opts) {
                    continue;
                }
                items.push(obj);
                if opts.limit.is_some_and(|l| items.len() >= l.get()) {
                    break;
                }
            }
            let full = opts.limit.is_some_and(|l| items.len() >= l.get());
            let more = scanned < page_len || page.remaining > 0;
            if full || !more || last_key.is_none() {
                if full && more {
                    // Resume after the last key looked at: it is the last returned item.
                    next_start = last_key;
                    remaining = page.remaining + (page_len - scanned) as u64;
                }
                break;
            }
            start_after = last_key;
        }
        let revision = revision.unwrap_or_default();
        let mut metadata = Map::new();
        metadata.insert("resourceVersion".into(), revision.0.to_string().into());
        if let Some(start) = next_start {
            metadata.insert("continue".into(), encode_continue(revision, &start, &prefix).into());
            if !filtering && remaining > 0 {
                metadata.insert("remainingItemCount".into(), remaining.into());
            }
        }
        for item in &mut items {
            if let Some(o) = item.as_object_mut() {
                o.remove("apiVersion");
                o.remove("kind");
            }
        }
        Ok(json!({
            "kind": info.list_kind,
            "apiVersion": info.api_version(),
            "metadata": Value::Object(metadata),
            "items": items,
        }))
    }

    // ----- writes -----

    /// Creates an object from a request body.
    pub async fn create(&self, info: &ResourceInfo, ns: Option<&str>, body: Value, opts: &WriteOptions) -> Result<Written, ApiError> {
        let (mut obj, warnings) = decode_typed_reporting(info, body, opts.field_validation, &opts.duplicate_fields)?;
        set_namespace(info, &mut obj, ns)?;
        if let Some(ns) = ns.filter(|_| info.namespaced) {
            self.check_namespace_accepts_content(info, ns, &name_of(&obj)).await?;
        }
        prepare_new_metadata(&mut obj)?;
        let strategy = info.strategy();
        if info.subresource("status").is_some() && !strategy.keeps_status_on_create() {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        strategy.default(&mut obj);
        strategy.prepare_for_create(&mut obj);
        if let Some((user, groups)) = &opts.requester {
            strategy.record_requesting_user(&mut obj, user, groups);
        }
        if strategy.tracks_generation() {
            obj["metadata"]["generation"] = json!(1);
        }
        let name = name_of(&obj);
        check_valid(info, &name, strategy.validate(&obj))?;
        patch::record_update(info.group, info.kind, &info.api_version(), None, &mut obj, &opts.field_manager, &now());

        if let Some(h) = self.hooks.for_resource(info) {
            h.before_create(&mut obj, opts.dry_run).await?;
        }
        if opts.dry_run {
            return Ok(Written { object: obj, created: true, warnings });
        }
        let key = key(info, ns, &name);
        let rev = match self.store.create(&key, to_bytes(info, &obj)).await {
            Ok(rev) => rev,
            Err(e) => {
                if let Some(h) = self.hooks.for_resource(info) {
                    h.release(&obj).await;
                }
                return Err(match e {
                    StorageError::AlreadyExists { .. } => ApiError::already_exists(info.group_resource(), &name),
                    other => storage_error(other, info, &name),
                });
            }
        };
        set_resource_version(&mut obj, rev);
        Ok(Written { object: obj, created: true, warnings })
    }

    /// Replaces an object (PUT), or its status/scale subresource.
    pub async fn update(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = decode_typed_reporting(info, body, opts.field_validation, &opts.duplicate_fields)?;
        set_namespace(info, &mut obj, ns)?;
        let body_name = name_of(&obj);
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let expected = resource_version_of(&obj)?;
        let mut written = self.guaranteed_update(info, ns, name, expected, opts, subresource, |_| Ok(obj.clone())).await?;
        written.warnings.extend(warnings);
        Ok(written)
    }

    /// Applies a patch to the current object and writes the result.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        kind: PatchKind,
        patch_body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let api_version = info.api_version();
        // A resourceVersion inside the patch is a precondition, as upstream treats it.
        let expected = match kind {
            PatchKind::Json => None,
            _ => patch_body.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(parse_resource_version).transpose()?,
        };
        let apply = |current: &Value| -> Result<Value, ApiError> {
            let patched = match kind {
                PatchKind::Json => patch::json_patch(current, &patch_body),
                PatchKind::Merge => patch::merge_patch(current, &patch_body),
                PatchKind::Strategic => patch::strategic_merge(info.group, info.kind, current, &patch_body),
                PatchKind::Apply { force } => {
                    return patch::server_side_apply(info.group, info.kind, &api_version, Some(current), &patch_body, &opts.field_manager, force, &now())
                        .map_err(|e| apply_error(info, name, e));
                }
            };
            patched.map_err(patch_error)
        };
        match self.guaranteed_update(info, ns, name, expected, opts, subresource, &apply).await {
            Err(e) if e.code() == 404 && matches!(kind, PatchKind::Apply { .. }) && subresource.is_none() => {
                let PatchKind::Apply { force } = kind else { unreachable!("matched above") };
                let mut obj = patch::server_side_apply(info.group, info.kind, &api_version, None, &patch_body, &opts.field_manager, force, &now())
                    .map_err(|e| apply_error(info, name, e))?;
                if name_of(&obj).is_empty() {
                    obj["metadata"]["name"] = json!(name);
                }
                let mut opts = opts.clone();
                opts.field_manager = String::new(); // managedFields already recorded by apply
                self.create_applied(info, ns, obj, &opts).await
            }
            other => other,
        }
    }

    async fn create_applied(&self, info: &ResourceInfo, ns: Option<&str>, obj: Value, opts: &WriteOptions) -> Result<Written, ApiError> {
        let managed = obj.pointer("/metadata/managedFields").cloned();
        let mut written = self.create(info, ns, obj, opts).await?;
        if let Some(m) = managed {
            // create() recorded an Update entry for the empty manager; the apply entry is the truth.
            written.object["metadata"]["managedFields"] = m;
            if !opts.dry_run {
                let name = name_of(&written.object);
                let rev = resource_version_of(&written.object)?.unwrap_or_default();
                let mut stored = written.object.clone();
                strip_resource_version(&mut stored);
                let new_rev = self
                    .store
                    .update(&key(info, ns, &name), to_bytes(info, &stored), rev)
                    .await
                    .map_err(|e| storage_error(e, info, &name))?;
                set_resource_version(&mut written.object, new_rev);
            }
        }
        Ok(written)
    }

    /// Reads the current object, computes the new one with `mutate`, runs the update rules and
    /// writes it with compare-and-swap, retrying on races unless the client pinned a version.
    #[allow(clippy::too_many_arguments)]
    async fn guaranteed_update(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: &str,
        expected: Option<Revision>,
        opts: &WriteOptions,
        subresource: Option<&str>,
        mutate: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        let key = key(info, ns, name);
        let gr = info.group_resource();
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(kv) = self.store.get(&key, ReadAt::Latest).await.map_err(|e| storage_error(e, info, name))? else {
                return Err(ApiError::not_found(gr, name));
            };
            if expected.is_some_and(|rev| rev != kv.mod_revision) {
                return Err(ApiError::conflict(gr, name, ApiError::MODIFIED));
            }
            let old = decode_stored(info, &kv)?;
            let mut new = mutate(&old)?;
            if !new.is_object() {
                return Err(ApiError::bad_request("the patched object is not a JSON object"));
            }
            let (normalized, _) = decode_typed(info, new, FieldValidation::Ignore)?;
            new = normalized;
            self.apply_update_rules(info, &old, &mut new, subresource)?;
            patch::record_update(info.group, info.kind, &info.api_version(), Some(&old), &mut new, &opts.field_manager, &now());

            let mut old_cmp = old.clone();
            strip_resource_version(&mut old_cmp);
            strip_resource_version(&mut new);
            if new == old_cmp {
                // Nothing changed: upstream returns the current object without writing.
                return Ok(Written { object: old, created: false, warnings: Vec::new() });
            }
            if let Some(h) = self.hooks.for_resource(info) {
                h.before_update(&old, &mut new, opts.dry_run).await?;
            }
            if opts.dry_run {
                set_resource_version(&mut new, kv.mod_revision);
                return Ok(Written { object: new, created: false, warnings: Vec::new() });
            }
            // Once a deleting object's last finalizer is gone, it goes away.
            let finalized = new.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
                && new.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(|f| f.is_empty())
                && !info.strategy().blocks_deletion(&new);
            let result = if finalized {
                self.store.delete(&key, Some(kv.mod_revision)).await.map(|(_, rev)| rev)
            } else {
                self.store.update(&key, to_bytes(info, &new), kv.mod_revision).await
            };
            match result {
                Ok(rev) => {
                    if finalized {
                        if let Some(h) = self.hooks.for_resource(info) {
                            h.release(&new).await;
                        }
                    }
                    set_resource_version(&mut new, rev);
                    return Ok(Written { object: new, created: false, warnings: Vec::new() });
                }
                Err(StorageError::Conflict { .. }) if expected.is_none() => continue,
                Err(StorageError::Conflict { .. }) => return Err(ApiError::conflict(gr, name, ApiError::MODIFIED)),
                Err(StorageError::NotFound { .. }) => return Err(ApiError::not_found(gr, name)),
                Err(e) => return Err(storage_error(e, info, name)),
            }
        }
        Err(ApiError::conflict(gr, name, "too many concurrent updates; please retry"))
    }

    /// Binds a pod to a node (`pods/binding`): sets `spec.nodeName` once and records the
    /// `PodScheduled` condition, bypassing the pod update rules as upstream's binding does.
    pub async fn bind(&self, info: &ResourceInfo, ns: Option<&str>, name: &str, node: &str, opts: &WriteOptions) -> Result<Written, ApiError> {
        let gr = info.group_resource();
        self.guaranteed_update(info, ns, name, None, opts, Some("binding"), |current| {
            if current.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
                return Err(ApiError::conflict(gr, name, "pod is being deleted, cannot be assigned to a host"));
            }
            if let Some(existing) = current.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(gr, name, &format!("pod {name} is already assigned to node \"{existing}\"")));
            }
            let mut pod = current.clone();
            pod["spec"]["nodeName"] = json!(node);
            let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now()});
            let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let mut conditions: Vec<Value> = conditions.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
            conditions.push(condition);
            pod["status"]["conditions"] = json!(conditions);
            Ok(pod)
        })
        .await
    }

    /// The update rules shared by PUT and PATCH: immutable metadata, status/spec split,
    /// generation, defaulting and validation.
    fn apply_update_rules(&self, info: &ResourceInfo, old: &Value, new: &mut Value, subresource: Option<&str>) -> Result<(), ApiError> {
        let strategy = info.strategy();
        // System-owned metadata cannot be changed by clients.
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace"] {
            match old.pointer(&format!("/metadata/{field}")) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove(field);
                    }
                }
            }
        }
        match subresource {
            Some("binding") => return Ok(()),
            Some("finalize") => {
                // Only spec.finalizers changes (namespaces/finalize).
                let finalizers = new.pointer("/spec/finalizers").cloned();
                let mut merged = old.clone();
                match finalizers {
                    Some(f) => merged["spec"]["finalizers"] = f,
                    None => {
                        if let Some(spec) = merged.get_mut("spec").and_then(Value::as_object_mut) {
                            spec.remove("finalizers");
                        }
                    }
                }
                *new = merged;
                return Ok(());
            }
            Some("approval") => {
                // certificatesigningrequests/approval: only the Approved/Denied conditions change.
                let conditions = new.pointer("/status/conditions").cloned();
                let mut merged = old.clone();
                match conditions {
                    Some(c) => merged["status"]["conditions"] = c,
                    None => {
                        if let Some(status) = merged.get_mut("status").and_then(Value::as_object_mut) {
                            status.remove("conditions");
                        }
                    }
                }
                *new = merged;
            }
            Some("status") => {
                // Only status changes; everything else is the stored object.
                let status = new.get("status").cloned();
                let mut merged = old.clone();
                match status {
                    Some(s) => merged["status"] = s,
                    None => {
                        if let Some(o) = merged.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                *new = merged;
            }
            _ if info.subresource("status").is_some() => {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            _ => {}
        }
        strategy.default(new);
        strategy.prepare_for_update(new, old);
        if strategy.tracks_generation() && subresource.is_none() && spec_changed(old, new) {
            let gen = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            new["metadata"]["generation"] = json!(gen + 1);
        }
        let name = name_of(new);
        check_valid(info, &name, strategy.validate_update(new, old))
    }

    /// Deletes an object: immediately, or by marking it with a deletionTimestamp while
    /// finalizers remain. Returns the object (marked) or the deleted object.
    pub async fn delete(&self, info: &ResourceInfo, ns: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<(Value, bool), ApiError> {
        let key = key(info, ns, name);
        let gr = info.group_resource();
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(kv) = self.store.get(&key, ReadAt::Latest).await.map_err(|e| storage_error(e, info, name))? else {
                return Err(ApiError::not_found(gr, name));
            };
            let mut obj = decode_stored(info, &kv)?;
            if let Some(uid) = &opts.precondition_uid {
                if obj.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
                    return Err(ApiError::conflict(gr, name, &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("")
                    )));
                }
            }
            if let Some(rv) = &opts.precondition_resource_version {
                if *rv != kv.mod_revision.0.to_string() {
                    return Err(ApiError::conflict(gr, name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        kv.mod_revision.0
                    )));
                }
            }
            let mut finalizers: Vec<String> = obj
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let policy = opts.propagation_policy.as_deref().or(match opts.orphan_dependents {
                Some(true) => Some("Orphan"),
                _ => None,
            });
            let add = match policy {
                Some("Foreground") => Some("foregroundDeletion"),
                Some("Orphan") => Some("orphan"),
                _ => None,
            };
            let already_deleting = obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
            if let Some(f) = add {
                if !finalizers.iter().any(|x| x == f) && (!finalizers.is_empty() || policy == Some("Foreground")) {
                    finalizers.push(f.to_string());
                }
            }
            let strategy = info.strategy();
            // Graceful deletion (pods on a node): mark and let the kubelet finish; a shorter grace
            // period on a later delete shortens the wait, grace 0 deletes.
            let grace = strategy.deletion_grace_seconds(&obj).map(|default| opts.grace_period_seconds.unwrap_or(default).max(0));
            if let Some(grace) = grace.filter(|g| *g > 0) {
                let current = obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
                if already_deleting && current.is_some_and(|c| c <= grace) {
                    return Ok((obj, false));
                }
                let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                obj["metadata"]["deletionTimestamp"] = json!(until.round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                if !finalizers.is_empty() {
                    obj["metadata"]["finalizers"] = json!(finalizers);
                }
                match self.write_marked(info, &key, name, obj, kv.mod_revision, opts.dry_run).await? {
                    Some(marked) => return Ok((marked, false)),
                    None => continue,
                }
            }
            if !finalizers.is_empty() || strategy.blocks_deletion(&obj) {
                // Graceful: mark and keep until the finalizers are removed.
                if already_deleting && add.is_none_or(|f| obj.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == f))) {
                    return Ok((obj, false));
                }
                if !finalizers.is_empty() {
                    obj["metadata"]["finalizers"] = json!(finalizers);
                }
                if !already_deleting {
                    obj["metadata"]["deletionTimestamp"] = json!(now());
                    obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                }
                strategy.prepare_for_delete(&mut obj);
                match self.write_marked(info, &key, name, obj, kv.mod_revision, opts.dry_run).await? {
                    Some(marked) => return Ok((marked, false)),
                    None => continue,
                }
            }
            if opts.dry_run {
                return Ok((obj, true));
            }
            match self.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(_) => {
                    if let Some(h) = self.hooks.for_resource(info) {
                        h.release(&obj).await;
                    }
                    return Ok((obj, true));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(StorageError::NotFound { .. }) => return Err(ApiError::not_found(gr, name)),
                Err(e) => return Err(storage_error(e, info, name)),
            }
        }
        Err(ApiError::conflict(gr, name, "too many concurrent updates; please retry"))
    }

    /// Stores an object marked for deletion (with dry-run, only returns it). `Ok(None)` when a
    /// concurrent write won the compare-and-swap: the caller re-reads and decides again.
    async fn write_marked(&self, info: &ResourceInfo, key: &str, name: &str, mut obj: Value, expected: Revision, dry_run: bool) -> Result<Option<Value>, ApiError> {
        if dry_run {
            return Ok(Some(obj));
        }
        strip_resource_version(&mut obj);
        match self.store.update(key, to_bytes(info, &obj), expected).await {
            Ok(rev) => {
                set_resource_version(&mut obj, rev);
                Ok(Some(obj))
            }
            Err(StorageError::Conflict { .. }) => Ok(None),
            Err(e) => Err(storage_error(e, info, name)),
        }
    }

    /// Deletes every object a list with these options would return.
    pub async fn delete_collection(&self, info: &ResourceInfo, ns: Option<&str>, list: &ListOptions, opts: &DeleteOptions) -> Result<Value, ApiError> {
        let listed = self.list(info, ns, list).await?;
        let mut deleted = Vec::new();
        for item in listed["items"].as_array().into_iter().flatten() {
            let name = name_of(item);
            let item_ns = namespace_of(item);
            match self.delete(info, item_ns.as_deref().or(ns), &name, opts).await {
                Ok((obj, _)) => deleted.push(obj),
                Err(e) if e.code() == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": info.list_kind,
            "apiVersion": info.api_version(),
            "metadata": { "resourceVersion": listed["metadata"]["resourceVersion"].clone() },
            "items": deleted,
        }))
    }

    /// Refuses content in missing or terminating namespaces, like the NamespaceLifecycle plugin.
    async fn check_namespace_accepts_content(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<(), ApiError> {
        let ns_info = corten_apis::resources::lookup("", "v1", "namespaces").ok_or_else(|| ApiError::internal("namespaces not served"))?;
        let namespace = match self.get(ns_info, None, ns).await {
            Ok(v) => v,
            Err(e) if e.code() == 404 => return Err(ApiError::not_found(ns_info.group_resource(), ns)),
            Err(e) => return Err(e),
        };
        if namespace.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
            let mut err = ApiError::forbidden(
                info.group_resource(),
                name,
                &format!("unable to create new content in namespace {ns} because it is being terminated"),
            );
            if let Some(d) = err.0.details.as_mut() {
                d.causes = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause {
                    field: Some("metadata.namespace".into()),
                    message: Some(format!("namespace {ns} is being terminated")),
                    reason: Some("NamespaceTerminating".into()),
                }]);
            }
            return Err(err);
        }
        Ok(())
    }
}

// ----- keys and stored form -----

/// The storage key of an object: `/registry/[<group>/]<resource>/[<namespace>/]<name>`.
pub fn key(info: &ResourceInfo, ns: Option<&str>, name: &str) -> String {
    match ns.filter(|_| info.namespaced) {
        Some(ns) => format!("{}{ns}/{name}", resource_prefix(info)),
        None => format!("{}{name}", resource_prefix(info)),
    }
}

/// The key prefix of a collection (one namespace, or all of them).
pub fn prefix(info: &ResourceInfo, ns: Option<&str>) -> String {
    match ns.filter(|_| info.namespaced) {
        Some(ns) => format!("{}{ns}/", resource_prefix(info)),
        None => resource_prefix(info),
    }
}

fn resource_prefix(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        format!("/registry/{}/", info.plural)
    } else {
        format!("/registry/{}/{}/", info.group, info.plural)
    }
}

/// Decodes a stored value, writing the key's revision into `metadata.resourceVersion`.
pub fn decode_stored(info: &ResourceInfo, kv: &KeyValue) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object {} is not valid JSON: {e}", kv.key)))?;
    obj = (info.convert_from_storage)(obj);
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), info.api_version().into());
        o.insert("kind".into(), info.kind.into());
    }
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// The object as it would read back from storage: converted to the storage version and back,
/// so a response shows exactly what a later read returns (a no-op for single-version kinds).
pub fn as_read_back(info: &ResourceInfo, obj: Value) -> Value {
    (info.convert_from_storage)((info.convert_to_storage)(obj))
}

/// The stored bytes of an object, in the storage version, without its resourceVersion.
fn to_bytes(info: &ResourceInfo, obj: &Value) -> Bytes {
    let mut stored = (info.convert_to_storage)(obj.clone());
    strip_resource_version(&mut stored);
    Bytes::from(serde_json::to_vec(&stored).unwrap_or_default())
}

fn set_resource_version(obj: &mut Value, rev: Revision) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), rev.0.to_string().into());
    }
}

fn strip_resource_version(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("selfLink");
    }
}

/// `metadata.name`, or "".
pub fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

/// `metadata.namespace`, if any.
pub fn namespace_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string)
}

fn resource_version_of(obj: &Value) -> Result<Option<Revision>, ApiError> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(parse_resource_version)
        .transpose()
}

/// Parses a resourceVersion the way upstream reports bad ones.
pub fn parse_resource_version(rv: &str) -> Result<Revision, ApiError> {
    rv.parse::<u64>()
        .map(Revision)
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

// ----- decoding and validation -----

/// Checks kind and apiVersion, decodes through the typed `k8s-openapi` value, and reports
/// fields the schema does not declare according to `validation`.
pub fn decode_typed(info: &ResourceInfo, body: Value, validation: FieldValidation) -> Result<(Value, Vec<String>), ApiError> {
    decode_typed_reporting(info, body, validation, &[])
}

/// [`decode_typed`], also reporting the keys the raw body repeated (`duplicates`, found by
/// [`crate::duplicates`]): after the unknown fields, as upstream lists them.
pub fn decode_typed_reporting(
    info: &ResourceInfo,
    mut body: Value,
    validation: FieldValidation,
    duplicates: &[String],
) -> Result<(Value, Vec<String>), ApiError> {
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::bad_request("the request body must be a JSON or YAML object"));
    };
    let expected_version = info.api_version();
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{}'",
                truncate(&serde_json::to_string(&body).unwrap_or_default(), 256)
            )))
        }
        Some(k) if k != info.kind => {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"{}\" cannot be handled as a {}: no kind \"{k}\" is registered for version \"{expected_version}\"",
                info.version, info.kind
            )))
        }
        Some(_) => {}
    }
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
        None => {
            obj.insert("apiVersion".into(), expected_version.clone().into());
        }
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj.insert("metadata".into(), json!({}));
    }
    let normalized = (info.normalize)(&body).map_err(|e| {
        ApiError::bad_request(format!("{} in version \"{}\" cannot be handled as a {}: {e}", info.kind, info.version, info.kind))
    })?;
    let mut unknown = Vec::new();
    if validation != FieldValidation::Ignore {
        unknown_fields(&body, &normalized, "", &mut unknown);
    }
    let mut messages: Vec<String> = unknown.iter().map(|p| format!("unknown field \"{p}\"")).collect();
    if validation != FieldValidation::Ignore {
        messages.extend(duplicates.iter().map(|p| format!("duplicate field \"{p}\"")));
    }
    if validation == FieldValidation::Strict && !messages.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            info.kind,
            info.version,
            info.kind,
            messages.join(", ")
        )));
    }
    Ok((normalized, messages))
}

/// Paths present in `raw` but dropped by the typed round trip (null values are not fields).
fn unknown_fields(raw: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (raw, typed) {
        (Value::Object(r), Value::Object(t)) => {
            for (k, v) in r {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match t.get(k) {
                    Some(tv) => unknown_fields(v, tv, &child, out),
                    None if v.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(r), Value::Array(t)) => {
            for (i, (rv, tv)) in r.iter().zip(t).enumerate() {
                unknown_fields(rv, tv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn set_namespace(info: &ResourceInfo, obj: &mut Value, ns: Option<&str>) -> Result<(), ApiError> {
    let body_ns = namespace_of(obj);
    if !info.namespaced {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("namespace");
        }
        return Ok(());
    }
    let Some(ns) = ns else {
        return Err(ApiError::bad_request("the namespace of the object must be set in the request path"));
    };
    match body_ns.as_deref() {
        None | Some("") => obj["metadata"]["namespace"] = json!(ns),
        Some(b) if b == ns => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ))
        }
    }
    Ok(())
}

/// uid, creationTimestamp, name from generateName; clears fields clients may not set.
fn prepare_new_metadata(obj: &mut Value) -> Result<(), ApiError> {
    let meta = obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        if let Some(prefix) = meta.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty()) {
            let generated = format!("{}{}", truncate_name_prefix(prefix), random_suffix());
            meta.insert("name".into(), generated.into());
        }
    }
    meta.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
    meta.insert("creationTimestamp".into(), now().into());
    for f in ["resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        meta.remove(f);
    }
    Ok(())
}

/// Upstream keeps generated names within 63 characters by trimming the prefix to 58.
fn truncate_name_prefix(prefix: &str) -> &str {
    truncate(prefix, 58)
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A patch that could not be applied: 400 when the patch document is malformed, 422 when it is
/// well-formed but does not apply (a failed `test` operation, a missing path).
pub fn patch_error(e: patch::PatchError) -> ApiError {
    let code = e.status_code();
    ApiError::new(code, if code == 400 { "BadRequest" } else { "Invalid" }, e.to_string(), None)
}

fn check_valid(info: &ResourceInfo, name: &str, errors: FieldErrors) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(info.group, info.kind, name, &errors))
    }
}

fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            o.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// Whether an object passes the list's label and field selectors.
pub fn matches_selectors(info: &ResourceInfo, obj: &Value, opts: &ListOptions) -> bool {
    if let Some(sel) = &opts.label_selector {
        let empty = Map::new();
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object).unwrap_or(&empty);
        if !sel.matches(labels) {
            return false;
        }
    }
    if let Some(sel) = &opts.field_selector {
        let extra = info.strategy().selectable_fields(obj);
        let lookup = |field: &str| -> Option<String> {
            match field {
                "metadata.name" => Some(name_of(obj)),
                "metadata.namespace" => Some(namespace_of(obj).unwrap_or_default()),
                other => extra.iter().find(|(f, _)| *f == other).map(|(_, v)| v.clone()),
            }
        };
        if !sel.matches(&lookup) {
            return false;
        }
    }
    true
}

/// Validates a field selector against the fields the kind supports, with upstream's message.
pub fn check_field_selector(info: &ResourceInfo, sel: &FieldSelector) -> Result<(), ApiError> {
    let sample = info.strategy().selectable_fields(&json!({}));
    for field in sel.fields() {
        let known = field == "metadata.name" || field == "metadata.namespace" || sample.iter().any(|(f, _)| *f == field);
        if !known {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {field}"
            )));
        }
    }
    Ok(())
}

/// Current time as upstream's `metav1.Time` (RFC 3339, seconds).
pub use corten_apimachinery::time::now_rfc3339 as now;

// ----- continue tokens -----

fn encode_continue(rev: Revision, start_after_key: &str, prefix: &str) -> String {
    let rel = start_after_key.strip_prefix(prefix).unwrap_or(start_after_key);
    let token = json!({ "v": "meta.k8s.io/v1", "rv": rev.0, "start": rel });
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str, prefix: &str) -> Result<(Revision, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad());
    }
    let rev = v["rv"].as_u64().ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((Revision(rev), format!("{prefix}{start}")))
}

// ----- error translation -----

/// Storage errors as API errors naming the resource (upstream's `Interpret*Error`).
pub fn storage_error(e: StorageError, info: &ResourceInfo, name: &str) -> ApiError {
    let gr: GroupResource<'_> = info.group_resource();
    match e {
        StorageError::NotFound { .. } => ApiError::not_found(gr, name),
        StorageError::AlreadyExists { .. } => ApiError::already_exists(gr, name),
        StorageError::Conflict { .. } => ApiError::conflict(gr, name, ApiError::MODIFIED),
        StorageError::Compacted { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {} ({})", requested.0, oldest.0))
        }
        StorageError::FutureRevision { requested, current } => {
            ApiError::timeout(format!("Too large resource version: {}, current: {}", requested.0, current.0))
        }
        StorageError::Unavailable(err) => ApiError::unavailable(format!("storage is unavailable: {err}")),
    }
}

fn apply_error(info: &ResourceInfo, name: &str, e: patch::ApplyError) -> ApiError {
    match &e {
        patch::ApplyError::Conflicts(conflicts) => {
            let mut err = ApiError::conflict(info.group_resource(), name, "");
            err.0.message = Some(e.to_string());
            if let Some(d) = err.0.details.as_mut() {
                d.causes = Some(
                    conflicts
                        .iter()
                        .map(|c| k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause {
                            field: Some(c.field.clone()),
                            message: Some(format!(
                                "conflict with \"{}\"{}",
                                c.manager,
                                c.api_version.as_deref().map(|v| format!(" using {v}")).unwrap_or_default()
                            )),
                            reason: Some("FieldManagerConflict".into()),
                        })
                        .collect(),
                );
            }
            err
        }
        patch::ApplyError::Invalid(message) => ApiError::bad_request(message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_registry_layout() {
        let pods = corten_apis::resources::lookup("", "v1", "pods").expect("pods");
        let deploy = corten_apis::resources::lookup("apps", "v1", "deployments").expect("deployments");
        let ns = corten_apis::resources::lookup("", "v1", "namespaces").expect("namespaces");
        assert_eq!(key(pods, Some("default"), "p"), "/registry/pods/default/p");
        assert_eq!(key(deploy, Some("a"), "d"), "/registry/apps/deployments/a/d");
        assert_eq!(key(ns, None, "kube-system"), "/registry/namespaces/kube-system");
        assert_eq!(prefix(pods, None), "/registry/pods/");
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(Revision(42), "/registry/pods/default/b", "/registry/pods/default/");
        let (rev, start) = decode_continue(&t, "/registry/pods/default/").expect("valid");
        assert_eq!((rev, start.as_str()), (Revision(42), "/registry/pods/default/b"));
        assert_eq!(decode_continue("!!!", "/p/").expect_err("bad").code(), 400);
    }

    #[test]
    fn strict_validation_names_unknown_fields() {
        let cm = corten_apis::resources::lookup("", "v1", "configmaps").expect("cm");
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "bogus": 1}, "spec": {"x": 1}});
        let err = decode_typed(cm, body.clone(), FieldValidation::Strict).expect_err("strict rejects");
        assert_eq!(err.code(), 400);
        assert!(err.message().contains("unknown field \"metadata.bogus\""), "{}", err.message());
        assert!(err.message().contains("unknown field \"spec\""), "{}", err.message());
        let (_, warnings) = decode_typed(cm, body, FieldValidation::Warn).expect("warn accepts");
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn wrong_kind_or_version_is_a_bad_request() {
        let cm = corten_apis::resources::lookup("", "v1", "configmaps").expect("cm");
        let e = decode_typed(cm, json!({"apiVersion": "v1", "kind": "Secret"}), FieldValidation::Strict).expect_err("kind");
        assert_eq!(e.code(), 400);
        let e = decode_typed(cm, json!({"apiVersion": "apps/v1", "kind": "ConfigMap"}), FieldValidation::Strict).expect_err("version");
        assert!(e.message().contains("does not match the expected API version (v1)"));
        let e = decode_typed(cm, json!({"metadata": {}}), FieldValidation::Strict).expect_err("kind missing");
        assert!(e.message().starts_with("Object 'Kind' is missing"));
    }
}
