package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a Server's Prometheus series, in a registry of its own (no
// global state: two Servers in one process do not share counters).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	rejected     prometheus.Counter
	promptTokens prometheus.Counter
	reusedTokens prometheus.Counter
	genTokens    prometheus.Counter
	queue        prometheus.Gauge
	slotsBusy    prometheus.Gauge
	queueWait    prometheus.Histogram
	ttft         prometheus.Histogram
	tokPerSec    prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sattva_http_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sattva_http_request_duration_seconds", Help: "HTTP request duration by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}, []string{"endpoint"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sattva_requests_rejected_total", Help: "Generation requests answered 503 because the queue was full.",
		}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sattva_prompt_tokens_total", Help: "Prompt tokens of started requests.",
		}),
		reusedTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sattva_prompt_tokens_cached_total", Help: "Prompt tokens whose KV cells a slot held already (prefix reuse).",
		}),
		genTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sattva_generated_tokens_total", Help: "Generated tokens.",
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sattva_queue_length", Help: "Requests waiting for a slot.",
		}),
		slotsBusy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sattva_slots_busy", Help: "Slots running a request.",
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sattva_queue_wait_seconds", Help: "Time from arrival to a free slot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sattva_time_to_first_token_seconds", Help: "Time from arrival to the first generated token.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		tokPerSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sattva_generation_tokens_per_second", Help: "Per request: generated tokens after the first, per second.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.rejected, m.promptTokens, m.reusedTokens, m.genTokens,
		m.queue, m.slotsBusy, m.queueWait, m.ttft, m.tokPerSec,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
