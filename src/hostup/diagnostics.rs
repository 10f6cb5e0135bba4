//! How HostUp's failures become diagnostics, once for every resource, data source and action:
//! a failed read (404 → "not found" at the id attribute, 403 → the scope the key lacks, else
//! HostUp's own account with its request id), a failed write (what HostUp may have done with it,
//! decided by the error's [`Delivery`], never by its text), and a gate HostUp closed (its reason
//! and the advice for its code).

use crate::api::{ApiError, Delivery, Gate};
use crate::framework::{AttributePath, Diagnostic};

/// What a failed read was for, so the diagnostic names the action, the scope it needs and what
/// was not found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    /// "read the VPS", "list the restore sources of the VPS".
    pub action: &'static str,
    /// The scope HostUp requires for it (hostup-api.md §15.8).
    pub scope: &'static str,
    /// What a 404 says is missing: "VPS", "Target VPS".
    pub subject: &'static str,
}

impl Reading {
    /// `GET /api/v2/vps/{id}`.
    pub(crate) const VPS: Reading = Reading {
        action: "read the VPS",
        scope: "read:vm",
        subject: "VPS",
    };
    /// `GET /api/v2/vps/{id}/details`.
    pub(crate) const VPS_DETAILS: Reading = Reading {
        action: "read the details of the VPS",
        scope: "read:vm",
        subject: "VPS",
    };
    /// `GET /api/v2/vps/{id}/status`.
    pub(crate) const VPS_STATUS: Reading = Reading {
        action: "read the power state of the VPS",
        scope: "read:vm",
        subject: "VPS",
    };
    /// `GET /api/v2/vps/{id}/backups`.
    pub(crate) const BACKUPS: Reading = Reading {
        action: "list the backups of the VPS",
        scope: "read:vm",
        subject: "VPS",
    };
    /// `GET /api/v2/vps/{id}/backups/restore-sources`.
    pub(crate) const RESTORE_SOURCES: Reading = Reading {
        action: "list the restore sources of the VPS",
        scope: "backup:vm",
        subject: "VPS",
    };

    /// The same read, of the target of a restore.
    pub(crate) const fn of_target(self) -> Reading {
        Reading {
            subject: "Target VPS",
            ..self
        }
    }
}

/// Turns a failed read of the VPS `id` (configured at `attr`) into a diagnostic:
/// - an id the client refused: at the id attribute;
/// - 404: the VPS does not exist or belongs to another account, at the id attribute;
/// - 403: the scope the key lacks, read from HostUp's problem detail when it names one;
/// - anything else: HostUp's own account of it, which carries the request id when there is one.
pub(crate) fn read_failure(err: &ApiError, attr: &str, id: &str, reading: Reading) -> Diagnostic {
    let request = err
        .request_id()
        .map(|r| format!(" [request id {r}]"))
        .unwrap_or_default();
    match err {
        ApiError::InvalidId { .. } => {
            Diagnostic::error("Invalid VPS id", err.to_string()).at(AttributePath::attribute(attr))
        }
        _ if err.is_not_found() => Diagnostic::error(
            format!("{} not found", reading.subject),
            format!(
                "HostUp has no VPS {id} for this API key: it does not exist, or it is not owned \
                 by the account this API key belongs to. Check the id (it looks like \
                 vps_01hxa3b4c5d6e7f8g9h0j1k2m3) and the API key; the hostup_vps data source or \
                 `GET /api/v2/vps` lists your VPS ids. {err}"
            ),
        )
        .at(AttributePath::attribute(attr)),
        ApiError::Http(h) if h.status == 403 => {
            let detail = h.problem.as_ref().and_then(|p| p.detail.as_deref());
            let scope = detail.and_then(scope_in).unwrap_or(reading.scope);
            let said = detail
                .map(|d| format!(" HostUp said: {d}"))
                .unwrap_or_default();
            Diagnostic::error(
                format!("API key lacks the scope {scope}"),
                format!(
                    "HostUp refused to {} {id:?} (HTTP 403): the API key needs the scope `{scope}`.\
                     {said} Give the key that scope in HostUp's API management \
                     (https://cloud.hostup.se/api-management), or configure a key that has it.\
                     {request}",
                    reading.action
                ),
            )
        }
        _ => Diagnostic::error(
            "HostUp API error",
            format!("Could not {} {id:?}. {err}", reading.action),
        ),
    }
}

/// A refresh that failed on `d`: Terraform keeps showing the state as it was.
pub(crate) fn refresh_failure(mut d: Diagnostic) -> Diagnostic {
    d.detail.push_str(" The state was kept as it is.");
    d
}

/// A refresh whose read of HostUp job `job_id` (of a "restore", a "backup") failed.
pub(crate) fn job_refresh_failure(err: &ApiError, job_id: &str, what: &str) -> Diagnostic {
    refresh_failure(Diagnostic::error(
        format!("Could not refresh the {what} job"),
        format!("Reading HostUp job {job_id} failed: {err}"),
    ))
}

/// The first scope-shaped word (`backup:vm`, `read:vm`) in a problem detail.
fn scope_in(detail: &str) -> Option<&str> {
    detail
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_'))
        .find(|word| {
            let mut parts = word.split(':');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(a), Some(b), None)
                    if !a.is_empty() && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
                        && b.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
            )
        })
}

/// A write that starts a job (a restore, a backup): what to call it and what repeating it risks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Writing {
    /// "restore", "backup".
    pub what: &'static str,
    /// Where to look before trying again: "the target VPS and its jobs".
    pub check: &'static str,
    /// What trying again blindly could do: "restore twice".
    pub risk: &'static str,
}

/// Turns a failed write into one error that says what HostUp may have done with it:
/// - not sent, or refused by HostUp: nothing was started and nothing changed;
/// - no usable answer (5xx, timeout, broken connection): the client's text already says the
///   request may have been carried out and to check before repeating it;
/// - accepted, but the answer could not be read: the job may be running, so the user is told
///   where to look before applying again, and never that nothing happened.
///
/// The caller puts it at an attribute when HostUp's answer was about one.
pub(crate) fn write_failure(err: &ApiError, writing: Writing) -> Diagnostic {
    let Writing { what, check, risk } = writing;
    match err.delivery() {
        Delivery::NotSent | Delivery::Refused => Diagnostic::error(
            format!("HostUp refused the {what}"),
            format!("{err} HostUp did not start a {what}; nothing was changed."),
        ),
        // No usable answer (a 5xx, no answer in time): never "refused", it may have been done.
        Delivery::Unknown => {
            Diagnostic::error(format!("The {what} may have started"), err.to_string())
        }
        Delivery::Accepted => Diagnostic::error(
            format!("The {what} may have started"),
            format!(
                "{err} HostUp accepted the request, so the {what} may have started even though \
                 its answer could not be read. Check {check} in HostUp before applying again: \
                 applying again could {risk}."
            ),
        ),
    }
}

/// The error for an action gate HostUp closed: `blocked` says what it blocks ("HostUp blocks
/// creating a backup of VPS vps_…"), then HostUp's reason and code, then the advice for the code.
pub(crate) fn closed_gate(summary: &str, blocked: String, gate: &Gate) -> Diagnostic {
    let reason = gate.reason.as_deref().unwrap_or("HostUp gave no reason");
    let code = gate.code.as_deref().unwrap_or("none given");
    let advice = match gate.code.as_deref() {
        Some("job_in_progress") => "Wait for the running job to finish, then plan again.",
        Some("quota_exceeded" | "backup_quota_exceeded") => {
            "Delete a backup you no longer need or raise the backup quota, then plan again."
        }
        Some("pending_order") => {
            "Settle the open order in the HostUp control panel, then plan again."
        }
        _ => "Resolve it in the HostUp control panel, then plan again.",
    };
    Diagnostic::error(
        summary,
        format!("{blocked}: {reason} (code {code}). {advice}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(method: &str, status: u16, body: &str) -> ApiError {
        ApiError::answered(method, "/api/v2/vps/vps_1", status, body)
    }

    #[test]
    fn not_found_points_at_the_id_and_says_why() {
        let err = http(
            "GET",
            404,
            r#"{"code":"vps_not_found","detail":"No such VPS","requestId":"req_404"}"#,
        );
        let d = read_failure(&err, "target_vps_id", "vps_1", Reading::VPS);
        assert!(d.is_error());
        assert_eq!(d.summary, "VPS not found");
        assert_eq!(d.attribute, Some(AttributePath::attribute("target_vps_id")));
        assert!(d.detail.contains("does not exist"), "{}", d.detail);
        assert!(d.detail.contains("not owned"), "{}", d.detail);
        assert!(d.detail.contains("req_404"), "{}", d.detail);
        let d = read_failure(&err, "target_vps_id", "vps_1", Reading::VPS.of_target());
        assert_eq!(d.summary, "Target VPS not found");
    }

    #[test]
    fn forbidden_names_the_scope_from_the_detail_or_the_one_needed() {
        let err = http(
            "GET",
            403,
            r#"{"code":"forbidden","detail":"This API key lacks the required scope backup:vm.","requestId":"req_403"}"#,
        );
        let d = read_failure(&err, "id", "vps_1", Reading::VPS);
        assert!(d.summary.contains("backup:vm"), "{}", d.summary);
        assert!(d.detail.contains("`backup:vm`"), "{}", d.detail);
        assert!(d.detail.contains("req_403"), "{}", d.detail);
        let err = http(
            "GET",
            403,
            r#"{"code":"forbidden","detail":"Not allowed."}"#,
        );
        let d = read_failure(&err, "id", "vps_1", Reading::VPS);
        assert!(d.summary.contains("read:vm"), "{}", d.summary);
    }

    #[test]
    fn other_errors_carry_the_request_id() {
        let err = http(
            "GET",
            500,
            r#"{"code":"internal_error","title":"Internal error","requestId":"req_500"}"#,
        );
        let d = read_failure(&err, "id", "vps_1", Reading::VPS);
        assert_eq!(d.attribute, None);
        assert!(d.detail.contains("req_500"), "{}", d.detail);
        assert!(d.detail.contains("read the VPS"), "{}", d.detail);
    }

    #[test]
    fn scope_words_are_found_and_urls_are_not() {
        assert_eq!(scope_in("lacks the scope backup:vm."), Some("backup:vm"));
        assert_eq!(
            scope_in("see https://x.example/ for read:vm"),
            Some("read:vm")
        );
        assert_eq!(scope_in("at 10:30 nothing"), None);
        assert_eq!(scope_in("a:b:c"), None);
    }

    const RESTORE: Writing = Writing {
        what: "restore",
        check: "the target VPS and its jobs",
        risk: "restore twice",
    };

    #[test]
    fn a_refused_write_says_nothing_changed_and_an_unanswered_one_does_not() {
        let refused = write_failure(
            &http("POST", 409, r#"{"code":"vps_not_ready","detail":"Busy"}"#),
            RESTORE,
        );
        assert_eq!(refused.summary, "HostUp refused the restore");
        assert!(refused.detail.contains("nothing was changed"), "{refused}");
        let down = write_failure(&http("POST", 503, r#"{"code":"unavailable"}"#), RESTORE);
        assert_eq!(down.summary, "The restore may have started");
        assert!(down.detail.contains("may have reached HostUp"), "{down}");
        assert!(!down.detail.contains("nothing was changed"), "{down}");
    }

    #[test]
    fn an_accepted_write_with_an_unreadable_answer_may_have_started() {
        let err = ApiError::Decode {
            method: "POST".into(),
            path: "/api/v2/vps/vps_1/backups/actions/restore-from-vps".into(),
            status: 202,
            expected: "job",
            reason: "expected value at line 1 column 1".into(),
        };
        let d = write_failure(&err, RESTORE);
        assert_eq!(d.summary, "The restore may have started");
        assert!(!d.detail.contains("nothing was changed"), "{d}");
        assert!(!d.detail.contains("did not start"), "{d}");
        for needle in [
            "HTTP 202",
            "may have started",
            "the target VPS and its jobs",
            "restore twice",
        ] {
            assert!(d.detail.contains(needle), "{needle}: {d}");
        }
    }

    #[test]
    fn a_closed_gate_gives_the_reason_code_and_advice() {
        let gate = Gate {
            allowed: false,
            reason: Some("A job is running.".into()),
            code: Some("job_in_progress".into()),
        };
        let d = closed_gate("Blocked", "HostUp blocks it".into(), &gate);
        assert_eq!(
            d.detail,
            "HostUp blocks it: A job is running. (code job_in_progress). Wait for the running \
             job to finish, then plan again."
        );
    }
}
