package ratelimit

import "github.com/prometheus/client_golang/prometheus"

// Metrics count failed authentications and lockouts of every protocol.
type Metrics struct {
	failures *prometheus.CounterVec
	lockouts *prometheus.CounterVec
}

// NewMetrics registers the authentication metrics on reg; one Metrics serves
// the limiters of every protocol.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_auth_failures_total",
			Help: "Failed authentications (wrong passphrase, token or API key), by protocol."}, []string{"protocol"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "podium_auth_lockouts_total",
			Help: "Source addresses locked out after too many failed authentications, by protocol."}, []string{"protocol"}),
	}
	reg.MustRegister(m.failures, m.lockouts)
	return m
}
