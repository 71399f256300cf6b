//! Endpoint controllers: EndpointSlices (discovery.k8s.io/v1) and the legacy Endpoints, from
//! Service selectors and pod readiness.
//!
//! Why one module for both: upstream runs two controllers over the same inputs (Services, Pods)
//! and they must agree on which pods back a Service; computing both from one snapshot keeps them
//! consistent. The pure part ([`desired_groups`], [`plan_slices`], [`desired_endpoints`]) decides
//! what should exist; the sync loop only compares and writes. Writes happen only when the
//! semantic content (ignoring order) differs, so a resync of a settled cluster writes nothing.
//!
//! Upstream semantics followed: selector-less and ExternalName Services get nothing (their
//! Endpoints belong to the user); the `default/kubernetes` Service is the API server's; slices
//! carry the `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by` labels and
//! a controller ownerReference to the Service (the garbage collector removes them), at most
//! [`MAX_ENDPOINTS_PER_SLICE`] endpoints each, one group of slices per resolved port list; a
//! Service without endpoints keeps one empty placeholder slice; Endpoints have no ownerReference,
//! so this controller deletes them when their Service goes. User-managed Endpoints of
//! selector-less Services are mirrored into slices (`managed-by`
//! `endpointslicemirroring-controller.k8s.io`, owned by the Endpoints) unless labelled
//! `endpointslice.kubernetes.io/skip-mirror: "true"`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CoreEndpointPort, EndpointSubset, Endpoints, Node,
    ObjectReference, Pod, Service, ServicePort,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::replicaset::is_ready;

/// Upstream's limit on endpoints in one slice (the controller's default `--max-endpoints-per-slice`).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// The `managed-by` value of slices mirrored from user-managed Endpoints.
pub const MIRROR_CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// Endpoints with this label set to "true" are not mirrored (the API server's own).
const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The `managed-by` value of slices this controller owns.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Label upstream puts on slices and Endpoints of headless Services.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Endpoints carrying this annotation belong to leader election, never to a Service.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
const RESYNC: Duration = Duration::from_secs(30);

/// A Service, identified by namespace and name (survives the Service's deletion).
type ServiceKey = (String, String);

/// Runs the EndpointSlice and Endpoints controllers until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let (svc_reader, svc_writer) = reflector::store::<Service>();
    let (pod_reader, pod_writer) = reflector::store::<Pod>();
    let (slice_reader, slice_writer) = reflector::store::<EndpointSlice>();
    let (ep_reader, ep_writer) = reflector::store::<Endpoints>();
    let (node_reader, node_writer) = reflector::store::<Node>();
    let (tx, mut rx) = mpsc::unbounded_channel::<ServiceKey>();

    let svc_tx = tx.clone();
    let services = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(svc_writer);
    tokio::spawn(services.for_each(move |e| {
        if let Ok(
            watcher::Event::Apply(s) | watcher::Event::InitApply(s) | watcher::Event::Delete(s),
        ) = e
        {
            let _ = svc_tx.send(key_of(&s));
        }
        std::future::ready(())
    }));
    let (pod_tx, pod_svcs) = (tx.clone(), svc_reader.clone());
    let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(pod_writer);
    tokio::spawn(pods.for_each(move |e| {
        if let Ok(
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) | watcher::Event::Delete(p),
        ) = e
        {
            // The pod's old labels are gone, so every Service of its namespace may care.
            let ns = p.namespace();
            for s in pod_svcs.state().iter().filter(|s| s.namespace() == ns) {
                let _ = pod_tx.send(key_of(&**s));
            }
        }
        std::future::ready(())
    }));
    let slice_tx = tx.clone();
    let slices = watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(slice_writer);
    tokio::spawn(slices.for_each(move |e| {
        if let Ok(watcher::Event::Apply(s) | watcher::Event::Delete(s)) = e {
            if matches!(
                s.labels().get(MANAGED_BY_LABEL).map(String::as_str),
                Some(CONTROLLER_NAME | MIRROR_CONTROLLER_NAME)
            ) {
                if let Some(svc) = s.labels().get(SERVICE_NAME_LABEL) {
                    let _ = slice_tx.send((s.namespace().unwrap_or_default(), svc.clone()));
                }
            }
        }
        std::future::ready(())
    }));
    let (ep_tx, ep_svcs) = (tx.clone(), svc_reader.clone());
    let endpoints = watcher(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(ep_writer);
    tokio::spawn(endpoints.for_each(move |e| {
        // Only for existing Services: a key without a Service means "delete its Endpoints".
        if let Ok(watcher::Event::Apply(ep) | watcher::Event::Delete(ep)) = e {
            let key = key_of(&ep);
            if ep_svcs.state().iter().any(|s| key_of(&**s) == key) {
                let _ = ep_tx.send(key);
            }
        }
        std::future::ready(())
    }));
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer);
    tokio::spawn(nodes.for_each(|_| std::future::ready(())));

    let _ = tokio::join!(
        svc_reader.wait_until_ready(),
        pod_reader.wait_until_ready(),
        slice_reader.wait_until_ready(),
        ep_reader.wait_until_ready(),
        node_reader.wait_until_ready()
    );
    let ctl = Controller {
        client,
        services: svc_reader,
        pods: pod_reader,
        slices: slice_reader,
        endpoints: ep_reader,
        nodes: node_reader,
    };
    // Like upstream after a restart: Endpoints left behind by Services deleted while we were down.
    for ep in ctl.endpoints.state() {
        let key = key_of(&*ep);
        if !ep.annotations().contains_key(LEADER_ANNOTATION) && ctl.service(&key).is_none() {
            let _ = tx.send(key);
        }
    }
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        let mut batch: HashSet<ServiceKey> = HashSet::new();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            k = rx.recv() => match k { Some(k) => { batch.insert(k); } None => return },
            _ = resync.tick() => batch.extend(ctl.services.state().iter().map(|s| key_of(&**s))),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(k) = rx.try_recv() {
            batch.insert(k);
        }
        for key in batch {
            if let Err(e) = ctl.sync(&key).await {
                tracing::debug!(namespace = %key.0, service = %key.1, error = %e, "endpoints sync failed; will retry");
            }
        }
    }
}

fn key_of<K: ResourceExt>(obj: &K) -> ServiceKey {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

struct Controller {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    endpoints: Store<Endpoints>,
    nodes: Store<Node>,
}

/// Whether this controller computes endpoints for `svc`: it has a selector and is not ExternalName.
fn is_managed(svc: &Service) -> bool {
    let spec = svc.spec.as_ref();
    let has_selector = spec
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty());
    let external_name = spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName");
    has_selector
        && !external_name
        && !(svc.namespace().as_deref() == Some("default") && svc.name_any() == "kubernetes")
}

impl Controller {
    fn service(&self, key: &ServiceKey) -> Option<std::sync::Arc<Service>> {
        self.services
            .state()
            .into_iter()
            .find(|s| key_of(&**s) == *key)
    }

    async fn sync(&self, key: &ServiceKey) -> Result<(), kube::Error> {
        let (ns, name) = key;
        if ns == "default" && name == "kubernetes" {
            return Ok(());
        }
        let ep_api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let slice_api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let managed_by = |controller: &str| -> Vec<EndpointSlice> {
            self.slices
                .state()
                .iter()
                .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
                .filter(|s| {
                    s.labels().get(SERVICE_NAME_LABEL) == Some(name)
                        && s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(controller)
                })
                .map(|s| (**s).clone())
                .collect()
        };
        let ours = managed_by(CONTROLLER_NAME);
        let mirrored = managed_by(MIRROR_CONTROLLER_NAME);
        let current = self
            .endpoints
            .state()
            .into_iter()
            .find(|e| key_of(&**e) == *key);
        let Some(svc) = self.service(key) else {
            // Slices go with the Service through their ownerReference; Endpoints have none.
            if current
                .as_ref()
                .is_some_and(|e| !e.annotations().contains_key(LEADER_ANNOTATION))
            {
                ignore_not_found(
                    ep_api
                        .delete(name, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                )?;
            }
            for s in mirrored {
                ignore_not_found(
                    slice_api
                        .delete(&s.name_any(), &DeleteParams::default())
                        .await
                        .map(|_| ()),
                )?;
            }
            return Ok(());
        };
        if !is_managed(&svc) {
            // The selector went away: our slices no longer describe anything; Endpoints are the
            // user's, mirrored into slices when the Service has no selector at all.
            let mut stale = ours;
            let selectorless = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_none_or(|s| s.is_empty());
            let mirror_source = current.filter(|e| {
                selectorless
                    && e.labels().get(SKIP_MIRROR_LABEL).map(String::as_str) != Some("true")
                    && !e.annotations().contains_key(LEADER_ANNOTATION)
            });
            match mirror_source {
                Some(ep) => {
                    let plan = plan_slices(
                        &SliceTemplate::mirroring(&ep),
                        &mirrored,
                        mirror_groups(&ep),
                    );
                    for s in &plan.create {
                        slice_api.create(&PostParams::default(), s).await?;
                    }
                    for s in &plan.update {
                        slice_api
                            .replace(&s.name_any(), &PostParams::default(), s)
                            .await?;
                    }
                    stale.extend(
                        mirrored
                            .into_iter()
                            .filter(|s| plan.delete.contains(&s.name_any())),
                    );
                }
                None => stale.extend(mirrored),
            }
            for s in stale {
                ignore_not_found(
                    slice_api
                        .delete(&s.name_any(), &DeleteParams::default())
                        .await
                        .map(|_| ()),
                )?;
            }
            return Ok(());
        }
        for s in mirrored {
            ignore_not_found(
                slice_api
                    .delete(&s.name_any(), &DeleteParams::default())
                    .await
                    .map(|_| ()),
            )?;
        }
        let pods: Vec<Pod> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
            .map(|p| (**p).clone())
            .collect();
        let zones: HashMap<String, String> = self
            .nodes
            .state()
            .iter()
            .filter_map(|n| {
                n.labels()
                    .get("topology.kubernetes.io/zone")
                    .map(|z| (n.name_any(), z.clone()))
            })
            .collect();

        // Endpoints.
        let desired = desired_endpoints(&svc, &pods);
        match current {
            None => match ep_api.create(&PostParams::default(), &desired).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e),
            },
            Some(cur) if !endpoints_equal(&cur, &desired) => {
                let mut updated = (*cur).clone();
                updated.subsets = desired.subsets;
                updated.metadata.labels = desired.metadata.labels;
                ep_api
                    .replace(name, &PostParams::default(), &updated)
                    .await?;
            }
            Some(_) => {}
        }

        // EndpointSlices.
        let groups = desired_groups(&svc, &pods, &zones);
        let plan = plan_slices(&SliceTemplate::for_service(&svc), &ours, groups);
        for s in &plan.create {
            slice_api.create(&PostParams::default(), s).await?;
        }
        for s in &plan.update {
            slice_api
                .replace(&s.name_any(), &PostParams::default(), s)
                .await?;
        }
        for n in &plan.delete {
            ignore_not_found(
                slice_api
                    .delete(n, &DeleteParams::default())
                    .await
                    .map(|_| ()),
            )?;
        }
        Ok(())
    }
}

fn ignore_not_found(r: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    }
}

/// Whether a pod may appear in endpoints at all: not finished, has an IP, and (unless
/// `include_terminating`) not being deleted.
fn pod_eligible(pod: &Pod, include_terminating: bool) -> bool {
    let status = pod.status.as_ref();
    let terminal = matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let has_ip = status
        .and_then(|s| s.pod_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty());
    !terminal && has_ip && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

fn selects(svc: &Service, pod: &Pod) -> bool {
    let selector = svc.spec.as_ref().and_then(|s| s.selector.as_ref());
    selector.is_some_and(|sel| {
        !sel.is_empty() && sel.iter().all(|(k, v)| pod.labels().get(k) == Some(v))
    })
}

fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

/// The pod's address in `family` ("IPv4" / "IPv6"): from `podIPs`, else `podIP`.
fn pod_address(pod: &Pod, family: &str) -> Option<String> {
    let status = pod.status.as_ref()?;
    let want_v6 = family == "IPv6";
    let listed = status.pod_ips.iter().flatten().map(|p| p.ip.clone());
    listed
        .chain(status.pod_ip.clone())
        .find(|ip| !ip.is_empty() && is_ipv6(ip) == want_v6)
}

/// The Service's address families, primary first (IPv4 when unset).
fn families(svc: &Service) -> Vec<String> {
    let listed = svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.clone())
        .unwrap_or_default();
    if listed.is_empty() {
        vec!["IPv4".to_string()]
    } else {
        listed
    }
}

/// The container port a Service port reaches on `pod`: a numeric targetPort as is, a named one
/// looked up among the pod's container ports (same protocol); `None` when the name is missing.
pub fn resolve_target_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(0)) => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
            containers
                .flat_map(|c| c.ports.iter().flatten())
                .find(|cp| {
                    cp.name.as_deref() == Some(name.as_str())
                        && cp.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|cp| cp.container_port)
        }
    }
}

fn should_set_hostname(svc: &Service, pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && pod.namespace() == svc.namespace())
    .then(|| hostname.to_string())
}

fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..Default::default()
    }
}

fn service_ports(svc: &Service) -> &[ServicePort] {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
}

fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Endpoints of one address type that share one resolved port list: one family of slices.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceGroup {
    /// `IPv4` or `IPv6`.
    pub address_type: String,
    /// Resolved ports, in Service port order.
    pub ports: Vec<EndpointPort>,
    /// The endpoints, sorted by [`endpoint_key`].
    pub endpoints: Vec<Endpoint>,
}

/// What identifies an endpoint across updates: its pod's UID, else its first address.
pub fn endpoint_key(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .or_else(|| e.addresses.first().cloned())
        .unwrap_or_default()
}

/// The endpoints the Service should have, grouped by address type and resolved ports.
pub fn desired_groups(
    svc: &Service,
    pods: &[Pod],
    zones: &HashMap<String, String>,
) -> Vec<SliceGroup> {
    let publish_not_ready = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut groups: Vec<SliceGroup> = Vec::new();
    for family in families(svc) {
        for pod in pods
            .iter()
            .filter(|p| selects(svc, p) && pod_eligible(p, true))
        {
            let Some(address) = pod_address(pod, &family) else {
                continue;
            };
            let ports: Vec<EndpointPort> = service_ports(svc)
                .iter()
                .filter_map(|sp| {
                    resolve_target_port(pod, sp).map(|port| EndpointPort {
                        name: Some(sp.name.clone().unwrap_or_default()),
                        port: Some(port),
                        protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                        app_protocol: sp.app_protocol.clone(),
                    })
                })
                .collect();
            let serving = is_ready(pod);
            let terminating = pod.metadata.deletion_timestamp.is_some();
            let node_name = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty());
            let endpoint = Endpoint {
                addresses: vec![address],
                conditions: Some(EndpointConditions {
                    ready: Some(publish_not_ready || (serving && !terminating)),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                hostname: should_set_hostname(svc, pod),
                zone: node_name.as_ref().and_then(|n| zones.get(n)).cloned(),
                node_name,
                target_ref: Some(pod_ref(pod)),
                ..Default::default()
            };
            match groups
                .iter_mut()
                .find(|g| g.address_type == family && g.ports == ports)
            {
                Some(g) => g.endpoints.push(endpoint),
                None => groups.push(SliceGroup {
                    address_type: family.clone(),
                    ports,
                    endpoints: vec![endpoint],
                }),
            }
        }
    }
    for g in &mut groups {
        g.endpoints.sort_by_key(endpoint_key);
    }
    groups
}

/// Slice groups mirroring a user-managed Endpoints object: each subset's addresses (ready) and
/// notReadyAddresses (not ready), grouped by address type and ports.
pub fn mirror_groups(ep: &Endpoints) -> Vec<SliceGroup> {
    let mut groups: Vec<SliceGroup> = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        for (address, ready) in ready.chain(not_ready) {
            let Ok(ip) = address.ip.parse::<std::net::IpAddr>() else {
                continue;
            };
            let address_type = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
            let endpoint = Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(ready),
                    ..Default::default()
                }),
                hostname: address.hostname.clone().filter(|h| !h.is_empty()),
                node_name: address.node_name.clone(),
                target_ref: address.target_ref.clone(),
                ..Default::default()
            };
            match groups.iter_mut().find(|g| {
                g.address_type == address_type && sorted_ports(&g.ports) == sorted_ports(&ports)
            }) {
                Some(g) => g.endpoints.push(endpoint),
                None => groups.push(SliceGroup {
                    address_type: address_type.into(),
                    ports: ports.clone(),
                    endpoints: vec![endpoint],
                }),
            }
        }
    }
    for g in &mut groups {
        g.endpoints.sort_by_key(endpoint_key);
        g.endpoints
            .dedup_by(|a, b| endpoint_key(a) == endpoint_key(b));
    }
    groups
}

/// The writes that turn the existing slices into the desired ones.
#[derive(Debug, Default)]
pub struct SlicePlan {
    /// New slices (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content (name and resourceVersion kept).
    pub update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub delete: Vec<String>,
}

/// What every slice of one owner looks like apart from its content: the Service's for this
/// controller, the Endpoints object's for mirroring.
#[derive(Debug, Clone)]
pub struct SliceTemplate {
    /// `generateName` prefix (`<service>-`).
    pub generate_name: String,
    /// Namespace of the slices.
    pub namespace: Option<String>,
    /// The full desired label set.
    pub labels: BTreeMap<String, String>,
    /// The controller ownerReference.
    pub owner: OwnerReference,
    /// Address type of the empty placeholder slice kept when there are no endpoints (mirrored
    /// slices have none).
    pub placeholder: Option<String>,
}

impl SliceTemplate {
    /// The template of the slices this controller keeps for `svc`.
    pub fn for_service(svc: &Service) -> Self {
        let mut labels = svc.labels().clone();
        labels.remove(HEADLESS_LABEL);
        labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
        labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
        if is_headless(svc) {
            labels.insert(HEADLESS_LABEL.into(), String::new());
        }
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: svc.name_any(),
            uid: svc.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        SliceTemplate {
            generate_name: format!("{}-", svc.name_any()),
            namespace: svc.namespace(),
            labels,
            owner,
            placeholder: families(svc).into_iter().next(),
        }
    }

    /// The template of slices mirrored from a user-managed Endpoints object (owned by it).
    pub fn mirroring(ep: &Endpoints) -> Self {
        let mut labels = ep.labels().clone();
        labels.insert(SERVICE_NAME_LABEL.into(), ep.name_any());
        labels.insert(MANAGED_BY_LABEL.into(), MIRROR_CONTROLLER_NAME.into());
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Endpoints".into(),
            name: ep.name_any(),
            uid: ep.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        SliceTemplate {
            generate_name: format!("{}-", ep.name_any()),
            namespace: ep.namespace(),
            labels,
            owner,
            placeholder: None,
        }
    }

    fn owns(&self, slice: &EndpointSlice) -> bool {
        slice
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.uid == self.owner.uid)
    }

    fn slice(
        &self,
        address_type: &str,
        ports: Option<Vec<EndpointPort>>,
        endpoints: Vec<Endpoint>,
    ) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                generate_name: Some(self.generate_name.clone()),
                namespace: self.namespace.clone(),
                labels: Some(self.labels.clone()),
                owner_references: Some(vec![self.owner.clone()]),
                ..Default::default()
            },
            address_type: address_type.into(),
            endpoints,
            ports,
        }
    }
}

/// Ports in a canonical order, so that port lists compare as sets.
fn sorted_ports(ports: &[EndpointPort]) -> Vec<EndpointPort> {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| (&a.name, &a.protocol, a.port).cmp(&(&b.name, &b.protocol, b.port)));
    ports
}

fn sorted_endpoints(endpoints: &[Endpoint]) -> Vec<Endpoint> {
    let mut endpoints = endpoints.to_vec();
    endpoints.sort_by_key(endpoint_key);
    endpoints
}

/// Whether two slices say the same thing (order of ports and endpoints ignored).
pub fn slices_equivalent(a: &EndpointSlice, b: &EndpointSlice) -> bool {
    a.address_type == b.address_type
        && sorted_ports(a.ports.as_deref().unwrap_or_default())
            == sorted_ports(b.ports.as_deref().unwrap_or_default())
        && sorted_endpoints(&a.endpoints) == sorted_endpoints(&b.endpoints)
        && a.metadata.labels.clone().unwrap_or_default()
            == b.metadata.labels.clone().unwrap_or_default()
}

/// Plans slice writes: existing slices of a matching group keep their still-wanted endpoints
/// (refreshed), new endpoints fill slices already being rewritten before new slices are made,
/// slices left empty are deleted, and a Service with no endpoints keeps one empty placeholder.
pub fn plan_slices(
    template: &SliceTemplate,
    existing: &[EndpointSlice],
    groups: Vec<SliceGroup>,
) -> SlicePlan {
    let mut plan = SlicePlan::default();
    let labels = template.labels.clone();
    let mut kept_any = false;
    let mut claimed: HashSet<usize> = HashSet::new();
    for group in groups {
        let canonical = sorted_ports(&group.ports);
        let mut wanted: BTreeMap<String, Endpoint> = group
            .endpoints
            .into_iter()
            .map(|e| (endpoint_key(&e), e))
            .collect();
        // (slice, changed) for every existing slice of this group that keeps endpoints.
        let mut slices: Vec<(EndpointSlice, bool)> = Vec::new();
        for (i, slice) in existing.iter().enumerate() {
            let ports = slice.ports.as_deref().unwrap_or_default();
            if claimed.contains(&i)
                || !template.owns(slice)
                || slice.address_type != group.address_type
                || sorted_ports(ports) != canonical
                || ports.is_empty() != canonical.is_empty()
            {
                continue;
            }
            claimed.insert(i);
            let endpoints: Vec<Endpoint> = slice
                .endpoints
                .iter()
                .filter_map(|e| wanted.remove(&endpoint_key(e)))
                .collect();
            if endpoints.is_empty() {
                plan.delete.push(slice.name_any());
                continue;
            }
            let mut next = slice.clone();
            next.endpoints = endpoints;
            next.metadata.labels = Some(labels.clone());
            let changed = !slices_equivalent(slice, &next);
            slices.push((next, changed));
        }
        let mut rest: Vec<Endpoint> = wanted.into_values().collect();
        // Fill slices that are written anyway, then a quiet slice that can take all the rest.
        for (slice, changed) in slices.iter_mut().filter(|(_, c)| *c) {
            let room = MAX_ENDPOINTS_PER_SLICE
                .saturating_sub(slice.endpoints.len())
                .min(rest.len());
            slice.endpoints.extend(rest.drain(..room));
            *changed = true;
        }
        if !rest.is_empty() && rest.len() < MAX_ENDPOINTS_PER_SLICE {
            if let Some((slice, changed)) = slices
                .iter_mut()
                .find(|(s, _)| s.endpoints.len() + rest.len() <= MAX_ENDPOINTS_PER_SLICE)
            {
                slice.endpoints.append(&mut rest);
                *changed = true;
            }
        }
        while !rest.is_empty() {
            let chunk: Vec<Endpoint> = rest
                .drain(..rest.len().min(MAX_ENDPOINTS_PER_SLICE))
                .collect();
            plan.create
                .push(template.slice(&group.address_type, Some(group.ports.clone()), chunk));
        }
        kept_any |= !slices.is_empty();
        plan.update
            .extend(slices.into_iter().filter(|(_, c)| *c).map(|(s, _)| s));
    }
    kept_any |= !plan.create.is_empty();
    // Without a placeholder type, "nothing kept" needs no slice at all.
    kept_any |= template.placeholder.is_none();
    let primary = template.placeholder.clone().unwrap_or_default();
    for (_, slice) in existing
        .iter()
        .enumerate()
        .filter(|(i, _)| !claimed.contains(i))
    {
        let is_placeholder = template.owns(slice)
            && slice.endpoints.is_empty()
            && slice.ports.as_deref().unwrap_or_default().is_empty()
            && slice.address_type == primary;
        if !kept_any && is_placeholder {
            kept_any = true;
            if slice.metadata.labels.as_ref() != Some(&labels) {
                let mut next = slice.clone();
                next.metadata.labels = Some(labels.clone());
                plan.update.push(next);
            }
        } else {
            plan.delete.push(slice.name_any());
        }
    }
    if !kept_any {
        plan.create.push(template.slice(&primary, None, Vec::new()));
    }
    // Like upstream, rewrite a slice that would be deleted rather than create a new one.
    let mut creates = Vec::new();
    for slice in std::mem::take(&mut plan.create) {
        let reusable = plan.delete.iter().position(|n| {
            existing.iter().any(|e| {
                e.name_any() == *n && template.owns(e) && e.address_type == slice.address_type
            })
        });
        match reusable.and_then(|i| {
            existing
                .iter()
                .find(|e| e.name_any() == plan.delete[i])
                .map(|e| (i, e))
        }) {
            Some((i, old)) => {
                plan.delete.remove(i);
                let mut next = old.clone();
                next.metadata.labels = slice.metadata.labels;
                next.ports = slice.ports;
                next.endpoints = slice.endpoints;
                plan.update.push(next);
            }
            None => creates.push(slice),
        }
    }
    plan.create = creates;
    plan
}

/// The legacy Endpoints object for a Service: ready pods in `addresses`, the others in
/// `notReadyAddresses`, pods with the same resolved ports sharing a subset.
pub fn desired_endpoints(svc: &Service, pods: &[Pod]) -> Endpoints {
    let publish_not_ready = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let family = families(svc)
        .into_iter()
        .next()
        .unwrap_or_else(|| "IPv4".into());
    // Subsets keyed by their canonical port list, in first-seen order.
    let mut subsets: Vec<(Vec<CoreEndpointPort>, EndpointSubset)> = Vec::new();
    for pod in pods
        .iter()
        .filter(|p| selects(svc, p) && pod_eligible(p, publish_not_ready))
    {
        let Some(ip) = pod_address(pod, &family) else {
            continue;
        };
        let ports: Vec<CoreEndpointPort> = service_ports(svc)
            .iter()
            .filter_map(|sp| {
                resolve_target_port(pod, sp).map(|port| CoreEndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port,
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        // A pod none of whose ports resolve backs nothing, except for port-less headless Services.
        if ports.is_empty() && !(service_ports(svc).is_empty() && is_headless(svc)) {
            continue;
        }
        let address = EndpointAddress {
            ip,
            hostname: should_set_hostname(svc, pod),
            node_name: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            target_ref: Some(pod_ref(pod)),
        };
        let canonical = sorted_core_ports(&ports);
        let idx = match subsets.iter().position(|(k, _)| *k == canonical) {
            Some(i) => i,
            None => {
                let subset = EndpointSubset {
                    ports: (!ports.is_empty()).then_some(ports),
                    ..Default::default()
                };
                subsets.push((canonical, subset));
                subsets.len() - 1
            }
        };
        let subset = &mut subsets[idx].1;
        let list = if publish_not_ready || is_ready(pod) {
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        list.get_or_insert_with(Vec::new).push(address);
    }
    let mut labels = svc.labels().clone();
    labels.remove(HEADLESS_LABEL);
    if is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    for (_, subset) in &mut subsets {
        for list in [&mut subset.addresses, &mut subset.not_ready_addresses]
            .into_iter()
            .flatten()
        {
            list.sort_by(|a, b| a.ip.cmp(&b.ip));
        }
    }
    Endpoints {
        metadata: ObjectMeta {
            name: Some(svc.name_any()),
            namespace: svc.namespace(),
            labels: Some(labels),
            ..Default::default()
        },
        // Upstream leaves `subsets` out entirely when nothing backs the Service.
        subsets: (!subsets.is_empty()).then(|| subsets.into_iter().map(|(_, s)| s).collect()),
    }
}

fn sorted_core_ports(ports: &[CoreEndpointPort]) -> Vec<CoreEndpointPort> {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
    ports
}

/// A subset list in canonical form: each subset's addresses and ports sorted, subsets sorted.
fn canonical_subsets(subsets: &[EndpointSubset]) -> Vec<String> {
    let sort_addresses = |a: &Option<Vec<EndpointAddress>>| {
        let mut a = a.clone().unwrap_or_default();
        a.sort_by(|x, y| {
            (&x.ip, x.target_ref.as_ref().and_then(|r| r.uid.as_ref()))
                .cmp(&(&y.ip, y.target_ref.as_ref().and_then(|r| r.uid.as_ref())))
        });
        a
    };
    let mut out: Vec<String> = subsets
        .iter()
        .filter(|s| {
            s.addresses.as_ref().is_some_and(|a| !a.is_empty())
                || s.not_ready_addresses
                    .as_ref()
                    .is_some_and(|a| !a.is_empty())
        })
        .map(|s| {
            let value = serde_json::json!({
                "addresses": sort_addresses(&s.addresses),
                "notReadyAddresses": sort_addresses(&s.not_ready_addresses),
                "ports": sorted_core_ports(s.ports.as_deref().unwrap_or_default()),
            });
            value.to_string()
        })
        .collect();
    out.sort();
    out
}

/// Whether `current` already says what `desired` says (subsets as sets, and labels).
pub fn endpoints_equal(current: &Endpoints, desired: &Endpoints) -> bool {
    canonical_subsets(current.subsets.as_deref().unwrap_or_default())
        == canonical_subsets(desired.subsets.as_deref().unwrap_or_default())
        && current.metadata.labels.clone().unwrap_or_default()
            == desired.metadata.labels.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(extra_spec: serde_json::Value) -> Service {
        let mut spec = json!({ "selector": { "app": "web" }, "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 8080 }] });
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
            s.extend(extra.clone());
        }
        serde_json::from_value(json!({ "metadata": { "name": "web", "namespace": "ns", "uid": "svc-uid" }, "spec": spec })).expect("service")
    }

    fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": { "app": "web" } },
            "spec": { "nodeName": "node1", "containers": [{ "name": "c", "ports": [{ "name": "http", "containerPort": 9000 }] }] },
            "status": { "phase": "Running", "podIP": ip, "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] }
        }))
        .expect("pod")
    }

    fn conditions(g: &SliceGroup) -> Vec<(Option<bool>, Option<bool>, Option<bool>)> {
        g.endpoints
            .iter()
            .map(|e| {
                e.conditions
                    .as_ref()
                    .map(|c| (c.ready, c.serving, c.terminating))
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn named_target_ports_resolve_per_pod_and_split_groups() {
        let svc = service(
            json!({ "ports": [{ "name": "web", "port": 80, "protocol": "TCP", "targetPort": "http" }] }),
        );
        let mut other = pod("b", "10.0.0.2", true);
        if let Some(spec) = other.spec.as_mut() {
            spec.containers[0].ports = Some(vec![serde_json::from_value(
                json!({ "name": "http", "containerPort": 9090 }),
            )
            .expect("port")]);
        }
        let mut unnamed = pod("c", "10.0.0.3", true);
        if let Some(spec) = unnamed.spec.as_mut() {
            spec.containers[0].ports = None;
        }
        let groups = desired_groups(
            &svc,
            &[pod("a", "10.0.0.1", true), other, unnamed],
            &HashMap::new(),
        );
        let resolved: Vec<(Vec<Option<i32>>, Vec<String>)> = groups
            .iter()
            .map(|g| {
                (
                    g.ports.iter().map(|p| p.port).collect(),
                    g.endpoints.iter().map(|e| e.addresses[0].clone()).collect(),
                )
            })
            .collect();
        // Like upstream, a pod whose named port is missing still gets an endpoint, in a port-less slice.
        let expected = vec![
            (vec![Some(9000)], vec!["10.0.0.1".to_string()]),
            (vec![Some(9090)], vec!["10.0.0.2".to_string()]),
            (vec![], vec!["10.0.0.3".to_string()]),
        ];
        assert_eq!(resolved, expected);
        let ep = desired_endpoints(
            &svc,
            &[pod("a", "10.0.0.1", true), pod("d", "10.0.0.4", false)],
        );
        let subsets = ep.subsets.unwrap_or_default();
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports.as_ref().map(|p| p[0].port), Some(9000));
        assert_eq!(
            subsets[0]
                .not_ready_addresses
                .as_ref()
                .map(|a| a[0].ip.clone()),
            Some("10.0.0.4".to_string())
        );
    }

    #[test]
    fn readiness_and_terminating_conditions() {
        let svc = service(json!({}));
        let mut terminating = pod("t", "10.0.0.3", true);
        terminating.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        let mut no_ip = pod("x", "", true);
        if let Some(s) = no_ip.status.as_mut() {
            s.pod_ip = None;
        }
        let mut done = pod("z", "10.0.0.9", true);
        if let Some(s) = done.status.as_mut() {
            s.phase = Some("Succeeded".into());
        }
        let pods = [
            pod("a", "10.0.0.1", true),
            pod("b", "10.0.0.2", false),
            terminating,
            no_ip,
            done,
        ];
        let groups = desired_groups(&svc, &pods, &HashMap::new());
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].ports[0].port, Some(8080));
        assert_eq!(
            conditions(&groups[0]),
            vec![
                (Some(true), Some(true), Some(false)),
                (Some(false), Some(false), Some(false)),
                (Some(false), Some(true), Some(true))
            ]
        );
        // Legacy Endpoints leave terminating pods out entirely.
        let ep = desired_endpoints(&svc, &pods);
        let subset = &ep.subsets.unwrap_or_default()[0];
        assert_eq!(subset.addresses.as_ref().map(|a| a.len()), Some(1));
        assert_eq!(
            subset.not_ready_addresses.as_ref().map(|a| a.len()),
            Some(1)
        );

        let publish = service(json!({ "publishNotReadyAddresses": true }));
        let groups = desired_groups(&publish, &pods, &HashMap::new());
        assert!(conditions(&groups[0]).iter().all(|c| c.0 == Some(true)));
        let ep = desired_endpoints(&publish, &pods);
        let subset = &ep.subsets.unwrap_or_default()[0];
        assert_eq!(subset.addresses.as_ref().map(|a| a.len()), Some(3));
        assert!(subset.not_ready_addresses.is_none());
    }

    #[test]
    fn hostname_zone_and_target_ref() {
        let svc = service(json!({}));
        let mut p = pod("a", "10.0.0.1", true);
        if let Some(spec) = p.spec.as_mut() {
            spec.hostname = Some("host-a".into());
            spec.subdomain = Some("web".into());
        }
        let zones: HashMap<String, String> = [("node1".to_string(), "zone-a".to_string())].into();
        let groups = desired_groups(&svc, &[p, pod("b", "10.0.0.2", true)], &zones);
        let e = &groups[0].endpoints;
        assert_eq!(e[0].hostname.as_deref(), Some("host-a"));
        assert_eq!(e[1].hostname, None);
        assert_eq!(e[0].zone.as_deref(), Some("zone-a"));
        assert_eq!(e[0].node_name.as_deref(), Some("node1"));
        assert_eq!(
            e[0].target_ref.as_ref().and_then(|r| r.uid.as_deref()),
            Some("uid-a")
        );
    }

    #[test]
    fn slices_split_at_100_and_settle_without_writes() {
        let svc = service(json!({}));
        let pods: Vec<Pod> = (0..250)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.0.{}.{}", i / 200, i % 200),
                    true,
                )
            })
            .collect();
        let plan = plan_slices(
            &SliceTemplate::for_service(&svc),
            &[],
            desired_groups(&svc, &pods, &HashMap::new()),
        );
        let sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert!(plan
            .create
            .iter()
            .all(
                |s| s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some("web")
                    && SliceTemplate::for_service(&svc).owns(s)
            ));

        // Stored as-is (named), then reversed: nothing to write.
        let existing: Vec<EndpointSlice> = plan
            .create
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                s.metadata.name = Some(format!("web-{i}"));
                s.endpoints.reverse();
                s
            })
            .collect();
        let again = plan_slices(
            &SliceTemplate::for_service(&svc),
            &existing,
            desired_groups(&svc, &pods, &HashMap::new()),
        );
        assert!(
            again.create.is_empty() && again.update.is_empty() && again.delete.is_empty(),
            "{again:?}"
        );

        // Scale to 0: one slice is rewritten into the empty placeholder, the others go.
        let empty = plan_slices(&SliceTemplate::for_service(&svc), &existing, Vec::new());
        assert_eq!(empty.delete.len(), 2);
        assert!(empty.create.is_empty());
        assert_eq!(empty.update.len(), 1);
        assert!(empty.update[0].endpoints.is_empty() && empty.update[0].ports.is_none());
        assert!(!empty.delete.contains(&empty.update[0].name_any()));
    }

    #[test]
    fn removed_pod_updates_its_slice_in_place() {
        let svc = service(json!({}));
        let pods = [pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true)];
        let mut slice = plan_slices(
            &SliceTemplate::for_service(&svc),
            &[],
            desired_groups(&svc, &pods, &HashMap::new()),
        )
        .create
        .remove(0);
        slice.metadata.name = Some("web-abcde".into());
        let plan = plan_slices(
            &SliceTemplate::for_service(&svc),
            &[slice],
            desired_groups(&svc, &pods[..1], &HashMap::new()),
        );
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].name_any(), "web-abcde");
        assert_eq!(plan.update[0].endpoints.len(), 1);
    }

    #[test]
    fn selectorless_endpoints_mirror_into_slices() {
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": { "name": "ext", "namespace": "ns", "uid": "ep-uid", "labels": { "team": "a" } },
            "subsets": [{ "addresses": [{ "ip": "192.0.2.1" }], "notReadyAddresses": [{ "ip": "192.0.2.2" }], "ports": [{ "port": 443 }] }]
        }))
        .expect("endpoints");
        let template = SliceTemplate::mirroring(&ep);
        let plan = plan_slices(&template, &[], mirror_groups(&ep));
        assert_eq!(plan.create.len(), 1);
        let slice = &plan.create[0];
        assert_eq!(
            slice.labels().get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MIRROR_CONTROLLER_NAME)
        );
        assert_eq!(slice.labels().get("team").map(String::as_str), Some("a"));
        assert_eq!(slice.owner_references()[0].kind, "Endpoints");
        let ready: Vec<(String, Option<bool>)> = slice
            .endpoints
            .iter()
            .map(|e| {
                (
                    e.addresses[0].clone(),
                    e.conditions.as_ref().and_then(|c| c.ready),
                )
            })
            .collect();
        assert_eq!(
            ready,
            vec![
                ("192.0.2.1".to_string(), Some(true)),
                ("192.0.2.2".to_string(), Some(false))
            ]
        );
        // An emptied Endpoints leaves no placeholder behind.
        let mut named = slice.clone();
        named.metadata.name = Some("ext-abcde".into());
        let empty = plan_slices(&template, &[named], Vec::new());
        assert_eq!(empty.delete, vec!["ext-abcde".to_string()]);
        assert!(empty.create.is_empty() && empty.update.is_empty());
    }

    #[test]
    fn endpoints_compare_ignoring_order() {
        let svc = service(json!({}));
        let pods = [pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true)];
        let desired = desired_endpoints(&svc, &pods);
        let mut reordered = desired.clone();
        if let Some(a) = reordered
            .subsets
            .as_mut()
            .and_then(|s| s[0].addresses.as_mut())
        {
            a.reverse();
        }
        assert!(endpoints_equal(&reordered, &desired));
        assert!(!endpoints_equal(
            &desired_endpoints(&svc, &pods[..1]),
            &desired
        ));
    }
}
