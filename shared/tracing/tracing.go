// Package tracing carries one trace per job across the pipeline's
// processes: the W3C trace context travels in NATS message headers and in
// the job record (traceparent), so ingest, the runner that runs the job and
// the supervisor that archives it add their spans to the same trace. Spans
// are exported over OTLP/HTTP when CYBERIMAGE_OTLP_ENDPOINT is set;
// otherwise the tracer is OpenTelemetry's no-op one and nothing is
// recorded, sent or allocated per span.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/config"
)

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector, such as
	// http://otel-collector:4318; empty turns tracing off.
	Endpoint string
}

// Bind declares the setting.
func (c *Config) Bind(l *config.Loader) {
	l.String(&c.Endpoint, "otlp-endpoint", "", "OpenTelemetry collector (OTLP over HTTP, e.g. http://otel-collector:4318) to send each job's trace spans to (empty: tracing off)")
}

// Check rejects an endpoint that is not an http(s) URL.
func (c Config) Check(l *config.Loader) {
	if c.Endpoint == "" {
		return
	}
	u, err := url.Parse(c.Endpoint)
	l.Check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "",
		"%s must be an http:// or https:// URL of an OTLP collector", l.Name("otlp-endpoint"))
}

// propagator is W3C trace context, the format every tracer understands.
var propagator = propagation.TraceContext{}

// Setup installs the tracer provider of a service; the returned function
// flushes and stops it. With no endpoint it installs nothing (the global
// no-op provider stays) and returns a no-op.
func Setup(ctx context.Context, service string, c Config) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	if c.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.namespace", "cyberimage"))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	otel.SetTracerProvider(provider)
	return provider.Shutdown, nil
}

// Tracer is the pipeline's tracer (no-op until Setup installs one).
func Tracer() trace.Tracer { return otel.Tracer("cyberimage") }

// headerCarrier lets the propagator read and write NATS message headers.
type headerCarrier nats.Header

func (h headerCarrier) Get(key string) string { return nats.Header(h).Get(key) }
func (h headerCarrier) Set(key, value string) { nats.Header(h).Set(key, value) }
func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's trace context into message headers (nothing when ctx
// carries none).
func Inject(ctx context.Context, h nats.Header) {
	if h != nil {
		propagator.Inject(ctx, headerCarrier(h))
	}
}

// Extract reads the trace context of a message's headers into ctx.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, headerCarrier(h))
}

// Traceparent is ctx's trace context as the W3C traceparent value, kept in
// the job record; "" when ctx carries none.
func Traceparent(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// FromTraceparent puts a traceparent value (from a job record) into ctx.
func FromTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// LogFields names ctx's trace in log lines, so a job's logs and its trace
// find each other; none when ctx carries no trace.
func LogFields(ctx context.Context) []zap.Field {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []zap.Field{zap.String("trace_id", sc.TraceID().String())}
}

// Stage records a finished stage of a job as a span of its own, from
// start to end, under the job's span in ctx: the stages are timed where
// they run, and their spans written once their times are known.
func Stage(ctx context.Context, name string, start, end time.Time, attrs ...attribute.KeyValue) {
	_, span := Tracer().Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	span.End(trace.WithTimestamp(end))
}

// Start sets tracing up for a service's life and returns what flushes and
// stops it (waiting at most 5 s). An exporter that cannot be made is logged
// and tracing stays off: traces are never a reason not to run.
func Start(service string, c Config, log *zap.Logger) (stop func()) {
	shutdown, err := Setup(context.Background(), service, c)
	if err != nil {
		log.Warn("tracing off", zap.Error(err))
		return func() {}
	}
	if c.Endpoint != "" {
		log.Info("tracing on", zap.String("otlp_endpoint", c.Endpoint))
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("flushing trace spans", zap.Error(err))
		}
	}
}

// ExtractHTTP reads an HTTP request's trace context (traceparent) into ctx.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// LogFieldsOf names the trace of a job record's traceparent in log lines,
// followed by the line's other fields.
func LogFieldsOf(traceparent string, more ...zap.Field) []zap.Field {
	return append(LogFields(FromTraceparent(context.Background(), traceparent)), more...)
}
