//! The GraphQL metrics, per schema: operations by type and outcome, the errors their
//! responses carried, how many SQL statements the layered executor ran for each, and
//! how long each took.
//!
//! Statements are counted in a task-local cell set up around one operation's execution
//! (everything the executor runs for it is polled inside that future), so counting one
//! is a cell update: no lock, no allocation.

use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

use juniper::OperationType;
use puff_greenlet::metrics::{
    CounterFamily, DURATION_BUCKETS, HistogramFamily, enabled, start_timer,
};

static OPERATIONS: CounterFamily = CounterFamily::new(
    "puff_graphql_operations_total",
    "GraphQL operations, by schema, type (query, mutation, subscription; unknown when the \
     document did not validate) and outcome (ok, error).",
    &["schema", "type", "outcome"],
);
static ERRORS: CounterFamily = CounterFamily::new(
    "puff_graphql_errors_total",
    "Errors GraphQL responses carried (request errors and field errors), by schema.",
    &["schema"],
);
/// Statement counts: a layered query runs one per layer, so large counts mean N+1.
const STATEMENT_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0];
static STATEMENTS: HistogramFamily = HistogramFamily::new(
    "puff_graphql_statements_per_operation",
    "SQL statements the layered executor ran for one query or mutation, by schema and type.",
    &["schema", "type"],
    STATEMENT_BUCKETS,
);
static DURATION: HistogramFamily = HistogramFamily::new(
    "puff_graphql_operation_duration_seconds",
    "How long a query or mutation took, from parsing to the encoded response, by schema \
     and type.",
    &["schema", "type"],
    DURATION_BUCKETS,
);

tokio::task_local! {
    /// SQL statements run so far by the operation executing in this task.
    static STATEMENTS_RUN: Cell<u32>;
}

/// Counts one SQL statement for the operation being executed (if any is measured).
pub(crate) fn statement_sent() {
    let _ = STATEMENTS_RUN.try_with(|n| n.set(n.get() + 1));
}

/// Runs `execute` (one operation's execution) counting its statements; returns its
/// output and the count (0 when metrics are off, which skips the counting).
pub(crate) async fn counting_statements<T>(execute: impl Future<Output = T>) -> (T, u32) {
    if !enabled() {
        return (execute.await, 0);
    }
    STATEMENTS_RUN
        .scope(Cell::new(0), async move {
            let out = execute.await;
            (out, STATEMENTS_RUN.with(Cell::get))
        })
        .await
}

pub(crate) fn type_label(operation: OperationType) -> &'static str {
    match operation {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// One query or mutation, recorded by [`Operation::finished`].
pub(crate) struct Operation {
    schema: &'static str,
    kind: &'static str,
    started: Option<Instant>,
}

impl Operation {
    pub(crate) fn start(schema: &'static str) -> Operation {
        Operation {
            schema,
            kind: "unknown",
            started: start_timer(),
        }
    }

    /// The document validated as an operation of this type.
    pub(crate) fn validated(&mut self, operation: OperationType) {
        self.kind = type_label(operation);
    }

    /// The response carries `errors` errors; the executor ran `statements` statements.
    pub(crate) fn finished(self, errors: usize, statements: Option<u32>) {
        let Some(started) = self.started else { return };
        counted(self.schema, self.kind, errors);
        if let Some(statements) = statements {
            STATEMENTS
                .with(&[self.schema, self.kind])
                .observe(f64::from(statements));
        }
        DURATION
            .with(&[self.schema, self.kind])
            .observe_duration(started.elapsed());
    }
}

/// Counts one operation of type `kind` whose response carried `errors` errors.
pub(crate) fn counted(schema: &str, kind: &str, errors: usize) {
    let outcome = if errors == 0 { "ok" } else { "error" };
    OPERATIONS.with(&[schema, kind, outcome]).inc();
    if errors > 0 {
        ERRORS.with(&[schema]).inc_by(errors as u64);
    }
}
