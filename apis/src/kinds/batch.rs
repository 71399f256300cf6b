//! batch/v1: Jobs and CronJobs.
//!
//! A Job's selector is normally generated from its uid on create (unless `manualSelector`), so
//! the pods it creates can be found even if users reuse labels across jobs.

use corten_apimachinery::validation::{max_len_error, validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::apps::validate_selector_and_template;
use super::pod::{default_template, validate_pod_spec, validate_template_metadata};
use super::{default_field, default_string, invalid_rendered, meta_of, object_at, str_at, validate_non_negative};
use crate::Strategy;

/// Longest CronJob name: the Jobs it creates append an 11-character suffix.
const CRON_JOB_NAME_MAX_LENGTH: usize = 52;

/// Fills a Job spec's defaults (`SetDefaults_Job`), for Jobs (not CronJob templates).
fn default_job_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else { return };
    let completions_unset = s.get("completions").is_none_or(Value::is_null);
    let parallelism_unset = s.get("parallelism").is_none_or(Value::is_null);
    if completions_unset && parallelism_unset {
        s.insert("completions".into(), json!(1));
    }
    if parallelism_unset {
        s.insert("parallelism".into(), json!(1));
    }
    let per_index = s.get("backoffLimitPerIndex").is_some_and(|v| !v.is_null());
    default_field(s, "backoffLimit", json!(if per_index { i64::from(i32::MAX) } else { 6 }));
    default_string(s, "completionMode", "NonIndexed");
    default_field(s, "suspend", json!(false));
    let has_failure_policy = s.get("podFailurePolicy").is_some_and(|v| !v.is_null());
    default_string(s, "podReplacementPolicy", if has_failure_policy { "Failed" } else { "TerminatingOrFailed" });
    if let Some(rules) = s.get_mut("podFailurePolicy").and_then(|p| p.get_mut("rules")).and_then(Value::as_array_mut) {
        for rule in rules.iter_mut() {
            if let Some(conditions) = rule.get_mut("onPodConditions").and_then(Value::as_array_mut) {
                for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
                    default_string(condition, "status", "True");
                }
            }
        }
    }
    default_template(s.get_mut("template"));
}

/// Validates a job spec at `path`: a Job's `spec` (`in_job`, whose selector must select the
/// template) or a CronJob's `spec.jobTemplate.spec` (where no selector may be given).
fn validate_job_spec(spec: &Value, path: &FieldPath, in_job: bool) -> FieldErrors {
    let mut errs = Vec::new();
    for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"] {
        validate_non_negative(spec, &[field], path.child(field), &mut errs);
    }
    if in_job {
        validate_selector_and_template(spec, path, "job", &mut errs);
    } else {
        if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
            errs.push(invalid_rendered(path.child("selector"), selector.to_string(), "`selector` will be auto-generated"));
        }
        if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            errs.push(FieldError::not_supported(path.child("manualSelector"), true, &["nil", "false"]));
        }
    }
    match spec.get("completionMode").and_then(Value::as_str).unwrap_or("NonIndexed") {
        "NonIndexed" | "Indexed" => {}
        other => errs.push(FieldError::not_supported(path.child("completionMode"), other, &["NonIndexed", "Indexed"])),
    }
    let template_path = path.child("template");
    let template = spec.get("template").unwrap_or(&Value::Null);
    errs.extend(validate_template_metadata(template, &template_path));
    let pod_spec = template.get("spec").unwrap_or(&Value::Null);
    errs.extend(
        validate_pod_spec(pod_spec, &template_path.child("spec"))
            .into_iter()
            .filter(|e| e.path.as_str() != template_path.child("spec").child("restartPolicy").as_str()),
    );
    let restart_policy = pod_spec.get("restartPolicy").and_then(Value::as_str).unwrap_or("");
    if restart_policy != "OnFailure" && restart_policy != "Never" {
        errs.push(FieldError::not_supported(template_path.child("spec").child("restartPolicy"), restart_policy, &["OnFailure", "Never"]));
    }
    errs
}

fn manual_selector(obj: &Value) -> bool {
    obj.pointer("/spec/manualSelector").and_then(Value::as_bool).unwrap_or(false)
}

/// Jobs.
pub struct JobStrategy;

impl Strategy for JobStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_job_spec(spec);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if manual_selector(obj) {
            return;
        }
        let uid = str_at(obj, &["metadata", "uid"]).unwrap_or("").to_string();
        let name = str_at(obj, &["metadata", "name"]).unwrap_or("").to_string();
        if uid.is_empty() {
            return;
        }
        if let Some(labels) = object_at(obj, &["spec", "template", "metadata", "labels"]) {
            labels.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
            labels.insert("batch.kubernetes.io/job-name".into(), json!(name));
            labels.insert("controller-uid".into(), json!(uid));
            labels.insert("job-name".into(), json!(name));
        }
        if let Some(spec) = object_at(obj, &["spec"]) {
            // A user-supplied selector without manualSelector is replaced, as upstream does.
            spec.insert("selector".into(), json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_job_spec(obj.get("spec").unwrap_or(&Value::Null), &FieldPath::root("spec"), true));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_job_spec(new.get("spec").unwrap_or(&Value::Null), &FieldPath::root("spec"), true));
        let spec_path = FieldPath::root("spec");
        for field in ["selector", "completions", "completionMode"] {
            let new_value = new.pointer(&format!("/spec/{field}")).unwrap_or(&Value::Null);
            if new_value != old.pointer(&format!("/spec/{field}")).unwrap_or(&Value::Null) {
                errs.push(invalid_rendered(spec_path.child(field), new_value.to_string(), "field is immutable"));
            }
        }
        // The pod template may only change while the job is suspended.
        let suspended = new.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
        let new_template = new.pointer("/spec/template").unwrap_or(&Value::Null);
        if !suspended && new_template != old.pointer("/spec/template").unwrap_or(&Value::Null) {
            errs.push(invalid_rendered(spec_path.child("template"), new_template.to_string(), "field is immutable"));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let succeeded = obj.pointer("/status/succeeded").and_then(Value::as_i64).unwrap_or(0);
        vec![("status.successful", succeeded.to_string())]
    }
}

/// CronJobs.
pub struct CronJobStrategy;

fn validate_cron_job(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
    if name.len() > CRON_JOB_NAME_MAX_LENGTH {
        errs.push(FieldError::invalid(FieldPath::root("metadata").child("name"), name, max_len_error(CRON_JOB_NAME_MAX_LENGTH)));
    }
    let spec_path = FieldPath::root("spec");
    if str_at(obj, &["spec", "schedule"]).unwrap_or("").is_empty() {
        errs.push(FieldError::required(spec_path.child("schedule"), ""));
    }
    match str_at(obj, &["spec", "concurrencyPolicy"]).unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(spec_path.child("concurrencyPolicy"), "")),
        other => errs.push(FieldError::not_supported(spec_path.child("concurrencyPolicy"), other, &["Allow", "Forbid", "Replace"])),
    }
    for field in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        validate_non_negative(obj, &["spec", field], spec_path.child(field), &mut errs);
    }
    let job_spec = obj.pointer("/spec/jobTemplate/spec").unwrap_or(&Value::Null);
    let job_spec_path = spec_path.child("jobTemplate").child("spec");
    errs.extend(validate_job_spec(job_spec, &job_spec_path, false));
    errs
}

impl Strategy for CronJobStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = object_at(obj, &["spec"]) else { return };
        default_string(spec, "concurrencyPolicy", "Allow");
        default_field(spec, "suspend", json!(false));
        default_field(spec, "successfulJobsHistoryLimit", json!(3));
        default_field(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(job_spec) = spec.get_mut("jobTemplate").and_then(|t| t.get_mut("spec")) {
            default_template(job_spec.get_mut("template"));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_cron_job(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_cron_job(new).into_iter().filter(|e| e.path.as_str() != "metadata.name"));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Value {
        json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}})
    }

    #[test]
    fn job_defaults_and_generated_selector() {
        let mut j = job();
        JobStrategy.default(&mut j);
        JobStrategy.prepare_for_create(&mut j);
        assert_eq!(j["spec"]["completions"], 1);
        assert_eq!(j["spec"]["parallelism"], 1);
        assert_eq!(j["spec"]["backoffLimit"], 6);
        assert_eq!(j["spec"]["completionMode"], "NonIndexed");
        assert_eq!(j["spec"]["suspend"], false);
        assert_eq!(j["spec"]["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(j["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}));
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["job-name"], "pi");
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["controller-uid"], "u-1");
        assert!(JobStrategy.validate(&j).is_empty(), "{:?}", JobStrategy.validate(&j));
    }

    #[test]
    fn job_restart_policy_must_not_be_always() {
        let mut j = job();
        j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        JobStrategy.default(&mut j);
        JobStrategy.prepare_for_create(&mut j);
        let rendered: Vec<String> = JobStrategy.validate(&j).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""]);
    }

    #[test]
    fn job_template_is_immutable_unless_suspended() {
        let mut old = job();
        JobStrategy.default(&mut old);
        JobStrategy.prepare_for_create(&mut old);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        assert_eq!(JobStrategy.validate_update(&new, &old)[0].path.as_str(), "spec.template");
        new["spec"]["suspend"] = json!(true);
        assert!(JobStrategy.validate_update(&new, &old).is_empty());
    }

    #[test]
    fn cron_job_defaults_and_rules() {
        let mut c = json!({"metadata": {"name": "nightly", "namespace": "default"}, "spec": {"schedule": "0 0 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x"}]}}}}}});
        CronJobStrategy.default(&mut c);
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(c["spec"]["suspend"], false);
        assert!(CronJobStrategy.validate(&c).is_empty(), "{:?}", CronJobStrategy.validate(&c));
        c["metadata"]["name"] = json!("n".repeat(53));
        c["spec"]["schedule"] = json!("");
        c["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
        let paths: Vec<String> = CronJobStrategy.validate(&c).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, vec!["metadata.name", "spec.schedule", "spec.jobTemplate.spec.selector"]);
    }
}
