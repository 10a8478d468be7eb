package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// MetricsHandler serves h (Prometheus metrics) only to requests bearing
// token (Authorization: Bearer TOKEN); an empty token lets every request in.
func MetricsHandler(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeError(w, apiError(http.StatusUnauthorized, "unauthorized", "", "metrics need Authorization: Bearer METRICS_TOKEN (the metrics_token setting)"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
