//! What differs between built-in kinds, as data and pure functions.
//!
//! The API server's generic registry handles every kind the same way; everything kind-specific
//! lives here, mirroring upstream's `pkg/apis/<group>` (defaults, validation), `pkg/registry`
//! strategies and `pkg/printers` (table columns):
//!
//! * [`resources`]: the resource table, the single source of truth for routing, discovery and
//!   OpenAPI. Adding a kind means one row there plus, if it has rules, one module in [`kinds`].
//! * [`Strategy`]: defaulting, validation, create/update preparation and selectable fields of a
//!   kind, looked up with [`kinds::strategy_for`].
//! * [`printers`]: server-side Table columns and cells, like `kubectl get` shows them.
//! * [`openapi`]: the `/openapi/v2` and `/openapi/v3` documents built from the typed schemas.
//!
//! Nothing here does I/O. Objects travel as `serde_json::Value` (the registry's currency); a
//! strategy that wants typed access decodes into the `k8s-openapi` type itself.

pub mod kinds;
pub mod openapi;
pub mod printers;
pub mod resources;

use corten_apimachinery::FieldErrors;
use serde_json::Value;

pub use resources::{ResourceInfo, Subresource};

/// Everything a kind may do differently from the generic registry. All methods have neutral
/// defaults, so a kind without rules uses [`kinds::DefaultStrategy`].
///
/// Call order on create: `default` → `prepare_for_create` → `validate`.
/// On update (including the result of a patch): `default` → `prepare_for_update` → `validate_update`.
pub trait Strategy: Send + Sync {
    /// Fills defaulted fields, like upstream's `SetDefaults_*`. Runs on every decoded write.
    fn default(&self, _obj: &mut Value) {}

    /// Whether a create may set `status` although the kind has a status subresource (nodes:
    /// the kubelet registers its Node with its status, as upstream allows).
    fn keeps_status_on_create(&self) -> bool {
        false
    }

    /// Records who asks for the object, on create (CSRs carry their requester's name and groups).
    fn record_requesting_user(&self, _obj: &mut Value, _user: &str, _groups: &[String]) {}

    /// Adjusts a new object before it is validated and stored (e.g. a pod's initial status).
    /// The registry has already dropped `status` for kinds with a status subresource.
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Adjusts an updated object before validation (e.g. fields that may only be set by
    /// the system). The registry has already restored the old `status` for kinds with a status
    /// subresource.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Validates a new object. Must not mutate. Returns every problem found.
    fn validate(&self, _obj: &Value) -> FieldErrors {
        Vec::new()
    }

    /// Validates an update (immutable fields and the rules of `validate`).
    fn validate_update(&self, new: &Value, _old: &Value) -> FieldErrors {
        self.validate(new)
    }

    /// Whether the object must stay, marked for deletion, until the system clears something other
    /// than `metadata.finalizers` (a namespace's `spec.finalizers`).
    fn blocks_deletion(&self, _obj: &Value) -> bool {
        false
    }

    /// How long a deletion of this object waits for someone (the kubelet) to finish it, when the
    /// client gives no `gracePeriodSeconds`; `None` for kinds deleted at once. While it waits the
    /// object carries `deletionTimestamp` and `deletionGracePeriodSeconds`; a delete with grace 0
    /// removes it.
    fn deletion_grace_seconds(&self, _obj: &Value) -> Option<i64> {
        None
    }

    /// Adjusts an object when its graceful deletion starts (a namespace turns `Terminating`).
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Whether `metadata.generation` is bumped when the spec changes (deployments, jobs, ...).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Extra fields this kind supports in field selectors, beyond `metadata.name` and
    /// `metadata.namespace` (e.g. `spec.nodeName`, `status.phase` for pods), with their values.
    fn selectable_fields(&self, _obj: &Value) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}
