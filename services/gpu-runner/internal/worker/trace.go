package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"cyberimage/shared/job"
	"cyberimage/shared/tracing"
)

// startSpan opens the delivery's runner.job span once its claim succeeded:
// under the trace its work message carried or, for work queued again
// without one (a retry, a recovery), the trace its record names. The job's
// wait in the queue becomes a span from its request to the claim. Every log
// line of the delivery names the trace: from receipt when the message
// carried it, from here when the record did.
func (d *delivery) startSpan(rec job.Record) {
	parent := d.traceFrom
	if !trace.SpanContextFromContext(parent).IsValid() {
		parent = tracing.FromTraceparent(context.Background(), rec.Traceparent)
		d.log = d.log.With(tracing.LogFields(parent)...) // receive had no trace to name
	}
	d.trace, d.span = tracing.Tracer().Start(parent, "runner.job", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(d.id.StartedAt), trace.WithAttributes(
			attribute.String("job_id", rec.JobID), attribute.String("delivery", d.id.Token()), attribute.String("runner", d.id.Runner),
			attribute.String("model", rec.Spec.Model), attribute.Int("attempt", rec.Attempts)))
	if rec.StartedAt != nil && rec.StartedAt.After(rec.CreatedAt) {
		tracing.Stage(d.trace, "queue", rec.CreatedAt, *rec.StartedAt)
	}
}

// endSpan closes the delivery's span with how it ended.
func (d *delivery) endSpan(o outcome, err error) {
	if d.span == nil {
		return
	}
	switch {
	case err == nil:
		d.span.SetAttributes(attribute.String("outcome", "completed"))
	case o == outcomeTakenAway:
		d.span.SetAttributes(attribute.String("outcome", "taken away"))
	default:
		d.span.SetStatus(codes.Error, err.Error())
	}
	d.span.End()
}
