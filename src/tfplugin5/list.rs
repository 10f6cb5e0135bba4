//! `ListResource` on the wire (protocol 5.10, `terraform query`): runs a list resource and turns
//! each object it finds into an event carrying the object's identity (as its managed resource
//! derives it), its display name and, when asked, the whole object; the stream closes after
//! `limit` results (Terraform stops reading there), and problems go out as a last event holding
//! only diagnostics.

use std::sync::Arc;

use tokio::sync::mpsc;
use tonic::Status;

use crate::framework::{
    AttributePath, Context, Diagnostics, ListRequest, ListResource, Listed, PathStep, Resource,
    Type,
};
use crate::proto::tfplugin5 as pb;
use crate::tfplugin5::convert::diagnostics_to_proto;
use crate::tfplugin5::identity::Identities;
use crate::tfplugin5::server::encode;

/// Objects a list may find before it waits for the stream to catch up.
pub(crate) const LIST_BUFFER: usize = 16;

/// The managed resource a list resource finds objects of: its handler (for the identity) and
/// the type of its state (for the objects).
pub(crate) struct Found {
    pub resource: Arc<dyn Resource>,
    pub value_type: Type,
}

/// An event holding only `diagnostics`.
pub(crate) fn diagnostics_event(diagnostics: Diagnostics) -> pb::list_resource::Event {
    pb::list_resource::Event {
        diagnostic: diagnostics_to_proto(&diagnostics),
        ..Default::default()
    }
}

/// Runs `list` and streams what it finds to `events`, at most `req.limit` objects.
pub(crate) async fn run_list(
    list: Arc<dyn ListResource>,
    found: Found,
    identities: Arc<Identities>,
    ctx: Context,
    req: ListRequest,
    events: mpsc::Sender<Result<pb::list_resource::Event, Status>>,
) {
    let include = req.include_resource;
    let limit = req.limit;
    let (sender, mut objects) = mpsc::channel::<Listed>(LIST_BUFFER);
    let mut run = tokio::spawn(async move { list.list(&ctx, req, sender).await });
    let mut sent = 0u64;
    let mut problems = Diagnostics::new();
    while sent < limit {
        let Some(object) = objects.recv().await else {
            break;
        };
        let event = match event_of(&found, &identities, object, include) {
            Ok(event) => event,
            Err(d) => {
                problems.extend(d);
                break;
            }
        };
        if events.send(Ok(event)).await.is_err() {
            // Terraform went away: closing the channel stops the list at its next send.
            return;
        }
        sent += 1;
    }
    // Enough (or nothing more): the list's next send fails and it returns.
    drop(objects);
    match (&mut run).await {
        Ok(d) => problems.extend(d),
        Err(e) => problems.error(
            "List failed unexpectedly",
            format!("The list stopped before reporting its outcome: {e}"),
        ),
    }
    if !problems.is_empty() {
        let _ = events
            .send(Ok(diagnostics_event(in_config_block(problems))))
            .await;
    }
}

/// Terraform holds a list resource's schema as the `config` block of the `list` block, and reads
/// attribute paths from the list block: a list's paths (relative to its schema) go under `config`.
pub(crate) fn in_config_block(diagnostics: Diagnostics) -> Diagnostics {
    diagnostics
        .into_iter()
        .map(|mut d| {
            if let Some(path) = d.attribute.take() {
                let mut steps = vec![PathStep::Attribute("config".to_owned())];
                steps.extend(path.steps().iter().cloned());
                d.attribute = Some(AttributePath::from_steps(steps));
            }
            d
        })
        .collect()
}

/// The event of one object: its identity, its name and, when asked, the object itself.
fn event_of(
    found: &Found,
    identities: &Identities,
    object: Listed,
    include: bool,
) -> Result<pb::list_resource::Event, Diagnostics> {
    let identity = identities
        .of_state(&*found.resource, &object.state)
        .map_err(Diagnostics::from)?;
    let resource_object = if include {
        Some(
            encode(&object.state, &found.value_type, "resource object")
                .map_err(Diagnostics::from)?,
        )
    } else {
        None
    };
    Ok(pb::list_resource::Event {
        identity,
        display_name: object.display_name,
        resource_object,
        diagnostic: Vec::new(),
    })
}
